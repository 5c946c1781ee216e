/* Fuzz target for the strict JSON parser (src/core/json.c): prescan and parse within limits,
 * check that the limits really bound what was built, then dump and re-parse the result. The
 * reader without a tree (src/core/jread.c) must take exactly the documents the strict parser
 * takes, within the same limits, and its compact copy must parse to the same value. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/jread.h"
#include "core/json.h"

#include "fuzz.h"

/* Values in j, object keys included, the way json_prescan counts them; and its nesting. */
static void measure(const json_t *j, int level, size_t *elements, int *depth)
{
    (*elements)++;
    if (json_is_object(j) || json_is_array(j)) {
        level++;
        if (level > *depth)
            *depth = level;
    }
    if (json_is_object(j)) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)j, key, v)
        {
            (*elements)++;
            measure(v, level, elements, depth);
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            measure(v, level, elements, depth);
        }
    }
}

static void check(const char *text, size_t len, const struct json_limits *lim)
{
    char err[200];
    memset(err, 0, sizeof(err));
    int pre = json_prescan(text, len, lim, err, sizeof(err));
    CHECK(pre == 0 || pre == -1);
    if (pre < 0)
        CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));

    struct jread r;
    struct buf compact = BUF_INIT;
    jread_init(&r, text, len, lim);
    bool read = jread_skip(&r, &compact) && jread_end(&r);
    CHECK(read != jread_failed(&r));
    char rerr[200];
    if (!read) {
        jread_error(&r, rerr, sizeof(rerr));
        CHECK(rerr[0] != '\0');
    }
    jread_release(&r);

    memset(err, 0, sizeof(err));
    json_t *j = json_parse_strict(text, len, lim, err, sizeof(err));
    /* jansson stops at a NUL byte as if the input ended there; the reader refuses it */
    if (memchr(text, '\0', len))
        CHECK(!read);
    else
        CHECK(read == (j != NULL));
    if (!j || !read) {
        CHECK(j || (err[0] != '\0' && memchr(err, '\0', sizeof(err))));
        json_decref(j);
        buf_release(&compact);
        return;
    }
    json_error_t jerr;
    json_t *c = json_loadb(compact.data, compact.len, JSON_DECODE_ANY, &jerr);
    CHECK(c != NULL && json_equal(c, j));
    CHECK(compact.len <= len);
    json_decref(c);
    buf_release(&compact);
    CHECK(pre == 0); /* the prescan is part of the strict parse */

    size_t elements = 0;
    int depth = 0;
    measure(j, 0, &elements, &depth);
    CHECK(depth <= lim->max_depth);
    CHECK(elements <= lim->max_elements);

    /* The compact dump is valid JSON of the same shape, so it passes the same limits. */
    struct buf out = BUF_INIT;
    json_dump_buf(j, &out);
    CHECK(out.len > 0);
    CHECK(out.data[out.len] == '\0');
    json_t *again = json_parse_strict(out.data, out.len, lim, err, sizeof(err));
    CHECK(again != NULL); /* the dump of a parsed document must parse */
    CHECK(json_equal(j, again));

    struct buf out2 = BUF_INIT;
    json_dump_buf(again, &out2);
    CHECK(out2.len == out.len && memcmp(out2.data, out.data, out.len) == 0);

    buf_release(&out2);
    buf_release(&out);
    json_decref(again);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;

    /* The server's defaults. */
    static const struct json_limits server = {32, 100000};
    check(text, size, &server);

    /* Tight limits, so that the limit checks themselves are exercised on small inputs. */
    struct json_limits tight = {1 + (int)(size % 4), 1 + size % 16};
    check(text, size, &tight);
    return 0;
}
