/* Unit tests for src/core/clock.c: the ISO 8601 form every createdAt/updatedAt/lastUsedAt in
 * the API is written with, the RFC 3339 parser event timestamps go through, and the wall
 * clock itself. Expected instants come from Python's calendar.timegm. */
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"

static void assert_iso(int64_t ms, const char *want)
{
    char out[CLOCK_ISO_LEN];
    memset(out, 'x', sizeof(out));
    clock_iso(ms, out);
    assert_string_equal(out, want);
    assert_int_equal(strlen(out), CLOCK_ISO_LEN - 1);
}

static void iso_of_zero_is_the_epoch(void **state)
{
    (void)state;
    assert_iso(0, "1970-01-01T00:00:00.000Z");
}

static void iso_of_known_instants(void **state)
{
    (void)state;
    assert_iso(1700000000123, "2023-11-14T22:13:20.123Z");
    assert_iso(951782400000, "2000-02-29T00:00:00.000Z"); /* leap day */
    assert_iso(253402300799999, "9999-12-31T23:59:59.999Z");
}

static void iso_pads_milliseconds_to_three_digits(void **state)
{
    (void)state;
    assert_iso(5, "1970-01-01T00:00:00.005Z");
    assert_iso(50, "1970-01-01T00:00:00.050Z");
    assert_iso(1700000000007, "2023-11-14T22:13:20.007Z");
}

/* Before 1970 the milliseconds still count forward within the second. */
static void iso_of_negative_ms_before_1970(void **state)
{
    (void)state;
    assert_iso(-1, "1969-12-31T23:59:59.999Z");
    assert_iso(-1000, "1969-12-31T23:59:59.000Z");
    assert_iso(-1001, "1969-12-31T23:59:58.999Z");
    assert_iso(-86400000, "1969-12-31T00:00:00.000Z");
}

/* clock_parse_iso on exactly len bytes of s, copied into a buffer of exactly that size so
 * AddressSanitizer reports any read past the end (s is not NUL-terminated there). */
static int parse_exact(const char *s, size_t len, int64_t *ms)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, s, len);
    int rc = clock_parse_iso(len ? copy : copy + 1, len, ms); /* len 0: a pointer to nothing */
    free(copy);
    return rc;
}

static void assert_parses(const char *s, int64_t want)
{
    int64_t got = 42;
    int rc = parse_exact(s, strlen(s), &got);
    if (rc != 0)
        fail_msg("\"%s\": rejected (rc %d), want %lld", s, rc, (long long)want);
    if (got != want)
        fail_msg("\"%s\": got %lld, want %lld", s, (long long)got, (long long)want);
}

static void assert_rejects(const char *s)
{
    int64_t got = 42;
    int rc = parse_exact(s, strlen(s), &got);
    if (rc != -1)
        fail_msg("\"%s\": accepted (rc %d, ms %lld), want rejection", s, rc, (long long)got);
}

static void parse_iso_known_instants(void **state)
{
    (void)state;
    assert_parses("1970-01-01T00:00:00Z", 0);
    assert_parses("2023-11-14T22:13:20Z", 1700000000000);
    assert_parses("2023-11-14T22:13:20.123Z", 1700000000123);
    assert_parses("1969-12-31T23:59:59.999Z", -1);
    assert_parses("1900-03-01T00:00:00Z", -2203891200000);
    assert_parses("0001-01-01T00:00:00Z", -62135596800000);
    assert_parses("2023-12-31T23:59:59Z", 1704067199000);
    assert_parses("2023-04-30T00:00:00Z", 1682812800000);
    assert_parses("9999-12-31T23:59:59.999Z", 253402300799999);
}

static void parse_iso_accepts_lower_case_t_and_z(void **state)
{
    (void)state;
    assert_parses("2023-11-14t22:13:20Z", 1700000000000);
    assert_parses("2023-11-14T22:13:20z", 1700000000000);
    assert_parses("2023-11-14t22:13:20.123z", 1700000000123);
}

static void parse_iso_applies_offsets(void **state)
{
    (void)state;
    assert_parses("2023-11-14T23:13:20+01:00", 1700000000000);
    assert_parses("2023-11-14T16:43:20-05:30", 1700000000000);
    assert_parses("2023-11-14T22:13:20+00:00", 1700000000000);
    assert_parses("2023-11-14T22:13:20-00:00", 1700000000000);
    assert_parses("1970-01-01T00:00:00-00:01", 60000);
    assert_parses("2024-02-29T23:59:59+23:59", 1709164859000); /* the widest offset */
    assert_parses("2023-11-14T23:13:20.123+01:00", 1700000000123);
}

static void parse_iso_truncates_fractions_to_milliseconds(void **state)
{
    (void)state;
    assert_parses("2026-11-23T14:24:01.5Z", 1795443841500);
    assert_parses("2026-11-23T14:24:01.05Z", 1795443841050);
    assert_parses("2026-11-23T14:24:01.123Z", 1795443841123);
    assert_parses("2026-11-23T14:24:01.1239Z", 1795443841123); /* truncated, not rounded */
    assert_parses("2026-11-23T14:24:01.123456Z", 1795443841123);
    assert_parses("2026-11-23T14:24:01.999999999Z", 1795443841999); /* 9 digits: the most */
    assert_parses("2026-11-23T14:24:01.000000001Z", 1795443841000);
    assert_parses("2026-11-23T14:24:01.5+01:00", 1795440241500);
}

static void parse_iso_checks_leap_years(void **state)
{
    (void)state;
    assert_parses("2000-02-29T00:00:00Z", 951782400000); /* divisible by 400: leap */
    assert_parses("2000-02-29T12:00:00Z", 951825600000);
    assert_parses("2024-02-29T00:00:00Z", 1709164800000);
    assert_parses("2400-02-29T00:00:00Z", 13574563200000);
    assert_parses("1900-02-28T23:59:59Z", -2203891201000);
    assert_rejects("2023-02-29T00:00:00Z");
    assert_rejects("1900-02-29T00:00:00Z"); /* divisible by 100 but not 400: not leap */
    assert_rejects("2100-02-29T00:00:00Z");
    assert_rejects("2024-02-30T00:00:00Z");
}

static void parse_iso_checks_calendar_ranges(void **state)
{
    (void)state;
    assert_rejects("2023-00-10T00:00:00Z");
    assert_rejects("2023-13-10T00:00:00Z");
    assert_rejects("2023-01-00T00:00:00Z");
    assert_rejects("2023-01-32T00:00:00Z");
    assert_rejects("2023-04-31T00:00:00Z"); /* 30 days hath April */
    assert_rejects("2023-11-31T00:00:00Z");
    assert_parses("2023-12-31T00:00:00Z", 1703980800000);
    assert_rejects("2023-11-14T24:00:00Z");
    assert_rejects("2023-11-14T23:60:00Z");
    assert_rejects("2023-11-14T23:59:60Z"); /* no leap second */
    assert_rejects("2016-12-31T23:59:60Z");
    assert_rejects("2023-11-14T22:13:20+24:00");
    assert_rejects("2023-11-14T22:13:20-24:00");
    assert_rejects("2023-11-14T22:13:20+01:60");
}

static void parse_iso_rejects_missing_zone(void **state)
{
    (void)state;
    assert_rejects("2023-11-14T22:13:20");
    assert_rejects("2023-11-14T22:13:20.123");
    assert_rejects("2023-11-14T22:13:20.123456789");
    assert_rejects("2023-11-14");
    assert_rejects("2023-11-14T22:13Z"); /* no seconds */
}

static void parse_iso_rejects_bad_separators(void **state)
{
    (void)state;
    assert_rejects("2023-11-14 22:13:20Z");
    assert_rejects("2023-11-14X22:13:20Z");
    assert_rejects("2023/11/14T22:13:20Z");
    assert_rejects("2023-11-14T22.13.20Z");
    assert_rejects("2023-11-14T22:13:20,123Z");
    assert_rejects("20231114T221320Z");
    assert_rejects("2023-11-14T22:13:20+0100");
    assert_rejects("2023-11-14T22:13:20+01");
    assert_rejects("2023-11-14T22:13:20 +01:00");
    assert_rejects("2023-11-14T22:13:20+01-00");
    assert_rejects("2023-11-14T22:13:20UTC");
    /* fields must be exactly their digits */
    assert_rejects("+023-11-14T22:13:20Z");
    assert_rejects("2023-1a-14T22:13:20Z");
    assert_rejects("2023-11-1 T22:13:20Z");
    assert_rejects("2023-11-14T-2:13:20Z");
    assert_rejects("2023-11-14T22:13:20+0a:00");
    assert_rejects("2023-11-14T22:13:20+01:+1");
    assert_rejects("23-11-14T22:13:20Z");
}

static void parse_iso_rejects_bad_fractions(void **state)
{
    (void)state;
    assert_rejects("2026-11-23T14:24:01.1234567890Z"); /* 10 digits */
    assert_rejects("2026-11-23T14:24:01.Z");
    assert_rejects("2026-11-23T14:24:01.+01:00");
    assert_rejects("2026-11-23T14:24:01.12a3Z");
    assert_rejects("2026-11-23T14:24:01..1Z");
}

static void parse_iso_rejects_trailing_garbage(void **state)
{
    (void)state;
    assert_rejects("2023-11-14T22:13:20Z ");
    assert_rejects("2023-11-14T22:13:20ZZ");
    assert_rejects("2023-11-14T22:13:20Z0");
    assert_rejects("2023-11-14T22:13:20+01:00Z");
    assert_rejects("2023-11-14T22:13:20+01:000");
    assert_rejects(" 2023-11-14T22:13:20Z");
    /* an embedded NUL within len is garbage too */
    int64_t ms = 0;
    assert_int_equal(parse_exact("2023-11-14T22:13:20Z\0", 21, &ms), -1);
    assert_int_equal(parse_exact("2023-11-14T22:13:20\0Z", 21, &ms), -1);
}

static void parse_iso_rejects_empty(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_int_equal(parse_exact("", 0, &ms), -1);
    assert_rejects("Z");
    assert_rejects("T");
}

/* Every strict prefix of a valid timestamp is invalid, and is parsed without reading past
 * its end (parse_exact hands over a buffer of exactly that size). */
static void parse_iso_never_reads_past_len(void **state)
{
    (void)state;
    static const char *valid[] = {"2023-11-14T22:13:20Z", "2023-11-14T22:13:20.123Z",
                                  "2023-11-14T22:13:20.123456789z", "2023-11-14T23:13:20+01:00",
                                  "2023-11-14T23:13:20.5-05:30"};
    for (size_t v = 0; v < sizeof(valid) / sizeof(valid[0]); v++) {
        size_t n = strlen(valid[v]);
        int64_t ms = 0;
        assert_int_equal(parse_exact(valid[v], n, &ms), 0);
        for (size_t len = 0; len < n; len++) {
            ms = 42;
            int rc = parse_exact(valid[v], len, &ms);
            if (rc != -1)
                fail_msg("\"%.*s\" (first %zu bytes of \"%s\") accepted as %lld", (int)len,
                         valid[v], len, valid[v], (long long)ms);
        }
    }
}

/* What clock_iso writes, clock_parse_iso reads back to the same instant. */
static void parse_iso_round_trips_clock_iso(void **state)
{
    (void)state;
    static const int64_t instants[] = {0,
                                       1,
                                       999,
                                       1000,
                                       -1,
                                       -1000,
                                       -1001,
                                       -86400000,
                                       951782400000,
                                       1700000000123,
                                       1795443841999,
                                       -2203891201000,
                                       -62135596800000,
                                       253402300799999};
    for (size_t i = 0; i < sizeof(instants) / sizeof(instants[0]); i++) {
        char iso[CLOCK_ISO_LEN];
        clock_iso(instants[i], iso);
        assert_parses(iso, instants[i]);
    }
    /* and a sweep across the calendar: every ~9.7 days over 1900..2100, odd milliseconds */
    for (int64_t ms = -2208988800000; ms < 4102444800000; ms += 839999997) {
        char iso[CLOCK_ISO_LEN];
        clock_iso(ms, iso);
        assert_parses(iso, ms);
    }
}

static void now_ms_is_the_wall_clock(void **state)
{
    (void)state;
    /* Bounds from CLOCK_REALTIME itself: time() reads a coarse clock that can trail it by a
     * few milliseconds, which made this flaky across second boundaries. */
    struct timespec a, b;
    clock_gettime(CLOCK_REALTIME, &a);
    int64_t now = clock_now_ms();
    clock_gettime(CLOCK_REALTIME, &b);
    int64_t before = (int64_t)a.tv_sec * 1000 + a.tv_nsec / 1000000;
    int64_t after = (int64_t)b.tv_sec * 1000 + b.tv_nsec / 1000000;
    assert_true(now >= before);
    assert_true(now <= after);
    /* After 2023: catches a seconds/milliseconds mix-up. */
    assert_true(now > 1700000000000);
    assert_true(clock_now_ms() >= now);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(iso_of_zero_is_the_epoch),
    cmocka_unit_test(iso_of_known_instants),
    cmocka_unit_test(iso_pads_milliseconds_to_three_digits),
    cmocka_unit_test(iso_of_negative_ms_before_1970),
    cmocka_unit_test(now_ms_is_the_wall_clock),
    cmocka_unit_test(parse_iso_known_instants),
    cmocka_unit_test(parse_iso_accepts_lower_case_t_and_z),
    cmocka_unit_test(parse_iso_applies_offsets),
    cmocka_unit_test(parse_iso_truncates_fractions_to_milliseconds),
    cmocka_unit_test(parse_iso_checks_leap_years),
    cmocka_unit_test(parse_iso_checks_calendar_ranges),
    cmocka_unit_test(parse_iso_rejects_missing_zone),
    cmocka_unit_test(parse_iso_rejects_bad_separators),
    cmocka_unit_test(parse_iso_rejects_bad_fractions),
    cmocka_unit_test(parse_iso_rejects_trailing_garbage),
    cmocka_unit_test(parse_iso_rejects_empty),
    cmocka_unit_test(parse_iso_never_reads_past_len),
    cmocka_unit_test(parse_iso_round_trips_clock_iso),
};

UNIT_MAIN(tests)
