//! A snapshot of a pipe's counters.

/// Counters of one pipe, as seen at one instant from either end.
///
/// `total_in == total_out + reclaimed + queued` always holds in a snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages queued: sent and not yet taken by the reader or reclaimed.
    pub queued: usize,
    /// Sum of the queued messages' weights.
    pub queued_bytes: usize,
    /// High-water mark (`0`: no limit).
    pub hwm: usize,
    /// Effective low-water mark.
    pub lwm: usize,
    /// Messages the writer may still send before the pipe is full: `None`
    /// without a limit; `Some(0)` while the pipe is full (hysteresis
    /// included) or closed.
    pub room: Option<usize>,
    /// Messages accepted by the writer since the pipe was made.
    pub total_in: u64,
    /// Messages taken by the reader.
    pub total_out: u64,
    /// Sum of the weights of the messages accepted.
    pub bytes_in: u64,
    /// Sum of the weights of the messages taken by the reader.
    pub bytes_out: u64,
    /// Messages taken back with `reclaim_unsent`.
    pub reclaimed: u64,
    /// Whether sends fail with `Full` now.
    pub full: bool,
    /// Whether either end closed the pipe.
    pub closed: bool,
}
