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
    size_t i = 0;
    int ret = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && query[end] != '&')
            end++;
        size_t eq = i;
        while (eq < end && query[eq] != '=')
            eq++;
        const char *n = query + i;
        size_t nlen = eq - i;
        bool plain = true; /* nothing to decode: compare the name where it is */
        for (size_t k = 0; k < nlen && plain; k++)
            plain = n[k] != '%' && n[k] != '+';
        if (!plain) {
            buf_reset(&name);
            if (url_decode(n, nlen, true, &name) < 0) {
                ret = -1;
                goto out;
            }
            n = name.data;
            nlen = name.len;
        }
        if (nlen == klen && memcmp(n, key, klen) == 0) {
            size_t vstart = eq < end ? eq + 1 : end;
            if (url_decode(query + vstart, end - vstart, true, out) < 0) {
                ret = -1;
                goto out;
            }
            ret = 1;
            goto out;
        }
        i = end + 1;
    }
out:
    buf_release(&name);
    return ret;
}
