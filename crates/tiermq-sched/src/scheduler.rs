//! The send-side scheduler: which ready pipe gets the next message.

use std::time::{Duration, Instant};

use crate::error::{check_id, check_priority};
use crate::events::EventLog;
use crate::ring::{Link, Ring};
use crate::tiers::{TierSet, priority_of, tier_of, tiers_in};
use crate::{PipeId, PipeState, SchedError, TierEvent};

/// Where a pipe sits in the scheduler's lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// Not ready: in no list.
    Out,
    /// Ready and eligible: in its tier's round-robin ring.
    Eligible,
    /// Ready but waiting out the failback delay: in its tier's pending ring
    /// and in the time-ordered pending FIFO.
    Pending,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    joined: bool,
    priority: u8,
    state: PipeState,
    place: Place,
    /// When the pipe last became ready (clamped to the latest `now` seen, so
    /// the pending FIFO stays sorted).
    ready_since: Option<Instant>,
    picks: u64,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            joined: false,
            priority: crate::DEFAULT_PRIORITY,
            state: PipeState::Connecting,
            place: Place::Out,
            ready_since: None,
            picks: 0,
        }
    }
}

/// The send-side scheduler (PUSH, DEALER, REQ): picks the most preferred
/// tier that has an eligible pipe and, within it, the next eligible pipe in
/// round-robin order.
///
/// A pipe is *eligible* when it is [`PipeState::Ready`] and not waiting out
/// the failback delay (see the [crate docs](crate#failback-delay)).
///
/// Every method that takes `now` first applies the passage of time up to
/// `now` (promoting pipes whose failback delay has run out), then does its
/// work, then queues a [`TierEvent`] if [`active_tier`](Self::active_tier)
/// changed. `now` values earlier than one already seen are treated as the
/// latest one seen.
///
/// Cost: every call is O(1) in the number of pipes and tiers, except that
/// `join` with a new largest id grows the tables (amortized O(1)), and a call
/// which ends some pipes' failback wait does O(1) work per pipe it promotes
/// (paid once per transition to ready).
#[derive(Clone, Debug, Default)]
pub struct Scheduler {
    slots: Vec<Slot>,
    /// Links for the eligible and pending rings (a pipe is in at most one).
    tier_links: Vec<Link>,
    /// Links for the pending FIFO.
    fifo_links: Vec<Link>,
    eligible: TierSet,
    pending: TierSet,
    /// Pending pipes, oldest first; their deadlines ascend in this order.
    fifo: Ring,
    delay: Duration,
    now: Option<Instant>,
    current: Option<PipeId>,
    events: EventLog,
}

impl Scheduler {
    /// An empty scheduler with no failback delay.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the failback delay (default zero): how long a pipe whose
    /// readiness would move the active tier to a more preferred one must stay
    /// ready before it is eligible.
    ///
    /// Takes effect at once for pipes already waiting, as of the latest `now`
    /// seen: shortening it may promote them (and queue a failback event).
    /// A delay so long that the deadline overflows [`Instant`] means "never by
    /// time alone".
    pub fn set_failback_delay(&mut self, delay: Duration) {
        self.delay = delay;
        self.settle();
        self.report();
    }

    /// The failback delay.
    pub fn failback_delay(&self) -> Duration {
        self.delay
    }

    /// Adds a pipe in state [`PipeState::Connecting`] with `priority`
    /// (1 = most preferred ..= 16) and a pick count of zero.
    ///
    /// # Errors
    /// [`SchedError::InvalidPriority`], [`SchedError::PipeIdTooLarge`], or
    /// [`SchedError::DuplicatePipe`] if `id` has joined and not left.
    /// Nothing changes on error.
    ///
    /// Memory grows to the largest id joined (ids are meant to be slab keys).
    pub fn join(&mut self, id: PipeId, priority: u8, now: Instant) -> Result<(), SchedError> {
        check_priority(priority)?;
        check_id(id)?;
        if self.slots.get(id.0).is_some_and(|s| s.joined) {
            return Err(SchedError::DuplicatePipe(id));
        }
        self.advance(now);
        if id.0 >= self.slots.len() {
            let len = id.0 + 1;
            self.slots.resize(len, Slot::default());
            self.tier_links.resize(len, Link::default());
            self.fifo_links.resize(len, Link::default());
        }
        self.slots[id.0] = Slot {
            joined: true,
            priority,
            ..Slot::default()
        };
        self.report();
        Ok(())
    }

    /// Removes a pipe. Unknown ids are ignored.
    ///
    /// If a multipart message is committed to this pipe, [`current`](Self::current)
    /// still returns it until [`end`](Self::end): the caller decides what to
    /// do with the rest of the message.
    pub fn leave(&mut self, id: PipeId, now: Instant) {
        self.advance(now);
        if self.slot(id).is_some() {
            self.unlist(id.0);
            self.slots[id.0] = Slot::default();
            self.settle();
        }
        self.report();
    }

    /// Sets a pipe's state. Only [`PipeState::Ready`] pipes can be picked;
    /// the other states are equivalent here and kept for reporting. Setting
    /// the state a pipe already has changes nothing (a ready pipe's failback
    /// wait is not restarted). Unknown ids are ignored.
    ///
    /// A pipe becoming ready is eligible at once unless the failback delay is
    /// non-zero and it would move the active tier to a more preferred one; it
    /// then waits (see [`poll_timeout`](Self::poll_timeout)).
    pub fn set_state(&mut self, id: PipeId, state: PipeState, now: Instant) {
        let now = self.advance(now);
        if let Some(&slot) = self.slot(id) {
            let was_ready = slot.state == PipeState::Ready;
            let is_ready = state == PipeState::Ready;
            self.slots[id.0].state = state;
            if !was_ready && is_ready {
                self.slots[id.0].ready_since = Some(now);
                self.enlist(id.0);
            } else if was_ready && !is_ready {
                self.unlist(id.0);
            }
            self.settle();
        }
        self.report();
    }

    /// Moves a pipe to another tier. An eligible pipe stays eligible (so
    /// raising its priority is an immediate, operator-driven failback); a
    /// pipe waiting out the failback delay keeps waiting with its original
    /// deadline, unless its new tier no longer needs the wait.
    ///
    /// # Errors
    /// [`SchedError::InvalidPriority`] or [`SchedError::UnknownPipe`].
    /// Nothing changes on error.
    pub fn set_priority(
        &mut self,
        id: PipeId,
        priority: u8,
        now: Instant,
    ) -> Result<(), SchedError> {
        check_priority(priority)?;
        if self.slot(id).is_none() {
            return Err(SchedError::UnknownPipe(id));
        }
        self.advance(now);
        let Slot {
            priority: old,
            place,
            ..
        } = self.slots[id.0];
        if old != priority {
            let (from, to) = (tier_of(old), tier_of(priority));
            let links = &mut self.tier_links;
            match place {
                Place::Out => {}
                Place::Eligible => {
                    self.eligible.remove(links, id.0, from);
                    self.eligible.insert(links, id.0, to);
                }
                Place::Pending => {
                    self.pending.remove(links, id.0, from);
                    self.pending.insert(links, id.0, to);
                }
            }
            self.slots[id.0].priority = priority;
            self.settle();
        }
        self.report();
        Ok(())
    }

    /// A joined pipe's state.
    pub fn state(&self, id: PipeId) -> Option<PipeState> {
        self.slot(id).map(|s| s.state)
    }

    /// A joined pipe's priority.
    pub fn priority(&self, id: PipeId) -> Option<u8> {
        self.slot(id).map(|s| s.priority)
    }

    /// Whether a joined pipe is ready but still waiting out the failback
    /// delay (as of the latest `now` seen).
    pub fn is_waiting(&self, id: PipeId) -> bool {
        self.slot(id).is_some_and(|s| s.place == Place::Pending)
    }

    /// Picks the pipe for a whole single-part message: [`begin`](Self::begin)
    /// then [`end`](Self::end). `None` when no pipe is eligible. O(1).
    pub fn pick(&mut self, now: Instant) -> Option<PipeId> {
        let id = self.begin(now);
        self.end();
        id
    }

    /// Commits the next message to a pipe, chosen as [`pick`](Self::pick)
    /// does, and counts it in [`picks`](Self::picks). `None` when no pipe is
    /// eligible.
    ///
    /// While a message is committed (until [`end`](Self::end)), `begin`
    /// returns the committed pipe again without picking or counting, so it
    /// may be called for every frame.
    pub fn begin(&mut self, now: Instant) -> Option<PipeId> {
        self.advance(now);
        if self.current.is_none()
            && let Some(node) = self.eligible.rotate_best(&self.tier_links)
        {
            let slot = &mut self.slots[node];
            slot.picks = slot.picks.saturating_add(1);
            self.current = Some(PipeId(node));
        }
        self.report();
        self.current
    }

    /// The pipe the message in progress is committed to, if any.
    ///
    /// This is returned even if that pipe has since left or stopped being
    /// ready: the scheduler never moves a message that has begun. The caller
    /// decides whether to finish it there, drop it, or [`end`](Self::end) and
    /// resend it whole.
    pub fn current(&self) -> Option<PipeId> {
        self.current
    }

    /// Ends the message in progress (no-op if none).
    pub fn end(&mut self) {
        self.current = None;
    }

    /// The tier (priority) the next pick would use, or `None` if no pipe is
    /// eligible, as of the latest `now` seen. O(1).
    pub fn active_tier(&self) -> Option<u8> {
        self.eligible.best().map(priority_of)
    }

    /// The next failover or failback event, oldest first.
    ///
    /// One event is queued for each call that changed
    /// [`active_tier`](Self::active_tier). If more than 64 are left unread,
    /// the newest ones are merged, so the chain of `from`/`to` stays
    /// continuous and ends at the current tier.
    pub fn poll_event(&mut self) -> Option<TierEvent> {
        self.events.pop()
    }

    /// The earliest instant at which a pipe's failback delay runs out, so
    /// [`handle_timeout`](Self::handle_timeout) (or any call taking `now`)
    /// should be made. `None` if no pipe is waiting.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let head = self.fifo.head()?;
        self.slots[head].ready_since?.checked_add(self.delay)
    }

    /// Applies the passage of time up to `now`: pipes whose failback delay
    /// has run out become eligible. Call it at or after
    /// [`poll_timeout`](Self::poll_timeout); calling it at other times is
    /// harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.report();
    }

    /// Messages picked for a pipe since it joined (0 for unknown ids).
    pub fn picks(&self, id: PipeId) -> u64 {
        self.slot(id).map_or(0, |s| s.picks)
    }

    fn slot(&self, id: PipeId) -> Option<&Slot> {
        self.slots.get(id.0).filter(|s| s.joined)
    }

    /// Records the time (never going backwards) and applies it.
    fn advance(&mut self, now: Instant) -> Instant {
        let now = match self.now {
            Some(seen) if seen > now => seen,
            _ => now,
        };
        self.now = Some(now);
        self.settle();
        now
    }

    /// Puts a pipe that just became ready in the eligible or pending set.
    fn enlist(&mut self, node: usize) {
        let tier = tier_of(self.slots[node].priority);
        let failback = self.eligible.best().is_some_and(|active| tier < active);
        if failback && !self.delay.is_zero() {
            self.pending.insert(&mut self.tier_links, node, tier);
            self.fifo.push_back(&mut self.fifo_links, node);
            self.slots[node].place = Place::Pending;
        } else {
            self.eligible.insert(&mut self.tier_links, node, tier);
            self.slots[node].place = Place::Eligible;
        }
    }

    /// Takes a pipe out of whichever set it is in.
    fn unlist(&mut self, node: usize) {
        let tier = tier_of(self.slots[node].priority);
        match self.slots[node].place {
            Place::Out => {}
            Place::Eligible => self.eligible.remove(&mut self.tier_links, node, tier),
            Place::Pending => {
                self.pending.remove(&mut self.tier_links, node, tier);
                self.fifo.remove(&mut self.fifo_links, node);
            }
        }
        self.slots[node].place = Place::Out;
    }

    /// Moves a pending pipe to the eligible set.
    fn promote(&mut self, node: usize) {
        self.unlist(node);
        let tier = tier_of(self.slots[node].priority);
        self.eligible.insert(&mut self.tier_links, node, tier);
        self.slots[node].place = Place::Eligible;
    }

    /// Restores the rule that a pending pipe is one whose readiness would
    /// still be a failback that has not yet waited out the delay:
    /// - with no eligible pipe at all, every pending pipe becomes eligible
    ///   (waiting would only block sends);
    /// - otherwise pipes whose delay ran out become eligible, then every
    ///   pending pipe in the (possibly new) active tier or a less preferred
    ///   one, since joining it is no failback.
    fn settle(&mut self) {
        if self.pending.mask() == 0 {
            return;
        }
        let Some(mut active) = self.eligible.best() else {
            self.promote_tiers(self.pending.mask());
            return;
        };
        if let Some(now) = self.now {
            while let Some(head) = self.fifo.head() {
                let due = self.slots[head]
                    .ready_since
                    .and_then(|since| since.checked_add(self.delay))
                    .is_some_and(|deadline| deadline <= now);
                if !due {
                    break;
                }
                self.promote(head);
                active = active.min(tier_of(self.slots[head].priority));
            }
        }
        // Bits of tiers `active..`: the active tier and less preferred ones.
        let mask = self.pending.mask() & !((1u16 << active) - 1);
        self.promote_tiers(mask);
    }

    /// Promotes every pending pipe in the tiers whose bits are in `mask`.
    fn promote_tiers(&mut self, mask: u16) {
        for tier in tiers_in(mask) {
            while let Some(node) = self.pending.pop(&mut self.tier_links, tier) {
                self.fifo.remove(&mut self.fifo_links, node);
                self.eligible.insert(&mut self.tier_links, node, tier);
                self.slots[node].place = Place::Eligible;
            }
        }
    }

    /// Queues an event if the active tier changed.
    fn report(&mut self) {
        self.events.record(self.active_tier());
    }
}
