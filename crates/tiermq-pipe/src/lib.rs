//! Bounded message queues between an application thread and an I/O thread.
//!
//! A tiermq socket has one pipe per peer and direction. The application
//! thread writes outgoing messages into a pipe and the I/O thread reads them
//! out in batches (and the other way round for incoming messages). The pipe
//! is where the two threads meet, and it carries three of tiermq's promises:
//!
//! - **Busy and ready** (SPEC §3). Capacity is counted in messages, a
//!   multipart message being one `T`, enqueued whole or not at all. The send
//!   that reaches the high-water mark (HWM) returns [`Room::Full`]; from then
//!   on sends fail with [`SendError::Full`] until the reader has drained the
//!   pipe to the low-water mark (LWM, `HWM / 2` by default). That hysteresis
//!   keeps a slow peer from flapping between busy and ready.
//! - **Lossless failover** (SPEC §5). [`Writer::reclaim_unsent`] and
//!   [`Reader::reclaim_unsent`] take back, in order, every message the reader
//!   has not taken, so they can be rerouted. A message the reader has taken
//!   is never handed back, so nothing is sent twice.
//! - **Visible queues** (SPEC §7). [`Stats`] counts what is queued, the room
//!   left and the totals in and out, readable from either end at any time.
//!
//! A pipe made by [`pipe_encoded`] holds the bytes its [`Codec`] turns each
//! message into, on the sender's thread, so a reader that only writes bytes
//! out (a connection) takes many messages as a few chunks
//! ([`Reader::recv_encoded`]). Everything above still counts messages, and
//! what is reclaimed is decoded back.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use tiermq_pipe::{Config, RecvError, Room, SendError, pipe};
//!
//! let (tx, rx) = pipe::<Vec<u8>>(Config::new(4)); // HWM 4, LWM 2
//!
//! // The I/O thread wants to hear when there is something to read.
//! let readable = Arc::new(AtomicBool::new(false));
//! let flag = Arc::clone(&readable);
//! rx.set_waker(Some(Arc::new(move || flag.store(true, Ordering::Release))));
//!
//! for i in 0..3 {
//!     assert_eq!(tx.try_send(vec![i]), Ok(Room::Available));
//! }
//! assert_eq!(tx.try_send(vec![3]), Ok(Room::Full)); // now busy
//! assert!(matches!(tx.try_send(vec![4]), Err(SendError::Full(_))));
//! assert!(readable.load(Ordering::Acquire)); // woken once, by the first message
//!
//! // The I/O thread drains a batch under one lock.
//! let mut batch = Vec::new();
//! assert_eq!(rx.recv_batch(&mut batch, 2), Ok(2));
//! assert!(!tx.is_full()); // drained to the LWM: ready again
//!
//! // The connection dies: take back what was never taken, to reroute it.
//! rx.close();
//! assert_eq!(tx.reclaim_unsent(), vec![vec![2], vec![3]]);
//! assert_eq!(rx.try_recv(), Err(RecvError::Closed));
//! let stats = tx.stats();
//! assert_eq!((stats.total_in, stats.total_out, stats.reclaimed), (4, 2, 2));
//! ```
//!
//! # Wake-ups
//!
//! A pipe never calls into an event loop per message. Each end registers an
//! [`Arc<dyn Wake>`](Wake) (any `Fn() + Send + Sync` closure will do, so this
//! crate does not depend on `mio`):
//!
//! - The **reader's** waker is edge-triggered. It is called when a message
//!   lands in the empty pipe after a receive returned [`RecvError::Empty`],
//!   and when the writer closes. A reader must therefore receive until it
//!   sees `Empty` (or `Closed`) before it goes to sleep, as with `mio`
//!   readiness; in exchange, a reader that is still draining costs the
//!   writer no wake-up at all.
//! - The **writer's** waker is called when the pipe stops being full because
//!   the reader drained it to the LWM (or reclaimed it), and when the reader
//!   closes.
//! - A waker set while its condition already holds is called at once, so a
//!   waker set late misses nothing.
//!
//! Wakers are called after the lock is released, on the thread whose action
//! caused the transition, so they must be quick and must not block. Threads
//! may instead block with [`Writer::send_deadline`], [`Reader::recv_deadline`]
//! and [`Writer::linger`]; a condvar is notified only when someone waits.
//!
//! # Closing
//!
//! Either end may [`close`](Writer::close) (dropping an end closes it). After
//! the writer closes, the reader drains what is queued and then sees
//! `Closed`. After the reader closes, sends fail with
//! [`SendError::Closed`] (the message is handed back) and what is queued
//! stays reclaimable.
//!
//! # Design and concurrency argument
//!
//! All state lives under one `std::sync::Mutex`; each operation holds it for
//! O(1) work, except `recv_batch` taking fewer than all queued messages,
//! which moves at most `max`. A batch that takes everything swaps the queue
//! with a spare one in O(1), and each entry records the running byte total,
//! so a batch's byte count is one subtraction. The writer's cost per message
//! is one uncontended lock and a `VecDeque` push; the I/O thread takes the
//! lock once per batch, so the two rarely meet. A producer with many
//! messages at hand (the I/O thread after decoding a read) uses
//! [`Writer::try_send_batch`]: one lock and at most one wake-up per batch.
//! What a batch cannot save is the hand-off itself: each queued entry is a
//! cache line or so written on one core and read on the other.
//!
//! Atomics mirror the queue length and the `full` and `closed` flags. They
//! make `is_full`, `is_closed` and `is_empty` lock-free, and let a thread
//! about to block in `send_deadline` or `recv_deadline` watch briefly for
//! the hand-off (64 spins, then 8 yields) before it parks on the condvar,
//! which saves a futex wait and wake when the other end is about to act.
//! They are written only under the lock and never decide anything: every
//! decision is re-checked under the lock.
//!
//! Because every decision about waking (the transitions, the reader's
//! armed flag, the count of blocked threads) is made under the same lock
//! as the queue update it depends on, there is no lost-wake-up window to
//! reason about, which is why the crate has no `loom` tests: `loom` is not
//! in the project's dependency policy, and it would add little to a
//! protocol that is entirely mutex- and condvar-guarded. The sequential
//! behaviour is checked step by step against a model with `proptest`, and
//! the threaded behaviour by two-thread stress tests (order, completeness,
//! wake-up counts, and failover in mid-stream). There is no `unsafe` code.
//!
//! A variant with a lock-free `std::sync::mpsc` channel between a lock per
//! end was built and measured; it cost more per message and was no faster
//! across threads (see `docs/benchmarks.md`, "Pipes").
//!
//! # I/O boundary
//!
//! None: this crate does no I/O and has no dependency beyond `bytes` (for
//! its [`Weighted`] implementation). Blocking happens only in the `*_deadline`
//! and `linger` methods.

#![forbid(unsafe_code)]

mod config;
mod error;
mod queue;
mod reader;
mod shared;
mod stats;
mod wake;
mod weight;
mod writer;

use std::sync::Arc;

pub use config::Config;
pub use error::{RecvError, Room, SendError};
pub use queue::{Codec, EncodeBuf};
pub use reader::Reader;
pub use stats::Stats;
pub use wake::Wake;
pub use weight::Weighted;
pub use writer::Writer;

/// Makes a pipe whose messages weigh [`Weighted::weight`] bytes, and returns
/// its two ends.
pub fn pipe<T: Weighted + Send>(config: Config) -> (Writer<T>, Reader<T>) {
    pipe_with(config, T::weight)
}

/// Makes a pipe that holds its messages as the bytes `codec` encodes them
/// into. The writer's `try_send` encodes on its own thread; the reader
/// takes the bytes of many messages at once with
/// [`Reader::recv_encoded`], or decoded messages with the other receives.
/// High-water marks and counters count messages, as in any pipe.
pub fn pipe_encoded<T: Send>(
    config: Config,
    weight: fn(&T) -> usize,
    codec: Arc<dyn Codec<T>>,
) -> (Writer<T>, Reader<T>) {
    let shared = Arc::new(shared::Shared::encoded(config, weight, codec));
    (
        Writer {
            shared: Arc::clone(&shared),
        },
        Reader { shared },
    )
}

/// Makes a pipe whose messages weigh `weight(&msg)` bytes, for types that
/// cannot implement [`Weighted`] here (the orphan rule), such as
/// `tiermq_wire::Multipart`.
pub fn pipe_with<T: Send>(config: Config, weight: fn(&T) -> usize) -> (Writer<T>, Reader<T>) {
    let shared = Arc::new(shared::Shared::new(config, weight));
    (
        Writer {
            shared: Arc::clone(&shared),
        },
        Reader { shared },
    )
}
