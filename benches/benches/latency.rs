//! REQ→REP round-trip latency for 16-byte messages, tiermq side by side
//! with libzmq in the same run, over tcp, ipc and inproc.
//!
//! Both ends run in this process on two threads, tuned alike (one I/O
//! thread, default HWMs and buffers); one warm-up round trip precedes the
//! clock. Criterion reports the time of one round trip. A library whose
//! `Context::socket(REQ)` fails (tiermq before it had REQ/REP) is skipped
//! with a printed note, so the other's rows still run.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tiermq_benches::{Lib, Role, Runtime, Spec, Transport, run};

fn spec(lib: Lib, transport: Transport, count: u64) -> Spec {
    Spec {
        role: Role::ReqRep,
        lib,
        transport,
        size: 16,
        count,
        endpoint: None,
        hwm: 1000,
        buf: 0,
        runtime: Runtime::Current,
        curve: None,
        fresh: false,
        subs: 1,
        control: None,
        tiers: (1, 1),
    }
}

fn round_trip(c: &mut Criterion) {
    for &transport in Transport::ALL {
        let mut group = c.benchmark_group(format!("req_rep/{}", transport.name()));
        group.measurement_time(Duration::from_secs(2));
        group.warm_up_time(Duration::from_millis(500));
        group.sample_size(10);
        for lib in [Lib::Tiermq, Lib::Libzmq] {
            // One probe run tells whether this library has REQ/REP here.
            if let Err(e) = run(&spec(lib, transport, 1), &mut |_| {}, &mut || {}) {
                println!("req_rep/{}/{}: skipped ({e})", transport.name(), lib.name());
                continue;
            }
            group.bench_function(BenchmarkId::new(lib.name(), 16), |b| {
                b.iter_custom(|iters| {
                    let report = run(&spec(lib, transport, iters), &mut |_| {}, &mut || {})
                        .unwrap_or_else(|e| panic!("{} {}: {e}", lib.name(), transport.name()));
                    Duration::from_secs_f64(report.secs.unwrap_or_default())
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, round_trip);
criterion_main!(benches);
