//! Features `tokio` and `async-io`: the runtime's reactor watches an
//! `AsyncSocket`'s socket poll and the task reads its connections itself.
//! What must hold around that: the I/O thread takes the poll back when the
//! task stops waiting (nothing is lost or stuck), and a socket used sync
//! after async works; on both of tokio's flavours (tokio's reactor) and on
//! smol (async-io's).
#![cfg(any(feature = "tokio", feature = "async-io"))]

mod async_support;

use std::time::Duration;

use async_support::{Runtime, Transport, connected, frames, join, sleep};
use tiermq::{Context, PULL, PUSH, REP, REQ};

const NETWORKED: [Transport; 2] = [Transport::Tcp, Transport::Ipc];

/// The runtimes whose reactor watches the socket poll with the features
/// this test was built with.
fn watched_runtimes() -> Vec<Runtime> {
    let mut rts = Vec::new();
    if cfg!(feature = "tokio") {
        rts.extend([Runtime::TokioCurrentThread, Runtime::TokioMultiThread]);
    }
    if cfg!(feature = "async-io") {
        rts.push(Runtime::Smol);
    }
    rts
}

/// Round trips, then a pause longer than the socket poll's loan with
/// nobody waiting (the I/O thread takes it back), then more round trips.
#[test]
fn round_trips_go_on_after_the_poll_went_back() {
    for rt in watched_runtimes() {
        rt.run(async {
            for t in NETWORKED {
                let ctx = Context::new();
                let (mut rep, mut req) = connected(&ctx, REP, REQ, t, "reactor-rtt");
                let server = async {
                    for _ in 0..200 {
                        let msg = rep.recv().await.unwrap();
                        rep.send(frames(&msg)).await.unwrap();
                    }
                };
                let client = async {
                    for round in 0..2u32 {
                        for i in 0..100u32 {
                            let body = (round * 1000 + i).to_be_bytes();
                            req.send([&body[..]]).await.unwrap();
                            let reply = req.recv().await.unwrap();
                            assert_eq!(frames(&reply), [body.to_vec()], "{rt:?} {t:?}");
                        }
                        // Long past the 2 ms loan, with no task waiting.
                        sleep(Duration::from_millis(20)).await;
                    }
                };
                join(server, client).await;
            }
        });
    }
}

/// A task that blocks its runtime's thread (compute) while messages arrive
/// gets them all afterwards: the I/O thread served the connection meanwhile.
#[test]
fn messages_arriving_while_the_task_computes_are_kept() {
    for rt in watched_runtimes() {
        rt.run(messages_while_computing());
    }
}

async fn messages_while_computing() {
    for t in NETWORKED {
        let ctx = Context::new();
        let (mut pull, push) = connected(&ctx, PULL, PUSH, t, "reactor-busy");
        let push = push.into_inner();
        // The watch is made and the poll lent by a first receive.
        push.send("first", 0).unwrap();
        assert_eq!(frames(&pull.recv().await.unwrap()), [b"first".to_vec()]);
        let sender = std::thread::spawn(move || {
            for i in 0..500u32 {
                push.send(&i.to_be_bytes()[..], 0).unwrap();
            }
            push
        });
        // The task's thread is busy: no reactor wakes it, it reads nothing.
        std::thread::sleep(Duration::from_millis(50));
        for i in 0..500u32 {
            let msg = pull.recv().await.unwrap();
            assert_eq!(frames(&msg), [i.to_be_bytes().to_vec()], "{t:?}");
        }
        drop(sender.join().unwrap());
    }
}

/// After async receives on a watched socket, the socket taken back out
/// receives synchronously (the poll goes back to plain use).
#[test]
fn a_socket_used_async_then_sync_still_receives() {
    for (rt, t) in watched_runtimes()
        .into_iter()
        .flat_map(|rt| NETWORKED.map(|t| (rt, t)))
    {
        let ctx = Context::new();
        let (mut pull, push) = connected(&ctx, PULL, PUSH, t, "reactor-sync");
        let push = push.into_inner();
        rt.run(async {
            for i in 0..20u32 {
                push.send(&i.to_be_bytes()[..], 0).unwrap();
                let msg = pull.recv().await.unwrap();
                assert_eq!(frames(&msg), [i.to_be_bytes().to_vec()]);
            }
        });
        let pull = pull.into_inner();
        pull.set_rcvtimeo(10_000).unwrap();
        for i in 20..40u32 {
            push.send(&i.to_be_bytes()[..], 0).unwrap();
            assert_eq!(pull.recv_bytes(0).unwrap(), i.to_be_bytes().to_vec());
        }
    }
}
