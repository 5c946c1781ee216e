/* Cron expressions and intervals (src/jobs/cron.c): parsing of every field form and every
 * refusal, cron_next against a minute-by-minute reference over many expressions and start
 * times, the day-of-month / day-of-week rule, leap days, and the slots cron_due gives after
 * downtime (bounded catch-up). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jobs/cron.h"
#include "unit.h"

#define MIN_MS 60000LL
#define DAY_MS (86400 * 1000LL)

static int64_t at(int y, int mo, int d, int h, int mi)
{
    struct tm t = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi };
    return (int64_t)timegm(&t) * 1000;
}

static struct cron parse_ok(const char *text)
{
    struct cron c;
    char err[160] = "";
    if (cron_parse(text, &c, err, sizeof(err)) < 0)
        fail_msg("\"%s\" refused: %s", text, err);
    return c;
}

static void fields_and_forms(void **state)
{
    (void)state;
    struct cron c = parse_ok("* * * * *");
    assert_true(c.minutes == (1ull << 60) - 1);
    assert_int_equal(c.hours, (1u << 24) - 1);
    assert_int_equal(c.mdays, 0xfffffffeu);
    assert_int_equal(c.months, 0x1ffe);
    assert_int_equal(c.wdays, 0x7f);
    assert_true(c.mday_any && c.wday_any && !c.interval);
    c = parse_ok("*/15 0-10/5 5/10 1,6,12 1-5");
    assert_true(c.minutes == (1ull | 1ull << 15 | 1ull << 30 | 1ull << 45));
    assert_int_equal(c.hours, 1u | 1u << 5 | 1u << 10);
    assert_int_equal(c.mdays, 1u << 5 | 1u << 15 | 1u << 25);
    assert_int_equal(c.months, 1u << 1 | 1u << 6 | 1u << 12);
    assert_int_equal(c.wdays, 0x3e);
    assert_false(c.mday_any || c.wday_any);
    c = parse_ok("0 0 * JAN-mar Sun,SAT");
    assert_int_equal(c.months, 0xe);
    assert_int_equal(c.wdays, 1u | 1u << 6);
    c = parse_ok("0 0 * * 7");
    assert_int_equal(c.wdays, 1); /* 7 is Sunday */
    c = parse_ok("  5\t4  * *   *  ");
    assert_true(c.minutes == 1ull << 5);
    assert_int_equal(c.hours, 1u << 4);
    c = parse_ok("59 23 31 12 6");
    assert_true(c.minutes == 1ull << 59);
}

static void macros_and_intervals(void **state)
{
    (void)state;
    static const struct {
        const char *macro, *expr;
    } m[] = { { "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" },
              { "@monthly", "0 0 1 * *" }, { "@weekly", "0 0 * * 0" },
              { "@daily", "0 0 * * *" },   { "@midnight", "0 0 * * *" },
              { "@hourly", "0 * * * *" } };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        struct cron a = parse_ok(m[i].macro), b = parse_ok(m[i].expr);
        assert_memory_equal(&a, &b, sizeof(a));
    }
    static const struct {
        const char *text;
        int64_t ms;
    } iv[] = { { "@every 1s", 1000 },  { "@every 30s", 30000 },   { "@every 5m", 300000 },
               { "@every 2h", 7200000 }, { "@every 366d", 366 * DAY_MS } };
    for (size_t i = 0; i < sizeof(iv) / sizeof(iv[0]); i++) {
        struct cron c = parse_ok(iv[i].text);
        assert_true(c.interval);
        assert_int_equal(c.interval_ms, iv[i].ms);
    }
}

static void refusals(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",           "* * * *",     "* * * * * *", "60 * * * *",   "* 24 * * *",
        "* * 0 * *",  "* * 32 * *",  "* * * 0 *",   "* * * 13 *",   "* * * * 8",
        "5-1 * * * *", "*/0 * * * *", "a * * * *",  "1,,2 * * * *", "1- * * * *",
        ",1 * * * *", "1, * * * *",  "*/ * * * *",  "*/x * * * *",  "JAN * * * *",
        "* * * January *", "* * * * Sunday", "* * * * mo", "1-2-3 * * * *", "-1 * * * *",
        "@every 0s",  "@every 5",    "@every 5x",   "@every 367d",  "@every -1s",
        "@every 1s ", "@every",      "@bogus",      "@daily ",
        "1/2/3 * * * *", "99999999999 * * * *", "*/99999999 * * * *",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cron c;
        char err[160] = "";
        if (cron_parse(bad[i], &c, err, sizeof(err)) == 0)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_true(err[0] != '\0');
    }
    char longer[CRON_TEXT_MAX + 2];
    memset(longer, ' ', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    struct cron c;
    char err[160];
    assert_int_equal(cron_parse(longer, &c, err, sizeof(err)), -1);
}

/* The reference: does minute `ms` match, by gmtime and the POSIX day rule. */
static bool matches(const struct cron *c, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    bool md = (c->mdays >> tm.tm_mday) & 1, wd = (c->wdays >> tm.tm_wday) & 1;
    bool day = c->mday_any && c->wday_any ? true
               : c->mday_any             ? wd
               : c->wday_any             ? md
                                         : md || wd;
    return ((c->minutes >> tm.tm_min) & 1) && ((c->hours >> tm.tm_hour) & 1) &&
           ((c->months >> (tm.tm_mon + 1)) & 1) && day;
}

static void next_agrees_with_a_minute_by_minute_search(void **state)
{
    (void)state;
    static const char *const exprs[] = {
        "* * * * *",       "*/7 * * * *",    "0 * * * *",      "30 2 * * *",
        "0 0 1 * *",       "0 0 * * 0",      "15 10 * * 1-5",  "0 12 13 * 5",
        "0 0 29 2 *",      "59 23 31 * *",   "0 */6 * * *",    "5,10 3 * 2,8 *",
        "0 0 1 1 *",       "0 9-17/2 * * mon-fri", "45 23 * * 6,7", "0 0 31 4,6,9,11 1",
        "1 1 1 1 1",       "*/20 */5 10-20 * *", "0 0 28-31 * *", "0 4 * * 3",
    };
    static const int64_t starts[] = {
        0, 951782400000LL /* 2000-02-29 */, 1700000000000LL, 1735689599999LL,
        1767225600000LL - 1, 1709164800000LL /* 2024-02-29 */, 1796083199000LL,
    };
    for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
        struct cron c = parse_ok(exprs[i]);
        for (size_t k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
            int64_t from = starts[k];
            /* three successive slots, each against the search */
            for (int step = 0; step < 3; step++) {
                int64_t got = cron_next(&c, from);
                int64_t m = (from / MIN_MS + 1) * MIN_MS;
                int64_t limit = from + 5 * 366 * DAY_MS;
                while (m <= limit && !matches(&c, m))
                    m += MIN_MS;
                if (m > limit)
                    m = -1;
                if (got != m)
                    fail_msg("%s after %lld: %lld, reference %lld", exprs[i], (long long)from,
                             (long long)got, (long long)m);
                if (got < 0)
                    break;
                from = got;
            }
        }
    }
}

static void leap_days_and_impossible_dates(void **state)
{
    (void)state;
    struct cron c = parse_ok("0 0 29 2 *");
    assert_int_equal(cron_next(&c, at(2025, 3, 1, 0, 0)), at(2028, 2, 29, 0, 0));
    c = parse_ok("0 0 30 2 *");
    assert_int_equal(cron_next(&c, at(2025, 1, 1, 0, 0)), -1);
    c = parse_ok("0 0 31 4 *");
    assert_int_equal(cron_next(&c, 0), -1);
    /* either day field: Friday or the 13th */
    c = parse_ok("0 0 13 * 5");
    assert_int_equal(cron_next(&c, at(2026, 11, 1, 0, 0)), at(2026, 11, 6, 0, 0)); /* Fri */
    assert_int_equal(cron_next(&c, at(2026, 11, 11, 0, 0)), at(2026, 11, 13, 0, 0));
    /* strictly after, to the minute */
    c = parse_ok("30 2 * * *");
    assert_int_equal(cron_next(&c, at(2026, 1, 1, 2, 30)), at(2026, 1, 2, 2, 30));
    assert_int_equal(cron_next(&c, at(2026, 1, 1, 2, 30) - 1), at(2026, 1, 1, 2, 30));
}

static void interval_slots_are_multiples_since_the_epoch(void **state)
{
    (void)state;
    struct cron c = parse_ok("@every 30s");
    assert_int_equal(cron_next(&c, 0), 30000);
    assert_int_equal(cron_next(&c, 29999), 30000);
    assert_int_equal(cron_next(&c, 30000), 60000);
    assert_int_equal(cron_next(&c, 1700000000123LL), 1700000010000LL);
    assert_int_equal(cron_next(&c, -1), 0);
}

static void due_slots_and_bounded_catch_up(void **state)
{
    (void)state;
    int64_t out[8];
    size_t skipped;
    struct cron c = parse_ok("@every 1s");
    /* nothing due yet */
    assert_int_equal(cron_due(&c, 5000, 5999, out, 8, &skipped), 0);
    assert_int_equal(cron_due(&c, 5000, 5000, out, 8, &skipped), 0);
    /* (5000, 8500]: 6000, 7000, 8000 */
    assert_int_equal(cron_due(&c, 5000, 8500, out, 8, &skipped), 3);
    assert_int_equal(out[0], 6000);
    assert_int_equal(out[2], 8000);
    assert_int_equal(skipped, 0);
    /* a long gap: only the newest 3 */
    assert_int_equal(cron_due(&c, 0, 100000, out, 3, &skipped), 3);
    assert_int_equal(out[0], 98000);
    assert_int_equal(out[1], 99000);
    assert_int_equal(out[2], 100000);
    assert_int_equal(skipped, 97);
    /* cron: same rule, oldest first, across the ring's wrap */
    c = parse_ok("*/10 * * * *");
    int64_t base = at(2026, 5, 1, 0, 0);
    for (size_t max = 1; max <= 8; max++) {
        size_t n = cron_due(&c, base, base + 95 * MIN_MS, out, max, &skipped);
        size_t total = 9; /* :10 .. :90 */
        size_t want = total < max ? total : max;
        assert_int_equal(n, want);
        assert_int_equal(skipped, total - want);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(out[i], base + (int64_t)(total - want + i + 1) * 10 * MIN_MS);
    }
    assert_int_equal(cron_due(&c, base, base + 95 * MIN_MS, out, 0, &skipped), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(fields_and_forms),
    cmocka_unit_test(macros_and_intervals),
    cmocka_unit_test(refusals),
    cmocka_unit_test(next_agrees_with_a_minute_by_minute_search),
    cmocka_unit_test(leap_days_and_impossible_dates),
    cmocka_unit_test(interval_slots_are_multiples_since_the_epoch),
    cmocka_unit_test(due_slots_and_bounded_catch_up),
};

UNIT_MAIN(tests)
