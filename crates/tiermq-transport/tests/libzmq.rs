//! Interoperability with libzmq (through the `zmq` crate) on real sockets.

mod common;

use std::thread;

use common::*;
use tiermq_transport::Reactor;
use tiermq_wire::{Bytes, Item, Multipart, SocketType};

const COUNT: u64 = 10_000;

fn zmq_socket(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).unwrap();
    s.set_rcvtimeo(BOUND.as_millis() as i32).unwrap();
    s.set_sndtimeo(BOUND.as_millis() as i32).unwrap();
    s.set_linger(0).unwrap();
    s
}

#[test]
fn libzmq_pull_receives_from_our_push() {
    let ctx = zmq::Context::new();
    let pull = zmq_socket(&ctx, zmq::PULL);
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = pull.get_last_endpoint().unwrap().unwrap();

    let r = Reactor::spawn("interop-push").unwrap();
    let (s, rx) = sink();
    r.connect(&ep(&endpoint), opts(SocketType::Push), s)
        .unwrap();
    let push = attached(&rx);
    assert_eq!(push.peer.socket_type, SocketType::Pull);
    assert_eq!(push.peer.version, (3, 1));

    let out = &push.out;
    thread::scope(|sc| {
        sc.spawn(|| {
            for seq in 0..COUNT {
                send(out, seq_msg(seq));
            }
            let mut msg = Multipart::new();
            msg.push(Bytes::from_static(b"a"));
            msg.push(Bytes::from(vec![1u8; 70_000]));
            send(out, msg);
        });
        for seq in 0..COUNT {
            let frame = pull.recv_bytes(0).expect("a message from tiermq");
            assert_eq!(u64::from_le_bytes(frame[..8].try_into().unwrap()), seq);
            assert!(!pull.get_rcvmore().unwrap());
        }
        let frames = pull.recv_multipart(0).unwrap();
        assert_eq!(frames, vec![b"a".to_vec(), vec![1u8; 70_000]]);
    });
}

#[test]
fn our_pull_receives_from_libzmq_push() {
    let r = Reactor::spawn("interop-pull").unwrap();
    let (s, rx) = sink();
    let (_, bound) = r
        .bind(&ep("tcp://127.0.0.1:0"), opts(SocketType::Pull), s)
        .unwrap();

    let ctx = zmq::Context::new();
    let push = zmq_socket(&ctx, zmq::PUSH);
    // The sending thread drops `push` when done; with LINGER 0 libzmq would
    // discard what it still queues and close the connection under us.
    push.set_linger(BOUND.as_millis() as i32).unwrap();
    push.connect(&bound).unwrap();
    let pull = attached(&rx);
    assert_eq!(pull.peer.socket_type, SocketType::Push);

    thread::scope(|sc| {
        sc.spawn(move || {
            for seq in 0..COUNT {
                push.send(&seq.to_le_bytes()[..], 0).unwrap();
            }
            push.send_multipart([&b"x"[..], &[2u8; 300][..]], 0)
                .unwrap();
        });
        for seq in 0..COUNT {
            assert_eq!(seq_of(&recv(&pull.inp)), seq);
        }
        let msg = recv(&pull.inp);
        assert_eq!(
            msg.frames(),
            [Bytes::from_static(b"x"), Bytes::from(vec![2u8; 300])]
        );
    });
}

#[test]
fn libzmq_identity_and_ipc_interop() {
    let path = std::env::temp_dir().join(format!("tiermq-zmq-{}.sock", std::process::id()));
    let endpoint = format!("ipc://{}", path.display());
    let r = Reactor::spawn("interop-router").unwrap();
    let (s, rx) = sink();
    r.bind(&ep(&endpoint), opts(SocketType::Router), s).unwrap();

    let ctx = zmq::Context::new();
    let dealer = zmq_socket(&ctx, zmq::DEALER);
    dealer.set_identity(b"worker-1").unwrap();
    dealer.connect(&endpoint).unwrap();
    let router = attached(&rx);
    assert_eq!(router.peer.socket_type, SocketType::Dealer);
    assert_eq!(router.peer.identity(), Bytes::from_static(b"worker-1"));

    dealer.send("ping", 0).unwrap();
    assert_eq!(recv(&router.inp).frames(), [Bytes::from_static(b"ping")]);
    send(&router.out, Multipart::single(Bytes::from_static(b"pong")));
    assert_eq!(dealer.recv_bytes(0).unwrap(), b"pong");
}

#[test]
fn libzmq_sees_our_heartbeats_answered() {
    // libzmq PINGs us and drops the connection if we stay silent; we PING it
    // too. Messages still flow after many heartbeat intervals.
    let r = Reactor::spawn("interop-hb").unwrap();
    let (s, rx) = sink();
    let mut o = opts(SocketType::Pull);
    o.wire.heartbeat_ivl = Some(std::time::Duration::from_millis(10));
    o.wire.heartbeat_timeout = Some(std::time::Duration::from_millis(500));
    let (_, bound) = r.bind(&ep("tcp://127.0.0.1:0"), o, s).unwrap();
    let ctx = zmq::Context::new();
    let push = zmq_socket(&ctx, zmq::PUSH);
    push.set_heartbeat_ivl(10).unwrap();
    push.set_heartbeat_timeout(500).unwrap();
    push.connect(&bound).unwrap();
    let pull = attached(&rx);
    for seq in 0..50u64 {
        push.send(&seq.to_le_bytes()[..], 0).unwrap();
        assert_eq!(seq_of(&recv(&pull.inp)), seq);
        // Let several PING/PONG rounds pass between messages.
        thread::sleep(std::time::Duration::from_millis(10));
    }
    // Still the first connection: nobody was declared dead.
    assert!(
        rx.try_iter()
            .all(|n| !matches!(n, tiermq_transport::Notification::Detached { .. }))
    );
}

#[test]
fn libzmq_subscriptions_arrive_as_typed_items() {
    // SUBSCRIBE and CANCEL (3.1 commands from libzmq 4.3) come up the in
    // pipe as typed items, not re-encoded as 0x01/0x00 messages.
    let r = Reactor::spawn("interop-xpub").unwrap();
    let (s, rx) = sink();
    let (_, bound) = r
        .bind(&ep("tcp://127.0.0.1:0"), opts(SocketType::XPub), s)
        .unwrap();
    let ctx = zmq::Context::new();
    let sub = zmq_socket(&ctx, zmq::SUB);
    sub.connect(&bound).unwrap();
    sub.set_subscribe(b"weather").unwrap();
    let xpub = attached(&rx);
    let next = || xpub.inp.recv_deadline(deadline()).expect("an item");
    assert_eq!(next(), Item::Subscribe(Bytes::from_static(b"weather")));
    sub.set_unsubscribe(b"weather").unwrap();
    assert_eq!(next(), Item::Cancel(Bytes::from_static(b"weather")));
    sub.set_subscribe(b"").unwrap();
    assert_eq!(next(), Item::Subscribe(Bytes::new()));
    send(&xpub.out, Multipart::single(Bytes::from_static(b"news")));
    assert_eq!(sub.recv_bytes(0).unwrap(), b"news");
}
