//! `Config`: what a `Session` announces and enforces.

use crate::{Mechanism, SocketType};
use bytes::Bytes;
use std::time::Duration;

/// Settings for one [`Session`](crate::Session), fixed for its life.
#[derive(Clone, Debug)]
pub struct Config {
    /// Our socket type, sent as `Socket-Type` and checked against the peer's.
    pub socket_type: SocketType,
    /// Sent as `Identity` when non-empty; REQ, DEALER and ROUTER send it even
    /// when empty, as libzmq does.
    pub identity: Bytes,
    /// Extra READY properties (by convention named `X-...`).
    pub properties: Vec<(String, Bytes)>,
    /// Largest accepted message frame, and largest accepted message (sum of
    /// its frames); when set, a message may also have at most
    /// [`MAX_FRAMES_WITH_LIMIT`](crate::MAX_FRAMES_WITH_LIMIT) frames.
    /// Commands are bounded separately by
    /// [`MAX_COMMAND_SIZE`](crate::MAX_COMMAND_SIZE). `None`: no limit.
    pub max_msg_size: Option<u64>,
    /// Time allowed from `Session::new` to a completed handshake. `None`: none.
    pub handshake_timeout: Option<Duration>,
    /// Interval between our PINGs once ready. `None`: no PINGs.
    pub heartbeat_ivl: Option<Duration>,
    /// How long after a PING we wait for any traffic. `None`: `heartbeat_ivl`.
    pub heartbeat_timeout: Option<Duration>,
    /// TTL advertised in our PINGs (whole deciseconds, capped at 6553.5 s).
    /// `None`: 0, meaning the peer should not time us out.
    pub heartbeat_ttl: Option<Duration>,
    /// How long a peer declared dead by the heartbeat keeps its connection.
    /// `None`: the heartbeat timeout fails the session at once. `Some(d)`:
    /// the session reports [`Event::Dead`](crate::Event::Dead), keeps
    /// reading and PINGing, reports [`Event::Revived`](crate::Event::Revived)
    /// as soon as anything arrives, and fails with
    /// [`Error::HeartbeatTimeout`](crate::Error::HeartbeatTimeout) only if
    /// nothing did within `d`.
    pub dead_linger: Option<Duration>,
    /// Target size of one packed output buffer of small frames, in bytes
    /// (at least 9 is used).
    pub batch_size: usize,
    /// Payloads at least this long are handed to the writer by reference
    /// instead of being copied into the batch buffer (at least 1 is used).
    /// Under CURVE every payload is encrypted into the batch buffer instead.
    pub zero_copy_threshold: usize,
    /// The security mechanism and our role in it. CURVE needs a session
    /// made with [`Session::with_random`](crate::Session::with_random).
    pub mechanism: Mechanism,
    /// Whether a ZAP handler exists. If so, a PLAIN or CURVE server (and a
    /// NULL session) yields [`Event::ZapRequest`](crate::Event::ZapRequest)
    /// and waits for [`Session::zap_reply`](crate::Session::zap_reply). If
    /// not, as libzmq 4.3: a PLAIN server refuses every client
    /// ([`Error::NoZapHandler`](crate::Error::NoZapHandler)); CURVE and NULL
    /// accept every peer.
    pub zap: bool,
}

impl Config {
    /// Defaults for `socket_type`: no identity or properties, no limits, no
    /// timeouts, no heartbeats (and no dead linger), 8 KiB batches, zero-copy from 1 KiB,
    /// NULL security without ZAP.
    pub fn new(socket_type: SocketType) -> Self {
        Self {
            socket_type,
            identity: Bytes::new(),
            properties: Vec::new(),
            max_msg_size: None,
            handshake_timeout: None,
            heartbeat_ivl: None,
            heartbeat_timeout: None,
            heartbeat_ttl: None,
            dead_linger: None,
            batch_size: 8192,
            zero_copy_threshold: 1024,
            mechanism: Mechanism::Null,
            zap: false,
        }
    }
}
