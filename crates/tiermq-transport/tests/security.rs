//! CURVE and PLAIN through the reactor: ZAP requests go out as
//! notifications and verdicts come back; a failed handshake closes only
//! that connection, with its reason.

mod common;

use common::*;
use tiermq_transport::{DetachReason, MonitorEvent, Notification, Reactor, ZapTicket};
use tiermq_wire::{Bytes, ErrorKind, Mechanism, SocketType, ZapReply, ZapRequest, z85};

const SERVER_SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
const SERVER_PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const CLIENT_SECRET: &str = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";
const CLIENT_PUBLIC: &str = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";

fn key(z: &str) -> [u8; 32] {
    z85::decode_key(z).unwrap()
}

fn curve_server(zap: bool) -> tiermq_transport::LinkOptions {
    let mut o = opts(SocketType::Pull);
    o.wire.mechanism = Mechanism::CurveServer {
        secret_key: key(SERVER_SECRET),
    };
    o.wire.zap = zap;
    o
}

fn curve_client(server_key: &str) -> tiermq_transport::LinkOptions {
    let mut o = opts(SocketType::Push);
    o.wire.mechanism = Mechanism::CurveClient {
        secret_key: key(CLIENT_SECRET),
        server_key: key(server_key),
    };
    o
}

fn zap_request(rx: &std::sync::mpsc::Receiver<Notification>) -> (ZapRequest, ZapTicket) {
    wait_for(rx, "ZapRequest", |n| match n {
        Notification::ZapRequest {
            request, ticket, ..
        } => Some((request, ticket)),
        _ => None,
    })
}

#[test]
fn curve_with_zap_carries_messages() {
    let a = Reactor::spawn("sec-a").unwrap();
    let b = Reactor::spawn("sec-b").unwrap();
    let (pull_sink, pull_rx) = sink();
    let (push_sink, push_rx) = sink();
    let (_, bound) = a
        .bind(&ep("tcp://127.0.0.1:0"), curve_server(true), pull_sink)
        .unwrap();
    b.connect(&ep(&bound), curve_client(SERVER_PUBLIC), push_sink)
        .unwrap();
    let (request, ticket) = zap_request(&pull_rx);
    assert_eq!(request.mechanism, "CURVE");
    assert_eq!(
        request.credentials,
        [Bytes::copy_from_slice(&key(CLIENT_PUBLIC))]
    );
    let mut reply = ZapReply::ok();
    reply.user_id = Bytes::from_static(b"client-1");
    a.zap_reply(ticket, Some(reply));
    let push = attached(&push_rx);
    let pull = attached(&pull_rx);
    assert_eq!(pull.peer.user_id.as_deref(), Some(&b"client-1"[..]));
    for i in 0..100 {
        send(&push.out, seq_msg(i));
    }
    for i in 0..100 {
        assert_eq!(seq_of(&recv(&pull.inp)), i);
    }
}

#[test]
fn zap_refusal_and_wrong_key_fail_only_that_connection() {
    let a = Reactor::spawn("sec-a").unwrap();
    let b = Reactor::spawn("sec-b").unwrap();
    let (pull_sink, pull_rx) = sink();
    let (bad_sink, bad_rx) = sink();
    let (good_sink, good_rx) = sink();
    let (_, bound) = a
        .bind(&ep("tcp://127.0.0.1:0"), curve_server(true), pull_sink)
        .unwrap();

    // A client that knows the wrong server key fails the server's HELLO check.
    let mut wrong = curve_client(CLIENT_PUBLIC);
    wrong.reconnect_ivl = None;
    b.connect(&ep(&bound), wrong, bad_sink).unwrap();
    let reason = monitor(&pull_rx, "HandshakeFailed", |e| match e {
        MonitorEvent::HandshakeFailed { reason, .. } => Some(reason),
        _ => None,
    });
    let DetachReason::Wire(e) = reason else {
        panic!("{reason:?}")
    };
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e:?}");
    drop(bad_rx);

    // ZAP refuses the next client: it hears 400 and fails as auth.
    let mut refused = curve_client(SERVER_PUBLIC);
    refused.reconnect_ivl = None;
    let (refused_sink, refused_rx) = sink();
    b.connect(&ep(&bound), refused, refused_sink).unwrap();
    let (_, ticket) = zap_request(&pull_rx);
    a.zap_reply(ticket, Some(ZapReply::status("400", "not you")));
    let reason = monitor(&refused_rx, "HandshakeFailed", |e| match e {
        MonitorEvent::HandshakeFailed { reason, .. } => Some(reason),
        _ => None,
    });
    let DetachReason::Wire(e) = reason else {
        panic!("{reason:?}")
    };
    assert_eq!((e.kind(), e.auth_status()), (ErrorKind::Auth, Some(400)));

    // The listener and a good client are unaffected.
    b.connect(&ep(&bound), curve_client(SERVER_PUBLIC), good_sink)
        .unwrap();
    let (_, ticket) = zap_request(&pull_rx);
    a.zap_reply(ticket, Some(ZapReply::ok()));
    let push = attached(&good_rx);
    let pull = attached(&pull_rx);
    send(&push.out, seq_msg(7));
    assert_eq!(seq_of(&recv(&pull.inp)), 7);
}

#[test]
fn plain_without_handler_refuses() {
    let a = Reactor::spawn("sec-a").unwrap();
    let b = Reactor::spawn("sec-b").unwrap();
    let (pull_sink, pull_rx) = sink();
    let (push_sink, _push_rx) = sink();
    let mut server = opts(SocketType::Pull);
    server.wire.mechanism = Mechanism::PlainServer;
    server.wire.zap = true;
    let mut client = opts(SocketType::Push);
    client.wire.mechanism = Mechanism::PlainClient {
        username: Bytes::from_static(b"admin"),
        password: Bytes::from_static(b"secret"),
    };
    client.reconnect_ivl = None;
    let (_, bound) = a.bind(&ep("tcp://127.0.0.1:0"), server, pull_sink).unwrap();
    b.connect(&ep(&bound), client, push_sink).unwrap();
    let (request, ticket) = zap_request(&pull_rx);
    assert_eq!(request.credentials, ["admin", "secret"]);
    a.zap_reply(ticket, None);
    let reason = monitor(&pull_rx, "HandshakeFailed", |e| match e {
        MonitorEvent::HandshakeFailed { reason, .. } => Some(reason),
        _ => None,
    });
    assert_eq!(reason, DetachReason::Wire(tiermq_wire::Error::NoZapHandler));
}
