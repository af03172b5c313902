//! The 64-byte ZMTP greeting: building ours, reading the peer's incrementally.

use crate::{Error, ReadBuf};

/// Length of a ZMTP 3.x greeting.
pub(crate) const LEN: usize = 64;
/// Mechanisms defined by ZMTP: another one is unknown rather than mismatched.
const KNOWN_MECHANISMS: [&str; 4] = ["NULL", "PLAIN", "CURVE", "GSSAPI"];

/// Our greeting: signature, version 3.1, `mechanism`, as-server, filler.
pub(crate) fn ours(mechanism: &str, as_server: bool) -> [u8; LEN] {
    let mut g = [0u8; LEN];
    g[0] = 0xFF;
    g[9] = 0x7F;
    g[10] = 3;
    g[11] = 1;
    g[12..12 + mechanism.len()].copy_from_slice(mechanism.as_bytes());
    g[32] = u8::from(as_server);
    g
}

/// The peer's greeting fields that matter after it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Peer {
    /// `(major, minor)` version.
    pub(crate) version: (u8, u8),
    /// The as-server bit (libzmq always sends 0, so it is not checked).
    #[allow(dead_code)] // read by the unit tests
    pub(crate) as_server: bool,
}

/// The peer's greeting as it arrives, checked as soon as each field is whole,
/// so a ZMTP 1.0/2.0 peer (which waits after the first 10 or 11 bytes) is
/// refused without waiting for bytes it will never send.
#[derive(Debug)]
pub(crate) struct Reader {
    buf: [u8; LEN],
    len: usize,
    /// Our mechanism's name, which the peer's must equal.
    mechanism: &'static str,
}

impl Reader {
    pub(crate) fn new(mechanism: &'static str) -> Self {
        Self {
            buf: [0; LEN],
            len: 0,
            mechanism,
        }
    }

    /// Consumes greeting bytes from the front of `input`. Returns the peer's
    /// fields once the whole greeting has arrived and is valid.
    pub(crate) fn feed(&mut self, input: &mut impl ReadBuf) -> Result<Option<Peer>, Error> {
        let input_bytes = input.as_ref();
        let take = (LEN - self.len).min(input_bytes.len());
        let start = self.len;
        self.buf[start..start + take].copy_from_slice(&input_bytes[..take]);
        input.advance(take);
        self.len += take;
        self.check(start)?;
        if self.len < LEN {
            return Ok(None);
        }
        Ok(Some(Peer {
            version: (self.buf[10], self.buf[11]),
            as_server: self.buf[32] != 0,
        }))
    }

    /// Validates fields completed by the bytes from `start` to `self.len`.
    fn check(&self, start: usize) -> Result<(), Error> {
        let done = |i: usize| start <= i && i < self.len;
        if done(0) && self.buf[0] != 0xFF {
            return Err(Error::BadSignature);
        }
        // ZMTP 1.0 has bit 0 of byte 9 clear.
        if done(9) && self.buf[9] & 0x01 == 0 {
            return Err(Error::UnsupportedVersion { major: 1, minor: 0 });
        }
        if done(10) && self.buf[10] < 3 {
            let minor = if self.len > 11 { self.buf[11] } else { 0 };
            return Err(Error::UnsupportedVersion {
                major: self.buf[10],
                minor,
            });
        }
        if self.len == LEN && start < LEN {
            let field = &self.buf[12..32];
            let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
            let name = &field[..end];
            if name != self.mechanism.as_bytes() {
                let theirs = String::from_utf8_lossy(name).into_owned();
                return Err(if KNOWN_MECHANISMS.contains(&theirs.as_str()) {
                    Error::MechanismMismatch {
                        ours: self.mechanism.to_owned(),
                        theirs,
                    }
                } else {
                    Error::UnknownMechanism(theirs)
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn ours() -> [u8; LEN] {
        super::ours("NULL", false)
    }

    fn feed_all(bytes: &[u8]) -> Result<Option<(u8, u8)>, Error> {
        let mut r = Reader::new("NULL");
        let mut buf = BytesMut::from(bytes);
        r.feed(&mut buf).map(|p| p.map(|p| p.version))
    }

    #[test]
    fn our_greeting_matches_rfc23_layout() {
        let mut expect = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 1];
        expect.extend_from_slice(b"NULL");
        expect.resize(32, 0);
        expect.push(0); // as-server
        expect.resize(64, 0); // filler
        assert_eq!(ours().as_slice(), expect.as_slice());
    }

    #[test]
    fn accepts_any_3x_byte_by_byte() {
        for minor in [0u8, 1, 7] {
            let mut g = ours();
            g[11] = minor;
            let mut r = Reader::new("NULL");
            for (i, b) in g.iter().enumerate() {
                let mut buf = BytesMut::from(&[*b][..]);
                let got = r.feed(&mut buf).unwrap();
                assert!(buf.is_empty());
                assert_eq!(got.is_some(), i == LEN - 1);
            }
        }
    }

    #[test]
    fn leaves_bytes_after_greeting() {
        let mut buf = BytesMut::from(&ours()[..]);
        buf.extend_from_slice(b"rest");
        let mut r = Reader::new("NULL");
        assert_eq!(r.feed(&mut buf).unwrap().map(|p| p.version), Some((3, 1)));
        assert_eq!(&buf[..], b"rest");
    }

    #[test]
    fn refuses_bad_signature_and_old_versions_early() {
        assert_eq!(feed_all(&[0x01]), Err(Error::BadSignature));
        // ZMTP 2.0 peers send 10 signature bytes and the major version, then wait.
        let mut g = ours();
        g[10] = 1;
        assert_eq!(
            feed_all(&g[..11]),
            Err(Error::UnsupportedVersion { major: 1, minor: 0 })
        );
        let mut g = ours();
        g[9] = 0x7E;
        assert!(matches!(
            feed_all(&g[..10]),
            Err(Error::UnsupportedVersion { .. })
        ));
    }

    #[test]
    fn refuses_other_mechanisms() {
        let mut g = ours();
        g[12..32].fill(0);
        g[12..17].copy_from_slice(b"CURVE");
        assert_eq!(
            feed_all(&g),
            Err(Error::MechanismMismatch {
                ours: "NULL".into(),
                theirs: "CURVE".into()
            })
        );
        g[12..17].copy_from_slice(b"BOGUS");
        assert_eq!(feed_all(&g), Err(Error::UnknownMechanism("BOGUS".into())));
    }

    #[test]
    fn carries_mechanism_and_as_server() {
        let g = super::ours("CURVE", true);
        assert_eq!(&g[12..18], b"CURVE\0");
        assert_eq!(g[32], 1);
        let mut r = Reader::new("CURVE");
        let peer = r.feed(&mut BytesMut::from(&g[..])).unwrap().unwrap();
        assert!(peer.as_server);
        let mut r = Reader::new("PLAIN");
        assert_eq!(
            r.feed(&mut BytesMut::from(&g[..])),
            Err(Error::MechanismMismatch {
                ours: "PLAIN".into(),
                theirs: "CURVE".into()
            })
        );
    }
}
