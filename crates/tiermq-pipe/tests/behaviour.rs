//! The pipe's promises, one at a time: water marks, closing, lingering,
//! blocking with deadlines, reclaim and wake-ups.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tiermq_pipe::{Config, RecvError, Room, SendError, Wake, pipe, pipe_with};

/// Bound on waits that must end early; only reached if the pipe is broken.
const STUCK: Duration = Duration::from_secs(20);

fn soon() -> Option<Instant> {
    Some(Instant::now() + STUCK)
}

fn counter() -> (Arc<AtomicUsize>, Arc<dyn Wake>) {
    let count = Arc::new(AtomicUsize::new(0));
    let inner = Arc::clone(&count);
    (
        count,
        Arc::new(move || {
            inner.fetch_add(1, Ordering::SeqCst);
        }),
    )
}

#[test]
fn full_at_hwm_and_writable_again_only_at_lwm() {
    let (tx, rx) = pipe::<Bytes>(Config::new(4).with_lwm(1));
    for _ in 0..3 {
        assert_eq!(tx.try_send(Bytes::from_static(b"m")), Ok(Room::Available));
    }
    assert_eq!(tx.try_send(Bytes::from_static(b"m")), Ok(Room::Full));
    assert!(tx.is_full());
    let refused = tx.try_send(Bytes::from_static(b"x")).unwrap_err();
    assert!(refused.is_full());
    assert_eq!(refused.into_inner(), Bytes::from_static(b"x"));
    // 3 and 2 queued: still above the low-water mark, still full.
    rx.try_recv().unwrap();
    rx.try_recv().unwrap();
    assert!(tx.is_full());
    assert!(matches!(tx.try_send(Bytes::new()), Err(SendError::Full(_))));
    assert_eq!(tx.stats().room, Some(0));
    // 1 queued: at the low-water mark, writable.
    rx.try_recv().unwrap();
    assert!(!tx.is_full());
    assert_eq!(tx.stats().room, Some(3));
    assert_eq!(tx.try_send(Bytes::new()), Ok(Room::Available));
}

#[test]
fn a_multipart_message_counts_once() {
    let (tx, rx) = pipe_with::<Vec<Bytes>>(Config::new(2), |m| m.iter().map(Bytes::len).sum());
    let three = vec![
        Bytes::from_static(b"ab"),
        Bytes::from_static(b"cde"),
        Bytes::new(),
    ];
    assert_eq!(tx.try_send(three.clone()), Ok(Room::Available));
    let stats = tx.stats();
    assert_eq!(
        (stats.queued, stats.queued_bytes, stats.room),
        (1, 5, Some(1))
    );
    assert_eq!(rx.try_recv(), Ok(three));
    let stats = rx.stats();
    assert_eq!(
        (stats.total_out, stats.bytes_out, stats.queued_bytes),
        (1, 5, 0)
    );
}

#[test]
fn unlimited_pipe_is_never_full() {
    let (tx, rx) = pipe::<Vec<u8>>(Config::new(0));
    for i in 0..10_000u32 {
        assert_eq!(tx.try_send(i.to_le_bytes().to_vec()), Ok(Room::Available));
    }
    let stats = tx.stats();
    assert_eq!(
        (stats.room, stats.full, stats.queued),
        (None, false, 10_000)
    );
    let mut out = Vec::new();
    assert_eq!(rx.recv_batch(&mut out, usize::MAX), Ok(10_000));
    assert_eq!(out[9_999], 9_999u32.to_le_bytes());
}

#[test]
fn writer_close_lets_the_reader_drain_then_see_closed() {
    let (tx, rx) = pipe::<String>(Config::new(10));
    let (wakes, waker) = counter();
    tx.try_send("a".into()).unwrap();
    rx.set_waker(Some(waker)); // something queued: called at once
    assert_eq!(wakes.load(Ordering::SeqCst), 1);
    tx.close();
    assert_eq!(wakes.load(Ordering::SeqCst), 2);
    assert!(tx.is_closed() && rx.is_closed());
    assert!(matches!(tx.try_send("b".into()), Err(SendError::Closed(m)) if m == "b"));
    assert_eq!(rx.try_recv().as_deref(), Ok("a"));
    assert_eq!(rx.try_recv(), Err(RecvError::Closed));
    let mut out = Vec::new();
    assert_eq!(rx.recv_batch(&mut out, 8), Err(RecvError::Closed));
    tx.close(); // twice: nothing more
    assert_eq!(wakes.load(Ordering::SeqCst), 2);
}

#[test]
fn reader_close_refuses_sends_and_leaves_messages_reclaimable() {
    let (tx, rx) = pipe::<String>(Config::new(2));
    let (wakes, waker) = counter();
    tx.set_waker(Some(waker));
    tx.try_send("a".into()).unwrap();
    tx.try_send("b".into()).unwrap();
    rx.close();
    assert_eq!(wakes.load(Ordering::SeqCst), 1);
    assert_eq!(rx.try_recv(), Err(RecvError::Closed));
    assert!(matches!(tx.try_send("c".into()), Err(SendError::Closed(_))));
    assert!(!tx.linger(soon()), "the reader left messages behind");
    assert_eq!(tx.reclaim_unsent(), ["a", "b"]);
    assert!(tx.reclaim_unsent().is_empty());
    let stats = tx.stats();
    assert_eq!((stats.total_in, stats.reclaimed, stats.queued), (2, 2, 0));
}

#[test]
fn dropping_an_end_closes_it() {
    let (tx, rx) = pipe::<Vec<u8>>(Config::default());
    tx.try_send(vec![1]).unwrap();
    drop(tx);
    assert_eq!(rx.try_recv(), Ok(vec![1]));
    assert_eq!(rx.recv_deadline(None), Err(RecvError::Closed));

    let (tx, rx) = pipe::<Vec<u8>>(Config::default());
    tx.try_send(vec![2]).unwrap();
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.reclaim_unsent(), [vec![2]]);
}

#[test]
fn reclaim_never_returns_what_the_reader_took() {
    let (tx, rx) = pipe::<Vec<u8>>(Config::new(8));
    for i in 0..6 {
        tx.try_send(vec![i]).unwrap();
    }
    let mut out = Vec::new();
    assert_eq!(rx.recv_batch(&mut out, 2), Ok(2));
    assert_eq!(rx.try_recv(), Ok(vec![2]));
    assert_eq!(rx.reclaim_unsent(), [vec![3], vec![4], vec![5]]);
    assert_eq!(tx.reclaim_unsent(), Vec::<Vec<u8>>::new());
    assert_eq!(rx.try_recv(), Err(RecvError::Empty));
}

#[test]
fn reclaim_by_the_reader_ends_the_full_state_and_wakes_the_writer() {
    let (tx, rx) = pipe::<Vec<u8>>(Config::new(1));
    let (wakes, waker) = counter();
    tx.set_waker(Some(waker));
    assert_eq!(tx.try_send(vec![1]), Ok(Room::Full));
    assert_eq!(rx.reclaim_unsent(), [vec![1]]);
    assert!(!tx.is_full());
    assert_eq!(wakes.load(Ordering::SeqCst), 1);
    // The writer's own reclaim does not wake the writer.
    assert_eq!(tx.try_send(vec![2]), Ok(Room::Full));
    assert_eq!(tx.reclaim_unsent(), [vec![2]]);
    assert_eq!(wakes.load(Ordering::SeqCst), 1);
}

#[test]
fn reader_waker_fires_once_per_idle_period() {
    let (tx, rx) = pipe::<Vec<u8>>(Config::new(0));
    let (wakes, waker) = counter();
    rx.set_waker(Some(waker));
    tx.try_send(vec![1]).unwrap();
    tx.try_send(vec![2]).unwrap();
    assert_eq!(
        wakes.load(Ordering::SeqCst),
        1,
        "only the first message wakes"
    );
    // Draining without seeing Empty: a new message does not wake again...
    let mut out = Vec::new();
    rx.recv_batch(&mut out, 10).unwrap();
    tx.try_send(vec![3]).unwrap();
    assert_eq!(wakes.load(Ordering::SeqCst), 1);
    // ...until the reader has seen the pipe empty.
    assert_eq!(rx.try_recv(), Ok(vec![3]));
    assert_eq!(rx.try_recv(), Err(RecvError::Empty));
    tx.try_send(vec![4]).unwrap();
    assert_eq!(wakes.load(Ordering::SeqCst), 2);
}

#[test]
fn send_deadline_waits_for_the_low_water_mark() {
    let (tx, rx) = pipe::<Vec<u8>>(Config::new(4));
    for i in 0..4 {
        tx.try_send(vec![i]).unwrap();
    }
    let short = Some(Instant::now() + Duration::from_millis(20));
    assert!(matches!(tx.send_deadline(vec![9], short), Err(SendError::Full(m)) if m == [9]));
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        while got.len() < 5 {
            got.push(rx.recv_deadline(soon()).expect("message"));
        }
        got
    });
    assert!(tx.send_deadline(vec![4], soon()).is_ok());
    let got = reader.join().unwrap();
    assert_eq!(got, (0..5).map(|i| vec![i]).collect::<Vec<_>>());
}

#[test]
fn send_deadline_returns_the_message_when_the_reader_closes() {
    let (tx, rx) = pipe::<Vec<u8>>(Config::new(1));
    tx.try_send(vec![0]).unwrap();
    let closer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(10));
        rx.close();
    });
    assert!(matches!(tx.send_deadline(vec![1], soon()), Err(SendError::Closed(m)) if m == [1]));
    closer.join().unwrap();
}

#[test]
fn recv_deadline_times_out_empty_and_wakes_on_a_message() {
    let (tx, rx) = pipe::<Vec<u8>>(Config::default());
    let short = Some(Instant::now() + Duration::from_millis(10));
    assert_eq!(rx.recv_deadline(short), Err(RecvError::Empty));
    let writer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(10));
        tx.try_send(vec![7]).unwrap();
        tx
    });
    assert_eq!(rx.recv_deadline(soon()), Ok(vec![7]));
    drop(writer.join().unwrap());
    assert_eq!(rx.recv_deadline(soon()), Err(RecvError::Closed));
}

#[test]
fn linger_is_true_once_the_reader_took_everything() {
    let (tx, rx) = pipe::<Vec<u8>>(Config::new(100));
    assert!(tx.linger(Some(Instant::now())), "nothing queued");
    for i in 0..50 {
        tx.try_send(vec![i]).unwrap();
    }
    tx.close();
    assert!(!tx.linger(Some(Instant::now() + Duration::from_millis(10))));
    let reader = thread::spawn(move || {
        let mut n = 0;
        while rx.recv_deadline(soon()).is_ok() {
            n += 1;
        }
        n
    });
    assert!(tx.linger(soon()));
    assert_eq!(reader.join().unwrap(), 50);
}

#[test]
fn lwm_is_clamped_below_hwm() {
    let (tx, rx) = pipe::<Vec<u8>>(Config::new(3).with_lwm(7));
    assert_eq!(tx.stats().lwm, 2);
    for i in 0..3 {
        tx.try_send(vec![i]).unwrap();
    }
    assert!(tx.is_full());
    rx.try_recv().unwrap();
    assert!(!tx.is_full());
}

#[test]
fn ends_are_send_and_errors_display() {
    fn is_send<T: Send>(_: &T) {}
    let (tx, rx) = pipe::<Bytes>(Config::default());
    is_send(&tx);
    is_send(&rx);
    assert_eq!(RecvError::Closed.to_string(), "pipe is closed");
    assert_eq!(
        format!("{:?}", SendError::Full(vec![0u8; 1 << 20])),
        "Full(..)"
    );
}

#[test]
fn a_batch_goes_in_under_one_wake_and_stops_at_the_hwm() {
    let (tx, rx) = pipe::<Bytes>(Config::new(4));
    let (wakes, waker) = counter();
    rx.set_waker(Some(waker));
    let mut batch: std::collections::VecDeque<Bytes> =
        (0u8..6).map(|i| Bytes::from(vec![i])).collect();
    assert_eq!(tx.try_send_batch(&mut batch), Ok(Room::Full));
    // Four fit; the two that did not are still the caller's, in order.
    assert_eq!(batch, [Bytes::from(vec![4]), Bytes::from(vec![5])]);
    assert_eq!(wakes.load(Ordering::SeqCst), 1);
    assert_eq!(tx.try_send_batch(&mut batch), Ok(Room::Full));
    assert_eq!(batch.len(), 2);
    let mut out = Vec::new();
    assert_eq!(rx.recv_batch(&mut out, 8), Ok(4));
    assert_eq!(out[3], Bytes::from(vec![3]));
    assert_eq!(tx.try_send_batch(&mut batch), Ok(Room::Available));
    assert!(batch.is_empty());
    // The reader had not seen the pipe empty since its wake: no second one.
    assert_eq!(wakes.load(Ordering::SeqCst), 1);
    rx.close();
    batch.push_back(Bytes::new());
    assert_eq!(tx.try_send_batch(&mut batch), Err(SendError::Closed(())));
    assert_eq!(batch.len(), 1);
    let stats = tx.stats();
    assert_eq!((stats.total_in, stats.total_out), (6, 4));
}

#[test]
fn closing_with_unread_gives_a_taken_batch_back_first() {
    let (tx, rx) = pipe_with::<Vec<u8>>(Config::new(4), |m: &Vec<u8>| m.len());
    for n in 0..4u8 {
        tx.try_send(vec![n; usize::from(n) + 1]).unwrap();
    }
    let mut batch = Vec::new();
    assert_eq!(rx.recv_batch(&mut batch, 3), Ok(3));
    tx.try_send(vec![9]).unwrap();
    // The reader used message 0 and closes with 1 and 2 unused.
    batch.remove(0);
    rx.close_with_unread(batch);
    assert!(matches!(tx.try_send(vec![7]), Err(SendError::Closed(_))));
    let back = tx.reclaim_unsent();
    assert_eq!(back, vec![vec![1; 2], vec![2; 3], vec![3; 4], vec![9]]);
    let stats = tx.stats();
    assert_eq!(
        (stats.total_in, stats.total_out, stats.reclaimed),
        (5, 1, 4)
    );
    assert_eq!((stats.bytes_in, stats.bytes_out), (11, 1));
    assert_eq!(stats.queued_bytes, 0);
}

/// A reader's waker that drains the pipe when driven, as a transport writes
/// out a full pipe on the blocked sender's thread.
struct Drainer {
    rx: std::sync::Mutex<Option<tiermq_pipe::Reader<String>>>,
    drained: AtomicUsize,
}

impl Wake for Drainer {
    fn wake(&self) {}

    fn drive(&self) -> bool {
        let Some(rx) = self.rx.lock().unwrap().take() else {
            return false;
        };
        let mut out = Vec::new();
        let n = rx.recv_batch(&mut out, usize::MAX).unwrap_or(0);
        self.drained.fetch_add(n, Ordering::SeqCst);
        *self.rx.lock().unwrap() = Some(rx);
        true
    }
}

#[test]
fn a_full_writer_drives_its_reader_and_finds_room() {
    let (tx, rx) = pipe::<String>(Config::new(4));
    // The default `drive` does nothing.
    let (_, plain) = counter();
    rx.set_waker(Some(plain));
    assert!(!tx.drive_reader());
    let drainer = Arc::new(Drainer {
        rx: std::sync::Mutex::new(None),
        drained: AtomicUsize::new(0),
    });
    rx.set_waker(Some(Arc::clone(&drainer) as Arc<dyn Wake>));
    *drainer.rx.lock().unwrap() = Some(rx);
    for i in 0..4 {
        tx.try_send(i.to_string()).unwrap();
    }
    assert!(tx.is_full());
    assert!(matches!(tx.try_send("4".into()), Err(SendError::Full(m)) if m == "4"));
    assert!(
        tx.drive_reader(),
        "the reader's waker did the reader's work"
    );
    assert_eq!(drainer.drained.load(Ordering::SeqCst), 4);
    assert!(!tx.is_full());
    assert_eq!(tx.try_send("4".into()), Ok(Room::Available));
    // Without a reader's waker there is nothing to drive.
    drainer.rx.lock().unwrap().take().unwrap().set_waker(None);
    assert!(!tx.drive_reader());
}
