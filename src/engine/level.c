/* Levels (see level.h).
 *
 * The curve's level is k + 1 for the largest k with k^2 <= totalXp / g. Computed as
 * floor(sqrt(totalXp / g)) in doubles, as ForgeEngine does, it goes wrong near perfect squares
 * once the quotient is large (sqrt and the division both round), so:
 * - an integral g (the default 100, and any whole curve) is exact integer arithmetic:
 *   k = isqrt(floor(totalXp / g)), which is the same k since k^2 is an integer;
 * - any other g keeps ForgeEngine's quotient q = totalXp / g (a double; the app wrote g in
 *   decimal, and 10 / 0.1 must be 100 even though 0.1 is not exactly a double), then takes
 *   the exact integer square root of floor(q).
 * nextLevelXp is the least XP at which level_of gives the next level: level^2 * g itself for
 * an integral g, and for another g that product rounded up, then corrected against level_of's
 * own quotient so the two never disagree. */
#include "engine/level.h"

#include <math.h>
#include <stdbool.h>

/* 2^53: every integer up to it is a double */
#define EXACT_MAX 9007199254740992.0

/* The largest k with k^2 <= n (n >= 0). */
static int64_t isqrt(int64_t n)
{
    uint64_t k = (uint64_t)sqrt((double)n);
    /* sqrt of the rounded double may be off by one either way; squares fit in uint64 */
    while (k > 0 && k * k > (uint64_t)n)
        k--;
    while ((k + 1) * (k + 1) <= (uint64_t)n)
        k++;
    return (int64_t)k;
}

static bool integral(double g)
{
    return g >= 1 && g < EXACT_MAX && g == floor(g);
}

/* k for a curve g (> 0) at total_xp (>= 0). */
static int64_t curve_k(double g, int64_t total_xp)
{
    if (integral(g))
        return isqrt(total_xp / (int64_t)g);
    double q = (double)total_xp / g;
    if (!(q < 9.2e18)) /* huge, or NaN from a g that slipped through as 0 */
        return isqrt(INT64_MAX);
    return isqrt((int64_t)q);
}

static int64_t saturate(double x)
{
    return x >= 9.2e18 ? INT64_MAX : (int64_t)x;
}

static void curve_level(double g, int64_t total_xp, struct level_info *out)
{
    if (!(g > 0))
        g = LEVEL_CURVE_DEFAULT; /* settings are validated when saved; never divide by 0 */
    int64_t k = total_xp > 0 ? curve_k(g, total_xp) : 0;
    out->level = k + 1;
    /* k <= isqrt(INT64_MAX), so (k + 1)^2 fits in uint64 but maybe not in int64 */
    uint64_t usq = (uint64_t)(k + 1) * (uint64_t)(k + 1);
    int64_t sq = usq > INT64_MAX ? INT64_MAX : (int64_t)usq;
    if (integral(g)) {
        int64_t gi = (int64_t)g;
        out->next_level_xp = sq > INT64_MAX / gi ? INT64_MAX : sq * gi;
        return;
    }
    int64_t next = saturate(ceil((double)sq * g));
    if (next == INT64_MAX)
        goto done;
    /* agree with curve_k: the level goes up at `next` and not one XP before it */
    while (next > 1 && curve_k(g, next - 1) > k)
        next--;
    while (next < INT64_MAX && curve_k(g, next) <= k)
        next++;
done:
    out->next_level_xp = next;
}

void level_of(const struct level_curve *c, int64_t total_xp, struct level_info *out)
{
    if (c->n_thresholds == 0) {
        curve_level(c->g, total_xp, out);
        return;
    }
    /* the number of thresholds <= total_xp: the first index whose threshold is above it */
    size_t lo = 0, hi = c->n_thresholds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->thresholds[mid] <= total_xp)
            lo = mid + 1;
        else
            hi = mid;
    }
    out->level = (int64_t)lo + 1;
    out->next_level_xp = c->thresholds[lo < c->n_thresholds ? lo : c->n_thresholds - 1];
}
