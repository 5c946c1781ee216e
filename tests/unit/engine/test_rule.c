/* Unit tests for src/engine/rule.c: what a rule body compiles to (with its defaults), every
 * field it refuses and with which message, and what a rule awards: multipliers from a field,
 * a time window and a streak, amounts read from the event, and rounding. */
#include "unit.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/rule.h"

/* 2023-11-14T22:13:20.000Z */
#define OCCURRED 1700000000000LL

/* Doubles compared exactly, both printed on failure. */
#define assert_exact(got, want)                                                                    \
    do {                                                                                           \
        double got_ = (got), want_ = (want);                                                       \
        if (got_ != want_)                                                                         \
            fail_msg("%s: got %.17g, want %.17g", #got, got_, want_);                              \
    } while (0)

/* A valid minimal body with the members of `extra` (a JSON object's text) added or replaced. */
static json_t *body_with(const char *extra)
{
    return unit_json_with("{\"name\": \"Quiz\", \"eventType\": \"quiz_done\"}", extra);
}

static struct rule *compile_ok(const char *extra)
{
    json_t *b = body_with(extra);
    json_t *details = (json_t *)1;
    struct rule *r = rule_compile(b, &details);
    json_decref(b); /* the rule must not need it */
    if (!r) {
        char *d = json_dumps(details, JSON_COMPACT);
        fail_msg("refused %s: %s", extra, d);
    }
    assert_null(details);
    return r;
}

/* Compiles json `body`; expects exactly the details `want` (a JSON object's text). */
static void expect_details_json(const json_t *body, const char *want, const char *what)
{
    json_t *details = NULL;
    struct rule *r = rule_compile(body, &details);
    if (r) {
        rule_free(r);
        fail_msg("accepted, want %s: %s", want, what);
    }
    unit_assert_details(details, want, what);
}

static void expect_details(const char *extra, const char *want)
{
    json_t *b = body_with(extra);
    expect_details_json(b, want, extra);
    json_decref(b);
}

/* The fixed event the evaluation tests read. */
struct fixture {
    json_t *metadata, *attributes;
    struct cond_ctx ctx;
};

static void fixture_init(struct fixture *f, const char *metadata)
{
    f->metadata = unit_json(metadata);
    f->attributes = unit_json("{\"plan\": \"pro\", \"bonus\": 7}");
    memset(&f->ctx, 0, sizeof(f->ctx));
    f->ctx.metadata = f->metadata;
    f->ctx.attributes = f->attributes;
    f->ctx.event_type = "quiz_done";
    f->ctx.occurred_at = OCCURRED;
}

static void fixture_release(struct fixture *f)
{
    json_decref(f->metadata);
    json_decref(f->attributes);
}

static void defaults(void **state)
{
    (void)state;
    /* members the API adds (id) are ignored */
    struct rule *r = compile_ok("{\"id\": \"r-1\", \"appId\": \"demo\"}");
    assert_string_equal(r->name, "Quiz");
    assert_string_equal(r->event_type, "quiz_done");
    assert_int_equal(r->priority, 100);
    assert_true(r->active);
    assert_non_null(r->cond);
    assert_int_equal(r->n_xp, 0);
    assert_int_equal(r->n_currency, 0);
    assert_false(r->has_multiplier);
    assert_false(r->has_time_bonus);
    assert_false(r->has_streak_bonus);
    assert_int_equal(r->n_caps, 0);
    assert_int_equal(r->cooldown_ms, 0);
    assert_int_equal(r->valid_from, 0);
    assert_int_equal(r->valid_to, 0);
    assert_null(r->season_id);
    /* the default condition {"all": []} holds for every event, even an empty one */
    struct cond_ctx empty = {NULL, NULL, "quiz_done", 0, NULL, NULL, 0};
    assert_true(cond_eval(r->cond, &empty));
    assert_exact(rule_multiplier(r, &empty, 12, 5), 1.0);
    rule_free(r);

    /* null is absent */
    r = compile_ok("{\"description\": null, \"priority\": null, \"conditions\": null, "
                   "\"xpAwards\": null, \"currencyAwards\": null, \"multiplierConfig\": null, "
                   "\"timeBonusConfig\": null, \"streakBonusConfig\": null, \"isActive\": null, "
                   "\"caps\": null, \"cooldownSeconds\": null, \"validFrom\": null, "
                   "\"validTo\": null, \"seasonId\": null}");
    assert_int_equal(r->priority, 100);
    assert_true(r->active);
    assert_true(cond_eval(r->cond, &empty));
    assert_null(r->season_id);
    rule_free(r);
    rule_free(NULL);
}

static void every_field_compiled(void **state)
{
    (void)state;
    struct rule *r = compile_ok(
        "{\"description\": \"Line one\\nline two\", \"priority\": -5,"
        " \"conditions\": {\"field\": \"difficulty\", \"op\": \"eq\", \"value\": \"hard\"},"
        " \"xpAwards\": {\"Builder XP\": 10, \"quiz\": {\"field\": \"score\"}},"
        " \"currencyAwards\": {\"gold\": 0, \"gems\": {\"field\": \"user.attributes.bonus\","
        " \"multiply\": 0.5, \"max\": 3}},"
        " \"multiplierConfig\": {\"field\": \"difficulty\", \"map\": {\"hard\": 2}},"
        " \"timeBonusConfig\": {\"fromHour\": 22, \"toHour\": 6, \"multiplier\": 1.5},"
        " \"streakBonusConfig\": {\"every\": 7, \"bonusMultiplier\": 3},"
        " \"isActive\": false,"
        " \"caps\": [{\"per\": \"day\", \"max\": 100}, {\"per\": \"season\", \"max\": 0}],"
        " \"cooldownSeconds\": 60,"
        " \"validFrom\": \"2023-01-01T00:00:00Z\", \"validTo\": \"2024-01-01T01:00:00+01:00\","
        " \"seasonId\": \"s-2023\"}");
    assert_int_equal(r->priority, -5);
    assert_false(r->active);
    assert_int_equal(r->n_xp, 2);
    assert_string_equal(r->xp[0].name, "Builder XP");
    assert_false(r->xp[0].from_field);
    assert_int_equal(r->xp[0].amount, 10);
    assert_string_equal(r->xp[1].name, "quiz");
    assert_true(r->xp[1].from_field);
    assert_int_equal(r->xp[1].field.source, COND_SRC_METADATA);
    assert_string_equal(r->xp[1].field.seg[0], "score");
    assert_exact(r->xp[1].multiply, 1.0);
    assert_false(r->xp[1].has_max);
    assert_int_equal(r->n_currency, 2);
    assert_string_equal(r->currency[0].name, "gold");
    assert_int_equal(r->currency[0].amount, 0);
    assert_int_equal(r->currency[1].field.source, COND_SRC_ATTRIBUTES);
    assert_exact(r->currency[1].multiply, 0.5);
    assert_true(r->currency[1].has_max);
    assert_int_equal(r->currency[1].max, 3);
    assert_true(r->has_multiplier);
    assert_int_equal(r->n_mult, 1);
    assert_string_equal(r->mult[0].key, "hard");
    assert_true(r->has_time_bonus);
    assert_int_equal(r->from_hour, 22);
    assert_int_equal(r->to_hour, 6);
    assert_exact(r->time_multiplier, 1.5);
    assert_true(r->has_streak_bonus);
    assert_int_equal(r->streak_every, 7);
    assert_exact(r->streak_multiplier, 3);
    assert_int_equal(r->n_caps, 2);
    assert_int_equal(r->caps[0].per, RULE_CAP_DAY);
    assert_int_equal(r->caps[0].max, 100);
    assert_int_equal(r->caps[1].per, RULE_CAP_SEASON);
    assert_int_equal(r->caps[1].max, 0);
    assert_int_equal(r->cooldown_ms, 60000);
    assert_int_equal(r->valid_from, 1672531200000LL);
    assert_int_equal(r->valid_to, 1704067200000LL);
    assert_string_equal(r->season_id, "s-2023");

    struct fixture f;
    fixture_init(&f, "{\"difficulty\": \"hard\", \"score\": 12}");
    assert_true(cond_eval(r->cond, &f.ctx));
    /* 23:00 local, day 7 of the streak: 2 * 1.5 * 3 */
    double m = rule_multiplier(r, &f.ctx, 23, 7);
    assert_exact(m, 9.0);
    assert_int_equal(rule_award_amount(&r->xp[0], &f.ctx, m), 90);
    assert_int_equal(rule_award_amount(&r->xp[1], &f.ctx, m), 108);
    assert_int_equal(rule_award_amount(&r->currency[0], &f.ctx, m), 0);
    /* 7 * 0.5 = 3.5, clamped to 3, then * 9 */
    assert_int_equal(rule_award_amount(&r->currency[1], &f.ctx, m), 27);
    fixture_release(&f);
    rule_free(r);
}

/* Award names and amounts at their limits. */
static void award_limits(void **state)
{
    (void)state;
    /* 64 characters of two bytes each */
    char name[64 * 2 + 1] = "";
    for (int i = 0; i < 64; i++)
        strcat(name, "\xc3\xa9");
    char extra[512];
    snprintf(extra, sizeof(extra), "{\"xpAwards\": {\"%s\": 1000000000000}}", name);
    struct rule *r = compile_ok(extra);
    assert_int_equal(r->n_xp, 1);
    assert_int_equal(r->xp[0].amount, RULE_AMOUNT_MAX);
    rule_free(r);

    /* 16 awards of each kind */
    json_t *b = body_with("{}");
    json_t *xp = json_object(), *cur = json_object();
    for (int i = 0; i < RULE_MAX_AWARDS; i++) {
        char k[16];
        snprintf(k, sizeof(k), "t%d", i);
        json_object_set_new(xp, k, json_integer(i));
        json_object_set_new(cur, k, json_integer(i));
    }
    json_object_set_new(b, "xpAwards", xp);
    json_object_set_new(b, "currencyAwards", cur);
    json_t *details = NULL;
    r = rule_compile(b, &details);
    assert_non_null(r);
    assert_int_equal(r->n_xp, RULE_MAX_AWARDS);
    assert_int_equal(r->n_currency, RULE_MAX_AWARDS);
    rule_free(r);
    json_object_set_new(xp, "one too many", json_integer(1));
    expect_details_json(b, "{\"xpAwards\": \"must have at most 16 awards\"}", "17 awards");
    json_decref(b);
}

struct error_case {
    const char *extra;   /* members over the minimal body */
    const char *details; /* exactly what is refused */
};

static void every_bad_field_is_named(void **state)
{
    (void)state;
    static const struct error_case cases[] = {
        {"{\"name\": null}", "{\"name\": \"is required\"}"},
        {"{\"name\": \"\"}", "{\"name\": \"must be 1 to 200 characters\"}"},
        {"{\"name\": 5}", "{\"name\": \"must be a string\"}"},
        {"{\"name\": \"a\\tb\"}", "{\"name\": \"must not contain control characters\"}"},
        {"{\"description\": 5}", "{\"description\": \"must be a string\"}"},
        {"{\"eventType\": \"\"}", "{\"eventType\": \"must be 1 to 128 characters\"}"},
        {"{\"priority\": 1.5}", "{\"priority\": \"must be an integer\"}"},
        {"{\"priority\": \"1\"}", "{\"priority\": \"must be an integer\"}"},
        {"{\"conditions\": {\"all\": [{\"field\": \"a\", \"op\": \"like\", \"value\": 1}]}}",
         "{\"conditions\": \"all[0].op: unknown operator \\\"like\\\"\"}"},
        {"{\"conditions\": []}", "{\"conditions\": \"must be an object\"}"},
        {"{\"xpAwards\": []}", "{\"xpAwards\": \"must be an object\"}"},
        {"{\"xpAwards\": {\"Builder XP\": 5.0}}",
         "{\"xpAwards.Builder XP\": \"must be a non-negative integer or {field, multiply?, "
         "max?}\"}"},
        {"{\"xpAwards\": {\"a\": -1}}",
         "{\"xpAwards.a\": \"must be a non-negative integer or {field, multiply?, max?}\"}"},
        {"{\"xpAwards\": {\"a\": \"5\"}}",
         "{\"xpAwards.a\": \"must be a non-negative integer or {field, multiply?, max?}\"}"},
        {"{\"xpAwards\": {\"a\": 1000000000001}}",
         "{\"xpAwards.a\": \"must be at most 1000000000000\"}"},
        {"{\"currencyAwards\": {\"\": 1}}",
         "{\"currencyAwards.\": \"names must be 1 to 64 characters without control "
         "characters\"}"},
        {"{\"currencyAwards\": {\"a\\u0001\": 1}}",
         "{\"currencyAwards.a\\u0001\": \"names must be 1 to 64 characters without control "
         "characters\"}"},
        {"{\"xpAwards\": {\"a\": {\"field\": \"score\", \"mult\": 2}}}",
         "{\"xpAwards.a\": \"unknown key \\\"mult\\\" (must be a non-negative integer or "
         "{field, multiply?, max?})\"}"},
        {"{\"xpAwards\": {\"a\": {\"multiply\": 2}}}", "{\"xpAwards.a\": \"field: is required\"}"},
        {"{\"xpAwards\": {\"a\": {\"field\": \"\"}}}",
         "{\"xpAwards.a\": \"field: must be a non-empty string\"}"},
        {"{\"xpAwards\": {\"a\": {\"field\": \"a..b\"}}}",
         "{\"xpAwards.a\": \"field: empty key in path\"}"},
        {"{\"xpAwards\": {\"a\": {\"field\": \"event.occurredAt\"}}}",
         "{\"xpAwards.a\": \"field: must be a metadata or user.attributes path\"}"},
        {"{\"xpAwards\": {\"a\": {\"field\": \"s\", \"multiply\": -1}}}",
         "{\"xpAwards.a\": \"multiply: must be a number from 0 to 1000000\"}"},
        {"{\"xpAwards\": {\"a\": {\"field\": \"s\", \"multiply\": 1000001}}}",
         "{\"xpAwards.a\": \"multiply: must be a number from 0 to 1000000\"}"},
        {"{\"xpAwards\": {\"a\": {\"field\": \"s\", \"max\": 1.5}}}",
         "{\"xpAwards.a\": \"max: must be an integer from 0 to 1000000000000\"}"},
        {"{\"xpAwards\": {\"a\": {\"field\": \"s\", \"max\": -1}}}",
         "{\"xpAwards.a\": \"max: must be an integer from 0 to 1000000000000\"}"},
        {"{\"multiplierConfig\": 2}", "{\"multiplierConfig\": \"must be an object\"}"},
        {"{\"multiplierConfig\": {}}",
         "{\"multiplierConfig.field\": \"is required\", \"multiplierConfig.map\": \"is "
         "required\"}"},
        {"{\"multiplierConfig\": {\"field\": \"d\", \"map\": []}}",
         "{\"multiplierConfig.map\": \"must be an object\"}"},
        {"{\"multiplierConfig\": {\"field\": \"user.x\", \"map\": {}}}",
         "{\"multiplierConfig.field\": \"the user's fields are user.attributes.<path> (a "
         "metadata key named user is metadata.user)\"}"},
        {"{\"multiplierConfig\": {\"field\": \"d\", \"map\": {\"hard\": -2, \"easy\": \"x\"}}}",
         "{\"multiplierConfig.map.hard\": \"must be a number from 0 to 1000000\","
         " \"multiplierConfig.map.easy\": \"must be a number from 0 to 1000000\"}"},
        {"{\"timeBonusConfig\": []}", "{\"timeBonusConfig\": \"must be an object\"}"},
        {"{\"timeBonusConfig\": {}}",
         "{\"timeBonusConfig.fromHour\": \"is required\", \"timeBonusConfig.toHour\": \"is "
         "required\", \"timeBonusConfig.multiplier\": \"is required\"}"},
        {"{\"timeBonusConfig\": {\"fromHour\": 24, \"toHour\": 25, \"multiplier\": -1}}",
         "{\"timeBonusConfig.fromHour\": \"must be an integer from 0 to 23\","
         " \"timeBonusConfig.toHour\": \"must be an integer from 0 to 24\","
         " \"timeBonusConfig.multiplier\": \"must be a number from 0 to 1000000\"}"},
        {"{\"timeBonusConfig\": {\"fromHour\": 1.0, \"toHour\": -1, \"multiplier\": 2}}",
         "{\"timeBonusConfig.fromHour\": \"must be an integer from 0 to 23\","
         " \"timeBonusConfig.toHour\": \"must be an integer from 0 to 24\"}"},
        {"{\"streakBonusConfig\": {\"every\": 0, \"bonusMultiplier\": 2}}",
         "{\"streakBonusConfig.every\": \"must be an integer from 1 to 2147483647\"}"},
        {"{\"streakBonusConfig\": {\"every\": 3}}",
         "{\"streakBonusConfig.bonusMultiplier\": \"is required\"}"},
        {"{\"isActive\": \"yes\"}", "{\"isActive\": \"must be a boolean\"}"},
        {"{\"caps\": {}}", "{\"caps\": \"must be an array\"}"},
        {"{\"caps\": [1, 2, 3, 4, 5]}", "{\"caps\": \"must have at most 4 caps\"}"},
        {"{\"caps\": [1]}", "{\"caps[0]\": \"must be an object {per, max}\"}"},
        {"{\"caps\": [{\"per\": \"year\", \"max\": 1}]}",
         "{\"caps[0].per\": \"must be day, week, month or season\"}"},
        {"{\"caps\": [{\"per\": 1, \"max\": 1}]}",
         "{\"caps[0].per\": \"must be day, week, month or season\"}"},
        {"{\"caps\": [{\"max\": 1}]}", "{\"caps[0].per\": \"is required\"}"},
        {"{\"caps\": [{\"per\": \"day\"}]}", "{\"caps[0].max\": \"is required\"}"},
        {"{\"caps\": [{\"per\": \"day\", \"max\": 1}, {\"per\": \"day\", \"max\": 2}]}",
         "{\"caps[1].per\": \"day is given twice\"}"},
        {"{\"caps\": [{\"per\": \"week\", \"max\": -1}]}",
         "{\"caps[0].max\": \"must be an integer from 0 to 1000000000000\"}"},
        {"{\"cooldownSeconds\": -1}",
         "{\"cooldownSeconds\": \"must be an integer from 0 to 1000000000\"}"},
        {"{\"cooldownSeconds\": 1.5}",
         "{\"cooldownSeconds\": \"must be an integer from 0 to 1000000000\"}"},
        {"{\"cooldownSeconds\": 1000000001}",
         "{\"cooldownSeconds\": \"must be an integer from 0 to 1000000000\"}"},
        {"{\"validFrom\": \"2023-01-01\"}",
         "{\"validFrom\": \"must be an ISO 8601 date-time with Z or an offset\"}"},
        {"{\"validTo\": 1700000000000}",
         "{\"validTo\": \"must be an ISO 8601 date-time with Z or an offset\"}"},
        {"{\"validFrom\": \"1970-01-01T00:00:00Z\"}",
         "{\"validFrom\": \"must be after 1970-01-01T00:00:00Z\"}"},
        {"{\"validFrom\": \"2024-01-01T00:00:00Z\", \"validTo\": \"2024-01-01T00:00:00Z\"}",
         "{\"validTo\": \"must be after validFrom\"}"},
        {"{\"seasonId\": \"\"}", "{\"seasonId\": \"must be 1 to 128 characters\"}"},
        {"{\"seasonId\": 5}", "{\"seasonId\": \"must be a string\"}"},
        /* several at once: every one is named */
        {"{\"name\": \"\", \"eventType\": null, \"priority\": true, \"isActive\": 1,"
         " \"xpAwards\": {\"a\": -1, \"b\": 2}, \"caps\": [{\"per\": \"x\", \"max\": 1}],"
         " \"conditions\": {\"any\": 1}}",
         "{\"name\": \"must be 1 to 200 characters\", \"eventType\": \"is required\","
         " \"priority\": \"must be an integer\", \"isActive\": \"must be a boolean\","
         " \"xpAwards.a\": \"must be a non-negative integer or {field, multiply?, max?}\","
         " \"caps[0].per\": \"must be day, week, month or season\","
         " \"conditions\": \"any: must be an array\"}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_details(cases[i].extra, cases[i].details);
}

static void body_must_be_an_object(void **state)
{
    (void)state;
    json_t *b = unit_json("[1]");
    expect_details_json(b, "{\"body\": \"must be a JSON object\"}", "an array");
    json_decref(b);
    b = unit_json("{}");
    expect_details_json(b, "{\"name\": \"is required\", \"eventType\": \"is required\"}", "{}");
    json_decref(b);
}

static void multiplier_map_too_large(void **state)
{
    (void)state;
    json_t *map = json_object();
    for (int i = 0; i < RULE_MAX_MULT; i++) {
        char k[16];
        snprintf(k, sizeof(k), "v%d", i);
        json_object_set_new(map, k, json_real(1.5));
    }
    json_t *b = body_with("{}");
    json_object_set_new(b, "multiplierConfig", json_pack("{s:s, s:O}", "field", "d", "map", map));
    json_t *details = NULL;
    struct rule *r = rule_compile(b, &details);
    assert_non_null(r);
    assert_int_equal(r->n_mult, RULE_MAX_MULT);
    rule_free(r);
    json_object_set_new(map, "one more", json_integer(1));
    json_object_set_new(b, "multiplierConfig", json_pack("{s:s, s:O}", "field", "d", "map", map));
    expect_details_json(b, "{\"multiplierConfig.map\": \"must have at most 256 entries\"}",
                        "257 entries");
    json_decref(map);
    json_decref(b);
}

struct mult_case {
    const char *metadata;
    double want;
};

/* The event's field picks the multiplier: strings by bytes, numbers by value against keys
 * that are JSON numbers, booleans by their text; anything else, or no entry, is 1. */
static void multiplier_from_field(void **state)
{
    (void)state;
    struct rule *r = compile_ok("{\"multiplierConfig\": {\"field\": \"level\", \"map\": "
                                "{\"hard\": 2, \"easy\": 0.5, \"1\": 1.5, \"2.0\": 3, "
                                "\"1e1\": 4, \"true\": 5, \"null\": 6, \"\": 7, \"0\": 0}}}");
    static const struct mult_case cases[] = {
        {"{\"level\": \"hard\"}", 2},   {"{\"level\": \"easy\"}", 0.5},
        {"{\"level\": \"Hard\"}", 1},   {"{\"level\": \"har\"}", 1},
        {"{\"level\": 1}", 1.5},        {"{\"level\": 1.0}", 1.5},
        {"{\"level\": \"1\"}", 1.5},    {"{\"level\": 2}", 3},
        {"{\"level\": \"2\"}", 1},      {"{\"level\": 10}", 4},
        {"{\"level\": 0}", 0},          {"{\"level\": -0.0}", 0},
        {"{\"level\": true}", 5},       {"{\"level\": false}", 1},
        {"{\"level\": null}", 1},       {"{\"level\": \"\"}", 7},
        {"{\"level\": [\"hard\"]}", 1}, {"{\"level\": {\"hard\": 1}}", 1},
        {"{\"other\": \"hard\"}", 1},   {"{}", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture f;
        fixture_init(&f, cases[i].metadata);
        double got = rule_multiplier(r, &f.ctx, 12, 0);
        cond_memo_begin(&f.ctx);
        double memo = rule_multiplier(r, &f.ctx, 12, 0);
        cond_memo_end();
        fixture_release(&f);
        if (memo != got)
            fail_msg("%s: %g without the memo, %g with it", cases[i].metadata, got, memo);
        if (got != cases[i].want)
            fail_msg("%s: got %g, want %g", cases[i].metadata, got, cases[i].want);
    }
    struct cond_ctx none = {NULL, NULL, "quiz_done", 0, NULL, NULL, 0};
    assert_exact(rule_multiplier(r, &none, 12, 0), 1);
    rule_free(r);

    /* on user attributes, and on the event type */
    r = compile_ok("{\"multiplierConfig\": {\"field\": \"user.attributes.plan\", \"map\": "
                   "{\"pro\": 2}}}");
    struct fixture f;
    fixture_init(&f, "{}");
    assert_exact(rule_multiplier(r, &f.ctx, 0, 0), 2);
    rule_free(r);
    r = compile_ok("{\"multiplierConfig\": {\"field\": \"event.type\", \"map\": "
                   "{\"quiz_done\": 4}}}");
    assert_exact(rule_multiplier(r, &f.ctx, 0, 0), 4);
    fixture_release(&f);
    rule_free(r);
}

struct hour_case {
    int from, to, hour;
    bool applies;
};

/* fromHour <= h < toHour, wrapping midnight when fromHour > toHour. */
static void time_window(void **state)
{
    (void)state;
    static const struct hour_case cases[] = {
        {9, 17, 8, false},  {9, 17, 9, true},   {9, 17, 16, true},   {9, 17, 17, false},
        {9, 17, 23, false}, {22, 6, 21, false}, {22, 6, 22, true},   {22, 6, 23, true},
        {22, 6, 0, true},   {22, 6, 5, true},   {22, 6, 6, false},   {22, 6, 12, false},
        {0, 24, 0, true},   {0, 24, 23, true},  {23, 0, 23, true},   {23, 0, 0, false},
        {23, 0, 22, false}, {5, 5, 5, false},   {5, 5, 4, false},    {0, 1, 0, true},
        {0, 1, 1, false},   {23, 24, 23, true}, {23, 24, 22, false},
    };
    struct cond_ctx ctx = {NULL, NULL, "quiz_done", OCCURRED, NULL, NULL, 0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char extra[160];
        snprintf(extra, sizeof(extra),
                 "{\"timeBonusConfig\": {\"fromHour\": %d, \"toHour\": %d, \"multiplier\": 2}}",
                 cases[i].from, cases[i].to);
        struct rule *r = compile_ok(extra);
        double got = rule_multiplier(r, &ctx, cases[i].hour, 0);
        rule_free(r);
        if (got != (cases[i].applies ? 2 : 1))
            fail_msg("from %d to %d at %d: got %g", cases[i].from, cases[i].to, cases[i].hour, got);
    }
}

/* The streak bonus applies on every positive multiple of `every`. */
static void streak_every_nth(void **state)
{
    (void)state;
    struct rule *r =
        compile_ok("{\"streakBonusConfig\": {\"every\": 3, \"bonusMultiplier\": 2.5}}");
    struct cond_ctx ctx = {NULL, NULL, "quiz_done", OCCURRED, NULL, NULL, 0};
    static const struct {
        int64_t streak;
        double want;
    } cases[] = {{-3, 1}, {0, 1}, {1, 1}, {2, 1}, {3, 2.5}, {4, 1}, {6, 2.5}, {7, 1}, {99, 2.5}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double got = rule_multiplier(r, &ctx, 0, cases[i].streak);
        if (got != cases[i].want)
            fail_msg("streak %lld: got %g, want %g", (long long)cases[i].streak, got,
                     cases[i].want);
    }
    rule_free(r);

    r = compile_ok("{\"streakBonusConfig\": {\"every\": 1, \"bonusMultiplier\": 2}}");
    assert_exact(rule_multiplier(r, &ctx, 0, 0), 1);
    assert_exact(rule_multiplier(r, &ctx, 0, 1), 2);
    assert_exact(rule_multiplier(r, &ctx, 0, 2), 2);
    rule_free(r);
}

struct amount_case {
    const char *metadata;
    double multiplier;
    int64_t want;
};

/* {"field": "score", "multiply": 2, "max": 50}: the number times 2, within [0, 50], then
 * times the rule's multiplier and rounded. */
static void award_from_field(void **state)
{
    (void)state;
    struct rule *r = compile_ok("{\"xpAwards\": {\"x\": {\"field\": \"stats.score\", "
                                "\"multiply\": 2, \"max\": 50}, \"y\": {\"field\": "
                                "\"stats.score\"}}}");
    static const struct amount_case with_max[] = {
        {"{\"stats\": {\"score\": 10}}", 1, 20},
        {"{\"stats\": {\"score\": 42}}", 1, 50},
        {"{\"stats\": {\"score\": 42}}", 1.5, 75},
        {"{\"stats\": {\"score\": 10.25}}", 1, 21}, /* 20.5 rounds up */
        {"{\"stats\": {\"score\": 10.2}}", 1, 20},
        {"{\"stats\": {\"score\": 10}}", 0.5, 10},
        {"{\"stats\": {\"score\": 10}}", 0, 0},
        {"{\"stats\": {\"score\": -10}}", 1, 0},
        {"{\"stats\": {\"score\": \"10\"}}", 1, 0},
        {"{\"stats\": {\"score\": null}}", 1, 0},
        {"{\"stats\": {\"score\": true}}", 1, 0},
        {"{\"stats\": 10}", 1, 0},
        {"{}", 1, 0},
        {"{\"stats\": {\"score\": 10}}", -1, 0},
        {"{\"stats\": {\"score\": 10}}", NAN, 0},
    };
    for (size_t i = 0; i < sizeof(with_max) / sizeof(with_max[0]); i++) {
        struct fixture f;
        fixture_init(&f, with_max[i].metadata);
        int64_t got = rule_award_amount(&r->xp[0], &f.ctx, with_max[i].multiplier);
        cond_memo_begin(&f.ctx);
        int64_t memo = rule_award_amount(&r->xp[0], &f.ctx, with_max[i].multiplier);
        cond_memo_end();
        fixture_release(&f);
        if (memo != got)
            fail_msg("%s: %lld without the memo, %lld with it", with_max[i].metadata,
                     (long long)got, (long long)memo);
        if (got != with_max[i].want)
            fail_msg("%s * %g: got %lld, want %lld", with_max[i].metadata, with_max[i].multiplier,
                     (long long)got, (long long)with_max[i].want);
    }
    /* no max: no upper clamp, saturating at the int64 range */
    static const struct amount_case without_max[] = {
        {"{\"stats\": {\"score\": 1000}}", 1, 1000},
        {"{\"stats\": {\"score\": 2.5}}", 1, 3},
        {"{\"stats\": {\"score\": 1e300}}", 1, INT64_MAX},
        {"{\"stats\": {\"score\": -1e300}}", 1, 0},
    };
    for (size_t i = 0; i < sizeof(without_max) / sizeof(without_max[0]); i++) {
        struct fixture f;
        fixture_init(&f, without_max[i].metadata);
        int64_t got = rule_award_amount(&r->xp[1], &f.ctx, without_max[i].multiplier);
        fixture_release(&f);
        if (got != without_max[i].want)
            fail_msg("%s: got %lld, want %lld", without_max[i].metadata, (long long)got,
                     (long long)without_max[i].want);
    }
    struct cond_ctx none = {NULL, NULL, "quiz_done", 0, NULL, NULL, 0};
    assert_int_equal(rule_award_amount(&r->xp[0], &none, 1), 0);
    rule_free(r);
}

static void fixed_award_times_multiplier(void **state)
{
    (void)state;
    struct rule *r = compile_ok("{\"xpAwards\": {\"a\": 10, \"b\": 5, \"c\": 1000000000000}}");
    struct cond_ctx ctx = {NULL, NULL, "quiz_done", OCCURRED, NULL, NULL, 0};
    assert_int_equal(rule_award_amount(&r->xp[0], &ctx, 1), 10);
    assert_int_equal(rule_award_amount(&r->xp[0], &ctx, 1.5), 15);
    assert_int_equal(rule_award_amount(&r->xp[1], &ctx, 1.5), 8);   /* 7.5 */
    assert_int_equal(rule_award_amount(&r->xp[1], &ctx, 1.3), 7);   /* 6.5 in decimal */
    assert_int_equal(rule_award_amount(&r->xp[0], &ctx, 1.15), 12); /* 11.5 in decimal */
    assert_int_equal(rule_award_amount(&r->xp[0], &ctx, 0), 0);
    assert_int_equal(rule_award_amount(&r->xp[0], &ctx, -2), 0);
    assert_int_equal(rule_award_amount(&r->xp[0], &ctx, NAN), 0);
    assert_int_equal(rule_award_amount(&r->xp[0], &ctx, INFINITY), INT64_MAX);
    assert_int_equal(rule_award_amount(&r->xp[2], &ctx, 1e6), 1000000000000000000LL);
    assert_int_equal(rule_award_amount(&r->xp[2], &ctx, 1e7), INT64_MAX);
    rule_free(r);
}

struct round_case {
    double x;
    int64_t want;
};

static void round_half_away_from_zero(void **state)
{
    (void)state;
    const struct round_case cases[] = {
        {0, 0},
        {-0.0, 0},
        {0.4, 0},
        {0.5, 1},
        {-0.5, -1},
        {1.5, 2},
        {2.5, 3},
        {-2.5, -3},
        {2.4999, 2},
        {-2.4999, -2},
        {2.6, 3},
        {11.4999999, 11},
        {10 * 1.15, 12}, /* 11.499999999999998 */
        {-10 * 1.15, -12},
        {5 * 1.3, 7},             /* 6.5 */
        {0.49999999999999994, 1}, /* within a unit in the last place of a half */
        {1e15 + 0.5, 1000000000000001LL},
        {1e15 + 0.25, 1000000000000000LL},
        {4503599627370497.0, 4503599627370497LL}, /* 2^52 + 1: already whole */
        {9007199254740993.0, 9007199254740992LL}, /* not a double: the nearest is 2^53 */
        {9.2233720368547748e18, 9223372036854774784LL},
        {9.3e18, INT64_MAX},
        {1e300, INT64_MAX},
        {INFINITY, INT64_MAX},
        {-9.3e18, INT64_MIN},
        {-INFINITY, INT64_MIN},
        {NAN, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t got = rule_round(cases[i].x);
        if (got != cases[i].want)
            fail_msg("rule_round(%.17g): got %lld, want %lld", cases[i].x, (long long)got,
                     (long long)cases[i].want);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(defaults),
    cmocka_unit_test(every_field_compiled),
    cmocka_unit_test(award_limits),
    cmocka_unit_test(every_bad_field_is_named),
    cmocka_unit_test(body_must_be_an_object),
    cmocka_unit_test(multiplier_map_too_large),
    cmocka_unit_test(multiplier_from_field),
    cmocka_unit_test(time_window),
    cmocka_unit_test(streak_every_nth),
    cmocka_unit_test(award_from_field),
    cmocka_unit_test(fixed_award_times_multiplier),
    cmocka_unit_test(round_half_away_from_zero),
};

UNIT_MAIN(tests)
