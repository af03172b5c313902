//! Endpoint strings (`tcp://`, `ipc://`, `inproc://`): parsing and display.
//! Turning tcp hosts into addresses is `resolve`'s job.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// Where a socket binds or connects, parsed from a ZeroMQ endpoint string.
///
/// ```
/// use tiermq_transport::{Endpoint, TcpSource};
///
/// let ep: Endpoint = "tcp://*:5555".parse().unwrap();
/// assert_eq!(ep, Endpoint::Tcp { host: "*".into(), port: Some(5555), source: None });
/// let ep: Endpoint = "tcp://[::1]:0".parse().unwrap();
/// assert_eq!(ep, Endpoint::Tcp { host: "::1".into(), port: None, source: None });
/// assert_eq!(ep.to_string(), "tcp://[::1]:*");
/// // A connect from a chosen local address (or interface) and port:
/// let ep: Endpoint = "tcp://eth0:0;server.example:5555".parse().unwrap();
/// let source = TcpSource { host: "eth0".into(), port: None };
/// assert_eq!(ep, Endpoint::Tcp {
///     host: "server.example".into(),
///     port: Some(5555),
///     source: Some(source),
/// });
/// assert_eq!(ep.to_string(), "tcp://eth0:*;server.example:5555");
/// assert!(matches!("ipc:///tmp/x".parse(), Ok(Endpoint::Ipc(_))));
/// assert!(matches!("inproc://name".parse(), Ok(Endpoint::Inproc(_))));
/// assert!("tcp://host".parse::<Endpoint>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// TCP: `tcp://HOST:PORT`, or `tcp://SOURCE;HOST:PORT` for a connect
    /// from a chosen local address (libzmq's syntax).
    ///
    /// `host` is an IPv4 or IPv6 literal (without brackets), an interface
    /// name (bind only, `tcp://eth0:5555`), a host name, or `*` for every
    /// interface (bind only). `port` is `None` for `0` or `*`: an ephemeral
    /// port chosen by the kernel (bind only).
    Tcp {
        /// Host name, address literal, interface name or `*`.
        host: String,
        /// Port, or `None` for an ephemeral one.
        port: Option<u16>,
        /// Connect only: the local address or interface the connecting
        /// socket binds before it connects (the `SOURCE;` part); `None` lets
        /// the kernel choose. A bind refuses an endpoint that has one.
        source: Option<TcpSource>,
    },
    /// A Unix domain socket at this path. `ipc://*` (path `*`) binds a fresh
    /// unique path in the temporary directory; on Linux, `ipc://@name` is an
    /// abstract socket (no file), as in libzmq.
    Ipc(PathBuf),
    /// An in-process endpoint name. Parsed here; served by the `tiermq`
    /// crate, never by the reactor.
    Inproc(String),
}

/// The local end of a tcp connect: the `SOURCE` in `tcp://SOURCE;HOST:PORT`.
///
/// Written `ip:port`, `[ipv6]:port`, `iface:port` or `*:port`, with port `0`
/// or `*` for an ephemeral one. The connecting socket binds to it (with
/// SO_REUSEADDR, as libzmq does) before connecting, so the connection leaves
/// through that address or interface. Interface names are looked up on each
/// connect attempt, never through DNS.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TcpSource {
    /// An IPv4 or IPv6 literal (without brackets), an interface name, or
    /// `*` for any local address.
    pub host: String,
    /// The local port, or `None` for an ephemeral one.
    pub port: Option<u16>,
}

impl fmt::Display for TcpSource {
    /// `host:port` as it appears before the `;`, IPv6 in brackets and an
    /// ephemeral port as `*`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_host_port(f, &self.host, self.port)
    }
}

/// Why an endpoint string was refused.
///
/// Converts into an [`io::Error`] of kind [`io::ErrorKind::Unsupported`] for
/// [`UnsupportedScheme`](EndpointError::UnsupportedScheme) (libzmq's
/// `EPROTONOSUPPORT`) and [`io::ErrorKind::InvalidInput`] otherwise; the
/// `EndpointError` itself is the `io::Error`'s inner error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointError {
    /// The string has no `scheme://` prefix.
    MissingScheme(String),
    /// A well-formed scheme this library does not serve (`udp`, `pgm`, ...).
    UnsupportedScheme(String),
    /// The part after `scheme://` is malformed; the text says how.
    Invalid {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::MissingScheme(ep) => {
                write!(
                    f,
                    "endpoint {ep:?} has no scheme (expected tcp://, ipc:// or inproc://)"
                )
            }
            EndpointError::UnsupportedScheme(scheme) => {
                write!(
                    f,
                    "transport {scheme:?} is not supported (tcp, ipc and inproc are)"
                )
            }
            EndpointError::Invalid { endpoint, reason } => {
                write!(f, "invalid endpoint {endpoint:?}: {reason}")
            }
        }
    }
}

impl std::error::Error for EndpointError {}

impl From<EndpointError> for io::Error {
    fn from(e: EndpointError) -> io::Error {
        let kind = match e {
            EndpointError::UnsupportedScheme(_) => io::ErrorKind::Unsupported,
            _ => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, e)
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(EndpointError::MissingScheme(s.to_owned()));
        };
        let invalid = |reason| EndpointError::Invalid {
            endpoint: s.to_owned(),
            reason,
        };
        match scheme {
            "tcp" => parse_tcp(rest).map_err(invalid),
            "ipc" if rest.is_empty() => Err(invalid("empty path")),
            "ipc" => Ok(Endpoint::Ipc(PathBuf::from(rest))),
            "inproc" if rest.is_empty() => Err(invalid("empty name")),
            "inproc" => Ok(Endpoint::Inproc(rest.to_owned())),
            "" => Err(EndpointError::MissingScheme(s.to_owned())),
            other
                if other
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+') =>
            {
                Err(EndpointError::UnsupportedScheme(other.to_owned()))
            }
            _ => Err(invalid("malformed scheme")),
        }
    }
}

fn parse_tcp(rest: &str) -> Result<Endpoint, &'static str> {
    // libzmq splits at the last ';'.
    let (source, dest) = match rest.rsplit_once(';') {
        Some((source, _)) if source.contains(';') => return Err("more than one ';'"),
        Some(("", _)) => return Err("empty source address before ';'"),
        Some((source, dest)) => {
            let (host, port) = parse_host_port(source)?;
            (Some(TcpSource { host, port }), dest)
        }
        None => (None, rest),
    };
    let (host, port) = parse_host_port(dest)?;
    Ok(Endpoint::Tcp { host, port, source })
}

/// `host:port` or `[v6]:port`; port `0` or `*` is `None`.
fn parse_host_port(s: &str) -> Result<(String, Option<u16>), &'static str> {
    let (host, port) = if let Some(after) = s.strip_prefix('[') {
        let (host, tail) = after
            .split_once(']')
            .ok_or("unclosed '[' in IPv6 address")?;
        let port = tail.strip_prefix(':').ok_or("expected ':port' after ']'")?;
        (host, port)
    } else {
        let (host, port) = s.rsplit_once(':').ok_or("expected host:port")?;
        if host.contains(':') {
            return Err("IPv6 addresses must be written in brackets, as [::1]:port");
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("empty host");
    }
    let port = match port {
        "*" | "0" => None,
        p => Some(
            p.parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or("port must be 1-65535, 0 or *")?,
        ),
    };
    Ok((host.to_owned(), port))
}

/// `host:port`, IPv6 in brackets, an ephemeral port as `*`.
fn write_host_port(f: &mut fmt::Formatter<'_>, host: &str, port: Option<u16>) -> fmt::Result {
    if host.contains(':') {
        write!(f, "[{host}]")?;
    } else {
        f.write_str(host)?;
    }
    match port {
        Some(p) => write!(f, ":{p}"),
        None => f.write_str(":*"),
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port, source } => {
                f.write_str("tcp://")?;
                if let Some(source) = source {
                    write!(f, "{source};")?;
                }
                write_host_port(f, host, *port)
            }
            Endpoint::Ipc(path) => write!(f, "ipc://{}", path.display()),
            Endpoint::Inproc(name) => write!(f, "inproc://{name}"),
        }
    }
}

/// The `tcp://` string for a bound or connected socket address, in libzmq's
/// `last_endpoint` form (`tcp://127.0.0.1:41234`, `tcp://[::1]:41234`).
pub(crate) fn tcp_endpoint_string(addr: SocketAddr) -> String {
    format!("tcp://{addr}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: Option<u16>) -> Endpoint {
        Endpoint::Tcp {
            host: host.into(),
            port,
            source: None,
        }
    }

    fn from(source: &str, port: Option<u16>, dest: Endpoint) -> Endpoint {
        let Endpoint::Tcp { host, port: p, .. } = dest else {
            unreachable!()
        };
        Endpoint::Tcp {
            host,
            port: p,
            source: Some(TcpSource {
                host: source.into(),
                port,
            }),
        }
    }

    #[test]
    fn parses_tcp_forms() {
        assert_eq!(
            "tcp://127.0.0.1:5555".parse(),
            Ok(tcp("127.0.0.1", Some(5555)))
        );
        assert_eq!("tcp://*:*".parse(), Ok(tcp("*", None)));
        assert_eq!("tcp://*:0".parse(), Ok(tcp("*", None)));
        assert_eq!("tcp://[::1]:7".parse(), Ok(tcp("::1", Some(7))));
        assert_eq!("tcp://localhost:80".parse(), Ok(tcp("localhost", Some(80))));
        assert_eq!("tcp://eth0:5555".parse(), Ok(tcp("eth0", Some(5555))));
    }

    #[test]
    fn parses_source_addresses() {
        let dest = || tcp("10.0.0.2", Some(5555));
        for (s, source, port) in [
            ("tcp://10.0.0.1:0;10.0.0.2:5555", "10.0.0.1", None),
            ("tcp://10.0.0.1:*;10.0.0.2:5555", "10.0.0.1", None),
            ("tcp://10.0.0.1:4000;10.0.0.2:5555", "10.0.0.1", Some(4000)),
            ("tcp://eth0:0;10.0.0.2:5555", "eth0", None),
            ("tcp://[fe80::1]:7;10.0.0.2:5555", "fe80::1", Some(7)),
            ("tcp://*:4000;10.0.0.2:5555", "*", Some(4000)),
        ] {
            assert_eq!(s.parse(), Ok(from(source, port, dest())), "{s}");
        }
        assert_eq!(
            "tcp://lo:0;[::1]:9".parse(),
            Ok(from("lo", None, tcp("::1", Some(9))))
        );
        assert_eq!(
            "tcp://127.0.0.1:0;localhost:9".parse(),
            Ok(from("127.0.0.1", None, tcp("localhost", Some(9))))
        );
    }

    #[test]
    fn rejects_bad_tcp() {
        for bad in [
            "tcp://",
            "tcp://host",
            "tcp://:5555",
            "tcp://host:",
            "tcp://host:65536",
            "tcp://host:-1",
            "tcp://::1:5",
            "tcp://[::1:5",
            "tcp://[::1]5",
            "tcp://a;b:5",
            "tcp://;b:5",
            "tcp://a:1;;b:5",
            "tcp://a:1;c:2;b:5",
            "tcp://a:1;b",
            "tcp://a:1;",
            "tcp://::1:1;b:5",
            "tcp://a:70000;b:5",
        ] {
            let err = bad.parse::<Endpoint>().unwrap_err();
            assert!(
                matches!(err, EndpointError::Invalid { .. }),
                "{bad}: {err:?}"
            );
            assert_eq!(io::Error::from(err).kind(), io::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn unsupported_scheme_is_distinguishable() {
        let err = "udp://1.2.3.4:5".parse::<Endpoint>().unwrap_err();
        assert_eq!(err, EndpointError::UnsupportedScheme("udp".into()));
        let io = io::Error::from(err);
        assert_eq!(io.kind(), io::ErrorKind::Unsupported);
        assert!(io.get_ref().unwrap().is::<EndpointError>());
        assert!(matches!(
            "nothing".parse::<Endpoint>(),
            Err(EndpointError::MissingScheme(_))
        ));
        assert!(matches!(
            "t cp://x:1".parse::<Endpoint>(),
            Err(EndpointError::Invalid { .. })
        ));
    }

    #[test]
    fn ipc_and_inproc() {
        assert_eq!("ipc:///tmp/a".parse(), Ok(Endpoint::Ipc("/tmp/a".into())));
        assert_eq!("ipc://rel".parse(), Ok(Endpoint::Ipc("rel".into())));
        assert_eq!("inproc://x".parse(), Ok(Endpoint::Inproc("x".into())));
        assert!("ipc://".parse::<Endpoint>().is_err());
        assert!("inproc://".parse::<Endpoint>().is_err());
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "tcp://1.2.3.4:5",
            "tcp://[::1]:9",
            "tcp://*:*",
            "tcp://127.0.0.1:*;127.0.0.1:5",
            "tcp://eth0:4000;host.example:5",
            "tcp://[::1]:*;[::1]:9",
            "tcp://*:7;[::1]:9",
            "ipc:///a/b",
            "inproc://q",
        ] {
            assert_eq!(s.parse::<Endpoint>().unwrap().to_string(), s);
        }
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Any string parses or is refused; nothing panics, and what
            /// parses prints back to something that parses the same.
            #[test]
            fn parse_never_panics_and_round_trips(s in "(tcp|ipc|inproc|udp|)(://)?[\\[\\]:*a-z0-9./;-]{0,24}") {
                if let Ok(ep) = s.parse::<Endpoint>() {
                    prop_assert_eq!(ep.to_string().parse::<Endpoint>(), Ok(ep));
                }
            }

            #[test]
            fn tcp_ports_round_trip(
                port in 1u16..,
                v6 in any::<bool>(),
                source in proptest::option::of((any::<bool>(), proptest::option::of(1u16..))),
            ) {
                let host = if v6 { "::1" } else { "127.0.0.1" };
                let source = source.map(|(iface, port)| TcpSource {
                    host: if iface { "eth0" } else { host }.into(),
                    port,
                });
                let ep = Endpoint::Tcp { host: host.into(), port: Some(port), source };
                prop_assert_eq!(ep.to_string().parse::<Endpoint>(), Ok(ep));
            }
        }
    }

    #[test]
    fn last_endpoint_strings() {
        assert_eq!(
            tcp_endpoint_string("[::1]:5".parse().unwrap()),
            "tcp://[::1]:5"
        );
    }
}
