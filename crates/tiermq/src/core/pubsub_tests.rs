//! Unit tests of PUB, XPUB, SUB and XSUB in the core (and CONFLATE), with
//! no socket or thread: the test plays the transport and applies events.

use super::*;
use crate::events::new_pipe;
use tiermq_pipe::{Reader, Writer};
use tiermq_wire::Item;

fn core_of(pattern: Pattern, t: WireType) -> Core {
    Core::new(pattern, t, Arc::new(|_| {}))
}

/// The transport's side of one connection.
struct Conn {
    id: u64,
    /// What the core sent.
    rx: Reader<Item>,
    /// What the peer sends the core.
    tx: Writer<Item>,
}

/// Attaches connection `id` with both priorities `prio` and pipes of
/// `hwm`, from a peer of type `peer`.
fn attach(core: &mut Core, id: u64, prio: u8, hwm: usize, peer: WireType) -> Conn {
    core.options.sndprio = prio;
    core.options.rcvprio = prio;
    let key = core.new_link_key();
    let kind = LinkKind::Net {
        bind: false,
        link: None,
    };
    core.add_link(key, "tcp://x:1", "tcp://x:1".into(), kind);
    let (out, rx) = new_pipe(hwm);
    let (tx, inp) = new_pipe(hwm);
    core.apply(
        Event::Attached(Attachment {
            conn: ConnKey::Net(0, id),
            link: key,
            peer_addr: "peer".into(),
            peer_type: peer,
            identity: Bytes::new(),
            props: None,
            out,
            inp,
        }),
        Instant::now(),
    );
    Conn { id, rx, tx }
}

impl Conn {
    /// Sends `item` to the core and tells it the pipe is readable.
    fn give(&self, core: &mut Core, item: Item) {
        self.tx.try_send(item).unwrap();
        let pipe = core.conns[&ConnKey::Net(0, self.id)];
        let serial = core.pipes[pipe.0].serial;
        core.apply(Event::Readable { pipe, serial }, Instant::now());
    }

    fn subscribe(&self, core: &mut Core, topic: &str) {
        self.give(
            core,
            Item::Subscribe(Bytes::copy_from_slice(topic.as_bytes())),
        );
    }

    fn cancel(&self, core: &mut Core, topic: &str) {
        self.give(core, Item::Cancel(Bytes::copy_from_slice(topic.as_bytes())));
    }

    /// The first frames of the messages the core sent, as text.
    fn topics(&self) -> Vec<String> {
        std::iter::from_fn(|| self.rx.try_recv().ok())
            .filter_map(Item::into_message)
            .map(|m| String::from_utf8_lossy(&m.frames()[0]).into_owned())
            .collect()
    }

    /// Everything the core sent, subscriptions as `+topic`/`-topic`.
    fn items(&self) -> Vec<String> {
        std::iter::from_fn(|| self.rx.try_recv().ok())
            .map(|i| match i {
                Item::Subscribe(t) => format!("+{}", String::from_utf8_lossy(&t)),
                Item::Cancel(t) => format!("-{}", String::from_utf8_lossy(&t)),
                Item::Message(m) => String::from_utf8_lossy(&m.frames()[0]).into_owned(),
            })
            .collect()
    }

    fn detach(self, core: &mut Core) {
        core.apply(
            Event::Detached {
                conn: ConnKey::Net(0, self.id),
                unsent: Vec::new(),
                dead: false,
            },
            Instant::now(),
        );
    }
}

fn text(s: &str) -> Multipart {
    Multipart::single(Bytes::copy_from_slice(s.as_bytes()))
}

fn send(core: &mut Core, s: &str) -> std::result::Result<(), Refused> {
    core.send(text(s), Instant::now())
}

/// Every whole message the application can receive now, frames joined by `|`.
fn received(core: &mut Core) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    while let Some((frame, more)) = core.recv_frame() {
        cur.push(String::from_utf8_lossy(&frame).into_owned());
        if !more {
            out.push(cur.join("|"));
            cur.clear();
        }
    }
    out
}

#[test]
fn pub_matches_by_prefix_and_counts_subscriptions_per_pipe() {
    let mut c = core_of(Pattern::Pub, WireType::Pub);
    let a = attach(&mut c, 1, 8, 100, WireType::Sub);
    let all = attach(&mut c, 2, 8, 100, WireType::Sub);
    a.subscribe(&mut c, "a.");
    a.subscribe(&mut c, "a.");
    all.subscribe(&mut c, "");
    for t in ["a.1", "b.1", "a", "a.2"] {
        send(&mut c, t).unwrap();
    }
    assert_eq!(a.topics(), ["a.1", "a.2"]);
    assert_eq!(all.topics(), ["a.1", "b.1", "a", "a.2"]);
    a.cancel(&mut c, "a.");
    send(&mut c, "a.3").unwrap();
    assert_eq!(a.topics(), ["a.3"], "one subscription of two is left");
    a.cancel(&mut c, "a.");
    send(&mut c, "a.4").unwrap();
    assert!(a.topics().is_empty());
    all.detach(&mut c);
    assert!(
        c.publish.subs.is_empty(),
        "a departed pipe's subscriptions go"
    );
    assert_eq!(c.check_recv(), Err(Error::ENOTSUP));
}

#[test]
fn pub_keeps_multipart_whole_and_drops_at_hwm_unless_nodrop() {
    let mut c = core_of(Pattern::Pub, WireType::Pub);
    let s = attach(&mut c, 1, 8, 2, WireType::Sub);
    s.subscribe(&mut c, "t");
    let mut m = text("t");
    m.push(Bytes::from_static(b"body"));
    c.send(m, Instant::now()).unwrap();
    let first = s.rx.try_recv().unwrap().into_message().unwrap();
    assert_eq!(first.frames(), [&b"t"[..], &b"body"[..]]);
    for t in ["t1", "t2", "t3"] {
        send(&mut c, t).unwrap();
    }
    assert_eq!(s.topics(), ["t1", "t2"], "t3 is dropped at SNDHWM");
    c.set_option(PatternOption::XpubNodrop(true));
    send(&mut c, "t4").unwrap();
    send(&mut c, "t5").unwrap();
    assert!(matches!(send(&mut c, "t6"), Err(Refused::Wait(_))));
}

#[test]
fn pub_sends_to_the_best_live_tier_and_busy_does_not_move_it() {
    let mut c = core_of(Pattern::Pub, WireType::Pub);
    c.set_monitored(true);
    let one = attach(&mut c, 1, 1, 1, WireType::Sub);
    let two = attach(&mut c, 2, 2, 100, WireType::Sub);
    one.subscribe(&mut c, "");
    two.subscribe(&mut c, "");
    for t in ["m1", "m2"] {
        send(&mut c, t).unwrap();
    }
    assert_eq!(one.topics(), ["m1"], "m2 is lost to SNDHWM");
    assert!(two.topics().is_empty(), "a busy tier 1 keeps the traffic");
    assert_eq!(c.active_tier(Instant::now()), Some(1));
    one.detach(&mut c);
    send(&mut c, "m3").unwrap();
    assert_eq!(two.topics(), ["m3"]);
    let events = c.take_tier_events();
    assert!(
        events.contains(&TierEvent::Failover {
            from: Some(1),
            to: Some(2)
        }),
        "{events:?}"
    );
}

#[test]
fn xpub_passes_new_subscriptions_and_last_cancels_unless_verbose() {
    let mut c = core_of(Pattern::XPub, WireType::XPub);
    let a = attach(&mut c, 1, 8, 100, WireType::Sub);
    let b = attach(&mut c, 2, 8, 100, WireType::Sub);
    a.subscribe(&mut c, "x");
    b.subscribe(&mut c, "x");
    assert_eq!(received(&mut c), ["\u{1}x"]);
    a.cancel(&mut c, "x");
    assert!(received(&mut c).is_empty(), "b still wants x");
    c.set_option(PatternOption::XpubVerbose(true));
    a.subscribe(&mut c, "x");
    a.cancel(&mut c, "x");
    assert_eq!(received(&mut c), ["\u{1}x"], "verbose: subscriptions only");
    c.set_option(PatternOption::XpubVerboser(true));
    a.subscribe(&mut c, "x");
    a.cancel(&mut c, "x");
    assert_eq!(received(&mut c), ["\u{1}x", "\u{0}x"]);
    a.give(&mut c, Item::Message(text("upstream")));
    assert_eq!(received(&mut c), ["upstream"]);
    b.detach(&mut c);
    assert_eq!(received(&mut c), ["\u{0}x"], "the last subscriber left");
}

#[test]
fn xpub_manual_lets_the_application_decide() {
    let mut c = core_of(Pattern::XPub, WireType::XPub);
    c.set_option(PatternOption::XpubManual(true));
    let a = attach(&mut c, 1, 8, 100, WireType::Sub);
    a.subscribe(&mut c, "asked");
    assert_eq!(received(&mut c), ["\u{1}asked"]);
    send(&mut c, "asked.1").unwrap();
    assert!(a.topics().is_empty(), "nothing subscribed yet");
    c.set_subscription(b"other", true).unwrap();
    send(&mut c, "asked.2").unwrap();
    send(&mut c, "other.1").unwrap();
    assert_eq!(a.topics(), ["other.1"]);
    a.detach(&mut c);
    assert_eq!(received(&mut c), ["\u{0}asked"]);
    let mut p = core_of(Pattern::Pub, WireType::Pub);
    assert_eq!(p.set_subscription(b"x", true), Err(Error::EINVAL));
}

#[test]
fn xpub_welcomes_each_new_subscriber() {
    let mut c = core_of(Pattern::XPub, WireType::XPub);
    c.options.xpub_welcome_msg = Bytes::from_static(b"hello");
    let a = attach(&mut c, 1, 8, 100, WireType::Sub);
    assert_eq!(a.topics(), ["hello"]);
}

#[test]
fn sub_replays_to_new_publishers_and_sends_first_and_last_changes() {
    let mut c = core_of(Pattern::Sub, WireType::Sub);
    c.set_subscription(b"a", true).unwrap();
    c.set_subscription(b"b", true).unwrap();
    let p = attach(&mut c, 1, 8, 100, WireType::Pub);
    assert_eq!(p.items(), ["+a", "+b"]);
    c.set_subscription(b"a", true).unwrap();
    c.set_subscription(b"a", false).unwrap();
    assert!(p.items().is_empty(), "the count stays above 0");
    c.set_subscription(b"a", false).unwrap();
    assert_eq!(p.items(), ["-a"]);
    assert!(matches!(
        send(&mut c, "x"),
        Err(Refused::Fail(Error::ENOTSUP))
    ));
    for t in ["a1", "b1", "c1"] {
        p.give(&mut c, Item::Message(text(t)));
    }
    assert_eq!(received(&mut c), ["b1"], "filtered here too");
    p.detach(&mut c);
    let q = attach(&mut c, 2, 8, 100, WireType::Pub);
    assert_eq!(q.items(), ["+b"], "a reconnection gets what is current");
}

#[test]
fn xsub_sends_subscriptions_and_messages_upstream() {
    let mut c = core_of(Pattern::XSub, WireType::XSub);
    let p = attach(&mut c, 1, 8, 100, WireType::Pub);
    for m in [
        "\u{1}t",
        "\u{1}t",
        "\u{0}t",
        "plain",
        "\u{0}t",
        "\u{0}never",
    ] {
        send(&mut c, m).unwrap();
    }
    assert_eq!(p.items(), ["+t", "+t", "plain", "-t"]);
    c.set_subscription(b"x", true).unwrap_err();
}

#[test]
fn subscription_changes_wait_for_room() {
    let mut c = core_of(Pattern::Sub, WireType::Sub);
    let p = attach(&mut c, 1, 8, 2, WireType::Pub);
    for t in [b"1", b"2", b"3", b"4"] {
        c.set_subscription(t, true).unwrap();
    }
    assert_eq!(p.items(), ["+1", "+2"]);
    let pipe = c.conns[&ConnKey::Net(0, 1)];
    let serial = c.pipes[pipe.0].serial;
    c.apply(Event::Writable { pipe, serial }, Instant::now());
    assert_eq!(p.items(), ["+3", "+4"], "nothing lost, in order");
}

#[test]
fn hot_standby_sub_delivers_only_from_the_best_live_tier() {
    let mut c = core_of(Pattern::Sub, WireType::Sub);
    c.options.sub_failover = true;
    c.set_subscription(b"", true).unwrap();
    let one = attach(&mut c, 1, 1, 100, WireType::Pub);
    let two = attach(&mut c, 2, 2, 100, WireType::Pub);
    one.give(&mut c, Item::Message(text("p1")));
    two.give(&mut c, Item::Message(text("s1")));
    assert_eq!(received(&mut c), ["p1"], "the standby's message is dropped");
    let two_conn = two.id;
    c.apply(
        Event::Dead {
            conn: ConnKey::Net(0, 1),
            unsent: Vec::new(),
        },
        Instant::now(),
    );
    two.give(&mut c, Item::Message(text("s2")));
    assert_eq!(received(&mut c), ["s2"]);
    assert_eq!(c.active_tier(Instant::now()), Some(2));
    c.apply(
        Event::Revived {
            conn: ConnKey::Net(0, 1),
        },
        Instant::now(),
    );
    one.give(&mut c, Item::Message(text("p2")));
    two.give(&mut c, Item::Message(text("s3")));
    assert_eq!(received(&mut c), ["p2"]);
    let events = c.take_tier_events();
    assert_eq!(
        events,
        [
            TierEvent::Failback {
                from: None,
                to: Some(1)
            },
            TierEvent::Failover {
                from: Some(1),
                to: Some(2)
            },
            TierEvent::Failback {
                from: Some(2),
                to: Some(1)
            }
        ]
    );
    let _ = two_conn;
}

#[test]
fn plain_sub_orders_by_rcvprio_and_keeps_everything() {
    let mut c = core_of(Pattern::Sub, WireType::Sub);
    c.set_subscription(b"", true).unwrap();
    let two = attach(&mut c, 2, 2, 100, WireType::Pub);
    let one = attach(&mut c, 1, 1, 100, WireType::Pub);
    two.give(&mut c, Item::Message(text("s1")));
    one.give(&mut c, Item::Message(text("p1")));
    assert_eq!(received(&mut c), ["p1", "s1"]);
}

#[test]
fn conflate_keeps_the_newest_message_and_its_last_frame() {
    let mut c = core_of(Pattern::Pull, WireType::Pull);
    c.options.conflate = true;
    let p = attach(&mut c, 1, 8, 3, WireType::Push);
    for t in ["1", "2", "3"] {
        p.give(&mut c, Item::Message(text(t)));
    }
    // The pipe (RCVHWM 3) never fills: each arrival replaces the last.
    p.give(&mut c, Item::Message(text("4")));
    let mut m = text("head");
    m.push(Bytes::from_static(b"tail"));
    p.give(&mut c, Item::Message(m));
    assert_eq!(received(&mut c), ["tail"]);
    assert!(received(&mut c).is_empty());
}

#[test]
fn xpub_verboser_reports_every_topic_of_a_departing_pipe() {
    let mut c = core_of(Pattern::XPub, WireType::XPub);
    let a = attach(&mut c, 1, 8, 100, WireType::Sub);
    let b = attach(&mut c, 2, 8, 100, WireType::Sub);
    a.subscribe(&mut c, "shared");
    b.subscribe(&mut c, "shared");
    b.subscribe(&mut c, "own");
    assert_eq!(received(&mut c), ["\u{1}shared", "\u{1}own"]);
    c.set_option(PatternOption::XpubVerboser(true));
    b.detach(&mut c);
    assert_eq!(received(&mut c), ["\u{0}own", "\u{0}shared"]);
    c.set_option(PatternOption::XpubVerboser(false));
    a.detach(&mut c);
    assert_eq!(received(&mut c), ["\u{0}shared"]);
}

#[test]
fn conflate_applies_to_dealer_and_sub_and_is_off_by_default() {
    for (pattern, t, peer) in [
        (Pattern::Dealer, WireType::Dealer, WireType::Router),
        (Pattern::Sub, WireType::Sub, WireType::Pub),
    ] {
        let mut c = core_of(pattern, t);
        c.options.conflate = true;
        c.subscription(b"", true);
        let p = attach(&mut c, 1, 8, 100, peer);
        for m in ["1", "2", "3"] {
            p.give(&mut c, Item::Message(text(m)));
        }
        assert_eq!(received(&mut c), ["3"], "{pattern:?}");
    }
    let mut c = core_of(Pattern::Pull, WireType::Pull);
    let p = attach(&mut c, 1, 8, 100, WireType::Push);
    for m in ["1", "2"] {
        p.give(&mut c, Item::Message(text(m)));
    }
    assert_eq!(received(&mut c), ["1", "2"], "off by default");
}
