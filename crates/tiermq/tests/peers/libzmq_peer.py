"""A libzmq peer in its own process, for tests that freeze (SIGSTOP) or
kill a real libzmq endpoint. Needs pyzmq (`pip install pyzmq`).

    libzmq_peer.py rep ENDPOINT NAME   REP: a request "hold:MS:TAG" is
                                       answered "NAME:TAG" after MS ms.
    libzmq_peer.py pull ENDPOINT       PULL: prints each message on a line;
                                       exits after "END".
    libzmq_peer.py pub ENDPOINT NAME   PUB: binds ENDPOINT, prints "ready"
                                       and the endpoint bound, then every
                                       5 ms publishes "news NAME SEQ" and
                                       "other NAME SEQ" (SEQ counts from 0),
                                       until killed.

rep and pull connect to ENDPOINT and print "ready" once connected.
"""

import sys
import time

import zmq


def main():
    mode, endpoint = sys.argv[1], sys.argv[2]
    ctx = zmq.Context()
    if mode == "rep":
        name = sys.argv[3]
        s = ctx.socket(zmq.REP)
        s.connect(endpoint)
        print("ready", flush=True)
        while True:
            request = s.recv().decode()
            if request == "quit":
                s.send(b"bye")
                break
            _, ms, tag = request.split(":", 2)
            time.sleep(int(ms) / 1000)
            s.send(f"{name}:{tag}".encode())
    elif mode == "pull":
        s = ctx.socket(zmq.PULL)
        s.connect(endpoint)
        print("ready", flush=True)
        while True:
            m = s.recv().decode()
            print(m, flush=True)
            if m == "END":
                break
    elif mode == "pub":
        name = sys.argv[3]
        s = ctx.socket(zmq.PUB)
        s.bind(endpoint)
        print("ready", s.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
        seq = 0
        while True:
            # A topic nobody subscribes to, to show filtering.
            s.send(f"news {name} {seq}".encode())
            s.send(f"other {name} {seq}".encode())
            seq += 1
            time.sleep(0.005)
    else:
        sys.exit(f"unknown mode {mode}")
    s.close(linger=1000)
    ctx.term()


if __name__ == "__main__":
    main()
