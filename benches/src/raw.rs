//! The ceiling: the operating system's stream sockets with no messaging
//! library, one process writing large chunks to another over the same
//! transport and with the same buffers as the library runs.
//!
//! The reader binds (`tcp://127.0.0.1:<port>` or `ipc://<path>`), accepts
//! one connection and times `count` chunks after the first; the writer
//! writes `count + 1` chunks of `size` bytes with `write_all`. TCP gets
//! `TCP_NODELAY`, as every ZeroMQ implementation sets it.
//!
//! The ping-pong is the floor under a round trip: the pinger connects,
//! writes `size` bytes and blocks reading the `size`-byte echo, `count`
//! times after a warm-up; the ponger binds and echoes. Blocking calls on
//! one thread each, no framing: one wake-up per process per hop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use socket2::SockRef;

use crate::{Error, RECV_TIMEOUT, Role, Spec, Transport, remove_ipc_file, switches};

/// Runs a raw role (see [`crate::run`]); the time, for the reader and the
/// pinger.
pub fn run(
    spec: &Spec,
    on_bound: &mut dyn FnMut(&str),
    hold: &mut (dyn FnMut() + Send),
) -> Result<Option<Duration>, Error> {
    match (spec.role.binds(), spec.transport) {
        (true, Transport::Tcp) => {
            let ep = spec
                .endpoint
                .clone()
                .unwrap_or_else(|| "tcp://127.0.0.1:0".into());
            let listener = TcpListener::bind(tcp_addr(&ep)?)?;
            on_bound(&format!("tcp://{}", listener.local_addr()?));
            let (stream, _) = accept_within(|| listener.accept(), &listener)?;
            stream.set_nodelay(true)?;
            serve(stream, spec, hold)
        }
        (true, Transport::Ipc) => {
            let ep = spec
                .endpoint
                .clone()
                .unwrap_or_else(|| crate::bind_endpoint(Transport::Ipc));
            let path = ipc_path(&ep)?;
            let _ = std::fs::remove_file(path);
            let listener = UnixListener::bind(path)?;
            on_bound(&ep);
            let out = accept_within(|| listener.accept(), &listener)
                .and_then(|(stream, _)| serve(stream, spec, hold));
            remove_ipc_file(&ep);
            out
        }
        (false, Transport::Tcp) => {
            let stream = TcpStream::connect(tcp_addr(endpoint(spec)?)?)?;
            stream.set_nodelay(true)?;
            serve(stream, spec, hold)
        }
        (false, Transport::Ipc) => {
            let stream = UnixStream::connect(ipc_path(endpoint(spec)?)?)?;
            serve(stream, spec, hold)
        }
        (_, transport) => Err(Error::new(format!(
            "raw has no {} role over {}",
            spec.role.name(),
            transport.name()
        ))),
    }
}

/// Plays `spec`'s role on a connected stream.
fn serve(
    stream: impl Read + Write + AsFd,
    spec: &Spec,
    hold: &mut (dyn FnMut() + Send),
) -> Result<Option<Duration>, Error> {
    match spec.role {
        Role::RawReader => read_chunks(stream, spec).map(Some),
        Role::RawPing => ping(stream, spec).map(Some),
        Role::RawWriter | Role::RawPong => {
            if spec.role == Role::RawWriter {
                write_chunks(stream, spec)?;
            } else {
                pong(stream, spec)?;
            }
            hold();
            Ok(None)
        }
        other => Err(Error::new(format!("{} is not a raw role", other.name()))),
    }
}

fn endpoint(spec: &Spec) -> Result<&str, Error> {
    spec.endpoint
        .as_deref()
        .ok_or_else(|| Error::new("no endpoint to connect to"))
}

fn tcp_addr(ep: &str) -> Result<&str, Error> {
    ep.strip_prefix("tcp://")
        .ok_or_else(|| Error::new(format!("{ep:?} is not a tcp:// endpoint")))
}

fn ipc_path(ep: &str) -> Result<&str, Error> {
    ep.strip_prefix("ipc://")
        .ok_or_else(|| Error::new(format!("{ep:?} is not an ipc:// endpoint")))
}

/// Accepts one connection, giving up after [`RECV_TIMEOUT`] (a listener
/// has no accept timeout, so it polls in non-blocking mode).
fn accept_within<S, A>(
    mut accept: impl FnMut() -> std::io::Result<(S, A)>,
    listener: &impl AsFd,
) -> Result<(S, A), Error> {
    SockRef::from(listener).set_nonblocking(true)?;
    let deadline = Instant::now() + RECV_TIMEOUT;
    loop {
        match accept() {
            Ok(pair) => return Ok(pair),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(Error::timeout("a connection"));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The buffer sizes of the run, on a connected stream (in blocking mode).
fn tune(stream: &impl AsFd, spec: &Spec) -> Result<(), Error> {
    let sock = SockRef::from(stream);
    sock.set_nonblocking(false)?;
    sock.set_read_timeout(Some(RECV_TIMEOUT))?;
    if spec.buf > 0 {
        sock.set_send_buffer_size(spec.buf)?;
        sock.set_recv_buffer_size(spec.buf)?;
    }
    Ok(())
}

fn read_chunks(mut stream: impl Read + AsFd, spec: &Spec) -> Result<Duration, Error> {
    tune(&stream, spec)?;
    // Reads as large as the chunks (up to 256 KiB), so the reader's side
    // costs no more system calls than the writer's.
    let mut buf = vec![0u8; spec.size.clamp(4096, 256 * 1024)];
    let mut read_bytes = |mut left: u64| -> Result<(), Error> {
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
            match stream.read(&mut buf[..want]) {
                Ok(0) => return Err(Error::new("the writer closed early")),
                Ok(n) => left -= n as u64,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(Error::timeout("a chunk"));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    };
    read_bytes(spec.size as u64)?;
    switches::begin();
    let start = Instant::now();
    read_bytes(spec.count.saturating_mul(spec.size as u64))?;
    let elapsed = start.elapsed();
    switches::end();
    Ok(elapsed)
}

fn write_chunks(mut stream: impl Write + AsFd, spec: &Spec) -> Result<(), Error> {
    tune(&stream, spec)?;
    let chunk = vec![7u8; spec.size];
    switches::begin();
    for _ in 0..=spec.count {
        stream.write_all(&chunk)?;
    }
    stream.flush()?;
    switches::end();
    Ok(())
}

/// Reads exactly `buf.len()` bytes, a timeout or an early close being
/// errors.
fn read_exact(stream: &mut impl Read, buf: &mut [u8], what: &str) -> Result<(), Error> {
    stream.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Error::timeout(what),
        std::io::ErrorKind::UnexpectedEof => Error::new("the peer closed early"),
        _ => e.into(),
    })
}

/// One warm-up ping-pong, then times `count` of them.
fn ping(mut stream: impl Read + Write + AsFd, spec: &Spec) -> Result<Duration, Error> {
    tune(&stream, spec)?;
    let out = vec![7u8; spec.size];
    let mut back = vec![0u8; spec.size];
    stream.write_all(&out)?;
    read_exact(&mut stream, &mut back, "the first echo")?;
    switches::begin();
    let start = Instant::now();
    for _ in 0..spec.count {
        stream.write_all(&out)?;
        read_exact(&mut stream, &mut back, "an echo")?;
    }
    let elapsed = start.elapsed();
    switches::end();
    Ok(elapsed)
}

/// Echoes `count + 1` messages of `size` bytes (the first uncounted).
fn pong(mut stream: impl Read + Write + AsFd, spec: &Spec) -> Result<(), Error> {
    tune(&stream, spec)?;
    let mut buf = vec![0u8; spec.size];
    for i in 0..=spec.count {
        if i == 1 {
            switches::begin();
        }
        read_exact(&mut stream, &mut buf, "a ping")?;
        stream.write_all(&buf)?;
    }
    switches::end();
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::zmq_like::tests::two_ends;

    #[test]
    fn raw_over_tcp_and_ipc() {
        for transport in ["tcp", "ipc"] {
            let (r, w) = two_ends(
                &[
                    "raw-reader",
                    "raw",
                    transport,
                    "65536",
                    "20",
                    "--buf",
                    "1048576",
                ],
                &[
                    "raw-writer",
                    "raw",
                    transport,
                    "65536",
                    "20",
                    "--buf",
                    "1048576",
                ],
            );
            assert!(r.unwrap().secs.is_some(), "{transport}");
            assert_eq!(w.unwrap().secs, None, "{transport}");
        }
    }

    #[test]
    fn ping_pong_over_tcp_and_ipc() {
        for transport in ["tcp", "ipc"] {
            let (pong, ping) = two_ends(
                &["raw-pong", "raw", transport, "16", "200"],
                &["raw-ping", "raw", transport, "16", "200"],
            );
            assert_eq!(pong.unwrap().secs, None, "{transport}");
            let ping = ping.unwrap();
            assert!(ping.secs.is_some_and(|s| s > 0.0), "{transport}");
            // The pinger blocks on the echo: the span counted switches.
            assert!(
                ping.switches.is_some_and(|w| w.voluntary > 0),
                "{transport}: {:?}",
                ping.switches
            );
        }
    }
}
