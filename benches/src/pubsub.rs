//! PUB→N SUB throughput: one publisher process, one subscriber process
//! holding N SUB sockets, for every library alike.
//!
//! # Method
//!
//! - **One subscriber process.** Sixteen subscriber processes on a 2-core
//!   machine would measure the scheduler. The `sub` role holds all N SUB
//!   sockets: the libzmq-API libraries poll them from one thread, the async
//!   ones run one task per socket on their runtime.
//! - **No slow joiners.** Every payload starts with a kind byte
//!   ([`WARM`], [`DATA`], [`END`]). The publisher sends a warm-up message
//!   every millisecond until the subscriber process says, on the control
//!   link, that each of its sockets has seen one; only then does data flow.
//! - **Credit, not drops.** PUB drops for a subscriber at HWM, and zmq.rs
//!   and omq have no way to make it block, so a free-running publisher
//!   would measure how fast a library drops. Instead each SUB reports how
//!   many data messages it has received every `window / 4` messages, and
//!   the publisher keeps at most `window` (HWM / 4, at most 512) messages
//!   ahead of the slowest socket. Whatever is dropped anyway is counted
//!   (`dropped=` in the result) rather than hidden; when the credit stalls
//!   for [`STALL`] [`MAX_STALLS`] times, messages are lost for good and the
//!   publisher stops waiting for it.
//! - **The clock** runs on the subscriber side, from the first data message
//!   on any socket to the last one on every socket. Each socket times
//!   `count` messages after its first, so the aggregate is `N × count`
//!   messages (less any dropped) in that span.
//! - **The end.** After its `count + 1` data messages the publisher sends an
//!   end marker every millisecond until the subscriber process reports that
//!   every socket has seen one; a socket that lost data messages stops its
//!   clock at the marker.
//!
//! The control link is a plain loopback TCP connection, the same for every
//! library, so its cost does not favour one.

mod control;
mod tally;
mod zmq_like;

#[cfg(feature = "peers")]
mod omq;
#[cfg(feature = "peers")]
mod rzmq;
#[cfg(feature = "peers")]
mod zeromq;

pub use control::{ControlListener, Credit, Fanout, MAX_STALLS, STALL};
pub use tally::{Tally, summarize};

use crate::{Error, Lib, Report, Role, Spec};

/// First payload byte of a warm-up message.
pub const WARM: u8 = 0;
/// First payload byte of a data message.
pub const DATA: u8 = 7;
/// First payload byte of the end marker.
pub const END: u8 = 1;

/// How many messages the publisher may run ahead of the slowest subscriber:
/// a quarter of the HWM, and at most 512. libzmq's writer learns what its
/// reader took only every HWM / 2 messages (the low-water mark), and reads
/// those notices at most about once a millisecond while it sends, so the
/// window must stay well below HWM / 2: 2500 at HWM 10 000 still dropped
/// in tests.
pub fn window(spec: &Spec) -> u64 {
    u64::from(spec.hwm / 4).clamp(1, 512)
}

/// A payload of `size` bytes whose first byte is `kind`.
pub fn payload(size: usize, kind: u8) -> Vec<u8> {
    let mut p = vec![kind; size];
    if let Some(rest) = p.get_mut(1..) {
        rest.fill(DATA);
    }
    p
}

/// The three payloads a publisher sends, made once in the library's own
/// message type.
pub(crate) struct Payloads<T> {
    warm: T,
    data: T,
    end: T,
}

impl<T> Payloads<T> {
    /// Warm-up, data and end payloads of `size` bytes, each passed through
    /// `make`.
    pub(crate) fn new(size: usize, make: impl Fn(Vec<u8>) -> T) -> Self {
        let [warm, data, end] = [WARM, DATA, END].map(|k| make(payload(size, k)));
        Self { warm, data, end }
    }

    /// The payload for `kind` ([`WARM`], [`END`], anything else is data).
    pub(crate) fn of(&self, kind: u8) -> &T {
        match kind {
            WARM => &self.warm,
            END => &self.end,
            _ => &self.data,
        }
    }
}

/// Says on stderr how often the publisher waited in vain for credit, if it
/// ever did.
pub(crate) fn report_stalls(credit: &Credit) {
    if credit.stalls() > 0 {
        eprintln!(
            "tiermq-bench pub: waited in vain for credit {} time(s)",
            credit.stalls()
        );
    }
}

/// An async publisher's run on `rt`: accepts the control link (its
/// reader wakes the credit wait), then [`publish_async`] with `send`
/// taking each payload as `Bytes`; says how often it stalled.
///
/// Errors: the control link's, `send`'s, or a timeout waiting for the
/// subscribers.
#[cfg(feature = "peers")]
pub(crate) fn publish_bytes_on(
    rt: &tokio::runtime::Runtime,
    spec: &Spec,
    control: ControlListener,
    mut send: impl AsyncFnMut(bytes::Bytes) -> Result<(), Error>,
) -> Result<(), Error> {
    let notify = std::sync::Arc::new(tokio::sync::Notify::new());
    let waker = std::sync::Arc::clone(&notify);
    let credit = control.accept(spec, Some(Box::new(move || waker.notify_one())))?;
    let payloads = Payloads::new(spec.size, bytes::Bytes::from);
    let out = rt.block_on(publish_async(spec, &credit, &notify, async |kind| {
        send(payloads.of(kind).clone()).await
    }));
    report_stalls(&credit);
    out
}

/// Awaits every SUB task and collects their tallies, in order.
///
/// Errors: the first task's error, or a task that panicked.
#[cfg(feature = "peers")]
pub(crate) async fn join_tallies(
    tasks: Vec<tokio::task::JoinHandle<Result<Tally, Error>>>,
) -> Result<Vec<Tally>, Error> {
    let mut tallies = Vec::with_capacity(tasks.len());
    for t in tasks {
        tallies.push(
            t.await
                .map_err(|e| Error::new(format!("a SUB task: {e}")))??,
        );
    }
    Ok(tallies)
}

/// Runs a `pub` or `sub` role (see [`crate::run`]).
///
/// `pub` announces, through `on_bound`, its endpoint and the control
/// link's address separated by a space.
pub fn run(
    spec: &Spec,
    on_bound: &mut dyn FnMut(&str),
    hold: &mut (dyn FnMut() + Send),
) -> Result<Report, Error> {
    if spec.size == 0 {
        return Err(Error::new("PUB/SUB needs at least the kind byte"));
    }
    match spec.role {
        Role::Pub => {
            let control = ControlListener::bind()?;
            let addr = control.addr().to_string();
            let mut announce = |ep: &str| on_bound(&format!("{ep} {addr}"));
            match spec.lib {
                Lib::Libzmq => zmq_like::libzmq::publish(spec, control, &mut announce, hold)?,
                Lib::Tiermq => zmq_like::tiermq::publish(spec, control, &mut announce, hold)?,
                #[cfg(feature = "peers")]
                Lib::Zeromq => zeromq::publish(spec, control, &mut announce, hold)?,
                #[cfg(feature = "peers")]
                Lib::Omq => omq::publish(spec, control, &mut announce, hold)?,
                #[cfg(feature = "peers")]
                Lib::Rzmq | Lib::RzmqUring => rzmq::publish(spec, control, &mut announce, hold)?,
                other => return Err(unsupported(other)),
            }
            Ok(Report {
                secs: None,
                count: spec.count,
                size: spec.size,
                rss_kib: crate::peak_rss_kib(),
                delivery: None,
                // Not measured for PUB/SUB.
                switches: None,
                spilled: None,
            })
        }
        Role::Sub => {
            let addr = spec
                .control
                .as_deref()
                .ok_or_else(|| Error::new("sub needs --control"))?;
            let fanout = std::sync::Arc::new(Fanout::connect(addr, spec)?);
            let tallies = match spec.lib {
                Lib::Libzmq => zmq_like::libzmq::subscribe(spec, &fanout)?,
                Lib::Tiermq => zmq_like::tiermq::subscribe(spec, &fanout)?,
                #[cfg(feature = "peers")]
                Lib::Zeromq => zeromq::subscribe(spec, &fanout)?,
                #[cfg(feature = "peers")]
                Lib::Omq => omq::subscribe(spec, &fanout)?,
                #[cfg(feature = "peers")]
                Lib::Rzmq | Lib::RzmqUring => rzmq::subscribe(spec, &fanout)?,
                other => return Err(unsupported(other)),
            };
            fanout.done()?;
            summarize(&tallies, spec)
        }
        other => Err(Error::new(format!(
            "{} is not a PUB/SUB role",
            other.name()
        ))),
    }
}

/// The publisher's run for a library whose send never waits (PUB drops
/// instead): warm-ups until every SUB has one, `count + 1` data messages
/// within the credit window, then end markers until every SUB has one.
/// `send` sends a message of the given kind.
///
/// Errors: `send`'s, or a timeout waiting for the subscribers.
pub(crate) fn publish_blocking(
    spec: &Spec,
    credit: &Credit,
    mut send: impl FnMut(u8) -> Result<(), Error>,
) -> Result<(), Error> {
    let tick = std::time::Duration::from_millis(1);
    let deadline = std::time::Instant::now() + crate::RECV_TIMEOUT;
    while !credit.ready() {
        if std::time::Instant::now() >= deadline {
            return Err(Error::timeout("every subscriber to see a warm-up"));
        }
        send(WARM)?;
        std::thread::sleep(tick);
    }
    for seq in 0..=spec.count {
        credit.wait(seq);
        send(DATA)?;
    }
    let deadline = std::time::Instant::now() + crate::RECV_TIMEOUT;
    while !credit.done() {
        if std::time::Instant::now() >= deadline {
            return Err(Error::timeout("every subscriber to see the end"));
        }
        send(END)?;
        std::thread::sleep(tick);
    }
    Ok(())
}

/// [`publish_blocking`] for the async libraries: the same steps, waiting
/// for credit on `notify` (which the control link's reader wakes) so the
/// runtime keeps driving the sockets meanwhile.
///
/// Errors: `send`'s, or a timeout waiting for the subscribers.
#[cfg(feature = "peers")]
pub(crate) async fn publish_async(
    spec: &Spec,
    credit: &Credit,
    notify: &tokio::sync::Notify,
    mut send: impl AsyncFnMut(u8) -> Result<(), Error>,
) -> Result<(), Error> {
    use std::time::{Duration, Instant};
    let tick = Duration::from_millis(1);
    let deadline = Instant::now() + crate::RECV_TIMEOUT;
    while !credit.ready() {
        if Instant::now() >= deadline {
            return Err(Error::timeout("every subscriber to see a warm-up"));
        }
        send(WARM).await?;
        tokio::time::sleep(tick).await;
    }
    for seq in 0..=spec.count {
        while !credit.allows(seq) {
            if tokio::time::timeout(control::STALL, notify.notified())
                .await
                .is_err()
            {
                credit.stall(seq);
            }
        }
        send(DATA).await?;
    }
    let deadline = Instant::now() + crate::RECV_TIMEOUT;
    while !credit.done() {
        if Instant::now() >= deadline {
            return Err(Error::timeout("every subscriber to see the end"));
        }
        send(END).await?;
        tokio::time::sleep(tick).await;
    }
    Ok(())
}

fn unsupported(lib: Lib) -> Error {
    if matches!(lib, Lib::Zeromq | Lib::Omq | Lib::Rzmq | Lib::RzmqUring) {
        Error::new(format!(
            "{} needs the `peers` feature of tiermq-benches",
            lib.name()
        ))
    } else {
        Error::new(format!("{} has no PUB/SUB", lib.name()))
    }
}

#[cfg(test)]
mod tests {
    use crate::zmq_like::tests::two_ends;

    #[test]
    fn payload_kinds() {
        assert_eq!(super::payload(3, super::END), vec![1, 7, 7]);
        assert_eq!(super::payload(1, super::WARM), vec![0]);
    }

    #[test]
    fn tiermq_and_libzmq_fan_out_to_four_subscribers_without_loss() {
        // libzmq's PUB learns what its pipes drained only every HWM / 2
        // messages, so under load it can drop within any credit window
        // (docs/benchmarks.md): its HWM here is above the whole run, which
        // leaves nothing to drop and tests the harness alone.
        for (lib, hwm) in [("tiermq", "2000"), ("libzmq", "50000")] {
            for transport in ["tcp", "ipc"] {
                let common = [transport, "64", "20000", "--hwm", hwm];
                let mut p = vec!["pub", lib];
                p.extend(common);
                let mut s = vec!["sub", lib];
                s.extend(common);
                s.extend(["--subs", "4"]);
                let (p, s) = two_ends(&p, &s);
                let s = s.unwrap();
                let d = s.delivery.unwrap();
                assert_eq!((d.subs, d.dropped), (4, 0), "{lib} {transport}");
                assert_eq!(s.count, 4 * 20000, "{lib} {transport}");
                assert!(s.secs.is_some_and(|t| t > 0.0), "{lib} {transport}");
                assert_eq!(p.unwrap().secs, None);
            }
        }
    }

    #[cfg(feature = "peers")]
    #[test]
    fn the_async_peers_fan_out_on_both_runtimes() {
        for lib in ["zeromq", "omq", "rzmq", "rzmq-uring"] {
            for runtime in ["current", "multi"] {
                let common = ["tcp", "16", "3000", "--hwm", "2000", "--runtime", runtime];
                let mut p = vec!["pub", lib];
                p.extend(common);
                let mut s = vec!["sub", lib];
                s.extend(common);
                s.extend(["--subs", "3"]);
                let (p, s) = two_ends(&p, &s);
                let s = s.unwrap();
                let d = s.delivery.unwrap();
                assert_eq!((d.subs, d.dropped), (3, 0), "{lib} {runtime}");
                assert_eq!(s.count, 3 * 3000, "{lib} {runtime}");
                p.unwrap();
            }
        }
    }
}
