//! inproc://: sockets of one `Context` joined by pipe pairs, with no I/O thread
//! and no copy (the same `Bytes` travel from sender to receiver).
//!
//! The context keeps a registry of bound names. A connect to a name that is
//! not bound yet waits in the registry and attaches when the bind arrives,
//! as in libzmq 4.x. Each connection is two pipes, attached to both sockets
//! through the same [`Event::Attached`] path as a transport connection.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use crate::events::{Attachment, ConnKey, Event, LinkKey, new_pipe};
use crate::handles::{InprocPeer, InprocSocket};
use crate::{Error, Result};

/// Bound names, and connects waiting for their bind.
#[derive(Default)]
pub(crate) struct Registry {
    bound: HashMap<String, InprocPeer>,
    waiting: HashMap<String, Vec<InprocPeer>>,
    /// Numbers connections (`ConnKey::Inproc`).
    conns: u64,
}

/// libzmq's inproc pipes hold both sides' high-water marks; 0 on either means no limit.
fn sum_hwm(a: usize, b: usize) -> usize {
    if a == 0 || b == 0 {
        0
    } else {
        a.saturating_add(b)
    }
}

impl Registry {
    /// Binds `name` to `peer` and connects every waiting compatible connect.
    /// Whether a socket is bound at `name` (such as the ZAP handler's).
    pub(crate) fn is_bound(&self, name: &str) -> bool {
        self.bound.contains_key(name)
    }

    pub(crate) fn bind(&mut self, name: &str, peer: InprocPeer) -> Result<()> {
        if self.bound.get(name).is_some_and(InprocPeer::alive) {
            return Err(Error::EADDRINUSE);
        }
        self.bound.insert(name.to_owned(), peer.clone());
        for c in self.waiting.remove(name).unwrap_or_default() {
            if c.alive() && c.socket_type.is_compatible(peer.socket_type) {
                self.conns += 1;
                join(&c, &peer, self.conns);
            }
        }
        Ok(())
    }

    /// Connects `peer` to the socket bound at `name`, or waits for that bind.
    pub(crate) fn connect(&mut self, name: &str, peer: InprocPeer) -> Result<()> {
        match self.bound.get(name).filter(|b| b.alive()) {
            Some(b) if !peer.socket_type.is_compatible(b.socket_type) => Err(Error::ENOCOMPATPROTO),
            Some(b) => {
                self.conns += 1;
                join(&peer, b, self.conns);
                Ok(())
            }
            None => {
                let list = self.waiting.entry(name.to_owned()).or_default();
                list.retain(InprocPeer::alive);
                list.push(peer);
                Ok(())
            }
        }
    }

    /// Forgets the bind of `name` by this socket's `link`.
    pub(crate) fn unbind(&mut self, name: &str, shared: &Weak<dyn InprocSocket>, link: LinkKey) {
        if self.bound.get(name).is_some_and(|b| b.is(shared, link)) {
            self.bound.remove(name);
        }
    }

    /// Forgets a connect of `name` still waiting for its bind.
    pub(crate) fn cancel_connect(
        &mut self,
        name: &str,
        shared: &Weak<dyn InprocSocket>,
        link: LinkKey,
    ) {
        if let Some(list) = self.waiting.get_mut(name) {
            list.retain(|c| !c.is(shared, link) && c.alive());
            if list.is_empty() {
                self.waiting.remove(name);
            }
        }
    }
}

/// Makes connection `id` between `connector` and `binder`: two pipes, one
/// attachment posted to each side.
fn join(connector: &InprocPeer, binder: &InprocPeer, id: u64) {
    let (Some(c), Some(b)) = (connector.shared.upgrade(), binder.shared.upgrade()) else {
        return;
    };
    let (to_binder, from_connector) = new_pipe(sum_hwm(connector.sndhwm, binder.rcvhwm));
    let (to_connector, from_binder) = new_pipe(sum_hwm(binder.sndhwm, connector.rcvhwm));
    let conn = ConnKey::Inproc(id);
    post(&c, conn, connector.link, binder, to_binder, from_binder);
    post(
        &b,
        conn,
        binder.link,
        connector,
        to_connector,
        from_connector,
    );
}

fn post(
    to: &Arc<dyn InprocSocket>,
    conn: ConnKey,
    link: LinkKey,
    peer: &InprocPeer,
    out: tiermq_pipe::Writer<tiermq_wire::Item>,
    inp: tiermq_pipe::Reader<tiermq_wire::Item>,
) {
    to.post(Event::Attached(Attachment {
        conn,
        link,
        peer_addr: "inproc".to_owned(),
        peer_type: peer.socket_type,
        identity: peer.identity.clone(),
        props: None,
        out,
        inp,
    }));
}

#[cfg(test)]
mod tests {
    use super::sum_hwm;

    #[test]
    fn inproc_hwm_adds_both_sides_unless_one_is_unlimited() {
        assert_eq!(sum_hwm(10, 20), 30);
        assert_eq!(sum_hwm(0, 20), 0);
        assert_eq!(sum_hwm(usize::MAX, 1), usize::MAX);
    }
}
