//! `tiermq rep` and `tiermq router`: print what arrives and answer it, by
//! echo, by running a command, or from stdin.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc::TryRecvError;
use std::thread;
use std::time::{Duration, Instant};

use tiermq::{Bytes, Socket};

use crate::args::{Reply, SocketArgs};
use crate::error::{CliError, CliResult};
use crate::exchange::{self, Input, Output, Sent, Written, no_peer};
use crate::frames::{Format, Frames, hex, unhex, write_message};
use crate::pipeline::nothing_within;
use crate::request::next_input;
use crate::stats::Stats;

/// How long `router` listens to the socket before looking at stdin again.
const ROUTER_TURN: Duration = Duration::from_millis(20);

/// For each request: print it, then answer it (`--echo`, `--exec`, or the
/// next stdin message). Stops after `--count` answers, or when stdin ends
/// while answers come from stdin.
pub(crate) fn rep(s: &Socket, args: &SocketArgs, stats: &mut Stats) -> CliResult<()> {
    let format = crate::format(args);
    let mut out = Output::new(format, false);
    let input = (args.reply == Reply::Stdin).then(|| exchange::spawn_stdin(format));
    let mut done = 0u64;
    while args.count.is_none_or(|n| done < n) {
        let Some(request) = exchange::recv(s, exchange::deadline(args.timeout), stats)? else {
            return Err(nothing_within(args, done));
        };
        if out.write(&request)? == Written::Closed {
            break;
        }
        let answer = match (&args.reply, &input) {
            (Reply::Echo, _) => request,
            (Reply::Exec(cmd), _) => vec![run_command(cmd, &request, format)?],
            (Reply::Stdin, Some(input)) => match next_input(input, s, stats)? {
                Some(m) => m,
                None => break,
            },
            (Reply::Stdin, None) => break,
        };
        exchange::deliver(s, &answer, args, stats)?;
        done += 1;
    }
    Ok(())
}

/// Prints each message with its sender's identity (hex, in text mode) and
/// answers it with `--echo`/`--exec`; without them, routes stdin's messages
/// (`HEXID<TAB>frames...`, or raw frames whose first is the identity) while
/// printing what arrives. Stops after `--count` received messages.
pub(crate) fn router(s: &Socket, args: &SocketArgs, stats: &mut Stats) -> CliResult<()> {
    let format = crate::format(args);
    let mut out = Output::new(format, true);
    let mut input = (args.reply == Reply::Stdin).then(|| exchange::spawn_stdin(format));
    let mut received = 0u64;
    while args.count.is_none_or(|n| received < n) {
        if let Some(rx) = &input {
            match forward_stdin(s, args, rx, stats)? {
                StdinState::Open => {}
                StdinState::Ended => input = None,
            }
        }
        // With stdin to watch, listen in short turns; else as --timeout says.
        let deadline = if input.is_some() {
            Some(Instant::now() + ROUTER_TURN)
        } else {
            exchange::deadline(args.timeout)
        };
        let Some(msg) = exchange::recv(s, deadline, stats)? else {
            if input.is_some() {
                continue;
            }
            return Err(nothing_within(args, received));
        };
        received += 1;
        if out.write(&msg)? == Written::Closed {
            break;
        }
        let answer = match &args.reply {
            Reply::Stdin => continue,
            Reply::Echo => msg,
            Reply::Exec(cmd) => {
                let (mut envelope, body) = split_envelope(msg);
                envelope.push(run_command(cmd, &body, format)?);
                envelope
            }
        };
        route(s, &answer, args, stats)?;
    }
    Ok(())
}

/// Sends a ROUTER message; one whose peer is gone is skipped with a warning
/// (the router goes on serving the others).
fn route(s: &Socket, msg: &Frames, args: &SocketArgs, stats: &mut Stats) -> CliResult<()> {
    match exchange::send(s, msg, exchange::deadline(args.timeout), stats)? {
        Sent::Delivered => Ok(()),
        Sent::TimedOut => Err(no_peer(args)),
        Sent::Unroutable => {
            let id = msg.first().map_or_else(String::new, |id| hex(id));
            eprintln!("tiermq: warning: no peer with identity {id}; message dropped");
            Ok(())
        }
    }
}

enum StdinState {
    Open,
    Ended,
}

/// Sends every stdin message already read, addressed by its identity.
fn forward_stdin(
    s: &Socket,
    args: &SocketArgs,
    input: &std::sync::mpsc::Receiver<Input>,
    stats: &mut Stats,
) -> CliResult<StdinState> {
    loop {
        match input.try_recv() {
            Ok(Input::Message(m)) => {
                let Some(msg) = addressed(m, crate::format(args)) else {
                    eprintln!(
                        "tiermq: warning: skipped a stdin line that does not start with a hex identity and a tab"
                    );
                    continue;
                };
                route(s, &msg, args, stats)?;
            }
            Ok(Input::End) | Err(TryRecvError::Disconnected) => return Ok(StdinState::Ended),
            Ok(Input::Failed(e)) => return Err(CliError::runtime(e)),
            Err(TryRecvError::Empty) => return Ok(StdinState::Open),
        }
    }
}

/// A stdin message for ROUTER: in text mode the first field is the peer's
/// identity in hex and at least one frame follows it.
fn addressed(mut m: Frames, format: Format) -> Option<Frames> {
    if m.len() < 2 {
        return None;
    }
    if format == Format::Text {
        m[0] = Bytes::from(unhex(&m[0]).filter(|id| !id.is_empty())?);
    }
    Some(m)
}

/// Splits a ROUTER message into its envelope (the identity, and the frames up
/// to and including the first empty delimiter, if there is one) and its body.
fn split_envelope(mut msg: Frames) -> (Frames, Frames) {
    let end = msg
        .iter()
        .skip(1)
        .position(Bytes::is_empty)
        .map_or(1, |i| i + 2)
        .min(msg.len());
    let body = msg.split_off(end);
    (msg, body)
}

/// Runs `sh -c cmd` with `request` on its stdin (in the command's format)
/// and returns its stdout as one frame (in text mode without the final
/// newline). A failing command still answers, with a warning on stderr.
fn run_command(cmd: &str, request: &[Bytes], format: Format) -> CliResult<Bytes> {
    let mut input = Vec::new();
    write_message(&mut input, format, request, false)
        .map_err(|e| CliError::runtime(format!("cannot encode the request for --exec: {e}")))?;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| CliError::runtime(format!("cannot run sh -c {cmd:?}: {e}")))?;
    // Feed stdin from a thread so a command that writes before it has read
    // everything cannot deadlock with us.
    let stdin = child.stdin.take();
    let feeder = thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            // A command that ignores its input closes the pipe early: fine.
            let _ = stdin.write_all(&input);
        }
    });
    let mut output = Vec::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout
            .read_to_end(&mut output)
            .map_err(|e| CliError::runtime(format!("cannot read the output of {cmd:?}: {e}")))?;
    }
    let status = child
        .wait()
        .map_err(|e| CliError::runtime(format!("cannot wait for {cmd:?}: {e}")))?;
    let _ = feeder.join();
    if !status.success() {
        eprintln!("tiermq: warning: {cmd:?} exited with {status}; answering with its output");
    }
    if format == Format::Text && output.last() == Some(&b'\n') {
        output.pop();
    }
    Ok(Bytes::from(output))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(parts: &[&str]) -> Frames {
        parts
            .iter()
            .map(|p| Bytes::copy_from_slice(p.as_bytes()))
            .collect()
    }

    #[test]
    fn envelope_ends_at_the_first_delimiter() {
        assert_eq!(
            split_envelope(frames(&["id", "", "body", "more"])),
            (frames(&["id", ""]), frames(&["body", "more"]))
        );
        assert_eq!(
            split_envelope(frames(&["id", "body"])),
            (frames(&["id"]), frames(&["body"]))
        );
        assert_eq!(
            split_envelope(frames(&["id"])),
            (frames(&["id"]), frames(&[]))
        );
    }

    #[test]
    fn stdin_lines_for_router_need_a_hex_identity() {
        let m = addressed(frames(&["00ab", "hi"]), Format::Text).unwrap();
        assert_eq!(m[0].as_ref(), b"\x00\xab");
        assert_eq!(addressed(frames(&["zz", "hi"]), Format::Text), None);
        assert_eq!(addressed(frames(&["00ab"]), Format::Text), None);
        assert_eq!(addressed(frames(&["", "hi"]), Format::Text), None);
    }

    #[test]
    fn commands_answer_with_their_output() {
        let out = run_command("tr a-z A-Z", &frames(&["hello", "world"]), Format::Text).unwrap();
        assert_eq!(out.as_ref(), b"HELLO\tWORLD");
        let out = run_command("printf x; exit 3", &frames(&["ignored"]), Format::Text).unwrap();
        assert_eq!(out.as_ref(), b"x");
    }
}
