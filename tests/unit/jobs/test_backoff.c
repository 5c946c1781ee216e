/* Retry delays (src/jobs/backoff.c): about 2 s first, doubling, jitter within +-20%, never past
 * the cap, and odd inputs handled. */
#include <stdint.h>

#include "jobs/backoff.h"
#include "unit.h"

static void first_retry_is_about_two_seconds(void **state)
{
    (void)state;
    int64_t lo = jobs_backoff_ms(1, JOBS_BACKOFF_BASE_MS, JOBS_BACKOFF_CAP_MS, 0);
    int64_t hi = jobs_backoff_ms(1, JOBS_BACKOFF_BASE_MS, JOBS_BACKOFF_CAP_MS, UINT64_MAX);
    assert_true(lo >= 1600 && lo <= 2400);
    assert_true(hi >= 1600 && hi <= 2400);
    for (uint64_t r = 0; r < 2000; r += 7) {
        int64_t d = jobs_backoff_ms(1, 2000, JOBS_BACKOFF_CAP_MS, r);
        assert_true(d >= 1600 && d <= 2400);
    }
}

static void doubles_until_the_cap(void **state)
{
    (void)state;
    int64_t want = 2000;
    for (int a = 1; a <= 30; a++) {
        int64_t d = jobs_backoff_ms(a, 2000, 600000, 12345);
        int64_t base = want < 600000 ? want : 600000;
        assert_true(d >= base - base / 5);
        assert_true(d <= base + base / 5 && d <= 600000);
        if (want < 600000)
            want *= 2;
    }
    /* the 10th retry and later sit at the cap (jitter only downwards from it) */
    assert_true(jobs_backoff_ms(20, 2000, 600000, 0) >= 480000);
    assert_int_equal(jobs_backoff_ms(1000, 2000, 600000, UINT64_MAX - 1) <= 600000, 1);
}

static void jitter_spreads_the_delays(void **state)
{
    (void)state;
    int64_t min = INT64_MAX, max = 0;
    for (uint64_t r = 0; r < 100000; r += 13) {
        int64_t d = jobs_backoff_ms(3, 2000, 600000, r * 2654435761u);
        min = d < min ? d : min;
        max = d > max ? d : max;
    }
    assert_true(min < 6800 && max > 9200); /* spread over most of 6400..9600 */
    assert_true(min >= 6400 && max <= 9600);
}

static void odd_inputs(void **state)
{
    (void)state;
    assert_true(jobs_backoff_ms(0, 2000, 600000, 0) >= 1600);   /* attempt < 1 counts as 1 */
    assert_true(jobs_backoff_ms(-5, 2000, 600000, 0) <= 2400);
    assert_true(jobs_backoff_ms(1, 0, 600000, 0) >= 1);          /* base < 1 */
    int64_t d = jobs_backoff_ms(5, 1000, 10, 99);                /* cap below base: base */
    assert_true(d >= 800 && d <= 1000);
    assert_true(jobs_backoff_ms(1, 1, 1, UINT64_MAX) == 1);
    assert_true(jobs_backoff_ms(62, INT64_MAX / 4, INT64_MAX / 2, 7) <= INT64_MAX / 2);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(first_retry_is_about_two_seconds),
    cmocka_unit_test(doubles_until_the_cap),
    cmocka_unit_test(jitter_spreads_the_delays),
    cmocka_unit_test(odd_inputs),
};

UNIT_MAIN(tests)
