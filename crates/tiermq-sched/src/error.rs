//! Errors returned by the scheduler and the fair queue.

use std::fmt;

use crate::{HIGHEST, LOWEST, MAX_PIPE_ID, PipeId};

/// Why a scheduler or fair-queue call was refused. A refused call changes
/// nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedError {
    /// The priority is outside [`HIGHEST`]`..=`[`LOWEST`] (1..=16).
    InvalidPriority(u8),
    /// A pipe with this id has already joined and not left.
    DuplicatePipe(PipeId),
    /// No pipe with this id has joined (or it has left).
    UnknownPipe(PipeId),
    /// The id is above [`MAX_PIPE_ID`]. Ids index a table, so they must be
    /// small and dense (slab keys).
    PipeIdTooLarge(PipeId),
}

impl fmt::Display for SchedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchedError::InvalidPriority(p) => {
                write!(f, "invalid priority {p}: must be {HIGHEST}..={LOWEST}")
            }
            SchedError::DuplicatePipe(id) => write!(f, "pipe {} has already joined", id.0),
            SchedError::UnknownPipe(id) => write!(f, "pipe {} has not joined", id.0),
            SchedError::PipeIdTooLarge(id) => {
                write!(f, "pipe id {} is above the maximum {MAX_PIPE_ID}", id.0)
            }
        }
    }
}

impl std::error::Error for SchedError {}

/// Checks that `priority` is a valid tier.
pub(crate) fn check_priority(priority: u8) -> Result<(), SchedError> {
    if (HIGHEST..=LOWEST).contains(&priority) {
        Ok(())
    } else {
        Err(SchedError::InvalidPriority(priority))
    }
}

/// Checks that `id` can index a table.
pub(crate) fn check_id(id: PipeId) -> Result<(), SchedError> {
    if id.0 <= MAX_PIPE_ID {
        Ok(())
    } else {
        Err(SchedError::PipeIdTooLarge(id))
    }
}
