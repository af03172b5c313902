//! PUB/SUB, XPUB/XSUB and CONFLATE over inproc, tcp and ipc, with tiers:
//! tiered fan-out and the hot-standby subscriber. Subscriptions travel
//! asynchronously, so each test first publishes a warm-up topic until the
//! subscriber sees it; messages on one connection keep their order, so
//! what is sent afterwards is judged exactly. Waits are bounded, never
//! timed assertions.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tiermq::{Context, DONTWAIT, PUB, SUB, Socket};

const WARM: &[u8] = b"~warm";

#[derive(Clone, Copy, Debug)]
enum Transport {
    Inproc,
    Tcp,
    Ipc,
}

use Transport::{Inproc, Ipc, Tcp};

const ALL: [Transport; 3] = [Inproc, Tcp, Ipc];

fn endpoint(t: Transport, name: &str) -> String {
    match t {
        Inproc => format!("inproc://pubsub-{name}"),
        Tcp => "tcp://127.0.0.1:*".to_owned(),
        Ipc => {
            let p =
                std::env::temp_dir().join(format!("tiermq-ps-{}-{name}.ipc", std::process::id()));
            format!("ipc://{}", p.display())
        }
    }
}

/// Binds `s` on a fresh endpoint of `t`; returns where to connect.
fn bind(s: &Socket, t: Transport, name: &str) -> String {
    s.bind(&endpoint(t, name)).unwrap();
    s.get_last_endpoint().unwrap().unwrap()
}

/// Publishes the warm-up topic until `sub` (subscribed to it) gets one,
/// so every subscription `sub` made before has reached `publisher`.
fn warm_up(publisher: &Socket, sub: &Socket) {
    sub.set_rcvtimeo(20).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        publisher.send(WARM, DONTWAIT).unwrap();
        if sub.recv_bytes(0).is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the subscription never arrived");
    }
    sub.set_rcvtimeo(WAIT_MS).unwrap();
}

/// The next message that is not a warm-up, frames joined by `|`.
fn next(sub: &Socket) -> String {
    loop {
        let frames = sub.recv_multipart(0).expect("a message within the timeout");
        if frames.len() == 1 && frames[0] == WARM {
            continue;
        }
        let texts: Vec<String> = frames
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        return texts.join("|");
    }
}

fn prefix_matching_and_multipart(t: Transport) {
    let ctx = Context::new();
    let publisher = ctx.socket(PUB).unwrap();
    let ep = bind(&publisher, t, "prefix");
    let sub = ctx.socket(SUB).unwrap();
    sub.connect(&ep).unwrap();
    for topic in [WARM, b"a.", b"b"] {
        sub.set_subscribe(topic).unwrap();
    }
    warm_up(&publisher, &sub);
    for topic in ["a.1", "c.1", "b2", "a", "bb"] {
        publisher.send(topic, 0).unwrap();
    }
    publisher.send_multipart(["a.m", "one", "two"], 0).unwrap();
    assert_eq!(next(&sub), "a.1");
    assert_eq!(next(&sub), "b2");
    assert_eq!(next(&sub), "bb");
    assert_eq!(next(&sub), "a.m|one|two");
    assert!(sub.recv_bytes(DONTWAIT).is_err(), "c.1 and a were filtered");
    assert_eq!(sub.send("x", 0), Err(tiermq::Error::ENOTSUP));
    assert_eq!(publisher.recv_bytes(DONTWAIT), Err(tiermq::Error::ENOTSUP));
}

#[test]
fn prefix_matching_and_multipart_over_every_transport() {
    for t in ALL {
        prefix_matching_and_multipart(t);
    }
}

fn fan_out_to_many(t: Transport) {
    let ctx = Context::new();
    let publisher = ctx.socket(PUB).unwrap();
    let ep = bind(&publisher, t, "fanout");
    let subs: Vec<Socket> = (0..3)
        .map(|i| {
            let s = ctx.socket(SUB).unwrap();
            s.connect(&ep).unwrap();
            s.set_subscribe(WARM).unwrap();
            s.set_subscribe(if i == 0 { b"" } else { b"t" }).unwrap();
            s
        })
        .collect();
    for s in &subs {
        warm_up(&publisher, s);
    }
    for n in 0..100u64 {
        let mut m = b"t".to_vec();
        m.extend(seq(n));
        publisher.send(m, 0).unwrap();
    }
    for s in &subs {
        for n in 0..100u64 {
            let frames = loop {
                let f = s.recv_bytes(0).unwrap();
                if f != WARM {
                    break f;
                }
            };
            assert_eq!(unseq(&frames[1..]), n);
        }
    }
}

#[test]
fn every_subscriber_gets_every_matching_message() {
    for t in ALL {
        fan_out_to_many(t);
    }
}
