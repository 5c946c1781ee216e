/* Retry delays of failed jobs: exponential with jitter. Pure, so it is unit tested alone.
 *
 * After attempt n (1-based) failed, the next runs after base * 2^(n-1), capped at `cap`,
 * spread by +-20% (jitter, from `rnd`) so jobs that failed together do not retry together;
 * the spread result never passes `cap`. With the defaults (2 s, 10 min): 2 s, 4 s, 8 s, ...
 * 512 s, then 10 min. */
#ifndef REACTOR_JOBS_BACKOFF_H
#define REACTOR_JOBS_BACKOFF_H

#include <stdint.h>

#define JOBS_BACKOFF_BASE_MS 2000
#define JOBS_BACKOFF_CAP_MS (10 * 60 * 1000)

/* The delay in ms (>= 1) before the retry that follows failed attempt `attempt` (>= 1; less
 * counts as 1). `rnd` is any random value. */
int64_t jobs_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t rnd);

#endif
