//! Frame headers: flags byte plus a 1- or 8-byte big-endian size.

use crate::Error;
use bytes::{BufMut, BytesMut};

/// More frames of this message follow.
pub(crate) const MORE: u8 = 0x01;
/// The size is 8 bytes long.
pub(crate) const LONG: u8 = 0x02;
/// The frame is a command, not message data.
pub(crate) const COMMAND: u8 = 0x04;
/// Bits that must be zero.
const RESERVED: u8 = !(MORE | LONG | COMMAND);

/// Longest header: flags plus 8-byte size.
pub(crate) const MAX_HEADER: usize = 9;

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// MORE and COMMAND flags (LONG is folded into `header_len`).
    pub(crate) flags: u8,
    /// Bytes the header itself occupies (2 or 9).
    pub(crate) header_len: usize,
    /// Payload size the peer claims.
    pub(crate) size: u64,
}

impl Header {
    pub(crate) fn more(&self) -> bool {
        self.flags & MORE != 0
    }

    pub(crate) fn command(&self) -> bool {
        self.flags & COMMAND != 0
    }
}

/// Parses the header at the front of `buf`; `Ok(None)` if incomplete.
/// Rejects reserved bits, MORE on a command, and sizes no buffer can hold.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<Header>, Error> {
    let Some(&flags) = buf.first() else {
        return Ok(None);
    };
    if flags & RESERVED != 0 {
        return Err(Error::ReservedFlags(flags));
    }
    if flags & (MORE | COMMAND) == MORE | COMMAND {
        return Err(Error::MoreOnCommand);
    }
    let (header_len, size) = if flags & LONG != 0 {
        let Some(bytes) = buf.get(1..9) else {
            return Ok(None);
        };
        let mut be = [0u8; 8];
        be.copy_from_slice(bytes);
        let size = u64::from_be_bytes(be);
        // libzmq refuses these too: a long size that would fit a short one
        // is legal, but one beyond isize::MAX can never be buffered.
        if size > isize::MAX as u64 {
            return Err(Error::FrameTooLong(size));
        }
        (9, size)
    } else {
        let Some(&size) = buf.get(1) else {
            return Ok(None);
        };
        (2, u64::from(size))
    };
    Ok(Some(Header {
        flags: flags & (MORE | COMMAND),
        header_len,
        size,
    }))
}

/// Appends a header for a payload of `size` bytes; long form iff size > 255.
pub(crate) fn put_header(dst: &mut BytesMut, flags: u8, size: usize) {
    if size > 255 {
        dst.put_u8(flags | LONG);
        dst.put_u64(size as u64);
    } else {
        dst.put_u8(flags);
        dst.put_u8(size as u8);
    }
}

/// Header length for a payload of `size` bytes.
pub(crate) fn header_len(size: usize) -> usize {
    if size > 255 { 9 } else { 2 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_headers_match_rfc23() {
        let mut b = BytesMut::new();
        put_header(&mut b, 0, 5);
        assert_eq!(&b[..], &[0x00, 0x05]);
        b.clear();
        put_header(&mut b, MORE, 255);
        assert_eq!(&b[..], &[0x01, 0xFF]);
        b.clear();
        put_header(&mut b, 0, 256);
        assert_eq!(&b[..], &[0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x00]);
        b.clear();
        put_header(&mut b, COMMAND, 300);
        assert_eq!(&b[..], &[0x06, 0, 0, 0, 0, 0, 0, 0x01, 0x2C]);
        assert_eq!(header_len(255), 2);
        assert_eq!(header_len(256), 9);
    }

    #[test]
    fn parses_what_it_writes() {
        for (flags, size) in [
            (0, 0),
            (MORE, 255),
            (0, 256),
            (COMMAND, 70000),
            (MORE, 1 << 33),
        ] {
            let mut b = BytesMut::new();
            put_header(&mut b, flags, size);
            let h = parse(&b).unwrap().unwrap();
            assert_eq!(
                (h.flags, h.header_len, h.size),
                (flags, b.len(), size as u64)
            );
            for cut in 0..b.len() {
                assert_eq!(parse(&b[..cut]).unwrap(), None);
            }
        }
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(parse(&[0x08, 0]), Err(Error::ReservedFlags(0x08)));
        assert_eq!(parse(&[0xFF]), Err(Error::ReservedFlags(0xFF)));
        assert_eq!(parse(&[0x05, 0]), Err(Error::MoreOnCommand));
        assert_eq!(
            parse(&[0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
            Err(Error::FrameTooLong(u64::MAX))
        );
    }
}
