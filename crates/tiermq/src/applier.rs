//! The context's applier: one thread that applies the events the I/O
//! thread posted to sockets whose owner is not waiting in a call. The I/O
//! thread itself never applies a socket's events, so it never runs a
//! socket's reroutes or REQ resends in the middle of other connections'
//! turns; an owner waiting in a call applies its own (it is woken), and
//! this thread covers the rest, so a socket's queued work still moves on
//! (an IMMEDIATE=0 queue into a pipe that just attached, a reroute) while
//! its owner is busy elsewhere. A leaf module: it knows sockets only as
//! [`Pending`].

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;

use crate::sync::lock;

/// A socket with events waiting to be applied.
pub(crate) trait Pending: Send + Sync {
    /// Applies the queued events if the socket's core is free now; if it
    /// is not, its holder applies them when it lets go.
    fn apply_pending(&self);
}

#[derive(Default)]
struct State {
    queue: VecDeque<Weak<dyn Pending>>,
    thread: Option<JoinHandle<()>>,
    stop: bool,
}

/// See the module docs. Shared by a context's sockets.
#[derive(Default)]
pub(crate) struct Applier {
    state: Mutex<State>,
    cv: Condvar,
}

impl Applier {
    /// Queues `socket` to have its events applied, starting the thread on
    /// first use. Never blocks on a socket.
    pub(crate) fn hand(self: &Arc<Self>, socket: Weak<dyn Pending>) {
        let mut st = lock(&self.state);
        if st.stop {
            return;
        }
        st.queue.push_back(socket);
        if st.thread.is_none() {
            let me = Arc::clone(self);
            let spawned = std::thread::Builder::new()
                .name("tiermq-apply".to_owned())
                .spawn(move || me.run());
            match spawned {
                Ok(handle) => st.thread = Some(handle),
                // No thread: the events wait for their owners' next call.
                Err(_) => st.queue.clear(),
            }
        }
        drop(st);
        self.cv.notify_one();
    }

    fn run(self: Arc<Self>) {
        loop {
            let next = {
                let mut st = lock(&self.state);
                loop {
                    if let Some(s) = st.queue.pop_front() {
                        break Some(s);
                    }
                    if st.stop {
                        break None;
                    }
                    st = self
                        .cv
                        .wait(st)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            };
            match next {
                Some(socket) => {
                    if let Some(s) = socket.upgrade() {
                        s.apply_pending();
                    }
                }
                None => return,
            }
        }
    }

    /// Stops the thread once the queue is empty, and waits for it (the
    /// context's end).
    pub(crate) fn stop(&self) {
        let handle = {
            let mut st = lock(&self.state);
            st.stop = true;
            st.thread.take()
        };
        self.cv.notify_all();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}
