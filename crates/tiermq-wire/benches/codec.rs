//! Codec throughput: encoding (send + chunks_vectored + advance, no actual
//! write) and decoding (copy into a read buffer + handle_read + poll_event)
//! of single-frame messages on a session past its handshake.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::IoSlice;
use std::time::Instant;
use tiermq_wire::{Bytes, BytesMut, Config, Event, Multipart, Session, SocketType, fuzz};

const SIZES: [usize; 4] = [16, 256, 4096, 65536];

/// Messages per iteration: about 1 MiB of payload.
fn count(size: usize) -> usize {
    ((1 << 20) / size).max(1)
}

/// A session of `ours` whose peer (`theirs`) has completed the handshake.
fn ready(ours: SocketType, theirs: SocketType) -> Session {
    let now = Instant::now();
    let mut s = Session::new(Config::new(ours), now);
    s.handle_input(&fuzz::peer_opening(theirs), now).unwrap();
    assert!(s.is_ready());
    drain(&mut s, None);
    while s.poll_event().is_some() {}
    s
}

/// Takes all output as a vectored writer would, optionally keeping a copy.
fn drain(s: &mut Session, mut keep: Option<&mut Vec<u8>>) -> usize {
    let mut total = 0;
    while s.has_output() {
        let mut slices = [IoSlice::new(&[]); 64];
        let n = s.chunks_vectored(&mut slices);
        let len: usize = slices[..n].iter().map(|s| s.len()).sum();
        if let Some(keep) = keep.as_deref_mut() {
            for sl in &slices[..n] {
                keep.extend_from_slice(sl);
            }
        }
        black_box(&slices[..n]);
        s.advance(len);
        total += len;
    }
    total
}

/// `n` messages of `size` bytes, counted as messages or as bytes.
fn throughput(unit: &str, n: usize, size: usize) -> Throughput {
    if unit == "msgs" {
        Throughput::Elements(n as u64)
    } else {
        Throughput::Bytes((n * size) as u64)
    }
}

fn encode(c: &mut Criterion, unit: &str) {
    let mut group = c.benchmark_group(format!("encode_{unit}"));
    for size in SIZES {
        let n = count(size);
        group.throughput(throughput(unit, n, size));
        let msg = Multipart::single(Bytes::from(vec![0xA5u8; size]));
        let mut s = ready(SocketType::Push, SocketType::Pull);
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter(|| {
                for _ in 0..n {
                    s.send(msg.clone());
                }
                black_box(drain(&mut s, None))
            })
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion, unit: &str) {
    let mut group = c.benchmark_group(format!("decode_{unit}"));
    for size in SIZES {
        let n = count(size);
        group.throughput(throughput(unit, n, size));
        // The wire bytes of `n` messages, as a PUSH would write them.
        let mut sender = ready(SocketType::Push, SocketType::Pull);
        for _ in 0..n {
            sender.send(Multipart::single(Bytes::from(vec![0x5Au8; size])));
        }
        let mut stream = Vec::with_capacity(n * (size + 9));
        drain(&mut sender, Some(&mut stream));
        let mut s = ready(SocketType::Pull, SocketType::Push);
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter(|| {
                // Stands in for the socket read into a fresh buffer.
                let mut buf = BytesMut::from(&stream[..]);
                s.handle_read(&mut buf, Instant::now()).unwrap();
                let mut got = 0;
                while let Some(e) = s.poll_event() {
                    if let Event::Message(m) = e {
                        got += m.len();
                    }
                }
                assert_eq!(got, n);
            })
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    for unit in ["msgs", "bytes"] {
        encode(c, unit);
        decode(c, unit);
    }
}

criterion_group!(codec, benches);
criterion_main!(codec);
