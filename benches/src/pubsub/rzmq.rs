//! PUB and SUB for the `rzmq` crate: one task per SUB on the run's
//! runtime, one context per process, the run's HWMs and buffers (and the
//! io_uring variant) as in [`crate::rzmq_peer`]. rzmq's PUB drops for a
//! subscriber at its HWM, as libzmq's does; the credit window stays below.

use std::sync::Arc;

use rzmq::socket::options::SUBSCRIBE;
use rzmq::{Msg, SocketType};

use super::{ControlListener, Fanout, Tally, join_tallies, publish_bytes_on};
use crate::rzmq_peer::{bind, close, context, socket};
use crate::zeromq_peer::{connect_endpoint, hold_while_running, loop_limit, runtime, within};
use crate::{Error, RECV_TIMEOUT, Spec, remove_ipc_file};

/// Binds a PUB, announces it and publishes the run; then holds.
pub(crate) fn publish(
    spec: &Spec,
    control: ControlListener,
    on_bound: &mut dyn FnMut(&str),
    hold: &mut (dyn FnMut() + Send),
) -> Result<(), Error> {
    let rt = runtime(spec.runtime)?;
    let ctx = context(spec)?;
    let (s, ep) = rt.block_on(async {
        let s = socket(&ctx, SocketType::Pub, spec).await?;
        let ep = bind(&s, spec).await?;
        Ok::<_, Error>((s, ep))
    })?;
    on_bound(&ep);
    publish_bytes_on(&rt, spec, control, async |p| {
        Ok(s.send(Msg::from_bytes(p)).await?)
    })?;
    hold_while_running(&rt, hold);
    close(&rt, ctx, &[s]);
    remove_ipc_file(&ep);
    Ok(())
}

/// Connects `spec.subs` SUBs, subscribed to everything, one task each.
pub(crate) fn subscribe(spec: &Spec, fanout: &Arc<Fanout>) -> Result<Vec<Tally>, Error> {
    let rt = runtime(spec.runtime)?;
    let ctx = context(spec)?;
    let ep = connect_endpoint(spec)?.to_string();
    let mut sockets = Vec::with_capacity(spec.subs);
    let tallies = rt.block_on(async {
        let mut tasks = Vec::with_capacity(spec.subs);
        for i in 0..spec.subs {
            let s = socket(&ctx, SocketType::Sub, spec).await?;
            s.set_option(SUBSCRIBE, &b""[..]).await?;
            s.connect(&ep).await?;
            // Handles are clones of one socket: this one is closed below.
            sockets.push(s.clone());
            let fanout = Arc::clone(fanout);
            let (size, count) = (spec.size, spec.count);
            tasks.push(tokio::spawn(async move {
                let mut tally = Tally::new(i, &fanout);
                let limit = loop_limit(count).max(RECV_TIMEOUT);
                within(limit, "the messages", async {
                    while !tally.ended() {
                        let msg = s.recv().await?;
                        if msg.is_more() {
                            return Err(Error::new("a multipart message"));
                        }
                        tally.on_message(msg.data().unwrap_or(&[]), size, &fanout)?;
                    }
                    Ok(())
                })
                .await
                .map(|()| tally)
            }));
        }
        join_tallies(tasks).await
    });
    close(&rt, ctx, &sockets);
    tallies
}
