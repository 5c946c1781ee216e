/* League settlement outcomes (see league.h). */
#include "engine/league.h"

enum league_outcome league_outcome(size_t rank, size_t n, int64_t tier, int64_t promotion,
                                   int64_t demotion, int64_t *tier_after)
{
    *tier_after = tier;
    if (promotion > 0 && rank < (size_t)promotion && tier < LEAGUE_TIER_MAX) {
        *tier_after = tier + 1;
        return LEAGUE_PROMOTED;
    }
    if (demotion > 0 && rank < n && n - rank <= (size_t)demotion && tier > LEAGUE_TIER_MIN &&
        !(promotion > 0 && rank < (size_t)promotion)) {
        *tier_after = tier - 1;
        return LEAGUE_DEMOTED;
    }
    return LEAGUE_STAYED;
}

const char *league_outcome_name(enum league_outcome o)
{
    static const char *const names[] = { "promoted", "stayed", "demoted" };
    return names[o];
}
