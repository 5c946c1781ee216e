/* Checks of request body members shared by the rule and achievement compilers. Each reads one
 * member and, when it is wrong, records a message under the member's name in `details` (a
 * JSON object of {name: message}; the first message for a name stays). Private to the
 * engine. */
#ifndef REACTOR_ENGINE_FIELDS_H
#define REACTOR_ENGINE_FIELDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FIELDS_REQUIRED  1 /* absent or null is reported as "is required" */
#define FIELDS_MULTILINE 2 /* control characters are allowed (descriptions) */

void fields_bad(json_t *details, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether v is a string of min..max characters (code points) with no embedded NUL, and
 * without control characters unless FIELDS_MULTILINE; else false with a message. */
bool fields_check_text(const json_t *v, int flags, size_t min, size_t max, char *msg,
                       size_t msglen);
/* Member `key` of obj, or NULL when it is absent or null. */
const json_t *fields_member(const json_t *obj, const char *key);
/* Member `key` of obj as an object (or, with `array`, an array) of at most `max` members,
 * which `noun` names in the message; NULL when absent or null (reported with
 * FIELDS_REQUIRED) or wrong (reported). Reports go under `name`. */
const json_t *fields_collection(const json_t *obj, const char *key, const char *name, int flags,
                                bool array, size_t max, const char *noun, json_t *details);
/* Member `key` of obj as a string of min..max characters (code points), without control
 * characters unless FIELDS_MULTILINE. NULL when absent or null, or when wrong (reported). */
const char *fields_text(const json_t *obj, const char *key, int flags, size_t min, size_t max,
                        json_t *details);
/* Member `key` as a boolean; `dflt` when absent or null, or when wrong (reported). */
bool fields_bool(const json_t *obj, const char *key, bool dflt, json_t *details);
/* Whether `name` is a valid award name: 1..RULE_AWARD_NAME_MAX characters, no control
 * characters (len: its bytes, to catch an embedded NUL). */
bool fields_award_name_ok(const char *name, size_t len);
/* Whether v is a fixed award amount: a JSON integer 0..RULE_AMOUNT_MAX. */
bool fields_amount(const json_t *v, int64_t *out);
/* Whether v is a multiplier: a number 0..RULE_MULTIPLIER_MAX. */
bool fields_multiplier(const json_t *v, double *out);

#endif
