//! The ceiling: the operating system's stream sockets with no messaging
//! library, one process writing large chunks to another over the same
//! transport and with the same buffers as the library runs.
//!
//! The reader binds (`tcp://127.0.0.1:<port>` or `ipc://<path>`), accepts
//! one connection and times `count` chunks after the first; the writer
//! writes `count + 1` chunks of `size` bytes with `write_all`. TCP gets
//! `TCP_NODELAY`, as every ZeroMQ implementation sets it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use socket2::SockRef;

use crate::{Error, RECV_TIMEOUT, Role, Spec, Transport, remove_ipc_file};

/// Runs a raw role (see [`crate::run`]); the time, for the reader.
pub fn run(
    spec: &Spec,
    on_bound: &mut dyn FnMut(&str),
    hold: &mut (dyn FnMut() + Send),
) -> Result<Option<Duration>, Error> {
    match (spec.role, spec.transport) {
        (Role::RawReader, Transport::Tcp) => {
            let ep = spec
                .endpoint
                .clone()
                .unwrap_or_else(|| "tcp://127.0.0.1:0".into());
            let listener = TcpListener::bind(tcp_addr(&ep)?)?;
            on_bound(&format!("tcp://{}", listener.local_addr()?));
            let (stream, _) = accept_within(|| listener.accept(), &listener)?;
            stream.set_nodelay(true)?;
            read_chunks(stream, spec).map(Some)
        }
        (Role::RawReader, Transport::Ipc) => {
            let ep = spec
                .endpoint
                .clone()
                .unwrap_or_else(|| crate::bind_endpoint(Transport::Ipc));
            let path = ipc_path(&ep)?;
            let _ = std::fs::remove_file(path);
            let listener = UnixListener::bind(path)?;
            on_bound(&ep);
            let out = accept_within(|| listener.accept(), &listener)
                .and_then(|(stream, _)| read_chunks(stream, spec));
            remove_ipc_file(&ep);
            out.map(Some)
        }
        (Role::RawWriter, Transport::Tcp) => {
            let stream = TcpStream::connect(tcp_addr(endpoint(spec)?)?)?;
            stream.set_nodelay(true)?;
            write_chunks(stream, spec)?;
            hold();
            Ok(None)
        }
        (Role::RawWriter, Transport::Ipc) => {
            let stream = UnixStream::connect(ipc_path(endpoint(spec)?)?)?;
            write_chunks(stream, spec)?;
            hold();
            Ok(None)
        }
        (role, transport) => Err(Error::new(format!(
            "raw has no {} role over {}",
            role.name(),
            transport.name()
        ))),
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
    let start = Instant::now();
    read_bytes(spec.count.saturating_mul(spec.size as u64))?;
    Ok(start.elapsed())
}

fn write_chunks(mut stream: impl Write + AsFd, spec: &Spec) -> Result<(), Error> {
    tune(&stream, spec)?;
    let chunk = vec![7u8; spec.size];
    for _ in 0..=spec.count {
        stream.write_all(&chunk)?;
    }
    stream.flush()?;
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
}
