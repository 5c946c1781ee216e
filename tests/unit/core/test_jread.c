/* Unit tests for src/core/jread.c: the reader takes exactly what the strict parser takes,
 * reads members and strings as they are meant, copies values as compact text, rejects
 * duplicate keys in objects of any size, and stops at the same limits. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jread.h"
#include "core/json.h"

static const struct json_limits wide = {32, 100000};

/* Reads the whole document; true when it is JSON within lim. `compact` may be NULL. */
static bool read_all(const char *s, const struct json_limits *lim, struct buf *compact,
                     char *err, size_t errlen)
{
    struct jread r;
    jread_init(&r, s, strlen(s), lim);
    bool ok = jread_skip(&r, compact) && jread_end(&r);
    if (!ok)
        jread_error(&r, err, errlen);
    jread_release(&r);
    return ok;
}

/* The verdict on each document is the strict parser's. */
static void same_verdict_as_the_strict_parser(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}", "[]", "0", "-0", "1.5", "-1.5e+10", "1E-2", "true", "false", "null", "\"\"",
        " {\"a\" : [1, 2, {\"b\": null}] } ", "\"\\u00e9\\ud83d\\ude00\\n\\/\\\\\\\"\"",
        "\"é😀\"", "9223372036854775807", "-9223372036854775808", "1e308", "1e-400",
        /* refused */
        "", " ", "{", "}", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{\"a\":1 \"b\":2}",
        "01", "-", "1.", ".5", "+1", "1e", "1e+", "0x1", "NaN", "Infinity", "tru", "nul",
        "truex", "[1] 2", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u0000\"", "\"\\ud800\"",
        "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\t\"", "\"\x01\"", "\"\xc3\"", "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\xef\xbb\xbf{}", "9223372036854775808",
        "-9223372036854775809", "1e309", "-1e400", "{\"a\":1,\"a\":2}",
        "{\"a\":1,\"\\u0061\":2}", "[\"a\",\"a\"]", "{\"a\":{\"a\":{\"a\":1}}}",
        "{\"x\":{\"k\":1},\"y\":{\"k\":1}}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        char err[200] = "";
        bool read = read_all(docs[i], &wide, NULL, err, sizeof(err));
        json_t *j = json_parse_strict(docs[i], strlen(docs[i]), &wide, err, sizeof(err));
        if (read != (j != NULL))
            fail_msg("reader %s, strict parser %s: %s", read ? "takes" : "refuses",
                     j ? "takes" : "refuses", docs[i]);
        json_decref(j);
    }
}

static void errors_say_where_and_what(void **state)
{
    (void)state;
    char err[200] = "";
    assert_false(read_all("{\"a\":1,\"a\":2}", &wide, NULL, err, sizeof(err)));
    assert_string_equal(err, "invalid JSON at byte 7: duplicate object key");
    assert_false(read_all("[1, 2", &wide, NULL, err, sizeof(err)));
    assert_string_equal(err, "invalid JSON at byte 5: unexpected end of input");
    assert_false(read_all("12345678901234567890", &wide, NULL, err, sizeof(err)));
    assert_string_equal(err, "invalid JSON at byte 0: too big integer");
}

/* The limits and their messages are json_prescan's. */
static void limits_are_the_prescans(void **state)
{
    (void)state;
    char err[200] = "";
    struct json_limits two = {2, 100};
    assert_true(read_all("[[1]]", &two, NULL, err, sizeof(err)));
    assert_true(read_all("[[1],[2],{\"a\":1}]", &two, NULL, err, sizeof(err)));
    assert_false(read_all("[[[1]]]", &two, NULL, err, sizeof(err)));
    assert_string_equal(err, "JSON nesting deeper than 2");
    struct json_limits three = {8, 3};
    assert_true(read_all("[1,2]", &three, NULL, err, sizeof(err)));
    assert_true(read_all("{\"a\":1}", &three, NULL, err, sizeof(err))); /* object, key, 1 */
    assert_false(read_all("[1,2,3]", &three, NULL, err, sizeof(err)));
    assert_string_equal(err, "JSON has more than 3 values");
    assert_false(read_all("{\"a\":1,\"b\":2}", &three, NULL, err, sizeof(err)));
}

/* Whitespace outside strings goes; strings, numbers and escapes stay as sent. */
static void compact_copy_keeps_the_text(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        { " { \"a\" : 1 , \"b\" : [ true , null , -0.50e+1 ] } ", "{\"a\":1,\"b\":[true,null,-0.50e+1]}" },
        { "{\"k \\\" \\u00e9\":\"v\\n \"}", "{\"k \\\" \\u00e9\":\"v\\n \"}" },
        { "[ ]", "[]" },
        { "{ }", "{}" },
        { "[{},{\"a\":{}},[[]]]", "[{},{\"a\":{}},[[]]]" },
        { "\"x\"", "\"x\"" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf out = BUF_INIT;
        char err[200] = "";
        assert_true(read_all(cases[i].in, &wide, &out, err, sizeof(err)));
        assert_string_equal(out.data, cases[i].out);
        buf_release(&out);
    }
}

/* Many keys: past the linear comparisons a table finds duplicates, the last one too. */
static void duplicates_in_large_objects(void **state)
{
    (void)state;
    for (int n = 1; n <= 300; n += 37) {
        struct buf doc = BUF_INIT;
        buf_putc(&doc, '{');
        for (int i = 0; i < n; i++)
            buf_printf(&doc, "%s\"key%d\":{\"key%d\":%d}", i ? "," : "", i, i, i);
        char err[200] = "";
        buf_putc(&doc, '}');
        assert_true(read_all(doc.data, &wide, NULL, err, sizeof(err)));
        doc.len--; /* drop the '}' and repeat one key, escaped */
        buf_printf(&doc, ",\"k\\u0065y%d\":0}", n / 2);
        assert_false(read_all(doc.data, &wide, NULL, err, sizeof(err)));
        assert_non_null(strstr(err, "duplicate object key"));
        buf_release(&doc);
    }
}

/* 50,000 keys that agree in their first bytes and differ late: checked whole, the object is
 * taken, and the same object with its first key again at the end is refused. */
static void duplicates_among_many_similar_keys(void **state)
{
    (void)state;
    struct json_limits lim = {32, 200000};
    struct buf doc = BUF_INIT;
    buf_putc(&doc, '{');
    for (int i = 0; i < 50000; i++)
        buf_printf(&doc, "%s\"aaaaaaaaaaaaaaaa%05d\":%d", i ? "," : "", i, i);
    buf_putc(&doc, '}');
    char err[200] = "";
    assert_true(read_all(doc.data, &lim, NULL, err, sizeof(err)));
    doc.len--;
    buf_puts(&doc, ",\"aaaaaaaaaaaaaaaa00000\":0}");
    assert_false(read_all(doc.data, &lim, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "duplicate object key"));
    buf_release(&doc);
}

/* Members and strings as a caller walks them. */
static void members_and_strings(void **state)
{
    (void)state;
    static const char doc[] = "{\"name\":\"caf\\u00e9\",\"n\":3,\"skip\":{\"x\":[1]},\"t\":\"a\\tb\"}";
    struct jread r;
    jread_init(&r, doc, strlen(doc), &wide);
    assert_true(jread_object(&r));
    const char *key;
    size_t len;
    struct buf s = BUF_INIT;
    assert_true(jread_member(&r, &key, &len));
    assert_int_equal(len, 4);
    assert_memory_equal(key, "name", 4);
    assert_int_equal(jread_peek(&r), JREAD_STRING);
    assert_true(jread_string(&r, &s));
    assert_string_equal(s.data, "caf\xc3\xa9");
    assert_true(jread_member(&r, &key, &len));
    assert_int_equal(jread_peek(&r), JREAD_NUMBER);
    assert_true(jread_skip(&r, NULL));
    assert_true(jread_member(&r, &key, &len));
    assert_int_equal(jread_peek(&r), JREAD_OBJECT);
    assert_true(jread_skip(&r, NULL));
    assert_true(jread_member(&r, &key, &len));
    assert_memory_equal(key, "t", 1);
    buf_reset(&s);
    assert_true(jread_string(&r, &s));
    assert_string_equal(s.data, "a\tb");
    assert_false(jread_member(&r, &key, &len));
    assert_false(jread_failed(&r));
    assert_true(jread_end(&r));
    /* A string where a number is: an error that sticks. */
    jread_release(&r);
    jread_init(&r, "[1]", 3, &wide);
    assert_true(jread_array(&r));
    assert_true(jread_element(&r));
    assert_false(jread_string(&r, &s));
    assert_true(jread_failed(&r));
    assert_false(jread_element(&r));
    jread_release(&r);
    buf_release(&s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(same_verdict_as_the_strict_parser),
    cmocka_unit_test(errors_say_where_and_what),
    cmocka_unit_test(limits_are_the_prescans),
    cmocka_unit_test(compact_copy_keeps_the_text),
    cmocka_unit_test(duplicates_in_large_objects),
    cmocka_unit_test(duplicates_among_many_similar_keys),
    cmocka_unit_test(members_and_strings),
};

UNIT_MAIN(tests)
