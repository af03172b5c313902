//! PUB and SUB for the `omq-tokio` crate: one task per SUB on the run's
//! runtime, the run's HWMs and buffers as in [`crate::omq_peer`].

use std::sync::Arc;

use bytes::Bytes;
use omq_tokio::{Message, Socket, SocketType};

use super::{ControlListener, Fanout, Tally, join_tallies, publish_bytes_on};
use crate::omq_peer::options;
use crate::zeromq_peer::{
    bind_endpoint, connect_endpoint, hold_while_running, loop_limit, runtime, within,
};
use crate::{Error, RECV_TIMEOUT, Spec, remove_ipc_file};

/// Binds a PUB, announces it and publishes the run; then holds.
pub(crate) fn publish(
    spec: &Spec,
    control: ControlListener,
    on_bound: &mut dyn FnMut(&str),
    hold: &mut (dyn FnMut() + Send),
) -> Result<(), Error> {
    let rt = runtime(spec.runtime)?;
    let s = {
        let _guard = rt.enter();
        Socket::try_new(SocketType::Pub, options(spec))?
    };
    let ep = rt
        .block_on(s.bind(bind_endpoint(spec).as_str()))?
        .to_string();
    on_bound(&ep);
    publish_bytes_on(&rt, spec, control, async |p| {
        Ok(s.send(Message::from(p)).await?)
    })?;
    hold_while_running(&rt, hold);
    let _ = rt.block_on(s.close());
    remove_ipc_file(&ep);
    Ok(())
}

/// Connects `spec.subs` SUBs, subscribed to everything, one task each.
pub(crate) fn subscribe(spec: &Spec, fanout: &Arc<Fanout>) -> Result<Vec<Tally>, Error> {
    let rt = runtime(spec.runtime)?;
    let ep = connect_endpoint(spec)?.to_string();
    rt.block_on(async {
        let mut tasks = Vec::with_capacity(spec.subs);
        for i in 0..spec.subs {
            let s = Socket::try_new(SocketType::Sub, options(spec))?;
            s.subscribe(Bytes::new()).await?;
            s.connect(ep.as_str()).await?;
            let fanout = Arc::clone(fanout);
            let (size, count) = (spec.size, spec.count);
            tasks.push(tokio::spawn(async move {
                let mut tally = Tally::new(i, &fanout);
                let limit = loop_limit(count).max(RECV_TIMEOUT);
                let out = within(limit, "the messages", async {
                    while !tally.ended() {
                        let msg = s.recv().await?;
                        if msg.len() != 1 {
                            return Err(Error::new("a multipart message"));
                        }
                        let frame = msg.get(0).unwrap_or(&[]);
                        tally.on_message(frame, size, &fanout)?;
                    }
                    Ok(())
                })
                .await;
                let _ = s.close().await;
                out.map(|()| tally)
            }));
        }
        join_tallies(tasks).await
    })
}
