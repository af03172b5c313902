//! PUSH/PULL over inproc://: both bind orders, multipart, zero copy, tiers,
//! failover without loss, busy peers and failback.

mod common;

use common::*;
use tiermq::{Bytes, Context, DONTWAIT, Error, PULL, PUSH, SNDMORE};

#[test]
fn bind_then_connect_and_connect_then_bind() {
    let ctx = Context::new();
    for (i, connect_first) in [false, true].into_iter().enumerate() {
        let ep = format!("inproc://order-{i}");
        let pull = ctx.socket(PULL).unwrap();
        let push = ctx.socket(PUSH).unwrap();
        if connect_first {
            push.connect(&ep).unwrap();
            pull.bind(&ep).unwrap();
        } else {
            pull.bind(&ep).unwrap();
            push.connect(&ep).unwrap();
        }
        for n in 0..10 {
            push.send(seq(n), 0).unwrap();
        }
        assert_eq!(recv_n(&pull, 10), (0..10).collect::<Vec<_>>());
    }
}

#[test]
fn multipart_arrives_whole_with_rcvmore() {
    let ctx = Context::new();
    let pull = ctx.socket(PULL).unwrap();
    pull.bind("inproc://mp").unwrap();
    let push = ctx.socket(PUSH).unwrap();
    push.connect("inproc://mp").unwrap();
    push.send("a", SNDMORE).unwrap();
    push.send("", SNDMORE).unwrap();
    push.send("c", 0).unwrap();
    push.send_multipart(["x", "y"], 0).unwrap();
    pull.set_rcvtimeo(WAIT_MS).unwrap();
    let m = pull.recv_msg(0).unwrap();
    assert_eq!(m.as_str(), Some("a"));
    assert!(m.get_more() && pull.get_rcvmore().unwrap());
    assert_eq!(pull.recv_bytes(0).unwrap(), b"");
    assert!(pull.get_rcvmore().unwrap());
    assert_eq!(pull.recv_bytes(0).unwrap(), b"c");
    assert!(!pull.get_rcvmore().unwrap());
    assert_eq!(
        pull.recv_multipart(0).unwrap(),
        vec![b"x".to_vec(), b"y".to_vec()]
    );
}

#[test]
fn payloads_are_not_copied() {
    let ctx = Context::new();
    let pull = ctx.socket(PULL).unwrap();
    pull.bind("inproc://zc").unwrap();
    let push = ctx.socket(PUSH).unwrap();
    push.connect("inproc://zc").unwrap();
    let payload = Bytes::from(vec![42u8; 1 << 20]);
    push.send(payload.clone(), 0).unwrap();
    let got = pull.recv_msg(0).unwrap().into_bytes();
    assert_eq!(got.as_ptr(), payload.as_ptr());
    assert_eq!(got.len(), payload.len());
}

#[test]
fn unsupported_and_incompatible() {
    let ctx = Context::new();
    assert_eq!(ctx.socket(tiermq::STREAM).err(), Some(Error::ENOTSUP));
    let a = ctx.socket(PUSH).unwrap();
    a.bind("inproc://same").unwrap();
    let b = ctx.socket(PUSH).unwrap();
    assert_eq!(b.connect("inproc://same"), Err(Error::ENOCOMPATPROTO));
    let c = ctx.socket(PULL).unwrap();
    assert_eq!(c.bind("inproc://same"), Err(Error::EADDRINUSE));
    assert_eq!(c.bind("bogus"), Err(Error::EINVAL));
    assert_eq!(c.bind("pgm://x"), Err(Error::EPROTONOSUPPORT));
    assert_eq!(c.unbind("inproc://never"), Err(Error::ENOENT));
    assert_eq!(a.recv_bytes(DONTWAIT), Err(Error::ENOTSUP));
    assert_eq!(c.send("x", DONTWAIT), Err(Error::ENOTSUP));
}

#[test]
fn nothing_to_send_to_is_eagain_and_sndtimeo_bounds_the_wait() {
    let ctx = Context::new();
    let push = ctx.socket(PUSH).unwrap();
    push.bind("inproc://nobody").unwrap();
    assert_eq!(push.send("x", DONTWAIT), Err(Error::EAGAIN));
    // A multipart refused on its first frame leaves nothing half-sent.
    assert_eq!(push.send("x", DONTWAIT | SNDMORE), Err(Error::EAGAIN));
    push.set_sndtimeo(20).unwrap();
    assert_eq!(push.send("x", 0), Err(Error::EAGAIN));
    let pull = ctx.socket(PULL).unwrap();
    pull.connect("inproc://nobody").unwrap();
    push.send("y", 0).unwrap();
    pull.set_rcvtimeo(WAIT_MS).unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), b"y");
    assert_eq!(pull.recv_bytes(DONTWAIT), Err(Error::EAGAIN));
}

/// Three workers at priority 1 share the load; the fourth, at priority 2,
/// gets traffic only when all three are gone.
#[test]
fn tiered_round_robin_and_last_resort() {
    let ctx = Context::new();
    let push = ctx.socket(PUSH).unwrap();
    push.set_sndprio(1).unwrap();
    for i in 0..3 {
        push.bind(&format!("inproc://tier1-{i}")).unwrap();
    }
    push.set_sndprio(2).unwrap();
    push.bind("inproc://tier2").unwrap();
    let workers: Vec<_> = (0..3)
        .map(|i| {
            let w = ctx.socket(PULL).unwrap();
            w.connect(&format!("inproc://tier1-{i}")).unwrap();
            w
        })
        .collect();
    let backup = ctx.socket(PULL).unwrap();
    backup.connect("inproc://tier2").unwrap();
    assert_eq!(push.active_tier(), Some(1));

    for n in 0..30 {
        push.send(seq(n), 0).unwrap();
    }
    let got: Vec<Vec<u64>> = workers.iter().map(drain).collect();
    for g in &got {
        assert_eq!(g.len(), 10, "round robin within the tier: {got:?}");
    }
    assert!(drain(&backup).is_empty());

    let mut workers = workers;
    workers.truncate(1);
    for n in 30..40 {
        push.send(seq(n), 0).unwrap();
    }
    assert_eq!(drain(&workers[0]).len(), 10);
    drop(workers);
    for n in 40..50 {
        push.send(seq(n), 0).unwrap();
    }
    assert_eq!(push.active_tier(), Some(2));
    assert_eq!(drain(&backup), (40..50).collect::<Vec<_>>());
}

/// The primary is dropped while messages wait in its queue: they are
/// rerouted to the backup, in order, and nothing is lost or duplicated.
#[test]
fn failover_reroutes_what_the_primary_never_read() {
    let ctx = Context::new();
    let push = ctx.socket(PUSH).unwrap();
    push.set_sndprio(1).unwrap();
    push.bind("inproc://fo-primary").unwrap();
    push.set_sndprio(2).unwrap();
    push.bind("inproc://fo-backup").unwrap();
    let primary = ctx.socket(PULL).unwrap();
    primary.connect("inproc://fo-primary").unwrap();
    let backup = ctx.socket(PULL).unwrap();
    backup.connect("inproc://fo-backup").unwrap();

    for n in 0..100 {
        push.send(seq(n), 0).unwrap();
    }
    let read_by_primary = recv_n(&primary, 40);
    drop(primary); // 60 unread messages in its pipe
    assert_eq!(push.active_tier(), Some(2));
    for n in 100..120 {
        push.send(seq(n), 0).unwrap();
    }
    let at_backup = recv_n(&backup, 80);
    assert_eq!(
        at_backup,
        (40..120).collect::<Vec<_>>(),
        "rerouted in order, before newer"
    );
    assert_exactly_once(120, &[&read_by_primary, &at_backup]);
    let peers = push.peers();
    assert_eq!(peers.len(), 1, "only the backup is left: {peers:?}");
    assert_eq!(peers[0].endpoint, "inproc://fo-backup");
}

/// A primary that stops reading fills to SNDHWM; the rest flows to the
/// backup; when it drains, traffic fails back to it.
#[test]
fn busy_primary_overflows_to_backup_then_fails_back() {
    let ctx = Context::new();
    let push = ctx.socket(PUSH).unwrap();
    push.set_sndhwm(10).unwrap();
    push.set_sndprio(1).unwrap();
    push.bind("inproc://busy-primary").unwrap();
    push.set_sndprio(2).unwrap();
    push.bind("inproc://busy-backup").unwrap();
    let primary = ctx.socket(PULL).unwrap();
    primary.set_rcvhwm(10).unwrap();
    primary.connect("inproc://busy-primary").unwrap();
    let backup = ctx.socket(PULL).unwrap();
    backup.connect("inproc://busy-backup").unwrap();

    for n in 0..50 {
        push.send(seq(n), 0).unwrap();
    }
    // inproc pipes hold SNDHWM + RCVHWM.
    let first = drain(&primary);
    assert_eq!(first, (0..20).collect::<Vec<_>>());
    let overflow = drain(&backup);
    assert_eq!(overflow, (20..50).collect::<Vec<_>>());
    // Drained: the primary is ready again and gets the next message.
    assert_eq!(push.active_tier(), Some(1));
    push.send(seq(50), 0).unwrap();
    assert_eq!(recv_n(&primary, 1), vec![50]);
    assert!(drain(&backup).is_empty());
}

#[test]
fn endpoint_priority_can_change_later() {
    let ctx = Context::new();
    let push = ctx.socket(PUSH).unwrap();
    push.set_sndprio(1).unwrap();
    push.bind("inproc://ep-a").unwrap();
    push.set_sndprio(2).unwrap();
    push.bind("inproc://ep-b").unwrap();
    let a = ctx.socket(PULL).unwrap();
    a.connect("inproc://ep-a").unwrap();
    let b = ctx.socket(PULL).unwrap();
    b.connect("inproc://ep-b").unwrap();
    push.send(seq(0), 0).unwrap();
    assert_eq!(recv_n(&a, 1), vec![0]);
    push.set_endpoint_sndprio("inproc://ep-a", 3).unwrap();
    assert_eq!(
        push.set_endpoint_sndprio("inproc://nope", 3),
        Err(Error::ENOENT)
    );
    assert_eq!(
        push.set_endpoint_sndprio("inproc://ep-a", 0),
        Err(Error::EINVAL)
    );
    push.send(seq(1), 0).unwrap();
    assert_eq!(recv_n(&b, 1), vec![1]);
    assert!(
        push.peers()
            .iter()
            .any(|p| p.endpoint == "inproc://ep-a" && p.sndprio == 3)
    );
}

#[test]
fn rcvprio_reads_preferred_peers_first() {
    let ctx = Context::new();
    let pull = ctx.socket(PULL).unwrap();
    pull.set_rcvprio(2).unwrap();
    pull.bind("inproc://rp-low").unwrap();
    pull.set_rcvprio(1).unwrap();
    pull.bind("inproc://rp-high").unwrap();
    let low = ctx.socket(PUSH).unwrap();
    low.connect("inproc://rp-low").unwrap();
    let high = ctx.socket(PUSH).unwrap();
    high.connect("inproc://rp-high").unwrap();
    for n in 0..5 {
        low.send(seq(100 + n), 0).unwrap();
        high.send(seq(n), 0).unwrap();
    }
    assert_eq!(drain(&pull), vec![0, 1, 2, 3, 4, 100, 101, 102, 103, 104]);
}

#[test]
fn disconnect_and_unbind_end_the_connection() {
    let ctx = Context::new();
    let pull = ctx.socket(PULL).unwrap();
    pull.bind("inproc://dis").unwrap();
    let push = ctx.socket(PUSH).unwrap();
    // Sends must fail once the peer is gone, not queue for its return.
    push.set_immediate(true).unwrap();
    push.connect("inproc://dis").unwrap();
    push.send("1", 0).unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), b"1");
    push.disconnect("inproc://dis").unwrap();
    assert_eq!(push.disconnect("inproc://dis"), Err(Error::ENOENT));
    assert_eq!(push.send("2", DONTWAIT), Err(Error::EAGAIN));
    assert!(pull.peers().is_empty() || pull.recv_bytes(DONTWAIT) == Err(Error::EAGAIN));

    push.connect("inproc://dis").unwrap();
    push.send("3", 0).unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), b"3");
    pull.unbind("inproc://dis").unwrap();
    eventually("push sees the unbind", || {
        push.send("4", DONTWAIT) == Err(Error::EAGAIN)
    });
    // The name is free again.
    let other = ctx.socket(PULL).unwrap();
    other.bind("inproc://dis").unwrap();
}

#[test]
fn poll_reports_readable_and_writable() {
    let ctx = Context::new();
    let pull = ctx.socket(PULL).unwrap();
    pull.bind("inproc://poll").unwrap();
    let push = ctx.socket(PUSH).unwrap();
    assert_eq!(push.poll(tiermq::POLLOUT, 0).unwrap(), 0);
    push.connect("inproc://poll").unwrap();
    assert_eq!(push.poll(tiermq::POLLOUT, 0).unwrap(), 1);
    let mut items = [pull.as_poll_item(tiermq::POLLIN)];
    assert_eq!(tiermq::poll(&mut items, 0).unwrap(), 0);
    assert!(!items[0].is_readable());
    assert_eq!(pull.get_events().unwrap(), tiermq::PollEvents::empty());

    let t = std::thread::spawn(move || {
        push.send("wake", 0).unwrap();
        push
    });
    let mut items = [pull.as_poll_item(tiermq::POLLIN)];
    assert_eq!(tiermq::poll(&mut items, i64::from(WAIT_MS)).unwrap(), 1);
    assert!(items[0].is_readable() && !items[0].is_writable());
    assert!(pull.get_events().unwrap().contains(tiermq::POLLIN));
    assert_eq!(pull.recv_bytes(DONTWAIT).unwrap(), b"wake");
    drop(t.join().unwrap());
}

#[test]
fn blocked_recv_wakes_when_a_message_arrives_from_another_thread() {
    let ctx = Context::new();
    let pull = ctx.socket(PULL).unwrap();
    pull.bind("inproc://wake").unwrap();
    let ctx2 = ctx.clone();
    let t = std::thread::spawn(move || {
        let push = ctx2.socket(PUSH).unwrap();
        push.connect("inproc://wake").unwrap();
        for n in 0..1000 {
            push.send(seq(n), 0).unwrap();
        }
    });
    assert_eq!(recv_n(&pull, 1000), (0..1000).collect::<Vec<_>>());
    t.join().unwrap();
}

#[test]
fn destroyed_context_gives_eterm() {
    let mut ctx = Context::new();
    let push = ctx.socket(PUSH).unwrap();
    push.bind("inproc://term").unwrap();
    ctx.destroy().unwrap();
    assert_eq!(push.send("x", 0), Err(Error::ETERM));
    assert_eq!(ctx.socket(PULL).err(), Some(Error::ETERM));
}

#[test]
fn options_validate_like_libzmq() {
    let ctx = Context::new();
    let s = ctx.socket(PUSH).unwrap();
    assert_eq!(s.get_sndhwm().unwrap(), 1000);
    assert_eq!(s.get_rcvhwm().unwrap(), 1000);
    assert_eq!(s.get_linger().unwrap(), -1);
    assert_eq!(s.get_sndtimeo().unwrap(), -1);
    assert_eq!(s.get_reconnect_ivl().unwrap(), 100);
    assert_eq!(s.get_reconnect_ivl_max().unwrap(), 0);
    assert_eq!(s.get_maxmsgsize().unwrap(), -1);
    assert_eq!(s.get_handshake_ivl().unwrap(), 30_000);
    assert_eq!(s.get_heartbeat_ivl().unwrap(), 0);
    assert_eq!(s.get_heartbeat_ttl().unwrap(), 0);
    assert_eq!(s.get_sndprio().unwrap(), 8);
    assert_eq!(s.get_rcvprio().unwrap(), 8);
    assert_eq!(s.get_failback_delay().unwrap(), 0);
    assert_eq!(s.set_sndhwm(-1), Err(Error::EINVAL));
    assert_eq!(s.set_linger(-2), Err(Error::EINVAL));
    assert_eq!(s.set_sndprio(17), Err(Error::EINVAL));
    assert_eq!(s.set_rcvprio(0), Err(Error::EINVAL));
    assert_eq!(s.set_identity(b""), Err(Error::EINVAL));
    assert_eq!(s.set_heartbeat_ttl(7_000_000), Err(Error::EINVAL));
    s.set_identity(b"me").unwrap();
    assert_eq!(s.get_identity().unwrap(), b"me");
    s.set_immediate(true).unwrap();
    assert!(s.is_immediate().unwrap());
    s.set_failback_delay(50).unwrap();
    assert_eq!(s.get_failback_delay().unwrap(), 50);
    assert_eq!(ctx.get_io_threads().unwrap(), 1);
    assert_eq!(ctx.set_io_threads(0), Err(Error::EINVAL));
    ctx.set_io_threads(2).unwrap();
}

/// Messages in an inproc pipe stay readable after the sender is dropped,
/// and dropping does not wait for a reader on the same thread.
#[test]
fn dropping_the_sender_keeps_its_messages_readable() {
    let ctx = Context::new();
    let pull = ctx.socket(PULL).unwrap();
    pull.bind("inproc://after-drop").unwrap();
    let push = ctx.socket(PUSH).unwrap();
    push.connect("inproc://after-drop").unwrap();
    for n in 0..100 {
        push.send(seq(n), 0).unwrap();
    }
    drop(push);
    assert_eq!(recv_n(&pull, 100), (0..100).collect::<Vec<_>>());
    assert_eq!(pull.recv_bytes(DONTWAIT), Err(Error::EAGAIN));
}

#[test]
fn destroy_wakes_a_blocked_receiver_with_eterm() {
    let mut ctx = Context::new();
    let pull = ctx.socket(PULL).unwrap();
    pull.bind("inproc://eterm").unwrap();
    let blocked = std::thread::spawn(move || pull.recv_bytes(0));
    // Whether the receiver is already waiting or not, it must end with ETERM.
    ctx.destroy().unwrap();
    assert_eq!(blocked.join().unwrap(), Err(Error::ETERM));
}

#[test]
fn huge_timeouts_mean_no_limit() {
    let ctx = Context::new();
    let pull = ctx.socket(PULL).unwrap();
    pull.bind("inproc://huge-timeout").unwrap();
    let push = ctx.socket(PUSH).unwrap();
    push.connect("inproc://huge-timeout").unwrap();
    push.send("x", 0).unwrap();
    assert_eq!(pull.poll(tiermq::POLLIN, i64::MAX).unwrap(), 1);
    pull.set_rcvtimeo(i32::MAX).unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), b"x");
}

/// Like a tcp connect, an inproc connect whose binder went away waits for
/// the name to be bound again: a restarted primary gets traffic back.
#[test]
fn restarted_inproc_primary_gets_traffic_back() {
    let ctx = Context::new();
    let push = ctx.socket(PUSH).unwrap();
    push.set_sndprio(1).unwrap();
    push.connect("inproc://rs-primary").unwrap();
    push.set_sndprio(2).unwrap();
    push.connect("inproc://rs-backup").unwrap();
    let backup = ctx.socket(PULL).unwrap();
    backup.bind("inproc://rs-backup").unwrap();
    let primary = ctx.socket(PULL).unwrap();
    primary.bind("inproc://rs-primary").unwrap();

    push.send(seq(0), 0).unwrap();
    assert_eq!(recv_n(&primary, 1), vec![0]);
    drop(primary);
    push.send(seq(1), 0).unwrap();
    assert_eq!(recv_n(&backup, 1), vec![1]);

    let revived = ctx.socket(PULL).unwrap();
    revived.bind("inproc://rs-primary").unwrap();
    assert_eq!(push.active_tier(), Some(1));
    push.send(seq(2), 0).unwrap();
    assert_eq!(recv_n(&revived, 1), vec![2]);

    // After an explicit disconnect it does not come back.
    push.disconnect("inproc://rs-primary").unwrap();
    drop(revived);
    let again = ctx.socket(PULL).unwrap();
    again.bind("inproc://rs-primary").unwrap();
    push.send(seq(3), 0).unwrap();
    assert_eq!(recv_n(&backup, 1), vec![3]);
}
