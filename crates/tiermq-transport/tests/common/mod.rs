//! Shared test helpers: a Sink that forwards over std mpsc, and waiting for
//! notifications with a generous bound (to avoid hangs, never to time).

#![allow(dead_code, unreachable_pub)]

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tiermq_pipe::{Reader, Writer};
use tiermq_transport::{
    ConnId, DetachReason, Endpoint, LinkId, LinkOptions, MonitorEvent, Notification, Reactor, Sink,
};
use tiermq_wire::{Bytes, Item, Multipart, PeerInfo, SocketType};

/// How long any single wait may take before the test fails.
pub const BOUND: Duration = Duration::from_secs(10);

pub struct Forward(Mutex<Sender<Notification>>);

impl Sink for Forward {
    fn notify(&self, n: Notification) {
        let _ = self.0.lock().unwrap().send(n);
    }
}

pub fn sink() -> (Arc<dyn Sink>, Receiver<Notification>) {
    let (tx, rx) = mpsc::channel();
    (Arc::new(Forward(Mutex::new(tx))), rx)
}

pub fn deadline() -> Option<Instant> {
    Some(Instant::now() + BOUND)
}

/// Waits for the first notification `pick` accepts, skipping others.
pub fn wait_for<T>(
    rx: &Receiver<Notification>,
    what: &str,
    mut pick: impl FnMut(Notification) -> Option<T>,
) -> T {
    let end = Instant::now() + BOUND;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(n) => {
                if let Some(t) = pick(n) {
                    return t;
                }
            }
            Err(_) => panic!("no {what} within {BOUND:?}"),
        }
    }
}

pub struct Attached {
    pub conn: ConnId,
    pub peer: PeerInfo,
    pub peer_addr: String,
    pub endpoint: String,
    pub out: Writer<Item>,
    pub inp: Reader<Item>,
}

pub fn attached(rx: &Receiver<Notification>) -> Attached {
    wait_for(rx, "Attached", |n| match n {
        Notification::Attached {
            conn,
            peer,
            peer_addr,
            endpoint,
            out,
            inp,
            ..
        } => Some(Attached {
            conn,
            peer,
            peer_addr,
            endpoint,
            out,
            inp,
        }),
        _ => None,
    })
}

pub fn detached(rx: &Receiver<Notification>) -> (ConnId, DetachReason, Vec<Multipart>) {
    wait_for(rx, "Detached", |n| match n {
        Notification::Detached {
            conn,
            reason,
            unsent,
        } => Some((conn, reason, unsent)),
        _ => None,
    })
}

pub fn monitor<T>(
    rx: &Receiver<Notification>,
    what: &str,
    mut pick: impl FnMut(MonitorEvent) -> Option<T>,
) -> T {
    wait_for(rx, what, |n| match n {
        Notification::Monitor(e) => pick(e),
        _ => None,
    })
}

pub fn opts(socket_type: SocketType) -> LinkOptions {
    let mut o = LinkOptions::new(socket_type);
    o.reconnect_ivl = Some(Duration::from_millis(20));
    o
}

pub fn ep(s: &str) -> Endpoint {
    s.parse().unwrap()
}

/// A message whose first frame is the sequence number `seq`.
pub fn seq_msg(seq: u64) -> Multipart {
    Multipart::single(Bytes::copy_from_slice(&seq.to_le_bytes()))
}

pub fn seq_of(msg: &Multipart) -> u64 {
    let f = &msg.frames()[0];
    u64::from_le_bytes(f[..8].try_into().unwrap())
}

pub fn send(out: &Writer<Item>, msg: Multipart) {
    out.send_deadline(msg.into(), deadline())
        .expect("room in the out pipe");
}

pub fn recv(inp: &Reader<Item>) -> Multipart {
    inp.recv_deadline(deadline())
        .expect("a message")
        .into_message()
        .expect("a message, not a subscription change")
}

/// A PULL bound on `bind_ep` in reactor `a`, a PUSH connected from `b`.
pub struct Pair {
    pub a: Reactor,
    pub b: Reactor,
    pub pull_rx: Receiver<Notification>,
    pub push_rx: Receiver<Notification>,
    pub pull: Attached,
    pub push: Attached,
    pub bound: String,
    pub bind_link: LinkId,
    pub connect_link: LinkId,
}

pub fn push_pull(bind_ep: &str, pull_opts: LinkOptions, push_opts: LinkOptions) -> Pair {
    let a = Reactor::spawn("test-a").unwrap();
    let b = Reactor::spawn("test-b").unwrap();
    let (pull_sink, pull_rx) = sink();
    let (push_sink, push_rx) = sink();
    let (bind_link, bound) = a.bind(&ep(bind_ep), pull_opts, pull_sink).unwrap();
    let connect_link = b.connect(&ep(&bound), push_opts, push_sink).unwrap();
    let push = attached(&push_rx);
    let pull = attached(&pull_rx);
    Pair {
        a,
        b,
        pull_rx,
        push_rx,
        pull,
        push,
        bound,
        bind_link,
        connect_link,
    }
}

/// Completes a ZMTP handshake as `socket_type` on a blocking stream, using a
/// wire session, and returns the session (ready).
pub fn raw_handshake(
    stream: &mut std::net::TcpStream,
    socket_type: SocketType,
) -> tiermq_wire::Session {
    use std::io::{IoSlice, Read, Write};
    stream.set_read_timeout(Some(BOUND)).unwrap();
    let now = Instant::now();
    let mut session = tiermq_wire::Session::new(tiermq_wire::Config::new(socket_type), now);
    let mut buf = tiermq_wire::BytesMut::new();
    loop {
        while session.has_output() {
            let mut iov = [IoSlice::new(&[]); 8];
            let n = session.chunks_vectored(&mut iov);
            let k = stream.write_vectored(&iov[..n]).unwrap();
            session.advance(k);
        }
        if session.is_ready() {
            return session;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).expect("handshake bytes");
        assert!(n > 0, "peer closed during the handshake");
        buf.extend_from_slice(&chunk[..n]);
        session.handle_read(&mut buf, now).unwrap();
        while session.poll_event().is_some() {}
    }
}
