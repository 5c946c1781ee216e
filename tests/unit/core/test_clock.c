/* Unit tests for src/core/clock.c: the ISO 8601 form every createdAt/updatedAt/lastUsedAt in
 * the API is written with, and the wall clock itself. */
#include "unit.h"

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

static void now_ms_is_the_wall_clock(void **state)
{
    (void)state;
    int64_t before = (int64_t)time(NULL) * 1000;
    int64_t now = clock_now_ms();
    int64_t after = ((int64_t)time(NULL) + 1) * 1000;
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
};

UNIT_MAIN(tests)
