//! Deadlines for connections (handshake, heartbeats) and reconnects, in one
//! min-heap. Entries are never removed early: a fired entry is checked
//! against its owner's current deadline, so stale ones cost one pop.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use mio::Token;

use crate::LinkId;

/// Whose deadline an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKey {
    /// The connection's session wants `handle_timeout`.
    Conn(Token),
    /// The connect-side link should try again.
    Reconnect(LinkId),
    /// The listener should try accepting again after a failure (such as
    /// running out of file descriptors), since no new edge may come.
    Accept(Token),
    /// A socket poll lent to its callers may be due back (by its id).
    Loan(u32),
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, TimerKey)>>,
}

impl Timers {
    pub(crate) fn push(&mut self, at: Instant, key: TimerKey) {
        self.heap.push(Reverse((at, key)));
    }

    /// The earliest deadline, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes and returns an entry due at `now`, earliest first.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, TimerKey)> {
        if self.next_deadline()? <= now {
            self.heap.pop().map(|Reverse(entry)| entry)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_due_entries_in_order() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.push(t0 + Duration::from_secs(2), TimerKey::Reconnect(LinkId(2)));
        t.push(t0 + Duration::from_secs(1), TimerKey::Conn(Token(5)));
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.pop_due(t0), None);
        let now = t0 + Duration::from_secs(3);
        assert_eq!(t.pop_due(now).map(|e| e.1), Some(TimerKey::Conn(Token(5))));
        assert_eq!(
            t.pop_due(now).map(|e| e.1),
            Some(TimerKey::Reconnect(LinkId(2)))
        );
        assert_eq!(t.pop_due(now), None);
    }
}
