/* Fuzz target for rule and achievement bodies (src/engine/rule.c, achievement.c) and the
 * condition compiler under them (condition.c), behind the strict JSON parser as POST /rules
 * and POST /achievements run them: the input is a request body, parsed with the server's
 * limits, compiled as a rule, as an achievement and, when it is an object with "conditions",
 * as a condition on its own.
 *
 * Checked: compiling is deterministic (the same answer and the same details twice); a refusal
 * names at least one field with a non-empty message; an accepted rule holds what rule.h
 * promises (names, counts, bounds) and evaluates against a fixed event, with and without the
 * per-event memo, with its fields numbered, and with the event's metadata as a tree and as
 * text, to the same answers, with multipliers >= 0 and amounts >= 0; an accepted
 * achievement's claims and progress stay in range and grow with the metric. */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/json.h"
#include "core/utf8.h"
#include "engine/achievement.h"
#include "engine/condition.h"
#include "engine/rule.h"

#include "fuzz.h"

#define OCCURRED 1700000000000LL /* 2023-11-14T22:13:20Z */

static json_t *metadata, *attributes;
static char *metadata_text; /* the same metadata as text, every non-ASCII character escaped */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    metadata = json_loads("{\"difficulty\": \"hard\", \"score\": 42, \"ratio\": 0.5, \"big\": "
                          "1e300, \"neg\": -3, \"tags\": [\"a\", \"b\", 1], \"nested\": "
                          "{\"level\": {\"deep\": 7}}, \"flag\": true, \"nothing\": null, "
                          "\"name\": \"forge\", \"1\": \"one\", \"caf\u00e9\": "
                          "\"cr\u00e8me \\\"x\\\"\", \"obj\": {\"a\": [1, {\"b\": 2}]}}",
                          0, NULL);
    attributes = json_loads("{\"plan\": \"pro\", \"age\": 30, \"tier\": 2}", 0, NULL);
    CHECK(metadata && attributes);
    metadata_text = json_dumps(metadata, JSON_INDENT(1) | JSON_ENSURE_ASCII);
    CHECK(metadata_text);
    return 0;
}

static void check_details(const json_t *details)
{
    CHECK(json_is_object(details) && json_object_size(details) > 0);
    const char *field;
    json_t *msg;
    json_object_foreach((json_t *)details, field, msg)
    {
        CHECK(json_is_string(msg) && json_string_length(msg) > 0);
    }
}

static bool name_ok(const char *s, size_t max)
{
    size_t n = utf8_chars(s);
    return n >= 1 && n <= max && !utf8_has_control(s);
}

static bool eval_one(struct cond *c, const struct cond_ctx *ctx);

/* ctx with its metadata as text instead of a tree. */
static struct cond_ctx as_text(const struct cond_ctx *ctx)
{
    struct cond_ctx text = *ctx;
    text.metadata = NULL;
    text.metadata_text = metadata_text;
    text.metadata_len = strlen(metadata_text);
    return text;
}

/* cond_eval on ctx, the same with the memo as without, again from the memo, and with the
 * condition's fields numbered in a table (cond_fields_bind) and the memo open for it; and
 * when ctx has the metadata as a tree, the same again with it as text (read in place). */
static bool eval_both(struct cond *c, const struct cond_ctx *ctx)
{
    bool r = eval_one(c, ctx);
    if (ctx->metadata == metadata) {
        struct cond_ctx text = as_text(ctx);
        CHECK(eval_one(c, &text) == r);
    }
    return r;
}

static bool eval_one(struct cond *c, const struct cond_ctx *ctx)
{
    bool plain = cond_eval(c, ctx);
    cond_memo_begin(ctx);
    bool memo = cond_eval(c, ctx);
    bool again = cond_eval(c, ctx);
    cond_memo_end();
    struct cond_fields *f = cond_fields_new();
    CHECK(cond_fields_bind(f, c) == 0); /* at most COND_MAX_NODES - 1 leaves */
    struct cond_ctx numbered = *ctx;
    numbered.fields = f;
    cond_memo_begin(&numbered);
    bool by_number = cond_eval(c, &numbered);
    bool by_number_again = cond_eval(c, &numbered);
    cond_memo_end();
    cond_fields_free(f);
    CHECK(plain == memo && memo == again && by_number == plain && by_number_again == plain);
    return plain;
}

static void check_award(const struct rule_award *a, const struct cond_ctx *ctx, double m)
{
    CHECK(a->name && name_ok(a->name, RULE_AWARD_NAME_MAX));
    CHECK(a->from_field || (a->amount >= 0 && a->amount <= RULE_AMOUNT_MAX));
    CHECK(a->multiply >= 0 && a->multiply <= RULE_MULTIPLIER_MAX);
    CHECK(!a->has_max || (a->max >= 0 && a->max <= RULE_AMOUNT_MAX));
    static const double others[] = {0, 1, 0.5, 1.5, RULE_MULTIPLIER_MAX, -1, NAN, INFINITY};
    for (size_t i = 0; i <= sizeof(others) / sizeof(others[0]); i++) {
        double mult = i < sizeof(others) / sizeof(others[0]) ? others[i] : m;
        int64_t plain = rule_award_amount(a, ctx, mult);
        CHECK(plain >= 0);
        if (!(mult > 0))
            CHECK(plain == 0);
        if (a->has_max && mult == 1)
            CHECK(plain <= a->max);
        if (!a->from_field && mult == 1)
            CHECK(plain == a->amount);
        cond_memo_begin(ctx);
        int64_t memo = rule_award_amount(a, ctx, mult);
        cond_memo_end();
        CHECK(memo == plain);
        if (ctx->metadata == metadata) {
            struct cond_ctx text = as_text(ctx);
            CHECK(rule_award_amount(a, &text, mult) == plain);
        }
    }
}

static void check_rule(const struct rule *r, const struct cond_ctx *ctx)
{
    CHECK(r->name && name_ok(r->name, RULE_NAME_MAX));
    CHECK(r->event_type && name_ok(r->event_type, 128));
    CHECK(r->cond);
    CHECK(r->n_xp <= RULE_MAX_AWARDS && r->n_currency <= RULE_MAX_AWARDS);
    CHECK(r->n_caps <= RULE_MAX_CAPS && r->n_mult <= RULE_MAX_MULT);
    CHECK(r->cooldown_ms >= 0);
    CHECK(!r->valid_from || !r->valid_to || r->valid_from < r->valid_to);
    CHECK(!r->has_time_bonus ||
          (r->from_hour >= 0 && r->from_hour <= 23 && r->to_hour >= 0 && r->to_hour <= 24));
    CHECK(!r->has_streak_bonus || r->streak_every >= 1);
    eval_both(r->cond, ctx);
    for (int hour = 0; hour < 24; hour += 5) {
        for (int64_t streak = 0; streak < 8; streak += 3) {
            double m = rule_multiplier(r, ctx, hour, streak);
            CHECK(m >= 0 && isfinite(m));
            cond_memo_begin(ctx);
            CHECK(rule_multiplier(r, ctx, hour, streak) == m);
            cond_memo_end();
            if (ctx->metadata == metadata) {
                struct cond_ctx text = as_text(ctx);
                CHECK(rule_multiplier(r, &text, hour, streak) == m);
            }
            for (size_t i = 0; i < r->n_xp; i++)
                check_award(&r->xp[i], ctx, m);
            for (size_t i = 0; i < r->n_currency; i++)
                check_award(&r->currency[i], ctx, m);
        }
    }
}

static void check_achievement(const struct achievement *a, const struct cond_ctx *ctx)
{
    CHECK(a->code && a->name);
    CHECK(a->n_xp <= ACH_MAX_REWARDS && a->n_currency <= ACH_MAX_REWARDS);
    for (size_t i = 0; i < a->n_xp; i++)
        CHECK(a->xp[i].amount >= 0 && a->xp[i].amount <= RULE_AMOUNT_MAX);
    if (a->kind == ACH_CONDITIONAL) {
        CHECK(a->cond);
        eval_both(a->cond, ctx);
        CHECK(achievement_claims(a, 100) == 0);
        return;
    }
    CHECK(a->target >= 1 && !a->cond);
    CHECK((a->metric == ACH_METRIC_XP || a->metric == ACH_METRIC_STREAK) == !a->metric_arg);
    static const int64_t values[] = {INT64_MIN, -1, 0, 1, 2, 99, 100, 101, 1000, INT64_MAX};
    int64_t last = 0;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        int64_t v = values[i];
        int64_t claims = achievement_claims(a, v);
        double progress = achievement_progress(a, v);
        CHECK(claims >= last);
        last = claims;
        CHECK(progress >= 0 && progress <= 1);
        CHECK(claims == 0 || v >= a->target);
        if (!a->repeatable)
            CHECK(claims <= 1);
    }
}

static void fuzz_rule(const json_t *body, const struct cond_ctx *ctxs, size_t n)
{
    json_t *d1 = NULL, *d2 = NULL;
    struct rule *r1 = rule_compile(body, &d1);
    struct rule *r2 = rule_compile(body, &d2);
    CHECK(!r1 == !r2);
    if (!r1) {
        check_details(d1);
        CHECK(json_equal(d1, d2));
    } else {
        CHECK(!d1 && !d2);
        CHECK(strcmp(r1->name, r2->name) == 0 && r1->n_xp == r2->n_xp &&
              r1->n_currency == r2->n_currency && r1->priority == r2->priority);
        for (size_t i = 0; i < n; i++) {
            check_rule(r1, &ctxs[i]);
            CHECK(cond_eval(r1->cond, &ctxs[i]) == cond_eval(r2->cond, &ctxs[i]));
            CHECK(rule_multiplier(r1, &ctxs[i], 23, 7) == rule_multiplier(r2, &ctxs[i], 23, 7));
        }
    }
    json_decref(d1);
    json_decref(d2);
    rule_free(r1);
    rule_free(r2);
}

static void fuzz_achievement(const json_t *body, const struct cond_ctx *ctxs, size_t n)
{
    json_t *d1 = NULL, *d2 = NULL;
    struct achievement *a1 = achievement_compile(body, &d1);
    struct achievement *a2 = achievement_compile(body, &d2);
    CHECK(!a1 == !a2);
    if (!a1) {
        check_details(d1);
        CHECK(json_equal(d1, d2));
    } else {
        CHECK(!d1 && !d2);
        CHECK(a1->kind == a2->kind && a1->target == a2->target && a1->metric == a2->metric);
        for (size_t i = 0; i < n; i++)
            check_achievement(a1, &ctxs[i]);
    }
    json_decref(d1);
    json_decref(d2);
    achievement_free(a1);
    achievement_free(a2);
}

static void fuzz_condition(const json_t *v, const struct cond_ctx *ctxs, size_t n)
{
    char e1[256], e2[256];
    struct cond *c1 = cond_compile(v, e1, sizeof(e1));
    struct cond *c2 = cond_compile(v, e2, sizeof(e2));
    CHECK(!c1 == !c2);
    if (!c1) {
        CHECK(strlen(e1) > 0 && strcmp(e1, e2) == 0);
        return;
    }
    for (size_t i = 0; i < n; i++)
        CHECK(eval_both(c1, &ctxs[i]) == eval_both(c2, &ctxs[i]));
    cond_free(c1);
    cond_free(c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct json_limits server = {32, 100000};
    char err[200];
    json_t *body = json_parse_strict((const char *)data, size, &server, err, sizeof(err));
    if (!body)
        return 0;
    const struct cond_ctx ctxs[] = {
        {metadata, attributes, "quiz_done", OCCURRED, NULL, NULL, 0},
        {NULL, NULL, NULL, 0, NULL, NULL, 0},
        {NULL, attributes, "quiz_done", OCCURRED, NULL, metadata_text, strlen(metadata_text)},
    };
    size_t n = sizeof(ctxs) / sizeof(ctxs[0]);
    fuzz_rule(body, ctxs, n);
    fuzz_achievement(body, ctxs, n);
    fuzz_condition(body, ctxs, n);
    const json_t *conditions = json_object_get(body, "conditions");
    if (conditions)
        fuzz_condition(conditions, ctxs, n);
    json_decref(body);
    return 0;
}
