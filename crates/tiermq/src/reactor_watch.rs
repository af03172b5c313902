//! `ReactorWatch` (features `tokio` and `async-io`; without them none is
//! ever made): an `AsyncSocket`'s socket poll watched by the async runtime's own reactor, so that a
//! waiting task reads its connections itself, as a blocked sync call does
//! (leader/follower, see `tiermq_transport::SocketPoll`).
//!
//! Without it, the I/O thread reads for a waiting task and then wakes it:
//! two thread wake-ups per hop, where a blocked sync `recv` needs one. With
//! it, the kernel wakes the runtime's thread through the socket poll's
//! descriptor, and the task serves what is ready with a zero-timeout lead.
//! Inside a tokio runtime the watch is tokio's (`AsyncFd`); elsewhere it is
//! async-io's (`Async`), the reactor of smol and async-std.
//!
//! The socket poll stays lent to the task between polls; the I/O thread
//! takes it back once nobody has led it for a couple of milliseconds, as
//! for sync callers. So a readiness the runtime missed (a task polled from
//! another runtime than the one that made the watch, say) costs at most
//! that delay: the I/O thread then serves and wakes the task through the
//! socket's wakers, as without these features.

use std::sync::Arc;
use std::task::{Context, Poll};

use tiermq_transport::SocketPoll;

/// The socket poll's descriptor, as tokio registers it. It does not own
/// the descriptor: the watch keeps the poll alive for as long.
#[cfg(feature = "tokio")]
struct PollFd(std::os::fd::RawFd);

#[cfg(feature = "tokio")]
impl std::os::fd::AsRawFd for PollFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0
    }
}

/// Which reactor watches the socket poll. Each variant's registration is
/// declared before the poll, so it is dropped (deregistered) first.
enum Watcher {
    #[cfg(feature = "tokio")]
    Tokio(tokio::io::unix::AsyncFd<PollFd>),
    /// async-io owns a duplicate of the poll's descriptor.
    #[cfg(feature = "async-io")]
    AsyncIo(async_io::Async<std::os::fd::OwnedFd>),
}

/// A socket poll registered with the current runtime's reactor.
pub(crate) struct ReactorWatch {
    watcher: Watcher,
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
    /// Whether a reactor can watch at all: built with `tokio` or
    /// `async-io`. Without them there is no watch, and callers skip it.
    pub(crate) const BUILT: bool = cfg!(any(feature = "tokio", feature = "async-io"));

    /// A watch on `poll`: tokio's reactor inside a tokio runtime, else
    /// async-io's (with that feature). `None` when neither applies or the
    /// reactor refused the descriptor.
    pub(crate) fn new(poll: Arc<SocketPoll>) -> Option<ReactorWatch> {
        let watcher = watcher(&poll)?;
        Some(ReactorWatch { watcher, poll })
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
        // No arm without the features: the enum is then empty, and no
        // watch exists.
        #[cfg(not(any(feature = "tokio", feature = "async-io")))]
        let _ = cx;
        match self.watcher {
            #[cfg(feature = "tokio")]
            Watcher::Tokio(ref fd) => match fd.poll_read_ready(cx) {
                Poll::Ready(Ok(mut guard)) => {
                    // Cleared before serving: a readiness that comes after
                    // this point sets it again, so none is lost.
                    guard.clear_ready();
                    Poll::Ready(true)
                }
                Poll::Ready(Err(_)) => Poll::Ready(false),
                Poll::Pending => Poll::Pending,
            },
            // async-io reports each readiness once, and re-arms its
            // interest when the task registers again.
            #[cfg(feature = "async-io")]
            Watcher::AsyncIo(ref fd) => match fd.poll_readable(cx) {
                Poll::Ready(Ok(())) => Poll::Ready(true),
                Poll::Ready(Err(_)) => Poll::Ready(false),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// The reactor that watches `poll` for this thread's runtime, if any.
fn watcher(poll: &SocketPoll) -> Option<Watcher> {
    #[cfg(feature = "tokio")]
    if let Some(watcher) = tokio_watcher(poll) {
        return Some(watcher);
    }
    #[cfg(feature = "async-io")]
    {
        let fd = poll.try_clone_fd().ok()?;
        Some(Watcher::AsyncIo(async_io::Async::new(fd).ok()?))
    }
    #[cfg(not(feature = "async-io"))]
    {
        let _ = poll;
        None
    }
}

/// tokio's watch, inside a tokio runtime.
#[cfg(feature = "tokio")]
fn tokio_watcher(poll: &SocketPoll) -> Option<Watcher> {
    use std::os::fd::AsRawFd;
    tokio::runtime::Handle::try_current().ok()?;
    // tokio 1.54 deprecates its safe constructors for `unsafe register`,
    // because a safe caller could close the descriptor while it is
    // registered. Here it cannot close: the descriptor is the socket
    // poll's, which the watch keeps alive and drops after the
    // registration. This crate forbids unsafe code.
    #[allow(deprecated)]
    let fd = tokio::io::unix::AsyncFd::with_interest(
        PollFd(poll.as_raw_fd()),
        tokio::io::Interest::READABLE,
    )
    .ok()?;
    Some(Watcher::Tokio(fd))
}
