/* Unit tests for src/engine/achievement.c: what an achievement body compiles to, every field it
 * refuses and with which message, the metrics a milestone follows, the conditions of a
 * conditional one, and how many claims and how much progress a metric value is worth. */
#include "unit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/achievement.h"

/* A valid milestone body with the members of `extra` added or replaced. */
static json_t *body_with(const char *extra)
{
    return unit_json_with("{\"code\": \"first_100\", \"name\": \"First hundred\", \"kind\": "
                          "\"MILESTONE\", \"conditions\": {\"target\": 100}}", extra);
}

static struct achievement *compile_ok(const char *extra)
{
    json_t *b = body_with(extra);
    json_t *details = (json_t *)1;
    struct achievement *a = achievement_compile(b, &details);
    json_decref(b); /* the achievement must not need it */
    if (!a) {
        char *d = json_dumps(details, JSON_COMPACT);
        fail_msg("refused %s: %s", extra, d);
    }
    assert_null(details);
    return a;
}

static void expect_details_json(const json_t *body, const char *want, const char *what)
{
    json_t *details = NULL;
    struct achievement *a = achievement_compile(body, &details);
    if (a) {
        achievement_free(a);
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

static void milestone_defaults(void **state)
{
    (void)state;
    struct achievement *a = compile_ok("{\"id\": \"ignored\"}");
    assert_string_equal(a->code, "first_100");
    assert_string_equal(a->name, "First hundred");
    assert_int_equal(a->kind, ACH_MILESTONE);
    assert_null(a->tier);
    assert_false(a->hidden);
    assert_false(a->repeatable);
    assert_int_equal(a->metric, ACH_METRIC_XP);
    assert_null(a->metric_arg);
    assert_int_equal(a->target, 100);
    assert_null(a->cond);
    assert_null(a->event_type);
    assert_int_equal(a->n_xp, 0);
    assert_int_equal(a->n_currency, 0);
    achievement_free(a);
    achievement_free(NULL);
}

static void every_field_compiled(void **state)
{
    (void)state;
    struct achievement *a = compile_ok(
        "{\"code\": \"Quiz.Master:2-b_c\", \"description\": \"Two\\nlines\", \"tier\": "
        "\"gold\", \"hidden\": true, \"repeatable\": true, \"conditions\": {\"target\": 5, "
        "\"metric\": \"events:quiz_done\"}, \"rewardConfig\": {\"xpAwards\": {\"main\": 50, "
        "\"bonus\": 0}, \"currencyAwards\": {\"gold\": 10}, \"badge\": \"ignored\"}}");
    assert_string_equal(a->code, "Quiz.Master:2-b_c");
    assert_true(json_is_string(a->tier));
    assert_string_equal(json_string_value(a->tier), "gold");
    assert_true(a->hidden);
    assert_true(a->repeatable);
    assert_int_equal(a->metric, ACH_METRIC_EVENTS);
    assert_string_equal(a->metric_arg, "quiz_done");
    assert_int_equal(a->target, 5);
    assert_int_equal(a->n_xp, 2);
    assert_string_equal(a->xp[0].name, "main");
    assert_int_equal(a->xp[0].amount, 50);
    assert_string_equal(a->xp[1].name, "bonus");
    assert_int_equal(a->xp[1].amount, 0);
    assert_int_equal(a->n_currency, 1);
    assert_string_equal(a->currency[0].name, "gold");
    assert_int_equal(a->currency[0].amount, 10);
    achievement_free(a);

    a = compile_ok("{\"tier\": 3}");
    assert_true(json_is_integer(a->tier));
    assert_int_equal(json_integer_value(a->tier), 3);
    achievement_free(a);

    a = compile_ok("{\"tier\": null, \"hidden\": null, \"repeatable\": null, \"description\": "
                   "null, \"rewardConfig\": null}");
    assert_null(a->tier);
    assert_false(a->hidden);
    achievement_free(a);
}

struct metric_case {
    const char *metric; /* JSON text */
    enum ach_metric want;
    const char *arg;
};

static void milestone_metrics(void **state)
{
    (void)state;
    static const struct metric_case cases[] = {
        {"\"xp\"", ACH_METRIC_XP, NULL},
        {"null", ACH_METRIC_XP, NULL},
        {"\"xp:main\"", ACH_METRIC_XP_TRACK, "main"},
        {"\"xp:Builder XP\"", ACH_METRIC_XP_TRACK, "Builder XP"},
        {"\"events:quiz_done\"", ACH_METRIC_EVENTS, "quiz_done"},
        {"\"events:a:b\"", ACH_METRIC_EVENTS, "a:b"},
        {"\"level:main\"", ACH_METRIC_LEVEL, "main"},
        {"\"streak\"", ACH_METRIC_STREAK, NULL},
        {"\"currency:gold\"", ACH_METRIC_CURRENCY, "gold"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char extra[200];
        snprintf(extra, sizeof(extra), "{\"conditions\": {\"target\": 3, \"metric\": %s}}",
                 cases[i].metric);
        struct achievement *a = compile_ok(extra);
        if (a->metric != cases[i].want)
            fail_msg("%s: metric %d, want %d", cases[i].metric, a->metric, cases[i].want);
        if (cases[i].arg)
            assert_string_equal(a->metric_arg, cases[i].arg);
        else
            assert_null(a->metric_arg);
        assert_int_equal(a->target, 3);
        achievement_free(a);
    }
}

struct error_case {
    const char *extra;
    const char *details;
};

#define METRIC_HELP                                                                                \
    "must be xp, xp:<track>, events:<eventType>, level:<track>, streak or currency:<currency>"

static void every_bad_field_is_named(void **state)
{
    (void)state;
    static const struct error_case cases[] = {
        {"{\"code\": null}", "{\"code\": \"is required\"}"},
        {"{\"code\": \"\"}", "{\"code\": \"must be 1 to 64 characters\"}"},
        {"{\"code\": \"a b\"}",
         "{\"code\": \"may contain only letters, digits, '.', '_', ':' and '-'\"}"},
        {"{\"code\": \"caf\\u00e9\"}",
         "{\"code\": \"may contain only letters, digits, '.', '_', ':' and '-'\"}"},
        {"{\"code\": "
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
         "{\"code\": \"must be 1 to 64 characters\"}"},
        {"{\"name\": \"\"}", "{\"name\": \"must be 1 to 200 characters\"}"},
        {"{\"name\": \"a\\nb\"}", "{\"name\": \"must not contain control characters\"}"},
        {"{\"description\": 1}", "{\"description\": \"must be a string\"}"},
        {"{\"kind\": null}", "{\"kind\": \"is required\"}"},
        {"{\"kind\": \"milestone\"}", "{\"kind\": \"must be MILESTONE or CONDITIONAL\"}"},
        {"{\"kind\": 1}", "{\"kind\": \"must be MILESTONE or CONDITIONAL\"}"},
        {"{\"kind\": \"\"}", "{\"kind\": \"must be MILESTONE or CONDITIONAL\"}"},
        {"{\"tier\": true}",
         "{\"tier\": \"must be an integer or a string of at most 64 characters without control "
         "characters\"}"},
        {"{\"tier\": 1.5}",
         "{\"tier\": \"must be an integer or a string of at most 64 characters without control "
         "characters\"}"},
        {"{\"hidden\": \"no\"}", "{\"hidden\": \"must be a boolean\"}"},
        {"{\"repeatable\": 1}", "{\"repeatable\": \"must be a boolean\"}"},
        {"{\"conditions\": null}", "{\"conditions\": \"is required\"}"},
        {"{\"conditions\": [1]}", "{\"conditions\": \"must be an object\"}"},
        {"{\"conditions\": {}}", "{\"conditions.target\": \"is required\"}"},
        {"{\"conditions\": {\"target\": 0}}",
         "{\"conditions.target\": \"must be an integer >= 1\"}"},
        {"{\"conditions\": {\"target\": -5}}",
         "{\"conditions.target\": \"must be an integer >= 1\"}"},
        {"{\"conditions\": {\"target\": 1.0}}",
         "{\"conditions.target\": \"must be an integer >= 1\"}"},
        {"{\"conditions\": {\"target\": \"10\"}}",
         "{\"conditions.target\": \"must be an integer >= 1\"}"},
        {"{\"conditions\": {\"target\": 1, \"metrc\": \"xp\"}}",
         "{\"conditions\": \"unknown key \\\"metrc\\\" (a milestone takes target and metric)\"}"},
        {"{\"conditions\": {\"target\": 1, \"metric\": \"XP\"}}",
         "{\"conditions.metric\": \"" METRIC_HELP "\"}"},
        {"{\"conditions\": {\"target\": 1, \"metric\": \"\"}}",
         "{\"conditions.metric\": \"" METRIC_HELP "\"}"},
        {"{\"conditions\": {\"target\": 1, \"metric\": 5}}",
         "{\"conditions.metric\": \"" METRIC_HELP "\"}"},
        {"{\"conditions\": {\"target\": 1, \"metric\": \"level\"}}",
         "{\"conditions.metric\": \"" METRIC_HELP "\"}"},
        {"{\"conditions\": {\"target\": 1, \"metric\": \"streak:3\"}}",
         "{\"conditions.metric\": \"" METRIC_HELP "\"}"},
        {"{\"conditions\": {\"target\": 1, \"metric\": \"levels:main\"}}",
         "{\"conditions.metric\": \"" METRIC_HELP "\"}"},
        {"{\"conditions\": {\"target\": 1, \"metric\": \"xp:\"}}",
         "{\"conditions.metric\": \"the name after xp: must be 1 to 64 characters without "
         "control characters\"}"},
        {"{\"conditions\": {\"target\": 1, \"metric\": \"events:\"}}",
         "{\"conditions.metric\": \"the name after events: must be 1 to 128 characters without "
         "control characters\"}"},
        {"{\"conditions\": {\"target\": 1, \"metric\": \"currency:a\\u0007\"}}",
         "{\"conditions.metric\": \"the name after currency: must be 1 to 64 characters "
         "without control characters\"}"},
        {"{\"rewardConfig\": []}", "{\"rewardConfig\": \"must be an object\"}"},
        {"{\"rewardConfig\": {\"xpAwards\": 5}}",
         "{\"rewardConfig.xpAwards\": \"must be an object\"}"},
        {"{\"rewardConfig\": {\"xpAwards\": {\"main\": 1.5}, \"currencyAwards\": {\"gold\": "
         "-1, \"gems\": 1000000000001}}}",
         "{\"rewardConfig.xpAwards.main\": \"must be an integer from 0 to 1000000000000\","
         " \"rewardConfig.currencyAwards.gold\": \"must be an integer from 0 to "
         "1000000000000\", \"rewardConfig.currencyAwards.gems\": \"must be an integer from 0 "
         "to 1000000000000\"}"},
        {"{\"rewardConfig\": {\"xpAwards\": {\"\": 1}}}",
         "{\"rewardConfig.xpAwards.\": \"names must be 1 to 64 characters without control "
         "characters\"}"},
        /* several at once */
        {"{\"code\": \"a b\", \"name\": null, \"hidden\": 0, \"conditions\": {\"target\": 0, "
         "\"metric\": \"nope\"}}",
         "{\"code\": \"may contain only letters, digits, '.', '_', ':' and '-'\", \"name\": \"is "
         "required\", \"hidden\": \"must be a boolean\", \"conditions.target\": \"must be an "
         "integer >= 1\", \"conditions.metric\": \"" METRIC_HELP "\"}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_details(cases[i].extra, cases[i].details);
}

static void body_must_be_an_object(void **state)
{
    (void)state;
    json_t *b = unit_json("\"x\"");
    expect_details_json(b, "{\"body\": \"must be a JSON object\"}", "a string");
    json_decref(b);
    b = unit_json("{}");
    expect_details_json(b,
                        "{\"code\": \"is required\", \"name\": \"is required\", \"kind\": \"is "
                        "required\", \"conditions\": \"is required\"}",
                        "{}");
    json_decref(b);
}

static void reward_limits(void **state)
{
    (void)state;
    json_t *b = body_with("{}");
    json_t *xp = json_object();
    for (int i = 0; i < ACH_MAX_REWARDS; i++) {
        char k[16];
        snprintf(k, sizeof(k), "t%d", i);
        json_object_set_new(xp, k, json_integer(i));
    }
    json_object_set_new(b, "rewardConfig", json_pack("{s:O}", "currencyAwards", xp));
    json_t *details = NULL;
    struct achievement *a = achievement_compile(b, &details);
    assert_non_null(a);
    assert_int_equal(a->n_currency, ACH_MAX_REWARDS);
    assert_int_equal(a->currency[15].amount, 15);
    achievement_free(a);
    json_object_set_new(xp, "t16", json_integer(1));
    json_object_set_new(b, "rewardConfig", json_pack("{s:O}", "currencyAwards", xp));
    expect_details_json(b, "{\"rewardConfig.currencyAwards\": \"must have at most 16 awards\"}",
                        "17 rewards");
    json_decref(xp);
    json_decref(b);
}

/* A conditional achievement: ForgeEngine's {field, equals}, or any condition, with an optional
 * eventType beside it. */
static void conditional_conditions(void **state)
{
    (void)state;
    json_t *meta = unit_json("{\"difficulty\": \"hard\", \"score\": 42}");
    struct cond_ctx ctx = {meta, NULL, "quiz_done", 0, NULL, NULL, 0};

    struct achievement *a = compile_ok("{\"kind\": \"CONDITIONAL\", \"conditions\": "
                                       "{\"field\": \"difficulty\", \"equals\": \"hard\"}}");
    assert_int_equal(a->kind, ACH_CONDITIONAL);
    assert_null(a->event_type);
    assert_non_null(a->cond);
    assert_true(cond_eval(a->cond, &ctx));
    achievement_free(a);

    a = compile_ok("{\"kind\": \"CONDITIONAL\", \"conditions\": {\"eventType\": \"quiz_done\", "
                   "\"field\": \"difficulty\", \"equals\": \"easy\"}}");
    assert_string_equal(a->event_type, "quiz_done");
    assert_false(cond_eval(a->cond, &ctx));
    achievement_free(a);

    a = compile_ok("{\"kind\": \"CONDITIONAL\", \"conditions\": {\"eventType\": \"quiz_done\", "
                   "\"all\": [{\"field\": \"score\", \"op\": \"gte\", \"value\": 40}, "
                   "{\"field\": \"difficulty\", \"op\": \"in\", \"value\": [\"hard\"]}]}}");
    assert_string_equal(a->event_type, "quiz_done");
    assert_true(cond_eval(a->cond, &ctx));
    achievement_free(a);

    /* the event type alone: every event of that type */
    a = compile_ok("{\"kind\": \"CONDITIONAL\", \"conditions\": {\"eventType\": \"signup\"}}");
    assert_string_equal(a->event_type, "signup");
    assert_true(cond_eval(a->cond, &ctx));
    achievement_free(a);

    /* a null eventType is no event type, and is not taken for a condition key */
    a = compile_ok("{\"kind\": \"CONDITIONAL\", \"conditions\": {\"eventType\": null, "
                   "\"field\": \"score\", \"op\": \"gt\", \"value\": 50}}");
    assert_null(a->event_type);
    assert_false(cond_eval(a->cond, &ctx));
    /* claims and progress are for milestones */
    assert_int_equal(achievement_claims(a, 100), 0);
    assert_true(achievement_progress(a, 100) == 0);
    achievement_free(a);
    json_decref(meta);

    static const struct error_case cases[] = {
        {"{\"kind\": \"CONDITIONAL\", \"conditions\": {\"field\": \"a\", \"op\": \"like\", "
         "\"value\": 1}}",
         "{\"conditions\": \"op: unknown operator \\\"like\\\"\"}"},
        {"{\"kind\": \"CONDITIONAL\", \"conditions\": {\"target\": 5}}",
         "{\"conditions\": \"unknown key \\\"target\\\"\"}"},
        {"{\"kind\": \"CONDITIONAL\", \"conditions\": {}}",
         "{\"conditions\": \"must have one of all, any, not or field\"}"},
        {"{\"kind\": \"CONDITIONAL\", \"conditions\": {\"eventType\": \"\", \"field\": \"a\", "
         "\"equals\": 1}}",
         "{\"conditions.eventType\": \"must be 1 to 128 characters\"}"},
        {"{\"kind\": \"CONDITIONAL\", \"conditions\": {\"eventType\": 5, \"any\": 3}}",
         "{\"conditions.eventType\": \"must be a string\", \"conditions\": \"any: must be an "
         "array\"}"},
        {"{\"kind\": \"CONDITIONAL\", \"conditions\": \"x\"}",
         "{\"conditions\": \"must be an object\"}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_details(cases[i].extra, cases[i].details);
}

struct claim_case {
    bool repeatable;
    int64_t value;
    int64_t claims;
    double progress;
};

static void claims_and_progress(void **state)
{
    (void)state;
    static const struct claim_case cases[] = {
        {false, -5, 0, 0},
        {false, 0, 0, 0},
        {false, 1, 0, 0.01},
        {false, 50, 0, 0.5},
        {false, 99, 0, 0.99},
        {false, 100, 1, 1},
        {false, 101, 1, 1},
        {false, 250, 1, 1},
        {true, -5, 0, 0},
        {true, 0, 0, 0},
        {true, 50, 0, 0.5},
        {true, 99, 0, 0.99},
        {true, 100, 1, 0},
        {true, 150, 1, 0.5},
        {true, 250, 2, 0.5},
        {true, 1000, 10, 0},
        {true, INT64_MAX, INT64_MAX / 100, (double)(INT64_MAX % 100) / 100},
    };
    struct achievement *once = compile_ok("{}");
    struct achievement *again = compile_ok("{\"repeatable\": true}");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct achievement *a = cases[i].repeatable ? again : once;
        int64_t claims = achievement_claims(a, cases[i].value);
        double progress = achievement_progress(a, cases[i].value);
        if (claims != cases[i].claims || progress != cases[i].progress)
            fail_msg("%s, value %lld: claims %lld progress %g, want %lld and %g",
                     cases[i].repeatable ? "repeatable" : "once", (long long)cases[i].value,
                     (long long)claims, progress, (long long)cases[i].claims, cases[i].progress);
    }
    achievement_free(once);
    achievement_free(again);

    /* target 1: every unit is a claim */
    struct achievement *a = compile_ok("{\"repeatable\": true, \"conditions\": {\"target\": 1, "
                                       "\"metric\": \"streak\"}}");
    assert_int_equal(achievement_claims(a, 7), 7);
    assert_true(achievement_progress(a, 7) == 0);
    achievement_free(a);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(milestone_defaults),     cmocka_unit_test(every_field_compiled),
    cmocka_unit_test(milestone_metrics),      cmocka_unit_test(every_bad_field_is_named),
    cmocka_unit_test(body_must_be_an_object), cmocka_unit_test(reward_limits),
    cmocka_unit_test(conditional_conditions), cmocka_unit_test(claims_and_progress),
};

UNIT_MAIN(tests)
