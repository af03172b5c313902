//! `wake_at`: wakes a task at an instant, for futures whose socket has a
//! timer due (a failback delay, a REQ resend interval) while nothing else
//! would wake them. Blocked threads sleep until such an instant; a task
//! cannot, and tiermq brings no runtime of its own, so one thread per
//! process, started on first use, keeps the instants.

use std::sync::{Condvar, Mutex, OnceLock};
use std::task::Waker;
use std::time::Instant;

use crate::sync::lock;

#[derive(Default)]
struct Timer {
    due: Mutex<Vec<(Instant, Waker)>>,
    cv: Condvar,
}

static TIMER: OnceLock<Option<&'static Timer>> = OnceLock::new();

/// Wakes `waker` at `at` (at once if it has passed). If the thread cannot
/// be started the task is woken now: it polls again, sooner than needed.
pub(crate) fn wake_at(at: Instant, waker: &Waker) {
    let timer = TIMER.get_or_init(|| {
        let timer: &'static Timer = Box::leak(Box::default());
        std::thread::Builder::new()
            .name("tiermq-timer".to_owned())
            .spawn(move || timer.run())
            .ok()
            .map(|_| timer)
    });
    let Some(timer) = timer else {
        waker.wake_by_ref();
        return;
    };
    let mut due = lock(&timer.due);
    // A task polled again before its instant asks for the same wake.
    if due.iter().any(|(t, w)| *t == at && w.will_wake(waker)) {
        return;
    }
    due.push((at, waker.clone()));
    drop(due);
    timer.cv.notify_one();
}

impl Timer {
    fn run(&self) {
        let mut due = lock(&self.due);
        loop {
            let now = Instant::now();
            let mut fired = Vec::new();
            due.retain(|(t, w)| {
                let keep = *t > now;
                if !keep {
                    fired.push(w.clone());
                }
                keep
            });
            if !fired.is_empty() {
                drop(due);
                fired.into_iter().for_each(Waker::wake);
                due = lock(&self.due);
                continue;
            }
            due = match due.iter().map(|(t, _)| *t).min() {
                None => self
                    .cv
                    .wait(due)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(next) => {
                    self.cv
                        .wait_timeout(due, next.saturating_duration_since(now))
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}
