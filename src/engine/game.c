/* The game model: an app's definitions and settings, users' state, and the step (game.h).
 *
 * A user's state is a handful of small arrays searched linearly: a user has a few tracks,
 * currencies and streaks, and a linear scan of a few entries beats hashing them. Every array
 * element starts with its name (a char *), so one pair of helpers finds and adds in all of
 * them. */
#include "engine/game.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fxpack.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/utf8.h"
#include "engine/period.h"

/* ---- named arrays -------------------------------------------------------------------------- */

static void *named_find(const void *arr, size_t n, size_t size, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        char *const *p = (char *const *)((const char *)arr + i * size);
        if ((*p)[0] == name[0] && strcmp(*p, name) == 0)
            return (void *)p;
    }
    return NULL;
}

static void *named_add(void **arr, size_t *n, size_t size, const char *name)
{
    *arr = xrealloc(*arr, (*n + 1) * size);
    char *elem = (char *)*arr + *n * size;
    memset(elem, 0, size);
    *(char **)elem = names_intern(name);
    (*n)++;
    return elem;
}

static void *named_get(void **arr, size_t *n, size_t size, const char *name)
{
    void *p = named_find(*arr, *n, size, name);
    return p ? p : named_add(arr, n, size, name);
}

/* XP tracks and balances: by the key of the name (names.h) when it has one. */
_Static_assert(offsetof(struct game_xp, key) == offsetof(struct names_entry, key), "keyed");
_Static_assert(offsetof(struct game_balance, key) == offsetof(struct names_entry, key), "keyed");
_Static_assert(offsetof(struct game_streak, nkey) == offsetof(struct names_entry, key), "keyed");
_Static_assert(offsetof(struct game_count, key) == offsetof(struct names_entry, key), "keyed");
_Static_assert(offsetof(struct game_claim, key) == offsetof(struct names_entry, key), "keyed");
_Static_assert(offsetof(struct game_cap, key) == offsetof(struct names_entry, key), "keyed");
_Static_assert(offsetof(struct game_cooldown, key) == offsetof(struct names_entry, key), "keyed");

static inline void *keyed_get(void **arr, size_t *n, size_t size, const char *name, uint64_t key)
{
    struct names_entry *e = names_find(*arr, *n, size, name, key);
    if (!e) {
        e = named_add(arr, n, size, name);
        e->key = key;
    }
    return e;
}

#define FIND(u, field, name) named_find((u)->field, (u)->n_##field, sizeof(*(u)->field), (name))
#define GET(u, field, name)                                                                \
    named_get((void **)&(u)->field, &(u)->n_##field, sizeof(*(u)->field), (name))
/* The same by the name's key in the app's table (0: by name). An entry found remembers the key
 * (names.h), also through a const user: the key is a cache, not part of the state. */
#define KFIND(u, field, name, key)                                                          \
    names_find((void *)(u)->field, (u)->n_##field, sizeof(*(u)->field), (name), (key))
#define KGET(u, field, name, key)                                                           \
    keyed_get((void **)&(u)->field, &(u)->n_##field, sizeof(*(u)->field), (name), (key))

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* ---- settings ------------------------------------------------------------------------------ */

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t errlen,
                                                      const char *fmt, ...);
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_streaks(const json_t *v, struct game_settings *out, char *err, size_t errlen)
{
    struct streak_config base = { STREAK_DAILY, 0, 0, PERIOD_MONTH };
    bool with_default = true;
    const json_t *keys = NULL;
    if (v) {
        if (!json_is_object(v))
            return bad(err, errlen, "%s must be an object", "streaks");
        const json_t *x;
        if ((x = json_object_get(v, "default")) && !json_is_boolean(x))
            return bad(err, errlen, "%s must be true or false", "streaks.default");
        with_default = !x || json_is_true(x);
        if ((x = json_object_get(v, "freezes"))) {
            if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 366)
                return bad(err, errlen, "%s must be an integer from 0 to 366", "streaks.freezes");
            base.freezes = (int)json_integer_value(x);
        }
        if ((x = json_object_get(v, "freezePeriod"))) {
            const char *p = json_string_value(x);
            if (p && strcmp(p, "week") == 0)
                base.freeze_period = PERIOD_WEEK;
            else if (!p || strcmp(p, "month") != 0)
                return bad(err, errlen, "%s must be \"week\" or \"month\"",
                           "streaks.freezePeriod");
        }
        if ((x = json_object_get(v, "graceHours"))) {
            if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 23)
                return bad(err, errlen, "%s must be an integer from 0 to 23",
                           "streaks.graceHours");
            base.grace_hours = (int)json_integer_value(x);
        }
        keys = json_object_get(v, "keys");
        if (keys && (!json_is_array(keys) || json_array_size(keys) > GAME_MAX_STREAKS - 1))
            return bad(err, errlen, "%s must be an array of at most 15 streaks", "streaks.keys");
    }
    out->streaks = xcalloc(GAME_MAX_STREAKS, sizeof(*out->streaks));
    if (with_default) {
        struct game_streak_def *d = &out->streaks[out->n_streaks++];
        d->key = xstrdup(GAME_STREAK_DEFAULT);
        d->cfg = base;
    }
    size_t i;
    const json_t *k;
    json_array_foreach(keys, i, k) {
        const char *key = json_string_value(json_object_get(k, "key"));
        const json_t *type = json_object_get(k, "eventType");
        const json_t *mode = json_object_get(k, "mode");
        if (!json_is_object(k) || !key || !*key || utf8_chars(key) > 64 ||
            utf8_has_control(key) || (type && !json_is_string(type)) ||
            (mode && !json_is_string(mode)))
            return bad(err, errlen, "%s entries must be {key (1..64 chars), eventType?, mode?}",
                       "streaks.keys");
        for (size_t j = 0; j < out->n_streaks; j++)
            if (strcmp(out->streaks[j].key, key) == 0)
                return bad(err, errlen, "%s: two streaks with one key", "streaks.keys");
        struct game_streak_def *d = &out->streaks[out->n_streaks++];
        d->key = xstrdup(key);
        d->event_type = type ? xstrdup(json_string_value(type)) : NULL;
        d->cfg = base;
        if (mode && strcmp(json_string_value(mode), "weekly") == 0)
            d->cfg.mode = STREAK_WEEKLY;
        else if (mode && strcmp(json_string_value(mode), "daily") != 0)
            return bad(err, errlen, "%s: mode must be \"daily\" or \"weekly\"", "streaks.keys");
    }
    return 0;
}

static struct game_curve *curve_get(struct game_settings *s, const char *track)
{
    for (size_t i = 0; i < s->n_curves; i++)
        if (strcmp(s->curves[i].track, track) == 0)
            return &s->curves[i];
    if (s->n_curves == GAME_MAX_CURVES)
        return NULL;
    s->curves = xrealloc(s->curves, (s->n_curves + 1) * sizeof(*s->curves));
    struct game_curve *c = &s->curves[s->n_curves++];
    memset(c, 0, sizeof(*c));
    c->track = xstrdup(track);
    c->g = LEVEL_CURVE_DEFAULT;
    return c;
}

/* settings.leaderboards (engine/boards.h). */
static int parse_boards(const json_t *v, struct game_settings *out, char *err, size_t errlen)
{
    if (!v)
        return 0;
    if (!json_is_object(v))
        return bad(err, errlen, "%s must be an object {timezone?, currencies?}", "leaderboards");
    const char *key;
    const json_t *x;
    json_object_foreach((json_t *)v, key, x) {
        if (strcmp(key, "timezone") == 0) {
            if (!json_is_string(x) || json_string_length(x) > TZ_NAME_MAX ||
                !tz_valid(json_string_value(x)))
                return bad(err, errlen, "%s must be a known IANA time zone",
                           "leaderboards.timezone");
            strcpy(out->board_tz, json_string_value(x));
        } else if (strcmp(key, "currencies") == 0) {
            if (!json_is_boolean(x))
                return bad(err, errlen, "%s must be true or false", "leaderboards.currencies");
            out->board_currencies = json_is_true(x);
        } else {
            return bad(err, errlen, "leaderboards.%s is not a setting (timezone, currencies)",
                       key);
        }
    }
    return 0;
}

int game_settings_parse(const json_t *settings, struct game_settings *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof(*out));
    const json_t *curve = json_object_get(settings, "xpCurve");
    const json_t *levels = json_object_get(settings, "levels");
    const char *track;
    const json_t *v;
    if (curve && !json_is_object(curve))
        return bad(err, errlen, "%s must be an object {track: number > 0}", "xpCurve");
    if (levels && !json_is_object(levels))
        goto bad_levels;
    json_object_foreach((json_t *)curve, track, v) {
        double g = json_number_value(v);
        if (!json_is_number(v) || !(g > 0) || g > 1e12) {
            game_settings_release(out);
            return bad(err, errlen, "xpCurve.%s must be a number > 0", track);
        }
        struct game_curve *c = curve_get(out, track);
        if (!c) {
            game_settings_release(out);
            return bad(err, errlen, "%s: at most 64 tracks", "xpCurve");
        }
        c->g = g;
    }
    json_object_foreach((json_t *)levels, track, v) {
        size_t n = json_array_size(v);
        if (!json_is_array(v) || n == 0 || n > 1000)
            goto bad_levels;
        struct game_curve *c = curve_get(out, track);
        if (!c)
            goto bad_levels;
        free(c->thresholds);
        c->thresholds = xcalloc(n, sizeof(*c->thresholds));
        c->n_thresholds = n;
        for (size_t i = 0; i < n; i++) {
            const json_t *t = json_array_get(v, i);
            if (!json_is_integer(t) || json_integer_value(t) < 1 ||
                (i > 0 && json_integer_value(t) <= c->thresholds[i - 1]))
                goto bad_levels;
            c->thresholds[i] = json_integer_value(t);
        }
    }
    if (parse_streaks(json_object_get(settings, "streaks"), out, err, errlen) < 0 ||
        parse_boards(json_object_get(settings, "leaderboards"), out, err, errlen) < 0) {
        game_settings_release(out);
        return -1;
    }
    static _Atomic uint64_t stamps;
    out->stamp = atomic_fetch_add_explicit(&stamps, 1, memory_order_relaxed) + 1;
    return 0;
bad_levels:
    game_settings_release(out);
    return bad(err, errlen, "%s must be {track: [ascending integers >= 1, at most 1000]}",
               "levels");
}

void game_settings_release(struct game_settings *s)
{
    for (size_t i = 0; i < s->n_curves; i++) {
        free(s->curves[i].track);
        free(s->curves[i].thresholds);
    }
    free(s->curves);
    for (size_t i = 0; i < s->n_streaks; i++) {
        free(s->streaks[i].key);
        free(s->streaks[i].event_type);
    }
    free(s->streaks);
    memset(s, 0, sizeof(*s));
}

void game_settings_curve(const struct game_settings *s, const char *track,
                         struct level_curve *out)
{
    out->g = LEVEL_CURVE_DEFAULT;
    out->thresholds = NULL;
    out->n_thresholds = 0;
    for (size_t i = 0; i < s->n_curves; i++) {
        if (strcmp(s->curves[i].track, track) == 0) {
            out->g = s->curves[i].g;
            out->thresholds = s->curves[i].thresholds;
            out->n_thresholds = s->curves[i].n_thresholds;
            return;
        }
    }
}

/* ---- an app's definitions ------------------------------------------------------------------ */

struct game_app *game_app_new(const char *app_id, const char *tz)
{
    struct game_app *a = xcalloc(1, sizeof(*a));
    a->app_id = xstrdup(app_id);
    snprintf(a->tz, sizeof(a->tz), "%s", tz && *tz ? tz : "UTC");
    a->fields = cond_fields_new();
    names_init(&a->names);
    a->daily_key = names_key(&a->names, GAME_STREAK_DEFAULT);
    return a;
}

void game_app_bind_settings(struct game_app *a)
{
    for (size_t i = 0; i < a->settings.n_streaks; i++)
        a->settings.streaks[i].nkey = names_key(&a->names, a->settings.streaks[i].key);
}

static void rule_release(struct game_rule *r)
{
    free(r->id);
    rule_free(r->rule);
    json_decref(r->doc);
}

static void ach_release(struct game_ach *x)
{
    free(x->id);
    achievement_free(x->ach);
    json_decref(x->doc);
}

static void season_release(struct game_season *s)
{
    free(s->id);
    json_decref(s->doc);
}

void game_app_free(struct game_app *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_rules; i++)
        rule_release(&a->rules[i]);
    for (size_t i = 0; i < a->n_achs; i++)
        ach_release(&a->achs[i]);
    for (size_t i = 0; i < a->n_seasons; i++)
        season_release(&a->seasons[i]);
    free(a->rules);
    free(a->achs);
    free(a->seasons);
    game_settings_release(&a->settings);
    cond_fields_free(a->fields);
    names_release(&a->names);
    free(a->app_id);
    free(a);
}

static int rule_order(const void *pa, const void *pb)
{
    const struct game_rule *a = pa, *b = pb;
    int c = strcmp(a->rule->event_type, b->rule->event_type);
    if (c)
        return c;
    if (a->rule->priority != b->rule->priority)
        return a->rule->priority < b->rule->priority ? -1 : 1;
    if (a->created_at != b->created_at)
        return a->created_at < b->created_at ? -1 : 1;
    return strcmp(a->id, b->id);
}

/* Numbers the fields c reads in the app's table. When the table is full and definitions were
 * removed or replaced since it was last rebuilt, it may hold paths nobody reads any more: it
 * is rebuilt from the conditions installed now. */
static void fields_bind(struct game_app *a, struct cond *c)
{
    if (!c || cond_fields_bind(a->fields, c) == 0 || !a->fields_stale)
        return;
    cond_fields_clear(a->fields);
    a->fields_stale = false;
    for (size_t i = 0; i < a->n_rules; i++)
        if (a->rules[i].rule->cond)
            cond_fields_bind(a->fields, a->rules[i].rule->cond);
    for (size_t i = 0; i < a->n_achs; i++)
        if (a->achs[i].ach->cond)
            cond_fields_bind(a->fields, a->achs[i].ach->cond);
}

/* Marks where each event type's run of rules ends, so an event finds its rules with one
 * binary search and no scan. */
static void rules_index(struct game_app *a)
{
    for (size_t i = a->n_rules; i-- > 0;)
        a->rules[i].run_end =
            i + 1 < a->n_rules &&
                    strcmp(a->rules[i].rule->event_type, a->rules[i + 1].rule->event_type) == 0
                ? a->rules[i + 1].run_end
                : i + 1;
}

/* A cap's target: "<kind>:<name>", cut to fit as the name's longest form does. */
#define CAP_TARGET_MAX (RULE_AWARD_NAME_MAX * 4 + 3)
static void cap_target(char kind, const char *name, char target[CAP_TARGET_MAX])
{
    size_t len = strnlen(name, CAP_TARGET_MAX - 3);
    target[0] = kind;
    target[1] = ':';
    memcpy(target + 2, name, len);
    target[2 + len] = '\0';
}

static void award_keys(struct game_app *a, struct rule_award *w, char kind)
{
    char target[CAP_TARGET_MAX];
    cap_target(kind, w->name, target);
    w->key = names_key(&a->names, w->name);
    w->cap_key = names_key(&a->names, target);
}

void game_app_put_rule(struct game_app *a, const char *id, struct rule *r, json_t *doc,
                       int64_t created_at)
{
    game_app_remove(a, GAME_RULE, id);
    for (size_t k = 0; k < r->n_xp; k++)
        award_keys(a, &r->xp[k], 'x');
    for (size_t k = 0; k < r->n_currency; k++)
        award_keys(a, &r->currency[k], 'c');
    a->rules = xrealloc(a->rules, (a->n_rules + 1) * sizeof(*a->rules));
    struct game_rule *gr = &a->rules[a->n_rules++];
    *gr = (struct game_rule){
        .id = xstrdup(id),
        .key = names_key(&a->names, id),
        .type_key = names_key(&a->names, r->event_type),
        .rule = r,
        .doc = doc,
        .created_at = created_at,
    };
    gr->id_is_uuid = uuid_parse(id, gr->id_uuid);
    qsort(a->rules, a->n_rules, sizeof(*a->rules), rule_order);
    rules_index(a);
    fields_bind(a, r->cond);
}

void game_app_put_achievement(struct game_app *a, const char *id, struct achievement *ach,
                              json_t *doc)
{
    for (size_t i = 0; i < a->n_achs; i++) {
        if (strcmp(a->achs[i].id, id) == 0) { /* keep its place: creation order */
            achievement_free(a->achs[i].ach);
            json_decref(a->achs[i].doc);
            a->achs[i].ach = ach;
            a->achs[i].doc = doc;
            a->achs[i].metric_key = ach->metric_arg ? names_key(&a->names, ach->metric_arg) : 0;
            a->fields_stale = true;
            fields_bind(a, ach->cond);
            return;
        }
    }
    a->achs = xrealloc(a->achs, (a->n_achs + 1) * sizeof(*a->achs));
    a->achs[a->n_achs++] = (struct game_ach){
        .id = xstrdup(id),
        .key = names_key(&a->names, id),
        .metric_key = ach->metric_arg ? names_key(&a->names, ach->metric_arg) : 0,
        .ach = ach,
        .doc = doc,
    };
    fields_bind(a, ach->cond);
}

void game_app_put_season(struct game_app *a, const char *id, int64_t starts_at,
                         int64_t ends_at, bool active, json_t *doc)
{
    for (size_t i = 0; i < a->n_seasons; i++) {
        if (strcmp(a->seasons[i].id, id) == 0) {
            json_decref(a->seasons[i].doc);
            a->seasons[i] = (struct game_season){ a->seasons[i].id, starts_at, ends_at, active,
                                                  doc, a->seasons[i].closed };
            return;
        }
    }
    a->seasons = xrealloc(a->seasons, (a->n_seasons + 1) * sizeof(*a->seasons));
    a->seasons[a->n_seasons++] =
        (struct game_season){ xstrdup(id), starts_at, ends_at, active, doc, false };
}

int game_app_remove(struct game_app *a, enum game_def kind, const char *id)
{
    switch (kind) {
    case GAME_RULE:
        for (size_t i = 0; i < a->n_rules; i++) {
            if (strcmp(a->rules[i].id, id) == 0) {
                rule_release(&a->rules[i]);
                memmove(&a->rules[i], &a->rules[i + 1], (a->n_rules - i - 1) * sizeof(*a->rules));
                a->n_rules--;
                rules_index(a);
                a->fields_stale = true;
                return 0;
            }
        }
        return -1;
    case GAME_ACH:
        for (size_t i = 0; i < a->n_achs; i++) {
            if (strcmp(a->achs[i].id, id) == 0) {
                ach_release(&a->achs[i]);
                memmove(&a->achs[i], &a->achs[i + 1], (a->n_achs - i - 1) * sizeof(*a->achs));
                a->n_achs--;
                a->fields_stale = true;
                return 0;
            }
        }
        return -1;
    case GAME_SEASON:
        for (size_t i = 0; i < a->n_seasons; i++) {
            if (strcmp(a->seasons[i].id, id) == 0) {
                season_release(&a->seasons[i]);
                memmove(&a->seasons[i], &a->seasons[i + 1],
                        (a->n_seasons - i - 1) * sizeof(*a->seasons));
                a->n_seasons--;
                return 0;
            }
        }
        return -1;
    }
    return -1;
}

const struct game_rule *game_app_rule(const struct game_app *a, const char *id)
{
    for (size_t i = 0; i < a->n_rules; i++)
        if (strcmp(a->rules[i].id, id) == 0)
            return &a->rules[i];
    return NULL;
}

const struct game_ach *game_app_achievement(const struct game_app *a, const char *id)
{
    for (size_t i = 0; i < a->n_achs; i++)
        if (strcmp(a->achs[i].id, id) == 0)
            return &a->achs[i];
    return NULL;
}

const struct game_ach *game_app_achievement_by_code(const struct game_app *a, const char *code)
{
    for (size_t i = 0; i < a->n_achs; i++)
        if (strcmp(a->achs[i].ach->code, code) == 0)
            return &a->achs[i];
    return NULL;
}

const struct game_season *game_app_season(const struct game_app *a, const char *id)
{
    for (size_t i = 0; i < a->n_seasons; i++)
        if (strcmp(a->seasons[i].id, id) == 0)
            return &a->seasons[i];
    return NULL;
}

const struct game_season *game_app_current_season(const struct game_app *a, int64_t ms)
{
    const struct game_season *best = NULL;
    for (size_t i = 0; i < a->n_seasons; i++) {
        const struct game_season *s = &a->seasons[i];
        if (s->active && s->starts_at <= ms && ms < s->ends_at &&
            (!best || s->starts_at > best->starts_at))
            best = s;
    }
    return best;
}

/* The rules of one event type: [*first, *first + n). */
static size_t rules_of(const struct game_app *a, const char *type, size_t *first)
{
    size_t lo = 0, hi = a->n_rules;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(a->rules[mid].rule->event_type, type) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *first = lo;
    if (lo == a->n_rules || strcmp(a->rules[lo].rule->event_type, type) != 0)
        return 0;
    return a->rules[lo].run_end - lo;
}

/* ---- a user's state ------------------------------------------------------------------------ */

void game_user_set_attributes(struct game_user *u, json_t *attrs)
{
    json_decref(u->attributes);
    u->attributes = json_is_object(attrs) ? attrs : json_object();
    if (!json_is_object(attrs))
        json_decref(attrs);
    const char *tz = json_string_value(json_object_get(u->attributes, "timezone"));
    u->tz[0] = '\0';
    if (tz && strlen(tz) <= TZ_NAME_MAX && tz_valid(tz))
        snprintf(u->tz, sizeof(u->tz), "%s", tz);
}

static int64_t jint(const json_t *arr, size_t i)
{
    return json_integer_value(json_array_get(arr, i));
}

static int load_state(struct game_user *u, const json_t *s)
{
    if (!json_is_object(s))
        return -1;
    u->ledger_seq = json_integer_value(json_object_get(s, "seq"));
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(s, "xp"), k, v)
        ((struct game_xp *)GET(u, xp, k))->xp = json_integer_value(v);
    json_object_foreach((json_t *)json_object_get(s, "currencies"), k, v) {
        struct game_balance *b = GET(u, bal, k);
        b->balance = jint(v, 0);
        b->earned = jint(v, 1);
    }
    json_object_foreach((json_t *)json_object_get(s, "streaks"), k, v) {
        struct game_streak *st = GET(u, streaks, k);
        st->s.current = (int32_t)jint(v, 0);
        st->s.best = (int32_t)jint(v, 1);
        st->s.last_unit = (int32_t)jint(v, 2);
        st->s.freezes_left = (int32_t)jint(v, 3);
        st->s.freeze_refill = (int32_t)jint(v, 4);
    }
    json_object_foreach((json_t *)json_object_get(s, "events"), k, v)
        ((struct game_count *)GET(u, counts, k))->n = json_integer_value(v);
    json_object_foreach((json_t *)json_object_get(s, "achievements"), k, v) {
        struct game_claim *c = GET(u, claims, k);
        c->claims = jint(v, 0);
        c->unlocked_at = jint(v, 1);
    }
    size_t i;
    json_array_foreach(json_object_get(s, "caps"), i, v) {
        const char *rule = json_string_value(json_array_get(v, 0));
        const char *target = json_string_value(json_array_get(v, 2));
        const char *period = json_string_value(json_array_get(v, 3));
        if (!rule || !target || !period || strlen(period) >= GAME_CAP_PERIOD_MAX)
            continue; /* not one this writes: the cap starts again */
        u->caps = xrealloc(u->caps, (u->n_caps + 1) * sizeof(*u->caps));
        struct game_cap *c = &u->caps[u->n_caps++];
        *c = (struct game_cap){ .rule_id = names_intern(rule), .target = names_intern(target),
                                .cap = (int)jint(v, 1), .used = jint(v, 4) };
        memcpy(c->period, period, strlen(period) + 1);
    }
    json_object_foreach((json_t *)json_object_get(s, "cooldowns"), k, v)
        ((struct game_cooldown *)GET(u, cools, k))->last_ms = json_integer_value(v);
    return 0;
}

int game_user_load(struct game_user *u, const char *attributes, const char *state)
{
    memset(u, 0, sizeof(*u));
    game_user_set_attributes(u, attributes ? json_loads(attributes, 0, NULL) : NULL);
    if (!state)
        return 0;
    json_t *s = json_loads(state, 0, NULL);
    int rc = load_state(u, s);
    json_decref(s);
    if (rc < 0) {
        json_t *attrs = json_incref(u->attributes);
        game_user_release(u);
        memset(u, 0, sizeof(*u));
        game_user_set_attributes(u, attrs);
    }
    return rc;
}

void game_user_release(struct game_user *u)
{
    json_decref(u->attributes);
    for (size_t i = 0; i < u->n_xp; i++)
        names_unintern(u->xp[i].track);
    for (size_t i = 0; i < u->n_bal; i++)
        names_unintern(u->bal[i].currency);
    for (size_t i = 0; i < u->n_streaks; i++)
        names_unintern(u->streaks[i].key);
    for (size_t i = 0; i < u->n_counts; i++)
        names_unintern(u->counts[i].type);
    for (size_t i = 0; i < u->n_claims; i++)
        names_unintern(u->claims[i].ach_id);
    for (size_t i = 0; i < u->n_caps; i++) {
        names_unintern(u->caps[i].rule_id);
        names_unintern(u->caps[i].target);
    }
    for (size_t i = 0; i < u->n_cools; i++)
        names_unintern(u->cools[i].rule_id);
    free(u->xp);
    free(u->bal);
    free(u->streaks);
    free(u->counts);
    free(u->claims);
    free(u->caps);
    free(u->cools);
    memset(u, 0, sizeof(*u));
}

static void put_key(struct buf *b, const char *k)
{
    buf_append_json_string(b, k, strlen(k));
    buf_putc(b, ':');
}

static void put_ints(struct buf *b, const int64_t *v, size_t n)
{
    buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(b, ',');
        buf_append_i64(b, v[i]);
    }
    buf_putc(b, ']');
}

char *game_user_dump(const struct game_user *u)
{
    struct buf b;
    buf_init(&b);
    game_user_dump_buf(u, &b);
    return buf_detach(&b, NULL);
}

/* Opens the member `name` of a state (an object, or an array with `array`) unless it would
 * be empty: load_state reads a missing member as an empty one. */
static bool open_member(struct buf *b, const char *name, size_t n, bool array)
{
    if (!n)
        return false;
    buf_puts(b, ",\"");
    buf_puts(b, name);
    buf_puts(b, array ? "\":[" : "\":{");
    return true;
}

void game_user_dump_buf(const struct game_user *u, struct buf *out)
{
    struct buf b = *out;
    buf_reset(&b);
    buf_puts(&b, "{\"seq\":");
    buf_append_i64(&b, u->ledger_seq);
    if (open_member(&b, "xp", u->n_xp, false)) {
        for (size_t i = 0; i < u->n_xp; i++) {
            if (i)
                buf_putc(&b, ',');
            put_key(&b, u->xp[i].track);
            buf_append_i64(&b, u->xp[i].xp);
        }
        buf_putc(&b, '}');
    }
    if (open_member(&b, "currencies", u->n_bal, false)) {
        for (size_t i = 0; i < u->n_bal; i++) {
            if (i)
                buf_putc(&b, ',');
            put_key(&b, u->bal[i].currency);
            put_ints(&b, (int64_t[]){ u->bal[i].balance, u->bal[i].earned }, 2);
        }
        buf_putc(&b, '}');
    }
    if (open_member(&b, "streaks", u->n_streaks, false)) {
        for (size_t i = 0; i < u->n_streaks; i++) {
            const struct streak_state *s = &u->streaks[i].s;
            if (i)
                buf_putc(&b, ',');
            put_key(&b, u->streaks[i].key);
            put_ints(&b, (int64_t[]){ s->current, s->best, s->last_unit, s->freezes_left,
                                      s->freeze_refill }, 5);
        }
        buf_putc(&b, '}');
    }
    if (open_member(&b, "events", u->n_counts, false)) {
        for (size_t i = 0; i < u->n_counts; i++) {
            if (i)
                buf_putc(&b, ',');
            put_key(&b, u->counts[i].type);
            buf_append_i64(&b, u->counts[i].n);
        }
        buf_putc(&b, '}');
    }
    if (open_member(&b, "achievements", u->n_claims, false)) {
        for (size_t i = 0; i < u->n_claims; i++) {
            if (i)
                buf_putc(&b, ',');
            put_key(&b, u->claims[i].ach_id);
            put_ints(&b, (int64_t[]){ u->claims[i].claims, u->claims[i].unlocked_at }, 2);
        }
        buf_putc(&b, '}');
    }
    if (open_member(&b, "caps", u->n_caps, true)) {
        for (size_t i = 0; i < u->n_caps; i++) {
            const struct game_cap *c = &u->caps[i];
            if (i)
                buf_putc(&b, ',');
            buf_putc(&b, '[');
            buf_append_json_string(&b, c->rule_id, strlen(c->rule_id));
            buf_putc(&b, ',');
            buf_append_i64(&b, c->cap);
            buf_putc(&b, ',');
            buf_append_json_string(&b, c->target, strlen(c->target));
            buf_putc(&b, ',');
            buf_append_json_string(&b, c->period, strlen(c->period));
            buf_putc(&b, ',');
            buf_append_i64(&b, c->used);
            buf_putc(&b, ']');
        }
        buf_putc(&b, ']');
    }
    if (open_member(&b, "cooldowns", u->n_cools, false)) {
        for (size_t i = 0; i < u->n_cools; i++) {
            if (i)
                buf_putc(&b, ',');
            put_key(&b, u->cools[i].rule_id);
            buf_append_i64(&b, u->cools[i].last_ms);
        }
        buf_putc(&b, '}');
    }
    buf_putc(&b, '}');
    *out = b;
}

int64_t game_user_xp(const struct game_user *u, const char *track)
{
    const struct game_xp *x = FIND(u, xp, track);
    return x ? x->xp : 0;
}

int64_t game_user_balance(const struct game_user *u, const char *currency)
{
    const struct game_balance *b = FIND(u, bal, currency);
    return b ? b->balance : 0;
}

const struct game_streak *game_user_streak(const struct game_user *u, const char *key)
{
    return FIND(u, streaks, key);
}

const struct game_claim *game_user_claim(const struct game_user *u, const char *ach_id)
{
    return FIND(u, claims, ach_id);
}

/* game_user_metric with the key of the metric's name (0: found by name). */
static int64_t metric_of(const struct game_app *a, const struct game_user *u,
                         const struct achievement *ach, uint64_t key)
{
    switch (ach->metric) {
    case ACH_METRIC_XP: {
        int64_t sum = 0;
        for (size_t i = 0; i < u->n_xp; i++)
            sum = sat_add(sum, u->xp[i].xp);
        return sum;
    }
    case ACH_METRIC_XP_TRACK: {
        const struct game_xp *x = KFIND(u, xp, ach->metric_arg, key);
        return x ? x->xp : 0;
    }
    case ACH_METRIC_EVENTS: {
        const struct game_count *c = KFIND(u, counts, ach->metric_arg, key);
        return c ? c->n : 0;
    }
    case ACH_METRIC_LEVEL: {
        const struct game_xp *x = KFIND(u, xp, ach->metric_arg, key);
        struct level_curve curve;
        struct level_info li;
        game_settings_curve(&a->settings, ach->metric_arg, &curve);
        level_of(&curve, x ? x->xp : 0, &li);
        return li.level;
    }
    case ACH_METRIC_STREAK: {
        const struct game_streak *s = KFIND(u, streaks, GAME_STREAK_DEFAULT, a->daily_key);
        return s ? s->s.current : 0;
    }
    case ACH_METRIC_CURRENCY: {
        const struct game_balance *b = KFIND(u, bal, ach->metric_arg, key);
        return b ? b->earned : 0;
    }
    }
    return 0;
}

int64_t game_user_metric(const struct game_app *a, const struct game_user *u,
                         const struct achievement *ach)
{
    return metric_of(a, u, ach, 0);
}

int game_user_add_currency(struct game_user *u, const char *currency, int64_t amount,
                           int64_t *balance_after)
{
    struct game_balance *b = FIND(u, bal, currency);
    int64_t have = b ? b->balance : 0;
    if (amount < 0 && have < -amount)
        return -1;
    if (!b)
        b = GET(u, bal, currency);
    b->balance = sat_add(b->balance, amount);
    if (amount > 0)
        b->earned = sat_add(b->earned, amount);
    *balance_after = b->balance;
    return 0;
}

/* ---- the step ------------------------------------------------------------------------------ */

void game_effects_release(struct game_effects *fx)
{
    free(fx->v);
    memset(fx, 0, sizeof(*fx));
}

static __attribute__((noinline)) void fx_grow(struct game_effects *fx)
{
    fx->cap = fx->cap ? fx->cap * 2 : 16;
    fx->v = xrealloc(fx->v, fx->cap * sizeof(*fx->v));
}

/* Appends an effect: the members not given are 0. */
static inline struct game_effect *fx_add(struct game_effects *fx, enum game_effect_type type,
                                         const char *name)
{
    if (fx->n == fx->cap)
        fx_grow(fx);
    struct game_effect *e = &fx->v[fx->n++];
    *e = (struct game_effect){ .type = type, .name = name };
    return e;
}

/* The level of x under the app's curve. A user's level only goes up with XP, so what was
 * computed for some XP holds until nextLevelXp as long as the curve is the same (the stamp of
 * the settings it came from): most awards need no square root. */
static __attribute__((noinline)) void xp_level_compute(const struct game_app *a,
                                                       struct game_xp *x)
{
    struct level_curve curve;
    struct level_info li;
    game_settings_curve(&a->settings, x->track, &curve);
    level_of(&curve, x->xp, &li);
    x->lv = li.level;
    x->lv_next = li.next_level_xp;
    x->lv_from = x->xp;
    x->lv_stamp = a->settings.stamp;
}

static inline void xp_level(const struct game_app *a, struct game_xp *x)
{
    if (x->lv_stamp != a->settings.stamp || x->xp < x->lv_from || x->xp >= x->lv_next)
        xp_level_compute(a, x);
}

/* Adds XP to a track (key: its name's key, or 0). Inlined, as award_currency is: a rule's
 * awards are most of the step's calls when many rules match. */
static inline __attribute__((always_inline)) void
award_xp(const struct game_app *a, struct game_user *u, const char *track, uint64_t key,
         int64_t amount, const struct game_rule *rule, const struct game_ach *ach,
         struct game_effects *fx)
{
    struct game_xp *x = keyed_get((void **)&u->xp, &u->n_xp, sizeof(*u->xp), track, key);
    xp_level(a, x);
    int64_t before = x->lv;
    x->xp = sat_add(x->xp, amount);
    xp_level(a, x);
    struct game_effect *e = fx_add(fx, FX_XP, x->track);
    e->amount = amount;
    e->total = x->xp;
    e->rule = rule;
    e->ach = ach;
    if (x->lv != before) {
        e = fx_add(fx, FX_LEVEL, x->track);
        e->from = before;
        e->to = x->lv;
        e->rule = rule;
        e->ach = ach;
    }
}

/* Adds to a balance (key: its name's key, or 0). */
static inline __attribute__((always_inline)) void
award_currency(struct game_user *u, const char *currency, uint64_t key, int64_t amount,
               const struct game_rule *rule, const struct game_ach *ach, struct game_effects *fx)
{
    struct game_balance *b = keyed_get((void **)&u->bal, &u->n_bal, sizeof(*u->bal), currency, key);
    b->balance = sat_add(b->balance, amount);
    b->earned = sat_add(b->earned, amount);
    struct game_effect *e = fx_add(fx, FX_CURRENCY, b->currency);
    e->amount = amount;
    e->total = b->balance;
    e->rule = rule;
    e->ach = ach;
}

void game_reset_xp(const struct game_app *a, struct game_user *u, struct game_effects *fx)
{
    for (size_t i = 0; i < u->n_xp; i++)
        if (u->xp[i].xp != 0)
            award_xp(a, u, u->xp[i].track, 0, -u->xp[i].xp, NULL, NULL, fx);
}

void game_grant(const struct game_app *a, struct game_user *u, const json_t *xp,
                const json_t *currency, struct game_effects *fx)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)xp, k, v)
        if (json_is_integer(v) && json_integer_value(v) > 0)
            award_xp(a, u, k, 0, json_integer_value(v), NULL, NULL, fx);
    json_object_foreach((json_t *)currency, k, v)
        if (json_is_integer(v) && json_integer_value(v) > 0)
            award_currency(u, k, 0, json_integer_value(v), NULL, NULL, fx);
}

/* The period a cap of rule r counts in, for an event at local time t. */
static void cap_period(const struct game_app *a, const struct rule *r, size_t i,
                       const struct tz_local *t, int64_t occurred_at, char *out, size_t len)
{
    switch (r->caps[i].per) {
    case RULE_CAP_DAY:
        period_key(PERIOD_DAY, t, out);
        return;
    case RULE_CAP_WEEK:
        period_key(PERIOD_WEEK, t, out);
        return;
    case RULE_CAP_MONTH:
        period_key(PERIOD_MONTH, t, out);
        return;
    case RULE_CAP_SEASON: {
        const struct game_season *s = game_app_current_season(a, occurred_at);
        snprintf(out, len, "season:%s", s ? s->id : "-");
        return;
    }
    }
}

/* Whether an entry's name, remembered by `*have` (a key, or 0), is `name`, whose key is `key`
 * (names.h): by key when both have one of the same table, else by name, remembering the key. */
static bool same_name(uint64_t *have, const char *entry_name, const char *name, uint64_t key)
{
    if (key && *have == key)
        return true;
    if (key && *have && ((*have ^ key) >> NAMES_ID_BITS) == 0)
        return false; /* another name's key of the same table */
    if (strcmp(entry_name, name) != 0)
        return false;
    if (key)
        *have = key;
    return true;
}

static struct game_cap *cap_find(struct game_user *u, const struct game_rule *gr, int cap,
                                 const char *target, uint64_t target_key)
{
    for (size_t i = 0; i < u->n_caps; i++) {
        struct game_cap *c = &u->caps[i];
        if (c->cap == cap && same_name(&c->key, c->rule_id, gr->id, gr->key) &&
            same_name(&c->target_key, c->target, target, target_key))
            return c;
    }
    return NULL;
}

/* What is left of `amount` under the rule's caps for `target`; takes it from them. */
static int64_t cap_take(const struct game_app *a, struct game_user *u,
                        const struct game_rule *gr, char kind, const struct rule_award *w,
                        int64_t amount, const struct tz_local *t, int64_t occurred_at)
{
    const struct rule *r = gr->rule;
    if (!r->n_caps || amount <= 0)
        return amount;
    char target[CAP_TARGET_MAX];
    cap_target(kind, w->name, target);
    struct game_cap *caps[RULE_MAX_CAPS];
    for (size_t i = 0; i < r->n_caps; i++) {
        char period[GAME_CAP_PERIOD_MAX];
        cap_period(a, r, i, t, occurred_at, period, sizeof(period));
        struct game_cap *c = cap_find(u, gr, (int)i, target, w->cap_key);
        if (!c) {
            u->caps = xrealloc(u->caps, (u->n_caps + 1) * sizeof(*u->caps));
            c = &u->caps[u->n_caps++];
            *c = (struct game_cap){ .rule_id = names_intern(gr->id), .key = gr->key,
                                    .target = names_intern(target), .target_key = w->cap_key,
                                    .cap = (int)i };
            memcpy(c->period, period, strlen(period) + 1);
            for (size_t j = 0; j < i; j++) /* realloc moved the ones found before */
                caps[j] = cap_find(u, gr, (int)j, target, w->cap_key);
        } else if (strcmp(c->period, period) != 0) {
            memcpy(c->period, period, strlen(period) + 1);
            c->used = 0;
        }
        caps[i] = c;
        int64_t left = r->caps[i].max - c->used;
        if (left < amount)
            amount = left > 0 ? left : 0;
    }
    for (size_t i = 0; i < r->n_caps; i++)
        caps[i]->used = sat_add(caps[i]->used, amount);
    return amount;
}

static bool season_holds(const struct game_app *a, const char *season_id, int64_t ms)
{
    const struct game_season *s = game_app_season(a, season_id);
    return s && s->starts_at <= ms && ms < s->ends_at;
}

/* rule_award_amount, without a call in the common case: a fixed amount and no bonus. */
static inline int64_t award_amount(const struct rule_award *w, const struct cond_ctx *ctx,
                                   double mult)
{
    return !w->from_field && mult == 1 ? w->amount : rule_award_amount(w, ctx, mult);
}

/* The n rules of the event's type, from a->rules[first]. */
static void apply_rules(const struct game_app *a, struct game_user *u,
                        const struct game_event *ev, const struct tz_local *ut, size_t first,
                        size_t n, struct game_effects *fx)
{
    if (!n)
        return;
    struct cond_ctx ctx = { NULL, u->attributes, ev->type, ev->occurred_at, a->fields,
                            ev->metadata, ev->metadata ? strlen(ev->metadata) : 0 };
    const struct game_streak *daily = KFIND(u, streaks, GAME_STREAK_DEFAULT, a->daily_key);
    int64_t streak = daily ? daily->s.current : 0;
    int app_hour = -1;
    /* The rules read the same few fields over and over: each is looked up once per event. */
    cond_memo_begin(&ctx);
    for (size_t i = first; i < first + n; i++) {
        const struct game_rule *gr = &a->rules[i];
        const struct rule *r = gr->rule;
        if (!r->active || (r->valid_from && ev->occurred_at < r->valid_from) ||
            (r->valid_to && ev->occurred_at >= r->valid_to) ||
            (r->season_id && !season_holds(a, r->season_id, ev->occurred_at)))
            continue;
        /* Cooldown in occurredAt time, either way: an event that arrives late but happened
         * within the cooldown of the last firing does not fire either. */
        struct game_cooldown *cd = r->cooldown_ms ? KFIND(u, cools, gr->id, gr->key) : NULL;
        if (cd && llabs(ev->occurred_at - cd->last_ms) < r->cooldown_ms)
            continue;
        if (r->cond && !cond_eval(r->cond, &ctx))
            continue;
        if (r->has_time_bonus && app_hour < 0) {
            struct tz_local at;
            tz_local(a->tz, ev->occurred_at, &at);
            app_hour = at.hour;
        }
        double mult = 1;
        if (r->has_multiplier || r->has_time_bonus || r->has_streak_bonus)
            mult = rule_multiplier(r, &ctx, app_hour < 0 ? 0 : app_hour, streak);
        for (size_t k = 0; k < r->n_xp; k++) {
            const struct rule_award *w = &r->xp[k];
            int64_t amt = award_amount(w, &ctx, mult);
            if (r->n_caps && amt > 0)
                amt = cap_take(a, u, gr, 'x', w, amt, ut, ev->occurred_at);
            if (amt > 0)
                award_xp(a, u, w->name, w->key, amt, gr, NULL, fx);
        }
        for (size_t k = 0; k < r->n_currency; k++) {
            const struct rule_award *w = &r->currency[k];
            int64_t amt = award_amount(w, &ctx, mult);
            if (r->n_caps && amt > 0)
                amt = cap_take(a, u, gr, 'c', w, amt, ut, ev->occurred_at);
            if (amt > 0)
                award_currency(u, w->name, w->key, amt, gr, NULL, fx);
        }
        if (r->cooldown_ms) {
            cd = KGET(u, cools, gr->id, gr->key);
            if (ev->occurred_at > cd->last_ms)
                cd->last_ms = ev->occurred_at;
        }
    }
    cond_memo_end();
}

static void apply_achievements(const struct game_app *a, struct game_user *u,
                               const struct game_event *ev, struct game_effects *fx)
{
    struct cond_ctx ctx = { NULL, u->attributes, ev->type, ev->occurred_at, a->fields,
                            ev->metadata, ev->metadata ? strlen(ev->metadata) : 0 };
    cond_memo_begin(&ctx);
    for (int pass = 0; pass < GAME_ACH_PASSES; pass++) {
        bool changed = false;
        for (size_t i = 0; i < a->n_achs; i++) {
            const struct game_ach *ga = &a->achs[i];
            const struct achievement *ach = ga->ach;
            struct game_claim *c = KFIND(u, claims, ga->id, ga->key);
            int64_t have = c ? c->claims : 0, more = 0;
            if (ach->kind == ACH_MILESTONE) {
                int64_t want = achievement_claims(ach, metric_of(a, u, ach, ga->metric_key));
                more = want > have ? want - have : 0;
            } else if (pass == 0 && (ach->repeatable || have == 0) &&
                       (!ach->event_type || strcmp(ach->event_type, ev->type) == 0) &&
                       (!ach->cond || cond_eval(ach->cond, &ctx))) {
                more = 1;
            }
            if (!more)
                continue;
            if (!c)
                c = KGET(u, claims, ga->id, ga->key);
            c->claims = sat_add(c->claims, more);
            if (!c->unlocked_at)
                c->unlocked_at = ev->now;
            struct game_effect *e = fx_add(fx, FX_ACHIEVEMENT, ach->code);
            e->amount = more;
            e->total = c->claims;
            e->ach = ga;
            for (size_t k = 0; k < ach->n_xp; k++)
                if (ach->xp[k].amount > 0)
                    award_xp(a, u, ach->xp[k].name, 0,
                             ach->xp[k].amount > INT64_MAX / more ? INT64_MAX
                                                                  : ach->xp[k].amount * more,
                             NULL, ga, fx);
            for (size_t k = 0; k < ach->n_currency; k++)
                if (ach->currency[k].amount > 0)
                    award_currency(u, ach->currency[k].name, 0,
                                   ach->currency[k].amount > INT64_MAX / more
                                       ? INT64_MAX
                                       : ach->currency[k].amount * more,
                                   NULL, ga, fx);
            changed = true;
        }
        if (!changed)
            break;
    }
    cond_memo_end();
}

void game_apply(const struct game_app *a, struct game_user *u, const struct game_event *ev,
                struct game_effects *fx)
{
    fx->n = 0;
    /* The type's key, when rules have it: its rules' (else its count is found by name). */
    size_t first, n_rules = rules_of(a, ev->type, &first);
    uint64_t type_key = n_rules ? a->rules[first].type_key : 0;
    struct game_count *cnt = KFIND(u, counts, ev->type, type_key);
    if (!cnt && u->n_counts < GAME_MAX_EVENT_TYPES)
        cnt = KGET(u, counts, ev->type, type_key);
    if (cnt)
        cnt->n++;
    struct tz_local ut;
    tz_local(u->tz[0] ? u->tz : a->tz, ev->occurred_at, &ut);
    for (size_t i = 0; i < a->settings.n_streaks; i++) {
        const struct game_streak_def *d = &a->settings.streaks[i];
        if (d->event_type && strcmp(d->event_type, ev->type) != 0)
            continue;
        struct game_streak *s = KFIND(u, streaks, d->key, d->nkey);
        if (!s) {
            s = KGET(u, streaks, d->key, d->nkey);
            streak_state_init(&s->s);
        }
        int used = 0;
        if (streak_apply(&d->cfg, &s->s, &ut, &used) == STREAK_UNCHANGED)
            continue;
        struct game_effect *e = fx_add(fx, FX_STREAK, s->key);
        e->amount = used;
        e->total = s->s.current;
        e->to = s->s.best;
    }
    apply_rules(a, u, ev, &ut, first, n_rules, fx);
    apply_achievements(a, u, ev, fx);
}

/* ---- effects as JSON ----------------------------------------------------------------------- */

/* The one writer of effects' JSON is the compact form's expansion: what a stored event shows
 * and what this gives cannot differ. */
void game_effects_json(const struct game_effects *fx, struct buf *out)
{
    struct buf packed = BUF_INIT;
    game_effects_pack(fx, &packed);
    int rc = fxpack_json(packed.data, packed.len, out);
    assert(rc == 0); /* the writers' own form */
    if (rc < 0)
        buf_puts(out, "[]");
    buf_release(&packed);
}

void game_effects_pack(const struct game_effects *fx, struct buf *out)
{
    fxpack_begin(out);
    for (size_t i = 0; i < fx->n; i++) {
        const struct game_effect *e = &fx->v[i];
        switch (e->type) {
        case FX_XP:
        case FX_CURRENCY: {
            enum fxpack_type type = e->type == FX_XP ? FXPACK_XP : FXPACK_CURRENCY;
            if (e->rule)
                fxpack_award_by_rule(out, type, e->name, e->amount, e->total, e->rule->id,
                                     e->rule->id_is_uuid ? e->rule->id_uuid : NULL);
            else if (e->ach)
                fxpack_award(out, type, e->name, e->amount, e->total,
                             FXPACK_SOURCE_ACHIEVEMENT, e->ach->ach->code);
            else
                fxpack_award(out, type, e->name, e->amount, e->total, FXPACK_SOURCE_NONE, NULL);
            break;
        }
        case FX_LEVEL:
            fxpack_level(out, e->name, e->from, e->to);
            break;
        case FX_STREAK:
            fxpack_streak(out, e->name, e->total, e->to, e->amount);
            break;
        case FX_ACHIEVEMENT: {
            const struct achievement *ach = e->ach->ach;
            struct buf tier = BUF_INIT;
            if (ach->tier)
                json_dump_buf(ach->tier, &tier);
            fxpack_achievement(out, e->ach->id, ach->code, ach->name,
                               ach->tier ? tier.data : NULL, e->total);
            buf_release(&tier);
            break;
        }
        }
    }
}
