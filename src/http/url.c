/* Percent-decoding and query-string lookup (see url.h). */
#include "http/url.h"

#include <string.h>

#include "core/hex.h"

int url_decode(const char *s, size_t len, bool plus_is_space, struct buf *out)
{
    buf_grow(out, len);
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '%' && !(plus_is_space && s[j] == '+'))
            j++;
        buf_append(out, s + i, j - i);
        if (j == len)
            break;
        if (s[j] == '+') {
            buf_putc(out, ' ');
            i = j + 1;
            continue;
        }
        if (j + 2 >= len)
            return -1; /* truncated escape */
        int hi = hex_value(s[j + 1]), lo = hex_value(s[j + 2]);
        if (hi < 0 || lo < 0)
            return -1;
        char c = (char)(hi << 4 | lo);
        if (c == '\0')
            return -1;
        buf_putc(out, c);
        i = j + 3;
    }
    return 0;
}

int url_query_get(const char *query, size_t len, const char *key, struct buf *out)
{
    size_t klen = strlen(key);
    struct buf name = BUF_INIT;
    const char *p = query, *stop = query + len;
    int ret = 0;
    while (p < stop) {
        const char *end = memchr(p, '&', (size_t)(stop - p));
        if (!end)
            end = stop;
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq)
            eq = end;
        size_t nlen = (size_t)(eq - p);
        bool match = nlen == klen && memcmp(p, key, klen) == 0; /* the usual, plain name */
        if (!match && (memchr(p, '%', nlen) || memchr(p, '+', nlen))) {
            buf_reset(&name);
            if (url_decode(p, nlen, true, &name) < 0) {
                ret = -1;
                goto out;
            }
            match = name.len == klen && memcmp(name.data, key, klen) == 0;
        }
        if (match) {
            const char *v = eq < end ? eq + 1 : end;
            if (url_decode(v, (size_t)(end - v), true, out) < 0) {
                ret = -1;
                goto out;
            }
            ret = 1;
            goto out;
        }
        p = end + 1;
    }
out:
    buf_release(&name);
    return ret;
}
