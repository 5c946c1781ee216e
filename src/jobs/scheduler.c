/* The scheduler (see scheduler.h). */
#include "jobs/scheduler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/rank.h"
#include "core/worker.h"
#include "engine/boards.h"
#include "engine/engine.h"
#include "engine/game.h"
#include "jobs/cron.h"
#include "store/store.h"

#define DAY_MS (24 * 3600 * 1000LL)
#define PURGE_CHUNK 10000
#define CATCHUP_MAX 64
#define RESET_CHUNK 1000 /* users a season's XP reset takes per batch */

struct schedule;
/* A schedule's work for one slot, in the open batch: 0, or -1 when the store failed. */
typedef int schedule_fn(struct scheduler *s, struct schedule *sc, int64_t slot, int64_t now,
                        char *err, size_t errlen);

struct schedule {
    const char *name;
    schedule_fn *run;
    struct cron cron;
    bool enabled;             /* a schedule given as "off" never runs */
    bool loaded;              /* engine thread: `last` was read from the store */
    int64_t last;             /* engine thread: the newest slot run (committed) */
    int64_t pending;          /* engine thread: the newest slot of the open batch */
    metric_u64 runs;          /* engine thread */
};

enum {
    SC_JOB_CLEANUP,
    SC_BOARD_EVICTION,
    SC_SEASON_END,
    SC_SEASON_START,
    SC_EVENT_RETENTION,
    SC__COUNT
};

#define EVENTS_EXPIRE_CHUNK 50000 /* events deleted per run at most: bounds the batch */

struct scheduler {
    struct scheduler_config cfg;
    struct api *api;
    struct schedule sc[SC__COUNT];
    atomic_bool pending;      /* a task is queued */
    atomic_bool more;         /* a season's XP reset has users left: a task at the next tick */
    /* engine thread: where the XP reset under way continues (the user id it reached) */
    char *reset_app, *reset_season, *reset_after;
    pthread_t tid;
    bool started, stop;
    pthread_mutex_t lock;     /* guards stop */
    pthread_cond_t wake;
};

/* ---- built-in work ------------------------------------------------------------------------- */

static int job_cleanup(struct scheduler *s, struct schedule *sc, int64_t slot, int64_t now,
                       char *err, size_t errlen)
{
    (void)sc;
    (void)slot;
    int64_t before = now - (int64_t)s->cfg.job_retention_days * DAY_MS;
    int jobs = 0, deliveries = 0;
    if (store_jobs_purge(s->api->store, before, PURGE_CHUNK, &jobs, err, errlen) < 0 ||
        store_deliveries_purge(s->api->store, before, PURGE_CHUNK, &deliveries, err, errlen) < 0)
        return -1;
    if (jobs || deliveries)
        log_info("old jobs deleted", LOG_I("jobs", jobs), LOG_I("deliveries", deliveries));
    return 0;
}

static int event_retention(struct scheduler *s, struct schedule *sc, int64_t slot, int64_t now,
                           char *err, size_t errlen)
{
    (void)sc;
    (void)slot;
    if (s->cfg.event_retention_days <= 0)
        return 0;
    int deleted = 0;
    if (store_events_expire(s->api->store, now - (int64_t)s->cfg.event_retention_days * DAY_MS,
                            EVENTS_EXPIRE_CHUNK, &deleted, err, errlen) < 0)
        return -1;
    if (deleted)
        log_info("old events deleted", LOG_I("events", deleted));
    return 0;
}

static int board_eviction(struct scheduler *s, struct schedule *sc, int64_t slot, int64_t now,
                          char *err, size_t errlen)
{
    (void)sc;
    (void)slot;
    (void)err;
    (void)errlen;
    if (s->api->engine)
        boards_evict(engine_boards(s->api->engine), now);
    return 0;
}

/* Season end: every season whose endsAt has passed is closed once. The record is the
 * schedule_runs row ("season-end:<app>:<season>", endsAt: ENGINE_SEASON_END_RUN), written in
 * the batch that closes it (close_season). */

struct ids {
    char **v;
    size_t n, cap;
};

static void ids_push(struct ids *x, const char *s)
{
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 16;
        x->v = xrealloc(x->v, x->cap * sizeof(*x->v));
    }
    x->v[x->n++] = xstrdup(s);
}

static void ids_release(struct ids *x)
{
    for (size_t i = 0; i < x->n; i++)
        free(x->v[i]);
    free(x->v);
}

static void app_id_of(const struct store_app *a, void *arg)
{
    ids_push(arg, a->id);
}

static void unsettled_league(const struct store_league *l, void *arg)
{
    if (!l->settled_at)
        ids_push(arg, l->id);
}

/* Adds every integer of `from` ({name: amount}) into the object `into`. */
static void awards_add(json_t *into, const json_t *from)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)from, k, v)
    {
        json_int_t had = json_integer_value(json_object_get(into, k));
        json_object_set_new(into, k, json_integer(had + json_integer_value(v)));
    }
}

/* What the member at 1-based `rank` wins: every prize with fromRank <= rank <= toRank, summed
 * into {xpAwards?, currencyAwards?}; NULL when none. */
static json_t *prize_of(const json_t *prizes, int64_t rank)
{
    json_t *xp = NULL, *cur = NULL;
    size_t i;
    const json_t *p;
    json_array_foreach(prizes, i, p)
    {
        const json_t *to = json_object_get(p, "toRank");
        int64_t from = json_integer_value(json_object_get(p, "fromRank"));
        if (rank < from || rank > (to ? json_integer_value(to) : from))
            continue;
        const json_t *x = json_object_get(p, "xpAwards"), *c = json_object_get(p, "currencyAwards");
        if (json_is_object(x))
            awards_add(xp ? xp : (xp = json_object()), x);
        if (json_is_object(c))
            awards_add(cur ? cur : (cur = json_object()), c);
    }
    if (!xp && !cur)
        return NULL;
    json_t *out = json_object();
    if (xp)
        json_object_set_new(out, "xpAwards", xp);
    if (cur)
        json_object_set_new(out, "currencyAwards", cur);
    return out;
}

/* Closes one season of an app, in the open batch: marks it closed in the engine's model (its
 * board takes no more events), records its results (the top season_results_max of its board,
 * rewardConfig.metric or "Builder XP", and every prize winner: the member at 1-based position
 * r gets every prize with fromRank <= r <= toRank, ties keep the board's order), grants the
 * prizes, settles the season's leagues that are not settled yet (api_league_settle: the one
 * place league moves are made), and writes the audit row "season.close". 0, or -1 when the
 * store failed. */
static int close_season(struct scheduler *s, const char *app, const char *season,
                        const json_t *reward, int64_t now, char *err, size_t errlen)
{
    struct store *st = s->api->store;
    struct game_app *ga = engine_app(s->api->engine, st, app, err, errlen);
    if (!ga)
        return -1;
    for (size_t k = 0; k < ga->n_seasons; k++)
        if (strcmp(ga->seasons[k].id, season) == 0)
            ga->seasons[k].closed = true;
    const json_t *prizes = json_object_get(reward, "prizes");
    if (!json_is_array(prizes))
        prizes = NULL;
    const char *metric = json_string_value(json_object_get(reward, "metric"));
    if (!metric)
        metric = "Builder XP";
    int64_t keep = s->cfg.season_results_max;
    size_t i;
    const json_t *p;
    json_array_foreach(prizes, i, p)
    {
        const json_t *to = json_object_get(p, "toRank");
        int64_t r = json_integer_value(to ? to : json_object_get(p, "fromRank"));
        keep = r > keep ? r : keep;
    }
    char period[BOARDS_PERIOD_MAX];
    snprintf(period, sizeof(period), "season:%s", season);
    struct boards *b = engine_boards(s->api->engine);
    int rc = boards_load_one(b, st, app, metric, period, now, err, errlen);
    if (rc < 0 && rc != STORE_NOT_FOUND)
        return -1;
    const struct rank_index *idx = NULL;
    /* The standings first: granting changes boards (applied at the batch's end, but copy). */
    struct ids members = { 0 };
    int64_t *scores = NULL;
    if (boards_find(b, app, metric, period, now, &idx) == BOARD_LOADED) {
        size_t n = rank_size(idx);
        if ((int64_t)n > keep)
            n = (size_t)keep;
        scores = xcalloc(n + 1, sizeof(*scores));
        for (size_t k = 0; k < n; k++) {
            struct rank_entry e;
            rank_range(idx, k, &e, 1);
            scores[k] = e.score;
            ids_push(&members, e.member);
        }
    }
    json_t *won = json_array();
    int ret = 0;
    for (size_t k = 0; ret == 0 && k < members.n; k++) {
        int64_t rank = (int64_t)k + 1;
        json_t *prize = prizes ? prize_of(prizes, rank) : NULL;
        char *prize_text = prize ? json_dumps(prize, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        struct store_season_result row = { app, season, rank, metric, members.v[k], scores[k],
                                           prize_text, now };
        if (store_season_result_put(st, &row, err, errlen) < 0)
            ret = -1;
        free(prize_text);
        if (ret == 0 && prize) {
            rc = engine_grant(s->api->engine, st, app, members.v[k],
                              json_object_get(prize, "xpAwards"),
                              json_object_get(prize, "currencyAwards"), "season", period, now,
                              err, errlen);
            if (rc == -1)
                ret = -1;
            else if (rc < 0)
                log_warn("a season prize was not granted", LOG_S("app", app),
                         LOG_S("user", members.v[k]), LOG_S("error", err));
            json_t *w = json_pack("{s:s, s:I}", "userId", members.v[k], "rank", (json_int_t)rank);
            json_object_update(w, prize);
            json_array_append_new(won, w);
        }
        json_decref(prize);
    }
    if (ret == 0 && json_array_size(won))
        log_info("season prizes granted", LOG_S("app", app), LOG_S("season", season),
                 LOG_U("winners", json_array_size(won)));
    struct ids leagues = { 0 };
    if (ret == 0)
        ret = store_leagues_each(st, app, -1, season, unsettled_league, &leagues, err, errlen);
    for (size_t k = 0; ret == 0 && k < leagues.n; k++) {
        struct store_league l;
        rc = store_league_get(st, app, leagues.v[k], &l, err, errlen);
        if (rc == STORE_NOT_FOUND)
            continue;
        struct api_actor system = API_ACTOR_SYSTEM;
        if (rc < 0 || api_league_settle(s->api, st, app, &l, &system, now, err, errlen) < 0)
            ret = -1;
        store_league_release(&l);
    }
    if (ret == 0) {
        json_t *settled = json_array();
        for (size_t k = 0; k < leagues.n; k++)
            json_array_append_new(settled, json_string(leagues.v[k]));
        json_t *after = json_pack("{s:I, s:O, s:o}", "results", (json_int_t)members.n, "prizes",
                                  won, "leaguesSettled", settled);
        struct api_actor system = API_ACTOR_SYSTEM;
        ret = api_audit_write(st, &system, app, "season.close", "season", season, NULL, after,
                              err, errlen);
        json_decref(after);
    }
    if (ret == 0)
        log_info("season closed", LOG_S("app", app), LOG_S("season", season),
                 LOG_U("results", members.n), LOG_U("leagues_settled", leagues.n));
    json_decref(won);
    free(scores);
    ids_release(&members);
    ids_release(&leagues);
    return ret;
}

static int season_end(struct scheduler *s, struct schedule *sc, int64_t slot, int64_t now,
                      char *err, size_t errlen)
{
    (void)sc;
    (void)slot;
    struct store *st = s->api->store;
    struct ids apps = { 0 };
    int ret = store_apps_each(st, app_id_of, &apps, err, errlen);
    for (size_t i = 0; ret == 0 && s->api->engine && i < apps.n; i++) {
        struct game_app *ga = engine_app(s->api->engine, st, apps.v[i], err, errlen);
        if (!ga) {
            ret = -1;
            break;
        }
        /* Copied: settling may reload the app's model. */
        struct ids ended = { 0 };
        int64_t *ends = xcalloc(ga->n_seasons + 1, sizeof(*ends));
        json_t **rewards = xcalloc(ga->n_seasons + 1, sizeof(*rewards));
        for (size_t k = 0; k < ga->n_seasons; k++) {
            if (ga->seasons[k].ends_at <= now) {
                ends[ended.n] = ga->seasons[k].ends_at;
                rewards[ended.n] = json_incref(json_object_get(ga->seasons[k].doc, "rewardConfig"));
                ids_push(&ended, ga->seasons[k].id);
            }
        }
        for (size_t k = 0; ret == 0 && k < ended.n; k++) {
            char name[256];
            snprintf(name, sizeof(name), ENGINE_SEASON_END_RUN, apps.v[i], ended.v[k]);
            int rc = store_schedule_run(st, name, ends[k], now, err, errlen);
            if (rc == STORE_CONFLICT)
                continue; /* closed before */
            if (rc < 0 ||
                close_season(s, apps.v[i], ended.v[k], rewards[k], now, err, errlen) < 0)
                ret = -1;
        }
        for (size_t k = 0; k < ended.n; k++)
            json_decref(rewards[k]);
        free(rewards);
        free(ends);
        ids_release(&ended);
    }
    ids_release(&apps);
    return ret;
}

/* Season start: a season with resetXpOnStart resets the XP of the app's users once its
 * startsAt has passed (while it is active and not ended). Users are taken in id order,
 * RESET_CHUNK per batch; each user whose XP is reset gets a season_resets row in the same
 * batch, and a user with one is skipped, so a chunk repeated after a rollback or a restart
 * resets nobody twice. The record ("season-start:<app>:<season>", startsAt) and the audit row
 * "season.reset_xp" are written in the batch of the last chunk. Between chunks the position
 * is kept in memory only (a restart starts over from the first user, skipping the done). */

static void forget_reset(struct scheduler *s)
{
    free(s->reset_app);
    free(s->reset_season);
    free(s->reset_after);
    s->reset_app = s->reset_season = s->reset_after = NULL;
}

static void user_id_of(const char *id, void *arg)
{
    ids_push(arg, id);
}

/* One chunk of the season's XP reset: 0 and *done when every user was reached, or -1. */
static int reset_chunk(struct scheduler *s, const char *app, const char *season, int64_t now,
                       bool *done, char *err, size_t errlen)
{
    struct store *st = s->api->store;
    const char *after = "";
    if (s->reset_app && strcmp(s->reset_app, app) == 0 && strcmp(s->reset_season, season) == 0)
        after = s->reset_after;
    char source[BOARDS_PERIOD_MAX];
    snprintf(source, sizeof(source), "season:%s", season);
    struct ids users = { 0 };
    int ret = store_user_ids_after(st, app, after, RESET_CHUNK, user_id_of, &users, NULL, err,
                                   errlen);
    for (size_t k = 0; ret == 0 && k < users.n; k++) {
        int rc = store_season_reset_has(st, app, season, users.v[k], err, errlen);
        if (rc == 0)
            continue; /* reset before */
        size_t tracks = 0;
        if (rc == STORE_NOT_FOUND)
            rc = engine_reset_xp(s->api->engine, st, app, users.v[k], "season-reset", source,
                                 now, &tracks, err, errlen);
        if (rc == -1) {
            ret = -1;
        } else if (rc < 0) {
            log_warn("a user's XP was not reset", LOG_S("app", app), LOG_S("user", users.v[k]),
                     LOG_S("error", err));
        } else if (tracks &&
                   store_season_reset_mark(st, app, season, users.v[k], now, err, errlen) < 0) {
            ret = -1;
        }
    }
    if (ret == 0) {
        *done = users.n < RESET_CHUNK;
        char *last = users.n ? xstrdup(users.v[users.n - 1]) : NULL;
        forget_reset(s);
        if (!*done) {
            s->reset_app = xstrdup(app);
            s->reset_season = xstrdup(season);
            s->reset_after = last;
        } else {
            free(last);
        }
    }
    ids_release(&users);
    return ret;
}

static int season_start(struct scheduler *s, struct schedule *sc, int64_t slot, int64_t now,
                        char *err, size_t errlen)
{
    (void)sc;
    (void)slot;
    struct store *st = s->api->store;
    struct ids apps = { 0 };
    bool more = false;
    int ret = store_apps_each(st, app_id_of, &apps, err, errlen);
    for (size_t i = 0; ret == 0 && !more && s->api->engine && i < apps.n; i++) {
        struct game_app *ga = engine_app(s->api->engine, st, apps.v[i], err, errlen);
        if (!ga) {
            ret = -1;
            break;
        }
        struct ids started = { 0 };
        int64_t *starts = xcalloc(ga->n_seasons + 1, sizeof(*starts));
        for (size_t k = 0; k < ga->n_seasons; k++) {
            const struct game_season *x = &ga->seasons[k];
            if (x->active && x->starts_at <= now && now < x->ends_at &&
                json_is_true(json_object_get(x->doc, "resetXpOnStart"))) {
                starts[started.n] = x->starts_at;
                ids_push(&started, x->id);
            }
        }
        for (size_t k = 0; ret == 0 && !more && k < started.n; k++) {
            char name[256];
            snprintf(name, sizeof(name), "season-start:%s:%s", apps.v[i], started.v[k]);
            int rc = store_schedule_ran(st, name, NULL, NULL, err, errlen);
            if (rc == 0)
                continue; /* reset before */
            bool done = false;
            if (rc != STORE_NOT_FOUND ||
                reset_chunk(s, apps.v[i], started.v[k], now, &done, err, errlen) < 0) {
                ret = -1;
                break;
            }
            if (!done) {
                more = true; /* the next batch goes on */
                break;
            }
            int64_t users = 0;
            if (store_schedule_run(st, name, starts[k], now, err, errlen) < 0 ||
                store_season_reset_count(st, apps.v[i], started.v[k], &users, err, errlen) < 0) {
                ret = -1;
                break;
            }
            json_t *after = json_pack("{s:I}", "users", (json_int_t)users);
            struct api_actor system = API_ACTOR_SYSTEM;
            ret = api_audit_write(st, &system, apps.v[i], "season.reset_xp", "season",
                                  started.v[k], NULL, after, err, errlen);
            json_decref(after);
            if (ret == 0)
                log_info("season XP reset", LOG_S("app", apps.v[i]),
                         LOG_S("season", started.v[k]), LOG_I("users", users));
        }
        free(starts);
        ids_release(&started);
    }
    ids_release(&apps);
    atomic_store(&s->more, ret == 0 && more);
    return ret;
}

/* ---- the tick (engine thread) -------------------------------------------------------------- */

static void after(void *arg, bool committed)
{
    struct scheduler *s = arg;
    if (!committed)
        forget_reset(s); /* the chunk's resets rolled back: start over (the done are skipped) */
    for (int i = 0; i < SC__COUNT; i++) {
        struct schedule *sc = &s->sc[i];
        if (committed && sc->pending > sc->last)
            sc->last = sc->pending;
        sc->pending = 0;
    }
}

/* Runs the due slots of one schedule: -1 when the store failed (the batch must roll back). */
static int run_due(struct scheduler *s, struct schedule *sc, int64_t now)
{
    struct store *st = s->api->store;
    char err[256];
    if (!sc->loaded) {
        int rc = store_schedule_last(st, sc->name, &sc->last, err, sizeof(err));
        if (rc == STORE_NOT_FOUND)
            sc->last = now; /* never ran: from now on */
        else if (rc < 0)
            goto fail;
        sc->loaded = true;
    }
    int64_t slots[CATCHUP_MAX];
    size_t skipped;
    int64_t from = sc->pending > sc->last ? sc->pending : sc->last;
    size_t n = cron_due(&sc->cron, from, now, slots, (size_t)s->cfg.catchup, &skipped);
    if (skipped)
        log_warn("missed schedule slots skipped (more than the catch-up bound)",
                 LOG_S("schedule", sc->name), LOG_U("skipped", skipped),
                 LOG_I("catchup", s->cfg.catchup));
    for (size_t i = 0; i < n; i++) {
        int rc = store_schedule_run(st, sc->name, slots[i], now, err, sizeof(err));
        if (rc == STORE_CONFLICT)
            continue; /* ran before (another leader, or a batch this one joined) */
        if (rc < 0 || sc->run(s, sc, slots[i], now, err, sizeof(err)) < 0)
            goto fail;
        metric_add(&sc->runs, 1);
        char at[CLOCK_ISO_LEN];
        clock_iso(slots[i], at);
        log_debug("schedule ran", LOG_S("schedule", sc->name), LOG_S("slot", at));
    }
    if (n)
        sc->pending = slots[n - 1];
    return 0;
fail:
    log_error("a scheduled run failed; it is tried again", LOG_S("schedule", sc->name),
              LOG_S("error", err));
    return -1;
}

static void task(void *arg)
{
    struct scheduler *s = arg;
    atomic_store(&s->pending, false);
    struct api *api = s->api;
    if (!scheduler_is_leader(s) || !api_batch_usable(api))
        return;
    int64_t now = clock_now_ms();
    api_batch_after(api, after, s);
    for (int i = 0; i < SC__COUNT; i++) {
        if (!s->sc[i].enabled)
            continue;
        if (run_due(s, &s->sc[i], now) < 0 || !api_batch_usable(api)) {
            api->batch_failed = true; /* the slot records go with the work */
            return;
        }
    }
    /* An XP reset with users left goes on at once, not at the next slot. */
    if (s->sc[SC_SEASON_START].enabled && atomic_load(&s->more)) {
        char err[256];
        if (season_start(s, &s->sc[SC_SEASON_START], 0, now, err, sizeof(err)) < 0) {
            log_error("a season XP reset failed; it is tried again", LOG_S("error", err));
            api->batch_failed = true;
        }
    }
}

/* The earliest next slot of any schedule after `now` (the ticking thread's estimate). */
static int64_t next_due(const struct scheduler *s, int64_t now)
{
    int64_t next = now + 3600 * 1000LL;
    for (int i = 0; i < SC__COUNT; i++) {
        if (!s->sc[i].enabled)
            continue;
        int64_t t = cron_next(&s->sc[i].cron, now);
        if (t >= 0 && t < next)
            next = t;
    }
    return next;
}

static void *tick_run(void *arg)
{
    struct scheduler *s = arg;
    int64_t due = 0; /* at once: slots missed while down */
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        pthread_mutex_unlock(&s->lock);
        /* A task only when a slot may be due (the task finds which), and at least hourly. */
        int64_t now = clock_now_ms();
        if (now >= due || atomic_load(&s->more)) {
            if (atomic_exchange(&s->pending, true))
                due = now; /* one is queued still: look again next tick */
            else if (worker_submit_reserved(s->api->store_worker, task, s) < 0) {
                atomic_store(&s->pending, false);
                due = now;
            } else {
                due = next_due(s, now);
            }
        }
        pthread_mutex_lock(&s->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)s->cfg.tick_ms * 1000000u;
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec = (long)(ns % 1000000000u);
        while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&s->lock);
    log_thread_release();
    return NULL;
}

/* ---- life cycle ---------------------------------------------------------------------------- */

struct scheduler *scheduler_new(const struct scheduler_config *cfg, struct api *api, char *err,
                                size_t errlen)
{
    struct scheduler *s = xcalloc(1, sizeof(*s));
    s->cfg = *cfg;
    if (s->cfg.catchup < 1)
        s->cfg.catchup = 1;
    if (s->cfg.catchup > CATCHUP_MAX)
        s->cfg.catchup = CATCHUP_MAX;
    s->api = api;
    const struct {
        const char *name, *spec;
        schedule_fn *run;
    } defs[SC__COUNT] = {
        [SC_JOB_CLEANUP] = { "job-cleanup", cfg->job_cleanup, job_cleanup },
        [SC_BOARD_EVICTION] = { "board-eviction", cfg->board_eviction, board_eviction },
        [SC_SEASON_END] = { "season-end", cfg->season_end, season_end },
        [SC_EVENT_RETENTION] = { "event-retention", cfg->event_retention, event_retention },
        [SC_SEASON_START] = { "season-start", cfg->season_start, season_start },
    };
    for (int i = 0; i < SC__COUNT; i++) {
        struct schedule *sc = &s->sc[i];
        sc->name = defs[i].name;
        sc->run = defs[i].run;
        if (!defs[i].spec || strcmp(defs[i].spec, "off") == 0)
            continue;
        char why[160];
        if (cron_parse(defs[i].spec, &sc->cron, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "schedule %s: %s", sc->name, why);
            free(s);
            return NULL;
        }
        sc->enabled = true;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    return s;
}

int scheduler_start(struct scheduler *s)
{
    if (!s->cfg.enabled)
        return 0;
    if (pthread_create(&s->tid, NULL, tick_run, s) != 0) {
        log_error("cannot start the scheduler");
        return -1;
    }
    pthread_setname_np(s->tid, "scheduler");
    s->started = true;
    return 0;
}

void scheduler_stop(struct scheduler *s)
{
    if (!s || !s->started)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->tid, NULL);
    s->started = false;
}

void scheduler_free(struct scheduler *s)
{
    if (!s)
        return;
    scheduler_stop(s);
    forget_reset(s);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s);
}

bool scheduler_is_leader(const struct scheduler *s)
{
    return s->cfg.enabled;
}

void scheduler_collect_metrics(struct buf *out, void *arg)
{
    struct scheduler *s = arg;
    metrics_family(out, "reactor_schedule_runs_total", "counter",
                   "Scheduled slots run by this process, by schedule.");
    for (int i = 0; i < SC__COUNT; i++)
        buf_printf(out, "reactor_schedule_runs_total{schedule=\"%s\"} %llu\n", s->sc[i].name,
                   (unsigned long long)metric_get(&s->sc[i].runs));
    metrics_single(out, "reactor_scheduler_leader", "gauge",
                   "1 when this process runs the schedules.", scheduler_is_leader(s));
}
