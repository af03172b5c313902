//! Cancellation and backpressure through the async API: a dropped recv
//! future loses no message; a dropped send future has sent the whole
//! message or none of it; the sink's `poll_ready` waits while the peer is
//! full (HWM) and wakes when it drains.

mod async_support;

use std::collections::HashMap;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use async_support::{Runtime, Transport, frames, on_every_runtime, poll_once, timeout, yield_now};
use futures_sink::Sink;
use tiermq::{AsyncSocket, Bytes, Context, PULL, PUSH, Socket};

/// A PUSH bound on `transport` (no socket-level queue: it has no connect
/// endpoint) with a sync PULL connected, both with HWM `hwm`, and the
/// endpoint.
fn push_and_sync_pull(ctx: &Context, t: Transport, hwm: i32) -> (AsyncSocket, Socket) {
    let push = ctx.socket(PUSH).unwrap();
    push.set_sndhwm(hwm).unwrap();
    push.bind(&t.endpoint("cancel")).unwrap();
    let at = push.get_last_endpoint().unwrap().unwrap();
    let pull = ctx.socket(PULL).unwrap();
    pull.set_rcvhwm(hwm).unwrap();
    pull.set_rcvtimeo(30_000).unwrap();
    pull.connect(&at).unwrap();
    (push.into_async(), pull)
}

/// Reads whole messages until one whose first frame is `end`.
fn read_until_end(pull: Socket) -> std::thread::JoinHandle<Vec<Vec<Vec<u8>>>> {
    std::thread::spawn(move || {
        let mut got = Vec::new();
        loop {
            let msg = pull.recv_multipart(0).expect("a message before the end");
            if msg[0] == b"end" {
                return got;
            }
            got.push(msg);
        }
    })
}

#[test]
fn a_dropped_recv_future_loses_no_message() {
    on_every_runtime(|_| async {
        let ctx = Context::new();
        let mut pull = ctx.socket(PULL).unwrap().into_async();
        pull.bind("inproc://dropped-recv").unwrap();
        let push = ctx.socket(PUSH).unwrap();
        push.connect("inproc://dropped-recv").unwrap();

        // A receive that waited, registered, and was given up.
        assert!(
            timeout(Duration::from_millis(30), pull.recv())
                .await
                .is_none()
        );
        push.send_multipart(["after", "the drop"], 0).unwrap();
        assert_eq!(
            frames(&pull.recv().await.unwrap()),
            [&b"after"[..], b"the drop"]
        );
    });
}

/// Receives are started and dropped over and over while a thread sends:
/// every message still arrives once, whole and in order.
#[test]
fn receives_cancelled_at_any_point_lose_nothing() {
    on_every_runtime(|_| async {
        for t in [Transport::Inproc, Transport::Tcp] {
            let ctx = Context::new();
            let mut pull = ctx.socket(PULL).unwrap().into_async();
            pull.bind(&t.endpoint("recv-churn")).unwrap();
            let at = pull.get_last_endpoint().unwrap().unwrap();
            let push = ctx.socket(PUSH).unwrap();
            push.connect(&at).unwrap();
            let n = 2000u32;
            let sender = std::thread::spawn(move || {
                for i in 0..n {
                    push.send_multipart([&i.to_be_bytes()[..], b"b", b"c"], 0)
                        .unwrap();
                }
                push
            });
            let mut next = 0u32;
            let mut dropped = 0u32;
            while next < n {
                match poll_once(pull.recv()).await {
                    Some(msg) => {
                        let msg = msg.unwrap();
                        assert_eq!(
                            frames(&msg),
                            [next.to_be_bytes().to_vec(), b"b".to_vec(), b"c".to_vec()],
                            "{t:?}: in order, whole"
                        );
                        next += 1;
                    }
                    None => {
                        dropped += 1;
                        yield_now().await;
                    }
                }
            }
            drop(sender.join().unwrap());
            assert!(
                timeout(Duration::from_millis(50), pull.recv())
                    .await
                    .is_none(),
                "{t:?}: nothing more ({dropped} receives dropped)"
            );
        }
    });
}

/// Sends are started and dropped while the peer is full: each dropped
/// message arrives whole once or not at all, each completed one arrives
/// whole exactly once, in order.
#[test]
fn a_dropped_send_future_sends_all_or_nothing() {
    on_every_runtime(|_| async {
        for t in [Transport::Inproc, Transport::Tcp] {
            let ctx = Context::new();
            let (mut push, pull) = push_and_sync_pull(&ctx, t, 2);
            // The reader starts once a send had to wait, so one does.
            let mut pull = Some(pull);
            let mut reader = None;
            // Attempt ids: (message, attempt); the completed ones in order.
            let mut completed = Vec::new();
            let mut dropped = Vec::new();
            for i in 0..300u32 {
                for attempt in 0u32.. {
                    let id = [i.to_be_bytes(), attempt.to_be_bytes()].concat();
                    match poll_once(push.send([&id[..], b"middle", b"last"])).await {
                        Some(r) => {
                            r.unwrap();
                            completed.push(id);
                            break;
                        }
                        None => {
                            dropped.push(id);
                            if let Some(pull) = pull.take() {
                                reader = Some(read_until_end(pull));
                            }
                            yield_now().await;
                        }
                    }
                }
            }
            push.send(["end"]).await.unwrap();
            let got = reader.expect("a send had to wait").join().unwrap();
            let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
            for msg in &got {
                assert_eq!(msg.len(), 3, "{t:?}: whole");
                assert_eq!(&msg[1..], [b"middle".to_vec(), b"last".to_vec()]);
                *seen.entry(msg[0].clone()).or_default() += 1;
            }
            for id in &dropped {
                assert!(
                    seen.get(id).copied().unwrap_or(0) <= 1,
                    "{t:?}: at most once"
                );
            }
            for id in &completed {
                assert_eq!(seen.get(id), Some(&1), "{t:?}: completed, delivered once");
            }
            let order: Vec<&Vec<u8>> = got
                .iter()
                .map(|m| &m[0])
                .filter(|id| completed.contains(id))
                .collect();
            assert_eq!(
                order,
                completed.iter().collect::<Vec<_>>(),
                "{t:?}: in order"
            );
        }
    });
}

type Item = [Bytes; 2];

fn ready(push: &mut AsyncSocket, cx: &mut std::task::Context<'_>) -> Poll<tiermq::Result<()>> {
    Sink::<Item>::poll_ready(Pin::new(push), cx)
}

fn flush(push: &mut AsyncSocket, cx: &mut std::task::Context<'_>) -> Poll<tiermq::Result<()>> {
    Sink::<Item>::poll_flush(Pin::new(push), cx)
}

/// The sink's `poll_ready` is pending once the peer's queue is full, and
/// completes once a reader drains it; nothing accepted is lost.
#[test]
fn poll_ready_waits_for_room_and_wakes_when_the_peer_drains() {
    // Large messages, so that tcp and ipc kernel buffers fill soon too.
    let payload = Bytes::from(vec![7u8; 16 * 1024]);
    on_every_runtime(|rt: Runtime| {
        let payload = payload.clone();
        async move {
            for t in Transport::ALL {
                let ctx = Context::new();
                let (mut push, pull) = push_and_sync_pull(&ctx, t, 4);
                // Wait for the peer: until then nothing can be taken.
                poll_fn(|cx| ready(&mut push, cx)).await.unwrap();
                let mut accepted = 0u32;
                while poll_once(poll_fn(|cx| ready(&mut push, cx)))
                    .await
                    .is_some()
                {
                    let item = [Bytes::from_static(b"job"), payload.clone()];
                    Pin::new(&mut push).start_send(item).unwrap();
                    accepted += 1;
                    assert!(accepted < 100_000, "{rt:?} {t:?}: HWM never pushed back");
                }
                // Refused room, the sink keeps one more message until
                // flushed. (Over tcp and ipc the I/O thread may make room
                // meanwhile, writing to the kernel.)
                let kept = [Bytes::from_static(b"job"), Bytes::from_static(b"kept")];
                Pin::new(&mut push).start_send(kept).unwrap();
                if matches!(t, Transport::Inproc) {
                    assert!(
                        poll_once(poll_fn(|cx| flush(&mut push, cx)))
                            .await
                            .is_none(),
                        "{rt:?}: the kept message waits for room"
                    );
                }
                let reader = read_until_end(pull);
                poll_fn(|cx| flush(&mut push, cx)).await.unwrap();
                poll_fn(|cx| ready(&mut push, cx)).await.unwrap();
                push.send(["end"]).await.unwrap();
                let got = reader.join().unwrap();
                assert_eq!(got.len() as u32, accepted + 1, "{rt:?} {t:?}: nothing lost");
                assert_eq!(got.last().unwrap()[1], b"kept");
            }
        }
    });
}
