/* An event's effects in the store's compact form (see fxpack.h). */
#include "core/fxpack.h"

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "core/hex.h"

#define HEAD_TYPE 0x07u
#define HEAD_SOURCE_SHIFT 3
#define HEAD_SOURCE 0x18u
#define HEAD_UUID 0x20u
#define UUID_TEXT_LEN 36

/* ---- writing ----------------------------------------------------------------------------- */

static void put_varint(struct buf *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (unsigned char)v;
    buf_append(b, tmp, n);
}

static void put_int(struct buf *b, int64_t v)
{
    /* Zigzag: small magnitudes of either sign take few bytes. */
    put_varint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void put_bytes(struct buf *b, const char *s, size_t len)
{
    put_varint(b, len);
    buf_append(b, s, len);
}

static void put_str(struct buf *b, const char *s)
{
    put_bytes(b, s, strlen(s));
}

/* A UUID in the form the server writes them (lowercase, 8-4-4-4-12) as its 16 bytes: true,
 * or false for any other text, which is then kept as it is. */
static bool uuid_pack(const char *s, unsigned char out[16])
{
    if (strlen(s) != UUID_TEXT_LEN)
        return false;
    char hex[33];
    size_t n = 0;
    for (size_t i = 0; i < UUID_TEXT_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
            hex[n++] = c;
        } else {
            return false; /* uppercase would not come back the same */
        }
    }
    return hex_decode(hex, 16, out) == 0;
}

static void put_head(struct buf *b, enum fxpack_type type, enum fxpack_source source,
                     bool uuid)
{
    unsigned head = (unsigned)type | (unsigned)source << HEAD_SOURCE_SHIFT;
    if (uuid)
        head |= HEAD_UUID;
    buf_putc(b, (char)head);
}

void fxpack_begin(struct buf *b)
{
    buf_putc(b, FXPACK_VERSION);
}

void fxpack_award(struct buf *b, enum fxpack_type type, const char *name, int64_t amount,
                  int64_t total, enum fxpack_source source, const char *ref)
{
    unsigned char id[16];
    bool uuid = source == FXPACK_SOURCE_RULE && uuid_pack(ref, id);
    put_head(b, type, source, uuid);
    put_str(b, name);
    put_int(b, amount);
    put_int(b, total);
    if (uuid)
        buf_append(b, id, sizeof(id));
    else if (source != FXPACK_SOURCE_NONE)
        put_str(b, ref);
}

void fxpack_level(struct buf *b, const char *track, int64_t from, int64_t to)
{
    put_head(b, FXPACK_LEVEL, FXPACK_SOURCE_NONE, false);
    put_str(b, track);
    put_int(b, from);
    put_int(b, to);
}

void fxpack_streak(struct buf *b, const char *key, int64_t current, int64_t best,
                   int64_t freezes_used)
{
    put_head(b, FXPACK_STREAK, FXPACK_SOURCE_NONE, false);
    put_str(b, key);
    put_int(b, current);
    put_int(b, best);
    put_int(b, freezes_used);
}

void fxpack_achievement(struct buf *b, const char *id, const char *code, const char *name,
                        const char *tier, int64_t claims)
{
    put_head(b, FXPACK_ACHIEVEMENT, FXPACK_SOURCE_NONE, false);
    put_str(b, id);
    put_str(b, code);
    put_str(b, name);
    if (tier) {
        size_t len = strlen(tier);
        put_varint(b, (uint64_t)len + 1);
        buf_append(b, tier, len);
    } else {
        put_varint(b, 0);
    }
    put_int(b, claims);
}

/* ---- reading ----------------------------------------------------------------------------- */

struct reader {
    const unsigned char *p, *end;
    bool bad;               /* cut short or not a value this version writes */
};

static uint64_t get_varint(struct reader *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p == r->end) {
            r->bad = true;
            return 0;
        }
        unsigned char c = *r->p++;
        if (shift == 63 && c > 1) { /* past 64 bits */
            r->bad = true;
            return 0;
        }
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}

static int64_t get_int(struct reader *r)
{
    uint64_t z = get_varint(r);
    return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
}

/* n bytes (borrowed from the form), or NULL when fewer are left. */
static const char *get_n(struct reader *r, uint64_t n)
{
    if (r->bad || n > (uint64_t)(r->end - r->p)) {
        r->bad = true;
        return NULL;
    }
    const char *s = (const char *)r->p;
    r->p += n;
    return s;
}

/* `,"key":` and the string that comes next, as a JSON string. */
static void copy_str(struct reader *r, struct buf *out, const char *member)
{
    uint64_t len = get_varint(r);
    const char *s = get_n(r, len);
    if (!s)
        return;
    if (memchr(s, '\0', (size_t)len)) { /* the writers take C strings */
        r->bad = true;
        return;
    }
    buf_puts(out, member);
    buf_append_json_string(out, s, (size_t)len);
}

static void copy_int(struct reader *r, struct buf *out, const char *member)
{
    int64_t v = get_int(r);
    if (r->bad)
        return;
    buf_puts(out, member);
    buf_append_i64(out, v);
}

static void copy_uuid(struct reader *r, struct buf *out)
{
    const char *id = get_n(r, 16);
    if (!id)
        return;
    char hex[33], text[UUID_TEXT_LEN];
    hex_encode(id, 16, hex);
    static const unsigned char group[] = { 8, 4, 4, 4, 12 };
    size_t at = 0, from = 0;
    for (size_t g = 0; g < sizeof(group); g++) {
        if (g)
            text[at++] = '-';
        memcpy(text + at, hex + from, group[g]);
        at += group[g];
        from += group[g];
    }
    buf_puts(out, ",\"ruleId\":\"");
    buf_append(out, text, sizeof(text));
    buf_putc(out, '"');
}

/* The tier's JSON, as it was written: checked to be one JSON value, so that the array this
 * gives is JSON whatever the bytes held. */
static void copy_tier(struct reader *r, struct buf *out)
{
    uint64_t n = get_varint(r);
    buf_puts(out, ",\"tier\":");
    if (!r->bad && n == 0) {
        buf_puts(out, "null");
        return;
    }
    const char *s = get_n(r, n - 1);
    if (!s)
        return;
    /* (jansson takes a NUL byte after a number or a literal: no writer writes one) */
    json_t *v = memchr(s, '\0', (size_t)(n - 1)) ? NULL
                : json_loadb(s, (size_t)(n - 1), JSON_DECODE_ANY, NULL);
    if (!v) {
        r->bad = true;
        return;
    }
    json_decref(v);
    buf_append(out, s, (size_t)(n - 1));
}

/* Each type's fields, in the order the writers put them: its JSON's opening, then a member a
 * field, its first character saying what it is (s: a string, i: an integer, t: the tier) and
 * the rest what comes before the value. */
struct shape {
    const char *open;
    const char *members[6];
};

static const struct shape shapes[] = {
    [FXPACK_XP] = { "{\"type\":\"xp.awarded\"",
                    { "s,\"track\":", "i,\"amount\":", "i,\"totalXp\":" } },
    [FXPACK_LEVEL] = { "{\"type\":\"level.up\"",
                       { "s,\"track\":", "i,\"from\":", "i,\"to\":" } },
    [FXPACK_CURRENCY] = { "{\"type\":\"currency.changed\"",
                          { "s,\"currency\":", "i,\"amount\":", "i,\"balance\":" } },
    [FXPACK_STREAK] = { "{\"type\":\"streak.updated\"",
                        { "s,\"key\":", "i,\"current\":", "i,\"best\":",
                          "i,\"freezesUsed\":" } },
    [FXPACK_ACHIEVEMENT] = { "{\"type\":\"achievement.unlocked\"",
                             { "s,\"achievementId\":", "s,\"code\":", "s,\"name\":", "t",
                               "i,\"claims\":" } },
};

static void copy_effect(struct reader *r, struct buf *out)
{
    unsigned head = *r->p++;
    unsigned type = head & HEAD_TYPE;
    unsigned source = (head & HEAD_SOURCE) >> HEAD_SOURCE_SHIFT;
    bool uuid = head & HEAD_UUID;
    bool award = type == FXPACK_XP || type == FXPACK_CURRENCY;
    if ((head & ~(HEAD_TYPE | HEAD_SOURCE | HEAD_UUID)) || type < FXPACK_XP ||
        type > FXPACK_ACHIEVEMENT || (!award && (source || uuid)) ||
        source > FXPACK_SOURCE_ACHIEVEMENT || (uuid && source != FXPACK_SOURCE_RULE)) {
        r->bad = true;
        return;
    }
    const struct shape *sh = &shapes[type];
    buf_puts(out, sh->open);
    for (const char *const *m = sh->members; *m && !r->bad; m++) {
        if (**m == 's')
            copy_str(r, out, *m + 1);
        else if (**m == 'i')
            copy_int(r, out, *m + 1);
        else
            copy_tier(r, out);
    }
    if (source == FXPACK_SOURCE_RULE) {
        buf_puts(out, ",\"source\":\"rule\"");
        if (uuid)
            copy_uuid(r, out);
        else
            copy_str(r, out, ",\"ruleId\":");
    } else if (source == FXPACK_SOURCE_ACHIEVEMENT) {
        buf_puts(out, ",\"source\":\"achievement\"");
        copy_str(r, out, ",\"achievementCode\":");
    }
    buf_putc(out, '}');
}

int fxpack_json(const void *p, size_t len, struct buf *out)
{
    struct reader r = { p, (const unsigned char *)p + len, false };
    size_t was = out->len;
    if (len == 0 || *r.p++ != FXPACK_VERSION)
        return -1;
    buf_putc(out, '[');
    for (bool first = true; r.p < r.end && !r.bad; first = false) {
        if (!first)
            buf_putc(out, ',');
        copy_effect(&r, out);
    }
    if (r.bad) {
        out->len = was;
        out->data[was] = '\0';
        return -1;
    }
    buf_putc(out, ']');
    return 0;
}
