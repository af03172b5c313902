//! `tiermq keygen`, `--curve-server`, `--curve-serverkey`/`--curve-client`
//! and `--plain`/`--plain-server`, between tiermq processes and against
//! libzmq. The zmq crate's bundled libzmq has no CURVE, so the CURVE peers
//! are pyzmq processes (`tests/peers/curve_peer.py`); they need python3
//! with pyzmq (`pip install pyzmq`), and a missing one fails the test
//! saying so.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread;

use common::*;

/// `tiermq keygen`'s (public, secret) keys, in Z85.
fn keygen() -> (String, String) {
    let (code, out, err) = run(&["keygen"], b"");
    assert_eq!(code, 0, "{err}");
    let out = String::from_utf8(out).unwrap();
    let key = |label: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label:?} in {out:?}"))
            .to_owned()
    };
    let (public, secret) = (key("public-key "), key("secret-key "));
    assert_eq!((public.len(), secret.len()), (40, 40), "{out}");
    (public, secret)
}

/// A pyzmq CURVE peer (see `tests/peers/curve_peer.py`).
struct CurvePeer {
    child: Child,
    lines: Receiver<String>,
}

impl CurvePeer {
    fn start(args: &[&str]) -> CurvePeer {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/curve_peer.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 must be installed (with pyzmq: `pip install pyzmq`)");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        CurvePeer { child, lines }
    }

    /// The next line; fails, saying to install pyzmq, if none comes.
    fn line(&mut self) -> String {
        self.lines.recv_timeout(WAIT).unwrap_or_else(|_| {
            panic!(
                "the pyzmq CURVE peer said nothing: is pyzmq installed? \
                 Run `pip install pyzmq` (status: {:?})",
                self.child.try_wait()
            )
        })
    }
}

impl Drop for CurvePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `tiermq pull` bound to an ephemeral tcp port with the security
/// options `security`, exiting after `count` messages; and its endpoint.
fn bound_pull(security: &[&str], count: &str) -> (Proc, String) {
    let mut argv = vec!["pull", "--bind", "tcp://127.0.0.1:0"];
    argv.extend_from_slice(security);
    argv.extend(["--count", count]);
    let mut pull = Proc::spawn(&argv);
    let ep = pull.bound_endpoint();
    (pull, ep)
}

/// Runs `tiermq push --connect ep` with the security options `security`
/// and `--timeout timeout_ms`, with `input` on stdin; the exit code and
/// stderr.
fn push(ep: &str, security: &[&str], timeout_ms: &str, input: &[u8]) -> (i32, String) {
    let mut argv = vec!["push", "--connect", ep];
    argv.extend_from_slice(security);
    argv.extend(["--timeout", timeout_ms]);
    let (code, _, err) = run(&argv, input);
    (code, err)
}

/// Asserts that a push with `security` fails with no peer taking its
/// message: the handshake never completes.
fn assert_push_refused(ep: &str, security: &[&str], input: &[u8]) {
    let (code, err) = push(ep, security, "500", input);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no peer took the message"), "{err}");
}

/// Asserts that a push with `security` hands its message over and exits 0.
fn assert_push_delivered(ep: &str, security: &[&str], input: &[u8]) {
    let (code, err) = push(ep, security, "20000", input);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn keygen_pairs_serve_a_libzmq_curve_client() {
    let (public, secret) = keygen();
    assert_ne!(
        keygen(),
        (public.clone(), secret.clone()),
        "a new pair each run"
    );
    let (mut pull, ep) = bound_pull(&["--curve-server", &secret], "1");
    let mut push = CurvePeer::start(&["push", &ep, &public, "over curve"]);
    assert_eq!(push.line(), "sent");
    assert_eq!(pull.next_line(), "over curve");
    assert_exits_ok(pull);
}

#[test]
fn curve_client_reaches_a_libzmq_curve_server_only_with_its_key() {
    let mut pull = CurvePeer::start(&["pull", "tcp://127.0.0.1:*"]);
    let ready = pull.line();
    let mut words = ready.split(' ').skip(1);
    let (ep, server_public) = (
        words.next().unwrap().to_owned(),
        words.next().unwrap().to_owned(),
    );

    // Another server's key: the handshake fails, no peer ever takes the line.
    let (wrong, _) = keygen();
    assert_push_refused(&ep, &["--curve-serverkey", &wrong], b"never\n");

    // The right key, with a client key pair of the user's own.
    let (_, client_secret) = keygen();
    assert_push_delivered(
        &ep,
        &[
            "--curve-serverkey",
            &server_public,
            "--curve-client",
            &client_secret,
        ],
        b"encrypted\n",
    );
    assert_eq!(pull.line(), "encrypted");
}

#[test]
fn curve_between_tiermq_processes() {
    let (public, secret) = keygen();
    let (mut pull, ep) = bound_pull(&["--curve-server", &secret], "1");
    assert_push_delivered(&ep, &["--curve-serverkey", &public], b"tiermq to tiermq\n");
    assert_eq!(pull.next_line(), "tiermq to tiermq");
    assert_exits_ok(pull);
}

#[test]
fn plain_server_admits_only_its_credentials() {
    let (mut pull, ep) = bound_pull(&["--plain-server", "alice:open sesame"], "2");
    assert_push_refused(&ep, &["--plain", "alice:guess"], b"refused\n");
    assert_push_delivered(&ep, &["--plain", "alice:open sesame"], b"admitted\n");
    assert_eq!(pull.next_line(), "admitted");

    // A libzmq PLAIN client with the same credentials.
    let ctx = zmq::Context::new();
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.set_plain_username(Some("alice")).unwrap();
    push.set_plain_password(Some("open sesame")).unwrap();
    push.set_linger(5_000).unwrap();
    push.connect(&ep).unwrap();
    push.send("from libzmq", 0).unwrap();
    assert_eq!(pull.next_line(), "from libzmq");
    assert_exits_ok(pull);
}

#[test]
fn security_usage_errors_exit_2() {
    let (code, _, err) = run(
        &[
            "pull",
            "--bind",
            "tcp://127.0.0.1:0",
            "--curve-server",
            "not-a-key",
        ],
        b"",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("40 Z85 characters"), "{err}");
    let (code, _, err) = run(
        &[
            "push",
            "--connect",
            "tcp://127.0.0.1:1",
            "--plain",
            "no-colon",
        ],
        b"",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("USER:PASS"), "{err}");
}
