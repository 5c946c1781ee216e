/* Unit tests for src/core/metrics.c: histogram buckets, shard accumulation, the Prometheus
 * text rendering, label escaping, the collector registry and the process metrics. */
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics.h"

static void bucket_bounds_are_inclusive(void **state)
{
    (void)state;
    static struct metrics_hist h;          /* zeroed */
    metrics_hist_observe(&h, 0);           /* bucket 0 */
    metrics_hist_observe(&h, 100000);      /* exactly 0.0001 s: still bucket 0 (le) */
    metrics_hist_observe(&h, 100001);      /* bucket 1 */
    metrics_hist_observe(&h, 250000);      /* bucket 1 */
    metrics_hist_observe(&h, 1000000000);  /* exactly 1 s: bucket 12 */
    metrics_hist_observe(&h, 10000000000); /* exactly 10 s: the last finite bucket */
    metrics_hist_observe(&h, 10000000001); /* above every bound: +Inf */
    assert_int_equal(metric_get(&h.buckets[0]), 2);
    assert_int_equal(metric_get(&h.buckets[1]), 2);
    assert_int_equal(metric_get(&h.buckets[2]), 0);
    assert_int_equal(metric_get(&h.buckets[12]), 1);
    assert_int_equal(metric_get(&h.buckets[15]), 1);
    assert_int_equal(metric_get(&h.buckets[METRICS_N_BUCKETS]), 1);
    assert_int_equal(metric_get(&h.sum_ns),
                     100000 + 100001 + 250000 + 1000000000 + 10000000000 + 10000000001);
    /* The nanosecond bounds used by observe agree with the advertised bounds in seconds. */
    for (size_t i = 0; i < METRICS_N_BUCKETS; i++) {
        struct metrics_hist one = {0};
        uint64_t ns = (uint64_t)(metrics_bucket_bounds[i] * 1e9 + 0.5);
        metrics_hist_observe(&one, ns);
        metrics_hist_observe(&one, ns + 1);
        assert_int_equal(metric_get(&one.buckets[i]), 1);
        assert_int_equal(metric_get(&one.buckets[i + 1]), 1);
    }
}

static void accumulate_sums_shards(void **state)
{
    (void)state;
    static struct metrics_hist a, b;
    metrics_hist_observe(&a, 50000);
    metrics_hist_observe(&a, 3000000);
    metrics_hist_observe(&b, 50000);
    metrics_hist_observe(&b, 20000000000);
    struct metrics_hist_sum sum = {{0}, 0};
    metrics_hist_accumulate(&sum, &a);
    metrics_hist_accumulate(&sum, &b);
    assert_int_equal(sum.buckets[0], 2);
    assert_int_equal(sum.buckets[5], 1); /* 3 ms: (2.5 ms, 5 ms] */
    assert_int_equal(sum.buckets[METRICS_N_BUCKETS], 1);
    assert_int_equal(sum.sum_ns, 50000 + 3000000 + 50000 + 20000000000);
    /* Accumulating does not change the shards. */
    assert_int_equal(metric_get(&a.buckets[0]), 1);
}

static void counters(void **state)
{
    (void)state;
    metric_u64 c = 0;
    metric_add(&c, 3);
    metric_add_shared(&c, 4);
    assert_int_equal(metric_get(&c), 7);
}

/* The value of the sample line that starts with `prefix` (up to the space), or -1. */
static double sample(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

static void render_histogram(void **state)
{
    (void)state;
    struct metrics_hist_sum h = {{0}, 0};
    h.buckets[0] = 1;                 /* 50 us */
    h.buckets[2] = 1;                 /* 300 us */
    h.buckets[13] = 1;                /* 2 s */
    h.buckets[METRICS_N_BUCKETS] = 1; /* 20 s */
    h.sum_ns = 50000 + 300000 + 2000000000ull + 20000000000ull;
    struct buf out = BUF_INIT;
    metrics_hist_render(&out, "x_seconds", "route=\"/a\"", &h);

    assert_non_null(strstr(out.data, "x_seconds_bucket{route=\"/a\",le=\"0.0001\"} 1\n"));
    assert_non_null(strstr(out.data, "x_seconds_bucket{route=\"/a\",le=\"0.00025\"} 1\n"));
    assert_non_null(strstr(out.data, "x_seconds_bucket{route=\"/a\",le=\"0.0005\"} 2\n"));
    assert_non_null(strstr(out.data, "x_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"));
    assert_non_null(strstr(out.data, "x_seconds_bucket{route=\"/a\",le=\"2.5\"} 3\n"));
    assert_non_null(strstr(out.data, "x_seconds_bucket{route=\"/a\",le=\"10\"} 3\n"));
    assert_non_null(strstr(out.data, "x_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(out.data, "x_seconds_sum{route=\"/a\"} 22.000350000\n"));
    assert_non_null(strstr(out.data, "x_seconds_count{route=\"/a\"} 4\n"));

    /* Buckets are cumulative: never decreasing, in bound order. */
    double prev = 0;
    size_t n_buckets = 0;
    for (const char *p = strstr(out.data, "_bucket{"); p; p = strstr(p + 1, "_bucket{")) {
        const char *sp = strchr(p, ' ');
        double v = strtod(sp + 1, NULL);
        assert_true(v >= prev);
        prev = v;
        n_buckets++;
    }
    assert_int_equal(n_buckets, METRICS_N_BUCKETS + 1);
    assert_true(sample(out.data, "x_seconds_bucket{route=\"/a\",le=\"+Inf\"}") ==
                sample(out.data, "x_seconds_count{route=\"/a\"}"));
    buf_release(&out);
}

static void render_histogram_without_labels(void **state)
{
    (void)state;
    struct metrics_hist_sum h = {{0}, 0};
    h.buckets[5] = 3;
    h.sum_ns = 12000000;
    struct buf out = BUF_INIT;
    metrics_hist_render(&out, "y", "", &h);
    assert_non_null(strstr(out.data, "y_bucket{le=\"0.0001\"} 0\n"));
    assert_non_null(strstr(out.data, "y_bucket{le=\"0.005\"} 3\n"));
    assert_non_null(strstr(out.data, "y_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(out.data, "y_sum 0.012000000\n"));
    assert_non_null(strstr(out.data, "y_count 3\n"));
    assert_null(strstr(out.data, "{}")); /* no empty label sets */
    assert_null(strstr(out.data, "{,")); /* no dangling separator */
    buf_release(&out);
}

static void label_value_escaping(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    metrics_label_value(&out, "a\"b\\c\nd/e");
    assert_string_equal(out.data, "\"a\\\"b\\\\c\\nd/e\"");
    buf_reset(&out);
    metrics_label_value(&out, "");
    assert_string_equal(out.data, "\"\"");
    buf_release(&out);
}

static void family_header(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    metrics_family(&out, "reactor_things_total", "counter", "Things done.");
    assert_string_equal(out.data, "# HELP reactor_things_total Things done.\n"
                                  "# TYPE reactor_things_total counter\n");
    buf_release(&out);
}

static void collector_a(struct buf *out, void *arg)
{
    buf_printf(out, "coll_a %d\n", *(int *)arg);
}

static void collector_b(struct buf *out, void *arg)
{
    buf_printf(out, "coll_b %d\n", *(int *)arg);
}

static void registry_renders_in_order(void **state)
{
    (void)state;
    int one = 1, two = 2;
    metrics_register(collector_b, &two);
    metrics_register(collector_a, &one);
    struct buf out = BUF_INIT;
    metrics_render(&out);
    const char *b = strstr(out.data, "coll_b 2\n");
    const char *a = strstr(out.data, "coll_a 1\n");
    const char *proc = strstr(out.data, "process_");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(proc);
    assert_true(b < a);    /* registration order */
    assert_true(a < proc); /* process metrics last */

    metrics_clear();
    buf_reset(&out);
    metrics_render(&out);
    assert_null(strstr(out.data, "coll_"));
    assert_non_null(strstr(out.data, "process_open_fds"));
    buf_release(&out);
}

static void process_metrics(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    metrics_process(&out);
    static const char *const names[] = {
        "process_cpu_seconds_total",
        "process_virtual_memory_bytes",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
        "process_open_fds",
        "process_max_fds",
    };
    char line[128];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(line, sizeof(line), "# TYPE %s ", names[i]);
        if (!strstr(out.data, line))
            fail_msg("no TYPE line for %s in:\n%s", names[i], out.data);
        double v = sample(out.data, names[i]);
        if (v < 0)
            fail_msg("no sample for %s in:\n%s", names[i], out.data);
    }
    assert_true(sample(out.data, "process_resident_memory_bytes") > 1024 * 1024 / 2);
    assert_true(sample(out.data, "process_max_fds") >= 3);
    double start = sample(out.data, "process_start_time_seconds");
    double now = (double)time(NULL);
    assert_true(start > now - 3600 && start <= now + 5);

    /* Opening descriptors shows up in the count. */
    double fds = sample(out.data, "process_open_fds");
    int extra[3];
    for (int i = 0; i < 3; i++)
        extra[i] = open("/dev/null", O_RDONLY);
    buf_reset(&out);
    metrics_process(&out);
    assert_true(sample(out.data, "process_open_fds") == fds + 3);
    for (int i = 0; i < 3; i++)
        close(extra[i]);
    buf_release(&out);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(bucket_bounds_are_inclusive),
    cmocka_unit_test(accumulate_sums_shards),
    cmocka_unit_test(counters),
    cmocka_unit_test(render_histogram),
    cmocka_unit_test(render_histogram_without_labels),
    cmocka_unit_test(label_value_escaping),
    cmocka_unit_test(family_header),
    cmocka_unit_test(registry_renders_in_order),
    cmocka_unit_test(process_metrics),
};

UNIT_MAIN(tests)
