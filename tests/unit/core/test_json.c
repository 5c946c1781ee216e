/* Unit tests for src/core/json.c: the limit prescan, strict parsing and compact dumping. */
#include "unit.h"

#include <string.h>

#include "core/json.h"

static const struct json_limits wide = {32, 100000};

static int prescan(const char *s, int depth, size_t elements, char *err, size_t errlen)
{
    struct json_limits lim = {depth, elements};
    return json_prescan(s, strlen(s), &lim, err, errlen);
}

static void prescan_depth_limit(void **state)
{
    (void)state;
    char err[128] = "";
    assert_int_equal(prescan("[[1]]", 2, 100, err, sizeof(err)), 0);
    assert_int_equal(prescan("{\"a\":{\"b\":1}}", 2, 100, err, sizeof(err)), 0);
    assert_int_equal(prescan("[[[1]]]", 2, 100, err, sizeof(err)), -1);
    assert_string_equal(err, "JSON nesting deeper than 2");
    /* Depth is nesting, not the count of containers: siblings do not add up. */
    assert_int_equal(prescan("[[1],[2],[3],{\"a\":1},[]]", 2, 100, err, sizeof(err)), 0);
}

static void prescan_element_limit(void **state)
{
    (void)state;
    char err[128] = "";
    assert_int_equal(prescan("[1,2]", 8, 3, err, sizeof(err)), 0); /* array + 2 values */
    assert_int_equal(prescan("[1,2,3]", 8, 3, err, sizeof(err)), -1);
    assert_string_equal(err, "JSON has more than 3 values");
    /* A multi-digit number or a literal is one value. */
    assert_int_equal(prescan("[123456789, true]", 8, 3, err, sizeof(err)), 0);
    assert_int_equal(prescan("[1 ,\n\t2]", 8, 3, err, sizeof(err)), 0);
}

static void prescan_skips_string_contents(void **state)
{
    (void)state;
    char err[128] = "";
    /* Brackets, commas and digits inside strings are neither nesting nor values. */
    assert_int_equal(prescan("[\"[[[[{{{{\"]", 1, 100, err, sizeof(err)), 0);
    assert_int_equal(prescan("[\"1,2,3,4,5,6\"]", 8, 2, err, sizeof(err)), 0);
    /* An escaped quote does not end the string. */
    assert_int_equal(prescan("[\"a\\\"[[[[\"]", 1, 100, err, sizeof(err)), 0);
    assert_int_equal(prescan("[\"a\\\\\",[[1]]]", 2, 100, err, sizeof(err)), -1);
    /* ...and an escaped backslash before the closing quote does end it. */
    assert_int_equal(prescan("[\"a\\\\\",[1]]", 2, 100, err, sizeof(err)), 0);
}

static void prescan_unterminated_does_not_overrun(void **state)
{
    (void)state;
    char err[128] = "";
    /* Ends inside a string and inside an escape: no limit is hit, the parser will complain. */
    assert_int_equal(prescan("[\"abc", 4, 100, err, sizeof(err)), 0);
    assert_int_equal(prescan("[\"abc\\", 4, 100, err, sizeof(err)), 0);
}

static json_t *parse(const char *s, char *err, size_t errlen)
{
    return json_parse_strict(s, strlen(s), &wide, err, errlen);
}

static void expect_reject(const char *s, size_t len, const char *want)
{
    char err[256] = "";
    json_t *j = json_parse_strict(s, len, &wide, err, sizeof(err));
    if (j) {
        json_decref(j);
        fail_msg("accepted %s", s);
    }
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not mention \"%s\"", err, want);
}

static void parse_accepts_valid(void **state)
{
    (void)state;
    char err[256] = "";
    json_t *j = parse(" {\"a\": [1, \"x\", null, true], \"b\": {\"c\": 1.5}} \n", err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "a")), 4);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "a"), 1)), "x");
    json_decref(j);
    /* Scalars are documents too. */
    j = parse("\"\xc3\xa9\"", err, sizeof(err));
    assert_non_null(j);
    assert_string_equal(json_string_value(j), "\xc3\xa9");
    json_decref(j);
}

static void parse_rejects_duplicate_keys(void **state)
{
    (void)state;
    expect_reject("{\"a\":1,\"a\":2}", 13, "duplicate");
    expect_reject("{\"o\":{\"k\":1,\"k\":1}}", 19, "duplicate");
}

static void parse_rejects_invalid_utf8(void **state)
{
    (void)state;
    expect_reject("[\"\xff\"]", 5, "invalid JSON at line 1");
    expect_reject("[\"\xc0\xaf\"]", 6, "invalid JSON");
    expect_reject("[\"\xed\xa0\x80\"]", 7, "invalid JSON"); /* surrogate */
}

static void parse_rejects_trailing_garbage(void **state)
{
    (void)state;
    expect_reject("{} x", 4, "invalid JSON");
    expect_reject("{}{}", 4, "invalid JSON");
    expect_reject("1 2", 3, "invalid JSON");
    expect_reject("", 0, "invalid JSON");
    expect_reject("   ", 3, "invalid JSON");
}

static void parse_rejects_nul_escape(void **state)
{
    (void)state;
    expect_reject("[\"a\\u0000b\"]", 12, "invalid JSON");
    expect_reject("{\"\\u0000\":1}", 12, "invalid JSON");
    /* A raw NUL byte inside the document is rejected too. */
    expect_reject("[\"a\0b\"]", 7, "invalid JSON");
}

static void parse_int64_range(void **state)
{
    (void)state;
    char err[256] = "";
    json_t *j = parse("9223372036854775807", err, sizeof(err));
    assert_non_null(j);
    assert_true(json_is_integer(j));
    assert_int_equal(json_integer_value(j), INT64_MAX);
    json_decref(j);
    j = parse("[-9223372036854775808]", err, sizeof(err));
    assert_non_null(j);
    assert_true(json_integer_value(json_array_get(j, 0)) == INT64_MIN);
    json_decref(j);
    /* One more is out of range and is rejected, not rounded or turned into a real. */
    expect_reject("9223372036854775808", 19, "too big");
    expect_reject("[-9223372036854775809]", 22, "too big");
}

static void parse_error_has_line_and_column(void **state)
{
    (void)state;
    char err[256] = "";
    const char *doc = "{\n  \"a\": 1,\n  \"b\": tru\n}";
    json_t *j = parse(doc, err, sizeof(err));
    assert_null(j);
    if (strncmp(err, "invalid JSON at line 3, column ", 31) != 0)
        fail_msg("unexpected message: %s", err);
}

static void parse_applies_limits_first(void **state)
{
    (void)state;
    struct json_limits lim = {3, 1000};
    char err[256] = "";
    const char *doc = "[[[[1]]]]";
    assert_null(json_parse_strict(doc, strlen(doc), &lim, err, sizeof(err)));
    assert_string_equal(err, "JSON nesting deeper than 3");
    lim.max_depth = 4;
    json_t *j = json_parse_strict(doc, strlen(doc), &lim, err, sizeof(err));
    assert_non_null(j);
    json_decref(j);
    lim.max_elements = 4;
    assert_null(json_parse_strict(doc, strlen(doc), &lim, err, sizeof(err)));
    assert_string_equal(err, "JSON has more than 4 values");
}

static void parse_leaves_err_untouched_on_success(void **state)
{
    (void)state;
    char err[32] = "previous";
    json_t *j = parse("{}", err, sizeof(err));
    assert_non_null(j);
    assert_string_equal(err, "previous");
    json_decref(j);
}

static void dump_is_compact_and_appends(void **state)
{
    (void)state;
    json_t *j =
        json_pack("{s:[i,i], s:s, s:n, s:f}", "a", 1, -2, "b", "x\"\xc3\xa9", "c", "d", 0.5);
    struct buf b = BUF_INIT;
    buf_puts(&b, "body=");
    json_dump_buf(j, &b);
    assert_string_equal(b.data, "body={\"a\":[1,-2],\"b\":\"x\\\"\xc3\xa9\",\"c\":null,\"d\":0.5}");
    json_decref(j);

    buf_reset(&b);
    j = json_integer(42);
    json_dump_buf(j, &b); /* scalars are encoded too */
    assert_string_equal(b.data, "42");
    json_decref(j);
    buf_release(&b);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(prescan_depth_limit),
    cmocka_unit_test(prescan_element_limit),
    cmocka_unit_test(prescan_skips_string_contents),
    cmocka_unit_test(prescan_unterminated_does_not_overrun),
    cmocka_unit_test(parse_accepts_valid),
    cmocka_unit_test(parse_rejects_duplicate_keys),
    cmocka_unit_test(parse_rejects_invalid_utf8),
    cmocka_unit_test(parse_rejects_trailing_garbage),
    cmocka_unit_test(parse_rejects_nul_escape),
    cmocka_unit_test(parse_int64_range),
    cmocka_unit_test(parse_error_has_line_and_column),
    cmocka_unit_test(parse_applies_limits_first),
    cmocka_unit_test(parse_leaves_err_untouched_on_success),
    cmocka_unit_test(dump_is_compact_and_appends),
};

UNIT_MAIN(tests)
