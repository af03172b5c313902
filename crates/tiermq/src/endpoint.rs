//! Endpoint strings: which transport a `bind`/`connect` goes to.

use std::io;
use std::net::IpAddr;

use tiermq_transport::Endpoint;

use crate::{Error, Result};

/// Longest inproc name libzmq accepts.
const MAX_INPROC_NAME: usize = 256;

/// Where an endpoint string leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// `inproc://name`: handled in this crate, inside one `Context`.
    Inproc(String),
    /// `tcp://` or `ipc://`: handed to the transport's I/O thread.
    Net,
}

/// Splits `scheme://address` and checks the scheme is one tiermq speaks.
pub(crate) fn parse(endpoint: &str) -> Result<Target> {
    let (scheme, address) = endpoint.split_once("://").ok_or(Error::EINVAL)?;
    match scheme {
        "inproc" => {
            if address.is_empty() {
                Err(Error::EINVAL)
            } else if address.len() > MAX_INPROC_NAME {
                Err(Error::ENAMETOOLONG)
            } else {
                Ok(Target::Inproc(address.to_owned()))
            }
        }
        "tcp" | "ipc" if !address.is_empty() => Ok(Target::Net),
        "tcp" | "ipc" => Err(Error::EINVAL),
        _ => Err(Error::EPROTONOSUPPORT),
    }
}

/// The error for a tcp/ipc `bind` or `connect` the transport refused.
///
/// As in libzmq, a tcp bind to a name that resolves to nothing (neither an
/// interface nor a host) is `ENODEV`. A connect never fails that way: its
/// host name is resolved at each connect attempt, in the background, as in
/// libzmq. Everything else maps by kind (a malformed endpoint is `EINVAL`).
pub(crate) fn link_error(ep: &Endpoint, bind: bool, e: io::Error) -> Error {
    // Resolution failures carry no OS errno; a failed bind(2) does.
    let no_errno = e.raw_os_error().is_none();
    let err = Error::from(e);
    let named =
        matches!(ep, Endpoint::Tcp { host, .. } if host != "*" && host.parse::<IpAddr>().is_err());
    if bind && named && no_errno && err == Error::EINVAL {
        Error::ENODEV
    } else {
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unresolved_bind_name_is_enodev_like_libzmq() {
        let named = Endpoint::Tcp {
            host: "no-such-host.invalid".into(),
            port: Some(5555),
            source: None,
        };
        let literal = Endpoint::Tcp {
            host: "127.0.0.1".into(),
            port: Some(5555),
            source: None,
        };
        let lookup = || io::Error::other("failed to lookup address information");
        assert_eq!(link_error(&named, true, lookup()), Error::ENODEV);
        assert_eq!(link_error(&named, false, lookup()), Error::EINVAL);
        assert_eq!(link_error(&literal, true, lookup()), Error::EINVAL);
        let os = io::Error::from_raw_os_error(98); // EADDRINUSE
        assert_eq!(link_error(&named, true, os), Error::EADDRINUSE);
    }

    #[test]
    fn schemes() {
        assert_eq!(parse("inproc://a"), Ok(Target::Inproc("a".into())));
        assert_eq!(parse("tcp://127.0.0.1:0"), Ok(Target::Net));
        assert_eq!(parse("ipc:///tmp/x"), Ok(Target::Net));
        assert_eq!(
            parse("pgm://eth0;239.1.1.1:5555"),
            Err(Error::EPROTONOSUPPORT)
        );
        assert_eq!(parse("nonsense"), Err(Error::EINVAL));
        assert_eq!(parse("inproc://"), Err(Error::EINVAL));
        assert_eq!(
            parse(&format!("inproc://{}", "x".repeat(300))),
            Err(Error::ENAMETOOLONG)
        );
    }
}
