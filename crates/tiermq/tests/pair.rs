//! PAIR: one peer, both directions, over inproc, tcp and ipc; a second
//! peer is refused; sends block (or give EAGAIN) with no peer or a full
//! peer; interop with a libzmq PAIR.

mod common;

use common::{WAIT_MS, eventually};
use tiermq::{Context, DONTWAIT, Error, PAIR, Socket};

fn ipc_endpoint(name: &str) -> String {
    let p = std::env::temp_dir().join(format!("tiermq-pair-{}-{name}.ipc", std::process::id()));
    format!("ipc://{}", p.display())
}

fn pair(ctx: &Context) -> Socket {
    let s = ctx.socket(PAIR).unwrap();
    s.set_rcvtimeo(WAIT_MS).unwrap();
    s.set_sndtimeo(WAIT_MS).unwrap();
    s
}

/// A PAIR bound at `endpoint`, and the endpoint to connect to.
fn bound_pair(ctx: &Context, endpoint: &str) -> (Socket, String) {
    let s = pair(ctx);
    s.bind(endpoint).unwrap();
    let at = s.get_last_endpoint().unwrap().unwrap();
    (s, at)
}

/// A libzmq PAIR that waits [`WAIT_MS`] for a message and lingers not at
/// all.
fn libzmq_pair(zctx: &zmq::Context) -> zmq::Socket {
    let z = zctx.socket(zmq::PAIR).unwrap();
    z.set_rcvtimeo(WAIT_MS).unwrap();
    z.set_linger(0).unwrap();
    z
}

/// Sends `n` numbered messages on `from`, then asserts `recv` yields
/// them all, in order.
fn send_numbered_and_expect_in_order(from: &Socket, n: u32, mut recv: impl FnMut() -> Vec<u8>) {
    for i in 0..n {
        from.send(&i.to_be_bytes()[..], 0).unwrap();
    }
    for i in 0..n {
        assert_eq!(recv(), i.to_be_bytes(), "message {i} in order");
    }
}

/// Binds `a` at `endpoint`, connects `b`, and checks messages (multipart
/// kept whole) both ways.
fn both_ways(endpoint: &str) {
    let ctx = Context::new();
    let (a, at) = bound_pair(&ctx, endpoint);
    let b = pair(&ctx);
    b.connect(&at).unwrap();
    b.send_multipart(["ping", "two"], 0).unwrap();
    assert_eq!(
        a.recv_multipart(0).unwrap(),
        vec![b"ping".to_vec(), b"two".to_vec()]
    );
    a.send("pong", 0).unwrap();
    assert_eq!(b.recv_bytes(0).unwrap(), b"pong");
    send_numbered_and_expect_in_order(&a, 100, || b.recv_bytes(0).unwrap());
}

#[test]
fn pair_over_inproc() {
    both_ways("inproc://pair-both-ways");
}

#[test]
fn pair_over_tcp() {
    both_ways("tcp://127.0.0.1:*");
}

#[test]
fn pair_over_ipc() {
    both_ways(&ipc_endpoint("both"));
}

/// The first peer is the peer; a second one gets nothing and is heard by
/// nobody, until the first leaves.
fn second_peer_refused(endpoint: &str) {
    let ctx = Context::new();
    let (a, at) = bound_pair(&ctx, endpoint);
    let first = pair(&ctx);
    first.connect(&at).unwrap();
    first.send("first", 0).unwrap();
    assert_eq!(a.recv_bytes(0).unwrap(), b"first");

    let second = pair(&ctx);
    second.connect(&at).unwrap();
    // The second connects and is closed, again and again; what it sends
    // meanwhile reaches nobody.
    second.send("lost", DONTWAIT).unwrap();
    send_numbered_and_expect_in_order(&a, 20, || first.recv_bytes(0).unwrap());
    first.send("still first", 0).unwrap();
    assert_eq!(
        a.recv_bytes(0).unwrap(),
        b"still first",
        "nothing from the second"
    );
    assert_eq!(second.recv_bytes(DONTWAIT), Err(Error::EAGAIN));

    // Once the first is gone, the second (still retrying) becomes the peer.
    drop(first);
    // (What `a` sent while the first was leaving may die with it.)
    eventually("the second peer takes over", || {
        let _ = a.send("welcome", DONTWAIT);
        second.recv_bytes(DONTWAIT).is_ok_and(|m| m == b"welcome")
    });
    second.send("hello", 0).unwrap();
    let got = a.recv_bytes(0).unwrap();
    assert!(
        got == b"hello" || got == b"lost",
        "only the second's messages: {got:?}"
    );
}

#[test]
fn a_second_tcp_peer_is_refused() {
    second_peer_refused("tcp://127.0.0.1:*");
}

#[test]
fn a_second_ipc_peer_is_refused() {
    second_peer_refused(&ipc_endpoint("second"));
}

#[test]
fn a_second_inproc_peer_is_refused() {
    let ctx = Context::new();
    let a = pair(&ctx);
    a.bind("inproc://pair-second").unwrap();
    let first = pair(&ctx);
    first.connect("inproc://pair-second").unwrap();
    let second = pair(&ctx);
    second.connect("inproc://pair-second").unwrap();
    a.send("hello", 0).unwrap();
    assert_eq!(first.recv_bytes(0).unwrap(), b"hello");
    second.send("second", DONTWAIT).unwrap_or(());
    first.send("first", 0).unwrap();
    assert_eq!(a.recv_bytes(0).unwrap(), b"first");
    assert_eq!(
        a.recv_bytes(DONTWAIT),
        Err(Error::EAGAIN),
        "nothing from the second"
    );
    assert_eq!(second.recv_bytes(DONTWAIT), Err(Error::EAGAIN));
}

#[test]
fn send_without_a_peer_would_block() {
    let ctx = Context::new();
    let a = pair(&ctx);
    a.bind("tcp://127.0.0.1:*").unwrap();
    assert_eq!(a.send("x", DONTWAIT), Err(Error::EAGAIN));
    a.set_sndtimeo(50).unwrap();
    assert_eq!(a.send("x", 0), Err(Error::EAGAIN), "SNDTIMEO ends the wait");
}

#[test]
fn send_blocks_at_the_peers_hwm() {
    let ctx = Context::new();
    let a = pair(&ctx);
    a.set_sndhwm(10).unwrap();
    a.bind("inproc://pair-hwm").unwrap();
    let b = pair(&ctx);
    b.set_rcvhwm(10).unwrap();
    b.connect("inproc://pair-hwm").unwrap();
    let mut sent = 0u32;
    while a.send(&sent.to_be_bytes()[..], DONTWAIT).is_ok() {
        sent += 1;
        assert!(sent < 10_000, "a PAIR must push back when its peer is full");
    }
    assert!(sent >= 10, "at least SNDHWM messages fit ({sent})");
    for i in 0..sent {
        assert_eq!(b.recv_bytes(0).unwrap(), i.to_be_bytes());
    }
    eventually("room again once the peer read", || {
        a.send("more", DONTWAIT).is_ok()
    });
    assert_eq!(b.recv_bytes(0).unwrap(), b"more");
}

#[test]
fn pair_talks_to_a_libzmq_pair() {
    let ctx = Context::new();
    let (a, at) = bound_pair(&ctx, "tcp://127.0.0.1:*");
    let zctx = zmq::Context::new();
    let z = libzmq_pair(&zctx);
    z.connect(&at).unwrap();
    z.send_multipart(["from", "libzmq"], 0).unwrap();
    assert_eq!(
        a.recv_multipart(0).unwrap(),
        vec![b"from".to_vec(), b"libzmq".to_vec()]
    );
    a.send("from tiermq", 0).unwrap();
    assert_eq!(z.recv_bytes(0).unwrap(), b"from tiermq");

    // And the other way round: libzmq binds, tiermq connects.
    let zb = libzmq_pair(&zctx);
    zb.bind("tcp://127.0.0.1:*").unwrap();
    let zat = zb.get_last_endpoint().unwrap().unwrap();
    let b = pair(&ctx);
    b.connect(&zat).unwrap();
    b.send("hi", 0).unwrap();
    assert_eq!(zb.recv_bytes(0).unwrap(), b"hi");
    zb.send("back", 0).unwrap();
    assert_eq!(b.recv_bytes(0).unwrap(), b"back");
}

#[test]
fn a_libzmq_second_peer_is_refused() {
    let ctx = Context::new();
    let (a, at) = bound_pair(&ctx, "tcp://127.0.0.1:*");
    let zctx = zmq::Context::new();
    let first = libzmq_pair(&zctx);
    let second = libzmq_pair(&zctx);
    first.connect(&at).unwrap();
    first.send("first", 0).unwrap();
    assert_eq!(a.recv_bytes(0).unwrap(), b"first");
    second.connect(&at).unwrap();
    second.send("second", zmq::DONTWAIT).unwrap_or(());
    send_numbered_and_expect_in_order(&a, 10, || first.recv_bytes(0).unwrap());
    first.send("again", 0).unwrap();
    assert_eq!(
        a.recv_bytes(0).unwrap(),
        b"again",
        "nothing from the second"
    );
    assert!(second.recv_bytes(zmq::DONTWAIT).is_err());
}
