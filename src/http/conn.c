/* The HTTP/1.1 connection state machine (see conn.h for the design). */
#include "http/conn.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/mem.h"
#include "http/stats.h"

static const http_parser_settings settings;

void http_worker_init(struct http_worker *w, const struct http_shared *shared, unsigned index,
                      struct http_stats *stats)
{
    memset(w, 0, sizeof(*w));
    w->shared = shared;
    w->index = index;
    w->stats = stats;
    if (getrandom(w->rng, sizeof(w->rng), 0) != (ssize_t)sizeof(w->rng)) {
        w->rng[0] = clock_mono_ns() ^ ((uint64_t)index << 32);
        w->rng[1] = (uint64_t)(uintptr_t)w ^ 0x9e3779b97f4a7c15u;
    }
    if ((w->rng[0] | w->rng[1]) == 0)
        w->rng[1] = 1;
    w->date_sec = (time_t)-1;
}

static uint64_t worker_rand(struct http_worker *w)
{
    uint64_t s1 = w->rng[0];
    const uint64_t s0 = w->rng[1];
    w->rng[0] = s0;
    s1 ^= s1 << 23;
    w->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return w->rng[1] + s0;
}

/* ---- requests ---------------------------------------------------------------------------- */

static struct http_request *request_new(struct http_conn *c)
{
    struct http_request *r = xcalloc(1, sizeof(*r));
    r->conn = c;
    r->thread = c->worker->index;
    r->target = r->path = r->query = "";
    buf_init(&r->body);
    buf_init(&r->head);
    buf_grow(&r->head, 512); /* a typical request line and headers at once, not in 4 steps */
    buf_init(&r->resp);
    buf_init(&r->resp_body);
    buf_init(&r->extra_headers);
    route_match_init(&r->match);
    r->start_ns = clock_mono_ns();
    r->keep_alive = true;
    return r;
}

void http__request_free(struct http_request *r)
{
    if (r->upgrade)
        r->upgrade->release(r->upgrade_session);
    buf_release(&r->body);
    buf_release(&r->head);
    buf_release(&r->resp);
    buf_release(&r->resp_body);
    buf_release(&r->extra_headers);
    route_match_release(&r->match);
    free(r->headers);
    free(r);
}

static void enqueue(struct http_conn *c, struct http_request *r)
{
    r->next = NULL;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->n_queued++;
}

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

static void assign_request_id(struct http_conn *c, struct http_request *r)
{
    size_t len;
    const char *given = http_request_header(r, "x-request-id", &len);
    if (given && valid_request_id(given, len)) {
        memcpy(r->id, given, len);
        r->id[len] = '\0';
        return;
    }
    uint64_t random[2] = { worker_rand(c->worker), worker_rand(c->worker) };
    hex_encode(random, sizeof(random), r->id);
}

/* ---- timers and reading ------------------------------------------------------------------ */

static void want_timer(struct http_conn *c, enum http_timer t)
{
    c->timer = t;
    c->timer_dirty = true;
}

/* Rejects the request being received (or a new one) and closes after answering. */
static void fail_request(struct http_conn *c, int status, const char *code, const char *msg)
{
    struct http_request *r = c->cur;
    c->cur = NULL;
    if (!r)
        r = request_new(c);
    if (!r->id[0]) {
        /* Headers not complete: they still hold offsets, so they cannot be searched. */
        r->n_headers = 0;
        assign_request_id(c, r);
    }
    r->close_after = true;
    c->closing = true;
    c->linger = true;
    buf_release(&c->backlog);
    enqueue(c, r);
    http_respond_error(r, status, code, msg);
}

/* ---- parser callbacks -------------------------------------------------------------------- */

static int reject(struct http_conn *c, int status, const char *code, const char *msg)
{
    c->err_status = status;
    c->err_code = code;
    c->err_msg = msg;
    return -1;
}

static int count_head(struct http_conn *c, size_t len)
{
    c->head_bytes += len;
    if (c->head_bytes > c->worker->shared->limits.max_header_bytes)
        return reject(c, 431, "headers_too_large", "Request line and headers are too large");
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct http_conn *c = p->data;
    assert(!c->cur);
    c->cur = request_new(c);
    c->head_bytes = 0;
    c->last_header_cb = 0;
    want_timer(c, HTTP_TIMER_HEADER);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    if (count_head(c, len) < 0)
        return -1;
    buf_append(&c->cur->head, at, len);
    c->cur->target_len += len;
    return 0;
}

/* Headers are stored in cur->head as offsets while they arrive (the buffer may move) and
 * turned into pointers once complete. During parsing, headers[i].name/value hold offsets. */
static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->cur;
    if (count_head(c, len) < 0)
        return -1;
    if (p->flags & F_TRAILING)
        return 0; /* chunked trailers: counted, not kept (head and its pointers are final) */
    if (c->last_header_cb != 1) {
        if (r->n_headers == c->worker->shared->limits.max_headers)
            return reject(c, 431, "headers_too_large", "Too many request headers");
        if (r->n_headers == r->cap_headers) {
            r->cap_headers = r->cap_headers ? r->cap_headers * 2 : 16;
            r->headers = xrealloc(r->headers, r->cap_headers * sizeof(*r->headers));
        }
        buf_putc(&r->head, '\0');
        struct http_header *h = &r->headers[r->n_headers++];
        h->name = (const char *)(uintptr_t)r->head.len;
        h->name_len = 0;
        h->value = NULL;
        h->value_len = 0;
        c->last_header_cb = 1;
    }
    buf_append(&r->head, at, len);
    r->headers[r->n_headers - 1].name_len += len;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->cur;
    if (count_head(c, len) < 0)
        return -1;
    if (p->flags & F_TRAILING)
        return 0;
    struct http_header *h = &r->headers[r->n_headers - 1];
    if (c->last_header_cb != 2) {
        buf_putc(&r->head, '\0');
        h->value = (const char *)(uintptr_t)r->head.len;
        c->last_header_cb = 2;
    }
    buf_append(&r->head, at, len);
    h->value_len += len;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->cur;
    const struct http_limits *lim = &c->worker->shared->limits;

    buf_putc(&r->head, '\0');
    /* Offsets to pointers; the target is at offset 0. */
    for (size_t i = 0; i < r->n_headers; i++) {
        struct http_header *h = &r->headers[i];
        h->name = r->head.data + (uintptr_t)h->name;
        h->value = h->value ? r->head.data + (uintptr_t)h->value : r->head.data + r->head.len;
        /* http-parser drops leading whitespace of a value but keeps trailing (RFC 9110
         * 5.5: neither belongs to the value). Each value is followed by a NUL or the end. */
        while (h->value_len > 0 &&
               (h->value[h->value_len - 1] == ' ' || h->value[h->value_len - 1] == '\t'))
            ((char *)h->value)[--h->value_len] = '\0';
    }
    /* Cut the target into path and query in place: the target is followed by a NUL. */
    char *target = r->head.data;
    r->target = target;
    char *q = memchr(target, '?', r->target_len);
    if (q) {
        r->path = target;
        r->path_len = (size_t)(q - target);
        r->query = q + 1;
        r->query_len = r->target_len - r->path_len - 1;
    } else {
        r->path = target;
        r->path_len = r->target_len;
    }
    r->method = p->method;
    r->http_major = p->http_major;
    r->http_minor = p->http_minor;
    r->keep_alive = http_should_keep_alive(p) != 0;
    assign_request_id(c, r);

    bool chunked = (p->flags & F_CHUNKED) != 0;
    bool has_length = (p->flags & F_CONTENTLENGTH) != 0;
    if (has_length && p->content_length > lim->max_body_bytes)
        return reject(c, 413, "body_too_large", "Request body is too large");
    if (chunked || (has_length && p->content_length > 0)) {
        want_timer(c, HTTP_TIMER_BODY);
        /* Owed now; sent by step() once every answer ahead of it is out, so the interim
         * response never lands in the middle of another request's answer. */
        const char *expect = http_request_header(r, "expect", NULL);
        if (expect && strcasecmp(expect, "100-continue") == 0 && r->http_minor >= 1)
            r->continue_owed = true;
        if (has_length)
            buf_grow(&r->body, (size_t)p->content_length);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->cur;
    if (r->body.len + len > c->worker->shared->limits.max_body_bytes)
        return reject(c, 413, "body_too_large", "Request body is too large");
    buf_append(&r->body, at, len);
    return 0;
}

static void dispatch(struct http_conn *c, struct http_request *r);

static int on_message_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->cur;
    c->cur = NULL;
    want_timer(c, HTTP_TIMER_NONE);
    enqueue(c, r);
    if (!r->keep_alive)
        c->closing = true;
    if (p->upgrade) {
        /* What follows is another protocol, which this route does not speak. */
        c->closing = true;
        r->close_after = true;
    }
    if (c->closing || c->n_queued >= c->worker->shared->limits.max_pipelined) {
        c->paused = true;
        http_parser_pause(p, 1);
    }
    dispatch(c, r);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- routing ----------------------------------------------------------------------------- */

static void append_allow(struct buf *b, uint64_t allow)
{
    bool first = true;
    for (unsigned m = 0; m < 64; m++) {
        if (!(allow & (UINT64_C(1) << m)))
            continue;
        if (!first)
            buf_puts(b, ", ");
        buf_puts(b, http_method_str((enum http_method)m));
        first = false;
    }
}

static void dispatch(struct http_conn *c, struct http_request *r)
{
    const struct router *router = c->worker->shared->router;
    enum router_result res =
        router_match(router, r->method, r->path, r->path_len, &r->match);
    if (res == ROUTER_METHOD_NOT_ALLOWED && r->method == HTTP_HEAD &&
        (r->match.allow & (UINT64_C(1) << HTTP_GET))) {
        res = router_match(router, HTTP_GET, r->path, r->path_len, &r->match);
        r->head_only = true;
    }
    switch (res) {
    case ROUTER_FOUND:
        break;
    case ROUTER_METHOD_NOT_ALLOWED: {
        uint64_t allow = r->match.allow;
        if (allow & (UINT64_C(1) << HTTP_GET))
            allow |= UINT64_C(1) << HTTP_HEAD;
        struct buf a = BUF_INIT;
        append_allow(&a, allow);
        http_response_header(r, "Allow", a.data);
        buf_release(&a);
        http_respond_error(r, 405, "method_not_allowed", "Method not allowed");
        return;
    }
    case ROUTER_BAD_PATH:
        http_respond_error(r, 400, "bad_request", "Malformed percent-encoding in path");
        return;
    case ROUTER_NOT_FOUND:
    default:
        http_respond_error(r, 404, "not_found", "Route not found");
        return;
    }
    r->route = r->match.route;
    r->route->handler(r, r->route->arg);
    if (!r->responded && !r->deferred) {
        log_error("handler returned without responding", LOG_S("route", r->route->pattern),
                  LOG_S("request_id", r->id));
        http_respond_error(r, 500, "internal", "Internal server error");
    }
}

/* ---- the pump ---------------------------------------------------------------------------- */

static void parse(struct http_conn *c, const char *data, size_t len)
{
    if (len == 0)
        return;
    c->err_status = 0;
    size_t n = http_parser_execute(&c->parser, &settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        if ((!c->closing || c->upgrading) && n < len)
            buf_append(&c->backlog, data + n, len - n);
        return;
    }
    if (e != HPE_OK) {
        if (c->err_status)
            fail_request(c, c->err_status, c->err_code, c->err_msg);
        else
            fail_request(c, 400, "bad_request", "Malformed HTTP request");
        return;
    }
    if (n != len && !c->closing)
        fail_request(c, 400, "bad_request", "Malformed HTTP request");
}

/* True while a streamed response's producer still holds the request. */
static bool stream_open(const struct http_request *r)
{
    return r->stream_more && !r->stream_ended;
}

/* The connection lets go of a request its handler still holds. A stream's producer waiting
 * for `more` is told now, so it can end the stream (which frees the request). */
static void orphan(struct http_request *r)
{
    r->conn = NULL;
    if (r->stream_more && !r->stream_busy) {
        r->stream_busy = true;
        r->stream_more(r, r->stream_arg);
    }
}

/* Moves answered requests at the head of the queue into `out`; a streamed response stays at
 * the head, its pieces moved as they come, until it ends. */
static void collect(struct http_conn *c)
{
    while (c->head && c->head->responded) {
        struct http_request *r = c->head;
        if (r->upgrade && r->status == 101 && c->upgrading) {
            /* The session takes over once this is written; nothing after it is HTTP. */
            c->head = r->next;
            if (!c->head)
                c->tail = NULL;
            c->n_queued--;
            c->up = r->upgrade;
            c->up_session = r->upgrade_session;
            r->upgrade = NULL;
            c->closing = true;
            buf_append(&c->out, r->resp.data, r->resp.len);
            buf_append(&c->out, "\r\n", 2);
            http__request_free(r);
            break;
        }
        bool close = r->close_after || !r->keep_alive ||
                     (c->closing && !c->cur && !r->next);
        if (!r->stream_started) {
            r->stream_started = true;
            buf_append(&c->out, r->resp.data, r->resp.len);
            if (close)
                buf_puts(&c->out, "Connection: close\r\n");
            else if (r->http_minor == 0)
                buf_puts(&c->out, "Connection: keep-alive\r\n");
            buf_append(&c->out, "\r\n", 2);
        }
        if (!r->head_only && r->method != HTTP_HEAD) /* no body after HEAD, even for errors */
            buf_append(&c->out, r->resp_body.data, r->resp_body.len);
        buf_reset(&r->resp_body);
        if (stream_open(r))
            return;
        c->head = r->next;
        if (!c->head)
            c->tail = NULL;
        c->n_queued--;
        close = r->close_after || !r->keep_alive || (c->closing && !c->cur && !c->head);

        uint64_t ns = clock_mono_ns() - r->start_ns;
        http_stats_record(c->worker->stats, r->route ? (int)r->route->id : -1, r->status, ns);
        if (c->worker->shared->access_log && log_enabled(LOG_INFO)) {
            log_info("request", LOG_S("request_id", r->id),
                     LOG_S("method", http_method_str((enum http_method)r->method)),
                     LOG_SN("path", r->path, r->path_len), LOG_I("status", r->status),
                     LOG_F("duration_ms", (double)ns / 1e6), LOG_U("conn", c->id),
                     LOG_U("thread", c->worker->index));
        }
        http__request_free(r);
        if (close) {
            c->closing = true;
            c->close_after_write = true;
            /* Nothing after a closing response is answered. */
            while (c->head) {
                struct http_request *n = c->head->next;
                if (c->head->responded && !stream_open(c->head))
                    http__request_free(c->head);
                else
                    orphan(c->head); /* the handler still holds it */
                c->head = n;
            }
            c->tail = NULL;
            c->n_queued = 0;
            break;
        }
    }
}

static void do_close(struct http_conn *c)
{
    if (c->closed)
        return;
    c->closed = true;
    c->t->close(c);
}

static void write_out(struct http_conn *c)
{
    if (c->write_pending || c->out.len == 0)
        return;
    int rc = c->t->write(c, &c->out);
    if (rc < 0) {
        buf_reset(&c->out);
        do_close(c);
    } else if (rc == 0) {
        buf_reset(&c->out);
    } else {
        c->write_pending = true;
    }
}

/* Brings everything up to date after any event: answers out, parsing resumed, reading and
 * timers adjusted, close when done. */
static void start_upgraded(struct http_conn *c)
{
    c->up_started = true;
    c->timer = HTTP_TIMER_NONE;
    c->timer_dirty = false;
    c->t->set_timer(c, HTTP_TIMER_NONE);
    c->reading = true;
    c->t->set_reading(c, true);
    c->up->start(c->up_session, c);
    if (c->backlog.len && !c->closed) {
        struct buf pending = c->backlog;
        buf_init(&c->backlog);
        c->up->feed(c->up_session, pending.data, pending.len);
        buf_release(&pending);
    }
}

static void step(struct http_conn *c)
{
    if (c->up_started)
        return;
    for (;;) {
        if (c->closed)
            return;
        collect(c);
        if (c->cur && c->cur->continue_owed && !c->head) {
            c->cur->continue_owed = false;
            buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
        }
        write_out(c);
        if (c->closed)
            return;
        if (c->up) {
            if (c->out.len == 0 && !c->write_pending)
                start_upgraded(c);
            return;
        }
        struct http_request *h = c->head;
        if (h && h->stream_started && stream_open(h) && !h->stream_busy && c->out.len == 0 &&
            !c->write_pending) {
            /* Everything streamed so far is with the transport: ask for the next piece. What
             * `more` writes at once is collected by this loop, not by a nested step. */
            h->stream_busy = true;
            bool was = c->in_feed;
            c->in_feed = true;
            h->stream_more(h, h->stream_arg);
            c->in_feed = was;
            continue;
        }
        if (c->paused && !c->closing && !c->write_pending &&
            c->n_queued < c->worker->shared->limits.max_pipelined) {
            c->paused = false;
            http_parser_pause(&c->parser, 0);
            struct buf pending = c->backlog;
            buf_init(&c->backlog);
            c->in_feed = true;
            parse(c, pending.data, pending.len);
            c->in_feed = false;
            buf_release(&pending);
            continue;
        }
        break;
    }
    bool idle = !c->cur && c->n_queued == 0 && c->out.len == 0 && !c->write_pending;
    if (idle && (c->closing || c->close_after_write)) {
        do_close(c);
        return;
    }
    if (!c->cur) {
        /* Idle, or waiting for a client that does not read what it asked for: both end after
         * the idle timeout. Each completed write re-arms it, so a slow reader that makes
         * progress is kept. While a handler works (queued, nothing pending) no timer runs. */
        enum http_timer t = (c->n_queued == 0 || c->write_pending) ? HTTP_TIMER_IDLE
                                                                   : HTTP_TIMER_NONE;
        if (t != c->timer || t == HTTP_TIMER_IDLE)
            want_timer(c, t);
    }
    if (c->timer_dirty) {
        c->timer_dirty = false;
        c->t->set_timer(c, c->timer);
    }
    bool reading = !c->paused && !c->write_pending && (!c->closing || c->cur);
    if (reading != c->reading) {
        c->reading = reading;
        c->t->set_reading(c, reading);
    }
}

void http_conn_init(struct http_conn *c, struct http_worker *w, const struct http_transport *t,
                    void *transport_arg)
{
    memset(c, 0, sizeof(*c));
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->worker = w;
    c->t = t;
    c->transport_arg = transport_arg;
    c->id = ++w->next_conn_id;
    buf_init(&c->out);
    buf_init(&c->backlog);
    c->reading = false;
    c->timer = HTTP_TIMER_IDLE;
    c->timer_dirty = true;
}

void http_conn_start(struct http_conn *c)
{
    step(c);
}

void http_conn_feed(struct http_conn *c, const char *data, size_t len)
{
    if (c->up_started) {
        c->up->feed(c->up_session, data, len);
        return;
    }
    if (c->closed || (c->closing && !c->cur))
        return;
    if (c->paused) {
        buf_append(&c->backlog, data, len);
        return;
    }
    c->in_feed = true;
    parse(c, data, len);
    c->in_feed = false;
    step(c);
}

void http_conn_write_done(struct http_conn *c)
{
    if (c->up_started) {
        c->up->write_done(c->up_session);
        return;
    }
    c->write_pending = false;
    step(c);
}

void http_conn_timeout(struct http_conn *c)
{
    if (c->closed || c->up_started)
        return;
    switch (c->timer) {
    case HTTP_TIMER_HEADER:
    case HTTP_TIMER_BODY:
        fail_request(c, 408, "request_timeout", "Request timed out");
        step(c);
        break;
    case HTTP_TIMER_IDLE:
        do_close(c);
        break;
    case HTTP_TIMER_NONE:
        break;
    }
}

void http_conn_drain(struct http_conn *c)
{
    if (c->up_started) {
        c->up->drain(c->up_session);
        return;
    }
    c->closing = true;
    step(c);
}

void http_conn_eof(struct http_conn *c)
{
    if (c->up_started) {
        c->up->eof(c->up_session);
        return;
    }
    /* A half-received request can never complete; answered ones may still be written. */
    if (c->cur) {
        http__request_free(c->cur);
        c->cur = NULL;
    }
    c->closing = true;
    c->close_after_write = true;
    step(c);
}

void http_conn_reject(struct http_conn *c, int status, const char *code, const char *message)
{
    fail_request(c, status, code, message);
    step(c);
}

void http__conn_flush(struct http_conn *c)
{
    if (c->in_feed)
        return; /* the feed loop collects when the parser returns */
    step(c);
}

int http_conn_peer(struct http_conn *c, char *out, size_t len)
{
    return c->t->peer ? c->t->peer(c, out, len) : -1;
}

void http_conn_release(struct http_conn *c)
{
    if (c->up) {
        c->up->release(c->up_session);
        c->up = NULL;
    }
    if (c->cur)
        http__request_free(c->cur);
    c->cur = NULL;
    while (c->head) {
        struct http_request *n = c->head->next;
        if ((c->head->responded && !stream_open(c->head)) || !c->head->deferred)
            http__request_free(c->head);
        else
            orphan(c->head);
        c->head = n;
    }
    c->tail = NULL;
    c->n_queued = 0;
    buf_release(&c->out);
    buf_release(&c->backlog);
}
