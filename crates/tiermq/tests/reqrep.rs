//! REQ and REP: lockstep rules, envelopes, failover of a request in flight
//! (exactly one reply), failback, REQ_RESEND_IVL with REQ_CORRELATE, and
//! REQ_RELAXED. Real sockets on 127.0.0.1; waits are bounded, never timed
//! assertions.

mod common;

use common::*;
use tiermq::{Context, DEALER, DONTWAIT, Error, REP, REQ, ROUTER, Socket};

fn rep_on(ctx: &Context, endpoint: &str) -> (Socket, String) {
    let s = ctx.socket(REP).unwrap();
    s.set_rcvtimeo(WAIT_MS).unwrap();
    s.bind(endpoint).unwrap();
    let ep = s.get_last_endpoint().unwrap().unwrap();
    (s, ep)
}

/// A REP bound to `endpoint`, retrying while the port is still being
/// released by a socket closed just before (closing is asynchronous).
fn rep_rebound(ctx: &Context, endpoint: &str) -> Socket {
    let s = ctx.socket(REP).unwrap();
    s.set_rcvtimeo(WAIT_MS).unwrap();
    eventually("the port is free again", || s.bind(endpoint).is_ok());
    s
}

#[test]
fn req_and_rep_take_turns() {
    let ctx = Context::new();
    let (rep, _) = rep_on(&ctx, "inproc://turns");
    let req = ctx.socket(REQ).unwrap();
    req.set_rcvtimeo(WAIT_MS).unwrap();
    req.connect("inproc://turns").unwrap();

    assert_eq!(req.recv_bytes(0), Err(Error::EFSM), "recv before send");
    assert_eq!(rep.send("x", 0), Err(Error::EFSM), "reply before request");
    req.send_multipart(["hello", "world"], 0).unwrap();
    assert_eq!(req.send("again", DONTWAIT), Err(Error::EFSM), "second send");
    assert_eq!(
        rep.recv_multipart(0).unwrap(),
        vec![b"hello".to_vec(), b"world".to_vec()]
    );
    assert_eq!(
        rep.recv_bytes(DONTWAIT),
        Err(Error::EFSM),
        "recv owing a reply"
    );
    rep.send("hi", 0).unwrap();
    assert_eq!(req.recv_bytes(0).unwrap(), b"hi");
    // The next round works as the first.
    req.send("2", 0).unwrap();
    assert_eq!(rep.recv_bytes(0).unwrap(), b"2");
    rep.send("two", 0).unwrap();
    assert_eq!(req.recv_bytes(0).unwrap(), b"two");
}

#[test]
fn rep_keeps_the_envelope_for_the_reply() {
    let ctx = Context::new();
    let (rep, _) = rep_on(&ctx, "inproc://envelope");
    let dealer = ctx.socket(DEALER).unwrap();
    dealer.set_rcvtimeo(WAIT_MS).unwrap();
    dealer.connect("inproc://envelope").unwrap();
    // A two-hop envelope, as a proxy in front of REP would make it.
    dealer
        .send_multipart([&b"client-7"[..], b"", b"q"], 0)
        .unwrap();
    assert_eq!(rep.recv_bytes(0).unwrap(), b"q");
    assert!(!rep.get_rcvmore().unwrap());
    rep.send("a", 0).unwrap();
    assert_eq!(
        dealer.recv_multipart(0).unwrap(),
        vec![b"client-7".to_vec(), Vec::new(), b"a".to_vec()]
    );
    // A request without a delimiter is dropped, not delivered.
    dealer.send("no-delimiter", 0).unwrap();
    dealer.send_multipart([&b""[..], b"ok"], 0).unwrap();
    assert_eq!(rep.recv_bytes(0).unwrap(), b"ok");
}

/// SPEC §6: the primary REP holds the request and dies; the backup answers
/// it, and the caller sees exactly one reply. A new primary on the same
/// port gets the next request (failback).
fn req_failover(make_primary: impl Fn(&str) -> Box<dyn FnOnce()>) {
    let ctx = Context::new();
    let (backup, e2) = rep_on(&ctx, "tcp://127.0.0.1:*");
    // Find a free port for the primary.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let e1 = format!("tcp://{}", probe.local_addr().unwrap());
    drop(probe);
    let kill_primary = make_primary(&e1);

    let req = ctx.socket(REQ).unwrap();
    req.set_rcvtimeo(WAIT_MS).unwrap();
    req.set_reconnect_ivl(20).unwrap();
    req.set_sndprio(1).unwrap();
    req.connect(&e1).unwrap();
    req.set_sndprio(2).unwrap();
    req.connect(&e2).unwrap();
    eventually("both REPs connected", || ready(&req) == 2);

    req.send("job-1", 0).unwrap();
    // The primary receives it and dies without replying.
    kill_primary();
    assert_eq!(backup.recv_bytes(0).unwrap(), b"job-1");
    backup.send("done-by-backup", 0).unwrap();
    assert_eq!(req.recv_bytes(0).unwrap(), b"done-by-backup");
    assert_eq!(req.recv_bytes(DONTWAIT), Err(Error::EFSM), "one reply only");
    assert_eq!(req.active_tier(), Some(2));

    // The primary comes back on its port: the next request goes to it.
    let primary = rep_rebound(&ctx, &e1);
    eventually("failback to the returning primary", || {
        req.active_tier() == Some(1)
    });
    req.send("job-2", 0).unwrap();
    assert_eq!(primary.recv_bytes(0).unwrap(), b"job-2");
    primary.send("done-by-primary", 0).unwrap();
    assert_eq!(req.recv_bytes(0).unwrap(), b"done-by-primary");
    assert_eq!(backup.recv_bytes(DONTWAIT), Err(Error::EAGAIN));
}

#[test]
fn req_fails_over_from_a_dying_tiermq_rep() {
    req_failover(|ep| {
        let ctx = Context::new();
        let (primary, _) = rep_on(&ctx, ep);
        Box::new(move || {
            assert_eq!(primary.recv_bytes(0).unwrap(), b"job-1");
            drop(primary);
            drop(ctx);
        })
    });
}

#[test]
fn req_fails_over_from_a_dying_libzmq_rep() {
    req_failover(|ep| {
        let zctx = zmq::Context::new();
        let primary = zctx.socket(zmq::REP).unwrap();
        primary.set_rcvtimeo(WAIT_MS).unwrap();
        primary.set_linger(0).unwrap();
        primary.bind(ep).unwrap();
        Box::new(move || {
            assert_eq!(primary.recv_bytes(0).unwrap(), b"job-1");
            drop(primary);
            drop(zctx);
        })
    });
}

/// REQ_RESEND_IVL with REQ_CORRELATE: an unanswered request is sent again
/// (under a new id); the late reply to the first attempt is dropped and the
/// caller gets the reply to the second.
#[test]
fn resend_interval_with_correlate_drops_the_late_reply() {
    let ctx = Context::new();
    let server = ctx.socket(ROUTER).unwrap();
    server.set_rcvtimeo(WAIT_MS).unwrap();
    server.bind("tcp://127.0.0.1:*").unwrap();
    let ep = server.get_last_endpoint().unwrap().unwrap();
    let req = ctx.socket(REQ).unwrap();
    req.set_req_correlate(true).unwrap();
    req.set_req_resend_ivl(50).unwrap();
    req.set_rcvtimeo(WAIT_MS).unwrap();
    req.connect(&ep).unwrap();
    eventually("connected", || ready(&req) == 1);

    req.send("work", 0).unwrap();
    let client = std::thread::spawn(move || {
        let reply = req.recv_bytes(0).unwrap();
        (req, reply)
    });
    // Both attempts reach the server, each [routing id, request id, "", body].
    let first = server.recv_multipart(0).unwrap();
    let second = server.recv_multipart(0).unwrap();
    assert_eq!(first.len(), 4);
    assert_eq!(first[1].len(), 4, "a 4-byte request id");
    assert_ne!(first[1], second[1], "each attempt has its own id");
    assert_eq!(&first[2..], &[Vec::new(), b"work".to_vec()]);
    assert_eq!(&second[2..], &[Vec::new(), b"work".to_vec()]);
    server
        .send_multipart([&first[0][..], &first[1], b"", b"late"], 0)
        .unwrap();
    server
        .send_multipart([&second[0][..], &second[1], b"", b"fresh"], 0)
        .unwrap();
    let (req, reply) = client.join().unwrap();
    assert_eq!(reply, b"fresh");
    assert_eq!(req.recv_bytes(DONTWAIT), Err(Error::EFSM));
}

/// REQ_RELAXED: a second request abandons the first; with REQ_CORRELATE the
/// first one's reply is dropped.
#[test]
fn relaxed_req_abandons_the_old_request() {
    let ctx = Context::new();
    let (rep, _) = rep_on(&ctx, "inproc://relaxed");
    let req = ctx.socket(REQ).unwrap();
    req.set_req_relaxed(true).unwrap();
    req.set_req_correlate(true).unwrap();
    req.set_rcvtimeo(WAIT_MS).unwrap();
    req.connect("inproc://relaxed").unwrap();
    req.send("one", 0).unwrap();
    req.send("two", 0).unwrap();
    assert_eq!(rep.recv_bytes(0).unwrap(), b"one");
    rep.send("reply-one", 0).unwrap();
    assert_eq!(rep.recv_bytes(0).unwrap(), b"two");
    rep.send("reply-two", 0).unwrap();
    assert_eq!(req.recv_bytes(0).unwrap(), b"reply-two");
}

/// A REQ with no peer yet waits; the request goes out when one connects.
#[test]
fn request_waits_for_a_peer() {
    let ctx = Context::new();
    let req = ctx.socket(REQ).unwrap();
    req.set_sndtimeo(0).unwrap();
    // IMMEDIATE=1: no queueing at the socket level (tests/immediate.rs has
    // the default).
    req.set_immediate(true).unwrap();
    req.connect("inproc://later").unwrap();
    assert_eq!(req.send("early", 0), Err(Error::EAGAIN));
    assert_eq!(
        req.recv_bytes(DONTWAIT),
        Err(Error::EFSM),
        "nothing was sent"
    );
    let (rep, _) = rep_on(&ctx, "inproc://later");
    req.set_sndtimeo(WAIT_MS).unwrap();
    req.send("now", 0).unwrap();
    assert_eq!(rep.recv_bytes(0).unwrap(), b"now");
}

/// A reply to a requester that has gone is dropped quietly, and REP goes
/// on serving the others.
#[test]
fn reply_to_a_departed_requester_is_dropped() {
    let ctx = Context::new();
    let (rep, _) = rep_on(&ctx, "inproc://departed");
    let gone = ctx.socket(REQ).unwrap();
    gone.connect("inproc://departed").unwrap();
    gone.send("from gone", 0).unwrap();
    assert_eq!(rep.recv_bytes(0).unwrap(), b"from gone");
    drop(gone);
    rep.send("nobody hears this", 0).unwrap();
    let stays = ctx.socket(REQ).unwrap();
    stays.set_rcvtimeo(WAIT_MS).unwrap();
    stays.connect("inproc://departed").unwrap();
    stays.send("from stays", 0).unwrap();
    assert_eq!(rep.recv_bytes(0).unwrap(), b"from stays");
    rep.send("heard", 0).unwrap();
    assert_eq!(stays.recv_bytes(0).unwrap(), b"heard");
}

/// poll follows REQ's and REP's turns: REQ is writable until it sent, then
/// readable once the reply is there; REP the other way round.
#[test]
fn poll_follows_the_turns() {
    use tiermq::{POLLIN, POLLOUT};
    let ctx = Context::new();
    let (rep, _) = rep_on(&ctx, "inproc://poll-turns");
    let req = ctx.socket(REQ).unwrap();
    req.connect("inproc://poll-turns").unwrap();
    eventually("connected", || ready(&req) == 1);
    assert_eq!(req.get_events().unwrap(), POLLOUT);
    assert_eq!(rep.get_events().unwrap(), tiermq::PollEvents::empty());
    req.send("q", 0).unwrap();
    assert_eq!(req.get_events().unwrap(), tiermq::PollEvents::empty());
    assert_eq!(rep.poll(POLLIN, i64::from(WAIT_MS)).unwrap(), 1);
    assert_eq!(rep.recv_bytes(0).unwrap(), b"q");
    assert_eq!(rep.get_events().unwrap(), POLLOUT);
    rep.send("a", 0).unwrap();
    assert_eq!(req.poll(POLLIN, i64::from(WAIT_MS)).unwrap(), 1);
    assert_eq!(req.recv_bytes(0).unwrap(), b"a");
    assert_eq!(req.get_events().unwrap(), POLLOUT);
}
