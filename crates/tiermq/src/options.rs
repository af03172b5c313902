//! `Options`: a socket's settings, validated as libzmq validates them, and
//! their translation into what the lower crates take.

use crate::{Error, Result};
use bytes::Bytes;
use std::time::Duration;
use tiermq_sched::{DEFAULT_PRIORITY, HIGHEST, LOWEST};

/// Every option a socket holds, in rust-zmq's units (milliseconds as `i32`,
/// `-1` for "infinite" or "OS default" where libzmq uses it).
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) sndhwm: i32,
    pub(crate) rcvhwm: i32,
    pub(crate) linger: i32,
    pub(crate) sndtimeo: i32,
    pub(crate) rcvtimeo: i32,
    pub(crate) reconnect_ivl: i32,
    pub(crate) reconnect_ivl_max: i32,
    pub(crate) immediate: bool,
    pub(crate) ipv6: bool,
    pub(crate) maxmsgsize: i64,
    pub(crate) sndbuf: i32,
    pub(crate) rcvbuf: i32,
    pub(crate) handshake_ivl: i32,
    pub(crate) heartbeat_ivl: i32,
    pub(crate) heartbeat_timeout: i32,
    pub(crate) heartbeat_ttl: i32,
    pub(crate) dead_linger: i32,
    pub(crate) spillover: i32,
    pub(crate) latency_tiers: i32,
    pub(crate) identity: Bytes,
    pub(crate) sndprio: u8,
    pub(crate) rcvprio: u8,
    pub(crate) failback_delay: i32,
    pub(crate) req_relaxed: bool,
    pub(crate) req_correlate: bool,
    pub(crate) req_resend_ivl: i32,
    pub(crate) router_mandatory: bool,
    pub(crate) router_handover: bool,
    /// XPUB_VERBOSE: pass every subscription to the application.
    pub(crate) xpub_verbose_subs: bool,
    /// XPUB_VERBOSER: pass every cancel too.
    pub(crate) xpub_verbose_unsubs: bool,
    pub(crate) xpub_manual: bool,
    pub(crate) xpub_nodrop: bool,
    /// XPUB_WELCOME_MSG (empty: none).
    pub(crate) xpub_welcome_msg: Bytes,
    pub(crate) conflate: bool,
    pub(crate) sub_failover: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sndhwm: 1000,
            rcvhwm: 1000,
            linger: -1,
            sndtimeo: -1,
            rcvtimeo: -1,
            reconnect_ivl: 100,
            reconnect_ivl_max: 0,
            immediate: false,
            ipv6: false,
            maxmsgsize: -1,
            sndbuf: -1,
            rcvbuf: -1,
            handshake_ivl: 30_000,
            heartbeat_ivl: 0,
            heartbeat_timeout: -1,
            heartbeat_ttl: 0,
            dead_linger: DEFAULT_DEAD_LINGER_MS,
            spillover: 0,
            latency_tiers: 0,
            identity: Bytes::new(),
            sndprio: DEFAULT_PRIORITY,
            rcvprio: DEFAULT_PRIORITY,
            failback_delay: 0,
            req_relaxed: false,
            req_correlate: false,
            req_resend_ivl: 0,
            router_mandatory: false,
            router_handover: false,
            xpub_verbose_subs: false,
            xpub_verbose_unsubs: false,
            xpub_manual: false,
            xpub_nodrop: false,
            xpub_welcome_msg: Bytes::new(),
            conflate: false,
            sub_failover: false,
        }
    }
}

/// `value` if it is at least `min`, else `EINVAL`.
pub(crate) fn at_least<T: PartialOrd>(value: T, min: T) -> Result<T> {
    if value >= min {
        Ok(value)
    } else {
        Err(Error::EINVAL)
    }
}

/// A priority as the scheduler takes it: 1 (most preferred) ..= 16.
pub(crate) fn priority(p: i32) -> Result<u8> {
    match u8::try_from(p) {
        Ok(p) if (HIGHEST..=LOWEST).contains(&p) => Ok(p),
        _ => Err(Error::EINVAL),
    }
}

/// How long (ms) a peer the heartbeat declared dead keeps its connection
/// by default: long enough for a garbage-collection pause or a short
/// partition, short enough not to hold a vanished peer's socket for long.
pub(crate) const DEFAULT_DEAD_LINGER_MS: i32 = 30_000;

/// libzmq's ZMTP heartbeat TTL travels in deciseconds in 16 bits.
pub(crate) const MAX_HEARTBEAT_TTL_MS: i32 = 6_553_599;

/// Identities are 1..=255 bytes (ZMTP carries them with a one-byte length).
pub(crate) fn identity(id: &[u8]) -> Result<Bytes> {
    if id.is_empty() || id.len() > 255 {
        return Err(Error::EINVAL);
    }
    Ok(Bytes::copy_from_slice(id))
}

/// Milliseconds where a non-positive value means "none".
pub(crate) fn positive_ms(ms: i64) -> Option<Duration> {
    u64::try_from(ms)
        .ok()
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
}

/// A non-negative number of milliseconds; `-1` (or any negative) is `None`, meaning "infinite".
pub(crate) fn timeout_ms(ms: i32) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

/// A high-water mark as the pipe takes it: 0 = no limit.
pub(crate) fn hwm(v: i32) -> usize {
    usize::try_from(v).unwrap_or(0)
}

impl Options {
    /// The ZMTP session settings for a new connection of a socket of `socket_type`.
    pub(crate) fn wire_config(&self, socket_type: tiermq_wire::SocketType) -> tiermq_wire::Config {
        let mut c = tiermq_wire::Config::new(socket_type);
        c.identity = self.identity.clone();
        c.max_msg_size = u64::try_from(self.maxmsgsize).ok();
        c.handshake_timeout = positive_ms(self.handshake_ivl.into());
        c.heartbeat_ivl = positive_ms(self.heartbeat_ivl.into());
        c.heartbeat_timeout = positive_ms(self.heartbeat_timeout.into());
        c.heartbeat_ttl = positive_ms(self.heartbeat_ttl.into());
        c.dead_linger = positive_ms(self.dead_linger.into());
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_outside_1_to_16_are_refused() {
        assert_eq!(priority(1), Ok(1));
        assert_eq!(priority(16), Ok(16));
        assert_eq!(priority(0), Err(Error::EINVAL));
        assert_eq!(priority(17), Err(Error::EINVAL));
        assert_eq!(priority(-1), Err(Error::EINVAL));
        assert_eq!(priority(300), Err(Error::EINVAL));
    }

    #[test]
    fn durations_follow_libzmq_conventions() {
        assert_eq!(timeout_ms(-1), None);
        assert_eq!(timeout_ms(0), Some(Duration::ZERO));
        assert_eq!(positive_ms(0), None);
        assert_eq!(positive_ms(-1), None);
        assert_eq!(positive_ms(5), Some(Duration::from_millis(5)));
        assert_eq!(hwm(0), 0);
        assert_eq!(hwm(10), 10);
    }

    #[test]
    fn wire_config_carries_the_options() {
        let o = Options {
            maxmsgsize: 10,
            heartbeat_ivl: 100,
            identity: Bytes::from_static(b"me"),
            ..Options::default()
        };
        let c = o.wire_config(tiermq_wire::SocketType::Push);
        assert_eq!(c.max_msg_size, Some(10));
        assert_eq!(c.heartbeat_ivl, Some(Duration::from_millis(100)));
        assert_eq!(c.handshake_timeout, Some(Duration::from_secs(30)));
        assert_eq!(&c.identity[..], b"me");
        assert_eq!(
            Options::default()
                .wire_config(tiermq_wire::SocketType::Pull)
                .max_msg_size,
            None
        );
    }
}
