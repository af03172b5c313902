//! `LinkOptions`: the per-bind/per-connect settings the reactor applies.

use std::sync::Arc;
use std::time::Duration;

use tiermq_wire::SocketType;

use crate::SocketPoll;

/// Settings of one bind or connect, copied from the socket's options at
/// bind/connect time. Every connection made through the link uses them.
#[derive(Clone, Debug)]
pub struct LinkOptions {
    /// The wire session's configuration: socket type, identity, maximum
    /// message size, handshake timeout, heartbeats, and the security
    /// mechanism (with `zap` set, handshakes ask through
    /// [`Notification::ZapRequest`](crate::Notification::ZapRequest)).
    pub wire: tiermq_wire::Config,
    /// High-water mark (messages) of each connection's outgoing pipe.
    /// `0`: no limit.
    pub sndhwm: usize,
    /// High-water mark (messages) of each connection's incoming pipe.
    /// `0`: no limit. When it is reached the reactor stops reading that
    /// connection until the application drains the pipe to its low-water
    /// mark, so TCP flow control pushes back on the peer.
    pub rcvhwm: usize,
    /// Delay before a connect-side link reconnects after a failed attempt or
    /// a lost connection. `None`: never reconnect.
    pub reconnect_ivl: Option<Duration>,
    /// Upper bound of the exponential backoff: each failed attempt doubles
    /// the delay up to this. `None` or zero: the delay stays
    /// `reconnect_ivl`. A completed handshake resets the delay.
    pub reconnect_ivl_max: Option<Duration>,
    /// `SO_SNDBUF` for each connection (and a listener's accepted ones).
    /// `None`: the kernel's default.
    pub sndbuf: Option<usize>,
    /// `SO_RCVBUF` for each connection (and a listener's accepted ones).
    /// `None`: the kernel's default.
    pub rcvbuf: Option<usize>,
    /// libzmq's IPV6 option. `true`: a bind to `tcp://*` listens on both
    /// families (one IPv6 socket with IPV6_V6ONLY off), an interface name
    /// stands for its IPv6 address, and host names may resolve to IPv6
    /// addresses. `false` (the default): `*`, interface names and host
    /// names mean IPv4. Address literals of either family work either way.
    pub ipv6: bool,
    /// The socket's own poll on this reactor
    /// ([`Reactor::socket_poll`](crate::Reactor::socket_poll)): established
    /// connections of the link move into it, so that the socket's blocked
    /// caller can serve them itself ([`SocketPoll::lead`]). `None`: the I/O
    /// thread serves them alone.
    pub socket_poll: Option<Arc<SocketPoll>>,
}

impl LinkOptions {
    /// libzmq's defaults for `socket_type`: HWMs of 1000, reconnect after
    /// 100 ms with no backoff growth, kernel buffer sizes, IPv4 only, and
    /// [`tiermq_wire::Config::new`] for the wire plus libzmq's 30 s
    /// handshake timeout.
    pub fn new(socket_type: SocketType) -> Self {
        let mut wire = tiermq_wire::Config::new(socket_type);
        wire.handshake_timeout = Some(Duration::from_secs(30));
        LinkOptions {
            wire,
            sndhwm: 1000,
            rcvhwm: 1000,
            reconnect_ivl: Some(Duration::from_millis(100)),
            reconnect_ivl_max: None,
            sndbuf: None,
            rcvbuf: None,
            ipv6: false,
            socket_poll: None,
        }
    }

    /// The delay after `current`: doubled, capped at `reconnect_ivl_max`;
    /// unchanged when no (or a zero) maximum is set.
    pub(crate) fn next_backoff(&self, current: Duration) -> Duration {
        match self.reconnect_ivl_max {
            Some(max) if !max.is_zero() && max > current => (current * 2).min(max),
            _ => current,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let mut o = LinkOptions::new(SocketType::Push);
        let ms = Duration::from_millis;
        assert_eq!(o.next_backoff(ms(100)), ms(100));
        o.reconnect_ivl_max = Some(Duration::ZERO);
        assert_eq!(o.next_backoff(ms(100)), ms(100));
        o.reconnect_ivl_max = Some(ms(350));
        assert_eq!(o.next_backoff(ms(100)), ms(200));
        assert_eq!(o.next_backoff(ms(200)), ms(350));
        assert_eq!(o.next_backoff(ms(350)), ms(350));
        // A maximum below the interval never shrinks it.
        o.reconnect_ivl_max = Some(ms(50));
        assert_eq!(o.next_backoff(ms(100)), ms(100));
    }
}
