//! `Multipart`: one whole message, its frames in order.

use bytes::Bytes;
use smallvec::SmallVec;

/// A whole multipart message: one or more frames, delivered and sent atomically.
///
/// Frames are `Bytes`, so cloning a message or slicing it out of a read buffer
/// never copies payload. Up to two frames are stored inline (no heap
/// allocation for the frame list), which covers plain and envelope-prefixed
/// messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Multipart {
    frames: SmallVec<[Bytes; 2]>,
}

impl Multipart {
    /// An empty message (no frames). Push at least one frame before sending.
    pub fn new() -> Self {
        Self::default()
    }

    /// A single-frame message.
    #[inline]
    pub fn single(frame: Bytes) -> Self {
        let mut frames = SmallVec::new();
        frames.push(frame);
        Self { frames }
    }

    /// The frame of a single-frame message, or the message back if it has
    /// none or several: the receive path's common case without an
    /// iterator.
    #[inline]
    pub fn into_single(mut self) -> Result<Bytes, Multipart> {
        if self.frames.len() == 1
            && let Some(frame) = self.frames.pop()
        {
            return Ok(frame);
        }
        Err(self)
    }

    /// Ends this partly built message with its `last` frame and takes it,
    /// leaving `self` empty for the next one. A single-frame message, the
    /// common case, is built from `last` alone, without going through
    /// `self`.
    #[inline]
    pub fn finish_with(&mut self, last: Bytes) -> Multipart {
        if self.frames.is_empty() {
            return Multipart::single(last);
        }
        self.frames.push(last);
        std::mem::take(self)
    }

    /// Appends a frame.
    #[inline]
    pub fn push(&mut self, frame: Bytes) {
        self.frames.push(frame);
    }

    /// The frames, in order.
    #[inline]
    pub fn frames(&self) -> &[Bytes] {
        &self.frames
    }

    /// Number of frames.
    #[inline]
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when the message has no frames.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Sum of the frames' payload sizes, in bytes (framing not included).
    #[inline]
    pub fn byte_len(&self) -> usize {
        self.frames.iter().map(Bytes::len).sum()
    }
}

impl From<Bytes> for Multipart {
    fn from(frame: Bytes) -> Self {
        Self::single(frame)
    }
}

impl From<Vec<Bytes>> for Multipart {
    fn from(frames: Vec<Bytes>) -> Self {
        Self {
            frames: SmallVec::from_vec(frames),
        }
    }
}

impl FromIterator<Bytes> for Multipart {
    fn from_iter<I: IntoIterator<Item = Bytes>>(iter: I) -> Self {
        Self {
            frames: iter.into_iter().collect(),
        }
    }
}

impl IntoIterator for Multipart {
    type Item = Bytes;
    type IntoIter = smallvec::IntoIter<[Bytes; 2]>;

    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.frames.into_iter()
    }
}

impl<'a> IntoIterator for &'a Multipart {
    type Item = &'a Bytes;
    type IntoIter = std::slice::Iter<'a, Bytes>;

    fn into_iter(self) -> Self::IntoIter {
        self.frames.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_message_finishes_with_its_last_frame() {
        let mut partial = Multipart::new();
        let one = partial.finish_with(Bytes::from_static(b"only"));
        assert_eq!(one.frames(), [Bytes::from_static(b"only")]);
        assert!(partial.is_empty());
        partial.push(Bytes::from_static(b"a"));
        let two = partial.finish_with(Bytes::from_static(b"b"));
        assert_eq!(
            two.frames(),
            [Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        );
        assert!(partial.is_empty(), "left empty for the next message");
        assert_eq!(two.clone().into_single(), Err(two));
        assert_eq!(one.into_single(), Ok(Bytes::from_static(b"only")));
    }

    #[test]
    fn builds_and_measures() {
        let mut m = Multipart::new();
        assert!(m.is_empty());
        m.push(Bytes::from_static(b"ab"));
        m.push(Bytes::new());
        m.push(Bytes::from_static(b"cde"));
        assert_eq!(m.len(), 3);
        assert_eq!(m.byte_len(), 5);
        let v: Vec<Bytes> = m.clone().into_iter().collect();
        assert_eq!(Multipart::from(v.clone()), m);
        assert_eq!(v.into_iter().collect::<Multipart>(), m);
        assert_eq!(
            Multipart::from(Bytes::from_static(b"x")).frames(),
            &[Bytes::from_static(b"x")]
        );
    }
}

/// What travels through a connection's pipes between a socket and its
/// session: a message, or a subscription change. A session sends a
/// subscription as ZMTP 3.1's SUBSCRIBE/CANCEL command to a 3.1 peer and as
/// a 0x01/0x00 message to a 3.0 one, and hands those it receives up as the
/// same typed items, so no layer above re-encodes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A whole multipart message.
    Message(Multipart),
    /// Subscribe to messages starting with this prefix.
    Subscribe(Bytes),
    /// Cancel one subscription to this prefix.
    Cancel(Bytes),
}

impl Item {
    /// The message, if this is one.
    #[inline]
    pub fn into_message(self) -> Option<Multipart> {
        match self {
            Item::Message(m) => Some(m),
            Item::Subscribe(_) | Item::Cancel(_) => None,
        }
    }

    /// Bytes it weighs in a pipe: the message's payload, or the topic's.
    #[inline]
    pub fn byte_len(&self) -> usize {
        match self {
            Item::Message(m) => m.byte_len(),
            Item::Subscribe(t) | Item::Cancel(t) => t.len(),
        }
    }
}

impl From<Multipart> for Item {
    fn from(m: Multipart) -> Item {
        Item::Message(m)
    }
}
