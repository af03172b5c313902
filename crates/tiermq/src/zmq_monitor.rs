//! The zmq-style monitor, [`Socket::monitor`](crate::Socket::monitor):
//! libzmq's event numbers and two-frame format, sent on a PAIR bound at an
//! inproc endpoint.
//!
//! It reads the same events as the typed stream
//! ([`Socket::event_monitor`](crate::Socket::event_monitor)): a bounded
//! [`Monitor`] feeds a forwarder thread that owns the PAIR and sends each
//! event with `DONTWAIT`. The socket never waits for it: a full feed, or a
//! PAIR whose reader does not read (or is not connected), drops events.
//! tiermq's own events (Dead, Busy, Ready, tier moves, reroutes) have no
//! libzmq number and are not sent; nor are inproc connections' events, for
//! which libzmq raises none.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use tiermq_transport::{DetachReason, MonitorEvent as NetEvent};

use crate::monitor::{Detail, Monitor, MonitorEvent, MonitorEventKind};
use crate::{Context, DONTWAIT, Result, SNDMORE, Socket, SocketType};

/// A libzmq socket event number, named as in the `zmq` crate.
///
/// Each variant's value is libzmq's `ZMQ_EVENT_*` number; event masks for
/// [`Socket::monitor`](crate::Socket::monitor) are these ORed together.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketEvent {
    /// A connect reached its peer (value: see the guide; libzmq's fd).
    CONNECTED = 0x0001,
    /// A connect is in progress (value: errno, EINPROGRESS).
    CONNECT_DELAYED = 0x0002,
    /// A connect will try again (value: the interval in ms).
    CONNECT_RETRIED = 0x0004,
    /// A bind is listening.
    LISTENING = 0x0008,
    /// A bind failed (value: errno).
    BIND_FAILED = 0x0010,
    /// A bind accepted a connection.
    ACCEPTED = 0x0020,
    /// Accepting a connection failed (value: errno).
    ACCEPT_FAILED = 0x0040,
    /// A bind stopped listening.
    CLOSED = 0x0080,
    /// Closing failed (not raised by tiermq).
    CLOSE_FAILED = 0x0100,
    /// A connection ended.
    DISCONNECTED = 0x0200,
    /// The monitor stopped: the last event it sends.
    MONITOR_STOPPED = 0x0400,
    /// A handshake failed without a protocol or authentication cause
    /// (value: errno, or 0).
    HANDSHAKE_FAILED_NO_DETAIL = 0x0800,
    /// A ZMTP handshake completed.
    HANDSHAKE_SUCCEEDED = 0x1000,
    /// A handshake failed on the protocol (value: a `ZMQ_PROTOCOL_ERROR_*` code).
    HANDSHAKE_FAILED_PROTOCOL = 0x2000,
    /// Authentication refused the peer (value: the ZAP status code).
    HANDSHAKE_FAILED_AUTH = 0x4000,
    /// Every event (a mask).
    ALL = 0xFFFF,
}

impl SocketEvent {
    /// The event's number.
    pub fn to_raw(self) -> u16 {
        self as u16
    }

    /// The event numbered `raw`.
    ///
    /// # Panics
    ///
    /// For a number that is not one of the variants, as the `zmq` crate does.
    pub fn from_raw(raw: u16) -> SocketEvent {
        use SocketEvent::*;
        [
            CONNECTED,
            CONNECT_DELAYED,
            CONNECT_RETRIED,
            LISTENING,
            BIND_FAILED,
            ACCEPTED,
            ACCEPT_FAILED,
            CLOSED,
            CLOSE_FAILED,
            DISCONNECTED,
            MONITOR_STOPPED,
            HANDSHAKE_FAILED_NO_DETAIL,
            HANDSHAKE_SUCCEEDED,
            HANDSHAKE_FAILED_PROTOCOL,
            HANDSHAKE_FAILED_AUTH,
            ALL,
        ]
        .into_iter()
        .find(|e| e.to_raw() == raw)
        .unwrap_or_else(|| panic!("unknown event type {raw}"))
    }
}

/// libzmq's `ZMQ_PROTOCOL_ERROR_*` codes that tiermq raises.
mod protocol_error {
    pub(super) const ZMTP_UNSPECIFIED: u32 = 0x1000_0000;
    pub(super) const ZMTP_UNEXPECTED_COMMAND: u32 = 0x1000_0001;
    pub(super) const ZMTP_MALFORMED_COMMAND_UNSPECIFIED: u32 = 0x1000_0011;
    pub(super) const ZMTP_INVALID_METADATA: u32 = 0x1000_0018;
    pub(super) const ZMTP_MECHANISM_MISMATCH: u32 = 0x1100_0002;
}

/// The errno of an operating-system error kind (0 if it has none closer).
fn errno_of(kind: io::ErrorKind) -> i32 {
    use io::ErrorKind as K;
    let e = match kind {
        K::AddrInUse => Errno::EADDRINUSE,
        K::AddrNotAvailable => Errno::EADDRNOTAVAIL,
        K::ConnectionRefused => Errno::ECONNREFUSED,
        K::ConnectionReset => Errno::ECONNRESET,
        K::ConnectionAborted => Errno::ECONNABORTED,
        K::BrokenPipe => Errno::EPIPE,
        K::NotConnected => Errno::ENOTCONN,
        K::PermissionDenied => Errno::EACCES,
        K::NotFound => Errno::ENOENT,
        K::TimedOut => Errno::ETIMEDOUT,
        K::HostUnreachable => Errno::EHOSTUNREACH,
        K::NetworkUnreachable => Errno::ENETUNREACH,
        K::NetworkDown => Errno::ENETDOWN,
        K::OutOfMemory => Errno::ENOMEM,
        _ => return 0,
    };
    e as i32
}

/// What libzmq would put in the value of transport event `e`.
pub(crate) fn detail_of(e: &NetEvent) -> Detail {
    match e {
        NetEvent::BindFailed { error, .. } | NetEvent::AcceptFailed { error, .. } => {
            Detail::Errno(errno_of(*error))
        }
        NetEvent::HandshakeFailed { reason, .. } => handshake_failure(reason),
        NetEvent::ConnectDelayed { .. } => Detail::Errno(Errno::EINPROGRESS as i32),
        _ => Detail::None,
    }
}

/// How libzmq would report a handshake that failed for `reason`: a
/// protocol code for ZMTP failures, an errno for the others. Authentication
/// failures (`Detail::Auth`, HANDSHAKE_FAILED_AUTH) belong here once a
/// mechanism can refuse a peer.
fn handshake_failure(reason: &DetachReason) -> Detail {
    use protocol_error as p;
    use tiermq_wire::Error as W;
    match reason {
        DetachReason::Wire(W::HandshakeTimeout) => Detail::Errno(Errno::ETIMEDOUT as i32),
        DetachReason::Wire(e) => Detail::Protocol(match e {
            W::MechanismMismatch { .. } | W::UnknownMechanism(_) => p::ZMTP_MECHANISM_MISMATCH,
            W::UnexpectedCommand(_) | W::UnexpectedMessage => p::ZMTP_UNEXPECTED_COMMAND,
            W::MalformedCommand(_) => p::ZMTP_MALFORMED_COMMAND_UNSPECIFIED,
            W::IncompatibleSocketType { .. } | W::MissingSocketType | W::UnknownSocketType(_) => {
                p::ZMTP_INVALID_METADATA
            }
            _ => p::ZMTP_UNSPECIFIED,
        }),
        DetachReason::Io(kind) => Detail::Errno(errno_of(*kind)),
        DetachReason::PeerClosed | DetachReason::Closed => Detail::None,
    }
}

/// libzmq's event number and value for a typed event, or `None` for an
/// event libzmq does not have. Where libzmq puts a file descriptor
/// (LISTENING, ACCEPTED, CONNECTED, CLOSED, DISCONNECTED) the value is 0:
/// tiermq's I/O thread owns the descriptors.
fn libzmq_event(kind: &MonitorEventKind, detail: Detail) -> Option<(SocketEvent, u32)> {
    use SocketEvent as Z;
    let errno = match detail {
        Detail::Errno(e) => u32::try_from(e).unwrap_or(0),
        _ => 0,
    };
    Some(match kind {
        MonitorEventKind::Listening => (Z::LISTENING, 0),
        MonitorEventKind::BindFailed => (Z::BIND_FAILED, errno),
        MonitorEventKind::Accepted => (Z::ACCEPTED, 0),
        MonitorEventKind::AcceptFailed => (Z::ACCEPT_FAILED, errno),
        MonitorEventKind::Connected => (Z::CONNECTED, 0),
        MonitorEventKind::ConnectDelayed => (Z::CONNECT_DELAYED, errno),
        MonitorEventKind::ConnectRetried { ivl } => (
            Z::CONNECT_RETRIED,
            u32::try_from(ivl.as_millis()).unwrap_or(u32::MAX),
        ),
        MonitorEventKind::HandshakeSucceeded => (Z::HANDSHAKE_SUCCEEDED, 0),
        MonitorEventKind::HandshakeFailed { .. } => match detail {
            Detail::Protocol(code) => (Z::HANDSHAKE_FAILED_PROTOCOL, code),
            Detail::Auth(status) => (Z::HANDSHAKE_FAILED_AUTH, status),
            Detail::Errno(_) | Detail::None => (Z::HANDSHAKE_FAILED_NO_DETAIL, errno),
        },
        MonitorEventKind::Disconnected { .. } => (Z::DISCONNECTED, 0),
        MonitorEventKind::Closed => (Z::CLOSED, 0),
        _ => return None,
    })
}

/// The first frame of a libzmq (version 1) monitor message: the event
/// number and its value, little-endian as libzmq writes them on the
/// platforms tiermq runs on.
fn event_frame(event: SocketEvent, value: u32) -> [u8; 6] {
    let mut f = [0u8; 6];
    f[..2].copy_from_slice(&event.to_raw().to_le_bytes());
    f[2..].copy_from_slice(&value.to_le_bytes());
    f
}

/// How long a closed socket's monitor waits for the last events of its
/// connections and listeners (CLOSED) before it stops.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Whether a monitor may start at `endpoint` with mask `events`:
/// `EINVAL` for a malformed endpoint or a mask beyond libzmq's 16 event
/// bits, `EPROTONOSUPPORT` for a transport other than inproc.
pub(crate) fn check_request(endpoint: &str, events: i32) -> Result<()> {
    let Some((transport, name)) = endpoint.split_once("://") else {
        return Err(crate::Error::EINVAL);
    };
    if name.is_empty() || !(0..=0xFFFF).contains(&events) {
        return Err(crate::Error::EINVAL);
    }
    if transport != "inproc" {
        return Err(crate::Error::EPROTONOSUPPORT);
    }
    Ok(())
}

/// A running zmq-style monitor: its forwarder thread and what stops it.
#[derive(Debug)]
pub(crate) struct ZmqMonitor {
    feed: Arc<Monitor>,
    /// The monitored socket closed (see [`ZmqMonitor::finish`]).
    closing: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ZmqMonitor {
    /// Binds a PAIR at `endpoint` (which must be inproc) and forwards the
    /// events of `feed` in `events` (a mask of [`SocketEvent`]s) to it.
    ///
    /// Errors: those of [`check_request`], `EADDRINUSE` if the name is
    /// bound, `EMTHREAD` if no thread could be started.
    pub(crate) fn start(
        ctx: &Context,
        endpoint: &str,
        events: i32,
        feed: Monitor,
    ) -> Result<ZmqMonitor> {
        check_request(endpoint, events)?;
        let pair = ctx.socket(SocketType::PAIR)?;
        pair.set_linger(0)?;
        pair.bind(endpoint)?;
        let feed = Arc::new(feed);
        let closing = Arc::new(AtomicBool::new(false));
        let (mine, closed) = (Arc::clone(&feed), Arc::clone(&closing));
        let thread = std::thread::Builder::new()
            .name("tiermq-monitor".to_owned())
            .spawn(move || forward(&mine, &pair, events, &closed))
            .map_err(|_| crate::Error::EMTHREAD)?;
        Ok(ZmqMonitor {
            feed,
            closing,
            thread: Some(thread),
        })
    }

    /// Stops now: the events already fed are sent, then MONITOR_STOPPED.
    pub(crate) fn stop(mut self) {
        self.feed.close();
        if let Some(t) = self.thread.take() {
            // A panicked forwarder has nothing left to send.
            let _ = t.join();
        }
    }

    /// The monitored socket closed: the monitor goes on sending what its
    /// closing still raises (listeners' CLOSED) until the socket is gone,
    /// or a short grace ends, then stops on its own. Does not wait.
    pub(crate) fn finish(mut self) {
        self.closing.store(true, Ordering::SeqCst);
        self.feed.wake();
        // Detached: it ends by itself within the grace.
        drop(self.thread.take());
    }
}

/// The forwarder thread: sends each event the mask selects, dropping what
/// the PAIR will not take at once, until the feed ends.
fn forward(feed: &Monitor, pair: &Socket, events: i32, closing: &AtomicBool) {
    let wanted = |e: SocketEvent| i32::from(e.to_raw()) & events != 0;
    let send = |e: SocketEvent, value: u32, endpoint: &str| {
        if wanted(e) {
            let first = event_frame(e, value);
            // A reader that does not keep up loses events; the socket never waits.
            let _ = pair.send(&first[..], DONTWAIT | SNDMORE);
            let _ = pair.send(endpoint, DONTWAIT);
        }
    };
    let mut grace_ends: Option<Instant> = None;
    loop {
        let wait = grace_ends.map_or(Duration::from_secs(3600), |t| {
            t.saturating_duration_since(Instant::now())
        });
        match feed.recv_detailed(wait) {
            Some((e, detail)) => {
                if let Some((event, value)) = zmq_event(&e, detail) {
                    send(event, value, &e.endpoint);
                }
            }
            None if feed.is_closed() => break,
            None if closing.load(Ordering::SeqCst) => {
                let ends = *grace_ends.get_or_insert_with(|| Instant::now() + CLOSE_GRACE);
                if Instant::now() >= ends {
                    break;
                }
            }
            None => {}
        }
    }
    send(SocketEvent::MONITOR_STOPPED, 0, "");
}

/// The libzmq event for typed event `e`, unless libzmq has none for it.
fn zmq_event(e: &MonitorEvent, detail: Detail) -> Option<(SocketEvent, u32)> {
    if e.endpoint.starts_with("inproc://") {
        return None;
    }
    libzmq_event(&e.kind, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_numbers_are_libzmqs() {
        assert_eq!(SocketEvent::CONNECTED.to_raw(), 1);
        assert_eq!(SocketEvent::MONITOR_STOPPED.to_raw(), 1024);
        assert_eq!(SocketEvent::HANDSHAKE_FAILED_AUTH.to_raw(), 0x4000);
        assert_eq!(SocketEvent::ALL.to_raw(), 0xFFFF);
        for raw in [
            1u16, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 0x800, 0x1000,
        ] {
            assert_eq!(SocketEvent::from_raw(raw).to_raw(), raw);
        }
    }

    #[test]
    #[should_panic(expected = "unknown event type 3")]
    fn an_unknown_number_panics_as_in_the_zmq_crate() {
        let _ = SocketEvent::from_raw(3);
    }

    #[test]
    fn frames_are_six_little_endian_bytes() {
        assert_eq!(
            event_frame(SocketEvent::CONNECT_RETRIED, 100),
            [4, 0, 100, 0, 0, 0]
        );
        assert_eq!(
            event_frame(SocketEvent::HANDSHAKE_FAILED_PROTOCOL, 0x1100_0002),
            [0, 0x20, 2, 0, 0, 0x11]
        );
    }

    #[test]
    fn typed_events_map_to_libzmq_numbers_and_values() {
        let retried = MonitorEventKind::ConnectRetried {
            ivl: Duration::from_millis(250),
        };
        assert_eq!(
            libzmq_event(&retried, Detail::None),
            Some((SocketEvent::CONNECT_RETRIED, 250))
        );
        let failed = MonitorEventKind::HandshakeFailed {
            reason: String::new(),
        };
        assert_eq!(
            libzmq_event(&failed, Detail::Protocol(0x1000_0018)),
            Some((SocketEvent::HANDSHAKE_FAILED_PROTOCOL, 0x1000_0018))
        );
        assert_eq!(
            libzmq_event(&failed, Detail::Auth(400)),
            Some((SocketEvent::HANDSHAKE_FAILED_AUTH, 400))
        );
        assert_eq!(
            libzmq_event(&failed, Detail::Errno(Errno::ECONNRESET as i32)),
            Some((
                SocketEvent::HANDSHAKE_FAILED_NO_DETAIL,
                Errno::ECONNRESET as u32
            ))
        );
        assert_eq!(libzmq_event(&MonitorEventKind::Dead, Detail::None), None);
        assert_eq!(
            libzmq_event(
                &MonitorEventKind::Failover {
                    from: Some(1),
                    to: Some(2)
                },
                Detail::None
            ),
            None
        );
    }

    #[test]
    fn handshake_failures_are_classified_as_libzmq_does() {
        use tiermq_wire::{Error as W, SocketType as T};
        let wrong_type = DetachReason::Wire(W::IncompatibleSocketType {
            ours: T::Pair,
            theirs: T::Push,
        });
        assert_eq!(
            handshake_failure(&wrong_type),
            Detail::Protocol(protocol_error::ZMTP_INVALID_METADATA)
        );
        assert_eq!(
            handshake_failure(&DetachReason::Wire(W::HandshakeTimeout)),
            Detail::Errno(Errno::ETIMEDOUT as i32)
        );
        assert_eq!(
            handshake_failure(&DetachReason::Io(io::ErrorKind::ConnectionReset)),
            Detail::Errno(Errno::ECONNRESET as i32)
        );
        assert_eq!(
            handshake_failure(&DetachReason::Wire(W::BadSignature)),
            Detail::Protocol(protocol_error::ZMTP_UNSPECIFIED)
        );
    }
}
