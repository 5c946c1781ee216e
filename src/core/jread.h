/* A strict JSON reader that walks the raw bytes of a document without building a tree.
 *
 * It accepts exactly what json_parse_strict (json.h) accepts: RFC 8259 JSON, strings of valid
 * UTF-8 without \u0000 or lone surrogates, duplicate keys rejected in every object (compared
 * after unescaping; a large object's keys are sorted when it closes, so no choice of keys makes
 * the check slow), integers within int64, reals that do not overflow a double, nothing but
 * whitespace after the value, and the same limits (nesting depth, values in the document,
 * counted the way json_prescan counts them: every container, key, string and scalar).
 *
 * The caller walks the document: it opens objects and arrays, reads the members it wants
 * (strings unescaped into a buffer), and skips the rest, optionally copying a skipped value as
 * compact text (whitespace outside strings dropped, everything else as sent). The first error
 * sticks: every later call returns false, and jread_error says what and where. A caller that
 * wants the whole document validated reads or skips every value and calls jread_end.
 *
 * Ingestion reads events with it (engine/event.c): no allocation per value, and an event's
 * metadata stored as the client's own compact text. */
#ifndef REACTOR_CORE_JREAD_H
#define REACTOR_CORE_JREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/json.h"

enum jread_type {
    JREAD_ERROR,
    JREAD_OBJECT,
    JREAD_ARRAY,
    JREAD_STRING,
    JREAD_NUMBER,
    JREAD_TRUE,
    JREAD_FALSE,
    JREAD_NULL,
};

struct jread_key {
    uint32_t hash, len;
    size_t off; /* in keys_text */
};

struct jread_frame {
    size_t key_base, text_base; /* this object's keys start here */
    bool object, first;
};

struct jread {
    const unsigned char *begin, *p, *end;
    const struct json_limits *lim;
    size_t elements;
    int depth;
    const char *error; /* static text; NULL while the document reads well */
    size_t error_at;   /* byte offset of the error */
    bool limit;        /* the error is a limit of `lim`, not bad JSON */
    struct jread_frame *frames; /* one per open container */
    size_t frames_cap;
    struct jread_key *keys;     /* keys of the open objects */
    size_t n_keys, keys_cap;
    struct buf keys_text;
    struct buf num;             /* a number's text, for strtod */
};

void jread_init(struct jread *r, const char *data, size_t len, const struct json_limits *lim);
/* Starts another document, keeping what r allocated (a reader kept per thread). */
void jread_reset(struct jread *r, const char *data, size_t len, const struct json_limits *lim);
void jread_release(struct jread *r);

/* The type of the next value (after whitespace), without consuming it; JREAD_ERROR at the end
 * of input or on a byte no value starts with (then the error is set). */
enum jread_type jread_peek(struct jread *r);

/* Opens the object that comes next. */
bool jread_object(struct jread *r);
/* The next member of the innermost open object: true with its unescaped key (valid until the
 * next call on r that reads a key; not NUL-terminated), positioned at the member's value; false
 * when the object ends (consumed) or on an error (jread_failed tells). */
bool jread_member(struct jread *r, const char **key, size_t *key_len);

/* Opens the array that comes next. */
bool jread_array(struct jread *r);
/* True when another element follows (positioned at it); false at the array's end (consumed)
 * or on an error. */
bool jread_element(struct jread *r);

/* Reads the string that comes next, appending it unescaped to out (NUL-terminated after its
 * len). */
bool jread_string(struct jread *r, struct buf *out);
/* Skips the value that comes next, validating it; with `compact`, appends its compact text. */
bool jread_skip(struct jread *r, struct buf *compact);
/* Only whitespace may follow the top-level value. */
bool jread_end(struct jread *r);

static inline bool jread_failed(const struct jread *r)
{
    return r->error != NULL;
}
/* "invalid JSON at byte 17: <what>" or the limit that was hit. */
void jread_error(const struct jread *r, char *err, size_t errlen);

#endif
