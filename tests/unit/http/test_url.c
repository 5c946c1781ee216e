/* Unit tests for src/http/url.c: percent-decoding and query-string lookup. */
#include "unit.h"

#include <string.h>

#include "http/url.h"

static int decode(const char *s, bool plus, struct buf *out)
{
    buf_reset(out);
    return url_decode(s, strlen(s), plus, out);
}

static void decode_plain_and_escapes(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    assert_int_equal(decode("", false, &out), 0);
    assert_string_equal(out.data, "");
    assert_int_equal(decode("abc", false, &out), 0);
    assert_string_equal(out.data, "abc");
    assert_int_equal(decode("a%20b", false, &out), 0);
    assert_string_equal(out.data, "a b");
    assert_int_equal(decode("%41%62%2f%2F", false, &out), 0); /* both hex cases */
    assert_string_equal(out.data, "Ab//");
    assert_int_equal(decode("%C3%A9t%C3%A9", false, &out), 0);
    assert_string_equal(out.data, "\xc3\xa9t\xc3\xa9");
    assert_int_equal(decode("100%25", false, &out), 0);
    assert_string_equal(out.data, "100%");
    assert_int_equal(out.len, 4);
    buf_release(&out);
}

static void decode_appends(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    buf_puts(&out, "x=");
    assert_int_equal(url_decode("a%21", 4, false, &out), 0);
    assert_string_equal(out.data, "x=a!");
    /* Only `len` bytes are read. */
    assert_int_equal(url_decode("bcdef", 2, false, &out), 0);
    assert_string_equal(out.data, "x=a!bc");
    buf_release(&out);
}

static void decode_plus(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    assert_int_equal(decode("a+b+", false, &out), 0);
    assert_string_equal(out.data, "a+b+");
    assert_int_equal(decode("a+b+", true, &out), 0);
    assert_string_equal(out.data, "a b ");
    assert_int_equal(decode("%2B+", true, &out), 0); /* an encoded plus stays a plus */
    assert_string_equal(out.data, "+ ");
    buf_release(&out);
}

static void decode_rejects_truncated_and_bad_escapes(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    assert_int_equal(decode("%", false, &out), -1);
    assert_int_equal(decode("abc%", false, &out), -1);
    assert_int_equal(decode("abc%4", false, &out), -1);
    assert_int_equal(decode("%4g", false, &out), -1);
    assert_int_equal(decode("%g4", false, &out), -1);
    assert_int_equal(decode("% 41", false, &out), -1);
    /* The escape is cut by `len` even though the bytes after it would complete it. */
    buf_reset(&out);
    assert_int_equal(url_decode("ab%41", 4, false, &out), -1);
    buf_release(&out);
}

static void decode_rejects_nul(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    assert_int_equal(decode("%00", false, &out), -1);
    assert_int_equal(decode("a%00b", true, &out), -1);
    assert_int_equal(decode("%01", false, &out), 0); /* other control bytes are data */
    assert_int_equal(out.len, 1);
    assert_int_equal(out.data[0], 1);
    buf_release(&out);
}

static int query(const char *q, const char *key, struct buf *out)
{
    return url_query_get(q, strlen(q), key, out);
}

static void query_lookup(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    const char *q = "a=1&b=x%20y+z&a=2&empty=&c=d=e";
    assert_int_equal(query(q, "a", &out), 1);
    assert_string_equal(out.data, "1"); /* first occurrence wins */
    buf_reset(&out);
    assert_int_equal(query(q, "b", &out), 1);
    assert_string_equal(out.data, "x y z");
    buf_reset(&out);
    assert_int_equal(query(q, "empty", &out), 1);
    assert_string_equal(out.data, "");
    buf_reset(&out);
    assert_int_equal(query(q, "c", &out), 1);
    assert_string_equal(out.data, "d=e"); /* only the first '=' separates */
    buf_release(&out);
}

static void query_missing_equals_is_empty_value(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    assert_int_equal(query("flag&x=1", "flag", &out), 1);
    assert_string_equal(out.data, "");
    assert_int_equal(query("x=1&flag", "flag", &out), 1);
    assert_string_equal(out.data, "");
    assert_int_equal(query("x=1&flag", "x", &out), 1);
    assert_string_equal(out.data, "1");
    buf_release(&out);
}

static void query_absent_key(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    buf_puts(&out, "keep");
    assert_int_equal(query("", "a", &out), 0);
    assert_int_equal(query("ab=1&ba=2&A=3", "a", &out), 0); /* no prefix or case matching */
    assert_int_equal(query("&&", "a", &out), 0);
    assert_string_equal(out.data, "keep"); /* untouched when absent */
    assert_int_equal(query("&&a=9&", "a", &out), 1);
    assert_string_equal(out.data, "keep9");
    buf_release(&out);
}

static void query_encoded_key(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    assert_int_equal(query("my%20key=v1&my+key=v2", "my key", &out), 1);
    assert_string_equal(out.data, "v1");
    buf_reset(&out);
    assert_int_equal(query("x%3Dy=1&x=2", "x=y", &out), 1); /* an '=' in an encoded name */
    assert_string_equal(out.data, "1");
    buf_reset(&out);
    assert_int_equal(query("my%20keys=1&my=2", "my", &out), 1); /* not a prefix match */
    assert_string_equal(out.data, "2");
    buf_release(&out);
}

static void query_malformed(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    assert_int_equal(query("a=%zz", "a", &out), -1);
    assert_int_equal(query("a=%0", "a", &out), -1);
    assert_int_equal(query("a=x%00", "a", &out), -1);
    assert_int_equal(query("%zz=1&a=2", "a", &out), -1); /* a bad key before the match */
    buf_release(&out);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(decode_plain_and_escapes),
    cmocka_unit_test(decode_appends),
    cmocka_unit_test(decode_plus),
    cmocka_unit_test(decode_rejects_truncated_and_bad_escapes),
    cmocka_unit_test(decode_rejects_nul),
    cmocka_unit_test(query_lookup),
    cmocka_unit_test(query_missing_equals_is_empty_value),
    cmocka_unit_test(query_absent_key),
    cmocka_unit_test(query_encoded_key),
    cmocka_unit_test(query_malformed),
};

UNIT_MAIN(tests)
