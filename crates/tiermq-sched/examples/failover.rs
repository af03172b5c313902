//! Prints a pick sequence through a failover and a failback.
//!
//! Run with `cargo run -p tiermq-sched --example failover`.

use std::time::{Duration, Instant};

use tiermq_sched::{PipeId, PipeState, SchedError, Scheduler};

const NAMES: [&str; 4] = ["primary", "local-a", "local-b", "remote"];

fn send(sched: &mut Scheduler, now: Instant, n: usize) {
    let picks: Vec<&str> = (0..n)
        .map(|_| {
            sched
                .pick(now)
                .map_or("(none: would block)", |id| NAMES[id.0])
        })
        .collect();
    println!("  picks: {}", picks.join(", "));
    while let Some(event) = sched.poll_event() {
        println!("  event: {event:?}");
    }
}

fn main() -> Result<(), SchedError> {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut sched = Scheduler::new();
    sched.set_failback_delay(Duration::from_millis(500));

    // Tier 1: the primary. Tier 2: two local workers. Tier 3: a remote one.
    for (id, prio) in [(0, 1), (1, 2), (2, 2), (3, 3)] {
        sched.join(PipeId(id), prio, t0)?;
        sched.set_state(PipeId(id), PipeState::Ready, t0);
    }
    println!("all ready (failback delay 500 ms):");
    send(&mut sched, t0, 3);

    println!("t=100ms primary busy (queue at its high-water mark):");
    sched.set_state(PipeId(0), PipeState::Busy, at(100));
    send(&mut sched, at(100), 4);

    println!("t=200ms both local workers disconnected:");
    sched.set_state(PipeId(1), PipeState::Disconnected, at(200));
    sched.set_state(PipeId(2), PipeState::Disconnected, at(200));
    send(&mut sched, at(200), 2);

    println!("t=300ms primary drained to its low-water mark (ready, waiting out the delay):");
    sched.set_state(PipeId(0), PipeState::Ready, at(300));
    send(&mut sched, at(300), 2);
    println!(
        "  next timeout: +{:?}",
        sched.poll_timeout().map(|t| t - t0)
    );

    println!("t=800ms the delay has passed:");
    sched.handle_timeout(at(800));
    send(&mut sched, at(800), 3);

    println!("t=900ms everything down:");
    for id in 0..4 {
        sched.set_state(PipeId(id), PipeState::Disconnected, at(900));
    }
    send(&mut sched, at(900), 1);

    println!("picks per pipe:");
    for (id, name) in NAMES.iter().enumerate() {
        println!("  {name}: {}", sched.picks(PipeId(id)));
    }
    Ok(())
}
