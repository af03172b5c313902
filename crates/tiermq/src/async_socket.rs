//! `AsyncSocket`: a socket's async face. Whole multipart messages go in
//! and out through futures ([`AsyncSocket::send`], [`AsyncSocket::recv`]),
//! a [`Stream`] and a [`Sink`], on any runtime: tasks are woken by the
//! socket itself (see `async_wake`). With the `tokio` feature, inside a
//! tokio runtime, the reactor also watches the socket's connections and
//! the woken task reads them itself (see `reactor_watch`).
//!
//! Each poll takes the socket's core once when it can complete, and
//! registers the task (then checks once more) when it cannot; it never
//! waits. Cancellation is safe because a message changes hands only inside
//! the poll that returns it: a received message is taken from the core in
//! the poll that returns `Ready`, and a message to send goes to the core
//! whole, in one call, or stays in the future.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use tiermq_wire::Multipart;

use crate::async_timer::{TimerSlot, cancel, wake_at};
use crate::async_wake::WakerKey;
use crate::core::{Core, Pattern, Refused};
use crate::reactor_watch::ReactorWatch;
use crate::shared::Shared;
use crate::{Error, Message, Result, Socket};

/// A [`Socket`] used from async code: `send(msg).await`, `recv().await`,
/// a [`Stream`] of received messages and a [`Sink`] of messages to send,
/// each message whole (every frame of a multipart message).
///
/// It works on any executor (tokio, smol, async-std, a hand-written one):
/// the socket wakes the waiting task itself. With the crate's `tokio`
/// feature, in a tokio runtime, the runtime's reactor watches the socket's
/// connections and the task reads them itself: one wake-up per hop, as a
/// blocked sync call, instead of two. Through `Deref` the socket's
/// other methods (`bind`, `connect`, options, `peers`, …) stay at hand.
///
/// # Cancellation
///
/// Dropping a [`recv`](AsyncSocket::recv) future (or a `Stream::next`)
/// before it completes loses no message: the next receive gets it. Dropping
/// a [`send`](AsyncSocket::send) future before it completes has sent the
/// message whole or not at all (never some of its frames).
///
/// # Backpressure
///
/// A send waits while no peer can take the message, as a blocking send
/// does: while every ready peer of the active tier has reached SNDHWM (and
/// the socket-level queue, where there is one, is full). The sink's
/// `poll_ready` is pending for as long, and wakes when a peer drains to
/// its low-water mark, a peer arrives, or a failback delay ends.
///
/// # Timeouts
///
/// SNDTIMEO and RCVTIMEO do not apply: wrap a future in your runtime's
/// timeout instead (cancelling it is safe, see above).
///
/// ```
/// use tiermq::{AsyncSocket, Context, PULL, PUSH};
///
/// # fn main() -> tiermq::Result<()> {
/// # let run = async {
/// let ctx = Context::new();
/// let mut push = AsyncSocket::new(ctx.socket(PUSH)?);
/// push.bind("inproc://jobs")?;
/// let mut pull = AsyncSocket::new(ctx.socket(PULL)?);
/// pull.connect("inproc://jobs")?;
///
/// push.send(["job", "42"]).await?;
/// let msg = pull.recv().await?;
/// assert_eq!(msg.len(), 2);
/// assert_eq!(msg[1].as_str(), Some("42"));
/// # Ok::<(), tiermq::Error>(())
/// # };
/// # smol::block_on(run)
/// # }
/// ```
///
/// Like the socket, it is `Send` and not `Sync`; its methods take
/// `&mut self`, so their futures are `Send` and can be spawned.
pub struct AsyncSocket {
    socket: Socket,
    waits: Waits,
    /// A message the sink accepted that no peer could take yet.
    unsent: Option<Outgoing>,
    /// The socket poll in the runtime's reactor, once made.
    watch: Option<ReactorWatch>,
}

impl std::fmt::Debug for AsyncSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncSocket")
            .field("socket", &self.socket)
            .field("unsent", &self.unsent.is_some())
            .finish_non_exhaustive()
    }
}

/// The socket's registrations of this handle's tasks (and their timer
/// slots), removed when it goes.
struct Waits {
    shared: Arc<Shared>,
    recv: Wait,
    send: Wait,
}

/// One direction's registration with the socket, and its timer slot.
#[derive(Default)]
struct Wait {
    task: WakerKey,
    timer: TimerSlot,
}

impl Drop for Waits {
    fn drop(&mut self) {
        self.deregister(Way::Recv);
        self.deregister(Way::Send);
    }
}

/// Which way a task waits.
#[derive(Clone, Copy)]
enum Way {
    Recv,
    Send,
}

impl Waits {
    fn wait(&mut self, way: Way) -> (&Shared, &mut Wait) {
        let Waits { shared, recv, send } = self;
        let wait = match way {
            Way::Recv => recv,
            Way::Send => send,
        };
        (shared, wait)
    }

    /// Registers the task for a change of the socket's state. With
    /// `give_back`, a lent socket poll goes back to the I/O thread, which
    /// then serves the connections while the task waits; without, the
    /// task serves them itself (its runtime's reactor watches the poll).
    fn register(&mut self, way: Way, cx: &Context<'_>, give_back: bool) {
        let (shared, wait) = self.wait(way);
        shared.wakers.register(&mut wait.task, cx.waker());
        if give_back {
            shared.give_back_poll();
        }
    }

    /// Wakes the task at `at` too: a timer of the core is due then.
    fn wake_at(&mut self, way: Way, at: Option<std::time::Instant>, cx: &Context<'_>) {
        let slot = &mut self.wait(way).1.timer;
        match at {
            Some(at) => wake_at(slot, at, cx.waker()),
            // The timer was cancelled (a pipe became ready first).
            None => cancel(slot),
        }
    }

    fn deregister(&mut self, way: Way) {
        let (shared, wait) = self.wait(way);
        shared.wakers.deregister(&mut wait.task);
        cancel(&mut wait.timer);
    }

    /// A pending wait ends without completing (its future was dropped):
    /// the task will not come back to take the core, so events it was
    /// woken for are applied now rather than at the next call.
    fn abandon(&mut self, way: Way) {
        self.deregister(way);
        self.shared.with_core(|_| ());
    }
}

/// A message on its way to the core.
#[derive(Debug)]
struct Outgoing {
    msg: Multipart,
    /// The socket's state machine accepted it (REQ, REP, ROUTER_MANDATORY):
    /// checked once, on the first attempt, as a blocking send does.
    checked: bool,
}

impl Outgoing {
    fn new<I, T>(msg: I) -> Outgoing
    where
        I: IntoIterator<Item = T>,
        T: Into<Message>,
    {
        Outgoing {
            msg: msg.into_iter().map(|m| m.into().into_bytes()).collect(),
            checked: false,
        }
    }

    /// Hands the message to the core if a peer can take it now; else
    /// gives it back, with the instant a timer of the core is due.
    fn attempt(
        mut self,
        c: &mut Core,
    ) -> Result<std::result::Result<(), (Outgoing, Option<std::time::Instant>)>> {
        let now = c.send_clock();
        if !self.checked {
            if !c.tx_partial.is_empty() {
                // Frames sent with SNDMORE begin this message.
                let mut whole = std::mem::take(&mut c.tx_partial);
                self.msg.into_iter().for_each(|f| whole.push(f));
                self.msg = whole;
            } else if let Some(first) = self.msg.frames().first() {
                c.check_send(first)?;
            }
            self.checked = true;
        }
        let r = match c.send(self.msg, now) {
            // Full pipes written out on this thread make room without a
            // wake-up: try once more (see `Core::drive_full_outputs`).
            Err(Refused::Wait(msg)) if c.drive_full_outputs() => c.send(msg, now),
            r => r,
        };
        match r {
            Ok(()) => Ok(Ok(())),
            Err(Refused::Fail(e)) => Err(e),
            Err(Refused::Wait(msg)) => {
                self.msg = msg;
                Ok(Err((self, c.next_timer())))
            }
        }
    }
}

impl AsyncSocket {
    /// Wraps `socket` for async use (see [`Socket::into_async`]).
    pub fn new(socket: Socket) -> AsyncSocket {
        AsyncSocket {
            waits: Waits {
                shared: Arc::clone(socket.shared()),
                recv: Wait::default(),
                send: Wait::default(),
            },
            socket,
            unsent: None,
            watch: None,
        }
    }

    /// The socket, for its synchronous methods.
    pub fn get_ref(&self) -> &Socket {
        &self.socket
    }

    /// The socket back. A message the [`Sink`] accepted but could not
    /// hand to a peer yet is dropped: flush the sink first.
    pub fn into_inner(self) -> Socket {
        self.socket
    }

    /// Receives the next message, every frame of it, waiting as long as
    /// it takes. Messages waiting on a more preferred peer come first
    /// (rcvprio), as with [`Socket::recv_msg`]; each frame of a message
    /// from a tcp or ipc peer carries its properties ([`Message::gets`]).
    /// If a synchronous receive took the first frames of a message, this
    /// returns the rest of it.
    ///
    /// Cancel-safe: a message is taken only by the poll that returns it.
    ///
    /// Errors: `ENOTSUP` on a socket that does not receive; `EFSM` for a
    /// REQ with no request sent, or a REP owing a reply; `ETERM` once the
    /// context is destroyed.
    pub fn recv(&mut self) -> RecvMessage<'_> {
        RecvMessage {
            socket: self,
            waiting: false,
        }
    }

    /// Sends `msg` (each item one frame) as one message, waiting while no
    /// peer can take it (see the type's "Backpressure"). The peer is
    /// chosen as a blocking send chooses it (SPEC §4).
    ///
    /// Cancel-safe: dropped before it completes, the future has handed the
    /// whole message to the socket or none of it. A message with no
    /// frames sends nothing. If frames were sent with
    /// [`SNDMORE`](crate::SNDMORE) on the socket, they begin this message.
    ///
    /// Errors: as [`Socket::send`], without `EAGAIN`.
    pub fn send<I, T>(&mut self, msg: I) -> SendMessage<'_>
    where
        I: IntoIterator<Item = T>,
        T: Into<Message>,
    {
        SendMessage {
            socket: self,
            msg: Some(Outgoing::new(msg)),
            waiting: false,
        }
    }

    /// The poll behind [`recv`](AsyncSocket::recv) and the [`Stream`]:
    /// `Ready` with the next message, or `Pending` with the task
    /// registered to be woken when the socket's state changes.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Vec<Message>>> {
        let r = self.try_recv(cx);
        if r.is_ready() {
            self.waits.deregister(Way::Recv);
        }
        r
    }

    fn try_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Vec<Message>>> {
        self.check_live()?;
        if let Some(msg) = self.socket.shared().with_core(take_message)? {
            return Poll::Ready(Ok(msg));
        }
        loop {
            let watched = self.watch();
            if watched {
                // The task reads its connections itself (features `tokio`,
                // `async-io`).
                self.serve_watched();
            }
            // Registered first, so that a message arriving after the check
            // below wakes this task. A watched socket poll stays lent.
            self.waits.register(Way::Recv, cx, !watched);
            let (msg, timer) = self
                .socket
                .shared()
                .with_core(|c| Ok::<_, Error>((take_message(c)?, c.next_timer())))?;
            if let Some(msg) = msg {
                return Poll::Ready(Ok(msg));
            }
            self.waits.wake_at(Way::Recv, timer, cx);
            if !watched || !self.readable_again(cx) {
                return Poll::Pending;
            }
        }
    }

    /// Whether the runtime's reactor watches the socket poll: made on the
    /// first call once the socket has one (see `reactor_watch`; never
    /// without the `tokio` or `async-io` feature).
    fn watch(&mut self) -> bool {
        if !ReactorWatch::BUILT {
            return false;
        }
        if self.watch.is_none() {
            self.watch = self
                .socket
                .shared()
                .shared_poll()
                .and_then(ReactorWatch::new);
        }
        self.watch.is_some()
    }

    fn serve_watched(&self) {
        if let Some(watch) = &self.watch {
            watch.serve();
        }
    }

    /// Whether the reactor saw the socket poll become readable since the
    /// last serve (then serve again); if not, the task is registered with
    /// the reactor for it. A failed watch is dropped and the socket poll
    /// goes back to the I/O thread.
    fn readable_again(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(watch) = &self.watch else {
            return false;
        };
        match watch.poll_readable(cx) {
            Poll::Ready(true) => true,
            Poll::Ready(false) => {
                self.watch = None;
                self.socket.shared().give_back_poll();
                false
            }
            Poll::Pending => false,
        }
    }

    /// Hands the message in `slot` to the core, or keeps it there and
    /// registers the task while no peer can take it.
    fn poll_outgoing(
        &mut self,
        cx: &mut Context<'_>,
        slot: &mut Option<Outgoing>,
    ) -> Poll<Result<()>> {
        let r = self.try_outgoing(cx, slot);
        if r.is_ready() {
            self.waits.deregister(Way::Send);
        }
        r
    }

    fn try_outgoing(
        &mut self,
        cx: &mut Context<'_>,
        slot: &mut Option<Outgoing>,
    ) -> Poll<Result<()>> {
        let Some(out) = slot.take().filter(|o| !o.msg.is_empty()) else {
            return Poll::Ready(Ok(()));
        };
        if let Err(e) = self.check_live() {
            *slot = Some(out);
            return Poll::Ready(Err(e));
        }
        let out = match self.socket.shared().with_core(|c| out.attempt(c))? {
            Ok(()) => return Poll::Ready(Ok(())),
            Err((out, _)) => out,
        };
        self.waits.register(Way::Send, cx, true);
        match self.socket.shared().with_core(|c| out.attempt(c))? {
            Ok(()) => Poll::Ready(Ok(())),
            Err((out, timer)) => {
                *slot = Some(out);
                self.waits.wake_at(Way::Send, timer, cx);
                Poll::Pending
            }
        }
    }

    /// The sink's `poll_ready`, once no message waits in it.
    fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let r = self.try_room(cx);
        if r.is_ready() {
            self.waits.deregister(Way::Send);
        }
        r
    }

    fn try_room(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.check_live()?;
        if self.send_readiness()?.0 {
            return Poll::Ready(Ok(()));
        }
        self.waits.register(Way::Send, cx, true);
        let (ready, timer) = self.send_readiness()?;
        if ready {
            return Poll::Ready(Ok(()));
        }
        self.waits.wake_at(Way::Send, timer, cx);
        Poll::Pending
    }

    /// Whether a message sent now would be taken (`Ok(true)`), must wait
    /// (`Ok(false)`), or is refused by the socket's state.
    fn send_readiness(&self) -> Result<(bool, Option<std::time::Instant>)> {
        self.socket.shared().with_core(|c| {
            if !c.sends() {
                return Err(Error::ENOTSUP);
            }
            let now = c.send_clock();
            if c.can_send(now) {
                return Ok((true, None));
            }
            // REQ awaiting its reply and REP with no request refuse a
            // send rather than wait: say so now.
            if matches!(c.pattern, Pattern::Req | Pattern::Rep) && c.tx_partial.is_empty() {
                c.check_send(&Bytes::new())?;
            }
            Ok((false, c.next_timer()))
        })
    }

    fn check_live(&self) -> Result<()> {
        if self.socket.context().is_terminated() {
            Err(Error::ETERM)
        } else if self.socket.shared().is_failed() {
            Err(Error::ENOTSOCK)
        } else {
            Ok(())
        }
    }
}

/// Takes every frame of the next message, in one call into the core.
fn take_message(c: &mut Core) -> Result<Option<Vec<Message>>> {
    c.check_recv()?;
    let Some((first, mut more)) = c.recv_frame() else {
        return Ok(None);
    };
    let props = c.rx_props();
    let mut msg = Vec::with_capacity(1);
    let mut frame = first;
    // The last frame takes the properties themselves: one `Arc` clone per
    // frame before it, none for a single-frame message.
    while more {
        msg.push(Message::received(frame, true, props.clone()));
        // The rest of a message waits in the core once its first frame
        // was taken.
        let Some((next, m)) = c.recv_frame() else {
            return Ok(Some(msg));
        };
        (frame, more) = (next, m);
    }
    msg.push(Message::received(frame, false, props));
    Ok(Some(msg))
}

impl Deref for AsyncSocket {
    type Target = Socket;

    fn deref(&self) -> &Socket {
        &self.socket
    }
}

impl From<Socket> for AsyncSocket {
    fn from(socket: Socket) -> AsyncSocket {
        AsyncSocket::new(socket)
    }
}

impl Socket {
    /// This socket for async code: see [`AsyncSocket`].
    pub fn into_async(self) -> AsyncSocket {
        AsyncSocket::new(self)
    }
}

/// The future of [`AsyncSocket::recv`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct RecvMessage<'a> {
    socket: &'a mut AsyncSocket,
    waiting: bool,
}

impl Future for RecvMessage<'_> {
    type Output = Result<Vec<Message>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let r = self.socket.poll_recv(cx);
        self.waiting = r.is_pending();
        r
    }
}

impl Drop for RecvMessage<'_> {
    fn drop(&mut self) {
        if self.waiting {
            self.socket.waits.abandon(Way::Recv);
        }
    }
}

/// The future of [`AsyncSocket::send`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct SendMessage<'a> {
    socket: &'a mut AsyncSocket,
    msg: Option<Outgoing>,
    waiting: bool,
}

impl Future for SendMessage<'_> {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let r = this.socket.poll_outgoing(cx, &mut this.msg);
        this.waiting = r.is_pending();
        r
    }
}

impl Drop for SendMessage<'_> {
    fn drop(&mut self) {
        if self.waiting {
            self.socket.waits.abandon(Way::Send);
        }
    }
}

/// Received messages, each whole. The stream ends once the socket can no
/// longer receive (`ETERM` after the context was destroyed, or a failed
/// socket); other errors (`EFSM`, `ENOTSUP`) are items.
impl Stream for AsyncSocket {
    type Item = Result<Vec<Message>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut().poll_recv(cx) {
            Poll::Ready(Err(Error::ETERM | Error::ENOTSOCK)) => Poll::Ready(None),
            Poll::Ready(r) => Poll::Ready(Some(r)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Messages to send, each an iterator of frames. `poll_ready` waits while
/// no peer can take a message (see the type's "Backpressure"), and fails
/// at once where the socket's state refuses a send (`EFSM` for a REQ
/// awaiting its reply). `start_send` hands the message to a peer at once,
/// or keeps it (one message) until `poll_flush` or the next `poll_ready`
/// can.
impl<I, T> Sink<I> for AsyncSocket
where
    I: IntoIterator<Item = T>,
    T: Into<Message>,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        if this.unsent.is_some() {
            let mut slot = this.unsent.take();
            let r = this.poll_outgoing(cx, &mut slot);
            this.unsent = slot;
            match r {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {}
            }
        }
        this.poll_room(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: I) -> Result<()> {
        let this = self.get_mut();
        this.check_live()?;
        let out = Outgoing::new(item);
        if out.msg.is_empty() {
            return Ok(());
        }
        if let Err((out, _)) = this.socket.shared().with_core(|c| out.attempt(c))? {
            this.unsent = Some(out);
        }
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        let mut slot = this.unsent.take();
        let r = this.poll_outgoing(cx, &mut slot);
        this.unsent = slot;
        r
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        <Self as Sink<I>>::poll_flush(self, cx)
    }
}
