//! The `tiermq` binary: see the `tiermq_cli` library for what it does.

fn main() {
    let args: Vec<String> = match std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect::<Result<_, _>>()
    {
        Ok(args) => args,
        Err(bad) => {
            eprintln!("tiermq: error: argument {bad:?} is not valid UTF-8");
            std::process::exit(2);
        }
    };
    std::process::exit(tiermq_cli::run(args));
}
