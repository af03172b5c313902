//! `Core`: one socket's pipe table and the routing over it.
//!
//! Every connection (tcp, ipc or inproc) is one entry in the pipe table: an
//! outgoing pipe writer, an incoming pipe reader, and what the socket knows
//! about the peer. The socket type's [`Pattern`] decides how messages move
//! over the table: PUSH load-balances by priority tier through the
//! [`Scheduler`], PULL fair-queues through the [`FairQueue`], DEALER does
//! both. Messages a dead connection never sent wait in `reroute` and go
//! out, in order, before any newer message.
//!
//! The request-reply types add rules over the same table: REQ load-balances
//! one request at a time and accepts the reply only from the pipe that got
//! it (resending when that pipe goes away without having delivered it);
//! REP answers the pipe a request came from; ROUTER names pipes by routing
//! id and sends by that id.
//!
//! The core does no I/O and holds no handle on its socket, its context or
//! a transport: callers pass `now` in, and pull out the [`Action`]s it
//! wants carried out (monitor events, inproc reconnects) with
//! [`Core::take_actions`]. Its pipes' wakers hand [`Event`]s to the
//! [`Poster`] it was built with. So it is tested without threads.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use slab::Slab;
use tiermq_sched::{FairQueue, PipeId, PipeState, Scheduler, TierEvent};
use tiermq_wire::{Multipart, SocketType as WireType};

use crate::envelope::random_u32;
use crate::events::{Attachment, ConnKey, Event, LinkKey, Poster};
use crate::handles::{InprocPeer, NetLink};
use crate::monitor::MonitorEventKind;
use crate::options::Options;
use crate::peer::{Peer, PeerState};
use crate::{Error, Properties, Result};

mod balancer;
mod fair_queue;
#[cfg(test)]
mod lb_model;
mod lifecycle;
mod pattern;
mod pipes;
#[cfg(test)]
mod pubsub_model;
#[cfg(test)]
mod pubsub_tests;
#[cfg(test)]
mod req_model;
#[cfg(test)]
mod standby_model;
#[cfg(test)]
mod test_pipes;
#[cfg(test)]
mod tests;
mod tiering;

pub(crate) use pattern::{Pattern, PatternOption};
use pattern::{PubState, ReqState, SubState};
use pipes::{PipeRec, close_input};

/// Tier events kept for the caller; older ones are dropped first.
const TIER_EVENT_RING: usize = 256;

/// One `bind` or `connect`.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) key: LinkKey,
    /// As the application wrote it.
    pub(crate) endpoint: String,
    /// As `last_endpoint` reports it (the port actually bound, for instance).
    pub(crate) resolved: String,
    pub(crate) sndprio: u8,
    pub(crate) rcvprio: u8,
    /// Where the link lives, to close it.
    pub(crate) kind: LinkKind,
    /// How its last connection ended, and when (for `peers`).
    pub(crate) last: Option<(PeerState, Instant)>,
    pub(crate) created: Instant,
    /// A connect whose last attempt failed and that is retrying: closing
    /// does not linger for it (it may never come).
    pub(crate) retrying: bool,
}

impl Link {
    /// A connect (tcp, ipc or inproc), which expects one peer and keeps
    /// trying to reach it; else a bind.
    pub(crate) fn is_connect(&self) -> bool {
        matches!(
            self.kind,
            LinkKind::InprocConnect { .. } | LinkKind::Net { bind: false, .. }
        )
    }
}

/// Where a link lives.
#[derive(Debug, Clone)]
pub(crate) enum LinkKind {
    /// A bound inproc name.
    InprocBind(String),
    /// An inproc connect; `peer` is what it registers, again after each
    /// disconnection, so a restarted binder gets it back.
    InprocConnect {
        /// The name connected to.
        name: String,
        /// This side of the link.
        peer: InprocPeer,
    },
    /// A link on a transport reactor; `link` is `None` while the reactor is
    /// still being asked (connections may attach before it answers).
    Net {
        /// A bind (else a connect).
        bind: bool,
        /// The reactor's handle, once it answered.
        link: Option<NetLink>,
    },
}

/// Why a message could not be sent now.
#[derive(Debug)]
pub(crate) enum Refused {
    /// No pipe can take it yet; it is given back to wait with.
    Wait(Multipart),
    /// It cannot go (the socket's error for it).
    Fail(Error),
}

/// A message taken from a pipe, ready for the application.
#[derive(Debug)]
struct Incoming {
    body: Multipart,
    /// The pipe it came from and that pipe's serial.
    from: (PipeId, u64),
    /// REP: the envelope to put in front of the reply.
    envelope: Vec<Bytes>,
}

/// Something the core wants its owner to carry out, in order.
#[derive(Debug)]
pub(crate) enum Action {
    /// Offer this event to the socket's monitors.
    Monitor {
        kind: MonitorEventKind,
        endpoint: String,
        peer: String,
    },
    /// Register this inproc connect with the context again, so that it
    /// joins the next bind of its name (as a tcp connect reconnects).
    ReconnectInproc { name: String, peer: InprocPeer },
}

/// The actions waiting for the owner. Monitor events are only queued while
/// someone may watch (`monitored`), so an unwatched socket pays nothing.
#[derive(Debug, Default)]
struct Outbox {
    monitored: bool,
    actions: Vec<Action>,
}

impl Outbox {
    fn emit(&mut self, kind: MonitorEventKind, endpoint: &str, peer: &str) {
        if self.monitored {
            self.actions.push(Action::Monitor {
                kind,
                endpoint: endpoint.to_owned(),
                peer: peer.to_owned(),
            });
        }
    }
}

/// A socket's state; see the module docs.
pub(crate) struct Core {
    pub(crate) wire_type: WireType,
    pub(crate) pattern: Pattern,
    pub(crate) options: Options,
    pipes: Slab<PipeRec>,
    serial: u64,
    conns: HashMap<ConnKey, PipeId>,
    links: Vec<Link>,
    next_link: u64,
    pub(crate) last_endpoint: String,
    sched: Scheduler,
    fq: FairQueue,
    reroute: VecDeque<Multipart>,
    /// Inproc pipes whose peer went away; detached after the current operation.
    dead: Vec<PipeId>,
    /// Frames of a multipart message being sent, until the last one.
    pub(crate) tx_partial: Multipart,
    /// Frames of the message being received that the caller has not taken yet.
    rx_partial: VecDeque<Bytes>,
    /// The pipe (and its serial) the message being received came from,
    /// for its properties: a copy per message, looked up only on request.
    rx_from: Option<(PipeId, u64)>,
    /// A whole message taken from a pipe by `poll` (to know it is really there).
    rx_ready: Option<Incoming>,
    req: ReqState,
    /// PUB, XPUB: subscriptions and the fan-out.
    publish: PubState,
    /// SUB, XSUB: subscriptions and their filter.
    subscribe: SubState,
    /// REP: the pipe and envelope of the request being answered.
    reply_to: Option<((PipeId, u64), Vec<Bytes>)>,
    /// ROUTER: pipes by routing id.
    ids: HashMap<Bytes, PipeId>,
    next_generated_id: u32,
    /// Where the pipes' wakers send their events.
    post: Poster,
    /// Monitor events and reconnects for the owner to carry out.
    out: Outbox,
    pub(crate) rcvmore: bool,
    tier_events: VecDeque<TierEvent>,
    pub(crate) closed: bool,
    /// The latest clock reading the core was given (see [`Core::send_clock`]).
    last_now: Instant,
    /// Transport connections whose pipes this socket closed, still flushing.
    closing: std::collections::HashSet<ConnKey>,
    /// Latency-aware tiers, when on (see `latency`).
    latency: Option<tiermq_sched::LatencyTiers>,
    /// PAIR: the pipes of inproc peers refused as second peers, held open
    /// so that they do not rejoin at once (see `refuse_second_pair`).
    parked: Vec<(
        tiermq_pipe::Writer<tiermq_wire::Item>,
        tiermq_pipe::Reader<tiermq_wire::Item>,
    )>,
}

impl Core {
    /// A core for `wire_type`; its pipes' wakers give their events to
    /// `post` (from any thread).
    pub(crate) fn new(pattern: Pattern, wire_type: WireType, post: Poster) -> Core {
        Core {
            req: ReqState {
                expect_reply: false,
                pending: None,
                next_id: random_u32(),
            },
            reply_to: None,
            publish: PubState::default(),
            subscribe: SubState::default(),
            ids: HashMap::new(),
            next_generated_id: random_u32(),
            post,
            out: Outbox::default(),
            wire_type,
            pattern,
            options: Options::default(),
            pipes: Slab::new(),
            serial: 0,
            conns: HashMap::new(),
            links: Vec::new(),
            next_link: 0,
            last_endpoint: String::new(),
            sched: Scheduler::new(),
            fq: FairQueue::new(),
            reroute: VecDeque::new(),
            dead: Vec::new(),
            tx_partial: Multipart::new(),
            rx_partial: VecDeque::new(),
            rx_from: None,
            rx_ready: None,
            rcvmore: false,
            tier_events: VecDeque::new(),
            closed: false,
            last_now: Instant::now(),
            closing: std::collections::HashSet::new(),
            latency: None,
            parked: Vec::new(),
        }
    }

    // ----- links -----

    pub(crate) fn new_link_key(&mut self) -> LinkKey {
        self.next_link += 1;
        LinkKey(self.next_link)
    }

    /// Records a bind or connect; its pipes take the priorities current now.
    pub(crate) fn add_link(
        &mut self,
        key: LinkKey,
        endpoint: &str,
        resolved: String,
        kind: LinkKind,
    ) {
        self.last_endpoint.clone_from(&resolved);
        self.links.push(Link {
            key,
            endpoint: endpoint.to_owned(),
            resolved,
            sndprio: self.options.sndprio,
            rcvprio: self.options.rcvprio,
            kind,
            last: None,
            created: Instant::now(),
            retrying: false,
        });
        self.count_absent();
    }

    fn link_index(&self, endpoint: &str, bind: Option<bool>) -> Option<usize> {
        self.links.iter().position(|l| {
            let is_bind = matches!(l.kind, LinkKind::InprocBind(_))
                || matches!(l.kind, LinkKind::Net { bind: true, .. });
            bind.is_none_or(|b| b == is_bind) && (l.endpoint == endpoint || l.resolved == endpoint)
        })
    }

    /// The link named `endpoint` (as written or as resolved), if any.
    pub(crate) fn find_link(&self, endpoint: &str, bind: bool) -> Option<(LinkKey, LinkKind)> {
        let l = &self.links[self.link_index(endpoint, Some(bind))?];
        Some((l.key, l.kind.clone()))
    }

    /// Removes link `key` and ends its pipes.
    pub(crate) fn remove_link(&mut self, key: LinkKey, now: Instant) {
        self.links.retain(|l| l.key != key);
        let ids: Vec<PipeId> = self
            .pipes
            .iter()
            .filter(|(_, p)| p.link == key)
            .map(|(k, _)| PipeId(k))
            .collect();
        for id in ids {
            match self.pipes[id.0].conn {
                // The transport's `Detached` brings the messages its session
                // held, older than those in the pipe: reroute then, in order.
                ConnKey::Net(..) => self.mark_disconnected(id, now),
                ConnKey::Inproc(_) => self.end_pipe(id, now),
            }
        }
        self.count_absent();
    }

    /// Completes a transport link once the reactor answered.
    pub(crate) fn set_net_link(&mut self, key: LinkKey, net: NetLink, resolved: String) {
        if let Some(l) = self.links.iter_mut().find(|l| l.key == key) {
            l.kind = LinkKind::Net {
                bind: net.bind,
                link: Some(net),
            };
            l.resolved.clone_from(&resolved);
        }
        self.last_endpoint = resolved;
    }

    /// Forgets a link whose bind or connect failed.
    pub(crate) fn drop_link(&mut self, key: LinkKey) {
        self.links.retain(|l| l.key != key);
    }

    /// Every link, for closing them all.
    pub(crate) fn take_links(&mut self) -> Vec<Link> {
        std::mem::take(&mut self.links)
    }

    /// Changes the send priority of one endpoint and of its current pipes.
    pub(crate) fn set_endpoint_prio(
        &mut self,
        endpoint: &str,
        p: u8,
        send: bool,
        now: Instant,
    ) -> Result<()> {
        let i = self.link_index(endpoint, None).ok_or(Error::ENOENT)?;
        let key = self.links[i].key;
        if send {
            self.links[i].sndprio = p;
        } else {
            self.links[i].rcvprio = p;
        }
        for (k, rec) in self.pipes.iter_mut().filter(|(_, r)| r.link == key) {
            let id = PipeId(k);
            if send {
                rec.sndprio = p;
                let tiered = self.pattern.load_balances() || self.pattern.publishes();
                if rec.out.is_some() && tiered {
                    self.sched
                        .set_priority(id, p, now)
                        .map_err(|_| Error::EINVAL)?;
                }
            } else {
                rec.rcvprio = p;
                if rec.inp.is_some() && self.pattern.fair_queues() {
                    self.fq.set_priority(id, p).map_err(|_| Error::EINVAL)?;
                }
                if rec.out.is_some() && self.pattern.subscribes() {
                    self.sched
                        .set_priority(id, p, now)
                        .map_err(|_| Error::EINVAL)?;
                }
            }
        }
        self.count_absent();
        self.collect_tier_events();
        self.flush_reroute(now);
        Ok(())
    }

    // ----- events -----

    pub(crate) fn apply(&mut self, event: Event, now: Instant) {
        self.last_now = self.last_now.max(now);
        match event {
            Event::Attached(a) => self.attach(a, now),
            Event::Detached { conn, unsent, dead } => match self.conns.get(&conn) {
                _ if self.closed => {
                    self.closing.remove(&conn);
                }
                Some(&id) => {
                    let why = if dead {
                        PeerState::Dead
                    } else {
                        PeerState::Disconnected
                    };
                    self.detach_as(id, unsent, why, now);
                }
                // Already ended here (unbind, or its pipe closed first):
                // whatever it held still goes out elsewhere.
                None => {
                    self.reroute.extend(unsent);
                    self.flush_reroute(now);
                }
            },
            Event::Dead { conn, unsent } => match self.conns.get(&conn) {
                Some(&id) if !self.closed => self.mark_dead(id, unsent, now),
                // As for `Detached` of a pipe already ended here.
                None if !self.closed => {
                    self.reroute.extend(unsent);
                    self.flush_reroute(now);
                }
                _ => {}
            },
            Event::Revived { conn } => {
                if let Some(&id) = self.conns.get(&conn) {
                    self.revive(id, now);
                }
            }
            Event::RoundTrip { conn, rtt } => self.on_round_trip(conn, rtt, now),
            Event::ConnectRetrying { link } => {
                if let Some(l) = self.links.iter_mut().find(|l| l.key == link) {
                    l.retrying = true;
                }
            }
            Event::Writable { pipe, serial } => self.on_writable(pipe, serial, now),
            Event::Readable { pipe, serial } => {
                if self
                    .pipes
                    .get(pipe.0)
                    .is_some_and(|r| r.serial == serial && r.inp.is_some())
                {
                    self.pipe_readable(pipe);
                }
            }
        }
        self.tick(now);
        self.reap(now);
        self.collect_tier_events();
    }

    fn collect_tier_events(&mut self) {
        let mut changed = false;
        while let Some(e) = self.sched.poll_event() {
            changed = true;
            let kind = match e {
                TierEvent::Failover { from, to } => MonitorEventKind::Failover { from, to },
                TierEvent::Failback { from, to } => MonitorEventKind::Failback { from, to },
            };
            self.out.emit(kind, "", "");
            if self.tier_events.len() == TIER_EVENT_RING {
                self.tier_events.pop_front();
            }
            self.tier_events.push_back(e);
        }
        if changed {
            self.tier_changed();
        }
    }

    /// The actions queued since the last call, oldest first. Call after
    /// every call into the core, before releasing it, and carry them out
    /// in order.
    pub(crate) fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out.actions)
    }

    /// Whether someone may watch monitor events from now on (`false`: the
    /// core queues none).
    pub(crate) fn set_monitored(&mut self, on: bool) {
        self.out.monitored = on;
    }

    pub(crate) fn take_tier_events(&mut self) -> Vec<TierEvent> {
        self.tier_events.drain(..).collect()
    }

    // ----- closing -----

    /// Ends every pipe; later attachments are refused. Nothing is taken back
    /// from the pipes: an inproc peer can still read what is in its pipe,
    /// and the transport writes out what its connections still hold, then
    /// reports them detached (see [`Core::is_flushing`]).
    pub(crate) fn close(&mut self) {
        self.closed = true;
        for p in self.pipes.drain() {
            if Self::sent_over_net(&p) {
                self.closing.insert(p.conn);
            }
            if let Some(out) = p.out {
                out.set_waker(None);
                out.close();
            }
            if let Some(inp) = p.inp {
                close_input(inp, p.prefetch);
            }
        }
        self.conns.clear();
        self.ids.clear();
        self.req.pending = None;
        self.reply_to = None;
        self.publish = PubState::default();
        self.subscribe = SubState::default();
        self.sched = Scheduler::new();
        self.fq = FairQueue::new();
        self.reroute.clear();
        for (out, inp) in self.parked.drain(..) {
            out.close();
            inp.close();
        }
    }

    /// Whether connections closed by [`Core::close`] are still writing out.
    pub(crate) fn is_flushing(&self) -> bool {
        !self.closing.is_empty()
    }

    /// How long blocking calls may wait before re-checking the failback timer.
    pub(crate) fn wake_by(&self, deadline: Option<Instant>) -> Option<Instant> {
        match (deadline, self.next_timer()) {
            (Some(d), Some(t)) => Some(d.min(t)),
            (d, t) => d.or(t),
        }
    }
}

/// The wall-clock time of `at` (for users who log it).
fn wall_clock(at: Instant) -> std::time::SystemTime {
    let now = std::time::SystemTime::now();
    now.checked_sub(at.elapsed()).unwrap_or(now)
}

fn to_sched(s: PeerState) -> PipeState {
    match s {
        PeerState::Connecting => PipeState::Connecting,
        PeerState::Ready => PipeState::Ready,
        PeerState::Busy => PipeState::Busy,
        PeerState::Dead => PipeState::Dead,
        PeerState::Disconnected => PipeState::Disconnected,
    }
}

/// A deadline `ms` milliseconds from `now` (`-1`: none).
pub(crate) fn deadline_after(now: Instant, ms: i32) -> Option<Instant> {
    crate::options::timeout_ms(ms).and_then(|d| now.checked_add(d))
}

/// The deadline `ms` milliseconds from now (`None` for no limit), reading
/// the clock only when there is a limit: a blocking call without one is
/// the round-trip hot path.
pub(crate) fn deadline_in(ms: i32) -> Option<Instant> {
    crate::options::timeout_ms(ms).and_then(|d| Instant::now().checked_add(d))
}
