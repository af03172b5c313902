//! Bounded message queues between an application thread and an I/O thread.
//!
//! (Crate docs are being written.)

mod config;
mod error;
mod reader;
mod shared;
mod stats;
mod wake;
mod weight;
mod writer;

use std::sync::Arc;

pub use config::Config;
pub use error::{RecvError, Room, SendError};
pub use reader::Reader;
pub use stats::Stats;
pub use wake::Wake;
pub use weight::Weighted;
pub use writer::Writer;

/// Makes a pipe whose messages weigh [`Weighted::weight`] bytes.
pub fn pipe<T: Weighted + Send>(config: Config) -> (Writer<T>, Reader<T>) {
    pipe_with(config, T::weight)
}

/// Makes a pipe whose messages weigh `weight(&msg)` bytes, for types that
/// cannot implement [`Weighted`] here (the orphan rule), such as
/// `tiermq_wire::Multipart`.
pub fn pipe_with<T: Send>(config: Config, weight: fn(&T) -> usize) -> (Writer<T>, Reader<T>) {
    let shared = Arc::new(shared::Shared::new(config, weight));
    (
        Writer {
            shared: Arc::clone(&shared),
        },
        Reader { shared },
    )
}
