//! Proportional spillover: the share of traffic each tier gets while the
//! preferred tiers are only partly ready (Envoy's priority load with an
//! overprovisioning factor), and the credit scheme that deals picks out in
//! those shares.

use crate::tiers::{TIERS, tiers_in};

/// Picks in one period of the credit scheme; shares are percentages of it.
pub(crate) const PERIOD: u32 = 100;

/// Configuration of proportional spillover, set with
/// [`Scheduler::set_spillover`](crate::Scheduler::set_spillover).
///
/// Each tier's *health* is `ready × factor / members`, in whole percent
/// (rounded down, at most 100, and at least 1 when the tier has a ready
/// pipe); tiers then take traffic in preference order, each as much as its
/// health and what is left allow. See the
/// [crate docs](crate#proportional-spillover) for the whole rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Spillover {
    /// The overprovisioning factor in percent: 140 (Envoy's default) means a
    /// tier keeps all the traffic it is offered while at least 100/1.4 ≈ 72%
    /// of its members are ready. 100 means no overprovisioning: any member
    /// not ready passes traffic on. Values below 100 make even a fully ready
    /// tier pass some traffic on; 0 gives every tier with a ready pipe an
    /// equal health of 1%.
    pub overprovisioning_percent: u16,
}

impl Spillover {
    /// Envoy's default overprovisioning factor, 1.4.
    pub const DEFAULT_OVERPROVISIONING_PERCENT: u16 = 140;

    /// Spillover with the given overprovisioning factor, in percent.
    pub const fn new(overprovisioning_percent: u16) -> Self {
        Spillover {
            overprovisioning_percent,
        }
    }
}

impl Default for Spillover {
    /// Envoy's default: an overprovisioning factor of 140%.
    fn default() -> Self {
        Spillover::new(Self::DEFAULT_OVERPROVISIONING_PERCENT)
    }
}

/// A tier's health in percent: `ready × factor / members`, rounded down,
/// capped at 100, and at least 1 if any member is ready (so every tier that
/// can take traffic is counted). 0 when no member is ready.
pub(crate) fn health(ready: usize, members: usize, factor: u16) -> u32 {
    if ready == 0 || members == 0 {
        return 0;
    }
    // `usize` fits in `u128` on every supported target.
    let h = (ready as u128 * u128::from(factor)) / members as u128;
    // Clamped to 1..=100, so the cast never truncates.
    h.clamp(1, 100) as u32
}

/// Each tier's share of the traffic, in percent (they sum to 100 unless no
/// tier has a ready pipe, when they are all 0).
///
/// Envoy's rule: tiers in preference order each take
/// `min(left, health × 100 / min(100, Σ health))`, from `left = 100`; what
/// rounding leaves over goes to the first tier with a ready pipe.
pub(crate) fn shares(ready: &[usize; TIERS], members: &[usize; TIERS], factor: u16) -> [u8; TIERS] {
    let mut health = [0u32; TIERS];
    for t in 0..TIERS {
        health[t] = self::health(ready[t], members[t], factor);
    }
    let mut shares = [0u8; TIERS];
    let total = health.iter().sum::<u32>().min(100);
    if total == 0 {
        return shares;
    }
    let mut left = PERIOD;
    for t in 0..TIERS {
        let share = (health[t] * PERIOD / total).min(left);
        // `share <= left <= 100`.
        shares[t] = share as u8;
        left -= share;
    }
    if let Some(first) = health.iter().position(|&h| h > 0) {
        // `shares` sum to 100 after this, so nothing overflows.
        shares[first] += left as u8;
    }
    shares
}

/// The spillover state of a scheduler: the configuration, the cached
/// shares, and where the credit scheme stands in the current period.
///
/// The credit scheme deals the `PERIOD` picks of a period out so that, after
/// any `n` picks of it, tier `t` has had `⌊n·s_t/100⌋` or `⌈n·s_t/100⌉`
/// picks, and exactly `s_t` once the period is complete. It is earliest
/// deadline first over the picks owed: a tier may take its `k`-th pick of
/// the period (0-based) from pick `⌊k·100/s_t⌋` on and should have it by
/// pick `⌈(k+1)·100/s_t⌉`; among the tiers allowed to take one, the earliest
/// due wins (the more preferred on ties). With shares summing to the period,
/// some tier is always allowed, and no deadline is ever missed.
#[derive(Clone, Debug)]
pub(crate) struct Spill {
    pub(crate) config: Spillover,
    shares: [u8; TIERS],
    /// Tiers with a non-zero share.
    mask: u16,
    /// Picks each tier has had in the current period.
    taken: [u8; TIERS],
    /// Picks made in the current period (`0..PERIOD`).
    step: u8,
}

impl Spill {
    pub(crate) fn new(config: Spillover) -> Self {
        Spill {
            config,
            shares: [0; TIERS],
            mask: 0,
            taken: [0; TIERS],
            step: 0,
        }
    }

    pub(crate) fn shares(&self) -> &[u8; TIERS] {
        &self.shares
    }

    /// Installs newly computed shares. If they differ from the current
    /// ones, a new period starts; otherwise the period goes on.
    pub(crate) fn update(&mut self, shares: [u8; TIERS]) {
        if shares == self.shares {
            return;
        }
        self.shares = shares;
        self.mask = 0;
        for (t, &share) in shares.iter().enumerate() {
            if share > 0 {
                self.mask |= 1 << t;
            }
        }
        self.restart();
    }

    /// Starts a new period.
    pub(crate) fn restart(&mut self) {
        self.taken = [0; TIERS];
        self.step = 0;
    }

    /// The tier of the next pick, and counts it. `None` if no tier has a
    /// share. O(number of tiers with a share), at most 16.
    pub(crate) fn next_tier(&mut self) -> Option<usize> {
        if self.mask == 0 {
            return None;
        }
        if self.mask.is_power_of_two() {
            // One tier takes everything; its period count needs no keeping.
            return Some(self.mask.trailing_zeros() as usize);
        }
        let step = u32::from(self.step);
        let mut best: Option<(usize, u32)> = None;
        for t in tiers_in(self.mask) {
            let (share, taken) = (u32::from(self.shares[t]), u32::from(self.taken[t]));
            // Allowed: the `taken`-th pick of the tier is released by now.
            if taken * PERIOD < (step + 1) * share {
                let due = ((taken + 1) * PERIOD).div_ceil(share);
                if best.is_none_or(|(_, d)| due < d) {
                    best = Some((t, due));
                }
            }
        }
        // Some tier is always allowed (its shares sum to PERIOD and its
        // takes to `step`); fall back to the most preferred all the same.
        let tier = best.map_or(self.mask.trailing_zeros() as usize, |(t, _)| t);
        self.taken[tier] += 1;
        self.step += 1;
        if u32::from(self.step) == PERIOD {
            self.restart();
        }
        Some(tier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers(pairs: &[(usize, usize)]) -> ([usize; TIERS], [usize; TIERS]) {
        let (mut ready, mut members) = ([0; TIERS], [0; TIERS]);
        for (t, &(r, m)) in pairs.iter().enumerate() {
            ready[t] = r;
            members[t] = m;
        }
        (ready, members)
    }

    fn shares_of(pairs: &[(usize, usize)], factor: u16) -> Vec<u8> {
        let (ready, members) = tiers(pairs);
        shares(&ready, &members, factor)[..pairs.len()].to_vec()
    }

    #[test]
    fn envoy_examples() {
        // 10 members, factor 1.4: 8 ready is 112% -> all traffic stays.
        assert_eq!(shares_of(&[(8, 10), (1, 1)], 140), [100, 0]);
        // 5 ready: 70% stays, 30% spills.
        assert_eq!(shares_of(&[(5, 10), (1, 1)], 140), [70, 30]);
        // 7 ready: 98%.
        assert_eq!(shares_of(&[(7, 10), (1, 1)], 140), [98, 2]);
        // Spills across several tiers in order.
        assert_eq!(shares_of(&[(2, 10), (2, 10), (5, 5)], 140), [28, 28, 44]);
    }

    #[test]
    fn low_total_health_is_normalised() {
        // Envoy's own example: health 10% / 20% / 10% -> total 40%.
        let (ready, members) = tiers(&[(1, 10), (2, 10), (1, 10)]);
        let s = shares(&ready, &members, 100);
        // 25 / 50 / 25, exactly.
        assert_eq!(s[..3], [25, 50, 25]);
        // Rounding: 3 × 33% -> 33 each of 99 -> 1 left goes to the first.
        let (ready, members) = tiers(&[(33, 100), (33, 100), (33, 100)]);
        assert_eq!(shares(&ready, &members, 100)[..3], [34, 33, 33]);
        // One ready pipe in a huge tier still counts (health at least 1%).
        let (ready, members) = tiers(&[(1, 1000)]);
        assert_eq!(shares(&ready, &members, 140)[0], 100);
        assert_eq!(health(1, 1000, 140), 1);
        assert_eq!(health(0, 10, 140), 0);
        // Nothing ready: no shares.
        let (ready, members) = tiers(&[(0, 3), (0, 1)]);
        assert_eq!(shares(&ready, &members, 140), [0; TIERS]);
    }

    #[test]
    fn credit_scheme_is_exact_per_period_and_within_one_pick() {
        for a in 0..=100u8 {
            let mut s = [0u8; TIERS];
            s[0] = a;
            s[3] = 100 - a;
            let mut spill = Spill::new(Spillover::default());
            spill.update(s);
            let mut got = [0u32; TIERS];
            for n in 1..=300u32 {
                let t = spill.next_tier().unwrap();
                assert!(s[t] > 0, "picked tier {t} with no share");
                got[t] += 1;
                for t in [0, 3] {
                    let lag = i64::from(got[t] * PERIOD) - i64::from(n * u32::from(s[t]));
                    assert!(lag.abs() < i64::from(PERIOD), "{a}: lag {lag} at {n}");
                }
                if n % PERIOD == 0 {
                    assert_eq!(got[0], n / PERIOD * u32::from(a));
                }
            }
        }
    }
}
