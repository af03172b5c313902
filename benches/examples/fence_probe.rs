//! What a writer pays per message to publish into a ring that another
//! thread drains in batches, by how it publishes:
//!
//! - `mutex`: a lock and an unlock per message, as `tiermq-pipe` does now;
//! - `release + fence`: a release store of the tail, then a SeqCst fence
//!   and a load of the reader's "asleep" flag, the per-message cost of any
//!   lock-free queue whose writer checks whether to wake its reader;
//! - `release`: a release store of the tail alone;
//! - `release, reader membarrier`: the same, with a compiler fence and a
//!   load of the flag, and the reader paying for the check instead: after
//!   each batch it arms its flag and calls
//!   `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` (the heavy half of an
//!   asymmetric fence), as a reader about to sleep would.
//!
//! It also times `membarrier` alone, and with another thread of the
//! process running on another CPU.
//!
//! Each message is three words (24 bytes, about an encoded 16 B frame).
//! The reader takes at least 100 messages at a time, as the I/O thread
//! takes a pipe's bytes. Run with
//! `cargo run --release -p tiermq-benches --example fence_probe`;
//! docs/benchmarks.md ("Ninth session") has the figures and what they
//! mean for the pipe's design.

use rustix::thread::{MembarrierCommand, membarrier};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, compiler_fence, fence};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Ring size in words (128 KiB).
const WORDS: usize = 1 << 14;
/// Words per message.
const MSG: usize = 3;
/// The reader waits for this many messages before it takes them.
const BATCH: usize = 100;
const MESSAGES: u64 = 20_000_000;

#[derive(Clone, Copy, PartialEq)]
enum Publish {
    Mutex,
    ReleaseFence,
    Release,
    ReaderMembarrier,
}

struct Ring {
    words: Vec<AtomicU64>,
    /// Written by the writer; the reader polls it without a lock.
    tail: AtomicUsize,
    /// Written by the reader once it has taken a batch.
    head: AtomicUsize,
    /// `(head, tail)` under a lock, for `Publish::Mutex`.
    locked: Mutex<(usize, usize)>,
    /// The reader's "asleep" flag; it never sleeps, only the check costs.
    asleep: AtomicBool,
    stop: AtomicBool,
}

fn lock(m: &Mutex<(usize, usize)>) -> std::sync::MutexGuard<'_, (usize, usize)> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read(ring: &Ring, how: Publish) -> u64 {
    let mut sum = 0u64;
    let mut head = 0;
    loop {
        let stop = ring.stop.load(Ordering::Acquire);
        let seen = ring.tail.load(Ordering::Acquire);
        if seen - head < BATCH * MSG && !stop {
            std::hint::spin_loop();
            continue;
        }
        let tail = if how == Publish::Mutex {
            lock(&ring.locked).1
        } else {
            seen
        };
        if tail == head && stop {
            return sum;
        }
        while head < tail {
            sum = sum.wrapping_add(ring.words[head % WORDS].load(Ordering::Relaxed));
            head += 1;
        }
        if how == Publish::Mutex {
            lock(&ring.locked).0 = head;
        } else {
            ring.head.store(head, Ordering::Release);
        }
        if how == Publish::ReaderMembarrier {
            ring.asleep.store(true, Ordering::Relaxed);
            heavy_barrier();
            // A reader would look at the tail again here, then sleep.
            ring.asleep.store(false, Ordering::Relaxed);
        }
    }
}

/// Every thread of the process executes a full barrier.
fn heavy_barrier() {
    let _ = membarrier(MembarrierCommand::PrivateExpedited);
}

/// Nanoseconds per message on the writer.
fn run(how: Publish) -> f64 {
    let ring = Arc::new(Ring {
        words: (0..WORDS).map(|_| AtomicU64::new(0)).collect(),
        tail: AtomicUsize::new(0),
        head: AtomicUsize::new(0),
        locked: Mutex::new((0, 0)),
        asleep: AtomicBool::new(false),
        stop: AtomicBool::new(false),
    });
    let reader = {
        let ring = Arc::clone(&ring);
        std::thread::spawn(move || read(&ring, how))
    };
    let start = Instant::now();
    let mut tail = 0;
    let mut head = 0;
    let mut wakes = 0u64;
    for i in 0..MESSAGES {
        if how == Publish::Mutex {
            let mut g = lock(&ring.locked);
            while g.1 + MSG - g.0 > WORDS {
                drop(g);
                std::hint::spin_loop();
                g = lock(&ring.locked);
            }
            for k in 0..MSG {
                ring.words[(g.1 + k) % WORDS].store(i, Ordering::Relaxed);
            }
            g.1 += MSG;
            // The lock-free mirror the reader polls (tiermq-pipe keeps
            // one too, `queued`).
            ring.tail.store(g.1, Ordering::Release);
            continue;
        }
        while tail + MSG - head > WORDS {
            head = ring.head.load(Ordering::Acquire);
            std::hint::spin_loop();
        }
        for k in 0..MSG {
            ring.words[(tail + k) % WORDS].store(i, Ordering::Relaxed);
        }
        tail += MSG;
        ring.tail.store(tail, Ordering::Release);
        match how {
            Publish::ReleaseFence => {
                fence(Ordering::SeqCst);
                wakes += u64::from(ring.asleep.load(Ordering::Relaxed));
            }
            Publish::ReaderMembarrier => {
                compiler_fence(Ordering::SeqCst);
                // Seen armed now and then; a real writer would wake it.
                wakes += u64::from(ring.asleep.load(Ordering::Relaxed));
            }
            _ => {}
        }
    }
    let elapsed = start.elapsed();
    ring.stop.store(true, Ordering::Release);
    let sum = reader.join().unwrap_or(0);
    // Every word the writer stored was read once: a broken ring shows.
    let expected: u64 = (0..MESSAGES).map(|i| i * MSG as u64).sum();
    assert_eq!(sum, expected, "the reader saw every message once");
    if how == Publish::ReleaseFence {
        assert_eq!(wakes, 0, "the reader never arms in this mode");
    }
    elapsed.as_nanos() as f64 / MESSAGES as f64
}

/// Microseconds per `membarrier` call, with `busy` other threads spinning.
fn time_membarrier(busy: usize) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..busy)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    let calls = 20_000;
    let start = Instant::now();
    for _ in 0..calls {
        heavy_barrier();
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    spinners.into_iter().for_each(|t| {
        let _ = t.join();
    });
    elapsed.as_secs_f64() * 1e6 / f64::from(calls)
}

fn main() {
    if let Err(e) = membarrier(MembarrierCommand::RegisterPrivateExpedited) {
        eprintln!("membarrier refused ({e}): its rows measure a failing call");
    }
    println!(
        "membarrier: {:.2} us alone, {:.2} us with another thread running",
        time_membarrier(0),
        time_membarrier(1)
    );
    println!("ns per message on the writer (3 rounds)");
    for _ in 0..3 {
        println!(
            "mutex {:5.1}   release + fence {:5.1}   release {:5.1}   release, reader membarrier {:5.1}",
            run(Publish::Mutex),
            run(Publish::ReleaseFence),
            run(Publish::Release),
            run(Publish::ReaderMembarrier)
        );
    }
}
