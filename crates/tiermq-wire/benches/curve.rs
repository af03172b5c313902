//! CURVE's per-message cost next to NULL's: a PUSH session encoding (and
//! under CURVE encrypting) single-frame messages, and a PULL session
//! decrypting and decoding them, both past their handshake with each other.
//! Randomness is `fuzz::Counter`, so every run encrypts the same bytes.
//!
//! Each benchmark's iteration is one message, so criterion's time is the
//! cost per message. Messages go in chunks of [`CHUNK`]: the sender drains
//! its output after each chunk, as a vectored writer would, and the
//! receiver reads each chunk's bytes from one buffer (copied in, standing
//! in for the socket read). The receiver's input is encrypted untimed, with
//! nonces that keep increasing, as a real stream's do.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::IoSlice;
use std::time::{Duration, Instant};
use tiermq_wire::fuzz::{Counter, output};
use tiermq_wire::{Bytes, BytesMut, Config, Event, Mechanism, Multipart, Session, SocketType};

const SIZES: [usize; 4] = [16, 256, 4096, 65536];
/// Messages per chunk: a few batches' worth of small messages.
const CHUNK: u64 = 256;

const SERVER_SECRET: [u8; 32] = [0x42; 32];
const CLIENT_SECRET: [u8; 32] = [0x17; 32];

/// A PUSH (client) and a PULL (server) session past their handshake.
fn pair(curve: bool) -> (Session, Session) {
    let now = Instant::now();
    let mut push = Config::new(SocketType::Push);
    let mut pull = Config::new(SocketType::Pull);
    if curve {
        push.mechanism = Mechanism::CurveClient {
            secret_key: CLIENT_SECRET,
            server_key: tiermq_wire::curve_public_key(&SERVER_SECRET),
        };
        pull.mechanism = Mechanism::CurveServer {
            secret_key: SERVER_SECRET,
        };
    }
    let mut tx = Session::with_random(push, now, Box::new(Counter(1)));
    let mut rx = Session::with_random(pull, now, Box::new(Counter(2)));
    let (mut to_rx, mut to_tx) = (BytesMut::new(), BytesMut::new());
    for _ in 0..8 {
        to_rx.extend_from_slice(&output(&mut tx, usize::MAX));
        rx.handle_read(&mut to_rx, now)
            .expect("handshake (receiver)");
        to_tx.extend_from_slice(&output(&mut rx, usize::MAX));
        tx.handle_read(&mut to_tx, now).expect("handshake (sender)");
    }
    assert_eq!(tx.poll_event(), Some(Event::Ready));
    assert_eq!(rx.poll_event(), Some(Event::Ready));
    (tx, rx)
}

/// Takes all of `s`'s output as a vectored writer would (no copy).
fn drain(s: &mut Session) -> usize {
    let mut total = 0;
    while s.has_output() {
        let mut slices = [IoSlice::new(&[]); 64];
        let n = s.chunks_vectored(&mut slices);
        let len: usize = slices[..n].iter().map(|s| s.len()).sum();
        black_box(&slices[..n]);
        s.advance(len);
        total += len;
    }
    total
}

fn mechanism(curve: bool) -> &'static str {
    if curve { "curve" } else { "null" }
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    for size in SIZES {
        for curve in [false, true] {
            let msg = Multipart::single(Bytes::from(vec![0xA5u8; size]));
            let (mut tx, _rx) = pair(curve);
            let id = BenchmarkId::new(mechanism(curve), size);
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(CHUNK);
                        for _ in 0..n {
                            tx.send(msg.clone());
                        }
                        black_box(drain(&mut tx));
                        left -= n;
                    }
                    start.elapsed()
                })
            });
        }
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    for size in SIZES {
        for curve in [false, true] {
            let msg = Multipart::single(Bytes::from(vec![0x5Au8; size]));
            let (mut tx, mut rx) = pair(curve);
            let id = BenchmarkId::new(mechanism(curve), size);
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    let mut timed = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(CHUNK);
                        for _ in 0..n {
                            tx.send(msg.clone());
                        }
                        let stream = output(&mut tx, usize::MAX);
                        let start = Instant::now();
                        let mut buf = BytesMut::from(&stream[..]);
                        rx.handle_read(&mut buf, Instant::now())
                            .expect("valid stream");
                        let mut got = 0;
                        while let Some(e) = rx.poll_event() {
                            if let Event::Message(m) = e {
                                got += 1;
                                black_box(m);
                            }
                        }
                        timed += start.elapsed();
                        assert_eq!(got, n);
                        left -= n;
                    }
                    timed
                })
            });
        }
    }
    group.finish();
}

criterion_group!(curve, encode, decode);
criterion_main!(curve);
