/* Unit tests for src/engine/nonces.c, the replay detection set: a signed request whose nonce
 * was used within its window must be refused, and nothing else; a claim of a batch that did
 * not commit must not block a retry; memory follows the live nonces, not all ever seen. */
#include "unit.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/nonces.h"

#define K0 0x0123456789abcdefull
#define K1 0xfedcba9876543210ull

/* splitmix64: the tests' seeded randomness, and a bijection (distinct inputs, distinct
 * outputs) for making distinct hashes. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t rng_state;

static uint64_t rnd(uint64_t n)
{
    rng_state = mix64(rng_state);
    return rng_state % n;
}

/* A distinct nonzero hash for each i (hashes from nonce_set_hash are never 0). */
static uint64_t distinct_hash(uint64_t i)
{
    uint64_t h = mix64(i);
    return h ? h : 1; /* mix64 is a bijection: only one i maps to 0 */
}

static uint64_t hash_of(const struct nonce_set *s, const char *app, const char *nonce)
{
    return nonce_set_hash(s, app, nonce, strlen(nonce));
}

/* ---- claims --------------------------------------------------------------------------------- */

static void claim_then_replay_is_refused(void **state)
{
    (void)state;
    struct nonce_set *s = nonce_set_new(K0, K1);
    uint64_t h = hash_of(s, "shop", "nonce-1");
    assert_true(nonce_set_claim(s, h, 1300, 1000));
    assert_false(nonce_set_claim(s, h, 1300, 1000));
    assert_false(nonce_set_claim(s, h, 1301, 1001)); /* a later request with the same nonce */
    assert_false(nonce_set_claim(s, h, 1600, 1300)); /* expiring this second: still live */
    assert_int_equal(nonce_set_size(s), 1);
    nonce_set_free(s);
}

static void other_app_or_nonce_is_accepted(void **state)
{
    (void)state;
    struct nonce_set *s = nonce_set_new(K0, K1);
    assert_true(nonce_set_claim(s, hash_of(s, "shop", "n-1"), 1300, 1000));
    assert_true(nonce_set_claim(s, hash_of(s, "game", "n-1"), 1300, 1000));
    assert_true(nonce_set_claim(s, hash_of(s, "shop", "n-2"), 1300, 1000));
    assert_true(nonce_set_claim(s, hash_of(s, "shop", "N-1"), 1300, 1000));
    assert_true(nonce_set_claim(s, hash_of(s, "shop", "n-1 "), 1300, 1000));
    assert_false(nonce_set_claim(s, hash_of(s, "shop", "n-1"), 1300, 1000));
    assert_false(nonce_set_claim(s, hash_of(s, "game", "n-1"), 1300, 1000));
    assert_int_equal(nonce_set_size(s), 5);
    nonce_set_free(s);
}

/* A claim counts until the end of its expiry second, then as absent: the same nonce may be
 * claimed again (the signature's timestamp window refuses old requests before this). */
static void expired_claim_counts_as_absent(void **state)
{
    (void)state;
    struct nonce_set *s = nonce_set_new(K0, K1);
    uint64_t h = hash_of(s, "shop", "n");
    assert_true(nonce_set_claim(s, h, 100, 50));
    assert_false(nonce_set_claim(s, h, 200, 100));
    assert_true(nonce_set_claim(s, h, 400, 101));
    assert_false(nonce_set_claim(s, h, 500, 300)); /* the new claim is the live one */
    assert_false(nonce_set_claim(s, h, 500, 400));
    assert_true(nonce_set_claim(s, h, 500, 401));
    nonce_set_free(s);
}

static void forget_removes_the_claim(void **state)
{
    (void)state;
    struct nonce_set *s = nonce_set_new(K0, K1);
    uint64_t h = hash_of(s, "shop", "n");
    assert_true(nonce_set_claim(s, h, 100, 0));
    nonce_set_forget(s, h, 99); /* not this claim */
    assert_false(nonce_set_claim(s, h, 100, 0));
    nonce_set_forget(s, hash_of(s, "game", "n"), 100); /* another app's */
    assert_false(nonce_set_claim(s, h, 100, 0));
    nonce_set_forget(s, h, 100);
    assert_true(nonce_set_claim(s, h, 100, 0)); /* the retry of a rolled-back request */
    assert_false(nonce_set_claim(s, h, 100, 0));
    nonce_set_forget(s, hash_of(s, "shop", "never"), 100); /* absent: nothing happens */
    assert_false(nonce_set_claim(s, h, 100, 0));
    nonce_set_free(s);
}

/* Two entries with one hash: an expired claim left further along the probe chain and the new
 * live one. Forgetting the old claim (a late rollback) must leave the live one in force, and
 * forgetting the new one must not bring the old one back. */
static void forget_removes_only_that_claim(void **state)
{
    (void)state;
    struct nonce_set *s = nonce_set_new(K0, K1);
    uint64_t h = 0x1234500000000007ull;
    uint64_t x = h + (1ull << 40); /* same home slot at any table size up to 2^40 */
    assert_true(nonce_set_claim(s, x, 10, 0));
    assert_true(nonce_set_claim(s, h, 10, 0)); /* after x in the chain */
    /* at 20 both expired; the new claim of h may take x's slot, ahead of the old h */
    assert_true(nonce_set_claim(s, h, 100, 20));
    nonce_set_forget(s, h, 10);
    assert_false(nonce_set_claim(s, h, 200, 30));
    nonce_set_forget(s, h, 100);
    assert_true(nonce_set_claim(s, h, 200, 30));
    assert_false(nonce_set_claim(s, h, 200, 30));

    /* the same, with the order of the claims reversed in the chain */
    uint64_t g = 0x6789a00000000003ull;
    assert_true(nonce_set_claim(s, g, 50, 40));
    assert_true(nonce_set_claim(s, g + (1ull << 40), 50, 40));
    assert_true(nonce_set_claim(s, g, 150, 60));
    nonce_set_forget(s, g, 150);
    assert_true(nonce_set_claim(s, g, 160, 60));
    nonce_set_forget(s, g, 50);
    assert_false(nonce_set_claim(s, g, 170, 70));
    nonce_set_free(s);
}

/* ---- hashes --------------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void hash_depends_on_app_nonce_and_key(void **state)
{
    (void)state;
    struct nonce_set *s = nonce_set_new(K0, K1);
    struct nonce_set *same = nonce_set_new(K0, K1);
    struct nonce_set *other = nonce_set_new(K0 ^ 1, K1);
    uint64_t h = hash_of(s, "shop", "n-1");
    assert_int_not_equal(h, 0);
    assert_int_equal(hash_of(s, "shop", "n-1"), h);
    assert_int_equal(hash_of(same, "shop", "n-1"), h); /* a function of the key */
    assert_int_not_equal(hash_of(other, "shop", "n-1"), h);
    assert_int_not_equal(hash_of(s, "game", "n-1"), h); /* the same nonce, another app */
    assert_int_not_equal(hash_of(s, "shop", "n-2"), h);
    assert_int_not_equal(hash_of(s, "shop", ""), hash_of(s, "game", ""));
    /* where the app ends and the nonce starts matters */
    assert_int_not_equal(hash_of(s, "ab", "c"), hash_of(s, "a", "bc"));
    assert_int_not_equal(hash_of(s, "abc", ""), hash_of(s, "", "abc"));
    /* only nonce_len bytes count */
    assert_int_equal(nonce_set_hash(s, "shop", "n-1-and-more", 3), h);
    nonce_set_free(other);
    nonce_set_free(same);
    nonce_set_free(s);
}

/* 100 apps x 2,000 nonces: no two hashes alike (a collision would refuse a fresh request). */
static void hashes_do_not_collide(void **state)
{
    (void)state;
    struct nonce_set *s = nonce_set_new(K0, K1);
    size_t n = 100 * 2000, k = 0;
    uint64_t *all = malloc(n * sizeof(*all));
    char app[16], nonce[40];
    for (int a = 0; a < 100; a++) {
        snprintf(app, sizeof(app), "app-%d", a);
        for (int i = 0; i < 2000; i++) {
            int len = snprintf(nonce, sizeof(nonce), "%08x-%d", (unsigned)mix64((uint64_t)i), i);
            all[k++] = nonce_set_hash(s, app, nonce, (size_t)len);
        }
    }
    qsort(all, n, sizeof(*all), cmp_u64);
    for (size_t i = 1; i < n; i++)
        if (all[i] == all[i - 1])
            fail_msg("hash collision: %016llx", (unsigned long long)all[i]);
    assert_int_not_equal(all[0], 0);
    free(all);
    nonce_set_free(s);
}

/* ---- growth and memory ---------------------------------------------------------------------- */

/* A million live nonces (a busy window): every one is still refused after all the rebuilds
 * growth needed, and memory stays near 16 bytes a nonce. */
static void million_live_entries_all_kept(void **state)
{
    (void)state;
    const uint64_t n = 1000000;
    struct nonce_set *s = nonce_set_new(K0, K1);
    size_t empty_bytes = nonce_set_bytes(s);
    assert_true(empty_bytes < 64 * 1024);
    for (uint64_t i = 0; i < n; i++) {
        if (!nonce_set_claim(s, distinct_hash(i), 2000, 1000))
            fail_msg("fresh hash %llu refused", (unsigned long long)i);
    }
    assert_int_equal(nonce_set_size(s), n);
    for (uint64_t i = 0; i < n; i++) {
        if (nonce_set_claim(s, distinct_hash(i), 2000, 1500))
            fail_msg("live hash %llu was lost", (unsigned long long)i);
    }
    assert_int_equal(nonce_set_size(s), n);
    size_t bytes = nonce_set_bytes(s);
    assert_true(bytes > empty_bytes);
    assert_true(bytes <= n * 48); /* 16 bytes a nonce, in a table kept partly empty */
    nonce_set_free(s);
}

/* Nonces arriving steadily, each live for 10 s: memory follows the ~10,000 live ones, not the
 * 300,000 seen. */
static void memory_follows_live_nonces(void **state)
{
    (void)state;
    struct nonce_set *s = nonce_set_new(K0, K1);
    int64_t now = 1000;
    const uint64_t per_second = 1000, total = 300000;
    size_t most = 0;
    for (uint64_t i = 0; i < total; i++) {
        if (i % per_second == 0)
            now++;
        uint64_t h = distinct_hash(i);
        if (!nonce_set_claim(s, h, now + 10, now))
            fail_msg("fresh hash %llu refused", (unsigned long long)i);
        /* one that is 5 s old is still live */
        if (i >= 5 * per_second &&
            nonce_set_claim(s, distinct_hash(i - 5 * per_second), now + 10, now))
            fail_msg("live hash %llu was lost", (unsigned long long)(i - 5 * per_second));
        size_t b = nonce_set_bytes(s);
        if (b > most)
            most = b;
    }
    /* 11,000 live nonces need 11,000 * 16 / 0.7 bytes; allow the next power of two and one
     * more doubling, far below 300,000 * 16 */
    assert_true(most <= 64 * 1024 * 16 + 1024);
    assert_true(nonce_set_size(s) <= 64 * 1024);
    nonce_set_free(s);
}

/* ---- property: random claims, forgets and time against a simple model ----------------------- */

#define POOL       4000
#define MAX_CLAIMS 16

struct model {
    int64_t expires[POOL][MAX_CLAIMS]; /* claims of each hash not forgotten */
    int n[POOL];
};

static bool model_live(const struct model *m, int i, int64_t now)
{
    for (int k = 0; k < m->n[i]; k++)
        if (m->expires[i][k] >= now)
            return true;
    return false;
}

static void model_remove(struct model *m, int i, int k)
{
    m->expires[i][k] = m->expires[i][--m->n[i]];
}

/* Drops model claims expired long ago (they can no longer matter), keeping the arrays small. */
static void model_trim(struct model *m, int i, int64_t now)
{
    for (int k = m->n[i]; k-- > 0;)
        if (m->expires[i][k] < now - 1000)
            model_remove(m, i, k);
}

static void run_property(uint64_t seed, int ops)
{
    rng_state = seed;
    struct model *m = calloc(1, sizeof(*m));
    uint64_t pool[POOL];
    for (int i = 0; i < POOL; i++) {
        /* a quarter share 64 home slots: long probe chains full of expired and forgotten
         * entries */
        uint64_t h = distinct_hash(seed * POOL + (uint64_t)i);
        if (i % 4 == 0)
            h = (h & ~0xfffffull) | (uint64_t)(i % 64);
        pool[i] = h ? h : 1;
    }
    struct nonce_set *s = nonce_set_new(seed, ~seed);
    int64_t now = 1000000;
    size_t first_bytes = nonce_set_bytes(s), most_bytes = first_bytes;
    for (int op = 0; op < ops; op++) {
        if (nonce_set_bytes(s) > most_bytes)
            most_bytes = nonce_set_bytes(s);
        uint64_t r = rnd(1000);
        int i = (int)rnd(POOL);
        if (r < 700) {
            model_trim(m, i, now);
            int64_t expires = now + 1 + (int64_t)rnd(300);
            bool want = !model_live(m, i, now);
            bool got = nonce_set_claim(s, pool[i], expires, now);
            if (got != want)
                fail_msg("seed %llu op %d: claim of %d at %lld: got %d, want %d",
                         (unsigned long long)seed, op, i, (long long)now, got, want);
            if (got) {
                assert_true(m->n[i] < MAX_CLAIMS);
                m->expires[i][m->n[i]++] = expires;
            }
        } else if (r < 850) {
            if (m->n[i] == 0)
                continue;
            int k = (int)rnd((uint64_t)m->n[i]);
            nonce_set_forget(s, pool[i], m->expires[i][k]);
            model_remove(m, i, k);
        } else if (r < 997) {
            now += (int64_t)rnd(3);
        } else {
            /* every live claim is still refused (a claim of a live hash changes nothing) */
            for (int j = 0; j < POOL; j++)
                if (model_live(m, j, now) && nonce_set_claim(s, pool[j], now + 5, now))
                    fail_msg("seed %llu op %d: live %d lost", (unsigned long long)seed, op, j);
        }
    }
    size_t live = 0;
    for (int j = 0; j < POOL; j++)
        live += model_live(m, j, now);
    assert_true(nonce_set_size(s) >= live);
    assert_true(most_bytes > first_bytes); /* the table was rebuilt to grow on the way */
    nonce_set_free(s);
    free(m);
}

static void random_operations_match_model(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++)
        run_property(seed, 60000);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(claim_then_replay_is_refused),
    cmocka_unit_test(other_app_or_nonce_is_accepted),
    cmocka_unit_test(expired_claim_counts_as_absent),
    cmocka_unit_test(forget_removes_the_claim),
    cmocka_unit_test(forget_removes_only_that_claim),
    cmocka_unit_test(hash_depends_on_app_nonce_and_key),
    cmocka_unit_test(hashes_do_not_collide),
    cmocka_unit_test(million_live_entries_all_kept),
    cmocka_unit_test(memory_follows_live_nonces),
    cmocka_unit_test(random_operations_match_model),
};

UNIT_MAIN(tests)
