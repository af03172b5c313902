//! A socket takes a transport connection's input in batches (a per-pipe
//! prefetch). What it took but has not delivered yet still counts as the
//! connection's input: `peers()` reports it, fairness stays per message,
//! and it is delivered after the connection ends.

mod common;

use common::*;
use tiermq::{Context, PULL, PUSH};

/// Everything a tcp PUSH sent reaches the PULL once, in order, though the
/// PUSH is gone by the time most of it is read; while it waits, the
/// unread count covers the taken batch.
#[test]
fn prefetched_input_is_counted_and_outlives_the_connection() {
    const N: u64 = 1000;
    let ctx = Context::new();
    let pull = ctx.socket(PULL).unwrap();
    pull.set_rcvhwm(0).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.get_last_endpoint().unwrap().unwrap();
    let push = ctx.socket(PUSH).unwrap();
    push.connect(&ep).unwrap();
    for n in 0..N {
        push.send(seq(n), 0).unwrap();
    }
    eventually("all sent messages queued at the PULL", || {
        pull.peers().iter().map(|p| p.queued_in).sum::<usize>() == N as usize
    });
    // The first receive takes a batch; the rest of it is still unread.
    let mut got = recv_n(&pull, 1);
    let unread: usize = pull.peers().iter().map(|p| p.queued_in).sum();
    assert_eq!(unread, N as usize - 1);
    drop(push);
    eventually("the PUSH's connection ends at the PULL", || {
        pull.peers()
            .iter()
            .all(|p| p.state != tiermq::PeerState::Ready)
    });
    got.extend(recv_n(&pull, N as usize - 1));
    assert_eq!(got, (0..N).collect::<Vec<_>>());
}

/// Two tcp peers with a batch each waiting take turns message by message.
#[test]
fn fair_queueing_stays_per_message() {
    let ctx = Context::new();
    let pull = ctx.socket(PULL).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.get_last_endpoint().unwrap().unwrap();
    let a = ctx.socket(PUSH).unwrap();
    a.connect(&ep).unwrap();
    let b = ctx.socket(PUSH).unwrap();
    b.connect(&ep).unwrap();
    for n in 0..100 {
        a.send(seq(n), 0).unwrap();
        b.send(seq(1000 + n), 0).unwrap();
    }
    eventually("both peers' messages queued", || {
        pull.peers().iter().map(|p| p.queued_in).sum::<usize>() == 200
    });
    let got = recv_n(&pull, 200);
    // Alternating sources: no two neighbours come from the same PUSH.
    for pair in got.windows(2) {
        assert_ne!(pair[0] < 1000, pair[1] < 1000, "not per message: {got:?}");
    }
}
