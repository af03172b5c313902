//! PUSH→PULL throughput, tiermq side by side with libzmq in the same run,
//! plus tiermq's tiered PUSH (4 tiers × 8 peers) against one tier of 8
//! peers and against one peer.
//!
//! Both libraries run the same code (`tiermq_benches::zmq_like`): one
//! context with one I/O thread, SNDHWM = RCVHWM = 1000, the same kernel
//! buffers (4 MiB on tcp, as zmq.rs sets them; 1 MiB on ipc, as omq sets
//! them). The receiver runs on its own thread and times the messages after
//! the first; connection setup is outside the clock. Criterion reports
//! messages per second (an element is one message).

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tiermq_benches::tiered::tiered_push_pull;
use tiermq_benches::{Lib, Role, Runtime, SIZES, Spec, Transport, run};

const HWM: u32 = 1000;

/// The kernel buffers every library gets on `transport`.
fn buf(transport: Transport) -> usize {
    match transport {
        Transport::Tcp => 4 << 20,
        Transport::Ipc => 1 << 20,
        Transport::Inproc => 0,
    }
}

fn push_pull(lib: Lib, transport: Transport, size: usize, iters: u64) -> Duration {
    let spec = Spec {
        role: Role::PushPull,
        lib,
        transport,
        size,
        count: iters,
        endpoint: None,
        hwm: HWM,
        buf: buf(transport),
        runtime: Runtime::Current,
        curve: None,
        fresh: false,
        subs: 1,
        control: None,
        tiers: (1, 1),
    };
    match run(&spec, &mut |_| {}, &mut || {}) {
        Ok(report) => Duration::from_secs_f64(report.secs.unwrap_or_default()),
        Err(e) => panic!("{} {} {size}: {e}", lib.name(), transport.name()),
    }
}

fn throughput(c: &mut Criterion) {
    for &transport in Transport::ALL {
        let mut group = c.benchmark_group(format!("push_pull/{}", transport.name()));
        group.measurement_time(Duration::from_secs(2));
        group.warm_up_time(Duration::from_millis(500));
        group.sample_size(10);
        group.throughput(Throughput::Elements(1));
        for &size in SIZES {
            for lib in [Lib::Tiermq, Lib::Libzmq] {
                group.bench_with_input(BenchmarkId::new(lib.name(), size), &size, |b, &size| {
                    b.iter_custom(|iters| push_pull(lib, transport, size, iters))
                });
            }
        }
        group.finish();
    }
}

fn tiered(c: &mut Criterion) {
    let mut group = c.benchmark_group("tiered_push/16");
    group.measurement_time(Duration::from_secs(2));
    group.warm_up_time(Duration::from_millis(500));
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    for transport in [Transport::Inproc, Transport::Tcp] {
        // 1x8 has the first tier of 4x8, and 1x8 against 1x1 is what
        // spreading over 8 connections costs. 4x8 against 1x8 is what the
        // tiers cost, plus, whenever the sender outruns the first tier's
        // pipes (all at SNDHWM), the lower tiers' connections it spills to.
        for (tiers, peers, name) in [(1, 1, "1x1"), (1, 8, "1x8"), (4, 8, "4x8")] {
            group.bench_function(BenchmarkId::new(transport.name(), name), |b| {
                b.iter_custom(|iters| {
                    tiered_push_pull(transport, tiers, peers, 16, iters, HWM as i32)
                        .unwrap_or_else(|e| panic!("tiered {name}: {e}"))
                        .elapsed
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, throughput, tiered);
criterion_main!(benches);
