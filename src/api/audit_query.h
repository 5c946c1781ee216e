/* GET /audit's query string: filters, the paging cursor and the output format, parsed and
 * checked without touching the store (pure, so it is unit tested and fuzzed).
 *
 * The cursor is opaque to clients: "a" and the 16 hexadecimal digits of the id of the last
 * row a page returned. Ids never change and only grow, so a cursor stays valid and stable
 * while rows are added (they are newer: they land on pages already read) or pruned. */
#ifndef REACTOR_API_AUDIT_QUERY_H
#define REACTOR_API_AUDIT_QUERY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define AUDIT_CURSOR_LEN 17
#define AUDIT_LIMIT_DEFAULT 100
#define AUDIT_LIMIT_MAX 1000
#define AUDIT_ACTOR_MAX 128
#define AUDIT_ACTION_MAX 64
#define AUDIT_RESOURCE_TYPE_MAX 32
#define AUDIT_RESOURCE_ID_MAX 256

struct audit_query {
    struct store_audit_filter filter; /* its strings point into the fields below */
    int limit;                        /* rows per page (the JSON format) */
    bool ndjson;                      /* format=ndjson: the whole selection, streamed */
    char *app_id;                     /* appId= (only the operator may use it); NULL = none */
    char *actor, *action, *resource_type, *resource_id; /* owned; NULL = not given */
};

/* Parses the query string q[0..len) (without '?'). 0 with *out filled (release it), or -1
 * with *details set to a new object {parameter: what is wrong} (out is then released). */
int audit_query_parse(const char *q, size_t len, struct audit_query *out, json_t **details);
void audit_query_release(struct audit_query *q);

/* The cursor for rows older than `id` (> 0). */
void audit_cursor_encode(int64_t id, char out[AUDIT_CURSOR_LEN + 1]);
/* 0 and the id, or -1 when s[0..len) is not a cursor this server made. */
int audit_cursor_parse(const char *s, size_t len, int64_t *id);

#endif
