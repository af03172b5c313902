//! PLAIN and CURVE handshakes between two sessions in memory, ZAP pauses,
//! and the failures that must close a connection: wrong key, bad box,
//! replayed nonce, ZAP refusal.

mod common;

use common::{drive, events, output};
use std::time::Instant;
use tiermq_wire::{
    Bytes, BytesMut, Config, Error, ErrorKind, Event, Mechanism, Multipart, Session, SocketType,
    ZapReply, curve_public_key, z85,
};

/// Deterministic "randomness": a counter, so runs repeat byte for byte.
use tiermq_wire::fuzz::Counter;

// libzmq's test keys (tests/testutil_security.cpp), in Z85.
const SERVER_SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
const SERVER_PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const CLIENT_SECRET: &str = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";
const CLIENT_PUBLIC: &str = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";

fn key(z: &str) -> [u8; 32] {
    z85::decode_key(z).unwrap()
}

fn session(ty: SocketType, mechanism: Mechanism, zap: bool, seed: u8) -> Session {
    let mut c = Config::new(ty);
    c.mechanism = mechanism;
    c.zap = zap;
    Session::with_random(c, Instant::now(), Box::new(Counter(seed)))
}

fn curve_client(server_key: [u8; 32]) -> Mechanism {
    Mechanism::CurveClient {
        secret_key: key(CLIENT_SECRET),
        server_key,
    }
}

fn curve_server() -> Mechanism {
    Mechanism::CurveServer {
        secret_key: key(SERVER_SECRET),
    }
}

fn plain_client(user: &str, pass: &str) -> Mechanism {
    Mechanism::PlainClient {
        username: Bytes::copy_from_slice(user.as_bytes()),
        password: Bytes::copy_from_slice(pass.as_bytes()),
    }
}

fn msg(frames: &[&str]) -> Multipart {
    frames
        .iter()
        .map(|f| Bytes::copy_from_slice(f.as_bytes()))
        .collect()
}

#[test]
fn libzmq_test_keys_derive_their_public_keys() {
    assert_eq!(curve_public_key(&key(SERVER_SECRET)), key(SERVER_PUBLIC));
    assert_eq!(curve_public_key(&key(CLIENT_SECRET)), key(CLIENT_PUBLIC));
}

#[test]
fn curve_handshake_then_encrypted_messages_both_ways() {
    let now = Instant::now();
    let mut client = session(
        SocketType::Dealer,
        curve_client(key(SERVER_PUBLIC)),
        false,
        1,
    );
    let mut server = session(SocketType::Router, curve_server(), false, 100);
    client.send(msg(&["hello", "world"]));
    drive(&mut client, &mut server, now).unwrap();
    assert_eq!(events(&mut client), [Event::Ready]);
    let ev = events(&mut server);
    assert_eq!(ev, [Event::Ready, Event::Message(msg(&["hello", "world"]))]);
    assert_eq!(server.peer().unwrap().socket_type, SocketType::Dealer);
    // No ZAP handler ran: no user id (an admitted peer's may be empty).
    assert_eq!(server.peer().unwrap().user_id, None);

    // Large payloads are encrypted too: no plaintext on the wire.
    let secret = "s3cret-payload".repeat(200);
    server.send(msg(&[&secret]));
    let wire = output(&mut server, usize::MAX);
    assert!(!wire.windows(14).any(|w| w == b"s3cret-payload"));
    assert_eq!(&wire[9..17], b"\x07MESSAGE");
    client
        .handle_read(&mut BytesMut::from(&wire[..]), now)
        .unwrap();
    assert_eq!(events(&mut client), [Event::Message(msg(&[&secret]))]);
}

#[test]
fn curve_handshake_bytes_are_deterministic_and_sized_as_rfc26() {
    let run = || {
        let mut client = session(SocketType::Push, curve_client(key(SERVER_PUBLIC)), false, 1);
        let mut server = session(SocketType::Pull, curve_server(), false, 100);
        let now = Instant::now();
        let s1 = output(&mut server, usize::MAX);
        client
            .handle_read(&mut BytesMut::from(&s1[..]), now)
            .unwrap();
        let c1 = output(&mut client, usize::MAX);
        server
            .handle_read(&mut BytesMut::from(&c1[..]), now)
            .unwrap();
        let s2 = output(&mut server, usize::MAX);
        client
            .handle_read(&mut BytesMut::from(&s2[..]), now)
            .unwrap();
        let c2 = output(&mut client, usize::MAX);
        (c1, s1, s2, c2)
    };
    let (c1, s1, s2, c2) = run();
    assert_eq!(run(), (c1.clone(), s1.clone(), s2.clone(), c2.clone()));
    // Greetings: CURVE, as-server 1 on the server only.
    assert_eq!(&c1[12..17], b"CURVE");
    assert_eq!((c1[32], s1[32]), (0, 1));
    // HELLO: 200 bytes in a short command frame.
    let hello = &c1[64..];
    assert_eq!(&hello[..2], &[0x04, 200]);
    assert_eq!(&hello[2..10], b"\x05HELLO\x01\x00");
    assert!(
        hello[10..82].iter().all(|&b| b == 0),
        "anti-amplification padding"
    );
    assert_eq!(
        &hello[114..122],
        &1u64.to_be_bytes(),
        "first short nonce is 1"
    );
    // C' is the public key of the client's first 32 random bytes (2..=33).
    let client_short: [u8; 32] = std::array::from_fn(|i| i as u8 + 2);
    assert_eq!(hello[82..114], curve_public_key(&client_short));
    // The signature box opens, with libzmq's nonce, to 64 zero bytes.
    let mut nonce = [0u8; 24];
    nonce[..16].copy_from_slice(b"CurveZMQHELLO---");
    nonce[16..].copy_from_slice(&1u64.to_be_bytes());
    let opened = open_box(
        &hello[82..114],
        &key(SERVER_SECRET),
        &nonce,
        &hello[122..202],
    );
    assert_eq!(opened, Some(vec![0u8; 64]));
    // WELCOME: 168 bytes; its long nonce is the server's random bytes after
    // its short-term secret, cookie key and cookie nonce (101 + 80 = 181..).
    assert_eq!(&s2[..2], &[0x04, 168]);
    assert_eq!(&s2[2..10], b"\x07WELCOME");
    let welcome_nonce: Vec<u8> = (181..197).collect();
    assert_eq!(s2[10..26], welcome_nonce[..]);
    // INITIATE: 257 bytes plus metadata (Socket-Type PUSH: 20 bytes), nonce 2.
    assert_eq!(&c2[..9], &[0x06, 0, 0, 0, 0, 0, 0, 1, 21]);
    assert_eq!(&c2[9..18], b"\x08INITIATE");
    assert_eq!(&c2[114..122], &2u64.to_be_bytes());
}

/// NaCl's `crypto_box_open` (tag, then ciphertext), straight from
/// `crypto_box`, apart from the session's code.
fn open_box(public: &[u8], secret: &[u8; 32], nonce: &[u8; 24], boxed: &[u8]) -> Option<Vec<u8>> {
    use crypto_box::aead::AeadInPlace;
    let public: [u8; 32] = public.try_into().ok()?;
    let b = crypto_box::SalsaBox::new(&public.into(), &(*secret).into());
    let (tag, ct) = boxed.split_at(16);
    let mut plain = ct.to_vec();
    b.decrypt_in_place_detached(nonce.into(), b"", &mut plain, tag.into())
        .ok()?;
    Some(plain)
}

/// Every frame after the handshake is a MESSAGE: libzmq's layout, the
/// client's nonces continuing after HELLO (1) and INITIATE (2), and a box
/// under the two short-term keys (both known here: the supplied randomness).
#[test]
fn curve_message_bytes_follow_libzmq() {
    let (mut client, _server) = curve_pair();
    client.send(msg(&["hello", "world"]));
    let wire = output(&mut client, usize::MAX);
    let client_short: [u8; 32] = std::array::from_fn(|i| i as u8 + 2);
    let server_short: [u8; 32] = std::array::from_fn(|i| i as u8 + 101);
    let server_short_public = curve_public_key(&server_short);
    let mut at = 0;
    for (n, (flags, payload)) in [(3u64, (1u8, "hello")), (4, (0, "world"))] {
        // A data frame (libzmq sends MESSAGE so): flags 0, short size.
        let size = 33 + payload.len();
        assert_eq!(&wire[at..at + 2], &[0x00, size as u8]);
        let body = &wire[at + 2..at + 2 + size];
        assert_eq!(&body[..8], b"\x07MESSAGE");
        assert_eq!(&body[8..16], &n.to_be_bytes());
        let mut nonce = [0u8; 24];
        nonce[..16].copy_from_slice(b"CurveZMQMESSAGEC");
        nonce[16..].copy_from_slice(&n.to_be_bytes());
        let plain = open_box(&server_short_public, &client_short, &nonce, &body[16..]).unwrap();
        assert_eq!(plain[0], flags);
        assert_eq!(&plain[1..], payload.as_bytes());
        at += 2 + size;
    }
    assert_eq!(at, wire.len());
}

#[test]
fn curve_wrong_server_key_fails_the_handshake() {
    let now = Instant::now();
    let mut client = session(SocketType::Push, curve_client(key(CLIENT_PUBLIC)), false, 1);
    let mut server = session(SocketType::Pull, curve_server(), false, 100);
    let err = drive(&mut client, &mut server, now).unwrap_err();
    assert!(matches!(err, Error::Crypto(_)), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(!server.is_ready());
}

fn curve_pair() -> (Session, Session) {
    let now = Instant::now();
    let mut client = session(SocketType::Push, curve_client(key(SERVER_PUBLIC)), false, 1);
    let mut server = session(SocketType::Pull, curve_server(), false, 100);
    drive(&mut client, &mut server, now).unwrap();
    assert_eq!(events(&mut client), [Event::Ready]);
    assert_eq!(events(&mut server), [Event::Ready]);
    (client, server)
}

#[test]
fn curve_replayed_message_is_a_protocol_error() {
    let now = Instant::now();
    let (mut client, mut server) = curve_pair();
    client.send(msg(&["once"]));
    let wire = output(&mut client, usize::MAX);
    server
        .handle_read(&mut BytesMut::from(&wire[..]), now)
        .unwrap();
    assert_eq!(events(&mut server), [Event::Message(msg(&["once"]))]);
    let err = server
        .handle_read(&mut BytesMut::from(&wire[..]), now)
        .unwrap_err();
    assert_eq!(err, Error::NonceNotIncreasing { last: 3, got: 3 });
    assert!(events(&mut server).is_empty());
}

#[test]
fn curve_tampered_message_is_a_bad_box() {
    let now = Instant::now();
    let (mut client, mut server) = curve_pair();
    client.send(msg(&["payload"]));
    let mut wire = output(&mut client, usize::MAX);
    let last = wire.len() - 1;
    wire[last] ^= 1;
    let err = server
        .handle_read(&mut BytesMut::from(&wire[..]), now)
        .unwrap_err();
    assert_eq!(err, Error::Crypto("MESSAGE box"));
    assert!(events(&mut server).is_empty());
}

#[test]
fn curve_zap_sees_the_client_key_and_can_refuse() {
    let now = Instant::now();
    for admit in [true, false] {
        let mut client = session(SocketType::Push, curve_client(key(SERVER_PUBLIC)), false, 1);
        let mut server = session(SocketType::Pull, curve_server(), true, 100);
        drive(&mut client, &mut server, now).unwrap();
        let [Event::ZapRequest(req)] = &events(&mut server)[..] else {
            panic!("no ZAP request")
        };
        assert_eq!(req.mechanism, "CURVE");
        assert_eq!(
            req.credentials,
            [Bytes::copy_from_slice(&key(CLIENT_PUBLIC))]
        );
        assert!(!server.is_ready());
        if admit {
            let mut reply = ZapReply::ok();
            reply.user_id = Bytes::from_static(b"alice");
            server.zap_reply(reply, now).unwrap();
            drive(&mut client, &mut server, now).unwrap();
            assert_eq!(events(&mut server), [Event::Ready]);
            assert_eq!(events(&mut client), [Event::Ready]);
            assert_eq!(
                server.peer().unwrap().user_id.as_deref(),
                Some(&b"alice"[..])
            );
        } else {
            let err = server
                .zap_reply(ZapReply::status("400", "no"), now)
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Auth);
            assert_eq!(err.auth_status(), Some(400));
            let err = drive(&mut server, &mut client, now).unwrap_err();
            assert_eq!(err, Error::PeerError("400".into()));
            assert_eq!(err.kind(), ErrorKind::Auth);
        }
    }
}

#[test]
fn plain_with_zap_admits_and_refuses() {
    let now = Instant::now();
    for (pass, admit) in [("secret", true), ("wrong", false)] {
        let mut client = session(SocketType::Req, plain_client("admin", pass), false, 1);
        let mut server = session(SocketType::Rep, Mechanism::PlainServer, true, 2);
        client.send(msg(&["", "hi"]));
        drive(&mut client, &mut server, now).unwrap();
        let [Event::ZapRequest(req)] = &events(&mut server)[..] else {
            panic!("no ZAP request")
        };
        assert_eq!(req.mechanism, "PLAIN");
        assert_eq!(req.credentials, ["admin", pass]);
        let reply = if req.credentials[1] == "secret" {
            ZapReply::ok()
        } else {
            ZapReply::status("400", "bad password")
        };
        let result = server.zap_reply(reply, now);
        assert_eq!(result.is_ok(), admit);
        let driven = drive(&mut server, &mut client, now);
        if admit {
            driven.unwrap();
            assert_eq!(
                events(&mut server),
                [Event::Ready, Event::Message(msg(&["", "hi"]))]
            );
        } else {
            assert_eq!(driven.unwrap_err(), Error::PeerError("400".into()));
            assert!(!client.is_ready());
        }
    }
}

#[test]
fn plain_without_zap_handler_refuses_and_curve_accepts() {
    let now = Instant::now();
    let mut client = session(SocketType::Push, plain_client("u", "p"), false, 1);
    let mut server = session(SocketType::Pull, Mechanism::PlainServer, false, 2);
    let err = drive(&mut client, &mut server, now).unwrap_err();
    assert_eq!(err, Error::NoZapHandler);
    // CURVE without a handler: curve_pair asserts both sides become ready.
    curve_pair();
    // A handler that turns out to be gone at request time: the same rules.
    let mut client = session(SocketType::Push, plain_client("u", "p"), false, 1);
    let mut server = session(SocketType::Pull, Mechanism::PlainServer, true, 2);
    drive(&mut client, &mut server, now).unwrap();
    assert!(matches!(events(&mut server)[..], [Event::ZapRequest(_)]));
    assert_eq!(server.zap_unavailable(now), Err(Error::NoZapHandler));
    let mut client = session(SocketType::Push, curve_client(key(SERVER_PUBLIC)), false, 1);
    let mut server = session(SocketType::Pull, curve_server(), true, 2);
    drive(&mut client, &mut server, now).unwrap();
    assert!(matches!(events(&mut server)[..], [Event::ZapRequest(_)]));
    server.zap_unavailable(now).unwrap();
    drive(&mut client, &mut server, now).unwrap();
    assert_eq!(events(&mut server), [Event::Ready]);
    assert_eq!(events(&mut client), [Event::Ready]);
}

#[test]
fn plain_bytes_match_rfc24() {
    let mut client = session(SocketType::Push, plain_client("admin", "pw"), false, 1);
    let server = session(SocketType::Pull, Mechanism::PlainServer, true, 2);
    let _ = server;
    let greeting = output(&mut client, usize::MAX);
    assert_eq!(&greeting[12..17], b"PLAIN");
    assert_eq!(greeting[32], 0);
    let mut server = session(SocketType::Pull, Mechanism::PlainServer, true, 2);
    let sg = output(&mut server, usize::MAX);
    assert_eq!(sg[32], 1);
    client
        .handle_read(&mut BytesMut::from(&sg[..]), Instant::now())
        .unwrap();
    assert_eq!(
        output(&mut client, usize::MAX),
        b"\x04\x0f\x05HELLO\x05admin\x02pw"
    );
}

#[test]
fn mismatched_mechanisms_are_typed_errors() {
    let now = Instant::now();
    let mut a = session(SocketType::Push, Mechanism::Null, false, 1);
    let mut b = session(SocketType::Pull, curve_server(), false, 2);
    let err = drive(&mut a, &mut b, now).unwrap_err();
    assert!(matches!(err, Error::MechanismMismatch { .. }), "{err:?}");
    // The as-server bit is sent but not checked (libzmq sends 0): two
    // clients fail on each other's HELLO.
    let mut a = session(SocketType::Push, plain_client("a", "b"), false, 1);
    let mut b = session(SocketType::Pull, plain_client("a", "b"), false, 2);
    let err = drive(&mut a, &mut b, now).unwrap_err();
    assert_eq!(err, Error::UnexpectedCommand("HELLO".into()));
}

#[test]
fn curve_session_without_randomness_fails_at_once() {
    let mut c = Config::new(SocketType::Push);
    c.mechanism = curve_server();
    let mut s = Session::new(c, Instant::now());
    assert_eq!(
        s.handle_input(b"", Instant::now()),
        Err(Error::NoRandomness)
    );
}

#[test]
fn curve_heartbeats_and_subscriptions_travel_encrypted() {
    let now = Instant::now();
    let mut client = session(SocketType::Sub, curve_client(key(SERVER_PUBLIC)), false, 1);
    let mut server = session(SocketType::Pub, curve_server(), false, 100);
    client.send_subscribe(Bytes::from_static(b"topic"));
    drive(&mut client, &mut server, now).unwrap();
    assert_eq!(
        events(&mut server),
        [Event::Ready, Event::Subscribe(Bytes::from_static(b"topic"))]
    );
    events(&mut client);
}

#[test]
fn null_zap_waits_before_ready() {
    let now = Instant::now();
    let mut a = session(SocketType::Push, Mechanism::Null, false, 1);
    let mut b = session(SocketType::Pull, Mechanism::Null, true, 2);
    drive(&mut a, &mut b, now).unwrap();
    let [Event::ZapRequest(req)] = &events(&mut b)[..] else {
        panic!("no ZAP request")
    };
    assert_eq!(req.mechanism, "NULL");
    assert!(events(&mut a).is_empty(), "a got no READY yet");
    b.zap_reply(ZapReply::ok(), now).unwrap();
    drive(&mut a, &mut b, now).unwrap();
    assert_eq!(events(&mut a), [Event::Ready]);
    assert_eq!(events(&mut b), [Event::Ready]);
}

fn sized(sizes: &[usize]) -> Multipart {
    sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| Bytes::from(vec![i as u8; n]))
        .collect()
}

/// Under CURVE the queued-byte accounting counts MESSAGE framing exactly:
/// what is written equals `pending_output`, whatever the write sizes, and
/// the peer decodes every message (short and long frames, large payloads).
#[test]
fn curve_output_accounting_is_exact_for_any_write_size() {
    let now = Instant::now();
    let msgs = [
        sized(&[0]),
        sized(&[1, 222]),
        sized(&[223, 300]),
        sized(&[5000]),
        sized(&[70_000, 0, 9]),
    ];
    for write in [1, 7, 255, 4096, usize::MAX] {
        let (mut client, mut server) = curve_pair();
        for m in &msgs {
            client.send(m.clone());
        }
        let expected = client.pending_output();
        let wire = output(&mut client, write);
        assert_eq!(wire.len(), expected, "write size {write}");
        let mut got = Vec::new();
        let mut buf = BytesMut::new();
        for piece in wire.chunks(write.min(wire.len())) {
            buf.extend_from_slice(piece);
            server.handle_read(&mut buf, now).unwrap();
            got.extend(events(&mut server));
        }
        let want: Vec<Event> = msgs.iter().cloned().map(Event::Message).collect();
        assert_eq!(got, want, "write size {write}");
    }
}

/// `take_unsent` under CURVE returns exactly the messages none of whose
/// bytes were written, and what was begun still decodes after later sends.
#[test]
fn curve_take_unsent_returns_the_messages_not_begun() {
    let now = Instant::now();
    let (mut client, mut server) = curve_pair();
    let msgs: Vec<Multipart> = (0..6).map(|i| sized(&[10 * i + 1])).collect();
    for m in &msgs {
        client.send(m.clone());
    }
    // Each message is one MESSAGE frame: 2 + 33 + payload bytes. Write the
    // first two whole and one byte of the third.
    let first_two = (2 + 33 + 1) + (2 + 33 + 11);
    let mut written = Vec::new();
    while written.len() < first_two + 1 {
        let mut slices = [std::io::IoSlice::new(&[]); 8];
        let n = client.chunks_vectored(&mut slices);
        let all: Vec<u8> = slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
        let take = all.len().min(first_two + 1 - written.len());
        written.extend_from_slice(&all[..take]);
        client.advance(take);
    }
    assert_eq!(client.take_unsent(), msgs[3..]);
    // The rest of the third goes out, then a new message with a later nonce.
    client.send(msgs[5].clone());
    written.extend(output(&mut client, usize::MAX));
    server
        .handle_read(&mut BytesMut::from(&written[..]), now)
        .unwrap();
    let want: Vec<Event> = [&msgs[0], &msgs[1], &msgs[2], &msgs[5]]
        .into_iter()
        .cloned()
        .map(Event::Message)
        .collect();
    assert_eq!(events(&mut server), want);
}
