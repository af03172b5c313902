//! `Message`: one frame of a message, over `bytes::Bytes` so payloads are not copied.

use bytes::{Bytes, BytesMut};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::Properties;

/// One frame of a (possibly multipart) message.
///
/// A `Message` wraps a [`Bytes`]: sending one hands the same buffer to the
/// peer's pipe (inproc) or to the wire encoder (tcp, ipc) without copying,
/// and a received `Message` is a slice of the buffer the frame arrived in.
/// Mutable access (`DerefMut`) copies only when the buffer is shared.
#[derive(Clone, Default)]
pub struct Message {
    data: Data,
    more: bool,
    /// The sender's properties, for frames received through
    /// [`Socket::recv_msg`](crate::Socket::recv_msg) from tcp/ipc peers.
    props: Option<Arc<Properties>>,
}

#[derive(Clone)]
enum Data {
    Shared(Bytes),
    Owned(BytesMut),
}

impl Default for Data {
    fn default() -> Self {
        Data::Shared(Bytes::new())
    }
}

impl Message {
    /// An empty frame.
    pub fn new() -> Message {
        Message::default()
    }

    /// A frame of `len` zero bytes, to fill through `DerefMut`.
    pub fn with_size(len: usize) -> Message {
        Message {
            data: Data::Owned(BytesMut::zeroed(len)),
            more: false,
            props: None,
        }
    }

    /// The frame as UTF-8 text, or `None` if it is not valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self).ok()
    }

    /// Whether more frames of the same message follow this one (on receive).
    pub fn get_more(&self) -> bool {
        self.more
    }

    /// A property of the peer this frame was received from, as libzmq's
    /// `zmq_msg_gets`; `None` if it has none by that name, if its value is
    /// not UTF-8 (as in the zmq crate), or if the frame was not received
    /// from a tcp or ipc peer through [`Socket::recv`](crate::Socket::recv)
    /// or [`recv_msg`](crate::Socket::recv_msg) (inproc peers have none,
    /// as in libzmq).
    ///
    /// Names (matched ignoring ASCII case; see [`Properties`]):
    /// - `Peer-Address`: the peer's IP for tcp; `localhost:UID:GID:PID`
    ///   of the peer process for ipc;
    /// - `User-Id` and the ZAP reply's metadata names, once a ZAP handler
    ///   admitted the peer;
    /// - `Socket-Type`, `Identity` and any other property of the peer's
    ///   READY command.
    ///
    /// Every frame of a message answers the same. Takes `&self` where the
    /// zmq crate takes `&mut self`, so code written for either compiles.
    pub fn gets(&self, property: &str) -> Option<&str> {
        self.props.as_deref()?.gets(property)
    }

    /// All the properties of the peer this frame was received from (see
    /// [`gets`](Self::gets)), shared with its other frames; `None` where
    /// `gets` answers nothing.
    pub fn properties(&self) -> Option<&Arc<Properties>> {
        self.props.as_ref()
    }

    /// The frame's bytes, without copying.
    pub fn into_bytes(self) -> Bytes {
        match self.data {
            Data::Shared(b) => b,
            Data::Owned(b) => b.freeze(),
        }
    }

    /// Becomes a received frame in place. The sender's properties are
    /// cloned only if they differ from those the message holds: receiving
    /// into one `Message` from one peer changes no refcount for them.
    pub(crate) fn set_received(
        &mut self,
        frame: Bytes,
        more: bool,
        props: Option<&Arc<Properties>>,
    ) {
        self.data = Data::Shared(frame);
        self.more = more;
        let same = match (&self.props, props) {
            (Some(held), Some(new)) => Arc::ptr_eq(held, new),
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.props = props.cloned();
        }
    }

    pub(crate) fn from_frame(frame: Bytes, more: bool) -> Message {
        Message::received(frame, more, None)
    }

    /// A received frame, with its sender's properties if known.
    pub(crate) fn received(frame: Bytes, more: bool, props: Option<Arc<Properties>>) -> Message {
        Message {
            data: Data::Shared(frame),
            more,
            props,
        }
    }
}

impl Deref for Message {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.data {
            Data::Shared(b) => b,
            Data::Owned(b) => b,
        }
    }
}

impl DerefMut for Message {
    /// Copies the frame first if its buffer is shared with another owner.
    fn deref_mut(&mut self) -> &mut [u8] {
        if let Data::Shared(b) = &mut self.data {
            let shared = std::mem::take(b);
            let owned = shared
                .try_into_mut()
                .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
            self.data = Data::Owned(owned);
        }
        match &mut self.data {
            Data::Owned(b) => b,
            // Just replaced above.
            Data::Shared(_) => &mut [],
        }
    }
}

impl PartialEq for Message {
    fn eq(&self, other: &Message) -> bool {
        self[..] == other[..]
    }
}

impl Eq for Message {}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &self[..])
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Message::from_frame(b, false)
    }
}

impl From<BytesMut> for Message {
    fn from(b: BytesMut) -> Self {
        Message {
            data: Data::Owned(b),
            more: false,
            props: None,
        }
    }
}

impl From<Message> for Bytes {
    fn from(m: Message) -> Self {
        m.into_bytes()
    }
}

impl From<&[u8]> for Message {
    fn from(data: &[u8]) -> Self {
        Bytes::copy_from_slice(data).into()
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Bytes::from(data).into()
    }
}

impl From<Box<[u8]>> for Message {
    fn from(data: Box<[u8]>) -> Self {
        Bytes::from(data).into()
    }
}

impl From<&str> for Message {
    fn from(data: &str) -> Self {
        data.as_bytes().into()
    }
}

impl From<String> for Message {
    fn from(data: String) -> Self {
        Bytes::from(data).into()
    }
}

impl<const N: usize> From<[u8; N]> for Message {
    fn from(data: [u8; N]) -> Self {
        data[..].into()
    }
}

/// `&Vec<u8>`, `&String`, `&[u8; N]`, `&Bytes`, `&Message`, ...: as rust-zmq does,
/// anything convertible by value is convertible by reference through a clone.
impl<T> From<&T> for Message
where
    T: Into<Message> + Clone,
{
    fn from(v: &T) -> Self {
        v.clone().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_keep_the_bytes() {
        assert_eq!(&Message::from("ab")[..], b"ab");
        assert_eq!(&Message::from(&String::from("ab"))[..], b"ab");
        assert_eq!(&Message::from(vec![1u8, 2])[..], &[1, 2]);
        assert_eq!(&Message::from(&vec![1u8, 2])[..], &[1, 2]);
        assert_eq!(&Message::from(b"xyz")[..], b"xyz");
        assert_eq!(Message::from("é").as_str(), Some("é"));
        assert_eq!(Message::from(&[0xffu8][..]).as_str(), None);
        assert!(!Message::new().get_more());
    }

    #[test]
    fn bytes_are_not_copied() {
        let b = Bytes::from(vec![7u8; 64]);
        let m = Message::from(b.clone());
        assert_eq!(m.as_ptr(), b.as_ptr());
        assert_eq!(m.into_bytes().as_ptr(), b.as_ptr());
    }

    #[test]
    fn mutation_copies_only_shared_buffers() {
        let b = Bytes::from(vec![1u8, 2, 3]);
        let mut m = Message::from(b.clone());
        m[0] = 9;
        assert_eq!(&m[..], &[9, 2, 3]);
        assert_eq!(&b[..], &[1, 2, 3]);

        let mut z = Message::with_size(2);
        z[1] = 5;
        assert_eq!(&z[..], &[0, 5]);
    }
}
