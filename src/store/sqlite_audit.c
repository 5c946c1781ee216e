/* The audit trail in SQLite (see store.h). Pages are read with a statement built for the
 * filters given, so each one runs as a range scan of the index that ends in the row id. */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "store/sqlite_int.h"
#include "store/store.h"

int store_audit_write(struct store *s, const struct store_audit *row, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_AUDIT_INSERT, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, row->app_id);
    sqlite3_bind_int64(st, 2, row->at);
    sqlite__bind_text(st, 3, row->actor);
    sqlite__bind_text(st, 4, row->action);
    sqlite__bind_text(st, 5, row->resource_type);
    sqlite__bind_text(st, 6, row->resource_id);
    sqlite__bind_text(st, 7, row->before);
    sqlite__bind_text(st, 8, row->after);
    sqlite__bind_text(st, 9, row->request_id);
    return sqlite__step_done(s, st, err, errlen);
}

/* The WHERE clause being built and the values its parameters take, in order. */
struct query {
    struct buf sql;
    int n;
    struct { const char *text; int64_t num; } params[12];
};

/* Appends " AND <cond> ?N" for a text value, or an integer one when text is NULL. */
static void where(struct query *q, const char *cond, const char *text, int64_t num)
{
    q->params[q->n].text = text;
    q->params[q->n].num = num;
    buf_printf(&q->sql, " AND %s ?%d", cond, ++q->n);
}

int store_audit_page(struct store *s, const struct store_audit_filter *f, int limit,
                     void (*fn)(const struct store_audit *, void *), void *arg, int *n,
                     char *err, size_t errlen)
{
    if (n)
        *n = 0;
    struct query q = { .sql = BUF_INIT };
    buf_puts(&q.sql, "SELECT id, app_id, at, actor, action, resource_type, resource_id, "
                     "before, after, request_id FROM audit WHERE 1");
    if (f->app_id)
        where(&q, "app_id =", f->app_id, 0);
    if (f->actor)
        where(&q, "actor =", f->actor, 0);
    if (f->action && f->action_prefix) {
        /* Every string starting with the prefix sorts at or after it and before the prefix
         * followed by the highest code point. The unary + keeps SQLite off the action index:
         * its range spans several actions, so its rows would need sorting by id on every
         * page; walking the app's rows by id and testing each stays linear over an export. */
        where(&q, "+action >=", f->action, 0);
        buf_printf(&q.sql, " AND +action < ?%d || char(1114111)", q.n);
    } else if (f->action) {
        where(&q, "action =", f->action, 0);
    }
    if (f->resource_type)
        where(&q, "resource_type =", f->resource_type, 0);
    if (f->resource_type && f->resource_id)
        where(&q, "resource_id =", f->resource_id, 0);
    if (f->from_ms)
        where(&q, "at >=", NULL, f->from_ms);
    if (f->to_ms)
        where(&q, "at <", NULL, f->to_ms);
    if (f->before_id)
        where(&q, "id <", NULL, f->before_id);
    buf_printf(&q.sql, " ORDER BY id DESC LIMIT %d", limit);

    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (sqlite3_prepare_v2(s->db, q.sql.data, (int)q.sql.len, &st, NULL) != SQLITE_OK) {
        sqlite__fail(s, err, errlen);
        goto out;
    }
    for (int i = 0; i < q.n; i++) {
        if (q.params[i].text)
            sqlite__bind_text(st, i + 1, q.params[i].text);
        else
            sqlite3_bind_int64(st, i + 1, q.params[i].num);
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_audit r = {
            .id = sqlite3_column_int64(st, 0),
            .app_id = (const char *)sqlite3_column_text(st, 1),
            .at = sqlite3_column_int64(st, 2),
            .actor = (const char *)sqlite3_column_text(st, 3),
            .action = (const char *)sqlite3_column_text(st, 4),
            .resource_type = (const char *)sqlite3_column_text(st, 5),
            .resource_id = (const char *)sqlite3_column_text(st, 6),
            .before = (const char *)sqlite3_column_text(st, 7),
            .after = (const char *)sqlite3_column_text(st, 8),
            .request_id = (const char *)sqlite3_column_text(st, 9),
        };
        fn(&r, arg);
        if (n)
            (*n)++;
    }
    if (rc != SQLITE_DONE) {
        sqlite__fail(s, err, errlen);
        goto out;
    }
    ret = 0;
out:
    sqlite3_finalize(st);
    buf_release(&q.sql);
    return ret;
}

int store_audit_prune(struct store *s, int64_t before_ms, int limit, int64_t *deleted,
                      char *err, size_t errlen)
{
    return sqlite__delete_older(s, ST_AUDIT_PRUNE, before_ms, limit, deleted, err, errlen);
}
