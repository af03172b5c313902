//! The `tiermq` command line tool: ZeroMQ-style sockets from a shell, with
//! tiermq's priority tiers, and a self-contained failover demo.
//!
//! The binary (`tiermq`, in `src/main.rs`) only calls [`run`]. This library
//! holds the parts, so they can be tested and reused:
//!
//! - [`args`]: the hand-written command line parser (`PRIO@endpoint`s,
//!   options, per-subcommand help topics);
//! - [`frames`]: how messages look on stdin/stdout: tab-separated lines, or
//!   length-prefixed raw frames;
//! - [`run`]: runs a parsed command and says which exit code it earned;
//! - the subcommands themselves (`push`, `pull`, `req`, `rep`, `dealer`,
//!   `router`, `pub`, `sub`, `pair`, `demo`, `keygen`) behind it.
//!
//! # Example
//!
//! ```
//! use tiermq_cli::args::{parse, Command};
//! use tiermq_cli::frames::{read_message, write_message, Format};
//!
//! // What `tiermq push --connect 1@tcp://127.0.0.1:5555 --raw` means:
//! let Ok(Command::Socket(push)) = parse(["push", "--connect", "1@tcp://127.0.0.1:5555", "--raw"])
//! else { panic!() };
//! assert_eq!(push.endpoints[0].priority, Some(1));
//!
//! // A two-frame message in raw format, and back.
//! let msg = vec![tiermq::Bytes::from("job"), tiermq::Bytes::from("42")];
//! let mut wire = Vec::new();
//! write_message(&mut wire, Format::Raw, &msg, false).unwrap();
//! assert_eq!(read_message(&mut &wire[..], Format::Raw).unwrap(), Some(msg));
//!
//! // Usage errors exit with 2, runtime errors with 1.
//! let err = parse(["push"]).unwrap_err();
//! assert_eq!(err.exit_code(), 2);
//! ```
//!
//! # Where the I/O happens
//!
//! Parsing and the frame codecs are pure. The subcommands read stdin on a
//! reader thread (so the socket side can keep printing `--stats` while
//! waiting), write stdout on the calling thread, and leave all network I/O
//! to the `tiermq` library's own I/O thread. The demo runs its workers on
//! threads of this process and talks to them over loopback tcp.

pub mod args;
mod demo;
pub mod error;
mod exchange;
pub mod frames;
pub mod help;
mod open;
mod pipeline;
mod pubsub;
mod reply;
mod request;
mod security;
mod stats;

pub use error::{CliError, CliResult};

use args::{Command, Role, SocketArgs};
use frames::Format;

/// Parses `args` (without the program name), runs the command, reports any
/// error as one line on stderr (`tiermq: error: ...`), and returns the exit
/// code: 0 done, 1 runtime error, 2 usage error.
pub fn run<I, S>(args: I) -> i32
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let result = args::parse(args).and_then(execute);
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("tiermq: error: {e}");
            e.exit_code()
        }
    }
}

/// Runs a parsed command.
///
/// Errors: whatever stopped it, as a [`CliError`].
pub fn execute(cmd: Command) -> CliResult<()> {
    match cmd {
        Command::Help(topic) => {
            print!("{}", help::text(topic));
            Ok(())
        }
        Command::Version => {
            println!("tiermq {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Demo(d) => demo::run(d),
        Command::Keygen => security::keygen(),
        Command::Socket(s) => run_socket(&s),
    }
}

/// The stdin/stdout format a socket command uses.
fn format(args: &SocketArgs) -> Format {
    if args.raw { Format::Raw } else { Format::Text }
}

fn run_socket(args: &SocketArgs) -> CliResult<()> {
    let ctx = tiermq::Context::new();
    // Bound before the socket exists, so no handshake finds it missing.
    let zap = security::ZapHandler::start(&ctx, args.security.as_deref())?;
    let socket = open::create(&ctx, args)?;
    let mut stats = stats::Stats::new(&socket, args.stats, args.failover);
    let result = open::attach_all(&socket, args).and_then(|()| match args.role {
        Role::Push => pipeline::push(&socket, args, &mut stats),
        Role::Pull => pipeline::pull(&socket, args, &mut stats),
        Role::Req => request::req(&socket, args, &mut stats),
        Role::Rep => reply::rep(&socket, args, &mut stats),
        Role::Dealer => request::dealer(&socket, args, &mut stats),
        Role::Router => reply::router(&socket, args, &mut stats),
        Role::Pub => pubsub::publish(&socket, args, &mut stats),
        // A SUB prints what it receives, as a PULL does.
        Role::Sub => pipeline::pull(&socket, args, &mut stats),
        // A PAIR talks like a DEALER with its one peer.
        Role::Pair => request::dealer(&socket, args, &mut stats),
    });
    stats.finish(&socket);
    if result.is_err() {
        // A failed command exits now rather than waiting to deliver.
        let _ = socket.set_linger(0);
    }
    // Dropping the socket starts its linger; dropping the context waits for it.
    drop(socket);
    drop(zap);
    drop(ctx);
    result
}
