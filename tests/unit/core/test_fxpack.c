/* Unit tests for src/core/fxpack.c: the store keeps an event's effects in this form and shows
 * them as the JSON it expands to, so a member named wrong, an integer read back wrong or a
 * damaged form taken as good would change every event read back, its ledger and its
 * webhooks. engine/test_game.c checks the JSON against what versions before the form wrote;
 * the fuzz target (tests/fuzz/fuzz_fxpack.c) checks any bytes. */
#include "unit.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fxpack.h"
#include "core/uuid.h"

/* One effect as the writers take it. */
struct effect {
    enum fxpack_type type;
    const char *s1, *s2, *s3; /* award: name; level: track; streak: key; achievement: id,
                               * code, name */
    int64_t i1, i2, i3;       /* award: amount, total; level: from, to; streak: current, best,
                               * freezes used; achievement: claims */
    enum fxpack_source source;
    const char *ref;          /* award: the source's reference; achievement: tier (NULL: null) */
};

static void put(struct buf *b, const struct effect *e)
{
    switch (e->type) {
    case FXPACK_XP:
    case FXPACK_CURRENCY:
        fxpack_award(b, e->type, e->s1, e->i1, e->i2, e->source, e->ref);
        break;
    case FXPACK_LEVEL:
        fxpack_level(b, e->s1, e->i1, e->i2);
        break;
    case FXPACK_STREAK:
        fxpack_streak(b, e->s1, e->i1, e->i2, e->i3);
        break;
    case FXPACK_ACHIEVEMENT:
        fxpack_achievement(b, e->s1, e->s2, e->s3, e->ref, e->i1);
        break;
    }
}

/* fxpack_json of a copy of p[0..len) in a block of exactly that size (a read past it is
 * ASan's to see), appended to out. */
static int expand_into(const void *p, size_t len, struct buf *out)
{
    unsigned char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, p, len);
    int rc = fxpack_json(copy, len, out);
    free(copy);
    return rc;
}

/* The JSON of a form that must expand (new; free it). */
static char *expand(const void *p, size_t len)
{
    struct buf out = BUF_INIT;
    if (expand_into(p, len, &out) != 0)
        fail_msg("refused a form of %zu bytes", len);
    assert_int_equal(strlen(out.data), out.len);
    return buf_detach(&out, NULL);
}

static void assert_expands_to(const void *p, size_t len, const char *want)
{
    char *got = expand(p, len);
    if (strcmp(got, want) != 0)
        fail_msg("\n got %s\nwant %s", got, want);
    free(got);
}

/* Fails unless fxpack_json refuses p[0..len) and leaves the buffer as it was: one that held
 * text, and one that was empty. */
static void assert_refused(const void *p, size_t len, const char *what)
{
    static const char before[] = "[\"before\"]";
    struct buf out = BUF_INIT;
    buf_puts(&out, before);
    int rc = expand_into(p, len, &out);
    if (rc != -1)
        fail_msg("%s: %d, not refused: %s", what, rc, out.data);
    assert_int_equal(out.len, strlen(before));
    assert_memory_equal(out.data, before, sizeof(before)); /* with its NUL */
    buf_release(&out);
    rc = expand_into(p, len, &out);
    if (rc != -1)
        fail_msg("%s: %d into an empty buffer", what, rc);
    assert_int_equal(out.len, 0);
    assert_int_equal(out.data[0], '\0');
    buf_release(&out);
}

#define UUID "0f8e2c4a-1b3d-4e5f-8a9b-c0d1e2f3a4b5"

static const struct {
    struct effect e;
    const char *want;
} every_effect[] = {
    { { FXPACK_XP, "XP", NULL, NULL, 5, 105, 0, FXPACK_SOURCE_NONE, NULL },
      "{\"type\":\"xp.awarded\",\"track\":\"XP\",\"amount\":5,\"totalXp\":105}" },
    { { FXPACK_XP, "XP", NULL, NULL, 7, 112, 0, FXPACK_SOURCE_RULE, "rule-1" },
      "{\"type\":\"xp.awarded\",\"track\":\"XP\",\"amount\":7,\"totalXp\":112,"
      "\"source\":\"rule\",\"ruleId\":\"rule-1\"}" },
    { { FXPACK_XP, "Skill", NULL, NULL, 1, 1, 0, FXPACK_SOURCE_RULE, UUID },
      "{\"type\":\"xp.awarded\",\"track\":\"Skill\",\"amount\":1,\"totalXp\":1,"
      "\"source\":\"rule\",\"ruleId\":\"" UUID "\"}" },
    { { FXPACK_XP, "XP", NULL, NULL, 100, 212, 0, FXPACK_SOURCE_ACHIEVEMENT, "first.win" },
      "{\"type\":\"xp.awarded\",\"track\":\"XP\",\"amount\":100,\"totalXp\":212,"
      "\"source\":\"achievement\",\"achievementCode\":\"first.win\"}" },
    { { FXPACK_XP, "XP", NULL, NULL, -212, 0, 0, FXPACK_SOURCE_NONE, NULL },
      "{\"type\":\"xp.awarded\",\"track\":\"XP\",\"amount\":-212,\"totalXp\":0}" },
    { { FXPACK_CURRENCY, "coins", NULL, NULL, 3, 3, 0, FXPACK_SOURCE_NONE, NULL },
      "{\"type\":\"currency.changed\",\"currency\":\"coins\",\"amount\":3,\"balance\":3}" },
    { { FXPACK_CURRENCY, "coins", NULL, NULL, 2, 5, 0, FXPACK_SOURCE_RULE, "r" },
      "{\"type\":\"currency.changed\",\"currency\":\"coins\",\"amount\":2,\"balance\":5,"
      "\"source\":\"rule\",\"ruleId\":\"r\"}" },
    { { FXPACK_CURRENCY, "gems", NULL, NULL, 9, 9, 0, FXPACK_SOURCE_RULE, UUID },
      "{\"type\":\"currency.changed\",\"currency\":\"gems\",\"amount\":9,\"balance\":9,"
      "\"source\":\"rule\",\"ruleId\":\"" UUID "\"}" },
    { { FXPACK_CURRENCY, "coins", NULL, NULL, 10, 15, 0, FXPACK_SOURCE_ACHIEVEMENT, "a:b" },
      "{\"type\":\"currency.changed\",\"currency\":\"coins\",\"amount\":10,\"balance\":15,"
      "\"source\":\"achievement\",\"achievementCode\":\"a:b\"}" },
    { { FXPACK_LEVEL, "XP", NULL, NULL, 1, 3, 0, FXPACK_SOURCE_NONE, NULL },
      "{\"type\":\"level.up\",\"track\":\"XP\",\"from\":1,\"to\":3}" },
    { { FXPACK_LEVEL, "", NULL, NULL, 3, 1, 0, FXPACK_SOURCE_NONE, NULL },
      "{\"type\":\"level.up\",\"track\":\"\",\"from\":3,\"to\":1}" },
    { { FXPACK_STREAK, "daily", NULL, NULL, 4, 9, 2, FXPACK_SOURCE_NONE, NULL },
      "{\"type\":\"streak.updated\",\"key\":\"daily\",\"current\":4,\"best\":9,"
      "\"freezesUsed\":2}" },
    { { FXPACK_ACHIEVEMENT, "a-1", "first.win", "First win", 1, 0, 0, FXPACK_SOURCE_NONE,
        NULL },
      "{\"type\":\"achievement.unlocked\",\"achievementId\":\"a-1\",\"code\":\"first.win\","
      "\"name\":\"First win\",\"tier\":null,\"claims\":1}" },
    { { FXPACK_ACHIEVEMENT, UUID, "c", "", 3, 0, 0, FXPACK_SOURCE_NONE, "\"gold\"" },
      "{\"type\":\"achievement.unlocked\",\"achievementId\":\"" UUID "\",\"code\":\"c\","
      "\"name\":\"\",\"tier\":\"gold\",\"claims\":3}" },
    { { FXPACK_ACHIEVEMENT, "b", "b", "B", 2, 0, 0, FXPACK_SOURCE_NONE, "{\"rank\":[1,2]}" },
      "{\"type\":\"achievement.unlocked\",\"achievementId\":\"b\",\"code\":\"b\","
      "\"name\":\"B\",\"tier\":{\"rank\":[1,2]},\"claims\":2}" },
};
#define N_EVERY (sizeof(every_effect) / sizeof(every_effect[0]))

static void each_effect_expands_to_its_json(void **state)
{
    (void)state;
    struct buf all = BUF_INIT, want = BUF_INIT;
    fxpack_begin(&all);
    buf_putc(&want, '[');
    for (size_t i = 0; i < N_EVERY; i++) {
        struct buf one = BUF_INIT;
        fxpack_begin(&one);
        put(&one, &every_effect[i].e);
        char expect[512];
        snprintf(expect, sizeof(expect), "[%s]", every_effect[i].want);
        assert_expands_to(one.data, one.len, expect);
        buf_release(&one);
        put(&all, &every_effect[i].e);
        if (i)
            buf_putc(&want, ',');
        buf_puts(&want, every_effect[i].want);
    }
    buf_putc(&want, ']');
    assert_expands_to(all.data, all.len, want.data);
    /* Appended after what the buffer holds. */
    struct buf out = BUF_INIT;
    buf_puts(&out, "effects: ");
    assert_int_equal(fxpack_json(all.data, all.len, &out), 0);
    assert_int_equal(out.len, strlen("effects: ") + want.len);
    assert_memory_equal(out.data, "effects: ", strlen("effects: "));
    assert_string_equal(out.data + strlen("effects: "), want.data);
    /* What it gives is JSON jansson reads as it reads game_effects_json's. */
    json_error_t err;
    json_t *arr = json_loads(out.data + strlen("effects: "), 0, &err);
    if (!arr)
        fail_msg("not JSON: %s", err.text);
    assert_int_equal(json_array_size(arr), N_EVERY);
    json_decref(arr);
    buf_release(&out);
    buf_release(&all);
    buf_release(&want);
}

static void an_empty_form_is_an_empty_array(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    fxpack_begin(&b);
    assert_int_equal(b.len, 1);
    assert_int_equal((unsigned char)b.data[0], FXPACK_VERSION);
    assert_expands_to(b.data, b.len, "[]");
    struct buf out = BUF_INIT;
    buf_puts(&out, "x");
    assert_int_equal(fxpack_json(b.data, b.len, &out), 0);
    assert_string_equal(out.data, "x[]");
    assert_int_equal(out.len, 3);
    buf_release(&out);
    buf_release(&b);
}

/* An XP award on track "XP" (1, 1) with the rule ref: the form's size and its head byte. */
static struct buf award_with(enum fxpack_source source, const char *ref)
{
    struct buf b = BUF_INIT;
    fxpack_begin(&b);
    fxpack_award(&b, FXPACK_XP, "XP", 1, 1, source, ref);
    return b;
}

static void canonical_uuids_are_kept_in_16_bytes(void **state)
{
    (void)state;
    /* version, head, name (1 + 2), amount, total: then the reference */
    const size_t fixed = 1 + 1 + 3 + 1 + 1;
    static const char *const canonical[] = {
        UUID,
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "01234567-89ab-cdef-0123-456789abcdef",
    };
    static const char *const as_text[] = {
        "0F8E2C4A-1B3D-4E5F-8A9B-C0D1E2F3A4B5", /* uppercase */
        "0f8e2c4a-1b3d-4e5f-8a9b-C0d1e2f3a4b5", /* one uppercase digit */
        "0f8e2c4a-1b3d-4e5f-8a9b-c0d1e2f3a4b",  /* 35 */
        "0f8e2c4a-1b3d-4e5f-8a9b-c0d1e2f3a4b5a", /* 37 */
        "0f8e2c4a-1b3d-4e5f-8a9b-c0d1e2f3a4g5", /* not hex */
        "0f8e2c4a-1b3d-4e5f-8a9b-c0d1e2f3a4 5",
        "0f8e2c4a-1b3d-4e5f-8a9b-c0d1e2f3a4/5", /* just below '0' */
        "0f8e2c4a-1b3d-4e5f-8a9b-c0d1e2f3a4:5", /* just above '9' */
        "0f8e2c4a-1b3d-4e5f-8a9b-c0d1e2f3a4`5", /* just below 'a' */
        "0f8e2c4a1b3d-4e5f-8a9b-c0d1e2f3a4b5-", /* hyphens elsewhere */
        "0f8e2c4a-1b3d-4e5f-8a9bc-0d1e2f3a4b5",
        "0f8e2c4a11b3d14e5f18a9b1c0d1e2f3a4b5", /* digits for hyphens */
        "{0f8e2c4a-1b3d-4e5f-8a9b-c0d1e2f3a4}",
        "0f8e2c4a1b3d4e5f8a9bc0d1e2f3a4b5",     /* no hyphens */
        "",
        "r1",
    };
    unsigned char bytes[UUID_BYTES];
    for (size_t i = 0; i < sizeof(as_text) / sizeof(as_text[0]); i++)
        assert_false(uuid_parse(as_text[i], bytes));
    /* A rule's award written with the bytes uuid_parse read once (or NULL) is the same. */
    for (size_t i = 0; i < sizeof(canonical) / sizeof(canonical[0]) + 2; i++) {
        const char *id = i < 2 ? as_text[i] : canonical[i - 2];
        bool is = uuid_parse(id, bytes);
        assert_int_equal(is, i >= 2);
        struct buf general = award_with(FXPACK_SOURCE_RULE, id), by_rule = BUF_INIT;
        fxpack_begin(&by_rule);
        fxpack_award_by_rule(&by_rule, FXPACK_XP, "XP", 1, 1, id, is ? bytes : NULL);
        assert_int_equal(by_rule.len, general.len);
        assert_memory_equal(by_rule.data, general.data, general.len);
        buf_release(&general);
        buf_release(&by_rule);
    }
    for (size_t i = 0; i < sizeof(canonical) / sizeof(canonical[0]); i++) {
        struct buf b = award_with(FXPACK_SOURCE_RULE, canonical[i]);
        assert_int_equal(b.len, fixed + 16);
        assert_true(b.len < fixed + 1 + strlen(canonical[i])); /* smaller than as text */
        assert_int_equal((unsigned char)b.data[1], 0x20 | 0x08 | FXPACK_XP);
        char want[256];
        snprintf(want, sizeof(want),
                 "[{\"type\":\"xp.awarded\",\"track\":\"XP\",\"amount\":1,\"totalXp\":1,"
                 "\"source\":\"rule\",\"ruleId\":\"%s\"}]", canonical[i]);
        assert_expands_to(b.data, b.len, want);
        buf_release(&b);
    }
    for (size_t i = 0; i < sizeof(as_text) / sizeof(as_text[0]); i++) {
        struct buf b = award_with(FXPACK_SOURCE_RULE, as_text[i]);
        assert_int_equal(b.len, fixed + 1 + strlen(as_text[i]));
        assert_int_equal((unsigned char)b.data[1], 0x08 | FXPACK_XP);
        char want[256];
        snprintf(want, sizeof(want),
                 "[{\"type\":\"xp.awarded\",\"track\":\"XP\",\"amount\":1,\"totalXp\":1,"
                 "\"source\":\"rule\",\"ruleId\":\"%s\"}]", as_text[i]);
        assert_expands_to(b.data, b.len, want);
        buf_release(&b);
    }
    /* An achievement's code is text even when it reads as a UUID. */
    struct buf b = award_with(FXPACK_SOURCE_ACHIEVEMENT, UUID);
    assert_int_equal(b.len, fixed + 1 + 36);
    assert_int_equal((unsigned char)b.data[1], 0x10 | FXPACK_XP);
    assert_expands_to(b.data, b.len,
                      "[{\"type\":\"xp.awarded\",\"track\":\"XP\",\"amount\":1,\"totalXp\":1,"
                      "\"source\":\"achievement\",\"achievementCode\":\"" UUID "\"}]");
    buf_release(&b);
    b = award_with(FXPACK_SOURCE_NONE, NULL);
    assert_int_equal(b.len, fixed);
    assert_int_equal((unsigned char)b.data[1], FXPACK_XP);
    buf_release(&b);
}

/* Names, ids and codes are written as buf_append_json_string writes them: escapes for the
 * quote, the backslash and control characters, UTF-8 as it is, U+FFFD for bytes that are not
 * UTF-8. */
static void strings_are_escaped_as_json(void **state)
{
    (void)state;
    static const struct {
        const char *raw, *json, *decoded;
    } cases[] = {
        { "say \"hi\"", "say \\\"hi\\\"", "say \"hi\"" },
        { "back\\slash\\", "back\\\\slash\\\\", "back\\slash\\" },
        { "a\nb\rc\td", "a\\nb\\rc\\td", "a\nb\rc\td" },
        { "\x01\x08\x0c\x1f", "\\u0001\\u0008\\u000c\\u001f", "\x01\x08\x0c\x1f" },
        { "del\x7f/", "del\x7f/", "del\x7f/" },
        { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
          "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
        { "bad \xff!", "bad \xef\xbf\xbd!", "bad \xef\xbf\xbd!" },
        { "cut \xc3", "cut \xef\xbf\xbd", "cut \xef\xbf\xbd" },
        { "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
          "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* a surrogate */
        { "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", "\xef\xbf\xbd\xef\xbf\xbd" }, /* overlong */
        { "", "", "" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *s = cases[i].raw, *j = cases[i].json;
        struct buf b = BUF_INIT;
        fxpack_begin(&b);
        fxpack_award(&b, FXPACK_XP, s, 1, 2, FXPACK_SOURCE_RULE, s);
        fxpack_award(&b, FXPACK_CURRENCY, s, 3, 4, FXPACK_SOURCE_ACHIEVEMENT, s);
        fxpack_level(&b, s, 5, 6);
        fxpack_streak(&b, s, 7, 8, 9);
        fxpack_achievement(&b, s, s, s, NULL, 10);
        char want[2048];
        snprintf(want, sizeof(want),
                 "[{\"type\":\"xp.awarded\",\"track\":\"%s\",\"amount\":1,\"totalXp\":2,"
                 "\"source\":\"rule\",\"ruleId\":\"%s\"},"
                 "{\"type\":\"currency.changed\",\"currency\":\"%s\",\"amount\":3,"
                 "\"balance\":4,\"source\":\"achievement\",\"achievementCode\":\"%s\"},"
                 "{\"type\":\"level.up\",\"track\":\"%s\",\"from\":5,\"to\":6},"
                 "{\"type\":\"streak.updated\",\"key\":\"%s\",\"current\":7,\"best\":8,"
                 "\"freezesUsed\":9},"
                 "{\"type\":\"achievement.unlocked\",\"achievementId\":\"%s\",\"code\":\"%s\","
                 "\"name\":\"%s\",\"tier\":null,\"claims\":10}]",
                 j, j, j, j, j, j, j, j, j);
        char *got = expand(b.data, b.len);
        if (strcmp(got, want) != 0)
            fail_msg("case %zu:\n got %s\nwant %s", i, got, want);
        json_error_t err;
        json_t *arr = json_loads(got, 0, &err);
        if (!arr)
            fail_msg("case %zu: not JSON: %s", i, err.text);
        json_t *ach = json_array_get(arr, 4);
        assert_string_equal(json_string_value(json_object_get(ach, "name")), cases[i].decoded);
        assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "ruleId")),
                            cases[i].decoded);
        json_decref(arr);
        free(got);
        buf_release(&b);
    }
}

/* A tier's JSON text comes back as it was written, whatever it is; null when there is none. */
static void tiers_come_back_verbatim(void **state)
{
    (void)state;
    static const char *const tiers[] = {
        "null", "\"gold\"", "\"g\\u00e9 \\\"q\\\" \\\\\"", "\"caf\xc3\xa9 \xe2\x98\x85\"",
        "3", "-7", "0", "1.5e3", "-0.25", "true", "false", "[]", "{}",
        "{\"a\":[1,2.5,null],\"b\":{\"c\":\"d\"}}", "[{\"x\":[[]]},\"y\"]", " 2 ",
        "{ \"spaced\" : [ 1 , 2 ] }", "9223372036854775807", "-9223372036854775808",
    };
    for (size_t i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++) {
        struct buf b = BUF_INIT;
        fxpack_begin(&b);
        fxpack_achievement(&b, "id", "code", "Name", tiers[i], 4);
        char want[512];
        snprintf(want, sizeof(want),
                 "[{\"type\":\"achievement.unlocked\",\"achievementId\":\"id\",\"code\":\"code\","
                 "\"name\":\"Name\",\"tier\":%s,\"claims\":4}]", tiers[i]);
        char *got = expand(b.data, b.len);
        if (strcmp(got, want) != 0)
            fail_msg("tier %s:\n got %s\nwant %s", tiers[i], got, want);
        json_error_t err;
        json_t *arr = json_loads(got, 0, &err);
        json_t *tier = json_loads(tiers[i], JSON_DECODE_ANY, &err);
        assert_non_null(arr);
        assert_non_null(tier);
        assert_true(json_equal(json_object_get(json_array_get(arr, 0), "tier"), tier));
        json_decref(tier);
        json_decref(arr);
        free(got);
        buf_release(&b);
    }
    /* NULL is null, and takes one byte where the text "null" takes five. */
    struct buf none = BUF_INIT, text = BUF_INIT;
    fxpack_begin(&none);
    fxpack_achievement(&none, "id", "code", "Name", NULL, 4);
    fxpack_begin(&text);
    fxpack_achievement(&text, "id", "code", "Name", "null", 4);
    assert_int_equal(none.len + 4, text.len);
    char *a = expand(none.data, none.len), *b = expand(text.data, text.len);
    assert_string_equal(a, b);
    free(a);
    free(b);
    buf_release(&none);
    buf_release(&text);
}

/* Integers are zigzag varints: small magnitudes of either sign in one byte, any int64 in ten
 * at most, each read back as it was. */
static void integers_come_back_at_every_size(void **state)
{
    (void)state;
    static const struct {
        int64_t v;
        size_t n;
        unsigned char bytes[10];
    } exact[] = {
        { 0, 1, { 0x00 } },
        { -1, 1, { 0x01 } },
        { 1, 1, { 0x02 } },
        { 63, 1, { 0x7e } },
        { -64, 1, { 0x7f } },
        { 64, 2, { 0x80, 0x01 } },
        { -65, 2, { 0x81, 0x01 } },
        { 8191, 2, { 0xfe, 0x7f } },
        { -8192, 2, { 0xff, 0x7f } },
        { 8192, 3, { 0x80, 0x80, 0x01 } },
        { INT64_MAX, 10, { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 } },
        { INT64_MIN, 10, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 } },
    };
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
        struct buf b = BUF_INIT;
        fxpack_begin(&b);
        fxpack_level(&b, "", exact[i].v, exact[i].v);
        /* version, head, the empty track's length, then from and to */
        assert_int_equal(b.len, 3 + 2 * exact[i].n);
        assert_memory_equal(b.data + 3, exact[i].bytes, exact[i].n);
        assert_memory_equal(b.data + 3 + exact[i].n, exact[i].bytes, exact[i].n);
        buf_release(&b);
    }
    /* Around every byte boundary of a varint, both signs. */
    int64_t values[64 * 6 + 4];
    size_t n = 0;
    values[n++] = INT64_MIN;
    values[n++] = INT64_MAX;
    values[n++] = INT64_MIN + 1;
    values[n++] = INT64_MAX - 1;
    for (int k = 0; k < 63; k++) {
        int64_t p = (int64_t)1 << k;
        values[n++] = p;
        values[n++] = p - 1;
        values[n++] = p + 1;
        values[n++] = -p;
        values[n++] = -p - 1;
        values[n++] = -p + 1;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t v = values[i];
        uint64_t zz = v < 0 ? ~((uint64_t)v << 1) : (uint64_t)v << 1;
        size_t bytes = 1;
        for (uint64_t rest = zz >> 7; rest; rest >>= 7)
            bytes++;
        struct buf b = BUF_INIT;
        fxpack_begin(&b);
        fxpack_level(&b, "", v, 0);
        assert_int_equal(b.len, 3 + bytes + 1);
        /* -INT64_MIN is not an int64: it stays itself there */
        int64_t minus = v == INT64_MIN ? v : -v;
        fxpack_award(&b, FXPACK_XP, "t", v, minus, FXPACK_SOURCE_NONE, NULL);
        fxpack_award(&b, FXPACK_CURRENCY, "c", ~v, v, FXPACK_SOURCE_NONE, NULL);
        fxpack_streak(&b, "s", v, v, v);
        fxpack_achievement(&b, "i", "c", "n", NULL, v);
        char want[1024], d[24], neg[24], inv[24];
        snprintf(d, sizeof(d), "%" PRId64, v);
        snprintf(neg, sizeof(neg), "%" PRId64, minus);
        snprintf(inv, sizeof(inv), "%" PRId64, ~v);
        snprintf(want, sizeof(want),
                 "[{\"type\":\"level.up\",\"track\":\"\",\"from\":%s,\"to\":0},"
                 "{\"type\":\"xp.awarded\",\"track\":\"t\",\"amount\":%s,\"totalXp\":%s},"
                 "{\"type\":\"currency.changed\",\"currency\":\"c\",\"amount\":%s,"
                 "\"balance\":%s},"
                 "{\"type\":\"streak.updated\",\"key\":\"s\",\"current\":%s,\"best\":%s,"
                 "\"freezesUsed\":%s},"
                 "{\"type\":\"achievement.unlocked\",\"achievementId\":\"i\",\"code\":\"c\","
                 "\"name\":\"n\",\"tier\":null,\"claims\":%s}]",
                 d, d, neg, inv, d, d, d, d, d);
        char *got = expand(b.data, b.len);
        if (strcmp(got, want) != 0)
            fail_msg("%" PRId64 ":\n got %s\nwant %s", v, got, want);
        json_t *arr = json_loads(got, 0, NULL);
        assert_non_null(arr);
        assert_true(json_integer_value(json_object_get(json_array_get(arr, 0), "from")) == v);
        json_decref(arr);
        free(got);
        buf_release(&b);
    }
}

/* ---- refusals ---------------------------------------------------------------------------- */

static void empty_input_and_other_versions_are_refused(void **state)
{
    (void)state;
    unsigned char one = 0;
    assert_refused(&one, 0, "empty");
    struct buf none = BUF_INIT; /* SQLite gives an empty BLOB as NULL */
    assert_int_equal(fxpack_json(NULL, 0, &none), -1);
    assert_int_equal(none.len, 0);
    for (unsigned v = 0; v < 256; v++) {
        if (v == FXPACK_VERSION)
            continue;
        unsigned char only = (unsigned char)v;
        assert_refused(&only, 1, "a version byte alone");
        struct buf b = BUF_INIT;
        fxpack_begin(&b);
        fxpack_level(&b, "XP", 1, 2);
        b.data[0] = (char)v;
        assert_refused(b.data, b.len, "a form of another version");
        buf_release(&b);
    }
}

/* A form of every_effect's effects, one after the other, into b; ends[k]: where the first k
 * end. */
static void every_effect_form(struct buf *b, size_t ends[N_EVERY + 1])
{
    fxpack_begin(b);
    ends[0] = b->len;
    for (size_t i = 0; i < N_EVERY; i++) {
        put(b, &every_effect[i].e);
        ends[i + 1] = b->len;
    }
}

/* Every prefix of a form of every kind of effect: one that ends between two effects is the
 * form of those before it; any other is refused, and leaves the buffer as it was. */
static void every_cut_is_refused_or_a_whole_form(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    size_t ends[N_EVERY + 1];
    every_effect_form(&b, ends);
    size_t whole = 0;
    for (size_t len = 0; len <= b.len; len++) {
        size_t k = 0;
        while (k <= N_EVERY && ends[k] != len)
            k++;
        if (k > N_EVERY) {
            char what[64];
            snprintf(what, sizeof(what), "cut to %zu of %zu bytes", len, b.len);
            assert_refused(b.data, len, what);
            continue;
        }
        struct buf want = BUF_INIT;
        buf_putc(&want, '[');
        for (size_t i = 0; i < k; i++) {
            if (i)
                buf_putc(&want, ',');
            buf_puts(&want, every_effect[i].want);
        }
        buf_putc(&want, ']');
        assert_expands_to(b.data, len, want.data);
        buf_release(&want);
        whole++;
    }
    assert_int_equal(whole, N_EVERY + 1);
    /* Cut after a good first effect, the refusal takes back what that one wrote too. */
    assert_refused(b.data, ends[1] + 1, "one effect and a head");
    buf_release(&b);
}

/* fxpack_json_readable gives, for every cut of a form, the effects before the cut, appended
 * after what the buffer held; -1 for any cut that is not between two effects; and "[]" with
 * -1 for what is no form at all. */
static void a_damaged_form_reads_up_to_its_fault(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    size_t ends[N_EVERY + 1];
    every_effect_form(&b, ends);
    for (size_t len = 1; len <= b.len; len++) {
        size_t k = 0; /* whole effects within len */
        while (k < N_EVERY && ends[k + 1] <= len)
            k++;
        struct buf want = BUF_INIT, got = BUF_INIT;
        buf_puts(&want, "before:[");
        for (size_t i = 0; i < k; i++) {
            if (i)
                buf_putc(&want, ',');
            buf_puts(&want, every_effect[i].want);
        }
        buf_putc(&want, ']');
        buf_puts(&got, "before:");
        char *copy = malloc(len); /* exactly sized: a read past it is seen */
        assert_non_null(copy);
        memcpy(copy, b.data, len);
        assert_int_equal(fxpack_json_readable(copy, len, &got), ends[k] == len ? 0 : -1);
        assert_string_equal(got.data, want.data);
        free(copy);
        buf_release(&want);
        buf_release(&got);
    }
    struct buf got = BUF_INIT;
    assert_int_equal(fxpack_json_readable(NULL, 0, &got), -1);
    assert_string_equal(got.data, "[]");
    buf_reset(&got);
    b.data[0] = FXPACK_VERSION + 1;
    assert_int_equal(fxpack_json_readable(b.data, b.len, &got), -1);
    assert_string_equal(got.data, "[]");
    buf_release(&got);
    buf_release(&b);
}

static void heads_this_version_does_not_write_are_refused(void **state)
{
    (void)state;
    static const struct {
        struct effect e;
        unsigned char good;       /* its head */
        unsigned char bad[8];     /* heads refused in its place */
    } cases[] = {
        { { FXPACK_XP, "XP", NULL, NULL, 1, 1, 0, FXPACK_SOURCE_NONE, NULL }, 0x01,
          { 0x00, 0x06, 0x07, 0x21, 0x41, 0x81, 0x19, 0x39 } },
        { { FXPACK_XP, "XP", NULL, NULL, 1, 1, 0, FXPACK_SOURCE_ACHIEVEMENT, "a" }, 0x11,
          { 0x31, 0x19, 0x10, 0x16, 0x17, 0x51, 0x91, 0xd1 } },
        { { FXPACK_CURRENCY, "c", NULL, NULL, 1, 1, 0, FXPACK_SOURCE_RULE, "r" }, 0x0b,
          { 0x1b, 0x08, 0x0e, 0x0f, 0x4b, 0x8b, 0x0b | 0x40, 0x00 } },
        { { FXPACK_LEVEL, "XP", NULL, NULL, 1, 2, 0, FXPACK_SOURCE_NONE, NULL }, 0x02,
          { 0x0a, 0x12, 0x1a, 0x22, 0x2a, 0x42, 0x82, 0xff } },
        { { FXPACK_STREAK, "daily", NULL, NULL, 1, 1, 0, FXPACK_SOURCE_NONE, NULL }, 0x04,
          { 0x0c, 0x14, 0x1c, 0x24, 0x44, 0x84, 0x2c, 0xfc } },
        { { FXPACK_ACHIEVEMENT, "i", "c", "n", 1, 0, 0, FXPACK_SOURCE_NONE, NULL }, 0x05,
          { 0x0d, 0x15, 0x1d, 0x25, 0x2d, 0x45, 0x85, 0xe5 } },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b = BUF_INIT;
        fxpack_begin(&b);
        put(&b, &every_effect[0].e); /* a good effect first */
        size_t at = b.len;
        put(&b, &cases[i].e);
        assert_int_equal((unsigned char)b.data[at], cases[i].good);
        char *ok = expand(b.data, b.len);
        free(ok);
        for (size_t k = 0; k < sizeof(cases[i].bad); k++) {
            b.data[at] = (char)cases[i].bad[k];
            char what[64];
            snprintf(what, sizeof(what), "head 0x%02x", cases[i].bad[k]);
            assert_refused(b.data, b.len, what);
        }
        buf_release(&b);
    }
    /* The same heads where the bytes after them hold the reference such a head would call
     * for: refused for the head alone, not for running short. */
    static const struct effect plain[] = {
        { FXPACK_LEVEL, "XP", NULL, NULL, 1, 2, 0, FXPACK_SOURCE_NONE, NULL },
        { FXPACK_STREAK, "daily", NULL, NULL, 1, 1, 0, FXPACK_SOURCE_NONE, NULL },
        { FXPACK_ACHIEVEMENT, "i", "c", "n", 1, 0, 0, FXPACK_SOURCE_NONE, "2" },
        { FXPACK_XP, "XP", NULL, NULL, 1, 1, 0, FXPACK_SOURCE_NONE, NULL },
        { FXPACK_CURRENCY, "c", NULL, NULL, 1, 1, 0, FXPACK_SOURCE_NONE, NULL },
    };
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        bool award = plain[i].type == FXPACK_XP || plain[i].type == FXPACK_CURRENCY;
        for (unsigned flags = 0x08; flags <= 0x38; flags += 0x08) {
            unsigned source = (flags >> 3) & 3;
            bool uuid = flags & 0x20;
            if (award && source != 3 && (!uuid || source == FXPACK_SOURCE_RULE))
                continue; /* heads this version writes */
            struct buf b = BUF_INIT;
            fxpack_begin(&b);
            put(&b, &plain[i]);
            b.data[1] = (char)(plain[i].type | flags);
            if (uuid)
                buf_append(&b, "0123456789abcdef", 16);
            else
                buf_append(&b, "\x01r", 2);
            char what[64];
            snprintf(what, sizeof(what), "head 0x%02x and a reference", plain[i].type | flags);
            assert_refused(b.data, b.len, what);
            buf_release(&b);
        }
    }
}

/* A level effect on the empty track whose `from` is the given varint bytes, `to` 0. */
static struct buf level_with_varint(const unsigned char *v, size_t n)
{
    struct buf b = BUF_INIT;
    fxpack_begin(&b);
    buf_putc(&b, FXPACK_LEVEL);
    buf_putc(&b, 0);
    buf_append(&b, v, n);
    buf_putc(&b, 0);
    return b;
}

static void long_and_overflowing_varints_are_refused(void **state)
{
    (void)state;
    static const unsigned char longest[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                             0xff, 0x01 };
    struct buf b = level_with_varint(longest, sizeof(longest));
    assert_expands_to(b.data, b.len,
                      "[{\"type\":\"level.up\",\"track\":\"\",\"from\":-9223372036854775808,"
                      "\"to\":0}]");
    buf_release(&b);
    static const struct {
        unsigned char v[12];
        size_t n;
        const char *what;
    } bad[] = {
        { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00 }, 11, "11 bytes" },
        { { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 }, 12,
          "12 bytes" },
        { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 }, 10, "65 bits" },
        { { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f }, 10, "70 bits" },
        { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 10, "no end" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = level_with_varint(bad[i].v, bad[i].n);
        assert_refused(b.data, b.len, bad[i].what);
        buf_release(&b);
    }
    /* Lengths: of a string past the end, of 2^64 - 1, and one that overflows. */
    static const unsigned char huge[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0x01 };
    static const unsigned char over[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0x03 };
    const unsigned char *lens[] = { (const unsigned char *)"\x7f", huge, over };
    const size_t nlens[] = { 1, sizeof(huge), sizeof(over) };
    for (size_t i = 0; i < 3; i++) {
        b = (struct buf)BUF_INIT;
        fxpack_begin(&b);
        buf_putc(&b, FXPACK_STREAK);
        buf_append(&b, lens[i], nlens[i]);
        buf_append(&b, "abcd\x02\x02\x00", 7); /* 7 bytes where 127 are wanted */
        assert_refused(b.data, b.len, "a string's length");
        buf_release(&b);
        /* the same as a tier's length */
        b = (struct buf)BUF_INIT;
        fxpack_begin(&b);
        buf_putc(&b, FXPACK_ACHIEVEMENT);
        buf_append(&b, "\x01i\x01" "c\x01n", 6);
        buf_append(&b, lens[i], nlens[i]);
        buf_append(&b, "1234\x02", 5);
        assert_refused(b.data, b.len, "a tier's length");
        buf_release(&b);
    }
}

static void tiers_that_are_not_json_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", " ", "{", "}", "nul", "True", "1 2", "[1,]", "{\"a\"}", "{a:1}", "'a'",
        "\"open", "\"\\u0000\"", "\"\xff\"", "\"a\nb\"", "01", "1.", "+1", "[1]]", "NaN",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct buf b = BUF_INIT;
        fxpack_begin(&b);
        fxpack_level(&b, "XP", 1, 2);
        fxpack_achievement(&b, "i", "c", "n", bad[i], 1);
        char what[64];
        snprintf(what, sizeof(what), "tier %.40s", bad[i]);
        assert_refused(b.data, b.len, what);
        buf_release(&b);
    }
    /* Tiers with a NUL byte in them (no writer writes one: they take C strings). jansson takes
     * one after a number or a literal, but the text given back would end there. */
    static const struct {
        const char *text;
        size_t len;
    } nul[] = {
        { "\"a\0\"", 4 }, { "0\0", 2 }, { "[0\0,1]", 6 }, { "{\"a\":1\0}", 8 },
        { "[true\0]", 7 }, { "null\0", 5 }, { "\0", 1 },
    };
    for (size_t i = 0; i < sizeof(nul) / sizeof(nul[0]); i++) {
        struct buf b = BUF_INIT;
        fxpack_begin(&b);
        buf_putc(&b, FXPACK_ACHIEVEMENT);
        buf_append(&b, "\x01i\x01" "c\x01n", 6);
        buf_putc(&b, (char)(nul[i].len + 1));
        buf_append(&b, nul[i].text, nul[i].len);
        buf_putc(&b, 2); /* claims */
        assert_refused(b.data, b.len, "a tier with a NUL");
        /* the same bytes without the NUL are a tier */
        b.len = 0;
        fxpack_begin(&b);
        buf_putc(&b, FXPACK_ACHIEVEMENT);
        buf_append(&b, "\x01i\x01" "c\x01n", 6);
        buf_putc(&b, (char)nul[i].len);
        for (size_t k = 0; k < nul[i].len; k++)
            if (nul[i].text[k])
                buf_putc(&b, nul[i].text[k]);
        buf_putc(&b, 2);
        if (nul[i].len > 1) {
            char *ok = expand(b.data, b.len);
            free(ok);
        }
        buf_release(&b);
    }
}

/* ---- random forms ------------------------------------------------------------------------ */

static uint64_t rng = 0x853c49e6748fea9bu;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1du;
}

static size_t below(size_t n)
{
    return (size_t)(rnd() % n);
}

static int64_t rand_int(void)
{
    static const int64_t edges[] = { 0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192,
                                     INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1 };
    switch (below(4)) {
    case 0: return edges[below(sizeof(edges) / sizeof(edges[0]))];
    case 1: return (int64_t)below(256) - 128;
    case 2: {
        int64_t p = (int64_t)((uint64_t)1 << below(63));
        return (below(2) ? p : -p) + (int64_t)below(3) - 1;
    }
    default: return (int64_t)rnd();
    }
}

#define STR_MAX 24
#define TIER_MAX 512 /* a string's JSON: up to 12 bytes of text a byte of STR_MAX */

/* A C string of up to STR_MAX - 1 bytes: plain, needing escapes, UTF-8, or any bytes. */
static void rand_str(char *s)
{
    static const char *const pieces[] = { "a", "Z", "0", " ", ".", "\"", "\\", "\n", "\t",
                                          "\x01", "\x1f", "\x7f", "/", "\xc3\xa9",
                                          "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
    size_t n = 0, want = below(STR_MAX);
    while (n < want) {
        if (below(3) == 0) {
            s[n++] = (char)(1 + below(255));
            continue;
        }
        const char *p = pieces[below(sizeof(pieces) / sizeof(pieces[0]))];
        size_t len = strlen(p);
        if (n + len > want)
            break;
        memcpy(s + n, p, len);
        n += len;
    }
    s[n] = '\0';
}

/* The length of the UTF-8 sequence at s[0..n) (Unicode's table of well-formed sequences), or
 * 0. Written apart from src/core/utf8.c, to check it. */
static size_t well_formed(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* s as JSON gives it back: each byte that starts no UTF-8 sequence is U+FFFD. */
static void decoded(const char *s, char *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, o = 0;
    while (i < n) {
        size_t k = well_formed(p + i, n - i);
        if (k == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, p + i, k);
            o += k;
            i += k;
        }
    }
    out[o] = '\0';
}

static void assert_str_member(const json_t *obj, const char *key, const char *raw)
{
    char want[STR_MAX * 3 + 64];
    decoded(raw, want);
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) != strlen(want) ||
        memcmp(json_string_value(v), want, strlen(want)) != 0)
        fail_msg("member %s is not %s", key, want);
}

static void assert_int_member(const json_t *obj, const char *key, int64_t want)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) != want)
        fail_msg("member %s is not %" PRId64, key, want);
}

struct rand_effect {
    struct effect e;
    char s1[STR_MAX], s2[STR_MAX], s3[STR_MAX], ref[TIER_MAX];
    bool has_ref;
};

static void rand_tier(char *t)
{
    static const char *const pool[] = { "\"gold\"", "{\"a\":[1,2.5,null]}", "[]", "true",
                                        "-0.5", "1e300", "{\"x\":{\"y\":\"\\u00e9\"}}",
                                        " [ 1 , \"2\" ] " };
    switch (below(4)) {
    case 0: strcpy(t, pool[below(sizeof(pool) / sizeof(pool[0]))]); return;
    case 1: snprintf(t, TIER_MAX, "%" PRId64, rand_int()); return;
    default: {
        char raw[STR_MAX], text[STR_MAX * 3];
        rand_str(raw);
        decoded(raw, text);
        json_t *s = json_string(text);
        assert_non_null(s);
        char *dump = json_dumps(s, JSON_ENCODE_ANY | (below(2) ? JSON_ENSURE_ASCII : 0));
        assert_non_null(dump);
        assert_true(strlen(dump) < TIER_MAX);
        strcpy(t, dump);
        free(dump);
        json_decref(s);
    }
    }
}

static void rand_effect(struct rand_effect *r)
{
    memset(r, 0, sizeof(*r));
    static const enum fxpack_type types[] = { FXPACK_XP, FXPACK_LEVEL, FXPACK_CURRENCY,
                                              FXPACK_STREAK, FXPACK_ACHIEVEMENT };
    struct effect *e = &r->e;
    e->type = types[below(5)];
    rand_str(r->s1);
    rand_str(r->s2);
    rand_str(r->s3);
    e->s1 = r->s1;
    e->s2 = r->s2;
    e->s3 = r->s3;
    e->i1 = rand_int();
    e->i2 = rand_int();
    e->i3 = rand_int();
    e->source = FXPACK_SOURCE_NONE;
    e->ref = NULL;
    if (e->type == FXPACK_XP || e->type == FXPACK_CURRENCY) {
        e->source = (enum fxpack_source)below(3);
        if (e->source == FXPACK_SOURCE_RULE && below(2)) {
            static const char hex[] = "0123456789abcdef", HEX[] = "0123456789ABCDEF";
            bool upper = below(4) == 0;
            for (size_t i = 0; i < 36; i++)
                r->ref[i] = i == 8 || i == 13 || i == 18 || i == 23 ? '-'
                            : upper ? HEX[below(16)] : hex[below(16)];
            r->ref[36] = '\0';
        } else if (e->source != FXPACK_SOURCE_NONE) {
            rand_str(r->ref);
        }
        r->has_ref = e->source != FXPACK_SOURCE_NONE;
    } else if (e->type == FXPACK_ACHIEVEMENT && below(3)) {
        rand_tier(r->ref);
        r->has_ref = true;
    }
    if (r->has_ref)
        e->ref = r->ref;
}

static void assert_effect(const json_t *o, const struct rand_effect *r)
{
    const struct effect *e = &r->e;
    static const char *const names[] = { NULL, "xp.awarded", "level.up", "currency.changed",
                                         "streak.updated", "achievement.unlocked" };
    assert_true(json_is_object(o));
    assert_string_equal(json_string_value(json_object_get(o, "type")), names[e->type]);
    size_t members = 0;
    switch (e->type) {
    case FXPACK_XP:
    case FXPACK_CURRENCY:
        assert_str_member(o, e->type == FXPACK_XP ? "track" : "currency", e->s1);
        assert_int_member(o, "amount", e->i1);
        assert_int_member(o, e->type == FXPACK_XP ? "totalXp" : "balance", e->i2);
        members = 4;
        if (e->source == FXPACK_SOURCE_RULE) {
            assert_string_equal(json_string_value(json_object_get(o, "source")), "rule");
            assert_str_member(o, "ruleId", e->ref);
            members += 2;
        } else if (e->source == FXPACK_SOURCE_ACHIEVEMENT) {
            assert_string_equal(json_string_value(json_object_get(o, "source")),
                                "achievement");
            assert_str_member(o, "achievementCode", e->ref);
            members += 2;
        }
        break;
    case FXPACK_LEVEL:
        assert_str_member(o, "track", e->s1);
        assert_int_member(o, "from", e->i1);
        assert_int_member(o, "to", e->i2);
        members = 4;
        break;
    case FXPACK_STREAK:
        assert_str_member(o, "key", e->s1);
        assert_int_member(o, "current", e->i1);
        assert_int_member(o, "best", e->i2);
        assert_int_member(o, "freezesUsed", e->i3);
        members = 5;
        break;
    case FXPACK_ACHIEVEMENT: {
        assert_str_member(o, "achievementId", e->s1);
        assert_str_member(o, "code", e->s2);
        assert_str_member(o, "name", e->s3);
        assert_int_member(o, "claims", e->i1);
        json_t *want = e->ref ? json_loads(e->ref, JSON_DECODE_ANY, NULL) : json_null();
        assert_non_null(want);
        if (!json_equal(json_object_get(o, "tier"), want))
            fail_msg("tier is not %s", e->ref ? e->ref : "null");
        json_decref(want);
        members = 6;
        break;
    }
    }
    assert_int_equal(json_object_size(o), members);
}

static void random_forms_come_back_as_written(void **state)
{
    (void)state;
    struct buf b = BUF_INIT, out = BUF_INIT;
    struct rand_effect fx[8];
    for (int round = 0; round < 100000; round++) {
        size_t n = below(sizeof(fx) / sizeof(fx[0]) + 1);
        buf_reset(&b);
        fxpack_begin(&b);
        for (size_t i = 0; i < n; i++) {
            rand_effect(&fx[i]);
            put(&b, &fx[i].e);
        }
        buf_reset(&out);
        if (fxpack_json(b.data, b.len, &out) != 0)
            fail_msg("round %d: refused", round);
        json_error_t err;
        json_t *arr = json_loadb(out.data, out.len, 0, &err);
        if (!arr)
            fail_msg("round %d: not JSON (%s): %s", round, err.text, out.data);
        assert_true(json_is_array(arr));
        assert_int_equal(json_array_size(arr), n);
        for (size_t i = 0; i < n; i++)
            assert_effect(json_array_get(arr, i), &fx[i]);
        json_decref(arr);
    }
    buf_release(&b);
    buf_release(&out);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(each_effect_expands_to_its_json),
    cmocka_unit_test(an_empty_form_is_an_empty_array),
    cmocka_unit_test(canonical_uuids_are_kept_in_16_bytes),
    cmocka_unit_test(strings_are_escaped_as_json),
    cmocka_unit_test(tiers_come_back_verbatim),
    cmocka_unit_test(integers_come_back_at_every_size),
    cmocka_unit_test(empty_input_and_other_versions_are_refused),
    cmocka_unit_test(every_cut_is_refused_or_a_whole_form),
    cmocka_unit_test(a_damaged_form_reads_up_to_its_fault),
    cmocka_unit_test(heads_this_version_does_not_write_are_refused),
    cmocka_unit_test(long_and_overflowing_varints_are_refused),
    cmocka_unit_test(tiers_that_are_not_json_are_refused),
    cmocka_unit_test(random_forms_come_back_as_written),
};

UNIT_MAIN(tests)
