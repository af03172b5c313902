//! `Peer`: what `Socket::peers` reports about each connection.

use std::time::Instant;

/// The state of one peer's pipe, as the scheduler sees it (SPEC §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerState {
    /// Connecting; not yet able to take messages.
    Connecting,
    /// Able to take the next message.
    Ready,
    /// Its outgoing queue reached SNDHWM and has not drained to the low-water mark yet.
    Busy,
    /// Declared dead by the heartbeat.
    Dead,
    /// The connection ended; what it still held was rerouted.
    Disconnected,
}

/// A snapshot of one peer's pipe. A connect that has no connection at the
/// moment is listed too, as `Connecting`, `Disconnected` or `Dead` (how its
/// last connection ended), with empty counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The endpoint the pipe came through (a bind's resolved endpoint, or a connect's).
    pub endpoint: String,
    /// The peer's address: `ip:port` for tcp, the path for ipc, `inproc` for inproc.
    pub remote_addr: String,
    /// Send priority (1 most preferred ..= 16).
    pub sndprio: u8,
    /// Receive priority (1 most preferred ..= 16).
    pub rcvprio: u8,
    /// Ready, busy, disconnected, ...
    pub state: PeerState,
    /// Messages waiting in the outgoing queue.
    pub queued_out: usize,
    /// Bytes of those messages.
    pub queued_out_bytes: usize,
    /// The outgoing queue's high-water mark (0: none).
    pub hwm: usize,
    /// Messages the outgoing queue can still take (`None`: no limit).
    pub room: Option<usize>,
    /// Messages received but not yet read by the application.
    pub queued_in: usize,
    /// Messages the socket handed to this pipe.
    pub sent: u64,
    /// Messages the application read from this pipe.
    pub received: u64,
    /// Messages taken back from this pipe when it ended, to go elsewhere.
    pub rerouted: u64,
    /// When the state last changed.
    pub since: Instant,
}
