/* The game model as the engine holds it: an app's compiled definitions and settings, a user's
 * game state, and the step that turns one event into effects.
 *
 * The step (game_apply) is pure: no I/O, no clock; the engine loads what it needs from the
 * store, calls it, then writes what it decided (ledger rows, the event's effects, the user's
 * state once per batch). Per event, in this order (docs/rules.md):
 *   1. the event is counted for its type (milestones "events:<type>");
 *   2. streaks whose event type matches are updated (streak.updated);
 *   3. rules of the event's type apply in ascending priority (then creation order): active,
 *      inside validFrom/validTo, in their season, out of cooldown, conditions true; each award
 *      is multiplied, rounded, capped per period, and added (xp.awarded, level.up,
 *      currency.changed);
 *   4. achievements are checked; an unlock (or a repeatable one's new claims) grants its
 *      rewards, which may unlock more (at most GAME_ACH_PASSES rounds).
 * Time: caps and streaks count in the user's zone (attribute "timezone", else the app's
 * defaultTimezone); the time bonus uses the app's zone. A season is current for an event when
 * it is active (isActive) and startsAt <= occurredAt < endsAt.
 *
 * Threads: the engine thread only. */
#ifndef REACTOR_ENGINE_GAME_H
#define REACTOR_ENGINE_GAME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/fxpack.h"
#include "core/tz.h"
#include "core/uuid.h"
#include "engine/achievement.h"
#include "engine/level.h"
#include "engine/names.h"
#include "engine/rule.h"
#include "engine/streak.h"

#define GAME_ACH_PASSES 4
#define GAME_STREAK_DEFAULT "daily"   /* the key of the default streak */
#define GAME_MAX_STREAKS 16
#define GAME_MAX_CURVES 64
#define GAME_MAX_EVENT_TYPES 256      /* event types counted per user */

/* ---- settings ------------------------------------------------------------------------------
 * From the app's settings object:
 *   xpCurve {track: g > 0}                   the level curve per track (default 100)
 *   levels {track: [t1 < t2 < ...]}          explicit thresholds (integers >= 1, at most 1000)
 *   streaks {default?: true, freezes?: 0..366, freezePeriod?: "week"|"month" (month),
 *            graceHours?: 0..23, keys?: [{key, eventType?, mode?: "daily"|"weekly"}]}
 *   leaderboards {timezone?: zone (UTC), currencies?: bool (false)}   see engine/boards.h */

struct game_streak_def {
    char *key;
    uint64_t nkey;             /* key's key in the app's table (names.h): game_app_bind */
    char *event_type;          /* NULL = every event */
    struct streak_config cfg;
};

struct game_curve {
    char *track;
    double g;
    int64_t *thresholds;
    size_t n_thresholds;
};

struct game_settings {
    struct game_curve *curves;
    size_t n_curves;
    struct game_streak_def *streaks;
    size_t n_streaks;
    char board_tz[TZ_NAME_MAX + 1]; /* leaderboards.timezone: period keys of boards ("" UTC) */
    bool board_currencies;          /* leaderboards.currencies: currency awards have boards */
    uint64_t stamp;                 /* unique per parse (never 0): caches derived from these */
};

/* Parses the game part of an app's settings. 0, or -1 with a message naming the field. */
int game_settings_parse(const json_t *settings, struct game_settings *out, char *err,
                        size_t errlen);
void game_settings_release(struct game_settings *s);
/* The level curve of a track. */
void game_settings_curve(const struct game_settings *s, const char *track,
                         struct level_curve *out);

/* ---- an app's definitions ------------------------------------------------------------------ */

struct game_rule {
    char *id;
    uint64_t key, type_key;    /* the keys of its id and of its event type (names.h) */
    struct rule *rule;
    json_t *doc;               /* what the API shows (body, id, appId, createdAt, updatedAt) */
    int64_t created_at;
    size_t run_end;            /* the end of its event type's run in game_app.rules */
    bool id_is_uuid;           /* == uuid_parse(id, id_uuid), set where a rule is made
                                * (game_app_put_rule; its id never changes): the bytes its
                                * awards' effects hold in the store's form */
    unsigned char id_uuid[UUID_BYTES];
};

struct game_ach {
    char *id;
    uint64_t key, metric_key;  /* the keys of its id and of its metric's name (names.h) */
    struct achievement *ach;
    json_t *doc;
};

struct game_season {
    char *id;
    int64_t starts_at, ends_at; /* Unix ms */
    bool active;
    json_t *doc;
    bool closed; /* the scheduler closed it: its board takes no more events */
};

struct game_app {
    char *app_id;
    char tz[TZ_NAME_MAX + 1];  /* defaultTimezone */
    struct game_settings settings;
    struct game_rule *rules;   /* by event type, then priority, creation, id */
    size_t n_rules;
    struct game_ach *achs;     /* creation order */
    size_t n_achs;
    struct game_season *seasons;
    size_t n_seasons;
    struct names names;         /* keys of the names its users' state is searched by: award
                                 * names, event types, rule and achievement ids, streak keys,
                                 * capped targets (names.h) */
    uint64_t daily_key;         /* the key of GAME_STREAK_DEFAULT */
    struct cond_fields *fields; /* numbers the fields the conditions of rules and achievements
                                 * read (condition.h) */
    bool fields_stale;          /* definitions were removed since `fields` was last rebuilt */
};

struct game_app *game_app_new(const char *app_id, const char *tz);
/* Keys the names of a->settings once they are parsed into it (the streaks'): without it their
 * users' entries are found by name, which is slower but the same. */
void game_app_bind_settings(struct game_app *a);
void game_app_free(struct game_app *a);
/* Takes ownership of r (and of doc). Replaces a rule with the same id. */
void game_app_put_rule(struct game_app *a, const char *id, struct rule *r, json_t *doc,
                       int64_t created_at);
void game_app_put_achievement(struct game_app *a, const char *id, struct achievement *ach,
                              json_t *doc);
void game_app_put_season(struct game_app *a, const char *id, int64_t starts_at,
                         int64_t ends_at, bool active, json_t *doc);
enum game_def { GAME_RULE, GAME_ACH, GAME_SEASON };
/* 0, or -1 when absent. */
int game_app_remove(struct game_app *a, enum game_def kind, const char *id);
const struct game_rule *game_app_rule(const struct game_app *a, const char *id);
const struct game_ach *game_app_achievement(const struct game_app *a, const char *id);
const struct game_ach *game_app_achievement_by_code(const struct game_app *a, const char *code);
const struct game_season *game_app_season(const struct game_app *a, const char *id);
/* The season current at `ms` (see above), or NULL. */
const struct game_season *game_app_current_season(const struct game_app *a, int64_t ms);

/* ---- a user's state ------------------------------------------------------------------------ */

/* Every entry starts as struct names_entry does (names.h): a name and the key it was last found
 * by, so that the step finds it by key, with no string to read (the strings of 10,000 users'
 * entries are each a cache miss). */
struct game_xp {
    char *track;
    uint64_t key;              /* the key it was last found by (names.h), or 0 */
    int64_t xp;
    /* the level at xp, valid while lv_from <= xp < lv_next under settings lv_stamp */
    int64_t lv, lv_from, lv_next;
    uint64_t lv_stamp;
};
struct game_balance {
    char *currency;
    uint64_t key;              /* the key it was last found by (names.h), or 0 */
    int64_t balance, earned;
};
struct game_streak { char *key; uint64_t nkey; struct streak_state s; };
struct game_count { char *type; uint64_t key; int64_t n; };
struct game_claim { char *ach_id; uint64_t key; int64_t claims; int64_t unlocked_at; };
#define GAME_CAP_PERIOD_MAX 64 /* "YYYY-MM-DD", or "season:" and a season id */
/* A cap's rule is its entry's name; its target ("x:<track>" or "c:<currency>") has a key too. */
struct game_cap {
    char *rule_id;
    uint64_t key;
    char *target;
    uint64_t target_key;
    int cap;
    int64_t used;
    char period[GAME_CAP_PERIOD_MAX];
};
struct game_cooldown { char *rule_id; uint64_t key; int64_t last_ms; };

struct game_user {
    json_t *attributes;        /* object, never NULL */
    char tz[TZ_NAME_MAX + 1];  /* attributes.timezone when valid, else "" (the app's) */
    struct game_xp *xp; size_t n_xp;
    struct game_balance *bal; size_t n_bal;
    struct game_streak *streaks; size_t n_streaks;
    struct game_count *counts; size_t n_counts;
    struct game_claim *claims; size_t n_claims;
    struct game_cap *caps; size_t n_caps;
    struct game_cooldown *cools; size_t n_cools;
    int64_t ledger_seq;        /* the last ledger row's seq */
};

/* Loads from the store's texts (attributes: a JSON object or NULL; state: game_user_dump's
 * text or NULL for a new user). A state that does not parse is treated as empty and -1 is
 * returned (the caller logs it); 0 otherwise. */
int game_user_load(struct game_user *u, const char *attributes, const char *state);
/* Replaces the attributes (and the zone they name). Takes ownership of attrs (an object). */
void game_user_set_attributes(struct game_user *u, json_t *attrs);
void game_user_release(struct game_user *u);
/* The state as JSON text (free it). */
char *game_user_dump(const struct game_user *u);
/* The same into out, which it empties first (a buffer reused for every user). */
void game_user_dump_buf(const struct game_user *u, struct buf *out);

int64_t game_user_xp(const struct game_user *u, const char *track);
int64_t game_user_balance(const struct game_user *u, const char *currency);
const struct game_streak *game_user_streak(const struct game_user *u, const char *key);
const struct game_claim *game_user_claim(const struct game_user *u, const char *ach_id);
/* An achievement's metric for this user (MILESTONE). */
int64_t game_user_metric(const struct game_app *a, const struct game_user *u,
                         const struct achievement *ach);

/* ---- the step ------------------------------------------------------------------------------ */

enum game_effect_type { FX_XP, FX_LEVEL, FX_CURRENCY, FX_STREAK, FX_ACHIEVEMENT };

struct game_effect {
    enum game_effect_type type;
    const char *name;          /* track, currency, streak key, or achievement code (borrowed
                                * from the app or the user: valid until either changes) */
    int64_t amount;            /* XP or currency added; streak: freezes used; claims added */
    int64_t total;             /* total XP, balance, streak current, claims in all */
    int64_t from, to;          /* level.up; streak: best in `to` */
    const struct game_rule *rule;   /* the award's rule, or NULL */
    const struct game_ach *ach;     /* the unlocked achievement, or the reward's source */
};

struct game_effects {
    struct game_effect *v;
    size_t n, cap;
};

void game_effects_release(struct game_effects *fx);

struct game_event {
    const char *type;
    const char *metadata;      /* an object's JSON text (valid, as ingestion stores it), or
                                * NULL; rules read its fields in place (condition.h) */
    int64_t occurred_at;       /* Unix ms */
    int64_t now;               /* processing time, Unix ms (unlockedAt) */
};

/* Applies one event to u (see the top of this file), appending to fx (reset first). */
void game_apply(const struct game_app *a, struct game_user *u, const struct game_event *ev,
                struct game_effects *fx);
/* Adds `amount` (> 0) to a currency's balance, or takes it (< 0) when the balance allows:
 * 0 with *balance_after, or -1 (insufficient; nothing changed). Earned counts additions. */
int game_user_add_currency(struct game_user *u, const char *currency, int64_t amount,
                           int64_t *balance_after);

/* Sets every XP track of the user that is not 0 to 0 (a season's resetXpOnStart): an FX_XP
 * effect per track (amount = minus what it had, total 0) and an FX_LEVEL one when its level
 * changes, appended to fx. */
void game_reset_xp(const struct game_app *a, struct game_user *u, struct game_effects *fx);

/* Grants awards outside an event (a season prize): xp {track: amount >= 0} and currency
 * {currency: amount >= 0} objects (either may be NULL), added like a rule's (levels, balances),
 * their effects appended to fx with no rule or achievement as source. */
void game_grant(const struct game_app *a, struct game_user *u, const json_t *xp,
                const json_t *currency, struct game_effects *fx);

/* Writes fx as the event's effects JSON array into out (appended): the expansion of its
 * compact form (fxpack_json of game_effects_pack), so a stored event shows the same. */
void game_effects_json(const struct game_effects *fx, struct buf *out);
/* Writes fx in the store's compact form (core/fxpack.h) into out (appended). */
void game_effects_pack(const struct game_effects *fx, struct buf *out);

#endif
