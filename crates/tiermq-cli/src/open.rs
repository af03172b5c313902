//! Opening the socket a subcommand runs: its type, its options, and each
//! endpoint bound or connected with its own priority.

use tiermq::{Context, Error, Socket};

use crate::args::{DEFAULT_PRIORITY, EndpointArg, Role, SocketArgs};
use crate::error::{CliError, CliResult, describe};

/// Creates the socket for `args` and sets its options; endpoints come
/// after, with [`attach_all`], so a monitor can see them from the start.
pub(crate) fn create(ctx: &Context, args: &SocketArgs) -> CliResult<Socket> {
    let kind = args.role.name().to_ascii_uppercase();
    let s = ctx.socket(args.role.socket_type()).map_err(|e| match e {
        Error::ENOTSUP => CliError::runtime(format!(
            "{kind} sockets are not supported by this version of the tiermq library yet"
        )),
        e => CliError::runtime(format!("cannot create a {kind} socket: {}", describe(e))),
    })?;
    apply_options(&s, args)?;
    Ok(s)
}

/// Binds and connects each endpoint in order, setting SNDPRIO and RCVPRIO
/// to its `PRIO@` prefix (or the default, 8) just before.
pub(crate) fn attach_all(s: &Socket, args: &SocketArgs) -> CliResult<()> {
    args.endpoints.iter().try_for_each(|ep| attach(s, ep))
}

fn apply_options(s: &Socket, args: &SocketArgs) -> CliResult<()> {
    let opt = |name: &str, r: tiermq::Result<()>| {
        r.map_err(|e| CliError::usage(format!("{name}: {}", describe(e))))
    };
    // A line is sent once a peer took it: `--timeout` and the exit status
    // then tell an operator whether anyone did (IMMEDIATE=0 would accept
    // lines for a peer that may never come).
    opt("IMMEDIATE", s.set_immediate(true))?;
    if let Some(hwm) = args.hwm {
        opt("--hwm", s.set_sndhwm(hwm))?;
        opt("--hwm", s.set_rcvhwm(hwm))?;
    }
    if let Some(ivl) = args.heartbeat {
        opt("--heartbeat", s.set_heartbeat_ivl(ivl))?;
        let timeout = args
            .heartbeat_timeout
            .unwrap_or_else(|| ivl.saturating_mul(3));
        opt("--heartbeat-timeout", s.set_heartbeat_timeout(timeout))?;
    }
    if let Some(linger) = args.linger {
        opt("--linger", s.set_linger(linger))?;
    }
    if let Some(delay) = args.failback_delay {
        opt("--failback-delay", s.set_failback_delay(delay))?;
    }
    if let Some(linger) = args.dead_linger {
        opt("--dead-linger", s.set_dead_linger(linger))?;
    }
    if let Some(percent) = args.spillover {
        opt("--spillover", s.set_spillover(percent))?;
    }
    if let Some(id) = &args.identity {
        opt("--identity", s.set_identity(id))?;
    }
    if let Some(ivl) = args.resend_ivl {
        // Correlation makes a late reply to an earlier attempt recognisable.
        opt("--resend-ivl", s.set_req_resend_ivl(ivl))?;
        opt("--resend-ivl", s.set_req_correlate(true))?;
    }
    if args.role == Role::Sub {
        // Set before any connect, so every publisher gets them at once.
        if args.subscribe.is_empty() {
            opt("--subscribe", s.set_subscribe(b""))?;
        }
        for topic in &args.subscribe {
            opt("--subscribe", s.set_subscribe(topic))?;
        }
        if args.failover {
            opt("--failover", s.set_sub_failover(true))?;
        }
    }
    if let Some(security) = &args.security {
        crate::security::apply(s, security)?;
    }
    if args.role == Role::Router {
        // Report a reply to a vanished peer instead of dropping it silently.
        opt("router", s.set_router_mandatory(true))?;
    }
    Ok(())
}

/// Binds or connects one endpoint with its priority.
pub(crate) fn attach(s: &Socket, ep: &EndpointArg) -> CliResult<()> {
    let prio = i32::from(ep.priority.unwrap_or(DEFAULT_PRIORITY));
    let r = s
        .set_sndprio(prio)
        .and_then(|()| s.set_rcvprio(prio))
        .and_then(|()| {
            if ep.bind {
                s.bind(&ep.endpoint)
            } else {
                s.connect(&ep.endpoint)
            }
        });
    r.map_err(|e| endpoint_error(ep, e))?;
    let ephemeral = ep
        .endpoint
        .strip_prefix("tcp://")
        .and_then(|rest| rest.rsplit_once(':'))
        .is_some_and(|(_, port)| port == "0" || port == "*");
    if ep.bind && ephemeral {
        // The port was the kernel's choice: say which, for the peers to use.
        if let Ok(Ok(bound)) = s.get_last_endpoint() {
            eprintln!("tiermq: listening on {bound}");
        }
    }
    Ok(())
}

/// One line that says which endpoint failed, why, and what to check.
fn endpoint_error(ep: &EndpointArg, e: Error) -> CliError {
    let what = format!("cannot {} {}", ep.verb(), ep.endpoint);
    let hint = match e {
        Error::EADDRINUSE => " (another process is listening there)",
        Error::EADDRNOTAVAIL => " (that address is not on this host)",
        Error::EACCES => " (ports below 1024 need privileges)",
        Error::ENODEV => " (no such interface or host name)",
        // The syntax was checked while parsing, so this is the name lookup.
        Error::EINVAL if names_a_host(&ep.endpoint) => " (does the host name resolve?)",
        _ => "",
    };
    CliError::runtime(format!("{what}: {}{hint}", describe(e)))
}

/// Whether a tcp endpoint's host is a name rather than an address or `*`.
fn names_a_host(endpoint: &str) -> bool {
    let Some((host, _port)) = endpoint
        .strip_prefix("tcp://")
        .and_then(|rest| rest.rsplit_once(':'))
    else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host != "*" && host.parse::<std::net::IpAddr>().is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_told_from_addresses() {
        assert!(names_a_host("tcp://example.org:5555"));
        assert!(!names_a_host("tcp://127.0.0.1:5555"));
        assert!(!names_a_host("tcp://[::1]:5555"));
        assert!(!names_a_host("tcp://*:5555"));
        assert!(!names_a_host("ipc:///tmp/x"));
    }
}
