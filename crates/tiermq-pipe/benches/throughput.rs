//! Two-thread throughput of a pipe against `std::sync::mpsc`, 16-byte
//! messages. Each iteration moves `MESSAGES` messages from a writer thread to
//! a reader thread; criterion reports elements (messages) per second. A
//! second group measures the uncontended cost on one thread: 256 sends, then
//! one batch receive.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tiermq_pipe::{Config, RecvError, pipe};

const MESSAGES: u64 = 200_000;
const PAYLOAD: &[u8; 16] = b"0123456789abcdef";

/// Moves `n` messages through a pipe; the reader takes them in batches of
/// `batch` (1: one `recv_deadline` per message).
fn run_pipe(n: u64, hwm: usize, batch: usize) -> Duration {
    let (tx, rx) = pipe::<Bytes>(Config::new(hwm));
    let start = Instant::now();
    let reader = thread::spawn(move || {
        let mut got = 0u64;
        let mut buf = Vec::with_capacity(batch);
        while got < n {
            if batch > 1 {
                match rx.recv_batch(&mut buf, batch) {
                    Ok(k) => {
                        got += k as u64;
                        buf.clear();
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                    Err(RecvError::Empty) => {}
                }
            }
            match rx.recv_deadline(None) {
                Ok(_) => got += 1,
                Err(_) => break,
            }
        }
        got
    });
    for _ in 0..n {
        if tx.send_deadline(Bytes::from_static(PAYLOAD), None).is_err() {
            break;
        }
    }
    assert_eq!(reader.join().ok(), Some(n));
    start.elapsed()
}

fn run_channel(n: u64) -> Duration {
    let (tx, rx) = mpsc::channel::<Bytes>();
    let start = Instant::now();
    let reader = thread::spawn(move || rx.iter().take(n as usize).count() as u64);
    for _ in 0..n {
        if tx.send(Bytes::from_static(PAYLOAD)).is_err() {
            break;
        }
    }
    assert_eq!(reader.join().ok(), Some(n));
    start.elapsed()
}

fn run_sync_channel(n: u64, bound: usize) -> Duration {
    let (tx, rx) = mpsc::sync_channel::<Bytes>(bound);
    let start = Instant::now();
    let reader = thread::spawn(move || rx.iter().take(n as usize).count() as u64);
    for _ in 0..n {
        if tx.send(Bytes::from_static(PAYLOAD)).is_err() {
            break;
        }
    }
    assert_eq!(reader.join().ok(), Some(n));
    start.elapsed()
}

fn per_message(iters: u64, run: impl Fn() -> Duration) -> Duration {
    (0..iters).map(|_| run()).sum()
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("two_threads_16B");
    group.throughput(Throughput::Elements(MESSAGES));
    group.bench_function("pipe_hwm1000_batch256", |b| {
        b.iter_custom(|iters| per_message(iters, || run_pipe(MESSAGES, 1000, 256)))
    });
    group.bench_function("pipe_unlimited_batch256", |b| {
        b.iter_custom(|iters| per_message(iters, || run_pipe(MESSAGES, 0, 256)))
    });
    group.bench_function("pipe_hwm1000_single", |b| {
        b.iter_custom(|iters| per_message(iters, || run_pipe(MESSAGES, 1000, 1)))
    });
    group.bench_function("mpsc_channel", |b| {
        b.iter_custom(|iters| per_message(iters, || run_channel(MESSAGES)))
    });
    group.bench_function("mpsc_sync_channel1000", |b| {
        b.iter_custom(|iters| per_message(iters, || run_sync_channel(MESSAGES, 1000)))
    });
    group.finish();
}

fn uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("one_thread_16B");
    group.throughput(Throughput::Elements(256));
    group.bench_function("pipe_send256_batch", |b| {
        let (tx, rx) = pipe::<Bytes>(Config::new(1000));
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            for _ in 0..256 {
                let _ = tx.try_send(Bytes::from_static(PAYLOAD));
            }
            let _ = rx.recv_batch(&mut out, 256);
            out.clear();
        })
    });
    group.bench_function("mpsc_channel_send256_recv256", |b| {
        let (tx, rx) = mpsc::channel::<Bytes>();
        b.iter(|| {
            for _ in 0..256 {
                let _ = tx.send(Bytes::from_static(PAYLOAD));
            }
            rx.try_iter().for_each(drop);
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = throughput, uncontended
}
criterion_main!(benches);
