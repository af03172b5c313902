//! `tiermq pub`, `tiermq sub` (topics, the hot-standby `--failover`) and
//! `tiermq pair`, between processes and against libzmq peers.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// A libzmq PUB on an ephemeral port, publishing "news N", "other N" and
/// "weather N" every 2 ms on a thread until the returned flag is set.
fn libzmq_publisher() -> (String, Arc<AtomicBool>, thread::JoinHandle<()>) {
    let ctx = zmq::Context::new();
    let publisher = ctx.socket(zmq::PUB).unwrap();
    publisher.set_linger(0).unwrap();
    publisher.bind("tcp://127.0.0.1:*").unwrap();
    let ep = publisher.get_last_endpoint().unwrap().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let t = thread::spawn(move || {
        let mut n = 0u64;
        while !stopped.load(Ordering::Relaxed) {
            for topic in ["news", "other", "weather"] {
                publisher.send(format!("{topic} {n}").as_str(), 0).unwrap();
            }
            n += 1;
            thread::sleep(Duration::from_millis(2));
        }
    });
    (ep, stop, t)
}

#[test]
fn sub_prints_only_its_topics_from_a_libzmq_pub() {
    let (ep, stop, publisher) = libzmq_publisher();
    let mut sub = Proc::spawn(&[
        "sub",
        "--connect",
        &ep,
        "--subscribe",
        "news",
        "-s",
        "weather",
        "--count",
        "40",
    ]);
    let lines: Vec<String> = (0..40).map(|_| sub.next_line()).collect();
    let (code, _, err) = sub.finish();
    stop.store(true, Ordering::Relaxed);
    publisher.join().unwrap();
    assert_eq!(code, 0, "{err:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("news ") || l.starts_with("weather ")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("news ")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("weather ")), "{lines:?}");
}

#[test]
fn pub_publishes_stdin_with_its_topic_to_a_libzmq_sub() {
    let mut publisher = Proc::spawn(&["pub", "--bind", "tcp://127.0.0.1:0", "--topic", "t/"]);
    let ep = publisher.bound_endpoint();
    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB).unwrap();
    sub.set_subscribe(b"t/").unwrap();
    sub.set_rcvtimeo(100).unwrap();
    sub.connect(&ep).unwrap();
    // A PUB drops what is published before the subscription arrives: send
    // until one gets through.
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "no warm-up message arrived");
        publisher.write_lines(["warm-up".to_owned()]);
        if let Ok(m) = sub.recv_bytes(0) {
            assert_eq!(m, b"t/warm-up");
            break;
        }
    }
    while sub.recv_bytes(zmq::DONTWAIT).is_ok() {}
    sub.set_rcvtimeo(20_000).unwrap();
    publisher.write_lines(["hello\tworld".to_owned()]);
    let got = sub.recv_multipart(0).unwrap();
    assert_eq!(got, [b"t/hello".to_vec(), b"world".to_vec()]);
    assert_exits_ok(publisher);
}

#[test]
fn pub_count_generates_numbered_messages_for_a_tiermq_sub() {
    let mut publisher = Proc::spawn(&[
        "pub",
        "--bind",
        "tcp://127.0.0.1:0",
        "--count",
        "1000000",
        "--rate",
        "200",
        "--topic",
        "n ",
    ]);
    let ep = publisher.bound_endpoint();
    let mut sub = Proc::spawn(&["sub", "--connect", &ep, "--count", "10"]);
    let numbers: Vec<u64> = (0..10)
        .map(|_| {
            let line = sub.next_line();
            let n = line
                .strip_prefix("n ")
                .unwrap_or_else(|| panic!("{line:?}"));
            n.parse().unwrap()
        })
        .collect();
    assert_exits_ok(sub);
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "in publishing order: {numbers:?}"
    );
    publisher.kill();
}

/// Whose messages a `sub` printed: the word each line starts with.
fn from(line: &str) -> &str {
    line.split(' ').next().unwrap_or("")
}

/// Reads lines until one from `name`; fails after the bound.
fn until_from(sub: &mut Proc, name: &str) {
    let deadline = Instant::now() + WAIT;
    while from(&sub.next_line()) != name {
        assert!(Instant::now() < deadline, "no line from {name}");
    }
}

/// A tiermq publisher at 200 messages a second of "NAME N".
fn publisher(endpoint: &str, name: &str) -> Proc {
    Proc::spawn(&[
        "pub",
        "--bind",
        endpoint,
        "--count",
        "1000000",
        "--rate",
        "200",
        "--topic",
        &format!("{name} "),
        "--linger",
        "0",
    ])
}

/// A "primary" and a "backup" publisher, and a `sub --failover
/// --heartbeat 100` with the primary as tier 1 and the backup as tier 2,
/// already printing the primary's lines; also the primary's endpoint.
fn failover_setup() -> (Proc, String, Proc, Proc) {
    let mut primary = publisher("tcp://127.0.0.1:0", "primary");
    let primary_ep = primary.bound_endpoint();
    let mut backup = publisher("tcp://127.0.0.1:0", "backup");
    let backup_ep = backup.bound_endpoint();
    let mut sub = Proc::spawn(&[
        "sub",
        "--failover",
        "--heartbeat",
        "100",
        "--connect",
        &format!("1@{primary_ep}"),
        "--connect",
        &format!("2@{backup_ep}"),
    ]);
    until_from(&mut sub, "primary");
    (primary, primary_ep, backup, sub)
}

/// `sub --failover` between two `pub` processes: the primary is killed
/// (failover, printed on stderr), a new one is started on its port
/// (failback), and after the failback only the primary's lines come.
#[test]
fn sub_failover_switches_publishers_and_says_so() {
    let (mut primary, primary_ep, mut backup, mut sub) = failover_setup();

    primary.kill();
    sub.wait_err("failover: tier 1 -> tier 2");
    until_from(&mut sub, "backup");

    let _revived = publisher(&primary_ep, "primary");
    sub.wait_err("failback: tier 2 -> tier 1");
    until_from(&mut sub, "primary");
    let next: Vec<String> = (0..20).map(|_| sub.next_line()).collect();
    assert!(
        next.iter().all(|l| from(l) == "primary"),
        "only the active tier is delivered: {next:?}"
    );
    sub.kill();
    backup.kill();
}

/// Sends `sig` (e.g. "-STOP") to a process.
fn signal(p: &Proc, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &p.child.id().to_string()])
        .status()
        .expect("kill(1)")
        .success();
    assert!(ok, "kill {sig} failed");
}

/// `sub --failover --heartbeat`: a primary `pub` frozen with SIGSTOP is
/// declared dead (failover); thawed, it is live again (failback).
#[test]
fn sub_failover_fails_over_from_a_frozen_publisher_and_back() {
    let (mut primary, _, mut backup, mut sub) = failover_setup();
    signal(&primary, "-STOP");
    sub.wait_err("failover: tier 1 -> tier 2");
    until_from(&mut sub, "backup");
    signal(&primary, "-CONT");
    sub.wait_err("failback: tier 2 -> tier 1");
    until_from(&mut sub, "primary");
    sub.kill();
    primary.kill();
    backup.kill();
}

#[test]
fn pair_talks_to_a_libzmq_pair() {
    let ctx = zmq::Context::new();
    let peer = ctx.socket(zmq::PAIR).unwrap();
    peer.set_rcvtimeo(20_000).unwrap();
    peer.set_linger(5_000).unwrap();
    peer.bind("tcp://127.0.0.1:*").unwrap();
    let ep = peer.get_last_endpoint().unwrap().unwrap();
    let mut pair = Proc::spawn(&[
        "pair",
        "--connect",
        &ep,
        "--count",
        "2",
        "--timeout",
        "20000",
    ]);
    pair.write_lines(["ping\tone".to_owned()]);
    assert_eq!(
        peer.recv_multipart(0).unwrap(),
        [b"ping".to_vec(), b"one".to_vec()]
    );
    peer.send("pong", 0).unwrap();
    peer.send_multipart(["two", "frames"], 0).unwrap();
    assert_eq!(pair.next_line(), "pong");
    assert_eq!(pair.next_line(), "two\tframes");
    assert_exits_ok(pair);
}
