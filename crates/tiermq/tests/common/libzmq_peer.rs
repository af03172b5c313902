//! A libzmq peer in its own process (`tests/peers/libzmq_peer.py`, with
//! pyzmq), for tests that kill or freeze (SIGSTOP) a real endpoint.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::Duration;

/// A running `libzmq_peer.py`; killed (after a SIGCONT) when dropped.
pub struct Peer {
    pub child: Child,
    /// Its stdout lines after the first.
    pub lines: Receiver<String>,
    /// What followed "ready" on its first line (pub: the endpoint bound).
    pub ready: String,
}

impl Peer {
    /// Starts `libzmq_peer.py ARGS` and waits for its "ready" line. Fails
    /// the test, saying to install pyzmq, if it does not come.
    pub fn start(args: &[&str]) -> Peer {
        let (child, lines, first) = start_python("libzmq_peer.py", args, false);
        let ready = match first.strip_prefix("ready") {
            Some(rest) => rest.trim().to_owned(),
            None => panic!("the libzmq peer said {first:?} instead of \"ready\""),
        };
        Peer {
            child,
            lines,
            ready,
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill(1)")
            .success();
        assert!(ok, "kill {sig} failed");
    }

    /// SIGSTOP: the process stops, its connections stay open.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT.
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Still running (libzmq aborts on some protocol surprises).
    pub fn assert_alive(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the libzmq peer died"
        );
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        self.kill();
    }
}

/// Starts `python3 tests/peers/SCRIPT ARGS`, with its stdin piped when
/// `piped_stdin` (a peer may wait for it to close), and waits for its
/// first stdout line; returns the process, its later lines and that first
/// line. Fails the test, saying to install pyzmq, if no line comes.
pub fn start_python(
    script: &str,
    args: &[&str],
    piped_stdin: bool,
) -> (Child, Receiver<String>, String) {
    let path = format!("{}/tests/peers/{script}", env!("CARGO_MANIFEST_DIR"));
    let stdin = if piped_stdin {
        Stdio::piped()
    } else {
        Stdio::inherit()
    };
    let mut child = Command::new("python3")
        .arg(path)
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 must be installed (with pyzmq: `pip install pyzmq`)");
    let lines = read_lines(child.stdout.take().unwrap());
    let first = lines
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| {
            panic!(
                "the libzmq peer {script} did not start: is pyzmq (with CURVE) installed? \
                 Run `pip install pyzmq` (status: {:?})",
                child.try_wait()
            )
        });
    (child, lines, first)
}

/// `out`'s lines on a channel, read on a thread of their own.
pub fn read_lines(out: ChildStdout) -> Receiver<String> {
    let (tx, rx) = channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
