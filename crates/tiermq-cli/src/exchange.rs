//! Moving whole messages between the socket and stdin/stdout: sends and
//! receives that wait in short slices (so `--stats` keeps printing) up to a
//! deadline, a stdin reader thread, and a stdout writer that stops quietly
//! when the reader of the pipe goes away.

use std::io::{self, BufWriter, Stdout, Write};
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

use tiermq::{Error, Message, Socket};

use crate::args::SocketArgs;
use crate::error::{CliError, CliResult, describe};
use crate::frames::{Format, Frames, read_message, write_message};
use crate::stats::Stats;

/// The longest single wait inside the socket, so stats and deadlines are
/// looked at often.
pub(crate) const SLICE: Duration = Duration::from_millis(100);

/// The deadline `ms` from now, if a timeout was given.
pub(crate) fn deadline(ms: Option<i32>) -> Option<Instant> {
    ms.map(|ms| Instant::now() + Duration::from_millis(ms.unsigned_abs().into()))
}

/// The socket timeout (ms) for the next slice of a wait until `deadline`.
fn slice_ms(deadline: Option<Instant>) -> i32 {
    let slice = match deadline {
        Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
        None => SLICE,
    };
    i32::try_from(slice.as_millis()).unwrap_or(i32::MAX)
}

fn socket_error(what: &str, e: Error) -> CliError {
    CliError::runtime(format!("{what}: {}", describe(e)))
}

/// How a send ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// A peer took the message.
    Delivered,
    /// No peer could take it before the deadline.
    TimedOut,
    /// ROUTER (mandatory): no peer has the message's identity.
    Unroutable,
}

/// Sends `frames` as one message, waiting for a peer that can take it up to
/// `deadline`.
pub(crate) fn send(
    s: &Socket,
    frames: &Frames,
    deadline: Option<Instant>,
    stats: &mut Stats,
) -> CliResult<Sent> {
    loop {
        stats.tick(s);
        s.set_sndtimeo(slice_ms(deadline))
            .map_err(|e| socket_error("cannot set the send timeout", e))?;
        match s.send_multipart(frames.iter().cloned().map(Message::from), 0) {
            Ok(()) => return Ok(Sent::Delivered),
            Err(Error::EAGAIN) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(Sent::TimedOut);
                }
            }
            Err(Error::EHOSTUNREACH) => return Ok(Sent::Unroutable),
            Err(e) => return Err(socket_error("send failed", e)),
        }
    }
}

/// [`send`] within `--timeout`, where anything but delivery is an error.
pub(crate) fn deliver(
    s: &Socket,
    frames: &Frames,
    args: &SocketArgs,
    stats: &mut Stats,
) -> CliResult<()> {
    match send(s, frames, deadline(args.timeout), stats)? {
        Sent::Delivered => Ok(()),
        Sent::TimedOut => Err(no_peer(args)),
        Sent::Unroutable => Err(CliError::runtime("no peer has the message's identity")),
    }
}

/// The `--timeout` error of a send: nobody could take the message.
pub(crate) fn no_peer(args: &SocketArgs) -> CliError {
    let endpoints: Vec<&str> = args.endpoints.iter().map(|e| e.endpoint.as_str()).collect();
    CliError::runtime(format!(
        "no peer took the message within {} ms (is anything listening on {}?)",
        args.timeout.unwrap_or(0),
        endpoints.join(", ")
    ))
}

/// Receives one whole message, waiting up to `deadline`; `None` if nothing
/// arrived by then.
pub(crate) fn recv(
    s: &Socket,
    deadline: Option<Instant>,
    stats: &mut Stats,
) -> CliResult<Option<Frames>> {
    loop {
        stats.tick(s);
        s.set_rcvtimeo(slice_ms(deadline))
            .map_err(|e| socket_error("cannot set the receive timeout", e))?;
        match s.recv_msg(0) {
            Ok(first) => {
                let mut more = first.get_more();
                let mut frames = vec![first.into_bytes()];
                // The rest of a message arrives with its first frame.
                while more {
                    let m = s
                        .recv_msg(0)
                        .map_err(|e| socket_error("receive failed", e))?;
                    more = m.get_more();
                    frames.push(m.into_bytes());
                }
                return Ok(Some(frames));
            }
            Err(Error::EAGAIN) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(None);
                }
            }
            Err(e) => return Err(socket_error("receive failed", e)),
        }
    }
}

/// What the stdin reader thread hands over.
pub(crate) enum Input {
    /// One whole message.
    Message(Frames),
    /// stdin ended cleanly.
    End,
    /// stdin could not be read or was malformed (raw mode).
    Failed(String),
}

/// Reads stdin on a thread, one message at a time, into a small bounded
/// queue (so a slow socket slows the reading rather than filling memory).
pub(crate) fn spawn_stdin(format: Format) -> Receiver<Input> {
    let (tx, rx) = sync_channel(64);
    let spawned = thread::Builder::new()
        .name("tiermq-stdin".into())
        .spawn(move || {
            let stdin = io::stdin();
            let mut input = stdin.lock();
            loop {
                let item = match read_message(&mut input, format) {
                    Ok(Some(m)) => Input::Message(m),
                    Ok(None) => Input::End,
                    Err(e) => Input::Failed(format!("cannot read stdin: {e}")),
                };
                let last = !matches!(item, Input::Message(_));
                if tx.send(item).is_err() || last {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        // Report through the channel so the caller's loop sees it.
        let (tx, rx) = sync_channel(1);
        let _ = tx.send(Input::Failed(format!("cannot start the stdin reader: {e}")));
        return rx;
    }
    rx
}

/// stdout, message by message. Each message is flushed so a pipe sees it at
/// once; a closed pipe (`EPIPE`) ends the command normally.
pub(crate) struct Output {
    out: BufWriter<Stdout>,
    format: Format,
    hex_identity: bool,
}

/// Whether the writer could go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Written {
    /// The message was written.
    Ok,
    /// stdout's reader is gone: stop.
    Closed,
}

impl Output {
    pub(crate) fn new(format: Format, hex_identity: bool) -> Output {
        Output {
            out: BufWriter::new(io::stdout()),
            format,
            hex_identity,
        }
    }

    /// Writes and flushes one message.
    pub(crate) fn write(&mut self, frames: &[tiermq::Bytes]) -> CliResult<Written> {
        let r = write_message(&mut self.out, self.format, frames, self.hex_identity)
            .and_then(|()| self.out.flush());
        match r {
            Ok(()) => Ok(Written::Ok),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Written::Closed),
            Err(e) => Err(CliError::runtime(format!("cannot write stdout: {e}"))),
        }
    }
}
