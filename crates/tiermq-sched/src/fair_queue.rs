//! The receive-side fair queue: which pipe with input is read next.

use crate::error::{check_id, check_priority};
use crate::ring::Link;
use crate::tiers::{TierSet, tier_of};
use crate::{PipeId, SchedError};

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    joined: bool,
    priority: u8,
    readable: bool,
}

/// The receive-side fair queue (PULL, REP, DEALER, ROUTER): among pipes with
/// input, the most preferred tier is read first, and pipes of one tier are
/// read round-robin.
///
/// The caller reports input with [`set_readable`](Self::set_readable) and
/// reads one whole message from the pipe [`next`](Self::next) returns. Every
/// call is O(1) in the number of pipes and tiers (`join` with a new largest
/// id: amortized O(1)).
#[derive(Clone, Debug, Default)]
pub struct FairQueue {
    slots: Vec<Slot>,
    links: Vec<Link>,
    readable: TierSet,
}

impl FairQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a pipe with `priority` (1 = most preferred ..= 16), not readable.
    ///
    /// # Errors
    /// [`SchedError::InvalidPriority`], [`SchedError::PipeIdTooLarge`], or
    /// [`SchedError::DuplicatePipe`] if `id` has joined and not left.
    /// Nothing changes on error.
    pub fn join(&mut self, id: PipeId, priority: u8) -> Result<(), SchedError> {
        check_priority(priority)?;
        check_id(id)?;
        if self.slots.get(id.0).is_some_and(|s| s.joined) {
            return Err(SchedError::DuplicatePipe(id));
        }
        if id.0 >= self.slots.len() {
            self.slots.resize(id.0 + 1, Slot::default());
            self.links.resize(id.0 + 1, Link::default());
        }
        self.slots[id.0] = Slot {
            joined: true,
            priority,
            readable: false,
        };
        Ok(())
    }

    /// Removes a pipe. Unknown ids are ignored.
    pub fn leave(&mut self, id: PipeId) {
        self.set_readable(id, false);
        if let Some(slot) = self.slots.get_mut(id.0) {
            *slot = Slot::default();
        }
    }

    /// Moves a pipe to another tier.
    ///
    /// # Errors
    /// [`SchedError::InvalidPriority`] or [`SchedError::UnknownPipe`].
    pub fn set_priority(&mut self, id: PipeId, priority: u8) -> Result<(), SchedError> {
        check_priority(priority)?;
        let slot = *self.slot(id).ok_or(SchedError::UnknownPipe(id))?;
        if slot.readable && slot.priority != priority {
            self.readable
                .remove(&mut self.links, id.0, tier_of(slot.priority));
            self.readable
                .insert(&mut self.links, id.0, tier_of(priority));
        }
        self.slots[id.0].priority = priority;
        Ok(())
    }

    /// A joined pipe's priority.
    pub fn priority(&self, id: PipeId) -> Option<u8> {
        self.slot(id).map(|s| s.priority)
    }

    /// Says whether a pipe has a message waiting. Setting the value it
    /// already has changes nothing; a pipe that becomes readable joins its
    /// tier's rotation last. Unknown ids are ignored.
    pub fn set_readable(&mut self, id: PipeId, readable: bool) {
        let Some(&slot) = self.slot(id) else { return };
        if slot.readable == readable {
            return;
        }
        let tier = tier_of(slot.priority);
        if readable {
            self.readable.insert(&mut self.links, id.0, tier);
        } else {
            self.readable.remove(&mut self.links, id.0, tier);
        }
        self.slots[id.0].readable = readable;
    }

    /// Whether a joined pipe is marked readable.
    pub fn is_readable(&self, id: PipeId) -> bool {
        self.slot(id).is_some_and(|s| s.readable)
    }

    /// The pipe to read the next whole message from: the next readable pipe,
    /// in round-robin order, of the most preferred tier with input. `None`
    /// if no pipe is readable. Each call moves that tier's turn on, so call
    /// it once per message. O(1).
    #[allow(clippy::should_implement_trait)] // the contract's name; not an iterator
    pub fn next(&mut self) -> Option<PipeId> {
        self.readable.rotate_best(&self.links).map(PipeId)
    }

    /// Whether any pipe is readable.
    pub fn has_input(&self) -> bool {
        self.readable.mask() != 0
    }

    fn slot(&self, id: PipeId) -> Option<&Slot> {
        self.slots.get(id.0).filter(|s| s.joined)
    }
}
