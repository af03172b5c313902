//! Cost of one pick (and of begin/end) with 1..1000 pipes over 1 or 16
//! tiers, steady or with churn (every 16th pick toggles a random pipe
//! busy/ready). The figures should not grow with the number of pipes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tiermq_sched::{PipeId, PipeState, Scheduler};

/// A scheduler with `pipes` ready pipes spread round-robin over `tiers` tiers.
fn scheduler(pipes: usize, tiers: usize, now: Instant) -> Scheduler {
    let mut sched = Scheduler::new();
    for i in 0..pipes {
        let prio = (i % tiers) as u8 + 1;
        sched.join(PipeId(i), prio, now).unwrap();
        sched.set_state(PipeId(i), PipeState::Ready, now);
    }
    sched
}

/// Toggles a pseudo-random pipe every 16th call.
struct Churn {
    rng: u64,
    count: u64,
    busy: Vec<bool>,
}

impl Churn {
    fn new(pipes: usize) -> Self {
        Churn {
            rng: 0x9E37_79B9_7F4A_7C15,
            count: 0,
            busy: vec![false; pipes],
        }
    }

    fn step(&mut self, sched: &mut Scheduler, now: Instant) {
        self.count += 1;
        if !self.count.is_multiple_of(16) {
            return;
        }
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let i = (self.rng % self.busy.len() as u64) as usize;
        self.busy[i] = !self.busy[i];
        let state = if self.busy[i] {
            PipeState::Busy
        } else {
            PipeState::Ready
        };
        sched.set_state(PipeId(i), state, now);
    }
}

fn bench_pick(c: &mut Criterion) {
    let now = Instant::now();
    for churn in [false, true] {
        let name = if churn { "pick_churn" } else { "pick" };
        let mut group = c.benchmark_group(name);
        for tiers in [1, 16] {
            for pipes in [1, 10, 100, 1000] {
                let id = BenchmarkId::new(format!("{tiers}_tiers"), pipes);
                group.bench_function(id, |b| {
                    let mut sched = scheduler(pipes, tiers, now);
                    let mut churner = Churn::new(pipes);
                    b.iter(|| {
                        if churn {
                            churner.step(&mut sched, now);
                        }
                        black_box(sched.pick(now))
                    });
                });
            }
        }
        group.finish();
    }
}

fn bench_begin_end(c: &mut Criterion) {
    let now = Instant::now();
    let mut group = c.benchmark_group("begin_end_churn");
    for pipes in [10, 1000] {
        group.bench_function(BenchmarkId::new("16_tiers", pipes), |b| {
            let mut sched = scheduler(pipes, 16, now);
            let mut churner = Churn::new(pipes);
            b.iter(|| {
                churner.step(&mut sched, now);
                let id = sched.begin(now);
                // A second frame of the same message.
                black_box(sched.begin(now));
                sched.end();
                black_box(id)
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    targets = bench_pick, bench_begin_end
}
criterion_main!(benches);
