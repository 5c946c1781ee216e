/* Unit tests for src/tenant/registry.c: every request's API key is checked here, so who a key
 * belongs to, that a revoked key is refused at once, per-app rate limits, last-use tracking and
 * safety under concurrent use are what users see. */
#include "unit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenant/registry.h"

#define BIG 1000000000 /* a default limit no test reaches */

static void put_app(struct tenant_registry *r, const char *id, const char *settings)
{
    struct store_app a;
    memset(&a, 0, sizeof(a));
    a.id = (char *)id;
    a.name = (char *)"An app";
    a.settings = (char *)settings;
    a.default_timezone = (char *)"UTC";
    tenant_app_put(r, &a);
}

static void put_key(struct tenant_registry *r, const char *app_id, const char *key_id,
                    enum store_role role, const char *secret, int64_t last_used)
{
    struct store_key k;
    memset(&k, 0, sizeof(k));
    k.id = (char *)key_id;
    k.app_id = (char *)app_id;
    k.name = (char *)"a key";
    k.role = role;
    tenant_hash_key(secret, strlen(secret), k.hash);
    k.last_used_at = last_used;
    tenant_key_put(r, &k);
}

static enum tenant_auth auth(struct tenant_registry *r, const char *secret, int64_t now,
                             struct principal *who, unsigned *retry)
{
    struct principal scratch;
    unsigned scratch_retry = 0;
    return tenant_authenticate(r, secret, strlen(secret), now, who ? who : &scratch,
                               retry ? retry : &scratch_retry);
}

/* ---- identity ------------------------------------------------------------------------------ */

static void unknown_key_is_refused(void **state)
{
    (void)state;
    struct tenant_registry *r = tenant_registry_new(BIG, 60);
    assert_int_equal(auth(r, "fge_nothing", 1000, NULL, NULL), TENANT_UNKNOWN_KEY);
    put_app(r, "app-a", "{}");
    put_key(r, "app-a", "11111111-1111-4111-8111-111111111111", STORE_ROLE_ADMIN, "fge_secret_a",
            0);
    assert_int_equal(auth(r, "fge_secret_b", 1000, NULL, NULL), TENANT_UNKNOWN_KEY);
    /* A prefix or an extension of a real key is a different key. */
    assert_int_equal(auth(r, "fge_secret_", 1000, NULL, NULL), TENANT_UNKNOWN_KEY);
    assert_int_equal(auth(r, "fge_secret_aa", 1000, NULL, NULL), TENANT_UNKNOWN_KEY);
    assert_int_equal(auth(r, "", 1000, NULL, NULL), TENANT_UNKNOWN_KEY);
    /* The length given is what counts, not a NUL. */
    struct principal who;
    unsigned retry = 0;
    assert_int_equal(tenant_authenticate(r, "fge_secret_a_and_more", 12, 1000, &who, &retry),
                     TENANT_OK);
    assert_string_equal(who.app_id, "app-a");
    tenant_registry_free(r);
}

static void known_key_fills_principal(void **state)
{
    (void)state;
    struct tenant_registry *r = tenant_registry_new(BIG, 60);
    put_app(r, "app-a", "{}");
    put_app(r, "app-b", "{}");
    put_key(r, "app-a", "11111111-1111-4111-8111-111111111111", STORE_ROLE_ADMIN, "fge_a_admin", 0);
    put_key(r, "app-a", "22222222-2222-4222-8222-222222222222", STORE_ROLE_INGEST, "fge_a_ingest",
            0);
    put_key(r, "app-b", "33333333-3333-4333-8333-333333333333", STORE_ROLE_READONLY, "fge_b_ro", 0);
    struct principal who;
    memset(&who, 0x5a, sizeof(who));
    assert_int_equal(auth(r, "fge_a_ingest", 1000, &who, NULL), TENANT_OK);
    assert_string_equal(who.app_id, "app-a");
    assert_string_equal(who.key_id, "22222222-2222-4222-8222-222222222222");
    assert_int_equal(who.role, STORE_ROLE_INGEST);
    assert_int_equal(auth(r, "fge_b_ro", 1000, &who, NULL), TENANT_OK);
    assert_string_equal(who.app_id, "app-b");
    assert_string_equal(who.key_id, "33333333-3333-4333-8333-333333333333");
    assert_int_equal(who.role, STORE_ROLE_READONLY);
    assert_int_equal(auth(r, "fge_a_admin", 1000, &who, NULL), TENANT_OK);
    assert_string_equal(who.app_id, "app-a");
    assert_int_equal(who.role, STORE_ROLE_ADMIN);
    tenant_registry_free(r);
}

/* The registry keeps its own copies: what the caller passed in may be freed or reused, and the
 * principal handed out stays valid after the key is gone. */
static void principal_and_key_are_copies(void **state)
{
    (void)state;
    struct tenant_registry *r = tenant_registry_new(BIG, 60);
    char app_id[] = "app-copy";
    char key_id[] = "44444444-4444-4444-8444-444444444444";
    put_app(r, app_id, "{}");
    put_key(r, app_id, key_id, STORE_ROLE_ADMIN, "fge_copy", 0);
    memset(app_id, 'X', sizeof(app_id) - 1);
    memset(key_id, 'Y', sizeof(key_id) - 1);
    struct principal who;
    assert_int_equal(auth(r, "fge_copy", 1000, &who, NULL), TENANT_OK);
    assert_string_equal(who.app_id, "app-copy");
    assert_string_equal(who.key_id, "44444444-4444-4444-8444-444444444444");
    tenant_key_remove(r, "44444444-4444-4444-8444-444444444444");
    tenant_registry_free(r);
    assert_string_equal(who.app_id, "app-copy");
    assert_string_equal(who.key_id, "44444444-4444-4444-8444-444444444444");
}

/* The longest ids fit whole. */
static void longest_ids_are_kept_whole(void **state)
{
    (void)state;
    struct tenant_registry *r = tenant_registry_new(BIG, 60);
    char app_id[TENANT_APP_ID_MAX + 1];
    memset(app_id, 'a', TENANT_APP_ID_MAX);
    app_id[TENANT_APP_ID_MAX] = '\0';
    put_app(r, app_id, "{}");
    put_key(r, app_id, "55555555-5555-4555-8555-555555555555", STORE_ROLE_ADMIN, "fge_long", 0);
    struct principal who;
    assert_int_equal(auth(r, "fge_long", 1000, &who, NULL), TENANT_OK);
    assert_string_equal(who.app_id, app_id);
    assert_string_equal(who.key_id, "55555555-5555-4555-8555-555555555555");
    tenant_registry_free(r);
}

static void removed_key_is_unknown(void **state)
{
    (void)state;
    struct tenant_registry *r = tenant_registry_new(BIG, 60);
    put_app(r, "app-a", "{}");
    put_key(r, "app-a", "11111111-1111-4111-8111-111111111111", STORE_ROLE_ADMIN, "fge_one", 0);
    put_key(r, "app-a", "22222222-2222-4222-8222-222222222222", STORE_ROLE_ADMIN, "fge_two", 0);
    assert_int_equal(auth(r, "fge_one", 1000, NULL, NULL), TENANT_OK);
    tenant_key_remove(r, "11111111-1111-4111-8111-111111111111");
    assert_int_equal(auth(r, "fge_one", 1001, NULL, NULL), TENANT_UNKNOWN_KEY);
    assert_int_equal(auth(r, "fge_two", 1001, NULL, NULL), TENANT_OK);
    assert_int_equal(tenant_key_last_used(r, "11111111-1111-4111-8111-111111111111"), 0);
    /* Removing an unknown id, or the same one twice, changes nothing else. */
    tenant_key_remove(r, "11111111-1111-4111-8111-111111111111");
    tenant_key_remove(r, "99999999-9999-4999-8999-999999999999");
    assert_int_equal(auth(r, "fge_two", 1002, NULL, NULL), TENANT_OK);
    tenant_registry_free(r);
}

/* Each thread remembers the digests of the keys it saw last: a key one byte away from a
 * remembered one, or one too long to remember, is still checked against the registry. */
static void remembered_digests_match_only_the_same_key(void **state)
{
    (void)state;
    struct tenant_registry *r = tenant_registry_new(BIG, 60);
    put_app(r, "app-a", "{}");
    char longest[200];
    memset(longest, 'k', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    put_key(r, "app-a", "11111111-1111-4111-8111-111111111111", STORE_ROLE_ADMIN,
            "fge_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0);
    put_key(r, "app-a", "22222222-2222-4222-8222-222222222222", STORE_ROLE_READONLY, longest, 0);
    for (int round = 0; round < 3; round++) { /* the first round fills the cache */
        struct principal who;
        assert_int_equal(auth(r, "fge_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1000,
                              &who, NULL),
                         TENANT_OK);
        assert_int_equal(who.role, STORE_ROLE_ADMIN);
        /* Keys one last byte away, some of which share the remembered key's slot. */
        char near[] = "fge_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        const char *alphabet = "bcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        for (const char *c = alphabet; *c; c++) {
            near[sizeof(near) - 2] = *c;
            assert_int_equal(auth(r, "fge_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                  1000, NULL, NULL),
                             TENANT_OK);
            assert_int_equal(auth(r, near, 1000, NULL, NULL), TENANT_UNKNOWN_KEY);
        }
        assert_int_equal(auth(r, "fge_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1000,
                              NULL, NULL),
                         TENANT_UNKNOWN_KEY);
        assert_int_equal(auth(r, longest, 1000, &who, NULL), TENANT_OK);
        assert_int_equal(who.role, STORE_ROLE_READONLY);
        longest[10] = 'x';
        assert_int_equal(auth(r, longest, 1000, NULL, NULL), TENANT_UNKNOWN_KEY);
        longest[10] = 'k';
    }
    /* Revoked while remembered: refused at once. */
    tenant_key_remove(r, "11111111-1111-4111-8111-111111111111");
    assert_int_equal(auth(r, "fge_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1001, NULL,
                          NULL),
                     TENANT_UNKNOWN_KEY);
    tenant_registry_free(r);
}

/* The store thread re-checks a key before running its work, and caps keys per app. */
static void active_keys_are_known_by_id_and_counted(void **state)
{
    (void)state;
    struct tenant_registry *r = tenant_registry_new(BIG, 60);
    put_app(r, "app-a", "{}");
    put_app(r, "app-b", "{}");
    assert_int_equal(tenant_app_key_count(r, "app-a"), 0);
    assert_int_equal(tenant_app_key_count(r, "nope"), 0);
    put_key(r, "app-a", "11111111-1111-4111-8111-111111111111", STORE_ROLE_ADMIN, "fge_one", 0);
    put_key(r, "app-a", "22222222-2222-4222-8222-222222222222", STORE_ROLE_INGEST, "fge_two", 0);
    put_key(r, "app-b", "33333333-3333-4333-8333-333333333333", STORE_ROLE_ADMIN, "fge_three", 0);
    assert_true(tenant_key_active(r, "11111111-1111-4111-8111-111111111111"));
    assert_false(tenant_key_active(r, "99999999-9999-4999-8999-999999999999"));
    assert_int_equal(tenant_app_key_count(r, "app-a"), 2);
    assert_int_equal(tenant_app_key_count(r, "app-b"), 1);
    tenant_key_remove(r, "11111111-1111-4111-8111-111111111111");
    assert_false(tenant_key_active(r, "11111111-1111-4111-8111-111111111111"));
    assert_int_equal(tenant_app_key_count(r, "app-a"), 1);
    /* putting the same key again does not count it twice */
    put_key(r, "app-a", "22222222-2222-4222-8222-222222222222", STORE_ROLE_INGEST, "fge_two", 0);
    assert_int_equal(tenant_app_key_count(r, "app-a"), 1);
    tenant_registry_free(r);
}

/* ---- rate limits --------------------------------------------------------------------------- */

static void app_rate_limit_override(void **state)
{
    (void)state;
    struct tenant_registry *r = tenant_registry_new(BIG, 60);
    put_app(r, "limited", "{\"rateLimit\":{\"points\":3,\"windowSeconds\":60}}");
    put_app(r, "free", "{}");
    put_key(r, "limited", "11111111-1111-4111-8111-111111111111", STORE_ROLE_ADMIN, "fge_lim", 0);
    put_key(r, "free", "22222222-2222-4222-8222-222222222222", STORE_ROLE_ADMIN, "fge_free", 0);
    int64_t t = 1700000000000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(auth(r, "fge_lim", t, NULL, NULL), TENANT_OK);
    struct principal who;
    memset(&who, 0, sizeof(who));
    unsigned retry = 0;
    assert_int_equal(auth(r, "fge_lim", t, &who, &retry), TENANT_RATE_LIMITED);
    /* One token comes back every 60 s / 3 = 20 s. */
    assert_in_range(retry, 20, 21);
    assert_string_equal(who.app_id, "limited"); /* filled for the log line */
    /* Another app's key is not affected. */
    for (int i = 0; i < 100; i++)
        assert_int_equal(auth(r, "fge_free", t, NULL, NULL), TENANT_OK);
    /* Refused requests do not dig the hole deeper. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(auth(r, "fge_lim", t + 1000, NULL, NULL), TENANT_RATE_LIMITED);
    retry = 0;
    assert_int_equal(auth(r, "fge_lim", t + 10000, NULL, &retry), TENANT_RATE_LIMITED);
    assert_in_range(retry, 10, 11);
    /* After the refill time for one token, exactly one more request. */
    assert_int_equal(auth(r, "fge_lim", t + 20000, NULL, NULL), TENANT_OK);
    assert_int_equal(auth(r, "fge_lim", t + 20000, NULL, NULL), TENANT_RATE_LIMITED);
    /* After a long pause the bucket is full again, but holds no more than `points`. */
    int64_t later = t + 3600 * 1000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(auth(r, "fge_lim", later, NULL, NULL), TENANT_OK);
    assert_int_equal(auth(r, "fge_lim", later, NULL, NULL), TENANT_RATE_LIMITED);
    tenant_registry_free(r);
}

/* Apps without settings.rateLimit (or with an invalid one) use the registry's defaults. */
static void default_rate_limit_applies(void **state)
{
    (void)state;
    struct tenant_registry *r = tenant_registry_new(2, 10);
    put_app(r, "plain", "{\"other\":true}");
    put_app(r, "bad", "{\"rateLimit\":{\"points\":0,\"windowSeconds\":\"x\"}}");
    put_key(r, "plain", "11111111-1111-4111-8111-111111111111", STORE_ROLE_ADMIN, "fge_plain", 0);
    put_key(r, "bad", "22222222-2222-4222-8222-222222222222", STORE_ROLE_ADMIN, "fge_bad", 0);
    int64_t t = 5000000;
    unsigned retry = 0;
    assert_int_equal(auth(r, "fge_plain", t, NULL, NULL), TENANT_OK);
    assert_int_equal(auth(r, "fge_plain", t, NULL, NULL), TENANT_OK);
    assert_int_equal(auth(r, "fge_plain", t, NULL, &retry), TENANT_RATE_LIMITED);
    assert_in_range(retry, 5, 6); /* 10 s / 2 points */
    assert_int_equal(auth(r, "fge_bad", t, NULL, NULL), TENANT_OK);
    assert_int_equal(auth(r, "fge_bad", t, NULL, NULL), TENANT_OK);
    assert_int_equal(auth(r, "fge_bad", t, NULL, NULL), TENANT_RATE_LIMITED);
    tenant_registry_free(r);
}

/* Each key has its own bucket: two keys of one app do not share a budget. */
static void buckets_are_per_key(void **state)
{
    (void)state;
    struct tenant_registry *r = tenant_registry_new(BIG, 60);
    put_app(r, "app", "{\"rateLimit\":{\"points\":1,\"windowSeconds\":60}}");
    put_key(r, "app", "11111111-1111-4111-8111-111111111111", STORE_ROLE_ADMIN, "fge_k1", 0);
    put_key(r, "app", "22222222-2222-4222-8222-222222222222", STORE_ROLE_INGEST, "fge_k2", 0);
    assert_int_equal(auth(r, "fge_k1", 1000, NULL, NULL), TENANT_OK);
    assert_int_equal(auth(r, "fge_k1", 1000, NULL, NULL), TENANT_RATE_LIMITED);
    assert_int_equal(auth(r, "fge_k2", 1000, NULL, NULL), TENANT_OK);
    assert_int_equal(auth(r, "fge_k2", 1000, NULL, NULL), TENANT_RATE_LIMITED);
    tenant_registry_free(r);
}

/* PATCH /apps changes settings after keys exist: the new limit applies to existing keys. */
static void app_put_after_keys_changes_limit(void **state)
{
    (void)state;
    struct tenant_registry *r = tenant_registry_new(BIG, 60);
    /* Key first: its app gets the defaults until the app itself is put. */
    put_key(r, "late", "11111111-1111-4111-8111-111111111111", STORE_ROLE_ADMIN, "fge_late", 0);
    int64_t t = 1000000;
    for (int i = 0; i < 5; i++)
        assert_int_equal(auth(r, "fge_late", t, NULL, NULL), TENANT_OK);
    /* Lowered to 1 per minute: the bucket is cut to the new capacity. */
    put_app(r, "late", "{\"rateLimit\":{\"points\":1,\"windowSeconds\":60}}");
    assert_int_equal(auth(r, "fge_late", t + 1, NULL, NULL), TENANT_OK);
    unsigned retry = 0;
    assert_int_equal(auth(r, "fge_late", t + 1, NULL, &retry), TENANT_RATE_LIMITED);
    assert_in_range(retry, 60, 61);
    /* Raised to 100 per minute: one second refills more than one token. At the old rate
     * (1/min) the same second would still be refused. */
    put_app(r, "late", "{\"rateLimit\":{\"points\":100,\"windowSeconds\":60}}");
    assert_int_equal(auth(r, "fge_late", t + 1001, NULL, NULL), TENANT_OK);
    /* Back to no override: the defaults again. */
    put_app(r, "late", "{}");
    for (int i = 0; i < 200; i++)
        assert_int_equal(auth(r, "fge_late", t + 100000, NULL, NULL), TENANT_OK);
    tenant_registry_free(r);
}

/* ---- last use ------------------------------------------------------------------------------ */

static int use_cmp(const void *a, const void *b)
{
    return strcmp(((const struct store_key_use *)a)->key_id,
                  ((const struct store_key_use *)b)->key_id);
}

static void collect_uses_returns_used_keys_once(void **state)
{
    (void)state;
    struct tenant_registry *r = tenant_registry_new(BIG, 60);
    put_app(r, "app", "{}");
    put_key(r, "app", "aaaaaaaa-1111-4111-8111-111111111111", STORE_ROLE_ADMIN, "fge_a", 0);
    put_key(r, "app", "bbbbbbbb-2222-4222-8222-222222222222", STORE_ROLE_ADMIN, "fge_b", 0);
    put_key(r, "app", "cccccccc-3333-4333-8333-333333333333", STORE_ROLE_ADMIN, "fge_c", 0);
    struct store_key_use *uses = NULL;
    assert_int_equal(tenant_collect_uses(r, &uses), 0);
    tenant_uses_free(uses, 0);

    assert_int_equal(auth(r, "fge_a", 1000, NULL, NULL), TENANT_OK);
    assert_int_equal(auth(r, "fge_b", 1500, NULL, NULL), TENANT_OK);
    assert_int_equal(auth(r, "fge_a", 2000, NULL, NULL), TENANT_OK);
    assert_int_equal(auth(r, "fge_unknown", 2500, NULL, NULL), TENANT_UNKNOWN_KEY);
    size_t n = tenant_collect_uses(r, &uses);
    assert_int_equal(n, 2);
    qsort(uses, n, sizeof(*uses), use_cmp);
    assert_string_equal(uses[0].key_id, "aaaaaaaa-1111-4111-8111-111111111111");
    assert_int_equal(uses[0].last_used_at, 2000);
    assert_string_equal(uses[1].key_id, "bbbbbbbb-2222-4222-8222-222222222222");
    assert_int_equal(uses[1].last_used_at, 1500);
    tenant_uses_free(uses, n);

    /* Nothing new since: nothing to write. */
    assert_int_equal(tenant_collect_uses(r, &uses), 0);
    tenant_uses_free(uses, 0);

    assert_int_equal(auth(r, "fge_c", 3000, NULL, NULL), TENANT_OK);
    n = tenant_collect_uses(r, &uses);
    assert_int_equal(n, 1);
    assert_string_equal(uses[0].key_id, "cccccccc-3333-4333-8333-333333333333");
    assert_int_equal(uses[0].last_used_at, 3000);
    tenant_uses_free(uses, n);
    tenant_registry_free(r);
}

static void last_used_is_updated(void **state)
{
    (void)state;
    struct tenant_registry *r = tenant_registry_new(BIG, 60);
    put_app(r, "app", "{}");
    /* Loaded from the store with a previous last use. */
    put_key(r, "app", "11111111-1111-4111-8111-111111111111", STORE_ROLE_ADMIN, "fge_a", 12345);
    put_key(r, "app", "22222222-2222-4222-8222-222222222222", STORE_ROLE_ADMIN, "fge_b", 0);
    assert_int_equal(tenant_key_last_used(r, "11111111-1111-4111-8111-111111111111"), 12345);
    assert_int_equal(tenant_key_last_used(r, "22222222-2222-4222-8222-222222222222"), 0);
    assert_int_equal(auth(r, "fge_a", 99999, NULL, NULL), TENANT_OK);
    assert_int_equal(tenant_key_last_used(r, "11111111-1111-4111-8111-111111111111"), 99999);
    assert_int_equal(auth(r, "fge_b", 100000, NULL, NULL), TENANT_OK);
    assert_int_equal(tenant_key_last_used(r, "22222222-2222-4222-8222-222222222222"), 100000);
    assert_int_equal(tenant_key_last_used(r, "99999999-9999-4999-8999-999999999999"), 0);
    tenant_registry_free(r);
}

/* ---- growth and concurrency ---------------------------------------------------------------- */

#define MANY 5000

static void key_name(int i, char *secret, size_t slen, char *id, size_t idlen)
{
    snprintf(secret, slen, "fge_secret_%d", i);
    snprintf(id, idlen, "key-%08d", i);
}

static void many_keys_grow_the_tables(void **state)
{
    (void)state;
    struct tenant_registry *r = tenant_registry_new(BIG, 60);
    char secret[64], id[64], app[32];
    for (int a = 0; a < 200; a++) { /* apps table grows too (starts at 64) */
        snprintf(app, sizeof(app), "app-%d", a);
        put_app(r, app, "{}");
    }
    for (int i = 0; i < MANY; i++) {
        key_name(i, secret, sizeof(secret), id, sizeof(id));
        snprintf(app, sizeof(app), "app-%d", i % 200);
        put_key(r, app, id, (enum store_role)(i % 3), secret, 0);
    }
    for (int i = 0; i < MANY; i++) {
        key_name(i, secret, sizeof(secret), id, sizeof(id));
        snprintf(app, sizeof(app), "app-%d", i % 200);
        struct principal who;
        assert_int_equal(auth(r, secret, 1000 + i, &who, NULL), TENANT_OK);
        assert_string_equal(who.key_id, id);
        assert_string_equal(who.app_id, app);
        assert_int_equal(who.role, i % 3);
    }
    struct store_key_use *uses;
    size_t n = tenant_collect_uses(r, &uses);
    assert_int_equal(n, MANY);
    tenant_uses_free(uses, n);
    for (int i = 0; i < MANY; i += 2) {
        key_name(i, secret, sizeof(secret), id, sizeof(id));
        tenant_key_remove(r, id);
    }
    for (int i = 0; i < MANY; i++) {
        key_name(i, secret, sizeof(secret), id, sizeof(id));
        assert_int_equal(auth(r, secret, 10000000, NULL, NULL),
                         i % 2 ? TENANT_OK : TENANT_UNKNOWN_KEY);
    }
    /* Putting the same key again updates it in place rather than adding a second entry. */
    key_name(1, secret, sizeof(secret), id, sizeof(id));
    put_key(r, "app-7", id, STORE_ROLE_READONLY, secret, 0);
    struct principal who;
    assert_int_equal(auth(r, secret, 10000001, &who, NULL), TENANT_OK);
    assert_string_equal(who.app_id, "app-7");
    assert_int_equal(who.role, STORE_ROLE_READONLY);
    tenant_key_remove(r, id);
    assert_int_equal(auth(r, secret, 10000002, NULL, NULL), TENANT_UNKNOWN_KEY);
    tenant_registry_free(r);
}

#define CONC_KEYS 2000

struct conc {
    struct tenant_registry *r;
    atomic_bool stop;
    atomic_long ok, unknown, wrong, limited, stable_refused;
};

struct reader {
    struct conc *c;
    unsigned seed;
};

static void *auth_thread(void *arg)
{
    struct reader *rd = arg;
    struct conc *c = rd->c;
    char secret[64], id[64];
    unsigned seed = rd->seed;
    long rounds = 0;
    while (!atomic_load(&c->stop) || rounds < 4 * CONC_KEYS) {
        int i = (int)(rand_r(&seed) % (CONC_KEYS * 2)); /* the upper half is added meanwhile */
        key_name(i, secret, sizeof(secret), id, sizeof(id));
        struct principal who;
        unsigned retry = 0;
        enum tenant_auth res =
            tenant_authenticate(c->r, secret, strlen(secret), 1000 + rounds, &who, &retry);
        if (res == TENANT_OK) {
            atomic_fetch_add(&c->ok, 1);
            if (strcmp(who.key_id, id) != 0)
                atomic_fetch_add(&c->wrong, 1);
        } else if (res == TENANT_UNKNOWN_KEY) {
            atomic_fetch_add(&c->unknown, 1);
            /* Odd keys of the lower half are never removed. */
            if (i < CONC_KEYS && i % 2)
                atomic_fetch_add(&c->stable_refused, 1);
        } else {
            atomic_fetch_add(&c->limited, 1);
        }
        if (rounds % 64 == 0) {
            struct store_key_use *uses;
            size_t n = tenant_collect_uses(c->r, &uses);
            tenant_uses_free(uses, n);
            (void)tenant_key_last_used(c->r, id);
        }
        rounds++;
    }
    return NULL;
}

static void *change_thread(void *arg)
{
    struct conc *c = arg;
    char secret[64], id[64];
    for (int i = 0; i < CONC_KEYS; i++) {
        /* Remove an even key of the lower half, add one of the upper half (growing the table
         * while readers run), and now and then change the app's limit. */
        if (i % 2 == 0) {
            key_name(i, secret, sizeof(secret), id, sizeof(id));
            tenant_key_remove(c->r, id);
        }
        key_name(CONC_KEYS + i, secret, sizeof(secret), id, sizeof(id));
        put_key(c->r, "conc", id, STORE_ROLE_INGEST, secret, 0);
        if (i % 100 == 0)
            put_app(c->r, "conc",
                    i % 200 ? "{}"
                            : "{\"rateLimit\":{\"points\":1000000000,"
                              "\"windowSeconds\":60}}");
    }
    return NULL;
}

static void concurrent_authenticate_while_removing(void **state)
{
    (void)state;
    struct conc c;
    memset(&c, 0, sizeof(c));
    c.r = tenant_registry_new(BIG, 60);
    put_app(c.r, "conc", "{}");
    char secret[64], id[64];
    for (int i = 0; i < CONC_KEYS; i++) {
        key_name(i, secret, sizeof(secret), id, sizeof(id));
        put_key(c.r, "conc", id, STORE_ROLE_INGEST, secret, 0);
    }
    pthread_t readers[2], writer;
    struct reader rd[2] = {{&c, 42}, {&c, 4242}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&readers[i], NULL, auth_thread, &rd[i]), 0);
    assert_int_equal(pthread_create(&writer, NULL, change_thread, &c), 0);
    assert_int_equal(pthread_join(writer, NULL), 0);
    atomic_store(&c.stop, true);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(readers[i], NULL), 0);

    assert_int_equal(atomic_load(&c.wrong), 0);          /* never someone else's identity */
    assert_int_equal(atomic_load(&c.stable_refused), 0); /* untouched keys always work */
    assert_int_equal(atomic_load(&c.limited), 0);
    assert_true(atomic_load(&c.ok) > 0);
    /* Afterwards: even lower keys are gone, the rest work. */
    for (int i = 0; i < 2 * CONC_KEYS; i++) {
        key_name(i, secret, sizeof(secret), id, sizeof(id));
        struct principal who;
        enum tenant_auth want = (i < CONC_KEYS && i % 2 == 0) ? TENANT_UNKNOWN_KEY : TENANT_OK;
        assert_int_equal(auth(c.r, secret, 99999999, &who, NULL), want);
    }
    tenant_registry_free(c.r);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(unknown_key_is_refused),
    cmocka_unit_test(known_key_fills_principal),
    cmocka_unit_test(principal_and_key_are_copies),
    cmocka_unit_test(longest_ids_are_kept_whole),
    cmocka_unit_test(removed_key_is_unknown),
    cmocka_unit_test(remembered_digests_match_only_the_same_key),
    cmocka_unit_test(app_rate_limit_override),
    cmocka_unit_test(default_rate_limit_applies),
    cmocka_unit_test(buckets_are_per_key),
    cmocka_unit_test(app_put_after_keys_changes_limit),
    cmocka_unit_test(collect_uses_returns_used_keys_once),
    cmocka_unit_test(last_used_is_updated),
    cmocka_unit_test(active_keys_are_known_by_id_and_counted),
    cmocka_unit_test(many_keys_grow_the_tables),
    cmocka_unit_test(concurrent_authenticate_while_removing),
};

UNIT_MAIN(tests)
