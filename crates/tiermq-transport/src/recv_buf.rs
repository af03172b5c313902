//! Read buffers that are reused, not zeroed again and not faulted in again.
//!
//! A connection reads into a plain `Vec<u8>` it owns, then freezes what it
//! read as [`Bytes`] and decodes frames from that without copying. When
//! the last frame of a buffer is dropped (often on an application thread)
//! the buffer goes back to the connection's [`Pool`], initialised, and the
//! next read goes straight into it. Allocating fresh buffers instead cost
//! the receiver of 64 KiB messages a `memset` of every byte and a page
//! fault for every few, a third of its time.
//!
//! A small read is copied out instead (it would pin a large buffer for a
//! few bytes), and a frame cut off at the end of a read is carried to the
//! start of the next buffer, which is made big enough for the whole frame
//! once its header is known, growing at most twice as fast as its bytes
//! arrive.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// A read that returned fewer bytes than this is copied into an exact
/// allocation rather than pinning a pooled buffer.
const COPY_BELOW: usize = 2048;
/// Spare bytes a pool may keep however few are lent out.
const MIN_SPARE: usize = 1 << 20;
/// How often a quiet connection's pool forgets its peak.
const TRIM_EVERY: Duration = Duration::from_secs(1);

/// Spare buffers, shared with the frames that borrow the others.
///
/// The spare bytes stay within the most that was lent out at once since
/// the last trim (or `MIN_SPARE`): a streaming connection whose in pipe
/// fills and drains gets its buffers back as the application consumes
/// them and reads into them again. New buffers are allocated only when
/// none is spare, so lent and spare together stay within that peak plus a
/// buffer. A quiet connection trims the spare ones to what is lent now, at
/// most once per `TRIM_EVERY` (a busy one may look quiet for a moment
/// between bursts, and would otherwise free what its next burst needs).
#[derive(Debug, Default)]
struct Pool {
    spare: Mutex<Spare>,
}

#[derive(Debug, Default)]
struct Spare {
    bufs: Vec<Vec<u8>>,
    bytes: usize,
    /// Bytes of the buffers lent to frames.
    lent: usize,
    /// The most `lent` has been since the last trim.
    peak: usize,
    last_trim: Option<Instant>,
    /// The connection is gone: returning buffers are freed.
    closed: bool,
}

impl Spare {
    fn bound(&self) -> usize {
        if self.closed {
            0
        } else {
            self.peak.max(MIN_SPARE)
        }
    }

    /// Frees the oldest spare buffers beyond the bound.
    fn trim(&mut self) {
        self.peak = self.lent;
        let bound = self.bound();
        let mut drop_n = 0;
        while self.bytes > bound {
            self.bytes -= self.bufs[drop_n].len();
            drop_n += 1;
        }
        self.bufs.drain(..drop_n);
    }
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Spare> {
        self.spare.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A spare buffer of `len` bytes or twice that (all are powers of
    /// two), the most recently returned one (its pages are the likeliest
    /// to be in cache). A much larger one is left: small reads would pin
    /// it.
    fn take(&self, len: usize) -> Option<Vec<u8>> {
        let mut spare = self.lock();
        let i = spare
            .bufs
            .iter()
            .rposition(|b| b.len() == len || b.len() == 2 * len)?;
        // In order: the oldest are evicted first (see `put`).
        let buf = spare.bufs.remove(i);
        spare.bytes -= buf.len();
        Some(buf)
    }

    /// Takes back a buffer that was lent (`lent`) or replaced. It is the
    /// size reads ask for now, so the oldest spare buffers make room for
    /// it. Kept instead, small ones left from a connection's first reads
    /// filled the bound, and every larger buffer coming back was freed and
    /// allocated again: 769 of 775 read buffers of a 64 KiB CURVE stream.
    fn put(&self, buf: Vec<u8>, lent: bool) {
        let mut spare = self.lock();
        if lent {
            spare.lent = spare.lent.saturating_sub(buf.len());
        }
        let bound = spare.bound();
        if buf.len() > bound {
            return;
        }
        let mut evict = 0;
        while spare.bytes + buf.len() > bound {
            spare.bytes -= spare.bufs[evict].len();
            evict += 1;
        }
        spare.bufs.drain(..evict);
        spare.bytes += buf.len();
        spare.bufs.push(buf);
    }
}

/// A pooled buffer lent to frames: `len` bytes of it were read.
struct Lent {
    buf: Vec<u8>,
    len: usize,
    pool: Arc<Pool>,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.pool.put(std::mem::take(&mut self.buf), true);
    }
}

/// One connection's read buffer: the bytes read but not yet frozen
/// (`..held`), then room for the next read.
#[derive(Debug)]
pub(crate) struct RecvBuf {
    pool: Arc<Pool>,
    buf: Vec<u8>,
    held: usize,
}

impl RecvBuf {
    pub(crate) fn new() -> Self {
        RecvBuf {
            pool: Arc::new(Pool::default()),
            buf: Vec::new(),
            held: 0,
        }
    }

    /// The bytes read and not yet frozen.
    pub(crate) fn held(&self) -> &[u8] {
        &self.buf[..self.held]
    }

    /// Room for a read of at least `want` bytes after the held ones: the
    /// rest of the buffer, which is at least `size` long and a power of two
    /// (a connection asks for one size while its reads are alike, so that
    /// returned buffers fit the next need). The held bytes move along if
    /// the buffer has to change.
    pub(crate) fn room(&mut self, want: usize, size: usize) -> &mut [u8] {
        let need = self.held + want;
        if self.buf.len() < need {
            let len = need.max(size).next_power_of_two();
            let mut next = match self.pool.take(len) {
                Some(b) => b,
                None => vec![0; len],
            };
            next[..self.held].copy_from_slice(&self.buf[..self.held]);
            let old = std::mem::replace(&mut self.buf, next);
            if !old.is_empty() {
                self.pool.put(old, false);
            }
        }
        &mut self.buf[self.held..]
    }

    /// `n` more bytes were read into the room.
    pub(crate) fn filled(&mut self, n: usize) {
        self.held += n;
    }

    /// The held bytes as `Bytes`, for decoding; the buffer is lent to them
    /// (a small amount is copied instead, keeping the buffer).
    pub(crate) fn freeze(&mut self) -> Bytes {
        let len = std::mem::take(&mut self.held);
        if len < COPY_BELOW {
            return Bytes::copy_from_slice(&self.buf[..len]);
        }
        let buf = std::mem::take(&mut self.buf);
        let mut spare = self.pool.lock();
        spare.lent += buf.len();
        spare.peak = spare.peak.max(spare.lent);
        drop(spare);
        Bytes::from_owner(Lent {
            buf,
            len,
            pool: Arc::clone(&self.pool),
        })
    }

    /// Puts `rest`, the undecoded end of the last frozen read (a partial
    /// frame), back in front of the next read, which will want `want`
    /// bytes of room after it.
    pub(crate) fn carry(&mut self, rest: &[u8], want: usize, size: usize) {
        debug_assert_eq!(self.held, 0);
        self.room(rest.len() + want, size)[..rest.len()].copy_from_slice(rest);
        self.held = rest.len();
    }

    /// When [`trim`](Self::trim) should next run so that spare buffers a
    /// connection gone idle keeps are freed: `TRIM_EVERY` after the last
    /// trim (now, if none yet), while more than `MIN_SPARE` is spare. The
    /// I/O thread runs it as one of the connection's timers; a connection
    /// that stopped reading would otherwise keep its peak for good.
    pub(crate) fn trim_due(&self, now: Instant) -> Option<Instant> {
        let spare = self.pool.lock();
        (spare.bytes > MIN_SPARE).then(|| spare.last_trim.map_or(now, |t| t + TRIM_EVERY))
    }

    /// The connection looks quiet: frees the spare buffers beyond what is
    /// lent now, unless it did so less than `TRIM_EVERY` ago.
    pub(crate) fn trim(&self, now: Instant) {
        let mut spare = self.pool.lock();
        if spare
            .last_trim
            .is_none_or(|t| now.duration_since(t) >= TRIM_EVERY)
        {
            spare.last_trim = Some(now);
            spare.trim();
        }
    }
}

impl Drop for RecvBuf {
    fn drop(&mut self) {
        let mut spare = self.pool.lock();
        spare.closed = true;
        spare.trim();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(rb: &mut RecvBuf, data: &[u8]) {
        rb.room(data.len(), 0)[..data.len()].copy_from_slice(data);
        rb.filled(data.len());
    }

    #[test]
    fn a_buffer_returns_to_the_pool_once_its_frames_are_gone() {
        let mut rb = RecvBuf::new();
        let big = vec![5u8; 4096];
        read(&mut rb, &big);
        let frozen = rb.freeze();
        let frame = frozen.slice(100..200);
        drop(frozen);
        assert_eq!(rb.pool.lock().bufs.len(), 0, "a frame still uses it");
        assert_eq!(&frame[..], &big[100..200]);
        drop(frame);
        assert_eq!(rb.pool.lock().bufs.len(), 1);
        // The next read reuses it, and what it reads is what it holds.
        read(&mut rb, &[9u8; 3000]);
        assert_eq!(rb.pool.lock().bufs.len(), 0);
        assert_eq!(rb.held(), &[9u8; 3000][..]);
    }

    #[test]
    fn a_returning_buffer_evicts_old_spares_rather_than_being_freed() {
        let rb = RecvBuf::new();
        // Small spares from a connection's first reads fill the bound.
        for _ in 0..(MIN_SPARE >> 14) {
            rb.pool.put(vec![0; 16 << 10], false);
        }
        assert_eq!(rb.pool.lock().bytes, MIN_SPARE);
        // A buffer of the size reads ask for now comes back: kept, and the
        // oldest small ones go to make room.
        rb.pool.put(vec![0; 256 << 10], false);
        let spare = rb.pool.lock();
        assert_eq!(spare.bytes, MIN_SPARE);
        assert_eq!(spare.bufs.last().map(Vec::len), Some(256 << 10));
        assert_eq!(spare.bufs.len(), (MIN_SPARE >> 14) - 16 + 1);
        drop(spare);
        assert!(rb.pool.take(256 << 10).is_some(), "the next read reuses it");
    }

    #[test]
    fn small_reads_are_copied_and_keep_the_buffer() {
        let mut rb = RecvBuf::new();
        read(&mut rb, b"hello");
        let cap = rb.buf.len();
        assert_eq!(&rb.freeze()[..], b"hello");
        assert_eq!(rb.buf.len(), cap);
        read(&mut rb, b"world");
        assert_eq!(&rb.freeze()[..], b"world");
    }

    #[test]
    fn carried_bytes_come_first_and_survive_a_bigger_buffer() {
        let mut rb = RecvBuf::new();
        rb.carry(b"head", 10_000, 0);
        read(&mut rb, &[1u8; 10_000]);
        let all = rb.freeze();
        assert_eq!(&all[..4], b"head");
        assert_eq!(all.len(), 10_004);
        assert!(all[4..].iter().all(|&b| b == 1));
    }

    #[test]
    fn spare_buffers_stay_within_what_is_lent_and_go_when_closed() {
        let mut rb = RecvBuf::new();
        // 12 lent buffers of 256 KiB (3 MiB), then all returned.
        let frozen: Vec<Bytes> = (0..12)
            .map(|_| {
                read(&mut rb, &[3u8; 200 << 10]);
                rb.freeze()
            })
            .collect();
        assert_eq!(rb.pool.lock().lent, 12 << 18);
        drop(frozen);
        let spare = rb.pool.lock();
        assert_eq!(spare.lent, 0);
        // All kept: no more than were lent at the peak.
        assert_eq!(spare.bytes, 12 << 18);
        drop(spare);
        // Quiet: trimmed to MIN_SPARE, and not again within TRIM_EVERY.
        let now = Instant::now();
        rb.trim(now);
        assert_eq!(rb.pool.lock().bytes, MIN_SPARE);
        // The peak is forgotten: returns beyond MIN_SPARE are freed.
        let frozen: Vec<Bytes> = (0..8)
            .map(|_| {
                read(&mut rb, &[3u8; 200 << 10]);
                rb.freeze()
            })
            .collect();
        drop(frozen);
        assert_eq!(rb.pool.lock().bytes, 8 << 18);
        rb.trim(now);
        assert_eq!(rb.pool.lock().bytes, 8 << 18, "trimmed again too soon");
        // The idle timer is due a second after the last trim, and not once
        // nothing beyond MIN_SPARE is left to free.
        assert_eq!(rb.trim_due(now), Some(now + TRIM_EVERY));
        rb.trim(now + TRIM_EVERY);
        assert_eq!(rb.pool.lock().bytes, MIN_SPARE);
        assert_eq!(rb.trim_due(now + TRIM_EVERY), None);
        // Frames outliving the connection free their buffers.
        read(&mut rb, &[3u8; 200 << 10]);
        let last = rb.freeze();
        let pool = Arc::clone(&rb.pool);
        drop(rb);
        assert_eq!(pool.lock().bytes, 0);
        drop(last);
        assert_eq!(pool.lock().bytes, 0);
    }
}
