//! What a writer pays per message to publish into a ring that another
//! thread drains in batches, by how it publishes:
//!
//! - `mutex`: a lock and an unlock per message, as `tiermq-pipe` does now;
//! - `release + fence`: a release store of the tail, then a SeqCst fence
//!   and a load of the reader's "asleep" flag, the per-message cost of any
//!   lock-free queue whose writer checks whether to wake its reader;
//! - `release`: a release store of the tail alone.
//!
//! Each message is three words (24 bytes, about an encoded 16 B frame).
//! The reader takes at least 100 messages at a time, as the I/O thread
//! takes a pipe's bytes. Run with
//! `cargo run --release -p tiermq-benches --example fence_probe`;
//! docs/benchmarks.md ("Ninth session") has the figures and what they
//! mean for the pipe's design.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
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
    }
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
        if how == Publish::ReleaseFence {
            fence(Ordering::SeqCst);
            wakes += u64::from(ring.asleep.load(Ordering::Relaxed));
        }
    }
    let elapsed = start.elapsed();
    ring.stop.store(true, Ordering::Release);
    let sum = reader.join().unwrap_or(0);
    // Every word the writer stored was read once: a broken ring shows.
    let expected: u64 = (0..MESSAGES).map(|i| i * MSG as u64).sum();
    assert_eq!(sum, expected, "the reader saw every message once");
    assert_eq!(wakes, 0);
    elapsed.as_nanos() as f64 / MESSAGES as f64
}

fn main() {
    println!("ns per message on the writer (3 rounds)");
    for _ in 0..3 {
        println!(
            "mutex {:5.1}   release + fence {:5.1}   release {:5.1}",
            run(Publish::Mutex),
            run(Publish::ReleaseFence),
            run(Publish::Release)
        );
    }
}
