//! PAIR: exactly one peer, both directions. It sends through the load
//! balancer (one pipe, so no tiers to choose between) and receives through
//! the fair queue. A second peer is refused when it attaches: its pipes are
//! closed, which over tcp and ipc closes its connection, as libzmq
//! terminates the extra pipe.

use crate::core::{ConnKey, Core};
use crate::events::Attachment;

impl Core {
    /// PAIR: whether a peer is attached now (with a live outgoing pipe), so
    /// that another one must be refused.
    pub(in crate::core) fn pair_is_taken(&self) -> bool {
        self.pipes.iter().any(|(_, p)| p.out.is_some())
    }
}

impl Core {
    /// Refuses a peer arriving while PAIR has one. A transport connection's
    /// pipes are closed, which closes it (its connect side retries, as a
    /// libzmq one does). An inproc connect would rejoin at once on a closed
    /// pipe, so its pipes are parked instead, never read or written, until
    /// either side closes: the second peer then waits as if unheard.
    pub(in crate::core) fn refuse_second_pair(&mut self, a: Attachment) {
        if matches!(a.conn, ConnKey::Inproc(_)) {
            self.parked.retain(|(out, _)| !out.is_closed());
            self.parked.push((a.out, a.inp));
        } else {
            a.out.close();
            a.inp.close();
        }
    }
}
