//! The pure priority-tier scheduler of tiermq: which pipe gets the next
//! outgoing message ([`Scheduler`]) and which pipe is read next
//! ([`FairQueue`]).
//!
//! It also holds [`Subscriptions`], the prefix trie PUB/XPUB sockets use to
//! find the pipes a topic goes to.
//!
//! # What it is for
//!
//! A tiermq socket has one *pipe* per connected peer. Each pipe has a
//! priority from [`HIGHEST`] (1, most preferred) to [`LOWEST`] (16), default
//! [`DEFAULT_PRIORITY`] (8). Pipes of equal priority form a *tier*. The
//! scheduler sends each message to the most preferred tier that can take it
//! and round-robins within that tier; when that tier empties, traffic moves
//! to the next one (*failover*), and when a more preferred pipe is ready
//! again, traffic moves back (*failback*). This gives active-active,
//! active-passive and tiered (local/remote datacenter) load balancing.
//!
//! # Where the I/O boundary lies
//!
//! This crate does no I/O, spawns no threads and reads no clock: time is an
//! argument (`now: Instant`). The caller (the socket) owns the pipes and
//! tells the scheduler what happened to them:
//!
//! ```text
//!  socket                                   tiermq-sched
//!  ------                                   ------------
//!  peer attached / detached    ─ join/leave ───────►
//!  queue at HWM / back at LWM  ─ set_state(Busy/Ready) ►  Scheduler
//!  send a message              ─ pick(now) / begin..end ►    │
//!                              ◄──────────── PipeId ─────────┘
//!  timer fires                 ─ handle_timeout(now) ►  (poll_timeout)
//!  monitor                     ◄──── poll_event: Failover/Failback
//!
//!  a pipe has input / is empty ─ set_readable ─────►  FairQueue
//!  recv                        ◄────── next() ── PipeId
//! ```
//!
//! # Model
//!
//! - **States.** A send pipe is [`Connecting`](PipeState::Connecting),
//!   [`Ready`](PipeState::Ready), [`Busy`](PipeState::Busy),
//!   [`Dead`](PipeState::Dead) or [`Disconnected`](PipeState::Disconnected).
//!   Only ready pipes are picked; the others differ only for reporting.
//! - **Eligibility.** A ready pipe is *eligible* unless it is waiting out the
//!   failback delay. [`Scheduler::pick`] returns the next eligible pipe, in
//!   round-robin order, of the most preferred tier that has one. Within a
//!   tier whose eligible set does not change, counts of picks per pipe
//!   differ by at most one.
//! - **Failback.** With no delay (the default), failback happens on the very
//!   next pick after a more preferred pipe becomes ready.
//! - **Multipart.** [`Scheduler::begin`] commits a message to one pipe,
//!   [`Scheduler::current`] returns it for every further frame (even if the
//!   pipe has meanwhile left or gone busy: the caller decides), and
//!   [`Scheduler::end`] finishes it. [`Scheduler::pick`] is `begin` + `end`.
//!
//! ## Failback delay
//!
//! [`Scheduler::set_failback_delay`] damps a flapping primary. A pipe that
//! becomes ready while it would move the active tier to a more preferred one
//! is eligible only once it has stayed ready for the delay. A pipe becoming
//! ready in the active tier or a less preferred one is eligible at once, and
//! so is any pipe while no pipe at all is eligible (waiting would only block
//! sends). When the active tier itself moves to a more preferred tier,
//! waiting pipes of that tier or less preferred ones become eligible at
//! once. [`Scheduler::poll_timeout`] says when the next wait ends;
//! [`Scheduler::handle_timeout`], like every call that takes `now`, promotes
//! the pipes whose wait has ended.
//!
//! ## Events
//!
//! [`Scheduler::active_tier`] is the tier the next pick would use. Each call
//! that changes it queues one [`TierEvent`], read with
//! [`Scheduler::poll_event`]: [`Failover`](TierEvent::Failover) for a move
//! to a less preferred tier or to none, [`Failback`](TierEvent::Failback)
//! for a move to a more preferred tier or from none to some.
//!
//! ## Proportional spillover
//!
//! Off by default; [`Scheduler::set_spillover`] switches it on. Instead of
//! sending everything to the active tier, the scheduler gives each tier a
//! share of the traffic by how many of its pipes are eligible, as Envoy does
//! for priority levels with an overprovisioning factor
//! ([`Spillover::overprovisioning_percent`], default 140):
//!
//! - A tier's *members* are all its joined pipes, whatever their state
//!   (connecting, ready, busy, dead or disconnected, as long as they have
//!   not [left](Scheduler::leave)); its *ready* pipes are the eligible ones
//!   (ready and not waiting out the failback delay).
//! - Its *health* is `ready × factor / members` in whole percent, rounded
//!   down and capped at 100. A tier with at least one ready pipe has a
//!   health of at least 1% (Envoy would round it to 0).
//! - Tiers take traffic in preference order: each gets
//!   `min(health × 100 / min(100, Σ health), left)` percent, from
//!   `left = 100`. While the total health is 100% or more this is
//!   `min(health, left)`: the first tier keeps all traffic while its health
//!   is 100% (with factor 140, 8 ready of 10 members) and passes the rest
//!   on; below 100% total, the shares are scaled up to sum to 100% over the
//!   tiers with ready pipes. What rounding leaves over goes to the first
//!   tier with a ready pipe.
//!
//! Within a tier, pipes still take turns round-robin. Which tier gets the
//! next message is decided by a deterministic credit scheme over periods of
//! 100 picks: after any `n` picks since the shares last changed, a tier with
//! share `s` has had `n·s/100` picks rounded down or up, and exactly `s`
//! per complete period. The shares are cached and recomputed only when a
//! pipe joins, leaves, changes tier or becomes eligible or not; a new
//! period starts when they change. The [active tier](Scheduler::active_tier)
//! (the most preferred tier with an eligible pipe, which always has a
//! share), eligibility, the failback delay and the events are the same as
//! without spillover; [`Scheduler::load_share`] tells each tier's share.
//! A pipe is never picked unless eligible, and `pick` returns `None` only
//! when no pipe is.
//!
//! ## Latency tiers
//!
//! [`LatencyTiers`] is a helper for a socket that derives tiers from
//! heartbeat round trips: fed with samples, it assigns each pipe a tier
//! relative to the fastest pipe (tier 1 up to twice the fastest round trip
//! by default, each next tier up to that factor more), damped so that a single outlier or
//! jitter within a margin moves nothing, and returns the [`TierChange`]s for
//! the caller to apply with [`Scheduler::set_priority`] and report.
//!
//! ## Receive side
//!
//! [`FairQueue`] holds the pipes that have input: [`FairQueue::next`] returns
//! a pipe of the most preferred tier with input, round-robin within it. The
//! caller reads one whole message from that pipe.
//!
//! # Cost
//!
//! Each tier keeps an index-linked ring of its eligible pipes, with the
//! ring's head as the round-robin cursor, and a 16-bit mask records which
//! tiers are non-empty, so the best tier is one `trailing_zeros`. Picking,
//! and every state change, is O(1) whatever the number of pipes and tiers;
//! ending a failback wait costs O(1) per pipe promoted. With spillover on, a
//! state change also recomputes the 16 tiers' shares, and a pick looks at
//! each tier with a share (at most 16). Pipe ids index a table, so they must
//! be small and dense (slab keys, at most [`MAX_PIPE_ID`]).
//!
//! # Example
//!
//! ```
//! use std::time::Instant;
//! use tiermq_sched::{PipeId, PipeState, Scheduler, TierEvent};
//!
//! let now = Instant::now();
//! let mut sched = Scheduler::new();
//! let (primary, backup) = (PipeId(0), PipeId(1));
//! sched.join(primary, 1, now)?;
//! sched.join(backup, 2, now)?;
//! sched.set_state(primary, PipeState::Ready, now);
//! sched.set_state(backup, PipeState::Ready, now);
//! assert_eq!(sched.pick(now), Some(primary));
//!
//! // The primary's queue fills up: traffic fails over to the backup.
//! sched.set_state(primary, PipeState::Busy, now);
//! assert_eq!(sched.pick(now), Some(backup));
//! assert_eq!(sched.active_tier(), Some(2));
//!
//! // It drains: the very next message fails back.
//! sched.set_state(primary, PipeState::Ready, now);
//! assert_eq!(sched.pick(now), Some(primary));
//!
//! let events: Vec<_> = std::iter::from_fn(|| sched.poll_event()).collect();
//! assert_eq!(
//!     events,
//!     [
//!         TierEvent::Failback { from: None, to: Some(1) },
//!         TierEvent::Failover { from: Some(1), to: Some(2) },
//!         TierEvent::Failback { from: Some(2), to: Some(1) },
//!     ]
//! );
//! # Ok::<(), tiermq_sched::SchedError>(())
//! ```

mod error;
mod events;
mod fair_queue;
mod latency;
mod ring;
mod scheduler;
mod spillover;
mod subscriptions;
mod tiers;

pub use error::SchedError;
pub use fair_queue::FairQueue;
pub use latency::{LatencyConfig, LatencyTiers, TierChange};
pub use scheduler::Scheduler;
pub use spillover::Spillover;
pub use subscriptions::Subscriptions;

/// The most preferred priority.
pub const HIGHEST: u8 = 1;
/// The least preferred priority.
pub const LOWEST: u8 = 16;
/// The priority of a pipe unless told otherwise.
pub const DEFAULT_PRIORITY: u8 = 8;
/// The largest accepted [`PipeId`]. Tables grow to the largest id joined.
pub const MAX_PIPE_ID: usize = (1 << 24) - 1;

/// Identifies a pipe. Chosen by the caller; small and dense (a slab key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipeId(pub usize);

/// The state of a send pipe, as the socket sees it (SPEC §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipeState {
    /// Joined, handshake not complete yet.
    Connecting,
    /// Can take a message.
    Ready,
    /// Its outgoing queue reached the high-water mark; ready again once it
    /// drains to the low-water mark.
    Busy,
    /// Its heartbeat timed out.
    Dead,
    /// Its connection closed, reset or failed its handshake.
    Disconnected,
}

/// A change of [`Scheduler::active_tier`]. Tiers are priorities; `None`
/// means no pipe was (or is) eligible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TierEvent {
    /// The active tier moved to a less preferred tier, or to none.
    Failover {
        /// The tier before.
        from: Option<u8>,
        /// The tier after.
        to: Option<u8>,
    },
    /// The active tier moved to a more preferred tier, or from none to some.
    Failback {
        /// The tier before.
        from: Option<u8>,
        /// The tier after.
        to: Option<u8>,
    },
}
