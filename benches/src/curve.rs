//! `--curve`: the CURVE key pairs a run uses, given as two Z85 secret keys.
//!
//! `--curve SERVER_SECRET,CLIENT_SECRET` (40 Z85 characters each; the Z85
//! alphabet has no comma). The binding role (PULL, REP) is the CURVE
//! server; the connecting one is the client and knows the server's public
//! key. Both processes of a run get the same argument, and every library
//! derives the public keys itself, so no key crosses the stdio protocol.
//!
//! The `zmq` crate's bundled libzmq is built without CURVE; libzmq with
//! CURVE runs as the C peer `benches/c/libzmq_peer.c` (same roles, same
//! command line), which `cargo xtask bench` compiles against the system's
//! libzmq. zmq.rs (`zeromq` 0.7) has no security mechanism at all.

use crate::{Error, Lib, Role, Spec, Transport};

/// The `--curve` line of the binary's usage text.
pub const USAGE: &str = "  --curve SERVER_SECRET,CLIENT_SECRET: CURVE on push, pull, req and rep \
    (Z85 secret keys; the binding role is the server)";

/// Both long-term key pairs of a CURVE run, binary.
#[derive(Clone, PartialEq, Eq)]
pub struct CurveKeys {
    /// The server's (binding role's) secret key.
    pub server_secret: [u8; 32],
    /// The server's public key, derived from its secret key.
    pub server_public: [u8; 32],
    /// The client's (connecting role's) secret key.
    pub client_secret: [u8; 32],
    /// The client's public key, derived from its secret key.
    pub client_public: [u8; 32],
}

impl CurveKeys {
    /// Parses `SERVER_SECRET,CLIENT_SECRET` and derives both public keys.
    ///
    /// Errors: no comma, or a part that is not 40 valid Z85 characters.
    pub fn parse(arg: &str) -> Result<CurveKeys, Error> {
        let (server, client) = arg
            .split_once(',')
            .ok_or_else(|| Error::new("--curve takes SERVER_SECRET,CLIENT_SECRET (Z85)"))?;
        let server_secret = secret(server, "server")?;
        let client_secret = secret(client, "client")?;
        Ok(CurveKeys {
            server_secret,
            server_public: tiermq_wire::curve_public_key(&server_secret),
            client_secret,
            client_public: tiermq_wire::curve_public_key(&client_secret),
        })
    }

    /// The `--curve` argument these keys came from.
    pub fn arg(&self) -> String {
        let z85 = |k: &[u8; 32]| tiermq::z85_encode(k).unwrap_or_default();
        format!("{},{}", z85(&self.server_secret), z85(&self.client_secret))
    }
}

/// Secret keys stay out of logs and assertion messages.
impl std::fmt::Debug for CurveKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurveKeys").finish_non_exhaustive()
    }
}

/// Whether `spec` (which asks for CURVE) can have it: PUSH/PULL and
/// REQ/REP over tcp or ipc, on tiermq, omq, or libzmq where the `zmq`
/// crate's libzmq has CURVE.
pub(crate) fn check(spec: &Spec) -> Result<(), Error> {
    use Role::*;
    if !matches!(spec.role, Push | Pull | Req | Rep | PushPull | ReqRep) {
        return Err(Error::new(format!(
            "--curve: only push, pull, req and rep have it, not {}",
            spec.role.name()
        )));
    }
    if spec.transport == Transport::Inproc {
        return Err(Error::new(
            "--curve: inproc uses no security mechanism (tcp or ipc)",
        ));
    }
    match spec.lib {
        Lib::Tiermq | Lib::Omq => Ok(()),
        Lib::Libzmq if zmq::has("curve") == Some(true) => Ok(()),
        Lib::Libzmq => Err(Error::new(
            "--curve: the zmq crate's bundled libzmq is built without CURVE; libzmq \
             with CURVE is the C peer benches/c/libzmq_peer.c (`cargo xtask bench` builds it)",
        )),
        Lib::Zeromq => Err(Error::new(
            "--curve: zmq.rs (zeromq 0.7) has no security mechanism",
        )),
        Lib::Rzmq | Lib::RzmqUring => Err(Error::new(
            "--curve: the rzmq rows measure NULL only (its `curve` feature is not built)",
        )),
        Lib::Raw => Err(Error::new("--curve: the raw roles have no security")),
        Lib::TiermqAsync => Err(Error::new("--curve: the async rows measure NULL only")),
    }
}

fn secret(z85: &str, whose: &str) -> Result<[u8; 32], Error> {
    let bad = || {
        Error::new(format!(
            "--curve: the {whose} secret is not 40 Z85 characters"
        ))
    };
    if z85.len() != 40 {
        return Err(bad());
    }
    let bytes = tiermq::z85_decode(z85).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zmq_like::tests::two_ends;

    const SERVER: &str = "tcK&x7Msjfw.mb4-EJEEm[k(RU%fAY9%rA.d^pil";
    const CLIENT: &str = "RLg?dd0V/cau3UtSTkW<8#r2v-u6o4(ln@kOVVH9";

    #[test]
    fn parses_and_derives_public_keys() {
        let keys = CurveKeys::parse(&format!("{SERVER},{CLIENT}")).unwrap();
        // The public keys libzmq's zmq_curve_keypair gave with these secrets.
        assert_eq!(
            tiermq::z85_encode(&keys.server_public).unwrap(),
            "apn@f4:aZSbX/g]}8D05NpE?$)>dErG?lJiW<Q=U"
        );
        assert_eq!(
            tiermq::z85_encode(&keys.client_public).unwrap(),
            "LO45%Gs@P5&<Q$>ONt!V>=r7a9.I2H7>S=HIn@Fi"
        );
        assert_eq!(keys.arg(), format!("{SERVER},{CLIENT}"));
        assert!(!format!("{keys:?}").contains(SERVER));
    }

    fn keys() -> String {
        format!("{SERVER},{CLIENT}")
    }

    #[test]
    fn tiermq_push_pull_and_req_rep_under_curve() {
        let k = keys();
        for transport in ["tcp", "ipc"] {
            let (s, c) = two_ends(
                &["pull", "tiermq", transport, "4096", "300", "--curve", &k],
                &["push", "tiermq", transport, "4096", "300", "--curve", &k],
            );
            assert!(s.unwrap().secs.is_some(), "{transport}");
            c.unwrap();
            let (s, c) = two_ends(
                &["rep", "tiermq", transport, "16", "50", "--curve", &k],
                &["req", "tiermq", transport, "16", "50", "--curve", &k],
            );
            s.unwrap();
            assert!(c.unwrap().secs.is_some(), "{transport}");
        }
    }

    /// omq's CURVE server admits only a CURVE client with the right server
    /// key, so messages arriving prove both ends speak CURVE.
    #[cfg(feature = "peers")]
    #[test]
    fn tiermq_and_omq_talk_curve() {
        let k = keys();
        let (s, c) = two_ends(
            &["pull", "omq", "tcp", "256", "200", "--curve", &k],
            &["push", "tiermq", "tcp", "256", "200", "--curve", &k],
        );
        assert!(s.unwrap().secs.is_some());
        c.unwrap();
        let (s, c) = two_ends(
            &["rep", "tiermq", "tcp", "16", "20", "--curve", &k],
            &["req", "omq", "tcp", "16", "20", "--curve", &k],
        );
        s.unwrap();
        assert!(c.unwrap().secs.is_some());
    }

    #[test]
    fn refused_where_there_is_no_curve() {
        let k = keys();
        for bad in [
            &["push-pull", "tiermq", "inproc", "16", "10", "--curve", &k][..],
            &["pull", "zeromq", "tcp", "16", "10", "--curve", &k],
            &["raw-reader", "raw", "tcp", "16", "10", "--curve", &k],
        ] {
            let err = Spec::parse(bad).unwrap_err();
            assert!(err.to_string().starts_with("--curve"), "{bad:?}: {err}");
        }
        // The zmq crate's libzmq: only if it was built with CURVE.
        let libzmq = Spec::parse(["pull", "libzmq", "tcp", "16", "10", "--curve", &k]);
        assert_eq!(libzmq.is_ok(), zmq::has("curve") == Some(true));
        let ok = Spec::parse(["req-rep", "tiermq", "ipc", "16", "10", "--curve", &k]).unwrap();
        assert_eq!(
            ok.curve.map(|c| c.server_secret),
            Some(secret(SERVER, "s").unwrap())
        );
    }

    #[test]
    fn rejects_bad_keys() {
        for bad in [
            SERVER.to_string(),
            format!("{SERVER},"),
            format!("{SERVER},{}", &CLIENT[..35]),
            format!("{SERVER},{}~", &CLIENT[..39]),
        ] {
            assert!(CurveKeys::parse(&bad).is_err(), "{bad} parsed");
        }
    }
}
