/* The load generator (see bench.h). */
#include "bench/bench.h"

#include <assert.h>
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

enum mode { MODE_HEALTH, MODE_EVENTS, MODE_BATCH, MODE_GET };

#define MAX_PATHS      64   /* --path given at most this many times */
#define MAX_PATH_LEN   4096
#define MAX_USER_SLOTS 8    /* {USER} at most this many times in one path */
#define USER_MARK      "{USER}"

struct options {
    char host[256];
    int port;
    const char *app, *key, *secret;
    enum mode mode;
    const char *paths[MAX_PATHS]; /* get mode; borrowed from argv */
    int npaths;
    int connections;
    int duration;   /* seconds */
    int users;
    int batch_size;
    int pipeline;   /* requests in flight per connection */
    bool json;
};

struct bench;

#define MAX_PIPELINE 64

/* One GET request of get (and health) mode, built once: the whole request with each {USER}
 * of its path cut out, and where the user ids go. */
struct get_request {
    struct buf text;
    size_t cuts[MAX_USER_SLOTS]; /* offsets into text, ascending */
    unsigned ncuts;
};

struct bconn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    http_parser parser;
    struct bench *b;
    unsigned id;
    uint64_t seq;
    unsigned next_get;       /* get mode: index of the next path, round robin */
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
    struct buf app_json;     /* the app id as a JSON string */
    struct buf post_head;    /* " HTTP/1.1", Host, Content-Type, x-api-key, "Content-Length: " */
    struct buf body, ts, nonce; /* the request being built (one loop thread) */
    struct get_request *gets; /* health and get modes: one per path */
    int ngets;
    bool gets_users;          /* some path holds {USER} */
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

/* User ids are "bench-user-<n>", n uniform in [0, --users): events create them, and get
 * mode asks for the same ones through {USER}. */
#define USER_PREFIX "bench-user-"

static uint64_t next_user(struct bench *b)
{
    return next_rand(b) % (uint64_t)b->o.users;
}

/* Events and headers are written with plain appends (no printf): the generator shares the
 * machine with the server it measures, so its CPU an event is taken from the server's. */
static void append_event(struct bench *b, struct bconn *c, struct buf *body, unsigned i)
{
    buf_puts(body, "{\"appId\":");
    buf_append(body, b->app_json.data, b->app_json.len);
    buf_puts(body, ",\"userId\":\"" USER_PREFIX);
    buf_append_u64(body, next_user(b));
    buf_puts(body, "\",\"eventType\":\"bench_event\",\"metadata\":{\"connection\":");
    buf_append_u64(body, c->id);
    buf_puts(body, ",\"seq\":");
    buf_append_u64(body, c->seq);
    buf_puts(body, ",\"i\":");
    buf_append_u64(body, i);
    buf_puts(body, "}}");
}

/* Builds g from path: "GET <path> HTTP/1.1", Host, and x-api-key when key is not NULL.
 * The path was checked by parse_options (starts with '/', visible ASCII, at most
 * MAX_USER_SLOTS marks). */
static void get_request_init(struct get_request *g, const char *host, const char *path,
                             const char *key)
{
    buf_init(&g->text);
    g->ncuts = 0;
    buf_puts(&g->text, "GET ");
    for (const char *p = path, *m; *p; p = m + strlen(USER_MARK)) {
        m = strstr(p, USER_MARK);
        if (!m) {
            buf_puts(&g->text, p);
            break;
        }
        assert(g->ncuts < MAX_USER_SLOTS);
        buf_append(&g->text, p, (size_t)(m - p));
        g->cuts[g->ncuts++] = g->text.len;
    }
    buf_printf(&g->text, " HTTP/1.1\r\nHost: %s\r\n", host);
    if (key)
        buf_printf(&g->text, "x-api-key: %s\r\n", key);
    buf_puts(&g->text, "\r\n");
}

/* Appends g to r with one user id drawn for all of its {USER} marks. */
static void append_get(struct bench *b, const struct get_request *g, struct buf *r)
{
    if (g->ncuts == 0) {
        buf_append(r, g->text.data, g->text.len);
        return;
    }
    char user[40];
    int ulen = snprintf(user, sizeof(user), USER_PREFIX "%llu", (unsigned long long)next_user(b));
    size_t from = 0;
    for (unsigned i = 0; i < g->ncuts; i++) {
        buf_append(r, g->text.data + from, g->cuts[i] - from);
        buf_append(r, user, (size_t)ulen);
        from = g->cuts[i];
    }
    buf_append(r, g->text.data + from, g->text.len - from);
}

/* Appends one request to c->req. */
static void build_request(struct bench *b, struct bconn *c)
{
    struct buf *r = &c->req;
    c->seq++;
    if (b->o.mode == MODE_HEALTH || b->o.mode == MODE_GET) {
        append_get(b, &b->gets[c->next_get], r);
        c->next_get = (c->next_get + 1) % (unsigned)b->ngets;
        return;
    }
    struct buf *body = &b->body;
    buf_reset(body);
    if (b->o.mode == MODE_EVENTS) {
        append_event(b, c, body, 0);
    } else {
        buf_puts(body, "{\"events\":[");
        for (int i = 0; i < b->o.batch_size; i++) {
            if (i)
                buf_putc(body, ',');
            append_event(b, c, body, (unsigned)i);
        }
        buf_puts(body, "]}");
    }
    struct buf *ts = &b->ts, *nonce = &b->nonce;
    char sig[HMAC_HEX_LEN + 1];
    buf_reset(ts);
    buf_append_u64(ts, (uint64_t)time(NULL));
    buf_reset(nonce);
    buf_puts(nonce, b->nonce_prefix);
    buf_putc(nonce, '-');
    buf_append_u64(nonce, c->id);
    buf_putc(nonce, '-');
    buf_append_u64(nonce, c->seq);
    struct hmac_part parts[] = {
        { ts->data, ts->len }, { ".", 1 }, { nonce->data, nonce->len }, { ".", 1 },
        { body->data, body->len },
    };
    if (!b->signer || hmac_key_hex(b->signer, parts, 5, sig) < 0)
        strcpy(sig, "unsigned"); /* the crypto library failed: the server will say 401 */
    buf_puts(r, b->o.mode == MODE_EVENTS ? "POST /events" : "POST /events/batch");
    buf_append(r, b->post_head.data, b->post_head.len);
    buf_append_u64(r, body->len);
    buf_puts(r, "\r\nx-signature-timestamp: ");
    buf_append(r, ts->data, ts->len);
    buf_puts(r, "\r\nx-signature-nonce: ");
    buf_append(r, nonce->data, nonce->len);
    buf_puts(r, "\r\nx-signature: ");
    buf_puts(r, sig);
    buf_puts(r, "\r\n\r\n");
    buf_append(r, body->data, body->len);
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
            "  --mode MODE        health, events, batch or get (default health)\n"
            "  --app ID --key KEY --secret SECRET\n"
            "                     app id, API key and webhook secret (events and batch);\n"
            "                     get mode sends --key, if given, as x-api-key\n"
            "  --path PATH        get mode: the path and query to GET; up to %d of them,\n"
            "                     taken in turn on each connection. {USER} in a path becomes\n"
            "                     a user id as events mode names them (" USER_PREFIX "<n>,\n"
            "                     n < --users), drawn for each request\n"
            "  --connections N    keep-alive connections (default 64)\n"
            "  --duration S       seconds to run (default 10)\n"
            "  --users N          distinct user ids in events and {USER} (default 10000)\n"
            "  --batch-size N     events per batch request (default 100)\n"
            "  --pipeline N       requests in flight per connection, HTTP/1.1 pipelining\n"
            "                     (default 1: send the next request when the answer came)\n"
            "  --json             end with one JSON line of results\n"
            "A request succeeds when answered 200 in health mode and any 2xx in the others;\n"
            "every other answer counts as an error.\n",
            MAX_PATHS);
}

/* A path is sent as given, so it must be one request-target: it starts with '/', has only
 * visible ASCII (spaces and non-ASCII percent-encoded) and at most MAX_USER_SLOTS {USER}. */
static int check_path(const char *path)
{
    size_t len = strlen(path);
    if (path[0] != '/') {
        fprintf(stderr, "reactor bench: --path must start with '/' (got \"%s\")\n", path);
        return -1;
    }
    if (len > MAX_PATH_LEN) {
        fprintf(stderr, "reactor bench: --path is longer than %d bytes\n", MAX_PATH_LEN);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)path[i];
        if (ch <= 0x20 || ch >= 0x7f) {
            fprintf(stderr,
                    "reactor bench: --path may hold only visible ASCII characters; "
                    "percent-encode spaces and others (byte %zu of \"%s\")\n",
                    i, path);
            return -1;
        }
    }
    unsigned marks = 0;
    for (const char *m = strstr(path, USER_MARK); m; m = strstr(m + strlen(USER_MARK), USER_MARK))
        marks++;
    if (marks > MAX_USER_SLOTS) {
        fprintf(stderr, "reactor bench: --path may hold {USER} at most %d times\n", MAX_USER_SLOTS);
        return -1;
    }
    return 0;
}

/* A key goes into a header line as given: visible ASCII only. */
static int check_key(const char *key)
{
    for (const char *p = key; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            fprintf(stderr, "reactor bench: --key may hold only visible ASCII characters\n");
            return -1;
        }
    }
    return 0;
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
        else if (!strcmp(a, "--key")) {
            o->key = v;
            rc = check_key(v);
        } else if (!strcmp(a, "--path")) {
            if (o->npaths == MAX_PATHS) {
                fprintf(stderr, "reactor bench: --path may be given at most %d times\n", MAX_PATHS);
                rc = -1;
            } else if ((rc = check_path(v)) == 0)
                o->paths[o->npaths++] = v;
        } else if (!strcmp(a, "--secret"))
            o->secret = v;
        else if (!strcmp(a, "--mode")) {
            if (!strcmp(v, "health"))
                o->mode = MODE_HEALTH;
            else if (!strcmp(v, "events"))
                o->mode = MODE_EVENTS;
            else if (!strcmp(v, "batch"))
                o->mode = MODE_BATCH;
            else if (!strcmp(v, "get"))
                o->mode = MODE_GET;
            else {
                fprintf(stderr, "reactor bench: --mode must be health, events, batch or get\n");
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
    if ((o->mode == MODE_EVENTS || o->mode == MODE_BATCH) && (!o->app || !o->key || !o->secret)) {
        fprintf(stderr, "reactor bench: --mode events and batch need --app, --key and --secret\n");
        return -1;
    }
    if (o->mode == MODE_GET && o->npaths == 0) {
        fprintf(stderr, "reactor bench: --mode get needs at least one --path (e.g. --path "
                        "/health)\n");
        return -1;
    }
    if (o->mode != MODE_GET && o->npaths > 0) {
        fprintf(stderr, "reactor bench: --path is only for --mode get\n");
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

static const char *const mode_names[] = { "health", "events", "batch", "get" };

/* Health mode is get mode on /health without a key (counting only 200 as done). */
static void build_gets(struct bench *b)
{
    static const char *const health[] = { "/health" };
    bool get = b->o.mode == MODE_GET;
    const char *const *paths = get ? b->o.paths : health;
    b->ngets = get ? b->o.npaths : 1;
    b->gets = xcalloc((size_t)b->ngets, sizeof(*b->gets));
    for (int i = 0; i < b->ngets; i++) {
        get_request_init(&b->gets[i], b->o.host, paths[i], get ? b->o.key : NULL);
        b->gets_users |= b->gets[i].ncuts > 0;
    }
}

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
    buf_init(&b->body);
    buf_init(&b->ts);
    buf_init(&b->nonce);
    buf_init(&b->app_json);
    buf_init(&b->post_head);
    if (b->o.app)
        buf_append_json_string(&b->app_json, b->o.app, strlen(b->o.app));
    buf_printf(&b->post_head,
               " HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nx-api-key: %s\r\n"
               "Content-Length: ",
               b->o.host, b->o.key ? b->o.key : "");
    if (b->o.mode == MODE_HEALTH || b->o.mode == MODE_GET)
        build_gets(b);
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
    if (b->o.mode == MODE_GET) {
        fprintf(stderr, " paths=%d (%s%s)", b->o.npaths, b->o.paths[0],
                b->o.npaths > 1 ? ", ..." : "");
        if (b->o.key)
            fprintf(stderr, " key=yes");
    }
    if (b->o.mode == MODE_EVENTS || b->o.mode == MODE_BATCH ||
        (b->o.mode == MODE_GET && b->gets_users))
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
        if (b->ngets > 0)
            b->conns[i].next_get = (unsigned)i % (unsigned)b->ngets; /* spread the paths */
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
    if (b->o.mode == MODE_EVENTS || b->o.mode == MODE_BATCH)
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
               b->o.mode == MODE_HEALTH || b->o.mode == MODE_GET ? rps : eps, p50, p90, p99, max,
               (unsigned long long)errors, (unsigned long long)b->non_2xx,
               (unsigned long long)b->conn_errors);
    fflush(stdout);
    ret = b->ok + b->non_2xx > 0 ? 0 : 1;
out:
    if (b->conns) {
        for (int i = 0; i < b->o.connections; i++)
            buf_release(&b->conns[i].req);
    }
    for (int i = 0; i < b->ngets; i++)
        buf_release(&b->gets[i].text);
    free(b->gets);
    hmac_key_free(b->signer);
    buf_release(&b->body);
    buf_release(&b->ts);
    buf_release(&b->nonce);
    buf_release(&b->app_json);
    buf_release(&b->post_head);
    free(b->conns);
    free(b);
    return ret;
}
