//! Helpers of the async tests: running one test body under each runtime
//! (tokio's two flavours and smol) with a generous bound, and small
//! runtime-agnostic futures (a thread-backed sleep, a timeout, a single
//! poll) so that the same body runs everywhere.
#![allow(dead_code, unreachable_pub)]

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use tiermq::{AsyncSocket, Context, Message, SocketType};

/// Bound on a whole test body under one runtime: a bug fails, not hangs.
pub const BODY_BOUND: Duration = Duration::from_secs(30);

/// The runtimes every async test runs under.
#[derive(Clone, Copy, Debug)]
pub enum Runtime {
    TokioCurrentThread,
    TokioMultiThread,
    Smol,
}

impl Runtime {
    pub const ALL: [Runtime; 3] = [
        Runtime::TokioCurrentThread,
        Runtime::TokioMultiThread,
        Runtime::Smol,
    ];

    /// Runs `body` to completion on this runtime, failing the test if it
    /// takes longer than [`BODY_BOUND`].
    pub fn run<F: Future<Output = ()>>(self, body: F) {
        match self {
            Runtime::TokioCurrentThread | Runtime::TokioMultiThread => {
                let rt = match self {
                    Runtime::TokioCurrentThread => tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build(),
                    _ => tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build(),
                }
                .unwrap();
                rt.block_on(async {
                    tokio::time::timeout(BODY_BOUND, body)
                        .await
                        .unwrap_or_else(|_| panic!("{self:?}: the test body timed out"))
                });
            }
            Runtime::Smol => smol::block_on(async {
                let bounded = smol::future::or(
                    async {
                        body.await;
                        true
                    },
                    async {
                        smol::Timer::after(BODY_BOUND).await;
                        false
                    },
                );
                assert!(bounded.await, "{self:?}: the test body timed out");
            }),
        }
    }
}

/// Runs the body made by `make` under every runtime in turn.
pub fn on_every_runtime<F, Fut>(make: F)
where
    F: Fn(Runtime) -> Fut,
    Fut: Future<Output = ()>,
{
    for rt in Runtime::ALL {
        rt.run(make(rt));
    }
}

/// Completes after `d`, woken by a thread of its own (no runtime timer).
pub fn sleep(d: Duration) -> impl Future<Output = ()> {
    let state: Arc<Mutex<(bool, Option<Waker>)>> = Arc::default();
    let timer = Arc::clone(&state);
    std::thread::spawn(move || {
        std::thread::sleep(d);
        let mut s = timer.lock().unwrap();
        s.0 = true;
        if let Some(w) = s.1.take() {
            w.wake();
        }
    });
    poll_fn(move |cx| {
        let mut s = state.lock().unwrap();
        if s.0 {
            Poll::Ready(())
        } else {
            s.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    })
}

/// `f`'s output, or `None` if `d` passes first (`f` is then dropped).
pub async fn timeout<F: Future>(d: Duration, f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    let mut s = pin!(sleep(d));
    poll_fn(|cx| {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if s.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// Polls `f` once: its output if it is ready at once, else `None` (and
/// `f` is dropped while pending).
pub async fn poll_once<F: Future>(f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    poll_fn(|cx| match f.as_mut().poll(cx) {
        Poll::Ready(v) => Poll::Ready(Some(v)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

/// Lets the executor run other tasks once.
pub async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// The frames of a message, as byte vectors.
pub fn frames(msg: &[Message]) -> Vec<Vec<u8>> {
    msg.iter().map(|f| f.to_vec()).collect()
}

/// The three transports, with endpoints to bind that no other test uses.
#[derive(Clone, Copy, Debug)]
pub enum Transport {
    Tcp,
    Ipc,
    Inproc,
}

impl Transport {
    pub const ALL: [Transport; 3] = [Transport::Tcp, Transport::Ipc, Transport::Inproc];

    /// An endpoint to bind (read the bound one with `get_last_endpoint`).
    pub fn endpoint(self, name: &str) -> String {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        match self {
            Transport::Tcp => "tcp://127.0.0.1:*".to_owned(),
            Transport::Ipc => {
                let p = std::env::temp_dir().join(format!("tiermq-async-{pid}-{name}-{n}.ipc"));
                format!("ipc://{}", p.display())
            }
            Transport::Inproc => format!("inproc://async-{name}-{n}"),
        }
    }
}

/// `a` bound on a fresh endpoint of `transport`, `b` connected to it.
pub fn connected(
    ctx: &Context,
    a: SocketType,
    b: SocketType,
    transport: Transport,
    name: &str,
) -> (AsyncSocket, AsyncSocket) {
    let bound = ctx.socket(a).unwrap().into_async();
    bound.bind(&transport.endpoint(name)).unwrap();
    let at = bound.get_last_endpoint().unwrap().unwrap();
    let conn = ctx.socket(b).unwrap().into_async();
    conn.connect(&at).unwrap();
    (bound, conn)
}

/// Runs two futures to completion in the calling task.
pub async fn join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none()
            && let std::task::Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let std::task::Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready((ra.take().unwrap(), rb.take().unwrap()))
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}
