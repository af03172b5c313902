//! The `tiermq` binary end to end: usage errors, help, a port in use, PUSH
//! to PULL with failover and failback between processes, raw frames, and
//! interop with a libzmq PUSH.

mod common;

use std::time::Duration;

use common::*;

/// An error run: the exit code, and stderr must be exactly one line
/// `tiermq: error: ...`, which is returned.
fn one_line_error(args: &[&str], code: i32) -> String {
    let (got, out, err) = run(args, b"");
    assert_eq!(got, code, "exit code of {args:?}; stderr: {err}");
    assert!(out.is_empty(), "nothing on stdout");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {err:?}");
    assert!(lines[0].starts_with("tiermq: error: "), "{err:?}");
    lines[0].to_owned()
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    assert!(one_line_error(&[], 2).contains("no command"));
    assert!(one_line_error(&["shove"], 2).contains("unknown command"));
    assert!(one_line_error(&["push"], 2).contains("--bind or --connect"));
    assert!(
        one_line_error(&["push", "--connect", "20@tcp://127.0.0.1:1"], 2)
            .contains("1 (most preferred) to 16")
    );
    assert!(one_line_error(&["pull", "--bind", "tcp://127.0.0.1"], 2).contains("invalid endpoint"));
    assert!(one_line_error(&["pull", "--bind", "udp://127.0.0.1:1"], 2).contains("not supported"));
    assert!(one_line_error(&["pull", "-b", "tcp://127.0.0.1:0", "--bogus"], 2).contains("--bogus"));
    assert!(
        one_line_error(&["pull", "-b", "tcp://127.0.0.1:0", "--count", "-3"], 2)
            .contains("--count")
    );
    assert!(
        one_line_error(&["sub", "-c", "tcp://127.0.0.1:1", "--topic", "x"], 2).contains("--topic")
    );
    assert!(one_line_error(&["demo", "cold-standby"], 2).contains("unknown demo"));
}

#[test]
fn help_is_per_subcommand() {
    let (code, out, _) = run(&["--help"], b"");
    assert_eq!(code, 0);
    let out = String::from_utf8(out).unwrap();
    for cmd in [
        "push", "pull", "req", "rep", "dealer", "router", "pub", "sub", "pair", "demo",
    ] {
        assert!(out.contains(cmd), "general help lists {cmd}");
    }
    let (code, out, _) = run(&["push", "--help"], b"");
    assert_eq!(code, 0);
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("tiermq push"));
    assert!(out.contains("--raw") && out.contains("MORE") && out.contains("PRIO@"));
    let (code, out, _) = run(&["help", "rep"], b"");
    assert_eq!(code, 0);
    assert!(String::from_utf8(out).unwrap().contains("--exec CMD"));
    let (code, out, _) = run(&["sub", "--help"], b"");
    assert_eq!(code, 0);
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("tiermq sub"));
    assert!(out.contains("--failover") && out.contains("--subscribe TOPIC"));
    let (code, out, _) = run(&["demo", "--help"], b"");
    assert_eq!(code, 0);
    assert!(String::from_utf8(out).unwrap().contains("hot-standby"));
}

#[test]
fn a_port_in_use_is_a_clear_runtime_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = format!("tcp://{}", taken.local_addr().unwrap());
    let line = one_line_error(&["pull", "--bind", &ep], 1);
    assert!(
        line.contains(&ep) && line.contains("address already in use"),
        "{line}"
    );
}

#[test]
fn a_peer_that_never_appears_times_out() {
    // Nothing listens on the port of a listener we bound and dropped.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let (code, _, err) = run(&["push", "--connect", &ep, "--timeout", "200"], b"hello\n");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no peer took the message within 200 ms"),
        "{err}"
    );
}

fn numbers(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|n| n.to_string()).collect()
}

/// A tier-1 and a tier-2 `tiermq pull`, fed by a `tiermq push` whose
/// stdin the test writes. Each batch is written only once the previous one
/// was read and the push has reported the tier change, so every line's
/// destination is known exactly.
#[test]
fn push_fails_over_and_back_between_pull_processes() {
    let mut primary = Proc::spawn(&["pull", "--bind", "tcp://127.0.0.1:0"]);
    let primary_ep = primary.bound_endpoint();
    let mut backup = Proc::spawn(&["pull", "--bind", "tcp://127.0.0.1:0"]);
    let backup_ep = backup.bound_endpoint();
    let mut push = Proc::spawn(&[
        "push",
        "--connect",
        &format!("1@{primary_ep}"),
        "--connect",
        &format!("2@{backup_ep}"),
        "--stats",
        // Options reach the socket: heartbeats on, and an HWM far above use.
        "--heartbeat",
        "250",
        "--hwm",
        "5000",
    ]);
    push.wait_err("active tier 1  ready 2 of");
    // The table's row for the primary: its priorities and room under --hwm.
    let row = loop {
        let line = push.wait_err(&primary_ep);
        if line.contains(" ready ") {
            break line;
        }
    };
    assert!(row.contains(" 1/1 ") && row.contains(" 5000 "), "{row}");

    // Tier 1 takes everything while it is there.
    push.write_lines(numbers(0..100));
    let got: Vec<String> = (0..100).map(|_| primary.next_line()).collect();
    assert_eq!(got, numbers(0..100));

    // The primary dies having printed all it got: the push fails over.
    primary.kill();
    push.wait_err("failover: tier 1 -> tier 2");
    push.write_lines(numbers(100..200));
    let got: Vec<String> = (0..100).map(|_| backup.next_line()).collect();
    assert_eq!(got, numbers(100..200));

    // A new primary on the same port: the push reconnects and fails back.
    let mut revived = Proc::spawn(&["pull", "--bind", &primary_ep]);
    push.wait_err("failback: tier 2 -> tier 1");
    push.write_lines(numbers(200..300));
    let got: Vec<String> = (0..100).map(|_| revived.next_line()).collect();
    assert_eq!(got, numbers(200..300));

    let (code, _, err) = push.finish();
    assert_eq!(code, 0, "{err:?}");
    // --stats also printed the monitor's view of the kill.
    assert!(
        err.iter()
            .any(|l| l.contains(&primary_ep) && l.contains("disconnected")),
        "{err:?}"
    );
    assert!(
        backup.lines_within(Duration::from_millis(300)).is_empty(),
        "the backup got nothing after failback"
    );
}

#[test]
fn raw_frames_carry_binary_multipart_messages() {
    let mut push = Proc::spawn(&["push", "--bind", "tcp://127.0.0.1:0", "--raw"]);
    let ep = push.bound_endpoint();
    let pull =
        std::thread::spawn(move || run(&["pull", "--connect", &ep, "--raw", "--count", "2"], b""));
    // Message 1: "a\tb\n" flagged MORE, then "\0\xff"; message 2: one empty frame.
    let mut input = Vec::new();
    input.extend_from_slice(&0x8000_0004u32.to_be_bytes());
    input.extend_from_slice(b"a\tb\n");
    input.extend_from_slice(&2u32.to_be_bytes());
    input.extend_from_slice(b"\x00\xff");
    input.extend_from_slice(&0u32.to_be_bytes());
    {
        use std::io::Write;
        let stdin = push.stdin.as_mut().unwrap();
        stdin.write_all(&input).unwrap();
        stdin.flush().unwrap();
    }
    let (code, out, err) = pull.join().unwrap();
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, input, "the same frames, MORE flags and all");
    let (code, _, err) = push.finish();
    assert_eq!(code, 0, "{err:?}");
}

#[test]
fn text_frames_are_tab_separated() {
    let mut pull = Proc::spawn(&["pull", "--bind", "tcp://127.0.0.1:0", "--count", "2"]);
    let ep = pull.bound_endpoint();
    let (code, _, err) = run(&["push", "--connect", &ep], b"one\ttwo\tthree\n\n");
    assert_eq!(code, 0, "{err}");
    assert_eq!(pull.next_line(), "one\ttwo\tthree");
    assert_eq!(pull.next_line(), "");
    let (code, _, _) = pull.finish();
    assert_eq!(code, 0);
}

#[test]
fn pull_receives_from_a_libzmq_push() {
    let ctx = zmq::Context::new();
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.set_sndtimeo(20_000).unwrap();
    push.set_linger(5_000).unwrap();
    push.bind("tcp://127.0.0.1:*").unwrap();
    let ep = push.get_last_endpoint().unwrap().unwrap();
    let mut pull = Proc::spawn(&["pull", "--connect", &ep, "--count", "101"]);
    for n in 0..100 {
        push.send(format!("libzmq {n}").as_str(), 0).unwrap();
    }
    push.send_multipart(["part one", "part two"], 0).unwrap();
    for n in 0..100 {
        assert_eq!(pull.next_line(), format!("libzmq {n}"));
    }
    assert_eq!(pull.next_line(), "part one\tpart two");
    let (code, _, err) = pull.finish();
    assert_eq!(code, 0, "{err:?}");
}

#[test]
fn demo_runs_and_loses_nothing() {
    let (code, out, err) = run(&["demo", "--seconds", "4"], b"");
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains("every one was received exactly once: no message lost, none duplicated"),
        "{out}"
    );
    assert!(out.contains("failover: tier 1 -> tier 2"), "{out}");
    assert!(out.contains("failover: tier 2 -> tier 3"), "{out}");
    assert!(out.contains("failback"), "{out}");
    assert!(!out.contains('\x1b'), "no terminal codes into a pipe");
}

/// The hot-standby scene runs unattended, ends by itself, and shows the
/// subscriber switching publishers: both events, messages from both, and
/// none from outside the active tier.
#[test]
fn demo_hot_standby_switches_publishers() {
    let (code, out, err) = run(&["demo", "hot-standby", "--seconds", "6"], b"");
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("failover: tier 1 -> tier 2"), "{out}");
    assert!(out.contains("failback: tier 2 -> tier 1"), "{out}");
    let delivered = out
        .lines()
        .find_map(|l| l.strip_prefix("delivered: primary "))
        .unwrap_or_else(|| panic!("no delivered line: {out}"));
    let (primary, rest) = delivered.split_once(", backup ").unwrap();
    let backup = rest.split(';').next().unwrap();
    assert!(primary.parse::<u64>().unwrap() > 0, "{out}");
    assert!(backup.parse::<u64>().unwrap() > 0, "{out}");
    assert!(
        out.contains("no message was delivered from a publisher outside the active tier"),
        "{out}"
    );
    assert!(!out.contains('\x1b'), "no terminal codes into a pipe");
}

/// Multihoming in `--connect`: libzmq's `SOURCE;HOST:PORT` syntax, with a
/// priority prefix, connects from the source address given (SPEC §9, §11).
#[test]
fn connect_takes_a_source_address_with_a_priority() {
    let ctx = tiermq::Context::new();
    let pull = ctx.socket(tiermq::PULL).unwrap();
    let events = pull.event_monitor();
    pull.set_rcvtimeo(20_000).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.get_last_endpoint().unwrap().unwrap();
    let dest = ep.trim_start_matches("tcp://");
    // 127.0.0.2 is loopback too on Linux, and never the default source.
    let source = format!("1@tcp://127.0.0.2:0;{dest}");
    let (code, _, err) = run(
        &["push", "--connect", &source, "--timeout", "10000"],
        b"from a chosen source\n",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        pull.recv_string(0).unwrap().unwrap(),
        "from a chosen source"
    );
    let accepted = events
        .try_iter()
        .find(|e| e.kind == tiermq::MonitorEventKind::Accepted)
        .expect("an Accepted event");
    assert!(accepted.peer.starts_with("127.0.0.2:"), "{accepted:?}");
}
