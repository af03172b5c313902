//! A model-based proptest of the hot-standby SUB (SUB_FAILOVER) over the
//! core, with no threads: random publishers attaching at priorities
//! 1..=3, publishing, being declared dead and revived, and leaving,
//! between receives by the application.
//!
//! What is checked at every receive (SPEC §6):
//! - **Only the active tier**: a message is delivered only from a
//!   publisher that is now in the most preferred tier with a live
//!   publisher, or that is live no more (its last messages came while its
//!   tier was active); and only if its tier was active when it came (a
//!   standby's messages are dropped as they arrive).
//! - **Nothing of the active tier is lost**: every message a publisher of
//!   that tier sent since the tiers last changed is delivered.
//! - **Once, in order**: no message twice, each publisher's in order.

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use proptest::prelude::*;
use tiermq_pipe::Writer;
use tiermq_wire::{Item, Multipart, SocketType as WireType};

use super::test_pipes::{
    NetEnds, attach_net, core_with_posted, dead_net, detach_net, pump, revive_net,
};
use super::{Core, Pattern};

#[derive(Clone, Debug)]
enum Step {
    Attach { conn: u64, prio: u8 },
    Publish { conn: u64 },
    Dead { conn: u64 },
    Revive { conn: u64 },
    Leave { conn: u64 },
    Receive,
}

fn step() -> impl Strategy<Value = Step> {
    let conn = 1..=3u64;
    prop_oneof![
        1 => (conn.clone(), 1..=3u8).prop_map(|(conn, prio)| Step::Attach { conn, prio }),
        3 => conn.clone().prop_map(|conn| Step::Publish { conn }),
        1 => conn.clone().prop_map(|conn| Step::Dead { conn }),
        1 => conn.clone().prop_map(|conn| Step::Revive { conn }),
        1 => conn.prop_map(|conn| Step::Leave { conn }),
        2 => Just(Step::Receive),
    ]
}

/// A publisher as the model sees it.
struct Publisher {
    /// Names this attachment in its messages (a `conn` may come back).
    id: u64,
    prio: u8,
    live: bool,
    /// The transport's end that writes to the core.
    tx: Writer<Item>,
    /// The pipe's end the core reads; kept so the pipe stays open.
    _rx: tiermq_pipe::Reader<Item>,
}

fn attach(core: &mut Core, conn: u64, id: u64, prio: u8) -> Publisher {
    core.options.rcvprio = prio;
    let NetEnds { rx, tx } = attach_net(core, conn, false, WireType::Pub);
    Publisher {
        id,
        prio,
        live: true,
        tx,
        _rx: rx,
    }
}

fn run(steps: Vec<Step>) {
    let (mut core, posted) = core_with_posted(Pattern::Sub, WireType::Sub);
    core.options.sub_failover = true;
    core.subscription(b"", true);
    let mut pubs: BTreeMap<u64, Publisher> = BTreeMap::new();
    // (publisher id, number) of each message sent since the tiers last changed.
    let mut since_change: Vec<(u64, u32)> = Vec::new();
    let mut delivered: HashSet<(u64, u32)> = HashSet::new();
    // Messages sent while their publisher was in the active tier.
    let mut sent_active: HashSet<(u64, u32)> = HashSet::new();
    let mut last_seen: BTreeMap<u64, u32> = BTreeMap::new();
    let mut next = 0u32;
    let mut attachments = 0u64;
    for s in steps {
        pump(&mut core, &posted);
        match s {
            Step::Attach { conn, prio } => {
                if let std::collections::btree_map::Entry::Vacant(e) = pubs.entry(conn) {
                    attachments += 1;
                    e.insert(attach(&mut core, conn, attachments, prio));
                    since_change.clear();
                }
            }
            Step::Publish { conn } => {
                let Some(p) = pubs.get(&conn).filter(|p| p.live) else {
                    continue;
                };
                next += 1;
                let mut m = Multipart::single(Bytes::copy_from_slice(&p.id.to_be_bytes()));
                m.push(Bytes::copy_from_slice(&next.to_be_bytes()));
                // The core hears of it only if the pipe's waker fires.
                p.tx.try_send(Item::Message(m)).unwrap();
                since_change.push((p.id, next));
                let best = pubs.values().filter(|p| p.live).map(|p| p.prio).min();
                if pubs.get(&conn).is_some_and(|p| Some(p.prio) == best) {
                    sent_active.insert((pubs[&conn].id, next));
                }
            }
            Step::Dead { conn } => {
                if let Some(p) = pubs.get_mut(&conn).filter(|p| p.live) {
                    p.live = false;
                    dead_net(&mut core, conn);
                    since_change.clear();
                }
            }
            Step::Revive { conn } => {
                if let Some(p) = pubs.get_mut(&conn).filter(|p| !p.live) {
                    p.live = true;
                    revive_net(&mut core, conn);
                    since_change.clear();
                }
            }
            Step::Leave { conn } => {
                if pubs.remove(&conn).is_some() {
                    detach_net(&mut core, conn);
                    since_change.clear();
                }
            }
            Step::Receive => {
                let best = pubs.values().filter(|p| p.live).map(|p| p.prio).min();
                let mut got = Vec::new();
                while let Some((frame, more)) = core.recv_frame() {
                    assert!(more, "whole messages");
                    let (number, more) = core.recv_frame().unwrap();
                    assert!(!more);
                    let id = u64::from_be_bytes(frame[..].try_into().unwrap());
                    let n = u32::from_be_bytes(number[..].try_into().unwrap());
                    got.push((id, n));
                }
                let by_id = |id: u64| pubs.values().find(|p| p.id == id);
                for &(id, n) in &got {
                    let allowed = by_id(id).is_none_or(|p| !p.live || Some(p.prio) == best);
                    assert!(allowed, "message {n} of standby publisher {id}");
                    assert!(sent_active.contains(&(id, n)), "{n} came from a standby");
                    assert!(delivered.insert((id, n)), "message {n} twice");
                    let last = last_seen.insert(id, n).unwrap_or(0);
                    assert!(last < n, "publisher {id} out of order");
                }
                for &(id, n) in &since_change {
                    let active = by_id(id).is_some_and(|p| Some(p.prio) == best);
                    if active {
                        assert!(delivered.contains(&(id, n)), "lost {n} of {id}");
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_hot_standby_sub_delivers_only_and_all_of_the_active_tier(
        steps in proptest::collection::vec(step(), 1..80)
    ) {
        run(steps);
    }
}

/// A standby whose pipe still held messages when it became one: what it
/// sends after that must not reach the application after a failover.
#[test]
fn a_new_standby_with_unread_input_is_still_dropped() {
    run(vec![
        Step::Attach { conn: 2, prio: 2 },
        Step::Publish { conn: 2 },
        Step::Attach { conn: 1, prio: 1 },
        Step::Publish { conn: 2 },
        Step::Leave { conn: 1 },
        Step::Receive,
    ]);
}
