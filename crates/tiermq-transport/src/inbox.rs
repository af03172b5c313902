//! What application threads and the I/O thread share: the commands and
//! woken connections posted to the I/O thread (`Inbox`), the waker that
//! posts a connection whose pipe changed state, and the lock around them.
//! Both [`Reactor`](crate::Reactor) and the I/O loop use it; it uses
//! neither.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use mio::{Registry, Token, Waker};

use crate::connection::{Connection, Handback};
use crate::resolve::TcpTarget;
use crate::socket_poll::SocketPoll;
use crate::{LinkId, LinkOptions, Sink};

/// What the reactor is told to do.
pub(crate) enum Command {
    Bind {
        link: LinkId,
        endpoint: String,
        target: BindTarget,
        opts: LinkOptions,
        sink: Arc<dyn Sink>,
        reply: SyncSender<io::Result<String>>,
    },
    Connect {
        link: LinkId,
        endpoint: String,
        target: ConnectTarget,
        opts: LinkOptions,
        sink: Arc<dyn Sink>,
    },
    /// A helper thread looked up the host name of `link`'s connect
    /// attempt number `attempt`.
    Resolved {
        link: LinkId,
        attempt: u64,
        addrs: io::Result<Vec<SocketAddr>>,
    },
    CloseLink(LinkId),
    /// A caller took socket poll `id` out of the reactor's poll: check
    /// now and then whether it is due back.
    Lent(u32),
    /// The answer to a `Notification::ZapRequest`; `None`: no ZAP handler.
    ZapReply {
        ticket: crate::ZapTicket,
        reply: Option<tiermq_wire::ZapReply>,
    },
    Shutdown,
}

/// A resolved bind address.
pub(crate) enum BindTarget {
    Tcp(SocketAddr),
    Ipc(PathBuf),
}

/// Where a connect goes; a tcp host is resolved at each attempt.
pub(crate) enum ConnectTarget {
    Tcp(TcpTarget),
    Ipc(PathBuf),
}

/// Work posted to the I/O thread: commands, and connections whose pipes
/// changed state (an out pipe became non-empty, an in pipe drained).
#[derive(Default)]
pub(crate) struct Inbox {
    pub(crate) commands: Vec<Command>,
    pub(crate) writable: Vec<Token>,
    pub(crate) readable: Vec<Token>,
}

/// The state app threads share with the I/O thread.
pub(crate) struct Shared {
    inbox: Mutex<Inbox>,
    waker: Waker,
    /// Mirrors "the inbox is not empty"; written under the inbox lock, read
    /// without it by the I/O thread between polls.
    pending: AtomicBool,
    /// The I/O thread is in (or about to enter) a blocking poll and needs
    /// the waker. While it runs, posts cost no syscall: it looks at
    /// `pending` before every poll.
    asleep: AtomicBool,
    /// The sockets' own polls on this reactor, by id (see `SocketPoll`).
    groups: Mutex<Groups>,
}

/// The socket polls, by the id their token in the reactor's poll carries.
#[derive(Default)]
struct Groups {
    next: u32,
    polls: HashMap<u32, Weak<SocketPoll>>,
}

impl Shared {
    pub(crate) fn new(waker: Waker) -> Self {
        Shared {
            inbox: Mutex::new(Inbox::default()),
            waker,
            pending: AtomicBool::new(false),
            asleep: AtomicBool::new(false),
            groups: Mutex::new(Groups::default()),
        }
    }

    /// Makes a socket poll nested in `reactor` (the reactor's registry).
    pub(crate) fn new_group(
        self: &Arc<Self>,
        reactor: &Arc<Registry>,
    ) -> io::Result<Arc<SocketPoll>> {
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        // Drop the entries of sockets gone since.
        groups.polls.retain(|_, g| g.strong_count() > 0);
        let id = loop {
            groups.next = groups.next.wrapping_add(1);
            if !groups.polls.contains_key(&groups.next) {
                break groups.next;
            }
        };
        let group = Arc::new(SocketPoll::new(
            Arc::clone(self),
            reactor,
            id,
            crate::token::group_token(id),
        )?);
        groups.polls.insert(id, Arc::downgrade(&group));
        Ok(group)
    }

    /// The socket poll `id`, if it still exists.
    pub(crate) fn group(&self, id: u32) -> Option<Arc<SocketPoll>> {
        let groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        groups.polls.get(&id).and_then(Weak::upgrade)
    }

    /// Adds work, and wakes the reactor only if it is parked in a poll.
    /// Posts what is left for the I/O thread of a connection served on
    /// another thread, if anything.
    pub(crate) fn post_handback(&self, token: Token, left: Handback) {
        if left.read || left.write {
            self.post(|i| {
                if left.read {
                    i.readable.push(token);
                }
                if left.write {
                    i.writable.push(token);
                }
            });
        }
    }

    pub(crate) fn post(&self, add: impl FnOnce(&mut Inbox)) {
        let mut inbox = self.lock();
        add(&mut inbox);
        self.pending.store(true, Ordering::SeqCst);
        drop(inbox);
        // With `going_to_sleep` this is a store-then-load on each side
        // (SeqCst): either the reactor sees `pending` and does not park, or
        // we see `asleep` and wake it.
        if self.asleep.load(Ordering::SeqCst) && self.asleep.swap(false, Ordering::SeqCst) {
            // Fails only if the poller is gone, i.e. the reactor stopped.
            let _ = self.waker.wake();
        }
    }

    /// Whether work was posted since the last `take`. No lock.
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// The I/O thread is about to block in a poll: returns false (don't
    /// block) if work is already pending.
    pub(crate) fn going_to_sleep(&self) -> bool {
        self.asleep.store(true, Ordering::SeqCst);
        if self.pending.load(Ordering::SeqCst) {
            self.asleep.store(false, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// The I/O thread is running again (its poll returned).
    pub(crate) fn awake(&self) {
        self.asleep.store(false, Ordering::Relaxed);
    }

    /// Swaps the inbox's contents with `into` (which must be empty), keeping
    /// both sets of allocations alive.
    pub(crate) fn take(&self, into: &mut Inbox) {
        let mut inbox = self.lock();
        std::mem::swap(&mut *inbox, into);
        self.pending.store(false, Ordering::Release);
    }

    fn lock(&self) -> MutexGuard<'_, Inbox> {
        // A panic elsewhere while holding the lock leaves plain vectors
        // behind; they are still valid.
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Which way a connection's pipe woke the reactor.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Direction {
    /// The out pipe became non-empty (or its writer closed): write.
    Out,
    /// The in pipe drained to its low-water mark (or its reader closed):
    /// read again.
    In,
}

/// A pipe waker that posts its connection's token to the inbox. An out
/// pipe's, fired on the sender's thread, first tries to write there
/// ([`Connection::write_direct`]): a message to an idle connection then
/// costs no wake-up of the I/O thread.
pub(crate) struct PipeWaker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) token: Token,
    pub(crate) direction: Direction,
    /// An out pipe's waker that writes the pipe out on a blocked sender's
    /// thread ([`Wake::drive`](tiermq_pipe::Wake::drive)).
    pub(crate) drives: bool,
    pub(crate) conn: Weak<Mutex<Connection>>,
}

impl PipeWaker {
    fn write_direct(&self) -> bool {
        if crate::io_loop::on_io_thread() {
            return false;
        }
        let Some(conn) = self.conn.upgrade() else {
            return false;
        };
        // Never wait: the I/O thread (or another sender) has it, and
        // serves the pipe anyway once posted.
        let Ok(mut conn) = conn.try_lock() else {
            return false;
        };
        conn.write_direct()
    }
}

impl PipeWaker {
    /// An in pipe's waker, fired on the receiver's thread once it drained
    /// a full pipe: reads there ([`Connection::read_direct`]). `None` when
    /// the I/O thread must.
    fn read_direct(&self) -> Option<Handback> {
        if crate::io_loop::on_io_thread() {
            return None;
        }
        let conn = self.conn.upgrade()?;
        // Never wait, as for writes: whoever has it serves the pipe.
        let mut conn = conn.try_lock().ok()?;
        conn.read_direct(&self.shared)
    }
}

impl tiermq_pipe::Wake for PipeWaker {
    /// A sender blocked on this full out pipe writes it out on its own
    /// thread ([`Connection::drive_out`]) rather than sleep until the I/O
    /// thread has: the I/O thread was woken when the pipe became non-empty
    /// and may be busy with other connections, or on another CPU.
    fn drive(&self) -> bool {
        if !self.drives || crate::io_loop::on_io_thread() {
            return false;
        }
        let Some(conn) = self.conn.upgrade() else {
            return false;
        };
        // Whoever has it now is writing it.
        let Ok(mut conn) = conn.try_lock() else {
            return false;
        };
        let Some(left) = conn.drive_out() else {
            return false;
        };
        let token = conn.token;
        drop(conn);
        self.shared.post_handback(token, left);
        true
    }

    fn wake(&self) {
        let token = self.token;
        match self.direction {
            Direction::Out if self.write_direct() => {}
            Direction::Out => self.shared.post(|i| i.writable.push(token)),
            Direction::In => {
                let left = self.read_direct().unwrap_or(Handback {
                    read: true,
                    write: false,
                });
                self.shared.post_handback(token, left);
            }
        }
    }
}
