//! The roles for the `zeromq` crate (zmq.rs 0.7) on a tokio runtime.
//!
//! zmq.rs has no HWM or socket-buffer options (it sets 4 MiB TCP buffers
//! itself, and leaves ipc buffers at the kernel's default), so `--hwm` and
//! `--buf` don't apply to it. Payloads go out as `Bytes` clones; it has no
//! inproc transport.

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

use crate::{Error, RECV_TIMEOUT, Role, Runtime, Spec, Transport, remove_ipc_file};

/// A runtime of the run's flavour.
pub(crate) fn runtime(flavour: Runtime) -> Result<tokio::runtime::Runtime, Error> {
    let mut builder = match flavour {
        Runtime::Current => tokio::runtime::Builder::new_current_thread(),
        Runtime::Multi => tokio::runtime::Builder::new_multi_thread(),
    };
    Ok(builder.enable_all().build()?)
}

/// Calls `hold` on another thread while `rt` keeps driving the sockets'
/// tasks (a current-thread runtime runs them only inside `block_on`).
pub(crate) fn hold_while_running(rt: &tokio::runtime::Runtime, hold: &mut (dyn FnMut() + Send)) {
    std::thread::scope(|scope| {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        scope.spawn(move || {
            hold();
            let _ = tx.send(());
        });
        rt.block_on(async {
            let _ = rx.await;
        });
    });
}

/// Awaits `f`, giving up after `limit`.
pub(crate) async fn within<T>(
    limit: Duration,
    what: &str,
    f: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or_else(|_| Err(Error::timeout(what)))
}

/// Runs the timed loop `f` within [`loop_limit`] of `count` messages,
/// counting its context switches; returns how long it took.
pub(crate) async fn timed_loop(
    count: u64,
    what: &str,
    f: impl Future<Output = Result<(), Error>>,
) -> Result<Option<Duration>, Error> {
    crate::switches::begin();
    let start = Instant::now();
    within(loop_limit(count), what, f).await?;
    let elapsed = start.elapsed();
    crate::switches::end();
    Ok(Some(elapsed))
}

/// How long a whole loop may take: [`RECV_TIMEOUT`] per ten thousand
/// messages, and at least that. (One timer per loop rather than per
/// message, so the timeout costs the library nothing measurable.)
pub(crate) fn loop_limit(count: u64) -> Duration {
    RECV_TIMEOUT.saturating_mul(u32::try_from(count / 10_000 + 1).unwrap_or(u32::MAX))
}

fn check(msg: &ZmqMessage, size: usize) -> Result<(), Error> {
    let len = msg.get(0).map_or(0, Bytes::len);
    if msg.len() == 1 && len == size {
        Ok(())
    } else {
        Err(Error::wrong_size(size, len))
    }
}

/// The payload to send next: `shared` itself (a reference count), or with
/// `--fresh-payload` a copy of it in a new buffer, as an application
/// producing new data would hand over.
pub(crate) fn fresh_or_shared(spec: &Spec, shared: &Bytes) -> Bytes {
    if spec.fresh {
        Bytes::copy_from_slice(shared)
    } else {
        shared.clone()
    }
}

/// The endpoint to bind: the given one, or a fresh one (tcp port 0).
pub(crate) fn bind_endpoint(spec: &Spec) -> String {
    match (&spec.endpoint, spec.transport) {
        (Some(ep), _) => ep.clone(),
        (None, Transport::Tcp) => "tcp://127.0.0.1:0".into(),
        (None, t) => crate::bind_endpoint(t),
    }
}

pub(crate) fn connect_endpoint(spec: &Spec) -> Result<&str, Error> {
    spec.endpoint
        .as_deref()
        .ok_or_else(|| Error::new("no endpoint to connect to"))
}

/// Runs `spec`'s role (see [`crate::run`]); the time, if this role owns
/// the clock.
pub fn run(
    spec: &Spec,
    on_bound: &mut dyn FnMut(&str),
    hold: &mut (dyn FnMut() + Send),
) -> Result<Option<Duration>, Error> {
    let rt = runtime(spec.runtime)?;
    let payload = Bytes::from(vec![7u8; spec.size]);
    match spec.role {
        Role::Pull => {
            let mut s = zeromq::PullSocket::new();
            let ep = rt.block_on(s.bind(&bind_endpoint(spec)))?.to_string();
            on_bound(&ep);
            let out = rt.block_on(async {
                let first = within(RECV_TIMEOUT, "the first message", async {
                    Ok(s.recv().await?)
                })
                .await?;
                check(&first, spec.size)?;
                timed_loop(spec.count, "the messages", async {
                    for _ in 0..spec.count {
                        check(&s.recv().await?, spec.size)?;
                    }
                    Ok(())
                })
                .await
            });
            close(&rt, s);
            remove_ipc_file(&ep);
            out
        }
        Role::Push => {
            let mut s = zeromq::PushSocket::new();
            rt.block_on(async {
                s.connect(connect_endpoint(spec)?).await?;
                crate::switches::begin();
                within(loop_limit(spec.count), "room to send", async {
                    for _ in 0..=spec.count {
                        s.send(ZmqMessage::from(fresh_or_shared(spec, &payload)))
                            .await?;
                    }
                    Ok(())
                })
                .await
            })?;
            crate::switches::end();
            hold_while_running(&rt, hold);
            close(&rt, s);
            Ok(None)
        }
        Role::Rep => {
            let mut s = zeromq::RepSocket::new();
            let ep = rt.block_on(s.bind(&bind_endpoint(spec)))?.to_string();
            on_bound(&ep);
            let out = rt.block_on(within(loop_limit(spec.count), "a request", async {
                for i in 0..=spec.count {
                    // The warm-up round trip is not counted.
                    if i == 1 {
                        crate::switches::begin();
                    }
                    check(&s.recv().await?, spec.size)?;
                    s.send(ZmqMessage::from(payload.clone())).await?;
                }
                crate::switches::end();
                Ok(())
            }));
            hold_while_running(&rt, hold);
            close(&rt, s);
            remove_ipc_file(&ep);
            out.map(|()| None)
        }
        Role::Req => {
            let mut s = zeromq::ReqSocket::new();
            let out = rt.block_on(async {
                s.connect(connect_endpoint(spec)?).await?;
                within(RECV_TIMEOUT, "the first reply", async {
                    s.send(ZmqMessage::from(payload.clone())).await?;
                    check(&s.recv().await?, spec.size)
                })
                .await?;
                timed_loop(spec.count, "a reply", async {
                    for _ in 0..spec.count {
                        s.send(ZmqMessage::from(payload.clone())).await?;
                        check(&s.recv().await?, spec.size)?;
                    }
                    Ok(())
                })
                .await
            });
            close(&rt, s);
            out
        }
        other => Err(Error::new(format!(
            "zeromq runs only in separate processes here, not {}",
            other.name()
        ))),
    }
}

/// Drops a socket inside the runtime (its shutdown talks to its tasks).
fn close<S>(rt: &tokio::runtime::Runtime, socket: S) {
    let _guard = rt.enter();
    drop(socket);
}
