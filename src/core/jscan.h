/* Values read out of a JSON text in place, by object keys: no tree, no allocation.
 *
 * For texts that were validated already (an event's metadata, as ingestion stored it), read a
 * few fields each: finding a member skips the members before it without looking inside them,
 * and a value is typed from its first byte. Strings are given as their raw text between the
 * quotes, numbers as their text; jscan_string and jscan_number read them as jansson and jread
 * do. A text that is not valid JSON gives no crash and no read outside it: a lookup in it
 * fails or gives some value of it, as its bytes happen to fall. */
#ifndef REACTOR_CORE_JSCAN_H
#define REACTOR_CORE_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"

enum jscan_type {
    JSCAN_OBJECT,
    JSCAN_ARRAY,
    JSCAN_STRING,
    JSCAN_NUMBER,
    JSCAN_TRUE,
    JSCAN_FALSE,
    JSCAN_NULL,
};

struct jscan_value {
    enum jscan_type type;
    const char *at;    /* the value's text; a string's without its quotes */
    size_t len;
    bool escaped;      /* a string with a backslash in it: its text is not its value */
};

/* The value a text holds (leading and trailing whitespace allowed). An object or an array is
 * taken to end where the text does, without a scan for its end. */
bool jscan_value(const char *text, size_t len, struct jscan_value *out);
/* The member of object `obj` named key (key_len bytes, as unescaped), or false. out may be
 * obj. */
bool jscan_member(const struct jscan_value *obj, const char *key, size_t key_len,
                  struct jscan_value *out);
/* The members of an object, one by one: *pos starts at 0; *key is the member's name (a
 * string value). out and key must not be obj. */
bool jscan_next_member(const struct jscan_value *obj, size_t *pos, struct jscan_value *key,
                       struct jscan_value *out);
/* Whether a member's name (from jscan_next_member) is `name` (len bytes, as unescaped): a
 * plain name is compared here, inline (lookups compare many); an escaped one is decoded. */
bool jscan_escaped_key_is(const struct jscan_value *key, const char *name, size_t len);
static inline bool jscan_key_is(const struct jscan_value *key, const char *name, size_t len)
{
    if (!key->escaped)
        return key->len == len && memcmp(key->at, name, len) == 0;
    return jscan_escaped_key_is(key, name, len);
}
/* The elements of an array, one by one: *pos starts at 0 (and is the caller's to keep); out
 * must not be arr. */
bool jscan_element(const struct jscan_value *arr, size_t *pos, struct jscan_value *out);
/* A number as jansson reads it: an integer (no '.', 'e' or 'E') that fits int64 is exact in
 * *i, with *d the nearest double; anything else a double (strtod) and *is_int false. */
bool jscan_number(const struct jscan_value *v, bool *is_int, int64_t *i, double *d);
/* A string's value, unescaped, appended to out (and NUL-terminated there). */
bool jscan_string(const struct jscan_value *v, struct buf *out);

#endif
