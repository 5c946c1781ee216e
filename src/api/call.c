/* Running a request's store work on the store thread and answering on the I/O thread
 * (see api.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/worker.h"
#include "http/server.h"

struct api_call *api_call_new(struct api *api, struct http_request *req,
                              const struct principal *who)
{
    struct api_call *c = xcalloc(1, sizeof(*c));
    c->api = api;
    c->req = req;
    c->thread = req->thread;
    if (who)
        c->who = *who;
    c->status = 500;
    return c;
}

static void call_free(struct api_call *c)
{
    if (c->ctx_free)
        c->ctx_free(c->ctx);
    json_decref(c->body);
    free(c);
}

/* On the request's I/O thread. */
static void call_answer(void *arg)
{
    struct api_call *c = arg;
    if (c->retry_after) {
        char v[16];
        snprintf(v, sizeof(v), "%u", c->retry_after);
        http_response_header(c->req, "Retry-After", v);
    }
    if (c->body) {
        http_respond_json(c->req, c->status, c->body);
        c->body = NULL;
    } else {
        http_respond(c->req, c->status, NULL, "", 0);
    }
    call_free(c);
}

struct pending {
    struct api_call *call;
    api_call_fn *fn;
};

static void post_answer(struct api_call *c)
{
    if (http_server_post(c->api->server, c->thread, call_answer, c) < 0) {
        /* The I/O thread is gone (forced shutdown): nobody is left to answer. */
        call_free(c);
    }
}

/* On the store thread: runs the call's work; the answer waits for the batch's commit. */
static void call_run(void *arg)
{
    struct pending *p = arg;
    struct api_call *c = p->call;
    struct api *api = c->api;
    p->fn(c, api->store);
    free(p);
    if (!api->batch_open) {
        /* No batch (its BEGIN failed): the work committed on its own, answer now. */
        if (c->on_commit && c->status < 400)
            c->on_commit(c);
        post_answer(c);
        return;
    }
    if (api->batch_n == api->batch_cap) {
        api->batch_cap = api->batch_cap ? api->batch_cap * 2 : 64;
        api->batch = xrealloc(api->batch, api->batch_cap * sizeof(*api->batch));
    }
    api->batch[api->batch_n++] = c;
}

void api_batch_begin(void *arg)
{
    struct api *api = arg;
    char err[256];
    api->batch_open = store_batch_begin(api->store, err, sizeof(err)) == 0;
    if (!api->batch_open)
        log_warn("cannot open a store batch; running unbatched", LOG_S("error", err));
}

void api_batch_end(void *arg)
{
    struct api *api = arg;
    if (!api->batch_open)
        return;
    api->batch_open = false;
    char err[256];
    bool ok = store_batch_commit(api->store, err, sizeof(err)) == 0;
    if (!ok) {
        log_error("store commit failed; the batch is rolled back", LOG_S("error", err),
                  LOG_U("calls", api->batch_n));
        atomic_store(&api->store_ok_ms, 0); /* not ready until a probe succeeds again */
    }
    for (size_t i = 0; i < api->batch_n; i++) {
        struct api_call *c = api->batch[i];
        if (ok && c->on_commit && c->status < 400)
            c->on_commit(c);
        if (!ok) {
            api_call_error(c, 503, "store_unavailable",
                           "The store could not save this; nothing was changed. Try again");
            c->retry_after = 1;
        }
        post_answer(c);
    }
    api->batch_n = 0;
}

void api_call_submit(struct api_call *c, api_call_fn *fn)
{
    struct pending *p = xmalloc(sizeof(*p));
    p->call = c;
    p->fn = fn;
    /* Defer first: once submitted, the call may be answered before this returns. */
    http_request_defer(c->req);
    if (worker_submit(c->api->store_worker, call_run, p) < 0) {
        free(p);
        http_response_header(c->req, "Retry-After", "1");
        http_respond_error(c->req, 503, "overloaded", "The store is busy; try again shortly");
        c->req = NULL;
        call_free(c);
    }
}

void api_call_answer(struct api_call *c, int status, json_t *body)
{
    json_decref(c->body);
    c->status = status;
    c->body = body;
}

void api_call_error(struct api_call *c, int status, const char *code, const char *message)
{
    api_call_answer(c, status, json_pack("{s:s, s:s}", "error", message, "code", code));
}

void api_call_internal(struct api_call *c, const char *what, const char *err)
{
    log_error(what, LOG_S("error", err), LOG_S("app", c->who.app_id));
    api_call_error(c, 500, "internal", "Internal server error");
}

json_t *api_time(int64_t ms)
{
    if (ms == 0)
        return json_null();
    char iso[CLOCK_ISO_LEN];
    clock_iso(ms, iso);
    return json_string(iso);
}

void api_json_free(void *json)
{
    json_decref(json);
}
