//! Circular doubly-linked lists threaded through a shared link array, so a
//! pipe joins or leaves a list in O(1) without allocating.
//!
//! A node (a pipe's index) belongs to at most one list per link array; the
//! caller tracks membership. The head doubles as a round-robin cursor.

/// A node's neighbours in the one list it belongs to. Stale while it belongs
/// to none.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Link {
    prev: usize,
    next: usize,
}

/// One circular list: `head` is the node served next.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Ring {
    head: Option<usize>,
}

impl Ring {
    /// The node at the cursor (the oldest, for a FIFO).
    pub(crate) fn head(&self) -> Option<usize> {
        self.head
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Inserts `node` just before the head: last in rotation order, so a
    /// newcomer never jumps the queue of the current round.
    pub(crate) fn push_back(&mut self, links: &mut [Link], node: usize) {
        match self.head {
            None => {
                links[node] = Link {
                    prev: node,
                    next: node,
                };
                self.head = Some(node);
            }
            Some(head) => {
                let tail = links[head].prev;
                links[node] = Link {
                    prev: tail,
                    next: head,
                };
                links[tail].next = node;
                links[head].prev = node;
            }
        }
    }

    /// Unlinks `node`, which must be a member. If it was the head, the node
    /// after it becomes the head, so rotation order is kept.
    pub(crate) fn remove(&mut self, links: &mut [Link], node: usize) {
        let Link { prev, next } = links[node];
        if next == node {
            self.head = None;
        } else {
            links[prev].next = next;
            links[next].prev = prev;
            if self.head == Some(node) {
                self.head = Some(next);
            }
        }
    }

    /// Returns the head and moves the cursor to the node after it.
    pub(crate) fn rotate(&mut self, links: &[Link]) -> Option<usize> {
        let head = self.head?;
        self.head = Some(links[head].next);
        Some(head)
    }

    /// Unlinks and returns the head.
    pub(crate) fn pop_front(&mut self, links: &mut [Link]) -> Option<usize> {
        let head = self.head?;
        self.remove(links, head);
        Some(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(ring: &Ring, links: &[Link]) -> Vec<usize> {
        let mut out = Vec::new();
        if let Some(head) = ring.head() {
            let mut n = head;
            loop {
                out.push(n);
                n = links[n].next;
                if n == head {
                    break;
                }
            }
        }
        out
    }

    #[test]
    fn push_rotate_remove_keep_order() {
        let mut links = vec![Link::default(); 5];
        let mut ring = Ring::default();
        for n in [3, 1, 4] {
            ring.push_back(&mut links, n);
        }
        assert_eq!(collect(&ring, &links), [3, 1, 4]);
        assert_eq!(ring.rotate(&links), Some(3));
        assert_eq!(collect(&ring, &links), [1, 4, 3]);
        // A newcomer goes last in the current round.
        ring.push_back(&mut links, 0);
        assert_eq!(collect(&ring, &links), [1, 4, 3, 0]);
        // Removing the head moves the cursor on.
        ring.remove(&mut links, 1);
        assert_eq!(collect(&ring, &links), [4, 3, 0]);
        ring.remove(&mut links, 3);
        assert_eq!(collect(&ring, &links), [4, 0]);
        assert_eq!(ring.pop_front(&mut links), Some(4));
        assert_eq!(ring.pop_front(&mut links), Some(0));
        assert!(ring.is_empty());
        assert_eq!(ring.rotate(&links), None);
    }
}
