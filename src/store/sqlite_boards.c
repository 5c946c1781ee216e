/* Leaderboards in SQLite: boards and their scores (see store.h). */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite_int.h"
#include "store/store.h"

int store_board_create(struct store *s, const char *app_id, const char *metric,
                       const char *period, int64_t now, int64_t *id, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_BOARD_CREATE, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, metric);
    sqlite__bind_text(st, 3, period);
    sqlite3_bind_int64(st, 4, now);
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st);
        ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    } else {
        ret = rc == SQLITE_DONE ? STORE_CONFLICT : sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(st);
    return ret;
}

int store_board_touch(struct store *s, int64_t id, int64_t now, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_BOARD_TOUCH, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    return sqlite__step_done(s, st, err, errlen);
}

int store_boards_each(struct store *s, void (*fn)(const struct store_board *, void *),
                      void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_BOARD_ALL, err, errlen);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_board b = {
            .id = sqlite3_column_int64(st, 0),
            .app_id = (const char *)sqlite3_column_text(st, 1),
            .metric = (const char *)sqlite3_column_text(st, 2),
            .period = (const char *)sqlite3_column_text(st, 3),
            .updated_at = sqlite3_column_int64(st, 4),
        };
        if (b.app_id && b.metric && b.period)
            fn(&b, arg);
    }
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

int store_board_log(struct store *s, int64_t board, const char *user_id, int64_t delta,
                    int64_t at, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_BOARD_LOG, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, board);
    sqlite__bind_text(st, 2, user_id);
    sqlite3_bind_int64(st, 3, delta);
    sqlite3_bind_int64(st, 4, at);
    return sqlite__step_done(s, st, err, errlen);
}

int store_board_log_rows(struct store *s, int64_t *rows, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_BOARD_LOG_ROWS, err, errlen);
    if (!st)
        return -1;
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW)
        *rows = sqlite3_column_int64(st, 0);
    else
        ret = sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

static int64_t capped_add(int64_t a, int64_t b, int64_t cap)
{
    return b > cap - a ? cap : a + b;
}

/* Upserts one (board, user)'s folded change. */
static int fold_one(struct store *s, int64_t board, const char *user, int64_t delta, int64_t at,
                    int64_t cap, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_BOARD_FOLD, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, board);
    sqlite__bind_text(st, 2, user);
    sqlite3_bind_int64(st, 3, delta);
    sqlite3_bind_int64(st, 4, at);
    sqlite3_bind_int64(st, 5, cap);
    return sqlite__step_done(s, st, err, errlen);
}

/* The log read in (board, user) order and summed in C: exact, and capped without overflow
 * (SQLite's sum() fails on overflow, which would stop every later fold). */
static int fold_all(struct store *s, int64_t cap, char *err, size_t errlen)
{
    sqlite3_stmt *scan = sqlite__stmt(s, ST_BOARD_LOG_SCAN, err, errlen);
    if (!scan)
        return -1;
    int64_t board = 0, delta = 0, at = 0;
    char *user = NULL;
    int rc, ret = 0;
    while (ret == 0 && (rc = sqlite3_step(scan)) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(scan, 0);
        const char *u = (const char *)sqlite3_column_text(scan, 1);
        if (!u)
            continue;
        if (user && (b != board || strcmp(u, user) != 0)) {
            ret = fold_one(s, board, user, delta, at, cap, err, errlen);
            free(user);
            user = NULL;
        }
        if (!user) {
            board = b;
            user = xstrdup(u);
            delta = 0;
        }
        int64_t d = sqlite3_column_int64(scan, 2);
        delta = capped_add(delta, d < 0 ? 0 : d, cap);
        at = sqlite3_column_int64(scan, 3);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = sqlite__fail(s, err, errlen);
    sqlite3_reset(scan);
    if (ret == 0 && user)
        ret = fold_one(s, board, user, delta, at, cap, err, errlen);
    free(user);
    return ret;
}

int store_board_fold(struct store *s, int64_t cap, int64_t *rows, char *err, size_t errlen)
{
    int64_t n = 0;
    if (store_board_log_rows(s, &n, err, errlen) < 0)
        return -1;
    if (rows)
        *rows = n;
    if (n == 0)
        return 0;
    /* A savepoint: a step that fails undoes the others, so no change is ever folded twice. */
    if (sqlite__exec(s, "SAVEPOINT board_fold", err, errlen) < 0)
        return -1;
    sqlite3_stmt *st;
    if (fold_all(s, cap, err, errlen) < 0 ||
        !(st = sqlite__stmt(s, ST_BOARD_LOG_CLEAR, err, errlen)) ||
        sqlite__step_done(s, st, err, errlen) < 0) {
        sqlite__exec(s, "ROLLBACK TO board_fold; RELEASE board_fold", NULL, 0);
        return -1;
    }
    return sqlite__exec(s, "RELEASE board_fold", err, errlen);
}

int store_board_scores_each(struct store *s, int64_t board,
                            void (*fn)(const char *user_id, size_t len, int64_t score,
                                       int64_t at, void *arg),
                            void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_BOARD_SCORES, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, board);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *u = (const char *)sqlite3_column_text(st, 0);
        if (u)
            fn(u, (size_t)sqlite3_column_bytes(st, 0), sqlite3_column_int64(st, 1),
               sqlite3_column_int64(st, 2), arg);
    }
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}
