//! The roles for tiermq's async API (`AsyncSocket`) on a tokio runtime of
//! the run's flavour, the same flavours zmq.rs and omq run on, so that the
//! async rows compare like with like.
//!
//! The sockets get the run's HWMs and kernel buffers, as the sync tiermq
//! roles do; payloads go out as `Bytes` clones (a reference count).

use std::time::Duration;

use bytes::Bytes;
use tiermq::{AsyncSocket, Context, Message, SocketType};

use crate::zeromq_peer::{hold_while_running, loop_limit, runtime, timed_loop, within};
use crate::zmq_like::set_sizes;
use crate::{Error, RECV_TIMEOUT, Role, Spec, bind_endpoint, remove_ipc_file};

/// LINGER for every socket, in milliseconds (as the sync roles).
const LINGER_MS: i32 = 1000;

fn socket(ctx: &Context, kind: SocketType, spec: &Spec) -> Result<AsyncSocket, Error> {
    let s = ctx.socket(kind)?;
    set_sizes!(s, spec);
    s.set_linger(LINGER_MS)?;
    Ok(s.into_async())
}

fn check(msg: &[Message], size: usize) -> Result<(), Error> {
    match msg {
        [frame] if frame.len() == size => Ok(()),
        [frame, ..] => Err(Error::wrong_size(size, frame.len())),
        [] => Err(Error::wrong_size(size, 0)),
    }
}

fn connect_endpoint(spec: &Spec) -> Result<&str, Error> {
    spec.endpoint
        .as_deref()
        .ok_or_else(|| Error::new("no endpoint to connect to"))
}

fn bind(s: &AsyncSocket, spec: &Spec) -> Result<String, Error> {
    let ep = spec
        .endpoint
        .clone()
        .unwrap_or_else(|| bind_endpoint(spec.transport));
    s.bind(&ep)?;
    s.get_last_endpoint()?
        .map_err(|_| Error::new("last endpoint is not UTF-8"))
}

/// Runs `spec`'s role (see [`crate::run`]); the time, if this role owns
/// the clock.
pub fn run(
    spec: &Spec,
    on_bound: &mut dyn FnMut(&str),
    hold: &mut (dyn FnMut() + Send),
) -> Result<Option<Duration>, Error> {
    let rt = runtime(spec.runtime)?;
    let ctx = Context::new();
    let payload = Bytes::from(vec![7u8; spec.size]);
    match spec.role {
        Role::Pull => {
            let mut s = socket(&ctx, tiermq::PULL, spec)?;
            let ep = bind(&s, spec)?;
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
            drop(s);
            remove_ipc_file(&ep);
            out
        }
        Role::Push => {
            let mut s = socket(&ctx, tiermq::PUSH, spec)?;
            s.connect(connect_endpoint(spec)?)?;
            rt.block_on(async {
                crate::switches::begin();
                within(loop_limit(spec.count), "room to send", async {
                    for _ in 0..=spec.count {
                        s.send([payload.clone()]).await?;
                    }
                    Ok(())
                })
                .await
            })?;
            crate::switches::end();
            hold_while_running(&rt, hold);
            Ok(None)
        }
        Role::Rep => {
            let mut s = socket(&ctx, tiermq::REP, spec)?;
            let ep = bind(&s, spec)?;
            on_bound(&ep);
            let out = rt.block_on(within(loop_limit(spec.count), "a request", async {
                for i in 0..=spec.count {
                    // The warm-up round trip is not counted.
                    if i == 1 {
                        crate::switches::begin();
                    }
                    check(&s.recv().await?, spec.size)?;
                    s.send([payload.clone()]).await?;
                }
                crate::switches::end();
                Ok(())
            }));
            hold_while_running(&rt, hold);
            drop(s);
            remove_ipc_file(&ep);
            out.map(|()| None)
        }
        Role::Req => {
            let mut s = socket(&ctx, tiermq::REQ, spec)?;
            s.connect(connect_endpoint(spec)?)?;
            rt.block_on(async {
                within(RECV_TIMEOUT, "the first reply", async {
                    s.send([payload.clone()]).await?;
                    check(&s.recv().await?, spec.size)
                })
                .await?;
                timed_loop(spec.count, "a reply", async {
                    for _ in 0..spec.count {
                        s.send([payload.clone()]).await?;
                        check(&s.recv().await?, spec.size)?;
                    }
                    Ok(())
                })
                .await
            })
        }
        other => Err(Error::new(format!(
            "tiermq-async runs push, pull, req and rep in separate processes, not {}",
            other.name()
        ))),
    }
}
