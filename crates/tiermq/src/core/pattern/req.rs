//! REQ: one request in flight, load-balanced by tier; resent when its
//! pipe goes away or dies, or when REQ_RESEND_IVL passes; answered only
//! from the pipe that has it, and only once that pipe owes no older
//! answer (late answers to requests given up on are dropped and counted).

use std::time::{Duration, Instant};

use tiermq_sched::PipeId;
use tiermq_wire::Multipart;

use crate::Error;
use crate::core::{Core, Incoming, Refused};
use crate::envelope;
use crate::monitor::MonitorEventKind;

/// REQ's request in flight.
#[derive(Debug)]
pub(in crate::core) struct Request {
    /// As on the wire, envelope included, to resend.
    pub(in crate::core) wire: Multipart,
    /// The id in its envelope (REQ_CORRELATE).
    pub(in crate::core) id: Option<u32>,
    /// The pipe (and its serial) that got it; `None` while it waits for one.
    pub(in crate::core) pipe: Option<(PipeId, u64)>,
    /// When it was last sent (for REQ_RESEND_IVL).
    pub(in crate::core) sent_at: Instant,
}

/// REQ's state machine.
#[derive(Debug)]
pub(in crate::core) struct ReqState {
    /// A request was sent and its reply not yet received in full.
    pub(in crate::core) expect_reply: bool,
    /// The request whose reply is awaited (cleared when it is matched).
    pub(in crate::core) pending: Option<Request>,
    /// The id the next request gets (REQ_CORRELATE).
    pub(in crate::core) next_id: u32,
}

impl Core {
    /// REQ_RELAXED aside, one request at a time.
    pub(in crate::core) fn req_check_send(&self) -> crate::Result<()> {
        if self.req.expect_reply && !self.options.req_relaxed {
            Err(Error::EFSM)
        } else {
            Ok(())
        }
    }

    /// REQ: a new request (abandoning one in flight, with REQ_RELAXED).
    pub(in crate::core) fn send_request(
        &mut self,
        body: Multipart,
        now: Instant,
    ) -> std::result::Result<(), Refused> {
        if self.req.expect_reply && !self.options.req_relaxed {
            return Err(Refused::Fail(Error::EFSM));
        }
        let id = self.options.req_correlate.then_some(self.req.next_id);
        let wire = envelope::wrap_request(id, body);
        match self.load_balance(wire.clone(), now) {
            Ok(pipe) => {
                // An abandoned request (REQ_RELAXED) stays in flight on its
                // pipe: the answer it may still get is stale.
                self.count_in_flight(pipe);
                self.begin_request(wire, id, Some(pipe), now);
                Ok(())
            }
            // IMMEDIATE=0: it waits at the socket level for a ready pipe,
            // and goes out as a resend does (`flush_reroute`).
            Err(wire) if self.may_queue() => {
                self.begin_request(wire, id, None, now);
                Ok(())
            }
            Err(wire) => Err(Refused::Wait(envelope::unwrap_request(id.is_some(), wire))),
        }
    }

    /// REQ: `wire` is the request in flight now, sent to `pipe` (or
    /// waiting for one).
    fn begin_request(
        &mut self,
        wire: Multipart,
        id: Option<u32>,
        pipe: Option<(PipeId, u64)>,
        now: Instant,
    ) {
        self.req.next_id = self.req.next_id.wrapping_add(1);
        // A reply to an abandoned request must not be taken for this one.
        self.rx_ready = None;
        self.rx_partial.clear();
        self.req.expect_reply = true;
        self.req.pending = Some(Request {
            wire,
            id,
            pipe,
            sent_at: now,
        });
    }

    /// REQ: pipe `id` (numbered `serial`) is going away or its peer died,
    /// and its last `never_sent` requests were taken back before reaching
    /// the peer. If the request in flight went to it and its reply is not
    /// already there (see [`Core::take_waiting_reply`]), the request is
    /// marked for resending. Says whether it was (the caller resends).
    pub(in crate::core) fn req_pipe_gone(
        &mut self,
        id: PipeId,
        serial: u64,
        never_sent: usize,
    ) -> bool {
        if let Some(rec) = self.pipes.get_mut(id.0) {
            // Requests that never reached the peer are not owed answers.
            let n = u32::try_from(never_sent).unwrap_or(u32::MAX);
            rec.in_flight = rec.in_flight.saturating_sub(n);
        }
        let Some(r) = self
            .req
            .pending
            .as_mut()
            .filter(|r| r.pipe == Some((id, serial)))
        else {
            return false;
        };
        if never_sent > 0 {
            // The request in flight is the last one the pipe got, so it was
            // taken back: whatever waits in the pipe answers older ones.
            r.pipe = None;
            return true;
        }
        self.unanswered()
    }

    /// REQ: whether the request in flight is still unanswered. A reply
    /// already in the in-pipe of the pipe that got it answers it, and is
    /// held for the next receive: the transport delivers what it received
    /// before it reports a connection's end, and an inproc peer writes
    /// before it closes, so a server that answers and closes at once is
    /// not asked twice. Otherwise the request is marked for resending.
    pub(in crate::core) fn unanswered(&mut self) -> bool {
        if self.take_waiting_reply() {
            return false;
        }
        match self.req.pending.as_mut() {
            Some(r) => {
                r.pipe = None;
                true
            }
            None => false,
        }
    }

    /// REQ: takes the reply to the request in flight if it already waits in
    /// the in-pipe of the pipe that got the request (reading up to it:
    /// anything before it is stale, see [`Core::accept_reply`]). Says
    /// whether it did.
    pub(in crate::core) fn take_waiting_reply(&mut self) -> bool {
        let Some((id, serial)) = self.req.pending.as_ref().and_then(|r| r.pipe) else {
            return false;
        };
        loop {
            let Some(rec) = self.pipes.get_mut(id.0).filter(|r| r.serial == serial) else {
                return false;
            };
            let Ok(m) = rec.take_input() else {
                return false;
            };
            rec.received += 1;
            if let Some(body) = self.accept_reply((id, serial), m) {
                self.rx_ready = Some(Incoming {
                    body,
                    from: (id, serial),
                    envelope: Vec::new(),
                });
                return true;
            }
        }
    }

    /// REQ: a request went to pipe `pipe`; its peer owes an answer.
    pub(in crate::core) fn count_in_flight(&mut self, (id, serial): (PipeId, u64)) {
        if let Some(rec) = self.pipes.get_mut(id.0).filter(|r| r.serial == serial) {
            rec.in_flight = rec.in_flight.saturating_add(1);
        }
    }

    /// REQ: message `m` came from pipe `from`. Returns the reply's body if
    /// it answers the request in flight (which it then clears), else drops
    /// it as stale, counted and reported.
    ///
    /// A server answers its requests in order, one reply each (REP does),
    /// so a pipe that got requests the REQ has given up on (resent
    /// elsewhere or abandoned) owes their answers first: while it has more
    /// than one request in flight, its next reply answers an older one.
    /// With REQ_CORRELATE the request id decides instead, which also holds
    /// for servers that drop or reorder requests.
    pub(in crate::core) fn accept_reply(
        &mut self,
        from: (PipeId, u64),
        m: Multipart,
    ) -> Option<Multipart> {
        let correlate = self.options.req_correlate;
        let current = self
            .req
            .pending
            .as_ref()
            .filter(|r| r.pipe == Some(from))
            .map(|r| r.id);
        let rec = self
            .pipes
            .get_mut(from.0.0)
            .filter(|r| r.serial == from.1)?;
        let owed = rec.in_flight;
        rec.in_flight = owed.saturating_sub(1);
        let body = match current {
            Some(id) if correlate || owed == 1 => envelope::open_reply(id, m),
            _ => None,
        };
        if body.is_some() {
            self.req.pending = None;
            return body;
        }
        rec.stale_replies += 1;
        self.out
            .emit(MonitorEventKind::StaleReply, &rec.endpoint, &rec.peer_addr);
        None
    }

    /// REQ: sends the request in flight again, to the best ready pipe (with
    /// REQ_CORRELATE under a new id, so that late replies to the old attempt
    /// are dropped). Waits, with no pipe ready, for the next event.
    pub(in crate::core) fn resend_request(&mut self, now: Instant) {
        let Some(r) = self.req.pending.as_mut() else {
            return;
        };
        let mut wire = r.wire.clone();
        let mut id = r.id;
        if id.is_some() {
            let new = self.req.next_id;
            self.req.next_id = new.wrapping_add(1);
            wire = envelope::wrap_request(Some(new), envelope::unwrap_request(true, wire));
            id = Some(new);
        }
        if let Ok(pipe) = self.load_balance(wire.clone(), now) {
            self.count_in_flight(pipe);
            self.req.pending = Some(Request {
                wire,
                id,
                pipe: Some(pipe),
                sent_at: now,
            });
        }
    }

    /// REQ_RESEND_IVL: resends a request unanswered for that long.
    pub(in crate::core) fn handle_resend_timer(&mut self, now: Instant) {
        if self.resend_due().is_some_and(|t| t <= now) && self.unanswered() {
            self.resend_request(now);
            self.collect_tier_events();
        }
    }

    /// When REQ_RESEND_IVL next resends, if it will.
    pub(in crate::core) fn resend_due(&self) -> Option<Instant> {
        let ivl = u64::try_from(self.options.req_resend_ivl)
            .ok()
            .filter(|&ms| ms > 0)?;
        let r = self.req.pending.as_ref()?;
        r.pipe?;
        r.sent_at.checked_add(Duration::from_millis(ivl))
    }
}
