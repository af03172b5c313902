//! `Connection`: one socket and its wire session, pumping bytes between the
//! socket and the connection's pipes.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mio::{Registry, Token};
use tiermq_pipe::{RecvError, Room};
use tiermq_wire::{Event, Item, Session, encoded};

use crate::inbox::{Direction, PipeWaker, Shared};
use crate::net::Stream;
use crate::recv_buf::RecvBuf;
use crate::socket_poll::{Ready, SocketPoll};
use crate::{ConnId, DetachReason, LinkId, MonitorEvent, Notification, Sink, ZapTicket};

/// The operating system's randomness, for CURVE's keys and nonces.
struct OsRandom;

impl tiermq_wire::Random for OsRandom {
    fn fill(&mut self, dst: &mut [u8]) -> io::Result<()> {
        getrandom::fill(dst).map_err(io::Error::other)
    }
}

/// Smallest and largest single read, in bytes. The size adapts: it doubles
/// after a read that filled it and halves after one that used little of it,
/// so a quiet connection's reads pin small buffers and a busy one makes
/// few syscalls (a 64 KiB stream: eight messages per read).
const MIN_READ: usize = 8 * 1024;
const MAX_READ: usize = 512 * 1024;
/// Bytes read from one connection per turn before others get theirs. A
/// leader whose turn runs out hands the connection to the I/O thread, so
/// a short turn splits one stream across two threads; with small messages
/// the in pipe's HWM ends a turn long before this.
const READ_TURN: usize = 8 * 1024 * 1024;
/// Bytes written to one connection per turn before others get theirs.
const WRITE_TURN: usize = 1024 * 1024;
/// The session's queued output is refilled from the out pipe up to this.
const OUT_BUDGET: usize = 256 * 1024;
/// Messages taken from the out pipe per lock.
const OUT_BATCH: usize = 256;
/// Received messages handed to the in pipe per lock.
const IN_BATCH: usize = 256;
/// Slices per `writev`. A message above the zero-copy threshold takes two
/// (its header, its payload); with 64, a writev carried 32 messages of 4
/// KiB, and over loopback tcp each writev woke the receiver again, which
/// the sender pays for: 256 measured 0.90–1.09 M msg/s against 0.66–0.85.
const IOV: usize = 256;
/// The adaptive cork: a thread that wakes an idle connection again within
/// this long after its last one writes through the I/O thread, which
/// batches; a slower one writes directly (see [`Connection::write_direct`]).
/// Well under a round trip on one CPU (about 10 µs raw here), well over
/// the gap between two sends of a streaming sender (under 1 µs).
const CORK: Duration = Duration::from_micros(5);

/// The I/O thread wrote a batch (more than one message) for this
/// connection less than this long ago: it is busy with a streaming
/// sender's batches, and a direct write would only cut one message out of
/// its next batch and contend for the lock. A single message it wrote does
/// not count: a request/reply peer whose one send went through the I/O
/// thread would otherwise send every next one that way too, each within
/// this window of the last.
const IO_BUSY: Duration = Duration::from_micros(50);

thread_local! {
    /// When this thread last woke an idle connection's out pipe: the
    /// cork's clock, per thread since a sender streams per thread.
    static LAST_WAKE: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// The pipe ends the I/O thread holds for an attached connection.
struct Pipes {
    out: tiermq_pipe::Reader<Item>,
    inp: tiermq_pipe::Writer<Item>,
    /// `out` holds the bytes the sender encoded (`ItemCodec`), taken with
    /// `recv_encoded` and written as they are.
    encoded: bool,
}

/// The out pipe's codec, for sessions that allow it
/// ([`Session::encodes_ahead`]): each message is encoded on the sending
/// thread as it enters the pipe, so whoever writes (that thread, or the
/// I/O thread) only moves bytes, and a batch of small messages leaves the
/// pipe as one chunk.
struct ItemCodec {
    zero_copy_threshold: usize,
}

impl tiermq_pipe::Codec<Item> for ItemCodec {
    fn encode(&self, item: &Item, buf: &mut tiermq_pipe::EncodeBuf) {
        encoded::encode_item(item, self.zero_copy_threshold, &mut PipeSink(buf));
    }

    fn decode(&self, mut bytes: Bytes) -> Option<Item> {
        encoded::decode_item(&mut bytes)
    }
}

struct PipeSink<'a>(&'a mut tiermq_pipe::EncodeBuf);

impl encoded::ItemSink for PipeSink<'_> {
    fn buf(&mut self, additional: usize) -> &mut BytesMut {
        self.0.tail(additional)
    }

    fn shared(&mut self, payload: Bytes) {
        self.0.put_shared(payload);
    }
}

/// What a pump call asks of the reactor besides its result.
#[derive(Debug, Default)]
pub(crate) struct Flow {
    /// The handshake completed during this call.
    pub(crate) attached: bool,
    /// The read turn ran out with more to read: come back soon.
    pub(crate) more_read: bool,
    /// The write turn ran out with more to write: come back soon.
    pub(crate) more_write: bool,
    /// Messages taken from the out pipe.
    pub(crate) taken: usize,
}

/// What the I/O thread must still do for a connection served on another
/// thread (a leader, or a receiver's direct read): read on (a turn ran out,
/// a timer to arm) and write (more to write, or a failure to close).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Handback {
    pub(crate) read: bool,
    pub(crate) write: bool,
}

/// One tcp or ipc connection.
pub(crate) struct Connection {
    pub(crate) id: ConnId,
    pub(crate) link: LinkId,
    pub(crate) token: Token,
    pub(crate) stream: Stream,
    pub(crate) endpoint: String,
    pub(crate) peer_addr: String,
    pub(crate) sink: Arc<dyn Sink>,
    /// A non-blocking connect has not completed yet.
    pub(crate) connecting: bool,
    /// The last readiness event said the peer may have closed or failed:
    /// read until the kernel says `WouldBlock` or end of stream.
    pub(crate) read_to_end: bool,
    /// The last write hit `WouldBlock`: wait for a WRITABLE event.
    pub(crate) write_blocked: bool,
    /// The deadline this connection has in the reactor's timers.
    pub(crate) timer_at: Option<Instant>,
    session: Option<Session>,
    pipes: Option<Pipes>,
    sndhwm: usize,
    rcvhwm: usize,
    /// Where reads go: bytes not yet handed to the session (a frame
    /// still arriving), then room.
    recv: RecvBuf,
    /// Read bytes handed over (frozen) and not yet decoded: a partial
    /// frame, or whole ones when decoding stopped at a full in pipe.
    pending: Bytes,
    /// The whole length of the frame `recv` holds the start of, once its
    /// header is known: the next read makes room for all of it.
    arriving: Option<u64>,
    read_size: usize,
    /// Received messages on their way to the in pipe (ones a full pipe
    /// refused are delivered first when it drains).
    inbound: VecDeque<Item>,
    /// The in pipe is full: don't read until it drains.
    pub(crate) read_paused: bool,
    /// `pending` may hold whole frames not decoded yet (decoding stopped at a
    /// batch and the in pipe filled up): decode them before reading more.
    undecoded: bool,
    /// The peer closed its side; close once everything is delivered.
    eof: bool,
    /// The application closed the out pipe and it is drained.
    out_closed: bool,
    /// The heartbeat declared the peer dead and the session lingers: take
    /// nothing from the out pipe until it is heard from again.
    dead: bool,
    batch: Vec<Item>,
    /// Chunks taken from an encoded out pipe, on their way to the session.
    chunks: Vec<Bytes>,
    /// This connection as the slab holds it, for its out pipe's waker.
    me: Weak<Mutex<Connection>>,
    /// A failure an application thread met while writing directly: the
    /// I/O thread's next pump returns it and closes the connection.
    fault: Option<DetachReason>,
    /// The socket's own poll, which the connection joins once established.
    group: Option<Arc<SocketPoll>>,
    /// Registered in `group` rather than in the reactor's poll.
    in_group: bool,
    /// When the I/O thread last wrote a batch for this connection (see
    /// [`IO_BUSY`]).
    pub(crate) io_served: Option<Instant>,
}

impl Connection {
    #[allow(clippy::too_many_arguments)] // a plain constructor of a private type
    pub(crate) fn new(
        id: ConnId,
        link: LinkId,
        token: Token,
        stream: Stream,
        endpoint: String,
        peer_addr: String,
        sink: Arc<dyn Sink>,
        (sndhwm, rcvhwm): (usize, usize),
        me: Weak<Mutex<Connection>>,
        group: Option<Arc<SocketPoll>>,
    ) -> Self {
        Connection {
            id,
            link,
            token,
            stream,
            endpoint,
            peer_addr,
            sink,
            connecting: true,
            read_to_end: true,
            write_blocked: false,
            timer_at: None,
            session: None,
            pipes: None,
            sndhwm,
            rcvhwm,
            recv: RecvBuf::new(),
            pending: Bytes::new(),
            arriving: None,
            read_size: MIN_READ,
            inbound: VecDeque::new(),
            read_paused: false,
            undecoded: false,
            eof: false,
            out_closed: false,
            dead: false,
            batch: Vec::new(),
            chunks: Vec::new(),
            me,
            fault: None,
            group,
            in_group: false,
            io_served: None,
        }
    }

    /// This connection as the reactor's slab holds it.
    pub(crate) fn me(&self) -> Weak<Mutex<Connection>> {
        self.me.clone()
    }

    /// Moves an established connection from the reactor's poll into its
    /// socket's own (if it has one and is not there yet).
    pub(crate) fn join_group(&mut self, reactor: &Registry) {
        let Some(group) = self
            .group
            .clone()
            .filter(|_| !self.in_group && self.pipes.is_some())
        else {
            return;
        };
        self.stream.deregister(reactor);
        match group.join(self) {
            Ok(()) => self.in_group = true,
            // Back where it was: the I/O thread keeps serving it.
            Err(_) => {
                let token = self.token;
                let _ = self.stream.register(reactor, token);
            }
        }
    }

    /// Serves one readiness event of an established connection: reads
    /// (and decodes, and delivers) and writes. The I/O thread and a
    /// socket's leading caller both call it.
    pub(crate) fn on_ready(
        &mut self,
        r: Ready,
        shared: &Arc<Shared>,
        now: Instant,
        flow: &mut Flow,
    ) -> Result<(), DetachReason> {
        let was_blocked = self.write_blocked;
        if r.writable {
            self.write_blocked = false;
        }
        if r.readable || r.closing {
            self.read_to_end = r.closing;
            self.pump_in(shared, now, flow)?;
        }
        if (was_blocked && r.writable) || self.has_output() {
            self.pump_out(flow)?;
        }
        Ok(())
    }

    /// Whether the session wants a timer earlier than the one the reactor
    /// holds for it (after work done off the I/O thread).
    pub(crate) fn timer_needs_arming(&self) -> bool {
        !self.read_paused
            && self
                .poll_timeout()
                .is_some_and(|next| self.timer_at.is_none_or(|t| next < t))
    }

    /// Keeps a failure met off the I/O thread: the I/O thread's next pump
    /// returns it and closes the connection.
    pub(crate) fn fail(&mut self, reason: DetachReason) {
        self.fault = Some(reason);
    }

    /// The socket is connected: start the session (which queues our
    /// greeting). CURVE draws its keys and nonces from the OS.
    pub(crate) fn open(&mut self, wire: tiermq_wire::Config, now: Instant) {
        self.connecting = false;
        self.session = Some(Session::with_random(wire, now, Box::new(OsRandom)));
    }

    /// Passes a ZAP verdict (`None`: no handler) to the session, then
    /// delivers what follows (the handshake may complete).
    pub(crate) fn zap_reply(
        &mut self,
        reply: Option<tiermq_wire::ZapReply>,
        shared: &Arc<Shared>,
        now: Instant,
        flow: &mut Flow,
    ) -> Result<(), DetachReason> {
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        match reply {
            Some(reply) => session.zap_reply(reply, now),
            None => session.zap_unavailable(now),
        }
        .map_err(DetachReason::Wire)?;
        self.deliver(shared, flow).map(drop)
    }

    pub(crate) fn has_output(&self) -> bool {
        self.session.as_ref().is_some_and(Session::has_output)
    }

    /// When the session next wants `handle_timeout`.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let session = self.session.as_ref().and_then(Session::poll_timeout);
        // Spare read buffers of a connection gone idle are freed by a
        // timer too (`RecvBuf::trim_due`); a first trim goes with the
        // session's next timer, or now if it has none.
        match self.recv.trim_due(session.unwrap_or_else(Instant::now)) {
            Some(trim) => Some(session.map_or(trim, |t| t.min(trim))),
            None => session,
        }
    }

    /// Runs the session's due timers (handshake timeout, heartbeats), then
    /// passes on what they produced (a peer declared dead); and frees an
    /// idle connection's spare read buffers when that is due.
    pub(crate) fn handle_timeout(
        &mut self,
        shared: &Arc<Shared>,
        now: Instant,
        flow: &mut Flow,
    ) -> Result<(), DetachReason> {
        if self.recv.trim_due(now).is_some_and(|t| t <= now) {
            self.recv.trim(now);
        }
        match &mut self.session {
            Some(s) if s.poll_timeout().is_some_and(|t| t <= now) => {
                s.handle_timeout(now).map_err(DetachReason::Wire)?;
                self.deliver(shared, flow).map(drop)
            }
            _ => Ok(()),
        }
    }

    /// Reads and decodes until `WouldBlock`, the in pipe fills up, or the
    /// read turn ends, delivering every decoded message to the in pipe.
    ///
    /// A read that fills less than its buffer also ends it, unless
    /// `read_to_end` is set: the kernel's receive queue was empty at that
    /// moment, and with edge-triggered readiness any later arrival (data or
    /// end of stream) raises a new event. That saves the extra `read` that
    /// would only return `WouldBlock`, one per message at request/reply
    /// rates. An event that already carried end of stream or an error sets
    /// `read_to_end`, since no further edge would come for it.
    ///
    /// Err means the connection must close. End of stream closes it only
    /// once every received message has been delivered.
    pub(crate) fn pump_in(
        &mut self,
        shared: &Arc<Shared>,
        now: Instant,
        flow: &mut Flow,
    ) -> Result<(), DetachReason> {
        if let Some(fault) = &self.fault {
            return Err(fault.clone());
        }
        if self.connecting || self.read_paused {
            return Ok(());
        }
        // What an earlier read left undecoded first (a full pipe paused
        // it), then new bytes.
        if !self.deliver(shared, flow)? {
            return Ok(());
        }
        if self.undecoded && !self.decode_delivering(shared, now, flow)? {
            return Ok(());
        }
        let mut turn = READ_TURN;
        while !self.eof {
            let (n, asked) = match self.read_once(now) {
                Ok((0, _)) => {
                    self.eof = true;
                    break;
                }
                Ok(read) => read,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = self.deliver(shared, flow);
                    return Err(DetachReason::Io(e.kind()));
                }
            };
            // Nothing to decode while the frame being read is not whole.
            if self.hand_over()? && !self.decode_delivering(shared, now, flow)? {
                return Ok(());
            }
            if n < asked && !self.read_to_end {
                return Ok(());
            }
            if n >= turn {
                flow.more_read = true;
                return Ok(());
            }
            turn -= n;
        }
        // End of stream and everything delivered.
        Err(DetachReason::PeerClosed)
    }

    /// Decodes the bytes read so far, `IN_BATCH` messages at a time, each
    /// batch delivered before the next is decoded (so it is still in
    /// cache). Returns false when the in pipe filled up and reading must
    /// pause; the rest stays undecoded until it drains.
    fn decode_delivering(
        &mut self,
        shared: &Arc<Shared>,
        now: Instant,
        flow: &mut Flow,
    ) -> Result<bool, DetachReason> {
        loop {
            let Some(session) = self.session.as_mut() else {
                return Ok(true);
            };
            let decoded =
                session.handle_read_into(&mut self.pending, now, IN_BATCH, &mut self.inbound);
            let more = match decoded {
                Ok(more) => more,
                Err(e) => {
                    // Hand over what arrived intact before the bad bytes.
                    let _ = self.deliver(shared, flow);
                    return Err(DetachReason::Wire(e));
                }
            };
            self.undecoded = more;
            if !self.deliver(shared, flow)? {
                return Ok(false);
            }
            if !more {
                return Ok(true);
            }
        }
    }

    /// After a read: hands what `recv` holds to `pending` for decoding
    /// and returns true, unless it ends inside a frame that started in it
    /// (then the frame stays there until whole, and the next read makes
    /// room for the rest of it). Err if that frame's header is bad.
    fn hand_over(&mut self) -> Result<bool, DetachReason> {
        debug_assert!(self.pending.is_empty());
        self.arriving = match &mut self.session {
            Some(s) => s
                .frame_incomplete(self.recv.held())
                .map_err(DetachReason::Wire)?,
            None => None,
        };
        if self.arriving.is_some() {
            return Ok(false);
        }
        self.pending = self.recv.freeze();
        Ok(true)
    }

    /// One `read`, after what the last decode left (part of a frame):
    /// `read_size` bytes, or room for the rest of a frame that is longer
    /// than that, growing at most as fast as its bytes arrive (a peer's
    /// claimed size reserves nothing). Returns how many bytes were read and
    /// how many were asked for.
    fn read_once(&mut self, now: Instant) -> io::Result<(usize, usize)> {
        let rest = std::mem::take(&mut self.pending);
        let held = self.recv.held().len() + rest.len();
        let want = match self.arriving {
            Some(total) if total > (held + self.read_size) as u64 => {
                let missing = usize::try_from(total - held as u64).unwrap_or(usize::MAX);
                missing.min(self.read_size.max(held))
            }
            _ => self.read_size,
        };
        // Buffers of twice the read size: a read fills what the last one
        // left, and most buffers come out the same size.
        let size = 2 * self.read_size;
        if !rest.is_empty() {
            self.recv.carry(&rest, want, size);
        }
        let room = self.recv.room(want, size);
        let asked = room.len();
        let result = self.stream.read(room);
        let n = *result.as_ref().unwrap_or(&0);
        self.recv.filled(n);
        if n == asked {
            self.read_size = (self.read_size * 2).min(MAX_READ);
        } else if n < self.read_size / 4 && self.read_size > MIN_READ {
            self.read_size = (self.read_size / 2).max(MIN_READ);
            if self.read_size == MIN_READ {
                // Quiet again: give spare buffers back.
                self.recv.trim(now);
            }
        }
        result.map(|n| (n, asked))
    }

    /// Moves the session's events into the in pipe, up to `IN_BATCH`
    /// messages per lock. Returns false when the pipe is full (reading
    /// pauses until it drains; what did not fit waits in `inbound`).
    fn deliver(&mut self, shared: &Arc<Shared>, flow: &mut Flow) -> Result<bool, DetachReason> {
        loop {
            // Every event first: messages decoded with `handle_read_into`
            // wait in `inbound` already, and `Ready` must attach the pipes
            // before they go anywhere.
            loop {
                let Some(event) = self.session.as_mut().and_then(Session::poll_event) else {
                    break;
                };
                let item = match event {
                    Event::Ready => {
                        self.attach(shared)?;
                        flow.attached = true;
                        continue;
                    }
                    Event::Message(msg) => Item::Message(msg),
                    Event::Subscribe(topic) => Item::Subscribe(topic),
                    Event::Cancel(topic) => Item::Cancel(topic),
                    Event::Pong { rtt: Some(rtt), .. } => {
                        self.sink
                            .notify(Notification::RoundTrip { conn: self.id, rtt });
                        continue;
                    }
                    Event::Ping { .. } | Event::Pong { rtt: None, .. } => continue,
                    Event::Dead => {
                        self.report_dead(Session::take_unsent);
                        continue;
                    }
                    Event::ZapRequest(request) => {
                        self.sink.notify(Notification::ZapRequest {
                            conn: self.id,
                            link: self.link,
                            endpoint: self.endpoint.clone(),
                            peer_addr: self.peer_addr.clone(),
                            request,
                            ticket: ZapTicket {
                                token: self.token,
                                conn: self.id,
                            },
                        });
                        continue;
                    }
                    Event::Revived => {
                        self.dead = false;
                        self.sink.notify(Notification::Revived { conn: self.id });
                        // What queued in the out pipe meanwhile goes out now.
                        flow.more_write = true;
                        continue;
                    }
                };
                self.inbound.push_back(item);
            }
            if self.inbound.is_empty() {
                return Ok(true);
            }
            // The session yields messages only after Ready, so pipes exist.
            let Some(pipes) = &self.pipes else {
                self.inbound.clear();
                return Ok(true);
            };
            match pipes.inp.try_send_batch(&mut self.inbound) {
                Ok(Room::Available) => {}
                Ok(Room::Full) => {
                    self.read_paused = true;
                    return Ok(false);
                }
                // The application closed its input: it wants none.
                Err(_) => self.inbound.clear(),
            }
        }
    }

    /// The peer is dead: hand back what the session holds that `take`
    /// gives up (messages not begun while the connection lingers, or all
    /// not written completely once it closes) and stop taking more (the
    /// application reroutes them). Once per death, for attached
    /// connections only.
    fn report_dead(&mut self, take: fn(&mut Session) -> Vec<tiermq_wire::Multipart>) {
        if self.dead || self.pipes.is_none() {
            return;
        }
        self.dead = true;
        let unsent = self.session.as_mut().map(take).unwrap_or_default();
        self.sink.notify(Notification::Dead {
            conn: self.id,
            unsent,
        });
    }

    /// The handshake completed: make the pipe pair, set the I/O side's
    /// wakers and hand the application side to the sink.
    fn attach(&mut self, shared: &Arc<Shared>) -> Result<(), DetachReason> {
        let peer = self
            .session
            .as_ref()
            .and_then(Session::peer)
            .cloned()
            .ok_or(DetachReason::Wire(tiermq_wire::Error::MissingSocketType))?;
        let weight: fn(&Item) -> usize = Item::byte_len;
        let out_config = tiermq_pipe::Config::new(self.sndhwm);
        let session = self.session.as_ref();
        let encoded = session.is_some_and(Session::encodes_ahead);
        let (out_w, out_r) = match session {
            Some(s) if encoded => {
                let codec = ItemCodec {
                    zero_copy_threshold: s.zero_copy_threshold(),
                };
                tiermq_pipe::pipe_encoded(out_config, weight, Arc::new(codec))
            }
            _ => tiermq_pipe::pipe_with(out_config, weight),
        };
        let (in_w, in_r) = tiermq_pipe::pipe_with(tiermq_pipe::Config::new(self.rcvhwm), weight);
        // A blocked sender writes its full pipe itself on ipc only: a tcp
        // write on loopback also runs the receiver's side of the stack,
        // and there the I/O thread writing in parallel with the encoding
        // sender measured faster (docs/design.md, "A blocked sender writes").
        let drives = matches!(self.stream, Stream::Ipc(_));
        let waker = |direction| {
            Some(Arc::new(PipeWaker {
                shared: Arc::clone(shared),
                token: self.token,
                direction,
                drives: drives && matches!(direction, Direction::Out),
                conn: self.me.clone(),
            }) as Arc<dyn tiermq_pipe::Wake>)
        };
        out_r.set_waker(waker(Direction::Out));
        in_w.set_waker(waker(Direction::In));
        self.pipes = Some(Pipes {
            out: out_r,
            inp: in_w,
            encoded,
        });
        self.sink
            .notify(Notification::Monitor(MonitorEvent::HandshakeSucceeded {
                link: self.link,
                conn: self.id,
                endpoint: self.endpoint.clone(),
                peer_addr: self.peer_addr.clone(),
            }));
        self.sink.notify(Notification::Attached {
            conn: self.id,
            link: self.link,
            endpoint: self.endpoint.clone(),
            peer_addr: self.peer_addr.clone(),
            peer_address: self.stream.peer_address(&self.peer_addr),
            peer,
            out: out_w,
            inp: in_r,
        });
        Ok(())
    }

    /// Writes until `WouldBlock`, nothing is left, or the write turn ends,
    /// refilling the session from the out pipe as it drains. Small messages
    /// go out packed into one `writev`; large payloads by reference.
    pub(crate) fn pump_out(&mut self, flow: &mut Flow) -> Result<(), DetachReason> {
        if let Some(fault) = &self.fault {
            return Err(fault.clone());
        }
        let Connection {
            session: Some(session),
            pipes,
            stream,
            batch,
            chunks,
            out_closed,
            eof,
            dead,
            write_blocked,
            connecting: false,
            ..
        } = self
        else {
            return Ok(());
        };
        if *write_blocked {
            return Ok(());
        }
        let mut turn = WRITE_TURN;
        loop {
            if let Some(pipes) = pipes.as_ref().filter(|_| !*out_closed && !*eof && !*dead) {
                while session.pending_output() < OUT_BUDGET {
                    let taken = if pipes.encoded {
                        let room = OUT_BUDGET - session.pending_output();
                        pipes.out.recv_encoded(chunks, room).inspect(|_| {
                            session.send_encoded(chunks.drain(..));
                        })
                    } else {
                        pipes.out.recv_batch(batch, OUT_BATCH).inspect(|_| {
                            batch.drain(..).for_each(|item| match item {
                                Item::Message(m) => session.send(m),
                                Item::Subscribe(topic) => session.send_subscribe(topic),
                                Item::Cancel(topic) => session.send_cancel(topic),
                            })
                        })
                    };
                    match taken {
                        Ok(0) | Err(RecvError::Empty) => break,
                        Ok(n) => flow.taken += n,
                        Err(RecvError::Closed) => {
                            *out_closed = true;
                            break;
                        }
                    }
                }
            }
            if !session.has_output() {
                break;
            }
            let written = {
                let mut iov = [IoSlice::new(&[]); IOV];
                let n = session.chunks_vectored(&mut iov).min(IOV);
                if n == 0 {
                    break;
                }
                stream.write_vectored(&iov[..n])
            };
            match written {
                Ok(0) => return Err(DetachReason::Io(io::ErrorKind::WriteZero)),
                Ok(n) => {
                    session.advance(n);
                    if n >= turn {
                        flow.more_write = true;
                        return Ok(());
                    }
                    turn -= n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    *write_blocked = true;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(DetachReason::Io(e.kind())),
            }
        }
        if *out_closed && pipes.as_ref().is_some_and(|p| p.inp.is_closed()) {
            // The application closed both pipes and everything it queued
            // was written: it is done with this connection.
            return Err(DetachReason::Closed);
        }
        Ok(())
    }

    /// Whether an application thread may write this connection's output:
    /// it is established and attached, not failed, dead, ended or closed
    /// for output, and the kernel did not refuse its last write.
    fn writes_plainly(&self) -> bool {
        self.fault.is_none()
            && !self.connecting
            && !self.write_blocked
            && !self.dead
            && !self.eof
            && !self.out_closed
            && self.pipes.is_some()
    }

    /// The out pipe woke an idle connection on an application thread, the
    /// sender's: write what it queued from that thread, sparing the I/O
    /// thread a wake-up. Returns false when the I/O thread must take over:
    /// the connection is not plainly established and idle, this thread
    /// woke a connection (any) within [`CORK`] before (it streams, maybe
    /// round-robin over many peers or fanning out to many subscribers, and
    /// the I/O thread batches better than a system call per message), the
    /// write turn ran out, or the write failed (the fault is kept for the
    /// I/O thread, which closes the connection). A write the kernel
    /// refused in part needs no help: the rest stays in the session, and
    /// the socket's WRITABLE edge brings the I/O thread.
    pub(crate) fn write_direct(&mut self) -> bool {
        let now = Instant::now();
        let last = LAST_WAKE.with(|last| last.replace(Some(now)));
        let idle = self.writes_plainly() && !self.has_output();
        let io_busy = self
            .io_served
            .is_some_and(|t| now.saturating_duration_since(t) < IO_BUSY);
        if !idle || io_busy || last.is_some_and(|t| now.duration_since(t) < CORK) {
            return false;
        }
        let mut flow = Flow::default();
        let pumped = self.pump_out(&mut flow);
        // The cork's clock runs from the end of this write: a write that
        // outlasts CORK (a CURVE box, a large frame) would otherwise make
        // every next send of a stream look idle, one system call each.
        LAST_WAKE.with(|last| last.set(Some(Instant::now())));
        match pumped {
            Ok(()) => !flow.more_write,
            Err(reason) => {
                self.fail(reason);
                false
            }
        }
    }

    /// The sender's thread found the out pipe full: write out what it holds
    /// there rather than sleep until the I/O thread has, whether or not the
    /// sender streams (the cork of [`write_direct`](Self::write_direct)
    /// does not apply: the pipe holds a whole batch). Only ipc
    /// connections' wakers call it (see `attach`).
    /// `None` when the I/O thread must (not plainly established) or
    /// nothing can be written now (the kernel refused the last write: its
    /// WRITABLE edge comes to whoever polls the stream); else what is left
    /// for the I/O thread.
    pub(crate) fn drive_out(&mut self) -> Option<Handback> {
        if !self.writes_plainly() {
            return None;
        }
        let mut flow = Flow::default();
        let pumped = self.pump_out(&mut flow);
        Some(self.hand_back(pumped, &flow))
    }

    /// The application drained the in pipe that had paused reading: read
    /// on its thread, the receiver's, what waited meanwhile, sparing the
    /// I/O thread a wake-up (and the receiver the one that would follow).
    /// `None` when the I/O thread must do it (not plainly established and
    /// paused, or the application closed its input); else what is left
    /// for the I/O thread.
    pub(crate) fn read_direct(&mut self, shared: &Arc<Shared>) -> Option<Handback> {
        let plain = self.fault.is_none()
            && !self.connecting
            && self.read_paused
            && !self.dead
            && !self.eof
            && self.pipes.as_ref().is_some_and(|p| !p.inp.is_closed());
        if !plain {
            return None;
        }
        self.read_paused = false;
        // Edges that came while paused were not read.
        self.read_to_end = true;
        let mut flow = Flow::default();
        let pumped = self
            .pump_in(shared, Instant::now(), &mut flow)
            .and_then(|()| {
                // What reading queued (a PONG) goes out now, as a leader's does.
                if self.has_output() {
                    self.pump_out(&mut flow)
                } else {
                    Ok(())
                }
            });
        Some(self.hand_back(pumped, &flow))
    }

    /// What is left for the I/O thread after `result`, the outcome of
    /// work done on another thread with `flow`. A failure is kept (see
    /// [`fail`](Self::fail)) for the I/O thread to close the connection.
    pub(crate) fn hand_back(&mut self, result: Result<(), DetachReason>, flow: &Flow) -> Handback {
        match result {
            Ok(()) => Handback {
                read: flow.more_read || self.timer_needs_arming(),
                write: flow.more_write,
            },
            Err(reason) => {
                self.fail(reason);
                Handback {
                    read: false,
                    write: true,
                }
            }
        }
    }

    /// Closes the socket and the I/O side's pipe ends (what is queued stays
    /// for the application), and tells the sink. The stream's descriptor
    /// closes when the last holder lets the connection go: the slab's
    /// entry, or a sender writing directly at this moment (it then finds
    /// `fault` set and stops).
    pub(crate) fn close(&mut self, registry: &Registry, reason: DetachReason) {
        self.fault = Some(reason.clone());
        if let (DetachReason::Wire(_), Some(session)) = (&reason, &mut self.session) {
            // A failed session offers only control bytes, such as an ERROR
            // command telling the peer why; send what the kernel takes now.
            while session.has_output() {
                let mut iov = [IoSlice::new(&[]); IOV];
                let n = session.chunks_vectored(&mut iov).min(IOV);
                match self.stream.write_vectored(&iov[..n]) {
                    Ok(k) if k > 0 => session.advance(k),
                    _ => break,
                }
            }
        }
        if reason.is_dead() {
            // Without a linger the heartbeat ends the connection at once;
            // it is still reported dead first, with what it held.
            self.report_dead(Session::take_undelivered);
        }
        match self.group.clone().filter(|_| self.in_group) {
            Some(group) => group.leave(self),
            None => self.stream.deregister(registry),
        }
        let established = !self.connecting;
        // Over for good: a message cut short never reaches the peer either.
        let unsent = match (&mut self.session, &self.pipes) {
            (Some(session), Some(_)) => session.take_undelivered(),
            _ => Vec::new(),
        };
        let attached = if let Some(pipes) = self.pipes.take() {
            pipes.out.set_waker(None);
            pipes.inp.set_waker(None);
            pipes.out.close();
            pipes.inp.close();
            true
        } else {
            false
        };
        if attached {
            self.sink.notify(Notification::Detached {
                conn: self.id,
                reason: reason.clone(),
                unsent,
            });
        } else if established && reason != DetachReason::Closed {
            self.sink
                .notify(Notification::Monitor(MonitorEvent::HandshakeFailed {
                    link: self.link,
                    conn: self.id,
                    endpoint: self.endpoint.clone(),
                    peer_addr: self.peer_addr.clone(),
                    reason: reason.clone(),
                }));
        }
        if established {
            self.sink
                .notify(Notification::Monitor(MonitorEvent::Disconnected {
                    link: self.link,
                    conn: self.id,
                    endpoint: self.endpoint.clone(),
                    peer_addr: self.peer_addr.clone(),
                    reason,
                }));
        }
    }
}
