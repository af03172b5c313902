//! `poll`: waiting for any of several sockets to become readable or writable.

use std::ops::{BitAnd, BitOr, BitOrAssign};
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::shared::Signal;
use crate::{Error, Result, Socket};

/// A set of poll events (rust-zmq's `PollEvents` bitflags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PollEvents(i16);

impl PollEvents {
    /// A message can be received without blocking.
    pub const POLLIN: PollEvents = PollEvents(1);
    /// A message can be sent without blocking.
    pub const POLLOUT: PollEvents = PollEvents(2);
    /// An error condition (never reported for tiermq sockets).
    pub const POLLERR: PollEvents = PollEvents(4);

    /// No events.
    pub const fn empty() -> PollEvents {
        PollEvents(0)
    }

    /// Every event.
    pub const fn all() -> PollEvents {
        PollEvents(7)
    }

    /// The raw bits (libzmq's values).
    pub const fn bits(self) -> i16 {
        self.0
    }

    /// The events named by `bits`, ignoring unknown bits.
    pub const fn from_bits_truncate(bits: i16) -> PollEvents {
        PollEvents(bits & 7)
    }

    /// Whether every event in `other` is in `self`.
    pub const fn contains(self, other: PollEvents) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no event is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for PollEvents {
    type Output = PollEvents;
    fn bitor(self, rhs: PollEvents) -> PollEvents {
        PollEvents(self.0 | rhs.0)
    }
}

impl BitOrAssign for PollEvents {
    fn bitor_assign(&mut self, rhs: PollEvents) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for PollEvents {
    type Output = PollEvents;
    fn bitand(self, rhs: PollEvents) -> PollEvents {
        PollEvents(self.0 & rhs.0)
    }
}

/// Poll for a message to receive.
pub const POLLIN: PollEvents = PollEvents::POLLIN;
/// Poll for room to send.
pub const POLLOUT: PollEvents = PollEvents::POLLOUT;
/// Poll for errors (never reported for tiermq sockets).
pub const POLLERR: PollEvents = PollEvents::POLLERR;

/// One socket, or one plain file descriptor, and the events to wait for:
/// made by [`Socket::as_poll_item`] or [`PollItem::from_fd`].
#[derive(Debug)]
pub struct PollItem<'a> {
    pub(crate) source: Source<'a>,
    pub(crate) events: PollEvents,
    pub(crate) revents: PollEvents,
}

/// What a poll item watches.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    Socket(&'a Socket),
    Fd(RawFd),
}

impl<'a> PollItem<'a> {
    pub(crate) fn new(socket: &'a Socket, events: PollEvents) -> PollItem<'a> {
        PollItem {
            source: Source::Socket(socket),
            events,
            revents: PollEvents::empty(),
        }
    }

    /// A poll item for a plain file descriptor (a pipe, a network socket,
    /// a timerfd, …), so that [`poll`](fn@crate::poll) waits on it beside
    /// tiermq sockets, as libzmq's `zmq_poll` does. For it, `POLLIN` means
    /// readable, `POLLOUT` writable, and `POLLERR` (reported whatever the
    /// events asked for) an error or hang-up, as poll(2) says. The
    /// descriptor must stay open while it is polled.
    pub fn from_fd(fd: RawFd, events: PollEvents) -> PollItem<'a> {
        PollItem {
            source: Source::Fd(fd),
            events,
            revents: PollEvents::empty(),
        }
    }

    /// Changes the events to wait for.
    pub fn set_events(&mut self, events: PollEvents) {
        self.events = events;
    }

    /// The events that were ready when `poll` returned.
    pub fn get_revents(&self) -> PollEvents {
        self.revents
    }

    /// Whether a message can be received (the descriptor is readable).
    pub fn is_readable(&self) -> bool {
        self.revents.contains(POLLIN)
    }

    /// Whether a message can be sent (the descriptor is writable).
    pub fn is_writable(&self) -> bool {
        self.revents.contains(POLLOUT)
    }

    /// Whether an error was reported (never, for tiermq sockets).
    pub fn is_error(&self) -> bool {
        self.revents.contains(POLLERR)
    }

    /// Whether this item polls `socket`.
    pub fn has_socket(&self, socket: &Socket) -> bool {
        matches!(self.source, Source::Socket(s) if std::ptr::eq(s, socket))
    }

    /// Whether this item polls the descriptor `fd`.
    pub fn has_fd(&self, fd: RawFd) -> bool {
        matches!(self.source, Source::Fd(f) if f == fd)
    }
}

/// Waits until at least one item has one of its events ready, or
/// `timeout_ms` passes (`-1`: no limit, `0`: just look). Returns how many
/// items have events, and sets each item's revents.
///
/// A readable socket really holds a message: the next `recv` with
/// `DONTWAIT` succeeds. Items may mix sockets and plain descriptors
/// ([`PollItem::from_fd`]); the sockets are then waited on through their
/// [`get_fd`](Socket::get_fd) descriptors, in one `epoll` with the others.
///
/// Errors: `ETERM` if a socket's context was destroyed; with descriptors,
/// the operating system's error if the wait itself fails.
pub fn poll(items: &mut [PollItem<'_>], timeout_ms: i64) -> Result<i32> {
    // A timeout too large to represent is as good as none.
    let deadline = u64::try_from(timeout_ms)
        .ok()
        .and_then(|ms| Instant::now().checked_add(Duration::from_millis(ms)));
    if items.iter().any(|i| matches!(i.source, Source::Fd(_))) {
        return crate::poll_fd::poll_with_fds(items, deadline);
    }
    let sockets: Vec<&Socket> = items
        .iter()
        .filter_map(|i| match i.source {
            Source::Socket(s) => Some(s),
            Source::Fd(_) => None,
        })
        .collect();
    if let [socket] = sockets[..] {
        // One socket waits as a blocked `recv` or `send` on it does: on the
        // socket's own signal, leading its connections (reading them on
        // this thread) when it can, so a message costs one wake-up here
        // rather than the I/O thread's and then this thread's.
        let shared = socket.shared();
        return wait_ready(
            items,
            deadline,
            || shared.signal.generation(),
            |seen, timer| shared.wait(seen, timer),
        );
    }
    let signal = Arc::new(Signal::default());
    for s in &sockets {
        s.shared().watch(&signal);
    }
    let result = wait_ready(
        items,
        deadline,
        || signal.generation(),
        |seen, timer| {
            signal.wait(seen, timer);
        },
    );
    for s in &sockets {
        s.shared().unwatch(&signal);
    }
    result
}

/// Looks at the socket items until one is ready, a context was destroyed
/// or `deadline` passes; in between, `wait(seen, timer)` sleeps until the
/// count `generation` gives moves on from `seen` (or `timer`, a socket's
/// timer, is due).
fn wait_ready(
    items: &mut [PollItem<'_>],
    deadline: Option<Instant>,
    generation: impl Fn() -> u64,
    wait: impl Fn(u64, Option<Instant>),
) -> Result<i32> {
    loop {
        let seen = generation();
        let (ready, terminated, timer) = check_sockets(items, deadline);
        if ready > 0 {
            return Ok(ready);
        }
        if terminated {
            return Err(Error::ETERM);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(0);
        }
        wait(seen, timer);
    }
}

/// Sets the revents of the socket items: how many are ready, whether a
/// context was destroyed, and when to look again at the latest (`deadline`
/// or a socket's failback timer, whichever comes first).
pub(crate) fn check_sockets(
    items: &mut [PollItem<'_>],
    deadline: Option<Instant>,
) -> (i32, bool, Option<Instant>) {
    let mut ready = 0;
    let mut wake = deadline;
    let mut terminated = false;
    let mut now = None;
    for item in items.iter_mut() {
        let Source::Socket(socket) = item.source else {
            continue;
        };
        let (revents, timer) = socket.readiness(item.events, &mut now);
        item.revents = revents;
        if !item.revents.is_empty() {
            ready += 1;
        }
        terminated |= socket.context().is_terminated();
        if let Some(t) = timer {
            wake = Some(wake.map_or(t, |w| w.min(t)));
        }
    }
    (ready, terminated, wake)
}
