//! Heartbeats while the application does not call the library (issue 14's
//! constraint on any I/O model): a peer's PINGs are still answered, and a
//! frozen peer is still declared dead, while the application thread sleeps
//! for seconds. Today the I/O thread does both; these tests keep it so
//! when the calling thread takes over I/O.
//!
//! The second test needs python3 with pyzmq (`pip install pyzmq`);
//! `.ci/run` installs it. A missing peer fails the test, saying what to
//! install.

mod common;

use std::thread;
use std::time::Duration;

use common::libzmq_peer::Peer;
use common::*;
use tiermq::{Context, MonitorEventKind, PeerState};

/// How long the application stays away: many heartbeat timeouts.
const AWAY: Duration = Duration::from_secs(2);

/// A libzmq PULL that drops any peer silent for 300 ms keeps a tiermq PUSH
/// that sends no PINGs of its own and makes no call for 2 s: its PONGs are
/// what keep the connection.
#[test]
fn pings_are_answered_while_the_application_sleeps() {
    let zctx = zmq::Context::new();
    let pull = zctx.socket(zmq::PULL).unwrap();
    pull.set_heartbeat_ivl(50).unwrap();
    pull.set_heartbeat_timeout(300).unwrap();
    pull.set_rcvtimeo(WAIT_MS).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = pull.get_last_endpoint().unwrap().unwrap();
    pull.monitor(
        "inproc://idle-monitor",
        zmq::SocketEvent::DISCONNECTED as i32,
    )
    .unwrap();
    let events = zctx.socket(zmq::PAIR).unwrap();
    events.connect("inproc://idle-monitor").unwrap();

    let ctx = Context::new();
    let push = ctx.socket(tiermq::PUSH).unwrap();
    push.set_heartbeat_ivl(0).unwrap(); // answer only, never ask
    push.connect(&endpoint).unwrap();
    push.send("before", 0).unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), b"before");

    thread::sleep(AWAY); // no tiermq call at all

    assert_eq!(
        events.recv_multipart(zmq::DONTWAIT),
        Err(zmq::Error::EAGAIN),
        "libzmq dropped the connection: its PINGs went unanswered"
    );
    push.send("after", 0).unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), b"after");
    let peers = push.peers();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].sent, 2, "one connection carried both");
}

/// A libzmq PULL frozen with SIGSTOP is declared dead by the heartbeat
/// while the application sleeps: the Dead event is there when it wakes.
#[test]
fn a_frozen_peer_is_declared_dead_while_the_application_sleeps() {
    let ctx = Context::new();
    let push = ctx.socket(tiermq::PUSH).unwrap();
    push.set_heartbeat_ivl(50).unwrap();
    push.set_heartbeat_timeout(150).unwrap();
    let events = push.event_monitor();
    push.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = push.get_last_endpoint().unwrap().unwrap();
    let peer = Peer::start(&["pull", &endpoint]);
    eventually("the peer is ready", || ready(&push) == 1);

    peer.freeze();
    thread::sleep(AWAY); // no tiermq call at all
    let dead = events
        .try_iter()
        .any(|e| matches!(e.kind, MonitorEventKind::Dead));
    peer.thaw();
    assert!(dead, "no Dead event while the application slept");
}

/// A frame far longer than one read that arrives slowly: the receiver
/// keeps its bytes until it is whole, and they count as signs of life
/// meanwhile, so a heartbeat timeout much shorter than the transfer never
/// declares the peer dead, and the message arrives whole.
#[test]
fn a_slow_large_frame_keeps_its_peer_alive() {
    use std::io::{Read, Write};
    const LEN: usize = 1 << 20;
    const CHUNKS: usize = 16;
    let ctx = Context::new();
    let pull = ctx.socket(tiermq::PULL).unwrap();
    pull.set_heartbeat_ivl(50).unwrap();
    pull.set_heartbeat_timeout(500).unwrap();
    pull.set_rcvtimeo(WAIT_MS).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = pull.get_last_endpoint().unwrap().unwrap();
    let addr = endpoint.trim_start_matches("tcp://").to_owned();
    let mut peer = std::net::TcpStream::connect(&addr).unwrap();
    peer.write_all(&[zmtp::greeting(1, false), zmtp::ready("PUSH")].concat())
        .unwrap();
    // Drain what the socket sends (its greeting, READY and PINGs).
    let mut reader = peer.try_clone().unwrap();
    thread::spawn(move || {
        let mut sink = [0u8; 4096];
        while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
    });
    let body: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    let mut header = vec![0x02];
    header.extend_from_slice(&(LEN as u64).to_be_bytes());
    peer.write_all(&header).unwrap();
    // 16 chunks 100 ms apart: 1.6 s, three heartbeat timeouts, and the
    // peer is alive all along, not dead and revived by the last byte.
    for (i, chunk) in body.chunks(LEN / CHUNKS).enumerate() {
        thread::sleep(Duration::from_millis(100));
        peer.write_all(chunk).unwrap();
        if i >= CHUNKS / 2 {
            let states: Vec<_> = pull.peers().iter().map(|p| p.state).collect();
            assert_eq!(states, [PeerState::Ready], "after chunk {i}");
        }
    }
    let got = pull.recv_bytes(0).expect("the slow frame, whole");
    assert!(got == body, "the frame arrived changed");
}
