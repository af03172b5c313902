//! PUSH -> PULL throughput: `cargo run --release --example throughput -- [inproc|tcp|ipc] [size] [count]`.
//!
//! The receiver runs on its own thread; the figure is messages received
//! per second, from the first send to the last receive.

use std::time::Instant;

fn main() -> tiermq::Result<()> {
    let mut args = std::env::args().skip(1);
    let transport = args.next().unwrap_or_else(|| "inproc".into());
    let size: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(64);
    let count: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let endpoint = match transport.as_str() {
        "tcp" => "tcp://127.0.0.1:*".to_owned(),
        "ipc" => format!(
            "ipc://{}/tiermq-throughput-{}.ipc",
            std::env::temp_dir().display(),
            std::process::id()
        ),
        _ => "inproc://throughput".to_owned(),
    };

    let ctx = tiermq::Context::new();
    let pull = ctx.socket(tiermq::PULL)?;
    pull.bind(&endpoint)?;
    let endpoint = pull.get_last_endpoint()?.unwrap_or_default();
    let receiver = std::thread::spawn(move || -> tiermq::Result<Instant> {
        for _ in 0..count {
            pull.recv_msg(0)?;
        }
        Ok(Instant::now())
    });

    let push = ctx.socket(tiermq::PUSH)?;
    push.connect(&endpoint)?;
    let payload = tiermq::Bytes::from(vec![0u8; size]);
    let start = Instant::now();
    for _ in 0..count {
        push.send(payload.clone(), 0)?;
    }
    let end = receiver.join().expect("receiver thread")?;
    let secs = (end - start).as_secs_f64();
    println!(
        "{transport}: {count} x {size} B in {secs:.3} s = {:.0} msg/s, {:.1} MB/s",
        count as f64 / secs,
        (count * size) as f64 / secs / 1e6
    );
    Ok(())
}
