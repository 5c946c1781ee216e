/* Rules (see rule.h): the body is validated member by member, every problem recorded, and
 * compiled into a struct rule whose evaluation reads the event and multiplies. */
#include "engine/rule.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "engine/fields.h"

#define RULE_DESCRIPTION_MAX 2000
#define RULE_EVENT_TYPE_MAX  128
#define RULE_SEASON_ID_MAX   128
#define RULE_COOLDOWN_MAX_S  1000000000LL

static const char *const award_shape = "must be a non-negative integer or {field, multiply?, max?}";

/* The path of a field award or multiplier: 0, or -1 with a message. */
static int path_compile(const json_t *v, bool event_fields, struct cond_path *out, char *msg,
                        size_t msglen)
{
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(msg, msglen, "must be a non-empty string");
        return -1;
    }
    if (cond_path_parse(json_string_value(v), out, msg, msglen) < 0)
        return -1;
    if (!event_fields && out->source != COND_SRC_METADATA && out->source != COND_SRC_ATTRIBUTES) {
        cond_path_release(out);
        snprintf(msg, msglen, "must be a metadata or user.attributes path");
        return -1;
    }
    return 0;
}

/* One award value: 0, or -1 with a message. */
static int award_compile(const json_t *v, struct rule_award *a, char *msg, size_t msglen)
{
    a->multiply = 1;
    if (json_is_integer(v)) {
        if (json_integer_value(v) > RULE_AMOUNT_MAX) {
            snprintf(msg, msglen, "must be at most %lld", RULE_AMOUNT_MAX);
            return -1;
        }
        if (!fields_amount(v, &a->amount)) {
            snprintf(msg, msglen, "%s", award_shape);
            return -1;
        }
        return 0;
    }
    if (!json_is_object(v)) {
        snprintf(msg, msglen, "%s", award_shape);
        return -1;
    }
    const char *key;
    json_t *m;
    json_object_foreach((json_t *)v, key, m)
    {
        if (strcmp(key, "field") != 0 && strcmp(key, "multiply") != 0 && strcmp(key, "max") != 0) {
            snprintf(msg, msglen, "unknown key \"%s\" (%s)", key, award_shape);
            return -1;
        }
    }
    const json_t *field = json_object_get(v, "field");
    if (!field) {
        snprintf(msg, msglen, "field: is required");
        return -1;
    }
    char why[200];
    if (path_compile(field, false, &a->field, why, sizeof(why)) < 0) {
        snprintf(msg, msglen, "field: %s", why);
        return -1;
    }
    a->from_field = true;
    const json_t *mul = fields_member(v, "multiply");
    if (mul && !fields_multiplier(mul, &a->multiply)) {
        snprintf(msg, msglen, "multiply: must be a number from 0 to %.0f", RULE_MULTIPLIER_MAX);
        return -1;
    }
    const json_t *max = fields_member(v, "max");
    if (max) {
        if (!fields_amount(max, &a->max)) {
            snprintf(msg, msglen, "max: must be an integer from 0 to %lld", RULE_AMOUNT_MAX);
            return -1;
        }
        a->has_max = true;
    }
    return 0;
}

static void award_release(struct rule_award *a)
{
    free(a->name);
    cond_path_release(&a->field);
}

static void awards_compile(const json_t *body, const char *key, struct rule_award *out, size_t *n,
                           json_t *details)
{
    const json_t *map =
        fields_collection(body, key, key, 0, false, RULE_MAX_AWARDS, "awards", details);
    if (!map)
        return;
    const char *name;
    size_t len;
    json_t *v;
    json_object_keylen_foreach((json_t *)map, name, len, v)
    {
        char where[RULE_AWARD_NAME_MAX * 4 + 64];
        snprintf(where, sizeof(where), "%s.%s", key, name);
        if (!fields_award_name_ok(name, len)) {
            fields_bad(details, where,
                       "names must be 1 to %d characters without control characters",
                       RULE_AWARD_NAME_MAX);
            continue;
        }
        struct rule_award *a = &out[*n];
        memset(a, 0, sizeof(*a));
        char msg[256];
        if (award_compile(v, a, msg, sizeof(msg)) < 0) {
            fields_bad(details, where, "%s", msg);
            award_release(a);
            memset(a, 0, sizeof(*a));
            continue;
        }
        a->name = xstrdup(name);
        (*n)++;
    }
}

/* Whether `s` is a JSON number's text; its value in *out. */
static bool number_text(const char *s, double *out)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return false;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return false;
    *out = strtod(s, NULL);
    return isfinite(*out);
}

static void multiplier_compile(const json_t *body, struct rule *r, json_t *details)
{
    const json_t *cfg = fields_member(body, "multiplierConfig");
    if (!cfg)
        return;
    if (!json_is_object(cfg)) {
        fields_bad(details, "multiplierConfig", "must be an object");
        return;
    }
    const json_t *field = json_object_get(cfg, "field");
    char msg[200];
    bool ok = true;
    if (!field) {
        fields_bad(details, "multiplierConfig.field", "is required");
        ok = false;
    } else if (path_compile(field, true, &r->mult_field, msg, sizeof(msg)) < 0) {
        fields_bad(details, "multiplierConfig.field", "%s", msg);
        ok = false;
    }
    const json_t *map = fields_collection(cfg, "map", "multiplierConfig.map", FIELDS_REQUIRED,
                                          false, RULE_MAX_MULT, "entries", details);
    if (!map)
        return;
    r->mult = xcalloc(json_object_size(map) + 1, sizeof(*r->mult));
    const char *key;
    size_t len;
    json_t *v;
    json_object_keylen_foreach((json_t *)map, key, len, v)
    {
        struct rule_mult_entry *e = &r->mult[r->n_mult];
        if (!fields_multiplier(v, &e->multiplier)) {
            char where[320];
            snprintf(where, sizeof(where), "multiplierConfig.map.%s", key);
            fields_bad(details, where, "must be a number from 0 to %.0f", RULE_MULTIPLIER_MAX);
            ok = false;
            continue;
        }
        e->key = xstrndup(key, len);
        e->len = len;
        e->is_number = strlen(key) == len && number_text(key, &e->number);
        r->n_mult++;
    }
    r->has_multiplier = ok;
}

/* An integer member of a config object in [min, max]; false when absent or wrong
 * (reported as "<prefix>.<key>"). */
static bool config_int(const json_t *cfg, const char *prefix, const char *key, int64_t min,
                       int64_t max, int64_t *out, json_t *details)
{
    char where[64];
    snprintf(where, sizeof(where), "%s%s%s", prefix, *prefix ? "." : "", key);
    const json_t *v = fields_member(cfg, key);
    if (!v) {
        fields_bad(details, where, "is required");
        return false;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        fields_bad(details, where, "must be an integer from %lld to %lld", (long long)min,
                   (long long)max);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

static bool config_multiplier(const json_t *cfg, const char *prefix, const char *key, double *out,
                              json_t *details)
{
    char where[64];
    snprintf(where, sizeof(where), "%s.%s", prefix, key);
    const json_t *v = fields_member(cfg, key);
    if (!v) {
        fields_bad(details, where, "is required");
        return false;
    }
    if (!fields_multiplier(v, out)) {
        fields_bad(details, where, "must be a number from 0 to %.0f", RULE_MULTIPLIER_MAX);
        return false;
    }
    return true;
}

static void time_bonus_compile(const json_t *body, struct rule *r, json_t *details)
{
    const char *k = "timeBonusConfig";
    const json_t *cfg = fields_member(body, k);
    if (!cfg)
        return;
    if (!json_is_object(cfg)) {
        fields_bad(details, k, "must be an object");
        return;
    }
    int64_t from = 0, to = 0;
    bool ok = config_int(cfg, k, "fromHour", 0, 23, &from, details);
    ok &= config_int(cfg, k, "toHour", 0, 24, &to, details);
    ok &= config_multiplier(cfg, k, "multiplier", &r->time_multiplier, details);
    r->from_hour = (int)from;
    r->to_hour = (int)to;
    r->has_time_bonus = ok;
}

static void streak_bonus_compile(const json_t *body, struct rule *r, json_t *details)
{
    const char *k = "streakBonusConfig";
    const json_t *cfg = fields_member(body, k);
    if (!cfg)
        return;
    if (!json_is_object(cfg)) {
        fields_bad(details, k, "must be an object");
        return;
    }
    bool ok = config_int(cfg, k, "every", 1, INT32_MAX, &r->streak_every, details);
    ok &= config_multiplier(cfg, k, "bonusMultiplier", &r->streak_multiplier, details);
    r->has_streak_bonus = ok;
}

static void caps_compile(const json_t *body, struct rule *r, json_t *details)
{
    static const char *const pers[] = {"day", "week", "month", "season"};
    const json_t *caps =
        fields_collection(body, "caps", "caps", 0, true, RULE_MAX_CAPS, "caps", details);
    if (!caps)
        return;
    for (size_t i = 0; i < json_array_size(caps); i++) {
        const json_t *c = json_array_get(caps, i);
        char where[32];
        snprintf(where, sizeof(where), "caps[%zu]", i);
        if (!json_is_object(c)) {
            fields_bad(details, where, "must be an object {per, max}");
            continue;
        }
        char per_where[48];
        snprintf(per_where, sizeof(per_where), "%s.per", where);
        const json_t *per = fields_member(c, "per");
        size_t p = 0;
        while (per && json_is_string(per) && p < 4 && strcmp(json_string_value(per), pers[p]))
            p++;
        int64_t max;
        bool ok = config_int(c, where, "max", 0, RULE_AMOUNT_MAX, &max, details);
        if (!per) {
            fields_bad(details, per_where, "is required");
            continue;
        }
        if (p == 4 || !json_is_string(per)) {
            fields_bad(details, per_where, "must be day, week, month or season");
            continue;
        }
        bool twice = false;
        for (size_t j = 0; j < r->n_caps; j++)
            twice |= r->caps[j].per == (enum rule_cap_per)p;
        if (twice) {
            fields_bad(details, per_where, "%s is given twice", pers[p]);
            continue;
        }
        if (!ok)
            continue;
        r->caps[r->n_caps].per = (enum rule_cap_per)p;
        r->caps[r->n_caps].max = max;
        r->n_caps++;
    }
}

/* validFrom or validTo: Unix ms, 0 when absent or wrong (reported). */
static int64_t instant(const json_t *body, const char *key, json_t *details)
{
    const json_t *v = fields_member(body, key);
    if (!v)
        return 0;
    int64_t ms;
    if (!json_is_string(v) ||
        clock_parse_iso(json_string_value(v), json_string_length(v), &ms) < 0) {
        fields_bad(details, key, "must be an ISO 8601 date-time with Z or an offset");
        return 0;
    }
    if (ms <= 0) {
        fields_bad(details, key, "must be after 1970-01-01T00:00:00Z");
        return 0;
    }
    return ms;
}

struct rule *rule_compile(const json_t *body, json_t **details)
{
    json_t *d = json_object();
    struct rule *r = xcalloc(1, sizeof(*r));
    if (!json_is_object(body)) {
        fields_bad(d, "body", "must be a JSON object");
        goto fail;
    }
    const char *name = fields_text(body, "name", FIELDS_REQUIRED, 1, RULE_NAME_MAX, d);
    fields_text(body, "description", FIELDS_MULTILINE, 0, RULE_DESCRIPTION_MAX, d);
    const char *type = fields_text(body, "eventType", FIELDS_REQUIRED, 1, RULE_EVENT_TYPE_MAX, d);
    if (name)
        r->name = xstrdup(name);
    if (type)
        r->event_type = xstrdup(type);

    r->priority = 100;
    const json_t *v = fields_member(body, "priority");
    if (v && !json_is_integer(v))
        fields_bad(d, "priority", "must be an integer");
    else if (v)
        r->priority = json_integer_value(v);

    char err[256];
    v = fields_member(body, "conditions");
    json_t *all = v ? NULL : json_pack("{s:[]}", "all");
    r->cond = cond_compile(v ? v : all, err, sizeof(err));
    json_decref(all);
    if (!r->cond)
        fields_bad(d, "conditions", "%s", err);

    awards_compile(body, "xpAwards", r->xp, &r->n_xp, d);
    awards_compile(body, "currencyAwards", r->currency, &r->n_currency, d);
    multiplier_compile(body, r, d);
    time_bonus_compile(body, r, d);
    streak_bonus_compile(body, r, d);
    r->active = fields_bool(body, "isActive", true, d);
    caps_compile(body, r, d);

    v = fields_member(body, "cooldownSeconds");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 0 ||
              json_integer_value(v) > RULE_COOLDOWN_MAX_S))
        fields_bad(d, "cooldownSeconds", "must be an integer from 0 to %lld", RULE_COOLDOWN_MAX_S);
    else if (v)
        r->cooldown_ms = json_integer_value(v) * 1000;

    r->valid_from = instant(body, "validFrom", d);
    r->valid_to = instant(body, "validTo", d);
    if (r->valid_from && r->valid_to && r->valid_from >= r->valid_to)
        fields_bad(d, "validTo", "must be after validFrom");

    const char *season = fields_text(body, "seasonId", 0, 1, RULE_SEASON_ID_MAX, d);
    if (season)
        r->season_id = xstrdup(season);

    if (json_object_size(d))
        goto fail;
    json_decref(d);
    *details = NULL;
    return r;
fail:
    rule_free(r);
    *details = d;
    return NULL;
}

void rule_free(struct rule *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->event_type);
    cond_free(r->cond);
    for (size_t i = 0; i < r->n_xp; i++)
        award_release(&r->xp[i]);
    for (size_t i = 0; i < r->n_currency; i++)
        award_release(&r->currency[i]);
    cond_path_release(&r->mult_field);
    for (size_t i = 0; i < r->n_mult; i++)
        free(r->mult[i].key);
    free(r->mult);
    free(r->season_id);
    free(r);
}

/* ---- evaluation ---- */

static bool key_is(const struct rule_mult_entry *e, const char *s, size_t len)
{
    if (e->len != len)
        return false;
    for (size_t i = 0; i < len; i++) /* keys are short: no call to memcmp */
        if (e->key[i] != s[i])
            return false;
    return true;
}

/* The multiplierConfig entry for the event's field, or 1. */
static double mult_lookup(const struct rule *r, const struct cond_ctx *ctx)
{
    const char *s = NULL;
    size_t len = 0;
    double num = 0;
    bool is_num = false;
    switch (r->mult_field.source) {
    case COND_SRC_EVENT_TYPE:
        s = ctx->event_type;
        len = s ? strlen(s) : 0;
        break;
    case COND_SRC_OCCURRED_AT:
        is_num = true;
        num = (double)ctx->occurred_at;
        break;
    case COND_SRC_METADATA:
    case COND_SRC_ATTRIBUTES: {
        struct cond_value v;
        cond_path_value(&r->mult_field, ctx, &v);
        if (v.type == COND_V_STRING) {
            s = v.s;
            len = v.len;
        } else if (v.type == COND_V_NUMBER) {
            is_num = true;
            num = v.number;
        } else if (v.type == COND_V_TRUE) {
            s = "true";
            len = 4;
        } else if (v.type == COND_V_FALSE) {
            s = "false";
            len = 5;
        }
        break;
    }
    }
    for (size_t i = 0; i < r->n_mult; i++) {
        const struct rule_mult_entry *e = &r->mult[i];
        if (is_num ? (e->is_number && e->number == num) : (s && key_is(e, s, len)))
            return e->multiplier;
    }
    return 1;
}

static bool in_window(int from, int to, int hour)
{
    if (from <= to)
        return hour >= from && hour < to;
    return hour >= from || hour < to; /* wraps midnight */
}

double rule_multiplier(const struct rule *r, const struct cond_ctx *ctx, int local_hour,
                       int64_t streak)
{
    double m = 1;
    if (r->has_multiplier)
        m *= mult_lookup(r, ctx);
    if (r->has_time_bonus && in_window(r->from_hour, r->to_hour, local_hour))
        m *= r->time_multiplier;
    if (r->has_streak_bonus && streak > 0 && streak % r->streak_every == 0)
        m *= r->streak_multiplier;
    return m;
}

int64_t rule_award_amount(const struct rule_award *a, const struct cond_ctx *ctx, double multiplier)
{
    double base;
    if (!a->from_field) {
        if (multiplier == 1) /* the common case: no bonus, nothing to round */
            return a->amount;
        base = (double)a->amount;
    } else {
        struct cond_value v;
        cond_path_value(&a->field, ctx, &v);
        if (v.type != COND_V_NUMBER)
            return 0;
        base = v.number * a->multiply;
        if (!(base > 0)) /* negative, or NaN */
            base = 0;
        if (a->has_max && base > (double)a->max)
            base = (double)a->max;
    }
    int64_t n = rule_round(base * multiplier);
    return n > 0 ? n : 0;
}

int64_t rule_round(double x)
{
    if (isnan(x))
        return 0;
    if (x >= 9223372036854775808.0) /* 2^63 */
        return INT64_MAX;
    if (x <= -9223372036854775808.0)
        return INT64_MIN;
    double a = x < 0 ? -x : x;
    if (a >= 4503599627370496.0) /* 2^52: every double from here on is an integer */
        return (int64_t)x;
    int64_t whole = (int64_t)a; /* truncates: floor for a >= 0, without a call to libm */
    double frac = a - (double)whole;
    if (frac != 0) {
        double tol = 4 * DBL_EPSILON * a;
        if (tol > 0x1p-10)
            tol = 0x1p-10;
        whole += frac >= 0.5 - tol;
    }
    return x < 0 ? -whole : whole;
}
