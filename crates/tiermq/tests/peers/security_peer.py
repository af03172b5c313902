"""A libzmq peer with CURVE or PLAIN security, in its own process, for the
interop tests of tests/security.rs. Needs pyzmq (`pip install pyzmq`) over
a libzmq built with CURVE (pyzmq's wheels are).

    security_peer.py ROLE bind|connect ENDPOINT MECHANISM...

ROLE:
    pull        prints each message on a line; exits after "END".
    push N      sends "0" .. "N-1", then "END"; then waits for stdin to close.

MECHANISM (one of):
    curve-server SECRET                 CURVE server (Z85 secret key); with
                                        ZAP-KEY after it, a ZAP handler admits
                                        only that client public key.
    curve-client SECRET PUBLIC SERVER   CURVE client (Z85 keys).
    plain-server USER PASS              PLAIN server; a ZAP handler admits
                                        only USER/PASS.
    plain-client USER PASS              PLAIN client.

Prints "ready ENDPOINT" once bound (the endpoint actually bound) or
connected.
"""

import os
import sys
import threading

import zmq


def zap_handler(ctx, allow, started):
    sock = ctx.socket(zmq.REP)
    sock.bind("inproc://zeromq.zap.01")
    started.set()
    while True:
        version, rid, _domain, _address, _identity, mech, *creds = sock.recv_multipart()
        ok = allow(mech, creds)
        sock.send_multipart(
            [version, rid, b"200" if ok else b"400", b"OK" if ok else b"denied",
             b"user" if ok else b"", b""])


def secure(ctx, s, args):
    mech = args[0]
    allow = None
    if mech == "curve-server":
        s.curve_secretkey = args[1].encode()
        s.curve_server = True
        if len(args) > 2:
            key = zmq.utils.z85.decode(args[2])
            allow = lambda m, creds: m == b"CURVE" and creds == [key]
    elif mech == "curve-client":
        s.curve_secretkey = args[1].encode()
        s.curve_publickey = args[2].encode()
        s.curve_serverkey = args[3].encode()
    elif mech == "plain-server":
        s.plain_server = True
        user, password = args[1].encode(), args[2].encode()
        allow = lambda m, creds: m == b"PLAIN" and creds == [user, password]
    elif mech == "plain-client":
        s.plain_username = args[1].encode()
        s.plain_password = args[2].encode()
    else:
        sys.exit(f"unknown mechanism {mech}")
    if allow is not None:
        started = threading.Event()
        threading.Thread(target=zap_handler, args=(ctx, allow, started), daemon=True).start()
        started.wait()


def main():
    role = sys.argv[1]
    rest = sys.argv[2:]
    count = 0
    if role == "push":
        count, rest = int(rest[0]), rest[1:]
    how, endpoint, mech = rest[0], rest[1], rest[2:]
    ctx = zmq.Context()
    s = ctx.socket(zmq.PULL if role == "pull" else zmq.PUSH)
    secure(ctx, s, mech)
    if how == "bind":
        s.bind(endpoint)
        endpoint = s.getsockopt(zmq.LAST_ENDPOINT).decode()
    else:
        s.connect(endpoint)
    print(f"ready {endpoint}", flush=True)
    if role == "pull":
        while True:
            m = s.recv().decode()
            print(m, flush=True)
            if m == "END":
                break
    elif role == "push":
        for i in range(count):
            s.send(str(i).encode())
        s.send(b"END")
        sys.stdin.read()
    else:
        sys.exit(f"unknown role {role}")
    # The ZAP thread never ends: leave without waiting for it.
    os._exit(0)


if __name__ == "__main__":
    main()
