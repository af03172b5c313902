//! The hot-standby subscriber (`set_sub_failover(true)`, SPEC §6) against
//! libzmq PUB publishers in their own processes (pyzmq), killed, frozen
//! with SIGSTOP and revived: the application sees only the active tier's
//! publisher, fails over at once when it goes (or the heartbeat declares it
//! dead), and fails back when it is live again, with its subscription
//! replayed to the new process.
//!
//! Each publisher sends "news NAME SEQ" and "other NAME SEQ" every 5 ms; the
//! subscriber subscribes to "news" only. Every assertion is on what the
//! application received, after waiting for a condition (never on a time).
//!
//! Needs python3 with pyzmq (`pip install pyzmq`); `.ci/run` installs it.
//! A missing peer fails the test, saying what to install.

mod common;

use std::time::{Duration, Instant};

use common::libzmq_peer::Peer;
use tiermq::{Context, PeerState, Socket, TierEvent};

/// The generous bound on every wait.
const WAIT: Duration = Duration::from_secs(20);

/// Messages each steady stretch must deliver from the active publisher.
const STEADY: usize = 40;

/// One delivered message: the publisher's name and its sequence number.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Delivered {
    from: String,
    seq: u64,
}

/// The hot-standby SUB, subscribed to "news", heartbeating fast so a frozen
/// publisher is declared dead quickly.
fn hot_standby(ctx: &Context) -> Socket {
    let sub = ctx.socket(tiermq::SUB).unwrap();
    sub.set_sub_failover(true).unwrap();
    sub.set_subscribe(b"news").unwrap();
    sub.set_heartbeat_ivl(50).unwrap();
    sub.set_heartbeat_timeout(200).unwrap();
    sub.set_reconnect_ivl(50).unwrap();
    sub.set_rcvtimeo(100).unwrap();
    sub
}

/// Connects `sub` to `endpoint` at priority `prio`.
fn connect(sub: &Socket, prio: i32, endpoint: &str) {
    sub.set_rcvprio(prio).unwrap();
    sub.set_sndprio(prio).unwrap();
    sub.connect(endpoint).unwrap();
}

/// The next message, if one arrives within the socket's short timeout.
/// Asserts the subscriber-side filter: only "news" is delivered.
fn recv(sub: &Socket) -> Option<Delivered> {
    let bytes = match sub.recv_bytes(0) {
        Ok(b) => b,
        Err(tiermq::Error::EAGAIN) => return None,
        Err(e) => panic!("recv failed: {e}"),
    };
    let text = String::from_utf8(bytes).unwrap();
    let mut words = text.split(' ');
    assert_eq!(
        words.next(),
        Some("news"),
        "a topic not subscribed to: {text:?}"
    );
    let from = words.next().unwrap().to_owned();
    let seq = words.next().unwrap().parse().unwrap();
    Some(Delivered { from, seq })
}

/// Receives messages until a tier event matching `wanted` was taken.
/// Returns the messages delivered before the switch, and the events taken
/// on the way. A message received just before the event was taken may be
/// from either side of the switch, so it is in neither list.
fn until_event(
    sub: &Socket,
    what: &str,
    wanted: impl Fn(&TierEvent) -> bool,
) -> (Vec<Delivered>, Vec<TierEvent>) {
    let deadline = Instant::now() + WAIT;
    let mut before = Vec::new();
    let mut events = Vec::new();
    loop {
        let m = recv(sub);
        let new = sub.take_tier_events();
        let found = new.iter().any(&wanted);
        events.extend(new);
        if found {
            return (before, events);
        }
        // No event yet after it: it was delivered before the switch.
        before.extend(m);
        assert!(
            Instant::now() < deadline,
            "no {what} within {WAIT:?}; events {events:?}; received {} messages, the last {:?}",
            before.len(),
            before.last()
        );
    }
}

/// Receives until a message from `name` arrives; returns all received.
fn until_from(sub: &Socket, name: &str) -> Vec<Delivered> {
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "nothing from {name} within {WAIT:?}; got {got:?}"
        );
        if let Some(m) = recv(sub) {
            let done = m.from == name;
            got.push(m);
            if done {
                return got;
            }
        }
    }
}

/// The next `n` messages: every one must come from `name` (the active
/// tier's publisher), in increasing sequence. Nothing from another tier is
/// delivered meanwhile.
fn only_from(sub: &Socket, name: &str, n: usize) -> Vec<u64> {
    let deadline = Instant::now() + WAIT;
    let mut seqs: Vec<u64> = Vec::new();
    while seqs.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} messages from {name} within {WAIT:?}",
            seqs.len()
        );
        let Some(m) = recv(sub) else { continue };
        assert_eq!(
            m.from,
            name,
            "a message from a publisher outside the active tier, after {} from {name}",
            seqs.len()
        );
        if let Some(&last) = seqs.last() {
            assert!(m.seq > last, "{name}'s {} came after its {last}", m.seq);
        }
        seqs.push(m.seq);
    }
    // No other tier's message is waiting among the next ones either.
    sub.take_tier_events();
    seqs
}

fn failover(from: u8, to: Option<u8>) -> impl Fn(&TierEvent) -> bool {
    move |e| {
        *e == TierEvent::Failover {
            from: Some(from),
            to,
        }
    }
}

fn failback_to(to: u8) -> impl Fn(&TierEvent) -> bool {
    move |e| matches!(e, TierEvent::Failback { to: Some(t), .. } if *t == to)
}

/// Two libzmq publishers on ephemeral ports and a hot-standby SUB
/// connected to the primary at 1 and the backup at 2, delivering the
/// primary's messages.
fn scene(ctx: &Context) -> (Socket, Peer, Peer) {
    let primary = Peer::start(&["pub", "tcp://127.0.0.1:*", "primary"]);
    let backup = Peer::start(&["pub", "tcp://127.0.0.1:*", "backup"]);
    let sub = hot_standby(ctx);
    connect(&sub, 1, &primary.ready);
    connect(&sub, 2, &backup.ready);
    // The backup may be live first; the primary's first message means the
    // subscriber is on tier 1 from then on.
    until_from(&sub, "primary");
    only_from(&sub, "primary", STEADY);
    (sub, primary, backup)
}

/// (a) The primary is killed: failover to the backup at once. A new
/// primary process on the same port: the subscriber reconnects, replays its
/// subscription (a libzmq PUB sends nothing unsubscribed), and fails back;
/// the backup's messages are discarded again.
#[test]
fn a_killed_primary_fails_over_and_a_restarted_one_fails_back() {
    let ctx = Context::new();
    let (sub, mut primary, mut backup) = scene(&ctx);
    let port = primary.ready.clone();

    primary.kill();
    let (before, _) = until_event(&sub, "failover 1 -> 2", failover(1, Some(2)));
    assert!(
        before.iter().all(|m| m.from == "primary"),
        "the backup delivered before the failover: {before:?}"
    );
    only_from(&sub, "backup", STEADY);

    let mut revived = Peer::start(&["pub", &port, "primary"]);
    let (before, _) = until_event(&sub, "failback to 1", failback_to(1));
    assert!(
        before.iter().all(|m| m.from == "backup"),
        "the restarted primary delivered before the failback: {before:?}"
    );
    only_from(&sub, "primary", STEADY);
    revived.assert_alive();
    backup.assert_alive();
}

/// (b) The primary is frozen with SIGSTOP: its connection stays open, but
/// the heartbeat declares it dead and the subscriber fails over. Thawed, it
/// answers again and the subscriber fails back to it.
#[test]
fn a_frozen_primary_is_declared_dead_and_fails_back_when_thawed() {
    let ctx = Context::new();
    let (sub, mut primary, _backup) = scene(&ctx);
    let before_freeze = only_from(&sub, "primary", 1)[0];

    primary.freeze();
    let (before, _) = until_event(&sub, "failover 1 -> 2", failover(1, Some(2)));
    assert!(
        before.iter().all(|m| m.from == "primary"),
        "the backup delivered while the primary was live: {before:?}"
    );
    // Declared dead by the heartbeat, its connection kept (dead linger).
    let states: Vec<PeerState> = sub
        .peers()
        .into_iter()
        .filter(|p| p.endpoint == primary.ready)
        .map(|p| p.state)
        .collect();
    assert_eq!(states, [PeerState::Dead]);
    only_from(&sub, "backup", STEADY);

    primary.thaw();
    let (before, _) = until_event(&sub, "failback to 1", failback_to(1));
    assert!(
        before.iter().all(|m| m.from == "backup"),
        "the thawed primary delivered before the failback: {before:?}"
    );
    let seqs = only_from(&sub, "primary", STEADY);
    assert!(
        seqs[0] > before_freeze,
        "the same process, going on where it was: {before_freeze} then {seqs:?}"
    );
    primary.assert_alive();
}

/// (c) Both publishers are killed: nothing is delivered, and the active
/// tier is none. Both are started again on their ports at once: the
/// subscriber ends on the primary, whichever came back first.
#[test]
fn both_publishers_killed_and_revived_end_on_the_primary() {
    let ctx = Context::new();
    let (sub, mut primary, mut backup) = scene(&ctx);
    let (primary_ep, backup_ep) = (primary.ready.clone(), backup.ready.clone());

    primary.kill();
    backup.kill();
    // Whichever connection dropped first, the last move is to no tier.
    until_event(&sub, "failover to no tier", |e| {
        matches!(e, TierEvent::Failover { to: None, .. })
    });
    assert_eq!(sub.active_tier(), None);
    assert_eq!(recv(&sub), None, "nothing to deliver with both gone");

    let mut primary = Peer::start(&["pub", &primary_ep, "primary"]);
    let mut backup = Peer::start(&["pub", &backup_ep, "backup"]);
    let (before, events) = until_event(&sub, "failback to 1", failback_to(1));
    // The backup may have been live first: then it delivered, and only
    // until the primary was.
    if before.iter().any(|m| m.from == "backup") {
        assert!(
            events.iter().any(failback_to(2)),
            "the backup delivered without being the active tier: {events:?}"
        );
    }
    assert!(
        before.iter().all(|m| m.from == "backup"),
        "the primary delivered before the failback: {before:?}"
    );
    only_from(&sub, "primary", STEADY);
    primary.assert_alive();
    backup.assert_alive();
}
