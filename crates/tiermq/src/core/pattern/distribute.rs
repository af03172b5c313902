//! The fan-out of PUB and XPUB (libzmq's `dist_t`, with tiers): a message
//! goes whole to every live pipe of the active send tier whose
//! subscriptions match its first frame. A pipe at SNDHWM loses it, unless
//! XPUB_NODROP makes the whole send wait.

use std::time::Instant;

use tiermq_pipe::Writer;
use tiermq_sched::PipeId;
use tiermq_wire::{Item, Multipart};

use crate::core::{Core, Refused};
use crate::peer::PeerState;

impl Core {
    /// PUB, XPUB: fans `msg` out. The active tier is the most preferred
    /// one with a live (ready or busy) subscriber, after the failback
    /// delay; with nobody live the message is dropped, as a PUB without
    /// subscribers drops it. Cost: the trie walk of the first frame, plus
    /// one queue push per matching pipe.
    pub(in crate::core) fn distribute(
        &mut self,
        msg: Multipart,
        now: Instant,
    ) -> std::result::Result<(), Refused> {
        if self.sched.poll_timeout().is_some_and(|t| t <= now) {
            self.sched.handle_timeout(now);
        }
        let Some(tier) = self.sched.active_tier() else {
            return Ok(());
        };
        let mut targets = std::mem::take(&mut self.publish.matched);
        targets.clear();
        let topic = msg.frames().first().map(|f| &f[..]).unwrap_or_default();
        self.publish.subs.matches(topic, &mut targets);
        targets.retain(|id| self.is_live_in(*id, tier));
        let r = if self.options.xpub_nodrop && targets.iter().any(|id| self.is_full(*id)) {
            Err(Refused::Wait(msg))
        } else {
            let item = Item::Message(msg);
            for &id in &targets {
                let serial = self.pipes[id.0].serial;
                self.send_copy_to(id, serial, &item, now);
            }
            Ok(())
        };
        self.publish.matched = targets;
        r
    }

    /// Whether pipe `id` can be sent to and sits in send tier `tier`.
    fn is_live_in(&self, id: PipeId, tier: u8) -> bool {
        self.pipes.get(id.0).is_some_and(|r| {
            r.sndprio == tier
                && r.out.is_some()
                && matches!(r.state, PeerState::Ready | PeerState::Busy)
        })
    }

    /// Whether pipe `id`'s queue is at SNDHWM.
    fn is_full(&self, id: PipeId) -> bool {
        self.pipes
            .get(id.0)
            .and_then(|r| r.out.as_ref())
            .is_some_and(Writer::is_full)
    }

    /// XSUB: a message (not a subscription) goes upstream to every
    /// publisher; one at SNDHWM loses it, as libzmq's XSUB does.
    pub(in crate::core) fn send_to_all(&mut self, msg: Multipart, now: Instant) {
        let ids: Vec<(PipeId, u64)> = self
            .pipes
            .iter()
            .filter(|(_, r)| r.out.is_some())
            .map(|(k, r)| (PipeId(k), r.serial))
            .collect();
        let item = Item::Message(msg);
        for (id, serial) in ids {
            self.send_copy_to(id, serial, &item, now);
        }
    }
}
