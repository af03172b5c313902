//! Project automation, run as `cargo xtask <command>`.
//!
//! - `ci`: everything CI checks, in order, stopping at the first failing step
//!   and naming it (the async examples are run too, each must exit 0).
//! - `fuzz [SECONDS]`: build the fuzz targets and run each for a while.
//!   Needs the nightly toolchain (fails, naming `rustup toolchain install
//!   nightly`, without it); installs cargo-fuzz on it when missing.
//! - `bench [--quick] [--pubsub | --hops | --curve | --async]`: tiermq side
//!   by side with libzmq, zmq.rs, omq and rzmq, each end in its own
//!   process (see `bench.rs`); `--hops` runs the round trips and 16 B rows
//!   of issue 14; `--pubsub` runs only the PUB→N SUB part, `--curve` only
//!   the CURVE part, `--async` only the async rows.
//!
//! It depends on nothing but std: every step is a `cargo` command.

mod bench;

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Seconds each fuzz target runs in the CI smoke run.
const CI_FUZZ_SECONDS: u32 = 10;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("bench") => bench::bench(&args[1..]),
        Some("fuzz") => {
            let secs = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(60);
            fuzz(secs)
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | fuzz [SECONDS] | bench [--quick] [--pubsub | --hops | --curve | --async]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(step) => {
            eprintln!("\nxtask: FAILED at step `{step}`");
            ExitCode::FAILURE
        }
    }
}

/// The root of the workspace (the parent of `xtask/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// `cargo` on the pinned toolchain; `$CARGO` is the one running us.
fn cargo() -> Command {
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Runs one named step; on failure returns the step's name.
fn step(name: &'static str, mut cmd: Command) -> Result<(), &'static str> {
    println!("\n==> [{name}] {cmd:?}");
    let start = Instant::now();
    let status = cmd.status().map_err(|e| {
        eprintln!("xtask: could not start `{name}`: {e}");
        name
    })?;
    println!(
        "==> [{name}] {} in {:.1}s",
        if status.success() { "ok" } else { "FAILED" },
        start.elapsed().as_secs_f64()
    );
    if status.success() { Ok(()) } else { Err(name) }
}

/// The umbrella's features that put async tasks on their runtime's reactor.
const ASYNC_FEATURES: &str = "tokio,async-io";

/// The umbrella's async test targets, run again with [`ASYNC_FEATURES`].
const ASYNC_TESTS: [&str; 5] = [
    "async_sockets",
    "async_cancel",
    "async_failover",
    "async_fd",
    "async_reactor",
];

fn ci() -> Result<(), &'static str> {
    let start = Instant::now();

    let mut c = cargo();
    c.args(["fmt", "--all", "--", "--check"]);
    step("fmt", c)?;

    let mut c = cargo();
    c.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    step("clippy", c)?;

    // The umbrella's optional `tokio` and `async-io` features change the
    // async path: lint it and run the async tests (and the tokio example,
    // below) with them.
    let mut c = cargo();
    c.args([
        "clippy",
        "-p",
        "tiermq",
        "--all-targets",
        "--features",
        ASYNC_FEATURES,
        "--",
        "-D",
        "warnings",
    ]);
    step("clippy-async-features", c)?;

    let mut c = cargo();
    c.args(["test", "--workspace", "--no-fail-fast"]);
    step("test", c)?;

    let mut c = cargo();
    c.args([
        "test",
        "-p",
        "tiermq",
        "--features",
        ASYNC_FEATURES,
        "--no-fail-fast",
    ]);
    for test in ASYNC_TESTS {
        c.args(["--test", test]);
    }
    step("test-async-features", c)?;

    // The async examples must run, not only build: each is a short
    // exchange over tcp that exits 0.
    for (name, example, features) in [
        ("example-async-tokio", "async_tokio", "tokio"),
        ("example-async-smol", "async_smol", "async-io"),
    ] {
        let mut c = cargo();
        c.args(["run", "--quiet", "-p", "tiermq", "--example", example]);
        if !features.is_empty() {
            c.args(["--features", features]);
        }
        step(name, c)?;
    }

    let mut c = cargo();
    c.args(["doc", "--workspace", "--no-deps"])
        .env("RUSTDOCFLAGS", "-D warnings");
    step("doc", c)?;

    // The benches compile and link in the dev profile, on the dependencies
    // the tests already built: a release build would add 0.4 GB and two
    // minutes to CI. `cargo xtask bench` builds release for measuring.
    let mut c = cargo();
    c.args(["build", "--workspace", "--benches"]);
    step("bench-build", c)?;

    fuzz(CI_FUZZ_SECONDS)?;

    println!(
        "\nxtask: ci passed in {:.0}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `cargo` from PATH (the rustup proxy) on the nightly toolchain, with the
/// pinned toolchain's environment removed so rustup honours `+nightly`.
fn nightly_cargo() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg("+nightly")
        .current_dir(root().join("fuzz"))
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .env_remove("CARGO")
        .env_remove("RUSTFLAGS");
    cmd
}

fn nightly_available() -> bool {
    let mut cmd = nightly_cargo();
    cmd.arg("--version");
    matches!(cmd.output(), Ok(out) if out.status.success())
}

fn cargo_fuzz_available() -> bool {
    let mut cmd = nightly_cargo();
    cmd.args(["fuzz", "--version"]);
    matches!(cmd.output(), Ok(out) if out.status.success())
}

/// How to get the toolchain the fuzz step needs.
const INSTALL_NIGHTLY: &str = "rustup toolchain install nightly";

fn fuzz(seconds: u32) -> Result<(), &'static str> {
    if !root().join("fuzz/Cargo.toml").exists() {
        println!("\n==> [fuzz] SKIPPED: there is no fuzz/ workspace");
        return Ok(());
    }
    if !nightly_available() {
        eprintln!(
            "\nxtask: the fuzz step needs the nightly toolchain (cargo-fuzz uses \
             its sanitizer flags), and `cargo +nightly` does not run.\n\
             Install it with `{INSTALL_NIGHTLY}`, then run this again."
        );
        return Err("fuzz");
    }
    if !cargo_fuzz_available() {
        println!("\nxtask: cargo-fuzz is not installed on nightly; installing it");
        let mut c = nightly_cargo();
        c.args(["install", "cargo-fuzz", "--locked"]);
        step("fuzz-install", c).inspect_err(|_| {
            eprintln!(
                "xtask: could not install cargo-fuzz; run \
                 `cargo +nightly install cargo-fuzz --locked`, then this again"
            );
        })?;
        if !cargo_fuzz_available() {
            eprintln!(
                "xtask: `cargo +nightly fuzz` still does not run after installing cargo-fuzz"
            );
            return Err("fuzz-install");
        }
    }
    let mut c = nightly_cargo();
    c.args(["fuzz", "build"]);
    step("fuzz-build", c)?;

    let mut list = nightly_cargo();
    list.args(["fuzz", "list"]);
    let out = list.output().map_err(|_| "fuzz-list")?;
    if !out.status.success() {
        return Err("fuzz-list");
    }
    let targets = String::from_utf8_lossy(&out.stdout).into_owned();
    for target in targets.lines().map(str::trim).filter(|t| !t.is_empty()) {
        let mut c = nightly_cargo();
        c.args(["fuzz", "run", target, "--"])
            .arg(format!("-max_total_time={seconds}"));
        step("fuzz-run", c)?;
    }
    Ok(())
}
