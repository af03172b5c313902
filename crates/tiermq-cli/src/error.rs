//! `CliError`: what ends the tool early, and the exit code it maps to.

use std::fmt;

/// Why the tool stopped without finishing its job.
///
/// Each variant prints as one line (`tiermq: error: ...`) and has its own
/// exit code, so scripts can tell a typo from a network failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliError {
    /// The command line is wrong: an unknown option, a missing value, a
    /// malformed endpoint. Exit code 2.
    Usage(String),
    /// The command line was fine but the job failed: a port in use, no
    /// reply in time, an unsupported socket type. Exit code 1.
    Runtime(String),
}

impl CliError {
    /// A usage error with this text.
    pub fn usage(msg: impl Into<String>) -> CliError {
        CliError::Usage(msg.into())
    }

    /// A runtime error with this text.
    pub fn runtime(msg: impl Into<String>) -> CliError {
        CliError::Runtime(msg.into())
    }

    /// The process exit code: 2 for usage errors, 1 for runtime errors.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Runtime(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Runtime(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CliError {}

/// A library error as lower-case prose ("address already in use").
pub(crate) fn describe(e: tiermq::Error) -> String {
    let msg = e.message();
    let mut chars = msg.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The result of a command.
pub type CliResult<T> = Result<T, CliError>;
