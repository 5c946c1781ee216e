/* Fuzz target for the store's compact form of effects (src/core/fxpack.c). On any bytes:
 * fxpack_json never crashes or reads outside them, and what the buffer held before is kept. A
 * refusal leaves the buffer as it was. What it accepts is one line of JSON (no NUL byte) that
 * jansson reads, as the realtime hub and the webhooks do (no NUL in a string: the writers take
 * C strings, and the reader refuses one), as an array of objects, each of one effect's shape.
 * And that array written again with the writers, from jansson's strings and integers and the
 * tier's text as it stands, expands to the same text byte for byte: strings that are not
 * UTF-8 came out as U+FFFD already, so writing them again changes nothing. fxpack_json_readable
 * agrees with it on whole forms, and on any other gives an array jansson reads (the effects
 * before the fault).
 *
 * One exception is let through: jansson refuses nesting deeper than JSON_PARSER_MAX_DEPTH, and
 * a tier that is just within it alone is two levels deeper inside the array's object. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fxpack.h"
#include "core/jscan.h"

#include "fuzz.h"

static const char before[] = "effects: ";

/* A string member's value (with no NUL in it). */
static const char *str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    CHECK(json_is_string(v));
    CHECK(strlen(json_string_value(v)) == json_string_length(v));
    return json_string_value(v);
}

static int64_t num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    CHECK(json_is_integer(v));
    return json_integer_value(v);
}

/* The tier's text as the expanded effect `el` shows it (new; free it): what stands between
 * the name and the claims. */
static char *tier_text(const struct jscan_value *el)
{
    static const char tier[] = ",\"tier\":", claims[] = ",\"claims\":";
    struct jscan_value name, count;
    CHECK(jscan_member(el, "name", 4, &name) && name.type == JSCAN_STRING);
    CHECK(jscan_member(el, "claims", 6, &count) && count.type == JSCAN_NUMBER);
    const char *from = name.at + name.len + 1; /* past the closing quote */
    const char *to = count.at - (sizeof(claims) - 1);
    CHECK(from + sizeof(tier) - 1 <= to);
    CHECK(memcmp(from, tier, sizeof(tier) - 1) == 0);
    CHECK(memcmp(to, claims, sizeof(claims) - 1) == 0);
    from += sizeof(tier) - 1;
    char *t = malloc((size_t)(to - from) + 1);
    CHECK(t);
    memcpy(t, from, (size_t)(to - from));
    t[to - from] = '\0';
    return t;
}

/* Checks one expanded effect's shape and writes it again into b. */
static void rewrite(const json_t *o, const struct jscan_value *el, struct buf *b)
{
    CHECK(json_is_object(o));
    const json_t *t = json_object_get(o, "type");
    CHECK(json_is_string(t));
    const char *type = json_string_value(t);
    size_t members;
    if (strcmp(type, "xp.awarded") == 0 || strcmp(type, "currency.changed") == 0) {
        bool xp = type[0] == 'x';
        const char *name = str(o, xp ? "track" : "currency");
        int64_t amount = num(o, "amount"), total = num(o, xp ? "totalXp" : "balance");
        enum fxpack_source source = FXPACK_SOURCE_NONE;
        const char *ref = NULL;
        members = 4;
        const json_t *s = json_object_get(o, "source");
        if (s) {
            CHECK(json_is_string(s));
            members = 6;
            if (strcmp(json_string_value(s), "rule") == 0) {
                source = FXPACK_SOURCE_RULE;
                ref = str(o, "ruleId");
            } else {
                CHECK(strcmp(json_string_value(s), "achievement") == 0);
                source = FXPACK_SOURCE_ACHIEVEMENT;
                ref = str(o, "achievementCode");
            }
        }
        fxpack_award(b, xp ? FXPACK_XP : FXPACK_CURRENCY, name, amount, total, source, ref);
    } else if (strcmp(type, "level.up") == 0) {
        fxpack_level(b, str(o, "track"), num(o, "from"), num(o, "to"));
        members = 4;
    } else if (strcmp(type, "streak.updated") == 0) {
        fxpack_streak(b, str(o, "key"), num(o, "current"), num(o, "best"),
                      num(o, "freezesUsed"));
        members = 5;
    } else {
        CHECK(strcmp(type, "achievement.unlocked") == 0);
        const char *id = str(o, "achievementId");
        const char *code = str(o, "code");
        const char *name = str(o, "name");
        CHECK(json_object_get(o, "tier"));
        char *tier = tier_text(el);
        fxpack_achievement(b, id, code, name, tier, num(o, "claims"));
        free(tier);
        members = 6;
    }
    CHECK(json_object_size(o) == members);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const size_t pre = sizeof(before) - 1;
    struct buf out = BUF_INIT;
    buf_puts(&out, before);
    int rc = fxpack_json(data, size, &out);
    /* What the ledger reads: the same array when the form is whole, else the effects before
     * its fault, always an array after what the buffer held. */
    struct buf readable = BUF_INIT;
    buf_puts(&readable, before);
    CHECK(fxpack_json_readable(data, size, &readable) == rc);
    CHECK(readable.len >= pre + 2 && memcmp(readable.data, before, pre) == 0);
    CHECK(readable.data[pre] == '[' && readable.data[readable.len - 1] == ']');
    if (rc == 0)
        CHECK(readable.len == out.len && memcmp(readable.data, out.data, out.len) == 0);
    json_error_t rerr;
    json_t *part = json_loadb(readable.data + pre, readable.len - pre, 0, &rerr);
    CHECK(json_is_array(part) || json_error_code(&rerr) == json_error_stack_overflow);
    json_decref(part);
    buf_release(&readable);
    if (rc != 0) {
        CHECK(rc == -1);
        CHECK(out.len == pre && memcmp(out.data, before, sizeof(before)) == 0);
        buf_release(&out);
        return 0;
    }
    CHECK(out.len > pre && memcmp(out.data, before, pre) == 0);
    const char *text = out.data + pre;
    size_t len = out.len - pre;
    CHECK(text[len] == '\0' && memchr(text, '\0', len) == NULL);
    /* The same into an empty buffer. */
    struct buf again = BUF_INIT;
    CHECK(fxpack_json(data, size, &again) == 0);
    CHECK(again.len == len && memcmp(again.data, text, len) == 0);
    buf_release(&again);

    json_error_t err;
    json_t *arr = json_loadb(text, len, 0, &err);
    if (!arr) {
        CHECK(json_error_code(&err) == json_error_stack_overflow);
        buf_release(&out);
        return 0;
    }
    CHECK(json_is_array(arr));
    struct jscan_value top, el;
    CHECK(jscan_value(text, len, &top) && top.type == JSCAN_ARRAY);
    size_t pos = 0;
    struct buf form = BUF_INIT;
    fxpack_begin(&form);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        CHECK(jscan_element(&top, &pos, &el) && el.type == JSCAN_OBJECT);
        rewrite(json_array_get(arr, i), &el, &form);
    }
    CHECK(!jscan_element(&top, &pos, &el));
    struct buf back = BUF_INIT;
    CHECK(fxpack_json(form.data, form.len, &back) == 0);
    CHECK(back.len == len && memcmp(back.data, text, len) == 0);
    buf_release(&back);
    buf_release(&form);
    json_decref(arr);
    buf_release(&out);
    return 0;
}
