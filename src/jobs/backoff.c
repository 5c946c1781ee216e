/* Retry delays (see backoff.h). */
#include "jobs/backoff.h"

int64_t jobs_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t rnd)
{
    if (base_ms < 1)
        base_ms = 1;
    if (cap_ms < base_ms)
        cap_ms = base_ms;
    if (attempt < 1)
        attempt = 1;
    int64_t d = base_ms;
    for (int i = 1; i < attempt && d < cap_ms; i++)
        d = d > cap_ms / 2 ? cap_ms : d * 2;
    if (d > cap_ms)
        d = cap_ms;
    /* +-20%: d * 0.8 + [0, d * 0.4]. */
    int64_t low = d - d / 5, span = d / 5 * 2;
    d = low + (span > 0 ? (int64_t)(rnd % (uint64_t)(span + 1)) : 0);
    if (d > cap_ms)
        d = cap_ms;
    return d < 1 ? 1 : d;
}
