/* Achievements: definitions compiled from ForgeEngine's body, and the metrics they follow.
 *
 * Body (POST /achievements): code (1..64 chars of [A-Za-z0-9._:-], required), name (1..200,
 * required), description? (<= 2000 or null), kind "MILESTONE" | "CONDITIONAL" (required),
 * tier? (string <= 64 without control characters, or integer; kept as given), hidden (bool,
 * default false), repeatable (bool, default false), conditions (required, an object),
 * rewardConfig? {xpAwards?: {track: integer 0..RULE_AMOUNT_MAX}, currencyAwards?: {currency:
 * integer ...}} (at most 16 of each; names as a rule's award names; other keys of
 * rewardConfig are ignored). A null member is the same as an absent one; members not named
 * here are ignored.
 * - MILESTONE: conditions {target: integer >= 1, metric?: "xp" (default: total XP over every
 *   track) | "xp:<track>" | "events:<eventType>" | "level:<track>" | "streak" (the daily
 *   streak's current length) | "currency:<currency>" (earned, spending does not count)}; the
 *   name after ':' is 1..64 characters (1..128 for an event type), no control characters;
 *   other keys are refused.
 *   Progress is the metric's cumulative value; a repeatable one is claimed once per `target`
 *   reached (value / target claims in all).
 * - CONDITIONAL: conditions is ForgeEngine's {field, equals} or any condition
 *   (engine/condition.h), with optional "eventType" (a string) limiting the events it looks
 *   at; it unlocks on the first matching event, and a repeatable one is claimed again by each
 *   matching event. {"eventType": "x"} alone matches every event of type x. */
#ifndef REACTOR_ENGINE_ACHIEVEMENT_H
#define REACTOR_ENGINE_ACHIEVEMENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/condition.h"

#define ACH_MAX_REWARDS 16

enum ach_kind { ACH_MILESTONE, ACH_CONDITIONAL };
enum ach_metric { ACH_METRIC_XP, ACH_METRIC_XP_TRACK, ACH_METRIC_EVENTS, ACH_METRIC_LEVEL,
                  ACH_METRIC_STREAK, ACH_METRIC_CURRENCY };

struct ach_reward {
    char *name;
    int64_t amount;
};

struct achievement {
    char *code;
    char *name;
    json_t *tier;              /* the tier as given (string or integer), or NULL */
    enum ach_kind kind;
    bool hidden;
    bool repeatable;
    /* MILESTONE */
    enum ach_metric metric;
    char *metric_arg;          /* track, event type or currency; NULL for xp and streak */
    int64_t target;
    /* CONDITIONAL */
    struct cond *cond;
    char *event_type;          /* NULL = every event */
    struct ach_reward xp[ACH_MAX_REWARDS];
    size_t n_xp;
    struct ach_reward currency[ACH_MAX_REWARDS];
    size_t n_currency;
};

/* Validates and compiles. Returns it (free with achievement_free) with `*details` NULL, or
 * NULL with `*details` a new {field: message} naming every bad field ("code",
 * "conditions.target", "conditions.metric", "conditions.eventType", "conditions" for the
 * condition's own message, "rewardConfig.xpAwards.<name>", ...). The result does not reference
 * `body`; `tier` is its own copy. */
struct achievement *achievement_compile(const json_t *body, json_t **details);
void achievement_free(struct achievement *a);

/* For a MILESTONE: how many claims a metric value is worth (0 below target; 1 at or above it
 * when not repeatable; value / target when repeatable), and its progress 0..1 toward the next
 * claim (1 once a non-repeatable one is reached; a repeatable one starts again from 0 at each
 * multiple of target). Both are 0 for a CONDITIONAL achievement and for value <= 0. */
int64_t achievement_claims(const struct achievement *a, int64_t value);
double achievement_progress(const struct achievement *a, int64_t value);

#endif
