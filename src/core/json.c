/* Strict JSON parsing with limits, and serialisation into buffers (see json.h). */
#include "core/json.h"

#include <stdbool.h>
#include <stdio.h>

int json_prescan(const char *data, size_t len, const struct json_limits *lim, char *err,
                 size_t errlen)
{
    int depth = 0;
    size_t elements = 0;
    bool in_value = false; /* inside a scalar token (number, literal) already counted */
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        switch (c) {
        case '"':
            /* skip the string; an unterminated one is left for the parser to report */
            for (i++; i < len && data[i] != '"'; i++) {
                if (data[i] == '\\')
                    i++;
            }
            elements++;
            in_value = false;
            break;
        case '{':
        case '[':
            if (++depth > lim->max_depth) {
                snprintf(err, errlen, "JSON nesting deeper than %d", lim->max_depth);
                return -1;
            }
            elements++;
            in_value = false;
            break;
        case '}':
        case ']':
            depth--;
            in_value = false;
            break;
        case ',':
        case ':':
        case ' ':
        case '\t':
        case '\n':
        case '\r':
            in_value = false;
            break;
        default:
            if (!in_value) {
                elements++;
                in_value = true;
            }
            break;
        }
        if (elements > lim->max_elements) {
            snprintf(err, errlen, "JSON has more than %zu values", lim->max_elements);
            return -1;
        }
    }
    return 0;
}

json_t *json_parse_strict(const char *data, size_t len, const struct json_limits *lim, char *err,
                          size_t errlen)
{
    if (json_prescan(data, len, lim, err, errlen) < 0)
        return NULL;
    json_error_t jerr;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!j) {
        snprintf(err, errlen, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return NULL;
    }
    return j;
}

static int dump_cb(const char *data, size_t size, void *arg)
{
    buf_append(arg, data, size);
    return 0;
}

void json_dump_buf(const json_t *j, struct buf *out)
{
    json_dump_callback(j, dump_cb, out, JSON_COMPACT | JSON_ENCODE_ANY);
}

char *json_dump_new(const json_t *j)
{
    struct buf b = BUF_INIT;
    json_dump_buf(j, &b);
    return buf_detach(&b, NULL);
}

size_t json_dump_size(const json_t *j)
{
    return json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

json_t *json_without_nulls(const json_t *obj)
{
    json_t *copy = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
        if (!json_is_null(v))
            json_object_set(copy, k, v);
    return copy;
}
