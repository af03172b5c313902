//! The security options, as libzmq keeps them: the mechanism follows the
//! last option set, and each applies to connections made afterwards.

use super::*;
use crate::options::Security;
use crate::security::{Mechanism, key};

/// A PLAIN user name or password: at most 255 bytes.
fn credential(value: Option<&str>) -> Result<Vec<u8>> {
    let value = value.unwrap_or("").as_bytes();
    if value.len() > 255 {
        return Err(Error::EINVAL);
    }
    Ok(value.to_vec())
}

fn text(bytes: &[u8]) -> std::result::Result<String, Vec<u8>> {
    String::from_utf8(bytes.to_vec()).map_err(|e| e.into_bytes())
}

impl Socket {
    /// Sets PLAIN_SERVER: `true` makes this socket a PLAIN server, which
    /// asks the ZAP handler about each client's user name and password
    /// (with no handler bound at `inproc://zeromq.zap.01`, every client is
    /// refused, as in libzmq 4.3); `false` returns to NULL.
    pub fn set_plain_server(&self, value: bool) -> Result<()> {
        self.set_server(Mechanism::ZMQ_PLAIN, value)
    }

    /// Whether this socket is a PLAIN server.
    pub fn is_plain_server(&self) -> Result<bool> {
        self.is_server(Mechanism::ZMQ_PLAIN)
    }

    /// Sets PLAIN_USERNAME: `Some` makes this socket a PLAIN client with
    /// that user name; `None` returns to NULL.
    ///
    /// Errors: `EINVAL` for a name over 255 bytes.
    pub fn set_plain_username(&self, value: Option<&str>) -> Result<()> {
        self.set_plain_credential(value, |s, v| s.plain_username = v)
    }

    /// Sets PLAIN_PASSWORD: as [`set_plain_username`](Socket::set_plain_username).
    ///
    /// Errors: `EINVAL` for a password over 255 bytes.
    pub fn set_plain_password(&self, value: Option<&str>) -> Result<()> {
        self.set_plain_credential(value, |s, v| s.plain_password = v)
    }

    /// The PLAIN user name set; `Err` holds it if it is not UTF-8.
    pub fn get_plain_username(&self) -> Result<std::result::Result<String, Vec<u8>>> {
        Ok(self.core(|c| text(&c.options.security.plain_username)))
    }

    /// The PLAIN password set; `Err` holds it if it is not UTF-8.
    pub fn get_plain_password(&self) -> Result<std::result::Result<String, Vec<u8>>> {
        Ok(self.core(|c| text(&c.options.security.plain_password)))
    }

    /// Sets CURVE_SERVER: `true` makes this socket a CURVE server (it needs
    /// [`set_curve_secretkey`](Socket::set_curve_secretkey)); `false`
    /// returns to NULL. Without a ZAP handler every client that knows the
    /// server's public key is admitted, as in libzmq.
    pub fn set_curve_server(&self, value: bool) -> Result<()> {
        self.set_server(Mechanism::ZMQ_CURVE, value)
    }

    /// Whether this socket is a CURVE server.
    pub fn is_curve_server(&self) -> Result<bool> {
        self.is_server(Mechanism::ZMQ_CURVE)
    }

    /// Sets CURVE_PUBLICKEY: our long-term public key, 32 bytes or 40 Z85
    /// characters; selects CURVE. (The key used on the wire is derived from
    /// the secret key, which must match.)
    ///
    /// Errors: `EINVAL` for any other length or bad Z85.
    pub fn set_curve_publickey(&self, value: &[u8]) -> Result<()> {
        self.set_curve_key(value, |s, k| s.curve_public_key = k)
    }

    /// Sets CURVE_SECRETKEY: our long-term secret key, 32 bytes or 40 Z85
    /// characters; selects CURVE.
    ///
    /// Errors: `EINVAL` for any other length or bad Z85.
    pub fn set_curve_secretkey(&self, value: &[u8]) -> Result<()> {
        self.set_curve_key(value, |s, k| s.curve_secret_key = k)
    }

    /// Sets CURVE_SERVERKEY: the server's long-term public key, 32 bytes or
    /// 40 Z85 characters; makes this socket a CURVE client.
    ///
    /// Errors: `EINVAL` for any other length or bad Z85.
    pub fn set_curve_serverkey(&self, value: &[u8]) -> Result<()> {
        self.set_curve_key(value, |s, k| {
            s.curve_server_key = k;
            s.as_server = false;
        })
    }

    /// PLAIN_USERNAME or PLAIN_PASSWORD: stores `value` with `store` and
    /// makes this socket a PLAIN client (`Some`) or returns to NULL (`None`).
    fn set_plain_credential(
        &self,
        value: Option<&str>,
        store: impl FnOnce(&mut Security, Vec<u8>),
    ) -> Result<()> {
        let v = credential(value)?;
        self.core(|c| {
            let s = &mut c.options.security;
            store(s, v);
            s.as_server = false;
            s.mechanism = if value.is_some() {
                Mechanism::ZMQ_PLAIN
            } else {
                Mechanism::ZMQ_NULL
            };
        });
        Ok(())
    }

    /// PLAIN_SERVER or CURVE_SERVER: `true` selects `mechanism` as its
    /// server, `false` returns to NULL.
    fn set_server(&self, mechanism: Mechanism, value: bool) -> Result<()> {
        self.core(|c| {
            let s = &mut c.options.security;
            s.as_server = value;
            s.mechanism = if value {
                mechanism
            } else {
                Mechanism::ZMQ_NULL
            };
        });
        Ok(())
    }

    /// Whether this socket is a `mechanism` server.
    fn is_server(&self, mechanism: Mechanism) -> Result<bool> {
        Ok(self.core(|c| {
            let s = &c.options.security;
            s.as_server && s.mechanism == mechanism
        }))
    }

    /// Parses a CURVE key option, stores it with `store`, and selects CURVE.
    fn set_curve_key(
        &self,
        value: &[u8],
        store: impl FnOnce(&mut Security, [u8; 32]),
    ) -> Result<()> {
        let k = key(value)?;
        self.core(|c| {
            let s = &mut c.options.security;
            store(s, k);
            s.mechanism = Mechanism::ZMQ_CURVE;
        });
        Ok(())
    }

    /// The CURVE public key set (32 bytes; zeros if none).
    pub fn get_curve_publickey(&self) -> Result<Vec<u8>> {
        Ok(self.core(|c| c.options.security.curve_public_key.to_vec()))
    }

    /// The CURVE secret key set (32 bytes; zeros if none).
    pub fn get_curve_secretkey(&self) -> Result<Vec<u8>> {
        Ok(self.core(|c| c.options.security.curve_secret_key.to_vec()))
    }

    /// The CURVE server key set (32 bytes; zeros if none).
    pub fn get_curve_serverkey(&self) -> Result<Vec<u8>> {
        Ok(self.core(|c| c.options.security.curve_server_key.to_vec()))
    }

    /// Sets ZAP_DOMAIN: the domain sent in ZAP requests. With a domain set,
    /// NULL peers are checked by ZAP too (as in libzmq 4.3).
    ///
    /// Errors: `EINVAL` for a domain over 255 bytes.
    pub fn set_zap_domain(&self, value: &str) -> Result<()> {
        if value.len() > 255 {
            return Err(Error::EINVAL);
        }
        self.core(|c| c.options.security.zap_domain = value.as_bytes().to_vec());
        Ok(())
    }

    /// The ZAP domain set; `Err` holds it if it is not UTF-8.
    pub fn get_zap_domain(&self) -> Result<std::result::Result<String, Vec<u8>>> {
        Ok(self.core(|c| text(&c.options.security.zap_domain)))
    }

    /// Sets ZAP_ENFORCE_DOMAIN: with it, a CURVE or NULL server with no ZAP
    /// handler bound refuses peers instead of admitting them (libzmq's
    /// option 93; the zmq crate has no accessor for it).
    pub fn set_zap_enforce_domain(&self, value: bool) -> Result<()> {
        self.core(|c| c.options.security.zap_enforce_domain = value);
        Ok(())
    }

    /// The value [`set_zap_enforce_domain`](Socket::set_zap_enforce_domain) set.
    pub fn is_zap_enforce_domain(&self) -> Result<bool> {
        Ok(self.core(|c| c.options.security.zap_enforce_domain))
    }

    /// The security mechanism later tcp and ipc connections use (inproc
    /// connections use none, as in libzmq).
    pub fn get_mechanism(&self) -> Result<Mechanism> {
        Ok(self.core(|c| c.options.security.mechanism))
    }
}
