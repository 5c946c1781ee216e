/* Unit tests for src/engine/condition.c: what each operator and combinator answers for a fixed
 * event, how fields name metadata, user attributes and the event itself, and the message of
 * every condition the compiler refuses. */
#include "unit.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "engine/condition.h"

/* 2023-11-14T22:13:20.000Z */
#define OCCURRED 1700000000000LL

static const char *const metadata_text =
    "{\"difficulty\": \"hard\", \"score\": 42, \"ratio\": 0.5, \"one\": 1, \"onef\": 1.0,"
    " \"flag\": true, \"off\": false, \"nothing\": null, \"tags\": [\"a\", \"b\", 1],"
    " \"nested\": {\"level\": {\"deep\": 7}}, \"name\": \"forge reactor\","
    " \"obj\": {\"a\": 1, \"b\": [1, 2]}, \"empty\": \"\", \"str_num\": \"42\","
    " \"big\": 9007199254740993, \"caf\u00e9\": \"cr\u00e8me \\\"br\u00fbl\u00e9e\\\"\"}";
static const char *const attributes_text = "{\"plan\": \"pro\", \"age\": 30, \"country\": \"FR\"}";

static struct cond *compile_ok(const char *text)
{
    json_t *j = unit_json(text);
    char err[256] = "";
    struct cond *c = cond_compile(j, err, sizeof(err));
    json_decref(j); /* the condition must not need it */
    if (!c)
        fail_msg("refused: %s: %s", err, text);
    return c;
}

static void expect_error_json(const json_t *j, const char *want, const char *text)
{
    char err[256] = "";
    struct cond *c = cond_compile(j, err, sizeof(err));
    if (c) {
        cond_free(c);
        fail_msg("accepted, want \"%s\": %s", want, text);
    }
    if (strcmp(err, want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", text, err, want);
}

static void expect_error(const char *text, const char *want)
{
    json_t *j = unit_json(text);
    expect_error_json(j, want, text);
    json_decref(j);
}

struct eval_case {
    const char *cond;
    bool want;
};

static const char *tf(bool b)
{
    return b ? "true" : "false";
}

/* Each case is evaluated without the per-event memo, then twice with it (filling it, then
 * answering from it), then twice with its fields numbered in a table (cond_fields_bind) and
 * the memo open for that table: the same answer every time. And all of it again with the
 * metadata given as its text instead of a tree, compact, and spread out with every non-ASCII
 * character escaped (what a client may send; read in place, core/jscan.h). */
static void run_one(const struct cond_ctx *ctx, const char *how, const struct eval_case *k)
{
    struct cond_fields *fields = cond_fields_new();
    struct cond_ctx numbered = *ctx;
    numbered.fields = fields;
    struct cond *c = compile_ok(k->cond);
    bool got = cond_eval(c, ctx);
    cond_memo_begin(ctx);
    bool memo_first = cond_eval(c, ctx);
    bool memo_again = cond_eval(c, ctx);
    cond_memo_end();
    assert_int_equal(cond_fields_bind(fields, c), 0);
    cond_memo_begin(&numbered);
    bool numbered_first = cond_eval(c, &numbered);
    bool numbered_again = cond_eval(c, &numbered);
    cond_memo_end();
    cond_free(c);
    cond_fields_free(fields);
    if (got != k->want)
        fail_msg("%s (%s): got %s, want %s", k->cond, how, tf(got), tf(k->want));
    if (memo_first != got || memo_again != got)
        fail_msg("%s (%s): %s without the memo, %s and %s with it", k->cond, how, tf(got),
                 tf(memo_first), tf(memo_again));
    if (numbered_first != got || numbered_again != got)
        fail_msg("%s (%s): %s without the memo, %s and %s with numbered fields", k->cond, how,
                 tf(got), tf(numbered_first), tf(numbered_again));
}

static void run_cases(const struct cond_ctx *ctx, const struct eval_case *cases, size_t n)
{
    char *compact = ctx->metadata ? json_dumps(ctx->metadata, JSON_COMPACT) : NULL;
    char *spread = ctx->metadata ? json_dumps(ctx->metadata, JSON_INDENT(2) | JSON_ENSURE_ASCII)
                                 : NULL;
    struct cond_ctx as_compact = *ctx, as_spread = *ctx;
    as_compact.metadata = as_spread.metadata = NULL;
    as_compact.metadata_text = compact;
    as_compact.metadata_len = compact ? strlen(compact) : 0;
    as_spread.metadata_text = spread;
    as_spread.metadata_len = spread ? strlen(spread) : 0;
    for (size_t i = 0; i < n; i++) {
        run_one(ctx, "tree", &cases[i]);
        run_one(&as_compact, "compact text", &cases[i]);
        run_one(&as_spread, "spread text", &cases[i]);
    }
    free(compact);
    free(spread);
}

#define RUN(ctx, cases) run_cases(ctx, cases, sizeof(cases) / sizeof(cases[0]))

/* The fixed event every evaluation case reads. */
struct fixture {
    json_t *metadata, *attributes;
    struct cond_ctx ctx;
};

static void fixture_init(struct fixture *f)
{
    f->metadata = unit_json(metadata_text);
    f->attributes = unit_json(attributes_text);
    memset(&f->ctx, 0, sizeof(f->ctx));
    f->ctx.metadata = f->metadata;
    f->ctx.attributes = f->attributes;
    f->ctx.event_type = "level_up";
    f->ctx.occurred_at = OCCURRED;
}

static void fixture_release(struct fixture *f)
{
    json_decref(f->metadata);
    json_decref(f->attributes);
}

static void run_on_fixture(const struct eval_case *cases, size_t n)
{
    struct fixture f;
    fixture_init(&f);
    run_cases(&f.ctx, cases, n);
    fixture_release(&f);
}

#define RUN_FIXTURE(cases) run_on_fixture(cases, sizeof(cases) / sizeof(cases[0]))

static void eq_is_strict_json_equality(void **state)
{
    (void)state;
    static const struct eval_case cases[] = {
        {"{\"field\": \"difficulty\", \"op\": \"eq\", \"value\": \"hard\"}", true},
        {"{\"field\": \"difficulty\", \"op\": \"eq\", \"value\": \"har\"}", false},
        {"{\"field\": \"difficulty\", \"op\": \"eq\", \"value\": \"hardy\"}", false},
        {"{\"field\": \"score\", \"op\": \"eq\", \"value\": 42}", true},
        {"{\"field\": \"score\", \"op\": \"eq\", \"value\": 42.0}", true},
        {"{\"field\": \"score\", \"op\": \"eq\", \"value\": 41}", false},
        {"{\"field\": \"one\", \"op\": \"eq\", \"value\": 1.0}", true},
        {"{\"field\": \"onef\", \"op\": \"eq\", \"value\": 1}", true},
        {"{\"field\": \"ratio\", \"op\": \"eq\", \"value\": 0.5}", true},
        /* exact integers: 2^53 + 1 is not the double 2^53 */
        {"{\"field\": \"big\", \"op\": \"eq\", \"value\": 9007199254740993}", true},
        {"{\"field\": \"big\", \"op\": \"eq\", \"value\": 9007199254740992}", false},
        {"{\"field\": \"big\", \"op\": \"eq\", \"value\": 9007199254740992.0}", false},
        /* strict: a string is not a number, a number is not a bool */
        {"{\"field\": \"str_num\", \"op\": \"eq\", \"value\": 42}", false},
        {"{\"field\": \"score\", \"op\": \"eq\", \"value\": \"42\"}", false},
        {"{\"field\": \"flag\", \"op\": \"eq\", \"value\": true}", true},
        {"{\"field\": \"flag\", \"op\": \"eq\", \"value\": 1}", false},
        {"{\"field\": \"off\", \"op\": \"eq\", \"value\": false}", true},
        {"{\"field\": \"off\", \"op\": \"eq\", \"value\": null}", false},
        {"{\"field\": \"nothing\", \"op\": \"eq\", \"value\": null}", true},
        {"{\"field\": \"missing\", \"op\": \"eq\", \"value\": null}", false},
        {"{\"field\": \"empty\", \"op\": \"eq\", \"value\": \"\"}", true},
        /* composite values compare deeply, numbers by value */
        {"{\"field\": \"tags\", \"op\": \"eq\", \"value\": [\"a\", \"b\", 1]}", true},
        {"{\"field\": \"tags\", \"op\": \"eq\", \"value\": [\"a\", \"b\", 1.0]}", true},
        {"{\"field\": \"tags\", \"op\": \"eq\", \"value\": [\"a\", \"b\"]}", false},
        {"{\"field\": \"tags\", \"op\": \"eq\", \"value\": [\"b\", \"a\", 1]}", false},
        {"{\"field\": \"obj\", \"op\": \"eq\", \"value\": {\"b\": [1, 2.0], \"a\": 1}}", true},
        {"{\"field\": \"obj\", \"op\": \"eq\", \"value\": {\"a\": 1}}", false},
        {"{\"field\": \"obj\", \"op\": \"eq\", \"value\": {\"a\": 1, \"c\": [1, 2]}}", false},
        {"{\"field\": \"obj\", \"op\": \"eq\", \"value\": [1, 2]}", false},
        {"{\"field\": \"tags\", \"op\": \"eq\", \"value\": \"a\"}", false},
        {"{\"field\": \"nested.level.deep\", \"op\": \"eq\", \"value\": 7}", true},
        {"{\"field\": \"nested.level\", \"op\": \"eq\", \"value\": {\"deep\": 7}}", true},
        /* the shorthand */
        {"{\"field\": \"difficulty\", \"equals\": \"hard\"}", true},
        {"{\"field\": \"difficulty\", \"equals\": \"easy\"}", false},
        {"{\"field\": \"score\", \"equals\": 42.0}", true},
    };
    RUN_FIXTURE(cases);
}

static void neq_is_the_negation_of_eq(void **state)
{
    (void)state;
    static const struct eval_case cases[] = {
        {"{\"field\": \"difficulty\", \"op\": \"neq\", \"value\": \"easy\"}", true},
        {"{\"field\": \"difficulty\", \"op\": \"neq\", \"value\": \"hard\"}", false},
        {"{\"field\": \"score\", \"op\": \"neq\", \"value\": 42.0}", false},
        {"{\"field\": \"score\", \"op\": \"neq\", \"value\": \"42\"}", true},
        {"{\"field\": \"missing\", \"op\": \"neq\", \"value\": \"x\"}", true},
        {"{\"field\": \"missing\", \"op\": \"neq\", \"value\": null}", true},
        {"{\"field\": \"nothing\", \"op\": \"neq\", \"value\": null}", false},
        {"{\"field\": \"tags\", \"op\": \"neq\", \"value\": [\"a\", \"b\", 1]}", false},
    };
    RUN_FIXTURE(cases);
}

static void numeric_comparisons_need_numbers(void **state)
{
    (void)state;
    static const struct eval_case cases[] = {
        {"{\"field\": \"score\", \"op\": \"gt\", \"value\": 41}", true},
        {"{\"field\": \"score\", \"op\": \"gt\", \"value\": 42}", false},
        {"{\"field\": \"score\", \"op\": \"gt\", \"value\": 41.5}", true},
        {"{\"field\": \"score\", \"op\": \"gte\", \"value\": 42}", true},
        {"{\"field\": \"score\", \"op\": \"gte\", \"value\": 42.0}", true},
        {"{\"field\": \"score\", \"op\": \"gte\", \"value\": 42.01}", false},
        {"{\"field\": \"score\", \"op\": \"lt\", \"value\": 42.5}", true},
        {"{\"field\": \"score\", \"op\": \"lt\", \"value\": 42}", false},
        {"{\"field\": \"score\", \"op\": \"lte\", \"value\": 42}", true},
        {"{\"field\": \"score\", \"op\": \"lte\", \"value\": 41}", false},
        {"{\"field\": \"ratio\", \"op\": \"gt\", \"value\": 0.4}", true},
        {"{\"field\": \"ratio\", \"op\": \"lt\", \"value\": 1}", true},
        {"{\"field\": \"ratio\", \"op\": \"gt\", \"value\": -1}", true},
        {"{\"field\": \"big\", \"op\": \"gt\", \"value\": 9007199254740992}", true},
        /* numeric ops on anything but a number are false, also their "negation" */
        {"{\"field\": \"difficulty\", \"op\": \"gt\", \"value\": 0}", false},
        {"{\"field\": \"difficulty\", \"op\": \"lte\", \"value\": 0}", false},
        {"{\"field\": \"str_num\", \"op\": \"gt\", \"value\": 0}", false},
        {"{\"field\": \"str_num\", \"op\": \"lt\", \"value\": 100}", false},
        {"{\"field\": \"flag\", \"op\": \"gte\", \"value\": 0}", false},
        {"{\"field\": \"nothing\", \"op\": \"lte\", \"value\": 0}", false},
        {"{\"field\": \"tags\", \"op\": \"gt\", \"value\": 0}", false},
        {"{\"field\": \"missing\", \"op\": \"gt\", \"value\": 0}", false},
        {"{\"field\": \"missing\", \"op\": \"lt\", \"value\": 0}", false},
        {"{\"field\": \"user.attributes.age\", \"op\": \"gte\", \"value\": 30}", true},
        {"{\"field\": \"user.attributes.age\", \"op\": \"gt\", \"value\": 30}", false},
    };
    RUN_FIXTURE(cases);
}

static void in_and_nin_lists(void **state)
{
    (void)state;
    static const struct eval_case cases[] = {
        {"{\"field\": \"difficulty\", \"op\": \"in\", \"value\": [\"easy\", \"hard\"]}", true},
        {"{\"field\": \"difficulty\", \"op\": \"in\", \"value\": [\"easy\", \"normal\"]}", false},
        {"{\"field\": \"difficulty\", \"op\": \"in\", \"value\": []}", false},
        {"{\"field\": \"score\", \"op\": \"in\", \"value\": [1, 42.0]}", true},
        {"{\"field\": \"score\", \"op\": \"in\", \"value\": [\"42\"]}", false},
        {"{\"field\": \"nothing\", \"op\": \"in\", \"value\": [null]}", true},
        {"{\"field\": \"missing\", \"op\": \"in\", \"value\": [null]}", false},
        {"{\"field\": \"tags\", \"op\": \"in\", \"value\": [[\"a\", \"b\", 1], 2]}", true},
        {"{\"field\": \"flag\", \"op\": \"in\", \"value\": [1, true]}", true},
        {"{\"field\": \"difficulty\", \"op\": \"nin\", \"value\": [\"easy\"]}", true},
        {"{\"field\": \"difficulty\", \"op\": \"nin\", \"value\": [\"easy\", \"hard\"]}", false},
        {"{\"field\": \"difficulty\", \"op\": \"nin\", \"value\": []}", true},
        {"{\"field\": \"missing\", \"op\": \"nin\", \"value\": [\"x\"]}", true},
        {"{\"field\": \"missing\", \"op\": \"nin\", \"value\": [null]}", true},
        {"{\"field\": \"score\", \"op\": \"nin\", \"value\": [42]}", false},
    };
    RUN_FIXTURE(cases);
}

static void contains_substrings_and_elements(void **state)
{
    (void)state;
    static const struct eval_case cases[] = {
        {"{\"field\": \"name\", \"op\": \"contains\", \"value\": \"react\"}", true},
        {"{\"field\": \"name\", \"op\": \"contains\", \"value\": \"forge reactor\"}", true},
        {"{\"field\": \"name\", \"op\": \"contains\", \"value\": \"forge reactors\"}", false},
        {"{\"field\": \"name\", \"op\": \"contains\", \"value\": \"xyz\"}", false},
        {"{\"field\": \"name\", \"op\": \"contains\", \"value\": \"\"}", true},
        {"{\"field\": \"name\", \"op\": \"contains\", \"value\": 4}", false},
        {"{\"field\": \"difficulty\", \"op\": \"contains\", \"value\": \"ar\"}", true},
        {"{\"field\": \"tags\", \"op\": \"contains\", \"value\": \"a\"}", true},
        {"{\"field\": \"tags\", \"op\": \"contains\", \"value\": \"c\"}", false},
        {"{\"field\": \"tags\", \"op\": \"contains\", \"value\": 1.0}", true},
        {"{\"field\": \"tags\", \"op\": \"contains\", \"value\": \"1\"}", false},
        {"{\"field\": \"obj.b\", \"op\": \"contains\", \"value\": 2}", true},
        {"{\"field\": \"score\", \"op\": \"contains\", \"value\": 4}", false},
        {"{\"field\": \"obj\", \"op\": \"contains\", \"value\": \"a\"}", false},
        {"{\"field\": \"missing\", \"op\": \"contains\", \"value\": \"a\"}", false},
    };
    RUN_FIXTURE(cases);
}

static void starts_with_strings_only(void **state)
{
    (void)state;
    static const struct eval_case cases[] = {
        {"{\"field\": \"name\", \"op\": \"startsWith\", \"value\": \"forge\"}", true},
        {"{\"field\": \"name\", \"op\": \"startsWith\", \"value\": \"forge reactor\"}", true},
        {"{\"field\": \"name\", \"op\": \"startsWith\", \"value\": \"forge reactor!\"}", false},
        {"{\"field\": \"name\", \"op\": \"startsWith\", \"value\": \"reactor\"}", false},
        {"{\"field\": \"name\", \"op\": \"startsWith\", \"value\": \"\"}", true},
        /* Escaped in the spread text (every non-ASCII character), plain in the compact one. */
        {"{\"field\": \"caf\u00e9\", \"op\": \"startsWith\", \"value\": \"cr\u00e8me\"}", true},
        {"{\"field\": \"caf\u00e9\", \"op\": \"eq\","
         " \"value\": \"cr\u00e8me \\\"br\u00fbl\u00e9e\\\"\"}", true},
        {"{\"field\": \"caf\u00e9\", \"op\": \"contains\", \"value\": \"\\\"\"}", true},
        {"{\"field\": \"cafe\", \"op\": \"exists\"}", false},
        {"{\"field\": \"empty\", \"op\": \"startsWith\", \"value\": \"\"}", true},
        {"{\"field\": \"str_num\", \"op\": \"startsWith\", \"value\": \"4\"}", true},
        {"{\"field\": \"score\", \"op\": \"startsWith\", \"value\": \"4\"}", false},
        {"{\"field\": \"tags\", \"op\": \"startsWith\", \"value\": \"a\"}", false},
        {"{\"field\": \"missing\", \"op\": \"startsWith\", \"value\": \"\"}", false},
        {"{\"field\": \"event.type\", \"op\": \"startsWith\", \"value\": \"level\"}", true},
    };
    RUN_FIXTURE(cases);
}

static void exists_true_and_false(void **state)
{
    (void)state;
    static const struct eval_case cases[] = {
        {"{\"field\": \"difficulty\", \"op\": \"exists\"}", true},
        {"{\"field\": \"difficulty\", \"op\": \"exists\", \"value\": true}", true},
        {"{\"field\": \"difficulty\", \"op\": \"exists\", \"value\": false}", false},
        {"{\"field\": \"off\", \"op\": \"exists\"}", true},
        {"{\"field\": \"empty\", \"op\": \"exists\"}", true},
        {"{\"field\": \"missing\", \"op\": \"exists\"}", false},
        {"{\"field\": \"missing\", \"op\": \"exists\", \"value\": false}", true},
        {"{\"field\": \"nothing\", \"op\": \"exists\"}", false},
        {"{\"field\": \"nothing\", \"op\": \"exists\", \"value\": false}", true},
        {"{\"field\": \"nested.level\", \"op\": \"exists\"}", true},
        {"{\"field\": \"nested.level.deep.x\", \"op\": \"exists\"}", false},
        {"{\"field\": \"nested.nope.deep\", \"op\": \"exists\"}", false},
        /* paths go through objects only, not into arrays */
        {"{\"field\": \"tags.0\", \"op\": \"exists\"}", false},
        {"{\"field\": \"user.attributes.plan\", \"op\": \"exists\"}", true},
        {"{\"field\": \"user.attributes.nope\", \"op\": \"exists\"}", false},
        {"{\"field\": \"event.type\", \"op\": \"exists\"}", true},
        {"{\"field\": \"event.occurredAt\", \"op\": \"exists\"}", true},
    };
    RUN_FIXTURE(cases);
}

/* Which object a field reads: bare and metadata.* read the metadata, user.attributes.* the
 * user's attributes, event.* the event. */
static void fields_name_metadata_attributes_and_event(void **state)
{
    (void)state;
    static const struct eval_case cases[] = {
        {"{\"field\": \"metadata.difficulty\", \"op\": \"eq\", \"value\": \"hard\"}", true},
        {"{\"field\": \"metadata.nested.level.deep\", \"op\": \"eq\", \"value\": 7}", true},
        {"{\"field\": \"user.attributes.plan\", \"op\": \"eq\", \"value\": \"pro\"}", true},
        {"{\"field\": \"plan\", \"op\": \"exists\"}", false},
        {"{\"field\": \"user.attributes.difficulty\", \"op\": \"exists\"}", false},
        {"{\"field\": \"event.type\", \"op\": \"eq\", \"value\": \"level_up\"}", true},
        {"{\"field\": \"event.type\", \"op\": \"eq\", \"value\": \"level\"}", false},
        {"{\"field\": \"event.type\", \"op\": \"in\", \"value\": [\"a\", \"level_up\"]}", true},
        {"{\"field\": \"event.type\", \"op\": \"contains\", \"value\": \"l_u\"}", true},
        {"{\"field\": \"event.occurredAt\", \"op\": \"eq\", \"value\": "
         "\"2023-11-14T22:13:20Z\"}",
         true},
        {"{\"field\": \"event.occurredAt\", \"op\": \"eq\", \"value\": "
         "\"2023-11-14T23:13:20.000+01:00\"}",
         true},
        {"{\"field\": \"event.occurredAt\", \"op\": \"eq\", \"value\": 1700000000000}", true},
        {"{\"field\": \"event.occurredAt\", \"op\": \"eq\", \"value\": 1700000000000.0}", true},
        {"{\"field\": \"event.occurredAt\", \"op\": \"neq\", \"value\": 1700000000001}", true},
        {"{\"field\": \"event.occurredAt\", \"op\": \"gt\", \"value\": "
         "\"2023-01-01T00:00:00Z\"}",
         true},
        {"{\"field\": \"event.occurredAt\", \"op\": \"lt\", \"value\": "
         "\"2023-01-01T00:00:00Z\"}",
         false},
        {"{\"field\": \"event.occurredAt\", \"op\": \"lt\", \"value\": "
         "\"2023-11-14T22:13:20.001Z\"}",
         true},
        {"{\"field\": \"event.occurredAt\", \"op\": \"gte\", \"value\": 1700000000000}", true},
        {"{\"field\": \"event.occurredAt\", \"op\": \"lte\", \"value\": 1699999999999}", false},
        {"{\"field\": \"event.occurredAt\", \"op\": \"in\", \"value\": "
         "[1, \"2023-11-14T22:13:20Z\"]}",
         true},
        {"{\"field\": \"event.occurredAt\", \"op\": \"nin\", \"value\": [1, 2]}", true},
    };
    RUN_FIXTURE(cases);
}

/* No metadata, no attributes, no type: everything is missing. */
static void missing_metadata_attributes_and_type(void **state)
{
    (void)state;
    static const struct eval_case cases[] = {
        {"{\"field\": \"difficulty\", \"op\": \"exists\"}", false},
        {"{\"field\": \"difficulty\", \"op\": \"eq\", \"value\": \"hard\"}", false},
        {"{\"field\": \"difficulty\", \"op\": \"neq\", \"value\": \"hard\"}", true},
        {"{\"field\": \"user.attributes.plan\", \"op\": \"nin\", \"value\": [\"pro\"]}", true},
        {"{\"field\": \"user.attributes.plan\", \"op\": \"in\", \"value\": [\"pro\"]}", false},
        {"{\"field\": \"event.type\", \"op\": \"exists\", \"value\": false}", true},
        {"{\"field\": \"event.type\", \"op\": \"neq\", \"value\": \"x\"}", true},
        {"{\"field\": \"event.occurredAt\", \"op\": \"eq\", \"value\": 0}", true},
    };
    struct cond_ctx ctx = {NULL, NULL, NULL, 0, NULL, NULL, 0};
    RUN(&ctx, cases);
}

#define T "{\"field\": \"score\", \"op\": \"eq\", \"value\": 42}"
#define F "{\"field\": \"score\", \"op\": \"eq\", \"value\": 0}"

static void all_any_not(void **state)
{
    (void)state;
    static const struct eval_case cases[] = {
        {"{\"all\": []}", true},
        {"{\"any\": []}", false},
        {"{\"not\": {\"all\": []}}", false},
        {"{\"not\": {\"any\": []}}", true},
        {"{\"all\": [" T "]}", true},
        {"{\"all\": [" T ", " T ", " T "]}", true},
        {"{\"all\": [" T ", " F "]}", false},
        {"{\"all\": [" F ", " T "]}", false},
        {"{\"any\": [" F ", " T "]}", true},
        {"{\"any\": [" T ", " F "]}", true},
        {"{\"any\": [" F ", " F "]}", false},
        {"{\"not\": " T "}", false},
        {"{\"not\": " F "}", true},
        {"{\"not\": {\"not\": " T "}}", true},
        /* siblings after a nested subtree are found at the right place */
        {"{\"all\": [{\"any\": [" F ", {\"all\": [" T ", " T "]}]}, " T "]}", true},
        {"{\"all\": [{\"any\": [" F ", {\"all\": [" T ", " T "]}]}, " F "]}", false},
        {"{\"any\": [{\"all\": [" T ", {\"not\": " T "}]}, {\"not\": " F "}]}", true},
        {"{\"any\": [{\"all\": [" T ", {\"not\": " T "}]}, {\"all\": [" F "]}]}", false},
        {"{\"all\": [{\"all\": []}, {\"any\": []}]}", false},
        {"{\"all\": [{\"all\": []}, {\"not\": {\"any\": []}}]}", true},
    };
    RUN_FIXTURE(cases);
}

/* {"not": {"not": ... leaf}}: `nots` combinators above one leaf. */
static json_t *nested_nots(int nots)
{
    json_t *j = unit_json(T);
    for (int i = 0; i < nots; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "not", j);
        j = o;
    }
    return j;
}

static void nesting_limit(void **state)
{
    (void)state;
    /* the root is at depth 1: 7 nots and the leaf make 8 levels */
    json_t *j = nested_nots(COND_MAX_DEPTH - 1);
    char err[256];
    struct cond *c = cond_compile(j, err, sizeof(err));
    assert_non_null(c);
    struct fixture f;
    fixture_init(&f);
    assert_false(cond_eval(c, &f.ctx)); /* an odd number of nots */
    fixture_release(&f);
    cond_free(c);
    json_decref(j);

    j = nested_nots(COND_MAX_DEPTH);
    expect_error_json(j, "not.not.not.not.not.not.not.not: nesting deeper than 8", "9 levels");
    json_decref(j);

    /* through all/any too */
    expect_error("{\"all\": [{\"any\": [{\"all\": [{\"any\": [{\"all\": [{\"any\": [{\"all\": "
                 "[{\"any\": [" T "]}]}]}]}]}]}]}]}",
                 "all[0].any[0].all[0].any[0].all[0].any[0].all[0].any[0]: nesting deeper than "
                 "8");
}

/* {"all": [leaf x n]}: n + 1 nodes. */
static json_t *wide(size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, unit_json(T));
    json_t *j = json_object();
    json_object_set_new(j, "all", list);
    return j;
}

static void node_limit(void **state)
{
    (void)state;
    json_t *j = wide(COND_MAX_NODES - 1);
    char err[256];
    struct cond *c = cond_compile(j, err, sizeof(err));
    assert_non_null(c);
    struct fixture f;
    fixture_init(&f);
    assert_true(cond_eval(c, &f.ctx));
    fixture_release(&f);
    cond_free(c);
    json_decref(j);

    j = wide(COND_MAX_NODES);
    expect_error_json(j, "all[255]: more than 256 nodes", "257 nodes");
    json_decref(j);
}

static void list_limit(void **state)
{
    (void)state;
    json_t *list = json_array();
    for (int i = 0; i < COND_MAX_LIST; i++)
        json_array_append_new(list, json_integer(i));
    json_t *j = json_pack("{s:s, s:s, s:o}", "field", "score", "op", "in", "value", list);
    char err[256];
    struct cond *c = cond_compile(j, err, sizeof(err));
    assert_non_null(c);
    struct fixture f;
    fixture_init(&f);
    assert_true(cond_eval(c, &f.ctx));
    fixture_release(&f);
    cond_free(c);
    json_array_append_new(list, json_integer(COND_MAX_LIST));
    expect_error_json(j, "value: more than 1000 values", "1001 values");
    json_decref(j);
}

struct error_case {
    const char *cond;
    const char *message;
};

static void every_compile_error_names_where(void **state)
{
    (void)state;
    static const struct error_case cases[] = {
        {"5", "must be an object"},
        {"[]", "must be an object"},
        {"null", "must be an object"},
        {"{}", "must have one of all, any, not or field"},
        {"{\"all\": 5}", "all: must be an array"},
        {"{\"any\": {}}", "any: must be an array"},
        {"{\"all\": null}", "all: must be an array"},
        {"{\"not\": 5}", "not: must be an object"},
        {"{\"not\": []}", "not: must be an object"},
        {"{\"all\": [], \"any\": []}", "all and any cannot be combined in one node"},
        {"{\"any\": [], \"not\": {}}", "any and not cannot be combined in one node"},
        {"{\"all\": [], \"field\": \"x\"}", "unknown key \"field\" beside all"},
        {"{\"all\": [5]}", "all[0]: must be an object"},
        {"{\"all\": [" T ", {\"field\": \"a\", \"op\": \"like\", \"value\": 1}]}",
         "all[1].op: unknown operator \"like\""},
        {"{\"any\": [{\"all\": [{\"not\": {\"field\": \"x\", \"op\": \"gt\", \"value\": "
         "\"a\"}}]}]}",
         "any[0].all[0].not.value: gt needs a number"},
        {"{\"field\": \"\", \"op\": \"eq\", \"value\": 1}", "field: must be a non-empty string"},
        {"{\"field\": 3, \"op\": \"eq\", \"value\": 1}", "field: must be a non-empty string"},
        {"{\"field\": null, \"op\": \"eq\", \"value\": 1}", "field: must be a non-empty string"},
        {"{\"op\": \"eq\", \"value\": 1}", "field: is required"},
        {"{\"field\": \"a\"}", "op: is required"},
        {"{\"field\": \"a\", \"op\": 1, \"value\": 1}", "op: must be a string"},
        {"{\"field\": \"a\", \"op\": \"EQ\", \"value\": 1}", "op: unknown operator \"EQ\""},
        {"{\"field\": \"a\", \"op\": \"eq\"}", "value: is required"},
        {"{\"field\": \"a\", \"op\": \"contains\"}", "value: is required"},
        {"{\"field\": \"a\", \"op\": \"eq\", \"value\": 1, \"extra\": 2}", "unknown key \"extra\""},
        {"{\"foo\": 1}", "unknown key \"foo\""},
        {"{\"field\": \"a\", \"equals\": 1, \"op\": \"eq\"}", "equals cannot be combined with op"},
        {"{\"field\": \"a\", \"equals\": 1, \"value\": 1}", "equals cannot be combined with value"},
        {"{\"field\": \"a\", \"op\": \"gt\", \"value\": \"5\"}", "value: gt needs a number"},
        {"{\"field\": \"a\", \"op\": \"gte\", \"value\": null}", "value: gte needs a number"},
        {"{\"field\": \"a\", \"op\": \"lt\", \"value\": [1]}", "value: lt needs a number"},
        {"{\"field\": \"a\", \"op\": \"lte\", \"value\": true}", "value: lte needs a number"},
        {"{\"field\": \"a\", \"op\": \"in\", \"value\": \"x\"}", "value: in needs an array"},
        {"{\"field\": \"a\", \"op\": \"nin\", \"value\": 1}", "value: nin needs an array"},
        {"{\"field\": \"a\", \"op\": \"startsWith\", \"value\": 1}",
         "value: startsWith needs a string"},
        {"{\"field\": \"a\", \"op\": \"exists\", \"value\": 1}",
         "value: exists takes true or false"},
        {"{\"field\": \"a\", \"op\": \"exists\", \"value\": null}",
         "value: exists takes true or false"},
        {"{\"field\": \"a..b\", \"op\": \"exists\"}", "field: empty key in path"},
        {"{\"field\": \"a.\", \"op\": \"exists\"}", "field: empty key in path"},
        {"{\"field\": \".a\", \"op\": \"exists\"}", "field: empty key in path"},
        {"{\"field\": \"metadata.\", \"op\": \"exists\"}", "field: empty key in path"},
        {"{\"field\": \"a.b.c.d.e.f.g.h.i\", \"op\": \"exists\"}",
         "field: more than 8 keys in path"},
        {"{\"field\": \"metadata.a.b.c.d.e.f.g.h.i\", \"op\": \"exists\"}",
         "field: more than 8 keys in path"},
        {"{\"field\": \"metadata\", \"op\": \"exists\"}",
         "field: metadata needs a key after it, as in \"metadata.score\""},
        {"{\"field\": \"user.attributes\", \"op\": \"exists\"}",
         "field: user.attributes needs a key after it, as in \"user.attributes.score\""},
        {"{\"field\": \"event.userId\", \"op\": \"exists\"}",
         "field: the event's fields are event.type and event.occurredAt (a metadata key named "
         "event is metadata.event)"},
        {"{\"field\": \"user.level\", \"op\": \"exists\"}",
         "field: the user's fields are user.attributes.<path> (a metadata key named user is "
         "metadata.user)"},
        {"{\"field\": \"event.occurredAt\", \"op\": \"gt\", \"value\": \"yesterday\"}",
         "value: must be an ISO 8601 date-time or Unix ms"},
        {"{\"field\": \"event.occurredAt\", \"op\": \"eq\", \"value\": true}",
         "value: must be an ISO 8601 date-time or Unix ms"},
        {"{\"field\": \"event.occurredAt\", \"equals\": \"2023-02-30T00:00:00Z\"}",
         "equals: must be an ISO 8601 date-time or Unix ms"},
        {"{\"field\": \"event.occurredAt\", \"op\": \"in\", \"value\": [1, \"x\"]}",
         "value[1]: must be an ISO 8601 date-time or Unix ms"},
        {"{\"field\": \"event.occurredAt\", \"op\": \"contains\", \"value\": \"2023\"}",
         "op: contains does not apply to event.occurredAt"},
        {"{\"field\": \"event.occurredAt\", \"op\": \"startsWith\", \"value\": \"2023\"}",
         "op: startsWith does not apply to event.occurredAt"},
        {"{\"field\": \"event.type\", \"op\": \"gt\", \"value\": 1}",
         "op: gt does not apply to event.type"},
        {"{\"not\": {\"field\": \"a\", \"equals\": 1, \"foo\": 2}}", "not: unknown key \"foo\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_error(cases[i].cond, cases[i].message);
}

/* A message longer than the caller's buffer is cut, still terminated. */
static void long_error_is_cut_and_terminated(void **state)
{
    (void)state;
    json_t *j = unit_json("{\"all\": [{\"field\": \"a\", \"op\": \"like\", \"value\": 1}]}");
    char err[8];
    memset(err, 'x', sizeof(err));
    assert_null(cond_compile(j, err, sizeof(err)));
    assert_string_equal(err, "all[0].");
    json_decref(j);
}

static void path_parse(void **state)
{
    (void)state;
    struct cond_path p;
    char err[200];
    assert_int_equal(cond_path_parse("score.total", &p, err, sizeof(err)), 0);
    assert_int_equal(p.source, COND_SRC_METADATA);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.seg[0], "score");
    assert_int_equal(p.len[0], 5);
    assert_string_equal(p.seg[1], "total");
    assert_string_equal(p.text, "score.total");
    assert_int_equal(p.text_len, 11);
    /* the same path written either way has the same key; another source another */
    struct cond_path q;
    assert_int_equal(cond_path_parse("metadata.score.total", &q, err, sizeof(err)), 0);
    assert_int_equal(q.hash, p.hash);
    assert_string_equal(q.text, "score.total");
    cond_path_release(&q);
    assert_int_equal(cond_path_parse("user.attributes.score.total", &q, err, sizeof(err)), 0);
    assert_int_not_equal(q.hash, p.hash);
    cond_path_release(&q);
    cond_path_release(&p);
    assert_int_equal(p.n, 0);
    assert_null(p.text);

    assert_int_equal(cond_path_parse("metadata.a", &p, err, sizeof(err)), 0);
    assert_int_equal(p.source, COND_SRC_METADATA);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.seg[0], "a");
    cond_path_release(&p);

    assert_int_equal(cond_path_parse("metadata.event.type", &p, err, sizeof(err)), 0);
    assert_int_equal(p.source, COND_SRC_METADATA);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.seg[0], "event");
    cond_path_release(&p);

    assert_int_equal(cond_path_parse("user.attributes.a.b.c.d.e.f.g.h", &p, err, sizeof(err)), 0);
    assert_int_equal(p.source, COND_SRC_ATTRIBUTES);
    assert_int_equal(p.n, COND_MAX_PATH);
    assert_string_equal(p.seg[7], "h");
    cond_path_release(&p);

    assert_int_equal(cond_path_parse("event.type", &p, err, sizeof(err)), 0);
    assert_int_equal(p.source, COND_SRC_EVENT_TYPE);
    assert_int_equal(p.n, 0);
    assert_int_equal(cond_path_parse("event.occurredAt", &p, err, sizeof(err)), 0);
    assert_int_equal(p.source, COND_SRC_OCCURRED_AT);

    /* a refusal leaves nothing to release */
    assert_int_equal(cond_path_parse("a.b.c.d.e.f.g.h.i", &p, err, sizeof(err)), -1);
    assert_string_equal(err, "more than 8 keys in path");
    assert_int_equal(p.n, 0);
    assert_int_equal(cond_path_parse("", &p, err, sizeof(err)), -1);
    assert_string_equal(err, "must be a non-empty string");
}

/* Metadata with more top-level members than the memo indexes per event: those past them are
 * found by a scan of the text, and a key that is not there is missing either way. */
static void many_members_in_the_metadata(void **state)
{
    (void)state;
    json_t *m = json_object();
    for (int i = 0; i < 40; i++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", i);
        json_object_set_new(m, k, json_integer(i));
    }
    json_object_set_new(m, "last", json_pack("{s:[s,i]}", "inner", "x", 2));
    struct cond_ctx ctx = {m, NULL, "t", 0, NULL, NULL, 0};
    static const struct eval_case cases[] = {
        {"{\"field\": \"k0\", \"op\": \"eq\", \"value\": 0}", true},
        {"{\"field\": \"k31\", \"op\": \"eq\", \"value\": 31}", true},
        {"{\"field\": \"k32\", \"op\": \"eq\", \"value\": 32}", true},
        {"{\"field\": \"k39\", \"op\": \"gte\", \"value\": 39}", true},
        {"{\"field\": \"k5\", \"op\": \"eq\", \"value\": 6}", false},
        {"{\"field\": \"last.inner\", \"op\": \"contains\", \"value\": \"x\"}", true},
        {"{\"field\": \"last.inner\", \"op\": \"eq\", \"value\": [\"x\", 2]}", true},
        {"{\"field\": \"last.none\", \"op\": \"exists\"}", false},
        {"{\"field\": \"k40\", \"op\": \"exists\"}", false},
    };
    RUN(&ctx, cases);
    json_decref(m);
}

/* Metadata text as clients write it, not as jansson prints it: exponents, -0, trailing zeros,
 * escapes where none are needed, an array holding an escaped string (decoded, not typed in
 * place) and one longer than the memo's pool. The text read in place gives what the same text
 * parsed into a tree gives. */
static void metadata_text_as_clients_write_it(void **state)
{
    (void)state;
    struct buf text = BUF_INIT;
    buf_puts(&text, "{ \"a\" : 1E2 , \"b\":-0, \"c\":1.50, \"\\u0064\":\"\\u0061\","
                    " \"e\":[1.0, \"\\u00e9\", \"q\\\"x\"], \"long\":[");
    for (int i = 0; i < 300; i++)
        buf_printf(&text, "%s%d", i ? "," : "", i);
    buf_puts(&text, "] }");
    json_t *tree = unit_json(text.data);
    struct cond_ctx as_tree = {tree, NULL, "t", 0, NULL, NULL, 0};
    struct cond_ctx as_text = {NULL, NULL, "t", 0, NULL, text.data, text.len};
    static const struct eval_case cases[] = {
        {"{\"field\": \"a\", \"op\": \"eq\", \"value\": 100}", true},
        {"{\"field\": \"a\", \"op\": \"gt\", \"value\": 99.5}", true},
        {"{\"field\": \"b\", \"op\": \"eq\", \"value\": 0}", true},
        {"{\"field\": \"c\", \"op\": \"eq\", \"value\": 1.5}", true},
        {"{\"field\": \"d\", \"op\": \"eq\", \"value\": \"a\"}", true},
        {"{\"field\": \"e\", \"op\": \"contains\", \"value\": \"\u00e9\"}", true},
        {"{\"field\": \"e\", \"op\": \"contains\", \"value\": \"q\\\"x\"}", true},
        {"{\"field\": \"e\", \"op\": \"contains\", \"value\": 1}", true},
        {"{\"field\": \"e\", \"op\": \"eq\", \"value\": [1, \"\u00e9\", \"q\\\"x\"]}", true},
        {"{\"field\": \"long\", \"op\": \"contains\", \"value\": 299}", true},
        {"{\"field\": \"long\", \"op\": \"contains\", \"value\": 300}", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_one(&as_tree, "tree", &cases[i]);
        run_one(&as_text, "client text", &cases[i]);
    }
    json_decref(tree);
    buf_release(&text);
}

/* The value of p in ctx as a number (NaN when it is none). */
static double number_at(const struct cond_path *p, const struct cond_ctx *ctx)
{
    struct cond_value v;
    cond_path_value(p, ctx, &v);
    return v.type == COND_V_NUMBER ? v.number : NAN;
}

static enum cond_value_type type_at(const struct cond_path *p, const struct cond_ctx *ctx)
{
    struct cond_value v;
    cond_path_value(p, ctx, &v);
    return v.type;
}

static void path_get(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    char *text = json_dumps(f.ctx.metadata, JSON_COMPACT | JSON_ENSURE_ASCII);
    struct cond_ctx as_text = f.ctx;
    as_text.metadata = NULL;
    as_text.metadata_text = text;
    as_text.metadata_len = strlen(text);
    const struct cond_ctx *ctxs[] = { &f.ctx, &as_text };
    for (size_t i = 0; i < 2; i++) {
        const struct cond_ctx *ctx = ctxs[i];
        struct cond_path p;
        char err[200];
        assert_int_equal(cond_path_parse("nested.level.deep", &p, err, sizeof(err)), 0);
        assert_true(number_at(&p, ctx) == 7);
        cond_path_release(&p);

        assert_int_equal(cond_path_parse("user.attributes.age", &p, err, sizeof(err)), 0);
        assert_true(number_at(&p, ctx) == 30);
        cond_path_release(&p);

        assert_int_equal(cond_path_parse("score.x", &p, err, sizeof(err)), 0);
        assert_int_equal(type_at(&p, ctx), COND_V_MISSING);
        cond_path_release(&p);

        assert_int_equal(cond_path_parse("nested", &p, err, sizeof(err)), 0);
        assert_int_equal(type_at(&p, ctx), COND_V_OTHER);
        cond_path_release(&p);

        assert_int_equal(cond_path_parse("event.type", &p, err, sizeof(err)), 0);
        assert_int_equal(type_at(&p, ctx), COND_V_MISSING);

        struct cond_ctx none = {NULL, NULL, NULL, 0, NULL, NULL, 0};
        assert_int_equal(cond_path_parse("score", &p, err, sizeof(err)), 0);
        assert_int_equal(type_at(&p, &none), COND_V_MISSING);
        cond_path_release(&p);
    }
    free(text);
    fixture_release(&f);
}

/* Evaluation only reads: the same condition answers the same on many events, and freeing a
 * NULL condition is a no-op. */
static void evaluation_only_reads(void **state)
{
    (void)state;
    struct cond *c = compile_ok("{\"all\": [{\"field\": \"score\", \"op\": \"gte\", \"value\": "
                                "10}, {\"field\": \"tags\", \"op\": \"contains\", \"value\": "
                                "\"a\"}]}");
    struct fixture f;
    fixture_init(&f);
    for (int i = 0; i < 100; i++) {
        json_object_set_new(f.metadata, "score", json_integer(i));
        assert_int_equal(cond_eval(c, &f.ctx), i >= 10);
    }
    fixture_release(&f);
    cond_free(c);
    cond_free(NULL);
}

/* The memo answers for the ctx it was begun with, and only while that ctx is unchanged. */
static void memo_follows_its_ctx(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct cond *hard = compile_ok("{\"field\": \"difficulty\", \"equals\": \"hard\"}");
    struct cond *pro = compile_ok("{\"field\": \"user.attributes.plan\", \"equals\": \"pro\"}");
    json_t *easy = unit_json("{\"difficulty\": \"easy\"}");
    json_t *free_plan = unit_json("{\"plan\": \"free\"}");

    cond_memo_begin(&f.ctx);
    assert_true(cond_eval(hard, &f.ctx));
    assert_true(cond_eval(pro, &f.ctx));
    /* another ctx is evaluated without the memo */
    struct cond_ctx other = f.ctx;
    other.metadata = easy;
    assert_false(cond_eval(hard, &other));
    /* the memo's own ctx, changed: the memo is off */
    f.ctx.metadata = easy;
    assert_false(cond_eval(hard, &f.ctx));
    f.ctx.metadata = f.metadata;
    f.ctx.attributes = free_plan;
    assert_false(cond_eval(pro, &f.ctx));
    f.ctx.attributes = f.attributes;
    f.ctx.event_type = "other";
    assert_true(cond_eval(hard, &f.ctx));
    cond_memo_end();

    /* a new event: nothing of the last one is remembered */
    f.ctx.metadata = easy;
    cond_memo_begin(&f.ctx);
    assert_false(cond_eval(hard, &f.ctx));
    cond_memo_end();
    f.ctx.metadata = f.metadata;
    cond_memo_begin(&f.ctx);
    assert_true(cond_eval(hard, &f.ctx));
    cond_memo_end();

    /* after the end, a change inside the JSON is seen */
    json_object_set_new(f.metadata, "difficulty", json_string("easy"));
    assert_false(cond_eval(hard, &f.ctx));

    /* the same with the metadata as text: another text, or the same cut shorter, turns the
     * memo off */
    static const char hard_text[] = "{\"difficulty\":\"hard\"}{\"difficulty\":\"easy\"}";
    struct cond_ctx t = f.ctx;
    t.metadata = NULL;
    t.metadata_text = hard_text;
    t.metadata_len = 21;
    cond_memo_begin(&t);
    assert_true(cond_eval(hard, &t));
    t.metadata_text = hard_text + 21;
    assert_false(cond_eval(hard, &t));
    t.metadata_text = hard_text;
    assert_true(cond_eval(hard, &t));
    t.metadata_len = 10; /* "{\"difficul": no such member */
    assert_false(cond_eval(hard, &t));
    cond_memo_end();

    json_decref(easy);
    json_decref(free_plan);
    cond_free(hard);
    cond_free(pro);
    fixture_release(&f);
}

/* More distinct fields than the memo has slots, and paths too long for a slot: the answers
 * are still right. */
static void memo_overflow_and_long_paths(void **state)
{
    (void)state;
    json_t *meta = json_object();
    json_t *all = json_array();
    for (int i = 0; i < 200; i++) {
        char key[32];
        snprintf(key, sizeof(key), "field%d", i);
        if (i % 2 == 0)
            json_object_set_new(meta, key, json_integer(i));
        json_array_append_new(
            all, json_pack("{s:s, s:s, s:b}", "field", key, "op", "exists", "value", i % 2 == 0));
    }
    const char *long_key = "a_key_that_is_much_longer_than_any_memo_slot_could_hold";
    json_object_set_new(meta, long_key, json_pack("{s:i}", "inner", 5));
    char long_path[128];
    snprintf(long_path, sizeof(long_path), "%s.inner", long_key);
    json_array_append_new(all,
                          json_pack("{s:s, s:s, s:i}", "field", long_path, "op", "eq", "value", 5));
    json_t *j = json_pack("{s:o}", "all", all);
    char err[256];
    struct cond *c = cond_compile(j, err, sizeof(err));
    assert_non_null(c);
    struct cond_ctx ctx = {meta, NULL, "t", 0, NULL, NULL, 0};
    assert_true(cond_eval(c, &ctx));
    for (int round = 0; round < 3; round++) {
        cond_memo_begin(&ctx);
        assert_true(cond_eval(c, &ctx));
        assert_true(cond_eval(c, &ctx));
        cond_memo_end();
    }
    /* one field wrong: found false with and without the memo */
    json_object_set_new(meta, "field199", json_true());
    assert_false(cond_eval(c, &ctx));
    cond_memo_begin(&ctx);
    assert_false(cond_eval(c, &ctx));
    cond_memo_end();
    cond_free(c);
    json_decref(j);
    json_decref(meta);
}

/* cond_path_value answers from the memo for its ctx too, missing fields included. */
static void path_get_with_memo(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct cond_path p, q;
    char err[200];
    assert_int_equal(cond_path_parse("metadata.nested.level.deep", &p, err, sizeof(err)), 0);
    assert_int_equal(cond_path_parse("nested.level.none", &q, err, sizeof(err)), 0);
    cond_memo_begin(&f.ctx);
    for (int i = 0; i < 2; i++) {
        assert_true(number_at(&p, &f.ctx) == 7);
        assert_int_equal(type_at(&q, &f.ctx), COND_V_MISSING);
    }
    cond_memo_end();
    cond_path_release(&p);
    cond_path_release(&q);
    fixture_release(&f);
}

/* A table numbers each distinct path once, whatever the spelling ("difficulty" and
 * "metadata.difficulty" are one path; "plan" in metadata and in the user's attributes are
 * two), and only metadata and attribute paths. */
static void fields_numbers_each_path_once(void **state)
{
    (void)state;
    struct cond_fields *f = cond_fields_new();
    struct cond *a = compile_ok("{\"all\": [{\"field\": \"difficulty\", \"equals\": \"hard\"}, "
                                "{\"field\": \"score\", \"op\": \"gt\", \"value\": 1}]}");
    struct cond *b =
        compile_ok("{\"any\": [{\"field\": \"metadata.difficulty\", \"equals\": \"easy\"}, "
                   "{\"field\": \"user.attributes.plan\", \"equals\": \"pro\"}, "
                   "{\"not\": {\"field\": \"plan\", \"op\": \"exists\"}}, "
                   "{\"field\": \"event.type\", \"equals\": \"x\"}, "
                   "{\"field\": \"event.occurredAt\", \"op\": \"gt\", \"value\": 0}, "
                   "{\"field\": \"score\", \"op\": \"lt\", \"value\": 0}]}");
    assert_int_equal(cond_fields_count(f), 0);
    assert_int_equal(cond_fields_bind(f, a), 0);
    assert_int_equal(cond_fields_count(f), 2);
    assert_int_equal(cond_fields_bind(f, b), 0);
    assert_int_equal(cond_fields_count(f), 4);   /* + user.attributes.plan, metadata plan */
    assert_int_equal(cond_fields_bind(f, b), 0); /* again: nothing new */
    assert_int_equal(cond_fields_count(f), 4);
    cond_fields_clear(f);
    assert_int_equal(cond_fields_count(f), 0);
    assert_int_equal(cond_fields_bind(f, b), 0);
    assert_int_equal(cond_fields_count(f), 4); /* difficulty, plan (both), score */
    cond_free(a);
    cond_free(b);
    cond_fields_free(f);
    cond_fields_free(NULL);
}

/* Two tables number the same paths in another order. A condition bound to one table and
 * evaluated while the memo is open for the other, or after its table was cleared, reads its
 * fields by path: reading by number there would read the other path's value. */
static void fields_numbers_belong_to_their_table(void **state)
{
    (void)state;
    json_t *meta = unit_json("{\"x\": 1, \"y\": 2}");
    struct cond_fields *fa = cond_fields_new(), *fb = cond_fields_new();
    struct cond *xy = compile_ok("{\"all\": [{\"field\": \"x\", \"equals\": 1}, "
                                 "{\"field\": \"y\", \"equals\": 2}]}");
    struct cond *yx = compile_ok("{\"all\": [{\"field\": \"y\", \"equals\": 2}, "
                                 "{\"field\": \"x\", \"equals\": 1}]}");
    cond_fields_bind(fa, xy); /* in fa: x 0, y 1 */
    cond_fields_bind(fb, yx); /* in fb: y 0, x 1 */
    struct cond_ctx ca = {meta, NULL, "t", 0, fa, NULL, 0}, cb = {meta, NULL, "t", 0, fb, NULL, 0};
    for (int round = 0; round < 2; round++) {
        cond_memo_begin(&ca);
        assert_true(cond_eval(xy, &ca));
        assert_true(cond_eval(yx, &ca));
        cond_memo_end();
        cond_memo_begin(&cb);
        assert_true(cond_eval(yx, &cb));
        assert_true(cond_eval(xy, &cb));
        cond_memo_end();
    }
    /* fa cleared, then yx bound to it: y is 0 in fa now, and xy is no longer bound */
    cond_fields_clear(fa);
    cond_fields_bind(fa, yx);
    cond_memo_begin(&ca);
    assert_true(cond_eval(yx, &ca));
    assert_true(cond_eval(xy, &ca));
    cond_memo_end();
    /* bound again to fa, xy takes fa's numbers: x 1, y 0 */
    cond_fields_bind(fa, xy);
    assert_int_equal(cond_fields_count(fa), 2);
    cond_memo_begin(&ca);
    assert_true(cond_eval(xy, &ca));
    cond_memo_end();
    /* a changed value is seen in the next event */
    json_object_set_new(meta, "x", json_integer(3));
    cond_memo_begin(&ca);
    assert_false(cond_eval(xy, &ca));
    assert_false(cond_eval(yx, &ca));
    cond_memo_end();
    cond_free(xy);
    cond_free(yx);
    cond_fields_free(fa);
    cond_fields_free(fb);
    json_decref(meta);
}

/* {"all": [exists for keys f<from>..f<to-1>]} where the even ones must exist, the odd ones
 * not. */
static struct cond *exists_all(int from, int to)
{
    json_t *all = json_array();
    for (int i = from; i < to; i++) {
        char key[32];
        snprintf(key, sizeof(key), "f%d", i);
        json_array_append_new(
            all, json_pack("{s:s, s:s, s:b}", "field", key, "op", "exists", "value", i % 2 == 0));
    }
    json_t *j = json_pack("{s:o}", "all", all);
    char err[256];
    struct cond *c = cond_compile(j, err, sizeof(err));
    json_decref(j);
    assert_non_null(c);
    return c;
}

/* A full table numbers no more paths; the leaves left out read their fields by path, with
 * the same answers. */
static void fields_table_full(void **state)
{
    (void)state;
    json_t *meta = json_object();
    for (int i = 0; i < 400; i += 2) {
        char key[32];
        snprintf(key, sizeof(key), "f%d", i);
        json_object_set_new(meta, key, json_integer(i));
    }
    struct cond_fields *f = cond_fields_new();
    struct cond *a = exists_all(0, 200), *b = exists_all(200, 400);
    assert_int_equal(cond_fields_bind(f, a), 0);
    assert_int_equal(cond_fields_bind(f, b), 400 - COND_FIELDS_MAX);
    assert_int_equal(cond_fields_count(f), COND_FIELDS_MAX);
    struct cond_ctx ctx = {meta, NULL, "t", 0, f, NULL, 0};
    for (int round = 0; round < 2; round++) {
        cond_memo_begin(&ctx);
        assert_true(cond_eval(a, &ctx));
        assert_true(cond_eval(b, &ctx));
        cond_memo_end();
    }
    /* one numbered field and one left out, wrong: false */
    json_object_set_new(meta, "f1", json_true());
    cond_memo_begin(&ctx);
    assert_false(cond_eval(a, &ctx));
    assert_true(cond_eval(b, &ctx));
    cond_memo_end();
    json_object_del(meta, "f1");
    json_object_set_new(meta, "f399", json_true());
    cond_memo_begin(&ctx);
    assert_true(cond_eval(a, &ctx));
    assert_false(cond_eval(b, &ctx));
    cond_memo_end();
    cond_free(a);
    cond_free(b);
    cond_fields_free(f);
    json_decref(meta);
}

/* The memo types an array's elements once per event while it has room for them; arrays past
 * that, and elements of every JSON type, give the same answers as without the memo. */
static void contains_on_long_and_mixed_arrays(void **state)
{
    (void)state;
    json_t *meta = unit_json("{\"mixed\": [1, \"1\", 2.5, null, true, [1, 2], {\"a\": 1}]}");
    json_t *first = json_array(), *second = json_array();
    for (int i = 0; i < 200; i++)
        json_array_append_new(first, json_sprintf("s%d", i));
    for (int i = 0; i < 100; i++)
        json_array_append_new(second, json_sprintf("t%d", i));
    json_object_set_new(meta, "first", first);   /* typed */
    json_object_set_new(meta, "second", second); /* past the room left: not typed */
    static const struct eval_case cases[] = {
        {"{\"field\": \"first\", \"op\": \"contains\", \"value\": \"s199\"}", true},
        {"{\"field\": \"first\", \"op\": \"contains\", \"value\": \"s200\"}", false},
        {"{\"field\": \"second\", \"op\": \"contains\", \"value\": \"t99\"}", true},
        {"{\"field\": \"second\", \"op\": \"contains\", \"value\": \"s1\"}", false},
        {"{\"field\": \"mixed\", \"op\": \"contains\", \"value\": \"1\"}", true},
        {"{\"field\": \"mixed\", \"op\": \"contains\", \"value\": 1.0}", true},
        {"{\"field\": \"mixed\", \"op\": \"contains\", \"value\": 2.5}", true},
        {"{\"field\": \"mixed\", \"op\": \"contains\", \"value\": 2}", false},
        {"{\"field\": \"mixed\", \"op\": \"contains\", \"value\": null}", true},
        {"{\"field\": \"mixed\", \"op\": \"contains\", \"value\": false}", false},
        {"{\"field\": \"mixed\", \"op\": \"contains\", \"value\": [1, 2.0]}", true},
        {"{\"field\": \"mixed\", \"op\": \"contains\", \"value\": {\"a\": 1}}", true},
        {"{\"field\": \"mixed\", \"op\": \"contains\", \"value\": {\"a\": 2}}", false},
    };
    struct cond_ctx ctx = {meta, NULL, "t", 0, NULL, NULL, 0};
    /* Every case reads first and second in the same event, in that order, so that second
     * finds the pool short of room. */
    struct cond_fields *f = cond_fields_new();
    struct cond *fill = compile_ok("{\"all\": [{\"field\": \"first\", \"op\": \"exists\"}, "
                                   "{\"field\": \"second\", \"op\": \"exists\"}]}");
    cond_fields_bind(f, fill);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cond *c = compile_ok(cases[i].cond);
        cond_fields_bind(f, c);
        bool plain = cond_eval(c, &ctx);
        ctx.fields = NULL;
        cond_memo_begin(&ctx);
        assert_true(cond_eval(fill, &ctx));
        bool by_path = cond_eval(c, &ctx);
        cond_memo_end();
        ctx.fields = f;
        cond_memo_begin(&ctx);
        assert_true(cond_eval(fill, &ctx));
        bool by_number = cond_eval(c, &ctx);
        cond_memo_end();
        ctx.fields = NULL;
        cond_free(c);
        if (plain != cases[i].want || by_path != plain || by_number != plain)
            fail_msg("%s: want %s, got %s, %s by path, %s by number", cases[i].cond,
                     tf(cases[i].want), tf(plain), tf(by_path), tf(by_number));
    }
    cond_free(fill);
    cond_fields_free(f);
    json_decref(meta);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(eq_is_strict_json_equality),
    cmocka_unit_test(neq_is_the_negation_of_eq),
    cmocka_unit_test(numeric_comparisons_need_numbers),
    cmocka_unit_test(in_and_nin_lists),
    cmocka_unit_test(contains_substrings_and_elements),
    cmocka_unit_test(starts_with_strings_only),
    cmocka_unit_test(exists_true_and_false),
    cmocka_unit_test(fields_name_metadata_attributes_and_event),
    cmocka_unit_test(missing_metadata_attributes_and_type),
    cmocka_unit_test(all_any_not),
    cmocka_unit_test(nesting_limit),
    cmocka_unit_test(node_limit),
    cmocka_unit_test(list_limit),
    cmocka_unit_test(every_compile_error_names_where),
    cmocka_unit_test(long_error_is_cut_and_terminated),
    cmocka_unit_test(path_parse),
    cmocka_unit_test(path_get),
    cmocka_unit_test(many_members_in_the_metadata),
    cmocka_unit_test(metadata_text_as_clients_write_it),
    cmocka_unit_test(evaluation_only_reads),
    cmocka_unit_test(memo_follows_its_ctx),
    cmocka_unit_test(memo_overflow_and_long_paths),
    cmocka_unit_test(path_get_with_memo),
    cmocka_unit_test(fields_numbers_each_path_once),
    cmocka_unit_test(fields_numbers_belong_to_their_table),
    cmocka_unit_test(fields_table_full),
    cmocka_unit_test(contains_on_long_and_mixed_arrays),
};

UNIT_MAIN(tests)
