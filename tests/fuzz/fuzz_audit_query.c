/* Fuzz target for GET /audit's query parser and cursor (src/api/audit_query.c).
 *
 * Input: a query string as a client sends it. Checks: parsing never crashes and either fills
 * the query or names what is wrong; whatever it accepts is within the documented bounds; a
 * cursor it accepts re-encodes to itself, and the cursor of an accepted id parses back. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "api/audit_query.h"

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct audit_query q;
    json_t *details = NULL;
    if (audit_query_parse(s, size, &q, &details) == 0) {
        CHECK(details == NULL);
        CHECK(q.limit >= 1 && q.limit <= AUDIT_LIMIT_MAX);
        CHECK(!q.filter.actor || (strlen(q.filter.actor) >= 1 &&
                                  strlen(q.filter.actor) <= AUDIT_ACTOR_MAX));
        CHECK(!q.filter.action || strlen(q.filter.action) <= AUDIT_ACTION_MAX);
        CHECK(!q.filter.resource_id || q.filter.resource_type);
        CHECK(!q.filter.from_ms || !q.filter.to_ms || q.filter.from_ms < q.filter.to_ms);
        if (q.filter.before_id) {
            char c[AUDIT_CURSOR_LEN + 1];
            int64_t back = 0;
            audit_cursor_encode(q.filter.before_id, c);
            CHECK(audit_cursor_parse(c, strlen(c), &back) == 0 && back == q.filter.before_id);
        }
        audit_query_release(&q);
    } else {
        CHECK(json_is_object(details) && json_object_size(details) > 0);
        json_decref(details);
    }
    int64_t id = 0;
    if (audit_cursor_parse(s, size, &id) == 0) {
        char c[AUDIT_CURSOR_LEN + 1];
        audit_cursor_encode(id, c);
        CHECK(id > 0 && size == AUDIT_CURSOR_LEN && strncasecmp(c, s, size) == 0);
    }
    return 0;
}
