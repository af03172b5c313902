//! A model-based proptest of PUB fan-out over the core, with no threads:
//! random subscribers attaching at priorities 1..=3, subscribing and
//! cancelling prefixes (counted), being declared dead and revived, and
//! leaving, between application sends.
//!
//! What is checked at every send (SPEC §6): the message goes, whole and
//! once, to exactly the subscribers that are live (attached, not dead), in
//! the most preferred tier that has a live subscriber, and hold a
//! subscription (count above 0) that is a prefix of its topic; to no other.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use bytes::Bytes;
use proptest::prelude::*;
use tiermq_pipe::{Reader, Writer};
use tiermq_wire::{Item, Multipart, SocketType as WireType};

use super::test_pipes::{
    NetEnds, attach_net, core_with_posted, dead_net, detach_net, pump, revive_net,
};
use super::{Core, Pattern};

const PREFIXES: [&str; 4] = ["", "a", "ab", "b"];
const TOPICS: [&str; 5] = ["a", "ab", "abc", "b", "c"];

#[derive(Clone, Debug)]
enum Step {
    Attach { conn: u64, prio: u8 },
    Subscribe { conn: u64, prefix: usize },
    Cancel { conn: u64, prefix: usize },
    Dead { conn: u64 },
    Revive { conn: u64 },
    Leave { conn: u64 },
    Send { topic: usize },
}

fn step() -> impl Strategy<Value = Step> {
    let conn = 1..=4u64;
    prop_oneof![
        (conn.clone(), 1..=3u8).prop_map(|(conn, prio)| Step::Attach { conn, prio }),
        (conn.clone(), 0..PREFIXES.len())
            .prop_map(|(conn, prefix)| Step::Subscribe { conn, prefix }),
        (conn.clone(), 0..PREFIXES.len()).prop_map(|(conn, prefix)| Step::Cancel { conn, prefix }),
        conn.clone().prop_map(|conn| Step::Dead { conn }),
        conn.clone().prop_map(|conn| Step::Revive { conn }),
        conn.prop_map(|conn| Step::Leave { conn }),
        (0..TOPICS.len()).prop_map(|topic| Step::Send { topic }),
        (0..TOPICS.len()).prop_map(|topic| Step::Send { topic }),
    ]
}

/// One subscriber as the model sees it, with its transport's pipe ends.
struct Sub {
    prio: u8,
    live: bool,
    counts: HashMap<&'static str, u32>,
    rx: Reader<Item>,
    tx: Writer<Item>,
}

fn attach(core: &mut Core, conn: u64, prio: u8) -> Sub {
    core.options.sndprio = prio;
    let NetEnds { rx, tx } = attach_net(core, conn, true, WireType::Sub);
    Sub {
        prio,
        live: true,
        counts: HashMap::new(),
        rx,
        tx,
    }
}

fn run(steps: Vec<Step>) {
    let (mut core, posted) = core_with_posted(Pattern::Pub, WireType::Pub);
    let mut subs: BTreeMap<u64, Sub> = BTreeMap::new();
    let now = Instant::now;
    for (n, s) in steps.into_iter().enumerate() {
        match s {
            Step::Attach { conn, prio } => {
                subs.entry(conn)
                    .or_insert_with(|| attach(&mut core, conn, prio));
            }
            Step::Subscribe { conn, prefix } | Step::Cancel { conn, prefix } => {
                let Some(sub) = subs.get_mut(&conn) else {
                    continue;
                };
                let p = PREFIXES[prefix];
                let topic = Bytes::from_static(p.as_bytes());
                let item = if matches!(s, Step::Subscribe { .. }) {
                    *sub.counts.entry(p).or_insert(0) += 1;
                    Item::Subscribe(topic)
                } else {
                    if let Some(c) = sub.counts.get_mut(p) {
                        *c = c.saturating_sub(1);
                    }
                    Item::Cancel(topic)
                };
                // The core hears of it when the pipe's waker fires.
                sub.tx.try_send(item).unwrap();
                pump(&mut core, &posted);
            }
            Step::Dead { conn } => {
                if let Some(sub) = subs.get_mut(&conn) {
                    sub.live = false;
                    dead_net(&mut core, conn);
                }
            }
            Step::Revive { conn } => {
                if let Some(sub) = subs.get_mut(&conn) {
                    sub.live = true;
                    revive_net(&mut core, conn);
                }
            }
            Step::Leave { conn } => {
                if subs.remove(&conn).is_some() {
                    detach_net(&mut core, conn);
                }
            }
            Step::Send { topic } => {
                let topic = TOPICS[topic];
                let mut m = Multipart::single(Bytes::from_static(topic.as_bytes()));
                m.push(Bytes::from(n.to_be_bytes().to_vec()));
                assert!(core.send(m.clone(), now()).is_ok());
                let best = subs.values().filter(|s| s.live).map(|s| s.prio).min();
                for (conn, sub) in &subs {
                    let wants = sub.live
                        && Some(sub.prio) == best
                        && sub
                            .counts
                            .iter()
                            .any(|(p, &c)| c > 0 && topic.starts_with(p));
                    let got: Vec<Multipart> = std::iter::from_fn(|| sub.rx.try_recv().ok())
                        .filter_map(Item::into_message)
                        .collect();
                    let expected = if wants { vec![m.clone()] } else { Vec::new() };
                    assert_eq!(
                        got, expected,
                        "subscriber {conn} at step {n}, topic {topic}"
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn pub_fans_out_to_the_matching_live_subscribers_of_the_best_tier(
        steps in proptest::collection::vec(step(), 1..80)
    ) {
        run(steps);
    }
}
