//! The sending end of a pipe.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use crate::shared::Shared;
use crate::{Room, SendError, Stats, Wake};

/// The sending end of a pipe, usually held by the application thread.
///
/// All methods take `&self`. Dropping the writer closes it: the reader
/// drains what is queued and then sees [`RecvError::Closed`](crate::RecvError).
pub struct Writer<T> {
    pub(crate) shared: Arc<Shared<T>>,
}

impl<T> Writer<T> {
    /// Queues `msg` without blocking.
    ///
    /// Returns [`Room::Full`] when this message filled the pipe to its
    /// high-water mark. Fails with [`SendError::Full`] while the pipe is full
    /// (from that moment until the reader drains it to the low-water mark)
    /// and with [`SendError::Closed`] once either end closed; the message is
    /// handed back. Calls the reader's waker only if the pipe was empty and
    /// the reader has seen it so (see [`Reader::set_waker`](crate::Reader::set_waker)).
    /// Cost: one uncontended lock and a `VecDeque` push.
    pub fn try_send(&self, msg: T) -> Result<Room, SendError<T>> {
        self.shared.try_send(msg)
    }

    /// Queues a copy of `msg`, as [`try_send`](Self::try_send) would queue
    /// `msg.clone()`, for one message sent to many pipes. A pipe made by
    /// [`pipe_encoded`](crate::pipe_encoded) encodes it from the reference
    /// and makes no clone. On failure nothing was queued.
    pub fn try_send_cloned(&self, msg: &T) -> Result<Room, SendError<()>>
    where
        T: Clone,
    {
        self.shared.try_send_cloned(msg)
    }

    /// Queues messages from the front of `msgs`, in order, under a single
    /// lock, until `msgs` is empty or the pipe is full; what did not fit
    /// stays in `msgs`. For a producer with many messages at hand, such as
    /// an I/O thread that decoded a whole read: one lock and at most one
    /// wake-up of the reader instead of one per message.
    ///
    /// Returns [`Room::Full`] if the pipe is full now (whether this batch
    /// filled it or it already was), else [`Room::Available`]. Fails with
    /// [`SendError::Closed`] once either end closed, taking nothing. The
    /// reader's waker is called as for [`try_send`](Self::try_send): once,
    /// if the pipe was empty and the reader has seen it so.
    pub fn try_send_batch(&self, msgs: &mut VecDeque<T>) -> Result<Room, SendError<()>> {
        self.shared.try_send_batch(msgs)
    }

    /// Queues `msg`, blocking while the pipe is full until there is room,
    /// either end closes, or `deadline` passes (`None`: no deadline). On a
    /// passed deadline the error is [`SendError::Full`]. Before parking, the
    /// thread briefly watches for room (64 spins, then 8 yields).
    pub fn send_deadline(&self, msg: T, deadline: Option<Instant>) -> Result<Room, SendError<T>> {
        self.shared.send_deadline(msg, deadline)
    }

    /// Whether sends fail with `Full` now: the pipe reached its high-water
    /// mark and has not yet drained to its low-water mark. No lock.
    pub fn is_full(&self) -> bool {
        self.shared.is_full()
    }

    /// Sets (or with `None` clears) the waker called when the pipe stops
    /// being full because the reader drained it to the low-water mark (or
    /// reclaimed it), and when the reader closes (at once, if it already
    /// has). It is never called for the writer's own actions, and it is
    /// called outside the lock, on the reader's thread.
    pub fn set_waker(&self, waker: Option<Arc<dyn Wake>>) {
        self.shared.set_writer_waker(waker);
    }

    /// Asks the reader's waker to do the reader's work on this thread
    /// ([`Wake::drive`]): for a writer about to wait for room. Returns
    /// whether it did (then the pipe may have room again). One brief lock.
    pub fn drive_reader(&self) -> bool {
        self.shared.drive_reader()
    }

    /// Closes the pipe from the sending side. Queued messages stay readable
    /// (the reader drains them, then sees `Closed`) and reclaimable. Wakes
    /// the reader. Closing twice does nothing.
    pub fn close(&self) {
        self.shared.close_writer();
    }

    /// Whether either end closed the pipe. No lock.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Waits until nothing is left queued (true), or until `deadline` passes
    /// or the reader closes with messages still queued (false). `None`
    /// waits without a deadline. Typically called after [`close`](Self::close).
    pub fn linger(&self, deadline: Option<Instant>) -> bool {
        self.shared.linger(deadline)
    }

    /// Takes back, in order, every message the reader has not taken. A
    /// message the reader has taken is never returned, so nothing is sent
    /// twice. Clears the full state. Works after either end closed.
    pub fn reclaim_unsent(&self) -> Vec<T> {
        self.shared.reclaim_unsent(false)
    }

    /// A snapshot of the counters (one brief lock).
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }
}

impl<T> Drop for Writer<T> {
    fn drop(&mut self) {
        self.shared.close_writer();
    }
}

impl<T> fmt::Debug for Writer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("stats", &self.stats())
            .finish()
    }
}
