//! Event-loop integration: `get_fd` (libzmq's ZMQ_FD: an edge-triggered
//! readability signal, reset by `get_events`) in tokio's `AsyncFd` and in a
//! mio loop, and `PollItem::from_fd` mixing sockets with plain descriptors
//! in `poll`.

mod async_support;

use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use async_support::Transport;
use tiermq::{Context, DONTWAIT, POLLERR, POLLIN, POLLOUT, PULL, PUSH, PollItem, Socket, poll};

/// A raw descriptor that tokio's `AsyncFd` and mio can watch.
struct Fd(RawFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// A PULL bound on `t` and a PUSH connected to it.
fn pull_and_push(ctx: &Context, t: Transport) -> (Socket, Socket) {
    let pull = ctx.socket(PULL).unwrap();
    pull.bind(&t.endpoint("fd")).unwrap();
    let at = pull.get_last_endpoint().unwrap().unwrap();
    let push = ctx.socket(PUSH).unwrap();
    push.connect(&at).unwrap();
    (pull, push)
}

/// Sends `n` numbered messages from a thread, a few at a time.
fn send_numbered(push: Socket, n: u32) -> std::thread::JoinHandle<Socket> {
    std::thread::spawn(move || {
        for i in 0..n {
            push.send(&i.to_be_bytes()[..], 0).unwrap();
            if i % 64 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        push
    })
}

/// Receives whatever `get_events` says is there, checking the order.
fn drain(pull: &Socket, next: &mut u32) {
    while pull.get_events().unwrap().contains(POLLIN) {
        let got = pull.recv_bytes(DONTWAIT).expect("POLLIN means a message");
        assert_eq!(got, next.to_be_bytes(), "in order");
        *next += 1;
    }
}

#[test]
fn get_fd_drives_a_socket_from_tokio_async_fd() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for t in Transport::ALL {
        let ctx = Context::new();
        let (pull, push) = pull_and_push(&ctx, t);
        let n = 1000;
        rt.block_on(async {
            // The safe constructor: its unsafe successor is forbidden in
            // this workspace. The descriptor outlives the AsyncFd.
            #[allow(deprecated)]
            let fd = tokio::io::unix::AsyncFd::with_interest(
                Fd(pull.get_fd().unwrap()),
                tokio::io::Interest::READABLE,
            )
            .unwrap();
            let sender = send_numbered(push, n);
            let mut next = 0;
            let all = async {
                loop {
                    // Check first, then wait for the edge.
                    drain(&pull, &mut next);
                    if next == n {
                        return;
                    }
                    let mut guard = fd.readable().await.unwrap();
                    guard.clear_ready();
                }
            };
            tokio::time::timeout(async_support::BODY_BOUND, all)
                .await
                .unwrap_or_else(|_| panic!("{t:?}: a wake-up was lost at {next}"));
            drop(sender.join().unwrap());
        });
    }
}

#[test]
fn get_fd_drives_a_socket_from_a_mio_loop() {
    let ctx = Context::new();
    let (pull, push) = pull_and_push(&ctx, Transport::Tcp);
    let fd = pull.get_fd().unwrap();
    let mut epoll = mio::Poll::new().unwrap();
    epoll
        .registry()
        .register(
            &mut mio::unix::SourceFd(&fd),
            mio::Token(7),
            mio::Interest::READABLE,
        )
        .unwrap();
    let mut events = mio::Events::with_capacity(4);
    let n = 1000;
    let sender = send_numbered(push, n);
    let mut next = 0;
    loop {
        drain(&pull, &mut next);
        if next == n {
            break;
        }
        epoll
            .poll(&mut events, Some(async_support::BODY_BOUND))
            .unwrap();
        assert!(
            events.iter().any(|e| e.token() == mio::Token(7)),
            "a wake-up was lost at {next}"
        );
    }
    drop(sender.join().unwrap());
}

/// The descriptor is edge-triggered: `get_events` resets it, and only a
/// later change signals it again.
#[test]
fn get_events_resets_the_descriptor_until_the_next_change() {
    let ctx = Context::new();
    let (pull, push) = pull_and_push(&ctx, Transport::Inproc);
    let fd = pull.get_fd().unwrap();
    let readable = |timeout_ms| poll(&mut [PollItem::from_fd(fd, POLLIN)], timeout_ms).unwrap();
    pull.get_events().unwrap();
    assert_eq!(readable(0), 0, "nothing changed");
    push.send("one", 0).unwrap();
    assert_eq!(readable(10_000), 1, "a message arrived");
    assert!(pull.get_events().unwrap().contains(POLLIN));
    assert_eq!(readable(0), 0, "reset by get_events");
    assert_eq!(pull.recv_bytes(0).unwrap(), b"one");
    assert_eq!(pull.get_fd().unwrap(), fd, "one descriptor per socket");
}

#[test]
fn poll_mixes_sockets_and_plain_descriptors() {
    let ctx = Context::new();
    let (pull, push) = pull_and_push(&ctx, Transport::Tcp);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let rx_fd = rx.as_raw_fd();

    let mut items = [pull.as_poll_item(POLLIN), PollItem::from_fd(rx_fd, POLLIN)];
    assert_eq!(poll(&mut items, 0).unwrap(), 0, "nothing yet");
    assert!(items[1].has_fd(rx_fd) && items[0].has_socket(&pull));

    // The descriptor becomes readable while poll waits.
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.write_all(b"x").unwrap();
        tx
    });
    assert_eq!(poll(&mut items, -1).unwrap(), 1);
    assert!(items[1].is_readable() && !items[0].is_readable());
    let mut tx = writer.join().unwrap();

    // Still readable (poll is level-triggered for descriptors); the socket
    // becomes readable too while poll waits on both.
    let sender = std::thread::spawn(move || {
        push.send("hello", 0).unwrap();
        push
    });
    loop {
        poll(&mut items, 10_000).unwrap();
        if items[0].is_readable() {
            break;
        }
    }
    assert!(items[1].is_readable());
    assert_eq!(pull.recv_bytes(DONTWAIT).unwrap(), b"hello");
    drop(sender.join().unwrap());

    // A socket that waits alone with a descriptor: woken by its message.
    let mut items = [pull.as_poll_item(POLLIN), PollItem::from_fd(rx_fd, POLLOUT)];
    assert_eq!(poll(&mut items, 0).unwrap(), 1, "a stream is writable");
    assert_eq!(items[1].get_revents(), POLLOUT);

    // A hang-up: readable (the end of the stream).
    tx.flush().unwrap();
    drop(tx);
    let mut items = [PollItem::from_fd(rx_fd, POLLIN)];
    assert_eq!(poll(&mut items, 10_000).unwrap(), 1);
    assert!(items[0].is_readable());
}

#[test]
fn a_socket_wakes_a_mixed_poll() {
    let ctx = Context::new();
    let (pull, push) = pull_and_push(&ctx, Transport::Ipc);
    let (_tx, rx) = UnixStream::pair().unwrap();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        push.send("wake", 0).unwrap();
        push
    });
    let mut items = [
        PollItem::from_fd(rx.as_raw_fd(), POLLIN),
        pull.as_poll_item(POLLIN),
    ];
    assert_eq!(poll(&mut items, -1).unwrap(), 1);
    assert!(items[1].is_readable() && !items[0].is_readable());
    assert_eq!(pull.recv_bytes(DONTWAIT).unwrap(), b"wake");
    drop(sender.join().unwrap());
}

/// Not a descriptor: POLLERR, as poll(2)'s POLLNVAL. (-1: a closed
/// number could be reused by a test running beside this one.)
#[test]
fn a_bad_descriptor_reports_an_error() {
    let mut items = [PollItem::from_fd(-1, POLLIN)];
    assert_eq!(poll(&mut items, 0).unwrap(), 1);
    assert_eq!(items[0].get_revents(), POLLERR);
}
