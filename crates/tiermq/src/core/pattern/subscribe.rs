//! SUB and XSUB: subscriptions kept in a [`Filter`], sent to every
//! publisher and replayed to each new or reconnected one, and applied to
//! what arrives (publishers filter too; a message that slipped through,
//! such as XPUB's welcome, is dropped here). Delivery is fair-queued by
//! rcvprio; with SUB_FAILOVER (the hot-standby subscriber) only messages
//! from the active tier are delivered: the most preferred tier with a live
//! publisher, tracked by the same scheduler that gives PUSH its tiers.
//!
//! SUB sends a subscription upstream when its count goes from 0 to 1, and
//! a cancel when it goes back to 0, so counted (tiermq) and uncounted
//! (libzmq) publishers agree with it. XSUB passes on every subscription
//! message the application sends and a cancel when the count reaches 0,
//! as libzmq's XSUB does.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use tiermq_pipe::{RecvError, SendError};
use tiermq_sched::PipeId;
use tiermq_wire::{Item, Multipart};

use super::filter::Filter;
use crate::core::{Core, Incoming, Refused};
use crate::peer::PeerState;

/// The state of SUB and XSUB.
#[derive(Debug, Default)]
pub(in crate::core) struct SubState {
    filter: Filter,
    /// Subscription changes a pipe had no room for, oldest first; they go
    /// before any newer one, once it drains.
    backlog: HashMap<PipeId, VecDeque<Item>>,
}

impl Core {
    /// SUB's `set_subscribe`/`set_unsubscribe`.
    pub(in crate::core) fn subscription(&mut self, topic: &[u8], subscribe: bool) {
        let topic = Bytes::copy_from_slice(topic);
        if subscribe {
            if self.subscribe.filter.add(&topic) {
                self.tell_every_publisher(&Item::Subscribe(topic));
            }
        } else if self.subscribe.filter.remove(&topic) == Some(true) {
            self.tell_every_publisher(&Item::Cancel(topic));
        }
    }

    /// XSUB: a one-frame message starting with 1 (0) subscribes (cancels);
    /// any other message goes to every publisher.
    pub(in crate::core) fn xsub_send(
        &mut self,
        msg: Multipart,
        now: Instant,
    ) -> std::result::Result<(), Refused> {
        if let [frame] = msg.frames() {
            let topic = frame.slice(1.min(frame.len())..);
            match frame.first() {
                Some(1) => {
                    self.subscribe.filter.add(&topic);
                    self.tell_every_publisher(&Item::Subscribe(topic));
                    return Ok(());
                }
                Some(0) => {
                    if self.subscribe.filter.remove(&topic) == Some(true) {
                        self.tell_every_publisher(&Item::Cancel(topic));
                    }
                    return Ok(());
                }
                _ => {}
            }
        }
        self.send_to_all(msg, now);
        Ok(())
    }

    fn tell_every_publisher(&mut self, item: &Item) {
        let ids: Vec<PipeId> = self
            .pipes
            .iter()
            .filter(|(_, r)| r.out.is_some())
            .map(|(k, _)| PipeId(k))
            .collect();
        for id in ids {
            self.send_subscription(id, item.clone());
        }
    }

    /// Queues a subscription change for pipe `id`, behind its backlog.
    fn send_subscription(&mut self, id: PipeId, item: Item) {
        if let Some(q) = self.subscribe.backlog.get_mut(&id) {
            q.push_back(item);
            return;
        }
        let Some(out) = self.pipes.get(id.0).and_then(|r| r.out.as_ref()) else {
            return;
        };
        if let Err(SendError::Full(item)) = out.try_send(item) {
            self.subscribe
                .backlog
                .entry(id)
                .or_default()
                .push_back(item);
        }
    }

    /// Pipe `id` has room again: its backlog goes out first.
    pub(in crate::core) fn flush_subscriptions(&mut self, id: PipeId) {
        let Some(mut q) = self.subscribe.backlog.remove(&id) else {
            return;
        };
        let Some(out) = self.pipes.get(id.0).and_then(|r| r.out.as_ref()) else {
            return;
        };
        if out.try_send_batch(&mut q).is_ok() && !q.is_empty() {
            self.subscribe.backlog.insert(id, q);
        }
    }

    /// A new (or reconnected) publisher gets every subscription once.
    pub(in crate::core) fn subscriber_attached(&mut self, id: PipeId) {
        let items: Vec<Item> = self
            .subscribe
            .filter
            .topics()
            .map(|t| Item::Subscribe(t.clone()))
            .collect();
        for item in items {
            self.send_subscription(id, item);
        }
    }

    /// Pipe `id` left: what it had not taken yet is dropped.
    pub(in crate::core) fn subscriber_pipe_gone(&mut self, id: PipeId) {
        self.subscribe.backlog.remove(&id);
    }

    /// A message from pipe `from`, if it passes the filter and (with
    /// SUB_FAILOVER) comes from the active tier.
    pub(in crate::core) fn accept_published(
        &mut self,
        from: (PipeId, u64),
        m: Multipart,
    ) -> Option<Incoming> {
        let first = m.frames().first()?;
        if !self.subscribe.filter.matches(first) {
            return None;
        }
        if self.options.sub_failover && !self.in_active_tier(from.0) {
            return None;
        }
        Some(Incoming::plain(m, from))
    }

    /// Whether a message from pipe `id` may be delivered now: the pipe is
    /// in the most preferred receive tier with a live publisher (after the
    /// failback delay), or it is live no more (what it left came while its
    /// tier was active: other tiers' messages are dropped as they arrive).
    fn in_active_tier(&mut self, id: PipeId) -> bool {
        if self.sched.poll_timeout().is_some() {
            self.sched.handle_timeout(Instant::now());
            self.collect_tier_events();
        }
        let Some(rec) = self.pipes.get(id.0) else {
            return false;
        };
        rec.out.is_none()
            || rec.state == PeerState::Dead
            || Some(rec.rcvprio) == self.sched.active_tier()
    }

    /// SUB_FAILOVER: pipe `id` has input, became a standby, or revived; if
    /// it is live and not in the active tier, what it holds is dropped now
    /// (which re-arms its waker, so later input comes here too), so a
    /// standby's old messages never reach the application after a
    /// failover.
    pub(in crate::core) fn drop_standby_input(&mut self, id: PipeId) {
        if !self.options.sub_failover {
            return;
        }
        if self
            .sched
            .poll_timeout()
            .is_some_and(|t| t <= self.last_now)
        {
            self.sched.handle_timeout(self.last_now);
        }
        let active = self.sched.active_tier();
        let Some(rec) = self.pipes.get_mut(id.0) else {
            return;
        };
        if rec.out.is_none() || rec.state == PeerState::Dead || Some(rec.rcvprio) == active {
            return;
        }
        loop {
            match rec.take_input() {
                Ok(_) => rec.received += 1,
                Err(RecvError::Empty) => {
                    self.fq.set_readable(id, false);
                    return;
                }
                Err(RecvError::Closed) => return,
            }
        }
    }
}
