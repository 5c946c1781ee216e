/* Body member checks for the rule and achievement compilers (see fields.h). */
#include "engine/fields.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/utf8.h"
#include "engine/rule.h"

void fields_bad(json_t *details, const char *name, const char *fmt, ...)
{
    if (json_object_get(details, name))
        return;
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_object_set_new(details, name, json_string(msg));
}

const json_t *fields_member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v) ? v : NULL;
}

const json_t *fields_collection(const json_t *obj, const char *key, const char *name, int flags,
                                bool array, size_t max, const char *noun, json_t *details)
{
    const json_t *v = fields_member(obj, key);
    if (!v) {
        if (flags & FIELDS_REQUIRED)
            fields_bad(details, name, "is required");
        return NULL;
    }
    if (array ? !json_is_array(v) : !json_is_object(v)) {
        fields_bad(details, name, array ? "must be an array" : "must be an object");
        return NULL;
    }
    if ((array ? json_array_size(v) : json_object_size(v)) > max) {
        fields_bad(details, name, "must have at most %zu %s", max, noun);
        return NULL;
    }
    return v;
}

bool fields_check_text(const json_t *v, int flags, size_t min, size_t max, char *msg, size_t msglen)
{
    if (!json_is_string(v)) {
        snprintf(msg, msglen, "must be a string");
        return false;
    }
    const char *s = json_string_value(v);
    size_t n = utf8_chars(s);
    if (n < min || n > max || strlen(s) != json_string_length(v)) {
        if (min == 0)
            snprintf(msg, msglen, "must be at most %zu characters", max);
        else
            snprintf(msg, msglen, "must be %zu to %zu characters", min, max);
        return false;
    }
    if (!(flags & FIELDS_MULTILINE) && utf8_has_control(s)) {
        snprintf(msg, msglen, "must not contain control characters");
        return false;
    }
    return true;
}

const char *fields_text(const json_t *obj, const char *key, int flags, size_t min, size_t max,
                        json_t *details)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (flags & FIELDS_REQUIRED)
            fields_bad(details, key, "is required");
        return NULL;
    }
    char msg[80];
    if (!fields_check_text(v, flags, min, max, msg, sizeof(msg))) {
        fields_bad(details, key, "%s", msg);
        return NULL;
    }
    return json_string_value(v);
}

bool fields_bool(const json_t *obj, const char *key, bool dflt, json_t *details)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return dflt;
    if (!json_is_boolean(v)) {
        fields_bad(details, key, "must be a boolean");
        return dflt;
    }
    return json_is_true(v);
}

bool fields_award_name_ok(const char *name, size_t len)
{
    size_t n = utf8_chars(name);
    return strlen(name) == len && n >= 1 && n <= RULE_AWARD_NAME_MAX && !utf8_has_control(name);
}

bool fields_amount(const json_t *v, int64_t *out)
{
    if (!json_is_integer(v))
        return false;
    json_int_t x = json_integer_value(v);
    if (x < 0 || x > RULE_AMOUNT_MAX)
        return false;
    *out = x;
    return true;
}

bool fields_multiplier(const json_t *v, double *out)
{
    if (!json_is_number(v))
        return false;
    double x = json_number_value(v);
    if (!isfinite(x) || x < 0 || x > RULE_MULTIPLIER_MAX)
        return false;
    *out = x;
    return true;
}
