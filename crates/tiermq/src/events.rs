//! What flows into a socket's core from its pipes, the I/O thread and
//! inproc peers: [`Event`]s, and the names they use (connections, links).
//! A leaf module: the core, the transport glue (`net`) and `inproc` all
//! build on it, and it on none of them.

use std::sync::Arc;

use bytes::Bytes;
use tiermq_pipe::{Reader, Writer};
use tiermq_sched::PipeId;
use tiermq_wire::{Item, Multipart, SocketType as WireType};

use crate::Properties;

/// Which connection a pipe belongs to, unique within the socket's `Context`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ConnKey {
    /// A transport connection: (reactor index, the reactor's `ConnId`).
    Net(usize, u64),
    /// An inproc connection, numbered by the context.
    Inproc(u64),
}

/// Names one `bind` or `connect` of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct LinkKey(pub(crate) u64);

/// A new pipe pair for the socket.
pub(crate) struct Attachment {
    pub(crate) conn: ConnKey,
    pub(crate) link: LinkKey,
    pub(crate) peer_addr: String,
    pub(crate) peer_type: WireType,
    /// The peer's `Identity` (empty if it sent none).
    pub(crate) identity: Bytes,
    /// What a tcp/ipc peer is known by, shared by every message received
    /// from it; `None` for inproc (libzmq gives inproc messages none).
    pub(crate) props: Option<Arc<Properties>>,
    pub(crate) out: Writer<Item>,
    pub(crate) inp: Reader<Item>,
}

/// A change the core must apply, posted from any thread (see `shared`).
pub(crate) enum Event {
    /// A connection completed its handshake (or an inproc pair was made).
    Attached(Attachment),
    /// A connection ended; `unsent` are messages it took but never began to write.
    Detached {
        conn: ConnKey,
        unsent: Vec<Multipart>,
        /// Ended by the heartbeat (the peer is dead).
        dead: bool,
    },
    /// The heartbeat declared a connection's peer dead; the connection
    /// lingers. `unsent` as for `Detached`.
    Dead {
        conn: ConnKey,
        unsent: Vec<Multipart>,
    },
    /// A connection reported `Dead` heard from its peer again.
    Revived { conn: ConnKey },
    /// A connect attempt of this link failed; it retries.
    ConnectRetrying { link: LinkKey },
    /// A heartbeat round trip measured on a connection.
    RoundTrip {
        conn: ConnKey,
        rtt: std::time::Duration,
    },
    /// A pipe's writer has room again, or its reader went away.
    Writable { pipe: PipeId, serial: u64 },
    /// A pipe's reader has input again, or its writer went away.
    Readable { pipe: PipeId, serial: u64 },
}

/// Where a pipe's waker sends the core's events: the owner queues them
/// and applies them with [`Core::apply`].
pub(crate) type Poster = Arc<dyn Fn(Event) + Send + Sync>;

/// Makes a pipe of whole messages (and subscription changes) with
/// high-water mark `hwm` (0 = none).
pub(crate) fn new_pipe(hwm: usize) -> (Writer<Item>, Reader<Item>) {
    tiermq_pipe::pipe_with(tiermq_pipe::Config::new(hwm), Item::byte_len)
}
