/* Fuzz target for the in-place reader (src/core/jscan.c). On any bytes: lookups in them never
 * crash or read outside them. On a document the strict parser takes (src/core/json.c) with no
 * NUL byte, which is what jscan is given in the server: every member of every object, found
 * by key, is the value jansson parsed, of the same type, with the same string (unescaped) and
 * the same number, and an array's elements are as many as jansson's, each the same. */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/jscan.h"
#include "core/json.h"

#include "fuzz.h"

static void same(const struct jscan_value *x, const json_t *j, int depth);

static void same_members(const struct jscan_value *x, const json_t *j, int depth)
{
    const char *key;
    size_t key_len;
    json_t *v;
    json_object_keylen_foreach((json_t *)j, key, key_len, v)
    {
        struct jscan_value m;
        CHECK(jscan_member(x, key, key_len, &m));
        same(&m, v, depth + 1);
    }
    /* A key that is not there: one more byte than some key, and the empty key. */
    struct jscan_value m;
    if (!json_object_getn(j, "", 0))
        CHECK(!jscan_member(x, "", 0, &m));
    json_object_keylen_foreach((json_t *)j, key, key_len, v)
    {
        char *longer = malloc(key_len + 2);
        CHECK(longer);
        memcpy(longer, key, key_len);
        longer[key_len] = '~';
        longer[key_len + 1] = '\0';
        if (!json_object_getn(j, longer, key_len + 1))
            CHECK(!jscan_member(x, longer, key_len + 1, &m));
        free(longer);
        break;
    }
}

static void same(const struct jscan_value *x, const json_t *j, int depth)
{
    if (depth > 64)
        return;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        CHECK(x->type == JSCAN_OBJECT);
        same_members(x, j, depth);
        break;
    case JSON_ARRAY: {
        CHECK(x->type == JSCAN_ARRAY);
        size_t pos = 0, n = 0;
        struct jscan_value e;
        while (jscan_element(x, &pos, &e)) {
            CHECK(n < json_array_size(j));
            same(&e, json_array_get(j, n), depth + 1);
            n++;
        }
        CHECK(n == json_array_size(j));
        break;
    }
    case JSON_STRING: {
        CHECK(x->type == JSCAN_STRING);
        struct buf b = BUF_INIT;
        CHECK(jscan_string(x, &b));
        CHECK(b.len == json_string_length(j));
        CHECK(memcmp(b.data, json_string_value(j), b.len) == 0);
        buf_release(&b);
        break;
    }
    case JSON_INTEGER:
    case JSON_REAL: {
        CHECK(x->type == JSCAN_NUMBER);
        bool is_int;
        int64_t i;
        double d;
        CHECK(jscan_number(x, &is_int, &i, &d));
        CHECK(is_int == json_is_integer(j));
        if (is_int)
            CHECK(i == json_integer_value(j) && d == (double)i);
        else
            CHECK(d == json_real_value(j));
        break;
    }
    case JSON_TRUE: CHECK(x->type == JSCAN_TRUE); break;
    case JSON_FALSE: CHECK(x->type == JSCAN_FALSE); break;
    case JSON_NULL: CHECK(x->type == JSCAN_NULL); break;
    }
}

/* Any bytes: every lookup stays inside them. The keys come from the input itself. */
static void wander(const char *data, size_t size)
{
    struct jscan_value v;
    if (!jscan_value(data, size, &v))
        return;
    for (int step = 0; step < 32; step++) {
        CHECK(v.at >= data && v.at + v.len <= data + size);
        struct jscan_value next;
        bool moved = false;
        if (v.type == JSCAN_OBJECT) {
            size_t k = (size_t)step % (size < 8 ? size + 1 : 8);
            moved = jscan_member(&v, data + size - k, k, &next) ||
                    jscan_member(&v, "a", 1, &next);
        } else if (v.type == JSCAN_ARRAY) {
            size_t pos = 0;
            moved = jscan_element(&v, &pos, &next);
            while (moved && step % 3 && jscan_element(&v, &pos, &next))
                ;
        } else if (v.type == JSCAN_STRING) {
            struct buf b = BUF_INIT;
            (void)jscan_string(&v, &b);
            buf_release(&b);
        } else if (v.type == JSCAN_NUMBER) {
            bool is_int;
            int64_t i;
            double d;
            (void)jscan_number(&v, &is_int, &i, &d);
        }
        if (!moved)
            return;
        v = next;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    wander(text, size);
    /* The server's texts are C strings (jansson takes a NUL between some tokens). */
    if (memchr(text, '\0', size))
        return 0;
    static const struct json_limits lim = { 32, 4096 };
    char err[160];
    json_t *j = json_parse_strict(text, size, &lim, err, sizeof(err));
    if (!j)
        return 0;
    struct jscan_value x;
    CHECK(jscan_value(text, size, &x));
    same(&x, j, 0);
    json_decref(j);
    return 0;
}
