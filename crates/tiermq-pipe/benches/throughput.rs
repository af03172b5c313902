//! Two-thread throughput of a pipe against `std::sync::mpsc`, 16-byte
//! messages. Each iteration moves `MESSAGES` messages from a writer thread to
//! a reader thread; criterion reports elements (messages) per second. A
//! second group measures the uncontended cost on one thread: 256 sends, then
//! one batch receive.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tiermq_pipe::{Config, RecvError, SendError, Wake, pipe};

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

/// A sticky flag an event loop would wait on, set by a pipe's waker.
#[derive(Default)]
struct Signal {
    raised: Mutex<bool>,
    cv: Condvar,
}

impl Wake for Signal {
    fn wake(&self) {
        let mut raised = self.raised.lock().unwrap_or_else(|e| e.into_inner());
        *raised = true;
        self.cv.notify_one();
    }
}

impl Signal {
    fn wait(&self) {
        let mut raised = self.raised.lock().unwrap_or_else(|e| e.into_inner());
        while !*raised {
            raised = self.cv.wait(raised).unwrap_or_else(|e| e.into_inner());
        }
        *raised = false;
    }
}

/// The I/O-thread pattern: both ends react to their wakers only; the reader
/// drains with `recv_batch` until `Empty`, then waits for its waker.
fn run_pipe_wakers(n: u64, hwm: usize) -> Duration {
    let (tx, rx) = pipe::<Bytes>(Config::new(hwm));
    let readable = Arc::new(Signal::default());
    let writable = Arc::new(Signal::default());
    rx.set_waker(Some(readable.clone()));
    tx.set_waker(Some(writable.clone()));
    let start = Instant::now();
    let reader = thread::spawn(move || {
        let mut got = 0u64;
        let mut buf = Vec::with_capacity(256);
        loop {
            match rx.recv_batch(&mut buf, 256) {
                Ok(k) => {
                    got += k as u64;
                    buf.clear();
                }
                Err(RecvError::Empty) => readable.wait(),
                Err(RecvError::Closed) => break,
            }
        }
        got
    });
    for _ in 0..n {
        let mut msg = Bytes::from_static(PAYLOAD);
        loop {
            match tx.try_send(msg) {
                Ok(_) => break,
                Err(SendError::Full(back)) => {
                    msg = back;
                    writable.wait();
                }
                Err(SendError::Closed(_)) => panic!("reader closed early"),
            }
        }
    }
    drop(tx);
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
    group.bench_function("pipe_hwm1000_wakers", |b| {
        b.iter_custom(|iters| per_message(iters, || run_pipe_wakers(MESSAGES, 1000)))
    });
    group.bench_function("pipe_unlimited_wakers", |b| {
        b.iter_custom(|iters| per_message(iters, || run_pipe_wakers(MESSAGES, 0)))
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
