//! Code written exactly as a rust-zmq 0.10 PUSH/PULL user writes it, with
//! only the crate name changed.

// Borrowing the array is how rust-zmq examples call `send_multipart`.
#![allow(clippy::needless_borrows_for_generic_args)]

use tiermq as zmq;

fn pipeline(pull_endpoint: &str) -> Result<(), zmq::Error> {
    let ctx = zmq::Context::new();

    let receiver = ctx.socket(zmq::PULL)?;
    receiver.bind(pull_endpoint)?;
    let endpoint = receiver.get_last_endpoint()?.unwrap();
    receiver.set_rcvtimeo(10_000)?;

    let sender = ctx.socket(zmq::PUSH)?;
    sender.set_sndhwm(1000)?;
    sender.set_linger(1000)?;
    sender.connect(&endpoint)?;
    assert_eq!(sender.get_socket_type()?, zmq::PUSH);

    // Every kind of payload rust-zmq's `send` takes.
    sender.send("str", 0)?;
    sender.send(&b"slice"[..], 0)?;
    sender.send(b"array", 0)?;
    sender.send(vec![1u8, 2, 3], 0)?;
    let v = vec![4u8, 5];
    sender.send(&v, 0)?;
    let s = String::from("string");
    sender.send(&s, 0)?;
    sender.send(s.clone(), 0)?;
    sender.send(zmq::Message::from("message"), 0)?;
    sender.send(vec![9u8; 3].into_boxed_slice(), 0)?;
    sender.send("part1", zmq::SNDMORE)?;
    sender.send("part2", 0)?;
    sender.send_multipart(&["m1", "m2", "m3"], 0)?;
    sender.send_multipart(vec![b"x".to_vec(), b"y".to_vec()], zmq::DONTWAIT)?;

    let mut items = [receiver.as_poll_item(zmq::POLLIN)];
    zmq::poll(&mut items, 10_000)?;
    assert!(items[0].is_readable());

    let msg = receiver.recv_msg(0)?;
    assert_eq!(msg.as_str(), Some("str"));
    assert!(!msg.get_more());
    assert_eq!(receiver.recv_bytes(0)?, b"slice");
    assert_eq!(receiver.recv_string(0)?.unwrap(), "array");
    let mut buf = [0u8; 2];
    assert_eq!(receiver.recv_into(&mut buf, 0)?, 3);
    assert_eq!(buf, [1, 2]);
    assert_eq!(receiver.recv_bytes(0)?, vec![4, 5]);
    assert_eq!(receiver.recv_string(0)?, Ok("string".to_owned()));
    assert_eq!(receiver.recv_string(0)?, Ok("string".to_owned()));
    let mut msg = zmq::Message::new();
    receiver.recv(&mut msg, 0)?;
    assert_eq!(&msg[..], b"message");
    // `zmq_msg_gets`, called as rust-zmq users do: inproc messages answer
    // nothing, as in libzmq; tcp and ipc ones their sender's properties.
    let socket_type = msg.gets("Socket-Type").map(str::to_owned);
    if pull_endpoint.starts_with("inproc") {
        assert_eq!(socket_type, None);
    } else {
        assert_eq!(socket_type.as_deref(), Some("PUSH"));
        assert!(msg.gets("Peer-Address").is_some_and(|a| !a.is_empty()));
    }
    assert_eq!(msg.gets("User-Id"), None);
    assert_eq!(receiver.recv_bytes(0)?, vec![9, 9, 9]);
    assert_eq!(receiver.recv_string(0)?.unwrap(), "part1");
    assert!(receiver.get_rcvmore()?);
    assert_eq!(receiver.recv_string(0)?.unwrap(), "part2");
    assert!(!receiver.get_rcvmore()?);
    assert_eq!(
        receiver.recv_multipart(0)?,
        vec![b"m1".to_vec(), b"m2".to_vec(), b"m3".to_vec()]
    );
    assert_eq!(
        receiver.recv_multipart(0)?,
        vec![b"x".to_vec(), b"y".to_vec()]
    );

    match receiver.recv_bytes(zmq::DONTWAIT) {
        Err(zmq::Error::EAGAIN) => {}
        other => panic!("expected EAGAIN, got {other:?}"),
    }
    let e = zmq::Error::EAGAIN;
    assert!(!e.message().is_empty() && !e.to_string().is_empty());
    let _: &dyn std::error::Error = &e;

    sender.disconnect(&endpoint)?;
    receiver.unbind(&endpoint)?;
    Ok(())
}

#[test]
fn rust_zmq_pipeline_over_inproc() {
    pipeline("inproc://api-compat").unwrap();
}

#[test]
fn rust_zmq_pipeline_over_tcp() {
    pipeline("tcp://127.0.0.1:*").unwrap();
}

#[test]
fn rust_zmq_pipeline_over_ipc() {
    let path = std::env::temp_dir().join(format!("tiermq-api-{}.ipc", std::process::id()));
    pipeline(&format!("ipc://{}", path.display())).unwrap();
}

#[test]
fn rust_zmq_worker_loop_with_poll_timeout() {
    let ctx = zmq::Context::default();
    let pull = ctx.socket(zmq::PULL).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    // Nothing arrives: poll times out with no event.
    let rc = pull.poll(zmq::POLLIN, 10).unwrap();
    assert_eq!(rc, 0);
    let mut items = [pull.as_poll_item(zmq::POLLIN | zmq::POLLOUT)];
    assert_eq!(zmq::poll(&mut items, 0).unwrap(), 0);
    assert!(!items[0].is_readable() && !items[0].is_writable() && !items[0].is_error());
    assert!(items[0].has_socket(&pull));
}

/// ZMQ_FD and raw-descriptor poll items, as a rust-zmq user writes an
/// event loop: wait on the socket's descriptor beside another one, then
/// read `get_events`.
#[test]
fn rust_zmq_fd_and_raw_poll_items() {
    use std::os::unix::io::AsRawFd;
    let ctx = zmq::Context::new();
    let pull = ctx.socket(zmq::PULL).unwrap();
    pull.bind("inproc://fd-loop").unwrap();
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.connect("inproc://fd-loop").unwrap();
    let fd = pull.get_fd().unwrap();
    assert_eq!(pull.as_raw_fd(), fd);
    let (_other, unused) = std::os::unix::net::UnixStream::pair().unwrap();
    push.send("hi", 0).unwrap();
    let mut items = [
        zmq::PollItem::from_fd(fd, zmq::POLLIN),
        zmq::PollItem::from_fd(unused.as_raw_fd(), zmq::POLLIN),
    ];
    assert_eq!(zmq::poll(&mut items, 10_000).unwrap(), 1);
    assert!(items[0].is_readable() && items[0].has_fd(fd));
    assert!(!items[1].is_readable());
    assert!(pull.get_events().unwrap().contains(zmq::POLLIN));
    assert_eq!(pull.recv_bytes(zmq::DONTWAIT).unwrap(), b"hi");
}

/// A tcp bind to a name that resolves to nothing fails as libzmq's does,
/// with ENODEV. A connect to it succeeds, as libzmq's does: the name is
/// resolved again at each connect attempt, and one that fails is retried.
#[test]
fn an_unresolvable_host_name_fails_like_libzmq() {
    let ep = "tcp://no-such-host.invalid:5555";
    // `::zmq` is the real rust-zmq (libzmq) here; `zmq` is tiermq's alias.
    let zctx = ::zmq::Context::new();
    let zrep = zctx.socket(::zmq::REP).unwrap();
    assert_eq!(zrep.bind(ep), Err(::zmq::Error::ENODEV));
    let zreq = zctx.socket(::zmq::REQ).unwrap();
    assert_eq!(zreq.connect(ep), Ok(()));
    let ctx = tiermq::Context::new();
    let rep = ctx.socket(tiermq::REP).unwrap();
    assert_eq!(rep.bind(ep), Err(tiermq::Error::ENODEV));
    let req = ctx.socket(tiermq::REQ).unwrap();
    assert_eq!(req.connect(ep), Ok(()));
    assert_eq!(req.disconnect(ep), Ok(()));
    // Malformed endpoints still fail at once, in both.
    let bad = "tcp://no such host:5555";
    assert_eq!(zreq.connect(bad), Err(::zmq::Error::EINVAL));
    assert_eq!(req.connect(bad), Err(tiermq::Error::EINVAL));
}

/// IPV6 as in rust-zmq: off by default; on, `tcp://*` listens on both
/// families and reports `[::]`, as libzmq does.
#[test]
fn ipv6_makes_the_wildcard_dual_stack() {
    if let Err(e) = std::net::TcpListener::bind("[::1]:0") {
        panic!("this test needs IPv6 on the loopback interface (::1): {e}");
    }
    let ctx = zmq::Context::new();
    let pull = ctx.socket(zmq::PULL).unwrap();
    assert!(!pull.is_ipv6().unwrap());
    pull.set_ipv6(true).unwrap();
    assert!(pull.is_ipv6().unwrap());
    pull.set_rcvtimeo(10_000).unwrap();
    pull.bind("tcp://*:*").unwrap();
    let bound = pull.get_last_endpoint().unwrap().unwrap();
    assert!(bound.starts_with("tcp://[::]:"), "{bound}");
    let port = bound.rsplit(':').next().unwrap();
    let mut pushes = Vec::new();
    for host in ["127.0.0.1", "[::1]"] {
        let push = ctx.socket(zmq::PUSH).unwrap();
        push.connect(&format!("tcp://{host}:{port}")).unwrap();
        push.send(host, 0).unwrap();
        assert_eq!(pull.recv_string(0).unwrap().unwrap(), host);
        pushes.push(push);
    }

    let zctx = ::zmq::Context::new();
    let zpull = zctx.socket(::zmq::PULL).unwrap();
    zpull.set_ipv6(true).unwrap();
    zpull.bind("tcp://*:*").unwrap();
    let zbound = zpull.get_last_endpoint().unwrap().unwrap();
    assert!(zbound.starts_with("tcp://[::]:"), "{zbound}");
}

/// The monitor and the proxies, called as rust-zmq code calls them
/// (`&mut` sockets for the proxies, `SocketEvent` raw numbers).
#[test]
fn rust_zmq_monitor_and_proxy_calls() {
    let ctx = zmq::Context::new();
    let mut frontend = ctx.socket(zmq::PAIR).unwrap();
    frontend
        .monitor("inproc://api-monitor", zmq::SocketEvent::ALL as i32)
        .unwrap();
    let events = ctx.socket(zmq::PAIR).unwrap();
    events.set_rcvtimeo(10_000).unwrap();
    events.connect("inproc://api-monitor").unwrap();
    frontend.bind("tcp://127.0.0.1:*").unwrap();
    let frames = events.recv_multipart(0).unwrap();
    let number = u16::from_le_bytes([frames[0][0], frames[0][1]]);
    assert_eq!(
        zmq::SocketEvent::from_raw(number),
        zmq::SocketEvent::LISTENING
    );
    assert_eq!(zmq::SocketEvent::LISTENING.to_raw(), 8);

    let mut backend = ctx.socket(zmq::PAIR).unwrap();
    backend.bind("inproc://api-backend").unwrap();
    let mut control = ctx.socket(zmq::PAIR).unwrap();
    control.bind("inproc://api-control").unwrap();
    let steer = ctx.socket(zmq::PAIR).unwrap();
    steer.connect("inproc://api-control").unwrap();
    steer.send("TERMINATE", 0).unwrap();
    zmq::proxy_steerable(&mut frontend, &mut backend, &mut control).unwrap();
    let mut capture = ctx.socket(zmq::PUSH).unwrap();
    capture.bind("inproc://api-capture").unwrap();
    steer.send("TERMINATE", 0).unwrap();
    zmq::proxy_steerable_with_capture(&mut frontend, &mut backend, &mut capture, &mut control)
        .unwrap();
    // `proxy` and `proxy_with_capture` run until the context ends.
    let _: fn(&zmq::Socket, &zmq::Socket) -> zmq::Result<()> = zmq::proxy;
    let _: fn(&mut zmq::Socket, &mut zmq::Socket, &mut zmq::Socket) -> zmq::Result<()> =
        zmq::proxy_with_capture;
}

/// A rust-zmq 0.10 weather-update subscriber and publisher, as written for
/// the zmq crate, including its PUB/SUB options.
#[test]
fn rust_zmq_pubsub() -> Result<(), zmq::Error> {
    let ctx = zmq::Context::new();
    let publisher = ctx.socket(zmq::XPUB)?;
    publisher.set_xpub_verbose(true)?;
    publisher.set_xpub_welcome_msg(None)?;
    publisher.bind("inproc://weather")?;
    let subscriber = ctx.socket(zmq::SUB)?;
    subscriber.set_conflate(false)?;
    assert!(!subscriber.is_conflate()?);
    subscriber.connect("inproc://weather")?;
    subscriber.set_subscribe(b"10001 ")?;
    subscriber.set_rcvtimeo(10_000)?;
    publisher.set_rcvtimeo(10_000)?;
    assert_eq!(publisher.recv_bytes(0)?, b"\x0110001 ");
    publisher.send("10001 21 40", 0)?;
    let update = subscriber.recv_string(0)?.unwrap();
    assert_eq!(update, "10001 21 40");
    subscriber.set_unsubscribe(b"10001 ")?;
    assert_eq!(publisher.recv_bytes(0)?, b"\x0010001 ");
    Ok(())
}

/// CURVE and PLAIN set up as a rust-zmq 0.10 user sets them up.
#[test]
fn rust_zmq_security_options() -> Result<(), zmq::Error> {
    let ctx = zmq::Context::new();
    let server_pair = zmq::CurveKeyPair::new()?;
    let client_pair = zmq::CurveKeyPair::new()?;

    let server = ctx.socket(zmq::PULL)?;
    server.set_curve_server(true)?;
    server.set_curve_secretkey(&server_pair.secret_key)?;
    server.bind("tcp://127.0.0.1:*")?;
    server.set_rcvtimeo(10_000)?;
    let endpoint = server.get_last_endpoint()?.unwrap();

    let client = ctx.socket(zmq::PUSH)?;
    let server_key = zmq::z85_encode(&server_pair.public_key).unwrap();
    client.set_curve_serverkey(&zmq::z85_decode(&server_key).unwrap())?;
    client.set_curve_publickey(&client_pair.public_key)?;
    client.set_curve_secretkey(&client_pair.secret_key)?;
    client.connect(&endpoint)?;
    assert_eq!(client.get_mechanism()?, zmq::Mechanism::ZMQ_CURVE);
    assert!(server.is_curve_server()?);
    assert_eq!(client.get_curve_serverkey()?, server_pair.public_key);

    client.send("secret", 0)?;
    assert_eq!(server.recv_string(0)?.unwrap(), "secret");

    let plain = ctx.socket(zmq::PUSH)?;
    plain.set_plain_username(Some("admin"))?;
    plain.set_plain_password(Some("secret"))?;
    plain.set_zap_domain("global")?;
    assert_eq!(plain.get_mechanism()?, zmq::Mechanism::ZMQ_PLAIN);
    assert!(!plain.is_plain_server()?);
    assert_eq!(plain.get_plain_password()?, Ok("secret".to_owned()));
    assert_eq!(plain.get_zap_domain()?, Ok("global".to_owned()));
    Ok(())
}
