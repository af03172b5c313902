//! Every socket type through the async API (`AsyncSocket`: `send().await`,
//! `recv().await`, the `Stream` and the `Sink`), over tcp, ipc and inproc,
//! under tokio (current-thread and multi-thread) and smol.

mod async_support;

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use async_support::{Runtime, Transport, connected, frames, join, on_every_runtime, timeout};
use futures_core::Stream;
use futures_sink::Sink;
use tiermq::{Context, DEALER, PAIR, PUB, PULL, PUSH, REP, REQ, ROUTER, SUB, XPUB, XSUB};

/// Runs `check` for every transport under every runtime.
fn everywhere<F>(check: F)
where
    F: AsyncFn(Runtime, Transport),
{
    let check = &check;
    on_every_runtime(|rt| async move {
        for t in Transport::ALL {
            check(rt, t).await;
        }
    });
}

#[test]
fn push_pull_keeps_multipart_messages_whole_and_in_order() {
    everywhere(async |_, t| {
        let ctx = Context::new();
        let (mut pull, mut push) = connected(&ctx, PULL, PUSH, t, "push-pull");
        for i in 0..50u32 {
            push.send([&i.to_be_bytes()[..], b"tail"]).await.unwrap();
        }
        for i in 0..50u32 {
            let msg = pull.recv().await.unwrap();
            assert_eq!(
                frames(&msg),
                [i.to_be_bytes().to_vec(), b"tail".to_vec()],
                "{t:?}"
            );
            assert!(msg[0].get_more() && !msg[1].get_more());
        }
    });
}

#[test]
fn req_rep_round_trips() {
    everywhere(async |_, t| {
        let ctx = Context::new();
        let (mut rep, mut req) = connected(&ctx, REP, REQ, t, "req-rep");
        for i in 0..5 {
            let ask = format!("question {i}");
            req.send([ask.as_str()]).await.unwrap();
            assert_eq!(frames(&rep.recv().await.unwrap()), [ask.as_bytes()]);
            rep.send(["answer", ask.as_str()]).await.unwrap();
            assert_eq!(
                frames(&req.recv().await.unwrap()),
                [b"answer".to_vec(), ask.into_bytes()],
                "{t:?}"
            );
        }
        // Out of turn: the state machine refuses, at once.
        assert_eq!(req.recv().await.unwrap_err(), tiermq::Error::EFSM);
        assert_eq!(rep.send(["x"]).await.unwrap_err(), tiermq::Error::EFSM);
    });
}

#[test]
fn dealer_router_route_by_identity() {
    everywhere(async |_, t| {
        let ctx = Context::new();
        let router = ctx.socket(ROUTER).unwrap().into_async();
        router.bind(&t.endpoint("router")).unwrap();
        let at = router.get_last_endpoint().unwrap().unwrap();
        let mut router = router;
        let dealer = ctx.socket(DEALER).unwrap();
        dealer.set_identity(b"d1").unwrap();
        dealer.connect(&at).unwrap();
        let mut dealer = dealer.into_async();

        dealer.send(["a", "b"]).await.unwrap();
        let got = router.recv().await.unwrap();
        assert_eq!(frames(&got), [&b"d1"[..], b"a", b"b"], "{t:?}");
        router.send(["d1", "reply"]).await.unwrap();
        assert_eq!(frames(&dealer.recv().await.unwrap()), [b"reply"]);
    });
}

#[test]
fn pub_sub_delivers_matching_topics() {
    everywhere(async |_, t| {
        let ctx = Context::new();
        let (mut publisher, mut sub) = connected(&ctx, PUB, SUB, t, "pub-sub");
        sub.set_subscribe(b"weather").unwrap();
        // The subscription reaches the PUB some time after the connect:
        // publish until one arrives.
        loop {
            publisher.send(["weather", "probe"]).await.unwrap();
            if timeout(Duration::from_millis(20), sub.recv())
                .await
                .is_some()
            {
                break;
            }
        }
        publisher.send(["sports", "not for us"]).await.unwrap();
        publisher.send(["weather", "sunny"]).await.unwrap();
        // Probes still in flight come first.
        loop {
            let msg = sub.recv().await.unwrap();
            assert_eq!(msg[0].as_str(), Some("weather"), "{t:?}");
            if msg[1].as_str() == Some("sunny") {
                break;
            }
            assert_eq!(msg[1].as_str(), Some("probe"));
        }
    });
}

#[test]
fn xpub_xsub_pass_subscriptions_and_messages() {
    everywhere(async |_, t| {
        let ctx = Context::new();
        let (mut xpub, mut xsub) = connected(&ctx, XPUB, XSUB, t, "xpub-xsub");
        xsub.send([&b"\x01news"[..]]).await.unwrap();
        assert_eq!(frames(&xpub.recv().await.unwrap()), [b"\x01news"], "{t:?}");
        xpub.send(["news", "extra"]).await.unwrap();
        xpub.send(["other", "dropped"]).await.unwrap();
        xpub.send(["news", "second"]).await.unwrap();
        assert_eq!(
            frames(&xsub.recv().await.unwrap()),
            [&b"news"[..], b"extra"]
        );
        assert_eq!(
            frames(&xsub.recv().await.unwrap()),
            [&b"news"[..], b"second"]
        );
    });
}

#[test]
fn pair_talks_both_ways() {
    everywhere(async |_, t| {
        let ctx = Context::new();
        let (mut a, mut b) = connected(&ctx, PAIR, PAIR, t, "pair");
        b.send(["ping", "1"]).await.unwrap();
        assert_eq!(frames(&a.recv().await.unwrap()), [&b"ping"[..], b"1"]);
        a.send(["pong"]).await.unwrap();
        assert_eq!(frames(&b.recv().await.unwrap()), [b"pong"], "{t:?}");
    });
}

/// The Sink feeds the Stream: every message, whole and in order, with
/// `poll_ready` before each `start_send` and a flush at the end.
#[test]
fn sink_and_stream_move_a_batch() {
    everywhere(async |_, t| {
        let ctx = Context::new();
        let (mut pull, mut push) = connected(&ctx, PULL, PUSH, t, "sink-stream");
        push.set_sndhwm(4).unwrap();
        let n = 200u32;
        let sending = async move {
            for i in 0..n {
                poll_fn(|cx| Sink::<[Vec<u8>; 2]>::poll_ready(Pin::new(&mut push), cx))
                    .await
                    .unwrap();
                Pin::new(&mut push)
                    .start_send([i.to_be_bytes().to_vec(), b"x".to_vec()])
                    .unwrap();
            }
            poll_fn(|cx| Sink::<[Vec<u8>; 2]>::poll_flush(Pin::new(&mut push), cx))
                .await
                .unwrap();
            push
        };
        let receiving = async {
            for i in 0..n {
                let msg = poll_fn(|cx| Pin::new(&mut pull).poll_next(cx))
                    .await
                    .expect("the stream goes on")
                    .unwrap();
                assert_eq!(frames(&msg), [i.to_be_bytes().to_vec(), b"x".to_vec()]);
            }
        };
        // Both halves in one task: whichever can go on, goes on.
        let (push, ()) = join(sending, receiving).await;
        drop(push);
    });
}

/// A future of an `AsyncSocket` is `Send`: it can be spawned on a
/// multi-threaded runtime, and the socket moved between tasks.
#[test]
fn futures_are_send_and_spawnable() {
    fn is_send<T: Send>(_: &T) {}
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ctx = Context::new();
        let (mut pull, mut push) = connected(&ctx, PULL, PUSH, Transport::Tcp, "spawn");
        is_send(&pull.recv());
        is_send(&push.send(["x"]));
        let receiver = tokio::spawn(async move { frames(&pull.recv().await.unwrap()) });
        let sender = tokio::spawn(async move { push.send(["spawned"]).await.unwrap() });
        sender.await.unwrap();
        let got = tokio::time::timeout(async_support::BODY_BOUND, receiver)
            .await
            .expect("received in time")
            .unwrap();
        assert_eq!(got, [b"spawned"]);
    });
}

/// A socket type that cannot do something says so at once; a receive
/// waiting when the context is destroyed ends with `ETERM`, and the
/// stream ends.
#[test]
fn errors_come_at_once_and_a_destroyed_context_ends_the_wait() {
    on_every_runtime(|_| async {
        let mut ctx = Context::new();
        let mut push = ctx.socket(PUSH).unwrap().into_async();
        let mut pull = ctx.socket(PULL).unwrap().into_async();
        pull.bind("inproc://errors").unwrap();
        push.connect("inproc://errors").unwrap();
        assert_eq!(push.recv().await.unwrap_err(), tiermq::Error::ENOTSUP);
        assert_eq!(pull.send(["x"]).await.unwrap_err(), tiermq::Error::ENOTSUP);
        assert_eq!(
            poll_fn(|cx| Sink::<[&str; 1]>::poll_ready(Pin::new(&mut pull), cx)).await,
            Err(tiermq::Error::ENOTSUP)
        );

        let mut destroyer = ctx.clone();
        let destroying = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            destroyer.destroy().unwrap();
        });
        assert_eq!(pull.recv().await.unwrap_err(), tiermq::Error::ETERM);
        destroying.join().unwrap();
        assert!(
            poll_fn(|cx| Pin::new(&mut pull).poll_next(cx))
                .await
                .is_none(),
            "the stream ended"
        );
        ctx.destroy().unwrap();
    });
}
