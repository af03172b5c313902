//! `Error`: the errno-style error every socket call returns, named as in rust-zmq.

use std::fmt;
use std::io;

/// The error a tiermq call returns.
///
/// The variant names are those of the `zmq` crate (rust-zmq 0.10), so code
/// that matches on `zmq::Error::EAGAIN` compiles unchanged. A few variants
/// rust-zmq lacks (`ECONNRESET`, `ENETUNREACH`, `ECONNABORTED`, `ETIMEDOUT`)
/// carry operating-system failures that have no closer match.
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// Permission denied.
    EACCES,
    /// The address is already in use.
    EADDRINUSE,
    /// The operation would block: no message to receive, or no peer can take one.
    EAGAIN,
    /// The resource is busy.
    EBUSY,
    /// The peer refused the connection.
    ECONNREFUSED,
    /// Bad address.
    EFAULT,
    /// The call was interrupted.
    EINTR,
    /// The host is unreachable.
    EHOSTUNREACH,
    /// The operation is in progress.
    EINPROGRESS,
    /// An argument was invalid: an option value out of range, a malformed endpoint.
    EINVAL,
    /// Too many open files.
    EMFILE,
    /// The message is too long.
    EMSGSIZE,
    /// A name (an ipc path, an inproc name) is too long.
    ENAMETOOLONG,
    /// No such device: the endpoint's interface does not exist.
    ENODEV,
    /// No such endpoint: `unbind`/`disconnect` of an endpoint never bound or connected.
    ENOENT,
    /// Out of memory.
    ENOMEM,
    /// Not connected.
    ENOTCONN,
    /// Not a socket.
    ENOTSOCK,
    /// Protocol error.
    EPROTO,
    /// The transport (or socket type) is not supported.
    EPROTONOSUPPORT,
    /// The operation is not supported by this socket type.
    ENOTSUP,
    /// No buffer space available.
    ENOBUFS,
    /// The network is down.
    ENETDOWN,
    /// The address is not available on this host.
    EADDRNOTAVAIL,
    /// The connection was reset by the peer.
    ECONNRESET,
    /// The network is unreachable.
    ENETUNREACH,
    /// The connection was aborted.
    ECONNABORTED,
    /// The operation timed out.
    ETIMEDOUT,
    /// The operation is not valid in the socket's current state.
    EFSM,
    /// The peer's protocol is not compatible.
    ENOCOMPATPROTO,
    /// The context was terminated.
    ETERM,
    /// No I/O thread is available.
    EMTHREAD,
}

impl Error {
    /// A short human-readable description, like `zmq_strerror`'s.
    pub fn message(self) -> &'static str {
        match self {
            Error::EACCES => "Permission denied",
            Error::EADDRINUSE => "Address already in use",
            Error::EAGAIN => "Resource temporarily unavailable",
            Error::EBUSY => "Device or resource busy",
            Error::ECONNREFUSED => "Connection refused",
            Error::EFAULT => "Bad address",
            Error::EINTR => "Interrupted system call",
            Error::EHOSTUNREACH => "Host unreachable",
            Error::EINPROGRESS => "Operation in progress",
            Error::EINVAL => "Invalid argument",
            Error::EMFILE => "Too many open files",
            Error::EMSGSIZE => "Message too long",
            Error::ENAMETOOLONG => "File name too long",
            Error::ENODEV => "No such device",
            Error::ENOENT => "No such file or directory",
            Error::ENOMEM => "Cannot allocate memory",
            Error::ENOTCONN => "Transport endpoint is not connected",
            Error::ENOTSOCK => "Socket operation on non-socket",
            Error::EPROTO => "Protocol error",
            Error::EPROTONOSUPPORT => "Protocol not supported",
            Error::ENOTSUP => "Operation not supported",
            Error::ENOBUFS => "No buffer space available",
            Error::ENETDOWN => "Network is down",
            Error::EADDRNOTAVAIL => "Cannot assign requested address",
            Error::ECONNRESET => "Connection reset by peer",
            Error::ENETUNREACH => "Network is unreachable",
            Error::ECONNABORTED => "Software caused connection abort",
            Error::ETIMEDOUT => "Connection timed out",
            Error::EFSM => "Operation cannot be accomplished in current state",
            Error::ENOCOMPATPROTO => "The protocol is not compatible with the socket type",
            Error::ETERM => "Context was terminated",
            Error::EMTHREAD => "No thread available",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Error::EACCES => "EACCES",
            Error::EADDRINUSE => "EADDRINUSE",
            Error::EAGAIN => "EAGAIN",
            Error::EBUSY => "EBUSY",
            Error::ECONNREFUSED => "ECONNREFUSED",
            Error::EFAULT => "EFAULT",
            Error::EINTR => "EINTR",
            Error::EHOSTUNREACH => "EHOSTUNREACH",
            Error::EINPROGRESS => "EINPROGRESS",
            Error::EINVAL => "EINVAL",
            Error::EMFILE => "EMFILE",
            Error::EMSGSIZE => "EMSGSIZE",
            Error::ENAMETOOLONG => "ENAMETOOLONG",
            Error::ENODEV => "ENODEV",
            Error::ENOENT => "ENOENT",
            Error::ENOMEM => "ENOMEM",
            Error::ENOTCONN => "ENOTCONN",
            Error::ENOTSOCK => "ENOTSOCK",
            Error::EPROTO => "EPROTO",
            Error::EPROTONOSUPPORT => "EPROTONOSUPPORT",
            Error::ENOTSUP => "ENOTSUP",
            Error::ENOBUFS => "ENOBUFS",
            Error::ENETDOWN => "ENETDOWN",
            Error::EADDRNOTAVAIL => "EADDRNOTAVAIL",
            Error::ECONNRESET => "ECONNRESET",
            Error::ENETUNREACH => "ENETUNREACH",
            Error::ECONNABORTED => "ECONNABORTED",
            Error::ETIMEDOUT => "ETIMEDOUT",
            Error::EFSM => "EFSM",
            Error::ENOCOMPATPROTO => "ENOCOMPATPROTO",
            Error::ETERM => "ETERM",
            Error::EMTHREAD => "EMTHREAD",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.message())
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    /// Maps an operating-system failure (from bind, connect, ...) to the
    /// closest errno-style variant.
    fn from(e: io::Error) -> Self {
        use io::ErrorKind as K;
        match e.kind() {
            K::AddrInUse => Error::EADDRINUSE,
            K::AddrNotAvailable => Error::EADDRNOTAVAIL,
            K::ConnectionRefused => Error::ECONNREFUSED,
            K::ConnectionReset => Error::ECONNRESET,
            K::ConnectionAborted => Error::ECONNABORTED,
            K::NotConnected => Error::ENOTCONN,
            K::PermissionDenied => Error::EACCES,
            K::NotFound => Error::ENOENT,
            K::WouldBlock => Error::EAGAIN,
            K::TimedOut => Error::ETIMEDOUT,
            K::Interrupted => Error::EINTR,
            K::OutOfMemory => Error::ENOMEM,
            K::HostUnreachable => Error::EHOSTUNREACH,
            K::NetworkUnreachable => Error::ENETUNREACH,
            K::NetworkDown => Error::ENETDOWN,
            K::InvalidFilename => Error::ENAMETOOLONG,
            K::Unsupported => Error::ENOTSUP,
            _ => Error::EINVAL,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        use io::ErrorKind as K;
        let kind = match e {
            Error::EADDRINUSE => K::AddrInUse,
            Error::EADDRNOTAVAIL => K::AddrNotAvailable,
            Error::ECONNREFUSED => K::ConnectionRefused,
            Error::ECONNRESET => K::ConnectionReset,
            Error::ECONNABORTED => K::ConnectionAborted,
            Error::ENOTCONN => K::NotConnected,
            Error::EACCES => K::PermissionDenied,
            Error::ENOENT => K::NotFound,
            Error::EAGAIN => K::WouldBlock,
            Error::ETIMEDOUT => K::TimedOut,
            Error::EINTR => K::Interrupted,
            Error::EINVAL => K::InvalidInput,
            _ => K::Other,
        };
        io::Error::new(kind, e)
    }
}

/// The result type of every tiermq call.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_map_to_errno_variants() {
        let e: Error = io::Error::from(io::ErrorKind::AddrInUse).into();
        assert_eq!(e, Error::EADDRINUSE);
        let e: Error = io::Error::from(io::ErrorKind::WouldBlock).into();
        assert_eq!(e, Error::EAGAIN);
        let back: io::Error = Error::ECONNREFUSED.into();
        assert_eq!(back.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn display_and_debug_say_what_happened() {
        assert_eq!(
            Error::EAGAIN.to_string(),
            "Resource temporarily unavailable"
        );
        assert!(format!("{:?}", Error::ETERM).starts_with("ETERM"));
    }
}
