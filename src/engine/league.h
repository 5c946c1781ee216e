/* Leagues: what happens to a member when a league is settled at its season's end. Pure.
 *
 * Members are ranked by their score on the league's board (engine/boards.h order). The top
 * `promotion` ranks move up a tier, the bottom `demotion` ranks down one; when the two overlap
 * (a league with fewer members than its slots) promotion wins. Tiers are integers >= 1 and a
 * higher tier is a better league: nobody is demoted below tier 1 (they stay). */
#ifndef REACTOR_ENGINE_LEAGUE_H
#define REACTOR_ENGINE_LEAGUE_H

#include <stddef.h>
#include <stdint.h>

#define LEAGUE_TIER_MIN 1
#define LEAGUE_TIER_MAX 1000
#define LEAGUE_MEMBERS_MAX 1000

enum league_outcome { LEAGUE_PROMOTED, LEAGUE_STAYED, LEAGUE_DEMOTED };

/* The outcome of the member at 0-based `rank` of `n`, and the tier it moves to. */
enum league_outcome league_outcome(size_t rank, size_t n, int64_t tier, int64_t promotion,
                                   int64_t demotion, int64_t *tier_after);
/* "promoted", "stayed", "demoted". */
const char *league_outcome_name(enum league_outcome o);

#endif
