//! `Wakers`: who to tell, besides blocked threads, that a socket's state
//! may have changed: the tasks of pending futures (`AsyncSocket`) and the
//! socket's readiness descriptor (`Socket::get_fd`).
//!
//! [`Shared::wake_waiters`](crate::shared::Shared::wake_waiters) calls
//! [`Wakers::wake`] after every applied event. With no task registered and
//! no descriptor asked for, that costs two atomic loads, so the sync path
//! pays nothing more.
//!
//! A task registers *before* it re-checks the core, so a change made
//! between its check and its return of `Pending` still wakes it. A wake
//! takes every registration: a task that wants the next change too
//! registers again on its next poll (as each pending poll does).
//!
//! While a task is registered, the I/O thread wakes it instead of handing
//! the socket to the applier thread (see `Shared::post`): the task applies
//! the events when it takes the core, as a blocked thread does. A future
//! dropped while pending removes its registration and applies what is
//! queued; a registration left by a `Stream` or `Sink` poll whose caller
//! went away is taken by the next wake, so at most that one event waits
//! for the next call or the next event.

use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::Waker;

use crate::sync::lock;

/// A registration's key, held by the future (or stream) that made it.
pub(crate) type WakerKey = Option<u64>;

/// The tasks and descriptor to wake on a change; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Wakers {
    /// Whether `waiting` may hold a waker (checked without the lock).
    armed: AtomicBool,
    waiting: Mutex<Vec<(u64, Waker)>>,
    next_key: AtomicU64,
    fd: OnceLock<FdSignal>,
}

impl Wakers {
    /// Registers `waker` under `key` (making a key on first use), replacing
    /// what that key registered before. Call before re-checking the core.
    pub(crate) fn register(&self, key: &mut WakerKey, waker: &Waker) {
        let k = *key.get_or_insert_with(|| self.next_key.fetch_add(1, Ordering::Relaxed));
        let mut waiting = lock(&self.waiting);
        match waiting.iter_mut().find(|(id, _)| *id == k) {
            Some((_, w)) if w.will_wake(waker) => {}
            Some((_, w)) => w.clone_from(waker),
            None => waiting.push((k, waker.clone())),
        }
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Removes `key`'s registration, if a wake has not taken it already.
    pub(crate) fn deregister(&self, key: &mut WakerKey) {
        if let Some(k) = key.take() {
            let mut waiting = lock(&self.waiting);
            waiting.retain(|(id, _)| *id != k);
            if waiting.is_empty() {
                self.armed.store(false, Ordering::SeqCst);
            }
        }
    }

    /// Whether a task waits for a change: it will take the core (and so
    /// apply queued events) when woken, as a blocked thread does.
    pub(crate) fn has_tasks(&self) -> bool {
        self.armed.load(Ordering::SeqCst)
    }

    /// Wakes every registered task, and signals the descriptor if one was
    /// asked for.
    pub(crate) fn wake(&self) {
        if self.armed.load(Ordering::SeqCst) {
            let waiting = {
                let mut waiting = lock(&self.waiting);
                self.armed.store(false, Ordering::SeqCst);
                std::mem::take(&mut *waiting)
            };
            for (_, w) in waiting {
                w.wake();
            }
        }
        if let Some(fd) = self.fd.get() {
            fd.signal();
        }
    }

    /// The descriptor that becomes readable when the socket's events may
    /// have changed, made on first call.
    pub(crate) fn fd(&self) -> io::Result<RawFd> {
        if let Some(fd) = self.fd.get() {
            return Ok(fd.raw());
        }
        let made = FdSignal::new()?;
        // A racing caller's descriptor wins; ours is closed.
        Ok(self.fd.get_or_init(|| made).raw())
    }

    /// Empties the descriptor, if there is one, so that the next change
    /// signals it again. Call before reading the socket's events.
    pub(crate) fn drain_fd(&self) {
        if let Some(fd) = self.fd.get() {
            fd.drain();
        }
    }
}

/// An edge-triggered readiness signal on a descriptor: a connected pair of
/// Unix stream sockets; the reader's end is the one users wait on.
#[derive(Debug)]
struct FdSignal {
    reader: UnixStream,
    writer: UnixStream,
    /// A byte may be in the pair unread: no need to write another (one
    /// syscall per burst of changes, not per change).
    signalled: AtomicBool,
}

impl FdSignal {
    fn new() -> io::Result<FdSignal> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        Ok(FdSignal {
            reader,
            writer,
            signalled: AtomicBool::new(false),
        })
    }

    fn raw(&self) -> RawFd {
        self.reader.as_raw_fd()
    }

    fn signal(&self) {
        if !self.signalled.swap(true, Ordering::SeqCst) {
            // A full buffer is readable already: nothing is lost.
            let _ = (&self.writer).write(&[1]);
        }
    }

    /// Reads every byte, then lets the next change write one: a change
    /// that finds the flag still set happened before the caller reads
    /// the socket's events, so the caller sees it.
    fn drain(&self) {
        let mut buf = [0u8; 64];
        loop {
            match (&self.reader).read(&mut buf) {
                Ok(n) if n == buf.len() => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                _ => break,
            }
        }
        self.signalled.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_wake_takes_every_registration_once() {
        let wakers = Wakers::default();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let (mut a, mut b) = (None, None);
        wakers.register(&mut a, &waker);
        wakers.register(&mut a, &waker); // the same key: one entry
        wakers.register(&mut b, &waker);
        assert!(wakers.has_tasks());
        wakers.wake();
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        assert!(!wakers.has_tasks());
        wakers.wake();
        assert_eq!(count.0.load(Ordering::SeqCst), 2, "taken by the first wake");
        wakers.register(&mut a, &waker);
        wakers.deregister(&mut a);
        assert!(!wakers.has_tasks());
        wakers.wake();
        assert_eq!(count.0.load(Ordering::SeqCst), 2, "deregistered");
    }

    #[test]
    fn the_descriptor_is_readable_after_a_wake_until_drained() {
        let wakers = Wakers::default();
        let fd = wakers.fd().unwrap();
        assert_eq!(wakers.fd().unwrap(), fd, "made once");
        let signal = wakers.fd.get().unwrap();
        let mut buf = [0u8; 8];
        assert!(
            (&signal.reader).read(&mut buf).is_err(),
            "not signalled yet"
        );
        wakers.wake();
        wakers.wake();
        wakers.drain_fd();
        assert!((&signal.reader).read(&mut buf).is_err(), "drained");
        wakers.wake();
        assert_eq!(
            (&signal.reader).read(&mut buf).unwrap(),
            1,
            "signalled again"
        );
    }
}
