//! The subscriber side's subscriptions (libzmq's `trie_t` in SUB and
//! XSUB): counted topic prefixes, the filter incoming messages must pass,
//! and the topics replayed to every new publisher. Sans-I/O.

use std::collections::BTreeMap;

use bytes::Bytes;
use tiermq_sched::{PipeId, Subscriptions};

/// The one "pipe" the trie knows here: the socket itself.
const SELF: PipeId = PipeId(0);

/// Counted topic prefixes of a subscriber.
#[derive(Debug, Default)]
pub(in crate::core) struct Filter {
    /// Each prefix with how many times it was subscribed (all > 0).
    counts: BTreeMap<Bytes, u32>,
    /// The same prefixes, for matching in O(topic length).
    trie: Subscriptions,
    /// Scratch space for `matches`.
    hits: Vec<PipeId>,
}

impl Filter {
    /// Adds one subscription to `topic`; says whether it is new (its
    /// count went from 0 to 1).
    pub(in crate::core) fn add(&mut self, topic: &[u8]) -> bool {
        let count = self
            .counts
            .entry(Bytes::copy_from_slice(topic))
            .or_insert(0);
        *count = count.saturating_add(1);
        self.trie.subscribe(SELF, topic);
        *count == 1
    }

    /// Removes one subscription to `topic`: `None` if there was none,
    /// else whether that was the last one.
    pub(in crate::core) fn remove(&mut self, topic: &[u8]) -> Option<bool> {
        let count = self.counts.get_mut(topic)?;
        *count -= 1;
        self.trie.unsubscribe(SELF, topic);
        if *count > 0 {
            return Some(false);
        }
        self.counts.remove(topic);
        Some(true)
    }

    /// Whether a message whose first frame is `first` passes: some
    /// subscribed prefix is a prefix of it.
    pub(in crate::core) fn matches(&mut self, first: &[u8]) -> bool {
        self.hits.clear();
        self.trie.matches(first, &mut self.hits);
        !self.hits.is_empty()
    }

    /// Every subscribed prefix, once each, in byte order.
    pub(in crate::core) fn topics(&self) -> impl Iterator<Item = &Bytes> {
        self.counts.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_counted_and_matched() {
        let mut f = Filter::default();
        assert!(!f.matches(b"a"));
        assert!(f.add(b"ab"));
        assert!(!f.add(b"ab"));
        assert!(f.matches(b"abc") && f.matches(b"ab"));
        assert!(!f.matches(b"a") && !f.matches(b"b"));
        assert_eq!(f.remove(b"ab"), Some(false));
        assert!(f.matches(b"abc"));
        assert_eq!(f.remove(b"ab"), Some(true));
        assert!(!f.matches(b"abc"));
        assert_eq!(f.remove(b"ab"), None);
    }

    #[test]
    fn the_empty_prefix_matches_everything_and_topics_are_listed_once() {
        let mut f = Filter::default();
        f.add(b"");
        f.add(b"x");
        f.add(b"x");
        assert!(f.matches(b"") && f.matches(b"anything"));
        let topics: Vec<&[u8]> = f.topics().map(|t| &t[..]).collect();
        assert_eq!(topics, [&b""[..], &b"x"[..]]);
    }
}
