//! CURVE (RFC 26, CurveZMQ) as libzmq speaks it: HELLO, WELCOME, INITIATE
//! and READY, then every frame inside a MESSAGE box.
//!
//! Boxes are NaCl's `crypto_box` (Curve25519, XSalsa20, Poly1305) in their
//! wire form: the 16-byte tag, then the ciphertext. Each connection's shared
//! key is computed once (libsodium's "beforenm") and reused for READY,
//! INITIATE and every MESSAGE: `crypto_box`'s [`SalsaBox`] boxes the
//! handshake, a `MessageKey` (the same key; see `message_box`) the
//! MESSAGEs, where the speed is. Short nonces are an 8-byte
//! counter that strictly increases per direction; one that does not is a
//! protocol error.

use super::message_box::{MessageKey, TAG};
use super::plain_pool::PlainPool;
use super::{Ctx, Random, Step, ZapRequest, put_command};
use crate::command::parse_properties;
use crate::{Error, Metadata};
use bytes::{BufMut, Bytes, BytesMut};
use crypto_box::aead::generic_array::GenericArray;
use crypto_box::aead::{AeadInPlace, KeyInit};
use crypto_box::{PublicKey, SalsaBox, SecretKey};
use crypto_secretbox::XSalsa20Poly1305;
use curve25519_dalek::MontgomeryPoint;
use std::sync::Arc;

/// Nonce prefixes, exactly libzmq's.
const HELLO_NONCE: &[u8; 16] = b"CurveZMQHELLO---";
const WELCOME_NONCE: &[u8; 8] = b"WELCOME-";
const INITIATE_NONCE: &[u8; 16] = b"CurveZMQINITIATE";
const READY_NONCE: &[u8; 16] = b"CurveZMQREADY---";
const CLIENT_MESSAGE_NONCE: &[u8; 16] = b"CurveZMQMESSAGEC";
const SERVER_MESSAGE_NONCE: &[u8; 16] = b"CurveZMQMESSAGES";
const VOUCH_NONCE: &[u8; 8] = b"VOUCH---";
const COOKIE_NONCE: &[u8; 8] = b"COOKIE--";

/// MESSAGE overhead: name (8), short nonce (8), tag (16), flags (1).
pub(crate) const MESSAGE_OVERHEAD: usize = 8 + 8 + TAG + 1;
/// HELLO data after its name: version (2), padding (72), C' (32), nonce (8), box (80).
const HELLO_DATA: usize = 2 + 72 + 32 + 8 + 80;
/// WELCOME data: long nonce (16), box of S' and the cookie (128 + 16).
const WELCOME_DATA: usize = 16 + 128 + TAG;
/// Cookie: long nonce (16), secret box of C' and s' (64 + 16).
const COOKIE: usize = 16 + 64 + TAG;
/// INITIATE data before its metadata: cookie, nonce (8), box of C, the
/// vouch nonce and vouch box (128 + 16).
const INITIATE_MIN: usize = COOKIE + 8 + 128 + TAG;

type Nonce = GenericArray<u8, crypto_box::aead::consts::U24>;

fn nonce(prefix: &[u8], tail: &[u8]) -> Nonce {
    let mut n = [0u8; 24];
    n[..prefix.len()].copy_from_slice(prefix);
    n[prefix.len()..prefix.len() + tail.len()].copy_from_slice(tail);
    n.into()
}

/// Appends the box of `plain` (tag, then ciphertext) to `out`.
fn seal<A: AeadInPlace<NonceSize = crypto_box::aead::consts::U24>>(
    cipher: &A,
    nonce: &Nonce,
    plain: &[u8],
    out: &mut BytesMut,
) {
    let tag_at = out.len();
    out.put_bytes(0, TAG);
    let start = out.len();
    out.put_slice(plain);
    // Only a message beyond XSalsa20's 2^70-byte stream could fail; a zero
    // tag would then make the peer drop the connection.
    if let Ok(tag) = cipher.encrypt_in_place_detached(nonce, b"", &mut out[start..]) {
        out[tag_at..start].copy_from_slice(&tag);
    }
}

/// Opens a box (tag, then ciphertext); `what` names it in the error.
fn open<A: AeadInPlace<NonceSize = crypto_box::aead::consts::U24>>(
    cipher: &A,
    nonce: &Nonce,
    boxed: &[u8],
    what: &'static str,
) -> Result<Vec<u8>, Error> {
    if boxed.len() < TAG {
        return Err(Error::MalformedCommand(what));
    }
    let (tag, ct) = boxed.split_at(TAG);
    let mut plain = ct.to_vec();
    cipher
        .decrypt_in_place_detached(nonce, b"", &mut plain, GenericArray::from_slice(tag))
        .map_err(|_| Error::Crypto(what))?;
    Ok(plain)
}

fn random_key(random: &mut dyn Random) -> Result<[u8; 32], Error> {
    let mut k = [0u8; 32];
    random.fill(&mut k).map_err(|_| Error::NoRandomness)?;
    Ok(k)
}

fn random_nonce(random: &mut dyn Random) -> Result<[u8; 16], Error> {
    let mut n = [0u8; 16];
    random.fill(&mut n).map_err(|_| Error::NoRandomness)?;
    Ok(n)
}

/// Checks that the peer's short nonce `got` is above the last one.
fn advance_peer(last: &mut Option<u64>, got: u64) -> Result<(), Error> {
    if let Some(last) = *last
        && got <= last
    {
        return Err(Error::NonceNotIncreasing { last, got });
    }
    *last = Some(got);
    Ok(())
}

fn short_nonce(data: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&data[..8]);
    u64::from_be_bytes(b)
}

/// The keys of one connection after the short-term key exchange, both from
/// one X25519 shared secret: `handshake` boxes INITIATE and READY
/// (RustCrypto's `crypto_box`), `message` every MESSAGE. The message key is
/// a [`MessageKey`], which is faster than `crypto_box` 0.9 at every size
/// (its Salsa20 runs portable code, the whole of CURVE's cost for large
/// messages).
struct Keys {
    handshake: SalsaBox,
    message: MessageKey,
}

impl Keys {
    /// libsodium's `crypto_box_beforenm` for our `secret` and the peer's
    /// `public` short-term keys. A low-order peer key (an all-zero shared
    /// secret) is refused, as libsodium refuses it.
    fn new(public: &PublicKey, secret: &SecretKey) -> Result<Keys, Error> {
        let dh = MontgomeryPoint(public.to_bytes()).mul_clamped(secret.to_bytes());
        let message = MessageKey::from_shared_secret(&dh.to_bytes())
            .ok_or(Error::Crypto("low-order short-term key"))?;
        Ok(Keys {
            handshake: SalsaBox::new(public, secret),
            message,
        })
    }
}

/// Encrypts outgoing frames into MESSAGE commands.
pub(crate) struct Sealer {
    /// Shared with the `Opener`: one precomputation per connection.
    shared: Arc<MessageKey>,
    prefix: &'static [u8; 16],
    next: u64,
}

impl Sealer {
    /// Appends one MESSAGE frame carrying `flags` (bit 0: more, bit 1:
    /// command) and `payload`, encrypted straight into `out`.
    pub(crate) fn seal(&mut self, out: &mut BytesMut, flags: u8, payload: &[u8]) {
        let n = self.next;
        // Saturating: a repeated nonce is refused by the peer, never reused silently.
        self.next = self.next.saturating_add(1);
        crate::frame::put_header(out, 0, MESSAGE_OVERHEAD + payload.len());
        out.put_slice(b"\x07MESSAGE");
        out.put_u64(n);
        let tag_at = out.len();
        out.put_bytes(0, TAG);
        let start = out.len();
        out.put_u8(flags);
        out.put_slice(payload);
        let nonce = nonce(self.prefix, &n.to_be_bytes());
        let tag = self.shared.seal(&nonce.into(), &mut out[start..]);
        out[tag_at..start].copy_from_slice(&tag);
    }
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// Decrypts incoming MESSAGE commands.
pub(crate) struct Opener {
    shared: Arc<MessageKey>,
    prefix: &'static [u8; 16],
    last: Option<u64>,
    /// Where large messages are decrypted.
    pool: Arc<PlainPool>,
}

/// Messages this long or longer are decrypted into a pooled buffer;
/// shorter ones into an allocation of their own (quick to get back).
const POOLED_FROM: usize = 2048;

impl Opener {
    /// Opens one MESSAGE (the whole frame body), decrypting it into a
    /// buffer of its own (the read it lies in is shared). Returns its flags
    /// byte and payload.
    pub(crate) fn open(&mut self, body: &[u8]) -> Result<(u8, Bytes), Error> {
        if !body.starts_with(b"\x07MESSAGE") {
            return Err(Error::UnexpectedCommand("not a MESSAGE".into()));
        }
        if body.len() < MESSAGE_OVERHEAD {
            return Err(Error::MalformedCommand("MESSAGE too short"));
        }
        let n = short_nonce(&body[8..16]);
        if let Some(last) = self.last
            && n <= last
        {
            return Err(Error::NonceNotIncreasing { last, got: n });
        }
        let nonce = nonce(self.prefix, &body[8..16]);
        let mut tag = [0u8; TAG];
        tag.copy_from_slice(&body[16..16 + TAG]);
        let ct = &body[16 + TAG..];
        let plain = if ct.len() >= POOLED_FROM {
            let mut buf = self.pool.take(ct.len());
            buf[..ct.len()].copy_from_slice(ct);
            self.open_in(&nonce, &mut buf[..ct.len()], &tag)?;
            self.pool.lend(buf, ct.len())
        } else {
            let mut buf = BytesMut::from(ct);
            self.open_in(&nonce, &mut buf, &tag)?;
            buf.freeze()
        };
        self.last = Some(n);
        Ok((plain[0], plain.slice(1..)))
    }

    fn open_in(&self, nonce: &Nonce, buf: &mut [u8], tag: &[u8; TAG]) -> Result<(), Error> {
        self.shared
            .open(&(*nonce).into(), buf, tag)
            .map_err(|_| Error::Crypto("MESSAGE box"))
    }
}

enum Stage {
    /// Client: HELLO sent with short-term secret `cn_secret`.
    AwaitWelcome {
        cn_secret: SecretKey,
    },
    /// Client: INITIATE sent.
    AwaitReady {
        shared: Keys,
    },
    /// Server: waiting for HELLO.
    AwaitHello,
    /// Server: WELCOME sent; the cookie holds the client's short-term key
    /// and our short-term secret, sealed with a key only this connection has.
    AwaitInitiate {
        client_short: PublicKey,
        cn_secret: SecretKey,
        cookie_key: [u8; 32],
    },
    /// Server: INITIATE checked, ZAP asked.
    Zap {
        shared: Keys,
        metadata: Metadata,
    },
    Done,
}

pub(crate) struct State {
    secret: SecretKey,
    public: PublicKey,
    /// Client only: the server's long-term public key.
    server_key: Option<PublicKey>,
    stage: Stage,
    /// Our next short nonce; libzmq starts at 1.
    next_nonce: u64,
    /// The peer's last short nonce.
    peer_nonce: Option<u64>,
}

impl State {
    pub(crate) fn client(
        secret: &[u8; 32],
        server_key: &[u8; 32],
        cx: &mut Ctx<'_>,
    ) -> Result<Self, Error> {
        let secret = SecretKey::from(*secret);
        let public = secret.public_key();
        let server_key = PublicKey::from(*server_key);
        let cn_secret = SecretKey::from(random_key(cx.random)?);
        let cn_public = cn_secret.public_key();
        let mut s = Self {
            secret,
            public,
            server_key: Some(server_key.clone()),
            stage: Stage::Done,
            next_nonce: 1,
            peer_nonce: None,
        };
        let n = s.take_nonce();
        let mut sig = BytesMut::new();
        let hello_box = SalsaBox::new(&server_key, &cn_secret);
        seal(&hello_box, &nonce(HELLO_NONCE, &n), &[0; 64], &mut sig);
        put_command(
            cx.out,
            "HELLO",
            &[&[1, 0], &[0; 72], cn_public.as_bytes(), &n, &sig],
        );
        s.stage = Stage::AwaitWelcome { cn_secret };
        Ok(s)
    }

    pub(crate) fn server(secret: &[u8; 32]) -> Self {
        let secret = SecretKey::from(*secret);
        Self {
            public: secret.public_key(),
            secret,
            server_key: None,
            stage: Stage::AwaitHello,
            next_nonce: 1,
            peer_nonce: None,
        }
    }

    fn take_nonce(&mut self) -> [u8; 8] {
        let n = self.next_nonce;
        self.next_nonce += 1;
        n.to_be_bytes()
    }

    pub(crate) fn on_command(
        &mut self,
        name: &[u8],
        data: Bytes,
        cx: &mut Ctx<'_>,
    ) -> Result<Step, Error> {
        match (std::mem::replace(&mut self.stage, Stage::Done), name) {
            (Stage::AwaitWelcome { cn_secret }, b"WELCOME") => {
                self.on_welcome(&data, cn_secret, cx)
            }
            (Stage::AwaitReady { shared }, b"READY") => self.on_ready(&data, shared),
            (Stage::AwaitHello, b"HELLO") => self.on_hello(&data, cx),
            (
                Stage::AwaitInitiate {
                    client_short,
                    cn_secret,
                    cookie_key,
                },
                b"INITIATE",
            ) => self.on_initiate(&data, &client_short, &cn_secret, &cookie_key, cx),
            _ => Err(Error::UnexpectedCommand(
                String::from_utf8_lossy(name).into_owned(),
            )),
        }
    }

    fn on_welcome(
        &mut self,
        data: &[u8],
        cn_secret: SecretKey,
        cx: &mut Ctx<'_>,
    ) -> Result<Step, Error> {
        if data.len() != WELCOME_DATA {
            return Err(Error::MalformedCommand("CURVE WELCOME size"));
        }
        let server_key = self
            .server_key
            .clone()
            .ok_or(Error::Crypto("no server key"))?;
        let welcome_box = SalsaBox::new(&server_key, &cn_secret);
        let plain = open(
            &welcome_box,
            &nonce(WELCOME_NONCE, &data[..16]),
            &data[16..],
            "WELCOME box",
        )?;
        let mut server_short = [0u8; 32];
        server_short.copy_from_slice(&plain[..32]);
        let server_short = PublicKey::from(server_short);
        let cookie = &plain[32..];
        let shared = Keys::new(&server_short, &cn_secret)?;

        // The vouch: our short-term key and the server's long-term key,
        // boxed from our long-term key, proving we hold it.
        let vouch_nonce = random_nonce(cx.random)?;
        let mut vouch_plain = [0u8; 64];
        vouch_plain[..32].copy_from_slice(cn_secret.public_key().as_bytes());
        vouch_plain[32..].copy_from_slice(server_key.as_bytes());
        let mut initiate_plain = BytesMut::with_capacity(128 + cx.props.len());
        initiate_plain.put_slice(self.public.as_bytes());
        initiate_plain.put_slice(&vouch_nonce);
        let vouch_box = SalsaBox::new(&server_short, &self.secret);
        seal(
            &vouch_box,
            &nonce(VOUCH_NONCE, &vouch_nonce),
            &vouch_plain,
            &mut initiate_plain,
        );
        initiate_plain.put_slice(cx.props);

        let n = self.take_nonce();
        let mut boxed = BytesMut::new();
        seal(
            &shared.handshake,
            &nonce(INITIATE_NONCE, &n),
            &initiate_plain,
            &mut boxed,
        );
        put_command(cx.out, "INITIATE", &[cookie, &n, &boxed]);
        self.stage = Stage::AwaitReady { shared };
        Ok(Step::Wait)
    }

    fn on_ready(&mut self, data: &[u8], shared: Keys) -> Result<Step, Error> {
        if data.len() < 8 + TAG {
            return Err(Error::MalformedCommand("CURVE READY size"));
        }
        advance_peer(&mut self.peer_nonce, short_nonce(data))?;
        let plain = open(
            &shared.handshake,
            &nonce(READY_NONCE, &data[..8]),
            &data[8..],
            "READY box",
        )?;
        let metadata = parse_properties(Bytes::from(plain))?;
        Ok(self.done(metadata, shared, CLIENT_MESSAGE_NONCE, SERVER_MESSAGE_NONCE))
    }

    fn on_hello(&mut self, data: &[u8], cx: &mut Ctx<'_>) -> Result<Step, Error> {
        if data.len() != HELLO_DATA {
            return Err(Error::MalformedCommand("CURVE HELLO size"));
        }
        if data[..2] != [1, 0] {
            return Err(Error::MalformedCommand("CURVE HELLO version"));
        }
        let mut client_short = [0u8; 32];
        client_short.copy_from_slice(&data[74..106]);
        let client_short = PublicKey::from(client_short);
        advance_peer(&mut self.peer_nonce, short_nonce(&data[106..114]))?;
        let hello_box = SalsaBox::new(&client_short, &self.secret);
        open(
            &hello_box,
            &nonce(HELLO_NONCE, &data[106..114]),
            &data[114..],
            "HELLO box (wrong server key?)",
        )?;

        let cn_secret = SecretKey::from(random_key(cx.random)?);
        let cookie_key = random_key(cx.random)?;
        let cookie_nonce = random_nonce(cx.random)?;
        let welcome_nonce = random_nonce(cx.random)?;
        let mut cookie_plain = [0u8; 64];
        cookie_plain[..32].copy_from_slice(client_short.as_bytes());
        cookie_plain[32..].copy_from_slice(&cn_secret.to_bytes());
        let mut welcome_plain = BytesMut::with_capacity(128);
        welcome_plain.put_slice(cn_secret.public_key().as_bytes());
        welcome_plain.put_slice(&cookie_nonce);
        let cookie_box = XSalsa20Poly1305::new(&cookie_key.into());
        seal(
            &cookie_box,
            &nonce(COOKIE_NONCE, &cookie_nonce),
            &cookie_plain,
            &mut welcome_plain,
        );
        let mut boxed = BytesMut::new();
        seal(
            &hello_box,
            &nonce(WELCOME_NONCE, &welcome_nonce),
            &welcome_plain,
            &mut boxed,
        );
        put_command(cx.out, "WELCOME", &[&welcome_nonce, &boxed]);
        self.stage = Stage::AwaitInitiate {
            client_short,
            cn_secret,
            cookie_key,
        };
        Ok(Step::Wait)
    }

    fn on_initiate(
        &mut self,
        data: &[u8],
        client_short: &PublicKey,
        cn_secret: &SecretKey,
        cookie_key: &[u8; 32],
        cx: &mut Ctx<'_>,
    ) -> Result<Step, Error> {
        if data.len() < INITIATE_MIN {
            return Err(Error::MalformedCommand("CURVE INITIATE size"));
        }
        let cookie_box = XSalsa20Poly1305::new(&(*cookie_key).into());
        let cookie = open(
            &cookie_box,
            &nonce(COOKIE_NONCE, &data[..16]),
            &data[16..COOKIE],
            "INITIATE cookie",
        )?;
        if cookie[..32] != client_short.as_bytes()[..] || cookie[32..] != cn_secret.to_bytes() {
            return Err(Error::Crypto("INITIATE cookie contents"));
        }
        let nonce_bytes = &data[COOKIE..COOKIE + 8];
        advance_peer(&mut self.peer_nonce, short_nonce(nonce_bytes))?;
        let shared = Keys::new(client_short, cn_secret)?;
        let plain = open(
            &shared.handshake,
            &nonce(INITIATE_NONCE, nonce_bytes),
            &data[COOKIE + 8..],
            "INITIATE box",
        )?;
        let mut client_key = [0u8; 32];
        client_key.copy_from_slice(&plain[..32]);
        let vouch_box = SalsaBox::new(&PublicKey::from(client_key), cn_secret);
        let vouch = open(
            &vouch_box,
            &nonce(VOUCH_NONCE, &plain[32..48]),
            &plain[48..128],
            "INITIATE vouch",
        )?;
        if vouch[..32] != client_short.as_bytes()[..] || vouch[32..] != self.public.as_bytes()[..] {
            return Err(Error::Crypto("INITIATE vouch contents"));
        }
        let metadata = parse_properties(Bytes::copy_from_slice(&plain[128..]))?;
        if cx.zap {
            self.stage = Stage::Zap { shared, metadata };
            return Ok(Step::Zap(ZapRequest {
                mechanism: "CURVE",
                credentials: vec![Bytes::copy_from_slice(&client_key)],
                identity: cx.identity.clone(),
            }));
        }
        Ok(self.send_ready(metadata, shared, cx))
    }

    fn send_ready(&mut self, metadata: Metadata, shared: Keys, cx: &mut Ctx<'_>) -> Step {
        let n = self.take_nonce();
        let mut boxed = BytesMut::new();
        seal(
            &shared.handshake,
            &nonce(READY_NONCE, &n),
            cx.props,
            &mut boxed,
        );
        put_command(cx.out, "READY", &[&n, &boxed]);
        self.done(metadata, shared, SERVER_MESSAGE_NONCE, CLIENT_MESSAGE_NONCE)
    }

    fn done(
        &mut self,
        metadata: Metadata,
        shared: Keys,
        ours: &'static [u8; 16],
        theirs: &'static [u8; 16],
    ) -> Step {
        self.stage = Stage::Done;
        let shared = Arc::new(shared.message);
        let sealer = Sealer {
            shared: Arc::clone(&shared),
            prefix: ours,
            next: self.next_nonce,
        };
        let opener = Opener {
            shared,
            prefix: theirs,
            last: self.peer_nonce,
            pool: Arc::default(),
        };
        Step::Done(metadata, Some((sealer, opener)))
    }

    pub(crate) fn on_zap_admitted(&mut self, cx: &mut Ctx<'_>) -> Result<Step, Error> {
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Zap { shared, metadata } => Ok(self.send_ready(metadata, shared, cx)),
            other => {
                self.stage = other;
                Ok(Step::Wait)
            }
        }
    }

    pub(crate) fn awaits_zap(&self) -> bool {
        matches!(self.stage, Stage::Zap { .. })
    }
}

/// The public key of a 32-byte secret key (X25519 base-point multiplication).
pub fn public_key(secret: &[u8; 32]) -> [u8; 32] {
    *SecretKey::from(*secret).public_key().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_key_is_crypto_box_s_key() {
        let ours = SecretKey::from([7u8; 32]);
        let theirs = SecretKey::from([9u8; 32]);
        let keys = Keys::new(&theirs.public_key(), &ours).unwrap();
        let n = nonce(CLIENT_MESSAGE_NONCE, &5u64.to_be_bytes());
        let plain = b"\x00sixteen bytes!!".to_vec();
        let mut buf = plain.clone();
        let tag = keys.message.seal(&n.into(), &mut buf);
        assert_ne!(buf, plain);
        // The peer opens it with crypto_box (libsodium's box, "afternm").
        let peer = SalsaBox::new(&ours.public_key(), &theirs);
        peer.decrypt_in_place_detached(&n, b"", &mut buf, GenericArray::from_slice(&tag))
            .expect("crypto_box opens our MESSAGE box");
        assert_eq!(buf, plain);
    }

    #[test]
    fn a_low_order_short_term_key_is_refused() {
        let ours = SecretKey::from([7u8; 32]);
        let zero = PublicKey::from([0u8; 32]);
        assert!(matches!(
            Keys::new(&zero, &ours),
            Err(Error::Crypto("low-order short-term key"))
        ));
    }
}
