//! The roles for the `omq-tokio` crate on a tokio runtime of the run's
//! flavour (`Socket::new` puts the socket's driver on it).
//!
//! omq gets the run's HWMs and, when `--buf` is given, its socket buffers
//! (`Options::send_buffer_size` / `recv_buffer_size`); note that omq sets
//! 1 MiB buffers on ipc streams itself. Payloads go out as `Bytes` clones.
//! With `--curve` the binding socket is omq's CURVE server (its `curve`
//! feature, enabled for this crate only).

use std::time::Duration;

use bytes::Bytes;
use omq_tokio::{
    CurveKeypair, CurvePublicKey, CurveSecretKey, Message, Options, Socket, SocketType,
};

use crate::zeromq_peer::{
    bind_endpoint, connect_endpoint, fresh_or_shared, hold_while_running, loop_limit, runtime,
    timed_loop, within,
};
use crate::{Error, RECV_TIMEOUT, Role, Spec, remove_ipc_file};

pub(crate) fn options(spec: &Spec) -> Options {
    let mut o = Options::default()
        .send_hwm(spec.hwm)
        .recv_hwm(spec.hwm)
        .linger(Duration::from_secs(1));
    if spec.buf > 0 {
        o = o.send_buffer_size(spec.buf).recv_buffer_size(spec.buf);
    }
    o
}

/// [`options`] plus CURVE when the run asks for it: the binding role
/// (`server`) is the CURVE server.
fn secured(spec: &Spec, server: bool) -> Options {
    let o = options(spec);
    let Some(keys) = &spec.curve else {
        return o;
    };
    if server {
        o.curve_server(CurveKeypair {
            public: CurvePublicKey::from_bytes(keys.server_public),
            secret: CurveSecretKey::from_bytes(keys.server_secret),
        })
    } else {
        o.curve_client(
            CurveKeypair {
                public: CurvePublicKey::from_bytes(keys.client_public),
                secret: CurveSecretKey::from_bytes(keys.client_secret),
            },
            CurvePublicKey::from_bytes(keys.server_public),
        )
    }
}

fn check(msg: &Message, size: usize) -> Result<(), Error> {
    if msg.len() == 1 && msg.byte_len() == size {
        Ok(())
    } else {
        Err(Error::wrong_size(size, msg.byte_len()))
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
    let payload = Bytes::from(vec![7u8; spec.size]);
    let socket = |kind: SocketType| {
        let _guard = rt.enter();
        let server = matches!(kind, SocketType::Pull | SocketType::Rep);
        Socket::try_new(kind, secured(spec, server))
    };
    match spec.role {
        Role::Pull => {
            let s = socket(SocketType::Pull)?;
            let ep = rt
                .block_on(s.bind(bind_endpoint(spec).as_str()))?
                .to_string();
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
            let s = socket(SocketType::Push)?;
            rt.block_on(async {
                s.connect(connect_endpoint(spec)?).await?;
                crate::switches::begin();
                within(loop_limit(spec.count), "room to send", async {
                    for _ in 0..=spec.count {
                        s.send(Message::from(fresh_or_shared(spec, &payload)))
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
            let s = socket(SocketType::Rep)?;
            let ep = rt
                .block_on(s.bind(bind_endpoint(spec).as_str()))?
                .to_string();
            on_bound(&ep);
            let out = rt.block_on(within(loop_limit(spec.count), "a request", async {
                for i in 0..=spec.count {
                    // The warm-up round trip is not counted.
                    if i == 1 {
                        crate::switches::begin();
                    }
                    check(&s.recv().await?, spec.size)?;
                    s.send(Message::from(payload.clone())).await?;
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
            let s = socket(SocketType::Req)?;
            let out = rt.block_on(async {
                s.connect(connect_endpoint(spec)?).await?;
                within(RECV_TIMEOUT, "the first reply", async {
                    s.send(Message::from(payload.clone())).await?;
                    check(&s.recv().await?, spec.size)
                })
                .await?;
                timed_loop(spec.count, "a reply", async {
                    for _ in 0..spec.count {
                        s.send(Message::from(payload.clone())).await?;
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
            "omq runs only in separate processes here, not {}",
            other.name()
        ))),
    }
}

/// Closes a socket on its runtime, lingering up to a second for anything
/// still queued (a REP's last reply).
fn close(rt: &tokio::runtime::Runtime, socket: Socket) {
    let _ = rt.block_on(socket.close());
}
