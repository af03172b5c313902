//! A short pipeline over tcp on smol: a PUSH with a primary and a backup
//! tier feeds a PULL task, through tiermq's async API (the `Sink` to send,
//! the `Stream` to receive). Exits 0 once every message came.
//!
//! `cargo run -p tiermq --example async_smol`; with `--features async-io`,
//! smol's reactor watches the sockets and each task reads its own
//! connections.

use std::future::poll_fn;
use std::pin::Pin;

use futures_core::Stream;
use futures_sink::Sink;
use tiermq::{Context, PULL, PUSH};

fn main() -> tiermq::Result<()> {
    smol::block_on(async {
        let ctx = Context::new();
        let mut worker = ctx.socket(PULL)?.into_async();
        worker.bind("tcp://127.0.0.1:*")?;
        let endpoint = worker.get_last_endpoint()?.unwrap_or_default();

        let push = ctx.socket(PUSH)?;
        push.set_sndprio(1)?; // the worker is the preferred tier
        push.connect(&endpoint)?;
        let mut push = push.into_async();

        let working = smol::spawn(async move {
            let mut done = 0;
            // The Stream of whole messages.
            while let Some(msg) = poll_fn(|cx| Pin::new(&mut worker).poll_next(cx)).await {
                let msg = msg?;
                println!(
                    "job {} ({} frames)",
                    msg[0].as_str().unwrap_or("?"),
                    msg.len()
                );
                done += 1;
                if done == 5 {
                    break;
                }
            }
            Ok::<_, tiermq::Error>(done)
        });

        // The Sink: poll_ready waits while no peer can take a message.
        for i in 0..5 {
            poll_fn(|cx| Sink::<[String; 2]>::poll_ready(Pin::new(&mut push), cx)).await?;
            Pin::new(&mut push).start_send([i.to_string(), "payload".to_owned()])?;
        }
        poll_fn(|cx| Sink::<[String; 2]>::poll_flush(Pin::new(&mut push), cx)).await?;
        assert_eq!(working.await?, 5);
        Ok(())
    })
}
