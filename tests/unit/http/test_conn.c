/* Unit tests for src/http/conn.c and src/http/response.c: the HTTP/1.1 connection state
 * machine driven through a fake in-memory transport. The fake records what the connection
 * asks of it (writes, reading on/off, timers, close); tests feed bytes, fire timers and
 * complete writes by hand, then read the bytes a client would have received. */
#include "unit.h"

#include <ctype.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"
#include "http/conn.h"
#include "http/http.h"
#include "http/stats.h"

/* ---- the fake transport ------------------------------------------------------------------ */

struct fake {
    struct buf sink;    /* bytes the client has received */
    struct buf pending; /* taken by an asynchronous write, not delivered yet */
    bool slow;          /* write() returns 1 (client not reading) */
    int n_writes;
    bool reading; /* last set_reading */
    int n_set_reading;
    enum http_timer timer; /* last set_timer */
    int n_set_timer;
    int n_close;
};

static int fake_write(struct http_conn *c, struct buf *out)
{
    struct fake *f = c->transport_arg;
    f->n_writes++;
    if (f->slow) {
        buf_append(&f->pending, out->data, out->len);
        buf_reset(out);
        return 1;
    }
    buf_append(&f->sink, out->data, out->len);
    return 0;
}

static void fake_set_reading(struct http_conn *c, bool on)
{
    struct fake *f = c->transport_arg;
    f->reading = on;
    f->n_set_reading++;
}

static void fake_set_timer(struct http_conn *c, enum http_timer t)
{
    struct fake *f = c->transport_arg;
    f->timer = t;
    f->n_set_timer++;
}

static void fake_close(struct http_conn *c)
{
    struct fake *f = c->transport_arg;
    f->n_close++;
}

static const struct http_transport fake_transport = {
    .write = fake_write,
    .set_reading = fake_set_reading,
    .set_timer = fake_set_timer,
    .close = fake_close,
};

/* ---- fixture: a router, a worker and one connection -------------------------------------- */

#define MAX_DEFERRED 32

struct fixture {
    struct router *router;
    struct http_shared shared;
    struct http_stats *stats;
    struct http_worker worker;
    struct http_conn conn;
    struct fake fake;
    struct http_request *deferred[MAX_DEFERRED]; /* from the /defer handler, in arrival order */
    bool answered[MAX_DEFERRED];
    size_t n_deferred;
    bool released;
    struct http_request *stream;  /* the /stream request while its producer holds it */
    int n_more;                   /* calls of its `more` */
    bool stream_orphan_seen;
    int devnull;
    int route_hello, route_users;
};

static void h_hello(struct http_request *req, void *arg)
{
    (void)arg;
    http_respond(req, 200, "text/plain", "hello", 5);
}

/* Echoes the body, with its length in a header. */
static void h_echo(struct http_request *req, void *arg)
{
    (void)arg;
    char n[32];
    snprintf(n, sizeof(n), "%zu", req->body.len);
    http_response_header(req, "x-body-length", n);
    http_respond(req, 200, "application/octet-stream", req->body.data, req->body.len);
}

/* Answers later: the test calls answer(). */
static void h_defer(struct http_request *req, void *arg)
{
    struct fixture *f = arg;
    assert_true(f->n_deferred < MAX_DEFERRED);
    f->deferred[f->n_deferred++] = req;
    http_request_defer(req);
}

static void h_gone(struct http_request *req, void *arg)
{
    (void)arg;
    http_respond(req, 204, NULL, "", 0);
}

static void h_user(struct http_request *req, void *arg)
{
    (void)arg;
    const char *id = http_request_param(req, "id");
    http_respond(req, 200, "text/plain", id, strlen(id));
}

static void h_json(struct http_request *req, void *arg)
{
    (void)arg;
    json_t *j = http_request_json(req);
    if (!j)
        return; /* answered with 400 already */
    http_respond_json(req, 200, j);
}

/* A streamed response: the test writes its pieces; a `more` that finds the client gone ends
 * the stream, as producers must. */
static void stream_more(struct http_request *req, void *arg)
{
    struct fixture *f = arg;
    assert_ptr_equal(req, f->stream);
    f->n_more++;
    if (http_request_orphaned(req)) {
        f->stream_orphan_seen = true;
        f->stream = NULL;
        http_stream_end(req, false);
    }
}

static void h_stream(struct http_request *req, void *arg)
{
    struct fixture *f = arg;
    f->stream = req;
    http_respond_stream(req, 200, "application/x-ndjson", stream_more, f);
}

static void h_forget(struct http_request *req, void *arg)
{
    (void)req;
    (void)arg;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->devnull = open("/dev/null", O_WRONLY);
    log_set_fd(f->devnull); /* the 500 case logs an error line */
    f->router = router_new();
    f->route_hello = router_add(f->router, HTTP_GET, "/hello", h_hello, f);
    router_add(f->router, HTTP_POST, "/echo", h_echo, f);
    router_add(f->router, HTTP_GET, "/defer", h_defer, f);
    f->route_users = router_add(f->router, HTTP_GET, "/users/:id", h_user, f);
    router_add(f->router, HTTP_POST, "/json", h_json, f);
    router_add(f->router, HTTP_GET, "/forget", h_forget, f);
    router_add(f->router, HTTP_GET, "/multi", h_hello, f);
    router_add(f->router, HTTP_PUT, "/multi", h_hello, f);
    router_add(f->router, HTTP_DELETE, "/gone", h_gone, f);
    router_add(f->router, HTTP_GET, "/stream", h_stream, f);
    assert_int_equal(router_count(f->router), 10);

    f->shared.router = f->router;
    f->shared.limits.max_header_bytes = 1024;
    f->shared.limits.max_headers = 8;
    f->shared.limits.max_body_bytes = 1024;
    f->shared.limits.max_pipelined = 4;
    f->shared.limits.json.max_depth = 4;
    f->shared.limits.json.max_elements = 64;
    atomic_init(&f->shared.draining, false);
    f->shared.access_log = false;
    f->stats = http_stats_new(router_count(f->router));
    http_worker_init(&f->worker, &f->shared, 0, f->stats);
    buf_init(&f->fake.sink);
    buf_init(&f->fake.pending);
    http_conn_init(&f->conn, &f->worker, &fake_transport, &f->fake);
    http_conn_start(&f->conn);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f->released)
        http_conn_release(&f->conn);
    /* Deferred requests still unanswered are orphans now; answering frees them. */
    for (size_t i = 0; i < f->n_deferred; i++) {
        if (!f->answered[i]) {
            assert_true(http_request_orphaned(f->deferred[i]));
            http_respond(f->deferred[i], 200, NULL, "", 0);
        }
    }
    http_stats_free(f->stats);
    router_free(f->router);
    buf_release(&f->fake.sink);
    buf_release(&f->fake.pending);
    log_set_fd(2);
    close(f->devnull);
    free(f);
    return 0;
}

static void feed(struct fixture *f, const char *s)
{
    http_conn_feed(&f->conn, s, strlen(s));
}

static void feed_bytewise(struct fixture *f, const char *s)
{
    for (; *s; s++)
        http_conn_feed(&f->conn, s, 1);
}

/* Answers deferred request i with its query string as the body. */
static void answer(struct fixture *f, size_t i)
{
    assert_true(i < f->n_deferred);
    assert_false(f->answered[i]);
    f->answered[i] = true;
    struct http_request *r = f->deferred[i];
    http_respond(r, 200, "text/plain", r->query, r->query_len);
}

/* Delivers what an asynchronous write took, and tells the connection. */
static void complete_write(struct fixture *f)
{
    buf_append(&f->fake.sink, f->fake.pending.data, f->fake.pending.len);
    buf_reset(&f->fake.pending);
    http_conn_write_done(&f->conn);
}

/* ---- reading responses back -------------------------------------------------------------- */

struct resp {
    int status;
    char head[2048]; /* status line and header lines, each ending in CRLF */
    char body[2048];
    size_t body_len;
};

#define MAX_RESP 12

/* Splits f's sink into responses. Bit i of no_body marks response i as an answer to HEAD. Every
 * byte must belong to a complete response. Returns the number of responses. */
static int parse_responses(const struct buf *sink, unsigned no_body, struct resp *rs, int max)
{
    const char *p = sink->data, *end = sink->data + sink->len;
    int n = 0;
    while (p < end) {
        if (n == max)
            fail_msg("more than %d responses in:\n%s", max, sink->data);
        struct resp *r = &rs[n];
        memset(r, 0, sizeof(*r));
        const char *blank = strstr(p, "\r\n\r\n");
        if (!blank || strncmp(p, "HTTP/1.1 ", 9) != 0)
            fail_msg("response %d is not a complete HTTP/1.1 head:\n%s", n, p);
        size_t hlen = (size_t)(blank - p) + 2;
        assert_true(hlen < sizeof(r->head));
        memcpy(r->head, p, hlen);
        r->status = atoi(p + 9);
        p = blank + 4;
        const char *cl = strcasestr(r->head, "\r\nContent-Length: ");
        size_t blen = cl ? strtoul(cl + 18, NULL, 10) : 0;
        if (!(no_body & (1u << n))) {
            if ((size_t)(end - p) < blen)
                fail_msg("response %d has a truncated body", n);
            assert_true(blen < sizeof(r->body));
            memcpy(r->body, p, blen);
            r->body_len = blen;
            p += blen;
        }
        n++;
    }
    return n;
}

/* The value of header `name` in r (case-insensitive), or NULL. */
static const char *hdr(const struct resp *r, const char *name)
{
    static char vals[4][512];
    static int next;
    char *v = vals[next++ % 4];
    size_t n = strlen(name);
    for (const char *line = strstr(r->head, "\r\n"); line && line[2];
         line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
            const char *s = h + n + 1;
            while (*s == ' ')
                s++;
            const char *e = strstr(s, "\r\n");
            snprintf(v, 512, "%.*s", (int)(e - s), s);
            return v;
        }
    }
    return NULL;
}

/* Parses the body of r as a JSON error and checks its code. */
static void expect_error_body(const struct resp *r, int status, const char *code)
{
    assert_int_equal(r->status, status);
    assert_string_equal(hdr(r, "Content-Type"), "application/json");
    json_error_t jerr;
    json_t *j = json_loadb(r->body, r->body_len, 0, &jerr);
    if (!j)
        fail_msg("error body is not JSON: %.*s", (int)r->body_len, r->body);
    assert_true(json_is_string(json_object_get(j, "error")));
    assert_true(strlen(json_string_value(json_object_get(j, "error"))) > 0);
    assert_string_equal(json_string_value(json_object_get(j, "code")), code);
    json_decref(j);
}

static const char *error_message(const struct resp *r)
{
    static char msg[512];
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    assert_non_null(j);
    snprintf(msg, sizeof(msg), "%s", json_string_value(json_object_get(j, "error")));
    json_decref(j);
    return msg;
}

static bool is_hex_id(const char *s)
{
    if (strlen(s) != 32)
        return false;
    for (; *s; s++) {
        if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
            return false;
    }
    return true;
}

static int n_responses(struct fixture *f, struct resp *rs)
{
    return parse_responses(&f->fake.sink, 0, rs, MAX_RESP);
}

/* ---- basic requests ---------------------------------------------------------------------- */

static void simple_get_has_standard_headers(void **state)
{
    struct fixture *f = *state;
    assert_true(f->fake.reading);
    assert_int_equal(f->fake.timer, HTTP_TIMER_IDLE);

    feed(f, "GET /hello HTTP/1.1\r\nHost: example\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    assert_true(strncmp(rs[0].head, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_string_equal(hdr(&rs[0], "Content-Type"), "text/plain");
    assert_string_equal(hdr(&rs[0], "Content-Length"), "5");
    assert_int_equal(rs[0].body_len, 5);
    assert_memory_equal(rs[0].body, "hello", 5);
    const char *id = hdr(&rs[0], "x-request-id");
    assert_non_null(id);
    assert_true(is_hex_id(id));
    /* Date: Sun, 06 Nov 1994 08:49:37 GMT */
    const char *date = hdr(&rs[0], "Date");
    assert_non_null(date);
    assert_int_equal(strlen(date), 29);
    assert_int_equal(date[3], ',');
    assert_string_equal(date + 25, " GMT");
    assert_null(hdr(&rs[0], "Connection")); /* HTTP/1.1 keep-alive is implicit */

    /* Kept open, reading, idle timer armed. */
    assert_int_equal(f->fake.n_close, 0);
    assert_true(f->fake.reading);
    assert_int_equal(f->fake.timer, HTTP_TIMER_IDLE);

    /* Counted in the per-route statistics /metrics shows. */
    assert_int_equal(http_stats_count(&f->stats, 1, f->route_hello, 200), 1);
}

static void keep_alive_serves_next_request(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /hello HTTP/1.1\r\n\r\n");
    feed(f, "GET /users/7 HTTP/1.1\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 2);
    assert_int_equal(rs[1].status, 200);
    assert_memory_equal(rs[1].body, "7", 1);
    assert_int_equal(f->fake.n_close, 0);
    assert_int_equal(http_stats_count(&f->stats, 1, f->route_users, 200), 1);
}

static void request_id_echoed_when_valid(void **state)
{
    struct fixture *f = *state;
    char req[400];
    char long_ok[129];
    memset(long_ok, 'k', 128);
    long_ok[128] = '\0';
    feed(f, "GET /hello HTTP/1.1\r\nX-Request-Id: trace-01.a:b_C\r\n\r\n");
    snprintf(req, sizeof(req), "GET /nope HTTP/1.1\r\nx-request-id: %s\r\n\r\n", long_ok);
    feed(f, req);
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 2);
    assert_string_equal(hdr(&rs[0], "x-request-id"), "trace-01.a:b_C");
    assert_string_equal(hdr(&rs[1], "x-request-id"), long_ok); /* also on errors */
}

static void header_value_trailing_whitespace_dropped(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /hello HTTP/1.1\r\nX-Request-Id: padded-id \t \r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    assert_string_equal(hdr(&rs[0], "x-request-id"), "padded-id");
}

static void request_id_regenerated_when_invalid(void **state)
{
    struct fixture *f = *state;
    char req[400];
    char too_long[130];
    memset(too_long, 'k', 129);
    too_long[129] = '\0';
    feed(f, "GET /hello HTTP/1.1\r\nX-Request-Id: has space\r\n\r\n");
    feed(f, "GET /hello HTTP/1.1\r\nX-Request-Id: a\"b\r\n\r\n");
    snprintf(req, sizeof(req), "GET /hello HTTP/1.1\r\nX-Request-Id: %s\r\n\r\n", too_long);
    feed(f, req);
    feed(f, "GET /hello HTTP/1.1\r\nX-Request-Id:\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 4);
    for (int i = 0; i < 4; i++) {
        const char *id = hdr(&rs[i], "x-request-id");
        if (!is_hex_id(id))
            fail_msg("response %d: id \"%s\" was not regenerated", i, id);
    }
    /* Generated ids differ. */
    assert_string_not_equal(hdr(&rs[0], "x-request-id"), hdr(&rs[1], "x-request-id"));
}

static void byte_at_a_time_gives_same_result(void **state)
{
    struct fixture *f = *state;
    const char *pipeline =
        "POST /echo HTTP/1.1\r\nX-Request-Id: r1\r\nContent-Length: 3\r\n\r\nabc"
        "GET /users/x%41 HTTP/1.1\r\nX-Request-Id: r2\r\n\r\n"
        "POST /echo HTTP/1.1\r\nX-Request-Id: r3\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nxyz\r\n2\r\n!!\r\n0\r\n\r\n"
        "GET /nope HTTP/1.1\r\nX-Request-Id: r4\r\n\r\n";
    feed(f, pipeline);
    struct resp whole[MAX_RESP], bytes[MAX_RESP];
    assert_int_equal(n_responses(f, whole), 4);
    buf_reset(&f->fake.sink);
    feed_bytewise(f, pipeline);
    assert_int_equal(n_responses(f, bytes), 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(bytes[i].status, whole[i].status);
        assert_string_equal(hdr(&bytes[i], "x-request-id"), hdr(&whole[i], "x-request-id"));
        assert_string_equal(hdr(&bytes[i], "Content-Length"), hdr(&whole[i], "Content-Length"));
        assert_int_equal(bytes[i].body_len, whole[i].body_len);
        assert_memory_equal(bytes[i].body, whole[i].body, whole[i].body_len);
    }
    assert_memory_equal(whole[0].body, "abc", 3);
    assert_memory_equal(whole[1].body, "xA", 2);
    assert_memory_equal(whole[2].body, "xyz!!", 5);
    assert_int_equal(whole[3].status, 404);
    assert_int_equal(f->fake.n_close, 0);
}

static void route_params_decoded(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /users/a%20b?x=1 HTTP/1.1\r\n\r\n");
    feed(f, "GET /users/%zz HTTP/1.1\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 2);
    assert_int_equal(rs[0].status, 200);
    assert_int_equal(rs[0].body_len, 3);
    assert_memory_equal(rs[0].body, "a b", 3);
    expect_error_body(&rs[1], 400, "bad_request");
    assert_int_equal(f->fake.n_close, 0); /* a bad path is the request's fault, not the stream's */
}

/* ---- pipelining -------------------------------------------------------------------------- */

static void pipelined_answered_in_order(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /defer?first HTTP/1.1\r\n\r\n"
            "GET /hello HTTP/1.1\r\n\r\n"
            "GET /users/42 HTTP/1.1\r\n\r\n");
    assert_int_equal(f->n_deferred, 1);
    /* /hello and /users answered already, but they wait behind the deferred request. */
    assert_int_equal(f->fake.sink.len, 0);
    answer(f, 0);
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 3);
    assert_memory_equal(rs[0].body, "first", 5);
    assert_memory_equal(rs[1].body, "hello", 5);
    assert_memory_equal(rs[2].body, "42", 2);
}

static void deferred_answered_out_of_order(void **state)
{
    struct fixture *f = *state;
    feed(f,
         "GET /defer?a HTTP/1.1\r\n\r\nGET /defer?b HTTP/1.1\r\n\r\nGET /defer?c HTTP/1.1\r\n\r\n");
    assert_int_equal(f->n_deferred, 3);
    answer(f, 2);
    answer(f, 1);
    assert_int_equal(f->fake.sink.len, 0);
    answer(f, 0);
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 3);
    assert_memory_equal(rs[0].body, "a", 1);
    assert_memory_equal(rs[1].body, "b", 1);
    assert_memory_equal(rs[2].body, "c", 1);
    assert_true(f->fake.reading);
    assert_int_equal(f->fake.timer, HTTP_TIMER_IDLE);
}

static void max_pipelined_pauses_reading(void **state)
{
    struct fixture *f = *state;
    /* max_pipelined is 4: six requests arrive at once. */
    feed(f, "GET /defer?0 HTTP/1.1\r\n\r\nGET /defer?1 HTTP/1.1\r\n\r\n"
            "GET /defer?2 HTTP/1.1\r\n\r\nGET /defer?3 HTTP/1.1\r\n\r\n"
            "GET /defer?4 HTTP/1.1\r\n\r\nGET /defer?5 HTTP/1.1\r\n\r\n");
    assert_int_equal(f->n_deferred, 4);
    assert_false(f->fake.reading);
    /* Bytes the transport still delivers wait too. */
    feed(f, "GET /defer?6 HTTP/1.1\r\n\r\n");
    assert_int_equal(f->n_deferred, 4);

    answer(f, 0);
    assert_int_equal(f->n_deferred, 5); /* one slot freed, one more request read */
    assert_false(f->fake.reading);
    answer(f, 1);
    answer(f, 2);
    assert_int_equal(f->n_deferred, 7);
    answer(f, 3);
    answer(f, 4);
    answer(f, 5);
    answer(f, 6);
    assert_true(f->fake.reading);
    assert_int_equal(f->fake.timer, HTTP_TIMER_IDLE);
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 7);
    for (int i = 0; i < 7; i++) {
        char want[4];
        snprintf(want, sizeof(want), "%d", i);
        assert_int_equal(rs[i].body_len, 1);
        assert_memory_equal(rs[i].body, want, 1);
    }
}

static void slow_client_stops_reading(void **state)
{
    struct fixture *f = *state;
    f->fake.slow = true;
    feed(f, "GET /hello HTTP/1.1\r\n\r\nGET /defer?d HTTP/1.1\r\n\r\n");
    assert_int_equal(f->fake.n_writes, 1);
    assert_true(f->fake.pending.len > 0);
    assert_false(f->fake.reading);

    /* Answered while the first write is outstanding: held, not written over it. */
    answer(f, 0);
    assert_int_equal(f->fake.n_writes, 1);
    complete_write(f);
    assert_int_equal(f->fake.n_writes, 2);
    assert_false(f->fake.reading);
    f->fake.slow = false;
    complete_write(f);
    assert_true(f->fake.reading);
    assert_int_equal(f->fake.timer, HTTP_TIMER_IDLE);
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 2);
    assert_memory_equal(rs[0].body, "hello", 5);
    assert_memory_equal(rs[1].body, "d", 1);
}

static void close_waits_for_slow_write(void **state)
{
    struct fixture *f = *state;
    f->fake.slow = true;
    feed(f, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_int_equal(f->fake.n_close, 0);
    complete_write(f);
    assert_int_equal(f->fake.n_close, 1);
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    assert_string_equal(hdr(&rs[0], "Connection"), "close");
}

static void stalled_reader_times_out(void **state)
{
    struct fixture *f = *state;
    f->fake.slow = true;
    feed(f, "GET /hello HTTP/1.1\r\n\r\n");
    assert_true(f->fake.pending.len > 0);
    /* The client reads nothing: the idle timer runs and closes the connection. */
    assert_int_equal(f->fake.timer, HTTP_TIMER_IDLE);
    http_conn_timeout(&f->conn);
    assert_int_equal(f->fake.n_close, 1);
}

static void progressing_reader_rearms_timer(void **state)
{
    struct fixture *f = *state;
    f->fake.slow = true;
    feed(f, "GET /hello HTTP/1.1\r\n\r\nGET /defer?d HTTP/1.1\r\n\r\n");
    answer(f, 0);
    int armed = f->fake.n_set_timer;
    complete_write(f); /* progress: the second response goes out, the timer starts again */
    assert_true(f->fake.n_set_timer > armed);
    assert_int_equal(f->fake.timer, HTTP_TIMER_IDLE);
    assert_int_equal(f->fake.n_close, 0);
}

/* ---- connection persistence -------------------------------------------------------------- */

static void connection_close_honoured(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n"
            "GET /hello HTTP/1.1\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1); /* nothing after the closing request is served */
    assert_string_equal(hdr(&rs[0], "Connection"), "close");
    assert_int_equal(f->fake.n_close, 1);
    feed(f, "GET /hello HTTP/1.1\r\n\r\n");
    assert_int_equal(n_responses(f, rs), 1);
    assert_int_equal(f->fake.n_close, 1);
}

static void http10_closes_unless_keep_alive(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    feed(f, "GET /hello HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    assert_int_equal(f->fake.n_close, 0);
    feed(f, "GET /hello HTTP/1.0\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 3);
    assert_string_equal(hdr(&rs[0], "Connection"), "keep-alive");
    assert_string_equal(hdr(&rs[1], "Connection"), "keep-alive");
    assert_string_equal(hdr(&rs[2], "Connection"), "close");
    assert_int_equal(f->fake.n_close, 1);
}

/* ---- error answers ----------------------------------------------------------------------- */

static void not_found_is_json(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /nope HTTP/1.1\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    assert_true(strncmp(rs[0].head, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    expect_error_body(&rs[0], 404, "not_found");
    assert_int_equal(f->fake.n_close, 0);
    assert_int_equal(http_stats_count(&f->stats, 1, -1, 404), 1);
}

static void method_not_allowed_lists_allow(void **state)
{
    struct fixture *f = *state;
    feed(f, "DELETE /hello HTTP/1.1\r\n\r\n");
    feed(f, "PUT /echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    feed(f, "DELETE /multi HTTP/1.1\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 3);
    expect_error_body(&rs[0], 405, "method_not_allowed");
    assert_string_equal(hdr(&rs[0], "Allow"), "GET, HEAD");
    expect_error_body(&rs[1], 405, "method_not_allowed");
    assert_string_equal(hdr(&rs[1], "Allow"), "POST");
    assert_string_equal(hdr(&rs[2], "Allow"), "GET, HEAD, PUT");
    assert_int_equal(f->fake.n_close, 0);
}

static void head_on_get_route_has_no_body(void **state)
{
    struct fixture *f = *state;
    feed(f, "HEAD /hello HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    struct resp rs[MAX_RESP];
    /* Response 0 has no body: if it had one, response 1 would not start where it does. */
    assert_int_equal(parse_responses(&f->fake.sink, 1u << 0, rs, MAX_RESP), 2);
    assert_int_equal(rs[0].status, 200);
    assert_string_equal(hdr(&rs[0], "Content-Length"), "5");
    assert_int_equal(rs[1].status, 200);
    assert_memory_equal(rs[1].body, "hello", 5);
}

static void head_error_answers_have_no_body(void **state)
{
    struct fixture *f = *state;
    feed(f, "HEAD /nope HTTP/1.1\r\n\r\n"
            "HEAD /echo HTTP/1.1\r\n\r\n"
            "GET /hello HTTP/1.1\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(parse_responses(&f->fake.sink, 3u, rs, MAX_RESP), 3);
    assert_int_equal(rs[0].status, 404);
    assert_int_equal(rs[1].status, 405);
    assert_string_equal(hdr(&rs[1], "Allow"), "POST");
    assert_int_equal(rs[2].status, 200);
    assert_memory_equal(rs[2].body, "hello", 5);
}

static void handler_that_forgets_gets_500(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /forget HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 2);
    expect_error_body(&rs[0], 500, "internal");
    assert_int_equal(rs[1].status, 200);
    assert_int_equal(f->fake.n_close, 0);
}

static void malformed_request_400_and_close(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /hello HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\nBad Header\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 2);
    assert_int_equal(rs[0].status, 200); /* the good request before the garbage is answered */
    assert_null(hdr(&rs[0], "Connection"));
    expect_error_body(&rs[1], 400, "bad_request");
    assert_string_equal(hdr(&rs[1], "Connection"), "close");
    assert_true(is_hex_id(hdr(&rs[1], "x-request-id")));
    assert_int_equal(f->fake.n_close, 1);
}

static void garbage_request_line_400(void **state)
{
    struct fixture *f = *state;
    feed(f, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    expect_error_body(&rs[0], 400, "bad_request");
    assert_int_equal(f->fake.n_close, 1);
}

static void header_section_too_large_431(void **state)
{
    struct fixture *f = *state;
    char req[1400];
    char big[1101];
    memset(big, 'a', 1100);
    big[1100] = '\0';
    /* Not even finished: refused as soon as it passes the limit. */
    snprintf(req, sizeof(req), "GET /hello HTTP/1.1\r\nX-Big: %s", big);
    feed(f, req);
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    expect_error_body(&rs[0], 431, "headers_too_large");
    assert_string_equal(hdr(&rs[0], "Connection"), "close");
    assert_int_equal(f->fake.n_close, 1);
}

static void header_section_under_limit_ok(void **state)
{
    struct fixture *f = *state;
    char req[1400];
    char big[901];
    memset(big, 'a', 900);
    big[900] = '\0';
    snprintf(req, sizeof(req), "GET /hello HTTP/1.1\r\nX-Big: %s\r\n\r\n", big);
    feed(f, req);
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    assert_int_equal(rs[0].status, 200);
}

static void too_many_headers_431(void **state)
{
    struct fixture *f = *state;
    /* max_headers is 8: eight are fine, nine are not. */
    feed(f, "GET /hello HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\n"
            "H: 8\r\n\r\n");
    feed(f, "GET /hello HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\n"
            "H: 8\r\nI: 9\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 2);
    assert_int_equal(rs[0].status, 200);
    expect_error_body(&rs[1], 431, "headers_too_large");
    assert_string_equal(error_message(&rs[1]), "Too many request headers");
    assert_int_equal(f->fake.n_close, 1);
}

static void content_length_over_limit_413_before_body(void **state)
{
    struct fixture *f = *state;
    /* Headers only: the answer must not wait for 2000 body bytes. */
    feed(f, "POST /echo HTTP/1.1\r\nX-Request-Id: big-1\r\nContent-Length: 2000\r\n"
            "Expect: 100-continue\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1); /* and no 100 Continue before it */
    expect_error_body(&rs[0], 413, "body_too_large");
    assert_string_equal(hdr(&rs[0], "x-request-id"), "big-1");
    assert_string_equal(hdr(&rs[0], "Connection"), "close");
    assert_int_equal(f->fake.n_close, 1);
}

static void body_at_limit_accepted(void **state)
{
    struct fixture *f = *state;
    char req[1200];
    int n = snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nContent-Length: 1024\r\n\r\n");
    memset(req + n, 'b', 1024);
    req[n + 1024] = '\0';
    feed(f, req);
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    assert_int_equal(rs[0].status, 200);
    assert_string_equal(hdr(&rs[0], "x-body-length"), "1024");
}

static void chunked_body_assembled(void **state)
{
    struct fixture *f = *state;
    feed(f, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    assert_int_equal(rs[0].status, 200);
    assert_string_equal(hdr(&rs[0], "x-body-length"), "11");
    assert_int_equal(rs[0].body_len, 11);
    assert_memory_equal(rs[0].body, "hello world", 11);
}

static void chunked_trailers_ignored(void **state)
{
    struct fixture *f = *state;
    feed(f, "POST /echo HTTP/1.1\r\nX-Request-Id: tr\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: def\r\n\r\n"
            "GET /hello HTTP/1.1\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 2);
    assert_int_equal(rs[0].status, 200);
    assert_string_equal(hdr(&rs[0], "x-request-id"), "tr"); /* headers intact after trailers */
    assert_memory_equal(rs[0].body, "hello", 5);
    assert_int_equal(rs[1].status, 200);
}

static void chunked_body_over_limit_413(void **state)
{
    struct fixture *f = *state;
    char chunk[600];
    feed(f, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 2; i++) {
        int n = snprintf(chunk, sizeof(chunk), "200\r\n");
        memset(chunk + n, 'c', 512);
        snprintf(chunk + n + 512, sizeof(chunk) - (size_t)n - 512, "\r\n");
        feed(f, chunk);
    }
    assert_int_equal(f->fake.sink.len, 0); /* exactly 1024 so far: still fine */
    feed(f, "1\r\nx\r\n0\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    expect_error_body(&rs[0], 413, "body_too_large");
    assert_int_equal(f->fake.n_close, 1);
}

static void expect_100_continue(void **state)
{
    struct fixture *f = *state;
    feed(f, "POST /echo HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    assert_string_equal(f->fake.sink.data, "HTTP/1.1 100 Continue\r\n\r\n");
    feed(f, "hello");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 2);
    assert_int_equal(rs[0].status, 100);
    assert_int_equal(rs[1].status, 200);
    assert_memory_equal(rs[1].body, "hello", 5);

    /* HTTP/1.0 clients do not know 100 Continue. */
    buf_reset(&f->fake.sink);
    feed(f, "POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n"
            "Expect: 100-continue\r\n\r\n");
    assert_int_equal(f->fake.sink.len, 0);
    feed(f, "hi");
    assert_int_equal(n_responses(f, rs), 1);
    assert_int_equal(rs[0].status, 200);
}

/* A request whose headers arrive while an earlier one is still being answered gets its 100
 * Continue after that answer, never in the middle of it and never not at all. */
static void continue_sent_once_queue_ahead_is_answered(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /defer?first HTTP/1.1\r\n\r\n"
            "POST /echo HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    assert_int_equal(f->fake.sink.len, 0); /* nothing may be sent ahead of the first answer */
    answer(f, 0);
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 2);
    assert_int_equal(rs[0].status, 200);
    assert_int_equal(rs[1].status, 100);
    feed(f, "hello");
    assert_int_equal(n_responses(f, rs), 3);
    assert_int_equal(rs[2].status, 200);
    assert_memory_equal(rs[2].body, "hello", 5);
}

/* RFC 9110 8.6: no Content-Length on 204. */
static void no_content_has_no_length(void **state)
{
    struct fixture *f = *state;
    feed(f, "DELETE /gone HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 2);
    assert_int_equal(rs[0].status, 204);
    assert_null(hdr(&rs[0], "Content-Length"));
    assert_int_equal(rs[1].status, 200); /* the stream stays in step */
}

/* ---- timers ------------------------------------------------------------------------------ */

static void header_timeout_408(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /hello HTTP/1.1\r\nHo");
    assert_int_equal(f->fake.timer, HTTP_TIMER_HEADER);
    int armed = f->fake.n_set_timer;
    /* A slow trickle does not re-arm the header timer. */
    feed(f, "st: x");
    feed(f, "\r\nA: b");
    assert_int_equal(f->fake.n_set_timer, armed);
    http_conn_timeout(&f->conn);
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    expect_error_body(&rs[0], 408, "request_timeout");
    assert_string_equal(hdr(&rs[0], "Connection"), "close");
    assert_true(is_hex_id(hdr(&rs[0], "x-request-id")));
    assert_int_equal(f->fake.n_close, 1);
}

static void body_timeout_408(void **state)
{
    struct fixture *f = *state;
    feed(f, "POST /echo HTTP/1.1\r\nX-Request-Id: slow-body\r\nContent-Length: 10\r\n\r\nabc");
    assert_int_equal(f->fake.timer, HTTP_TIMER_BODY);
    http_conn_timeout(&f->conn);
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    expect_error_body(&rs[0], 408, "request_timeout");
    assert_string_equal(hdr(&rs[0], "x-request-id"), "slow-body");
    assert_int_equal(f->fake.n_close, 1);
}

static void idle_timeout_closes_silently(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /hello HTTP/1.1\r\n\r\n");
    size_t answered = f->fake.sink.len;
    assert_int_equal(f->fake.timer, HTTP_TIMER_IDLE);
    http_conn_timeout(&f->conn);
    assert_int_equal(f->fake.n_close, 1);
    assert_int_equal(f->fake.sink.len, answered); /* nothing more written */
}

static void no_timeout_while_handler_works(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /defer?x HTTP/1.1\r\n\r\n");
    assert_int_equal(f->fake.timer, HTTP_TIMER_NONE);
    http_conn_timeout(&f->conn); /* a stale timer firing changes nothing */
    assert_int_equal(f->fake.n_close, 0);
    assert_int_equal(f->fake.sink.len, 0);
    answer(f, 0);
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    assert_int_equal(f->fake.timer, HTTP_TIMER_IDLE);
}

/* ---- shutdown and disconnects ------------------------------------------------------------ */

static void drain_closes_idle_connection(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /hello HTTP/1.1\r\n\r\n");
    size_t answered = f->fake.sink.len;
    http_conn_drain(&f->conn);
    assert_int_equal(f->fake.n_close, 1);
    assert_int_equal(f->fake.sink.len, answered);
}

static void drain_lets_half_received_request_finish(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /hello HTTP/1.1\r\nHost: x\r\n");
    http_conn_drain(&f->conn);
    assert_int_equal(f->fake.n_close, 0);
    assert_true(f->fake.reading); /* the rest of the request must still be read */
    feed(f, "\r\nGET /hello HTTP/1.1\r\n\r\n");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1); /* the next one is not started */
    assert_int_equal(rs[0].status, 200);
    assert_string_equal(hdr(&rs[0], "Connection"), "close");
    assert_int_equal(f->fake.n_close, 1);
}

static void drain_waits_for_deferred(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /defer?d HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    http_conn_drain(&f->conn);
    assert_int_equal(f->fake.n_close, 0);
    answer(f, 0);
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 2);
    assert_null(hdr(&rs[0], "Connection"));
    assert_string_equal(hdr(&rs[1], "Connection"), "close"); /* the last one says so */
    assert_int_equal(f->fake.n_close, 1);
}

static void eof_with_deferred_still_answers(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /defer?late HTTP/1.1\r\n\r\n");
    http_conn_eof(&f->conn); /* the client half-closed */
    assert_int_equal(f->fake.n_close, 0);
    answer(f, 0);
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    assert_memory_equal(rs[0].body, "late", 4);
    assert_int_equal(f->fake.n_close, 1);
}

static void eof_mid_request_closes(void **state)
{
    struct fixture *f = *state;
    feed(f, "POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nab");
    http_conn_eof(&f->conn);
    assert_int_equal(f->fake.n_close, 1);
    assert_int_equal(f->fake.sink.len, 0);
}

static void deferred_request_orphaned_on_release(void **state)
{
    struct fixture *f = *state;
    feed(f,
         "GET /defer?a HTTP/1.1\r\n\r\nGET /defer?b HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    assert_int_equal(f->n_deferred, 2);
    answer(f, 1); /* answered, but waiting behind a */
    assert_false(http_request_orphaned(f->deferred[0]));
    http_conn_release(&f->conn); /* the transport is gone */
    f->released = true;
    assert_true(http_request_orphaned(f->deferred[0]));
    /* Answering an orphan frees it and writes nothing (ASan checks the freeing). */
    answer(f, 0);
    assert_int_equal(f->fake.sink.len, 0);
}

/* ---- streamed responses ------------------------------------------------------------------ */

static void stream_sends_chunks_one_piece_ahead_of_the_socket(void **state)
{
    struct fixture *f = *state;
    f->fake.slow = true; /* every write waits for complete_write */
    feed(f, "GET /stream HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    assert_non_null(f->stream);
    assert_int_equal(f->n_more, 0); /* the headers are not out yet */
    complete_write(f);
    assert_int_equal(f->n_more, 1);
    assert_int_equal(http_stream_write(f->stream, "{\"a\":1}\n", 8), 0);
    complete_write(f); /* nothing more is asked for before the piece has left */
    assert_int_equal(f->n_more, 2);
    assert_int_equal(http_stream_write(f->stream, "", 0), 0); /* an empty piece: asks again */
    assert_int_equal(f->n_more, 3);
    assert_int_equal(http_stream_write(f->stream, "{\"b\":2}\n", 8), 0);
    assert_int_equal(f->n_more, 3);
    complete_write(f);
    assert_int_equal(f->n_more, 4);
    http_stream_end(f->stream, true);
    f->stream = NULL;
    complete_write(f);
    complete_write(f); /* /hello, answered behind the stream */
    const char *out = f->fake.sink.data;
    const char *body = strstr(out, "\r\n\r\n");
    assert_non_null(body);
    assert_non_null(strstr(out, "Transfer-Encoding: chunked\r\n"));
    assert_null(strstr(out, "Content-Length: 8"));
    const char *want = "8\r\n{\"a\":1}\n\r\n8\r\n{\"b\":2}\n\r\n0\r\n\r\nHTTP/1.1 200 OK";
    assert_true(strncmp(body + 4, want, strlen(want)) == 0);
    assert_non_null(strstr(body, "\r\n\r\nhello"));
    assert_int_equal(f->fake.n_close, 0);
}

static void stream_cut_short_closes_without_final_chunk(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /stream HTTP/1.1\r\n\r\n");
    assert_int_equal(f->n_more, 1);
    http_stream_write(f->stream, "part", 4);
    http_stream_end(f->stream, false);
    f->stream = NULL;
    assert_non_null(strstr(f->fake.sink.data, "4\r\npart\r\n"));
    assert_null(strstr(f->fake.sink.data, "0\r\n\r\n"));
    assert_int_equal(f->fake.n_close, 1);
}

static void stream_to_http10_client_is_bare_and_closes(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /stream HTTP/1.0\r\n\r\n");
    http_stream_write(f->stream, "raw", 3);
    http_stream_end(f->stream, true);
    f->stream = NULL;
    assert_null(strstr(f->fake.sink.data, "chunked"));
    const char *body = strstr(f->fake.sink.data, "\r\n\r\n");
    assert_string_equal(body + 4, "raw");
    assert_int_equal(f->fake.n_close, 1);
}

static void stream_producer_waiting_is_told_when_client_goes(void **state)
{
    struct fixture *f = *state;
    f->fake.slow = true;
    feed(f, "GET /stream HTTP/1.1\r\n\r\n");
    complete_write(f);
    http_stream_write(f->stream, "x", 1); /* waiting for the socket */
    http_conn_release(&f->conn);
    f->released = true;
    assert_true(f->stream_orphan_seen); /* and it ended the stream: ASan checks the freeing */
    assert_null(f->stream);
}

static void stream_producer_busy_finds_client_gone(void **state)
{
    struct fixture *f = *state;
    feed(f, "GET /stream HTTP/1.1\r\n\r\n");
    assert_int_equal(f->n_more, 1); /* the producer works on the next piece */
    http_conn_release(&f->conn);
    f->released = true;
    assert_false(f->stream_orphan_seen); /* not asked twice */
    assert_int_equal(http_stream_write(f->stream, "late", 4), -1);
    http_stream_end(f->stream, true); /* frees the orphan */
    f->stream = NULL;
}

static void reject_answers_and_closes(void **state)
{
    struct fixture *f = *state;
    http_conn_reject(&f->conn, 503, "too_many_connections", "Server is at capacity");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    expect_error_body(&rs[0], 503, "too_many_connections");
    assert_true(strncmp(rs[0].head, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
    assert_string_equal(hdr(&rs[0], "Connection"), "close");
    assert_int_equal(f->fake.n_close, 1);
}

/* ---- http_request_json ------------------------------------------------------------------- */

static void post_json(struct fixture *f, const char *content_type, const char *body)
{
    char req[1024];
    if (content_type)
        snprintf(req, sizeof(req),
                 "POST /json HTTP/1.1\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
                 content_type, strlen(body), body);
    else
        snprintf(req, sizeof(req), "POST /json HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(body), body);
    feed(f, req);
}

static void json_wrong_content_type_400(void **state)
{
    struct fixture *f = *state;
    post_json(f, "text/plain", "{}");
    post_json(f, NULL, "{}");
    post_json(f, "application/jsonp", "{}");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 3);
    for (int i = 0; i < 3; i++)
        expect_error_body(&rs[i], 400, "bad_content_type");
    assert_int_equal(f->fake.n_close, 0);
}

static void json_empty_body_400(void **state)
{
    struct fixture *f = *state;
    post_json(f, "application/json", "");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 1);
    expect_error_body(&rs[0], 400, "invalid_json");
    assert_non_null(strstr(error_message(&rs[0]), "empty"));
}

static void json_invalid_400_with_message(void **state)
{
    struct fixture *f = *state;
    post_json(f, "application/json", "{\"a\": tru}");
    post_json(f, "application/json", "{\"a\":1,\"a\":2}");
    post_json(f, "application/json", "[[[[[1]]]]]"); /* depth limit is 4 */
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 3);
    expect_error_body(&rs[0], 400, "invalid_json");
    if (strncmp(error_message(&rs[0]), "invalid JSON at line 1, column ", 31) != 0)
        fail_msg("unexpected message: %s", error_message(&rs[0]));
    expect_error_body(&rs[1], 400, "invalid_json");
    assert_non_null(strstr(error_message(&rs[1]), "duplicate"));
    expect_error_body(&rs[2], 400, "invalid_json");
    assert_string_equal(error_message(&rs[2]), "JSON nesting deeper than 4");
    assert_int_equal(f->fake.n_close, 0);
}

static void json_valid_object_parsed(void **state)
{
    struct fixture *f = *state;
    post_json(f, "application/json", "{\"a\": [1, 2], \"b\": \"\xc3\xa9\"}");
    post_json(f, "Application/JSON; charset=utf-8", "{\"c\":null}");
    struct resp rs[MAX_RESP];
    assert_int_equal(n_responses(f, rs), 2);
    assert_int_equal(rs[0].status, 200);
    assert_string_equal(hdr(&rs[0], "Content-Type"), "application/json");
    assert_int_equal(rs[0].body_len, strlen("{\"a\":[1,2],\"b\":\"\xc3\xa9\"}"));
    assert_memory_equal(rs[0].body, "{\"a\":[1,2],\"b\":\"\xc3\xa9\"}", rs[0].body_len);
    assert_int_equal(rs[1].status, 200);
    assert_memory_equal(rs[1].body, "{\"c\":null}", 10);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(simple_get_has_standard_headers, setup, teardown),
    cmocka_unit_test_setup_teardown(keep_alive_serves_next_request, setup, teardown),
    cmocka_unit_test_setup_teardown(request_id_echoed_when_valid, setup, teardown),
    cmocka_unit_test_setup_teardown(header_value_trailing_whitespace_dropped, setup, teardown),
    cmocka_unit_test_setup_teardown(request_id_regenerated_when_invalid, setup, teardown),
    cmocka_unit_test_setup_teardown(byte_at_a_time_gives_same_result, setup, teardown),
    cmocka_unit_test_setup_teardown(route_params_decoded, setup, teardown),
    cmocka_unit_test_setup_teardown(pipelined_answered_in_order, setup, teardown),
    cmocka_unit_test_setup_teardown(deferred_answered_out_of_order, setup, teardown),
    cmocka_unit_test_setup_teardown(max_pipelined_pauses_reading, setup, teardown),
    cmocka_unit_test_setup_teardown(slow_client_stops_reading, setup, teardown),
    cmocka_unit_test_setup_teardown(close_waits_for_slow_write, setup, teardown),
    cmocka_unit_test_setup_teardown(stalled_reader_times_out, setup, teardown),
    cmocka_unit_test_setup_teardown(progressing_reader_rearms_timer, setup, teardown),
    cmocka_unit_test_setup_teardown(connection_close_honoured, setup, teardown),
    cmocka_unit_test_setup_teardown(http10_closes_unless_keep_alive, setup, teardown),
    cmocka_unit_test_setup_teardown(not_found_is_json, setup, teardown),
    cmocka_unit_test_setup_teardown(method_not_allowed_lists_allow, setup, teardown),
    cmocka_unit_test_setup_teardown(head_on_get_route_has_no_body, setup, teardown),
    cmocka_unit_test_setup_teardown(head_error_answers_have_no_body, setup, teardown),
    cmocka_unit_test_setup_teardown(handler_that_forgets_gets_500, setup, teardown),
    cmocka_unit_test_setup_teardown(malformed_request_400_and_close, setup, teardown),
    cmocka_unit_test_setup_teardown(garbage_request_line_400, setup, teardown),
    cmocka_unit_test_setup_teardown(header_section_too_large_431, setup, teardown),
    cmocka_unit_test_setup_teardown(header_section_under_limit_ok, setup, teardown),
    cmocka_unit_test_setup_teardown(too_many_headers_431, setup, teardown),
    cmocka_unit_test_setup_teardown(content_length_over_limit_413_before_body, setup, teardown),
    cmocka_unit_test_setup_teardown(body_at_limit_accepted, setup, teardown),
    cmocka_unit_test_setup_teardown(chunked_body_assembled, setup, teardown),
    cmocka_unit_test_setup_teardown(chunked_trailers_ignored, setup, teardown),
    cmocka_unit_test_setup_teardown(chunked_body_over_limit_413, setup, teardown),
    cmocka_unit_test_setup_teardown(expect_100_continue, setup, teardown),
    cmocka_unit_test_setup_teardown(continue_sent_once_queue_ahead_is_answered, setup, teardown),
    cmocka_unit_test_setup_teardown(no_content_has_no_length, setup, teardown),
    cmocka_unit_test_setup_teardown(header_timeout_408, setup, teardown),
    cmocka_unit_test_setup_teardown(body_timeout_408, setup, teardown),
    cmocka_unit_test_setup_teardown(idle_timeout_closes_silently, setup, teardown),
    cmocka_unit_test_setup_teardown(no_timeout_while_handler_works, setup, teardown),
    cmocka_unit_test_setup_teardown(drain_closes_idle_connection, setup, teardown),
    cmocka_unit_test_setup_teardown(drain_lets_half_received_request_finish, setup, teardown),
    cmocka_unit_test_setup_teardown(drain_waits_for_deferred, setup, teardown),
    cmocka_unit_test_setup_teardown(eof_with_deferred_still_answers, setup, teardown),
    cmocka_unit_test_setup_teardown(eof_mid_request_closes, setup, teardown),
    cmocka_unit_test_setup_teardown(deferred_request_orphaned_on_release, setup, teardown),
    cmocka_unit_test_setup_teardown(stream_sends_chunks_one_piece_ahead_of_the_socket, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(stream_cut_short_closes_without_final_chunk, setup, teardown),
    cmocka_unit_test_setup_teardown(stream_to_http10_client_is_bare_and_closes, setup, teardown),
    cmocka_unit_test_setup_teardown(stream_producer_waiting_is_told_when_client_goes, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(stream_producer_busy_finds_client_gone, setup, teardown),
    cmocka_unit_test_setup_teardown(reject_answers_and_closes, setup, teardown),
    cmocka_unit_test_setup_teardown(json_wrong_content_type_400, setup, teardown),
    cmocka_unit_test_setup_teardown(json_empty_body_400, setup, teardown),
    cmocka_unit_test_setup_teardown(json_invalid_400_with_message, setup, teardown),
    cmocka_unit_test_setup_teardown(json_valid_object_parsed, setup, teardown),
};

UNIT_MAIN(tests)
