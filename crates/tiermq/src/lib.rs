//! tiermq: ZeroMQ sockets, in pure Rust, whose senders prefer peers by
//! priority tier and fail over and back on their own.
//!
//! tiermq speaks ZMTP 3.1 (so it talks to libzmq peers) and offers the API
//! of the `zmq` crate (rust-zmq 0.10): code written for it compiles after
//! `use tiermq as zmq;`. What it adds is the choice of peer: every endpoint
//! has a send priority (1 most preferred ..= 16, default 8). A PUSH (or
//! DEALER, or REQ) socket sends each message to the most preferred tier that
//! has a ready peer, round-robin inside the tier. A peer that disconnects,
//! dies (heartbeat) or is busy (its queue reached SNDHWM) drops out of its
//! tier; the messages it still held are rerouted, in order, to the next
//! ready peer; and the moment it can take messages again it gets the next
//! one (failback).
//!
//! # Example: a primary and a backup
//!
//! ```
//! use tiermq::{Context, DONTWAIT, PULL, PUSH};
//!
//! # fn main() -> tiermq::Result<()> {
//! let ctx = Context::new();
//! let push = ctx.socket(PUSH)?;
//! push.set_sndprio(1)?; // endpoints bound from now on are tier 1
//! push.bind("inproc://primary")?;
//! push.set_sndprio(2)?;
//! push.bind("inproc://backup")?;
//!
//! let primary = ctx.socket(PULL)?;
//! primary.connect("inproc://primary")?;
//! let backup = ctx.socket(PULL)?;
//! backup.connect("inproc://backup")?;
//!
//! // Everything goes to the primary while it can take it.
//! for i in 0..5 {
//!     push.send(format!("job {i}").as_str(), 0)?;
//! }
//! for i in 0..5 {
//!     assert_eq!(primary.recv_string(0)?.unwrap(), format!("job {i}"));
//! }
//! assert_eq!(backup.recv_bytes(DONTWAIT), Err(tiermq::Error::EAGAIN));
//!
//! // The primary goes away: the next message fails over to the backup.
//! drop(primary);
//! push.send("job 5", 0)?;
//! assert_eq!(backup.recv_string(0)?.unwrap(), "job 5");
//! assert_eq!(push.active_tier(), Some(2));
//! # Ok(())
//! # }
//! ```
//!
//! # Where the I/O happens
//!
//! The application's thread never touches a network socket. `send` puts a
//! message into a peer's in-memory pipe (`tiermq-pipe`) and `recv` takes one
//! out; the choice of pipe is made by the pure scheduler (`tiermq-sched`).
//! tcp and ipc connections live on I/O threads (`tiermq-transport`, started
//! on the first tcp/ipc `bind` or `connect`), which move bytes between the
//! pipes and the kernel through the ZMTP state machine (`tiermq-wire`).
//! inproc connections are pipes between two sockets of one [`Context`] with
//! no thread and no copy in between.
//!
//! Bytes that the kernel has already accepted for a connection that then
//! dies are lost with it, as with every ZMTP implementation; what tiermq
//! still holds is rerouted.
//!
//! # Closing
//!
//! As with libzmq, dropping a socket returns at once. If it still holds
//! messages for tcp/ipc peers, it lingers on a background thread, still
//! rerouting if a peer dies, for up to LINGER (default -1: until delivered
//! or no peer remains); the end of its [`Context`] (the last handle and
//! socket dropped) waits for that, like `zmq_ctx_term`, and
//! [`Context::destroy`] cuts it short. Messages in an inproc pipe stay
//! readable by the peer after the sender is gone.
//!
//! # Request and reply
//!
//! REQ sends each request to the most preferred ready peer, like PUSH, and
//! takes the reply only from the peer that got it. If that peer goes away
//! (or is declared dead by the heartbeat) before it answers, the request is
//! sent again at once to the best ready peer; the caller's `recv` keeps
//! waiting and gets exactly one reply. A reply that arrived before its peer
//! went away (a server that answers and closes) is delivered, and nothing
//! is resent.
//!
//! ```
//! use tiermq::{Context, REP, REQ};
//!
//! # fn main() -> tiermq::Result<()> {
//! let ctx = Context::new();
//! let req = ctx.socket(REQ)?;
//! req.set_sndprio(1)?;
//! req.bind("inproc://primary")?;
//! req.set_sndprio(2)?;
//! req.bind("inproc://backup")?;
//! let primary = ctx.socket(REP)?;
//! primary.connect("inproc://primary")?;
//! let backup = ctx.socket(REP)?;
//! backup.connect("inproc://backup")?;
//!
//! req.send("job", 0)?;
//! assert_eq!(primary.recv_bytes(0)?, b"job");
//! drop(primary); // dies holding the request
//! assert_eq!(backup.recv_bytes(0)?, b"job"); // resent to the backup
//! backup.send("done", 0)?;
//! assert_eq!(req.recv_bytes(0)?, b"done");
//! # Ok(())
//! # }
//! ```
//!
//! # Seeing the queues
//!
//! [`Socket::peers`] lists every connection (and every connect that has none
//! at the moment) with its priorities, state, queue depth, room left and
//! counters; [`Socket::active_tier`] says which tier gets the next message;
//! [`Socket::event_monitor`] is a bounded stream of connection, peer-state
//! and tier events that never slows the socket down when nobody reads it;
//! [`Socket::monitor`] is the zmq crate's, libzmq's events on a PAIR.
//!
//! # Async and event loops
//!
//! [`AsyncSocket`] (from [`Socket::into_async`]) sends and receives whole
//! multipart messages with `send(msg).await` and `recv().await`, and is a
//! `futures_core::Stream` and a `futures_sink::Sink`, on any runtime (the
//! socket wakes its tasks itself). Its futures are cancel-safe, and a send
//! waits while the active tier has no room (HWM). A [`Monitor`] is a
//! `Stream` of events too. For loops that own the waiting,
//! [`Socket::get_fd`] is libzmq's ZMQ_FD, and [`PollItem::from_fd`] mixes
//! plain descriptors with sockets in [`poll()`]. The guide's "Async" section
//! has the details.
//!
//! # Supported so far
//!
//! PUSH/PULL, REQ/REP, DEALER/ROUTER, PUB/SUB/XPUB/XSUB and PAIR over tcp,
//! ipc and inproc, with REQ_RELAXED, REQ_CORRELATE, a REQ resend interval,
//! ROUTER_MANDATORY and ROUTER_HANDOVER, the XPUB options and CONFLATE;
//! heartbeats (a dead peer fails over like a disconnected one); tiered
//! fan-out and the hot-standby subscriber (`set_sub_failover`); `peers()`,
//! `active_tier()`, `event_monitor()` and the zmq-style
//! `monitor(endpoint, events)`; the proxies; NULL, PLAIN and CURVE with
//! ZAP; the async face and `get_fd`/`PollItem::from_fd`.

#[cfg(test)]
mod tests {
    fn is_send<T: Send>() {}
    fn is_send_sync<T: Send + Sync>() {}

    #[test]
    fn sockets_move_between_threads_and_contexts_are_shared() {
        is_send::<crate::Socket>();
        is_send_sync::<crate::Context>();
        is_send_sync::<crate::Message>();
        is_send_sync::<crate::Error>();
    }
}

mod applier;
mod async_socket;
mod async_timer;
mod async_wake;
mod context;
mod core;
mod endpoint;
mod envelope;
mod error;
mod events;
mod handles;
mod inproc;
mod message;
mod monitor;
mod net;
mod options;
mod peer;
mod poll;
mod poll_fd;
mod properties;
mod proxy;
mod reactor_watch;
mod security;
mod shared;
mod socket;
mod socket_type;
mod sync;
mod zap;
mod zmq_monitor;

pub use async_socket::{AsyncSocket, RecvMessage, SendMessage};
pub use bytes::Bytes;
pub use context::Context;
pub use error::{Error, Result};
pub use message::Message;
pub use monitor::{DEFAULT_MONITOR_CAPACITY, Monitor, MonitorEvent, MonitorEventKind};
pub use peer::{Peer, PeerState};
pub use poll::{POLLERR, POLLIN, POLLOUT, PollEvents, PollItem, poll};
pub use properties::Properties;
pub use proxy::{proxy, proxy_steerable, proxy_steerable_with_capture, proxy_with_capture};
pub use security::{CurveKeyPair, DecodeError, EncodeError, Mechanism, z85_decode, z85_encode};
pub use socket::{DONTWAIT, SNDMORE, Sendable, Socket};
pub use socket_type::SocketType;
pub use socket_type::SocketType::*;
pub use tiermq_sched::TierEvent;
pub use zmq_monitor::SocketEvent;
