//! `Socket`: the application's handle, with rust-zmq's methods.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tiermq_sched::TierEvent;
use tiermq_transport::Endpoint;
use tiermq_wire::Multipart;

use crate::context::Links;
use crate::core::{Core, LinkKind, Pattern, Refused, deadline_after, deadline_in};
use crate::endpoint::{Target, link_error, parse};
use crate::events::Poster;
use crate::handles::{InprocPeer, InprocSocket, NetLink};
use crate::monitor::{DEFAULT_MONITOR_CAPACITY, Hub, Monitor};
use crate::net::{SocketSink, link_options};
use crate::options::{self, at_least, hwm, priority};
use crate::poll::{PollEvents, PollItem};
use crate::shared::Shared;
use crate::zmq_monitor::ZmqMonitor;
use crate::{Context, Error, Message, Peer, Properties, Result, SocketType};

/// A received frame, whether more follow, and its sender's properties.
type Received = (Bytes, bool, Option<Arc<Properties>>);

mod security;
mod settings;

/// Send/receive flag: fail with `EAGAIN` instead of blocking.
pub const DONTWAIT: i32 = 1;
/// Send flag: more frames of the same message follow.
pub const SNDMORE: i32 = 2;

/// Something `Socket::send` accepts, as in rust-zmq: anything that converts
/// into a [`Message`] (`&[u8]`, `&str`, `Vec<u8>`, `String`, `Bytes`,
/// `Box<[u8]>`, `&[u8; N]`, and references to these).
pub trait Sendable {
    /// Sends `self` on `socket` with `flags` ([`DONTWAIT`], [`SNDMORE`]).
    fn send(self, socket: &Socket, flags: i32) -> Result<()>;
}

impl<T: Into<Message>> Sendable for T {
    fn send(self, socket: &Socket, flags: i32) -> Result<()> {
        socket.send_frame(self.into().into_bytes(), flags)
    }
}

/// A tiermq socket.
///
/// Methods take `&self` (the state is behind a lock) but the socket is not
/// `Sync`: like a ZeroMQ socket, it is used from one thread at a time, and
/// can be moved to another (`Send`). Dropping it lingers (see
/// [`set_linger`](Socket::set_linger)) and then closes its connections.
///
/// ```compile_fail
/// fn shared_between_threads<T: Sync>() {}
/// shared_between_threads::<tiermq::Socket>(); // a Socket is not Sync
/// ```
pub struct Socket {
    shared: Arc<Shared>,
    ctx: Context,
    socket_type: SocketType,
    hub: Arc<Hub>,
    /// The zmq-style monitor, if one runs.
    zmq_monitor: RefCell<Option<ZmqMonitor>>,
    _not_sync: PhantomData<Cell<()>>,
}

impl Socket {
    pub(crate) fn new(ctx: Context, socket_type: SocketType) -> Result<Socket> {
        let wire = socket_type.to_wire().ok_or(Error::ENOTSUP)?;
        let pattern = Pattern::of(wire)
            .filter(|_| socket_type.is_supported())
            .ok_or(Error::ENOTSUP)?;
        let inproc = Arc::clone(ctx.inproc());
        let hub = Arc::new(Hub::default());
        let shared = Arc::new_cyclic(|me: &Weak<Shared>| {
            let target = me.clone();
            let post: Poster = Arc::new(move |event| {
                if let Some(s) = target.upgrade() {
                    s.post(event);
                }
            });
            Shared::new(
                Core::new(pattern, wire, post),
                Arc::clone(&hub),
                inproc,
                Arc::clone(ctx.applier()),
                me.clone(),
            )
        });
        Ok(Socket {
            shared,
            ctx,
            socket_type,
            hub,
            zmq_monitor: RefCell::new(None),
            _not_sync: PhantomData,
        })
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn core<R>(&self, f: impl FnOnce(&mut Core) -> R) -> R {
        self.shared.with_core(f)
    }

    /// `ETERM` once the context ended; `ENOTSOCK` once a panic inside the
    /// socket's core left its state torn (the socket is then unusable, as
    /// a closed one is).
    fn check_live(&self) -> Result<()> {
        if self.ctx.is_terminated() {
            Err(Error::ETERM)
        } else if self.shared.is_failed() {
            Err(Error::ENOTSOCK)
        } else {
            Ok(())
        }
    }

    // ----- endpoints -----

    /// Accepts connections on `endpoint`: `tcp://host:port`, `ipc:///path`,
    /// or `inproc://name`. Every peer accepted through it gets the send and
    /// receive priorities set now.
    ///
    /// A tcp host is `*` for every interface (IPv4, or both families with
    /// [`set_ipv6`](Socket::set_ipv6)), an address, an interface name
    /// (`tcp://eth0:5555`: its IPv4 address, or its IPv6 one with IPV6 set,
    /// as in libzmq) or a host name; port `0` or `*` is an ephemeral one.
    ///
    /// Errors: `EINVAL` for a malformed endpoint (or one with a connect's
    /// `source;`), `EPROTONOSUPPORT` for an unknown transport, `ENODEV` (as
    /// in libzmq) for a tcp host that is no address, interface or resolvable
    /// name, `EADDRINUSE` if taken, `ETERM` after the context was destroyed,
    /// or the operating system's error.
    pub fn bind(&self, endpoint: &str) -> Result<()> {
        self.attach_endpoint(endpoint, true)
    }

    /// Connects to `endpoint` (see [`bind`](Socket::bind) for the forms).
    /// The connection is made, and remade after it is lost, in the
    /// background; inproc connects wait for their bind if it is not there yet.
    ///
    /// As in libzmq, a tcp host name is resolved at each connect attempt,
    /// off the calling thread, so a name that moves is followed and one that
    /// does not resolve (yet) is retried with the reconnect interval (the
    /// monitor sees `ConnectRetried`). `tcp://SOURCE;HOST:PORT` connects
    /// from a chosen local address or interface, as in libzmq:
    /// `tcp://10.0.0.1:0;server:5555`, `tcp://eth0:0;server:5555`
    /// (port `0` or `*` for an ephemeral source port).
    ///
    /// Errors: `EINVAL` for a malformed endpoint (including a tcp host of
    /// `*`, port `0`, or a host that is neither an address nor a host
    /// name); `EPROTONOSUPPORT` for an unknown transport; `ETERM` after the
    /// context was destroyed; `ENOCOMPATPROTO` for an inproc peer of a
    /// socket type that cannot talk to this one.
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        self.attach_endpoint(endpoint, false)
    }

    /// Stops accepting on `endpoint` (as given to `bind`, or as
    /// `get_last_endpoint` reported it) and closes the connections it accepted.
    ///
    /// Errors: `ENOENT` if it is not bound.
    pub fn unbind(&self, endpoint: &str) -> Result<()> {
        self.detach_endpoint(endpoint, true)
    }

    /// Disconnects from `endpoint` and stops reconnecting to it.
    ///
    /// Errors: `ENOENT` if it is not connected.
    pub fn disconnect(&self, endpoint: &str) -> Result<()> {
        self.detach_endpoint(endpoint, false)
    }

    fn attach_endpoint(&self, endpoint: &str, bind: bool) -> Result<()> {
        self.check_live()?;
        let target = parse(endpoint)?;
        match target {
            Target::Inproc(name) => {
                let (key, peer) = self.core(|c| {
                    let key = c.new_link_key();
                    let peer = InprocPeer {
                        shared: Arc::downgrade(&self.shared) as Weak<dyn InprocSocket>,
                        socket_type: c.wire_type,
                        link: key,
                        sndhwm: hwm(c.options.sndhwm),
                        rcvhwm: hwm(c.options.rcvhwm),
                        identity: c.options.identity.clone(),
                    };
                    let kind = if bind {
                        LinkKind::InprocBind(name.clone())
                    } else {
                        LinkKind::InprocConnect {
                            name: name.clone(),
                            peer: peer.clone(),
                        }
                    };
                    c.add_link(key, endpoint, endpoint.to_owned(), kind);
                    (key, peer)
                });
                let r = if bind {
                    self.ctx.inproc_bind(&name, peer)
                } else {
                    self.ctx.inproc_connect(&name, peer)
                };
                if r.is_err() {
                    self.core(|c| c.drop_link(key));
                }
                r
            }
            Target::Net => {
                let ep = Endpoint::from_str(endpoint).map_err(|_| Error::EINVAL)?;
                let (reactor_index, reactor) = self.ctx.reactor()?;
                let (key, opts, security) = self.core(|c| {
                    let key = c.new_link_key();
                    c.add_link(
                        key,
                        endpoint,
                        endpoint.to_owned(),
                        LinkKind::Net { bind, link: None },
                    );
                    let opts = link_options(&c.options, c.wire_type);
                    (key, opts, c.options.security.clone())
                });
                let mut opts = opts;
                opts.socket_poll = self.shared.socket_poll(reactor_index, &reactor);
                let zap = opts.wire.zap.then(|| {
                    self.ctx
                        .zap_route(&reactor, security.zap_domain, security.zap_enforce_domain)
                });
                let sink = SocketSink::for_link(
                    Arc::downgrade(&self.shared),
                    key,
                    reactor_index,
                    Arc::clone(&self.hub),
                    zap,
                );
                let r = if bind {
                    reactor.bind(&ep, opts, sink)
                } else {
                    reactor
                        .connect(&ep, opts, sink)
                        .map(|id| (id, endpoint.to_owned()))
                };
                match r {
                    Ok((id, resolved)) => {
                        let net = NetLink {
                            reactor: reactor_index,
                            id,
                            bind,
                        };
                        self.core(|c| c.set_net_link(key, net, resolved));
                        Ok(())
                    }
                    Err(e) => {
                        self.core(|c| c.drop_link(key));
                        Err(link_error(&ep, bind, e))
                    }
                }
            }
        }
    }

    fn detach_endpoint(&self, endpoint: &str, bind: bool) -> Result<()> {
        self.check_live()?;
        parse(endpoint)?;
        let (key, kind) = self
            .core(|c| c.find_link(endpoint, bind))
            .ok_or(Error::ENOENT)?;
        // Leave the registry (or the reactor) first, so that an inproc peer
        // losing its pipe below cannot find this binding and rejoin it.
        self.ctx
            .links()
            .close(&Arc::downgrade(&self.shared), kind, key);
        self.core(|c| c.remove_link(key, Instant::now()));
        Ok(())
    }

    // ----- sending -----

    /// Sends one frame. With [`SNDMORE`], more frames of the same message
    /// follow; the message goes out, whole, to one peer when its last frame
    /// is sent. The peer is the next ready one of the most preferred tier
    /// (PUSH). Blocks while no peer can take it, up to SNDTIMEO.
    ///
    /// Errors: `EAGAIN` if no peer could take the message (at once with
    /// [`DONTWAIT`], else after SNDTIMEO); the message is then dropped,
    /// whole, so that retrying from its first frame is right. `ENOTSUP` on
    /// a socket that does not send (PULL); `ETERM` after the context was
    /// destroyed.
    pub fn send<T: Sendable>(&self, data: T, flags: i32) -> Result<()> {
        data.send(self, flags)
    }

    /// Sends each item as one frame of a single message.
    pub fn send_multipart<I, T>(&self, iter: I, flags: i32) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: Into<Message>,
    {
        let mut last: Option<T> = None;
        for part in iter {
            if let Some(prev) = last.replace(part) {
                self.send(prev.into(), flags | SNDMORE)?;
            }
        }
        match last {
            Some(part) => self.send(part.into(), flags),
            None => Ok(()),
        }
    }

    fn send_frame(&self, frame: Bytes, flags: i32) -> Result<()> {
        self.check_live()?;
        let dontwait = flags & DONTWAIT != 0;
        // The common case, a message that goes at once, takes the lock once.
        let blocked = self.core(|c| {
            let now = c.send_clock();
            let more = flags & SNDMORE != 0;
            if c.tx_partial.is_empty() {
                c.check_send(&frame)?;
            }
            // libzmq decides on the first frame whether a message can go.
            if dontwait && more && c.tx_partial.is_empty() && !c.can_send(now) {
                return Err(Error::EAGAIN);
            }
            if more {
                c.tx_partial.push(frame);
                return Ok(None);
            }
            let msg = c.tx_partial.finish_with(frame);
            match c.send(msg, now) {
                Ok(()) => Ok(None),
                Err(Refused::Fail(e)) => Err(e),
                Err(Refused::Wait(_)) if dontwait => Err(Error::EAGAIN),
                Err(Refused::Wait(msg)) => Ok(Some((msg, c.options.sndtimeo))),
            }
        })?;
        match blocked {
            Some((msg, sndtimeo)) => self.send_blocking(msg, deadline_in(sndtimeo)),
            None => Ok(()),
        }
    }

    /// Waits for a peer that can take `msg`, up to `deadline`.
    fn send_blocking(&self, mut msg: Multipart, deadline: Option<Instant>) -> Result<()> {
        loop {
            let seen = self.shared.signal.generation();
            let (r, wake) = self.core(|c| {
                let r = c.send(msg, Instant::now());
                if matches!(r, Err(Refused::Wait(_))) {
                    // What room this makes is posted as an event, which
                    // `seen` makes the wait below notice.
                    c.drive_full_outputs();
                }
                (r, c.wake_by(deadline))
            });
            match r {
                Ok(()) => return Ok(()),
                Err(Refused::Fail(e)) => return Err(e),
                Err(Refused::Wait(m)) => msg = m,
            }
            self.check_live()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::EAGAIN);
            }
            self.shared.wait(seen, wake);
        }
    }

    // ----- receiving -----

    fn recv_frame(&self, flags: i32) -> Result<(Bytes, bool)> {
        self.recv_frame_as(flags, |c| c.recv_frame())
    }

    /// The next frame with its sender's properties (one `Arc` clone).
    fn recv_frame_with_props(&self, flags: i32) -> Result<Received> {
        self.recv_frame_as(flags, |c| {
            c.recv_frame()
                .map(|(frame, more)| (frame, more, c.rx_props()))
        })
    }

    /// Takes the next frame with `take` (under the core lock), waiting up
    /// to RCVTIMEO unless `flags` has [`DONTWAIT`].
    fn recv_frame_as<T>(
        &self,
        flags: i32,
        mut take: impl FnMut(&mut Core) -> Option<T>,
    ) -> Result<T> {
        self.check_live()?;
        let (frame, rcvtimeo) = self.core(|c| {
            c.check_recv()?;
            Ok::<_, Error>((take(c), c.options.rcvtimeo))
        })?;
        if let Some(frame) = frame {
            return Ok(frame);
        }
        if flags & DONTWAIT != 0 {
            return Err(Error::EAGAIN);
        }
        let deadline = deadline_in(rcvtimeo);
        loop {
            let seen = self.shared.signal.generation();
            let (frame, wake) = self.core(|c| (take(c), c.wake_by(deadline)));
            if let Some(frame) = frame {
                return Ok(frame);
            }
            self.check_live()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::EAGAIN);
            }
            // Woken early by a REQ resend or failback timer, if one is due.
            self.shared.wait(seen, wake);
        }
    }

    /// Receives one frame into `msg` (see [`recv_msg`](Socket::recv_msg)).
    pub fn recv(&self, msg: &mut Message, flags: i32) -> Result<()> {
        self.recv_frame_as(flags, |c| {
            let (frame, more) = c.recv_frame()?;
            msg.set_received(frame, more, c.rx_props_ref());
            Some(())
        })
    }

    /// Receives the next frame, without copying it. Messages waiting on a
    /// more preferred peer (rcvprio) come first; equal peers take turns.
    /// Blocks up to RCVTIMEO.
    ///
    /// A frame from a tcp or ipc peer answers [`Message::gets`] with that
    /// peer's properties (one `Arc` clone per frame; the other `recv_*`
    /// methods skip it).
    ///
    /// Errors: `EAGAIN` if nothing arrived (at once with [`DONTWAIT`]);
    /// `ENOTSUP` on a socket that does not receive (PUSH); `ETERM`.
    pub fn recv_msg(&self, flags: i32) -> Result<Message> {
        let (frame, more, props) = self.recv_frame_with_props(flags)?;
        Ok(Message::received(frame, more, props))
    }

    /// Receives the next frame as a vector (a copy).
    pub fn recv_bytes(&self, flags: i32) -> Result<Vec<u8>> {
        Ok(self.recv_frame(flags)?.0.to_vec())
    }

    /// Receives the next frame into `buf`, truncating it if `buf` is short.
    /// Returns the frame's full length, which may exceed `buf.len()`.
    pub fn recv_into(&self, buf: &mut [u8], flags: i32) -> Result<usize> {
        let (frame, _) = self.recv_frame(flags)?;
        let n = frame.len().min(buf.len());
        buf[..n].copy_from_slice(&frame[..n]);
        Ok(frame.len())
    }

    /// Receives the next frame as text; `Err(bytes)` inside if it is not UTF-8.
    pub fn recv_string(&self, flags: i32) -> Result<std::result::Result<String, Vec<u8>>> {
        let bytes = self.recv_bytes(flags)?;
        Ok(String::from_utf8(bytes).map_err(|e| e.into_bytes()))
    }

    /// Receives every frame of the next message.
    pub fn recv_multipart(&self, flags: i32) -> Result<Vec<Vec<u8>>> {
        let mut parts = Vec::new();
        loop {
            let (frame, more) = self.recv_frame(flags)?;
            parts.push(frame.to_vec());
            if !more {
                return Ok(parts);
            }
        }
    }

    /// Whether the last frame received has more frames following it.
    pub fn get_rcvmore(&self) -> Result<bool> {
        Ok(self.core(|c| c.rcvmore))
    }

    // ----- introspection -----

    /// The socket's type.
    pub fn get_socket_type(&self) -> Result<SocketType> {
        Ok(self.socket_type)
    }

    /// The endpoint last bound or connected, with the port actually bound for
    /// tcp port `0`/`*` (`Err(bytes)` inside is never returned; it is there
    /// for rust-zmq's signature).
    pub fn get_last_endpoint(&self) -> Result<std::result::Result<String, Vec<u8>>> {
        Ok(Ok(self.core(|c| c.last_endpoint.clone())))
    }

    /// The tier (1 most preferred ..= 16) that would get the next message,
    /// or `None` if no peer is ready. On PUB and XPUB: the send tier the
    /// next message fans out to (its most preferred with a live
    /// subscriber); on SUB and XSUB: the receive tier with a live
    /// publisher that a hot-standby subscriber delivers from (see
    /// [`set_sub_failover`](Socket::set_sub_failover)). Failover and
    /// Failback monitor events report its changes on every type.
    pub fn active_tier(&self) -> Option<u8> {
        self.core(|c| c.active_tier(Instant::now()))
    }

    /// One entry per connection: endpoint, peer address, priorities, state
    /// and counters (SPEC §7).
    pub fn peers(&self) -> Vec<Peer> {
        self.core(|c| c.peers())
    }

    /// A new typed stream of this socket's events (SPEC §7): connections
    /// (listening, accepted, connected, retried, handshake, disconnected),
    /// peer states (dead, busy, ready), tier moves (failover, failback) and
    /// rerouted messages. It holds up to 1024 unread events; see
    /// [`event_monitor_with_capacity`](Socket::event_monitor_with_capacity).
    /// (The zmq crate's [`monitor`](Socket::monitor) sends libzmq's events
    /// on a PAIR instead.)
    ///
    /// Events from before the call are not replayed. Each monitor gets every
    /// event; one nobody reads drops new events when full and never slows
    /// the socket. inproc connections have no handshake: they report
    /// `Ready`, `Busy` and `Disconnected` only. A heartbeat death reports
    /// `Dead` before the connection's `Disconnected`; the `Failover` it
    /// causes may come just before `Dead`, as the dying connection's pipe
    /// closes first.
    pub fn event_monitor(&self) -> Monitor {
        self.event_monitor_with_capacity(DEFAULT_MONITOR_CAPACITY)
    }

    /// [`event_monitor`](Socket::event_monitor) holding up to `capacity`
    /// unread events (at least 1).
    pub fn event_monitor_with_capacity(&self, capacity: usize) -> Monitor {
        let monitor = self.hub.subscribe(capacity);
        self.core(|c| c.set_monitored(true));
        monitor
    }

    /// Publishes this socket's events in libzmq's format on a PAIR socket
    /// bound at `monitor_endpoint` (inproc only), as the zmq crate's
    /// `monitor` (`zmq_socket_monitor`) does. Connect a PAIR to that
    /// endpoint to read them: each event is two frames, 6 bytes (the
    /// [`SocketEvent`](crate::SocketEvent) number as a little-endian u16,
    /// then a little-endian u32 value) and the endpoint.
    ///
    /// `events` is a mask of [`SocketEvent`](crate::SocketEvent) numbers
    /// (`SocketEvent::ALL as i32` for all). Calling it again replaces the
    /// monitor; `events == 0` or an empty endpoint stops it. A monitor
    /// stops with MONITOR_STOPPED (if in its mask) when replaced, stopped,
    /// or when the socket closes (after its listeners' CLOSED). The
    /// guide's "The zmq-style monitor" lists the events tiermq raises and
    /// their values. The socket never waits for the monitor: events the
    /// reader does not take in time are dropped.
    ///
    /// Errors: `EPROTONOSUPPORT` for a transport other than inproc, `EINVAL`
    /// for a malformed endpoint or a mask beyond 16 bits, `EADDRINUSE` if the
    /// name is bound, `ETERM` after the context was destroyed.
    pub fn monitor(&self, monitor_endpoint: &str, events: i32) -> Result<()> {
        self.check_live()?;
        let stop = monitor_endpoint.is_empty() || events == 0;
        if !stop {
            crate::zmq_monitor::check_request(monitor_endpoint, events)?;
        }
        let old = self.zmq_monitor.borrow_mut().take();
        if let Some(old) = old {
            old.stop();
        }
        if stop {
            return Ok(());
        }
        let feed = self.event_monitor();
        let started = ZmqMonitor::start(&self.ctx, monitor_endpoint, events, feed)?;
        *self.zmq_monitor.borrow_mut() = Some(started);
        Ok(())
    }

    /// The failover and failback events since the last call (at most the
    /// latest 256). [`event_monitor`](Socket::event_monitor) gives them too, with the
    /// other events.
    pub fn take_tier_events(&self) -> Vec<TierEvent> {
        self.core(Core::take_tier_events)
    }

    /// A poll item for this socket, for [`poll`](fn@crate::poll).
    pub fn as_poll_item(&self, events: PollEvents) -> PollItem<'_> {
        PollItem::new(self, events)
    }

    /// Polls this socket alone: 1 if one of `events` is ready within
    /// `timeout_ms` (`-1`: no limit), else 0.
    pub fn poll(&self, events: PollEvents, timeout_ms: i64) -> Result<i32> {
        crate::poll::poll(&mut [self.as_poll_item(events)], timeout_ms)
    }

    /// The events ready now: [`POLLIN`](crate::POLLIN) if a message can be
    /// received, [`POLLOUT`](crate::POLLOUT) if one can be sent, without blocking.
    /// It also resets the [`get_fd`](Socket::get_fd) descriptor, as
    /// libzmq's ZMQ_EVENTS does.
    pub fn get_events(&self) -> Result<PollEvents> {
        self.shared.wakers.drain_fd();
        // A ZMQ_FD user waits on that descriptor next: the I/O thread serves.
        self.shared.give_back_poll();
        Ok(self.ready_events(PollEvents::POLLIN | PollEvents::POLLOUT))
    }

    /// Which of `events` are ready now.
    pub(crate) fn ready_events(&self, events: PollEvents) -> PollEvents {
        self.readiness(events, &mut None).0
    }

    /// Which of `events` are ready now, and when this socket's timer (a
    /// failback, a REQ resend) is due, for `poll` to look again: one core
    /// lock. `now` is read from the clock only if a send must be checked,
    /// and kept for the caller's next socket.
    pub(crate) fn readiness(
        &self,
        events: PollEvents,
        now: &mut Option<Instant>,
    ) -> (PollEvents, Option<Instant>) {
        self.core(|c| {
            let mut ready = PollEvents::empty();
            if events.contains(PollEvents::POLLIN) && c.can_recv() {
                ready |= PollEvents::POLLIN;
            }
            if events.contains(PollEvents::POLLOUT) && c.sends() {
                let now = *now.get_or_insert_with(Instant::now);
                if c.can_send(now) {
                    ready |= PollEvents::POLLOUT;
                }
            }
            (ready, c.next_timer())
        })
    }

    pub(crate) fn context(&self) -> &Context {
        &self.ctx
    }
}

impl Drop for Socket {
    /// Returns at once, like `zmq_close`; lingering (see
    /// [`set_linger`](Socket::set_linger)) happens on a background thread that
    /// the context's end waits for.
    fn drop(&mut self) {
        let linger = self.core(|c| c.options.linger);
        let now = Instant::now();
        let lingering =
            linger != 0 && !self.ctx.is_terminated() && self.core(|c| c.needs_linger(now));
        let closer = Closer {
            shared: Arc::clone(&self.shared),
            links: self.ctx.links().clone(),
            deadline: deadline_after(now, linger),
            linger: lingering,
        };
        if !lingering {
            closer.run();
        } else if let Err(work) = self.ctx.linger_in_background(move || closer.run()) {
            work();
        }
        if let Some(m) = self.zmq_monitor.get_mut().take() {
            m.finish();
        }
    }
}

/// Closes a dropped socket, lingering first if asked.
struct Closer {
    shared: Arc<Shared>,
    links: Links,
    deadline: Option<Instant>,
    linger: bool,
}

impl Closer {
    /// While lingering the socket still reroutes: a peer that dies hands its
    /// messages to the others. Once tiermq's queues are empty the pipes are
    /// closed, and tcp/ipc connections write out what they hold before
    /// closing; only then are the endpoints closed.
    fn run(self) {
        self.shared.mark_closing();
        if self.linger {
            self.wait_while(|c| c.has_unsent(Instant::now()));
        }
        let links = self.shared.with_core(|c| {
            c.close();
            c.take_links()
        });
        if self.linger {
            self.wait_while(|c| c.is_flushing());
        }
        let me = Arc::downgrade(&self.shared);
        for link in links {
            self.links.close(&me, link.kind, link.key);
        }
    }

    /// Waits while `busy` holds, up to the deadline or the context's end.
    fn wait_while(&self, mut busy: impl FnMut(&mut Core) -> bool) {
        loop {
            let seen = self.shared.signal.generation();
            if !self.shared.with_core(&mut busy) {
                return;
            }
            let now = Instant::now();
            if self.deadline.is_some_and(|d| now >= d) || self.links.is_terminated() {
                return;
            }
            // Pipes wake the socket when they drain to their low-water mark,
            // not when they empty: re-check at a short interval too.
            let tick = now + Duration::from_millis(5);
            let wake = self.deadline.map_or(tick, |d| d.min(tick));
            self.shared.signal.wait(seen, Some(wake));
        }
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("type", &self.socket_type)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Context, Error, PULL, PUSH};

    /// A panic inside the core leaves its state torn: the socket refuses
    /// further sends and receives instead of going on with it.
    #[test]
    fn a_panic_in_the_core_fails_the_socket() {
        let ctx = Context::new();
        let push = ctx.socket(PUSH).unwrap();
        push.bind("inproc://panicked").unwrap();
        let pull = ctx.socket(PULL).unwrap();
        pull.connect("inproc://panicked").unwrap();
        push.send("before", 0).unwrap();
        let torn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            push.shared.with_core(|_| panic!("a bug in the core"))
        }));
        assert!(torn.is_err());
        assert_eq!(push.send("after", crate::DONTWAIT), Err(Error::ENOTSOCK));
        assert_eq!(push.connect("inproc://other"), Err(Error::ENOTSOCK));
        // Other sockets are not affected.
        assert_eq!(pull.recv_bytes(0).unwrap(), b"before");
    }
}
