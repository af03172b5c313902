//! Helpers shared by the integration tests: move bytes between sessions.
#![allow(dead_code, unreachable_pub)]

use std::time::Instant;
use tiermq_wire::{BytesMut, Config, Error, Event, Session, SocketType};

/// Everything `s` wants to write, taking at most `max_write` bytes per write.
pub use tiermq_wire::fuzz::output;

/// Moves `from`'s output into `to` via `buf`.
pub fn transfer(
    from: &mut Session,
    to: &mut Session,
    buf: &mut BytesMut,
    now: Instant,
) -> Result<bool, Error> {
    let bytes = output(from, usize::MAX);
    if bytes.is_empty() {
        return Ok(false);
    }
    buf.extend_from_slice(&bytes);
    to.handle_read(buf, now)?;
    Ok(true)
}

/// Exchanges bytes until both are quiet.
pub fn drive(a: &mut Session, b: &mut Session, now: Instant) -> Result<(), Error> {
    let (mut ab, mut ba) = (BytesMut::new(), BytesMut::new());
    for _ in 0..100 {
        let moved_ab = transfer(a, b, &mut ab, now)?;
        let moved_ba = transfer(b, a, &mut ba, now)?;
        if !moved_ab && !moved_ba {
            return Ok(());
        }
    }
    panic!("sessions never went quiet");
}

pub fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// Two sessions of the given types, handshake done, Ready events drained.
pub fn connected(a: SocketType, b: SocketType, now: Instant) -> (Session, Session) {
    connected_with(Config::new(a), Config::new(b), now)
}

pub fn connected_with(a: Config, b: Config, now: Instant) -> (Session, Session) {
    let mut a = Session::new(a, now);
    let mut b = Session::new(b, now);
    drive(&mut a, &mut b, now).expect("handshake");
    assert_eq!(events(&mut a), [Event::Ready]);
    assert_eq!(events(&mut b), [Event::Ready]);
    (a, b)
}
