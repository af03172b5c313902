//! Endpoint strings: which transport a `bind`/`connect` goes to.

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

#[cfg(test)]
mod tests {
    use super::*;

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
