//! Items encoded ahead of the session: the bytes a NULL-mechanism session
//! would write for a message or subscription change, made on the sender's
//! thread so that the writer only moves bytes (see `Session::send_encoded`).
//!
//! Only for sessions whose output is not sealed (NULL mechanism) and whose
//! peer speaks ZMTP 3.1: subscriptions are always SUBSCRIBE/CANCEL commands
//! here. [`decode_item`] turns the bytes back into the item, so a message
//! that was encoded but never written can still be rerouted.

use crate::command::{self, Command};
use crate::frame::{self, MORE};
use crate::{Item, Multipart};
use bytes::{Buf, Bytes, BytesMut};

/// Where [`encode_item`] puts an item's bytes.
pub trait ItemSink {
    /// The buffer small frames and headers are appended to, with room for
    /// at least `additional` more bytes.
    fn buf(&mut self, additional: usize) -> &mut BytesMut;
    /// A payload passed by reference: it follows what `buf` holds so far.
    fn shared(&mut self, payload: Bytes);
}

/// Appends the wire bytes of `item`: frame headers and payloads below
/// `zero_copy_threshold` bytes into the sink's buffer, larger payloads by
/// reference. A message with no frames produces nothing (ZMTP cannot carry
/// one; [`decode_item`] then yields `None`).
pub fn encode_item(item: &Item, zero_copy_threshold: usize, sink: &mut impl ItemSink) {
    match item {
        Item::Message(msg) => {
            let last = msg.len().saturating_sub(1);
            for (i, f) in msg.frames().iter().enumerate() {
                let flags = if i < last { MORE } else { 0 };
                if f.len() >= zero_copy_threshold.max(1) {
                    frame::put_header(sink.buf(frame::MAX_HEADER), flags, f.len());
                    sink.shared(f.clone());
                } else {
                    let buf = sink.buf(frame::MAX_HEADER + f.len());
                    frame::put_header(buf, flags, f.len());
                    buf.extend_from_slice(f);
                }
            }
        }
        Item::Subscribe(topic) => command::put_subscribe(sink.buf(16 + topic.len()), topic),
        Item::Cancel(topic) => command::put_cancel(sink.buf(16 + topic.len()), topic),
    }
}

/// Takes the first item [`encode_item`] wrote off the front of `buf`.
/// `None` when `buf` is empty or does not start with a whole item (then
/// `buf` is emptied: these bytes came from us, so that is a bug, not input).
pub fn decode_item(buf: &mut Bytes) -> Option<Item> {
    let mut msg = Multipart::new();
    loop {
        let Ok(Some(h)) = frame::parse(buf) else {
            buf.clear();
            return None;
        };
        let size = usize::try_from(h.size).ok()?;
        if buf.len() < h.header_len + size {
            buf.clear();
            return None;
        }
        buf.advance(h.header_len);
        let body = buf.split_to(size);
        if h.command() {
            return match command::parse(body) {
                Ok(Command::Subscribe(t)) if msg.is_empty() => Some(Item::Subscribe(t)),
                Ok(Command::Cancel(t)) if msg.is_empty() => Some(Item::Cancel(t)),
                _ => {
                    buf.clear();
                    None
                }
            };
        }
        msg.push(body);
        if !h.more() {
            return Some(Item::Message(msg));
        }
    }
}

/// An [`ItemSink`] that writes everything into one buffer (payloads copied).
impl ItemSink for BytesMut {
    fn buf(&mut self, additional: usize) -> &mut BytesMut {
        self.reserve(additional);
        self
    }

    fn shared(&mut self, payload: Bytes) {
        self.extend_from_slice(&payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(frames: &[&[u8]]) -> Item {
        Item::Message(frames.iter().map(|f| Bytes::copy_from_slice(f)).collect())
    }

    /// Chunks as a pipe keeps them: the buffer sealed before each shared payload.
    #[derive(Default)]
    struct Chunks {
        done: Vec<Bytes>,
        buf: BytesMut,
    }

    impl ItemSink for Chunks {
        fn buf(&mut self, additional: usize) -> &mut BytesMut {
            self.buf.reserve(additional);
            &mut self.buf
        }
        fn shared(&mut self, payload: Bytes) {
            self.done.push(self.buf.split().freeze());
            self.done.push(payload);
        }
    }

    #[test]
    fn round_trips_messages_and_subscriptions() {
        let items = [
            msg(&[b"a"]),
            msg(&[b"", b"two", &[7u8; 300]]),
            Item::Subscribe(Bytes::from_static(b"topic")),
            Item::Cancel(Bytes::new()),
            msg(&[&[1u8; 5000], b"tail"]),
        ];
        let mut sink = Chunks::default();
        for item in &items {
            encode_item(item, 1024, &mut sink);
        }
        let mut all = BytesMut::new();
        for c in sink.done.iter().chain([&sink.buf.split().freeze()]) {
            all.extend_from_slice(c);
        }
        // The big payload went by reference, not copied.
        assert!(sink.done.iter().any(|c| c.len() == 5000));
        let mut all = all.freeze();
        for item in items {
            assert_eq!(decode_item(&mut all), Some(item));
        }
        assert!(all.is_empty());
        assert_eq!(decode_item(&mut all), None);
    }

    #[test]
    fn the_bytes_are_what_the_session_writes() {
        let mut b = BytesMut::new();
        encode_item(&msg(&[b"ab", b"c"]), 1024, &mut b);
        assert_eq!(&b[..], b"\x01\x02ab\x00\x01c");
        let mut s = BytesMut::new();
        encode_item(&Item::Subscribe(Bytes::from_static(b"x")), 1024, &mut s);
        assert_eq!(&s[..], b"\x04\x0b\x09SUBSCRIBEx");
    }

    #[test]
    fn a_truncated_item_is_none() {
        let mut b = BytesMut::new();
        encode_item(&msg(&[b"abc", b"d"]), 1024, &mut b);
        let mut cut = b.freeze().slice(..4);
        assert_eq!(decode_item(&mut cut), None);
        assert!(cut.is_empty());
    }
}
