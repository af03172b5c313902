//! Security mechanisms (NULL, PLAIN, CURVE): their settings, the handshake
//! each runs after the greeting, and ZAP (RFC 27) requests and replies.

mod curve;
mod message_box;
mod null;
mod plain;
mod plain_pool;

pub use curve::public_key as curve_public_key;
pub(crate) use curve::{MESSAGE_OVERHEAD, Opener, Sealer};

use crate::{Error, Metadata};
use bytes::{Bytes, BytesMut};
use std::fmt;

/// Which security mechanism a session speaks, and in which role. Both peers
/// must use the same mechanism; under PLAIN and CURVE one is the server.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Mechanism {
    /// No security (RFC 37's NULL): READY with metadata both ways.
    #[default]
    Null,
    /// PLAIN client (RFC 24): sends a user name and password in clear text.
    PlainClient {
        /// The user name (at most 255 bytes are sent).
        username: Bytes,
        /// The password (at most 255 bytes are sent).
        password: Bytes,
    },
    /// PLAIN server: asks ZAP about each client's user name and password.
    PlainServer,
    /// CURVE client (RFC 26, CurveZMQ): encrypts everything and proves the
    /// holder of `secret_key` to the server whose public key it knows.
    CurveClient {
        /// Our long-term secret key (the public key is derived from it).
        secret_key: [u8; 32],
        /// The server's long-term public key.
        server_key: [u8; 32],
    },
    /// CURVE server: holds its long-term secret key; any client that knows
    /// the public key may connect, and ZAP may check the client's key.
    CurveServer {
        /// Our long-term secret key (the public key is derived from it).
        secret_key: [u8; 32],
    },
}

impl Mechanism {
    /// The name in the greeting: `NULL`, `PLAIN` or `CURVE`.
    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::Null => "NULL",
            Mechanism::PlainClient { .. } | Mechanism::PlainServer => "PLAIN",
            Mechanism::CurveClient { .. } | Mechanism::CurveServer { .. } => "CURVE",
        }
    }

    /// Whether we are the server (the greeting's as-server bit).
    pub fn is_server(&self) -> bool {
        matches!(self, Mechanism::PlainServer | Mechanism::CurveServer { .. })
    }

    pub(crate) fn is_curve(&self) -> bool {
        self.name() == "CURVE"
    }
}

// Keys and passwords stay out of logs.
impl fmt::Debug for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = if self.is_server() { "server" } else { "client" };
        match self {
            Mechanism::Null => f.write_str("Null"),
            _ => write!(f, "{}({role})", self.name()),
        }
    }
}

/// The source of randomness a CURVE session uses for its short-term keys,
/// cookie key and long nonces. The caller supplies it, so sessions stay
/// deterministic under test; in production it must be a cryptographic
/// generator (the transport uses the operating system's).
pub trait Random: Send {
    /// Fills `dst` with random bytes.
    ///
    /// # Errors
    /// When no randomness can be had; the handshake then fails with
    /// [`Error::NoRandomness`](crate::Error::NoRandomness).
    fn fill(&mut self, dst: &mut [u8]) -> std::io::Result<()>;
}

/// What a server-side session asks the ZAP handler (RFC 27) about a peer,
/// yielded as [`Event::ZapRequest`](crate::Event::ZapRequest). The caller
/// adds what only it knows (version, request id, domain, address) and
/// answers with [`Session::zap_reply`](crate::Session::zap_reply).
#[derive(Clone, PartialEq, Eq)]
pub struct ZapRequest {
    /// `NULL`, `PLAIN` or `CURVE`.
    pub mechanism: &'static str,
    /// PLAIN: user name and password; CURVE: the client's long-term public
    /// key (32 bytes); NULL: none.
    pub credentials: Vec<Bytes>,
    /// Our own identity (the `identity` of the session's config), which
    /// RFC 27 sends as the request's identity, as libzmq does.
    pub identity: Bytes,
}

impl fmt::Debug for ZapRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZapRequest")
            .field("mechanism", &self.mechanism)
            .field("credentials", &self.credentials.len())
            .finish_non_exhaustive()
    }
}

/// The ZAP handler's answer to a [`ZapRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZapReply {
    /// `200` admits the peer; `300`, `400` and `500` refuse it.
    pub status_code: String,
    /// Human-readable text for a refusal.
    pub status_text: String,
    /// The user id the handler assigned; kept in [`PeerInfo`](crate::PeerInfo).
    pub user_id: Bytes,
    /// Properties the handler attached; kept in [`PeerInfo`](crate::PeerInfo).
    pub metadata: Metadata,
}

impl ZapReply {
    /// A reply admitting the peer with no user id or metadata.
    pub fn ok() -> Self {
        Self::status("200", "OK")
    }

    /// A reply with `code` and `text` and nothing else.
    pub fn status(code: &str, text: &str) -> Self {
        Self {
            status_code: code.to_owned(),
            status_text: text.to_owned(),
            user_id: Bytes::new(),
            metadata: Metadata::new(),
        }
    }

    /// Whether the reply admits the peer (status `200`).
    pub fn admits(&self) -> bool {
        self.status_code == "200"
    }
}

/// What a handshake step produced.
pub(crate) enum Step {
    /// More commands are needed.
    Wait,
    /// Ask ZAP, then call `on_zap`.
    Zap(ZapRequest),
    /// The handshake is complete with the peer's metadata; for CURVE, the
    /// message ciphers for each direction.
    Done(Metadata, Option<(Sealer, Opener)>),
}

/// One connection's mechanism handshake state.
pub(crate) enum Handshake {
    Null(null::State),
    Plain(plain::State),
    Curve(Box<curve::State>),
}

/// What a handshake needs from the session: where to write commands, our
/// encoded READY properties, whether a ZAP handler exists, and randomness.
pub(crate) struct Ctx<'a> {
    pub(crate) out: &'a mut BytesMut,
    pub(crate) props: &'a [u8],
    pub(crate) zap: bool,
    pub(crate) identity: &'a Bytes,
    pub(crate) random: &'a mut dyn Random,
}

impl Handshake {
    /// Starts after the greeting: writes our first command, if we speak
    /// first (NULL with ZAP asks ZAP first, as libzmq does).
    pub(crate) fn start(mechanism: &Mechanism, cx: &mut Ctx<'_>) -> Result<(Self, Step), Error> {
        let hs = match mechanism {
            Mechanism::Null => {
                let (state, step) = null::State::start(cx);
                return Ok((Handshake::Null(state), step));
            }
            Mechanism::PlainClient { username, password } => {
                Handshake::Plain(plain::State::client(username, password, cx))
            }
            Mechanism::PlainServer => Handshake::Plain(plain::State::server()),
            Mechanism::CurveClient {
                secret_key,
                server_key,
            } => Handshake::Curve(Box::new(curve::State::client(secret_key, server_key, cx)?)),
            Mechanism::CurveServer { secret_key } => {
                Handshake::Curve(Box::new(curve::State::server(secret_key)))
            }
        };
        Ok((hs, Step::Wait))
    }

    /// Continues without a ZAP handler, as libzmq 4.3 does: PLAIN refuses,
    /// CURVE and NULL admit.
    pub(crate) fn on_zap_unavailable(&mut self, cx: &mut Ctx<'_>) -> Result<Step, Error> {
        match self {
            Handshake::Plain(_) => Err(Error::NoZapHandler),
            other => other.on_zap_admitted(cx),
        }
    }

    /// Handles one command (`name`, `data`) of the handshake.
    pub(crate) fn on_command(
        &mut self,
        name: &[u8],
        data: Bytes,
        cx: &mut Ctx<'_>,
    ) -> Result<Step, Error> {
        match self {
            Handshake::Null(s) => s.on_command(name, data, cx),
            Handshake::Plain(s) => s.on_command(name, data, cx),
            Handshake::Curve(s) => s.on_command(name, data, cx),
        }
    }

    /// Continues after an admitting ZAP reply.
    pub(crate) fn on_zap_admitted(&mut self, cx: &mut Ctx<'_>) -> Result<Step, Error> {
        match self {
            Handshake::Null(s) => Ok(s.on_zap_admitted(cx)),
            Handshake::Plain(s) => s.on_zap_admitted(cx),
            Handshake::Curve(s) => s.on_zap_admitted(cx),
        }
    }

    /// Whether the handshake waits for a ZAP reply.
    pub(crate) fn awaits_zap(&self) -> bool {
        match self {
            Handshake::Null(s) => s.awaits_zap(),
            Handshake::Plain(s) => s.awaits_zap(),
            Handshake::Curve(s) => s.awaits_zap(),
        }
    }
}

/// Splits a command body into its name and data.
pub(crate) fn split_command(mut body: Bytes) -> Result<(Bytes, Bytes), Error> {
    let Some(&len) = body.first() else {
        return Err(Error::MalformedCommand("empty command frame"));
    };
    let len = usize::from(len);
    if body.len() < 1 + len {
        return Err(Error::MalformedCommand("command name longer than frame"));
    }
    let name = body.slice(1..1 + len);
    let data = body.split_off(1 + len);
    Ok((name, data))
}

/// Appends a command frame `name` with `data` made of `parts`.
pub(crate) fn put_command(out: &mut BytesMut, name: &str, parts: &[&[u8]]) {
    use bytes::BufMut;
    let size = 1 + name.len() + parts.iter().map(|p| p.len()).sum::<usize>();
    crate::frame::put_header(out, crate::frame::COMMAND, size);
    out.put_u8(name.len() as u8);
    out.put_slice(name.as_bytes());
    for p in parts {
        out.put_slice(p);
    }
}
