//! The send-side scheduler: which ready pipe gets the next message.

use std::time::{Duration, Instant};

use crate::error::{check_id, check_priority};
use crate::events::EventLog;
use crate::ring::{Link, Ring};
use crate::spillover::{self, Spill, Spillover};
use crate::tiers::{TIERS, TierSet, priority_of, tier_of, tiers_in};
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
/// With [proportional spillover](crate#proportional-spillover) switched on
/// ([`set_spillover`](Self::set_spillover)), a pick may also go to a less
/// preferred tier, in proportion to how many pipes of the preferred tiers are
/// eligible; it is off by default.
///
/// Cost: every call is O(1) in the number of pipes and tiers, except that
/// `join` with a new largest id grows the tables (amortized O(1)), and a call
/// which ends some pipes' failback wait does O(1) work per pipe it promotes
/// (paid once per transition to ready). With spillover on, a call that
/// changes which pipes are eligible or joined recomputes the tiers' shares
/// (a pass over the 16 tiers), and a pick looks at each tier with a share.
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
    /// Joined pipes per tier, whatever their state.
    members: [usize; TIERS],
    /// Members per tier that have not joined (see [`Scheduler::set_absent`]).
    absent: [usize; TIERS],
    /// Proportional spillover, if on.
    spill: Option<Spill>,
    /// The eligible or joined pipes per tier may have changed since the
    /// spillover shares were last computed.
    dirty: bool,
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

    /// Switches [proportional spillover](crate#proportional-spillover) on
    /// (`Some`) or off (`None`, the default).
    ///
    /// Takes effect at once: the tiers' shares are recomputed and the credit
    /// scheme starts a new period, even if the configuration is unchanged. Eligibility, [`active_tier`](Self::active_tier) and the
    /// events are the same in both modes. O(16).
    pub fn set_spillover(&mut self, spillover: Option<Spillover>) {
        self.spill = spillover.map(Spill::new);
        self.dirty = true;
        self.refresh();
    }

    /// The spillover configuration, `None` if spillover is off.
    pub fn spillover(&self) -> Option<Spillover> {
        self.spill.as_ref().map(|s| s.config)
    }

    /// The percentage of picks that tier `priority` gets in the current
    /// state, as of the latest `now` seen: with spillover on, the tier's
    /// computed share; otherwise 100 for the [active tier](Self::active_tier)
    /// and 0 for the others. The shares of all tiers sum to 100, or are all
    /// 0 when no pipe is eligible. 0 for an invalid priority. O(1).
    pub fn load_share(&self, priority: u8) -> u8 {
        if check_priority(priority).is_err() {
            return 0;
        }
        match &self.spill {
            Some(spill) => spill.shares()[tier_of(priority)],
            None if self.active_tier() == Some(priority) => 100,
            None => 0,
        }
    }

    /// Declares `count` members of tier `priority` that are expected but
    /// have not joined, such as connect endpoints with no connection now.
    /// They count only in proportional spillover's health (as members that
    /// are not ready), so a tier that lost peers for good still passes its
    /// share on. Replaces the previous count for that tier. O(16) when the
    /// count changes, else O(1).
    ///
    /// # Errors
    /// [`SchedError::InvalidPriority`]; nothing changes then.
    pub fn set_absent(&mut self, priority: u8, count: usize) -> Result<(), SchedError> {
        check_priority(priority)?;
        let t = tier_of(priority);
        if self.absent[t] != count {
            self.absent[t] = count;
            self.dirty = true;
            self.refresh();
        }
        Ok(())
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
        self.members[tier_of(priority)] += 1;
        self.dirty = true;
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
        if let Some(&slot) = self.slot(id) {
            self.unlist(id.0);
            self.members[tier_of(slot.priority)] -= 1;
            self.dirty = true;
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
            self.members[from] -= 1;
            self.members[to] += 1;
            self.dirty = true;
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
    /// then [`end`](Self::end). `None` when no pipe is eligible. O(1)
    /// (with spillover on: O(number of tiers with a share), at most 16).
    pub fn pick(&mut self, now: Instant) -> Option<PipeId> {
        let id = self.begin(now);
        self.end();
        id
    }

    /// Commits the next message to a pipe, chosen as [`pick`](Self::pick)
    /// does, and counts it in [`picks`](Self::picks). `None` when no pipe is
    /// eligible.
    ///
    /// By default the pipe is the next eligible one, round-robin, of the
    /// active tier. With spillover on, the credit scheme first chooses a
    /// tier by the tiers' shares (see the
    /// [crate docs](crate#proportional-spillover)), then the next eligible
    /// pipe of that tier, round-robin.
    ///
    /// While a message is committed (until [`end`](Self::end)), `begin`
    /// returns the committed pipe again without picking or counting, so it
    /// may be called for every frame.
    pub fn begin(&mut self, now: Instant) -> Option<PipeId> {
        self.advance(now);
        if self.current.is_none()
            && let Some(node) = self.choose()
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

    /// The pipe for the next message, with the cursors moved on.
    fn choose(&mut self) -> Option<usize> {
        self.refresh();
        let Some(spill) = &mut self.spill else {
            return self.eligible.rotate_best(&self.tier_links);
        };
        // Every tier with a share has an eligible pipe: the shares were
        // computed from the eligible set as it is now.
        let tier = spill.next_tier()?;
        self.eligible.rotate(&self.tier_links, tier)
    }

    /// Recomputes the spillover shares if the eligible or joined pipes may
    /// have changed since they were last computed.
    fn refresh(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        if let Some(spill) = &mut self.spill {
            let factor = spill.config.overprovisioning_percent;
            let mut members = self.members;
            for (m, a) in members.iter_mut().zip(self.absent) {
                *m += a;
            }
            spill.update(spillover::shares(self.eligible.lens(), &members, factor));
        }
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
        self.dirty = true;
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
        self.dirty = true;
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
        self.dirty |= mask != 0;
        for tier in tiers_in(mask) {
            while let Some(node) = self.pending.pop(&mut self.tier_links, tier) {
                self.fifo.remove(&mut self.fifo_links, node);
                self.eligible.insert(&mut self.tier_links, node, tier);
                self.slots[node].place = Place::Eligible;
            }
        }
    }

    /// Recomputes the spillover shares if needed and queues an event if the
    /// active tier changed.
    fn report(&mut self) {
        self.refresh();
        self.events.record(self.active_tier());
    }
}
