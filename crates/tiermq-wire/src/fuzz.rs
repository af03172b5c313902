//! Entry points for the cargo-fuzz targets in `fuzz/`, also run by the
//! proptests and unit tests so they build and run on stable. Not a stable API.
//!
//! Every target checks, on any input:
//! - no panic;
//! - the first error is sticky: every later fallible call returns it;
//! - no event after an error: `poll_event` yields only what was decoded
//!   before the error (drained right after the failing call), then nothing,
//!   whatever else is read or whatever time passes;
//! - `max_msg_size`, when set, bounds every decoded message (sum of its
//!   frames), every frame, and the frame count
//!   ([`MAX_FRAMES_WITH_LIMIT`](crate::MAX_FRAMES_WITH_LIMIT)); a
//!   [`MessageTooLarge`](Error::MessageTooLarge) names that limit.
//!
//! `roundtrip` also checks that decoding does not depend on how the input is
//! split, and that every decoded message re-encodes (through a PUSH/PULL
//! session pair) to the same frames.

use crate::{
    Config, Error, Event, MAX_FRAMES_WITH_LIMIT, Mechanism, Multipart, Random, Session, SocketType,
    ZapReply,
};
use crate::{command, greeting};
use bytes::{Bytes, BytesMut};
use std::io::IoSlice;
use std::time::{Duration, Instant};

/// A valid peer opening: greeting plus READY announcing `peer`.
pub fn peer_opening(peer: SocketType) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.extend_from_slice(&greeting::ours("NULL", false));
    command::put_ready(
        &mut b,
        [("Socket-Type", peer.name().as_bytes())].into_iter(),
    );
    b.to_vec()
}

/// What a run decoded, for the unit tests to check that an input reached
/// as far as intended.
#[derive(Debug, Default)]
struct Outcome {
    /// Messages decoded (after the handshake).
    messages: usize,
    /// The error that failed the session, if any.
    error: Option<Error>,
}

/// Checks what `max_msg_size` promises about one decoded event.
fn check_event(event: &Event, limit: Option<u64>) {
    let (Event::Message(msg), Some(limit)) = (event, limit) else {
        return;
    };
    assert!(!msg.is_empty(), "empty message decoded");
    assert!(
        msg.len() <= MAX_FRAMES_WITH_LIMIT,
        "{} frames with a limit",
        msg.len()
    );
    for frame in msg {
        assert!(frame.len() as u64 <= limit, "frame over max_msg_size");
    }
    assert!(msg.byte_len() as u64 <= limit, "message over max_msg_size");
}

/// Checks what an error promises about the limit it names.
fn check_error(error: &Error, limit: Option<u64>) {
    if let Error::MessageTooLarge { limit: l, size } = error {
        assert_eq!(Some(*l), limit, "MessageTooLarge names another limit");
        assert!(size > l, "MessageTooLarge for a size within the limit");
    }
}

/// Drains the session's events, checking each; returns the messages.
fn drain_events(session: &mut Session, limit: Option<u64>) -> Vec<Multipart> {
    let mut messages = Vec::new();
    while let Some(event) = session.poll_event() {
        check_event(&event, limit);
        if let Event::Message(msg) = event {
            messages.push(msg);
        }
    }
    messages
}

/// Asserts that a failed session yields no event.
fn assert_no_event(session: &mut Session, when: &str) {
    if let Some(event) = session.poll_event() {
        panic!("event after the error ({when}): {event:?}");
    }
}

/// Feeds `data` to `session` in chunks of `chunk` bytes, exercising every
/// entry point along the way, and checks the contract (see the module docs).
/// `limit` is the session's `max_msg_size`.
fn feed(
    session: &mut Session,
    limit: Option<u64>,
    data: &[u8],
    chunk: usize,
    mut now: Instant,
) -> Outcome {
    let mut buf = BytesMut::new();
    let mut out = Outcome::default();
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        let result = session.handle_read(&mut buf, now);
        if out.error.is_some() {
            // Failed by an earlier call: that call's events were drained.
            assert_no_event(session, "handle_read");
        }
        // Events decoded before an error in this very call stay available.
        out.messages += drain_events(session, limit).len();
        drain_output(session);
        now += Duration::from_millis(7);
        let timeout = session.handle_timeout(now);
        if let Some(e) = out.error.as_ref() {
            assert_eq!(result.as_ref().err(), Some(e), "error not sticky");
            assert_eq!(timeout.as_ref().err(), Some(e), "error not sticky");
        } else if let Err(e) = result.and(timeout.clone()) {
            // A read error is already handle_timeout's answer.
            assert_eq!(timeout.err().as_ref(), Some(&e), "error not sticky");
            check_error(&e, limit);
            out.error = Some(e);
        }
        if out.error.is_some() {
            // A failing handle_timeout decodes nothing and queues nothing.
            assert_no_event(session, "handle_timeout");
            assert_eq!(session.error(), out.error.as_ref(), "error() differs");
            assert!(!session.is_ready(), "ready after an error");
            assert_eq!(session.poll_timeout(), None, "timer after an error");
        }
    }
    if let Some(e) = out.error.clone() {
        // A valid one-frame message, a PING and a long wait: still nothing.
        let more = [0, 1, b'x', 4, 7, 4, b'P', b'I', b'N', b'G', 0, 0];
        assert_eq!(session.handle_input(&more, now).err(), Some(e.clone()));
        assert_eq!(
            session
                .handle_timeout(now + Duration::from_secs(3600))
                .err(),
            Some(e)
        );
        assert_no_event(session, "after more input");
    }
    session.send(Multipart::single(Bytes::from_static(b"late")));
    drain_output(session);
    let _ = session.take_unsent();
    if out.error.is_some() {
        assert_no_event(session, "after sending");
    }
    out
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

/// Everything the session offers, written at most `max_write` bytes at a
/// time (so messages are often cut mid-frame). Tests use it too.
pub fn output(session: &mut Session, max_write: usize) -> Vec<u8> {
    let mut all = Vec::new();
    while session.has_output() {
        let mut slices = [IoSlice::new(&[]); 8];
        let n = session.chunks_vectored(&mut slices);
        let mut wrote = 0;
        for slice in &slices[..n] {
            let take = slice.len().min(max_write - wrote);
            all.extend_from_slice(&slice[..take]);
            wrote += take;
            if wrote == max_write {
                break;
            }
        }
        assert!(wrote > 0, "has_output but nothing to write");
        session.advance(wrote);
    }
    all
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
    run_decode(data);
}

fn run_decode(data: &[u8]) -> Outcome {
    let Some((&sel, rest)) = data.split_first() else {
        return Outcome::default();
    };
    let now = Instant::now();
    let config = fuzz_config(sel);
    let limit = config.max_msg_size;
    let peer = match config.socket_type {
        SocketType::Pull => SocketType::Push,
        _ => SocketType::Sub,
    };
    let mut s = Session::new(config, now);
    s.handle_input(&peer_opening(peer), now)
        .expect("valid opening");
    assert!(s.is_ready());
    assert_eq!(s.poll_event(), Some(Event::Ready));
    feed(&mut s, limit, rest, usize::from(sel >> 2) + 1, now)
}

/// Fuzz target `handshake`: a fresh session reads `data` from its start.
pub fn handshake(data: &[u8]) {
    run_handshake(data);
}

fn run_handshake(data: &[u8]) -> Outcome {
    let Some((&sel, rest)) = data.split_first() else {
        return Outcome::default();
    };
    let now = Instant::now();
    let config = fuzz_config(sel);
    let limit = config.max_msg_size;
    let mut s = Session::new(config, now);
    feed(&mut s, limit, rest, usize::from(sel >> 2) + 1, now)
}

/// `max_msg_size` choices for `roundtrip`: none, and limits around the
/// short/long frame header boundary (255).
const ROUNDTRIP_LIMITS: [Option<u64>; 4] = [None, Some(0), Some(40), Some(300)];

/// A PULL session (no timers) past a valid handshake with a PUSH peer,
/// with `max_msg_size` `limit`.
fn ready_pull(limit: Option<u64>, now: Instant) -> Session {
    let mut config = Config::new(SocketType::Pull);
    config.max_msg_size = limit;
    let mut s = Session::new(config, now);
    s.handle_input(&peer_opening(SocketType::Push), now)
        .expect("valid opening");
    assert_eq!(s.poll_event(), Some(Event::Ready));
    s
}

/// Reads `data` into `session` `chunk` bytes at a time, stopping at the
/// first error; returns every event and that error.
fn read_all(
    session: &mut Session,
    data: &[u8],
    chunk: usize,
    now: Instant,
) -> (Vec<Event>, Option<Error>) {
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        let result = session.handle_read(&mut buf, now);
        events.extend(std::iter::from_fn(|| session.poll_event()));
        if let Err(e) = result {
            return (events, Some(e));
        }
    }
    (events, None)
}

/// Fuzz target `roundtrip`: a PULL session past a valid handshake reads
/// `data[2..]`, once whole and once in chunks; both must yield the same
/// events and fail alike. Every decoded message is then sent through a
/// fresh PUSH session (batching and write sizes picked by `data[1]`) and
/// decoded by a fresh PULL session with the same limit: it must arrive
/// unchanged. `data[0]` picks the limit and read size.
pub fn roundtrip(data: &[u8]) {
    run_roundtrip(data);
}

fn run_roundtrip(data: &[u8]) -> Outcome {
    let [sel, enc, rest @ ..] = data else {
        return Outcome::default();
    };
    let now = Instant::now();
    let limit = ROUNDTRIP_LIMITS[usize::from(sel & 3)];
    let chunk = usize::from(sel >> 2) + 1;

    // Decoding does not depend on how the bytes arrive.
    let (whole, whole_err) = read_all(&mut ready_pull(limit, now), rest, rest.len(), now);
    let mut split = ready_pull(limit, now);
    let (events, error) = read_all(&mut split, rest, chunk, now);
    assert_eq!(events, whole, "events depend on the read size");
    assert_eq!(
        error.as_ref().map(std::mem::discriminant),
        whole_err.as_ref().map(std::mem::discriminant),
        "errors depend on the read size: {error:?} vs {whole_err:?}"
    );
    if let Some(e) = &error {
        check_error(e, limit);
        assert_eq!(split.handle_input(b"\x00\x01x", now).as_ref(), Err(e));
        assert_no_event(&mut split, "roundtrip");
    }
    let mut messages = Vec::new();
    for event in events {
        check_event(&event, limit);
        if let Event::Message(msg) = event {
            messages.push(msg);
        }
    }

    // Decode, encode, decode: the same messages.
    let mut push_config = Config::new(SocketType::Push);
    push_config.batch_size = 9 + usize::from(enc & 0x0F) * 61;
    push_config.zero_copy_threshold = 1 << (enc >> 4);
    let write = chunk * 5;
    let mut push = Session::new(push_config, now);
    for m in &messages {
        push.send(m.clone());
    }
    push.handle_input(&peer_opening(SocketType::Pull), now)
        .expect("valid opening");
    let wire = output(&mut push, write);
    let mut pull = Session::new(
        Config {
            max_msg_size: limit,
            ..Config::new(SocketType::Pull)
        },
        now,
    );
    let (events, reread) = read_all(&mut pull, &wire, write, now);
    assert_eq!(reread, None, "re-encoded messages fail to decode");
    let mut expect = vec![Event::Ready];
    expect.extend(messages.iter().cloned().map(Event::Message));
    assert_eq!(events, expect, "re-encoded messages differ");
    Outcome {
        messages: messages.len(),
        error,
    }
}

/// Deterministic randomness for the fuzz targets and tests: a counter.
pub struct Counter(pub u8);

impl Random for Counter {
    fn fill(&mut self, dst: &mut [u8]) -> std::io::Result<()> {
        for b in dst {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
}

/// A fixed CURVE server key pair's secret key (its public key is derived).
const FUZZ_SERVER_SECRET: [u8; 32] = [0x42; 32];
const FUZZ_CLIENT_SECRET: [u8; 32] = [0x17; 32];

/// The four secured roles the mechanism target picks from.
fn secured_config(sel: u8) -> Config {
    let mut c = Config::new(SocketType::Pull);
    c.zap = sel & 4 != 0;
    c.handshake_timeout = Some(Duration::from_secs(1));
    c.mechanism = match sel & 3 {
        0 => Mechanism::PlainClient {
            username: Bytes::from_static(b"user"),
            password: Bytes::from_static(b"pass"),
        },
        1 => Mechanism::PlainServer,
        2 => Mechanism::CurveClient {
            secret_key: FUZZ_CLIENT_SECRET,
            server_key: crate::curve_public_key(&FUZZ_SERVER_SECRET),
        },
        _ => Mechanism::CurveServer {
            secret_key: FUZZ_SERVER_SECRET,
        },
    };
    c
}

/// Fuzz target `mechanism`: a PLAIN or CURVE session (client or server,
/// with or without ZAP: `data[0]`) reads a valid greeting of the opposite
/// role, then `data[1..]` as handshake commands. A ZAP request is answered
/// (admitting or refusing, by `data[0]`), and the contract of the other
/// targets holds.
pub fn mechanism(data: &[u8]) {
    run_mechanism(data);
}

fn run_mechanism(data: &[u8]) -> Outcome {
    let Some((&sel, rest)) = data.split_first() else {
        return Outcome::default();
    };
    let now = Instant::now();
    let config = secured_config(sel);
    let mech = config.mechanism.clone();
    let mut s = Session::with_random(config, now, Box::new(Counter(sel)));
    let mut input = greeting::ours(mech.name(), !mech.is_server()).to_vec();
    input.extend_from_slice(rest);
    let mut out = Outcome::default();
    for piece in input.chunks(usize::from(sel >> 3) + 1) {
        let result = s.handle_input(piece, now);
        drain_output(&mut s);
        while let Some(event) = s.poll_event() {
            if let Event::ZapRequest(req) = event {
                assert!(out.error.is_none(), "ZAP request after an error");
                assert_eq!(req.mechanism, mech.name());
                let reply = if sel & 0x80 != 0 {
                    ZapReply::ok()
                } else {
                    ZapReply::status("400", "no")
                };
                let answer = if sel & 0x40 != 0 {
                    s.zap_unavailable(now)
                } else {
                    s.zap_reply(reply, now)
                };
                if let Err(e) = answer {
                    out.error.get_or_insert(e);
                }
            }
        }
        if let Err(e) = result {
            assert!(out.error.is_none() || out.error == Some(e.clone()));
            out.error.get_or_insert(e);
        }
        if let Some(e) = &out.error {
            assert!(!s.is_ready(), "ready after an error");
            assert_eq!(s.error(), Some(e), "error not sticky");
        }
    }
    out
}

/// A CURVE client and server past their handshake, deterministic.
fn curve_pair(now: Instant) -> (Session, Session) {
    let mut push = secured_config(2);
    push.socket_type = SocketType::Push;
    let mut client = Session::with_random(push, now, Box::new(Counter(1)));
    let mut server = Session::with_random(secured_config(3), now, Box::new(Counter(2)));
    for _ in 0..4 {
        let c = output(&mut client, usize::MAX);
        server.handle_input(&c, now).expect("client bytes");
        let b = output(&mut server, usize::MAX);
        client.handle_input(&b, now).expect("server bytes");
    }
    assert_eq!(client.poll_event(), Some(Event::Ready));
    assert_eq!(server.poll_event(), Some(Event::Ready));
    (client, server)
}

/// Fuzz target `curve_message`: a CURVE server past its handshake reads
/// MESSAGE frames. `data[0] & 1 == 0`: `data[1..]` is read as is. Else the
/// client encrypts `data[1..]` as a two-frame message and `data[1..3]`
/// flip one byte of the ciphertext stream (a zero mask flips nothing):
/// the server either decodes exactly the message sent, or fails.
pub fn curve_message(data: &[u8]) {
    run_curve_message(data);
}

fn run_curve_message(data: &[u8]) -> Outcome {
    let Some((&sel, rest)) = data.split_first() else {
        return Outcome::default();
    };
    let now = Instant::now();
    let (mut client, mut server) = curve_pair(now);
    let chunk = usize::from(sel >> 1) + 1;
    if sel & 1 == 0 {
        return feed(&mut server, None, rest, chunk, now);
    }
    let sent: Multipart = [Bytes::copy_from_slice(rest), Bytes::from_static(b"tail")]
        .into_iter()
        .collect();
    client.send(sent.clone());
    let mut wire = output(&mut client, usize::MAX);
    let (at, mask) = match rest {
        [a, m, ..] => (usize::from(*a), *m),
        _ => (0, 0),
    };
    let len = wire.len();
    wire[at % len] ^= mask;
    let (events, error) = read_all(&mut server, &wire, chunk, now);
    for event in &events {
        assert_eq!(
            event,
            &Event::Message(sent.clone()),
            "forged message accepted"
        );
    }
    if mask == 0 {
        assert_eq!(error, None, "valid message refused");
        assert_eq!(events.len(), 1, "valid message lost");
    }
    Outcome {
        messages: events.len(),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame;

    /// `msgs` as ZMTP message frames.
    fn frames(msgs: &[&[&[u8]]]) -> Vec<u8> {
        let mut b = BytesMut::new();
        for msg in msgs {
            for (i, f) in msg.iter().enumerate() {
                let more = if i + 1 < msg.len() { frame::MORE } else { 0 };
                frame::put_header(&mut b, more, f.len());
                b.extend_from_slice(f);
            }
        }
        b.to_vec()
    }

    fn with(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
        [prefix, rest].concat()
    }

    const BIG: [u8; 1025] = [7; 1025];

    #[test]
    fn empty_and_garbage_inputs() {
        let garbage: [&[u8]; 5] = [
            b"",
            b"\x00",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
            b"\x02garbage that is not ZMTP at all",
            &[0xFF; 300],
        ];
        for data in garbage {
            handshake(data);
            decode(data);
            roundtrip(data);
        }
        // Reserved flag bits fail the session after the handshake.
        let o = run_decode(b"\x00\xf0\x01x");
        assert_eq!(o.error, Some(Error::ReservedFlags(0xF0)));
    }

    #[test]
    fn valid_stream_from_the_greeting() {
        let msgs = frames(&[&[b"hello"], &[b"key", b"", b"value"], &[&[9; 300]]]);
        for sel in [0u8, 2, 0xFC, 0xFE] {
            let data = with(
                &[sel],
                &[peer_opening(SocketType::Push), msgs.clone()].concat(),
            );
            let o = run_handshake(&data);
            assert_eq!((o.messages, o.error), (3, None), "sel {sel:#x}");
        }
    }

    #[test]
    fn valid_messages_after_the_handshake() {
        let msgs = frames(&[&[b"a"], &[b"b", b"c"], &[&[1; 256]]]);
        for sel in [0u8, 2, 0x7C] {
            let o = run_decode(&with(&[sel], &msgs));
            assert_eq!((o.messages, o.error), (3, None), "sel {sel:#x}");
        }
        for sel in 0..=255u8 {
            let o = run_roundtrip(&with(&[sel & !3, sel], &msgs));
            assert_eq!((o.messages, o.error), (3, None), "sel {sel:#x}");
        }
    }

    #[test]
    fn limit_fails_and_keeps_what_came_before() {
        let msgs = frames(&[&[b"ok"], &[&BIG], &[b"never"]]);
        // decode: sel bit 1 sets a 1024-byte limit.
        let o = run_decode(&with(&[0x02], &msgs));
        assert_eq!(o.messages, 1);
        assert_eq!(
            o.error,
            Some(Error::MessageTooLarge {
                limit: 1024,
                size: 1025
            })
        );
        // Without the limit everything arrives.
        let o = run_decode(&with(&[0x00], &msgs));
        assert_eq!((o.messages, o.error), (3, None));
        // roundtrip with a 40-byte limit: the sum of the frames counts.
        let msgs = frames(&[&[&[1; 40]], &[&[1; 20], &[2; 20]], &[&[1; 20], &[2; 21]]]);
        for sel in [2u8, 6, 0xFE] {
            let o = run_roundtrip(&with(&[sel, 0], &msgs));
            assert_eq!(o.messages, 2, "sel {sel:#x}");
            assert_eq!(
                o.error,
                Some(Error::MessageTooLarge {
                    limit: 40,
                    size: 41
                })
            );
        }
    }

    #[test]
    fn nothing_is_decoded_after_an_error() {
        // A message, a bad frame, then valid messages that must not show.
        let data = [
            frames(&[&[b"first"]]),
            vec![0xF0, 0],
            frames(&[&[b"x".as_slice()][..]; 4]),
        ]
        .concat();
        for sel in [0u8, 0x04, 0xFC] {
            let o = run_decode(&with(&[sel], &data));
            assert_eq!(o.messages, 1, "sel {sel:#x}");
            assert!(o.error.is_some());
        }
        let o = run_roundtrip(&with(&[0, 0], &data));
        assert_eq!(o.messages, 1);
    }

    #[test]
    fn mechanism_and_curve_message_targets_run() {
        for sel in (0..=255u8).step_by(3) {
            mechanism(&[sel]);
            mechanism(&[sel, 0x04, 0x06, 0x05, b'H', b'E', b'L', b'L', b'O', 0]);
        }
        // A valid message decodes; a flipped byte is refused, never accepted.
        let o = run_curve_message(&[1, 0, 0, b'x']);
        assert_eq!((o.messages, o.error), (1, None));
        for at in 0..60u8 {
            let o = run_curve_message(&[1, at, 0x20, b'x']);
            assert_eq!(o.messages, 0, "flip at {at}");
        }
        let mut short = vec![0, 0x00, 0x10];
        short.extend_from_slice(b"\x07MESSAGE\0\0\0\0\0\0\0\x09");
        let o = run_curve_message(&short);
        assert_eq!(o.error, Some(Error::MalformedCommand("MESSAGE too short")));
    }

    #[test]
    fn plain_client_target_reaches_ready() {
        // WELCOME, then READY with Socket-Type PUSH.
        let mut data = vec![0u8];
        data.extend_from_slice(b"\x04\x08\x07WELCOME");
        let mut ready = BytesMut::new();
        command::put_ready(&mut ready, [("Socket-Type", &b"PUSH"[..])].into_iter());
        data.extend_from_slice(&ready);
        let o = run_mechanism(&data);
        assert_eq!(o.error, None);
    }
}
