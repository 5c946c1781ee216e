/* The WebSocket side of the fan-out benchmark: holds N client connections and times what
 * arrives on them, for bench/ws/load.js, which drives it over stdin and stdout (one JSON object
 * a line each way) and sends the events.
 *
 * It shares the machine's cores with the server it measures, so every microsecond it spends
 * on a message is one the server does not get: it reads with epoll (edge-triggered, one
 * recv() per arrival into a buffer of its thread) on a few threads, frames with wslay (as the
 * server does) and finds the two fields it needs without a JSON parser. A Node client spent
 * more time on 19,000 arrivals than the server spent sending them, and a libuv one about
 * twice what this one spends.
 *
 *   bench_ws_load --port P --count N [--first F] [--mode reactor|node] [--key K]
 *                 [--shared CHANNEL] [--threads T]
 *
 * Connection i (F <= i < F+N) is user "u<i>". In reactor mode it opens GET /ws with
 * x-api-key and subscribes to user:u<i> and CHANNEL (default leaderboard:xp); in node mode it
 * opens /?user=u<i> on bench/ws/node_server.js. Out: {"ready":N} once all are subscribed;
 * {"fan":{"last":ms,"ts":ms,"n":N}} once every connection has had a shared-channel message
 * after "fan" came in; {"lat":[ms,...]} (arrival minus the push's ts of every user-channel
 * push since "lat") on "report"; {"error":"..."} on a failure. In: "fan", "lat", "report",
 * "exit". Times are Unix milliseconds of this machine's clock, as the server stamps ts. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <wslay/wslay.h>

#include "core/buf.h"
#include "core/mem.h"

#define MAX_THREADS 8
#define HANDSHAKES_IN_FLIGHT 64 /* per thread */
/* A wait that returned fewer than BATCH_FEW connections is followed by a pause of
 * BATCH_PAUSE_US, so that arrivals are read in batches: a thread woken for every message
 * spent more on being woken than on reading, and on loopback the server pays for each wake-up
 * inside its write. Arrival times are taken when a message is read, so the pause can only
 * lengthen what is measured: by BATCH_PAUSE_US plus the timer's slack (about 50 us) and the
 * wake-up. */
#define BATCH_FEW 64
#define BATCH_PAUSE_US 200

struct opts {
    int port, first, count, threads;
    bool node;
    const char *key, *shared;
    char needle[256];     /* "channel":"<shared>", made once: every message is searched for it */
    size_t needle_len;
};

struct wthread;

enum wstate { W_CONNECTING, W_HANDSHAKE, W_OPEN, W_DEAD };

struct wconn {
    int fd;
    enum wstate state;
    struct wthread *t;
    int user;
    bool ready;           /* every subscription answered */
    int replies;
    unsigned fan_gen;     /* the fan round whose message this connection had */
    wslay_frame_context_ptr f;
    struct buf head;      /* the handshake answer until its end */
    struct buf out;       /* what the socket has not taken yet */
    const uint8_t *in;    /* bytes being fed to wslay */
    size_t in_len;
    struct buf msg;       /* the message being assembled */
    uint64_t frame_left;
    bool in_frame;
    uint8_t frame_op;
};

struct wthread {
    pthread_t thread;
    int ep, wake;         /* epoll; an eventfd that says "stop" */
    const struct opts *o;
    struct wconn *conns;
    int n, next, inflight;
    char rbuf[65536];     /* every read of the thread lands here and is consumed at once */
    pthread_mutex_t mu;   /* lat */
    double *lat;
    size_t lat_n, lat_cap;
};

static struct sockaddr_in server_addr;
static atomic_int ready_count, fan_seen;
static atomic_uint fan_gen; /* 0: not armed */
static atomic_bool stopping;
static _Atomic double fan_cpu_ms; /* cpu_ms() when the fan round was armed */
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of the whole process, user and system: what it took from the server's cores. */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&out_mu);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
    va_end(ap);
}

static void conn_start(struct wthread *t);

static void conn_dead(struct wconn *c)
{
    if (c->state == W_DEAD)
        return;
    if (!c->ready)
        c->t->inflight--;
    c->state = W_DEAD;
    epoll_ctl(c->t->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    conn_start(c->t);
}

/* ---- sending ---------------------------------------------------------------------------- */

static void flush_out(struct wconn *c)
{
    while (c->out.len) {
        ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (errno == EAGAIN)
                return; /* EPOLLOUT says when to go on */
            say("{\"error\":\"cannot send to connection %d: %s\"}", c->user, strerror(errno));
            conn_dead(c);
            return;
        }
        buf_consume(&c->out, (size_t)n);
    }
}

static void send_bytes(struct wconn *c, const void *data, size_t len)
{
    buf_append(&c->out, data, len);
    flush_out(c);
}

/* ---- framing ---------------------------------------------------------------------------- */

static ssize_t recv_cb(uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    struct wconn *c = user;
    if (c->in_len == 0)
        return -1; /* wslay_frame_recv answers WSLAY_ERR_WANT_READ */
    size_t n = len < c->in_len ? len : c->in_len;
    memcpy(buf, c->in, n);
    c->in += n;
    c->in_len -= n;
    return (ssize_t)n;
}

static ssize_t send_cb(const uint8_t *data, size_t len, int flags, void *user)
{
    (void)flags;
    struct wconn *c = user;
    if (c->state == W_DEAD)
        return -1;
    send_bytes(c, data, len);
    return (ssize_t)len;
}

static int genmask_cb(uint8_t *buf, size_t len, void *user)
{
    static _Thread_local uint32_t x = 2463534242u; /* xorshift32: masks need not be secret here */
    (void)user;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    return 0;
}

static const struct wslay_frame_callbacks callbacks = { send_cb, recv_cb, genmask_cb };

static void send_frame(struct wconn *c, uint8_t opcode, const char *text, size_t len)
{
    struct wslay_frame_iocb io = { .fin = 1, .opcode = opcode, .mask = 1,
                                   .payload_length = len, .data = (const uint8_t *)text,
                                   .data_length = len };
    if (wslay_frame_send(c->f, &io) != (ssize_t)len)
        say("{\"error\":\"cannot send to connection %d\"}", c->user);
}

/* ---- messages --------------------------------------------------------------------------- */

/* The number after the last `key` in m (the server writes "ts" last), 0 if none; m need not
 * end in a NUL. */
static double field_number(const char *m, size_t len, const char *key)
{
    size_t k = strlen(key);
    for (size_t i = len >= k ? len - k + 1 : 0; i-- > 0;) {
        if (m[i] != key[0] || memcmp(m + i, key, k) != 0)
            continue;
        double v = 0, scale = 0;
        for (const char *p = m + i + k; p < m + len; p++) {
            if (*p == '.' && scale == 0)
                scale = 1;
            else if (*p >= '0' && *p <= '9') {
                v = v * 10 + (*p - '0');
                scale *= 10;
            } else
                break;
        }
        return scale > 1 ? v / scale : v;
    }
    return 0;
}

static void on_message(struct wconn *c, const char *m, size_t len, double at)
{
    struct wthread *t = c->t;
    if (len > 6 && memcmp(m, "{\"id\":", 6) == 0) {
        /* A reply: the subscriptions (reactor) or the greeting (node). */
        if (!c->ready && ++c->replies == (t->o->node ? 1 : 2)) {
            c->ready = true;
            t->inflight--;
            conn_start(t);
            if (atomic_fetch_add(&ready_count, 1) + 1 == t->o->count)
                say("{\"ready\":%d}", t->o->count);
        }
        return;
    }
    double ts = field_number(m, len, "\"ts\":");
    if (memmem(m, len, t->o->needle, t->o->needle_len)) {
        unsigned gen = atomic_load(&fan_gen);
        if (gen && c->fan_gen != gen) {
            c->fan_gen = gen;
            if (atomic_fetch_add(&fan_seen, 1) + 1 == t->o->count)
                say("{\"fan\":{\"last\":%.3f,\"ts\":%.3f,\"n\":%d,\"cpu_ms\":%.1f}}", at, ts,
                    t->o->count, cpu_ms() - fan_cpu_ms);
        }
        return;
    }
    if (ts > 0) {
        pthread_mutex_lock(&t->mu);
        if (t->lat_n == t->lat_cap) {
            t->lat_cap = t->lat_cap ? t->lat_cap * 2 : 65536;
            t->lat = xrealloc(t->lat, t->lat_cap * sizeof(*t->lat));
        }
        t->lat[t->lat_n++] = at - ts;
        pthread_mutex_unlock(&t->mu);
    }
}

static void feed(struct wconn *c, const uint8_t *data, size_t len, double at)
{
    c->in = data;
    c->in_len = len;
    for (;;) {
        struct wslay_frame_iocb io;
        memset(&io, 0, sizeof(io));
        ssize_t r = wslay_frame_recv(c->f, &io);
        if (r == WSLAY_ERR_WANT_READ)
            return;
        if (r < 0) {
            say("{\"error\":\"bad frame on connection %d\"}", c->user);
            conn_dead(c);
            return;
        }
        if (!c->in_frame && io.fin && io.data_length == io.payload_length &&
            io.opcode == WSLAY_TEXT_FRAME && c->msg.len == 0) {
            on_message(c, (const char *)io.data, io.data_length, at); /* whole: no copy */
            continue;
        }
        if (!c->in_frame) {
            c->in_frame = true;
            c->frame_left = io.payload_length;
            if (io.opcode != WSLAY_CONTINUATION_FRAME)
                c->frame_op = io.opcode;
        }
        if (io.data_length)
            buf_append(&c->msg, io.data, io.data_length);
        c->frame_left -= io.data_length;
        if (c->frame_left)
            continue;
        c->in_frame = false;
        if (!io.fin)
            continue;
        if (c->frame_op == WSLAY_TEXT_FRAME)
            on_message(c, c->msg.data, c->msg.len, at);
        else if (c->frame_op == WSLAY_PING)
            send_frame(c, WSLAY_PONG, c->msg.data, c->msg.len);
        buf_reset(&c->msg);
    }
}

/* ---- connections -------------------------------------------------------------------------- */

static void send_request(struct wconn *c)
{
    const struct opts *o = c->t->o;
    char req[512];
    int len = o->node
                  ? snprintf(req, sizeof(req),
                             "GET /?user=u%d HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n",
                             c->user)
                  : snprintf(req, sizeof(req),
                             "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\nx-api-key: %s\r\n\r\n",
                             o->key);
    send_bytes(c, req, (size_t)len);
}

/* The handshake's answer, until its blank line; then the subscriptions. */
static void on_head(struct wconn *c, const char *data, size_t len, double at)
{
    buf_append(&c->head, data, len);
    const char *end = memmem(c->head.data, c->head.len, "\r\n\r\n", 4);
    if (!end)
        return;
    if (c->head.len < 12 || memcmp(c->head.data + 9, "101", 3) != 0) {
        say("{\"error\":\"connection %d refused: %.*s\"}", c->user, 12,
            c->head.len >= 12 ? c->head.data : "?");
        conn_dead(c);
        return;
    }
    c->state = W_OPEN;
    size_t body = (size_t)(end + 4 - c->head.data);
    if (wslay_frame_context_init(&c->f, &callbacks, c) != 0) {
        say("{\"error\":\"out of memory\"}");
        exit(1);
    }
    if (!c->t->o->node) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "{\"id\":1,\"op\":\"subscribe\",\"channel\":\"user:u%d\"}",
                 c->user);
        send_frame(c, WSLAY_TEXT_FRAME, cmd, strlen(cmd));
        snprintf(cmd, sizeof(cmd), "{\"id\":2,\"op\":\"subscribe\",\"channel\":\"%s\"}",
                 c->t->o->shared);
        send_frame(c, WSLAY_TEXT_FRAME, cmd, strlen(cmd));
    }
    if (c->state == W_OPEN && c->head.len > body)
        feed(c, (const uint8_t *)c->head.data + body, c->head.len - body, at);
    buf_release(&c->head);
}

/* Edge-triggered: reads until the socket is empty. A read shorter than the buffer took all
 * there was, and whatever arrives later raises a new edge; but an end of stream or an error
 * that came with the data raises none, so then it reads on until recv() says so. */
static void on_readable(struct wconn *c, bool hangup)
{
    struct wthread *t = c->t;
    while (c->state == W_HANDSHAKE || c->state == W_OPEN) {
        ssize_t n = recv(c->fd, t->rbuf, sizeof(t->rbuf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            if (!atomic_load(&stopping))
                say("{\"error\":\"connection %d closed by the server: %s\"}", c->user,
                    n == 0 ? "end of stream" : strerror(errno));
            conn_dead(c);
            return;
        }
        double at = now_ms();
        if (c->state == W_OPEN)
            feed(c, (const uint8_t *)t->rbuf, (size_t)n, at);
        else
            on_head(c, t->rbuf, (size_t)n, at);
        if ((size_t)n < sizeof(t->rbuf) && !hangup)
            return;
    }
}

static void on_event(struct wconn *c, uint32_t events)
{
    if (c->state == W_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int err = 0;
        socklen_t l = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
            err = errno;
        if (err) {
            say("{\"error\":\"connection %d failed: %s\"}", c->user, strerror(err));
            conn_dead(c);
            return;
        }
        c->state = W_HANDSHAKE;
        send_request(c);
    } else if (events & EPOLLOUT) {
        flush_out(c);
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
        on_readable(c, events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP));
}

/* Opens connections until HANDSHAKES_IN_FLIGHT are waiting for their answers. */
static void conn_start(struct wthread *t)
{
    while (t->next < t->n && t->inflight < HANDSHAKES_IN_FLIGHT) {
        struct wconn *c = &t->conns[t->next++];
        t->inflight++;
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            say("{\"error\":\"cannot open a socket for %d: %s\"}", c->user, strerror(errno));
            c->state = W_DEAD;
            t->inflight--;
            continue;
        }
        c->state = W_CONNECTING;
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                  .data.ptr = c };
        if (epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0 ||
            (connect(c->fd, (const struct sockaddr *)&server_addr, sizeof(server_addr)) < 0 &&
             errno != EINPROGRESS)) {
            say("{\"error\":\"cannot connect %d: %s\"}", c->user, strerror(errno));
            conn_dead(c);
        }
    }
}

static void *run(void *arg)
{
    struct wthread *t = arg;
    struct epoll_event ev[512];
    conn_start(t);
    while (!atomic_load(&stopping)) {
        int n = epoll_wait(t->ep, ev, 512, -1);
        if (n < 0 && errno != EINTR) {
            say("{\"error\":\"epoll_wait: %s\"}", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++)
            if (ev[i].data.ptr)
                on_event(ev[i].data.ptr, ev[i].events);
        if (n > 0 && n < BATCH_FEW) {
            struct timespec pause = { 0, BATCH_PAUSE_US * 1000 };
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

/* After its thread has stopped: closes its connections (the server sees them go) and frees
 * what it held. */
static void thread_free(struct wthread *t)
{
    for (int i = 0; i < t->n; i++) {
        struct wconn *c = &t->conns[i];
        if (c->state != W_DEAD && c->fd >= 0)
            close(c->fd);
        if (c->f)
            wslay_frame_context_free(c->f);
        buf_release(&c->head);
        buf_release(&c->out);
        buf_release(&c->msg);
    }
    close(t->wake);
    close(t->ep);
    free(t->conns);
    free(t->lat);
    pthread_mutex_destroy(&t->mu);
}

/* ---- control ------------------------------------------------------------------------------ */

static void report(struct wthread *ts, int n)
{
    struct buf b = BUF_INIT;
    buf_append(&b, "{\"lat\":[", 8);
    bool first = true;
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&ts[i].mu);
        for (size_t j = 0; j < ts[i].lat_n; j++) {
            buf_printf(&b, "%s%.3f", first ? "" : ",", ts[i].lat[j]);
            first = false;
        }
        pthread_mutex_unlock(&ts[i].mu);
    }
    buf_append(&b, "]}", 2);
    say("%.*s", (int)b.len, b.data);
    buf_release(&b);
}

static int parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){ .threads = 2, .shared = "leaderboard:xp", .key = "" };
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--port"))
            o->port = atoi(v);
        else if (!strcmp(a, "--first"))
            o->first = atoi(v);
        else if (!strcmp(a, "--count"))
            o->count = atoi(v);
        else if (!strcmp(a, "--threads"))
            o->threads = atoi(v);
        else if (!strcmp(a, "--mode"))
            o->node = !strcmp(v, "node");
        else if (!strcmp(a, "--key"))
            o->key = v;
        else if (!strcmp(a, "--shared"))
            o->shared = v;
        else
            return -1;
    }
    if (o->port <= 0 || o->port > 65535 || o->count <= 0 || o->threads < 1 ||
        o->threads > MAX_THREADS || strlen(o->key) > 200 || strlen(o->shared) > 200)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: bench_ws_load --port P --count N [--first F] "
                        "[--mode reactor|node] [--key K] [--shared CHANNEL] [--threads T]\n");
        return 2;
    }
    int nl = snprintf(o.needle, sizeof(o.needle), "\"channel\":\"%s\"",
                      o.node ? "shared" : o.shared);
    if (nl < 0 || (size_t)nl >= sizeof(o.needle)) {
        fprintf(stderr, "bench_ws_load: --shared is too long\n");
        return 2;
    }
    o.needle_len = (size_t)nl;
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons((uint16_t)o.port);
    server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static struct wthread ts[MAX_THREADS]; /* zeroed; too large for the stack */
    for (int i = 0; i < o.threads; i++) {
        struct wthread *t = &ts[i];
        t->o = &o;
        t->n = o.count / o.threads + (i < o.count % o.threads);
        t->conns = xcalloc((size_t)(t->n ? t->n : 1), sizeof(*t->conns));
        int base = o.first + i * (o.count / o.threads) + (i < o.count % o.threads ? i : o.count % o.threads);
        for (int j = 0; j < t->n; j++) {
            t->conns[j].t = t;
            t->conns[j].user = base + j;
            t->conns[j].fd = -1;
            t->conns[j].state = W_DEAD;
        }
        pthread_mutex_init(&t->mu, NULL);
        t->ep = epoll_create1(EPOLL_CLOEXEC);
        t->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
        if (t->ep < 0 || t->wake < 0 || epoll_ctl(t->ep, EPOLL_CTL_ADD, t->wake, &ev) < 0) {
            fprintf(stderr, "bench_ws_load: epoll: %s\n", strerror(errno));
            return 1;
        }
        pthread_create(&t->thread, NULL, run, t);
    }
    char line[64];
    while (fgets(line, sizeof(line), stdin)) {
        if (!strncmp(line, "fan", 3)) {
            atomic_store(&fan_seen, 0);
            fan_cpu_ms = cpu_ms();
            atomic_fetch_add(&fan_gen, 1);
        } else if (!strncmp(line, "lat", 3)) {
            for (int i = 0; i < o.threads; i++) {
                pthread_mutex_lock(&ts[i].mu);
                ts[i].lat_n = 0;
                pthread_mutex_unlock(&ts[i].mu);
            }
        } else if (!strncmp(line, "report", 6)) {
            report(ts, o.threads);
        } else if (!strncmp(line, "exit", 4)) {
            break;
        }
    }
    /* Stops every thread, then closes every connection. */
    atomic_store(&stopping, true);
    for (int i = 0; i < o.threads; i++) {
        uint64_t one = 1;
        if (write(ts[i].wake, &one, sizeof(one)) < 0)
            perror("bench_ws_load: eventfd");
    }
    for (int i = 0; i < o.threads; i++) {
        pthread_join(ts[i].thread, NULL);
        thread_free(&ts[i]);
    }
    return 0;
}
