/* Log-linear latency histogram (see latency.h).
 *
 * Values below 64 µs have a bucket each. Above, a value with its highest set bit at position
 * b >= 6 is shifted right by s = b - 5, which leaves a mantissa m in [32, 63]; its bucket is
 * 32 * s + m. Every bucket therefore spans 1/32 of its power of two. */
#include "bench/latency.h"

#include <string.h>

static unsigned bucket_of(uint64_t v)
{
    if (v < 64)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - 5;
    unsigned idx = 32 * shift + (unsigned)(v >> shift);
    return idx < LATENCY_BUCKETS ? idx : LATENCY_BUCKETS - 1;
}

/* Middle of a bucket's range. */
static uint64_t value_of(unsigned idx)
{
    if (idx < 64)
        return idx;
    unsigned shift = idx / 32 - 1;
    uint64_t m = idx - 32 * shift;
    uint64_t lo = m << shift, hi = (m + 1) << shift;
    return lo + (hi - lo) / 2;
}

void latency_init(struct latency *l)
{
    memset(l, 0, sizeof(*l));
}

void latency_record(struct latency *l, uint64_t us)
{
    l->counts[bucket_of(us)]++;
    l->total++;
    l->sum_us += us;
    if (us > l->max_us)
        l->max_us = us;
}

uint64_t latency_percentile(const struct latency *l, double p)
{
    if (l->total == 0)
        return 0;
    uint64_t want = (uint64_t)(p * (double)l->total + 0.999999);
    if (want < 1)
        want = 1;
    if (want >= l->total)
        return l->max_us; /* the top is known exactly */
    uint64_t seen = 0;
    for (unsigned i = 0; i < LATENCY_BUCKETS; i++) {
        seen += l->counts[i];
        if (seen >= want) {
            uint64_t v = value_of(i);
            return v > l->max_us ? l->max_us : v;
        }
    }
    return l->max_us;
}
