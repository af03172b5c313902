//! Unit tests of the core, with no socket or thread around it.

use super::*;
use crate::core::test_pipes::RecvMessage;
use crate::events::new_pipe;
use std::time::Duration;
use tiermq_pipe::{Reader, Writer};
use tiermq_wire::Item;

/// A core with no socket around it: wakers go nowhere, so the test
/// applies every event itself, in the order it chooses.
fn push_core() -> Core {
    Core::new(Pattern::Push, WireType::Push, Arc::new(|_| {}))
}

/// The transport reports connection `conn` ended (by the heartbeat if
/// `dead`), with nothing unsent.
fn detach(core: &mut Core, conn: u64, dead: bool, now: Instant) {
    core.apply(
        Event::Detached {
            conn: ConnKey::Net(0, conn),
            unsent: Vec::new(),
            dead,
        },
        now,
    );
}

fn msg(n: u8) -> Multipart {
    Multipart::single(Bytes::from(vec![n]))
}

fn numbers(r: &Reader<Item>) -> Vec<u8> {
    std::iter::from_fn(|| r.try_recv_msg().ok())
        .map(|m| m.frames()[0][0])
        .collect()
}

/// Attaches a fake transport connection at `prio`; returns the
/// transport's ends (it reads `out`, writes `inp`).
fn connect(core: &mut Core, conn: u64, prio: u8, hwm: usize) -> (Reader<Item>, Writer<Item>) {
    connect_as(core, conn, prio, hwm, WireType::Pull)
}

/// [`connect`] to a peer of type `peer_type`.
fn connect_as(
    core: &mut Core,
    conn: u64,
    prio: u8,
    hwm: usize,
    peer_type: WireType,
) -> (Reader<Item>, Writer<Item>) {
    core.options.sndprio = prio;
    let key = core.new_link_key();
    core.add_link(
        key,
        "tcp://x:1",
        "tcp://x:1".into(),
        LinkKind::Net {
            bind: false,
            link: None,
        },
    );
    let (out, transport_out) = new_pipe(hwm);
    let (transport_in, inp) = new_pipe(hwm);
    let now = Instant::now();
    core.apply(
        Event::Attached(Attachment {
            conn: ConnKey::Net(0, conn),
            link: key,
            peer_addr: "peer".into(),
            peer_type,
            identity: Bytes::new(),
            props: None,
            out,
            inp,
        }),
        now,
    );
    (transport_out, transport_in)
}

#[test]
fn detached_messages_are_rerouted_in_order_session_first() {
    let mut core = push_core();
    let now = Instant::now();
    let (primary, _p) = connect(&mut core, 1, 1, 100);
    let (backup, _b) = connect(&mut core, 2, 2, 100);
    for n in 0..5 {
        core.send(msg(n), now).unwrap();
    }
    // The session took 0 and 1 but wrote nothing; 2..5 are still queued.
    let unsent = vec![
        primary.try_recv_msg().unwrap(),
        primary.try_recv_msg().unwrap(),
    ];
    // The transport closes the pipe first: the socket must wait for
    // `Detached` (which brings the older messages) before rerouting.
    primary.close();
    let id = core.conns[&ConnKey::Net(0, 1)];
    let serial = core.pipes[id.0].serial;
    core.apply(Event::Writable { pipe: id, serial }, now);
    assert!(numbers(&backup).is_empty());
    core.apply(
        Event::Detached {
            conn: ConnKey::Net(0, 1),
            unsent,
            dead: false,
        },
        now,
    );
    assert_eq!(numbers(&backup), vec![0, 1, 2, 3, 4]);
    assert_eq!(core.active_tier(now), Some(2));
}

#[test]
fn rerouted_messages_wait_for_a_peer_and_go_before_new_ones() {
    let mut core = push_core();
    core.options.immediate = true;
    let now = Instant::now();
    let (primary, _p) = connect(&mut core, 1, 1, 100);
    for n in 0..3 {
        core.send(msg(n), now).unwrap();
    }
    detach(&mut core, 1, false, now);
    drop(primary);
    // No peer: new messages are refused, the old ones kept.
    assert!(core.send(msg(9), now).is_err());
    assert!(!core.has_unsent(now), "no peer remains to linger for");
    let (backup, _b) = connect(&mut core, 2, 2, 100);
    core.send(msg(3), now).unwrap();
    assert_eq!(numbers(&backup), vec![0, 1, 2, 3]);
}

#[test]
fn immediate_0_queues_up_to_sndhwm_for_the_first_ready_pipe() {
    let mut core = push_core();
    core.options.sndhwm = 3;
    let now = Instant::now();
    // Only a bind: nothing to wait for, nothing queues.
    let key = core.new_link_key();
    let bind = LinkKind::Net {
        bind: true,
        link: None,
    };
    core.add_link(key, "tcp://*:1", "tcp://0.0.0.0:1".into(), bind);
    assert!(!core.can_send(now));
    assert!(matches!(core.send(msg(0), now), Err(Refused::Wait(_))));
    // A connect with no connection yet: up to SNDHWM queue at once.
    let key = core.new_link_key();
    let dialing = LinkKind::Net {
        bind: false,
        link: None,
    };
    core.add_link(key, "tcp://x:2", "tcp://x:2".into(), dialing);
    for n in 0..3 {
        assert!(core.can_send(now));
        core.send(msg(n), now).unwrap();
    }
    assert!(!core.can_send(now));
    assert!(matches!(core.send(msg(3), now), Err(Refused::Wait(_))));
    // The first pipe to be ready gets them, in order, before new ones.
    let (peer, _p) = connect(&mut core, 1, 2, 100);
    core.send(msg(4), now).unwrap();
    assert_eq!(numbers(&peer), vec![0, 1, 2, 4]);
    // IMMEDIATE=1 refuses instead.
    core.options.immediate = true;
    detach(&mut core, 1, false, now);
    assert!(matches!(core.send(msg(5), now), Err(Refused::Wait(_))));
}

#[test]
fn spillover_passes_a_degraded_tiers_share_to_the_next() {
    for spill in [None, Some(100)] {
        let mut core = push_core();
        core.set_spillover(spill);
        let now = Instant::now();
        let (a, _a) = connect(&mut core, 1, 1, 1); // busy after one message
        let (b, _b) = connect(&mut core, 2, 1, 1000);
        let (c, _c) = connect(&mut core, 3, 2, 1000);
        for n in 0..2 {
            core.send(msg(n), now).unwrap();
        }
        assert_eq!(numbers(&a).len(), 1);
        assert_eq!(numbers(&b).len(), 1);
        // Tier 1 has one of its two peers ready: health 50 %.
        for n in 0..200 {
            core.send(msg(n), now).unwrap();
        }
        let (to_b, to_c) = (numbers(&b).len(), numbers(&c).len());
        match spill {
            None => assert_eq!((to_b, to_c), (200, 0), "all or nothing"),
            Some(_) => {
                assert!(
                    to_b.abs_diff(100) <= 1 && to_c.abs_diff(100) <= 1,
                    "{to_b}/{to_c}"
                )
            }
        }
    }
}

#[test]
fn latency_tiers_send_to_the_fastest_peers_first() {
    let mut core = push_core();
    let now = Instant::now();
    core.set_latency_tiers(Some(200), now);
    // All at the default sndprio 1; round trips decide.
    let (near, _n) = connect(&mut core, 1, 1, 100);
    let (far, _f) = connect(&mut core, 2, 1, 100);
    let rtt = |core: &mut Core, conn, ms| {
        let rtt = Duration::from_millis(ms);
        core.apply(
            Event::RoundTrip {
                conn: ConnKey::Net(0, conn),
                rtt,
            },
            now,
        );
    };
    rtt(&mut core, 1, 2);
    rtt(&mut core, 2, 90);
    for n in 0..10 {
        core.send(msg(n), now).unwrap();
    }
    assert_eq!(numbers(&near).len(), 10, "local first");
    assert!(numbers(&far).is_empty());
    let tiers: Vec<u8> = core.peers().iter().map(|p| p.sndprio).collect();
    assert_eq!(tiers, vec![1, 6]);
    // The near peer leaves: the far one is the fastest now, tier 1.
    detach(&mut core, 1, false, now);
    core.send(msg(10), now).unwrap();
    assert_eq!(numbers(&far), vec![10]);
    // Off: back to the endpoints' sndprio.
    core.set_latency_tiers(None, now);
    assert!(core.peers().iter().all(|p| p.sndprio == 1));
}

#[test]
fn spillover_counts_connect_endpoints_with_no_connection() {
    let mut core = push_core();
    core.set_spillover(Some(100));
    let now = Instant::now();
    // Tier 1: two connects, one of which has no connection; tier 2: one.
    let (a, _a) = connect(&mut core, 1, 1, 1000);
    let (c, _c) = connect(&mut core, 3, 2, 1000);
    core.options.sndprio = 1;
    let key = core.new_link_key();
    let gone = LinkKind::Net {
        bind: false,
        link: None,
    };
    core.add_link(key, "tcp://x:9", "tcp://x:9".into(), gone);
    for n in 0..200 {
        core.send(msg(n), now).unwrap();
    }
    // One of two tier-1 members ready: half the traffic spills.
    let (to_a, to_c) = (numbers(&a).len(), numbers(&c).len());
    assert!(
        to_a.abs_diff(100) <= 1 && to_c.abs_diff(100) <= 1,
        "{to_a}/{to_c}"
    );
    // The missing endpoint is given up: tier 1 is whole again.
    core.remove_link(key, now);
    for n in 0..100 {
        core.send(msg(n), now).unwrap();
    }
    assert_eq!((numbers(&a).len(), numbers(&c).len()), (100, 0));
}

#[test]
fn req_with_immediate_0_sends_its_request_when_a_peer_comes() {
    let mut core = req_core();
    let now = Instant::now();
    let key = core.new_link_key();
    let dialing = LinkKind::Net {
        bind: false,
        link: None,
    };
    core.add_link(key, "tcp://x:2", "tcp://x:2".into(), dialing);
    core.send(msg(1), now).unwrap();
    assert!(
        core.check_send(&Bytes::new()).is_err(),
        "EFSM: one at a time"
    );
    let (peer, _p) = connect_as(&mut core, 1, 1, 100, WireType::Rep);
    assert_eq!(frames(&peer.try_recv_msg().unwrap()), vec![&b""[..], &[1]]);
}

#[test]
fn a_full_pipe_is_busy_until_drained_to_the_low_water_mark() {
    let mut core = push_core();
    let now = Instant::now();
    let (primary, _p) = connect(&mut core, 1, 1, 4);
    let (backup, _b) = connect(&mut core, 2, 2, 100);
    for n in 0..6 {
        core.send(msg(n), now).unwrap();
    }
    assert_eq!(numbers(&backup), vec![4, 5], "overflow after SNDHWM");
    assert_eq!(core.active_tier(now), Some(2));
    // Draining to the LWM (2) wakes the writer; the event makes it ready.
    primary.try_recv_msg().unwrap();
    primary.try_recv_msg().unwrap();
    let id = core.conns[&ConnKey::Net(0, 1)];
    let serial = core.pipes[id.0].serial;
    core.apply(Event::Writable { pipe: id, serial }, now);
    assert_eq!(core.active_tier(now), Some(1));
    core.send(msg(6), now).unwrap();
    assert_eq!(numbers(&primary), vec![2, 3, 6]);
}

#[test]
fn stale_events_for_a_reused_slot_are_ignored() {
    let mut core = push_core();
    let now = Instant::now();
    let (_a, _ai) = connect(&mut core, 1, 1, 4);
    let id = core.conns[&ConnKey::Net(0, 1)];
    let old_serial = core.pipes[id.0].serial;
    detach(&mut core, 1, false, now);
    let (b, _bi) = connect(&mut core, 2, 1, 4);
    assert_eq!(core.conns[&ConnKey::Net(0, 2)], id, "slot reused");
    for n in 0..4 {
        core.send(msg(n), now).unwrap();
    }
    // A late wake for the old pipe must not mark the new, full one ready.
    core.apply(
        Event::Writable {
            pipe: id,
            serial: old_serial,
        },
        now,
    );
    assert_eq!(core.active_tier(now), None);
    assert_eq!(numbers(&b).len(), 4);
}

#[test]
fn pull_reads_what_a_detached_peer_sent_before_it_left() {
    let mut core = Core::new(Pattern::Pull, WireType::Pull, Arc::new(|_| {}));
    let now = Instant::now();
    let key = core.new_link_key();
    core.add_link(
        key,
        "tcp://x:1",
        "tcp://x:1".into(),
        LinkKind::Net {
            bind: true,
            link: None,
        },
    );
    let mut peer = tiermq_wire::PeerInfo {
        socket_type: WireType::Push,
        metadata: tiermq_wire::Metadata::new(),
        version: (3, 1),
        user_id: Some(Bytes::from_static(b"alice")),
        zap_metadata: tiermq_wire::Metadata::new(),
    };
    peer.metadata
        .insert("Socket-Type", Bytes::from_static(b"PUSH"));
    let props = Arc::new(Properties::new("10.1.2.3".into(), peer));
    let (out, _transport_out) = new_pipe(10);
    let (transport_in, inp) = new_pipe(10);
    core.apply(
        Event::Attached(Attachment {
            conn: ConnKey::Net(0, 7),
            link: key,
            peer_addr: "peer".into(),
            peer_type: WireType::Push,
            identity: Bytes::new(),
            props: Some(props.clone()),
            out,
            inp,
        }),
        now,
    );
    transport_in
        .try_send(Multipart::from(vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]).into())
        .unwrap();
    transport_in.close();
    detach(&mut core, 7, false, now);
    // Every frame answers its sender's properties (the same `Arc`), even
    // after the connection ended.
    assert_eq!(core.recv_frame(), Some((Bytes::from_static(b"a"), true)));
    assert!(Arc::ptr_eq(&core.rx_props().unwrap(), &props));
    assert_eq!(core.recv_frame(), Some((Bytes::from_static(b"b"), false)));
    assert!(Arc::ptr_eq(&core.rx_props().unwrap(), &props));
    assert_eq!(core.rx_props().unwrap().gets("User-Id"), Some("alice"));
    assert_eq!(core.recv_frame(), None);
    assert!(core.peers().is_empty(), "the drained pipe is gone");
}

fn frames(m: &Multipart) -> Vec<&[u8]> {
    m.frames().iter().map(|f| &f[..]).collect()
}

fn req_core() -> Core {
    Core::new(Pattern::Req, WireType::Req, Arc::new(|_| {}))
}

fn readable(core: &mut Core, conn: u64, now: Instant) {
    let id = core.conns[&ConnKey::Net(0, conn)];
    let serial = core.pipes[id.0].serial;
    core.apply(Event::Readable { pipe: id, serial }, now);
}

#[test]
fn req_resends_when_its_pipe_detaches_and_takes_one_reply() {
    let mut core = req_core();
    let now = Instant::now();
    let (primary, primary_in) = connect_as(&mut core, 1, 1, 100, WireType::Rep);
    let (backup, backup_in) = connect_as(&mut core, 2, 2, 100, WireType::Rep);
    assert!(core.check_recv().is_err(), "EFSM before a request");
    core.send(msg(7), now).unwrap();
    assert!(
        core.check_send(&Bytes::new()).is_err(),
        "EFSM: one at a time"
    );
    let request = primary.try_recv_msg().unwrap();
    assert_eq!(frames(&request), vec![&b""[..], &[7]]);
    let old = core.conns[&ConnKey::Net(0, 1)];
    let old_serial = core.pipes[old.0].serial;

    // The primary goes away before answering: the request goes to the
    // backup at once, once only.
    detach(&mut core, 1, true, now);
    let resent = backup.try_recv_msg().unwrap();
    assert_eq!(resent, request);
    assert!(backup.try_recv_msg().is_err());
    assert_eq!(core.active_tier(now), Some(2));

    // A late reply from the old pipe is dropped; the backup's is taken.
    primary_in
        .try_send(Multipart::from(vec![Bytes::new(), Bytes::from_static(b"old")]).into())
        .unwrap();
    core.apply(
        Event::Readable {
            pipe: old,
            serial: old_serial,
        },
        now,
    );
    assert_eq!(core.recv_frame(), None);
    backup_in
        .try_send(Multipart::from(vec![Bytes::new(), Bytes::from_static(b"new")]).into())
        .unwrap();
    readable(&mut core, 2, now);
    assert_eq!(core.recv_frame(), Some((Bytes::from_static(b"new"), false)));
    assert!(core.check_recv().is_err(), "EFSM: the reply was taken");
    assert!(core.check_send(&Bytes::new()).is_ok());
}

#[test]
fn req_waits_for_a_peer_to_resend_to() {
    let mut core = req_core();
    let now = Instant::now();
    let (primary, _pi) = connect_as(&mut core, 1, 1, 100, WireType::Rep);
    core.send(msg(1), now).unwrap();
    primary.try_recv_msg().unwrap();
    detach(&mut core, 1, false, now);
    // No peer: the request waits, and goes out when one attaches.
    let (backup, _bi) = connect_as(&mut core, 2, 2, 100, WireType::Rep);
    assert_eq!(
        frames(&backup.try_recv_msg().unwrap()),
        vec![&b""[..], &[1]]
    );
}

#[test]
fn req_takes_the_reply_its_departed_pipe_delivered_and_resends_nothing() {
    let mut core = req_core();
    let now = Instant::now();
    let (primary, primary_in) = connect_as(&mut core, 1, 1, 100, WireType::Rep);
    let (backup, _bi) = connect_as(&mut core, 2, 2, 100, WireType::Rep);
    core.send(msg(3), now).unwrap();
    primary.try_recv_msg().unwrap();
    // The server replies and closes; the end is reported before the
    // reply was read (the transport delivers first, then detaches).
    primary_in
        .try_send(Multipart::from(vec![Bytes::new(), Bytes::from_static(b"answer")]).into())
        .unwrap();
    primary_in.close();
    detach(&mut core, 1, false, now);
    assert!(backup.try_recv_msg().is_err(), "nothing resent");
    assert!(core.can_recv());
    assert_eq!(
        core.recv_frame(),
        Some((Bytes::from_static(b"answer"), false))
    );
    assert!(core.check_recv().is_err(), "EFSM: the reply was taken");
    assert!(core.peers().iter().all(|p| p.rerouted == 0));
}

#[test]
fn req_resend_timer_takes_a_reply_already_waiting_instead() {
    let mut core = req_core();
    core.options.req_resend_ivl = 100;
    let now = Instant::now();
    let (peer, peer_in) = connect_as(&mut core, 1, 1, 100, WireType::Rep);
    core.send(msg(1), now).unwrap();
    peer.try_recv_msg().unwrap();
    // The reply is in the pipe, unread, when the interval passes.
    peer_in
        .try_send(Multipart::from(vec![Bytes::new(), Bytes::from_static(b"in time")]).into())
        .unwrap();
    readable(&mut core, 1, now + Duration::from_millis(100));
    assert!(peer.try_recv_msg().is_err(), "nothing resent");
    assert_eq!(core.next_timer(), None);
    assert_eq!(
        core.recv_frame(),
        Some((Bytes::from_static(b"in time"), false))
    );
}

#[test]
fn req_correlate_resend_interval_uses_a_new_id() {
    let mut core = req_core();
    core.options.req_correlate = true;
    core.options.req_resend_ivl = 100;
    let now = Instant::now();
    let (peer, peer_in) = connect_as(&mut core, 1, 1, 100, WireType::Router);
    core.send(msg(1), now).unwrap();
    let first = peer.try_recv_msg().unwrap();
    assert_eq!(core.next_timer(), Some(now + Duration::from_millis(100)));
    // Any event after the interval runs the timer (as a blocked recv does).
    readable(&mut core, 1, now + Duration::from_millis(100));
    let second = peer.try_recv_msg().unwrap();
    assert_ne!(first.frames()[0], second.frames()[0], "a new request id");
    assert_eq!(&first.frames()[1..], &second.frames()[1..]);
    // The reply to the first attempt is dropped; the second's is taken.
    for (attempt, body) in [(&first, "late"), (&second, "fresh")] {
        let mut reply: Multipart = attempt.frames()[..2].iter().cloned().collect();
        reply.push(Bytes::from(body));
        peer_in.try_send(reply.into()).unwrap();
    }
    readable(&mut core, 1, now);
    assert_eq!(
        core.recv_frame(),
        Some((Bytes::from_static(b"fresh"), false))
    );
}

#[test]
fn pair_refuses_a_second_peer_until_the_first_is_gone() {
    let mut core = Core::new(Pattern::Pair, WireType::Pair, Arc::new(|_| {}));
    let (first, _) = connect_as(&mut core, 1, 8, 10, WireType::Pair);
    let (second, _) = connect_as(&mut core, 2, 8, 10, WireType::Pair);
    assert!(second.is_closed(), "the second connection is closed");
    assert!(!first.is_closed());
    let now = Instant::now();
    for n in 0..3 {
        assert!(core.send(msg(n), now).is_ok());
    }
    assert_eq!(numbers(&first), vec![0, 1, 2], "everything to the one peer");
    detach(&mut core, 1, false, now);
    let (third, _) = connect_as(&mut core, 3, 8, 10, WireType::Pair);
    assert!(!third.is_closed(), "a new peer once the first is gone");
    assert!(core.send(msg(9), now).is_ok());
    assert_eq!(numbers(&third), vec![9]);
}
