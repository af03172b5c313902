//! `ReactorWatch` (feature `tokio`): an `AsyncSocket`'s socket poll watched
//! by the tokio runtime's own reactor, so that a waiting task reads its
//! connections itself, as a blocked sync call does (leader/follower, see
//! `tiermq_transport::SocketPoll`).
//!
//! Without it, the I/O thread reads for a waiting task and then wakes it:
//! two thread wake-ups per hop, where a blocked sync `recv` needs one. With
//! it, the kernel wakes the runtime's thread through the socket poll's
//! descriptor, and the task serves what is ready with a zero-timeout lead.
//!
//! The socket poll stays lent to the task between polls; the I/O thread
//! takes it back once nobody has led it for a couple of milliseconds, as
//! for sync callers. So a readiness the runtime missed (a task polled from
//! another runtime than the one that made the watch, say) costs at most
//! that delay: the I/O thread then serves and wakes the task through the
//! socket's wakers, as without this feature.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll};

use tiermq_transport::SocketPoll;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// The socket poll's descriptor, as tokio registers it. It does not own
/// the descriptor: `ReactorWatch` keeps the poll alive for as long.
struct PollFd(RawFd);

impl AsRawFd for PollFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// A socket poll registered with the current tokio runtime's reactor.
pub(crate) struct ReactorWatch {
    // Declared first: deregistered before the poll below can go.
    fd: AsyncFd<PollFd>,
    poll: Arc<SocketPoll>,
}

impl std::fmt::Debug for ReactorWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReactorWatch")
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

impl ReactorWatch {
    /// A watch on `poll` in the tokio runtime this thread runs in; `None`
    /// outside a tokio runtime (smol, async-std, a hand-written executor)
    /// or if the reactor refused the descriptor.
    pub(crate) fn new(poll: Arc<SocketPoll>) -> Option<ReactorWatch> {
        tokio::runtime::Handle::try_current().ok()?;
        // tokio 1.54 deprecates its safe constructors for `unsafe
        // register`, because a safe caller could close the descriptor
        // while it is registered. Here it cannot close: the descriptor is
        // the socket poll's, which `poll` keeps alive, and `fd` is dropped
        // (deregistered) first. This crate forbids unsafe code.
        #[allow(deprecated)]
        let fd = AsyncFd::with_interest(PollFd(poll.as_raw_fd()), Interest::READABLE).ok()?;
        Some(ReactorWatch { fd, poll })
    }

    /// Reads and writes, on this thread, what the socket poll has ready,
    /// without waiting.
    pub(crate) fn serve(&self) {
        self.poll.serve_ready();
    }

    /// `Ready(true)` when the reactor saw the socket poll become readable
    /// since the last call (serve it, then ask again); `Pending` with the
    /// task registered for the next readiness; `Ready(false)` if the
    /// reactor failed (the caller drops the watch).
    pub(crate) fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<bool> {
        match self.fd.poll_read_ready(cx) {
            Poll::Ready(Ok(mut guard)) => {
                // Cleared before serving: a readiness that comes after
                // this point sets it again, so none is lost.
                guard.clear_ready();
                Poll::Ready(true)
            }
            Poll::Ready(Err(_)) => Poll::Ready(false),
            Poll::Pending => Poll::Pending,
        }
    }
}
