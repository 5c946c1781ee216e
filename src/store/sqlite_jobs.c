/* Jobs, webhook deliveries and schedule runs in SQLite (see store.h). */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite_int.h"
#include "store/store.h"

static const char *const state_names[STORE_JOB__COUNT] = {
    [STORE_JOB_QUEUED] = "queued",
    [STORE_JOB_RUNNING] = "running",
    [STORE_JOB_SUCCEEDED] = "succeeded",
    [STORE_JOB_FAILED] = "failed",
    [STORE_JOB_DEAD] = "dead",
};

const char *store_job_state_name(enum store_job_state st)
{
    return st < STORE_JOB__COUNT ? state_names[st] : "unknown";
}

int store_job_state_parse(const char *name, enum store_job_state *out)
{
    for (int i = 0; i < STORE_JOB__COUNT; i++) {
        if (strcmp(name, state_names[i]) == 0) {
            *out = (enum store_job_state)i;
            return 0;
        }
    }
    return -1;
}

void store_job_release(struct store_job *j)
{
    free(j->kind);
    free(j->app_id);
    free(j->order_key);
    free(j->payload);
    free(j->last_error);
    memset(j, 0, sizeof(*j));
}

int store_job_insert(struct store *s, const struct store_job *j, int64_t *id, char *err,
                     size_t errlen)
{
    int64_t run_at = j->run_at;
    if (j->order_key) {
        /* Behind an open job of its key: waiting, out of the claim scan, until promoted. */
        sqlite3_stmt *q = sqlite__stmt(s, ST_JOB_OPEN_OF_KEY, err, errlen);
        if (!q)
            return -1;
        sqlite__bind_text(q, 1, j->order_key);
        int rc = sqlite3_step(q);
        sqlite3_reset(q);
        if (rc == SQLITE_ROW)
            run_at = STORE_JOB_WAITING;
        else if (rc != SQLITE_DONE)
            return sqlite__fail(s, err, errlen);
    }
    sqlite3_stmt *st = sqlite__stmt(s, ST_JOB_INSERT, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, j->kind);
    sqlite__bind_text(st, 2, j->app_id ? j->app_id : "");
    sqlite__bind_text(st, 3, j->order_key);
    sqlite__bind_text(st, 4, j->payload);
    sqlite3_bind_int(st, 5, j->max_attempts);
    sqlite3_bind_int64(st, 6, run_at);
    sqlite3_bind_int64(st, 7, j->created_at);
    sqlite3_bind_int64(st, 8, j->created_at);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    if (id)
        *id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

/* A row of ST_JOB_PAGE / ST_JOB_GET, borrowed from the statement. */
static void row_job(sqlite3_stmt *st, struct store_job *j)
{
    memset(j, 0, sizeof(*j));
    j->id = sqlite3_column_int64(st, 0);
    j->kind = (char *)sqlite3_column_text(st, 1);
    j->app_id = (char *)sqlite3_column_text(st, 2);
    j->order_key = (char *)sqlite3_column_text(st, 3);
    j->payload = (char *)sqlite3_column_text(st, 4);
    const char *state = (const char *)sqlite3_column_text(st, 5);
    if (!state || store_job_state_parse(state, &j->state) < 0)
        j->state = STORE_JOB_QUEUED;
    j->attempts = sqlite3_column_int(st, 6);
    j->max_attempts = sqlite3_column_int(st, 7);
    j->run_at = sqlite3_column_int64(st, 8);
    j->claimed_at = sqlite3_column_int64(st, 9);
    j->last_error = (char *)sqlite3_column_text(st, 10);
    j->created_at = sqlite3_column_int64(st, 11);
    j->updated_at = sqlite3_column_int64(st, 12);
}

int store_jobs_claim(struct store *s, int64_t now, int64_t lease_until, int limit,
                     void (*fn)(const struct store_job *, void *), void *arg, int *n,
                     char *err, size_t errlen)
{
    if (n)
        *n = 0;
    if (limit <= 0)
        return 0;
    sqlite3_stmt *st = sqlite__stmt(s, ST_JOB_READY, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, limit);
    /* Read first, then mark: the rows are copied because the UPDATEs run after the scan. */
    struct store_job *v = xcalloc((size_t)limit, sizeof(*v));
    int k = 0, rc;
    while (k < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_job *j = &v[k++];
        j->id = sqlite3_column_int64(st, 0);
        j->kind = sqlite__col_text(st, 1);
        j->app_id = sqlite__col_text(st, 2);
        j->order_key = sqlite__col_text(st, 3);
        j->payload = sqlite__col_text(st, 4);
        j->attempts = sqlite3_column_int(st, 5) + 1;
        j->max_attempts = sqlite3_column_int(st, 6);
        j->run_at = sqlite3_column_int64(st, 7);
        j->created_at = sqlite3_column_int64(st, 8);
        j->state = STORE_JOB_RUNNING;
        j->claimed_at = j->updated_at = now;
    }
    int ret = (k == limit || rc == SQLITE_DONE) ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    for (int i = 0; ret == 0 && i < k; i++) {
        st = sqlite__stmt(s, ST_JOB_CLAIM, err, errlen);
        if (!st) {
            ret = -1;
            break;
        }
        sqlite3_bind_int64(st, 1, v[i].id);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, lease_until);
        ret = sqlite__step_done(s, st, err, errlen);
    }
    for (int i = 0; ret == 0 && i < k; i++)
        fn(&v[i], arg);
    if (ret == 0 && n)
        *n = k;
    for (int i = 0; i < k; i++)
        store_job_release(&v[i]);
    free(v);
    return ret;
}

int store_job_finish(struct store *s, int64_t id, enum store_job_state state, int64_t run_at,
                     const char *error, int64_t now, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_JOB_FINISH, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite__bind_text(st, 2, store_job_state_name(state));
    sqlite3_bind_int64(st, 3, run_at);
    sqlite__bind_text(st, 4, error);
    sqlite3_bind_int64(st, 5, now);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    if (sqlite3_changes(s->db) != 1)
        return STORE_NOT_FOUND;
    if (state != STORE_JOB_SUCCEEDED && state != STORE_JOB_DEAD)
        return 0;
    st = sqlite__stmt(s, ST_JOB_PROMOTE, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    return sqlite__step_done(s, st, err, errlen);
}

int store_job_return(struct store *s, int64_t id, int64_t now, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_JOB_RETURN, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    return sqlite3_changes(s->db) == 1 ? 0 : STORE_NOT_FOUND;
}

int store_jobs_recover(struct store *s, int64_t now, int *n, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_JOB_RECOVER, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    if (n)
        *n = sqlite3_changes(s->db);
    return 0;
}

int store_jobs_page(struct store *s, const char *app_id, int state, const char *kind,
                    int64_t before, int limit, void (*fn)(const struct store_job *, void *),
                    void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_JOB_PAGE, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2,
                      state >= 0 ? store_job_state_name((enum store_job_state)state) : NULL);
    sqlite__bind_text(st, 3, kind);
    sqlite3_bind_int64(st, 4, before);
    sqlite3_bind_int(st, 5, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_job j;
        row_job(st, &j);
        if (j.kind && j.app_id && j.payload)
            fn(&j, arg);
    }
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

int store_job_get(struct store *s, const char *app_id, int64_t id, struct store_job *out,
                  char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_JOB_GET, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite3_bind_int64(st, 2, id);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW) {
        struct store_job j;
        row_job(st, &j);
        *out = j;
        out->kind = xstrdup(j.kind ? j.kind : "");
        out->app_id = xstrdup(j.app_id ? j.app_id : "");
        out->order_key = j.order_key ? xstrdup(j.order_key) : NULL;
        out->payload = xstrdup(j.payload ? j.payload : "{}");
        out->last_error = j.last_error ? xstrdup(j.last_error) : NULL;
    } else {
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(st);
    return ret;
}

int store_job_retry(struct store *s, const char *app_id, int64_t id, int64_t now, char *err,
                    size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_JOB_RETRY, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_int64(st, 3, now);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    if (sqlite3_changes(s->db) == 1)
        return 0;
    struct store_job j;
    int rc = store_job_get(s, app_id, id, &j, err, errlen);
    if (rc < 0)
        return rc;
    store_job_release(&j);
    return STORE_CONFLICT;
}

int store_jobs_count(struct store *s,
                     void (*fn)(const char *kind, enum store_job_state st, int64_t n, void *arg),
                     void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_JOB_COUNTS, err, errlen);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(st, 0);
        const char *state = (const char *)sqlite3_column_text(st, 1);
        enum store_job_state js;
        if (kind && state && store_job_state_parse(state, &js) == 0)
            fn(kind, js, sqlite3_column_int64(st, 2), arg);
    }
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

/* Runs a "DELETE ... WHERE <time> < ? LIMIT ?" statement. */
static int purge(struct store *s, enum stmt_id id, int64_t before, int limit, int *deleted,
                 char *err, size_t errlen)
{
    int64_t n;
    int rc = sqlite__delete_older(s, id, before, limit, &n, err, errlen);
    if (deleted)
        *deleted = (int)n;
    return rc;
}

int store_jobs_purge(struct store *s, int64_t before, int limit, int *deleted, char *err,
                     size_t errlen)
{
    return purge(s, ST_JOB_PURGE, before, limit, deleted, err, errlen);
}

int store_delivery_insert(struct store *s, const struct store_delivery *d, char *err,
                          size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_DELIVERY_INSERT, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, d->app_id);
    sqlite3_bind_int64(st, 2, d->job_id);
    sqlite__bind_text(st, 3, d->webhook_id);
    sqlite__bind_text(st, 4, d->delivery_id);
    sqlite__bind_text(st, 5, d->event_type);
    sqlite__bind_text(st, 6, d->url);
    sqlite3_bind_int(st, 7, d->attempt);
    sqlite3_bind_int(st, 8, d->status_code);
    sqlite3_bind_int64(st, 9, d->latency_ms);
    sqlite__bind_text(st, 10, d->error);
    sqlite3_bind_int64(st, 11, d->at);
    return sqlite__step_done(s, st, err, errlen);
}

int store_deliveries_page(struct store *s, const char *app_id, int64_t before, int limit,
                          void (*fn)(const struct store_delivery *, void *), void *arg,
                          char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_DELIVERY_PAGE, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite3_bind_int64(st, 2, before);
    sqlite3_bind_int(st, 3, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_delivery d = {
            .seq = sqlite3_column_int64(st, 0),
            .app_id = app_id,
            .job_id = sqlite3_column_int64(st, 1),
            .webhook_id = (const char *)sqlite3_column_text(st, 2),
            .delivery_id = (const char *)sqlite3_column_text(st, 3),
            .event_type = (const char *)sqlite3_column_text(st, 4),
            .url = (const char *)sqlite3_column_text(st, 5),
            .attempt = sqlite3_column_int(st, 6),
            .status_code = sqlite3_column_int(st, 7),
            .latency_ms = sqlite3_column_int64(st, 8),
            .error = (const char *)sqlite3_column_text(st, 9),
            .at = sqlite3_column_int64(st, 10),
        };
        if (d.webhook_id && d.delivery_id && d.event_type && d.url)
            fn(&d, arg);
    }
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

int store_deliveries_purge(struct store *s, int64_t before, int limit, int *deleted,
                           char *err, size_t errlen)
{
    return purge(s, ST_DELIVERY_PURGE, before, limit, deleted, err, errlen);
}

int store_schedule_run(struct store *s, const char *schedule, int64_t slot, int64_t now,
                       char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_SCHEDULE_RUN, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, schedule);
    sqlite3_bind_int64(st, 2, slot);
    sqlite3_bind_int64(st, 3, now);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    return sqlite3_changes(s->db) == 1 ? 0 : STORE_CONFLICT;
}

int store_schedule_last(struct store *s, const char *schedule, int64_t *slot, char *err,
                        size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_SCHEDULE_LAST, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, schedule);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *slot = sqlite3_column_int64(st, 0);
    else
        ret = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_NOT_FOUND
                                                    : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}
