/* A latency histogram for the load generator: log-linear buckets over microseconds (32 per
 * power of two, so a reported percentile is within about 3 % of the true value), constant
 * memory, O(1) record. */
#ifndef REACTOR_BENCH_LATENCY_H
#define REACTOR_BENCH_LATENCY_H

#include <stdint.h>

#define LATENCY_BUCKETS 1088

struct latency {
    uint64_t counts[LATENCY_BUCKETS];
    uint64_t total;
    uint64_t max_us;
    uint64_t sum_us;
};

void latency_init(struct latency *l);
void latency_record(struct latency *l, uint64_t us);
/* The value below which a fraction p (0..1] of the recordings fall, in microseconds; 0 when
 * nothing was recorded. */
uint64_t latency_percentile(const struct latency *l, double p);

#endif
