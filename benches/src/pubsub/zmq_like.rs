//! PUB and SUB for the libraries with rust-zmq's API, from one source as in
//! [`crate::zmq_like`]: the PUB sends from one thread, the SUBs are polled
//! from one thread and drained with `DONTWAIT`.

use super::{ControlListener, Fanout, Payloads, Tally, publish_blocking, report_stalls};
use crate::zmq_like::set_sizes;
use crate::{Error, RECV_TIMEOUT, Spec, bind_endpoint, remove_ipc_file};

/// LINGER for every socket, in milliseconds.
const LINGER_MS: i32 = 1000;

/// Messages taken from one readable SUB before the next is looked at, so
/// one busy socket doesn't starve the others.
const BATCH: usize = 256;

fn timeout_ms() -> i64 {
    i64::try_from(RECV_TIMEOUT.as_millis()).unwrap_or(i64::MAX)
}

macro_rules! zmq_like_pubsub {
    ($(#[$doc:meta])* $module:ident, $lib:ident, $payload:ty, |$p:ident| $make:expr, |$q:ident| $sendable:expr) => {
        $(#[$doc])*
        pub(crate) mod $module {
            use super::*;

            fn socket(ctx: &::$lib::Context, kind: ::$lib::SocketType, spec: &Spec) -> Result<::$lib::Socket, Error> {
                let s = ctx.socket(kind)?;
                set_sizes!(s, spec);
                s.set_linger(LINGER_MS)?;
                Ok(s)
            }

            /// Binds a PUB, announces it, and publishes the run (see
            /// [`crate::pubsub`]); then holds until `hold` returns.
            pub(crate) fn publish(
                spec: &Spec,
                control: ControlListener,
                on_bound: &mut dyn FnMut(&str),
                hold: &mut (dyn FnMut() + Send),
            ) -> Result<(), Error> {
                let ctx = ::$lib::Context::new();
                let s = socket(&ctx, ::$lib::PUB, spec)?;
                let ep = spec.endpoint.clone().unwrap_or_else(|| bind_endpoint(spec.transport));
                s.bind(&ep)?;
                let ep = s
                    .get_last_endpoint()?
                    .map_err(|_| Error::new("last endpoint is not UTF-8"))?;
                on_bound(&ep);
                let credit = control.accept(spec, None)?;
                let payloads = Payloads::new(spec.size, |$p| -> $payload { $make });
                let out = publish_blocking(spec, &credit, |kind| {
                    let $q = payloads.of(kind);
                    Ok(s.send($sendable, 0)?)
                });
                report_stalls(&credit);
                out?;
                hold();
                drop(s);
                remove_ipc_file(&ep);
                Ok(())
            }

            /// Connects `spec.subs` SUBs, each subscribed to everything,
            /// and counts what each receives until every one has the end
            /// marker.
            pub(crate) fn subscribe(spec: &Spec, fanout: &Fanout) -> Result<Vec<Tally>, Error> {
                let ctx = ::$lib::Context::new();
                let ep = spec.endpoint.as_deref().ok_or_else(|| Error::new("no endpoint to connect to"))?;
                let mut socks = Vec::with_capacity(spec.subs);
                for _ in 0..spec.subs {
                    let s = socket(&ctx, ::$lib::SUB, spec)?;
                    s.set_subscribe(b"")?;
                    s.connect(ep)?;
                    socks.push(s);
                }
                let mut tallies: Vec<Tally> = (0..spec.subs).map(|i| Tally::new(i, fanout)).collect();
                let mut items: Vec<::$lib::PollItem<'_>> =
                    socks.iter().map(|s| s.as_poll_item(::$lib::POLLIN)).collect();
                let mut msg = ::$lib::Message::new();
                while tallies.iter().any(|t| !t.ended()) {
                    if ::$lib::poll(&mut items, timeout_ms())? == 0 {
                        return Err(Error::timeout("a message on any SUB"));
                    }
                    for (i, item) in items.iter().enumerate() {
                        if !item.is_readable() {
                            continue;
                        }
                        for _ in 0..BATCH {
                            match socks[i].recv(&mut msg, ::$lib::DONTWAIT) {
                                Ok(()) => tallies[i].on_message(&msg, spec.size, fanout)?,
                                Err(::$lib::Error::EAGAIN) => break,
                                Err(e) => return Err(e.into()),
                            }
                        }
                    }
                }
                Ok(tallies)
            }
        }
    };
}

zmq_like_pubsub!(
    /// libzmq's PUB and SUB. Payloads go out as `&[u8]`, which `zmq_send`
    /// copies.
    libzmq,
    zmq,
    Box<[u8]>,
    |p| p.into_boxed_slice(),
    |p| &p[..]
);

zmq_like_pubsub!(
    /// tiermq's PUB and SUB. Payloads go out as `Bytes` clones (a reference
    /// count; one buffer for every subscriber).
    tiermq,
    tiermq,
    ::tiermq::Bytes,
    |p| ::tiermq::Bytes::from(p),
    |p| p.clone()
);
