//! `tiermq demo`: a PUSH and four PULL workers on loopback tcp, put through
//! a stall, kills and revivals, with a live table and a final exactly-once
//! check. `tiermq demo hot-standby` is the other scene, in [`hot_standby`].
//!
//! The PUSH connects to each worker with its priority (primary 1, two
//! workers 2, backup 3), so a killed worker's port stays known: reviving it
//! binds a new socket there and the PUSH's own reconnect brings it back.
//!
//! Every message carries a sequence number; every worker records what it
//! read. A kill is arranged so nothing is in flight to the victim: the PUSH
//! pauses, the worker reads all it was handed, closes, and the PUSH resumes
//! once it has seen the disconnect. So the final check can demand exactly
//! once, with no exception for bytes that died in a kernel buffer.

mod hot_standby;
mod publisher;
mod table;
mod worker;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tiermq::{Context, DONTWAIT, Error, PUSH, PeerState, Socket, TierEvent};

use crate::args::{DemoArgs, Scene};
use crate::error::{CliError, CliResult, describe};
use crate::stats::describe_event;
use table::{Cell, Screen, Tone};
use worker::{KERNEL_BUF, Order, Worker};

/// The PUSH's SNDHWM: small, so a stalled worker turns busy quickly.
const SNDHWM: i32 = 100;
/// How often the sender wakes to send, and to look for events.
const TICK: Duration = Duration::from_millis(5);
/// How often a terminal's live row is redrawn.
const REDRAW: Duration = Duration::from_millis(250);
/// Event lines printed per second at most; the rest are counted.
const EVENTS_PER_SECOND: usize = 8;
/// The longest the demo waits for a connection, a drain or a disconnect.
const WAIT: Duration = Duration::from_secs(10);

/// The phases, each 1/8 of the show; the action starts it.
const PHASES: [&str; 8] = [
    "all load goes to the primary (tier 1)",
    "the primary stalls: it stops reading, so its queue fills and it turns busy",
    "the primary reads again",
    "the primary is killed",
    "both tier-2 workers are killed",
    "the tier-2 workers are revived on their ports; the PUSH reconnects",
    "the primary is revived on its port; the PUSH reconnects",
    "steady state",
];

const PRIMARY: usize = 0;
const TIER2: [usize; 2] = [1, 2];

/// Runs the demo's scene; `Err` if a step failed or its check did.
pub(crate) fn run(args: DemoArgs) -> CliResult<()> {
    match args.scene {
        Scene::Push => run_push(args),
        Scene::HotStandby => hot_standby::run(args),
    }
}

/// The push scene; `Err` if a step failed or the exactly-once check did.
fn run_push(args: DemoArgs) -> CliResult<()> {
    let ctx = Context::new();
    let specs: [(&'static str, u8); 4] = [
        ("primary", 1),
        ("worker-a", 2),
        ("worker-b", 2),
        ("backup", 3),
    ];
    let mut workers = Vec::new();
    for (name, tier) in specs {
        workers.push(Worker::start(&ctx, name, tier)?);
    }
    let push = open_push(&ctx, &workers)?;
    let mut demo = Demo {
        push,
        workers,
        screen: Screen::new(),
        args,
        start: Instant::now(),
        sent: 0,
        payload: vec![0u8; args.size],
        last_totals: vec![0; specs.len()],
        failovers: 0,
        failbacks: 0,
        shown_this_second: 0,
        hidden_this_second: 0,
    };
    let result = demo.show();
    // Let the workers go whatever happened, and collect what they read.
    let sent = demo.sent;
    let tier_moves = format!(
        "{} failovers and {} failbacks, with no help from the application",
        demo.failovers, demo.failbacks
    );
    let Demo {
        push,
        workers,
        mut screen,
        ..
    } = demo;
    let _ = push.set_linger(0);
    drop(push);
    let mut received = Vec::new();
    for w in workers {
        let name = w.name;
        let (seqs, error) = w.finish()?;
        if let Some(e) = error {
            return Err(CliError::runtime(format!("demo worker {name}: {e}")));
        }
        received.push((name, seqs));
    }
    result?;
    screen.line(&tier_moves, Tone::Plain);
    verdict(&mut screen, sent, &received)
}

/// The PUSH, connected to each worker with its tier as priority.
fn open_push(ctx: &Context, workers: &[Worker]) -> CliResult<Socket> {
    let fail = |what: &str, e: Error| CliError::runtime(format!("{what}: {}", describe(e)));
    let push = ctx
        .socket(PUSH)
        .map_err(|e| fail("cannot create the PUSH socket", e))?;
    push.set_sndhwm(SNDHWM)
        .and_then(|()| push.set_sndbuf(KERNEL_BUF))
        .and_then(|()| push.set_rcvbuf(KERNEL_BUF))
        .and_then(|()| push.set_reconnect_ivl(50))
        .map_err(|e| fail("cannot set the PUSH's options", e))?;
    for w in workers {
        push.set_sndprio(i32::from(w.tier))
            .and_then(|()| push.connect(&w.endpoint))
            .map_err(|e| fail(&format!("cannot connect to {}", w.endpoint), e))?;
    }
    Ok(push)
}

struct Demo {
    push: Socket,
    workers: Vec<Worker>,
    screen: Screen,
    args: DemoArgs,
    start: Instant,
    /// Messages sent: sequence numbers `0..sent`.
    sent: u64,
    payload: Vec<u8>,
    /// Each worker's total at the last finished row.
    last_totals: Vec<usize>,
    /// Tier events seen.
    failovers: usize,
    failbacks: usize,
    /// Event lines printed in the current second, and those left out.
    shown_this_second: usize,
    hidden_this_second: usize,
}

impl Demo {
    fn show(&mut self) -> CliResult<()> {
        let n = self.workers.len();
        let deadline = Instant::now() + WAIT;
        while self.ready_peers() < n {
            if Instant::now() >= deadline {
                return Err(CliError::runtime(
                    "the demo's workers did not connect within 10 s",
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // The first connection's "failback" from no tier is not news.
        self.push.take_tier_events();
        self.screen.line(
            &format!(
                "tiermq demo: one PUSH, {} msg/s of {} bytes, to four PULL workers on 127.0.0.1 \
                 (priority 1 is preferred; SNDHWM {SNDHWM})",
                self.args.rate, self.args.size
            ),
            Tone::Plain,
        );
        let names: Vec<(&str, u8)> = self.workers.iter().map(|w| (w.name, w.tier)).collect();
        self.screen.header(&names);
        self.start = Instant::now();
        let phase_len = Duration::from_secs(u64::from(self.args.seconds)) / 8;
        let mut next_phase = 0usize;
        let mut second = 0u64;
        let mut next_redraw = self.start;
        loop {
            let now = Instant::now();
            let elapsed = now - self.start;
            // The row of a finished second comes before what starts at its end.
            if elapsed >= Duration::from_secs(second + 1) {
                second += 1;
                self.print_row(second, true);
            } else if now >= next_redraw {
                next_redraw = now + REDRAW;
                self.print_row(second + 1, false);
            }
            if next_phase < PHASES.len() && elapsed >= phase_len * next_phase as u32 {
                self.begin_phase(next_phase)?;
                next_phase += 1;
            }
            if elapsed >= phase_len * 8 {
                break;
            }
            self.send_due(elapsed)?;
            self.print_events();
            std::thread::sleep(TICK);
        }
        self.print_events();
        let sent = self.sent;
        // If this gives up, the verdict below says how many are missing.
        let _ = self.wait_for("the workers to read every message", |d| {
            d.workers.iter().map(Worker::total).sum::<usize>() as u64 >= sent
        });
        if self
            .workers
            .iter()
            .zip(&self.last_totals)
            .any(|(w, &t)| w.total() != t)
        {
            self.print_row(second + 1, true);
        }
        Ok(())
    }

    fn at(&self) -> Duration {
        self.start.elapsed()
    }

    fn narrate(&mut self, text: &str) {
        let at = self.at();
        self.screen
            .event(at, &format!(">> {text}"), Tone::Narration);
    }

    fn begin_phase(&mut self, phase: usize) -> CliResult<()> {
        self.narrate(&format!("phase {}: {}", phase + 1, PHASES[phase]));
        match phase {
            1 => self.workers[PRIMARY].order(Order::Stall),
            2 => self.workers[PRIMARY].order(Order::Resume),
            3 => self.kill(&[PRIMARY]),
            4 => self.kill(&TIER2),
            5 => TIER2
                .iter()
                .try_for_each(|&i| self.workers[i].order(Order::Revive)),
            6 => self.workers[PRIMARY].order(Order::Revive),
            _ => Ok(()),
        }
    }

    /// Sends the messages due by `elapsed` at the configured rate, without
    /// blocking; a backlog (after a pause) is caught up a little each tick.
    fn send_due(&mut self, elapsed: Duration) -> CliResult<()> {
        let due = (elapsed.as_secs_f64() * f64::from(self.args.rate)) as u64;
        let burst = u64::from(self.args.rate / 20).max(1);
        let target = due.min(self.sent + burst);
        while self.sent < target {
            self.payload[..8].copy_from_slice(&self.sent.to_be_bytes());
            match self.push.send(self.payload.as_slice(), DONTWAIT) {
                Ok(()) => self.sent += 1,
                // No worker can take it now: try again next tick.
                Err(Error::EAGAIN) => break,
                Err(e) => {
                    return Err(CliError::runtime(format!("send failed: {}", describe(e))));
                }
            }
        }
        Ok(())
    }

    fn print_events(&mut self) {
        for e in self.push.take_tier_events() {
            let tone = match e {
                TierEvent::Failover { .. } => {
                    self.failovers += 1;
                    Tone::Failover
                }
                TierEvent::Failback { .. } => {
                    self.failbacks += 1;
                    Tone::Failback
                }
            };
            if self.shown_this_second < EVENTS_PER_SECOND {
                self.shown_this_second += 1;
                let at = self.at();
                self.screen.event(at, &describe_event(e), tone);
            } else {
                self.hidden_this_second += 1;
            }
        }
    }

    fn print_row(&mut self, second: u64, done: bool) {
        if done {
            if self.hidden_this_second > 0 {
                let at = self.at();
                let text = format!(
                    "... and {} more tier changes in this second (a busy peer at its HWM flaps)",
                    self.hidden_this_second
                );
                self.screen.event(at, &text, Tone::Plain);
            }
            self.shown_this_second = 0;
            self.hidden_this_second = 0;
        }
        let cells: Vec<Cell> = self
            .workers
            .iter()
            .zip(&self.last_totals)
            .map(|(w, &last)| {
                let total = w.total();
                Cell {
                    rate: total - last,
                    total,
                    status: w.status(),
                }
            })
            .collect();
        if done {
            for (last, c) in self.last_totals.iter_mut().zip(&cells) {
                *last = c.total;
            }
        }
        let tier = self.push.active_tier();
        self.screen.row(second, &cells, tier, done);
    }

    /// Peers of the PUSH that can take a message.
    fn ready_peers(&self) -> usize {
        self.push
            .peers()
            .iter()
            .filter(|p| p.state == PeerState::Ready)
            .count()
    }

    /// Messages the PUSH handed to `endpoint`'s connection and did not take
    /// back, and whether any are still queued on our side.
    fn handed_to(&self, endpoint: &str) -> (u64, bool) {
        let mut handed = 0;
        let mut queued = false;
        for p in self.push.peers().iter().filter(|p| p.endpoint == endpoint) {
            handed += p.sent.saturating_sub(p.rerouted);
            queued |= p.queued_out > 0;
        }
        (handed, queued)
    }

    /// Kills workers with nothing in flight to them: sending pauses (this
    /// thread is the sender), each victim reads everything it was handed,
    /// closes its socket, and sending resumes once the PUSH has seen every
    /// victim's disconnect.
    fn kill(&mut self, victims: &[usize]) -> CliResult<()> {
        self.wait_for("the victims to read what they were sent", |d| {
            victims.iter().all(|&i| {
                let w = &d.workers[i];
                let (handed, queued) = d.handed_to(&w.endpoint);
                !queued && w.this_life() >= handed
            })
        })?;
        for &i in victims {
            self.workers[i].order(Order::Kill)?;
        }
        // A connect stays listed while it reconnects; what matters is that
        // no live pipe (ready or busy) to a victim is left to send to.
        self.wait_for("the PUSH to see the disconnects", |d| {
            victims.iter().all(|&i| {
                let ep = &d.workers[i].endpoint;
                d.push.peers().iter().all(|p| {
                    &p.endpoint != ep || !matches!(p.state, PeerState::Ready | PeerState::Busy)
                })
            })
        })
    }

    /// Waits (printing events) until `done` holds, up to [`WAIT`].
    fn wait_for(&mut self, what: &str, mut done: impl FnMut(&Demo) -> bool) -> CliResult<()> {
        let deadline = Instant::now() + WAIT;
        while !done(self) {
            if Instant::now() >= deadline {
                return Err(CliError::runtime(format!(
                    "the demo gave up waiting {} s for {what}",
                    WAIT.as_secs()
                )));
            }
            self.print_events();
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }
}

/// The exactly-once check: the union of what the workers read must be
/// `0..sent`, with no number read twice.
fn verdict(screen: &mut Screen, sent: u64, received: &[(&str, Vec<u64>)]) -> CliResult<()> {
    let mut seen = BTreeSet::new();
    let mut duplicates = 0u64;
    let mut strays = 0u64;
    for (_, seqs) in received {
        for &s in seqs {
            if s >= sent {
                strays += 1;
            } else if !seen.insert(s) {
                duplicates += 1;
            }
        }
    }
    let lost = sent - seen.len() as u64;
    let split: Vec<String> = received
        .iter()
        .map(|(name, seqs)| format!("{name} {}", seqs.len()))
        .collect();
    screen.line(&format!("received: {}", split.join(", ")), Tone::Plain);
    if lost == 0 && duplicates == 0 && strays == 0 {
        screen.line(
            &format!(
                "sent {sent} messages; every one was received exactly once: no message lost, none duplicated"
            ),
            Tone::Failback,
        );
        Ok(())
    } else {
        Err(CliError::runtime(format!(
            "the exactly-once check failed: sent {sent}, lost {lost}, duplicated {duplicates}, unknown {strays}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_demands_exactly_once() {
        let mut screen = Screen::new();
        let ok = [("a", vec![0, 2]), ("b", vec![1, 3])];
        assert!(verdict(&mut screen, 4, &ok).is_ok());
        let lost = [("a", vec![0, 2]), ("b", vec![3])];
        let e = verdict(&mut screen, 4, &lost).unwrap_err();
        assert!(e.to_string().contains("lost 1"), "{e}");
        let twice = [("a", vec![0, 1]), ("b", vec![1])];
        let e = verdict(&mut screen, 2, &twice).unwrap_err();
        assert!(e.to_string().contains("duplicated 1"), "{e}");
        let stray = [("a", vec![0, 9])];
        let e = verdict(&mut screen, 1, &stray).unwrap_err();
        assert!(e.to_string().contains("unknown 1"), "{e}");
    }
}
