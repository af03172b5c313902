//! Operating-system sockets: tcp and ipc listeners and streams, created with
//! the options libzmq uses (TCP_NODELAY, SO_REUSEADDR, backlog 100, buffer
//! sizes).

use std::io::{self, IoSlice, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use socket2::{Domain, SockAddr, SockRef, Socket, Type};

/// libzmq's listen backlog.
const BACKLOG: i32 = 100;

/// `EINPROGRESS`: a non-blocking connect has started.
#[cfg(any(target_os = "linux", target_os = "android"))]
const EINPROGRESS: i32 = 115;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const EINPROGRESS: i32 = 36;

/// Kernel buffer sizes to apply to a socket.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BufSizes {
    pub(crate) sndbuf: Option<usize>,
    pub(crate) rcvbuf: Option<usize>,
}

impl BufSizes {
    fn apply(self, sock: &SockRef<'_>) -> io::Result<()> {
        if let Some(n) = self.sndbuf {
            sock.set_send_buffer_size(n)?;
        }
        if let Some(n) = self.rcvbuf {
            sock.set_recv_buffer_size(n)?;
        }
        Ok(())
    }
}

/// A listening socket.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    /// The path is unlinked when the listener is closed.
    Ipc(UnixListener, PathBuf),
}

/// A connection's socket.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Ipc(UnixStream),
}

/// Binds and listens on a tcp address with SO_REUSEADDR and backlog 100.
///
/// With `ipv6` (libzmq's IPV6 option) an IPv6 listener has IPV6_V6ONLY off,
/// as libzmq's has, so `[::]` also accepts IPv4 peers (as `::ffff:a.b.c.d`).
/// If the host has no IPv6 at all (`EAFNOSUPPORT`), `[::]` falls back to
/// `0.0.0.0`, as libzmq does.
pub(crate) fn listen_tcp(addr: SocketAddr, bufs: BufSizes, ipv6: bool) -> io::Result<Listener> {
    let sock = match Socket::new(Domain::for_address(addr), Type::STREAM, None) {
        Err(e)
            if e.raw_os_error() == Some(nix::errno::Errno::EAFNOSUPPORT as i32)
                && ipv6
                && addr.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED) =>
        {
            let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), addr.port());
            return listen_tcp(v4, bufs, false);
        }
        other => other?,
    };
    sock.set_reuse_address(true)?;
    if ipv6 && addr.is_ipv6() {
        sock.set_only_v6(false)?;
    }
    // Accepted sockets inherit the listener's buffer sizes, which matters
    // for the receive window negotiated in the SYN.
    bufs.apply(&SockRef::from(&sock))?;
    sock.bind(&addr.into())?;
    sock.listen(BACKLOG)?;
    sock.set_nonblocking(true)?;
    Ok(Listener::Tcp(TcpListener::from_std(sock.into())))
}

/// Binds and listens on a Unix domain socket path. A stale socket file (one
/// nobody accepts on) is removed first; a live one is `AddrInUse`. On Linux a
/// path starting with `@` names an abstract socket (no file), as in libzmq.
pub(crate) fn listen_ipc(path: &Path) -> io::Result<Listener> {
    let addr = ipc_addr(path)?;
    if addr.as_abstract_namespace().is_none() {
        remove_stale(path)?;
    }
    let sock = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    sock.bind(&addr)?;
    sock.listen(BACKLOG)?;
    sock.set_nonblocking(true)?;
    let std_listener: std::os::unix::net::UnixListener = sock.into();
    Ok(Listener::Ipc(
        UnixListener::from_std(std_listener),
        path.to_owned(),
    ))
}

/// The socket address of an ipc path: `@name` is Linux's abstract
/// namespace, anything else a file system path.
fn ipc_addr(path: &Path) -> io::Result<SockAddr> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::unix::ffi::OsStrExt;
        if let Some(name) = path.as_os_str().as_bytes().strip_prefix(b"@") {
            let mut raw = Vec::with_capacity(name.len() + 1);
            raw.push(0);
            raw.extend_from_slice(name);
            return SockAddr::unix(std::ffi::OsStr::from_bytes(&raw));
        }
    }
    SockAddr::unix(path)
}

fn remove_stale(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        // Never delete a file that is not a socket.
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        ));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{} is in use by a live listener", path.display()),
        )),
        Err(_) => match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    }
}

/// A unique path for `ipc://*`, in the temporary directory.
pub(crate) fn unique_ipc_path() -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("tiermq-{}-{n}.ipc", std::process::id()))
}

impl Listener {
    /// Accepts one connection: the stream and the peer's address string.
    /// Applies TCP_NODELAY and `bufs` to tcp streams.
    pub(crate) fn accept(&self, bufs: BufSizes) -> io::Result<(Stream, String)> {
        match self {
            Listener::Tcp(l) => {
                let (s, addr) = l.accept()?;
                // An option that fails on an accepted socket is not worth
                // refusing the peer for.
                let _ = s.set_nodelay(true);
                let _ = bufs.apply(&SockRef::from(&s));
                Ok((Stream::Tcp(s), peer_string(addr)))
            }
            Listener::Ipc(l, path) => {
                let (s, _) = l.accept()?;
                let _ = bufs.apply(&SockRef::from(&s));
                Ok((Stream::Ipc(s), path.display().to_string()))
            }
        }
    }

    /// The `last_endpoint` string: the actually bound address.
    pub(crate) fn endpoint(&self) -> io::Result<String> {
        match self {
            Listener::Tcp(l) => Ok(crate::endpoint::tcp_endpoint_string(l.local_addr()?)),
            Listener::Ipc(_, path) => Ok(format!("ipc://{}", path.display())),
        }
    }

    /// Removes an ipc listener's socket file. Call once, when closing.
    pub(crate) fn unlink(&self) {
        if let Listener::Ipc(_, path) = self
            && ipc_addr(path).is_ok_and(|a| a.as_abstract_namespace().is_none())
        {
            let _ = std::fs::remove_file(path);
        }
    }

    pub(crate) fn source(&mut self) -> &mut dyn Source {
        match self {
            Listener::Tcp(l) => l,
            Listener::Ipc(l, _) => l,
        }
    }
}

/// A tcp peer's `ip:port`. An IPv4 peer of a dual-stack listener shows as
/// its IPv4 address, not as `[::ffff:a.b.c.d]`.
fn peer_string(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()).to_string(),
            None => addr.to_string(),
        },
        SocketAddr::V4(_) => addr.to_string(),
    }
}

/// Starts a non-blocking tcp connect with TCP_NODELAY and `bufs` set before
/// the SYN. With a `source`, the socket first binds to it, with SO_REUSEADDR
/// as libzmq sets, so that a fixed source port can be used again for another
/// destination. Returns the stream, and whether the connect is still in
/// progress.
pub(crate) fn connect_tcp(
    addr: SocketAddr,
    source: Option<SocketAddr>,
    bufs: BufSizes,
) -> io::Result<(Stream, bool)> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    sock.set_nonblocking(true)?;
    sock.set_tcp_nodelay(true)?;
    bufs.apply(&SockRef::from(&sock))?;
    if let Some(source) = source {
        sock.set_reuse_address(true)?;
        sock.bind(&source.into())?;
    }
    let in_progress = match sock.connect(&addr.into()) {
        Ok(()) => false,
        Err(e) if e.raw_os_error() == Some(EINPROGRESS) => true,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => true,
        Err(e) => return Err(e),
    };
    let std_stream: std::net::TcpStream = sock.into();
    Ok((Stream::Tcp(TcpStream::from_std(std_stream)), in_progress))
}

/// Connects to a Unix domain socket. This completes at once or fails (for
/// example `WouldBlock` when the listener's backlog is full); it is never in
/// progress.
pub(crate) fn connect_ipc(path: &Path, bufs: BufSizes) -> io::Result<(Stream, bool)> {
    let sock = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    sock.set_nonblocking(true)?;
    let _ = bufs.apply(&SockRef::from(&sock));
    sock.connect(&ipc_addr(path)?)?;
    let std_stream: std::os::unix::net::UnixStream = sock.into();
    Ok((Stream::Ipc(UnixStream::from_std(std_stream)), false))
}

/// The outcome of checking a connecting stream.
pub(crate) enum ConnectState {
    Connected,
    Pending,
}

impl Stream {
    /// Checks a stream whose non-blocking connect was in progress, after a
    /// readiness event.
    pub(crate) fn connect_state(&self) -> io::Result<ConnectState> {
        let (err, peer) = match self {
            Stream::Tcp(s) => (s.take_error(), s.peer_addr().map(drop)),
            Stream::Ipc(s) => (s.take_error(), s.peer_addr().map(drop)),
        };
        if let Some(e) = err? {
            return Err(e);
        }
        match peer {
            Ok(()) => Ok(ConnectState::Connected),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(ConnectState::Pending),
            Err(e) => Err(e),
        }
    }

    /// The peer's address string (`ip:port`), or `fallback` for ipc.
    pub(crate) fn peer_addr_string(&self, fallback: &str) -> String {
        match self {
            Stream::Tcp(s) => s
                .peer_addr()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| fallback.to_owned()),
            Stream::Ipc(_) => fallback.to_owned(),
        }
    }

    /// libzmq's `Peer-Address` property of this connection: the numeric
    /// host alone for tcp (`peer_addr` `[::1]:5555` gives `::1`), and the
    /// peer process's credentials for ipc, `localhost:UID:GID:PID` (empty if
    /// the kernel does not tell).
    pub(crate) fn peer_address(&self, peer_addr: &str) -> String {
        match self {
            Stream::Tcp(_) => host_of(peer_addr).to_owned(),
            Stream::Ipc(s) => {
                use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
                getsockopt(s, PeerCredentials).map_or_else(
                    |_| String::new(),
                    |c| format!("localhost:{}:{}:{}", c.uid(), c.gid(), c.pid()),
                )
            }
        }
    }

    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Ipc(s) => s.read(buf),
        }
    }

    pub(crate) fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Ipc(s) => s.write_vectored(bufs),
        }
    }

    pub(crate) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let interest = Interest::READABLE | Interest::WRITABLE;
        match self {
            Stream::Tcp(s) => registry.register(s, token, interest),
            Stream::Ipc(s) => registry.register(s, token, interest),
        }
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) {
        let _ = match self {
            Stream::Tcp(s) => registry.deregister(s),
            Stream::Ipc(s) => registry.deregister(s),
        };
    }
}

/// The host of an `ip:port` (or `[ipv6]:port`) address, without brackets.
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

#[cfg(test)]
mod peer_address_tests {
    use super::*;

    #[test]
    fn tcp_gives_the_host_alone() {
        assert_eq!(host_of("[::1]:4000"), "::1");
        assert_eq!(host_of("192.168.1.2:4000"), "192.168.1.2");
        assert_eq!(host_of(""), "");
    }

    #[test]
    fn ipc_gives_the_peers_credentials_as_libzmq_does() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let s = Stream::Ipc(UnixStream::from_std(a));
        // This process is the peer: /proc/self is owned by its uid and gid.
        use std::os::unix::fs::MetadataExt;
        let me = std::fs::metadata("/proc/self").unwrap();
        let expected = format!("localhost:{}:{}:{}", me.uid(), me.gid(), std::process::id());
        assert_eq!(s.peer_address("ignored"), expected);
    }
}
