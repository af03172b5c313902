//! How many bytes a message counts for in the pipe's counters.

use bytes::Bytes;

/// Bytes a message accounts for in [`Stats`](crate::Stats).
///
/// The weight is only counted, never used to limit the pipe: capacity is in
/// messages. Types this crate cannot implement the trait for (the orphan
/// rule) use [`pipe_with`](crate::pipe_with) and a function instead.
pub trait Weighted {
    /// Size in bytes of the payload. Called once on the way in and once on
    /// the way out, so it should be cheap and must not change meanwhile.
    fn weight(&self) -> usize;
}

impl Weighted for Bytes {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weighted for Vec<u8> {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weighted for String {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weighted for Box<[u8]> {
    fn weight(&self) -> usize {
        self.len()
    }
}
