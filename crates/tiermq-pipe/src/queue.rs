//! What a pipe holds: message objects, or (with a [`Codec`]) the bytes the
//! writer encoded them into, so that a reader that only writes bytes out
//! (a connection) takes a whole batch as a few chunks.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

/// Turns a pipe's messages into bytes as they are sent, and back.
///
/// With a codec ([`pipe_encoded`](crate::pipe_encoded)), `try_send` encodes
/// on the sender's thread, under the pipe's lock, and the reader takes the
/// bytes with [`Reader::recv_encoded`](crate::Reader::recv_encoded). What
/// is taken back (reclaimed, or received as messages) is decoded again.
pub trait Codec<T>: Send + Sync {
    /// Appends `msg`'s bytes to `buf`. By reference, so that one message
    /// sent to many pipes ([`Writer::try_send_cloned`](crate::Writer::try_send_cloned))
    /// is never cloned for pipes that encode it.
    fn encode(&self, msg: &T, buf: &mut EncodeBuf);
    /// The message `encode` turned into exactly `bytes`; `None` if these
    /// bytes do not hold one (it is then dropped).
    fn decode(&self, bytes: Bytes) -> Option<T>;
}

/// New buffer space is reserved in steps of this many bytes, so that small
/// messages cost one allocation per step, not one each. A connection's
/// output batch in libzmq is as large; an idle pipe keeps at most this.
const STEP: usize = 8 * 1024;

/// The bytes of encoded messages: sealed chunks, then a tail being filled.
#[derive(Debug, Default)]
pub struct EncodeBuf {
    chunks: VecDeque<Bytes>,
    chunks_len: usize,
    tail: BytesMut,
}

impl EncodeBuf {
    /// The buffer to append small pieces to, with room for at least
    /// `additional` more bytes.
    pub fn tail(&mut self, additional: usize) -> &mut BytesMut {
        if self.tail.capacity() - self.tail.len() < additional {
            self.tail.reserve(additional.max(STEP));
        }
        &mut self.tail
    }

    /// Appends `payload` by reference (no copy).
    pub fn put_shared(&mut self, payload: Bytes) {
        self.seal();
        self.chunks_len += payload.len();
        self.chunks.push_back(payload);
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.chunks_len + self.tail.len()
    }

    /// Whether it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `other`'s bytes after these.
    fn append(&mut self, mut other: EncodeBuf) {
        self.seal();
        other.seal();
        self.chunks_len += other.chunks_len;
        self.chunks.extend(other.chunks);
    }

    fn seal(&mut self) {
        if !self.tail.is_empty() {
            let chunk = self.tail.split().freeze();
            self.chunks_len += chunk.len();
            self.chunks.push_back(chunk);
        }
    }

    /// Moves the first `n` bytes, as chunks, to `out`.
    fn split_front(&mut self, mut n: usize, out: &mut Vec<Bytes>) {
        if n >= self.len() {
            self.seal();
            self.chunks_len = 0;
            out.extend(self.chunks.drain(..));
            return;
        }
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                out.push(self.tail.split_to(n).freeze());
                return;
            };
            if front.len() <= n {
                n -= front.len();
                self.chunks_len -= front.len();
                out.extend(self.chunks.pop_front());
            } else {
                self.chunks_len -= n;
                out.push(front.split_to(n));
                n = 0;
            }
        }
    }

    /// The first `n` bytes, contiguous (copied unless they are one chunk).
    fn take_front(&mut self, n: usize) -> Bytes {
        let mut parts = Vec::new();
        self.split_front(n, &mut parts);
        if parts.len() == 1 {
            return parts.pop().unwrap_or_default();
        }
        let mut all = BytesMut::with_capacity(n);
        parts.iter().for_each(|p| all.extend_from_slice(p));
        all.freeze()
    }
}

/// A queued message and the pipe's `bytes_in` right after it was sent, so
/// that a whole batch's bytes are known in O(1) from its last entry.
pub(crate) struct Entry<T> {
    pub(crate) msg: T,
    pub(crate) bytes_end: u64,
}

/// An encoded message's place in the bytes: its length and `bytes_end`.
struct Mark {
    len: usize,
    bytes_end: u64,
}

/// Messages as bytes, with each one's length.
pub(crate) struct Encoded<T> {
    codec: Arc<dyn Codec<T>>,
    buf: EncodeBuf,
    marks: VecDeque<Mark>,
}

pub(crate) enum Queue<T> {
    Items(VecDeque<Entry<T>>),
    Encoded(Encoded<T>),
}

impl<T> Queue<T> {
    pub(crate) fn encoded(codec: Arc<dyn Codec<T>>) -> Self {
        Queue::Encoded(Encoded {
            codec,
            buf: EncodeBuf::default(),
            marks: VecDeque::new(),
        })
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Queue::Items(q) => q.len(),
            Queue::Encoded(e) => e.marks.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Capacity in messages (for the encoded form, of the marks).
    pub(crate) fn capacity(&self) -> usize {
        match self {
            Queue::Items(q) => q.capacity(),
            Queue::Encoded(e) => e.marks.capacity(),
        }
    }

    pub(crate) fn shrink_to(&mut self, n: usize) {
        match self {
            Queue::Items(q) => q.shrink_to(n),
            Queue::Encoded(e) => e.marks.shrink_to(n),
        }
    }

    pub(crate) fn push_back(&mut self, entry: Entry<T>) {
        match self {
            Queue::Items(q) => q.push_back(entry),
            Queue::Encoded(e) => e.push(entry),
        }
    }

    /// Queues a copy of `msg`: its bytes when encoded, else a clone.
    pub(crate) fn push_copy(&mut self, msg: &T, bytes_end: u64)
    where
        T: Clone,
    {
        match self {
            Queue::Items(q) => q.push_back(Entry {
                msg: msg.clone(),
                bytes_end,
            }),
            Queue::Encoded(e) => e.push_ref(msg, bytes_end),
        }
    }

    /// Puts `entries` back at the front, in their order.
    pub(crate) fn push_front(&mut self, entries: Vec<Entry<T>>) {
        match self {
            Queue::Items(q) => entries.into_iter().rev().for_each(|e| q.push_front(e)),
            Queue::Encoded(e) => {
                let rest = std::mem::take(&mut e.buf);
                let rest_marks = std::mem::take(&mut e.marks);
                entries.into_iter().for_each(|entry| e.push(entry));
                e.buf.append(rest);
                e.marks.extend(rest_marks);
            }
        }
    }

    pub(crate) fn pop_front(&mut self) -> Option<Entry<T>> {
        match self {
            Queue::Items(q) => q.pop_front(),
            Queue::Encoded(e) => loop {
                let mark = e.marks.pop_front()?;
                let bytes = e.buf.take_front(mark.len);
                if let Some(msg) = e.codec.decode(bytes) {
                    return Some(Entry {
                        msg,
                        bytes_end: mark.bytes_end,
                    });
                }
            },
        }
    }

    /// Every queued message, oldest first.
    pub(crate) fn drain_all(&mut self) -> Vec<T> {
        match self {
            Queue::Items(q) => q.drain(..).map(|e| e.msg).collect(),
            Queue::Encoded(_) => std::iter::from_fn(|| self.pop_front())
                .map(|e| e.msg)
                .collect(),
        }
    }

    /// The message objects, for a batch to take in one swap; `None` when
    /// the queue holds bytes.
    pub(crate) fn items(&mut self) -> Option<&mut VecDeque<Entry<T>>> {
        match self {
            Queue::Items(q) => Some(q),
            Queue::Encoded(_) => None,
        }
    }

    /// Moves whole messages' bytes to `out`, oldest first, until at least
    /// `max_bytes` are taken (at least one message; all when `max_bytes`
    /// is `usize::MAX`). Returns how many messages, and the `bytes_end` of
    /// the last; `None` if nothing is queued or the queue holds objects.
    pub(crate) fn take_encoded(
        &mut self,
        out: &mut Vec<Bytes>,
        max_bytes: usize,
    ) -> Option<(usize, u64)> {
        let Queue::Encoded(e) = self else {
            return None;
        };
        let last = e.marks.back()?.bytes_end;
        if e.buf.len() <= max_bytes {
            let n = e.marks.len();
            e.marks.clear();
            e.buf.split_front(usize::MAX, out);
            return Some((n, last));
        }
        let (mut n, mut bytes, mut bytes_end) = (0, 0, 0);
        while let Some(mark) = e.marks.front() {
            if n > 0 && bytes >= max_bytes {
                break;
            }
            n += 1;
            bytes += mark.len;
            bytes_end = mark.bytes_end;
            e.marks.pop_front();
        }
        e.buf.split_front(bytes, out);
        Some((n, bytes_end))
    }

    pub(crate) fn is_encoded(&self) -> bool {
        matches!(self, Queue::Encoded(_))
    }
}

impl<T> Encoded<T> {
    fn push(&mut self, entry: Entry<T>) {
        self.push_ref(&entry.msg, entry.bytes_end);
    }

    fn push_ref(&mut self, msg: &T, bytes_end: u64) {
        let before = self.buf.len();
        self.codec.encode(msg, &mut self.buf);
        self.marks.push_back(Mark {
            len: self.buf.len() - before,
            bytes_end,
        });
    }
}
