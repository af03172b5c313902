//! `Core`: one socket's pipe table and the routing over it.
//!
//! Every connection (tcp, ipc or inproc) is one entry in the pipe table: an
//! outgoing pipe writer, an incoming pipe reader, and what the socket knows
//! about the peer. The socket type's [`Routing`] decides how messages move
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

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use bytes::Bytes;
use slab::Slab;
use tiermq_pipe::{Reader, RecvError, Room, SendError, Writer};
use tiermq_sched::{FairQueue, PipeId, PipeState, Scheduler, TierEvent};
use tiermq_wire::{Multipart, SocketType as WireType};

use crate::envelope::{self, random_u32};
use crate::inproc::Registry;
use crate::monitor::{Hub, MonitorEventKind};
use crate::options::Options;
use crate::peer::{Peer, PeerState};
use crate::shared::{Shared, lock};
use crate::{Error, Result};

#[cfg(test)]
mod req_model;
mod request_reply;
mod tiering;

use request_reply::ReqState;

/// Tier events kept for the caller; older ones are dropped first.
const TIER_EVENT_RING: usize = 256;

/// Which connection a pipe belongs to, unique within the socket's `Context`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ConnKey {
    /// A transport connection: (reactor index, the reactor's `ConnId`).
    Net(usize, u64),
    /// An inproc connection, numbered by the context.
    Inproc(u64),
}

/// Names one `bind` or `connect` of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct LinkKey(pub(crate) u64);

/// A new pipe pair for the socket.
pub(crate) struct Attachment {
    pub(crate) conn: ConnKey,
    pub(crate) link: LinkKey,
    pub(crate) peer_addr: String,
    pub(crate) peer_type: WireType,
    /// The peer's `Identity` (empty if it sent none).
    pub(crate) identity: Bytes,
    pub(crate) out: Writer<Multipart>,
    pub(crate) inp: Reader<Multipart>,
}

/// A change the core must apply, posted from any thread (see `shared`).
pub(crate) enum Event {
    /// A connection completed its handshake (or an inproc pair was made).
    Attached(Attachment),
    /// A connection ended; `unsent` are messages it took but never began to write.
    Detached {
        conn: ConnKey,
        unsent: Vec<Multipart>,
        /// Ended by the heartbeat (the peer is dead).
        dead: bool,
    },
    /// The heartbeat declared a connection's peer dead; the connection
    /// lingers. `unsent` as for `Detached`.
    Dead {
        conn: ConnKey,
        unsent: Vec<Multipart>,
    },
    /// A connection reported `Dead` heard from its peer again.
    Revived { conn: ConnKey },
    /// A connect attempt of this link failed; it retries.
    ConnectRetrying { link: LinkKey },
    /// A heartbeat round trip measured on a connection.
    RoundTrip {
        conn: ConnKey,
        rtt: std::time::Duration,
    },
    /// A pipe's writer has room again, or its reader went away.
    Writable { pipe: PipeId, serial: u64 },
    /// A pipe's reader has input again, or its writer went away.
    Readable { pipe: PipeId, serial: u64 },
}

/// How a socket type moves messages over the pipe table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Routing {
    /// Send by priority tier, round-robin within the tier (PUSH, DEALER, REQ).
    pub(crate) load_balance: bool,
    /// Receive fair-queued by rcvprio (PULL, DEALER, REQ, REP, ROUTER).
    pub(crate) fair_queue: bool,
}

impl Routing {
    pub(crate) fn of(t: WireType) -> Option<Routing> {
        let (load_balance, fair_queue) = match t {
            WireType::Push => (true, false),
            WireType::Pull | WireType::Rep | WireType::Router => (false, true),
            WireType::Req | WireType::Dealer => (true, true),
            _ => return None,
        };
        Some(Routing {
            load_balance,
            fair_queue,
        })
    }
}

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
        peer: crate::inproc::InprocPeer,
    },
    /// A link on a transport reactor; `link` is `None` while the reactor is
    /// still being asked (connections may attach before it answers).
    Net {
        /// A bind (else a connect).
        bind: bool,
        /// The reactor's handle, once it answered.
        link: Option<crate::net::NetLink>,
    },
}

struct PipeRec {
    serial: u64,
    conn: ConnKey,
    link: LinkKey,
    endpoint: String,
    peer_addr: String,
    sndprio: u8,
    rcvprio: u8,
    /// `None` once the connection is gone.
    out: Option<Writer<Multipart>>,
    /// `None` once everything the peer sent was read.
    inp: Option<Reader<Multipart>>,
    /// Messages taken from `inp` in one batch and not yet delivered: they
    /// count as the pipe's input (read before `inp`, reported in `peers`,
    /// dropped with it).
    prefetch: std::vec::IntoIter<Multipart>,
    state: PeerState,
    since: Instant,
    sent: u64,
    received: u64,
    rerouted: u64,
    peer_type: WireType,
    /// ROUTER: the id this pipe is addressed by.
    routing_id: Bytes,
    /// REQ: requests handed to this pipe's peer and not answered yet, in
    /// the order the peer answers them (see `request_reply`).
    in_flight: u32,
    /// REQ: replies dropped as answers to requests given up on.
    stale_replies: u64,
}

/// Messages taken from an in pipe per lock. Taking them in batches saves
/// the pipe's lock per message; it lets a pipe hold up to this many
/// messages beyond RCVHWM.
const PREFETCH: usize = 256;

impl PipeRec {
    /// The next message from the peer: from the prefetch, else a new batch
    /// from the in pipe. `Empty` arms the pipe's waker, as `try_recv` does.
    fn take_input(&mut self) -> std::result::Result<Multipart, RecvError> {
        if let Some(m) = self.prefetch.next() {
            return Ok(m);
        }
        let inp = self.inp.as_ref().ok_or(RecvError::Closed)?;
        let mut batch = Vec::new();
        inp.recv_batch(&mut batch, PREFETCH)?;
        self.prefetch = batch.into_iter();
        self.prefetch.next().ok_or(RecvError::Empty)
    }
}

/// Closes an in pipe, handing back the messages prefetched from it and not
/// delivered: an inproc peer reclaims them with the rest of the pipe and
/// reroutes them, oldest first (a transport drops unread input anyway).
fn close_input(inp: Reader<Multipart>, prefetch: std::vec::IntoIter<Multipart>) {
    inp.set_waker(None);
    inp.close_with_unread(prefetch.collect());
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

/// A socket's state; see the module docs.
pub(crate) struct Core {
    pub(crate) wire_type: WireType,
    pub(crate) routing: Routing,
    pub(crate) options: Options,
    me: Weak<Shared>,
    /// The context's inproc registry, to reconnect inproc connects.
    inproc: Arc<Mutex<Registry>>,
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
    /// A whole message taken from a pipe by `poll` (to know it is really there).
    rx_ready: Option<Incoming>,
    req: ReqState,
    /// REP: the pipe and envelope of the request being answered.
    reply_to: Option<((PipeId, u64), Vec<Bytes>)>,
    /// ROUTER: pipes by routing id.
    ids: HashMap<Bytes, PipeId>,
    next_generated_id: u32,
    /// Where monitor events go.
    hub: Arc<Hub>,
    pub(crate) rcvmore: bool,
    tier_events: VecDeque<TierEvent>,
    pub(crate) closed: bool,
    /// The latest clock reading the core was given (see [`Core::send_clock`]).
    last_now: Instant,
    /// Transport connections whose pipes this socket closed, still flushing.
    closing: std::collections::HashSet<ConnKey>,
    /// Latency-aware tiers, when on (see `latency`).
    latency: Option<tiermq_sched::LatencyTiers>,
}

fn weight(m: &Multipart) -> usize {
    m.byte_len()
}

/// Makes a pipe of whole messages with high-water mark `hwm` (0 = none).
pub(crate) fn new_pipe(hwm: usize) -> (Writer<Multipart>, Reader<Multipart>) {
    tiermq_pipe::pipe_with(tiermq_pipe::Config::new(hwm), weight)
}

impl Core {
    pub(crate) fn new(
        wire_type: WireType,
        routing: Routing,
        me: Weak<Shared>,
        inproc: Arc<Mutex<Registry>>,
        hub: Arc<Hub>,
    ) -> Core {
        Core {
            req: ReqState {
                expect_reply: false,
                pending: None,
                next_id: random_u32(),
            },
            reply_to: None,
            ids: HashMap::new(),
            next_generated_id: random_u32(),
            hub,
            inproc,
            wire_type,
            routing,
            options: Options::default(),
            me,
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
            rx_ready: None,
            rcvmore: false,
            tier_events: VecDeque::new(),
            closed: false,
            last_now: Instant::now(),
            closing: std::collections::HashSet::new(),
            latency: None,
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
    pub(crate) fn set_net_link(
        &mut self,
        key: LinkKey,
        net: crate::net::NetLink,
        resolved: String,
    ) {
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
                if rec.out.is_some() && self.routing.load_balance {
                    self.sched
                        .set_priority(id, p, now)
                        .map_err(|_| Error::EINVAL)?;
                }
            } else {
                rec.rcvprio = p;
                if rec.inp.is_some() && self.routing.fair_queue {
                    self.fq.set_priority(id, p).map_err(|_| Error::EINVAL)?;
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
                if self.routing.fair_queue
                    && self
                        .pipes
                        .get(pipe.0)
                        .is_some_and(|r| r.serial == serial && r.inp.is_some())
                {
                    self.fq.set_readable(pipe, true);
                }
            }
        }
        if self.wire_type == WireType::Req {
            self.handle_resend_timer(now);
        }
        self.reap(now);
        self.collect_tier_events();
    }

    fn attach(&mut self, a: Attachment, now: Instant) {
        let link = self.links.iter().find(|l| l.key == a.link);
        let (Some(link), false) = (link, self.closed) else {
            // Unbound, disconnected or closed meanwhile.
            a.out.close();
            a.inp.close();
            return;
        };
        if !self.wire_type.is_compatible(a.peer_type) {
            a.out.close();
            a.inp.close();
            return;
        }
        let (endpoint, sndprio, rcvprio) = (link.resolved.clone(), link.sndprio, link.rcvprio);
        if let Some(l) = self.links.iter_mut().find(|l| l.key == a.link) {
            l.retrying = false;
        }
        if let Some(&old) = self.conns.get(&a.conn) {
            // A connection id reused: the old one is over.
            self.detach(old, Vec::new(), now);
        }
        // ROUTER: a second peer with an identity in use stays connected but
        // anonymous, neither read nor addressable, as in libzmq. (Closing it
        // would only make it reconnect at once.)
        let routing_id = if self.wire_type == WireType::Router {
            self.assign_routing_id(&a.identity, now)
        } else {
            Some(Bytes::new())
        };
        let anonymous = routing_id.is_none();
        let routing_id = routing_id.unwrap_or_default();
        self.serial += 1;
        let serial = self.serial;
        let id = PipeId(self.pipes.vacant_key());
        let me = self.me.clone();
        a.out.set_waker(Some(Arc::new(move || {
            if let Some(s) = me.upgrade() {
                s.post(Event::Writable { pipe: id, serial });
            }
        })));
        let me = self.me.clone();
        a.inp.set_waker(Some(Arc::new(move || {
            if let Some(s) = me.upgrade() {
                s.post(Event::Readable { pipe: id, serial });
            }
        })));
        let state = if a.out.is_full() {
            PeerState::Busy
        } else {
            PeerState::Ready
        };
        if self.routing.load_balance {
            // Priorities were validated when set.
            let _ = self.sched.join(id, sndprio, now);
            self.sched.set_state(id, to_sched(state), now);
        }
        if self.routing.fair_queue && !anonymous {
            let _ = self.fq.join(id, rcvprio);
            self.fq.set_readable(id, true);
        }
        self.conns.insert(a.conn, id);
        if !routing_id.is_empty() {
            self.ids.insert(routing_id.clone(), id);
        }
        self.hub
            .emit(MonitorEventKind::Ready, &endpoint, &a.peer_addr);
        self.pipes.insert(PipeRec {
            serial,
            conn: a.conn,
            link: a.link,
            endpoint,
            peer_addr: a.peer_addr,
            sndprio,
            rcvprio,
            out: Some(a.out),
            inp: Some(a.inp),
            prefetch: Vec::new().into_iter(),
            state,
            since: now,
            sent: 0,
            received: 0,
            rerouted: 0,
            peer_type: a.peer_type,
            routing_id,
            in_flight: 0,
            stale_replies: 0,
        });
        self.count_absent();
        self.flush_reroute(now);
    }

    fn on_writable(&mut self, id: PipeId, serial: u64, now: Instant) {
        let Some(rec) = self.pipes.get_mut(id.0).filter(|r| r.serial == serial) else {
            return;
        };
        let Some(out) = &rec.out else { return };
        if out.is_closed() {
            match rec.conn {
                // The transport's `Detached` brings the messages its session
                // held, which are older than those still in the pipe: wait for it.
                ConnKey::Net(..) => self.mark_disconnected(id, now),
                ConnKey::Inproc(_) => self.detach(id, Vec::new(), now),
            }
        } else if rec.state == PeerState::Busy && !out.is_full() {
            rec.state = PeerState::Ready;
            rec.since = now;
            self.hub
                .emit(MonitorEventKind::Ready, &rec.endpoint, &rec.peer_addr);
            if self.routing.load_balance {
                self.sched.set_state(id, PipeState::Ready, now);
            }
            self.flush_reroute(now);
        }
    }

    /// Stops sending to pipe `id` until its `Detached` arrives.
    fn mark_disconnected(&mut self, id: PipeId, now: Instant) {
        let Some(rec) = self.pipes.get_mut(id.0) else {
            return;
        };
        if rec.state != PeerState::Disconnected {
            rec.state = PeerState::Disconnected;
            rec.since = now;
            if self.routing.load_balance && rec.out.is_some() {
                self.sched.set_state(id, PipeState::Disconnected, now);
            }
        }
    }

    /// The connection of pipe `id` ended: stop sending to it, and reroute
    /// `unsent` then whatever is still in its queue. Input already queued from
    /// it stays readable until drained.
    fn detach(&mut self, id: PipeId, unsent: Vec<Multipart>, now: Instant) {
        self.detach_as(id, unsent, PeerState::Disconnected, now);
    }

    /// [`Core::detach`], recording why: `Disconnected` or `Dead`.
    fn detach_as(&mut self, id: PipeId, unsent: Vec<Multipart>, why: PeerState, now: Instant) {
        let Some(rec) = self.pipes.get_mut(id.0) else {
            return;
        };
        if self.conns.get(&rec.conn) == Some(&id) {
            self.conns.remove(&rec.conn);
        }
        let (conn, link) = (rec.conn, rec.link);
        let Some(out) = rec.out.take() else { return };
        out.set_waker(None);
        let mut msgs = unsent;
        msgs.extend(out.reclaim_unsent());
        out.close();
        rec.state = why;
        rec.since = now;
        if let Some(l) = self.links.iter_mut().find(|l| l.key == link) {
            l.last = Some((why, now));
        }
        let serial = rec.serial;
        let (endpoint, peer) = (rec.endpoint.clone(), rec.peer_addr.clone());
        if matches!(conn, ConnKey::Inproc(_)) {
            let reason = String::from("peer closed");
            self.hub
                .emit(MonitorEventKind::Disconnected { reason }, &endpoint, &peer);
        }
        if !rec.routing_id.is_empty() && self.ids.get(&rec.routing_id) == Some(&id) {
            self.ids.remove(&rec.routing_id);
        }
        let rerouted = self.take_back(id, serial, &mut msgs);
        if self.routing.load_balance {
            self.sched.leave(id, now);
        }
        self.forget_round_trips(id, now);
        let Some(rec) = self.pipes.get_mut(id.0) else {
            return;
        };
        rec.rerouted += rerouted;
        // An anonymous ROUTER peer's input is never read.
        let anonymous = self.wire_type == WireType::Router && rec.routing_id.is_empty();
        if !self.routing.fair_queue || anonymous {
            rec.inp = None;
        }
        if rec.inp.is_none() {
            self.pipes.remove(id.0);
        } else {
            // Let the next receive find out whether anything is left.
            self.fq.set_readable(id, true);
        }
        if rerouted > 0 {
            self.hub.emit(
                MonitorEventKind::Rerouted { messages: rerouted },
                &endpoint,
                &peer,
            );
        }
        self.count_absent();
        self.reroute.extend(msgs);
        self.flush_reroute(now);
        if let ConnKey::Inproc(_) = conn {
            self.reconnect_inproc(link);
        }
    }

    /// Decides what becomes of `msgs`, which pipe `id` (numbered `serial`)
    /// will never send: load-balanced types send them elsewhere; REQ
    /// resends only the request in flight (unless its reply came first),
    /// since anything else was abandoned; other types cannot send one
    /// peer's messages to another. Clears what is not rerouted, and says
    /// how many messages count as rerouted.
    fn take_back(&mut self, id: PipeId, serial: u64, msgs: &mut Vec<Multipart>) -> u64 {
        match self.wire_type {
            WireType::Req => {
                let never_sent = std::mem::take(msgs).len();
                u64::from(self.req_pipe_gone(id, serial, never_sent))
            }
            _ if !self.routing.load_balance => {
                msgs.clear();
                0
            }
            _ => msgs.len() as u64,
        }
    }

    /// The heartbeat declared pipe `id`'s peer dead; its connection
    /// lingers (SPEC §3). The pipe gets nothing new, and what it holds
    /// unsent goes elsewhere at once (REQ: the request in flight is
    /// resent). Its input stays readable, and [`Core::revive`] makes it
    /// ready again.
    fn mark_dead(&mut self, id: PipeId, unsent: Vec<Multipart>, now: Instant) {
        let Some(rec) = self.pipes.get_mut(id.0) else {
            return;
        };
        let Some(out) = &rec.out else { return };
        let mut msgs = unsent;
        if self.routing.load_balance {
            msgs.extend(out.reclaim_unsent());
        }
        rec.state = PeerState::Dead;
        rec.since = now;
        let serial = rec.serial;
        let (endpoint, peer) = (rec.endpoint.clone(), rec.peer_addr.clone());
        if self.routing.load_balance {
            self.sched.set_state(id, PipeState::Dead, now);
        }
        let rerouted = self.take_back(id, serial, &mut msgs);
        if let Some(rec) = self.pipes.get_mut(id.0) {
            rec.rerouted += rerouted;
        }
        if rerouted > 0 {
            self.hub.emit(
                MonitorEventKind::Rerouted { messages: rerouted },
                &endpoint,
                &peer,
            );
        }
        self.reroute.extend(msgs);
        self.flush_reroute(now);
    }

    /// Pipe `id`'s peer, declared dead, was heard from again: it is ready
    /// (or busy) again, and the scheduler fails back to it (after the
    /// failback delay).
    fn revive(&mut self, id: PipeId, now: Instant) {
        let Some(rec) = self.pipes.get_mut(id.0) else {
            return;
        };
        let (Some(out), PeerState::Dead) = (&rec.out, rec.state) else {
            return;
        };
        let state = if out.is_full() {
            PeerState::Busy
        } else {
            PeerState::Ready
        };
        rec.state = state;
        rec.since = now;
        let kind = if state == PeerState::Ready {
            MonitorEventKind::Ready
        } else {
            MonitorEventKind::Busy
        };
        self.hub.emit(kind, &rec.endpoint, &rec.peer_addr);
        if self.routing.load_balance {
            self.sched.set_state(id, to_sched(state), now);
        }
        self.flush_reroute(now);
    }

    /// An inproc connect whose peer went away waits for the next bind of
    /// its name, as a tcp connect keeps reconnecting.
    fn reconnect_inproc(&mut self, key: LinkKey) {
        if self.closed {
            return;
        }
        let link = self.links.iter().find(|l| l.key == key);
        if let Some(LinkKind::InprocConnect { name, peer }) = link.map(|l| &l.kind) {
            // An incompatible new binder is skipped, as a handshake would fail.
            let _ = lock(&self.inproc).connect(name, peer.clone());
        }
    }

    /// Ends pipe `id` from this side (unbind, disconnect, close): reroutes
    /// its unsent messages and drops its unread input.
    fn end_pipe(&mut self, id: PipeId, now: Instant) {
        self.detach(id, Vec::new(), now);
        if let Some(rec) = self.pipes.try_remove(id.0) {
            if let Some(inp) = rec.inp {
                close_input(inp, rec.prefetch);
            }
            if self.routing.fair_queue {
                self.fq.leave(id);
            }
        }
    }

    fn reap(&mut self, now: Instant) {
        while let Some(id) = self.dead.pop() {
            self.detach(id, Vec::new(), now);
        }
    }

    fn collect_tier_events(&mut self) {
        while let Some(e) = self.sched.poll_event() {
            let kind = match e {
                TierEvent::Failover { from, to } => MonitorEventKind::Failover { from, to },
                TierEvent::Failback { from, to } => MonitorEventKind::Failback { from, to },
            };
            self.hub.emit(kind, "", "");
            if self.tier_events.len() == TIER_EVENT_RING {
                self.tier_events.pop_front();
            }
            self.tier_events.push_back(e);
        }
    }

    pub(crate) fn take_tier_events(&mut self) -> Vec<TierEvent> {
        self.tier_events.drain(..).collect()
    }

    // ----- sending -----

    /// The time to send at. Reading the clock costs as much as the rest of
    /// a small send, and a send needs it only when a timer may be due (a
    /// failback delay, a REQ resend); otherwise the latest reading (of an
    /// applied event, or an earlier send) does. State changes that record
    /// a time for the user (a pipe turning busy) read the clock themselves.
    pub(crate) fn send_clock(&mut self) -> Instant {
        if self.wire_type == WireType::Req || self.sched.poll_timeout().is_some() {
            self.last_now = self.last_now.max(Instant::now());
        }
        self.last_now
    }

    /// Whether this socket type sends at all.
    pub(crate) fn sends(&self) -> bool {
        self.routing.load_balance || matches!(self.wire_type, WireType::Rep | WireType::Router)
    }

    /// Whether a message may begin now, given its first frame: the state
    /// machines of REQ and REP, and ROUTER_MANDATORY's unknown peers.
    ///
    /// Errors: `ENOTSUP` for a type that does not send, `EFSM` out of turn,
    /// `EHOSTUNREACH` for an unknown ROUTER peer with ROUTER_MANDATORY.
    pub(crate) fn check_send(&self, first: &Bytes) -> Result<()> {
        match self.wire_type {
            _ if !self.sends() => Err(Error::ENOTSUP),
            WireType::Req if self.req.expect_reply && !self.options.req_relaxed => Err(Error::EFSM),
            WireType::Rep if self.reply_to.is_none() || !self.rx_partial.is_empty() => {
                Err(Error::EFSM)
            }
            WireType::Router if self.options.router_mandatory && !self.ids.contains_key(first) => {
                Err(Error::EHOSTUNREACH)
            }
            _ => Ok(()),
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
        let r = match self.wire_type {
            WireType::Req => self.send_request(msg, now),
            WireType::Rep => {
                self.send_reply(msg, now);
                Ok(())
            }
            WireType::Router => self.send_routed(msg, now),
            _ => {
                self.flush_reroute(now);
                let msg = if self.reroute.is_empty() {
                    match self.load_balance(msg, now) {
                        Ok(_) => return self.after_send(Ok(()), now),
                        Err(msg) => msg,
                    }
                } else {
                    msg
                };
                if self.may_queue() {
                    self.reroute.push_back(msg);
                    Ok(())
                } else {
                    Err(Refused::Wait(msg))
                }
            }
        };
        self.after_send(r, now)
    }

    /// The bookkeeping every send ends with.
    fn after_send(
        &mut self,
        r: std::result::Result<(), Refused>,
        now: Instant,
    ) -> std::result::Result<(), Refused> {
        self.reap(now);
        self.collect_tier_events();
        r
    }

    /// IMMEDIATE=0 (SPEC §3): with no ready pipe, a load-balancing socket
    /// that has a connect endpoint queues a message at the socket level,
    /// up to SNDHWM, for the best pipe that becomes ready. Says whether
    /// one more message may queue there now.
    pub(crate) fn may_queue(&self) -> bool {
        let hwm = usize::try_from(self.options.sndhwm).unwrap_or(0);
        !self.options.immediate
            && self.routing.load_balance
            && (hwm == 0 || self.reroute.len() < hwm)
            && self.has_connect_link()
    }

    /// Queues `msg` on pipe `id` if it is still the one numbered `serial`
    /// and has room; otherwise drops it.
    fn send_to(&mut self, id: PipeId, serial: u64, msg: Multipart, now: Instant) {
        let Some(rec) = self.pipes.get_mut(id.0).filter(|r| r.serial == serial) else {
            return;
        };
        let Some(out) = &rec.out else { return };
        match out.try_send(msg) {
            Ok(room) => {
                rec.sent += 1;
                if room == Room::Full {
                    self.mark_busy(id, now);
                }
            }
            Err(SendError::Full(_)) => self.mark_busy(id, now),
            Err(SendError::Closed(_)) => {
                if matches!(rec.conn, ConnKey::Inproc(_)) {
                    self.dead.push(id);
                }
            }
        }
    }

    /// Pipe `id`'s queue reached SNDHWM.
    fn mark_busy(&mut self, id: PipeId, now: Instant) {
        let Some(rec) = self.pipes.get_mut(id.0) else {
            return;
        };
        if rec.state == PeerState::Dead {
            // Dead outranks busy; `revive` looks at the queue again.
            return;
        }
        if rec.state != PeerState::Busy {
            // `now` may be an earlier reading (see `send_clock`).
            let now = now.max(Instant::now());
            rec.state = PeerState::Busy;
            rec.since = now;
            self.hub
                .emit(MonitorEventKind::Busy, &rec.endpoint, &rec.peer_addr);
        }
        if self.routing.load_balance {
            self.sched.set_state(id, PipeState::Busy, now);
        }
    }

    /// Whether a message sent now would be taken without waiting.
    pub(crate) fn can_send(&mut self, now: Instant) -> bool {
        match self.wire_type {
            WireType::Req if self.req.expect_reply && !self.options.req_relaxed => return false,
            WireType::Rep => return self.reply_to.is_some() && self.rx_partial.is_empty(),
            WireType::Router => return true,
            _ => {}
        }
        self.flush_reroute(now);
        self.reap(now);
        self.sched.handle_timeout(now);
        (self.reroute.is_empty() && self.sched.active_tier().is_some()) || self.may_queue()
    }

    /// Hands `msg` to the best ready pipe; says which (and its serial).
    fn load_balance(
        &mut self,
        mut msg: Multipart,
        now: Instant,
    ) -> std::result::Result<(PipeId, u64), Multipart> {
        if self.sched.poll_timeout().is_some_and(|t| t <= now) {
            self.sched.handle_timeout(now);
        }
        loop {
            let Some(id) = self.sched.pick(now) else {
                return Err(msg);
            };
            let Some(rec) = self.pipes.get_mut(id.0) else {
                self.sched.leave(id, now);
                continue;
            };
            let Some(out) = &rec.out else {
                self.sched.leave(id, now);
                continue;
            };
            match out.try_send(msg) {
                Ok(room) => {
                    rec.sent += 1;
                    let serial = rec.serial;
                    if room == Room::Full {
                        self.mark_busy(id, now);
                    }
                    return Ok((id, serial));
                }
                Err(SendError::Full(m)) => {
                    msg = m;
                    self.mark_busy(id, now);
                }
                Err(SendError::Closed(m)) => {
                    msg = m;
                    rec.state = PeerState::Disconnected;
                    rec.since = now;
                    self.sched.set_state(id, PipeState::Disconnected, now);
                    if matches!(rec.conn, ConnKey::Inproc(_)) {
                        self.dead.push(id);
                    }
                }
            }
        }
    }

    fn flush_reroute(&mut self, now: Instant) {
        if !self.routing.load_balance || self.wire_type == WireType::Req {
            self.reroute.clear();
        }
        if self.wire_type == WireType::Req {
            if self.req.pending.as_ref().is_some_and(|r| r.pipe.is_none()) {
                self.resend_request(now);
            }
            return;
        }
        while let Some(m) = self.reroute.pop_front() {
            if let Err(m) = self.load_balance(m, now) {
                self.reroute.push_front(m);
                break;
            }
        }
    }

    pub(crate) fn set_failback_delay(&mut self, delay: std::time::Duration) {
        self.sched.set_failback_delay(delay);
    }

    /// When a delayed failback or a REQ resend becomes due, if one is pending.
    pub(crate) fn next_timer(&self) -> Option<Instant> {
        match (self.sched.poll_timeout(), self.resend_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn active_tier(&mut self, now: Instant) -> Option<u8> {
        self.sched.handle_timeout(now);
        self.sched.active_tier()
    }

    /// Whether messages this socket holds still wait to go out over tcp/ipc:
    /// in the reroute queue (while some peer remains to take them) or in a
    /// transport pipe. Inproc pipes do not count: their messages stay
    /// readable by the peer after this socket is gone.
    pub(crate) fn has_unsent(&mut self, now: Instant) -> bool {
        self.flush_reroute(now);
        self.reap(now);
        let mut any_peer = false;
        let mut queued = false;
        for (_, p) in &self.pipes {
            if let Some(out) = &p.out {
                any_peer = true;
                queued |= matches!(p.conn, ConnKey::Net(..)) && out.stats().queued > 0;
            }
        }
        // IMMEDIATE=0: a tcp/ipc connect still on its way may bring a peer
        // for the socket-level queue (libzmq's connect-side pipe lingers
        // too); one whose attempt failed and that retries is not waited for.
        let may_come = !self.options.immediate
            && self
                .links
                .iter()
                .any(|l| matches!(l.kind, LinkKind::Net { bind: false, .. }) && !l.retrying);
        (any_peer && queued) || ((any_peer || may_come) && !self.reroute.is_empty())
    }

    /// Whether a connect endpoint exists (it may bring a peer).
    fn has_connect_link(&self) -> bool {
        self.links.iter().any(|l| {
            matches!(
                l.kind,
                LinkKind::InprocConnect { .. } | LinkKind::Net { bind: false, .. }
            )
        })
    }

    /// Whether closing should linger: something is unsent, or a tcp/ipc
    /// connection this socket sent on may still be writing it out.
    pub(crate) fn needs_linger(&mut self, now: Instant) -> bool {
        self.has_unsent(now) || self.pipes.iter().any(|(_, p)| Self::sent_over_net(p))
    }

    fn sent_over_net(p: &PipeRec) -> bool {
        p.out.is_some() && p.sent > 0 && matches!(p.conn, ConnKey::Net(..))
    }

    // ----- receiving -----

    /// Whether this socket type receives, and may now: `ENOTSUP` for PUSH;
    /// `EFSM` for REQ with no request sent, and REP owing a reply.
    pub(crate) fn check_recv(&self) -> Result<()> {
        if !self.routing.fair_queue {
            return Err(Error::ENOTSUP);
        }
        if !self.rx_partial.is_empty() {
            return Ok(());
        }
        match self.wire_type {
            WireType::Req if !self.req.expect_reply => Err(Error::EFSM),
            WireType::Rep if self.reply_to.is_some() => Err(Error::EFSM),
            _ => Ok(()),
        }
    }

    /// The next whole message for the application, fair-queued by rcvprio,
    /// with the socket type's envelope handled.
    fn next_incoming(&mut self) -> Option<Incoming> {
        if let Some(m) = self.rx_ready.take() {
            return Some(m);
        }
        if self.wire_type == WireType::Req {
            // Only REQ has a timer here; other types skip the clock read.
            self.handle_resend_timer(Instant::now());
        }
        loop {
            let (id, serial, m) = self.next_message()?;
            let from = (id, serial);
            let incoming = match self.wire_type {
                WireType::Req => {
                    // Only the pipe that got the request may answer it,
                    // and only once it owes no older answers.
                    let Some(body) = self.accept_reply(from, m) else {
                        continue;
                    };
                    Incoming {
                        body,
                        from,
                        envelope: Vec::new(),
                    }
                }
                WireType::Rep => {
                    let Some((envelope, body)) = envelope::split_request(m) else {
                        continue;
                    };
                    Incoming {
                        body,
                        from,
                        envelope,
                    }
                }
                WireType::Router => {
                    let mut body = Multipart::single(self.pipes[id.0].routing_id.clone());
                    for frame in m {
                        body.push(frame);
                    }
                    Incoming {
                        body,
                        from,
                        envelope: Vec::new(),
                    }
                }
                _ => Incoming {
                    body: m,
                    from,
                    envelope: Vec::new(),
                },
            };
            return Some(incoming);
        }
    }

    /// The next whole message from a pipe, fair-queued by rcvprio.
    fn next_message(&mut self) -> Option<(PipeId, u64, Multipart)> {
        loop {
            let id = self.fq.next()?;
            let Some(rec) = self.pipes.get_mut(id.0) else {
                self.fq.leave(id);
                continue;
            };
            if rec.inp.is_none() {
                self.fq.leave(id);
                continue;
            }
            match rec.take_input() {
                Ok(m) if m.is_empty() => {}
                Ok(m) => {
                    rec.received += 1;
                    return Some((id, rec.serial, m));
                }
                Err(RecvError::Empty) => self.fq.set_readable(id, false),
                Err(RecvError::Closed) => {
                    self.fq.leave(id);
                    rec.inp = None;
                    if rec.out.is_none() {
                        self.pipes.remove(id.0);
                    }
                }
            }
        }
    }

    /// The next frame, and whether more of its message follow.
    pub(crate) fn recv_frame(&mut self) -> Option<(Bytes, bool)> {
        let frame = match self.rx_partial.pop_front() {
            Some(frame) => frame,
            None => {
                let m = self.next_incoming()?;
                if self.wire_type == WireType::Rep {
                    self.reply_to = Some((m.from, m.envelope));
                }
                // The first frame goes straight to the caller; only the
                // rest of a multipart message waits in `rx_partial`.
                let mut frames = m.body.into_iter();
                let first = frames.next()?;
                if frames.len() > 0 {
                    self.rx_partial.extend(frames);
                }
                first
            }
        };
        let more = !self.rx_partial.is_empty();
        self.rcvmore = more;
        if !more && self.wire_type == WireType::Req {
            self.req.expect_reply = false;
        }
        Some((frame, more))
    }

    /// Whether a receive now would return a frame without waiting.
    pub(crate) fn can_recv(&mut self) -> bool {
        if !self.rx_partial.is_empty() || self.rx_ready.is_some() {
            return true;
        }
        if self.check_recv().is_err() {
            return false;
        }
        self.rx_ready = self.next_incoming();
        self.rx_ready.is_some()
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
        self.sched = Scheduler::new();
        self.fq = FairQueue::new();
        self.reroute.clear();
    }

    /// Whether connections closed by [`Core::close`] are still writing out.
    pub(crate) fn is_flushing(&self) -> bool {
        !self.closing.is_empty()
    }

    // ----- introspection -----

    /// The endpoint and peer address of connection `conn` (empty if unknown).
    pub(crate) fn conn_names(&self, conn: ConnKey) -> (String, String) {
        self.conns
            .get(&conn)
            .and_then(|id| self.pipes.get(id.0))
            .map(|p| (p.endpoint.clone(), p.peer_addr.clone()))
            .unwrap_or_default()
    }

    /// One entry per pipe, for `Socket::peers`.
    pub(crate) fn peers(&self) -> Vec<Peer> {
        self.pipes
            .iter()
            .map(|(_, p)| {
                let out = p.out.as_ref().map(Writer::stats).unwrap_or_default();
                let inp = p.inp.as_ref().map(Reader::stats).unwrap_or_default();
                Peer {
                    endpoint: p.endpoint.clone(),
                    remote_addr: p.peer_addr.clone(),
                    sndprio: p.sndprio,
                    rcvprio: p.rcvprio,
                    state: p.state,
                    queued_out: out.queued,
                    queued_out_bytes: out.queued_bytes,
                    hwm: out.hwm,
                    room: out.room,
                    queued_in: inp.queued + p.prefetch.len(),
                    sent: p.sent,
                    received: p.received,
                    rerouted: p.rerouted,
                    stale_replies: p.stale_replies,
                    since: p.since,
                    changed: wall_clock(p.since),
                    peer_type: Some(crate::SocketType::from_wire(p.peer_type)),
                    routing_id: p.routing_id.clone(),
                }
            })
            .chain(self.links.iter().filter_map(|l| self.idle_connect(l)))
            .collect()
    }

    /// A connect with no live connection shows as one peer: connecting,
    /// or disconnected/dead as its last connection ended (it keeps trying).
    fn idle_connect(&self, l: &Link) -> Option<Peer> {
        let connect = matches!(
            l.kind,
            LinkKind::InprocConnect { .. } | LinkKind::Net { bind: false, .. }
        );
        let live = self
            .pipes
            .iter()
            .any(|(_, p)| p.link == l.key && p.out.is_some());
        if !connect || live {
            return None;
        }
        let (state, since) = l.last.unwrap_or((PeerState::Connecting, l.created));
        Some(Peer {
            endpoint: l.resolved.clone(),
            remote_addr: String::new(),
            sndprio: l.sndprio,
            rcvprio: l.rcvprio,
            state,
            queued_out: 0,
            queued_out_bytes: 0,
            hwm: 0,
            room: Some(0),
            queued_in: 0,
            sent: 0,
            received: 0,
            rerouted: 0,
            stale_replies: 0,
            since,
            changed: wall_clock(since),
            peer_type: None,
            routing_id: Bytes::new(),
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A core with no socket around it: wakers go nowhere, so the test
    /// applies every event itself, in the order it chooses.
    fn push_core() -> Core {
        Core::new(
            WireType::Push,
            Routing::of(WireType::Push).unwrap(),
            Weak::new(),
            Arc::default(),
            Arc::default(),
        )
    }

    fn msg(n: u8) -> Multipart {
        Multipart::single(Bytes::from(vec![n]))
    }

    fn numbers(r: &Reader<Multipart>) -> Vec<u8> {
        std::iter::from_fn(|| r.try_recv().ok())
            .map(|m| m.frames()[0][0])
            .collect()
    }

    /// Attaches a fake transport connection at `prio`; returns the
    /// transport's ends (it reads `out`, writes `inp`).
    fn connect(
        core: &mut Core,
        conn: u64,
        prio: u8,
        hwm: usize,
    ) -> (Reader<Multipart>, Writer<Multipart>) {
        connect_as(core, conn, prio, hwm, WireType::Pull)
    }

    /// [`connect`] to a peer of type `peer_type`.
    fn connect_as(
        core: &mut Core,
        conn: u64,
        prio: u8,
        hwm: usize,
        peer_type: WireType,
    ) -> (Reader<Multipart>, Writer<Multipart>) {
        core.options.sndprio = prio;
        let key = core.new_link_key();
        core.add_link(
            key,
            "tcp://x:1",
            "tcp://x:1".into(),
            LinkKind::Net {
                bind: false,
                link: None,
            },
        );
        let (out, transport_out) = new_pipe(hwm);
        let (transport_in, inp) = new_pipe(hwm);
        let now = Instant::now();
        core.apply(
            Event::Attached(Attachment {
                conn: ConnKey::Net(0, conn),
                link: key,
                peer_addr: "peer".into(),
                peer_type,
                identity: Bytes::new(),
                out,
                inp,
            }),
            now,
        );
        (transport_out, transport_in)
    }

    #[test]
    fn detached_messages_are_rerouted_in_order_session_first() {
        let mut core = push_core();
        let now = Instant::now();
        let (primary, _p) = connect(&mut core, 1, 1, 100);
        let (backup, _b) = connect(&mut core, 2, 2, 100);
        for n in 0..5 {
            core.send(msg(n), now).unwrap();
        }
        // The session took 0 and 1 but wrote nothing; 2..5 are still queued.
        let unsent = vec![primary.try_recv().unwrap(), primary.try_recv().unwrap()];
        // The transport closes the pipe first: the socket must wait for
        // `Detached` (which brings the older messages) before rerouting.
        primary.close();
        let id = core.conns[&ConnKey::Net(0, 1)];
        let serial = core.pipes[id.0].serial;
        core.apply(Event::Writable { pipe: id, serial }, now);
        assert!(numbers(&backup).is_empty());
        core.apply(
            Event::Detached {
                conn: ConnKey::Net(0, 1),
                unsent,
                dead: false,
            },
            now,
        );
        assert_eq!(numbers(&backup), vec![0, 1, 2, 3, 4]);
        assert_eq!(core.active_tier(now), Some(2));
    }

    #[test]
    fn rerouted_messages_wait_for_a_peer_and_go_before_new_ones() {
        let mut core = push_core();
        core.options.immediate = true;
        let now = Instant::now();
        let (primary, _p) = connect(&mut core, 1, 1, 100);
        for n in 0..3 {
            core.send(msg(n), now).unwrap();
        }
        core.apply(
            Event::Detached {
                conn: ConnKey::Net(0, 1),
                unsent: Vec::new(),
                dead: false,
            },
            now,
        );
        drop(primary);
        // No peer: new messages are refused, the old ones kept.
        assert!(core.send(msg(9), now).is_err());
        assert!(!core.has_unsent(now), "no peer remains to linger for");
        let (backup, _b) = connect(&mut core, 2, 2, 100);
        core.send(msg(3), now).unwrap();
        assert_eq!(numbers(&backup), vec![0, 1, 2, 3]);
    }

    #[test]
    fn immediate_0_queues_up_to_sndhwm_for_the_first_ready_pipe() {
        let mut core = push_core();
        core.options.sndhwm = 3;
        let now = Instant::now();
        // Only a bind: nothing to wait for, nothing queues.
        let key = core.new_link_key();
        let bind = LinkKind::Net {
            bind: true,
            link: None,
        };
        core.add_link(key, "tcp://*:1", "tcp://0.0.0.0:1".into(), bind);
        assert!(!core.can_send(now));
        assert!(matches!(core.send(msg(0), now), Err(Refused::Wait(_))));
        // A connect with no connection yet: up to SNDHWM queue at once.
        let key = core.new_link_key();
        let dialing = LinkKind::Net {
            bind: false,
            link: None,
        };
        core.add_link(key, "tcp://x:2", "tcp://x:2".into(), dialing);
        for n in 0..3 {
            assert!(core.can_send(now));
            core.send(msg(n), now).unwrap();
        }
        assert!(!core.can_send(now));
        assert!(matches!(core.send(msg(3), now), Err(Refused::Wait(_))));
        // The first pipe to be ready gets them, in order, before new ones.
        let (peer, _p) = connect(&mut core, 1, 2, 100);
        core.send(msg(4), now).unwrap();
        assert_eq!(numbers(&peer), vec![0, 1, 2, 4]);
        // IMMEDIATE=1 refuses instead.
        core.options.immediate = true;
        core.apply(
            Event::Detached {
                conn: ConnKey::Net(0, 1),
                unsent: Vec::new(),
                dead: false,
            },
            now,
        );
        assert!(matches!(core.send(msg(5), now), Err(Refused::Wait(_))));
    }

    #[test]
    fn spillover_passes_a_degraded_tiers_share_to_the_next() {
        for spill in [None, Some(100)] {
            let mut core = push_core();
            core.set_spillover(spill);
            let now = Instant::now();
            let (a, _a) = connect(&mut core, 1, 1, 1); // busy after one message
            let (b, _b) = connect(&mut core, 2, 1, 1000);
            let (c, _c) = connect(&mut core, 3, 2, 1000);
            for n in 0..2 {
                core.send(msg(n), now).unwrap();
            }
            assert_eq!(numbers(&a).len(), 1);
            assert_eq!(numbers(&b).len(), 1);
            // Tier 1 has one of its two peers ready: health 50 %.
            for n in 0..200 {
                core.send(msg(n), now).unwrap();
            }
            let (to_b, to_c) = (numbers(&b).len(), numbers(&c).len());
            match spill {
                None => assert_eq!((to_b, to_c), (200, 0), "all or nothing"),
                Some(_) => {
                    assert!(
                        to_b.abs_diff(100) <= 1 && to_c.abs_diff(100) <= 1,
                        "{to_b}/{to_c}"
                    )
                }
            }
        }
    }

    #[test]
    fn latency_tiers_send_to_the_fastest_peers_first() {
        let mut core = push_core();
        let now = Instant::now();
        core.set_latency_tiers(Some(200), now);
        // All at the default sndprio 1; round trips decide.
        let (near, _n) = connect(&mut core, 1, 1, 100);
        let (far, _f) = connect(&mut core, 2, 1, 100);
        let rtt = |core: &mut Core, conn, ms| {
            let rtt = Duration::from_millis(ms);
            core.apply(
                Event::RoundTrip {
                    conn: ConnKey::Net(0, conn),
                    rtt,
                },
                now,
            );
        };
        rtt(&mut core, 1, 2);
        rtt(&mut core, 2, 90);
        for n in 0..10 {
            core.send(msg(n), now).unwrap();
        }
        assert_eq!(numbers(&near).len(), 10, "local first");
        assert!(numbers(&far).is_empty());
        let tiers: Vec<u8> = core.peers().iter().map(|p| p.sndprio).collect();
        assert_eq!(tiers, vec![1, 6]);
        // The near peer leaves: the far one is the fastest now, tier 1.
        core.apply(
            Event::Detached {
                conn: ConnKey::Net(0, 1),
                unsent: Vec::new(),
                dead: false,
            },
            now,
        );
        core.send(msg(10), now).unwrap();
        assert_eq!(numbers(&far), vec![10]);
        // Off: back to the endpoints' sndprio.
        core.set_latency_tiers(None, now);
        assert!(core.peers().iter().all(|p| p.sndprio == 1));
    }

    #[test]
    fn spillover_counts_connect_endpoints_with_no_connection() {
        let mut core = push_core();
        core.set_spillover(Some(100));
        let now = Instant::now();
        // Tier 1: two connects, one of which has no connection; tier 2: one.
        let (a, _a) = connect(&mut core, 1, 1, 1000);
        let (c, _c) = connect(&mut core, 3, 2, 1000);
        core.options.sndprio = 1;
        let key = core.new_link_key();
        let gone = LinkKind::Net {
            bind: false,
            link: None,
        };
        core.add_link(key, "tcp://x:9", "tcp://x:9".into(), gone);
        for n in 0..200 {
            core.send(msg(n), now).unwrap();
        }
        // One of two tier-1 members ready: half the traffic spills.
        let (to_a, to_c) = (numbers(&a).len(), numbers(&c).len());
        assert!(
            to_a.abs_diff(100) <= 1 && to_c.abs_diff(100) <= 1,
            "{to_a}/{to_c}"
        );
        // The missing endpoint is given up: tier 1 is whole again.
        core.remove_link(key, now);
        for n in 0..100 {
            core.send(msg(n), now).unwrap();
        }
        assert_eq!((numbers(&a).len(), numbers(&c).len()), (100, 0));
    }

    #[test]
    fn req_with_immediate_0_sends_its_request_when_a_peer_comes() {
        let mut core = req_core();
        let now = Instant::now();
        let key = core.new_link_key();
        let dialing = LinkKind::Net {
            bind: false,
            link: None,
        };
        core.add_link(key, "tcp://x:2", "tcp://x:2".into(), dialing);
        core.send(msg(1), now).unwrap();
        assert!(
            core.check_send(&Bytes::new()).is_err(),
            "EFSM: one at a time"
        );
        let (peer, _p) = connect_as(&mut core, 1, 1, 100, WireType::Rep);
        assert_eq!(frames(&peer.try_recv().unwrap()), vec![&b""[..], &[1]]);
    }

    #[test]
    fn a_full_pipe_is_busy_until_drained_to_the_low_water_mark() {
        let mut core = push_core();
        let now = Instant::now();
        let (primary, _p) = connect(&mut core, 1, 1, 4);
        let (backup, _b) = connect(&mut core, 2, 2, 100);
        for n in 0..6 {
            core.send(msg(n), now).unwrap();
        }
        assert_eq!(numbers(&backup), vec![4, 5], "overflow after SNDHWM");
        assert_eq!(core.active_tier(now), Some(2));
        // Draining to the LWM (2) wakes the writer; the event makes it ready.
        primary.try_recv().unwrap();
        primary.try_recv().unwrap();
        let id = core.conns[&ConnKey::Net(0, 1)];
        let serial = core.pipes[id.0].serial;
        core.apply(Event::Writable { pipe: id, serial }, now);
        assert_eq!(core.active_tier(now), Some(1));
        core.send(msg(6), now).unwrap();
        assert_eq!(numbers(&primary), vec![2, 3, 6]);
    }

    #[test]
    fn stale_events_for_a_reused_slot_are_ignored() {
        let mut core = push_core();
        let now = Instant::now();
        let (_a, _ai) = connect(&mut core, 1, 1, 4);
        let id = core.conns[&ConnKey::Net(0, 1)];
        let old_serial = core.pipes[id.0].serial;
        core.apply(
            Event::Detached {
                conn: ConnKey::Net(0, 1),
                unsent: Vec::new(),
                dead: false,
            },
            now,
        );
        let (b, _bi) = connect(&mut core, 2, 1, 4);
        assert_eq!(core.conns[&ConnKey::Net(0, 2)], id, "slot reused");
        for n in 0..4 {
            core.send(msg(n), now).unwrap();
        }
        // A late wake for the old pipe must not mark the new, full one ready.
        core.apply(
            Event::Writable {
                pipe: id,
                serial: old_serial,
            },
            now,
        );
        assert_eq!(core.active_tier(now), None);
        assert_eq!(numbers(&b).len(), 4);
    }

    #[test]
    fn pull_reads_what_a_detached_peer_sent_before_it_left() {
        let mut core = Core::new(
            WireType::Pull,
            Routing::of(WireType::Pull).unwrap(),
            Weak::new(),
            Arc::default(),
            Arc::default(),
        );
        let now = Instant::now();
        let key = core.new_link_key();
        core.add_link(
            key,
            "tcp://x:1",
            "tcp://x:1".into(),
            LinkKind::Net {
                bind: true,
                link: None,
            },
        );
        let (out, _transport_out) = new_pipe(10);
        let (transport_in, inp) = new_pipe(10);
        core.apply(
            Event::Attached(Attachment {
                conn: ConnKey::Net(0, 7),
                link: key,
                peer_addr: "peer".into(),
                peer_type: WireType::Push,
                identity: Bytes::new(),
                out,
                inp,
            }),
            now,
        );
        transport_in
            .try_send(Multipart::from(vec![
                Bytes::from_static(b"a"),
                Bytes::from_static(b"b"),
            ]))
            .unwrap();
        transport_in.close();
        core.apply(
            Event::Detached {
                conn: ConnKey::Net(0, 7),
                unsent: Vec::new(),
                dead: false,
            },
            now,
        );
        assert_eq!(core.recv_frame(), Some((Bytes::from_static(b"a"), true)));
        assert_eq!(core.recv_frame(), Some((Bytes::from_static(b"b"), false)));
        assert_eq!(core.recv_frame(), None);
        assert!(core.peers().is_empty(), "the drained pipe is gone");
    }

    fn frames(m: &Multipart) -> Vec<&[u8]> {
        m.frames().iter().map(|f| &f[..]).collect()
    }

    fn req_core() -> Core {
        Core::new(
            WireType::Req,
            Routing::of(WireType::Req).unwrap(),
            Weak::new(),
            Arc::default(),
            Arc::default(),
        )
    }

    fn readable(core: &mut Core, conn: u64, now: Instant) {
        let id = core.conns[&ConnKey::Net(0, conn)];
        let serial = core.pipes[id.0].serial;
        core.apply(Event::Readable { pipe: id, serial }, now);
    }

    #[test]
    fn req_resends_when_its_pipe_detaches_and_takes_one_reply() {
        let mut core = req_core();
        let now = Instant::now();
        let (primary, primary_in) = connect_as(&mut core, 1, 1, 100, WireType::Rep);
        let (backup, backup_in) = connect_as(&mut core, 2, 2, 100, WireType::Rep);
        assert!(core.check_recv().is_err(), "EFSM before a request");
        core.send(msg(7), now).unwrap();
        assert!(
            core.check_send(&Bytes::new()).is_err(),
            "EFSM: one at a time"
        );
        let request = primary.try_recv().unwrap();
        assert_eq!(frames(&request), vec![&b""[..], &[7]]);
        let old = core.conns[&ConnKey::Net(0, 1)];
        let old_serial = core.pipes[old.0].serial;

        // The primary goes away before answering: the request goes to the
        // backup at once, once only.
        core.apply(
            Event::Detached {
                conn: ConnKey::Net(0, 1),
                unsent: Vec::new(),
                dead: true,
            },
            now,
        );
        let resent = backup.try_recv().unwrap();
        assert_eq!(resent, request);
        assert!(backup.try_recv().is_err());
        assert_eq!(core.active_tier(now), Some(2));

        // A late reply from the old pipe is dropped; the backup's is taken.
        primary_in
            .try_send(Multipart::from(vec![
                Bytes::new(),
                Bytes::from_static(b"old"),
            ]))
            .unwrap();
        core.apply(
            Event::Readable {
                pipe: old,
                serial: old_serial,
            },
            now,
        );
        assert_eq!(core.recv_frame(), None);
        backup_in
            .try_send(Multipart::from(vec![
                Bytes::new(),
                Bytes::from_static(b"new"),
            ]))
            .unwrap();
        readable(&mut core, 2, now);
        assert_eq!(core.recv_frame(), Some((Bytes::from_static(b"new"), false)));
        assert!(core.check_recv().is_err(), "EFSM: the reply was taken");
        assert!(core.check_send(&Bytes::new()).is_ok());
    }

    #[test]
    fn req_waits_for_a_peer_to_resend_to() {
        let mut core = req_core();
        let now = Instant::now();
        let (primary, _pi) = connect_as(&mut core, 1, 1, 100, WireType::Rep);
        core.send(msg(1), now).unwrap();
        primary.try_recv().unwrap();
        core.apply(
            Event::Detached {
                conn: ConnKey::Net(0, 1),
                unsent: Vec::new(),
                dead: false,
            },
            now,
        );
        // No peer: the request waits, and goes out when one attaches.
        let (backup, _bi) = connect_as(&mut core, 2, 2, 100, WireType::Rep);
        assert_eq!(frames(&backup.try_recv().unwrap()), vec![&b""[..], &[1]]);
    }

    #[test]
    fn req_takes_the_reply_its_departed_pipe_delivered_and_resends_nothing() {
        let mut core = req_core();
        let now = Instant::now();
        let (primary, primary_in) = connect_as(&mut core, 1, 1, 100, WireType::Rep);
        let (backup, _bi) = connect_as(&mut core, 2, 2, 100, WireType::Rep);
        core.send(msg(3), now).unwrap();
        primary.try_recv().unwrap();
        // The server replies and closes; the end is reported before the
        // reply was read (the transport delivers first, then detaches).
        primary_in
            .try_send(Multipart::from(vec![
                Bytes::new(),
                Bytes::from_static(b"answer"),
            ]))
            .unwrap();
        primary_in.close();
        core.apply(
            Event::Detached {
                conn: ConnKey::Net(0, 1),
                unsent: Vec::new(),
                dead: false,
            },
            now,
        );
        assert!(backup.try_recv().is_err(), "nothing resent");
        assert!(core.can_recv());
        assert_eq!(
            core.recv_frame(),
            Some((Bytes::from_static(b"answer"), false))
        );
        assert!(core.check_recv().is_err(), "EFSM: the reply was taken");
        assert!(core.peers().iter().all(|p| p.rerouted == 0));
    }

    #[test]
    fn req_resend_timer_takes_a_reply_already_waiting_instead() {
        let mut core = req_core();
        core.options.req_resend_ivl = 100;
        let now = Instant::now();
        let (peer, peer_in) = connect_as(&mut core, 1, 1, 100, WireType::Rep);
        core.send(msg(1), now).unwrap();
        peer.try_recv().unwrap();
        // The reply is in the pipe, unread, when the interval passes.
        peer_in
            .try_send(Multipart::from(vec![
                Bytes::new(),
                Bytes::from_static(b"in time"),
            ]))
            .unwrap();
        readable(&mut core, 1, now + Duration::from_millis(100));
        assert!(peer.try_recv().is_err(), "nothing resent");
        assert_eq!(core.next_timer(), None);
        assert_eq!(
            core.recv_frame(),
            Some((Bytes::from_static(b"in time"), false))
        );
    }

    #[test]
    fn req_correlate_resend_interval_uses_a_new_id() {
        let mut core = req_core();
        core.options.req_correlate = true;
        core.options.req_resend_ivl = 100;
        let now = Instant::now();
        let (peer, peer_in) = connect_as(&mut core, 1, 1, 100, WireType::Router);
        core.send(msg(1), now).unwrap();
        let first = peer.try_recv().unwrap();
        assert_eq!(core.next_timer(), Some(now + Duration::from_millis(100)));
        // Any event after the interval runs the timer (as a blocked recv does).
        readable(&mut core, 1, now + Duration::from_millis(100));
        let second = peer.try_recv().unwrap();
        assert_ne!(first.frames()[0], second.frames()[0], "a new request id");
        assert_eq!(&first.frames()[1..], &second.frames()[1..]);
        // The reply to the first attempt is dropped; the second's is taken.
        for (attempt, body) in [(&first, "late"), (&second, "fresh")] {
            let mut reply: Multipart = attempt.frames()[..2].iter().cloned().collect();
            reply.push(Bytes::from(body));
            peer_in.try_send(reply).unwrap();
        }
        readable(&mut core, 1, now);
        assert_eq!(
            core.recv_frame(),
            Some((Bytes::from_static(b"fresh"), false))
        );
    }
}
