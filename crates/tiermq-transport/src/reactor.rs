//! `Reactor`: the handle application threads use to command the I/O thread,
//! and the inbox they share with it.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::Duration;

use mio::{Poll, Registry, Waker};

use crate::inbox::{BindTarget, Command, ConnectTarget, Shared};
use crate::io_loop::IoLoop;
use crate::net::unique_ipc_path;
use crate::resolve::{TcpTarget, bind_addr};
use crate::token::WAKER;
use crate::{Endpoint, LinkId, LinkOptions, Sink, SocketPoll};

/// One I/O thread: a mio `Poll` serving every tcp and ipc listener and
/// connection of the links bound or connected through it.
///
/// All methods take `&self` and may be called from any thread except the
/// reactor's own (that is, not from inside [`Sink::notify`]). Dropping the
/// reactor shuts it down as [`shutdown`](Reactor::shutdown) does.
pub struct Reactor {
    shared: Arc<Shared>,
    /// The I/O thread's registry, where socket polls nest (one descriptor
    /// shared by all of them).
    registry: Arc<Registry>,
    thread: Option<JoinHandle<()>>,
    thread_id: ThreadId,
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("thread", &self.thread_id)
            .finish_non_exhaustive()
    }
}

impl Reactor {
    /// Starts an I/O thread named `name`.
    ///
    /// Errors: the operating system refused a poller, a waker or a thread.
    pub fn spawn(name: &str) -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let shared = Arc::new(Shared::new(waker));
        let registry = Arc::new(poll.registry().try_clone()?);
        let io_loop = IoLoop::new(poll, Arc::clone(&shared));
        let thread = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || io_loop.run())?;
        Ok(Reactor {
            shared,
            registry,
            thread_id: thread.thread().id(),
            thread: Some(thread),
        })
    }

    /// Binds `ep` (tcp or ipc) and starts accepting. Each accepted peer gets a
    /// session configured by `opts`; `sink` hears about them.
    ///
    /// A tcp host may be `*` (every interface: IPv4, or both families with
    /// `opts.ipv6`), an address, an interface name (`tcp://eth0:5555`: its
    /// first IPv4 address, or its first IPv6 one with `opts.ipv6`, as in
    /// libzmq) or a host name. Interface and host names are resolved on the
    /// calling thread (a host name lookup blocks); the bind itself runs on
    /// the I/O thread, and this call waits for it. Returns the link and the
    /// actually bound endpoint (`last_endpoint`): the kernel's port for port
    /// `0`/`*` (`"tcp://0.0.0.0:41234"` for `tcp://*:*`, `"tcp://[::]:41234"`
    /// with `opts.ipv6`), the generated path for `ipc://*`.
    ///
    /// Errors: `InvalidInput` for `inproc://` (the `tiermq` crate serves it),
    /// an endpoint with a source address (`tcp://src;host:port` is for
    /// connects), or a host that is no address, interface or resolvable
    /// name; the operating system's error for a failed bind (`AddrInUse`,
    /// `PermissionDenied`, ...), also reported as
    /// [`MonitorEvent::BindFailed`](crate::MonitorEvent::BindFailed);
    /// `BrokenPipe` if the reactor has stopped; `WouldBlock` if called on
    /// the reactor's own thread.
    pub fn bind(
        &self,
        ep: &Endpoint,
        opts: LinkOptions,
        sink: Arc<dyn Sink>,
    ) -> io::Result<(LinkId, String)> {
        if thread::current().id() == self.thread_id {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "Reactor::bind called on the reactor's own thread",
            ));
        }
        let target = match ep {
            Endpoint::Tcp {
                source: Some(_), ..
            } => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{ep}: a source address (`src;host:port`) applies to connect only"),
                ));
            }
            Endpoint::Tcp { host, port, .. } => BindTarget::Tcp(bind_addr(host, *port, opts.ipv6)?),
            Endpoint::Ipc(path) if path.as_os_str() == "*" => BindTarget::Ipc(unique_ipc_path()),
            Endpoint::Ipc(path) => BindTarget::Ipc(path.clone()),
            Endpoint::Inproc(_) => return Err(inproc_here()),
        };
        let link = next_link();
        let (reply, answer) = mpsc::sync_channel(1);
        self.shared.post(|inbox| {
            inbox.commands.push(Command::Bind {
                link,
                endpoint: ep.to_string(),
                target,
                opts,
                sink,
                reply,
            })
        });
        loop {
            match answer.recv_timeout(Duration::from_millis(100)) {
                Ok(result) => return result.map(|endpoint| (link, endpoint)),
                // A reactor that died (a panicking Sink) never answers.
                Err(RecvTimeoutError::Timeout) if !self.is_stopped() => {}
                Err(_) => return Err(stopped()),
            }
        }
    }

    /// Connects to `ep` (tcp or ipc) in the background and keeps the link
    /// connected: after a failed attempt or a lost connection it retries
    /// after `opts.reconnect_ivl` (with backoff up to `reconnect_ivl_max`).
    ///
    /// Nothing is resolved here. As in libzmq, each attempt resolves a tcp
    /// host name again (IPv4 addresses only, unless `opts.ipv6`) and tries
    /// the next of its addresses; a name that does not resolve counts as a
    /// failed attempt, reported as
    /// [`MonitorEvent::ConnectRetried`](crate::MonitorEvent::ConnectRetried),
    /// and is retried. The lookup runs on a short-lived helper thread, so a
    /// slow DNS server never stalls the I/O thread. With a source
    /// (`tcp://SOURCE;HOST:PORT`, see [`TcpSource`](crate::TcpSource)), each
    /// attempt binds the connecting socket to the source's address (an
    /// interface's address of the destination's family, looked up at each
    /// attempt) before connecting; a destination of a family the source
    /// lacks is skipped. Returns at once; progress arrives through `sink`.
    ///
    /// Errors: `InvalidInput` for `inproc://`, a host of `*`, port `0`/`*`,
    /// or a host that is neither an address literal nor a well-formed host
    /// name; `BrokenPipe` if the reactor has stopped.
    pub fn connect(
        &self,
        ep: &Endpoint,
        opts: LinkOptions,
        sink: Arc<dyn Sink>,
    ) -> io::Result<LinkId> {
        let target = match ep {
            Endpoint::Tcp { host, port, source } => {
                ConnectTarget::Tcp(TcpTarget::new(host, *port, source.as_ref(), opts.ipv6)?)
            }
            Endpoint::Ipc(path) => ConnectTarget::Ipc(path.clone()),
            Endpoint::Inproc(_) => return Err(inproc_here()),
        };
        if self.is_stopped() {
            return Err(stopped());
        }
        let link = next_link();
        self.shared.post(|inbox| {
            inbox.commands.push(Command::Connect {
                link,
                endpoint: ep.to_string(),
                target,
                opts,
                sink,
            })
        });
        Ok(link)
    }

    /// Answers a [`Notification::ZapRequest`](crate::Notification::ZapRequest):
    /// `Some(reply)` is the ZAP handler's verdict; `None` says there is no
    /// handler, and libzmq 4.3's rule applies (PLAIN refuses, CURVE and NULL
    /// admit). A refused or failed handshake closes that connection only,
    /// with a `HandshakeFailed` monitor event. Returns at once; a ticket
    /// whose connection is gone is ignored.
    pub fn zap_reply(&self, ticket: crate::ZapTicket, reply: Option<tiermq_wire::ZapReply>) {
        self.shared
            .post(|inbox| inbox.commands.push(Command::ZapReply { ticket, reply }));
    }

    /// A poll of the socket's own on this reactor, for
    /// [`LinkOptions::socket_poll`]: the connections of links made with it
    /// move into it once established, and a caller of the socket that
    /// would block can serve them itself with [`SocketPoll::lead`].
    ///
    /// Errors: the operating system refused a poller or a waker.
    pub fn socket_poll(&self) -> io::Result<Arc<SocketPoll>> {
        self.shared.new_group(&self.registry)
    }

    /// Unbinds or disconnects `link`: stops listening (and unlinks an ipc
    /// path) or stops reconnecting, and closes every connection made
    /// through the link, as libzmq's unbind and disconnect do. Attached
    /// connections end with [`Notification::Detached`](crate::Notification)
    /// and reason [`DetachReason::Closed`](crate::DetachReason). Returns at
    /// once; an unknown link is ignored.
    pub fn close_link(&self, link: LinkId) {
        self.shared
            .post(|inbox| inbox.commands.push(Command::CloseLink(link)));
    }

    /// Whether the I/O thread has ended (only after a panic, e.g. in a
    /// [`Sink`], or a failing poller; `shutdown` consumes the reactor).
    pub fn is_stopped(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Closes every link and connection (as [`close_link`](Self::close_link))
    /// and joins the I/O thread.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        self.shared
            .post(|inbox| inbox.commands.push(Command::Shutdown));
        if let Some(thread) = self.thread.take() {
            // Joining ourselves would deadlock (a Sink dropping the reactor).
            if thread::current().id() != self.thread_id {
                let _ = thread.join();
            }
        }
    }
}

fn next_link() -> LinkId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    LinkId(NEXT.fetch_add(1, Ordering::Relaxed))
}

fn inproc_here() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "inproc:// endpoints are served by the tiermq crate, not by the reactor",
    )
}

fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the reactor thread has stopped")
}
