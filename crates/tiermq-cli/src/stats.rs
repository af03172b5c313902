//! `--stats`: a per-peer table on stderr once a second, and the socket's
//! monitor events (connections, busy/ready, failover, failback, reroutes)
//! as they come.

use std::io::Write;
use std::time::{Duration, Instant};

use tiermq::{Monitor, MonitorEvent, MonitorEventKind, Peer, PeerState, Socket, TierEvent};

/// How often the table is printed.
const PERIOD: Duration = Duration::from_secs(1);

/// The `--stats` printer. Every wait loop calls [`Stats::tick`]; it prints
/// monitor events at once and the table when a second has passed.
pub(crate) struct Stats {
    /// `None` when `--stats` is off.
    monitor: Option<Monitor>,
    /// Without `--stats`: print the failovers and failbacks anyway (the
    /// hot-standby subscriber's switches are news to its operator).
    tier_events: bool,
    start: Instant,
    next: Instant,
}

impl Stats {
    /// Starts watching `s` if `enabled`; call before binding and connecting
    /// so those events show too. With `tier_events` (and without
    /// `enabled`), only failovers and failbacks are printed.
    pub(crate) fn new(s: &Socket, enabled: bool, tier_events: bool) -> Stats {
        let now = Instant::now();
        Stats {
            monitor: enabled.then(|| s.event_monitor()),
            tier_events,
            start: now,
            next: now + PERIOD,
        }
    }

    /// Prints what is due. Cheap when `--stats` is off.
    pub(crate) fn tick(&mut self, s: &Socket) {
        let Some(monitor) = &self.monitor else {
            if self.tier_events {
                self.print_tier_events(s);
            }
            return;
        };
        let now = Instant::now();
        let mut text = String::new();
        for e in monitor.try_iter() {
            if let Some(line) = describe_monitor(&e) {
                text.push_str(&format!(
                    "tiermq: +{:.1}s {line}\n",
                    (now - self.start).as_secs_f64()
                ));
            }
        }
        if now >= self.next {
            self.next = now + PERIOD;
            text.push_str(&table(s, now - self.start, monitor.dropped()));
        }
        if !text.is_empty() {
            // stderr may be closed; the table is best effort.
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
    }

    fn print_tier_events(&self, s: &Socket) {
        let at = self.start.elapsed().as_secs_f64();
        let text: String = s
            .take_tier_events()
            .into_iter()
            .map(|e| format!("tiermq: +{at:.1}s {}\n", describe_event(e)))
            .collect();
        if !text.is_empty() {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
    }

    /// Prints the table now (at exit), whatever the time.
    pub(crate) fn finish(&mut self, s: &Socket) {
        if self.monitor.is_some() || self.tier_events {
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

/// One line for a monitor event; `None` for connect attempts in progress
/// and reconnect attempts, which repeat every RECONNECT_IVL while a peer is
/// away (the table shows them).
pub(crate) fn describe_monitor(e: &MonitorEvent) -> Option<String> {
    use MonitorEventKind as K;
    let what = match &e.kind {
        K::Failover { from, to } => {
            return Some(describe_event(TierEvent::Failover {
                from: *from,
                to: *to,
            }));
        }
        K::Failback { from, to } => {
            return Some(describe_event(TierEvent::Failback {
                from: *from,
                to: *to,
            }));
        }
        K::ConnectRetried { .. } | K::ConnectDelayed => return None,
        K::Listening => "listening".to_owned(),
        K::Accepted => "accepted".to_owned(),
        K::Connected => "connected".to_owned(),
        K::HandshakeSucceeded => "handshake done".to_owned(),
        K::HandshakeFailed { reason } => format!("handshake failed: {reason}"),
        K::Disconnected { reason } => format!("disconnected: {reason}"),
        K::Dead => "dead (heartbeat timeout)".to_owned(),
        K::Busy => "busy (SNDHWM reached)".to_owned(),
        K::Ready => "ready".to_owned(),
        K::Rerouted { messages } => format!("{messages} messages rerouted to other peers"),
        K::Closed => "closed".to_owned(),
        K::BindFailed => "bind failed".to_owned(),
        K::AcceptFailed => "accept failed".to_owned(),
        other => format!("{other:?}"),
    };
    let place = match (e.endpoint.is_empty(), e.peer.is_empty()) {
        (_, false) => format!("{} ({})", e.endpoint, e.peer),
        (false, true) => e.endpoint.clone(),
        (true, true) => "socket".to_owned(),
    };
    Some(format!("{place}: {what}"))
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
fn table(s: &Socket, elapsed: Duration, dropped: u64) -> String {
    let peers = s.peers();
    let active = s
        .active_tier()
        .map_or_else(|| "none".to_owned(), |t| t.to_string());
    let ready = peers.iter().filter(|p| p.state == PeerState::Ready).count();
    let dropped = if dropped > 0 {
        format!("  ({dropped} monitor events dropped)")
    } else {
        String::new()
    };
    let mut out = format!(
        "tiermq: +{}s  active tier {active}  ready {ready} of {} peers{dropped}\n",
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

    #[test]
    fn monitor_events_say_where() {
        let e = MonitorEvent {
            kind: MonitorEventKind::Disconnected {
                reason: "connection reset".into(),
            },
            endpoint: "tcp://a:1".into(),
            peer: "10.0.0.1:1".into(),
        };
        assert_eq!(
            describe_monitor(&e).unwrap(),
            "tcp://a:1 (10.0.0.1:1): disconnected: connection reset"
        );
        let e = MonitorEvent {
            kind: MonitorEventKind::Failover {
                from: Some(1),
                to: None,
            },
            endpoint: String::new(),
            peer: String::new(),
        };
        assert_eq!(describe_monitor(&e).unwrap(), "failover: tier 1 -> none");
        let e = MonitorEvent {
            kind: MonitorEventKind::ConnectRetried {
                ivl: Duration::from_millis(100),
            },
            endpoint: "tcp://a:1".into(),
            peer: String::new(),
        };
        assert_eq!(describe_monitor(&e), None);
    }
}
