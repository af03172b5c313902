//! tiermq-wire: ZMTP 3.1 as a sans-I/O state machine (being written).

pub use bytes::{Bytes, BytesMut};

mod command;
mod config;
mod error;
mod frame;
#[doc(hidden)]
pub mod fuzz;
mod greeting;
mod metadata;
mod multipart;
mod output;
mod session;
mod socket_type;

pub use config::Config;
pub use error::Error;
pub use metadata::Metadata;
pub use multipart::Multipart;
pub use session::{Event, MAX_FRAMES_WITH_LIMIT, PeerInfo, Session};
pub use socket_type::SocketType;
