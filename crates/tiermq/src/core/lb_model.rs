//! A model-based proptest of PUSH and DEALER over the core, with no
//! threads: random attachments at priorities 1..=3 with small HWMs (so
//! pipes turn busy often), application sends (multipart among them), fake
//! transports taking messages off their pipes and peers reading them,
//! writable events, connections closed, detached, declared dead and
//! revived; for DEALER also peers sending and the application receiving.
//!
//! What is checked, after every core call and at the end (SPEC §3–§5):
//!
//! - **Exactly once.** Every message the core accepted is taken off a pipe
//!   only while the model has it in a pipe, and ends delivered to exactly
//!   one peer. A message a transport took is delivered to that peer when its
//!   peer reads it, or when the connection ends (or is declared dead) after
//!   the transport wrote it; what it took and did not write goes back to the
//!   core as `unsent`. At the end, with a fresh ready peer and everyone
//!   drained, every accepted message was delivered.
//! - **Order.** The core hands messages to pipes in one global order: that
//!   of a FIFO fed by the application's sends and by each rerouted batch
//!   (`unsent`, then the pipe's queue, in order). So every peer takes its
//!   messages in that order. Note that a peer may well see an older number
//!   after a newer one: a batch rerouted from a departed pipe arrives after
//!   the newer messages round-robin already gave its new pipe. Without
//!   reroutes the order above is the numbers' order.
//! - **Multipart whole**: every frame of a message arrives, at one peer.
//! - **Tiers**: no core call hands a message to a pipe while a ready pipe
//!   of a more preferred tier remains, nor to a pipe that is not ready
//!   (dead, disconnected); a pipe is busy from its HWM until drained to its
//!   low-water mark (and told so by a writable event); nothing waits in the
//!   socket's queue while a pipe is ready; a send is refused only when nothing is ready and IMMEDIATE=0
//!   cannot queue it (no connect endpoint, or SNDHWM reached).
//! - **DEALER receive**: each peer's messages are received in the order it
//!   sent them, each once, whole; a more preferred (rcvprio) peer's waiting
//!   message is received first.
//!
//! The model cannot see into a pipe. It tracks where each message is from
//! what it can see: how many messages each pipe got in a core call (its
//! reader's `total_in`), and how many it holds. A call that spreads a run
//! of messages over several pipes leaves each of them with a set of
//! candidate pipes, narrowed as pipes are read or hold exactly that many;
//! before a pipe with such a candidate is closed, declared dead or
//! detached, its transport takes everything (as a transport may), so the
//! messages the core takes back from it are always known.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use tiermq_pipe::{Reader, Writer};
use tiermq_wire::{Multipart, SocketType as WireType};

use super::{Attachment, ConnKey, Core, Event, LinkKind, Pattern, Refused};
use crate::core::test_pipes::RecvMessage;
use crate::events::new_pipe;
use crate::peer::PeerState;

/// Peers the random steps may attach, departed ones included.
const MAX_PEERS: usize = 8;

#[derive(Clone, Debug)]
enum Step {
    /// A peer connects at send priority `prio`, its out and in pipes with
    /// HWM `hwm`, at receive priority `rcvprio`.
    Attach { prio: u8, hwm: usize, rcvprio: u8 },
    /// The application sends up to `count` messages (stopping at one
    /// refused), each of `frames` frames. A refused message is sent again,
    /// whole, at the next send.
    Send { frames: usize, count: usize },
    /// Peer `i`'s transport takes up to `k` messages off its pipe; `true`:
    /// the writable event this may cause comes at once (else later, or by
    /// a `Writable` step).
    Take(usize, usize, bool),
    /// Peer `i` reads up to `k` of the messages its transport took.
    Read(usize, usize),
    /// A writable event for peer `i`'s pipe.
    Writable(usize),
    /// Peer `i`'s connection ends: its transport closes its pipe ends (and
    /// the core hears of it by a writable event, if `true`), but has not
    /// reported it detached yet.
    Close(usize, bool),
    /// Peer `i`'s connection ends (if not closed already) and is reported
    /// detached: of what its transport took and its peer did not read,
    /// the first `split` were written (and are lost with the connection, or
    /// delivered), the rest are handed back unsent. `true`: a writable
    /// event comes first.
    Detach(usize, usize, bool),
    /// The heartbeat declares peer `i` dead; `split` as for `Detach`, the
    /// written part staying in the lingering connection.
    Die(usize, usize),
    /// Peer `i`, declared dead, is heard from again.
    Revive(usize),
    /// DEALER: peer `i` sends a message of this many frames.
    PeerSend(usize, usize),
    /// DEALER: the application receives everything ready.
    Recv,
}

fn step(dealer: bool) -> BoxedStrategy<Step> {
    let peer = 0usize..MAX_PEERS;
    let common = prop_oneof![
        2 => (1u8..=3, 2usize..=6, 1u8..=3)
            .prop_map(|(prio, hwm, rcvprio)| Step::Attach { prio, hwm, rcvprio }),
        6 => (prop_oneof![3 => Just(1usize), 1 => 2usize..=3], 1usize..=3)
            .prop_map(|(frames, count)| Step::Send { frames, count }),
        6 => (peer.clone(), 1usize..5, any::<bool>()).prop_map(|(i, k, w)| Step::Take(i, k, w)),
        2 => (peer.clone(), 1usize..4).prop_map(|(i, k)| Step::Read(i, k)),
        2 => peer.clone().prop_map(Step::Writable),
        1 => (peer.clone(), any::<bool>()).prop_map(|(i, w)| Step::Close(i, w)),
        1 => (peer.clone(), 0usize..4, any::<bool>()).prop_map(|(i, s, w)| Step::Detach(i, s, w)),
        1 => (peer.clone(), 0usize..4).prop_map(|(i, s)| Step::Die(i, s)),
        1 => peer.clone().prop_map(Step::Revive),
    ];
    if dealer {
        prop_oneof![
            19 => common,
            3 => (peer, 1usize..=2).prop_map(|(i, f)| Step::PeerSend(i, f)),
            2 => Just(Step::Recv),
        ]
        .boxed()
    } else {
        common.boxed()
    }
}

mod world;

use world::{Loc, World, decode};

fn play(
    dealer: bool,
    connect: bool,
    immediate: bool,
    sndhwm: usize,
    initial: &[(u8, usize, u8)],
    steps: &[Step],
) -> Result<(), TestCaseError> {
    let mut w = World::new(dealer, connect, immediate, sndhwm);
    for &(prio, hwm, rcvprio) in initial {
        w.attach(prio, hwm, rcvprio)?;
    }
    for s in steps {
        w.run(s)?;
    }
    w.finish()
}

/// The scene behind the order checked: two peers of one tier share the
/// traffic round-robin; when one leaves, what it held goes to the other,
/// in order, after the newer messages that one already has, and before any
/// message sent later. So a peer may see older numbers after newer ones.
#[test]
fn a_rerouted_batch_keeps_its_order_behind_what_the_new_pipe_has() {
    let mut w = World::new(false, false, false, 1000);
    w.attach(1, 100, 1).unwrap();
    w.attach(1, 100, 1).unwrap();
    for _ in 0..4 {
        assert!(w.send(1).unwrap());
    }
    let a = w.msgs[0].loc.clone();
    let Loc::Piped { cands, .. } = a else {
        panic!("{a:?}")
    };
    let (a, b) = (cands[0], 1 - cands[0]);
    w.take(a, 1).unwrap(); // message 0, held unsent
    w.detach(a, 0, false).unwrap(); // 0 unsent, 2 still queued
    assert!(w.send(1).unwrap());
    let mut got = Vec::new();
    while let Ok(m) = w.peers[b].wire_in.try_recv_msg() {
        got.push(decode(&m).unwrap().0);
    }
    assert_eq!(got, vec![1, 3, 0, 2, 4]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn push_delivers_every_message_exactly_once_in_order(
        connect in any::<bool>(),
        immediate in any::<bool>(),
        sndhwm in 1usize..=6,
        initial in proptest::collection::vec((1u8..=3, 2usize..=6, 1u8..=3), 0..3),
        steps in proptest::collection::vec(step(false), 1..120),
    ) {
        play(false, connect, immediate, sndhwm, &initial, &steps)?;
    }

    #[test]
    fn dealer_delivers_every_message_exactly_once_in_order_and_receives_each_peer_in_order(
        connect in any::<bool>(),
        immediate in any::<bool>(),
        sndhwm in 1usize..=6,
        initial in proptest::collection::vec((1u8..=3, 2usize..=6, 1u8..=3), 0..3),
        steps in proptest::collection::vec(step(true), 1..120),
    ) {
        play(true, connect, immediate, sndhwm, &initial, &steps)?;
    }
}
