//! Tiers through the async API: failover to a lower tier and failback, seen
//! on the monitor's `Stream`; REQ resending to the backup while the
//! caller's `recv().await` waits; the REQ resend interval, a timer that
//! only the socket's own clock drives.

mod async_support;

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use async_support::{Transport, frames, on_every_runtime, sleep};
use futures_core::Stream;
use tiermq::{Context, Monitor, MonitorEventKind, PULL, PUSH, PeerState, REP, REQ, ROUTER, Socket};

/// The next event of the monitor's stream (`None`: it ended).
async fn next_event(monitor: &mut Monitor) -> Option<MonitorEventKind> {
    poll_fn(|cx| Pin::new(&mut *monitor).poll_next(cx))
        .await
        .map(|e| e.kind)
}

/// Waits (asynchronously) until `n` of `socket`'s peers are ready.
async fn until_ready(socket: &Socket, n: usize) {
    while socket
        .peers()
        .iter()
        .filter(|p| p.state == PeerState::Ready)
        .count()
        < n
    {
        sleep(Duration::from_millis(5)).await;
    }
}

/// Skips monitor events until one `matches`.
async fn until_event(monitor: &mut Monitor, matches: impl Fn(&MonitorEventKind) -> bool) {
    loop {
        let e = next_event(monitor).await.expect("the stream goes on");
        if matches(&e) {
            return;
        }
    }
}

fn pull_at(ctx: &Context, at: &str) -> Socket {
    let s = ctx.socket(PULL).unwrap();
    s.set_rcvtimeo(30_000).unwrap();
    s.connect(at).unwrap();
    s
}

#[test]
fn push_fails_over_to_the_backup_tier_and_back() {
    on_every_runtime(|rt| async move {
        for t in Transport::ALL {
            let ctx = Context::new();
            let push = ctx.socket(PUSH).unwrap();
            let mut monitor = push.event_monitor();
            push.set_sndprio(1).unwrap();
            push.bind(&t.endpoint("primary")).unwrap();
            let primary_at = push.get_last_endpoint().unwrap().unwrap();
            push.set_sndprio(2).unwrap();
            push.bind(&t.endpoint("backup")).unwrap();
            let backup_at = push.get_last_endpoint().unwrap().unwrap();
            let mut push = push.into_async();
            let primary = pull_at(&ctx, &primary_at);
            let backup = pull_at(&ctx, &backup_at);
            until_ready(&push, 2).await;

            for i in 0..5u8 {
                push.send([[i]]).await.unwrap();
            }
            for i in 0..5u8 {
                assert_eq!(primary.recv_bytes(0).unwrap(), [i], "{rt:?} {t:?}");
            }
            drop(primary);
            until_event(&mut monitor, |e| {
                *e == MonitorEventKind::Failover {
                    from: Some(1),
                    to: Some(2),
                }
            })
            .await;
            push.send(["to the backup"]).await.unwrap();
            assert_eq!(backup.recv_bytes(0).unwrap(), b"to the backup");

            let primary = pull_at(&ctx, &primary_at);
            until_event(&mut monitor, |e| {
                *e == MonitorEventKind::Failback {
                    from: Some(2),
                    to: Some(1),
                }
            })
            .await;
            push.send(["back home"]).await.unwrap();
            assert_eq!(primary.recv_bytes(0).unwrap(), b"back home", "{rt:?} {t:?}");
        }
    });
}

/// The REQ's `recv().await` waits while the primary dies holding the
/// request: it is resent to the backup, and the caller gets one reply.
#[test]
fn req_resends_to_the_backup_while_recv_awaits() {
    on_every_runtime(|rt| async move {
        for t in Transport::ALL {
            let ctx = Context::new();
            let req = ctx.socket(REQ).unwrap();
            req.set_sndprio(1).unwrap();
            req.bind(&t.endpoint("req-primary")).unwrap();
            let primary_at = req.get_last_endpoint().unwrap().unwrap();
            req.set_sndprio(2).unwrap();
            req.bind(&t.endpoint("req-backup")).unwrap();
            let backup_at = req.get_last_endpoint().unwrap().unwrap();
            let mut req = req.into_async();
            let rep = |at: &str| {
                let s = ctx.socket(REP).unwrap();
                s.set_rcvtimeo(30_000).unwrap();
                s.connect(at).unwrap();
                s
            };
            let primary = rep(&primary_at);
            let backup = rep(&backup_at);
            until_ready(&req, 2).await;

            req.send(["job"]).await.unwrap();
            let server = std::thread::spawn(move || {
                assert_eq!(primary.recv_bytes(0).unwrap(), b"job");
                drop(primary); // dies holding the request
                assert_eq!(backup.recv_bytes(0).unwrap(), b"job", "resent");
                backup.send("done", 0).unwrap();
                backup
            });
            assert_eq!(
                frames(&req.recv().await.unwrap()),
                [b"done"],
                "{rt:?} {t:?}"
            );
            drop(server.join().unwrap());
        }
    });
}

/// REQ_RESEND_IVL resends a request nobody answered; only the socket's
/// timer makes it happen, and the waiting `recv().await` still wakes for
/// it (tiermq wakes the task at the timer's instant, on any runtime).
#[test]
fn the_resend_interval_fires_under_a_waiting_recv() {
    on_every_runtime(|_| async {
        let ctx = Context::new();
        let server = ctx.socket(ROUTER).unwrap();
        server.set_rcvtimeo(30_000).unwrap();
        server.bind("tcp://127.0.0.1:*").unwrap();
        let at = server.get_last_endpoint().unwrap().unwrap();
        let req = ctx.socket(REQ).unwrap();
        req.set_req_correlate(true).unwrap();
        req.set_req_resend_ivl(50).unwrap();
        req.connect(&at).unwrap();
        let mut req = req.into_async();
        until_ready(&req, 1).await;

        req.send(["work"]).await.unwrap();
        let answering = std::thread::spawn(move || {
            let _ignored = server.recv_multipart(0).unwrap();
            // Only the resend brings this one.
            let second = server.recv_multipart(0).unwrap();
            server
                .send_multipart([&second[0][..], &second[1], b"", b"fresh"], 0)
                .unwrap();
            server
        });
        assert_eq!(frames(&req.recv().await.unwrap()), [b"fresh"]);
        drop(answering.join().unwrap());
    });
}

/// The monitor's stream ends once its socket is gone and every event was read.
#[test]
fn the_monitor_stream_ends_with_its_socket() {
    on_every_runtime(|_| async {
        let ctx = Context::new();
        let push = ctx.socket(PUSH).unwrap();
        let mut monitor = push.event_monitor();
        push.bind("tcp://127.0.0.1:*").unwrap();
        assert_eq!(
            next_event(&mut monitor).await,
            Some(MonitorEventKind::Listening)
        );
        drop(push);
        while next_event(&mut monitor).await.is_some() {}
    });
}
