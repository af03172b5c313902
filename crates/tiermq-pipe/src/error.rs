//! Outcomes of sending and receiving.

use std::fmt;

/// The pipe's state right after a successful send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Room {
    /// The pipe can take more messages.
    Available,
    /// This send filled the pipe to its high-water mark. Further sends fail
    /// with [`SendError::Full`] until the reader drains it to the low-water
    /// mark; the writer's waker then fires.
    Full,
}

/// Why a send failed. The message is handed back in either case.
#[derive(Clone, PartialEq, Eq)]
pub enum SendError<T> {
    /// The pipe is full: it reached its high-water mark and has not yet
    /// drained to its low-water mark.
    Full(T),
    /// One end closed the pipe. Messages still queued can be taken back
    /// with `reclaim_unsent`.
    Closed(T),
}

impl<T> SendError<T> {
    /// The message that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            SendError::Full(msg) | SendError::Closed(msg) => msg,
        }
    }

    /// Whether the pipe was full (as opposed to closed).
    pub fn is_full(&self) -> bool {
        matches!(self, SendError::Full(_))
    }

    /// The same refusal, carrying `f` of the message instead.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> SendError<U> {
        match self {
            SendError::Full(msg) => SendError::Full(f(msg)),
            SendError::Closed(msg) => SendError::Closed(f(msg)),
        }
    }
}

impl<T> fmt::Debug for SendError<T> {
    // No `T: Debug` bound: payloads are often large and not worth printing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full(_) => f.write_str("Full(..)"),
            SendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full(_) => f.write_str("pipe is full (high-water mark reached)"),
            SendError::Closed(_) => f.write_str("pipe is closed"),
        }
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why a receive returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecvError {
    /// Nothing is queued now (or the deadline passed); the writer is open.
    Empty,
    /// Nothing will ever arrive: the writer closed and everything it sent
    /// has been taken, or the reader itself closed.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Empty => f.write_str("pipe is empty"),
            RecvError::Closed => f.write_str("pipe is closed"),
        }
    }
}

impl std::error::Error for RecvError {}
