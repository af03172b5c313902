//! Interop with real libzmq (the `zmq` crate): a blocking `TcpStream`
//! driven only by a wire `Session` talks to libzmq sockets.

use std::io::{ErrorKind, IoSlice, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tiermq_wire::*;

/// Generous bound on any wait, so a broken test fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(10);

/// One TCP connection driven by a Session.
struct Conn {
    stream: TcpStream,
    session: Session,
    buf: BytesMut,
    events: Vec<Event>,
}

impl Conn {
    fn connect(endpoint: &str, config: Config) -> Conn {
        let addr = endpoint.trim_start_matches("tcp://");
        Conn::over(TcpStream::connect(addr).expect("connect"), config)
    }

    fn over(stream: TcpStream, config: Config) -> Conn {
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            session: Session::new(config, Instant::now()),
            buf: BytesMut::new(),
            events: Vec::new(),
        }
    }

    /// Writes all queued output (blocking).
    fn flush(&mut self) {
        while self.session.has_output() {
            let mut slices = [IoSlice::new(&[]); 64];
            let n = self.session.chunks_vectored(&mut slices);
            let wrote = self.stream.write_vectored(&slices[..n]).expect("write");
            self.session.advance(wrote);
        }
    }

    /// One round: flush, read what is there (up to the read timeout), run
    /// timers, collect events. Panics on EOF or a session error.
    fn step(&mut self) {
        self.flush();
        self.buf.reserve(64 * 1024);
        let mut tmp = vec![0u8; 256 * 1024];
        match self.stream.read(&mut tmp) {
            Ok(0) => panic!("libzmq closed the connection"),
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                self.session
                    .handle_read(&mut self.buf, Instant::now())
                    .expect("handle_read");
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("read: {e}"),
        }
        self.session
            .handle_timeout(Instant::now())
            .expect("handle_timeout");
        self.events
            .extend(std::iter::from_fn(|| self.session.poll_event()));
        self.flush();
    }

    /// Steps until `done` says so.
    fn step_until(&mut self, what: &str, mut done: impl FnMut(&mut Conn) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.step();
        }
    }

    fn handshake(&mut self) {
        self.step_until("handshake", |c| c.session.is_ready());
        assert!(matches!(self.events.remove(0), Event::Ready));
    }

    /// Waits for `n` messages and returns them.
    fn messages(&mut self, n: usize) -> Vec<Vec<Vec<u8>>> {
        self.step_until("messages", |c| {
            c.events
                .iter()
                .filter(|e| matches!(e, Event::Message(_)))
                .count()
                >= n
        });
        let mut out = Vec::new();
        self.events.retain(|e| match e {
            Event::Message(m) => {
                out.push(m.frames().iter().map(|f| f.to_vec()).collect());
                false
            }
            _ => true,
        });
        out
    }
}

fn bind(ctx: &zmq::Context, kind: zmq::SocketType) -> (zmq::Socket, String) {
    bind_with(ctx, kind, |_| {})
}

/// Binds after `setup`: libzmq copies options into the listener at bind time.
fn bind_with(
    ctx: &zmq::Context,
    kind: zmq::SocketType,
    setup: impl FnOnce(&zmq::Socket),
) -> (zmq::Socket, String) {
    let s = ctx.socket(kind).unwrap();
    setup(&s);
    s.set_linger(0).unwrap();
    s.set_rcvtimeo(PATIENCE.as_millis() as i32).unwrap();
    s.set_sndtimeo(PATIENCE.as_millis() as i32).unwrap();
    s.bind("tcp://127.0.0.1:*").unwrap();
    let ep = s.get_last_endpoint().unwrap().unwrap();
    (s, ep)
}

/// The messages both directions exchange: single-part, multipart, 1 MiB.
fn test_messages() -> Vec<Vec<Vec<u8>>> {
    vec![
        vec![b"hello".to_vec()],
        vec![b"multi".to_vec(), Vec::new(), vec![7u8; 300]],
        vec![(0..1 << 20).map(|i| (i % 251) as u8).collect()],
    ]
}

fn multipart(frames: &[Vec<u8>]) -> Multipart {
    frames.iter().map(|f| Bytes::copy_from_slice(f)).collect()
}

#[test]
fn we_push_to_libzmq_pull() {
    let ctx = zmq::Context::new();
    let (pull, ep) = bind(&ctx, zmq::PULL);
    let mut conn = Conn::connect(&ep, Config::new(SocketType::Push));
    conn.handshake();
    assert_eq!(conn.session.peer().unwrap().socket_type, SocketType::Pull);
    assert_eq!(conn.session.peer().unwrap().version, (3, 1));
    for m in test_messages() {
        conn.session.send(multipart(&m));
        conn.flush();
        assert_eq!(pull.recv_multipart(0).unwrap(), m);
    }
}

#[test]
fn libzmq_push_to_our_pull() {
    let ctx = zmq::Context::new();
    let (push, ep) = bind(&ctx, zmq::PUSH);
    let mut conn = Conn::connect(&ep, Config::new(SocketType::Pull));
    conn.handshake();
    assert_eq!(conn.session.peer().unwrap().socket_type, SocketType::Push);
    for m in test_messages() {
        push.send_multipart(&m, 0).unwrap();
    }
    assert_eq!(conn.messages(3), test_messages());
}

#[test]
fn dealer_identity_and_replies_with_libzmq_router() {
    let ctx = zmq::Context::new();
    let (router, ep) = bind(&ctx, zmq::ROUTER);
    let mut cfg = Config::new(SocketType::Dealer);
    cfg.identity = Bytes::from_static(b"wire-1");
    let mut conn = Conn::connect(&ep, cfg);
    conn.handshake();
    // libzmq's ROUTER announces an empty Identity.
    let peer = conn.session.peer().unwrap();
    assert_eq!(peer.socket_type, SocketType::Router);
    assert_eq!(peer.metadata.get("Identity"), Some(&Bytes::new()));
    for m in test_messages() {
        conn.session.send(multipart(&m));
        conn.flush();
        let mut got = router.recv_multipart(0).unwrap();
        // ROUTER routes by the Identity we announced.
        assert_eq!(got.remove(0), b"wire-1");
        assert_eq!(got, m);
        let mut reply = vec![b"wire-1".to_vec()];
        reply.extend(m);
        router.send_multipart(reply, 0).unwrap();
    }
    assert_eq!(conn.messages(3), test_messages());
}

#[test]
fn answers_libzmq_heartbeats() {
    let ctx = zmq::Context::new();
    let (pull, ep) = bind_with(&ctx, zmq::PULL, |s| {
        s.set_heartbeat_ivl(50).unwrap();
        s.set_heartbeat_timeout(150).unwrap();
        s.set_heartbeat_ttl(1000).unwrap();
    });
    let mut conn = Conn::connect(&ep, Config::new(SocketType::Push));
    conn.handshake();
    // Stay silent except for PONGs, for at least four heartbeat timeouts
    // and until libzmq has pinged us three times.
    let start = Instant::now();
    let ping_count = |c: &Conn| {
        c.events
            .iter()
            .filter(|e| matches!(e, Event::Ping { .. }))
            .count()
    };
    conn.step_until("three PINGs over 600 ms", |c| {
        ping_count(c) >= 3 && start.elapsed() >= Duration::from_millis(600)
    });
    let pings: Vec<&Event> = conn
        .events
        .iter()
        .filter(|e| matches!(e, Event::Ping { .. }))
        .collect();
    assert!(matches!(pings[0], Event::Ping { ttl, .. } if *ttl == Duration::from_secs(1)));
    // The connection survived: a message still gets through.
    conn.session
        .send(Multipart::single(Bytes::from_static(b"alive")));
    conn.flush();
    assert_eq!(pull.recv_multipart(0).unwrap(), [b"alive".to_vec()]);
}

#[test]
fn our_pings_are_answered_by_libzmq() {
    let ctx = zmq::Context::new();
    let (_pull, ep) = bind(&ctx, zmq::PULL);
    let mut cfg = Config::new(SocketType::Push);
    cfg.heartbeat_ivl = Some(Duration::from_millis(30));
    let mut conn = Conn::connect(&ep, cfg);
    conn.handshake();
    conn.step_until("two PONGs", |c| {
        c.events
            .iter()
            .filter(|e| matches!(e, Event::Pong { .. }))
            .count()
            >= 2
    });
    // libzmq echoes our PINGs' contexts, so each PONG measures a round trip.
    for e in &conn.events {
        if let Event::Pong { context, rtt } = e {
            assert_eq!(context.len(), 8, "{e:?}");
            assert!(rtt.is_some_and(|rtt| rtt < Duration::from_secs(5)), "{e:?}");
        }
    }
}

#[test]
fn subscribe_to_libzmq_pub() {
    let ctx = zmq::Context::new();
    let (publ, ep) = bind(&ctx, zmq::PUB);
    let mut conn = Conn::connect(&ep, Config::new(SocketType::Sub));
    conn.session.send_subscribe(Bytes::from_static(b"a"));
    conn.handshake();
    // Subscriptions take effect asynchronously: publish until one arrives.
    conn.step_until("a published message", |c| {
        publ.send("b-skip", 0).unwrap();
        publ.send("a-keep", 0).unwrap();
        c.events.iter().any(|e| matches!(e, Event::Message(_)))
    });
    for m in conn.messages(1) {
        assert_eq!(m, [b"a-keep".to_vec()]);
    }
}

#[test]
fn libzmq_sub_subscribes_to_our_pub() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB).unwrap();
    sub.set_linger(0).unwrap();
    sub.set_rcvtimeo(PATIENCE.as_millis() as i32).unwrap();
    sub.set_subscribe(b"a").unwrap();
    sub.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    let (stream, _) = listener.accept().unwrap();
    let mut conn = Conn::over(stream, Config::new(SocketType::Pub));
    conn.handshake();
    assert_eq!(conn.session.peer().unwrap().socket_type, SocketType::Sub);
    conn.step_until("a subscription", |c| !c.events.is_empty());
    assert_eq!(conn.events, [Event::Subscribe(Bytes::from_static(b"a"))]);
    conn.session
        .send(Multipart::single(Bytes::from_static(b"a-news")));
    conn.flush();
    assert_eq!(sub.recv_bytes(0).unwrap(), b"a-news");
}
