//! `Properties`: what a tcp or ipc connection's peer is known by (its
//! address, its ZAP user id and metadata, its READY metadata), shared by
//! every message received from it, as libzmq's `metadata_t`.

use bytes::Bytes;
use tiermq_wire::{Metadata, PeerInfo};

/// libzmq's name for the peer's address.
const PEER_ADDRESS: &str = "Peer-Address";
/// libzmq's name for the ZAP user id.
const USER_ID: &str = "User-Id";

/// The properties of one connection's peer, answered by
/// [`Message::gets`](crate::Message::gets) and listed in
/// [`Peer::properties`](crate::Peer::properties).
///
/// Built once per connection when its handshake completes and shared
/// (`Arc`) by every message received from it. Names are matched
/// ASCII-case-insensitively, as RFC 37 asks of ZMTP property names
/// (libzmq matches them exactly, so any name libzmq answers, tiermq
/// answers too). When a name appears in more than one place, the first
/// wins, in libzmq's order: `Peer-Address`, then the ZAP reply (`User-Id`,
/// then its metadata), then the peer's READY properties. `Peer-Address`
/// and `User-Id` come only from their own source: libzmq would answer a
/// READY property of that name when it has no value of its own (ipc
/// without credentials, no ZAP), which lets a peer claim a user id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Properties {
    peer_address: String,
    user_id: Option<Bytes>,
    zap: Metadata,
    ready: Metadata,
}

impl Properties {
    /// The properties of a connection made through `endpoint`, whose peer
    /// is at `peer_addr` (as the transport reports it) and announced `peer`.
    pub(crate) fn new(peer_address: String, peer: PeerInfo) -> Properties {
        Properties {
            peer_address,
            user_id: peer.user_id,
            zap: peer.zap_metadata,
            ready: peer.metadata,
        }
    }

    /// The value of property `name`, in the order described on the type;
    /// `Identity` falls back to `Routing-Id`, as in libzmq. O(properties).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.lookup(name).or_else(|| {
            name.eq_ignore_ascii_case("Identity")
                .then(|| self.lookup("Routing-Id"))
                .flatten()
        })
    }

    /// As [`get`](Self::get), as text: `None` if absent or not UTF-8.
    pub fn gets(&self, name: &str) -> Option<&str> {
        std::str::from_utf8(self.get(name)?).ok()
    }

    /// The user id the ZAP handler gave the peer (possibly empty); `None`
    /// when no handler was asked (NULL or CURVE without a handler).
    pub fn user_id(&self) -> Option<&[u8]> {
        self.user_id.as_deref()
    }

    /// `Peer-Address`, as libzmq gives it: the peer's IP (no port) for
    /// tcp; `localhost:UID:GID:PID` of the peer process for ipc, from the
    /// kernel's credentials of the connection. `None` if unknown.
    pub fn peer_address(&self) -> Option<&str> {
        (!self.peer_address.is_empty()).then_some(self.peer_address.as_str())
    }

    /// The metadata of the ZAP reply that admitted the peer, in wire order
    /// (empty without ZAP).
    pub fn zap_metadata(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.zap.iter().map(|(n, v)| (n, &v[..]))
    }

    /// Every property of the peer's READY command, in wire order,
    /// including `Socket-Type` and (if sent) `Identity`.
    pub fn ready_metadata(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.ready.iter().map(|(n, v)| (n, &v[..]))
    }

    fn lookup(&self, name: &str) -> Option<&[u8]> {
        if name.eq_ignore_ascii_case(PEER_ADDRESS) {
            return self.peer_address().map(str::as_bytes);
        }
        if name.eq_ignore_ascii_case(USER_ID) {
            return self.user_id();
        }
        self.zap
            .get(name)
            .or_else(|| self.ready.get(name))
            .map(|v| &v[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tiermq_wire::SocketType;

    fn info(user_id: Option<&'static str>, zap: &[(&str, &'static str)]) -> PeerInfo {
        let mut ready = Metadata::new();
        ready.insert("Socket-Type", Bytes::from_static(b"DEALER"));
        ready.insert("Identity", Bytes::from_static(b"bob"));
        ready.insert("X-Shared", Bytes::from_static(b"ready"));
        let mut zap_metadata = Metadata::new();
        for (n, v) in zap {
            zap_metadata.insert(n, Bytes::from_static(v.as_bytes()));
        }
        PeerInfo {
            socket_type: SocketType::Dealer,
            metadata: ready,
            version: (3, 1),
            user_id: user_id.map(|u| Bytes::from_static(u.as_bytes())),
            zap_metadata,
        }
    }

    #[test]
    fn a_message_received_into_keeps_or_replaces_its_peer() {
        let a = Arc::new(Properties::new("10.0.0.1".into(), info(None, &[])));
        let b = Arc::new(Properties::new("10.0.0.2".into(), info(None, &[])));
        let mut msg = crate::Message::new();
        msg.set_received(Bytes::from_static(b"1"), true, Some(&a));
        let held = Arc::clone(msg.properties().unwrap());
        msg.set_received(Bytes::from_static(b"2"), false, Some(&a));
        // The same peer: still its properties, and one reference held.
        assert!(Arc::ptr_eq(msg.properties().unwrap(), &held));
        assert_eq!(Arc::strong_count(&a), 3);
        assert_eq!((&msg[..], msg.get_more()), (&b"2"[..], false));
        msg.set_received(Bytes::from_static(b"3"), false, Some(&b));
        assert_eq!(msg.gets("Peer-Address"), Some("10.0.0.2"));
        // From an inproc peer: no properties.
        msg.set_received(Bytes::from_static(b"4"), false, None);
        assert!(msg.properties().is_none());
        assert_eq!(Arc::strong_count(&b), 1);
    }

    #[test]
    fn answers_libzmq_names_case_insensitively() {
        let p = Properties::new(
            "127.0.0.1".into(),
            info(Some("alice"), &[("Hello", "World")]),
        );
        assert_eq!(p.gets("Peer-Address"), Some("127.0.0.1"));
        assert_eq!(p.gets("User-Id"), Some("alice"));
        assert_eq!(p.gets("user-id"), Some("alice"));
        assert_eq!(p.gets("Hello"), Some("World"));
        assert_eq!(p.gets("HELLO"), Some("World"));
        assert_eq!(p.gets("Socket-Type"), Some("DEALER"));
        assert_eq!(p.gets("Identity"), Some("bob"));
        assert_eq!(p.gets("X-Shared"), Some("ready"));
        assert_eq!(p.gets("Nope"), None);
        assert_eq!(p.user_id(), Some(&b"alice"[..]));
    }

    #[test]
    fn first_source_wins_as_in_libzmq() {
        let p = Properties::new(
            "10.0.0.1".into(),
            info(
                Some(""),
                &[
                    ("X-Shared", "zap"),
                    ("Peer-Address", "spoof"),
                    ("User-Id", "x"),
                ],
            ),
        );
        assert_eq!(p.gets("X-Shared"), Some("zap"));
        assert_eq!(p.gets("Peer-Address"), Some("10.0.0.1"));
        // An admitted peer's user id counts even when empty.
        assert_eq!(p.gets("User-Id"), Some(""));
    }

    #[test]
    fn no_zap_means_no_user_id() {
        let mut i = info(None, &[]);
        // A peer cannot claim a user id or an address in its READY.
        i.metadata.insert("User-Id", Bytes::from_static(b"mallory"));
        i.metadata
            .insert("Peer-Address", Bytes::from_static(b"spoof"));
        let p = Properties::new(String::new(), i);
        assert_eq!(p.user_id(), None);
        assert_eq!(p.gets("User-Id"), None);
        assert_eq!(p.gets("Peer-Address"), None);
    }

    #[test]
    fn identity_falls_back_to_routing_id() {
        let mut i = info(None, &[]);
        i.metadata = Metadata::new();
        i.metadata.insert("Routing-Id", Bytes::from_static(b"rid"));
        let p = Properties::new("localhost:1000:1000:42".into(), i);
        assert_eq!(p.gets("Identity"), Some("rid"));
        assert_eq!(p.gets("Peer-Address"), Some("localhost:1000:1000:42"));
    }

    #[test]
    fn non_utf8_values_are_none_as_text() {
        let mut i = info(None, &[]);
        i.metadata
            .insert("X-Bin", Bytes::from_static(&[0xff, 0xfe]));
        let p = Properties::new("1.2.3.4".into(), i);
        assert_eq!(p.get("X-Bin"), Some(&[0xff, 0xfe][..]));
        assert_eq!(p.gets("X-Bin"), None);
    }
}
