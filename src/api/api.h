/* The HTTP API: route handlers, one file per resource, registered into the router at start,
 * and the helpers they share: authentication (auth.c), body validation (validate.c) and
 * running work on the engine thread (call.c).
 *
 * Threads: handlers run on I/O threads and never touch the store. What needs the store is
 * submitted to the engine thread with api_call_submit and answered from there (docs/
 * architecture.md, "Handing work to another thread"). */
#ifndef REACTOR_API_API_H
#define REACTOR_API_API_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/metrics.h"
#include "http/http.h"
#include "http/router.h"
#include "store/store.h"
#include "tenant/registry.h"

struct engine;
struct syncer;
struct http_server;
struct http_shared;
struct rt_hub;
struct sig_verifier;
struct worker;

struct api {
    struct http_server *server;       /* answers are posted back through it */
    const struct http_shared *shared; /* draining flag */
    struct tenant_registry *tenants;  /* keys and apps, for authentication */
    struct worker *store_worker;      /* the engine thread: owns `store` and `engine` */
    struct store *store;              /* only touched on store_worker */
    struct engine *engine;            /* only touched on store_worker (but metrics) */
    struct syncer *syncer;            /* makes committed batches durable, then answers */
    struct rt_hub *hub;               /* the real-time gateway (realtime/hub.h) */
    struct metrics_hist sync_time;    /* written by the syncer thread only */
    int signature_tolerance_s;        /* SIGNATURE_TOLERANCE_SECONDS */
    const char *operator_token;       /* for POST /apps */
    bool open_signup;                 /* POST /apps needs no operator token */
    _Atomic int64_t store_ok_ms;      /* last time the store answered a probe */
    int64_t store_ok_window_ms;       /* /ready fails when the last answer is older */
    /* The batch being run on the engine thread (touched there only): calls whose answers wait
     * for the batch's commit. */
    struct api_call **batch;
    size_t batch_n, batch_cap;
    bool batch_open;                  /* a batch transaction is open */
    uint64_t batch_opened_ns;         /* when (monotonic) */
    atomic_bool holding;              /* the open batch waits for the syncer to go idle */
    bool batch_failed;                /* the batch cannot commit: answer the rest 503 */
    struct api_after *after;          /* run when the open batch ends (api_batch_after) */
    size_t after_n, after_cap;
    int audit_retention_days;         /* AUDIT_RETENTION_DAYS; 0 = keep forever */
    int64_t audit_pruned_ms;          /* last prune (engine thread) */
    bool audit_prune_more;            /* the last prune stopped at its limit */
};

struct api_after {
    void (*fn)(void *arg, bool committed);
    void *arg;
};

/* Adds every route. Returns 0, or -1 if a route could not be added (a bug). */
int api_register(struct router *r, struct api *api);

/* The collector (core/metrics.h) for the store queue, store health and build info. */
void api_collect_metrics(struct buf *out, void *api);

/* One function per resource file. */
int api_system_register(struct router *r, struct api *api);
int api_apps_register(struct router *r, struct api *api);
int api_keys_register(struct router *r, struct api *api);
int api_users_register(struct router *r, struct api *api);
int api_events_register(struct router *r, struct api *api);
int api_definitions_register(struct router *r, struct api *api);
int api_currency_register(struct router *r, struct api *api);
int api_leaderboards_register(struct router *r, struct api *api);
int api_leagues_register(struct router *r, struct api *api);
int api_jobs_register(struct router *r, struct api *api);
int api_realtime_register(struct router *r, struct api *api);

/* A league's board (leagues.c), on the engine thread: its members ranked by their scores on
 * (metric, period), members without one at 0. *out is the caller's (rank_free). 0,
 * STORE_NOT_FOUND when the app has no such league, or -1. */
struct rank_index;
int api_league_board(struct api *api, struct store *st, const char *app_id,
                     const char *league_id, const char *metric, const char *period,
                     int64_t now_ms, struct rank_index **out, char *err, size_t errlen);

/* Settles a league (leagues.c), on the engine thread inside the open batch: ranks its members
 * on its board, writes each one's result (promoted, stayed, demoted, the tier after) and marks
 * it settled at `now` — the one place league moves are made (POST /leagues/:id/settle and the
 * season-end schedule). The league must not be settled yet. 0, or -1 when the store failed
 * (the batch must roll back). */
struct api_actor;
int api_league_settle(struct api *api, struct store *st, const char *app_id,
                      const struct store_league *l, const struct api_actor *who, int64_t now,
                      char *err, size_t errlen);

/* A ledger row as the API shows it (currency.c): {id, userId, kind, track|currency, amount,
 * balanceAfter, reason, source, metadata, createdAt, ruleId|achievementCode?}. */
json_t *api_ledger_json(const char *user_id, const struct store_ledger *l);

/* ---- authentication (auth.c) ------------------------------------------------------------- */

#define API_ROLE_ADMIN (1u << STORE_ROLE_ADMIN)
#define API_ROLE_INGEST (1u << STORE_ROLE_INGEST)
#define API_ROLE_READONLY (1u << STORE_ROLE_READONLY)
#define API_ROLE_ANY (API_ROLE_ADMIN | API_ROLE_INGEST | API_ROLE_READONLY)

/* Authenticates x-api-key and checks that its role is in `roles`. On failure answers 401
 * (missing or unknown key), 429 (rate limited, with Retry-After) or 403 (role), and returns
 * -1. */
int api_authenticate(struct api *api, struct http_request *req, unsigned roles,
                     struct principal *who);
/* Checks "Authorization: Bearer <operator token>" (unless open signup); answers 401 and
 * returns -1 on failure. */
int api_authenticate_operator(struct api *api, struct http_request *req);
/* True when "Authorization: Bearer <token>" holds the operator token (open signup or not);
 * answers nothing. */
bool api_operator_token_valid(struct api *api, struct http_request *req);

/* ---- validation (validate.c) ------------------------------------------------------------- */

enum api_type { API_STRING, API_OBJECT, API_INTEGER, API_BOOLEAN, API_ARRAY };

#define API_REQUIRED 1u
#define API_NULLABLE 2u

struct api_field {
    const char *name;
    enum api_type type;
    unsigned flags;
    int64_t min, max;         /* string length in characters; integer range; 0,0 = no bound */
    /* Extra check of a present, non-null value of the right type: NULL, or what is wrong. */
    const char *(*check)(const json_t *value);
};

/* The request body as a JSON object. Answers 400 itself (bad content type, malformed JSON, not
 * an object) and returns NULL. The caller owns the result. */
json_t *api_body_object(struct http_request *req);
/* Checks every field of `body` against `fields`. On failure answers
 * 400 {"error":"Validation failed","code":"validation_failed","details":{field: message}} and
 * returns -1. Fields not listed are ignored. */
int api_validate(struct http_request *req, const json_t *body, const struct api_field *fields,
                 size_t n);
/* api_body_object then api_validate: the validated body, or NULL once answered. */
json_t *api_body_validated(struct http_request *req, const struct api_field *fields, size_t n);
#define API_BODY(req, fields) api_body_validated((req), (fields), sizeof(fields) / sizeof((fields)[0]))
/* ?limit= (1..200, else `def`) and ?cursor= (an integer >= 1, else `*before` is kept) of a
 * page: what is wrong goes into `details`. Returns http_request_query's last result (< 0: the
 * query is malformed). */
#define API_PAGE_MAX 200
int api_page_query(struct http_request *req, int def, int *limit, int64_t *before,
                   json_t *details);
/* The end of a query's parsing: rc < 0 (malformed) or anything in `details` (consumed)
 * answers 400 with the details and returns -1; else 0. */
int api_query_finish(struct http_request *req, int rc, json_t *details);
/* Checks for use in api_field.check. */
const char *api_check_timezone(const json_t *v);
const char *api_check_http_url(const json_t *v);
const char *api_check_id(const json_t *v);       /* [A-Za-z0-9._:-] */
const char *api_check_user_id(const json_t *v);  /* no control characters */
const char *api_check_small_object(const json_t *v); /* serialised <= 16 KiB */

/* ---- running work on the engine thread (call.c) ------------------------------------------- */

struct api_call {
    struct api *api;
    struct http_request *req;   /* touched on its I/O thread only */
    unsigned thread;
    struct principal who;
    const char *actor;          /* the audit trail's actor when no key made the call (static);
                                 * NULL: the operator */
    void *ctx;                  /* the handler's data */
    void (*ctx_free)(void *);
    int status;                 /* the answer, set on the engine thread */
    json_t *body;
    struct buf raw;             /* or the answer's JSON text, when body is NULL */
    const char *header_name;    /* one extra response header (static strings), or NULL */
    const char *header_value;
    unsigned retry_after;       /* seconds, for a Retry-After header; 0 = none */
    char request_id[HTTP_REQUEST_ID_MAX + 1]; /* the request's, for the audit trail */
    /* Runs on the engine thread once the batch holding this call has committed, before the
     * answer is sent: where memory (the tenant registry) follows what the store now holds.
     * Not run when the commit fails. */
    void (*on_commit)(struct api_call *call);
    /* Runs on the syncer thread once the batch is durable, just before the answer is sent:
     * where what must never be seen before it is on disk happens (publishing effects). */
    void (*on_durable)(struct api_call *call);
    /* Runs on the engine thread when the call is answered 503 because its batch could not
     * run or commit. */
    void (*on_fail)(struct api_call *call);
    /* Runs on the I/O thread when the engine's queue had no room (answered 503 overloaded). */
    void (*on_refused)(struct api_call *call);
};

typedef void api_call_fn(struct api_call *call, struct store *store);

/* The engine thread's batch hooks (struct worker_batch, arg = struct api): the batch's calls
 * run in one transaction and are answered after it commits and is synced (group commit).
 * While the syncer is busy the transaction stays open for the next tasks, up to these. */
#define API_HOLD_CALLS 8192
#define API_HOLD_NS (5u * 1000u * 1000u)
void api_batch_begin(void *api);
void api_batch_end(void *api);
/* For any task on the engine thread: true while the open batch can still commit. False once
 * it failed — also when SQLite rolled its transaction back under an earlier task, which this
 * detects and records — and then the task must write nothing (it would commit on its own). */
bool api_batch_usable(struct api *api);
/* For a task on the engine thread that read the store inside the open batch: runs fn(arg,
 * committed) once the batch has ended, so what was read is shown only if the batch's writes
 * it may have seen were committed (committed false: they were rolled back). At once, with
 * false, when the batch is already unusable. */
void api_after_commit(struct api *api, void (*fn)(void *arg, bool committed), void *arg);
/* For a task on the engine thread that is not an API call (the job queue): runs fn(arg,
 * committed) on the engine thread once the open batch has committed (true) or rolled back
 * (false), before the batch's calls are answered. */
void api_batch_after(struct api *api, void (*fn)(void *arg, bool committed), void *arg);
/* The syncer's sync function (core/syncer.h, arg = struct api): store_sync, timed. */
int api_sync(void *api, char *err, unsigned errlen);
/* The syncer's idle hook: wakes the engine thread to commit the batch it held open. */
void api_sync_idle(void *api);

struct api_call *api_call_new(struct api *api, struct http_request *req,
                              const struct principal *who);
/* Runs fn on the engine thread and answers with call->status and call->body. Takes ownership
 * of call. A full store queue answers 503 with Retry-After at once. */
void api_call_submit(struct api_call *call, api_call_fn *fn);
/* The same for work that counts `weight` against the queue's capacity (events). Returns 0,
 * or -1 when the queue was full (answered 503 already, on_refused run). */
int api_call_submit_weighted(struct api_call *call, api_call_fn *fn, size_t weight);
/* For fn: the answer. */
void api_call_answer(struct api_call *call, int status, json_t *body);
void api_call_error(struct api_call *call, int status, const char *code, const char *message);
/* For fn: a store failure; logged with the request id, answered 500 without details. */
void api_call_internal(struct api_call *call, const char *what, const char *err);
/* For fn: the store failed in a way that leaves the batch unsafe to commit (part of the
 * call's writes may be in it): the whole batch is rolled back and every call answered 503. */
void api_call_fail_batch(struct api_call *call, const char *what, const char *err);

/* ISO 8601 string for a Unix-ms time, or null for 0. */
json_t *api_time(int64_t ms);
/* json_decref as a ctx_free. */
void api_json_free(void *json);

/* ---- the audit trail (audit.c) ------------------------------------------------------------ */

/* Who made a change, as the audit trail records it: an API key id, STORE_AUDIT_ACTOR_* */
struct api_actor {
    const char *actor;
    const char *request_id;   /* NULL: none (the system's own work) */
};
#define API_ACTOR_SYSTEM ((struct api_actor){ STORE_AUDIT_ACTOR_SYSTEM, NULL })
/* The actor of an API call: its key, else the call's own actor, else the operator. */
struct api_actor api_call_actor(const struct api_call *c);
/* Writes an audit row in the open batch (see api_audit). 0, or -1 when the store failed: the
 * batch must roll back. For work that is not an API call (the scheduler). */
int api_audit_write(struct store *st, const struct api_actor *who, const char *app_id,
                    const char *action, const char *type, const char *id, const json_t *before,
                    const json_t *after, char *err, size_t errlen);
/* For fn: records the call's change in the open batch, as one row of the audit trail: the
 * app (`app_id`, or the caller's when NULL), now, the actor (the call's key id, or the
 * operator when it has none), `action` on (`type`, `id`), `before` and `after` (borrowed,
 * serialised; NULL = not applicable) and the request id. Call it after the change's own
 * writes succeeded and before memory (the registry, the engine) follows them. 0, or -1 once
 * the batch is failed: the change is rolled back with the row, every call of the batch is
 * answered 503, and the caller must return without answering success. */
int api_audit(struct api_call *c, const char *app_id, const char *action, const char *type,
              const char *id, const json_t *before, const json_t *after);
/* GET /audit. */
int api_audit_register(struct router *r, struct api *api);
/* Retention, on the engine thread after a batch: deletes audit rows older than
 * `retention_days` (0 = keep them all), at most once an hour unless a previous call left
 * some. */
void api_audit_prune(struct api *api, int64_t now_ms);

/* ---- keys (keys.c) ----------------------------------------------------------------------- */

#define API_KEY_LEN 52 /* "fge_" and 48 lowercase hex characters */
#define API_MAX_KEYS_PER_APP 1000 /* active keys; keeps GET /keys one bounded page */

/* Draws a new secret key and its record (a UUID id, the SHA-256 of the secret, created now).
 * The record's strings are owned by it (store_key_release). 0, or -1 if the RNG fails. */
int api_key_generate(const char *app_id, const char *name, enum store_role role,
                     char secret[API_KEY_LEN + 1], struct store_key *rec);

#endif
