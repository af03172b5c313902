//! `Spec`: one workload (role × library × transport × size × count and the
//! tuning every library gets alike), parsed from the command line.

use crate::{CurveKeys, Error};

/// What one process (or, for the in-process roles, one pair of threads) does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Connects a PUSH and sends `count + 1` messages.
    Push,
    /// Binds a PULL and times `count` messages after the first.
    Pull,
    /// Connects a REQ and times `count` round trips after a warm-up one.
    Req,
    /// Binds a REP and answers `count + 1` requests with same-sized replies.
    Rep,
    /// Connects a plain stream socket and writes `count + 1` chunks.
    RawWriter,
    /// Binds a plain stream socket and times `count` chunks after the first.
    RawReader,
    /// Connects a plain stream socket and times `count` ping-pongs of
    /// `size` bytes (blocking write, then blocking read of the echo) after
    /// a warm-up one: the floor under every REQ/REP round trip.
    RawPing,
    /// Binds a plain stream socket and echoes `count + 1` messages of
    /// `size` bytes.
    RawPong,
    /// PUSH and PULL in this process on two threads (any transport).
    PushPull,
    /// One PUSH connected to `--tiers T×P` endpoints of one PULL (P peers
    /// in each of T priority tiers), both in this process (see
    /// [`crate::tiered`]); `--tiers 1x1` is the one-peer baseline. libzmq
    /// runs `1xP` only: a plain round-robin.
    Tiered,
    /// REQ and REP in this process on two threads (any transport).
    ReqRep,
    /// Binds a PUB (and the control link of [`crate::pubsub`]) and
    /// publishes `count + 1` messages, paced by the subscribers' credit.
    Pub,
    /// Connects `subs` SUB sockets in this process and times every
    /// message from the first to the last, on all of them.
    Sub,
}

/// Which implementation runs the role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lib {
    /// This project.
    Tiermq,
    /// libzmq through the `zmq` crate.
    Libzmq,
    /// The `zeromq` crate (zmq.rs); needs the `peers` feature.
    Zeromq,
    /// The `omq-tokio` crate; needs the `peers` feature.
    Omq,
    /// The `rzmq` crate on tokio's sockets; needs the `peers` feature.
    Rzmq,
    /// The `rzmq` crate on its io_uring backend (`initialize_uring_backend`
    /// and `IO_URING_SESSION_ENABLED` on every socket); needs the `peers`
    /// feature.
    RzmqUring,
    /// tiermq's async API (`AsyncSocket`) on tokio, beside zmq.rs and omq
    /// on the same runtime flavour; needs the `peers` feature (for tokio).
    TiermqAsync,
    /// No messaging library: the operating system's stream sockets, the
    /// ceiling for the raw roles.
    Raw,
}

/// Which transport the sockets use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Loopback TCP.
    Tcp,
    /// Unix domain sockets.
    Ipc,
    /// In-process pipes (only for the in-process roles).
    Inproc,
}

/// Which tokio runtime drives an async library (ignored by the others).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// `new_current_thread`: everything on the role's thread.
    Current,
    /// `new_multi_thread` with one worker per CPU.
    Multi,
}

macro_rules! names {
    ($ty:ident { $($variant:ident = $name:literal,)* }) => {
        impl $ty {
            /// Every value, in the order the report lists them.
            pub const ALL: &'static [$ty] = &[$($ty::$variant,)*];

            /// The command-line name.
            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => $name,)* }
            }

            /// The value named `name` on the command line.
            pub fn from_name(name: &str) -> Option<$ty> {
                match name { $($name => Some($ty::$variant),)* _ => None }
            }
        }
    };
}

names!(Role {
    Push = "push",
    Pull = "pull",
    Req = "req",
    Rep = "rep",
    RawWriter = "raw-writer",
    RawReader = "raw-reader",
    RawPing = "raw-ping",
    RawPong = "raw-pong",
    PushPull = "push-pull",
    Tiered = "tiered",
    ReqRep = "req-rep",
    Pub = "pub",
    Sub = "sub",
});
names!(Lib {
    Tiermq = "tiermq",
    Libzmq = "libzmq",
    Zeromq = "zeromq",
    Omq = "omq",
    Rzmq = "rzmq",
    RzmqUring = "rzmq-uring",
    TiermqAsync = "tiermq-async",
    Raw = "raw",
});
names!(Transport {
    Tcp = "tcp",
    Ipc = "ipc",
    Inproc = "inproc",
});
names!(Runtime {
    Current = "current",
    Multi = "multi",
});

impl Role {
    /// Whether this role binds (and so announces an endpoint).
    pub fn binds(self) -> bool {
        matches!(
            self,
            Role::Pull | Role::Rep | Role::RawReader | Role::RawPong | Role::Pub
        )
    }

    /// Whether this role owns the clock and reports a time.
    pub fn is_timed(self) -> bool {
        matches!(
            self,
            Role::Pull
                | Role::Req
                | Role::RawReader
                | Role::RawPing
                | Role::PushPull
                | Role::ReqRep
                | Role::Tiered
                | Role::Sub
        )
    }
}

/// One workload. Both processes of a run get the same values, so both
/// ends are tuned alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// What this process does.
    pub role: Role,
    /// Which implementation does it.
    pub lib: Lib,
    /// Over what.
    pub transport: Transport,
    /// Payload bytes per message (or per chunk for the raw roles).
    pub size: usize,
    /// Messages, round trips or chunks timed (one more is sent first).
    pub count: u64,
    /// The endpoint to connect to (connecting roles) or bind (binding roles;
    /// default: a fresh one from [`bind_endpoint`](crate::bind_endpoint)).
    pub endpoint: Option<String>,
    /// SNDHWM and RCVHWM in messages, where the library has them.
    pub hwm: u32,
    /// SO_SNDBUF and SO_RCVBUF in bytes; 0 leaves the kernel's default.
    pub buf: usize,
    /// The tokio runtime for the async libraries.
    pub runtime: Runtime,
    /// CURVE on the PUSH/PULL and REQ/REP roles (`--curve
    /// SERVER_SECRET,CLIENT_SECRET`, see [`crate::curve`]); `None`: NULL.
    pub curve: Option<CurveKeys>,
    /// A sender builds every message in a new buffer instead of sharing one
    /// (`--fresh-payload`), so its queues hold real memory: for measuring
    /// RSS. Without it, libraries that take `Bytes` queue reference counts
    /// to one buffer.
    pub fresh: bool,
    /// SUB sockets the `sub` role holds (`--subs`, default 1).
    pub subs: usize,
    /// Where the `sub` role reaches the publisher's control link
    /// (`--control HOST:PORT`, announced by the `pub` role).
    pub control: Option<String>,
    /// The `tiered` role's priority tiers and peers per tier
    /// (`--tiers TxP`, default `1x1`).
    pub tiers: (u8, usize),
}

/// The usage line of the binary.
pub const USAGE: &str = "usage: tiermq-bench ROLE LIB TRANSPORT SIZE COUNT \
    [--endpoint EP] [--hwm N] [--buf BYTES] [--runtime current|multi] [--fresh-payload] [--subs N] [--control ADDR] [--tiers TxP]\n  \
    ROLE: push pull req rep raw-writer raw-reader raw-ping raw-pong push-pull req-rep tiered pub sub\n  \
    LIB: tiermq libzmq zeromq omq rzmq rzmq-uring tiermq-async raw    TRANSPORT: tcp ipc inproc";

impl Spec {
    /// Parses `ROLE LIB TRANSPORT SIZE COUNT [--endpoint EP] [--hwm N]
    /// [--buf BYTES] [--runtime current|multi] [--fresh-payload] [--subs N]
    /// [--control ADDR]` (defaults: HWM 1000, the kernel's buffers, the
    /// current-thread runtime, one shared payload, one subscriber).
    ///
    /// Errors: an unknown name, a number that doesn't parse, a missing
    /// value, a size of 0, a connecting role without `--endpoint`, `sub`
    /// without `--control` or with `--subs 0`, the raw
    /// roles with a library other than `raw` (or the reverse), or inproc
    /// for a role that would need a second process. `--curve` (see
    /// [`crate::curve`]) is refused where the library or role has no CURVE.
    pub fn parse<I, S>(args: I) -> Result<Spec, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let args: Vec<String> = args.into_iter().map(|s| s.as_ref().to_owned()).collect();
        let mut positional = Vec::new();
        let mut endpoint = None;
        let mut hwm = 1000;
        let mut buf = 0;
        let mut runtime = Runtime::Current;
        let mut curve = None;
        let mut fresh = false;
        let mut subs = 1;
        let mut control = None;
        let mut tiers = (1, 1);
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |flag: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| Error::new(format!("{flag} needs a value")))
            };
            match arg.as_str() {
                "--fresh-payload" => fresh = true,
                "--curve" => curve = Some(CurveKeys::parse(&value("--curve")?)?),
                "--endpoint" => endpoint = Some(value("--endpoint")?),
                "--hwm" => hwm = number("--hwm", &value("--hwm")?)?,
                "--buf" => buf = number("--buf", &value("--buf")?)?,
                "--subs" => subs = number("--subs", &value("--subs")?)?,
                "--control" => control = Some(value("--control")?),
                "--tiers" => {
                    let v = value("--tiers")?;
                    let (t, p) = v
                        .split_once('x')
                        .ok_or_else(|| Error::new(format!("--tiers: {v:?} is not TxP")))?;
                    tiers = (number("--tiers", t)?, number("--tiers", p)?);
                }
                "--runtime" => {
                    let v = value("--runtime")?;
                    runtime = Runtime::from_name(&v)
                        .ok_or_else(|| Error::new(format!("unknown runtime {v:?}")))?;
                }
                flag if flag.starts_with("--") => {
                    return Err(Error::new(format!("unknown option {flag:?}")));
                }
                _ => positional.push(arg.clone()),
            }
        }
        let [role, lib, transport, size, count] = positional.as_slice() else {
            return Err(Error::new(format!(
                "expected 5 arguments, got {}",
                positional.len()
            )));
        };
        let spec = Spec {
            role: Role::from_name(role)
                .ok_or_else(|| Error::new(format!("unknown role {role:?}")))?,
            lib: Lib::from_name(lib)
                .ok_or_else(|| Error::new(format!("unknown library {lib:?}")))?,
            transport: Transport::from_name(transport)
                .ok_or_else(|| Error::new(format!("unknown transport {transport:?}")))?,
            size: number("SIZE", size)?,
            count: number("COUNT", count)?,
            endpoint,
            hwm,
            buf,
            runtime,
            curve,
            fresh,
            subs,
            control,
            tiers,
        };
        spec.check()?;
        Ok(spec)
    }

    fn check(&self) -> Result<(), Error> {
        if self.size == 0 {
            return Err(Error::new("SIZE must be at least 1"));
        }
        let raw_role = matches!(
            self.role,
            Role::RawWriter | Role::RawReader | Role::RawPing | Role::RawPong
        );
        if raw_role != (self.lib == Lib::Raw) {
            return Err(Error::new(
                "the raw roles go with the `raw` library, and only they do",
            ));
        }
        if self.role == Role::Tiered
            && !(self.lib == Lib::Tiermq || (self.lib == Lib::Libzmq && self.tiers.0 == 1))
        {
            return Err(Error::new(
                "tiered runs tiermq's priority tiers, or libzmq's plain round-robin (--tiers 1xP)",
            ));
        }
        let in_process = matches!(self.role, Role::PushPull | Role::ReqRep | Role::Tiered);
        if self.transport == Transport::Inproc && !in_process {
            return Err(Error::new(
                "inproc needs both ends in one process: use push-pull or req-rep",
            ));
        }
        if self.role == Role::Sub && (self.control.is_none() || self.subs == 0) {
            return Err(Error::new(
                "sub needs --control (from pub's ENDPOINT line) and --subs of at least 1",
            ));
        }
        if self.lib == Lib::TiermqAsync
            && !matches!(self.role, Role::Push | Role::Pull | Role::Req | Role::Rep)
        {
            return Err(Error::new(
                "tiermq-async runs push, pull, req and rep (one per process)",
            ));
        }
        if self.transport == Transport::Inproc && self.lib == Lib::Zeromq {
            return Err(Error::new("zeromq 0.7 has no inproc transport"));
        }
        if self.transport == Transport::Inproc && matches!(self.lib, Lib::Rzmq | Lib::RzmqUring) {
            return Err(Error::new(
                "rzmq runs over tcp and ipc here (its inproc feature is not built)",
            ));
        }
        if !self.role.binds() && !in_process && self.endpoint.is_none() {
            return Err(Error::new(format!(
                "{} connects: it needs --endpoint",
                self.role.name()
            )));
        }
        match self.curve {
            Some(_) => crate::curve::check(self),
            None => Ok(()),
        }
    }
}

fn number<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, Error> {
    s.parse()
        .map_err(|_| Error::new(format!("{what}: {s:?} is not a valid number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_positionals_and_options() {
        let spec = Spec::parse([
            "push",
            "omq",
            "tcp",
            "256",
            "1000",
            "--endpoint",
            "tcp://127.0.0.1:5555",
            "--hwm",
            "50",
            "--buf",
            "4194304",
            "--runtime",
            "multi",
            "--fresh-payload",
        ])
        .unwrap();
        assert_eq!(
            spec,
            Spec {
                role: Role::Push,
                lib: Lib::Omq,
                transport: Transport::Tcp,
                size: 256,
                count: 1000,
                endpoint: Some("tcp://127.0.0.1:5555".into()),
                hwm: 50,
                buf: 4 << 20,
                runtime: Runtime::Multi,
                curve: None,
                fresh: true,
                subs: 1,
                control: None,
                tiers: (1, 1),
            }
        );
    }

    #[test]
    fn defaults() {
        let spec = Spec::parse(["pull", "tiermq", "ipc", "16", "10"]).unwrap();
        assert_eq!(
            (spec.hwm, spec.buf, spec.runtime),
            (1000, 0, Runtime::Current)
        );
        assert_eq!(spec.endpoint, None);
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            &["pull", "tiermq", "tcp", "16"][..],
            &["pull", "tiermq", "tcp", "16", "x"],
            &["pull", "tiermq", "tcp", "0", "10"],
            &["pull", "nope", "tcp", "16", "10"],
            &["pull", "tiermq", "udp", "16", "10"],
            &["push", "tiermq", "tcp", "16", "10"],
            &["pull", "tiermq", "inproc", "16", "10"],
            &["raw-reader", "tiermq", "tcp", "16", "10"],
            &["pull", "raw", "tcp", "16", "10"],
            &["push-pull", "zeromq", "inproc", "16", "10"],
            &["push-pull", "rzmq", "inproc", "16", "10"],
            &["req-rep", "rzmq-uring", "inproc", "16", "10"],
            &["pull", "tiermq", "tcp", "16", "10", "--hwm"],
            &["pull", "tiermq", "tcp", "16", "10", "--bogus", "1"],
            &["pull", "tiermq", "tcp", "16", "10", "--runtime", "fast"],
            &[
                "sub",
                "libzmq",
                "tcp",
                "16",
                "10",
                "--endpoint",
                "tcp://127.0.0.1:1",
            ],
            &["pub", "libzmq", "inproc", "16", "10"],
            &["raw-ping", "tiermq", "tcp", "16", "10"],
            &["tiered", "libzmq", "tcp", "16", "10", "--tiers", "2x1"],
            &["tiered", "tiermq", "tcp", "16", "10", "--tiers", "4"],
            &[
                "sub",
                "libzmq",
                "tcp",
                "16",
                "10",
                "--endpoint",
                "tcp://127.0.0.1:1",
                "--control",
                "127.0.0.1:2",
                "--subs",
                "0",
            ],
        ] {
            assert!(Spec::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn sub_takes_subscribers_and_control() {
        let spec = Spec::parse([
            "sub",
            "omq",
            "ipc",
            "256",
            "100",
            "--endpoint",
            "ipc:///tmp/x.sock",
            "--control",
            "127.0.0.1:4000",
            "--subs",
            "16",
        ])
        .unwrap();
        assert_eq!((spec.role, spec.subs), (Role::Sub, 16));
        assert_eq!(spec.control.as_deref(), Some("127.0.0.1:4000"));
        assert!(Role::Pub.binds() && !Role::Pub.is_timed());
        assert!(Role::Sub.is_timed() && !Role::Sub.binds());
    }

    #[test]
    fn ping_pong_and_tiers() {
        let ping = Spec::parse([
            "raw-ping",
            "raw",
            "ipc",
            "16",
            "10",
            "--endpoint",
            "ipc:///x",
        ])
        .unwrap();
        assert!(ping.role.is_timed() && !ping.role.binds());
        assert!(Role::RawPong.binds() && !Role::RawPong.is_timed());
        let tiered =
            Spec::parse(["tiered", "tiermq", "tcp", "16", "10", "--tiers", "4x8"]).unwrap();
        assert_eq!(tiered.tiers, (4, 8));
    }

    #[test]
    fn rzmq_runs_over_tcp_and_ipc() {
        for lib in ["rzmq", "rzmq-uring"] {
            for transport in ["tcp", "ipc"] {
                let spec = Spec::parse(["pull", lib, transport, "16", "10"]).unwrap();
                assert_eq!(spec.lib.name(), lib);
            }
            assert!(Spec::parse(["push-pull", lib, "inproc", "16", "10"]).is_err());
        }
    }

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::from_name(r.name()), Some(*r));
        }
        for l in Lib::ALL {
            assert_eq!(Lib::from_name(l.name()), Some(*l));
        }
        for t in Transport::ALL {
            assert_eq!(Transport::from_name(t.name()), Some(*t));
        }
    }
}
