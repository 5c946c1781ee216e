/* Rules: what an event is worth. A rule is saved as ForgeEngine's JSON body and compiled once
 * into a struct rule the engine evaluates per event without parsing or allocating.
 *
 * Body (POST /rules; docs/rules.md has examples):
 *   name (1..200 chars, required), description? (<= 2000 chars or null),
 *   eventType (1..128 chars, required), priority (integer, default 100),
 *   conditions (a condition, engine/condition.h; default {"all": []}),
 *   xpAwards {track: amount} and currencyAwards {currency: amount} (default {}; names 1..64
 *     chars without control characters; at most RULE_MAX_AWARDS each), where amount is an
 *     integer 0..RULE_AMOUNT_MAX (a real such as 5.0 is refused), or
 *     {"field": "<path>", "multiply"?: number >= 0, "max"?: integer >= 0}: the number at that
 *     path of the event times multiply (default 1), clamped to [0, max] (no max: no upper
 *     clamp), a missing or non-number field gives 0; the path is a metadata or
 *     user.attributes one; no other keys;
 *   multiplierConfig? {field, map {value: multiplier >= 0}}: the event's field (a string, or a
 *     number/bool matched by its JSON text) looks up a multiplier; no entry: 1; a number
 *     matches a key that is a JSON number of the same value ("2" and "2.0" match 2 and 2.0);
 *     at most RULE_MAX_MULT entries;
 *   timeBonusConfig? {fromHour 0..23, toHour 0..24, multiplier >= 0}: applies when the
 *     occurredAt hour in the app's time zone h satisfies fromHour <= h < toHour (when
 *     fromHour > toHour the window wraps midnight: h >= fromHour or h < toHour);
 *   streakBonusConfig? {every integer >= 1, bonusMultiplier >= 0}: applies when the user's
 *     daily streak, after this event, is a positive multiple of every;
 *   isActive (bool, default true);
 *   beyond ForgeEngine: caps? [{per: "day"|"week"|"month"|"season", max: integer >= 0}] (at
 *     most 4, one per period; max <= RULE_AMOUNT_MAX; "season" is allowed with or without
 *     seasonId: the engine counts it in the season active at the event's time),
 *     cooldownSeconds? (integer 0..1e9), validFrom?/validTo? (ISO 8601 after 1970-01-01,
 *     validFrom < validTo), seasonId? (string of 1..128 chars).
 * Every multiplier is a number 0..RULE_MULTIPLIER_MAX. A null member is the same as an absent one; members not named here are ignored (the API
 * may pass id and the like).
 * Each award = round-half-away-from-zero(amount * every applicable multiplier), see
 * rule_round.
 *
 * Threads: compiled rules are immutable; the engine thread owns them. */
#ifndef REACTOR_ENGINE_RULE_H
#define REACTOR_ENGINE_RULE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/condition.h"

#define RULE_MAX_AWARDS 16   /* per kind (xp, currency) */
#define RULE_MAX_CAPS 4
#define RULE_NAME_MAX 200
#define RULE_AWARD_NAME_MAX 64
#define RULE_MAX_MULT 256                  /* multiplierConfig.map entries */
#define RULE_AMOUNT_MAX 1000000000000LL    /* fixed amounts, max, caps */
#define RULE_MULTIPLIER_MAX 1e6

enum rule_cap_per { RULE_CAP_DAY, RULE_CAP_WEEK, RULE_CAP_MONTH, RULE_CAP_SEASON };

struct rule_award {
    char *name;                /* track or currency */
    uint64_t key;              /* name's key in the app's table (names.h), set by the engine
                                * when the rule is installed; 0 until then */
    uint64_t cap_key;          /* the same for its caps' target ("x:<name>", "c:<name>") */
    int64_t amount;            /* fixed amount, when !from_field */
    bool from_field;
    bool has_max;
    double multiply;           /* 1 unless given */
    int64_t max;
    struct cond_path field;    /* last: only field awards read it */
};

struct rule_mult_entry {
    char *key;                 /* the field value's string, or its JSON text */
    size_t len;                /* strlen(key) */
    bool is_number;            /* key is a JSON number: `number` is its value */
    double number;
    double multiplier;
};

/* The members the engine reads for every event come first, so that skipping a rule or
 * finding it has no bonus touches one or two cache lines. */
struct rule {
    bool active;
    bool has_multiplier;       /* multiplierConfig */
    bool has_time_bonus;       /* timeBonusConfig */
    bool has_streak_bonus;     /* streakBonusConfig */
    int from_hour, to_hour;
    struct cond *cond;
    size_t n_xp;
    size_t n_currency;
    int64_t valid_from, valid_to; /* Unix ms; 0 = unbounded */
    int64_t cooldown_ms;       /* 0 = none */
    char *season_id;           /* NULL = any */
    double time_multiplier;
    int64_t streak_every;
    double streak_multiplier;
    size_t n_caps;
    struct { enum rule_cap_per per; int64_t max; } caps[RULE_MAX_CAPS];
    char *name;
    char *event_type;
    int64_t priority;
    struct rule_mult_entry *mult;
    size_t n_mult;
    struct cond_path mult_field;
    struct rule_award xp[RULE_MAX_AWARDS];
    struct rule_award currency[RULE_MAX_AWARDS];
};

/* Validates and compiles a rule body. Returns the rule (free it with rule_free) and sets
 * `*details` to NULL, or returns NULL with `*details` set to a new JSON object {field:
 * message} naming every bad field (e.g. {"conditions": "all[0].op: unknown operator
 * \"like\""}, {"xpAwards.Builder XP": "must be a non-negative integer or {field, multiply?,
 * max?}"}; nested members are named with dots and indexes: "timeBonusConfig.fromHour",
 * "caps[1].per"). A body that is not an object is {"body": "must be a JSON object"}. The rule
 * does not reference `body`. */
struct rule *rule_compile(const json_t *body, json_t **details);
void rule_free(struct rule *r);

/* The multiplier that applies to every award of `r` for this event: the product of the
 * multiplierConfig entry, the time bonus (local_hour: occurredAt's hour in the app's zone) and
 * the streak bonus (streak: the user's daily streak after the event). It does not look at
 * isActive, the validity window, cooldown or caps: the engine does. */
double rule_multiplier(const struct rule *r, const struct cond_ctx *ctx, int local_hour,
                       int64_t streak);
/* One award's amount before caps: base (fixed, or from the field, multiplied and clamped)
 * times `multiplier`, rounded with rule_round, never negative. A field award without max may
 * reach INT64_MAX: the engine adds amounts with saturation. */
int64_t rule_award_amount(const struct rule_award *a, const struct cond_ctx *ctx,
                          double multiplier);
/* Rounds half away from zero, saturating at the int64 range; NaN is 0. A product that lands
 * within four units in the last place below a half counts as the half (10 * 1.15 is
 * 11.499999999999998 in binary, and gives 12 as it would on paper); that tolerance is capped
 * at 2^-10, so it only matters when the product is exact to well under one unit. */
int64_t rule_round(double x);

#endif
