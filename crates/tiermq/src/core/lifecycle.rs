//! Pipes coming and going: attach, death and revival, detach with
//! rerouting, and ending a pipe from this side.

use std::time::Instant;

use tiermq_pipe::Writer;
use tiermq_sched::{PipeId, PipeState};
use tiermq_wire::{Item, Multipart};

use super::*;

impl Core {
    pub(super) fn attach(&mut self, a: Attachment, now: Instant) {
        let link = self.links.iter().find(|l| l.key == a.link);
        let (Some(link), false) = (link, self.closed) else {
            // Unbound, disconnected or closed meanwhile.
            a.out.close();
            a.inp.close();
            return;
        };
        if self.pattern == Pattern::Pair && self.pair_is_taken() {
            self.refuse_second_pair(a);
            return;
        }
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
        let routing_id = self.routing_id(&a.identity, now);
        let anonymous = routing_id.is_none();
        let routing_id = routing_id.unwrap_or_default();
        self.serial += 1;
        let serial = self.serial;
        let id = PipeId(self.pipes.vacant_key());
        let post = Arc::clone(&self.post);
        a.out.set_waker(Some(Arc::new(move || {
            post(Event::Writable { pipe: id, serial });
        })));
        let post = Arc::clone(&self.post);
        a.inp.set_waker(Some(Arc::new(move || {
            post(Event::Readable { pipe: id, serial });
        })));
        let state = if a.out.is_full() {
            PeerState::Busy
        } else {
            PeerState::Ready
        };
        if self.pattern.tiered() {
            // Priorities were validated when set.
            let (tier, s) = if self.pattern.load_balances() {
                (sndprio, to_sched(state))
            } else if self.pattern.subscribes() {
                (rcvprio, PipeState::Ready)
            } else {
                // PUB: a busy subscriber is live (it only loses messages).
                (sndprio, PipeState::Ready)
            };
            let _ = self.sched.join(id, tier, now);
            self.sched.set_state(id, s, now);
        }
        if self.pattern.fair_queues() && !anonymous {
            let _ = self.fq.join(id, rcvprio);
            self.fq.set_readable(id, true);
        }
        self.conns.insert(a.conn, id);
        if !routing_id.is_empty() {
            self.ids.insert(routing_id.clone(), id);
        }
        self.out
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
            prefetch: VecDeque::new(),
            state,
            since: now,
            sent: 0,
            received: 0,
            rerouted: 0,
            peer_type: a.peer_type,
            routing_id,
            props: a.props,
            in_flight: 0,
            stale_replies: 0,
        });
        self.count_absent();
        self.attached(id, serial);
        self.flush_reroute(now);
    }

    pub(super) fn on_writable(&mut self, id: PipeId, serial: u64, now: Instant) {
        let Some(rec) = self.pipes.get_mut(id.0).filter(|r| r.serial == serial) else {
            return;
        };
        let Some(out) = &rec.out else { return };
        if !out.is_closed() {
            self.pipe_writable(id);
        }
        let Some(rec) = self.pipes.get_mut(id.0) else {
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
            self.out
                .emit(MonitorEventKind::Ready, &rec.endpoint, &rec.peer_addr);
            if self.pattern.load_balances() {
                self.sched.set_state(id, PipeState::Ready, now);
            }
            self.flush_reroute(now);
        }
    }

    /// Stops sending to pipe `id` until its `Detached` arrives.
    pub(super) fn mark_disconnected(&mut self, id: PipeId, now: Instant) {
        let Some(rec) = self.pipes.get_mut(id.0) else {
            return;
        };
        if rec.state != PeerState::Disconnected {
            rec.state = PeerState::Disconnected;
            rec.since = now;
            if self.pattern.tiered() && rec.out.is_some() {
                self.sched.set_state(id, PipeState::Disconnected, now);
            }
        }
    }

    /// The connection of pipe `id` ended: stop sending to it, and reroute
    /// `unsent` then whatever is still in its queue. Input already queued from
    /// it stays readable until drained.
    pub(super) fn detach(&mut self, id: PipeId, unsent: Vec<Multipart>, now: Instant) {
        self.detach_as(id, unsent, PeerState::Disconnected, now);
    }

    /// [`Core::detach`], recording why: `Disconnected` or `Dead`.
    pub(super) fn detach_as(
        &mut self,
        id: PipeId,
        unsent: Vec<Multipart>,
        why: PeerState,
        now: Instant,
    ) {
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
        msgs.extend(reclaim_messages(&out));
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
            self.out
                .emit(MonitorEventKind::Disconnected { reason }, &endpoint, &peer);
        }
        if !rec.routing_id.is_empty() && self.ids.get(&rec.routing_id) == Some(&id) {
            self.ids.remove(&rec.routing_id);
        }
        let rerouted = self.take_back(id, serial, &mut msgs);
        self.pipe_gone(id, serial);
        if self.pattern.tiered() {
            self.sched.leave(id, now);
        }
        self.forget_round_trips(id, now);
        let Some(rec) = self.pipes.get_mut(id.0) else {
            return;
        };
        rec.rerouted += rerouted;
        // An anonymous ROUTER peer's input is never read.
        let anonymous = self.pattern == Pattern::Router && rec.routing_id.is_empty();
        if !self.pattern.fair_queues() || anonymous {
            rec.inp = None;
        }
        if rec.inp.is_none() {
            self.pipes.remove(id.0);
        } else {
            // Let the next receive find out whether anything is left.
            self.fq.set_readable(id, true);
        }
        self.count_absent();
        self.reroute_taken(msgs, rerouted, (&endpoint, &peer), now);
        if let ConnKey::Inproc(_) = conn {
            self.reconnect_inproc(link);
        }
    }

    /// The heartbeat declared pipe `id`'s peer dead; its connection
    /// lingers (SPEC §3). The pipe gets nothing new, and what it holds
    /// unsent goes elsewhere at once (REQ: the request in flight is
    /// resent). Its input stays readable, and [`Core::revive`] makes it
    /// ready again.
    pub(super) fn mark_dead(&mut self, id: PipeId, unsent: Vec<Multipart>, now: Instant) {
        let Some(rec) = self.pipes.get_mut(id.0) else {
            return;
        };
        let Some(out) = &rec.out else { return };
        let mut msgs = unsent;
        if self.pattern.load_balances() {
            msgs.extend(reclaim_messages(out));
        }
        rec.state = PeerState::Dead;
        rec.since = now;
        let serial = rec.serial;
        let (endpoint, peer) = (rec.endpoint.clone(), rec.peer_addr.clone());
        self.out.emit(MonitorEventKind::Dead, &endpoint, &peer);
        if self.pattern.tiered() {
            self.sched.set_state(id, PipeState::Dead, now);
        }
        let rerouted = self.take_back(id, serial, &mut msgs);
        if let Some(rec) = self.pipes.get_mut(id.0) {
            rec.rerouted += rerouted;
        }
        self.reroute_taken(msgs, rerouted, (&endpoint, &peer), now);
    }

    /// Sends on what [`Core::take_back`] kept of a pipe's messages (it
    /// counted `rerouted`), reporting them for the pipe's `endpoint` and
    /// `peer`.
    fn reroute_taken(
        &mut self,
        msgs: Vec<Multipart>,
        rerouted: u64,
        (endpoint, peer): (&str, &str),
        now: Instant,
    ) {
        if rerouted > 0 {
            self.out.emit(
                MonitorEventKind::Rerouted { messages: rerouted },
                endpoint,
                peer,
            );
        }
        self.reroute.extend(msgs);
        self.flush_reroute(now);
    }

    /// Pipe `id`'s peer, declared dead, was heard from again: it is ready
    /// (or busy) again, and the scheduler fails back to it (after the
    /// failback delay).
    pub(super) fn revive(&mut self, id: PipeId, now: Instant) {
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
        self.out.emit(kind, &rec.endpoint, &rec.peer_addr);
        if self.pattern.load_balances() {
            self.sched.set_state(id, to_sched(state), now);
        } else if self.pattern.tiered() {
            self.sched.set_state(id, PipeState::Ready, now);
        }
        if self.pattern.subscribes() {
            self.drop_standby_input(id);
        }
        self.flush_reroute(now);
    }

    /// An inproc connect whose peer went away waits for the next bind of
    /// its name, as a tcp connect keeps reconnecting.
    pub(super) fn reconnect_inproc(&mut self, key: LinkKey) {
        if self.closed {
            return;
        }
        let link = self.links.iter().find(|l| l.key == key);
        if let Some(LinkKind::InprocConnect { name, peer }) = link.map(|l| &l.kind) {
            // An incompatible new binder is skipped, as a handshake would fail.
            let (name, peer) = (name.clone(), peer.clone());
            self.out
                .actions
                .push(Action::ReconnectInproc { name, peer });
        }
    }

    /// Ends pipe `id` from this side (unbind, disconnect, close): reroutes
    /// its unsent messages and drops its unread input.
    pub(super) fn end_pipe(&mut self, id: PipeId, now: Instant) {
        self.detach(id, Vec::new(), now);
        if let Some(rec) = self.pipes.try_remove(id.0) {
            if let Some(inp) = rec.inp {
                close_input(inp, rec.prefetch);
            }
            if self.pattern.fair_queues() {
                self.fq.leave(id);
            }
        }
    }

    pub(super) fn reap(&mut self, now: Instant) {
        while let Some(id) = self.dead.pop() {
            self.detach(id, Vec::new(), now);
        }
    }
}

/// The messages still queued in an out pipe, taken back (subscription
/// changes are not rerouted: each peer gets its own).
fn reclaim_messages(out: &Writer<Item>) -> impl Iterator<Item = Multipart> {
    out.reclaim_unsent()
        .into_iter()
        .filter_map(Item::into_message)
}
