//! `tiermq req`, `rep`, `dealer` and `router` against libzmq peers.
//!
//! The tiermq library supports these socket types; a test whose type it
//! cannot create fails, naming the type (it never passes by skipping).

mod common;

use std::thread;

use common::*;

/// Fails the test, naming `t`, unless the library can create a `t` socket.
fn require(t: tiermq::SocketType) {
    if let Err(e) = tiermq::Context::new().socket(t) {
        panic!("the tiermq library does not support {t:?} sockets ({e}); this test needs them");
    }
}

/// A libzmq socket bound on an ephemeral loopback port.
fn zmq_bound(ctx: &zmq::Context, t: zmq::SocketType) -> (zmq::Socket, String) {
    let s = ctx.socket(t).unwrap();
    s.set_rcvtimeo(20_000).unwrap();
    s.set_sndtimeo(20_000).unwrap();
    // Servers stay open until their client is done (the threads hand them
    // back): a connection closed right after a reply can race the reply.
    s.set_linger(5_000).unwrap();
    s.bind("tcp://127.0.0.1:*").unwrap();
    let ep = s.get_last_endpoint().unwrap().unwrap();
    (s, ep)
}

#[test]
fn req_prints_the_replies_of_a_libzmq_rep() {
    require(tiermq::REQ);
    let ctx = zmq::Context::new();
    let (rep, ep) = zmq_bound(&ctx, zmq::REP);
    let server = thread::spawn(move || {
        for _ in 0..2 {
            let req = rep.recv_string(0).unwrap().unwrap();
            rep.send(req.to_uppercase().as_str(), 0).unwrap();
        }
        rep
    });
    let (code, out, err) = run(
        &["req", "--connect", &ep, "--timeout", "10000"],
        b"hello\nworld\n",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, b"HELLO\nWORLD\n");
    server.join().unwrap();
}

#[test]
fn req_without_a_reply_times_out_clearly() {
    require(tiermq::REQ);
    let ctx = zmq::Context::new();
    let (rep, ep) = zmq_bound(&ctx, zmq::REP);
    let (code, out, err) = run(&["req", "--connect", &ep, "--timeout", "300"], b"anyone?\n");
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("no reply within 300 ms"), "{err}");
    // The request did arrive; it was the answer that never came.
    assert_eq!(rep.recv_string(0).unwrap().unwrap(), "anyone?");
}

#[test]
fn req_resends_when_the_primary_server_goes_away() {
    require(tiermq::REQ);
    let ctx = zmq::Context::new();
    let (primary, primary_ep) = zmq_bound(&ctx, zmq::REP);
    let (backup, backup_ep) = zmq_bound(&ctx, zmq::REP);
    // The primary takes the request and dies without answering.
    let dying = thread::spawn(move || {
        assert_eq!(primary.recv_string(0).unwrap().unwrap(), "job");
        drop(primary);
    });
    let answering = thread::spawn(move || {
        assert_eq!(backup.recv_string(0).unwrap().unwrap(), "job");
        backup.send("done by backup", 0).unwrap();
        backup
    });
    let mut req = Proc::spawn(&[
        "req",
        "--connect",
        &format!("1@{primary_ep}"),
        "--connect",
        &format!("2@{backup_ep}"),
        "--timeout",
        "15000",
        "--stats",
    ]);
    // Both servers connected, so the request goes to the primary first.
    req.wait_err("active tier 1  ready 2 of");
    req.write_lines(["job".to_owned()]);
    assert_eq!(req.next_line(), "done by backup");
    let (code, _, err) = req.finish();
    assert_eq!(code, 0, "{err:?}");
    dying.join().unwrap();
    answering.join().unwrap();
}

#[test]
fn rep_echoes_and_execs_for_a_libzmq_req() {
    require(tiermq::REP);
    for (mode, expect) in [
        (&["--echo"][..], "ping"),
        (&["--exec", "tr a-z A-Z"][..], "PING"),
    ] {
        let mut args = vec!["rep", "--bind", "tcp://127.0.0.1:0", "--count", "1"];
        args.extend_from_slice(mode);
        let mut rep = Proc::spawn(&args);
        let ep = rep.bound_endpoint();
        let ctx = zmq::Context::new();
        let req = ctx.socket(zmq::REQ).unwrap();
        req.set_rcvtimeo(20_000).unwrap();
        req.set_linger(0).unwrap();
        req.connect(&ep).unwrap();
        req.send("ping", 0).unwrap();
        assert_eq!(req.recv_string(0).unwrap().unwrap(), expect);
        assert_eq!(rep.next_line(), "ping", "rep prints the request");
        let (code, _, err) = rep.finish();
        assert_eq!(code, 0, "{err:?}");
    }
}

#[test]
fn router_prints_hex_identities_and_echoes() {
    require(tiermq::ROUTER);
    let mut router = Proc::spawn(&[
        "router",
        "--bind",
        "tcp://127.0.0.1:0",
        "--echo",
        "--count",
        "1",
    ]);
    let ep = router.bound_endpoint();
    let ctx = zmq::Context::new();
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_identity(b"ab").unwrap();
    dealer.set_rcvtimeo(20_000).unwrap();
    dealer.set_linger(0).unwrap();
    dealer.connect(&ep).unwrap();
    dealer.send_multipart(["x", "y"], 0).unwrap();
    assert_eq!(router.next_line(), "6162\tx\ty");
    assert_eq!(
        dealer.recv_multipart(0).unwrap(),
        [b"x".to_vec(), b"y".to_vec()]
    );
    let (code, _, err) = router.finish();
    assert_eq!(code, 0, "{err:?}");
}

#[test]
fn dealer_with_delimiter_talks_to_a_libzmq_rep() {
    require(tiermq::DEALER);
    let ctx = zmq::Context::new();
    let (rep, ep) = zmq_bound(&ctx, zmq::REP);
    let server = thread::spawn(move || {
        for _ in 0..2 {
            let req = rep.recv_string(0).unwrap().unwrap();
            rep.send(format!("re: {req}").as_str(), 0).unwrap();
        }
        rep
    });
    let (code, out, err) = run(
        &["dealer", "--connect", &ep, "--delimiter", "--count", "2"],
        b"a\nb\n",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, b"re: a\nre: b\n");
    server.join().unwrap();
}

#[test]
fn router_routes_stdin_lines_by_hex_identity() {
    require(tiermq::ROUTER);
    // No --count: a router serves until it is stopped (the test kills it).
    let mut router = Proc::spawn(&["router", "--bind", "tcp://127.0.0.1:0"]);
    let ep = router.bound_endpoint();
    let ctx = zmq::Context::new();
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_identity(b"\x01\xfe").unwrap();
    dealer.set_rcvtimeo(20_000).unwrap();
    dealer.set_linger(0).unwrap();
    dealer.connect(&ep).unwrap();
    dealer.send("hello", 0).unwrap();
    assert_eq!(router.next_line(), "01fe\thello");
    // An unknown identity is skipped with a warning; the known one is routed.
    router.write_lines(["abcd\tlost".to_owned(), "01fe\treply\tparts".to_owned()]);
    assert_eq!(
        dealer.recv_multipart(0).unwrap(),
        [b"reply".to_vec(), b"parts".to_vec()]
    );
    router.wait_err("no peer with identity abcd");
}

#[test]
fn req_resend_ivl_retries_an_ignored_request() {
    require(tiermq::REQ);
    let ctx = zmq::Context::new();
    let (router, ep) = zmq_bound(&ctx, zmq::ROUTER);
    let server = thread::spawn(move || {
        // Ignore the first attempt; answer every resend, envelope and all
        // (a slow answer may cross one more resend), until the client is done.
        let first = router.recv_multipart(0).unwrap();
        router.set_rcvtimeo(3_000).unwrap();
        let mut answered = 0;
        while let Ok(mut again) = router.recv_multipart(0) {
            assert_eq!(first.last(), again.last(), "the same request");
            again.pop();
            again.push(b"answer".to_vec());
            router.send_multipart(again, 0).unwrap();
            answered += 1;
        }
        answered
    });
    let (code, out, err) = run(
        &[
            "req",
            "--connect",
            &ep,
            "--resend-ivl",
            "200",
            "--timeout",
            "10000",
        ],
        b"question\n",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, b"answer\n", "exactly one reply");
    assert!(server.join().unwrap() >= 1, "the request was resent");
}
