/* Events as the engine receives them: parsed from ForgeEngine's body, validated, and owned.
 *
 * event_parse is pure (no clock, no randomness, no I/O): the caller passes the time of
 * receipt and assigns a key to an event that came without one. It is fuzzed
 * (tests/fuzz/fuzz_event.c). */
#ifndef REACTOR_ENGINE_EVENT_H
#define REACTOR_ENGINE_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    char *metadata;     /* compact JSON object text; NULL = none ({}) */
    json_t *meta;       /* the same object as parsed (a reference; rules read it without
                         * parsing again), NULL with metadata. jansson's reference counts
                         * are atomic, so the event may be released on another thread than
                         * the one that parsed it */
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

/* Parses one event for the app `app_id`, received at `now_ms`. Returns 0 with `out` filled
 * (release it with event_release), or -1 with `p` filled (release with event_problem_release).
 * `v` may be any JSON value. */
int event_parse(const json_t *v, const char *app_id, int64_t now_ms, struct event *out,
                struct event_problem *p);
void event_release(struct event *e);
void event_problem_release(struct event_problem *p);

#endif
