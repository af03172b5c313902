//! The state both ends share: the queue, its counters and its wake-up flags.
//!
//! Everything here is under one mutex. The atomics are read-only mirrors of
//! the queue's length and the `full` and `closed` flags, so that `is_full`,
//! `is_closed` and `is_empty` cost no lock and a thread about to block can
//! watch for the hand-off without the lock; they are written only while the
//! lock is held, and no decision is ever taken on them without the lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::queue::{Codec, Entry, Queue};
use crate::{Config, RecvError, Room, SendError, Stats, Wake};
use bytes::Bytes;

/// A waker to call, and whether a blocked thread must be notified, decided
/// under the lock and acted on after it is released.
#[must_use]
#[derive(Default)]
struct Wakeup {
    waker: Option<Arc<dyn Wake>>,
    notify: bool,
}

impl Wakeup {
    fn fire(self, cv: &Condvar) {
        if self.notify {
            cv.notify_all();
        }
        if let Some(waker) = self.waker {
            waker.wake();
        }
    }
}

struct State<T> {
    queue: Queue<T>,
    /// Bytes of every message taken by the reader or reclaimed: the
    /// `bytes_end` of the last entry removed. Queued bytes are
    /// `bytes_in - bytes_gone`.
    bytes_gone: u64,
    total_in: u64,
    total_out: u64,
    bytes_in: u64,
    bytes_out: u64,
    reclaimed: u64,
    /// HWM reached and not yet drained to LWM.
    full: bool,
    writer_closed: bool,
    reader_closed: bool,
    reader_waker: Option<Arc<dyn Wake>>,
    /// The reader saw the pipe empty (a receive returned `Empty`, or it
    /// never received) and has not been woken since: the next message
    /// wakes it. A reader still draining is not woken for every message
    /// that lands in a queue it just emptied.
    reader_armed: bool,
    writer_waker: Option<Arc<dyn Wake>>,
    /// Threads blocked on `readable` / `writable`: a condvar is notified
    /// only when someone waits, so the common path makes no syscall.
    reader_waiters: usize,
    writer_waiters: usize,
}

impl<T> State<T> {
    fn is_closed(&self) -> bool {
        self.writer_closed || self.reader_closed
    }
}

pub(crate) struct Shared<T> {
    state: Mutex<State<T>>,
    /// The reader's spare queue, swapped with `State::queue` when a batch
    /// takes everything, so the lock is held O(1) and no memory is
    /// allocated in the steady state. Only the reader locks it.
    spare: Mutex<VecDeque<Entry<T>>>,
    /// The reader waits here for a message (or the writer's close).
    readable: Condvar,
    /// The writer waits here for room, for the queue to empty (linger), or
    /// for the reader's close.
    writable: Condvar,
    weight: fn(&T) -> usize,
    hwm: usize,
    lwm: usize,
    full: AtomicBool,
    closed: AtomicBool,
    queued: AtomicUsize,
    /// Whether the queue holds bytes (fixed for the pipe's life).
    encoded: bool,
}

/// How long a thread about to block first watches for the other end without
/// the lock: busy-wait `SPINS` rounds, then yield `YIELDS` times. A hand-off
/// that is about to happen then costs a few hundred nanoseconds instead of a
/// futex wait and wake; a real wait costs a little more (the yields can
/// take longer on a busy machine).
const SPINS: u32 = 64;

/// Capacity (in messages) a drained queue keeps. A burst on an unlimited
/// pipe may grow the queues far beyond this; once drained they give the
/// memory back instead of holding it for the connection's life.
const KEEP_CAPACITY: usize = 4096;
const YIELDS: u32 = 8;

fn spin_until(ready: impl Fn() -> bool) {
    for round in 0..SPINS + YIELDS {
        if ready() {
            return;
        }
        if round < SPINS {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// The result of one wait on a condvar: whether the deadline has passed.
enum Waited {
    Woken,
    TimedOut,
}

impl<T> Shared<T> {
    pub(crate) fn new(config: Config, weight: fn(&T) -> usize) -> Self {
        Self::with_queue(config, weight, Queue::Items(VecDeque::new()))
    }

    pub(crate) fn encoded(
        config: Config,
        weight: fn(&T) -> usize,
        codec: Arc<dyn Codec<T>>,
    ) -> Self {
        Self::with_queue(config, weight, Queue::encoded(codec))
    }

    fn with_queue(config: Config, weight: fn(&T) -> usize, queue: Queue<T>) -> Self {
        Shared {
            encoded: queue.is_encoded(),
            state: Mutex::new(State {
                queue,
                bytes_gone: 0,
                total_in: 0,
                total_out: 0,
                bytes_in: 0,
                bytes_out: 0,
                reclaimed: 0,
                full: false,
                writer_closed: false,
                reader_closed: false,
                reader_waker: None,
                reader_armed: true,
                writer_waker: None,
                reader_waiters: 0,
                writer_waiters: 0,
            }),
            spare: Mutex::new(VecDeque::new()),
            readable: Condvar::new(),
            writable: Condvar::new(),
            weight,
            hwm: config.hwm,
            lwm: config.effective_lwm(),
            full: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            queued: AtomicUsize::new(0),
        }
    }

    fn lock_spare(&self) -> MutexGuard<'_, VecDeque<Entry<T>>> {
        self.spare.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic elsewhere (say, in a `weight` function) must not make the
        // pipe unusable; every update below leaves the state consistent
        // before anything that could panic runs.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks on `cv` until notified or `deadline`.
    fn wait<'a>(
        &self,
        cv: &Condvar,
        guard: MutexGuard<'a, State<T>>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, State<T>>, Waited) {
        match deadline {
            None => (
                cv.wait(guard).unwrap_or_else(PoisonError::into_inner),
                Waited::Woken,
            ),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return (guard, Waited::TimedOut);
                }
                let (guard, _) = cv
                    .wait_timeout(guard, deadline - now)
                    .unwrap_or_else(PoisonError::into_inner);
                (guard, Waited::Woken)
            }
        }
    }

    pub(crate) fn try_send(&self, msg: T) -> Result<Room, SendError<T>> {
        let weight = (self.weight)(&msg);
        let mut st = self.lock();
        let (room, wakeup) = self.push_locked(&mut st, msg, weight)?;
        drop(st);
        wakeup.fire(&self.readable);
        Ok(room)
    }

    /// Moves messages from the front of `msgs` into the queue under one
    /// lock until `msgs` is empty or the pipe is full, waking the reader at
    /// most once.
    pub(crate) fn try_send_batch(&self, msgs: &mut VecDeque<T>) -> Result<Room, SendError<()>> {
        let mut st = self.lock();
        if st.is_closed() {
            return Err(SendError::Closed(()));
        }
        let was_empty = st.queue.is_empty();
        let mut pushed = false;
        while !st.full {
            let Some(msg) = msgs.pop_front() else { break };
            let weight = (self.weight)(&msg);
            st.total_in += 1;
            st.bytes_in = st.bytes_in.wrapping_add(weight as u64);
            let bytes_end = st.bytes_in;
            st.queue.push_back(Entry { msg, bytes_end });
            pushed = true;
            if self.hwm != 0 && st.queue.len() >= self.hwm {
                st.full = true;
                self.full.store(true, Ordering::Release);
            }
        }
        self.queued.store(st.queue.len(), Ordering::Release);
        let room = if st.full { Room::Full } else { Room::Available };
        let mut wakeup = Wakeup {
            waker: None,
            notify: pushed && st.reader_waiters > 0,
        };
        if pushed && was_empty && st.reader_armed {
            st.reader_armed = false;
            wakeup.waker = st.reader_waker.clone();
        }
        drop(st);
        wakeup.fire(&self.readable);
        Ok(room)
    }

    fn push_locked(
        &self,
        st: &mut State<T>,
        msg: T,
        weight: usize,
    ) -> Result<(Room, Wakeup), SendError<T>> {
        if let Err(refused) = Self::admits(st) {
            return Err(refused.map(|()| msg));
        }
        Ok(self.enqueue(st, weight, |q, bytes_end| {
            q.push_back(Entry { msg, bytes_end });
        }))
    }

    /// Whether a send may queue a message now: not once either end
    /// closed, nor while the pipe is full.
    fn admits(st: &State<T>) -> Result<(), SendError<()>> {
        if st.is_closed() {
            return Err(SendError::Closed(()));
        }
        if st.full {
            return Err(SendError::Full(()));
        }
        Ok(())
    }

    /// Counts a message of `weight` bytes in and queues it with `push`;
    /// the caller checked that the pipe is open and not full.
    fn enqueue(
        &self,
        st: &mut State<T>,
        weight: usize,
        push: impl FnOnce(&mut Queue<T>, u64),
    ) -> (Room, Wakeup) {
        let was_empty = st.queue.is_empty();
        st.total_in += 1;
        // Wrapping: the byte counters are differences of running totals.
        st.bytes_in = st.bytes_in.wrapping_add(weight as u64);
        let bytes_end = st.bytes_in;
        push(&mut st.queue, bytes_end);
        self.queued.store(st.queue.len(), Ordering::Release);
        let room = if self.hwm != 0 && st.queue.len() >= self.hwm {
            st.full = true;
            self.full.store(true, Ordering::Release);
            Room::Full
        } else {
            Room::Available
        };
        let mut wakeup = Wakeup {
            waker: None,
            notify: st.reader_waiters > 0,
        };
        if was_empty && st.reader_armed {
            st.reader_armed = false;
            wakeup.waker = st.reader_waker.clone();
        }
        (room, wakeup)
    }

    /// `try_send` of a copy of `msg`: an encoded pipe encodes it in place,
    /// any other queues a clone.
    pub(crate) fn try_send_cloned(&self, msg: &T) -> Result<Room, SendError<()>>
    where
        T: Clone,
    {
        let weight = (self.weight)(msg);
        let mut st = self.lock();
        Self::admits(&st)?;
        let (room, wakeup) = self.enqueue(&mut st, weight, |q, bytes_end| {
            q.push_copy(msg, bytes_end);
        });
        drop(st);
        wakeup.fire(&self.readable);
        Ok(room)
    }

    pub(crate) fn send_deadline(
        &self,
        mut msg: T,
        deadline: Option<Instant>,
    ) -> Result<Room, SendError<T>> {
        let weight = (self.weight)(&msg);
        let mut st = self.lock();
        let mut spun = false;
        loop {
            match self.push_locked(&mut st, msg, weight) {
                Ok((room, wakeup)) => {
                    drop(st);
                    wakeup.fire(&self.readable);
                    return Ok(room);
                }
                Err(SendError::Full(back)) => msg = back,
                Err(closed) => return Err(closed),
            }
            if !spun {
                spun = true;
                drop(st);
                spin_until(|| {
                    !self.full.load(Ordering::Acquire) || self.closed.load(Ordering::Acquire)
                });
                st = self.lock();
                continue;
            }
            st.writer_waiters += 1;
            let (guard, waited) = self.wait(&self.writable, st, deadline);
            st = guard;
            st.writer_waiters -= 1;
            if let Waited::TimedOut = waited {
                return Err(SendError::Full(msg));
            }
        }
    }

    /// Counts `n` messages ending at `bytes_end` as taken by the reader and
    /// decides whether the writer must be woken.
    fn after_take(&self, st: &mut State<T>, n: usize, bytes_end: u64) -> Wakeup {
        self.queued.store(st.queue.len(), Ordering::Release);
        if st.queue.is_empty() && st.queue.capacity() > KEEP_CAPACITY {
            st.queue.shrink_to(KEEP_CAPACITY);
        }
        st.total_out += n as u64;
        st.bytes_out = st
            .bytes_out
            .wrapping_add(bytes_end.wrapping_sub(st.bytes_gone));
        st.bytes_gone = bytes_end;
        let mut wakeup = Wakeup::default();
        if st.full && st.queue.len() <= self.lwm {
            st.full = false;
            self.full.store(false, Ordering::Release);
            wakeup.waker = st.writer_waker.clone();
            wakeup.notify = st.writer_waiters > 0;
        }
        if st.queue.is_empty() && st.writer_waiters > 0 {
            // A lingering writer waits for the queue to empty.
            wakeup.notify = true;
        }
        wakeup
    }

    /// Why nothing was taken from the empty queue. Reporting `Empty` arms
    /// the reader's waker: the reader has seen the pipe empty and will rely
    /// on being woken.
    fn nothing_taken(st: &mut State<T>) -> RecvError {
        if st.reader_closed || st.writer_closed {
            RecvError::Closed
        } else {
            st.reader_armed = true;
            RecvError::Empty
        }
    }

    pub(crate) fn try_recv(&self) -> Result<T, RecvError> {
        let mut st = self.lock();
        let (msg, wakeup) = self.pop_locked(&mut st)?;
        drop(st);
        wakeup.fire(&self.writable);
        Ok(msg)
    }

    fn pop_locked(&self, st: &mut State<T>) -> Result<(T, Wakeup), RecvError> {
        if st.reader_closed {
            return Err(RecvError::Closed);
        }
        match st.queue.pop_front() {
            Some(entry) => {
                let wakeup = self.after_take(st, 1, entry.bytes_end);
                Ok((entry.msg, wakeup))
            }
            None => Err(Self::nothing_taken(st)),
        }
    }

    pub(crate) fn recv_deadline(&self, deadline: Option<Instant>) -> Result<T, RecvError> {
        let mut st = self.lock();
        let mut spun = false;
        loop {
            match self.pop_locked(&mut st) {
                Ok((msg, wakeup)) => {
                    drop(st);
                    wakeup.fire(&self.writable);
                    return Ok(msg);
                }
                Err(RecvError::Empty) => {}
                Err(closed) => return Err(closed),
            }
            if !spun {
                spun = true;
                drop(st);
                spin_until(|| {
                    self.queued.load(Ordering::Acquire) > 0 || self.closed.load(Ordering::Acquire)
                });
                st = self.lock();
                continue;
            }
            st.reader_waiters += 1;
            let (guard, waited) = self.wait(&self.readable, st, deadline);
            st = guard;
            st.reader_waiters -= 1;
            if let Waited::TimedOut = waited {
                return Err(RecvError::Empty);
            }
        }
    }

    /// Takes up to `max` messages under one lock and appends them to `out`
    /// after the lock is released (a `Vec` or a `VecDeque`; either grows
    /// once, from the drain's exact size hint).
    pub(crate) fn recv_batch(
        &self,
        out: &mut impl Extend<T>,
        max: usize,
    ) -> Result<usize, RecvError> {
        // Taken out of its mutex so that the state lock is never held while
        // waiting for the spare's (and two readers can't deadlock).
        let mut batch = std::mem::take(&mut *self.lock_spare());
        let mut st = self.lock();
        let len = st.queue.len();
        if st.reader_closed || len == 0 {
            let err = if st.reader_closed {
                RecvError::Closed
            } else {
                Self::nothing_taken(&mut st)
            };
            drop(st);
            *self.lock_spare() = batch;
            return Err(err);
        }
        let n = max.min(len);
        match st.queue.items() {
            // Take everything in O(1): the writer gets the empty spare.
            Some(queue) if n == len && batch.is_empty() => std::mem::swap(queue, &mut batch),
            Some(queue) => batch.extend(queue.drain(..n)),
            None => batch.extend((0..n).map_while(|_| st.queue.pop_front())),
        }
        let n = batch.len();
        let wakeup = match batch.back() {
            Some(last) => {
                let bytes_end = last.bytes_end;
                self.after_take(&mut st, n, bytes_end)
            }
            None => Wakeup::default(),
        };
        drop(st);
        wakeup.fire(&self.writable);
        out.extend(batch.drain(..).map(|entry| entry.msg));
        batch.shrink_to(KEEP_CAPACITY);
        *self.lock_spare() = batch;
        Ok(n)
    }

    /// Takes whole messages' bytes from an encoded queue (see
    /// `Queue::take_encoded`). On a queue of objects it takes nothing.
    pub(crate) fn recv_encoded(
        &self,
        out: &mut Vec<Bytes>,
        max_bytes: usize,
    ) -> Result<usize, RecvError> {
        let mut st = self.lock();
        if st.reader_closed {
            return Err(RecvError::Closed);
        }
        let Some((n, bytes_end)) = st.queue.take_encoded(out, max_bytes) else {
            if st.queue.is_empty() {
                return Err(Self::nothing_taken(&mut st));
            }
            return Ok(0);
        };
        let wakeup = self.after_take(&mut st, n, bytes_end);
        drop(st);
        wakeup.fire(&self.writable);
        Ok(n)
    }

    pub(crate) fn is_encoded(&self) -> bool {
        self.encoded
    }

    /// Takes back everything queued. `by_reader` says which end asks: the
    /// writer's waker fires only when the reader's action frees room.
    pub(crate) fn reclaim_unsent(&self, by_reader: bool) -> Vec<T> {
        let mut st = self.lock();
        let taken: Vec<T> = st.queue.drain_all();
        st.queue.shrink_to(KEEP_CAPACITY);
        st.bytes_gone = st.bytes_in;
        self.queued.store(0, Ordering::Release);
        st.reclaimed += taken.len() as u64;
        let mut wakeup = Wakeup {
            waker: None,
            notify: st.writer_waiters > 0 && !taken.is_empty(),
        };
        if st.full {
            st.full = false;
            self.full.store(false, Ordering::Release);
            if by_reader {
                wakeup.waker = st.writer_waker.clone();
            }
        }
        drop(st);
        wakeup.fire(&self.writable);
        taken
    }

    /// Puts `msgs`, the last messages taken, back at the front of the queue
    /// and undoes their counting as taken. Wakes nobody: the caller closes
    /// the reader next, which wakes the writer.
    pub(crate) fn unread(&self, msgs: Vec<T>) {
        if msgs.is_empty() {
            return;
        }
        let weights: Vec<u64> = msgs.iter().map(|m| (self.weight)(m) as u64).collect();
        let total = weights.iter().fold(0u64, |a, w| a.wrapping_add(*w));
        let mut st = self.lock();
        st.total_out = st.total_out.saturating_sub(msgs.len() as u64);
        st.bytes_out = st.bytes_out.wrapping_sub(total);
        let start = st.bytes_gone.wrapping_sub(total);
        st.bytes_gone = start;
        // Running byte totals, as if pushed after `start`.
        let mut end = start;
        let entries: Vec<Entry<T>> = msgs
            .into_iter()
            .zip(weights)
            .map(|(msg, w)| {
                end = end.wrapping_add(w);
                Entry {
                    msg,
                    bytes_end: end,
                }
            })
            .collect();
        st.queue.push_front(entries);
        self.queued.store(st.queue.len(), Ordering::Release);
        if self.hwm != 0 && st.queue.len() >= self.hwm && !st.full {
            st.full = true;
            self.full.store(true, Ordering::Release);
        }
    }

    pub(crate) fn close_writer(&self) {
        let mut st = self.lock();
        if st.writer_closed {
            return;
        }
        st.writer_closed = true;
        self.closed.store(true, Ordering::Release);
        let to_reader = Wakeup {
            waker: st.reader_waker.clone(),
            notify: st.reader_waiters > 0,
        };
        // Other threads blocked in `send_deadline` on this writer.
        let to_writer = st.writer_waiters > 0;
        drop(st);
        if to_writer {
            self.writable.notify_all();
        }
        to_reader.fire(&self.readable);
    }

    pub(crate) fn close_reader(&self) {
        let mut st = self.lock();
        if st.reader_closed {
            return;
        }
        st.reader_closed = true;
        self.closed.store(true, Ordering::Release);
        let to_writer = Wakeup {
            waker: st.writer_waker.clone(),
            notify: st.writer_waiters > 0,
        };
        let to_reader = st.reader_waiters > 0;
        drop(st);
        if to_reader {
            self.readable.notify_all();
        }
        to_writer.fire(&self.writable);
    }

    pub(crate) fn linger(&self, deadline: Option<Instant>) -> bool {
        let mut st = self.lock();
        loop {
            if st.queue.is_empty() {
                return true;
            }
            if st.reader_closed {
                return false;
            }
            st.writer_waiters += 1;
            let (guard, waited) = self.wait(&self.writable, st, deadline);
            st = guard;
            st.writer_waiters -= 1;
            if let Waited::TimedOut = waited {
                return st.queue.is_empty();
            }
        }
    }

    /// Installs the reader's waker. If the reader already has something to
    /// react to (messages queued, or the writer closed), the new waker is
    /// called at once, so a waker set late misses nothing; otherwise it is
    /// armed for the next message.
    pub(crate) fn set_reader_waker(&self, waker: Option<Arc<dyn Wake>>) {
        let mut st = self.lock();
        let due = !st.queue.is_empty() || st.writer_closed;
        st.reader_armed = !due;
        let now = if due { waker.clone() } else { None };
        // The old waker is dropped outside the lock: its destructor is user code.
        let old = std::mem::replace(&mut st.reader_waker, waker);
        drop(st);
        drop(old);
        if let Some(waker) = now {
            waker.wake();
        }
    }

    /// Runs the reader's [`Wake::drive`] outside the lock.
    pub(crate) fn drive_reader(&self) -> bool {
        let waker = self.lock().reader_waker.clone();
        waker.is_some_and(|w| w.drive())
    }

    /// Installs the writer's waker, calling it at once if the reader has
    /// already closed.
    pub(crate) fn set_writer_waker(&self, waker: Option<Arc<dyn Wake>>) {
        let mut st = self.lock();
        let now = if st.reader_closed {
            waker.clone()
        } else {
            None
        };
        let old = std::mem::replace(&mut st.writer_waker, waker);
        drop(st);
        drop(old);
        if let Some(waker) = now {
            waker.wake();
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.full.load(Ordering::Acquire)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queued.load(Ordering::Acquire) == 0
    }

    pub(crate) fn stats(&self) -> Stats {
        let st = self.lock();
        let closed = st.is_closed();
        let room = match self.hwm {
            0 => None,
            _ if st.full || closed => Some(0),
            hwm => Some(hwm - st.queue.len()),
        };
        Stats {
            queued: st.queue.len(),
            queued_bytes: st.bytes_in.wrapping_sub(st.bytes_gone) as usize,
            hwm: self.hwm,
            lwm: self.lwm,
            room,
            total_in: st.total_in,
            total_out: st.total_out,
            bytes_in: st.bytes_in,
            bytes_out: st.bytes_out,
            reclaimed: st.reclaimed,
            full: st.full,
            closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capacities(shared: &Shared<u32>) -> (usize, usize) {
        (
            shared.lock().queue.capacity(),
            shared.lock_spare().capacity(),
        )
    }

    #[test]
    fn drained_queues_give_back_a_burst_s_memory() {
        let shared = Shared::new(Config::new(0), |_: &u32| 4);
        let burst = 10 * KEEP_CAPACITY as u32;
        // Drained in one batch (the swap) and then once more.
        for _ in 0..2 {
            for i in 0..burst {
                assert!(shared.try_send(i).is_ok());
            }
            let mut out = Vec::new();
            assert_eq!(shared.recv_batch(&mut out, usize::MAX), Ok(burst as usize));
        }
        let (queue, spare) = capacities(&shared);
        assert!(
            queue <= KEEP_CAPACITY && spare <= KEEP_CAPACITY,
            "{queue} {spare}"
        );
        // Drained one by one, and by reclaim.
        for i in 0..burst {
            assert!(shared.try_send(i).is_ok());
        }
        while shared.try_recv().is_ok() {}
        assert!(capacities(&shared).0 <= KEEP_CAPACITY);
        for i in 0..burst {
            assert!(shared.try_send(i).is_ok());
        }
        assert_eq!(shared.reclaim_unsent(true).len(), burst as usize);
        assert!(capacities(&shared).0 <= KEEP_CAPACITY);
        assert_eq!(
            shared.stats().bytes_out,
            2 * 4 * burst as u64 + 4 * burst as u64
        );
    }
}
