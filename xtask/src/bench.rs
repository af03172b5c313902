//! `cargo xtask bench [--quick] [--pubsub | --hops | --curve]`: tiermq side
//! by side with libzmq, zmq.rs (`zeromq`), omq (`omq-tokio`) and rzmq
//! (`rzmq`, on tokio's sockets and on its io_uring backend), each end in
//! its own process, as users measure. `--pubsub` runs only the PUB→N SUB
//! cases; `--curve` only the CURVE part (below);
//! `--hops` only the rows issue 14 tracks: round trips (with the raw
//! ping-pong), 16 B throughput pinned and not, and the tiered PUSH;
//! `--async` only the async rows (below).
//!
//! It builds `tiermq-bench` (benches crate, `--features peers`) in release,
//! then runs every case three times, interleaved (round 1 of every case,
//! then round 2, ...), so a burst of load on this shared machine hits one
//! round of many cases rather than every round of one. Each cell is the
//! median of its rounds. The table goes to stdout and to
//! `<target dir>/bench-report.md`; every single run goes to
//! `<target dir>/bench-runs.csv`.
//!
//! The cases:
//! - PUSH→PULL throughput, 16 B to 64 KiB, over tcp and ipc for every
//!   library and inproc (one process, two threads) for tiermq and libzmq.
//!   The receiver times `count` messages after the first.
//! - the raw ceiling: one process writing 64 KiB and 256 KiB chunks to
//!   another over the same transport with the same buffers.
//! - REQ→REP mean round trip for 16 B over tcp and ipc, unpinned, with
//!   both processes pinned to CPU 0 (`taskset -c 0`) and split (REQ on
//!   CPU 0, REP on CPU 1), and inproc; beside
//!   it a raw 16-byte ping-pong between two processes (blocking write and
//!   read, no library) with the same transport and placement.
//! - 16 B throughput over tcp and ipc again with both processes on CPU 0.
//! - tiermq's tiered PUSH, 4 tiers × 8 peers against one peer (one
//!   process, tcp and inproc).
//! - every role's context switches over its timed part (getrusage), per
//!   message and per round trip, per process.
//! - PUB→N SUB throughput for N = 1, 4, 16 at 16 B, 256 B and 4 KiB over
//!   tcp and ipc: one publisher process, one subscriber process holding the
//!   N SUBs, credit-paced so nothing is dropped (see the benches crate's
//!   `pubsub` module). SNDHWM = RCVHWM = 10 000 there. These run in the
//!   first [`PUBSUB_ROUNDS`] rounds only, to keep the suite's time.
//!
//! - async (see `bench/async_rows.rs`): tiermq's `AsyncSocket` against
//!   zmq.rs and omq on the same tokio flavours, PUSH→PULL and REQ→REP over
//!   tcp and ipc, with sync tiermq beside them.
//! - CURVE (see `bench/curve.rs`): PUSH→PULL throughput and REQ→REP round
//!   trips over tcp under CURVE for tiermq, libzmq with CURVE (a C peer on
//!   the system's libzmq: `apt-get install libzmq3-dev`) and omq, with NULL
//!   in the same run. `--curve` runs only this part (five rounds).
//!
//! All ends get SNDHWM = RCVHWM = 1000 where the library has them, and the
//! same kernel buffers: 4 MiB on tcp (what zmq.rs sets on its own) and
//! 1 MiB on ipc (what omq sets on its own; zmq.rs keeps the kernel default
//! there, as it has no option for it). The Rust peers run on a tokio
//! current-thread and a multi-thread runtime, and the better one counts;
//! rzmq's two variants (`rzmq`, `rzmq-uring`) are two columns, and both
//! count towards the best peer. The async and CURVE parts leave rzmq out.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{cargo, root, step};

mod async_rows;
mod curve;

/// How long any one run may take before it is killed and counted as failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);

const SIZES: [usize; 4] = [16, 256, 4096, 65536];
const RAW_SIZES: [usize; 2] = [65536, 262144];
const HWM: &str = "1000";
/// The tiered shapes (tiers × peers per tier): one peer, a plain
/// round-robin over 8 (libzmq runs these two too), and 4 tiers of 8.
const TIERED: [(u8, usize); 3] = [(1, 1), (1, 8), (4, 8)];
/// HWM of [`Kind::TieredDeep`]: 32 pipes of it hold the whole run.
const DEEP_HWM: &str = "100000";

const PUBSUB_SIZES: [usize; 3] = [16, 256, 4096];
const PUBSUB_SUBS: [usize; 3] = [1, 4, 16];
/// HWM for PUB/SUB: high, so that the credit window (512) is what bounds
/// the queues.
const PUBSUB_HWM: &str = "10000";
/// Rounds the PUB/SUB cases take part in (of the three).
const PUBSUB_ROUNDS: usize = 2;

/// Messages delivered per PUB/SUB run, over all subscribers (each gets
/// `total / N`): about 0.2 to 0.5 s here.
fn pubsub_total(size: usize) -> u64 {
    match size {
        0..=64 => 1_000_000,
        65..=1024 => 500_000,
        _ => 100_000,
    }
}

/// Messages timed per throughput run: about 0.3 to 1 s each here. tiermq's
/// inproc pipes pass `Bytes` without copying, so its cost there does not
/// grow with the size and it needs the small-message count throughout.
fn throughput_count(size: usize, transport: &str, lib: &str) -> u64 {
    if transport == "inproc" && lib == "tiermq" {
        return 1_000_000;
    }
    match size {
        0..=64 => 1_000_000,
        65..=1024 => 500_000,
        1025..=16384 => 100_000,
        _ => 10_000,
    }
}

/// Kernel buffers every library gets (0: the kernel's default).
fn buf(transport: &str) -> &'static str {
    match transport {
        "tcp" => "4194304",
        "ipc" => "1048576",
        _ => "0",
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Throughput,
    Raw,
    Latency,
    /// Throughput at 64 KiB over tcp with a new buffer per message, for the
    /// peak RSS of both ends.
    Rss,
    /// PUB→N SUB throughput.
    PubSub,
    /// tiermq's tiered PUSH (one process): `Case::tiers` tiers × peers.
    Tiered,
    /// The same with SNDHWM = RCVHWM = [`DEEP_HWM`], so that the first tier
    /// never fills and nothing spills below it: what the tiers themselves
    /// cost (tcp, tiermq only).
    TieredDeep,
}

impl Kind {
    fn is_tiered(self) -> bool {
        matches!(self, Kind::Tiered | Kind::TieredDeep)
    }
}

/// One implementation as the report names it, with how to run it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Peer {
    lib: &'static str,
    /// tokio flavour for the async libraries.
    runtime: Option<&'static str>,
}

const TIERMQ: Peer = Peer {
    lib: "tiermq",
    runtime: None,
};
const LIBZMQ: Peer = Peer {
    lib: "libzmq",
    runtime: None,
};
const RAW: Peer = Peer {
    lib: "raw",
    runtime: None,
};

fn all_peers(transport: &str) -> Vec<Peer> {
    let mut peers = vec![TIERMQ, LIBZMQ];
    if transport != "inproc" {
        for lib in ["zeromq", "omq", "rzmq", "rzmq-uring"] {
            for runtime in ["current", "multi"] {
                peers.push(Peer {
                    lib,
                    runtime: Some(runtime),
                });
            }
        }
    }
    peers
}

/// The libraries of the report's columns; the first is ours. rzmq's two
/// variants (tokio's sockets, its io_uring backend) get a column each, so
/// both count towards the best peer.
const LIBS: [&str; 6] = ["tiermq", "libzmq", "zeromq", "omq", "rzmq", "rzmq-uring"];

/// The column headings of [`LIBS`], in the same order.
const LIB_TITLES: [&str; 6] = ["tiermq", "libzmq", "zmq.rs", "omq", "rzmq", "rzmq io_uring"];

/// The headings of the [`LIBS`] columns (`a | b | ...`) and their
/// alignment row cells (`---: | ...`), for a table's header.
fn lib_columns() -> (String, String) {
    (LIB_TITLES.join(" | "), ["---:"; LIBS.len()].join("|"))
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Case {
    kind: Kind,
    transport: &'static str,
    size: usize,
    cpus: Cpus,
    peer: Peer,
    count: u64,
    /// SUB sockets (PUB/SUB cases; 1 elsewhere).
    subs: usize,
    /// Tiers × peers per tier (tiered cases; 1 × 1 elsewhere).
    tiers: (u8, usize),
}

#[derive(Clone, Copy, Debug)]
struct Run {
    secs: f64,
    /// Messages the timed end counted (PUB/SUB: delivered over all SUBs).
    count: u64,
    /// PUB/SUB: data messages that never arrived.
    dropped: u64,
    /// PUB/SUB: the slowest SUB's own msg/s (first to last of its own).
    slowest: f64,
    /// Peak RSS (KiB) of the timed process and of its peer (0 if in-process).
    rss_timed: u64,
    rss_peer: u64,
    /// Context switches (voluntary, involuntary) over the timed part, of
    /// the timed process and of its peer, where the roles reported them.
    csw_timed: Option<(u64, u64)>,
    csw_peer: Option<(u64, u64)>,
    /// Tiered (tiermq): the share of messages sent below the first tier.
    spilled: Option<f64>,
}

/// The PUB→N SUB cases.
fn pubsub_cases(quick: bool) -> Vec<Case> {
    let scale = if quick { 4 } else { 1 };
    let mut out = Vec::new();
    for size in PUBSUB_SIZES {
        for subs in PUBSUB_SUBS {
            for transport in ["tcp", "ipc"] {
                for peer in all_peers(transport) {
                    out.push(Case {
                        kind: Kind::PubSub,
                        transport,
                        size,
                        cpus: Cpus::Any,
                        peer,
                        count: pubsub_total(size) / subs as u64 / scale,
                        subs,
                        tiers: (1, 1),
                    });
                }
            }
        }
    }
    out
}

/// Whether `case` is one of the rows issue 14 tracks (`--hops`): round
/// trips, 16 B throughput (pinned and not) and the tiered PUSH.
fn is_hop_row(case: &Case) -> bool {
    match case.kind {
        Kind::Latency | Kind::Tiered | Kind::TieredDeep => true,
        Kind::Throughput => case.size == 16,
        Kind::Raw | Kind::Rss | Kind::PubSub => false,
    }
}

fn cases(quick: bool, pin: bool) -> Vec<Case> {
    let scale = if quick { 4 } else { 1 };
    let mut out = Vec::new();
    for size in SIZES {
        for transport in ["tcp", "ipc", "inproc"] {
            for peer in all_peers(transport) {
                out.push(Case {
                    kind: Kind::Throughput,
                    transport,
                    size,
                    cpus: Cpus::Any,
                    peer,
                    count: throughput_count(size, transport, peer.lib) / scale,
                    subs: 1,
                    tiers: (1, 1),
                });
            }
        }
    }
    // Both processes on one CPU: small messages, where per-message costs
    // and hand-offs between threads dominate.
    if pin {
        for transport in ["tcp", "ipc"] {
            for peer in all_peers(transport) {
                out.push(Case {
                    kind: Kind::Throughput,
                    transport,
                    size: 16,
                    cpus: Cpus::Same,
                    peer,
                    count: throughput_count(16, transport, peer.lib) / scale,
                    subs: 1,
                    tiers: (1, 1),
                });
            }
        }
    }
    // tiermq's own case: 4 tiers × 8 peers against one peer and against a
    // plain round-robin over 8; libzmq runs the one-tier shapes, so that the
    // cost of spreading a stream over 8 connections shows apart.
    for transport in ["tcp", "inproc"] {
        for tiers in TIERED {
            for peer in [TIERMQ, LIBZMQ] {
                if peer.lib == "libzmq" && tiers.0 > 1 {
                    continue;
                }
                out.push(Case {
                    kind: Kind::Tiered,
                    transport,
                    size: 16,
                    cpus: Cpus::Any,
                    peer,
                    count: 500_000 / scale,
                    subs: 1,
                    tiers,
                });
            }
        }
    }
    for tiers in TIERED {
        out.push(Case {
            kind: Kind::TieredDeep,
            transport: "tcp",
            size: 16,
            cpus: Cpus::Any,
            peer: TIERMQ,
            count: 500_000 / scale,
            subs: 1,
            tiers,
        });
    }
    for peer in all_peers("tcp") {
        out.push(Case {
            kind: Kind::Rss,
            transport: "tcp",
            size: 65536,
            cpus: Cpus::Any,
            peer,
            count: throughput_count(65536, "tcp", peer.lib) / scale,
            subs: 1,
            tiers: (1, 1),
        });
    }
    for size in RAW_SIZES {
        for transport in ["tcp", "ipc"] {
            out.push(Case {
                kind: Kind::Raw,
                transport,
                size,
                cpus: Cpus::Any,
                peer: RAW,
                count: (1_300_000_000 / size as u64) / scale,
                subs: 1,
                tiers: (1, 1),
            });
        }
    }
    for transport in ["tcp", "ipc", "inproc"] {
        for cpus in Cpus::ALL {
            if cpus != Cpus::Any && (!pin || transport == "inproc") {
                continue;
            }
            // The raw ping-pong: the floor under a round trip, with the
            // same placement.
            let raw = (transport != "inproc").then_some(RAW);
            for peer in all_peers(transport).into_iter().chain(raw) {
                out.push(Case {
                    kind: Kind::Latency,
                    transport,
                    size: 16,
                    cpus,
                    peer,
                    count: 10_000 / scale,
                    subs: 1,
                    tiers: (1, 1),
                });
            }
        }
    }
    out
}

/// `cargo xtask bench [--quick]`.
pub(crate) fn bench(args: &[String]) -> Result<(), &'static str> {
    let quick = args.iter().any(|a| a == "--quick");
    let only_pubsub = args.iter().any(|a| a == "--pubsub");
    let only_hops = args.iter().any(|a| a == "--hops");
    let rounds = match (quick, only_pubsub) {
        (true, _) => 1,
        (false, true) => PUBSUB_ROUNDS,
        (false, false) => 3,
    };

    let mut c = cargo();
    c.args([
        "build",
        "--release",
        "-p",
        "tiermq-benches",
        "--features",
        "peers",
        "--bin",
        "tiermq-bench",
    ]);
    step("bench-build", c)?;

    let target = target_dir();
    let bin = target.join("release").join("tiermq-bench");
    // The CURVE part runs alone (`--curve`) or after the full suite. Its C
    // peer is built first, so that a missing libzmq3-dev fails at once.
    let only_curve = args.iter().any(|a| a == "--curve");
    let only_async = args.iter().any(|a| a == "--async");
    if only_async {
        let (section, csv) = async_rows::run(&bin, rounds, quick);
        let report = async_rows::title() + &section;
        println!("{report}");
        return write_report(&target, "bench-async", &report, &csv);
    }
    let c_peer = if only_curve || !(only_pubsub || only_hops) {
        Some(curve::build_c_peer(&target)?)
    } else {
        None
    };
    let curve_bins = c_peer
        .as_deref()
        .map(|c_peer| curve::Bins { rust: &bin, c_peer });
    if let (true, Some(curve_bins)) = (only_curve, &curve_bins) {
        // Alone, the CURVE part takes about a minute a round: five rounds
        // make its medians steadier on this shared machine.
        let rounds = if quick { 1 } else { 5 };
        let (section, csv) = curve::run(curve_bins, rounds, quick);
        let report = curve::title() + &section;
        println!("{report}");
        return write_report(&target, "bench-curve", &report, &csv);
    }
    let pin = Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !pin {
        println!("==> [bench] taskset (util-linux) not found: pinned rows skipped");
    }

    let mut cases = if only_pubsub {
        Vec::new()
    } else {
        cases(quick, pin)
    };
    if only_hops {
        cases.retain(is_hop_row);
    } else {
        cases.extend(pubsub_cases(quick));
    }
    println!(
        "\n==> [bench] {} cases x {rounds} round(s), interleaved (PUB/SUB in {} of them)",
        cases.len(),
        rounds.min(PUBSUB_ROUNDS)
    );
    let start = Instant::now();
    let mut results: BTreeMap<Case, Vec<Run>> = BTreeMap::new();
    let mut csv = String::from(
        "round,kind,transport,size,cpus,lib,runtime,subs,tiers,count,secs,dropped,slowest_sub_msg_s,rss_timed_kib,rss_peer_kib,vcsw_timed,ivcsw_timed,vcsw_peer,ivcsw_peer,spilled\n",
    );
    for round in 1..=rounds {
        println!("==> [bench] round {round}/{rounds}");
        for case in &cases {
            if case.kind == Kind::PubSub && round > PUBSUB_ROUNDS {
                continue;
            }
            match run_case(&bin, case) {
                Ok(run) => {
                    let csw = |c: Option<(u64, u64)>| {
                        c.map_or(",".to_string(), |(v, i)| format!("{v},{i}"))
                    };
                    csv.push_str(&format!(
                        "{round},{:?},{},{},{},{},{},{},{}x{},{},{:.6},{},{:.0},{},{},{},{},{}\n",
                        case.kind,
                        case.transport,
                        case.size,
                        case.cpus.name(),
                        case.peer.lib,
                        case.peer.runtime.unwrap_or(""),
                        case.subs,
                        case.tiers.0,
                        case.tiers.1,
                        run.count,
                        run.secs,
                        run.dropped,
                        run.slowest,
                        run.rss_timed,
                        run.rss_peer,
                        csw(run.csw_timed),
                        csw(run.csw_peer),
                        run.spilled.map_or(String::new(), |x| format!("{x:.4}"))
                    ));
                    results.entry(case.clone()).or_default().push(run);
                }
                Err(e) => eprintln!("    FAILED {}: {e}", describe(case)),
            }
        }
    }
    println!("==> [bench] ran in {:.0}s", start.elapsed().as_secs_f64());

    let mut report = if only_pubsub {
        header(rounds)
    } else {
        render(&results, rounds, pin)
    };
    if !only_hops {
        report.push_str(&render_pubsub(&results, rounds.min(PUBSUB_ROUNDS)));
    }
    if !(only_pubsub || only_hops) {
        let (async_report, async_csv) = async_rows::run(&bin, rounds, quick);
        write_report(&target, "bench-async", &async_report, &async_csv)?;
        report.push_str(&async_report);
    }
    println!("\n{report}");
    // The CURVE part last, in rounds of its own (see `bench/curve.rs`).
    if let Some(curve_bins) = &curve_bins {
        let (curve_report, curve_csv) = curve::run(curve_bins, rounds, quick);
        println!("{curve_report}");
        write_report(&target, "bench-curve", &curve_report, &curve_csv)?;
        report.push_str(&curve_report);
    }
    write_report(&target, "bench", &report, &csv)
}

/// Writes `<target>/<name>-report.md` and `<target>/<name>-runs.csv`.
fn write_report(target: &Path, name: &str, report: &str, csv: &str) -> Result<(), &'static str> {
    let md = target.join(format!("{name}-report.md"));
    let runs = target.join(format!("{name}-runs.csv"));
    let written = std::fs::write(&md, report).and_then(|()| std::fs::write(&runs, csv));
    match written {
        Ok(()) => {
            println!("==> [bench] wrote {} and {}", md.display(), runs.display());
            Ok(())
        }
        Err(e) => {
            eprintln!("xtask: could not write the report: {e}");
            Err("bench-report")
        }
    }
}

/// `$CARGO_TARGET_DIR` (relative to the workspace root) or `target/`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

fn describe(case: &Case) -> String {
    format!(
        "{:?} {} {} B{} {}{}{}",
        case.kind,
        case.transport,
        case.size,
        if case.kind == Kind::PubSub {
            format!(" x{}", case.subs)
        } else {
            String::new()
        },
        case.peer.lib,
        case.peer
            .runtime
            .map(|r| format!("/{r}"))
            .unwrap_or_default(),
        match case.cpus {
            Cpus::Any => "",
            Cpus::Same => " pinned",
            Cpus::Split => " split",
        }
    ) + &if case.kind.is_tiered() {
        format!(
            " {}x{}{}",
            case.tiers.0,
            case.tiers.1,
            if case.kind == Kind::TieredDeep {
                " deep"
            } else {
                ""
            }
        )
    } else {
        String::new()
    }
}

/// The command for one role of `case`, pinned as the case says: both
/// roles on CPU 0, or (split) the connecting role on CPU 0 and the binding
/// one on CPU 1.
fn role(bin: &Path, case: &Case, role: &str, endpoint: Option<&str>) -> Command {
    let cpu = match case.cpus {
        Cpus::Any => None,
        Cpus::Same => Some("0"),
        Cpus::Split if endpoint.is_none() => Some("1"),
        Cpus::Split => Some("0"),
    };
    let mut cmd = if let Some(cpu) = cpu {
        let mut c = Command::new("taskset");
        c.args(["-c", cpu]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.args([
        role,
        case.peer.lib,
        case.transport,
        &case.size.to_string(),
        &case.count.to_string(),
        "--hwm",
        match case.kind {
            Kind::PubSub => PUBSUB_HWM,
            Kind::TieredDeep => DEEP_HWM,
            _ => HWM,
        },
        "--buf",
        buf(case.transport),
        "--runtime",
        case.peer.runtime.unwrap_or("current"),
    ]);
    if let Some(ep) = endpoint {
        // `pub` announces its control link after the endpoint.
        let mut words = ep.split_whitespace();
        if let Some(ep) = words.next() {
            cmd.args(["--endpoint", ep]);
        }
        if let Some(control) = words.next() {
            cmd.args(["--control", control]);
        }
    }
    if role == "sub" {
        cmd.args(["--subs", &case.subs.to_string()]);
    }
    if role == "tiered" {
        cmd.args(["--tiers", &format!("{}x{}", case.tiers.0, case.tiers.1)]);
    }
    if case.kind == Kind::Rss {
        cmd.arg("--fresh-payload");
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    cmd
}

/// A running role whose stdout lines arrive on a channel.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    fn spawn(mut cmd: Command) -> Result<Proc, String> {
        cmd.stdin(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Proc {
            child,
            stdin,
            lines,
        })
    }

    /// The next line starting with `tag`, before `deadline`.
    fn expect(&self, tag: &str, deadline: Instant) -> Result<String, String> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(tag) => return Ok(line),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!("no {tag} line in time"));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("exited without a {tag} line"));
                }
            }
        }
    }

    /// Closes stdin (the end of a holding role's run) and reaps it.
    fn finish(mut self, deadline: Instant) -> Option<String> {
        drop(self.stdin.take());
        let line = self.expect("PEER", deadline).ok();
        let _ = self.child.kill();
        let _ = self.child.wait();
        line
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Only our own children, by handle: a no-op for a reaped one.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one PUSH→PULL (or, with `rtt`, REQ→REP) pair made by `command`
/// (role, the binder's endpoint for the connecting role) and returns the
/// timed role's seconds per message or round trip over `count`.
fn time_pair(
    rtt: bool,
    count: u64,
    command: impl Fn(&str, Option<&str>) -> Command,
) -> Result<f64, String> {
    let deadline = Instant::now() + RUN_TIMEOUT;
    let (binder, connector) = if rtt {
        ("rep", "req")
    } else {
        ("pull", "push")
    };
    let b = Proc::spawn(command(binder, None))?;
    let ep_line = b.expect("ENDPOINT", deadline)?;
    let ep = ep_line.trim_start_matches("ENDPOINT").trim();
    let c = Proc::spawn(command(connector, Some(ep)))?;
    let (timed, holder) = if rtt { (c, b) } else { (b, c) };
    let result = timed.expect("RESULT", deadline);
    holder.finish(deadline);
    let secs = field(&result?, "secs").ok_or("no secs")?;
    Ok(secs / count as f64)
}

fn field(line: &str, key: &str) -> Option<f64> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// The `vcsw=` and `ivcsw=` fields of a RESULT or PEER line.
fn switches(line: &str) -> Option<(u64, u64)> {
    Some((field(line, "vcsw")? as u64, field(line, "ivcsw")? as u64))
}

fn run_case(bin: &Path, case: &Case) -> Result<Run, String> {
    let deadline = Instant::now() + RUN_TIMEOUT;
    let parse = |result: &str, peer: Option<&str>| -> Result<Run, String> {
        Ok(Run {
            secs: field(result, "secs").ok_or("no secs")?,
            count: field(result, "count").ok_or("no count")? as u64,
            dropped: field(result, "dropped").unwrap_or(0.0) as u64,
            slowest: field(result, "slowest").unwrap_or(0.0),
            rss_timed: field(result, "rss_kib").unwrap_or(0.0) as u64,
            rss_peer: peer.and_then(|l| field(l, "rss_kib")).unwrap_or(0.0) as u64,
            csw_timed: switches(result),
            csw_peer: peer.and_then(switches),
            spilled: field(result, "spilled"),
        })
    };
    if case.transport == "inproc" || case.kind.is_tiered() {
        let r = match case.kind {
            Kind::Tiered | Kind::TieredDeep => "tiered",
            Kind::Latency => "req-rep",
            _ => "push-pull",
        };
        let p = Proc::spawn(role(bin, case, r, None))?;
        let line = p.expect("RESULT", deadline)?;
        return parse(&line, None);
    }
    let (binder, connector) = match case.kind {
        Kind::Throughput | Kind::Rss => ("pull", "push"),
        Kind::PubSub => ("pub", "sub"),
        Kind::Raw => ("raw-reader", "raw-writer"),
        Kind::Latency if case.peer == RAW => ("raw-pong", "raw-ping"),
        Kind::Latency => ("rep", "req"),
        Kind::Tiered | Kind::TieredDeep => return Err("tiered runs in one process".into()),
    };
    let b = Proc::spawn(role(bin, case, binder, None))?;
    let ep_line = b.expect("ENDPOINT", deadline)?;
    let ep = ep_line.trim_start_matches("ENDPOINT").trim();
    let c = Proc::spawn(role(bin, case, connector, Some(ep)))?;
    // The receiver owns the clock in a throughput run, the REQ in a
    // latency run, the SUB side in a PUB/SUB run; the other one holds until
    // its stdin closes.
    let (timed, holder) = if matches!(case.kind, Kind::Latency | Kind::PubSub) {
        (c, b)
    } else {
        (b, c)
    };
    let result = timed.expect("RESULT", deadline);
    let peer = holder.finish(deadline);
    parse(&result?, peer.as_deref())
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// Median seconds of `case`'s runs.
fn median_secs(results: &BTreeMap<Case, Vec<Run>>, case: &Case) -> Option<f64> {
    let mut secs: Vec<f64> = results.get(case)?.iter().map(|r| r.secs).collect();
    median(&mut secs)
}

/// For one library in one cell: the best of its runtimes, as
/// (median seconds per message, runtime that won).
fn best_of_lib(
    results: &BTreeMap<Case, Vec<Run>>,
    kind: Kind,
    transport: &str,
    size: usize,
    cpus: Cpus,
    lib: &str,
) -> Option<(f64, Option<&'static str>)> {
    best_case(results, kind, transport, size, cpus, lib).map(|(c, per)| (per, c.peer.runtime))
}

/// For one library in one cell: the case of its fastest runtime, with its
/// median seconds per message.
fn best_case<'a>(
    results: &'a BTreeMap<Case, Vec<Run>>,
    kind: Kind,
    transport: &str,
    size: usize,
    cpus: Cpus,
    lib: &str,
) -> Option<(&'a Case, f64)> {
    results
        .keys()
        .filter(|c| {
            c.kind == kind
                && c.transport == transport
                && c.size == size
                && c.cpus == cpus
                && c.peer.lib == lib
        })
        .filter_map(|c| Some((c, median_secs(results, c)? / c.count as f64)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// Median context switches per message (or round trip) of `case`'s runs,
/// as ((voluntary, involuntary) of the timed process, the same of its
/// peer); `None` for a side that reported none.
type PerUnit = Option<(f64, f64)>;
fn switches_per_unit(results: &BTreeMap<Case, Vec<Run>>, case: &Case) -> (PerUnit, PerUnit) {
    let runs = results.get(case).map(Vec::as_slice).unwrap_or_default();
    let per = |pick: &dyn Fn(&Run) -> Option<(u64, u64)>| -> PerUnit {
        let mut v: Vec<f64> = Vec::new();
        let mut i: Vec<f64> = Vec::new();
        for r in runs {
            if let Some((vol, inv)) = pick(r) {
                v.push(vol as f64 / r.count.max(1) as f64);
                i.push(inv as f64 / r.count.max(1) as f64);
            }
        }
        Some((median(&mut v)?, median(&mut i)?))
    };
    (per(&|r| r.csw_timed), per(&|r| r.csw_peer))
}

/// One side's switches per `per` units as `voluntary+involuntary`.
fn csw_cell(side: PerUnit, per: f64) -> String {
    side.map_or("—".into(), |(v, i)| {
        format!("{:.2}+{:.2}", v * per, i * per)
    })
}

fn si(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2} G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// Keeps `lib`'s figure `x` as tiermq's (`ours`) or folds it into the best
/// peer's with `better` (`f64::max` for rates, `f64::min` for latencies).
fn record(
    lib: &str,
    x: f64,
    ours: &mut Option<f64>,
    best_peer: &mut Option<f64>,
    better: fn(f64, f64) -> f64,
) {
    if lib == "tiermq" {
        *ours = Some(x);
    } else {
        *best_peer = Some(best_peer.map_or(x, |b| better(b, x)));
    }
}

/// `num / den` to two places, or a dash when either was not measured.
fn ratio_cell(num: Option<f64>, den: Option<f64>) -> String {
    match (num, den) {
        (Some(n), Some(d)) => format!("{:.2}", n / d),
        _ => "—".into(),
    }
}

fn rt_note(runtime: Option<&str>) -> &'static str {
    match runtime {
        Some("multi") => " (mt)",
        Some(_) => " (ct)",
        None => "",
    }
}

fn shell(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

/// What every report's title says: when (UTC), which commit, and the load
/// average at the end of the run.
fn provenance() -> (String, String, String) {
    let date = shell("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let commit = shell(
        "git",
        &[
            "-C",
            &root().to_string_lossy(),
            "rev-parse",
            "--short",
            "HEAD",
        ],
    );
    // A tree exported without .git (to measure exactly a commit) has none.
    let commit = if commit == "?" {
        "unknown (not a git checkout)".to_string()
    } else {
        commit
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    (date, commit, load.join(" "))
}

/// The title of a report of one part alone (`--async`, `--curve`).
fn part_title(what: &str, flag: &str) -> String {
    let (date, commit, load) = provenance();
    format!(
        "# tiermq {what} side by side ({date}, commit {commit})\n\n\
         `cargo xtask bench {flag}`; load average at the end {load}.\n"
    )
}

/// Runs every case `rounds` times, interleaved, printing progress under
/// `tag`. Returns each case's seconds per operation, one per good run,
/// and the CSV (`csv_header`, then `round,` + `row(case)` + `,secs` per run).
fn run_interleaved<C: Ord + Copy>(
    tag: &str,
    cases: &[C],
    rounds: usize,
    csv_header: &str,
    run: impl Fn(&C) -> Result<f64, String>,
    row: impl Fn(&C) -> String,
    describe: impl Fn(&C) -> String,
) -> (BTreeMap<C, Vec<f64>>, String) {
    println!(
        "\n==> [{tag}] {} cases x {rounds} round(s), interleaved",
        cases.len()
    );
    let start = Instant::now();
    let mut results: BTreeMap<C, Vec<f64>> = BTreeMap::new();
    let mut csv = format!("{csv_header}\n");
    for round in 1..=rounds {
        println!("==> [{tag}] round {round}/{rounds}");
        for case in cases {
            match run(case) {
                Ok(per) => {
                    let _ = writeln!(csv, "{round},{},{per:.9}", row(case));
                    results.entry(*case).or_default().push(per);
                }
                Err(e) => eprintln!("    FAILED {}: {e}", describe(case)),
            }
        }
    }
    println!("==> [{tag}] ran in {:.0}s", start.elapsed().as_secs_f64());
    (results, csv)
}

/// The report's title and setting.
fn header(rounds: usize) -> String {
    let mut s = String::new();
    let (date, commit, load) = provenance();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(
        s,
        "# tiermq side by side ({date}, commit {commit})\n\n\
         `cargo xtask bench`; {cpus} × {cpu}; load average at the end {load}. \
         Median of {rounds} interleaved run(s) per cell; each end in its own \
         process (inproc: one process, two threads). SNDHWM = RCVHWM = 1000; \
         buffers 4 MiB on tcp, 1 MiB on ipc. Peers: libzmq via `zmq` 0.10, \
         zmq.rs = `zeromq` 0.7.0, omq = `omq-tokio` 0.33.0, rzmq = `rzmq` \
         0.5.28 on tokio's sockets and, as rzmq io_uring, on its io_uring \
         backend; (ct)/(mt): the tokio runtime that won, current-thread or \
         multi-thread.\n"
    );
    s
}

fn render(results: &BTreeMap<Case, Vec<Run>>, rounds: usize, pin: bool) -> String {
    let mut s = header(rounds);

    // Raw ceilings in MB/s, by transport (the better chunk size).
    let mut ceiling: BTreeMap<&str, f64> = BTreeMap::new();
    let has = |kind: Kind| results.keys().any(|c| c.kind == kind);
    if has(Kind::Raw) {
        let _ = writeln!(
            s,
            "## Raw ceiling (one process writes chunks to another)\n\n\
             | transport | chunk | MB/s |\n|---|---:|---:|"
        );
    }
    for transport in ["tcp", "ipc"] {
        for size in RAW_SIZES {
            if let Some((per, _)) =
                best_of_lib(results, Kind::Raw, transport, size, Cpus::Any, "raw")
            {
                let mbs = size as f64 / per / 1e6;
                let best = ceiling.entry(transport).or_insert(0.0);
                *best = best.max(mbs);
                let _ = writeln!(s, "| {transport} | {} KiB | {mbs:.0} |", size / 1024);
            }
        }
    }

    let (libs, align) = lib_columns();
    let _ = writeln!(
        s,
        "\n## PUSH→PULL throughput (msg/s, MB/s)\n\n\
         | size | transport | {libs} | tiermq / best peer | tiermq / libzmq | tiermq / raw |\n\
         |---:|---|{align}|---:|---:|---:|"
    );
    let rows = SIZES.iter().flat_map(|&size| {
        let pinned = (size == 16 && pin)
            .then_some([(size, "tcp", Cpus::Same), (size, "ipc", Cpus::Same)])
            .into_iter()
            .flatten();
        ["tcp", "ipc", "inproc"]
            .into_iter()
            .map(move |t| (size, t, Cpus::Any))
            .chain(pinned)
    });
    for (size, transport, cpus) in rows {
        let mut cells = Vec::new();
        let mut ours = None;
        let mut best_peer: Option<f64> = None;
        let mut libzmq = None;
        for lib in LIBS {
            match best_of_lib(results, Kind::Throughput, transport, size, cpus, lib) {
                Some((per, rt)) => {
                    let rate = 1.0 / per;
                    if lib == "libzmq" {
                        libzmq = Some(rate);
                    }
                    cells.push(format!(
                        "{} ({:.0} MB/s){}",
                        si(rate),
                        rate * size as f64 / 1e6,
                        rt_note(rt)
                    ));
                    record(lib, rate, &mut ours, &mut best_peer, f64::max);
                }
                None => cells.push("—".into()),
            }
        }
        if ours.is_none() && best_peer.is_none() {
            // Not run (`--hops` runs only 16 B).
            continue;
        }
        let ratio = ratio_cell(ours, best_peer);
        let vs_libzmq = ratio_cell(ours, libzmq);
        let raw = match (ours, ceiling.get(transport)) {
            (Some(o), Some(c)) => format!("{:.0} %", 100.0 * o * size as f64 / 1e6 / c),
            _ => "—".into(),
        };
        let where_ = match cpus {
            Cpus::Any => transport.to_string(),
            other => format!("{transport}, {}", other.describe()),
        };
        let _ = writeln!(
            s,
            "| {size} | {where_} | {} | {ratio} | {vs_libzmq} | {raw} |",
            cells.join(" | ")
        );
    }

    let _ = writeln!(
        s,
        "\n## REQ→REP round trip, 16 B (mean µs; × the raw ping-pong of the same row)\n\n\
         raw: two processes, one blocking 16-byte write and read each way, no \
         library, same transport and placement.\n\n\
         | transport | CPUs | raw ping-pong | {libs} | tiermq / best peer | tiermq / raw |\n\
         |---|---|---:|{align}|---:|---:|"
    );
    for transport in ["tcp", "ipc", "inproc"] {
        for cpus in Cpus::ALL {
            if cpus != Cpus::Any && (!pin || transport == "inproc") {
                continue;
            }
            let raw = best_of_lib(results, Kind::Latency, transport, 16, cpus, "raw")
                .map(|(per, _)| per * 1e6);
            let mut cells = vec![raw.map_or("—".into(), |r| format!("{r:.1}"))];
            let mut ours = None;
            let mut best_peer: Option<f64> = None;
            for lib in LIBS {
                match best_of_lib(results, Kind::Latency, transport, 16, cpus, lib) {
                    Some((per, rt)) => {
                        let us = per * 1e6;
                        let vs_raw = raw.map_or(String::new(), |r| format!(" ({:.1}×)", us / r));
                        cells.push(format!("{us:.1}{}{vs_raw}", rt_note(rt)));
                        record(lib, us, &mut ours, &mut best_peer, f64::min);
                    }
                    None => cells.push("—".into()),
                }
            }
            let ratio = ratio_cell(ours, best_peer);
            let vs_raw = ratio_cell(ours, raw);
            let _ = writeln!(
                s,
                "| {transport} | {} | {} | {ratio} | {vs_raw} |",
                cpus.describe(),
                cells.join(" | ")
            );
        }
    }

    s.push_str(&render_switches(results, pin));
    s.push_str(&render_tiered(results));
    if !has(Kind::Rss) {
        return s;
    }

    let _ = writeln!(
        s,
        "\n## Peak RSS streaming 64 KiB over tcp (MiB, receiver / sender)\n\n\
         Every message in a new buffer (`--fresh-payload`). HWM 1000 on each \
         side allows 62.5 MiB of queued payload per side (the bound); in \
         brackets, peak RSS over that bound (the goal: at most 2).\n\n\
         | {libs} |\n|{align}|"
    );
    // What the HWMs let one side queue, in KiB.
    let bound = HWM.parse::<f64>().unwrap_or(0.0) * 64.0;
    let mut cells = Vec::new();
    for lib in LIBS {
        let runs: Vec<&Run> = results
            .iter()
            .filter(|(c, _)| c.kind == Kind::Rss && c.peer.lib == lib)
            .flat_map(|(_, r)| r)
            .collect();
        let mut timed: Vec<f64> = runs.iter().map(|r| r.rss_timed as f64).collect();
        let mut peer: Vec<f64> = runs.iter().map(|r| r.rss_peer as f64).collect();
        cells.push(match (median(&mut timed), median(&mut peer)) {
            (Some(t), Some(p)) => format!(
                "{:.1} / {:.1} ({:.2} / {:.2})",
                t / 1024.0,
                p / 1024.0,
                t / bound,
                p / bound
            ),
            _ => "—".into(),
        });
    }
    let _ = writeln!(s, "| {} |", cells.join(" | "));
    s
}

/// Where a row's processes ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Cpus {
    /// Wherever the kernel puts them.
    Any,
    /// Both processes on CPU 0 (`taskset -c 0`).
    Same,
    /// The connecting process on CPU 0, the binding one on CPU 1 (round
    /// trips only): every hop wakes the other CPU.
    Split,
}

impl Cpus {
    const ALL: [Cpus; 3] = [Cpus::Any, Cpus::Same, Cpus::Split];

    /// The CSV's name.
    fn name(self) -> &'static str {
        match self {
            Cpus::Any => "any",
            Cpus::Same => "same",
            Cpus::Split => "split",
        }
    }

    /// The report's words.
    fn describe(self) -> &'static str {
        match self {
            Cpus::Any => "any",
            Cpus::Same => "both on CPU 0",
            Cpus::Split => "CPU 0 and CPU 1",
        }
    }
}

/// Context switches per message (16 B throughput) and per round trip, per
/// process, for every library (its winning runtime) and the raw roles.
fn render_switches(results: &BTreeMap<Case, Vec<Run>>, pin: bool) -> String {
    let mut s = String::new();
    let (libs, align) = lib_columns();
    let _ = writeln!(
        s,
        "\n## Context switches (getrusage, over the timed part)\n\n\
         Per 1000 messages (16 B throughput) or per round trip (REQ→REP 16 B), \
         `voluntary+involuntary`, timed process / other process (throughput: \
         receiver / sender; round trip: REQ / REP); inproc is one process. \
         Each library's runtime is the one that won the row. raw: the 64 KiB \
         chunk ceiling is not per message, so raw shows only in round trips.\n\n\
         | row | transport | CPUs | raw | {libs} |\n\
         |---|---|---|---:|{align}|"
    );
    for (kind, what, per) in [
        (Kind::Throughput, "1000 × 16 B", 1000.0),
        (Kind::Latency, "round trip", 1.0),
    ] {
        for transport in ["tcp", "ipc", "inproc"] {
            for cpus in Cpus::ALL {
                let unpinnable = !pin || transport == "inproc";
                if cpus != Cpus::Any
                    && (unpinnable || (kind, cpus) == (Kind::Throughput, Cpus::Split))
                {
                    continue;
                }
                let mut cells = Vec::new();
                for lib in std::iter::once("raw").chain(LIBS) {
                    let cell = best_case(results, kind, transport, 16, cpus, lib)
                        .map(|(c, _)| switches_per_unit(results, c));
                    cells.push(match cell {
                        Some((t, None)) => csw_cell(t, per),
                        Some((t, p)) => {
                            format!("{} / {}", csw_cell(t, per), csw_cell(p, per))
                        }
                        None => "—".into(),
                    });
                }
                let _ = writeln!(
                    s,
                    "| {what} | {transport} | {} | {} |",
                    cpus.describe(),
                    cells.join(" | ")
                );
            }
        }
    }
    s
}

/// tiermq's tiered PUSH against one peer and a plain round-robin over 8,
/// beside libzmq's one peer and round-robin (one process, 16 B).
fn render_tiered(results: &BTreeMap<Case, Vec<Run>>) -> String {
    let mut s = String::new();
    if !results.keys().any(|c| c.kind.is_tiered()) {
        return s;
    }
    let _ = writeln!(
        s,
        "\n## Tiered PUSH, 16 B (PUSH and PULL in one process; msg/s)\n\n\
         tiermq's PUSH with one peer, 8 peers in one tier (a plain round-robin), and 4 \
         tiers × 8 peers, beside libzmq's PUSH with one peer and 8. \"Spilled\" is the \
         median share of the 4 × 8 messages sent below the first tier, which a PUSH \
         does whenever every first-tier pipe is at SNDHWM (HWM 1000 here). The last row \
         runs tiermq with an HWM no run fills: what the tiers cost without spilling.\n\n\
         | transport | tiermq 1 | tiermq 1 × 8 | tiermq 4 × 8 | 4 × 8 / 1 | 4 × 8 / 1 × 8 | \
         spilled | libzmq 1 | libzmq 1 × 8 | libzmq 1 × 8 / 1 |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let rows = [
        ("tcp", Kind::Tiered, "tcp"),
        ("inproc", Kind::Tiered, "inproc"),
        ("tcp, HWM 100 000", Kind::TieredDeep, "tcp"),
    ];
    for (label, kind, transport) in rows {
        let case = |lib: &str, tiers| {
            results.keys().find(|c| {
                c.kind == kind && c.transport == transport && c.peer.lib == lib && c.tiers == tiers
            })
        };
        let rate = |lib: &str, tiers| {
            case(lib, tiers).and_then(|c| Some(c.count as f64 / median_secs(results, c)?))
        };
        let [one, row, tiered] = TIERED.map(|t| rate("tiermq", t));
        let (z_one, z_row) = (rate("libzmq", TIERED[0]), rate("libzmq", TIERED[1]));
        let spilled = case("tiermq", TIERED[2])
            .and_then(|c| {
                let mut v: Vec<f64> = results.get(c)?.iter().filter_map(|r| r.spilled).collect();
                median(&mut v)
            })
            .map_or("—".into(), |x| format!("{:.0} %", x * 100.0));
        let show = |r: Option<f64>| r.map_or("—".into(), si);
        let _ = writeln!(
            s,
            "| {label} | {} | {} | {} | {} | {} | {spilled} | {} | {} | {} |",
            show(one),
            show(row),
            show(tiered),
            ratio_cell(tiered, one),
            ratio_cell(tiered, row),
            show(z_one),
            show(z_row),
            ratio_cell(z_row, z_one),
        );
    }
    s
}

/// For one library in one PUB/SUB cell: the best of its runtimes, as
/// (median delivered msg/s over all SUBs, runtime that won, messages its
/// runs dropped). The median is of the runs that lost nothing, if any did;
/// a runtime with such runs wins over one without, whatever the rates.
fn best_pubsub(
    results: &BTreeMap<Case, Vec<Run>>,
    transport: &str,
    size: usize,
    subs: usize,
    lib: &str,
) -> Option<(f64, Option<&'static str>, u64)> {
    results
        .iter()
        .filter(|(c, _)| {
            c.kind == Kind::PubSub
                && c.transport == transport
                && c.size == size
                && c.subs == subs
                && c.peer.lib == lib
        })
        .filter_map(|(c, runs)| {
            // The lossless runs if there are any: a run that lost messages
            // measured the library's recovery, not its throughput.
            let lossless = runs.iter().any(|r| r.dropped == 0);
            let mut rates: Vec<f64> = runs
                .iter()
                .filter(|r| !lossless || r.dropped == 0)
                .map(|r| r.count as f64 / r.secs)
                .collect();
            let dropped = runs.iter().map(|r| r.dropped).sum();
            Some((median(&mut rates)?, c.peer.runtime, dropped, lossless))
        })
        .max_by(|a, b| a.3.cmp(&b.3).then(a.0.total_cmp(&b.0)))
        .map(|(rate, runtime, dropped, _)| (rate, runtime, dropped))
}

/// The PUB→N SUB table: aggregate delivered msg/s (per SUB in brackets)
/// and tiermq over the best peer.
fn render_pubsub(results: &BTreeMap<Case, Vec<Run>>, rounds: usize) -> String {
    let mut s = String::new();
    let (libs, align) = lib_columns();
    let _ = writeln!(
        s,
        "\n## PUB→N SUB throughput (delivered msg/s over all SUBs; per SUB in brackets)\n\n\
         One publisher process, one subscriber process holding the N SUBs \
         (polled from one thread by tiermq and libzmq, one task each on zmq.rs, \
         omq and rzmq); SNDHWM = RCVHWM = {PUBSUB_HWM}; the publisher stays within \
         512 messages of the slowest SUB (credit on a side channel), so nothing \
         should be dropped at HWM. A cell says how many messages its \
         runtime's runs lost in all; its rate is the median of the runs that \
         lost nothing, if any did. Median of {rounds} interleaved run(s).\n\n\
         | size | N | transport | {libs} | tiermq / best peer |\n\
         |---:|---:|---|{align}|---:|"
    );
    for size in PUBSUB_SIZES {
        for subs in PUBSUB_SUBS {
            for transport in ["tcp", "ipc"] {
                let mut cells = Vec::new();
                let mut ours = None;
                let mut best_peer: Option<f64> = None;
                for lib in LIBS {
                    match best_pubsub(results, transport, size, subs, lib) {
                        Some((rate, rt, dropped)) => {
                            let lost = if dropped > 0 {
                                format!(", {dropped} dropped")
                            } else {
                                String::new()
                            };
                            cells.push(format!(
                                "{} ({}){}{lost}",
                                si(rate),
                                si(rate / subs as f64),
                                rt_note(rt)
                            ));
                            record(lib, rate, &mut ours, &mut best_peer, f64::max);
                        }
                        None => cells.push("—".into()),
                    }
                }
                let ratio = ratio_cell(ours, best_peer);
                let _ = writeln!(
                    s,
                    "| {size} | {subs} | {transport} | {} | {ratio} |",
                    cells.join(" | ")
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "\nSubscription matching with 10,000 subscriptions: \
         `cargo bench -p tiermq-sched --bench subscriptions` (figures in \
         docs/benchmarks.md)."
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of `count` messages in `secs`, with nothing else reported.
    fn timed(secs: f64, count: u64) -> Run {
        Run {
            secs,
            count,
            dropped: 0,
            slowest: 0.0,
            rss_timed: 0,
            rss_peer: 0,
            csw_timed: None,
            csw_peer: None,
            spilled: None,
        }
    }

    #[test]
    fn fields_parse() {
        let l = "RESULT secs=0.5 count=10 size=16 rss_kib=1234";
        assert_eq!(field(l, "secs"), Some(0.5));
        assert_eq!(field(l, "rss_kib"), Some(1234.0));
        assert_eq!(field(l, "nope"), None);
    }

    #[test]
    fn switch_fields_parse() {
        assert_eq!(switches("PEER rss_kib=1 vcsw=12 ivcsw=3"), Some((12, 3)));
        assert_eq!(switches("PEER rss_kib=1"), None);
    }

    #[test]
    fn the_hop_rows_are_round_trips_small_throughput_and_tiers() {
        let hops: Vec<Case> = cases(false, true).into_iter().filter(is_hop_row).collect();
        for transport in ["tcp", "ipc"] {
            for cpus in Cpus::ALL {
                for lib in std::iter::once("raw").chain(LIBS) {
                    assert!(
                        hops.iter().any(|c| c.kind == Kind::Latency
                            && c.transport == transport
                            && c.cpus == cpus
                            && c.peer.lib == lib),
                        "round trip {transport} {cpus:?} {lib}"
                    );
                }
                assert_eq!(
                    hops.iter().any(|c| c.kind == Kind::Throughput
                        && c.transport == transport
                        && c.cpus == cpus),
                    cpus != Cpus::Split,
                    "16 B throughput {transport} {cpus:?}"
                );
            }
        }
        assert!(
            hops.iter()
                .any(|c| c.kind == Kind::Tiered && c.tiers == (4, 8))
        );
        assert!(
            hops.iter()
                .all(|c| c.kind != Kind::Throughput || c.size == 16)
        );
        assert!(!hops.iter().any(|c| matches!(c.kind, Kind::Raw | Kind::Rss)));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0]), Some(2.5));
    }

    #[test]
    fn the_matrix_covers_every_library() {
        let all = cases(false, true);
        for lib in LIBS {
            assert!(
                all.iter()
                    .any(|c| c.peer.lib == lib && c.kind == Kind::Throughput)
            );
            assert!(
                all.iter()
                    .any(|c| c.peer.lib == lib && c.kind == Kind::Latency && c.cpus == Cpus::Same)
            );
        }
        assert!(
            all.iter()
                .all(|c| c.transport != "inproc" || matches!(c.peer.lib, "tiermq" | "libzmq"))
        );
    }

    #[test]
    fn the_pubsub_matrix_covers_every_library_size_and_fan_out() {
        let all = pubsub_cases(false);
        for lib in LIBS {
            for size in PUBSUB_SIZES {
                for subs in PUBSUB_SUBS {
                    assert!(
                        all.iter()
                            .any(|c| c.peer.lib == lib && c.size == size && c.subs == subs),
                        "{lib} {size} x{subs}"
                    );
                }
            }
        }
        assert!(all.iter().all(|c| c.kind == Kind::PubSub
            && c.transport != "inproc"
            && c.count * c.subs as u64 == pubsub_total(c.size)));
    }

    #[test]
    fn a_pubsub_cell_takes_the_better_runtime_and_counts_drops() {
        let case = |runtime, subs| Case {
            kind: Kind::PubSub,
            transport: "tcp",
            size: 16,
            cpus: Cpus::Any,
            peer: Peer {
                lib: "omq",
                runtime: Some(runtime),
            },
            count: 100,
            subs,
            tiers: (1, 1),
        };
        let run = |secs, dropped| Run {
            dropped,
            ..timed(secs, 400)
        };
        let mut results = BTreeMap::new();
        results.insert(case("current", 4), vec![run(1.0, 0), run(2.0, 0)]);
        results.insert(case("multi", 4), vec![run(0.5, 0)]);
        results.insert(case("multi", 1), vec![run(0.1, 0)]);
        assert_eq!(
            best_pubsub(&results, "tcp", 16, 4, "omq"),
            Some((800.0, Some("multi"), 0))
        );
        // Faster, but lossy: the lossless runtime still wins.
        results.insert(case("multi", 4), vec![run(0.25, 9)]);
        assert_eq!(
            best_pubsub(&results, "tcp", 16, 4, "omq"),
            Some((300.0, Some("current"), 0))
        );
        // A lossy run doesn't count towards the rate, but its losses show.
        results.insert(case("current", 4), vec![run(1.0, 0), run(0.1, 5)]);
        assert_eq!(
            best_pubsub(&results, "tcp", 16, 4, "omq"),
            Some((400.0, Some("current"), 5))
        );
        // Only lossy runs: the faster one, with its losses shown.
        results.insert(case("current", 4), vec![run(1.0, 2)]);
        let table = render_pubsub(&results, 2);
        assert!(
            table
                .contains("| 16 | 4 | tcp | — | — | — | 1.6 k (400) (mt), 9 dropped | — | — | — |"),
            "{table}"
        );
    }

    #[test]
    fn tiered_rows_set_tiers_beside_a_plain_round_robin() {
        let case = |transport, lib, tiers| Case {
            kind: Kind::Tiered,
            transport,
            size: 16,
            cpus: Cpus::Any,
            peer: Peer { lib, runtime: None },
            count: 1000,
            subs: 1,
            tiers,
        };
        let run = |secs, spilled| Run {
            spilled,
            ..timed(secs, 1000)
        };
        let mut results = BTreeMap::new();
        results.insert(case("tcp", "tiermq", (1, 1)), vec![run(0.1, Some(0.0))]);
        results.insert(case("tcp", "tiermq", (1, 8)), vec![run(0.2, Some(0.0))]);
        results.insert(
            case("tcp", "tiermq", (4, 8)),
            vec![run(0.25, Some(0.3)), run(0.25, Some(0.5))],
        );
        results.insert(case("tcp", "libzmq", (1, 1)), vec![run(0.2, None)]);
        results.insert(case("tcp", "libzmq", (1, 8)), vec![run(0.1, None)]);
        let table = render_tiered(&results);
        assert!(
            table.contains(
                "| tcp | 10.0 k | 5.0 k | 4.0 k | 0.40 | 0.80 | 40 % | 5.0 k | 10.0 k | 2.00 |"
            ),
            "{table}"
        );
        assert!(
            table.contains("| inproc | — | — | — | — | — | — | — | — | — |"),
            "{table}"
        );
        assert!(
            table.contains("| tcp, HWM 100 000 | — | — | — | — | — | — | — | — | — |"),
            "{table}"
        );
    }

    #[test]
    fn round_trips_show_the_raw_ratio_and_switches_per_process() {
        let case = |lib, runtime| Case {
            kind: Kind::Latency,
            transport: "ipc",
            size: 16,
            cpus: Cpus::Same,
            peer: Peer { lib, runtime },
            count: 1000,
            subs: 1,
            tiers: (1, 1),
        };
        let run = |secs, switches, peer| Run {
            csw_timed: Some(switches),
            csw_peer: Some(peer),
            ..timed(secs, 1000)
        };
        let mut results = BTreeMap::new();
        // raw: 10 µs and one switch per process per round trip.
        results.insert(case("raw", None), vec![run(0.01, (1000, 0), (900, 100))]);
        // tiermq: 30 µs, three voluntary and one involuntary.
        results.insert(
            case("tiermq", None),
            vec![
                run(0.03, (3000, 1000), (3000, 0)),
                run(0.05, (5000, 1000), (5000, 0)),
                run(0.02, (3000, 1000), (3000, 0)),
            ],
        );
        // omq's slower runtime shows neither its time nor its switches.
        results.insert(
            case("omq", Some("multi")),
            vec![run(0.09, (9000, 0), (9000, 0))],
        );
        results.insert(
            case("omq", Some("current")),
            vec![run(0.02, (1000, 0), (1000, 0))],
        );
        let report = render(&results, 3, true);
        assert!(
            report.contains("| ipc | both on CPU 0 | 10.0 | 30.0 (3.0×) | — | — | 20.0 (ct) (2.0×) | — | — | 1.50 | 3.00 |"),
            "{report}"
        );
        assert!(
            report.contains(
                "| round trip | ipc | both on CPU 0 | 1.00+0.00 / 0.90+0.10 | 3.00+1.00 / 3.00+0.00 | — | — | 1.00+0.00 / 1.00+0.00 | — | — |"
            ),
            "{report}"
        );
        // Nothing else ran: no empty sections.
        assert!(!report.contains("Raw ceiling") && !report.contains("Peak RSS"));
    }

    #[test]
    fn rzmq_runs_both_variants_on_both_runtimes_outside_inproc() {
        for transport in ["tcp", "ipc"] {
            let peers = all_peers(transport);
            for lib in ["rzmq", "rzmq-uring"] {
                for runtime in ["current", "multi"] {
                    assert!(peers.contains(&Peer {
                        lib,
                        runtime: Some(runtime)
                    }));
                }
            }
        }
        assert!(
            all_peers("inproc")
                .iter()
                .all(|p| !p.lib.starts_with("rzmq"))
        );
    }

    /// Every table row has as many cells as its header, and an rzmq
    /// variant that beats the other peers is the best peer.
    #[test]
    fn rzmq_columns_count_towards_the_best_peer() {
        let case = |kind, lib, runtime| Case {
            kind,
            transport: "tcp",
            size: 16,
            cpus: Cpus::Any,
            peer: Peer { lib, runtime },
            count: 1000,
            subs: 1,
            tiers: (1, 1),
        };
        let run = |secs| Run {
            rss_timed: 1024,
            rss_peer: 1024,
            csw_timed: Some((1000, 0)),
            csw_peer: Some((1000, 0)),
            ..timed(secs, 1000)
        };
        let mut results = BTreeMap::new();
        for kind in [Kind::Latency, Kind::Throughput, Kind::Rss] {
            results.insert(case(kind, "tiermq", None), vec![run(0.03)]);
            results.insert(case(kind, "omq", Some("current")), vec![run(0.02)]);
            results.insert(case(kind, "rzmq", Some("multi")), vec![run(0.025)]);
            results.insert(case(kind, "rzmq-uring", Some("current")), vec![run(0.015)]);
        }
        let report = render(&results, 1, false);
        // Round trip: tiermq 30 µs over rzmq io_uring's 15 µs.
        assert!(
            report.contains(
                "| tcp | any | — | 30.0 | — | — | 20.0 (ct) | 25.0 (mt) | 15.0 (ct) | 2.00 | — |"
            ),
            "{report}"
        );
        // Throughput: 33.3 k/s over 66.7 k/s.
        assert!(report.contains("| 0.50 | — | — |"), "{report}");
        let mut header_cells = None;
        for line in report.lines() {
            if !line.starts_with('|') {
                header_cells = None;
                continue;
            }
            let cells = line.matches('|').count();
            assert_eq!(*header_cells.get_or_insert(cells), cells, "{line}");
        }
        assert!(report.contains("| tiermq | libzmq | zmq.rs | omq | rzmq | rzmq io_uring |"));
    }
}
