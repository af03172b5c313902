//! PUB and XPUB: the subscriptions each subscriber sent, counted per pipe
//! in a [`Subscriptions`] trie, and messages fanned out over them (see
//! `distribute`). XPUB also hands subscriptions to the application as
//! messages (0x01/0x00 + topic): only those that change what the socket as
//! a whole wants, unless XPUB_VERBOSE (subscriptions) or XPUB_VERBOSER
//! (cancels too); with XPUB_MANUAL every one, and the application decides
//! what the trie holds. XPUB_WELCOME_MSG greets each new subscriber.

use std::collections::VecDeque;

use bytes::{BufMut, BytesMut};
use tiermq_pipe::RecvError;
use tiermq_sched::{PipeId, Subscriptions};
use tiermq_wire::{Item, Multipart};

use crate::core::{Core, Incoming, Pattern};
use crate::options::hwm;

/// The state of PUB and XPUB.
#[derive(Debug, Default)]
pub(in crate::core) struct PubState {
    /// What each pipe is sent.
    pub(in crate::core) subs: Subscriptions,
    /// XPUB_MANUAL: what each pipe asked for, to cancel when it goes.
    asked: Subscriptions,
    /// XPUB: messages for the application, with the pipe (and its serial)
    /// they came from.
    pending: VecDeque<(Multipart, (PipeId, u64))>,
    /// XPUB_MANUAL: the pipe of the message the application read last.
    last_pipe: Option<(PipeId, u64)>,
    /// XPUB: pipes with input left unread while `pending` was full.
    unread: Vec<PipeId>,
    /// Scratch space for the pipes a message goes to.
    pub(in crate::core) matched: Vec<PipeId>,
}

/// A subscription (1) or cancel (0) as XPUB hands it to the application.
fn notice(subscribe: bool, topic: &[u8]) -> Multipart {
    let mut b = BytesMut::with_capacity(1 + topic.len());
    b.put_u8(u8::from(subscribe));
    b.put_slice(topic);
    Multipart::single(b.freeze())
}

impl Core {
    /// Reads what pipe `id` sent: subscription changes, and (XPUB) other
    /// messages for the application. Reads until the pipe is empty (which
    /// arms its waker), or XPUB's queue for the application holds RCVHWM
    /// messages (the rest waits for the application to read).
    pub(in crate::core) fn read_subscriptions(&mut self, id: PipeId) {
        let xpub = self.pattern == Pattern::XPub;
        let limit = hwm(self.options.rcvhwm);
        loop {
            if xpub && limit > 0 && self.publish.pending.len() >= limit {
                if !self.publish.unread.contains(&id) {
                    self.publish.unread.push(id);
                }
                return;
            }
            let Some(rec) = self.pipes.get_mut(id.0) else {
                return;
            };
            let from = (id, rec.serial);
            let item = match rec.take_item() {
                Ok(item) => item,
                Err(RecvError::Empty) => return,
                Err(RecvError::Closed) => {
                    rec.inp = None;
                    return;
                }
            };
            match item {
                Item::Subscribe(topic) => self.on_subscription(from, &topic, true),
                Item::Cancel(topic) => self.on_subscription(from, &topic, false),
                Item::Message(m) if xpub => {
                    rec.received += 1;
                    self.publish.pending.push_back((m, from));
                }
                // PUB never reads messages.
                Item::Message(_) => {}
            }
        }
    }

    /// Pipe `from` subscribed to `topic` (or cancelled).
    fn on_subscription(&mut self, from: (PipeId, u64), topic: &[u8], subscribe: bool) {
        let o = &self.options;
        let xpub = self.pattern == Pattern::XPub;
        let p = &mut self.publish;
        if xpub && o.xpub_manual {
            if subscribe {
                p.asked.subscribe(from.0, topic);
            } else {
                p.asked.unsubscribe(from.0, topic);
            }
            p.pending.push_back((notice(subscribe, topic), from));
            return;
        }
        let (unique, verbose) = if subscribe {
            (p.subs.subscribe(from.0, topic), o.xpub_verbose_subs)
        } else {
            (p.subs.unsubscribe(from.0, topic), o.xpub_verbose_unsubs)
        };
        if xpub && (unique || verbose) {
            p.pending.push_back((notice(subscribe, topic), from));
        }
    }

    /// XPUB: the next message for the application.
    pub(in crate::core) fn next_notice(&mut self) -> Option<Incoming> {
        for id in std::mem::take(&mut self.publish.unread) {
            self.read_subscriptions(id);
        }
        let (body, from) = self.publish.pending.pop_front()?;
        self.publish.last_pipe = Some(from);
        Some(Incoming {
            body,
            from,
            envelope: Vec::new(),
        })
    }

    /// XPUB_MANUAL: `set_subscribe`/`set_unsubscribe` on the XPUB apply to
    /// the pipe whose message the application read last (if it is still
    /// there), as in libzmq.
    pub(in crate::core) fn manual_subscription(&mut self, topic: &[u8], subscribe: bool) {
        let Some((id, serial)) = self.publish.last_pipe else {
            return;
        };
        if self.pipes.get(id.0).is_none_or(|r| r.serial != serial) {
            return;
        }
        if subscribe {
            self.publish.subs.subscribe(id, topic);
        } else {
            self.publish.subs.unsubscribe(id, topic);
        }
    }

    /// A new subscriber: XPUB greets it with the welcome message; then
    /// what it already sent is read.
    pub(in crate::core) fn publisher_attached(&mut self, id: PipeId, serial: u64) {
        let welcome = &self.options.xpub_welcome_msg;
        if self.pattern == Pattern::XPub && !welcome.is_empty() {
            let msg = Multipart::single(welcome.clone());
            self.send_to(id, serial, msg, self.last_now);
        }
        self.read_subscriptions(id);
    }

    /// Pipe `id` left: its subscriptions go with it. XPUB tells the
    /// application of the topics nobody wants any more; with
    /// XPUB_VERBOSER, of every topic the pipe had; with XPUB_MANUAL, of
    /// every topic it had asked for (as libzmq).
    pub(in crate::core) fn publisher_pipe_gone(&mut self, id: PipeId, serial: u64) {
        let xpub = self.pattern == Pattern::XPub;
        let o = &self.options;
        let p = &mut self.publish;
        let every = if xpub && o.xpub_manual {
            Some(p.asked.prefixes(id))
        } else if xpub && o.xpub_verbose_unsubs {
            Some(p.subs.prefixes(id))
        } else {
            None
        };
        let lost = p.subs.remove_pipe(id);
        p.asked.remove_pipe(id);
        p.unread.retain(|&u| u != id);
        if xpub {
            for topic in every.unwrap_or(lost) {
                p.pending.push_back((notice(false, &topic), (id, serial)));
            }
        }
    }
}
