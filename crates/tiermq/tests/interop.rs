//! Interoperability with libzmq (through the `zmq` crate): tiermq PUSH to
//! libzmq PULL workers at two tiers, libzmq PUSH to tiermq PULL, multipart,
//! and a 4 MiB message, over tcp and ipc.

mod common;

use common::*;

fn libzmq_endpoint(kind: &str, name: &str) -> String {
    match kind {
        "tcp" => "tcp://127.0.0.1:*".to_owned(),
        _ => {
            let p = std::env::temp_dir()
                .join(format!("tiermq-interop-{}-{name}.ipc", std::process::id()));
            format!("ipc://{}", p.display())
        }
    }
}

fn libzmq_worker(ctx: &zmq::Context, kind: &str, name: &str) -> (zmq::Socket, String) {
    let s = ctx.socket(zmq::PULL).unwrap();
    s.set_rcvtimeo(WAIT_MS).unwrap();
    s.set_linger(0).unwrap();
    s.bind(&libzmq_endpoint(kind, name)).unwrap();
    let ep = s.get_last_endpoint().unwrap().unwrap();
    (s, ep)
}

fn libzmq_recv_seq(s: &zmq::Socket, n: usize) -> Vec<u64> {
    (0..n)
        .map(|_| unseq(&s.recv_bytes(0).expect("message within timeout")))
        .collect()
}

fn tiermq_push_to_two_libzmq_tiers(kind: &str) {
    let zctx = zmq::Context::new();
    let (primary, e1) = libzmq_worker(&zctx, kind, "tier1");
    let (backup, e2) = libzmq_worker(&zctx, kind, "tier2");

    let ctx = tiermq::Context::new();
    let push = ctx.socket(tiermq::PUSH).unwrap();
    push.set_sndprio(1).unwrap();
    push.connect(&e1).unwrap();
    push.set_sndprio(2).unwrap();
    push.connect(&e2).unwrap();
    eventually("both libzmq workers connected", || ready(&push) == 2);

    for n in 0..500 {
        push.send(seq(n), 0).unwrap();
    }
    assert_eq!(libzmq_recv_seq(&primary, 500), (0..500).collect::<Vec<_>>());
    assert!(backup.recv_bytes(zmq::DONTWAIT).is_err());

    drop(primary);
    eventually("failover to the libzmq backup", || {
        push.active_tier() == Some(2)
    });
    for n in 500..600 {
        push.send(seq(n), 0).unwrap();
    }
    assert_eq!(
        libzmq_recv_seq(&backup, 100),
        (500..600).collect::<Vec<_>>()
    );

    // Multipart and a 4 MiB message, whole.
    push.send_multipart(["a", "", "c"], 0).unwrap();
    let big: Vec<u8> = (0..4 << 20).map(|i: u32| i as u8).collect();
    push.send(&big, 0).unwrap();
    assert_eq!(
        backup.recv_multipart(0).unwrap(),
        vec![b"a".to_vec(), vec![], b"c".to_vec()]
    );
    assert_eq!(backup.recv_bytes(0).unwrap(), big);
}

#[test]
fn tiermq_push_to_libzmq_workers_tcp() {
    tiermq_push_to_two_libzmq_tiers("tcp");
}

#[test]
fn tiermq_push_to_libzmq_workers_ipc() {
    tiermq_push_to_two_libzmq_tiers("ipc");
}

fn libzmq_push_to_tiermq_pull(kind: &str) {
    let ctx = tiermq::Context::new();
    let pull = ctx.socket(tiermq::PULL).unwrap();
    pull.bind(&libzmq_endpoint(kind, "pull")).unwrap();
    let ep = pull.get_last_endpoint().unwrap().unwrap();

    let zctx = zmq::Context::new();
    let push = zctx.socket(zmq::PUSH).unwrap();
    push.connect(&ep).unwrap();
    for n in 0..1000 {
        push.send(seq(n), 0).unwrap();
    }
    push.send_multipart(["x", "y"], 0).unwrap();
    let big = vec![7u8; 4 << 20];
    push.send(&big, 0).unwrap();

    assert_eq!(recv_n(&pull, 1000), (0..1000).collect::<Vec<_>>());
    assert_eq!(
        pull.recv_multipart(0).unwrap(),
        vec![b"x".to_vec(), b"y".to_vec()]
    );
    let got = pull.recv_msg(0).unwrap();
    assert_eq!(got.len(), big.len());
    assert!(got.iter().all(|&b| b == 7));
    push.set_linger(0).unwrap();
}

#[test]
fn libzmq_push_to_tiermq_pull_tcp() {
    libzmq_push_to_tiermq_pull("tcp");
}

#[test]
fn libzmq_push_to_tiermq_pull_ipc() {
    libzmq_push_to_tiermq_pull("ipc");
}

#[test]
fn tiermq_push_binds_libzmq_pull_connects() {
    // tiermq binds, libzmq connects: the other direction of the handshake.
    let ctx = tiermq::Context::new();
    let push = ctx.socket(tiermq::PUSH).unwrap();
    push.bind("tcp://127.0.0.1:*").unwrap();
    let ep = push.get_last_endpoint().unwrap().unwrap();
    let zctx = zmq::Context::new();
    let pull = zctx.socket(zmq::PULL).unwrap();
    pull.set_rcvtimeo(WAIT_MS).unwrap();
    pull.set_linger(0).unwrap();
    pull.connect(&ep).unwrap();
    push.set_sndtimeo(WAIT_MS).unwrap();
    for n in 0..100 {
        push.send(seq(n), 0).unwrap();
    }
    assert_eq!(libzmq_recv_seq(&pull, 100), (0..100).collect::<Vec<_>>());
}
