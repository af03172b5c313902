//! The outgoing byte stream: packs small frames into batches, passes large
//! payloads by reference, and remembers which messages are still unwritten.

use crate::frame::{self, MORE};
use crate::mechanism::Sealer;
use crate::{Item, Multipart, encoded};
use bytes::{Buf, Bytes, BytesMut};
use smallvec::SmallVec;
use std::collections::VecDeque;
use std::io::IoSlice;

/// Stop encoding more messages into one `chunks` call past this many bytes
/// of by-reference payload, so a long queue of huge messages is not staged
/// at once (staging is cheap, but it delays `take_unsent` returning them).
const STAGE_LIMIT: usize = 1 << 20;
/// The largest allocation batches are carved from (see `encode`).
const MAX_BATCH_ALLOC: usize = 512 * 1024;

/// Messages whose bytes are (partly) in the staged stream.
#[derive(Debug)]
struct InFlight {
    /// Stream offset of its first byte.
    start: u64,
    /// Stream offset just past its last byte.
    end: u64,
    span: Span,
}

/// What an `InFlight` holds, to give back what was not written.
#[derive(Debug)]
enum Span {
    /// One message, encoded here.
    Msg(Multipart),
    /// Items encoded ahead (`push_encoded`): the chunks that hold their
    /// bytes, decoded again only if some must be given back.
    Encoded(SmallVec<[Bytes; 2]>),
}

/// The messages in an encoded span from `start` to `end`, each with its
/// stream offsets. Subscription changes in it are skipped (they are not
/// given back, as control output is not).
fn decode_span(start: u64, end: u64, chunks: &[Bytes]) -> Vec<(u64, u64, Multipart)> {
    let total = usize::try_from(end - start).unwrap_or(usize::MAX);
    let mut all = BytesMut::with_capacity(total);
    for c in chunks {
        let room = total - all.len();
        all.extend_from_slice(&c[..c.len().min(room)]);
    }
    let mut all = all.freeze();
    let mut out = Vec::new();
    let mut at = start;
    while !all.is_empty() {
        let before = all.len();
        let item = encoded::decode_item(&mut all);
        let next = at + (before - all.len()) as u64;
        if let Some(Item::Message(m)) = item {
            out.push((at, next, m));
        }
        at = next;
    }
    out
}

#[derive(Debug)]
pub(crate) struct Output {
    /// Small frames and commands being packed; sealed into `queue` on demand.
    batch: BytesMut,
    /// Sealed chunks ready to write; the front one may be partly written.
    queue: VecDeque<Bytes>,
    /// Bytes in `queue`.
    queued_bytes: usize,
    /// Stream offset of the next byte to write (bytes advanced so far).
    written: u64,
    /// Encoded messages not yet wholly written, in stream order.
    in_flight: VecDeque<InFlight>,
    /// Messages not yet encoded.
    pending: VecDeque<Multipart>,
    /// Encoded size of `pending`.
    pending_bytes: usize,
    batch_size: usize,
    zero_copy_threshold: usize,
    /// Whether frames go out as CURVE MESSAGEs (known from the start, so
    /// sizes are right for messages queued before the handshake).
    sealed: bool,
    /// CURVE's encryption, once the handshake installed it.
    sealer: Option<Sealer>,
    /// Size of the allocation batches are carved from now.
    batch_alloc: usize,
}

/// Wire size of one frame of `len` payload bytes.
fn frame_len(len: usize, sealed: bool) -> usize {
    let body = if sealed {
        crate::mechanism::MESSAGE_OVERHEAD + len
    } else {
        len
    };
    frame::header_len(body) + body
}

/// Wire size of `msg`: headers plus payloads.
fn encoded_len(msg: &Multipart, sealed: bool) -> usize {
    msg.frames()
        .iter()
        .map(|f| frame_len(f.len(), sealed))
        .sum()
}

impl Output {
    pub(crate) fn new(batch_size: usize, zero_copy_threshold: usize, sealed: bool) -> Self {
        let batch_size = batch_size.max(frame::MAX_HEADER);
        Self {
            batch: BytesMut::with_capacity(batch_size),
            queue: VecDeque::new(),
            queued_bytes: 0,
            written: 0,
            in_flight: VecDeque::new(),
            pending: VecDeque::new(),
            pending_bytes: 0,
            batch_size,
            zero_copy_threshold: zero_copy_threshold.max(1),
            sealed,
            sealer: None,
            batch_alloc: batch_size,
        }
    }

    /// Whether frames go out as CURVE MESSAGEs.
    pub(crate) fn is_sealed(&self) -> bool {
        self.sealed
    }

    /// From now on, frames are encrypted into MESSAGE commands.
    pub(crate) fn set_sealer(&mut self, sealer: Sealer) {
        self.sealer = Some(sealer);
    }

    /// Appends the frames `write` produces as control output; once CURVE is
    /// running, each is encrypted into a MESSAGE (commands with flag 0x02).
    pub(crate) fn put_control(&mut self, write: impl FnOnce(&mut BytesMut)) {
        let Some(sealer) = &mut self.sealer else {
            write(&mut self.batch);
            return;
        };
        let mut plain = BytesMut::new();
        write(&mut plain);
        while let Ok(Some(h)) = frame::parse(&plain) {
            let Ok(size) = usize::try_from(h.size) else {
                break;
            };
            if plain.len() < h.header_len + size {
                break;
            }
            plain.advance(h.header_len);
            let body = plain.split_to(size);
            let flags = u8::from(h.more()) | if h.command() { 0x02 } else { 0 };
            sealer.seal(&mut self.batch, flags, &body);
        }
    }

    /// Where control frames (greeting, commands) are appended, after
    /// everything already staged and before messages not yet encoded.
    pub(crate) fn control(&mut self) -> &mut BytesMut {
        &mut self.batch
    }

    /// Queues a message for encoding.
    pub(crate) fn push(&mut self, msg: Multipart) {
        self.pending_bytes += encoded_len(&msg, self.sealed);
        self.pending.push_back(msg);
    }

    /// Queues items already encoded (`encoded::encode_item`) as `chunks`,
    /// after everything queued so far. They are written as they are; the
    /// chunks are kept until written, to give back what was not.
    pub(crate) fn push_encoded(&mut self, chunks: impl IntoIterator<Item = Bytes>) {
        if !self.pending.is_empty() || self.sealed {
            // Not the case this is for (messages waiting to be encoded here,
            // or CURVE): keep the order and the sealing by going the slow way.
            let chunks: Vec<Bytes> = chunks.into_iter().collect();
            let len: usize = chunks.iter().map(Bytes::len).sum();
            for (_, _, m) in decode_span(0, len as u64, &chunks) {
                self.push(m);
            }
            return;
        }
        self.seal();
        let start = self.staged_end();
        let mut kept = SmallVec::new();
        for chunk in chunks {
            if chunk.is_empty() {
                continue;
            }
            self.queued_bytes += chunk.len();
            self.queue.push_back(chunk.clone());
            kept.push(chunk);
        }
        let end = self.staged_end();
        if end > start {
            self.in_flight.push_back(InFlight {
                start,
                end,
                span: Span::Encoded(kept),
            });
        }
    }

    /// Whether `chunks` would yield bytes (`encode`: messages may be encoded).
    pub(crate) fn has_output(&self, encode: bool) -> bool {
        self.queued_bytes > 0 || !self.batch.is_empty() || (encode && !self.pending.is_empty())
    }

    /// Bytes queued and not yet written, including messages not yet encoded.
    pub(crate) fn pending_output(&self) -> usize {
        self.queued_bytes + self.batch.len() + self.pending_bytes
    }

    fn staged_end(&self) -> u64 {
        self.written + (self.queued_bytes + self.batch.len()) as u64
    }

    fn seal(&mut self) {
        if !self.batch.is_empty() {
            let chunk = self.batch.split().freeze();
            self.queued_bytes += chunk.len();
            self.queue.push_back(chunk);
        }
    }

    /// Encodes pending messages until `max_chunks` chunks are queued or
    /// `STAGE_LIMIT` bytes are staged; always at least one message if
    /// nothing is staged, so any `max_chunks` makes progress. A full batch
    /// is sealed and a new one begun, so one vectored write carries many
    /// batches (sealed CURVE frames all go through the batch).
    fn encode(&mut self, max_chunks: usize) {
        if self.queue.is_empty() && self.batch.is_empty() {
            if self.batch_alloc > MAX_BATCH_ALLOC {
                // Made for one huge sealed message: not kept.
                self.batch_alloc = self.batch_size;
                self.batch = BytesMut::with_capacity(self.batch_size);
            }
            // A new round: the last one's allocation comes back whole if
            // all its chunks were written (else the batch goes on in its
            // tail, or in a new one).
            let _ = self.batch.try_reclaim(self.batch_alloc);
        }
        loop {
            if self.batch.len() >= self.batch_size {
                self.seal();
            }
            let staged = self.queued_bytes > 0 || !self.batch.is_empty();
            let room = self.queue.len() + 2 < max_chunks
                && self.queued_bytes + self.batch.len() < STAGE_LIMIT;
            if staged && !room {
                break;
            }
            let Some(msg) = self.pending.pop_front() else {
                break;
            };
            let size = encoded_len(&msg, self.sealed);
            self.pending_bytes -= size;
            // What this message copies into the batch: all of it when
            // sealed, else at most a batch (larger payloads go by reference).
            let copied = if self.sealer.is_some() {
                size
            } else {
                size.min(self.batch_size)
            };
            if self.batch.capacity() - self.batch.len() < copied {
                // A new batch rather than a grown one, which would copy
                // this one. Once every chunk of the allocation is written,
                // it is taken back whole; while some are not, a new one
                // twice as large follows (up to MAX_BATCH_ALLOC), so a
                // stream's rounds settle on one allocation, reused, rather
                // than one per batch (the sender of 4 KiB CURVE messages
                // took a page fault every three to ten messages).
                self.seal();
                if !self.batch.try_reclaim(copied) {
                    self.batch_alloc = (2 * self.batch_alloc)
                        .clamp(self.batch_size, MAX_BATCH_ALLOC)
                        .max(copied);
                    self.batch = BytesMut::with_capacity(self.batch_alloc);
                }
            }
            let start = self.staged_end();
            let last = msg.len().saturating_sub(1);
            for (i, f) in msg.frames().iter().enumerate() {
                let flags = if i < last { MORE } else { 0 };
                if let Some(sealer) = &mut self.sealer {
                    sealer.seal(&mut self.batch, flags, f);
                    continue;
                }
                frame::put_header(&mut self.batch, flags, f.len());
                if f.len() >= self.zero_copy_threshold {
                    self.seal();
                    self.queued_bytes += f.len();
                    self.queue.push_back(f.clone());
                } else {
                    self.batch.extend_from_slice(f);
                }
            }
            let end = start + size as u64;
            self.in_flight.push_back(InFlight {
                start,
                end,
                span: Span::Msg(msg),
            });
        }
    }

    /// Fills `dst` with the next chunks to write; encodes pending messages
    /// first if `encode`. Returns how many slices were filled.
    pub(crate) fn chunks<'a>(&'a mut self, dst: &mut [IoSlice<'a>], encode: bool) -> usize {
        if dst.is_empty() {
            return 0;
        }
        if encode {
            self.encode(dst.len());
        }
        self.seal();
        let mut n = 0;
        for (slot, chunk) in dst.iter_mut().zip(self.queue.iter()) {
            *slot = IoSlice::new(chunk);
            n += 1;
        }
        n
    }

    /// Records that `n` bytes from `chunks` were written. More than is staged
    /// is clamped (a caller bug, but not worth a panic).
    pub(crate) fn advance(&mut self, n: usize) {
        let mut n = n.min(self.queued_bytes);
        self.queued_bytes -= n;
        self.written += n as u64;
        while n > 0 {
            let Some(front) = self.queue.front_mut() else {
                break;
            };
            if n >= front.len() {
                n -= front.len();
                self.queue.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
        while self
            .in_flight
            .front()
            .is_some_and(|m| m.end <= self.written)
        {
            self.in_flight.pop_front();
        }
    }

    /// Removes and returns every message none of whose bytes were written,
    /// in order, and drops their bytes from the staged stream.
    pub(crate) fn take_unsent(&mut self) -> Vec<Multipart> {
        let written = self.written;
        let first = self
            .in_flight
            .iter()
            .position(|m| m.end > written)
            .unwrap_or(self.in_flight.len());
        // Offsets only grow: from the first byte not written on, every
        // message is unsent. Find where that is, and split a span there.
        let mut cut = None;
        let mut out = Vec::new();
        let mut keep = self.in_flight.len();
        for (i, rec) in self.in_flight.iter_mut().enumerate().skip(first) {
            if rec.start >= written {
                cut = Some(rec.start);
                keep = i;
                break;
            }
            if let Span::Encoded(chunks) = &rec.span {
                let unsent = decode_span(rec.start, rec.end, chunks)
                    .into_iter()
                    .filter(|(start, _, _)| *start >= written);
                for (start, _, m) in unsent {
                    cut.get_or_insert(start);
                    out.push(m);
                }
                if let Some(from) = cut {
                    // Written in part: what was begun stays.
                    rec.end = from;
                    keep = i + 1;
                    break;
                }
            }
        }
        for rec in self.in_flight.drain(keep..) {
            match rec.span {
                Span::Msg(m) => out.push(m),
                Span::Encoded(chunks) => out.extend(
                    decode_span(rec.start, rec.end, &chunks)
                        .into_iter()
                        .map(|(_, _, m)| m),
                ),
            }
        }
        out.extend(self.pending.drain(..));
        self.pending_bytes = 0;
        self.truncate(cut.unwrap_or_else(|| self.staged_end()));
        out
    }

    /// For a connection that is over: removes and returns every message
    /// not written completely, in order, and drops all staged bytes. A
    /// message cut short never reaches the peer (a truncated frame is
    /// dropped), so it may go elsewhere.
    pub(crate) fn take_undelivered(&mut self) -> Vec<Multipart> {
        let written = self.written;
        let mut out = Vec::new();
        for rec in self.in_flight.drain(..) {
            if rec.end <= written {
                continue;
            }
            match rec.span {
                Span::Msg(m) => out.push(m),
                Span::Encoded(chunks) => out.extend(
                    decode_span(rec.start, rec.end, &chunks)
                        .into_iter()
                        .filter(|(_, end, _)| *end > written)
                        .map(|(_, _, m)| m),
                ),
            }
        }
        out.extend(self.pending.drain(..));
        self.pending_bytes = 0;
        self.batch.clear();
        self.queue.clear();
        self.queued_bytes = 0;
        out
    }

    /// Drops staged bytes at stream offsets `cut` and beyond.
    fn truncate(&mut self, cut: u64) {
        self.seal();
        let mut keep = usize::try_from(cut.saturating_sub(self.written)).unwrap_or(usize::MAX);
        let mut kept_chunks = 0;
        for chunk in self.queue.iter_mut() {
            if keep == 0 {
                break;
            }
            if chunk.len() > keep {
                chunk.truncate(keep);
            }
            keep -= chunk.len();
            kept_chunks += 1;
        }
        self.queue.truncate(kept_chunks);
        self.queued_bytes = self.queue.iter().map(Bytes::len).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(out: &mut Output, max_write: usize) -> Vec<u8> {
        let mut all = Vec::new();
        while out.has_output(true) {
            let mut slices = [IoSlice::new(&[]); 8];
            let n = out.chunks(&mut slices, true);
            let mut bytes: Vec<u8> = slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
            bytes.truncate(max_write);
            let len = bytes.len();
            all.extend(bytes);
            out.advance(len);
        }
        all
    }

    fn msg(frames: &[&[u8]]) -> Multipart {
        frames.iter().map(|f| Bytes::copy_from_slice(f)).collect()
    }

    #[test]
    fn packs_small_and_references_large() {
        let mut out = Output::new(64, 8, false);
        let big = Bytes::from(vec![7u8; 20]);
        out.push(msg(&[b"ab", b"c"]));
        out.push(Multipart::single(big.clone()));
        let mut slices = [IoSlice::new(&[]); 8];
        let n = out.chunks(&mut slices, true);
        // "ab"+"c" packed with the next header; the big payload by reference.
        assert_eq!(n, 2);
        assert_eq!(&slices[0][..], b"\x01\x02ab\x00\x01c\x00\x14");
        assert_eq!(slices[1].as_ptr(), big.as_ptr());
    }

    #[test]
    fn one_call_stages_many_full_batches() {
        // 100 copied frames of 20 bytes, batches of 64: one `chunks` call
        // hands the writer every batch (a CURVE stream, whose frames are
        // all copied, once went out one 8 KiB batch per system call).
        let mut out = Output::new(64, 1024, false);
        for i in 0..100u8 {
            out.push(msg(&[&[i; 20]]));
        }
        let mut slices = [IoSlice::new(&[]); 256];
        let n = out.chunks(&mut slices, true);
        assert!(n > 1, "more than one batch");
        assert!(slices[..n].iter().all(|s| s.len() <= 64 + 22));
        let staged: usize = slices[..n].iter().map(|s| s.len()).sum();
        assert_eq!(staged, 100 * 22, "every message staged at once");
    }
    #[test]
    fn a_written_round_s_allocation_is_used_again() {
        let mut out = Output::new(64, 1024, false);
        let round = |out: &mut Output, tag: u8| {
            for i in 0..40u8 {
                out.push(msg(&[&[tag ^ i; 20]]));
            }
            let mut starts = Vec::new();
            while out.has_output(true) {
                let mut slices = [IoSlice::new(&[]); 256];
                let n = out.chunks(&mut slices, true);
                starts.extend(slices[..n].iter().map(|s| (s.as_ptr() as usize, s.len())));
                let len: usize = slices[..n].iter().map(|s| s.len()).sum();
                out.advance(len);
            }
            starts
        };
        round(&mut out, 0);
        let second = round(&mut out, 0x40);
        let third = round(&mut out, 0x80);
        // Once an allocation holds a round, each round starts at its
        // beginning (it came back whole once its chunks were written), and
        // the round's batches follow each other in it.
        assert!(second.contains(&third[0]), "{second:x?} / {third:x?}");
        for pair in third.windows(2) {
            assert_eq!(
                pair[0].0 + pair[0].1,
                pair[1].0,
                "one allocation: {third:x?}"
            );
        }
    }

    #[test]
    fn stream_is_the_same_for_any_write_size() {
        let build = || {
            let mut out = Output::new(16, 4, false);
            out.control().extend_from_slice(b"hello");
            for i in 0..20u8 {
                out.push(msg(&[&[i; 3], &vec![i; usize::from(i)]]));
            }
            out
        };
        let whole = drain(&mut build(), usize::MAX);
        for w in [1, 2, 7, 33] {
            assert_eq!(drain(&mut build(), w), whole);
        }
    }

    #[test]
    fn one_slice_at_a_time_makes_progress() {
        let mut out = Output::new(16, 4, false);
        out.push(msg(&[b"abcdef", b"x"]));
        out.push(msg(&[b"y"]));
        let mut all = Vec::new();
        while out.has_output(true) {
            let mut slices = [IoSlice::new(&[])];
            assert_eq!(out.chunks(&mut slices, true), 1);
            all.extend_from_slice(&slices[0]);
            let n = slices[0].len();
            out.advance(n);
        }
        assert_eq!(all, b"\x01\x06abcdef\x00\x01x\x00\x01y");
    }

    #[test]
    fn take_undelivered_includes_the_message_cut_short() {
        let mut out = Output::new(16, 1024, false);
        let msgs: Vec<Multipart> = (0..4u8).map(|i| msg(&[&[i; 20]])).collect();
        for m in &msgs {
            out.push(m.clone());
        }
        let mut slices = [IoSlice::new(&[]); 4];
        assert!(out.chunks(&mut slices, true) > 0);
        // The first message whole (2-byte header + 20), the second in part.
        out.advance(22 + 5);
        assert_eq!(out.take_undelivered(), msgs[1..].to_vec());
        assert!(!out.has_output(true));
        assert!(out.take_undelivered().is_empty());
    }

    #[test]
    fn take_unsent_returns_untouched_messages_in_order() {
        let mut out = Output::new(16, 1024, false);
        let msgs: Vec<Multipart> = (0..10u8).map(|i| msg(&[&[i; 5]])).collect();
        for m in &msgs {
            out.push(m.clone());
        }
        let mut slices = [IoSlice::new(&[]); 4];
        let n = out.chunks(&mut slices, true);
        assert!(n > 0);
        // Each message is 7 bytes; write all of #0 and one byte of #1.
        out.advance(8);
        let unsent = out.take_unsent();
        assert_eq!(unsent, msgs[2..]);
        // Only the rest of #1 remains to write.
        assert_eq!(out.pending_output(), 6);
        assert_eq!(
            drain(&mut out, usize::MAX),
            b"\x00\x05\x01\x01\x01\x01\x01"[1..]
        );
        assert!(out.take_unsent().is_empty());
    }

    /// `msgs` encoded ahead as a pipe would: one chunk, payloads of 20
    /// bytes or more by reference.
    fn encoded(msgs: &[Multipart]) -> Vec<Bytes> {
        struct Sink(Vec<Bytes>, BytesMut);
        impl encoded::ItemSink for Sink {
            fn buf(&mut self, additional: usize) -> &mut BytesMut {
                self.1.reserve(additional);
                &mut self.1
            }
            fn shared(&mut self, payload: Bytes) {
                self.0.push(self.1.split().freeze());
                self.0.push(payload);
            }
        }
        let mut sink = Sink(Vec::new(), BytesMut::new());
        for m in msgs {
            encoded::encode_item(&Item::Message(m.clone()), 20, &mut sink);
        }
        let tail = sink.1.split().freeze();
        sink.0.push(tail);
        sink.0
    }

    #[test]
    fn encoded_items_go_out_as_they_are_after_control() {
        let msgs: Vec<Multipart> = (0..3u8).map(|i| msg(&[&[i; 2], &[i; 30]])).collect();
        let mut out = Output::new(16, 20, false);
        out.control().extend_from_slice(b"ctl");
        out.push_encoded(encoded(&msgs[..2]));
        out.push_encoded(encoded(&msgs[2..]));
        let mut plain = Output::new(16, 20, false);
        plain.control().extend_from_slice(b"ctl");
        msgs.iter().for_each(|m| plain.push(m.clone()));
        assert_eq!(drain(&mut out, 5), drain(&mut plain, usize::MAX));
        assert!(out.in_flight.is_empty());
    }

    #[test]
    fn encoded_items_behind_messages_not_yet_encoded_keep_their_order() {
        let msgs: Vec<Multipart> = (0..4u8).map(|i| msg(&[&[i; 3], &[i; 25]])).collect();
        let mut out = Output::new(16, 20, false);
        out.push(msgs[0].clone());
        out.push_encoded(encoded(&msgs[1..]));
        let mut plain = Output::new(16, 20, false);
        msgs.iter().for_each(|m| plain.push(m.clone()));
        assert_eq!(drain(&mut out, usize::MAX), drain(&mut plain, usize::MAX));
    }

    #[test]
    fn take_unsent_splits_an_encoded_span() {
        let msgs: Vec<Multipart> = (0..10u8).map(|i| msg(&[&[i; 5]])).collect();
        let mut out = Output::new(16, 1024, false);
        out.push_encoded(encoded(&msgs[..6]));
        out.push_encoded(encoded(&msgs[6..]));
        let mut slices = [IoSlice::new(&[]); 4];
        assert!(out.chunks(&mut slices, true) > 0);
        // Each message is 7 bytes; write all of #0 and one byte of #1.
        out.advance(8);
        assert_eq!(out.take_unsent(), msgs[2..]);
        assert_eq!(out.pending_output(), 6);
        assert_eq!(
            drain(&mut out, usize::MAX),
            b"\x00\x05\x01\x01\x01\x01\x01"[1..]
        );
        assert!(out.take_unsent().is_empty());
        // Nothing written at all: everything comes back.
        let mut out = Output::new(16, 1024, false);
        out.push_encoded(encoded(&msgs));
        assert_eq!(out.take_unsent(), msgs);
        assert!(!out.has_output(true));
    }

    #[test]
    fn take_undelivered_decodes_what_a_span_did_not_finish() {
        // Big payloads by reference: the cut falls inside one.
        let msgs: Vec<Multipart> = (0..4u8).map(|i| msg(&[&[i; 40]])).collect();
        let mut out = Output::new(16, 20, false);
        out.push_encoded(encoded(&msgs));
        let mut slices = [IoSlice::new(&[]); 16];
        assert!(out.chunks(&mut slices, true) > 0);
        // #0 whole (2 + 40), #1's header and 10 bytes of its payload.
        out.advance(42 + 12);
        assert_eq!(out.take_undelivered(), msgs[1..].to_vec());
        assert!(!out.has_output(true));
    }
}
