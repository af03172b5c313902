//! tiermq's measurement harness: the same workloads run on tiermq, libzmq
//! and (with the `peers` feature) the other Rust ZeroMQ implementations, so
//! their figures can be put side by side.
//!
//! Three ways in:
//!
//! - **criterion benches** (`cargo bench -p tiermq-benches`): PUSH→PULL
//!   throughput and REQ→REP round trips, tiermq and libzmq in one process and
//!   one run, over tcp, ipc and inproc.
//! - **the `tiermq-bench` binary**: one role of one library per process, as
//!   users measure (a sender process and a receiver process). Every workload
//!   is a [`Spec`]; [`run`] executes it.
//! - **`cargo xtask bench`**: builds the binary with `--features peers`, runs
//!   the whole matrix (medians of interleaved runs) and writes the table to
//!   `target/bench-report.md`.
//!
//! # Where the I/O happens
//!
//! Nothing here is pure: every role opens real sockets. What the roles share
//! is the protocol between processes, which is plain text on stdio so any
//! driver can use it:
//!
//! - a binding role (`pull`, `rep`, `raw-reader`, `raw-pong`) prints `ENDPOINT <ep>` once
//!   it listens; the driver passes `<ep>` to the connecting role; `pub`
//!   prints `ENDPOINT <ep> <control>`, and `sub` gets `--control <control>`
//!   too (see [`pubsub`]);
//! - the role that owns the clock (`pull`, `req`, `raw-reader`, `raw-ping`,
//!   `sub`, and the in-process `push-pull`, `req-rep` and `tiered`) prints
//!   `RESULT secs=<s> count=<n> size=<bytes> rss_kib=<peak>` and exits
//!   (`sub` adds `subs=<N> dropped=<n> slowest=<msg/s>`);
//! - the other role keeps its connection open until its standard input
//!   closes (so no library's close-time behaviour can cut a run short), then
//!   prints `PEER rss_kib=<peak>` and exits;
//! - both lines end with `vcsw=<n> ivcsw=<n>` where the role measured its
//!   process's voluntary and involuntary context switches over its part of
//!   the timed run (see [`switches`]); a driver that doesn't know these
//!   fields ignores them.
//!
//! The receiver of a throughput run starts its clock at the first message
//! and stops it at the last, so `count` messages are timed after the first;
//! a round-trip run times `count` round trips after one warm-up round trip.
//!
//! # Example
//!
//! ```
//! use tiermq_benches::{Spec, run};
//!
//! // 1000 messages of 16 bytes from a tiermq PUSH to a tiermq PULL, inproc.
//! let spec = Spec::parse(["push-pull", "tiermq", "inproc", "16", "1000"])?;
//! let report = run(&spec, &mut |_endpoint| {}, &mut || {})?;
//! assert_eq!(report.count, 1000);
//! assert!(report.secs.is_some());
//! # Ok::<(), tiermq_benches::Error>(())
//! ```

pub mod curve;
mod error;
pub mod pubsub;
pub mod raw;
mod spec;
pub mod switches;
pub mod tiered;
pub mod zmq_like;

#[cfg(feature = "peers")]
pub mod omq_peer;
#[cfg(feature = "peers")]
pub mod rzmq_peer;
#[cfg(feature = "peers")]
pub mod tiermq_async;
#[cfg(feature = "peers")]
pub mod zeromq_peer;

pub use curve::CurveKeys;
pub use error::Error;
pub use spec::{Lib, Role, Runtime, Spec, Transport, USAGE};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Message sizes every throughput workload covers, in bytes.
pub const SIZES: &[usize] = &[16, 256, 4096, 65536];

/// How long a receiving role waits for any one message before it gives up:
/// long enough for the slowest peer on a loaded machine, short enough that
/// a lost message fails a run instead of hanging it.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(30);

/// What one role measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Report {
    /// Seconds for `count` messages or round trips; `None` for a role that
    /// does not own the clock (a sender, a REP).
    pub secs: Option<f64>,
    /// Messages (or round trips, or chunks) timed.
    pub count: u64,
    /// Payload bytes per message or chunk.
    pub size: usize,
    /// Peak resident set of this process (kernel's `VmHWM`), in KiB.
    pub rss_kib: Option<u64>,
    /// For the `sub` role: how the messages spread over its sockets.
    pub delivery: Option<Delivery>,
    /// This process's context switches over its part of the timed run,
    /// where the role measures them.
    pub switches: Option<switches::Switches>,
    /// For the `tiered` role (tiermq): the share of messages sent below the
    /// first tier ([`tiered::Tiered::spilled`]).
    pub spilled: Option<f64>,
}

/// What a `sub` role adds to its [`Report`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Delivery {
    /// SUB sockets in the process.
    pub subs: usize,
    /// Data messages that never arrived, over all sockets.
    pub dropped: u64,
    /// The slowest socket's own rate (messages after its first over its
    /// own first-to-last span), in messages per second.
    pub slowest: f64,
}

impl Report {
    /// The line the binary prints for this report (see the crate docs).
    pub fn line(&self) -> String {
        let rss = self.rss_kib.unwrap_or(0);
        let delivery = self.delivery.map_or(String::new(), |d| {
            format!(
                " subs={} dropped={} slowest={:.0}",
                d.subs, d.dropped, d.slowest
            )
        });
        let switches = self.switches.map_or(String::new(), |w| {
            format!(" vcsw={} ivcsw={}", w.voluntary, w.involuntary)
        });
        let spilled = self
            .spilled
            .map_or(String::new(), |s| format!(" spilled={s:.4}"));
        match self.secs {
            Some(secs) => format!(
                "RESULT secs={secs:.6} count={} size={} rss_kib={rss}{delivery}{switches}{spilled}",
                self.count, self.size
            ),
            None => format!("PEER rss_kib={rss}{switches}"),
        }
    }
}

/// Runs `spec`'s role to the end.
///
/// `on_bound` is called once with the endpoint a binding role listens on
/// (the one a peer must connect to). `hold` is called by a role that does
/// not own the clock once its part is done, and must return when the run is
/// over; the role then closes its sockets.
///
/// Errors: a library's error, a timeout ([`RECV_TIMEOUT`]) or a message of
/// the wrong size; also [`Error`] for a library this build lacks (the
/// `peers` feature) or a combination it doesn't offer (inproc across
/// processes, for instance).
pub fn run(
    spec: &Spec,
    on_bound: &mut dyn FnMut(&str),
    hold: &mut (dyn FnMut() + Send),
) -> Result<Report, Error> {
    if matches!(spec.role, Role::Pub | Role::Sub) {
        return pubsub::run(spec, on_bound, hold);
    }
    let mut spilled = None;
    let secs = match spec.lib {
        Lib::Tiermq | Lib::Libzmq if spec.role == Role::Tiered => {
            let t = tiered::run(spec)?;
            spilled = t.spilled;
            Some(t.elapsed)
        }
        Lib::Tiermq => zmq_like::tiermq::run(spec, on_bound, hold)?,
        Lib::Libzmq => zmq_like::libzmq::run(spec, on_bound, hold)?,
        Lib::Raw => raw::run(spec, on_bound, hold)?,
        #[cfg(feature = "peers")]
        Lib::Zeromq => zeromq_peer::run(spec, on_bound, hold)?,
        #[cfg(feature = "peers")]
        Lib::Omq => omq_peer::run(spec, on_bound, hold)?,
        #[cfg(feature = "peers")]
        Lib::Rzmq | Lib::RzmqUring => rzmq_peer::run(spec, on_bound, hold)?,
        #[cfg(feature = "peers")]
        Lib::TiermqAsync => tiermq_async::run(spec, on_bound, hold)?,
        #[cfg(not(feature = "peers"))]
        Lib::Zeromq | Lib::Omq | Lib::Rzmq | Lib::RzmqUring | Lib::TiermqAsync => {
            return Err(Error::new(format!(
                "{} needs the `peers` feature of tiermq-benches",
                spec.lib.name()
            )));
        }
    };
    Ok(Report {
        secs: secs.map(|d| d.as_secs_f64()),
        count: spec.count,
        size: spec.size,
        rss_kib: peak_rss_kib(),
        delivery: None,
        switches: switches::span(),
        spilled,
    })
}

/// A fresh endpoint to bind for `transport`, in the form the libzmq family
/// understands (`tcp://127.0.0.1:*` for an ephemeral port).
///
/// ipc paths live in the temporary directory and carry the process id and a
/// counter, so concurrent runs never collide; inproc names carry the counter.
pub fn bind_endpoint(transport: Transport) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    match transport {
        Transport::Tcp => "tcp://127.0.0.1:*".to_string(),
        Transport::Ipc => format!(
            "ipc://{}/tiermq-bench-{}-{n}.sock",
            std::env::temp_dir().display(),
            std::process::id()
        ),
        Transport::Inproc => format!("inproc://tiermq-bench-{n}"),
    }
}

/// Removes the socket file of an `ipc://` endpoint once a run is over
/// (libraries differ in whether they do); other endpoints are left alone.
pub fn remove_ipc_file(endpoint: &str) {
    if let Some(path) = endpoint.strip_prefix("ipc://") {
        let _ = std::fs::remove_file(path);
    }
}

/// This process's peak resident set in KiB (`VmHWM` in
/// `/proc/self/status`), or `None` where that file doesn't exist.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines() {
        let r = Report {
            secs: Some(0.5),
            count: 10,
            size: 16,
            rss_kib: Some(1234),
            delivery: None,
            switches: None,
            spilled: None,
        };
        assert_eq!(
            r.line(),
            "RESULT secs=0.500000 count=10 size=16 rss_kib=1234"
        );
        let p = Report { secs: None, ..r };
        assert_eq!(p.line(), "PEER rss_kib=1234");
        let d = Report {
            delivery: Some(Delivery {
                subs: 4,
                dropped: 2,
                slowest: 1000.4,
            }),
            ..r
        };
        assert_eq!(
            d.line(),
            "RESULT secs=0.500000 count=10 size=16 rss_kib=1234 subs=4 dropped=2 slowest=1000"
        );
        let w = Report {
            switches: Some(switches::Switches {
                voluntary: 7,
                involuntary: 3,
            }),
            ..r
        };
        assert_eq!(
            w.line(),
            "RESULT secs=0.500000 count=10 size=16 rss_kib=1234 vcsw=7 ivcsw=3"
        );
        assert_eq!(
            Report { secs: None, ..w }.line(),
            "PEER rss_kib=1234 vcsw=7 ivcsw=3"
        );
        let t = Report {
            spilled: Some(0.25),
            ..r
        };
        assert_eq!(
            t.line(),
            "RESULT secs=0.500000 count=10 size=16 rss_kib=1234 spilled=0.2500"
        );
    }

    #[test]
    fn endpoints_are_fresh() {
        let a = bind_endpoint(Transport::Ipc);
        let b = bind_endpoint(Transport::Ipc);
        assert_ne!(a, b);
        assert!(a.starts_with("ipc://"));
        assert!(bind_endpoint(Transport::Inproc).starts_with("inproc://"));
        assert_eq!(bind_endpoint(Transport::Tcp), "tcp://127.0.0.1:*");
    }

    #[test]
    fn peak_rss_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_kib().is_some_and(|kib| kib > 0));
        }
    }
}
