//! `SocketType`: the rust-zmq-style socket type names, and which ones tiermq implements.

use tiermq_wire::SocketType as WireType;

/// The kind of a socket, with rust-zmq's uppercase variant names.
///
/// All of ZeroMQ's types are named so that code written for the `zmq` crate
/// compiles; [`Context::socket`](crate::Context::socket) returns
/// [`Error::ENOTSUP`](crate::Error::ENOTSUP) for those tiermq does not
/// implement yet (see [`SocketType::is_supported`]).
#[allow(clippy::upper_case_acronyms, non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketType {
    /// Exclusive pair (not yet supported).
    PAIR,
    /// Publisher: fans each message out to the subscribers whose
    /// subscriptions match, in the most preferred send tier with one.
    PUB,
    /// Subscriber: receives what matches its subscriptions, by rcvprio, or
    /// only from the best live tier with `set_sub_failover`.
    SUB,
    /// Request: one request at a time, by priority tier, resent if its
    /// peer goes away before replying.
    REQ,
    /// Reply: answers each request to the peer it came from.
    REP,
    /// Asynchronous request: sends by priority tier, receives fair-queued.
    DEALER,
    /// Asynchronous reply, routed by identity.
    ROUTER,
    /// Fair-queued receiver of a pipeline, preferring peers with a better `rcvprio`.
    PULL,
    /// Load-balancing sender of a pipeline, by priority tier, with failover and failback.
    PUSH,
    /// Extended publisher: a PUB that hands subscriptions to the application.
    XPUB,
    /// Extended subscriber: a SUB whose subscriptions are messages sent.
    XSUB,
    /// Raw TCP (never supported: it does not speak ZMTP).
    STREAM,
}

impl SocketType {
    /// Whether this version of tiermq can create sockets of this type.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            SocketType::PUSH
                | SocketType::PULL
                | SocketType::REQ
                | SocketType::REP
                | SocketType::DEALER
                | SocketType::ROUTER
                | SocketType::PUB
                | SocketType::SUB
                | SocketType::XPUB
                | SocketType::XSUB
        )
    }

    /// The type as the wire crate names it, or `None` for `STREAM`.
    pub fn to_wire(self) -> Option<WireType> {
        Some(match self {
            SocketType::PAIR => WireType::Pair,
            SocketType::PUB => WireType::Pub,
            SocketType::SUB => WireType::Sub,
            SocketType::REQ => WireType::Req,
            SocketType::REP => WireType::Rep,
            SocketType::DEALER => WireType::Dealer,
            SocketType::ROUTER => WireType::Router,
            SocketType::PULL => WireType::Pull,
            SocketType::PUSH => WireType::Push,
            SocketType::XPUB => WireType::XPub,
            SocketType::XSUB => WireType::XSub,
            SocketType::STREAM => return None,
        })
    }

    /// The rust-zmq name of a wire socket type.
    pub fn from_wire(t: WireType) -> SocketType {
        match t {
            WireType::Pair => SocketType::PAIR,
            WireType::Pub => SocketType::PUB,
            WireType::Sub => SocketType::SUB,
            WireType::Req => SocketType::REQ,
            WireType::Rep => SocketType::REP,
            WireType::Dealer => SocketType::DEALER,
            WireType::Router => SocketType::ROUTER,
            WireType::Pull => SocketType::PULL,
            WireType::Push => SocketType::PUSH,
            WireType::XPub => SocketType::XPUB,
            WireType::XSub => SocketType::XSUB,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for t in WireType::ALL {
            assert_eq!(SocketType::from_wire(t).to_wire(), Some(t));
        }
        assert_eq!(SocketType::STREAM.to_wire(), None);
        assert!(SocketType::PUSH.is_supported() && SocketType::REQ.is_supported());
        assert!(SocketType::PUB.is_supported() && SocketType::XSUB.is_supported());
        assert!(!SocketType::PAIR.is_supported());
    }
}
