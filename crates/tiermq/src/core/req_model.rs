//! A model-based proptest of REQ over the core, with no threads: random
//! sends, receives, server replies (late ones included), deaths, revivals,
//! disconnections and resend timers, checked against what the application
//! may see: exactly one reply per request, and only the reply to the
//! request it sent last.
//!
//! Each server is an in-order REP: it answers the requests it took from
//! the wire, oldest first, once each. That is what lets the REQ tell a late
//! answer from the one it waits for without changing the envelope.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use tiermq_pipe::{Reader, Writer};
use tiermq_wire::{Multipart, SocketType as WireType};

use super::{Attachment, ConnKey, Core, Event, LinkKind, Pattern};
use crate::core::test_pipes::RecvMessage;
use crate::events::new_pipe;
use crate::peer::PeerState;
use tiermq_wire::Item;

/// The REQ_RESEND_IVL the timer steps use, when on.
const RESEND_MS: u64 = 100;

#[derive(Clone, Debug)]
enum Step {
    /// A server connects at this priority.
    Attach(u8),
    /// The application sends a new request (if REQ lets it).
    Send,
    /// The application receives whatever is ready.
    Recv,
    /// Server `i` takes what reached its end of the wire.
    Take(usize),
    /// Server `i` answers its oldest request taken.
    Reply(usize),
    /// The heartbeat declares server `i` dead; the connection lingers.
    Die(usize),
    /// Server `i`, declared dead, is heard from again.
    Revive(usize),
    /// Server `i`'s connection ends, after it answered up to `flush`
    /// requests (delivered before the end, as the transport does).
    Detach(usize, usize),
    /// Time passes by REQ_RESEND_IVL.
    Timer,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => (1u8..=3).prop_map(Step::Attach),
        3 => Just(Step::Send),
        3 => Just(Step::Recv),
        3 => (0usize..4).prop_map(Step::Take),
        4 => (0usize..4).prop_map(Step::Reply),
        1 => (0usize..4).prop_map(Step::Die),
        1 => (0usize..4).prop_map(Step::Revive),
        1 => ((0usize..4), (0usize..3)).prop_map(|(i, f)| Step::Detach(i, f)),
        1 => Just(Step::Timer),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Link {
    Live,
    Dead,
    Gone,
}

/// One REP server at the far end of a pipe pair.
struct Server {
    conn: u64,
    /// Its end of the REQ's out pipe: what "the wire" carries to it.
    wire_in: Reader<Item>,
    /// Its end of the REQ's in pipe.
    wire_out: Writer<Item>,
    /// Requests it took and has not answered, oldest first.
    taken: VecDeque<Multipart>,
    link: Link,
}

struct World {
    core: Core,
    servers: Vec<Server>,
    now: Instant,
    next_conn: u64,
    /// The number of the application's latest request, if it sent one.
    current: Option<u64>,
    sent: u64,
    /// Whether the latest request's reply was received.
    answered: bool,
}

impl World {
    fn new(relaxed: bool, correlate: bool, resend: bool) -> World {
        let mut core = Core::new(Pattern::Req, WireType::Req, Arc::new(|_| {}));
        core.options.req_relaxed = relaxed;
        core.options.req_correlate = correlate;
        core.options.req_resend_ivl = if resend { RESEND_MS as i32 } else { 0 };
        World {
            core,
            servers: Vec::new(),
            now: Instant::now(),
            next_conn: 1,
            current: None,
            sent: 0,
            answered: false,
        }
    }

    fn attach(&mut self, prio: u8) {
        let core = &mut self.core;
        core.options.sndprio = prio;
        let key = core.new_link_key();
        let ep = format!("tcp://server:{}", self.next_conn);
        core.add_link(
            key,
            &ep,
            ep.clone(),
            LinkKind::Net {
                bind: false,
                link: None,
            },
        );
        let (out, wire_in) = new_pipe(1000);
        let (wire_out, inp) = new_pipe(1000);
        let conn = self.next_conn;
        self.next_conn += 1;
        core.apply(
            Event::Attached(Attachment {
                conn: ConnKey::Net(0, conn),
                link: key,
                peer_addr: ep,
                peer_type: WireType::Rep,
                identity: Bytes::new(),
                props: None,
                out,
                inp,
            }),
            self.now,
        );
        self.servers.push(Server {
            conn,
            wire_in,
            wire_out,
            taken: VecDeque::new(),
            link: Link::Live,
        });
    }

    fn server(&mut self, i: usize) -> Option<&mut Server> {
        let n = self.servers.len();
        if n == 0 {
            return None;
        }
        self.servers.get_mut(i % n)
    }

    fn send(&mut self) {
        if self.core.check_send(&Bytes::new()).is_err() {
            return;
        }
        let n = self.sent;
        let body = Multipart::single(Bytes::copy_from_slice(&n.to_be_bytes()));
        if self.core.send(body, self.now).is_ok() {
            self.sent += 1;
            self.current = Some(n);
            self.answered = false;
        }
    }

    /// Receives every reply ready; checks each against the model.
    fn recv(&mut self) -> Result<usize, TestCaseError> {
        let mut got = 0;
        while self.core.check_recv().is_ok() {
            let Some((frame, more)) = self.core.recv_frame() else {
                break;
            };
            prop_assert!(!more, "replies are single frames");
            let current = self.current.expect("a reply with no request");
            prop_assert_eq!(
                &frame[..],
                &reply_body(current)[..],
                "the reply answers the request outstanding"
            );
            prop_assert!(!self.answered, "one reply per request");
            self.answered = true;
            got += 1;
        }
        Ok(got)
    }

    fn take(&mut self, i: usize) {
        if let Some(s) = self.server(i).filter(|s| s.link != Link::Gone) {
            while let Ok(m) = s.wire_in.try_recv_msg() {
                s.taken.push_back(m);
            }
        }
    }

    /// Server `i` answers its oldest request; a dead one is heard from
    /// first (any bytes revive it).
    fn reply(&mut self, i: usize) {
        let Some(s) = self.server(i).filter(|s| s.link != Link::Gone) else {
            return;
        };
        let Some(request) = s.taken.pop_front() else {
            return;
        };
        let conn = s.conn;
        let revived = s.link == Link::Dead;
        s.link = Link::Live;
        s.wire_out.try_send(answer(&request).into()).unwrap();
        if revived {
            let conn = ConnKey::Net(0, conn);
            self.core.apply(Event::Revived { conn }, self.now);
        }
        self.readable(conn);
    }

    fn readable(&mut self, conn: u64) {
        if let Some(&id) = self.core.conns.get(&ConnKey::Net(0, conn)) {
            let serial = self.core.pipes[id.0].serial;
            self.core
                .apply(Event::Readable { pipe: id, serial }, self.now);
        }
    }

    fn die(&mut self, i: usize) {
        let Some(s) = self.server(i).filter(|s| s.link == Link::Live) else {
            return;
        };
        s.link = Link::Dead;
        let conn = ConnKey::Net(0, s.conn);
        self.core.apply(
            Event::Dead {
                conn,
                unsent: Vec::new(),
            },
            self.now,
        );
    }

    fn revive(&mut self, i: usize) {
        let Some(s) = self.server(i).filter(|s| s.link == Link::Dead) else {
            return;
        };
        s.link = Link::Live;
        let conn = ConnKey::Net(0, s.conn);
        self.core.apply(Event::Revived { conn }, self.now);
    }

    fn detach(&mut self, i: usize, flush: usize) {
        let Some(s) = self.server(i).filter(|s| s.link != Link::Gone) else {
            return;
        };
        let dead = s.link == Link::Dead;
        for _ in 0..flush {
            let Some(request) = s.taken.pop_front() else {
                break;
            };
            s.wire_out.try_send(answer(&request).into()).unwrap();
        }
        s.link = Link::Gone;
        s.taken.clear();
        s.wire_out.close();
        s.wire_in.close();
        let conn = ConnKey::Net(0, s.conn);
        self.core.apply(
            Event::Detached {
                conn,
                unsent: Vec::new(),
                dead,
            },
            self.now,
        );
    }

    fn timer(&mut self) {
        self.now += Duration::from_millis(RESEND_MS);
        self.core.handle_resend_timer(self.now);
    }

    fn run(&mut self, s: &Step) -> Result<(), TestCaseError> {
        match *s {
            Step::Attach(p) if self.servers.len() < 6 => self.attach(p),
            Step::Attach(_) => {}
            Step::Send => self.send(),
            Step::Recv => {
                self.recv()?;
            }
            Step::Take(i) => self.take(i),
            Step::Reply(i) => self.reply(i),
            Step::Die(i) => self.die(i),
            Step::Revive(i) => self.revive(i),
            Step::Detach(i, f) => self.detach(i, f),
            Step::Timer => self.timer(),
        }
        self.check_counts()
    }

    /// `peers()` agrees with the stale replies the core dropped: every
    /// reply a server wrote was either received or counted as stale, or
    /// still waits in a pipe.
    fn check_counts(&self) -> Result<(), TestCaseError> {
        for p in self.core.peers() {
            prop_assert!(p.stale_replies <= p.received);
        }
        Ok(())
    }

    /// Everyone answers everything and nobody dies: the outstanding
    /// request must then get its one reply.
    fn settle(&mut self) -> Result<(), TestCaseError> {
        for i in 0..self.servers.len() {
            self.revive(i);
        }
        if !self.servers.iter().any(|s| s.link == Link::Live) {
            self.attach(1);
        }
        for _ in 0..20 {
            for i in 0..self.servers.len() {
                self.take(i);
                while self.servers[i].link == Link::Live && !self.servers[i].taken.is_empty() {
                    self.reply(i);
                }
            }
            self.recv()?;
            if self.answered || self.current.is_none() {
                return Ok(());
            }
            self.timer();
        }
        prop_assert!(
            false,
            "request {:?} never answered; peers: {:#?}",
            self.current,
            self.core
                .peers()
                .iter()
                .map(|p| (p.state, p.sent, p.received, p.stale_replies))
                .collect::<Vec<_>>()
        );
        Ok(())
    }
}

fn reply_body(n: u64) -> Vec<u8> {
    let mut b = b"re:".to_vec();
    b.extend_from_slice(&n.to_be_bytes());
    b
}

/// A REP's answer: the request's envelope, then the reply to its body.
fn answer(request: &Multipart) -> Multipart {
    let frames = request.frames();
    let delimiter = frames.iter().position(|f| f.is_empty()).unwrap();
    let body = &frames[delimiter + 1];
    let n = u64::from_be_bytes(body[..8].try_into().unwrap());
    let mut reply: Multipart = frames[..=delimiter].iter().cloned().collect();
    reply.push(Bytes::from(reply_body(n)));
    reply
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn req_delivers_exactly_the_reply_to_the_outstanding_request(
        relaxed in any::<bool>(),
        correlate in any::<bool>(),
        resend in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..80),
    ) {
        let mut w = World::new(relaxed, correlate, resend);
        w.attach(1);
        w.attach(2);
        for s in &steps {
            w.run(s)?;
        }
        w.settle()?;
    }
}

/// The scene: the primary holds a request, is frozen and declared
/// dead; the backup answers the resent request; the primary thaws and
/// answers late; the next request fails back to the primary and must get
/// its own answer, not the late one.
#[test]
fn a_late_answer_from_a_revived_server_is_not_the_next_reply() {
    for correlate in [false, true] {
        let mut w = World::new(false, correlate, false);
        w.attach(1);
        w.attach(2);
        w.send();
        w.take(0); // the primary holds request 0
        w.die(0); // frozen: request 0 is resent to the backup
        w.take(1);
        w.reply(1);
        assert_eq!(w.recv().unwrap(), 1);
        w.revive(0); // thawed: ready again, traffic fails back
        w.send();
        w.take(0); // the primary now holds requests 0 and 1
        w.reply(0); // the late answer to request 0: dropped
        assert_eq!(w.recv().unwrap(), 0, "correlate {correlate}");
        w.reply(0); // the answer to request 1
        assert_eq!(w.recv().unwrap(), 1);
        let peers = w.core.peers();
        let primary = peers.iter().find(|p| p.endpoint.ends_with(":1")).unwrap();
        assert_eq!(primary.stale_replies, 1);
        assert_eq!(primary.state, PeerState::Ready);
    }
}
