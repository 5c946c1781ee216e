/* Parsing and validation of incoming events (see event.h). */
#include "engine/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/utf8.h"

void event_release(struct event *e)
{
    free(e->user_id);
    free(e->type);
    free(e->key);
    free(e->metadata);
    json_decref(e->meta);
    memset(e, 0, sizeof(*e));
}

void event_problem_release(struct event_problem *p)
{
    json_decref(p->details);
    memset(p, 0, sizeof(*p));
}

static void bad(struct event_problem *p, const char *field, const char *message)
{
    if (!p->details)
        p->details = json_object();
    if (!json_object_get(p->details, field))
        json_object_set_new(p->details, field, json_string(message));
}

/* A required or optional string field of 1..max characters with no control characters: the
 * value, or NULL (absent, or wrong: then reported). */
static const char *text_field(const json_t *obj, const char *name, bool required, size_t min,
                              size_t max, struct event_problem *p)
{
    const json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) {
        if (required)
            bad(p, name, "is required");
        return NULL;
    }
    if (!json_is_string(v)) {
        bad(p, name, "must be a string");
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t n = utf8_chars(s);
    if (n < min || n > max || strlen(s) != json_string_length(v)) {
        char msg[48];
        snprintf(msg, sizeof(msg), "must be %zu to %zu characters", min, max);
        bad(p, name, msg);
        return NULL;
    }
    if (utf8_has_control(s)) {
        bad(p, name, "must not contain control characters");
        return NULL;
    }
    return s;
}

int event_parse(const json_t *v, const char *app_id, int64_t now_ms, struct event *out,
                struct event_problem *p)
{
    memset(out, 0, sizeof(*out));
    memset(p, 0, sizeof(*p));
    p->status = 400;
    p->code = "validation_failed";
    p->message = "Validation failed";
    if (!json_is_object(v)) {
        bad(p, "event", "must be a JSON object");
        return -1;
    }
    const char *app = text_field(v, "appId", true, 1, 64, p);
    const char *user = text_field(v, "userId", true, 1, EVENT_USER_ID_MAX, p);
    const char *type = text_field(v, "eventType", true, 1, EVENT_TYPE_MAX, p);
    const char *key = text_field(v, "idempotencyKey", false, EVENT_KEY_MIN, EVENT_KEY_MAX, p);
    const json_t *meta = json_object_get(v, "metadata");
    char *meta_text = NULL;
    if (meta && !json_is_null(meta)) {
        if (!json_is_object(meta)) {
            bad(p, "metadata", "must be a JSON object");
        } else if (json_object_size(meta)) {
            /* Built once, then measured: the body limit bounds what it can cost. */
            struct buf text = BUF_INIT;
            json_dump_buf(meta, &text);
            if (text.len > EVENT_METADATA_MAX) {
                bad(p, "metadata", "must be at most 64 KiB as JSON");
                buf_release(&text);
            } else {
                meta_text = buf_detach(&text, NULL);
            }
        }
    }
    int64_t occurred = now_ms;
    const json_t *at = json_object_get(v, "occurredAt");
    if (at && !json_is_null(at)) {
        if (!json_is_string(at) ||
            clock_parse_iso(json_string_value(at), json_string_length(at), &occurred) < 0)
            bad(p, "occurredAt", "must be an ISO 8601 date-time with Z or an offset");
        else if (occurred > now_ms + EVENT_FUTURE_MS)
            bad(p, "occurredAt", "must not be more than 5 minutes in the future");
    }
    if (p->details || strcmp(app, app_id) != 0) {
        if (!p->details) {
            p->status = 409;
            p->code = "app_mismatch";
            p->message = "Payload appId mismatch";
        }
        free(meta_text);
        return -1;
    }
    out->user_id = xstrdup(user);
    out->type = xstrdup(type);
    out->key = key ? xstrdup(key) : NULL;
    out->key_given = key != NULL;
    out->metadata = meta_text;
    out->meta = meta_text ? json_incref((json_t *)meta) : NULL;
    out->occurred_at = occurred;
    out->received_at = now_ms;
    return 0;
}
