/* Jobs and webhook deliveries of the caller's app (ADMIN): GET /jobs, POST /jobs/:id/retry,
 * GET /webhooks/deliveries. Pages are newest first; nextCursor continues below the last row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/mem.h"

#define PAGE_DEFAULT 50
#define KIND_MAX 64

struct page_ctx {
    int limit;
    int64_t before;           /* 0 = from the newest */
    int state;                /* -1 = any */
    char kind[KIND_MAX + 1];  /* "" = any */
    int64_t retry_id;         /* POST /jobs/:id/retry */
};

static json_t *job_json(const struct store_job *j)
{
    json_t *payload = json_loads(j->payload, 0, NULL);
    return json_pack("{s:I, s:s, s:s, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                     (json_int_t)j->id, "kind", j->kind, "state",
                     store_job_state_name(j->state), "attempts", j->attempts, "maxAttempts",
                     j->max_attempts, "runAt",
                     j->run_at == STORE_JOB_WAITING ? json_null() : api_time(j->run_at),
                     "lastError",
                     j->last_error ? json_string(j->last_error) : json_null(), "payload",
                     payload ? payload : json_null(), "claimedAt", api_time(j->claimed_at),
                     "createdAt", api_time(j->created_at), "updatedAt",
                     api_time(j->updated_at));
}

struct rows {
    json_t *rows;
    int64_t last;
};

static void job_row(const struct store_job *j, void *arg)
{
    struct rows *r = arg;
    json_array_append_new(r->rows, job_json(j));
    r->last = j->id;
}

static void delivery_row(const struct store_delivery *d, void *arg)
{
    struct rows *r = arg;
    json_array_append_new(
        r->rows, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:i, s:o, s:I, s:o, s:o, s:b}",
                           "seq", (json_int_t)d->seq, "jobId", (json_int_t)d->job_id,
                           "webhookId", d->webhook_id, "deliveryId", d->delivery_id, "type",
                           d->event_type, "url", d->url, "attempt", d->attempt, "statusCode",
                           d->status_code ? json_integer(d->status_code) : json_null(),
                           "latencyMs", (json_int_t)d->latency_ms, "error",
                           d->error ? json_string(d->error) : json_null(), "at",
                           api_time(d->at), "succeeded", d->error == NULL));
    r->last = d->seq;
}

/* Answers a page: {<name>: rows, nextCursor}. */
static void answer_page(struct api_call *c, const char *name, struct rows *r, int limit)
{
    json_t *next = json_array_size(r->rows) == (size_t)limit && r->last > 1
                       ? json_sprintf("%lld", (long long)r->last)
                       : json_null();
    api_call_answer(c, 200, json_pack("{s:o, s:o}", name, r->rows, "nextCursor", next));
}

static void jobs_run(struct api_call *c, struct store *st)
{
    struct page_ctx *x = c->ctx;
    struct rows r = { json_array(), 0 };
    char err[256];
    if (store_jobs_page(st, c->who.app_id, x->state, x->kind[0] ? x->kind : NULL, x->before,
                        x->limit, job_row, &r, err, sizeof(err)) < 0) {
        json_decref(r.rows);
        api_call_internal(c, "job list failed", err);
        return;
    }
    answer_page(c, "jobs", &r, x->limit);
}

static void deliveries_run(struct api_call *c, struct store *st)
{
    struct page_ctx *x = c->ctx;
    struct rows r = { json_array(), 0 };
    char err[256];
    if (store_deliveries_page(st, c->who.app_id, x->before, x->limit, delivery_row, &r, err,
                              sizeof(err)) < 0) {
        json_decref(r.rows);
        api_call_internal(c, "delivery list failed", err);
        return;
    }
    answer_page(c, "deliveries", &r, x->limit);
}

/* ?limit=&cursor= and, with `filters`, ?state=&kind=: 0, or -1 once answered 400. */
static int page_query(struct http_request *req, struct page_ctx *x, bool filters)
{
    struct buf v = BUF_INIT;
    json_t *details = json_object();
    x->state = -1;
    int rc = api_page_query(req, PAGE_DEFAULT, &x->limit, &x->before, details);
    if (filters && rc >= 0 && (rc = http_request_query(req, "state", &v)) > 0) {
        enum store_job_state s;
        if (store_job_state_parse(v.data, &s) < 0)
            json_object_set_new(details, "state",
                                json_string("must be queued, running, succeeded, failed or dead"));
        else
            x->state = (int)s;
    }
    buf_reset(&v);
    if (filters && rc >= 0 && (rc = http_request_query(req, "kind", &v)) > 0) {
        if (v.len > KIND_MAX)
            json_object_set_new(details, "kind", json_string("must be at most 64 characters"));
        else
            memcpy(x->kind, v.data, v.len + 1);
    }
    buf_release(&v);
    return api_query_finish(req, rc, details);
}

static void list(struct http_request *req, struct api *api, bool jobs)
{
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ADMIN, &who) < 0)
        return;
    struct page_ctx *x = xcalloc(1, sizeof(*x));
    if (page_query(req, x, jobs) < 0) {
        free(x);
        return;
    }
    struct api_call *c = api_call_new(api, req, &who);
    c->ctx = x;
    c->ctx_free = free;
    api_call_submit(c, jobs ? jobs_run : deliveries_run);
}

static void get_jobs(struct http_request *req, void *arg)
{
    list(req, arg, true);
}

static void get_deliveries(struct http_request *req, void *arg)
{
    list(req, arg, false);
}

/* ---- POST /jobs/:id/retry ------------------------------------------------------------------ */

static void retry_run(struct api_call *c, struct store *st)
{
    struct page_ctx *x = c->ctx;
    char err[256];
    struct store_job was, j;
    int rc = store_job_get(st, c->who.app_id, x->retry_id, &was, err, sizeof(err));
    if (rc == STORE_NOT_FOUND) {
        api_call_error(c, 404, "not_found", "Job not found");
        return;
    }
    if (rc < 0) {
        api_call_internal(c, "job retry failed", err);
        return;
    }
    rc = store_job_retry(st, c->who.app_id, x->retry_id, clock_now_ms(), err, sizeof(err));
    if (rc == STORE_CONFLICT) {
        store_job_release(&was);
        api_call_error(c, 409, "conflict", "Only a dead job can be retried");
        return;
    }
    if (rc < 0 || store_job_get(st, c->who.app_id, x->retry_id, &j, err, sizeof(err)) < 0) {
        store_job_release(&was);
        api_call_fail_batch(c, "job retry failed", err);
        return;
    }
    json_t *before = job_json(&was), *after = job_json(&j);
    store_job_release(&was);
    store_job_release(&j);
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)x->retry_id);
    rc = api_audit(c, NULL, "job.retry", "job", id, before, after);
    json_decref(before);
    if (rc < 0) {
        json_decref(after);
        return;
    }
    api_call_answer(c, 200, json_pack("{s:o}", "job", after));
}

static void retry_job(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ADMIN, &who) < 0)
        return;
    const char *id = http_request_param(req, "id");
    char *end;
    long long n = strtoll(id, &end, 10);
    if (*end || !*id || n < 1) { /* cannot exist: same answer as a missing one */
        http_respond_error(req, 404, "not_found", "Job not found");
        return;
    }
    struct page_ctx *x = xcalloc(1, sizeof(*x));
    x->retry_id = n;
    struct api_call *c = api_call_new(api, req, &who);
    c->ctx = x;
    c->ctx_free = free;
    api_call_submit(c, retry_run);
}

int api_jobs_register(struct router *r, struct api *api)
{
    if (router_add(r, HTTP_GET, "/jobs", get_jobs, api) < 0 ||
        router_add(r, HTTP_POST, "/jobs/:id/retry", retry_job, api) < 0 ||
        router_add(r, HTTP_GET, "/webhooks/deliveries", get_deliveries, api) < 0)
        return -1;
    return 0;
}
