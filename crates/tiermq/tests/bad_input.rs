//! Garbage, an HTTP request, a truncated greeting and a frame over
//! MAXMSGSIZE sent to a bound PULL close those connections only: the
//! socket goes on serving its real peers.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

fn tcp_addr(endpoint: &str) -> String {
    endpoint.trim_start_matches("tcp://").to_owned()
}

/// Reads `s` until the socket closes the connection: end of stream, or a
/// reset. Whatever the socket writes first (its greeting) is skipped. A read
/// that times out (10 s) means the connection was left open: that fails, as
/// does any other error.
fn assert_closed_by_peer(name: &str, s: &mut TcpStream) {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 1024];
    for _ in 0..64 {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => match e.kind() {
                ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe => return,
                ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                    panic!("{name}: the socket left the connection open (no close within 10 s)")
                }
                _ => panic!("{name}: reading for the close failed: {e}"),
            },
        }
    }
    panic!("{name}: the socket kept writing (64 reads) instead of closing the connection");
}

#[test]
fn bad_peers_do_not_disturb_good_ones() {
    let ctx = tiermq::Context::new();
    let pull = ctx.socket(tiermq::PULL).unwrap();
    pull.set_handshake_ivl(500).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let ep = pull.get_last_endpoint().unwrap().unwrap();
    let addr = tcp_addr(&ep);

    let good = ctx.socket(tiermq::PUSH).unwrap();
    good.connect(&ep).unwrap();
    good.send(seq(0), 0).unwrap();
    assert_eq!(recv_n(&pull, 1), vec![0]);

    let mut garbage = TcpStream::connect(&addr).unwrap();
    garbage.write_all(&[0xAB; 4096]).unwrap();
    let mut http = TcpStream::connect(&addr).unwrap();
    http.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut truncated = TcpStream::connect(&addr).unwrap();
    truncated.write_all(&[0xFF, 0, 0, 0, 0]).unwrap();
    // A greeting claiming a frame far larger than anything sent.
    let mut huge = TcpStream::connect(&addr).unwrap();
    let mut greeting = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1];
    greeting.extend_from_slice(b"NULL");
    greeting.resize(64, 0);
    greeting.extend_from_slice(&[0x06, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    huge.write_all(&greeting).unwrap();

    // The good peer keeps being served meanwhile.
    for n in 1..100 {
        good.send(seq(n), 0).unwrap();
    }
    assert_eq!(recv_n(&pull, 99), (1..100).collect::<Vec<_>>());

    // The bad connections are closed by the socket (the truncated one by the
    // handshake timeout); none of them produced a message.
    for (name, s) in [
        ("garbage", &mut garbage),
        ("http", &mut http),
        ("truncated", &mut truncated),
        ("huge", &mut huge),
    ] {
        assert_closed_by_peer(name, s);
    }
    assert_eq!(
        pull.recv_bytes(tiermq::DONTWAIT),
        Err(tiermq::Error::EAGAIN)
    );

    // And new good peers still get in.
    let late = ctx.socket(tiermq::PUSH).unwrap();
    late.connect(&ep).unwrap();
    late.send(seq(100), 0).unwrap();
    assert_eq!(recv_n(&pull, 1), vec![100]);
}

/// A peer past its handshake that announces a message frame over
/// MAXMSGSIZE is dropped on the header alone, before any of the body
/// arrives (the receiver reserves nothing for a claimed size); a message
/// within the limit from the same kind of peer still gets through.
#[test]
fn a_frame_over_maxmsgsize_is_refused_on_its_header() {
    let ctx = tiermq::Context::new();
    let pull = ctx.socket(tiermq::PULL).unwrap();
    pull.set_maxmsgsize(1000).unwrap();
    pull.set_rcvtimeo(WAIT_MS).unwrap();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let addr = tcp_addr(&pull.get_last_endpoint().unwrap().unwrap());
    let opening = [zmtp::greeting(1, false), zmtp::ready("PUSH")].concat();

    let mut big = TcpStream::connect(&addr).unwrap();
    big.write_all(&opening).unwrap();
    let mut header = vec![0x02];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    big.write_all(&header).unwrap();
    assert_closed_by_peer("over MAXMSGSIZE", &mut big);

    let mut fine = TcpStream::connect(&addr).unwrap();
    fine.write_all(&opening).unwrap();
    let mut frame = vec![0x02];
    frame.extend_from_slice(&1000u64.to_be_bytes());
    frame.extend_from_slice(&[7u8; 1000]);
    fine.write_all(&frame).unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), vec![7u8; 1000]);
}
