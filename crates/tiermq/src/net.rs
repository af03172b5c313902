//! tcp:// and ipc://: links on a transport `Reactor`, and the `Sink` through
//! which its I/O thread reaches the socket.

use std::sync::{Arc, Weak};

use tiermq_transport::{LinkId, LinkOptions, Notification, Sink};

use crate::core::{Attachment, ConnKey, Event, LinkKey};
use crate::options::{Options, hwm, timeout_ms};
use crate::shared::Shared;

/// A bind or connect living on reactor number `reactor` of the context.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NetLink {
    pub(crate) reactor: usize,
    pub(crate) id: LinkId,
    pub(crate) bind: bool,
}

/// Turns one link's notifications into core events. Runs on the I/O thread,
/// so it only posts (never blocks on the socket).
pub(crate) struct SocketSink {
    pub(crate) shared: Weak<Shared>,
    pub(crate) link: LinkKey,
    pub(crate) reactor: usize,
}

impl Sink for SocketSink {
    fn notify(&self, n: Notification) {
        let Some(shared) = self.shared.upgrade() else {
            // The socket is gone; dropping the pipes closes them.
            return;
        };
        match n {
            Notification::Attached {
                conn,
                peer_addr,
                peer,
                out,
                inp,
                ..
            } => shared.post(Event::Attached(Attachment {
                conn: ConnKey::Net(self.reactor, conn.0),
                link: self.link,
                peer_addr,
                peer_type: peer.socket_type,
                out,
                inp,
            })),
            Notification::Detached {
                conn,
                unsent,
                reason,
            } => shared.post(Event::Detached {
                conn: ConnKey::Net(self.reactor, conn.0),
                unsent,
                dead: reason.is_dead(),
            }),
            // The monitor stream comes with `Socket::monitor`.
            Notification::Monitor(_) => {}
        }
    }
}

impl SocketSink {
    pub(crate) fn for_link(shared: Weak<Shared>, link: LinkKey, reactor: usize) -> Arc<dyn Sink> {
        Arc::new(SocketSink {
            shared,
            link,
            reactor,
        })
    }
}

/// The transport settings of a link made now, from the socket's options.
pub(crate) fn link_options(o: &Options, socket_type: tiermq_wire::SocketType) -> LinkOptions {
    let mut l = LinkOptions::new(socket_type);
    l.wire = o.wire_config(socket_type);
    l.sndhwm = hwm(o.sndhwm);
    l.rcvhwm = hwm(o.rcvhwm);
    l.reconnect_ivl = timeout_ms(o.reconnect_ivl);
    l.reconnect_ivl_max = timeout_ms(o.reconnect_ivl_max).filter(|d| !d.is_zero());
    l.sndbuf = usize::try_from(o.sndbuf).ok().filter(|&n| n > 0);
    l.rcvbuf = usize::try_from(o.rcvbuf).ok().filter(|&n| n > 0);
    l
}
