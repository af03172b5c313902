//! Latency tiers: each pipe's tier from its heartbeat round trip relative to
//! the fastest pipe's, damped so that noise does not move pipes.

use std::time::Duration;

use crate::error::check_id;
use crate::{HIGHEST, LOWEST, PipeId, SchedError};

/// The weight of a new sample in the smoothed round trip, as a right shift:
/// 1/8, as TCP's smoothed RTT (RFC 6298).
const SMOOTHING_SHIFT: u32 = 3;

/// How [`LatencyTiers`] turns round trips into tiers. Build it with
/// [`Default`] and change the fields you need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LatencyConfig {
    /// The width of a tier, in percent (default 200, so each tier spans a
    /// doubling): with `f = factor_percent / 100` and `r` the
    /// [reference](LatencyTiers#tiers) round trip, tier 1 holds round trips
    /// up to `r·f`, tier 2 up to `r·f²`, tier 3 up to `r·f³`, and so on;
    /// tier 16 holds all the rest. Values below 101 are taken as 101.
    pub factor_percent: u16,
    /// The smallest reference round trip (default 1 ms): pipes within
    /// `floor` of each other's speed share tier 1, whatever their exact
    /// round trips, so sub-millisecond differences on a LAN are not tiers.
    /// Zero means the fastest pipe's own round trip is the reference.
    pub floor: Duration,
    /// How far, in percent of the settled round trip (default 10), a sample
    /// and the smoothed round trip must both lie to count towards a move.
    pub margin_percent: u16,
    /// How many consecutive samples must count towards a move, in the same
    /// direction, before the settled round trip follows the smoothed one
    /// (default 3). With 1, a single outlier can move a pipe; 0 is taken as
    /// 1.
    pub samples: u8,
}

impl Default for LatencyConfig {
    fn default() -> Self {
        LatencyConfig {
            factor_percent: 200,
            floor: Duration::from_millis(1),
            margin_percent: 10,
            samples: 3,
        }
    }
}

/// A pipe's move from one tier to another, as returned by
/// [`LatencyTiers::record`] and [`LatencyTiers::remove`]. The caller applies
/// it (for example with [`Scheduler::set_priority`](crate::Scheduler::set_priority))
/// and reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierChange {
    /// The pipe that moved.
    pub pipe: PipeId,
    /// Its tier before; `None` for a pipe's first sample.
    pub from: Option<u8>,
    /// Its tier now.
    pub to: u8,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Smoothed round trip (EWMA, weight 1/8), in nanoseconds.
    smoothed: u64,
    /// The round trip the tier is computed from, in nanoseconds.
    settled: u64,
    tier: u8,
    /// Consecutive samples that counted towards a move, and its direction.
    streak: u8,
    rising: bool,
}

/// Assigns each pipe a tier from its heartbeat round trips, relative to the
/// fastest pipe, with damping (SPEC §4, latency tiers). A pure helper: no
/// clocks, no I/O; the caller feeds it samples and applies the changes it
/// returns.
///
/// # Tiers
///
/// Each pipe has a *smoothed* round trip (an EWMA of its samples, weight
/// 1/8) and a *settled* round trip, which its tier is computed from; a
/// pipe's first sample sets both, undamped. The
/// *reference* is the smallest settled round trip of all pipes, or
/// [`LatencyConfig::floor`] if that is larger. A pipe's tier is the smallest
/// `k` in 1..=16 with `settled ≤ reference × factor^k` (16 if none).
/// So, at every moment:
/// - the pipe with the smallest settled round trip is in tier 1;
/// - tiers are monotone in settled round trips: a pipe with a smaller one is
///   never in a less preferred tier.
///
/// # Damping
///
/// The settled round trip moves to the smoothed one only when
/// [`LatencyConfig::samples`] consecutive samples each lie beyond the
/// margin on the same side of it (more than `settled × (1 + margin)`, or
/// less than `settled / (1 + margin)`), with the smoothed round trip beyond
/// the margin too. A sample back within the margin starts the count again,
/// so a single outlier, however large, moves nothing (with `samples ≥ 2`),
/// and jitter within the margin never does. A lasting change beyond the
/// margin moves the pipe once the smoothed round trip has crossed the margin
/// too and `samples` samples in a row have counted: after `samples` samples
/// for a large change (10 ms instead of 1 ms: the third), later for one just
/// beyond the margin; the settled value then follows in steps.
///
/// # Cost
///
/// Pipe ids index a table, as in [`Scheduler`](crate::Scheduler). A sample
/// that does not move the pipe's settled round trip (nearly all of them) is
/// O(1). One that does is O(1) too, except that if the pipe was the fastest
/// and slowed down, finding the new fastest is a scan, and if the reference
/// changes, every pipe's tier is recomputed (all tiers are relative to it):
/// O(table size) each. [`remove`](Self::remove) is the same.
#[derive(Clone, Debug, Default)]
pub struct LatencyTiers {
    config: LatencyConfig,
    entries: Vec<Option<Entry>>,
    /// The smallest settled round trip, if any pipe has one.
    fastest: Option<u64>,
}

impl LatencyTiers {
    /// An empty set with the default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set with `config` (out-of-range values adjusted as
    /// [`LatencyConfig`] documents).
    pub fn with_config(config: LatencyConfig) -> Self {
        LatencyTiers {
            config: LatencyConfig {
                factor_percent: config.factor_percent.max(101),
                samples: config.samples.max(1),
                ..config
            },
            ..Self::default()
        }
    }

    /// The configuration in use (after adjustment).
    pub fn config(&self) -> LatencyConfig {
        self.config
    }

    /// Records a heartbeat round trip of `pipe`, and returns the tier
    /// changes it causes: the pipe's own first tier (with `from: None`) on
    /// its first sample, a move of the pipe once the change has persisted
    /// (see [damping](Self#damping)), and moves of other pipes if the
    /// reference changed. Pipes are listed at most once, in id order after
    /// the sampled pipe.
    ///
    /// # Errors
    /// [`SchedError::PipeIdTooLarge`]; nothing changes.
    ///
    /// Cost: see [the type's docs](Self#cost).
    pub fn record(&mut self, pipe: PipeId, rtt: Duration) -> Result<Vec<TierChange>, SchedError> {
        check_id(pipe)?;
        let sample = nanos(rtt);
        if pipe.0 >= self.entries.len() {
            self.entries.resize(pipe.0 + 1, None);
        }
        let old_settled = match &mut self.entries[pipe.0] {
            slot @ None => {
                *slot = Some(Entry {
                    smoothed: sample,
                    settled: sample,
                    tier: 0,
                    streak: 0,
                    rising: false,
                });
                None
            }
            Some(e) => {
                let Some(settled) = damp(e, sample, &self.config) else {
                    return Ok(Vec::new());
                };
                Some(settled)
            }
        };
        Ok(self.retier(pipe.0, old_settled))
    }

    /// Forgets a pipe and returns the tier changes of the other pipes (if
    /// it was the fastest, the reference changes). Unknown ids: no changes.
    ///
    /// Cost: O(1), or O(table size) if the pipe was the fastest.
    pub fn remove(&mut self, pipe: PipeId) -> Vec<TierChange> {
        let Some(entry) = self.entries.get_mut(pipe.0).and_then(Option::take) else {
            return Vec::new();
        };
        let mut changes = Vec::new();
        if self.fastest == Some(entry.settled) {
            let before = self.reference();
            self.fastest = self.entries.iter().flatten().map(|e| e.settled).min();
            if self.reference() != before {
                self.retier_all(&mut changes);
            }
        }
        changes
    }

    /// A pipe's tier, `None` if it has no sample.
    pub fn tier(&self, pipe: PipeId) -> Option<u8> {
        self.entry(pipe).map(|e| e.tier)
    }

    /// A pipe's smoothed round trip (EWMA of its samples).
    pub fn smoothed_rtt(&self, pipe: PipeId) -> Option<Duration> {
        self.entry(pipe).map(|e| Duration::from_nanos(e.smoothed))
    }

    /// A pipe's settled round trip: the one its tier is computed from.
    pub fn settled_rtt(&self, pipe: PipeId) -> Option<Duration> {
        self.entry(pipe).map(|e| Duration::from_nanos(e.settled))
    }

    /// The smallest settled round trip of all pipes, `None` if there are
    /// none. O(1).
    pub fn fastest(&self) -> Option<Duration> {
        self.fastest.map(Duration::from_nanos)
    }

    fn entry(&self, pipe: PipeId) -> Option<&Entry> {
        self.entries.get(pipe.0).and_then(Option::as_ref)
    }

    /// The reference round trip: the fastest settled round trip or the
    /// floor, whichever is larger, and at least 1 ns.
    fn reference(&self) -> Option<u64> {
        let fastest = self.fastest?;
        Some(fastest.max(nanos(self.config.floor)).max(1))
    }

    /// Recomputes tiers after `node`'s settled round trip changed from
    /// `old` (`None`: its first sample).
    fn retier(&mut self, node: usize, old: Option<u64>) -> Vec<TierChange> {
        let Some(settled) = self.entries[node].map(|e| e.settled) else {
            return Vec::new();
        };
        let before = self.reference();
        let was_fastest = old.is_some() && old == self.fastest;
        self.fastest = match self.fastest {
            // The fastest slowed down: someone else may be fastest now.
            Some(_) if was_fastest && old.is_some_and(|o| settled > o) => {
                self.entries.iter().flatten().map(|e| e.settled).min()
            }
            Some(f) => Some(f.min(settled)),
            None => Some(settled),
        };
        let mut changes = Vec::new();
        self.retier_one(node, &mut changes);
        if self.reference() != before {
            self.retier_all(&mut changes);
        }
        changes
    }

    fn retier_all(&mut self, changes: &mut Vec<TierChange>) {
        for node in 0..self.entries.len() {
            self.retier_one(node, changes);
        }
    }

    /// Puts `node` in the tier its settled round trip calls for, noting a
    /// change.
    fn retier_one(&mut self, node: usize, changes: &mut Vec<TierChange>) {
        let (Some(reference), Some(entry)) = (self.reference(), self.entries[node].as_mut()) else {
            return;
        };
        let tier = tier_for(entry.settled, reference, self.config.factor_percent);
        if tier != entry.tier {
            changes.push(TierChange {
                pipe: PipeId(node),
                from: (entry.tier != 0).then_some(entry.tier),
                to: tier,
            });
            entry.tier = tier;
        }
    }
}

/// Folds a sample into a pipe's smoothed round trip and its damping count;
/// if the settled round trip moves, returns the old one.
fn damp(e: &mut Entry, sample: u64, config: &LatencyConfig) -> Option<u64> {
    let smoothed = (u128::from(e.smoothed) * ((1 << SMOOTHING_SHIFT) - 1) + u128::from(sample))
        >> SMOOTHING_SHIFT;
    // An average of two u64 values fits in u64.
    e.smoothed = smoothed as u64;
    let wide = 100 + u128::from(config.margin_percent);
    let settled = u128::from(e.settled);
    let above = |x: u64| u128::from(x) * 100 > settled * wide;
    let below = |x: u64| u128::from(x) * wide < settled * 100;
    let vote = if above(sample) && above(e.smoothed) {
        Some(true)
    } else if below(sample) && below(e.smoothed) {
        Some(false)
    } else {
        None
    };
    match vote {
        None => e.streak = 0,
        Some(rising) if e.streak > 0 && e.rising == rising => e.streak += 1,
        Some(rising) => {
            e.streak = 1;
            e.rising = rising;
        }
    }
    if e.streak < config.samples {
        return None;
    }
    e.streak = 0;
    let old = e.settled;
    e.settled = e.smoothed;
    Some(old)
}

/// The smallest tier `k` with `rtt ≤ reference × factor^k`, capped at
/// [`LOWEST`]. Each bound is rounded up, so it grows by at least 1 ns per
/// tier (and saturates rather than overflow).
pub(crate) fn tier_for(rtt: u64, reference: u64, factor_percent: u16) -> u8 {
    let (rtt, factor) = (u128::from(rtt), u128::from(factor_percent));
    let grow = |bound: u128| bound.saturating_mul(factor).div_ceil(100);
    let mut bound = grow(u128::from(reference));
    let mut tier = HIGHEST;
    while rtt > bound && tier < LOWEST {
        bound = grow(bound);
        tier += 1;
    }
    tier
}

/// A duration in nanoseconds, saturating at `u64::MAX` (584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_double() {
        let ms = 1_000_000;
        assert_eq!(tier_for(ms, ms, 200), 1);
        assert_eq!(tier_for(2 * ms, ms, 200), 1);
        assert_eq!(tier_for(2 * ms + 1, ms, 200), 2);
        assert_eq!(tier_for(4 * ms, ms, 200), 2);
        assert_eq!(tier_for(5 * ms, ms, 200), 3);
        assert_eq!(tier_for(u64::MAX, 1, 200), LOWEST);
        assert_eq!(tier_for(u64::MAX, u64::MAX, u16::MAX), 1);
        // The smallest factor still grows the bound: 1 -> 2 -> 3 ns.
        assert_eq!(tier_for(3, 1, 101), 2);
        assert_eq!(tier_for(4, 1, 101), 3);
    }
}
