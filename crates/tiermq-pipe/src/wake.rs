//! The wake-up callback a pipe end registers.

/// Something to call when the other end of a pipe needs attention.
///
/// A waker is called outside the pipe's lock, on the thread of the end that
/// caused the transition, so it must be quick and must not block. A typical
/// implementation sets a flag and wakes an event loop (for example a
/// `mio::Waker`). Any `Fn() + Send + Sync` closure is a `Wake`.
pub trait Wake: Send + Sync {
    /// Signals the transition. Spurious calls must be harmless.
    fn wake(&self);

    /// The writer is blocked on a full pipe: do the reader's work now, on
    /// the writer's thread, if that can be done without waiting (a
    /// transport writes the queued bytes out), so the writer need not
    /// sleep until the reader's thread gets to it. Returns whether it did;
    /// the default does nothing. Called outside the pipe's lock, by
    /// [`Writer::drive_reader`](crate::Writer::drive_reader).
    fn drive(&self) -> bool {
        false
    }
}

impl<F: Fn() + Send + Sync> Wake for F {
    fn wake(&self) {
        self()
    }
}
