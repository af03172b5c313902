//! Throughput of PUSH -> PULL between two reactors over loopback tcp (and
//! ipc), next to libzmq doing the same, for a rough comparison.
//!
//! `cargo run --release -p tiermq-transport --example reactor_throughput -- [COUNT] [SIZE] [ONLY]`

use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use tiermq_transport::{Endpoint, LinkOptions, Notification, Reactor, Sink};
use tiermq_wire::{Bytes, Item, Multipart, SocketType};

struct Forward(Mutex<mpsc::Sender<Notification>>);

impl Sink for Forward {
    fn notify(&self, n: Notification) {
        let _ = self.0.lock().unwrap().send(n);
    }
}

fn attached(
    rx: &mpsc::Receiver<Notification>,
) -> (tiermq_pipe::Writer<Item>, tiermq_pipe::Reader<Item>) {
    loop {
        if let Notification::Attached { out, inp, .. } =
            rx.recv_timeout(Duration::from_secs(10)).expect("attached")
        {
            return (out, inp);
        }
    }
}

fn tiermq(endpoint: &str, count: u64, size: usize, one_reactor: bool) -> f64 {
    let a = Reactor::spawn("bench-pull").unwrap();
    let b2;
    let b = if one_reactor {
        &a
    } else {
        b2 = Reactor::spawn("bench-push").unwrap();
        &b2
    };
    let (tx_a, rx_a) = mpsc::channel();
    let (tx_b, rx_b) = mpsc::channel();
    let ep: Endpoint = endpoint.parse().unwrap();
    let (_, bound) = a
        .bind(
            &ep,
            LinkOptions::new(SocketType::Pull),
            Arc::new(Forward(Mutex::new(tx_a))),
        )
        .unwrap();
    b.connect(
        &bound.parse().unwrap(),
        LinkOptions::new(SocketType::Push),
        Arc::new(Forward(Mutex::new(tx_b))),
    )
    .unwrap();
    let (out, _push_in) = attached(&rx_b);
    let (_pull_out, inp) = attached(&rx_a);
    let payload = Bytes::from(vec![0u8; size]);
    let start = Instant::now();
    let sender = thread::spawn(move || {
        for _ in 0..count {
            out.send_deadline(Multipart::single(payload.clone()).into(), None)
                .unwrap();
        }
        out
    });
    let mut batch = Vec::with_capacity(1024);
    let mut got = 0;
    while got < count {
        match inp.recv_batch(&mut batch, 1024) {
            Ok(n) => {
                got += n as u64;
                batch.clear();
            }
            Err(_) => {
                let m = inp.recv_deadline(None).unwrap();
                drop(m);
                got += 1;
            }
        }
    }
    let elapsed = start.elapsed();
    drop(sender.join());
    count as f64 / elapsed.as_secs_f64()
}

fn libzmq(endpoint: &str, count: u64, size: usize) -> f64 {
    let ctx = zmq::Context::new();
    let pull = ctx.socket(zmq::PULL).unwrap();
    pull.bind(endpoint).unwrap();
    let bound = pull.get_last_endpoint().unwrap().unwrap();
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.connect(&bound).unwrap();
    let payload = vec![0u8; size];
    // Wait for the connection so the clock measures transfer only.
    push.send(&payload[..], 0).unwrap();
    pull.recv_bytes(0).unwrap();
    let start = Instant::now();
    let sender = thread::spawn(move || {
        for _ in 0..count {
            push.send(&payload[..], 0).unwrap();
        }
        push
    });
    let mut msg = zmq::Message::new();
    for _ in 0..count {
        pull.recv(&mut msg, 0).unwrap();
    }
    let elapsed = start.elapsed();
    drop(sender.join());
    count as f64 / elapsed.as_secs_f64()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    // Optional third argument: run only "tcp1", "tcp2", "ipc1", "ipc2" or "libzmq".
    let only = args.next();
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let ipc = format!("ipc://{}/tiermq-bench.sock", std::env::temp_dir().display());
    for (name, ep) in [("tcp", "tcp://127.0.0.1:0"), ("ipc", ipc.as_str())] {
        for (threads, one) in [("1 I/O thread ", true), ("2 I/O threads", false)] {
            if !run(&format!("{name}{}", if one { 1 } else { 2 })) {
                continue;
            }
            let rate = tiermq(ep, count, size, one);
            println!(
                "tiermq-transport {name}, {threads}: {count} x {size} B: {:.2} M msg/s, {:.0} MB/s",
                rate / 1e6,
                rate * size as f64 / 1e6
            );
        }
    }
    if !run("libzmq") {
        return;
    }
    let rate = libzmq("tcp://127.0.0.1:*", count, size);
    println!(
        "libzmq           tcp, 1 I/O thread : {count} x {size} B: {:.2} M msg/s, {:.0} MB/s",
        rate / 1e6,
        rate * size as f64 / 1e6
    );
}
