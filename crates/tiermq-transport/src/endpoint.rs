//! Endpoint strings (`tcp://`, `ipc://`, `inproc://`): parsing, display and
//! address resolution.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;

/// Where a socket binds or connects, parsed from a ZeroMQ endpoint string.
///
/// ```
/// use tiermq_transport::Endpoint;
///
/// let ep: Endpoint = "tcp://*:5555".parse().unwrap();
/// assert_eq!(ep, Endpoint::Tcp { host: "*".into(), port: Some(5555) });
/// let ep: Endpoint = "tcp://[::1]:0".parse().unwrap();
/// assert_eq!(ep, Endpoint::Tcp { host: "::1".into(), port: None });
/// assert_eq!(ep.to_string(), "tcp://[::1]:*");
/// assert!(matches!("ipc:///tmp/x".parse(), Ok(Endpoint::Ipc(_))));
/// assert!(matches!("inproc://name".parse(), Ok(Endpoint::Inproc(_))));
/// assert!("tcp://host".parse::<Endpoint>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// TCP. `host` is an IPv4 or IPv6 literal (without brackets), a host name,
    /// or `*` for every interface (bind only). `port` is `None` for `0` or
    /// `*`: an ephemeral port chosen by the kernel (bind only).
    Tcp {
        /// Host name, address literal or `*`.
        host: String,
        /// Port, or `None` for an ephemeral one.
        port: Option<u16>,
    },
    /// A Unix domain socket at this path. `ipc://*` (path `*`) binds a fresh
    /// unique path in the temporary directory; on Linux, `ipc://@name` is an
    /// abstract socket (no file), as in libzmq.
    Ipc(PathBuf),
    /// An in-process endpoint name. Parsed here; served by the `tiermq`
    /// crate, never by the reactor.
    Inproc(String),
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
    if rest.contains(';') {
        return Err("source addresses (`src;dst`) are not supported");
    }
    let (host, port) = if let Some(after) = rest.strip_prefix('[') {
        let (host, tail) = after
            .split_once(']')
            .ok_or("unclosed '[' in IPv6 address")?;
        let port = tail.strip_prefix(':').ok_or("expected ':port' after ']'")?;
        (host, port)
    } else {
        let (host, port) = rest.rsplit_once(':').ok_or("expected host:port")?;
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
    Ok(Endpoint::Tcp {
        host: host.to_owned(),
        port,
    })
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => {
                f.write_str("tcp://")?;
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

/// Resolves a tcp bind address on the caller's thread. `*` means every IPv4
/// interface; a missing port means an ephemeral one.
pub(crate) fn resolve_bind(host: &str, port: Option<u16>) -> io::Result<SocketAddr> {
    let port = port.unwrap_or(0);
    if host == "*" {
        return Ok(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::UNSPECIFIED,
            port,
        )));
    }
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| no_address(host))
}

/// Resolves a tcp connect address on the caller's thread into every address
/// the name has; the reactor tries them in turn on each attempt.
pub(crate) fn resolve_connect(host: &str, port: Option<u16>) -> io::Result<Vec<SocketAddr>> {
    let bad = |reason: &'static str| {
        io::Error::from(EndpointError::Invalid {
            endpoint: Endpoint::Tcp {
                host: host.to_owned(),
                port,
            }
            .to_string(),
            reason,
        })
    };
    if host == "*" {
        return Err(bad("cannot connect to '*'"));
    }
    let port = port.ok_or_else(|| bad("cannot connect to port 0 or '*'"))?;
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(no_address(host));
    }
    Ok(addrs)
}

fn no_address(host: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("host {host:?} resolved to no address"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: Option<u16>) -> Endpoint {
        Endpoint::Tcp {
            host: host.into(),
            port,
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
            fn tcp_ports_round_trip(port in 1u16.., v6 in any::<bool>()) {
                let host = if v6 { "::1" } else { "127.0.0.1" };
                let ep = Endpoint::Tcp { host: host.into(), port: Some(port) };
                prop_assert_eq!(ep.to_string().parse::<Endpoint>(), Ok(ep));
            }
        }
    }

    #[test]
    fn resolves() {
        assert_eq!(
            resolve_bind("*", None).unwrap(),
            "0.0.0.0:0".parse().unwrap()
        );
        assert_eq!(
            resolve_bind("::1", Some(5)).unwrap(),
            "[::1]:5".parse().unwrap()
        );
        assert_eq!(
            resolve_connect("127.0.0.1", Some(9)).unwrap(),
            vec!["127.0.0.1:9".parse::<SocketAddr>().unwrap()]
        );
        assert!(!resolve_connect("localhost", Some(9)).unwrap().is_empty());
        assert_eq!(
            resolve_connect("*", Some(9)).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            resolve_connect("127.0.0.1", None).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            tcp_endpoint_string("[::1]:5".parse().unwrap()),
            "tcp://[::1]:5"
        );
    }
}
