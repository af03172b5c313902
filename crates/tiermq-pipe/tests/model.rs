//! proptest: random sequences of operations on both ends, checked step by
//! step against a plain `VecDeque` model of what the pipe promises.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Buf, BufMut, Bytes};
use proptest::prelude::*;
use tiermq_pipe::{
    Codec, Config, EncodeBuf, Reader, RecvError, Room, SendError, Stats, Writer, pipe_encoded,
    pipe_with,
};

/// A message: its sequence number and its weight in bytes.
type Msg = (u32, usize);

fn weight(msg: &Msg) -> usize {
    msg.1
}

/// Encodes a message as its number, its weight, and `weight` filler
/// bytes, passed by reference from 50 bytes on (as large payloads are).
struct TestCodec;

/// Encoded length of a message.
fn encoded_len(msg: &Msg) -> usize {
    12 + msg.1
}

impl Codec<Msg> for TestCodec {
    fn encode(&self, msg: &Msg, buf: &mut EncodeBuf) {
        let tail = buf.tail(12);
        tail.put_u32(msg.0);
        tail.put_u64(msg.1 as u64);
        let filler = Bytes::from(vec![msg.0 as u8; msg.1]);
        if msg.1 >= 50 {
            buf.put_shared(filler);
        } else {
            buf.tail(msg.1).extend_from_slice(&filler);
        }
    }

    fn decode(&self, mut bytes: Bytes) -> Option<Msg> {
        let seq = bytes.get_u32();
        let w = bytes.get_u64() as usize;
        assert_eq!(bytes.len(), w, "a message's bytes, exactly");
        assert!(bytes.iter().all(|b| *b == seq as u8));
        Some((seq, w))
    }
}

#[derive(Clone, Debug)]
enum Op {
    Send(usize),
    /// `try_send_cloned`: a copy goes in, the original stays here.
    SendCloned(usize),
    SendBatch(Vec<usize>),
    Recv,
    RecvBatch(usize),
    /// `recv_encoded` with this `max_bytes` (a batch on a pipe of objects).
    RecvEncoded(usize),
    ReclaimWriter,
    ReclaimReader,
    CloseWriter,
    CloseReader,
    SetWakers,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..100).prop_map(Op::Send),
        2 => (0usize..100).prop_map(Op::SendCloned),
        2 => proptest::collection::vec(0usize..100, 0..6).prop_map(Op::SendBatch),
        3 => Just(Op::Recv),
        2 => (0usize..6).prop_map(Op::RecvBatch),
        2 => (0usize..300).prop_map(Op::RecvEncoded),
        1 => Just(Op::ReclaimWriter),
        1 => Just(Op::ReclaimReader),
        1 => Just(Op::CloseWriter),
        1 => Just(Op::CloseReader),
        1 => Just(Op::SetWakers),
    ]
}

/// What the pipe should do, written as plainly as possible.
struct Model {
    hwm: usize,
    lwm: usize,
    queue: VecDeque<Msg>,
    full: bool,
    writer_closed: bool,
    reader_closed: bool,
    total_in: u64,
    total_out: u64,
    bytes_in: u64,
    bytes_out: u64,
    reclaimed: u64,
    /// Saw the pipe empty since its last wake: the next send wakes it.
    reader_armed: bool,
    reader_wakes: usize,
    writer_wakes: usize,
}

impl Model {
    fn closed(&self) -> bool {
        self.writer_closed || self.reader_closed
    }

    fn send(&mut self, msg: Msg) -> Result<Room, SendError<Msg>> {
        if self.closed() {
            return Err(SendError::Closed(msg));
        }
        if self.full {
            return Err(SendError::Full(msg));
        }
        if self.queue.is_empty() && self.reader_armed {
            self.reader_armed = false;
            self.reader_wakes += 1;
        }
        self.queue.push_back(msg);
        self.total_in += 1;
        self.bytes_in += msg.1 as u64;
        if self.hwm > 0 && self.queue.len() >= self.hwm {
            self.full = true;
            Ok(Room::Full)
        } else {
            Ok(Room::Available)
        }
    }

    /// `try_send_batch`: sends one by one until the pipe is full; the rest
    /// stay behind.
    fn send_batch(&mut self, msgs: &mut VecDeque<Msg>) -> Result<Room, SendError<()>> {
        if self.closed() {
            return Err(SendError::Closed(()));
        }
        while !self.full {
            let Some(msg) = msgs.pop_front() else { break };
            let _ = self.send(msg);
        }
        Ok(if self.full {
            Room::Full
        } else {
            Room::Available
        })
    }

    fn take(&mut self, max: usize) -> Result<Vec<Msg>, RecvError> {
        if self.reader_closed {
            return Err(RecvError::Closed);
        }
        if self.queue.is_empty() {
            if self.writer_closed {
                return Err(RecvError::Closed);
            }
            self.reader_armed = true;
            return Err(RecvError::Empty);
        }
        let n = max.min(self.queue.len());
        let taken: Vec<Msg> = self.queue.drain(..n).collect();
        self.total_out += n as u64;
        self.bytes_out += taken.iter().map(|m| m.1 as u64).sum::<u64>();
        if n > 0 && self.full && self.queue.len() <= self.lwm {
            self.full = false;
            self.writer_wakes += 1;
        }
        Ok(taken)
    }

    fn reclaim(&mut self, by_reader: bool) -> Vec<Msg> {
        let taken: Vec<Msg> = self.queue.drain(..).collect();
        self.reclaimed += taken.len() as u64;
        if self.full {
            self.full = false;
            if by_reader {
                self.writer_wakes += 1;
            }
        }
        taken
    }

    fn stats(&self) -> Stats {
        let queued_bytes: u64 = self.queue.iter().map(|m| m.1 as u64).sum();
        Stats {
            queued: self.queue.len(),
            queued_bytes: queued_bytes as usize,
            hwm: self.hwm,
            lwm: self.lwm,
            room: match self.hwm {
                0 => None,
                _ if self.full || self.closed() => Some(0),
                hwm => Some(hwm - self.queue.len()),
            },
            total_in: self.total_in,
            total_out: self.total_out,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            reclaimed: self.reclaimed,
            full: self.full,
            closed: self.closed(),
        }
    }
}

fn counter() -> (Arc<AtomicUsize>, Arc<dyn tiermq_pipe::Wake>) {
    let count = Arc::new(AtomicUsize::new(0));
    let inner = Arc::clone(&count);
    let waker = Arc::new(move || {
        inner.fetch_add(1, Ordering::Relaxed);
    });
    (count, waker)
}

/// How many messages `recv_encoded(max_bytes)` takes from `queue`.
fn encoded_take(queue: &VecDeque<Msg>, max_bytes: usize) -> usize {
    if queue.iter().map(encoded_len).sum::<usize>() <= max_bytes {
        return queue.len();
    }
    let (mut n, mut bytes) = (0, 0);
    for m in queue {
        if n > 0 && bytes >= max_bytes {
            break;
        }
        n += 1;
        bytes += encoded_len(m);
    }
    n
}

fn run(hwm: usize, lwm: Option<usize>, ops: Vec<Op>, encoded: bool) -> Result<(), TestCaseError> {
    let config = Config { hwm, lwm };
    let (tx, rx): (Writer<Msg>, Reader<Msg>) = if encoded {
        pipe_encoded(config, weight, Arc::new(TestCodec))
    } else {
        pipe_with(config, weight)
    };
    prop_assert_eq!(rx.is_encoded(), encoded);
    let (reader_wakes, reader_waker) = counter();
    let (writer_wakes, writer_waker) = counter();
    rx.set_waker(Some(reader_waker.clone()));
    tx.set_waker(Some(writer_waker.clone()));
    let mut model = Model {
        hwm,
        lwm: config.effective_lwm(),
        queue: VecDeque::new(),
        full: false,
        writer_closed: false,
        reader_closed: false,
        total_in: 0,
        total_out: 0,
        bytes_in: 0,
        bytes_out: 0,
        reclaimed: 0,
        reader_armed: true,
        reader_wakes: 0,
        writer_wakes: 0,
    };
    // Every message sent comes out exactly once, in order, by one route.
    let mut next = 0u32;
    let mut accepted = Vec::new();
    let mut came_out = Vec::new();
    for op in ops {
        match op {
            Op::Send(w) => {
                let msg = (next, w);
                next += 1;
                let got = tx.try_send(msg);
                let want = model.send(msg);
                prop_assert_eq!(&got, &want);
                if got.is_ok() {
                    accepted.push(msg);
                }
            }
            Op::SendCloned(w) => {
                let msg = (next, w);
                next += 1;
                let got = tx.try_send_cloned(&msg);
                let want = model.send(msg).map_err(|e| e.map(drop));
                prop_assert_eq!(&got, &want);
                if got.is_ok() {
                    accepted.push(msg);
                }
            }
            Op::SendBatch(weights) => {
                let msgs: VecDeque<Msg> = weights
                    .into_iter()
                    .map(|w| {
                        next += 1;
                        (next - 1, w)
                    })
                    .collect();
                let (mut got_left, mut want_left) = (msgs.clone(), msgs.clone());
                let got = tx.try_send_batch(&mut got_left);
                let want = model.send_batch(&mut want_left);
                prop_assert_eq!(&got, &want);
                prop_assert_eq!(&got_left, &want_left);
                accepted.extend(msgs.iter().take(msgs.len() - got_left.len()));
            }
            Op::Recv => {
                let got = rx.try_recv();
                let want = model.take(1).map(|mut v| v.remove(0));
                prop_assert_eq!(got, want);
                if let Ok(msg) = got {
                    came_out.push(msg);
                }
            }
            Op::RecvBatch(max) => {
                let mut out = vec![(u32::MAX, 0)];
                let got = rx.recv_batch(&mut out, max);
                let want = model.take(max);
                prop_assert_eq!(got, want.as_ref().map(Vec::len).map_err(|e| *e));
                // Appended after what was already there.
                prop_assert_eq!(out[0], (u32::MAX, 0));
                let want = want.unwrap_or_default();
                prop_assert_eq!(&out[1..], &want[..]);
                came_out.extend(want);
            }
            Op::RecvEncoded(max) if encoded => {
                let mut chunks = vec![Bytes::from_static(b"x")];
                let got = rx.recv_encoded(&mut chunks, max);
                let n = encoded_take(&model.queue, max);
                let want = model.take(n);
                prop_assert_eq!(got, want.as_ref().map(Vec::len).map_err(|e| *e));
                prop_assert_eq!(&chunks[0][..], b"x");
                let mut bytes: Bytes = chunks[1..].concat().into();
                let want = want.unwrap_or_default();
                for m in &want {
                    let one = bytes.split_to(encoded_len(m));
                    prop_assert_eq!(TestCodec.decode(one), Some(*m));
                }
                prop_assert!(bytes.is_empty());
                came_out.extend(want);
            }
            Op::RecvEncoded(max) => {
                // A pipe of objects yields no bytes.
                let mut chunks = Vec::new();
                let got = rx.recv_encoded(&mut chunks, max);
                prop_assert!(chunks.is_empty());
                match model.take(0) {
                    Ok(_) => prop_assert_eq!(got, Ok(0)),
                    Err(e) => prop_assert_eq!(got, Err(e)),
                }
            }
            Op::ReclaimWriter => {
                let got = tx.reclaim_unsent();
                prop_assert_eq!(&got, &model.reclaim(false));
                came_out.extend(got);
            }
            Op::ReclaimReader => {
                let got = rx.reclaim_unsent();
                prop_assert_eq!(&got, &model.reclaim(true));
                came_out.extend(got);
            }
            Op::CloseWriter => {
                tx.close();
                if !model.writer_closed {
                    model.writer_closed = true;
                    model.reader_wakes += 1;
                }
            }
            Op::SetWakers => {
                rx.set_waker(Some(reader_waker.clone()));
                tx.set_waker(Some(writer_waker.clone()));
                // A late waker misses nothing: called at once if due.
                if !model.queue.is_empty() || model.writer_closed {
                    model.reader_wakes += 1;
                    model.reader_armed = false;
                } else {
                    model.reader_armed = true;
                }
                if model.reader_closed {
                    model.writer_wakes += 1;
                }
            }
            Op::CloseReader => {
                rx.close();
                if !model.reader_closed {
                    model.reader_closed = true;
                    model.writer_wakes += 1;
                }
            }
        }
        let want = model.stats();
        prop_assert_eq!(tx.stats(), want);
        prop_assert_eq!(rx.stats(), want);
        prop_assert_eq!(tx.is_full(), model.full);
        prop_assert_eq!(tx.is_closed(), model.closed());
        prop_assert_eq!(rx.is_empty(), model.queue.is_empty());
        prop_assert_eq!(reader_wakes.load(Ordering::Relaxed), model.reader_wakes);
        prop_assert_eq!(writer_wakes.load(Ordering::Relaxed), model.writer_wakes);
        prop_assert!(model.hwm == 0 || model.queue.len() <= model.hwm);
    }
    came_out.extend(tx.reclaim_unsent());
    prop_assert_eq!(came_out, accepted);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn pipe_matches_model(
        hwm in prop_oneof![Just(0usize), Just(1), 1usize..8],
        lwm in proptest::option::of(0usize..10),
        ops in proptest::collection::vec(op(), 0..200),
        encoded in any::<bool>(),
    ) {
        run(hwm, lwm, ops, encoded)?;
    }
}
