//! Test helpers: the transport's ends of a core's pipes carry [`Item`]s;
//! the tests deal in messages.

use tiermq_pipe::{Reader, RecvError};
use tiermq_wire::{Item, Multipart};

/// A pipe end that yields messages.
pub(super) trait RecvMessage {
    /// The next item, which must be a message.
    fn try_recv_msg(&self) -> Result<Multipart, RecvError>;
}

impl RecvMessage for Reader<Item> {
    fn try_recv_msg(&self) -> Result<Multipart, RecvError> {
        self.try_recv()
            .map(|item| item.into_message().expect("a message, not a subscription"))
    }
}
