//! A set of per-priority rings plus a bitmask of the non-empty ones, so the
//! most preferred non-empty tier is one `trailing_zeros` away.

use crate::ring::{Link, Ring};
use crate::{HIGHEST, LOWEST};

/// Number of priority tiers.
pub(crate) const TIERS: usize = (LOWEST - HIGHEST + 1) as usize;

/// The tier index (0 = most preferred) of a valid priority.
pub(crate) fn tier_of(priority: u8) -> usize {
    usize::from(priority - HIGHEST)
}

/// The priority of a tier index.
pub(crate) fn priority_of(tier: usize) -> u8 {
    // `tier < TIERS = 16`, so this never truncates.
    tier as u8 + HIGHEST
}

/// Rings of nodes, one per tier. Bit `t` of `mask` is set iff ring `t` is
/// non-empty; `lens[t]` is the number of nodes in ring `t`.
#[derive(Clone, Debug, Default)]
pub(crate) struct TierSet {
    rings: [Ring; TIERS],
    lens: [usize; TIERS],
    mask: u16,
}

impl TierSet {
    pub(crate) fn mask(&self) -> u16 {
        self.mask
    }

    /// The number of nodes in each tier.
    pub(crate) fn lens(&self) -> &[usize; TIERS] {
        &self.lens
    }

    pub(crate) fn insert(&mut self, links: &mut [Link], node: usize, tier: usize) {
        self.rings[tier].push_back(links, node);
        self.lens[tier] += 1;
        self.mask |= 1 << tier;
    }

    pub(crate) fn remove(&mut self, links: &mut [Link], node: usize, tier: usize) {
        self.rings[tier].remove(links, node);
        self.lens[tier] -= 1;
        if self.rings[tier].is_empty() {
            self.mask &= !(1 << tier);
        }
    }

    /// The most preferred non-empty tier.
    pub(crate) fn best(&self) -> Option<usize> {
        (self.mask != 0).then(|| self.mask.trailing_zeros() as usize)
    }

    /// The node at the cursor of the most preferred tier; advances that
    /// tier's cursor (round-robin).
    pub(crate) fn rotate_best(&mut self, links: &[Link]) -> Option<usize> {
        let tier = self.best()?;
        self.rings[tier].rotate(links)
    }

    /// The node at the cursor of `tier`; advances that tier's cursor
    /// (round-robin). `None` if the tier is empty.
    pub(crate) fn rotate(&mut self, links: &[Link], tier: usize) -> Option<usize> {
        self.rings[tier].rotate(links)
    }

    /// Unlinks and returns some node of `tier`.
    pub(crate) fn pop(&mut self, links: &mut [Link], tier: usize) -> Option<usize> {
        let node = self.rings[tier].pop_front(links)?;
        self.lens[tier] -= 1;
        if self.rings[tier].is_empty() {
            self.mask &= !(1 << tier);
        }
        Some(node)
    }
}

/// The tier indexes whose bits are set in `mask`, most preferred first.
pub(crate) fn tiers_in(mut mask: u16) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if mask == 0 {
            return None;
        }
        let tier = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        Some(tier)
    })
}
