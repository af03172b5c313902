//! PUB and SUB for the `zeromq` crate (zmq.rs 0.7): one task per SUB on
//! the run's runtime. zmq.rs has no HWM option; its PUB queues up to
//! 100 000 messages per subscriber and then drops, which the credit window
//! stays far below.

use std::sync::Arc;

use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

use super::{ControlListener, Fanout, Tally, join_tallies, publish_bytes_on};
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
    // The PUB spawns its fan-out task at once.
    let mut s = {
        let _guard = rt.enter();
        zeromq::PubSocket::new()
    };
    let ep = rt.block_on(s.bind(&bind_endpoint(spec)))?.to_string();
    on_bound(&ep);
    publish_bytes_on(&rt, spec, control, async |p| {
        Ok(s.send(ZmqMessage::from(p)).await?)
    })?;
    hold_while_running(&rt, hold);
    let _guard = rt.enter();
    drop(s);
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
            let mut s = zeromq::SubSocket::new();
            s.subscribe("").await?;
            s.connect(&ep).await?;
            let fanout = Arc::clone(fanout);
            let (size, count) = (spec.size, spec.count);
            tasks.push(tokio::spawn(async move {
                let mut tally = Tally::new(i, &fanout);
                let limit = loop_limit(count).max(RECV_TIMEOUT);
                let out = within(limit, "the messages", async {
                    while !tally.ended() {
                        let msg = s.recv().await?;
                        let frame = msg.get(0).map_or(&[][..], |b| &b[..]);
                        if msg.len() != 1 {
                            return Err(Error::new("a multipart message"));
                        }
                        tally.on_message(frame, size, &fanout)?;
                    }
                    Ok(())
                })
                .await;
                drop(s);
                out.map(|()| tally)
            }));
        }
        join_tallies(tasks).await
    })
}
