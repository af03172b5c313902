//! The CURVE part of `cargo xtask bench` (alone: `cargo xtask bench
//! --curve`): PUSH→PULL throughput and REQ→REP round trips over tcp under
//! CURVE, for tiermq, libzmq with CURVE and omq with CURVE, and the same
//! workloads under NULL in the same run, so each library's cost of CURVE
//! shows.
//!
//! libzmq with CURVE is `benches/c/libzmq_peer.c` compiled against the
//! system's libzmq (Debian's libzmq5 is built with libsodium; the `zmq`
//! crate's bundled one has no CURVE). Its NULL figures sit next to the
//! `zmq` crate's, as a check that the C peer measures what the Rust one
//! does. zmq.rs has no security mechanism, so it has no CURVE cell.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{HWM, buf, median, rt_note, si, throughput_count};
use crate::root;

/// Both secret keys, Z85 (`tiermq-bench --curve SERVER_SECRET,CLIENT_SECRET`);
/// every library derives the public keys itself.
const KEYS: &str =
    "tcK&x7Msjfw.mb4-EJEEm[k(RU%fAY9%rA.d^pil,RLg?dd0V/cau3UtSTkW<8#r2v-u6o4(ln@kOVVH9";

const SIZES: [usize; 4] = [16, 256, 4096, 65536];
const RTT_SIZES: [usize; 2] = [16, 4096];

/// Who runs both ends of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Impl {
    Tiermq,
    /// The C peer on the system's libzmq.
    Libzmq,
    /// The `zmq` crate's bundled libzmq (NULL only): the C peer's check.
    ZmqCrate,
    /// omq on a current-thread or multi-thread tokio runtime.
    Omq(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Case {
    /// REQ→REP round trips; otherwise PUSH→PULL throughput.
    rtt: bool,
    size: usize,
    curve: bool,
    who: Impl,
    count: u64,
}

/// The binaries a case runs.
pub(super) struct Bins<'a> {
    pub(super) rust: &'a Path,
    pub(super) c_peer: &'a Path,
}

/// Compiles the C peer into `<target>/release/libzmq-peer` and checks that
/// its libzmq has CURVE. Fails loudly, naming the package to install.
pub(super) fn build_c_peer(target: &Path) -> Result<PathBuf, &'static str> {
    const NAME: &str = "curve-peer-build";
    let src = root().join("benches/c/libzmq_peer.c");
    let out = target.join("release").join("libzmq-peer");
    let _ = std::fs::create_dir_all(target.join("release"));
    let mut cc = Command::new(std::env::var_os("CC").unwrap_or_else(|| "cc".into()));
    cc.args(["-O2", "-Wall", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-lzmq");
    println!("\n==> [{NAME}] {cc:?}");
    let built = cc.output().map_err(|e| {
        eprintln!("xtask: no C compiler ({e}): apt-get install gcc libzmq3-dev");
        NAME
    })?;
    if !built.status.success() {
        let err = String::from_utf8_lossy(&built.stderr);
        eprintln!("{err}");
        if err.contains("zmq.h") || err.contains("-lzmq") {
            eprintln!(
                "xtask: the CURVE benchmarks need libzmq's headers and library \
                 (built with CURVE): apt-get install libzmq3-dev"
            );
        }
        return Err(NAME);
    }
    let has = Command::new(&out)
        .arg("--has-curve")
        .output()
        .map_err(|e| {
            eprintln!("xtask: cannot run {}: {e}", out.display());
            NAME
        })?;
    let said = String::from_utf8_lossy(&has.stdout).trim().to_string();
    println!("==> [{NAME}] {said}");
    if !has.status.success() {
        eprintln!(
            "xtask: the system's libzmq has no CURVE ({said}): apt-get install \
             libzmq3-dev (Debian's libzmq5 is built with libsodium)"
        );
        return Err(NAME);
    }
    Ok(out)
}

/// Messages or round trips timed per run: about half a second to a second.
fn count(case_rtt: bool, size: usize, curve: bool, who: Impl, quick: bool) -> u64 {
    let n = if case_rtt {
        5_000
    } else if curve {
        match size {
            0..=64 => 300_000,
            65..=1024 => 200_000,
            1025..=16384 => 50_000,
            _ => 5_000,
        }
    } else {
        let lib = if who == Impl::Tiermq {
            "tiermq"
        } else {
            "libzmq"
        };
        throughput_count(size, "tcp", lib)
    };
    if quick { n / 4 } else { n }
}

fn cases(quick: bool) -> Vec<Case> {
    let mut out = Vec::new();
    for rtt in [false, true] {
        let sizes: &[usize] = if rtt { &RTT_SIZES } else { &SIZES };
        for &size in sizes {
            for curve in [true, false] {
                let mut who = vec![
                    Impl::Tiermq,
                    Impl::Libzmq,
                    Impl::Omq("current"),
                    Impl::Omq("multi"),
                ];
                if !curve {
                    who.push(Impl::ZmqCrate);
                }
                for who in who {
                    out.push(Case {
                        rtt,
                        size,
                        curve,
                        who,
                        count: count(rtt, size, curve, who, quick),
                    });
                }
            }
        }
    }
    out
}

fn command(bins: &Bins<'_>, case: &Case, role: &str, endpoint: Option<&str>) -> Command {
    let (bin, lib, runtime) = match case.who {
        Impl::Tiermq => (bins.rust, "tiermq", "current"),
        Impl::Libzmq => (bins.c_peer, "libzmq", "current"),
        Impl::ZmqCrate => (bins.rust, "libzmq", "current"),
        Impl::Omq(rt) => (bins.rust, "omq", rt),
    };
    let mut cmd = Command::new(bin);
    cmd.args([
        role,
        lib,
        "tcp",
        &case.size.to_string(),
        &case.count.to_string(),
        "--hwm",
        HWM,
        "--buf",
        buf("tcp"),
        "--runtime",
        runtime,
    ]);
    if case.curve {
        cmd.args(["--curve", KEYS]);
    }
    if let Some(ep) = endpoint {
        cmd.args(["--endpoint", ep]);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    cmd
}

/// Seconds per message (throughput) or per round trip.
fn run_case(bins: &Bins<'_>, case: &Case) -> Result<f64, String> {
    super::time_pair(case.rtt, case.count, |role, ep| {
        command(bins, case, role, ep)
    })
}

fn describe(case: &Case) -> String {
    format!(
        "{} {} B {} {:?}",
        if case.rtt { "REQ/REP" } else { "PUSH/PULL" },
        case.size,
        if case.curve { "CURVE" } else { "NULL" },
        case.who
    )
}

/// The title of a report of the CURVE part alone: when, which commit, and
/// how loaded the machine was at the end.
pub(super) fn title() -> String {
    super::part_title("CURVE", "--curve")
}

/// Runs every case `rounds` times, interleaved; returns the report section
/// and the CSV of single runs.
pub(super) fn run(bins: &Bins<'_>, rounds: usize, quick: bool) -> (String, String) {
    let (results, csv) = super::run_interleaved(
        "bench-curve",
        &cases(quick),
        rounds,
        "round,workload,size,mechanism,impl,count,secs_per_op",
        |c| run_case(bins, c),
        |c| {
            format!(
                "{},{},{},{:?},{}",
                if c.rtt { "reqrep" } else { "pushpull" },
                c.size,
                if c.curve { "curve" } else { "null" },
                c.who,
                c.count
            )
        },
        describe,
    );
    (render(&results, rounds), csv)
}

/// The best median (seconds per operation) of `who`'s runs in one cell,
/// with omq's winning runtime.
fn best(
    results: &BTreeMap<Case, Vec<f64>>,
    rtt: bool,
    size: usize,
    curve: bool,
    lib: fn(Impl) -> bool,
) -> Option<(f64, Option<&'static str>)> {
    results
        .iter()
        .filter(|(c, _)| c.rtt == rtt && c.size == size && c.curve == curve && lib(c.who))
        .filter_map(|(c, runs)| {
            let rt = match c.who {
                Impl::Omq(rt) => Some(rt),
                _ => None,
            };
            Some((median(&mut runs.clone())?, rt))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

/// The report's columns: tiermq, libzmq, omq.
const COLUMNS: [fn(Impl) -> bool; 3] = [
    |w| w == Impl::Tiermq,
    |w| w == Impl::Libzmq,
    |w| matches!(w, Impl::Omq(_)),
];

fn cell(rtt: bool, size: usize, per: Option<(f64, Option<&str>)>) -> String {
    match per {
        None => "—".into(),
        Some((per, rt)) if rtt => format!("{:.1}{}", per * 1e6, rt_note(rt)),
        Some((per, rt)) => format!(
            "{} ({:.0} MB/s){}",
            si(1.0 / per),
            size as f64 / per / 1e6,
            rt_note(rt)
        ),
    }
}

/// tiermq's speed over the fastest peer (above 1: tiermq is faster).
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
        "\n## CURVE over tcp (and NULL in the same run)\n\n\
         Median of {rounds} interleaved run(s) per cell. libzmq = the system's \
         libzmq with CURVE (libsodium) through the C peer `benches/c/libzmq_peer.c`; \
         omq = `omq-tokio` 0.33.0 with its `curve` feature; zmq.rs has no \
         security mechanism, so no CURVE figures. Speed-up: the fastest peer's \
         time per message or round trip over tiermq's (above 1: tiermq is faster).\n"
    );
    for (rtt, title, sizes) in [
        (false, "PUSH→PULL throughput (msg/s, MB/s)", &SIZES[..]),
        (true, "REQ→REP round trip (mean µs)", &RTT_SIZES[..]),
    ] {
        let _ = writeln!(
            s,
            "### {title}\n\n\
             | size | mechanism | tiermq | libzmq | omq | zmq.rs | speed-up over best peer |\n\
             |---:|---|---:|---:|---:|---:|---:|"
        );
        for &size in sizes {
            for curve in [true, false] {
                let per: Vec<_> = COLUMNS
                    .iter()
                    .map(|lib| best(results, rtt, size, curve, *lib))
                    .collect();
                let cells: Vec<String> = per.iter().map(|p| cell(rtt, size, *p)).collect();
                let peers: Vec<Option<f64>> = per[1..].iter().map(|p| p.map(|x| x.0)).collect();
                let _ = writeln!(
                    s,
                    "| {size} | {} | {} | {} | {} |",
                    if curve { "CURVE" } else { "NULL" },
                    cells.join(" | "),
                    if curve { "no CURVE" } else { "(see above)" },
                    speedup(per[0].map(|x| x.0), &peers),
                );
            }
        }
        let _ = writeln!(s);
    }

    let _ = writeln!(
        s,
        "### What CURVE costs each library (CURVE's time per message or round trip over NULL's)\n\n\
         | workload | size | tiermq | libzmq | omq |\n|---|---:|---:|---:|---:|"
    );
    for (rtt, sizes) in [(false, &SIZES[..]), (true, &RTT_SIZES[..])] {
        for &size in sizes {
            let cells: Vec<String> = COLUMNS
                .iter()
                .map(|lib| {
                    match (
                        best(results, rtt, size, true, *lib),
                        best(results, rtt, size, false, *lib),
                    ) {
                        (Some((c, _)), Some((n, _))) => format!("{:.1}×", c / n),
                        _ => "—".into(),
                    }
                })
                .collect();
            let _ = writeln!(
                s,
                "| {} | {size} | {} |",
                if rtt { "REQ→REP" } else { "PUSH→PULL" },
                cells.join(" | ")
            );
        }
    }

    let _ = writeln!(
        s,
        "\n### Check: the C peer against the `zmq` crate, both NULL\n\n\
         | workload | size | C peer (system libzmq) | `zmq` crate (bundled libzmq) | C / crate |\n\
         |---|---:|---:|---:|---:|"
    );
    for (rtt, sizes) in [(false, &SIZES[..]), (true, &RTT_SIZES[..])] {
        for &size in sizes {
            let c = best(results, rtt, size, false, |w| w == Impl::Libzmq);
            let krate = best(results, rtt, size, false, |w| w == Impl::ZmqCrate);
            let ratio = super::ratio_cell(krate.map(|(k, _)| k), c.map(|(c, _)| c));
            let _ = writeln!(
                s,
                "| {} | {size} | {} | {} | {ratio} |",
                if rtt { "REQ→REP" } else { "PUSH→PULL" },
                cell(rtt, size, c),
                cell(rtt, size, krate)
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_has_curve_and_null_for_each_library() {
        let all = cases(false);
        for who in [Impl::Tiermq, Impl::Libzmq, Impl::Omq("current")] {
            for rtt in [false, true] {
                for curve in [false, true] {
                    assert!(
                        all.iter()
                            .any(|c| c.who == who && c.rtt == rtt && c.curve == curve)
                    );
                }
            }
        }
        // The zmq crate's libzmq has no CURVE.
        assert!(all.iter().all(|c| !(c.curve && c.who == Impl::ZmqCrate)));
        assert!(all.iter().any(|c| !c.curve && c.who == Impl::ZmqCrate));
    }

    #[test]
    fn speedup_is_the_best_peer_over_ours() {
        assert_eq!(speedup(Some(1.0), &[Some(2.0), Some(1.5)]), "1.50");
        assert_eq!(speedup(Some(1.0), &[None, None]), "—");
    }

    #[test]
    fn keys_are_two_z85_secrets() {
        let (server, client) = KEYS.split_once(',').unwrap();
        assert_eq!((server.len(), client.len()), (40, 40));
    }
}
