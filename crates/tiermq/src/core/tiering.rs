//! The optional tier modes of SPEC §4 over the pipe table: latency-aware
//! tiers (a pipe's send tier comes from its measured heartbeat round trip
//! relative to the fastest pipe's, damped by [`LatencyTiers`], instead of
//! from its endpoint's sndprio), and the absent members that proportional
//! spillover counts.

use std::time::{Duration, Instant};

use tiermq_sched::{LatencyConfig, LatencyTiers, PipeId, TierChange};

use super::{ConnKey, Core};
use crate::monitor::MonitorEventKind;

impl Core {
    /// Proportional spillover with this overprovisioning factor (percent),
    /// or off with `None`.
    pub(crate) fn set_spillover(&mut self, percent: Option<u16>) {
        self.sched
            .set_spillover(percent.map(tiermq_sched::Spillover::new));
        self.count_absent();
    }

    /// Tells the scheduler, for spillover's health, how many connect
    /// endpoints of each tier have no connection now: members that are
    /// expected but not joined (a bind's departed peers are not known).
    /// Run when links or pipes come and go. O(links × pipes).
    pub(crate) fn count_absent(&mut self) {
        if self.sched.spillover().is_none() {
            return;
        }
        let mut absent = [0usize; 16];
        for l in &self.links {
            if self.is_idle_connect(l) {
                absent[usize::from(l.sndprio.clamp(1, 16)) - 1] += 1;
            }
        }
        for (i, n) in absent.into_iter().enumerate() {
            // Priorities 1..=16 are valid by construction.
            let _ = self.sched.set_absent(i as u8 + 1, n);
        }
    }

    /// Turns latency tiers on with tiers `factor_percent` wide (200: each
    /// tier spans a doubling of the round trip), or off with `None`. Off,
    /// pipes go back to their endpoints' sndprio.
    pub(crate) fn set_latency_tiers(&mut self, factor_percent: Option<u16>, now: Instant) {
        self.latency = factor_percent.map(|f| {
            LatencyTiers::with_config(LatencyConfig {
                factor_percent: f,
                ..LatencyConfig::default()
            })
        });
        if self.latency.is_none() {
            let links: Vec<(super::LinkKey, u8)> =
                self.links.iter().map(|l| (l.key, l.sndprio)).collect();
            let ids: Vec<(usize, u8)> = self
                .pipes
                .iter()
                .filter_map(|(k, r)| {
                    let p = links.iter().find(|(key, _)| *key == r.link)?.1;
                    Some((k, p))
                })
                .collect();
            for (k, p) in ids {
                self.retier(PipeId(k), p, now);
            }
        }
    }

    /// A heartbeat round trip measured on connection `conn`.
    pub(crate) fn on_round_trip(&mut self, conn: ConnKey, rtt: Duration, now: Instant) {
        let (Some(&id), Some(latency)) = (self.conns.get(&conn), self.latency.as_mut()) else {
            return;
        };
        let changes = latency.record(id, rtt).unwrap_or_default();
        self.apply_tier_changes(changes, now);
    }

    /// Pipe `id` left: the others may move up a tier.
    pub(crate) fn forget_round_trips(&mut self, id: PipeId, now: Instant) {
        if let Some(latency) = self.latency.as_mut() {
            let changes = latency.remove(id);
            self.apply_tier_changes(changes, now);
        }
    }

    fn apply_tier_changes(&mut self, changes: Vec<TierChange>, now: Instant) {
        for c in changes {
            if self.retier(c.pipe, c.to, now)
                && let Some(rec) = self.pipes.get(c.pipe.0)
            {
                self.out.emit(
                    MonitorEventKind::TierChanged {
                        from: c.from,
                        to: c.to,
                    },
                    &rec.endpoint,
                    &rec.peer_addr,
                );
            }
        }
        self.collect_tier_events();
    }

    /// Moves pipe `id` to send tier `tier`; says whether it moved.
    fn retier(&mut self, id: PipeId, tier: u8, now: Instant) -> bool {
        let Some(rec) = self.pipes.get_mut(id.0) else {
            return false;
        };
        if rec.sndprio == tier || rec.out.is_none() {
            return false;
        }
        rec.sndprio = tier;
        if self.pattern.load_balances() || self.pattern.publishes() {
            let _ = self.sched.set_priority(id, tier, now);
        }
        true
    }
}
