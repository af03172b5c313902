//! Two threads move many messages through pipes of various high-water marks,
//! checking order, completeness and how few wake-ups that took.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use tiermq_pipe::{Config, RecvError, SendError, Wake, pipe};

/// Generous bound on any single wait, so a lost wake-up fails the test
/// instead of hanging it. Never reached when the pipe works.
const STUCK: Duration = Duration::from_secs(20);

/// A sticky wake-up flag with a count of wakes, the way an event loop
/// would consume a waker.
#[derive(Default)]
struct Signal {
    raised: Mutex<bool>,
    cv: Condvar,
    wakes: AtomicUsize,
}

impl Wake for Signal {
    fn wake(&self) {
        self.wakes.fetch_add(1, Ordering::Relaxed);
        let mut raised = self.raised.lock().unwrap();
        *raised = true;
        self.cv.notify_one();
    }
}

impl Signal {
    /// Waits for (and consumes) a wake; false if none came in `STUCK`.
    fn wait(&self) -> bool {
        let raised = self.raised.lock().unwrap();
        let (mut raised, _) = self.cv.wait_timeout_while(raised, STUCK, |r| !*r).unwrap();
        std::mem::replace(&mut *raised, false)
    }
}

struct Outcome {
    reader_wakes: usize,
    writer_wakes: usize,
}

/// Sends `0..messages` from one thread and checks, on another, that they
/// arrive complete and in order. The reader behaves like an event loop: it
/// drains in batches, and after a wake-up it pauses for `latency` (poll
/// latency), which lets messages accumulate as they would in practice.
fn transfer(hwm: usize, messages: u64, latency: Duration) -> Outcome {
    let (tx, rx) = pipe::<Vec<u8>>(Config::new(hwm));
    let reader_signal = Arc::new(Signal::default());
    let writer_signal = Arc::new(Signal::default());
    rx.set_waker(Some(reader_signal.clone()));
    tx.set_waker(Some(writer_signal.clone()));

    let reader_wakes = Arc::clone(&reader_signal);
    let reader = thread::spawn(move || {
        let mut expected = 0u64;
        let mut batch = Vec::new();
        loop {
            match rx.recv_batch(&mut batch, 64) {
                Ok(_) => {
                    for msg in batch.drain(..) {
                        let seq = u64::from_le_bytes(msg[..8].try_into().unwrap());
                        assert_eq!(seq, expected, "hwm {hwm}: out of order");
                        expected += 1;
                    }
                }
                Err(RecvError::Empty) => {
                    assert!(reader_signal.wait(), "hwm {hwm}: reader never woken");
                    if !latency.is_zero() {
                        thread::sleep(latency);
                    }
                }
                Err(RecvError::Closed) => break,
            }
        }
        expected
    });

    for seq in 0..messages {
        let mut msg = seq.to_le_bytes().to_vec();
        loop {
            match tx.try_send(msg) {
                Ok(_) => break,
                Err(SendError::Full(back)) => {
                    msg = back;
                    assert!(writer_signal.wait(), "hwm {hwm}: writer never woken");
                }
                Err(SendError::Closed(_)) => panic!("hwm {hwm}: closed early"),
            }
        }
        if hwm != 0 && seq % 64 == 0 {
            assert!(tx.stats().queued <= hwm);
        }
    }
    drop(tx);
    let received = reader.join().expect("reader thread");
    assert_eq!(received, messages, "hwm {hwm}: lost messages");
    Outcome {
        // The writer's close accounts for one reader wake.
        reader_wakes: reader_wakes.wakes.load(Ordering::Relaxed),
        writer_wakes: writer_signal.wakes.load(Ordering::Relaxed),
    }
}

/// A deterministic xorshift, so every run tests the same "random" marks.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn two_threads_keep_order_with_few_wakeups() {
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    let mut hwms = vec![0, 1, 2, 16, 64, 1000];
    hwms.extend((0..3).map(|_| 3 + (xorshift(&mut seed) % 5000) as usize));
    let mut total = 0;
    for hwm in hwms {
        // Tiny marks force a hand-over per message or two: fewer messages.
        let messages = if (1..16).contains(&hwm) {
            20_000
        } else {
            200_000
        };
        let latency = if (1..16).contains(&hwm) {
            Duration::ZERO
        } else {
            Duration::from_micros(100)
        };
        let out = transfer(hwm, messages, latency);
        total += messages;
        let wakes = out.reader_wakes + out.writer_wakes;
        eprintln!(
            "hwm {hwm}: {messages} messages, {} reader wakes, {} writer wakes",
            out.reader_wakes, out.writer_wakes
        );
        if hwm >= 2 {
            // Each writer wake ends a full episode, and after the first one
            // each episode needs `hwm - lwm` more sends.
            let lwm = Config::new(hwm).effective_lwm() as u64;
            assert!(out.writer_wakes as u64 <= 1 + messages / (hwm as u64 - lwm));
        }
        // A reader slower than the writer fills the pipe, drains it whole
        // (one writer wake) and then finds it refilled from empty (one
        // reader wake): two wakes per `hwm` messages at worst. With the
        // marks below that is at most one wake per eight messages.
        if hwm == 0 || hwm >= 64 {
            assert!(
                wakes * 10 < messages as usize,
                "hwm {hwm}: {wakes} wake-ups for {messages} messages"
            );
        } else if hwm >= 16 {
            assert!(
                wakes * 4 < messages as usize,
                "hwm {hwm}: {wakes} wake-ups for {messages} messages"
            );
        }
    }
    assert!(total >= 1_000_000);
}

/// The connection dies mid-stream: the reader closes after taking some
/// messages (and, in some rounds, reclaims from its side), while the writer
/// is still sending. Everything sent must come out exactly once, in order:
/// what the reader took, then what was reclaimed, then the message the
/// failed send handed back.
#[test]
fn failover_mid_stream_loses_and_duplicates_nothing() {
    const SENT: u64 = 20_000;
    for (round, hwm) in [0usize, 1, 7, 64, 1000, 3].into_iter().enumerate() {
        let (tx, rx) = pipe::<Vec<u8>>(Config::new(hwm));
        let stop_after = 500 + round as u64 * 2_000;
        let reclaim_in_reader = round % 2 == 1;
        let reader = thread::spawn(move || {
            let mut got = Vec::new();
            let mut batch = Vec::new();
            while (got.len() as u64) < stop_after {
                match rx.recv_batch(&mut batch, 16) {
                    Ok(_) => got.append(&mut batch),
                    Err(RecvError::Empty) => thread::yield_now(),
                    Err(RecvError::Closed) => panic!("closed before the reader closed"),
                }
            }
            rx.close();
            let reclaimed = if reclaim_in_reader {
                rx.reclaim_unsent()
            } else {
                Vec::new()
            };
            (got, reclaimed)
        });
        let mut handed_back = None;
        for seq in 0..SENT {
            let deadline = Some(std::time::Instant::now() + STUCK);
            match tx.send_deadline(seq.to_le_bytes().to_vec(), deadline) {
                Ok(_) => {}
                Err(SendError::Closed(msg)) => {
                    handed_back = Some(msg);
                    break;
                }
                Err(SendError::Full(_)) => panic!("hwm {hwm}: writer never got room"),
            }
        }
        let (mut all, reclaimed) = reader.join().expect("reader thread");
        all.extend(reclaimed);
        all.extend(tx.reclaim_unsent());
        all.extend(handed_back);
        let seqs: Vec<u64> = all
            .iter()
            .map(|m| u64::from_le_bytes(m[..8].try_into().unwrap()))
            .collect();
        let want: Vec<u64> = (0..seqs.len() as u64).collect();
        assert_eq!(seqs, want, "hwm {hwm}: lost, duplicated or reordered");
        assert!(seqs.len() as u64 >= stop_after);
        let stats = tx.stats();
        assert_eq!(stats.total_in, stats.total_out + stats.reclaimed);
        assert_eq!(stats.queued, 0);
    }
}
