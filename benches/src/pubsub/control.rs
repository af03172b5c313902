//! The control link between the `sub` and `pub` processes: readiness,
//! credit and the end of a run, as fixed 13-byte frames on loopback TCP.
//!
//! A frame is a tag byte, a subscriber index (u32, little-endian) and a
//! value (u64, little-endian). Only the subscriber process writes.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::{Error, RECV_TIMEOUT, Spec};

const FRAME: usize = 13;
/// Every socket has seen a warm-up message: start publishing data. The
/// value is the number of sockets.
const READY: u8 = 1;
/// The most sockets a READY frame may announce (a bound on what the reader
/// allocates for a claim).
const MAX_SUBS: usize = 4096;
/// Socket `index` has received `value` data messages.
const PROGRESS: u8 = 2;
/// Every socket has seen the end marker.
const DONE: u8 = 3;

/// How long the publisher waits for credit before it assumes messages
/// were lost (its window would never reopen) and moves on by a window.
pub const STALL: Duration = Duration::from_millis(250);

/// After this many stalls the library is losing messages for good: the
/// publisher stops waiting for credit at all, and the run ends with its
/// losses counted instead of taking seconds per window.
pub const MAX_STALLS: u64 = 3;

/// The publisher's end of the control link, before the subscriber
/// process has connected.
pub struct ControlListener {
    listener: TcpListener,
    addr: SocketAddr,
}

impl ControlListener {
    /// Listens on a fresh loopback port.
    ///
    /// Errors: the operating system's.
    pub fn bind() -> Result<ControlListener, Error> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        Ok(ControlListener { listener, addr })
    }

    /// The address the `sub` role gets as `--control`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits (up to [`RECV_TIMEOUT`]) for the subscriber process and starts
    /// reading its frames on a thread of their own. `wake` is called
    /// whenever the credit changes, after the condition variable that
    /// [`Credit::wait`] uses is notified (the async libraries pass a
    /// `Notify`).
    ///
    /// Errors: a timeout or the operating system's.
    pub fn accept(
        self,
        spec: &Spec,
        wake: Option<Box<dyn Fn() + Send + Sync>>,
    ) -> Result<Arc<Credit>, Error> {
        self.listener.set_nonblocking(true)?;
        let deadline = Instant::now() + RECV_TIMEOUT;
        let stream = loop {
            match self.listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(Error::timeout("the subscriber's control link"));
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => return Err(e.into()),
            }
        };
        stream.set_nonblocking(false)?;
        let credit = Arc::new(Credit {
            window: crate::pubsub::window(spec),
            limit: AtomicU64::new(crate::pubsub::window(spec)),
            ready: AtomicBool::new(false),
            done: AtomicBool::new(false),
            stalls: AtomicU64::new(0),
            lock: Mutex::new(()),
            changed: Condvar::new(),
            wake: OnceLock::new(),
        });
        if let Some(wake) = wake {
            let _ = credit.wake.set(wake);
        }
        let reader = Arc::clone(&credit);
        std::thread::spawn(move || reader.read(stream));
        Ok(credit)
    }
}

/// What the publisher knows of its subscribers: whether all are ready, how
/// far it may publish, and whether all have seen the end.
pub struct Credit {
    window: u64,
    /// Data messages the publisher may have sent so far.
    limit: AtomicU64,
    ready: AtomicBool,
    done: AtomicBool,
    stalls: AtomicU64,
    lock: Mutex<()>,
    changed: Condvar,
    wake: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl Credit {
    /// Whether every SUB has seen a warm-up message.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Whether every SUB has seen the end marker (or the link closed).
    pub fn done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Whether data message `seq` (from 0) may go out now.
    pub fn allows(&self, seq: u64) -> bool {
        seq < self.limit.load(Ordering::Acquire)
    }

    /// Times the publisher waited [`STALL`] for credit in vain.
    pub fn stalls(&self) -> u64 {
        self.stalls.load(Ordering::Relaxed)
    }

    /// Blocks until data message `seq` may go out, or [`STALL`] passes (then
    /// the window moves on by itself).
    pub fn wait(&self, seq: u64) {
        if self.allows(seq) {
            return;
        }
        let deadline = Instant::now() + STALL;
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        while !self.allows(seq) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.stall(seq);
                return;
            }
            guard = self
                .changed
                .wait_timeout(guard, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// After a [`STALL`]: messages were probably dropped, so the slowest
    /// count will never catch up; open the window from `seq` (or for good
    /// after [`MAX_STALLS`]).
    pub fn stall(&self, seq: u64) {
        let stalls = self.stalls.fetch_add(1, Ordering::Relaxed) + 1;
        let limit = if stalls >= MAX_STALLS {
            u64::MAX
        } else {
            seq + self.window
        };
        self.limit.fetch_max(limit, Ordering::AcqRel);
    }

    fn notify(&self) {
        drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
        self.changed.notify_all();
        if let Some(wake) = self.wake.get() {
            wake();
        }
    }

    /// The reader thread: applies frames until the link closes, which also
    /// releases a publisher waiting for credit or for the end.
    fn read(&self, mut stream: TcpStream) {
        let mut progress = vec![0u64; 1];
        let mut frame = [0u8; FRAME];
        while stream.read_exact(&mut frame).is_ok() {
            let mut index = [0u8; 4];
            index.copy_from_slice(&frame[1..5]);
            let mut value = [0u8; 8];
            value.copy_from_slice(&frame[5..]);
            let (index, value) = (u32::from_le_bytes(index), u64::from_le_bytes(value));
            match frame[0] {
                READY => {
                    let subs = usize::try_from(value)
                        .unwrap_or(MAX_SUBS)
                        .clamp(1, MAX_SUBS);
                    progress.resize(subs, 0);
                    self.ready.store(true, Ordering::Release);
                }
                DONE => self.done.store(true, Ordering::Release),
                PROGRESS => {
                    let Some(slot) = usize::try_from(index)
                        .ok()
                        .and_then(|i| progress.get_mut(i))
                    else {
                        continue;
                    };
                    *slot = (*slot).max(value);
                    let slowest = progress.iter().copied().min().unwrap_or(0);
                    self.limit
                        .fetch_max(slowest.saturating_add(self.window), Ordering::AcqRel);
                }
                _ => continue,
            }
            self.notify();
        }
        self.limit.store(u64::MAX, Ordering::Release);
        self.ready.store(true, Ordering::Release);
        self.done.store(true, Ordering::Release);
        self.notify();
    }
}

/// The subscriber process's end of the control link, shared by its sockets.
pub struct Fanout {
    stream: Mutex<TcpStream>,
    subs: usize,
    warmed: AtomicUsize,
    /// Report progress every this many data messages per socket.
    pub(crate) report_every: u64,
    /// Data messages each socket should get: `count + 1`.
    pub(crate) expected: u64,
}

impl Fanout {
    /// Connects to the publisher's control link at `addr`.
    ///
    /// Errors: the operating system's.
    pub fn connect(addr: &str, spec: &Spec) -> Result<Fanout, Error> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Fanout {
            stream: Mutex::new(stream),
            subs: spec.subs,
            warmed: AtomicUsize::new(0),
            report_every: (crate::pubsub::window(spec) / 4).max(1),
            expected: spec.count + 1,
        })
    }

    fn send(&self, tag: u8, index: u32, value: u64) -> Result<(), Error> {
        let mut frame = [0u8; FRAME];
        frame[0] = tag;
        frame[1..5].copy_from_slice(&index.to_le_bytes());
        frame[5..].copy_from_slice(&value.to_le_bytes());
        let mut stream = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        Ok(stream.write_all(&frame)?)
    }

    /// One more socket has seen a warm-up message; the last one tells the
    /// publisher to start.
    pub(crate) fn warmed_one(&self) -> Result<(), Error> {
        if self.warmed.fetch_add(1, Ordering::AcqRel) + 1 == self.subs {
            self.send(READY, 0, self.subs as u64)?;
        }
        Ok(())
    }

    /// Socket `index` has received `received` data messages.
    pub(crate) fn progress(&self, index: u32, received: u64) -> Result<(), Error> {
        self.send(PROGRESS, index, received)
    }

    /// Every socket has seen the end marker: the publisher may stop.
    ///
    /// Errors: the operating system's.
    pub fn done(&self) -> Result<(), Error> {
        self.send(DONE, 0, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls `cond` until it holds (a generous limit, not a timed assertion).
    fn eventually(what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "never: {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn credit_follows_the_slowest_subscriber_and_the_end() {
        let spec = Spec::parse([
            "sub",
            "libzmq",
            "tcp",
            "16",
            "100",
            "--endpoint",
            "tcp://127.0.0.1:1",
            "--control",
            "unused",
            "--subs",
            "2",
            "--hwm",
            "40",
        ])
        .unwrap();
        assert_eq!(crate::pubsub::window(&spec), 10);
        let listener = ControlListener::bind().unwrap();
        let addr = listener.addr().to_string();
        let fanout = std::thread::spawn({
            let spec = spec.clone();
            move || Fanout::connect(&addr, &spec).unwrap()
        });
        let credit = listener.accept(&spec, None).unwrap();
        let fanout = fanout.join().unwrap();
        assert!(credit.allows(9) && !credit.allows(10));
        assert!(!credit.ready());

        fanout.warmed_one().unwrap();
        fanout.warmed_one().unwrap();
        eventually("ready after both SUBs warmed", || credit.ready());

        fanout.progress(0, 5).unwrap();
        // An index the READY frame did not announce is ignored.
        fanout.progress(7, 1000).unwrap();
        fanout.progress(1, 3).unwrap();
        eventually("the window moves with the slowest SUB", || {
            credit.allows(12)
        });
        assert!(!credit.allows(13), "SUB 1 at 3 holds the window at 13");
        assert!(!credit.done());

        fanout.done().unwrap();
        eventually("done", || credit.done());
        drop(fanout);
        eventually("a closed link releases the publisher", || {
            credit.allows(u64::MAX - 1)
        });
    }

    #[test]
    fn a_stall_opens_the_window_and_three_open_it_for_good() {
        let spec = Spec::parse(["pub", "libzmq", "tcp", "16", "100", "--hwm", "40"]).unwrap();
        let listener = ControlListener::bind().unwrap();
        let addr = listener.addr();
        let peer = std::thread::spawn(move || TcpStream::connect(addr).unwrap());
        let credit = listener.accept(&spec, None).unwrap();
        // Held open: a closed link would open the window by itself.
        let _peer = peer.join().unwrap();
        credit.stall(10);
        assert!(credit.allows(19) && !credit.allows(20));
        credit.stall(20);
        credit.stall(30);
        assert!(credit.allows(u64::MAX - 1));
        assert_eq!(credit.stalls(), 3);
    }
}
