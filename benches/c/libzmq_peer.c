/*
 * libzmq-peer: the push, pull, req and rep roles of `tiermq-bench` on the
 * system's libzmq (Debian's libzmq5, built with libsodium, so it has CURVE;
 * the `zmq` crate's bundled libzmq does not).
 *
 * Same command line as tiermq-bench with LIB = libzmq:
 *   libzmq-peer ROLE libzmq TRANSPORT SIZE COUNT [--endpoint EP] [--hwm N]
 *       [--buf BYTES] [--runtime R] [--fresh-payload]
 *       [--curve SERVER_SECRET,CLIENT_SECRET]
 *   libzmq-peer --has-curve    (exit 0 and print "curve yes" if it has CURVE)
 * and the same stdio protocol (see the tiermq_benches crate docs): a binding
 * role prints `ENDPOINT <ep>`, the timed role prints `RESULT secs=...`, the
 * other one holds until its stdin closes and prints `PEER rss_kib=...`.
 *
 * With --curve the binding role (pull, rep) is the CURVE server; both keys
 * are Z85 secret keys and the public keys are derived with
 * zmq_curve_public. The roles do what the zmq crate's libzmq roles in
 * benches/src/zmq_like.rs do: zmq_send copies each payload into a new
 * message, and one zmq_msg_t is reused for receiving.
 *
 * Built by `cargo xtask bench`: cc -O2 libzmq_peer.c -lzmq.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* The same bounds as the Rust roles: RECV_TIMEOUT and LINGER_MS. */
#define TIMEOUT_MS 30000
#define LINGER_MS 1000

struct spec {
    const char *role;
    const char *transport;
    size_t size;
    unsigned long long count;
    const char *endpoint;
    int hwm;
    int buf;
    int fresh;
    /* Z85 keys plus NUL; empty when CURVE is off. */
    char server_secret[41], server_public[41];
    char client_secret[41], client_public[41];
};

static void die(const char *role, const char *what)
{
    fprintf(stderr, "libzmq-peer %s: %s\n", role, what);
    exit(1);
}

static void die_zmq(const char *role, const char *call)
{
    char msg[256];
    int e = zmq_errno();
    if (e == EAGAIN)
        snprintf(msg, sizeof msg, "%s: timed out after %d ms", call, TIMEOUT_MS);
    else
        snprintf(msg, sizeof msg, "%s: %s", call, zmq_strerror(e));
    die(role, msg);
}

static unsigned long long peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kib = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %llu", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static double now_secs(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Reads stdin to its end: the driver closes it when the run is over. */
static void hold(void)
{
    char b[4096];
    while (read(0, b, sizeof b) > 0) {
    }
}

static unsigned long long number(const char *what, const char *s)
{
    char *end;
    unsigned long long n;
    errno = 0;
    n = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        fprintf(stderr, "libzmq-peer: %s: \"%s\" is not a valid number\n", what, s);
        exit(2);
    }
    return n;
}

static void setopt_int(void *s, const struct spec *sp, int opt, int v, const char *name)
{
    if (zmq_setsockopt(s, opt, &v, sizeof v) != 0)
        die_zmq(sp->role, name);
}

static void setopt_key(void *s, const struct spec *sp, int opt, const char *z85, const char *name)
{
    /* 41 bytes (40 characters and the NUL): libzmq reads it as Z85. */
    if (zmq_setsockopt(s, opt, z85, 41) != 0)
        die_zmq(sp->role, name);
}

static void *make_socket(void *ctx, int type, const struct spec *sp, int server)
{
    void *s = zmq_socket(ctx, type);
    if (!s)
        die_zmq(sp->role, "zmq_socket");
    setopt_int(s, sp, ZMQ_SNDHWM, sp->hwm, "ZMQ_SNDHWM");
    setopt_int(s, sp, ZMQ_RCVHWM, sp->hwm, "ZMQ_RCVHWM");
    if (sp->buf > 0) {
        setopt_int(s, sp, ZMQ_SNDBUF, sp->buf, "ZMQ_SNDBUF");
        setopt_int(s, sp, ZMQ_RCVBUF, sp->buf, "ZMQ_RCVBUF");
    }
    setopt_int(s, sp, ZMQ_RCVTIMEO, TIMEOUT_MS, "ZMQ_RCVTIMEO");
    setopt_int(s, sp, ZMQ_SNDTIMEO, TIMEOUT_MS, "ZMQ_SNDTIMEO");
    setopt_int(s, sp, ZMQ_LINGER, LINGER_MS, "ZMQ_LINGER");
    if (sp->server_secret[0]) {
        if (server) {
            setopt_int(s, sp, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER");
            setopt_key(s, sp, ZMQ_CURVE_SECRETKEY, sp->server_secret, "ZMQ_CURVE_SECRETKEY");
        } else {
            setopt_key(s, sp, ZMQ_CURVE_SERVERKEY, sp->server_public, "ZMQ_CURVE_SERVERKEY");
            setopt_key(s, sp, ZMQ_CURVE_PUBLICKEY, sp->client_public, "ZMQ_CURVE_PUBLICKEY");
            setopt_key(s, sp, ZMQ_CURVE_SECRETKEY, sp->client_secret, "ZMQ_CURVE_SECRETKEY");
        }
    }
    return s;
}

/* Binds `s`; prints and returns the endpoint (static storage). */
static const char *bind_and_announce(void *s, const struct spec *sp)
{
    static char ep[512];
    size_t len = sizeof ep;
    if (sp->endpoint)
        snprintf(ep, sizeof ep, "%s", sp->endpoint);
    else if (strcmp(sp->transport, "tcp") == 0)
        snprintf(ep, sizeof ep, "tcp://127.0.0.1:*");
    else
        snprintf(ep, sizeof ep, "ipc:///tmp/libzmq-peer-%ld.sock", (long)getpid());
    if (zmq_bind(s, ep) != 0)
        die_zmq(sp->role, "zmq_bind");
    if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len) != 0)
        die_zmq(sp->role, "ZMQ_LAST_ENDPOINT");
    printf("ENDPOINT %s\n", ep);
    fflush(stdout);
    return ep;
}

static void remove_ipc_file(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0)
        unlink(ep + 6);
}

static void send_payload(void *s, const struct spec *sp, const char *payload)
{
    char *fresh = NULL;
    if (sp->fresh) {
        fresh = malloc(sp->size);
        if (!fresh)
            die(sp->role, "out of memory");
        memset(fresh, 7, sp->size);
        payload = fresh;
    }
    if (zmq_send(s, payload, sp->size, 0) < 0)
        die_zmq(sp->role, "zmq_send");
    free(fresh);
}

static void recv_checked(void *s, const struct spec *sp, zmq_msg_t *msg)
{
    if (zmq_msg_recv(msg, s, 0) < 0)
        die_zmq(sp->role, "zmq_msg_recv");
    if (zmq_msg_size(msg) != sp->size) {
        char m[128];
        snprintf(m, sizeof m, "expected %zu-byte messages, got a %zu-byte one",
                 sp->size, zmq_msg_size(msg));
        die(sp->role, m);
    }
}

static void result(const struct spec *sp, double secs)
{
    printf("RESULT secs=%.6f count=%llu size=%zu rss_kib=%llu\n", secs, sp->count,
           sp->size, peak_rss_kib());
    fflush(stdout);
}

static void peer_line(void)
{
    printf("PEER rss_kib=%llu\n", peak_rss_kib());
    fflush(stdout);
}

static void run(const struct spec *sp)
{
    void *ctx = zmq_ctx_new();
    char *payload = malloc(sp->size);
    zmq_msg_t msg;
    unsigned long long i;
    if (!ctx || !payload)
        die(sp->role, "setup failed");
    memset(payload, 7, sp->size);
    zmq_msg_init(&msg);

    if (strcmp(sp->role, "pull") == 0 || strcmp(sp->role, "rep") == 0) {
        int pull = sp->role[0] == 'p';
        void *s = make_socket(ctx, pull ? ZMQ_PULL : ZMQ_REP, sp, 1);
        const char *ep = bind_and_announce(s, sp);
        if (pull) {
            double start;
            recv_checked(s, sp, &msg);
            start = now_secs();
            for (i = 0; i < sp->count; i++)
                recv_checked(s, sp, &msg);
            result(sp, now_secs() - start);
        } else {
            for (i = 0; i <= sp->count; i++) {
                recv_checked(s, sp, &msg);
                send_payload(s, sp, payload);
            }
            hold();
            peer_line();
        }
        zmq_close(s);
        remove_ipc_file(ep);
    } else {
        int push = sp->role[0] == 'p';
        void *s = make_socket(ctx, push ? ZMQ_PUSH : ZMQ_REQ, sp, 0);
        if (!sp->endpoint)
            die(sp->role, "it connects: it needs --endpoint");
        if (zmq_connect(s, sp->endpoint) != 0)
            die_zmq(sp->role, "zmq_connect");
        if (push) {
            for (i = 0; i <= sp->count; i++)
                send_payload(s, sp, payload);
            hold();
            peer_line();
        } else {
            double start;
            send_payload(s, sp, payload);
            recv_checked(s, sp, &msg);
            start = now_secs();
            for (i = 0; i < sp->count; i++) {
                send_payload(s, sp, payload);
                recv_checked(s, sp, &msg);
            }
            result(sp, now_secs() - start);
        }
        zmq_close(s);
    }
    zmq_msg_close(&msg);
    free(payload);
    zmq_ctx_term(ctx);
}

/* "SERVER_SECRET,CLIENT_SECRET" (Z85 has no comma) into the spec's keys. */
static void parse_curve(struct spec *sp, const char *arg)
{
    const char *comma = strchr(arg, ',');
    if (!comma || comma - arg != 40 || strlen(comma + 1) != 40) {
        fprintf(stderr, "libzmq-peer: --curve takes SERVER_SECRET,CLIENT_SECRET (40 Z85 characters each)\n");
        exit(2);
    }
    memcpy(sp->server_secret, arg, 40);
    sp->server_secret[40] = 0;
    memcpy(sp->client_secret, comma + 1, 41);
    if (zmq_curve_public(sp->server_public, sp->server_secret) != 0 ||
        zmq_curve_public(sp->client_public, sp->client_secret) != 0) {
        fprintf(stderr, "libzmq-peer: --curve: %s\n", zmq_strerror(zmq_errno()));
        exit(2);
    }
}

int main(int argc, char **argv)
{
    struct spec sp;
    const char *pos[5];
    int npos = 0, i;
    memset(&sp, 0, sizeof sp);
    sp.hwm = 1000;

    if (argc == 2 && strcmp(argv[1], "--has-curve") == 0) {
        int yes = zmq_has("curve");
        int major, minor, patch;
        zmq_version(&major, &minor, &patch);
        printf("curve %s (libzmq %d.%d.%d)\n", yes ? "yes" : "no", major, minor, patch);
        return yes ? 0 : 1;
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--fresh-payload") == 0) {
            sp.fresh = 1;
        } else if (strncmp(a, "--", 2) == 0) {
            const char *v;
            if (!has_value) {
                fprintf(stderr, "libzmq-peer: %s needs a value\n", a);
                return 2;
            }
            v = argv[++i];
            if (strcmp(a, "--endpoint") == 0)
                sp.endpoint = v;
            else if (strcmp(a, "--hwm") == 0)
                sp.hwm = (int)number("--hwm", v);
            else if (strcmp(a, "--buf") == 0)
                sp.buf = (int)number("--buf", v);
            else if (strcmp(a, "--runtime") == 0)
                ; /* for the async libraries only */
            else if (strcmp(a, "--curve") == 0)
                parse_curve(&sp, v);
            else {
                fprintf(stderr, "libzmq-peer: unknown option \"%s\"\n", a);
                return 2;
            }
        } else if (npos < 5) {
            pos[npos++] = a;
        } else {
            fprintf(stderr, "libzmq-peer: too many arguments\n");
            return 2;
        }
    }
    if (npos != 5) {
        fprintf(stderr, "usage: libzmq-peer push|pull|req|rep libzmq tcp|ipc SIZE COUNT "
                        "[--endpoint EP] [--hwm N] [--buf BYTES] [--fresh-payload] "
                        "[--curve SERVER_SECRET,CLIENT_SECRET]\n"
                        "       libzmq-peer --has-curve\n");
        return 2;
    }
    sp.role = pos[0];
    sp.transport = pos[2];
    sp.size = (size_t)number("SIZE", pos[3]);
    sp.count = number("COUNT", pos[4]);
    if (strcmp(pos[1], "libzmq") != 0)
        die(sp.role, "this peer is libzmq only");
    if (strcmp(sp.role, "push") && strcmp(sp.role, "pull") && strcmp(sp.role, "req") &&
        strcmp(sp.role, "rep"))
        die(sp.role, "unknown role (push, pull, req or rep)");
    if (strcmp(sp.transport, "tcp") && strcmp(sp.transport, "ipc"))
        die(sp.role, "unknown transport (tcp or ipc)");
    if (sp.size == 0)
        die(sp.role, "SIZE must be at least 1");
    run(&sp);
    return 0;
}
