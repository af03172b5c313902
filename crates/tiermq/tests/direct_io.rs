//! The hot path's own I/O (docs/design.md, "One wake-up per hop"): a
//! sender writes to an idle connection itself, a blocked receiver reads
//! its connections itself, and the I/O thread takes over whatever they
//! leave: a write the kernel took only in part, and connections nobody
//! waits on.

mod common;

use common::*;
use tiermq::{Context, PULL, PUSH, REP, REQ, Socket};

/// A payload whose every byte depends on `round` and its offset.
fn payload(round: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(round))
        .collect()
}

/// Messages far larger than the kernel's buffers: the requester's direct
/// write stops short and the rest goes out on WRITABLE, served by the
/// leader or the I/O thread; every byte arrives in order.
fn large_round_trips(endpoint: &str) {
    let ctx = Context::new();
    let rep = ctx.socket(REP).unwrap();
    rep.set_sndbuf(64 * 1024).unwrap();
    rep.set_rcvbuf(64 * 1024).unwrap();
    rep.set_rcvtimeo(WAIT_MS).unwrap();
    rep.bind(endpoint).unwrap();
    let ep = rep.get_last_endpoint().unwrap().unwrap();
    let req = ctx.socket(REQ).unwrap();
    req.set_sndbuf(64 * 1024).unwrap();
    req.set_rcvbuf(64 * 1024).unwrap();
    req.set_rcvtimeo(WAIT_MS).unwrap();
    req.connect(&ep).unwrap();
    const LEN: usize = 4 << 20;
    let server = std::thread::spawn(move || {
        for _ in 0..4 {
            let got = rep.recv_bytes(0).expect("a request");
            // The reply is the request with every byte flipped.
            let reply: Vec<u8> = got.iter().map(|b| !b).collect();
            rep.send(reply, 0).unwrap();
        }
    });
    for round in 0..4u8 {
        let sent = payload(round, LEN);
        req.send(&sent[..], 0).unwrap();
        let reply = req.recv_bytes(0).expect("a reply");
        assert_eq!(reply.len(), LEN);
        assert!(
            reply.iter().zip(&sent).all(|(r, s)| *r == !*s),
            "round {round}: the reply is not the flipped request"
        );
    }
    server.join().unwrap();
}

#[test]
fn large_messages_over_small_buffers_tcp() {
    large_round_trips("tcp://127.0.0.1:*");
}

#[test]
fn large_messages_over_small_buffers_ipc() {
    large_round_trips("ipc://*");
}

/// A receiver that led its socket poll once, then makes no call: the I/O
/// thread takes the poll back and reads what arrives into the socket's
/// queue meanwhile.
#[test]
fn the_io_thread_reads_for_a_receiver_that_stopped_calling() {
    let ctx = Context::new();
    let pull = ctx.socket(PULL).unwrap();
    pull.set_rcvtimeo(WAIT_MS).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.get_last_endpoint().unwrap().unwrap();
    let push = ctx.socket(PUSH).unwrap();
    push.connect(&ep).unwrap();
    push.send(seq(0), 0).unwrap();
    // This recv blocks, so it leads the socket poll (which stays lent).
    assert_eq!(unseq(&pull.recv_bytes(0).unwrap()), 0);
    for i in 1..=10 {
        push.send(seq(i), 0).unwrap();
    }
    // No receive call from here on: only the I/O thread can queue them.
    eventually("the I/O thread queued the ten messages", || {
        pull.peers().iter().map(|p| p.queued_in).sum::<usize>() == 10
    });
    assert_eq!(recv_n(&pull, 10), (1..=10).collect::<Vec<_>>());
}

/// A socket whose blocked receives led its socket poll on one thread
/// keeps working after it moves to another, and many sockets served from
/// one thread each lead their own poll in turn.
#[test]
fn sockets_move_between_threads_and_share_one() {
    let ctx = Context::new();
    let rep = ctx.socket(REP).unwrap();
    rep.set_rcvtimeo(WAIT_MS).unwrap();
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let ep = rep.get_last_endpoint().unwrap().unwrap();
    let server = std::thread::spawn(move || {
        for _ in 0..40 {
            let m = rep.recv_bytes(0).expect("a request");
            rep.send(m, 0).unwrap();
        }
    });
    let req = ctx.socket(REQ).unwrap();
    req.set_rcvtimeo(WAIT_MS).unwrap();
    req.connect(&ep).unwrap();
    let round_trips = |req: &tiermq::Socket, from: u64| {
        for i in from..from + 10 {
            req.send(seq(i), 0).unwrap();
            assert_eq!(unseq(&req.recv_bytes(0).expect("a reply")), i);
        }
    };
    round_trips(&req, 0);
    // On to another thread, and back.
    let req = std::thread::spawn(move || {
        round_trips(&req, 10);
        req
    })
    .join()
    .unwrap();
    round_trips(&req, 20);
    let req = std::thread::spawn(move || {
        round_trips(&req, 30);
        req
    })
    .join()
    .unwrap();
    server.join().unwrap();
    drop(req);

    // Twenty PULLs on one thread, each fed by its own PUSH on another.
    let pulls: Vec<tiermq::Socket> = (0..20)
        .map(|_| {
            let pull = ctx.socket(PULL).unwrap();
            pull.set_rcvtimeo(WAIT_MS).unwrap();
            pull.bind("tcp://127.0.0.1:*").unwrap();
            pull
        })
        .collect();
    let eps: Vec<String> = pulls
        .iter()
        .map(|p| p.get_last_endpoint().unwrap().unwrap())
        .collect();
    let feeder = std::thread::spawn({
        let ctx = ctx.clone();
        move || {
            let pushes: Vec<tiermq::Socket> = eps
                .iter()
                .map(|ep| {
                    let push = ctx.socket(PUSH).unwrap();
                    push.connect(ep).unwrap();
                    push
                })
                .collect();
            for round in 0..5 {
                for push in &pushes {
                    push.send(seq(round), 0).unwrap();
                }
            }
            pushes
        }
    });
    for round in 0..5 {
        for pull in &pulls {
            assert_eq!(unseq(&pull.recv_bytes(0).expect("a message")), round);
        }
    }
    drop(feeder.join().unwrap());
}

/// While its only user is blocked in `poll`, a socket's events are applied
/// by the poller when woken (not by the context's applier thread): its
/// monitor still sees a new peer's handshake, and the poll sees the
/// peer's message.
#[test]
fn a_polled_socket_applies_its_events_while_the_poll_waits() {
    let ctx = Context::new();
    let pull = ctx.socket(PULL).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.get_last_endpoint().unwrap().unwrap();
    let monitor = pull.event_monitor();
    let poller = std::thread::spawn(move || {
        // No timeout: only the message below ends the wait.
        let ready = pull.poll(tiermq::POLLIN, -1).unwrap();
        assert_eq!(ready, 1);
        pull.recv_bytes(tiermq::DONTWAIT).unwrap()
    });
    let push = ctx.socket(PUSH).unwrap();
    push.connect(&ep).unwrap();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(WAIT_MS as u64 / 1000);
    let mut shook = false;
    while !shook && std::time::Instant::now() < end {
        if let Some(e) = monitor.recv_timeout(std::time::Duration::from_millis(100)) {
            shook = e.kind == tiermq::MonitorEventKind::HandshakeSucceeded;
        }
    }
    assert!(shook, "no HandshakeSucceeded while the socket was polled");
    push.send("after the handshake", 0).unwrap();
    assert_eq!(poller.join().unwrap(), b"after the handshake");
}

/// A stream through a tiny RCVHWM: reading pauses every few messages and
/// the receiver's draining resumes it, on the receiver's thread (the in
/// pipe's waker reads there). Every message arrives, in order.
fn stream_through_a_tiny_rcvhwm(endpoint: &str) {
    const N: usize = 20_000;
    let (pull, sender) = pull_fed(endpoint, 5, N, |i| (i as u32).to_be_bytes().to_vec());
    for i in 0..N as u32 {
        assert_eq!(pull.recv_bytes(0).expect("a message"), i.to_be_bytes());
    }
    drop(sender.join().unwrap());
}

/// A PULL bound at `endpoint` with RCVHWM `rcvhwm`, and a thread sending
/// it `count` messages, message `i` being `make(i)`, from a connected
/// PUSH; the thread hands the PUSH back, to be dropped once all arrived.
fn pull_fed(
    endpoint: &str,
    rcvhwm: i32,
    count: usize,
    make: impl Fn(usize) -> Vec<u8> + Send + 'static,
) -> (Socket, std::thread::JoinHandle<Socket>) {
    let ctx = Context::new();
    let pull = ctx.socket(PULL).unwrap();
    pull.set_rcvhwm(rcvhwm).unwrap();
    pull.set_rcvtimeo(WAIT_MS).unwrap();
    pull.bind(endpoint).unwrap();
    let ep = pull.get_last_endpoint().unwrap().unwrap();
    let push = ctx.socket(PUSH).unwrap();
    push.connect(&ep).unwrap();
    let sender = std::thread::spawn(move || {
        for i in 0..count {
            push.send(make(i), 0).unwrap();
        }
        push
    });
    (pull, sender)
}

/// The same stream taken through `poll` on the one socket, which leads its
/// connections as a blocked `recv` does: every message arrives, in order,
/// and the poll never reports a message that is not there.
fn stream_polled_on_one_socket(endpoint: &str) {
    const N: usize = 20_000;
    let (pull, sender) = pull_fed(endpoint, 5, N, |i| (i as u32).to_be_bytes().to_vec());
    let mut next = 0u32;
    while next < N as u32 {
        let mut items = [pull.as_poll_item(tiermq::POLLIN)];
        assert_eq!(tiermq::poll(&mut items, i64::from(WAIT_MS)).unwrap(), 1);
        assert!(items[0].is_readable());
        let first = pull.recv_bytes(tiermq::DONTWAIT).expect("a polled message");
        assert_eq!(first, next.to_be_bytes());
        next += 1;
        while let Ok(m) = pull.recv_bytes(tiermq::DONTWAIT) {
            assert_eq!(m, next.to_be_bytes());
            next += 1;
        }
    }
    drop(sender.join().unwrap());
}

#[test]
fn a_stream_polled_on_one_socket_tcp() {
    stream_polled_on_one_socket("tcp://127.0.0.1:*");
}

#[test]
fn a_stream_polled_on_one_socket_ipc() {
    stream_polled_on_one_socket("ipc://*");
}

#[test]
fn a_stream_through_a_tiny_rcvhwm_tcp() {
    stream_through_a_tiny_rcvhwm("tcp://127.0.0.1:*");
}

#[test]
fn a_stream_through_a_tiny_rcvhwm_ipc() {
    stream_through_a_tiny_rcvhwm("ipc://*");
}

/// Receives `count` messages whose sizes `size` gives (each payload
/// depends on its number), keeping the last `held` alive while it reads
/// on: each must arrive whole and stay so until it is dropped.
fn receive_holding(
    endpoint: &str,
    rcvhwm: i32,
    count: usize,
    held: usize,
    size: fn(usize) -> usize,
) {
    let (pull, sender) = pull_fed(endpoint, rcvhwm, count, move |i| payload(i as u8, size(i)));
    let check = |j: usize, m: &[u8]| {
        assert!(m == &payload(j as u8, size(j))[..], "message {j} changed");
    };
    let mut kept = std::collections::VecDeque::new();
    for i in 0..count {
        let msg = pull.recv_msg(0).expect("a message");
        assert_eq!(msg.len(), size(i), "message {i}");
        check(i, &msg);
        kept.push_back((i, msg));
        if kept.len() > held {
            let (j, old) = kept.pop_front().unwrap();
            check(j, &old);
        }
    }
    for (j, old) in kept {
        check(j, &old);
    }
    drop(sender.join().unwrap());
}

/// A receiver that keeps many received frames alive while it reads on:
/// the connection's read buffers are lent to those frames and go back to
/// its pool, to be read into again, only once they are gone (`recv_buf`).
/// No frame is ever overwritten by a later read.
fn held_frames_stay_intact(endpoint: &str) {
    receive_holding(endpoint, 50, 3000, 200, |_| 20 * 1024);
}

#[test]
fn held_frames_stay_intact_tcp() {
    held_frames_stay_intact("tcp://127.0.0.1:*");
}

#[test]
fn held_frames_stay_intact_ipc() {
    held_frames_stay_intact("ipc://*");
}

/// Message sizes that take the receiver's every way through its read
/// buffers: frames within one read, frames cut off at the end of a read
/// and carried into the next buffer, frames far longer than a read (read
/// until whole, their buffer growing as they arrive), reads small enough
/// to be copied out, and buffers returned by held messages and reused.
/// Every message arrives whole, and held ones stay intact.
fn mixed_sizes_arrive_whole(endpoint: &str) {
    const SIZES: [usize; 9] = [1, 300, 70_000, 5, (1 << 20) + 3, 2048, 200_000, 0, 131_063];
    receive_holding(endpoint, 20, 300, 40, |i| SIZES[i % SIZES.len()]);
}

#[test]
fn mixed_sizes_arrive_whole_tcp() {
    mixed_sizes_arrive_whole("tcp://127.0.0.1:*");
}

#[test]
fn mixed_sizes_arrive_whole_ipc() {
    mixed_sizes_arrive_whole("ipc://*");
}

/// One thread polls many sockets: every message from every sender
/// arrives, in order per socket, while the set polled changes from call to
/// call and an inproc socket (no socket poll) is sometimes among them.
fn many_sockets_polled_from_one_thread(endpoint: &str) {
    const SOCKETS: usize = 6;
    const COUNT: usize = 2000;
    let ctx = Context::new();
    let mut pulls = Vec::new();
    let mut senders = Vec::new();
    for s in 0..SOCKETS {
        let pull = ctx.socket(PULL).unwrap();
        pull.bind(endpoint).unwrap();
        let ep = pull.get_last_endpoint().unwrap().unwrap();
        let push = ctx.socket(PUSH).unwrap();
        push.connect(&ep).unwrap();
        senders.push(std::thread::spawn(move || {
            for i in 0..COUNT {
                push.send(format!("{s}:{i}").as_str(), 0).unwrap();
            }
            push
        }));
        pulls.push(pull);
    }
    let inproc = ctx.socket(PULL).unwrap();
    inproc.bind("inproc://many-polled").unwrap();
    let inproc_push = ctx.socket(PUSH).unwrap();
    inproc_push.connect("inproc://many-polled").unwrap();
    let mut next = [0usize; SOCKETS];
    let mut round = 0usize;
    let mut inproc_got = 0;
    while next.iter().any(|&n| n < COUNT) {
        round += 1;
        // Every third call polls a subset; the first and every fifth add
        // the inproc socket (and a message for it).
        let mut subset: Vec<usize> = (0..SOCKETS)
            .filter(|s| !round.is_multiple_of(3) || s.is_multiple_of(2))
            .collect();
        if subset.iter().all(|&s| next[s] == COUNT) {
            // Nothing more will come to those.
            subset = (0..SOCKETS).collect();
        }
        let with_inproc = round % 5 == 1;
        if with_inproc {
            inproc_push.send("in", 0).unwrap();
        }
        let mut items: Vec<_> = subset
            .iter()
            .map(|&s| pulls[s].as_poll_item(tiermq::POLLIN))
            .collect();
        if with_inproc {
            items.push(inproc.as_poll_item(tiermq::POLLIN));
        }
        let n = tiermq::poll(&mut items, i64::from(WAIT_MS)).unwrap();
        assert!(
            n > 0,
            "poll timed out at {next:?} round {round} subset {subset:?}"
        );
        let readable: Vec<bool> = items.iter().map(|i| i.is_readable()).collect();
        drop(items);
        for (k, &s) in subset.iter().enumerate() {
            if !readable[k] {
                continue;
            }
            while let Ok(msg) = pulls[s].recv_msg(tiermq::DONTWAIT) {
                assert_eq!(msg.as_str(), Some(format!("{s}:{}", next[s]).as_str()));
                next[s] += 1;
            }
        }
        if with_inproc && readable[subset.len()] {
            while inproc.recv_msg(tiermq::DONTWAIT).is_ok() {
                inproc_got += 1;
            }
        }
    }
    assert_eq!(next, [COUNT; SOCKETS]);
    assert!(
        inproc_got > 0,
        "the inproc socket was never reported readable"
    );
    for s in senders {
        drop(s.join().unwrap());
    }
}

#[test]
fn many_sockets_polled_from_one_thread_tcp() {
    many_sockets_polled_from_one_thread("tcp://127.0.0.1:*");
}

#[test]
fn many_sockets_polled_from_one_thread_ipc() {
    many_sockets_polled_from_one_thread("ipc://*");
}
