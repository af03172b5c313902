//! A demo worker: a PULL socket on its own thread and port that records the
//! sequence number of every message it reads, and obeys stall, resume, kill
//! and revive orders.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tiermq::{Context, DONTWAIT, Error, PULL, Socket};

use crate::error::{CliError, CliResult, describe};

/// Kernel buffer size for demo connections: small, so a stalled worker's
/// backlog reaches the sender's HWM quickly.
pub(super) const KERNEL_BUF: i32 = 4096;

/// How long a worker waits for a message before looking at its orders.
const POLL_MS: i32 = 10;

/// How long an order may take before the demo gives up on the worker.
const ORDER_TIMEOUT: Duration = Duration::from_secs(10);

/// What the demo tells a worker to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Order {
    /// Stop reading (the socket stays open, so its queue fills).
    Stall,
    /// Read again.
    Resume,
    /// Read what the socket already holds, then close it.
    Kill,
    /// Bind a new socket on the same port.
    Revive,
    /// Read what is left, close, and end the thread.
    Quit,
}

/// A worker's state, as the table shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    /// Reading.
    Running,
    /// Not reading.
    Stalled,
    /// Socket closed.
    Killed,
}

/// What a worker has received; shared with the demo's main thread.
#[derive(Debug)]
pub(super) struct Tally {
    /// Every sequence number read, in order, over all of its lives.
    pub(super) seqs: Vec<u64>,
    /// Messages read since the current socket was bound.
    pub(super) this_life: u64,
    /// Running, stalled or killed.
    pub(super) status: Status,
    /// A receive that failed (not a timeout), which ended the worker.
    pub(super) error: Option<String>,
}

/// The demo's handle on one worker thread.
pub(super) struct Worker {
    /// Its name in the table.
    pub(super) name: &'static str,
    /// The priority the PUSH connects to it with.
    pub(super) tier: u8,
    /// `tcp://127.0.0.1:PORT`, fixed for the demo's life.
    pub(super) endpoint: String,
    orders: Sender<Order>,
    acks: Receiver<Result<(), String>>,
    tally: Arc<Mutex<Tally>>,
    thread: Option<JoinHandle<()>>,
}

fn lock(t: &Mutex<Tally>) -> MutexGuard<'_, Tally> {
    // A worker thread that panicked leaves a usable tally behind.
    t.lock().unwrap_or_else(|e| e.into_inner())
}

/// A PULL socket for a worker, bound on `endpoint`.
fn bind_pull(ctx: &Context, endpoint: &str) -> Result<Socket, String> {
    let s = ctx
        .socket(PULL)
        .map_err(|e| format!("cannot create a PULL socket: {}", describe(e)))?;
    let setup = s
        .set_rcvhwm(10)
        .and_then(|()| s.set_rcvbuf(KERNEL_BUF))
        .and_then(|()| s.set_sndbuf(KERNEL_BUF))
        .and_then(|()| s.set_rcvtimeo(POLL_MS))
        .and_then(|()| s.bind(endpoint));
    setup.map_err(|e| format!("cannot bind to {endpoint}: {}", describe(e)))?;
    Ok(s)
}

impl Worker {
    /// Binds a PULL socket on an ephemeral loopback port and starts the
    /// worker's thread.
    pub(super) fn start(ctx: &Context, name: &'static str, tier: u8) -> CliResult<Worker> {
        let socket = bind_pull(ctx, "tcp://127.0.0.1:0").map_err(CliError::runtime)?;
        let endpoint = socket
            .get_last_endpoint()
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| CliError::runtime("cannot read a worker's bound endpoint"))?;
        let tally = Arc::new(Mutex::new(Tally {
            seqs: Vec::new(),
            this_life: 0,
            status: Status::Running,
            error: None,
        }));
        let (orders, order_rx) = channel();
        let (ack_tx, acks) = channel();
        let job = Job {
            ctx: ctx.clone(),
            endpoint: endpoint.clone(),
            tally: Arc::clone(&tally),
            orders: order_rx,
            acks: ack_tx,
        };
        let thread = thread::Builder::new()
            .name(format!("demo-{name}"))
            .spawn(move || job.run(socket))
            .map_err(|e| CliError::runtime(format!("cannot start a worker thread: {e}")))?;
        Ok(Worker {
            name,
            tier,
            endpoint,
            orders,
            acks,
            tally,
            thread: Some(thread),
        })
    }

    /// Gives an order and waits until it is carried out.
    pub(super) fn order(&self, order: Order) -> CliResult<()> {
        let gone = || CliError::runtime(format!("demo worker {} stopped", self.name));
        self.orders.send(order).map_err(|_| gone())?;
        match self.acks.recv_timeout(ORDER_TIMEOUT) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CliError::runtime(format!("demo worker {}: {e}", self.name))),
            Err(_) => Err(gone()),
        }
    }

    /// How many messages it has read in all.
    pub(super) fn total(&self) -> usize {
        lock(&self.tally).seqs.len()
    }

    /// How many messages its current socket has read.
    pub(super) fn this_life(&self) -> u64 {
        lock(&self.tally).this_life
    }

    /// Running, stalled or killed.
    pub(super) fn status(&self) -> Status {
        lock(&self.tally).status
    }

    /// Ends the thread (after reading what its socket holds) and returns
    /// what it received.
    pub(super) fn finish(mut self) -> CliResult<(Vec<u64>, Option<String>)> {
        let ordered = self.order(Order::Quit);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        ordered?;
        let mut tally = lock(&self.tally);
        Ok((std::mem::take(&mut tally.seqs), tally.error.take()))
    }
}

/// The worker thread's state.
struct Job {
    ctx: Context,
    endpoint: String,
    tally: Arc<Mutex<Tally>>,
    orders: Receiver<Order>,
    acks: Sender<Result<(), String>>,
}

impl Job {
    fn run(self, socket: Socket) {
        let mut socket = Some(socket);
        let mut reading = true;
        loop {
            let order = if reading && socket.is_some() {
                self.orders
                    .try_recv()
                    .map_err(|e| e == TryRecvError::Disconnected)
            } else {
                self.orders
                    .recv_timeout(Duration::from_millis(POLL_MS.unsigned_abs().into()))
                    .map_err(|e| e == RecvTimeoutError::Disconnected)
            };
            match order {
                Ok(order) => {
                    let result = self.obey(order, &mut socket, &mut reading);
                    let quit = order == Order::Quit;
                    if self.acks.send(result).is_err() || quit {
                        return;
                    }
                }
                Err(true) => return,
                Err(false) => {}
            }
            if let (Some(s), true) = (&socket, reading)
                && let Err(e) = self.read(s, 0)
            {
                lock(&self.tally).error = Some(e);
                return;
            }
        }
    }

    fn obey(
        &self,
        order: Order,
        socket: &mut Option<Socket>,
        reading: &mut bool,
    ) -> Result<(), String> {
        match order {
            Order::Stall => {
                *reading = false;
                lock(&self.tally).status = Status::Stalled;
            }
            Order::Resume => {
                *reading = true;
                lock(&self.tally).status = Status::Running;
            }
            Order::Kill | Order::Quit => {
                if let Some(s) = socket.take() {
                    self.read(&s, DONTWAIT)?;
                }
                let mut t = lock(&self.tally);
                t.status = Status::Killed;
                t.this_life = 0;
            }
            Order::Revive => {
                if socket.is_none() {
                    *socket = Some(bind_pull(&self.ctx, &self.endpoint)?);
                    *reading = true;
                    let mut t = lock(&self.tally);
                    t.status = Status::Running;
                    t.this_life = 0;
                }
            }
        }
        Ok(())
    }

    /// Reads every message available now, the first waiting up to the
    /// socket's timeout (none with `DONTWAIT`).
    fn read(&self, s: &Socket, first_flags: i32) -> Result<(), String> {
        let mut flags = first_flags;
        loop {
            match s.recv_bytes(flags) {
                Ok(msg) => {
                    let seq = msg
                        .get(..8)
                        .and_then(|b| <[u8; 8]>::try_from(b).ok())
                        .map(u64::from_be_bytes)
                        .ok_or("a message without a sequence number")?;
                    let mut t = lock(&self.tally);
                    t.seqs.push(seq);
                    t.this_life += 1;
                }
                Err(Error::EAGAIN) => return Ok(()),
                Err(e) => return Err(format!("receive failed: {}", describe(e))),
            }
            flags = DONTWAIT;
        }
    }
}
