/* Unit tests for src/engine/event.c: what POST /events accepts, what it refuses and with which
 * field messages, and what the engine receives (owned copies, UTC milliseconds, metadata as
 * compact JSON or NULL). */
#include "unit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "engine/event.h"

#define APP "demo"
/* 2023-11-14T22:13:20.000Z */
#define NOW 1700000000000LL

static const struct json_limits limits = {32, 100000};

/* What POST /events does with a body: the event read straight from the text of j. */
static int event_parse(const json_t *j, const char *app, int64_t now, struct event *ev,
                       struct event_problem *p)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    char err[200];
    int rc = event_read(text, strlen(text), &limits, app, now, ev, p, err, sizeof(err));
    if (rc == -2)
        fail_msg("the reader refused JSON that jansson wrote (%s): %s", err, text);
    free(text);
    return rc;
}

static json_t *parse_json(const char *text)
{
    char err[200];
    json_t *j = json_parse_strict(text, strlen(text), &limits, err, sizeof(err));
    if (!j)
        fail_msg("test JSON does not parse: %s: %s", err, text);
    return j;
}

/* Parses `text` as an event of APP received at NOW; expects success. */
static void parse_ok(const char *text, struct event *ev)
{
    json_t *j = parse_json(text);
    struct event_problem p;
    int rc = event_parse(j, APP, NOW, ev, &p);
    if (rc != 0) {
        char *d = p.details ? json_dumps(p.details, JSON_COMPACT) : NULL;
        fail_msg("event refused (%d %s %s): %s", p.status, p.code, d ? d : "", text);
    }
    assert_null(p.details);
    json_decref(j);
}

static bool all_zero(const struct event *ev)
{
    static const struct event zero;
    return memcmp(ev, &zero, sizeof(zero)) == 0;
}

/* Expects a 400 whose details name exactly `fields` (n of them); returns the details' text
 * for further checks (caller releases p). `out` must come back empty. */
static void parse_bad_json(const json_t *j, const char *const *fields, size_t n,
                           struct event_problem *p)
{
    struct event ev;
    memset(&ev, 0x5a, sizeof(ev));
    assert_int_equal(event_parse(j, APP, NOW, &ev, p), -1);
    assert_true(all_zero(&ev));
    assert_int_equal(p->status, 400);
    assert_string_equal(p->code, "validation_failed");
    assert_string_equal(p->message, "Validation failed");
    assert_non_null(p->details);
    assert_true(json_is_object(p->details));
    for (size_t i = 0; i < n; i++) {
        if (!json_is_string(json_object_get(p->details, fields[i]))) {
            char *d = json_dumps(p->details, JSON_COMPACT);
            fail_msg("details %s do not name %s", d, fields[i]);
        }
    }
    if (json_object_size(p->details) != n) {
        char *d = json_dumps(p->details, JSON_COMPACT);
        fail_msg("details %s: want exactly %zu fields", d, n);
    }
}

static void parse_bad(const char *text, const char *const *fields, size_t n,
                      struct event_problem *p)
{
    json_t *j = parse_json(text);
    parse_bad_json(j, fields, n, p);
    json_decref(j);
}

/* Expects a 400 naming only `field`, with `message`. */
static void expect_field_error(const char *text, const char *field, const char *message)
{
    struct event_problem p;
    const char *fields[] = {field};
    parse_bad(text, fields, 1, &p);
    const char *got = json_string_value(json_object_get(p.details, field));
    if (strcmp(got, message) != 0)
        fail_msg("%s: %s: got \"%s\", want \"%s\"", text, field, got, message);
    event_problem_release(&p);
}

/* A valid event whose `field` is the JSON value `value` (other fields fixed). */
static char *event_with(const char *field, const char *value)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s}", "appId", APP, "userId", "u-1", "eventType", "level_up");
    json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
    if (!v)
        fail_msg("bad test value %s", value);
    json_object_set_new(o, field, v);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* A JSON string literal of `n` copies of the UTF-8 text `unit`. */
static char *repeat_literal(const char *unit, size_t n)
{
    size_t ul = strlen(unit);
    char *s = malloc(n * ul + 3);
    s[0] = '"';
    for (size_t i = 0; i < n; i++)
        memcpy(s + 1 + i * ul, unit, ul);
    s[1 + n * ul] = '"';
    s[2 + n * ul] = '\0';
    return s;
}

static bool field_accepts(const char *field, const char *value)
{
    char *text = event_with(field, value);
    json_t *j = parse_json(text);
    struct event ev;
    struct event_problem p;
    int rc = event_parse(j, APP, NOW, &ev, &p);
    bool named = p.details && json_object_get(p.details, field);
    if (rc == 0)
        event_release(&ev);
    else if (!named || json_object_size(p.details) != 1)
        fail_msg("%s refused without naming only %s", text, field);
    event_problem_release(&p);
    json_decref(j);
    free(text);
    return rc == 0;
}

/* ---- valid events --------------------------------------------------------------------------- */

static void minimal_event_gets_defaults(void **state)
{
    (void)state;
    struct event ev;
    parse_ok("{\"appId\":\"demo\",\"userId\":\"u-1\",\"eventType\":\"level_up\"}", &ev);
    assert_string_equal(ev.user_id, "u-1");
    assert_string_equal(ev.type, "level_up");
    assert_null(ev.key);
    assert_false(ev.key_given);
    assert_null(ev.metadata);
    assert_int_equal(ev.occurred_at, NOW); /* no occurredAt: the time of receipt */
    assert_int_equal(ev.received_at, NOW);
    event_release(&ev);
    assert_true(all_zero(&ev));
}

static void full_event_is_copied_out(void **state)
{
    (void)state;
    const char *text = "{\"appId\":\"demo\",\"userId\":\"player-42\",\"eventType\":\"purchase\","
                       "\"idempotencyKey\":\"order-12345\","
                       "\"metadata\":{\"sku\":\"gem-pack\",\"price\":499,\"tags\":[\"a\",\"b\"],"
                       "\"nested\":{\"ok\":true,\"none\":null}},"
                       "\"occurredAt\":\"2023-11-14T22:10:00.123Z\"}";
    json_t *j = parse_json(text);
    struct event ev;
    struct event_problem p;
    assert_int_equal(event_parse(j, APP, NOW, &ev, &p), 0);
    json_decref(j); /* the event owns its strings: nothing points into the JSON */
    assert_string_equal(ev.user_id, "player-42");
    assert_string_equal(ev.type, "purchase");
    assert_string_equal(ev.key, "order-12345");
    assert_true(ev.key_given);
    assert_string_equal(ev.metadata, "{\"sku\":\"gem-pack\",\"price\":499,\"tags\":[\"a\",\"b\"],"
                                     "\"nested\":{\"ok\":true,\"none\":null}}");
    assert_int_equal(ev.occurred_at, NOW - 200000 + 123);
    assert_int_equal(ev.received_at, NOW);
    event_release(&ev);
}

static void metadata_empty_or_null_is_stored_as_null(void **state)
{
    (void)state;
    struct event ev;
    parse_ok("{\"appId\":\"demo\",\"userId\":\"u\",\"eventType\":\"t\",\"metadata\":{}}", &ev);
    assert_null(ev.metadata);
    event_release(&ev);
    parse_ok("{\"appId\":\"demo\",\"userId\":\"u\",\"eventType\":\"t\",\"metadata\":null}", &ev);
    assert_null(ev.metadata);
    event_release(&ev);
    parse_ok("{\"appId\":\"demo\",\"userId\":\"u\",\"eventType\":\"t\",\"metadata\":{\"a\":{}}}",
             &ev);
    assert_string_equal(ev.metadata, "{\"a\":{}}");
    event_release(&ev);
}

static void key_given_only_when_the_client_sent_one(void **state)
{
    (void)state;
    struct event ev;
    parse_ok("{\"appId\":\"demo\",\"userId\":\"u\",\"eventType\":\"t\","
             "\"idempotencyKey\":\"12345678\"}",
             &ev);
    assert_true(ev.key_given);
    assert_string_equal(ev.key, "12345678");
    event_release(&ev);
    parse_ok("{\"appId\":\"demo\",\"userId\":\"u\",\"eventType\":\"t\","
             "\"idempotencyKey\":null}",
             &ev);
    assert_false(ev.key_given);
    assert_null(ev.key);
    event_release(&ev);
}

/* occurredAt null is the same as absent. */
static void occurred_at_null_means_now(void **state)
{
    (void)state;
    struct event ev;
    parse_ok("{\"appId\":\"demo\",\"userId\":\"u\",\"eventType\":\"t\",\"occurredAt\":null}", &ev);
    assert_int_equal(ev.occurred_at, NOW);
    event_release(&ev);
}

/* ---- refused events ------------------------------------------------------------------------- */

static void not_an_object_is_refused(void **state)
{
    (void)state;
    static const char *const texts[] = {"[]",  "[{\"appId\":\"demo\"}]", "\"demo\"", "42", "null",
                                        "true"};
    const char *fields[] = {"event"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct event_problem p;
        parse_bad(texts[i], fields, 1, &p);
        assert_string_equal(json_string_value(json_object_get(p.details, "event")),
                            "must be a JSON object");
        event_problem_release(&p);
    }
}

static void required_fields_missing_or_null(void **state)
{
    (void)state;
    const char *fields[] = {"appId", "userId", "eventType"};
    static const char *const texts[] = {
        "{}",
        "{\"appId\":null,\"userId\":null,\"eventType\":null}",
        "{\"idempotencyKey\":\"12345678\",\"metadata\":{\"a\":1}}",
    };
    for (size_t t = 0; t < 3; t++) {
        struct event_problem p;
        parse_bad(texts[t], fields, 3, &p);
        for (size_t i = 0; i < 3; i++)
            assert_string_equal(json_string_value(json_object_get(p.details, fields[i])),
                                "is required");
        event_problem_release(&p);
    }
    expect_field_error("{\"appId\":\"demo\",\"eventType\":\"t\"}", "userId", "is required");
    expect_field_error("{\"appId\":\"demo\",\"userId\":\"u\"}", "eventType", "is required");
}

static void wrong_types_are_named(void **state)
{
    (void)state;
    const char *text = "{\"appId\":[],\"userId\":5,\"eventType\":true,\"idempotencyKey\":12345678,"
                       "\"metadata\":\"x\",\"occurredAt\":1700000000}";
    const char *fields[] = {"appId",          "userId",   "eventType",
                            "idempotencyKey", "metadata", "occurredAt"};
    struct event_problem p;
    parse_bad(text, fields, 6, &p);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(json_string_value(json_object_get(p.details, fields[i])),
                            "must be a string");
    assert_string_equal(json_string_value(json_object_get(p.details, "metadata")),
                        "must be a JSON object");
    assert_string_equal(json_string_value(json_object_get(p.details, "occurredAt")),
                        "must be an ISO 8601 date-time with Z or an offset");
    event_problem_release(&p);
}

/* userId and eventType: 1 to 128 characters, counted as characters, not bytes. */
static void user_id_and_type_length_in_characters(void **state)
{
    (void)state;
    static const char *const fields[] = {"userId", "eventType"};
    static const char *const units[] = {"a", "\xc3\xa9" /* é */, "\xe2\x82\xac" /* € */,
                                        "\xf0\x9f\x98\x80" /* 😀 */};
    for (size_t f = 0; f < 2; f++) {
        assert_false(field_accepts(fields[f], "\"\""));
        for (size_t u = 0; u < 4; u++) {
            char *s1 = repeat_literal(units[u], 1);
            char *s128 = repeat_literal(units[u], 128);
            char *s129 = repeat_literal(units[u], 129);
            if (!field_accepts(fields[f], s1))
                fail_msg("%s: 1 character refused: %s", fields[f], s1);
            if (!field_accepts(fields[f], s128))
                fail_msg("%s: 128 characters refused: %s", fields[f], s128);
            if (field_accepts(fields[f], s129))
                fail_msg("%s: 129 characters accepted: %s", fields[f], s129);
            free(s1);
            free(s128);
            free(s129);
        }
    }
    char *long_user = repeat_literal("x", 129);
    char *text = event_with("userId", long_user);
    expect_field_error(text, "userId", "must be 1 to 128 characters");
    free(text);
    text = event_with("eventType", "\"\"");
    expect_field_error(text, "eventType", "must be 1 to 128 characters");
    free(text);
    free(long_user);
}

/* idempotencyKey: 8 to 128 characters; 7 two-byte characters (14 bytes) are still too few. */
static void idempotency_key_length_in_characters(void **state)
{
    (void)state;
    assert_false(field_accepts("idempotencyKey", "\"\""));
    assert_false(field_accepts("idempotencyKey", "\"1234567\""));
    assert_true(field_accepts("idempotencyKey", "\"12345678\""));
    static const char *const units[] = {"k", "\xc3\xa9", "\xf0\x9f\x98\x80"};
    for (size_t u = 0; u < 3; u++) {
        char *s7 = repeat_literal(units[u], 7);
        char *s8 = repeat_literal(units[u], 8);
        char *s128 = repeat_literal(units[u], 128);
        char *s129 = repeat_literal(units[u], 129);
        if (field_accepts("idempotencyKey", s7))
            fail_msg("7 characters accepted: %s", s7);
        if (!field_accepts("idempotencyKey", s8))
            fail_msg("8 characters refused: %s", s8);
        if (!field_accepts("idempotencyKey", s128))
            fail_msg("128 characters refused: %s", s128);
        if (field_accepts("idempotencyKey", s129))
            fail_msg("129 characters accepted: %s", s129);
        free(s7);
        free(s8);
        free(s128);
        free(s129);
    }
    char *text = event_with("idempotencyKey", "\"short\"");
    expect_field_error(text, "idempotencyKey", "must be 8 to 128 characters");
    free(text);
}

static void control_characters_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\"a\\tb-cdefgh\"",    "\"line\\nbreak\"",    "\"cr\\r-----\"",    "\"\\u0001abcdefgh\"",
        "\"abcdefgh\\u001f\"", "\"abcdefgh\\u007f\"", "\"\\u001b[31mred\""};
    static const char *const fields[] = {"userId", "eventType", "idempotencyKey"};
    for (size_t f = 0; f < 3; f++) {
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            char *text = event_with(fields[f], bad[i]);
            expect_field_error(text, fields[f], "must not contain control characters");
            free(text);
        }
        /* printable non-ASCII and spaces are fine */
        assert_true(field_accepts(fields[f], "\"caf\\u00e9 au lait\""));
        assert_true(field_accepts(fields[f], "\"\\u65e5\\u672c\\u8a9e-\\u30c6\\u30b9\\u30c8-1\""));
    }
}

/* \u0000 never reaches a field: the body is not JSON the strict parser takes. */
static void embedded_nul_is_refused(void **state)
{
    (void)state;
    static const char text[] =
        "{\"appId\":\"" APP "\",\"userId\":\"u-1\\u0000admin\",\"eventType\":\"t\"}";
    struct event ev;
    struct event_problem p;
    char err[200];
    assert_int_equal(event_read(text, strlen(text), &limits, APP, NOW, &ev, &p, err, sizeof(err)),
                     -2);
    assert_non_null(strstr(err, "\\u0000"));
    assert_true(all_zero(&ev));
    assert_null(p.details);
}

static void metadata_must_be_an_object(void **state)
{
    (void)state;
    static const char *const bad[] = {"[]", "[{\"a\":1}]", "\"{}\"", "3", "true", "false"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *text = event_with("metadata", bad[i]);
        expect_field_error(text, "metadata", "must be a JSON object");
        free(text);
    }
}

/* 64 KiB of compact JSON is the limit, inclusive. */
static void metadata_size_limit(void **state)
{
    (void)state;
    /* {"a":"<s>"} is 8 bytes of punctuation plus s */
    size_t fill = EVENT_METADATA_MAX - 8;
    char *s = malloc(fill + 1);
    memset(s, 'x', fill);
    s[fill] = '\0';
    json_t *o = json_pack("{s:s, s:s, s:s, s:{s:s}}", "appId", APP, "userId", "u", "eventType", "t",
                          "metadata", "a", s);
    struct event ev;
    struct event_problem p;
    assert_int_equal(event_parse(o, APP, NOW, &ev, &p), 0);
    assert_int_equal(strlen(ev.metadata), EVENT_METADATA_MAX);
    assert_memory_equal(ev.metadata, "{\"a\":\"xxx", 9);
    event_release(&ev);
    json_decref(o);

    char *s2 = malloc(fill + 2);
    memset(s2, 'x', fill + 1);
    s2[fill + 1] = '\0';
    o = json_pack("{s:s, s:s, s:s, s:{s:s}}", "appId", APP, "userId", "u", "eventType", "t",
                  "metadata", "a", s2);
    const char *fields[] = {"metadata"};
    parse_bad_json(o, fields, 1, &p);
    assert_string_equal(json_string_value(json_object_get(p.details, "metadata")),
                        "must be at most 64 KiB as JSON");
    event_problem_release(&p);
    json_decref(o);

    /* The limit is on the compact form: insignificant whitespace in the body does not count. */
    static const char head[] = "{\"appId\":\"demo\",\"userId\":\"u\",\"eventType\":\"t\","
                               "\"metadata\":{  \"a\"  :  \"";
    size_t hl = strlen(head);
    char *text = malloc(hl + fill + 16);
    memcpy(text, head, hl);
    memcpy(text + hl, s, fill - 1); /* 65535 bytes compact, 65540 as sent */
    strcpy(text + hl + fill - 1, "\"  }  }");
    struct event ev2;
    parse_ok(text, &ev2);
    assert_int_equal(strlen(ev2.metadata), EVENT_METADATA_MAX - 1);
    event_release(&ev2);
    free(text);
    free(s2);
    free(s);
}

static void occurred_at_malformed_is_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\"\"",
        "\"yesterday\"",
        "\"2023-11-14\"",
        "\"2023-11-14T22:10:00\"",  /* no zone */
        "\"2023-11-14 22:10:00Z\"", /* space instead of T */
        "\"2023-02-30T00:00:00Z\"", /* no such day */
        "\"2023-11-14T24:00:00Z\"",
        "\"2023-11-14T22:10:00+2:00\"",
        "\"2023-11-14T22:10:00.Z\"",
        "\"1700000000000\"",
        "{}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *text = event_with("occurredAt", bad[i]);
        expect_field_error(text, "occurredAt", "must be an ISO 8601 date-time with Z or an offset");
        free(text);
    }
}

static int64_t occurred_of(const char *iso_literal)
{
    char *text = event_with("occurredAt", iso_literal);
    struct event ev;
    parse_ok(text, &ev);
    int64_t at = ev.occurred_at;
    event_release(&ev);
    free(text);
    return at;
}

/* Offsets are applied: the engine only sees UTC milliseconds. */
static void occurred_at_offset_is_normalised_to_utc(void **state)
{
    (void)state;
    assert_int_equal(occurred_of("\"2023-11-14T22:13:20Z\""), NOW);
    assert_int_equal(occurred_of("\"2023-11-15T00:13:20+02:00\""), NOW);
    assert_int_equal(occurred_of("\"2023-11-14T17:13:20.5-05:00\""), NOW + 500);
    assert_int_equal(occurred_of("\"2023-11-15T03:43:20.25+05:30\""), NOW + 250);
    assert_int_equal(occurred_of("\"2023-11-14t22:13:19.999999999z\""), NOW - 1);
    assert_int_equal(occurred_of("\"1970-01-01T00:00:00Z\""), 0);
    assert_int_equal(occurred_of("\"2000-01-01T00:00:00Z\""), 946684800000LL);
}

/* Up to five minutes ahead of the server's clock is accepted (clock skew), not one ms more. */
static void occurred_at_future_limit(void **state)
{
    (void)state;
    assert_int_equal(occurred_of("\"2023-11-14T22:18:20.000Z\""), NOW + EVENT_FUTURE_MS);
    assert_int_equal(occurred_of("\"2023-11-15T00:18:20+02:00\""), NOW + EVENT_FUTURE_MS);
    char *text = event_with("occurredAt", "\"2023-11-14T22:18:20.001Z\"");
    expect_field_error(text, "occurredAt", "must not be more than 5 minutes in the future");
    free(text);
    /* the limit is judged after the offset: 22:18:21 UTC written as +01:00 */
    text = event_with("occurredAt", "\"2023-11-14T23:18:21+01:00\"");
    expect_field_error(text, "occurredAt", "must not be more than 5 minutes in the future");
    free(text);
    text = event_with("occurredAt", "\"2024-01-01T00:00:00Z\"");
    expect_field_error(text, "occurredAt", "must not be more than 5 minutes in the future");
    free(text);
}

/* One answer names every bad field, so a client fixes them all at once. */
static void details_name_every_bad_field(void **state)
{
    (void)state;
    char *long_type = repeat_literal("t", 129);
    char text[512];
    snprintf(text, sizeof(text),
             "{\"appId\":\"other\",\"userId\":\"\",\"eventType\":%s,\"idempotencyKey\":\"short\","
             "\"metadata\":[],\"occurredAt\":\"nope\"}",
             long_type);
    const char *fields[] = {"userId", "eventType", "idempotencyKey", "metadata", "occurredAt"};
    struct event_problem p;
    /* appId "other" is another app's, but a 400 that names the bad fields comes first */
    parse_bad(text, fields, 5, &p);
    assert_null(json_object_get(p.details, "appId"));
    assert_string_equal(json_string_value(json_object_get(p.details, "userId")),
                        "must be 1 to 128 characters");
    assert_string_equal(json_string_value(json_object_get(p.details, "eventType")),
                        "must be 1 to 128 characters");
    assert_string_equal(json_string_value(json_object_get(p.details, "idempotencyKey")),
                        "must be 8 to 128 characters");
    assert_string_equal(json_string_value(json_object_get(p.details, "metadata")),
                        "must be a JSON object");
    event_problem_release(&p);
    assert_null(p.details);
    free(long_type);
}

static void app_mismatch_only_when_otherwise_valid(void **state)
{
    (void)state;
    json_t *j = parse_json("{\"appId\":\"other\",\"userId\":\"u-1\",\"eventType\":\"t\","
                           "\"idempotencyKey\":\"order-12345\",\"metadata\":{\"a\":1}}");
    struct event ev;
    struct event_problem p;
    memset(&ev, 0x5a, sizeof(ev));
    assert_int_equal(event_parse(j, APP, NOW, &ev, &p), -1);
    assert_int_equal(p.status, 409);
    assert_string_equal(p.code, "app_mismatch");
    assert_string_equal(p.message, "Payload appId mismatch");
    assert_null(p.details);
    assert_true(all_zero(&ev));
    event_problem_release(&p);
    /* the same payload is valid for the app it names */
    assert_int_equal(event_parse(j, "other", NOW, &ev, &p), 0);
    assert_string_equal(ev.key, "order-12345");
    event_release(&ev);
    json_decref(j);

    /* a prefix or a different case is another app */
    j = parse_json("{\"appId\":\"dem\",\"userId\":\"u\",\"eventType\":\"t\"}");
    assert_int_equal(event_parse(j, APP, NOW, &ev, &p), -1);
    assert_int_equal(p.status, 409);
    event_problem_release(&p);
    json_decref(j);
    j = parse_json("{\"appId\":\"DEMO\",\"userId\":\"u\",\"eventType\":\"t\"}");
    assert_int_equal(event_parse(j, APP, NOW, &ev, &p), -1);
    assert_int_equal(p.status, 409);
    event_problem_release(&p);
    json_decref(j);

    /* with another field wrong, the answer is the 400 */
    expect_field_error("{\"appId\":\"other\",\"userId\":\"u\",\"eventType\":\"t\",\"metadata\":1}",
                       "metadata", "must be a JSON object");
    const char *fields[] = {"appId"};
    parse_bad("{\"appId\":\"\",\"userId\":\"u\",\"eventType\":\"t\"}", fields, 1, &p);
    event_problem_release(&p);
}

/* Parsing many events, valid and not, and releasing them leaves nothing behind (ASan's leak
 * check runs at exit); releasing twice is harmless. */
static void release_frees_everything(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "{\"appId\":\"demo\",\"userId\":\"u\",\"eventType\":\"t\",\"idempotencyKey\":\"12345678\","
        "\"metadata\":{\"a\":[1,2,3]},\"occurredAt\":\"2023-11-14T22:00:00Z\"}",
        "{\"appId\":\"demo\",\"userId\":1,\"eventType\":2,\"idempotencyKey\":3,\"metadata\":4,"
        "\"occurredAt\":5}",
        "{\"appId\":\"x\",\"userId\":\"u\",\"eventType\":\"t\",\"metadata\":{\"a\":1}}",
        "[1,2,3]",
    };
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
            json_t *j = parse_json(texts[i]);
            struct event ev;
            struct event_problem p;
            if (event_parse(j, APP, NOW, &ev, &p) == 0) {
                assert_int_equal(i, 0);
                event_release(&ev);
                event_release(&ev);
            } else {
                assert_int_not_equal(i, 0);
                event_problem_release(&p);
                event_problem_release(&p);
            }
            assert_true(all_zero(&ev));
            assert_null(p.details);
            json_decref(j);
        }
    }
}

/* The message names the field's own limit: 64 characters for appId. */
static void long_app_id_names_its_limit(void **state)
{
    (void)state;
    char *long_app = repeat_literal("a", 65);
    char *text = event_with("appId", long_app);
    expect_field_error(text, "appId", "must be 1 to 64 characters");
    free(text);
    free(long_app);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(long_app_id_names_its_limit),
    cmocka_unit_test(minimal_event_gets_defaults),
    cmocka_unit_test(full_event_is_copied_out),
    cmocka_unit_test(metadata_empty_or_null_is_stored_as_null),
    cmocka_unit_test(key_given_only_when_the_client_sent_one),
    cmocka_unit_test(occurred_at_null_means_now),
    cmocka_unit_test(not_an_object_is_refused),
    cmocka_unit_test(required_fields_missing_or_null),
    cmocka_unit_test(wrong_types_are_named),
    cmocka_unit_test(user_id_and_type_length_in_characters),
    cmocka_unit_test(idempotency_key_length_in_characters),
    cmocka_unit_test(control_characters_are_refused),
    cmocka_unit_test(embedded_nul_is_refused),
    cmocka_unit_test(metadata_must_be_an_object),
    cmocka_unit_test(metadata_size_limit),
    cmocka_unit_test(occurred_at_malformed_is_refused),
    cmocka_unit_test(occurred_at_offset_is_normalised_to_utc),
    cmocka_unit_test(occurred_at_future_limit),
    cmocka_unit_test(details_name_every_bad_field),
    cmocka_unit_test(app_mismatch_only_when_otherwise_valid),
    cmocka_unit_test(release_frees_everything),
};

UNIT_MAIN(tests)
