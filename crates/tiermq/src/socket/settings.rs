//! The socket's options: libzmq's, under the zmq crate's names, and
//! tiermq's own (priorities, failback delay, spillover, latency tiers,
//! dead linger, the request-reply options).

use std::time::{Duration, Instant};

use super::*;
use crate::core::PatternOption;

macro_rules! int_option {
    ($(#[$doc:meta])* $get:ident, $set:ident, $field:ident: $ty:ty, min $min:expr) => {
        $(#[$doc])*
        ///
        /// Errors of the setter: `EINVAL` for a value out of range.
        pub fn $set(&self, value: $ty) -> Result<()> {
            let value = at_least(value, $min)?;
            self.core(|c| c.options.$field = value);
            Ok(())
        }

        #[doc = concat!("The value [`", stringify!($set), "`](Socket::", stringify!($set), ") set.")]
        pub fn $get(&self) -> Result<$ty> {
            Ok(self.core(|c| c.options.$field))
        }
    };
}

impl Socket {
    int_option!(
        /// Sets SNDHWM: how many messages each peer's outgoing queue holds
        /// before the peer counts as busy (0: no limit; default 1000).
        /// Applies to endpoints bound or connected afterwards.
        get_sndhwm, set_sndhwm, sndhwm: i32, min 0
    );
    int_option!(
        /// Sets RCVHWM: how many received messages each peer's incoming queue
        /// holds before reading from it pauses (0: no limit; default 1000).
        /// Applies to endpoints bound or connected afterwards. A tcp or ipc
        /// peer's queue is read in batches, so up to 256 more of its messages
        /// may wait inside the socket.
        get_rcvhwm, set_rcvhwm, rcvhwm: i32, min 0
    );
    int_option!(
        /// Sets LINGER: how long (ms) dropping the socket waits for queued
        /// messages to be taken by peers (-1: until delivered or no peer
        /// remains, the default; 0: not at all).
        get_linger, set_linger, linger: i32, min -1
    );
    int_option!(
        /// Sets SNDTIMEO: how long (ms) `send` waits for a peer that can take
        /// the message before `EAGAIN` (-1: forever, the default).
        get_sndtimeo, set_sndtimeo, sndtimeo: i32, min -1
    );
    int_option!(
        /// Sets RCVTIMEO: how long (ms) `recv` waits for a message before
        /// `EAGAIN` (-1: forever, the default).
        get_rcvtimeo, set_rcvtimeo, rcvtimeo: i32, min -1
    );
    int_option!(
        /// Sets RECONNECT_IVL: the delay (ms) before a connect retries
        /// (default 100; -1: never reconnect). Applies to later connects.
        get_reconnect_ivl, set_reconnect_ivl, reconnect_ivl: i32, min -1
    );
    int_option!(
        /// Sets RECONNECT_IVL_MAX: the cap (ms) of the doubling reconnect
        /// delay (0, the default: no doubling). Applies to later connects.
        get_reconnect_ivl_max, set_reconnect_ivl_max, reconnect_ivl_max: i32, min 0
    );
    int_option!(
        /// Sets MAXMSGSIZE: the largest message (bytes) a peer may send; a
        /// larger one closes that connection (-1: no limit, the default).
        get_maxmsgsize, set_maxmsgsize, maxmsgsize: i64, min -1
    );
    int_option!(
        /// Sets SNDBUF: the kernel send buffer (bytes) of later connections
        /// (-1 or 0: the OS default).
        get_sndbuf, set_sndbuf, sndbuf: i32, min -1
    );
    int_option!(
        /// Sets RCVBUF: the kernel receive buffer (bytes) of later
        /// connections (-1 or 0: the OS default).
        get_rcvbuf, set_rcvbuf, rcvbuf: i32, min -1
    );
    int_option!(
        /// Sets HANDSHAKE_IVL: how long (ms) a new connection may take to
        /// complete the ZMTP handshake (0: no limit; default 30000).
        get_handshake_ivl, set_handshake_ivl, handshake_ivl: i32, min 0
    );
    int_option!(
        /// Sets HEARTBEAT_IVL: how often (ms) to PING each peer (0, the
        /// default: never).
        get_heartbeat_ivl, set_heartbeat_ivl, heartbeat_ivl: i32, min 0
    );
    int_option!(
        /// Sets HEARTBEAT_TIMEOUT: how long (ms) after a PING without any
        /// traffic the peer is declared dead (-1, the default:
        /// HEARTBEAT_IVL). Its connection closes after the dead linger.
        get_heartbeat_timeout, set_heartbeat_timeout, heartbeat_timeout: i32, min -1
    );
    int_option!(
        /// Sets the dead linger (ms, default 30000): how long the connection
        /// of a peer the heartbeat declared dead stays open. The peer gets
        /// no new messages and its unsent ones are rerouted at once; if
        /// anything arrives from it within this time it is alive again
        /// (ready after the failback delay) and reads what its kernel held,
        /// so a paused peer loses nothing. 0: disconnect at once, as libzmq
        /// does. Applies to later connections.
        get_dead_linger, set_dead_linger, dead_linger: i32, min 0
    );

    /// Sets HEARTBEAT_TTL: how long (ms) the peer should wait for traffic
    /// from us before giving up on us, sent in our PINGs (0: none).
    ///
    /// Errors: `EINVAL` outside 0..=6553599 (it travels in deciseconds).
    pub fn set_heartbeat_ttl(&self, value: i32) -> Result<()> {
        if !(0..=options::MAX_HEARTBEAT_TTL_MS).contains(&value) {
            return Err(Error::EINVAL);
        }
        self.core(|c| c.options.heartbeat_ttl = value);
        Ok(())
    }

    /// The value [`set_heartbeat_ttl`](Socket::set_heartbeat_ttl) set.
    pub fn get_heartbeat_ttl(&self) -> Result<i32> {
        Ok(self.core(|c| c.options.heartbeat_ttl))
    }

    /// Sets IMMEDIATE (default false, as in libzmq). With it off, a PUSH,
    /// DEALER or REQ that has a connect endpoint but no peer (none
    /// connected yet, or every one disconnected or dead; busy peers push
    /// back as SNDHWM means) accepts sends into a
    /// socket-level queue of up to SNDHWM messages; they go to the best
    /// peer that becomes ready, whichever it is (libzmq pins them to one
    /// peer instead). With it on, such sends block, or fail with `EAGAIN`
    /// under DONTWAIT. Sockets with only bind endpoints never queue at the
    /// socket level. Applies at once.
    pub fn set_immediate(&self, value: bool) -> Result<()> {
        self.core(|c| c.options.immediate = value);
        Ok(())
    }

    /// The value [`set_immediate`](Socket::set_immediate) set.
    pub fn is_immediate(&self) -> Result<bool> {
        Ok(self.core(|c| c.options.immediate))
    }

    /// Sets IPV6 for later binds and connects (default off, as in libzmq).
    /// On, a tcp bind to `*` listens on both IPv4 and IPv6 (one socket with
    /// IPV6_V6ONLY off), an interface name stands for its IPv6 address, and
    /// host names may resolve to IPv6 addresses. Off, those mean IPv4 only.
    /// Address literals (`tcp://[::1]:5555`) work either way.
    pub fn set_ipv6(&self, value: bool) -> Result<()> {
        self.core(|c| c.options.ipv6 = value);
        Ok(())
    }

    /// The value [`set_ipv6`](Socket::set_ipv6) set.
    pub fn is_ipv6(&self) -> Result<bool> {
        Ok(self.core(|c| c.options.ipv6))
    }

    /// Sets the identity (routing id) announced to peers of later connections.
    ///
    /// Errors: `EINVAL` unless 1 to 255 bytes long.
    pub fn set_identity(&self, value: &[u8]) -> Result<()> {
        let id = options::identity(value)?;
        self.core(|c| c.options.identity = id);
        Ok(())
    }

    /// The identity set with [`set_identity`](Socket::set_identity) (empty if none).
    pub fn get_identity(&self) -> Result<Vec<u8>> {
        Ok(self.core(|c| c.options.identity.to_vec()))
    }

    /// Sets the send priority of endpoints bound or connected after this
    /// call: 1 is the most preferred, 16 the least, 8 the default. A message
    /// goes to the most preferred tier with a ready peer (SPEC §2, §4).
    ///
    /// Errors: `EINVAL` outside 1..=16.
    pub fn set_sndprio(&self, value: i32) -> Result<()> {
        let p = priority(value)?;
        self.core(|c| c.options.sndprio = p);
        Ok(())
    }

    /// The send priority new endpoints get.
    pub fn get_sndprio(&self) -> Result<i32> {
        Ok(self.core(|c| c.options.sndprio).into())
    }

    /// Sets the receive priority of endpoints bound or connected after this
    /// call: messages waiting on a more preferred peer are received first.
    ///
    /// Errors: `EINVAL` outside 1..=16.
    pub fn set_rcvprio(&self, value: i32) -> Result<()> {
        let p = priority(value)?;
        self.core(|c| c.options.rcvprio = p);
        Ok(())
    }

    /// The receive priority new endpoints get.
    pub fn get_rcvprio(&self) -> Result<i32> {
        Ok(self.core(|c| c.options.rcvprio).into())
    }

    /// Changes the send priority of an existing endpoint (as given to
    /// `bind`/`connect`, or as `get_last_endpoint` reported it) and of its
    /// current connections. The next message follows the new tiers.
    ///
    /// Errors: `EINVAL` outside 1..=16; `ENOENT` for an unknown endpoint.
    pub fn set_endpoint_sndprio(&self, endpoint: &str, value: i32) -> Result<()> {
        let p = priority(value)?;
        self.core(|c| c.set_endpoint_prio(endpoint, p, true, Instant::now()))
    }

    /// Changes the receive priority of an existing endpoint and of its
    /// current connections.
    ///
    /// Errors: `EINVAL` outside 1..=16; `ENOENT` for an unknown endpoint.
    pub fn set_endpoint_rcvprio(&self, endpoint: &str, value: i32) -> Result<()> {
        let p = priority(value)?;
        self.core(|c| c.set_endpoint_prio(endpoint, p, false, Instant::now()))
    }

    /// Sets the failback delay (ms, default 0): a peer that becomes ready
    /// again in a more preferred tier than the active one gets traffic only
    /// after staying ready this long. Applies at once to the whole socket.
    ///
    /// Errors: `EINVAL` if negative.
    pub fn set_failback_delay(&self, value: i32) -> Result<()> {
        let ms = at_least(value, 0)?;
        self.core(|c| {
            c.options.failback_delay = ms;
            c.set_failback_delay(Duration::from_millis(ms.unsigned_abs().into()));
        });
        Ok(())
    }

    /// The failback delay (ms).
    pub fn get_failback_delay(&self) -> Result<i32> {
        Ok(self.core(|c| c.options.failback_delay))
    }

    /// Turns on proportional spillover (SPEC §4) with an overprovisioning
    /// factor in percent (Envoy's priority levels; 140 is Envoy's default),
    /// or off with 0 (the default: all-or-nothing tiers).
    ///
    /// A tier's health is `ready / members × factor`, capped at 100 %,
    /// where members are its peers whatever their state (ready, busy, dead
    /// within the dead linger) and its connect endpoints with no connection
    /// now (a bind's departed peers are unknown, so they do not count).
    /// Each tier in order takes its health's share of the traffic and
    /// passes the rest to the next one; shares are normalised when all
    /// tiers together are below 100 %. With 140, a tier of 10 keeps all
    /// traffic while 8 peers are ready, and 70 % with 5. A half-dead
    /// primary tier is thus not overloaded. The split is deterministic
    /// (exact per 100 messages), never picks a peer that is not ready, and
    /// applies at once. Sockets that do not load-balance ignore it.
    ///
    /// Errors: `EINVAL` outside 0..=10000.
    pub fn set_spillover(&self, percent: i32) -> Result<()> {
        let p = u16::try_from(percent)
            .ok()
            .filter(|&p| p <= 10_000)
            .ok_or(Error::EINVAL)?;
        self.core(|c| {
            c.options.spillover = percent;
            c.set_spillover((p > 0).then_some(p));
        });
        Ok(())
    }

    /// Turns on latency-aware tiers (SPEC §4) with tiers `factor_percent`
    /// wide, or off with 0 (the default). Needs heartbeats
    /// (`set_heartbeat_ivl`): each PONG measures a peer's round trip.
    ///
    /// A peer's send tier then comes from its round trip relative to the
    /// fastest peer's, not from its endpoint's sndprio: with 200, tier 1
    /// holds peers within 2× the fastest (at least 1 ms), tier 2 within 4×,
    /// and so on up to 16. Connect to every site and local peers come
    /// first without configuring priorities. Round trips are smoothed, and
    /// a peer moves only after several samples agree, so jitter does not
    /// flap it. `peers()` shows each peer's current tier as its sndprio,
    /// and each move raises a `TierChanged` monitor event. Turning it off
    /// restores the endpoints' sndprio. Applies at once.
    ///
    /// Errors: `EINVAL` unless 0 or 101..=10000.
    pub fn set_latency_tiers(&self, factor_percent: i32) -> Result<()> {
        let f = u16::try_from(factor_percent)
            .ok()
            .filter(|&f| f == 0 || (101..=10_000).contains(&f))
            .ok_or(Error::EINVAL)?;
        self.core(|c| {
            c.options.latency_tiers = factor_percent;
            c.set_latency_tiers((f > 0).then_some(f), Instant::now());
        });
        Ok(())
    }

    /// The latency tiers' factor (percent; 0: off).
    pub fn get_latency_tiers(&self) -> Result<i32> {
        Ok(self.core(|c| c.options.latency_tiers))
    }

    /// The spillover factor (percent; 0: off).
    pub fn get_spillover(&self) -> Result<i32> {
        Ok(self.core(|c| c.options.spillover))
    }

    /// Sets REQ_RELAXED (REQ): a new request may be sent before the reply to
    /// the last one came; the old request is abandoned and a late reply to
    /// it is dropped (reliably only with REQ_CORRELATE, as in libzmq).
    pub fn set_req_relaxed(&self, value: bool) -> Result<()> {
        self.core(|c| c.set_option(PatternOption::ReqRelaxed(value)));
        Ok(())
    }

    /// The value [`set_req_relaxed`](Socket::set_req_relaxed) set.
    pub fn is_req_relaxed(&self) -> Result<bool> {
        Ok(self.core(|c| c.options.req_relaxed))
    }

    /// Sets REQ_CORRELATE (REQ): each request carries a 4-byte request id
    /// frame before the empty delimiter, and a reply is accepted only with
    /// the id of the request in flight. The peer (REP, or a ROUTER that
    /// echoes the envelope) sends it back unchanged.
    pub fn set_req_correlate(&self, value: bool) -> Result<()> {
        self.core(|c| c.set_option(PatternOption::ReqCorrelate(value)));
        Ok(())
    }

    /// The value [`set_req_correlate`](Socket::set_req_correlate) set.
    pub fn is_req_correlate(&self) -> Result<bool> {
        Ok(self.core(|c| c.options.req_correlate))
    }

    /// Sets the REQ resend interval (ms; 0, the default: off). A request
    /// unanswered for this long is sent again to the best ready peer, which
    /// may be the same one; the caller still gets one reply. With
    /// REQ_CORRELATE a late reply to the earlier attempt is dropped by its
    /// id; without it, only replies from peers other than the current one
    /// are, so use REQ_CORRELATE with this. (Independently of this option,
    /// a request whose peer disconnects or dies is resent at once.)
    ///
    /// Errors: `EINVAL` if negative.
    pub fn set_req_resend_ivl(&self, value: i32) -> Result<()> {
        let ms = at_least(value, 0)?;
        self.core(|c| c.set_option(PatternOption::ReqResendIvl(ms)));
        Ok(())
    }

    /// The value [`set_req_resend_ivl`](Socket::set_req_resend_ivl) set.
    pub fn get_req_resend_ivl(&self) -> Result<i32> {
        Ok(self.core(|c| c.options.req_resend_ivl))
    }

    /// Sets ROUTER_MANDATORY (ROUTER): a message to an unknown routing id
    /// fails with `EHOSTUNREACH`, and one to a peer whose queue is full
    /// waits (up to SNDTIMEO) or fails with `EAGAIN`. Off (the default),
    /// such messages are dropped quietly.
    pub fn set_router_mandatory(&self, value: bool) -> Result<()> {
        self.core(|c| c.set_option(PatternOption::RouterMandatory(value)));
        Ok(())
    }

    /// The value [`set_router_mandatory`](Socket::set_router_mandatory) set.
    pub fn is_router_mandatory(&self) -> Result<bool> {
        Ok(self.core(|c| c.options.router_mandatory))
    }

    /// Sets ROUTER_HANDOVER (ROUTER): a new peer announcing an identity
    /// already in use takes it over and the old tcp/ipc connection is
    /// closed (an inproc one, which would rejoin at once, stays connected
    /// but anonymous). Off (the default), the new peer stays connected but
    /// anonymous, neither read nor addressable, as in libzmq.
    pub fn set_router_handover(&self, value: bool) -> Result<()> {
        self.core(|c| c.set_option(PatternOption::RouterHandover(value)));
        Ok(())
    }

    /// The value [`set_router_handover`](Socket::set_router_handover) set.
    pub fn is_router_handover(&self) -> Result<bool> {
        Ok(self.core(|c| c.options.router_handover))
    }

    /// Subscribes a SUB to messages whose first frame starts with `topic`
    /// (empty: every message). Subscriptions are counted: each needs its
    /// own [`set_unsubscribe`](Socket::set_unsubscribe). They go to every
    /// publisher, now and on each later connection or reconnection. On an
    /// XPUB with [`set_xpub_manual`](Socket::set_xpub_manual), subscribes
    /// the subscriber whose subscription message was received last.
    ///
    /// Errors: `EINVAL` on other socket types (XSUB subscribes by sending
    /// `\x01topic`).
    pub fn set_subscribe(&self, topic: &[u8]) -> Result<()> {
        self.core(|c| c.set_subscription(topic, true))
    }

    /// Removes one subscription made with
    /// [`set_subscribe`](Socket::set_subscribe); publishers are told when
    /// the last one of `topic` goes. Unknown topics are ignored.
    ///
    /// Errors: `EINVAL` as for `set_subscribe`.
    pub fn set_unsubscribe(&self, topic: &[u8]) -> Result<()> {
        self.core(|c| c.set_subscription(topic, false))
    }

    /// Sets XPUB_VERBOSE (XPUB): hand every subscription message to the
    /// application, not only those for topics nobody had subscribed to.
    /// Cancels still come only when a topic loses its last subscriber.
    pub fn set_xpub_verbose(&self, value: bool) -> Result<()> {
        self.core(|c| c.set_option(PatternOption::XpubVerbose(value)));
        Ok(())
    }

    /// Sets XPUB_VERBOSER (XPUB): as XPUB_VERBOSE, and every cancel too.
    pub fn set_xpub_verboser(&self, value: bool) -> Result<()> {
        self.core(|c| c.set_option(PatternOption::XpubVerboser(value)));
        Ok(())
    }

    /// Sets XPUB_MANUAL (XPUB): every subscription message goes to the
    /// application and changes nothing by itself; the application decides
    /// with [`set_subscribe`](Socket::set_subscribe) and
    /// [`set_unsubscribe`](Socket::set_unsubscribe), which apply to the
    /// subscriber of the message it received last. When a subscriber
    /// leaves, the application gets cancels for the topics it had asked for
    /// that no other subscriber asked for.
    pub fn set_xpub_manual(&self, value: bool) -> Result<()> {
        self.core(|c| c.set_option(PatternOption::XpubManual(value)));
        Ok(())
    }

    /// Sets XPUB_NODROP (PUB, XPUB): a send that a matching subscriber at
    /// SNDHWM could not take waits (up to SNDTIMEO), or fails with `EAGAIN`
    /// under DONTWAIT, instead of that subscriber losing the message.
    pub fn set_xpub_nodrop(&self, value: bool) -> Result<()> {
        self.core(|c| c.set_option(PatternOption::XpubNodrop(value)));
        Ok(())
    }

    /// Sets XPUB_WELCOME_MSG (XPUB): a message sent to each new subscriber
    /// as it connects (`None`: none, the default). The subscriber gets it
    /// only if subscribed to it.
    pub fn set_xpub_welcome_msg(&self, value: Option<&str>) -> Result<()> {
        let msg = value.map_or_else(Bytes::new, |m| Bytes::copy_from_slice(m.as_bytes()));
        self.core(|c| c.options.xpub_welcome_msg = msg);
        Ok(())
    }

    /// Sets CONFLATE (PULL, SUB, XSUB, DEALER): keep only the newest
    /// received message; older ones waiting are dropped. As in libzmq this
    /// is meant for single-frame messages: a multipart message is cut to
    /// its last frame. Other socket types ignore it.
    pub fn set_conflate(&self, value: bool) -> Result<()> {
        self.core(|c| c.options.conflate = value);
        Ok(())
    }

    /// The value [`set_conflate`](Socket::set_conflate) set.
    pub fn is_conflate(&self) -> Result<bool> {
        Ok(self.core(|c| c.options.conflate))
    }

    /// Makes a SUB or XSUB a hot-standby subscriber: it stays connected and
    /// subscribed to every publisher, but delivers only messages from the
    /// most preferred receive tier (rcvprio) that has a live publisher
    /// (connected, handshaken, not declared dead by the heartbeat), and
    /// discards the others'. When every publisher of that tier is gone or
    /// dead it switches to the next tier at once (a `Failover` monitor
    /// event); when a more preferred one is live again it switches back
    /// after the failback delay (`Failback`). Off (the default), rcvprio
    /// only orders delivery. Applies at once; other socket types ignore it.
    pub fn set_sub_failover(&self, value: bool) -> Result<()> {
        self.core(|c| c.options.sub_failover = value);
        Ok(())
    }

    /// The value [`set_sub_failover`](Socket::set_sub_failover) set.
    pub fn is_sub_failover(&self) -> Result<bool> {
        Ok(self.core(|c| c.options.sub_failover))
    }
}
