/* Streaks: how many consecutive calendar days (or ISO weeks) a user has been active, counted
 * in the user's time zone from each event's occurredAt. Pure: the caller converts the instant
 * to local fields (core/tz.h) and keeps the state.
 *
 * Rules (docs/rules.md, "Streaks"):
 * - same unit (day or week) as the last counted one: unchanged;
 * - the next unit: +1;
 * - an event older than the last counted unit: no change at all;
 * - a gap of m missed units: if `grace_hours` > 0, the mode is daily, m == 1 and the event's
 *   local time is less than grace_hours past midnight, the event counts for the missed day
 *   (+1, last = the missed day); else if at least m freezes are left, m freezes are consumed
 *   and the streak goes on (+1); else it restarts at 1;
 * - the first event ever: 1.
 * Freezes: `freezes` per period (`freeze_period`, a calendar month or ISO week in the user's
 * zone); the count is refilled when an event falls in a later period than the last refill.
 * `best` is the longest run ever. */
#ifndef REACTOR_ENGINE_STREAK_H
#define REACTOR_ENGINE_STREAK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/tz.h"
#include "engine/period.h"

enum streak_mode { STREAK_DAILY, STREAK_WEEKLY };

struct streak_config {
    enum streak_mode mode;
    int grace_hours;             /* 0..23; daily streaks only */
    int freezes;                 /* granted per freeze period; 0 = none */
    enum period_kind freeze_period; /* PERIOD_WEEK or PERIOD_MONTH */
};

#define STREAK_NONE INT32_MIN   /* last_unit of a streak that never counted */

struct streak_state {
    int32_t current;             /* 0 before the first event */
    int32_t best;
    int32_t last_unit;           /* day_index or week_index last counted; STREAK_NONE */
    int32_t freezes_left;
    int32_t freeze_refill;       /* month_index or week_index of the last refill; STREAK_NONE */
};

/* A fresh state (current 0, no unit, no refill). */
void streak_state_init(struct streak_state *s);

/* What streak_apply did. */
enum streak_change {
    STREAK_UNCHANGED,  /* same unit, or an old event */
    STREAK_STARTED,    /* first event, or restarted at 1 after a gap */
    STREAK_EXTENDED,   /* +1 (next unit, grace, or freezes) */
};

/* Counts an event whose local time is `t`. `*freezes_used` (may be NULL) receives how many
 * freezes were consumed. */
enum streak_change streak_apply(const struct streak_config *c, struct streak_state *s,
                                const struct tz_local *t, int *freezes_used);

/* The local date of a unit for display: "YYYY-MM-DD" of day_index (daily) or of the Monday
 * of week_index (weekly); "" for STREAK_NONE. */
void streak_unit_date(enum streak_mode mode, int32_t unit, char out[11]);

#endif
