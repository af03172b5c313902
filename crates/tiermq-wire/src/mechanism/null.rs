//! NULL (RFC 37): READY with metadata both ways. With ZAP, as libzmq does,
//! ZAP is asked first and our READY waits for its verdict.

use super::{Ctx, Step, ZapRequest, put_command};
use crate::command::parse_properties;
use crate::{Error, Metadata};
use bytes::Bytes;

pub(crate) struct State {
    /// The peer's metadata, held while ZAP decides.
    peer: Option<Metadata>,
    /// Whether our READY is out (at once, or after ZAP admitted the peer).
    sent_ready: bool,
    done: bool,
}

impl State {
    pub(crate) fn start(cx: &mut Ctx<'_>) -> (Self, Step) {
        let mut s = Self {
            peer: None,
            sent_ready: false,
            done: false,
        };
        if !cx.zap {
            put_command(cx.out, "READY", &[cx.props]);
            s.sent_ready = true;
            return (s, Step::Wait);
        }
        let request = ZapRequest {
            mechanism: "NULL",
            credentials: Vec::new(),
            identity: cx.identity.clone(),
        };
        (s, Step::Zap(request))
    }

    pub(crate) fn on_command(
        &mut self,
        name: &[u8],
        data: Bytes,
        _cx: &mut Ctx<'_>,
    ) -> Result<Step, Error> {
        if name != b"READY" || self.peer.is_some() || self.done {
            return Err(Error::UnexpectedCommand(
                String::from_utf8_lossy(name).into_owned(),
            ));
        }
        let metadata = parse_properties(data)?;
        if self.sent_ready {
            self.done = true;
            return Ok(Step::Done(metadata, None));
        }
        self.peer = Some(metadata);
        Ok(Step::Wait)
    }

    pub(crate) fn on_zap_admitted(&mut self, cx: &mut Ctx<'_>) -> Step {
        if self.sent_ready {
            return Step::Wait;
        }
        put_command(cx.out, "READY", &[cx.props]);
        self.sent_ready = true;
        match self.peer.take() {
            Some(metadata) => {
                self.done = true;
                Step::Done(metadata, None)
            }
            None => Step::Wait,
        }
    }

    pub(crate) fn awaits_zap(&self) -> bool {
        !self.sent_ready
    }
}
