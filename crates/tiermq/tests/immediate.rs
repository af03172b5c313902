//! IMMEDIATE (SPEC §3): libzmq's `connect()` then `send(DONTWAIT)` works
//! before any connection exists, and the queued messages reach the first
//! peer that becomes ready; IMMEDIATE=1 refuses them.

mod common;

use common::*;
use tiermq::{Context, DONTWAIT, Error};

/// A tcp endpoint with nothing listening on it (yet).
fn free_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("tcp://{}", l.local_addr().unwrap())
}

#[test]
fn connect_then_send_queues_until_the_peer_binds() {
    let ctx = Context::new();
    let ep = free_endpoint();
    let push = ctx.socket(tiermq::PUSH).unwrap();
    assert!(!push.is_immediate().unwrap(), "libzmq's default");
    push.set_sndhwm(5).unwrap();
    push.set_reconnect_ivl(20).unwrap();
    push.connect(&ep).unwrap();
    for n in 0..5 {
        push.send(seq(n), DONTWAIT).unwrap();
    }
    // The socket-level queue holds SNDHWM messages.
    assert_eq!(push.send(seq(5), DONTWAIT), Err(Error::EAGAIN));
    let pull = ctx.socket(tiermq::PULL).unwrap();
    pull.bind(&ep).unwrap();
    assert_eq!(recv_n(&pull, 5), vec![0, 1, 2, 3, 4]);
    push.send(seq(5), 0).unwrap();
    assert_eq!(recv_n(&pull, 1), vec![5]);
}

#[test]
fn immediate_1_refuses_while_no_peer_is_ready() {
    let ctx = Context::new();
    let push = ctx.socket(tiermq::PUSH).unwrap();
    push.set_immediate(true).unwrap();
    push.connect(&free_endpoint()).unwrap();
    assert_eq!(push.send("x", DONTWAIT), Err(Error::EAGAIN));
    // A bind-only socket never queues at the socket level.
    let bound = ctx.socket(tiermq::PUSH).unwrap();
    bound.bind("tcp://127.0.0.1:*").unwrap();
    assert_eq!(bound.send("x", DONTWAIT), Err(Error::EAGAIN));
}

#[test]
fn a_req_sent_before_its_server_exists_is_answered() {
    let ctx = Context::new();
    let ep = free_endpoint();
    let req = ctx.socket(tiermq::REQ).unwrap();
    req.set_reconnect_ivl(20).unwrap();
    req.set_rcvtimeo(WAIT_MS).unwrap();
    req.connect(&ep).unwrap();
    req.send("early", DONTWAIT).unwrap();
    let rep = ctx.socket(tiermq::REP).unwrap();
    rep.set_rcvtimeo(WAIT_MS).unwrap();
    rep.bind(&ep).unwrap();
    assert_eq!(rep.recv_bytes(0).unwrap(), b"early");
    rep.send("answer", 0).unwrap();
    assert_eq!(req.recv_bytes(0).unwrap(), b"answer");
}
