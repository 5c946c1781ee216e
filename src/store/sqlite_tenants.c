/* Apps, API keys and users in SQLite (see store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite_int.h"
#include "store/store.h"

static const char *const stmt_sql[ST__COUNT] = {
    [ST_APP_INSERT] = "INSERT INTO apps (id, name, settings, default_timezone, webhook_url, "
                      "webhook_secret, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
    [ST_APP_GET] = "SELECT id, name, settings, default_timezone, webhook_url, webhook_secret, "
                   "created_at, updated_at FROM apps WHERE id = ?",
    [ST_APP_UPDATE] = "UPDATE apps SET name = ?, settings = ?, default_timezone = ?, "
                      "webhook_url = ?, webhook_secret = ?, updated_at = ? WHERE id = ?",
    [ST_APP_ALL] = "SELECT id, name, settings, default_timezone, webhook_url, webhook_secret, "
                   "created_at, updated_at FROM apps ORDER BY id",
    [ST_KEY_INSERT] = "INSERT INTO api_keys (id, app_id, name, role, key_hash, created_at) "
                      "VALUES (?,?,?,?,?,?)",
    [ST_KEY_LIST] = "SELECT id, app_id, name, role, key_hash, created_at, last_used_at, "
                    "revoked_at FROM api_keys WHERE app_id = ? ORDER BY created_at, id",
    [ST_KEY_LIST_ACTIVE] = "SELECT id, app_id, name, role, key_hash, created_at, last_used_at, "
                           "revoked_at FROM api_keys WHERE app_id = ? AND revoked_at IS NULL "
                           "ORDER BY created_at, id",
    [ST_KEY_ALL_ACTIVE] = "SELECT id, app_id, name, role, key_hash, created_at, last_used_at, "
                          "revoked_at FROM api_keys WHERE revoked_at IS NULL",
    [ST_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = ? WHERE app_id = ? AND id = ? AND "
                      "revoked_at IS NULL",
    [ST_KEY_TOUCH] = "UPDATE api_keys SET last_used_at = max(COALESCE(last_used_at, 0), ?) "
                     "WHERE id = ?",
    [ST_USER_INSERT] = "INSERT INTO users (app_id, user_id, attributes, created_at, updated_at) "
                       "VALUES (?1, ?2, COALESCE(?3, '{}'), ?4, ?4) "
                       "ON CONFLICT (app_id, user_id) DO NOTHING "
                       "RETURNING attributes, created_at, updated_at",
    [ST_USER_UPDATE] = "UPDATE users SET attributes = COALESCE(?3, attributes), updated_at = ?4 "
                       "WHERE app_id = ?1 AND user_id = ?2 "
                       "RETURNING attributes, created_at, updated_at",
    [ST_USER_GET] = "SELECT app_id, user_id, attributes, created_at, updated_at FROM users "
                    "WHERE app_id = ? AND user_id = ?",
};

int sqlite__fail(struct store *s, char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(s->db));
    return -1;
}

sqlite3_stmt *sqlite__stmt(struct store *s, enum stmt_id id, char *err, size_t errlen)
{
    sqlite3_stmt *st = s->stmts[id];
    if (!st) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
            SQLITE_OK) {
            sqlite__fail(s, err, errlen);
            return NULL;
        }
        s->stmts[id] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? xstrdup((const char *)t) : NULL;
}

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
    a->id = col_text(st, 0);
    a->name = col_text(st, 1);
    a->settings = col_text(st, 2);
    a->default_timezone = col_text(st, 3);
    a->webhook_url = col_text(st, 4);
    a->webhook_secret = col_text(st, 5);
    a->created_at = sqlite3_column_int64(st, 6);
    a->updated_at = sqlite3_column_int64(st, 7);
}

static int insert_key(struct store *s, const struct store_key *k, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_KEY_INSERT, err, errlen);
    if (!st)
        return -1;
    bind_text(st, 1, k->id);
    bind_text(st, 2, k->app_id);
    bind_text(st, 3, k->name);
    bind_text(st, 4, store_role_name(k->role));
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
    bind_text(st, 1, a->id);
    bind_text(st, 2, a->name);
    bind_text(st, 3, a->settings ? a->settings : "{}");
    bind_text(st, 4, a->default_timezone ? a->default_timezone : "UTC");
    bind_text(st, 5, a->webhook_url);
    bind_text(st, 6, a->webhook_secret);
    sqlite3_bind_int64(st, 7, a->created_at);
    sqlite3_bind_int64(st, 8, a->updated_at);
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
    bind_text(st, 1, id);
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
    bind_text(st, 1, a->name);
    bind_text(st, 2, a->settings);
    bind_text(st, 3, a->default_timezone);
    bind_text(st, 4, a->webhook_url);
    bind_text(st, 5, a->webhook_secret);
    sqlite3_bind_int64(st, 6, a->updated_at);
    bind_text(st, 7, a->id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sqlite__fail(s, err, errlen);
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
        k.id = col_text(st, 0);
        k.app_id = col_text(st, 1);
        k.name = col_text(st, 2);
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
    bind_text(st, 1, app_id);
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
    bind_text(st, 2, app_id);
    bind_text(st, 3, key_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sqlite__fail(s, err, errlen);
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
        bind_text(st, 2, uses[i].key_id);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            sqlite__fail(s, err, errlen);
            goto rollback;
        }
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
    bind_text(st, 1, app_id);
    bind_text(st, 2, user_id);
    bind_text(st, 3, attributes);
    sqlite3_bind_int64(st, 4, now);
    int rc = sqlite3_step(st);
    int ret;
    if (rc == SQLITE_ROW) {
        out->app_id = xstrdup(app_id);
        out->user_id = xstrdup(user_id);
        out->attributes = col_text(st, 0);
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
     * row. One writer at a time (the store thread), so nothing slips in between. */
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
    bind_text(st, 1, app_id);
    bind_text(st, 2, user_id);
    int rc = sqlite3_step(st);
    int ret;
    if (rc == SQLITE_ROW) {
        out->app_id = col_text(st, 0);
        out->user_id = col_text(st, 1);
        out->attributes = col_text(st, 2);
        out->created_at = sqlite3_column_int64(st, 3);
        out->updated_at = sqlite3_column_int64(st, 4);
        ret = 0;
    } else {
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(st);
    return ret;
}
