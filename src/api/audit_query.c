/* Parsing GET /audit's query string (see audit_query.h). */
#include "api/audit_query.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/mem.h"
#include "core/utf8.h"
#include "http/url.h"

void audit_cursor_encode(int64_t id, char out[AUDIT_CURSOR_LEN + 1])
{
    unsigned char be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)((uint64_t)id >> (56 - 8 * i));
    out[0] = 'a';
    hex_encode(be, sizeof(be), out + 1);
    out[AUDIT_CURSOR_LEN] = '\0';
}

int audit_cursor_parse(const char *s, size_t len, int64_t *id)
{
    unsigned char be[8];
    if (len != AUDIT_CURSOR_LEN || s[0] != 'a' || hex_decode(s + 1, sizeof(be), be) < 0)
        return -1;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | be[i];
    if (v == 0 || v > INT64_MAX)
        return -1;
    *id = (int64_t)v;
    return 0;
}

void audit_query_release(struct audit_query *q)
{
    free(q->app_id);
    free(q->actor);
    free(q->action);
    free(q->resource_type);
    free(q->resource_id);
    memset(q, 0, sizeof(*q));
}

static void detail(json_t *details, const char *name, const char *msg)
{
    json_object_set_new(details, name, json_string(msg));
}

/* Text a client may filter on: 1..max bytes of valid UTF-8 without control characters. */
static bool plain_text(const struct buf *v, size_t max)
{
    if (v->len < 1 || v->len > max || strlen(v->data) != v->len || utf8_has_control(v->data))
        return false;
    json_t *valid = json_stringn(v->data, v->len); /* NULL for malformed UTF-8 */
    json_decref(valid);
    return valid != NULL;
}

static bool action_chars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_'))
            return false;
    }
    return len > 0;
}

/* action=<name> or action=<prefix>.* */
static void parse_action(struct audit_query *q, const struct buf *v, json_t *details)
{
    const char *msg = "must be an action name (letters, digits, '.', '_'), or a prefix "
                      "followed by \".*\" like \"league.*\"";
    size_t len = v->len;
    bool prefix = len >= 2 && v->data[len - 1] == '*' && v->data[len - 2] == '.';
    if (prefix)
        len--; /* keep the dot: "league." */
    if (len > AUDIT_ACTION_MAX || !action_chars(v->data, len) || (prefix && len < 2)) {
        detail(details, "action", msg);
        return;
    }
    q->action = xstrndup(v->data, len);
    q->filter.action = q->action;
    q->filter.action_prefix = prefix;
}

/* resource=<type> or resource=<type>/<id> (the id may hold further slashes). */
static void parse_resource(struct audit_query *q, const struct buf *v, json_t *details)
{
    const char *slash = memchr(v->data, '/', v->len);
    size_t tlen = slash ? (size_t)(slash - v->data) : v->len;
    bool ok = tlen >= 1 && tlen <= AUDIT_RESOURCE_TYPE_MAX;
    for (size_t i = 0; ok && i < tlen; i++)
        ok = (v->data[i] >= 'a' && v->data[i] <= 'z') || v->data[i] == '_';
    if (!ok) {
        detail(details, "resource", "must be a resource type (like \"league\"), optionally "
                                    "followed by \"/\" and an id");
        return;
    }
    if (slash) {
        struct buf id = BUF_INIT;
        buf_append(&id, slash + 1, v->len - tlen - 1);
        if (!plain_text(&id, AUDIT_RESOURCE_ID_MAX)) {
            detail(details, "resource", "the id after \"/\" must be 1 to 256 bytes of text "
                                        "without control characters");
            buf_release(&id);
            return;
        }
        q->resource_id = buf_detach(&id, NULL);
    }
    q->resource_type = xstrndup(v->data, tlen);
    q->filter.resource_type = q->resource_type;
    q->filter.resource_id = q->resource_id;
}

static void parse_time(const struct buf *v, const char *name, int64_t *out, json_t *details)
{
    int64_t ms;
    if (clock_parse_iso(v->data, v->len, &ms) < 0 || ms <= 0)
        detail(details, name, "must be an ISO 8601 time like 2026-01-31T12:00:00Z");
    else
        *out = ms;
}

static void parse_limit(struct audit_query *q, const struct buf *v, json_t *details)
{
    bool digits = v->len >= 1 && v->len <= 4;
    for (size_t i = 0; digits && i < v->len; i++)
        digits = v->data[i] >= '0' && v->data[i] <= '9';
    long n = digits ? strtol(v->data, NULL, 10) : 0;
    if (n < 1 || n > AUDIT_LIMIT_MAX)
        detail(details, "limit", "must be an integer from 1 to 1000");
    else
        q->limit = (int)n;
}

int audit_query_parse(const char *qs, size_t len, struct audit_query *q, json_t **details_out)
{
    memset(q, 0, sizeof(*q));
    q->limit = AUDIT_LIMIT_DEFAULT;
    json_t *details = json_object();
    struct buf v = BUF_INIT;
    static const char *const names[] = { "actor", "action", "resource", "from", "to",
                                         "cursor", "limit", "format", "appId" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *name = names[i];
        buf_reset(&v);
        int rc = url_query_get(qs, len, name, &v);
        if (rc < 0) {
            detail(details, "query", "is malformed (a bad percent-encoding)");
            break;
        }
        if (rc == 0)
            continue;
        if (strcmp(name, "actor") == 0) {
            if (!plain_text(&v, AUDIT_ACTOR_MAX))
                detail(details, name, "must be 1 to 128 bytes of text (an API key id, "
                                      "\"operator\" or \"system\")");
            else
                q->filter.actor = q->actor = xstrdup(v.data);
        } else if (strcmp(name, "action") == 0) {
            parse_action(q, &v, details);
        } else if (strcmp(name, "resource") == 0) {
            parse_resource(q, &v, details);
        } else if (strcmp(name, "from") == 0) {
            parse_time(&v, name, &q->filter.from_ms, details);
        } else if (strcmp(name, "to") == 0) {
            parse_time(&v, name, &q->filter.to_ms, details);
        } else if (strcmp(name, "cursor") == 0) {
            if (audit_cursor_parse(v.data, v.len, &q->filter.before_id) < 0)
                detail(details, name, "must be a nextCursor value");
        } else if (strcmp(name, "limit") == 0) {
            parse_limit(q, &v, details);
        } else if (strcmp(name, "format") == 0) {
            if (strcmp(v.data, "ndjson") == 0)
                q->ndjson = true;
            else if (strcmp(v.data, "json") != 0)
                detail(details, name, "must be \"json\" or \"ndjson\"");
        } else { /* appId */
            if (!plain_text(&v, 128))
                detail(details, name, "must be an app id");
            else
                q->app_id = xstrdup(v.data);
        }
    }
    buf_release(&v);
    if (q->filter.from_ms && q->filter.to_ms && q->filter.from_ms >= q->filter.to_ms &&
        !json_object_get(details, "to"))
        detail(details, "to", "must be later than from");
    if (json_object_size(details)) {
        audit_query_release(q);
        *details_out = details;
        return -1;
    }
    json_decref(details);
    return 0;
}
