/* Unit tests for src/engine/level.c: the level and next-level XP shown to users, on
 * ForgeEngine's square-root curve and on explicit thresholds. */
#include "unit.h"

#include <math.h>
#include <stdio.h>

#include "engine/level.h"

struct want {
    int64_t xp, level, next;
};

static void check(const struct level_curve *c, const struct want *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct level_info info = {-7, -7};
        level_of(c, table[i].xp, &info);
        if (info.level != table[i].level || info.next_level_xp != table[i].next)
            fail_msg("g %g, %zu thresholds, xp %lld: level %lld next %lld, want %lld next %lld",
                     c->g, c->n_thresholds, (long long)table[i].xp, (long long)info.level,
                     (long long)info.next_level_xp, (long long)table[i].level,
                     (long long)table[i].next);
    }
}

static void forge_engine_numbers(void **state)
{
    (void)state;
    static const struct want table[] = {
        {0, 1, 100},        {1, 1, 100},   {99, 1, 100},        {100, 2, 400},   {399, 2, 400},
        {400, 3, 900},      {899, 3, 900}, {900, 4, 1600},      {2500, 6, 3600}, {9999, 10, 10000},
        {10000, 11, 12100}, {-1, 1, 100},  {INT64_MIN, 1, 100}, /* negative totals are level 1 */
    };
    struct level_curve c = {LEVEL_CURVE_DEFAULT, NULL, 0};
    check(&c, table, sizeof(table) / sizeof(table[0]));
}

/* At g * k^2 the level becomes k + 1, and one XP before it is still k, for k far beyond where
 * floor(sqrt(xp / g)) in doubles gets it wrong (from about 9e15 with g = 1). */
static void exact_at_perfect_squares(void **state)
{
    (void)state;
    static const int64_t gs[] = {1, 2, 3, 7, 100, 1000, 12345};
    static const int64_t big_k[] = {31622776,  31622777,  94906265,  94906266,  94906267,
                                    100000001, 123456789, 999999999, 3037000499};
    for (size_t gi = 0; gi < sizeof(gs) / sizeof(gs[0]); gi++) {
        struct level_curve c = {(double)gs[gi], NULL, 0};
        int64_t g = gs[gi];
        size_t checked = 0;
        /* every k up to 2000, then the big ones that fit in int64 */
        for (size_t j = 0; j < 2000 + sizeof(big_k) / sizeof(big_k[0]); j++) {
            int64_t k = j < 2000 ? (int64_t)j + 1 : big_k[j - 2000];
            if (k > INT64_MAX / k / g)
                continue;
            int64_t at = g * k * k;
            struct level_info info;
            level_of(&c, at, &info);
            if (info.level != k + 1)
                fail_msg("g %lld, xp %lld = g * %lld^2: level %lld", (long long)g, (long long)at,
                         (long long)k, (long long)info.level);
            int64_t k1 = k + 1;
            int64_t next = k1 > INT64_MAX / k1 / g ? INT64_MAX : g * k1 * k1;
            assert_int_equal(info.next_level_xp, next);
            level_of(&c, at - 1, &info);
            if (info.level != k)
                fail_msg("g %lld, xp %lld = g * %lld^2 - 1: level %lld", (long long)g,
                         (long long)(at - 1), (long long)k, (long long)info.level);
            assert_int_equal(info.next_level_xp, at);
            checked++;
        }
        if (g <= 1000)
            assert_true(checked > 2000); /* some of the big ones fit */
    }
    /* 10^15 XP on the default curve: 100 * 3162277^2 = 999999582472900 */
    struct level_curve c = {LEVEL_CURVE_DEFAULT, NULL, 0};
    static const struct want table[] = {
        {999999582472899, 3162277, 999999582472900},
        {999999582472900, 3162278, 1000000214928400},
        {1000000000000000, 3162278, 1000000214928400},
        {INT64_MAX, 303700050, INT64_MAX}, /* 100 * 303700050^2 does not fit: saturated */
    };
    check(&c, table, sizeof(table) / sizeof(table[0]));
    struct level_curve one = {1, NULL, 0};
    static const struct want top[] = {{INT64_MAX, 3037000500, INT64_MAX}};
    check(&one, top, 1);
}

static void other_curves(void **state)
{
    (void)state;
    static const struct want g50[] = {{0, 1, 50},    {49, 1, 50},   {50, 2, 200},
                                      {199, 2, 200}, {200, 3, 450}, {450, 4, 800}};
    struct level_curve c = {50, NULL, 0};
    check(&c, g50, sizeof(g50) / sizeof(g50[0]));
    /* 2.5: the level goes up at 2.5, 10, 22.5 XP, so at 3, 10 and 23 whole XP */
    static const struct want g25[] = {{0, 1, 3},   {2, 1, 3},   {3, 2, 10},  {9, 2, 10},
                                      {10, 3, 23}, {22, 3, 23}, {23, 4, 40}, {40, 5, 63}};
    c.g = 2.5;
    check(&c, g25, sizeof(g25) / sizeof(g25[0]));
    /* 0.1 as written in decimal: 10 XP is level 11 even though the double 0.1 is a hair
     * above 1/10 (ForgeEngine's 10 / 0.1 is 100 too) */
    static const struct want g01[] = {{0, 1, 1},    {1, 4, 2},    {9, 10, 10},
                                      {10, 11, 13}, {90, 31, 97}, {1000, 101, 1021}};
    c.g = 0.1;
    check(&c, g01, sizeof(g01) / sizeof(g01[0]));
    /* a curve that was never set (0, negative, NaN) is the default one, not a crash */
    static const struct want dflt[] = {{0, 1, 100}, {100, 2, 400}, {400, 3, 900}};
    const double bad[] = {0, -100, NAN};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c.g = bad[i];
        check(&c, dflt, sizeof(dflt) / sizeof(dflt[0]));
    }
}

/* Whatever g, next_level_xp is where the level really goes up: above the total, a higher
 * level there, and the same level one XP before it. */
static void next_level_xp_is_where_the_level_changes(void **state)
{
    (void)state;
    static const double gs[] = {0.1, 0.3, 0.7, 1.5, 2.5, 3.3, 33.3, 99.99, 100, 150.5, 1e6 + 0.5};
    for (size_t i = 0; i < sizeof(gs) / sizeof(gs[0]); i++) {
        struct level_curve c = {gs[i], NULL, 0};
        for (int64_t xp = 0; xp < 20000; xp += xp < 3000 ? 1 : 97) {
            struct level_info info, at, before;
            level_of(&c, xp, &info);
            level_of(&c, info.next_level_xp, &at);
            level_of(&c, info.next_level_xp - 1, &before);
            if (info.next_level_xp <= xp || at.level <= info.level || before.level != info.level)
                fail_msg("g %g xp %lld: level %lld next %lld (level there %lld, one before %lld)",
                         gs[i], (long long)xp, (long long)info.level, (long long)info.next_level_xp,
                         (long long)at.level, (long long)before.level);
        }
    }
}

static void thresholds(void **state)
{
    (void)state;
    static const int64_t t[] = {100, 300, 600, 1000};
    static const struct want table[] = {
        {INT64_MIN, 1, 100}, {-5, 1, 100},    {0, 1, 100},          {99, 1, 100},
        {100, 2, 300},       {299, 2, 300},   {300, 3, 600},        {999, 4, 1000},
        {1000, 5, 1000},     {5000, 5, 1000}, {INT64_MAX, 5, 1000}, /* past the last */
    };
    struct level_curve c = {0, t, sizeof(t) / sizeof(t[0])}; /* g unused with thresholds */
    check(&c, table, sizeof(table) / sizeof(table[0]));
    static const int64_t one[] = {50};
    static const struct want single[] = {{0, 1, 50}, {49, 1, 50}, {50, 2, 50}, {51, 2, 50}};
    struct level_curve c1 = {100, one, 1};
    check(&c1, single, sizeof(single) / sizeof(single[0]));
    /* a first threshold at 0 means nobody is level 1 */
    static const int64_t zero[] = {0, 10};
    static const struct want from0[] = {{-1, 1, 0}, {0, 2, 10}, {10, 3, 10}};
    struct level_curve c0 = {100, zero, 2};
    check(&c0, from0, sizeof(from0) / sizeof(from0[0]));
}

/* Thresholds against a linear count, over many lists. */
static void thresholds_match_a_linear_count(void **state)
{
    (void)state;
    int64_t t[64];
    uint64_t r = 88172645463325252u;
    for (size_t n = 1; n <= 64; n++) {
        int64_t v = -50;
        for (size_t i = 0; i < n; i++) {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            v += 1 + (int64_t)(r % 40);
            t[i] = v;
        }
        struct level_curve c = {100, t, n};
        for (int64_t xp = -60; xp <= v + 5; xp++) {
            size_t below = 0;
            while (below < n && t[below] <= xp)
                below++;
            struct level_info info;
            level_of(&c, xp, &info);
            assert_int_equal(info.level, (int64_t)below + 1);
            assert_int_equal(info.next_level_xp, t[below < n ? below : n - 1]);
        }
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(forge_engine_numbers),
    cmocka_unit_test(exact_at_perfect_squares),
    cmocka_unit_test(other_curves),
    cmocka_unit_test(next_level_xp_is_where_the_level_changes),
    cmocka_unit_test(thresholds),
    cmocka_unit_test(thresholds_match_a_linear_count),
};

UNIT_MAIN(tests)
