//! `--stats`: a per-peer table on stderr once a second, and each failover
//! and failback as it is seen.

use std::io::Write;
use std::time::{Duration, Instant};

use tiermq::{Peer, PeerState, Socket, TierEvent};

/// How often the table is printed.
const PERIOD: Duration = Duration::from_secs(1);

/// The `--stats` printer. Every wait loop calls [`Stats::tick`]; it prints
/// tier events at once and the table when a second has passed.
pub(crate) struct Stats {
    enabled: bool,
    start: Instant,
    next: Instant,
}

impl Stats {
    pub(crate) fn new(enabled: bool) -> Stats {
        let now = Instant::now();
        Stats {
            enabled,
            start: now,
            next: now + PERIOD,
        }
    }

    /// Prints what is due. Cheap when `--stats` is off.
    pub(crate) fn tick(&mut self, s: &Socket) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        let mut text = String::new();
        for e in s.take_tier_events() {
            text.push_str(&format!(
                "tiermq: +{:.1}s {}\n",
                (now - self.start).as_secs_f64(),
                describe_event(e)
            ));
        }
        if now >= self.next {
            self.next = now + PERIOD;
            text.push_str(&table(s, now - self.start));
        }
        if !text.is_empty() {
            // stderr may be closed; the table is best effort.
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
    }

    /// Prints the table now (at exit), whatever the time.
    pub(crate) fn finish(&mut self, s: &Socket) {
        if self.enabled {
            self.next = Instant::now();
            self.tick(s);
        }
    }
}

/// "failover: tier 1 -> tier 2", "failback: tier 2 -> tier 1".
pub(crate) fn describe_event(e: TierEvent) -> String {
    let tier = |t: Option<u8>| t.map_or_else(|| "none".to_owned(), |t| format!("tier {t}"));
    match e {
        TierEvent::Failover { from, to } => format!("failover: {} -> {}", tier(from), tier(to)),
        TierEvent::Failback { from, to } => format!("failback: {} -> {}", tier(from), tier(to)),
    }
}

/// The lower-case name of a peer state.
pub(crate) fn state_name(s: PeerState) -> &'static str {
    match s {
        PeerState::Connecting => "connecting",
        PeerState::Ready => "ready",
        PeerState::Busy => "busy",
        PeerState::Dead => "dead",
        PeerState::Disconnected => "disconnected",
    }
}

/// The table: a header line, then one row per peer.
fn table(s: &Socket, elapsed: Duration) -> String {
    let peers = s.peers();
    let active = s
        .active_tier()
        .map_or_else(|| "none".to_owned(), |t| t.to_string());
    let ready = peers.iter().filter(|p| p.state == PeerState::Ready).count();
    let mut out = format!(
        "tiermq: +{}s  active tier {active}  ready {ready} of {} peers\n",
        elapsed.as_secs(),
        peers.len()
    );
    if peers.is_empty() {
        return out;
    }
    let ep_w = peers
        .iter()
        .map(|p| p.endpoint.len())
        .max()
        .unwrap_or(0)
        .max("endpoint".len());
    let addr_w = peers
        .iter()
        .map(|p| p.remote_addr.len())
        .max()
        .unwrap_or(0)
        .max("peer".len());
    out.push_str(&format!(
        "  {:ep_w$}  {:addr_w$}  {:>5}  {:<12} {:>7} {:>7} {:>10} {:>10}\n",
        "endpoint", "peer", "prio", "state", "queued", "room", "sent", "received"
    ));
    for p in &peers {
        out.push_str(&row(p, ep_w, addr_w));
    }
    out
}

fn row(p: &Peer, ep_w: usize, addr_w: usize) -> String {
    let room = p.room.map_or_else(|| "-".to_owned(), |r| r.to_string());
    format!(
        "  {:ep_w$}  {:addr_w$}  {:>5}  {:<12} {:>7} {:>7} {:>10} {:>10}\n",
        p.endpoint,
        p.remote_addr,
        format!("{}/{}", p.sndprio, p.rcvprio),
        state_name(p.state),
        p.queued_out,
        room,
        p.sent,
        p.received
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_well() {
        let e = TierEvent::Failover {
            from: Some(1),
            to: Some(2),
        };
        assert_eq!(describe_event(e), "failover: tier 1 -> tier 2");
        let e = TierEvent::Failback {
            from: None,
            to: Some(1),
        };
        assert_eq!(describe_event(e), "failback: none -> tier 1");
    }
}
