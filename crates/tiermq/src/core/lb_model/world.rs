//! The model world of `lb_model`: the peers, what each pipe may hold, and
//! the checks run after every step.

use super::*;
use crate::core::test_pipes::RecvMessage;
use tiermq_wire::Item;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Link {
    Live,
    /// Declared dead; the connection lingers.
    Dead,
    /// The connection ended; `Detached` not reported yet.
    Closing,
    /// Reported detached.
    Gone,
}

/// Where the model knows a message the core accepted to be.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Loc {
    /// In the socket's queue (rerouted, or IMMEDIATE=0).
    Queued,
    /// In the pipe of one of the peers `cands`, handed to it as the
    /// `key`th message the core handed to any pipe.
    Piped { key: u64, cands: Vec<usize> },
    /// Taken by peer `i`'s transport, neither written nor handed back.
    Held(usize),
    /// Delivered to peer `i` (or written to it and lost with the
    /// connection).
    Delivered(usize),
}

pub(super) struct Msg {
    pub(super) frames: usize,
    pub(super) loc: Loc,
}

/// A peer at the far end of a pipe pair, with its transport.
pub(super) struct Peer {
    pub(super) conn: u64,
    pub(super) addr: String,
    pub(super) rcvprio: u8,
    /// The transport's end of the core's out pipe.
    pub(super) wire_in: Reader<Item>,
    /// The transport's end of the core's in pipe.
    pub(super) wire_out: Writer<Item>,
    pub(super) link: Link,
    /// Messages its transport took and its peer has not read, oldest first.
    pub(super) held: VecDeque<usize>,
    /// `wire_in`'s `total_in` as last seen.
    pub(super) seen_in: u64,
    /// The key of the last message its transport took.
    pub(super) last_key: u64,
    /// DEALER: the frame counts of the messages it sent, in order.
    pub(super) sent: Vec<usize>,
    /// DEALER: how many of them the application received.
    pub(super) got: usize,
}

pub(super) struct World {
    pub(super) core: Core,
    pub(super) dealer: bool,
    /// Links are connects (else binds): IMMEDIATE=0 can queue.
    pub(super) connect: bool,
    pub(super) immediate: bool,
    pub(super) sndhwm: usize,
    pub(super) peers: Vec<Peer>,
    pub(super) now: Instant,
    pub(super) next_conn: u64,
    /// Every message the core accepted, by number.
    pub(super) msgs: Vec<Msg>,
    /// The socket's queue as the model has it, oldest first.
    pub(super) queue: VecDeque<usize>,
    /// The frame count of a refused message, which the application sends
    /// again (as number `msgs.len()`) at its next send.
    pub(super) pending: Option<usize>,
    pub(super) next_key: u64,
}

pub(super) fn app_message(n: usize, frames: usize) -> Multipart {
    (0..frames)
        .map(|_| Bytes::copy_from_slice(&(n as u64).to_be_bytes()))
        .collect()
}

/// The number and frame count of an application message; every frame
/// must carry the same number.
pub(super) fn decode(m: &Multipart) -> Result<(usize, usize), TestCaseError> {
    let frames = m.frames();
    prop_assert!(!frames.is_empty(), "an empty message");
    let first = &frames[0];
    prop_assert_eq!(first.len(), 8, "not an application message: {:?}", m);
    prop_assert!(
        frames.iter().all(|f| f == first),
        "a message mixes frames of others: {:?}",
        m
    );
    let n = u64::from_be_bytes(first[..].try_into().unwrap());
    Ok((n as usize, frames.len()))
}

pub(super) fn peer_frame(conn: u64, seq: usize) -> Bytes {
    let mut b = conn.to_be_bytes().to_vec();
    b.extend_from_slice(&(seq as u64).to_be_bytes());
    Bytes::from(b)
}

impl World {
    pub(super) fn new(dealer: bool, connect: bool, immediate: bool, sndhwm: usize) -> World {
        let t = if dealer {
            WireType::Dealer
        } else {
            WireType::Push
        };
        let mut core = Core::new(Pattern::of(t).unwrap(), t, Arc::new(|_| {}));
        core.options.immediate = immediate;
        core.options.sndhwm = sndhwm as i32;
        if connect {
            // A connect with no connection yet: IMMEDIATE=0 may queue from
            // the start.
            let key = core.new_link_key();
            let dialing = LinkKind::Net {
                bind: false,
                link: None,
            };
            core.add_link(key, "tcp://dialing:1", "tcp://dialing:1".into(), dialing);
        }
        World {
            core,
            dealer,
            connect,
            immediate,
            sndhwm,
            peers: Vec::new(),
            now: Instant::now(),
            next_conn: 1,
            msgs: Vec::new(),
            queue: VecDeque::new(),
            pending: None,
            next_key: 1,
        }
    }

    /// The `i`th (modulo) of the peers whose link passes `ok`.
    pub(super) fn pick(&self, i: usize, ok: impl Fn(Link) -> bool) -> Option<usize> {
        let some: Vec<usize> = (0..self.peers.len())
            .filter(|&j| ok(self.peers[j].link))
            .collect();
        (!some.is_empty()).then(|| some[i % some.len()])
    }

    pub(super) fn conn(&self, i: usize) -> ConnKey {
        ConnKey::Net(0, self.peers[i].conn)
    }

    pub(super) fn message(&self, n: usize) -> Multipart {
        app_message(n, self.msgs[n].frames)
    }

    // ----- bookkeeping after each core call -----

    /// Accounts for what the core handed to pipes in the call just made,
    /// `entering` its queue (after what it held) in that call: the oldest
    /// of them, as many as the pipes got, in order.
    pub(super) fn after_call(&mut self, entering: Vec<usize>) -> Result<(), TestCaseError> {
        let mut fifo: Vec<usize> = self.queue.drain(..).collect();
        fifo.extend(entering);
        let mut got = Vec::new();
        let mut handed = 0;
        for (i, p) in self.peers.iter_mut().enumerate() {
            let total = p.wire_in.stats().total_in;
            let d = usize::try_from(total - p.seen_in).unwrap();
            p.seen_in = total;
            if d > 0 {
                got.push(i);
                handed += d;
            }
        }
        prop_assert!(
            handed <= fifo.len(),
            "pipes got {} messages, only {:?} could go",
            handed,
            fifo
        );
        for &n in &fifo[..handed] {
            self.msgs[n].loc = Loc::Piped {
                key: self.next_key,
                cands: got.clone(),
            };
            self.next_key += 1;
        }
        for &n in &fifo[handed..] {
            self.msgs[n].loc = Loc::Queued;
        }
        self.queue = fifo[handed..].iter().copied().collect();
        if !got.is_empty() {
            self.check_tiers(&got)?;
        }
        Ok(())
    }

    /// The pipes `got` were handed messages: each was ready (it may be busy
    /// now), and no more preferred pipe is still ready.
    pub(super) fn check_tiers(&self, got: &[usize]) -> Result<(), TestCaseError> {
        let peers = self.core.peers();
        let best_ready = peers
            .iter()
            .filter(|p| p.state == PeerState::Ready)
            .map(|p| p.sndprio)
            .min();
        for &i in got {
            let Some(p) = peers.iter().find(|p| p.remote_addr == self.peers[i].addr) else {
                return Err(TestCaseError::fail(format!(
                    "peer {i} got messages, has no pipe"
                )));
            };
            prop_assert!(
                matches!(p.state, PeerState::Ready | PeerState::Busy),
                "peer {} got messages while {:?}",
                i,
                p.state
            );
            if let Some(best) = best_ready {
                prop_assert!(
                    best >= p.sndprio,
                    "peer {} (tier {}) got messages while tier {} is ready",
                    i,
                    p.sndprio,
                    best
                );
            }
        }
        Ok(())
    }

    pub(super) fn check_none_ready(&self, why: &str) -> Result<(), TestCaseError> {
        let ready: Vec<String> = self
            .core
            .peers()
            .into_iter()
            .filter(|p| p.state == PeerState::Ready)
            .map(|p| p.remote_addr)
            .collect();
        prop_assert!(ready.is_empty(), "{} while {:?} are ready", why, ready);
        Ok(())
    }

    /// Narrows the candidate pipes of messages by how many each pipe holds,
    /// and checks that this is consistent.
    pub(super) fn resolve(&mut self) -> Result<(), TestCaseError> {
        loop {
            let mut changed = false;
            for i in 0..self.peers.len() {
                let queued = if self.peers[i].link == Link::Gone {
                    0
                } else {
                    self.peers[i].wire_in.stats().queued
                };
                let (mut sure, mut maybe) = (0, 0);
                for m in &self.msgs {
                    if let Loc::Piped { cands, .. } = &m.loc
                        && cands.contains(&i)
                    {
                        maybe += 1;
                        sure += usize::from(cands.len() == 1);
                    }
                }
                prop_assert!(
                    sure <= queued && queued <= maybe,
                    "peer {}'s pipe holds {} messages; the model says {}..={}",
                    i,
                    queued,
                    sure,
                    maybe
                );
                // Only the sure ones are there, or all that may be.
                let only_sure = queued == sure;
                if sure == maybe || (!only_sure && queued != maybe) {
                    continue;
                }
                changed = true;
                for m in &mut self.msgs {
                    if let Loc::Piped { cands, .. } = &mut m.loc
                        && cands.contains(&i)
                    {
                        if !only_sure {
                            *cands = vec![i];
                        } else if cands.len() > 1 {
                            cands.retain(|&c| c != i);
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let piped = self
            .msgs
            .iter()
            .filter(|m| matches!(m.loc, Loc::Piped { .. }))
            .count();
        let queued: usize = self
            .peers
            .iter()
            .filter(|p| p.link != Link::Gone)
            .map(|p| p.wire_in.stats().queued)
            .sum();
        prop_assert_eq!(piped, queued, "messages in pipes");
        Ok(())
    }

    /// Before peer `i`'s pipe ends or is taken back: if the model is unsure
    /// what it holds, its transport takes everything.
    pub(super) fn know_pipe(&mut self, i: usize) -> Result<(), TestCaseError> {
        self.resolve()?;
        let unsure = self.msgs.iter().any(
            |m| matches!(&m.loc, Loc::Piped { cands, .. } if cands.len() > 1 && cands.contains(&i)),
        );
        if unsure {
            self.take(i, usize::MAX)?;
            self.resolve()?;
        }
        Ok(())
    }

    /// What peer `i`'s pipe holds, oldest first.
    pub(super) fn in_pipe(&self, i: usize) -> Result<Vec<usize>, TestCaseError> {
        let mut v: Vec<(u64, usize)> = Vec::new();
        for (n, m) in self.msgs.iter().enumerate() {
            if let Loc::Piped { key, cands } = &m.loc
                && cands.contains(&i)
            {
                prop_assert_eq!(cands.len(), 1, "message {} may be elsewhere", n);
                v.push((*key, n));
            }
        }
        v.sort_unstable();
        Ok(v.into_iter().map(|(_, n)| n).collect())
    }

    /// Of what peer `i`'s transport holds, the first `split` were written
    /// (delivered); the rest are handed back.
    pub(super) fn split_held(&mut self, i: usize, split: usize) -> Vec<usize> {
        let held = std::mem::take(&mut self.peers[i].held);
        let split = split.min(held.len());
        for &n in held.iter().take(split) {
            self.msgs[n].loc = Loc::Delivered(i);
        }
        held.into_iter().skip(split).collect()
    }

    // ----- steps -----

    pub(super) fn attach(
        &mut self,
        prio: u8,
        hwm: usize,
        rcvprio: u8,
    ) -> Result<(), TestCaseError> {
        let core = &mut self.core;
        core.options.sndprio = prio;
        core.options.rcvprio = rcvprio;
        let key = core.new_link_key();
        let conn = self.next_conn;
        self.next_conn += 1;
        let ep = format!("tcp://peer:{conn}");
        core.add_link(
            key,
            &ep,
            ep.clone(),
            LinkKind::Net {
                bind: !self.connect,
                link: None,
            },
        );
        let (out, wire_in) = new_pipe(hwm);
        let (wire_out, inp) = new_pipe(hwm);
        let addr = format!("peer-{conn}");
        self.peers.push(Peer {
            conn,
            addr: addr.clone(),
            rcvprio,
            wire_in,
            wire_out,
            link: Link::Live,
            held: VecDeque::new(),
            seen_in: 0,
            last_key: 0,
            sent: Vec::new(),
            got: 0,
        });
        let peer_type = if self.dealer {
            WireType::Router
        } else {
            WireType::Pull
        };
        self.core.apply(
            Event::Attached(Attachment {
                conn: ConnKey::Net(0, conn),
                link: key,
                peer_addr: addr,
                peer_type,
                identity: Bytes::new(),
                props: None,
                out,
                inp,
            }),
            self.now,
        );
        self.after_call(Vec::new())
    }

    /// The application sends (again, if refused before) a message; says
    /// whether the core took it.
    pub(super) fn send(&mut self, frames: usize) -> Result<bool, TestCaseError> {
        let n = self.msgs.len();
        let frames = self.pending.take().unwrap_or(frames);
        match self.core.send(app_message(n, frames), self.now) {
            Ok(()) => {
                self.msgs.push(Msg {
                    frames,
                    loc: Loc::Queued,
                });
                self.after_call(vec![n])?;
                if self.queue.back() == Some(&n) {
                    let before = self.queue.len() - 1;
                    prop_assert!(
                        self.may_queue(before),
                        "message {} queued with {} queued, immediate {}, connect {}",
                        n,
                        before,
                        self.immediate,
                        self.connect
                    );
                    self.check_none_ready("a message queued")?;
                }
            }
            Err(Refused::Wait(back)) => {
                prop_assert_eq!(decode(&back)?, (n, frames), "the refused message");
                self.pending = Some(frames);
                self.after_call(Vec::new())?;
                prop_assert!(
                    !self.may_queue(self.queue.len()),
                    "refused though {} could queue",
                    self.queue.len()
                );
                self.check_none_ready("a send refused")?;
                return Ok(false);
            }
            Err(Refused::Fail(e)) => {
                return Err(TestCaseError::fail(format!("send failed: {e:?}")));
            }
        }
        Ok(true)
    }

    /// Whether IMMEDIATE=0 may queue one more message behind `queued`.
    pub(super) fn may_queue(&self, queued: usize) -> bool {
        // Busy peers push back; only while every peer is away (in the
        // core's view: no pipe ready or busy) does the socket queue.
        let away =
            !self.core.pipes.iter().any(|(_, p)| {
                p.out.is_some() && matches!(p.state, PeerState::Ready | PeerState::Busy)
            });
        self.connect && !self.immediate && queued < self.sndhwm && away
    }

    /// Peer `i`'s transport takes up to `k` messages off its pipe.
    pub(super) fn take(&mut self, i: usize, k: usize) -> Result<(), TestCaseError> {
        for _ in 0..k {
            let Ok(m) = self.peers[i].wire_in.try_recv_msg() else {
                break;
            };
            let (n, frames) = decode(&m)?;
            prop_assert!(n < self.msgs.len(), "message {} was never accepted", n);
            prop_assert_eq!(frames, self.msgs[n].frames, "message {} whole", n);
            let Loc::Piped { key, cands } = &self.msgs[n].loc else {
                let loc = &self.msgs[n].loc;
                return Err(TestCaseError::fail(format!(
                    "peer {i} took message {n} while it is {loc:?}"
                )));
            };
            let key = *key;
            prop_assert!(
                cands.contains(&i),
                "peer {} took message {} handed to {:?}",
                i,
                n,
                cands
            );
            prop_assert!(
                key > self.peers[i].last_key,
                "peer {} took message {} (handed {}th) after one handed {}th",
                i,
                n,
                key,
                self.peers[i].last_key
            );
            // Its pipe is FIFO: nothing handed to it earlier is still there.
            for (n2, m2) in self.msgs.iter().enumerate() {
                if let Loc::Piped { key: k2, cands: c2 } = &m2.loc {
                    prop_assert!(
                        !(c2 == &[i] && *k2 < key),
                        "peer {} took message {} before message {}",
                        i,
                        n,
                        n2
                    );
                }
            }
            self.msgs[n].loc = Loc::Held(i);
            self.peers[i].held.push_back(n);
            self.peers[i].last_key = key;
        }
        Ok(())
    }

    pub(super) fn read(&mut self, i: usize, k: usize) {
        for _ in 0..k {
            let Some(n) = self.peers[i].held.pop_front() else {
                break;
            };
            self.msgs[n].loc = Loc::Delivered(i);
        }
    }

    pub(super) fn writable(&mut self, i: usize) -> Result<(), TestCaseError> {
        if let Some(&id) = self.core.conns.get(&self.conn(i)) {
            let serial = self.core.pipes[id.0].serial;
            self.core
                .apply(Event::Writable { pipe: id, serial }, self.now);
            self.after_call(Vec::new())?;
            // Busy until drained to the low-water mark, then ready.
            let state = self.state(i);
            if self.peers[i].link == Link::Live
                && matches!(state, Some(PeerState::Ready | PeerState::Busy))
            {
                let full = self.peers[i].wire_in.stats().full;
                prop_assert_eq!(
                    state == Some(PeerState::Busy),
                    full,
                    "peer {} after a writable event",
                    i
                );
            }
        }
        Ok(())
    }

    /// Peer `i`'s state as the core reports it.
    pub(super) fn state(&self, i: usize) -> Option<PeerState> {
        let addr = &self.peers[i].addr;
        let peers = self.core.peers();
        peers
            .iter()
            .find(|p| &p.remote_addr == addr)
            .map(|p| p.state)
    }

    /// A pipe the core calls ready has room (it turns busy at its HWM).
    pub(super) fn check_ready_has_room(&self) -> Result<(), TestCaseError> {
        for p in self.core.peers() {
            if p.state != PeerState::Ready {
                continue;
            }
            if let Some((i, q)) = self
                .peers
                .iter()
                .enumerate()
                .find(|(_, q)| q.addr == p.remote_addr && q.link == Link::Live)
            {
                prop_assert!(!q.wire_in.stats().full, "peer {} is ready, full", i);
            }
        }
        Ok(())
    }

    pub(super) fn readable(&mut self, i: usize) -> Result<(), TestCaseError> {
        if let Some(&id) = self.core.conns.get(&self.conn(i)) {
            let serial = self.core.pipes[id.0].serial;
            self.core
                .apply(Event::Readable { pipe: id, serial }, self.now);
            self.after_call(Vec::new())?;
        }
        Ok(())
    }

    /// Peer `i`'s connection ends; `Detached` is still to come.
    pub(super) fn close(&mut self, i: usize, wake: bool) -> Result<(), TestCaseError> {
        self.know_pipe(i)?;
        let p = &mut self.peers[i];
        p.wire_in.close();
        p.wire_out.close();
        p.link = Link::Closing;
        if wake {
            self.writable(i)?;
        }
        Ok(())
    }

    pub(super) fn detach(
        &mut self,
        i: usize,
        split: usize,
        wake: bool,
    ) -> Result<(), TestCaseError> {
        let dead = self.peers[i].link == Link::Dead;
        if self.peers[i].link != Link::Closing {
            self.close(i, wake && !dead)?;
        }
        let unsent = self.split_held(i, split);
        let reclaim = self.in_pipe(i)?;
        let before = self.peers[i].wire_in.stats().reclaimed;
        let event = Event::Detached {
            conn: self.conn(i),
            unsent: unsent.iter().map(|&n| self.message(n)).collect(),
            dead,
        };
        self.core.apply(event, self.now);
        self.peers[i].link = Link::Gone;
        self.taken_back(i, unsent, reclaim, before)
    }

    pub(super) fn die(&mut self, i: usize, split: usize) -> Result<(), TestCaseError> {
        self.know_pipe(i)?;
        let unsent = self.split_held(i, split);
        let reclaim = self.in_pipe(i)?;
        let before = self.peers[i].wire_in.stats().reclaimed;
        let event = Event::Dead {
            conn: self.conn(i),
            unsent: unsent.iter().map(|&n| self.message(n)).collect(),
        };
        self.core.apply(event, self.now);
        self.peers[i].link = Link::Dead;
        self.taken_back(i, unsent, reclaim, before)
    }

    /// After peer `i` detached or died: the core took its pipe's queue back
    /// (`reclaim`, `reclaimed_before` the count before), and reroutes
    /// `unsent` then that queue.
    pub(super) fn taken_back(
        &mut self,
        i: usize,
        unsent: Vec<usize>,
        reclaim: Vec<usize>,
        reclaimed_before: u64,
    ) -> Result<(), TestCaseError> {
        let reclaimed = self.peers[i].wire_in.stats().reclaimed - reclaimed_before;
        prop_assert_eq!(
            reclaimed,
            reclaim.len() as u64,
            "the core takes back peer {}'s queue {:?}",
            i,
            reclaim
        );
        let mut entering = unsent;
        entering.extend(reclaim);
        for &n in &entering {
            self.msgs[n].loc = Loc::Queued;
        }
        self.after_call(entering)
    }

    pub(super) fn revive(&mut self, i: usize) -> Result<(), TestCaseError> {
        self.peers[i].link = Link::Live;
        self.core
            .apply(Event::Revived { conn: self.conn(i) }, self.now);
        self.after_call(Vec::new())
    }

    /// DEALER: peer `i` sends a message (a dead one is heard from first).
    pub(super) fn peer_send(&mut self, i: usize, frames: usize) -> Result<(), TestCaseError> {
        if self.peers[i].link == Link::Dead {
            self.revive(i)?;
        }
        let p = &self.peers[i];
        let frame = peer_frame(p.conn, p.sent.len());
        let m: Multipart = (0..frames).map(|_| frame.clone()).collect();
        if p.wire_out.try_send(m.into()).is_ok() {
            self.peers[i].sent.push(frames);
            self.readable(i)?;
        }
        Ok(())
    }

    /// DEALER: the application receives everything ready.
    pub(super) fn recv(&mut self) -> Result<(), TestCaseError> {
        prop_assert!(self.core.check_recv().is_ok());
        while let Some((frame, mut more)) = self.core.recv_frame() {
            prop_assert_eq!(frame.len(), 16, "not a peer's message: {:?}", frame);
            let conn = u64::from_be_bytes(frame[..8].try_into().unwrap());
            let seq = u64::from_be_bytes(frame[8..].try_into().unwrap()) as usize;
            let Some(j) = self.peers.iter().position(|p| p.conn == conn) else {
                return Err(TestCaseError::fail(format!("from no peer: {frame:?}")));
            };
            prop_assert_eq!(
                seq,
                self.peers[j].got,
                "peer {}'s messages in order, each once",
                j
            );
            for (d, p) in self.peers.iter().enumerate() {
                prop_assert!(
                    p.rcvprio >= self.peers[j].rcvprio || p.got == p.sent.len(),
                    "received from peer {} (rcvprio {}) while peer {} (rcvprio {}) has some waiting",
                    j,
                    self.peers[j].rcvprio,
                    d,
                    p.rcvprio
                );
            }
            let mut frames = 1;
            while more {
                let Some((f, m)) = self.core.recv_frame() else {
                    return Err(TestCaseError::fail("a multipart message cut short"));
                };
                prop_assert_eq!(&f, &frame, "frames of one message");
                frames += 1;
                more = m;
            }
            prop_assert_eq!(frames, self.peers[j].sent[seq], "message whole");
            self.peers[j].got += 1;
        }
        Ok(())
    }

    pub(super) fn run(&mut self, s: &Step) -> Result<(), TestCaseError> {
        use Link::*;
        self.now += Duration::from_millis(1);
        match *s {
            Step::Attach { prio, hwm, rcvprio } if self.peers.len() < MAX_PEERS => {
                self.attach(prio, hwm, rcvprio)?;
            }
            Step::Attach { .. } => {}
            Step::Send { frames, count } => {
                for _ in 0..count {
                    if !self.send(frames)? {
                        break;
                    }
                }
            }
            Step::Take(i, k, wake) => {
                if let Some(i) = self.pick(i, |l| l == Live) {
                    self.take(i, k)?;
                    if wake {
                        self.writable(i)?;
                    }
                }
            }
            Step::Read(i, k) => {
                if let Some(i) = self.pick(i, |l| l == Live) {
                    self.read(i, k);
                }
            }
            Step::Writable(i) => {
                if let Some(i) = self.pick(i, |l| l != Gone) {
                    self.writable(i)?;
                }
            }
            Step::Close(i, wake) => {
                if let Some(i) = self.pick(i, |l| l == Live) {
                    self.close(i, wake)?;
                }
            }
            Step::Detach(i, split, wake) => {
                if let Some(i) = self.pick(i, |l| l != Gone) {
                    self.detach(i, split, wake)?;
                }
            }
            Step::Die(i, split) => {
                if let Some(i) = self.pick(i, |l| l == Live) {
                    self.die(i, split)?;
                }
            }
            Step::Revive(i) => {
                if let Some(i) = self.pick(i, |l| l == Dead) {
                    self.revive(i)?;
                }
            }
            Step::PeerSend(i, frames) => {
                if let Some(i) = self.pick(i, |l| l == Live || l == Dead) {
                    self.peer_send(i, frames)?;
                }
            }
            Step::Recv => self.recv()?,
        }
        self.resolve()?;
        self.check_ready_has_room()?;
        if !self.queue.is_empty() {
            self.check_none_ready("messages wait in the socket's queue")?;
        }
        Ok(())
    }

    /// Dead peers come back, ending connections end, a fresh ready peer
    /// attaches, and everyone drains: every accepted message must then have
    /// been delivered once, and (DEALER) every peer's message received.
    pub(super) fn finish(&mut self) -> Result<(), TestCaseError> {
        for i in 0..self.peers.len() {
            match self.peers[i].link {
                Link::Dead => self.revive(i)?,
                Link::Closing => self.detach(i, 0, false)?,
                _ => {}
            }
        }
        self.attach(1, 64, 1)?;
        for _ in 0..50 {
            for i in 0..self.peers.len() {
                if self.peers[i].link == Link::Live {
                    self.take(i, usize::MAX)?;
                    self.read(i, usize::MAX);
                    self.writable(i)?;
                }
            }
            if let Some(frames) = self.pending {
                self.send(frames)?;
            }
            if self.dealer {
                self.recv()?;
            }
            self.resolve()?;
            let all = self.msgs.iter().all(|m| matches!(m.loc, Loc::Delivered(_)));
            if all && self.pending.is_none() {
                break;
            }
        }
        prop_assert!(self.pending.is_none(), "the refused message never went");
        for (n, m) in self.msgs.iter().enumerate() {
            prop_assert!(
                matches!(m.loc, Loc::Delivered(_)),
                "message {} was never delivered: {:?}",
                n,
                m.loc
            );
        }
        if self.dealer {
            self.recv()?;
            for (i, p) in self.peers.iter().enumerate() {
                prop_assert_eq!(p.got, p.sent.len(), "peer {}'s messages received", i);
            }
        }
        Ok(())
    }
}
