//! Context switches over a role's timed part: how many times the process's
//! threads gave up the CPU (voluntary: they blocked, e.g. waited for a
//! message or a wake-up) or were preempted (involuntary), from
//! `getrusage(RUSAGE_SELF)`, which sums every thread of the process — the
//! application's and the libraries' I/O threads alike.
//!
//! A role calls [`begin`] where its timed part starts and [`end`] where it
//! stops; [`span`] is the difference. In a process running both ends (the
//! in-process roles) the first `begin` and the last `end` count, so the
//! span covers both threads' work. The span is the process's: the binary
//! runs one role per process; a caller running several roles one after
//! another in one process (the crate's tests) gets one span over all.

use std::sync::Mutex;

use nix::sys::resource::{UsageWho, getrusage};

/// Context switches of this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Switches {
    /// The threads blocked (`ru_nvcsw`).
    pub voluntary: u64,
    /// The threads were preempted (`ru_nivcsw`).
    pub involuntary: u64,
}

impl Switches {
    /// This process's totals so far, or `None` where getrusage fails.
    pub fn now() -> Option<Switches> {
        let usage = getrusage(UsageWho::RUSAGE_SELF).ok()?;
        Some(Switches {
            voluntary: u64::try_from(usage.voluntary_context_switches()).ok()?,
            involuntary: u64::try_from(usage.involuntary_context_switches()).ok()?,
        })
    }

    fn since(self, earlier: Switches) -> Switches {
        Switches {
            voluntary: self.voluntary.saturating_sub(earlier.voluntary),
            involuntary: self.involuntary.saturating_sub(earlier.involuntary),
        }
    }
}

/// (first begin, last end) of this process's timed part.
static SPAN: Mutex<(Option<Switches>, Option<Switches>)> = Mutex::new((None, None));

/// Marks the start of the timed part (only the first call counts).
pub fn begin() {
    let now = Switches::now();
    let mut span = SPAN.lock().unwrap_or_else(|e| e.into_inner());
    if span.0.is_none() {
        span.0 = now;
    }
}

/// Marks the end of the timed part (the last call counts).
pub fn end() {
    let now = Switches::now();
    let mut span = SPAN.lock().unwrap_or_else(|e| e.into_inner());
    span.1 = now;
}

/// The switches between [`begin`] and [`end`], if both were called.
pub fn span() -> Option<Switches> {
    let span = SPAN.lock().unwrap_or_else(|e| e.into_inner());
    match *span {
        (Some(start), Some(stop)) => Some(stop.since(start)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_counts_as_voluntary() {
        let before = Switches::now().expect("getrusage works on this OS");
        // A sleep blocks the thread: at least one voluntary switch.
        std::thread::sleep(std::time::Duration::from_millis(5));
        let after = Switches::now().unwrap();
        assert!(after.since(before).voluntary >= 1, "{before:?} {after:?}");
    }
}
