/* Period keys: the names of the calendar periods an instant falls in, shared by rule caps,
 * streak freezes and leaderboards: daily "YYYY-MM-DD", weekly "YYYY-Www" (ISO week, e.g.
 * "2026-W48"), monthly "YYYY-MM". Computed from local calendar fields (core/tz.h), so the
 * caller chooses the zone. Pure. */
#ifndef REACTOR_ENGINE_PERIOD_H
#define REACTOR_ENGINE_PERIOD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/tz.h"

#define PERIOD_KEY_MAX 16 /* "YYYY-MM-DD" and NUL, with room */

enum period_kind { PERIOD_DAY, PERIOD_WEEK, PERIOD_MONTH };

/* "day", "week", "month" -> kind; -1 for anything else. */
int period_parse(const char *name, enum period_kind *out);
const char *period_name(enum period_kind k);
/* Writes the key of the period of kind `k` holding `t` into out (NUL-terminated). */
void period_key(enum period_kind k, const struct tz_local *t, char out[PERIOD_KEY_MAX]);
/* True when `key` is a well-formed key of kind k (calendar-checked: no 2026-02-30, W54, nor
 * W53 in a 52-week year; years 0001..9999, the ones core/tz.h produces). */
bool period_key_valid(enum period_kind k, const char *key);

#endif
