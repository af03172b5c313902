//! A CURVE client's HELLO goes out as soon as the server's greeting is
//! read, even when that greeting had already arrived as the connect
//! completed (the I/O thread then reads it while sending its own
//! greeting). A CURVE server says nothing until HELLO, so a HELLO left
//! queued hung the handshake; it did in about one connection of twenty,
//! with client and server in separate contexts (separate I/O threads).

use tiermq::{Context, CurveKeyPair, PULL, PUSH};

#[test]
fn every_curve_handshake_completes() {
    for round in 0..100 {
        let server_ctx = Context::new();
        let client_ctx = Context::new();
        let server_keys = CurveKeyPair::new().unwrap();
        let pull = server_ctx.socket(PULL).unwrap();
        pull.set_curve_server(true).unwrap();
        pull.set_curve_secretkey(&server_keys.secret_key).unwrap();
        pull.set_rcvtimeo(10_000).unwrap();
        pull.set_linger(0).unwrap();
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let ep = pull.get_last_endpoint().unwrap().unwrap();

        let client_keys = CurveKeyPair::new().unwrap();
        let push = client_ctx.socket(PUSH).unwrap();
        push.set_curve_serverkey(&server_keys.public_key).unwrap();
        push.set_curve_publickey(&client_keys.public_key).unwrap();
        push.set_curve_secretkey(&client_keys.secret_key).unwrap();
        push.set_linger(0).unwrap();
        push.connect(&ep).unwrap();
        push.send("hello", 0).unwrap();
        let got = pull.recv_bytes(0);
        assert_eq!(
            got.as_deref(),
            Ok(&b"hello"[..]),
            "round {round}: the handshake did not complete; client peers {:?}",
            push.peers().iter().map(|p| p.state).collect::<Vec<_>>()
        );
    }
}
