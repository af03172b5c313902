//! The async part of `cargo xtask bench` (alone: `cargo xtask bench
//! --async`): tiermq's async API (`AsyncSocket`) against the async-first
//! peers, zmq.rs and omq, each end in its own process and every library on
//! the same tokio flavours (current-thread and multi-thread; the better one
//! counts for each library). PUSH→PULL throughput at 16 B and 4 KiB and the
//! 16 B REQ→REP round trip, over tcp and ipc. The sync tiermq row is run
//! beside them, to show what the async face costs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use super::{HWM, buf, median, rt_note, si, throughput_count};

const SIZES: [usize; 2] = [16, 4096];
const TRANSPORTS: [&str; 2] = ["tcp", "ipc"];
const RTT_SIZE: usize = 16;
/// The libraries, as `tiermq-bench` names them; each on both runtimes
/// except sync tiermq.
const LIBS: [&str; 4] = ["tiermq-async", "zeromq", "omq", "tiermq"];
const RUNTIMES: [&str; 2] = ["current", "multi"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Case {
    /// REQ→REP round trips; otherwise PUSH→PULL throughput.
    rtt: bool,
    transport: &'static str,
    size: usize,
    lib: &'static str,
    runtime: &'static str,
    count: u64,
}

fn cases(quick: bool) -> Vec<Case> {
    let scale = if quick { 4 } else { 1 };
    let mut out = Vec::new();
    for transport in TRANSPORTS {
        for lib in LIBS {
            let runtimes: &[&str] = if lib == "tiermq" {
                &["current"]
            } else {
                &RUNTIMES
            };
            for &runtime in runtimes {
                for size in SIZES {
                    // The async API runs tiermq's engine: its counts.
                    let as_lib = if lib == "tiermq-async" { "tiermq" } else { lib };
                    out.push(Case {
                        rtt: false,
                        transport,
                        size,
                        lib,
                        runtime,
                        count: throughput_count(size, transport, as_lib) / scale,
                    });
                }
                out.push(Case {
                    rtt: true,
                    transport,
                    size: RTT_SIZE,
                    lib,
                    runtime,
                    count: 10_000 / scale,
                });
            }
        }
    }
    out
}

fn command(bin: &Path, case: &Case, role: &str, endpoint: Option<&str>) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args([
        role,
        case.lib,
        case.transport,
        &case.size.to_string(),
        &case.count.to_string(),
        "--hwm",
        HWM,
        "--buf",
        buf(case.transport),
        "--runtime",
        case.runtime,
    ]);
    if let Some(ep) = endpoint {
        cmd.args(["--endpoint", ep]);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    cmd
}

/// Seconds per message (throughput) or per round trip.
fn run_case(bin: &Path, case: &Case) -> Result<f64, String> {
    super::time_pair(case.rtt, case.count, |role, ep| {
        command(bin, case, role, ep)
    })
}

fn describe(case: &Case) -> String {
    format!(
        "{} {} B {} {} ({})",
        if case.rtt { "REQ/REP" } else { "PUSH/PULL" },
        case.size,
        case.transport,
        case.lib,
        case.runtime
    )
}

/// The title of a report of the async part alone: when, which commit, and
/// how loaded the machine was at the end.
pub(super) fn title() -> String {
    super::part_title("async", "--async")
}

/// Runs every case `rounds` times, interleaved; returns the report section
/// and the CSV of single runs.
pub(super) fn run(bin: &Path, rounds: usize, quick: bool) -> (String, String) {
    let (results, csv) = super::run_interleaved(
        "bench-async",
        &cases(quick),
        rounds,
        "round,workload,transport,size,lib,runtime,count,secs_per_op",
        |c| run_case(bin, c),
        |c| {
            format!(
                "{},{},{},{},{},{}",
                if c.rtt { "reqrep" } else { "pushpull" },
                c.transport,
                c.size,
                c.lib,
                c.runtime,
                c.count
            )
        },
        describe,
    );
    (render(&results, rounds), csv)
}

/// The best median (seconds per operation) of `lib`'s runs in one cell,
/// with the runtime that won.
fn best(
    results: &BTreeMap<Case, Vec<f64>>,
    rtt: bool,
    transport: &str,
    size: usize,
    lib: &str,
) -> Option<(f64, &'static str)> {
    results
        .iter()
        .filter(|(c, _)| c.rtt == rtt && c.transport == transport && c.size == size && c.lib == lib)
        .filter_map(|(c, runs)| Some((median(&mut runs.clone())?, c.runtime)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

fn cell(rtt: bool, lib: &str, per: Option<(f64, &str)>) -> String {
    let note = |rt| {
        if lib == "tiermq" {
            ""
        } else {
            rt_note(Some(rt))
        }
    };
    match per {
        None => "—".into(),
        Some((per, rt)) if rtt => format!("{:.1}{}", per * 1e6, note(rt)),
        Some((per, rt)) => format!("{}{}", si(1.0 / per), note(rt)),
    }
}

/// tiermq-async's speed over the fastest async peer (above 1: faster).
fn speedup(ours: Option<f64>, peers: &[Option<f64>]) -> String {
    let best = peers.iter().flatten().copied().min_by(f64::total_cmp);
    match (ours, best) {
        (Some(o), Some(b)) => format!("{:.2}", b / o),
        _ => "—".into(),
    }
}

fn render(results: &BTreeMap<Case, Vec<f64>>, rounds: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n## Async: tiermq's AsyncSocket against zmq.rs and omq\n\n\
         Median of {rounds} interleaved run(s) per cell, each end in its own \
         process. Every async library runs on a tokio current-thread (ct) and a \
         multi-thread (mt) runtime; the better one counts. Sync tiermq for \
         reference. Speed-up: the fastest async peer's time per message or \
         round trip over tiermq-async's (the goal is 1.2 or more).\n\n\
         | workload | transport | size | tiermq async | zmq.rs | omq | tiermq sync | speed-up over best peer |\n\
         |---|---|---:|---:|---:|---:|---:|---:|"
    );
    let rows = SIZES
        .iter()
        .map(|&size| (false, size))
        .chain([(true, RTT_SIZE)]);
    for (rtt, size) in rows {
        for transport in TRANSPORTS {
            let per: Vec<_> = LIBS
                .iter()
                .map(|lib| best(results, rtt, transport, size, lib))
                .collect();
            let cells: Vec<String> = LIBS
                .iter()
                .zip(&per)
                .map(|(lib, p)| cell(rtt, lib, *p))
                .collect();
            let peers = [per[1].map(|p| p.0), per[2].map(|p| p.0)];
            let _ = writeln!(
                s,
                "| {} | {transport} | {size} | {} | {} |",
                if rtt {
                    "REQ→REP µs"
                } else {
                    "PUSH→PULL msg/s"
                },
                cells.join(" | "),
                speedup(per[0].map(|p| p.0), &peers)
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_async_library_runs_on_both_runtimes() {
        let all = cases(false);
        for lib in ["tiermq-async", "zeromq", "omq"] {
            for runtime in RUNTIMES {
                for rtt in [false, true] {
                    assert!(
                        all.iter()
                            .any(|c| c.lib == lib && c.runtime == runtime && c.rtt == rtt)
                    );
                }
            }
        }
        assert!(
            all.iter()
                .filter(|c| c.lib == "tiermq")
                .all(|c| c.runtime == "current")
        );
    }

    #[test]
    fn speedup_is_the_best_peer_over_ours() {
        assert_eq!(speedup(Some(1.0), &[Some(2.0), Some(1.5)]), "1.50");
        assert_eq!(speedup(None, &[Some(1.0)]), "—");
    }
}
