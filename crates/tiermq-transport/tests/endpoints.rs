//! tcp endpoint forms over real sockets: source addresses and interfaces on
//! connect (`tcp://SOURCE;HOST:PORT`), interface names on bind, dual-stack
//! `*` with IPv6 on, and host names resolved at each attempt.

mod common;

use std::io;
use std::net::SocketAddr;

use common::*;
use tiermq_transport::{LinkOptions, MonitorEvent, Reactor};
use tiermq_wire::SocketType;

/// A PULL bound on `bind_ep` (reactor `a`) and a PUSH connected from
/// reactor `b` to `connect_ep(bound)`; checks a message goes through and
/// returns the peer address the PULL side saw.
fn accepted_peer(
    bind_ep: &str,
    pull_opts: LinkOptions,
    connect_ep: impl FnOnce(&str) -> String,
) -> SocketAddr {
    let a = Reactor::spawn("ep-a").unwrap();
    let b = Reactor::spawn("ep-b").unwrap();
    let (pull_sink, pull_rx) = sink();
    let (push_sink, push_rx) = sink();
    let (_, bound) = a.bind(&ep(bind_ep), pull_opts, pull_sink).unwrap();
    let target = connect_ep(&bound);
    b.connect(&ep(&target), opts(SocketType::Push), push_sink)
        .unwrap();
    let push = attached(&push_rx);
    assert_eq!(push.endpoint, ep(&target).to_string());
    let pull = attached(&pull_rx);
    send(&push.out, seq_msg(7));
    assert_eq!(seq_of(&recv(&pull.inp)), 7);
    pull.peer_addr.parse().expect("an ip:port peer address")
}

/// The port of a `tcp://host:port` last endpoint.
fn port_of(bound: &str) -> u16 {
    bound.rsplit(':').next().unwrap().parse().unwrap()
}

/// Fails (never skips) on a machine without an IPv6 loopback.
fn require_ipv6_loopback() {
    if let Err(e) = std::net::TcpListener::bind("[::1]:0") {
        panic!(
            "this test needs IPv6 on the loopback interface (::1), \
             which this machine lacks ({e}); check `ip -6 addr show lo`"
        );
    }
}

fn ipv6_opts(socket_type: SocketType) -> LinkOptions {
    let mut o = opts(socket_type);
    o.ipv6 = true;
    o
}

#[test]
fn connect_from_an_ephemeral_source_address() {
    let peer = accepted_peer("tcp://127.0.0.1:0", opts(SocketType::Pull), |bound| {
        format!("tcp://127.0.0.1:0;127.0.0.1:{}", port_of(bound))
    });
    assert_eq!(peer.ip().to_string(), "127.0.0.1");
    assert_ne!(peer.port(), 0);
}

/// Linux routes all of 127.0.0.0/8 to the loopback interface, so a second
/// loopback address shows that the source really is the one bound.
#[cfg(target_os = "linux")]
#[test]
fn connect_from_another_loopback_address() {
    let peer = accepted_peer("tcp://127.0.0.1:0", opts(SocketType::Pull), |bound| {
        format!("tcp://127.0.0.2:*;127.0.0.1:{}", port_of(bound))
    });
    assert_eq!(peer.ip().to_string(), "127.0.0.2");
}

#[test]
fn connect_from_an_interface() {
    let peer = accepted_peer("tcp://127.0.0.1:0", opts(SocketType::Pull), |bound| {
        format!("tcp://lo:0;127.0.0.1:{}", port_of(bound))
    });
    assert_eq!(peer.ip().to_string(), "127.0.0.1");
}

#[test]
fn connect_from_a_fixed_source_port() {
    // A port that was free a moment ago (the listener is dropped at once).
    let source_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let peer = accepted_peer("tcp://127.0.0.1:0", opts(SocketType::Pull), |bound| {
        format!("tcp://127.0.0.1:{source_port};127.0.0.1:{}", port_of(bound))
    });
    assert_eq!(peer, SocketAddr::from(([127, 0, 0, 1], source_port)));
}

#[test]
fn bind_to_an_interface_name() {
    let a = Reactor::spawn("nic-a").unwrap();
    let (s, _rx) = sink();
    let (_, bound) = a
        .bind(&ep("tcp://lo:0"), opts(SocketType::Pull), s)
        .unwrap();
    assert!(bound.starts_with("tcp://127.0.0.1:"), "{bound}");
    assert_ne!(port_of(&bound), 0);

    let peer = accepted_peer("tcp://lo:*", opts(SocketType::Pull), |bound| {
        bound.to_owned()
    });
    assert_eq!(peer.ip().to_string(), "127.0.0.1");
}

#[test]
fn with_ipv6_an_interface_name_binds_its_ipv6_address() {
    require_ipv6_loopback();
    let peer = accepted_peer("tcp://lo:0", ipv6_opts(SocketType::Pull), |bound| {
        assert!(bound.starts_with("tcp://[::1]:"), "{bound}");
        bound.to_owned()
    });
    assert_eq!(peer.ip().to_string(), "::1");
}

#[test]
fn an_unknown_bind_name_is_refused_without_an_os_error() {
    let a = Reactor::spawn("nic-none").unwrap();
    let (s, _rx) = sink();
    let err = a
        .bind(&ep("tcp://no-such-nic0:5555"), opts(SocketType::Pull), s)
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    // The tiermq crate maps exactly this (a name, no errno) to ENODEV.
    assert!(err.raw_os_error().is_none(), "{err:?}");
}

#[test]
fn a_bind_with_a_source_address_is_refused() {
    let a = Reactor::spawn("src-bind").unwrap();
    let (s, _rx) = sink();
    let err = a
        .bind(
            &ep("tcp://127.0.0.1:0;127.0.0.1:0"),
            opts(SocketType::Pull),
            s,
        )
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn wildcard_with_ipv6_accepts_both_families() {
    require_ipv6_loopback();
    let a = Reactor::spawn("dual-a").unwrap();
    let b = Reactor::spawn("dual-b").unwrap();
    let (pull_sink, pull_rx) = sink();
    let (_, bound) = a
        .bind(&ep("tcp://*:0"), ipv6_opts(SocketType::Pull), pull_sink)
        .unwrap();
    assert!(bound.starts_with("tcp://[::]:"), "{bound}");
    let port = port_of(&bound);

    let mut pushes = Vec::new();
    let mut peers = Vec::new();
    for (seq, host) in [(1, "127.0.0.1"), (2, "[::1]")] {
        let (push_sink, push_rx) = sink();
        // The connecting side's own IPV6 option does not matter for literals.
        b.connect(
            &ep(&format!("tcp://{host}:{port}")),
            opts(SocketType::Push),
            push_sink,
        )
        .unwrap();
        let push = attached(&push_rx);
        let pull = attached(&pull_rx);
        send(&push.out, seq_msg(seq));
        assert_eq!(seq_of(&recv(&pull.inp)), seq);
        peers.push(
            pull.peer_addr
                .parse::<SocketAddr>()
                .unwrap()
                .ip()
                .to_string(),
        );
        pushes.push((push, push_rx, pull));
    }
    // An IPv4 peer shows as 127.0.0.1, not as ::ffff:127.0.0.1.
    assert_eq!(peers, ["127.0.0.1", "::1"]);
}

#[test]
fn without_ipv6_the_wildcard_stays_ipv4() {
    let a = Reactor::spawn("v4-only").unwrap();
    let (s, _rx) = sink();
    let (_, bound) = a.bind(&ep("tcp://*:0"), opts(SocketType::Pull), s).unwrap();
    assert!(bound.starts_with("tcp://0.0.0.0:"), "{bound}");
}

#[test]
fn an_unresolvable_host_is_retried_not_refused() {
    let b = Reactor::spawn("unresolvable").unwrap();
    let (push_sink, push_rx) = sink();
    let link = b
        .connect(
            &ep("tcp://no-such-host.invalid:5555"),
            opts(SocketType::Push),
            push_sink,
        )
        .expect("a name is resolved at each attempt, not at connect");
    // Each failed lookup is a failed attempt, retried after the interval.
    for _ in 0..3 {
        monitor(&push_rx, "ConnectRetried", |e| match e {
            MonitorEvent::ConnectRetried {
                link: l, endpoint, ..
            } if l == link => Some(endpoint),
            _ => None,
        });
    }
}

#[test]
fn an_unknown_source_interface_is_retried() {
    let a = Reactor::spawn("src-none-a").unwrap();
    let b = Reactor::spawn("src-none-b").unwrap();
    let (pull_sink, _pull_rx) = sink();
    let (_, bound) = a
        .bind(&ep("tcp://127.0.0.1:0"), opts(SocketType::Pull), pull_sink)
        .unwrap();
    let (push_sink, push_rx) = sink();
    let target = format!("tcp://no-such-nic0:0;127.0.0.1:{}", port_of(&bound));
    b.connect(&ep(&target), opts(SocketType::Push), push_sink)
        .unwrap();
    for _ in 0..2 {
        monitor(&push_rx, "ConnectRetried", |e| {
            matches!(e, MonitorEvent::ConnectRetried { .. }).then_some(())
        });
    }
}

#[test]
fn a_host_name_is_resolved_when_the_attempt_is_made() {
    // Nothing listens yet: attempts to the name fail and are retried; once
    // a listener exists the next attempt, resolving the name again,
    // connects.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let b = Reactor::spawn("late-b").unwrap();
    let (push_sink, push_rx) = sink();
    b.connect(
        &ep(&format!("tcp://localhost:{port}")),
        opts(SocketType::Push),
        push_sink,
    )
    .unwrap();
    monitor(&push_rx, "ConnectRetried", |e| {
        matches!(e, MonitorEvent::ConnectRetried { .. }).then_some(())
    });
    let a = Reactor::spawn("late-a").unwrap();
    let (pull_sink, pull_rx) = sink();
    a.bind(
        &ep(&format!("tcp://127.0.0.1:{port}")),
        opts(SocketType::Pull),
        pull_sink,
    )
    .unwrap();
    let push = attached(&push_rx);
    let pull = attached(&pull_rx);
    send(&push.out, seq_msg(3));
    assert_eq!(seq_of(&recv(&pull.inp)), 3);
}
