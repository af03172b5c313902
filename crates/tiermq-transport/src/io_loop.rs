//! The I/O thread's loop: polls, accepts, connects, reconnects, runs timers
//! and pumps every connection.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::connection::{Connection, Flow};
use crate::inbox::{BindTarget, Command, ConnectTarget, Inbox, Shared};
use crate::net::{self, BufSizes, Listener};
use crate::resolve;
use crate::socket_poll::Ready;
use crate::timers::{TimerKey, Timers};
use crate::token::{self, Generations, Key};
use crate::{ConnId, DetachReason, LinkId, LinkOptions, MonitorEvent, Notification, Sink};

/// How long a listener waits before accepting again after a failure.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// How long a socket poll stays lent to callers after the last one left
/// it (see `SocketPoll`): while an application calls in faster than this,
/// its connections' events wake no I/O thread.
const LOAN: Duration = Duration::from_millis(2);

/// One bind or connect.
struct Link {
    endpoint: String,
    opts: LinkOptions,
    sink: Arc<dyn Sink>,
    /// Open connections made through this link (a connect has at most one).
    conns: Vec<Token>,
    kind: LinkKind,
}

enum LinkKind {
    Bind {
        listener: Token,
    },
    Connect {
        target: ConnectTarget,
        /// Which resolved address the next attempt uses.
        next_addr: usize,
        /// Counts attempts, so that a late host name lookup is recognised.
        attempt: u64,
        /// A helper thread is looking up the host name for `attempt`.
        resolving: bool,
        /// The delay before the next reconnect.
        ivl: Duration,
        /// When the pending reconnect is due.
        retry_at: Option<Instant>,
    },
}

impl Link {
    fn bufs(&self) -> BufSizes {
        BufSizes {
            sndbuf: self.opts.sndbuf,
            rcvbuf: self.opts.rcvbuf,
        }
    }

    fn notify(&self, event: MonitorEvent) {
        self.sink.notify(Notification::Monitor(event));
    }
}

struct ListenerEntry {
    listener: Listener,
    link: LinkId,
    generation: u32,
}

struct ConnEntry {
    /// Shared with the connection's out pipe waker, which writes from the
    /// sender's thread when it can (`Connection::write_direct`).
    conn: Arc<Mutex<Connection>>,
    generation: u32,
}

/// The I/O thread's state.
pub(crate) struct IoLoop {
    poll: Poll,
    shared: Arc<Shared>,
    listeners: Slab<ListenerEntry>,
    conns: Slab<ConnEntry>,
    links: HashMap<LinkId, Link>,
    timers: Timers,
    generations: Generations,
    next_conn: u64,
    /// Connections whose read or write turn ran out: served again after the
    /// next poll, which then does not block.
    again_read: Vec<Token>,
    again_write: Vec<Token>,
    running: bool,
}

impl IoLoop {
    pub(crate) fn new(poll: Poll, shared: Arc<Shared>) -> Self {
        IoLoop {
            poll,
            shared,
            listeners: Slab::new(),
            conns: Slab::new(),
            links: HashMap::new(),
            timers: Timers::default(),
            generations: Generations::default(),
            next_conn: 1,
            again_read: Vec::new(),
            again_write: Vec::new(),
            running: true,
        }
    }

    /// Runs until shutdown (or until the poller fails).
    pub(crate) fn run(mut self) {
        IO_THREAD.with(|on| on.set(true));
        let mut events = Events::with_capacity(1024);
        let mut inbox = Inbox::default();
        let mut again_read = Vec::new();
        let mut again_write = Vec::new();
        // What a socket poll reported, reused from one event to the next.
        let mut group_ready = Vec::new();
        // Whether the last round served anything: see the yield below.
        let mut worked = false;
        while self.running {
            let mut timeout = if self.again_read.is_empty() && self.again_write.is_empty() {
                self.timers
                    .next_deadline()
                    .map(|t| t.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            let mut blocking = timeout != Some(Duration::ZERO);
            if blocking && worked {
                // Before sleeping after a round of work, let the threads
                // that share this CPU run first. A streaming sender then
                // queues its next batch while this thread is still awake:
                // its posts fire no eventfd, and this thread takes the
                // batch without a sleep and a wake-up (each about 4 us of
                // CPU between the two threads). With a CPU to itself, the
                // yield returns at once.
                std::thread::yield_now();
                if self.shared.has_pending() {
                    timeout = Some(Duration::ZERO);
                    blocking = false;
                }
            }
            if blocking && !self.shared.going_to_sleep() {
                timeout = Some(Duration::ZERO);
            }
            let polled = self.poll.poll(&mut events, timeout);
            if blocking {
                self.shared.awake();
            }
            if let Err(e) = polled {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            let now = Instant::now();
            std::mem::swap(&mut self.again_read, &mut again_read);
            std::mem::swap(&mut self.again_write, &mut again_write);
            // Posted work is served whether or not the waker fired: posts
            // made while this thread runs don't fire it.
            worked = !events.is_empty();
            if self.shared.has_pending() {
                worked = true;
                self.shared.take(&mut inbox);
                self.serve_inbox(&mut inbox, now);
            }
            for event in events.iter() {
                match token::decode(event.token()) {
                    None => {}
                    Some(Key::Listener { index, generation }) => {
                        self.accept(index, generation, now)
                    }
                    Some(Key::Conn { index, generation }) => {
                        self.conn_event(token::conn_token(index, generation), Ready::of(event), now)
                    }
                    Some(Key::Group(id)) => {
                        if let Some(group) = self.shared.group(id) {
                            group.drain(&mut group_ready);
                        }
                        for ready in group_ready.drain(..) {
                            self.conn_event(ready.token, ready, now);
                        }
                    }
                }
            }
            for token in again_read.drain(..) {
                self.resume_read(token, now);
            }
            for token in again_write.drain(..) {
                self.resume_write(token, now);
            }
            while let Some((at, key)) = self.timers.pop_due(now) {
                self.fire(at, key, now);
            }
        }
        self.close_all();
    }

    fn serve_inbox(&mut self, inbox: &mut Inbox, now: Instant) {
        for command in inbox.commands.drain(..) {
            match command {
                Command::Bind {
                    link,
                    endpoint,
                    target,
                    opts,
                    sink,
                    reply,
                } => {
                    let result = self.bind(link, endpoint, target, opts, sink);
                    let _ = reply.send(result);
                }
                Command::Connect {
                    link,
                    endpoint,
                    target,
                    opts,
                    sink,
                } => {
                    let ivl = opts.reconnect_ivl.unwrap_or_default();
                    self.links.insert(
                        link,
                        Link {
                            endpoint,
                            opts,
                            sink,
                            conns: Vec::new(),
                            kind: LinkKind::Connect {
                                target,
                                next_addr: 0,
                                attempt: 0,
                                resolving: false,
                                ivl,
                                retry_at: None,
                            },
                        },
                    );
                    self.start_connect(link, now);
                }
                Command::Resolved {
                    link,
                    attempt,
                    addrs,
                } => self.resolved(link, attempt, addrs, now),
                Command::CloseLink(link) => self.close_link(link),
                Command::Lent(id) => self.timers.push(now + LOAN, TimerKey::Loan(id)),
                Command::ZapReply { ticket, reply } => self.zap_reply(ticket, reply, now),
                Command::Shutdown => self.running = false,
            }
        }
        // Taken out before serving: serving may post more.
        let writable = std::mem::take(&mut inbox.writable);
        let readable = std::mem::take(&mut inbox.readable);
        for &token in &readable {
            self.resume_read(token, now);
        }
        for &token in &writable {
            self.resume_write(token, now);
        }
        inbox.writable = recycle(writable);
        inbox.readable = recycle(readable);
    }

    fn bind(
        &mut self,
        link: LinkId,
        endpoint: String,
        target: BindTarget,
        opts: LinkOptions,
        sink: Arc<dyn Sink>,
    ) -> io::Result<String> {
        let bufs = BufSizes {
            sndbuf: opts.sndbuf,
            rcvbuf: opts.rcvbuf,
        };
        let listener = match target {
            BindTarget::Tcp(addr) => net::listen_tcp(addr, bufs, opts.ipv6),
            BindTarget::Ipc(path) => net::listen_ipc(&path),
        };
        let registered = listener.and_then(|mut listener| {
            let last_endpoint = listener.endpoint()?;
            let generation = self.generations.next();
            let entry = self.listeners.vacant_entry();
            let token = token::listener_token(entry.key(), generation);
            if let Err(e) =
                self.poll
                    .registry()
                    .register(listener.source(), token, Interest::READABLE)
            {
                listener.unlink();
                return Err(e);
            }
            entry.insert(ListenerEntry {
                listener,
                link,
                generation,
            });
            Ok((token, last_endpoint))
        });
        let (token, last_endpoint) = match registered {
            Ok(ok) => ok,
            Err(e) => {
                sink.notify(Notification::Monitor(MonitorEvent::BindFailed {
                    endpoint,
                    error: e.kind(),
                }));
                return Err(e);
            }
        };
        let link_state = Link {
            endpoint: last_endpoint.clone(),
            opts,
            sink,
            conns: Vec::new(),
            kind: LinkKind::Bind { listener: token },
        };
        link_state.notify(MonitorEvent::Listening {
            link,
            endpoint: last_endpoint.clone(),
        });
        self.links.insert(link, link_state);
        Ok(last_endpoint)
    }

    fn accept(&mut self, index: usize, generation: u32, now: Instant) {
        loop {
            let Some(entry) = self
                .listeners
                .get(index)
                .filter(|e| e.generation == generation)
            else {
                return;
            };
            let link_id = entry.link;
            let Some(link) = self.links.get(&link_id) else {
                return;
            };
            let (stream, peer_addr) = match entry.listener.accept(link.bufs()) {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue;
                }
                Err(e) => {
                    // Out of descriptors or memory: the peers wait in the
                    // backlog, and an edge-triggered listener may never
                    // signal them again, so retry on a timer.
                    link.notify(MonitorEvent::AcceptFailed {
                        link: link_id,
                        endpoint: link.endpoint.clone(),
                        error: e.kind(),
                    });
                    self.timers.push(
                        now + ACCEPT_RETRY,
                        TimerKey::Accept(token::listener_token(index, generation)),
                    );
                    return;
                }
            };
            let Some(token) = self.insert_conn(link_id, stream, peer_addr) else {
                continue;
            };
            self.on_connected(token, now);
        }
    }

    /// Registers a new connection of `link_id`; `None` (socket dropped) if
    /// registration failed.
    fn insert_conn(
        &mut self,
        link_id: LinkId,
        stream: net::Stream,
        peer_addr: String,
    ) -> Option<Token> {
        let link = self.links.get_mut(&link_id)?;
        let generation = self.generations.next();
        let entry = self.conns.vacant_entry();
        let token = token::conn_token(entry.key(), generation);
        let conn = Arc::new_cyclic(|me| {
            Mutex::new(Connection::new(
                ConnId(self.next_conn),
                link_id,
                token,
                stream,
                link.endpoint.clone(),
                peer_addr,
                Arc::clone(&link.sink),
                (link.opts.sndhwm, link.opts.rcvhwm),
                me.clone(),
                link.opts.socket_poll.clone(),
            ))
        });
        lock(&conn)
            .stream
            .register(self.poll.registry(), token)
            .ok()?;
        self.next_conn += 1;
        entry.insert(ConnEntry { conn, generation });
        link.conns.push(token);
        Some(token)
    }

    /// The socket is connected (accepted, or a connect completed): start the
    /// handshake.
    fn on_connected(&mut self, token: Token, now: Instant) {
        let Some(conn) = conn_in(&self.conns, token) else {
            return;
        };
        let mut conn = lock(&conn);
        let link_id = conn.link;
        let Some(link) = self.links.get(&link_id) else {
            return;
        };
        let wire = link.opts.wire.clone();
        let is_connect = matches!(link.kind, LinkKind::Connect { .. });
        if is_connect {
            conn.peer_addr = conn.stream.peer_addr_string(&link.endpoint);
        }
        conn.open(wire, now);
        let event = if is_connect {
            MonitorEvent::Connected {
                link: link_id,
                conn: conn.id,
                endpoint: link.endpoint.clone(),
                peer_addr: conn.peer_addr.clone(),
            }
        } else {
            MonitorEvent::Accepted {
                link: link_id,
                conn: conn.id,
                endpoint: link.endpoint.clone(),
                peer_addr: conn.peer_addr.clone(),
            }
        };
        link.notify(event);
        let mut flow = Flow::default();
        // Sends the greeting; data may also have arrived already, and what
        // it makes the session say (a CURVE or PLAIN HELLO after the peer's
        // greeting) must go out now: that peer speaks only when spoken to.
        let result = conn
            .pump_out(&mut flow)
            .and_then(|()| conn.pump_in(&self.shared, now, &mut flow))
            .and_then(|()| {
                if conn.has_output() {
                    conn.pump_out(&mut flow)
                } else {
                    Ok(())
                }
            });
        drop(conn);
        self.settle(token, result, flow, now);
    }

    fn conn_event(&mut self, token: Token, ready: Ready, now: Instant) {
        let shared = Arc::clone(&self.shared);
        let Some(conn) = conn_in(&self.conns, token) else {
            return;
        };
        let mut conn = lock(&conn);
        if conn.connecting {
            let result = match conn.stream.connect_state() {
                Ok(net::ConnectState::Connected) => {
                    drop(conn);
                    self.on_connected(token, now);
                    return;
                }
                Ok(net::ConnectState::Pending) => return,
                Err(e) => Err(DetachReason::Io(e.kind())),
            };
            drop(conn);
            self.settle(token, result, Flow::default(), now);
            return;
        }
        let mut flow = Flow::default();
        let result = conn.on_ready(ready, &shared, now, &mut flow);
        drop(conn);
        self.settle(token, result, flow, now);
    }

    /// The in pipe drained (or the read turn ran out): read again.
    fn resume_read(&mut self, token: Token, now: Instant) {
        let shared = Arc::clone(&self.shared);
        let Some(conn) = conn_in(&self.conns, token) else {
            return;
        };
        let mut conn = lock(&conn);
        conn.read_paused = false;
        // Edges that came while paused (or past the turn) were not read.
        conn.read_to_end = true;
        let mut flow = Flow::default();
        // Writing also notices whether the application closed both pipes.
        let result = conn
            .pump_in(&shared, now, &mut flow)
            .and_then(|()| conn.pump_out(&mut flow));
        drop(conn);
        self.settle(token, result, flow, now);
    }

    /// The ZAP verdict for a connection's handshake arrived.
    fn zap_reply(
        &mut self,
        ticket: crate::ZapTicket,
        reply: Option<tiermq_wire::ZapReply>,
        now: Instant,
    ) {
        let shared = Arc::clone(&self.shared);
        let Some(conn) = conn_in(&self.conns, ticket.token) else {
            return;
        };
        let mut conn = lock(&conn);
        if conn.id != ticket.conn {
            return;
        }
        let mut flow = Flow::default();
        let result = conn
            .zap_reply(reply, &shared, now, &mut flow)
            .and_then(|()| conn.pump_out(&mut flow));
        drop(conn);
        self.settle(ticket.token, result, flow, now);
    }

    /// The out pipe has messages (or the write turn ran out): write.
    fn resume_write(&mut self, token: Token, now: Instant) {
        let Some(conn) = conn_in(&self.conns, token) else {
            return;
        };
        let mut conn = lock(&conn);
        let mut flow = Flow::default();
        let result = conn.pump_out(&mut flow);
        drop(conn);
        self.settle(token, result, flow, now);
    }

    fn fire(&mut self, at: Instant, key: TimerKey, now: Instant) {
        match key {
            TimerKey::Conn(token) => {
                let Some(conn) = conn_in(&self.conns, token) else {
                    return;
                };
                let mut conn = lock(&conn);
                if conn.timer_at == Some(at) {
                    conn.timer_at = None;
                }
                if conn.read_paused {
                    // Our own app is slow, not the peer: don't judge its
                    // silence (settle re-arms when reading resumes).
                    return;
                }
                let mut flow = Flow::default();
                let shared = Arc::clone(&self.shared);
                let result = conn
                    .handle_timeout(&shared, now, &mut flow)
                    .and_then(|()| conn.pump_out(&mut flow));
                drop(conn);
                self.settle(token, result, flow, now);
            }
            TimerKey::Loan(id) => {
                let back = self
                    .shared
                    .group(id)
                    .is_none_or(|g| g.return_if_idle(now, LOAN));
                if !back {
                    self.timers.push(now + LOAN, TimerKey::Loan(id));
                }
            }
            TimerKey::Accept(listener) => {
                if let Some(Key::Listener { index, generation }) = token::decode(listener) {
                    self.accept(index, generation, now);
                }
            }
            TimerKey::Reconnect(link_id) => {
                let Some(link) = self.links.get_mut(&link_id) else {
                    return;
                };
                if let LinkKind::Connect { retry_at, .. } = &mut link.kind
                    && retry_at.is_some_and(|t| t <= now)
                    && link.conns.is_empty()
                {
                    *retry_at = None;
                    self.start_connect(link_id, now);
                }
            }
        }
    }

    /// After a pump: close on error, otherwise note a completed handshake,
    /// queue unfinished turns and re-arm the connection's timer.
    fn settle(&mut self, token: Token, result: Result<(), DetachReason>, flow: Flow, now: Instant) {
        if let Err(reason) = result {
            self.close_conn(token, reason, now);
            return;
        }
        let Some(conn) = conn_in(&self.conns, token) else {
            return;
        };
        let mut conn = lock(&conn);
        if flow.taken > 1 {
            // When the pump ended, not began: a long write (hundreds of KiB
            // over tcp) must not make the connection look idle to a direct
            // writer. A single message is no batch (see `IO_BUSY`).
            conn.io_served = Some(Instant::now());
        }
        let link_id = conn.link;
        if flow.more_read {
            self.again_read.push(token);
        }
        if flow.more_write {
            self.again_write.push(token);
        }
        if let Some(mut next) = conn.poll_timeout().filter(|_| !conn.read_paused) {
            if next <= now {
                // The session asks for a timer in the past right after
                // handling one: don't spin on it.
                next = now + Duration::from_millis(1);
            }
            if conn.timer_at.is_none_or(|t| next < t) {
                conn.timer_at = Some(next);
                self.timers.push(next, TimerKey::Conn(token));
            }
        }
        if flow.attached {
            // Established: its socket's caller may serve it from now on.
            conn.join_group(self.poll.registry());
        }
        drop(conn);
        if flow.attached
            && let Some(link) = self.links.get_mut(&link_id)
            && let LinkKind::Connect { ivl, .. } = &mut link.kind
        {
            *ivl = link.opts.reconnect_ivl.unwrap_or_default();
        }
    }

    fn close_conn(&mut self, token: Token, reason: DetachReason, now: Instant) {
        let Some(Key::Conn { index, generation }) = token::decode(token) else {
            return;
        };
        if self
            .conns
            .get(index)
            .is_none_or(|e| e.generation != generation)
        {
            return;
        }
        let conn = self.conns.remove(index).conn;
        let mut conn = lock(&conn);
        let link_id = conn.link;
        conn.close(self.poll.registry(), reason);
        drop(conn);
        if let Some(link) = self.links.get_mut(&link_id) {
            link.conns.retain(|&t| t != token);
            if matches!(link.kind, LinkKind::Connect { .. }) {
                self.schedule_reconnect(link_id, now);
            }
        }
    }

    /// Starts one connect attempt of a connect-side link. A tcp host name is
    /// looked up again for each attempt, as libzmq does, on a helper thread
    /// (the answer comes back as `Command::Resolved`): the system resolver
    /// blocks, for seconds with a slow DNS server, and this thread must not.
    /// Address literals and ipc paths connect at once.
    ///
    /// Known costs: one thread is spawned per attempt to a host name (at
    /// most one per link at a time); it is detached, so after a shutdown it
    /// may live on until its lookup returns, then posts to an inbox nobody
    /// reads. A bind's lookup still blocks its caller (see `resolve`).
    fn start_connect(&mut self, link_id: LinkId, now: Instant) {
        let Some(link) = self.links.get_mut(&link_id) else {
            return;
        };
        let bufs = link.bufs();
        let LinkKind::Connect {
            target,
            attempt,
            resolving,
            ..
        } = &mut link.kind
        else {
            return;
        };
        if *resolving {
            return;
        }
        *attempt += 1;
        let tcp = match target {
            ConnectTarget::Ipc(path) => {
                let attempt = net::connect_ipc(path, bufs);
                self.finish_connect(link_id, attempt, now);
                return;
            }
            ConnectTarget::Tcp(tcp) => tcp,
        };
        if let Some(addr) = tcp.literal() {
            self.connect_tcp(link_id, &[addr], now);
            return;
        }
        let (host, port, ipv6) = tcp.query();
        let attempt = *attempt;
        let shared = Arc::clone(&self.shared);
        let spawned = thread::Builder::new()
            .name("tiermq-resolve".into())
            .spawn(move || {
                let addrs = resolve::lookup(&host, port, ipv6);
                shared.post(|inbox| {
                    inbox.commands.push(Command::Resolved {
                        link: link_id,
                        attempt,
                        addrs,
                    })
                });
            });
        match spawned {
            Ok(_) => *resolving = true,
            Err(_) => self.schedule_reconnect(link_id, now),
        }
    }

    /// A helper thread looked up the host name of a connect attempt: connect
    /// to one of the addresses, or count the attempt as failed. An answer
    /// for a link closed since, or for an older attempt, is dropped.
    fn resolved(
        &mut self,
        link_id: LinkId,
        answered: u64,
        addrs: io::Result<Vec<SocketAddr>>,
        now: Instant,
    ) {
        let Some(link) = self.links.get_mut(&link_id) else {
            return;
        };
        let LinkKind::Connect {
            attempt, resolving, ..
        } = &mut link.kind
        else {
            return;
        };
        if !*resolving || *attempt != answered {
            return;
        }
        *resolving = false;
        match addrs {
            Ok(addrs) => self.connect_tcp(link_id, &addrs, now),
            Err(_) => self.schedule_reconnect(link_id, now),
        }
    }

    /// Connects to the next, in turn, of `dests` that the link's source
    /// address (if any) can reach, bound to that source.
    fn connect_tcp(&mut self, link_id: LinkId, dests: &[SocketAddr], now: Instant) {
        let Some(link) = self.links.get_mut(&link_id) else {
            return;
        };
        let bufs = link.bufs();
        let LinkKind::Connect {
            target: ConnectTarget::Tcp(tcp),
            next_addr,
            ..
        } = &mut link.kind
        else {
            return;
        };
        let routes = tcp.routes(dests);
        let attempt = if routes.is_empty() {
            Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                "the source has no address of the destination's family",
            ))
        } else {
            let (dest, source) = routes[*next_addr % routes.len()];
            *next_addr = next_addr.wrapping_add(1);
            net::connect_tcp(dest, source, bufs)
        };
        self.finish_connect(link_id, attempt, now);
    }

    /// Takes on an attempt's new stream, or schedules the next attempt if
    /// it failed.
    fn finish_connect(
        &mut self,
        link_id: LinkId,
        attempt: io::Result<(net::Stream, bool)>,
        now: Instant,
    ) {
        let Some(link) = self.links.get(&link_id) else {
            return;
        };
        let endpoint = link.endpoint.clone();
        let (stream, in_progress) = match attempt {
            Ok(ok) => ok,
            Err(_) => {
                self.schedule_reconnect(link_id, now);
                return;
            }
        };
        let Some(token) = self.insert_conn(link_id, stream, endpoint.clone()) else {
            self.schedule_reconnect(link_id, now);
            return;
        };
        if in_progress {
            if let Some(link) = self.links.get(&link_id) {
                link.notify(MonitorEvent::ConnectDelayed {
                    link: link_id,
                    endpoint,
                });
            }
        } else {
            self.on_connected(token, now);
        }
    }

    /// Arms the link's reconnect timer, unless reconnecting is off.
    fn schedule_reconnect(&mut self, link_id: LinkId, now: Instant) {
        let Some(link) = self.links.get_mut(&link_id) else {
            return;
        };
        let Some(_) = link.opts.reconnect_ivl else {
            return;
        };
        let next_ivl = |ivl| link.opts.next_backoff(ivl);
        let LinkKind::Connect { ivl, retry_at, .. } = &mut link.kind else {
            return;
        };
        if retry_at.is_some() {
            return;
        }
        let delay = *ivl;
        *ivl = next_ivl(delay);
        let at = now + delay;
        *retry_at = Some(at);
        self.timers.push(at, TimerKey::Reconnect(link_id));
        link.notify(MonitorEvent::ConnectRetried {
            link: link_id,
            endpoint: link.endpoint.clone(),
            ivl: delay,
        });
    }

    /// Unbind or disconnect: the link goes first, so its connections'
    /// closing schedules no reconnect.
    fn close_link(&mut self, link_id: LinkId) {
        let Some(link) = self.links.remove(&link_id) else {
            return;
        };
        let now = Instant::now();
        for &token in &link.conns {
            self.close_conn(token, DetachReason::Closed, now);
        }
        if let LinkKind::Bind { listener } = link.kind
            && let Some(Key::Listener { index, generation }) = token::decode(listener)
            && self
                .listeners
                .get(index)
                .is_some_and(|e| e.generation == generation)
        {
            let mut entry = self.listeners.remove(index);
            let _ = self.poll.registry().deregister(entry.listener.source());
            entry.listener.unlink();
            link.notify(MonitorEvent::Closed {
                link: link_id,
                endpoint: link.endpoint.clone(),
            });
        }
    }

    fn close_all(&mut self) {
        let links: Vec<LinkId> = self.links.keys().copied().collect();
        for link in links {
            self.close_link(link);
        }
    }
}

/// The live connection `token` names, if any (a stale generation is none).
fn conn_in(conns: &Slab<ConnEntry>, token: Token) -> Option<Arc<Mutex<Connection>>> {
    let Some(Key::Conn { index, generation }) = token::decode(token) else {
        return None;
    };
    conns
        .get(index)
        .filter(|e| e.generation == generation)
        .map(|e| Arc::clone(&e.conn))
}

/// Locks a connection. Its holders never block while holding it, so the
/// I/O thread waits at most for one write of a sender's.
pub(crate) fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

fn recycle(mut v: Vec<Token>) -> Vec<Token> {
    v.clear();
    v
}

thread_local! {
    /// Set on a reactor's I/O thread (see [`on_io_thread`](crate::on_io_thread)).
    static IO_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the calling thread is a reactor's I/O thread.
pub(crate) fn on_io_thread() -> bool {
    IO_THREAD.with(std::cell::Cell::get)
}
