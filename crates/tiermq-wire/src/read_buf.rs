//! What the session decodes from: received bytes, as a `BytesMut` read
//! buffer or as `Bytes` (a read frozen whole, see
//! [`Session::handle_read_into`](crate::Session::handle_read_into)).

use bytes::{Buf, Bytes, BytesMut};

/// Received bytes a [`Session`](crate::Session) decodes from. Frames are
/// split off the front without copying.
///
/// Implemented for [`BytesMut`] and [`Bytes`]; sealed.
pub trait ReadBuf: Buf + AsRef<[u8]> + private::Sealed {
    /// Splits off the first `n` bytes as a frame body.
    fn split_frame(&mut self, n: usize) -> Bytes;
}

impl ReadBuf for BytesMut {
    fn split_frame(&mut self, n: usize) -> Bytes {
        self.split_to(n).freeze()
    }
}

impl ReadBuf for Bytes {
    fn split_frame(&mut self, n: usize) -> Bytes {
        self.split_to(n)
    }
}

mod private {
    pub trait Sealed {}
    impl Sealed for bytes::BytesMut {}
    impl Sealed for bytes::Bytes {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_split_the_same_bytes() {
        let mut m = BytesMut::from(&b"abcdef"[..]);
        let mut b = Bytes::from_static(b"abcdef");
        assert_eq!(m.split_frame(2), b.split_frame(2));
        assert_eq!(m.split_frame(3), b.split_frame(3));
        assert_eq!(&m[..], b"f");
        assert_eq!(&b[..], b"f");
    }
}
