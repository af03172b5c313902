//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

pub mod libzmq_peer;
pub mod zmtp;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Generous bound on every blocking receive, so a bug fails instead of hanging.
pub const WAIT_MS: i32 = 10_000;

pub fn seq(i: u64) -> Vec<u8> {
    i.to_be_bytes().to_vec()
}

pub fn unseq(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// Receives with DONTWAIT until nothing is left, returning the sequence numbers.
pub fn drain(s: &tiermq::Socket) -> Vec<u64> {
    let mut got = Vec::new();
    while let Ok(b) = s.recv_bytes(tiermq::DONTWAIT) {
        got.push(unseq(&b));
    }
    got
}

/// Receives exactly `n` messages (each within the generous timeout).
pub fn recv_n(s: &tiermq::Socket, n: usize) -> Vec<u64> {
    s.set_rcvtimeo(WAIT_MS).unwrap();
    (0..n)
        .map(|_| unseq(&s.recv_bytes(0).expect("message within timeout")))
        .collect()
}

/// Asserts that the received sets are disjoint and together are exactly `0..n`.
pub fn assert_exactly_once(n: u64, sets: &[&[u64]]) {
    let mut all = BTreeSet::new();
    for set in sets {
        for &x in *set {
            assert!(all.insert(x), "message {x} delivered twice");
        }
    }
    let expected: BTreeSet<u64> = (0..n).collect();
    let missing: Vec<_> = expected.difference(&all).collect();
    assert!(missing.is_empty(), "lost messages: {missing:?}");
    assert_eq!(all, expected);
}

/// Polls `cond` until it holds; panics after a generous bound.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Messages `s` handed to its pipes that came through `endpoint`.
pub fn sent_to(s: &tiermq::Socket, endpoint: &str) -> u64 {
    s.peers()
        .iter()
        .filter(|p| p.endpoint == endpoint)
        .map(|p| p.sent)
        .sum()
}

/// Messages the socket took from its peers at `endpoint` (delivered, or
/// dropped by a hot-standby subscriber).
#[allow(dead_code)]
pub fn received_from(s: &tiermq::Socket, endpoint: &str) -> u64 {
    s.peers()
        .iter()
        .filter(|p| p.endpoint == endpoint)
        .map(|p| p.received)
        .sum()
}

/// How many of the socket's peers are in state `PeerState::Ready`.
#[allow(dead_code)]
pub fn ready(s: &tiermq::Socket) -> usize {
    s.peers()
        .iter()
        .filter(|p| p.state == tiermq::PeerState::Ready)
        .count()
}
