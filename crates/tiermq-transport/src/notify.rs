//! What the reactor tells the socket: the [`Sink`] trait, [`Notification`]s,
//! the reasons a connection ends, and monitor events.

use std::fmt;
use std::io;
use std::time::Duration;

use mio::Token;
use tiermq_pipe::{Reader, Writer};
use tiermq_wire::{Item, Multipart, PeerInfo, ZapRequest};

/// Identifies one connection, unique for the life of its [`Reactor`](crate::Reactor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Identifies one bind or connect, unique for the life of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u64);

/// Where a ZAP reply goes: the connection that asked. Pass it back to
/// [`Reactor::zap_reply`](crate::Reactor::zap_reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZapTicket {
    pub(crate) token: Token,
    pub(crate) conn: ConnId,
}

/// Receives a link's notifications.
///
/// `notify` is called on the reactor's I/O thread. It must be quick and must
/// never block (no blocking locks shared with a thread that waits on the
/// reactor, such as a caller of [`Reactor::bind`](crate::Reactor::bind)):
/// every connection of that reactor waits while it runs.
pub trait Sink: Send + Sync {
    /// Delivers one notification.
    fn notify(&self, n: Notification);
}

/// Something that happened on a link.
pub enum Notification {
    /// A handshake completed: here is the connection's new pipe pair.
    ///
    /// The application sends into `out` and receives from `inp`. Messages
    /// may already be waiting in `inp`.
    ///
    /// Closing (or dropping) only `inp` makes the reactor discard what
    /// arrives; closing only `out` stops sending. Once the application has
    /// closed both and everything queued in `out` was written, the reactor
    /// closes the connection ([`DetachReason::Closed`]).
    Attached {
        /// The connection.
        conn: ConnId,
        /// Which bind or connect made it.
        link: LinkId,
        /// For a connect, the endpoint as given; for a bind, the bound
        /// endpoint (its `last_endpoint`).
        endpoint: String,
        /// The peer's address: `ip:port` for tcp, the socket path for ipc.
        peer_addr: String,
        /// libzmq's `Peer-Address` message property: the peer's IP for tcp,
        /// `localhost:UID:GID:PID` of the peer process for ipc.
        peer_address: String,
        /// What the peer announced in its handshake.
        peer: PeerInfo,
        /// Messages (and subscription changes) to send to the peer.
        out: Writer<Item>,
        /// Messages (and subscription changes) received from the peer.
        inp: Reader<Item>,
    },
    /// An attached connection ended. Its pipes are closed: `inp` still yields
    /// what was received, and `out.reclaim_unsent()` returns what the reactor
    /// never took. Sent only for connections that were `Attached`.
    Detached {
        /// The connection.
        conn: ConnId,
        /// Why it ended.
        reason: DetachReason,
        /// Messages the reactor took from `out` but never wrote completely
        /// (a message cut short never reaches the peer), in order; they are
        /// older than anything still in `out`.
        unsent: Vec<Multipart>,
    },
    /// The heartbeat declared an attached connection's peer dead (SPEC §3).
    /// The reactor stops taking messages from `out`; what it took and never
    /// began to write comes back here. The connection stays open for the
    /// wire config's `dead_linger`: [`Revived`](Notification::Revived)
    /// follows if the peer sends anything in that time, else `Detached`
    /// (also sent at once when there is no linger).
    Dead {
        /// The connection.
        conn: ConnId,
        /// Messages the reactor took from `out` but never began to write, in
        /// order; they are older than anything still in `out`.
        unsent: Vec<Multipart>,
    },
    /// A connection reported [`Dead`](Notification::Dead) heard from its
    /// peer again; the reactor takes messages from `out` again.
    Revived {
        /// The connection.
        conn: ConnId,
    },
    /// A heartbeat round trip was measured on an attached connection: the
    /// peer answered one of our PINGs (see
    /// [`tiermq_wire::Event::Pong`]). Sent for each such PONG, so only when
    /// the wire config's `heartbeat_ivl` is set, about once per interval.
    /// `rtt` runs from when the reactor queued the PING to when it decoded
    /// the PONG; it includes the time both sides took to get to them.
    RoundTrip {
        /// The connection.
        conn: ConnId,
        /// The measured round-trip time.
        rtt: Duration,
    },
    /// A connection's handshake waits for a ZAP (RFC 27) verdict on its
    /// peer (only for links whose wire config has `zap` set). Answer with
    /// [`Reactor::zap_reply`](crate::Reactor::zap_reply) and `ticket`; the
    /// handshake times out if no answer comes.
    ZapRequest {
        /// The connection.
        conn: ConnId,
        /// Which bind or connect made it.
        link: LinkId,
        /// The link's endpoint.
        endpoint: String,
        /// The peer's address (RFC 27's "address": the IP for tcp).
        peer_addr: String,
        /// The mechanism and credentials the session collected.
        request: ZapRequest,
        /// Where the answer goes.
        ticket: ZapTicket,
    },
    /// A monitor event, for the socket's monitor.
    Monitor(MonitorEvent),
}

impl fmt::Debug for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notification::Attached {
                conn,
                link,
                endpoint,
                peer_addr,
                peer,
                ..
            } => f
                .debug_struct("Attached")
                .field("conn", conn)
                .field("link", link)
                .field("endpoint", endpoint)
                .field("peer_addr", peer_addr)
                .field("peer", peer)
                .finish_non_exhaustive(),
            Notification::Detached {
                conn,
                reason,
                unsent,
            } => f
                .debug_struct("Detached")
                .field("conn", conn)
                .field("reason", reason)
                .field("unsent", &unsent.len())
                .finish(),
            Notification::Dead { conn, unsent } => f
                .debug_struct("Dead")
                .field("conn", conn)
                .field("unsent", &unsent.len())
                .finish(),
            Notification::Revived { conn } => {
                f.debug_struct("Revived").field("conn", conn).finish()
            }
            Notification::RoundTrip { conn, rtt } => f
                .debug_struct("RoundTrip")
                .field("conn", conn)
                .field("rtt", rtt)
                .finish(),
            Notification::ZapRequest { conn, request, .. } => f
                .debug_struct("ZapRequest")
                .field("conn", conn)
                .field("request", request)
                .finish_non_exhaustive(),
            Notification::Monitor(e) => f.debug_tuple("Monitor").field(e).finish(),
        }
    }
}

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DetachReason {
    /// The peer closed the connection (end of stream).
    PeerClosed,
    /// The operating system reported an error, e.g. `ConnectionReset`.
    Io(io::ErrorKind),
    /// The protocol failed: bad input, an incompatible peer, a handshake
    /// timeout, or a heartbeat timeout (the peer is dead, see
    /// [`is_dead`](DetachReason::is_dead)).
    Wire(tiermq_wire::Error),
    /// We closed it: unbind, disconnect, shutdown, or the application closed
    /// the connection's pipes.
    Closed,
}

impl DetachReason {
    /// Whether the peer was declared dead by the heartbeat (SPEC §3).
    pub fn is_dead(&self) -> bool {
        matches!(
            self,
            DetachReason::Wire(tiermq_wire::Error::HeartbeatTimeout)
        )
    }
}

impl fmt::Display for DetachReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DetachReason::PeerClosed => f.write_str("peer closed the connection"),
            DetachReason::Io(kind) => write!(f, "i/o error: {kind}"),
            DetachReason::Wire(e) => write!(f, "protocol error: {e}"),
            DetachReason::Closed => f.write_str("closed locally"),
        }
    }
}

/// A link's lifecycle event, mirroring libzmq's socket monitor events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MonitorEvent {
    /// A bind is listening on `endpoint` (its `last_endpoint`).
    Listening {
        /// The bind.
        link: LinkId,
        /// The bound endpoint.
        endpoint: String,
    },
    /// A bind failed; the error was also returned by `bind`.
    BindFailed {
        /// The endpoint as given.
        endpoint: String,
        /// The operating system's error.
        error: io::ErrorKind,
    },
    /// A listener accepted a connection; its handshake begins.
    Accepted {
        /// The bind.
        link: LinkId,
        /// The new connection.
        conn: ConnId,
        /// The bound endpoint.
        endpoint: String,
        /// The peer's address.
        peer_addr: String,
    },
    /// Accepting failed (for example, out of file descriptors). The listener
    /// keeps listening.
    AcceptFailed {
        /// The bind.
        link: LinkId,
        /// The bound endpoint.
        endpoint: String,
        /// The operating system's error.
        error: io::ErrorKind,
    },
    /// A connect attempt is in progress (the kernel did not complete it at
    /// once).
    ConnectDelayed {
        /// The connect.
        link: LinkId,
        /// The endpoint as given.
        endpoint: String,
    },
    /// A connect attempt succeeded; its handshake begins.
    Connected {
        /// The connect.
        link: LinkId,
        /// The new connection.
        conn: ConnId,
        /// The endpoint as given.
        endpoint: String,
        /// The peer's address.
        peer_addr: String,
    },
    /// The link will try to connect again after `ivl`.
    ConnectRetried {
        /// The connect.
        link: LinkId,
        /// The endpoint as given.
        endpoint: String,
        /// The delay before the next attempt.
        ivl: Duration,
    },
    /// A handshake completed; an [`Notification::Attached`] follows.
    HandshakeSucceeded {
        /// The bind or connect.
        link: LinkId,
        /// The connection.
        conn: ConnId,
        /// The link's endpoint.
        endpoint: String,
        /// The peer's address.
        peer_addr: String,
    },
    /// A connection ended before its handshake completed.
    HandshakeFailed {
        /// The bind or connect.
        link: LinkId,
        /// The connection.
        conn: ConnId,
        /// The link's endpoint.
        endpoint: String,
        /// The peer's address.
        peer_addr: String,
        /// Why.
        reason: DetachReason,
    },
    /// An established connection (accepted or connected, with or without a
    /// completed handshake) ended.
    Disconnected {
        /// The bind or connect.
        link: LinkId,
        /// The connection.
        conn: ConnId,
        /// The link's endpoint.
        endpoint: String,
        /// The peer's address.
        peer_addr: String,
        /// Why.
        reason: DetachReason,
    },
    /// A bind stopped listening (unbind or shutdown).
    Closed {
        /// The bind.
        link: LinkId,
        /// The bound endpoint.
        endpoint: String,
    },
}
