//! Random sequences of pipe events, checked after every step against a
//! naive reference model (SPEC §4 invariants).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use tiermq_sched::{FairQueue, PipeId, PipeState, SchedError, Scheduler, TierEvent};

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
    (0u8..100, 0..IDS, any::<u8>()).prop_map(|(kind, id, arg)| match kind {
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
    })
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

/// The reference model: a plain list of pipes, every rule an O(n) scan.
struct World {
    pipes: [Option<ModelPipe>; IDS],
    delay: Duration,
    now: Option<Instant>,
    current: Option<usize>,
    reported: Option<u8>,
    windows: [Window; TIERS + 1],
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

fn run(initial_delay: u64, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let base = Instant::now();
    let mut t = base;
    let delay = Duration::from_millis(initial_delay);
    let mut sched = Scheduler::new();
    sched.set_failback_delay(delay);
    let mut world = World::new(delay);

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
                match in_progress {
                    // A committed message keeps its pipe; no new pick.
                    Some(id) => prop_assert_eq!(got, Some(PipeId(id))),
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
        }
        world.sync_windows();

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
        run(delay, ops)?;
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
