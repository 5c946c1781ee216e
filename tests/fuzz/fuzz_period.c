/* Fuzz target for period keys and names (src/engine/period.c) and the calendar fields they are
 * made from (src/core/tz.c).
 *
 * The input, up to its first NUL, is a string handed to period_parse, period_key_valid for
 * each kind, tz_valid and tz_local. Every validity answer is checked against a slow reference
 * written from period.h's contract on top of glibc's timegm, gmtime_r and strftime ("%G",
 * "%V") rather than tz.c's arithmetic, and a valid key must be the key of the period it names
 * (period_key of its first instant gives it back, of the instant before does not).
 *
 * The input's first 8 bytes are also an instant: tz_utc's fields must match gmtime_r (after
 * clamping to years 1..9999), every key period_key writes must be valid and equal to the
 * reference's, and tz_local in a zone picked by the 9th byte must be the instant shifted by
 * the offset it reports. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/tz.h"
#include "engine/period.h"

#include "fuzz.h"

#define TZ_MIN_MS (-62135596800000LL) /* 0001-01-01T00:00:00.000Z */
#define TZ_MAX_MS 253402300799999LL   /* 9999-12-31T23:59:59.999Z */
#define DAY_S     86400

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static time_t utc_seconds(int y, int m, int d)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    return timegm(&tm);
}

/* The ISO year and week of second `t`, by strftime. */
static void iso_week_of(time_t t, int *year, int *week)
{
    struct tm tm;
    CHECK(gmtime_r(&t, &tm) != NULL);
    char g[16], v[8];
    CHECK(strftime(g, sizeof(g), "%G", &tm) > 0);
    CHECK(strftime(v, sizeof(v), "%V", &tm) > 0);
    *year = atoi(g);
    *week = atoi(v);
}

/* The contract: "YYYY-MM-DD" a real day, "YYYY-Www" a real ISO week, "YYYY-MM" a real month,
 * years 0001..9999. Sets *start to the period's first second when valid. */
static bool reference(enum period_kind k, const char *s, time_t *start)
{
    size_t n = strlen(s);
    int y, m, d;
    switch (k) {
    case PERIOD_DAY: {
        if (n != 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) || s[7] != '-' ||
            !digits(s + 8, 2, &d) || y < 1 || m < 1 || m > 12 || d < 1 || d > 31)
            return false;
        *start = utc_seconds(y, m, d);
        struct tm back;
        CHECK(gmtime_r(start, &back) != NULL);
        return back.tm_mday == d && back.tm_mon == m - 1; /* timegm moves Feb 30 to March */
    }
    case PERIOD_WEEK: {
        if (n != 8 || !digits(s, 4, &y) || s[4] != '-' || s[5] != 'W' || !digits(s + 6, 2, &d) ||
            y < 1 || d < 1 || d > 53)
            return false;
        time_t jan4 = utc_seconds(y, 1, 4); /* always in week 1 */
        struct tm tm;
        CHECK(gmtime_r(&jan4, &tm) != NULL);
        *start = jan4 - (time_t)((tm.tm_wday + 6) % 7) * DAY_S + (time_t)(d - 1) * 7 * DAY_S;
        int iy, iw;
        iso_week_of(*start, &iy, &iw);
        return iy == y && iw == d;
    }
    case PERIOD_MONTH:
        if (n != 7 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) || y < 1 || m < 1 ||
            m > 12)
            return false;
        *start = utc_seconds(y, m, 1);
        return true;
    }
    return false;
}

static void check_key_is_its_period(enum period_kind k, const char *key, time_t start)
{
    struct tz_local t;
    char again[PERIOD_KEY_MAX];
    tz_utc((int64_t)start * 1000, &t);
    period_key(k, &t, again);
    CHECK(strcmp(again, key) == 0);
    if ((int64_t)start * 1000 > TZ_MIN_MS) {
        tz_utc((int64_t)start * 1000 - 1, &t);
        period_key(k, &t, again);
        CHECK(strcmp(again, key) != 0);
    }
}

static void check_string(const char *s)
{
    enum period_kind k;
    if (period_parse(s, &k) == 0)
        CHECK(strcmp(period_name(k), s) == 0);
    for (int i = PERIOD_DAY; i <= PERIOD_MONTH; i++) {
        time_t start = 0;
        bool want = reference((enum period_kind)i, s, &start);
        bool got = period_key_valid((enum period_kind)i, s);
        if (got != want)
            fprintf(stderr, "%s key \"%s\": %d, reference %d\n", period_name((enum period_kind)i),
                    s, got, want);
        CHECK(got == want);
        if (got)
            check_key_is_its_period((enum period_kind)i, s, start);
    }
    /* zone names: an unknown one reads as UTC and says so */
    struct tz_local t, utc;
    int rc = tz_local(s, 1795443841000, &t);
    CHECK(rc == (tz_valid(s) ? 0 : -1));
    if (rc < 0) {
        tz_utc(1795443841000, &utc);
        CHECK(memcmp(&t, &utc, sizeof(t)) == 0);
    }
}

static void check_fields_sane(const struct tz_local *t)
{
    CHECK(t->year >= 1 && t->year <= 9999 && t->month >= 1 && t->month <= 12);
    CHECK(t->day >= 1 && t->day <= 31 && t->hour >= 0 && t->hour <= 23);
    CHECK(t->minute >= 0 && t->minute <= 59 && t->second >= 0 && t->second <= 59);
    CHECK(t->weekday >= 1 && t->weekday <= 7 && t->iso_week >= 1 && t->iso_week <= 53);
    CHECK(t->iso_year >= 1 && t->iso_year <= 9999);
    CHECK(t->month_index == (t->year - 1970) * 12 + t->month - 1);
    CHECK(t->day_index == tz_days_from_civil(t->year, t->month, t->day));
}

static void check_instant(int64_t ms, uint8_t zone_pick)
{
    static const char *zones[] = {"UTC",          "Europe/Paris",     "America/New_York",
                                  "Asia/Kolkata", "Pacific/Chatham",  "Pacific/Kiritimati",
                                  "Pacific/Apia", "Africa/Casablanca"};
    struct tz_local t;
    tz_utc(ms, &t);
    check_fields_sane(&t);
    CHECK(t.offset_s == 0);
    int64_t clamped = ms < TZ_MIN_MS ? TZ_MIN_MS : ms > TZ_MAX_MS ? TZ_MAX_MS : ms;
    time_t sec = (time_t)(clamped >= 0 ? clamped / 1000 : (clamped - 999) / 1000);
    struct tm tm;
    CHECK(gmtime_r(&sec, &tm) != NULL);
    CHECK(t.year == tm.tm_year + 1900 && t.month == tm.tm_mon + 1 && t.day == tm.tm_mday);
    CHECK(t.hour == tm.tm_hour && t.minute == tm.tm_min && t.second == tm.tm_sec);
    CHECK(t.weekday == (tm.tm_wday == 0 ? 7 : tm.tm_wday));
    int iy, iw;
    iso_week_of(sec, &iy, &iw);
    CHECK(t.iso_year == iy && t.iso_week == iw);

    char want[3][32];
    snprintf(want[PERIOD_DAY], sizeof(want[0]), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday);
    snprintf(want[PERIOD_WEEK], sizeof(want[0]), "%04d-W%02d", iy, iw);
    snprintf(want[PERIOD_MONTH], sizeof(want[0]), "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
    for (int i = PERIOD_DAY; i <= PERIOD_MONTH; i++) {
        char key[PERIOD_KEY_MAX];
        period_key((enum period_kind)i, &t, key);
        CHECK(strcmp(key, want[i]) == 0);
        CHECK(period_key_valid((enum period_kind)i, key));
    }

    /* in a zone: the fields of the instant shifted by the reported offset */
    const char *zone = zones[zone_pick % (sizeof(zones) / sizeof(zones[0]))];
    struct tz_local local, shifted;
    CHECK(tz_local(zone, ms, &local) == 0);
    check_fields_sane(&local);
    CHECK(local.offset_s > -16 * 3600 && local.offset_s < 16 * 3600);
    tz_utc(clamped + (int64_t)local.offset_s * 1000, &shifted);
    shifted.offset_s = local.offset_s;
    CHECK(memcmp(&local, &shifted, sizeof(local)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[96];
    size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    check_string(s);
    if (size >= 8) {
        int64_t ms;
        memcpy(&ms, data, sizeof(ms));
        check_instant(ms, size > 8 ? data[8] : 0);
    }
    return 0;
}
