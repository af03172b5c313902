//! A socket's own poll (`SocketPoll`): a caller that leads it reads and
//! writes its connections on its own thread, and while nobody leads, the
//! I/O thread still serves them.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use common::*;
use tiermq_transport::{Lead, Reactor};
use tiermq_wire::SocketType;

/// Counts the in pipe's wake-ups by the thread that delivered the message.
#[derive(Default)]
struct WhoDelivered {
    io_thread: AtomicUsize,
    caller: AtomicUsize,
}

impl tiermq_pipe::Wake for WhoDelivered {
    fn wake(&self) {
        if tiermq_transport::on_io_thread() {
            self.io_thread.fetch_add(1, Ordering::SeqCst);
        } else {
            self.caller.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A PULL whose links use a socket poll, and a PUSH on another reactor.
fn pair(
    endpoint: &str,
) -> (
    Reactor,
    Reactor,
    Arc<tiermq_transport::SocketPoll>,
    Attached,
    Attached,
) {
    let (a, b) = (
        Reactor::spawn("leader-pull").unwrap(),
        Reactor::spawn("leader-push").unwrap(),
    );
    let poll = a.socket_poll().unwrap();
    let mut pull_opts = opts(SocketType::Pull);
    pull_opts.socket_poll = Some(Arc::clone(&poll));
    let (pull_sink, pull_rx) = sink();
    let (push_sink, push_rx) = sink();
    let (_, bound) = a.bind(&ep(endpoint), pull_opts, pull_sink).unwrap();
    b.connect(&ep(&bound), opts(SocketType::Push), push_sink)
        .unwrap();
    let push = attached(&push_rx);
    let pull = attached(&pull_rx);
    (a, b, poll, push, pull)
}

/// Sends 50 messages one at a time and takes each from the in pipe,
/// calling `before_send` first and `wait` (with the deadline) while it has
/// not arrived; then checks that the caller's thread delivered most of
/// them (`who`: the leader or the watcher). The I/O thread may serve a
/// message that arrives while the caller is not serving.
fn caller_delivers_most(
    push: &Attached,
    pull: &Attached,
    who: &str,
    mut before_send: impl FnMut(),
    mut wait: impl FnMut(Instant),
) {
    let delivered = Arc::new(WhoDelivered::default());
    for seq in 0..50 {
        pull.inp
            .set_waker(Some(Arc::clone(&delivered) as Arc<dyn tiermq_pipe::Wake>));
        before_send();
        send(&push.out, seq_msg(seq));
        let end = Instant::now() + BOUND;
        let msg = loop {
            if let Ok(item) = pull.inp.try_recv() {
                break item.into_message().unwrap();
            }
            assert!(Instant::now() < end, "message {seq} never arrived");
            wait(end);
        };
        assert_eq!(seq_of(&msg), seq);
    }
    let caller = delivered.caller.load(Ordering::SeqCst);
    assert!(
        caller > 25,
        "the {who} delivered only {caller} of 50 messages (I/O thread: {})",
        delivered.io_thread.load(Ordering::SeqCst)
    );
}

fn leads_and_reads_on_its_own_thread(endpoint: &str) {
    let (a, b, poll, push, pull) = pair(endpoint);
    caller_delivers_most(
        &push,
        &pull,
        "leader",
        || {},
        |end| {
            // Leads unless the I/O thread is draining the poll right now.
            if poll.lead(Some(end), || pull.inp.is_empty()) == Lead::Busy {
                std::thread::yield_now();
            }
        },
    );
    a.shutdown();
    b.shutdown();
}

#[test]
fn a_leader_reads_tcp_on_its_own_thread() {
    leads_and_reads_on_its_own_thread("tcp://127.0.0.1:0");
}

#[test]
fn a_leader_reads_ipc_on_its_own_thread() {
    leads_and_reads_on_its_own_thread("ipc://*");
}

#[test]
fn without_a_leader_the_io_thread_serves_the_socket_poll() {
    let (a, b, _poll, push, pull) = pair("tcp://127.0.0.1:0");
    for seq in 0..100 {
        send(&push.out, seq_msg(seq));
        assert_eq!(seq_of(&recv(&pull.inp)), seq);
    }
    a.shutdown();
    b.shutdown();
}

#[test]
fn a_wake_ends_a_leaders_wait() {
    let (a, b, poll, _push, _pull) = pair("tcp://127.0.0.1:0");
    let woke = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (waker, flag) = (Arc::clone(&poll), Arc::clone(&woke));
    let t = std::thread::spawn(move || {
        while !waker.is_leading() {
            std::thread::yield_now();
        }
        // Let the leader settle into its wait (not a timing assertion: a
        // shorter pause only tests less).
        std::thread::sleep(std::time::Duration::from_millis(50));
        flag.store(true, Ordering::SeqCst);
        waker.wake_leader();
    });
    // Nothing else happens on the connection: only the wake ends a wait
    // before the bound.
    let end = Instant::now() + BOUND;
    while !woke.load(Ordering::SeqCst) {
        poll.lead(Some(end), || true);
        assert!(Instant::now() < end, "wake_leader did not end the wait");
    }
    t.join().unwrap();
    a.shutdown();
    b.shutdown();
}

#[test]
fn a_lent_poll_goes_back_to_the_io_thread() {
    let (a, b, poll, push, pull) = pair("tcp://127.0.0.1:0");
    // Lead once (nothing to read, so the wait ends at once): the poll is
    // now lent to the callers, out of the reactor's.
    poll.lead(Some(Instant::now()), || false);
    // Nobody leads again: the I/O thread takes the poll back and serves
    // the connection for a caller that only waits on the pipe.
    for seq in 0..20 {
        send(&push.out, seq_msg(seq));
        assert_eq!(seq_of(&recv(&pull.inp)), seq);
    }
    // Given back at once, it is served as well.
    poll.lead(Some(Instant::now()), || false);
    poll.give_back();
    send(&push.out, seq_msg(20));
    assert_eq!(seq_of(&recv(&pull.inp)), 20);
    a.shutdown();
    b.shutdown();
}

/// What an async runtime does with the poll (`tiermq`'s `tokio` and
/// `async-io` features): it waits for the poll's descriptor to become
/// readable in a poll of its own, then serves what is ready without
/// waiting (`serve_ready`), on its own thread.
fn a_reactor_watching_the_descriptor_reads_on_its_thread(endpoint: &str) {
    use std::os::fd::AsRawFd;
    let (a, b, poll, push, pull) = pair(endpoint);
    // The runtime's reactor: edge-triggered, as tokio's and mio's are.
    let mut reactor = mio::Poll::new().unwrap();
    let fd = poll.as_raw_fd();
    reactor
        .registry()
        .register(
            &mut mio::unix::SourceFd(&fd),
            mio::Token(0),
            mio::Interest::READABLE,
        )
        .unwrap();
    let mut events = mio::Events::with_capacity(8);
    // The I/O thread takes the poll back after a 2 ms loan, and then may
    // serve a message.
    caller_delivers_most(
        &push,
        &pull,
        "watcher",
        // Takes the poll from the I/O thread (nothing is ready yet).
        || poll.serve_ready(),
        |_| {
            let _ = reactor.poll(&mut events, Some(std::time::Duration::from_millis(100)));
            poll.serve_ready();
        },
    );
    a.shutdown();
    b.shutdown();
}

#[test]
fn a_reactor_watching_the_descriptor_reads_tcp_on_its_thread() {
    a_reactor_watching_the_descriptor_reads_on_its_thread("tcp://127.0.0.1:0");
}

#[test]
fn a_reactor_watching_the_descriptor_reads_ipc_on_its_thread() {
    a_reactor_watching_the_descriptor_reads_on_its_thread("ipc://*");
}
