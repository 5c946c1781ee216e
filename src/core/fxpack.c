/* An event's effects in the store's compact form (see fxpack.h). */
#include "core/fxpack.h"

#include <assert.h>
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "core/uuid.h"

#define HEAD_TYPE 0x07u
#define HEAD_SOURCE_SHIFT 3
#define HEAD_SOURCE 0x18u
#define HEAD_UUID 0x20u

/* ---- writing ----------------------------------------------------------------------------- */

/* The writers reserve an effect's largest size once, then write through a pointer: the
 * engine packs every event's effects. */
#define VARINT_MAX 10

static unsigned char *w_varint(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static unsigned char *w_int(unsigned char *p, int64_t v)
{
    /* Zigzag: small magnitudes of either sign take few bytes. */
    return w_varint(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static unsigned char *w_bytes(unsigned char *p, const char *s, size_t len)
{
    p = w_varint(p, len);
    memcpy(p, s, len);
    return p + len;
}

static unsigned char *w_head(unsigned char *p, enum fxpack_type type, enum fxpack_source source,
                             bool uuid)
{
    unsigned head = (unsigned)type | (unsigned)source << HEAD_SOURCE_SHIFT;
    if (uuid)
        head |= HEAD_UUID;
    *p++ = (unsigned char)head;
    return p;
}

/* Room for `size` more bytes in b, and where they go. */
static unsigned char *w_open(struct buf *b, size_t size)
{
    buf_grow(b, size);
    return (unsigned char *)b->data + b->len;
}

/* Ends what w_open began at p: the bytes up to `end` are the buffer's. */
static void w_close(struct buf *b, const unsigned char *end)
{
    b->len = (size_t)(end - (const unsigned char *)b->data);
    b->data[b->len] = '\0';
}

void fxpack_begin(struct buf *b)
{
    buf_putc(b, FXPACK_VERSION);
}

static void award(struct buf *b, enum fxpack_type type, const char *name, int64_t amount,
                  int64_t total, enum fxpack_source source, const char *ref,
                  const unsigned char *uuid)
{
    size_t name_len = strlen(name), ref_len = ref && !uuid ? strlen(ref) : 0;
    unsigned char *p = w_open(b, 1 + 4 * VARINT_MAX + name_len + ref_len + UUID_BYTES);
    p = w_head(p, type, source, uuid != NULL);
    p = w_bytes(p, name, name_len);
    p = w_int(p, amount);
    p = w_int(p, total);
    if (uuid) {
        memcpy(p, uuid, UUID_BYTES);
        p += UUID_BYTES;
    } else if (source != FXPACK_SOURCE_NONE) {
        p = w_bytes(p, ref, ref_len);
    }
    w_close(b, p);
}

void fxpack_award(struct buf *b, enum fxpack_type type, const char *name, int64_t amount,
                  int64_t total, enum fxpack_source source, const char *ref)
{
    unsigned char id[UUID_BYTES];
    bool uuid = source == FXPACK_SOURCE_RULE && uuid_parse(ref, id);
    award(b, type, name, amount, total, source, ref, uuid ? id : NULL);
}

void fxpack_award_by_rule(struct buf *b, enum fxpack_type type, const char *name,
                          int64_t amount, int64_t total, const char *rule_id,
                          const unsigned char *rule_uuid)
{
    award(b, type, name, amount, total, FXPACK_SOURCE_RULE, rule_id, rule_uuid);
}

void fxpack_level(struct buf *b, const char *track, int64_t from, int64_t to)
{
    size_t len = strlen(track);
    unsigned char *p = w_open(b, 1 + 3 * VARINT_MAX + len);
    p = w_head(p, FXPACK_LEVEL, FXPACK_SOURCE_NONE, false);
    p = w_bytes(p, track, len);
    p = w_int(p, from);
    w_close(b, w_int(p, to));
}

void fxpack_streak(struct buf *b, const char *key, int64_t current, int64_t best,
                   int64_t freezes_used)
{
    size_t len = strlen(key);
    unsigned char *p = w_open(b, 1 + 4 * VARINT_MAX + len);
    p = w_head(p, FXPACK_STREAK, FXPACK_SOURCE_NONE, false);
    p = w_bytes(p, key, len);
    p = w_int(p, current);
    p = w_int(p, best);
    w_close(b, w_int(p, freezes_used));
}

void fxpack_achievement(struct buf *b, const char *id, const char *code, const char *name,
                        const char *tier, int64_t claims)
{
    size_t id_len = strlen(id), code_len = strlen(code), name_len = strlen(name);
    size_t tier_len = tier ? strlen(tier) : 0;
    unsigned char *p = w_open(b, 1 + 5 * VARINT_MAX + id_len + code_len + name_len + tier_len);
    p = w_head(p, FXPACK_ACHIEVEMENT, FXPACK_SOURCE_NONE, false);
    p = w_bytes(p, id, id_len);
    p = w_bytes(p, code, code_len);
    p = w_bytes(p, name, name_len);
    if (tier) {
        p = w_varint(p, (uint64_t)tier_len + 1);
        memcpy(p, tier, tier_len);
        p += tier_len;
    } else {
        p = w_varint(p, 0);
    }
    w_close(b, w_int(p, claims));
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
    const char *id = get_n(r, UUID_BYTES);
    if (!id)
        return;
    char text[UUID_LEN + 1];
    uuid_text((const unsigned char *)id, text);
    buf_puts(out, ",\"ruleId\":\"");
    buf_append(out, text, UUID_LEN);
    buf_putc(out, '"');
}

/* The tier's JSON, as it was written: checked to be one JSON value, so that the array this
 * gives is JSON whatever the bytes held. */
static void copy_tier(struct reader *r, struct buf *out)
{
    uint64_t n = get_varint(r);
    buf_puts(out, ",\"tier\":");
    if (r->bad)
        return;
    if (n == 0) {
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
    assert(r->p < r->end);
    unsigned head = *r->p++;
    unsigned type = head & HEAD_TYPE;
    unsigned source = (head & HEAD_SOURCE) >> HEAD_SOURCE_SHIFT;
    bool uuid = head & HEAD_UUID;
    bool is_award = type == FXPACK_XP || type == FXPACK_CURRENCY;
    if ((head & ~(HEAD_TYPE | HEAD_SOURCE | HEAD_UUID)) || type < FXPACK_XP ||
        type > FXPACK_ACHIEVEMENT || (!is_award && (source || uuid)) ||
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

/* Appends the array of the effects before the first fault: 0 when there is none, 1 when
 * there is one (the array then holds those before it), -1 when p is not a form of this
 * version at all (nothing appended). */
static int expand(const void *p, size_t len, struct buf *out)
{
    if (len == 0) /* and p may be NULL: SQLite gives an empty BLOB so */
        return -1;
    struct reader r = { p, (const unsigned char *)p + len, false };
    if (*r.p++ != FXPACK_VERSION)
        return -1;
    buf_putc(out, '[');
    size_t whole = out->len; /* the end of the last whole effect */
    for (bool first = true; r.p < r.end && !r.bad; first = false) {
        if (!first)
            buf_putc(out, ',');
        copy_effect(&r, out);
        if (!r.bad)
            whole = out->len;
    }
    out->len = whole;
    buf_putc(out, ']');
    return r.bad ? 1 : 0;
}

int fxpack_json(const void *p, size_t len, struct buf *out)
{
    size_t was = out->len;
    int rc = expand(p, len, out);
    if (rc == 0)
        return 0;
    if (rc > 0) {
        out->len = was;
        out->data[was] = '\0';
    }
    return -1;
}

int fxpack_json_readable(const void *p, size_t len, struct buf *out)
{
    int rc = expand(p, len, out);
    if (rc < 0)
        buf_puts(out, "[]");
    return rc == 0 ? 0 : -1;
}
