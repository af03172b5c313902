//! The proxies: a ROUTER/DEALER broker between REQ clients and REP workers
//! (tiermq and libzmq peers), a capture socket, the steerable commands, and
//! the end of a proxy with its context.

mod common;

use std::thread;

use common::WAIT_MS;
use tiermq::{Context, DEALER, Error, PAIR, PULL, PUSH, REP, REQ, ROUTER, Socket};

fn socket(ctx: &Context, t: tiermq::SocketType) -> Socket {
    let s = ctx.socket(t).unwrap();
    s.set_rcvtimeo(WAIT_MS).unwrap();
    s.set_sndtimeo(WAIT_MS).unwrap();
    s
}

/// A broker on its own thread: a ROUTER frontend and a DEALER backend,
/// steered through the PAIR at `control`. Returns both endpoints and the
/// proxy's thread.
fn broker(
    ctx: &Context,
    control: &str,
    capture: Option<&str>,
) -> (String, String, thread::JoinHandle<tiermq::Result<()>>) {
    let frontend = socket(ctx, ROUTER);
    frontend.bind("tcp://127.0.0.1:*").unwrap();
    let backend = socket(ctx, DEALER);
    backend.bind("tcp://127.0.0.1:*").unwrap();
    let ends = (
        frontend.get_last_endpoint().unwrap().unwrap(),
        backend.get_last_endpoint().unwrap().unwrap(),
    );
    let ctl = socket(ctx, PAIR);
    ctl.bind(control).unwrap();
    let cap = capture.map(|at| {
        let c = socket(ctx, PUSH);
        c.bind(at).unwrap();
        c
    });
    let (mut frontend, mut backend, mut ctl) = (frontend, backend, ctl);
    let proxy = thread::spawn(move || match cap {
        Some(mut cap) => {
            tiermq::proxy_steerable_with_capture(&mut frontend, &mut backend, &mut cap, &mut ctl)
        }
        None => tiermq::proxy_steerable(&mut frontend, &mut backend, &mut ctl),
    });
    (ends.0, ends.1, proxy)
}

fn steer(ctx: &Context, control: &str) -> Socket {
    let s = socket(ctx, PAIR);
    s.connect(control).unwrap();
    s
}

#[test]
fn a_router_dealer_broker_serves_tiermq_and_libzmq_peers() {
    let ctx = Context::new();
    let (front, back, proxy) = broker(&ctx, "inproc://broker-ctl", None);
    let zctx = zmq::Context::new();

    // Workers: one tiermq REP, one libzmq REP, each answering with its name.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tworker = {
        let (ctx, back, stop) = (ctx.clone(), back.clone(), stop.clone());
        thread::spawn(move || {
            let rep = ctx.socket(REP).unwrap();
            rep.set_rcvtimeo(100).unwrap();
            rep.connect(&back).unwrap();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(req) = rep.recv_bytes(0) {
                    rep.send_multipart([b"tiermq".to_vec(), req], 0).unwrap();
                }
            }
        })
    };
    let zworker = {
        let (zctx, back, stop) = (zctx.clone(), back.clone(), stop.clone());
        thread::spawn(move || {
            let rep = zctx.socket(zmq::REP).unwrap();
            rep.set_rcvtimeo(100).unwrap();
            rep.set_linger(0).unwrap();
            rep.connect(&back).unwrap();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(req) = rep.recv_bytes(0) {
                    rep.send_multipart([b"libzmq".to_vec(), req], 0).unwrap();
                }
            }
        })
    };

    // Clients: a tiermq REQ and a libzmq REQ.
    let treq = socket(&ctx, REQ);
    treq.connect(&front).unwrap();
    let zreq = zctx.socket(zmq::REQ).unwrap();
    zreq.set_rcvtimeo(WAIT_MS).unwrap();
    zreq.set_linger(0).unwrap();
    zreq.connect(&front).unwrap();
    let mut served_by = std::collections::BTreeSet::new();
    for i in 0..40u32 {
        let body = format!("t{i}");
        treq.send(body.as_str(), 0).unwrap();
        let reply = treq.recv_multipart(0).unwrap();
        assert_eq!(reply[1], body.as_bytes(), "the reply to this request");
        served_by.insert(reply[0].clone());

        let body = format!("z{i}");
        zreq.send(body.as_str(), 0).unwrap();
        let reply = zreq.recv_multipart(0).unwrap();
        assert_eq!(reply[1], body.as_bytes());
        served_by.insert(reply[0].clone());
    }
    assert_eq!(
        served_by,
        [b"libzmq".to_vec(), b"tiermq".to_vec()].into(),
        "both workers took requests"
    );

    steer(&ctx, "inproc://broker-ctl")
        .send("TERMINATE", 0)
        .unwrap();
    assert_eq!(proxy.join().unwrap(), Ok(()), "TERMINATE ends the proxy");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    tworker.join().unwrap();
    zworker.join().unwrap();
}

#[test]
fn the_capture_gets_every_frame_in_both_directions() {
    let ctx = Context::new();
    let (front, back, proxy) = broker(&ctx, "inproc://cap-ctl", Some("inproc://cap"));
    let capture = socket(&ctx, PULL);
    capture.connect("inproc://cap").unwrap();
    let worker = socket(&ctx, REP);
    worker.connect(&back).unwrap();
    let client = socket(&ctx, REQ);
    client.connect(&front).unwrap();

    client.send_multipart(["hello", "world"], 0).unwrap();
    assert_eq!(
        worker.recv_multipart(0).unwrap(),
        vec![b"hello".to_vec(), b"world".to_vec()]
    );
    worker.send("answer", 0).unwrap();
    assert_eq!(client.recv_bytes(0).unwrap(), b"answer");

    // The request as the ROUTER read it (routing id, empty delimiter,
    // body), then the reply as the DEALER read it: each a whole message.
    let request = capture.recv_multipart(0).unwrap();
    assert_eq!(request.len(), 4, "{request:?}");
    assert_eq!(&request[1..], [&b""[..], b"hello", b"world"]);
    let reply = capture.recv_multipart(0).unwrap();
    assert_eq!(
        reply,
        vec![request[0].clone(), Vec::new(), b"answer".to_vec()]
    );

    steer(&ctx, "inproc://cap-ctl")
        .send("TERMINATE", 0)
        .unwrap();
    assert_eq!(proxy.join().unwrap(), Ok(()));
}

fn statistics(ctl: &Socket) -> Vec<u64> {
    ctl.send("STATISTICS", 0).unwrap();
    ctl.recv_multipart(0)
        .unwrap()
        .iter()
        .map(|f| u64::from_ne_bytes(f[..].try_into().expect("8-byte frames")))
        .collect()
}

#[test]
fn pause_resume_statistics_and_terminate() {
    let ctx = Context::new();
    let (front, back, proxy) = broker(&ctx, "inproc://steer-ctl", None);
    let ctl = steer(&ctx, "inproc://steer-ctl");
    let worker = socket(&ctx, DEALER);
    worker.connect(&back).unwrap();
    let client = socket(&ctx, DEALER);
    client.connect(&front).unwrap();

    client.send("one", 0).unwrap();
    let got = worker.recv_multipart(0).unwrap();
    assert_eq!(got.last().unwrap(), b"one");
    worker.send_multipart(got.clone(), 0).unwrap();
    assert_eq!(client.recv_bytes(0).unwrap(), b"one");
    let routed = got.iter().map(Vec::len).sum::<usize>() as u64;
    // One message each way on each side, the ROUTER's routing id in front
    // of the body: messages and bytes in, out, frontend then backend.
    assert_eq!(routed, 5 + 3);
    assert_eq!(statistics(&ctl), [1, routed].repeat(4));

    ctl.send("PAUSE", 0).unwrap();
    client.send("two", 0).unwrap();
    // Commands are handled in order: the pause came before "two".
    assert_eq!(statistics(&ctl)[0], 1, "nothing forwarded while paused");
    assert_eq!(worker.recv_bytes(tiermq::DONTWAIT), Err(Error::EAGAIN));
    ctl.send("RESUME", 0).unwrap();
    assert_eq!(worker.recv_multipart(0).unwrap().last().unwrap(), b"two");

    ctl.send("TERMINATE", 0).unwrap();
    assert_eq!(proxy.join().unwrap(), Ok(()));
}

#[test]
fn a_plain_proxy_streams_multipart_messages_whole() {
    let ctx = Context::new();
    let frontend = socket(&ctx, PULL);
    frontend.bind("inproc://stream-in").unwrap();
    let backend = socket(&ctx, PUSH);
    backend.bind("inproc://stream-out").unwrap();
    let proxy = thread::spawn(move || tiermq::proxy(&frontend, &backend));
    let source = socket(&ctx, PUSH);
    source.connect("inproc://stream-in").unwrap();
    let sink = socket(&ctx, PULL);
    sink.connect("inproc://stream-out").unwrap();
    for i in 0..100u32 {
        source
            .send_multipart([&b"head"[..], &i.to_be_bytes(), b"tail"], 0)
            .unwrap();
    }
    for i in 0..100u32 {
        assert_eq!(
            sink.recv_multipart(0).unwrap(),
            vec![b"head".to_vec(), i.to_be_bytes().to_vec(), b"tail".to_vec()]
        );
    }
    // The proxy ends, with ETERM, when its context does.
    let mut ctx = ctx;
    ctx.destroy().unwrap();
    assert_eq!(proxy.join().unwrap(), Err(Error::ETERM));
}

/// Sends `ping` from `publish` until `received` sees it: subscriptions
/// travel through the forwarder to the publisher asynchronously.
fn until_subscribed(publish: impl Fn(), received: impl Fn() -> bool) {
    common::eventually("the subscription reached the publisher", || {
        publish();
        thread::sleep(std::time::Duration::from_millis(5));
        received()
    });
}

/// Receives on `recv` until `last`, checking that nothing off-topic came.
fn until_last(recv: impl Fn() -> Vec<u8>, last: &[u8]) {
    loop {
        let m = recv();
        assert!(m.starts_with(b"weather"), "filtered: {m:?}");
        if m == last {
            return;
        }
    }
}

#[test]
fn an_xsub_xpub_forwarder_passes_subscriptions_up_and_messages_down() {
    let ctx = Context::new();
    let frontend = socket(&ctx, tiermq::XSUB);
    frontend.bind("tcp://127.0.0.1:*").unwrap();
    let backend = socket(&ctx, tiermq::XPUB);
    backend.bind("tcp://127.0.0.1:*").unwrap();
    let (front, back) = (
        frontend.get_last_endpoint().unwrap().unwrap(),
        backend.get_last_endpoint().unwrap().unwrap(),
    );
    let ctl = socket(&ctx, PAIR);
    ctl.bind("inproc://forwarder-ctl").unwrap();
    let (mut frontend, mut backend, mut ctl) = (frontend, backend, ctl);
    let proxy =
        thread::spawn(move || tiermq::proxy_steerable(&mut frontend, &mut backend, &mut ctl));

    // A tiermq and a libzmq publisher upstream, a tiermq and a libzmq
    // subscriber downstream.
    let zctx = zmq::Context::new();
    let tpub = socket(&ctx, tiermq::PUB);
    tpub.connect(&front).unwrap();
    let zpub = zctx.socket(zmq::PUB).unwrap();
    zpub.set_linger(0).unwrap();
    zpub.connect(&front).unwrap();
    let tsub = socket(&ctx, tiermq::SUB);
    tsub.set_subscribe(b"weather").unwrap();
    tsub.connect(&back).unwrap();
    let zsub = zctx.socket(zmq::SUB).unwrap();
    zsub.set_rcvtimeo(WAIT_MS).unwrap();
    zsub.set_linger(0).unwrap();
    zsub.set_subscribe(b"weather").unwrap();
    zsub.connect(&back).unwrap();

    let both_got =
        || tsub.recv_bytes(tiermq::DONTWAIT).is_ok() && zsub.recv_bytes(zmq::DONTWAIT).is_ok();
    until_subscribed(|| tpub.send("weather ping", 0).unwrap(), both_got);
    until_subscribed(|| zpub.send("weather ping", 0).unwrap(), both_got);

    for (i, send) in [
        &(|m: &str| tpub.send(m, 0).unwrap()) as &dyn Fn(&str),
        &|m: &str| zpub.send(m, 0).unwrap(),
    ]
    .into_iter()
    .enumerate()
    {
        send("noise, filtered at the publisher");
        let last = format!("weather {i}");
        send(&last);
        until_last(|| tsub.recv_bytes(0).unwrap(), last.as_bytes());
        until_last(|| zsub.recv_bytes(0).unwrap(), last.as_bytes());
    }

    steer(&ctx, "inproc://forwarder-ctl")
        .send("TERMINATE", 0)
        .unwrap();
    assert_eq!(proxy.join().unwrap(), Ok(()));
}
