//! Random sequences of pipe events, checked after every step against a
//! naive reference model (SPEC §4 invariants).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use tiermq_sched::{
    FairQueue, LatencyConfig, LatencyTiers, PipeId, PipeState, SchedError, Scheduler, Spillover,
    TierEvent,
};

const IDS: usize = 8;
const TIERS: usize = 16;

// ---------------------------------------------------------------- send side

#[derive(Clone, Debug)]
enum Op {
    Join(usize, u8),
    Leave(usize),
    State(usize, PipeState),
    Prio(usize, u8),
    Pick,
    Begin,
    End,
    Advance(u64),
    /// Step the test clock back: later calls pass a stale `now`.
    Rewind(u64),
    Timeout,
    Delay(u64),
    /// Switch proportional spillover (overprovisioning percent) on or off.
    Spill(Option<u16>),
}

// Ops are decoded from flat tuples of small integers: nested `prop_oneof!`
// strategies make generation (not the checks) dominate the run time.

/// Mostly tiers 1..=3 (so tiers collide), sometimes any tier, rarely invalid.
fn priority(arg: u8) -> u8 {
    match arg {
        0..160 => arg % 3 + 1,
        160..240 => arg % 16 + 1,
        _ => [0, 17, 255][usize::from(arg % 3)],
    }
}

fn state(arg: u8) -> PipeState {
    match arg % 10 {
        0..5 => PipeState::Ready,
        5..7 => PipeState::Busy,
        7 => PipeState::Dead,
        8 => PipeState::Disconnected,
        _ => PipeState::Connecting,
    }
}

fn op() -> impl Strategy<Value = Op> {
    (0u8..100, 0..IDS, any::<u8>()).prop_map(|(kind, id, arg)| decode(kind, id, arg))
}

/// Overprovisioning factors worth trying: none, Envoy's, and odd ones.
fn factor(arg: u8) -> u16 {
    [140, 140, 100, 200, 120, 50, 0, 1000][usize::from(arg % 8)]
}

/// As [`op`], plus now and then a change of the spillover mode.
fn spill_op() -> impl Strategy<Value = Op> {
    (0u8..100, 0..IDS, any::<u8>(), 0u8..50).prop_map(|(kind, id, arg, spill)| match spill {
        0 => Op::Spill((arg % 4 != 0).then(|| factor(arg / 4))),
        _ => decode(kind, id, arg),
    })
}

fn decode(kind: u8, id: usize, arg: u8) -> Op {
    match kind {
        0..6 => Op::Join(id, priority(arg)),
        6..9 => Op::Leave(id),
        9..39 => Op::State(id, state(arg)),
        39..43 => Op::Prio(id, priority(arg)),
        43..73 => Op::Pick,
        73..77 => Op::Begin,
        77..81 => Op::End,
        81..89 => Op::Advance(u64::from(arg % 15)),
        89..92 => Op::Rewind(u64::from(arg % 15)),
        92..96 => Op::Timeout,
        _ => Op::Delay([0, 3, 10][usize::from(arg % 3)]),
    }
}

#[derive(Clone, Debug)]
struct ModelPipe {
    prio: u8,
    state: PipeState,
    /// Ready and not waiting out the failback delay.
    eligible: bool,
    ready_since: Option<Instant>,
    picks: u64,
}

/// Picks per pipe since a tier's eligible set last changed.
#[derive(Clone, Debug, Default)]
struct Window {
    set: Vec<usize>,
    counts: [u64; IDS],
}

/// Picks per tier since the spillover shares last changed.
#[derive(Clone, Debug, Default)]
struct ShareWindow {
    shares: [u32; TIERS + 1],
    picks: [u64; TIERS + 1],
    total: u64,
}

/// The reference model: a plain list of pipes, every rule an O(n) scan.
struct World {
    pipes: [Option<ModelPipe>; IDS],
    delay: Duration,
    now: Option<Instant>,
    current: Option<usize>,
    reported: Option<u8>,
    windows: [Window; TIERS + 1],
    /// Spillover's overprovisioning factor in percent, if on.
    spill: Option<u16>,
    share_window: ShareWindow,
}

impl World {
    fn new(delay: Duration) -> Self {
        World {
            pipes: Default::default(),
            delay,
            now: None,
            current: None,
            reported: None,
            windows: Default::default(),
            spill: None,
            share_window: ShareWindow::default(),
        }
    }

    /// A tier's health under spillover, in percent: eligible × factor /
    /// joined, rounded down, capped at 100, at least 1 with any eligible.
    fn health(&self, prio: u8, factor: u16) -> u32 {
        let members = self.pipes.iter().flatten().filter(|p| p.prio == prio);
        let total = members.clone().count() as u32;
        let ready = members.filter(|p| p.eligible).count() as u32;
        if ready == 0 {
            0
        } else {
            (ready * u32::from(factor) / total).clamp(1, 100)
        }
    }

    /// Envoy's priority load over the tiers (index = priority), in percent.
    fn shares(&self) -> [u32; TIERS + 1] {
        let mut shares = [0; TIERS + 1];
        let Some(factor) = self.spill else {
            if let Some(active) = self.active() {
                shares[usize::from(active)] = 100;
            }
            return shares;
        };
        let health: Vec<u32> = (0..=TIERS as u8)
            .map(|p| if p == 0 { 0 } else { self.health(p, factor) })
            .collect();
        let total = health.iter().sum::<u32>().min(100);
        if total == 0 {
            return shares;
        }
        let mut left = 100;
        for p in 1..=TIERS {
            shares[p] = (health[p] * 100 / total).min(left);
            left -= shares[p];
        }
        if let Some(first) = (1..=TIERS).find(|&p| health[p] > 0) {
            shares[first] += left;
        }
        shares
    }

    /// Starts a new share window if the shares changed (or `force`).
    fn sync_shares(&mut self, force: bool) {
        let shares = self.shares();
        if force || shares != self.share_window.shares {
            self.share_window = ShareWindow {
                shares,
                ..ShareWindow::default()
            };
        }
    }

    /// Most preferred priority among eligible pipes.
    fn active(&self) -> Option<u8> {
        self.pipes
            .iter()
            .flatten()
            .filter(|p| p.eligible)
            .map(|p| p.prio)
            .min()
    }

    fn eligible_in(&self, prio: u8) -> Vec<usize> {
        (0..IDS)
            .filter(|&i| {
                self.pipes[i]
                    .as_ref()
                    .is_some_and(|p| p.eligible && p.prio == prio)
            })
            .collect()
    }

    /// The eligibility rule, applied until nothing changes: a ready pipe
    /// becomes eligible if no pipe is eligible, if it is not more preferred
    /// than the active tier, or if it has been ready for the delay.
    fn normalize(&mut self) {
        loop {
            let active = self.active();
            let (now, delay) = (self.now, self.delay);
            let mut changed = false;
            for p in self.pipes.iter_mut().flatten() {
                if p.state != PipeState::Ready || p.eligible {
                    continue;
                }
                let due = match (p.ready_since.and_then(|s| s.checked_add(delay)), now) {
                    (Some(deadline), Some(now)) => deadline <= now,
                    _ => false,
                };
                if active.is_none_or(|a| p.prio >= a) || due {
                    p.eligible = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    fn advance(&mut self, t: Instant) {
        self.now = Some(self.now.map_or(t, |n| n.max(t)));
        self.normalize();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.pipes
            .iter()
            .flatten()
            .filter(|p| p.state == PipeState::Ready && !p.eligible)
            .filter_map(|p| p.ready_since?.checked_add(self.delay))
            .min()
    }

    /// Starts a new fairness window for every tier whose eligible set changed.
    fn sync_windows(&mut self) {
        for prio in 1..=TIERS as u8 {
            let set = self.eligible_in(prio);
            let w = &mut self.windows[usize::from(prio)];
            if w.set != set {
                *w = Window {
                    set,
                    counts: [0; IDS],
                };
            }
        }
    }

    fn expected_event(&mut self) -> Option<TierEvent> {
        let active = self.active();
        if active == self.reported {
            return None;
        }
        let from = self.reported;
        self.reported = active;
        let back = match (from, active) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(f), Some(t)) => t < f,
        };
        Some(if back {
            TierEvent::Failback { from, to: active }
        } else {
            TierEvent::Failover { from, to: active }
        })
    }
}

fn check_priority(p: u8) -> Result<(), SchedError> {
    if (1..=16).contains(&p) {
        Ok(())
    } else {
        Err(SchedError::InvalidPriority(p))
    }
}

/// Checks a pick against invariants 1, 2, 3 and 5 and records it.
fn record_pick(world: &mut World, got: Option<PipeId>) -> Result<(), TestCaseError> {
    let active = world.active();
    let Some(PipeId(id)) = got else {
        // 5: nothing is picked only when nothing is eligible.
        prop_assert_eq!(active, None, "no pick although a pipe is eligible");
        return Ok(());
    };
    prop_assert!(id < IDS);
    let prio = world.pipes[id].as_ref().map_or(0, |p| p.prio);
    // 4, stated directly: every pipe that has been ready for the failback
    // delay (any ready pipe, with no delay) is in the picked tier or a less
    // preferred one.
    let now = world
        .now
        .ok_or_else(|| TestCaseError::fail("pick before any time"))?;
    for p in world.pipes.iter().flatten() {
        let settled = p
            .ready_since
            .and_then(|s| s.checked_add(world.delay))
            .is_some_and(|d| d <= now);
        if p.state == PipeState::Ready && settled {
            prop_assert!(
                prio <= p.prio,
                "picked tier {} over settled tier {}",
                prio,
                p.prio
            );
        }
    }
    let pipe = world.pipes[id]
        .as_mut()
        .ok_or_else(|| TestCaseError::fail("picked unknown pipe"))?;
    // 2: only ready (and eligible) pipes are picked.
    prop_assert_eq!(pipe.state, PipeState::Ready);
    prop_assert!(
        pipe.eligible,
        "picked a pipe still waiting out the failback delay"
    );
    // 1 and 4: the pick is in the most preferred eligible tier.
    prop_assert_eq!(Some(pipe.prio), active);
    pipe.picks += 1;
    world.current = Some(id);
    // 3: round-robin fairness within an unchanged eligible set.
    let w = &mut world.windows[usize::from(pipe.prio)];
    w.counts[id] += 1;
    let counts: Vec<u64> = w.set.iter().map(|&i| w.counts[i]).collect();
    let (lo, hi) = (counts.iter().min().copied(), counts.iter().max().copied());
    prop_assert!(
        hi.zip(lo).is_some_and(|(h, l)| h - l <= 1),
        "unfair counts {:?}",
        counts
    );
    Ok(())
}

/// Checks a pick under proportional spillover and records it.
fn record_spill_pick(world: &mut World, got: Option<PipeId>) -> Result<(), TestCaseError> {
    let active = world.active();
    let Some(PipeId(id)) = got else {
        prop_assert_eq!(active, None, "no pick although a pipe is eligible");
        return Ok(());
    };
    prop_assert!(id < IDS);
    let pipe = world.pipes[id]
        .as_ref()
        .ok_or_else(|| TestCaseError::fail("picked unknown pipe"))?;
    let prio = pipe.prio;
    // Only ready (and eligible) pipes are picked.
    prop_assert_eq!(pipe.state, PipeState::Ready);
    prop_assert!(
        pipe.eligible,
        "picked a pipe waiting out the failback delay"
    );
    // Only tiers with a share; all to the first tier while it is healthy.
    let shares = world.share_window.shares;
    prop_assert!(
        shares[usize::from(prio)] > 0,
        "picked tier {} with no share",
        prio
    );
    if let (Some(active), Some(factor)) = (active, world.spill)
        && world.health(active, factor) == 100
    {
        prop_assert_eq!(prio, active, "a fully healthy first tier must take all");
    }
    // Each tier's picks since the shares changed are n·share/100 rounded
    // down or up, and exact after each complete period of 100.
    let w = &mut world.share_window;
    w.picks[usize::from(prio)] += 1;
    w.total += 1;
    for p in 1..=TIERS {
        let lag = (w.picks[p] * 100).abs_diff(w.total * u64::from(w.shares[p]));
        prop_assert!(
            lag < 100,
            "tier {} has {} of {} picks for a share of {}%",
            p,
            w.picks[p],
            w.total,
            w.shares[p]
        );
        if w.total.is_multiple_of(100) {
            prop_assert_eq!(lag, 0, "period not exact for tier {}", p);
        }
    }
    if let Some(pipe) = world.pipes[id].as_mut() {
        pipe.picks += 1;
    }
    world.current = Some(id);
    // Round-robin fairness within an unchanged eligible set of the tier.
    let w = &mut world.windows[usize::from(prio)];
    w.counts[id] += 1;
    let counts: Vec<u64> = w.set.iter().map(|&i| w.counts[i]).collect();
    let (lo, hi) = (counts.iter().min().copied(), counts.iter().max().copied());
    prop_assert!(
        hi.zip(lo).is_some_and(|(h, l)| h - l <= 1),
        "unfair counts {:?}",
        counts
    );
    Ok(())
}

fn run(initial_delay: u64, spill: Option<u16>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let base = Instant::now();
    let mut t = base;
    let delay = Duration::from_millis(initial_delay);
    let mut sched = Scheduler::new();
    sched.set_failback_delay(delay);
    let mut world = World::new(delay);
    if spill.is_some() {
        sched.set_spillover(spill.map(Spillover::new));
        world.spill = spill;
    }

    for op in ops {
        match op {
            Op::Join(id, prio) => {
                let expect = check_priority(prio).and_then(|()| {
                    if world.pipes[id].is_some() {
                        Err(SchedError::DuplicatePipe(PipeId(id)))
                    } else {
                        Ok(())
                    }
                });
                prop_assert_eq!(sched.join(PipeId(id), prio, t), expect);
                if expect.is_ok() {
                    world.advance(t);
                    world.pipes[id] = Some(ModelPipe {
                        prio,
                        state: PipeState::Connecting,
                        eligible: false,
                        ready_since: None,
                        picks: 0,
                    });
                }
            }
            Op::Leave(id) => {
                sched.leave(PipeId(id), t);
                world.advance(t);
                world.pipes[id] = None;
                world.normalize();
            }
            Op::State(id, state) => {
                sched.set_state(PipeId(id), state, t);
                world.advance(t);
                let now = world.now;
                if let Some(p) = world.pipes[id].as_mut() {
                    let was = p.state == PipeState::Ready;
                    let is = state == PipeState::Ready;
                    p.state = state;
                    if !was && is {
                        p.ready_since = now;
                        p.eligible = false;
                    } else if !is {
                        p.eligible = false;
                    }
                }
                world.normalize();
            }
            Op::Prio(id, prio) => {
                let expect = check_priority(prio).and_then(|()| {
                    if world.pipes[id].is_none() {
                        Err(SchedError::UnknownPipe(PipeId(id)))
                    } else {
                        Ok(())
                    }
                });
                prop_assert_eq!(sched.set_priority(PipeId(id), prio, t), expect);
                if expect.is_ok() {
                    world.advance(t);
                    if let Some(p) = world.pipes[id].as_mut() {
                        p.prio = prio;
                    }
                    world.normalize();
                }
            }
            Op::Pick | Op::Begin => {
                let in_progress = world.current;
                let got = if matches!(op, Op::Pick) {
                    sched.pick(t)
                } else {
                    sched.begin(t)
                };
                world.advance(t);
                world.sync_windows();
                world.sync_shares(false);
                match in_progress {
                    // A committed message keeps its pipe; no new pick.
                    Some(id) => prop_assert_eq!(got, Some(PipeId(id))),
                    None if world.spill.is_some() => record_spill_pick(&mut world, got)?,
                    None => record_pick(&mut world, got)?,
                }
                if matches!(op, Op::Pick) {
                    world.current = None;
                }
            }
            Op::End => {
                sched.end();
                world.current = None;
            }
            Op::Advance(ms) => t += Duration::from_millis(ms),
            Op::Rewind(ms) => {
                t = t
                    .checked_sub(Duration::from_millis(ms))
                    .unwrap_or(t)
                    .max(base);
            }
            Op::Timeout => {
                let expect = world.poll_timeout();
                prop_assert_eq!(sched.poll_timeout(), expect);
                if let Some(deadline) = expect {
                    t = t.max(deadline);
                }
                sched.handle_timeout(t);
                world.advance(t);
            }
            Op::Delay(ms) => {
                sched.set_failback_delay(Duration::from_millis(ms));
                world.delay = Duration::from_millis(ms);
                world.normalize();
            }
            Op::Spill(factor) => {
                sched.set_spillover(factor.map(Spillover::new));
                prop_assert_eq!(sched.spillover(), factor.map(Spillover::new));
                world.spill = factor;
                // A new configuration always starts a new period.
                world.sync_shares(true);
            }
        }
        world.sync_windows();
        world.sync_shares(false);
        // Each tier's share of the traffic, in either mode.
        let shares = world.share_window.shares;
        for p in 0..=TIERS as u8 + 1 {
            let expect = shares.get(usize::from(p)).copied().unwrap_or(0);
            prop_assert_eq!(
                u32::from(sched.load_share(p)),
                expect,
                "share of tier {}",
                p
            );
        }

        // The observable state matches the model after every step.
        prop_assert_eq!(sched.active_tier(), world.active());
        prop_assert_eq!(sched.current(), world.current.map(PipeId));
        prop_assert_eq!(sched.poll_timeout(), world.poll_timeout());
        for id in 0..IDS {
            let m = world.pipes[id].as_ref();
            prop_assert_eq!(sched.state(PipeId(id)), m.map(|p| p.state));
            prop_assert_eq!(sched.priority(PipeId(id)), m.map(|p| p.prio));
            prop_assert_eq!(sched.picks(PipeId(id)), m.map_or(0, |p| p.picks));
            let waiting = m.is_some_and(|p| p.state == PipeState::Ready && !p.eligible);
            prop_assert_eq!(sched.is_waiting(PipeId(id)), waiting);
        }
        // 6: exactly one event per change of the active tier, none otherwise.
        let events: Vec<TierEvent> = std::iter::from_fn(|| sched.poll_event()).collect();
        let expected: Vec<TierEvent> = world.expected_event().into_iter().collect();
        prop_assert_eq!(events, expected);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn scheduler_matches_model(
        delay in (0u64..40).prop_map(|d| d.saturating_sub(20)),
        ops in proptest::collection::vec(op(), 100..200),
    ) {
        run(delay, None, ops)?;
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// The same events under proportional spillover (switched off and on
    /// again now and then), checked for its invariants instead of strict
    /// tiers.
    #[test]
    fn spillover_matches_model(
        delay in (0u64..40).prop_map(|d| d.saturating_sub(20)),
        factor in any::<u8>().prop_map(factor),
        ops in proptest::collection::vec(spill_op(), 100..200),
    ) {
        run(delay, Some(factor), ops)?;
    }
}

/// A long run in one stable state under spillover: up to four tiers, each
/// with some joined pipes of which some are ready, then many picks.
fn run_stable_spill(factor: u16, tiers: Vec<(u8, usize, usize)>) -> Result<(), TestCaseError> {
    let now = Instant::now();
    let mut sched = Scheduler::new();
    sched.set_spillover(Some(Spillover::new(factor)));
    let mut next = 0;
    // (priority, ready?) per pipe id.
    let mut pipes = Vec::new();
    for (prio, members, ready) in tiers {
        for i in 0..members {
            let id = PipeId(next);
            next += 1;
            // A priority may come up twice: its tier then just grows.
            sched
                .join(id, prio, now)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let state = if i < ready {
                PipeState::Ready
            } else {
                [PipeState::Busy, PipeState::Dead, PipeState::Disconnected][i % 3]
            };
            sched.set_state(id, state, now);
            pipes.push((prio, i < ready));
        }
    }
    let shares: Vec<u64> = (0..=TIERS as u8)
        .map(|p| u64::from(sched.load_share(p)))
        .collect();
    let any_ready = pipes.iter().any(|p| p.1);
    prop_assert_eq!(shares.iter().sum::<u64>(), if any_ready { 100 } else { 0 });

    let mut per_tier = [0u64; TIERS + 1];
    let mut per_pipe = vec![0u64; pipes.len()];
    for n in 1..=1000u64 {
        let Some(PipeId(id)) = sched.pick(now) else {
            prop_assert!(!any_ready, "no pick although a pipe is ready");
            return Ok(());
        };
        let (prio, ready) = pipes[id];
        prop_assert!(ready, "picked a pipe that is not ready");
        per_tier[usize::from(prio)] += 1;
        per_pipe[id] += 1;
        for p in 1..=TIERS {
            let lag = (per_tier[p] * 100).abs_diff(n * shares[p]);
            prop_assert!(
                lag < 100,
                "tier {}: {} of {} for {}%",
                p,
                per_tier[p],
                n,
                shares[p]
            );
            if n.is_multiple_of(100) {
                prop_assert_eq!(lag, 0);
            }
        }
    }
    // Within a tier, the ready pipes' counts differ by at most one.
    for prio in 1..=TIERS as u8 {
        let counts: Vec<u64> = (0..pipes.len())
            .filter(|&i| pipes[i] == (prio, true))
            .map(|i| per_pipe[i])
            .collect();
        let (lo, hi) = (counts.iter().min(), counts.iter().max());
        prop_assert!(
            hi.zip(lo).is_none_or(|(h, l)| h - l <= 1),
            "tier {} unfair: {:?}",
            prio,
            counts
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn spillover_shares_hold_over_a_long_stable_run(
        factor in any::<u8>().prop_map(factor),
        tiers in proptest::collection::vec(
            (1u8..=16, 1usize..12, 0usize..12).prop_map(|(p, m, r)| (p, m, r.min(m))),
            1..5,
        ),
    ) {
        run_stable_spill(factor, tiers)?;
    }
}

// ------------------------------------------------------------- receive side

#[derive(Clone, Debug)]
enum RecvOp {
    Join(usize, u8),
    Leave(usize),
    Readable(usize, bool),
    Prio(usize, u8),
    /// Read one message; the pipe then has nothing left with this chance.
    Next {
        drained: bool,
    },
}

fn recv_op() -> impl Strategy<Value = RecvOp> {
    (0u8..100, 0..IDS, any::<u8>()).prop_map(|(kind, id, arg)| match kind {
        0..12 => RecvOp::Join(id, priority(arg)),
        12..18 => RecvOp::Leave(id),
        18..48 => RecvOp::Readable(id, arg % 2 == 0),
        48..54 => RecvOp::Prio(id, priority(arg)),
        _ => RecvOp::Next {
            drained: arg % 5 == 0,
        },
    })
}

fn run_recv(ops: Vec<RecvOp>) -> Result<(), TestCaseError> {
    let mut fq = FairQueue::new();
    // (priority, readable) per id.
    let mut pipes: [Option<(u8, bool)>; IDS] = [None; IDS];
    let mut windows: [Window; TIERS + 1] = Default::default();
    let readable_in = |pipes: &[Option<(u8, bool)>; IDS], prio: u8| -> Vec<usize> {
        (0..IDS)
            .filter(|&i| pipes[i] == Some((prio, true)))
            .collect()
    };

    for op in ops {
        match op {
            RecvOp::Join(id, prio) => {
                let expect = check_priority(prio).and_then(|()| {
                    if pipes[id].is_some() {
                        Err(SchedError::DuplicatePipe(PipeId(id)))
                    } else {
                        Ok(())
                    }
                });
                prop_assert_eq!(fq.join(PipeId(id), prio), expect);
                if expect.is_ok() {
                    pipes[id] = Some((prio, false));
                }
            }
            RecvOp::Leave(id) => {
                fq.leave(PipeId(id));
                pipes[id] = None;
            }
            RecvOp::Readable(id, r) => {
                fq.set_readable(PipeId(id), r);
                if let Some(p) = pipes[id].as_mut() {
                    p.1 = r;
                }
            }
            RecvOp::Prio(id, prio) => {
                let expect = check_priority(prio).and_then(|()| {
                    if pipes[id].is_none() {
                        Err(SchedError::UnknownPipe(PipeId(id)))
                    } else {
                        Ok(())
                    }
                });
                prop_assert_eq!(fq.set_priority(PipeId(id), prio), expect);
                if expect.is_ok()
                    && let Some(p) = pipes[id].as_mut()
                {
                    p.0 = prio;
                }
            }
            RecvOp::Next { drained } => {
                let best = pipes.iter().flatten().filter(|p| p.1).map(|p| p.0).min();
                match fq.next() {
                    None => prop_assert_eq!(best, None, "nothing read although input waits"),
                    Some(PipeId(id)) => {
                        prop_assert!(id < IDS);
                        let (prio, readable) =
                            pipes[id].ok_or_else(|| TestCaseError::fail("unknown pipe"))?;
                        prop_assert!(readable, "read a pipe without input");
                        // Never a less preferred tier while a better one has input.
                        prop_assert_eq!(Some(prio), best);
                        // Never starve an equal: counts within an unchanged set differ by <= 1.
                        let w = &mut windows[usize::from(prio)];
                        w.counts[id] += 1;
                        let counts: Vec<u64> = w.set.iter().map(|&i| w.counts[i]).collect();
                        let (lo, hi) = (counts.iter().min().copied(), counts.iter().max().copied());
                        prop_assert!(
                            hi.zip(lo).is_some_and(|(h, l)| h - l <= 1),
                            "unfair counts {:?}",
                            counts
                        );
                        if drained {
                            fq.set_readable(PipeId(id), false);
                            if let Some(p) = pipes[id].as_mut() {
                                p.1 = false;
                            }
                        }
                    }
                }
            }
        }
        for prio in 1..=TIERS as u8 {
            let set = readable_in(&pipes, prio);
            let w = &mut windows[usize::from(prio)];
            if w.set != set {
                *w = Window {
                    set,
                    counts: [0; IDS],
                };
            }
        }
        prop_assert_eq!(fq.has_input(), pipes.iter().flatten().any(|p| p.1));
        for (id, pipe) in pipes.iter().enumerate() {
            prop_assert_eq!(fq.priority(PipeId(id)), pipe.map(|p| p.0));
            prop_assert_eq!(fq.is_readable(PipeId(id)), pipe.is_some_and(|p| p.1));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn fair_queue_matches_model(ops in proptest::collection::vec(recv_op(), 100..200)) {
        run_recv(ops)?;
    }
}

// ------------------------------------------------------------ latency tiers

#[derive(Clone, Debug)]
enum LatencyOp {
    /// A round-trip sample, in microseconds.
    Record(usize, u64),
    Remove(usize),
}

/// Round trips at a few scales (so tiers differ), with noise, outliers and
/// extremes.
fn latency_op() -> impl Strategy<Value = LatencyOp> {
    (0u8..100, 0..IDS, 0u64..1000, any::<u8>()).prop_map(|(kind, id, noise, arg)| match kind {
        0..8 => LatencyOp::Remove(id),
        8..90 => {
            let scale = [100, 1_000, 3_000, 20_000, 150_000][id % 5];
            LatencyOp::Record(id, scale + scale * noise / 1000 * u64::from(arg % 4) / 4)
        }
        _ => LatencyOp::Record(id, [0, 1, 5_000_000, u64::MAX / 1000][usize::from(arg % 4)]),
    })
}

fn latency_config() -> impl Strategy<Value = LatencyConfig> {
    (0usize..4, 0usize..3, 0usize..3, 0usize..4).prop_map(|(f, fl, m, n)| LatencyConfig {
        factor_percent: [101, 150, 200, 400][f],
        floor: [
            Duration::ZERO,
            Duration::from_micros(1),
            Duration::from_millis(1),
        ][fl],
        margin_percent: [0, 10, 50][m],
        samples: [1, 2, 3, 5][n],
    })
}

/// The tier of `settled` by definition: the smallest k with settled <=
/// reference × factor^k (each step rounded up), at most 16.
fn model_tier(settled: u128, reference: u128, factor: u128) -> u8 {
    let mut bound = reference;
    for k in 1..16 {
        bound = bound.saturating_mul(factor).div_ceil(100);
        if settled <= bound {
            return k;
        }
    }
    16
}

fn run_latency(config: LatencyConfig, ops: Vec<LatencyOp>) -> Result<(), TestCaseError> {
    let mut lt = LatencyTiers::with_config(config);
    // The tiers as the caller knows them, from the changes alone.
    let mut known: [Option<u8>; IDS] = [None; IDS];
    for op in ops {
        let changes = match op {
            LatencyOp::Record(id, us) => {
                let changes = lt
                    .record(PipeId(id), Duration::from_micros(us))
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                // A pipe's first sample always reports its tier.
                if known[id].is_none() {
                    prop_assert_eq!(
                        changes.first().map(|c| (c.pipe, c.from)),
                        Some((PipeId(id), None))
                    );
                }
                changes
            }
            LatencyOp::Remove(id) => {
                let changes = lt.remove(PipeId(id));
                known[id] = None;
                changes
            }
        };
        let mut seen = [false; IDS];
        for c in changes {
            prop_assert!(c.pipe.0 < IDS);
            prop_assert!(!seen[c.pipe.0], "pipe listed twice");
            seen[c.pipe.0] = true;
            prop_assert_eq!(c.from, known[c.pipe.0], "change from a tier it was not in");
            prop_assert_ne!(Some(c.to), c.from);
            known[c.pipe.0] = Some(c.to);
        }
        // The changes told the whole story.
        let tiers: Vec<Option<u8>> = (0..IDS).map(|i| lt.tier(PipeId(i))).collect();
        prop_assert_eq!(&tiers[..], &known[..]);

        let settled: Vec<Option<u128>> = (0..IDS)
            .map(|i| lt.settled_rtt(PipeId(i)).map(|d| d.as_nanos()))
            .collect();
        let fastest = settled.iter().flatten().min().copied();
        prop_assert_eq!(lt.fastest().map(|d| d.as_nanos()), fastest);
        let Some(fastest) = fastest else { continue };
        let reference = fastest.max(config.floor.as_nanos()).max(1);
        for i in 0..IDS {
            let (Some(s), Some(t)) = (settled[i], tiers[i]) else {
                prop_assert_eq!(settled[i].is_some(), tiers[i].is_some());
                continue;
            };
            // The fastest pipe is in tier 1.
            if s == fastest {
                prop_assert_eq!(t, 1, "fastest pipe {} in tier {}", i, t);
            }
            // The tier is the one its settled round trip calls for.
            let factor = u128::from(lt.config().factor_percent);
            prop_assert_eq!(t, model_tier(s, reference, factor));
            // Tiers are monotone in settled round trips.
            for j in 0..IDS {
                if let (Some(s2), Some(t2)) = (settled[j], tiers[j])
                    && s < s2
                {
                    prop_assert!(
                        t <= t2,
                        "pipe {} ({}ns) in tier {}, pipe {} ({}ns) in {}",
                        i,
                        s,
                        t,
                        j,
                        s2,
                        t2
                    );
                }
            }
        }
    }
    Ok(())
}

/// Steady pipes (jitter well inside the margin), one outlier sample of any
/// size on one of them, then more steady samples: no pipe ever moves.
fn run_outlier(
    config: LatencyConfig,
    base_us: Vec<u64>,
    outlier: (usize, u64),
    jitter: Vec<i8>,
) -> Result<(), TestCaseError> {
    let mut lt = LatencyTiers::with_config(config);
    let n = base_us.len();
    // Jitter of at most ±(margin/4)%: never beyond the margin.
    let sample = |i: usize, k: usize| {
        let j = i64::from(jitter[(i * 7 + k) % jitter.len()]) * i64::from(config.margin_percent);
        let base = base_us[i] as i64 * 1000;
        Duration::from_nanos((base + base * j / (4 * 128 * 100)) as u64)
    };
    for i in 0..n {
        lt.record(PipeId(i), sample(i, 0))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    let tiers: Vec<Option<u8>> = (0..n).map(|i| lt.tier(PipeId(i))).collect();
    let (victim, rtt_us) = (outlier.0 % n, outlier.1);
    for k in 1..60 {
        for i in 0..n {
            let rtt = if k == 20 && i == victim {
                Duration::from_micros(rtt_us)
            } else {
                sample(i, k)
            };
            let changes = lt
                .record(PipeId(i), rtt)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(changes, vec![], "moved at round {}", k);
        }
    }
    let after: Vec<Option<u8>> = (0..n).map(|i| lt.tier(PipeId(i))).collect();
    prop_assert_eq!(after, tiers);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn latency_tiers_hold_their_invariants(
        config in latency_config(),
        ops in proptest::collection::vec(latency_op(), 50..200),
    ) {
        run_latency(config, ops)?;
    }

    #[test]
    fn a_single_outlier_never_moves_a_pipe(
        config in latency_config().prop_map(|c| LatencyConfig {
            samples: c.samples.max(2),
            margin_percent: c.margin_percent.max(10),
            ..c
        }),
        base_us in proptest::collection::vec(1u64..1_000_000, 1..IDS),
        outlier in (0..IDS, prop_oneof![Just(0u64), 0u64..100_000_000]),
        jitter in proptest::collection::vec(any::<i8>(), 1..16),
    ) {
        run_outlier(config, base_us, outlier, jitter)?;
    }
}
