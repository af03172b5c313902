//! Command frames: READY, ERROR, PING, PONG, SUBSCRIBE, CANCEL.

use crate::frame::{self, COMMAND};
use crate::{Error, Metadata};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::time::Duration;

/// Longest PING context RFC 37 allows.
pub(crate) const MAX_PING_CONTEXT: usize = 16;

/// A parsed command. Data fields are slices of the frame, not copies.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Ready(Metadata),
    Error(String),
    Ping {
        ttl: Duration,
        context: Bytes,
    },
    Pong {
        context: Bytes,
    },
    Subscribe(Bytes),
    Cancel(Bytes),
    /// A well-formed command we do not know.
    Other(String),
}

/// Parses a command frame's body (name length, name, data).
pub(crate) fn parse(mut body: Bytes) -> Result<Command, Error> {
    let Some(&name_len) = body.first() else {
        return Err(Error::MalformedCommand("empty command frame"));
    };
    let name_len = usize::from(name_len);
    if body.len() < 1 + name_len {
        return Err(Error::MalformedCommand("command name longer than frame"));
    }
    body.advance(1);
    let name = body.split_to(name_len);
    let data = body;
    Ok(match &name[..] {
        b"READY" => Command::Ready(parse_properties(data)?),
        b"ERROR" => {
            let Some(&len) = data.first() else {
                return Err(Error::MalformedCommand("ERROR without reason length"));
            };
            let reason = data
                .get(1..1 + usize::from(len))
                .ok_or(Error::MalformedCommand("ERROR reason longer than frame"))?;
            Command::Error(String::from_utf8_lossy(reason).into_owned())
        }
        b"PING" => {
            if data.len() < 2 {
                return Err(Error::MalformedCommand("PING without TTL"));
            }
            if data.len() > 2 + MAX_PING_CONTEXT {
                return Err(Error::MalformedCommand("PING context longer than 16 bytes"));
            }
            let ttl = u64::from(u16::from_be_bytes([data[0], data[1]]));
            Command::Ping {
                ttl: Duration::from_millis(ttl * 100),
                context: data.slice(2..),
            }
        }
        b"PONG" => {
            if data.len() > MAX_PING_CONTEXT {
                return Err(Error::MalformedCommand("PONG context longer than 16 bytes"));
            }
            Command::Pong { context: data }
        }
        b"SUBSCRIBE" => Command::Subscribe(data),
        b"CANCEL" => Command::Cancel(data),
        other => Command::Other(String::from_utf8_lossy(other).into_owned()),
    })
}

/// Parses READY/metadata properties: name-len(1) name value-len(4, BE) value.
pub(crate) fn parse_properties(mut data: Bytes) -> Result<Metadata, Error> {
    let mut md = Metadata::new();
    while !data.is_empty() {
        let name_len = usize::from(data[0]);
        if name_len == 0 {
            return Err(Error::MalformedCommand("empty property name"));
        }
        if data.len() < 1 + name_len + 4 {
            return Err(Error::MalformedCommand("property truncated"));
        }
        data.advance(1);
        let name = data.split_to(name_len);
        let name = std::str::from_utf8(&name)
            .map_err(|_| Error::MalformedCommand("property name not UTF-8"))?;
        let value_len = data.get_u32();
        let value_len = usize::try_from(value_len)
            .ok()
            .filter(|&n| n <= data.len())
            .ok_or(Error::MalformedCommand("property value longer than frame"))?;
        md.push(name, data.split_to(value_len));
    }
    Ok(md)
}

/// Appends one command frame with `name` and data made of `parts`.
fn put(dst: &mut BytesMut, name: &str, parts: &[&[u8]]) {
    let size = 1 + name.len() + parts.iter().map(|p| p.len()).sum::<usize>();
    frame::put_header(dst, COMMAND, size);
    dst.put_u8(name.len() as u8);
    dst.put_slice(name.as_bytes());
    for p in parts {
        dst.put_slice(p);
    }
}

/// Whether a property fits the wire format (name 1..=255 bytes, value < 4 GiB).
pub(crate) fn property_fits(name: &str, value: &[u8]) -> bool {
    (1..=255).contains(&name.len()) && u32::try_from(value.len()).is_ok()
}

/// Encodes `props` in the property format (callers pass only properties
/// that fit).
pub(crate) fn encode_properties<'p>(props: impl Iterator<Item = (&'p str, &'p [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in props {
        out.put_u8(name.len() as u8);
        out.put_slice(name.as_bytes());
        out.put_u32(value.len() as u32);
        out.put_slice(value);
    }
    out
}

/// Appends READY with `props` (callers pass only properties that fit).
pub(crate) fn put_ready<'p>(
    dst: &mut BytesMut,
    props: impl Iterator<Item = (&'p str, &'p [u8])> + Clone,
) {
    let data_len: usize = props.clone().map(|(n, v)| 1 + n.len() + 4 + v.len()).sum();
    frame::put_header(dst, COMMAND, 1 + 5 + data_len);
    dst.put_u8(5);
    dst.put_slice(b"READY");
    for (name, value) in props {
        dst.put_u8(name.len() as u8);
        dst.put_slice(name.as_bytes());
        dst.put_u32(value.len() as u32);
        dst.put_slice(value);
    }
}

/// Appends ERROR; the reason is cut to 255 bytes at a character boundary.
pub(crate) fn put_error(dst: &mut BytesMut, reason: &str) {
    let mut end = reason.len().min(255);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    put(dst, "ERROR", &[&[end as u8], &reason.as_bytes()[..end]]);
}

/// Appends PING with `ttl` (rounded down to deciseconds, saturating) and `context`.
pub(crate) fn put_ping(dst: &mut BytesMut, ttl: Duration, context: &[u8]) {
    let deci = u16::try_from(ttl.as_millis() / 100).unwrap_or(u16::MAX);
    put(dst, "PING", &[&deci.to_be_bytes(), context]);
}

/// Appends PONG echoing `context`.
pub(crate) fn put_pong(dst: &mut BytesMut, context: &[u8]) {
    put(dst, "PONG", &[context]);
}

/// Appends SUBSCRIBE for `topic`.
pub(crate) fn put_subscribe(dst: &mut BytesMut, topic: &[u8]) {
    put(dst, "SUBSCRIBE", &[topic]);
}

/// Appends CANCEL for `topic`.
pub(crate) fn put_cancel(dst: &mut BytesMut, topic: &[u8]) {
    put(dst, "CANCEL", &[topic]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(frame: &BytesMut) -> Bytes {
        let h = frame::parse(frame).unwrap().unwrap();
        assert!(h.command());
        Bytes::copy_from_slice(&frame[h.header_len..])
    }

    #[test]
    fn ready_bytes_match_rfc37() {
        let mut b = BytesMut::new();
        put_ready(&mut b, [("Socket-Type", &b"PUSH"[..])].into_iter());
        let mut expect = vec![0x04, 26, 5];
        expect.extend_from_slice(b"READY");
        expect.push(11);
        expect.extend_from_slice(b"Socket-Type");
        expect.extend_from_slice(&[0, 0, 0, 4]);
        expect.extend_from_slice(b"PUSH");
        assert_eq!(&b[..], &expect[..]);
        let Command::Ready(md) = parse(body(&b)).unwrap() else {
            panic!("not READY")
        };
        assert_eq!(md.get("socket-type").unwrap(), &Bytes::from_static(b"PUSH"));
    }

    #[test]
    fn ping_pong_error_subscribe_round_trip() {
        let mut b = BytesMut::new();
        put_ping(&mut b, Duration::from_millis(1234), b"ctx");
        assert_eq!(&b[..], b"\x04\x0a\x04PING\x00\x0cctx");
        assert_eq!(
            parse(body(&b)).unwrap(),
            Command::Ping {
                ttl: Duration::from_millis(1200),
                context: Bytes::from_static(b"ctx")
            }
        );
        b.clear();
        put_pong(&mut b, b"ctx");
        assert_eq!(
            parse(body(&b)).unwrap(),
            Command::Pong {
                context: Bytes::from_static(b"ctx")
            }
        );
        b.clear();
        put_error(&mut b, "nope");
        assert_eq!(&b[..], b"\x04\x0b\x05ERROR\x04nope");
        assert_eq!(parse(body(&b)).unwrap(), Command::Error("nope".into()));
        b.clear();
        put_subscribe(&mut b, b"topic");
        assert_eq!(
            parse(body(&b)).unwrap(),
            Command::Subscribe(Bytes::from_static(b"topic"))
        );
        b.clear();
        put_cancel(&mut b, b"");
        assert_eq!(parse(body(&b)).unwrap(), Command::Cancel(Bytes::new()));
    }

    #[test]
    fn long_error_reason_is_cut_at_char_boundary() {
        let reason = "é".repeat(200);
        let mut b = BytesMut::new();
        put_error(&mut b, &reason);
        let Command::Error(got) = parse(body(&b)).unwrap() else {
            panic!("not ERROR")
        };
        assert_eq!(got, "é".repeat(127));
    }

    #[test]
    fn malformed_bodies_are_errors() {
        for bad in [
            &b""[..],
            b"\x05REA",
            b"\x05READY\x00",
            b"\x05READY\x03abc\x00\x00",
            b"\x05READY\x03abc\x00\x00\x00\x09short",
            b"\x05READY\x02\xff\xfe\x00\x00\x00\x00",
            b"\x05ERROR",
            b"\x05ERROR\x09short",
            b"\x04PING\x00",
            b"\x04PING\x00\x00aaaaaaaaaaaaaaaaa",
            b"\x04PONGaaaaaaaaaaaaaaaaa",
        ] {
            assert!(
                matches!(
                    parse(Bytes::from_static(bad)),
                    Err(Error::MalformedCommand(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse(Bytes::from_static(b"\x03FOOdata")).unwrap(),
            Command::Other("FOO".into())
        );
    }
}
