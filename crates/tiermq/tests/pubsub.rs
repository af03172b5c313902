//! PUB/SUB, XPUB/XSUB and CONFLATE over inproc, tcp and ipc, with tiers:
//! tiered fan-out and the hot-standby subscriber. Subscriptions travel
//! asynchronously, so each test first publishes a warm-up topic until the
//! subscriber sees it; messages on one connection keep their order, so
//! what is sent afterwards is judged exactly. Waits are bounded, never
//! timed assertions.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::zmtp::{frame, greeting, handshake, ready as ready_command};
use common::*;
use tiermq::{Context, DONTWAIT, MonitorEventKind, PUB, PULL, PUSH, SUB, Socket, XPUB, XSUB};

const WARM: &[u8] = b"~warm";
/// The prefix of [`warm_up`]'s topics, one per call.
const FRESH: &[u8] = b"!warm.";

#[derive(Clone, Copy, Debug)]
enum Transport {
    Inproc,
    Tcp,
    Ipc,
}

use Transport::{Inproc, Ipc, Tcp};

const ALL: [Transport; 3] = [Inproc, Tcp, Ipc];

/// A test named `$test` that runs the scenario `$scenario(t)` for every
/// transport `t` in [`ALL`].
macro_rules! over_every_transport {
    ($test:ident, $scenario:ident) => {
        #[test]
        fn $test() {
            for t in ALL {
                $scenario(t);
            }
        }
    };
}

fn endpoint(t: Transport, name: &str) -> String {
    match t {
        Inproc => format!("inproc://pubsub-{name}"),
        Tcp => "tcp://127.0.0.1:*".to_owned(),
        Ipc => {
            let p =
                std::env::temp_dir().join(format!("tiermq-ps-{}-{name}.ipc", std::process::id()));
            format!("ipc://{}", p.display())
        }
    }
}

/// Binds `s` on a fresh endpoint of `t`; returns where to connect.
fn bind(s: &Socket, t: Transport, name: &str) -> String {
    s.bind(&endpoint(t, name)).unwrap();
    s.get_last_endpoint().unwrap().unwrap()
}

/// A SUB on `ctx` connected to `ep`, subscribed to nothing yet, its
/// connection established: subscriptions
/// made from now on go out in order (those made before the connection
/// are replayed in the filter's order, as libzmq replays its trie).
fn connected_sub(ctx: &Context, ep: &str) -> Socket {
    let sub = ctx.socket(SUB).unwrap();
    sub.connect(ep).unwrap();
    eventually("the subscriber's connection", || ready(&sub) == 1);
    sub
}

/// Subscribes `sub` to a fresh warm-up topic (under [`FRESH`], which no
/// test subscribes otherwise) and publishes it until `sub` gets it. A
/// connection keeps its order, so every subscription `sub` made before
/// has then reached `publisher`, provided the connection was up when
/// this one was made (a reconnection replays them in the trie's order). A topic subscribed earlier (such as
/// [`WARM`]) would prove nothing about those made after it.
fn warm_up(publisher: &Socket, sub: &Socket) {
    static ROUND: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let round = ROUND.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let topic = [FRESH, round.to_string().as_bytes()].concat();
    sub.set_subscribe(&topic).unwrap();
    sub.set_rcvtimeo(20).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        publisher.send(&topic[..], DONTWAIT).unwrap();
        // Earlier warm-ups' messages may still come: only this one counts.
        if sub.recv_bytes(0).is_ok_and(|m| m == topic) {
            break;
        }
        assert!(Instant::now() < deadline, "the subscription never arrived");
    }
    sub.set_rcvtimeo(WAIT_MS).unwrap();
}

/// Whether `frame` is a warm-up message.
fn is_warm(frame: &[u8]) -> bool {
    frame.starts_with(WARM) || frame.starts_with(FRESH)
}

/// The next message that is not a warm-up, frames joined by `|`.
fn next(sub: &Socket) -> String {
    loop {
        let frames = sub.recv_multipart(0).expect("a message within the timeout");
        if frames.len() == 1 && is_warm(&frames[0]) {
            continue;
        }
        let texts: Vec<String> = frames
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        return texts.join("|");
    }
}

fn prefix_matching_and_multipart(t: Transport) {
    let ctx = Context::new();
    let publisher = ctx.socket(PUB).unwrap();
    let ep = bind(&publisher, t, "prefix");
    let sub = connected_sub(&ctx, &ep);
    for topic in [WARM, b"a.", b"b"] {
        sub.set_subscribe(topic).unwrap();
    }
    warm_up(&publisher, &sub);
    for topic in ["a.1", "c.1", "b2", "a", "bb"] {
        publisher.send(topic, 0).unwrap();
    }
    publisher.send_multipart(["a.m", "one", "two"], 0).unwrap();
    assert_eq!(next(&sub), "a.1");
    assert_eq!(next(&sub), "b2");
    assert_eq!(next(&sub), "bb");
    assert_eq!(next(&sub), "a.m|one|two");
    assert!(sub.recv_bytes(DONTWAIT).is_err(), "c.1 and a were filtered");
    assert_eq!(sub.send("x", 0), Err(tiermq::Error::ENOTSUP));
    assert_eq!(publisher.recv_bytes(DONTWAIT), Err(tiermq::Error::ENOTSUP));
}

over_every_transport!(
    prefix_matching_and_multipart_over_every_transport,
    prefix_matching_and_multipart
);

fn fan_out_to_many(t: Transport) {
    let ctx = Context::new();
    let publisher = ctx.socket(PUB).unwrap();
    let ep = bind(&publisher, t, "fanout");
    let subs: Vec<Socket> = (0..3)
        .map(|i| {
            let s = connected_sub(&ctx, &ep);
            s.set_subscribe(WARM).unwrap();
            s.set_subscribe(if i == 0 { b"" } else { b"t" }).unwrap();
            s
        })
        .collect();
    for s in &subs {
        warm_up(&publisher, s);
    }
    for n in 0..100u64 {
        let mut m = b"t".to_vec();
        m.extend(seq(n));
        publisher.send(m, 0).unwrap();
    }
    for s in &subs {
        for n in 0..100u64 {
            let frames = loop {
                let f = s.recv_bytes(0).unwrap();
                if !is_warm(&f) {
                    break f;
                }
            };
            assert_eq!(unseq(&frames[1..]), n);
        }
    }
}

over_every_transport!(
    every_subscriber_gets_every_matching_message,
    fan_out_to_many
);

fn counted_subscriptions(t: Transport) {
    let ctx = Context::new();
    let publisher = ctx.socket(PUB).unwrap();
    let ep = bind(&publisher, t, "counted");
    let sub = connected_sub(&ctx, &ep);
    sub.set_subscribe(WARM).unwrap();
    sub.set_subscribe(b"k").unwrap();
    sub.set_subscribe(b"k").unwrap();
    sub.set_unsubscribe(b"k").unwrap();
    sub.set_unsubscribe(b"never").unwrap();
    warm_up(&publisher, &sub);
    publisher.send("k1", 0).unwrap();
    assert_eq!(next(&sub), "k1", "one subscription of two is left");
    sub.set_unsubscribe(b"k").unwrap();
    // A fresh warm-up topic, subscribed after the cancel, proves the
    // cancel reached the publisher (a connection keeps its order).
    sub.set_subscribe(b"~second").unwrap();
    sub.set_rcvtimeo(20).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        publisher.send("k2", 0).unwrap();
        publisher.send("~second", 0).unwrap();
        match sub.recv_bytes(0) {
            Ok(m) if m == b"~second" => break,
            Ok(m) => assert!(is_warm(&m), "got {:?} after the last cancel", m),
            Err(_) => assert!(Instant::now() < deadline, "no second warm-up"),
        }
    }
    assert_eq!(publisher.set_subscribe(b"x"), Err(tiermq::Error::EINVAL));
}

over_every_transport!(subscriptions_are_counted, counted_subscriptions);

#[test]
fn a_slow_subscriber_loses_messages_and_never_blocks_the_publisher() {
    // inproc: the pipe holds exactly SNDHWM + RCVHWM messages.
    let ctx = Context::new();
    let publisher = ctx.socket(PUB).unwrap();
    publisher.set_sndhwm(5).unwrap();
    publisher.bind("inproc://slow").unwrap();
    let sub = ctx.socket(SUB).unwrap();
    sub.set_rcvhwm(5).unwrap();
    sub.connect("inproc://slow").unwrap();
    sub.set_subscribe(b"").unwrap();
    warm_up(&publisher, &sub);
    while sub.recv_bytes(DONTWAIT).is_ok() {}
    for n in 0..100u64 {
        publisher.send(seq(n), 0).unwrap();
    }
    assert_eq!(drain(&sub), (0..10).collect::<Vec<_>>());

    // tcp: big messages fill the kernel's buffers, then SNDHWM.
    let publisher = ctx.socket(PUB).unwrap();
    publisher.set_sndhwm(1).unwrap();
    let ep = bind(&publisher, Tcp, "slow");
    let sub = ctx.socket(SUB).unwrap();
    sub.set_rcvhwm(1).unwrap();
    sub.connect(&ep).unwrap();
    sub.set_subscribe(b"").unwrap();
    warm_up(&publisher, &sub);
    let n = 2000u64;
    for i in 0..n {
        let mut m = seq(i);
        m.resize(64 * 1024, 0);
        publisher.send(m, 0).unwrap();
    }
    // The end marker may be dropped too: it is sent again until it comes.
    publisher.send(seq(n), 0).unwrap();
    sub.set_rcvtimeo(50).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut got = Vec::new();
    loop {
        let Ok(m) = sub.recv_bytes(0) else {
            assert!(Instant::now() < deadline, "the end marker never came");
            publisher.send(seq(n), 0).unwrap();
            continue;
        };
        if is_warm(&m) {
            continue;
        }
        let i = unseq(&m);
        got.push(i);
        if i == n {
            break;
        }
    }
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicates"
    );
    assert!((got.len() as u64) < n, "a subscriber at SNDHWM lost some");
}

fn nodrop(t: Transport) {
    let ctx = Context::new();
    let publisher = ctx.socket(XPUB).unwrap();
    publisher.set_xpub_nodrop(true).unwrap();
    publisher.set_sndhwm(2).unwrap();
    let ep = bind(&publisher, t, "nodrop");
    let sub = ctx.socket(SUB).unwrap();
    sub.set_rcvhwm(2).unwrap();
    sub.connect(&ep).unwrap();
    sub.set_subscribe(b"").unwrap();
    publisher.set_rcvtimeo(WAIT_MS).unwrap();
    assert_eq!(publisher.recv_bytes(0).unwrap(), b"\x01");
    let mut sent = 0u64;
    loop {
        let mut m = seq(sent);
        m.resize(16 * 1024, 0);
        match publisher.send(m, DONTWAIT) {
            Ok(()) => sent += 1,
            Err(e) => {
                assert_eq!(e, tiermq::Error::EAGAIN);
                break;
            }
        }
        assert!(sent < 1_000_000, "XPUB_NODROP never pushed back");
    }
    // Blocking sends wait for room instead.
    let reader = std::thread::spawn(move || recv_n(&sub, sent as usize + 10));
    for i in sent..sent + 10 {
        publisher.send(seq(i), 0).unwrap();
    }
    let got = reader.join().unwrap();
    assert_eq!(got, (0..sent + 10).collect::<Vec<_>>(), "nothing lost");
}

over_every_transport!(xpub_nodrop_pushes_back_instead_of_dropping, nodrop);

fn xpub_notices(t: Transport) {
    let ctx = Context::new();
    let xpub = ctx.socket(XPUB).unwrap();
    xpub.set_rcvtimeo(WAIT_MS).unwrap();
    let ep = bind(&xpub, t, "notices");
    let a = connected_sub(&ctx, &ep);
    a.set_subscribe(b"topic").unwrap();
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01topic");
    let b = connected_sub(&ctx, &ep);
    b.set_subscribe(b"topic").unwrap();
    b.set_subscribe(b"other").unwrap();
    assert_eq!(
        xpub.recv_bytes(0).unwrap(),
        b"\x01other",
        "a duplicate is not passed on"
    );
    drop(a);
    b.set_unsubscribe(b"topic").unwrap();
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x00topic");
    xpub.set_xpub_verbose(true).unwrap();
    let c = connected_sub(&ctx, &ep);
    c.set_subscribe(b"other").unwrap();
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01other", "verbose");
    drop(b);
    drop(c);
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x00other");
}

over_every_transport!(xpub_hands_subscriptions_to_the_application, xpub_notices);

fn xpub_manual_and_welcome(t: Transport) {
    let ctx = Context::new();
    let xpub = ctx.socket(XPUB).unwrap();
    xpub.set_xpub_manual(true).unwrap();
    xpub.set_xpub_welcome_msg(Some("welcome")).unwrap();
    xpub.set_rcvtimeo(WAIT_MS).unwrap();
    let ep = bind(&xpub, t, "manual");
    let sub = ctx.socket(SUB).unwrap();
    sub.set_rcvtimeo(WAIT_MS).unwrap();
    sub.connect(&ep).unwrap();
    sub.set_subscribe(b"welcome").unwrap();
    sub.set_subscribe(b"asked").unwrap();
    assert_eq!(sub.recv_bytes(0).unwrap(), b"welcome");
    // Subscriptions made before the connection are replayed in byte order.
    let mut notices = [xpub.recv_bytes(0).unwrap(), xpub.recv_bytes(0).unwrap()];
    notices.sort();
    assert_eq!(notices, [b"\x01asked".to_vec(), b"\x01welcome".to_vec()]);
    // The application subscribes that subscriber to something else.
    xpub.set_subscribe(b"given").unwrap();
    xpub.send("asked.1", 0).unwrap();
    xpub.send("given.1", 0).unwrap();
    sub.set_subscribe(b"given").unwrap();
    assert_eq!(sub.recv_bytes(0).unwrap(), b"given.1");
}

over_every_transport!(xpub_manual_and_welcome_message, xpub_manual_and_welcome);

fn xsub_to_xpub(t: Transport) {
    let ctx = Context::new();
    let xpub = ctx.socket(XPUB).unwrap();
    xpub.set_rcvtimeo(WAIT_MS).unwrap();
    let ep = bind(&xpub, t, "xsub");
    let xsub = ctx.socket(XSUB).unwrap();
    xsub.set_rcvtimeo(WAIT_MS).unwrap();
    xsub.connect(&ep).unwrap();
    xsub.send(b"\x01news".as_slice(), 0).unwrap();
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01news");
    xsub.send("upstream", 0).unwrap();
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"upstream");
    xpub.send("sports", 0).unwrap();
    xpub.send("news.1", 0).unwrap();
    assert_eq!(xsub.recv_bytes(0).unwrap(), b"news.1");
    xsub.send(b"\x00news".as_slice(), 0).unwrap();
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x00news");
}

over_every_transport!(xsub_sends_subscriptions_as_messages, xsub_to_xpub);

fn conflate(t: Transport) {
    let ctx = Context::new();
    let pull = ctx.socket(PULL).unwrap();
    pull.set_conflate(true).unwrap();
    assert!(pull.is_conflate().unwrap());
    let ep = bind(&pull, t, "conflate");
    let push = ctx.socket(PUSH).unwrap();
    push.connect(&ep).unwrap();
    for n in 0..1000u64 {
        push.send(seq(n), 0).unwrap();
    }
    pull.set_rcvtimeo(WAIT_MS).unwrap();
    let mut got = Vec::new();
    while got.last() != Some(&999) {
        got.push(unseq(&pull.recv_bytes(0).unwrap()));
    }
    assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    if let Inproc = t {
        // Everything was queued before the first receive.
        assert_eq!(got, [999]);
    }
    let publisher = ctx.socket(PUB).unwrap();
    let ep = bind(&publisher, t, "conflate-sub");
    let sub = ctx.socket(SUB).unwrap();
    sub.set_conflate(true).unwrap();
    sub.connect(&ep).unwrap();
    sub.set_subscribe(b"").unwrap();
    warm_up(&publisher, &sub);
    publisher.send_multipart(["head", "tail"], 0).unwrap();
    loop {
        let m = sub.recv_multipart(0).unwrap();
        if !(m.len() == 1 && is_warm(&m[0])) {
            assert_eq!(m, [b"tail"], "a multipart message is cut to its last frame");
            break;
        }
    }
}

over_every_transport!(conflate_keeps_only_the_newest_message, conflate);

/// Binds a new PUB at `ep` (an endpoint just released), retrying while it
/// is still taken.
fn rebind_pub(ctx: &Context, ep: &str) -> Socket {
    let publisher = ctx.socket(PUB).unwrap();
    eventually("the port is free again", || publisher.bind(ep).is_ok());
    publisher
}

#[test]
fn subscriptions_are_replayed_to_a_restarted_publisher() {
    let ctx = Context::new();
    let publisher = ctx.socket(PUB).unwrap();
    let ep = bind(&publisher, Tcp, "replay");
    let sub = connected_sub(&ctx, &ep);
    sub.set_subscribe(WARM).unwrap();
    sub.set_subscribe(b"a").unwrap();
    warm_up(&publisher, &sub);
    drop(publisher);
    eventually("the publisher's loss", || ready(&sub) == 0);
    let publisher = rebind_pub(&ctx, &ep);
    // A replay goes out in the trie's order, where the warm-up's fresh
    // topic ("!warm.N") comes before "a": only a topic subscribed once the
    // replay is queued proves that "a" got there.
    eventually("the reconnection", || ready(&sub) == 1);
    warm_up(&publisher, &sub);
    publisher.send("b", 0).unwrap();
    publisher.send("a1", 0).unwrap();
    assert_eq!(next(&sub), "a1");
}

/// A hot-standby SUB: publisher `p1` on tier 1 and `p2` on tier 2; `p1`
/// is closed, then bound again.
fn hot_standby(t: Transport) {
    let ctx = Context::new();
    let p1 = ctx.socket(PUB).unwrap();
    let e1 = bind(&p1, t, "hs1");
    let p2 = ctx.socket(PUB).unwrap();
    let e2 = bind(&p2, t, "hs2");
    let sub = ctx.socket(SUB).unwrap();
    sub.set_sub_failover(true).unwrap();
    assert!(sub.is_sub_failover().unwrap());
    sub.set_failback_delay(50).unwrap();
    let m = sub.event_monitor();
    // The standby first, alone: once its messages come through, it has
    // the subscription, so what it sends later reaches the SUB.
    sub.set_rcvprio(2).unwrap();
    sub.connect(&e2).unwrap();
    sub.set_subscribe(b"").unwrap();
    warm_up(&p2, &sub);
    sub.set_rcvprio(1).unwrap();
    sub.connect(&e1).unwrap();
    eventually("the primary is live", || sub.active_tier() == Some(1));
    warm_up(&p1, &sub);
    let before = received_from(&sub, &e2);
    for _ in 0..10 {
        p2.send("standby", 0).unwrap();
    }
    p1.send("primary", 0).unwrap();
    assert_eq!(next(&sub), "primary", "the standby's messages are dropped");
    // Two connections keep no order between them: the standby's messages
    // may arrive after "primary". Fail over only once they are in, so
    // that they must have been dropped while tier 1 was active.
    eventually("the standby's messages arrived", || {
        received_from(&sub, &e2) >= before + 10
    });

    drop(p1);
    eventually("failover", || sub.active_tier() == Some(2));
    warm_up(&p2, &sub);
    p2.send("standby.1", 0).unwrap();
    assert_eq!(next(&sub), "standby.1");

    let p1 = rebind_pub(&ctx, &e1);
    eventually("failback", || sub.active_tier() == Some(1));
    warm_up(&p1, &sub);
    p2.send("standby.2", 0).unwrap();
    p1.send("primary.2", 0).unwrap();
    assert_eq!(next(&sub), "primary.2");

    let kinds: Vec<MonitorEventKind> = m.try_iter().map(|e| e.kind).collect();
    let failover = MonitorEventKind::Failover {
        from: Some(1),
        to: Some(2),
    };
    let failback = MonitorEventKind::Failback {
        from: Some(2),
        to: Some(1),
    };
    let over = kinds.iter().position(|k| *k == failover);
    let back = kinds.iter().rposition(|k| *k == failback);
    assert!(over.is_some() && back.is_some(), "{kinds:?}");
    assert!(over < back, "{kinds:?}");
}

over_every_transport!(hot_standby_subscriber_fails_over_and_back, hot_standby);

fn pub_tiers(t: Transport) {
    let ctx = Context::new();
    let s1 = ctx.socket(SUB).unwrap();
    let e1 = bind(&s1, t, "tier1");
    let s2 = ctx.socket(SUB).unwrap();
    let e2 = bind(&s2, t, "tier2");
    for s in [&s1, &s2] {
        s.set_subscribe(b"").unwrap();
    }
    let publisher = ctx.socket(PUB).unwrap();
    publisher.set_sndprio(1).unwrap();
    publisher.connect(&e1).unwrap();
    publisher.set_sndprio(2).unwrap();
    publisher.connect(&e2).unwrap();
    eventually("both subscribers connected", || ready(&publisher) == 2);
    warm_up(&publisher, &s1);
    for _ in 0..10 {
        publisher.send("m", 0).unwrap();
    }
    assert_eq!(next(&s1), "m");
    assert_eq!(sent_to(&publisher, &e2), 0, "tier 2 gets nothing");
    drop(s1);
    eventually("tier 2 takes over", || publisher.active_tier() == Some(2));
    warm_up(&publisher, &s2);
    publisher.send("m2", 0).unwrap();
    assert_eq!(next(&s2), "m2");
}

over_every_transport!(pub_sends_to_the_best_live_tier, pub_tiers);

/// A hot-standby SUB with heartbeats: a tier-1 publisher that goes silent
/// (played by a raw ZMTP peer that stops answering PINGs, its connection
/// open) is declared dead and the SUB fails over to tier 2; a word from it
/// revives it, and the SUB fails back at once (no failback delay).
#[test]
fn hot_standby_subscriber_fails_over_from_a_silent_publisher() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let frozen = format!("tcp://{}", listener.local_addr().unwrap());
    let ctx = Context::new();
    let backup = ctx.socket(PUB).unwrap();
    let e2 = bind(&backup, Tcp, "silent2");
    let sub = ctx.socket(SUB).unwrap();
    sub.set_sub_failover(true).unwrap();
    sub.set_heartbeat_ivl(50).unwrap();
    sub.set_heartbeat_timeout(200).unwrap();
    sub.set_rcvprio(1).unwrap();
    sub.connect(&frozen).unwrap();
    sub.set_rcvprio(2).unwrap();
    sub.connect(&e2).unwrap();
    sub.set_subscribe(WARM).unwrap();
    sub.set_subscribe(b"p").unwrap();
    sub.set_subscribe(b"b").unwrap();
    let (mut primary, _) = listener.accept().unwrap();
    primary.write_all(&greeting(1, false)).unwrap();
    primary.write_all(&ready_command("PUB")).unwrap();
    handshake(&mut primary);
    primary.write_all(&frame(0, b"p1")).unwrap();
    assert_eq!(next(&sub), "p1");

    eventually("the silent primary is declared dead", || {
        sub.active_tier() == Some(2)
    });
    warm_up(&backup, &sub);
    backup.send("b1", 0).unwrap();
    assert_eq!(next(&sub), "b1");

    primary.write_all(&frame(0, b"p2")).unwrap();
    assert_eq!(next(&sub), "p2", "revived, tier 1 is delivered again");
    backup.send("b2", 0).unwrap();
    primary.write_all(&frame(0, b"p3")).unwrap();
    assert_eq!(next(&sub), "p3", "the standby's b2 is dropped");
}
