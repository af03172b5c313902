//! The proxies of the zmq crate (`zmq_proxy`, `zmq_proxy_steerable`):
//! whole messages moved between a frontend and a backend socket, in both
//! directions, over tiermq's [`poll`](crate::poll).
//!
//! As in libzmq 4.3, a side is read only while the other side can take a
//! message (POLLOUT), so a slow destination pushes back on its source
//! instead of blocking the proxy; each frame goes out with SNDMORE as it
//! came. A capture socket gets a copy of every frame, in both directions,
//! before it is forwarded.

use crate::poll::{POLLIN, POLLOUT, PollEvents, poll};
use crate::{DONTWAIT, Error, Message, Result, SNDMORE, Socket};

/// Messages forwarded from one side per wake-up before the other side gets
/// a turn (libzmq's proxy burst).
const BURST: usize = 1000;

/// Runs a proxy between `frontend` and `backend` in the current thread:
/// each message received on one goes to the other, whole. Typical pairs are
/// ROUTER/DEALER (a request-reply broker), XSUB/XPUB (a forwarder) and
/// PULL/PUSH (a streamer).
///
/// Returns only with an error, as the zmq crate's does: `ETERM` once the
/// sockets' context was destroyed, or the error of a send or receive that
/// failed.
pub fn proxy(frontend: &Socket, backend: &Socket) -> Result<()> {
    Proxy::new(frontend, backend, None, None).run()
}

/// [`proxy`], sending `capture` a copy of every frame forwarded in either
/// direction (SNDMORE kept), before it is forwarded. `capture` should be a
/// socket that does not block on send (PUB, or PUSH/PAIR with a reader),
/// since the proxy waits for it as libzmq's does.
///
/// The sockets are taken as `&mut`, as the zmq crate takes them.
pub fn proxy_with_capture(
    frontend: &mut Socket,
    backend: &mut Socket,
    capture: &mut Socket,
) -> Result<()> {
    Proxy::new(frontend, backend, Some(capture), None).run()
}

/// [`proxy`], steered by commands (single-frame messages) received on
/// `control`: `PAUSE` stops forwarding, `RESUME` goes on, `TERMINATE`
/// returns `Ok(())`, and `STATISTICS` replies on `control` (a REP or PAIR)
/// with 8 frames of native-endian u64: the frontend's messages and bytes
/// received, messages and bytes sent, then the same for the backend. A
/// multipart message counts once. Other commands are ignored (libzmq
/// aborts).
///
/// The sockets are taken as `&mut`, as the zmq crate takes them.
pub fn proxy_steerable(
    frontend: &mut Socket,
    backend: &mut Socket,
    control: &mut Socket,
) -> Result<()> {
    Proxy::new(frontend, backend, None, Some(control)).run()
}

/// [`proxy_steerable`] with a capture socket, as in
/// [`proxy_with_capture`].
pub fn proxy_steerable_with_capture(
    frontend: &mut Socket,
    backend: &mut Socket,
    capture: &mut Socket,
    control: &mut Socket,
) -> Result<()> {
    Proxy::new(frontend, backend, Some(capture), Some(control)).run()
}

/// Counters of one side, as libzmq's STATISTICS reports them.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    msg_in: u64,
    bytes_in: u64,
    msg_out: u64,
    bytes_out: u64,
}

/// One running proxy.
struct Proxy<'a> {
    sides: [&'a Socket; 2],
    stats: [Stats; 2],
    capture: Option<&'a Socket>,
    control: Option<&'a Socket>,
    paused: bool,
}

/// What a control command asks.
enum Command {
    Go,
    Terminate,
}

impl<'a> Proxy<'a> {
    fn new(
        frontend: &'a Socket,
        backend: &'a Socket,
        capture: Option<&'a Socket>,
        control: Option<&'a Socket>,
    ) -> Proxy<'a> {
        Proxy {
            sides: [frontend, backend],
            stats: [Stats::default(); 2],
            capture,
            control,
            paused: false,
        }
    }

    fn run(&mut self) -> Result<()> {
        loop {
            let writable = self
                .sides
                .map(|s| s.ready_events(POLLOUT).contains(POLLOUT));
            // Side i is read while the other can take a message; a side that
            // cannot is watched for room, so that reading resumes.
            let wants = |i: usize| {
                let mut e = PollEvents::empty();
                if !self.paused {
                    if writable[1 - i] {
                        e |= POLLIN;
                    }
                    if !writable[i] {
                        e |= POLLOUT;
                    }
                }
                e
            };
            let mut items = vec![
                self.sides[0].as_poll_item(wants(0)),
                self.sides[1].as_poll_item(wants(1)),
            ];
            if let Some(c) = self.control {
                items.push(c.as_poll_item(POLLIN));
            }
            poll(&mut items, -1)?;
            let readable: Vec<bool> = items.iter().map(|i| i.is_readable()).collect();
            drop(items);
            if readable.get(2) == Some(&true) && matches!(self.command()?, Command::Terminate) {
                return Ok(());
            }
            for (from, &ready) in readable.iter().take(2).enumerate() {
                if ready && !self.paused {
                    self.burst(from)?;
                }
            }
        }
    }

    /// Forwards messages from side `from` to the other while there are
    /// some and the other side takes them, up to [`BURST`].
    fn burst(&mut self, from: usize) -> Result<()> {
        let to = 1 - from;
        for _ in 0..BURST {
            if !self.sides[to].ready_events(POLLOUT).contains(POLLOUT) || !self.forward(from)? {
                break;
            }
        }
        Ok(())
    }

    /// Moves one whole message from side `from` to the other (and a copy to
    /// the capture). `false` if none was waiting.
    fn forward(&mut self, from: usize) -> Result<bool> {
        let (src, dst) = (self.sides[from], self.sides[1 - from]);
        let mut size = 0u64;
        let mut first = true;
        loop {
            let msg = match src.recv_msg(DONTWAIT) {
                Ok(m) => m,
                Err(Error::EAGAIN) if first => return Ok(false),
                Err(e) => return Err(e),
            };
            first = false;
            let more = src.get_rcvmore()?;
            let flags = if more { SNDMORE } else { 0 };
            size += msg.len() as u64;
            if let Some(capture) = self.capture {
                capture.send(msg.clone(), flags)?;
            }
            dst.send(msg, flags)?;
            if !more {
                break;
            }
        }
        self.stats[from].msg_in += 1;
        self.stats[from].bytes_in += size;
        self.stats[1 - from].msg_out += 1;
        self.stats[1 - from].bytes_out += size;
        Ok(true)
    }

    /// Reads and carries out one command from the control socket.
    fn command(&mut self) -> Result<Command> {
        let Some(control) = self.control else {
            return Ok(Command::Go);
        };
        let cmd: Message = match control.recv_msg(DONTWAIT) {
            Ok(m) => m,
            Err(Error::EAGAIN) => return Ok(Command::Go),
            Err(e) => return Err(e),
        };
        // Only the first frame names the command; the rest is dropped.
        while control.get_rcvmore()? {
            control.recv_msg(0)?;
        }
        match &cmd[..] {
            b"PAUSE" => self.paused = true,
            b"RESUME" => self.paused = false,
            b"TERMINATE" => return Ok(Command::Terminate),
            b"STATISTICS" => self.reply_statistics(control)?,
            _ => {}
        }
        Ok(Command::Go)
    }

    fn reply_statistics(&self, control: &Socket) -> Result<()> {
        let [f, b] = self.stats;
        let values = [
            f.msg_in,
            f.bytes_in,
            f.msg_out,
            f.bytes_out,
            b.msg_in,
            b.bytes_in,
            b.msg_out,
            b.bytes_out,
        ];
        control.send_multipart(values.map(u64::to_ne_bytes), 0)
    }
}
