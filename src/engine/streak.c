/* Streaks (see streak.h): the rules applied to one event's local fields. */
#include "engine/streak.h"

#include <string.h>

#define DAY_MS 86400000LL

void streak_state_init(struct streak_state *s)
{
    s->current = 0;
    s->best = 0;
    s->last_unit = STREAK_NONE;
    s->freezes_left = 0;
    s->freeze_refill = STREAK_NONE;
}

static int32_t freeze_period_of(const struct streak_config *c, const struct tz_local *t)
{
    switch (c->freeze_period) {
    case PERIOD_DAY: return t->day_index;
    case PERIOD_WEEK: return t->week_index;
    case PERIOD_MONTH: return t->month_index;
    }
    return t->month_index;
}

static void refill(const struct streak_config *c, struct streak_state *s, const struct tz_local *t)
{
    int32_t p = freeze_period_of(c, t);
    int32_t grant = c->freezes > 0 ? c->freezes : 0;
    if (s->freeze_refill == STREAK_NONE || p > s->freeze_refill) {
        s->freezes_left = grant;
        s->freeze_refill = p;
    }
    /* a grant lowered since the last refill applies at once */
    if (s->freezes_left > grant)
        s->freezes_left = grant;
    if (s->freezes_left < 0)
        s->freezes_left = 0;
}

static enum streak_change extend(struct streak_state *s, int32_t unit)
{
    if (s->current < INT32_MAX)
        s->current++;
    s->last_unit = unit;
    if (s->current > s->best)
        s->best = s->current;
    return STREAK_EXTENDED;
}

static enum streak_change start(struct streak_state *s, int32_t unit)
{
    s->current = 1;
    s->last_unit = unit;
    if (s->best < 1)
        s->best = 1;
    return STREAK_STARTED;
}

enum streak_change streak_apply(const struct streak_config *c, struct streak_state *s,
                                const struct tz_local *t, int *freezes_used)
{
    if (freezes_used)
        *freezes_used = 0;
    bool daily = c->mode == STREAK_DAILY;
    int32_t unit = daily ? t->day_index : t->week_index;
    bool first = s->last_unit == STREAK_NONE || s->current <= 0;
    if (!first && unit < s->last_unit)
        return STREAK_UNCHANGED; /* older than the last counted unit: no change at all */
    refill(c, s, t);
    if (first)
        return start(s, unit);
    if (unit == s->last_unit)
        return STREAK_UNCHANGED;
    int64_t missed = (int64_t)unit - s->last_unit - 1;
    if (missed == 0)
        return extend(s, unit);
    if (daily && missed == 1 && c->grace_hours > 0 && t->hour < c->grace_hours)
        return extend(s, unit - 1); /* counts for the missed day */
    if (missed <= s->freezes_left) {
        s->freezes_left -= (int32_t)missed;
        if (freezes_used)
            *freezes_used = (int)missed;
        return extend(s, unit);
    }
    return start(s, unit);
}

void streak_unit_date(enum streak_mode mode, int32_t unit, char out[11])
{
    if (unit == STREAK_NONE) {
        out[0] = '\0';
        return;
    }
    /* the Monday of week w is day 7w - 3 (tz.h: week 0 holds Thursday 1970-01-01) */
    int64_t day = mode == STREAK_WEEKLY ? (int64_t)unit * 7 - 3 : unit;
    struct tz_local t;
    tz_utc(day * DAY_MS, &t);
    char key[PERIOD_KEY_MAX];
    period_key(PERIOD_DAY, &t, key);
    memcpy(out, key, 11);
}
