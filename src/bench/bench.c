/* The load generator (see bench.h). */
#include "bench/bench.h"

#include <errno.h>
#include <http_parser.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "bench/latency.h"
#include "core/buf.h"
#include "core/hmac.h"
#include "core/mem.h"
#include "core/secret.h"

enum mode { MODE_HEALTH, MODE_EVENTS, MODE_BATCH };

struct options {
    char host[256];
    int port;
    const char *app, *key, *secret;
    enum mode mode;
    int connections;
    int duration;   /* seconds */
    int users;
    int batch_size;
    int pipeline;   /* requests in flight per connection */
    bool json;
};

struct bench;

#define MAX_PIPELINE 64

struct bconn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    http_parser parser;
    struct bench *b;
    unsigned id;
    uint64_t seq;
    struct buf req;          /* the requests being written; owned until the write completes */
    uint64_t sent_ns[MAX_PIPELINE]; /* ring: send times of the requests in flight, oldest first */
    unsigned head, inflight;
    unsigned owed;           /* requests to send as soon as no write is in flight */
    bool open;               /* tcp handle initialised and not closed */
    bool failed;             /* closed by an error: reconnect after a pause */
    uv_timer_t retry;        /* that pause; initialised with the connection's first start */
    bool writing;            /* `write` in flight: libuv may report its completion after the
                              * answer was read, and the request may not be reused before */
};

struct bench {
    struct options o;
    uv_loop_t *loop;
    struct sockaddr_storage addr;
    struct bconn *conns;
    uv_timer_t end;
    bool running;
    uint64_t started_ns, stopped_ns;
    struct latency lat;
    uint64_t ok, non_2xx, conn_errors, events;
    char nonce_prefix[17];
    uint64_t user_rng;
    struct hmac_key *signer; /* the app secret, scheduled once */
};

static const http_parser_settings parser_settings;

/* ---- requests ---------------------------------------------------------------------------- */

static uint64_t next_rand(struct bench *b)
{
    uint64_t x = b->user_rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return b->user_rng = x;
}

static void append_event(struct bench *b, struct bconn *c, struct buf *body, unsigned i)
{
    buf_puts(body, "{\"appId\":");
    buf_append_json_string(body, b->o.app, strlen(b->o.app));
    buf_printf(body,
               ",\"userId\":\"bench-user-%llu\",\"eventType\":\"bench_event\","
               "\"metadata\":{\"connection\":%u,\"seq\":%llu,\"i\":%u}}",
               (unsigned long long)(next_rand(b) % (uint64_t)b->o.users), c->id,
               (unsigned long long)c->seq, i);
}

/* Appends one request to c->req. */
static void build_request(struct bench *b, struct bconn *c)
{
    struct buf *r = &c->req;
    c->seq++;
    if (b->o.mode == MODE_HEALTH) {
        buf_printf(r, "GET /health HTTP/1.1\r\nHost: %s\r\n\r\n", b->o.host);
        return;
    }
    struct buf body = BUF_INIT;
    if (b->o.mode == MODE_EVENTS) {
        append_event(b, c, &body, 0);
    } else {
        buf_puts(&body, "{\"events\":[");
        for (int i = 0; i < b->o.batch_size; i++) {
            if (i)
                buf_putc(&body, ',');
            append_event(b, c, &body, (unsigned)i);
        }
        buf_puts(&body, "]}");
    }
    char ts[24], nonce[64], sig[HMAC_HEX_LEN + 1];
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    snprintf(nonce, sizeof(nonce), "%s-%u-%llu", b->nonce_prefix, c->id,
             (unsigned long long)c->seq);
    struct hmac_part parts[] = {
        { ts, strlen(ts) }, { ".", 1 }, { nonce, strlen(nonce) }, { ".", 1 },
        { body.data, body.len },
    };
    if (!b->signer || hmac_key_hex(b->signer, parts, 5, sig) < 0)
        strcpy(sig, "unsigned"); /* the crypto library failed: the server will say 401 */
    buf_printf(r,
               "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
               "Content-Length: %zu\r\nx-api-key: %s\r\nx-signature-timestamp: %s\r\n"
               "x-signature-nonce: %s\r\nx-signature: %s\r\n\r\n",
               b->o.mode == MODE_EVENTS ? "/events" : "/events/batch", b->o.host, body.len,
               b->o.key, ts, nonce, sig);
    buf_append(r, body.data, body.len);
    buf_release(&body);
}

/* ---- connections ------------------------------------------------------------------------- */

static void conn_start(struct bconn *c);

static void on_retry(uv_timer_t *t)
{
    struct bconn *c = t->data;
    if (c->b->running)
        conn_start(c);
}

/* A refused or broken connection is retried after 10 ms, so a server that went away is not
 * hammered with connects (and the generator does not spin); one closed by the server in good
 * order reconnects at once. */
#define RETRY_MS 10

static void on_closed(uv_handle_t *h)
{
    struct bconn *c = h->data;
    c->open = false;
    if (!c->b->running)
        return;
    if (c->failed)
        uv_timer_start(&c->retry, on_retry, RETRY_MS, 0);
    else
        conn_start(c);
}

static void conn_close(struct bconn *c)
{
    if (c->open && !uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void conn_fail(struct bconn *c)
{
    if (c->b->running)
        c->b->conn_errors++;
    c->failed = true;
    conn_close(c);
}

static void pump(struct bconn *c);

static void on_written(uv_write_t *w, int status)
{
    struct bconn *c = w->data;
    c->writing = false;
    if (status < 0) {
        conn_fail(c);
        return;
    }
    pump(c);
}

/* Sends every owed request in one write, unless a write is still in flight (libuv may report
 * its completion after the answer was read, and the buffer may not be reused before). */
static void pump(struct bconn *c)
{
    if (c->writing || c->owed == 0)
        return;
    buf_reset(&c->req);
    uint64_t now = uv_hrtime();
    for (; c->owed > 0; c->owed--) {
        build_request(c->b, c);
        c->sent_ns[(c->head + c->inflight++) % MAX_PIPELINE] = now;
    }
    uv_buf_t ub = uv_buf_init(c->req.data, (unsigned)c->req.len);
    c->write.data = c;
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &ub, 1, on_written) < 0) {
        conn_fail(c);
        return;
    }
    c->writing = true;
}

static int on_message_complete(http_parser *p)
{
    struct bconn *c = p->data;
    struct bench *b = c->b;
    if (!b->running)
        return 0;
    latency_record(&b->lat, (uv_hrtime() - c->sent_ns[c->head]) / 1000);
    c->head = (c->head + 1) % MAX_PIPELINE;
    c->inflight--;
    unsigned status = p->status_code;
    bool ok = b->o.mode == MODE_HEALTH ? status == 200 : (status >= 200 && status < 300);
    if (ok) {
        b->ok++;
        b->events += b->o.mode == MODE_BATCH ? (uint64_t)b->o.batch_size : 1;
    } else {
        b->non_2xx++;
    }
    if (!http_should_keep_alive(p)) {
        conn_close(c);
        return 0;
    }
    c->owed++;
    pump(c);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_complete = on_message_complete,
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)h;
    static char buf[64 * 1024]; /* one loop, one read at a time */
    (void)suggested;
    *out = uv_buf_init(buf, sizeof(buf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *rb)
{
    struct bconn *c = s->data;
    if (n == 0)
        return; /* nothing read (EAGAIN); a length of 0 would tell the parser "EOF" */
    if (n < 0) {
        conn_fail(c);
        return;
    }
    size_t done = http_parser_execute(&c->parser, &parser_settings, rb->base, (size_t)n);
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || done != (size_t)n)
        conn_fail(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct bconn *c = req->data;
    if (status < 0) {
        conn_fail(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    c->owed = (unsigned)c->b->o.pipeline;
    pump(c);
}

static void conn_start(struct bconn *c)
{
    uv_tcp_init(c->b->loop, &c->tcp);
    c->tcp.data = c;
    c->open = true;
    c->writing = c->failed = false;
    c->head = c->inflight = c->owed = 0;
    c->connect.data = c;
    if (uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&c->b->addr, on_connect) <
        0)
        conn_fail(c);
}

static void on_end(uv_timer_t *t)
{
    struct bench *b = t->data;
    b->running = false;
    b->stopped_ns = uv_hrtime();
    for (int i = 0; i < b->o.connections; i++) {
        conn_close(&b->conns[i]);
        uv_close((uv_handle_t *)&b->conns[i].retry, NULL);
    }
    uv_close((uv_handle_t *)&b->end, NULL);
}

/* ---- options ----------------------------------------------------------------------------- */

static int parse_int_opt(const char *name, const char *v, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || *end || end == v || n < lo || n > hi) {
        fprintf(stderr, "reactor bench: %s must be an integer in [%d, %d]\n", name, lo, hi);
        return -1;
    }
    *out = (int)n;
    return 0;
}

static int parse_url(const char *url, struct options *o)
{
    if (strncmp(url, "http://", 7) != 0) {
        fprintf(stderr, "reactor bench: --url must be http://host:port\n");
        return -1;
    }
    const char *h = url + 7;
    const char *colon = strrchr(h, ':');
    const char *slash = strchr(h, '/');
    size_t hlen = colon && (!slash || colon < slash) ? (size_t)(colon - h)
                                                      : (slash ? (size_t)(slash - h) : strlen(h));
    if (hlen == 0 || hlen >= sizeof(o->host)) {
        fprintf(stderr, "reactor bench: --url has no host\n");
        return -1;
    }
    memcpy(o->host, h, hlen);
    o->host[hlen] = '\0';
    o->port = 80;
    if (colon && (!slash || colon < slash)) {
        char port[8] = "";
        size_t plen = slash ? (size_t)(slash - colon - 1) : strlen(colon + 1);
        if (plen == 0 || plen >= sizeof(port)) {
            fprintf(stderr, "reactor bench: bad port in --url\n");
            return -1;
        }
        memcpy(port, colon + 1, plen);
        if (parse_int_opt("the port of --url", port, 1, 65535, &o->port) < 0)
            return -1;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "Usage: reactor bench [options]\n"
            "  --url URL          server, http://host:port (default http://127.0.0.1:3000)\n"
            "  --mode MODE        health, events or batch (default health)\n"
            "  --app ID --key KEY --secret SECRET\n"
            "                     app id, API key and webhook secret (events and batch)\n"
            "  --connections N    keep-alive connections (default 64)\n"
            "  --duration S       seconds to run (default 10)\n"
            "  --users N          distinct user ids in events (default 10000)\n"
            "  --batch-size N     events per batch request (default 100)\n"
            "  --pipeline N       requests in flight per connection, HTTP/1.1 pipelining\n"
            "                     (default 1: send the next request when the answer came)\n"
            "  --json             end with one JSON line of results\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof(*o));
    strcpy(o->host, "127.0.0.1");
    o->port = 3000;
    o->connections = 64;
    o->duration = 10;
    o->users = 10000;
    o->batch_size = 100;
    o->pipeline = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(a, "--json")) {
            o->json = true;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return 1;
        }
        if (!v) {
            fprintf(stderr, "reactor bench: %s needs a value (see --help)\n", a);
            return -1;
        }
        i++;
        if (!strcmp(a, "--url"))
            rc = parse_url(v, o);
        else if (!strcmp(a, "--app"))
            o->app = v;
        else if (!strcmp(a, "--key"))
            o->key = v;
        else if (!strcmp(a, "--secret"))
            o->secret = v;
        else if (!strcmp(a, "--mode")) {
            if (!strcmp(v, "health"))
                o->mode = MODE_HEALTH;
            else if (!strcmp(v, "events"))
                o->mode = MODE_EVENTS;
            else if (!strcmp(v, "batch"))
                o->mode = MODE_BATCH;
            else {
                fprintf(stderr, "reactor bench: --mode must be health, events or batch\n");
                rc = -1;
            }
        } else if (!strcmp(a, "--connections"))
            rc = parse_int_opt(a, v, 1, 10000, &o->connections);
        else if (!strcmp(a, "--duration"))
            rc = parse_int_opt(a, v, 1, 3600, &o->duration);
        else if (!strcmp(a, "--users"))
            rc = parse_int_opt(a, v, 1, 100000000, &o->users);
        else if (!strcmp(a, "--batch-size"))
            rc = parse_int_opt(a, v, 1, 1000, &o->batch_size);
        else if (!strcmp(a, "--pipeline"))
            rc = parse_int_opt(a, v, 1, MAX_PIPELINE, &o->pipeline);
        else {
            fprintf(stderr, "reactor bench: unknown option %s (see --help)\n", a);
            rc = -1;
        }
        if (rc < 0)
            return -1;
    }
    if (o->mode != MODE_HEALTH && (!o->app || !o->key || !o->secret)) {
        fprintf(stderr, "reactor bench: --mode events and batch need --app, --key and --secret\n");
        return -1;
    }
    return 0;
}

static int resolve(struct bench *b)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    char port[8];
    snprintf(port, sizeof(port), "%d", b->o.port);
    int rc = getaddrinfo(b->o.host, port, &hints, &res);
    if (rc != 0 || !res) {
        fprintf(stderr, "reactor bench: cannot resolve %s: %s\n", b->o.host, gai_strerror(rc));
        return -1;
    }
    memcpy(&b->addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

/* ---- the run ----------------------------------------------------------------------------- */

static const char *const mode_names[] = { "health", "events", "batch" };

int bench_main(int argc, char **argv)
{
    struct bench *b = xcalloc(1, sizeof(*b));
    int ret = 2;
    int prc = parse_options(argc, argv, &b->o);
    if (prc != 0) {
        ret = prc > 0 ? 0 : 2;
        goto out;
    }
    ret = 1;
    if (resolve(b) < 0)
        goto out;
    if (secret_random_hex(b->nonce_prefix, 8) < 0)
        goto out;
    if (b->o.secret)
        b->signer = hmac_key_new(b->o.secret, strlen(b->o.secret));
    b->user_rng = 0x9e3779b97f4a7c15u ^ (uint64_t)time(NULL);
    latency_init(&b->lat);
    b->loop = uv_default_loop();
    b->conns = xcalloc((size_t)b->o.connections, sizeof(*b->conns));
    b->running = true;
    uv_timer_init(b->loop, &b->end);
    b->end.data = b;
    uv_timer_start(&b->end, on_end, (uint64_t)b->o.duration * 1000, 0);
    fprintf(stderr, "reactor bench: mode=%s url=http://%s:%d connections=%d duration=%ds",
            mode_names[b->o.mode], b->o.host, b->o.port, b->o.connections, b->o.duration);
    if (b->o.mode != MODE_HEALTH)
        fprintf(stderr, " users=%d", b->o.users);
    if (b->o.mode == MODE_BATCH)
        fprintf(stderr, " batch-size=%d", b->o.batch_size);
    if (b->o.pipeline > 1)
        fprintf(stderr, " pipeline=%d", b->o.pipeline);
    fputc('\n', stderr);
    b->started_ns = uv_hrtime();
    for (int i = 0; i < b->o.connections; i++) {
        b->conns[i].b = b;
        b->conns[i].id = (unsigned)i;
        buf_init(&b->conns[i].req);
        uv_timer_init(b->loop, &b->conns[i].retry);
        b->conns[i].retry.data = &b->conns[i];
        conn_start(&b->conns[i]);
    }
    uv_run(b->loop, UV_RUN_DEFAULT);
    uv_loop_close(b->loop);

    double secs = (double)(b->stopped_ns - b->started_ns) / 1e9;
    double rps = (double)(b->ok + b->non_2xx) / secs, eps = (double)b->events / secs;
    double p50 = (double)latency_percentile(&b->lat, 0.50) / 1000.0;
    double p90 = (double)latency_percentile(&b->lat, 0.90) / 1000.0;
    double p99 = (double)latency_percentile(&b->lat, 0.99) / 1000.0;
    double max = (double)b->lat.max_us / 1000.0;
    uint64_t errors = b->non_2xx + b->conn_errors;
    printf("requests: %llu in %.2f s, %.0f/s\n", (unsigned long long)(b->ok + b->non_2xx), secs,
           rps);
    if (b->o.mode != MODE_HEALTH)
        printf("events accepted: %llu, %.0f/s\n", (unsigned long long)b->events, eps);
    printf("latency: p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n", p50, p90, p99, max);
    printf("errors: %llu (non-2xx answers %llu, connection errors %llu)\n",
           (unsigned long long)errors, (unsigned long long)b->non_2xx,
           (unsigned long long)b->conn_errors);
    if (b->o.json)
        printf("{\"mode\":\"%s\",\"connections\":%d,\"pipeline\":%d,\"duration_s\":%.3f,"
               "\"requests\":%llu,"
               "\"requests_per_sec\":%.1f,\"events_per_sec\":%.1f,\"p50_ms\":%.3f,"
               "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"errors\":%llu,"
               "\"non_2xx\":%llu,\"connection_errors\":%llu}\n",
               mode_names[b->o.mode], b->o.connections, b->o.pipeline, secs,
               (unsigned long long)(b->ok + b->non_2xx), rps,
               b->o.mode == MODE_HEALTH ? rps : eps, p50, p90, p99, max,
               (unsigned long long)errors, (unsigned long long)b->non_2xx,
               (unsigned long long)b->conn_errors);
    fflush(stdout);
    ret = b->ok + b->non_2xx > 0 ? 0 : 1;
out:
    if (b->conns) {
        for (int i = 0; i < b->o.connections; i++)
            buf_release(&b->conns[i].req);
    }
    hmac_key_free(b->signer);
    free(b->conns);
    free(b);
    return ret;
}
