//! `poll`: waiting for any of several sockets to become readable or writable.

use std::ops::{BitAnd, BitOr, BitOrAssign};
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

/// One socket and the events to wait for, made by [`Socket::as_poll_item`].
#[derive(Debug)]
pub struct PollItem<'a> {
    socket: &'a Socket,
    events: PollEvents,
    revents: PollEvents,
}

impl<'a> PollItem<'a> {
    pub(crate) fn new(socket: &'a Socket, events: PollEvents) -> PollItem<'a> {
        PollItem {
            socket,
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

    /// Whether a message can be received.
    pub fn is_readable(&self) -> bool {
        self.revents.contains(POLLIN)
    }

    /// Whether a message can be sent.
    pub fn is_writable(&self) -> bool {
        self.revents.contains(POLLOUT)
    }

    /// Whether an error was reported (never, for tiermq sockets).
    pub fn is_error(&self) -> bool {
        self.revents.contains(POLLERR)
    }

    /// Whether this item polls `socket`.
    pub fn has_socket(&self, socket: &Socket) -> bool {
        std::ptr::eq(self.socket, socket)
    }
}

/// Waits until at least one item has one of its events ready, or
/// `timeout_ms` passes (`-1`: no limit, `0`: just look). Returns how many
/// items have events, and sets each item's revents.
///
/// A readable socket really holds a message: the next `recv` with
/// `DONTWAIT` succeeds. Only tiermq sockets can be polled (rust-zmq's
/// `PollItem::from_fd` is not offered).
///
/// Errors: `ETERM` if a socket's context was destroyed.
pub fn poll(items: &mut [PollItem<'_>], timeout_ms: i64) -> Result<i32> {
    // A timeout too large to represent is as good as none.
    let deadline = u64::try_from(timeout_ms)
        .ok()
        .and_then(|ms| Instant::now().checked_add(Duration::from_millis(ms)));
    let signal = Arc::new(Signal::default());
    for item in items.iter() {
        item.socket.shared().watch(&signal);
    }
    let result = loop {
        let seen = signal.generation();
        let mut ready = 0;
        let mut wake = deadline;
        let mut terminated = false;
        for item in items.iter_mut() {
            item.revents = item.socket.ready_events(item.events);
            if !item.revents.is_empty() {
                ready += 1;
            }
            terminated |= item.socket.context().is_terminated();
            if let Some(t) = item.socket.next_timer() {
                wake = Some(wake.map_or(t, |w| w.min(t)));
            }
        }
        if ready > 0 {
            break Ok(ready);
        }
        if terminated {
            break Err(Error::ETERM);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break Ok(0);
        }
        signal.wait(seen, wake);
    };
    for item in items.iter() {
        item.socket.shared().unwatch(&signal);
    }
    result
}
