//! `Context`: what sockets share: the I/O threads (started on the first tcp
//! or ipc endpoint), the inproc registry, and sockets still lingering.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;

use tiermq_transport::Reactor;

use crate::applier::Applier;
use crate::core::LinkKind;
use crate::events::LinkKey;
use crate::handles::{InprocPeer, InprocSocket};
use crate::inproc::Registry;
use crate::shared::{Shared, lock};
use crate::zap::{self, ZapJob, ZapRoute};
use crate::{Error, Result, Socket, SocketType};

/// A tiermq context: the owner of sockets' I/O threads and inproc endpoints.
///
/// Cheap to clone (a reference count); every clone is the same context, and
/// each socket holds one, so the context lives as long as its last socket or
/// handle. Reactor threads start on the first tcp/ipc `bind`/`connect`.
///
/// As with libzmq, closing a socket returns at once and the socket lingers
/// in the background; when the context ends (its last handle and socket are
/// dropped) it waits for lingering sockets, then stops its I/O threads.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    io_threads: AtomicUsize,
    next_reactor: AtomicUsize,
    links: Links,
    sockets: Mutex<Vec<Weak<Shared>>>,
    lingering: Mutex<Vec<JoinHandle<()>>>,
    applier: Arc<Applier>,
    /// The ZAP thread's queue, once started (see `zap`).
    zap: Mutex<Option<Sender<ZapJob>>>,
}

/// What closing a link needs, shared with lingering sockets' threads
/// (which must not keep the context itself alive).
#[derive(Clone)]
pub(crate) struct Links {
    reactors: Arc<Mutex<Vec<Arc<Reactor>>>>,
    inproc: Arc<Mutex<Registry>>,
    terminated: Arc<AtomicBool>,
}

impl Links {
    pub(crate) fn is_terminated(&self) -> bool {
        self.terminated.load(Ordering::SeqCst)
    }

    /// Unbinds or disconnects one link of the socket `shared`.
    pub(crate) fn close(&self, shared: &Weak<Shared>, kind: LinkKind, key: LinkKey) {
        let shared: Weak<dyn InprocSocket> = shared.clone();
        let shared = &shared;
        match kind {
            LinkKind::InprocBind(name) => lock(&self.inproc).unbind(&name, shared, key),
            LinkKind::InprocConnect { name, .. } => {
                lock(&self.inproc).cancel_connect(&name, shared, key)
            }
            LinkKind::Net {
                link: Some(net), ..
            } => {
                let reactor = lock(&self.reactors).get(net.reactor).cloned();
                if let Some(r) = reactor {
                    r.close_link(net.id);
                }
            }
            LinkKind::Net { link: None, .. } => {}
        }
    }
}

impl Context {
    /// A new context with one I/O thread (started lazily).
    pub fn new() -> Context {
        Context {
            inner: Arc::new(Inner {
                io_threads: AtomicUsize::new(1),
                next_reactor: AtomicUsize::new(0),
                links: Links {
                    reactors: Arc::new(Mutex::new(Vec::new())),
                    inproc: Arc::new(Mutex::new(Registry::default())),
                    terminated: Arc::new(AtomicBool::new(false)),
                },
                sockets: Mutex::new(Vec::new()),
                lingering: Mutex::new(Vec::new()),
                applier: Arc::default(),
                zap: Mutex::new(None),
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
    /// `ETERM`, lingering sockets stop lingering, and the I/O threads stop
    /// (closing every tcp/ipc connection). Unlike libzmq this does not wait
    /// for the application to close its sockets.
    pub fn destroy(&mut self) -> Result<()> {
        self.inner.links.terminated.store(true, Ordering::SeqCst);
        for s in lock(&self.inner.sockets).iter().filter_map(Weak::upgrade) {
            s.wake_waiters();
        }
        self.inner.join_lingering();
        let reactors = std::mem::take(&mut *lock(&self.inner.links.reactors));
        // Dropping a reactor joins its thread.
        drop(reactors);
        Ok(())
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.inner.links.is_terminated()
    }

    /// The inproc registry, for sockets to reconnect on their own.
    pub(crate) fn inproc(&self) -> &Arc<Mutex<Registry>> {
        &self.inner.links.inproc
    }

    /// The context's applier (see `applier`).
    pub(crate) fn applier(&self) -> &Arc<Applier> {
        &self.inner.applier
    }

    pub(crate) fn links(&self) -> &Links {
        &self.inner.links
    }

    /// The reactor for a new link, started on first use, links spread round-robin.
    pub(crate) fn reactor(&self) -> Result<(usize, Arc<Reactor>)> {
        let mut reactors = lock(&self.inner.links.reactors);
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

    /// Runs a closing socket's linger on its own thread; the context's end waits for it.
    /// Gives `work` back if no thread could be started.
    pub(crate) fn linger_in_background<F: FnOnce() + Send + 'static>(
        &self,
        work: F,
    ) -> std::result::Result<(), F> {
        let slot = Arc::new(Mutex::new(Some(work)));
        let taken = Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name("tiermq-linger".to_owned())
            .spawn(move || {
                let work = lock(&taken).take();
                if let Some(work) = work {
                    work();
                }
            });
        match spawned {
            Ok(handle) => {
                let mut lingering = lock(&self.inner.lingering);
                lingering.retain(|h| !h.is_finished());
                lingering.push(handle);
                Ok(())
            }
            Err(_) => match lock(&slot).take() {
                Some(work) => Err(work),
                None => Ok(()),
            },
        }
    }

    /// Where a link on `reactor` sends its ZAP requests; starts the
    /// context's ZAP thread on first use.
    pub(crate) fn zap_route(
        &self,
        reactor: &Arc<Reactor>,
        domain: Vec<u8>,
        enforce: bool,
    ) -> ZapRoute {
        let jobs = {
            let mut slot = lock(&self.inner.zap);
            match &*slot {
                Some(tx) => tx.clone(),
                None => {
                    let (tx, rx) = mpsc::channel();
                    let weak = Arc::downgrade(&self.inner);
                    let spawned = std::thread::Builder::new()
                        .name("tiermq-zap".to_owned())
                        .spawn(move || {
                            zap::serve(rx, || weak.upgrade().map(|inner| Context { inner }))
                        });
                    // Without the thread the receiver is gone: every
                    // request is then answered as if no handler were bound.
                    if spawned.is_ok() {
                        *slot = Some(tx.clone());
                    }
                    tx
                }
            }
        };
        ZapRoute {
            jobs,
            reactor: Arc::downgrade(reactor),
            domain,
            enforce,
        }
    }

    pub(crate) fn inproc_bind(&self, name: &str, peer: InprocPeer) -> Result<()> {
        lock(&self.inner.links.inproc).bind(name, peer)
    }

    pub(crate) fn inproc_connect(&self, name: &str, peer: InprocPeer) -> Result<()> {
        lock(&self.inner.links.inproc).connect(name, peer)
    }
}

impl Inner {
    fn join_lingering(&self) {
        let handles = std::mem::take(&mut *lock(&self.lingering));
        for h in handles {
            // A panicked linger thread has nothing left to clean up.
            let _ = h.join();
        }
    }
}

impl Drop for Inner {
    /// The context's end, like `zmq_ctx_term`: waits for lingering sockets;
    /// the I/O threads stop when `links` drops.
    fn drop(&mut self) {
        self.join_lingering();
        self.applier.stop();
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
