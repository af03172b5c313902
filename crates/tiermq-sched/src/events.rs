//! The queue of failover/failback events, fed with the active tier after
//! every call and bounded by coalescing.

use std::collections::VecDeque;

use crate::TierEvent;

/// Events kept before older changes are merged into the newest one.
const CAPACITY: usize = 64;

/// Records changes of the active tier as [`TierEvent`]s.
#[derive(Clone, Debug, Default)]
pub(crate) struct EventLog {
    /// The active tier as of the last event queued.
    reported: Option<u8>,
    queue: VecDeque<TierEvent>,
}

impl EventLog {
    /// Queues an event if `active` differs from the last reported tier.
    pub(crate) fn record(&mut self, active: Option<u8>) {
        if active == self.reported {
            return;
        }
        let mut from = self.reported;
        self.reported = active;
        if self.queue.len() >= CAPACITY {
            // Nobody is reading: merge with the newest event so memory stays
            // bounded and the sequence still ends at the true active tier.
            if let Some(last) = self.queue.pop_back() {
                from = source(last);
            }
            if from == active {
                return;
            }
        }
        self.queue.push_back(between(from, active));
    }

    pub(crate) fn pop(&mut self) -> Option<TierEvent> {
        self.queue.pop_front()
    }
}

fn source(event: TierEvent) -> Option<u8> {
    match event {
        TierEvent::Failover { from, .. } | TierEvent::Failback { from, .. } => from,
    }
}

/// The event for a move of the active tier from `from` to `to` (`from != to`).
fn between(from: Option<u8>, to: Option<u8>) -> TierEvent {
    let back = match (from, to) {
        (_, None) => false,
        (None, Some(_)) => true,
        // Smaller priority numbers are more preferred.
        (Some(f), Some(t)) => t < f,
    };
    if back {
        TierEvent::Failback { from, to }
    } else {
        TierEvent::Failover { from, to }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_moves() {
        let mut log = EventLog::default();
        log.record(Some(2));
        log.record(Some(2));
        log.record(Some(3));
        log.record(None);
        log.record(Some(1));
        assert_eq!(
            log.pop(),
            Some(TierEvent::Failback {
                from: None,
                to: Some(2)
            })
        );
        assert_eq!(
            log.pop(),
            Some(TierEvent::Failover {
                from: Some(2),
                to: Some(3)
            })
        );
        assert_eq!(
            log.pop(),
            Some(TierEvent::Failover {
                from: Some(3),
                to: None
            })
        );
        assert_eq!(
            log.pop(),
            Some(TierEvent::Failback {
                from: None,
                to: Some(1)
            })
        );
        assert_eq!(log.pop(), None);
    }

    #[test]
    fn unread_events_stay_bounded_and_consistent() {
        let mut log = EventLog::default();
        for i in 0..10_000u32 {
            log.record(Some(if i % 2 == 0 { 1 } else { 2 }));
        }
        log.record(Some(5));
        let events: Vec<_> = std::iter::from_fn(|| log.pop()).collect();
        assert!(events.len() <= CAPACITY);
        // The chain is continuous and ends at the true tier.
        let mut at = None;
        for e in &events {
            let (TierEvent::Failover { from, to } | TierEvent::Failback { from, to }) = *e;
            assert_eq!(from, at);
            at = to;
        }
        assert_eq!(at, Some(5));
    }
}
