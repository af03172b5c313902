//! tiermq's own case: a PUSH whose peers sit in several priority tiers,
//! against the same PUSH with one peer, both into one PULL.
//!
//! The PULL binds `tiers × peers_per_tier` endpoints; the PUSH connects to
//! each, tier `t` (1 = most preferred) at `set_sndprio(t)`. While the first
//! tier's pipes are ready they take every message, round-robin, so the
//! difference from one peer is what the scheduler and the extra pipes cost.

use std::time::{Duration, Instant};

use crate::{Error, Spec, Transport, bind_endpoint, remove_ipc_file, switches};

/// The `tiered` role: [`tiered_push_pull`] with the spec's transport,
/// `--tiers`, size, count and HWM.
pub fn run(spec: &Spec) -> Result<Duration, Error> {
    let (tiers, per_tier) = spec.tiers;
    tiered_push_pull(
        spec.transport,
        tiers,
        per_tier,
        spec.size,
        spec.count,
        i32::try_from(spec.hwm).unwrap_or(i32::MAX),
    )
}

/// Sends `count + 1` messages of `size` bytes from a tiermq PUSH connected
/// to `tiers × peers_per_tier` endpoints of one PULL, and returns the time
/// the PULL took for the last `count`. `hwm` is every pipe's SNDHWM/RCVHWM.
///
/// Errors: tiermq's, a timeout, or more than 16 tiers.
pub fn tiered_push_pull(
    transport: Transport,
    tiers: u8,
    peers_per_tier: usize,
    size: usize,
    count: u64,
    hwm: i32,
) -> Result<Duration, Error> {
    if !(1..=16).contains(&tiers) || peers_per_tier == 0 {
        return Err(Error::new("1..=16 tiers of at least one peer each"));
    }
    let ctx = tiermq::Context::new();
    let pull = ctx.socket(tiermq::PULL)?;
    pull.set_rcvhwm(hwm)?;
    pull.set_rcvtimeo(timeout_ms())?;
    let push = ctx.socket(tiermq::PUSH)?;
    push.set_sndhwm(hwm)?;
    push.set_sndtimeo(timeout_ms())?;
    push.set_linger(0)?;
    let mut endpoints = Vec::new();
    for tier in 1..=tiers {
        push.set_sndprio(i32::from(tier))?;
        for _ in 0..peers_per_tier {
            pull.bind(&bind_endpoint(transport))?;
            let ep = pull
                .get_last_endpoint()?
                .map_err(|_| Error::new("last endpoint is not UTF-8"))?;
            push.connect(&ep)?;
            endpoints.push(ep);
        }
    }
    // Every pipe must be up before the clock starts, or the timed messages
    // would go to fewer peers (or to a lower tier) than the run claims.
    let all = usize::from(tiers) * peers_per_tier;
    let deadline = Instant::now() + crate::RECV_TIMEOUT;
    while push
        .peers()
        .iter()
        .filter(|p| p.state == tiermq::PeerState::Ready)
        .count()
        < all
    {
        if Instant::now() >= deadline {
            return Err(Error::timeout("every peer to be ready"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let payload = tiermq::Bytes::from(vec![7u8; size]);
    let out = std::thread::scope(|scope| {
        let receiver = scope.spawn(move || -> Result<Duration, Error> {
            let mut msg = tiermq::Message::new();
            recv(&pull, &mut msg)?;
            let start = Instant::now();
            for _ in 0..count {
                recv(&pull, &mut msg)?;
            }
            let elapsed = start.elapsed();
            switches::end();
            Ok(elapsed)
        });
        switches::begin();
        for _ in 0..=count {
            push.send(payload.clone(), 0)?;
        }
        receiver
            .join()
            .map_err(|_| Error::new("the receiver panicked"))?
    });
    drop(push);
    for ep in &endpoints {
        remove_ipc_file(ep);
    }
    out
}

fn recv(pull: &tiermq::Socket, msg: &mut tiermq::Message) -> Result<(), Error> {
    match pull.recv(msg, 0) {
        Err(tiermq::Error::EAGAIN) => Err(Error::timeout("a message")),
        other => Ok(other?),
    }
}

fn timeout_ms() -> i32 {
    i32::try_from(crate::RECV_TIMEOUT.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiered_and_single_peer_deliver_everything() {
        for transport in [Transport::Inproc, Transport::Tcp] {
            tiered_push_pull(transport, 4, 8, 16, 1000, 1000).unwrap();
            tiered_push_pull(transport, 1, 1, 16, 1000, 1000).unwrap();
        }
    }

    #[test]
    fn the_tiered_role_runs_in_one_process() {
        let spec =
            Spec::parse(["tiered", "tiermq", "inproc", "16", "1000", "--tiers", "2x2"]).unwrap();
        let report = crate::run(&spec, &mut |_| {}, &mut || {}).unwrap();
        assert_eq!((report.count, report.size), (1000, 16));
        assert!(report.secs.is_some_and(|s| s > 0.0));
        assert!(report.switches.is_some());
    }

    #[test]
    fn rejects_impossible_tiers() {
        assert!(tiered_push_pull(Transport::Inproc, 0, 1, 16, 1, 10).is_err());
        assert!(tiered_push_pull(Transport::Inproc, 17, 1, 16, 1, 10).is_err());
        assert!(tiered_push_pull(Transport::Inproc, 1, 0, 16, 1, 10).is_err());
    }
}
