/* The job runner (see jobs.h): the tick on the engine thread, the pump, and the pool threads
 * that deliver webhooks with libcurl's multi interface. */
#include "jobs/jobs.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/hmac.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/uuid.h"
#include "core/worker.h"
#include "jobs/backoff.h"
#include "jobs/webhook.h"
#include "store/store.h"
#include "tenant/registry.h"

#ifndef REACTOR_VERSION
#define REACTOR_VERSION "0.0.0-dev"
#endif

#define COUNT_INTERVAL_MS 5000 /* how often the job gauges are counted from the store */
#define IDLE_TICK_MS 5000      /* the pump ticks at least this often with nothing known due */
#define URL_MAX 2100           /* the API takes URLs of up to 2048 characters */

enum outcome { OUT_OK, OUT_RETRY, OUT_DEAD, OUT_RETURN };

/* One claimed job, from its claim to the commit of its outcome. */
struct attempt {
    struct attempt *next;
    int64_t id;
    char *app_id, *kind, *payload;
    int attempts, max_attempts;
    /* the request (pool thread) */
    CURL *easy;
    struct curl_slist *headers;
    char url[URL_MAX];
    char webhook_id[64];
    char event_type[32];
    char delivery_id[UUID_LEN + 1];
    char curl_err[CURL_ERROR_SIZE];
    bool denied;              /* the private address check refused the connection */
    bool sent;                /* a request was made: the outcome has a delivery row */
    uint64_t t0;
    /* the outcome */
    enum outcome out;
    enum store_job_state final;
    int status;               /* HTTP status, 0 = none */
    uint64_t latency_ns;
    int64_t ended_at;
    char error[256];
};

struct pool_thread {
    struct jobs *j;
    pthread_t tid;
    bool started;
    CURLM *multi;
    pthread_mutex_t lock;     /* guards inbox, abort */
    struct attempt *inbox;
    bool abort;
    struct attempt *running;  /* pool thread only */
    char name[16];
};

struct jobs {
    struct jobs_config cfg;
    struct api *api;
    struct pool_thread *threads;
    unsigned next_thread;     /* engine thread: round robin */
    int outstanding;          /* engine thread: claimed and not yet recorded */
    int claiming;             /* engine thread: claimed in a batch not yet committed */
    int64_t counted_at;       /* engine thread: last gauge refresh */
    atomic_bool tick_pending;
    atomic_bool no_claims;    /* stopping: nothing new is claimed */
    atomic_int in_pool;       /* handed to the pool, outcome not yet back */
    /* When a job may next be due (Unix ms): lowered by the engine thread when it queues jobs
     * or schedules a retry, read by the pump, which ticks only then (or every IDLE_TICK_MS),
     * so an idle queue costs the engine thread almost nothing. */
    _Atomic int64_t wake_at;
    pthread_mutex_t lock;     /* guards results, pump_stop */
    pthread_cond_t wake;
    struct attempt *results;  /* outcomes waiting to be recorded */
    pthread_t pump;
    bool pump_started, pump_stop;
    bool stopped;             /* main thread: jobs_stop ran */
    /* metrics */
    metric_u64 outcomes[4];   /* succeeded, retried, dead, returned (engine thread) */
    metric_u64 claimed;       /* engine thread */
    _Atomic int64_t gauge[STORE_JOB__COUNT]; /* webhook jobs by state, from the store */
    struct metrics_hist latency; /* engine thread */
};

static void attempt_free(struct attempt *a)
{
    if (a->easy)
        curl_easy_cleanup(a->easy);
    curl_slist_free_all(a->headers);
    free(a->app_id);
    free(a->kind);
    free(a->payload);
    free(a);
}

static void list_free(struct attempt *a)
{
    for (struct attempt *n; a; a = n) {
        n = a->next;
        attempt_free(a);
    }
}

static void push_results(struct jobs *j, struct attempt *list)
{
    if (!list)
        return;
    struct attempt *last = list;
    while (last->next)
        last = last->next;
    pthread_mutex_lock(&j->lock);
    last->next = j->results;
    j->results = list;
    pthread_mutex_unlock(&j->lock);
}

/* ---- the pool ------------------------------------------------------------------------------ */

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct attempt *a = arg;
    if (purpose == CURLSOCKTYPE_IPCXN && webhook_addr_private(&addr->addr)) {
        a->denied = true;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

static void fail(struct attempt *a, enum outcome out, const char *msg)
{
    a->out = out;
    snprintf(a->error, sizeof(a->error), "%s", msg);
}

/* Builds and starts the request of a webhook job: -1 (with a->out set) when it cannot. */
static int start(struct pool_thread *t, struct attempt *a)
{
    struct jobs *j = t->j;
    unsigned mask;
    if (strcmp(a->kind, WEBHOOK_KIND) != 0) {
        fail(a, OUT_DEAD, "unknown job kind");
        return -1;
    }
    if (tenant_app_webhook(j->api->tenants, a->app_id, &mask, a->url, sizeof(a->url)) < 0) {
        fail(a, OUT_DEAD, "the app does not exist any more");
        return -1;
    }
    if (!a->url[0]) {
        fail(a, OUT_DEAD, "the app has no webhook URL any more");
        return -1;
    }
    json_t *p = json_loads(a->payload, 0, NULL);
    const char *id = json_string_value(json_object_get(p, "id"));
    const char *type = json_string_value(json_object_get(p, "type"));
    snprintf(a->webhook_id, sizeof(a->webhook_id), "%s", id ? id : "");
    snprintf(a->event_type, sizeof(a->event_type), "%s", type ? type : "");
    json_decref(p);
    struct tenant_ingest *ti = xmalloc(sizeof(*ti));
    int ret = -1;
    if (tenant_app_ingest(j->api->tenants, a->app_id, ti) < 0 || ti->secret_len == 0) {
        fail(a, OUT_DEAD, "the app has no webhook secret to sign with");
        goto out;
    }
    char ts[24], nonce[UUID_LEN + 1], sig[HMAC_HEX_LEN + 1];
    snprintf(ts, sizeof(ts), "%lld", (long long)(clock_now_ms() / 1000));
    if (uuid_v4(nonce) < 0 || uuid_v4(a->delivery_id) < 0) {
        fail(a, OUT_RETRY, "no random bytes for a nonce");
        goto out;
    }
    struct hmac_part parts[] = {
        { ts, strlen(ts) }, { ".", 1 }, { nonce, strlen(nonce) }, { ".", 1 },
        { a->payload, strlen(a->payload) },
    };
    if (hmac_sha256_hex(ti->secret, ti->secret_len, parts, 5, sig) < 0) {
        fail(a, OUT_RETRY, "cannot compute the signature");
        goto out;
    }
    char h[160];
    struct curl_slist *hs = curl_slist_append(NULL, "Content-Type: application/json");
    hs = curl_slist_append(hs, "User-Agent: forge-reactor/" REACTOR_VERSION);
    hs = curl_slist_append(hs, "Expect:");
    snprintf(h, sizeof(h), "x-signature-timestamp: %s", ts);
    hs = curl_slist_append(hs, h);
    snprintf(h, sizeof(h), "x-signature-nonce: %s", nonce);
    hs = curl_slist_append(hs, h);
    snprintf(h, sizeof(h), "x-signature: %s", sig);
    hs = curl_slist_append(hs, h);
    snprintf(h, sizeof(h), "x-webhook-id: %s", a->webhook_id);
    hs = curl_slist_append(hs, h);
    snprintf(h, sizeof(h), "x-delivery-id: %s", a->delivery_id);
    hs = curl_slist_append(hs, h);
    snprintf(h, sizeof(h), "x-webhook-attempt: %d", a->attempts);
    hs = curl_slist_append(hs, h);
    a->headers = hs;
    CURL *e = curl_easy_init();
    if (!e || !hs) {
        if (e)
            curl_easy_cleanup(e);
        fail(a, OUT_RETRY, "cannot set up the request");
        goto out;
    }
    a->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, a->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never a proxy from the environment */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, a->payload);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(a->payload));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)j->cfg.timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->curl_err);
    curl_easy_setopt(e, CURLOPT_PRIVATE, a);
    if (j->cfg.deny_private) {
        curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
        curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, a);
    }
    a->t0 = clock_mono_ns();
    a->sent = true;
    if (curl_multi_add_handle(t->multi, e) != CURLM_OK) {
        a->sent = false;
        fail(a, OUT_RETRY, "cannot start the request");
        goto out;
    }
    a->next = t->running;
    t->running = a;
    ret = 0;
out:
    OPENSSL_cleanse(ti, sizeof(*ti));
    free(ti);
    return ret;
}

static void unlink_running(struct pool_thread *t, struct attempt *a)
{
    for (struct attempt **p = &t->running; *p; p = &(*p)->next) {
        if (*p == a) {
            *p = a->next;
            a->next = NULL;
            return;
        }
    }
}

/* A request ended: its outcome, then the handle goes. */
static void ended(struct pool_thread *t, struct attempt *a, CURLcode res)
{
    a->latency_ns = clock_mono_ns() - a->t0;
    if (res == CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &code);
        a->status = (int)code;
        if (code >= 200 && code < 300)
            a->out = OUT_OK;
        else
        {
            snprintf(a->error, sizeof(a->error), "HTTP %ld", code);
            a->out = OUT_RETRY;
        }
    } else if (a->denied) {
        fail(a, OUT_RETRY, "refused: the webhook address is in a private range "
                           "(REACTOR_WEBHOOK_DENY_PRIVATE)");
    } else if (res == CURLE_OPERATION_TIMEDOUT) {
        snprintf(a->error, sizeof(a->error), "timed out after %d ms", t->j->cfg.timeout_ms);
        a->out = OUT_RETRY;
    } else {
        snprintf(a->error, sizeof(a->error), "%s",
                 a->curl_err[0] ? a->curl_err : curl_easy_strerror(res));
        a->out = OUT_RETRY;
    }
    curl_multi_remove_handle(t->multi, a->easy);
    curl_easy_cleanup(a->easy);
    a->easy = NULL;
}

static void deliver(struct pool_thread *t, struct attempt *a)
{
    a->ended_at = clock_now_ms();
    a->next = NULL;
    push_results(t->j, a);
    atomic_fetch_sub(&t->j->in_pool, 1);
    jobs_kick(t->j);
}

static void *pool_run(void *arg)
{
    struct pool_thread *t = arg;
    for (;;) {
        pthread_mutex_lock(&t->lock);
        struct attempt *in = t->inbox;
        t->inbox = NULL;
        bool abort = t->abort;
        pthread_mutex_unlock(&t->lock);
        for (struct attempt *a = in, *n; a; a = n) {
            n = a->next;
            a->next = NULL;
            if (abort)
                fail(a, OUT_RETURN, "the process stopped");
            if (abort || start(t, a) < 0)
                deliver(t, a);
        }
        if (abort) {
            while (t->running) {
                struct attempt *a = t->running;
                unlink_running(t, a);
                curl_multi_remove_handle(t->multi, a->easy);
                curl_easy_cleanup(a->easy);
                a->easy = NULL;
                a->sent = false;
                fail(a, OUT_RETURN, "the process stopped");
                deliver(t, a);
            }
            break;
        }
        int still = 0;
        curl_multi_perform(t->multi, &still);
        CURLMsg *m;
        int q;
        while ((m = curl_multi_info_read(t->multi, &q))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct attempt *a = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&a);
            CURLcode res = m->data.result;
            unlink_running(t, a);
            ended(t, a, res);
            deliver(t, a);
        }
        curl_multi_poll(t->multi, NULL, 0, 1000, NULL);
    }
    log_thread_release();
    return NULL;
}

/* Engine thread, after the claim committed. */
static void dispatch(struct jobs *j, struct attempt *a)
{
    struct pool_thread *t = &j->threads[j->next_thread++ % (unsigned)j->cfg.workers];
    atomic_fetch_add(&j->in_pool, 1);
    pthread_mutex_lock(&t->lock);
    a->next = t->inbox;
    t->inbox = a;
    pthread_mutex_unlock(&t->lock);
    curl_multi_wakeup(t->multi);
}

/* ---- the tick (engine thread) -------------------------------------------------------------- */

struct batch_list {
    struct jobs *j;
    struct attempt *list;
    int n;
};

static void claim_one(const struct store_job *sj, void *arg)
{
    struct batch_list *b = arg;
    struct attempt *a = xcalloc(1, sizeof(*a));
    a->id = sj->id;
    a->app_id = xstrdup(sj->app_id);
    a->kind = xstrdup(sj->kind);
    a->payload = xstrdup(sj->payload);
    a->attempts = sj->attempts;
    a->max_attempts = sj->max_attempts;
    a->next = b->list;
    b->list = a;
    b->n++;
}

/* Engine thread: a job may be due at `at`. */
static void wake_at(struct jobs *j, int64_t at)
{
    if (at < atomic_load(&j->wake_at))
        atomic_store(&j->wake_at, at);
}

static void claimed(void *arg, bool committed)
{
    struct batch_list *b = arg;
    struct jobs *j = b->j;
    j->claiming -= b->n;
    if (!committed)
        wake_at(j, 0); /* what it claimed is due still */
    if (committed) {
        j->outstanding += b->n;
        metric_add(&j->claimed, (uint64_t)b->n);
        bool stopping = atomic_load(&j->no_claims);
        for (struct attempt *a = b->list, *n; a; a = n) {
            n = a->next;
            a->next = NULL;
            if (!stopping) {
                dispatch(j, a);
                continue;
            }
            /* Claimed while the runner stopped: back to the queue, unrun. */
            fail(a, OUT_RETURN, "the process stopped");
            push_results(j, a);
        }
    } else {
        list_free(b->list);
    }
    free(b);
}

static void recorded(void *arg, bool committed)
{
    struct batch_list *b = arg;
    struct jobs *j = b->j;
    if (!committed) {
        push_results(j, b->list); /* recorded again by a later tick */
        wake_at(j, 0);
        free(b);
        return;
    }
    for (struct attempt *a = b->list, *n; a; a = n) {
        n = a->next;
        j->outstanding--;
        int k = a->out == OUT_RETURN ? 3 : a->final == STORE_JOB_SUCCEEDED ? 0
                                        : a->final == STORE_JOB_DEAD     ? 2
                                                                         : 1;
        metric_add(&j->outcomes[k], 1);
        if (a->sent)
            metrics_hist_observe(&j->latency, a->latency_ns);
        attempt_free(a);
    }
    free(b);
}

static int record(struct jobs *j, struct store *st, struct attempt *a, int64_t now, char *err,
                  size_t errlen)
{
    int rc;
    if (a->out == OUT_RETURN) {
        rc = store_job_return(st, a->id, now, err, errlen);
        return rc == STORE_NOT_FOUND ? 0 : rc;
    }
    int64_t run_at = now;
    if (a->out == OUT_OK) {
        a->final = STORE_JOB_SUCCEEDED;
    } else if (a->out == OUT_DEAD || a->attempts >= a->max_attempts) {
        a->final = STORE_JOB_DEAD;
    } else {
        uint64_t rnd = 0;
        RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
        a->final = STORE_JOB_FAILED;
        run_at = now + jobs_backoff_ms(a->attempts, j->cfg.backoff_ms, j->cfg.backoff_max_ms,
                                       rnd);
        wake_at(j, run_at);
    }
    rc = store_job_finish(st, a->id, a->final, run_at, a->out == OUT_OK ? NULL : a->error, now,
                          err, errlen);
    if (rc < 0 && rc != STORE_NOT_FOUND)
        return -1;
    if (!a->sent)
        return 0;
    struct store_delivery d = {
        .app_id = a->app_id,
        .job_id = a->id,
        .webhook_id = a->webhook_id,
        .delivery_id = a->delivery_id,
        .event_type = a->event_type,
        .url = a->url,
        .attempt = a->attempts,
        .status_code = a->status,
        .latency_ms = (int64_t)(a->latency_ns / 1000000u),
        .error = a->out == OUT_OK ? NULL : a->error,
        .at = a->ended_at,
    };
    return store_delivery_insert(st, &d, err, errlen);
}

static void count_one(const char *kind, enum store_job_state state, int64_t n, void *arg)
{
    int64_t *v = arg;
    if (strcmp(kind, WEBHOOK_KIND) == 0)
        v[state] += n;
}

static void tick_run(struct jobs *j, bool claim)
{
    struct api *api = j->api;
    struct store *st = api->store;
    char err[256];
    if (!api_batch_usable(api))
        return; /* outcomes stay where they are: the next tick records them */
    int64_t now = clock_now_ms();
    /* Due times known from here on lower it again (retries recorded, jobs queued later). */
    if (claim)
        atomic_store(&j->wake_at, now + IDLE_TICK_MS);
    pthread_mutex_lock(&j->lock);
    struct attempt *done = j->results;
    j->results = NULL;
    pthread_mutex_unlock(&j->lock);
    if (done) {
        struct batch_list *b = xcalloc(1, sizeof(*b));
        b->j = j;
        b->list = done;
        for (struct attempt *a = done; a; a = a->next) {
            if (record(j, st, a, now, err, sizeof(err)) < 0) {
                log_error("cannot record a job's outcome", LOG_S("error", err),
                          LOG_I("job", a->id));
                api->batch_failed = true; /* the batch rolls back; recorded() retries */
                break;
            }
        }
        api_batch_after(api, recorded, b);
        if (!api_batch_usable(api))
            return;
    }
    int room = j->cfg.workers * j->cfg.concurrency - j->outstanding - j->claiming;
    if (claim && room > 0 && !atomic_load(&j->no_claims)) {
        struct batch_list *b = xcalloc(1, sizeof(*b));
        b->j = j;
        int64_t lease = now + j->cfg.timeout_ms + 60000;
        if (store_jobs_claim(st, now, lease, room, claim_one, b, NULL, err, sizeof(err)) < 0) {
            log_error("cannot claim jobs", LOG_S("error", err));
            api->batch_failed = true;
        }
        if (b->n == room)
            wake_at(j, now); /* there may be more */
        j->claiming += b->n;
        api_batch_after(api, claimed, b);
    }
    if (now - j->counted_at >= COUNT_INTERVAL_MS && api_batch_usable(api)) {
        int64_t v[STORE_JOB__COUNT] = { 0 };
        j->counted_at = now;
        if (store_jobs_count(st, count_one, v, err, sizeof(err)) == 0)
            for (int i = 0; i < STORE_JOB__COUNT; i++)
                atomic_store(&j->gauge[i], v[i]);
        api_batch_usable(api);
    }
}

static void tick(void *arg)
{
    struct jobs *j = arg;
    atomic_store(&j->tick_pending, false);
    tick_run(j, true);
}

static void final_tick(void *arg)
{
    tick_run(arg, false);
}

void jobs_kick(struct jobs *j)
{
    if (atomic_exchange(&j->tick_pending, true))
        return;
    if (worker_submit_reserved(j->api->store_worker, tick, j) < 0)
        atomic_store(&j->tick_pending, false); /* full: the pump tries again */
}

/* ---- the pump ------------------------------------------------------------------------------ */

static void *pump_run(void *arg)
{
    struct jobs *j = arg;
    pthread_mutex_lock(&j->lock);
    while (!j->pump_stop) {
        pthread_mutex_unlock(&j->lock);
        if (clock_now_ms() >= atomic_load(&j->wake_at))
            jobs_kick(j);
        pthread_mutex_lock(&j->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)j->cfg.poll_ms * 1000000u;
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec = (long)(ns % 1000000000u);
        while (!j->pump_stop && pthread_cond_timedwait(&j->wake, &j->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&j->lock);
    log_thread_release();
    return NULL;
}

/* ---- life cycle ---------------------------------------------------------------------------- */

struct jobs *jobs_new(const struct jobs_config *cfg, struct api *api, char *err, size_t errlen)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return NULL;
    }
    int n = 0;
    if (store_jobs_recover(api->store, clock_now_ms(), &n, err, errlen) < 0) {
        curl_global_cleanup();
        return NULL;
    }
    if (n)
        log_warn("jobs left running by a stopped process are queued again", LOG_I("count", n));
    struct jobs *j = xcalloc(1, sizeof(*j));
    j->cfg = *cfg;
    if (j->cfg.workers < 1)
        j->cfg.workers = 1;
    if (j->cfg.concurrency < 1)
        j->cfg.concurrency = 1;
    j->api = api;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->wake, NULL);
    j->threads = xcalloc((size_t)j->cfg.workers, sizeof(*j->threads));
    for (int i = 0; i < j->cfg.workers; i++) {
        struct pool_thread *t = &j->threads[i];
        t->j = j;
        pthread_mutex_init(&t->lock, NULL);
        t->multi = curl_multi_init();
        curl_multi_setopt(t->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)j->cfg.concurrency);
        snprintf(t->name, sizeof(t->name), "jobs-%d", i);
    }
    return j;
}

int jobs_start(struct jobs *j)
{
    for (int i = 0; i < j->cfg.workers; i++) {
        struct pool_thread *t = &j->threads[i];
        if (!t->multi || pthread_create(&t->tid, NULL, pool_run, t) != 0) {
            log_error("cannot start a job thread");
            return -1;
        }
        t->started = true;
        pthread_setname_np(t->tid, t->name);
    }
    if (pthread_create(&j->pump, NULL, pump_run, j) != 0) {
        log_error("cannot start the job pump");
        return -1;
    }
    j->pump_started = true;
    pthread_setname_np(j->pump, "jobs-pump");
    return 0;
}

void jobs_stop(struct jobs *j)
{
    if (!j || j->stopped)
        return;
    j->stopped = true;
    atomic_store(&j->no_claims, true);
    if (j->pump_started) {
        pthread_mutex_lock(&j->lock);
        j->pump_stop = true;
        pthread_cond_signal(&j->wake);
        pthread_mutex_unlock(&j->lock);
        pthread_join(j->pump, NULL);
        j->pump_started = false;
    }
    /* Running attempts may finish within the bound; their outcomes are recorded meanwhile. */
    uint64_t until = clock_mono_ns() + (uint64_t)j->cfg.shutdown_ms * 1000000u;
    int waiting = atomic_load(&j->in_pool);
    if (waiting)
        log_info("waiting for running jobs", LOG_I("jobs", waiting),
                 LOG_I("timeout_ms", j->cfg.shutdown_ms));
    while (atomic_load(&j->in_pool) > 0 && clock_mono_ns() < until) {
        jobs_kick(j);
        usleep(10000);
    }
    int returned = atomic_load(&j->in_pool);
    for (int i = 0; i < j->cfg.workers; i++) {
        struct pool_thread *t = &j->threads[i];
        if (!t->started)
            continue;
        pthread_mutex_lock(&t->lock);
        t->abort = true;
        pthread_mutex_unlock(&t->lock);
        curl_multi_wakeup(t->multi);
        pthread_join(t->tid, NULL);
        t->started = false;
    }
    if (returned)
        log_warn("jobs still running at shutdown go back to the queue",
                 LOG_I("jobs", returned));
    /* The outcomes are recorded by the engine thread before it stops. */
    for (int tries = 0; j->api->store_worker && tries < 200; tries++) {
        if (worker_submit_reserved(j->api->store_worker, final_tick, j) == 0)
            break;
        if (worker_stopping(j->api->store_worker))
            break;
        usleep(10000);
    }
}

void jobs_free(struct jobs *j)
{
    if (!j)
        return;
    jobs_stop(j);
    for (int i = 0; i < j->cfg.workers; i++) {
        struct pool_thread *t = &j->threads[i];
        list_free(t->inbox);
        list_free(t->running);
        if (t->multi)
            curl_multi_cleanup(t->multi);
        pthread_mutex_destroy(&t->lock);
    }
    free(j->threads);
    list_free(j->results);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->wake);
    free(j);
    curl_global_cleanup();
}

int jobs_outbox(void *jobs, struct store *st, const char *app_id, const struct store_event *ev,
                int64_t now_ms, char *err, size_t errlen)
{
    struct jobs *j = jobs;
    wake_at(j, now_ms);
    return webhook_outbox(j->api->tenants, st, app_id, ev, j->cfg.max_attempts, now_ms, err,
                          errlen);
}

/* ---- metrics ------------------------------------------------------------------------------- */

void jobs_collect_metrics(struct buf *out, void *arg)
{
    struct jobs *j = arg;
    metrics_family(out, "reactor_jobs", "gauge",
                   "Jobs in the store by kind and state (counted every 5 s).");
    for (int i = 0; i < STORE_JOB__COUNT; i++)
        buf_printf(out, "reactor_jobs{kind=\"%s\",state=\"%s\"} %lld\n", WEBHOOK_KIND,
                   store_job_state_name((enum store_job_state)i),
                   (long long)atomic_load(&j->gauge[i]));
    static const char *const names[4] = { "succeeded", "failed", "dead", "returned" };
    metrics_family(out, "reactor_job_attempts_total", "counter",
                   "Job attempts recorded, by kind and outcome (failed: retried later; "
                   "returned: put back at shutdown).");
    for (int i = 0; i < 4; i++)
        buf_printf(out, "reactor_job_attempts_total{kind=\"%s\",outcome=\"%s\"} %llu\n",
                   WEBHOOK_KIND, names[i], (unsigned long long)metric_get(&j->outcomes[i]));
    metrics_single(out, "reactor_jobs_claimed_total", "counter", "Jobs claimed to run.",
                   metric_get(&j->claimed));
    metrics_single(out, "reactor_jobs_in_flight", "gauge",
                   "Jobs handed to the job threads whose attempt has not ended.",
                   (uint64_t)atomic_load(&j->in_pool));
    struct metrics_hist_sum sum;
    memset(&sum, 0, sizeof(sum));
    metrics_hist_accumulate(&sum, &j->latency);
    metrics_family(out, "reactor_webhook_request_seconds", "histogram",
                   "Time from sending a webhook request to its end (answer, error or timeout).");
    metrics_hist_render(out, "reactor_webhook_request_seconds", "", &sum);
}
