//! ZAP (RFC 27): the client side. A handler is whatever socket the
//! application binds at `inproc://zeromq.zap.01` in the same context (REP
//! or ROUTER). Each context runs one ZAP thread, started when its first
//! secured tcp/ipc link appears: it takes the transport's ZAP requests,
//! asks the handler through a DEALER, and hands each verdict back to the
//! reactor that asked. It holds the context only while it has work, so an
//! idle ZAP thread never keeps a context alive.

use std::sync::Weak;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use tiermq_transport::{Reactor, ZapTicket};
use tiermq_wire::{Bytes, Metadata, ZapReply, ZapRequest};

use crate::shared::lock;
use crate::{Context, DEALER, Socket};

/// Where ZAP handlers bind, as RFC 27 fixes it.
pub(crate) const ZAP_ENDPOINT: &str = "zeromq.zap.01";

/// How long the handler may take over one request before the peer is
/// refused (libzmq waits for ever; a dead handler must not wedge handshakes).
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// One request from a connection's handshake.
pub(crate) struct ZapJob {
    pub(crate) reactor: Weak<Reactor>,
    pub(crate) ticket: ZapTicket,
    pub(crate) request: ZapRequest,
    pub(crate) domain: Vec<u8>,
    /// RFC 27's address: the peer's IP for tcp.
    pub(crate) address: String,
    /// ZAP_ENFORCE_DOMAIN: with no handler, refuse instead of admitting.
    pub(crate) enforce: bool,
}

impl ZapJob {
    /// Hands the verdict to the reactor (`None`: no handler).
    fn answer(self, verdict: Option<ZapReply>) {
        if let Some(reactor) = self.reactor.upgrade() {
            reactor.zap_reply(self.ticket, verdict);
        }
    }
}

/// What a link's sink needs to pass its ZAP requests on.
pub(crate) struct ZapRoute {
    pub(crate) jobs: Sender<ZapJob>,
    pub(crate) reactor: Weak<Reactor>,
    pub(crate) domain: Vec<u8>,
    pub(crate) enforce: bool,
}

impl ZapRoute {
    /// Queues a request; never blocks (it runs on the I/O thread).
    pub(crate) fn submit(&self, ticket: ZapTicket, request: ZapRequest, peer_addr: &str) {
        let address = peer_addr
            .parse::<std::net::SocketAddr>()
            .map_or_else(|_| peer_addr.to_owned(), |a| a.ip().to_string());
        let job = ZapJob {
            reactor: Weak::clone(&self.reactor),
            ticket,
            request,
            domain: self.domain.clone(),
            address,
            enforce: self.enforce,
        };
        // No ZAP thread (it could not start): as if no handler were bound.
        if let Err(e) = self.jobs.send(job) {
            let job = e.0;
            let verdict = no_handler(job.enforce);
            job.answer(verdict);
        }
    }
}

fn no_handler(enforce: bool) -> Option<ZapReply> {
    enforce.then(|| ZapReply::status("500", "No ZAP handler"))
}

/// The ZAP thread's loop: ends when every sender (the context's and the
/// links') is gone.
pub(crate) fn serve(jobs: Receiver<ZapJob>, context: impl Fn() -> Option<Context>) {
    let mut next_id: u64 = 0;
    while let Ok(first) = jobs.recv() {
        let Some(ctx) = context() else {
            first.answer(None);
            continue;
        };
        let mut client: Option<Socket> = None;
        let mut job = Some(first);
        while let Some(j) = job.take() {
            next_id = next_id.wrapping_add(1);
            let verdict = ask(&ctx, &mut client, &j, next_id);
            j.answer(verdict);
            job = jobs.try_recv().ok();
        }
        // Idle: hold neither a socket nor the context.
        drop(client);
        drop(ctx);
    }
}

/// Asks the handler about `job`; `None` if no handler is bound.
fn ask(ctx: &Context, client: &mut Option<Socket>, job: &ZapJob, id: u64) -> Option<ZapReply> {
    if !lock(ctx.inproc()).is_bound(ZAP_ENDPOINT) {
        *client = None;
        return no_handler(job.enforce);
    }
    if client.is_none() {
        *client = connect(ctx);
    }
    let Some(socket) = client.as_ref() else {
        return Some(ZapReply::status("500", "ZAP client failed"));
    };
    let id = id.to_string();
    let r = &job.request;
    let mut frames: Vec<&[u8]> = vec![
        b"",
        b"1.0",
        id.as_bytes(),
        &job.domain,
        job.address.as_bytes(),
        &r.identity,
        r.mechanism.as_bytes(),
    ];
    frames.extend(r.credentials.iter().map(|c| &c[..]));
    if socket.send_multipart(frames, 0).is_err() {
        *client = None;
        return Some(ZapReply::status("500", "ZAP handler unreachable"));
    }
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        let reply = match socket.recv_multipart(0) {
            Ok(reply) => reply,
            Err(_) => {
                // A late answer must not be taken for the next request's.
                *client = None;
                return Some(ZapReply::status("500", "ZAP handler did not answer"));
            }
        };
        match parse_reply(reply, &id) {
            Some(verdict) => return Some(verdict),
            // A stale reply (to a request that timed out) or garbage.
            None if Instant::now() < deadline => continue,
            None => return Some(ZapReply::status("500", "bad ZAP reply")),
        }
    }
}

fn connect(ctx: &Context) -> Option<Socket> {
    let s = ctx.socket(DEALER).ok()?;
    let timeout = i32::try_from(REPLY_TIMEOUT.as_millis()).unwrap_or(i32::MAX);
    s.set_linger(0).ok()?;
    s.set_rcvtimeo(timeout).ok()?;
    s.set_sndtimeo(timeout).ok()?;
    s.connect(&format!("inproc://{ZAP_ENDPOINT}")).ok()?;
    Some(s)
}

/// An RFC 27 reply to request `id`: empty delimiter, version, request id,
/// status code, status text, user id, metadata.
fn parse_reply(frames: Vec<Vec<u8>>, id: &str) -> Option<ZapReply> {
    let [
        delimiter,
        version,
        request_id,
        code,
        text,
        user_id,
        metadata,
    ] = &frames[..]
    else {
        return None;
    };
    if !delimiter.is_empty() || version != b"1.0" || request_id != id.as_bytes() {
        return None;
    }
    let code = String::from_utf8(code.clone()).ok()?;
    if !["200", "300", "400", "500"].contains(&code.as_str()) {
        return None;
    }
    Some(ZapReply {
        status_code: code,
        status_text: String::from_utf8_lossy(text).into_owned(),
        user_id: Bytes::copy_from_slice(user_id),
        metadata: Metadata::parse(Bytes::copy_from_slice(metadata)).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(parts: &[&[u8]]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.to_vec()).collect()
    }

    #[test]
    fn replies_parse_as_rfc27_lays_them_out() {
        let ok = parse_reply(
            frames(&[b"", b"1.0", b"7", b"200", b"OK", b"alice", b""]),
            "7",
        )
        .unwrap();
        assert!(ok.admits());
        assert_eq!(ok.user_id, "alice");
        let md = b"\x05Hello\x00\x00\x00\x05world";
        let no = parse_reply(frames(&[b"", b"1.0", b"7", b"400", b"no", b"", md]), "7").unwrap();
        assert_eq!(no.status_code, "400");
        assert_eq!(no.metadata.get("hello").unwrap(), "world");
        // Another request's reply, a bad version, a bad code, a short reply.
        assert!(parse_reply(frames(&[b"", b"1.0", b"8", b"200", b"", b"", b""]), "7").is_none());
        assert!(parse_reply(frames(&[b"", b"2.0", b"7", b"200", b"", b"", b""]), "7").is_none());
        assert!(parse_reply(frames(&[b"", b"1.0", b"7", b"201", b"", b"", b""]), "7").is_none());
        assert!(parse_reply(frames(&[b"", b"1.0", b"7", b"200"]), "7").is_none());
    }
}
