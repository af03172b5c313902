//! Request-reply interoperability with libzmq (through the `zmq` crate), in
//! both directions, over tcp and ipc: REQ/REP, DEALER/ROUTER, and the
//! envelopes a ROUTER sees from a REQ.

mod common;

use common::*;
use tiermq::{Context, DEALER, REP, REQ, ROUTER};

fn endpoint(kind: &str, name: &str) -> String {
    match kind {
        "tcp" => "tcp://127.0.0.1:*".to_owned(),
        _ => {
            let p = std::env::temp_dir().join(format!(
                "tiermq-interop-rr-{}-{name}.ipc",
                std::process::id()
            ));
            format!("ipc://{}", p.display())
        }
    }
}

fn zsocket(ctx: &zmq::Context, t: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(t).unwrap();
    s.set_rcvtimeo(WAIT_MS).unwrap();
    s.set_sndtimeo(WAIT_MS).unwrap();
    s.set_linger(0).unwrap();
    s
}

fn tiermq_req_to_libzmq_rep(kind: &str) {
    let zctx = zmq::Context::new();
    let rep = zsocket(&zctx, zmq::REP);
    rep.bind(&endpoint(kind, "rep")).unwrap();
    let ep = rep.get_last_endpoint().unwrap().unwrap();
    let ctx = Context::new();
    let req = ctx.socket(REQ).unwrap();
    req.set_rcvtimeo(WAIT_MS).unwrap();
    req.connect(&ep).unwrap();
    for i in 0..20u64 {
        req.send_multipart([seq(i), b"more".to_vec()], 0).unwrap();
        let got = rep.recv_multipart(0).unwrap();
        assert_eq!(got, vec![seq(i), b"more".to_vec()]);
        rep.send(seq(i + 100), 0).unwrap();
        assert_eq!(unseq(&req.recv_bytes(0).unwrap()), i + 100);
    }
}

#[test]
fn tiermq_req_to_libzmq_rep_tcp() {
    tiermq_req_to_libzmq_rep("tcp");
}

#[test]
fn tiermq_req_to_libzmq_rep_ipc() {
    tiermq_req_to_libzmq_rep("ipc");
}

fn libzmq_req_to_tiermq_rep(kind: &str) {
    let ctx = Context::new();
    let rep = ctx.socket(REP).unwrap();
    rep.set_rcvtimeo(WAIT_MS).unwrap();
    rep.bind(&endpoint(kind, "trep")).unwrap();
    let ep = rep.get_last_endpoint().unwrap().unwrap();
    let zctx = zmq::Context::new();
    let req = zsocket(&zctx, zmq::REQ);
    req.set_req_correlate(true).unwrap();
    req.set_req_relaxed(true).unwrap();
    req.connect(&ep).unwrap();
    for i in 0..20u64 {
        req.send(seq(i), 0).unwrap();
        assert_eq!(unseq(&rep.recv_bytes(0).unwrap()), i);
        // The envelope (libzmq's request id, then the delimiter) comes back.
        rep.send_multipart([seq(i + 100), b"x".to_vec()], 0)
            .unwrap();
        let got = req.recv_multipart(0).unwrap();
        assert_eq!(got, vec![seq(i + 100), b"x".to_vec()]);
    }
}

#[test]
fn libzmq_req_to_tiermq_rep_tcp() {
    libzmq_req_to_tiermq_rep("tcp");
}

#[test]
fn libzmq_req_to_tiermq_rep_ipc() {
    libzmq_req_to_tiermq_rep("ipc");
}

fn tiermq_dealer_to_libzmq_router(kind: &str) {
    let zctx = zmq::Context::new();
    let router = zsocket(&zctx, zmq::ROUTER);
    router.bind(&endpoint(kind, "router")).unwrap();
    let ep = router.get_last_endpoint().unwrap().unwrap();
    let ctx = Context::new();
    let dealer = ctx.socket(DEALER).unwrap();
    dealer.set_identity(b"tiermq-dealer").unwrap();
    dealer.set_rcvtimeo(WAIT_MS).unwrap();
    dealer.connect(&ep).unwrap();
    for i in 0..20u64 {
        dealer.send_multipart([b"".to_vec(), seq(i)], 0).unwrap();
    }
    for i in 0..20u64 {
        let m = router.recv_multipart(0).unwrap();
        assert_eq!(m, vec![b"tiermq-dealer".to_vec(), Vec::new(), seq(i)]);
        router.send_multipart(&m, 0).unwrap();
    }
    for i in 0..20u64 {
        let m = dealer.recv_multipart(0).unwrap();
        assert_eq!(m, vec![Vec::new(), seq(i)]);
    }
}

#[test]
fn tiermq_dealer_to_libzmq_router_tcp() {
    tiermq_dealer_to_libzmq_router("tcp");
}

#[test]
fn tiermq_dealer_to_libzmq_router_ipc() {
    tiermq_dealer_to_libzmq_router("ipc");
}

fn libzmq_dealer_to_tiermq_router(kind: &str) {
    let ctx = Context::new();
    let router = ctx.socket(ROUTER).unwrap();
    router.set_rcvtimeo(WAIT_MS).unwrap();
    router.bind(&endpoint(kind, "trouter")).unwrap();
    let ep = router.get_last_endpoint().unwrap().unwrap();
    let zctx = zmq::Context::new();
    let named = zsocket(&zctx, zmq::DEALER);
    named.set_identity(b"libzmq-dealer").unwrap();
    named.connect(&ep).unwrap();
    let anon = zsocket(&zctx, zmq::DEALER);
    anon.connect(&ep).unwrap();
    named.send("from named", 0).unwrap();
    anon.send("from anon", 0).unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let m = router.recv_multipart(0).unwrap();
        assert_eq!(m.len(), 2);
        if m[1] == b"from named" {
            assert_eq!(m[0], b"libzmq-dealer");
        } else {
            assert_eq!(m[1], b"from anon");
            assert_eq!(m[0].len(), 5, "a generated id");
        }
        ids.push(m[0].clone());
    }
    for id in &ids {
        router
            .send_multipart([id.clone(), b"reply".to_vec()], 0)
            .unwrap();
    }
    assert_eq!(named.recv_bytes(0).unwrap(), b"reply");
    assert_eq!(anon.recv_bytes(0).unwrap(), b"reply");
}

#[test]
fn libzmq_dealer_to_tiermq_router_tcp() {
    libzmq_dealer_to_tiermq_router("tcp");
}

#[test]
fn libzmq_dealer_to_tiermq_router_ipc() {
    libzmq_dealer_to_tiermq_router("ipc");
}

/// A libzmq REQ's request reaches a tiermq ROUTER as [identity, "", body],
/// and the reply with that envelope reaches the REQ.
#[test]
fn libzmq_req_envelope_at_tiermq_router() {
    for kind in ["tcp", "ipc"] {
        let ctx = Context::new();
        let router = ctx.socket(ROUTER).unwrap();
        router.set_rcvtimeo(WAIT_MS).unwrap();
        router.bind(&endpoint(kind, "envelope")).unwrap();
        let ep = router.get_last_endpoint().unwrap().unwrap();
        let zctx = zmq::Context::new();
        let req = zsocket(&zctx, zmq::REQ);
        req.set_identity(b"client").unwrap();
        req.connect(&ep).unwrap();
        req.send("question", 0).unwrap();
        let m = router.recv_multipart(0).unwrap();
        assert_eq!(
            m,
            vec![b"client".to_vec(), Vec::new(), b"question".to_vec()]
        );
        router
            .send_multipart([&b"client"[..], b"", b"answer"], 0)
            .unwrap();
        assert_eq!(req.recv_bytes(0).unwrap(), b"answer");
    }
}

/// A tiermq REQ (plain and with REQ_CORRELATE) at a libzmq ROUTER.
#[test]
fn tiermq_req_envelope_at_libzmq_router() {
    for (kind, correlate) in [("tcp", false), ("ipc", true)] {
        let zctx = zmq::Context::new();
        let router = zsocket(&zctx, zmq::ROUTER);
        router.bind(&endpoint(kind, "zrouter")).unwrap();
        let ep = router.get_last_endpoint().unwrap().unwrap();
        let ctx = Context::new();
        let req = ctx.socket(REQ).unwrap();
        req.set_identity(b"treq").unwrap();
        req.set_req_correlate(correlate).unwrap();
        req.set_rcvtimeo(WAIT_MS).unwrap();
        req.connect(&ep).unwrap();
        req.send("question", 0).unwrap();
        let m = router.recv_multipart(0).unwrap();
        if correlate {
            assert_eq!(m.len(), 4);
            assert_eq!(m[1].len(), 4, "the request id");
            assert_eq!(&m[2..], &[Vec::new(), b"question".to_vec()]);
        } else {
            assert_eq!(m, vec![b"treq".to_vec(), Vec::new(), b"question".to_vec()]);
        }
        assert_eq!(m[0], b"treq");
        let mut reply = m.clone();
        *reply.last_mut().unwrap() = b"answer".to_vec();
        router.send_multipart(&reply, 0).unwrap();
        assert_eq!(req.recv_bytes(0).unwrap(), b"answer");
    }
}
