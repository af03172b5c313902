//! Socket patterns: the rules each socket type applies over the core's
//! shared parts (the pipe table, the load balancer and its reroute queue,
//! the fair queue). One module per pattern; the rest of the core reaches
//! them only through the hooks below, which dispatch on [`Pattern`]. A new
//! socket type is one module here, a variant, and its options.
//!
//! | hook | the core calls it when |
//! |---|---|
//! | [`check_send`](Core::check_send), [`send`](Core::send), [`can_send`](Core::can_send) | the application sends |
//! | [`check_recv`](Core::check_recv), `accept`, `taken`, `finished` | a message goes to the application |
//! | `routing_id` | a pipe attaches |
//! | `take_back` | a pipe detaches or dies: what to reroute |
//! | `flush_reroute` | a pipe may have become ready: what waits goes out |
//! | [`next_timer`](Core::next_timer), `tick`, [`send_clock`](Core::send_clock) | timers (REQ's resend) |
//! | [`set_option`](Core::set_option) | the application sets an option of the pattern's own |
//! | `attached`, `pipe_gone`, `pipe_readable`, `pipe_writable` | a pipe joins, leaves, has input, has room (PUB/SUB) |
//! | [`set_subscription`](Core::set_subscription) | the application (un)subscribes |

use std::time::Instant;

use bytes::Bytes;
use tiermq_sched::PipeId;
use tiermq_wire::{Multipart, SocketType as WireType};

use super::{Core, Incoming, Refused};
use crate::{Error, Result};

mod distribute;
mod filter;
mod pipeline;
mod publish;
mod rep;
mod req;
mod router;
mod subscribe;

pub(super) use publish::PubState;
pub(super) use req::ReqState;
pub(super) use subscribe::SubState;

/// An option that belongs to some patterns only. Every socket accepts
/// them, as before (libzmq would refuse some with `EINVAL` on other
/// types); the pattern that uses one reads it from the options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatternOption {
    /// REQ_RELAXED.
    ReqRelaxed(bool),
    /// REQ_CORRELATE.
    ReqCorrelate(bool),
    /// REQ_RESEND_IVL, in ms (0: off).
    ReqResendIvl(i32),
    /// ROUTER_MANDATORY.
    RouterMandatory(bool),
    /// ROUTER_HANDOVER.
    RouterHandover(bool),
    /// XPUB_VERBOSE.
    XpubVerbose(bool),
    /// XPUB_VERBOSER.
    XpubVerboser(bool),
    /// XPUB_MANUAL.
    XpubManual(bool),
    /// XPUB_NODROP.
    XpubNodrop(bool),
}

/// A socket type's pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// Load-balanced sending.
    Push,
    /// Fair-queued receiving.
    Pull,
    /// One request at a time, load-balanced; one reply each.
    Req,
    /// One reply per request, to the pipe it came from.
    Rep,
    /// PUSH and PULL together.
    Dealer,
    /// Addressed by routing id.
    Router,
    /// Fans out to matching subscribers.
    Pub,
    /// PUB that also hands subscriptions to the application.
    XPub,
    /// Subscribes, receives what matches.
    Sub,
    /// SUB whose subscriptions are messages the application sends.
    XSub,
}

impl Pattern {
    /// The pattern of a ZMTP socket type tiermq serves.
    pub(crate) fn of(t: WireType) -> Option<Pattern> {
        Some(match t {
            WireType::Push => Pattern::Push,
            WireType::Pull => Pattern::Pull,
            WireType::Req => Pattern::Req,
            WireType::Rep => Pattern::Rep,
            WireType::Dealer => Pattern::Dealer,
            WireType::Router => Pattern::Router,
            WireType::Pub => Pattern::Pub,
            WireType::XPub => Pattern::XPub,
            WireType::Sub => Pattern::Sub,
            WireType::XSub => Pattern::XSub,
            WireType::Pair => return None,
        })
    }

    /// Sends by priority tier through the scheduler.
    pub(crate) fn load_balances(self) -> bool {
        matches!(self, Pattern::Push | Pattern::Dealer | Pattern::Req)
    }

    /// Receives fair-queued by rcvprio.
    pub(crate) fn fair_queues(self) -> bool {
        !matches!(self, Pattern::Push | Pattern::Pub | Pattern::XPub)
    }

    /// Receives at all (XPUB: subscriptions).
    pub(crate) fn receives(self) -> bool {
        self.fair_queues() || self == Pattern::XPub
    }

    /// Sends at all.
    pub(crate) fn sends(self) -> bool {
        !matches!(self, Pattern::Pull | Pattern::Sub)
    }

    /// PUB or XPUB: fans out by subscription.
    pub(crate) fn publishes(self) -> bool {
        matches!(self, Pattern::Pub | Pattern::XPub)
    }

    /// SUB or XSUB: subscribes.
    pub(crate) fn subscribes(self) -> bool {
        matches!(self, Pattern::Sub | Pattern::XSub)
    }

    /// Keeps per-pipe tiers in the scheduler: by sndprio for the senders
    /// (load-balanced, or PUB's fan-out to the best live tier), by rcvprio
    /// for SUB/XSUB (the hot-standby subscriber's live tier).
    pub(crate) fn tiered(self) -> bool {
        self.load_balances() || self.publishes() || self.subscribes()
    }

    /// CONFLATE applies (on input): PULL, SUB, XSUB, DEALER.
    pub(crate) fn may_conflate(self) -> bool {
        matches!(
            self,
            Pattern::Pull | Pattern::Sub | Pattern::XSub | Pattern::Dealer
        )
    }
}

impl Incoming {
    /// A message with no envelope to keep.
    fn plain(body: Multipart, from: (PipeId, u64)) -> Incoming {
        Incoming {
            body,
            from,
            envelope: Vec::new(),
        }
    }
}

impl Core {
    /// Sets an option of a pattern's own (see [`PatternOption`]).
    pub(crate) fn set_option(&mut self, option: PatternOption) {
        let o = &mut self.options;
        match option {
            PatternOption::ReqRelaxed(v) => o.req_relaxed = v,
            PatternOption::ReqCorrelate(v) => o.req_correlate = v,
            PatternOption::ReqResendIvl(ms) => o.req_resend_ivl = ms,
            PatternOption::RouterMandatory(v) => o.router_mandatory = v,
            PatternOption::RouterHandover(v) => o.router_handover = v,
            PatternOption::XpubVerbose(v) => {
                o.xpub_verbose_subs = v;
                o.xpub_verbose_unsubs = false;
            }
            PatternOption::XpubVerboser(v) => {
                o.xpub_verbose_subs = v;
                o.xpub_verbose_unsubs = v;
            }
            PatternOption::XpubManual(v) => o.xpub_manual = v,
            PatternOption::XpubNodrop(v) => o.xpub_nodrop = v,
        }
    }

    /// SUBSCRIBE (`subscribe`) or UNSUBSCRIBE of `topic`: on SUB, and on
    /// XPUB with XPUB_MANUAL (for the pipe read from last).
    ///
    /// Errors: `EINVAL` on other socket types, as libzmq.
    pub(crate) fn set_subscription(&mut self, topic: &[u8], subscribe: bool) -> Result<()> {
        match self.pattern {
            Pattern::Sub => self.subscription(topic, subscribe),
            Pattern::XPub if self.options.xpub_manual => {
                self.manual_subscription(topic, subscribe);
            }
            _ => return Err(Error::EINVAL),
        }
        Ok(())
    }

    /// Whether this socket type sends at all.
    pub(crate) fn sends(&self) -> bool {
        self.pattern.sends()
    }

    /// Whether a message may begin now, given its first frame: the state
    /// machines of REQ and REP, and ROUTER_MANDATORY's unknown peers.
    ///
    /// Errors: `ENOTSUP` for a type that does not send, `EFSM` out of turn,
    /// `EHOSTUNREACH` for an unknown ROUTER peer with ROUTER_MANDATORY.
    pub(crate) fn check_send(&self, first: &Bytes) -> Result<()> {
        match self.pattern {
            Pattern::Pull | Pattern::Sub => Err(Error::ENOTSUP),
            Pattern::Req => self.req_check_send(),
            Pattern::Rep if self.reply_to.is_none() || !self.rx_partial.is_empty() => {
                Err(Error::EFSM)
            }
            Pattern::Router => self.router_check_send(first),
            Pattern::Push | Pattern::Dealer | Pattern::Rep => Ok(()),
            Pattern::Pub | Pattern::XPub | Pattern::XSub => Ok(()),
        }
    }

    /// Sends `msg` as the socket type does: to the best ready pipe, after
    /// any rerouted messages (PUSH, DEALER, REQ), to the requester (REP), or
    /// by routing id (ROUTER). [`Refused::Wait`] gives it back if it must
    /// wait for a pipe.
    pub(crate) fn send(
        &mut self,
        msg: Multipart,
        now: Instant,
    ) -> std::result::Result<(), Refused> {
        let r = match self.pattern {
            Pattern::Pull | Pattern::Sub => Err(Refused::Fail(Error::ENOTSUP)),
            Pattern::Push | Pattern::Dealer => self.send_balanced(msg, now),
            Pattern::Pub | Pattern::XPub => self.distribute(msg, now),
            Pattern::XSub => self.xsub_send(msg, now),
            Pattern::Req => self.send_request(msg, now),
            Pattern::Rep => {
                self.send_reply(msg, now);
                Ok(())
            }
            Pattern::Router => self.send_routed(msg, now),
        };
        self.after_send(r, now)
    }

    /// Whether a message sent now would be taken without waiting.
    pub(crate) fn can_send(&mut self, now: Instant) -> bool {
        match self.pattern {
            Pattern::Pull | Pattern::Sub => false,
            // A slow subscriber loses messages (or, with XPUB_NODROP,
            // blocks a send); the socket itself always takes one.
            Pattern::Pub | Pattern::XPub | Pattern::XSub => true,
            Pattern::Req if self.req_check_send().is_err() => false,
            Pattern::Rep => self.reply_to.is_some() && self.rx_partial.is_empty(),
            Pattern::Router => true,
            Pattern::Push | Pattern::Dealer | Pattern::Req => self.balanced_has_room(now),
        }
    }

    /// Whether this socket type receives, and may now: `ENOTSUP` for PUSH
    /// and PUB; `EFSM` for REQ with no request sent, and REP owing a reply.
    pub(crate) fn check_recv(&self) -> Result<()> {
        if !self.pattern.receives() {
            return Err(Error::ENOTSUP);
        }
        if !self.rx_partial.is_empty() {
            return Ok(());
        }
        match self.pattern {
            Pattern::Req if !self.req.expect_reply => Err(Error::EFSM),
            Pattern::Rep if self.reply_to.is_some() => Err(Error::EFSM),
            _ => Ok(()),
        }
    }

    /// Message `m` from pipe `from`, as the application gets it; `None`
    /// drops it (a stale REQ reply, a REP request with no envelope).
    pub(super) fn accept(&mut self, from: (PipeId, u64), m: Multipart) -> Option<Incoming> {
        match self.pattern {
            Pattern::Req => self.accept_reply(from, m).map(|b| Incoming::plain(b, from)),
            Pattern::Rep => self.accept_request(from, m),
            Pattern::Router => Some(self.accept_routed(from, m)),
            Pattern::Sub | Pattern::XSub => self.accept_published(from, m),
            Pattern::Push | Pattern::Pull | Pattern::Dealer | Pattern::Pub | Pattern::XPub => {
                Some(Incoming::plain(m, from))
            }
        }
    }

    /// The application starts reading a message that came from `from`.
    pub(super) fn taken(&mut self, from: (PipeId, u64), envelope: Vec<Bytes>) {
        if self.pattern == Pattern::Rep {
            self.request_taken(from, envelope);
        }
    }

    /// The application read the last frame of a message.
    pub(super) fn finished(&mut self) {
        if self.pattern == Pattern::Req {
            self.req.expect_reply = false;
        }
    }

    /// The routing id a new pipe gets (ROUTER; empty for other types), or
    /// `None` if it stays anonymous (its identity is taken).
    pub(super) fn routing_id(&mut self, identity: &Bytes, now: Instant) -> Option<Bytes> {
        match self.pattern {
            Pattern::Router => self.assign_routing_id(identity, now),
            _ => Some(Bytes::new()),
        }
    }

    /// Decides what becomes of `msgs`, which pipe `id` (numbered `serial`)
    /// will never send: load-balanced types send them elsewhere; REQ
    /// resends only the request in flight (unless its reply came first),
    /// since anything else was abandoned; other types cannot send one
    /// peer's messages to another. Clears what is not rerouted, and says
    /// how many messages count as rerouted.
    pub(super) fn take_back(&mut self, id: PipeId, serial: u64, msgs: &mut Vec<Multipart>) -> u64 {
        match self.pattern {
            Pattern::Req => {
                let never_sent = std::mem::take(msgs).len();
                u64::from(self.req_pipe_gone(id, serial, never_sent))
            }
            _ if !self.pattern.load_balances() => {
                msgs.clear();
                0
            }
            _ => msgs.len() as u64,
        }
    }

    /// A pipe may have become ready: REQ resends a request waiting for
    /// one; PUSH and DEALER send what the reroute queue holds; other types
    /// have nothing to reroute.
    pub(super) fn flush_reroute(&mut self, now: Instant) {
        match self.pattern {
            Pattern::Push | Pattern::Dealer => self.drain_reroute(now),
            Pattern::Req => {
                self.reroute.clear();
                if self.req.pending.as_ref().is_some_and(|r| r.pipe.is_none()) {
                    self.resend_request(now);
                }
            }
            _ => self.reroute.clear(),
        }
    }

    /// Pipe `id` (numbered `serial`) joined: XPUB welcomes it and PUB
    /// reads its subscriptions; SUB and XSUB replay theirs to it.
    pub(super) fn attached(&mut self, id: PipeId, serial: u64) {
        if self.pattern.publishes() {
            self.publisher_attached(id, serial);
        } else if self.pattern.subscribes() {
            self.subscriber_attached(id);
        }
    }

    /// Pipe `id` (numbered `serial`) will send nothing more and take
    /// nothing more.
    pub(super) fn pipe_gone(&mut self, id: PipeId, serial: u64) {
        if self.pattern.publishes() {
            self.publisher_pipe_gone(id, serial);
        } else if self.pattern.subscribes() {
            self.subscriber_pipe_gone(id);
        }
    }

    /// Pipe `id` has input: PUB and XPUB read subscriptions now, other
    /// types when the application receives (CONFLATE: now, keeping only
    /// the last message).
    pub(super) fn pipe_readable(&mut self, id: PipeId) {
        if self.pattern.publishes() {
            self.read_subscriptions(id);
        } else if self.pattern.fair_queues() {
            self.fq.set_readable(id, true);
            if self.pattern.subscribes() {
                self.drop_standby_input(id);
            }
            if self.conflates() {
                self.rx_ready = self.conflated();
            }
        }
    }

    /// The active tier changed: a hot-standby subscriber drops what the
    /// pipes that are now standbys hold.
    pub(super) fn tier_changed(&mut self) {
        if self.pattern.subscribes() && self.options.sub_failover {
            let ids: Vec<PipeId> = self.pipes.iter().map(|(k, _)| PipeId(k)).collect();
            for id in ids {
                self.drop_standby_input(id);
            }
        }
    }

    /// Pipe `id` has room again: SUB and XSUB send the subscription
    /// changes that waited.
    pub(super) fn pipe_writable(&mut self, id: PipeId) {
        if self.pattern.subscribes() {
            self.flush_subscriptions(id);
        }
    }

    /// When a delayed failback or a REQ resend becomes due, if one is pending.
    pub(crate) fn next_timer(&self) -> Option<Instant> {
        let own = match self.pattern {
            Pattern::Req => self.resend_due(),
            _ => None,
        };
        match (self.sched.poll_timeout(), own) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the pattern's timers due at `now` (REQ_RESEND_IVL).
    pub(super) fn tick(&mut self, now: Instant) {
        if self.pattern == Pattern::Req {
            self.handle_resend_timer(now);
        }
    }

    /// The time to send at. Reading the clock costs as much as the rest of
    /// a small send, and a send needs it only when a timer may be due (a
    /// failback delay, a REQ resend); otherwise the latest reading (of an
    /// applied event, or an earlier send) does. State changes that record
    /// a time for the user (a pipe turning busy) read the clock themselves.
    pub(crate) fn send_clock(&mut self) -> Instant {
        if self.pattern == Pattern::Req || self.sched.poll_timeout().is_some() {
            self.last_now = self.last_now.max(Instant::now());
        }
        self.last_now
    }
}
