/* Achievements (see achievement.h): validation of the body into a struct achievement, and the
 * arithmetic of milestone claims. */
#include "engine/achievement.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/utf8.h"
#include "engine/fields.h"
#include "engine/rule.h"

#define ACH_CODE_MAX        64
#define ACH_NAME_MAX        200
#define ACH_DESCRIPTION_MAX 2000
#define ACH_TIER_MAX        64
#define ACH_EVENT_TYPE_MAX  128

static const char *const metric_help =
    "must be xp, xp:<track>, events:<eventType>, level:<track>, streak or currency:<currency>";

static const struct {
    const char *name; /* the whole metric, or its prefix up to and with ':' */
    enum ach_metric metric;
    size_t arg_max; /* characters of the argument after ':'; 0: takes none */
} metrics[] = {
    {"xp", ACH_METRIC_XP, 0},
    {"streak", ACH_METRIC_STREAK, 0},
    {"xp:", ACH_METRIC_XP_TRACK, RULE_AWARD_NAME_MAX},
    {"events:", ACH_METRIC_EVENTS, ACH_EVENT_TYPE_MAX},
    {"level:", ACH_METRIC_LEVEL, RULE_AWARD_NAME_MAX},
    {"currency:", ACH_METRIC_CURRENCY, RULE_AWARD_NAME_MAX},
};

static void code_compile(const json_t *body, struct achievement *a, json_t *details)
{
    const char *code = fields_text(body, "code", FIELDS_REQUIRED, 1, ACH_CODE_MAX, details);
    if (!code)
        return;
    for (const char *p = code; *p; p++) {
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-')) {
            fields_bad(details, "code", "may contain only letters, digits, '.', '_', ':' and '-'");
            return;
        }
    }
    a->code = xstrdup(code);
}

static void tier_compile(const json_t *body, struct achievement *a, json_t *details)
{
    const json_t *tier = fields_member(body, "tier");
    if (!tier)
        return;
    if (json_is_integer(tier)) {
        a->tier = json_integer(json_integer_value(tier));
        return;
    }
    const char *s = json_string_value(tier);
    if (!s || strlen(s) != json_string_length(tier) || utf8_chars(s) > ACH_TIER_MAX ||
        utf8_has_control(s)) {
        fields_bad(details, "tier",
                   "must be an integer or a string of at most %d characters without control "
                   "characters",
                   ACH_TIER_MAX);
        return;
    }
    a->tier = json_stringn(s, json_string_length(tier));
}

static void milestone_compile(const json_t *cond, struct achievement *a, json_t *details)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)cond, key, v)
    {
        if (strcmp(key, "target") != 0 && strcmp(key, "metric") != 0) {
            fields_bad(details, "conditions",
                       "unknown key \"%s\" (a milestone takes target and metric)", key);
            return;
        }
    }
    const json_t *target = fields_member(cond, "target");
    if (!target)
        fields_bad(details, "conditions.target", "is required");
    else if (!json_is_integer(target) || json_integer_value(target) < 1)
        fields_bad(details, "conditions.target", "must be an integer >= 1");
    else
        a->target = json_integer_value(target);

    const json_t *metric = fields_member(cond, "metric");
    a->metric = ACH_METRIC_XP;
    if (!metric)
        return;
    const char *m = json_string_value(metric);
    if (!m || strlen(m) != json_string_length(metric)) {
        fields_bad(details, "conditions.metric", "%s", metric_help);
        return;
    }
    for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
        size_t plen = strlen(metrics[i].name);
        if (!metrics[i].arg_max) {
            if (strcmp(m, metrics[i].name) != 0)
                continue;
            a->metric = metrics[i].metric;
            return;
        }
        if (strncmp(m, metrics[i].name, plen) != 0)
            continue;
        const char *arg = m + plen;
        size_t n = utf8_chars(arg);
        if (n < 1 || n > metrics[i].arg_max || utf8_has_control(arg)) {
            fields_bad(details, "conditions.metric",
                       "the name after %s must be 1 to %zu characters without control "
                       "characters",
                       metrics[i].name, metrics[i].arg_max);
            return;
        }
        a->metric = metrics[i].metric;
        a->metric_arg = xstrdup(arg);
        return;
    }
    fields_bad(details, "conditions.metric", "%s", metric_help);
}

static void conditional_compile(const json_t *cond, struct achievement *a, json_t *details)
{
    json_t *copy = NULL;
    if (json_object_get(cond, "eventType")) {
        const json_t *type = fields_member(cond, "eventType");
        char msg[80];
        if (type && !fields_check_text(type, 0, 1, ACH_EVENT_TYPE_MAX, msg, sizeof(msg)))
            fields_bad(details, "conditions.eventType", "%s", msg);
        else if (type)
            a->event_type = xstrdup(json_string_value(type));
        copy = json_copy((json_t *)cond);
        if (!copy)
            abort(); /* jansson is out of memory */
        json_object_del(copy, "eventType");
        if (json_object_size(copy) == 0) {
            /* {"eventType": "x"} alone: every event of that type */
            json_object_set_new(copy, "all", json_array());
        }
    }
    char err[256];
    a->cond = cond_compile(copy ? copy : cond, err, sizeof(err));
    if (!a->cond)
        fields_bad(details, "conditions", "%s", err);
    json_decref(copy);
}

static void rewards_compile(const json_t *cfg, const char *key, struct ach_reward *out, size_t *n,
                            json_t *details)
{
    char where[RULE_AWARD_NAME_MAX * 4 + 64];
    snprintf(where, sizeof(where), "rewardConfig.%s", key);
    const json_t *map =
        fields_collection(cfg, key, where, 0, false, ACH_MAX_REWARDS, "awards", details);
    if (!map)
        return;
    const char *name;
    size_t len;
    json_t *v;
    json_object_keylen_foreach((json_t *)map, name, len, v)
    {
        snprintf(where, sizeof(where), "rewardConfig.%s.%s", key, name);
        if (!fields_award_name_ok(name, len)) {
            fields_bad(details, where,
                       "names must be 1 to %d characters without control characters",
                       RULE_AWARD_NAME_MAX);
            continue;
        }
        int64_t amount;
        if (!fields_amount(v, &amount)) {
            fields_bad(details, where, "must be an integer from 0 to %lld", RULE_AMOUNT_MAX);
            continue;
        }
        out[*n].name = xstrdup(name);
        out[*n].amount = amount;
        (*n)++;
    }
}

struct achievement *achievement_compile(const json_t *body, json_t **details)
{
    json_t *d = json_object();
    struct achievement *a = xcalloc(1, sizeof(*a));
    if (!json_is_object(body)) {
        fields_bad(d, "body", "must be a JSON object");
        goto fail;
    }
    code_compile(body, a, d);
    const char *name = fields_text(body, "name", FIELDS_REQUIRED, 1, ACH_NAME_MAX, d);
    if (name)
        a->name = xstrdup(name);
    fields_text(body, "description", FIELDS_MULTILINE, 0, ACH_DESCRIPTION_MAX, d);
    tier_compile(body, a, d);
    a->hidden = fields_bool(body, "hidden", false, d);
    a->repeatable = fields_bool(body, "repeatable", false, d);

    const json_t *kind = fields_member(body, "kind");
    const char *k = json_string_value(kind);
    bool known = k && (strcmp(k, "MILESTONE") == 0 || strcmp(k, "CONDITIONAL") == 0);
    if (!kind)
        fields_bad(d, "kind", "is required");
    else if (!known)
        fields_bad(d, "kind", "must be MILESTONE or CONDITIONAL");
    a->kind = known && strcmp(k, "CONDITIONAL") == 0 ? ACH_CONDITIONAL : ACH_MILESTONE;

    const json_t *cond = fields_member(body, "conditions");
    if (!cond)
        fields_bad(d, "conditions", "is required");
    else if (!json_is_object(cond))
        fields_bad(d, "conditions", "must be an object");
    else if (known && a->kind == ACH_MILESTONE)
        milestone_compile(cond, a, d);
    else if (known)
        conditional_compile(cond, a, d);

    const json_t *reward = fields_member(body, "rewardConfig");
    if (reward && !json_is_object(reward)) {
        fields_bad(d, "rewardConfig", "must be an object");
    } else if (reward) {
        rewards_compile(reward, "xpAwards", a->xp, &a->n_xp, d);
        rewards_compile(reward, "currencyAwards", a->currency, &a->n_currency, d);
    }

    if (json_object_size(d))
        goto fail;
    json_decref(d);
    *details = NULL;
    return a;
fail:
    achievement_free(a);
    *details = d;
    return NULL;
}

void achievement_free(struct achievement *a)
{
    if (!a)
        return;
    free(a->code);
    free(a->name);
    json_decref(a->tier);
    free(a->metric_arg);
    cond_free(a->cond);
    free(a->event_type);
    for (size_t i = 0; i < a->n_xp; i++)
        free(a->xp[i].name);
    for (size_t i = 0; i < a->n_currency; i++)
        free(a->currency[i].name);
    free(a);
}

int64_t achievement_claims(const struct achievement *a, int64_t value)
{
    if (a->kind != ACH_MILESTONE || value < a->target)
        return 0;
    return a->repeatable ? value / a->target : 1;
}

double achievement_progress(const struct achievement *a, int64_t value)
{
    if (a->kind != ACH_MILESTONE || value <= 0)
        return 0;
    if (!a->repeatable)
        return value >= a->target ? 1 : (double)value / (double)a->target;
    return (double)(value % a->target) / (double)a->target;
}
