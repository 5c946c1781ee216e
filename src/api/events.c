/* Event ingestion over HTTP: POST /events and POST /events/batch (ADMIN or INGEST key and
 * ForgeEngine's signature), and GET /events/:idempotencyKey (any key).
 *
 * On the I/O thread a request is authenticated, its signature verified (a cached HMAC context
 * per app and thread), its body parsed and every event validated; what passes goes to the
 * engine thread as one task. There, inside the open store batch, the nonce is claimed (a replay
 * is refused; a request that never got this far burned nothing) and the engine applies the
 * events. The answer is sent after the batch commits; a batch that fails is answered 503 and
 * leaves nothing behind. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/fxpack.h"
#include "core/json.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/utf8.h"
#include "engine/engine.h"
#include "ingest/signature.h"

/* ---- per-thread signature verifiers -------------------------------------------------------- */

static pthread_key_t verifier_key;
static pthread_once_t verifier_once = PTHREAD_ONCE_INIT;

static void verifier_free(void *v)
{
    sig_verifier_free(v);
}

static void verifier_key_init(void)
{
    pthread_key_create(&verifier_key, verifier_free);
}

static struct sig_verifier *thread_verifier(void)
{
    pthread_once(&verifier_once, verifier_key_init);
    struct sig_verifier *v = pthread_getspecific(verifier_key);
    if (!v) {
        v = sig_verifier_new();
        pthread_setspecific(verifier_key, v);
    }
    return v;
}

/* ---- one ingest request ------------------------------------------------------------------- */

struct slot {
    long event;                  /* index in events, or -1 when refused */
    char *given_key;             /* a refused event's idempotencyKey, when it had a string one */
    struct event_problem problem;
};

struct ingest {
    char nonce[SIG_NONCE_MAX + 1];
    size_t nonce_len;
    int64_t sig_ts;              /* the signature's timestamp, Unix seconds */
    bool wait;                   /* ?wait=true: answer with each event's outcome */
    bool batch;                  /* /events/batch */
    uint64_t start_ns;           /* the request's first byte (monotonic) */
    struct slot *slots;          /* batch: one per input event */
    size_t n_slots, slots_cap;   /* events has room for slots_cap too */
    struct event *events;        /* the events that passed validation, in order */
    struct engine_outcome *outcomes;
    size_t n;
};

static void ingest_free(void *p)
{
    struct ingest *x = p;
    for (size_t i = 0; i < x->n_slots; i++) {
        free(x->slots[i].given_key);
        event_problem_release(&x->slots[i].problem);
    }
    for (size_t i = 0; i < x->n; i++) {
        event_release(&x->events[i]);
        if (x->outcomes)
            engine_outcome_release(&x->outcomes[i]);
    }
    free(x->slots);
    free(x->events);
    free(x->outcomes);
    free(x);
}

/* ---- answers -------------------------------------------------------------------------------- */

/* Answers are built field by field on the engine thread, for every event of a batch: plain
 * appends, no printf. */
static void put_name(struct buf *b, const char *name)
{
    buf_putc(b, '"');
    buf_puts(b, name);
    buf_puts(b, "\":");
}

static void put_str(struct buf *b, const char *name, const char *v)
{
    put_name(b, name);
    buf_append_json_string(b, v, strlen(v));
}

/* A time as ISO 8601; `nullable`: 0 means none (null). */
static void put_time(struct buf *b, const char *name, int64_t ms, bool nullable)
{
    put_name(b, name);
    if (!ms && nullable) {
        buf_puts(b, "null");
        return;
    }
    char iso[CLOCK_ISO_LEN];
    clock_iso(ms, iso);
    buf_putc(b, '"');
    buf_puts(b, iso);
    buf_putc(b, '"');
}

/* The public form of an event: GET /events/:key and the `event` of ?wait=true answers. */
static void event_json(struct buf *b, const struct store_event *e)
{
    buf_putc(b, '{');
    put_str(b, "idempotencyKey", e->idempotency_key);
    buf_putc(b, ',');
    put_str(b, "userId", e->user_id);
    buf_putc(b, ',');
    put_str(b, "eventType", e->event_type);
    buf_putc(b, ',');
    put_str(b, "status", store_event_status_name(e->status));
    if (e->error) {
        buf_putc(b, ',');
        put_str(b, "error", e->error);
    }
    buf_puts(b, ",\"metadata\":");
    buf_puts(b, e->metadata ? e->metadata : "{}");
    buf_putc(b, ',');
    put_time(b, "occurredAt", e->occurred_at, false);
    buf_putc(b, ',');
    put_time(b, "receivedAt", e->received_at, false);
    buf_putc(b, ',');
    put_time(b, "processedAt", e->processed_at, true);
    buf_puts(b, ",\"effects\":");
    /* The compact form is expanded in place (as store_event_effects gives it). */
    if (e->effects)
        buf_puts(b, e->effects);
    else if (!e->fx || fxpack_json(e->fx, e->fx_len, b) < 0)
        buf_puts(b, "[]");
    buf_putc(b, '}');
}

/* One accepted event's answer; `index` (>= 0) is its place in a batch. */
static void accepted_json(struct buf *b, const struct ingest *x, size_t i, long index)
{
    const struct engine_outcome *o = &x->outcomes[i];
    buf_putc(b, '{');
    if (index >= 0) {
        buf_puts(b, "\"index\":");
        buf_append_i64(b, index);
        buf_putc(b, ',');
    }
    buf_puts(b, "\"status\":\"accepted\",");
    put_str(b, "idempotencyKey", x->events[i].key);
    if (x->batch && o->duplicate)
        buf_puts(b, ",\"duplicate\":true");
    if (x->wait) {
        buf_puts(b, ",\"event\":");
        event_json(b, &o->stored);
    }
    buf_putc(b, '}');
}

static void refused_json(struct buf *b, const struct slot *s, size_t index)
{
    buf_printf(b, "{\"index\":%zu,\"status\":\"rejected\",", index);
    if (s->given_key) {
        put_str(b, "idempotencyKey", s->given_key);
        buf_putc(b, ',');
    }
    put_str(b, "error", s->problem.message);
    buf_putc(b, ',');
    put_str(b, "code", s->problem.code);
    if (s->problem.details) {
        buf_puts(b, ",\"details\":");
        json_dump_buf(s->problem.details, b);
    }
    buf_putc(b, '}');
}

/* The batch answer: every input event's result, in order. 202 when all were accepted. */
static int batch_answer(struct buf *b, const struct ingest *x)
{
    size_t refused = x->n_slots - x->n;
    buf_printf(b, "{\"accepted\":%zu,\"rejected\":%zu,\"results\":[", x->n, refused);
    for (size_t i = 0; i < x->n_slots; i++) {
        if (i)
            buf_putc(b, ',');
        const struct slot *s = &x->slots[i];
        if (s->event < 0) {
            refused_json(b, s, i);
            continue;
        }
        accepted_json(b, x, (size_t)s->event, (long)i);
    }
    buf_puts(b, "]}");
    return refused ? 207 : 202;
}

/* ---- the engine thread --------------------------------------------------------------------- */

static void ingest_refuse(struct api_call *c, enum engine_reject why, const char *code,
                          const char *message)
{
    struct ingest *x = c->ctx;
    engine_count_reject(c->api->engine, why, x->n);
    api_call_error(c, 401, code, message);
}

static void ingest_run(struct api_call *c, struct store *st)
{
    struct ingest *x = c->ctx;
    struct api *api = c->api;
    int64_t now = clock_now_ms();
    char err[256];
    int64_t expires = x->sig_ts + api->signature_tolerance_s;
    /* Checked again here, where nonces are claimed and expired ones forgotten: a request that
     * waited in the queue past its window must not slip in after its nonce was dropped. */
    if (now / 1000 > expires) {
        ingest_refuse(c, REJECT_EXPIRED, "expired_timestamp", "Expired signature timestamp");
        return;
    }
    if (engine_claim_nonce(api->engine, c->who.app_id, x->nonce, x->nonce_len, expires,
                           now / 1000) == STORE_CONFLICT) {
        ingest_refuse(c, REJECT_REPLAY, "replay_detected", "Replay detected");
        return;
    }
    x->outcomes = xcalloc(x->n, sizeof(*x->outcomes));
    if (engine_apply(api->engine, st, c->who.app_id, x->events, x->n, x->outcomes, now, err,
                     sizeof(err)) < 0) {
        api_call_fail_batch(c, "applying events failed", err);
        return;
    }
    c->status = 202;
    buf_grow(&c->raw, x->n * (x->wait ? 512 : 96)); /* the answer, grown once */
    if (x->batch) {
        c->status = batch_answer(&c->raw, x);
        return;
    }
    accepted_json(&c->raw, x, 0, -1);
    if (x->outcomes[0].duplicate) {
        c->header_name = "Idempotent-Replayed";
        c->header_value = "true";
    }
}

/* Once the batch is on disk (syncer thread): publish what was applied, and time it. */
static void ingest_durable(struct api_call *c)
{
    struct ingest *x = c->ctx;
    struct engine *e = c->api->engine;
    uint64_t ns = clock_mono_ns() - x->start_ns;
    for (size_t i = 0; i < x->n; i++) {
        engine_observe_latency(e, ns);
        if (!x->outcomes[i].duplicate)
            engine_publish(e, c->who.app_id, &x->outcomes[i].stored);
    }
}

static void ingest_refused(struct api_call *c)
{
    struct ingest *x = c->ctx;
    engine_count_reject(c->api->engine, REJECT_OVERLOADED, x->n);
}

static void ingest_failed(struct api_call *c)
{
    struct ingest *x = c->ctx;
    engine_count_reject(c->api->engine, REJECT_UNAVAILABLE, x->n);
}

/* ---- the I/O thread -------------------------------------------------------------------------- */

static const struct {
    enum engine_reject reject;
    const char *code;
} sig_codes[] = {
    [SIG_OK] = { REJECT_BAD_SIGNATURE, "invalid_signature" },
    [SIG_MISSING] = { REJECT_MISSING_SIGNATURE, "missing_signature" },
    [SIG_BAD_TIMESTAMP] = { REJECT_BAD_TIMESTAMP, "invalid_timestamp" },
    [SIG_EXPIRED] = { REJECT_EXPIRED, "expired_timestamp" },
    [SIG_BAD_SIGNATURE] = { REJECT_BAD_SIGNATURE, "invalid_signature" },
};

/* Verifies the request's signature; on failure answers 401 and returns -1. */
static int check_signature(struct api *api, struct http_request *req, const char *app_id,
                           struct ingest *x, size_t events)
{
    struct tenant_ingest app;
    if (tenant_app_ingest(api->tenants, app_id, &app) < 0)
        app.secret_len = 0;
    struct sig_headers h = { 0 };
    h.timestamp = http_request_header(req, "x-signature-timestamp", &h.timestamp_len);
    h.nonce = http_request_header(req, "x-signature-nonce", &h.nonce_len);
    h.signature = http_request_header(req, "x-signature", &h.signature_len);
    enum sig_result r = sig_verify(thread_verifier(), app_id, app.secret, app.secret_len, &h,
                                   req->body.data, req->body.len, clock_now_ms() / 1000,
                                   api->signature_tolerance_s);
    if (r != SIG_OK) {
        engine_count_reject(api->engine, sig_codes[r].reject, events);
        http_respond_error(req, 401, sig_codes[r].code, sig_result_message(r));
        return -1;
    }
    /* Verified: the timestamp is at most 12 digits and the nonce at most SIG_NONCE_MAX. */
    x->sig_ts = 0;
    for (size_t i = 0; i < h.timestamp_len; i++)
        x->sig_ts = x->sig_ts * 10 + (h.timestamp[i] - '0');
    memcpy(x->nonce, h.nonce, h.nonce_len);
    x->nonce[h.nonce_len] = '\0';
    x->nonce_len = h.nonce_len;
    return 0;
}

/* ?wait=true|false (absent: false). Answers 400 and returns -1 when malformed. */
static int wait_param(struct http_request *req, bool *wait)
{
    struct buf v = BUF_INIT;
    int rc = http_request_query(req, "wait", &v);
    *wait = false;
    if (rc > 0 && (strcmp(v.data, "true") == 0 || strcmp(v.data, "1") == 0))
        *wait = true;
    else if (rc != 0 && !(rc > 0 && (strcmp(v.data, "false") == 0 || strcmp(v.data, "0") == 0)))
        rc = -2;
    buf_release(&v);
    if (rc == -2 || rc < 0) {
        http_respond_error_details(req, 400, "validation_failed", "Validation failed",
                                   json_pack("{s:s}", "wait", "must be true or false"));
        return -1;
    }
    return 0;
}

static void submit(struct api *api, struct http_request *req, const struct principal *who,
                   struct ingest *x)
{
    x->start_ns = req->start_ns;
    struct api_call *c = api_call_new(api, req, who);
    c->ctx = x;
    c->ctx_free = ingest_free;
    c->on_durable = ingest_durable;
    c->on_fail = ingest_failed;
    c->on_refused = ingest_refused;
    api_call_submit_weighted(c, ingest_run, x->n);
}

/* A handler's end: the request goes to the engine, or it was answered and is dropped. */
static void finish(struct api *api, struct http_request *req, const struct principal *who,
                   struct ingest *x, bool ok)
{
    if (ok)
        submit(api, req, who, x);
    else
        ingest_free(x);
}

/* Answers a refused event of POST /events. */
static void refuse(struct api *api, struct http_request *req, struct event_problem *p)
{
    engine_count_reject(api->engine, p->status == 409 ? REJECT_APP_MISMATCH : REJECT_INVALID, 1);
    if (p->details) {
        http_respond_error_details(req, p->status, p->code, p->message, p->details);
        p->details = NULL;
    } else {
        http_respond_error(req, p->status, p->code, p->message);
    }
    event_problem_release(p);
}

static void post_event(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ADMIN | API_ROLE_INGEST, &who) < 0)
        return;
    engine_count_received(api->engine, 1);
    struct ingest *x = xcalloc(1, sizeof(*x));
    bool ok = false;
    if (check_signature(api, req, who.app_id, x, 1) < 0 || wait_param(req, &x->wait) < 0 ||
        http_request_json_check(req) < 0)
        goto out;
    x->events = xcalloc(1, sizeof(*x->events));
    struct event_problem p;
    char err[200];
    int rc = event_read(req->body.data, req->body.len, http_request_json_limits(req),
                        who.app_id, clock_now_ms(), &x->events[0], &p, err, sizeof(err));
    if (rc == -2) {
        http_respond_error(req, 400, "invalid_json", err);
        goto out;
    }
    if (rc < 0) {
        refuse(api, req, &p);
        goto out;
    }
    x->n = 1;
    ok = true;
out:
    finish(api, req, &who, x, ok);
}

/* event_read_batch's callback: each event into the request's slots. */
static void batch_event(void *arg, int rc, struct event *ev, struct event_problem *p,
                        const char *given_key)
{
    struct ingest *x = arg;
    if (x->n_slots == x->slots_cap) {
        x->slots_cap = x->slots_cap ? x->slots_cap * 2 : 16;
        x->slots = xrealloc(x->slots, x->slots_cap * sizeof(*x->slots));
        x->events = xrealloc(x->events, x->slots_cap * sizeof(*x->events));
    }
    struct slot *s = &x->slots[x->n_slots++];
    memset(s, 0, sizeof(*s));
    if (rc == 0) {
        s->event = (long)x->n;
        x->events[x->n++] = *ev;
        return;
    }
    s->event = -1;
    s->problem = *p;
    s->given_key = given_key ? xstrdup(given_key) : NULL;
}

static void post_batch(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ADMIN | API_ROLE_INGEST, &who) < 0)
        return;
    struct ingest *x = xcalloc(1, sizeof(*x));
    x->batch = true;
    bool ok = false;
    if (check_signature(api, req, who.app_id, x, 0) < 0 || wait_param(req, &x->wait) < 0 ||
        http_request_json_check(req) < 0)
        goto out;
    char err[200];
    int n = event_read_batch(req->body.data, req->body.len, http_request_json_limits(req),
                             who.app_id, clock_now_ms(), batch_event, x, err, sizeof(err));
    if (n < 0) {
        if (n == -2)
            http_respond_error(req, 400, "invalid_json", err);
        else
            http_respond_error_details(req, 400, "validation_failed", "Validation failed",
                                       json_pack("{s:s}", "events",
                                                 "must be an array of 1 to 1000 events"));
        goto out;
    }
    engine_count_received(api->engine, (size_t)n);
    for (size_t i = 0; x->n < x->n_slots && i < x->n_slots; i++)
        if (x->slots[i].event < 0)
            engine_count_reject(api->engine, x->slots[i].problem.status == 409
                                                 ? REJECT_APP_MISMATCH
                                                 : REJECT_INVALID,
                                1);
    if (x->n == 0) {
        /* Nothing for the engine: answer now (the nonce stays unused). */
        struct buf b = BUF_INIT;
        int status = batch_answer(&b, x);
        http_respond(req, status, "application/json", b.data, b.len);
        buf_release(&b);
        goto out;
    }
    ok = true;
out:
    finish(api, req, &who, x, ok);
}

/* ---- GET /events/:idempotencyKey ------------------------------------------------------------ */

static void get_run(struct api_call *c, struct store *st)
{
    struct store_event e;
    char err[256];
    int rc = store_event_get(st, c->who.app_id, c->ctx, &e, err, sizeof(err));
    if (rc == STORE_NOT_FOUND) {
        api_call_error(c, 404, "not_found", "Event not found");
        return;
    }
    if (rc < 0) {
        api_call_internal(c, "event read failed", err);
        return;
    }
    c->status = 200;
    event_json(&c->raw, &e);
    store_event_release(&e);
}

static void get_event(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ANY, &who) < 0)
        return;
    const char *key = http_request_param(req, "idempotencyKey");
    if (utf8_chars(key) > EVENT_KEY_MAX) {
        http_respond_error(req, 404, "not_found", "Event not found");
        return;
    }
    struct api_call *c = api_call_new(api, req, &who);
    c->ctx = xstrdup(key);
    c->ctx_free = free;
    api_call_submit(c, get_run);
}

int api_events_register(struct router *r, struct api *api)
{
    if (router_add(r, HTTP_POST, "/events", post_event, api) < 0 ||
        router_add(r, HTTP_POST, "/events/batch", post_batch, api) < 0 ||
        router_add(r, HTTP_GET, "/events/:idempotencyKey", get_event, api) < 0)
        return -1;
    return 0;
}
