/* Levels on an XP track, as ForgeEngine computes them: level = floor(sqrt(totalXp / g)) + 1
 * and nextLevelXp = level^2 * g with g the track's curve (settings.xpCurve[track], default
 * 100); or, when the app gives settings.levels[track] (ascending XP thresholds t1 < t2 < ...),
 * level = 1 + the number of thresholds <= totalXp and nextLevelXp = the first threshold above
 * totalXp (the last threshold once past it). Pure. */
#ifndef REACTOR_ENGINE_LEVEL_H
#define REACTOR_ENGINE_LEVEL_H

#include <stddef.h>
#include <stdint.h>

#define LEVEL_CURVE_DEFAULT 100

struct level_curve {
    double g;                    /* > 0; used when n_thresholds == 0 */
    const int64_t *thresholds;   /* ascending, borrowed */
    size_t n_thresholds;
};

struct level_info {
    int64_t level;
    int64_t next_level_xp;
};

void level_of(const struct level_curve *c, int64_t total_xp, struct level_info *out);

#endif
