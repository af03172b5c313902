//! One role of one library per process: the unit `cargo xtask bench` runs.
//!
//! `tiermq-bench ROLE LIB TRANSPORT SIZE COUNT [--endpoint EP] [--hwm N]
//! [--buf BYTES] [--runtime current|multi]`; the lines it prints are
//! described in the `tiermq_benches` crate docs. A role that does not own
//! the clock holds its connection until its standard input closes.

use std::io::{Read, Write};
use std::process::ExitCode;

use tiermq_benches::{Spec, USAGE, run};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}\n{}", tiermq_benches::curve::USAGE);
        return ExitCode::SUCCESS;
    }
    let spec = match Spec::parse(&args) {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!("tiermq-bench: {e}\n{}", USAGE);
            return ExitCode::from(2);
        }
    };
    let mut announce = |endpoint: &str| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "ENDPOINT {endpoint}");
        let _ = out.flush();
    };
    let mut hold = || {
        // Read to end of file: the driver closes our stdin when the run is over.
        let _ = std::io::stdin().lock().read_to_end(&mut Vec::new());
    };
    match run(&spec, &mut announce, &mut hold) {
        Ok(report) => {
            println!("{}", report.line());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "tiermq-bench {} {} {} {}: {e}",
                spec.role.name(),
                spec.lib.name(),
                spec.transport.name(),
                spec.size
            );
            ExitCode::FAILURE
        }
    }
}
