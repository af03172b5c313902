//! Round-trip latency of a 16-byte message between two reactors over
//! loopback tcp (an echo thread on the far side), next to libzmq.
//!
//! `cargo run --release -p tiermq-transport --example reactor_latency -- [ROUND_TRIPS] [tiermq|libzmq]`

use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use tiermq_transport::{LinkOptions, Notification, Reactor, Sink};
use tiermq_wire::{Bytes, Item, Multipart, SocketType};

struct Forward(Mutex<mpsc::Sender<Notification>>);

impl Sink for Forward {
    fn notify(&self, n: Notification) {
        let _ = self.0.lock().unwrap().send(n);
    }
}

type Pipes = (tiermq_pipe::Writer<Item>, tiermq_pipe::Reader<Item>);

fn attached(rx: &mpsc::Receiver<Notification>) -> Pipes {
    loop {
        if let Notification::Attached { out, inp, .. } =
            rx.recv_timeout(Duration::from_secs(10)).expect("attached")
        {
            return (out, inp);
        }
    }
}

fn tiermq(round_trips: u32) -> Duration {
    let a = Reactor::spawn("lat-a").unwrap();
    let b = Reactor::spawn("lat-b").unwrap();
    let (tx_a, rx_a) = mpsc::channel();
    let (tx_b, rx_b) = mpsc::channel();
    let (_, bound) = a
        .bind(
            &"tcp://127.0.0.1:0".parse().unwrap(),
            LinkOptions::new(SocketType::Dealer),
            Arc::new(Forward(Mutex::new(tx_a))),
        )
        .unwrap();
    b.connect(
        &bound.parse().unwrap(),
        LinkOptions::new(SocketType::Dealer),
        Arc::new(Forward(Mutex::new(tx_b))),
    )
    .unwrap();
    let (b_out, b_in) = attached(&rx_b);
    let (a_out, a_in) = attached(&rx_a);
    let echo = thread::spawn(move || {
        for _ in 0..round_trips {
            let m = a_in.recv_deadline(None).unwrap();
            a_out.send_deadline(m, None).unwrap();
        }
    });
    let msg = Multipart::single(Bytes::from(vec![0u8; 16]));
    let start = Instant::now();
    for _ in 0..round_trips {
        b_out.send_deadline(msg.clone().into(), None).unwrap();
        b_in.recv_deadline(None).unwrap();
    }
    let elapsed = start.elapsed();
    echo.join().unwrap();
    elapsed / round_trips
}

fn libzmq(round_trips: u32) -> Duration {
    let ctx = zmq::Context::new();
    let a = ctx.socket(zmq::DEALER).unwrap();
    a.bind("tcp://127.0.0.1:*").unwrap();
    let bound = a.get_last_endpoint().unwrap().unwrap();
    let b = ctx.socket(zmq::DEALER).unwrap();
    b.connect(&bound).unwrap();
    let echo = thread::spawn(move || {
        for _ in 0..round_trips {
            let m = a.recv_bytes(0).unwrap();
            a.send(m, 0).unwrap();
        }
    });
    let payload = [0u8; 16];
    let start = Instant::now();
    for _ in 0..round_trips {
        b.send(&payload[..], 0).unwrap();
        b.recv_bytes(0).unwrap();
    }
    let elapsed = start.elapsed();
    echo.join().unwrap();
    elapsed / round_trips
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    // Optional second argument: run only "tiermq" or "libzmq".
    let only = std::env::args().nth(2);
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if run("tiermq") {
        println!("tiermq-transport tcp round trip: {:?}", tiermq(n));
    }
    if run("libzmq") {
        println!("libzmq           tcp round trip: {:?}", libzmq(n));
    }
}
