/* Running a request's store work on the engine thread and answering on the I/O thread
 * (see api.h). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/syncer.h"
#include "core/worker.h"
#include "engine/engine.h"
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
    memcpy(c->request_id, req->id, sizeof(c->request_id));
    c->status = 500;
    buf_init(&c->raw);
    return c;
}

static void call_free(struct api_call *c)
{
    if (c->ctx_free)
        c->ctx_free(c->ctx);
    json_decref(c->body);
    buf_release(&c->raw);
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
    if (c->header_name)
        http_response_header(c->req, c->header_name, c->header_value);
    if (c->body) {
        http_respond_json(c->req, c->status, c->body);
        c->body = NULL;
    } else if (c->raw.len) {
        http_respond(c->req, c->status, "application/json", c->raw.data, c->raw.len);
    } else {
        http_respond(c->req, c->status, NULL, "", 0);
    }
    call_free(c);
}

struct pending {
    struct api_call *call;
    api_call_fn *fn;
};

/* Sends the call's answer from its I/O thread. The engine thread stops before the I/O
 * threads (main.c), so the post cannot fail while calls are in flight; if it ever did, the
 * request is an orphan of a joined thread and answering it here only frees it. */
static void post_answer(struct api_call *c)
{
    if (http_server_post(c->api->server, c->thread, call_answer, c) < 0)
        call_answer(c);
}

static void answer_unavailable(struct api_call *c)
{
    api_call_error(c, 503, "store_unavailable",
                   "The store could not save this; nothing was changed. Try again");
    c->retry_after = 1;
    c->header_name = NULL;
    c->on_commit = NULL;
    if (c->on_fail)
        c->on_fail(c);
    c->on_fail = NULL;
}

/* On the engine thread: runs the call's work inside the open batch; the answer waits for the
 * batch's commit. */
static void call_run(void *arg)
{
    struct pending *p = arg;
    struct api_call *c = p->call;
    struct api *api = c->api;
    api_call_fn *fn = p->fn;
    free(p);
    if (api->batch_n == api->batch_cap) {
        api->batch_cap = api->batch_cap ? api->batch_cap * 2 : 64;
        api->batch = xrealloc(api->batch, api->batch_cap * sizeof(*api->batch));
    }
    api->batch[api->batch_n++] = c;
    if (!api_batch_usable(api)) {
        answer_unavailable(c);
        return;
    }
    /* Authenticated on the I/O thread, maybe before a revocation that committed since: the
     * key must still be valid when its work runs (the engine thread is the registry's only
     * writer, so this cannot change until the batch ends). */
    if (c->who.key_id[0] && !tenant_key_active(api->tenants, c->who.key_id)) {
        api_call_error(c, 401, "unauthorized", "Invalid API key");
        return;
    }
    fn(c, api->store);
    api_batch_usable(api);
}

void api_after_commit(struct api *api, void (*fn)(void *arg, bool committed), void *arg)
{
    if (!api_batch_usable(api)) {
        fn(arg, false);
        return;
    }
    api_batch_after(api, fn, arg);
}

bool api_batch_usable(struct api *api)
{
    if (!api->batch_open || api->batch_failed)
        return false;
    if (!store_batch_active(api->store)) {
        /* SQLite rolled the whole transaction back (I/O error, disk full), maybe under another
         * task of the batch: everything this batch did is gone, and nothing more may run, or
         * it would commit on its own while its call is answered 503. */
        log_error("the store rolled back a batch mid-way", LOG_U("calls", api->batch_n));
        api->batch_failed = true;
        return false;
    }
    return true;
}

void api_batch_begin(void *arg)
{
    struct api *api = arg;
    char err[256];
    if (api->batch_open)
        return; /* the previous batch was held open to take these tasks too */
    store_batch_rollback(api->store); /* nothing may be left open, but make sure */
    api->batch_opened_ns = clock_mono_ns();
    api->batch_failed = false;
    api->batch_open = store_batch_begin(api->store, err, sizeof(err)) == 0;
    if (!api->batch_open) {
        log_error("cannot open a store batch", LOG_S("error", err));
        atomic_store(&api->store_ok_ms, 0);
    }
}

/* A committed batch's calls, waiting for up to three things: the sync that makes them
 * durable (the syncer thread), the leaderboards' applier thread putting the batch's changes
 * into memory (so that an answered client reads its own scores), and the engine thread's
 * own part (the calls' on_commit). Whichever finishes last answers. */
struct durable_batch {
    struct api_call **calls;
    size_t n;
    atomic_uint waiting;        /* parties not yet done */
};

/* Durable and in memory: completes the calls (on the thread that finished last). */
static void batch_durable(struct durable_batch *d)
{
    for (size_t i = 0; i < d->n; i++) {
        struct api_call *c = d->calls[i];
        if (c->on_durable && c->status < 400)
            c->on_durable(c);
        post_answer(c);
    }
    free(d->calls);
    free(d);
}

/* One party is done with the batch; the last one completes it. */
static void batch_party_done(void *arg)
{
    struct durable_batch *d = arg;
    if (atomic_fetch_sub_explicit(&d->waiting, 1, memory_order_acq_rel) == 1)
        batch_durable(d);
}

static void wake(void *arg)
{
    (void)arg; /* a task only to end the worker's wait: its batch end commits what was held */
}

void api_sync_idle(void *arg)
{
    struct api *api = arg;
    if (atomic_exchange(&api->holding, false))
        worker_submit(api->store_worker, wake, NULL); /* a full queue wakes it anyway */
}

int api_sync(void *arg, char *err, unsigned errlen)
{
    struct api *api = arg;
    uint64_t t0 = clock_mono_ns();
    int rc = store_sync(api->store, err, errlen);
    metrics_hist_observe(&api->sync_time, clock_mono_ns() - t0);
    return rc;
}

void api_batch_end(void *arg)
{
    struct api *api = arg;
    char err[256] = "";
    uint64_t t0 = clock_mono_ns();
    /* While the syncer is busy a commit would only wait for it: keep the transaction open
     * and take what is queued into it, so one commit and one sync carry all of it. Bounded
     * in calls and time; an empty queue always commits. */
    if (api_batch_usable(api) && api->syncer && api->batch_n > 0 &&
        api->batch_n < API_HOLD_CALLS && t0 - api->batch_opened_ns < API_HOLD_NS &&
        !worker_stopping(api->store_worker)) {
        atomic_store(&api->holding, true);
        /* The syncer may have gone idle before it could see the flag: check again after
         * setting it (api_sync_idle wakes the worker when it sees it). */
        if (syncer_busy(api->syncer))
            return;
        atomic_store(&api->holding, false);
    }
    atomic_store(&api->holding, false);
    api_audit_prune(api, clock_now_ms()); /* at most once an hour, in this batch */
    /* Users' game state is written once per batch, whatever number of events changed it. */
    bool ok = api->batch_open && !api->batch_failed &&
              (!api->engine ||
               engine_flush(api->engine, api->store, clock_now_ms(), err, sizeof(err)) == 0) &&
              store_batch_commit(api->store, err, sizeof(err)) == 0;
    uint64_t commit_ns = clock_mono_ns() - t0;
    /* Committed, not yet durable: the sync starts now, while the engine and the applier put
     * the batch into memory; the calls are answered once all are done (batch_party_done).
     * Counted before anyone can be done: the engine's part, the syncer's, the applier's
     * (given back below when it has nothing to do). */
    struct durable_batch *d = NULL;
    if (ok && api->batch_n > 0) {
        d = xmalloc(sizeof(*d));
        d->calls = api->batch;
        d->n = api->batch_n;
        atomic_init(&d->waiting, 2u + (api->syncer ? 1u : 0u));
        api->batch = NULL;
        api->batch_n = api->batch_cap = 0;
        if (api->syncer)
            syncer_after(api->syncer, batch_party_done, d);
    }
    bool applying = false;
    if (api->engine)
        applying = engine_batch_end_then(api->engine, ok, commit_ns, d ? batch_party_done : NULL,
                                         d);
    if (d && !applying)
        batch_party_done(d); /* the applier's part: nothing to wait for */
    if (!ok) {
        store_batch_rollback(api->store);
        if (api->batch_open)
            log_error("store batch failed and was rolled back", LOG_S("error", err),
                      LOG_U("calls", api->batch_n));
        atomic_store(&api->store_ok_ms, 0); /* not ready until a probe succeeds again */
    }
    api->batch_open = false;
    for (size_t i = 0; i < api->after_n; i++)
        api->after[i].fn(api->after[i].arg, ok);
    api->after_n = 0;
    if (!ok) {
        /* Nothing was written: no need to wait for the disk. */
        for (size_t i = 0; i < api->batch_n; i++) {
            answer_unavailable(api->batch[i]);
            post_answer(api->batch[i]);
        }
        api->batch_n = 0;
        return;
    }
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        struct api_call *c = d->calls[i];
        if (c->on_commit && c->status < 400)
            c->on_commit(c);
    }
    if (!api->syncer && store_sync(api->store, err, sizeof(err)) < 0) {
        log_error("cannot make committed work durable; exiting without acknowledging it",
                  LOG_S("error", err));
        log_flush();
        _exit(70);
    }
    batch_party_done(d); /* the engine's part; the others' may be done already */
}

void api_batch_after(struct api *api, void (*fn)(void *arg, bool committed), void *arg)
{
    if (api->after_n == api->after_cap) {
        api->after_cap = api->after_cap ? api->after_cap * 2 : 8;
        api->after = xrealloc(api->after, api->after_cap * sizeof(*api->after));
    }
    api->after[api->after_n++] = (struct api_after){ fn, arg };
}

void api_call_submit(struct api_call *c, api_call_fn *fn)
{
    (void)api_call_submit_weighted(c, fn, 1);
}

/* Refuses a call the engine's queue had no room for: 503 at once, on its I/O thread. */
static void refuse(struct api_call *c)
{
    if (c->on_refused)
        c->on_refused(c);
    http_response_header(c->req, "Retry-After", "1");
    http_respond_error(c->req, 503, "overloaded", "The store is busy; try again shortly");
    c->req = NULL;
    call_free(c);
}

int api_call_submit_weighted(struct api_call *c, api_call_fn *fn, size_t weight)
{
    struct pending *p = xmalloc(sizeof(*p));
    p->call = c;
    p->fn = fn;
    /* Defer first: once submitted, the call may be answered before this returns. */
    http_request_defer(c->req);
    if (worker_submit_weighted(c->api->store_worker, call_run, p, weight) < 0) {
        free(p);
        refuse(c);
        return -1;
    }
    return 0;
}

void api_call_fail_batch(struct api_call *c, const char *what, const char *err)
{
    log_error(what, LOG_S("error", err), LOG_S("app", c->who.app_id));
    c->api->batch_failed = true;
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
