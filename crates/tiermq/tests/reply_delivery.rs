//! Every reply is delivered, once: long runs of round trips over inproc, tcp
//! and ipc (REQ/REP, DEALER/ROUTER, PUSH/PULL), many short sessions, and
//! servers (libzmq and tiermq) that reply and close at once. A reply lost to
//! a missed wake-up or to a needless resend shows as a receive that times
//! out; waits are bounded, never timed assertions.

mod common;

use std::thread;

use common::*;
use tiermq::{Context, DEALER, DONTWAIT, Error, PULL, PUSH, REP, REQ, ROUTER, Socket};

/// Round trips per long run.
const TRIPS: u64 = 2000;
/// Servers that reply then close, per test.
const CLOSING: usize = 200;

fn endpoint(transport: &str, name: &str) -> String {
    match transport {
        "tcp" => "tcp://127.0.0.1:*".to_owned(),
        "ipc" => {
            let p = std::env::temp_dir()
                .join(format!("tiermq-reply-{}-{name}.ipc", std::process::id()));
            format!("ipc://{}", p.display())
        }
        _ => format!("inproc://reply-{name}"),
    }
}

fn socket(ctx: &Context, kind: tiermq::SocketType) -> Socket {
    let s = ctx.socket(kind).unwrap();
    s.set_rcvtimeo(WAIT_MS).unwrap();
    s.set_sndtimeo(WAIT_MS).unwrap();
    s
}

/// A server of `kind` bound on `transport`, and the endpoint to connect to.
fn bound(ctx: &Context, kind: tiermq::SocketType, transport: &str, name: &str) -> (Socket, String) {
    let s = socket(ctx, kind);
    s.bind(&endpoint(transport, name)).unwrap();
    let ep = s.get_last_endpoint().unwrap().unwrap();
    (s, ep)
}

fn req_rep_round_trips(transport: &str) {
    let ctx = Context::new();
    let (rep, ep) = bound(&ctx, REP, transport, &format!("rr-{transport}"));
    let req = socket(&ctx, REQ);
    req.connect(&ep).unwrap();
    thread::scope(|s| {
        // The server stays open until the client is done.
        let server = s.spawn(move || {
            for _ in 0..TRIPS {
                let m = rep.recv_bytes(0).expect("a request within the timeout");
                rep.send(m, 0).unwrap();
            }
            rep
        });
        for i in 0..TRIPS {
            req.send(seq(i), 0).unwrap();
            let got = req
                .recv_bytes(0)
                .unwrap_or_else(|e| panic!("reply {i} within the timeout: {e}; {:?}", req.peers()));
            assert_eq!(unseq(&got), i);
        }
        drop(server.join().unwrap());
    });
}

#[test]
fn req_rep_round_trips_inproc() {
    req_rep_round_trips("inproc");
}

#[test]
fn req_rep_round_trips_tcp() {
    req_rep_round_trips("tcp");
}

#[test]
fn req_rep_round_trips_ipc() {
    req_rep_round_trips("ipc");
}

fn dealer_router_round_trips(transport: &str) {
    let ctx = Context::new();
    let (router, ep) = bound(&ctx, ROUTER, transport, &format!("dr-{transport}"));
    let dealer = socket(&ctx, DEALER);
    dealer.connect(&ep).unwrap();
    thread::scope(|s| {
        // The server stays open until the client is done.
        let server = s.spawn(move || {
            for _ in 0..TRIPS {
                let m = router
                    .recv_multipart(0)
                    .expect("a request within the timeout");
                router.send_multipart(m, 0).unwrap();
            }
            router
        });
        for i in 0..TRIPS {
            dealer.send(seq(i), 0).unwrap();
            let got = dealer.recv_bytes(0).expect("a reply within the timeout");
            assert_eq!(unseq(&got), i);
        }
        drop(server.join().unwrap());
    });
}

#[test]
fn dealer_router_round_trips_inproc() {
    dealer_router_round_trips("inproc");
}

#[test]
fn dealer_router_round_trips_tcp() {
    dealer_router_round_trips("tcp");
}

#[test]
fn dealer_router_round_trips_ipc() {
    dealer_router_round_trips("ipc");
}

/// PUSH/PULL ping-pong: each side blocks in `recv` on an empty pipe every
/// time, the case an edge-triggered wake-up must never miss.
fn push_pull_ping_pong(transport: &str) {
    let ctx = Context::new();
    let (pull_a, ep_a) = bound(&ctx, PULL, transport, &format!("ppa-{transport}"));
    let (pull_b, ep_b) = bound(&ctx, PULL, transport, &format!("ppb-{transport}"));
    let push_a = socket(&ctx, PUSH);
    push_a.connect(&ep_a).unwrap();
    let push_b = socket(&ctx, PUSH);
    push_b.connect(&ep_b).unwrap();
    thread::scope(|s| {
        // The server stays open until the client is done.
        let server = s.spawn(move || {
            for _ in 0..TRIPS {
                let m = pull_a.recv_bytes(0).expect("a ping within the timeout");
                push_b.send(m, 0).unwrap();
            }
            (pull_a, push_b)
        });
        for i in 0..TRIPS {
            push_a.send(seq(i), 0).unwrap();
            let got = pull_b.recv_bytes(0).expect("a pong within the timeout");
            assert_eq!(unseq(&got), i);
        }
        drop(server.join().unwrap());
    });
}

#[test]
fn push_pull_ping_pong_inproc() {
    push_pull_ping_pong("inproc");
}

#[test]
fn push_pull_ping_pong_tcp() {
    push_pull_ping_pong("tcp");
}

/// Clients per server in the fan-in runs, and round trips per client.
const CLIENTS: u64 = 4;
const CLIENT_TRIPS: u64 = 500;

/// Several REQs (or DEALERs) on their own threads share one REP (or
/// ROUTER): the server fair-queues over several pipes, each of which goes
/// empty and wakes it again many times.
fn fan_in(transport: &str, server_kind: tiermq::SocketType, client_kind: tiermq::SocketType) {
    let ctx = Context::new();
    let name = format!("fan-{transport}-{server_kind:?}");
    let (server, ep) = bound(&ctx, server_kind, transport, &name);
    thread::scope(|s| {
        let server = s.spawn(move || {
            for _ in 0..CLIENTS * CLIENT_TRIPS {
                let m = server
                    .recv_multipart(0)
                    .expect("a request within the timeout");
                server.send_multipart(m, 0).unwrap();
            }
            server
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let client = socket(&ctx, client_kind);
                client.connect(&ep).unwrap();
                s.spawn(move || {
                    for i in 0..CLIENT_TRIPS {
                        let n = c * 1_000_000 + i;
                        client.send(seq(n), 0).unwrap();
                        let got = client.recv_bytes(0).unwrap_or_else(|e| {
                            panic!("client {c}: reply {i} within the timeout: {e}")
                        });
                        assert_eq!(unseq(&got), n);
                    }
                    client
                })
            })
            .collect();
        let clients: Vec<Socket> = clients.into_iter().map(|c| c.join().unwrap()).collect();
        drop(server.join().unwrap());
        drop(clients);
    });
}

#[test]
fn reqs_share_a_rep_inproc() {
    fan_in("inproc", REP, REQ);
}

#[test]
fn reqs_share_a_rep_tcp() {
    fan_in("tcp", REP, REQ);
}

#[test]
fn dealers_share_a_router_inproc() {
    fan_in("inproc", ROUTER, DEALER);
}

#[test]
fn dealers_share_a_router_ipc() {
    fan_in("ipc", ROUTER, DEALER);
}

/// PUSHes that send a few messages and close at once: the PULL gets them
/// all, in order, over inproc (they stay in the pipe) and tcp (the closing
/// socket lingers until they are written).
#[test]
fn pull_gets_everything_from_pushes_that_close_at_once() {
    let ctx = Context::new();
    for transport in ["inproc", "tcp"] {
        let (pull, ep) = bound(&ctx, PULL, transport, "closing-pushes");
        for n in 0..100u64 {
            let push = socket(&ctx, PUSH);
            push.connect(&ep).unwrap();
            for i in 0..10 {
                push.send(seq(n * 10 + i), 0).unwrap();
            }
            drop(push);
            let got = recv_n(&pull, 10);
            let want: Vec<u64> = (0..10).map(|i| n * 10 + i).collect();
            assert_eq!(got, want, "{transport} push {n}");
        }
        assert_eq!(pull.recv_bytes(DONTWAIT), Err(Error::EAGAIN));
    }
}

/// A ROUTER that replies then closes at once: the DEALER still reads the
/// reply (its input outlives the connection), over inproc and tcp.
#[test]
fn dealer_reads_the_reply_of_a_router_that_closed() {
    let ctx = Context::new();
    for transport in ["inproc", "tcp"] {
        for n in 0..100u64 {
            let (router, ep) = bound(&ctx, ROUTER, transport, &format!("closing-router-{n}"));
            let dealer = socket(&ctx, DEALER);
            dealer.connect(&ep).unwrap();
            let server = thread::spawn(move || {
                let m = router
                    .recv_multipart(0)
                    .expect("a request within the timeout");
                router.send_multipart(m, 0).unwrap();
            });
            dealer.send(seq(n), 0).unwrap();
            let got = dealer
                .recv_bytes(0)
                .unwrap_or_else(|e| panic!("{transport} {n}: the reply: {e}"));
            assert_eq!(unseq(&got), n);
            server.join().unwrap();
        }
    }
}

/// Sessions of a few round trips each, on a fresh REQ and REP every time,
/// the REP closed right after its last reply.
#[test]
fn many_short_sessions_inproc_and_tcp() {
    let ctx = Context::new();
    for transport in ["inproc", "tcp"] {
        for n in 0..100u64 {
            let (rep, ep) = bound(&ctx, REP, transport, &format!("short-{n}"));
            let req = socket(&ctx, REQ);
            req.connect(&ep).unwrap();
            thread::scope(|s| {
                s.spawn(move || {
                    for _ in 0..3 {
                        let m = rep.recv_bytes(0).expect("a request within the timeout");
                        rep.send(m, 0).unwrap();
                    }
                    drop(rep);
                });
                for i in 0..3 {
                    req.send(seq(n * 10 + i), 0).unwrap();
                    let got = req.recv_bytes(0).expect("a reply within the timeout");
                    assert_eq!(unseq(&got), n * 10 + i, "{transport} session {n}");
                }
            });
        }
    }
}

/// A REQ with a server that replies then closes at once (`serve` runs one
/// such server on the endpoint it is given; the thread returns the sequence
/// number of the one request it read and answered), and a second-tier
/// backup REP that must never see the request: the reply that arrived
/// before the close answers it, so nothing is resent.
fn reply_then_close(transport: &str, serve: impl Fn(&str) -> thread::JoinHandle<u64>) {
    let ctx = Context::new();
    let (backup, backup_ep) = bound(&ctx, REP, "tcp", "backup");
    for n in 0..CLOSING {
        let ep = match transport {
            "tcp" => {
                let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let ep = format!("tcp://{}", probe.local_addr().unwrap());
                drop(probe);
                ep
            }
            _ => endpoint(transport, &format!("closing-{n}")),
        };
        let server = serve(&ep);
        let req = socket(&ctx, REQ);
        req.set_linger(0).unwrap();
        req.set_sndprio(1).unwrap();
        req.connect(&ep).unwrap();
        req.set_sndprio(2).unwrap();
        req.connect(&backup_ep).unwrap();
        eventually("server and backup connected", || ready(&req) == 2);
        req.send(seq(n as u64), 0).unwrap();
        let got = req.recv_bytes(0).expect("the reply sent before the close");
        assert_eq!(unseq(&got), n as u64 + 1000, "iteration {n}");
        assert_eq!(
            req.recv_bytes(DONTWAIT),
            Err(Error::EFSM),
            "answered: the REQ waits for a new request"
        );
        assert_eq!(
            server.join().unwrap(),
            n as u64,
            "iteration {n}: the request the server answered"
        );
        // Once the REQ has seen the server go (a resend would have been
        // handed to the backup's pipe then), nothing may have been resent.
        eventually("the REQ sees the server gone", || ready(&req) == 1);
        assert_eq!(
            sent_to(&req, &backup_ep),
            0,
            "iteration {n}: the answered request was resent; {:?}",
            req.peers()
        );
        assert_eq!(
            backup.recv_bytes(DONTWAIT),
            Err(Error::EAGAIN),
            "iteration {n}: the answered request was resent"
        );
        assert!(
            req.peers().iter().all(|p| p.rerouted == 0),
            "iteration {n}: {:?}",
            req.peers()
        );
    }
}

fn libzmq_server(ep: &str) -> thread::JoinHandle<u64> {
    let zctx = zmq::Context::new();
    let rep = zctx.socket(zmq::REP).unwrap();
    rep.set_rcvtimeo(WAIT_MS).unwrap();
    rep.set_linger(WAIT_MS).unwrap();
    rep.bind(ep).unwrap();
    thread::spawn(move || {
        let m = unseq(&rep.recv_bytes(0).expect("a request within the timeout"));
        rep.send(seq(m + 1000), 0).unwrap();
        drop(rep);
        drop(zctx);
        m
    })
}

fn tiermq_server(ep: &str) -> thread::JoinHandle<u64> {
    let ctx = Context::new();
    let rep = socket(&ctx, REP);
    rep.bind(ep).unwrap();
    thread::spawn(move || {
        let m = unseq(&rep.recv_bytes(0).expect("a request within the timeout"));
        rep.send(seq(m + 1000), 0).unwrap();
        drop(rep);
        drop(ctx);
        m
    })
}

#[test]
fn reply_then_close_libzmq_rep_tcp() {
    reply_then_close("tcp", libzmq_server);
}

#[test]
fn reply_then_close_libzmq_rep_ipc() {
    reply_then_close("ipc", libzmq_server);
}

#[test]
fn reply_then_close_tiermq_rep_tcp() {
    reply_then_close("tcp", tiermq_server);
}

/// Over inproc the server must share the REQ's context.
#[test]
fn reply_then_close_tiermq_rep_inproc() {
    let ctx = Context::new();
    let (backup, backup_ep) = bound(&ctx, REP, "tcp", "backup-inproc");
    for n in 0..CLOSING as u64 {
        let (rep, ep) = bound(&ctx, REP, "inproc", &format!("closing-{n}"));
        let req = socket(&ctx, REQ);
        req.set_sndprio(1).unwrap();
        req.connect(&ep).unwrap();
        req.set_sndprio(2).unwrap();
        req.connect(&backup_ep).unwrap();
        eventually("server and backup connected", || ready(&req) == 2);
        let server = thread::spawn(move || {
            let m = unseq(&rep.recv_bytes(0).expect("a request within the timeout"));
            rep.send(seq(m + 1000), 0).unwrap();
            drop(rep);
            m
        });
        req.send(seq(n), 0).unwrap();
        let got = req.recv_bytes(0).expect("the reply sent before the close");
        assert_eq!(unseq(&got), n + 1000, "iteration {n}");
        assert_eq!(
            server.join().unwrap(),
            n,
            "iteration {n}: the request the server answered"
        );
        eventually("the REQ sees the server gone", || ready(&req) == 1);
        assert_eq!(
            sent_to(&req, &backup_ep),
            0,
            "iteration {n}: the answered request was resent; {:?}",
            req.peers()
        );
        assert_eq!(
            backup.recv_bytes(DONTWAIT),
            Err(Error::EAGAIN),
            "iteration {n}: the answered request was resent"
        );
        assert!(
            req.peers().iter().all(|p| p.rerouted == 0),
            "iteration {n}: {:?}",
            req.peers()
        );
    }
}
