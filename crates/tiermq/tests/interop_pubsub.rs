//! PUB/SUB interoperability: with libzmq (through the `zmq` crate) both
//! ways over tcp and ipc, including a libzmq XPUB that sees tiermq SUB's
//! subscriptions, cancels and replays; and with a ZMTP 3.0 peer played by
//! a raw TCP socket here, which subscribes with the message form and must
//! be subscribed to in that form.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::zmtp::{frame, greeting_30, handshake, read_frame, ready};
use common::*;
use tiermq::{Context, DONTWAIT, PUB, SUB, XPUB};

const WARM: &[u8] = b"~warm";

fn endpoint(kind: &str, name: &str) -> String {
    match kind {
        "tcp" => "tcp://127.0.0.1:*".to_owned(),
        _ => {
            let p =
                std::env::temp_dir().join(format!("tiermq-ips-{}-{name}.ipc", std::process::id()));
            format!("ipc://{}", p.display())
        }
    }
}

/// Repeats `send` until `recv` yields the warm-up topic: the subscriber's
/// subscriptions made before it have reached the publisher (subscribe to
/// the warm-up topic last).
fn warm_up(mut send: impl FnMut(), mut recv: impl FnMut() -> Option<Vec<u8>>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        send();
        if recv().is_some_and(|m| m == WARM) {
            return;
        }
        assert!(Instant::now() < deadline, "the subscription never arrived");
    }
}

/// The next message from `recv` that is not a warm-up.
fn next_after_warm_up(mut recv: impl FnMut() -> Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    loop {
        let m = recv();
        if m != [WARM] {
            return m;
        }
    }
}

/// Binds tiermq socket `s` on a fresh `kind` endpoint; returns where to
/// connect.
fn bind(s: &tiermq::Socket, kind: &str, name: &str) -> String {
    s.bind(&endpoint(kind, name)).unwrap();
    s.get_last_endpoint().unwrap().unwrap()
}

/// [`bind`] for a libzmq socket.
fn zmq_bind(s: &zmq::Socket, kind: &str, name: &str) -> String {
    s.bind(&endpoint(kind, name)).unwrap();
    s.get_last_endpoint().unwrap().unwrap()
}

/// A libzmq XPUB that lingers not at all and waits [`WAIT_MS`] for a
/// subscription.
fn libzmq_xpub(zctx: &zmq::Context) -> zmq::Socket {
    let xpub = zctx.socket(zmq::XPUB).unwrap();
    xpub.set_linger(0).unwrap();
    xpub.set_rcvtimeo(WAIT_MS).unwrap();
    xpub
}

/// Plays a ZMTP 3.0 peer of `socket_type` on `peer`: greeting, READY and
/// the handshake; returns the version tiermq offered.
fn zmtp30_handshake(peer: &mut TcpStream, socket_type: &str) -> (u8, u8) {
    peer.set_read_timeout(Some(Duration::from_millis(WAIT_MS as u64)))
        .unwrap();
    peer.write_all(&greeting_30(false)).unwrap();
    peer.write_all(&ready(socket_type)).unwrap();
    handshake(peer)
}

fn tiermq_pub_to_libzmq_sub(kind: &str) {
    let ctx = Context::new();
    let publisher = ctx.socket(PUB).unwrap();
    let ep = bind(&publisher, kind, "pub");
    let zctx = zmq::Context::new();
    let sub = zctx.socket(zmq::SUB).unwrap();
    sub.set_linger(0).unwrap();
    sub.connect(&ep).unwrap();
    // The warm-up topic last: subscriptions reach the publisher in order,
    // so once it matches, "a" does too.
    sub.set_subscribe(b"a").unwrap();
    sub.set_subscribe(WARM).unwrap();
    sub.set_rcvtimeo(20).unwrap();
    warm_up(
        || publisher.send(WARM, DONTWAIT).unwrap(),
        || sub.recv_bytes(0).ok(),
    );
    sub.set_rcvtimeo(WAIT_MS).unwrap();
    publisher.send("b1", 0).unwrap();
    publisher.send_multipart(["a1", "x", "y"], 0).unwrap();
    assert_eq!(
        next_after_warm_up(|| sub.recv_multipart(0).unwrap()),
        [b"a1".to_vec(), b"x".to_vec(), b"y".to_vec()]
    );
}

#[test]
fn tiermq_pub_to_libzmq_sub_tcp() {
    tiermq_pub_to_libzmq_sub("tcp");
}

#[test]
fn tiermq_pub_to_libzmq_sub_ipc() {
    tiermq_pub_to_libzmq_sub("ipc");
}

fn libzmq_pub_to_tiermq_sub(kind: &str) {
    let zctx = zmq::Context::new();
    let publisher = zctx.socket(zmq::PUB).unwrap();
    publisher.set_linger(0).unwrap();
    let ep = zmq_bind(&publisher, kind, "zpub");
    let ctx = Context::new();
    let sub = ctx.socket(SUB).unwrap();
    sub.connect(&ep).unwrap();
    // The warm-up topic last: subscriptions reach the publisher in order,
    // so once it matches, "a" does too.
    sub.set_subscribe(b"a").unwrap();
    sub.set_subscribe(WARM).unwrap();
    sub.set_rcvtimeo(20).unwrap();
    warm_up(
        || publisher.send(WARM, zmq::DONTWAIT).unwrap(),
        || sub.recv_bytes(0).ok(),
    );
    sub.set_rcvtimeo(WAIT_MS).unwrap();
    publisher.send("b1", 0).unwrap();
    publisher.send_multipart(["a1", "x"], 0).unwrap();
    assert_eq!(
        next_after_warm_up(|| sub.recv_multipart(0).unwrap()),
        [b"a1".to_vec(), b"x".to_vec()]
    );
}

#[test]
fn libzmq_pub_to_tiermq_sub_tcp() {
    libzmq_pub_to_tiermq_sub("tcp");
}

#[test]
fn libzmq_pub_to_tiermq_sub_ipc() {
    libzmq_pub_to_tiermq_sub("ipc");
}

/// A libzmq XPUB sees a tiermq SUB's subscriptions and cancels, and gets
/// them again from the same SUB when it is restarted on the same endpoint.
fn libzmq_xpub_sees_tiermq_sub(kind: &str) {
    let zctx = zmq::Context::new();
    let xpub = libzmq_xpub(&zctx);
    let ep = zmq_bind(&xpub, kind, "zxpub");
    let ctx = Context::new();
    let sub = ctx.socket(SUB).unwrap();
    sub.connect(&ep).unwrap();
    sub.set_subscribe(b"topic").unwrap();
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01topic");
    sub.set_subscribe(b"other").unwrap();
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01other");
    sub.set_unsubscribe(b"topic").unwrap();
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x00topic");
    drop(xpub);
    let xpub = libzmq_xpub(&zctx);
    eventually("the endpoint is free again", || xpub.bind(&ep).is_ok());
    assert_eq!(
        xpub.recv_bytes(0).unwrap(),
        b"\x01other",
        "replayed after the reconnect"
    );
}

#[test]
fn libzmq_xpub_sees_tiermq_sub_tcp() {
    libzmq_xpub_sees_tiermq_sub("tcp");
}

#[test]
fn libzmq_xpub_sees_tiermq_sub_ipc() {
    libzmq_xpub_sees_tiermq_sub("ipc");
}

#[test]
fn tiermq_xpub_sees_libzmq_sub() {
    for kind in ["tcp", "ipc"] {
        let ctx = Context::new();
        let xpub = ctx.socket(XPUB).unwrap();
        xpub.set_rcvtimeo(WAIT_MS).unwrap();
        let ep = bind(&xpub, kind, "xpub");
        let zctx = zmq::Context::new();
        let sub = zctx.socket(zmq::SUB).unwrap();
        sub.set_linger(0).unwrap();
        sub.set_rcvtimeo(WAIT_MS).unwrap();
        sub.connect(&ep).unwrap();
        sub.set_subscribe(b"news").unwrap();
        assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01news");
        xpub.send("sport", 0).unwrap();
        xpub.send("news.1", 0).unwrap();
        assert_eq!(sub.recv_bytes(0).unwrap(), b"news.1");
        sub.set_unsubscribe(b"news").unwrap();
        assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x00news");
    }
}

// ----- a ZMTP 3.0 peer, by hand (see common::zmtp) -----

#[test]
fn zmtp30_subscriber_uses_the_message_form() {
    let ctx = Context::new();
    let publisher = ctx.socket(PUB).unwrap();
    publisher.bind("tcp://127.0.0.1:*").unwrap();
    let ep = publisher.get_last_endpoint().unwrap().unwrap();
    let addr = ep.trim_start_matches("tcp://");
    let mut peer = TcpStream::connect(addr).unwrap();
    assert_eq!(
        zmtp30_handshake(&mut peer, "SUB"),
        (3, 1),
        "tiermq offers 3.1"
    );
    // Subscribe twice, cancel once (message form, as 3.0 has no commands).
    for f in [b"\x01t".as_slice(), b"\x01t", b"\x00t", b"\x01~warm"] {
        peer.write_all(&frame(0, f)).unwrap();
    }
    // Once the warm-up comes through, every subscription above arrived.
    peer.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut first = [0u8; 1];
    loop {
        publisher.send(WARM, 0).unwrap();
        if peer.peek(&mut first).is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "no message from the PUB");
        std::thread::sleep(Duration::from_millis(10));
    }
    peer.set_nonblocking(false).unwrap();
    publisher.send("u1", 0).unwrap();
    publisher.send_multipart(["t1", "more"], 0).unwrap();
    publisher.send("end", 0).unwrap();
    publisher.send(WARM, 0).unwrap();
    let mut got = Vec::new();
    loop {
        let (command, body) = read_frame(&mut peer);
        assert!(!command, "only messages follow");
        if body == WARM && got.len() >= 2 {
            break;
        }
        if body != WARM {
            got.push(body);
        }
    }
    assert_eq!(
        got,
        [b"t1".to_vec(), b"more".to_vec()],
        "t still counted once"
    );
}

#[test]
fn tiermq_sub_subscribes_a_zmtp30_publisher_with_the_message_form() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let ctx = Context::new();
    let sub = ctx.socket(SUB).unwrap();
    sub.set_subscribe(b"x").unwrap();
    sub.connect(&format!("tcp://{addr}")).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    zmtp30_handshake(&mut peer, "PUB");
    assert_eq!(read_frame(&mut peer), (false, b"\x01x".to_vec()));
    sub.set_subscribe(b"y").unwrap();
    assert_eq!(read_frame(&mut peer), (false, b"\x01y".to_vec()));
    sub.set_unsubscribe(b"x").unwrap();
    assert_eq!(read_frame(&mut peer), (false, b"\x00x".to_vec()));
    peer.write_all(&frame(0, b"x1")).unwrap();
    peer.write_all(&frame(0, b"y1")).unwrap();
    sub.set_rcvtimeo(WAIT_MS).unwrap();
    assert_eq!(sub.recv_bytes(0).unwrap(), b"y1", "x1 is filtered here");
}
