/* The strict JSON reader (see jread.h). */
#include "core/jread.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/utf8.h"

/* Keys of one object are compared one by one as they come up to this many; an object with
 * more is checked once whole when it closes, its keys sorted (n log n whatever the keys: a
 * hash table here would let chosen keys pile into one chain). */
#define KEYS_LINEAR 16

void jread_init(struct jread *r, const char *data, size_t len, const struct json_limits *lim)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->keys_text);
    buf_init(&r->num);
    jread_reset(r, data, len, lim);
}

void jread_reset(struct jread *r, const char *data, size_t len, const struct json_limits *lim)
{
    size_t frames = (size_t)(lim->max_depth > 0 ? lim->max_depth : 0) + 1;
    if (frames > r->frames_cap) {
        free(r->frames);
        r->frames = xcalloc(frames, sizeof(*r->frames));
        r->frames_cap = frames;
    }
    r->begin = r->p = (const unsigned char *)data;
    r->end = r->begin + len;
    r->lim = lim;
    r->elements = 0;
    r->depth = 0;
    r->error = NULL;
    r->error_at = 0;
    r->limit = false;
    r->n_keys = 0;
    buf_reset(&r->keys_text);
}

void jread_release(struct jread *r)
{
    free(r->frames);
    free(r->keys);
    buf_release(&r->keys_text);
    buf_release(&r->num);
    memset(r, 0, sizeof(*r));
}

static bool fail(struct jread *r, const unsigned char *at, const char *what)
{
    if (!r->error) {
        r->error = what;
        r->error_at = (size_t)(at - r->begin);
    }
    return false;
}

static bool count(struct jread *r)
{
    if (++r->elements > r->lim->max_elements) {
        r->limit = true;
        return fail(r, r->p, "too many values");
    }
    return true;
}

void jread_error(const struct jread *r, char *err, size_t errlen)
{
    if (r->limit && strcmp(r->error, "too deep") == 0)
        snprintf(err, errlen, "JSON nesting deeper than %d", r->lim->max_depth);
    else if (r->limit)
        snprintf(err, errlen, "JSON has more than %zu values", r->lim->max_elements);
    else
        snprintf(err, errlen, "invalid JSON at byte %zu: %s", r->error_at,
                 r->error ? r->error : "no error");
}

static void ws(struct jread *r)
{
    while (r->p < r->end &&
           (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

enum jread_type jread_peek(struct jread *r)
{
    if (r->error)
        return JREAD_ERROR;
    ws(r);
    if (r->p == r->end) {
        fail(r, r->p, "unexpected end of input");
        return JREAD_ERROR;
    }
    switch (*r->p) {
    case '{': return JREAD_OBJECT;
    case '[': return JREAD_ARRAY;
    case '"': return JREAD_STRING;
    case 't': return JREAD_TRUE;
    case 'f': return JREAD_FALSE;
    case 'n': return JREAD_NULL;
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return JREAD_NUMBER;
    default:
        fail(r, r->p, "unexpected character");
        return JREAD_ERROR;
    }
}

/* ---- strings -------------------------------------------------------------------------------- */

static int hex4(const unsigned char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

static void put_utf8(struct buf *out, uint32_t cp)
{
    char s[4];
    size_t n;
    if (cp < 0x80) {
        s[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        s[0] = (char)(0xc0 | (cp >> 6));
        s[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        s[0] = (char)(0xe0 | (cp >> 12));
        s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        s[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        s[0] = (char)(0xf0 | (cp >> 18));
        s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        s[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        s[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_append(out, s, n);
}

/* The escape after a backslash at r->p (which points at the backslash); appends what it
 * stands for to out (may be NULL) and moves past it. */
static bool escape(struct jread *r, struct buf *out)
{
    const unsigned char *at = r->p;
    if (r->end - r->p < 2)
        return fail(r, at, "unterminated string");
    unsigned char c = r->p[1];
    char plain;
    switch (c) {
    case '"': plain = '"'; break;
    case '\\': plain = '\\'; break;
    case '/': plain = '/'; break;
    case 'b': plain = '\b'; break;
    case 'f': plain = '\f'; break;
    case 'n': plain = '\n'; break;
    case 'r': plain = '\r'; break;
    case 't': plain = '\t'; break;
    case 'u': {
        if (r->end - r->p < 6)
            return fail(r, at, "invalid \\u escape");
        int v = hex4(r->p + 2);
        if (v < 0)
            return fail(r, at, "invalid \\u escape");
        uint32_t cp = (uint32_t)v;
        r->p += 6;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return fail(r, at, "invalid Unicode escape (lone low surrogate)");
        if (cp >= 0xd800 && cp <= 0xdbff) {
            int lo = r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u' ? hex4(r->p + 2)
                                                                            : -1;
            if (lo < 0xdc00 || lo > 0xdfff)
                return fail(r, at, "invalid Unicode escape (lone high surrogate)");
            cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
            r->p += 6;
        }
        if (cp == 0)
            return fail(r, at, "\\u0000 is not allowed");
        if (out)
            put_utf8(out, cp);
        return true;
    }
    default:
        return fail(r, at, "invalid escape");
    }
    if (out)
        buf_putc(out, plain);
    r->p += 2;
    return true;
}

/* A string at r->p (a quote): validated, unescaped into out when given. */
static bool string(struct jread *r, struct buf *out)
{
    const unsigned char *open = r->p;
    if (!count(r))
        return false;
    r->p++;
    for (;;) {
        const unsigned char *run = r->p;
        while (r->p < r->end && json_plain[*r->p])
            r->p++;
        if (out && r->p > run)
            buf_append(out, run, (size_t)(r->p - run));
        if (r->p == r->end)
            return fail(r, open, "unterminated string");
        unsigned char c = *r->p;
        if (c == '"') {
            r->p++;
            return true;
        }
        if (c == '\\') {
            if (!escape(r, out))
                return false;
            continue;
        }
        if (c >= 0xc0) { /* a multi-byte sequence starts (utf8_seq_valid checks the rest) */
            size_t n = utf8_seq_valid(r->p, (size_t)(r->end - r->p));
            if (n == 0)
                return fail(r, r->p, "invalid UTF-8");
            if (out)
                buf_append(out, r->p, n);
            r->p += n;
            continue;
        }
        return fail(r, r->p, c < 0x20 ? "control character in a string" : "invalid UTF-8");
    }
}

bool jread_string(struct jread *r, struct buf *out)
{
    if (jread_peek(r) != JREAD_STRING)
        return r->error ? false : fail(r, r->p, "a string was expected");
    return string(r, out);
}

/* ---- numbers and literals ------------------------------------------------------------------ */

static bool digits(struct jread *r)
{
    const unsigned char *s = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        r->p++;
    return r->p > s;
}

static bool number(struct jread *r)
{
    const unsigned char *s = r->p;
    if (!count(r))
        return false;
    bool neg = *r->p == '-';
    if (neg)
        r->p++;
    if (r->p < r->end && *r->p == '0') {
        r->p++;
        if (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            return fail(r, s, "invalid number (leading zero)");
    } else if (!digits(r)) {
        return fail(r, s, "invalid number");
    }
    bool real = false;
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        real = true;
        if (!digits(r))
            return fail(r, s, "invalid number");
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        real = true;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (!digits(r))
            return fail(r, s, "invalid number");
    }
    if (!real) {
        /* Exact in int64, as jansson requires. */
        uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (const unsigned char *d = s + neg; d < r->p; d++) {
            unsigned dv = (unsigned)(*d - '0');
            if (v > (limit - dv) / 10)
                return fail(r, s, neg ? "too big negative integer" : "too big integer");
            v = v * 10 + dv;
        }
        return true;
    }
    buf_reset(&r->num);
    buf_append(&r->num, s, (size_t)(r->p - s));
    errno = 0;
    double d = strtod(r->num.data, NULL);
    if (errno == ERANGE && isinf(d))
        return fail(r, s, "real number overflow");
    return true;
}

static bool literal(struct jread *r, const char *word, size_t n)
{
    if (!count(r))
        return false;
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return fail(r, r->p, "invalid literal");
    r->p += n;
    return true;
}

/* ---- containers ------------------------------------------------------------------------------ */

static bool open_container(struct jread *r, bool object)
{
    if (!count(r))
        return false;
    if (r->depth >= r->lim->max_depth) {
        r->limit = true;
        return fail(r, r->p, "too deep");
    }
    struct jread_frame *f = &r->frames[r->depth++];
    memset(f, 0, sizeof(*f));
    f->object = object;
    f->first = true;
    f->key_base = r->n_keys;
    f->text_base = r->keys_text.len;
    r->p++;
    return true;
}

static int key_order(const void *a, const void *b, void *text)
{
    const struct jread_key *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp((const char *)text + x->off, (const char *)text + y->off, x->len);
}

/* Closes the innermost container at r->p; false when it is an object with a key twice. */
static bool close_container(struct jread *r)
{
    struct jread_frame *f = &r->frames[--r->depth];
    size_t n = r->n_keys - f->key_base;
    if (f->object && n > KEYS_LINEAR) {
        struct jread_key *k = r->keys + f->key_base;
        qsort_r(k, n, sizeof(*k), key_order, r->keys_text.data);
        for (size_t i = 1; i < n; i++)
            if (key_order(&k[i - 1], &k[i], r->keys_text.data) == 0)
                return fail(r, r->p, "duplicate object key");
    }
    r->n_keys = f->key_base;
    r->keys_text.len = f->text_base;
    r->p++;
    return true;
}

bool jread_object(struct jread *r)
{
    if (jread_peek(r) != JREAD_OBJECT)
        return r->error ? false : fail(r, r->p, "an object was expected");
    return open_container(r, true);
}

bool jread_array(struct jread *r)
{
    if (jread_peek(r) != JREAD_ARRAY)
        return r->error ? false : fail(r, r->p, "an array was expected");
    return open_container(r, false);
}

/* After an element or member, or at the start: true when another one follows. */
static bool more(struct jread *r, unsigned char close)
{
    if (r->error)
        return false;
    struct jread_frame *f = &r->frames[r->depth - 1];
    ws(r);
    if (r->p == r->end)
        return fail(r, r->p, "unexpected end of input");
    if (*r->p == close) {
        close_container(r);
        return false; /* the end, or an error close_container set */
    }
    if (!f->first) {
        if (*r->p != ',')
            return fail(r, r->p, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
        r->p++;
        ws(r);
    }
    f->first = false;
    return true;
}

static uint32_t key_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static bool same_key(const struct jread *r, const struct jread_key *k, uint32_t h,
                     const char *s, size_t n)
{
    return k->hash == h && k->len == n && memcmp(r->keys_text.data + k->off, s, n) == 0;
}

/* Records the key just appended to keys_text at `off`; false when the object has it already
 * (checked here for its first KEYS_LINEAR keys, then when it closes). */
static bool add_key(struct jread *r, struct jread_frame *f, size_t off)
{
    const char *s = r->keys_text.data + off;
    size_t n = r->keys_text.len - off;
    uint32_t h = key_hash(s, n);
    if (r->n_keys - f->key_base < KEYS_LINEAR) {
        for (size_t i = f->key_base; i < r->n_keys; i++)
            if (same_key(r, &r->keys[i], h, s, n))
                return false;
    }
    if (r->n_keys == r->keys_cap) {
        r->keys_cap = r->keys_cap ? r->keys_cap * 2 : 32;
        r->keys = xrealloc(r->keys, r->keys_cap * sizeof(*r->keys));
    }
    r->keys[r->n_keys++] = (struct jread_key){ h, (uint32_t)n, off };
    return true;
}

/* The next member's key (see jread_member); raw[0..raw_len) is its quoted text as sent. */
static bool member(struct jread *r, const char **key, size_t *key_len, const unsigned char **raw,
                   size_t *raw_len)
{
    if (!more(r, '}'))
        return false;
    struct jread_frame *f = &r->frames[r->depth - 1];
    if (r->p == r->end || *r->p != '"')
        return fail(r, r->p, "a key was expected");
    const unsigned char *at = r->p;
    size_t off = r->keys_text.len;
    if (!string(r, &r->keys_text))
        return false;
    *raw = at;
    *raw_len = (size_t)(r->p - at);
    *key_len = r->keys_text.len - off;
    if (!add_key(r, f, off))
        return fail(r, at, "duplicate object key");
    ws(r);
    if (r->p == r->end || *r->p != ':')
        return fail(r, r->p, "':' expected");
    r->p++;
    *key = r->keys_text.data + off;
    return true;
}

bool jread_member(struct jread *r, const char **key, size_t *key_len)
{
    const unsigned char *raw;
    size_t raw_len;
    return member(r, key, key_len, &raw, &raw_len);
}

bool jread_element(struct jread *r)
{
    return more(r, ']');
}

/* ---- skipping ------------------------------------------------------------------------------ */

bool jread_skip(struct jread *r, struct buf *compact)
{
    int base = r->depth;
    for (;;) {
        /* A value starts here. */
        enum jread_type t = jread_peek(r);
        const unsigned char *s = r->p;
        bool ok;
        switch (t) {
        case JREAD_OBJECT:
        case JREAD_ARRAY:
            ok = open_container(r, t == JREAD_OBJECT);
            if (ok && compact)
                buf_putc(compact, t == JREAD_OBJECT ? '{' : '[');
            break;
        case JREAD_STRING: ok = string(r, NULL); break;
        case JREAD_NUMBER: ok = number(r); break;
        case JREAD_TRUE: ok = literal(r, "true", 4); break;
        case JREAD_FALSE: ok = literal(r, "false", 5); break;
        case JREAD_NULL: ok = literal(r, "null", 4); break;
        default: return false;
        }
        if (!ok)
            return false;
        if (compact && t != JREAD_OBJECT && t != JREAD_ARRAY)
            buf_append(compact, s, (size_t)(r->p - s));
        /* Then the next value inside an open container, or the containers' ends. */
        for (;;) {
            if (r->depth == base)
                return true;
            struct jread_frame *f = &r->frames[r->depth - 1];
            bool first = f->first;
            if (f->object) {
                const char *k;
                size_t kn, raw_len;
                const unsigned char *raw;
                if (member(r, &k, &kn, &raw, &raw_len)) {
                    if (compact) {
                        if (!first)
                            buf_putc(compact, ',');
                        buf_append(compact, raw, raw_len); /* the key as sent */
                        buf_putc(compact, ':');
                    }
                    break; /* its value */
                }
                if (r->error)
                    return false;
                if (compact)
                    buf_putc(compact, '}');
            } else {
                if (jread_element(r)) {
                    if (compact && !first)
                        buf_putc(compact, ',');
                    break;
                }
                if (r->error)
                    return false;
                if (compact)
                    buf_putc(compact, ']');
            }
        }
    }
}

bool jread_end(struct jread *r)
{
    if (r->error)
        return false;
    ws(r);
    if (r->p != r->end)
        return fail(r, r->p, "end of input expected");
    return true;
}
