/* Unit tests for src/api/audit_query.c: GET /audit's parameters and its cursor. */
#include "unit.h"

#include <string.h>

#include "api/audit_query.h"

static struct audit_query parse_ok(const char *qs)
{
    struct audit_query q;
    json_t *details = NULL;
    if (audit_query_parse(qs, strlen(qs), &q, &details) < 0) {
        char *d = json_dumps(details, 0);
        fail_msg("\"%s\" refused: %s", qs, d);
    }
    return q;
}

/* Refused, naming `field` (and only it). */
static void parse_bad(const char *qs, const char *field)
{
    struct audit_query q;
    json_t *details = NULL;
    if (audit_query_parse(qs, strlen(qs), &q, &details) == 0)
        fail_msg("\"%s\" accepted", qs);
    if (!json_object_get(details, field) || json_object_size(details) != 1) {
        char *d = json_dumps(details, 0);
        fail_msg("\"%s\": details %s do not name only %s", qs, d, field);
    }
    json_decref(details);
}

static void defaults(void **state)
{
    (void)state;
    struct audit_query q = parse_ok("");
    assert_int_equal(q.limit, AUDIT_LIMIT_DEFAULT);
    assert_false(q.ndjson);
    assert_null(q.filter.app_id);
    assert_null(q.filter.actor);
    assert_null(q.filter.action);
    assert_null(q.filter.resource_type);
    assert_int_equal(q.filter.from_ms, 0);
    assert_int_equal(q.filter.to_ms, 0);
    assert_int_equal(q.filter.before_id, 0);
    audit_query_release(&q);
}

static void every_filter(void **state)
{
    (void)state;
    struct audit_query q = parse_ok("actor=system&action=league.settle&resource=user%2Fa%2Fb"
                                    "&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00.500Z"
                                    "&limit=7&format=ndjson&appId=game-1&unknown=ignored");
    assert_string_equal(q.filter.actor, "system");
    assert_string_equal(q.filter.action, "league.settle");
    assert_false(q.filter.action_prefix);
    assert_string_equal(q.filter.resource_type, "user");
    assert_string_equal(q.filter.resource_id, "a/b"); /* the id keeps its slashes */
    assert_int_equal(q.filter.from_ms, 1767225600000);
    assert_int_equal(q.filter.to_ms, 1767312000500);
    assert_int_equal(q.limit, 7);
    assert_true(q.ndjson);
    assert_string_equal(q.app_id, "game-1");
    audit_query_release(&q);
}

static void action_prefix_and_bare_resource(void **state)
{
    (void)state;
    struct audit_query q = parse_ok("action=league.*&resource=league&format=json");
    assert_string_equal(q.filter.action, "league.");
    assert_true(q.filter.action_prefix);
    assert_string_equal(q.filter.resource_type, "league");
    assert_null(q.filter.resource_id);
    assert_false(q.ndjson);
    audit_query_release(&q);
}

static void bad_values_are_named(void **state)
{
    (void)state;
    parse_bad("limit=0", "limit");
    parse_bad("limit=1001", "limit");
    parse_bad("limit=+5", "limit");
    parse_bad("limit=5x", "limit");
    parse_bad("limit=", "limit");
    parse_bad("actor=", "actor");
    parse_bad("actor=a%01", "actor");
    parse_bad("actor=%c3%28", "actor"); /* malformed UTF-8 */
    parse_bad("action=Upper", "action");
    parse_bad("action=.*", "action");
    parse_bad("action=*", "action");
    parse_bad("action=a*", "action");
    parse_bad("resource=", "resource");
    parse_bad("resource=User", "resource");
    parse_bad("resource=/id", "resource");
    parse_bad("resource=user/", "resource");
    parse_bad("from=2026-02-30T00:00:00Z", "from");
    parse_bad("to=soon", "to");
    parse_bad("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to");
    parse_bad("from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to");
    parse_bad("format=xml", "format");
    parse_bad("cursor=1", "cursor");
    parse_bad("actor=%zz", "query");
}

static void cursor_round_trip(void **state)
{
    (void)state;
    const int64_t ids[] = { 1, 2, 255, 256, 1234567890123, INT64_MAX };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char c[AUDIT_CURSOR_LEN + 1];
        audit_cursor_encode(ids[i], c);
        assert_int_equal(strlen(c), AUDIT_CURSOR_LEN);
        int64_t back = 0;
        assert_int_equal(audit_cursor_parse(c, strlen(c), &back), 0);
        assert_int_equal(back, ids[i]);
        char qs[64];
        snprintf(qs, sizeof(qs), "cursor=%s", c);
        struct audit_query q = parse_ok(qs);
        assert_int_equal(q.filter.before_id, ids[i]);
        audit_query_release(&q);
    }
}

static void cursor_rejects_what_it_did_not_make(void **state)
{
    (void)state;
    int64_t id;
    const char *bad[] = {
        "",                   /* empty */
        "a000000000000000",   /* short */
        "a00000000000000001", /* long */
        "b0000000000000001",  /* other tag */
        "a000000000000000g",  /* not hex */
        "a0000000000000000",  /* id 0 */
        "a8000000000000000",  /* beyond int64 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (audit_cursor_parse(bad[i], strlen(bad[i]), &id) == 0)
            fail_msg("cursor \"%s\" accepted", bad[i]);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(defaults),
    cmocka_unit_test(every_filter),
    cmocka_unit_test(action_prefix_and_bare_resource),
    cmocka_unit_test(bad_values_are_named),
    cmocka_unit_test(cursor_round_trip),
    cmocka_unit_test(cursor_rejects_what_it_did_not_make),
};

UNIT_MAIN(tests)
