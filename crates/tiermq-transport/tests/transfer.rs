//! Reactor-to-reactor PUSH -> PULL over real tcp and ipc sockets.

mod common;

use std::thread;

use common::*;
use tiermq_wire::{Bytes, Multipart, SocketType};

const COUNT: u64 = 100_000;

/// Sends `count` numbered messages on one thread and checks on this one
/// that every one arrives, in order.
fn stream_in_order(pair: &Pair, count: u64) {
    let out = &pair.push.out;
    thread::scope(|s| {
        s.spawn(|| {
            for seq in 0..count {
                send(out, seq_msg(seq));
            }
        });
        for seq in 0..count {
            assert_eq!(seq_of(&recv(&pair.pull.inp)), seq);
        }
    });
}

fn multipart_and_large(pair: &Pair) {
    let mut msg = Multipart::new();
    msg.push(Bytes::from_static(b"head"));
    msg.push(Bytes::new());
    msg.push(Bytes::from(vec![7u8; 300]));
    send(&pair.push.out, msg.clone());
    assert_eq!(recv(&pair.pull.inp), msg);

    let big: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let big = Multipart::single(Bytes::from(big));
    send(&pair.push.out, big.clone());
    send(&pair.push.out, seq_msg(1));
    assert_eq!(recv(&pair.pull.inp), big);
    assert_eq!(seq_of(&recv(&pair.pull.inp)), 1);
}

#[test]
fn tcp_moves_100k_messages_in_order() {
    let pair = push_pull(
        "tcp://127.0.0.1:0",
        opts(SocketType::Pull),
        opts(SocketType::Push),
    );
    assert!(pair.bound.starts_with("tcp://127.0.0.1:"));
    assert!(!pair.bound.ends_with(":0"));
    assert_eq!(pair.pull.peer.socket_type, SocketType::Push);
    assert_eq!(pair.push.peer.socket_type, SocketType::Pull);
    assert_eq!(pair.push.endpoint, pair.bound);
    stream_in_order(&pair, COUNT);
}

#[test]
fn tcp_carries_multipart_and_a_4_mib_message() {
    let pair = push_pull(
        "tcp://127.0.0.1:*",
        opts(SocketType::Pull),
        opts(SocketType::Push),
    );
    multipart_and_large(&pair);
}

#[test]
fn tcp_over_ipv6_loopback() {
    // Hosts without IPv6 can't run this; nothing to test there.
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        return;
    }
    let pair = push_pull(
        "tcp://[::1]:0",
        opts(SocketType::Pull),
        opts(SocketType::Push),
    );
    assert!(pair.bound.starts_with("tcp://[::1]:"), "{}", pair.bound);
    stream_in_order(&pair, 1000);
}

#[test]
fn wildcard_bind_reports_the_bound_port() {
    let a = tiermq_transport::Reactor::spawn("wild").unwrap();
    let (s, _rx) = sink();
    let (_, bound) = a.bind(&ep("tcp://*:*"), opts(SocketType::Pull), s).unwrap();
    let port: u16 = bound
        .strip_prefix("tcp://0.0.0.0:")
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(port, 0);
}

fn ipc_path(name: &str) -> String {
    let dir = std::env::temp_dir();
    format!(
        "ipc://{}/tiermq-test-{}-{name}.sock",
        dir.display(),
        std::process::id()
    )
}

#[test]
fn ipc_moves_100k_messages_in_order() {
    let path = ipc_path("stream");
    let pair = push_pull(&path, opts(SocketType::Pull), opts(SocketType::Push));
    assert_eq!(pair.bound, path);
    stream_in_order(&pair, COUNT);
}

#[test]
fn ipc_carries_multipart_and_a_4_mib_message() {
    let pair = push_pull(
        &ipc_path("large"),
        opts(SocketType::Pull),
        opts(SocketType::Push),
    );
    multipart_and_large(&pair);
}

#[test]
fn ipc_wildcard_binds_a_fresh_path() {
    let pair = push_pull("ipc://*", opts(SocketType::Pull), opts(SocketType::Push));
    assert!(pair.bound.starts_with("ipc://"));
    assert_ne!(pair.bound, "ipc://*");
    stream_in_order(&pair, 10);
}

#[test]
fn a_full_in_pipe_pauses_reading_and_loses_nothing() {
    let mut pull = opts(SocketType::Pull);
    pull.rcvhwm = 10;
    let mut push = opts(SocketType::Push);
    push.sndhwm = 10;
    let pair = push_pull("tcp://127.0.0.1:0", pull, push);
    let out = &pair.push.out;
    thread::scope(|s| {
        s.spawn(|| {
            for seq in 0..20_000 {
                send(out, seq_msg(seq));
            }
        });
        // Let the pipes and kernel buffers fill before reading anything.
        while !pair.pull.inp.stats().full {
            thread::yield_now();
        }
        for seq in 0..20_000 {
            assert_eq!(seq_of(&recv(&pair.pull.inp)), seq);
        }
    });
}

#[test]
fn both_directions_flow_on_one_connection() {
    // DEALER <-> ROUTER style bidirectional traffic over the same link.
    let pair = push_pull(
        "tcp://127.0.0.1:0",
        opts(SocketType::Dealer),
        opts(SocketType::Dealer),
    );
    for seq in 0..100 {
        send(&pair.push.out, seq_msg(seq));
        send(&pair.pull.out, seq_msg(seq + 1000));
    }
    for seq in 0..100 {
        assert_eq!(seq_of(&recv(&pair.pull.inp)), seq);
        assert_eq!(seq_of(&recv(&pair.push.inp)), seq + 1000);
    }
}

#[test]
fn host_names_resolve_and_every_address_is_tried() {
    // "localhost" may resolve to ::1 first while we listen on 127.0.0.1
    // only: the link then moves on to the next address on its retry.
    let a = tiermq_transport::Reactor::spawn("names-a").unwrap();
    let b = tiermq_transport::Reactor::spawn("names-b").unwrap();
    let (pull_sink, pull_rx) = sink();
    let (push_sink, push_rx) = sink();
    let (_, bound) = a
        .bind(&ep("tcp://127.0.0.1:0"), opts(SocketType::Pull), pull_sink)
        .unwrap();
    let port = bound.rsplit(':').next().unwrap();
    let named = format!("tcp://localhost:{port}");
    b.connect(&ep(&named), opts(SocketType::Push), push_sink)
        .unwrap();
    let push = attached(&push_rx);
    assert_eq!(push.endpoint, named);
    let pull = attached(&pull_rx);
    send(&push.out, seq_msg(5));
    assert_eq!(seq_of(&recv(&pull.inp)), 5);
}

#[test]
fn kernel_buffer_sizes_and_small_hwms_still_carry_everything() {
    let mut pull = opts(SocketType::Pull);
    pull.rcvbuf = Some(4096);
    pull.sndbuf = Some(4096);
    pull.rcvhwm = 1;
    let mut push = opts(SocketType::Push);
    push.sndbuf = Some(4096);
    push.rcvbuf = Some(4096);
    push.sndhwm = 1;
    let pair = push_pull("tcp://127.0.0.1:0", pull, push);
    stream_in_order(&pair, 5000);
    multipart_and_large(&pair);
}

#[cfg(target_os = "linux")]
#[test]
fn ipc_abstract_names_work_and_leave_no_file() {
    let name = format!("ipc://@tiermq-abstract-{}", std::process::id());
    let pair = push_pull(&name, opts(SocketType::Pull), opts(SocketType::Push));
    assert_eq!(pair.bound, name);
    stream_in_order(&pair, 100);
    assert!(!std::path::Path::new(&name["ipc://".len()..]).exists());
}

#[test]
fn one_listener_serves_many_peers_each_in_order() {
    const PEERS: u64 = 20;
    const EACH: u64 = 2000;
    let a = tiermq_transport::Reactor::spawn("many-a").unwrap();
    let b = tiermq_transport::Reactor::spawn("many-b").unwrap();
    let (pull_sink, pull_rx) = sink();
    let (_, bound) = a
        .bind(&ep("tcp://127.0.0.1:0"), opts(SocketType::Pull), pull_sink)
        .unwrap();
    let (push_sink, push_rx) = sink();
    for _ in 0..PEERS {
        b.connect(&ep(&bound), opts(SocketType::Push), push_sink.clone())
            .unwrap();
    }
    let pushes: Vec<_> = (0..PEERS).map(|_| attached(&push_rx)).collect();
    let pulls: Vec<_> = (0..PEERS).map(|_| attached(&pull_rx)).collect();
    thread::scope(|s| {
        for (peer, push) in pushes.iter().enumerate() {
            s.spawn(move || {
                for seq in 0..EACH {
                    send(&push.out, seq_msg(peer as u64 * EACH + seq));
                }
            });
        }
        // Each connection keeps its sender's order; which sender a pipe
        // belongs to shows in its first message.
        let mut seen = std::collections::HashSet::new();
        for pull in &pulls {
            let first = seq_of(&recv(&pull.inp));
            assert_eq!(first % EACH, 0);
            assert!(seen.insert(first / EACH));
            for seq in first + 1..first + EACH {
                assert_eq!(seq_of(&recv(&pull.inp)), seq);
            }
        }
    });
}

#[test]
fn ping_pong_never_loses_a_wake_up() {
    // Each message goes out only after the previous reply arrived, so both
    // reactors park between messages and every send must wake one: a lost
    // wake-up (the reactor parking just as work is posted) stalls the
    // exchange and `recv` fails at its deadline.
    let pair = push_pull(
        "tcp://127.0.0.1:0",
        opts(SocketType::Dealer),
        opts(SocketType::Dealer),
    );
    thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..5_000 {
                let msg = recv(&pair.pull.inp);
                send(&pair.pull.out, msg);
            }
        });
        for seq in 0..5_000 {
            send(&pair.push.out, seq_msg(seq));
            assert_eq!(seq_of(&recv(&pair.push.inp)), seq);
        }
    });
}
