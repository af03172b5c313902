//! Security under the zmq crate's names: the `Mechanism` enum, CURVE key
//! pairs, and Z85 (RFC 32) encoding of keys. The socket options that pick
//! a mechanism are in `socket/security.rs`; ZAP is in `zap.rs`.

use std::ffi::{CString, NulError};
use std::fmt;
use std::string::FromUtf8Error;

use tiermq_wire::z85;

use crate::{Error, Result};

/// A socket's security mechanism, as [`Socket::get_mechanism`](crate::Socket::get_mechanism)
/// reports it (the zmq crate's names).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mechanism {
    /// No security.
    #[default]
    ZMQ_NULL,
    /// PLAIN (RFC 24): user name and password in clear text.
    ZMQ_PLAIN,
    /// CURVE (RFC 26): CurveZMQ encryption and authentication.
    ZMQ_CURVE,
    /// GSSAPI: not supported by tiermq; never reported.
    ZMQ_GSSAPI,
}

/// A CURVE key pair, in binary form as the zmq crate holds it.
#[derive(Debug)]
pub struct CurveKeyPair {
    /// The public key, to give to peers.
    pub public_key: [u8; 32],
    /// The secret key, to keep.
    pub secret_key: [u8; 32],
}

impl CurveKeyPair {
    /// A new key pair from the operating system's randomness.
    ///
    /// Errors: `EFAULT` if the operating system has no randomness to give.
    pub fn new() -> Result<CurveKeyPair> {
        let mut secret_key = [0u8; 32];
        getrandom::fill(&mut secret_key).map_err(|_| Error::EFAULT)?;
        Ok(CurveKeyPair {
            public_key: tiermq_wire::curve_public_key(&secret_key),
            secret_key,
        })
    }
}

/// Why [`z85_encode`] failed.
#[derive(Debug)]
pub enum EncodeError {
    /// The input length is not a multiple of 4.
    BadLength,
    /// Never produced by tiermq (the output is ASCII); kept for the zmq
    /// crate's API.
    FromUtf8Error(FromUtf8Error),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BadLength => f.write_str("Invalid data length. Should be multiple of 4."),
            EncodeError::FromUtf8Error(e) => write!(f, "UTF8 conversion error: {e}"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Why [`z85_decode`] failed.
#[derive(Debug)]
pub enum DecodeError {
    /// The input length is not a multiple of 5.
    BadLength,
    /// The input has a NUL byte.
    NulError(NulError),
    /// A character outside the Z85 alphabet, or a group above 2^32 - 1, at
    /// this index. (libzmq decodes such input into garbage; tiermq refuses it.)
    BadChar(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::BadLength => f.write_str("Invalid data length. Should be multiple of 5."),
            DecodeError::NulError(e) => write!(f, "Nul byte error: {e}"),
            DecodeError::BadChar(i) => write!(f, "Invalid Z85 character at {i}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Encodes binary data (a length that is a multiple of 4) as Z85 text.
///
/// Errors: [`EncodeError::BadLength`] otherwise.
pub fn z85_encode(data: &[u8]) -> std::result::Result<String, EncodeError> {
    z85::encode(data).map_err(|_| EncodeError::BadLength)
}

/// Decodes Z85 text (a length that is a multiple of 5) into binary data.
///
/// Errors: [`DecodeError`] for a bad length, a NUL byte or a character
/// outside the alphabet.
pub fn z85_decode(data: &str) -> std::result::Result<Vec<u8>, DecodeError> {
    CString::new(data).map_err(DecodeError::NulError)?;
    z85::decode(data).map_err(|e| match e {
        z85::Z85Error::BadLength(_) => DecodeError::BadLength,
        z85::Z85Error::BadChar(i) | z85::Z85Error::Overflow(i) => DecodeError::BadChar(i),
    })
}

/// A key option's value: 32 binary bytes, or 40 Z85 characters (41 with a
/// trailing NUL, as C callers pass it).
pub(crate) fn key(value: &[u8]) -> Result<[u8; 32]> {
    let value = match value {
        [text @ .., 0] if value.len() == 41 => text,
        _ => value,
    };
    match value.len() {
        32 => {
            let mut k = [0u8; 32];
            k.copy_from_slice(value);
            Ok(k)
        }
        40 => {
            let text = std::str::from_utf8(value).map_err(|_| Error::EINVAL)?;
            z85::decode_key(text).map_err(|_| Error::EINVAL)
        }
        _ => Err(Error::EINVAL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_32_bytes_or_40_z85_characters() {
        let pair = CurveKeyPair::new().unwrap();
        let text = z85_encode(&pair.public_key).unwrap();
        assert_eq!(key(&pair.public_key).unwrap(), pair.public_key);
        assert_eq!(key(text.as_bytes()).unwrap(), pair.public_key);
        let mut nul = text.clone().into_bytes();
        nul.push(0);
        assert_eq!(key(&nul).unwrap(), pair.public_key);
        assert_eq!(key(b"short"), Err(Error::EINVAL));
        assert_eq!(key(&[b'~'; 40]), Err(Error::EINVAL));
        assert_eq!(
            tiermq_wire::curve_public_key(&pair.secret_key),
            pair.public_key
        );
    }

    #[test]
    fn z85_functions_follow_the_zmq_crate() {
        assert_eq!(
            z85_encode(&[0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]).unwrap(),
            "HelloWorld"
        );
        assert!(matches!(z85_encode(&[1]), Err(EncodeError::BadLength)));
        assert_eq!(
            z85_decode("HelloWorld").unwrap(),
            [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        );
        assert!(matches!(z85_decode("Hell"), Err(DecodeError::BadLength)));
        assert!(matches!(
            z85_decode("Hell\0"),
            Err(DecodeError::NulError(_))
        ));
        assert!(matches!(z85_decode("Hell~"), Err(DecodeError::BadChar(4))));
    }
}
