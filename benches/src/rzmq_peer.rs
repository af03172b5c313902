//! The roles for the `rzmq` crate (0.5.28) on a tokio runtime of the run's
//! flavour, in two variants:
//!
//! - `rzmq`: its sessions on tokio's sockets;
//! - `rzmq-uring`: its io_uring backend, initialised with
//!   `initialize_uring_backend` (default configuration: one `UringWorker`
//!   thread on this 2-CPU machine) and `IO_URING_SESSION_ENABLED` on every
//!   socket, so each connection's reads and writes go through that worker's
//!   ring (tcp and ipc alike).
//!
//! The crate is built with its `io-uring` feature, so `Context::new`
//! starts the backend's worker thread in the `rzmq` variant too (it does
//! so when nobody has); that thread then only sleeps, as no session uses
//! it. On a kernel without io_uring both variants fail at `Context::new`.
//!
//! rzmq gets the run's HWMs and, when `--buf` is given, its socket buffers
//! (SNDBUF / RCVBUF apply to tcp and ipc). Payloads go out as `Bytes`
//! (`Msg::from_bytes`, a reference count). No inproc and no CURVE here
//! (neither feature is built).

use std::time::Duration;

use bytes::Bytes;
use rzmq::socket::options::{
    IO_URING_SESSION_ENABLED, LAST_ENDPOINT, LINGER, RCVBUF, RCVHWM, SNDBUF, SNDHWM,
};
use rzmq::uring::{UringConfig, initialize_uring_backend};
use rzmq::{Context, Msg, Socket, SocketType};

use crate::zeromq_peer::{
    bind_endpoint, connect_endpoint, fresh_or_shared, hold_while_running, loop_limit, runtime,
    timed_loop, within,
};
use crate::{Error, Lib, RECV_TIMEOUT, Role, Spec, remove_ipc_file};

/// LINGER for every socket, in milliseconds: long enough for a REP's last
/// reply, short enough that closing never holds a run up.
const LINGER_MS: i32 = 1000;

/// How long closing the sockets and terminating the context may take.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// The context for `spec`'s variant: with `rzmq-uring`, after starting the
/// io_uring backend explicitly (so that a failure to start it is this
/// run's error). Call it once per process.
pub(crate) fn context(spec: &Spec) -> Result<Context, Error> {
    if spec.lib == Lib::RzmqUring {
        initialize_uring_backend(UringConfig::default())?;
    }
    Ok(Context::new()?)
}

/// A socket of `kind` with the run's HWMs, buffers and LINGER, and io_uring
/// sessions in the `rzmq-uring` variant. Must run on the runtime (the
/// socket's actor is a tokio task).
pub(crate) async fn socket(ctx: &Context, kind: SocketType, spec: &Spec) -> Result<Socket, Error> {
    let s = ctx.socket(kind)?;
    let hwm = i32::try_from(spec.hwm).unwrap_or(i32::MAX);
    s.set_option(SNDHWM, hwm).await?;
    s.set_option(RCVHWM, hwm).await?;
    s.set_option(LINGER, LINGER_MS).await?;
    if spec.buf > 0 {
        let buf = i32::try_from(spec.buf).unwrap_or(i32::MAX);
        s.set_option(SNDBUF, buf).await?;
        s.set_option(RCVBUF, buf).await?;
    }
    if spec.lib == Lib::RzmqUring {
        s.set_option(IO_URING_SESSION_ENABLED, true).await?;
    }
    Ok(s)
}

/// Binds `s` to the run's endpoint; the endpoint it listens on (rzmq
/// resolves tcp port 0 in `LAST_ENDPOINT`).
pub(crate) async fn bind(s: &Socket, spec: &Spec) -> Result<String, Error> {
    s.bind(&bind_endpoint(spec)).await?;
    String::from_utf8(s.get_option(LAST_ENDPOINT).await?)
        .map_err(|_| Error::new("rzmq: LAST_ENDPOINT is not UTF-8"))
}

/// Closes the sockets and terminates the context (each socket lingers up
/// to [`LINGER_MS`] for what it still holds), giving up after
/// [`CLOSE_LIMIT`].
pub(crate) fn close(rt: &tokio::runtime::Runtime, ctx: Context, sockets: &[Socket]) {
    rt.block_on(async {
        let _ = tokio::time::timeout(CLOSE_LIMIT, async {
            for s in sockets {
                let _ = s.close().await;
            }
            let _ = ctx.term().await;
        })
        .await;
    });
}

fn check(msg: &Msg, size: usize) -> Result<(), Error> {
    if msg.is_more() {
        Err(Error::new("rzmq: a multipart message"))
    } else if msg.size() == size {
        Ok(())
    } else {
        Err(Error::wrong_size(size, msg.size()))
    }
}

/// Runs `spec`'s role (see [`crate::run`]); the time, if this role owns
/// the clock.
pub fn run(
    spec: &Spec,
    on_bound: &mut dyn FnMut(&str),
    hold: &mut (dyn FnMut() + Send),
) -> Result<Option<Duration>, Error> {
    let rt = runtime(spec.runtime)?;
    let ctx = context(spec)?;
    let payload = Bytes::from(vec![7u8; spec.size]);
    match spec.role {
        Role::Pull => {
            let (s, ep) = rt.block_on(async {
                let s = socket(&ctx, SocketType::Pull, spec).await?;
                let ep = bind(&s, spec).await?;
                Ok::<_, Error>((s, ep))
            })?;
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
            close(&rt, ctx, &[s]);
            remove_ipc_file(&ep);
            out
        }
        Role::Push => {
            let s = rt.block_on(socket(&ctx, SocketType::Push, spec))?;
            rt.block_on(async {
                s.connect(connect_endpoint(spec)?).await?;
                crate::switches::begin();
                within(loop_limit(spec.count), "room to send", async {
                    for _ in 0..=spec.count {
                        s.send(Msg::from_bytes(fresh_or_shared(spec, &payload)))
                            .await?;
                    }
                    Ok(())
                })
                .await
            })?;
            crate::switches::end();
            hold_while_running(&rt, hold);
            close(&rt, ctx, &[s]);
            Ok(None)
        }
        Role::Rep => {
            let (s, ep) = rt.block_on(async {
                let s = socket(&ctx, SocketType::Rep, spec).await?;
                let ep = bind(&s, spec).await?;
                Ok::<_, Error>((s, ep))
            })?;
            on_bound(&ep);
            let out = rt.block_on(within(loop_limit(spec.count), "a request", async {
                for i in 0..=spec.count {
                    // The warm-up round trip is not counted.
                    if i == 1 {
                        crate::switches::begin();
                    }
                    check(&s.recv().await?, spec.size)?;
                    s.send(Msg::from_bytes(payload.clone())).await?;
                }
                crate::switches::end();
                Ok(())
            }));
            hold_while_running(&rt, hold);
            close(&rt, ctx, &[s]);
            remove_ipc_file(&ep);
            out.map(|()| None)
        }
        Role::Req => {
            let s = rt.block_on(socket(&ctx, SocketType::Req, spec))?;
            let out = rt.block_on(async {
                s.connect(connect_endpoint(spec)?).await?;
                within(RECV_TIMEOUT, "the first reply", async {
                    s.send(Msg::from_bytes(payload.clone())).await?;
                    check(&s.recv().await?, spec.size)
                })
                .await?;
                timed_loop(spec.count, "a reply", async {
                    for _ in 0..spec.count {
                        s.send(Msg::from_bytes(payload.clone())).await?;
                        check(&s.recv().await?, spec.size)?;
                    }
                    Ok(())
                })
                .await
            });
            close(&rt, ctx, &[s]);
            out
        }
        other => Err(Error::new(format!(
            "{} runs only in separate processes here, not {}",
            spec.lib.name(),
            other.name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use crate::zmq_like::tests::two_ends;

    /// Both variants run PUSH→PULL and REQ→REP over tcp and ipc on both
    /// runtimes, with each other and with tiermq (so the rzmq ends speak
    /// ZMTP to another implementation, not only to themselves).
    #[test]
    fn both_variants_run_the_four_roles() {
        for lib in ["rzmq", "rzmq-uring"] {
            for transport in ["tcp", "ipc"] {
                for runtime in ["current", "multi"] {
                    let what = format!("{lib} {transport} {runtime}");
                    let end = |role, lib, size, count| {
                        vec![role, lib, transport, size, count, "--runtime", runtime]
                    };
                    let (s, c) = two_ends(
                        &end("pull", lib, "256", "2000"),
                        &end("push", lib, "256", "2000"),
                    );
                    assert!(s.unwrap().secs.is_some(), "{what}");
                    c.unwrap();
                    let (s, c) =
                        two_ends(&end("rep", lib, "16", "50"), &end("req", lib, "16", "50"));
                    s.unwrap();
                    assert!(c.unwrap().secs.is_some(), "{what}");
                    let (s, c) = two_ends(
                        &end("pull", "tiermq", "4096", "500"),
                        &end("push", lib, "4096", "500"),
                    );
                    assert!(s.unwrap().secs.is_some(), "{what}");
                    c.unwrap();
                    let (s, c) = two_ends(
                        &end("rep", lib, "16", "50"),
                        &end("req", "tiermq", "16", "50"),
                    );
                    s.unwrap();
                    assert!(c.unwrap().secs.is_some(), "{what}");
                }
            }
        }
    }
}
