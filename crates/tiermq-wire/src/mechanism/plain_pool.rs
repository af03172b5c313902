//! Buffers that large CURVE messages are decrypted into, reused.
//!
//! A MESSAGE is decrypted out of the read it arrived in (which is shared
//! with the frames around it) into a buffer of its own, handed to the
//! application as `Bytes`. When that is dropped, on whichever thread, the
//! buffer comes back here, still mapped, and the next message of about its
//! size goes into it. A fresh allocation per 64 KiB message was trimmed
//! away by the allocator once freed and faulted in again: 3 to 9 page
//! faults per message on the receiver.

use bytes::Bytes;
use std::sync::{Arc, Mutex};

/// Spare bytes kept, at most. Buffers come back one by one as the
/// application takes messages, so a few cover a stream's turnover.
const SPARE: usize = 4 << 20;

/// One connection's spare buffers.
#[derive(Debug, Default)]
pub(crate) struct PlainPool {
    spare: Mutex<Spare>,
}

/// Spare buffers, oldest first, and their bytes.
#[derive(Debug, Default)]
struct Spare {
    bufs: Vec<Vec<u8>>,
    bytes: usize,
}

/// A pooled buffer lent to one message's bytes (`..len`).
struct Lent {
    buf: Vec<u8>,
    len: usize,
    pool: Arc<PlainPool>,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.pool.put(std::mem::take(&mut self.buf));
    }
}

impl PlainPool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Spare> {
        // A panic elsewhere while holding the lock leaves the list intact.
        self.spare.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A buffer of at least `len` bytes (at most twice that, so a small
    /// message does not pin a large one), the latest returned if any.
    pub(crate) fn take(&self, len: usize) -> Vec<u8> {
        let mut spare = self.lock();
        let fits = spare
            .bufs
            .iter()
            .rposition(|b| b.len() >= len && b.len() <= 2 * len);
        match fits {
            Some(i) => {
                // In order: the oldest are evicted first (see `put`).
                let buf = spare.bufs.remove(i);
                spare.bytes -= buf.len();
                buf
            }
            None => vec![0; len],
        }
    }

    /// `buf`'s first `len` bytes as `Bytes`; the buffer comes back here
    /// when they are dropped.
    pub(crate) fn lend(self: &Arc<Self>, buf: Vec<u8>, len: usize) -> Bytes {
        Bytes::from_owner(Lent {
            buf,
            len,
            pool: Arc::clone(self),
        })
    }

    /// Keeps a returned buffer; the oldest spares make room for it.
    fn put(&self, buf: Vec<u8>) {
        if buf.len() > SPARE {
            return;
        }
        let mut spare = self.lock();
        let mut evict = 0;
        while spare.bytes + buf.len() > SPARE {
            spare.bytes -= spare.bufs[evict].len();
            evict += 1;
        }
        spare.bufs.drain(..evict);
        spare.bytes += buf.len();
        spare.bufs.push(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_when_its_message_is_dropped_and_is_reused() {
        let pool = Arc::new(PlainPool::default());
        let mut buf = pool.take(5000);
        buf[..5].copy_from_slice(b"hello");
        let ptr = buf.as_ptr();
        let msg = pool.lend(buf, 5);
        assert_eq!(&msg[..], b"hello");
        let part = msg.slice(1..3);
        drop(msg);
        assert!(pool.lock().bufs.is_empty(), "a slice still holds it");
        drop(part);
        assert_eq!(pool.lock().bufs.len(), 1);
        let again = pool.take(4000);
        assert_eq!(again.as_ptr(), ptr, "reused for a similar size");
    }

    #[test]
    fn a_much_larger_spare_is_left_for_a_small_message() {
        let pool = Arc::new(PlainPool::default());
        pool.put(vec![0; 64 << 10]);
        assert_eq!(pool.take(3000).len(), 3000);
        assert_eq!(pool.lock().bufs.len(), 1);
    }

    #[test]
    fn spares_stay_within_the_bound_the_oldest_going_first() {
        let pool = Arc::new(PlainPool::default());
        for i in 0..(SPARE >> 16) + 4 {
            pool.put(vec![i as u8; 64 << 10]);
        }
        let spare = pool.lock();
        assert_eq!(spare.bufs.iter().map(Vec::len).sum::<usize>(), SPARE);
        assert_eq!(spare.bytes, SPARE);
        assert_eq!(spare.bufs[0][0], 4, "the four oldest went");
    }
}
