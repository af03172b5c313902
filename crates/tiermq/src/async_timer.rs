//! `wake_at`: wakes a task at an instant, for futures whose socket has a
//! timer due (a failback delay, a REQ resend interval) while nothing else
//! would wake them. Blocked threads sleep until such an instant; a task
//! cannot, and tiermq brings no runtime of its own, so one thread per
//! process, started on first use, keeps the instants.
//!
//! Each waiting direction of an `AsyncSocket` holds one slot here: a new
//! instant replaces its slot's old one, and the slot goes when the wait
//! ends. So the thread holds at most two entries per socket, however many
//! messages wait in turn.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::task::Waker;
use std::time::Instant;

use crate::sync::lock;

/// A wait's slot, held by the wait that set it.
pub(crate) type TimerSlot = Option<u64>;

#[derive(Default)]
struct Timer {
    due: Mutex<HashMap<u64, (Instant, Waker)>>,
    cv: Condvar,
    next_slot: AtomicU64,
}

static TIMER: OnceLock<Option<&'static Timer>> = OnceLock::new();

fn timer() -> Option<&'static Timer> {
    *TIMER.get_or_init(|| {
        let timer: &'static Timer = Box::leak(Box::default());
        std::thread::Builder::new()
            .name("tiermq-timer".to_owned())
            .spawn(move || timer.run())
            .ok()
            .map(|_| timer)
    })
}

/// Wakes `waker` at `at` (at once if it has passed), in place of what
/// `slot` asked before. If the thread cannot be started the task is woken
/// now: it polls again, sooner than needed.
pub(crate) fn wake_at(slot: &mut TimerSlot, at: Instant, waker: &Waker) {
    let Some(timer) = timer() else {
        waker.wake_by_ref();
        return;
    };
    let id = *slot.get_or_insert_with(|| timer.next_slot.fetch_add(1, Ordering::Relaxed));
    let mut due = lock(&timer.due);
    match due.get_mut(&id) {
        Some((t, w)) if *t == at && w.will_wake(waker) => return,
        Some(entry) => *entry = (at, waker.clone()),
        None => {
            due.insert(id, (at, waker.clone()));
        }
    }
    drop(due);
    timer.cv.notify_one();
}

/// Forgets `slot`'s instant (its wait ended).
pub(crate) fn cancel(slot: &mut TimerSlot) {
    if let (Some(id), Some(timer)) = (slot.take(), TIMER.get().copied().flatten()) {
        lock(&timer.due).remove(&id);
    }
}

impl Timer {
    fn run(&self) {
        let mut due = lock(&self.due);
        loop {
            let now = Instant::now();
            let fired: Vec<u64> = due
                .iter()
                .filter(|(_, (t, _))| *t <= now)
                .map(|(id, _)| *id)
                .collect();
            if !fired.is_empty() {
                let wakers: Vec<Waker> = fired
                    .iter()
                    .filter_map(|id| due.remove(id))
                    .map(|(_, w)| w)
                    .collect();
                drop(due);
                wakers.into_iter().for_each(Waker::wake);
                due = lock(&self.due);
                continue;
            }
            due = match due.values().map(|(t, _)| *t).min() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;
    use std::time::Duration;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn entry(slot: TimerSlot) -> Option<Instant> {
        let timer = timer()?;
        lock(&timer.due).get(&slot?).map(|(t, _)| *t)
    }

    #[test]
    fn a_slot_holds_one_instant_until_cancelled() {
        let waker = Waker::from(Arc::new(Count(AtomicUsize::new(0))));
        let mut slot = None;
        let later = Instant::now() + Duration::from_secs(3600);
        wake_at(&mut slot, later, &waker);
        wake_at(&mut slot, later + Duration::from_secs(1), &waker);
        assert_eq!(
            entry(slot),
            Some(later + Duration::from_secs(1)),
            "replaced"
        );
        let id = slot;
        cancel(&mut slot);
        assert_eq!(slot, None);
        assert_eq!(entry(id), None, "gone");
    }

    #[test]
    fn a_due_instant_wakes_its_task() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut slot = None;
        wake_at(&mut slot, Instant::now(), &waker);
        let bound = Instant::now() + Duration::from_secs(30);
        while count.0.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < bound, "never woken");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(entry(slot), None, "a fired instant is forgotten");
    }
}
