//! Z85 (ZeroMQ RFC 32): the printable encoding of CURVE keys.
//!
//! Every 4 bytes become 5 characters from an 85-character alphabet, so a
//! 32-byte key is 40 characters. Input lengths must be multiples of 4
//! (encoding) or 5 (decoding), as the RFC requires.

use std::fmt;

const ALPHABET: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Why [`decode`] or [`encode`] refused its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Z85Error {
    /// The input length is not a multiple of 4 (encode) or 5 (decode).
    BadLength(usize),
    /// A character outside the Z85 alphabet, at this index.
    BadChar(usize),
    /// A 5-character group whose value is above 2^32 - 1, at this index.
    Overflow(usize),
}

impl fmt::Display for Z85Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Z85Error::BadLength(n) => write!(f, "Z85 input length {n} is not a whole group"),
            Z85Error::BadChar(i) => write!(f, "Z85 input has a bad character at {i}"),
            Z85Error::Overflow(i) => write!(f, "Z85 group at {i} overflows 32 bits"),
        }
    }
}

impl std::error::Error for Z85Error {}

/// Encodes `data`, whose length must be a multiple of 4.
///
/// # Errors
/// [`Z85Error::BadLength`] otherwise.
pub fn encode(data: &[u8]) -> Result<String, Z85Error> {
    if !data.len().is_multiple_of(4) {
        return Err(Z85Error::BadLength(data.len()));
    }
    let mut out = String::with_capacity(data.len() / 4 * 5);
    for chunk in data.chunks_exact(4) {
        let mut value = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let mut group = [0u8; 5];
        for slot in group.iter_mut().rev() {
            *slot = ALPHABET[(value % 85) as usize];
            value /= 85;
        }
        out.extend(group.iter().map(|&b| char::from(b)));
    }
    Ok(out)
}

/// Decodes `text`, whose length must be a multiple of 5.
///
/// # Errors
/// [`Z85Error`] for a bad length, a character outside the alphabet, or a
/// group above 32 bits.
pub fn decode(text: &str) -> Result<Vec<u8>, Z85Error> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(5) {
        return Err(Z85Error::BadLength(text.len()));
    }
    let mut out = Vec::with_capacity(text.len() / 5 * 4);
    for (g, group) in text.chunks_exact(5).enumerate() {
        let mut value: u64 = 0;
        for (i, &c) in group.iter().enumerate() {
            let digit = ALPHABET
                .iter()
                .position(|&a| a == c)
                .ok_or(Z85Error::BadChar(g * 5 + i))?;
            value = value * 85 + digit as u64;
        }
        let value = u32::try_from(value).map_err(|_| Z85Error::Overflow(g * 5))?;
        out.extend_from_slice(&value.to_be_bytes());
    }
    Ok(out)
}

/// Decodes a 40-character Z85 key into its 32 bytes.
///
/// # Errors
/// As [`decode`], and [`Z85Error::BadLength`] for any length but 40.
pub fn decode_key(text: &str) -> Result<[u8; 32], Z85Error> {
    if text.len() != 40 {
        return Err(Z85Error::BadLength(text.len()));
    }
    let bytes = decode(text)?;
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes);
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc32_test_vector() {
        let data = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
        assert_eq!(encode(&data).unwrap(), "HelloWorld");
        assert_eq!(decode("HelloWorld").unwrap(), data);
    }

    #[test]
    fn round_trips_a_key() {
        let key: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37)).collect();
        let text = encode(&key).unwrap();
        assert_eq!(text.len(), 40);
        assert_eq!(decode_key(&text).unwrap().to_vec(), key);
        assert_eq!(encode(&[0xFF; 4]).unwrap(), "%nSc0");
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(encode(&[1, 2, 3]), Err(Z85Error::BadLength(3)));
        assert_eq!(decode("Hello Worl"), Err(Z85Error::BadChar(5)));
        assert_eq!(decode("abcd"), Err(Z85Error::BadLength(4)));
        // "%nSc1" is 2^32: one above the largest group.
        assert_eq!(decode("%nSc1"), Err(Z85Error::Overflow(0)));
        assert_eq!(decode_key("HelloWorld"), Err(Z85Error::BadLength(10)));
    }
}
