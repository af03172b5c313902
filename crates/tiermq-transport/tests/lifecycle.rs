//! Connection lifecycle: reconnects and backoff, unbind and disconnect, bind
//! errors, bad input, heartbeats and the hand-back of unsent messages.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use tiermq_transport::{DetachReason, MonitorEvent, Notification, Reactor};
use tiermq_wire::{Bytes, Item, SocketType};

#[test]
fn connect_side_reconnects_when_the_listener_comes_back() {
    let a = Reactor::spawn("rc-a").unwrap();
    let b = Reactor::spawn("rc-b").unwrap();
    let (pull_sink, pull_rx) = sink();
    let (push_sink, push_rx) = sink();
    let (bind1, bound) = a
        .bind(
            &ep("tcp://127.0.0.1:0"),
            opts(SocketType::Pull),
            pull_sink.clone(),
        )
        .unwrap();
    b.connect(&ep(&bound), opts(SocketType::Push), push_sink)
        .unwrap();
    let push = attached(&push_rx);
    let pull = attached(&pull_rx);
    send(&push.out, seq_msg(1));
    assert_eq!(seq_of(&recv(&pull.inp)), 1);

    // The listener goes away: unbind also closes its accepted connection.
    a.close_link(bind1);
    let (conn, reason, _) = detached(&pull_rx);
    assert_eq!((conn, reason), (pull.conn, DetachReason::Closed));
    let (conn, reason, _) = detached(&push_rx);
    assert_eq!(conn, push.conn);
    assert!(
        matches!(reason, DetachReason::PeerClosed | DetachReason::Io(_)),
        "{reason:?}"
    );
    monitor(&push_rx, "ConnectRetried", |e| {
        matches!(e, MonitorEvent::ConnectRetried { .. }).then_some(())
    });

    // ... and comes back on the same port.
    let (_, again) = a
        .bind(&ep(&bound), opts(SocketType::Pull), pull_sink)
        .unwrap();
    assert_eq!(again, bound);
    let push2 = attached(&push_rx);
    let pull2 = attached(&pull_rx);
    assert_ne!(push2.conn, push.conn);
    send(&push2.out, seq_msg(2));
    assert_eq!(seq_of(&recv(&pull2.inp)), 2);
}

/// A tcp port with nothing listening on it.
fn dead_port_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("tcp://127.0.0.1:{port}")
}

#[test]
fn reconnect_backoff_doubles_up_to_the_maximum() {
    let b = Reactor::spawn("backoff").unwrap();
    let (s, rx) = sink();
    let mut o = opts(SocketType::Push);
    o.reconnect_ivl = Some(Duration::from_millis(5));
    o.reconnect_ivl_max = Some(Duration::from_millis(40));
    let link = b.connect(&ep(&dead_port_endpoint()), o, s).unwrap();
    let ivls: Vec<u64> = (0..6)
        .map(|_| {
            monitor(&rx, "ConnectRetried", |e| match e {
                MonitorEvent::ConnectRetried { ivl, link: l, .. } if l == link => {
                    Some(ivl.as_millis() as u64)
                }
                _ => None,
            })
        })
        .collect();
    assert_eq!(ivls, [5, 10, 20, 40, 40, 40]);
    b.close_link(link);
}

#[test]
fn disconnect_closes_the_connection_on_both_sides() {
    let pair = push_pull(
        "tcp://127.0.0.1:0",
        opts(SocketType::Pull),
        opts(SocketType::Push),
    );
    send(&pair.push.out, seq_msg(7));
    assert_eq!(seq_of(&recv(&pair.pull.inp)), 7);
    pair.b.close_link(pair.connect_link);
    let (conn, reason, _) = detached(&pair.push_rx);
    assert_eq!((conn, reason), (pair.push.conn, DetachReason::Closed));
    let (conn, reason, _) = detached(&pair.pull_rx);
    assert_eq!((conn, reason), (pair.pull.conn, DetachReason::PeerClosed));
    assert!(pair.pull.inp.is_closed());
    assert!(pair.push.out.is_closed());
}

#[test]
fn unbind_closes_accepted_connections_and_removes_the_ipc_path() {
    let path = std::env::temp_dir().join(format!("tiermq-unbind-{}.sock", std::process::id()));
    let endpoint = format!("ipc://{}", path.display());
    let pair = push_pull(&endpoint, opts(SocketType::Pull), opts(SocketType::Push));
    assert!(path.exists());
    pair.a.close_link(pair.bind_link);
    let (conn, reason, _) = detached(&pair.pull_rx);
    assert_eq!((conn, reason), (pair.pull.conn, DetachReason::Closed));
    monitor(&pair.pull_rx, "Closed", |e| match e {
        MonitorEvent::Closed { link, endpoint: ep } => {
            assert_eq!((link, ep), (pair.bind_link, endpoint.clone()));
            Some(())
        }
        _ => None,
    });
    assert!(!path.exists());
    detached(&pair.push_rx);
}

#[test]
fn bind_errors_reach_the_caller_and_the_monitor() {
    let a = Reactor::spawn("binderr").unwrap();
    let (s, rx) = sink();
    let (_, bound) = a
        .bind(&ep("tcp://127.0.0.1:0"), opts(SocketType::Pull), s.clone())
        .unwrap();
    let err = a
        .bind(&ep(&bound), opts(SocketType::Pull), s.clone())
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    monitor(&rx, "BindFailed", |e| match e {
        MonitorEvent::BindFailed { endpoint, error } => {
            assert_eq!(
                (endpoint, error),
                (bound.clone(), std::io::ErrorKind::AddrInUse)
            );
            Some(())
        }
        _ => None,
    });
    let err = a
        .bind(&ep("inproc://x"), opts(SocketType::Pull), s.clone())
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let err = a
        .connect(&ep("tcp://*:5555"), opts(SocketType::Push), s)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn ipc_bind_replaces_a_stale_path_but_not_a_live_one() {
    let path = std::env::temp_dir().join(format!("tiermq-stale-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let endpoint = format!("ipc://{}", path.display());
    // A listener that died without unlinking its path.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let a = Reactor::spawn("stale").unwrap();
    let (s, _rx) = sink();
    let (link, _) = a
        .bind(&ep(&endpoint), opts(SocketType::Pull), s.clone())
        .unwrap();
    let err = a
        .bind(&ep(&endpoint), opts(SocketType::Pull), s)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    a.close_link(link);
    a.shutdown();
    assert!(!path.exists());
}

/// Raw byte streams that are not ZMTP each end just their own connection,
/// and the listener keeps serving a good peer.
#[test]
fn bad_input_ends_only_that_connection() {
    let a = Reactor::spawn("bad").unwrap();
    let (s, rx) = sink();
    let (link, bound) = a
        .bind(&ep("tcp://127.0.0.1:0"), opts(SocketType::Pull), s)
        .unwrap();
    let addr = bound.strip_prefix("tcp://").unwrap().to_owned();

    let valid_greeting_start = [0xFFu8, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3];
    let inputs: [&[u8]; 3] = [
        &[0u8; 64],
        b"GET / HTTP/1.1\r\nHost: example\r\n\r\n",
        &valid_greeting_start,
    ];
    for input in inputs {
        let mut raw = TcpStream::connect(&addr).unwrap();
        raw.write_all(input).unwrap();
        // The truncated greeting ends with the peer hanging up mid-way.
        raw.shutdown(std::net::Shutdown::Write).unwrap();
        let reason = monitor(&rx, "HandshakeFailed", |e| match e {
            MonitorEvent::HandshakeFailed {
                link: l, reason, ..
            } if l == link => Some(reason),
            _ => None,
        });
        if input.len() == valid_greeting_start.len() {
            assert_eq!(reason, DetachReason::PeerClosed);
        } else {
            assert!(matches!(reason, DetachReason::Wire(_)), "{reason:?}");
        }
    }

    // A peer with the wrong socket type is refused with a wire error.
    let mut raw = TcpStream::connect(&addr).unwrap();
    let handshake = std::thread::spawn(move || {
        // Our session refuses the PULL too; it still sends its READY (and
        // an ERROR) before we hang up, so the listener sees the bad type.
        let mut session = tiermq_wire::Session::new(
            tiermq_wire::Config::new(SocketType::Pull),
            std::time::Instant::now(),
        );
        let mut buf = tiermq_wire::BytesMut::new();
        raw.set_read_timeout(Some(BOUND)).unwrap();
        loop {
            while session.has_output() {
                let mut iov = [std::io::IoSlice::new(&[]); 8];
                let n = session.chunks_vectored(&mut iov);
                let k = raw.write_vectored(&iov[..n]).unwrap();
                session.advance(k);
            }
            if session.error().is_some() {
                return true;
            }
            let mut chunk = [0u8; 4096];
            let n = std::io::Read::read(&mut raw, &mut chunk).unwrap();
            if n == 0 {
                return false;
            }
            buf.extend_from_slice(&chunk[..n]);
            let _ = session.handle_read(&mut buf, std::time::Instant::now());
        }
    });
    let reason = monitor(&rx, "HandshakeFailed", |e| match e {
        MonitorEvent::HandshakeFailed { reason, .. } => Some(reason),
        _ => None,
    });
    assert!(
        matches!(
            reason,
            DetachReason::Wire(tiermq_wire::Error::IncompatibleSocketType { .. })
        ),
        "{reason:?}"
    );
    assert!(handshake.join().unwrap());

    // The listener still serves a good peer.
    let b = Reactor::spawn("good").unwrap();
    let (push_sink, push_rx) = sink();
    b.connect(&ep(&bound), opts(SocketType::Push), push_sink)
        .unwrap();
    let push = attached(&push_rx);
    let pull = attached(&rx);
    send(&push.out, seq_msg(42));
    assert_eq!(seq_of(&recv(&pull.inp)), 42);
}

#[test]
fn handshake_times_out_on_a_silent_peer() {
    let a = Reactor::spawn("hs").unwrap();
    let (s, rx) = sink();
    let mut o = opts(SocketType::Pull);
    o.wire.handshake_timeout = Some(Duration::from_millis(50));
    let (_, bound) = a.bind(&ep("tcp://127.0.0.1:0"), o, s).unwrap();
    let _silent = TcpStream::connect(bound.strip_prefix("tcp://").unwrap()).unwrap();
    let reason = monitor(&rx, "HandshakeFailed", |e| match e {
        MonitorEvent::HandshakeFailed { reason, .. } => Some(reason),
        _ => None,
    });
    assert_eq!(
        reason,
        DetachReason::Wire(tiermq_wire::Error::HandshakeTimeout)
    );
}

/// A peer that completes the handshake and then goes silent (reads and
/// writes nothing) is declared dead once heartbeats are on.
#[test]
fn heartbeat_declares_a_silent_peer_dead() {
    let a = Reactor::spawn("hb").unwrap();
    let (s, rx) = sink();
    let mut o = opts(SocketType::Pull);
    o.wire.heartbeat_ivl = Some(Duration::from_millis(20));
    o.wire.heartbeat_timeout = Some(Duration::from_millis(100));
    let (_, bound) = a.bind(&ep("tcp://127.0.0.1:0"), o, s).unwrap();
    let mut raw = TcpStream::connect(bound.strip_prefix("tcp://").unwrap()).unwrap();
    let _session = raw_handshake(&mut raw, SocketType::Push);
    let pull = attached(&rx);
    let (conn, reason, _) = detached(&rx);
    assert_eq!(conn, pull.conn);
    assert!(reason.is_dead(), "{reason:?}");
    monitor(&rx, "Disconnected", |e| match e {
        MonitorEvent::Disconnected {
            conn: c, reason, ..
        } if c == conn => {
            assert!(reason.is_dead());
            Some(())
        }
        _ => None,
    });
}

/// With heartbeats on, each side measures its PINGs' round trips and
/// reports them for the attached connection.
#[test]
fn heartbeats_report_round_trip_times() {
    let heartbeats = |ty| {
        let mut o = opts(ty);
        o.wire.heartbeat_ivl = Some(Duration::from_millis(20));
        o
    };
    let pair = push_pull(
        "tcp://127.0.0.1:0",
        heartbeats(SocketType::Pull),
        heartbeats(SocketType::Push),
    );
    for (rx, conn) in [
        (&pair.pull_rx, pair.pull.conn),
        (&pair.push_rx, pair.push.conn),
    ] {
        let rtt = wait_for(rx, "RoundTrip", |n| match n {
            Notification::RoundTrip { conn: c, rtt } => {
                assert_eq!(c, conn);
                Some(rtt)
            }
            _ => None,
        });
        assert!(
            rtt > Duration::ZERO && rtt < Duration::from_secs(5),
            "{rtt:?}"
        );
    }
}

/// When the connection dies, the messages the reactor took but never began
/// to write come back in `unsent`, and the rest stay in the out pipe: with
/// what reached the kernel they are the whole sequence, in order.
#[test]
fn unsent_and_queued_messages_come_back_in_order() {
    const COUNT: u64 = 300;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let b = Reactor::spawn("unsent").unwrap();
    let (s, rx) = sink();
    let mut o = opts(SocketType::Push);
    o.sndbuf = Some(64 * 1024);
    o.reconnect_ivl = None;
    b.connect(&ep(&format!("tcp://{addr}")), o, s).unwrap();
    let (mut raw, _) = listener.accept().unwrap();
    socket2::SockRef::from(&raw)
        .set_recv_buffer_size(64 * 1024)
        .unwrap();
    let _session = raw_handshake(&mut raw, SocketType::Pull);
    let push = attached(&rx);
    let payload = Bytes::from(vec![9u8; 64 * 1024]);
    for seq in 0..COUNT {
        let mut msg = seq_msg(seq);
        msg.push(payload.clone());
        send(&push.out, msg);
    }
    // Wait until the reactor can write no more (the peer reads nothing).
    while push.out.stats().queued == COUNT as usize {
        std::thread::yield_now();
    }
    // Taking messages from the pipe comes before writing them: wait until
    // some bytes of a message did arrive, so that some were written.
    assert!(raw.peek(&mut [0u8; 1]).unwrap() > 0);
    // Hang up without reading: the kernel resets the connection.
    socket2::SockRef::from(&raw)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(raw);
    let (_, reason, unsent) = detached(&rx);
    assert!(
        matches!(reason, DetachReason::Io(_) | DetachReason::PeerClosed),
        "{reason:?}"
    );
    let mut rest: Vec<u64> = unsent.iter().map(seq_of).collect();
    rest.extend(
        push.out
            .reclaim_unsent()
            .into_iter()
            .filter_map(Item::into_message)
            .map(|m| seq_of(&m)),
    );
    assert!(!rest.is_empty(), "12 MiB cannot all fit in the kernel");
    assert_eq!(*rest.last().unwrap(), COUNT - 1);
    let first = rest[0];
    assert!(first > 0, "some messages were written");
    assert_eq!(rest, (first..COUNT).collect::<Vec<_>>());
}

/// A Sink that panics kills its reactor; callers get errors, not hangs.
#[test]
fn a_dead_reactor_answers_with_errors() {
    struct Panics;
    impl tiermq_transport::Sink for Panics {
        fn notify(&self, _: tiermq_transport::Notification) {
            panic!("sink bug (expected by this test)");
        }
    }
    let a = Reactor::spawn("doomed").unwrap();
    let s: std::sync::Arc<dyn tiermq_transport::Sink> = std::sync::Arc::new(Panics);
    let err = a
        .bind(&ep("tcp://127.0.0.1:0"), opts(SocketType::Pull), s.clone())
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    // The answer can come while the thread is still unwinding.
    let end = std::time::Instant::now() + BOUND;
    while !a.is_stopped() {
        assert!(
            std::time::Instant::now() < end,
            "the reactor thread never ended"
        );
        std::thread::yield_now();
    }
    let err = a
        .connect(&ep("tcp://127.0.0.1:9"), opts(SocketType::Push), s)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    a.shutdown();
}

#[test]
fn the_app_closing_both_pipes_closes_the_connection() {
    let pair = push_pull(
        "tcp://127.0.0.1:0",
        opts(SocketType::Pull),
        opts(SocketType::Push),
    );
    let Pair {
        a: _a,
        b: _b,
        pull,
        push,
        pull_rx,
        push_rx,
        ..
    } = pair;
    // Closing one direction leaves the connection up.
    drop(pull.out);
    send(&push.out, seq_msg(3));
    assert_eq!(seq_of(&recv(&pull.inp)), 3);
    drop(pull.inp);
    let (conn, reason, unsent) = detached(&pull_rx);
    assert_eq!((conn, reason), (pull.conn, DetachReason::Closed));
    assert!(unsent.is_empty());
    let (conn, reason, _) = detached(&push_rx);
    assert_eq!((conn, reason), (push.conn, DetachReason::PeerClosed));
}

#[test]
fn shutdown_detaches_every_connection() {
    let pair = push_pull(
        "tcp://127.0.0.1:0",
        opts(SocketType::Pull),
        opts(SocketType::Push),
    );
    let Pair {
        a,
        b: _b,
        pull,
        push,
        pull_rx,
        push_rx,
        bind_link,
        ..
    } = pair;
    a.shutdown();
    let (conn, reason, _) = detached(&pull_rx);
    assert_eq!((conn, reason), (pull.conn, DetachReason::Closed));
    monitor(&pull_rx, "Closed", |e| match e {
        MonitorEvent::Closed { link, .. } => (link == bind_link).then_some(()),
        _ => None,
    });
    let (conn, _, _) = detached(&push_rx);
    assert_eq!(conn, push.conn);
    // The push side keeps trying to reconnect.
    monitor(&push_rx, "ConnectRetried", |e| {
        matches!(e, MonitorEvent::ConnectRetried { .. }).then_some(())
    });
}

#[test]
fn monitor_reports_the_connection_story() {
    let a = Reactor::spawn("story-a").unwrap();
    let b = Reactor::spawn("story-b").unwrap();
    let (pull_sink, pull_rx) = sink();
    let (push_sink, push_rx) = sink();
    let (bind_link, bound) = a
        .bind(&ep("tcp://127.0.0.1:0"), opts(SocketType::Pull), pull_sink)
        .unwrap();
    let connect_link = b
        .connect(&ep(&bound), opts(SocketType::Push), push_sink)
        .unwrap();
    monitor(&pull_rx, "Listening", |e| match e {
        MonitorEvent::Listening { link, endpoint } => {
            assert_eq!((link, endpoint), (bind_link, bound.clone()));
            Some(())
        }
        _ => None,
    });
    let accepted = monitor(&pull_rx, "Accepted", |e| match e {
        MonitorEvent::Accepted {
            link,
            conn,
            peer_addr,
            ..
        } => {
            assert_eq!(link, bind_link);
            assert!(peer_addr.starts_with("127.0.0.1:"));
            Some(conn)
        }
        _ => None,
    });
    let connected = monitor(&push_rx, "Connected", |e| match e {
        MonitorEvent::Connected {
            link,
            conn,
            endpoint,
            peer_addr,
        } => {
            assert_eq!((link, &endpoint), (connect_link, &bound));
            assert_eq!(format!("tcp://{peer_addr}"), bound);
            Some(conn)
        }
        _ => None,
    });
    monitor(&push_rx, "HandshakeSucceeded", |e| match e {
        MonitorEvent::HandshakeSucceeded { conn, .. } => (conn == connected).then_some(()),
        _ => None,
    });
    let push = attached(&push_rx);
    assert_eq!(push.conn, connected);
    monitor(&pull_rx, "HandshakeSucceeded", |e| match e {
        MonitorEvent::HandshakeSucceeded { conn, .. } => (conn == accepted).then_some(()),
        _ => None,
    });
    // Hold the pipes: dropping both would close the connection from here.
    let _pull = attached(&pull_rx);
    b.close_link(connect_link);
    monitor(&pull_rx, "Disconnected", |e| match e {
        MonitorEvent::Disconnected { conn, reason, .. } if conn == accepted => {
            assert_eq!(reason, DetachReason::PeerClosed, "{reason}");
            Some(())
        }
        _ => None,
    });
}

#[test]
fn an_oversized_message_closes_that_connection_after_delivering_earlier_ones() {
    let mut pull = opts(SocketType::Pull);
    pull.wire.max_msg_size = Some(100);
    let pair = push_pull("tcp://127.0.0.1:0", pull, opts(SocketType::Push));
    send(&pair.push.out, seq_msg(1));
    let mut big = seq_msg(2);
    big.push(Bytes::from(vec![0u8; 1000]));
    send(&pair.push.out, big);
    assert_eq!(seq_of(&recv(&pair.pull.inp)), 1);
    let (conn, reason, _) = detached(&pair.pull_rx);
    assert_eq!(conn, pair.pull.conn);
    assert!(
        matches!(
            reason,
            DetachReason::Wire(tiermq_wire::Error::MessageTooLarge { limit: 100, .. })
        ),
        "{reason:?}"
    );
    // The sender reconnects and the link works again for small messages.
    let push2 = attached(&pair.push_rx);
    let pull2 = attached(&pair.pull_rx);
    send(&push2.out, seq_msg(3));
    assert_eq!(seq_of(&recv(&pull2.inp)), 3);
}

/// A reader whose application is slow stops reading (backpressure); its own
/// heartbeat must not then blame the peer's silence and kill a healthy
/// connection.
#[test]
fn a_paused_reader_does_not_declare_its_peer_dead() {
    let mut pull = opts(SocketType::Pull);
    pull.rcvhwm = 10;
    pull.wire.heartbeat_ivl = Some(Duration::from_millis(10));
    pull.wire.heartbeat_timeout = Some(Duration::from_millis(50));
    let pair = push_pull("tcp://127.0.0.1:0", pull, opts(SocketType::Push));
    for seq in 0..5000 {
        send(&pair.push.out, seq_msg(seq));
    }
    while !pair.pull.inp.stats().full {
        std::thread::yield_now();
    }
    // Many heartbeat timeouts pass while the application reads nothing.
    std::thread::sleep(Duration::from_millis(400));
    for seq in 0..5000 {
        assert_eq!(seq_of(&recv(&pair.pull.inp)), seq);
    }
    assert!(
        pair.pull_rx
            .try_iter()
            .all(|n| !matches!(n, tiermq_transport::Notification::Detached { .. })),
        "the connection was dropped"
    );
}

#[test]
fn a_last_message_and_the_peer_closing_are_both_seen() {
    // Reads stop early after a short read (edge-triggered readiness brings
    // the rest), so the end of stream must still be noticed whether it
    // arrives with the last message or after it.
    let a = Reactor::spawn("eof").unwrap();
    let (s, rx) = sink();
    let (_, bound) = a
        .bind(&ep("tcp://127.0.0.1:0"), opts(SocketType::Pull), s)
        .unwrap();
    let addr = bound.strip_prefix("tcp://").unwrap().to_owned();
    for round in 0..20u64 {
        let mut raw = TcpStream::connect(&addr).unwrap();
        let mut session = raw_handshake(&mut raw, SocketType::Push);
        let pull = attached(&rx);
        session.send(seq_msg(round));
        let mut iov = [std::io::IoSlice::new(&[]); 8];
        assert_eq!(session.chunks_vectored(&mut iov), 1);
        raw.write_all(&iov[0]).unwrap();
        if round % 2 == 1 {
            // Let the message be read on its own before the close comes.
            assert_eq!(seq_of(&recv(&pull.inp)), round);
        }
        raw.shutdown(std::net::Shutdown::Write).unwrap();
        let (conn, reason, _) = detached(&rx);
        assert_eq!((conn, reason), (pull.conn, DetachReason::PeerClosed));
        if round % 2 == 0 {
            assert_eq!(seq_of(&recv(&pull.inp)), round);
        }
    }
}
