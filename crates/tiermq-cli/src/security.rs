//! `--curve-*` and `--plain*`: the socket's mechanism, the in-process ZAP
//! handler a PLAIN server needs, and `tiermq keygen`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

use tiermq::{Context, CurveKeyPair, Error, REP, Socket};

use crate::args::Security;
use crate::error::{CliError, CliResult, describe};

/// Where ZAP handlers bind (RFC 27).
const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";

/// How long the handler waits for a request before looking at its stop flag.
const ZAP_POLL_MS: i32 = 100;

/// Prints a new CURVE key pair in Z85: `public-key KEY` and `secret-key KEY`.
///
/// Errors: the operating system has no randomness to give.
pub(crate) fn keygen() -> CliResult<()> {
    let pair = CurveKeyPair::new()
        .map_err(|e| CliError::runtime(format!("cannot make a key pair: {}", describe(e))))?;
    let z85 = |k: &[u8; 32]| tiermq::z85_encode(k).unwrap_or_default();
    println!("public-key {}", z85(&pair.public_key));
    println!("secret-key {}", z85(&pair.secret_key));
    Ok(())
}

/// Sets the socket's mechanism options (before any bind or connect).
pub(crate) fn apply(s: &Socket, security: &Security) -> CliResult<()> {
    let opt = |name: &str, r: tiermq::Result<()>| {
        r.map_err(|e| CliError::usage(format!("{name}: {}", describe(e))))
    };
    match security {
        Security::CurveServer { secret } => {
            opt("--curve-server", s.set_curve_server(true))?;
            opt("--curve-server", s.set_curve_secretkey(secret))?;
        }
        Security::CurveClient { server_key, secret } => {
            let secret = match secret {
                Some(k) => *k,
                // A server without a ZAP handler admits any client key.
                None => {
                    CurveKeyPair::new()
                        .map_err(|e| {
                            CliError::runtime(format!("cannot make a key pair: {}", describe(e)))
                        })?
                        .secret_key
                }
            };
            let public = tiermq_wire::curve_public_key(&secret);
            opt("--curve-serverkey", s.set_curve_serverkey(server_key))?;
            opt("--curve-client", s.set_curve_publickey(&public))?;
            opt("--curve-client", s.set_curve_secretkey(&secret))?;
        }
        Security::PlainClient { username, password } => {
            opt("--plain", s.set_plain_username(Some(username)))?;
            opt("--plain", s.set_plain_password(Some(password)))?;
        }
        Security::PlainServer { .. } => opt("--plain-server", s.set_plain_server(true))?,
    }
    Ok(())
}

/// The ZAP handler of a `--plain-server`: admits the one user name and
/// password given, refuses everything else. Stops when dropped.
pub(crate) struct ZapHandler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ZapHandler {
    /// Starts a handler in `ctx` if `security` needs one.
    ///
    /// Errors: the ZAP endpoint is taken, or the thread cannot start.
    pub(crate) fn start(ctx: &Context, security: Option<&Security>) -> CliResult<Option<Self>> {
        let Some(Security::PlainServer { username, password }) = security else {
            return Ok(None);
        };
        let fail =
            |e: Error| CliError::runtime(format!("cannot start the ZAP handler: {}", describe(e)));
        let rep = ctx.socket(REP).map_err(fail)?;
        rep.set_rcvtimeo(ZAP_POLL_MS)
            .and_then(|()| rep.set_linger(0))
            .and_then(|()| rep.bind(ZAP_ENDPOINT))
            .map_err(fail)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let admitted = (username.clone().into_bytes(), password.clone().into_bytes());
        let thread = thread::Builder::new()
            .name("tiermq-zap".into())
            .spawn(move || serve(&rep, &admitted, &stopped))
            .map_err(|e| CliError::runtime(format!("cannot start the ZAP handler: {e}")))?;
        Ok(Some(ZapHandler {
            stop,
            thread: Some(thread),
        }))
    }
}

impl Drop for ZapHandler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers ZAP requests until `stop` is set.
fn serve(rep: &Socket, admitted: &(Vec<u8>, Vec<u8>), stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let request = match rep.recv_multipart(0) {
            Ok(r) => r,
            Err(Error::EAGAIN) => continue,
            Err(_) => return,
        };
        let reply = verdict(&request, admitted);
        if rep.send_multipart(reply, 0).is_err() {
            return;
        }
    }
}

/// The ZAP reply to `request` (RFC 27: version, request id, domain,
/// address, identity, mechanism, credentials): 200 for PLAIN with the
/// admitted credentials, 400 for anything else.
fn verdict(request: &[Vec<u8>], admitted: &(Vec<u8>, Vec<u8>)) -> Vec<Vec<u8>> {
    let id = request.get(1).cloned().unwrap_or_default();
    let ok = matches!(request, [version, _, _, _, _, mechanism, user, pass]
        if version == b"1.0" && mechanism == b"PLAIN" && *user == admitted.0 && *pass == admitted.1);
    let (code, text): (&[u8], &[u8]) = if ok {
        (b"200", b"OK")
    } else {
        (b"400", b"wrong user name or password")
    };
    let user: &[u8] = if ok { &admitted.0 } else { b"" };
    vec![
        b"1.0".to_vec(),
        id,
        code.to_vec(),
        text.to_vec(),
        user.to_vec(),
        Vec::new(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(mechanism: &[u8], creds: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut r: Vec<Vec<u8>> = [&b"1.0"[..], b"7", b"", b"127.0.0.1", b"", mechanism]
            .iter()
            .map(|f| f.to_vec())
            .collect();
        r.extend(creds.iter().map(|c| c.to_vec()));
        r
    }

    #[test]
    fn only_the_admitted_credentials_pass() {
        let admitted = (b"alice".to_vec(), b"secret".to_vec());
        let ok = verdict(&request(b"PLAIN", &[b"alice", b"secret"]), &admitted);
        assert_eq!(ok[1], b"7");
        assert_eq!(ok[2], b"200");
        for bad in [
            request(b"PLAIN", &[b"alice", b"wrong"]),
            request(b"PLAIN", &[b"bob", b"secret"]),
            request(b"CURVE", &[&[0u8; 32]]),
            request(b"PLAIN", &[b"alice"]),
            vec![],
        ] {
            assert_eq!(verdict(&bad, &admitted)[2], b"400", "{bad:?}");
        }
    }
}
