//! `tiermq demo hot-standby`: two PUB publishers (priorities 1 and 2) and a
//! hot-standby SUB (`set_sub_failover`) on loopback tcp, as publishers are
//! killed and revived, with a row per second of what was delivered from
//! whom, the tier events, and a final check that nothing was delivered from
//! a publisher outside the active tier.
//!
//! The check judges each message against the active tier the application
//! learnt from the failover and failback events. A message received while
//! an event was pending (taken just after it) is not judged: it may have
//! been delivered either side of the switch.

use std::time::{Duration, Instant};

use tiermq::{Context, Error, SUB, Socket, TierEvent};

use super::publisher::{Order, Publisher};
use super::table::{Cell, Screen, Tone};
use super::worker::Status;
use crate::args::DemoArgs;
use crate::error::{CliError, CliResult, describe};
use crate::stats::describe_event;

/// The phases, each an equal share of the show; the action starts it.
const PHASES: [&str; 6] = [
    "both publishers up: the subscriber delivers the primary's messages and discards the backup's",
    "the primary is killed",
    "the primary is revived on its port",
    "both publishers are killed",
    "both publishers are revived on their ports",
    "steady state",
];

const PRIMARY: usize = 0;
const BACKUP: usize = 1;

/// How long the subscriber's receive waits before the loop looks around.
const POLL_MS: i32 = 10;

/// The longest the demo waits for the subscriber to reach the primary.
const WAIT: Duration = Duration::from_secs(10);

/// Runs the scene; `Err` if a step failed or the check did.
pub(crate) fn run(args: DemoArgs) -> CliResult<()> {
    let ctx = Context::new();
    let publishers = vec![
        Publisher::start(&ctx, "primary", 1, args.rate)?,
        Publisher::start(&ctx, "backup", 2, args.rate)?,
    ];
    let sub = open_sub(&ctx, &publishers)?;
    let mut scene = Scene {
        sub,
        publishers,
        screen: Screen::new(),
        args,
        start: Instant::now(),
        active: None,
        delivered: [0; 2],
        last_totals: [0; 2],
        outside: 0,
        failovers: 0,
        failbacks: 0,
    };
    let result = scene.show();
    let Scene {
        sub,
        publishers,
        mut screen,
        delivered,
        outside,
        failovers,
        failbacks,
        ..
    } = scene;
    drop(sub);
    for p in publishers {
        p.finish()?;
    }
    result?;
    screen.line(
        &format!(
            "delivered: primary {}, backup {}; {failovers} failovers and {failbacks} failbacks, \
             with no help from the application",
            delivered[PRIMARY], delivered[BACKUP]
        ),
        Tone::Plain,
    );
    if outside > 0 {
        return Err(CliError::runtime(format!(
            "the hot-standby check failed: {outside} messages were delivered from a publisher \
             outside the active tier"
        )));
    }
    screen.line(
        "no message was delivered from a publisher outside the active tier",
        Tone::Failback,
    );
    Ok(())
}

/// The hot-standby SUB, subscribed to everything, connected to each
/// publisher with its tier as priority.
fn open_sub(ctx: &Context, publishers: &[Publisher]) -> CliResult<Socket> {
    let fail = |what: &str, e: Error| CliError::runtime(format!("{what}: {}", describe(e)));
    let sub = ctx
        .socket(SUB)
        .map_err(|e| fail("cannot create the SUB socket", e))?;
    sub.set_sub_failover(true)
        .and_then(|()| sub.set_subscribe(b""))
        .and_then(|()| sub.set_reconnect_ivl(50))
        .and_then(|()| sub.set_heartbeat_ivl(100))
        .and_then(|()| sub.set_heartbeat_timeout(300))
        .and_then(|()| sub.set_rcvtimeo(POLL_MS))
        .map_err(|e| fail("cannot set the SUB's options", e))?;
    for p in publishers {
        let prio = i32::from(p.tier);
        sub.set_rcvprio(prio)
            .and_then(|()| sub.set_sndprio(prio))
            .and_then(|()| sub.connect(&p.endpoint))
            .map_err(|e| fail(&format!("cannot connect to {}", p.endpoint), e))?;
    }
    Ok(sub)
}

struct Scene {
    sub: Socket,
    publishers: Vec<Publisher>,
    screen: Screen,
    args: DemoArgs,
    start: Instant,
    /// The active tier as the events told it.
    active: Option<u8>,
    /// Messages delivered from each publisher.
    delivered: [usize; 2],
    /// Each publisher's total at the last finished row.
    last_totals: [usize; 2],
    /// Messages judged to come from outside the active tier.
    outside: usize,
    failovers: usize,
    failbacks: usize,
}

impl Scene {
    fn show(&mut self) -> CliResult<()> {
        self.reach_primary()?;
        self.screen.line(
            &format!(
                "tiermq demo hot-standby: two PUB publishers, {} msg/s each, and one SUB with \
                 SUB_FAILOVER on 127.0.0.1 (priority 1 is preferred)",
                self.args.rate
            ),
            Tone::Plain,
        );
        let names: Vec<(&str, u8)> = self.publishers.iter().map(|p| (p.name, p.tier)).collect();
        self.screen.header(&names);
        self.start = Instant::now();
        let phase_len = Duration::from_secs(u64::from(self.args.seconds)) / PHASES.len() as u32;
        let mut next_phase = 0usize;
        let mut second = 0u64;
        loop {
            let elapsed = self.start.elapsed();
            if elapsed >= Duration::from_secs(second + 1) {
                second += 1;
                self.print_row(second);
            }
            if next_phase < PHASES.len() && elapsed >= phase_len * next_phase as u32 {
                self.begin_phase(next_phase)?;
                next_phase += 1;
            }
            if elapsed >= phase_len * PHASES.len() as u32 {
                break;
            }
            self.receive()?;
        }
        if self.delivered != self.last_totals {
            self.print_row(second + 1);
        }
        Ok(())
    }

    /// Waits until the primary's messages are delivered, so the show starts
    /// from the steady state (the backup may have connected first).
    fn reach_primary(&mut self) -> CliResult<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            if Instant::now() >= deadline {
                return Err(CliError::runtime(
                    "the demo's subscriber got nothing from the primary within 10 s",
                ));
            }
            if let Some(msg) = self.recv()?
                && msg.starts_with(self.publishers[PRIMARY].name.as_bytes())
            {
                // The moves that led here are the setup, not the show.
                self.sub.take_tier_events();
                self.active = Some(self.publishers[PRIMARY].tier);
                return Ok(());
            }
        }
    }

    fn begin_phase(&mut self, phase: usize) -> CliResult<()> {
        // Each phase starts from where the last one was bound to lead, so a
        // slow machine shortens phases instead of skipping a switch.
        let (primary, backup) = (self.publishers[PRIMARY].tier, self.publishers[BACKUP].tier);
        match phase {
            1 | 3 | 5 => self.settle(Some(primary))?,
            2 => self.settle(Some(backup))?,
            4 => self.settle(None)?,
            _ => {}
        }
        let at = self.start.elapsed();
        self.screen.event(
            at,
            &format!(">> phase {}: {}", phase + 1, PHASES[phase]),
            Tone::Narration,
        );
        match phase {
            1 => self.publishers[PRIMARY].order(Order::Kill),
            2 => self.publishers[PRIMARY].order(Order::Revive),
            3 => self
                .publishers
                .iter()
                .try_for_each(|p| p.order(Order::Kill)),
            4 => self
                .publishers
                .iter()
                .try_for_each(|p| p.order(Order::Revive)),
            _ => Ok(()),
        }
    }

    /// Receives until the events say `tier` is active.
    fn settle(&mut self, tier: Option<u8>) -> CliResult<()> {
        let deadline = Instant::now() + WAIT;
        while self.active != tier {
            if Instant::now() >= deadline {
                let tier = tier.map_or_else(|| "none".to_owned(), |t| format!("tier {t}"));
                return Err(CliError::runtime(format!(
                    "the demo gave up waiting 10 s for the subscriber to switch to {tier}"
                )));
            }
            self.receive()?;
        }
        Ok(())
    }

    /// One message, if it arrives within [`POLL_MS`].
    fn recv(&self) -> CliResult<Option<Vec<u8>>> {
        match self.sub.recv_bytes(0) {
            Ok(m) => Ok(Some(m)),
            Err(Error::EAGAIN) => Ok(None),
            Err(e) => Err(CliError::runtime(format!(
                "receive failed: {}",
                describe(e)
            ))),
        }
    }

    /// Receives one message (if any comes soon), counts it, judges it, and
    /// prints the tier events.
    fn receive(&mut self) -> CliResult<()> {
        self.take_events();
        let Some(msg) = self.recv()? else {
            return Ok(());
        };
        let from = self
            .publishers
            .iter()
            .position(|p| msg.starts_with(p.name.as_bytes()))
            .ok_or_else(|| CliError::runtime("a message from no known publisher"))?;
        self.delivered[from] += 1;
        // Judged only if no switch happened around its delivery.
        if !self.take_events() && self.active != Some(self.publishers[from].tier) {
            self.outside += 1;
        }
        Ok(())
    }

    /// Prints the tier events since the last call and follows the active
    /// tier; whether there were any.
    fn take_events(&mut self) -> bool {
        let events = self.sub.take_tier_events();
        for &e in &events {
            let (to, tone) = match e {
                TierEvent::Failover { to, .. } => {
                    self.failovers += 1;
                    (to, Tone::Failover)
                }
                TierEvent::Failback { to, .. } => {
                    self.failbacks += 1;
                    (to, Tone::Failback)
                }
            };
            self.active = to;
            let at = self.start.elapsed();
            self.screen.event(at, &describe_event(e), tone);
        }
        !events.is_empty()
    }

    fn print_row(&mut self, second: u64) {
        let cells: Vec<Cell> = self
            .publishers
            .iter()
            .zip(self.delivered.iter().zip(&self.last_totals))
            .map(|(p, (&total, &last))| Cell {
                rate: total - last,
                total,
                status: if p.is_up() {
                    Status::Running
                } else {
                    Status::Killed
                },
            })
            .collect();
        self.last_totals = self.delivered;
        self.screen.row(second, &cells, self.active, true);
    }
}
