/* Conditions: the small predicate language of rules and achievements, compiled once when a
 * rule is saved and evaluated per event with no parsing and no allocation.
 *
 * Source form (JSON): a node is one of
 *   {"all": [node, ...]}   every child holds (an empty list holds)
 *   {"any": [node, ...]}   at least one child holds (an empty list does not)
 *   {"not": node}
 *   {"field": "<path>", "op": "<op>", "value": <JSON>}   a leaf ("value" absent for exists)
 *   {"field": "<path>", "equals": <JSON>}                ForgeEngine's achievement shorthand
 *                                                        for op "eq"
 * nested at most COND_MAX_DEPTH deep (the root is at depth 1), at most COND_MAX_NODES nodes in
 * all (combinators and leaves), an in/nin list at most COND_MAX_LIST values. A node with any
 * other shape, an unknown op, or a value of the wrong type for its op is refused at compile
 * time with a message naming where (ForgeEngine matches every event when "all" is missing).
 *
 * Fields: "metadata.<path>" or a bare "<path>" (ForgeEngine: a bare name means metadata),
 * "user.attributes.<path>", "event.type", "event.occurredAt". A path is dot-separated object
 * keys ("score.total"); at most COND_MAX_PATH segments, none empty. Any other "event.*" or
 * "user.*" name, and a bare "metadata" or "user.attributes", is refused (a metadata key named
 * "event" or "user" is reached as "metadata.event...").
 *
 * Ops (ForgeEngine's semantics for the common ones: strict equality, numeric comparisons on
 * numbers only):
 *   eq, neq       strict JSON equality (1 and 1.0 are equal numbers; "1" and 1 are not);
 *                 neq is the negation of eq (also when the field is missing)
 *   gt gte lt lte both sides numbers (value must be a number), else false; on
 *                 event.occurredAt the value is an ISO 8601 string or Unix ms
 *   in, nin       value is an array; in = eq to some element; nin = not in
 *   contains      field is a string holding value (a string) as a substring, or an array
 *                 with an element eq to value
 *   startsWith    field and value are strings, field starts with value
 *   exists        value absent, true or false: the field is present (not null) == value
 * A missing field makes every op false except neq, nin and exists:false. A JSON null is
 * present for eq/neq/in/nin (eq null holds) but not for exists.
 * Refused as meaningless: gt/gte/lt/lte on event.type, contains/startsWith on
 * event.occurredAt, and an occurredAt value that is neither a number nor an ISO 8601 date-time.
 * Composite values (arrays, objects) compare deeply, numbers inside them by value too. */
#ifndef REACTOR_ENGINE_CONDITION_H
#define REACTOR_ENGINE_CONDITION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COND_MAX_DEPTH 8
#define COND_MAX_NODES 256
#define COND_MAX_PATH 8
#define COND_MAX_LIST 1000
#define COND_FIELDS_MAX 256 /* paths numbered per cond_fields table */

struct cond;
struct cond_fields;

/* What a condition reads. Borrowed for the call. `metadata` and `attributes` may be NULL
 * (empty). Set every member (an initializer zeroes those it leaves out).
 * The event's metadata is either a tree (`metadata`) or, when that is NULL, its JSON text
 * (`metadata_text`, `metadata_len`; valid JSON, such as ingestion stores), read in place: an
 * event's rules read a few of its fields, and parsing the whole text into a tree cost more
 * than the rest of the rules (docs/benchmarks.md). Both give the same results. */
struct cond_ctx {
    const json_t *metadata;
    const json_t *attributes;
    const char *event_type;
    int64_t occurred_at;       /* Unix ms */
    const struct cond_fields *fields; /* the table the conditions are bound to, or NULL (only
                                       * the memo reads it, at cond_memo_begin) */
    const char *metadata_text; /* an object's text, or NULL */
    size_t metadata_len;
};

/* Threads: a compiled condition is immutable (but for cond_fields_bind, below); any number of
 * threads may evaluate it at once.
 *
 * Compiles `v`. Returns the condition, or NULL with a message in err such as
 * "all[1].op: unknown operator \"like\"" (the path is relative to v; the caller prefixes its
 * field name). The result does not reference v. */
struct cond *cond_compile(const json_t *v, char *err, size_t errlen);
void cond_free(struct cond *c);
bool cond_eval(const struct cond *c, const struct cond_ctx *ctx);

/* The per-event memo (optional; it changes no result, only the time taken). Rules of one
 * event read the same few fields over and over; between cond_memo_begin(ctx) and
 * cond_memo_end() on one thread, every evaluation given that very ctx (cond_eval,
 * cond_path_value, and rule.h's rule_multiplier and rule_award_amount) looks each distinct
 * field up once and then answers from the memo. Any other ctx is evaluated without it.
 * Until cond_memo_end, neither the ctx nor the JSON it points to may change (a change of one
 * of the ctx's members is noticed and turns the memo off; a change inside the JSON is not).
 * One memo per thread: a begin while one is open replaces it. It keeps copies of the paths,
 * so conditions and rules may be freed while it is open. No allocation, but to decode a
 * metadata value read from text that is an escaped string, an object or an array holding one
 * (kept until the memo ends).
 * With 50 rules on one event type (bench/rules.c) it halves the time (docs/benchmarks.md):
 * the engine should open it around the rules and achievements of each event. */
void cond_memo_begin(const struct cond_ctx *ctx);
void cond_memo_end(void);

/* Fields numbered per table (optional, like the memo: it changes no result, only the time
 * taken). The conditions of one app read few distinct fields. A table numbers the metadata
 * and user.attributes paths of the conditions bound to it; while the memo is open for a ctx
 * whose `fields` is that table, a bound condition's leaves find their values by number, in an
 * array the memo fills once per event, instead of by the path's hash and text.
 * A condition is bound to one table at a time (binding it again replaces the numbers) and uses
 * the numbers only with the memo of that very table: evaluated with another table, or none, it
 * reads its fields by path as an unbound one does. A table holds at most COND_FIELDS_MAX
 * paths; leaves of paths past that read them by path. Clearing a table forgets its paths and
 * unbinds every condition bound to it (they stay valid; bind them again to number them anew).
 * Threads: binding writes into the condition, so bind it before other threads may evaluate
 * it; a table is used by one thread at a time. No allocation but when a path is added.
 *
 * cond_fields_bind returns how many of c's leaves were left unnumbered because the table is
 * full (0 normally). cond_fields_count is the number of paths the table holds. */
struct cond_fields *cond_fields_new(void);
void cond_fields_free(struct cond_fields *f);
size_t cond_fields_bind(struct cond_fields *f, struct cond *c);
void cond_fields_clear(struct cond_fields *f);
size_t cond_fields_count(const struct cond_fields *f);

/* A compiled field reference, also used by award amounts and multipliers that read a field of
 * the event. */
enum cond_source { COND_SRC_METADATA, COND_SRC_ATTRIBUTES, COND_SRC_EVENT_TYPE,
                   COND_SRC_OCCURRED_AT };
struct cond_path {
    enum cond_source source;
    unsigned n;                       /* segments (metadata and attributes) */
    uint32_t hash;                    /* of source and segments: the memo's key */
    size_t text_len;
    char *text;                       /* owned: the segments joined with '.', NUL-padded to a
                                       * multiple of 8 bytes */
    char *seg[COND_MAX_PATH];         /* owned */
    size_t len[COND_MAX_PATH];        /* strlen of each seg */
};
/* Parses a field name as above. 0, or -1 with a message (such as "empty key in path") and
 * `out` zeroed; release `out` with cond_path_release. */
int cond_path_parse(const char *field, struct cond_path *out, char *err, size_t errlen);
void cond_path_release(struct cond_path *p);
/* A field's value as award amounts and multipliers read it. */
enum cond_value_type { COND_V_MISSING, COND_V_NULL, COND_V_TRUE, COND_V_FALSE, COND_V_NUMBER,
                       COND_V_STRING, COND_V_OTHER /* an array or an object */ };
struct cond_value {
    enum cond_value_type type;
    double number;   /* COND_V_NUMBER */
    const char *s;   /* COND_V_STRING: len bytes, not always NUL-terminated */
    size_t len;
};
/* The value a metadata or attributes path names in ctx. COND_V_MISSING when missing, and for
 * COND_SRC_EVENT_TYPE and COND_SRC_OCCURRED_AT: use cond_eval for those. A string is valid
 * while ctx is, and only until the memo ends when it is open, or until the next call to
 * cond_eval or cond_path_value when it is not. */
void cond_path_value(const struct cond_path *p, const struct cond_ctx *ctx,
                     struct cond_value *out);

#endif
