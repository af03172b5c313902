//! ZMTP 3.1, the ZeroMQ wire protocol, as a sans-I/O state machine.
//!
//! A [`Session`] is one connection's protocol state: the greeting, the
//! security handshake, framing of multipart messages, subscriptions,
//! PING/PONG heartbeats and ERROR. It is what tiermq's transport drives for
//! every TCP or IPC connection, and what any other program can drive to
//! speak to libzmq peers.
//!
//! # Security mechanisms
//!
//! [`Config::mechanism`] picks one ([`Mechanism`]), interoperable with libzmq:
//! - **NULL** (RFC 37): READY and its metadata both ways.
//! - **PLAIN** (RFC 24): HELLO with user name and password, WELCOME,
//!   INITIATE and READY.
//! - **CURVE** (RFC 26, CurveZMQ): HELLO, WELCOME (with the cookie),
//!   INITIATE (with the vouch) and READY, then every frame, commands
//!   included, inside a MESSAGE box, with libzmq's nonce prefixes and a
//!   strictly increasing 8-byte counter (a replay is
//!   [`Error::NonceNotIncreasing`]). The shared key is computed once per
//!   connection; the server's short-term keys and cookie key are fresh for
//!   every connection. Handshake boxes are RustCrypto's `crypto_box`
//!   (`SalsaBox`); MESSAGE boxes are `salsabox`'s (a SIMD Salsa20) from
//!   1 KiB, and RustCrypto's `salsa20` with orion's Poly1305 below.
//!
//! Randomness comes from the caller ([`Random`], passed to
//! [`Session::with_random`]), so sessions stay deterministic under test.
//! ZAP (RFC 27) is a pause: with [`Config::zap`] set, a server session
//! yields [`Event::ZapRequest`] with the peer's credentials and waits for
//! [`Session::zap_reply`]. [`z85`] encodes keys (RFC 32).
//!
//! # tiermq-wire does no I/O
//!
//! There are no sockets, threads or clocks in this crate. The caller reads
//! and writes the connection and passes the current time in as `now`; the
//! session turns bytes into [`Event`]s and messages into bytes:
//!
//! ```text
//!               handle_read(&mut BytesMut, now)      poll_event() -> Event
//!  socket ──read──► bytes in ───────────────► Session ───────────────────► caller
//!                                             ▲   │
//!  caller ── send(Multipart), send_subscribe ─┘   │ chunks_vectored(&mut [IoSlice])
//!        ── handle_timeout(now) at poll_timeout() │ advance(n)
//!  socket ◄──writev── bytes out ◄─────────────────┘
//! ```
//!
//! - Input is zero-copy: [`Session::handle_read`] splits payloads off the
//!   read buffer as [`Bytes`], decoding every complete frame in one call.
//!   [`Session::handle_read_into`] decodes a bounded batch at a time,
//!   with messages going straight to the caller's queue. Both read from
//!   any [`ReadBuf`]: a `BytesMut`, or a read frozen as `Bytes` (which lets
//!   a caller lend pooled buffers to the frames);
//!   [`Session::frame_incomplete`] tells it to keep reading a frame that
//!   is longer than one read before handing it over.
//! - Output is zero-copy for large payloads: [`Session::chunks_vectored`]
//!   packs headers and small frames into one batch buffer and hands large
//!   payloads out by reference, ready for one vectored write. Messages may
//!   also be encoded ahead on another thread ([`encoded::encode_item`],
//!   when [`Session::encodes_ahead`]) and queued as bytes
//!   ([`Session::send_encoded`]).
//! - On disconnect, [`Session::take_unsent`] returns the messages none of
//!   whose bytes were written, so they can be sent elsewhere.
//! - Every error ([`Error`]) is fatal to its session and sticky; no input
//!   can make a session panic or allocate for a length the peer merely claims.
//!
//! # Example
//!
//! Two sessions talking to each other in memory:
//!
//! ```
//! use std::io::IoSlice;
//! use std::time::Instant;
//! use tiermq_wire::{Bytes, BytesMut, Config, Event, Multipart, Session, SocketType};
//!
//! /// Moves everything `from` wants to write into `to`.
//! fn pump(from: &mut Session, to: &mut Session, buf: &mut BytesMut) {
//!     while from.has_output() {
//!         let mut slices = [IoSlice::new(&[]); 8];
//!         let n = from.chunks_vectored(&mut slices);
//!         let mut written = 0;
//!         for s in &slices[..n] {
//!             buf.extend_from_slice(s); // a real caller would writev(socket)
//!             written += s.len();
//!         }
//!         from.advance(written);
//!     }
//!     to.handle_read(buf, Instant::now()).expect("valid ZMTP");
//! }
//!
//! let now = Instant::now();
//! let mut push = Session::new(Config::new(SocketType::Push), now);
//! let mut pull = Session::new(Config::new(SocketType::Pull), now);
//! // Held until the handshake completes.
//! push.send(Multipart::from(vec![Bytes::from("key"), Bytes::from("value")]));
//!
//! let (mut to_pull, mut to_push) = (BytesMut::new(), BytesMut::new());
//! for _ in 0..3 {
//!     pump(&mut push, &mut pull, &mut to_pull);
//!     pump(&mut pull, &mut push, &mut to_push);
//! }
//!
//! assert!(matches!(pull.poll_event(), Some(Event::Ready)));
//! assert_eq!(pull.peer().unwrap().socket_type, SocketType::Push);
//! let Some(Event::Message(msg)) = pull.poll_event() else { panic!("no message") };
//! assert_eq!(msg.frames(), ["key", "value"]);
//! ```
//!
//! `cargo run -p tiermq-wire --example handshake` prints the bytes of such
//! an exchange.

pub use bytes::{Bytes, BytesMut};

mod command;
mod config;
pub mod encoded;
mod error;
mod frame;
#[doc(hidden)]
pub mod fuzz;
mod greeting;
mod mechanism;
mod metadata;
mod multipart;
mod output;
mod read_buf;
mod session;
mod socket_type;
pub mod z85;

pub use config::Config;
pub use error::{Error, ErrorKind};
pub use mechanism::{Mechanism, Random, ZapReply, ZapRequest, curve_public_key};
pub use metadata::Metadata;
pub use multipart::{Item, Multipart};
pub use read_buf::ReadBuf;
pub use session::{
    Event, MAX_COMMAND_SIZE, MAX_FRAMES_WITH_LIMIT, MAX_OUTSTANDING_PINGS, PeerInfo, Session,
};
pub use socket_type::SocketType;
