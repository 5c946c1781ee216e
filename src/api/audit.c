/* The audit trail over HTTP: api_audit, which route handlers call to record a change in the
 * batch that makes it, GET /audit (a page of JSON, or with format=ndjson the whole selection
 * streamed), and retention.
 *
 * Streaming: the store belongs to the engine thread, so an export reads it there one page at
 * a time (STREAM_PAGE rows, rendered as NDJSON into the stream's buffer) and posts the page
 * back to the request's I/O thread, which hands it to the connection; the next page is read
 * only once the connection asks for more (http_respond_stream), that is once the socket took
 * the previous one. Memory per export is one page whatever the selection's size, and a slow
 * client holds back only its own export. Each page is a separate engine task, so an export
 * never keeps writers waiting longer than one page read. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/audit_query.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/worker.h"
#include "http/server.h"

#define STREAM_PAGE 500
#define PRUNE_EVERY_MS (3600 * 1000)
#define PRUNE_LIMIT 10000 /* rows per prune call: bounds the time it holds the writer */
#define DAY_MS (86400 * (int64_t)1000)

int api_audit_write(struct store *st, const struct api_actor *who, const char *app_id,
                    const char *action, const char *type, const char *id, const json_t *before,
                    const json_t *after, char *err, size_t errlen)
{
    char *b = before ? json_dump_new(before) : NULL, *a = after ? json_dump_new(after) : NULL;
    struct store_audit row = {
        .app_id = app_id,
        .at = clock_now_ms(),
        .actor = who->actor,
        .action = action,
        .resource_type = type,
        .resource_id = id,
        .before = b,
        .after = a,
        .request_id = who->request_id,
    };
    int rc = store_audit_write(st, &row, err, errlen);
    free(b);
    free(a);
    return rc < 0 ? -1 : 0;
}

struct api_actor api_call_actor(const struct api_call *c)
{
    struct api_actor who = {
        c->who.key_id[0] ? c->who.key_id : c->actor ? c->actor : STORE_AUDIT_ACTOR_OPERATOR,
        c->request_id[0] ? c->request_id : NULL,
    };
    return who;
}

int api_audit(struct api_call *c, const char *app_id, const char *action, const char *type,
              const char *id, const json_t *before, const json_t *after)
{
    struct api_actor who = api_call_actor(c);
    char err[256];
    if (api_audit_write(c->api->store, &who, app_id ? app_id : c->who.app_id, action, type, id,
                        before, after, err, sizeof(err)) < 0) {
        api_call_fail_batch(c, "writing the audit trail failed", err);
        return -1;
    }
    return 0;
}

/* One row as JSON text. before/after are JSON the server wrote: copied as they are. */
static void row_json(struct buf *o, const struct store_audit *r)
{
    char at[CLOCK_ISO_LEN];
    clock_iso(r->at, at);
    buf_puts(o, "{\"id\":");
    buf_append_i64(o, r->id);
    buf_puts(o, ",\"appId\":");
    buf_append_json_string(o, r->app_id, strlen(r->app_id));
    buf_puts(o, ",\"at\":\"");
    buf_puts(o, at);
    buf_puts(o, "\",\"actor\":");
    buf_append_json_string(o, r->actor, strlen(r->actor));
    buf_puts(o, ",\"action\":");
    buf_append_json_string(o, r->action, strlen(r->action));
    buf_puts(o, ",\"resourceType\":");
    buf_append_json_string(o, r->resource_type, strlen(r->resource_type));
    buf_puts(o, ",\"resourceId\":");
    buf_append_json_string(o, r->resource_id, strlen(r->resource_id));
    buf_puts(o, ",\"before\":");
    buf_puts(o, r->before ? r->before : "null");
    buf_puts(o, ",\"after\":");
    buf_puts(o, r->after ? r->after : "null");
    buf_puts(o, ",\"requestId\":");
    if (r->request_id)
        buf_append_json_string(o, r->request_id, strlen(r->request_id));
    else
        buf_puts(o, "null");
    buf_putc(o, '}');
}

/* ---- GET /audit: one page of JSON ------------------------------------------------------------ */

struct page_ctx {
    struct audit_query q;
    struct buf *out;
    int limit;     /* rows to show; one more is read to know whether a next page exists */
    int n;
    int64_t last;  /* id of the last row shown */
};

static void page_ctx_free(void *p)
{
    struct page_ctx *x = p;
    audit_query_release(&x->q);
    free(x);
}

static void page_row(const struct store_audit *r, void *arg)
{
    struct page_ctx *x = arg;
    if (x->n++ >= x->limit)
        return;
    if (x->n > 1)
        buf_putc(x->out, ',');
    row_json(x->out, r);
    x->last = r->id;
}

static void page_run(struct api_call *c, struct store *st)
{
    struct page_ctx *x = c->ctx;
    char err[256];
    x->out = &c->raw;
    x->limit = x->q.limit;
    buf_puts(&c->raw, "{\"entries\":[");
    if (store_audit_page(st, &x->q.filter, x->limit + 1, page_row, x, NULL, err,
                         sizeof(err)) < 0) {
        buf_reset(&c->raw);
        api_call_internal(c, "reading the audit trail failed", err);
        return;
    }
    buf_puts(&c->raw, "],\"nextCursor\":");
    if (x->n > x->limit) {
        char cursor[AUDIT_CURSOR_LEN + 1];
        audit_cursor_encode(x->last, cursor);
        buf_printf(&c->raw, "\"%s\"}", cursor);
    } else {
        buf_puts(&c->raw, "null}");
    }
    c->status = 200;
}

/* ---- GET /audit?format=ndjson: the whole selection, streamed --------------------------------- */

struct export {
    struct api *api;
    struct http_request *req;  /* its I/O thread only */
    unsigned thread;
    struct audit_query q;      /* filter.before_id moves down page by page (engine thread) */
    struct buf page;           /* NDJSON of the page read: engine thread, then I/O thread */
    bool started;              /* the stream's headers went out (I/O thread) */
    bool pending;              /* `page` waits to be written (I/O thread) */
    bool done;                 /* the last page was read */
    bool failed;               /* the store could not be read */
};

static void export_free(struct export *x)
{
    audit_query_release(&x->q);
    buf_release(&x->page);
    free(x);
}

static void export_row(const struct store_audit *r, void *arg)
{
    struct export *x = arg;
    row_json(&x->page, r);
    buf_putc(&x->page, '\n');
    x->q.filter.before_id = r->id;
}

static void export_deliver(void *arg);

/* On the engine thread, once the batch the page was read in has ended: the page may hold
 * rows written earlier in that batch, so it is sent only if the batch committed. */
static void export_read_done(void *arg, bool committed)
{
    struct export *x = arg;
    if (!committed)
        x->failed = true;
    if (http_server_post(x->api->server, x->thread, export_deliver, x) < 0)
        export_deliver(x); /* the I/O threads are gone: this only frees (see call.c) */
}

/* On the engine thread: the next page. */
static void export_read(void *arg)
{
    struct export *x = arg;
    char err[256];
    int n = 0;
    buf_reset(&x->page);
    if (store_audit_page(x->api->store, &x->q.filter, STREAM_PAGE, export_row, x, &n, err,
                         sizeof(err)) < 0) {
        log_error("reading the audit trail failed", LOG_S("error", err));
        x->failed = true;
    }
    x->done = n < STREAM_PAGE;
    api_after_commit(x->api, export_read_done, x);
}

static void export_finish(struct export *x, bool complete)
{
    http_stream_end(x->req, complete);
    export_free(x);
}

/* On the I/O thread, when the socket has taken everything so far. */
static void export_more(struct http_request *req, void *arg)
{
    struct export *x = arg;
    (void)req;
    if (http_request_orphaned(x->req)) {
        export_finish(x, false);
    } else if (x->pending) {
        x->pending = false;
        http_stream_write(x->req, x->page.data, x->page.len);
    } else if (x->done || x->failed) {
        export_finish(x, !x->failed);
    } else if (worker_submit(x->api->store_worker, export_read, x) < 0) {
        log_warn("audit export cut short: the engine's queue is full or stopping",
                 LOG_S("request_id", x->req->id));
        export_finish(x, false);
    }
}

/* On the I/O thread, with a page read. */
static void export_deliver(void *arg)
{
    struct export *x = arg;
    if (!x->started) {
        x->started = true;
        if (x->failed) {
            http_respond_error(x->req, 500, "internal", "Internal server error");
            export_free(x);
            return;
        }
        x->pending = true; /* written when the headers are out */
        http_respond_stream(x->req, 200, "application/x-ndjson", export_more, x);
        return;
    }
    x->pending = true;
    export_more(x->req, x);
}

/* ---- GET /audit: the handler ----------------------------------------------------------------- */

static void get_audit(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    bool operator = http_request_header(req, "authorization", NULL) != NULL;
    if (operator) {
        /* The operator sees every app; open signup does not make anyone the operator here. */
        if (!api_operator_token_valid(api, req)) {
            http_respond_error(req, 401, "unauthorized", "Invalid operator token");
            return;
        }
        memset(&who, 0, sizeof(who));
    } else if (api_authenticate(api, req, API_ROLE_ADMIN, &who) < 0) {
        return;
    }
    struct audit_query q;
    json_t *details = NULL;
    if (audit_query_parse(req->query, req->query_len, &q, &details) < 0) {
        http_respond_error_details(req, 400, "validation_failed", "Validation failed", details);
        return;
    }
    if (!operator && q.app_id && strcmp(q.app_id, who.app_id) != 0) {
        audit_query_release(&q);
        http_respond_error(req, 403, "forbidden", "An app's key sees only its app's audit trail");
        return;
    }
    q.filter.app_id = operator ? q.app_id : NULL;
    if (!operator) {
        free(q.app_id);
        q.app_id = xstrdup(who.app_id);
        q.filter.app_id = q.app_id;
    }
    if (q.ndjson) {
        struct export *x = xcalloc(1, sizeof(*x));
        x->api = api;
        x->req = req;
        x->thread = req->thread;
        x->q = q;
        buf_init(&x->page);
        http_request_defer(req);
        if (worker_submit(api->store_worker, export_read, x) < 0) {
            export_free(x);
            http_response_header(req, "Retry-After", "1");
            http_respond_error(req, 503, "overloaded", "The store is busy; try again shortly");
        }
        return;
    }
    struct page_ctx *x = xcalloc(1, sizeof(*x));
    x->q = q;
    struct api_call *c = api_call_new(api, req, operator ? NULL : &who);
    c->ctx = x;
    c->ctx_free = page_ctx_free;
    api_call_submit(c, page_run);
}

int api_audit_register(struct router *r, struct api *api)
{
    return router_add(r, HTTP_GET, "/audit", get_audit, api);
}

/* ---- retention ------------------------------------------------------------------------------- */

void api_audit_prune(struct api *api, int64_t now_ms)
{
    if (api->audit_retention_days <= 0 || !api_batch_usable(api))
        return;
    if (!api->audit_prune_more && api->audit_pruned_ms &&
        now_ms - api->audit_pruned_ms < PRUNE_EVERY_MS)
        return;
    api->audit_pruned_ms = now_ms;
    int64_t deleted = 0;
    char err[256];
    int64_t before = now_ms - api->audit_retention_days * DAY_MS;
    if (store_audit_prune(api->store, before, PRUNE_LIMIT, &deleted, err, sizeof(err)) < 0) {
        log_error("pruning the audit trail failed", LOG_S("error", err));
        api->audit_prune_more = false;
        return;
    }
    api->audit_prune_more = deleted == PRUNE_LIMIT;
    if (deleted)
        log_info("audit trail pruned", LOG_I("rows", deleted),
                 LOG_I("retention_days", api->audit_retention_days));
}
