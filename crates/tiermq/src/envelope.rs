//! Envelopes of the request-reply types, as libzmq frames them on the wire.
//!
//! - REQ sends `[request id (REQ_CORRELATE only)] [empty delimiter] body...`
//!   and expects the reply in the same frame.
//! - REP takes every frame up to and including the first empty one as the
//!   envelope and puts it back in front of the reply.
//! - ROUTER names each peer by a routing id: its `Identity`, or 5 generated
//!   bytes (`0x00` then a 32-bit big-endian counter).

use std::hash::{BuildHasher, Hasher};

use bytes::Bytes;
use tiermq_wire::Multipart;

/// Wraps a REQ body: `[id] [empty] body`.
pub(crate) fn wrap_request(id: Option<u32>, body: Multipart) -> Multipart {
    let mut m = Multipart::new();
    if let Some(id) = id {
        m.push(Bytes::copy_from_slice(&id.to_be_bytes()));
    }
    m.push(Bytes::new());
    for frame in body {
        m.push(frame);
    }
    m
}

/// The body of a request that [`wrap_request`] wrapped (to give it back).
pub(crate) fn unwrap_request(correlated: bool, wire: Multipart) -> Multipart {
    wire.into_iter().skip(1 + usize::from(correlated)).collect()
}

/// The body of a reply to request `id` (`None`: not correlated), or `None`
/// if the reply is malformed or answers another request.
pub(crate) fn open_reply(id: Option<u32>, reply: Multipart) -> Option<Multipart> {
    let mut frames = reply.into_iter();
    if let Some(id) = id {
        let got = frames.next()?;
        if got[..] != id.to_be_bytes() {
            return None;
        }
    }
    if !frames.next()?.is_empty() {
        return None;
    }
    let body: Multipart = frames.collect();
    (!body.is_empty()).then_some(body)
}

/// Splits a request REP received into its envelope (up to and including the
/// empty delimiter) and body; `None` if there is no delimiter or no body.
pub(crate) fn split_request(msg: Multipart) -> Option<(Vec<Bytes>, Multipart)> {
    let end = msg.frames().iter().position(Bytes::is_empty)?;
    let mut frames = msg.into_iter();
    let envelope: Vec<Bytes> = frames.by_ref().take(end + 1).collect();
    let body: Multipart = frames.collect();
    (!body.is_empty()).then_some((envelope, body))
}

/// A routing id ROUTER makes up for a peer without an identity.
pub(crate) fn generated_id(n: u32) -> Bytes {
    let mut id = vec![0u8];
    id.extend_from_slice(&n.to_be_bytes());
    Bytes::from(id)
}

/// A random 32-bit starting point (request ids, generated routing ids), so
/// that ids of a restarted process differ from the last run's.
pub(crate) fn random_u32() -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    // Truncation intended: any 32 bits of the hash will do.
    h.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(frames: &[&'static [u8]]) -> Multipart {
        frames.iter().map(|f| Bytes::from_static(f)).collect()
    }

    #[test]
    fn request_envelopes_round_trip() {
        let wire = wrap_request(Some(7), m(&[b"a", b"b"]));
        assert_eq!(wire, m(&[&[0, 0, 0, 7], b"", b"a", b"b"]));
        assert_eq!(unwrap_request(true, wire.clone()), m(&[b"a", b"b"]));
        assert_eq!(open_reply(Some(7), wire.clone()), Some(m(&[b"a", b"b"])));
        assert_eq!(open_reply(Some(8), wire), None, "another request's reply");
        let plain = wrap_request(None, m(&[b"x"]));
        assert_eq!(plain, m(&[b"", b"x"]));
        assert_eq!(unwrap_request(false, plain.clone()), m(&[b"x"]));
        assert_eq!(open_reply(None, plain), Some(m(&[b"x"])));
    }

    #[test]
    fn malformed_replies_are_refused() {
        assert_eq!(open_reply(None, m(&[b"x"])), None);
        assert_eq!(open_reply(None, m(&[b""])), None);
        assert_eq!(open_reply(None, Multipart::new()), None);
        assert_eq!(open_reply(Some(1), m(&[b"", b"x"])), None);
    }

    #[test]
    fn rep_splits_at_the_first_empty_frame() {
        let (env, body) = split_request(m(&[b"id1", b"id2", b"", b"q", b""])).unwrap();
        assert_eq!(env, vec![&b"id1"[..], b"id2", b""]);
        assert_eq!(body, m(&[b"q", b""]));
        assert!(split_request(m(&[b"no", b"delimiter"])).is_none());
        assert!(split_request(m(&[b"id", b""])).is_none(), "no body");
    }

    #[test]
    fn generated_ids_are_five_bytes_starting_with_zero() {
        assert_eq!(&generated_id(0x0102_0304)[..], &[0, 1, 2, 3, 4]);
    }
}
