//! `Monitor`: a bounded stream of a socket's connection and tier events.
//!
//! The socket (and its I/O thread) *emit* into a [`Hub`]; each [`Monitor`]
//! is one bounded queue fed by it. Emitting never blocks: a full queue drops
//! the new event and counts it, so a monitor nobody reads costs the socket
//! one short lock per event and nothing more.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_core::Stream;

use crate::sync::lock;

/// The capacity of [`Socket::monitor`](crate::Socket::event_monitor).
pub const DEFAULT_MONITOR_CAPACITY: usize = 1024;

/// What happened (SPEC §7).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MonitorEventKind {
    /// A bind is listening.
    Listening,
    /// A bind accepted a connection; its handshake begins.
    Accepted,
    /// A connect reached its peer; its handshake begins.
    Connected,
    /// A connect attempt is in progress (the kernel did not complete it at
    /// once): `Connected` or `ConnectRetried` follows.
    ConnectDelayed,
    /// A connect will try again after `ivl`.
    ConnectRetried {
        /// The delay before the next attempt.
        ivl: Duration,
    },
    /// The ZMTP handshake completed.
    HandshakeSucceeded,
    /// The connection ended before its handshake completed.
    HandshakeFailed {
        /// Why, in words.
        reason: String,
    },
    /// An established connection ended.
    Disconnected {
        /// Why, in words.
        reason: String,
    },
    /// The heartbeat declared the peer dead. Its connection lingers for
    /// the dead linger: `Ready` follows if the peer is heard from again,
    /// else `Disconnected`.
    Dead,
    /// The peer's outgoing queue reached SNDHWM.
    Busy,
    /// The peer can take messages: just connected, or drained to its low-water mark.
    Ready,
    /// The active tier moved to a less preferred one (`None`: no tier ready).
    Failover {
        /// The tier that was active.
        from: Option<u8>,
        /// The tier now active.
        to: Option<u8>,
    },
    /// The active tier moved back to a more preferred one.
    Failback {
        /// The tier that was active.
        from: Option<u8>,
        /// The tier now active.
        to: Option<u8>,
    },
    /// Messages a peer held when it went away were handed to the others
    /// (REQ: the request in flight was resent).
    Rerouted {
        /// How many messages.
        messages: u64,
    },
    /// REQ dropped a reply to a request it had given up on (resent after
    /// a death, a disconnection or REQ_RESEND_IVL, or abandoned with
    /// REQ_RELAXED): the server answered late, and may have done the work
    /// twice. Counted in `Peer::stale_replies`.
    StaleReply,
    /// Latency tiers moved the peer to another send tier (its heartbeat
    /// round trip changed relative to the fastest peer's).
    TierChanged {
        /// Its tier before (`None`: its first measurement).
        from: Option<u8>,
        /// Its tier now.
        to: u8,
    },
    /// A bind stopped listening.
    Closed,
    /// A bind failed (the error was also returned by `bind`).
    BindFailed,
    /// A listener failed to accept a connection (it keeps listening).
    AcceptFailed,
}

/// One monitor event: what happened, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorEvent {
    /// What happened.
    pub kind: MonitorEventKind,
    /// The endpoint of the bind or connect concerned (empty for tier events).
    pub endpoint: String,
    /// The peer's address (empty where there is no connection).
    pub peer: String,
}

/// What libzmq would put in an event's value, known only where the event
/// is raised (the typed event says it in words). The zmq-style monitor
/// ([`Socket::monitor`](crate::Socket::monitor)) reads it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Detail {
    /// Nothing to add.
    #[default]
    None,
    /// An operating-system error number.
    Errno(i32),
    /// A ZMTP protocol failure: one of libzmq's `ZMQ_PROTOCOL_ERROR_*` codes.
    Protocol(u32),
    /// Authentication refused: the ZAP status code (PLAIN or CURVE, or a
    /// NULL peer refused by a ZAP handler).
    Auth(u32),
}

/// One monitor's queue.
#[derive(Debug)]
struct Queue {
    events: Mutex<VecDeque<(MonitorEvent, Detail)>>,
    cv: Condvar,
    capacity: usize,
    dropped: AtomicU64,
    /// The socket is gone: no more events will come.
    closed: AtomicBool,
    /// A waiting reader is asked to return early (see [`Monitor::wake`]).
    woken: AtomicBool,
    /// The task polling it as a [`Stream`], if it waits.
    task: Mutex<Option<Waker>>,
}

impl Queue {
    /// Wakes the task waiting on the stream, if any.
    fn wake_task(&self) {
        let task = lock(&self.task).take();
        if let Some(w) = task {
            w.wake();
        }
    }
}

/// Where a socket's events go: every live monitor.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    active: AtomicBool,
    queues: Mutex<Vec<Weak<Queue>>>,
}

impl Hub {
    /// Whether any monitor may be listening (cheap; lets callers skip work).
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Offers an event to every monitor. Never blocks on a reader.
    pub(crate) fn emit(&self, kind: MonitorEventKind, endpoint: &str, peer: &str) {
        self.emit_detailed(kind, endpoint, peer, Detail::None);
    }

    /// [`Hub::emit`], with what libzmq would put in the event's value.
    pub(crate) fn emit_detailed(
        &self,
        kind: MonitorEventKind,
        endpoint: &str,
        peer: &str,
        detail: Detail,
    ) {
        if !self.is_active() {
            return;
        }
        let mut queues = lock(&self.queues);
        queues.retain(|q| q.strong_count() > 0);
        if queues.is_empty() {
            self.active.store(false, Ordering::Relaxed);
            return;
        }
        let event = MonitorEvent {
            kind,
            endpoint: endpoint.to_owned(),
            peer: peer.to_owned(),
        };
        for q in queues.iter().filter_map(Weak::upgrade) {
            let mut events = lock(&q.events);
            if events.len() >= q.capacity {
                q.dropped.fetch_add(1, Ordering::Relaxed);
            } else {
                events.push_back((event.clone(), detail));
                q.cv.notify_all();
                drop(events);
                q.wake_task();
            }
        }
    }

    /// A new monitor holding up to `capacity` unread events.
    pub(crate) fn subscribe(&self, capacity: usize) -> Monitor {
        let q = Arc::new(Queue {
            events: Mutex::new(VecDeque::new()),
            cv: Condvar::new(),
            capacity: capacity.max(1),
            dropped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            woken: AtomicBool::new(false),
            task: Mutex::new(None),
        });
        lock(&self.queues).push(Arc::downgrade(&q));
        self.active.store(true, Ordering::Relaxed);
        Monitor { queue: q }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        for q in lock(&self.queues).iter().filter_map(Weak::upgrade) {
            q.closed.store(true, Ordering::SeqCst);
            let guard = lock(&q.events);
            q.cv.notify_all();
            drop(guard);
            q.wake_task();
        }
    }
}

/// A bounded stream of a socket's events, from
/// [`Socket::monitor`](crate::Socket::event_monitor): read it blocking, or
/// as an async [`Stream`] on any runtime.
///
/// Events are kept in order. When the monitor holds `capacity` unread
/// events, newer ones are dropped and counted ([`dropped`](Monitor::dropped)):
/// a monitor that is not read never slows or blocks its socket.
///
/// ```
/// use tiermq::{Context, MonitorEventKind, PULL, PUSH};
/// use std::time::Duration;
///
/// # fn main() -> tiermq::Result<()> {
/// let ctx = Context::new();
/// let push = ctx.socket(PUSH)?;
/// let monitor = push.event_monitor();
/// push.bind("tcp://127.0.0.1:*")?;
/// let event = monitor.recv_timeout(Duration::from_secs(10)).unwrap();
/// assert_eq!(event.kind, MonitorEventKind::Listening);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Monitor {
    queue: Arc<Queue>,
}

impl Monitor {
    /// The next event, waiting up to `timeout`; `None` if none came (or the
    /// socket is gone and every event was read).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<MonitorEvent> {
        self.recv_detailed(timeout).map(|(e, _)| e)
    }

    /// [`Monitor::recv_timeout`], with the event's [`Detail`].
    pub(crate) fn recv_detailed(&self, timeout: Duration) -> Option<(MonitorEvent, Detail)> {
        let deadline = Instant::now().checked_add(timeout);
        let mut events = lock(&self.queue.events);
        loop {
            if let Some(e) = events.pop_front() {
                return Some(e);
            }
            if self.queue.closed.load(Ordering::SeqCst)
                || self.queue.woken.swap(false, Ordering::SeqCst)
            {
                return None;
            }
            let wait = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if wait.is_zero() {
                return None;
            }
            events = self
                .queue
                .cv
                .wait_timeout(events, wait)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<MonitorEvent> {
        lock(&self.queue.events).pop_front().map(|(e, _)| e)
    }

    /// Whether no more events will come: the socket is gone, or
    /// [`Monitor::close`] was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.queue.closed.load(Ordering::SeqCst)
    }

    /// Makes a reader waiting in [`Monitor::recv_detailed`] (or the next
    /// one to wait) return `None` at once, with the stream still open.
    pub(crate) fn wake(&self) {
        self.queue.woken.store(true, Ordering::SeqCst);
        let _guard = lock(&self.queue.events);
        self.queue.cv.notify_all();
    }

    /// Ends the stream from the reading side: waiting readers wake, and
    /// reading ends once the events already queued are read.
    pub(crate) fn close(&self) {
        self.queue.closed.store(true, Ordering::SeqCst);
        let guard = lock(&self.queue.events);
        self.queue.cv.notify_all();
        drop(guard);
        self.queue.wake_task();
    }

    /// The events waiting now, without blocking.
    pub fn try_iter(&self) -> impl Iterator<Item = MonitorEvent> + '_ {
        std::iter::from_fn(|| self.try_recv())
    }

    /// Every event as it comes, blocking; ends once the socket (and its
    /// connections) are gone and every event was read.
    pub fn iter(&self) -> impl Iterator<Item = MonitorEvent> + '_ {
        std::iter::from_fn(|| {
            loop {
                if let Some(e) = self.recv_timeout(Duration::from_secs(3600)) {
                    return Some(e);
                }
                if self.queue.closed.load(Ordering::SeqCst) {
                    return None;
                }
            }
        })
    }

    /// How many events were dropped because this monitor was full.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped.load(Ordering::Relaxed)
    }

    /// How many events it holds at most.
    pub fn capacity(&self) -> usize {
        self.queue.capacity
    }
}

/// The events as an async stream, for any runtime: each as it comes,
/// ending once the socket (and its connections) are gone and every event
/// was read. It drops and counts events as [`Monitor`] does.
///
/// ```
/// use futures_core::Stream;
/// fn is_stream<S: Stream<Item = tiermq::MonitorEvent>>() {}
/// is_stream::<tiermq::Monitor>();
/// ```
impl Stream for Monitor {
    type Item = MonitorEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<MonitorEvent>> {
        if let Some(e) = self.try_recv() {
            return Poll::Ready(Some(e));
        }
        // Registered before looking again, so that an event emitted in
        // between wakes the task.
        *lock(&self.queue.task) = Some(cx.waker().clone());
        if let Some(e) = self.try_recv() {
            return Poll::Ready(Some(e));
        }
        if self.is_closed() {
            return Poll::Ready(None);
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_monitor_drops_and_counts_new_events() {
        let hub = Hub::default();
        hub.emit(MonitorEventKind::Ready, "a", "b"); // nobody listens: not kept
        let m = hub.subscribe(2);
        for _ in 0..5 {
            hub.emit(MonitorEventKind::Busy, "e", "p");
        }
        assert_eq!(m.dropped(), 3);
        assert_eq!(m.try_iter().count(), 2);
        hub.emit(MonitorEventKind::Ready, "e", "p");
        assert_eq!(m.try_recv().map(|e| e.kind), Some(MonitorEventKind::Ready));
        drop(m);
        hub.emit(MonitorEventKind::Ready, "e", "p");
        assert!(!hub.is_active(), "a dropped monitor is forgotten");
    }

    #[test]
    fn iteration_ends_when_the_socket_is_gone() {
        let hub = Hub::default();
        let m = hub.subscribe(8);
        hub.emit(MonitorEventKind::Listening, "e", "");
        drop(hub);
        assert_eq!(m.iter().count(), 1);
        assert_eq!(m.recv_timeout(Duration::from_secs(5)), None);
    }
}
