//! tcp:// and ipc://: links on a transport `Reactor`, and the `Sink` through
//! which its I/O thread reaches the socket.

use std::sync::{Arc, Weak};

use tiermq_transport::{LinkOptions, MonitorEvent as NetEvent, Notification, Sink};

use crate::Properties;
use crate::events::{Attachment, ConnKey, Event, LinkKey};
use crate::monitor::{Hub, MonitorEventKind};
use crate::options::{Options, hwm, timeout_ms};
use crate::shared::Shared;
use crate::zap::ZapRoute;

/// Turns one link's notifications into core events. Runs on the I/O thread,
/// so it only posts (never blocks on the socket).
pub(crate) struct SocketSink {
    pub(crate) shared: Weak<Shared>,
    pub(crate) link: LinkKey,
    pub(crate) reactor: usize,
    /// Where monitor events go; held here so they flow without the core lock.
    pub(crate) hub: Arc<Hub>,
    /// Where ZAP requests go (links whose connections ask ZAP).
    pub(crate) zap: Option<ZapRoute>,
}

impl Sink for SocketSink {
    fn notify(&self, n: Notification) {
        if let Notification::ZapRequest {
            request,
            ticket,
            peer_addr,
            ..
        } = n
        {
            // Only links with a route ask ZAP (their wire config's `zap`).
            if let Some(route) = &self.zap {
                route.submit(ticket, request, &peer_addr);
            }
            return;
        }
        if let Notification::Monitor(e) = n {
            if matches!(e, NetEvent::ConnectRetried { .. })
                && let Some(shared) = self.shared.upgrade()
            {
                shared.post(Event::ConnectRetrying { link: self.link });
            }
            self.monitor(e);
            return;
        }
        let Some(shared) = self.shared.upgrade() else {
            // The socket is gone; dropping the pipes closes them.
            return;
        };
        match n {
            Notification::Attached {
                conn,
                peer_addr,
                peer_address,
                peer,
                out,
                inp,
                ..
            } => {
                let peer_type = peer.socket_type;
                let identity = peer.identity();
                let props = Arc::new(Properties::new(peer_address, peer));
                shared.post(Event::Attached(Attachment {
                    conn: ConnKey::Net(self.reactor, conn.0),
                    link: self.link,
                    peer_addr,
                    peer_type,
                    identity,
                    props: Some(props),
                    out,
                    inp,
                }));
            }
            Notification::Detached {
                conn,
                unsent,
                reason,
            } => shared.post(Event::Detached {
                conn: conn_key(self, conn),
                unsent,
                dead: reason.is_dead(),
            }),
            // The core reports `Dead` to the monitors as it applies this.
            Notification::Dead { conn, unsent } => shared.post(Event::Dead {
                conn: conn_key(self, conn),
                unsent,
            }),
            Notification::Revived { conn } => shared.post(Event::Revived {
                conn: conn_key(self, conn),
            }),
            Notification::Monitor(_) | Notification::ZapRequest { .. } => {}
            Notification::RoundTrip { conn, rtt } => shared.post(Event::RoundTrip {
                conn: conn_key(self, conn),
                rtt,
            }),
        }
    }
}

fn conn_key(sink: &SocketSink, conn: tiermq_transport::ConnId) -> ConnKey {
    ConnKey::Net(sink.reactor, conn.0)
}

impl SocketSink {
    pub(crate) fn for_link(
        shared: Weak<Shared>,
        link: LinkKey,
        reactor: usize,
        hub: Arc<Hub>,
        zap: Option<ZapRoute>,
    ) -> Arc<dyn Sink> {
        Arc::new(SocketSink {
            shared,
            link,
            reactor,
            hub,
            zap,
        })
    }

    /// Passes a transport monitor event on to the socket's monitors.
    fn monitor(&self, e: NetEvent) {
        if !self.hub.is_active() {
            return;
        }
        let detail = crate::zmq_monitor::detail_of(&e);
        let (kind, endpoint, peer) = match e {
            NetEvent::Listening { endpoint, .. } => {
                (MonitorEventKind::Listening, endpoint, String::new())
            }
            NetEvent::BindFailed { endpoint, .. } => {
                (MonitorEventKind::BindFailed, endpoint, String::new())
            }
            NetEvent::Accepted {
                endpoint,
                peer_addr,
                ..
            } => (MonitorEventKind::Accepted, endpoint, peer_addr),
            NetEvent::AcceptFailed { endpoint, .. } => {
                (MonitorEventKind::AcceptFailed, endpoint, String::new())
            }
            NetEvent::Connected {
                endpoint,
                peer_addr,
                ..
            } => (MonitorEventKind::Connected, endpoint, peer_addr),
            NetEvent::ConnectRetried { endpoint, ivl, .. } => (
                MonitorEventKind::ConnectRetried { ivl },
                endpoint,
                String::new(),
            ),
            NetEvent::HandshakeSucceeded {
                endpoint,
                peer_addr,
                ..
            } => (MonitorEventKind::HandshakeSucceeded, endpoint, peer_addr),
            NetEvent::HandshakeFailed {
                endpoint,
                peer_addr,
                reason,
                ..
            } => (
                MonitorEventKind::HandshakeFailed {
                    reason: reason.to_string(),
                },
                endpoint,
                peer_addr,
            ),
            NetEvent::Disconnected {
                endpoint,
                peer_addr,
                reason,
                ..
            } => (
                MonitorEventKind::Disconnected {
                    reason: reason.to_string(),
                },
                endpoint,
                peer_addr,
            ),
            NetEvent::Closed { endpoint, .. } => {
                (MonitorEventKind::Closed, endpoint, String::new())
            }
            NetEvent::ConnectDelayed { endpoint, .. } => {
                (MonitorEventKind::ConnectDelayed, endpoint, String::new())
            }
        };
        self.hub.emit_detailed(kind, &endpoint, &peer, detail);
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
    l.ipv6 = o.ipv6;
    l
}
