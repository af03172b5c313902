//! The box around each CURVE MESSAGE: NaCl's `crypto_box_afternm`
//! (XSalsa20, Poly1305) under the connection's precomputed key, built two
//! ways because no one build is fastest at every size.
//!
//! - Short boxes (under [`SHORT`] bytes): RustCrypto's `salsa20` for the
//!   keystream and orion's Poly1305 (fiat-crypto's verified arithmetic). A
//!   Poly1305 key is new for every box, and the AVX2 Poly1305 under
//!   `salsabox` spends about 0.7 µs setting one up, most of a small box's
//!   cost: 16 bytes cost 0.19 µs this way against 0.88 µs.
//! - Long boxes: `salsabox`, whose SIMD Salsa20 and AVX2 Poly1305 win once
//!   the setup is paid off (at 4 KiB, 3.4 µs against 7.1 µs).
//!
//! Both are the same function of key, nonce and bytes; tests hold them to
//! `crypto_box` at every length around the switch.

use orion::hazardous::mac::poly1305::{OneTimeKey, Poly1305, Tag};
use salsa20::XSalsa20;
use salsa20::cipher::{KeyIvInit, StreamCipher};
use zeroize::Zeroizing;

/// Boxes shorter than this take the short path. Measured crossover: equal
/// cost at about 1 KiB (1.93 against 2.06 µs), the short path 4.5 times
/// faster at 16 bytes and 2.3 times at 256.
const SHORT: usize = 1024;

/// A box's Poly1305 tag length: a box is this much longer than its plaintext.
pub(crate) const TAG: usize = 16;

/// One connection's MESSAGE key (libsodium's "beforenm" result).
pub(crate) struct MessageKey {
    key: Zeroizing<[u8; 32]>,
    long: salsabox::SecretBox,
}

/// A box that did not open: wrong key, nonce or bytes.
#[derive(Debug)]
pub(crate) struct BadBox;

impl MessageKey {
    /// The key of `crypto_box_beforenm` from an X25519 shared secret; `None`
    /// for an all-zero one (a low-order peer key), as libsodium refuses it.
    pub(crate) fn from_shared_secret(shared: &[u8; 32]) -> Option<MessageKey> {
        // salsabox's check for an all-zero secret runs in constant time;
        // the key is then derived as it derives it (HSalsa20 of the shared
        // secret under a zero nonce), once per connection.
        salsabox::BoxKey::from_shared_secret(shared)?;
        let key = Zeroizing::new(salsabox::hsalsa20(shared, &[0u8; 16]));
        let long = salsabox::SecretBox::from_key(&key);
        Some(MessageKey { key, long })
    }

    /// Encrypts `buf` in place; returns the tag.
    pub(crate) fn seal(&self, nonce: &[u8; 24], buf: &mut [u8]) -> [u8; TAG] {
        if buf.len() >= SHORT {
            return self.long.encrypt_detached(nonce, buf);
        }
        let (mut stream, mac_key) = self.stream(nonce);
        stream.apply_keystream(buf);
        let tag = Poly1305::poly1305(&mac_key, buf).expect("Poly1305 takes any length");
        let mut out = [0u8; TAG];
        out.copy_from_slice(tag.unprotected_as_ref());
        out
    }

    /// Checks `tag`, then decrypts `buf` in place; `buf` is left as it was
    /// when the tag is wrong.
    pub(crate) fn open(
        &self,
        nonce: &[u8; 24],
        buf: &mut [u8],
        tag: &[u8; TAG],
    ) -> Result<(), BadBox> {
        if buf.len() >= SHORT {
            return self
                .long
                .decrypt_detached(nonce, buf, tag)
                .map_err(|_| BadBox);
        }
        let (mut stream, mac_key) = self.stream(nonce);
        let tag = Tag::try_from(&tag[..]).map_err(|_| BadBox)?;
        // Constant-time comparison (orion's).
        Poly1305::verify(&tag, &mac_key, buf).map_err(|_| BadBox)?;
        stream.apply_keystream(buf);
        Ok(())
    }

    /// The XSalsa20 stream for `nonce`, past its first 32 bytes, which are
    /// the box's Poly1305 key.
    fn stream(&self, nonce: &[u8; 24]) -> (XSalsa20, OneTimeKey) {
        let mut stream = XSalsa20::new((&*self.key).into(), nonce.into());
        let mut first = Zeroizing::new([0u8; 32]);
        stream.apply_keystream(&mut first[..]);
        let mac_key = OneTimeKey::try_from(&first[..]).expect("a Poly1305 key is 32 bytes");
        (stream, mac_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto_box::aead::AeadInPlace;
    use crypto_box::aead::generic_array::GenericArray;
    use crypto_box::{SalsaBox, SecretKey};
    use curve25519_dalek::MontgomeryPoint;

    /// Our key and `crypto_box`'s for the same two key pairs.
    fn keys() -> (MessageKey, SalsaBox) {
        let ours = SecretKey::from([7u8; 32]);
        let theirs = SecretKey::from([9u8; 32]);
        let dh = MontgomeryPoint(theirs.public_key().to_bytes()).mul_clamped([7u8; 32]);
        let key = MessageKey::from_shared_secret(&dh.to_bytes()).unwrap();
        (key, SalsaBox::new(&ours.public_key(), &theirs))
    }

    fn bytes(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(73) ^ 0x5a)
            .collect()
    }

    #[test]
    fn both_paths_are_crypto_box_at_every_length_around_the_switch() {
        let (key, peer) = keys();
        let lengths = (0..80).chain(SHORT - 70..SHORT + 70).chain([4096, 65536]);
        for (i, len) in lengths.enumerate() {
            let mut nonce = [0x33u8; 24];
            nonce[16..].copy_from_slice(&(i as u64).to_be_bytes());
            let plain = bytes(len);
            // Ours seals, crypto_box opens.
            let mut buf = plain.clone();
            let tag = key.seal(&nonce, &mut buf);
            let mut theirs = buf.clone();
            peer.decrypt_in_place_detached(
                GenericArray::from_slice(&nonce),
                b"",
                &mut theirs,
                GenericArray::from_slice(&tag),
            )
            .unwrap_or_else(|_| panic!("crypto_box opens our {len}-byte box"));
            assert_eq!(theirs, plain, "{len} bytes");
            // crypto_box seals, ours opens.
            let mut buf = plain.clone();
            let tag = peer
                .encrypt_in_place_detached(GenericArray::from_slice(&nonce), b"", &mut buf)
                .unwrap();
            let tag: [u8; TAG] = tag.into();
            key.open(&nonce, &mut buf, &tag)
                .unwrap_or_else(|_| panic!("we open crypto_box's {len}-byte box"));
            assert_eq!(buf, plain, "{len} bytes");
        }
    }

    #[test]
    fn a_changed_byte_tag_or_nonce_does_not_open_and_leaves_the_bytes() {
        let (key, _) = keys();
        for len in [1, 40, SHORT - 1, SHORT, 3000] {
            let nonce = [0x44u8; 24];
            let mut sealed = bytes(len);
            let tag = key.seal(&nonce, &mut sealed);
            let mut flipped = sealed.clone();
            flipped[len / 2] ^= 1;
            let before = flipped.clone();
            assert!(key.open(&nonce, &mut flipped, &tag).is_err(), "{len}: byte");
            assert_eq!(flipped, before, "{len}: a refused box is untouched");
            let mut bad_tag = tag;
            bad_tag[0] ^= 0x80;
            assert!(
                key.open(&nonce, &mut sealed.clone(), &bad_tag).is_err(),
                "{len}: tag"
            );
            let mut other = nonce;
            other[23] ^= 1;
            assert!(
                key.open(&other, &mut sealed.clone(), &tag).is_err(),
                "{len}: nonce"
            );
            key.open(&nonce, &mut sealed, &tag)
                .expect("the untouched box opens");
            assert_eq!(sealed, bytes(len));
        }
    }

    #[test]
    fn an_all_zero_shared_secret_is_refused() {
        assert!(MessageKey::from_shared_secret(&[0u8; 32]).is_none());
    }
}
