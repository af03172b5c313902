//! `Tally`: what one SUB socket received and when, and the run's report
//! from all of them.

use std::time::Instant;

use super::{DATA, END, Fanout, WARM};
use crate::{Delivery, Error, Report, Spec};

/// One SUB socket's count and clock.
#[derive(Clone, Debug)]
pub struct Tally {
    index: u32,
    received: u64,
    next_report: u64,
    warmed: bool,
    ended: bool,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Tally {
    /// The tally of socket `index` of the subscriber process.
    pub fn new(index: usize, fanout: &Fanout) -> Tally {
        Tally {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            received: 0,
            next_report: fanout.report_every,
            warmed: false,
            ended: false,
            first: None,
            last: None,
        }
    }

    /// Counts one message. The clock reads the time only at the first data
    /// message, at the last one expected and at the end marker, so a
    /// message costs no clock reading.
    ///
    /// Errors: a message of the wrong size or kind; the control link's.
    pub fn on_message(&mut self, msg: &[u8], size: usize, fanout: &Fanout) -> Result<(), Error> {
        if msg.len() != size {
            return Err(Error::wrong_size(size, msg.len()));
        }
        match msg.first().copied() {
            Some(DATA) => {
                self.received += 1;
                if self.received == 1 {
                    self.first = Some(Instant::now());
                }
                if self.received == fanout.expected {
                    self.last = Some(Instant::now());
                }
                if self.received >= self.next_report {
                    self.next_report += fanout.report_every;
                    fanout.progress(self.index, self.received)?;
                }
            }
            Some(WARM) if !self.warmed => {
                self.warmed = true;
                fanout.warmed_one()?;
            }
            Some(END) if !self.ended => {
                self.ended = true;
                if self.last.is_none() && self.received > 0 {
                    self.last = Some(Instant::now());
                }
            }
            Some(WARM | END) => {}
            other => {
                return Err(Error::new(format!("unexpected message kind {other:?}")));
            }
        }
        Ok(())
    }

    /// Whether this socket has seen the end marker.
    pub fn ended(&self) -> bool {
        self.ended
    }
}

/// The run's report: the span from the first data message on any socket
/// to the last on every socket, the messages timed in it (each socket's
/// after its first) and how many never arrived.
///
/// Errors: a socket that received no data at all.
pub fn summarize(tallies: &[Tally], spec: &Spec) -> Result<Report, Error> {
    let mut first: Option<Instant> = None;
    let mut last: Option<Instant> = None;
    let mut timed = 0u64;
    let mut received = 0u64;
    let mut slowest = f64::INFINITY;
    for t in tallies {
        let (Some(f), Some(l)) = (t.first, t.last) else {
            return Err(Error::new(format!(
                "subscriber {} received no data message",
                t.index
            )));
        };
        first = Some(first.map_or(f, |x| x.min(f)));
        last = Some(last.map_or(l, |x| x.max(l)));
        received += t.received;
        timed += t.received - 1;
        let secs = l.duration_since(f).as_secs_f64();
        if secs > 0.0 {
            slowest = slowest.min((t.received - 1) as f64 / secs);
        }
    }
    let (Some(first), Some(last)) = (first, last) else {
        return Err(Error::new("no subscriber"));
    };
    let expected = (spec.count + 1) * tallies.len() as u64;
    Ok(Report {
        secs: Some(last.duration_since(first).as_secs_f64()),
        count: timed,
        size: spec.size,
        rss_kib: crate::peak_rss_kib(),
        delivery: Some(Delivery {
            subs: tallies.len(),
            dropped: expected.saturating_sub(received),
            slowest: if slowest.is_finite() { slowest } else { 0.0 },
        }),
        switches: None,
        spilled: None,
    })
}
