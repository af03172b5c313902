//! The zmq-style monitor, `socket.monitor(endpoint, events)`: libzmq's
//! event numbers and two-frame format, read through a tiermq PAIR, with
//! the same scenarios run against libzmq (the `zmq` crate) to compare.

mod common;

use common::WAIT_MS;
use tiermq::{Context, DONTWAIT, Error, PAIR, SocketEvent, SocketType};

/// One event as read from the monitor's PAIR: number, value, endpoint.
type Event = (u16, u32, String);

fn parse(frames: &[Vec<u8>]) -> Event {
    assert_eq!(frames.len(), 2, "two frames per event: {frames:?}");
    let f = &frames[0];
    assert_eq!(f.len(), 6, "6-byte first frame");
    (
        u16::from_le_bytes([f[0], f[1]]),
        u32::from_le_bytes([f[2], f[3], f[4], f[5]]),
        String::from_utf8(frames[1].clone()).unwrap(),
    )
}

/// Parses events from `recv` until one numbered `until` (inclusive).
fn events_until(mut recv: impl FnMut() -> Vec<Vec<u8>>, until: SocketEvent) -> Vec<Event> {
    let mut got = Vec::new();
    loop {
        let e = parse(&recv());
        let done = e.0 == until.to_raw();
        got.push(e);
        if done {
            return got;
        }
    }
}

/// Reads tiermq monitor events until one numbered `until` (inclusive).
fn read_until(reader: &tiermq::Socket, until: SocketEvent) -> Vec<Event> {
    events_until(
        || reader.recv_multipart(0).expect("event within the timeout"),
        until,
    )
}

/// Reads libzmq monitor events until one numbered `until` (inclusive).
fn zmq_read_until(reader: &zmq::Socket, until: SocketEvent) -> Vec<Event> {
    events_until(
        || {
            reader
                .recv_multipart(0)
                .expect("libzmq event within the timeout")
        },
        until,
    )
}

fn numbers(events: &[Event]) -> Vec<u16> {
    events.iter().map(|e| e.0).collect()
}

fn reader(ctx: &Context, at: &str) -> tiermq::Socket {
    let r = ctx.socket(PAIR).unwrap();
    r.set_rcvtimeo(WAIT_MS).unwrap();
    r.connect(at).unwrap();
    r
}

const ALL: i32 = SocketEvent::ALL as i32;

/// Monitors every event of `s` at `at` and returns the reader.
fn monitor_all(ctx: &Context, s: &tiermq::Socket, at: &str) -> tiermq::Socket {
    s.monitor(at, ALL).unwrap();
    reader(ctx, at)
}

/// [`monitor_all`] for a libzmq socket.
fn zmq_monitor_all(zctx: &zmq::Context, s: &zmq::Socket, at: &str) -> zmq::Socket {
    s.monitor(at, ALL).unwrap();
    let r = zctx.socket(zmq::PAIR).unwrap();
    r.set_rcvtimeo(WAIT_MS).unwrap();
    r.connect(at).unwrap();
    r
}

/// Binds `s` to an ephemeral loopback tcp port; returns the endpoint.
fn bind_tcp(s: &tiermq::Socket) -> String {
    s.bind("tcp://127.0.0.1:*").unwrap();
    s.get_last_endpoint().unwrap().unwrap()
}

/// [`bind_tcp`] for a libzmq socket.
fn zmq_bind_tcp(s: &zmq::Socket) -> String {
    s.bind("tcp://127.0.0.1:*").unwrap();
    s.get_last_endpoint().unwrap().unwrap()
}

#[test]
fn a_server_reports_listening_accepted_handshake_disconnected_closed_stopped() {
    let ctx = Context::new();
    let server = ctx.socket(SocketType::REP).unwrap();
    let events = monitor_all(&ctx, &server, "inproc://mon-server");
    let at = bind_tcp(&server);
    assert_eq!(
        read_until(&events, SocketEvent::LISTENING),
        vec![(8, 0, at.clone())],
        "LISTENING, value 0 where libzmq puts the fd"
    );

    let client = ctx.socket(SocketType::REQ).unwrap();
    client.connect(&at).unwrap();
    assert_eq!(
        read_until(&events, SocketEvent::HANDSHAKE_SUCCEEDED),
        vec![(32, 0, at.clone()), (0x1000, 0, at.clone())]
    );
    drop(client);
    assert_eq!(
        read_until(&events, SocketEvent::DISCONNECTED),
        vec![(512, 0, at.clone())]
    );
    drop(server);
    assert_eq!(
        read_until(&events, SocketEvent::MONITOR_STOPPED),
        vec![(128, 0, at), (1024, 0, String::new())],
        "CLOSED for the listener, then MONITOR_STOPPED with no endpoint"
    );
}

#[test]
fn a_client_reports_connected_and_handshake_then_stops_on_request() {
    let ctx = Context::new();
    let server = ctx.socket(SocketType::REP).unwrap();
    let at = bind_tcp(&server);
    let client = ctx.socket(SocketType::REQ).unwrap();
    let events = monitor_all(&ctx, &client, "inproc://mon-client");
    client.connect(&at).unwrap();
    let got = read_until(&events, SocketEvent::HANDSHAKE_SUCCEEDED);
    let connected = got
        .iter()
        .skip_while(|e| e.0 == 2)
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(
        connected,
        vec![(1, 0, at.clone()), (0x1000, 0, at.clone())],
        "after any CONNECT_DELAYED: {got:?}"
    );
    client.monitor("inproc://mon-client", 0).unwrap();
    assert_eq!(
        read_until(&events, SocketEvent::MONITOR_STOPPED),
        vec![(1024, 0, String::new())]
    );
    // Stopped: nothing more comes, and the name is free again.
    drop(server);
    client.monitor("inproc://mon-client", ALL).unwrap();
    client.monitor("", 0).unwrap();
}

#[test]
fn connect_retried_carries_the_reconnect_interval_in_ms() {
    let ctx = Context::new();
    // A port nothing listens on: bound, then closed.
    let gone = ctx.socket(SocketType::PULL).unwrap();
    let at = bind_tcp(&gone);
    gone.unbind(&at).unwrap();
    drop(gone);

    let client = ctx.socket(SocketType::PUSH).unwrap();
    client.set_reconnect_ivl(250).unwrap();
    let events = monitor_all(&ctx, &client, "inproc://mon-retry");
    client.connect(&at).unwrap();
    let got = read_until(&events, SocketEvent::CONNECT_RETRIED);
    assert_eq!(got.last(), Some(&(4, 250, at)));
}

#[test]
fn the_mask_selects_events() {
    let ctx = Context::new();
    let server = ctx.socket(SocketType::PULL).unwrap();
    server
        .monitor(
            "inproc://mon-mask",
            (SocketEvent::LISTENING as i32) | (SocketEvent::DISCONNECTED as i32),
        )
        .unwrap();
    let events = reader(&ctx, "inproc://mon-mask");
    let at = bind_tcp(&server);
    let client = ctx.socket(SocketType::PUSH).unwrap();
    client.connect(&at).unwrap();
    client.send("x", 0).unwrap();
    server.set_rcvtimeo(WAIT_MS).unwrap();
    server.recv_bytes(0).unwrap();
    drop(client);
    assert_eq!(
        read_until(&events, SocketEvent::DISCONNECTED),
        vec![(8, 0, at.clone()), (512, 0, at)],
        "no ACCEPTED or HANDSHAKE_SUCCEEDED outside the mask"
    );
    // Stopping joins the forwarder: anything it sent is there now.
    server.monitor("", 0).unwrap();
    assert_eq!(
        events.recv_bytes(DONTWAIT),
        Err(Error::EAGAIN),
        "no MONITOR_STOPPED outside the mask"
    );
}

/// A peer of the wrong socket type: tiermq reports why, as a protocol
/// handshake failure (libzmq 4.3 only reports the disconnection).
#[test]
fn a_wrong_socket_type_is_a_protocol_handshake_failure() {
    let ctx = Context::new();
    let server = ctx.socket(PAIR).unwrap();
    let events = monitor_all(&ctx, &server, "inproc://mon-proto");
    let at = bind_tcp(&server);
    read_until(&events, SocketEvent::LISTENING);
    let wrong = ctx.socket(SocketType::PUSH).unwrap();
    wrong.connect(&at).unwrap();
    // ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_METADATA: the code libzmq gives a
    // READY it cannot accept.
    assert_eq!(
        read_until(&events, SocketEvent::DISCONNECTED),
        vec![
            (32, 0, at.clone()),
            (0x2000, 0x1000_0018, at.clone()),
            (512, 0, at)
        ]
    );

    // libzmq, the same scenario: accepted, then disconnected.
    let zctx = zmq::Context::new();
    let zserver = zctx.socket(zmq::PAIR).unwrap();
    zserver.set_linger(0).unwrap();
    let zevents = zmq_monitor_all(&zctx, &zserver, "inproc://zmon-proto");
    let zat = zmq_bind_tcp(&zserver);
    zmq_read_until(&zevents, SocketEvent::LISTENING);
    let zwrong = zctx.socket(zmq::PUSH).unwrap();
    zwrong.set_linger(0).unwrap();
    zwrong.connect(&zat).unwrap();
    let zgot = zmq_read_until(&zevents, SocketEvent::DISCONNECTED);
    assert_eq!(numbers(&zgot), vec![32, 512]);
}

/// The server side of bind, connect, disconnect and close, in libzmq's
/// event numbers, from libzmq and from tiermq.
#[test]
fn the_same_scenario_gives_the_same_events_as_libzmq() {
    let zctx = zmq::Context::new();
    let zserver = zctx.socket(zmq::REP).unwrap();
    let zevents = zmq_monitor_all(&zctx, &zserver, "inproc://zmon-same");
    let zat = zmq_bind_tcp(&zserver);
    let zclient = zctx.socket(zmq::REQ).unwrap();
    zclient.connect(&zat).unwrap();
    let mut want = zmq_read_until(&zevents, SocketEvent::HANDSHAKE_SUCCEEDED);
    drop(zclient);
    want.extend(zmq_read_until(&zevents, SocketEvent::DISCONNECTED));
    drop(zserver);
    want.extend(zmq_read_until(&zevents, SocketEvent::MONITOR_STOPPED));

    let ctx = Context::new();
    let server = ctx.socket(SocketType::REP).unwrap();
    let events = monitor_all(&ctx, &server, "inproc://mon-same");
    let at = bind_tcp(&server);
    let client = ctx.socket(SocketType::REQ).unwrap();
    client.connect(&at).unwrap();
    let mut got = read_until(&events, SocketEvent::HANDSHAKE_SUCCEEDED);
    drop(client);
    got.extend(read_until(&events, SocketEvent::DISCONNECTED));
    drop(server);
    got.extend(read_until(&events, SocketEvent::MONITOR_STOPPED));

    assert_eq!(numbers(&got), numbers(&want));
    let endpoints = |v: &[Event], at: &str| {
        v.iter()
            .all(|e| e.2 == at || (e.0 == 1024 && e.2.is_empty()))
    };
    assert!(endpoints(&want, &zat), "libzmq: {want:?}");
    assert!(endpoints(&got, &at), "tiermq: {got:?}");
}

/// The client side of connect and handshake, from libzmq and from tiermq:
/// CONNECT_DELAYED (EINPROGRESS), CONNECTED, HANDSHAKE_SUCCEEDED.
#[test]
fn a_client_reports_what_a_libzmq_client_reports() {
    let zctx = zmq::Context::new();
    let zserver = zctx.socket(zmq::REP).unwrap();
    zserver.set_linger(0).unwrap();
    let zat = zmq_bind_tcp(&zserver);
    let zclient = zctx.socket(zmq::REQ).unwrap();
    zclient.set_linger(0).unwrap();
    let zevents = zmq_monitor_all(&zctx, &zclient, "inproc://zmon-client");
    zclient.connect(&zat).unwrap();
    let want = zmq_read_until(&zevents, SocketEvent::HANDSHAKE_SUCCEEDED);

    let ctx = Context::new();
    let server = ctx.socket(SocketType::REP).unwrap();
    let at = bind_tcp(&server);
    let client = ctx.socket(SocketType::REQ).unwrap();
    let events = monitor_all(&ctx, &client, "inproc://mon-client-like");
    client.connect(&at).unwrap();
    let got = read_until(&events, SocketEvent::HANDSHAKE_SUCCEEDED);

    assert_eq!(
        numbers(&got),
        numbers(&want),
        "tiermq {got:?}, libzmq {want:?}"
    );
    // CONNECT_DELAYED carries the errno (EINPROGRESS) in both.
    let delayed = |v: &[Event]| {
        v.iter()
            .filter(|e| e.0 == 2)
            .map(|e| e.1)
            .collect::<Vec<_>>()
    };
    assert_eq!(delayed(&got), delayed(&want));
}

#[test]
fn monitor_endpoints_are_checked() {
    let ctx = Context::new();
    let s = ctx.socket(SocketType::PUSH).unwrap();
    assert_eq!(
        s.monitor("tcp://127.0.0.1:5555", ALL),
        Err(Error::EPROTONOSUPPORT)
    );
    assert_eq!(s.monitor("no-transport", ALL), Err(Error::EINVAL));
    assert_eq!(s.monitor("inproc://mon-bits", 0x1_0000), Err(Error::EINVAL));
    let taken = ctx.socket(PAIR).unwrap();
    taken.bind("inproc://mon-taken").unwrap();
    assert_eq!(s.monitor("inproc://mon-taken", ALL), Err(Error::EADDRINUSE));
}

#[test]
fn an_unread_monitor_never_blocks_the_socket() {
    let ctx = Context::new();
    let server = ctx.socket(SocketType::PULL).unwrap();
    server.set_rcvtimeo(WAIT_MS).unwrap();
    // Nobody connects to the monitor, and a reader that never reads.
    server.monitor("inproc://mon-unread", ALL).unwrap();
    let client = ctx.socket(SocketType::PAIR).unwrap();
    let unread = reader(&ctx, "inproc://mon-unread");
    unread.set_rcvhwm(1).unwrap();
    drop(client);
    for _ in 0..200 {
        let at = bind_tcp(&server);
        server.unbind(&at).unwrap();
    }
    let at = bind_tcp(&server);
    let push = ctx.socket(SocketType::PUSH).unwrap();
    push.connect(&at).unwrap();
    push.send("still works", 0).unwrap();
    assert_eq!(server.recv_bytes(0).unwrap(), b"still works");
}
