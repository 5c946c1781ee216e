/* The game model in SQLite: definitions, users' game state, the ledger and spend keys (see
 * store.h). */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite_int.h"
#include "store/store.h"

static const char *const def_kinds[] = { "rule", "achievement", "season" };

void store_def_release(struct store_def *d)
{
    free(d->id);
    free(d->body);
    memset(d, 0, sizeof(*d));
}

int store_def_put(struct store *s, const char *app_id, enum store_def_kind kind,
                  const struct store_def *d, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_DEF_PUT, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, def_kinds[kind]);
    sqlite__bind_text(st, 3, d->id);
    sqlite__bind_text(st, 4, d->body);
    sqlite3_bind_int64(st, 5, d->created_at);
    sqlite3_bind_int64(st, 6, d->updated_at);
    return sqlite__step_done(s, st, err, errlen);
}

int store_def_delete(struct store *s, const char *app_id, enum store_def_kind kind,
                     const char *id, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_DEF_DELETE, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, def_kinds[kind]);
    sqlite__bind_text(st, 3, id);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    return sqlite3_changes(s->db) > 0 ? 0 : STORE_NOT_FOUND;
}

int store_defs_each(struct store *s, const char *app_id, enum store_def_kind kind,
                    void (*fn)(const struct store_def *, void *), void *arg, char *err,
                    size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_DEF_LIST, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, def_kinds[kind]);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_def d = {
            .id = (char *)sqlite3_column_text(st, 0),
            .body = (char *)sqlite3_column_text(st, 1),
            .created_at = sqlite3_column_int64(st, 2),
            .updated_at = sqlite3_column_int64(st, 3),
        };
        if (d.id && d.body)
            fn(&d, arg);
    }
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

int store_user_load(struct store *s, const char *app_id, const char *user_id,
                    char **attributes, char **state, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_USER_LOAD, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, user_id);
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        *attributes = sqlite__col_text(st, 0);
        *state = sqlite__col_text(st, 1);
    } else {
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(st);
    return ret;
}

/* Writes a user's state with statement `id` (the table's upsert or the log's append). */
static int state_write(struct store *s, enum stmt_id id, const char *app_id,
                       const char *user_id, const char *state, int64_t now, char *err,
                       size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, id, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, user_id);
    sqlite__bind_text(st, 3, state);
    sqlite3_bind_int64(st, 4, now);
    return sqlite__step_done(s, st, err, errlen);
}

int store_user_state_put(struct store *s, const char *app_id, const char *user_id,
                         const char *state, int64_t now, char *err, size_t errlen)
{
    return state_write(s, ST_STATE_PUT, app_id, user_id, state, now, err, errlen);
}

int store_user_state_log(struct store *s, const char *app_id, const char *user_id,
                         const char *state, int64_t now, char *err, size_t errlen)
{
    return state_write(s, ST_STATE_LOG, app_id, user_id, state, now, err, errlen);
}


void store_ledger_release(struct store_ledger *l)
{
    free(l->id);
    free(l->name);
    free(l->reason);
    free(l->source);
    free(l->ref);
    free(l->metadata);
    memset(l, 0, sizeof(*l));
}

static int ledger_write(struct store *s, enum stmt_id id, const char *app_id,
                        const char *user_id, const struct store_ledger *l, char *err,
                        size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, id, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, user_id);
    sqlite3_bind_int64(st, 3, l->seq);
    sqlite__bind_text(st, 4, l->id);
    sqlite__bind_text(st, 5, l->kind);
    sqlite__bind_text(st, 6, l->name);
    sqlite3_bind_int64(st, 7, l->amount);
    sqlite3_bind_int64(st, 8, l->balance_after);
    sqlite__bind_text(st, 9, l->reason);
    sqlite__bind_text(st, 10, l->source);
    sqlite__bind_text(st, 11, l->ref);
    sqlite__bind_text(st, 12, l->metadata);
    sqlite3_bind_int64(st, 13, l->created_at);
    return sqlite__step_done(s, st, err, errlen);
}

int store_ledger_insert(struct store *s, const char *app_id, const char *user_id,
                        const struct store_ledger *l, char *err, size_t errlen)
{
    return ledger_write(s, ST_LEDGER_INSERT, app_id, user_id, l, err, errlen);
}

int store_ledger_log(struct store *s, const char *app_id, const char *user_id,
                     const struct store_ledger *l, int64_t *lseq, char *err, size_t errlen)
{
    if (ledger_write(s, ST_LEDGER_LOG, app_id, user_id, l, err, errlen) < 0)
        return -1;
    *lseq = sqlite3_last_insert_rowid(s->db);
    return 0;
}

/* Reads the ledger columns of a row (the SELECTs above share their order). When `borrow`, the
 * strings point into the statement. */
static void ledger_row(sqlite3_stmt *st, struct store_ledger *l, bool borrow)
{
    l->seq = sqlite3_column_int64(st, 0);
    l->kind = strcmp((const char *)sqlite3_column_text(st, 2), "xp") == 0 ? "xp" : "currency";
    l->amount = sqlite3_column_int64(st, 4);
    l->balance_after = sqlite3_column_int64(st, 5);
    l->created_at = sqlite3_column_int64(st, 10);
    if (borrow) {
        l->id = (char *)sqlite3_column_text(st, 1);
        l->name = (char *)sqlite3_column_text(st, 3);
        l->reason = (char *)sqlite3_column_text(st, 6);
        l->source = (char *)sqlite3_column_text(st, 7);
        l->ref = (char *)sqlite3_column_text(st, 8);
        l->metadata = (char *)sqlite3_column_text(st, 9);
    } else {
        l->id = sqlite__col_text(st, 1);
        l->name = sqlite__col_text(st, 3);
        l->reason = sqlite__col_text(st, 6);
        l->source = sqlite__col_text(st, 7);
        l->ref = sqlite__col_text(st, 8);
        l->metadata = sqlite__col_text(st, 9);
    }
}

int store_ledger_page(struct store *s, const char *app_id, const char *user_id,
                      int64_t before_seq, int limit, const char *kind,
                      void (*fn)(const struct store_ledger *, void *), void *arg, char *err,
                      size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, kind ? ST_LEDGER_PAGE_KIND : ST_LEDGER_PAGE, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, user_id);
    sqlite3_bind_int64(st, 3, before_seq);
    sqlite3_bind_int(st, 4, limit);
    if (kind)
        sqlite__bind_text(st, 5, kind);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_ledger l;
        ledger_row(st, &l, true);
        fn(&l, arg);
    }
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

/* Steps a statement bound to select one ledger row into *out (owned). */
static int ledger_one(struct store *s, sqlite3_stmt *st, struct store_ledger *out, char *err,
                      size_t errlen)
{
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW)
        ledger_row(st, out, false);
    else
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

int store_ledger_get(struct store *s, const char *app_id, const char *user_id, int64_t seq,
                     struct store_ledger *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_LEDGER_GET, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, user_id);
    sqlite3_bind_int64(st, 3, seq);
    return ledger_one(s, st, out, err, errlen);
}

int store_ledger_logged(struct store *s, int64_t lseq, struct store_ledger *out, char *err,
                        size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_LEDGER_LOGGED, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, lseq);
    return ledger_one(s, st, out, err, errlen);
}

int store_game_fold(struct store *s, int64_t *rows, char *err, size_t errlen)
{
    static const enum stmt_id steps[] = { ST_FOLD_STATE, ST_FOLD_STATE_CLEAR, ST_FOLD_LEDGER,
                                          ST_FOLD_LEDGER_CLEAR };
    int64_t n = 0;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        sqlite3_stmt *st = sqlite__stmt(s, steps[i], err, errlen);
        if (!st || sqlite__step_done(s, st, err, errlen) < 0)
            return -1;
        if (steps[i] == ST_FOLD_STATE_CLEAR || steps[i] == ST_FOLD_LEDGER_CLEAR)
            n += sqlite3_changes64(s->db);
    }
    if (rows)
        *rows = n;
    return 0;
}

int store_spend_key_put(struct store *s, const char *app_id, const char *key,
                        const char *user_id, int64_t seq, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_SPEND_KEY_PUT, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, key);
    sqlite__bind_text(st, 3, user_id);
    sqlite3_bind_int64(st, 4, seq);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    return sqlite3_changes(s->db) > 0 ? 0 : STORE_CONFLICT;
}

int store_spend_key_get(struct store *s, const char *app_id, const char *key, char **user_id,
                        int64_t *seq, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_SPEND_KEY_GET, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, key);
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        *user_id = sqlite__col_text(st, 0);
        *seq = sqlite3_column_int64(st, 1);
    } else {
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(st);
    return ret;
}
