/* Events as the engine receives them: parsed from ForgeEngine's body, validated, and owned.
 *
 * event_read is pure (no clock, no randomness, no I/O): the caller passes the time of
 * receipt and assigns a key to an event that came without one. It reads the request's bytes
 * without building a JSON tree: on the I/O threads, parsing bodies with jansson and freeing
 * the trees was most of the CPU of batched ingestion. It is fuzzed against the strict jansson
 * parser (tests/fuzz/fuzz_event.c). */
#ifndef REACTOR_ENGINE_EVENT_H
#define REACTOR_ENGINE_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/json.h"

#define EVENT_USER_ID_MAX 128      /* characters, as POST /users */
#define EVENT_TYPE_MAX 128         /* characters */
#define EVENT_KEY_MIN 8            /* characters (ForgeEngine's minimum) */
#define EVENT_KEY_MAX 128          /* characters */
#define EVENT_METADATA_MAX (64 * 1024) /* bytes of compact JSON */
#define EVENT_FUTURE_MS (5 * 60 * 1000) /* occurredAt may be this far ahead of the clock */
#define EVENT_BATCH_MAX 1000       /* events in one POST /events/batch */

struct event {
    char *user_id;
    char *type;
    char *key;          /* idempotency key; NULL until assigned when the client sent none */
    char *metadata;     /* compact JSON object text, as the client sent it without the
                         * whitespace; NULL = none ({}) */
    int64_t occurred_at; /* Unix ms */
    int64_t received_at; /* Unix ms */
    bool key_given;     /* the client chose the key, so it may repeat */
};

/* Why an event was refused: `status` 400 (`details` names each bad field) or 409 (appId of
 * another app). */
struct event_problem {
    int status;
    const char *code;    /* "validation_failed" or "app_mismatch" */
    const char *message; /* "Validation failed" or "Payload appId mismatch" */
    json_t *details;     /* {field: message} for 400, else NULL; owned by the problem */
};

/* Reads a POST /events body: one event for the app `app_id`, received at `now_ms`, straight
 * from the bytes (core/jread.h: the strict parser's rules and `lim`, no tree built). Returns 0
 * with `out` filled (release it with event_release); -1 when the event is refused, with `p`
 * filled (release with event_problem_release); -2 when the body is not JSON within `lim`, with
 * the reason in err (out and p are then empty). The body may hold any JSON value. */
int event_read(const char *body, size_t len, const struct json_limits *lim, const char *app_id,
               int64_t now_ms, struct event *out, struct event_problem *p, char *err,
               size_t errlen);

/* One event of a batch, in order: rc 0 with `ev` (the callee owns it), or -1 with `p` (the
 * callee owns it) and `given_key`, the refused event's idempotencyKey when it was a string
 * (borrowed: copy it), else NULL. */
typedef void event_read_fn(void *arg, int rc, struct event *ev, struct event_problem *p,
                           const char *given_key);

/* Reads a POST /events/batch body, {"events": [...]}, calling fn for each event in order.
 * Returns the number of events (1..EVENT_BATCH_MAX); -1 when the body is JSON but "events" is
 * not an array of 1 to EVENT_BATCH_MAX; -2 when the body is not JSON within `lim` (err says
 * why). fn may have been called before -1 or -2 is known: the caller then drops what it got. */
int event_read_batch(const char *body, size_t len, const struct json_limits *lim,
                     const char *app_id, int64_t now_ms, event_read_fn *fn, void *arg, char *err,
                     size_t errlen);

void event_release(struct event *e);
void event_problem_release(struct event_problem *p);

#endif
