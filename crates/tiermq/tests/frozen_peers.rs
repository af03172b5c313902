//! Real libzmq peers (pyzmq, in their own processes) frozen with SIGSTOP
//! and thawed: a heartbeat-dead peer keeps its connection for the dead
//! linger (SPEC §3), loses nothing its kernel held, and takes traffic back
//! when it revives; a REQ never hands the application a late answer to a
//! request it resent.
//!
//! Needs python3 with pyzmq (`pip install pyzmq`); `.ci/run` installs it.
//! A missing peer fails the test, saying what to install.

mod common;

use std::thread;
use std::time::Duration;

use common::libzmq_peer::Peer;
use common::*;
use tiermq::{Context, PeerState, Socket};

fn fast_heartbeat(s: &Socket) {
    s.set_heartbeat_ivl(50).unwrap();
    s.set_heartbeat_timeout(150).unwrap();
}

fn state_of(s: &Socket, endpoint: &str) -> Vec<PeerState> {
    s.peers()
        .into_iter()
        .filter(|p| p.endpoint == endpoint)
        .map(|p| p.state)
        .collect()
}

/// The scene, 100 times: a libzmq REP primary holds a request and
/// is frozen, sometimes past the heartbeat timeout (the request is resent
/// to the backup), sometimes not; it thaws, answers late, and later
/// requests fail back to it. Every reply must answer its own request.
#[test]
fn req_never_takes_a_frozen_servers_late_answer_for_the_next_request() {
    for correlate in [false, true] {
        let ctx = Context::new();
        let req = ctx.socket(tiermq::REQ).unwrap();
        req.set_req_correlate(correlate).unwrap();
        fast_heartbeat(&req);
        req.set_rcvtimeo(WAIT_MS).unwrap();
        req.set_sndprio(1).unwrap();
        req.bind("tcp://127.0.0.1:*").unwrap();
        let e1 = req.get_last_endpoint().unwrap().unwrap();
        req.set_sndprio(2).unwrap();
        req.bind("tcp://127.0.0.1:*").unwrap();
        let e2 = req.get_last_endpoint().unwrap().unwrap();
        let primary = Peer::start(&["rep", &e1, "primary"]);
        let _backup = Peer::start(&["rep", &e2, "backup"]);
        eventually("both servers ready", || ready(&req) == 2);

        let (mut from_primary, mut from_backup) = (0, 0);
        for round in 0..100u32 {
            // Hold 20..80 ms; freeze 0..450 ms (the timeout is 150 ms).
            let hold = 20 + (round * 7) % 61;
            let freeze = u64::from((round * 53) % 451);
            req.send(format!("hold:{hold}:{round}").as_bytes(), 0)
                .unwrap();
            thread::sleep(Duration::from_millis(5));
            primary.freeze();
            thread::sleep(Duration::from_millis(freeze));
            primary.thaw();
            let reply = req.recv_string(0).unwrap().unwrap();
            let (who, tag) = reply.split_once(':').unwrap();
            assert_eq!(
                tag,
                round.to_string(),
                "round {round} (correlate {correlate}) got {reply:?}"
            );
            match who {
                "primary" => from_primary += 1,
                "backup" => from_backup += 1,
                _ => panic!("{reply}"),
            }
        }
        let stale: u64 = req.peers().iter().map(|p| p.stale_replies).sum();
        eprintln!(
            "correlate {correlate}: {from_primary} from the primary, \
             {from_backup} from the backup, {stale} late answers dropped"
        );
        // Both paths ran: resends after deaths, and failbacks after thaws.
        assert!(from_backup > 0 && from_primary > 0);
        assert!(stale > 0, "no late answer was ever seen");
        let mut primary = primary;
        primary.assert_alive();
    }
}

/// SPEC §3: a libzmq PULL frozen under a trickle of messages is declared
/// dead, traffic fails over to the backup, and its connection stays open.
/// Thawed, it reads every message its kernel held, answers the heartbeat,
/// and traffic fails back to it. Every message arrives exactly once, and
/// the libzmq peer is never reset (libzmq aborts when written to a reset
/// connection).
#[test]
fn a_frozen_libzmq_pull_loses_nothing_and_takes_traffic_back() {
    const N: u64 = 600;
    let ctx = Context::new();
    let push = ctx.socket(tiermq::PUSH).unwrap();
    fast_heartbeat(&push);
    push.set_sndprio(1).unwrap();
    push.bind("tcp://127.0.0.1:*").unwrap();
    let e1 = push.get_last_endpoint().unwrap().unwrap();
    push.set_sndprio(2).unwrap();
    push.bind("tcp://127.0.0.1:*").unwrap();
    let e2 = push.get_last_endpoint().unwrap().unwrap();
    let mut primary = Peer::start(&["pull", &e1]);
    let backup = ctx.socket(tiermq::PULL).unwrap();
    backup.connect(&e2).unwrap();
    eventually("both peers ready", || ready(&push) == 2);

    let mut at_backup = Vec::new();
    let mut thawed_at = None;
    for n in 0..N {
        push.send(n.to_string().as_bytes(), 0).unwrap();
        at_backup.extend(drain_numbers(&backup));
        match n {
            100 => primary.freeze(),
            // Frozen for ~1 s of trickle: well past the 150 ms timeout.
            300 => {
                assert_eq!(state_of(&push, &e1), [PeerState::Dead], "declared dead");
                primary.thaw();
                eventually("the primary revives", || {
                    state_of(&push, &e1) == [PeerState::Ready]
                });
                thawed_at = Some(n);
            }
            _ => {}
        }
        thread::sleep(Duration::from_millis(5));
    }
    push.send("END", 0).unwrap();
    let mut at_primary = Vec::new();
    loop {
        let line = primary
            .lines
            .recv_timeout(Duration::from_secs(15))
            .expect("the primary's messages");
        if line == "END" {
            break;
        }
        at_primary.push(line.parse::<u64>().unwrap());
    }
    at_backup.extend(drain_numbers(&backup));
    assert_exactly_once(N, &[&at_primary, &at_backup]);
    let thawed_at = thawed_at.unwrap();
    assert!(
        at_primary.iter().any(|&n| n > thawed_at),
        "traffic failed back to the revived primary"
    );
    assert!(
        at_primary.iter().any(|&n| (100..thawed_at).contains(&n)),
        "the frozen primary still read what its kernel held"
    );
    assert!(
        !at_backup.is_empty(),
        "traffic failed over while it was dead"
    );
    primary.assert_alive();
}

/// Receives with DONTWAIT until nothing is left; messages are decimal
/// numbers (text, so the libzmq peer can print them).
fn drain_numbers(s: &Socket) -> Vec<u64> {
    let mut got = Vec::new();
    while let Ok(b) = s.recv_bytes(tiermq::DONTWAIT) {
        got.push(String::from_utf8(b).unwrap().parse().unwrap());
    }
    got
}
