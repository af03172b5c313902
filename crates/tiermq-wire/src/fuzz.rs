//! Entry points for the cargo-fuzz targets in `fuzz/`, also run by the
//! proptests so they build and run on stable. Not a stable API.

use crate::{Config, Multipart, Session, SocketType, command, greeting};
use bytes::{Bytes, BytesMut};
use std::io::IoSlice;
use std::time::{Duration, Instant};

/// A valid peer opening: greeting plus READY announcing `peer`.
pub fn peer_opening(peer: SocketType) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.extend_from_slice(&greeting::ours());
    command::put_ready(
        &mut b,
        [("Socket-Type", peer.name().as_bytes())].into_iter(),
    );
    b.to_vec()
}

/// Feeds `data` to `session` in chunks of `chunk` bytes, exercising every
/// entry point along the way; checks that the first error is sticky.
fn feed(session: &mut Session, data: &[u8], chunk: usize, mut now: Instant) {
    let mut buf = BytesMut::new();
    let mut failed = None;
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        let result = session.handle_read(&mut buf, now);
        while session.poll_event().is_some() {}
        drain_output(session);
        now += Duration::from_millis(7);
        let timeout = session.handle_timeout(now);
        if let Some(e) = failed.as_ref() {
            assert_eq!(result.as_ref().err(), Some(e), "error not sticky");
            assert_eq!(timeout.as_ref().err(), Some(e), "error not sticky");
        } else if let Err(e) = result.and(timeout) {
            failed = Some(e);
        }
    }
    session.send(Multipart::single(Bytes::from_static(b"late")));
    drain_output(session);
    let _ = session.take_unsent();
}

/// Writes everything the session offers, one slice at a time.
fn drain_output(session: &mut Session) {
    while session.has_output() {
        let mut slices = [IoSlice::new(&[]); 4];
        let n = session.chunks_vectored(&mut slices);
        let first = if n > 0 { slices[0].len() } else { 0 };
        if first == 0 {
            break;
        }
        session.advance(first);
    }
}

fn fuzz_config(sel: u8) -> Config {
    let mut c = Config::new(if sel & 1 == 0 {
        SocketType::Pull
    } else {
        SocketType::XPub
    });
    if sel & 2 != 0 {
        c.max_msg_size = Some(1024);
    }
    c.heartbeat_ivl = Some(Duration::from_millis(20));
    c.handshake_timeout = Some(Duration::from_secs(1));
    c
}

/// Fuzz target `decode`: a session past a valid handshake reads `data`.
/// The first byte picks the read size and configuration.
pub fn decode(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let config = fuzz_config(sel);
    let peer = match config.socket_type {
        SocketType::Pull => SocketType::Push,
        _ => SocketType::Sub,
    };
    let mut s = Session::new(config, now);
    s.handle_input(&peer_opening(peer), now)
        .expect("valid opening");
    assert!(s.is_ready());
    feed(&mut s, rest, usize::from(sel >> 2) + 1, now);
}

/// Fuzz target `handshake`: a fresh session reads `data` from its start.
pub fn handshake(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let mut s = Session::new(fuzz_config(sel), now);
    feed(&mut s, rest, usize::from(sel >> 2) + 1, now);
}
