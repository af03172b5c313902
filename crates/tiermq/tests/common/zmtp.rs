//! A ZMTP peer played by hand over a raw TCP socket (NULL mechanism): the
//! greeting, READY, and short frames, for tests that check the bytes.

use std::io::Read;
use std::net::TcpStream;

/// A ZMTP 3.0 greeting with the NULL mechanism.
pub fn greeting_30(as_server: bool) -> Vec<u8> {
    greeting(0, as_server)
}

/// A ZMTP 3.`minor` greeting with the NULL mechanism.
pub fn greeting(minor: u8, as_server: bool) -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, minor];
    let mut mechanism = b"NULL".to_vec();
    mechanism.resize(20, 0);
    g.extend(mechanism);
    g.push(u8::from(as_server));
    g.resize(64, 0);
    g
}

/// A READY command announcing `socket_type`.
pub fn ready(socket_type: &str) -> Vec<u8> {
    let mut body = b"\x05READY".to_vec();
    body.push(11);
    body.extend(b"Socket-Type");
    body.extend((socket_type.len() as u32).to_be_bytes());
    body.extend(socket_type.as_bytes());
    let mut f = vec![0x04, body.len() as u8];
    f.extend(body);
    f
}

/// One short frame.
pub fn frame(flags: u8, body: &[u8]) -> Vec<u8> {
    let mut f = vec![flags, body.len() as u8];
    f.extend(body);
    f
}

/// Reads one frame: (is a command, body).
pub fn read_frame(s: &mut TcpStream) -> (bool, Vec<u8>) {
    let mut flags = [0u8; 1];
    s.read_exact(&mut flags).unwrap();
    let len = if flags[0] & 0x02 != 0 {
        let mut b = [0u8; 8];
        s.read_exact(&mut b).unwrap();
        u64::from_be_bytes(b)
    } else {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        u64::from(b[0])
    };
    assert!(len < 1 << 20, "a frame too long for this test: {len}");
    let mut body = vec![0u8; len as usize];
    s.read_exact(&mut body).unwrap();
    (flags[0] & 0x04 != 0, body)
}

/// Reads the peer's greeting and READY; returns the greeting's version.
pub fn handshake(s: &mut TcpStream) -> (u8, u8) {
    let mut g = [0u8; 64];
    s.read_exact(&mut g).unwrap();
    let (command, body) = read_frame(s);
    assert!(command && body.starts_with(b"\x05READY"), "{body:?}");
    (g[10], g[11])
}
