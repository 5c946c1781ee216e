/* Values read out of a JSON text in place (see jscan.h). */
#include "core/jscan.h"

#include <stdlib.h>
#include <string.h>

#include "core/jread.h"
#include "core/json.h"

static const char *ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* Past the string whose opening quote is at p, or NULL when it does not end. */
static const char *string_end(const char *p, const char *end, bool *escaped)
{
    for (p++; p < end; p++) {
        if (*p == '"')
            return p + 1;
        if (*p == '\\') {
            *escaped = true;
            if (++p == end)
                return NULL;
        }
    }
    return NULL;
}

static const char *literal_end(const char *p, const char *end, const char *word, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/* Past the value that starts at p (p < end), or NULL. Containers are skipped by counting
 * brackets outside strings: no recursion, whatever the depth. */
static const char *skip(const char *p, const char *end)
{
    bool escaped = false;
    switch (*p) {
    case '"': return string_end(p, end, &escaped);
    case '{':
    case '[': {
        size_t depth = 0;
        for (; p < end; p++) {
            char c = *p;
            if (c == '"') {
                p = string_end(p, end, &escaped);
                if (!p)
                    return NULL;
                p--;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if ((c == '}' || c == ']') && --depth == 0) {
                return p + 1;
            }
        }
        return NULL;
    }
    case 't': return literal_end(p, end, "true", 4);
    case 'f': return literal_end(p, end, "false", 5);
    case 'n': return literal_end(p, end, "null", 4);
    default: {
        const char *q = p;
        while (q < end && ((*q >= '0' && *q <= '9') || *q == '-' || *q == '+' || *q == '.' ||
                           *q == 'e' || *q == 'E'))
            q++;
        return q > p ? q : NULL;
    }
    }
}

/* The value at [p, vend) typed into out. */
static void typed(const char *p, const char *vend, bool escaped, struct jscan_value *out)
{
    out->at = p;
    out->len = (size_t)(vend - p);
    out->escaped = false;
    switch (*p) {
    case '{': out->type = JSCAN_OBJECT; break;
    case '[': out->type = JSCAN_ARRAY; break;
    case '"':
        out->type = JSCAN_STRING;
        out->at = p + 1;
        out->len = (size_t)(vend - p) - 2;
        out->escaped = escaped;
        break;
    case 't': out->type = JSCAN_TRUE; break;
    case 'f': out->type = JSCAN_FALSE; break;
    case 'n': out->type = JSCAN_NULL; break;
    default: out->type = JSCAN_NUMBER; break;
    }
}

/* The value starting at p (after whitespace) into out, and where it ends; NULL if none. */
static const char *value_at(const char *p, const char *end, struct jscan_value *out)
{
    p = ws(p, end);
    if (p >= end)
        return NULL;
    bool escaped = false;
    const char *vend = *p == '"' ? string_end(p, end, &escaped) : skip(p, end);
    if (!vend)
        return NULL;
    typed(p, vend, escaped, out);
    return vend;
}

bool jscan_value(const char *text, size_t len, struct jscan_value *out)
{
    if (!text)
        return false;
    const char *end = text + len, *p = ws(text, end);
    while (end > p && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t'))
        end--;
    if (end - p >= 2 && ((*p == '{' && end[-1] == '}') || (*p == '[' && end[-1] == ']'))) {
        /* The text is one value: a container ends where the text does, with no need to
         * scan it for its end (a lookup scans only the members before the one it wants). */
        typed(p, end, false, out);
        return true;
    }
    return value_at(p, end, out) != NULL;
}

/* An escaped key as sent (raw, between its quotes) against one as unescaped. An escape takes
 * more bytes than what it stands for, so a raw text shorter than the key cannot be it. */
bool jscan_escaped_key_is(const struct jscan_value *key, const char *name, size_t len)
{
    if (key->len < len)
        return false;
    struct buf b = BUF_INIT;
    bool same = jscan_string(key, &b) && b.len == len && memcmp(b.data, name, len) == 0;
    buf_release(&b);
    return same;
}

bool jscan_next_member(const struct jscan_value *obj, size_t *pos, struct jscan_value *key,
                       struct jscan_value *out)
{
    if (obj->type != JSCAN_OBJECT || *pos >= obj->len)
        return false;
    const char *end = obj->at + obj->len, *p = ws(obj->at + (*pos ? *pos : 1), end);
    if (*pos) {
        if (p >= end || *p != ',')
            return false; /* the object's end (or text that is not JSON) */
        p = ws(p + 1, end);
    }
    if (p >= end || *p != '"')
        return false;
    bool escaped = false;
    const char *kend = string_end(p, end, &escaped);
    if (!kend)
        return false;
    typed(p, kend, escaped, key);
    p = ws(kend, end);
    if (p >= end || *p != ':')
        return false;
    const char *vend = value_at(p + 1, end, out);
    if (!vend)
        return false;
    *pos = (size_t)(vend - obj->at);
    return true;
}

bool jscan_member(const struct jscan_value *obj, const char *key, size_t key_len,
                  struct jscan_value *out)
{
    const struct jscan_value o = *obj; /* out may be obj */
    size_t pos = 0;
    struct jscan_value k;
    while (jscan_next_member(&o, &pos, &k, out))
        if (jscan_key_is(&k, key, key_len))
            return true;
    return false;
}

bool jscan_element(const struct jscan_value *arr, size_t *pos, struct jscan_value *out)
{
    if (arr->type != JSCAN_ARRAY || *pos >= arr->len)
        return false;
    const char *end = arr->at + arr->len, *p = ws(arr->at + (*pos ? *pos : 1), end);
    if (p >= end || *p == ']')
        return false;
    if (*pos) {
        if (*p != ',')
            return false;
        p++;
    }
    const char *vend = value_at(p, end, out);
    if (!vend)
        return false;
    *pos = (size_t)(vend - arr->at);
    return true;
}

bool jscan_number(const struct jscan_value *v, bool *is_int, int64_t *i, double *d)
{
    if (v->type != JSCAN_NUMBER || v->len == 0)
        return false;
    const char *p = v->at, *end = v->at + v->len;
    bool neg = *p == '-';
    p += neg;
    uint64_t mag = 0;
    bool whole = p < end;
    for (; p < end && whole; p++) {
        if (*p < '0' || *p > '9' || mag > (UINT64_MAX - 9) / 10)
            whole = false;
        else
            mag = mag * 10 + (uint64_t)(*p - '0');
    }
    if (whole && (neg ? mag <= (uint64_t)INT64_MAX + 1 : mag <= (uint64_t)INT64_MAX)) {
        *is_int = true;
        *i = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
        *d = (double)*i;
        return true;
    }
    char small[64];
    char *s = v->len < sizeof(small) ? small : malloc(v->len + 1);
    if (!s)
        return false;
    memcpy(s, v->at, v->len);
    s[v->len] = '\0';
    char *stop;
    *d = strtod(s, &stop);
    bool ok = stop == s + v->len;
    if (s != small)
        free(s);
    *is_int = false;
    *i = 0;
    return ok;
}

bool jscan_string(const struct jscan_value *v, struct buf *out)
{
    if (v->type != JSCAN_STRING)
        return false;
    if (!v->escaped) {
        buf_append(out, v->at, v->len);
        buf_grow(out, 1);
        out->data[out->len] = '\0';
        return true;
    }
    /* The quotes around the text are the string's own (the value was found in a text). */
    static const struct json_limits lim = { 1, 1 };
    struct jread r;
    jread_init(&r, v->at - 1, v->len + 2, &lim);
    bool ok = jread_string(&r, out);
    jread_release(&r);
    return ok;
}
