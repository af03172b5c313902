//! Turning a tcp endpoint's host into socket addresses: `*`, address
//! literals, interface names (getifaddrs) and host names (the system
//! resolver).
//!
//! A bind resolves once, on the caller's thread. A connect is checked for
//! syntax on the caller's thread and resolved again on every attempt (as
//! libzmq does), so a name that moves to another address, or that does not
//! resolve yet, is followed by the reconnect loop.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use crate::endpoint::{Endpoint, EndpointError, TcpSource};

/// The address a tcp bind listens on. `host` is tried as, in order:
///
/// - `*`: every interface, `0.0.0.0`, or `[::]` when `ipv6` (the listener
///   is then dual-stack, see `net::listen_tcp`);
/// - an IPv4 or IPv6 literal (of either family, whatever `ipv6` says);
/// - an interface name: its first IPv4 address, or with `ipv6` its first
///   IPv6 address. This is libzmq's rule (`resolve_nic_name`): the family
///   follows the IPV6 option, and an interface without an address of that
///   family is an error;
/// - a host name: its first address, IPv4 only unless `ipv6`. libzmq
///   refuses names in a bind; tiermq has always accepted them.
///
/// A missing port means an ephemeral one. Blocks for a host name lookup.
///
/// Errors: `InvalidInput`, with no OS error code, when `host` is none of
/// these (the `tiermq` crate reports it as `ENODEV`, as libzmq does).
pub(crate) fn bind_addr(host: &str, port: Option<u16>, ipv6: bool) -> io::Result<SocketAddr> {
    let port = port.unwrap_or(0);
    if host == "*" {
        return Ok(SocketAddr::new(unspecified(ipv6), port));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    match nic_addr(host, ipv6, port) {
        Nic::Found(addr) => return Ok(addr),
        Nic::NoAddress => {
            let family = if ipv6 { "IPv6" } else { "IPv4" };
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("interface {host:?} has no {family} address"),
            ));
        }
        Nic::Absent => {}
    }
    lookup(host, port, ipv6)
        .ok()
        .and_then(|addrs| addrs.into_iter().next())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{host:?} is not an address, an interface or a host name that resolves"),
            )
        })
}

/// Where a tcp connect goes, kept unresolved: each attempt resolves it
/// again.
#[derive(Clone, Debug)]
pub(crate) struct TcpTarget {
    host: String,
    port: u16,
    source: Option<TcpSource>,
    ipv6: bool,
}

impl TcpTarget {
    /// Checks a tcp connect endpoint's syntax; nothing is looked up.
    ///
    /// Errors: `InvalidInput` for a host of `*`, port `0`/`*`, or a host
    /// that is neither an address literal nor a well-formed host name.
    pub(crate) fn new(
        host: &str,
        port: Option<u16>,
        source: Option<&TcpSource>,
        ipv6: bool,
    ) -> io::Result<TcpTarget> {
        let bad = |reason: &'static str| {
            io::Error::from(EndpointError::Invalid {
                endpoint: Endpoint::Tcp {
                    host: host.to_owned(),
                    port,
                    source: source.cloned(),
                }
                .to_string(),
                reason,
            })
        };
        if host == "*" {
            return Err(bad("cannot connect to '*'"));
        }
        let port = port.ok_or_else(|| bad("cannot connect to port 0 or '*'"))?;
        if host.parse::<IpAddr>().is_err() && !is_host_name(host) {
            return Err(bad("the host is neither an address nor a host name"));
        }
        if source.is_some_and(|s| s.host.chars().any(|c| c.is_whitespace() || c == '/')) {
            return Err(bad(
                "the source is neither an address nor an interface name",
            ));
        }
        Ok(TcpTarget {
            host: host.to_owned(),
            port,
            source: source.cloned(),
            ipv6,
        })
    }

    /// The destination when the host is an address literal: no lookup
    /// needed. `None` for a host name.
    pub(crate) fn literal(&self) -> Option<SocketAddr> {
        let ip = self.host.parse::<IpAddr>().ok()?;
        Some(SocketAddr::new(ip, self.port))
    }

    /// What a helper thread needs to look the host name up with
    /// [`lookup`]: the name, the port and whether IPv6 answers are wanted.
    pub(crate) fn query(&self) -> (String, u16, bool) {
        (self.host.clone(), self.port, self.ipv6)
    }

    /// Pairs each destination with the local address to bind first (`None`
    /// without a source), in the destinations' order. A destination whose
    /// family the source cannot provide is left out: an IPv4 literal source
    /// never reaches an IPv6 destination, and an interface or `*` source is
    /// taken in the destination's family. Interfaces are looked up now.
    pub(crate) fn routes(&self, dests: &[SocketAddr]) -> Vec<(SocketAddr, Option<SocketAddr>)> {
        let Some(source) = &self.source else {
            return dests.iter().map(|&d| (d, None)).collect();
        };
        let mut by_family: [Option<Option<SocketAddr>>; 2] = [None, None];
        dests
            .iter()
            .filter_map(|&dest| {
                let v6 = dest.is_ipv6();
                let src =
                    *by_family[usize::from(v6)].get_or_insert_with(|| source_addr(source, v6));
                src.map(|src| (dest, Some(src)))
            })
            .collect()
    }
}

/// The local address of `source` in the IPv6 (`v6`) or IPv4 family, if it
/// has one. Never consults DNS, as libzmq's source resolver does not.
fn source_addr(source: &TcpSource, v6: bool) -> Option<SocketAddr> {
    let port = source.port.unwrap_or(0);
    if source.host == "*" {
        return Some(SocketAddr::new(unspecified(v6), port));
    }
    if let Ok(ip) = source.host.parse::<IpAddr>() {
        return (ip.is_ipv6() == v6).then_some(SocketAddr::new(ip, port));
    }
    match nic_addr(&source.host, v6, port) {
        Nic::Found(addr) => Some(addr),
        Nic::NoAddress | Nic::Absent => None,
    }
}

/// Looks a host name up with the system resolver: every address, in its
/// order, IPv4 only unless `ipv6` (libzmq asks for one family: IPv4, or
/// IPv6 when IPV6 is set; tiermq then takes both). This blocks for as long
/// as the resolver takes, which for a DNS name can be seconds: the reactor
/// calls it on a helper thread.
///
/// Errors: the resolver's, or `InvalidInput` if no address is left.
pub(crate) fn lookup(host: &str, port: u16, ipv6: bool) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()?
        .filter(|a| ipv6 || a.is_ipv4())
        .collect();
    if addrs.is_empty() {
        let family = if ipv6 { "" } else { " IPv4" };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("host {host:?} resolved to no{family} address"),
        ));
    }
    Ok(addrs)
}

fn unspecified(v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

/// A DNS-style name: letters, digits, `-`, `_` and `.`, as libzmq's own
/// connect-time check allows.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// What an interface-name lookup found.
#[derive(Debug, PartialEq, Eq)]
enum Nic {
    /// The interface's first address of the wanted family, with the port
    /// (and, for IPv6, its scope id) set.
    Found(SocketAddr),
    /// The interface exists but has no address of that family.
    NoAddress,
    /// No interface has that name (or the list could not be read).
    Absent,
}

/// Looks `name` up among the network interfaces (getifaddrs), for its
/// first IPv6 (`v6`) or IPv4 address.
fn nic_addr(name: &str, v6: bool, port: u16) -> Nic {
    // A failure to list the interfaces (libzmq treats WSL's EINVAL and
    // EOPNOTSUPP the same way) means the name is not an interface.
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        return Nic::Absent;
    };
    let mut seen = false;
    for ifa in interfaces.filter(|ifa| ifa.interface_name == name) {
        seen = true;
        let Some(addr) = ifa.address else {
            continue;
        };
        let found = if v6 {
            addr.as_sockaddr_in6()
                .map(|a| SocketAddr::V6(std::net::SocketAddrV6::from(*a)))
        } else {
            addr.as_sockaddr_in()
                .map(|a| SocketAddr::V4(std::net::SocketAddrV4::from(*a)))
        };
        if let Some(mut addr) = found {
            addr.set_port(port);
            return Nic::Found(addr);
        }
    }
    if seen { Nic::NoAddress } else { Nic::Absent }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn binds_resolve_wildcards_literals_interfaces_and_names() {
        assert_eq!(bind_addr("*", None, false).unwrap(), sa("0.0.0.0:0"));
        assert_eq!(bind_addr("*", Some(7), true).unwrap(), sa("[::]:7"));
        assert_eq!(bind_addr("::1", Some(5), false).unwrap(), sa("[::1]:5"));
        assert_eq!(bind_addr("lo", Some(5), false).unwrap(), sa("127.0.0.1:5"));
        assert_eq!(
            bind_addr("localhost", Some(5), false).unwrap(),
            sa("127.0.0.1:5")
        );
        let err = bind_addr("no-such-nic-or-host.invalid", Some(5), false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.raw_os_error().is_none());
    }

    #[test]
    fn an_interface_follows_the_ipv6_option() {
        // libzmq's rule: with IPV6 set, an interface's IPv6 address.
        match nic_addr("lo", true, 9) {
            Nic::Found(addr) => assert_eq!(addr, sa("[::1]:9")),
            other => panic!("lo has no IPv6 address on this machine ({other:?}); ::1 is needed"),
        }
        assert_eq!(nic_addr("lo", false, 9), Nic::Found(sa("127.0.0.1:9")));
        assert_eq!(nic_addr("no-such-nic", false, 9), Nic::Absent);
    }

    #[test]
    fn connect_targets_check_syntax_only() {
        let t = TcpTarget::new("127.0.0.1", Some(9), None, false).unwrap();
        assert_eq!(t.literal(), Some(sa("127.0.0.1:9")));
        let named = TcpTarget::new("no-such-host.invalid", Some(9), None, false).unwrap();
        assert_eq!(named.literal(), None);
        for (host, port) in [("*", Some(9)), ("127.0.0.1", None), ("bad host", Some(9))] {
            let err = TcpTarget::new(host, port, None, false).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{host}");
        }
        assert!(!lookup("localhost", 9, false).unwrap().is_empty());
        assert!(
            lookup("localhost", 9, false)
                .unwrap()
                .iter()
                .all(|a| a.is_ipv4())
        );
    }

    #[test]
    fn routes_pair_destinations_with_a_source_of_their_family() {
        let dests = [sa("[::1]:9"), sa("127.0.0.1:9")];
        let src = |host: &str, port| TcpSource {
            host: host.into(),
            port,
        };
        let target = |source: Option<TcpSource>| {
            TcpTarget::new("localhost", Some(9), source.as_ref(), true).unwrap()
        };
        assert_eq!(
            target(None).routes(&dests),
            vec![(dests[0], None), (dests[1], None)]
        );
        assert_eq!(
            target(Some(src("127.0.0.1", Some(4000)))).routes(&dests),
            vec![(dests[1], Some(sa("127.0.0.1:4000")))]
        );
        assert_eq!(
            target(Some(src("*", None))).routes(&dests),
            vec![
                (dests[0], Some(sa("[::]:0"))),
                (dests[1], Some(sa("0.0.0.0:0")))
            ]
        );
        assert_eq!(
            target(Some(src("lo", None))).routes(&dests),
            vec![
                (dests[0], Some(sa("[::1]:0"))),
                (dests[1], Some(sa("127.0.0.1:0")))
            ]
        );
        assert!(
            target(Some(src("no-such-nic", None)))
                .routes(&dests)
                .is_empty()
        );
    }
}
