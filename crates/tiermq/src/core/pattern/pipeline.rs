//! PUSH, PULL and DEALER: messages load-balanced by tier (after what the
//! reroute and IMMEDIATE=0 queue holds), and received fair-queued as they
//! are. DEALER is both halves; REQ sends through the same balancer.

use std::time::Instant;

use tiermq_wire::Multipart;

use crate::core::{Core, Refused};

impl Core {
    /// PUSH, DEALER: to the best ready pipe, after anything waiting in the
    /// reroute queue; with no ready pipe, into that queue if IMMEDIATE=0
    /// allows, else given back to wait with.
    pub(in crate::core) fn send_balanced(
        &mut self,
        msg: Multipart,
        now: Instant,
    ) -> std::result::Result<(), Refused> {
        self.flush_reroute(now);
        let msg = if self.reroute.is_empty() {
            match self.load_balance(msg, now) {
                Ok(_) => return Ok(()),
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

    /// Whether the balancer would take a message now.
    pub(in crate::core) fn balanced_has_room(&mut self, now: Instant) -> bool {
        self.flush_reroute(now);
        self.reap(now);
        self.sched.handle_timeout(now);
        (self.reroute.is_empty() && self.sched.active_tier().is_some()) || self.may_queue()
    }

    /// Sends what the reroute queue holds, in order, while pipes take it.
    pub(in crate::core) fn drain_reroute(&mut self, now: Instant) {
        while let Some(m) = self.reroute.pop_front() {
            if let Err(m) = self.load_balance(m, now) {
                self.reroute.push_front(m);
                break;
            }
        }
    }
}
