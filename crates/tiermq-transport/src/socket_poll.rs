//! `SocketPoll`: one socket's established connections in a poll of their
//! own, so that the socket's blocked caller can wait on them and do their
//! I/O itself (leader/follower), instead of sleeping until the I/O thread
//! has done it.
//!
//! The socket poll is an epoll instance nested in the reactor's: its
//! descriptor sits in the reactor's poll, so while nobody leads, the I/O
//! thread hears of every ready connection as before and drains the socket
//! poll. A caller that would block takes the lead: it takes the socket
//! poll out of the reactor's interest (one `epoll_ctl`, the first time),
//! waits in it, and reads, decodes and writes on its own thread. A hop
//! then costs one wake-up in the receiving process, a raw socket's count,
//! instead of two (the I/O thread's, then the caller's).
//!
//! The poll stays lent to the callers after a leader leaves: a request's
//! reply often arrives while its sender is still between `send` and
//! `recv`, and had the poll gone back, it would wake the I/O thread. The
//! I/O thread takes it back once no caller has led it for a couple of
//! milliseconds (`LOAN`; readiness that arrived meanwhile is reported
//! then, so nothing is missed), and a caller about to wait some other way
//! (`poll`, an async task, ZMQ_FD) gives it back at once
//! ([`SocketPoll::give_back`]).
//!
//! Connections join the socket poll only once their handshake completed:
//! connecting, handshakes, ZAP, timers and closing stay with the I/O
//! thread. The leader hands back anything but plain reading and writing by
//! posting the connection's token to the I/O thread.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::connection::{Connection, Flow};
use crate::inbox::Shared;

/// The leader's waker in the socket poll: application tokens are
/// connection tokens, never 0.
const WAKE: Token = Token(0);
/// Events taken from the socket poll per `epoll_wait`.
const EVENTS: usize = 64;

/// What one readiness event said about a connection, copied out of mio's
/// `Events` so that it outlives the poll's lock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ready {
    pub(crate) token: Token,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The peer closed, or the socket failed: read to the end.
    pub(crate) closing: bool,
}

impl Ready {
    pub(crate) fn of(event: &Event) -> Ready {
        Ready {
            token: event.token(),
            readable: event.is_readable(),
            writable: event.is_writable(),
            closing: event.is_read_closed() || event.is_error(),
        }
    }
}

/// How [`SocketPoll::lead`] went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lead {
    /// The caller waited in the socket poll and served what became ready
    /// (or was woken, or timed out): check the socket again.
    Led,
    /// Someone else has the socket poll (another caller, or the I/O
    /// thread draining it): wait the usual way, they will wake you.
    Busy,
}

struct Inner {
    poll: Poll,
    events: Events,
    /// What the last wait reported, kept to spare an allocation per wait.
    ready: Vec<Ready>,
    /// When the last leader left.
    left: Option<Instant>,
}

/// One socket's established tcp and ipc connections on one reactor, in a
/// poll of their own; see the module docs. Made by
/// [`Reactor::socket_poll`](crate::Reactor::socket_poll) and passed to the
/// reactor in [`LinkOptions::socket_poll`](crate::LinkOptions::socket_poll).
pub struct SocketPoll {
    inner: Mutex<Inner>,
    fd: RawFd,
    /// Where the I/O thread registers the connections.
    registry: Registry,
    /// The reactor's registry, where this poll's descriptor sits while
    /// nobody leads.
    outer: Arc<Registry>,
    /// This poll's token in the reactor's poll.
    token: Token,
    waker: Waker,
    /// A caller waits in the poll: wake it through `waker`.
    leading: AtomicBool,
    /// Out of the reactor's poll, lent to the callers (changed under
    /// `inner`'s lock).
    lent: AtomicBool,
    /// This poll's id among the reactor's socket polls.
    id: u32,
    io: Arc<Shared>,
    conns: Mutex<HashMap<Token, Weak<Mutex<Connection>>>>,
}

impl std::fmt::Debug for SocketPoll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketPoll")
            .field("fd", &self.fd)
            .field("leading", &self.leading.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The poll's epoll descriptor: readable while a connection in it has
/// something ready. For a runtime's reactor to watch; it stays owned here.
impl AsRawFd for SocketPoll {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

impl SocketPoll {
    /// A descriptor of its own for the poll's epoll instance (a `dup`),
    /// for a runtime's reactor that owns what it watches.
    pub fn try_clone_fd(&self) -> io::Result<OwnedFd> {
        self.registry.as_fd().try_clone_to_owned()
    }

    pub(crate) fn new(
        io: Arc<Shared>,
        outer: &Arc<Registry>,
        id: u32,
        token: Token,
    ) -> io::Result<SocketPoll> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKE)?;
        let registry = poll.registry().try_clone()?;
        let outer = Arc::clone(outer);
        let fd = poll.as_raw_fd();
        outer.register(&mut SourceFd(&fd), token, Interest::READABLE)?;
        Ok(SocketPoll {
            inner: Mutex::new(Inner {
                poll,
                events: Events::with_capacity(EVENTS),
                ready: Vec::with_capacity(EVENTS),
                left: None,
            }),
            fd,
            registry,
            outer,
            token,
            waker,
            leading: AtomicBool::new(false),
            lent: AtomicBool::new(false),
            id,
            io,
            conns: Mutex::new(HashMap::new()),
        })
    }

    /// Whether a caller waits in the poll now.
    pub fn is_leading(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }

    /// Wakes the caller waiting in the poll, if any: something it may be
    /// waiting for happened elsewhere (a pipe, a timer, an inproc peer).
    /// Costs an atomic load when nobody leads.
    pub fn wake_leader(&self) {
        if self.leading.load(Ordering::SeqCst) {
            let _ = self.waker.wake();
        }
    }

    /// Waits in the poll until a connection is ready, [`wake_leader`] is
    /// called or `deadline` passes, then reads, decodes and writes what
    /// became ready on the calling thread (messages go into the in pipes,
    /// whose wakers tell the socket). `still_waiting` is checked once the
    /// caller leads: when it says no, the caller only serves what is
    /// already ready and returns. Returns [`Lead::Busy`] at once if
    /// someone else has the poll.
    ///
    /// [`wake_leader`]: SocketPoll::wake_leader
    pub fn lead(&self, deadline: Option<Instant>, still_waiting: impl FnOnce() -> bool) -> Lead {
        let Ok(mut inner) = self.inner.try_lock() else {
            return Lead::Busy;
        };
        if !self.lent.load(Ordering::SeqCst) {
            // Out of the reactor's interest: the I/O thread is not woken
            // by what the callers are about to serve. It takes the poll
            // back when they stop coming.
            let _ = self.outer.deregister(&mut SourceFd(&self.fd));
            self.lent.store(true, Ordering::SeqCst);
            let id = self.id;
            self.io
                .post(|i| i.commands.push(crate::inbox::Command::Lent(id)));
        }
        self.leading.store(true, Ordering::SeqCst);
        let timeout = if still_waiting() {
            deadline.map(|d| d.saturating_duration_since(Instant::now()))
        } else {
            Some(Duration::ZERO)
        };
        poll_once(&mut inner, timeout);
        self.leading.store(false, Ordering::SeqCst);
        let now = Instant::now();
        for r in inner.ready.drain(..) {
            if r.token != WAKE {
                self.serve(r, now);
            }
        }
        inner.left = Some(now);
        drop(inner);
        Lead::Led
    }

    /// Leads without waiting: reads and writes what is ready now on the
    /// calling thread, for a caller that waits elsewhere for this poll's
    /// descriptor to become readable (an async runtime's reactor, which
    /// watches [`as_raw_fd`](AsRawFd::as_raw_fd)). The poll stays lent to
    /// the callers as after [`lead`](Self::lead). Does nothing if someone
    /// else has the poll (they serve).
    pub fn serve_ready(&self) {
        let _ = self.lead(Some(Instant::now()), || false);
    }

    /// Puts a lent poll back into the reactor's, so that the I/O thread
    /// serves its connections: for a caller about to wait some other way
    /// (on a signal, an async waker, ZMQ_FD). If anything became ready
    /// meanwhile, the reactor's poll reports it at once. Does nothing if
    /// the poll is not lent, or if a caller leads it now (it serves).
    pub fn give_back(&self) {
        if !self.lent.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(inner) = self.inner.try_lock() {
            self.put_back(&inner);
        }
    }

    /// The I/O thread's check on a lent poll: takes it back if no caller
    /// has led it for `loan`. Returns whether it is back (or never lent).
    pub(crate) fn return_if_idle(&self, now: Instant, loan: Duration) -> bool {
        let Ok(inner) = self.inner.try_lock() else {
            return false;
        };
        let idle = inner
            .left
            .is_none_or(|t| now.saturating_duration_since(t) >= loan);
        if idle {
            self.put_back(&inner);
        }
        idle || !self.lent.load(Ordering::SeqCst)
    }

    /// Registers the poll in the reactor's again; only under `inner`'s
    /// lock (hence the guard), so that no caller leads meanwhile.
    fn put_back(&self, _held: &Inner) {
        if self.lent.swap(false, Ordering::SeqCst) {
            let _ = self
                .outer
                .register(&mut SourceFd(&self.fd), self.token, Interest::READABLE);
        }
    }

    /// The I/O thread's side: appends what is ready in the poll to `out`,
    /// unless a caller leads (it serves those events itself).
    pub(crate) fn drain(&self, out: &mut Vec<Ready>) {
        let Ok(mut inner) = self.inner.try_lock() else {
            return;
        };
        loop {
            poll_once(&mut inner, Some(Duration::ZERO));
            let n = inner.ready.len();
            out.extend(inner.ready.drain(..).filter(|r| r.token != WAKE));
            if n < EVENTS {
                return;
            }
        }
    }

    /// An established connection joins the poll (the I/O thread moves it
    /// here from its own poll).
    pub(crate) fn join(&self, conn: &mut Connection) -> io::Result<()> {
        // Known before registered: a leader may see its first event at once.
        lock(&self.conns).insert(conn.token, conn.me());
        conn.stream
            .register(&self.registry, conn.token)
            .inspect_err(|_| {
                lock(&self.conns).remove(&conn.token);
            })
    }

    /// A connection leaves the poll (it closes).
    pub(crate) fn leave(&self, conn: &mut Connection) {
        conn.stream.deregister(&self.registry);
        lock(&self.conns).remove(&conn.token);
    }

    /// Serves one ready connection on the leader's thread: reading and
    /// writing only. Whatever else it needs (closing after a failure, a
    /// turn that ran out, re-arming its timer) goes to the I/O thread.
    fn serve(&self, r: Ready, now: Instant) {
        let Some(conn) = lock(&self.conns).get(&r.token).and_then(Weak::upgrade) else {
            return;
        };
        let mut conn = crate::io_loop::lock(&conn);
        let mut flow = Flow::default();
        let result = conn.on_ready(r, &self.io, now, &mut flow);
        let token = conn.token;
        let left = conn.hand_back(result, &flow);
        drop(conn);
        self.io.post_handback(token, left);
    }
}

/// Waits up to `timeout` and puts what is ready in `inner.ready`.
fn poll_once(inner: &mut Inner, timeout: Option<Duration>) {
    let Inner {
        poll,
        events,
        ready,
        ..
    } = inner;
    ready.clear();
    if poll.poll(events, timeout).is_ok() {
        ready.extend(events.iter().map(Ready::of));
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
