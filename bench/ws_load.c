/* The WebSocket side of the fan-out benchmark: holds N client connections and times what
 * arrives on them, for bench/ws/load.js, which drives it over stdin and stdout (one JSON object
 * a line each way) and sends the events. A Node client spent more time parsing 19,000
 * arrivals than the server spent sending them; this one reads with libuv on a few threads,
 * frames with wslay (as the server does) and finds the two fields it needs without a JSON
 * parser.
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
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>
#include <wslay/wslay.h>

#include "core/buf.h"
#include "core/mem.h"

#define MAX_THREADS 8
#define HANDSHAKES_IN_FLIGHT 64 /* per thread */

struct opts {
    int port, first, count, threads;
    bool node;
    const char *key, *shared;
    char needle[256];     /* "channel":"<shared>", made once: every message is searched for it */
    size_t needle_len;
};

struct wthread;

struct wconn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    struct wthread *t;
    int user;
    bool open;            /* past the 101 */
    bool ready;           /* every subscription answered */
    int replies;
    unsigned fan_gen;     /* the fan round whose message this connection had */
    wslay_frame_context_ptr f;
    struct buf head;      /* the handshake answer until its end */
    const uint8_t *in;    /* bytes being fed to wslay */
    size_t in_len;
    struct buf msg;       /* the message being assembled */
    uint64_t frame_left;
    bool in_frame;
    uint8_t frame_op;
    char rbuf[65536];
};

struct wthread {
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    const struct opts *o;
    struct wconn *conns;
    int n, next, inflight;
    pthread_mutex_t mu;   /* lat */
    double *lat;
    size_t lat_n, lat_cap;
};

static struct sockaddr_in server_addr;
static atomic_int ready_count, fan_seen;
static atomic_uint fan_gen; /* 0: not armed */
static atomic_bool stopping;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
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

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static ssize_t send_cb(const uint8_t *data, size_t len, int flags, void *user)
{
    (void)flags;
    struct wconn *c = user;
    uv_write_t *w = xmalloc(sizeof(*w));
    w->data = xmalloc(len);
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        free(w->data);
        free(w);
        return -1;
    }
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

static double field_number(const char *m, size_t len, const char *key)
{
    const char *p = memmem(m, len, key, strlen(key));
    return p ? strtod(p + strlen(key), NULL) : 0;
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
                say("{\"fan\":{\"last\":%.3f,\"ts\":%.3f,\"n\":%d}}", at, ts, t->o->count);
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
            uv_read_stop((uv_stream_t *)&c->tcp);
            return;
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

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)suggested;
    struct wconn *c = h->data;
    *out = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct wconn *c = s->data;
    double at = now_ms();
    if (n < 0) {
        if (!atomic_load(&stopping))
            say("{\"error\":\"connection %d closed by the server: %s\"}", c->user,
                uv_strerror((int)n));
        uv_read_stop(s);
        return;
    }
    if (c->open) {
        feed(c, (const uint8_t *)b->base, (size_t)n, at);
        return;
    }
    buf_append(&c->head, b->base, (size_t)n);
    const char *end = memmem(c->head.data, c->head.len, "\r\n\r\n", 4);
    if (!end)
        return;
    if (c->head.len < 12 || memcmp(c->head.data + 9, "101", 3) != 0) {
        say("{\"error\":\"connection %d refused: %.*s\"}", c->user, 12,
            c->head.len >= 12 ? c->head.data : "?");
        uv_read_stop(s);
        return;
    }
    c->open = true;
    size_t body = (size_t)(end + 4 - c->head.data);
    wslay_frame_context_init(&c->f, &callbacks, c);
    if (!c->t->o->node) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "{\"id\":1,\"op\":\"subscribe\",\"channel\":\"user:u%d\"}",
                 c->user);
        send_frame(c, WSLAY_TEXT_FRAME, cmd, strlen(cmd));
        snprintf(cmd, sizeof(cmd), "{\"id\":2,\"op\":\"subscribe\",\"channel\":\"%s\"}",
                 c->t->o->shared);
        send_frame(c, WSLAY_TEXT_FRAME, cmd, strlen(cmd));
    }
    if (c->head.len > body)
        feed(c, (const uint8_t *)c->head.data + body, c->head.len - body, at);
    buf_release(&c->head);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct wconn *c = req->data;
    if (status < 0) {
        say("{\"error\":\"connection %d failed: %s\"}", c->user, uv_strerror(status));
        return;
    }
    const struct opts *o = c->t->o;
    char req_text[512];
    int len = o->node
                  ? snprintf(req_text, sizeof(req_text),
                             "GET /?user=u%d HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n",
                             c->user)
                  : snprintf(req_text, sizeof(req_text),
                             "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\nx-api-key: %s\r\n\r\n",
                             o->key);
    uv_write_t *w = xmalloc(sizeof(*w));
    w->data = xmalloc((size_t)len);
    memcpy(w->data, req_text, (size_t)len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* Opens connections until HANDSHAKES_IN_FLIGHT are waiting for their answers. */
static void conn_start(struct wthread *t)
{
    while (t->next < t->n && t->inflight < HANDSHAKES_IN_FLIGHT) {
        struct wconn *c = &t->conns[t->next++];
        t->inflight++;
        uv_tcp_init(&t->loop, &c->tcp);
        c->tcp.data = c;
        c->connect.data = c;
        if (uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&server_addr,
                           on_connect) < 0)
            say("{\"error\":\"cannot connect %d\"}", c->user);
    }
}

static void on_wake(uv_async_t *a)
{
    if (atomic_load(&stopping))
        uv_stop(a->loop);
}

static void *run(void *arg)
{
    struct wthread *t = arg;
    conn_start(t);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* After its thread has stopped: closes its handles and frees what it held. */
static void thread_free(struct wthread *t)
{
    uv_walk(&t->loop, close_handle, NULL);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    uv_loop_close(&t->loop);
    for (int i = 0; i < t->n; i++) {
        struct wconn *c = &t->conns[i];
        if (c->f)
            wslay_frame_context_free(c->f);
        buf_release(&c->head);
        buf_release(&c->msg);
    }
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
    uv_ip4_addr("127.0.0.1", o.port, &server_addr);
    struct wthread ts[MAX_THREADS];
    memset(ts, 0, sizeof(ts));
    for (int i = 0; i < o.threads; i++) {
        struct wthread *t = &ts[i];
        t->o = &o;
        t->n = o.count / o.threads + (i < o.count % o.threads);
        t->conns = xcalloc((size_t)(t->n ? t->n : 1), sizeof(*t->conns));
        int base = o.first + i * (o.count / o.threads) + (i < o.count % o.threads ? i : o.count % o.threads);
        for (int j = 0; j < t->n; j++) {
            t->conns[j].t = t;
            t->conns[j].user = base + j;
        }
        pthread_mutex_init(&t->mu, NULL);
        uv_loop_init(&t->loop);
        uv_async_init(&t->loop, &t->wake, on_wake);
        pthread_create(&t->thread, NULL, run, t);
    }
    char line[64];
    while (fgets(line, sizeof(line), stdin)) {
        if (!strncmp(line, "fan", 3)) {
            atomic_store(&fan_seen, 0);
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
    /* Stops every loop, then closes every connection (the server sees them go). */
    atomic_store(&stopping, true);
    for (int i = 0; i < o.threads; i++)
        uv_async_send(&ts[i].wake);
    for (int i = 0; i < o.threads; i++) {
        pthread_join(ts[i].thread, NULL);
        thread_free(&ts[i]);
    }
    return 0;
}
