//! The seed scenarios of SPEC §1, §3 and §4, step by step.

use std::time::{Duration, Instant};

use tiermq_sched::{
    FairQueue, LatencyConfig, LatencyTiers, MAX_PIPE_ID, PipeId, PipeState, SchedError, Scheduler,
    Spillover, TierChange, TierEvent,
};

fn events(sched: &mut Scheduler) -> Vec<TierEvent> {
    std::iter::from_fn(|| sched.poll_event()).collect()
}

fn ready_pipes(sched: &mut Scheduler, pipes: &[(usize, u8)], now: Instant) {
    for &(id, prio) in pipes {
        sched.join(PipeId(id), prio, now).unwrap();
        sched.set_state(PipeId(id), PipeState::Ready, now);
    }
}

#[test]
fn active_passive_fails_over_and_back() {
    let now = Instant::now();
    let (r0, r1, r2) = (PipeId(0), PipeId(1), PipeId(2));
    let mut sched = Scheduler::new();
    ready_pipes(&mut sched, &[(0, 1), (1, 2), (2, 3)], now);
    assert_eq!(
        events(&mut sched),
        [TierEvent::Failback {
            from: None,
            to: Some(1)
        }]
    );

    for _ in 0..5 {
        assert_eq!(sched.pick(now), Some(r0));
    }
    sched.set_state(r0, PipeState::Disconnected, now);
    assert_eq!(sched.active_tier(), Some(2));
    for _ in 0..5 {
        assert_eq!(sched.pick(now), Some(r1));
    }
    sched.set_state(r1, PipeState::Busy, now);
    assert_eq!(sched.pick(now), Some(r2));
    // R1 drains first: traffic comes back one tier, then the next.
    sched.set_state(r1, PipeState::Ready, now);
    assert_eq!(sched.pick(now), Some(r1));
    sched.set_state(r0, PipeState::Ready, now);
    assert_eq!(sched.pick(now), Some(r0));
    // Dead and busy count as not ready, like disconnected.
    sched.set_state(r0, PipeState::Dead, now);
    assert_eq!(sched.pick(now), Some(r1));
    // Nothing ready: nothing picked.
    sched.set_state(r1, PipeState::Busy, now);
    sched.set_state(r2, PipeState::Disconnected, now);
    assert_eq!(sched.pick(now), None);
    assert_eq!(sched.active_tier(), None);

    assert_eq!(
        events(&mut sched),
        [
            TierEvent::Failover {
                from: Some(1),
                to: Some(2)
            },
            TierEvent::Failover {
                from: Some(2),
                to: Some(3)
            },
            TierEvent::Failback {
                from: Some(3),
                to: Some(2)
            },
            TierEvent::Failback {
                from: Some(2),
                to: Some(1)
            },
            TierEvent::Failover {
                from: Some(1),
                to: Some(2)
            },
            TierEvent::Failover {
                from: Some(2),
                to: Some(3)
            },
            TierEvent::Failover {
                from: Some(3),
                to: None
            },
        ]
    );
    assert_eq!(sched.picks(r0), 6);
    assert_eq!(sched.picks(r1), 7);
    assert_eq!(sched.picks(r2), 1);
}

#[test]
fn tiered_balances_locally_and_spills_only_when_all_local_are_out() {
    let now = Instant::now();
    let mut sched = Scheduler::new();
    let local: Vec<(usize, u8)> = (1..=10).map(|i| (i, 1)).collect();
    ready_pipes(&mut sched, &local, now);
    ready_pipes(&mut sched, &[(11, 2)], now);
    let r11 = PipeId(11);

    for _ in 0..1000 {
        let id = sched.pick(now).unwrap();
        assert_ne!(id, r11);
    }
    for i in 1..=10 {
        assert_eq!(sched.picks(PipeId(i)), 100, "R{i} unbalanced");
    }

    // Take the local workers out one by one; the rest share the load.
    for out in 1..=9 {
        sched.set_state(PipeId(out), PipeState::Busy, now);
        let left = 10 - out;
        let before: Vec<u64> = (1..=10).map(|i| sched.picks(PipeId(i))).collect();
        for _ in 0..left * 3 {
            let id = sched.pick(now).unwrap();
            assert!(
                id.0 > out && id.0 <= 10,
                "picked {id:?} with R1..=R{out} busy"
            );
        }
        for i in out + 1..=10 {
            assert_eq!(sched.picks(PipeId(i)) - before[i - 1], 3);
        }
    }
    // The last local worker goes: only now does R11 get traffic.
    sched.set_state(PipeId(10), PipeState::Disconnected, now);
    assert_eq!(sched.pick(now), Some(r11));
    assert_eq!(sched.pick(now), Some(r11));
    // Any local worker back: traffic returns to it at once.
    sched.set_state(PipeId(4), PipeState::Ready, now);
    assert_eq!(sched.pick(now), Some(PipeId(4)));
    assert_eq!(sched.picks(r11), 2);
}

/// A pipe's outgoing queue with water marks, as the socket keeps it: depth
/// rises on each pick and drains in steps; busy at HWM, ready again at LWM.
struct Queue {
    id: PipeId,
    depth: usize,
    hwm: usize,
    lwm: usize,
    drain: usize,
    busy: bool,
}

impl Queue {
    fn push(&mut self, sched: &mut Scheduler, now: Instant) {
        self.depth += 1;
        if self.depth >= self.hwm && !self.busy {
            self.busy = true;
            sched.set_state(self.id, PipeState::Busy, now);
        }
    }

    fn tick(&mut self, sched: &mut Scheduler, now: Instant) {
        self.depth = self.depth.saturating_sub(self.drain);
        if self.busy && self.depth <= self.lwm {
            self.busy = false;
            sched.set_state(self.id, PipeState::Ready, now);
        }
    }
}

/// Runs a slow primary (prio 1) and a fast backup (prio 2) for `ticks`
/// ticks of 4 messages. Returns, per tick, whether the primary got
/// any message, and the number of failovers.
fn run_slow_primary(lwm: usize, delay: Duration, ticks: usize) -> (Vec<bool>, usize) {
    let start = Instant::now();
    let mut sched = Scheduler::new();
    sched.set_failback_delay(delay);
    let mut primary = Queue {
        id: PipeId(0),
        depth: 0,
        hwm: 20,
        lwm,
        drain: 2,
        busy: false,
    };
    let mut backup = Queue {
        id: PipeId(1),
        depth: 0,
        hwm: 1000,
        lwm: 500,
        drain: 10,
        busy: false,
    };
    ready_pipes(&mut sched, &[(0, 1), (1, 2)], start);
    let per_tick = 4;
    let mut served = Vec::new();
    let mut failovers = 0;
    for tick in 0..ticks {
        let now = start + Duration::from_millis(tick as u64);
        let mut got = false;
        for _ in 0..per_tick {
            match sched.pick(now) {
                Some(id) if id == primary.id => {
                    got = true;
                    primary.push(&mut sched, now);
                }
                Some(id) if id == backup.id => backup.push(&mut sched, now),
                other => panic!("unexpected pick {other:?}"),
            }
        }
        served.push(got);
        primary.tick(&mut sched, now);
        backup.tick(&mut sched, now);
        failovers += events(&mut sched)
            .iter()
            .filter(|e| matches!(e, TierEvent::Failover { .. }))
            .count();
    }
    (served, failovers)
}

/// Lengths of the runs of equal values.
fn runs(v: &[bool]) -> Vec<(bool, usize)> {
    let mut out: Vec<(bool, usize)> = Vec::new();
    for &x in v {
        match out.last_mut() {
            Some((y, n)) if *y == x => *n += 1,
            _ => out.push((x, 1)),
        }
    }
    out
}

#[test]
fn busy_primary_with_hysteresis_does_not_flap() {
    // Primary takes 4 messages a tick and drains 2: it fills to HWM = 20,
    // then must drain to LWM = 10 (5 ticks) before it is ready again.
    let (served, failovers) = run_slow_primary(10, Duration::ZERO, 200);
    let runs = runs(&served);
    // Every stretch off the primary (except possibly the last) lasts the
    // whole drain from HWM to LWM: it never comes back after one tick.
    for &(on, len) in &runs[..runs.len() - 1] {
        if !on {
            assert!(len >= 4, "primary came back after {len} ticks: {runs:?}");
        }
    }
    // Without hysteresis (LWM just below HWM) it flaps far more often.
    let (_, flappy) = run_slow_primary(19, Duration::ZERO, 200);
    assert!(failovers > 0);
    assert!(flappy >= 3 * failovers, "{flappy} vs {failovers}");
}

#[test]
fn failback_delay_holds_a_returning_primary_back() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let (primary, backup) = (PipeId(0), PipeId(1));
    let mut sched = Scheduler::new();
    sched.set_failback_delay(Duration::from_millis(100));
    ready_pipes(&mut sched, &[(0, 1), (1, 2)], t0);
    // First readiness with nothing else eligible: no wait.
    assert_eq!(sched.pick(t0), Some(primary));
    events(&mut sched);

    sched.set_state(primary, PipeState::Busy, ms(10));
    assert_eq!(sched.pick(ms(10)), Some(backup));
    sched.set_state(primary, PipeState::Ready, ms(20));
    assert!(sched.is_waiting(primary));
    assert_eq!(sched.poll_timeout(), Some(ms(120)));
    assert_eq!(sched.pick(ms(119)), Some(backup));
    assert_eq!(sched.active_tier(), Some(2));
    // The timer fires: the primary is eligible and the next pick is its.
    sched.handle_timeout(ms(120));
    assert_eq!(sched.active_tier(), Some(1));
    assert_eq!(sched.poll_timeout(), None);
    assert_eq!(sched.pick(ms(121)), Some(primary));
    assert_eq!(
        events(&mut sched),
        [
            TierEvent::Failover {
                from: Some(1),
                to: Some(2)
            },
            TierEvent::Failback {
                from: Some(2),
                to: Some(1)
            },
        ]
    );

    // A flapping primary: ready, busy again before the delay, ready again.
    // Each readiness restarts the wait; it never takes traffic.
    sched.set_state(primary, PipeState::Busy, ms(200));
    for k in 0..5 {
        let base = 210 + k * 60;
        sched.set_state(primary, PipeState::Ready, ms(base));
        assert_eq!(sched.pick(ms(base + 50)), Some(backup));
        sched.set_state(primary, PipeState::Busy, ms(base + 59));
    }
    assert_eq!(
        events(&mut sched),
        [TierEvent::Failover {
            from: Some(1),
            to: Some(2)
        }]
    );

    // pick(now) itself promotes a pipe whose wait is over.
    sched.set_state(primary, PipeState::Ready, ms(1000));
    assert_eq!(sched.pick(ms(1100)), Some(primary));
}

#[test]
fn waiting_pipes_are_released_when_nothing_else_can_send() {
    let t0 = Instant::now();
    let (primary, backup) = (PipeId(0), PipeId(1));
    let mut sched = Scheduler::new();
    sched.set_failback_delay(Duration::from_secs(5));
    ready_pipes(&mut sched, &[(0, 1), (1, 2)], t0);
    sched.set_state(primary, PipeState::Busy, t0);
    sched.set_state(primary, PipeState::Ready, t0);
    assert!(sched.is_waiting(primary));
    // The backup goes away: waiting would only block sends.
    sched.set_state(backup, PipeState::Disconnected, t0);
    assert!(!sched.is_waiting(primary));
    assert_eq!(sched.pick(t0), Some(primary));
}

#[test]
fn waiting_pipes_join_a_tier_that_became_active() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut sched = Scheduler::new();
    sched.set_failback_delay(Duration::from_millis(100));
    // A and B in tier 1, C in tier 2.
    ready_pipes(&mut sched, &[(2, 2)], t0);
    sched.join(PipeId(0), 1, t0).unwrap();
    sched.join(PipeId(1), 1, t0).unwrap();
    sched.set_state(PipeId(0), PipeState::Ready, ms(0));
    sched.set_state(PipeId(1), PipeState::Ready, ms(50));
    assert_eq!(sched.poll_timeout(), Some(ms(100)));
    // A's wait ends; tier 1 is active, so B joins it without waiting.
    sched.handle_timeout(ms(100));
    assert!(!sched.is_waiting(PipeId(1)));
    assert_eq!(sched.pick(ms(100)), Some(PipeId(0)));
    assert_eq!(sched.pick(ms(100)), Some(PipeId(1)));
    // Shortening the delay applies to waiting pipes at once.
    sched.join(PipeId(3), 1, ms(100)).unwrap();
    sched.set_priority(PipeId(3), 1, ms(100)).unwrap();
    sched.set_state(PipeId(0), PipeState::Busy, ms(100));
    sched.set_state(PipeId(1), PipeState::Busy, ms(100));
    sched.set_state(PipeId(0), PipeState::Ready, ms(110));
    assert!(sched.is_waiting(PipeId(0)));
    sched.set_failback_delay(Duration::ZERO);
    assert!(!sched.is_waiting(PipeId(0)));
    assert_eq!(sched.active_tier(), Some(1));
}

#[test]
fn multipart_message_stays_on_its_pipe() {
    let now = Instant::now();
    let (a, b) = (PipeId(0), PipeId(1));
    let mut sched = Scheduler::new();
    ready_pipes(&mut sched, &[(0, 1), (1, 1)], now);
    assert_eq!(sched.begin(now), Some(a));
    // Further frames: begin again returns the committed pipe, uncounted.
    assert_eq!(sched.begin(now), Some(a));
    assert_eq!(sched.current(), Some(a));
    // The pipe goes away mid-message: current still names it.
    sched.set_state(a, PipeState::Disconnected, now);
    sched.leave(a, now);
    assert_eq!(sched.current(), Some(a));
    sched.end();
    assert_eq!(sched.current(), None);
    assert_eq!(sched.pick(now), Some(b));
    assert_eq!(sched.picks(b), 1);
    assert_eq!(sched.picks(a), 0, "left pipes report no count");
}

#[test]
fn priority_change_moves_a_pipe_between_tiers() {
    let now = Instant::now();
    let mut sched = Scheduler::new();
    ready_pipes(&mut sched, &[(0, 1), (1, 5)], now);
    assert_eq!(sched.pick(now), Some(PipeId(0)));
    sched.set_priority(PipeId(1), 1, now).unwrap();
    assert_eq!(sched.priority(PipeId(1)), Some(1));
    // It joins tier 1's rotation last.
    let seq: Vec<usize> = (0..4).map(|_| sched.pick(now).unwrap().0).collect();
    assert_eq!(seq, [0, 1, 0, 1]);
    sched.set_priority(PipeId(0), 16, now).unwrap();
    assert_eq!(sched.pick(now), Some(PipeId(1)));
    assert_eq!(sched.pick(now), Some(PipeId(1)));
}

#[test]
fn bad_arguments_are_refused_without_effect() {
    let now = Instant::now();
    let mut sched = Scheduler::new();
    assert_eq!(
        sched.join(PipeId(0), 0, now),
        Err(SchedError::InvalidPriority(0))
    );
    assert_eq!(
        sched.join(PipeId(0), 17, now),
        Err(SchedError::InvalidPriority(17))
    );
    assert_eq!(sched.state(PipeId(0)), None);
    sched.join(PipeId(0), 16, now).unwrap();
    assert_eq!(sched.state(PipeId(0)), Some(PipeState::Connecting));
    assert_eq!(
        sched.join(PipeId(0), 1, now),
        Err(SchedError::DuplicatePipe(PipeId(0)))
    );
    assert_eq!(sched.priority(PipeId(0)), Some(16));
    assert_eq!(
        sched.set_priority(PipeId(0), 99, now),
        Err(SchedError::InvalidPriority(99))
    );
    assert_eq!(
        sched.set_priority(PipeId(7), 1, now),
        Err(SchedError::UnknownPipe(PipeId(7)))
    );
    let huge = PipeId(usize::MAX);
    assert_eq!(
        sched.join(huge, 1, now),
        Err(SchedError::PipeIdTooLarge(huge))
    );
    sched.join(PipeId(MAX_PIPE_ID + 1), 1, now).unwrap_err();
    // Unknown ids are ignored by the infallible calls.
    sched.set_state(huge, PipeState::Ready, now);
    sched.leave(huge, now);
    assert_eq!(sched.picks(huge), 0);
    assert_eq!(sched.pick(now), None);
    // A pipe may leave and join again under the same id.
    sched.leave(PipeId(0), now);
    sched.join(PipeId(0), 3, now).unwrap();
    assert_eq!(sched.priority(PipeId(0)), Some(3));
    assert!(
        SchedError::InvalidPriority(0)
            .to_string()
            .contains("1..=16")
    );

    let mut fq = FairQueue::new();
    assert_eq!(fq.join(PipeId(0), 0), Err(SchedError::InvalidPriority(0)));
    assert_eq!(fq.join(huge, 1), Err(SchedError::PipeIdTooLarge(huge)));
    fq.join(PipeId(0), 1).unwrap();
    assert_eq!(
        fq.join(PipeId(0), 1),
        Err(SchedError::DuplicatePipe(PipeId(0)))
    );
    assert_eq!(
        fq.set_priority(PipeId(1), 1),
        Err(SchedError::UnknownPipe(PipeId(1)))
    );
    fq.set_readable(huge, true);
    assert!(!fq.has_input());
}

#[test]
fn fair_queue_reads_preferred_tier_first_and_rotates() {
    let mut fq = FairQueue::new();
    for (id, prio) in [(0, 2), (1, 1), (2, 1), (3, 2)] {
        fq.join(PipeId(id), prio).unwrap();
    }
    assert_eq!(fq.next(), None);
    for id in 0..4 {
        fq.set_readable(PipeId(id), true);
    }
    let seq: Vec<usize> = (0..4).map(|_| fq.next().unwrap().0).collect();
    assert_eq!(seq, [1, 2, 1, 2]);
    // Tier 1 runs dry: tier 2 is read, round-robin.
    fq.set_readable(PipeId(1), false);
    fq.leave(PipeId(2));
    let seq: Vec<usize> = (0..4).map(|_| fq.next().unwrap().0).collect();
    assert_eq!(seq, [0, 3, 0, 3]);
    // Input on a preferred pipe is read next.
    fq.set_readable(PipeId(1), true);
    assert_eq!(fq.next(), Some(PipeId(1)));
    fq.set_priority(PipeId(1), 3).unwrap();
    assert_eq!(fq.next().map(|id| id.0 % 3), Some(0));
    assert!(fq.has_input());
}

#[test]
fn an_overflowing_failback_delay_means_never_by_time() {
    let t0 = Instant::now();
    let (primary, backup) = (PipeId(0), PipeId(1));
    let mut sched = Scheduler::new();
    sched.set_failback_delay(Duration::MAX);
    ready_pipes(&mut sched, &[(0, 1), (1, 2)], t0);
    sched.set_state(primary, PipeState::Busy, t0);
    sched.set_state(primary, PipeState::Ready, t0);
    assert!(sched.is_waiting(primary));
    assert_eq!(sched.poll_timeout(), None);
    sched.handle_timeout(t0 + Duration::from_secs(86_400));
    assert_eq!(sched.pick(t0 + Duration::from_secs(86_400)), Some(backup));
    // Still released as soon as nothing else can send.
    sched.leave(backup, t0);
    assert_eq!(sched.pick(t0), Some(primary));
}

// ------------------------------------------------------ proportional spillover

/// Picks `n` messages and counts them per tier (index = priority).
fn picks_per_tier(sched: &mut Scheduler, n: usize, now: Instant) -> [usize; 17] {
    let mut per_tier = [0; 17];
    for _ in 0..n {
        let id = sched.pick(now).expect("a pipe is ready");
        assert_eq!(sched.state(id), Some(PipeState::Ready));
        per_tier[usize::from(sched.priority(id).unwrap())] += 1;
    }
    per_tier
}

#[test]
fn spillover_passes_on_what_a_degraded_tier_cannot_take() {
    let now = Instant::now();
    let mut sched = Scheduler::new();
    // Ten peers in tier 1 (ids 0..10), two in tier 2 (ids 10, 11).
    let pipes: Vec<(usize, u8)> = (0..12).map(|i| (i, if i < 10 { 1 } else { 2 })).collect();
    ready_pipes(&mut sched, &pipes, now);
    sched.set_spillover(Some(Spillover::default()));
    assert_eq!(sched.spillover(), Some(Spillover::new(140)));

    // 8 of 10 ready: 8 × 1.4 = 112% -> capped at 100%, tier 1 keeps it all.
    sched.set_state(PipeId(0), PipeState::Busy, now);
    sched.set_state(PipeId(1), PipeState::Dead, now);
    assert_eq!((sched.load_share(1), sched.load_share(2)), (100, 0));
    let per_tier = picks_per_tier(&mut sched, 1000, now);
    assert_eq!((per_tier[1], per_tier[2]), (1000, 0));

    // 5 of 10 ready: 70% to tier 1, 30% to tier 2, exactly over 10 periods.
    for i in 2..5 {
        sched.set_state(PipeId(i), PipeState::Disconnected, now);
    }
    assert_eq!((sched.load_share(1), sched.load_share(2)), (70, 30));
    assert_eq!(sched.active_tier(), Some(1));
    let before: Vec<u64> = (0..12).map(|i| sched.picks(PipeId(i))).collect();
    let per_tier = picks_per_tier(&mut sched, 1000, now);
    assert_eq!((per_tier[1], per_tier[2]), (700, 300));
    // Round-robin within each tier: 140 for each of the five ready in tier
    // 1, 150 for each of the two in tier 2, none for the others.
    let got: Vec<u64> = (0..12)
        .map(|i| sched.picks(PipeId(i)) - before[i])
        .collect();
    assert_eq!(got, [0, 0, 0, 0, 0, 140, 140, 140, 140, 140, 150, 150]);

    // 7 of 10 ready: 98%, the 2% spread out rather than bunched.
    sched.set_state(PipeId(3), PipeState::Ready, now);
    sched.set_state(PipeId(4), PipeState::Ready, now);
    assert_eq!((sched.load_share(1), sched.load_share(2)), (98, 2));
    let mut spilled = Vec::new();
    for n in 0..100 {
        if sched.pick(now).unwrap().0 >= 10 {
            spilled.push(n);
        }
    }
    assert_eq!(spilled.len(), 2);
    assert!(spilled[1] - spilled[0] >= 40, "spilled at {spilled:?}");

    // Back to 8 ready: everything on tier 1 again, at once.
    sched.set_state(PipeId(0), PipeState::Ready, now);
    let per_tier = picks_per_tier(&mut sched, 100, now);
    assert_eq!((per_tier[1], per_tier[2]), (100, 0));
}

#[test]
fn spillover_normalises_when_every_tier_is_degraded() {
    let now = Instant::now();
    let mut sched = Scheduler::new();
    sched.set_spillover(Some(Spillover::default()));
    // Tier 1: 2 of 10 ready (health 28%); tier 3: 1 of 10 (14%); tier 2 has
    // no members at all.
    for i in 0..20 {
        sched
            .join(PipeId(i), if i < 10 { 1 } else { 3 }, now)
            .unwrap();
    }
    for i in [0, 1, 10] {
        sched.set_state(PipeId(i), PipeState::Ready, now);
    }
    // Total health 42%: 28/42 = 66%, 14/42 = 33%, 1% left to tier 1.
    assert_eq!(
        (1..=4).map(|p| sched.load_share(p)).collect::<Vec<_>>(),
        [67, 0, 33, 0]
    );
    let per_tier = picks_per_tier(&mut sched, 300, now);
    assert_eq!((per_tier[1], per_tier[3]), (201, 99));

    // Only tier 3 is left ready: it takes everything.
    sched.set_state(PipeId(0), PipeState::Busy, now);
    sched.set_state(PipeId(1), PipeState::Busy, now);
    assert_eq!((sched.load_share(1), sched.load_share(3)), (0, 100));
    assert_eq!(sched.active_tier(), Some(3));
    assert_eq!(sched.pick(now), Some(PipeId(10)));
    // Nothing ready: no shares, no pick.
    sched.set_state(PipeId(10), PipeState::Dead, now);
    assert_eq!(sched.pick(now), None);
    assert!((1..=16).all(|p| sched.load_share(p) == 0));
}

#[test]
fn spillover_is_off_by_default_and_can_be_switched() {
    let now = Instant::now();
    let mut sched = Scheduler::new();
    assert_eq!(sched.spillover(), None);
    ready_pipes(&mut sched, &[(0, 1), (1, 1), (2, 2)], now);
    sched.set_state(PipeId(1), PipeState::Busy, now);
    // Off: half of tier 1 is out, but the active tier takes everything.
    assert_eq!((sched.load_share(1), sched.load_share(2)), (100, 0));
    assert_eq!(picks_per_tier(&mut sched, 10, now)[1], 10);

    // On, with no overprovisioning: tier 1's health is 50%.
    sched.set_spillover(Some(Spillover::new(100)));
    assert_eq!((sched.load_share(1), sched.load_share(2)), (50, 50));
    let per_tier = picks_per_tier(&mut sched, 10, now);
    assert_eq!((per_tier[1], per_tier[2]), (5, 5));
    // Events and the active tier do not change with the mode.
    assert_eq!(sched.active_tier(), Some(1));
    assert_eq!(
        events(&mut sched),
        [TierEvent::Failback {
            from: None,
            to: Some(1)
        }]
    );

    // Off again: strict tiers.
    sched.set_spillover(None);
    assert_eq!(picks_per_tier(&mut sched, 10, now)[1], 10);
    assert_eq!(sched.load_share(0), 0);
    assert_eq!(sched.load_share(17), 0);
}

#[test]
fn spillover_counts_a_pipe_waiting_out_the_failback_delay_as_not_ready() {
    let t0 = Instant::now();
    let mut sched = Scheduler::new();
    sched.set_failback_delay(Duration::from_millis(10));
    sched.set_spillover(Some(Spillover::new(100)));
    ready_pipes(&mut sched, &[(0, 1), (1, 1), (2, 2)], t0);
    sched.set_state(PipeId(0), PipeState::Busy, t0);
    sched.set_state(PipeId(1), PipeState::Busy, t0);
    assert_eq!(sched.active_tier(), Some(2));
    // Pipe 0 comes back: a failback, so it waits; tier 1 is 0% healthy.
    sched.set_state(PipeId(0), PipeState::Ready, t0);
    assert!(sched.is_waiting(PipeId(0)));
    assert_eq!((sched.load_share(1), sched.load_share(2)), (0, 100));
    assert_eq!(sched.pick(t0), Some(PipeId(2)));
    // Once the delay is over it counts: 1 of 2 members ready, 50%.
    let t1 = t0 + Duration::from_millis(10);
    assert_eq!(sched.poll_timeout(), Some(t1));
    sched.handle_timeout(t1);
    assert_eq!((sched.load_share(1), sched.load_share(2)), (50, 50));
    let per_tier = picks_per_tier(&mut sched, 4, t1);
    assert_eq!((per_tier[1], per_tier[2]), (2, 2));
    // A member that leaves no longer counts: pipe 1 was busy, and with it
    // gone tier 1 is fully ready again.
    sched.leave(PipeId(1), t1);
    assert_eq!((sched.load_share(1), sched.load_share(2)), (100, 0));
}

// ------------------------------------------------------------ latency tiers

fn ms(n: f64) -> Duration {
    Duration::from_secs_f64(n / 1000.0)
}

/// Records one sample per pipe (id = index) and returns all changes.
fn round(lt: &mut LatencyTiers, rtts_ms: &[f64]) -> Vec<TierChange> {
    let mut changes = Vec::new();
    for (i, &rtt) in rtts_ms.iter().enumerate() {
        changes.extend(lt.record(PipeId(i), ms(rtt)).unwrap());
    }
    changes
}

fn tiers_of(lt: &LatencyTiers, n: usize) -> Vec<Option<u8>> {
    (0..n).map(|i| lt.tier(PipeId(i))).collect()
}

fn change(pipe: usize, from: Option<u8>, to: u8) -> TierChange {
    TierChange {
        pipe: PipeId(pipe),
        from,
        to,
    }
}

#[test]
fn latency_tiers_double_from_the_fastest() {
    let mut lt = LatencyTiers::new();
    assert_eq!(lt.config(), LatencyConfig::default());
    let changes = round(&mut lt, &[1.0, 1.5, 3.0, 10.0, 100.0]);
    // First samples: every pipe gets a tier, from none.
    assert_eq!(
        changes,
        [
            change(0, None, 1),
            change(1, None, 1),
            change(2, None, 2),
            change(3, None, 4),
            change(4, None, 7),
        ]
    );
    assert_eq!(lt.fastest(), Some(ms(1.0)));
    // Below the 1 ms floor, speed differences are not tiers.
    let mut lan = LatencyTiers::new();
    round(&mut lan, &[0.05, 0.4, 0.9]);
    assert_eq!(tiers_of(&lan, 3), [Some(1); 3]);
    // Without a floor they are.
    let mut exact = LatencyTiers::with_config(LatencyConfig {
        floor: Duration::ZERO,
        ..LatencyConfig::default()
    });
    round(&mut exact, &[0.05, 0.4, 0.9]);
    assert_eq!(tiers_of(&exact, 3), [Some(1), Some(3), Some(5)]);
}

#[test]
fn a_single_outlier_moves_no_pipe() {
    let mut lt = LatencyTiers::new();
    let steady = [1.0, 3.0, 10.0];
    round(&mut lt, &steady);
    let before = tiers_of(&lt, 3);
    // A 1 s outlier on the fastest pipe, then a 0 s one on the slowest,
    // each followed by normal samples.
    assert_eq!(lt.record(PipeId(0), ms(1000.0)).unwrap(), []);
    assert!(lt.smoothed_rtt(PipeId(0)).unwrap() > ms(100.0));
    for _ in 0..50 {
        assert_eq!(round(&mut lt, &steady), []);
    }
    assert_eq!(lt.record(PipeId(2), Duration::ZERO).unwrap(), []);
    for _ in 0..50 {
        assert_eq!(round(&mut lt, &steady), []);
    }
    assert_eq!(tiers_of(&lt, 3), before);
    assert_eq!(lt.settled_rtt(PipeId(0)), Some(ms(1.0)));
    // Two outliers in a row are still not enough with the default of 3.
    for _ in 0..2 {
        assert_eq!(lt.record(PipeId(1), ms(50.0)).unwrap(), []);
    }
    assert_eq!(round(&mut lt, &steady), []);
}

#[test]
fn a_lasting_change_moves_the_pipe_after_three_samples() {
    let mut lt = LatencyTiers::new();
    round(&mut lt, &[1.0, 1.0]);
    // Pipe 1 becomes 10 ms away: nothing for two samples, a move on the third.
    assert_eq!(lt.record(PipeId(1), ms(10.0)).unwrap(), []);
    assert_eq!(lt.record(PipeId(1), ms(10.0)).unwrap(), []);
    let moved = lt.record(PipeId(1), ms(10.0)).unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!((moved[0].pipe, moved[0].from), (PipeId(1), Some(1)));
    // It keeps following the smoothed round trip, in steps, up to tier 4.
    let mut path = vec![moved[0].to];
    for _ in 0..100 {
        for c in round(&mut lt, &[1.0, 10.0]) {
            assert_eq!(c.pipe, PipeId(1));
            assert!(c.to > *path.last().unwrap(), "moved back: {c:?}");
            path.push(c.to);
        }
    }
    assert_eq!(lt.tier(PipeId(1)), Some(4), "path {path:?}");
    // And comes back when the round trip does.
    for _ in 0..100 {
        round(&mut lt, &[1.0, 1.0]);
    }
    assert_eq!(lt.tier(PipeId(1)), Some(1));
}

#[test]
fn jitter_at_a_tier_boundary_does_not_flap() {
    let mut lt = LatencyTiers::new();
    round(&mut lt, &[1.0, 2.0]);
    assert_eq!(tiers_of(&lt, 2), [Some(1), Some(1)]);
    // Pipe 1 sits on the 2 ms boundary of tier 1: ±5% never moves it, and neither
    // does ±25% jitter that alternates sides.
    for i in 0..1000 {
        let rtt = if i % 2 == 0 { 1.9 } else { 2.1 };
        assert_eq!(round(&mut lt, &[1.0, rtt]), []);
    }
    for i in 0..1000 {
        let rtt = if i % 2 == 0 { 1.5 } else { 2.5 };
        assert_eq!(round(&mut lt, &[1.0, rtt]), []);
    }
}

#[test]
fn removing_the_fastest_pipe_retiers_the_rest() {
    let mut lt = LatencyTiers::new();
    round(&mut lt, &[1.0, 4.0, 8.0, 16.0]);
    assert_eq!(tiers_of(&lt, 4), [Some(1), Some(2), Some(3), Some(4)]);
    // Removing a pipe that is not the fastest changes nothing else.
    assert_eq!(lt.remove(PipeId(2)), []);
    assert_eq!(lt.tier(PipeId(2)), None);
    assert_eq!(lt.settled_rtt(PipeId(2)), None);
    // Removing the fastest makes pipe 1 the reference.
    assert_eq!(
        lt.remove(PipeId(0)),
        [change(1, Some(2), 1), change(3, Some(4), 2)]
    );
    assert_eq!(lt.fastest(), Some(ms(4.0)));
    // Unknown or removed pipes: nothing.
    assert_eq!(lt.remove(PipeId(0)), []);
    assert_eq!(lt.remove(PipeId(99)), []);
    // A pipe that comes back starts afresh.
    assert_eq!(lt.record(PipeId(0), ms(1.0)).unwrap().len(), 3);
    assert_eq!(tiers_of(&lt, 4), [Some(1), Some(2), None, Some(4)]);
    lt.remove(PipeId(0));
    lt.remove(PipeId(1));
    lt.remove(PipeId(3));
    assert_eq!(lt.fastest(), None);
}

#[test]
fn latency_tiers_config_and_errors() {
    let lt = LatencyTiers::with_config(LatencyConfig {
        factor_percent: 50,
        samples: 0,
        ..LatencyConfig::default()
    });
    assert_eq!((lt.config().factor_percent, lt.config().samples), (101, 1));
    // With a single sample needed, one outlier does move a pipe.
    let mut lt = lt;
    round(&mut lt, &[1.0, 1.0]);
    assert_eq!(
        lt.record(PipeId(1), ms(100.0)).unwrap().len(),
        1,
        "samples = 1 is undamped"
    );
    let mut lt = LatencyTiers::new();
    let too_large = PipeId(MAX_PIPE_ID + 1);
    assert_eq!(
        lt.record(too_large, ms(1.0)),
        Err(SchedError::PipeIdTooLarge(too_large))
    );
    assert_eq!(lt.fastest(), None);
}

#[test]
fn latency_tier_changes_drive_the_scheduler() {
    let now = Instant::now();
    let mut sched = Scheduler::new();
    let mut lt = LatencyTiers::new();
    ready_pipes(&mut sched, &[(0, 8), (1, 8)], now);
    let apply = |sched: &mut Scheduler, changes: Vec<TierChange>| {
        for c in changes {
            sched.set_priority(c.pipe, c.to, now).unwrap();
        }
    };
    apply(&mut sched, round(&mut lt, &[1.0, 20.0]));
    assert_eq!(
        (sched.priority(PipeId(0)), sched.priority(PipeId(1))),
        (Some(1), Some(5))
    );
    assert_eq!(sched.pick(now), Some(PipeId(0)));
    // Pipe 0's path gets slow for good: after a few heartbeats pipe 1 is
    // the fastest, in tier 1, and takes the traffic.
    for _ in 0..60 {
        apply(&mut sched, round(&mut lt, &[50.0, 20.0]));
    }
    assert_eq!(sched.priority(PipeId(1)), Some(1));
    assert!(sched.priority(PipeId(0)) > Some(1));
    assert_eq!(sched.pick(now), Some(PipeId(1)));
}

#[test]
fn spillover_counts_absent_members_of_a_tier() {
    let now = Instant::now();
    let mut sched = Scheduler::new();
    // Ten peers expected in tier 1; five left for good (they are no longer
    // joined), two in tier 2.
    let pipes: Vec<(usize, u8)> = (0..12).map(|i| (i, if i < 10 { 1 } else { 2 })).collect();
    ready_pipes(&mut sched, &pipes, now);
    sched.set_spillover(Some(Spillover::default()));
    for i in 0..5 {
        sched.leave(PipeId(i), now);
    }
    // Joined members alone say tier 1 is healthy.
    assert_eq!((sched.load_share(1), sched.load_share(2)), (100, 0));
    // Counting the five absent ones: 5 of 10 ready, 70/30.
    sched.set_absent(1, 5).unwrap();
    assert_eq!((sched.load_share(1), sched.load_share(2)), (70, 30));
    let per_tier = picks_per_tier(&mut sched, 1000, now);
    assert_eq!((per_tier[1], per_tier[2]), (700, 300));
    // Absent members never make a tier get traffic, nor change the default mode.
    sched.set_absent(3, 4).unwrap();
    assert_eq!(sched.load_share(3), 0);
    assert_eq!(
        sched.set_absent(0, 1),
        Err(tiermq_sched::SchedError::InvalidPriority(0))
    );
    sched.set_spillover(None);
    assert_eq!((sched.load_share(1), sched.load_share(2)), (100, 0));
}
