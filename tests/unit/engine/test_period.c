/* Unit tests for src/engine/period.c: the day, week and month keys rule caps, streak freezes
 * and leaderboards are bucketed by, and their validation. Expected keys come from Python's
 * date.isoformat() and isocalendar(). */
#include "unit.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/tz.h"
#include "engine/period.h"

#define DAY_MS 86400000LL

static void parse_and_name(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int rc;
        enum period_kind kind;
    } table[] = {
        {"day", 0, PERIOD_DAY},    {"week", 0, PERIOD_WEEK},  {"month", 0, PERIOD_MONTH},
        {"Day", -1, PERIOD_DAY},   {"days", -1, PERIOD_DAY},  {"da", -1, PERIOD_DAY},
        {"", -1, PERIOD_DAY},      {"year", -1, PERIOD_DAY},  {"season", -1, PERIOD_DAY},
        {"week ", -1, PERIOD_DAY}, {"MONTH", -1, PERIOD_DAY}, {"daily", -1, PERIOD_DAY},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        enum period_kind k = (enum period_kind)42;
        int rc = period_parse(table[i].name, &k);
        if (rc != table[i].rc)
            fail_msg("\"%s\": rc %d, want %d", table[i].name, rc, table[i].rc);
        if (rc == 0) {
            assert_int_equal(k, table[i].kind);
            assert_string_equal(period_name(k), table[i].name);
        } else {
            assert_int_equal(k, 42); /* untouched */
        }
    }
    enum period_kind k;
    assert_int_equal(period_parse(NULL, &k), -1);
    assert_string_equal(period_name((enum period_kind)7), "");
}

static void keys_of_known_instants(void **state)
{
    (void)state;
    static const struct {
        const char *instant, *zone, *day, *week, *month;
    } table[] = {
        {"2026-11-23T14:24:01Z", "UTC", "2026-11-23", "2026-W48", "2026-11"},
        {"2021-01-01T12:00:00Z", "UTC", "2021-01-01", "2020-W53", "2021-01"},
        {"2026-12-31T12:00:00Z", "UTC", "2026-12-31", "2026-W53", "2026-12"},
        {"2027-01-01T12:00:00Z", "UTC", "2027-01-01", "2026-W53", "2027-01"},
        {"2027-01-04T00:00:00Z", "UTC", "2027-01-04", "2027-W01", "2027-01"},
        {"2024-12-30T00:00:00Z", "UTC", "2024-12-30", "2025-W01", "2024-12"},
        {"2024-02-29T23:59:59.999Z", "UTC", "2024-02-29", "2024-W09", "2024-02"},
        {"1969-12-31T23:59:59.999Z", "UTC", "1969-12-31", "1970-W01", "1969-12"},
        {"1900-01-01T00:00:00Z", "UTC", "1900-01-01", "1900-W01", "1900-01"},
        {"0001-01-01T00:00:00Z", "UTC", "0001-01-01", "0001-W01", "0001-01"},
        {"9999-12-31T23:59:59.999Z", "UTC", "9999-12-31", "9999-W52", "9999-12"},
        /* the zone chooses the period */
        {"2026-12-31T23:30:00Z", "Europe/Paris", "2027-01-01", "2026-W53", "2027-01"},
        {"2026-12-31T23:30:00Z", "America/New_York", "2026-12-31", "2026-W53", "2026-12"},
        {"2027-01-03T23:30:00Z", "Asia/Kolkata", "2027-01-04", "2027-W01", "2027-01"},
        {"2027-01-04T02:00:00Z", "America/Los_Angeles", "2027-01-03", "2026-W53", "2027-01"},
        {"2026-02-28T11:30:00Z", "Pacific/Chatham", "2026-03-01", "2026-W09", "2026-03"},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        int64_t ms = 0;
        assert_int_equal(clock_parse_iso(table[i].instant, strlen(table[i].instant), &ms), 0);
        struct tz_local t;
        assert_int_equal(tz_local(table[i].zone, ms, &t), 0);
        const char *want[] = {[PERIOD_DAY] = table[i].day,
                              [PERIOD_WEEK] = table[i].week,
                              [PERIOD_MONTH] = table[i].month};
        for (int k = PERIOD_DAY; k <= PERIOD_MONTH; k++) {
            char key[PERIOD_KEY_MAX];
            memset(key, 'x', sizeof(key));
            period_key((enum period_kind)k, &t, key);
            if (strcmp(key, want[k]) != 0)
                fail_msg("%s in %s, %s: \"%s\", want \"%s\"", table[i].instant, table[i].zone,
                         period_name((enum period_kind)k), key, want[k]);
            assert_true(period_key_valid((enum period_kind)k, key));
        }
    }
}

/* Day by day over 1890..2110: every key is valid for its kind only, has its fixed length,
 * and keys sort in time order (a string comparison is a time comparison). */
static void keys_are_valid_and_sort_in_time_order(void **state)
{
    (void)state;
    static const size_t len[] = {[PERIOD_DAY] = 10, [PERIOD_WEEK] = 8, [PERIOD_MONTH] = 7};
    char prev[3][PERIOD_KEY_MAX] = {"", "", ""};
    int64_t first = tz_days_from_civil(1890, 1, 1), last = tz_days_from_civil(2110, 12, 31);
    for (int64_t d = first; d <= last; d++) {
        struct tz_local t;
        tz_utc(d * DAY_MS + 43200000, &t);
        for (int k = PERIOD_DAY; k <= PERIOD_MONTH; k++) {
            char key[PERIOD_KEY_MAX];
            period_key((enum period_kind)k, &t, key);
            assert_int_equal(strlen(key), len[k]);
            assert_true(period_key_valid((enum period_kind)k, key));
            for (int other = PERIOD_DAY; other <= PERIOD_MONTH; other++) {
                if (other != k)
                    assert_false(period_key_valid((enum period_kind)other, key));
            }
            int cmp = strcmp(prev[k], key);
            assert_true(cmp <= 0);
            /* a new week key exactly on Mondays, a new month key exactly on the 1st */
            if (d > first && k == PERIOD_WEEK)
                assert_int_equal(cmp < 0, t.weekday == 1);
            if (d > first && k == PERIOD_MONTH)
                assert_int_equal(cmp < 0, t.day == 1);
            strcpy(prev[k], key);
        }
    }
}

static void key_validation(void **state)
{
    (void)state;
    static const struct {
        enum period_kind k;
        const char *key;
        bool valid;
    } table[] = {
        {PERIOD_DAY, "2026-02-28", true},
        {PERIOD_DAY, "2024-02-29", true},
        {PERIOD_DAY, "2000-02-29", true},
        {PERIOD_DAY, "2026-12-31", true},
        {PERIOD_DAY, "2026-04-30", true},
        {PERIOD_DAY, "0001-01-01", true},
        {PERIOD_DAY, "9999-12-31", true},
        {PERIOD_DAY, "2026-02-29", false}, /* not a leap year */
        {PERIOD_DAY, "1900-02-29", false}, /* divisible by 100, not by 400 */
        {PERIOD_DAY, "2100-02-29", false},
        {PERIOD_DAY, "2026-02-30", false},
        {PERIOD_DAY, "2026-04-31", false},
        {PERIOD_DAY, "2026-01-32", false},
        {PERIOD_DAY, "2026-13-01", false},
        {PERIOD_DAY, "2026-00-10", false},
        {PERIOD_DAY, "2026-01-00", false},
        {PERIOD_DAY, "0000-01-01", false},
        {PERIOD_DAY, "2026-1-01", false},
        {PERIOD_DAY, "2026-01-1", false},
        {PERIOD_DAY, "26-01-01", false},
        {PERIOD_DAY, "02026-01-01", false},
        {PERIOD_DAY, "2026/01/01", false},
        {PERIOD_DAY, "2026-01-01 ", false},
        {PERIOD_DAY, " 2026-01-01", false},
        {PERIOD_DAY, "2026-01-01\n", false},
        {PERIOD_DAY, "2026-01-01T00:00:00Z", false},
        {PERIOD_DAY, "2026-0a-01", false},
        {PERIOD_DAY, "+026-01-01", false},
        {PERIOD_DAY, "2026-W01", false},
        {PERIOD_DAY, "2026-01", false},
        {PERIOD_DAY, "", false},
        {PERIOD_WEEK, "2026-W01", true},
        {PERIOD_WEEK, "2026-W48", true},
        {PERIOD_WEEK, "2026-W53", true}, /* 2026 starts on a Thursday: 53 weeks */
        {PERIOD_WEEK, "2020-W53", true}, /* a leap year starting on a Wednesday */
        {PERIOD_WEEK, "2015-W53", true},
        {PERIOD_WEEK, "2021-W53", false},
        {PERIOD_WEEK, "2027-W53", false},
        {PERIOD_WEEK, "2026-W54", false},
        {PERIOD_WEEK, "2026-W00", false},
        {PERIOD_WEEK, "2026-W1", false},
        {PERIOD_WEEK, "2026-W001", false},
        {PERIOD_WEEK, "2026-w01", false},
        {PERIOD_WEEK, "2026W01", false},
        {PERIOD_WEEK, "2026-W01-1", false},
        {PERIOD_WEEK, "0000-W01", false},
        {PERIOD_WEEK, "0001-W01", true},
        {PERIOD_WEEK, "9999-W52", true},
        {PERIOD_WEEK, "9999-W53", false},
        {PERIOD_WEEK, "2026-01", false},
        {PERIOD_WEEK, "2026-01-05", false},
        {PERIOD_WEEK, "", false},
        {PERIOD_MONTH, "2026-12", true},
        {PERIOD_MONTH, "2026-01", true},
        {PERIOD_MONTH, "0001-01", true},
        {PERIOD_MONTH, "2026-13", false},
        {PERIOD_MONTH, "2026-00", false},
        {PERIOD_MONTH, "2026-1", false},
        {PERIOD_MONTH, "2026-012", false},
        {PERIOD_MONTH, "0000-12", false},
        {PERIOD_MONTH, "2026-12-01", false},
        {PERIOD_MONTH, "2026-W12", false},
        {PERIOD_MONTH, "2026-1a", false},
        {PERIOD_MONTH, "", false},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        bool got = period_key_valid(table[i].k, table[i].key);
        if (got != table[i].valid)
            fail_msg("%s key \"%s\": %s, want %s", period_name(table[i].k), table[i].key,
                     got ? "valid" : "invalid", table[i].valid ? "valid" : "invalid");
    }
    for (int k = PERIOD_DAY; k <= PERIOD_MONTH; k++)
        assert_false(period_key_valid((enum period_kind)k, NULL));
    assert_false(period_key_valid((enum period_kind)7, "2026-01-01"));
}

/* W53 is valid exactly in the years with 53 ISO weeks: those whose January 1st is a Thursday,
 * or a Wednesday in a leap year (the usual closed form, independent of period.c). */
static void week_53_in_long_years_only(void **state)
{
    (void)state;
    int long_years = 0;
    for (int y = 1; y <= 9999; y++) {
        int p = (y + y / 4 - y / 100 + y / 400) % 7, py = y - 1;
        int pp = (py + py / 4 - py / 100 + py / 400) % 7;
        bool is_long = p == 4 || pp == 3;
        char key[16];
        snprintf(key, sizeof(key), "%04d-W53", y);
        if (period_key_valid(PERIOD_WEEK, key) != is_long)
            fail_msg("%s: %s", key, is_long ? "refused" : "accepted");
        snprintf(key, sizeof(key), "%04d-W52", y);
        assert_true(period_key_valid(PERIOD_WEEK, key));
        long_years += is_long;
    }
    assert_int_equal(long_years, 71 * 25); /* 71 in 400 years; year 10000, like 2000, is short */
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(parse_and_name),
    cmocka_unit_test(keys_of_known_instants),
    cmocka_unit_test(keys_are_valid_and_sort_in_time_order),
    cmocka_unit_test(key_validation),
    cmocka_unit_test(week_53_in_long_years_only),
};

UNIT_MAIN(tests)
