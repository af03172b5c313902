//! The subscription trie of PUB/XPUB: which pipes want a topic.

use std::collections::{HashMap, HashSet};

use crate::PipeId;

/// Index of a node in the arena. The root is node 0 and is never freed.
type NodeId = u32;

const ROOT: NodeId = 0;

/// One byte of a prefix.
#[derive(Debug, Default)]
struct Node {
    /// The node one byte shorter (unused for the root).
    parent: NodeId,
    /// The last byte of this node's prefix (unused for the root).
    byte: u8,
    /// Children sorted by byte, found by binary search.
    children: Vec<(u8, NodeId)>,
    /// Subscribers of exactly this prefix with their counts (all > 0),
    /// sorted by pipe.
    subs: Vec<(PipeId, u32)>,
}

/// The set of topic prefixes each pipe subscribed to, as PUB and XPUB keep
/// it (libzmq's `mtrie`).
///
/// A subscription is a (pipe, prefix) pair with a count: subscribing twice
/// and unsubscribing once leaves the pipe subscribed. A topic *matches* a
/// pipe if one of the pipe's prefixes is a prefix of the topic; the empty
/// prefix matches every topic.
///
/// The prefixes form a byte-wise trie whose nodes keep their children in a
/// small sorted `Vec`, so [`matches`](Self::matches) walks only the path of
/// the topic: its cost grows with the topic length and the number of pipes
/// it returns, not with the number of unrelated subscriptions. Memory is one
/// node (about 64 bytes) per distinct prefix byte, shared between prefixes
/// with a common start, plus an index from each pipe to its subscriptions so
/// that [`remove_pipe`](Self::remove_pipe) touches only that pipe's
/// subscriptions.
///
/// Sans-I/O: the caller sends subscriptions and cancels upstream as the
/// boolean results say.
///
/// ```
/// use tiermq_sched::{PipeId, Subscriptions};
///
/// let mut subs = Subscriptions::new();
/// assert!(subs.subscribe(PipeId(1), b"weather."));
/// assert!(!subs.subscribe(PipeId(2), b"weather.")); // not new upstream
/// let mut out = Vec::new();
/// subs.matches(b"weather.paris", &mut out);
/// out.sort();
/// assert_eq!(out, [PipeId(1), PipeId(2)]);
/// assert_eq!(subs.remove_pipe(PipeId(1)), Vec::<Vec<u8>>::new());
/// assert_eq!(subs.remove_pipe(PipeId(2)), [b"weather.".to_vec()]);
/// assert!(subs.is_empty());
/// ```
#[derive(Debug)]
pub struct Subscriptions {
    /// Arena of nodes; `nodes[0]` is the root (the empty prefix).
    nodes: Vec<Node>,
    /// Freed arena slots, reused before the arena grows.
    free: Vec<NodeId>,
    /// For each pipe, the nodes where it has a subscription.
    by_pipe: HashMap<PipeId, HashSet<NodeId>>,
    /// Number of distinct (pipe, prefix) pairs.
    len: usize,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Self::new()
    }
}

impl Subscriptions {
    /// An empty set of subscriptions. Allocates one node.
    pub fn new() -> Self {
        Subscriptions {
            nodes: vec![Node::default()],
            free: Vec::new(),
            by_pipe: HashMap::new(),
            len: 0,
        }
    }

    /// Adds one subscription of `pipe` to `prefix` (counted: each call
    /// needs its own [`unsubscribe`](Self::unsubscribe)).
    ///
    /// Returns `true` if `prefix` had no subscriber at all before, i.e. an
    /// XPUB should pass the subscription upstream (unless verbose).
    ///
    /// Cost: O(`prefix.len()` × log fan-out + log subscribers of `prefix`),
    /// plus allocation of the nodes `prefix` adds.
    pub fn subscribe(&mut self, pipe: PipeId, prefix: &[u8]) -> bool {
        let mut node = ROOT;
        for &byte in prefix {
            node = match self.child(node, byte) {
                Ok(child) => child,
                Err(pos) => self.add_child(node, pos, byte),
            };
        }
        let subs = &mut self.nodes[node as usize].subs;
        let was_empty = subs.is_empty();
        match subs.binary_search_by_key(&pipe, |&(p, _)| p) {
            Ok(i) => subs[i].1 += 1,
            Err(i) => {
                subs.insert(i, (pipe, 1));
                self.by_pipe.entry(pipe).or_default().insert(node);
                self.len += 1;
            }
        }
        was_empty
    }

    /// Removes one subscription of `pipe` to `prefix`. A no-op returning
    /// `false` if `pipe` is not subscribed to exactly `prefix`.
    ///
    /// Returns `true` if `prefix` now has no subscriber at all, i.e. an
    /// XPUB should pass the cancel upstream.
    ///
    /// Cost: O(`prefix.len()` × log fan-out + log subscribers of `prefix`).
    pub fn unsubscribe(&mut self, pipe: PipeId, prefix: &[u8]) -> bool {
        let Some(node) = self.find(prefix) else {
            return false;
        };
        let subs = &mut self.nodes[node as usize].subs;
        let Ok(i) = subs.binary_search_by_key(&pipe, |&(p, _)| p) else {
            return false;
        };
        subs[i].1 -= 1;
        if subs[i].1 > 0 {
            return false;
        }
        subs.remove(i);
        let now_empty = subs.is_empty();
        self.forget(pipe, node);
        self.prune(node);
        now_empty
    }

    /// Drops every subscription of `pipe`, whatever its counts.
    ///
    /// Returns the prefixes that thereby lost their last subscriber (for an
    /// XPUB to cancel upstream), sorted.
    ///
    /// Cost: O(k × (prefix length + log subscribers)) for the k prefixes
    /// `pipe` subscribed to; other pipes' subscriptions are not visited.
    pub fn remove_pipe(&mut self, pipe: PipeId) -> Vec<Vec<u8>> {
        let mut lost = Vec::new();
        let Some(nodes) = self.by_pipe.remove(&pipe) else {
            return lost;
        };
        for node in nodes {
            let subs = &mut self.nodes[node as usize].subs;
            if let Ok(i) = subs.binary_search_by_key(&pipe, |&(p, _)| p) {
                subs.remove(i);
                self.len -= 1;
            }
            if subs.is_empty() {
                lost.push(self.prefix_of(node));
                self.prune(node);
            }
        }
        lost.sort_unstable();
        lost
    }

    /// Appends to `out` every pipe with at least one subscription that is a
    /// prefix of `topic` (the empty prefix matches every topic), each pipe
    /// once. `out` is not cleared; the appended pipes are in no promised
    /// order.
    ///
    /// Cost: O(`topic.len()` × log fan-out + m) where m is the number of
    /// matching subscriptions (plus O(m log m) to drop duplicates when
    /// several prefixes of `topic` have subscribers). Unrelated
    /// subscriptions cost nothing.
    pub fn matches(&self, topic: &[u8], out: &mut Vec<PipeId>) {
        let start = out.len();
        let mut hit_nodes = 0usize;
        let mut node = ROOT;
        let mut rest = topic.iter();
        loop {
            let subs = &self.nodes[node as usize].subs;
            if !subs.is_empty() {
                hit_nodes += 1;
                out.extend(subs.iter().map(|&(p, _)| p));
            }
            let Some(&byte) = rest.next() else { break };
            match self.child(node, byte) {
                Ok(child) => node = child,
                Err(_) => break,
            }
        }
        if hit_nodes > 1 {
            // Each node lists a pipe at most once, so duplicates only arise
            // across nodes.
            let tail = &mut out[start..];
            tail.sort_unstable();
            let mut kept = 0;
            for i in 0..tail.len() {
                if kept == 0 || tail[i] != tail[kept - 1] {
                    tail[kept] = tail[i];
                    kept += 1;
                }
            }
            out.truncate(start + kept);
        }
    }

    /// The prefixes `pipe` is subscribed to, whatever their counts, sorted
    /// (for an XPUB that reports every cancel of a departing pipe).
    ///
    /// Cost: O(k × prefix length) for the k prefixes of `pipe`.
    pub fn prefixes(&self, pipe: PipeId) -> Vec<Vec<u8>> {
        let mut all: Vec<Vec<u8>> = self
            .by_pipe
            .get(&pipe)
            .into_iter()
            .flatten()
            .map(|&node| self.prefix_of(node))
            .collect();
        all.sort_unstable();
        all
    }

    /// Whether there are no subscriptions at all. O(1).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of distinct (pipe, prefix) pairs subscribed, whatever
    /// their counts. O(1).
    pub fn len(&self) -> usize {
        self.len
    }

    /// The child of `node` for `byte`, or where to insert it.
    fn child(&self, node: NodeId, byte: u8) -> Result<NodeId, usize> {
        let children = &self.nodes[node as usize].children;
        children
            .binary_search_by_key(&byte, |&(b, _)| b)
            .map(|i| children[i].1)
    }

    /// The node of exactly `prefix`, if any.
    fn find(&self, prefix: &[u8]) -> Option<NodeId> {
        let mut node = ROOT;
        for &byte in prefix {
            node = self.child(node, byte).ok()?;
        }
        Some(node)
    }

    /// Adds a child for `byte` to `parent` at `pos` of its children.
    fn add_child(&mut self, parent: NodeId, pos: usize, byte: u8) -> NodeId {
        let fresh = Node {
            parent,
            byte,
            children: Vec::new(),
            subs: Vec::new(),
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = fresh;
                id
            }
            None => {
                let id = NodeId::try_from(self.nodes.len()).expect("more than 2^32 trie nodes");
                self.nodes.push(fresh);
                id
            }
        };
        self.nodes[parent as usize].children.insert(pos, (byte, id));
        id
    }

    /// Removes `node` from `pipe`'s index after its last subscription there.
    fn forget(&mut self, pipe: PipeId, node: NodeId) {
        if let Some(set) = self.by_pipe.get_mut(&pipe) {
            set.remove(&node);
            if set.is_empty() {
                self.by_pipe.remove(&pipe);
            }
        }
        self.len -= 1;
    }

    /// Frees `node` and its ancestors while they have neither subscribers
    /// nor children.
    fn prune(&mut self, mut node: NodeId) {
        while node != ROOT {
            let n = &mut self.nodes[node as usize];
            if !n.subs.is_empty() || !n.children.is_empty() {
                break;
            }
            let (parent, byte) = (n.parent, n.byte);
            // Release the node's buffers now rather than on reuse.
            *n = Node::default();
            self.free.push(node);
            let children = &mut self.nodes[parent as usize].children;
            if let Ok(i) = children.binary_search_by_key(&byte, |&(b, _)| b) {
                children.remove(i);
            }
            node = parent;
        }
    }

    /// The prefix `node` stands for, rebuilt from its ancestors.
    fn prefix_of(&self, mut node: NodeId) -> Vec<u8> {
        let mut prefix = Vec::new();
        while node != ROOT {
            let n = &self.nodes[node as usize];
            prefix.push(n.byte);
            node = n.parent;
        }
        prefix.reverse();
        prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_lists_one_pipe_s_subscriptions_once_each() {
        let mut s = Subscriptions::new();
        s.subscribe(PipeId(1), b"b");
        s.subscribe(PipeId(1), b"a");
        s.subscribe(PipeId(1), b"a");
        s.subscribe(PipeId(2), b"c");
        assert_eq!(s.prefixes(PipeId(1)), [b"a".to_vec(), b"b".to_vec()]);
        assert!(s.prefixes(PipeId(3)).is_empty());
    }

    fn matched(subs: &Subscriptions, topic: &[u8]) -> Vec<PipeId> {
        let mut out = Vec::new();
        subs.matches(topic, &mut out);
        out.sort();
        out
    }

    #[test]
    fn subscriptions_are_counted() {
        let mut s = Subscriptions::new();
        assert!(s.subscribe(PipeId(1), b"ab"));
        assert!(!s.subscribe(PipeId(1), b"ab"));
        assert_eq!(s.len(), 1);
        assert!(!s.unsubscribe(PipeId(1), b"ab"));
        assert_eq!(matched(&s, b"abc"), [PipeId(1)]);
        assert!(s.unsubscribe(PipeId(1), b"ab"));
        assert!(matched(&s, b"abc").is_empty());
        assert!(s.is_empty());
        // Not subscribed any more: a no-op.
        assert!(!s.unsubscribe(PipeId(1), b"ab"));
        assert!(!s.unsubscribe(PipeId(2), b"zz"));
        assert!(s.is_empty());
    }

    #[test]
    fn new_and_last_subscriber_across_pipes() {
        let mut s = Subscriptions::new();
        assert!(s.subscribe(PipeId(1), b"x"));
        assert!(!s.subscribe(PipeId(2), b"x"));
        assert_eq!(s.len(), 2);
        assert!(!s.unsubscribe(PipeId(1), b"x"));
        assert!(s.unsubscribe(PipeId(2), b"x"));
        // Unsubscribing a pipe that never subscribed to an existing prefix.
        s.subscribe(PipeId(1), b"x");
        assert!(!s.unsubscribe(PipeId(3), b"x"));
        assert_eq!(matched(&s, b"x"), [PipeId(1)]);
    }

    #[test]
    fn empty_prefix_matches_everything() {
        let mut s = Subscriptions::new();
        assert!(s.subscribe(PipeId(7), b""));
        assert_eq!(matched(&s, b""), [PipeId(7)]);
        assert_eq!(matched(&s, b"anything"), [PipeId(7)]);
        assert!(s.unsubscribe(PipeId(7), b""));
        assert!(matched(&s, b"anything").is_empty());
    }

    #[test]
    fn longer_prefix_does_not_match_shorter_topic() {
        let mut s = Subscriptions::new();
        s.subscribe(PipeId(1), b"abc");
        assert!(matched(&s, b"ab").is_empty());
        assert!(matched(&s, b"abd").is_empty());
        assert_eq!(matched(&s, b"abc"), [PipeId(1)]);
        assert_eq!(matched(&s, b"abcd"), [PipeId(1)]);
    }

    #[test]
    fn each_pipe_listed_once() {
        let mut s = Subscriptions::new();
        for prefix in [&b""[..], b"a", b"ab", b"abc"] {
            s.subscribe(PipeId(1), prefix);
        }
        s.subscribe(PipeId(2), b"ab");
        s.subscribe(PipeId(3), b"b");
        let mut out = vec![PipeId(9)];
        s.matches(b"abcd", &mut out);
        // `out` is appended to, not cleared.
        assert_eq!(out[0], PipeId(9));
        out.sort();
        assert_eq!(out, [PipeId(1), PipeId(2), PipeId(9)]);
    }

    #[test]
    fn remove_pipe_returns_prefixes_that_lost_their_last_subscriber() {
        let mut s = Subscriptions::new();
        s.subscribe(PipeId(1), b"");
        s.subscribe(PipeId(1), b"a");
        s.subscribe(PipeId(1), b"a"); // counted twice, still removed
        s.subscribe(PipeId(1), b"ab");
        s.subscribe(PipeId(1), b"b");
        s.subscribe(PipeId(2), b"ab");
        assert_eq!(s.len(), 5);
        let lost = s.remove_pipe(PipeId(1));
        assert_eq!(lost, [b"".to_vec(), b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(s.len(), 1);
        assert_eq!(matched(&s, b"abc"), [PipeId(2)]);
        assert!(matched(&s, b"a").is_empty());
        assert!(s.remove_pipe(PipeId(1)).is_empty());
        assert_eq!(s.remove_pipe(PipeId(2)), [b"ab".to_vec()]);
        assert!(s.is_empty());
        // Every node but the root was freed.
        assert_eq!(s.nodes.len() - s.free.len(), 1);
    }

    #[test]
    fn freed_nodes_are_reused() {
        let mut s = Subscriptions::new();
        for round in 0..3 {
            s.subscribe(PipeId(round), b"abcdef");
            assert!(s.unsubscribe(PipeId(round), b"abcdef"));
        }
        assert_eq!(s.nodes.len(), 7);
        assert_eq!(s.free.len(), 6);
    }
}
