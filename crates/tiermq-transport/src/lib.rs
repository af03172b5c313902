//! The I/O thread of tiermq: tcp and ipc transports driving ZMTP sessions.
//!
//! A [`Reactor`] is one thread with one mio `Poll`. It listens, accepts,
//! connects and reconnects; it runs a [`tiermq_wire::Session`] per connection
//! and its handshake and heartbeat timers; and when a handshake completes it
//! creates the connection's two [`tiermq_pipe`] queues and hands the
//! application's ends to the socket through a [`Sink`].
//!
//! # Where the I/O boundary lies
//!
//! This crate is the only part of tiermq that touches operating-system
//! sockets. The wire crate turns bytes into events and back; the pipe crate
//! moves messages between threads; everything here moves bytes between the
//! kernel and sessions, and messages between sessions and pipes:
//!
//! ```text
//!  app thread                 reactor thread                      kernel
//!  ──────────                 ──────────────                      ──────
//!  out: Writer ──pipe──► Reader ─► Session::send_encoded ─► chunks_vectored ─► writev
//!  (encodes)                       (or Session::send)
//!  inp: Reader ◄─pipe─── Writer ◄─ inbound ◄──── handle_read_into ◄───── read
//!                                              (frames lent a pooled buffer)
//!  bind/connect/close_link ─► inbox + Waker ─► commands
//!  Sink::notify ◄──────────── Attached / Detached / Monitor
//! ```
//!
//! # Threading model
//!
//! Application threads talk to the reactor through an inbox (a mutex-guarded
//! list) and a mio `Waker`. [`Reactor::bind`] waits for the I/O thread's
//! answer, so errors such as `AddrInUse` reach the caller; `connect` and
//! `close_link` return at once. Pipes wake the reactor only on transitions
//! (an out pipe becoming non-empty, a full in pipe draining to its low-water
//! mark), never per message, and a post writes the `Waker` (an eventfd)
//! only while the reactor is parked in its poll; a running reactor checks
//! the inbox before every poll. Decoded messages go into the in pipe up to
//! 256 per lock ([`tiermq_pipe::Writer::try_send_batch`]), each batch
//! before the next is decoded. An out pipe holds encoded bytes
//! ([`tiermq_pipe::pipe_encoded`]) when the session allows it
//! ([`tiermq_wire::Session::encodes_ahead`]): the sending thread encodes, and
//! whoever writes only moves bytes. The reactor
//! calls [`Sink::notify`] on its own thread, so a sink must not block.
//!
//! The reactor stops reading a connection whose in pipe is full (TCP flow
//! control then pushes back on the peer) and never drops a received message
//! while the connection lives. When a connection ends, the socket gets back
//! the messages the session took from the out pipe but never began to write
//! ([`Notification::Detached`]'s `unsent`) and can reclaim the rest from the
//! out pipe.
//!
//! # Example
//!
//! Two reactors, a PULL binding and a PUSH connecting, moving one message:
//!
//! ```
//! use std::sync::{mpsc, Arc, Mutex};
//! use std::time::Duration;
//! use tiermq_transport::{Endpoint, LinkOptions, Notification, Reactor, Sink};
//! use tiermq_wire::{Item, Multipart, SocketType};
//!
//! struct Forward(Mutex<mpsc::Sender<Notification>>);
//! impl Sink for Forward {
//!     fn notify(&self, n: Notification) {
//!         let _ = self.0.lock().unwrap().send(n);
//!     }
//! }
//! fn sink() -> (Arc<dyn Sink>, mpsc::Receiver<Notification>) {
//!     let (tx, rx) = mpsc::channel();
//!     (Arc::new(Forward(Mutex::new(tx))), rx)
//! }
//! fn attached(rx: &mpsc::Receiver<Notification>) -> Notification {
//!     loop {
//!         match rx.recv_timeout(Duration::from_secs(10)).expect("attached") {
//!             n @ Notification::Attached { .. } => return n,
//!             _ => {}
//!         }
//!     }
//! }
//!
//! let (a, b) = (Reactor::spawn("io-a")?, Reactor::spawn("io-b")?);
//! let (pull_sink, pull_rx) = sink();
//! let (push_sink, push_rx) = sink();
//! let ep: Endpoint = "tcp://127.0.0.1:0".parse()?;
//! let (_, bound) = a.bind(&ep, LinkOptions::new(SocketType::Pull), pull_sink)?;
//! b.connect(&bound.parse()?, LinkOptions::new(SocketType::Push), push_sink)?;
//!
//! let Notification::Attached { out, .. } = attached(&push_rx) else { unreachable!() };
//! let Notification::Attached { inp, .. } = attached(&pull_rx) else { unreachable!() };
//! out.try_send(Multipart::single("hello".into()).into()).unwrap();
//! let deadline = std::time::Instant::now() + Duration::from_secs(10);
//! let item = inp.recv_deadline(Some(deadline)).expect("an item");
//! assert_eq!(item, Item::Message(Multipart::single("hello".into())));
//! a.shutdown();
//! b.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod connection;
mod endpoint;
mod inbox;
mod io_loop;
mod net;
mod notify;
mod options;
mod reactor;
mod recv_buf;
mod resolve;
mod socket_poll;
mod timers;
mod token;

pub use endpoint::{Endpoint, EndpointError, TcpSource};
pub use notify::{ConnId, DetachReason, LinkId, MonitorEvent, Notification, Sink, ZapTicket};
pub use options::LinkOptions;
pub use reactor::Reactor;
pub use socket_poll::{Lead, SocketPoll};

/// Whether the calling thread is a reactor's I/O thread, for instance
/// inside [`Sink::notify`] or a pipe waker the I/O thread fired. Code that
/// such calls reach can use it to defer work the I/O thread should not do.
pub fn on_io_thread() -> bool {
    io_loop::on_io_thread()
}

// The handle is shared between application threads (the `tiermq` crate
// keeps reactors in an `Arc`), and notifications cross threads.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Reactor>();
    shareable::<Notification>();
};
