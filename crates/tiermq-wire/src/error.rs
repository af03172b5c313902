//! `Error`: why a session failed. Every error is fatal to its session.

use crate::SocketType;
use std::fmt;

/// Why a [`Session`](crate::Session) failed. After the first error the
/// session is dead: every later fallible call returns the same error.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The peer's greeting did not start with the ZMTP signature
    /// (`0xFF`, 8 padding bytes, `0x7F`).
    BadSignature,
    /// The peer speaks ZMTP 1.0 or 2.0 (major version below 3). Any 3.x
    /// (and later) peer is accepted, speaking 3.1 (3.0 rules for a 3.0 peer).
    UnsupportedVersion {
        /// Peer's major version.
        major: u8,
        /// Peer's minor version (0 if it had not arrived).
        minor: u8,
    },
    /// The peer uses a known security mechanism other than ours.
    MechanismMismatch {
        /// Our mechanism.
        ours: String,
        /// The peer's mechanism.
        theirs: String,
    },
    /// The peer named a mechanism we do not know.
    UnknownMechanism(String),
    /// The peer's socket type may not talk to ours (RFC 37). An ERROR
    /// command was queued to tell the peer.
    IncompatibleSocketType {
        /// Our socket type.
        ours: SocketType,
        /// The peer's socket type.
        theirs: SocketType,
    },
    /// The peer's READY had no `Socket-Type` property.
    MissingSocketType,
    /// The peer's READY named a socket type we do not know.
    UnknownSocketType(Vec<u8>),
    /// A command's body did not parse; the text says which part.
    MalformedCommand(&'static str),
    /// A command that is not allowed at this point, e.g. anything but READY
    /// during the handshake, or an unknown command.
    UnexpectedCommand(String),
    /// A message frame arrived before the handshake completed.
    UnexpectedMessage,
    /// A frame header set reserved flag bits (the byte is the flags).
    ReservedFlags(u8),
    /// A command frame had the MORE flag set.
    MoreOnCommand,
    /// A message frame, or a message's total size, exceeds `max_msg_size`.
    MessageTooLarge {
        /// The configured limit.
        limit: u64,
        /// The size seen (frame size, or message size so far).
        size: u64,
    },
    /// A command frame is longer than
    /// [`MAX_COMMAND_SIZE`](crate::MAX_COMMAND_SIZE).
    CommandTooLarge {
        /// The command size limit.
        limit: u64,
        /// The size the peer claimed.
        size: u64,
    },
    /// A message has more frames than allowed
    /// ([`MAX_FRAMES_WITH_LIMIT`](crate::MAX_FRAMES_WITH_LIMIT), enforced only
    /// when `max_msg_size` is set).
    TooManyFrames {
        /// The frame limit.
        limit: usize,
    },
    /// A frame length beyond any size this machine can hold.
    FrameTooLong(u64),
    /// The handshake did not complete within `handshake_timeout`.
    HandshakeTimeout,
    /// Nothing arrived within the heartbeat timeout after our PING, or
    /// within the TTL of the peer's PING.
    HeartbeatTimeout,
    /// The peer sent an ERROR command with this reason.
    PeerError(String),
    /// We sent an ERROR command (`Session::send_error`); the session is over.
    Closed,
    /// The ZAP handler refused the peer; an ERROR with the status code was
    /// queued to tell it.
    AuthFailed {
        /// The ZAP status code (`300`, `400` or `500`).
        status: String,
        /// The handler's status text.
        text: String,
    },
    /// A PLAIN server has no ZAP handler to check passwords with
    /// ([`Config::zap`](crate::Config::zap) is false); libzmq refuses too.
    NoZapHandler,
    /// A CURVE box did not open, or held the wrong keys: a wrong server key,
    /// a forged or damaged command. The text names the box.
    Crypto(&'static str),
    /// A CURVE short nonce was not above the peer's previous one: a replay.
    NonceNotIncreasing {
        /// The peer's previous nonce.
        last: u64,
        /// The nonce received.
        got: u64,
    },
    /// A CURVE session was started without randomness
    /// ([`Session::with_random`](crate::Session::with_random) is needed).
    NoRandomness,
}

/// What kind of failure an [`Error`] is, as libzmq's monitor reports a
/// failed handshake: authentication, protocol, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Authentication refused (a ZAP status code, ours or the peer's).
    Auth,
    /// The peer broke the protocol (malformed, unexpected or forged data).
    Protocol,
    /// Anything else: timeouts, a closed session, local configuration.
    Other,
}

impl Error {
    /// Which kind of failure this is. Authentication failures carry a ZAP
    /// status code, see [`auth_status`](Self::auth_status).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::AuthFailed { .. } => ErrorKind::Auth,
            Error::PeerError(_) if self.auth_status().is_some() => ErrorKind::Auth,
            Error::HandshakeTimeout
            | Error::HeartbeatTimeout
            | Error::PeerError(_)
            | Error::Closed
            | Error::NoZapHandler
            | Error::NoRandomness => ErrorKind::Other,
            _ => ErrorKind::Protocol,
        }
    }

    /// The ZAP status code (300, 400 or 500) of an authentication failure:
    /// ours, or the one a peer's ERROR carried (libzmq sends the code as
    /// the reason).
    pub fn auth_status(&self) -> Option<u16> {
        let code = match self {
            Error::AuthFailed { status, .. } => status.as_str(),
            Error::PeerError(reason) => reason.as_str(),
            _ => return None,
        };
        let b = code.as_bytes();
        (b.len() == 3 && (b'3'..=b'5').contains(&b[0]) && b[1] == b'0' && b[2] == b'0')
            .then(|| u16::from(b[0] - b'0') * 100)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadSignature => f.write_str("peer greeting has no ZMTP signature"),
            Error::UnsupportedVersion { major, minor } => {
                write!(f, "peer speaks ZMTP {major}.{minor}; 3.x is required")
            }
            Error::MechanismMismatch { ours, theirs } => {
                write!(
                    f,
                    "security mechanism mismatch: ours {ours}, peer's {theirs}"
                )
            }
            Error::UnknownMechanism(m) => write!(f, "unknown security mechanism {m:?}"),
            Error::IncompatibleSocketType { ours, theirs } => {
                write!(f, "socket type {ours} cannot talk to peer type {theirs}")
            }
            Error::MissingSocketType => f.write_str("peer READY has no Socket-Type"),
            Error::UnknownSocketType(t) => {
                write!(
                    f,
                    "peer socket type {:?} is unknown",
                    String::from_utf8_lossy(t)
                )
            }
            Error::MalformedCommand(what) => write!(f, "malformed command: {what}"),
            Error::UnexpectedCommand(name) => write!(f, "unexpected command {name:?}"),
            Error::UnexpectedMessage => f.write_str("message frame before handshake completed"),
            Error::ReservedFlags(flags) => write!(f, "frame flags {flags:#04x} set reserved bits"),
            Error::MoreOnCommand => f.write_str("command frame has the MORE flag"),
            Error::MessageTooLarge { limit, size } => {
                write!(f, "message of {size} bytes exceeds the limit of {limit}")
            }
            Error::CommandTooLarge { limit, size } => {
                write!(f, "command of {size} bytes exceeds the limit of {limit}")
            }
            Error::TooManyFrames { limit } => write!(f, "message has more than {limit} frames"),
            Error::FrameTooLong(n) => write!(f, "frame length {n} is beyond any sane size"),
            Error::HandshakeTimeout => f.write_str("handshake timed out"),
            Error::HeartbeatTimeout => f.write_str("heartbeat timed out: peer silent"),
            Error::PeerError(reason) => write!(f, "peer sent ERROR: {reason}"),
            Error::Closed => f.write_str("session closed after sending ERROR"),
            Error::AuthFailed { status, text } => {
                write!(f, "authentication refused: {status} {text}")
            }
            Error::NoZapHandler => f.write_str("PLAIN server has no ZAP handler"),
            Error::Crypto(what) => write!(f, "CURVE: {what} did not open or is wrong"),
            Error::NonceNotIncreasing { last, got } => {
                write!(f, "CURVE nonce {got} not above the last one ({last})")
            }
            Error::NoRandomness => f.write_str("CURVE session has no source of randomness"),
        }
    }
}

impl std::error::Error for Error {}
