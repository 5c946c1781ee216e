/* Percent-decoding and query-string lookup for request targets. Pure functions, no allocation
 * beyond the caller's buffer. */
#ifndef REACTOR_HTTP_URL_H
#define REACTOR_HTTP_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* Appends the percent-decoded form of s[0..len) to out. With `plus_is_space`, '+' decodes to
 * ' ' (query strings). Returns 0, or -1 on a malformed escape or an encoded NUL byte (out is
 * then left with a partial result the caller must discard). */
int url_decode(const char *s, size_t len, bool plus_is_space, struct buf *out);

/* Looks up `key` in a query string (without the '?'): "a=1&b=x%20y". The first occurrence
 * wins. Returns 1 and appends the decoded value to `out` when found (an absent '=' gives an
 * empty value), 0 when absent, -1 when the query has a malformed escape. */
int url_query_get(const char *query, size_t len, const char *key, struct buf *out);

#endif
