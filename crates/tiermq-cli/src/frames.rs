//! How messages look on stdin and stdout: lines with tab-separated frames,
//! or length-prefixed raw frames for binary data.
//!
//! **Text** (the default): one message per line, its frames separated by a
//! tab. The newline ends the message and is not part of it. So a frame cannot
//! hold a tab or a newline in text mode; use raw mode for that.
//!
//! **Raw** (`--raw`): each frame is a 4-byte big-endian header followed by
//! the frame's bytes. The header's top bit is MORE (another frame of the same
//! message follows); its low 31 bits are the frame's length. A message is one
//! or more frames, the last without MORE.
//!
//! ```text
//! 8000 0003 'a' 'b' 'c'   0000 0002 'h' 'i'    a two-frame message: "abc", "hi"
//! ```

use std::io::{self, BufRead, Read, Write};

use tiermq::Bytes;

/// The frames of one message.
pub type Frames = Vec<Bytes>;

/// The MORE bit of a raw frame header.
pub const RAW_MORE: u32 = 1 << 31;
/// The largest frame a raw header can describe (2^31 - 1 bytes).
pub const RAW_MAX_LEN: u32 = RAW_MORE - 1;

/// Lines or raw frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Tab-separated frames, one message per line.
    Text,
    /// Length-prefixed frames (see the module docs).
    Raw,
}

/// Reads whole messages from `input` in `format`; `Ok(None)` at a clean end.
///
/// Memory grows with the bytes actually read, never with a claimed length.
///
/// Errors: `InvalidData` for raw input that ends inside a frame or after a
/// frame flagged MORE; the reader's own errors.
pub fn read_message<R: BufRead>(input: &mut R, format: Format) -> io::Result<Option<Frames>> {
    match format {
        Format::Text => read_line(input),
        Format::Raw => read_raw(input),
    }
}

fn read_line<R: BufRead>(input: &mut R) -> io::Result<Option<Frames>> {
    let mut line = Vec::new();
    if input.read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Ok(Some(split_tabs(&line)))
}

/// Splits a line into frames at each tab.
pub fn split_tabs(line: &[u8]) -> Frames {
    line.split(|&b| b == b'\t')
        .map(Bytes::copy_from_slice)
        .collect()
}

fn read_raw<R: BufRead>(input: &mut R) -> io::Result<Option<Frames>> {
    let mut frames = Frames::new();
    loop {
        let mut header = [0u8; 4];
        let got = read_full(input, &mut header)?;
        if got == 0 && frames.is_empty() {
            return Ok(None);
        }
        if got < header.len() {
            return Err(bad_raw(if frames.is_empty() {
                "input ended inside a frame header"
            } else {
                "input ended after a frame flagged MORE"
            }));
        }
        let word = u32::from_be_bytes(header);
        let len = u64::from(word & RAW_MAX_LEN);
        let mut body = Vec::new();
        input.by_ref().take(len).read_to_end(&mut body)?;
        if body.len() as u64 != len {
            return Err(bad_raw("input ended inside a frame"));
        }
        frames.push(Bytes::from(body));
        if word & RAW_MORE == 0 {
            return Ok(Some(frames));
        }
    }
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_full<R: Read>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn bad_raw(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("raw input: {what}"))
}

/// Writes one message in `format`. With `hex_identity`, the first frame is
/// written as lower-case hex in text mode (ROUTER's peer identity); raw mode
/// writes every frame as is.
///
/// Errors: `InvalidData` for a frame too long for a raw header; the
/// writer's own errors.
pub fn write_message<W: Write>(
    out: &mut W,
    format: Format,
    frames: &[Bytes],
    hex_identity: bool,
) -> io::Result<()> {
    match format {
        Format::Text => {
            for (i, frame) in frames.iter().enumerate() {
                if i > 0 {
                    out.write_all(b"\t")?;
                }
                if i == 0 && hex_identity {
                    out.write_all(hex(frame).as_bytes())?;
                } else {
                    out.write_all(frame)?;
                }
            }
            out.write_all(b"\n")
        }
        Format::Raw => {
            for (i, frame) in frames.iter().enumerate() {
                let len = u32::try_from(frame.len())
                    .ok()
                    .filter(|&n| n <= RAW_MAX_LEN)
                    .ok_or_else(|| bad_raw("frame longer than 2^31 - 1 bytes"))?;
                let more = if i + 1 < frames.len() { RAW_MORE } else { 0 };
                out.write_all(&(len | more).to_be_bytes())?;
                out.write_all(frame)?;
            }
            Ok(())
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Decodes hex (either case); `None` if `text` is not an even number of hex digits.
pub fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| char::from(c).to_digit(16);
    text.chunks_exact(2)
        .map(|p| {
            let hi = digit(p[0])?;
            let lo = digit(p[1])?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(parts: &[&[u8]]) -> Frames {
        parts.iter().map(|p| Bytes::copy_from_slice(p)).collect()
    }

    fn read_all(bytes: &[u8], format: Format) -> io::Result<Vec<Frames>> {
        let mut input = bytes;
        let mut out = Vec::new();
        while let Some(m) = read_message(&mut input, format)? {
            out.push(m);
        }
        Ok(out)
    }

    #[test]
    fn text_lines_split_at_tabs() {
        let got = read_all(b"hello\na\tb\n\nlast", Format::Text).unwrap();
        assert_eq!(
            got,
            [
                frames(&[b"hello"]),
                frames(&[b"a", b"b"]),
                frames(&[b""]),
                frames(&[b"last"])
            ]
        );
    }

    #[test]
    fn text_output_joins_with_tabs_and_hexes_identities() {
        let mut out = Vec::new();
        write_message(
            &mut out,
            Format::Text,
            &frames(&[b"\x00\xab", b"", b"hi"]),
            true,
        )
        .unwrap();
        write_message(&mut out, Format::Text, &frames(&[b"x", b"y"]), false).unwrap();
        assert_eq!(out, b"00ab\t\thi\nx\ty\n");
    }

    #[test]
    fn raw_round_trips_binary_frames() {
        let msgs = [
            frames(&[b"a\tb\nc", b"", b"\x00\xff"]),
            frames(&[b""]),
            frames(&[&[7u8; 300]]),
        ];
        let mut out = Vec::new();
        for m in &msgs {
            write_message(&mut out, Format::Raw, m, true).unwrap();
        }
        assert_eq!(&out[..8], &[0x80, 0, 0, 5, b'a', b'\t', b'b', b'\n']);
        assert_eq!(read_all(&out, Format::Raw).unwrap(), msgs);
    }

    #[test]
    fn truncated_raw_input_is_an_error_not_a_panic() {
        for bad in [
            &b"\x00\x00"[..],
            b"\x00\x00\x00\x05ab",
            b"\x80\x00\x00\x01a",
            b"\x80\x00\x00\x01a\x00",
        ] {
            let e = read_all(bad, Format::Raw).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{bad:?}");
        }
        // A huge claimed length with no data behind it allocates nothing big.
        let e = read_all(b"\x7f\xff\xff\xffxyz", Format::Raw).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(b"\x00\x01\xfe"), "0001fe");
        assert_eq!(unhex(b"0001FE"), Some(vec![0, 1, 0xfe]));
        assert_eq!(unhex(b"abc"), None);
        assert_eq!(unhex(b"zz"), None);
    }
}
