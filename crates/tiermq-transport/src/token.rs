//! mio token layout: token 0 is the waker; every other token packs a slab
//! index, a generation (so a late event for a reused slot is ignored) and
//! whether it names a listener or a connection.

use mio::Token;

/// The reactor's waker.
pub(crate) const WAKER: Token = Token(0);

const INDEX_BITS: u32 = 32;
const GEN_BITS: u32 = 30;
const GEN_MASK: u64 = (1 << GEN_BITS) - 1;
const LISTENER_BIT: u64 = 1 << (INDEX_BITS + GEN_BITS);
const GROUP_BIT: u64 = 1 << (INDEX_BITS + GEN_BITS + 1);

/// What a token names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    Conn {
        index: usize,
        generation: u32,
    },
    Listener {
        index: usize,
        generation: u32,
    },
    /// A socket's own poll (`SocketPoll`), by its id.
    Group(u32),
}

/// Hands out generations: never 0 (so no token is the waker's), wrapping
/// within `GEN_BITS`.
#[derive(Debug, Default)]
pub(crate) struct Generations(u32);

impl Generations {
    pub(crate) fn next(&mut self) -> u32 {
        self.0 = (self.0 % GEN_MASK as u32) + 1;
        self.0
    }
}

pub(crate) fn conn_token(index: usize, generation: u32) -> Token {
    pack(index, generation, 0)
}

/// The token of socket poll `id` in the reactor's poll.
pub(crate) fn group_token(id: u32) -> Token {
    Token((GROUP_BIT | u64::from(id)) as usize)
}

pub(crate) fn listener_token(index: usize, generation: u32) -> Token {
    pack(index, generation, LISTENER_BIT)
}

fn pack(index: usize, generation: u32, kind: u64) -> Token {
    // Slab indexes stay far below 2^32: one per open file descriptor.
    let index = (index as u64) & ((1 << INDEX_BITS) - 1);
    let generation = u64::from(generation) & GEN_MASK;
    Token((kind | (generation << INDEX_BITS) | index) as usize)
}

/// Decodes a token; `None` for the waker.
pub(crate) fn decode(token: Token) -> Option<Key> {
    if token == WAKER {
        return None;
    }
    let raw = token.0 as u64;
    if raw & GROUP_BIT != 0 {
        return Some(Key::Group((raw & ((1 << INDEX_BITS) - 1)) as u32));
    }
    let index = (raw & ((1 << INDEX_BITS) - 1)) as usize;
    let generation = ((raw >> INDEX_BITS) & GEN_MASK) as u32;
    Some(if raw & LISTENER_BIT != 0 {
        Key::Listener { index, generation }
    } else {
        Key::Conn { index, generation }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_never_collides_with_the_waker() {
        let mut g = Generations::default();
        let a = g.next();
        assert_ne!(a, 0);
        assert_eq!(
            decode(conn_token(7, a)),
            Some(Key::Conn {
                index: 7,
                generation: a
            })
        );
        assert_eq!(
            decode(listener_token(0, a)),
            Some(Key::Listener {
                index: 0,
                generation: a
            })
        );
        assert_eq!(decode(group_token(3)), Some(Key::Group(3)));
        assert_ne!(group_token(0), WAKER);
        assert_ne!(conn_token(0, a), WAKER);
        assert_eq!(decode(WAKER), None);
        let mut g = Generations(GEN_MASK as u32 - 1);
        assert_eq!(g.next(), GEN_MASK as u32);
        assert_eq!(g.next(), 1);
    }
}
