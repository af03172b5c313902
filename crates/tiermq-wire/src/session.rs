//! `Session`: one ZMTP connection's protocol state machine.

use crate::{Config, Error, Metadata, Multipart, SocketType};
use bytes::{Bytes, BytesMut};
use std::io::IoSlice;
use std::time::{Duration, Instant};

/// What the peer announced during the handshake.
#[derive(Clone, Debug)]
pub struct PeerInfo {
    /// The peer's `Socket-Type`.
    pub socket_type: SocketType,
    /// Every READY property, including `Socket-Type` and `Identity`.
    pub metadata: Metadata,
    /// The peer's ZMTP version from its greeting, `(major, minor)`.
    pub version: (u8, u8),
}

/// Something the peer did, yielded by [`Session::poll_event`].
#[derive(Debug)]
pub enum Event {
    /// Handshake complete; see [`Session::peer`].
    Ready,
    /// A whole multipart message.
    Message(Multipart),
    /// The peer subscribed to a topic prefix.
    Subscribe(Bytes),
    /// The peer cancelled a subscription.
    Cancel(Bytes),
    /// The peer sent a PING; the PONG is already queued.
    Ping {
        /// The peer's TTL: it may time us out if silent this long.
        ttl: Duration,
        /// The PING's context, echoed in our PONG.
        context: Bytes,
    },
    /// The peer answered one of our PINGs.
    Pong {
        /// The context of the PING being answered.
        context: Bytes,
    },
}

/// One ZMTP connection's protocol state. No I/O, no clock.
pub struct Session {
    _config: Config,
}

impl Session {
    /// Starts a session; the greeting is queued for transmit at once.
    pub fn new(config: Config, now: Instant) -> Self {
        let _ = now;
        Self { _config: config }
    }

    /// Zero-copy input: consumes every complete frame at the front of `buf`
    /// (payloads become `Bytes` slices of it), leaves a partial tail.
    pub fn handle_read(&mut self, buf: &mut BytesMut, now: Instant) -> Result<(), Error> {
        let _ = (buf, now);
        unimplemented!()
    }

    /// Convenience: copies `bytes` into an internal buffer, then as above.
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) -> Result<(), Error> {
        let _ = (bytes, now);
        unimplemented!()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        unimplemented!()
    }

    /// True once the handshake is complete.
    pub fn is_ready(&self) -> bool {
        unimplemented!()
    }

    /// What the peer announced, once ready.
    pub fn peer(&self) -> Option<&PeerInfo> {
        unimplemented!()
    }

    /// Queues a message (held until the handshake completes).
    pub fn send(&mut self, msg: Multipart) {
        let _ = msg;
        unimplemented!()
    }

    /// Queues a SUBSCRIBE command.
    pub fn send_subscribe(&mut self, topic: Bytes) {
        let _ = topic;
        unimplemented!()
    }

    /// Queues a CANCEL command.
    pub fn send_cancel(&mut self, topic: Bytes) {
        let _ = topic;
        unimplemented!()
    }

    /// Queues an ERROR command.
    pub fn send_error(&mut self, reason: &str) {
        let _ = reason;
        unimplemented!()
    }

    /// True when bytes are waiting to be written.
    pub fn has_output(&self) -> bool {
        unimplemented!()
    }

    /// Bytes queued and not yet advanced.
    pub fn pending_output(&self) -> usize {
        unimplemented!()
    }

    /// Fills `dst` with the next bytes to write. Returns how many slices were used.
    pub fn chunks_vectored<'a>(&'a mut self, dst: &mut [IoSlice<'a>]) -> usize {
        let _ = dst;
        unimplemented!()
    }

    /// Records that `n` bytes from `chunks_vectored` were written.
    pub fn advance(&mut self, n: usize) {
        let _ = n;
        unimplemented!()
    }

    /// Earliest instant at which `handle_timeout` must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        unimplemented!()
    }

    /// Handshake timeout, heartbeat PINGs, heartbeat timeout / peer TTL.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        let _ = now;
        unimplemented!()
    }

    /// Every queued message none of whose bytes were passed to `advance`, in order.
    pub fn take_unsent(&mut self) -> Vec<Multipart> {
        unimplemented!()
    }
}
