//! The command line grammar: subcommands, options and `PRIO@endpoint`s,
//! parsed by hand into [`Command`].

use std::str::FromStr;

use crate::error::{CliError, CliResult};

/// What the user asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Run one socket: `tiermq push ...` and friends.
    Socket(Box<SocketArgs>),
    /// Run the self-contained failover demo.
    Demo(DemoArgs),
    /// Print help: general (`None`) or for one subcommand.
    Help(Option<Topic>),
    /// Print the version.
    Version,
    /// Print a new CURVE key pair.
    Keygen,
}

/// A subject `--help` can explain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    /// One of the socket subcommands.
    Role(Role),
    /// `tiermq demo`.
    Demo,
    /// `tiermq keygen`.
    Keygen,
}

/// The socket subcommands, one per socket type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends stdin's messages, load-balanced by priority tier.
    Push,
    /// Prints the messages it receives.
    Pull,
    /// Sends each stdin message as a request and prints the reply.
    Req,
    /// Prints each request and answers it.
    Rep,
    /// Sends stdin's messages and prints what comes back, asynchronously.
    Dealer,
    /// Prints messages with their sender's identity, and routes replies.
    Router,
    /// Publishes stdin's messages (or generated ones) to every subscriber.
    Pub,
    /// Prints the messages published on its subscriptions.
    Sub,
    /// Sends stdin's messages to its one peer and prints what comes back.
    Pair,
}

impl Role {
    /// Every role, in the order the help lists them.
    pub const ALL: [Role; 9] = [
        Role::Push,
        Role::Pull,
        Role::Req,
        Role::Rep,
        Role::Dealer,
        Role::Router,
        Role::Pub,
        Role::Sub,
        Role::Pair,
    ];

    /// The subcommand's name (`"push"`).
    pub fn name(self) -> &'static str {
        match self {
            Role::Push => "push",
            Role::Pull => "pull",
            Role::Req => "req",
            Role::Rep => "rep",
            Role::Dealer => "dealer",
            Role::Router => "router",
            Role::Pub => "pub",
            Role::Sub => "sub",
            Role::Pair => "pair",
        }
    }

    /// The role a subcommand name stands for.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The socket type this role opens.
    pub fn socket_type(self) -> tiermq::SocketType {
        match self {
            Role::Push => tiermq::PUSH,
            Role::Pull => tiermq::PULL,
            Role::Req => tiermq::REQ,
            Role::Rep => tiermq::REP,
            Role::Dealer => tiermq::DEALER,
            Role::Router => tiermq::ROUTER,
            Role::Pub => tiermq::PUB,
            Role::Sub => tiermq::SUB,
            Role::Pair => tiermq::PAIR,
        }
    }

    /// Whether `--echo`/`--exec` apply (the role answers what it receives).
    pub fn answers(self) -> bool {
        matches!(self, Role::Rep | Role::Router)
    }
}

/// One `--bind`/`--connect` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointArg {
    /// `--bind` (true) or `--connect` (false).
    pub bind: bool,
    /// The `PRIO@` prefix, 1 (most preferred) ..= 16; `None`: the default, 8.
    pub priority: Option<u8>,
    /// The endpoint without the prefix, e.g. `tcp://127.0.0.1:5555`.
    pub endpoint: String,
}

/// The default priority of an endpoint given without a `PRIO@` prefix.
pub const DEFAULT_PRIORITY: u8 = 8;

impl EndpointArg {
    /// Parses `[PRIO@]ENDPOINT`, checking the priority's range and the
    /// endpoint's syntax (tcp and ipc; inproc is refused because it only
    /// joins sockets of one process).
    ///
    /// Errors: [`CliError::Usage`] saying what is wrong.
    pub fn parse(bind: bool, text: &str) -> CliResult<EndpointArg> {
        let (priority, endpoint) = match text.split_once('@') {
            Some((prio, rest)) if !prio.is_empty() && prio.bytes().all(|b| b.is_ascii_digit()) => {
                let p = prio
                    .parse::<u8>()
                    .ok()
                    .filter(|p| (1..=16).contains(p))
                    .ok_or_else(|| {
                        CliError::usage(format!(
                            "priority {prio:?} in {text:?} is out of range: use 1 (most preferred) to 16"
                        ))
                    })?;
                (Some(p), rest)
            }
            _ => (None, text),
        };
        match tiermq_transport::Endpoint::from_str(endpoint) {
            Ok(tiermq_transport::Endpoint::Inproc(_)) => Err(CliError::usage(format!(
                "{endpoint:?}: inproc:// only joins sockets inside one process; use tcp:// or ipc://"
            ))),
            Ok(_) => Ok(EndpointArg {
                bind,
                priority,
                endpoint: endpoint.to_owned(),
            }),
            Err(e) => Err(CliError::usage(e.to_string())),
        }
    }

    /// `--bind` or `--connect`, for messages.
    pub fn verb(&self) -> &'static str {
        if self.bind { "bind to" } else { "connect to" }
    }
}

/// The security mechanism a socket command uses (NULL without one).
#[derive(Clone, PartialEq, Eq)]
pub enum Security {
    /// `--curve-server SECRET`: a CURVE server with this secret key.
    CurveServer {
        /// The server's secret key.
        secret: [u8; 32],
    },
    /// `--curve-serverkey KEY [--curve-client SECRET]`: a CURVE client.
    CurveClient {
        /// The server's public key.
        server_key: [u8; 32],
        /// The client's own secret key; `None`: a new pair for this run.
        secret: Option<[u8; 32]>,
    },
    /// `--plain USER:PASS`: a PLAIN client.
    PlainClient {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// `--plain-server USER:PASS`: a PLAIN server that admits only these
    /// credentials (through a ZAP handler in this process).
    PlainServer {
        /// The user name admitted.
        username: String,
        /// Its password.
        password: String,
    },
}

impl std::fmt::Debug for Security {
    // Secrets stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Security::CurveServer { .. } => "CurveServer",
            Security::CurveClient { .. } => "CurveClient",
            Security::PlainClient { .. } => "PlainClient",
            Security::PlainServer { .. } => "PlainServer",
        })
    }
}

/// A CURVE key given as 40 Z85 characters.
///
/// Errors: [`CliError::Usage`] naming the option.
pub fn z85_key(option: &str, text: &str) -> CliResult<[u8; 32]> {
    tiermq::z85_decode(text)
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .ok_or_else(|| {
            CliError::usage(format!(
                "{option} takes a CURVE key as 40 Z85 characters (see 'tiermq keygen')"
            ))
        })
}

/// `USER:PASS`, each at most 255 bytes.
fn credentials(option: &str, text: &str) -> CliResult<(String, String)> {
    match text.split_once(':') {
        Some((user, pass)) if user.len() <= 255 && pass.len() <= 255 => {
            Ok((user.to_owned(), pass.to_owned()))
        }
        _ => Err(CliError::usage(format!(
            "{option} takes USER:PASS (each at most 255 bytes)"
        ))),
    }
}

/// How `rep`/`router` answer a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Read each answer from stdin (`rep`: one per request; `router`: lines
    /// that start with the peer's hex identity, at any time).
    Stdin,
    /// Send the request back.
    Echo,
    /// Run this command with `sh -c`, the request on its stdin, and answer
    /// with its stdout.
    Exec(String),
}

/// Options of the socket subcommands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketArgs {
    /// Which socket to run.
    pub role: Role,
    /// Endpoints, in command-line order (the order matters: each one's
    /// priority is set just before it is bound or connected).
    pub endpoints: Vec<EndpointArg>,
    /// Length-prefixed frames on stdin/stdout instead of lines.
    pub raw: bool,
    /// Stop after this many messages (sent for push, received otherwise;
    /// request/reply pairs for req/rep).
    pub count: Option<u64>,
    /// SNDHWM and RCVHWM.
    pub hwm: Option<i32>,
    /// HEARTBEAT_IVL in ms.
    pub heartbeat: Option<i32>,
    /// HEARTBEAT_TIMEOUT in ms; default 3 x `heartbeat`.
    pub heartbeat_timeout: Option<i32>,
    /// LINGER in ms.
    pub linger: Option<i32>,
    /// How long (ms) to wait for a peer to take a message, for a reply, or
    /// (dealer, pair) for more replies after stdin ended.
    pub timeout: Option<i32>,
    /// The socket's failback delay in ms.
    pub failback_delay: Option<i32>,
    /// How long (ms) a dead peer's connection lingers.
    pub dead_linger: Option<i32>,
    /// Proportional spillover's overprovisioning factor (percent).
    pub spillover: Option<i32>,
    /// The identity announced to peers.
    pub identity: Option<Vec<u8>>,
    /// `req`: resend a request unanswered for this long (ms), with
    /// REQ_CORRELATE on.
    pub resend_ivl: Option<i32>,
    /// Print a per-peer table on stderr once a second.
    pub stats: bool,
    /// How `rep`/`router` answer.
    pub reply: Reply,
    /// `dealer`: add an empty delimiter frame to each message and strip it
    /// from replies, as REQ does, to talk to REP sockets.
    pub delimiter: bool,
    /// `sub`: the topics (prefixes) subscribed to; empty means everything.
    pub subscribe: Vec<Vec<u8>>,
    /// `sub`: SUB_FAILOVER, the hot-standby subscriber.
    pub failover: bool,
    /// `pub`: prepended to the first frame of every message.
    pub topic: Vec<u8>,
    /// `pub`: messages per second at most (generated or read).
    pub rate: Option<u32>,
    /// PLAIN or CURVE; `None`: NULL. (Boxed: keys are large and rare.)
    pub security: Option<Box<Security>>,
}

impl SocketArgs {
    fn new(role: Role) -> SocketArgs {
        SocketArgs {
            role,
            endpoints: Vec::new(),
            raw: false,
            count: None,
            hwm: None,
            heartbeat: None,
            heartbeat_timeout: None,
            linger: None,
            timeout: None,
            failback_delay: None,
            dead_linger: None,
            spillover: None,
            identity: None,
            resend_ivl: None,
            stats: false,
            reply: Reply::Stdin,
            delimiter: false,
            subscribe: Vec::new(),
            failover: false,
            topic: Vec::new(),
            rate: None,
            security: None,
        }
    }
}

/// The shows `tiermq demo` can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scene {
    /// `tiermq demo` (or `demo push`): one PUSH, four PULL workers in three
    /// tiers, stalled, killed and revived.
    Push,
    /// `tiermq demo hot-standby`: two PUB publishers at priorities 1 and 2
    /// and a hot-standby SUB, as publishers are killed and revived.
    HotStandby,
}

impl Scene {
    /// The scene's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scene::Push => "push",
            Scene::HotStandby => "hot-standby",
        }
    }

    /// The default length of the show, in seconds.
    pub fn default_seconds(self) -> u32 {
        match self {
            Scene::Push => 24,
            Scene::HotStandby => 18,
        }
    }

    /// The default rate, in messages per second (per publisher for
    /// hot-standby).
    pub fn default_rate(self) -> u32 {
        match self {
            Scene::Push => 2000,
            Scene::HotStandby => 200,
        }
    }
}

/// Options of `tiermq demo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoArgs {
    /// Which show.
    pub scene: Scene,
    /// Total length of the show, in seconds (split evenly between its
    /// phases).
    pub seconds: u32,
    /// Messages per second the PUSH sends (push), or each publisher sends
    /// (hot-standby).
    pub rate: u32,
    /// Bytes per message (at least 8: the sequence number); push only.
    pub size: usize,
}

impl Default for DemoArgs {
    fn default() -> Self {
        DemoArgs::for_scene(Scene::Push)
    }
}

impl DemoArgs {
    /// The defaults of `scene`.
    pub fn for_scene(scene: Scene) -> Self {
        DemoArgs {
            scene,
            seconds: scene.default_seconds(),
            rate: scene.default_rate(),
            size: 1024,
        }
    }
}

/// Parses the arguments after the program name.
///
/// Errors: [`CliError::Usage`] with a one-line explanation.
///
/// ```
/// use tiermq_cli::args::{parse, Command, Role};
///
/// let cmd = parse(["push", "--connect", "1@tcp://127.0.0.1:5555", "--count", "3"]).unwrap();
/// let Command::Socket(s) = cmd else { panic!() };
/// assert_eq!(s.role, Role::Push);
/// assert_eq!(s.endpoints[0].priority, Some(1));
/// assert_eq!(s.count, Some(3));
/// assert!(parse(["push", "--connect", "17@tcp://a:1"]).is_err());
/// ```
pub fn parse<I, S>(args: I) -> CliResult<Command>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut args = Args {
        items: args.into_iter().map(Into::into).collect(),
        pos: 0,
    };
    let Some(first) = args.next() else {
        return Err(CliError::usage("no command given (try 'tiermq --help')"));
    };
    match first.as_str() {
        "-h" | "--help" => Ok(Command::Help(None)),
        "help" => match args.next() {
            None => Ok(Command::Help(None)),
            Some(t) => topic(&t).map(|t| Command::Help(Some(t))),
        },
        "-V" | "--version" => Ok(Command::Version),
        "demo" => parse_demo(args),
        "keygen" => match args.next().as_deref() {
            None => Ok(Command::Keygen),
            Some("-h" | "--help") => Ok(Command::Help(Some(Topic::Keygen))),
            Some(other) => Err(CliError::usage(format!(
                "unexpected argument {other:?} for 'keygen' (it takes none)"
            ))),
        },
        name => match Role::from_name(name) {
            Some(role) => parse_socket(role, args),
            None => Err(CliError::usage(format!(
                "unknown command {name:?} (expected push, pull, req, rep, dealer, router, pub, sub, pair, demo or keygen)"
            ))),
        },
    }
}

fn topic(name: &str) -> CliResult<Topic> {
    match name {
        "demo" => return Ok(Topic::Demo),
        "keygen" => return Ok(Topic::Keygen),
        _ => {}
    }
    Role::from_name(name)
        .map(Topic::Role)
        .ok_or_else(|| CliError::usage(format!("no help for {name:?}")))
}

/// The argument list with a cursor, splitting `--opt=value`.
struct Args {
    items: Vec<String>,
    pos: usize,
}

impl Args {
    fn next(&mut self) -> Option<String> {
        let item = self.items.get(self.pos).cloned();
        self.pos += 1;
        item
    }

    /// The value of option `name`: the inline `=value` or the next argument.
    fn value(&mut self, name: &str, inline: Option<String>) -> CliResult<String> {
        if let Some(v) = inline {
            return Ok(v);
        }
        self.next()
            .ok_or_else(|| CliError::usage(format!("{name} needs a value")))
    }
}

/// Splits `--name=value` into its parts.
fn split_inline(arg: &str) -> (&str, Option<String>) {
    match arg.split_once('=') {
        Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
        _ => (arg, None),
    }
}

/// Parses an integer option within `min..=max`.
fn number<T>(name: &str, text: &str, min: T, max: T) -> CliResult<T>
where
    T: FromStr + PartialOrd + Copy + std::fmt::Display,
{
    text.parse::<T>()
        .ok()
        .filter(|v| *v >= min && *v <= max)
        .ok_or_else(|| {
            CliError::usage(format!(
                "{name} takes a number from {min} to {max}, not {text:?}"
            ))
        })
}

fn no_flag_value(name: &str, inline: Option<String>) -> CliResult<()> {
    match inline {
        Some(_) => Err(CliError::usage(format!("{name} takes no value"))),
        None => Ok(()),
    }
}

fn parse_socket(role: Role, mut args: Args) -> CliResult<Command> {
    let mut s = SocketArgs::new(role);
    let mut reply_flag: Option<&'static str> = None;
    let mut mechanism: Option<&'static str> = None;
    let mut curve_client: Option<[u8; 32]> = None;
    while let Some(arg) = args.next() {
        let (name, inline) = split_inline(&arg);
        match name {
            "-h" | "--help" => return Ok(Command::Help(Some(Topic::Role(role)))),
            "-b" | "--bind" | "-c" | "--connect" => {
                let bind = matches!(name, "-b" | "--bind");
                let text = args.value(name, inline)?;
                s.endpoints.push(EndpointArg::parse(bind, &text)?);
            }
            "--raw" => {
                no_flag_value(name, inline)?;
                s.raw = true;
            }
            "--stats" => {
                no_flag_value(name, inline)?;
                s.stats = true;
            }
            "-n" | "--count" => {
                s.count = Some(number(name, &args.value(name, inline)?, 1, u64::MAX)?);
            }
            "--hwm" => s.hwm = Some(number(name, &args.value(name, inline)?, 0, i32::MAX)?),
            "--heartbeat" => {
                s.heartbeat = Some(number(name, &args.value(name, inline)?, 1, i32::MAX / 3)?);
            }
            "--heartbeat-timeout" => {
                s.heartbeat_timeout = Some(number(name, &args.value(name, inline)?, 1, i32::MAX)?);
            }
            "--linger" => s.linger = Some(number(name, &args.value(name, inline)?, -1, i32::MAX)?),
            "-t" | "--timeout" => {
                s.timeout = Some(number(name, &args.value(name, inline)?, 1, i32::MAX)?);
            }
            "--failback-delay" => {
                s.failback_delay = Some(number(name, &args.value(name, inline)?, 0, i32::MAX)?);
            }
            "--dead-linger" => {
                s.dead_linger = Some(number(name, &args.value(name, inline)?, 0, i32::MAX)?);
            }
            "--spillover" => {
                s.spillover = Some(number(name, &args.value(name, inline)?, 0, 10_000)?);
            }
            "--identity" => {
                let id = args.value(name, inline)?;
                if id.is_empty() || id.len() > 255 {
                    return Err(CliError::usage("--identity takes 1 to 255 bytes"));
                }
                s.identity = Some(id.into_bytes());
            }
            "--echo" | "--exec" if role.answers() => {
                if let Some(prev) = reply_flag {
                    return Err(CliError::usage(format!(
                        "{name} and {prev} cannot be combined"
                    )));
                }
                if name == "--echo" {
                    no_flag_value(name, inline)?;
                    s.reply = Reply::Echo;
                    reply_flag = Some("--echo");
                } else {
                    s.reply = Reply::Exec(args.value(name, inline)?);
                    reply_flag = Some("--exec");
                }
            }
            "--resend-ivl" if role == Role::Req => {
                s.resend_ivl = Some(number(name, &args.value(name, inline)?, 1, i32::MAX)?);
            }
            "--delimiter" if role == Role::Dealer => {
                no_flag_value(name, inline)?;
                s.delimiter = true;
            }
            "-s" | "--subscribe" if role == Role::Sub => {
                s.subscribe.push(args.value(name, inline)?.into_bytes());
            }
            "--failover" if role == Role::Sub => {
                no_flag_value(name, inline)?;
                s.failover = true;
            }
            "--topic" if role == Role::Pub => s.topic = args.value(name, inline)?.into_bytes(),
            "--rate" if role == Role::Pub => {
                s.rate = Some(number(name, &args.value(name, inline)?, 1, 1_000_000)?);
            }
            "--curve-server" | "--curve-serverkey" | "--plain" | "--plain-server" => {
                let option = match name {
                    "--curve-server" => "--curve-server",
                    "--curve-serverkey" => "--curve-serverkey",
                    "--plain" => "--plain",
                    _ => "--plain-server",
                };
                if let Some(prev) = mechanism {
                    return Err(CliError::usage(format!(
                        "{option} and {prev} cannot be combined (one mechanism per socket)"
                    )));
                }
                mechanism = Some(option);
                let text = args.value(name, inline)?;
                s.security = Some(Box::new(match option {
                    "--curve-server" => Security::CurveServer {
                        secret: z85_key(option, &text)?,
                    },
                    "--curve-serverkey" => Security::CurveClient {
                        server_key: z85_key(option, &text)?,
                        secret: None,
                    },
                    "--plain" => {
                        let (username, password) = credentials(option, &text)?;
                        Security::PlainClient { username, password }
                    }
                    _ => {
                        let (username, password) = credentials(option, &text)?;
                        Security::PlainServer { username, password }
                    }
                }));
            }
            "--curve-client" => {
                curve_client = Some(z85_key(name, &args.value(name, inline)?)?);
            }
            other if other.starts_with('-') => {
                return Err(CliError::usage(format!(
                    "unknown option {other:?} for '{}' (try 'tiermq {} --help')",
                    role.name(),
                    role.name()
                )));
            }
            other => {
                return Err(CliError::usage(format!(
                    "unexpected argument {other:?} (endpoints go after --bind or --connect)"
                )));
            }
        }
    }
    if s.endpoints.is_empty() {
        return Err(CliError::usage(format!(
            "'{}' needs at least one --bind or --connect endpoint",
            role.name()
        )));
    }
    if s.heartbeat_timeout.is_some() && s.heartbeat.is_none() {
        return Err(CliError::usage("--heartbeat-timeout needs --heartbeat"));
    }
    if let Some(key) = curve_client {
        match s.security.as_deref_mut() {
            Some(Security::CurveClient { secret, .. }) => *secret = Some(key),
            _ => return Err(CliError::usage("--curve-client needs --curve-serverkey")),
        }
    }
    Ok(Command::Socket(Box::new(s)))
}

fn parse_demo(mut args: Args) -> CliResult<Command> {
    let mut d = DemoArgs::default();
    let (mut seconds, mut rate, mut size) = (None, None, None);
    let mut scene_given = false;
    while let Some(arg) = args.next() {
        let (name, inline) = split_inline(&arg);
        match name {
            "-h" | "--help" => return Ok(Command::Help(Some(Topic::Demo))),
            "--seconds" => seconds = Some(number(name, &args.value(name, inline)?, 2, 3600)?),
            "--rate" => rate = Some(number(name, &args.value(name, inline)?, 10, 100_000)?),
            "--size" => size = Some(number(name, &args.value(name, inline)?, 8, 1 << 20)?),
            other if other.starts_with('-') => {
                return Err(CliError::usage(format!(
                    "unknown option {other:?} for 'demo' (try 'tiermq demo --help')"
                )));
            }
            scene if !scene_given => {
                d.scene = match scene {
                    "push" => Scene::Push,
                    "hot-standby" => Scene::HotStandby,
                    _ => {
                        return Err(CliError::usage(format!(
                            "unknown demo {scene:?} (expected push or hot-standby)"
                        )));
                    }
                };
                scene_given = true;
            }
            other => {
                return Err(CliError::usage(format!(
                    "unexpected argument {other:?} for 'demo' (one scene at most)"
                )));
            }
        }
    }
    if d.scene == Scene::HotStandby && size.is_some() {
        return Err(CliError::usage("--size applies to the push demo only"));
    }
    let defaults = DemoArgs::for_scene(d.scene);
    d.seconds = seconds.unwrap_or(defaults.seconds);
    d.rate = rate.unwrap_or(defaults.rate);
    d.size = size.unwrap_or(defaults.size);
    Ok(Command::Demo(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(args: &[&str]) -> SocketArgs {
        match parse(args.iter().copied()) {
            Ok(Command::Socket(s)) => *s,
            other => panic!("{other:?}"),
        }
    }

    fn usage_error(args: &[&str]) -> String {
        match parse(args.iter().copied()) {
            Err(CliError::Usage(m)) => m,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn endpoints_keep_order_and_priorities() {
        let s = socket(&[
            "push",
            "--connect",
            "1@tcp://a:5555",
            "--connect=2@tcp://b:5555",
            "-b",
            "ipc:///tmp/x@y",
        ]);
        let got: Vec<_> = s
            .endpoints
            .iter()
            .map(|e| (e.bind, e.priority, e.endpoint.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (false, Some(1), "tcp://a:5555"),
                (false, Some(2), "tcp://b:5555"),
                (true, None, "ipc:///tmp/x@y"),
            ]
        );
    }

    #[test]
    fn options_parse() {
        let s = socket(&[
            "rep",
            "-b",
            "tcp://*:1",
            "--echo",
            "--count",
            "5",
            "--hwm=10",
            "--heartbeat",
            "100",
            "--linger",
            "-1",
            "--stats",
            "--raw",
            "--timeout",
            "250",
            "--dead-linger",
            "0",
            "--spillover=140",
        ]);
        assert_eq!(s.reply, Reply::Echo);
        assert_eq!(s.dead_linger, Some(0));
        assert_eq!(s.spillover, Some(140));
        assert_eq!(s.count, Some(5));
        assert_eq!(s.hwm, Some(10));
        assert_eq!(s.heartbeat, Some(100));
        assert_eq!(s.linger, Some(-1));
        assert_eq!(s.timeout, Some(250));
        assert!(s.stats && s.raw);
        let s = socket(&["router", "-b", "tcp://*:1", "--exec", "tr a-z A-Z"]);
        assert_eq!(s.reply, Reply::Exec("tr a-z A-Z".into()));
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        assert!(usage_error(&[]).contains("no command"));
        assert!(usage_error(&["shove"]).contains("unknown command"));
        assert!(usage_error(&["push"]).contains("at least one"));
        assert!(usage_error(&["push", "--connect"]).contains("needs a value"));
        assert!(usage_error(&["push", "-c", "0@tcp://a:1"]).contains("1 (most preferred) to 16"));
        assert!(usage_error(&["push", "-c", "17@tcp://a:1"]).contains("out of range"));
        assert!(usage_error(&["push", "-c", "tcp://a"]).contains("invalid endpoint"));
        assert!(usage_error(&["push", "-c", "udp://a:1"]).contains("not supported"));
        assert!(usage_error(&["push", "-c", "a:1"]).contains("no scheme"));
        assert!(usage_error(&["push", "-c", "inproc://x"]).contains("inproc"));
        assert!(usage_error(&["push", "-c", "tcp://a:1", "--echo"]).contains("unknown option"));
        assert!(usage_error(&["pull", "-c", "tcp://a:1", "--count", "0"]).contains("--count"));
        assert!(usage_error(&["pull", "-c", "tcp://a:1", "--hwm", "x"]).contains("--hwm"));
        assert!(usage_error(&["pull", "-c", "tcp://a:1", "--raw=1"]).contains("no value"));
        assert!(usage_error(&["pull", "-c", "tcp://a:1", "extra"]).contains("unexpected"));
        assert!(
            usage_error(&["rep", "-b", "tcp://*:1", "--echo", "--exec", "cat"])
                .contains("cannot be combined")
        );
        assert!(usage_error(&["demo", "--seconds", "1"]).contains("--seconds"));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(["--help"]), Ok(Command::Help(None)));
        assert_eq!(
            parse(["push", "--help"]),
            Ok(Command::Help(Some(Topic::Role(Role::Push))))
        );
        assert_eq!(
            parse(["help", "demo"]),
            Ok(Command::Help(Some(Topic::Demo)))
        );
        assert_eq!(parse(["--version"]), Ok(Command::Version));
    }

    #[test]
    fn demo_defaults_and_options() {
        assert_eq!(parse(["demo"]), Ok(Command::Demo(DemoArgs::default())));
        let Ok(Command::Demo(d)) = parse(["demo", "--seconds", "4", "--rate=500"]) else {
            panic!()
        };
        assert_eq!((d.seconds, d.rate), (4, 500));
        let Ok(Command::Demo(d)) = parse(["demo", "hot-standby", "--seconds", "6"]) else {
            panic!()
        };
        assert_eq!(d.scene, Scene::HotStandby);
        assert_eq!((d.seconds, d.rate), (6, Scene::HotStandby.default_rate()));
        assert!(usage_error(&["demo", "hot-standby", "--size", "64"]).contains("--size"));
        assert!(usage_error(&["demo", "tango"]).contains("unknown demo"));
        assert!(usage_error(&["demo", "push", "push"]).contains("one scene"));
    }

    #[test]
    fn security_options_parse() {
        let (public, secret) = (
            "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
            "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6",
        );
        let s = socket(&["pull", "-b", "tcp://*:1", "--curve-server", secret]);
        assert!(matches!(
            s.security.as_deref(),
            Some(Security::CurveServer { .. })
        ));
        let s = socket(&[
            "push",
            "-c",
            "tcp://a:1",
            "--curve-client",
            secret,
            "--curve-serverkey",
            public,
        ]);
        let Some(Security::CurveClient {
            server_key,
            secret: client_secret,
        }) = s.security.as_deref().cloned()
        else {
            panic!()
        };
        assert_eq!(tiermq::z85_encode(&server_key).unwrap(), public);
        assert!(client_secret.is_some());
        let s = socket(&["push", "-c", "tcp://a:1", "--plain", "alice:pa:ss"]);
        assert_eq!(
            s.security.as_deref(),
            Some(&Security::PlainClient {
                username: "alice".into(),
                password: "pa:ss".into()
            })
        );
        assert_eq!(parse(["keygen"]), Ok(Command::Keygen));
        assert!(
            usage_error(&["pull", "-b", "tcp://*:1", "--curve-server", "short"]).contains("40 Z85")
        );
        assert!(
            usage_error(&["push", "-c", "tcp://a:1", "--plain", "nopass"]).contains("USER:PASS")
        );
        assert!(
            usage_error(&[
                "push",
                "-c",
                "tcp://a:1",
                "--plain",
                "a:b",
                "--curve-serverkey",
                public
            ])
            .contains("cannot be combined")
        );
        assert!(
            usage_error(&["push", "-c", "tcp://a:1", "--curve-client", secret])
                .contains("needs --curve-serverkey")
        );
        assert!(usage_error(&["keygen", "extra"]).contains("takes none"));
    }

    #[test]
    fn pub_sub_and_pair_options_parse() {
        let s = socket(&[
            "sub",
            "-c",
            "1@tcp://a:1",
            "--subscribe",
            "news.",
            "--subscribe=weather",
            "--failover",
        ]);
        assert_eq!(s.role, Role::Sub);
        assert_eq!(s.subscribe, [b"news.".to_vec(), b"weather".to_vec()]);
        assert!(s.failover);
        let s = socket(&[
            "pub",
            "-b",
            "tcp://*:1",
            "--topic",
            "t ",
            "--rate=50",
            "-n",
            "9",
        ]);
        assert_eq!(
            (s.topic.as_slice(), s.rate, s.count),
            (&b"t "[..], Some(50), Some(9))
        );
        assert_eq!(socket(&["pair", "-b", "tcp://*:1"]).role, Role::Pair);
        // Each flag belongs to its role.
        assert!(usage_error(&["pub", "-b", "tcp://*:1", "--failover"]).contains("unknown option"));
        assert!(
            usage_error(&["pull", "-b", "tcp://*:1", "--subscribe", "x"])
                .contains("unknown option")
        );
        assert!(
            usage_error(&["sub", "-c", "tcp://a:1", "--topic", "x"]).contains("unknown option")
        );
        assert!(usage_error(&["pub", "-b", "tcp://*:1", "--rate", "0"]).contains("--rate"));
    }
}
