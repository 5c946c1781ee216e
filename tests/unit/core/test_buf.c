/* Unit tests for src/core/buf.c: the growable buffer and its JSON string and integer
 * formatting. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"

static void init_is_empty_string(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    buf_release(&b); /* releasing an unallocated buffer is fine */
    assert_string_equal(b.data, "");
}

static void append_keeps_terminator(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_append(&b, "abc", 3);
    buf_puts(&b, "def");
    buf_putc(&b, 'g');
    assert_int_equal(b.len, 7);
    assert_string_equal(b.data, "abcdefg");
    assert_int_equal(b.data[b.len], '\0');
    assert_true(b.cap >= b.len);
    buf_append(&b, "", 0);
    assert_int_equal(b.len, 7);
    buf_release(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

static void append_binary_with_nul(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_append(&b, "a\0b", 3);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 4);
    buf_release(&b);
}

static void append_grows_across_many_reallocations(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    for (int i = 0; i < 10000; i++)
        buf_putc(&b, (char)('a' + i % 26));
    assert_int_equal(b.len, 10000);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(b.data[i], 'a' + i % 26);
    assert_int_equal(b.data[10000], '\0');
    buf_release(&b);
}

static void printf_small_and_large(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_printf(&b, "%d-%s", 42, "x");
    assert_string_equal(b.data, "42-x");

    /* Longer than the 256-byte stack buffer: takes the second vsnprintf path. */
    char big[1000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    buf_printf(&b, "[%s]", big);
    assert_int_equal(b.len, 4 + 1 + 999 + 1);
    assert_memory_equal(b.data, "42-x[z", 6);
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(strlen(b.data), b.len);
    buf_release(&b);
}

static void printf_exactly_256_bytes(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    char s[257];
    memset(s, 'q', 256);
    s[256] = '\0';
    buf_printf(&b, "%s", s);
    assert_int_equal(b.len, 256);
    assert_string_equal(b.data, s);
    buf_release(&b);
}

static void detach_hands_out_memory(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_puts(&b, "hello");
    size_t len = 0;
    char *p = buf_detach(&b, &len);
    assert_int_equal(len, 5);
    assert_string_equal(p, "hello");
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_string_equal(b.data, "");
    free(p);

    /* An empty buffer still detaches a freeable string. */
    p = buf_detach(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 0);
    assert_string_equal(p, "");
    free(p);
}

static void consume_drops_prefix(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_puts(&b, "0123456789");
    buf_consume(&b, 0);
    assert_string_equal(b.data, "0123456789");
    buf_consume(&b, 3);
    assert_int_equal(b.len, 7);
    assert_string_equal(b.data, "3456789");
    buf_consume(&b, 7);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    buf_release(&b);
}

static void reset_keeps_memory(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_puts(&b, "something");
    size_t cap = b.cap;
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(b.cap, cap);
    buf_release(&b);
}

/* Checks that in[0..len) appended as a JSON string gives exactly `want`. */
static void check_json(const char *in, size_t len, const char *want)
{
    struct buf b = BUF_INIT;
    buf_append_json_string(&b, in, len);
    assert_string_equal(b.data, want);
    assert_int_equal(b.len, strlen(want));
    /* Whatever the input, the output is a valid JSON string. */
    json_error_t jerr;
    json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j)
        fail_msg("not valid JSON: %s (%s)", b.data, jerr.text);
    assert_true(json_is_string(j));
    json_decref(j);
    buf_release(&b);
}

static void json_string_plain_and_escapes(void **state)
{
    (void)state;
    check_json("", 0, "\"\"");
    check_json("hello", 5, "\"hello\"");
    check_json("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    check_json("l1\nl2\r\tx", 8, "\"l1\\nl2\\r\\tx\"");
    check_json("/", 1, "\"/\"");
}

static void json_string_control_chars(void **state)
{
    (void)state;
    check_json("\x01", 1, "\"\\u0001\"");
    check_json("a\x1f"
               "b",
               3, "\"a\\u001fb\"");
    check_json("\b\f", 2, "\"\\u0008\\u000c\"");
    check_json("x\0y", 3, "\"x\\u0000y\"");
    check_json("\x7f", 1, "\"\x7f\""); /* DEL is allowed raw in JSON */
}

/* Every single byte, between plain text: kept, escaped or replaced as the rules say. */
static void json_string_every_byte(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        char in[3] = { 'a', (char)c, 'b' }, want[16];
        if (c == '"' || c == '\\')
            snprintf(want, sizeof(want), "\"a\\%cb\"", c);
        else if (c == '\n' || c == '\r' || c == '\t')
            snprintf(want, sizeof(want), "\"a\\%cb\"", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
        else if (c < 0x20)
            snprintf(want, sizeof(want), "\"a\\u%04xb\"", c);
        else if (c >= 0x80)
            snprintf(want, sizeof(want), "\"a\xef\xbf\xbd" "b\""); /* a lone byte: U+FFFD */
        else
            snprintf(want, sizeof(want), "\"a%cb\"", c);
        check_json(in, 3, want);
    }
}

/* The reference for one byte of a JSON string, written out plainly (no shared table). */
static void ref_byte(struct buf *out, unsigned char c)
{
    if (c == '"' || c == '\\')
        buf_printf(out, "\\%c", c);
    else if (c == '\n' || c == '\r' || c == '\t')
        buf_printf(out, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
    else if (c < 0x20)
        buf_printf(out, "\\u%04x", c);
    else if (c >= 0x80)
        buf_puts(out, "\xef\xbf\xbd");
    else
        buf_putc(out, (char)c);
}

/* Runs of plain bytes are scanned 8 at a time: every byte value at every offset of strings
 * of several lengths around the step (and once more after a first special byte) gives what
 * the byte-by-byte reference gives. */
static void json_string_every_byte_at_every_offset(void **state)
{
    (void)state;
    unsigned char in[40];
    struct buf want = BUF_INIT, got = BUF_INIT;
    for (size_t len = 1; len <= sizeof(in); len += 3) {
        for (size_t at = 0; at < len; at++) {
            for (int c = 0; c < 256; c++) {
                for (size_t k = 0; k < len; k++)
                    in[k] = (unsigned char)('A' + k % 26);
                in[at] = (unsigned char)c;
                if (at + 9 < len)
                    in[at + 9] = '"'; /* a second special byte, one step on */
                buf_reset(&want);
                buf_putc(&want, '"');
                for (size_t k = 0; k < len; k++)
                    ref_byte(&want, in[k]);
                buf_putc(&want, '"');
                buf_reset(&got);
                buf_append_json_string(&got, (const char *)in, len);
                if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0)
                    fail_msg("byte %#x at %zu of %zu: %s, want %s", c, at, len, got.data,
                             want.data);
            }
        }
    }
    buf_release(&want);
    buf_release(&got);
}

static void json_string_valid_multibyte_kept(void **state)
{
    (void)state;
    check_json("\xc3\xa9", 2, "\"\xc3\xa9\"");                 /* é */
    check_json("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");         /* € */
    check_json("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""); /* U+1F600 */
    check_json("\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
    check_json("a\xc3\xa9z", 4, "\"a\xc3\xa9z\"");
}

static void json_string_invalid_utf8_replaced(void **state)
{
    (void)state;
    const char *fffd = "\xef\xbf\xbd";
    char want[64];

    snprintf(want, sizeof(want), "\"a%sb\"", fffd);
    check_json("a\xff"
               "b",
               3, want); /* never valid */
    check_json("a\x80"
               "b",
               3, want); /* lone continuation */
    check_json("a\xc3"
               "b",
               3, want); /* lead byte, no continuation */
    snprintf(want, sizeof(want), "\"%s%s\"", fffd, fffd);
    check_json("\xc0\xaf", 2, want); /* overlong '/' */
    snprintf(want, sizeof(want), "\"%s%s%s\"", fffd, fffd, fffd);
    check_json("\xed\xa0\x80", 3, want); /* UTF-16 surrogate D800 */
    check_json("\xe0\x80\xaf", 3, want); /* overlong 3-byte */
    snprintf(want, sizeof(want), "\"%s%s%s%s\"", fffd, fffd, fffd, fffd);
    check_json("\xf4\x90\x80\x80", 4, want); /* above U+10FFFF */
    snprintf(want, sizeof(want), "\"x%s%s\"", fffd, fffd);
    check_json("x\xe2\x82", 3, want); /* truncated at the end */
}

static void json_string_appends(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_puts(&b, "k=");
    buf_append_json_string(&b, "v", 1);
    assert_string_equal(b.data, "k=\"v\"");
    buf_release(&b);
}

static void integers(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_append_u64(&b, 0);
    buf_putc(&b, ' ');
    buf_append_u64(&b, UINT64_MAX);
    buf_putc(&b, ' ');
    buf_append_i64(&b, 0);
    buf_putc(&b, ' ');
    buf_append_i64(&b, -1);
    buf_putc(&b, ' ');
    buf_append_i64(&b, INT64_MAX);
    buf_putc(&b, ' ');
    buf_append_i64(&b, INT64_MIN);
    buf_putc(&b, ' ');
    buf_append_u64(&b, 1000);
    assert_string_equal(b.data, "0 18446744073709551615 0 -1 9223372036854775807 "
                                "-9223372036854775808 1000");
    buf_release(&b);
}

/* Every value of a sweep written as snprintf writes it: each number of up to five digits, each
 * power of ten and its neighbours, the ends of both types, and a million pseudo-random values
 * of every length (a fixed seed). */
static void check_u64(struct buf *b, uint64_t v)
{
    char want[32];
    snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
    buf_reset(b);
    buf_append_u64(b, v);
    assert_string_equal(b->data, want);
}

static void check_i64(struct buf *b, int64_t v)
{
    char want[32];
    snprintf(want, sizeof(want), "%lld", (long long)v);
    buf_reset(b);
    buf_append_i64(b, v);
    assert_string_equal(b->data, want);
}

static void integers_as_snprintf_writes_them(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    for (int64_t v = -100000; v <= 100000; v++) {
        check_i64(&b, v);
        if (v >= 0)
            check_u64(&b, (uint64_t)v);
    }
    for (uint64_t p = 1, k = 0; k < 20; k++, p *= 10) {
        for (int d = -2; d <= 2; d++) {
            check_u64(&b, p + (uint64_t)d);
            check_i64(&b, (int64_t)(p + (uint64_t)d));
            check_i64(&b, -(int64_t)(p + (uint64_t)d));
        }
    }
    check_u64(&b, UINT64_MAX);
    check_u64(&b, UINT64_MAX - 1);
    check_i64(&b, INT64_MAX);
    check_i64(&b, INT64_MIN);
    check_i64(&b, INT64_MIN + 1);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 1000000; i++) {
        x ^= x << 13; /* xorshift64 */
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t v = x >> (i % 64); /* every length of number */
        check_u64(&b, v);
        check_i64(&b, (int64_t)v);
        check_i64(&b, -(int64_t)(v >> 1));
    }
    buf_release(&b);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(init_is_empty_string),
    cmocka_unit_test(integers_as_snprintf_writes_them),
    cmocka_unit_test(append_keeps_terminator),
    cmocka_unit_test(append_binary_with_nul),
    cmocka_unit_test(append_grows_across_many_reallocations),
    cmocka_unit_test(printf_small_and_large),
    cmocka_unit_test(printf_exactly_256_bytes),
    cmocka_unit_test(detach_hands_out_memory),
    cmocka_unit_test(consume_drops_prefix),
    cmocka_unit_test(reset_keeps_memory),
    cmocka_unit_test(json_string_plain_and_escapes),
    cmocka_unit_test(json_string_control_chars),
    cmocka_unit_test(json_string_every_byte),
    cmocka_unit_test(json_string_every_byte_at_every_offset),
    cmocka_unit_test(json_string_valid_multibyte_kept),
    cmocka_unit_test(json_string_invalid_utf8_replaced),
    cmocka_unit_test(json_string_appends),
    cmocka_unit_test(integers),
};

UNIT_MAIN(tests)
