/* Apps, API keys and users in SQLite (see store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite_int.h"
#include "store/store.h"

static const char *const role_names[] = { "ADMIN", "INGEST", "READONLY" };

const char *store_role_name(enum store_role r)
{
    return role_names[r];
}

int store_role_parse(const char *name, enum store_role *out)
{
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *out = (enum store_role)i;
            return 0;
        }
    }
    return -1;
}

void store_app_release(struct store_app *a)
{
    free(a->id);
    free(a->name);
    free(a->settings);
    free(a->default_timezone);
    free(a->webhook_url);
    free(a->webhook_secret);
    free(a->webhook_events);
    memset(a, 0, sizeof(*a));
}

void store_key_release(struct store_key *k)
{
    free(k->id);
    free(k->app_id);
    free(k->name);
    memset(k, 0, sizeof(*k));
}

void store_user_release(struct store_user *u)
{
    free(u->app_id);
    free(u->user_id);
    free(u->attributes);
    memset(u, 0, sizeof(*u));
}

/* ---- apps -------------------------------------------------------------------------------- */

static void read_app(sqlite3_stmt *st, struct store_app *a)
{
    a->id = sqlite__col_text(st, 0);
    a->name = sqlite__col_text(st, 1);
    a->settings = sqlite__col_text(st, 2);
    a->default_timezone = sqlite__col_text(st, 3);
    a->webhook_url = sqlite__col_text(st, 4);
    a->webhook_secret = sqlite__col_text(st, 5);
    a->created_at = sqlite3_column_int64(st, 6);
    a->updated_at = sqlite3_column_int64(st, 7);
    a->webhook_events = sqlite__col_text(st, 8);
}

static int insert_key(struct store *s, const struct store_key *k, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_KEY_INSERT, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, k->id);
    sqlite__bind_text(st, 2, k->app_id);
    sqlite__bind_text(st, 3, k->name);
    sqlite__bind_text(st, 4, store_role_name(k->role));
    sqlite3_bind_blob(st, 5, k->hash, sizeof(k->hash), SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, k->created_at);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return (rc & 0xff) == SQLITE_CONSTRAINT ? STORE_CONFLICT : sqlite__fail(s, err, errlen);
    return 0;
}

int store_app_create(struct store *s, const struct store_app *a, const struct store_key *key,
                     char *err, size_t errlen)
{
    if (sqlite__exec(s, "SAVEPOINT app_create", err, errlen) < 0)
        return -1;
    sqlite3_stmt *st = sqlite__stmt(s, ST_APP_INSERT, err, errlen);
    int ret = -1;
    if (!st)
        goto rollback;
    sqlite__bind_text(st, 1, a->id);
    sqlite__bind_text(st, 2, a->name);
    sqlite__bind_text(st, 3, a->settings ? a->settings : "{}");
    sqlite__bind_text(st, 4, a->default_timezone ? a->default_timezone : "UTC");
    sqlite__bind_text(st, 5, a->webhook_url);
    sqlite__bind_text(st, 6, a->webhook_secret);
    sqlite3_bind_int64(st, 7, a->created_at);
    sqlite3_bind_int64(st, 8, a->updated_at);
    sqlite__bind_text(st, 9, a->webhook_events);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        ret = (rc & 0xff) == SQLITE_CONSTRAINT ? STORE_CONFLICT : sqlite__fail(s, err, errlen);
        goto rollback;
    }
    if (key && (ret = insert_key(s, key, err, errlen)) < 0)
        goto rollback;
    ret = -1; /* a failed RELEASE (the COMMIT outside a batch) is a failure */
    if (sqlite__exec(s, "RELEASE app_create", err, errlen) < 0)
        goto rollback;
    return 0;
rollback:;
    char ignore[64];
    sqlite__exec(s, "ROLLBACK TO app_create; RELEASE app_create", ignore, sizeof(ignore));
    return ret;
}

int store_app_get(struct store *s, const char *id, struct store_app *out, char *err,
                  size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_APP_GET, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    int ret;
    if (rc == SQLITE_ROW) {
        read_app(st, out);
        ret = 0;
    } else {
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(st);
    return ret;
}

int store_app_update(struct store *s, const struct store_app *a, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_APP_UPDATE, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, a->name);
    sqlite__bind_text(st, 2, a->settings);
    sqlite__bind_text(st, 3, a->default_timezone);
    sqlite__bind_text(st, 4, a->webhook_url);
    sqlite__bind_text(st, 5, a->webhook_secret);
    sqlite3_bind_int64(st, 6, a->updated_at);
    sqlite__bind_text(st, 7, a->webhook_events);
    sqlite__bind_text(st, 8, a->id);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    return sqlite3_changes(s->db) == 1 ? 0 : STORE_NOT_FOUND;
}

int store_apps_each(struct store *s, void (*fn)(const struct store_app *, void *), void *arg,
                    char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_APP_ALL, err, errlen);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_app a;
        read_app(st, &a);
        fn(&a, arg);
        store_app_release(&a);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
}

/* ---- keys -------------------------------------------------------------------------------- */

int store_key_create(struct store *s, const struct store_key *key, char *err, size_t errlen)
{
    return insert_key(s, key, err, errlen);
}

static int each_key(struct store *s, sqlite3_stmt *st, void (*fn)(const struct store_key *, void *),
                    void *arg, char *err, size_t errlen)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_key k;
        memset(&k, 0, sizeof(k));
        k.id = sqlite__col_text(st, 0);
        k.app_id = sqlite__col_text(st, 1);
        k.name = sqlite__col_text(st, 2);
        const char *role = (const char *)sqlite3_column_text(st, 3);
        if (!role || store_role_parse(role, &k.role) < 0)
            k.role = STORE_ROLE_READONLY; /* the CHECK constraint makes this unreachable */
        const void *h = sqlite3_column_blob(st, 4);
        if (h && sqlite3_column_bytes(st, 4) == (int)sizeof(k.hash))
            memcpy(k.hash, h, sizeof(k.hash));
        k.created_at = sqlite3_column_int64(st, 5);
        k.last_used_at = sqlite3_column_int64(st, 6);
        k.revoked_at = sqlite3_column_int64(st, 7);
        fn(&k, arg);
        store_key_release(&k);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
}

int store_keys_each(struct store *s, const char *app_id, bool with_revoked,
                    void (*fn)(const struct store_key *, void *), void *arg, char *err,
                    size_t errlen)
{
    sqlite3_stmt *st =
        sqlite__stmt(s, with_revoked ? ST_KEY_LIST : ST_KEY_LIST_ACTIVE, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    return each_key(s, st, fn, arg, err, errlen);
}

int store_keys_each_active(struct store *s, void (*fn)(const struct store_key *, void *),
                           void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_KEY_ALL_ACTIVE, err, errlen);
    if (!st)
        return -1;
    return each_key(s, st, fn, arg, err, errlen);
}

int store_key_revoke(struct store *s, const char *app_id, const char *key_id, int64_t when,
                     char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_KEY_REVOKE, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, when);
    sqlite__bind_text(st, 2, app_id);
    sqlite__bind_text(st, 3, key_id);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    return sqlite3_changes(s->db) == 1 ? 0 : STORE_NOT_FOUND;
}

int store_keys_touch(struct store *s, const struct store_key_use *uses, size_t n, char *err,
                     size_t errlen)
{
    if (n == 0)
        return 0;
    if (sqlite__exec(s, "SAVEPOINT keys_touch", err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = sqlite__stmt(s, ST_KEY_TOUCH, err, errlen);
        if (!st)
            goto rollback;
        sqlite3_bind_int64(st, 1, uses[i].last_used_at);
        sqlite__bind_text(st, 2, uses[i].key_id);
        if (sqlite__step_done(s, st, err, errlen) < 0)
            goto rollback;
    }
    if (sqlite__exec(s, "RELEASE keys_touch", err, errlen) == 0)
        return 0;
rollback:;
    char ignore[64];
    sqlite__exec(s, "ROLLBACK TO keys_touch; RELEASE keys_touch", ignore, sizeof(ignore));
    return -1;
}

/* ---- users ------------------------------------------------------------------------------- */

/* Runs the user insert or update; 1 when it returned the row, 0 when it touched nothing. */
static int user_write(struct store *s, enum stmt_id id, const char *app_id, const char *user_id,
                      const char *attributes, int64_t now, struct store_user *out, char *err,
                      size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, id, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, user_id);
    sqlite__bind_text(st, 3, attributes);
    sqlite3_bind_int64(st, 4, now);
    int rc = sqlite3_step(st);
    int ret;
    if (rc == SQLITE_ROW) {
        out->app_id = xstrdup(app_id);
        out->user_id = xstrdup(user_id);
        out->attributes = sqlite__col_text(st, 0);
        out->created_at = sqlite3_column_int64(st, 1);
        out->updated_at = sqlite3_column_int64(st, 2);
        ret = 1;
    } else {
        ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(st);
    return ret;
}

int store_user_upsert(struct store *s, const char *app_id, const char *user_id,
                      const char *attributes, int64_t now, bool *created, struct store_user *out,
                      char *err, size_t errlen)
{
    /* Insert first; when the user exists the insert does nothing and the update returns the
     * row. One writer at a time (the engine thread), so nothing slips in between. */
    int rc = user_write(s, ST_USER_INSERT, app_id, user_id, attributes, now, out, err, errlen);
    if (rc < 0)
        return -1;
    *created = rc == 1;
    if (rc == 0) {
        rc = user_write(s, ST_USER_UPDATE, app_id, user_id, attributes, now, out, err, errlen);
        if (rc <= 0) {
            if (rc == 0 && err && errlen)
                snprintf(err, errlen, "user vanished between insert and update");
            return -1;
        }
    }
    return 0;
}

int store_user_get(struct store *s, const char *app_id, const char *user_id,
                   struct store_user *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_USER_GET, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, user_id);
    int rc = sqlite3_step(st);
    int ret;
    if (rc == SQLITE_ROW) {
        out->app_id = sqlite__col_text(st, 0);
        out->user_id = sqlite__col_text(st, 1);
        out->attributes = sqlite__col_text(st, 2);
        out->created_at = sqlite3_column_int64(st, 3);
        out->updated_at = sqlite3_column_int64(st, 4);
        ret = 0;
    } else {
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(st);
    return ret;
}
