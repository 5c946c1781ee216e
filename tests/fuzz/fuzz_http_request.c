/* Fuzz target for the whole HTTP request path without sockets: http-parser, limits, routing,
 * handlers, deferred answers, pipelining order, back-pressure, timeouts, drain, EOF
 * (src/http/conn.c, response.c, router.c, url.c, core/json.c).
 *
 * Input: byte 0 is the length L of a control script, bytes 1..L are the script, the rest is
 * what the client sends. Each script byte is one event:
 *   0x00         feed everything not sent yet (also what an exhausted script means)
 *   0x01..0x7f   feed that many bytes
 *   0x80 | k     by k & 15: 0 complete a pending write, 1 answer the oldest deferred request,
 *                2 answer the newest, 3 answer all (newest first), 4 fire the armed timer,
 *                5 drain, 6 EOF, 7 writes complete later, 8 writes complete at once,
 *                9 the next write fails, 10 answer the oldest with an error,
 *                11..15 feed (k >> 4 & 7) * 64 + 64 bytes
 * A script that starts with 0xff rejects the connection (503) instead of starting it; one
 * that starts with 0xfe turns the access log on (written to /dev/null).
 * Bytes are fed only while the connection asks to read, as a real socket would.
 *
 * Checked: every write is whole responses starting "HTTP/1.1 "; the transport is never used
 * after close; the connection never stalls (not reading, nothing to wait for, not closed);
 * the response stream parses, in request order (x-request-id), with no body after HEAD and
 * nothing after "Connection: close"; a connection whose peer left closes once its answers are
 * written; nothing leaks (LeakSanitizer). */
#include <fcntl.h>
#include <http_parser.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "http/conn.h"
#include "http/http.h"
#include "http/router.h"
#include "http/stats.h"

#include "fuzz.h"

/* What the client sent, as an independent http-parser instance saw it. */
struct shadow_req {
    unsigned method;
    bool headers_done; /* as the server saw them: complete and within the limits */
    size_t head_bytes; /* target, header names and values */
    size_t n_fields;
    bool has_id;
    char id[HTTP_REQUEST_ID_MAX + 1];
};

struct fz {
    struct router *router;
    struct http_stats *stats;
    struct http_shared shared;
    struct http_worker worker;
    struct http_conn conn;

    /* The memory transport. */
    struct buf sink; /* everything written to the client */
    struct buf held; /* taken by a write that returned 1 */
    int write_mode;  /* 0 at once, 1 later, 2 fail the next one */
    bool write_pending;
    bool reading;
    enum http_timer timer; /* armed */
    bool closed;
    bool eof;

    struct http_request **deferred; /* deferred and not answered yet, oldest first */
    size_t n_deferred, cap_deferred;

    /* The shadow request parser. */
    http_parser shadow;
    bool shadow_stopped;
    struct shadow_req *reqs;
    size_t n_reqs, cap_reqs;
    struct buf hname, hvalue;
    int last_cb; /* 0 none, 1 field, 2 value */
};

/* ---- the transport --------------------------------------------------------------------- */

static int t_write(struct http_conn *c, struct buf *out)
{
    struct fz *fz = c->transport_arg;
    CHECK(!fz->closed);
    CHECK(!fz->write_pending);
    CHECK(out->len > 0);
    CHECK(out->len >= 9 && memcmp(out->data, "HTTP/1.1 ", 9) == 0);
    switch (fz->write_mode) {
    case 1:
        buf_append(&fz->held, out->data, out->len);
        buf_reset(out);
        fz->write_pending = true;
        return 1;
    case 2: fz->write_mode = 0; return -1;
    default: buf_append(&fz->sink, out->data, out->len); return 0;
    }
}

static void t_set_reading(struct http_conn *c, bool on)
{
    struct fz *fz = c->transport_arg;
    CHECK(!fz->closed);
    fz->reading = on;
}

static void t_set_timer(struct http_conn *c, enum http_timer t)
{
    struct fz *fz = c->transport_arg;
    CHECK(!fz->closed);
    fz->timer = t;
}

static void t_close(struct http_conn *c)
{
    struct fz *fz = c->transport_arg;
    CHECK(!fz->closed);
    fz->closed = true;
    fz->reading = false;
    fz->timer = HTTP_TIMER_NONE;
}

static const struct http_transport transport = {
    .write = t_write,
    .set_reading = t_set_reading,
    .set_timer = t_set_timer,
    .close = t_close,
};

/* ---- handlers -------------------------------------------------------------------------- */

static void h_health(struct http_request *req, void *arg)
{
    (void)arg;
    http_respond(req, 200, "text/plain", "ok\n", 3);
}

static void h_profile(struct http_request *req, void *arg)
{
    (void)arg;
    const char *id = http_request_param(req, "id");
    CHECK(id != NULL);
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"id\":");
    buf_append_json_string(&b, id, strlen(id));
    buf_putc(&b, '}');
    http_respond(req, 200, "application/json", b.data, b.len);
    buf_release(&b);
}

static void h_echo(struct http_request *req, void *arg)
{
    (void)arg;
    json_t *j = http_request_json(req);
    if (!j) {
        CHECK(req->responded); /* it answered 400 itself */
        return;
    }
    http_respond_json(req, 200, j);
}

static void h_search(struct http_request *req, void *arg)
{
    (void)arg;
    struct buf q = BUF_INIT;
    int rc = http_request_query(req, "q", &q);
    if (rc < 0) {
        http_respond_error(req, 400, "bad_query", "Malformed query string");
    } else {
        http_response_header(req, "x-found", rc ? "yes" : "no");
        http_respond(req, 200, "text/plain", q.data, q.len);
    }
    buf_release(&q);
}

static void h_later(struct http_request *req, void *arg)
{
    struct fz *fz = arg;
    http_request_defer(req);
    const char *n = http_request_param(req, "n");
    if (n && strcmp(n, "now") == 0) {
        /* Deferring and then answering before returning is allowed too. */
        http_respond(req, 200, "text/plain", "now", 3);
        return;
    }
    if (fz->n_deferred == fz->cap_deferred) {
        fz->cap_deferred = fz->cap_deferred ? fz->cap_deferred * 2 : 8;
        fz->deferred = xrealloc(fz->deferred, fz->cap_deferred * sizeof(*fz->deferred));
    }
    fz->deferred[fz->n_deferred++] = req;
}

static void h_twice(struct http_request *req, void *arg)
{
    (void)arg;
    http_respond(req, 201, "text/plain", "first", 5);
    http_respond(req, 500, "text/plain", "second", 6); /* ignored: the first one stands */
}

static void h_silent(struct http_request *req, void *arg)
{
    (void)req;
    (void)arg; /* returns without answering: the layer answers 500 */
}

/* Answers deferred request i; kind 0 = 200 JSON, 1 = error with an extra header. */
static void answer(struct fz *fz, size_t i, int kind)
{
    struct http_request *req = fz->deferred[i];
    memmove(fz->deferred + i, fz->deferred + i + 1,
            (fz->n_deferred - i - 1) * sizeof(*fz->deferred));
    fz->n_deferred--;
    CHECK(req->deferred && !req->responded);
    if (kind == 0) {
        http_respond_json(req, 200, json_pack("{s:b}", "deferred", 1));
    } else {
        http_response_header(req, "Retry-After", "1");
        http_respond_error(req, 503, "unavailable", "Try again later");
    }
}

/* ---- the shadow request parser --------------------------------------------------------- */

static bool valid_request_id(const char *s, size_t len)
{
    if (len == 0 || len > HTTP_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.' || ch == ':'))
            return false;
    }
    return true;
}

static struct shadow_req *shadow_cur(struct fz *fz)
{
    return fz->n_reqs ? &fz->reqs[fz->n_reqs - 1] : NULL;
}

static void shadow_header_done(struct fz *fz)
{
    struct shadow_req *r = shadow_cur(fz);
    if (fz->last_cb == 2 && r && !r->headers_done && fz->hname.len == 12 &&
        strncasecmp(fz->hname.data, "x-request-id", 12) == 0 && !r->has_id) {
        r->has_id = true; /* the first one counts, valid or not */
        if (valid_request_id(fz->hvalue.data, fz->hvalue.len))
            memcpy(r->id, fz->hvalue.data, fz->hvalue.len + 1);
    }
    buf_reset(&fz->hname);
    buf_reset(&fz->hvalue);
}

static int s_message_begin(http_parser *p)
{
    struct fz *fz = p->data;
    if (fz->n_reqs == fz->cap_reqs) {
        fz->cap_reqs = fz->cap_reqs ? fz->cap_reqs * 2 : 8;
        fz->reqs = xrealloc(fz->reqs, fz->cap_reqs * sizeof(*fz->reqs));
    }
    memset(&fz->reqs[fz->n_reqs++], 0, sizeof(struct shadow_req));
    fz->last_cb = 0;
    buf_reset(&fz->hname);
    buf_reset(&fz->hvalue);
    return 0;
}

static int s_url(http_parser *p, const char *at, size_t len)
{
    struct fz *fz = p->data;
    (void)at;
    shadow_cur(fz)->head_bytes += len;
    return 0;
}

static int s_header_field(http_parser *p, const char *at, size_t len)
{
    struct fz *fz = p->data;
    shadow_cur(fz)->head_bytes += len;
    if (fz->last_cb != 1) {
        shadow_header_done(fz);
        if (!(p->flags & F_TRAILING))
            shadow_cur(fz)->n_fields++;
    }
    fz->last_cb = 1;
    buf_append(&fz->hname, at, len);
    return 0;
}

static int s_header_value(http_parser *p, const char *at, size_t len)
{
    struct fz *fz = p->data;
    shadow_cur(fz)->head_bytes += len;
    fz->last_cb = 2;
    buf_append(&fz->hvalue, at, len);
    return 0;
}

static int s_headers_complete(http_parser *p)
{
    struct fz *fz = p->data;
    shadow_header_done(fz);
    fz->last_cb = 0;
    struct shadow_req *r = shadow_cur(fz);
    r->method = p->method;
    /* Beyond the limits the server answered 431 before it knew the method and id. */
    r->headers_done = r->head_bytes <= fz->shared.limits.max_header_bytes &&
                      r->n_fields <= fz->shared.limits.max_headers;
    return 0;
}

static const http_parser_settings shadow_settings = {
    .on_message_begin = s_message_begin,
    .on_url = s_url,
    .on_header_field = s_header_field,
    .on_header_value = s_header_value,
    .on_headers_complete = s_headers_complete,
};

static void shadow_feed(struct fz *fz, const char *data, size_t len)
{
    if (fz->shadow_stopped)
        return;
    size_t n = http_parser_execute(&fz->shadow, &shadow_settings, data, len);
    if (HTTP_PARSER_ERRNO(&fz->shadow) != HPE_OK || fz->shadow.upgrade || n != len)
        fz->shadow_stopped = true;
}

/* ---- the response checker -------------------------------------------------------------- */

struct resp_check {
    struct fz *fz;
    size_t index; /* of the next final (non-1xx) response */
    size_t begun, completed;
    bool after_close; /* a response said Connection: close */
    bool close;       /* this one says it */
    bool has_length, has_date;
    int last_cb;
    struct buf name, value, id;
};

static void rc_header_done(struct resp_check *rc)
{
    if (rc->last_cb != 2)
        return;
    if (strcasecmp(rc->name.data, "content-length") == 0)
        rc->has_length = true;
    else if (strcasecmp(rc->name.data, "date") == 0)
        rc->has_date = true;
    else if (strcasecmp(rc->name.data, "connection") == 0 &&
             strcasecmp(rc->value.data, "close") == 0)
        rc->close = true;
    else if (strcasecmp(rc->name.data, "x-request-id") == 0) {
        CHECK(rc->id.len == 0);
        buf_append(&rc->id, rc->value.data, rc->value.len);
    }
    buf_reset(&rc->name);
    buf_reset(&rc->value);
}

static int r_message_begin(http_parser *p)
{
    struct resp_check *rc = p->data;
    CHECK(!rc->after_close); /* nothing is sent after a closing response */
    rc->begun++;
    rc->close = rc->has_length = rc->has_date = false;
    rc->last_cb = 0;
    buf_reset(&rc->name);
    buf_reset(&rc->value);
    buf_reset(&rc->id);
    return 0;
}

static int r_header_field(http_parser *p, const char *at, size_t len)
{
    struct resp_check *rc = p->data;
    if (rc->last_cb != 1)
        rc_header_done(rc);
    rc->last_cb = 1;
    buf_append(&rc->name, at, len);
    return 0;
}

static int r_header_value(http_parser *p, const char *at, size_t len)
{
    struct resp_check *rc = p->data;
    rc->last_cb = 2;
    buf_append(&rc->value, at, len);
    return 0;
}

static int r_headers_complete(http_parser *p)
{
    struct resp_check *rc = p->data;
    rc_header_done(rc);
    rc->last_cb = 0;
    CHECK(p->http_major == 1 && p->http_minor == 1);
    if (p->status_code / 100 == 1) {
        CHECK(p->status_code == 100);
        return 0;
    }
    CHECK(rc->has_length && rc->has_date);
    CHECK(valid_request_id(rc->id.data, rc->id.len));
    /* Response i answers request i. Before its headers were complete the server knew
     * neither the method nor the request id. */
    const struct fz *fz = rc->fz;
    size_t i = rc->index++;
    if (i < fz->n_reqs && fz->reqs[i].headers_done) {
        const struct shadow_req *r = &fz->reqs[i];
        if (r->id[0])
            CHECK(strcmp(r->id, rc->id.data) == 0);
        if (r->method == HTTP_HEAD)
            return 1; /* no body */
    }
    return 0;
}

static int r_message_complete(http_parser *p)
{
    struct resp_check *rc = p->data;
    rc->completed++;
    if (rc->close)
        rc->after_close = true;
    return 0;
}

static const http_parser_settings response_settings = {
    .on_message_begin = r_message_begin,
    .on_header_field = r_header_field,
    .on_header_value = r_header_value,
    .on_headers_complete = r_headers_complete,
    .on_message_complete = r_message_complete,
};

static void check_responses(struct fz *fz)
{
    struct resp_check rc = {.fz = fz};
    buf_init(&rc.name);
    buf_init(&rc.value);
    buf_init(&rc.id);
    http_parser p;
    http_parser_init(&p, HTTP_RESPONSE);
    p.data = &rc;
    size_t n = http_parser_execute(&p, &response_settings, fz->sink.data, fz->sink.len);
    if (HTTP_PARSER_ERRNO(&p) != HPE_OK || n != fz->sink.len) {
        fprintf(stderr, "fuzz_http_request: responses do not parse: %s at %zu of %zu\n",
                http_errno_name(HTTP_PARSER_ERRNO(&p)), n, fz->sink.len);
        abort();
    }
    CHECK(rc.begun == rc.completed); /* every write is whole responses */
    buf_release(&rc.name);
    buf_release(&rc.value);
    buf_release(&rc.id);
}

/* ---- the driver ------------------------------------------------------------------------ */

static size_t attached_deferred(const struct fz *fz)
{
    size_t n = 0;
    for (size_t i = 0; i < fz->n_deferred; i++)
        n += !http_request_orphaned(fz->deferred[i]);
    return n;
}

/* After every event. */
static void check_state(struct fz *fz)
{
    const struct http_conn *c = &fz->conn;
    CHECK(c->closed == fz->closed);
    CHECK(c->write_pending == fz->write_pending);
    if (fz->sink.len)
        CHECK(fz->sink.len >= 9 && memcmp(fz->sink.data, "HTTP/1.1 ", 9) == 0);
    if (fz->closed)
        return;
    CHECK(c->n_queued <= fz->shared.limits.max_pipelined + 1);
    /* Not reading and not closed: something the server does must still be under way, or the
     * connection would hang forever. */
    if (!fz->reading)
        CHECK(fz->write_pending || attached_deferred(fz) > 0);
    /* Reading with no timer: only while the server, not the client, owes the next step. */
    if (fz->reading && fz->timer == HTTP_TIMER_NONE)
        CHECK(fz->write_pending || attached_deferred(fz) > 0);
}

static void complete_write(struct fz *fz)
{
    CHECK(fz->write_pending);
    buf_append(&fz->sink, fz->held.data, fz->held.len);
    buf_reset(&fz->held);
    fz->write_pending = false;
    http_conn_write_done(&fz->conn);
}

/* Something the server side can do without the client; false if nothing is left. */
static bool server_progress(struct fz *fz)
{
    if (fz->write_pending) {
        complete_write(fz);
        return true;
    }
    if (fz->n_deferred) {
        answer(fz, 0, 0);
        return true;
    }
    return false;
}

static const struct {
    unsigned method;
    const char *pattern;
    http_handler_fn *handler;
} routes[] = {
    {HTTP_GET, "/health", h_health},  {HTTP_GET, "/users/:id/profile", h_profile},
    {HTTP_POST, "/echo", h_echo},     {HTTP_GET, "/search", h_search},
    {HTTP_GET, "/later/:n", h_later}, {HTTP_POST, "/later/:n", h_later},
    {HTTP_GET, "/twice", h_twice},    {HTTP_DELETE, "/silent", h_silent},
};

static bool verbose; /* FUZZ_HTTP_VERBOSE=1: print what was sent back, to study one input */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    verbose = getenv("FUZZ_HTTP_VERBOSE") != NULL;
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd >= 0)
        log_set_fd(fd); /* the 500 of /silent logs an error each time */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_script script = fuzz_script_split(data, size);
    const char *input = script.input;
    size_t input_len = script.input_len;

    struct fz *fz = xcalloc(1, sizeof(*fz));
    buf_init(&fz->sink);
    buf_init(&fz->held);
    buf_init(&fz->hname);
    buf_init(&fz->hvalue);
    fz->router = router_new();
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        CHECK(router_add(fz->router, routes[i].method, routes[i].pattern, routes[i].handler, fz) ==
              (int)i);
    fz->stats = http_stats_new(router_count(fz->router));
    fz->shared.router = fz->router;
    fz->shared.limits = (struct http_limits){
        .max_header_bytes = 4096,
        .max_headers = 32,
        .max_body_bytes = 8192,
        .max_pipelined = 4,
        .json = {.max_depth = 8, .max_elements = 512},
    };
    atomic_init(&fz->shared.draining, false);
    if (script.n > 0 && script.p[0] == 0xfe) {
        script.i++;
        fz->shared.access_log = true;
    }
    http_worker_init(&fz->worker, &fz->shared, 0, fz->stats);
    http_parser_init(&fz->shadow, HTTP_REQUEST);
    fz->shadow.data = fz;

    http_conn_init(&fz->conn, &fz->worker, &transport, fz);
    if (script.i < script.n && script.p[script.i] == 0xff) {
        script.i++;
        http_conn_reject(&fz->conn, 503, "too_many_connections", "Too many open connections");
    } else {
        http_conn_start(&fz->conn);
    }
    check_state(fz);

    size_t off = 0;
    for (unsigned steps = 0; !fz->closed && steps < 4096; steps++) {
        if (script.i >= script.n && (off == input_len || fz->eof))
            break;
        unsigned op = fuzz_script_next(&script);
        size_t chunk = 0;
        if (op < 0x80)
            chunk = op ? op : input_len - off;
        else if ((op & 15) >= 11)
            chunk = ((op >> 4 & 7) + 1) * 64;
        if (op < 0x80 || (op & 15) >= 11) {
            if (off == input_len || fz->eof)
                continue;
            if (!fz->reading) {
                /* The client waits for the server. */
                CHECK(server_progress(fz));
                check_state(fz);
                continue;
            }
            if (chunk > input_len - off)
                chunk = input_len - off;
            shadow_feed(fz, input + off, chunk);
            http_conn_feed(&fz->conn, input + off, chunk);
            off += chunk;
            check_state(fz);
            continue;
        }
        switch (op & 15) {
        case 0:
            if (fz->write_pending)
                complete_write(fz);
            break;
        case 1:
            if (fz->n_deferred)
                answer(fz, 0, 0);
            break;
        case 2:
            if (fz->n_deferred)
                answer(fz, fz->n_deferred - 1, 0);
            break;
        case 3:
            while (fz->n_deferred && !fz->closed)
                answer(fz, fz->n_deferred - 1, 0);
            break;
        case 4:
            if (fz->timer != HTTP_TIMER_NONE) {
                fz->timer = HTTP_TIMER_NONE; /* one-shot, like uv_timer_start(..., 0) */
                http_conn_timeout(&fz->conn);
            }
            break;
        case 5:
            atomic_store(&fz->shared.draining, true);
            http_conn_drain(&fz->conn);
            break;
        case 6:
            if (!fz->eof) {
                fz->eof = true;
                http_conn_eof(&fz->conn);
            }
            break;
        case 7: fz->write_mode = 1; break;
        case 8: fz->write_mode = 0; break;
        case 9: fz->write_mode = 2; break;
        case 10:
            if (fz->n_deferred)
                answer(fz, 0, 1);
            break;
        default: break;
        }
        check_state(fz);
    }

    /* The script is over: the server finishes what it owes, then the client goes away. A
     * connection whose answers are all written closes once the peer is gone. */
    if (!fz->closed) {
        fz->write_mode = fz->write_mode == 2 ? 0 : fz->write_mode;
        for (unsigned steps = 0; !fz->closed && steps < 4096 && server_progress(fz); steps++)
            check_state(fz);
        if (!fz->closed && !fz->eof) {
            fz->eof = true;
            http_conn_eof(&fz->conn);
            check_state(fz);
        }
        for (unsigned steps = 0; !fz->closed && steps < 4096 && server_progress(fz); steps++)
            check_state(fz);
        CHECK(fz->closed);
    } else if (fz->n_deferred) {
        /* Closed but not released yet: a late answer must be harmless. */
        answer(fz, 0, 0);
    }
    if (verbose)
        fprintf(stderr, "--- %zu bytes sent back, %zu requests seen:\n%.*s\n---\n", fz->sink.len,
                fz->n_reqs, (int)fz->sink.len, fz->sink.data);
    check_responses(fz);

    http_conn_release(&fz->conn);
    /* Deferred requests outlive the connection as orphans; answering frees them. */
    while (fz->n_deferred) {
        CHECK(http_request_orphaned(fz->deferred[0]));
        answer(fz, 0, 0);
    }

    free(fz->deferred);
    free(fz->reqs);
    buf_release(&fz->sink);
    buf_release(&fz->held);
    buf_release(&fz->hname);
    buf_release(&fz->hvalue);
    http_stats_free(fz->stats);
    router_free(fz->router);
    free(fz);
    return 0;
}
