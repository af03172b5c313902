//! `tiermq req` (one request, one reply, in lockstep) and `tiermq dealer`
//! (send and receive independently).

use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use tiermq::{Bytes, Socket};

use crate::args::SocketArgs;
use crate::error::{CliError, CliResult};
use crate::exchange::{self, Input, Output, SLICE, Written};
use crate::frames::Frames;
use crate::stats::Stats;

/// How long `dealer` waits for more replies after stdin ended, by default.
const DEALER_QUIET_MS: i32 = 1000;

/// How long `dealer` listens to the socket before looking at stdin again.
const DEALER_TURN: Duration = Duration::from_millis(20);

/// The next stdin message, ticking stats while waiting; `None` at the end.
pub(crate) fn next_input(
    input: &Receiver<Input>,
    s: &Socket,
    stats: &mut Stats,
) -> CliResult<Option<Frames>> {
    loop {
        match input.recv_timeout(SLICE) {
            Ok(Input::Message(m)) => return Ok(Some(m)),
            Ok(Input::End) | Err(RecvTimeoutError::Disconnected) => return Ok(None),
            Ok(Input::Failed(e)) => return Err(CliError::runtime(e)),
            Err(RecvTimeoutError::Timeout) => stats.tick(s),
        }
    }
}

/// For each stdin message: send it, wait for the reply, print the reply.
pub(crate) fn req(s: &Socket, args: &SocketArgs, stats: &mut Stats) -> CliResult<()> {
    let input = exchange::spawn_stdin(crate::format(args));
    let mut out = Output::new(crate::format(args), false);
    let mut done = 0u64;
    while args.count.is_none_or(|n| done < n) {
        let Some(request) = next_input(&input, s, stats)? else {
            break;
        };
        exchange::deliver(s, &request, args, stats)?;
        let Some(reply) = exchange::recv(s, exchange::deadline(args.timeout), stats)? else {
            return Err(CliError::runtime(format!(
                "no reply within {} ms",
                args.timeout.unwrap_or(0)
            )));
        };
        done += 1;
        if out.write(&reply)? == Written::Closed {
            break;
        }
    }
    Ok(())
}

/// Sends stdin's messages as they come and prints whatever arrives. After
/// stdin ends it keeps printing until nothing arrived for `--timeout` ms
/// (default 1000), or until `--count` messages were received.
pub(crate) fn dealer(s: &Socket, args: &SocketArgs, stats: &mut Stats) -> CliResult<()> {
    let input = exchange::spawn_stdin(crate::format(args));
    let mut out = Output::new(crate::format(args), false);
    let quiet = Duration::from_millis(
        args.timeout
            .unwrap_or(DEALER_QUIET_MS)
            .unsigned_abs()
            .into(),
    );
    let mut stdin_open = true;
    let mut last_activity = Instant::now();
    let mut received = 0u64;
    while args.count.is_none_or(|n| received < n) {
        while stdin_open {
            match input.try_recv() {
                Ok(Input::Message(mut m)) => {
                    if args.delimiter {
                        m.insert(0, Bytes::new());
                    }
                    exchange::deliver(s, &m, args, stats)?;
                    last_activity = Instant::now();
                }
                Ok(Input::End) | Err(TryRecvError::Disconnected) => {
                    stdin_open = false;
                    last_activity = Instant::now();
                }
                Ok(Input::Failed(e)) => return Err(CliError::runtime(e)),
                Err(TryRecvError::Empty) => break,
            }
        }
        if let Some(mut m) = exchange::recv(s, Some(Instant::now() + DEALER_TURN), stats)? {
            if args.delimiter && m.first().is_some_and(Bytes::is_empty) {
                m.remove(0);
            }
            received += 1;
            last_activity = Instant::now();
            if out.write(&m)? == Written::Closed {
                break;
            }
        } else if !stdin_open && last_activity.elapsed() >= quiet {
            break;
        }
    }
    Ok(())
}
