/* Fuzz target for event reading (src/engine/event.c, over core/jread.c), as POST /events and
 * POST /events/batch run it: the input is a request body, read with the server's limits as one
 * event and as a batch {"events": [...]}, and checked against jansson's strict parser on the
 * same bytes (json_parse_strict, the reference): the reader refuses exactly the bodies jansson
 * refuses, the fields it reads are the strings jansson decodes, an event's metadata text
 * parses to the object jansson parsed, and a batch has exactly the events of jansson's array.
 *
 * Every answer is checked against event.h's contract: an accepted event holds fields within
 * their limits (characters, not bytes; no control characters; metadata a non-empty object of
 * at most 64 KiB, or NULL; occurredAt at most 5 minutes ahead) and parses back to itself when
 * written out again; a refusal is a 400 naming only known fields, or a 409 for an event that
 * is valid for the app it names. Parsing is pure: the same input gives the same answer. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/clock.h"
#include "core/jread.h"
#include "core/json.h"
#include "core/utf8.h"
#include "engine/event.h"

#include "fuzz.h"

#define APP "demo"
#define NOW 1700000000000LL /* 2023-11-14T22:13:20Z */

static const struct json_limits server = {32, 100000};

/* An event read from the text jansson writes for v (a value the reference parsed). */
static int read_value(const json_t *v, const char *app, struct event *ev, struct event_problem *p)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    CHECK(text != NULL);
    char err[200];
    int rc = event_read(text, strlen(text), &server, app, NOW, ev, p, err, sizeof(err));
    CHECK(rc != -2); /* what jansson writes, the reader takes */
    free(text);
    return rc;
}

/* What clock_iso can write: years 0000 to 9999. */
#define ISO_MIN_MS (-62167219200000LL)
#define ISO_MAX_MS 253402300799999LL

static const char *const known_fields[] = {"event",          "appId",    "userId",    "eventType",
                                           "idempotencyKey", "metadata", "occurredAt"};


static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Metadata texts holding the same object (the client's numbers and escapes are kept as
 * sent, so the text of an event written back out by jansson may differ). */
static bool same_metadata(const char *a, const char *b)
{
    if (!a || !b)
        return !a && !b;
    json_t *x = json_loads(a, 0, NULL), *y = json_loads(b, 0, NULL);
    bool same = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return same;
}

static bool same_event(const struct event *a, const struct event *b)
{
    return str_eq(a->user_id, b->user_id) && str_eq(a->type, b->type) && str_eq(a->key, b->key) &&
           same_metadata(a->metadata, b->metadata) && a->occurred_at == b->occurred_at &&
           a->received_at == b->received_at && a->key_given == b->key_given;
}

static bool all_zero(const struct event *ev)
{
    static const struct event zero;
    return memcmp(ev, &zero, sizeof(zero)) == 0;
}

static void check_accepted(const json_t *v, const struct event *ev, const char *app)
{
    CHECK(ev->user_id && ev->type);
    size_t n = utf8_chars(ev->user_id);
    CHECK(n >= 1 && n <= EVENT_USER_ID_MAX && !utf8_has_control(ev->user_id));
    n = utf8_chars(ev->type);
    CHECK(n >= 1 && n <= EVENT_TYPE_MAX && !utf8_has_control(ev->type));
    CHECK(ev->key_given == (ev->key != NULL));
    if (ev->key) {
        n = utf8_chars(ev->key);
        CHECK(n >= EVENT_KEY_MIN && n <= EVENT_KEY_MAX && !utf8_has_control(ev->key));
        CHECK(str_eq(ev->key, json_string_value(json_object_get(v, "idempotencyKey"))));
    }
    CHECK(str_eq(ev->user_id, json_string_value(json_object_get(v, "userId"))));
    CHECK(str_eq(ev->type, json_string_value(json_object_get(v, "eventType"))));
    CHECK(str_eq(app, json_string_value(json_object_get(v, "appId"))));

    const json_t *meta = json_object_get(v, "metadata");
    if (ev->metadata) {
        CHECK(strlen(ev->metadata) <= EVENT_METADATA_MAX);
        json_t *back = json_loads(ev->metadata, 0, NULL);
        CHECK(json_is_object(back) && json_object_size(back) > 0);
        CHECK(json_equal(back, meta));
        json_decref(back);
    } else {
        CHECK(!meta || json_is_null(meta) || (json_is_object(meta) && !json_object_size(meta)));
    }

    CHECK(ev->received_at == NOW);
    CHECK(ev->occurred_at <= NOW + EVENT_FUTURE_MS);
    const json_t *at = json_object_get(v, "occurredAt");
    if (!at || json_is_null(at))
        CHECK(ev->occurred_at == NOW);
}

static void check_refused(const json_t *v, const struct event *ev, const struct event_problem *p)
{
    CHECK(all_zero(ev)); /* nothing to release on failure */
    if (p->status == 409) {
        CHECK(p->details == NULL);
        CHECK(strcmp(p->code, "app_mismatch") == 0);
        CHECK(strcmp(p->message, "Payload appId mismatch") == 0);
        const char *app = json_string_value(json_object_get(v, "appId"));
        CHECK(app && strcmp(app, APP) != 0);
        /* a mismatch is only ever answered for an event that is valid for its own app */
        struct event mine;
        struct event_problem q;
        CHECK(read_value(v, app, &mine, &q) == 0);
        check_accepted(v, &mine, app);
        event_release(&mine);
        return;
    }
    CHECK(p->status == 400);
    CHECK(strcmp(p->code, "validation_failed") == 0);
    CHECK(strcmp(p->message, "Validation failed") == 0);
    CHECK(json_is_object(p->details) && json_object_size(p->details) > 0);
    const char *field;
    json_t *msg;
    json_object_foreach(p->details, field, msg)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof(known_fields) / sizeof(known_fields[0]); i++)
            known |= strcmp(field, known_fields[i]) == 0;
        CHECK(known);
        CHECK(json_is_string(msg) && json_string_length(msg) > 0);
    }
    CHECK(!json_object_get(p->details, "event") || json_object_size(p->details) == 1);
    CHECK(json_is_object(v) || json_object_get(p->details, "event"));
}

/* Writes an accepted event back out as a body and parses it again: the same event. */
static void check_round_trip(const struct event *ev)
{
    if (ev->occurred_at < ISO_MIN_MS || ev->occurred_at > ISO_MAX_MS)
        return;
    char iso[CLOCK_ISO_LEN];
    clock_iso(ev->occurred_at, iso);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "appId", APP, "userId", ev->user_id, "eventType",
                          ev->type, "occurredAt", iso);
    CHECK(o != NULL);
    if (ev->key)
        json_object_set_new(o, "idempotencyKey", json_string(ev->key));
    if (ev->metadata)
        json_object_set_new(o, "metadata", json_loads(ev->metadata, 0, NULL));
    struct event again;
    struct event_problem p;
    CHECK(read_value(o, APP, &again, &p) == 0);
    CHECK(same_event(ev, &again));
    event_release(&again);
    json_decref(o);
}

/* v: the reference's value; rc, ev, p: what the reader made of the same event. */
static void check_one(const json_t *v, int rc, struct event *ev, struct event_problem *p)
{
    CHECK(rc == 0 || rc == -1);
    /* pure, and the same through jansson's own text of v */
    struct event ev2;
    struct event_problem p2;
    int rc2 = read_value(v, APP, &ev2, &p2);
    CHECK(rc2 == rc);
    if (rc == 0) {
        CHECK(p->details == NULL);
        CHECK(str_eq(ev->user_id, ev2.user_id) && str_eq(ev->type, ev2.type) &&
              str_eq(ev->key, ev2.key) && ev->occurred_at == ev2.occurred_at &&
              ev->key_given == ev2.key_given);
        check_accepted(v, ev, APP);
        check_round_trip(ev);
        event_release(ev);
        event_release(&ev2);
        CHECK(all_zero(ev));
        return;
    }
    CHECK(p2.status == p->status && strcmp(p2.code, p->code) == 0);
    CHECK((p->details == NULL) == (p2.details == NULL));
    if (p->details)
        CHECK(json_equal(p->details, p2.details));
    check_refused(v, ev, p);
    event_problem_release(p);
    event_problem_release(&p2);
    CHECK(p->details == NULL);
}

struct batch {
    const json_t *list; /* the reference's events, or NULL */
    size_t n;
};

static void batch_event(void *arg, int rc, struct event *ev, struct event_problem *p,
                        const char *given_key)
{
    struct batch *b = arg;
    if (!b->list) { /* a body the reference refuses: events may come before the error */
        if (rc == 0)
            event_release(ev);
        else
            event_problem_release(p);
        b->n++;
        return;
    }
    CHECK(b->n < json_array_size(b->list) && b->n < EVENT_BATCH_MAX);
    const json_t *v = json_array_get(b->list, b->n++);
    if (rc < 0) {
        const json_t *k = json_object_get(v, "idempotencyKey");
        CHECK(str_eq(given_key, json_is_string(k) ? json_string_value(k) : NULL));
    }
    check_one(v, rc, ev, p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[200];
    json_t *body = json_parse_strict((const char *)data, size, &server, err, sizeof(err));
    struct event ev;
    struct event_problem p;
    int rc = event_read((const char *)data, size, &server, APP, NOW, &ev, &p, err, sizeof(err));
    /* jansson stops at a NUL byte as if the input ended there; the reader refuses it */
    bool nul = memchr(data, '\0', size) != NULL;
    CHECK(nul ? rc == -2 || body != NULL : (rc == -2) == (body == NULL));
    if (rc == -2 && body) {
        json_decref(body);
        body = NULL;
    }
    if (body)
        check_one(body, rc, &ev, &p);
    else
        CHECK(all_zero(&ev) && p.details == NULL);

    const json_t *list = json_is_object(body) ? json_object_get(body, "events") : NULL;
    struct batch b = { json_is_array(list) ? list : NULL, 0 };
    int n = event_read_batch((const char *)data, size, &server, APP, NOW, batch_event, &b, err,
                             sizeof(err));
    if (!body) {
        CHECK(n == -2 || nul);
    } else if (!b.list || json_array_size(list) == 0 || json_array_size(list) > EVENT_BATCH_MAX) {
        CHECK(n == -1);
    } else {
        CHECK(n == (int)json_array_size(list) && b.n == (size_t)n);
    }
    json_decref(body);
    return 0;
}
