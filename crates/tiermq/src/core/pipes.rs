//! The pipe table's entries: one per connection, with its out and in
//! pipes, the receive prefetch, its state and counters; and the
//! introspection (`peers`) over them.

use std::time::Instant;

use bytes::Bytes;
use tiermq_pipe::{Reader, RecvError, Writer};
use tiermq_wire::{Item, Multipart, SocketType as WireType};

use super::*;

pub(super) struct PipeRec {
    pub(super) serial: u64,
    pub(super) conn: ConnKey,
    pub(super) link: LinkKey,
    pub(super) endpoint: String,
    pub(super) peer_addr: String,
    pub(super) sndprio: u8,
    pub(super) rcvprio: u8,
    /// `None` once the connection is gone.
    pub(super) out: Option<Writer<Item>>,
    /// `None` once everything the peer sent was read.
    pub(super) inp: Option<Reader<Item>>,
    /// Messages taken from `inp` in one batch and not yet delivered: they
    /// count as the pipe's input (read before `inp`, reported in `peers`,
    /// dropped with it).
    pub(super) prefetch: VecDeque<Item>,
    pub(super) state: PeerState,
    pub(super) since: Instant,
    pub(super) sent: u64,
    pub(super) received: u64,
    pub(super) rerouted: u64,
    pub(super) peer_type: WireType,
    /// ROUTER: the id this pipe is addressed by.
    pub(super) routing_id: Bytes,
    /// What the peer is known by (tcp/ipc), for `Message::gets` and `peers`.
    pub(super) props: Option<Arc<Properties>>,
    /// REQ: requests handed to this pipe's peer and not answered yet, in
    /// the order the peer answers them (see `request_reply`).
    pub(super) in_flight: u32,
    /// REQ: replies dropped as answers to requests given up on.
    pub(super) stale_replies: u64,
}

/// Messages taken from an in pipe per lock. Taking them in batches saves
/// the pipe's lock per message; it lets a pipe hold up to this many
/// messages beyond RCVHWM.
const PREFETCH: usize = 256;

impl PipeRec {
    /// The next message from the peer: from the prefetch, else a new batch
    /// from the in pipe. `Empty` arms the pipe's waker, as `try_recv` does.
    pub(super) fn take_input(&mut self) -> std::result::Result<Multipart, RecvError> {
        loop {
            // Only PUB and XPUB take subscription changes (with
            // `take_item`); a peer that sends them to others is not answered.
            if let Some(m) = self.take_item()?.into_message() {
                return Ok(m);
            }
        }
    }

    /// The next item from the peer, message or subscription change, as
    /// [`take_input`](Self::take_input) takes it.
    pub(super) fn take_item(&mut self) -> std::result::Result<Item, RecvError> {
        match self.prefetch.pop_front() {
            Some(item) => Ok(item),
            None => {
                let inp = self.inp.as_ref().ok_or(RecvError::Closed)?;
                // The same queue each time: its memory stays warm.
                inp.recv_batch(&mut self.prefetch, PREFETCH)?;
                self.prefetch.pop_front().ok_or(RecvError::Empty)
            }
        }
    }
}

/// Closes an in pipe, handing back the messages prefetched from it and not
/// delivered: an inproc peer reclaims them with the rest of the pipe and
/// reroutes them, oldest first (a transport drops unread input anyway).
pub(super) fn close_input(inp: Reader<Item>, prefetch: VecDeque<Item>) {
    inp.set_waker(None);
    inp.close_with_unread(prefetch.into());
}

impl Core {
    /// One entry per pipe, for `Socket::peers`.
    pub(crate) fn peers(&self) -> Vec<Peer> {
        self.pipes
            .iter()
            .map(|(_, p)| {
                let out = p.out.as_ref().map(Writer::stats).unwrap_or_default();
                let inp = p.inp.as_ref().map(Reader::stats).unwrap_or_default();
                Peer {
                    endpoint: p.endpoint.clone(),
                    remote_addr: p.peer_addr.clone(),
                    sndprio: p.sndprio,
                    rcvprio: p.rcvprio,
                    state: p.state,
                    queued_out: out.queued,
                    queued_out_bytes: out.queued_bytes,
                    hwm: out.hwm,
                    room: out.room,
                    queued_in: inp.queued + p.prefetch.len(),
                    sent: p.sent,
                    received: p.received,
                    rerouted: p.rerouted,
                    stale_replies: p.stale_replies,
                    since: p.since,
                    changed: wall_clock(p.since),
                    peer_type: Some(crate::SocketType::from_wire(p.peer_type)),
                    routing_id: p.routing_id.clone(),
                    user_id: p
                        .props
                        .as_ref()
                        .and_then(|props| props.user_id())
                        .map(Bytes::copy_from_slice),
                    properties: p.props.clone(),
                }
            })
            .chain(self.links.iter().filter_map(|l| self.idle_connect(l)))
            .collect()
    }

    /// Whether `l` is a connect with no live connection now (it keeps
    /// trying). O(pipes).
    pub(super) fn is_idle_connect(&self, l: &Link) -> bool {
        l.is_connect()
            && !self
                .pipes
                .iter()
                .any(|(_, p)| p.link == l.key && p.out.is_some())
    }

    /// A connect with no live connection shows as one peer: connecting,
    /// or disconnected/dead as its last connection ended (it keeps trying).
    pub(super) fn idle_connect(&self, l: &Link) -> Option<Peer> {
        if !self.is_idle_connect(l) {
            return None;
        }
        let (state, since) = l.last.unwrap_or((PeerState::Connecting, l.created));
        Some(Peer {
            endpoint: l.resolved.clone(),
            remote_addr: String::new(),
            sndprio: l.sndprio,
            rcvprio: l.rcvprio,
            state,
            queued_out: 0,
            queued_out_bytes: 0,
            hwm: 0,
            room: Some(0),
            queued_in: 0,
            sent: 0,
            received: 0,
            rerouted: 0,
            stale_replies: 0,
            since,
            changed: wall_clock(since),
            peer_type: None,
            routing_id: Bytes::new(),
            user_id: None,
            properties: None,
        })
    }
}
