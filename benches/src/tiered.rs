//! tiermq's own case: a PUSH whose peers sit in several priority tiers,
//! against the same PUSH with one peer, both into one PULL.
//!
//! The PULL binds `tiers × peers_per_tier` endpoints; the PUSH connects to
//! each, tier `t` (1 = most preferred) at `set_sndprio(t)`. While the first
//! tier's pipes are ready they take every message, round-robin, so the
//! difference from one peer is what the scheduler and the extra pipes cost.
//!
//! libzmq runs the one-tier shapes (`1×P`: a plain PUSH round-robin over P
//! connections, [`round_robin_libzmq`]), so that what spreading a stream
//! over P connections costs any library can be told apart from what the
//! tiers cost.

use std::time::{Duration, Instant};

use crate::{Error, Lib, Spec, Transport, bind_endpoint, remove_ipc_file, switches};

/// What one tiered run measured.
#[derive(Clone, Copy, Debug)]
pub struct Tiered {
    /// The PULL's time for the last `count` messages.
    pub elapsed: Duration,
    /// The share of all messages the PUSH sent below its first tier: it
    /// spills there whenever every first-tier pipe is at SNDHWM (SPEC §4).
    /// `None` for libzmq, which has no tiers.
    pub spilled: Option<f64>,
}

/// The `tiered` role: [`tiered_push_pull`] with the spec's transport,
/// `--tiers`, size, count and HWM.
pub fn run(spec: &Spec) -> Result<Tiered, Error> {
    let (tiers, per_tier) = spec.tiers;
    if spec.lib == Lib::Libzmq {
        if tiers != 1 {
            return Err(Error::new("libzmq has no tiers: use --tiers 1xP"));
        }
        let elapsed = round_robin_libzmq(
            spec.transport,
            per_tier,
            spec.size,
            spec.count,
            i32::try_from(spec.hwm).unwrap_or(i32::MAX),
        )?;
        return Ok(Tiered {
            elapsed,
            spilled: None,
        });
    }
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
/// the PULL took for the last `count`, and the share of messages that went
/// below the first tier. `hwm` is every pipe's SNDHWM/RCVHWM.
///
/// Errors: tiermq's, a timeout, or more than 16 tiers.
pub fn tiered_push_pull(
    transport: Transport,
    tiers: u8,
    peers_per_tier: usize,
    size: usize,
    count: u64,
    hwm: i32,
) -> Result<Tiered, Error> {
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
    let mut msg = tiermq::Message::new();
    let out = timed_stream(
        count,
        || Ok(push.send(payload.clone(), 0)?),
        move || match pull.recv(&mut msg, 0) {
            Err(tiermq::Error::EAGAIN) => Err(Error::timeout("a message")),
            other => Ok(other?),
        },
        // Counted while every pipe is still there: the PULL goes with the
        // receiving thread.
        || spilled(&push),
    );
    drop(push);
    for ep in &endpoints {
        remove_ipc_file(ep);
    }
    let (elapsed, spilled) = out?;
    Ok(Tiered {
        elapsed,
        spilled: Some(spilled),
    })
}

/// The share of what `push` sent that went below its first tier.
fn spilled(push: &tiermq::Socket) -> f64 {
    let (mut below, mut all) = (0u64, 0u64);
    for p in push.peers() {
        all += p.sent;
        if p.sndprio > 1 {
            below += p.sent;
        }
    }
    below as f64 / all.max(1) as f64
}

/// libzmq's PUSH round-robin over `peers` connections to one PULL, timed
/// as [`tiered_push_pull`] times tiermq's: `count + 1` messages of `size`
/// bytes, the PULL's clock over the last `count`.
///
/// Errors: libzmq's, or a timeout.
pub fn round_robin_libzmq(
    transport: Transport,
    peers: usize,
    size: usize,
    count: u64,
    hwm: i32,
) -> Result<Duration, Error> {
    if peers == 0 {
        return Err(Error::new("at least one peer"));
    }
    let ctx = zmq::Context::new();
    let pull = ctx.socket(zmq::PULL)?;
    pull.set_rcvhwm(hwm)?;
    pull.set_rcvtimeo(timeout_ms())?;
    let push = ctx.socket(zmq::PUSH)?;
    push.set_sndhwm(hwm)?;
    push.set_sndtimeo(timeout_ms())?;
    push.set_linger(0)?;
    // Every connection must have its pipe before the clock starts (libzmq
    // round-robins over the pipes it has): count the handshakes. Inproc
    // connects at once and has none.
    let monitor = if transport == Transport::Inproc {
        None
    } else {
        let ep = bind_endpoint(Transport::Inproc);
        push.monitor(&ep, zmq::SocketEvent::HANDSHAKE_SUCCEEDED as i32)?;
        let m = ctx.socket(zmq::PAIR)?;
        m.set_rcvtimeo(timeout_ms())?;
        m.connect(&ep)?;
        Some(m)
    };
    let mut endpoints = Vec::new();
    for _ in 0..peers {
        pull.bind(&bind_endpoint(transport))?;
        let ep = pull
            .get_last_endpoint()?
            .map_err(|_| Error::new("last endpoint is not UTF-8"))?;
        push.connect(&ep)?;
        endpoints.push(ep);
    }
    if let Some(m) = monitor {
        for _ in 0..peers {
            // An event is two frames: the event and value, then the endpoint.
            let frames = m.recv_multipart(0).map_err(|e| match e {
                zmq::Error::EAGAIN => Error::timeout("every peer's handshake"),
                e => e.into(),
            })?;
            if frames.len() != 2 {
                return Err(Error::new("a monitor event of other than two frames"));
            }
        }
    }
    let payload = vec![7u8; size];
    let mut msg = zmq::Message::new();
    let out = timed_stream(
        count,
        || Ok(push.send(&payload[..], 0)?),
        move || match pull.recv(&mut msg, 0) {
            Err(zmq::Error::EAGAIN) => Err(Error::timeout("a message")),
            other => Ok(other?),
        },
        || (),
    );
    drop(push);
    for ep in &endpoints {
        remove_ipc_file(ep);
    }
    Ok(out?.0)
}

/// Calls `recv` `count + 1` times on a thread of its own, timing the last
/// `count`, while this thread calls `send` `count + 1` times and then
/// `after_sends`, whose result comes back with the time.
fn timed_stream<T>(
    count: u64,
    mut send: impl FnMut() -> Result<(), Error>,
    mut recv: impl FnMut() -> Result<(), Error> + Send,
    after_sends: impl FnOnce() -> T,
) -> Result<(Duration, T), Error> {
    std::thread::scope(|scope| {
        let receiver = scope.spawn(move || -> Result<Duration, Error> {
            recv()?;
            let start = Instant::now();
            for _ in 0..count {
                recv()?;
            }
            let elapsed = start.elapsed();
            switches::end();
            Ok(elapsed)
        });
        switches::begin();
        for _ in 0..=count {
            send()?;
        }
        let after = after_sends();
        let elapsed = receiver
            .join()
            .map_err(|_| Error::new("the receiver panicked"))??;
        Ok((elapsed, after))
    })
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
            let spilled = tiered_push_pull(transport, 4, 8, 16, 1000, 1000)
                .unwrap()
                .spilled;
            assert!(spilled.is_some_and(|s| (0.0..=1.0).contains(&s)));
            // Nothing to spill to, and a deep enough queue: none below.
            let one = tiered_push_pull(transport, 1, 1, 16, 1000, 2000).unwrap();
            assert_eq!(one.spilled, Some(0.0));
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
    fn libzmq_round_robin_delivers_everything() {
        for transport in [Transport::Inproc, Transport::Tcp] {
            round_robin_libzmq(transport, 8, 16, 1000, 1000).unwrap();
            round_robin_libzmq(transport, 1, 16, 1000, 1000).unwrap();
        }
        let spec =
            Spec::parse(["tiered", "libzmq", "tcp", "16", "1000", "--tiers", "1x4"]).unwrap();
        let report = crate::run(&spec, &mut |_| {}, &mut || {}).unwrap();
        assert_eq!((report.count, report.size), (1000, 16));
        let tiers = Spec::parse(["tiered", "libzmq", "tcp", "16", "1000", "--tiers", "2x4"]);
        assert!(tiers.is_err(), "libzmq has no tiers");
    }

    #[test]
    fn rejects_impossible_tiers() {
        assert!(tiered_push_pull(Transport::Inproc, 0, 1, 16, 1, 10).is_err());
        assert!(tiered_push_pull(Transport::Inproc, 17, 1, 16, 1, 10).is_err());
        assert!(tiered_push_pull(Transport::Inproc, 1, 0, 16, 1, 10).is_err());
    }
}
