/* Unit tests for src/bench/latency.c: the percentiles `reactor bench` prints are what the
 * benchmark targets are judged by, so they must be right within the stated 3 %. */
#include "unit.h"

#include <stdlib.h>

#include "bench/latency.h"

static void empty_histogram_reports_zero(void **state)
{
    (void)state;
    struct latency l;
    latency_init(&l);
    assert_int_equal(latency_percentile(&l, 0.5), 0);
    assert_int_equal(latency_percentile(&l, 0.99), 0);
}

static void small_values_are_exact(void **state)
{
    (void)state;
    struct latency l;
    latency_init(&l);
    for (uint64_t v = 1; v <= 50; v++)
        latency_record(&l, v);
    assert_int_equal(latency_percentile(&l, 0.5), 25);
    assert_int_equal(latency_percentile(&l, 1.0), 50);
    assert_int_equal(latency_percentile(&l, 0.02), 1);
    assert_int_equal(l.max_us, 50);
    assert_int_equal(l.total, 50);
}

static void percentiles_within_three_percent(void **state)
{
    (void)state;
    struct latency *l = malloc(sizeof(*l));
    latency_init(l);
    /* 1..100000 µs, uniformly: the p-th percentile is p * 100000. */
    for (uint64_t v = 1; v <= 100000; v++)
        latency_record(l, v);
    const double ps[] = { 0.5, 0.9, 0.99, 0.999 };
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        double want = ps[i] * 100000.0;
        double got = (double)latency_percentile(l, ps[i]);
        if (got < want * 0.97 || got > want * 1.03)
            fail_msg("p%.1f: got %.0f, want %.0f within 3%%", ps[i] * 100, got, want);
    }
    assert_int_equal(latency_percentile(l, 1.0), 100000); /* never above the maximum */
    free(l);
}

static void huge_values_are_clamped_not_lost(void **state)
{
    (void)state;
    struct latency l;
    latency_init(&l);
    latency_record(&l, 10);
    latency_record(&l, UINT64_C(1) << 50); /* far beyond the last bucket */
    assert_int_equal(l.total, 2);
    assert_int_equal(latency_percentile(&l, 0.5), 10);
    assert_true(latency_percentile(&l, 1.0) > 1000000);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(empty_histogram_reports_zero),
    cmocka_unit_test(small_values_are_exact),
    cmocka_unit_test(percentiles_within_three_percent),
    cmocka_unit_test(huge_values_are_clamped_not_lost),
};

UNIT_MAIN(tests)
