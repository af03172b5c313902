//! The load balancer: picking a pipe through the scheduler, the reroute
//! (and IMMEDIATE=0) queue, busy pipes, direct sends to one pipe (REP,
//! ROUTER), and what closing must linger for.

use std::time::Instant;

use tiermq_pipe::{Room, SendError, Writer};
use tiermq_sched::{PipeId, PipeState};
use tiermq_wire::{Item, Multipart};

use super::*;

impl Core {
    /// The bookkeeping every send ends with.
    pub(super) fn after_send(
        &mut self,
        r: std::result::Result<(), Refused>,
        now: Instant,
    ) -> std::result::Result<(), Refused> {
        self.reap(now);
        self.collect_tier_events();
        r
    }

    /// IMMEDIATE=0 (SPEC §3): while every peer is away (none connected
    /// yet, or all disconnected or dead), a load-balancing socket that has
    /// a connect endpoint queues a message at the socket level, up to
    /// SNDHWM, for the best pipe that becomes ready. Busy peers are not
    /// away: they push back, as SNDHWM means, and the sender waits (a
    /// second SNDHWM of queue behind them would only double the memory and
    /// copy each message twice). Says whether one more message may queue
    /// there now.
    pub(crate) fn may_queue(&self) -> bool {
        let hwm = usize::try_from(self.options.sndhwm).unwrap_or(0);
        !self.options.immediate
            && self.pattern.load_balances()
            && (hwm == 0 || self.reroute.len() < hwm)
            && self.has_connect_link()
            && !self.pipes.iter().any(|(_, p)| {
                p.out.is_some() && matches!(p.state, PeerState::Ready | PeerState::Busy)
            })
    }

    /// A send must wait: the readers of the full out pipes (their
    /// connections) write out what they hold on this thread, if they can
    /// without waiting, so that room comes back without a wake-up of the
    /// I/O thread and another of this one. Returns whether any did.
    pub(crate) fn drive_full_outputs(&self) -> bool {
        let mut drove = false;
        for (_, p) in self.pipes.iter() {
            if let Some(out) = p.out.as_ref().filter(|o| o.is_full()) {
                drove |= out.drive_reader();
            }
        }
        drove
    }

    /// Queues `msg` on pipe `id` if it is still the one numbered `serial`
    /// and has room; otherwise drops it.
    pub(super) fn send_to(&mut self, id: PipeId, serial: u64, msg: Multipart, now: Instant) {
        self.send_with(id, serial, now, |out| {
            out.try_send(Item::Message(msg)).map_err(|e| e.map(drop))
        });
    }

    /// As [`send_to`](Self::send_to), a copy of `item`: for one message
    /// sent to many pipes, each encoding it from the reference
    /// ([`Writer::try_send_cloned`]).
    pub(super) fn send_copy_to(&mut self, id: PipeId, serial: u64, item: &Item, now: Instant) {
        self.send_with(id, serial, now, |out| out.try_send_cloned(item));
    }

    /// Sends on pipe `id` (if it is still the one of `serial`) with `send`,
    /// and records what came of it.
    fn send_with(
        &mut self,
        id: PipeId,
        serial: u64,
        now: Instant,
        send: impl FnOnce(&Writer<Item>) -> std::result::Result<Room, SendError<()>>,
    ) {
        let Some(rec) = self.pipes.get_mut(id.0).filter(|r| r.serial == serial) else {
            return;
        };
        let Some(out) = &rec.out else { return };
        match send(out) {
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
    pub(super) fn mark_busy(&mut self, id: PipeId, now: Instant) {
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
            self.out
                .emit(MonitorEventKind::Busy, &rec.endpoint, &rec.peer_addr);
        }
        if self.pattern.load_balances() {
            self.sched.set_state(id, PipeState::Busy, now);
        }
    }

    /// Hands `msg` to the best ready pipe; says which (and its serial).
    pub(super) fn load_balance(
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
            match out.try_send(Item::Message(msg)) {
                Ok(room) => {
                    rec.sent += 1;
                    let serial = rec.serial;
                    if room == Room::Full {
                        self.mark_busy(id, now);
                    }
                    return Ok((id, serial));
                }
                Err(SendError::Full(m)) => {
                    msg = refused(m);
                    self.mark_busy(id, now);
                }
                Err(SendError::Closed(m)) => {
                    msg = refused(m);
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

    pub(crate) fn set_failback_delay(&mut self, delay: std::time::Duration) {
        self.sched.set_failback_delay(delay);
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
    pub(super) fn has_connect_link(&self) -> bool {
        self.links.iter().any(Link::is_connect)
    }

    /// Whether closing should linger: something is unsent, or a tcp/ipc
    /// connection this socket sent on may still be writing it out.
    pub(crate) fn needs_linger(&mut self, now: Instant) -> bool {
        self.has_unsent(now) || self.pipes.iter().any(|(_, p)| Self::sent_over_net(p))
    }

    pub(super) fn sent_over_net(p: &PipeRec) -> bool {
        p.out.is_some() && p.sent > 0 && matches!(p.conn, ConnKey::Net(..))
    }
}

/// A message back from a pipe that refused it (it went in as a message).
fn refused(item: Item) -> Multipart {
    match item {
        Item::Message(m) => m,
        Item::Subscribe(_) | Item::Cancel(_) => unreachable!("sent as a message"),
    }
}
