/* The growable byte buffer (see buf.h for the invariants). */
#include "core/buf.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/utf8.h"

char buf__empty[1];

void buf_init(struct buf *b)
{
    b->data = buf__empty;
    b->len = 0;
    b->cap = 0;
}

void buf_release(struct buf *b)
{
    if (b->cap)
        free(b->data);
    buf_init(b);
}

char *buf_detach(struct buf *b, size_t *len)
{
    char *p = b->cap ? b->data : xstrdup("");
    if (len)
        *len = b->len;
    buf_init(b);
    return p;
}

void buf__grow(struct buf *b, size_t extra)
{
    assert(b->len <= b->cap || b->cap == 0);
    if (b->len + extra <= b->cap)
        return;
    size_t want = b->len + extra;
    size_t cap = b->cap ? b->cap : 32;
    while (cap < want)
        cap = cap < 4096 ? cap * 2 : cap + cap / 2;
    if (b->cap) {
        b->data = xrealloc(b->data, cap + 1);
    } else {
        b->data = xmalloc(cap + 1);
        b->data[0] = '\0';
    }
    b->cap = cap;
}

void buf_consume(struct buf *b, size_t n)
{
    assert(n <= b->len);
    if (n == 0)
        return;
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        buf_append(b, small, (size_t)n);
        return;
    }
    buf_grow(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

/* "00" to "99": two digits a division (a number is written from its last digits). */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

/* v's decimal digits, ending just before `end` (20 bytes before it suffice): the first. */
static char *u64_digits(uint64_t v, char *end)
{
    char *p = end;
    while (v >= 100) {
        size_t r = (size_t)(v % 100) * 2;
        v /= 100;
        p -= 2;
        memcpy(p, digit_pairs + r, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + v * 2, 2);
    } else {
        *--p = (char)('0' + v);
    }
    return p;
}

void buf_append_u64(struct buf *b, uint64_t v)
{
    char tmp[20];
    char *p = u64_digits(v, tmp + sizeof(tmp));
    buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

void buf_append_i64(struct buf *b, int64_t v)
{
    char tmp[21];
    char *p = u64_digits(v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, tmp + sizeof(tmp));
    if (v < 0)
        *--p = '-';
    buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

const bool json_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Whether the 8 bytes at p are all json_plain: none below 0x20 or from 0x80 on, no quote, no
 * backslash (each test is the word-wide "has a byte less than n", exact as a yes or no). */
static inline bool plain8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t x, q, bs;
    memcpy(&x, p, sizeof(x));
    q = x ^ (ones * '"');
    bs = x ^ (ones * '\\');
    return ((x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & highs) ==
           0;
}

void buf_append_json_string(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    buf_grow(b, len + 2);
    buf_putc(b, '"');
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (json_plain[c]) {
            size_t j = i + 1;
            while (j + 8 <= len && plain8(p + j)) /* ids and names: 8 bytes a step */
                j += 8;
            while (j < len && json_plain[p[j]])
                j++;
            buf_append(b, p + i, j - i);
            i = j;
            continue;
        }
        switch (c) {
        case '"': buf_append(b, "\\\"", 2); i++; continue;
        case '\\': buf_append(b, "\\\\", 2); i++; continue;
        case '\n': buf_append(b, "\\n", 2); i++; continue;
        case '\r': buf_append(b, "\\r", 2); i++; continue;
        case '\t': buf_append(b, "\\t", 2); i++; continue;
        default: break;
        }
        if (c < 0x20) {
            char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            buf_append(b, esc, sizeof(esc));
            i++;
            continue;
        }
        size_t n = utf8_seq_valid(p + i, len - i);
        if (n == 0) {
            buf_append(b, "\xef\xbf\xbd", 3); /* U+FFFD */
            i++;
        } else {
            buf_append(b, p + i, n);
            i += n;
        }
    }
    buf_putc(b, '"');
}
