//! The `--help` texts, general and per subcommand.

use crate::args::{Role, Topic};

const GENERAL: &str = "\
tiermq: ZeroMQ-compatible sockets with priority tiers, failover and failback

Usage:
  tiermq <command> [options]
  tiermq <command> --help

Commands:
  push     send stdin's messages, to the most preferred tier with a ready peer
  pull     print the messages received
  req      send each stdin message as a request and print its reply
  rep      print each request and answer it (--echo, --exec CMD, or stdin)
  dealer   send stdin's messages and print what comes back
  router   print messages with their sender's identity; answer or route
  pub      publish stdin's messages (or --count generated ones)
  sub      print the messages published on --subscribe topics; --failover
           makes a hot-standby subscriber
  pair     send stdin's messages to the one peer and print what it sends
  demo     self-contained failover shows on loopback (push; hot-standby)
  keygen   print a new CURVE key pair (for --curve-server/--curve-serverkey)

Endpoints: --bind/--connect [PRIO@]ENDPOINT, repeatable, e.g.
  tiermq push --connect 1@tcp://a:5555 --connect 2@tcp://b:5555
  tiermq sub --failover --connect 1@tcp://a:5556 --connect 2@tcp://b:5556
  PRIO is 1 (most preferred) to 16; without it, 8.

Exit status: 0 done, 1 runtime error, 2 usage error.
";

const COMMON: &str = "\
Endpoints (at least one; repeatable; applied in order):
  -b, --bind [PRIO@]ENDPOINT     accept connections, e.g. tcp://*:5555, ipc:///tmp/s
  -c, --connect [PRIO@]ENDPOINT  connect (and reconnect) in the background
      PRIO (1 most preferred .. 16; default 8) becomes the socket's SNDPRIO
      and RCVPRIO just before that endpoint is bound or connected.
      A tcp --bind to port 0 or * prints the port it got on stderr:
      \"tiermq: listening on tcp://127.0.0.1:41234\".

Options:
  -n, --count N             stop after N messages (see above)
      --raw                 length-prefixed frames instead of lines (below)
      --hwm N               SNDHWM and RCVHWM (default 1000; 0 = no limit)
      --heartbeat MS        HEARTBEAT_IVL: PING every MS; a silent peer is dead
      --heartbeat-timeout MS  HEARTBEAT_TIMEOUT (default 3 x --heartbeat)
      --linger MS           on exit, wait up to MS to deliver what is queued
                            (default -1: until delivered)
      --failback-delay MS   a returning preferred peer must stay ready this long
      --dead-linger MS      a peer the heartbeat declared dead keeps its
                            connection this long, and revives if heard from
                            (default 30000; 0: disconnect at once)
      --spillover PERCENT   proportional spillover: a tier with fewer ready
                            peers passes a share of traffic to the next tier
                            (overprovisioning factor, e.g. 140; 0: off)
      --identity ID         the identity announced to peers (1-255 bytes)
  -t, --timeout MS          see above
      --stats               once a second on stderr: per-peer table (endpoint,
                            priority, state, queued, room, sent, received), and
                            each failover/failback as it happens
  -h, --help                this text

Security (one mechanism; default NULL):
      --curve-server SECRET   be a CURVE server with this secret key (Z85,
                              40 characters; 'tiermq keygen' makes a pair)
      --curve-serverkey KEY   be a CURVE client of the server whose public
                              key is KEY
      --curve-client SECRET   the client's own secret key (default: a new
                              key pair for each run)
      --plain USER:PASS       be a PLAIN client with these credentials
      --plain-server USER:PASS  be a PLAIN server admitting only these
                              credentials (PLAIN sends them in clear text)
A peer that fails the handshake (wrong key, wrong password) is dropped; to
this command it is simply not there (see --timeout).

Message format:
  text (default): one message per line; a tab separates frames. So a frame
    cannot hold a tab or newline: use --raw for binary data.
  --raw: each frame is a 4-byte big-endian header, then the frame's bytes.
    The header's top bit (0x80000000) is MORE: another frame of the same
    message follows. Its low 31 bits are the frame's length.
";

fn role_text(role: Role) -> &'static str {
    match role {
        Role::Push => {
            "\
tiermq push: send each stdin message with a PUSH socket.

Each message goes to the most preferred tier (lowest PRIO) that has a ready
peer, round-robin inside the tier. A peer that disconnects, dies
(heartbeat) or is busy (its queue reached --hwm) drops out; what it still
held is rerouted; it gets traffic again the moment it can take it.

Usage: tiermq push [options] --connect [PRIO@]ENDPOINT ...
  e.g. seq 10 | tiermq push --connect 1@tcp://primary:5555 --connect 2@tcp://backup:5555

--count N: stop after sending N messages (default: at the end of stdin).
--timeout MS: fail if no peer can take a message within MS.
On exit it waits (--linger) until peers took what is queued.
"
        }
        Role::Pull => {
            "\
tiermq pull: print each message received by a PULL socket.

Messages waiting on a more preferred peer (RCVPRIO, from PRIO@) are read first.

Usage: tiermq pull [options] --bind [PRIO@]ENDPOINT ...
  e.g. tiermq pull --bind tcp://*:5555 --count 10

--count N: stop after printing N messages.
--timeout MS: fail (exit 1) if nothing arrives for MS.
"
        }
        Role::Req => {
            "\
tiermq req: send each stdin message as a request and print its reply.

The request goes to the most preferred ready peer. If that peer is lost
before it answers, the request is resent to the next one.

Usage: tiermq req [options] --connect [PRIO@]ENDPOINT ... [--resend-ivl MS]
  e.g. echo hello | tiermq req --connect 1@tcp://a:5555 --connect 2@tcp://b:5555 --timeout 2000
  --resend-ivl MS  also resend a request unanswered for MS (REQ_RESEND_IVL,
                   with REQ_CORRELATE so a late first reply is recognised)

--count N: stop after N replies.
--timeout MS: fail with \"no reply within MS ms\" (connects are made in the
  background, so an unreachable server shows up as no peer / no reply).
"
        }
        Role::Rep => {
            "\
tiermq rep: print each request received and answer it.

Usage: tiermq rep [options] --bind [PRIO@]ENDPOINT ... [--echo | --exec CMD]
  e.g. tiermq rep --bind tcp://*:5555 --exec 'tr a-z A-Z'

  --echo       answer with the request itself
  --exec CMD   run CMD with sh -c, the request on its stdin (in the message
               format below); answer with its stdout as one frame (text
               mode: without the final newline)
  (neither)    answer with the next stdin message

--count N: stop after N answers.
--timeout MS: fail if no request arrives for MS.
"
        }
        Role::Dealer => {
            "\
tiermq dealer: send stdin's messages with a DEALER socket and print what
comes back, independently of each other.

Usage: tiermq dealer [options] --connect [PRIO@]ENDPOINT ... [--delimiter]
  --delimiter  put an empty frame before each message and strip it from
               replies (as REQ does), to talk to REP sockets

--count N: stop after printing N messages.
--timeout MS: after stdin ends, stop once nothing arrived for MS (default
  1000); also fail if no peer takes a message within MS.
"
        }
        Role::Router => {
            "\
tiermq router: print each message with its sender's identity first (text
mode: in hex), and answer or route.

Usage: tiermq router [options] --bind [PRIO@]ENDPOINT ... [--echo | --exec CMD]
  --echo       send each message back to its sender
  --exec CMD   answer with CMD's output (run with sh -c, the message body on
               its stdin); the envelope (identity, and frames up to the first
               empty one) is kept
  (neither)    route stdin's messages: text lines HEXID<TAB>frame...; raw
               messages whose first frame is the identity
A message for an identity no peer has is dropped with a warning
(ROUTER_MANDATORY is on).

--count N: stop after printing N messages.
--timeout MS: fail if nothing arrives for MS.
"
        }
        Role::Pub => {
            "\
tiermq pub: publish each stdin message with a PUB socket.

Every subscriber whose subscription (a prefix of the first frame) matches
gets the message. A subscriber whose queue is full (--hwm) loses it; PUB
never waits for one. With priorities, the message goes to the live
subscribers of the most preferred tier that has one.
A PUB sends only what someone subscribed to: start the subscribers first
(a message published before a subscriber's subscription arrived is not
kept for it).

Usage: tiermq pub [options] --bind [PRIO@]ENDPOINT ... [--topic T] [--rate N]
  e.g. tiermq pub --bind tcp://*:5556 --count 1000 --rate 10 --topic 'news '
  --topic T   put T in front of every message's first frame
  --rate N    publish at most N messages per second

--count N: instead of reading stdin, publish N generated messages: the
  decimal numbers 0 to N-1 (after --topic).
--timeout MS: fail if a message cannot be queued within MS.
On exit it waits (--linger) until queued messages went out.
"
        }
        Role::Sub => {
            "\
tiermq sub: print each message published on the topics subscribed to.

Usage: tiermq sub [options] --connect [PRIO@]ENDPOINT ... [--subscribe TOPIC ...] [--failover]
  e.g. tiermq sub --failover --heartbeat 200 \\
         --connect 1@tcp://primary:5556 --connect 2@tcp://backup:5556
  -s, --subscribe TOPIC  receive messages whose first frame starts with
                         TOPIC (repeatable; default: everything)
  --failover             the hot-standby subscriber (SUB_FAILOVER): stay
                         connected and subscribed to every publisher, but
                         deliver only from the most preferred tier with a
                         live publisher (connected, handshaken, not declared
                         dead by --heartbeat); discard the others. When that
                         tier's publishers are all gone it fails over to the
                         next tier at once; when a better one is live again it
                         fails back (after --failback-delay). Each failover
                         and failback is printed on stderr.
Without --failover, messages from more preferred publishers come first.

--count N: stop after printing N messages.
--timeout MS: fail (exit 1) if nothing arrives for MS.
"
        }
        Role::Pair => {
            "\
tiermq pair: send stdin's messages to the one peer of a PAIR socket and
print what it sends, independently of each other. A PAIR has exactly one
peer: a second connection is refused.

Usage: tiermq pair [options] (--bind | --connect) ENDPOINT
  e.g. tiermq pair --bind tcp://*:5557

--count N: stop after printing N messages.
--timeout MS: after stdin ends, stop once nothing arrived for MS (default
  1000); also fail if the peer does not take a message within MS.
"
        }
    }
}

const DEMO: &str = "\
tiermq demo: self-contained failover shows on loopback tcp.

Usage: tiermq demo [push | hot-standby] [--seconds N] [--rate N] [--size BYTES]

tiermq demo [push] (the default scene):
One PUSH sends numbered messages to four PULL workers, each on its own
thread and port: the primary at priority 1, two workers at priority 2, and a
backup at priority 3. The show runs eight phases:
  1. all load on the primary
  2. the primary stalls (stops reading): its queue fills, the load spreads
     over the two priority-2 workers
  3. the primary reads again: failback to it
  4. the primary is killed (its socket closed): failover to priority 2
  5. both priority-2 workers are killed: failover to priority 3
  6. the priority-2 workers are revived (bound again on their ports; the
     PUSH reconnects): failback to priority 2
  7. the primary is revived: failback to priority 1
  8. steady state, then the check
Each second it prints messages per worker (that second, and in total) and
the failover and failback events. At the end it checks that every message
sent was received exactly once, and exits 1 if not.

A kill here is a real disconnect, made so no message is lost: the PUSH pauses,
the worker reads what was sent to it, closes its socket, and the PUSH resumes
once it has seen the disconnect. (Bytes the kernel had accepted for a
connection that dies unannounced are lost with it; see docs/guide.md.)

  --seconds N   length of the show (default 24; 2 to 3600)
  --rate N      messages per second (default 2000)
  --size BYTES  bytes per message (default 1024; at least 8)

tiermq demo hot-standby:
Two PUB publishers, the primary at priority 1 and the backup at priority 2,
each publish numbered messages tagged with their name. One SUB with
--failover (the hot-standby subscriber) is connected and subscribed to
both, but delivers only the primary's messages while it is live. The show
runs six phases:
  1. both publishers up: the subscriber delivers the primary's messages and
     discards the backup's
  2. the primary is killed (its socket closed): failover to the backup
  3. the primary is revived on its port: the subscriber reconnects,
     replays its subscription, and fails back
  4. both publishers are killed: nothing to deliver
  5. both are revived: the subscriber takes the backup until the primary
     is live again, then fails back to it
  6. steady state
Each second it prints how many messages the subscriber delivered from each
publisher, and the failover and failback events. At the end it checks that
no message came from a publisher outside the active tier, and exits 1 if
one did.
  --seconds N   length of the show (default 18; 2 to 3600)
  --rate N      messages per second per publisher (default 200)
";

const KEYGEN: &str = "\
tiermq keygen: print a new CURVE key pair, in Z85 (40 characters each):
  public-key KEY
  secret-key KEY
The server keeps the secret key (--curve-server SECRET); its clients get the
public key (--curve-serverkey KEY).

Usage: tiermq keygen
  e.g. tiermq keygen > server.keys
       tiermq pull --bind tcp://*:5555 --curve-server \"$(awk '/secret/ {print $2}' server.keys)\"
";

/// The help text for `topic` (`None`: the general help).
pub fn text(topic: Option<Topic>) -> String {
    match topic {
        None => GENERAL.to_owned(),
        Some(Topic::Demo) => DEMO.to_owned(),
        Some(Topic::Keygen) => KEYGEN.to_owned(),
        Some(Topic::Role(role)) => format!("{}\n{COMMON}", role_text(role)),
    }
}
