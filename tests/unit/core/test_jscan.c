/* Unit tests for src/core/jscan.c: the rules read events' metadata through it, so a member
 * found wrong, a string unescaped wrong or a number read wrong would change what an event is
 * worth. The fuzz target (tests/fuzz/fuzz_jscan.c) checks the same against jansson on any
 * document. */
#include "unit.h"

#include <stdint.h>
#include <string.h>

#include "core/jscan.h"

static struct jscan_value doc(const char *text)
{
    struct jscan_value v;
    assert_true(jscan_value(text, strlen(text), &v));
    return v;
}

/* The member at a dotted path of keys (no escapes in the keys here), or false. */
static bool at(const char *text, const char *path, struct jscan_value *out)
{
    *out = doc(text);
    for (const char *seg = path; *seg;) {
        const char *dot = strchr(seg, '.');
        size_t len = dot ? (size_t)(dot - seg) : strlen(seg);
        if (!jscan_member(out, seg, len, out))
            return false;
        seg += len + (dot != NULL);
    }
    return true;
}

static void members_are_found_by_key_at_any_depth(void **state)
{
    (void)state;
    const char *t = "{\"a\":1,\"ab\":{\"c\":[1,{\"a\":2}],\"d\":{\"e\":\"x\"}},\"b\":true}";
    struct jscan_value v;
    assert_true(at(t, "a", &v));
    assert_int_equal(v.type, JSCAN_NUMBER);
    assert_true(at(t, "ab.d.e", &v));
    assert_int_equal(v.type, JSCAN_STRING);
    assert_int_equal(v.len, 1);
    assert_memory_equal(v.at, "x", 1);
    assert_true(at(t, "b", &v));
    assert_int_equal(v.type, JSCAN_TRUE);
    assert_true(at(t, "ab.c", &v));
    assert_int_equal(v.type, JSCAN_ARRAY);
    assert_int_equal(v.len, strlen("[1,{\"a\":2}]"));
    /* A key inside a skipped value is not a member; nor is a prefix of a key. */
    assert_false(at(t, "e", &v));
    assert_false(at(t, "ab.a", &v));
    assert_false(at(t, "abc", &v));
    assert_false(at(t, "a.b", &v)); /* a number has no members */
    assert_false(at("{}", "a", &v));
}

static void whitespace_and_escapes_are_read_as_jansson_reads_them(void **state)
{
    (void)state;
    const char *t = " { \"k\\u0065y\" : \"tab\\there \\\"q\\\" \\u00e9 \\ud83d\\ude00\" ,\n"
                    "\t\"n\" : [ 1 , \"}]\" , null ] } ";
    struct jscan_value v;
    assert_true(at(t, "key", &v));
    assert_true(v.escaped);
    struct buf b = BUF_INIT;
    assert_true(jscan_string(&v, &b));
    assert_string_equal(b.data, "tab\there \"q\" \xc3\xa9 \xf0\x9f\x98\x80");
    buf_release(&b);
    assert_false(at(t, "k\\u0065y", &v)); /* keys compare as unescaped */

    assert_true(at(t, "n", &v));
    size_t pos = 0;
    struct jscan_value e;
    enum jscan_type want[] = { JSCAN_NUMBER, JSCAN_STRING, JSCAN_NULL };
    for (size_t i = 0; i < 3; i++) {
        assert_true(jscan_element(&v, &pos, &e));
        assert_int_equal(e.type, want[i]);
    }
    assert_int_equal(e.len, 4);
    assert_false(jscan_element(&v, &pos, &e));
    struct jscan_value empty = doc("[ ]");
    pos = 0;
    assert_false(jscan_element(&empty, &pos, &e));
}

static void numbers_are_integers_when_jansson_makes_them_integers(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool is_int;
        int64_t i;
        double d;
    } cases[] = {
        { "0", true, 0, 0 },
        { "-0", true, 0, 0 },
        { "42", true, 42, 42 },
        { "-17", true, -17, -17 },
        { "9223372036854775807", true, INT64_MAX, 9223372036854775807.0 },
        { "-9223372036854775808", true, INT64_MIN, -9223372036854775808.0 },
        { "9007199254740993", true, 9007199254740993LL, 9007199254740992.0 },
        { "1.0", false, 0, 1.0 },
        { "0.1", false, 0, 0.1 },
        { "-2.5e3", false, 0, -2500.0 },
        { "1E2", false, 0, 100.0 },
        { "1e-400", false, 0, 0.0 },
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct jscan_value v = doc(cases[k].text);
        assert_int_equal(v.type, JSCAN_NUMBER);
        bool is_int;
        int64_t i;
        double d;
        assert_true(jscan_number(&v, &is_int, &i, &d));
        if (is_int != cases[k].is_int || d != cases[k].d || (is_int && i != cases[k].i))
            fail_msg("%s: read as %s %lld %.17g", cases[k].text, is_int ? "int" : "real",
                     (long long)i, d);
    }
    /* A long real is read whole. */
    char longer[200];
    memset(longer, '0', sizeof(longer) - 1);
    longer[0] = '1';
    longer[1] = '.';
    longer[sizeof(longer) - 2] = '5';
    longer[sizeof(longer) - 1] = '\0';
    struct jscan_value v = doc(longer);
    bool is_int;
    int64_t i;
    double d;
    assert_true(jscan_number(&v, &is_int, &i, &d));
    assert_false(is_int);
    assert_true(d == 1.0);
}

/* Text that is not JSON, cut anywhere: no lookup reads past it (ASan would tell). */
static void broken_text_is_never_read_past(void **state)
{
    (void)state;
    const char *t = "{\"a\":{\"b\":[1,\"x\\\"\",{\"c\":true}]},\"d\":\"e\",\"f\":nul}";
    size_t n = strlen(t);
    for (size_t len = 0; len <= n; len++) {
        char *cut = malloc(len ? len : 1);
        assert_non_null(cut);
        memcpy(cut, t, len);
        struct jscan_value v, m;
        if (jscan_value(cut, len, &v)) {
            const char *keys[] = { "a", "d", "f", "zz" };
            for (size_t k = 0; k < 4; k++)
                if (jscan_member(&v, keys[k], strlen(keys[k]), &m)) {
                    assert_true(m.at >= cut && m.at + m.len <= cut + len);
                    struct jscan_value b;
                    if (jscan_member(&m, "b", 1, &b)) {
                        size_t pos = 0;
                        struct jscan_value e;
                        while (jscan_element(&b, &pos, &e))
                            assert_true(e.at + e.len <= cut + len);
                    }
                }
        }
        free(cut);
    }
    struct jscan_value v;
    assert_false(jscan_value("", 0, &v));
    assert_false(jscan_value("  ", 2, &v));
    assert_false(jscan_value("nul", 3, &v));
    assert_false(jscan_value("\"open", 5, &v));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(members_are_found_by_key_at_any_depth),
    cmocka_unit_test(whitespace_and_escapes_are_read_as_jansson_reads_them),
    cmocka_unit_test(numbers_are_integers_when_jansson_makes_them_integers),
    cmocka_unit_test(broken_text_is_never_read_past),
};

UNIT_MAIN(tests)
