//! Security end to end: CURVE and PLAIN between tiermq sockets and against
//! libzmq (pyzmq processes, libzmq 4.3 with CURVE), both directions, over
//! tcp and ipc; ZAP handlers in tiermq admitting and refusing; a wrong key
//! failing only its own connection; tiers under CURVE.
//!
//! Needs python3 with pyzmq (`pip install pyzmq`); `.ci/run` installs it.
//! A missing peer fails the test, saying what to install.

mod common;

use std::io::Write;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::libzmq_peer::start_python;
use common::*;
use tiermq::{Context, CurveKeyPair, Mechanism, MonitorEventKind, Socket, z85_decode, z85_encode};

// libzmq's test keys (tests/testutil_security.cpp).
const SERVER_SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
const SERVER_PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const CLIENT_SECRET: &str = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";
const CLIENT_PUBLIC: &str = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";

/// A pyzmq process (see `tests/peers/security_peer.py`).
struct Peer {
    child: Child,
    lines: Receiver<String>,
    /// The endpoint it bound or connected to.
    endpoint: String,
}

impl Peer {
    fn start(args: &[&str]) -> Peer {
        let (child, lines, first) = start_python("security_peer.py", args, true);
        let endpoint = first
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("peer said {first:?}"))
            .to_owned();
        Peer {
            child,
            lines,
            endpoint,
        }
    }

    /// A libzmq CURVE server PULL bound to `endpoint` with secret key
    /// `secret`, printing what it receives.
    fn curve_pull(endpoint: &str, secret: &str) -> Peer {
        Peer::start(&["pull", "bind", endpoint, "curve-server", secret])
    }

    /// A libzmq CURVE client PUSH, keys `secret` and `public`, trusting
    /// server key `server`, that connects to `endpoint` and sends
    /// [`numbered`]`(n)`.
    fn curve_push(n: usize, endpoint: &str, secret: &str, public: &str, server: &str) -> Peer {
        let n = n.to_string();
        Peer::start(&[
            "push",
            &n,
            "connect",
            endpoint,
            "curve-client",
            secret,
            public,
            server,
        ])
    }

    /// The next `n` lines it prints.
    fn lines(&self, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                self.lines
                    .recv_timeout(Duration::from_secs(10))
                    .unwrap_or_else(|_| panic!("peer printed only {i} of {n} lines"))
            })
            .collect()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(stdin) = self.child.stdin.as_mut() {
            let _ = stdin.write_all(b"");
        }
        self.kill();
    }
}

/// A ZAP handler (REP at `inproc://zeromq.zap.01`) that admits the
/// requests `allow` accepts and records every request's frames.
struct ZapHandler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    requests: Arc<Mutex<Vec<Vec<Vec<u8>>>>>,
}

impl ZapHandler {
    fn start(ctx: &Context, allow: fn(&[Vec<u8>]) -> bool) -> ZapHandler {
        ZapHandler::start_with(ctx, allow, "admin", &[])
    }

    /// As [`start`](Self::start), admitting with user id `user` and the
    /// ZAP metadata `metadata`.
    fn start_with(
        ctx: &Context,
        allow: fn(&[Vec<u8>]) -> bool,
        user: &str,
        metadata: &[(&str, &str)],
    ) -> ZapHandler {
        let user = user.as_bytes().to_vec();
        let metadata = encode_metadata(metadata);
        let rep = ctx.socket(tiermq::REP).unwrap();
        rep.bind("inproc://zeromq.zap.01").unwrap();
        rep.set_rcvtimeo(20).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (flag, log) = (Arc::clone(&stop), Arc::clone(&requests));
        let thread = thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let Ok(req) = rep.recv_multipart(0) else {
                    continue;
                };
                let ok = allow(&req);
                let (code, user, metadata): (&[u8], &[u8], &[u8]) = if ok {
                    (b"200", &user, &metadata)
                } else {
                    (b"400", b"", b"")
                };
                let reply: Vec<Vec<u8>> = vec![
                    req[0].clone(),
                    req[1].clone(),
                    code.to_vec(),
                    vec![],
                    user.to_vec(),
                    metadata.to_vec(),
                ];
                // Logged first: a test may look as soon as the peer is in.
                log.lock().unwrap().push(req);
                rep.send_multipart(reply, 0).unwrap();
            }
        });
        ZapHandler {
            stop,
            thread: Some(thread),
            requests,
        }
    }

    fn requests(&self) -> Vec<Vec<Vec<u8>>> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for ZapHandler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Properties in the ZMTP format a ZAP reply's metadata frame uses.
fn encode_metadata(props: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in props {
        out.push(u8::try_from(name.len()).unwrap());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&u32::try_from(value.len()).unwrap().to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// Admits the CURVE client with `CLIENT_PUBLIC` only.
fn allow_client_key(req: &[Vec<u8>]) -> bool {
    req.len() == 7 && req[5] == b"CURVE" && req[6] == z85_decode(CLIENT_PUBLIC).unwrap()
}

/// Admits PLAIN admin/secret only.
fn allow_admin(req: &[Vec<u8>]) -> bool {
    req.len() == 8 && req[5] == b"PLAIN" && req[6] == b"admin" && req[7] == b"secret"
}

fn curve_server(s: &Socket) {
    s.set_curve_server(true).unwrap();
    s.set_curve_secretkey(SERVER_SECRET.as_bytes()).unwrap();
}

/// A tiermq CURVE server PULL on `ctx` bound to `endpoint`, and the
/// endpoint it bound.
fn curve_pull(ctx: &Context, endpoint: &str) -> (Socket, String) {
    let pull = ctx.socket(tiermq::PULL).unwrap();
    curve_server(&pull);
    pull.bind(endpoint).unwrap();
    let bound = pull.get_last_endpoint().unwrap().unwrap();
    (pull, bound)
}

fn curve_client(s: &Socket, server_key: &str) {
    s.set_curve_serverkey(server_key.as_bytes()).unwrap();
    s.set_curve_publickey(CLIENT_PUBLIC.as_bytes()).unwrap();
    s.set_curve_secretkey(CLIENT_SECRET.as_bytes()).unwrap();
}

/// The reason of the next HandshakeFailed event (within a generous wait).
fn handshake_failure(events: &tiermq::Monitor) -> String {
    loop {
        let e = events
            .recv_timeout(Duration::from_secs(10))
            .expect("a HandshakeFailed event");
        if let MonitorEventKind::HandshakeFailed { reason } = e.kind {
            return reason;
        }
    }
}

/// tcp on loopback, and ipc in a fresh temporary directory.
fn transports(tag: &str) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("tiermq-sec-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    vec![
        "tcp://127.0.0.1:*".to_owned(),
        format!("ipc://{}/s.sock", dir.display()),
    ]
}

fn recv_text(s: &Socket) -> String {
    s.set_rcvtimeo(WAIT_MS).unwrap();
    s.recv_string(0).expect("a message").expect("UTF-8")
}

fn numbered(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| i.to_string())
        .chain(["END".to_owned()])
        .collect()
}

#[test]
fn options_follow_libzmq() {
    let ctx = Context::new();
    let s = ctx.socket(tiermq::PULL).unwrap();
    assert_eq!(s.get_mechanism().unwrap(), Mechanism::ZMQ_NULL);
    s.set_plain_username(Some("admin")).unwrap();
    assert_eq!(s.get_mechanism().unwrap(), Mechanism::ZMQ_PLAIN);
    assert_eq!(s.get_plain_username().unwrap(), Ok("admin".to_owned()));
    assert!(!s.is_plain_server().unwrap());
    s.set_curve_server(true).unwrap();
    assert_eq!(s.get_mechanism().unwrap(), Mechanism::ZMQ_CURVE);
    assert!(s.is_curve_server().unwrap());
    s.set_curve_secretkey(SERVER_SECRET.as_bytes()).unwrap();
    assert_eq!(
        z85_encode(&s.get_curve_secretkey().unwrap()).unwrap(),
        SERVER_SECRET
    );
    let pair = CurveKeyPair::new().unwrap();
    s.set_curve_publickey(&pair.public_key).unwrap();
    assert_eq!(s.get_curve_publickey().unwrap(), pair.public_key);
    assert_eq!(
        s.set_curve_serverkey(b"too short"),
        Err(tiermq::Error::EINVAL)
    );
    s.set_zap_domain("global").unwrap();
    assert_eq!(s.get_zap_domain().unwrap(), Ok("global".to_owned()));
    s.set_zap_enforce_domain(true).unwrap();
    assert!(s.is_zap_enforce_domain().unwrap());
    s.set_curve_server(false).unwrap();
    assert_eq!(s.get_mechanism().unwrap(), Mechanism::ZMQ_NULL);
}

/// tiermq to tiermq: CURVE with a ZAP handler that admits one client key;
/// a client with another key is refused and gets nothing through, and a
/// client with the wrong server key fails, while the good one goes on.
#[test]
fn tiermq_curve_with_zap_admits_refuses_and_isolates_failures() {
    for endpoint in transports("zap") {
        let ctx = Context::new();
        let zap = ZapHandler::start(&ctx, allow_client_key);
        let pull = ctx.socket(tiermq::PULL).unwrap();
        curve_server(&pull);
        pull.set_zap_domain("test").unwrap();
        let events = pull.event_monitor();
        // The zmq-style monitor reports the same failures with libzmq's numbers.
        let failures = tiermq::SocketEvent::HANDSHAKE_FAILED_AUTH.to_raw()
            | tiermq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL.to_raw();
        pull.monitor("inproc://zap-monitor", i32::from(failures))
            .unwrap();
        let zmq_events = ctx.socket(tiermq::PAIR).unwrap();
        zmq_events.set_rcvtimeo(10_000).unwrap();
        zmq_events.connect("inproc://zap-monitor").unwrap();
        pull.bind(&endpoint).unwrap();
        let bound = pull.get_last_endpoint().unwrap().unwrap();

        let clients = Context::new();
        let stranger = clients.socket(tiermq::PUSH).unwrap();
        let other = CurveKeyPair::new().unwrap();
        stranger
            .set_curve_serverkey(SERVER_PUBLIC.as_bytes())
            .unwrap();
        stranger.set_curve_secretkey(&other.secret_key).unwrap();
        stranger.set_curve_publickey(&other.public_key).unwrap();
        stranger.set_immediate(true).unwrap();
        stranger.connect(&bound).unwrap();
        let wrong_key = clients.socket(tiermq::PUSH).unwrap();
        curve_client(&wrong_key, CLIENT_PUBLIC);
        wrong_key.set_immediate(true).unwrap();
        wrong_key.connect(&bound).unwrap();
        let good = clients.socket(tiermq::PUSH).unwrap();
        curve_client(&good, SERVER_PUBLIC);
        good.connect(&bound).unwrap();

        for i in 0..50 {
            good.send(i.to_string().as_bytes(), 0).unwrap();
        }
        for i in 0..50 {
            assert_eq!(recv_text(&pull), i.to_string());
        }
        // The server reports both failures, each with its reason.
        let (mut refused, mut bad_box) = (false, false);
        while !(refused && bad_box) {
            let reason = handshake_failure(&events);
            refused |= reason.contains("authentication refused: 400");
            bad_box |= reason.contains("HELLO box");
        }
        // HANDSHAKE_FAILED_AUTH with the ZAP status; the wrong server key is
        // HANDSHAKE_FAILED_PROTOCOL with ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC.
        let (mut auth, mut crypto) = (false, false);
        while !(auth && crypto) {
            let frames = zmq_events.recv_multipart(0).expect("zmq-style events");
            let number = u16::from_le_bytes([frames[0][0], frames[0][1]]);
            let value = u32::from_le_bytes(frames[0][2..6].try_into().unwrap());
            match tiermq::SocketEvent::from_raw(number) {
                tiermq::SocketEvent::HANDSHAKE_FAILED_AUTH => auth |= value == 400,
                tiermq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL => crypto |= value == 0x1100_0001,
                other => panic!("unexpected {other:?}"),
            }
        }
        // Neither failed client ever became ready, so they could not send.
        assert_eq!(ready(&stranger), 0);
        assert_eq!(ready(&wrong_key), 0);
        assert_eq!(
            stranger.send("x", tiermq::DONTWAIT),
            Err(tiermq::Error::EAGAIN)
        );

        // RFC 27 requests: version, id, domain, address, identity, mechanism, key.
        let reqs = zap.requests();
        assert!(reqs.len() >= 2, "{} requests", reqs.len());
        for r in &reqs {
            assert_eq!(r[0], b"1.0");
            assert_eq!(r[2], b"test");
            assert_eq!(r[5], b"CURVE");
            assert_eq!(r[6].len(), 32);
        }
        assert!(reqs.iter().any(|r| r[6] == other.public_key));
    }
}

#[test]
fn tiermq_plain_needs_a_handler_and_checks_passwords() {
    let ctx = Context::new();
    let pull = ctx.socket(tiermq::PULL).unwrap();
    pull.set_plain_server(true).unwrap();
    let events = pull.event_monitor();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let bound = pull.get_last_endpoint().unwrap().unwrap();
    let push = ctx.socket(tiermq::PUSH).unwrap();
    push.set_plain_username(Some("admin")).unwrap();
    push.set_plain_password(Some("secret")).unwrap();
    push.set_immediate(true).unwrap();
    push.connect(&bound).unwrap();
    // No handler: refused, as libzmq 4.3 refuses.
    let reason = handshake_failure(&events);
    assert!(reason.contains("ZAP"), "{reason}");
    assert_eq!(ready(&push), 0);
    // With a handler, the right password gets in (the client reconnects).
    let _zap = ZapHandler::start(&ctx, allow_admin);
    eventually("PLAIN client admitted", || ready(&push) == 1);
    push.send("hello", 0).unwrap();
    assert_eq!(recv_text(&pull), "hello");
}

/// libzmq CURVE server, tiermq client; then tiermq server, libzmq client;
/// over tcp and ipc.
#[test]
fn curve_interop_with_libzmq_both_directions() {
    for endpoint in transports("curve") {
        // tiermq client -> libzmq server.
        let server = Peer::curve_pull(&endpoint, SERVER_SECRET);
        let ctx = Context::new();
        let push = ctx.socket(tiermq::PUSH).unwrap();
        curve_client(&push, SERVER_PUBLIC);
        push.connect(&server.endpoint).unwrap();
        for m in numbered(200) {
            push.send(m.as_bytes(), 0).unwrap();
        }
        assert_eq!(server.lines(201), numbered(200));
        drop(server);

        // libzmq client -> tiermq server, with a large message too.
        let (pull, bound) = curve_pull(&ctx, &endpoint);
        let _client = Peer::curve_push(200, &bound, CLIENT_SECRET, CLIENT_PUBLIC, SERVER_PUBLIC);
        for m in numbered(200) {
            assert_eq!(recv_text(&pull), m);
        }
        pull.unbind(&bound).unwrap();
    }
}

#[test]
fn plain_interop_with_libzmq_both_directions() {
    for endpoint in transports("plain") {
        // tiermq client -> libzmq server (its ZAP handler checks the password).
        let server = Peer::start(&["pull", "bind", &endpoint, "plain-server", "admin", "secret"]);
        let ctx = Context::new();
        let push = ctx.socket(tiermq::PUSH).unwrap();
        push.set_plain_username(Some("admin")).unwrap();
        push.set_plain_password(Some("secret")).unwrap();
        push.connect(&server.endpoint).unwrap();
        for m in numbered(100) {
            push.send(m.as_bytes(), 0).unwrap();
        }
        assert_eq!(server.lines(101), numbered(100));
        drop(server);

        // libzmq client -> tiermq server with a tiermq ZAP handler.
        let zap = ZapHandler::start(&ctx, allow_admin);
        let pull = ctx.socket(tiermq::PULL).unwrap();
        pull.set_plain_server(true).unwrap();
        pull.bind(&endpoint).unwrap();
        let bound = pull.get_last_endpoint().unwrap().unwrap();
        let _client = Peer::start(&[
            "push",
            "100",
            "connect",
            &bound,
            "plain-client",
            "admin",
            "secret",
        ]);
        for m in numbered(100) {
            assert_eq!(recv_text(&pull), m);
        }
        let reqs = zap.requests();
        assert_eq!(reqs[0][5], b"PLAIN");
        assert_eq!(&reqs[0][6..], [b"admin".to_vec(), b"secret".to_vec()]);
        pull.unbind(&bound).unwrap();
    }
}

/// A tiermq ZAP handler refuses a libzmq client with an unknown key and
/// admits the known one; a libzmq client with the wrong server key fails
/// alone. The server keeps serving the good client throughout.
#[test]
fn tiermq_zap_refuses_libzmq_strangers_and_wrong_keys_fail_alone() {
    let ctx = Context::new();
    let _zap = ZapHandler::start(&ctx, allow_client_key);
    let pull = ctx.socket(tiermq::PULL).unwrap();
    curve_server(&pull);
    let events = pull.event_monitor();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let bound = pull.get_last_endpoint().unwrap().unwrap();
    let stranger = CurveKeyPair::new().unwrap();
    let (s_secret, s_public) = (
        z85_encode(&stranger.secret_key).unwrap(),
        z85_encode(&stranger.public_key).unwrap(),
    );
    let _refused = Peer::curve_push(5, &bound, &s_secret, &s_public, SERVER_PUBLIC);
    let _wrong = Peer::curve_push(5, &bound, CLIENT_SECRET, CLIENT_PUBLIC, CLIENT_PUBLIC);
    let mut failures = 0;
    while failures < 2 {
        handshake_failure(&events);
        failures += 1;
    }
    let _good = Peer::curve_push(50, &bound, CLIENT_SECRET, CLIENT_PUBLIC, SERVER_PUBLIC);
    for m in numbered(50) {
        assert_eq!(recv_text(&pull), m);
    }
    pull.set_rcvtimeo(200).unwrap();
    assert_eq!(
        pull.recv_bytes(0),
        Err(tiermq::Error::EAGAIN),
        "a refused client got through"
    );
}

/// A tiermq client with the wrong server key cannot reach a libzmq server;
/// the same socket's other, correct endpoint works.
#[test]
fn tiermq_client_with_wrong_server_key_fails_only_that_connection() {
    let ok = Peer::curve_pull("tcp://127.0.0.1:*", SERVER_SECRET);
    let other = CurveKeyPair::new().unwrap();
    let other_secret = z85_encode(&other.secret_key).unwrap();
    let bad = Peer::curve_pull("tcp://127.0.0.1:*", &other_secret);
    let ctx = Context::new();
    let push = ctx.socket(tiermq::PUSH).unwrap();
    curve_client(&push, SERVER_PUBLIC);
    push.connect(&bad.endpoint).unwrap();
    push.connect(&ok.endpoint).unwrap();
    for m in numbered(100) {
        push.send(m.as_bytes(), 0).unwrap();
    }
    assert_eq!(ok.lines(101), numbered(100));
    assert!(
        bad.lines.try_recv().is_err(),
        "the wrong server got a message"
    );
}

/// With tiers: a primary that refuses us (ZAP 400) never becomes ready, so
/// every message goes to the second tier.
#[test]
fn a_peer_failing_authentication_leaves_traffic_to_the_next_tier() {
    let refusing = Context::new();
    let _zap = ZapHandler::start(&refusing, |_| false);
    let (_primary, e1) = curve_pull(&refusing, "tcp://127.0.0.1:*");
    let open = Context::new();
    let (backup, e2) = curve_pull(&open, "tcp://127.0.0.1:*");

    let ctx = Context::new();
    let push = ctx.socket(tiermq::PUSH).unwrap();
    curve_client(&push, SERVER_PUBLIC);
    push.set_sndprio(1).unwrap();
    push.connect(&e1).unwrap();
    push.set_sndprio(2).unwrap();
    push.connect(&e2).unwrap();
    for i in 0..100u64 {
        push.send(seq(i), 0).unwrap();
    }
    let got = recv_n(&backup, 100);
    assert_exactly_once(100, &[&got]);
    assert_eq!(sent_to(&push, &e1), 0);
    assert!(
        push.peers()
            .iter()
            .all(|p| p.endpoint != e1 || p.state != tiermq::PeerState::Ready)
    );
}

/// A tier switch under CURVE loses nothing: a PUSH feeds a libzmq CURVE
/// primary, which is killed; once the PUSH sees it gone, everything goes
/// to the libzmq CURVE backup, and the two together got every message once.
#[test]
fn tier_switch_under_curve_loses_nothing() {
    let mut primary = Peer::curve_pull("tcp://127.0.0.1:*", SERVER_SECRET);
    let backup = Peer::curve_pull("tcp://127.0.0.1:*", SERVER_SECRET);
    let ctx = Context::new();
    let push = ctx.socket(tiermq::PUSH).unwrap();
    curve_client(&push, SERVER_PUBLIC);
    push.set_sndprio(1).unwrap();
    push.connect(&primary.endpoint).unwrap();
    push.set_sndprio(2).unwrap();
    push.connect(&backup.endpoint).unwrap();
    eventually("both CURVE peers ready", || ready(&push) == 2);

    for i in 0..100 {
        push.send(i.to_string().as_bytes(), 0).unwrap();
    }
    let first: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    assert_eq!(
        primary.lines(100),
        first,
        "the primary tier takes everything"
    );
    let endpoint = primary.endpoint.clone();
    primary.kill();
    eventually("the primary gone", || {
        push.peers()
            .iter()
            .all(|p| p.endpoint != endpoint || p.state != tiermq::PeerState::Ready)
    });
    for i in 100..300 {
        push.send(i.to_string().as_bytes(), 0).unwrap();
    }
    push.send("END", 0).unwrap();
    let rest: Vec<String> = (100..300)
        .map(|i| i.to_string())
        .chain(["END".into()])
        .collect();
    assert_eq!(
        backup.lines(201),
        rest,
        "the backup tier takes the rest, in order"
    );
}

/// Heartbeats travel inside CURVE MESSAGEs both ways: libzmq answers our
/// encrypted PINGs, so a quiet peer is never declared dead.
#[test]
fn curve_heartbeats_with_libzmq() {
    let server = Peer::curve_pull("tcp://127.0.0.1:*", SERVER_SECRET);
    let ctx = Context::new();
    let push = ctx.socket(tiermq::PUSH).unwrap();
    curve_client(&push, SERVER_PUBLIC);
    push.set_heartbeat_ivl(20).unwrap();
    push.set_heartbeat_timeout(200).unwrap();
    let events = push.event_monitor();
    push.connect(&server.endpoint).unwrap();
    eventually("CURVE peer ready", || ready(&push) == 1);
    // Many heartbeat intervals of silence but for PINGs and PONGs.
    thread::sleep(Duration::from_millis(600));
    for e in events.try_iter() {
        assert!(
            !matches!(
                e.kind,
                MonitorEventKind::Dead | MonitorEventKind::Disconnected { .. }
            ),
            "{e:?}"
        );
    }
    for m in numbered(10) {
        push.send(m.as_bytes(), 0).unwrap();
    }
    assert_eq!(server.lines(11), numbered(10));
}

/// NULL sockets with a ZAP domain ask the handler too (libzmq 4.3), and
/// ZAP_ENFORCE_DOMAIN refuses CURVE clients when no handler is bound.
#[test]
fn null_with_a_domain_asks_zap_and_enforce_domain_refuses_without_handler() {
    let ctx = Context::new();
    let zap = ZapHandler::start(&ctx, |req| req[5] == b"NULL" && req[2] == b"inside");
    let pull = ctx.socket(tiermq::PULL).unwrap();
    pull.set_zap_domain("inside").unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let bound = pull.get_last_endpoint().unwrap().unwrap();
    let other = Context::new();
    let push = other.socket(tiermq::PUSH).unwrap();
    push.connect(&bound).unwrap();
    push.send("null", 0).unwrap();
    assert_eq!(recv_text(&pull), "null");
    assert_eq!(zap.requests()[0][5], b"NULL");

    let lonely = Context::new();
    let strict = lonely.socket(tiermq::PULL).unwrap();
    curve_server(&strict);
    strict.set_zap_enforce_domain(true).unwrap();
    let events = strict.event_monitor();
    strict.bind("tcp://127.0.0.1:*").unwrap();
    let bound = strict.get_last_endpoint().unwrap().unwrap();
    let client = other.socket(tiermq::PUSH).unwrap();
    curve_client(&client, SERVER_PUBLIC);
    client.set_immediate(true).unwrap();
    client.connect(&bound).unwrap();
    let reason = handshake_failure(&events);
    assert!(reason.contains("500"), "{reason}");
    assert_eq!(ready(&client), 0);
}

/// Asserts what libzmq's `zmq_msg_gets` would give for a message from a
/// CURVE client that a ZAP handler admitted as "alice" with `Hello: World`.
fn assert_alice_properties(m: &tiermq::Message, endpoint: &str, peer_type: &str) {
    assert_eq!(m.gets("User-Id"), Some("alice"));
    assert_eq!(m.gets("Hello"), Some("World"));
    // Names are matched ignoring case, as RFC 37 asks.
    assert_eq!(m.gets("hello"), Some("World"));
    assert_eq!(m.gets("Socket-Type"), Some(peer_type));
    assert_eq!(m.gets("No-Such-Property"), None);
    let address = m.gets("Peer-Address").expect("Peer-Address");
    if endpoint.starts_with("tcp://") {
        // The IP alone, as libzmq gives it.
        assert_eq!(
            address.parse::<std::net::IpAddr>().ok(),
            Some([127, 0, 0, 1].into())
        );
    } else {
        // The peer process's credentials, as libzmq gives them.
        let fields: Vec<&str> = address.split(':').collect();
        assert_eq!(fields.len(), 4, "{address}");
        assert_eq!(fields[0], "localhost", "{address}");
        assert!(
            fields[1..].iter().all(|f| f.parse::<u32>().is_ok()),
            "{address}"
        );
    }
}

#[test]
fn received_messages_answer_the_zap_user_id_and_metadata() {
    for endpoint in transports("props") {
        let ctx = Context::new();
        let _zap = ZapHandler::start_with(&ctx, allow_client_key, "alice", &[("Hello", "World")]);
        let (pull, bound) = curve_pull(&ctx, &endpoint);
        let push = ctx.socket(tiermq::PUSH).unwrap();
        curve_client(&push, SERVER_PUBLIC);
        push.connect(&bound).unwrap();
        push.send_multipart(["one", "two"], 0).unwrap();
        push.send("three", 0).unwrap();

        pull.set_rcvtimeo(WAIT_MS).unwrap();
        let first = pull.recv_msg(0).unwrap();
        assert_eq!(&first[..], b"one");
        assert_alice_properties(&first, &endpoint, "PUSH");
        // Every frame of the message answers, sharing one record.
        let mut second = tiermq::Message::new();
        pull.recv(&mut second, 0).unwrap();
        assert_eq!(&second[..], b"two");
        assert_alice_properties(&second, &endpoint, "PUSH");
        assert!(Arc::ptr_eq(
            first.properties().unwrap(),
            second.properties().unwrap()
        ));
        // recv_bytes is unchanged.
        assert_eq!(pull.recv_bytes(0).unwrap(), b"three");

        // `peers()` shows the same.
        let peers = pull.peers();
        let peer = peers
            .iter()
            .find(|p| p.peer_type == Some(tiermq::PUSH))
            .expect("the client");
        assert_eq!(peer.user_id.as_deref(), Some(&b"alice"[..]));
        let props = peer.properties.as_ref().expect("properties");
        assert!(Arc::ptr_eq(props, first.properties().unwrap()));
        assert_eq!(
            props.zap_metadata().collect::<Vec<_>>(),
            [("Hello", &b"World"[..])]
        );
        if endpoint.starts_with("ipc://") {
            // The client is this process: libzmq's form of its credentials.
            let pid = std::process::id().to_string();
            let address = props.peer_address().expect("Peer-Address");
            assert!(address.starts_with("localhost:"), "{address}");
            assert_eq!(address.rsplit(':').next(), Some(pid.as_str()));
        }
    }
}

#[test]
fn without_zap_there_is_no_user_id_and_inproc_has_no_properties() {
    let ctx = Context::new();
    for endpoint in ["tcp://127.0.0.1:*", "inproc://props"] {
        let router = ctx.socket(tiermq::ROUTER).unwrap();
        router.bind(endpoint).unwrap();
        let bound = router.get_last_endpoint().unwrap().unwrap();
        let dealer = ctx.socket(tiermq::DEALER).unwrap();
        dealer.set_identity(b"bob").unwrap();
        dealer.set_rcvtimeo(WAIT_MS).unwrap();
        dealer.connect(&bound).unwrap();
        dealer.send("hi", 0).unwrap();
        router.set_rcvtimeo(WAIT_MS).unwrap();
        let id = router.recv_msg(0).unwrap();
        let body = router.recv_msg(0).unwrap();
        assert_eq!((&id[..], &body[..]), (&b"bob"[..], &b"hi"[..]));
        let peers = router.peers();
        assert_eq!(peers.len(), 1);
        assert_eq!(peers[0].user_id, None);
        if endpoint.starts_with("inproc") {
            // libzmq gives inproc messages no properties at all.
            for m in [&id, &body] {
                assert_eq!(m.gets("Socket-Type"), None);
                assert_eq!(m.gets("Identity"), None);
                assert!(m.properties().is_none());
            }
            assert!(peers[0].properties.is_none());
        } else {
            for m in [&id, &body] {
                assert_eq!(m.gets("Socket-Type"), Some("DEALER"));
                assert_eq!(m.gets("Identity"), Some("bob"));
                assert_eq!(m.gets("Peer-Address"), Some("127.0.0.1"));
                assert_eq!(m.gets("User-Id"), None);
            }
            assert!(peers[0].properties.is_some());
        }
    }
}

#[test]
fn libzmq_curve_client_messages_answer_the_zap_user_id_and_metadata() {
    for endpoint in transports("props-libzmq") {
        let ctx = Context::new();
        let _zap = ZapHandler::start_with(&ctx, allow_client_key, "alice", &[("Hello", "World")]);
        let (pull, bound) = curve_pull(&ctx, &endpoint);
        let _client = Peer::curve_push(3, &bound, CLIENT_SECRET, CLIENT_PUBLIC, SERVER_PUBLIC);
        pull.set_rcvtimeo(WAIT_MS).unwrap();
        for expected in numbered(3) {
            let m = pull.recv_msg(0).unwrap();
            assert_eq!(m.as_str(), Some(expected.as_str()));
            assert_alice_properties(&m, &endpoint, "PUSH");
        }
        let peers = pull.peers();
        assert!(
            peers
                .iter()
                .any(|p| p.user_id.as_deref() == Some(&b"alice"[..])),
            "{peers:?}"
        );
    }
}
