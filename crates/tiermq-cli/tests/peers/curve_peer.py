"""A libzmq CURVE peer (pyzmq) for the tiermq CLI's security tests; the
zmq crate's bundled libzmq has no CURVE. Needs pyzmq (`pip install pyzmq`).

    curve_peer.py push ENDPOINT SERVER_PUBLIC MESSAGE
        PUSH, a CURVE client with a new key pair: connects, sends MESSAGE,
        prints "sent" once it is queued, and exits after delivering it.
    curve_peer.py pull ENDPOINT
        PULL, a CURVE server with a new key pair: binds ENDPOINT, prints
        "ready ENDPOINT PUBLIC" (the key in Z85), then each message on a line.
"""

import sys

import zmq


def main():
    mode, endpoint = sys.argv[1], sys.argv[2]
    ctx = zmq.Context()
    public, secret = zmq.curve_keypair()
    if mode == "push":
        s = ctx.socket(zmq.PUSH)
        s.curve_serverkey = sys.argv[3].encode()
        s.curve_publickey = public
        s.curve_secretkey = secret
        s.connect(endpoint)
        s.send(sys.argv[4].encode())
        print("sent", flush=True)
        s.close(linger=20000)
    elif mode == "pull":
        s = ctx.socket(zmq.PULL)
        s.curve_secretkey = secret
        # Last: in libzmq, setting a key after this clears the server role.
        s.curve_server = True
        s.bind(endpoint)
        bound = s.getsockopt_string(zmq.LAST_ENDPOINT)
        print("ready", bound, public.decode(), flush=True)
        while True:
            print(s.recv().decode(), flush=True)
    else:
        sys.exit(f"unknown mode {mode}")
    ctx.term()


if __name__ == "__main__":
    main()
