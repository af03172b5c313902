//! Locking without poison: the one helper every module here locks with.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks, ignoring poison: every critical section here leaves its data consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
