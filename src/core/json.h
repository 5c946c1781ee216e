/* JSON helpers over jansson: strict parsing with limits checked before anything is allocated,
 * and compact serialisation into a struct buf.
 *
 * Strict means: UTF-8 validated, duplicate object keys rejected, integers exact in int64
 * (jansson rejects out-of-range integers rather than rounding them), \u0000 rejected, nothing
 * but whitespace after the value.
 */
#ifndef REACTOR_CORE_JSON_H
#define REACTOR_CORE_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"

struct json_limits {
    int max_depth;        /* nesting of arrays and objects; 1 = a flat object */
    size_t max_elements;  /* values in the whole document */
};

/* A single pass over raw bytes that counts nesting depth and values without building
 * anything, skipping string contents. It does not validate; it only bounds the work the real
 * parser will do. Returns 0, or -1 with a message when a limit is exceeded. */
int json_prescan(const char *data, size_t len, const struct json_limits *lim, char *err,
                 size_t errlen);

/* Parses data[0..len) strictly within `lim`. Returns a new reference, or NULL with a message
 * in err ("invalid JSON at line 1, column 7: ..." or the limit that was hit). */
json_t *json_parse_strict(const char *data, size_t len, const struct json_limits *lim, char *err,
                          size_t errlen);

/* Appends the compact serialisation of j to out. */
void json_dump_buf(const json_t *j, struct buf *out);
/* The compact serialisation as a new string (free() it). */
char *json_dump_new(const json_t *j);
/* A new object with the members of `obj` that are not null (a shallow copy). */
json_t *json_without_nulls(const json_t *obj);

/* Bytes of the compact serialisation, computed without building it. */
size_t json_dump_size(const json_t *j);

#endif
