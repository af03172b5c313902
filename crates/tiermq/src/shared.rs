//! `Shared`: what a socket shares with the I/O thread, its pipes' wakers and
//! its inproc peers, and the locking rule that keeps them from deadlocking.
//!
//! The socket's state lives in one `Mutex<Core>`. Only the socket's own
//! thread ever *blocks* on that lock. Everything else that must change the
//! core (a pipe waker firing on a peer's thread, a transport notification,
//! an inproc peer attaching) [`post`]s an [`Event`]: it is queued, and then
//! whoever holds or next takes the core lock applies it, except the I/O
//! thread, which never applies a socket's events: it wakes the owner if the
//! owner waits in a call, else hands the socket to the context's applier
//! thread (see `applier`). A pipe operation made while holding one socket's core can wake
//! a second socket; since the wake only queues and *tries* the second lock,
//! two sockets never wait on each other.
//!
//! Waiting callers (blocking `send`/`recv`, `poll`, linger) sleep on a
//! [`Signal`], a generation counter bumped after every applied event, never on
//! the core lock itself; async tasks and the `get_fd` descriptor are woken
//! at the same points (`async_wake`).
//!
//! [`post`]: Shared::post

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, TryLockError, Weak};
use std::time::Instant;

use crate::applier::{Applier, Pending};
use crate::async_wake::Wakers;
use crate::core::{Action, Core};
use crate::events::Event;
use crate::handles::InprocSocket;
use crate::inproc::Registry;
use crate::monitor::Hub;
pub(crate) use crate::sync::lock;
use tiermq_transport::{Lead, Reactor, SocketPoll};

/// A generation counter to sleep on until "something changed".
#[derive(Debug, Default)]
pub(crate) struct Signal {
    generation: Mutex<Generation>,
    cv: Condvar,
}

/// The counter and how many threads sleep on it, under one lock so that a
/// bump cannot miss a sleeper that is about to wait.
#[derive(Debug, Default)]
struct Generation {
    count: u64,
    sleepers: usize,
}

impl Signal {
    /// The current generation; read it *before* checking the condition you wait for.
    pub(crate) fn generation(&self) -> u64 {
        lock(&self.generation).count
    }

    /// Whether a thread sleeps on it now (a blocked call or `poll`).
    pub(crate) fn has_sleepers(&self) -> bool {
        lock(&self.generation).sleepers > 0
    }

    /// Wakes every waiter. Notifies the condvar only if someone sleeps on
    /// it: a notify is a futex syscall whether or not anyone waits, and most
    /// bumps (one per applied event) find nobody.
    pub(crate) fn bump(&self) {
        let mut g = lock(&self.generation);
        g.count += 1;
        let sleepers = g.sleepers;
        drop(g);
        if sleepers > 0 {
            self.cv.notify_all();
        }
    }

    /// Sleeps until the generation differs from `seen` or `deadline` passes.
    /// Returns false on timeout.
    pub(crate) fn wait(&self, seen: u64, deadline: Option<Instant>) -> bool {
        let mut g = lock(&self.generation);
        while g.count == seen {
            let timeout = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return false,
                },
            };
            g.sleepers += 1;
            g = match timeout {
                None => self.cv.wait(g).unwrap_or_else(PoisonError::into_inner),
                Some(left) => {
                    self.cv
                        .wait_timeout(g, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
            g.sleepers -= 1;
        }
        true
    }
}

/// One socket's state, shared by its handle, its pipes' wakers and the I/O thread.
pub(crate) struct Shared {
    core: Mutex<Core>,
    /// This socket, as the context's applier holds it.
    me: Weak<Shared>,
    /// Applies what the I/O thread posts while the owner is not waiting.
    applier: Arc<Applier>,
    /// Where the core's monitor events go.
    hub: Arc<Hub>,
    /// The context's inproc registry, for the core's inproc reconnects.
    inproc: Arc<Mutex<Registry>>,
    inbox: Mutex<Vec<Event>>,
    pending: AtomicBool,
    /// Bumped after every applied event.
    pub(crate) signal: Signal,
    /// `poll` calls waiting on this socket among others.
    watchers: Mutex<Vec<Arc<Signal>>>,
    /// How many `poll` calls watch now: each takes the core of every
    /// socket it watches when woken, as a blocked caller does.
    watching: AtomicUsize,
    /// Async tasks waiting on this socket, and its `get_fd` descriptor.
    pub(crate) wakers: Wakers,
    /// Set when the socket starts closing: inproc peers stop joining it.
    closing: AtomicBool,
    /// The socket's own poll on the reactor of its first tcp or ipc link
    /// (by the reactor's index), where its blocked caller waits and serves
    /// its connections itself (leader/follower, see [`Shared::wait`]).
    socket_poll: OnceLock<(usize, Arc<SocketPoll>)>,
}

impl Shared {
    pub(crate) fn new(
        core: Core,
        hub: Arc<Hub>,
        inproc: Arc<Mutex<Registry>>,
        applier: Arc<Applier>,
        me: Weak<Shared>,
    ) -> Self {
        Shared {
            core: Mutex::new(core),
            me,
            applier,
            hub,
            inproc,
            inbox: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            signal: Signal::default(),
            watchers: Mutex::new(Vec::new()),
            watching: AtomicUsize::new(0),
            wakers: Wakers::default(),
            closing: AtomicBool::new(false),
            socket_poll: OnceLock::new(),
        }
    }

    /// The socket poll for a new link on reactor `index`: made on the
    /// first link; `None` for links on another reactor (the I/O thread
    /// alone serves those) or if the system refused a poller.
    pub(crate) fn socket_poll(&self, index: usize, reactor: &Reactor) -> Option<Arc<SocketPoll>> {
        if self.socket_poll.get().is_none() {
            let made = reactor.socket_poll().ok()?;
            let _ = self.socket_poll.set((index, made));
        }
        let (i, poll) = self.socket_poll.get()?;
        (*i == index).then(|| Arc::clone(poll))
    }

    /// The socket poll, shared, once a tcp or ipc link made one: for an
    /// async runtime's reactor to watch (features `tokio`, `async-io`).
    pub(crate) fn shared_poll(&self) -> Option<Arc<SocketPoll>> {
        self.socket_poll.get().map(|(_, poll)| Arc::clone(poll))
    }

    /// The socket poll, once a tcp or ipc link made one.
    fn own_poll(&self) -> Option<&SocketPoll> {
        self.socket_poll.get().map(|(_, poll)| &**poll)
    }

    /// Waits until the signal's generation differs from `seen` or
    /// `deadline` passes, serving the socket's connections meanwhile: the
    /// caller leads its socket poll (reads, decodes and writes there,
    /// sparing the I/O thread's wake-up), unless someone else does; then
    /// it sleeps on the signal. May return early: callers check again.
    pub(crate) fn wait(&self, seen: u64, deadline: Option<Instant>) {
        if let Some(poll) = self.own_poll()
            && poll.lead(deadline, || self.signal.generation() == seen) == Lead::Led
        {
            return;
        }
        self.signal.wait(seen, deadline);
    }

    /// The caller is about to wait some other way than leading (`poll`,
    /// an async task, ZMQ_FD): the I/O thread must serve the connections
    /// meanwhile, so a lent socket poll goes back to it now.
    pub(crate) fn give_back_poll(&self) {
        if let Some(poll) = self.own_poll() {
            poll.give_back();
        }
    }

    /// Whether the owner waits: in a call (on the signal or leading its
    /// socket poll), in `poll` (which takes every watched socket's core
    /// when woken), or as an async task (which applies events when woken).
    fn owner_waits(&self) -> bool {
        self.signal.has_sleepers()
            || self.watching.load(Ordering::SeqCst) > 0
            || self.wakers.has_tasks()
            || self.own_poll().is_some_and(SocketPoll::is_leading)
    }

    /// Runs `f` on the core, after applying queued events. Blocks only on this
    /// socket's lock; never call it while holding another socket's core.
    pub(crate) fn with_core<R>(&self, f: impl FnOnce(&mut Core) -> R) -> R {
        let mut core = lock(&self.core);
        if self.pending.load(Ordering::SeqCst) && !self.core.is_poisoned() {
            self.apply(&mut core);
        }
        let r = f(&mut core);
        self.perform(&mut core);
        drop(core);
        self.settle();
        r
    }

    /// Whether a panic inside the core (under its lock) left it torn. The
    /// socket then refuses sends, receives and endpoints (`ENOTSOCK`).
    pub(crate) fn is_failed(&self) -> bool {
        self.core.is_poisoned()
    }

    /// Queues `event` for the core. On an application thread it is applied
    /// now if the core is free. The I/O thread never applies it: it wakes
    /// the owner if the owner waits in a call, else hands the socket to the
    /// context's applier. Never blocks on the core lock: safe from any
    /// thread, any lock held.
    pub(crate) fn post(&self, event: Event) {
        lock(&self.inbox).push(event);
        self.pending.store(true, Ordering::SeqCst);
        if tiermq_transport::on_io_thread() {
            let owner_waits = self.owner_waits();
            self.wake_waiters();
            if !owner_waits {
                let me: Weak<dyn Pending> = self.me.clone();
                self.applier.hand(me);
            }
        } else {
            self.settle();
        }
    }

    /// Applies queued events for as long as the core can be had without waiting.
    /// Run after every release of the core, so an event posted while the core
    /// was held is applied by the holder's release at the latest.
    fn settle(&self) {
        while self.pending.load(Ordering::SeqCst) {
            let mut core = match self.core.try_lock() {
                Ok(core) => core,
                // A failed core applies nothing more.
                Err(TryLockError::Poisoned(_)) => {
                    self.pending.store(false, Ordering::SeqCst);
                    lock(&self.inbox).clear();
                    return;
                }
                Err(TryLockError::WouldBlock) => return,
            };
            self.apply(&mut core);
        }
    }

    fn apply(&self, core: &mut Core) {
        debug_assert!(
            !tiermq_transport::on_io_thread(),
            "the I/O thread applies no socket's events"
        );
        self.pending.store(false, Ordering::SeqCst);
        let events = std::mem::take(&mut *lock(&self.inbox));
        if events.is_empty() {
            return;
        }
        let now = Instant::now();
        for event in events {
            core.apply(event, now);
        }
        self.perform(core);
        self.wake_waiters();
    }

    /// Carries out what the core asked for, in order, while it is still
    /// held (so the order of monitor events is the order of the changes).
    fn perform(&self, core: &mut Core) {
        for action in core.take_actions() {
            match action {
                Action::Monitor {
                    kind,
                    endpoint,
                    peer,
                } => self.hub.emit(kind, &endpoint, &peer),
                Action::ReconnectInproc { name, peer } => {
                    // An incompatible new binder is skipped, as a
                    // handshake would fail.
                    let _ = lock(&self.inproc).connect(&name, peer);
                }
            }
        }
    }

    /// Wakes this socket's blocked caller, any `poll` watching it, its
    /// async tasks and its `get_fd` descriptor.
    pub(crate) fn wake_waiters(&self) {
        self.signal.bump();
        if let Some(poll) = self.own_poll() {
            poll.wake_leader();
        }
        for w in lock(&self.watchers).iter() {
            w.bump();
        }
        self.wakers.wake();
    }

    pub(crate) fn mark_closing(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    pub(crate) fn watch(&self, signal: &Arc<Signal>) {
        self.give_back_poll();
        lock(&self.watchers).push(Arc::clone(signal));
        self.watching.fetch_add(1, Ordering::SeqCst);
    }

    /// The `poll` call is done watching. Events the I/O thread posted while
    /// it watched were left for it (not handed to the applier); any it has
    /// not taken yet are applied here.
    pub(crate) fn unwatch(&self, signal: &Arc<Signal>) {
        lock(&self.watchers).retain(|w| !Arc::ptr_eq(w, signal));
        self.watching.fetch_sub(1, Ordering::SeqCst);
        self.settle();
    }
}

impl Pending for Shared {
    fn apply_pending(&self) {
        self.settle();
    }
}

impl InprocSocket for Shared {
    fn post(&self, event: Event) {
        Shared::post(self, event);
    }

    fn is_closing(&self) -> bool {
        Shared::is_closing(self)
    }
}
