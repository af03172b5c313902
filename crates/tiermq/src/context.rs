//! `Context`: what sockets share: the I/O threads (started on the first tcp
//! or ipc endpoint) and the inproc registry.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tiermq_transport::Reactor;

use crate::inproc::{InprocPeer, Registry};
use crate::net::NetLink;
use crate::shared::{Shared, lock};
use crate::{Error, Result, Socket, SocketType};

/// A tiermq context: the owner of sockets' I/O threads and inproc endpoints.
///
/// Cheap to clone (a reference count); every clone is the same context, and
/// each socket holds one, so the context lives as long as its last socket or
/// handle. Reactor threads start on the first tcp/ipc `bind`/`connect` and
/// stop when the context is dropped or [`destroy`](Context::destroy)ed.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    io_threads: AtomicUsize,
    reactors: Mutex<Vec<Arc<Reactor>>>,
    next_reactor: AtomicUsize,
    terminated: AtomicBool,
    inproc: Mutex<Registry>,
    next_conn: AtomicU64,
    sockets: Mutex<Vec<Weak<Shared>>>,
}

impl Context {
    /// A new context with one I/O thread (started lazily).
    pub fn new() -> Context {
        Context {
            inner: Arc::new(Inner {
                io_threads: AtomicUsize::new(1),
                reactors: Mutex::new(Vec::new()),
                next_reactor: AtomicUsize::new(0),
                terminated: AtomicBool::new(false),
                inproc: Mutex::new(Registry::default()),
                next_conn: AtomicU64::new(1),
                sockets: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The number of I/O threads tcp and ipc links are spread over.
    pub fn get_io_threads(&self) -> Result<i32> {
        Ok(i32::try_from(self.inner.io_threads.load(Ordering::Relaxed)).unwrap_or(i32::MAX))
    }

    /// Sets the number of I/O threads (at least 1). Like libzmq, it only
    /// applies before the first tcp/ipc endpoint starts them.
    ///
    /// Errors: `EINVAL` for a value below 1.
    pub fn set_io_threads(&self, value: i32) -> Result<()> {
        let n = usize::try_from(value)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or(Error::EINVAL)?;
        self.inner.io_threads.store(n, Ordering::Relaxed);
        Ok(())
    }

    /// Creates a socket of `socket_type`.
    ///
    /// Errors: `ENOTSUP` for a type this version does not implement (see
    /// [`SocketType::is_supported`]); `ETERM` after [`destroy`](Context::destroy).
    pub fn socket(&self, socket_type: SocketType) -> Result<Socket> {
        if self.is_terminated() {
            return Err(Error::ETERM);
        }
        let socket = Socket::new(self.clone(), socket_type)?;
        let mut sockets = lock(&self.inner.sockets);
        sockets.retain(|s| s.strong_count() > 0);
        sockets.push(Arc::downgrade(socket.shared()));
        Ok(socket)
    }

    /// Terminates the context: blocked and later calls on its sockets return
    /// `ETERM`, and its I/O threads stop (closing every tcp/ipc connection).
    /// Unlike libzmq this does not wait for sockets to be closed.
    pub fn destroy(&mut self) -> Result<()> {
        self.inner.terminated.store(true, Ordering::SeqCst);
        for s in lock(&self.inner.sockets).iter().filter_map(Weak::upgrade) {
            s.wake_waiters();
        }
        let reactors = std::mem::take(&mut *lock(&self.inner.reactors));
        // Dropping a reactor joins its thread.
        drop(reactors);
        Ok(())
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.inner.terminated.load(Ordering::SeqCst)
    }

    /// The reactor for a new link, started on first use, links spread round-robin.
    pub(crate) fn reactor(&self) -> Result<(usize, Arc<Reactor>)> {
        let mut reactors = lock(&self.inner.reactors);
        if self.is_terminated() {
            return Err(Error::ETERM);
        }
        if reactors.is_empty() {
            for i in 0..self.inner.io_threads.load(Ordering::Relaxed).max(1) {
                let r = Reactor::spawn(&format!("tiermq-io-{i}")).map_err(|_| Error::EMTHREAD)?;
                reactors.push(Arc::new(r));
            }
        }
        let i = self.inner.next_reactor.fetch_add(1, Ordering::Relaxed) % reactors.len();
        Ok((i, Arc::clone(&reactors[i])))
    }

    /// Unbinds or disconnects a transport link.
    pub(crate) fn close_link(&self, link: NetLink) {
        let reactor = lock(&self.inner.reactors).get(link.reactor).cloned();
        if let Some(r) = reactor {
            r.close_link(link.id);
        }
    }

    fn next_conn(&self) -> impl FnMut() -> u64 + '_ {
        || self.inner.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn inproc_bind(&self, name: &str, peer: InprocPeer) -> Result<()> {
        lock(&self.inner.inproc).bind(name, peer, &mut self.next_conn())
    }

    pub(crate) fn inproc_connect(&self, name: &str, peer: InprocPeer) -> Result<()> {
        lock(&self.inner.inproc).connect(name, peer, &mut self.next_conn())
    }

    pub(crate) fn inproc_unbind(
        &self,
        name: &str,
        shared: &Weak<Shared>,
        link: crate::core::LinkKey,
    ) {
        lock(&self.inner.inproc).unbind(name, shared, link);
    }

    pub(crate) fn inproc_cancel(
        &self,
        name: &str,
        shared: &Weak<Shared>,
        link: crate::core::LinkKey,
    ) {
        lock(&self.inner.inproc).cancel_connect(name, shared, link);
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::new()
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("io_threads", &self.inner.io_threads.load(Ordering::Relaxed))
            .field("terminated", &self.is_terminated())
            .finish_non_exhaustive()
    }
}
