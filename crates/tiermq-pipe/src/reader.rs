//! The receiving end of a pipe.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use crate::shared::Shared;
use crate::{RecvError, Stats, Wake};

/// The receiving end of a pipe, usually held by the I/O thread.
///
/// All methods take `&self`. Dropping the reader closes it: the writer's
/// sends fail with `Closed`, and what is queued stays reclaimable.
pub struct Reader<T> {
    pub(crate) shared: Arc<Shared<T>>,
}

impl<T> Reader<T> {
    /// Takes the oldest message without blocking.
    ///
    /// Fails with [`RecvError::Empty`] if nothing is queued, and with
    /// [`RecvError::Closed`] once the writer closed and everything was
    /// taken, or once this reader closed. Wakes the writer only if this
    /// take drained a full pipe to its low-water mark.
    pub fn try_recv(&self) -> Result<T, RecvError> {
        self.shared.try_recv()
    }

    /// Takes the oldest message, blocking until one arrives, the pipe is
    /// closed, or `deadline` passes (`None`: no deadline; on a passed
    /// deadline the error is [`RecvError::Empty`]). Before parking, the
    /// thread briefly watches for a message (64 spins, then 8 yields).
    pub fn recv_deadline(&self, deadline: Option<Instant>) -> Result<T, RecvError> {
        self.shared.recv_deadline(deadline)
    }

    /// Appends up to `max` messages, oldest first, to `out` under a single
    /// lock and returns how many. Fails as [`try_recv`](Self::try_recv) does
    /// when nothing is queued. With `max == 0` it takes nothing and returns
    /// `Ok(0)` if there was something to take.
    ///
    /// The reader's waker fires only when the pipe goes from empty to
    /// non-empty, so a reader that leaves messages behind (because of `max`)
    /// must come back for them without waiting for a wake-up.
    ///
    /// `out` is any collection that extends: a `Vec`, or a `VecDeque` that
    /// a reader keeps as its queue of taken messages and reuses.
    pub fn recv_batch(&self, out: &mut impl Extend<T>, max: usize) -> Result<usize, RecvError> {
        self.shared.recv_batch(out, max)
    }

    /// For a pipe made by [`pipe_encoded`](crate::pipe_encoded): appends the
    /// bytes of whole messages, oldest first, to `out` as chunks, under a
    /// single lock, and returns how many messages. It stops once at least
    /// `max_bytes` are taken (every message when they fit), so it always
    /// takes at least one. Fails as [`try_recv`](Self::try_recv) does when
    /// nothing is queued. On a pipe of objects it takes nothing (`Ok(0)`
    /// while messages are queued).
    ///
    /// The waker rule of [`recv_batch`](Self::recv_batch) applies.
    pub fn recv_encoded(
        &self,
        out: &mut Vec<bytes::Bytes>,
        max_bytes: usize,
    ) -> Result<usize, RecvError> {
        self.shared.recv_encoded(out, max_bytes)
    }

    /// Whether the pipe holds its messages encoded (made by
    /// [`pipe_encoded`](crate::pipe_encoded)).
    pub fn is_encoded(&self) -> bool {
        self.shared.is_encoded()
    }

    /// Sets (or with `None` clears) the waker that tells the reader there is
    /// something to receive.
    ///
    /// The waker is edge-triggered, like readiness in `mio`: it is called
    /// when a message lands in the empty pipe *after a receive returned
    /// [`RecvError::Empty`]* (or after the waker was set), and when the
    /// writer closes. So a reader must keep receiving until it sees `Empty`
    /// (or `Closed`) before it waits; a reader still draining costs the
    /// writer no wake-ups. If messages are already queued or the writer
    /// already closed when the waker is set, it is called at once. Wakers
    /// are called outside the lock, on the writer's thread.
    pub fn set_waker(&self, waker: Option<Arc<dyn Wake>>) {
        self.shared.set_reader_waker(waker);
    }

    /// Closes the pipe from the receiving side: the writer's sends fail with
    /// `Closed`, this reader takes nothing more, and what is queued stays
    /// reclaimable from either end. Wakes the writer. Closing twice does
    /// nothing.
    pub fn close(&self) {
        self.shared.close_reader();
    }

    /// Closes the pipe as [`close`](Self::close) does, first putting
    /// `unread` back at the front of the queue as if never taken, so that
    /// the writer's [`Writer::reclaim_unsent`](crate::Writer::reclaim_unsent)
    /// gets them back, oldest first, before the rest. For a reader that
    /// took a batch and stops before using all of it: `unread` must be the
    /// last messages it took, in order (anything else only misorders the
    /// reclaim and the byte counters; it cannot fail).
    pub fn close_with_unread(&self, unread: Vec<T>) {
        self.shared.unread(unread);
        self.shared.close_reader();
    }

    /// Whether nothing is queued. No lock.
    pub fn is_empty(&self) -> bool {
        self.shared.is_empty()
    }

    /// Whether either end closed the pipe. No lock.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Takes back, in order, every message not yet taken, for example to
    /// reroute them when the connection died. Clears the full state and
    /// wakes the writer if it was full.
    pub fn reclaim_unsent(&self) -> Vec<T> {
        self.shared.reclaim_unsent(true)
    }

    /// A snapshot of the counters (one brief lock).
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }
}

impl<T> Drop for Reader<T> {
    fn drop(&mut self) {
        self.shared.close_reader();
    }
}

impl<T> fmt::Debug for Reader<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("stats", &self.stats())
            .finish()
    }
}
