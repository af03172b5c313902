//! REP: takes one request at a time, strips its envelope, and puts it in
//! front of the reply, which goes to the pipe the request came from.

use std::time::Instant;

use bytes::Bytes;
use tiermq_sched::PipeId;
use tiermq_wire::Multipart;

use crate::core::{Core, Incoming};
use crate::envelope;

impl Core {
    /// A request from pipe `from`, split at its envelope; `None` for a
    /// message without one (dropped, as libzmq does).
    pub(in crate::core) fn accept_request(
        &mut self,
        from: (PipeId, u64),
        m: Multipart,
    ) -> Option<Incoming> {
        let (envelope, body) = envelope::split_request(m)?;
        Some(Incoming {
            body,
            from,
            envelope,
        })
    }

    /// The request is being read: the reply goes back to `from`.
    pub(in crate::core) fn request_taken(&mut self, from: (PipeId, u64), envelope: Vec<Bytes>) {
        self.reply_to = Some((from, envelope));
    }

    /// REP: the reply goes to the pipe the request came from, behind its
    /// envelope; dropped quietly if that peer is gone or cannot take it.
    pub(in crate::core) fn send_reply(&mut self, body: Multipart, now: Instant) {
        let Some(((id, serial), env)) = self.reply_to.take() else {
            return;
        };
        let mut msg: Multipart = env.into_iter().collect();
        for frame in body {
            msg.push(frame);
        }
        self.send_to(id, serial, msg, now);
    }
}
