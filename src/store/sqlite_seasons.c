/* Season results and the schedule-run look-up that says whether a season is closed (see
 * store.h). */
#include <stdint.h>

#include "store/sqlite_int.h"
#include "store/store.h"

int store_schedule_ran(struct store *s, const char *schedule, int64_t *slot, int64_t *ran_at,
                       char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_SCHEDULE_RAN, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, schedule);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW) {
        if (slot)
            *slot = sqlite3_column_int64(st, 0);
        if (ran_at)
            *ran_at = sqlite3_column_int64(st, 1);
    } else {
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(st);
    return ret;
}

int store_season_result_put(struct store *s, const struct store_season_result *r, char *err,
                            size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_SEASON_RESULT_PUT, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, r->app_id);
    sqlite__bind_text(st, 2, r->season_id);
    sqlite3_bind_int64(st, 3, r->rank);
    sqlite__bind_text(st, 4, r->metric);
    sqlite__bind_text(st, 5, r->user_id);
    sqlite3_bind_int64(st, 6, r->score);
    sqlite__bind_text(st, 7, r->prize);
    sqlite3_bind_int64(st, 8, r->closed_at);
    return sqlite__step_done(s, st, err, errlen);
}

/* A statement's single integer result for (app, season). */
static int count_of(struct store *s, enum stmt_id id, const char *app_id, const char *season_id,
                    int64_t *n, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, id, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, season_id);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        ret = sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

int store_season_results_page(struct store *s, const char *app_id, const char *season_id,
                              int limit, int offset,
                              void (*fn)(const struct store_season_result *, void *), void *arg,
                              int64_t *total, char *err, size_t errlen)
{
    if (total && count_of(s, ST_SEASON_RESULT_COUNT, app_id, season_id, total, err, errlen) < 0)
        return -1;
    sqlite3_stmt *st = sqlite__stmt(s, ST_SEASON_RESULT_PAGE, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, season_id);
    sqlite3_bind_int(st, 3, limit);
    sqlite3_bind_int(st, 4, offset);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_season_result r = {
            .app_id = app_id,
            .season_id = season_id,
            .rank = sqlite3_column_int64(st, 0),
            .metric = (const char *)sqlite3_column_text(st, 1),
            .user_id = (const char *)sqlite3_column_text(st, 2),
            .score = sqlite3_column_int64(st, 3),
            .prize = (const char *)sqlite3_column_text(st, 4),
            .closed_at = sqlite3_column_int64(st, 5),
        };
        fn(&r, arg);
    }
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

int store_season_reset_mark(struct store *s, const char *app_id, const char *season_id,
                            const char *user_id, int64_t now, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_SEASON_RESET_MARK, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, season_id);
    sqlite__bind_text(st, 3, user_id);
    sqlite3_bind_int64(st, 4, now);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    return sqlite3_changes(s->db) == 1 ? 0 : STORE_CONFLICT;
}

int store_season_reset_count(struct store *s, const char *app_id, const char *season_id,
                             int64_t *n, char *err, size_t errlen)
{
    return count_of(s, ST_SEASON_RESET_COUNT, app_id, season_id, n, err, errlen);
}

int store_user_ids_after(struct store *s, const char *app_id, const char *after, int limit,
                         void (*fn)(const char *user_id, void *), void *arg, int *n, char *err,
                         size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_USER_IDS_AFTER, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, after);
    sqlite3_bind_int(st, 3, limit);
    int rc, got = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fn((const char *)sqlite3_column_text(st, 0), arg);
        got++;
    }
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    if (n)
        *n = got;
    return ret;
}

int store_season_reset_has(struct store *s, const char *app_id, const char *season_id,
                           const char *user_id, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_SEASON_RESET_HAS, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, season_id);
    sqlite__bind_text(st, 3, user_id);
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? STORE_NOT_FOUND
                                                       : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}
