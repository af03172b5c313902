//! `Error`: why a run failed, as text a driver can show.

use std::fmt;

/// Why a role failed: a library error, a timeout, a bad argument or a
/// wrong message, with enough context to tell which.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    what: String,
}

impl Error {
    /// An error saying `what`.
    pub fn new(what: impl Into<String>) -> Error {
        Error { what: what.into() }
    }

    /// The wait for a message exceeded [`RECV_TIMEOUT`](crate::RECV_TIMEOUT).
    pub fn timeout(waiting_for: &str) -> Error {
        Error::new(format!(
            "timed out after {:?} waiting for {waiting_for}",
            crate::RECV_TIMEOUT
        ))
    }

    /// A message whose size is not the one the run sends.
    pub fn wrong_size(expected: usize, got: usize) -> Error {
        Error::new(format!(
            "received a {got}-byte message, expected {expected} bytes"
        ))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for Error {}

macro_rules! from_error {
    ($($ty:ty => $lib:literal,)*) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Error {
                Error::new(format!(concat!($lib, ": {}"), e))
            }
        }
    )*};
}

from_error! {
    std::io::Error => "io",
    tiermq::Error => "tiermq",
    zmq::Error => "libzmq",
}

#[cfg(feature = "peers")]
from_error! {
    zeromq::ZmqError => "zeromq",
    omq_tokio::Error => "omq",
    rzmq::ZmqError => "rzmq",
}
