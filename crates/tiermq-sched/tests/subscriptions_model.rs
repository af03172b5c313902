//! Random subscribe/unsubscribe/remove_pipe/match sequences over a tiny
//! alphabet (so prefixes collide often), checked after every step against a
//! naive model: a map from (pipe, prefix) to count.

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;
use tiermq_sched::{PipeId, Subscriptions};

const PIPES: usize = 4;

#[derive(Clone, Debug)]
enum Op {
    Subscribe(usize, Vec<u8>),
    Unsubscribe(usize, Vec<u8>),
    RemovePipe(usize),
    Match(Vec<u8>),
}

/// Bytes from `b"ab"`, length 0..4.
fn word() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b')], 0..4)
}

fn op() -> impl Strategy<Value = Op> {
    (0u8..10, 0..PIPES, word()).prop_map(|(kind, pipe, w)| match kind {
        0..=3 => Op::Subscribe(pipe, w),
        4..=6 => Op::Unsubscribe(pipe, w),
        7 => Op::RemovePipe(pipe),
        _ => Op::Match(w),
    })
}

#[derive(Default)]
struct Model {
    counts: HashMap<(PipeId, Vec<u8>), u32>,
}

impl Model {
    fn has_subscriber(&self, prefix: &[u8]) -> bool {
        self.counts.keys().any(|(_, p)| p == prefix)
    }

    fn subscribe(&mut self, pipe: PipeId, prefix: &[u8]) -> bool {
        let new = !self.has_subscriber(prefix);
        *self.counts.entry((pipe, prefix.to_vec())).or_default() += 1;
        new
    }

    fn unsubscribe(&mut self, pipe: PipeId, prefix: &[u8]) -> bool {
        let key = (pipe, prefix.to_vec());
        let Some(count) = self.counts.get_mut(&key) else {
            return false;
        };
        *count -= 1;
        if *count > 0 {
            return false;
        }
        self.counts.remove(&key);
        !self.has_subscriber(prefix)
    }

    fn remove_pipe(&mut self, pipe: PipeId) -> Vec<Vec<u8>> {
        let mine: BTreeSet<Vec<u8>> = self
            .counts
            .keys()
            .filter(|(p, _)| *p == pipe)
            .map(|(_, prefix)| prefix.clone())
            .collect();
        self.counts.retain(|(p, _), _| *p != pipe);
        mine.into_iter()
            .filter(|prefix| !self.has_subscriber(prefix))
            .collect()
    }

    fn matches(&self, topic: &[u8]) -> Vec<PipeId> {
        let set: BTreeSet<PipeId> = self
            .counts
            .keys()
            .filter(|(_, prefix)| topic.starts_with(prefix))
            .map(|(p, _)| *p)
            .collect();
        set.into_iter().collect()
    }
}

fn matched(subs: &Subscriptions, topic: &[u8]) -> Vec<PipeId> {
    let mut out = Vec::new();
    subs.matches(topic, &mut out);
    out.sort();
    out
}

/// Every topic of length 0..=4 over `b"ab"`, plus one with a foreign byte.
fn all_topics() -> Vec<Vec<u8>> {
    let mut topics = vec![Vec::new()];
    let mut layer = vec![Vec::new()];
    for _ in 0..4 {
        let mut next = Vec::new();
        for t in &layer {
            for b in [b'a', b'b'] {
                let mut t = t.clone();
                t.push(b);
                next.push(t);
            }
        }
        topics.extend(next.iter().cloned());
        layer = next;
    }
    topics.push(b"ac".to_vec());
    topics
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn subscriptions_match_model(ops in proptest::collection::vec(op(), 1..100)) {
        let mut subs = Subscriptions::new();
        let mut model = Model::default();
        let topics = all_topics();
        for op in ops {
            match op {
                Op::Subscribe(p, w) => prop_assert_eq!(
                    subs.subscribe(PipeId(p), &w),
                    model.subscribe(PipeId(p), &w),
                    "subscribe {} {:?}", p, w
                ),
                Op::Unsubscribe(p, w) => prop_assert_eq!(
                    subs.unsubscribe(PipeId(p), &w),
                    model.unsubscribe(PipeId(p), &w),
                    "unsubscribe {} {:?}", p, w
                ),
                Op::RemovePipe(p) => prop_assert_eq!(
                    subs.remove_pipe(PipeId(p)),
                    model.remove_pipe(PipeId(p)),
                    "remove_pipe {}", p
                ),
                Op::Match(w) => {
                    // Unsorted output must not list a pipe twice.
                    let mut out = Vec::new();
                    subs.matches(&w, &mut out);
                    let n = out.len();
                    out.sort();
                    out.dedup();
                    prop_assert_eq!(n, out.len(), "duplicate pipe for {:?}", w);
                }
            }
            prop_assert_eq!(subs.len(), model.counts.len());
            prop_assert_eq!(subs.is_empty(), model.counts.is_empty());
            for t in &topics {
                let got = matched(&subs, t);
                let mut raw = Vec::new();
                subs.matches(t, &mut raw);
                prop_assert_eq!(raw.len(), got.len(), "duplicate pipe for {:?}", t);
                prop_assert_eq!(got, model.matches(t), "matches {:?}", t);
            }
        }
    }
}
