//! Running the built `tiermq` binary: children whose stdout and stderr lines
//! arrive on channels, and bounded waits (never timed assertions).
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

/// The generous bound on every wait, so a bug fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tiermq")
}

/// A running `tiermq` with its output lines on channels.
pub struct Proc {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub out: Receiver<String>,
    pub err: Receiver<String>,
    /// Every stderr line seen so far, for failure messages.
    pub err_seen: Vec<String>,
}

fn lines<R: Read + Send + 'static>(r: R) -> Receiver<String> {
    let (tx, rx) = channel();
    thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

impl Proc {
    pub fn spawn(args: &[&str]) -> Proc {
        let mut child = spawn_piped(args);
        let out = lines(child.stdout.take().unwrap());
        let err = lines(child.stderr.take().unwrap());
        Proc {
            stdin: child.stdin.take(),
            child,
            out,
            err,
            err_seen: Vec::new(),
        }
    }

    pub fn write_lines<I: IntoIterator<Item = String>>(&mut self, lines: I) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
        stdin.flush().unwrap();
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next stdout line, within the bound.
    pub fn next_line(&mut self) -> String {
        match self.out.recv_timeout(WAIT) {
            Ok(l) => l,
            Err(e) => panic!(
                "no stdout line ({e:?}); stderr so far: {:?}",
                self.drain_err()
            ),
        }
    }

    /// Stdout lines that arrive within `grace` (for "nothing more came").
    pub fn lines_within(&mut self, grace: Duration) -> Vec<String> {
        let mut got = Vec::new();
        while let Ok(l) = self.out.recv_timeout(grace) {
            got.push(l);
        }
        got
    }

    fn drain_err(&mut self) -> Vec<String> {
        while let Ok(l) = self.err.try_recv() {
            self.err_seen.push(l);
        }
        self.err_seen.clone()
    }

    /// Waits for a stderr line containing `needle` and returns it.
    pub fn wait_err(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.err.recv_timeout(left) {
                Ok(l) => {
                    self.err_seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => panic!(
                    "no stderr line with {needle:?}; stderr: {:?}",
                    self.err_seen
                ),
            }
        }
    }

    /// The endpoint a `--bind tcp://...:0` reported.
    pub fn bound_endpoint(&mut self) -> String {
        let line = self.wait_err("listening on ");
        line.rsplit(' ').next().unwrap().to_owned()
    }

    /// Waits for the process to end, within the bound.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("tiermq did not exit; stderr: {:?}", self.drain_err());
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the end and returns the exit code and all stderr lines.
    pub fn finish(mut self) -> (i32, Vec<String>, Vec<String>) {
        self.close_stdin();
        let status = self.wait();
        let mut out = Vec::new();
        while let Ok(l) = self.out.recv_timeout(Duration::from_secs(5)) {
            out.push(l);
        }
        while let Ok(l) = self.err.recv_timeout(Duration::from_secs(5)) {
            self.err_seen.push(l);
        }
        (
            status.code().unwrap_or(-1),
            out,
            std::mem::take(&mut self.err_seen),
        )
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A failed test must not leave servers running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Closes `p`'s stdin, waits for it to end and asserts it exited 0.
pub fn assert_exits_ok(p: Proc) {
    let (code, _, err) = p.finish();
    assert_eq!(code, 0, "{err:?}");
}

/// Starts `tiermq args` with stdin, stdout and stderr piped.
fn spawn_piped(args: &[&str]) -> std::process::Child {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tiermq binary runs")
}

/// Runs `tiermq args` to completion with `input` on stdin.
pub fn run(args: &[&str], input: &[u8]) -> (i32, Vec<u8>, String) {
    let mut p = spawn_piped(args);
    let mut stdin = p.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut out = p.stdout.take().unwrap();
    let mut err = p.stderr.take().unwrap();
    let out_t = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = p.try_wait().unwrap() {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = p.kill();
            panic!("tiermq {args:?} did not exit");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let _ = feeder.join();
    (
        status.code().unwrap_or(-1),
        out_t.join().unwrap(),
        err_t.join().unwrap(),
    )
}
