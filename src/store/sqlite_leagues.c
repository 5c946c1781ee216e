/* Leagues in SQLite: leagues, their members and their results (see store.h). */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite_int.h"
#include "store/store.h"

void store_league_release(struct store_league *l)
{
    free(l->id);
    free(l->body);
    free(l->season_key);
    memset(l, 0, sizeof(*l));
}

int store_league_put(struct store *s, const char *app_id, const struct store_league *l,
                     char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_LEAGUE_PUT, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, l->id);
    sqlite__bind_text(st, 3, l->body);
    sqlite3_bind_int64(st, 4, l->tier);
    sqlite__bind_text(st, 5, l->season_key ? l->season_key : "");
    sqlite3_bind_int64(st, 6, l->created_at);
    sqlite3_bind_int64(st, 7, l->updated_at);
    return sqlite__step_done(s, st, err, errlen);
}

/* The league row of ST_LEAGUE_GET / ST_LEAGUE_LIST, borrowed from the statement. */
static void row_league(sqlite3_stmt *st, struct store_league *l)
{
    l->id = (char *)sqlite3_column_text(st, 0);
    l->body = (char *)sqlite3_column_text(st, 1);
    l->tier = sqlite3_column_int64(st, 2);
    l->season_key = (char *)sqlite3_column_text(st, 3);
    l->created_at = sqlite3_column_int64(st, 4);
    l->updated_at = sqlite3_column_int64(st, 5);
    l->settled_at = sqlite3_column_int64(st, 6);
    l->members = sqlite3_column_int64(st, 7);
}

int store_league_get(struct store *s, const char *app_id, const char *id,
                     struct store_league *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_LEAGUE_GET, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, id);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW) {
        struct store_league l;
        row_league(st, &l);
        *out = l;
        out->id = xstrdup(l.id ? l.id : "");
        out->body = xstrdup(l.body ? l.body : "{}");
        out->season_key = xstrdup(l.season_key ? l.season_key : "");
    } else {
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(st);
    return ret;
}

static int by_league(struct store *s, enum stmt_id id, const char *app_id,
                     const char *league_id, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, id, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, league_id);
    return sqlite__step_done(s, st, err, errlen);
}

int store_league_delete(struct store *s, const char *app_id, const char *id, char *err,
                        size_t errlen)
{
    if (by_league(s, ST_LEAGUE_DELETE, app_id, id, err, errlen) < 0)
        return -1;
    if (sqlite3_changes(s->db) == 0)
        return STORE_NOT_FOUND;
    if (by_league(s, ST_LEAGUE_DELETE_MEMBERS, app_id, id, err, errlen) < 0 ||
        by_league(s, ST_LEAGUE_DELETE_RESULTS, app_id, id, err, errlen) < 0)
        return -1;
    return 0;
}

int store_leagues_each(struct store *s, const char *app_id, int64_t tier,
                       const char *season_key,
                       void (*fn)(const struct store_league *, void *), void *arg, char *err,
                       size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_LEAGUE_LIST, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite3_bind_int64(st, 2, tier);
    sqlite__bind_text(st, 3, season_key);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_league l;
        row_league(st, &l);
        if (l.id && l.body && l.season_key)
            fn(&l, arg);
    }
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

int store_league_member_add(struct store *s, const char *app_id, const char *league_id,
                            const char *user_id, const char *season_key, int64_t now,
                            char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_MEMBER_ADD, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, league_id);
    sqlite__bind_text(st, 3, user_id);
    sqlite__bind_text(st, 4, season_key);
    sqlite3_bind_int64(st, 5, now);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    return sqlite3_changes(s->db) ? 0 : STORE_CONFLICT;
}

int store_league_member_remove(struct store *s, const char *app_id, const char *league_id,
                               const char *user_id, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_MEMBER_REMOVE, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, league_id);
    sqlite__bind_text(st, 3, user_id);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    return sqlite3_changes(s->db) ? 0 : STORE_NOT_FOUND;
}

int store_league_of_user(struct store *s, const char *app_id, const char *season_key,
                         const char *user_id, char **league_id, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_MEMBER_OF, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, season_key);
    sqlite__bind_text(st, 3, user_id);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW)
        *league_id = sqlite__col_text(st, 0);
    else
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

int store_league_members_each(struct store *s, const char *app_id, const char *league_id,
                              void (*fn)(const char *user_id, int64_t joined_at, void *arg),
                              void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_MEMBER_LIST, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, league_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *u = (const char *)sqlite3_column_text(st, 0);
        if (u)
            fn(u, sqlite3_column_int64(st, 1), arg);
    }
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

int store_league_result_put(struct store *s, const char *app_id, const char *league_id,
                            const struct store_league_result *r, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_RESULT_PUT, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, league_id);
    sqlite__bind_text(st, 3, r->user_id);
    sqlite3_bind_int64(st, 4, r->rank);
    sqlite3_bind_int64(st, 5, r->score);
    sqlite__bind_text(st, 6, r->outcome);
    sqlite3_bind_int64(st, 7, r->tier_after);
    return sqlite__step_done(s, st, err, errlen);
}

int store_league_results_each(struct store *s, const char *app_id, const char *league_id,
                              void (*fn)(const struct store_league_result *, void *),
                              void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_RESULT_LIST, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, league_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_league_result r = {
            .user_id = (const char *)sqlite3_column_text(st, 0),
            .rank = sqlite3_column_int64(st, 1),
            .score = sqlite3_column_int64(st, 2),
            .outcome = (const char *)sqlite3_column_text(st, 3),
            .tier_after = sqlite3_column_int64(st, 4),
        };
        if (r.user_id && r.outcome)
            fn(&r, arg);
    }
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

int store_league_settle(struct store *s, const char *app_id, const char *league_id,
                        int64_t now, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_LEAGUE_SETTLE, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, league_id);
    sqlite3_bind_int64(st, 3, now);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    return sqlite3_changes(s->db) ? 0 : STORE_CONFLICT;
}
