//! Two wire sessions, a PUSH and a PULL, talking in memory: prints every
//! byte that crosses and the events each side sees.
//!
//! Run with `cargo run -p tiermq-wire --example handshake`.

use std::io::IoSlice;
use std::time::Instant;
use tiermq_wire::{Bytes, BytesMut, Config, Multipart, Session, SocketType};

/// Moves `from`'s output into `to`, printing it. Returns false if none.
fn pump(name: &str, from: &mut Session, to: &mut Session, buf: &mut BytesMut) -> bool {
    let mut bytes = Vec::new();
    while from.has_output() {
        let mut slices = [IoSlice::new(&[]); 8];
        let n = from.chunks_vectored(&mut slices);
        let written: usize = slices[..n].iter().map(|s| s.len()).sum();
        for s in &slices[..n] {
            bytes.extend_from_slice(s);
        }
        from.advance(written);
    }
    if bytes.is_empty() {
        return false;
    }
    println!("{name} ({} bytes):", bytes.len());
    for line in bytes.chunks(16) {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        let text: String = line
            .iter()
            .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
            .collect();
        println!("  {:<48} {text}", hex.join(" "));
    }
    buf.extend_from_slice(&bytes);
    if let Err(e) = to.handle_read(buf, Instant::now()) {
        eprintln!("protocol error: {e}");
        std::process::exit(1);
    }
    true
}

fn main() {
    let now = Instant::now();
    let mut push_cfg = Config::new(SocketType::Push);
    push_cfg
        .properties
        .push(("X-Demo".into(), Bytes::from_static(b"yes")));
    let mut push = Session::new(push_cfg, now);
    let mut pull = Session::new(Config::new(SocketType::Pull), now);
    push.send(Multipart::single(Bytes::from_static(b"hello")));
    push.send(Multipart::from(vec![
        Bytes::from_static(b"multi"),
        Bytes::from_static(b"part"),
    ]));

    let (mut to_pull, mut to_push) = (BytesMut::new(), BytesMut::new());
    loop {
        let a = pump("PUSH -> PULL", &mut push, &mut pull, &mut to_pull);
        let b = pump("PULL -> PUSH", &mut pull, &mut push, &mut to_push);
        if !a && !b {
            break;
        }
    }
    while let Some(event) = pull.poll_event() {
        println!("PULL event: {event:?}");
    }
    while let Some(event) = push.poll_event() {
        println!("PUSH event: {event:?}");
    }
    if let Some(peer) = pull.peer() {
        for (name, value) in peer.metadata.iter() {
            println!("PULL sees peer property {name} = {:?}", value);
        }
    }
}
