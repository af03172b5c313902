//! `tiermq push` and `tiermq pull`.

use std::sync::mpsc::RecvTimeoutError;

use tiermq::Socket;

use crate::args::SocketArgs;
use crate::error::{CliError, CliResult};
use crate::exchange::{self, Input, Output, SLICE, Written};
use crate::stats::Stats;

/// Sends each stdin message, until stdin ends or `--count` were sent.
pub(crate) fn push(s: &Socket, args: &SocketArgs, stats: &mut Stats) -> CliResult<()> {
    let input = exchange::spawn_stdin(crate::format(args));
    let mut sent = 0u64;
    while args.count.is_none_or(|n| sent < n) {
        let frames = match input.recv_timeout(SLICE) {
            Ok(Input::Message(m)) => m,
            Ok(Input::End) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(Input::Failed(e)) => return Err(CliError::runtime(e)),
            Err(RecvTimeoutError::Timeout) => {
                stats.tick(s);
                continue;
            }
        };
        exchange::deliver(s, &frames, args, stats)?;
        sent += 1;
    }
    Ok(())
}

/// Prints each message received, until `--count` were printed.
pub(crate) fn pull(s: &Socket, args: &SocketArgs, stats: &mut Stats) -> CliResult<()> {
    let mut out = Output::new(crate::format(args), false);
    let mut received = 0u64;
    while args.count.is_none_or(|n| received < n) {
        let Some(frames) = exchange::recv(s, exchange::deadline(args.timeout), stats)? else {
            return Err(nothing_within(args, received));
        };
        received += 1;
        if out.write(&frames)? == Written::Closed {
            break;
        }
    }
    Ok(())
}

/// The `--timeout` error of a receive.
pub(crate) fn nothing_within(args: &SocketArgs, received: u64) -> CliError {
    let progress = match args.count {
        Some(n) => format!(" (got {received} of {n})"),
        None => String::new(),
    };
    CliError::runtime(format!(
        "no message within {} ms{progress}",
        args.timeout.unwrap_or(0)
    ))
}
