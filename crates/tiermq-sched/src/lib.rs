//! Pure priority-tier scheduler for tiermq: which pipe gets the next message
//! (send side, [`Scheduler`]) and which pipe is read next (receive side,
//! [`FairQueue`]). No I/O, no threads, no clocks: time is an argument.
//!
//! This first version implements the contract naively (linear scans); an
//! O(1) implementation replaces it.

use std::fmt;
use std::time::{Duration, Instant};

/// The most preferred priority.
pub const HIGHEST: u8 = 1;
/// The least preferred priority.
pub const LOWEST: u8 = 16;
/// The priority a pipe gets unless told otherwise.
pub const DEFAULT_PRIORITY: u8 = 8;

/// Identifies a pipe; caller-chosen, small and dense (a slab key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipeId(pub usize);

/// The state of a send pipe. Only [`PipeState::Ready`] pipes are picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipeState {
    /// Handshake not complete yet.
    Connecting,
    /// Can take a message.
    Ready,
    /// Outgoing queue reached its high-water mark.
    Busy,
    /// Heartbeat timed out.
    Dead,
    /// Connection closed.
    Disconnected,
}

/// A change of the active tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TierEvent {
    /// The active tier moved to a less preferred tier, or to none.
    Failover {
        /// Tier before.
        from: Option<u8>,
        /// Tier after.
        to: Option<u8>,
    },
    /// The active tier moved to a more preferred tier, or from none to some.
    Failback {
        /// Tier before.
        from: Option<u8>,
        /// Tier after.
        to: Option<u8>,
    },
}

/// Errors from scheduler calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedError {
    /// The priority is outside `HIGHEST..=LOWEST`.
    InvalidPriority(u8),
    /// The pipe already joined.
    DuplicatePipe(PipeId),
    /// The pipe has not joined.
    UnknownPipe(PipeId),
}

impl fmt::Display for SchedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchedError::InvalidPriority(p) => {
                write!(f, "invalid priority {p}: must be {HIGHEST}..={LOWEST}")
            }
            SchedError::DuplicatePipe(id) => write!(f, "pipe {} already joined", id.0),
            SchedError::UnknownPipe(id) => write!(f, "pipe {} is unknown", id.0),
        }
    }
}

impl std::error::Error for SchedError {}

fn check_priority(p: u8) -> Result<(), SchedError> {
    if (HIGHEST..=LOWEST).contains(&p) {
        Ok(())
    } else {
        Err(SchedError::InvalidPriority(p))
    }
}

#[derive(Clone, Debug)]
struct SendPipe {
    priority: u8,
    state: PipeState,
    picks: u64,
}

/// Send-side scheduler (naive placeholder).
#[derive(Debug, Default)]
pub struct Scheduler {
    pipes: Vec<Option<SendPipe>>,
    cursor: usize,
    current: Option<PipeId>,
    delay: Duration,
}

impl Scheduler {
    /// An empty scheduler.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the failback delay.
    pub fn set_failback_delay(&mut self, delay: Duration) {
        self.delay = delay;
    }
    /// Adds a pipe in state `Connecting`.
    pub fn join(&mut self, id: PipeId, priority: u8, _now: Instant) -> Result<(), SchedError> {
        check_priority(priority)?;
        if id.0 >= self.pipes.len() {
            self.pipes.resize(id.0 + 1, None);
        }
        if self.pipes[id.0].is_some() {
            return Err(SchedError::DuplicatePipe(id));
        }
        self.pipes[id.0] = Some(SendPipe {
            priority,
            state: PipeState::Connecting,
            picks: 0,
        });
        Ok(())
    }
    /// Removes a pipe.
    pub fn leave(&mut self, id: PipeId, _now: Instant) {
        if let Some(slot) = self.pipes.get_mut(id.0) {
            *slot = None;
        }
    }
    /// Sets a pipe's state.
    pub fn set_state(&mut self, id: PipeId, state: PipeState, _now: Instant) {
        if let Some(Some(p)) = self.pipes.get_mut(id.0) {
            p.state = state;
        }
    }
    /// Sets a pipe's priority.
    pub fn set_priority(
        &mut self,
        id: PipeId,
        priority: u8,
        _now: Instant,
    ) -> Result<(), SchedError> {
        check_priority(priority)?;
        match self.pipes.get_mut(id.0) {
            Some(Some(p)) => {
                p.priority = priority;
                Ok(())
            }
            _ => Err(SchedError::UnknownPipe(id)),
        }
    }
    /// A pipe's state.
    pub fn state(&self, id: PipeId) -> Option<PipeState> {
        self.pipes.get(id.0)?.as_ref().map(|p| p.state)
    }
    /// A pipe's priority.
    pub fn priority(&self, id: PipeId) -> Option<u8> {
        self.pipes.get(id.0)?.as_ref().map(|p| p.priority)
    }
    /// Picks a pipe for a single-part message.
    pub fn pick(&mut self, now: Instant) -> Option<PipeId> {
        let id = self.begin(now);
        self.end();
        id
    }
    /// Commits to a pipe for a multipart message.
    pub fn begin(&mut self, _now: Instant) -> Option<PipeId> {
        let tier = self.active_tier()?;
        let n = self.pipes.len();
        for i in 0..n {
            let idx = (self.cursor + i) % n;
            if let Some(p) = &mut self.pipes[idx]
                && p.priority == tier
                && p.state == PipeState::Ready
            {
                {
                    p.picks += 1;
                    self.cursor = idx + 1;
                    self.current = Some(PipeId(idx));
                    return self.current;
                }
            }
        }
        None
    }
    /// The pipe committed to by `begin`.
    pub fn current(&self) -> Option<PipeId> {
        self.current
    }
    /// Ends the multipart message.
    pub fn end(&mut self) {
        self.current = None;
    }
    /// The tier the next pick would use.
    pub fn active_tier(&self) -> Option<u8> {
        self.pipes
            .iter()
            .flatten()
            .filter(|p| p.state == PipeState::Ready)
            .map(|p| p.priority)
            .min()
    }
    /// Next tier event.
    pub fn poll_event(&mut self) -> Option<TierEvent> {
        None
    }
    /// When a delayed failback becomes due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    /// Promotes due pipes.
    pub fn handle_timeout(&mut self, _now: Instant) {}
    /// Messages picked for a pipe.
    pub fn picks(&self, id: PipeId) -> u64 {
        self.pipes
            .get(id.0)
            .and_then(|p| p.as_ref())
            .map_or(0, |p| p.picks)
    }
}

#[derive(Clone, Debug)]
struct RecvPipe {
    priority: u8,
    readable: bool,
}

/// Receive-side fair queue (naive placeholder).
#[derive(Debug, Default)]
pub struct FairQueue {
    pipes: Vec<Option<RecvPipe>>,
    cursor: usize,
}

impl FairQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a pipe, not readable.
    pub fn join(&mut self, id: PipeId, priority: u8) -> Result<(), SchedError> {
        check_priority(priority)?;
        if id.0 >= self.pipes.len() {
            self.pipes.resize(id.0 + 1, None);
        }
        if self.pipes[id.0].is_some() {
            return Err(SchedError::DuplicatePipe(id));
        }
        self.pipes[id.0] = Some(RecvPipe {
            priority,
            readable: false,
        });
        Ok(())
    }
    /// Removes a pipe.
    pub fn leave(&mut self, id: PipeId) {
        if let Some(slot) = self.pipes.get_mut(id.0) {
            *slot = None;
        }
    }
    /// Sets a pipe's priority.
    pub fn set_priority(&mut self, id: PipeId, priority: u8) -> Result<(), SchedError> {
        check_priority(priority)?;
        match self.pipes.get_mut(id.0) {
            Some(Some(p)) => {
                p.priority = priority;
                Ok(())
            }
            _ => Err(SchedError::UnknownPipe(id)),
        }
    }
    /// Marks whether a pipe has input.
    pub fn set_readable(&mut self, id: PipeId, readable: bool) {
        if let Some(Some(p)) = self.pipes.get_mut(id.0) {
            p.readable = readable;
        }
    }
    /// The pipe to read the next whole message from.
    #[allow(clippy::should_implement_trait)] // the contract's name; not an iterator
    pub fn next(&mut self) -> Option<PipeId> {
        let tier = self
            .pipes
            .iter()
            .flatten()
            .filter(|p| p.readable)
            .map(|p| p.priority)
            .min()?;
        let n = self.pipes.len();
        for i in 0..n {
            let idx = (self.cursor + i) % n;
            if let Some(p) = &self.pipes[idx]
                && p.priority == tier
                && p.readable
            {
                {
                    self.cursor = idx + 1;
                    return Some(PipeId(idx));
                }
            }
        }
        None
    }
    /// Whether any pipe has input.
    pub fn has_input(&self) -> bool {
        self.pipes.iter().flatten().any(|p| p.readable)
    }
}
