//! Test helpers: the transport's ends of a core's pipes carry [`Item`]s;
//! the tests deal in messages.

use tiermq_pipe::{Reader, RecvError};
use tiermq_wire::{Item, Multipart};

/// A pipe end that yields messages.
pub(super) trait RecvMessage {
    /// The next item, which must be a message.
    fn try_recv_msg(&self) -> Result<Multipart, RecvError>;
}

impl RecvMessage for Reader<Item> {
    fn try_recv_msg(&self) -> Result<Multipart, RecvError> {
        self.try_recv()
            .map(|item| item.into_message().expect("a message, not a subscription"))
    }
}

/// The transport's ends of a pipe pair attached to a core.
pub(super) struct NetEnds {
    /// Reads what the core sends to the peer.
    pub(super) rx: Reader<Item>,
    /// Writes what the peer sends to the core.
    pub(super) tx: tiermq_pipe::Writer<Item>,
}

/// Attaches a tcp connection `conn` of a `peer_type` peer to `core`, on a
/// new bind (or connect) link, with unbounded pipes; the priorities are
/// whatever the core's options say now.
pub(super) fn attach_net(
    core: &mut super::Core,
    conn: u64,
    bind: bool,
    peer_type: tiermq_wire::SocketType,
) -> NetEnds {
    use super::{Attachment, ConnKey, Event, LinkKind};
    let link = core.new_link_key();
    core.add_link(
        link,
        "tcp://x:1",
        "tcp://x:1".into(),
        LinkKind::Net { bind, link: None },
    );
    let (out, rx) = crate::events::new_pipe(0);
    let (tx, inp) = crate::events::new_pipe(0);
    core.apply(
        Event::Attached(Attachment {
            conn: ConnKey::Net(0, conn),
            link,
            peer_addr: "peer".into(),
            peer_type,
            identity: bytes::Bytes::new(),
            props: None,
            out,
            inp,
        }),
        std::time::Instant::now(),
    );
    NetEnds { rx, tx }
}

/// Events the pipes' wakers post, collected for [`pump`].
pub(super) type Posted = std::sync::Arc<std::sync::Mutex<Vec<super::Event>>>;

/// A core of `pattern` whose posted events are collected in the returned
/// list rather than applied.
pub(super) fn core_with_posted(
    pattern: super::Pattern,
    wire: tiermq_wire::SocketType,
) -> (super::Core, Posted) {
    let posted = Posted::default();
    let sink = std::sync::Arc::clone(&posted);
    let post = std::sync::Arc::new(move |e| sink.lock().unwrap().push(e));
    (super::Core::new(pattern, wire, post), posted)
}

/// Applies the events the pipes' wakers posted, as the socket would,
/// until none is left.
pub(super) fn pump(core: &mut super::Core, posted: &Posted) {
    loop {
        let events = std::mem::take(&mut *posted.lock().unwrap());
        if events.is_empty() {
            return;
        }
        for e in events {
            core.apply(e, std::time::Instant::now());
        }
    }
}

/// The key of tcp connection `conn` (as [`attach_net`] numbers them).
pub(super) fn net_key(conn: u64) -> super::ConnKey {
    super::ConnKey::Net(0, conn)
}

/// Connection `conn` closes, with nothing unsent.
pub(super) fn detach_net(core: &mut super::Core, conn: u64) {
    let event = super::Event::Detached {
        conn: net_key(conn),
        unsent: Vec::new(),
        dead: false,
    };
    core.apply(event, std::time::Instant::now());
}

/// The heartbeat declares connection `conn` dead, with nothing unsent.
pub(super) fn dead_net(core: &mut super::Core, conn: u64) {
    let event = super::Event::Dead {
        conn: net_key(conn),
        unsent: Vec::new(),
    };
    core.apply(event, std::time::Instant::now());
}

/// Connection `conn` shows a sign of life again.
pub(super) fn revive_net(core: &mut super::Core, conn: u64) {
    let event = super::Event::Revived {
        conn: net_key(conn),
    };
    core.apply(event, std::time::Instant::now());
}
