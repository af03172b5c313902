//! Event-loop integration: a socket's readiness descriptor ([`Socket::get_fd`],
//! libzmq's ZMQ_FD), and `poll` over sockets mixed with plain descriptors
//! ([`PollItem::from_fd`](crate::PollItem::from_fd)).

use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Token};
use nix::errno::Errno;

use crate::poll::{PollItem, Source, check_sockets};
use crate::{Error, POLLERR, POLLIN, POLLOUT, PollEvents, Result, Socket};

impl Socket {
    /// A file descriptor that becomes readable when this socket's events
    /// may have changed, to wait on in another event loop (mio, calloop,
    /// glib, tokio's `AsyncFd`): libzmq's ZMQ_FD.
    ///
    /// As in libzmq, it is an edge-triggered signal, not a level: after it
    /// becomes readable, call [`get_events`](Socket::get_events) (which
    /// resets it) and receive, or send, until `get_events` no longer shows
    /// [`POLLIN`](crate::POLLIN) (or [`POLLOUT`](crate::POLLOUT)); only a
    /// change after that signals it again. Your own `send` and `recv` can
    /// change the events without signalling it (a REP may send once it has
    /// received), so check `get_events` after them too. Never read from
    /// or write to it, nor close it: it belongs to the socket and lives as
    /// long as it does.
    ///
    /// It is made on the first call; until then the socket pays nothing
    /// for it, and after it one write per burst of changes.
    ///
    /// Errors: the operating system's, if it cannot make the descriptor
    /// (`EMFILE`).
    pub fn get_fd(&self) -> Result<RawFd> {
        self.shared().give_back_poll();
        Ok(self.shared().wakers.fd()?)
    }
}

/// The [`get_fd`](Socket::get_fd) descriptor, as the zmq crate's `Socket`
/// offers it. Where it cannot be made (`EMFILE`) this is -1, which every
/// event loop refuses to register (`EBADF`), where the zmq crate panics.
impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.get_fd().unwrap_or(-1)
    }
}

/// One descriptor registered with the epoll, and what it asked for.
struct Registration {
    fd: RawFd,
    interest: Option<Interest>,
    /// What the last wait reported for it.
    revents: PollEvents,
}

/// [`poll`](crate::poll) when some items are plain descriptors: the
/// sockets' [`get_fd`](Socket::get_fd) descriptors and the plain ones
/// wait in one epoll, made for this call (so a descriptor already ready
/// is reported at once, as poll(2) would).
pub(crate) fn poll_with_fds(items: &mut [PollItem<'_>], deadline: Option<Instant>) -> Result<i32> {
    let mut epoll = mio::Poll::new()?;
    // epoll takes each descriptor once: items naming the same one share it.
    let mut regs: Vec<Registration> = Vec::new();
    let mut reg_of = Vec::with_capacity(items.len());
    for item in items.iter() {
        let (fd, interest) = match item.source {
            Source::Socket(s) => (s.get_fd()?, Some(Interest::READABLE)),
            Source::Fd(fd) => (fd, interest_of(item.events)),
        };
        let i = match regs.iter().position(|r| r.fd == fd) {
            Some(i) => i,
            None => {
                regs.push(Registration {
                    fd,
                    interest: None,
                    revents: PollEvents::empty(),
                });
                regs.len() - 1
            }
        };
        regs[i].interest = match (regs[i].interest, interest) {
            (Some(a), Some(b)) => Some(a | b),
            (a, b) => a.or(b),
        };
        reg_of.push(i);
    }
    for (i, r) in regs.iter_mut().enumerate() {
        let Some(interest) = r.interest else { continue };
        match epoll
            .registry()
            .register(&mut SourceFd(&r.fd), Token(i), interest)
        {
            Ok(()) => {}
            // A regular file: poll(2) calls it always ready.
            Err(e) if e.raw_os_error() == Some(Errno::EPERM as i32) => {
                r.revents = POLLIN | POLLOUT;
            }
            // Not an open descriptor (poll(2)'s POLLNVAL).
            Err(_) => r.revents = POLLERR,
        }
    }
    let mut events = Events::with_capacity(regs.len().max(1));
    // Past the deadline, epoll is asked once more (without waiting) and
    // the items looked at once more.
    let mut last_look = false;
    // What the descriptors are ready for now, before any socket is looked at.
    wait(&mut epoll, &mut events, Some(Duration::ZERO), &mut regs)?;
    loop {
        // Reset each socket's descriptor before reading its events, so a
        // later change signals it again.
        for item in items.iter() {
            if let Source::Socket(s) = item.source {
                s.shared().wakers.drain_fd();
            }
        }
        let (mut ready, terminated, wake) = check_sockets(items, deadline);
        for (item, &i) in items.iter_mut().zip(&reg_of) {
            if let Source::Fd(_) = item.source {
                item.revents = regs[i].revents & (item.events | POLLERR);
                if !item.revents.is_empty() {
                    ready += 1;
                }
            }
        }
        if ready > 0 {
            return Ok(ready);
        }
        if terminated {
            return Err(Error::ETERM);
        }
        if last_look {
            return Ok(0);
        }
        let now = Instant::now();
        let timeout = if deadline.is_some_and(|d| now >= d) {
            last_look = true;
            Some(Duration::ZERO)
        } else {
            wake.map(|w| w.saturating_duration_since(now))
        };
        wait(&mut epoll, &mut events, timeout, &mut regs)?;
    }
}

/// Waits up to `timeout` on `epoll` and adds what it reports to `regs`.
fn wait(
    epoll: &mut mio::Poll,
    events: &mut Events,
    timeout: Option<Duration>,
    regs: &mut [Registration],
) -> Result<()> {
    match epoll.poll(events, timeout) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    for event in events.iter() {
        let Some(r) = regs.get_mut(event.token().0) else {
            continue;
        };
        if event.is_readable() || event.is_read_closed() {
            r.revents |= POLLIN;
        }
        if event.is_writable() {
            r.revents |= POLLOUT;
        }
        if event.is_error() || (event.is_read_closed() && event.is_write_closed()) {
            r.revents |= POLLERR;
        }
    }
    Ok(())
}

/// The epoll interest for a plain descriptor's poll events.
fn interest_of(events: PollEvents) -> Option<Interest> {
    match (events.contains(POLLIN), events.contains(POLLOUT)) {
        (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
        (true, false) => Some(Interest::READABLE),
        (false, true) => Some(Interest::WRITABLE),
        (false, false) => None,
    }
}
