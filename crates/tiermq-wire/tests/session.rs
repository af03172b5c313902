//! Session behaviour: handshake, messages, commands, timers, bad input.

mod common;

use common::*;
use std::time::{Duration, Instant};
use tiermq_wire::*;

fn msg(frames: &[&[u8]]) -> Multipart {
    frames.iter().map(|f| Bytes::copy_from_slice(f)).collect()
}

#[test]
fn handshake_exchanges_metadata() {
    let now = Instant::now();
    let mut dealer = Config::new(SocketType::Dealer);
    dealer.identity = Bytes::from_static(b"me");
    dealer
        .properties
        .push(("X-Tier".into(), Bytes::from_static(b"1")));
    let (d, r) = connected_with(dealer, Config::new(SocketType::Router), now);
    let from_dealer = r.peer().unwrap();
    assert_eq!(from_dealer.socket_type, SocketType::Dealer);
    assert_eq!(from_dealer.version, (3, 1));
    assert_eq!(from_dealer.identity(), Bytes::from_static(b"me"));
    assert_eq!(
        from_dealer.metadata.get("x-tier").unwrap(),
        &Bytes::from_static(b"1")
    );
    // ROUTER announces an empty Identity, as libzmq does.
    let from_router = d.peer().unwrap();
    assert_eq!(from_router.metadata.get("Identity"), Some(&Bytes::new()));
    assert!(d.is_ready() && r.is_ready());
}

#[test]
fn push_sends_exact_greeting_then_ready() {
    let now = Instant::now();
    let mut push = Session::new(Config::new(SocketType::Push), now);
    let first = output(&mut push, usize::MAX);
    assert_eq!(first.len(), 64);
    assert_eq!(&first[..12], b"\xff\0\0\0\0\0\0\0\0\x7f\x03\x01");
    assert_eq!(&first[12..16], b"NULL");
    // READY only after the peer's greeting.
    let peer = Session::new(Config::new(SocketType::Pull), now);
    drop(peer);
    push.handle_input(&first_greeting(), now).unwrap();
    let ready = output(&mut push, usize::MAX);
    assert_eq!(
        ready,
        b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH"
    );
    assert!(!push.is_ready());
}

fn first_greeting() -> Vec<u8> {
    let mut s = Session::new(Config::new(SocketType::Pull), Instant::now());
    output(&mut s, usize::MAX)
}

#[test]
fn messages_flow_both_ways_and_are_held_until_ready() {
    let now = Instant::now();
    let mut a = Session::new(Config::new(SocketType::Pair), now);
    let mut b = Session::new(Config::new(SocketType::Pair), now);
    let sent = [
        msg(&[b"hello"]),
        msg(&[b"", b"multi", &[9u8; 300]]),
        msg(&[&vec![1u8; 70_000]]),
    ];
    for m in &sent {
        a.send(m.clone());
    }
    a.send(Multipart::new()); // dropped: no frames
    b.send(msg(&[b"back"]));
    drive(&mut a, &mut b, now).unwrap();
    let mut expect: Vec<Event> = vec![Event::Ready];
    expect.extend(sent.iter().cloned().map(Event::Message));
    assert_eq!(events(&mut b), expect);
    assert_eq!(
        events(&mut a),
        [Event::Ready, Event::Message(msg(&[b"back"]))]
    );
    assert_eq!(a.pending_output(), 0);
}

#[test]
fn any_input_split_gives_the_same_events() {
    let now = Instant::now();
    let mut push = Session::new(Config::new(SocketType::Push), now);
    push.send(msg(&[b"x", &[2u8; 1000]]));
    push.send(msg(&[b"y"]));
    let mut pull = Session::new(Config::new(SocketType::Pull), now);
    // Record everything PUSH writes while the two talk.
    let mut bytes = Vec::new();
    for _ in 0..4 {
        let out = output(&mut push, usize::MAX);
        pull.handle_input(&out, now).unwrap();
        bytes.extend(out);
        push.handle_input(&output(&mut pull, usize::MAX), now)
            .unwrap();
    }
    let reference = events(&mut pull);
    assert_eq!(reference.len(), 3);
    for step in [1, 2, 3, 63, 64, 65, 100] {
        let mut p = Session::new(Config::new(SocketType::Pull), now);
        let mut got = Vec::new();
        for piece in bytes.chunks(step) {
            p.handle_input(piece, now).unwrap();
            got.extend(events(&mut p));
        }
        assert_eq!(got, reference, "step {step}");
    }
}

#[test]
fn handle_read_returns_slices_of_the_buffer() {
    let now = Instant::now();
    let (mut push, mut pull) = connected(SocketType::Push, SocketType::Pull, now);
    push.send(msg(&[&[5u8; 2000]]));
    let mut buf = BytesMut::from(&output(&mut push, usize::MAX)[..]);
    let base = buf.as_ptr() as usize;
    let end = base + buf.len();
    pull.handle_read(&mut buf, now).unwrap();
    assert!(buf.is_empty());
    let Some(Event::Message(m)) = pull.poll_event() else {
        panic!("no message");
    };
    let p = m.frames()[0].as_ptr() as usize;
    assert!(base <= p && p < end, "payload was copied");
}

#[test]
fn subscriptions_as_commands_and_as_legacy_messages() {
    let now = Instant::now();
    let mut sub = Session::new(Config::new(SocketType::Sub), now);
    sub.send_subscribe(Bytes::from_static(b"news"));
    let mut publ = Session::new(Config::new(SocketType::Pub), now);
    drive(&mut sub, &mut publ, now).unwrap();
    sub.send_cancel(Bytes::from_static(b"news"));
    drive(&mut sub, &mut publ, now).unwrap();
    assert_eq!(
        events(&mut publ),
        [
            Event::Ready,
            Event::Subscribe(Bytes::from_static(b"news")),
            Event::Cancel(Bytes::from_static(b"news")),
        ]
    );
    // A subscription sent as a message (ZMTP 3.0 style) is understood too.
    sub.send(msg(&[b"\x01sport"]));
    drive(&mut sub, &mut publ, now).unwrap();
    assert_eq!(
        events(&mut publ),
        [Event::Subscribe(Bytes::from_static(b"sport"))]
    );
}

#[test]
fn subscribes_with_messages_to_a_zmtp30_peer() {
    let now = Instant::now();
    let mut sub = Session::new(Config::new(SocketType::Sub), now);
    let mut greeting = first_greeting();
    greeting[11] = 0;
    sub.handle_input(&greeting, now).unwrap();
    sub.handle_input(b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03PUB", now)
        .unwrap();
    assert_eq!(sub.peer().unwrap().version, (3, 0));
    output(&mut sub, usize::MAX);
    sub.send_subscribe(Bytes::from_static(b"ab"));
    assert_eq!(output(&mut sub, usize::MAX), b"\x00\x03\x01ab");
}

#[test]
fn ping_is_answered_and_ttl_honoured() {
    let t0 = Instant::now();
    let mut a = Config::new(SocketType::Push);
    a.heartbeat_ivl = Some(Duration::from_secs(1));
    a.heartbeat_ttl = Some(Duration::from_secs(5));
    let (mut a, mut b) = connected_with(a, Config::new(SocketType::Pull), t0);
    assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    assert_eq!(b.poll_timeout(), None);
    let t1 = t0 + Duration::from_secs(1);
    a.handle_timeout(t1).unwrap();
    assert!(a.has_output());
    // The PONG answers; nothing more.
    drive(&mut a, &mut b, t1).unwrap();
    // Our PING carries its sequence number as context, echoed in the PONG.
    let seq0 = Bytes::copy_from_slice(&0u64.to_be_bytes());
    assert_eq!(
        events(&mut b),
        [Event::Ping {
            ttl: Duration::from_secs(5),
            context: seq0.clone()
        }]
    );
    assert_eq!(
        events(&mut a),
        [Event::Pong {
            context: seq0,
            rtt: Some(Duration::ZERO)
        }]
    );
    // b now expects traffic within the TTL.
    assert_eq!(b.poll_timeout(), Some(t1 + Duration::from_secs(5)));
    b.handle_timeout(t1 + Duration::from_secs(4)).unwrap();
    assert_eq!(
        b.handle_timeout(t1 + Duration::from_secs(5)),
        Err(Error::HeartbeatTimeout)
    );
    // Sticky.
    assert_eq!(b.handle_input(b"", t1), Err(Error::HeartbeatTimeout));
    assert_eq!(b.poll_timeout(), None);
}

/// Heartbeat config pinging every `ivl_ms`, with a timeout long enough
/// that the peer is never declared dead in these tests.
fn pinging(ty: SocketType, ivl_ms: u64) -> Config {
    let mut cfg = Config::new(ty);
    cfg.heartbeat_ivl = Some(Duration::from_millis(ivl_ms));
    cfg.heartbeat_timeout = Some(Duration::from_secs(3600));
    cfg
}

/// The `rtt` of every PONG in `events`.
fn pong_rtts(events: &[Event]) -> Vec<Option<Duration>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Pong { rtt, .. } => Some(*rtt),
            _ => None,
        })
        .collect()
}

#[test]
fn pong_reports_the_round_trip_time_of_our_ping() {
    let t0 = Instant::now();
    let (mut a, mut b) = connected_with(
        pinging(SocketType::Push, 100),
        Config::new(SocketType::Pull),
        t0,
    );
    let t1 = t0 + Duration::from_millis(100);
    a.handle_timeout(t1).unwrap(); // PING sent at t1
    assert_eq!(a.outstanding_pings(), 1);
    // b reads the PING and queues the PONG; a reads it 40 ms later.
    let ping = output(&mut a, usize::MAX);
    b.handle_input(&ping, t1 + Duration::from_millis(10))
        .unwrap();
    assert!(matches!(events(&mut b)[..], [Event::Ping { .. }]));
    let pong = output(&mut b, usize::MAX);
    a.handle_input(&pong, t1 + Duration::from_millis(40))
        .unwrap();
    assert_eq!(
        events(&mut a),
        [Event::Pong {
            context: Bytes::copy_from_slice(&0u64.to_be_bytes()),
            rtt: Some(Duration::from_millis(40))
        }]
    );
    assert_eq!(a.outstanding_pings(), 0);
    // The same PONG again is no longer a known PING.
    a.handle_input(&pong, t1 + Duration::from_millis(50))
        .unwrap();
    assert_eq!(pong_rtts(&events(&mut a)), [None]);
}

#[test]
fn pong_with_an_unknown_context_has_no_round_trip_time() {
    let t0 = Instant::now();
    let (mut a, _b) = connected_with(
        pinging(SocketType::Dealer, 100),
        Config::new(SocketType::Dealer),
        t0,
    );
    a.handle_timeout(t0 + Duration::from_millis(100)).unwrap(); // PING #0
    output(&mut a, usize::MAX);
    let t = t0 + Duration::from_millis(150);
    // PONG: command flag, size, name length, name, context.
    a.handle_input(b"\x04\x05\x04PONG", t).unwrap(); // empty
    a.handle_input(b"\x04\x08\x04PONGabc", t).unwrap(); // not 8 bytes
    a.handle_input(b"\x04\x0d\x04PONG\x00\x00\x00\x00\x00\x00\x00\x07", t)
        .unwrap(); // never sent
    a.handle_input(b"\x04\x0e\x04PONG\x00\x00\x00\x00\x00\x00\x00\x00\x00", t)
        .unwrap(); // 9 bytes, though it starts like PING #0's
    assert_eq!(pong_rtts(&events(&mut a)), [None, None, None, None]);
    // PING #0 is still outstanding and measurable.
    assert_eq!(a.outstanding_pings(), 1);
    a.handle_input(b"\x04\x0d\x04PONG\x00\x00\x00\x00\x00\x00\x00\x00", t)
        .unwrap();
    assert_eq!(
        pong_rtts(&events(&mut a)),
        [Some(Duration::from_millis(50))]
    );
}

#[test]
fn outstanding_pings_stay_bounded_when_the_peer_never_answers() {
    let t0 = Instant::now();
    let (mut a, mut b) = connected_with(
        pinging(SocketType::Push, 10),
        Config::new(SocketType::Pull),
        t0,
    );
    let ms = |n| t0 + Duration::from_millis(n);
    let mut pongs = Vec::new();
    for i in 1..=1000 {
        a.handle_timeout(ms(10 * i)).unwrap();
        assert!(a.outstanding_pings() <= MAX_OUTSTANDING_PINGS);
        // b answers, but its PONGs are held back.
        let ping = output(&mut a, usize::MAX);
        b.handle_input(&ping, ms(10 * i)).unwrap();
        pongs.push(output(&mut b, usize::MAX));
    }
    assert_eq!(a.outstanding_pings(), MAX_OUTSTANDING_PINGS);
    // A PONG for a forgotten PING measures nothing; the last ones do, and
    // answering a newer PING forgets the older ones.
    a.handle_input(&pongs[0], ms(10_005)).unwrap();
    a.handle_input(&pongs[998], ms(10_005)).unwrap();
    a.handle_input(&pongs[997], ms(10_005)).unwrap();
    a.handle_input(&pongs[999], ms(10_005)).unwrap();
    assert_eq!(
        pong_rtts(&events(&mut a)),
        [
            None,
            Some(Duration::from_millis(15)),
            None,
            Some(Duration::from_millis(5))
        ]
    );
    assert_eq!(a.outstanding_pings(), 0);
}

#[test]
fn silent_peer_fails_heartbeat_and_any_bytes_count_as_life() {
    let t0 = Instant::now();
    let mut cfg = Config::new(SocketType::Dealer);
    cfg.heartbeat_ivl = Some(Duration::from_millis(100));
    cfg.heartbeat_timeout = Some(Duration::from_millis(300));
    let (mut a, mut b) = connected_with(cfg, Config::new(SocketType::Dealer), t0);
    let ms = |n| t0 + Duration::from_millis(n);
    a.handle_timeout(ms(100)).unwrap(); // PING, deadline 400
    a.handle_timeout(ms(200)).unwrap(); // PING, deadline stays 400
    output(&mut a, usize::MAX);
    assert_eq!(a.poll_timeout(), Some(ms(300)));
    // A single byte of a frame from the peer is life.
    b.send(msg(&[b"hi"]));
    let bytes = output(&mut b, usize::MAX);
    a.handle_input(&bytes[..1], ms(350)).unwrap();
    a.handle_timeout(ms(400)).unwrap(); // PING again, new deadline 700
    a.handle_timeout(ms(500)).unwrap();
    a.handle_timeout(ms(600)).unwrap();
    assert_eq!(a.handle_timeout(ms(700)), Err(Error::HeartbeatTimeout));
}

#[test]
fn handshake_timeout() {
    let t0 = Instant::now();
    let mut cfg = Config::new(SocketType::Push);
    cfg.handshake_timeout = Some(Duration::from_secs(2));
    let mut s = Session::new(cfg, t0);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    s.handle_timeout(t0 + Duration::from_secs(1)).unwrap();
    assert_eq!(
        s.handle_timeout(t0 + Duration::from_secs(2)),
        Err(Error::HandshakeTimeout)
    );
}

#[test]
fn incompatible_socket_types_send_error_and_fail() {
    let now = Instant::now();
    let mut push = Session::new(Config::new(SocketType::Push), now);
    let mut publ = Session::new(Config::new(SocketType::Pub), now);
    let err = drive(&mut push, &mut publ, now).unwrap_err();
    assert!(
        matches!(err, Error::IncompatibleSocketType { .. }),
        "{err:?}"
    );
    // Whichever failed first queued an ERROR for the other.
    let (failed, other) = if push.error().is_some() {
        (&mut push, &mut publ)
    } else {
        (&mut publ, &mut push)
    };
    let bytes = output(failed, usize::MAX);
    let got = other.handle_input(&bytes, now);
    assert!(
        matches!(&got, Err(Error::PeerError(r)) if r == "Invalid socket type")
            || matches!(got, Err(Error::IncompatibleSocketType { .. })),
        "{got:?}"
    );
}

#[test]
fn send_error_reaches_peer_and_closes() {
    let now = Instant::now();
    let (mut a, mut b) = connected(SocketType::Pair, SocketType::Pair, now);
    a.send_error("go away");
    assert_eq!(a.handle_input(b"", now), Err(Error::Closed));
    let bytes = output(&mut a, usize::MAX);
    assert_eq!(
        b.handle_input(&bytes, now),
        Err(Error::PeerError("go away".into()))
    );
}

#[test]
fn take_unsent_returns_untouched_messages() {
    let now = Instant::now();
    let mut cfg = Config::new(SocketType::Push);
    cfg.batch_size = 64;
    let (mut push, _pull) = connected_with(cfg, Config::new(SocketType::Pull), now);
    let msgs: Vec<Multipart> = (0..50u8).map(|i| msg(&[&[i; 10], b"t"])).collect();
    for m in &msgs {
        push.send(m.clone());
    }
    // Each message is 12 + 3 = 15 bytes on the wire. Write 2.5 messages.
    let mut slices = [std::io::IoSlice::new(&[]); 4];
    assert!(push.chunks_vectored(&mut slices) > 0);
    push.advance(37);
    let unsent = push.take_unsent();
    assert_eq!(unsent, msgs[3..]);
    assert_eq!(push.pending_output(), 8);
    // Held (pre-handshake) messages come back too.
    let mut early = Session::new(Config::new(SocketType::Push), now);
    early.send(msgs[0].clone());
    assert_eq!(early.take_unsent(), [msgs[0].clone()]);
}

#[test]
fn max_msg_size_applies_per_frame_and_per_message() {
    let now = Instant::now();
    let mut pull = Config::new(SocketType::Pull);
    pull.max_msg_size = Some(100);
    let (mut push, mut pull) = connected_with(Config::new(SocketType::Push), pull.clone(), now);
    push.send(msg(&[&[0; 100]]));
    drive(&mut push, &mut pull, now).unwrap();
    assert_eq!(events(&mut pull).len(), 1);
    // One frame too big fails on its header alone.
    let header = b"\x02\x00\x00\x00\x00\x00\x01\x00\x00";
    assert_eq!(
        pull.handle_input(header, now),
        Err(Error::MessageTooLarge {
            limit: 100,
            size: 65536
        })
    );
    // Frames that fit but add up to more than the limit.
    let (mut push, mut pull) = connected_with(Config::new(SocketType::Push), pull_cfg(100), now);
    push.send(msg(&[&[0; 60], &[0; 60]]));
    assert_eq!(
        drive(&mut push, &mut pull, now),
        Err(Error::MessageTooLarge {
            limit: 100,
            size: 120
        })
    );
    // Commands are not messages: a tiny limit still allows READY and PING.
    let mut push = Config::new(SocketType::Push);
    push.heartbeat_ivl = Some(Duration::from_secs(1));
    let (mut push, mut pull) = connected_with(push, pull_cfg(1), now);
    push.handle_timeout(now + Duration::from_secs(1)).unwrap();
    drive(&mut push, &mut pull, now).unwrap();
    assert!(matches!(events(&mut pull)[..], [Event::Ping { .. }]));
    // But they have a bound of their own.
    let mut huge = b"\x06".to_vec();
    huge.extend_from_slice(&(MAX_COMMAND_SIZE + 1).to_be_bytes());
    assert_eq!(
        pull.handle_input(&huge, now),
        Err(Error::CommandTooLarge {
            limit: MAX_COMMAND_SIZE,
            size: MAX_COMMAND_SIZE + 1
        })
    );
    // Empty frames are bounded too.
    let (_, mut pull) = connected_with(Config::new(SocketType::Push), pull_cfg(100), now);
    let flood = b"\x01\x00".repeat(MAX_FRAMES_WITH_LIMIT + 1);
    assert_eq!(
        pull.handle_input(&flood, now),
        Err(Error::TooManyFrames {
            limit: MAX_FRAMES_WITH_LIMIT
        })
    );
}

#[test]
fn a_reader_learns_a_frames_length_from_its_header_alone() {
    let now = Instant::now();
    // Before the greeting is done: nothing to learn.
    let mut fresh = Session::new(Config::new(SocketType::Pull), now);
    assert_eq!(fresh.frame_incomplete(b"\x02\x00\x00"), Ok(None));
    let (mut push, mut pull) = connected(SocketType::Push, SocketType::Pull, now);
    let body = vec![9u8; 70_000];
    push.send(msg(&[&body]));
    let wire = output(&mut push, usize::MAX);
    assert_eq!(wire.len(), 9 + 70_000);
    // A partial header, then the header with part of the body.
    assert_eq!(pull.frame_incomplete(&wire[..5]), Ok(None));
    assert_eq!(pull.frame_incomplete(&wire[..1000]), Ok(Some(70_009)));
    // Whole: decode it, here from frozen bytes.
    assert_eq!(pull.frame_incomplete(&wire), Ok(None));
    let mut frozen = Bytes::from(wire);
    pull.handle_read(&mut frozen, now).unwrap();
    assert!(frozen.is_empty());
    assert_eq!(events(&mut pull), [Event::Message(msg(&[&body]))]);
    // A header over max_msg_size fails at once, and the session stays failed.
    let (_, mut small) = connected_with(Config::new(SocketType::Push), pull_cfg(100), now);
    let too_big = Error::MessageTooLarge {
        limit: 100,
        size: 65536,
    };
    let header = b"\x02\x00\x00\x00\x00\x00\x01\x00\x00";
    assert_eq!(small.frame_incomplete(header), Err(too_big.clone()));
    assert_eq!(small.frame_incomplete(b""), Err(too_big.clone()));
    assert_eq!(small.handle_input(b"\x00\x00", now), Err(too_big));
    // Reserved flag bits fail as decoding would fail them.
    let (_, mut pull) = connected(SocketType::Push, SocketType::Pull, now);
    assert_eq!(
        pull.frame_incomplete(b"\x80\x01"),
        Err(Error::ReservedFlags(0x80))
    );
}

fn pull_cfg(limit: u64) -> Config {
    let mut c = Config::new(SocketType::Pull);
    c.max_msg_size = Some(limit);
    c
}

/// A PULL session that has read a valid PUSH greeting and READY.
fn ready_pull() -> Session {
    let now = Instant::now();
    let mut s = Session::new(Config::new(SocketType::Pull), now);
    s.handle_input(&fuzz::peer_opening(SocketType::Push), now)
        .unwrap();
    assert!(s.is_ready());
    s
}

#[test]
fn bad_frames_are_typed_errors_and_sticky() {
    let now = Instant::now();
    let cases: &[(&[u8], Error)] = &[
        (b"\x08\x00", Error::ReservedFlags(0x08)),
        (b"\x05\x00", Error::MoreOnCommand),
        // A second greeting is a frame with reserved bits.
        (b"\xff\x00\x00", Error::ReservedFlags(0xff)),
        (
            b"\x02\x80\x00\x00\x00\x00\x00\x00\x00",
            Error::FrameTooLong(1 << 63),
        ),
        (
            b"\x04\x06\x05READY",
            Error::UnexpectedCommand("READY".into()),
        ),
        (
            b"\x04\x01\x09",
            Error::MalformedCommand("command name longer than frame"),
        ),
    ];
    for (input, expect) in cases {
        let mut s = ready_pull();
        assert_eq!(
            s.handle_input(input, now).as_ref(),
            Err(expect),
            "{input:?}"
        );
        assert_eq!(s.handle_input(b"\x00\x00", now).as_ref(), Err(expect));
        assert_eq!(s.handle_timeout(now).as_ref(), Err(expect));
        assert!(!s.is_ready());
    }
}

#[test]
fn bad_handshakes_are_typed_errors() {
    let now = Instant::now();
    let g = first_greeting();
    let with_ready = |ready: &[u8]| {
        let mut v = g.clone();
        v.extend_from_slice(ready);
        v
    };
    let cases: Vec<(Vec<u8>, Error)> = vec![
        (b"GET / HTTP/1.1\r\n".to_vec(), Error::BadSignature),
        (with_ready(b"\x04\x06\x05READY"), Error::MissingSocketType),
        (
            with_ready(b"\x04\x16\x05READY\x0bSocket-Type\x00\x00\x00\x00"),
            Error::UnknownSocketType(Vec::new()),
        ),
        (
            with_ready(b"\x04\x07\x04PING\x00\x00"),
            Error::UnexpectedCommand("PING".into()),
        ),
        (with_ready(b"\x00\x01x"), Error::UnexpectedMessage),
        (
            with_ready(b"\x04\x0a\x05ERROR\x03bye"),
            Error::PeerError("bye".into()),
        ),
    ];
    for (input, expect) in cases {
        let mut s = Session::new(Config::new(SocketType::Pull), now);
        assert_eq!(
            s.handle_input(&input, now),
            Err(expect.clone()),
            "{input:?}"
        );
        assert_eq!(s.handle_input(&[], now), Err(expect));
        assert!(s.peer().is_none());
    }
}

#[test]
fn ready_with_many_properties_parses_in_linear_time() {
    let now = Instant::now();
    let mut body = b"\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH".to_vec();
    let count = 100_000;
    for i in 0..count {
        body.push(5);
        body.extend_from_slice(format!("X-{:03}", i % 1000).as_bytes());
        body.extend_from_slice(&[0, 0, 0, 0]);
    }
    let mut input = first_greeting();
    input.push(0x06);
    input.extend_from_slice(&(body.len() as u64).to_be_bytes());
    input.extend_from_slice(&body);
    let mut s = Session::new(Config::new(SocketType::Pull), now);
    s.handle_input(&input, now).unwrap();
    assert_eq!(s.peer().unwrap().metadata.len(), count + 1);
}

#[test]
fn refuses_zmtp2_after_eleven_bytes() {
    let now = Instant::now();
    let mut s = Session::new(Config::new(SocketType::Pull), now);
    // A ZMTP 2.0 peer sends its signature and major version, then waits.
    assert_eq!(
        s.handle_input(b"\xff\0\0\0\0\0\0\0\x01\x7f\x01", now),
        Err(Error::UnsupportedVersion { major: 1, minor: 0 })
    );
}

#[test]
fn unknown_commands_after_ready_are_ignored() {
    let now = Instant::now();
    let mut s = ready_pull();
    s.handle_input(b"\x04\x0a\x05HELLOdata\x00\x01z", now)
        .unwrap();
    assert_eq!(events(&mut s), [Event::Ready, Event::Message(msg(&[b"z"]))]);
}

#[test]
fn with_dead_linger_a_silent_peer_is_dead_then_revived_by_any_bytes() {
    let t0 = Instant::now();
    let mut cfg = Config::new(SocketType::Dealer);
    cfg.heartbeat_ivl = Some(Duration::from_millis(100));
    cfg.heartbeat_timeout = Some(Duration::from_millis(300));
    cfg.dead_linger = Some(Duration::from_secs(2));
    let (mut a, mut b) = connected_with(cfg, Config::new(SocketType::Dealer), t0);
    let ms = |n| t0 + Duration::from_millis(n);
    a.handle_timeout(ms(100)).unwrap(); // PING, deadline 400
    a.handle_timeout(ms(200)).unwrap();
    a.handle_timeout(ms(300)).unwrap();
    assert!(events(&mut a).is_empty());
    // The deadline passes: dead, reported once, and the session goes on.
    a.handle_timeout(ms(400)).unwrap();
    assert_eq!(events(&mut a), [Event::Dead]);
    assert!(a.error().is_none());
    // It keeps PINGing (so a thawed peer answers), without judging again:
    // the next timer is a PING, never a deadline in the past.
    for t in [500, 600, 1000, 1500] {
        a.handle_timeout(ms(t)).unwrap();
        assert!(a.poll_timeout().unwrap() > ms(t));
    }
    assert!(events(&mut a).is_empty(), "dead is reported once");
    // Anything from the peer revives it, before the message it brought.
    output(&mut a, usize::MAX);
    b.send(msg(&[b"back"]));
    let bytes = output(&mut b, usize::MAX);
    a.handle_input(&bytes, ms(1600)).unwrap();
    assert_eq!(
        events(&mut a),
        [Event::Revived, Event::Message(msg(&[b"back"]))]
    );
    // Alive again: the heartbeat judges afresh, and a second death lingers anew.
    a.handle_timeout(ms(1700)).unwrap(); // PING, deadline 2000
    a.handle_timeout(ms(2000)).unwrap();
    assert_eq!(events(&mut a), [Event::Dead]);
    // A peer silent for the whole linger is finally given up.
    a.handle_timeout(ms(3900)).unwrap();
    assert_eq!(a.handle_timeout(ms(4000)), Err(Error::HeartbeatTimeout));
    assert_eq!(a.poll_timeout(), None);
}
