/* Request body validation: one declarative way for every route (see api.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/api.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/tz.h"
#include "core/utf8.h"

json_t *api_body_object(struct http_request *req)
{
    json_t *body = http_request_json(req);
    if (!body)
        return NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        http_respond_error_details(req, 400, "validation_failed", "Validation failed",
                                   json_pack("{s:s}", "body", "must be a JSON object"));
        return NULL;
    }
    return body;
}

static const char *type_name(enum api_type t)
{
    switch (t) {
    case API_STRING: return "a string";
    case API_OBJECT: return "an object";
    case API_INTEGER: return "an integer";
    case API_BOOLEAN: return "a boolean";
    case API_ARRAY: return "an array";
    }
    return "?";
}

static bool type_ok(const json_t *v, enum api_type t)
{
    switch (t) {
    case API_STRING: return json_is_string(v);
    case API_OBJECT: return json_is_object(v);
    case API_INTEGER: return json_is_integer(v);
    case API_BOOLEAN: return json_is_boolean(v);
    case API_ARRAY: return json_is_array(v);
    }
    return false;
}

int api_validate(struct http_request *req, const json_t *body, const struct api_field *fields,
                 size_t n)
{
    json_t *details = json_object();
    char msg[160];
    for (size_t i = 0; i < n; i++) {
        const struct api_field *f = &fields[i];
        const json_t *v = json_object_get(body, f->name);
        const char *problem = NULL;
        if (!v) {
            if (f->flags & API_REQUIRED)
                problem = "is required";
        } else if (json_is_null(v)) {
            if (!(f->flags & API_NULLABLE))
                problem = (f->flags & API_REQUIRED) ? "is required" : "must not be null";
        } else if (!type_ok(v, f->type)) {
            snprintf(msg, sizeof(msg), "must be %s", type_name(f->type));
            problem = msg;
        } else if (f->type == API_STRING && (f->min || f->max)) {
            size_t len = utf8_chars(json_string_value(v));
            if (f->min && len < (size_t)f->min) {
                snprintf(msg, sizeof(msg), "must be at least %lld characters", (long long)f->min);
                problem = msg;
            } else if (f->max && len > (size_t)f->max) {
                snprintf(msg, sizeof(msg), "must be at most %lld characters", (long long)f->max);
                problem = msg;
            }
        } else if (f->type == API_INTEGER && (f->min || f->max)) {
            json_int_t x = json_integer_value(v);
            if (x < f->min || x > f->max) {
                snprintf(msg, sizeof(msg), "must be between %lld and %lld", (long long)f->min,
                         (long long)f->max);
                problem = msg;
            }
        }
        if (!problem && v && !json_is_null(v) && f->check)
            problem = f->check(v);
        if (problem)
            json_object_set_new(details, f->name, json_string(problem));
    }
    if (json_object_size(details) == 0) {
        json_decref(details);
        return 0;
    }
    http_respond_error_details(req, 400, "validation_failed", "Validation failed", details);
    return -1;
}

json_t *api_body_validated(struct http_request *req, const struct api_field *fields, size_t n)
{
    json_t *body = api_body_object(req);
    if (body && api_validate(req, body, fields, n) < 0) {
        json_decref(body);
        return NULL;
    }
    return body;
}

const char *api_check_timezone(const json_t *v)
{
    const char *tz = json_string_value(v);
    size_t len = strlen(tz);
    if (len == 0 || len > 64 || tz[0] == '/' || strstr(tz, "..") ||
        strcmp(tz, "localtime") == 0) /* zoneinfo's link to the host's zone, not a zone */
        return "must be an IANA time zone such as Europe/Paris";
    for (const char *p = tz; *p; p++) {
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '-' || c == '+'))
            return "must be an IANA time zone such as Europe/Paris";
    }
    char path[128];
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
    FILE *f = fopen(path, "rb");
    char magic[4] = { 0 };
    bool ok = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    if (f)
        fclose(f);
    /* Local times are computed with ICU (core/tz.h), whose zone data may be older than the
     * system's: a zone it does not know would silently count as UTC, so it is refused. */
    return ok && tz_valid(tz) ? NULL : "is not a known IANA time zone";
}

const char *api_check_http_url(const json_t *v)
{
    const char *u = json_string_value(v);
    const char *rest = NULL;
    if (strncmp(u, "https://", 8) == 0)
        rest = u + 8;
    else if (strncmp(u, "http://", 7) == 0)
        rest = u + 7;
    if (!rest || !*rest || *rest == '/' || strlen(u) > 2048)
        return "must be an http:// or https:// URL";
    for (const char *p = u; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return "must be an http:// or https:// URL";
    }
    return NULL;
}

const char *api_check_id(const json_t *v)
{
    const char *id = json_string_value(v);
    char first = id[0];
    if (!((first >= 'A' && first <= 'Z') || (first >= 'a' && first <= 'z') ||
          (first >= '0' && first <= '9')))
        return "must start with a letter or a digit";
    for (const char *p = id; *p; p++) {
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return "may contain only letters, digits, '.', '_', ':' and '-'";
    }
    return NULL;
}

const char *api_check_user_id(const json_t *v)
{
    return utf8_has_control(json_string_value(v)) ? "must not contain control characters" : NULL;
}

const char *api_check_small_object(const json_t *v)
{
    return json_dump_size(v) > 16 * 1024 ? "must be at most 16 KiB as JSON" : NULL;
}

int api_page_query(struct http_request *req, int def, int *limit, int64_t *before,
                   json_t *details)
{
    struct buf v = BUF_INIT;
    char *end;
    *limit = def;
    int rc = http_request_query(req, "limit", &v);
    if (rc > 0) {
        long n = strtol(v.data, &end, 10);
        if (*end || !*v.data || n < 1 || n > API_PAGE_MAX)
            json_object_set_new(details, "limit", json_string("must be an integer from 1 to 200"));
        else
            *limit = (int)n;
    }
    buf_reset(&v);
    if (rc >= 0 && (rc = http_request_query(req, "cursor", &v)) > 0) {
        long long n = strtoll(v.data, &end, 10);
        if (*end || !*v.data || n < 1)
            json_object_set_new(details, "cursor", json_string("must be a nextCursor value"));
        else
            *before = n;
    }
    buf_release(&v);
    return rc;
}

int api_query_finish(struct http_request *req, int rc, json_t *details)
{
    if (rc < 0)
        json_object_set_new(details, "query", json_string("is malformed"));
    if (json_object_size(details)) {
        http_respond_error_details(req, 400, "validation_failed", "Validation failed", details);
        return -1;
    }
    json_decref(details);
    return 0;
}
