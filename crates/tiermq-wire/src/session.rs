//! `Session`: one ZMTP connection's protocol state machine.

use crate::command::{self, Command};
use crate::mechanism::{self, Ctx, Handshake, Opener, Random, Sealer, Step, ZapReply, ZapRequest};
use crate::output::Output;
use crate::{Config, Error, Item, Metadata, Multipart, ReadBuf, SocketType, frame, greeting};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::collections::VecDeque;
use std::io::IoSlice;
use std::time::{Duration, Instant};

/// When a size limit is configured, a message may also have at most this
/// many frames, so empty frames cannot grow a message without bound.
pub const MAX_FRAMES_WITH_LIMIT: usize = 65_536;

/// Largest command frame accepted. Commands are not messages, so
/// `max_msg_size` does not apply to them (a small limit must not refuse a
/// READY); this bound keeps a peer from making us buffer a huge one.
pub const MAX_COMMAND_SIZE: u64 = 1 << 20;

/// How many of our PINGs the session remembers while waiting for their
/// PONGs (to measure round-trip times). When one more is sent, the oldest is
/// forgotten, so a peer that never answers cannot grow the session's state.
pub const MAX_OUTSTANDING_PINGS: usize = 4;

/// The mechanism's view of a session (`$s`): its control output, our
/// properties, ZAP, identity and randomness. A macro, not a method, so the
/// borrows stay per field while the handshake is borrowed too.
macro_rules! mechanism_ctx {
    ($s:ident) => {
        Ctx {
            out: $s.out.control(),
            props: &$s.props,
            zap: $s.config.zap,
            identity: &$s.config.identity,
            random: &mut *$s.random,
        }
    };
}

/// ERROR reason we send when the peer's socket type cannot talk to ours.
const INCOMPATIBLE_REASON: &str = "Invalid socket type";

/// What the peer announced during the handshake.
#[derive(Clone, Debug)]
pub struct PeerInfo {
    /// The peer's `Socket-Type`.
    pub socket_type: SocketType,
    /// Every READY property, including `Socket-Type` and `Identity`.
    pub metadata: Metadata,
    /// The peer's ZMTP version from its greeting, `(major, minor)`.
    pub version: (u8, u8),
    /// The user id the ZAP handler gave the peer (possibly empty); `None`
    /// when no ZAP handler admitted it.
    pub user_id: Option<Bytes>,
    /// Properties the ZAP handler attached to the peer; empty without ZAP.
    pub zap_metadata: Metadata,
}

impl PeerInfo {
    /// The peer's `Identity` property; empty if it sent none.
    pub fn identity(&self) -> Bytes {
        self.metadata.get("Identity").cloned().unwrap_or_default()
    }
}

/// Something the peer did, yielded by [`Session::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Handshake complete; see [`Session::peer`].
    Ready,
    /// A whole multipart message.
    Message(Multipart),
    /// The peer subscribed to a topic prefix (a SUBSCRIBE command, or a
    /// message starting with byte 1 sent to a PUB/XPUB socket).
    Subscribe(Bytes),
    /// The peer cancelled a subscription (CANCEL, or a message starting
    /// with byte 0 sent to a PUB/XPUB socket).
    Cancel(Bytes),
    /// The peer sent a PING; the PONG is already queued.
    Ping {
        /// The peer's TTL: it may drop us if it hears nothing this long.
        ttl: Duration,
        /// The PING's context, echoed in our PONG.
        context: Bytes,
    },
    /// The peer answered a PING.
    ///
    /// Our PINGs carry an 8-byte context (a big-endian sequence number) that
    /// the peer echoes. When `context` matches one of the last
    /// [`MAX_OUTSTANDING_PINGS`] PINGs we sent, `rtt` is the time from the
    /// `now` of the [`handle_timeout`](Session::handle_timeout) call that
    /// queued it to the `now` of the read that decoded this PONG. Otherwise
    /// (an unknown, stale or repeated context) `rtt` is `None`.
    Pong {
        /// The context of the PING being answered.
        context: Bytes,
        /// The measured heartbeat round-trip time, if the PING is known.
        rtt: Option<Duration>,
    },
    /// Nothing arrived within the heartbeat timeout: the peer is dead, but
    /// the session goes on for [`Config::dead_linger`]. Only with that set.
    Dead,
    /// Something arrived from a peer reported [`Dead`](Event::Dead). It
    /// comes before the events decoded from the same bytes.
    Revived,
    /// The handshake waits for the ZAP handler's verdict on the peer: ask
    /// it, then call [`Session::zap_reply`]. Only with [`Config::zap`].
    ZapRequest(ZapRequest),
}

/// A received item as the event [`Session::poll_event`] yields for it.
impl From<Item> for Event {
    fn from(item: Item) -> Event {
        match item {
            Item::Message(m) => Event::Message(m),
            Item::Subscribe(t) => Event::Subscribe(t),
            Item::Cancel(t) => Event::Cancel(t),
        }
    }
}

#[derive(Debug)]
enum Phase {
    /// Reading the peer's greeting.
    Greeting(greeting::Reader),
    /// Greeting done; the mechanism's handshake runs.
    Handshake { version: (u8, u8) },
    /// Handshake complete.
    Ready,
}

/// A subscription change queued before the handshake completed.
#[derive(Debug)]
enum Held {
    Subscribe(Bytes),
    Cancel(Bytes),
}

/// One ZMTP connection's protocol state. No I/O, no clock.
///
/// The caller owns the socket and the clock:
/// - bytes read from the socket go to [`handle_read`](Self::handle_read)
///   (or [`handle_input`](Self::handle_input)), then
///   [`poll_event`](Self::poll_event) until it returns `None`;
/// - whenever [`has_output`](Self::has_output), write what
///   [`chunks_vectored`](Self::chunks_vectored) offers and report the count
///   to [`advance`](Self::advance);
/// - call [`handle_timeout`](Self::handle_timeout) at (or after)
///   [`poll_timeout`](Self::poll_timeout), and write again since it may
///   queue a PING.
///
/// The first `Err` is final: the session is failed and every later fallible
/// call returns the same error. Output already queued (such as an ERROR
/// command telling the peer why) can still be written.
pub struct Session {
    config: Config,
    phase: Phase,
    failed: Option<Error>,
    peer: Option<PeerInfo>,
    out: Output,
    held: Vec<Held>,
    events: VecDeque<Event>,
    /// During `handle_read_into`, the caller's queue that messages and
    /// subscription changes go to instead of `events`.
    items: Option<VecDeque<Item>>,
    /// The last `handle_read_upto` stopped at its limit: the next call
    /// continues on the same bytes, which are no new sign of life.
    resuming: bool,
    /// Frames of the message being received.
    partial: Multipart,
    /// Bytes of the message being received.
    partial_bytes: u64,
    /// Buffer behind `handle_input`.
    input: BytesMut,
    handshake_deadline: Option<Instant>,
    /// When our next PING is due.
    next_ping: Option<Instant>,
    /// Fail unless something arrives by then (set when we PING).
    ping_deadline: Option<Instant>,
    /// Fail unless something arrives by then (the peer's PING TTL).
    ttl_deadline: Option<Instant>,
    /// Declared dead, lingering: fail unless something arrives by then.
    linger_deadline: Option<Instant>,
    /// Sequence number (PING context) of our next PING.
    ping_seq: u64,
    /// Our PINGs awaiting a PONG, oldest first: sequence number and the
    /// instant it was queued. At most `MAX_OUTSTANDING_PINGS`.
    pings_sent: VecDeque<(u64, Instant)>,
    /// The mechanism's handshake, from the greeting to the peer's READY.
    handshake: Option<Handshake>,
    /// Our READY properties, encoded once.
    props: Vec<u8>,
    /// CURVE's decryption of incoming MESSAGEs, once ready.
    opener: Option<Opener>,
    /// The admitting ZAP reply, kept for `PeerInfo`.
    zap_reply: Option<ZapReply>,
    random: Box<dyn Random>,
}

/// The randomness of a session made with `Session::new`: none needed.
struct NoRandom;

impl Random for NoRandom {
    fn fill(&mut self, _: &mut [u8]) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

impl Session {
    /// Starts a NULL or PLAIN session. Our greeting (64 bytes) is queued for
    /// transmit at once; the handshake follows when the peer's greeting has
    /// been read. A CURVE session needs randomness: use
    /// [`with_random`](Self::with_random); here it fails at once with
    /// [`Error::NoRandomness`].
    pub fn new(config: Config, now: Instant) -> Self {
        let curve = config.mechanism.is_curve();
        let mut s = Self::with_random(config, now, Box::new(NoRandom));
        if curve {
            s.failed = Some(Error::NoRandomness);
        }
        s
    }

    /// Starts a session of any mechanism; `random` supplies CURVE's
    /// short-term keys, cookie keys and long nonces, and must be a
    /// cryptographic generator outside tests.
    pub fn with_random(config: Config, now: Instant, random: Box<dyn Random>) -> Self {
        let mech = &config.mechanism;
        let mut out = Output::new(
            config.batch_size,
            config.zero_copy_threshold,
            mech.is_curve(),
        );
        out.control()
            .put_slice(&greeting::ours(mech.name(), mech.is_server()));
        let handshake_deadline = config.handshake_timeout.and_then(|d| now.checked_add(d));
        let reader = greeting::Reader::new(mech.name());
        Self {
            config,
            phase: Phase::Greeting(reader),
            failed: None,
            peer: None,
            out,
            held: Vec::new(),
            events: VecDeque::new(),
            items: None,
            resuming: false,
            partial: Multipart::new(),
            partial_bytes: 0,
            input: BytesMut::new(),
            handshake_deadline,
            next_ping: None,
            ping_deadline: None,
            ttl_deadline: None,
            linger_deadline: None,
            ping_seq: 0,
            pings_sent: VecDeque::with_capacity(MAX_OUTSTANDING_PINGS),
            handshake: None,
            props: Vec::new(),
            opener: None,
            zap_reply: None,
            random,
        }
    }

    /// Answers an [`Event::ZapRequest`] when no ZAP handler exists after
    /// all, as libzmq 4.3 does: PLAIN fails with [`Error::NoZapHandler`];
    /// CURVE and NULL admit the peer. Ignored when no request is pending.
    ///
    /// # Errors
    /// As [`zap_reply`](Self::zap_reply).
    pub fn zap_unavailable(&mut self, now: Instant) -> Result<(), Error> {
        self.answer_zap(None, now)
    }

    /// Answers an [`Event::ZapRequest`]. A `200` continues the handshake;
    /// any other status queues an ERROR carrying the status code (as libzmq
    /// does) and fails the session with [`Error::AuthFailed`]. Ignored when
    /// no request is pending. Write afterwards: it may queue a command.
    ///
    /// # Errors
    /// [`Error::AuthFailed`] for a refusal, an error from the handshake's
    /// completion (such as an incompatible socket type), or the error the
    /// session already failed with.
    pub fn zap_reply(&mut self, reply: ZapReply, now: Instant) -> Result<(), Error> {
        self.answer_zap(Some(reply), now)
    }

    fn answer_zap(&mut self, reply: Option<ZapReply>, now: Instant) -> Result<(), Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let Phase::Handshake { version } = self.phase else {
            return Ok(());
        };
        let Some(hs) = self.handshake.as_mut().filter(|h| h.awaits_zap()) else {
            return Ok(());
        };
        let mut cx = mechanism_ctx!(self);
        let result = match reply {
            None => hs
                .on_zap_unavailable(&mut cx)
                .and_then(|step| self.after_step(step, version, now)),
            Some(reply) if reply.admits() => {
                self.zap_reply = Some(reply);
                hs.on_zap_admitted(&mut cx)
                    .and_then(|step| self.after_step(step, version, now))
            }
            Some(reply) => {
                command::put_error(self.out.control(), &reply.status_code);
                Err(Error::AuthFailed {
                    status: reply.status_code,
                    text: reply.status_text,
                })
            }
        };
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    /// Zero-copy input: consumes the greeting bytes and every complete frame
    /// at the front of `buf`, leaving a partial frame's bytes in place for the
    /// next call (append to `buf` and call again). Payloads become `Bytes`
    /// slices of `buf`'s storage, so the caller should give `buf` fresh
    /// capacity (`reserve`) rather than expect it to be reused.
    ///
    /// Never reserves memory for a size the peer claims: a frame only grows
    /// `buf` as its bytes arrive, and frames over `max_msg_size` fail as
    /// soon as their header is seen.
    ///
    /// Call after every read. Then drain [`poll_event`](Self::poll_event),
    /// and write if [`has_output`](Self::has_output) (a PONG or READY may be
    /// queued).
    ///
    /// # Errors
    /// Any protocol violation by the peer, or an ERROR from it; see [`Error`].
    /// Events decoded before the error stay available from `poll_event`.
    pub fn handle_read(&mut self, buf: &mut impl ReadBuf, now: Instant) -> Result<(), Error> {
        self.handle_read_upto(buf, now, usize::MAX).map(|_| ())
    }

    /// As [`handle_read_upto`](Self::handle_read_upto), but messages and
    /// subscription changes go straight to `items` (as [`Item`]s, in
    /// order) instead of [`poll_event`](Self::poll_event), which keeps the
    /// other events; decoding stops once `items` holds `max`. Drain
    /// `poll_event` before handing `items` on: `Ready` comes first there.
    ///
    /// # Errors
    /// As `handle_read`.
    pub fn handle_read_into(
        &mut self,
        buf: &mut impl ReadBuf,
        now: Instant,
        max: usize,
        items: &mut VecDeque<Item>,
    ) -> Result<bool, Error> {
        self.items = Some(std::mem::take(items));
        let r = self.handle_read_upto(buf, now, max);
        *items = self.items.take().unwrap_or_default();
        r
    }

    /// Hands a received item to the caller's queue, or as an event.
    fn emit(&mut self, item: Item) {
        match &mut self.items {
            Some(items) => items.push_back(item),
            None => self.events.push_back(item.into()),
        }
    }

    /// Events and items waiting, against `handle_read_upto`'s limit.
    fn waiting(&self) -> usize {
        self.items.as_ref().map_or(self.events.len(), VecDeque::len)
    }

    /// As [`handle_read`](Self::handle_read), but stops decoding once `max`
    /// events wait in [`poll_event`](Self::poll_event), leaving the rest of
    /// `buf` in place. Returns true if it stopped for that reason: drain
    /// the events and call again (with no new bytes) for the rest. A reader
    /// that hands each batch on before decoding the next keeps the batch
    /// in cache, rather than decoding a whole large read ahead.
    ///
    /// # Errors
    /// As `handle_read`.
    pub fn handle_read_upto(
        &mut self,
        buf: &mut impl ReadBuf,
        now: Instant,
        max: usize,
    ) -> Result<bool, Error> {
        self.sticky(|s| s.decode(buf, now, max))
    }

    /// Runs `f` unless the session already failed (then that error again),
    /// and keeps the error `f` fails with: a bad peer stays failed.
    fn sticky<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Error>) -> Result<T, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        f(self).inspect_err(|e| self.failed = Some(e.clone()))
    }

    /// For a reader that keeps a frame's bytes until the whole frame has
    /// arrived, rather than handing each read to `handle_read*` (which
    /// would leave the partial frame for it to copy into the next read's
    /// buffer, again and again for a frame many reads long).
    ///
    /// `buf` holds undecoded bytes starting at a frame boundary. Returns
    /// the first frame's whole length (header and body) if its header is
    /// there and the frame is not: read on, and decode once it is whole.
    /// Otherwise (greeting, partial header, whole frame) returns None:
    /// decode now. The header is checked as decoding would check it, so a
    /// frame over `max_msg_size` fails as soon as its header is seen; and
    /// the bytes count as a sign of life, as decoded ones do.
    ///
    /// # Errors
    /// As `handle_read`, for a bad or too large header.
    pub fn frame_incomplete(&mut self, buf: &[u8]) -> Result<Option<u64>, Error> {
        self.sticky(|s| {
            if matches!(s.phase, Phase::Greeting(_)) {
                return Ok(None);
            }
            match s.next_header(buf)? {
                Some((_, total)) if (buf.len() as u64) < total => {
                    s.heard_from();
                    Ok(Some(total))
                }
                _ => Ok(None),
            }
        })
    }

    /// Convenience: copies `bytes` into an internal buffer, then decodes as
    /// [`handle_read`](Self::handle_read) does.
    ///
    /// # Errors
    /// As `handle_read`.
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) -> Result<(), Error> {
        let mut input = std::mem::take(&mut self.input);
        input.extend_from_slice(bytes);
        let result = self.handle_read(&mut input, now);
        self.input = input;
        result
    }

    /// The next event, if any. Drain after each `handle_read`.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// True once the handshake is complete (both READYs exchanged and the
    /// socket types checked).
    pub fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Ready) && self.failed.is_none()
    }

    /// What the peer announced; `Some` once the handshake is complete.
    pub fn peer(&self) -> Option<&PeerInfo> {
        self.peer.as_ref()
    }

    /// The error that failed this session, if any.
    pub fn error(&self) -> Option<&Error> {
        self.failed.as_ref()
    }

    /// Queues a message. Messages queued before the handshake completes are
    /// held until it does. A message with no frames is dropped (ZMTP cannot
    /// carry one). Encoding is lazy: the frames are packed or referenced
    /// when `chunks_vectored` asks for output.
    pub fn send(&mut self, msg: Multipart) {
        if !msg.is_empty() {
            self.out.push(msg);
        }
    }

    /// Queues items already encoded by [`encoded::encode_item`], as the
    /// chunks that hold their bytes, after everything queued so far. They
    /// are written as they are, so this is for a session that is ready,
    /// whose output is not sealed ([`encodes_ahead`](Self::encodes_ahead)).
    /// Any other session decodes them and queues the messages (slower, the
    /// same result). What is not written can still be taken back
    /// ([`take_unsent`](Self::take_unsent)).
    ///
    /// [`encoded::encode_item`]: crate::encoded::encode_item
    pub fn send_encoded(&mut self, chunks: impl IntoIterator<Item = Bytes>) {
        self.out.push_encoded(chunks);
    }

    /// Whether items for this session may be encoded ahead, on the
    /// sender's thread, with [`encoded::encode_item`] and handed over with
    /// [`send_encoded`](Self::send_encoded): the handshake is complete, the
    /// mechanism does not seal frames (NULL, PLAIN) and the peer speaks
    /// ZMTP 3.1 (so subscriptions are commands).
    ///
    /// [`encoded::encode_item`]: crate::encoded::encode_item
    pub fn encodes_ahead(&self) -> bool {
        self.is_ready()
            && !self.out.is_sealed()
            && self.peer.as_ref().is_some_and(|p| p.version >= (3, 1))
    }

    /// Payloads at least this long are written by reference, not copied
    /// (the config's `zero_copy_threshold`); for items encoded ahead too.
    pub fn zero_copy_threshold(&self) -> usize {
        self.config.zero_copy_threshold
    }

    /// Queues a SUBSCRIBE for `topic` (held until the handshake completes;
    /// sent as a message starting with byte 1 to a ZMTP 3.0 peer).
    pub fn send_subscribe(&mut self, topic: Bytes) {
        self.send_subscription(Held::Subscribe(topic));
    }

    /// Queues a CANCEL for `topic` (held until the handshake completes;
    /// sent as a message starting with byte 0 to a ZMTP 3.0 peer).
    pub fn send_cancel(&mut self, topic: Bytes) {
        self.send_subscription(Held::Cancel(topic));
    }

    fn send_subscription(&mut self, change: Held) {
        if matches!(self.phase, Phase::Ready) {
            self.put_subscription(change);
        } else {
            self.held.push(change);
        }
    }

    fn put_subscription(&mut self, change: Held) {
        let legacy = self.peer.as_ref().is_some_and(|p| p.version == (3, 0));
        self.out.put_control(|dst| match (change, legacy) {
            (Held::Subscribe(t), false) => command::put_subscribe(dst, &t),
            (Held::Cancel(t), false) => command::put_cancel(dst, &t),
            (change, true) => {
                let (flag, t) = match change {
                    Held::Subscribe(t) => (1, t),
                    Held::Cancel(t) => (0, t),
                };
                frame::put_header(dst, 0, 1 + t.len());
                dst.put_u8(flag);
                dst.put_slice(&t);
            }
        });
    }

    /// Queues an ERROR command with `reason` (at most 255 bytes are sent)
    /// and ends the session: later calls return [`Error::Closed`] (unless it
    /// had already failed). Write the remaining output, then close.
    pub fn send_error(&mut self, reason: &str) {
        self.out.put_control(|dst| command::put_error(dst, reason));
        self.failed.get_or_insert(Error::Closed);
    }

    /// True when [`chunks_vectored`](Self::chunks_vectored) would offer bytes.
    pub fn has_output(&self) -> bool {
        self.out.has_output(self.can_encode())
    }

    /// Bytes queued and not yet advanced, including messages held for the
    /// handshake and not yet encoded. Cheap (kept as a counter).
    pub fn pending_output(&self) -> usize {
        self.out.pending_output()
    }

    fn can_encode(&self) -> bool {
        self.is_ready()
    }

    /// Fills `dst` with the next bytes to write, in order: small frames and
    /// headers packed into batches of about `batch_size` bytes, payloads of
    /// at least `zero_copy_threshold` bytes as their own `Bytes` (no copy).
    /// Returns how many slices were filled (0 if nothing to write). Pass the
    /// slices to a vectored write, then call [`advance`](Self::advance) with
    /// the count written, before calling this again.
    pub fn chunks_vectored<'a>(&'a mut self, dst: &mut [IoSlice<'a>]) -> usize {
        let encode = self.can_encode();
        self.out.chunks(dst, encode)
    }

    /// Records that `n` bytes from `chunks_vectored` were written.
    pub fn advance(&mut self, n: usize) {
        self.out.advance(n);
    }

    /// Earliest instant at which [`handle_timeout`](Self::handle_timeout)
    /// must be called; `None` if no timer is running or the session failed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.failed.is_some() {
            return None;
        }
        let handshake = if self.is_ready() {
            None
        } else {
            self.handshake_deadline
        };
        [
            handshake,
            self.next_ping,
            self.ping_deadline,
            self.ttl_deadline,
            self.linger_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the timers due at `now`: fails on a handshake timeout or
    /// heartbeat timeout, and queues a PING when one is due (so check
    /// [`has_output`](Self::has_output) afterwards). Calling early is harmless.
    ///
    /// # Errors
    /// [`Error::HandshakeTimeout`], [`Error::HeartbeatTimeout`], or the error
    /// the session already failed with.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        let error = if !self.is_ready() && due(self.handshake_deadline) {
            Some(Error::HandshakeTimeout)
        } else if due(self.linger_deadline) {
            Some(Error::HeartbeatTimeout)
        } else if due(self.ping_deadline) || due(self.ttl_deadline) {
            match self.config.dead_linger {
                // Dead, but the connection stays for the grace period: a
                // peer that only paused reads what its kernel holds.
                Some(linger) if self.linger_deadline.is_none() => {
                    self.linger_deadline = Some(now.checked_add(linger).unwrap_or(now));
                    self.ping_deadline = None;
                    self.ttl_deadline = None;
                    self.events.push_back(Event::Dead);
                    None
                }
                Some(_) => None,
                None => Some(Error::HeartbeatTimeout),
            }
        } else {
            None
        };
        if let Some(e) = error {
            self.failed = Some(e.clone());
            return Err(e);
        }
        if let Some(ivl) = self.config.heartbeat_ivl.filter(|_| due(self.next_ping)) {
            let ttl = self.config.heartbeat_ttl.unwrap_or(Duration::ZERO);
            let seq = self.ping_seq;
            self.ping_seq = seq.wrapping_add(1);
            self.out
                .put_control(|dst| command::put_ping(dst, ttl, &seq.to_be_bytes()));
            if self.pings_sent.len() == MAX_OUTSTANDING_PINGS {
                self.pings_sent.pop_front();
            }
            self.pings_sent.push_back((seq, now));
            self.next_ping = now.checked_add(ivl);
            // A dead peer's silence is already judged; the linger decides.
            if self.ping_deadline.is_none() && self.linger_deadline.is_none() {
                let timeout = self.config.heartbeat_timeout.unwrap_or(ivl);
                self.ping_deadline = now.checked_add(timeout);
            }
        }
        Ok(())
    }

    /// How many of our PINGs await a PONG that would measure their round
    /// trip; never more than [`MAX_OUTSTANDING_PINGS`].
    pub fn outstanding_pings(&self) -> usize {
        self.pings_sent.len()
    }

    /// Removes and returns every queued message none of whose bytes were
    /// passed to `advance`, in order; a message partly written stays (its
    /// bytes are already on the wire). Call when the connection is gone, to
    /// reroute them. Cost: linear in the messages returned.
    pub fn take_unsent(&mut self) -> Vec<Multipart> {
        self.out.take_unsent()
    }

    /// For a connection that is over: removes and returns every queued
    /// message not written completely (a message cut short included: the
    /// peer drops a truncated one), in order. Cost: linear in the messages
    /// returned.
    pub fn take_undelivered(&mut self) -> Vec<Multipart> {
        self.out.take_undelivered()
    }

    /// Bytes arrived: any at all are a sign of life.
    fn heard_from(&mut self) {
        self.ping_deadline = None;
        self.ttl_deadline = None;
        if self.linger_deadline.take().is_some() {
            self.events.push_back(Event::Revived);
        }
    }

    /// The decode loop behind `handle_read`.
    fn decode(&mut self, buf: &mut impl ReadBuf, now: Instant, max: usize) -> Result<bool, Error> {
        if buf.has_remaining() && !std::mem::take(&mut self.resuming) {
            self.heard_from();
        }
        if let Phase::Greeting(reader) = &mut self.phase {
            let Some(peer) = reader.feed(buf)? else {
                return Ok(false);
            };
            self.start_handshake(peer, now)?;
        }
        loop {
            if self.waiting() >= max {
                self.resuming = buf.has_remaining();
                return Ok(self.resuming);
            }
            let Some((header, total)) = self.next_header(buf.as_ref())? else {
                return Ok(false);
            };
            if (buf.remaining() as u64) < total {
                return Ok(false);
            }
            buf.advance(header.header_len);
            let size = header.size as usize;
            self.ttl_deadline = None;
            if let Some(opener) = &mut self.opener {
                // CURVE: every frame is a MESSAGE (libzmq sends it as a
                // data frame); the flags inside say what it carries.
                let (flags, plain) = opener.open(&buf.split_frame(size))?;
                if flags & 0x02 != 0 {
                    self.on_command(plain, now)?;
                } else {
                    self.on_frame(plain, flags & 0x01 != 0)?;
                }
                continue;
            }
            let body = buf.split_frame(size);
            if header.command() {
                self.on_command(body, now)?;
            } else {
                self.on_frame(body, header.more())?;
            }
        }
    }

    /// The header at the front of `buf`, once whole, checked against the
    /// size bounds, with its frame's whole length (header and body; both
    /// fit in usize, as `frame::parse` bounds the size by isize::MAX).
    fn next_header(&self, buf: &[u8]) -> Result<Option<(frame::Header, u64)>, Error> {
        let Some(header) = frame::parse(buf)? else {
            return Ok(None);
        };
        self.check_size(&header)?;
        let total = header.header_len as u64 + header.size;
        Ok(Some((header, total)))
    }

    /// Enforces the command size bound, and `max_msg_size` on a message
    /// frame and on the message so far.
    fn check_size(&self, header: &frame::Header) -> Result<(), Error> {
        let mut size = header.size;
        if self.opener.is_some() {
            // A MESSAGE: its payload counts as a message frame.
            size = size.saturating_sub(mechanism::MESSAGE_OVERHEAD as u64);
        } else if header.command() {
            if header.size > MAX_COMMAND_SIZE {
                return Err(Error::CommandTooLarge {
                    limit: MAX_COMMAND_SIZE,
                    size: header.size,
                });
            }
            return Ok(());
        }
        let Some(limit) = self.config.max_msg_size else {
            return Ok(());
        };
        let size = self.partial_bytes.saturating_add(size);
        if size > limit {
            return Err(Error::MessageTooLarge { limit, size });
        }
        if self.partial.len() >= MAX_FRAMES_WITH_LIMIT {
            return Err(Error::TooManyFrames {
                limit: MAX_FRAMES_WITH_LIMIT,
            });
        }
        Ok(())
    }

    /// After the peer's greeting: encodes our properties and
    /// starts the mechanism's handshake.
    fn start_handshake(&mut self, peer: greeting::Peer, now: Instant) -> Result<(), Error> {
        // The peer's as-server bit is not checked: libzmq always sends 0.
        let c = &self.config;
        let ty = c.socket_type;
        let identity = (!c.identity.is_empty() || ty.sends_identity())
            .then_some(("Identity", &c.identity[..]));
        let props = std::iter::once(("Socket-Type", ty.name().as_bytes()))
            .chain(identity)
            .chain(c.properties.iter().map(|(n, v)| (n.as_str(), &v[..])))
            .filter(|(n, v)| command::property_fits(n, v));
        self.props = command::encode_properties(props);
        self.phase = Phase::Handshake {
            version: peer.version,
        };
        let mut cx = mechanism_ctx!(self);
        let (hs, step) = Handshake::start(&self.config.mechanism, &mut cx)?;
        self.handshake = Some(hs);
        self.after_step(step, peer.version, now)
    }

    /// Acts on what a handshake step produced.
    fn after_step(&mut self, step: Step, version: (u8, u8), now: Instant) -> Result<(), Error> {
        match step {
            Step::Wait => Ok(()),
            Step::Zap(request) => {
                self.events.push_back(Event::ZapRequest(request));
                Ok(())
            }
            Step::Done(metadata, ciphers) => self.on_ready(metadata, version, ciphers, now),
        }
    }

    fn on_frame(&mut self, body: Bytes, more: bool) -> Result<(), Error> {
        if !matches!(self.phase, Phase::Ready) {
            return Err(Error::UnexpectedMessage);
        }
        if more {
            self.partial_bytes += body.len() as u64;
            self.partial.push(body);
            return Ok(());
        }
        self.partial_bytes = 0;
        let msg = self.partial.finish_with(body);
        let item = match self.subscription_message(&msg) {
            Some(item) => item,
            None => Item::Message(msg),
        };
        self.emit(item);
        Ok(())
    }

    /// PUB and XPUB read subscriptions sent as messages (ZMTP 3.0 style,
    /// which libzmq also uses): one frame, first byte 1 or 0.
    fn subscription_message(&self, msg: &Multipart) -> Option<Item> {
        if !matches!(self.config.socket_type, SocketType::Pub | SocketType::XPub) {
            return None;
        }
        let [frame] = msg.frames() else {
            return None;
        };
        match frame.first() {
            Some(1) => Some(Item::Subscribe(frame.slice(1..))),
            Some(0) => Some(Item::Cancel(frame.slice(1..))),
            _ => None,
        }
    }

    fn on_command(&mut self, body: Bytes, now: Instant) -> Result<(), Error> {
        let Phase::Handshake { version } = self.phase else {
            let cmd = command::parse(body)?;
            return match cmd {
                Command::Error(reason) => Err(Error::PeerError(reason)),
                // `decode` parses no frame before the greeting is whole.
                _ if !matches!(self.phase, Phase::Ready) => {
                    Err(Error::UnexpectedCommand(command_name(&cmd)))
                }
                cmd => self.on_ready_command(cmd, now),
            };
        };
        let (name, data) = mechanism::split_command(body.clone())?;
        if &name[..] == b"ERROR"
            && let Command::Error(reason) = command::parse(body)?
        {
            return Err(Error::PeerError(reason));
        }
        let Some(hs) = self.handshake.as_mut() else {
            return Err(Error::UnexpectedCommand(
                String::from_utf8_lossy(&name).into_owned(),
            ));
        };
        let mut cx = mechanism_ctx!(self);
        let step = hs.on_command(&name, data, &mut cx)?;
        self.after_step(step, version, now)
    }

    /// A command once the handshake is complete.
    fn on_ready_command(&mut self, cmd: Command, now: Instant) -> Result<(), Error> {
        match cmd {
            Command::Ping { ttl, context } => {
                self.out.put_control(|dst| command::put_pong(dst, &context));
                if !ttl.is_zero() {
                    self.ttl_deadline = now.checked_add(ttl);
                }
                self.events.push_back(Event::Ping { ttl, context });
            }
            Command::Pong { context } => {
                let rtt = self.ping_answered(&context, now);
                self.events.push_back(Event::Pong { context, rtt });
            }
            Command::Subscribe(t) => self.emit(Item::Subscribe(t)),
            Command::Cancel(t) => self.emit(Item::Cancel(t)),
            Command::Ready(_) => return Err(Error::UnexpectedCommand("READY".into())),
            // RFC 37 leaves room for new commands; ignore them.
            Command::Other(_) | Command::Error(_) => {}
        }
        Ok(())
    }

    /// The round-trip time of our PING whose context is `context`, if it is
    /// outstanding. It and every older PING are forgotten: the peer answers
    /// in order, so those will never be answered.
    fn ping_answered(&mut self, context: &[u8], now: Instant) -> Option<Duration> {
        let seq = u64::from_be_bytes(context.try_into().ok()?);
        let i = self.pings_sent.iter().position(|&(s, _)| s == seq)?;
        let (_, sent) = self.pings_sent.drain(..=i).next_back()?;
        Some(now.saturating_duration_since(sent))
    }

    fn on_ready(
        &mut self,
        metadata: Metadata,
        version: (u8, u8),
        ciphers: Option<(Sealer, Opener)>,
        now: Instant,
    ) -> Result<(), Error> {
        let name = metadata
            .get("Socket-Type")
            .ok_or(Error::MissingSocketType)?;
        let theirs =
            SocketType::from_name(name).ok_or_else(|| Error::UnknownSocketType(name.to_vec()))?;
        let ours = self.config.socket_type;
        if !ours.is_compatible(theirs) {
            command::put_error(self.out.control(), INCOMPATIBLE_REASON);
            return Err(Error::IncompatibleSocketType { ours, theirs });
        }
        let zap = self.zap_reply.take();
        let (user_id, zap_metadata) = zap
            .map(|r| (Some(r.user_id), r.metadata))
            .unwrap_or_default();
        self.peer = Some(PeerInfo {
            socket_type: theirs,
            metadata,
            version,
            user_id,
            zap_metadata,
        });
        self.phase = Phase::Ready;
        self.handshake = None;
        if let Some((sealer, opener)) = ciphers {
            self.out.set_sealer(sealer);
            self.opener = Some(opener);
        }
        for change in std::mem::take(&mut self.held) {
            self.put_subscription(change);
        }
        self.next_ping = self.config.heartbeat_ivl.and_then(|d| now.checked_add(d));
        self.events.push_back(Event::Ready);
        Ok(())
    }
}

fn command_name(cmd: &Command) -> String {
    match cmd {
        Command::Ready(_) => "READY".into(),
        Command::Error(_) => "ERROR".into(),
        Command::Ping { .. } => "PING".into(),
        Command::Pong { .. } => "PONG".into(),
        Command::Subscribe(_) => "SUBSCRIBE".into(),
        Command::Cancel(_) => "CANCEL".into(),
        Command::Other(name) => name.clone(),
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("socket_type", &self.config.socket_type)
            .field("phase", &self.phase)
            .field("failed", &self.failed)
            .field("peer", &self.peer)
            .field("pending_output", &self.pending_output())
            .finish_non_exhaustive()
    }
}
