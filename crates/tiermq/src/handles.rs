//! What a socket keeps to close or re-register its links: the transport
//! link of a tcp/ipc bind or connect, and one side of an inproc link. A
//! leaf module, so the core can hold them without depending on the
//! transport glue or the inproc registry.

use std::sync::Weak;

use tiermq_transport::LinkId;
use tiermq_wire::SocketType as WireType;

use crate::events::{Event, LinkKey};

/// A bind or connect living on reactor number `reactor` of the context.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NetLink {
    pub(crate) reactor: usize,
    pub(crate) id: LinkId,
    pub(crate) bind: bool,
}

/// A socket as an inproc peer sees it: something to post events to.
pub(crate) trait InprocSocket: Send + Sync {
    /// Queues `event` for the socket's core.
    fn post(&self, event: Event);
    /// Whether the socket is closing (it takes no new connections).
    fn is_closing(&self) -> bool;
}

/// One side of an inproc link: a socket and the bind or connect it made.
#[derive(Clone, Debug)]
pub(crate) struct InprocPeer {
    pub(crate) shared: Weak<dyn InprocSocket>,
    pub(crate) socket_type: WireType,
    pub(crate) link: LinkKey,
    pub(crate) sndhwm: usize,
    pub(crate) rcvhwm: usize,
    /// The identity it announces (ROUTER peers address it by this).
    pub(crate) identity: bytes::Bytes,
}

impl InprocPeer {
    pub(crate) fn is(&self, shared: &Weak<dyn InprocSocket>, link: LinkKey) -> bool {
        self.link == link && Weak::ptr_eq(&self.shared, shared)
    }

    /// Whether the socket still exists and is not closing.
    pub(crate) fn alive(&self) -> bool {
        self.shared.upgrade().is_some_and(|s| !s.is_closing())
    }
}
