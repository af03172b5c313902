//! PLAIN (RFC 24): HELLO with user name and password, WELCOME, INITIATE
//! and READY with metadata, all in clear text.

use super::{Ctx, Step, ZapRequest, put_command};
use crate::Error;
use crate::command::parse_properties;
use bytes::Bytes;

enum Stage {
    /// Client: HELLO sent.
    AwaitWelcome,
    /// Client: INITIATE sent.
    AwaitReady,
    /// Server: waiting for the client's HELLO.
    AwaitHello,
    /// Server: HELLO received, ZAP asked.
    Zap,
    /// Server: WELCOME sent.
    AwaitInitiate,
    Done,
}

pub(crate) struct State {
    stage: Stage,
}

/// At most 255 bytes of `b`, as a length-prefixed field can hold.
fn short(b: &[u8]) -> &[u8] {
    &b[..b.len().min(255)]
}

impl State {
    pub(crate) fn client(username: &[u8], password: &[u8], cx: &mut Ctx<'_>) -> Self {
        let (user, pass) = (short(username), short(password));
        put_command(
            cx.out,
            "HELLO",
            &[&[user.len() as u8], user, &[pass.len() as u8], pass],
        );
        Self {
            stage: Stage::AwaitWelcome,
        }
    }

    pub(crate) fn server() -> Self {
        Self {
            stage: Stage::AwaitHello,
        }
    }

    pub(crate) fn on_command(
        &mut self,
        name: &[u8],
        data: Bytes,
        cx: &mut Ctx<'_>,
    ) -> Result<Step, Error> {
        match (&self.stage, name) {
            (Stage::AwaitWelcome, b"WELCOME") => {
                if !data.is_empty() {
                    return Err(Error::MalformedCommand("PLAIN WELCOME with data"));
                }
                put_command(cx.out, "INITIATE", &[cx.props]);
                self.stage = Stage::AwaitReady;
                Ok(Step::Wait)
            }
            (Stage::AwaitReady, b"READY") => {
                let metadata = parse_properties(data)?;
                self.stage = Stage::Done;
                Ok(Step::Done(metadata, None))
            }
            (Stage::AwaitHello, b"HELLO") => {
                let (username, password) = parse_hello(&data)?;
                if !cx.zap {
                    return Err(Error::NoZapHandler);
                }
                self.stage = Stage::Zap;
                Ok(Step::Zap(ZapRequest {
                    mechanism: "PLAIN",
                    credentials: vec![username, password],
                    identity: cx.identity.clone(),
                }))
            }
            (Stage::AwaitInitiate, b"INITIATE") => {
                let metadata = parse_properties(data)?;
                put_command(cx.out, "READY", &[cx.props]);
                self.stage = Stage::Done;
                Ok(Step::Done(metadata, None))
            }
            _ => Err(Error::UnexpectedCommand(
                String::from_utf8_lossy(name).into_owned(),
            )),
        }
    }

    pub(crate) fn on_zap_admitted(&mut self, cx: &mut Ctx<'_>) -> Result<Step, Error> {
        if matches!(self.stage, Stage::Zap) {
            put_command(cx.out, "WELCOME", &[]);
            self.stage = Stage::AwaitInitiate;
        }
        Ok(Step::Wait)
    }

    pub(crate) fn awaits_zap(&self) -> bool {
        matches!(self.stage, Stage::Zap)
    }
}

/// HELLO's data: user name and password, each with a 1-byte length, and
/// nothing after them.
fn parse_hello(data: &Bytes) -> Result<(Bytes, Bytes), Error> {
    let bad = Error::MalformedCommand("PLAIN HELLO");
    let user_len = usize::from(*data.first().ok_or(bad.clone())?);
    let user_end = 1 + user_len;
    let pass_len = usize::from(*data.get(user_end).ok_or(bad.clone())?);
    let pass_end = user_end + 1 + pass_len;
    if data.len() != pass_end {
        return Err(bad);
    }
    Ok((data.slice(1..user_end), data.slice(user_end + 1..pass_end)))
}
