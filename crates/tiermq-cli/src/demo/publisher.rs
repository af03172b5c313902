//! A hot-standby demo publisher: a PUB socket on its own thread and port
//! that publishes "NAME SEQ" at a steady rate, and obeys kill and revive
//! orders.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tiermq::{Context, DONTWAIT, PUB, Socket};

use crate::error::{CliError, CliResult, describe};

/// How long an order may take before the demo gives up on the publisher.
const ORDER_TIMEOUT: Duration = Duration::from_secs(10);

/// What the demo tells a publisher to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Order {
    /// Close the socket: its subscribers see a disconnect.
    Kill,
    /// Bind a new socket on the same port.
    Revive,
    /// Close and end the thread.
    Quit,
}

/// The demo's handle on one publisher thread.
pub(super) struct Publisher {
    /// Its name, which starts each of its messages.
    pub(super) name: &'static str,
    /// The priority the subscriber connects to it with.
    pub(super) tier: u8,
    /// `tcp://127.0.0.1:PORT`, fixed for the demo's life.
    pub(super) endpoint: String,
    up: Arc<AtomicBool>,
    orders: Sender<Order>,
    acks: Receiver<Result<(), String>>,
    thread: Option<JoinHandle<()>>,
}

/// A PUB socket bound on `endpoint`; closing it is immediate.
fn bind_pub(ctx: &Context, endpoint: &str) -> Result<Socket, String> {
    let s = ctx
        .socket(PUB)
        .map_err(|e| format!("cannot create a PUB socket: {}", describe(e)))?;
    s.set_linger(0)
        .and_then(|()| s.bind(endpoint))
        .map_err(|e| format!("cannot bind to {endpoint}: {}", describe(e)))?;
    Ok(s)
}

impl Publisher {
    /// Binds a PUB socket on an ephemeral loopback port and starts
    /// publishing `rate` messages a second on a thread.
    pub(super) fn start(
        ctx: &Context,
        name: &'static str,
        tier: u8,
        rate: u32,
    ) -> CliResult<Publisher> {
        let socket = bind_pub(ctx, "tcp://127.0.0.1:0").map_err(CliError::runtime)?;
        let endpoint = socket
            .get_last_endpoint()
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| CliError::runtime("cannot read a publisher's bound endpoint"))?;
        let up = Arc::new(AtomicBool::new(true));
        let (orders, order_rx) = channel();
        let (ack_tx, acks) = channel();
        let job = Job {
            ctx: ctx.clone(),
            name,
            endpoint: endpoint.clone(),
            gap: Duration::from_secs(1) / rate.max(1),
            up: Arc::clone(&up),
            orders: order_rx,
            acks: ack_tx,
        };
        let thread = thread::Builder::new()
            .name(format!("demo-{name}"))
            .spawn(move || job.run(socket))
            .map_err(|e| CliError::runtime(format!("cannot start a publisher thread: {e}")))?;
        Ok(Publisher {
            name,
            tier,
            endpoint,
            up,
            orders,
            acks,
            thread: Some(thread),
        })
    }

    /// Gives an order and waits until it is carried out.
    pub(super) fn order(&self, order: Order) -> CliResult<()> {
        let gone = || CliError::runtime(format!("demo publisher {} stopped", self.name));
        self.orders.send(order).map_err(|_| gone())?;
        match self.acks.recv_timeout(ORDER_TIMEOUT) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CliError::runtime(format!(
                "demo publisher {}: {e}",
                self.name
            ))),
            Err(_) => Err(gone()),
        }
    }

    /// Whether its socket is open.
    pub(super) fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Closes the socket and ends the thread.
    pub(super) fn finish(mut self) -> CliResult<()> {
        let ordered = self.order(Order::Quit);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        ordered
    }
}

/// The publisher thread's state.
struct Job {
    ctx: Context,
    name: &'static str,
    endpoint: String,
    gap: Duration,
    up: Arc<AtomicBool>,
    orders: Receiver<Order>,
    acks: Sender<Result<(), String>>,
}

impl Job {
    fn run(self, socket: Socket) {
        let mut socket = Some(socket);
        let mut seq = 0u64;
        let mut next = Instant::now();
        loop {
            let wait = next.saturating_duration_since(Instant::now());
            match self.orders.recv_timeout(wait) {
                Ok(order) => {
                    let result = self.obey(order, &mut socket);
                    if self.acks.send(result).is_err() || order == Order::Quit {
                        return;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(s) = &socket {
                        // A PUB drops what no subscriber can take; it never blocks.
                        let _ = s.send(format!("{} {seq}", self.name).as_bytes(), DONTWAIT);
                        seq += 1;
                    }
                    next += self.gap;
                    // After a pause, go on at the rate rather than in a burst.
                    if let Some(floor) = Instant::now().checked_sub(self.gap) {
                        next = next.max(floor);
                    }
                }
            }
        }
    }

    fn obey(&self, order: Order, socket: &mut Option<Socket>) -> Result<(), String> {
        match order {
            Order::Kill | Order::Quit => {
                socket.take();
                self.up.store(false, Ordering::Relaxed);
            }
            Order::Revive => {
                if socket.is_none() {
                    *socket = Some(bind_pub(&self.ctx, &self.endpoint)?);
                    self.up.store(true, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }
}
