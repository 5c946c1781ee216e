/* Metrics: counters and histograms that hot paths update without locks, and a registry of
 * collectors that render the Prometheus text format (version 0.0.4) for GET /metrics.
 *
 * Counters are _Atomic uint64_t. Those with one writer thread (per-thread shards, the usual
 * case) use metric_add, a relaxed load and store with no locked instruction; those written by
 * several threads use metric_add_shared. Readers on any thread use metric_get.
 *
 * Collectors are registered at start, before threads run, and render on whatever thread
 * serves /metrics; they must only read atomics or otherwise thread-safe state.
 */
#ifndef REACTOR_CORE_METRICS_H
#define REACTOR_CORE_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef _Atomic uint64_t metric_u64;

static inline void metric_add(metric_u64 *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

static inline void metric_add_shared(metric_u64 *c, uint64_t v)
{
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static inline uint64_t metric_get(const metric_u64 *c)
{
    return atomic_load_explicit((metric_u64 *)c, memory_order_relaxed);
}

/* Latency buckets in seconds, shared by every duration histogram. */
#define METRICS_N_BUCKETS 16
extern const double metrics_bucket_bounds[METRICS_N_BUCKETS];

/* A single-writer histogram of durations. buckets[i] counts observations in
 * (bounds[i-1], bounds[i]]; buckets[METRICS_N_BUCKETS] counts the rest. */
struct metrics_hist {
    metric_u64 buckets[METRICS_N_BUCKETS + 1];
    metric_u64 sum_ns;
};

void metrics_hist_observe(struct metrics_hist *h, uint64_t ns);

/* A summed snapshot of several shards, for rendering. */
struct metrics_hist_sum {
    uint64_t buckets[METRICS_N_BUCKETS + 1];
    uint64_t sum_ns;
};
void metrics_hist_accumulate(struct metrics_hist_sum *sum, const struct metrics_hist *h);

typedef void metrics_collector_fn(struct buf *out, void *arg);
/* Adds a collector (start-up only, not thread-safe). */
void metrics_register(metrics_collector_fn *fn, void *arg);
/* Removes every collector (shutdown and tests). */
void metrics_clear(void);
/* Renders every collector, then the process metrics. */
void metrics_render(struct buf *out);

/* Text format helpers. */
void metrics_family(struct buf *out, const char *name, const char *type, const char *help);
/* A family with one unlabelled sample: `# HELP`, `# TYPE`, then `name value`. */
void metrics_single(struct buf *out, const char *name, const char *type, const char *help,
                    uint64_t value);
/* Appends a label value with quotes, escaping backslash, quote and newline. */
void metrics_label_value(struct buf *out, const char *s);
/* Renders `name_bucket`, `name_sum`, `name_count` for one label set; `labels` is a formatted
 * list without braces ("route=\"/x\"") or "". */
void metrics_hist_render(struct buf *out, const char *name, const char *labels,
                         const struct metrics_hist_sum *h);
/* Process metrics (CPU, memory, file descriptors, start time), from /proc/self. */
void metrics_process(struct buf *out);

#endif
