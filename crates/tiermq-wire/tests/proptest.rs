//! Property tests: round trips in any split, and no panics on any input.

mod common;

use common::*;
use proptest::prelude::*;
use std::time::Instant;
use tiermq_wire::*;

fn frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..40),
        2 => proptest::collection::vec(any::<u8>(), 250..260),
        1 => proptest::collection::vec(any::<u8>(), 1000..3000),
    ]
}

fn messages() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
    proptest::collection::vec(proptest::collection::vec(frame(), 1..4), 0..12)
}

fn to_multipart(frames: &[Vec<u8>]) -> Multipart {
    frames.iter().map(|f| Bytes::copy_from_slice(f)).collect()
}

/// Everything a PUSH session writes (greeting, READY, `msgs`) after seeing
/// a PULL peer's opening, written `write` bytes at a time.
fn push_stream(msgs: &[Multipart], batch: usize, threshold: usize, write: usize) -> Vec<u8> {
    let now = Instant::now();
    let mut cfg = Config::new(SocketType::Push);
    cfg.batch_size = batch;
    cfg.zero_copy_threshold = threshold;
    let mut push = Session::new(cfg, now);
    for m in msgs {
        push.send(m.clone());
    }
    push.handle_input(&fuzz::peer_opening(SocketType::Pull), now)
        .unwrap();
    fuzz::output(&mut push, write)
}

/// As `push_stream`, with the messages encoded ahead (`encoded::encode_item`)
/// and handed over with `send_encoded` in groups of `group`.
fn push_stream_encoded(
    msgs: &[Multipart],
    threshold: usize,
    group: usize,
    write: usize,
) -> Vec<u8> {
    let now = Instant::now();
    let mut cfg = Config::new(SocketType::Push);
    cfg.zero_copy_threshold = threshold;
    let mut push = Session::new(cfg, now);
    push.handle_input(&fuzz::peer_opening(SocketType::Pull), now)
        .unwrap();
    assert!(push.encodes_ahead());
    for chunk in msgs.chunks(group.max(1)) {
        let mut buf = BytesMut::new();
        for m in chunk {
            encoded::encode_item(&Item::Message(m.clone()), threshold, &mut buf);
        }
        push.send_encoded([buf.freeze()]);
    }
    fuzz::output(&mut push, write)
}

/// Feeds `bytes` to a fresh PULL session cut at `cuts`; returns its events.
fn pull_events(bytes: &[u8], cuts: &[usize]) -> Result<Vec<Event>, Error> {
    pull_events_upto(bytes, cuts, usize::MAX)
}

/// Feeds `bytes` to a fresh PULL session in pieces cut at `cuts`; after
/// each piece `decode` decodes what it can and collects the events.
fn feed_pull(
    bytes: &[u8],
    cuts: &[usize],
    mut decode: impl FnMut(&mut Session, &mut BytesMut, &mut Vec<Event>) -> Result<(), Error>,
) -> Result<Vec<Event>, Error> {
    let now = Instant::now();
    let mut pull = Session::new(Config::new(SocketType::Pull), now);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    for cut in cuts {
        buf.extend_from_slice(&bytes[at..cut.max(at)]);
        at = cut.max(at);
        decode(&mut pull, &mut buf, &mut got)?;
    }
    Ok(got)
}

/// As `pull_events`, with messages going straight to a queue of items
/// (`handle_read_into`, at most `max` per call) and other events drained
/// first each time, as the transport does; items become events again.
fn pull_events_into(bytes: &[u8], cuts: &[usize], max: usize) -> Result<Vec<Event>, Error> {
    let now = Instant::now();
    let mut items = std::collections::VecDeque::new();
    feed_pull(bytes, cuts, |pull, buf, got| {
        loop {
            let more = pull.handle_read_into(buf, now, max, &mut items)?;
            assert!(items.len() <= max);
            got.extend(events(pull));
            got.extend(items.drain(..).map(Event::from));
            if !more {
                return Ok(());
            }
        }
    })
}

/// As `pull_events`, decoding at most `max` events per call
/// (`handle_read_upto`), as a reader that hands on each batch does.
fn pull_events_upto(bytes: &[u8], cuts: &[usize], max: usize) -> Result<Vec<Event>, Error> {
    let now = Instant::now();
    feed_pull(bytes, cuts, |pull, buf, got| {
        while pull.handle_read_upto(buf, now, max)? {
            let batch = events(pull);
            assert_eq!(batch.len(), max, "stops at the limit");
            got.extend(batch);
        }
        let batch = events(pull);
        assert!(batch.len() <= max);
        got.extend(batch);
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_in_any_split(
        msgs in messages(),
        batch in 16usize..10_000,
        threshold in 1usize..4096,
        write in 1usize..5000,
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let msgs: Vec<Multipart> = msgs.iter().map(|m| to_multipart(m)).collect();
        let bytes = push_stream(&msgs, batch, threshold, write);
        let events = pull_events(&bytes, &cuts).unwrap();
        let mut expect = vec![Event::Ready];
        expect.extend(msgs.into_iter().map(Event::Message));
        prop_assert_eq!(events, expect);
    }

    #[test]
    fn decoding_in_batches_yields_the_same_events(
        msgs in messages(),
        max in 1usize..5,
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let msgs: Vec<Multipart> = msgs.iter().map(|m| to_multipart(m)).collect();
        let bytes = push_stream(&msgs, 8192, 1024, usize::MAX);
        let whole = pull_events(&bytes, &cuts).unwrap();
        prop_assert_eq!(&pull_events_upto(&bytes, &cuts, max).unwrap(), &whole);
        prop_assert_eq!(&pull_events_into(&bytes, &cuts, max).unwrap(), &whole);
    }

    #[test]
    fn items_encoded_ahead_make_the_same_stream(
        msgs in messages(),
        threshold in 1usize..4096,
        group in 1usize..5,
        write in 1usize..5000,
    ) {
        let msgs: Vec<Multipart> = msgs.iter().map(|m| to_multipart(m)).collect();
        prop_assert_eq!(
            push_stream_encoded(&msgs, threshold, group, write),
            push_stream(&msgs, 8192, threshold, usize::MAX)
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        fuzz::handshake(&bytes);
        fuzz::decode(&bytes);
        fuzz::roundtrip(&bytes);
    }

    #[test]
    fn valid_streams_pass_the_fuzz_checks(
        msgs in messages(),
        sel in any::<u8>(),
        enc in any::<u8>(),
    ) {
        let msgs: Vec<Multipart> = msgs.iter().map(|m| to_multipart(m)).collect();
        let bytes = push_stream(&msgs, 8192, 1024, usize::MAX);
        fuzz::handshake(&[&[sel][..], &bytes].concat());
        // decode and roundtrip have read the greeting and READY (92 bytes).
        fuzz::decode(&[&[sel][..], &bytes[92..]].concat());
        fuzz::roundtrip(&[&[sel, enc][..], &bytes[92..]].concat());
    }

    #[test]
    fn mutated_streams_never_panic(
        msgs in messages(),
        edits in proptest::collection::vec((any::<usize>(), 0u8..3, any::<u8>()), 1..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let msgs: Vec<Multipart> = msgs.iter().map(|m| to_multipart(m)).collect();
        let mut bytes = push_stream(&msgs, 8192, 1024, usize::MAX);
        for (at, kind, value) in edits {
            let at = at % (bytes.len() + 1);
            match kind {
                0 if at < bytes.len() => bytes[at] ^= value | 1,
                1 => bytes.insert(at, value),
                _ if at < bytes.len() => { bytes.remove(at); }
                _ => {}
            }
        }
        let _ = pull_events(&bytes, &cuts);
        // Also from the decode target's point of view: skip the greeting
        // (64 bytes) and READY (28 bytes), which it has already read.
        let mut with_sel = vec![0u8];
        with_sel.extend_from_slice(bytes.get(92..).unwrap_or(&[]));
        fuzz::decode(&with_sel);
        with_sel.insert(0, 0);
        fuzz::roundtrip(&with_sel);
    }
}

proptest! {
    // Each case runs CURVE handshakes (Curve25519 is slow in debug builds).
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn secured_handshakes_and_messages_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..400)
    ) {
        fuzz::mechanism(&bytes);
        fuzz::curve_message(&bytes);
    }
}
