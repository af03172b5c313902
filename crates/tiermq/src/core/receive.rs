//! Receiving: fair-queued input, the socket type's envelope, and frames
//! handed to the caller one at a time.

use std::time::Instant;

use bytes::Bytes;
use tiermq_pipe::RecvError;
use tiermq_sched::PipeId;
use tiermq_wire::{Multipart, SocketType as WireType};

use super::*;

impl Core {
    /// Whether this socket type receives, and may now: `ENOTSUP` for PUSH;
    /// `EFSM` for REQ with no request sent, and REP owing a reply.
    pub(crate) fn check_recv(&self) -> Result<()> {
        if !self.routing.fair_queue {
            return Err(Error::ENOTSUP);
        }
        if !self.rx_partial.is_empty() {
            return Ok(());
        }
        match self.wire_type {
            WireType::Req if !self.req.expect_reply => Err(Error::EFSM),
            WireType::Rep if self.reply_to.is_some() => Err(Error::EFSM),
            _ => Ok(()),
        }
    }

    /// The next whole message for the application, fair-queued by rcvprio,
    /// with the socket type's envelope handled.
    pub(super) fn next_incoming(&mut self) -> Option<Incoming> {
        if let Some(m) = self.rx_ready.take() {
            return Some(m);
        }
        if self.wire_type == WireType::Req {
            // Only REQ has a timer here; other types skip the clock read.
            self.handle_resend_timer(Instant::now());
        }
        loop {
            let (id, serial, m) = self.next_message()?;
            let from = (id, serial);
            let incoming = match self.wire_type {
                WireType::Req => {
                    // Only the pipe that got the request may answer it,
                    // and only once it owes no older answers.
                    let Some(body) = self.accept_reply(from, m) else {
                        continue;
                    };
                    Incoming {
                        body,
                        from,
                        envelope: Vec::new(),
                    }
                }
                WireType::Rep => {
                    let Some((envelope, body)) = envelope::split_request(m) else {
                        continue;
                    };
                    Incoming {
                        body,
                        from,
                        envelope,
                    }
                }
                WireType::Router => {
                    let mut body = Multipart::single(self.pipes[id.0].routing_id.clone());
                    for frame in m {
                        body.push(frame);
                    }
                    Incoming {
                        body,
                        from,
                        envelope: Vec::new(),
                    }
                }
                _ => Incoming {
                    body: m,
                    from,
                    envelope: Vec::new(),
                },
            };
            return Some(incoming);
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
                if self.wire_type == WireType::Rep {
                    self.reply_to = Some((m.from, m.envelope));
                }
                // The first frame goes straight to the caller; only the
                // rest of a multipart message waits in `rx_partial`.
                let mut frames = m.body.into_iter();
                let first = frames.next()?;
                if frames.len() > 0 {
                    self.rx_partial.extend(frames);
                }
                first
            }
        };
        let more = !self.rx_partial.is_empty();
        self.rcvmore = more;
        if !more && self.wire_type == WireType::Req {
            self.req.expect_reply = false;
        }
        Some((frame, more))
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
