/* Unit tests for src/store/sqlite_tenants.c: apps, API keys and users in a real SQLite file in a
 * temporary data directory. What is written here is what survives a restart. */
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "store/sqlite_int.h" /* the connection, to make a COMMIT fail */
#include "store/store.h"

struct fixture {
    struct unit_store u;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (unit_store_make(&f->u, "tenants") < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unit_store_close(&f->u);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------- */

static struct store_app app_row(const char *id, const char *name)
{
    struct store_app a;
    memset(&a, 0, sizeof(a));
    a.id = (char *)id;
    a.name = (char *)name;
    a.settings = (char *)"{}";
    a.default_timezone = (char *)"UTC";
    a.created_at = a.updated_at = 1000;
    return a;
}

static struct store_key key_row(const char *id, const char *app_id, enum store_role role,
                                unsigned char fill, int64_t created)
{
    struct store_key k;
    memset(&k, 0, sizeof(k));
    k.id = (char *)id;
    k.app_id = (char *)app_id;
    k.name = (char *)"key";
    k.role = role;
    memset(k.hash, fill, sizeof(k.hash));
    k.created_at = created;
    return k;
}

static char err[256];

static void create_app(struct store *s, const char *id, const char *key_id, unsigned char fill)
{
    struct store_app a = app_row(id, "Some app");
    struct store_key k = key_row(key_id, id, STORE_ROLE_ADMIN, fill, 1000);
    int rc = store_app_create(s, &a, &k, err, sizeof(err));
    if (rc != 0)
        fail_msg("store_app_create(%s): %d %s", id, rc, err);
}

/* Collects keys listed by store_keys_each / store_keys_each_active. */
#define MAX_KEYS 16
struct key_list {
    size_t n;
    char id[MAX_KEYS][40];
    char app_id[MAX_KEYS][80];
    char name[MAX_KEYS][40];
    enum store_role role[MAX_KEYS];
    unsigned char hash[MAX_KEYS][32];
    int64_t created_at[MAX_KEYS], last_used_at[MAX_KEYS], revoked_at[MAX_KEYS];
};

static void collect_key(const struct store_key *k, void *arg)
{
    struct key_list *l = arg;
    if (l->n == MAX_KEYS)
        return;
    snprintf(l->id[l->n], sizeof(l->id[0]), "%s", k->id);
    snprintf(l->app_id[l->n], sizeof(l->app_id[0]), "%s", k->app_id);
    snprintf(l->name[l->n], sizeof(l->name[0]), "%s", k->name);
    l->role[l->n] = k->role;
    memcpy(l->hash[l->n], k->hash, 32);
    l->created_at[l->n] = k->created_at;
    l->last_used_at[l->n] = k->last_used_at;
    l->revoked_at[l->n] = k->revoked_at;
    l->n++;
}

static struct key_list list_keys(struct store *s, const char *app_id, bool with_revoked)
{
    struct key_list l;
    memset(&l, 0, sizeof(l));
    int rc = store_keys_each(s, app_id, with_revoked, collect_key, &l, err, sizeof(err));
    if (rc != 0)
        fail_msg("store_keys_each: %d %s", rc, err);
    return l;
}

static struct key_list list_active(struct store *s)
{
    struct key_list l;
    memset(&l, 0, sizeof(l));
    int rc = store_keys_each_active(s, collect_key, &l, err, sizeof(err));
    if (rc != 0)
        fail_msg("store_keys_each_active: %d %s", rc, err);
    return l;
}

static bool listed(const struct key_list *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->id[i], id) == 0)
            return true;
    }
    return false;
}

#define K1 "11111111-1111-4111-8111-111111111111"
#define K2 "22222222-2222-4222-8222-222222222222"
#define K3 "33333333-3333-4333-8333-333333333333"
#define K4 "44444444-4444-4444-8444-444444444444"

/* ---- apps ---------------------------------------------------------------------------------- */

static void app_create_with_key_then_get(void **state)
{
    struct fixture *f = *state;
    struct store_app a = app_row("shop", "The Shop");
    a.settings = (char *)"{\"rateLimit\":{\"points\":5,\"windowSeconds\":60}}";
    a.default_timezone = (char *)"Europe/Paris";
    a.webhook_url = (char *)"https://example.com/hook";
    a.webhook_secret = (char *)"s3cret-value";
    a.created_at = 1700000000000;
    a.updated_at = 1700000000001;
    struct store_key k = key_row(K1, "shop", STORE_ROLE_ADMIN, 0xab, 1700000000000);
    k.name = (char *)"bootstrap";
    assert_int_equal(store_app_create(f->u.s, &a, &k, err, sizeof(err)), 0);

    struct store_app got;
    assert_int_equal(store_app_get(f->u.s, "shop", &got, err, sizeof(err)), 0);
    assert_string_equal(got.id, "shop");
    assert_string_equal(got.name, "The Shop");
    assert_string_equal(got.settings, a.settings);
    assert_string_equal(got.default_timezone, "Europe/Paris");
    assert_string_equal(got.webhook_url, "https://example.com/hook");
    assert_string_equal(got.webhook_secret, "s3cret-value");
    assert_int_equal(got.created_at, 1700000000000);
    assert_int_equal(got.updated_at, 1700000000001);
    store_app_release(&got);
    assert_null(got.id); /* release clears the row */

    struct key_list l = list_keys(f->u.s, "shop", false);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.id[0], K1);
    assert_string_equal(l.app_id[0], "shop");
    assert_string_equal(l.name[0], "bootstrap");
    assert_int_equal(l.role[0], STORE_ROLE_ADMIN);
    assert_memory_equal(l.hash[0], k.hash, 32);
    assert_int_equal(l.created_at[0], 1700000000000);
    assert_int_equal(l.last_used_at[0], 0);
    assert_int_equal(l.revoked_at[0], 0);
}

/* Optional columns: no webhook is NULL, not "". */
static void app_without_webhook_reads_back_null(void **state)
{
    struct fixture *f = *state;
    create_app(f->u.s, "plain", K1, 1);
    struct store_app got;
    assert_int_equal(store_app_get(f->u.s, "plain", &got, err, sizeof(err)), 0);
    assert_null(got.webhook_url);
    assert_null(got.webhook_secret);
    assert_string_equal(got.settings, "{}");
    assert_string_equal(got.default_timezone, "UTC");
    store_app_release(&got);
}

static void app_duplicate_id_conflicts_and_writes_nothing(void **state)
{
    struct fixture *f = *state;
    create_app(f->u.s, "dup", K1, 1);
    struct store_app again = app_row("dup", "Second attempt");
    struct store_key k2 = key_row(K2, "dup", STORE_ROLE_ADMIN, 2, 2000);
    assert_int_equal(store_app_create(f->u.s, &again, &k2, err, sizeof(err)), STORE_CONFLICT);

    struct store_app got;
    assert_int_equal(store_app_get(f->u.s, "dup", &got, err, sizeof(err)), 0);
    assert_string_equal(got.name, "Some app"); /* the first one, untouched */
    store_app_release(&got);
    struct key_list l = list_keys(f->u.s, "dup", true);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.id[0], K1);
    assert_false(listed(&l, K2)); /* the second bootstrap key was not kept */
    l = list_active(f->u.s);
    assert_false(listed(&l, K2));

    /* The store is still usable after the rolled-back transaction. */
    create_app(f->u.s, "after", K3, 3);
    assert_int_equal(store_app_get(f->u.s, "after", &got, err, sizeof(err)), 0);
    store_app_release(&got);
}

/* Inside a batch, a failing app create rolls back only itself; the rest commits together. */
static void batch_keeps_others_when_one_create_fails(void **state)
{
    struct fixture *f = *state;
    create_app(f->u.s, "dup", K1, 1);
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    create_app(f->u.s, "one", K2, 2);
    struct store_app again = app_row("dup", "Second attempt");
    struct store_key k = key_row(K3, "dup", STORE_ROLE_ADMIN, 3, 2000);
    assert_int_equal(store_app_create(f->u.s, &again, &k, err, sizeof(err)), STORE_CONFLICT);
    create_app(f->u.s, "two", K4, 4);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);

    struct store_app got;
    assert_int_equal(store_app_get(f->u.s, "one", &got, err, sizeof(err)), 0);
    store_app_release(&got);
    assert_int_equal(store_app_get(f->u.s, "two", &got, err, sizeof(err)), 0);
    store_app_release(&got);
    struct key_list l = list_active(f->u.s);
    assert_true(listed(&l, K2));
    assert_false(listed(&l, K3));
    assert_true(listed(&l, K4));
}

/* A batch rolled back leaves nothing of what it did. */
static void batch_rollback_undoes_everything(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    create_app(f->u.s, "gone", K1, 1);
    struct store_user u;
    bool created;
    assert_int_equal(store_user_upsert(f->u.s, "gone", "u1", NULL, 1000, &created, &u, err,
                                       sizeof(err)),
                     0);
    store_user_release(&u);
    store_batch_rollback(f->u.s);
    struct store_app got;
    assert_int_equal(store_app_get(f->u.s, "gone", &got, err, sizeof(err)), STORE_NOT_FOUND);
    assert_int_equal(store_user_get(f->u.s, "gone", "u1", &u, err, sizeof(err)), STORE_NOT_FOUND);
    /* and the store works afterwards, batched or not */
    create_app(f->u.s, "after", K2, 2);
    assert_int_equal(store_app_get(f->u.s, "after", &got, err, sizeof(err)), 0);
    store_app_release(&got);
}

/* If the bootstrap key cannot be written, the app is not created either. */
static void app_with_clashing_key_is_not_created(void **state)
{
    struct fixture *f = *state;
    create_app(f->u.s, "first", K1, 7);
    struct store_app b = app_row("second", "Second");
    struct store_key same_hash = key_row(K2, "second", STORE_ROLE_ADMIN, 7, 2000);
    assert_true(store_app_create(f->u.s, &b, &same_hash, err, sizeof(err)) < 0);
    struct store_app got;
    assert_int_equal(store_app_get(f->u.s, "second", &got, err, sizeof(err)), STORE_NOT_FOUND);
    struct store_key same_id = key_row(K1, "second", STORE_ROLE_ADMIN, 8, 2000);
    assert_true(store_app_create(f->u.s, &b, &same_id, err, sizeof(err)) < 0);
    assert_int_equal(store_app_get(f->u.s, "second", &got, err, sizeof(err)), STORE_NOT_FOUND);
    assert_int_equal(list_keys(f->u.s, "second", true).n, 0);
}

/* A COMMIT that fails (disk full, I/O error; here a foreign key checked only at COMMIT) must
 * be reported: otherwise the API would hand out a bootstrap key that is not stored. */
static void app_create_reports_a_failed_commit(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(sqlite3_exec(f->u.s->db, "PRAGMA defer_foreign_keys=ON", NULL, NULL, NULL),
                     SQLITE_OK);
    struct store_app a = app_row("orphan", "Orphan");
    struct store_key k = key_row(K1, "no-such-app", STORE_ROLE_ADMIN, 1, 1000);
    err[0] = '\0';
    int rc = store_app_create(f->u.s, &a, &k, err, sizeof(err));
    assert_true(rc < 0);
    assert_true(err[0] != '\0');
    struct store_app got;
    assert_int_equal(store_app_get(f->u.s, "orphan", &got, err, sizeof(err)), STORE_NOT_FOUND);
    assert_int_equal(list_active(f->u.s).n, 0);
    /* The connection is usable afterwards (no transaction left open). */
    create_app(f->u.s, "fine", K2, 2);
}

static void app_get_and_update_missing(void **state)
{
    struct fixture *f = *state;
    struct store_app got;
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_app_get(f->u.s, "ghost", &got, err, sizeof(err)), STORE_NOT_FOUND);
    assert_null(got.id); /* untouched */
    struct store_app a = app_row("ghost", "Ghost");
    assert_int_equal(store_app_update(f->u.s, &a, err, sizeof(err)), STORE_NOT_FOUND);
    assert_int_equal(store_app_get(f->u.s, "ghost", &got, err, sizeof(err)), STORE_NOT_FOUND);
}

static void app_update_replaces_mutable_fields(void **state)
{
    struct fixture *f = *state;
    struct store_app a = app_row("upd", "Before");
    a.webhook_url = (char *)"http://old.example.com/";
    a.webhook_secret = (char *)"old-secret";
    struct store_key k = key_row(K1, "upd", STORE_ROLE_ADMIN, 1, 1000);
    assert_int_equal(store_app_create(f->u.s, &a, &k, err, sizeof(err)), 0);

    struct store_app b = app_row("upd", "After");
    b.settings = (char *)"{\"x\":1}";
    b.default_timezone = (char *)"Asia/Tokyo";
    b.webhook_url = NULL;
    b.webhook_secret = NULL;
    b.created_at = 99; /* not a mutable field */
    b.updated_at = 5000;
    assert_int_equal(store_app_update(f->u.s, &b, err, sizeof(err)), 0);
    struct store_app got;
    assert_int_equal(store_app_get(f->u.s, "upd", &got, err, sizeof(err)), 0);
    assert_string_equal(got.name, "After");
    assert_string_equal(got.settings, "{\"x\":1}");
    assert_string_equal(got.default_timezone, "Asia/Tokyo");
    assert_null(got.webhook_url);
    assert_null(got.webhook_secret);
    assert_int_equal(got.created_at, 1000);
    assert_int_equal(got.updated_at, 5000);
    store_app_release(&got);

    b.webhook_url = (char *)"https://new.example.com/";
    b.webhook_secret = (char *)"new-secret";
    b.updated_at = 6000;
    assert_int_equal(store_app_update(f->u.s, &b, err, sizeof(err)), 0);
    assert_int_equal(store_app_get(f->u.s, "upd", &got, err, sizeof(err)), 0);
    assert_string_equal(got.webhook_url, "https://new.example.com/");
    assert_string_equal(got.webhook_secret, "new-secret");
    assert_int_equal(got.updated_at, 6000);
    store_app_release(&got);
}

struct app_list {
    size_t n;
    char id[8][80];
    char name[8][80];
};

static void collect_app(const struct store_app *a, void *arg)
{
    struct app_list *l = arg;
    if (l->n < 8) {
        snprintf(l->id[l->n], sizeof(l->id[0]), "%s", a->id);
        snprintf(l->name[l->n], sizeof(l->name[0]), "%s", a->name);
        l->n++;
    }
}

static void apps_each_lists_every_app(void **state)
{
    struct fixture *f = *state;
    struct app_list l;
    memset(&l, 0, sizeof(l));
    assert_int_equal(store_apps_each(f->u.s, collect_app, &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, 0);
    create_app(f->u.s, "charlie", K1, 1);
    create_app(f->u.s, "alpha", K2, 2);
    create_app(f->u.s, "bravo", K3, 3);
    assert_int_equal(store_apps_each(f->u.s, collect_app, &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.id[0], "alpha");
    assert_string_equal(l.id[1], "bravo");
    assert_string_equal(l.id[2], "charlie");
    assert_string_equal(l.name[0], "Some app");
}

/* ---- keys ---------------------------------------------------------------------------------- */

static void keys_create_list_and_revoke(void **state)
{
    struct fixture *f = *state;
    create_app(f->u.s, "a", K1, 1); /* K1 ADMIN created at 1000 */
    create_app(f->u.s, "b", K4, 4);
    struct store_key k2 = key_row(K2, "a", STORE_ROLE_INGEST, 2, 2000);
    k2.name = (char *)"ingest key";
    struct store_key k3 = key_row(K3, "a", STORE_ROLE_READONLY, 3, 3000);
    assert_int_equal(store_key_create(f->u.s, &k3, err, sizeof(err)), 0);
    assert_int_equal(store_key_create(f->u.s, &k2, err, sizeof(err)), 0);

    /* Oldest first, whatever the insertion order; only this app's keys. */
    struct key_list l = list_keys(f->u.s, "a", false);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.id[0], K1);
    assert_string_equal(l.id[1], K2);
    assert_string_equal(l.id[2], K3);
    assert_string_equal(l.name[1], "ingest key");
    assert_int_equal(l.role[1], STORE_ROLE_INGEST);
    assert_int_equal(l.role[2], STORE_ROLE_READONLY);
    assert_memory_equal(l.hash[1], k2.hash, 32);

    /* Another app cannot revoke it, and it stays active. */
    assert_int_equal(store_key_revoke(f->u.s, "b", K2, 4000, err, sizeof(err)), STORE_NOT_FOUND);
    l = list_keys(f->u.s, "a", false);
    assert_true(listed(&l, K2));

    assert_int_equal(store_key_revoke(f->u.s, "a", K2, 5000, err, sizeof(err)), 0);
    /* Twice: already revoked counts as not found, and the first time stands. */
    assert_int_equal(store_key_revoke(f->u.s, "a", K2, 6000, err, sizeof(err)), STORE_NOT_FOUND);
    assert_int_equal(store_key_revoke(f->u.s, "a", "no-such-key", 6000, err, sizeof(err)),
                     STORE_NOT_FOUND);

    l = list_keys(f->u.s, "a", false);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.id[0], K1);
    assert_string_equal(l.id[1], K3);

    l = list_keys(f->u.s, "a", true);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.id[1], K2);
    assert_int_equal(l.revoked_at[1], 5000);
    assert_int_equal(l.revoked_at[0], 0);

    l = list_active(f->u.s);
    assert_int_equal(l.n, 3);
    assert_true(listed(&l, K1));
    assert_true(listed(&l, K3));
    assert_true(listed(&l, K4));
    assert_false(listed(&l, K2));

    l = list_keys(f->u.s, "b", true);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.id[0], K4);
}

static void key_with_duplicate_hash_is_refused(void **state)
{
    struct fixture *f = *state;
    create_app(f->u.s, "a", K1, 9);
    struct store_key k = key_row(K2, "a", STORE_ROLE_ADMIN, 9, 2000);
    assert_true(store_key_create(f->u.s, &k, err, sizeof(err)) < 0);
    struct store_key same_id = key_row(K1, "a", STORE_ROLE_ADMIN, 10, 2000);
    assert_true(store_key_create(f->u.s, &same_id, err, sizeof(err)) < 0);
    assert_int_equal(list_keys(f->u.s, "a", true).n, 1);
}

static void keys_touch_keeps_the_latest(void **state)
{
    struct fixture *f = *state;
    create_app(f->u.s, "a", K1, 1);
    struct store_key k2 = key_row(K2, "a", STORE_ROLE_INGEST, 2, 2000);
    assert_int_equal(store_key_create(f->u.s, &k2, err, sizeof(err)), 0);

    struct store_key_use uses[] = {{K1, 5000}, {K2, 7000}};
    assert_int_equal(store_keys_touch(f->u.s, uses, 2, err, sizeof(err)), 0);
    struct key_list l = list_keys(f->u.s, "a", false);
    assert_int_equal(l.last_used_at[0], 5000);
    assert_int_equal(l.last_used_at[1], 7000);

    /* An older time (a late flush) does not move it back; a newer one does. */
    struct store_key_use older[] = {{K1, 3000}, {K2, 8000}};
    assert_int_equal(store_keys_touch(f->u.s, older, 2, err, sizeof(err)), 0);
    l = list_keys(f->u.s, "a", false);
    assert_int_equal(l.last_used_at[0], 5000);
    assert_int_equal(l.last_used_at[1], 8000);

    /* A key deleted meanwhile (unknown id) does not fail the batch. */
    struct store_key_use mixed[] = {{"gone", 9000}, {K1, 9500}};
    assert_int_equal(store_keys_touch(f->u.s, mixed, 2, err, sizeof(err)), 0);
    l = list_keys(f->u.s, "a", false);
    assert_int_equal(l.last_used_at[0], 9500);
    assert_int_equal(store_keys_touch(f->u.s, NULL, 0, err, sizeof(err)), 0);
}

/* ---- users --------------------------------------------------------------------------------- */

static void user_upsert_created_then_updated(void **state)
{
    struct fixture *f = *state;
    create_app(f->u.s, "a", K1, 1);
    struct store_user u;
    bool created = false;
    assert_int_equal(
        store_user_upsert(f->u.s, "a", "u1", "{\"level\":1}", 1000, &created, &u, err, sizeof(err)),
        0);
    assert_true(created);
    assert_string_equal(u.app_id, "a");
    assert_string_equal(u.user_id, "u1");
    assert_string_equal(u.attributes, "{\"level\":1}");
    assert_int_equal(u.created_at, 1000);
    assert_int_equal(u.updated_at, 1000);
    store_user_release(&u);

    /* New attributes replace the old ones whole. */
    assert_int_equal(store_user_upsert(f->u.s, "a", "u1", "{\"plan\":\"pro\"}", 2000, &created, &u,
                                       err, sizeof(err)),
                     0);
    assert_false(created);
    assert_string_equal(u.attributes, "{\"plan\":\"pro\"}");
    assert_int_equal(u.created_at, 1000);
    assert_int_equal(u.updated_at, 2000);
    store_user_release(&u);

    /* NULL attributes keep them. */
    assert_int_equal(store_user_upsert(f->u.s, "a", "u1", NULL, 3000, &created, &u, err, sizeof(err)),
                     0);
    assert_false(created);
    assert_string_equal(u.attributes, "{\"plan\":\"pro\"}");
    assert_int_equal(u.updated_at, 3000);
    store_user_release(&u);

    assert_int_equal(store_user_get(f->u.s, "a", "u1", &u, err, sizeof(err)), 0);
    assert_string_equal(u.attributes, "{\"plan\":\"pro\"}");
    assert_int_equal(u.created_at, 1000);
    assert_int_equal(u.updated_at, 3000);
    store_user_release(&u);

    /* A new user without attributes gets {}. */
    assert_int_equal(store_user_upsert(f->u.s, "a", "u2", NULL, 4000, &created, &u, err, sizeof(err)),
                     0);
    assert_true(created);
    assert_string_equal(u.attributes, "{}");
    store_user_release(&u);
}

/* An update in the very millisecond of the insert is still an update. */
static void user_update_in_same_millisecond_is_not_created(void **state)
{
    struct fixture *f = *state;
    create_app(f->u.s, "a", K1, 1);
    struct store_user u;
    bool created = false;
    assert_int_equal(store_user_upsert(f->u.s, "a", "u1", NULL, 5000, &created, &u, err, sizeof(err)),
                     0);
    assert_true(created);
    store_user_release(&u);
    assert_int_equal(store_user_upsert(f->u.s, "a", "u1", "{\"x\":1}", 5000, &created, &u, err,
                                       sizeof(err)),
                     0);
    assert_false(created);
    assert_string_equal(u.attributes, "{\"x\":1}");
    store_user_release(&u);
}

static void user_get_is_scoped_by_app(void **state)
{
    struct fixture *f = *state;
    create_app(f->u.s, "a", K1, 1);
    create_app(f->u.s, "b", K2, 2);
    struct store_user u;
    bool created;
    assert_int_equal(store_user_upsert(f->u.s, "a", "same", "{\"from\":\"a\"}", 1000, &created, &u,
                                       err, sizeof(err)),
                     0);
    store_user_release(&u);
    assert_int_equal(store_user_upsert(f->u.s, "b", "same", "{\"from\":\"b\"}", 1100, &created, &u,
                                       err, sizeof(err)),
                     0);
    assert_true(created); /* a different user from a's */
    store_user_release(&u);
    assert_int_equal(
        store_user_upsert(f->u.s, "a", "only-a", NULL, 1200, &created, &u, err, sizeof(err)), 0);
    store_user_release(&u);

    assert_int_equal(store_user_get(f->u.s, "a", "same", &u, err, sizeof(err)), 0);
    assert_string_equal(u.app_id, "a");
    assert_string_equal(u.attributes, "{\"from\":\"a\"}");
    assert_int_equal(u.created_at, 1000);
    store_user_release(&u);
    assert_int_equal(store_user_get(f->u.s, "b", "same", &u, err, sizeof(err)), 0);
    assert_string_equal(u.app_id, "b");
    assert_string_equal(u.attributes, "{\"from\":\"b\"}");
    assert_int_equal(u.created_at, 1100);
    store_user_release(&u);

    memset(&u, 0, sizeof(u));
    assert_int_equal(store_user_get(f->u.s, "b", "only-a", &u, err, sizeof(err)), STORE_NOT_FOUND);
    assert_int_equal(store_user_get(f->u.s, "a", "nobody", &u, err, sizeof(err)), STORE_NOT_FOUND);
    assert_int_equal(store_user_get(f->u.s, "zzz", "same", &u, err, sizeof(err)), STORE_NOT_FOUND);
    assert_null(u.user_id);
}

/* Everything written is in the file: a second store on the same directory sees it. */
static void rows_survive_reopen(void **state)
{
    struct fixture *f = *state;
    create_app(f->u.s, "keep", K1, 1);
    struct store_key k2 = key_row(K2, "keep", STORE_ROLE_READONLY, 2, 2000);
    assert_int_equal(store_key_create(f->u.s, &k2, err, sizeof(err)), 0);
    assert_int_equal(store_key_revoke(f->u.s, "keep", K2, 2500, err, sizeof(err)), 0);
    struct store_user u;
    bool created;
    assert_int_equal(
        store_user_upsert(f->u.s, "keep", "u", "{\"k\":true}", 3000, &created, &u, err, sizeof(err)),
        0);
    store_user_release(&u);
    store_close(f->u.s);

    struct store_options opt = { f->u.data_dir, NULL, 0 };
    f->u.s = store_open(&opt, err, sizeof(err));
    assert_non_null(f->u.s);
    assert_int_equal(store_migrate(f->u.s, NULL, err, sizeof(err)), 0);
    struct store_app a;
    assert_int_equal(store_app_get(f->u.s, "keep", &a, err, sizeof(err)), 0);
    store_app_release(&a);
    struct key_list l = list_keys(f->u.s, "keep", true);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.revoked_at[1], 2500);
    l = list_active(f->u.s);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.id[0], K1);
    assert_int_equal(store_user_get(f->u.s, "keep", "u", &u, err, sizeof(err)), 0);
    assert_string_equal(u.attributes, "{\"k\":true}");
    store_user_release(&u);
}

static void role_names_round_trip(void **state)
{
    (void)state;
    enum store_role r;
    assert_string_equal(store_role_name(STORE_ROLE_ADMIN), "ADMIN");
    assert_string_equal(store_role_name(STORE_ROLE_INGEST), "INGEST");
    assert_string_equal(store_role_name(STORE_ROLE_READONLY), "READONLY");
    assert_int_equal(store_role_parse("INGEST", &r), 0);
    assert_int_equal(r, STORE_ROLE_INGEST);
    assert_int_equal(store_role_parse("READONLY", &r), 0);
    assert_int_equal(r, STORE_ROLE_READONLY);
    assert_int_equal(store_role_parse("admin", &r), -1);
    assert_int_equal(store_role_parse("", &r), -1);
    assert_int_equal(store_role_parse("ROOT", &r), -1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(app_create_with_key_then_get, setup, teardown),
    cmocka_unit_test_setup_teardown(app_without_webhook_reads_back_null, setup, teardown),
    cmocka_unit_test_setup_teardown(app_duplicate_id_conflicts_and_writes_nothing, setup, teardown),
    cmocka_unit_test_setup_teardown(batch_keeps_others_when_one_create_fails, setup, teardown),
    cmocka_unit_test_setup_teardown(batch_rollback_undoes_everything, setup, teardown),
    cmocka_unit_test_setup_teardown(app_with_clashing_key_is_not_created, setup, teardown),
    cmocka_unit_test_setup_teardown(app_create_reports_a_failed_commit, setup, teardown),
    cmocka_unit_test_setup_teardown(app_get_and_update_missing, setup, teardown),
    cmocka_unit_test_setup_teardown(app_update_replaces_mutable_fields, setup, teardown),
    cmocka_unit_test_setup_teardown(apps_each_lists_every_app, setup, teardown),
    cmocka_unit_test_setup_teardown(keys_create_list_and_revoke, setup, teardown),
    cmocka_unit_test_setup_teardown(key_with_duplicate_hash_is_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(keys_touch_keeps_the_latest, setup, teardown),
    cmocka_unit_test_setup_teardown(user_upsert_created_then_updated, setup, teardown),
    cmocka_unit_test_setup_teardown(user_update_in_same_millisecond_is_not_created, setup, teardown),
    cmocka_unit_test_setup_teardown(user_get_is_scoped_by_app, setup, teardown),
    cmocka_unit_test_setup_teardown(rows_survive_reopen, setup, teardown),
    cmocka_unit_test_setup_teardown(role_names_round_trip, setup, teardown),
};

UNIT_MAIN(tests)
