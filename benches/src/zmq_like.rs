//! The roles for the two libraries with rust-zmq's API: tiermq and libzmq.
//!
//! tiermq offers the `zmq` crate's API, so one macro writes both modules
//! from the same source. They differ only in how a payload is handed over:
//! each library gets its cheapest idiomatic send. For tiermq that is a
//! `Bytes` clone (a reference count; messages are `Bytes` underneath); for
//! libzmq it is `&[u8]`, which `zmq_send` copies into a fresh message, as
//! every libzmq user pays. Both receive into one reused `Message`, which
//! neither copies.

use std::time::{Duration, Instant};

use crate::{Error, RECV_TIMEOUT, Role, Spec, bind_endpoint, remove_ipc_file, switches};

/// LINGER for every socket, in milliseconds.
const LINGER_MS: i32 = 1000;

/// [`RECV_TIMEOUT`] in the milliseconds RCVTIMEO and SNDTIMEO take.
fn timeout_ms() -> i32 {
    i32::try_from(RECV_TIMEOUT.as_millis()).unwrap_or(i32::MAX)
}

/// `n` as the `i32` a socket option takes, saturating at `i32::MAX`.
pub(crate) fn clamp_i32(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// Sets socket `$s`'s HWMs to the run's, and its kernel buffers when the
/// run names them; a macro because tiermq's and libzmq's sockets share no
/// trait. Returns early with the option's error.
macro_rules! set_sizes {
    ($s:expr, $spec:expr) => {{
        $s.set_sndhwm($crate::zmq_like::clamp_i32($spec.hwm))?;
        $s.set_rcvhwm($crate::zmq_like::clamp_i32($spec.hwm))?;
        if $spec.buf > 0 {
            $s.set_sndbuf($crate::zmq_like::clamp_i32($spec.buf))?;
            $s.set_rcvbuf($crate::zmq_like::clamp_i32($spec.buf))?;
        }
    }};
}
pub(crate) use set_sizes;

macro_rules! zmq_like {
    ($(#[$doc:meta])* $module:ident, $lib:ident, $payload:ty, |$p:ident| $make:expr, |$q:ident| $sendable:expr) => {
        $(#[$doc])*
        pub mod $module {
            use super::*;

            /// A socket of `kind` with the run's HWMs, buffers and timeouts.
            fn socket(ctx: &::$lib::Context, kind: ::$lib::SocketType, spec: &Spec) -> Result<::$lib::Socket, Error> {
                let s = ctx.socket(kind)?;
                set_sizes!(s, spec);
                s.set_rcvtimeo(timeout_ms())?;
                s.set_sndtimeo(timeout_ms())?;
                // A role normally holds its sockets open until the run is
                // over, but a REP whose hold ends early (its stdin already
                // closed) must still get its last reply out: a bounded
                // linger, not 0.
                s.set_linger(LINGER_MS)?;
                secure(&s, kind, spec)?;
                Ok(s)
            }

            /// CURVE when the run asks for it (`--curve`): the binding
            /// kinds (PULL, REP) are the servers.
            fn secure(s: &::$lib::Socket, kind: ::$lib::SocketType, spec: &Spec) -> Result<(), Error> {
                let Some(keys) = &spec.curve else {
                    return Ok(());
                };
                if kind == ::$lib::PULL || kind == ::$lib::REP {
                    s.set_curve_server(true)?;
                    s.set_curve_secretkey(&keys.server_secret)?;
                } else {
                    s.set_curve_serverkey(&keys.server_public)?;
                    s.set_curve_publickey(&keys.client_public)?;
                    s.set_curve_secretkey(&keys.client_secret)?;
                }
                Ok(())
            }

            fn payload(size: usize) -> $payload {
                let $p = size;
                $make
            }

            fn send(s: &::$lib::Socket, payload: &$payload) -> Result<(), Error> {
                let $q = payload;
                match s.send($sendable, 0) {
                    Err(::$lib::Error::EAGAIN) => Err(Error::timeout("room to send")),
                    other => Ok(other?),
                }
            }

            fn recv(s: &::$lib::Socket, msg: &mut ::$lib::Message, size: usize, what: &str) -> Result<(), Error> {
                match s.recv(msg, 0) {
                    Err(::$lib::Error::EAGAIN) => Err(Error::timeout(what)),
                    Err(e) => Err(e.into()),
                    Ok(()) if msg.len() != size => Err(Error::wrong_size(size, msg.len())),
                    Ok(()) => Ok(()),
                }
            }

            fn bind(s: &::$lib::Socket, spec: &Spec) -> Result<String, Error> {
                let ep = spec.endpoint.clone().unwrap_or_else(|| bind_endpoint(spec.transport));
                s.bind(&ep)?;
                s.get_last_endpoint()?
                    .map_err(|_| Error::new("last endpoint is not UTF-8"))
            }

            fn connect_endpoint(spec: &Spec) -> Result<&str, Error> {
                spec.endpoint.as_deref().ok_or_else(|| Error::new("no endpoint to connect to"))
            }

            /// Binds a PULL; times `count` messages after the first.
            fn pull(ctx: &::$lib::Context, s: &::$lib::Socket, spec: &Spec) -> Result<Duration, Error> {
                let _ = ctx;
                let mut msg = ::$lib::Message::new();
                recv(s, &mut msg, spec.size, "the first message")?;
                switches::begin();
                let start = Instant::now();
                for _ in 0..spec.count {
                    recv(s, &mut msg, spec.size, "a message")?;
                }
                let elapsed = start.elapsed();
                switches::end();
                Ok(elapsed)
            }

            /// Sends `count + 1` messages on a connected PUSH.
            fn push(s: &::$lib::Socket, spec: &Spec) -> Result<(), Error> {
                let shared = payload(spec.size);
                switches::begin();
                for _ in 0..=spec.count {
                    if spec.fresh {
                        send(s, &payload(spec.size))?;
                    } else {
                        send(s, &shared)?;
                    }
                }
                switches::end();
                Ok(())
            }

            /// Answers `count + 1` requests with same-sized replies.
            fn rep(s: &::$lib::Socket, spec: &Spec) -> Result<(), Error> {
                let reply = payload(spec.size);
                let mut msg = ::$lib::Message::new();
                // The warm-up round trip is not counted.
                recv(s, &mut msg, spec.size, "the first request")?;
                send(s, &reply)?;
                switches::begin();
                for _ in 0..spec.count {
                    recv(s, &mut msg, spec.size, "a request")?;
                    send(s, &reply)?;
                }
                switches::end();
                Ok(())
            }

            /// One warm-up round trip, then times `count` of them.
            fn req(s: &::$lib::Socket, spec: &Spec) -> Result<Duration, Error> {
                let request = payload(spec.size);
                let mut msg = ::$lib::Message::new();
                send(s, &request)?;
                recv(s, &mut msg, spec.size, "the first reply")?;
                switches::begin();
                let start = Instant::now();
                for _ in 0..spec.count {
                    send(s, &request)?;
                    recv(s, &mut msg, spec.size, "a reply")?;
                }
                let elapsed = start.elapsed();
                switches::end();
                Ok(elapsed)
            }

            /// Runs `spec`'s role (see [`crate::run`]); the time, if this
            /// role owns the clock.
            pub fn run(spec: &Spec, on_bound: &mut dyn FnMut(&str), hold: &mut (dyn FnMut() + Send)) -> Result<Option<Duration>, Error> {
                let ctx = ::$lib::Context::new();
                match spec.role {
                    Role::Pull | Role::Rep => {
                        let kind = if spec.role == Role::Pull { ::$lib::PULL } else { ::$lib::REP };
                        let s = socket(&ctx, kind, spec)?;
                        let ep = bind(&s, spec)?;
                        on_bound(&ep);
                        let out = if spec.role == Role::Pull {
                            pull(&ctx, &s, spec).map(Some)
                        } else {
                            rep(&s, spec).map(|()| { hold(); None })
                        };
                        drop(s);
                        remove_ipc_file(&ep);
                        out
                    }
                    Role::Push => {
                        let s = socket(&ctx, ::$lib::PUSH, spec)?;
                        s.connect(connect_endpoint(spec)?)?;
                        push(&s, spec)?;
                        hold();
                        Ok(None)
                    }
                    Role::Req => {
                        let s = socket(&ctx, ::$lib::REQ, spec)?;
                        s.connect(connect_endpoint(spec)?)?;
                        req(&s, spec).map(Some)
                    }
                    Role::PushPull | Role::ReqRep => in_process(&ctx, spec).map(Some),
                    Role::RawWriter | Role::RawReader | Role::RawPing | Role::RawPong => {
                        Err(Error::new("the raw roles take the `raw` library"))
                    }
                    Role::Tiered => Err(Error::new("tiered runs in crate::tiered")),
                    Role::Pub | Role::Sub => Err(Error::new("PUB/SUB runs in crate::pubsub")),
                }
            }

            /// Both ends in this process: the binding end on a second
            /// thread, the clock on this one for REQ/REP and on the
            /// receiver for PUSH/PULL.
            fn in_process(ctx: &::$lib::Context, spec: &Spec) -> Result<Duration, Error> {
                let (bind_kind, connect_kind) = if spec.role == Role::PushPull {
                    (::$lib::PULL, ::$lib::PUSH)
                } else {
                    (::$lib::REP, ::$lib::REQ)
                };
                let server = socket(ctx, bind_kind, spec)?;
                let ep = bind(&server, spec)?;
                let client = socket(ctx, connect_kind, spec)?;
                client.connect(&ep)?;
                let out = std::thread::scope(|scope| {
                    let spec2 = spec.clone();
                    let server_ctx = ctx.clone();
                    // The server hands its socket back rather than closing
                    // it: as in two processes, no library's close-time
                    // behaviour may cut the run short.
                    let server_thread = scope.spawn(move || {
                        let out = if spec2.role == Role::PushPull {
                            pull(&server_ctx, &server, &spec2).map(Some)
                        } else {
                            rep(&server, &spec2).map(|()| None)
                        };
                        (out, server)
                    });
                    let client_out = if spec.role == Role::PushPull {
                        push(&client, spec).map(|()| None)
                    } else {
                        req(&client, spec).map(Some)
                    };
                    let (server_out, server) = server_thread
                        .join()
                        .map_err(|_| Error::new("the server thread panicked"))?;
                    drop(server);
                    // The server's error first: when it fails, the client
                    // only sees a timeout.
                    let server_out = server_out?;
                    match (client_out?, server_out) {
                        (Some(d), _) | (None, Some(d)) => Ok(d),
                        (None, None) => Err(Error::new("no side timed the run")),
                    }
                });
                drop(client);
                remove_ipc_file(&ep);
                out
            }
        }
    };
}

zmq_like!(
    /// tiermq's roles. Payloads go out as `Bytes` clones.
    tiermq,
    tiermq,
    ::tiermq::Bytes,
    |size| ::tiermq::Bytes::from(vec![7u8; size]),
    |p| p.clone()
);

zmq_like!(
    /// libzmq's roles (the `zmq` crate). Payloads go out as `&[u8]`, which
    /// `zmq_send` copies.
    libzmq,
    zmq,
    Box<[u8]>,
    |size| vec![7u8; size].into_boxed_slice(),
    |p| &p[..]
);

#[cfg(test)]
pub(crate) mod tests {
    use crate::{Error, Report, Spec, run};
    use std::sync::mpsc;

    fn in_process(args: &[&str]) -> Report {
        run(&Spec::parse(args).unwrap(), &mut |_| {}, &mut || {}).unwrap()
    }

    /// A binding role and a connecting role on two threads, as two
    /// processes would run them: the connector gets the binder's endpoint,
    /// and each side's `hold` lasts until the other side is done.
    pub(crate) fn two_ends(
        binder: &[&str],
        connector: &[&str],
    ) -> (Result<Report, Error>, Result<Report, Error>) {
        let (ep_tx, ep_rx) = mpsc::channel::<String>();
        let (server_done, server_over) = mpsc::channel::<()>();
        let (client_done, client_over) = mpsc::channel::<()>();
        let binder = Spec::parse(binder).unwrap();
        let server = std::thread::spawn(move || {
            let r = run(
                &binder,
                &mut |ep| ep_tx.send(ep.to_string()).unwrap(),
                &mut move || {
                    let _ = client_over.recv();
                },
            );
            drop(server_done);
            r
        });
        let mut args: Vec<String> = connector.iter().map(|s| s.to_string()).collect();
        // `pub` announces its control link after the endpoint.
        let announced = ep_rx.recv().unwrap();
        let mut words = announced.split(' ');
        args.push("--endpoint".into());
        args.push(words.next().unwrap_or_default().to_string());
        if let Some(control) = words.next() {
            args.push("--control".into());
            args.push(control.to_string());
        }
        let client_spec = Spec::parse(&args).unwrap();
        let client = std::thread::spawn(move || {
            let r = run(&client_spec, &mut |_| {}, &mut move || {
                let _ = server_over.recv();
            });
            drop(client_done);
            r
        });
        (server.join().unwrap(), client.join().unwrap())
    }

    #[test]
    fn push_pull_in_process_each_library_and_transport() {
        for lib in ["tiermq", "libzmq"] {
            for transport in ["inproc", "tcp", "ipc"] {
                let r = in_process(&["push-pull", lib, transport, "100", "200"]);
                assert_eq!((r.count, r.size), (200, 100), "{lib} {transport}");
                assert!(r.secs.is_some_and(|s| s > 0.0), "{lib} {transport}");
            }
        }
    }

    #[test]
    fn req_rep_in_process_each_library_and_transport() {
        for lib in ["tiermq", "libzmq"] {
            for transport in ["inproc", "tcp", "ipc"] {
                let r = in_process(&["req-rep", lib, transport, "16", "200"]);
                assert!(r.secs.is_some_and(|s| s > 0.0), "{lib} {transport}");
            }
        }
    }

    #[test]
    fn pull_and_push_as_separate_roles() {
        for lib in ["tiermq", "libzmq"] {
            let (s, c) = two_ends(
                &["pull", lib, "tcp", "64", "300", "--buf", "262144"],
                &["push", lib, "tcp", "64", "300", "--buf", "262144"],
            );
            assert!(s.unwrap().secs.is_some(), "{lib}: the receiver times");
            assert_eq!(c.unwrap().secs, None, "{lib}: the sender doesn't");
        }
    }

    #[test]
    fn fresh_payloads_arrive_whole() {
        for lib in ["tiermq", "libzmq"] {
            let (s, c) = two_ends(
                &["pull", lib, "ipc", "65536", "50", "--fresh-payload"],
                &["push", lib, "ipc", "65536", "50", "--fresh-payload"],
            );
            assert!(s.unwrap().secs.is_some(), "{lib}");
            c.unwrap();
        }
    }

    #[test]
    fn rep_and_req_as_separate_roles() {
        let (s, c) = two_ends(
            &["rep", "libzmq", "ipc", "16", "20"],
            &["req", "libzmq", "ipc", "16", "20"],
        );
        assert_eq!(s.unwrap().secs, None);
        assert!(c.unwrap().secs.is_some());
    }

    #[test]
    fn a_mismatched_size_is_an_error() {
        let (s, c) = two_ends(
            &["pull", "libzmq", "tcp", "16", "10"],
            &["push", "libzmq", "tcp", "17", "10"],
        );
        let err = s.unwrap_err();
        assert!(err.to_string().contains("17-byte"), "{err}");
        c.unwrap();
    }
}
