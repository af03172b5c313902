//! The fair queue: input taken from the pipes by rcvprio, turned into the
//! application's messages by the pattern, and handed over a frame at a
//! time.

use std::time::Instant;

use bytes::Bytes;
use tiermq_pipe::RecvError;
use tiermq_sched::PipeId;
use tiermq_wire::Multipart;

use super::*;

impl Core {
    /// The next whole message for the application, fair-queued by rcvprio,
    /// as the socket type passes it on.
    pub(super) fn next_incoming(&mut self) -> Option<Incoming> {
        if self.conflates() {
            return self.conflated();
        }
        if let Some(m) = self.rx_ready.take() {
            return Some(m);
        }
        match self.pattern {
            // Only REQ has a timer here, and only with REQ_RESEND_IVL set;
            // otherwise the clock is not read (a REQ looks here several
            // times per round trip).
            Pattern::Req if self.resend_due().is_some() => self.tick(Instant::now()),
            Pattern::XPub => return self.next_notice(),
            _ => {}
        }
        self.next_accepted()
    }

    /// Whether CONFLATE is on and applies to this socket type.
    pub(super) fn conflates(&self) -> bool {
        self.options.conflate && self.pattern.may_conflate()
    }

    /// CONFLATE: the newest message of all that wait, the older ones
    /// dropped. As in libzmq, which keeps one frame per queue, a multipart
    /// message is cut to its last frame.
    pub(super) fn conflated(&mut self) -> Option<Incoming> {
        let mut last = self.rx_ready.take();
        while let Some(m) = self.next_accepted() {
            last = Some(m);
        }
        let mut m = last?;
        if m.body.len() > 1 {
            let frame = m.body.frames().last().cloned().unwrap_or_default();
            m.body = Multipart::single(frame);
        }
        Some(m)
    }

    /// The next message the pattern accepts, fair-queued by rcvprio.
    fn next_accepted(&mut self) -> Option<Incoming> {
        loop {
            let (id, serial, m) = self.next_message()?;
            if let Some(incoming) = self.accept((id, serial), m) {
                return Some(incoming);
            }
        }
    }

    /// The next whole message from a pipe, fair-queued by rcvprio.
    pub(super) fn next_message(&mut self) -> Option<(PipeId, u64, Multipart)> {
        loop {
            let id = self.fq.next()?;
            let Some(rec) = self.pipes.get_mut(id.0) else {
                self.fq.leave(id);
                continue;
            };
            if rec.inp.is_none() {
                self.fq.leave(id);
                continue;
            }
            match rec.take_input() {
                Ok(m) if m.is_empty() => {}
                Ok(m) => {
                    rec.received += 1;
                    return Some((id, rec.serial, m));
                }
                Err(RecvError::Empty) => self.fq.set_readable(id, false),
                Err(RecvError::Closed) => {
                    self.fq.leave(id);
                    rec.inp = None;
                    if rec.out.is_none() {
                        self.pipes.remove(id.0);
                    }
                }
            }
        }
    }

    /// The next frame, and whether more of its message follow.
    pub(crate) fn recv_frame(&mut self) -> Option<(Bytes, bool)> {
        let frame = match self.rx_partial.pop_front() {
            Some(frame) => frame,
            None => {
                let m = self.next_incoming()?;
                self.rx_from = Some(m.from);
                self.taken(m.from, m.envelope);
                // The first frame goes straight to the caller; only the
                // rest of a multipart message waits in `rx_partial`.
                match m.body.into_single() {
                    Ok(frame) => frame,
                    Err(body) => {
                        let mut frames = body.into_iter();
                        let first = frames.next()?;
                        self.rx_partial.extend(frames);
                        first
                    }
                }
            }
        };
        let more = !self.rx_partial.is_empty();
        self.rcvmore = more;
        if !more {
            self.finished();
        }
        Some((frame, more))
    }

    /// The properties of the peer that sent the message last returned by
    /// [`recv_frame`](Self::recv_frame): one `Arc` clone. `None` for inproc
    /// peers, or once that pipe is gone.
    pub(crate) fn rx_props(&self) -> Option<Arc<Properties>> {
        self.rx_props_ref().cloned()
    }

    /// As [`rx_props`](Self::rx_props), borrowed: a caller that already
    /// holds the same `Arc` keeps it, and no refcount changes.
    pub(crate) fn rx_props_ref(&self) -> Option<&Arc<Properties>> {
        let (id, serial) = self.rx_from?;
        let rec = self.pipes.get(id.0).filter(|r| r.serial == serial)?;
        rec.props.as_ref()
    }

    /// Whether a receive now would return a frame without waiting.
    pub(crate) fn can_recv(&mut self) -> bool {
        if !self.rx_partial.is_empty() || self.rx_ready.is_some() {
            return true;
        }
        if self.check_recv().is_err() {
            return false;
        }
        self.rx_ready = self.next_incoming();
        self.rx_ready.is_some()
    }
}
