//! tiermq-wire: ZMTP 3.1 as a sans-I/O state machine (being written).

pub use bytes::{Bytes, BytesMut};

mod config;
mod error;
mod metadata;
mod multipart;
mod session;
mod socket_type;

pub use config::Config;
pub use error::Error;
pub use metadata::Metadata;
pub use multipart::Multipart;
pub use session::{Event, PeerInfo, Session};
pub use socket_type::SocketType;
