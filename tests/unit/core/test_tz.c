/* Unit tests for src/core/tz.c: the local calendar fields streaks, period keys and time-of-day
 * bonuses are computed from. Expected fields come from Python's datetime and zoneinfo; on top
 * of the tables, tz_local is checked against ICU's own calendar fields for many instants
 * (random, and on each side of every transition) in zones with unusual offsets and rules. */
#include "unit.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/uenum.h>
#include <unicode/ustring.h>

#include "core/clock.h"
#include "core/tz.h"

#define DAY_MS 86400000LL

struct want {
    int64_t ms;
    int year, month, day, hour, minute, second, weekday, iso_year, iso_week;
    int32_t day_index, week_index, month_index, offset_s;
};

static void assert_fields(const char *what, const struct tz_local *t, const struct want *w)
{
    if (t->year != w->year || t->month != w->month || t->day != w->day || t->hour != w->hour ||
        t->minute != w->minute || t->second != w->second || t->weekday != w->weekday ||
        t->iso_year != w->iso_year || t->iso_week != w->iso_week || t->day_index != w->day_index ||
        t->week_index != w->week_index || t->month_index != w->month_index ||
        t->offset_s != w->offset_s)
        fail_msg("%s at %lld:\n got  %04d-%02d-%02d %02d:%02d:%02d wd %d %d-W%02d day %d week "
                 "%d month %d off %d\n want %04d-%02d-%02d %02d:%02d:%02d wd %d %d-W%02d day %d "
                 "week %d month %d off %d",
                 what, (long long)w->ms, t->year, t->month, t->day, t->hour, t->minute, t->second,
                 t->weekday, t->iso_year, t->iso_week, t->day_index, t->week_index, t->month_index,
                 t->offset_s, w->year, w->month, w->day, w->hour, w->minute, w->second, w->weekday,
                 w->iso_year, w->iso_week, w->day_index, w->week_index, w->month_index,
                 w->offset_s);
}

static int64_t parse(const char *iso)
{
    int64_t ms = 0;
    if (clock_parse_iso(iso, strlen(iso), &ms) != 0)
        fail_msg("bad test timestamp %s", iso);
    return ms;
}

/* ---- UTC ------------------------------------------------------------------------------------ */

static void utc_fields_of_known_instants(void **state)
{
    (void)state;
    static const struct want table[] = {
        {0LL, 1970, 1, 1, 0, 0, 0, 4, 1970, 1, 0, 0, 0, 0},
        {-1LL, 1969, 12, 31, 23, 59, 59, 3, 1970, 1, -1, 0, -1, 0},
        {-259200000LL, 1969, 12, 29, 0, 0, 0, 1, 1970, 1, -3, 0, -1, 0}, /* Monday of week 0 */
        {-259200001LL, 1969, 12, 28, 23, 59, 59, 7, 1969, 52, -4, -1, -1, 0},
        {-2203891200000LL, 1900, 3, 1, 0, 0, 0, 4, 1900, 9, -25508, -3644, -838, 0},
        {-2208943504000LL, 1900, 1, 1, 12, 34, 56, 1, 1900, 1, -25567, -3652, -840, 0},
        {-12187734772000LL, 1583, 10, 15, 6, 7, 8, 6, 1583, 41, -141062, -20152, -4635, 0},
        {951782400000LL, 2000, 2, 29, 0, 0, 0, 2, 2000, 9, 11016, 1574, 361, 0},
        {1709251199999LL, 2024, 2, 29, 23, 59, 59, 4, 2024, 9, 19782, 2826, 649, 0},
        {1700000000123LL, 2023, 11, 14, 22, 13, 20, 2, 2023, 46, 19675, 2811, 646, 0},
        {1795443841000LL, 2026, 11, 23, 14, 24, 1, 1, 2026, 48, 20780, 2969, 682, 0},
        {-62135596800000LL, 1, 1, 1, 0, 0, 0, 1, 1, 1, -719162, -102737, -23628, 0},
        {253402300799999LL, 9999, 12, 31, 23, 59, 59, 5, 9999, 52, 2932896, 418985, 96359, 0},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        struct tz_local t;
        memset(&t, 0x55, sizeof(t));
        tz_utc(table[i].ms, &t);
        assert_fields("tz_utc", &t, &table[i]);
        /* UTC by name is the same calendar */
        memset(&t, 0x55, sizeof(t));
        assert_int_equal(tz_local("UTC", table[i].ms, &t), 0);
        assert_fields("tz_local UTC", &t, &table[i]);
    }
}

/* Before 1970 days and weeks floor: the last millisecond of 1969 is day -1, not day 0. */
static void utc_negative_instants_floor(void **state)
{
    (void)state;
    struct tz_local t;
    tz_utc(-1, &t);
    assert_int_equal(t.day_index, -1);
    assert_int_equal(t.hour, 23);
    tz_utc(-DAY_MS, &t);
    assert_int_equal(t.day_index, -1);
    assert_int_equal(t.hour, 0);
    tz_utc(-DAY_MS - 1, &t);
    assert_int_equal(t.day_index, -2);
    tz_utc(-4 * DAY_MS, &t); /* Sunday 1969-12-28: the week before week 0 */
    assert_int_equal(t.weekday, 7);
    assert_int_equal(t.week_index, -1);
    tz_utc(-10 * DAY_MS - 1, &t); /* Sunday 1969-12-21, 23:59:59.999 */
    assert_int_equal(t.weekday, 7);
    assert_int_equal(t.week_index, -2);
    tz_utc(-10 * DAY_MS, &t); /* Monday 1969-12-22 */
    assert_int_equal(t.weekday, 1);
    assert_int_equal(t.week_index, -1);
}

static void utc_iso_weeks_at_year_boundaries(void **state)
{
    (void)state;
    static const struct {
        const char *date;
        int iso_year, iso_week, weekday;
    } table[] = {
        {"2020-12-31", 2020, 53, 4}, {"2021-01-01", 2020, 53, 5}, {"2021-01-03", 2020, 53, 7},
        {"2021-01-04", 2021, 1, 1},  {"2026-12-28", 2026, 53, 1}, {"2026-12-31", 2026, 53, 4},
        {"2027-01-01", 2026, 53, 5}, {"2027-01-03", 2026, 53, 7}, {"2027-01-04", 2027, 1, 1},
        {"2024-12-29", 2024, 52, 7}, {"2024-12-30", 2025, 1, 1},  {"2025-01-01", 2025, 1, 3},
        {"2008-12-28", 2008, 52, 7}, {"2008-12-29", 2009, 1, 1},  {"2009-12-31", 2009, 53, 4},
        {"2010-01-03", 2009, 53, 7}, {"2010-01-04", 2010, 1, 1},  {"2015-12-31", 2015, 53, 4},
        {"2016-01-03", 2015, 53, 7}, {"1969-12-28", 1969, 52, 7}, {"1969-12-29", 1970, 1, 1},
        {"1970-01-04", 1970, 1, 7},  {"1970-01-05", 1970, 2, 1},  {"1900-01-01", 1900, 1, 1},
        {"1899-12-31", 1899, 52, 7}, {"2000-01-02", 1999, 52, 7}, {"2000-01-03", 2000, 1, 1},
        {"2004-12-31", 2004, 53, 5}, {"2005-01-02", 2004, 53, 7},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        char iso[32];
        snprintf(iso, sizeof(iso), "%sT12:00:00Z", table[i].date);
        struct tz_local t;
        tz_utc(parse(iso), &t);
        if (t.iso_year != table[i].iso_year || t.iso_week != table[i].iso_week ||
            t.weekday != table[i].weekday)
            fail_msg("%s: got %d-W%02d-%d, want %d-W%02d-%d", table[i].date, t.iso_year, t.iso_week,
                     t.weekday, table[i].iso_year, table[i].iso_week, table[i].weekday);
    }
}

static void utc_leap_years(void **state)
{
    (void)state;
    static const struct {
        int year;
        bool leap;
    } table[] = {{2000, true},  {2024, true},  {1996, true},  {1600, true}, {2400, true},
                 {1900, false}, {2100, false}, {2023, false}, {1700, false}};
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        char iso[32];
        snprintf(iso, sizeof(iso), "%04d-02-28T23:59:59Z", table[i].year);
        struct tz_local t;
        tz_utc(parse(iso) + 1000, &t); /* the next second */
        assert_int_equal(t.year, table[i].year);
        assert_int_equal(t.month, table[i].leap ? 2 : 3);
        assert_int_equal(t.day, table[i].leap ? 29 : 1);
        snprintf(iso, sizeof(iso), "%04d-12-31T00:00:00Z", table[i].year);
        int64_t dec31 = tz_days_from_civil(table[i].year, 12, 31);
        int64_t jan1 = tz_days_from_civil(table[i].year, 1, 1);
        assert_int_equal(dec31 - jan1 + 1, table[i].leap ? 366 : 365);
        assert_int_equal(dec31 * DAY_MS, parse(iso));
    }
}

/* Day by day over 1890..2110: every index moves by exactly one unit when it should. */
static void utc_indexes_are_consecutive(void **state)
{
    (void)state;
    struct tz_local prev, t;
    int64_t first = tz_days_from_civil(1890, 1, 1), last = tz_days_from_civil(2110, 12, 31);
    tz_utc(first * DAY_MS + 43200000, &prev);
    for (int64_t d = first + 1; d <= last; d++) {
        tz_utc(d * DAY_MS + 43200000, &t);
        assert_int_equal(t.day_index, d);
        assert_int_equal(t.day_index, prev.day_index + 1);
        assert_int_equal(t.weekday, prev.weekday % 7 + 1);
        if (t.weekday == 1) {
            assert_int_equal(t.week_index, prev.week_index + 1);
            if (t.iso_week == 1) {
                assert_int_equal(t.iso_year, prev.iso_year + 1);
                assert_true(prev.iso_week == 52 || prev.iso_week == 53);
            } else {
                assert_int_equal(t.iso_year, prev.iso_year);
                assert_int_equal(t.iso_week, prev.iso_week + 1);
            }
        } else {
            assert_int_equal(t.week_index, prev.week_index);
            assert_int_equal(t.iso_week, prev.iso_week);
            assert_int_equal(t.iso_year, prev.iso_year);
        }
        assert_int_equal(t.month_index, prev.month_index + (t.day == 1));
        assert_int_equal(t.month_index, (t.year - 1970) * 12 + t.month - 1);
        /* week 1 holds January 4th; the ISO year is at most one off the calendar year */
        if (t.month == 1 && t.day == 4)
            assert_int_equal(t.iso_week, 1);
        assert_true(t.iso_year - t.year >= -1 && t.iso_year - t.year <= 1);
        prev = t;
    }
}

/* Beyond years 1..9999 the instant is clamped, so every field stays printable. */
static void utc_clamps_far_instants(void **state)
{
    (void)state;
    struct tz_local t;
    tz_utc(INT64_MIN, &t);
    assert_int_equal(t.year, 1);
    assert_int_equal(t.month, 1);
    assert_int_equal(t.day, 1);
    assert_int_equal(t.iso_year, 1);
    assert_int_equal(t.iso_week, 1);
    tz_utc(INT64_MAX, &t);
    assert_int_equal(t.year, 9999);
    assert_int_equal(t.month, 12);
    assert_int_equal(t.day, 31);
    assert_int_equal(t.hour, 23);
    assert_int_equal(t.second, 59);
    assert_int_equal(t.iso_year, 9999);
    /* a zone's offset cannot push the local date past them either */
    assert_int_equal(tz_local("Pacific/Kiritimati", INT64_MAX, &t), 0);
    assert_int_equal(t.year, 9999);
    assert_int_equal(tz_local("America/New_York", INT64_MIN, &t), 0);
    assert_int_equal(t.year, 1);
}

/* ---- zones ---------------------------------------------------------------------------------- */

static void check_zone(const char *zone, const struct want *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct tz_local t;
        memset(&t, 0x55, sizeof(t));
        assert_int_equal(tz_local(zone, table[i].ms, &t), 0);
        assert_fields(zone, &t, &table[i]);
    }
}

/* 2026-03-29 01:00Z clocks jump 02:00 -> 03:00; 2026-10-25 01:00Z they fall 03:00 -> 02:00. */
static void local_paris_across_dst(void **state)
{
    (void)state;
    static const struct want table[] = {
        {1774745999000LL, 2026, 3, 29, 1, 59, 59, 7, 2026, 13, 20541, 2934, 674, 3600},
        {1774746000000LL, 2026, 3, 29, 3, 0, 0, 7, 2026, 13, 20541, 2934, 674, 7200},
        {1774747800000LL, 2026, 3, 29, 3, 30, 0, 7, 2026, 13, 20541, 2934, 674, 7200},
        {1792889999000LL, 2026, 10, 25, 2, 59, 59, 7, 2026, 43, 20751, 2964, 681, 7200},
        {1792890000000LL, 2026, 10, 25, 2, 0, 0, 7, 2026, 43, 20751, 2964, 681, 3600},
        /* 23:30Z on New Year's Eve is already 2027 in Paris, still ISO week 2026-W53 */
        {1798759800000LL, 2027, 1, 1, 0, 30, 0, 5, 2026, 53, 20819, 2974, 684, 3600},
    };
    check_zone("Europe/Paris", table, sizeof(table) / sizeof(table[0]));
    /* in any order: the cached span moves backwards too */
    for (size_t i = sizeof(table) / sizeof(table[0]); i-- > 0;)
        check_zone("Europe/Paris", &table[i], 1);
}

static void local_new_york_across_dst(void **state)
{
    (void)state;
    static const struct want table[] = {
        {1772953199000LL, 2026, 3, 8, 1, 59, 59, 7, 2026, 10, 20520, 2931, 674, -18000},
        {1772953200000LL, 2026, 3, 8, 3, 0, 0, 7, 2026, 10, 20520, 2931, 674, -14400},
        {1773027000000LL, 2026, 3, 8, 23, 30, 0, 7, 2026, 10, 20520, 2931, 674, -14400},
        {1793512799000LL, 2026, 11, 1, 1, 59, 59, 7, 2026, 44, 20758, 2965, 682, -14400},
        {1793512800000LL, 2026, 11, 1, 1, 0, 0, 7, 2026, 44, 20758, 2965, 682, -18000},
        /* the evening before the epoch, in New York */
        {-14400000LL, 1969, 12, 31, 15, 0, 0, 3, 1970, 1, -1, 0, -1, -18000},
    };
    check_zone("America/New_York", table, sizeof(table) / sizeof(table[0]));
    check_zone("US/Eastern", table, sizeof(table) / sizeof(table[0])); /* an alias */
}

/* Southern hemisphere: DST ends in April and starts in October. */
static void local_sydney_across_dst(void **state)
{
    (void)state;
    static const struct want table[] = {
        {1775318399000LL, 2026, 4, 5, 2, 59, 59, 7, 2026, 14, 20548, 2935, 675, 39600},
        {1775318400000LL, 2026, 4, 5, 2, 0, 0, 7, 2026, 14, 20548, 2935, 675, 36000},
        {1791043199000LL, 2026, 10, 4, 1, 59, 59, 7, 2026, 40, 20730, 2961, 681, 36000},
        {1791043200000LL, 2026, 10, 4, 3, 0, 0, 7, 2026, 40, 20730, 2961, 681, 39600},
        {1798722000000LL, 2027, 1, 1, 0, 0, 0, 5, 2026, 53, 20819, 2974, 684, 39600},
    };
    check_zone("Australia/Sydney", table, sizeof(table) / sizeof(table[0]));
}

static void local_kolkata_half_hour(void **state)
{
    (void)state;
    static const struct want table[] = {
        {1795458599000LL, 2026, 11, 23, 23, 59, 59, 1, 2026, 48, 20780, 2969, 682, 19800},
        {1795458600000LL, 2026, 11, 24, 0, 0, 0, 2, 2026, 48, 20781, 2969, 682, 19800},
    };
    check_zone("Asia/Kolkata", table, sizeof(table) / sizeof(table[0]));
    check_zone("Asia/Calcutta", table, sizeof(table) / sizeof(table[0]));
}

/* +12:45 in winter, +13:45 in summer, switching at 02:45 / 03:45 local. */
static void local_chatham_quarter_hours(void **state)
{
    (void)state;
    static const struct want table[] = {
        {1775311199000LL, 2026, 4, 5, 3, 44, 59, 7, 2026, 14, 20548, 2935, 675, 49500},
        {1775311200000LL, 2026, 4, 5, 2, 45, 0, 7, 2026, 14, 20548, 2935, 675, 45900},
        {1790431199000LL, 2026, 9, 27, 2, 44, 59, 7, 2026, 39, 20723, 2960, 680, 45900},
        {1790431200000LL, 2026, 9, 27, 3, 45, 0, 7, 2026, 39, 20723, 2960, 680, 49500},
        {1782904500000LL, 2026, 7, 2, 0, 0, 0, 4, 2026, 27, 20636, 2948, 678, 45900},
        {1767262500000LL, 2026, 1, 2, 0, 0, 0, 5, 2026, 1, 20455, 2922, 672, 49500},
    };
    check_zone("Pacific/Chatham", table, sizeof(table) / sizeof(table[0]));
}

/* The indexes of a local time are those of its local date, whatever the zone. */
static void local_indexes_follow_the_local_date(void **state)
{
    (void)state;
    static const char *zones[] = {
        "UTC",          "Europe/Paris",    "America/New_York",   "Australia/Sydney",
        "Asia/Kolkata", "Pacific/Chatham", "Pacific/Kiritimati", "Pacific/Pago_Pago"};
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        for (int64_t ms = parse("1965-01-01T00:00:00Z"); ms < parse("2035-01-01T00:00:00Z");
             ms += 3 * 3600 * 1000 + 7 * 60 * 1000 + 11000) {
            struct tz_local t, date;
            assert_int_equal(tz_local(zones[z], ms, &t), 0);
            int64_t day = tz_days_from_civil(t.year, t.month, t.day);
            assert_int_equal(t.day_index, day);
            tz_utc(day * DAY_MS, &date); /* the same local date, read as UTC midnight */
            assert_int_equal(t.week_index, date.week_index);
            assert_int_equal(t.iso_week, date.iso_week);
            assert_int_equal(t.iso_year, date.iso_year);
            assert_int_equal(t.weekday, date.weekday);
            assert_int_equal(t.month_index, date.month_index);
            /* and local = instant + offset (the instants are whole seconds) */
            int64_t local = day * DAY_MS + ((t.hour * 60 + t.minute) * 60 + t.second) * 1000LL;
            assert_int_equal(local - ms, (int64_t)t.offset_s * 1000);
        }
    }
}

static void valid_names(void **state)
{
    (void)state;
    static const char *good[] = {
        "Europe/Paris",    "UTC",          "Etc/UTC",         "America/New_York",
        "US/Eastern",      "Asia/Kolkata", "Asia/Calcutta",   "Etc/GMT+5",
        "Pacific/Chatham", "GMT",          "Australia/Sydney"};
    static const char *bad[] = {
        "Mars/Olympus",
        "",
        "../etc",
        "../../etc/passwd",
        "/usr/share/zoneinfo/UTC",
        "utc",
        "europe/paris",
        "Europe/Paris ",
        " Europe/Paris",
        "Europe/Paris/",
        "Europe//Paris",
        "Europe/Z\xc3\xbcrich",
        "GMT+05:00", /* a custom offset, not a zone */
        "Etc/Unknown",
        "localtime",
        "Europe/Paris\n",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!tz_valid(good[i]))
            fail_msg("\"%s\" refused", good[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (tz_valid(bad[i]))
            fail_msg("\"%s\" accepted", bad[i]);
    }
    assert_false(tz_valid(NULL));
}

/* An unknown zone answers -1 with UTC's fields, every time (it is cached as unknown). */
static void unknown_zone_is_utc(void **state)
{
    (void)state;
    static const char *bad[] = {
        "Mars/Olympus", "",
        "../etc",       "Etc/Unknown",
        "utc",          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    int64_t ms = parse("2026-07-01T23:30:00Z");
    struct tz_local utc;
    tz_utc(ms, &utc);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int round = 0; round < 2; round++) {
            struct tz_local t;
            memset(&t, 0x55, sizeof(t));
            assert_int_equal(tz_local(bad[i], ms, &t), -1);
            assert_memory_equal(&t, &utc, sizeof(t));
        }
    }
    struct tz_local t;
    assert_int_equal(tz_local(NULL, ms, &t), 0); /* no zone at all: UTC, not an error */
    assert_memory_equal(&t, &utc, sizeof(t));
    /* and a known zone still converts after them */
    assert_int_equal(tz_local("Europe/Paris", ms, &t), 0);
    assert_int_equal(t.day, 2);
    assert_int_equal(t.hour, 1);
}

/* ---- against ICU itself --------------------------------------------------------------------- */

static UCalendar *icu_open(const char *zone)
{
    UChar id[128];
    u_uastrcpy(id, zone);
    UErrorCode st = U_ZERO_ERROR;
    UCalendar *cal = ucal_open(id, -1, "", UCAL_GREGORIAN, &st);
    assert_true(U_SUCCESS(st));
    ucal_setAttribute(cal, UCAL_FIRST_DAY_OF_WEEK, UCAL_MONDAY); /* ISO weeks */
    ucal_setAttribute(cal, UCAL_MINIMAL_DAYS_IN_FIRST_WEEK, 4);
    return cal;
}

/* Whether tz_local agrees with ICU's calendar fields at ms; why not into `why`. */
static bool matches_icu(const char *zone, UCalendar *cal, int64_t ms, char *why, size_t n)
{
    struct tz_local t;
    int rc = tz_local(zone, ms, &t);
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(cal, (UDate)ms, &st);
    int y = ucal_get(cal, UCAL_YEAR, &st), mo = ucal_get(cal, UCAL_MONTH, &st) + 1,
        d = ucal_get(cal, UCAL_DATE, &st), h = ucal_get(cal, UCAL_HOUR_OF_DAY, &st),
        mi = ucal_get(cal, UCAL_MINUTE, &st), s = ucal_get(cal, UCAL_SECOND, &st),
        dow = ucal_get(cal, UCAL_DAY_OF_WEEK, &st), woy = ucal_get(cal, UCAL_WEEK_OF_YEAR, &st),
        ywoy = ucal_get(cal, UCAL_YEAR_WOY, &st),
        off = ucal_get(cal, UCAL_ZONE_OFFSET, &st) + ucal_get(cal, UCAL_DST_OFFSET, &st);
    int wd = dow == UCAL_SUNDAY ? 7 : dow - 1;
    if (rc == 0 && U_SUCCESS(st) && t.year == y && t.month == mo && t.day == d && t.hour == h &&
        t.minute == mi && t.second == s && t.weekday == wd && t.iso_week == woy &&
        t.iso_year == ywoy && (int64_t)t.offset_s * 1000 == off)
        return true;
    snprintf(why, n,
             "%s at %lld (rc %d): got %04d-%02d-%02d %02d:%02d:%02d wd %d %d-W%02d off %d s; "
             "ICU (%s) %04d-%02d-%02d %02d:%02d:%02d wd %d %d-W%02d off %d ms",
             zone, (long long)ms, rc, t.year, t.month, t.day, t.hour, t.minute, t.second, t.weekday,
             t.iso_year, t.iso_week, t.offset_s, u_errorName(st), y, mo, d, h, mi, s, wd, ywoy, woy,
             off);
    return false;
}

static void assert_matches_icu(const char *zone, UCalendar *cal, int64_t ms)
{
    char why[512];
    if (!matches_icu(zone, cal, ms, why, sizeof(why)))
        fail_msg("%s", why);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13; /* xorshift64 */
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Zones with unusual offsets or rules: quarter hours, 30-minute DST, DST in winter (Dublin's
 * negative DST in the tz data), a skipped day (Apia, 2011), +14, local mean time before 1900s
 * standard time (Amsterdam's +00:19:32), DST moved around Ramadan (Casablanca). */
static const char *const odd_zones[] = {
    "Europe/Paris",       "America/New_York",    "Australia/Sydney",  "Asia/Kolkata",
    "Pacific/Chatham",    "Australia/Lord_Howe", "Europe/Dublin",     "Pacific/Apia",
    "Pacific/Kiritimati", "Europe/Amsterdam",    "Africa/Casablanca", "Asia/Kathmandu",
    "America/St_Johns",   "America/Sao_Paulo",   "Antarctica/Troll",  "Africa/Monrovia",
    "Europe/London",      "America/Los_Angeles", "Asia/Tehran",       "America/Santiago",
};

#define MS_1900 (-2208988800000LL)
#define MS_2100 4102444800000LL

static void local_matches_icu_at_random_instants(void **state)
{
    (void)state;
    for (size_t z = 0; z < sizeof(odd_zones) / sizeof(odd_zones[0]); z++) {
        UCalendar *cal = icu_open(odd_zones[z]);
        /* jumps anywhere in 1900..2100: a new span nearly every call */
        for (int i = 0; i < 20000; i++) {
            int64_t ms = MS_1900 + (int64_t)(rng() % (uint64_t)(MS_2100 - MS_1900));
            assert_matches_icu(odd_zones[z], cal, ms);
        }
        /* a walk through 2026 with random instants in between: the walk's span stays cached
         * beside the last random one */
        for (int64_t i = 0; i < 20000; i++) {
            int64_t ms = i % 2 ? parse("2026-01-01T00:00:00Z") + i * 1571 * 1000
                               : MS_1900 + (int64_t)(rng() % (uint64_t)(MS_2100 - MS_1900));
            assert_matches_icu(odd_zones[z], cal, ms);
        }
        /* a walk forwards with odd steps: mostly inside the cached span */
        for (int64_t ms = parse("2019-12-30T00:00:00Z"); ms < parse("2027-01-05T00:00:00Z");
             ms += 37 * 60 * 1000 + 1234)
            assert_matches_icu(odd_zones[z], cal, ms);
        ucal_close(cal);
    }
}

/* On each side of every transition over 1900..2100, where a wrong span would show first. */
static void local_matches_icu_at_every_transition(void **state)
{
    (void)state;
    size_t transitions = 0;
    for (size_t z = 0; z < sizeof(odd_zones) / sizeof(odd_zones[0]); z++) {
        UCalendar *cal = icu_open(odd_zones[z]);
        UCalendar *walk = icu_open(odd_zones[z]);
        UErrorCode st = U_ZERO_ERROR;
        ucal_setMillis(walk, (UDate)MS_1900, &st);
        UDate next;
        while (ucal_getTimeZoneTransitionDate(walk, UCAL_TZ_TRANSITION_NEXT, &next, &st) &&
               next < (UDate)MS_2100) {
            int64_t at = (int64_t)next;
            static const int64_t around[] = {-3600001, -1001, -1, 0, 1, 999, 3600000};
            for (size_t i = 0; i < sizeof(around) / sizeof(around[0]); i++)
                assert_matches_icu(odd_zones[z], cal, at + around[i]);
            for (size_t i = sizeof(around) / sizeof(around[0]); i-- > 0;)
                assert_matches_icu(odd_zones[z], cal, at + around[i]);
            ucal_setMillis(walk, next, &st);
            transitions++;
        }
        assert_true(U_SUCCESS(st));
        ucal_close(walk);
        ucal_close(cal);
    }
    assert_true(transitions > 2000); /* the walk really went through the zones' history */
}

/* Every zone ICU has, twice over (more zones than a thread's table holds, so it is emptied
 * and refilled along the way). */
static void local_matches_icu_in_every_zone(void **state)
{
    (void)state;
    UErrorCode st = U_ZERO_ERROR;
    UEnumeration *e = ucal_openTimeZones(&st);
    assert_true(U_SUCCESS(st));
    size_t zones = 0;
    for (int round = 0; round < 2; round++) {
        uenum_reset(e, &st);
        const char *id;
        int32_t len;
        while ((id = uenum_next(e, &len, &st)) != NULL) {
            if (len > TZ_NAME_MAX)
                continue;
            char name[TZ_NAME_MAX + 1];
            memcpy(name, id, (size_t)len + 1);
            UCalendar *cal = icu_open(name);
            assert_true(tz_valid(name));
            for (int i = 0; i < 20; i++) {
                int64_t ms = MS_1900 + (int64_t)(rng() % (uint64_t)(MS_2100 - MS_1900));
                assert_matches_icu(name, cal, ms);
            }
            ucal_close(cal);
            zones++;
        }
    }
    assert_true(U_SUCCESS(st));
    uenum_close(e);
    assert_true(zones > 2 * 256);
}

/* Each thread has its own table, freed when it exits (the sanitizer build sees a leak if
 * not). */
/* Each thread has its own table, freed when it exits (the sanitizer build sees a leak if
 * not). A thread only counts mismatches: cmocka's checks belong to the main thread. */
struct thread_arg {
    const char *zone;
    int mismatches;
    char why[512];
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    UCalendar *cal = icu_open(a->zone);
    for (uint64_t i = 0; i < 2000; i++) {
        int64_t ms = MS_1900 + (int64_t)(i * 2654435761u * 1000003u % (MS_2100 - MS_1900));
        if (!matches_icu(a->zone, cal, ms, a->why, sizeof(a->why)))
            a->mismatches++;
    }
    ucal_close(cal);
    return NULL;
}

static void threads_have_their_own_tables(void **state)
{
    (void)state;
    struct thread_arg args[] = {{"Europe/Paris", 0, ""},
                                {"Pacific/Chatham", 0, ""},
                                {"America/New_York", 0, ""},
                                {"Asia/Kolkata", 0, ""}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < 4; i++) {
        if (args[i].mismatches)
            fail_msg("%d mismatches, e.g. %s", args[i].mismatches, args[i].why);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(utc_fields_of_known_instants),
    cmocka_unit_test(utc_negative_instants_floor),
    cmocka_unit_test(utc_iso_weeks_at_year_boundaries),
    cmocka_unit_test(utc_leap_years),
    cmocka_unit_test(utc_indexes_are_consecutive),
    cmocka_unit_test(utc_clamps_far_instants),
    cmocka_unit_test(local_paris_across_dst),
    cmocka_unit_test(local_new_york_across_dst),
    cmocka_unit_test(local_sydney_across_dst),
    cmocka_unit_test(local_kolkata_half_hour),
    cmocka_unit_test(local_chatham_quarter_hours),
    cmocka_unit_test(local_indexes_follow_the_local_date),
    cmocka_unit_test(valid_names),
    cmocka_unit_test(unknown_zone_is_utc),
    cmocka_unit_test(local_matches_icu_at_random_instants),
    cmocka_unit_test(local_matches_icu_at_every_transition),
    cmocka_unit_test(local_matches_icu_in_every_zone),
    cmocka_unit_test(threads_have_their_own_tables),
};

UNIT_MAIN(tests)
