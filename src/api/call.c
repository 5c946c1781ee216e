/* Running a request's store work on the store thread and answering on the I/O thread
 * (see api.h). */
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

/* On the store thread. */
static void call_run(void *arg)
{
    struct pending *p = arg;
    struct api_call *c = p->call;
    p->fn(c, c->api->store);
    free(p);
    if (http_server_post(c->api->server, c->thread, call_answer, c) < 0) {
        /* The I/O thread is gone (forced shutdown): nobody is left to answer. */
        call_free(c);
    }
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
