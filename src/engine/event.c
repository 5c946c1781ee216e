/* Parsing and validation of incoming events (see event.h). */
#include "engine/event.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/jread.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/utf8.h"

void event_release(struct event *e)
{
    free(e->user_id);
    free(e->type);
    free(e->key);
    free(e->metadata);
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

/* A string field of the body as read: absent, null, a string (unescaped, in the reader's
 * scratch buffer at `off`), or some other JSON type. */
enum field_state { F_ABSENT, F_NULL, F_STRING, F_OTHER };

struct field {
    enum field_state state;
    size_t off, len;
};

enum { FD_APP, FD_USER, FD_TYPE, FD_KEY, FD_AT, FD__COUNT };

static const struct {
    const char *name;
    size_t len;
} field_names[FD__COUNT] = {
    [FD_APP] = { "appId", 5 },
    [FD_USER] = { "userId", 6 },
    [FD_TYPE] = { "eventType", 9 },
    [FD_KEY] = { "idempotencyKey", 14 },
    [FD_AT] = { "occurredAt", 10 },
};

/* One event object as read from the body: its fields, its metadata's compact text. */
struct reading {
    struct field f[FD__COUNT];
    enum field_state meta_state; /* F_STRING stands for an object, its text in `meta` */
    struct buf text;             /* the string fields, each NUL-terminated */
    struct buf meta;
};

static const char *field_text(const struct reading *g, int i)
{
    return g->f[i].state == F_STRING ? g->text.data + g->f[i].off : NULL;
}

/* A required or optional string field of min..max characters with no control characters: the
 * value, or NULL (absent, or wrong: then reported). */
static const char *text_field(const struct reading *g, int i, bool required, size_t min,
                              size_t max, struct event_problem *p)
{
    const char *name = field_names[i].name;
    const struct field *f = &g->f[i];
    if (f->state == F_ABSENT || f->state == F_NULL) {
        if (required)
            bad(p, name, "is required");
        return NULL;
    }
    if (f->state != F_STRING) {
        bad(p, name, "must be a string");
        return NULL;
    }
    const char *s = field_text(g, i);
    size_t n = utf8_chars(s);
    if (n < min || n > max || strlen(s) != f->len) {
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

/* Reads the value at the reader's position as one event. 0: an object, read into g; 1: some
 * other value (skipped); -1: the JSON is bad (the reader tells). */
static int read_fields(struct jread *r, struct reading *g)
{
    memset(g->f, 0, sizeof(g->f));
    g->meta_state = F_ABSENT;
    buf_reset(&g->text);
    buf_reset(&g->meta);
    enum jread_type t = jread_peek(r);
    if (t != JREAD_OBJECT)
        return jread_skip(r, NULL) ? 1 : -1;
    if (!jread_object(r))
        return -1;
    const char *key;
    size_t key_len;
    while (jread_member(r, &key, &key_len)) {
        int i = 0;
        while (i < FD__COUNT &&
               !(key_len == field_names[i].len && memcmp(key, field_names[i].name, key_len) == 0))
            i++;
        t = jread_peek(r);
        bool ok;
        if (i < FD__COUNT) {
            struct field *f = &g->f[i];
            if (t == JREAD_STRING) {
                f->off = g->text.len;
                ok = jread_string(r, &g->text);
                f->len = g->text.len - f->off;
                buf_putc(&g->text, '\0');
                f->state = F_STRING;
            } else {
                f->state = t == JREAD_NULL ? F_NULL : F_OTHER;
                ok = jread_skip(r, NULL);
            }
        } else if (key_len == 8 && memcmp(key, "metadata", 8) == 0) {
            g->meta_state = t == JREAD_OBJECT ? F_STRING : t == JREAD_NULL ? F_NULL : F_OTHER;
            ok = jread_skip(r, t == JREAD_OBJECT ? &g->meta : NULL);
        } else {
            ok = jread_skip(r, NULL);
        }
        if (!ok)
            return -1;
    }
    return jread_failed(r) ? -1 : 0;
}

/* Validates a reading as one event of the app (object: the value was an object). */
static int check_event(const struct reading *g, bool object, const char *app_id, int64_t now_ms,
                       struct event *out, struct event_problem *p)
{
    memset(out, 0, sizeof(*out));
    memset(p, 0, sizeof(*p));
    p->status = 400;
    p->code = "validation_failed";
    p->message = "Validation failed";
    if (!object) {
        bad(p, "event", "must be a JSON object");
        return -1;
    }
    const char *app = text_field(g, FD_APP, true, 1, 64, p);
    const char *user = text_field(g, FD_USER, true, 1, EVENT_USER_ID_MAX, p);
    const char *type = text_field(g, FD_TYPE, true, 1, EVENT_TYPE_MAX, p);
    const char *key = text_field(g, FD_KEY, false, EVENT_KEY_MIN, EVENT_KEY_MAX, p);
    bool has_meta = false;
    if (g->meta_state == F_OTHER)
        bad(p, "metadata", "must be a JSON object");
    else if (g->meta_state == F_STRING && g->meta.len > 2) /* "{}" is no metadata */
        has_meta = g->meta.len <= EVENT_METADATA_MAX ||
                   (bad(p, "metadata", "must be at most 64 KiB as JSON"), false);
    int64_t occurred = now_ms;
    const struct field *at = &g->f[FD_AT];
    if (at->state == F_OTHER ||
        (at->state == F_STRING &&
         clock_parse_iso(field_text(g, FD_AT), at->len, &occurred) < 0))
        bad(p, "occurredAt", "must be an ISO 8601 date-time with Z or an offset");
    else if (at->state == F_STRING && occurred > now_ms + EVENT_FUTURE_MS)
        bad(p, "occurredAt", "must not be more than 5 minutes in the future");
    if (p->details || strcmp(app, app_id) != 0) {
        if (!p->details) {
            p->status = 409;
            p->code = "app_mismatch";
            p->message = "Payload appId mismatch";
        }
        return -1;
    }
    out->user_id = xstrdup(user);
    out->type = xstrdup(type);
    out->key = key ? xstrdup(key) : NULL;
    out->key_given = key != NULL;
    out->metadata = has_meta ? xstrndup(g->meta.data, g->meta.len) : NULL;
    out->occurred_at = occurred;
    out->received_at = now_ms;
    return 0;
}

static void reading_release(struct reading *g)
{
    buf_release(&g->text);
    buf_release(&g->meta);
}

/* A reader and its buffers, kept per thread: reading an event allocates nothing once they
 * have grown to the size of the bodies seen. */
struct scratch {
    struct jread r;
    struct reading g;
    bool busy; /* a batch's callback may read an event itself: it gets a scratch of its own */
    bool temporary;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    struct scratch *x = p;
    jread_release(&x->r);
    reading_release(&x->g);
    free(x);
}

static void scratch_key_init(void)
{
    pthread_key_create(&scratch_key, scratch_free);
}

static struct scratch *scratch_start(const char *body, size_t len, const struct json_limits *lim)
{
    pthread_once(&scratch_once, scratch_key_init);
    struct scratch *x = pthread_getspecific(scratch_key);
    if (!x || x->busy) {
        bool temporary = x != NULL;
        x = xcalloc(1, sizeof(*x));
        jread_init(&x->r, body, len, lim);
        buf_init(&x->g.text);
        buf_init(&x->g.meta);
        x->temporary = temporary;
        if (!temporary)
            pthread_setspecific(scratch_key, x);
    } else {
        jread_reset(&x->r, body, len, lim);
    }
    x->busy = true;
    return x;
}

/* Gives back what one large body made the scratch grow to. */
static void scratch_end(struct scratch *x)
{
    x->busy = false;
    if (x->temporary) {
        scratch_free(x);
        return;
    }
    struct buf *grown[] = { &x->g.meta, &x->g.text, &x->r.keys_text, &x->r.num };
    for (size_t i = 0; i < sizeof(grown) / sizeof(grown[0]); i++)
        if (grown[i]->cap > 2 * EVENT_METADATA_MAX)
            buf_release(grown[i]);
    if (x->r.keys_cap > 4096) {
        free(x->r.keys);
        x->r.keys = NULL;
        x->r.keys_cap = 0;
    }
}

int event_read(const char *body, size_t len, const struct json_limits *lim, const char *app_id,
               int64_t now_ms, struct event *out, struct event_problem *p, char *err,
               size_t errlen)
{
    struct scratch *x = scratch_start(body, len, lim);
    struct jread *r = &x->r;
    int rc = read_fields(r, &x->g);
    if (rc < 0 || !jread_end(r)) {
        jread_error(r, err, errlen);
        memset(out, 0, sizeof(*out));
        memset(p, 0, sizeof(*p));
        rc = -2;
    } else {
        rc = check_event(&x->g, rc == 0, app_id, now_ms, out, p);
    }
    scratch_end(x);
    return rc;
}

int event_read_batch(const char *body, size_t len, const struct json_limits *lim,
                     const char *app_id, int64_t now_ms, event_read_fn *fn, void *arg, char *err,
                     size_t errlen)
{
    struct scratch *x = scratch_start(body, len, lim);
    struct jread *r = &x->r;
    size_t n = 0;
    bool list = false;
    if (jread_peek(r) != JREAD_OBJECT) {
        jread_skip(r, NULL);
    } else if (jread_object(r)) {
        const char *key;
        size_t key_len;
        while (jread_member(r, &key, &key_len)) {
            if (!(key_len == 6 && memcmp(key, "events", 6) == 0 &&
                  jread_peek(r) == JREAD_ARRAY)) {
                if (!jread_skip(r, NULL))
                    break;
                continue;
            }
            list = jread_array(r);
            while (jread_element(r)) {
                if (n++ >= EVENT_BATCH_MAX) { /* refused below; the rest is only validated */
                    if (!jread_skip(r, NULL))
                        break;
                    continue;
                }
                int rc = read_fields(r, &x->g);
                if (rc < 0)
                    break;
                struct event ev;
                struct event_problem p;
                rc = check_event(&x->g, rc == 0, app_id, now_ms, &ev, &p);
                const char *given = rc < 0 ? field_text(&x->g, FD_KEY) : NULL;
                fn(arg, rc, &ev, &p, given);
            }
        }
    }
    int rc;
    if (!jread_end(r)) {
        jread_error(r, err, errlen);
        rc = -2;
    } else {
        rc = list && n >= 1 && n <= EVENT_BATCH_MAX ? (int)n : -1;
    }
    scratch_end(x);
    return rc;
}
