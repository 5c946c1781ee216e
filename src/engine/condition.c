/* Conditions (see condition.h): compiled into one flat array of nodes in preorder, evaluated
 * by walking it.
 *
 * A node's subtree is the `size` nodes starting at it, so a combinator's children follow it
 * one after the other and the next child starts `size` nodes after the previous one. A leaf
 * holds its field as the path's text with the length of each key and its value as a typed
 * constant (strings with their length, numbers as int64 and double, composite values as a
 * private copy), so evaluation reads the event's fields and compares: from the metadata's
 * text in place (core/jscan.h) or from jansson trees, without formatting or allocating but to
 * decode a metadata value that is an escaped string, an object or an array holding one. A
 * node is 104 bytes with what a one-key leaf reads in the first 64, so the 50 rules of an
 * event type stay within the first-level cache.
 *
 * Most of the time goes to the lookups (finding the key, comparing it), and the rules of one
 * event read the same few fields again and again; the optional per-event memo below looks
 * each one up once. */
#include "engine/condition.h"

#include <assert.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/jscan.h"
#include "core/mem.h"

/* What a node does. A leaf's operator is chosen when it is compiled for the type of its
 * value (eq on a string compares strings and nothing else); neq, nin and exists:false are
 * the leaf of eq, in and exists with `neg` set. */
enum node_op {
    N_ALL,
    N_ANY,
    N_NOT,
    N_EQ_STRING,  /* eq, the value a string */
    N_EQ_NUMBER,  /* eq, the value a number */
    N_EQ,         /* eq, any other value */
    N_CMP,        /* gt, gte, lt, lte: `cmp` says which outcomes hold */
    N_IN_STRINGS, /* in, every value a string */
    N_IN,
    N_CONTAINS,
    N_STARTS_WITH,
    N_EXISTS,
};

/* cmp bits: the field below, equal to, above the value */
#define CMP_BELOW 1
#define CMP_EQUAL 2
#define CMP_ABOVE 4

static const struct {
    const char *name;
    enum node_op op;
    bool neg;
    uint8_t cmp;
} op_names[] = {
    {"eq", N_EQ, false, 0},
    {"neq", N_EQ, true, 0},
    {"gt", N_CMP, false, CMP_ABOVE},
    {"gte", N_CMP, false, CMP_ABOVE | CMP_EQUAL},
    {"lt", N_CMP, false, CMP_BELOW},
    {"lte", N_CMP, false, CMP_BELOW | CMP_EQUAL},
    {"in", N_IN, false, 0},
    {"nin", N_IN, true, 0},
    {"contains", N_CONTAINS, false, 0},
    {"startsWith", N_STARTS_WITH, false, 0},
    {"exists", N_EXISTS, false, 0},
};

/* The types a constant and a field value can have. */
enum vtype { V_MISSING, V_NULL, V_TRUE, V_FALSE, V_NUMBER, V_STRING, V_ARRAY, V_OBJECT };

/* A constant of a leaf, or a field's value during evaluation (then nothing is owned). */
struct val {
    uint8_t t;     /* enum vtype */
    bool is_int;   /* V_NUMBER: `i` is exact (a JSON integer); `d` is always set */
    uint32_t n_el; /* V_ARRAY with `el`: its elements */
    union {
        struct {
            int64_t i;
            double d;
        };
        struct {
            const char *s; /* V_STRING: a constant's own copy */
            size_t len;
        };
        struct {
            const json_t *j;      /* V_ARRAY, V_OBJECT: a constant's own deep copy */
            const struct val *el; /* V_ARRAY in the memo: its elements typed, or NULL */
        };
    };
};

/* A node: what a one-key leaf reads comes first, within 64 bytes. */
struct node {
    uint8_t op;                     /* enum node_op */
    bool neg;                       /* leaves: the answer is negated */
    uint8_t cmp;                    /* N_CMP: the CMP_* outcomes that hold */
    uint8_t source;                 /* enum cond_source (leaves) */
    uint8_t nseg;                   /* path segments (metadata, attributes) */
    uint16_t slot;                  /* the path's number in the bound table, or NO_SLOT */
    uint32_t size;                  /* nodes in this subtree, itself included */
    uint32_t n_kids;                /* all, any: children; not: 1 */
    uint32_t hash;                  /* the path's (cond_path.hash) */
    uint32_t n_list;                /* in, nin: constants in list */
    size_t text_len;                /* the path: segments joined with '.' */
    char *text;                     /* owned, NUL-padded (padded_dup) */
    struct val k;                   /* the value of eq, gt.., contains, startsWith */
    uint32_t seglen[COND_MAX_PATH]; /* the segments' lengths within text */
    struct val *list;               /* in, nin */
};
_Static_assert(offsetof(struct node, seglen) <= 64, "a one-key leaf reads one cache line");

#define NO_SLOT UINT16_MAX
_Static_assert(COND_FIELDS_MAX < NO_SLOT, "a path's number fits in a node's slot");

/* A table of numbered paths (condition.h): path[i] is number i. */
struct fields_path {
    uint8_t source;
    uint32_t hash;
    size_t text_len;
    char *text; /* owned, NUL-padded (padded_dup) */
};

struct cond_fields {
    uint64_t stamp; /* unique per table and per clearing; never 0 or UINT64_MAX */
    size_t n, cap;
    struct fields_path *path; /* path[i] has number i */
};

struct cond {
    uint64_t stamp; /* of the cond_fields table its leaves' slots number, or 0 */
    size_t n;
    struct node nodes[];
};

/* ---- evaluation ---- */

static void val_of_json(const json_t *j, struct val *v)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        v->t = V_OBJECT;
        v->j = j;
        break;
    case JSON_ARRAY:
        v->t = V_ARRAY;
        v->j = j;
        v->el = NULL;
        break;
    case JSON_STRING:
        v->t = V_STRING;
        v->s = json_string_value(j);
        v->len = json_string_length(j);
        break;
    case JSON_INTEGER:
        v->t = V_NUMBER;
        v->is_int = true;
        v->i = json_integer_value(j);
        v->d = (double)v->i;
        break;
    case JSON_REAL:
        v->t = V_NUMBER;
        v->is_int = false;
        v->d = json_real_value(j);
        break;
    case JSON_TRUE: v->t = V_TRUE; break;
    case JSON_FALSE: v->t = V_FALSE; break;
    case JSON_NULL: v->t = V_NULL; break;
    }
}

/* memcmp for the short strings conditions compare (a call costs more than the loop). */
static inline bool bytes_eq(const char *a, const char *b, size_t len)
{
    if (len > 16)
        return memcmp(a, b, len) == 0;
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* Path texts are allocated NUL-padded to a multiple of 8 bytes (padded_dup), so that equal
 * lengths can be followed by a comparison of whole words. */
static bool padded_eq(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return false;
    }
    return true;
}

static char *padded_dup(const char *s, size_t len)
{
    char *p = xcalloc((len + 8) & ~(size_t)7, 1);
    memcpy(p, s, len);
    return p;
}

/* A metadata or attributes path as both struct node and struct cond_path hold it. */
struct path_ref {
    uint8_t source;
    unsigned n;
    uint32_t hash;
    const char *text; /* segments joined with '.' */
    size_t text_len;
    const size_t *len;     /* of each segment (struct cond_path), or */
    const uint32_t *len32; /* (struct node) */
};

static size_t seg_len(const struct path_ref *p, unsigned i)
{
    return p->len ? p->len[i] : p->len32[i];
}

/* The value at the path in a tree, or NULL. */
static const json_t *path_walk(const struct path_ref *p, const json_t *cur)
{
    const char *seg = p->text;
    for (unsigned i = 0; i < p->n && cur; i++) {
        if (!json_is_object(cur))
            return NULL;
        size_t len = seg_len(p, i);
        cur = json_object_getn(cur, seg, len);
        seg += len + 1;
    }
    return cur;
}

/* ---- values read from the metadata's text ----
 *
 * An event's metadata comes as its JSON text (cond_ctx.metadata_text), read in place
 * (core/jscan.h): a number, a literal or a string without escapes costs no allocation. What
 * has to be decoded, a string with escapes, an array or an object, is kept here until the
 * memo opens or closes again, or, with the memo closed, until the next lookup by a public
 * function of this file. */
static _Thread_local struct {
    json_t **v;
    size_t n, cap;
} kept;

static void kept_clear(void)
{
    if (!kept.cap)
        return;
    for (size_t i = 0; i < kept.n; i++)
        json_decref(kept.v[i]);
    free(kept.v); /* room too: a thread whose last event was cleared leaves nothing */
    kept.v = NULL;
    kept.n = kept.cap = 0;
}

static const json_t *keep(json_t *j)
{
    if (!j)
        return NULL;
    if (kept.n == kept.cap) {
        kept.cap = kept.cap ? kept.cap * 2 : 8;
        kept.v = xrealloc(kept.v, kept.cap * sizeof(*kept.v));
    }
    return kept.v[kept.n++] = j;
}

/* A value of the text typed into v, as val_of_json types the same value parsed. */
static void val_of_text(const struct jscan_value *x, struct val *v)
{
    const json_t *j = NULL;
    switch (x->type) {
    case JSCAN_STRING:
        if (!x->escaped) {
            v->t = V_STRING;
            v->s = x->at;
            v->len = x->len;
            return;
        }
        /* Decoded by jansson, as the tree's strings are: its quotes are around it. */
        j = keep(json_loadb(x->at - 1, x->len + 2, JSON_DECODE_ANY, NULL));
        break;
    case JSCAN_NUMBER:
        if (!jscan_number(x, &v->is_int, &v->i, &v->d))
            break;
        v->t = V_NUMBER;
        return;
    case JSCAN_TRUE: v->t = V_TRUE; return;
    case JSCAN_FALSE: v->t = V_FALSE; return;
    case JSCAN_NULL: v->t = V_NULL; return;
    case JSCAN_OBJECT:
    case JSCAN_ARRAY: j = keep(json_loadb(x->at, x->len, 0, NULL)); break;
    }
    if (j)
        val_of_json(j, v);
    else
        v->t = V_MISSING; /* not what ingestion stores */
}

/* From the value *x at the path's segment i (whose text starts at seg), the rest of the path. */
static bool walk_text(const struct path_ref *p, unsigned i, const char *seg,
                      struct jscan_value *x)
{
    for (; i < p->n; i++) {
        size_t len = seg_len(p, i);
        if (!jscan_member(x, seg, len, x))
            return false;
        seg += len + 1;
    }
    return true;
}

static bool reads_text(const struct path_ref *p, const struct cond_ctx *ctx)
{
    return p->source == COND_SRC_METADATA && !ctx->metadata && ctx->metadata_text;
}

/* The value at the path when it is read from the metadata's text: 1 and *x, or 0 when it is
 * missing; -1 when it is read from a tree instead. */
static int text_lookup(const struct path_ref *p, const struct cond_ctx *ctx,
                       struct jscan_value *x)
{
    if (!reads_text(p, ctx))
        return -1;
    return jscan_value(ctx->metadata_text, ctx->metadata_len, x) && walk_text(p, 0, p->text, x);
}

/* The value at the path typed into v (V_MISSING when missing), given what a lookup in the
 * text found: 1 and *x, 0 (missing), or -1 (the value is in a tree). */
static void found_val(const struct path_ref *p, const struct cond_ctx *ctx, int found,
                      const struct jscan_value *x, struct val *v)
{
    if (found > 0) {
        val_of_text(x, v);
        return;
    }
    const json_t *j = found < 0 ? path_walk(p, p->source == COND_SRC_METADATA ? ctx->metadata
                                                                              : ctx->attributes)
                                : NULL;
    if (j)
        val_of_json(j, v);
    else
        v->t = V_MISSING;
}

static void path_val(const struct path_ref *p, const struct cond_ctx *ctx, struct val *v)
{
    struct jscan_value x;
    found_val(p, ctx, text_lookup(p, ctx, &x), &x, v);
}

/* ---- the per-event memo ----
 *
 * Two tables of the values of metadata and attribute paths, both valid for the current event
 * when their generation is the memo's: starting an event is one increment, not a clearing.
 *
 * By number: a condition bound to a cond_fields table (cond_fields_bind) holds in each leaf
 * the number its path has in that table, and while the memo is open for that table the leaf
 * finds its value at that number in `by_number`, with no hashing and no comparison of paths.
 *
 * By path: any other leaf, and cond_path_value, look in a small open-addressed table keyed by
 * the path's hash (computed when it was parsed) and checked against the path's text kept in
 * the slot.
 *
 * An array's elements are typed once per event too (into `pool`, while it has room), so that
 * `contains` compares typed values instead of calling jansson per element. */

#define MEMO_SLOTS  64  /* a power of two */
#define MEMO_PROBES 4   /* past them, a path is looked up without the memo */
#define MEMO_TEXT   40  /* longer paths are not memoised; a multiple of 8 */
#define MEMO_ELEMS  256 /* array elements typed per event; arrays past them are not */
#define MEMO_MEMBERS 32 /* the metadata's top-level members indexed per event */

struct memo_slot {
    uint32_t gen; /* == memo.gen: filled for the current event */
    uint32_t hash;
    uint8_t source;
    uint8_t text_len;
    char text[MEMO_TEXT]; /* NUL-padded, compared 8 bytes at a time */
    struct val v;         /* the value, typed (V_MISSING when missing) */
};

struct number_slot {
    uint32_t gen; /* == memo.gen: filled for the current event */
    struct val v; /* the value, typed (V_MISSING when missing) */
};

static _Thread_local struct {
    const struct cond_ctx *ctx; /* the ctx memoised, or NULL */
    struct cond_ctx seen;       /* its members at cond_memo_begin */
    size_t type_len;            /* strlen(seen.event_type) */
    uint32_t gen;
    uint64_t stamp; /* of seen.fields, or UINT64_MAX (no table; no cond has it) */
    size_t pool_n;  /* elements of pool in use this event */
    /* The metadata's top-level members, indexed as lookups read them (top_gen == gen: the
     * current event's): a path's first key is found among those already read, and the text
     * is read on only from where the last lookup stopped, never past the member wanted. */
    uint32_t top_gen;
    uint32_t top_n;
    bool top_all;   /* every member is in `top` (a key not there is missing) */
    size_t top_pos; /* where the members not read yet start (jscan_next_member) */
    struct jscan_value top_doc;
    struct {
        struct jscan_value key, v;
    } top[MEMO_MEMBERS];
    struct number_slot by_number[COND_FIELDS_MAX];
    struct memo_slot slot[MEMO_SLOTS];
    struct val pool[MEMO_ELEMS];
} memo;

void cond_memo_begin(const struct cond_ctx *ctx)
{
    if (++memo.gen == 0) { /* wrapped: every slot could look current */
        memset(memo.slot, 0, sizeof(memo.slot));
        memset(memo.by_number, 0, sizeof(memo.by_number));
        memo.top_gen = 0;
        memo.gen = 1;
    }
    memo.ctx = ctx;
    memo.seen = *ctx;
    memo.type_len = ctx->event_type ? strlen(ctx->event_type) : 0;
    memo.stamp = ctx->fields ? ctx->fields->stamp : UINT64_MAX;
    memo.pool_n = 0;
    kept_clear();
}

void cond_memo_end(void)
{
    memo.ctx = NULL;
    kept_clear();
}

static bool memo_on(const struct cond_ctx *ctx)
{
    return memo.ctx == ctx && ctx->metadata == memo.seen.metadata &&
           ctx->metadata_text == memo.seen.metadata_text &&
           ctx->metadata_len == memo.seen.metadata_len &&
           ctx->attributes == memo.seen.attributes && ctx->event_type == memo.seen.event_type &&
           ctx->occurred_at == memo.seen.occurred_at;
}

/* text_lookup while the memo is open for ctx: the first key among the indexed members. */
static int memo_text_lookup(const struct path_ref *p, const struct cond_ctx *ctx,
                            struct jscan_value *x)
{
    if (!reads_text(p, ctx) || !p->n)
        return text_lookup(p, ctx, x);
    if (memo.top_gen != memo.gen) {
        memo.top_gen = memo.gen;
        memo.top_n = 0;
        memo.top_pos = 0;
        memo.top_all = !jscan_value(ctx->metadata_text, ctx->metadata_len, &memo.top_doc);
    }
    size_t len = seg_len(p, 0);
    uint32_t k = 0;
    while (k < memo.top_n && !jscan_key_is(&memo.top[k].key, p->text, len))
        k++;
    while (k == memo.top_n && !memo.top_all) { /* not read yet: read on to it */
        if (memo.top_n == MEMO_MEMBERS)
            return text_lookup(p, ctx, x); /* past the index: a scan of the text */
        struct jscan_value key, v;
        if (!jscan_next_member(&memo.top_doc, &memo.top_pos, &key, &v)) {
            memo.top_all = true;
            break;
        }
        memo.top[memo.top_n].key = key;
        memo.top[memo.top_n++].v = v;
        if (!jscan_key_is(&key, p->text, len))
            k++;
    }
    if (k == memo.top_n)
        return 0;
    *x = memo.top[k].v;
    return walk_text(p, 1, p->text + len + 1, x);
}

/* An array of the metadata's text typed into v with its elements in the pool, with no
 * tree (j NULL), when they fit and are all scalars read in place; else false. */
static bool elements_of_text(const struct jscan_value *x, struct val *v)
{
    struct val *el = &memo.pool[memo.pool_n];
    size_t pos = 0, n = 0;
    struct jscan_value e;
    while (jscan_element(x, &pos, &e)) {
        if (memo.pool_n + n == MEMO_ELEMS || e.type == JSCAN_ARRAY || e.type == JSCAN_OBJECT ||
            (e.type == JSCAN_STRING && e.escaped))
            return false;
        val_of_text(&e, &el[n]);
        if (el[n].t == V_MISSING)
            return false;
        n++;
    }
    memo.pool_n += n;
    v->t = V_ARRAY;
    v->j = NULL;
    v->el = el;
    v->n_el = (uint32_t)n;
    return true;
}

/* The value at path p typed into v, with an array's elements typed into the pool when they
 * fit. Only while the memo is open: the pool is the current event's. */
static void memo_val(const struct path_ref *p, const struct cond_ctx *ctx, struct val *v)
{
    struct jscan_value x;
    int found = memo_text_lookup(p, ctx, &x);
    if (found > 0 && x.type == JSCAN_ARRAY && elements_of_text(&x, v))
        return;
    found_val(p, ctx, found, &x, v);
    if (v->t != V_ARRAY)
        return;
    const json_t *j = v->j;
    size_t n = json_array_size(j);
    if (n > MEMO_ELEMS - memo.pool_n)
        return;
    struct val *el = &memo.pool[memo.pool_n];
    memo.pool_n += n;
    for (size_t i = 0; i < n; i++)
        val_of_json(json_array_get(j, i), &el[i]);
    v->el = el;
    v->n_el = (uint32_t)n;
}

/* The memo's slot for path p (filled now if it was not), or NULL when p cannot have one. */
static inline const struct memo_slot *memo_get(const struct path_ref *p, const struct cond_ctx *ctx)
{
    if (p->text_len > MEMO_TEXT)
        return NULL;
    size_t i = p->hash & (MEMO_SLOTS - 1);
    for (int k = 0; k < MEMO_PROBES; k++, i = (i + 1) & (MEMO_SLOTS - 1)) {
        struct memo_slot *s = &memo.slot[i];
        if (s->gen != memo.gen) {
            s->gen = memo.gen;
            s->hash = p->hash;
            s->source = p->source;
            s->text_len = (uint8_t)p->text_len;
            memset(s->text, 0, sizeof(s->text));
            memcpy(s->text, p->text, p->text_len);
            memo_val(p, ctx, &s->v);
            return s;
        }
        if (s->hash == p->hash && s->source == p->source && s->text_len == p->text_len &&
            padded_eq(s->text, p->text, p->text_len))
            return s;
    }
    return NULL;
}

static struct path_ref public_ref(const struct cond_path *p)
{
    struct path_ref r = {(uint8_t)p->source, p->n, p->hash, p->text, p->text_len, p->len, NULL};
    return r;
}

void cond_path_value(const struct cond_path *p, const struct cond_ctx *ctx,
                     struct cond_value *out)
{
    memset(out, 0, sizeof(*out));
    if (p->source != COND_SRC_METADATA && p->source != COND_SRC_ATTRIBUTES)
        return;
    struct path_ref r = public_ref(p);
    struct val scratch;
    const struct val *v = NULL;
    if (memo_on(ctx)) {
        const struct memo_slot *s = memo_get(&r, ctx);
        if (s)
            v = &s->v;
    } else if (!memo.ctx) {
        kept_clear(); /* what the last lookup without the memo decoded */
    }
    if (!v) {
        path_val(&r, ctx, &scratch);
        v = &scratch;
    }
    switch ((enum vtype)v->t) {
    case V_MISSING: out->type = COND_V_MISSING; break;
    case V_NULL: out->type = COND_V_NULL; break;
    case V_TRUE: out->type = COND_V_TRUE; break;
    case V_FALSE: out->type = COND_V_FALSE; break;
    case V_NUMBER:
        out->type = COND_V_NUMBER;
        out->number = v->d;
        break;
    case V_STRING:
        out->type = COND_V_STRING;
        out->s = v->s;
        out->len = v->len;
        break;
    case V_ARRAY:
    case V_OBJECT: out->type = COND_V_OTHER; break;
    }
}

static struct path_ref node_ref(const struct node *n)
{
    struct path_ref r = {n->source, n->nseg, n->hash, n->text, n->text_len, NULL, n->seglen};
    return r;
}

/* How leaves find their fields' values in one evaluation. */
enum lookup {
    BY_JSON,   /* no memo: jansson's lookups */
    BY_PATH,   /* the memo, by the path's hash and text */
    BY_NUMBER, /* the memo, by the slot numbers of the bound table (else by path) */
};

/* Fills the by-number slot of leaf n for the current event. */
static __attribute__((noinline)) const struct val *number_fill(const struct node *n,
                                                               const struct cond_ctx *ctx)
{
    struct number_slot *s = &memo.by_number[n->slot];
    struct path_ref r = node_ref(n);
    memo_val(&r, ctx, &s->v);
    s->gen = memo.gen;
    return &s->v;
}

/* The value a leaf's field names, when it is not read by number: from the memo when `memo_ok`,
 * else built in *scratch. */
static __attribute__((noinline)) const struct val *
field_value(const struct node *n, const struct cond_ctx *ctx, bool memo_ok, struct val *scratch)
{
    struct val *v = scratch;
    switch ((enum cond_source)n->source) {
    case COND_SRC_EVENT_TYPE:
        if (ctx->event_type) {
            v->t = V_STRING;
            v->s = ctx->event_type;
            v->len = memo_ok ? memo.type_len : strlen(ctx->event_type);
        } else {
            v->t = V_MISSING;
        }
        return v;
    case COND_SRC_OCCURRED_AT:
        v->t = V_NUMBER;
        v->is_int = true;
        v->i = ctx->occurred_at;
        v->d = (double)ctx->occurred_at;
        return v;
    case COND_SRC_METADATA:
    case COND_SRC_ATTRIBUTES: break;
    }
    if (memo_ok && n->text_len <= MEMO_TEXT) {
        /* The common case, a path already memoised in its first slot, without the probe. */
        const struct memo_slot *s = &memo.slot[n->hash & (MEMO_SLOTS - 1)];
        if (s->gen == memo.gen && s->hash == n->hash && s->source == n->source &&
            s->text_len == n->text_len && padded_eq(s->text, n->text, n->text_len))
            return &s->v;
    }
    struct path_ref r = node_ref(n);
    if (memo_ok) {
        const struct memo_slot *s = memo_get(&r, ctx);
        if (s)
            return &s->v;
    }
    path_val(&r, ctx, v);
    return v;
}

/* The value of leaf n's field. */
static inline const struct val *leaf_value(const struct node *n, const struct cond_ctx *ctx,
                                           enum lookup how, struct val *scratch)
{
    if (how == BY_NUMBER && n->slot != NO_SLOT) {
        const struct number_slot *s = &memo.by_number[n->slot];
        return s->gen == memo.gen ? &s->v : number_fill(n, ctx);
    }
    return field_value(n, ctx, how != BY_JSON, scratch);
}

/* An int64 and a double that hold the same number, exactly. */
static bool int_eq_double(int64_t i, double d)
{
    /* [-2^63, 2^63): the doubles that convert to int64 without overflow */
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
        return false;
    return (int64_t)d == i && (double)i == d;
}

static bool num_eq(const struct val *a, const struct val *b)
{
    if (a->is_int && b->is_int)
        return a->i == b->i;
    if (a->is_int)
        return int_eq_double(a->i, b->d);
    if (b->is_int)
        return int_eq_double(b->i, a->d);
    return a->d == b->d;
}

/* -1, 0 or 1 as a is below, equal to or above b (both numbers). */
static int num_cmp(const struct val *a, const struct val *b)
{
    if (a->is_int && b->is_int)
        return (a->i > b->i) - (a->i < b->i);
    return (a->d > b->d) - (a->d < b->d);
}

static bool json_deep_eq(const json_t *a, const json_t *b);
static bool array_eq(const struct val *a, const struct val *b);

/* Strict JSON equality of two values. */
static bool val_eq(const struct val *a, const struct val *b)
{
    if (a->t != b->t)
        return false;
    switch ((enum vtype)a->t) {
    case V_STRING: return a->len == b->len && bytes_eq(a->s, b->s, a->len);
    case V_NUMBER: return num_eq(a, b);
    case V_ARRAY: return array_eq(a, b);
    case V_OBJECT: return json_deep_eq(a->j, b->j);
    case V_MISSING: return false;
    case V_NULL:
    case V_TRUE:
    case V_FALSE: return true;
    }
    return false;
}

/* As json_equal, but numbers compare by value (1 equals 1.0). */
static bool json_deep_eq(const json_t *a, const json_t *b)
{
    if (a == b)
        return true;
    if (json_is_array(a) && json_is_array(b)) {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!json_deep_eq(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    if (json_is_object(a) && json_is_object(b)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *key;
        size_t key_len;
        json_t *va;
        json_object_keylen_foreach((json_t *)a, key, key_len, va)
        {
            const json_t *vb = json_object_getn(b, key, key_len);
            if (!vb || !json_deep_eq(va, vb))
                return false;
        }
        return true;
    }
    struct val x, y;
    val_of_json(a, &x);
    val_of_json(b, &y);
    return val_eq(&x, &y); /* scalars, or a composite against another type: false */
}

/* An array's elements: typed (`el`: always for one read from the metadata's text, which has
 * no tree) or in its tree. */
static size_t elements(const struct val *v)
{
    return v->el ? v->n_el : json_array_size(v->j);
}

static const struct val *element(const struct val *v, size_t i, struct val *scratch)
{
    if (v->el)
        return &v->el[i];
    val_of_json(json_array_get(v->j, i), scratch);
    return scratch;
}

/* Two arrays, strictly equal as json_deep_eq has it, element by element. */
static bool array_eq(const struct val *a, const struct val *b)
{
    if (a->j && b->j)
        return json_deep_eq(a->j, b->j);
    size_t n = elements(a);
    if (n != elements(b))
        return false;
    for (size_t i = 0; i < n; i++) {
        struct val x, y;
        if (!val_eq(element(a, i, &x), element(b, i, &y)))
            return false;
    }
    return true;
}

static bool in_list(const struct node *n, const struct val *v)
{
    for (size_t i = 0; i < n->n_list; i++)
        if (val_eq(v, &n->list[i]))
            return true;
    return false;
}

static bool in_strings(const struct node *n, const struct val *v)
{
    if (v->t != V_STRING)
        return false;
    for (size_t i = 0; i < n->n_list; i++) {
        const struct val *k = &n->list[i];
        if (k->len == v->len && bytes_eq(k->s, v->s, v->len))
            return true;
    }
    return false;
}

static bool contains(const struct val *v, const struct val *k)
{
    if (v->t == V_STRING) {
        if (k->t != V_STRING)
            return false;
        return k->len == 0 || memmem(v->s, v->len, k->s, k->len) != NULL;
    }
    if (v->t != V_ARRAY)
        return false;
    if (v->el && k->t == V_STRING) { /* typed by the memo; the common case */
        for (size_t i = 0; i < v->n_el; i++) {
            const struct val *e = &v->el[i];
            if (e->t == V_STRING && e->len == k->len && bytes_eq(e->s, k->s, k->len))
                return true;
        }
        return false;
    }
    if (v->el) {
        for (size_t i = 0; i < v->n_el; i++)
            if (val_eq(&v->el[i], k))
                return true;
        return false;
    }
    size_t n = json_array_size(v->j);
    for (size_t i = 0; i < n; i++) {
        struct val e;
        val_of_json(json_array_get(v->j, i), &e);
        if (val_eq(&e, k))
            return true;
    }
    return false;
}

/* Inlined where leaves are met, so that a leaf costs no call of its own. */
static inline __attribute__((always_inline)) bool
eval_leaf(const struct node *n, const struct cond_ctx *ctx, enum lookup how)
{
    struct val scratch;
    const struct val *v = leaf_value(n, ctx, how, &scratch);
    const struct val *k = &n->k;
    bool r = false;
    switch ((enum node_op)n->op) {
    case N_EQ_STRING:
        r = v->t == V_STRING && v->len == k->len && bytes_eq(v->s, k->s, k->len);
        break;
    case N_EQ_NUMBER: r = v->t == V_NUMBER && num_eq(v, k); break;
    case N_EQ: r = val_eq(v, k); break;
    case N_CMP: r = v->t == V_NUMBER && (n->cmp & (1 << (num_cmp(v, k) + 1))); break;
    case N_IN_STRINGS: r = in_strings(n, v); break;
    case N_IN: r = in_list(n, v); break;
    case N_CONTAINS: r = contains(v, k); break;
    case N_STARTS_WITH:
        r = v->t == V_STRING && v->len >= k->len && bytes_eq(v->s, k->s, k->len);
        break;
    case N_EXISTS: r = v->t != V_MISSING && v->t != V_NULL; break;
    case N_ALL:
    case N_ANY:
    case N_NOT: assert(!"not a leaf"); break;
    }
    return r != n->neg;
}

static bool eval_node(const struct node *n, const struct cond_ctx *ctx, enum lookup how)
{
    switch (n->op) {
    case N_ALL:
    case N_ANY: {
        bool any = n->op == N_ANY;
        const struct node *kid = n + 1;
        for (unsigned i = 0; i < n->n_kids; i++) {
            /* Leaves, most children, are evaluated here rather than in a call of their own. */
            bool r = kid->op > N_NOT ? eval_leaf(kid, ctx, how) : eval_node(kid, ctx, how);
            if (r == any)
                return any;
            kid += kid->size;
        }
        return !any;
    }
    case N_NOT: return !eval_node(n + 1, ctx, how);
    default: return eval_leaf(n, ctx, how);
    }
}

bool cond_eval(const struct cond *c, const struct cond_ctx *ctx)
{
    assert(c && c->n > 0);
    enum lookup how = BY_JSON;
    if (memo_on(ctx))
        how = c->stamp == memo.stamp ? BY_NUMBER : BY_PATH;
    else if (!memo.ctx)
        kept_clear(); /* what the last evaluation without the memo decoded */
    return eval_node(c->nodes, ctx, how);
}

/* ---- paths ---- */

void cond_path_release(struct cond_path *p)
{
    for (unsigned i = 0; i < p->n; i++)
        free(p->seg[i]);
    free(p->text);
    memset(p, 0, sizeof(*p));
}

/* FNV-1a over the source and each segment, a '.' before each: the memo's key. */
static uint32_t path_hash(uint32_t h, const char *s, size_t len)
{
    h = (h ^ '.') * 16777619u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int cond_path_parse(const char *field, struct cond_path *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!field || !*field) {
        snprintf(err, errlen, "must be a non-empty string");
        return -1;
    }
    if (strcmp(field, "event.type") == 0) {
        out->source = COND_SRC_EVENT_TYPE;
        return 0;
    }
    if (strcmp(field, "event.occurredAt") == 0) {
        out->source = COND_SRC_OCCURRED_AT;
        return 0;
    }
    const char *rest = field;
    if (starts_with(field, "metadata.")) {
        rest = field + strlen("metadata.");
    } else if (starts_with(field, "user.attributes.")) {
        out->source = COND_SRC_ATTRIBUTES;
        rest = field + strlen("user.attributes.");
    } else if (strcmp(field, "metadata") == 0 || strcmp(field, "user.attributes") == 0) {
        snprintf(err, errlen, "%s needs a key after it, as in \"%s.score\"", field, field);
        return -1;
    } else if (strcmp(field, "event") == 0 || starts_with(field, "event.")) {
        snprintf(err, errlen,
                 "the event's fields are event.type and event.occurredAt (a metadata key "
                 "named event is metadata.event)");
        return -1;
    } else if (strcmp(field, "user") == 0 || starts_with(field, "user.")) {
        snprintf(err, errlen,
                 "the user's fields are user.attributes.<path> (a metadata key named user is "
                 "metadata.user)");
        return -1;
    }
    out->source = out->source == COND_SRC_ATTRIBUTES ? COND_SRC_ATTRIBUTES : COND_SRC_METADATA;
    char source = (char)out->source;
    out->hash = path_hash(2166136261u, &source, 1);
    out->text = padded_dup(rest, strlen(rest));
    out->text_len = strlen(rest);
    for (;;) {
        const char *dot = strchr(rest, '.');
        size_t len = dot ? (size_t)(dot - rest) : strlen(rest);
        if (len == 0) {
            snprintf(err, errlen, "empty key in path");
            goto fail;
        }
        if (out->n == COND_MAX_PATH) {
            snprintf(err, errlen, "more than %d keys in path", COND_MAX_PATH);
            goto fail;
        }
        out->seg[out->n] = xstrndup(rest, len);
        out->len[out->n] = len;
        out->n++;
        out->hash = path_hash(out->hash, rest, len);
        if (!dot)
            return 0;
        rest = dot + 1;
    }
fail:
    cond_path_release(out);
    return -1;
}

/* ---- compilation ---- */

struct compiler {
    struct node *nodes;
    size_t n, cap;
    char *err;
    size_t errlen;
};

/* Records the error of the node at `where` (its path from the root, "" for the root) about
 * `what` (a key of the node, or NULL for the node itself). */
__attribute__((format(printf, 4, 5))) static void fail(struct compiler *c, const char *where,
                                                       const char *what, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *sep = *where && what ? "." : "";
    if (!what)
        what = "";
    if (*where || *what)
        snprintf(c->err, c->errlen, "%s%s%s: %s", where, sep, what, msg);
    else
        snprintf(c->err, c->errlen, "%s", msg);
}

static void val_release(struct val *v)
{
    if (v->t == V_STRING)
        free((char *)v->s);
    else if (v->t == V_ARRAY || v->t == V_OBJECT)
        json_decref((json_t *)v->j);
    memset(v, 0, sizeof(*v));
}

static void node_release(struct node *n)
{
    free(n->text);
    val_release(&n->k);
    for (size_t i = 0; i < n->n_list; i++)
        val_release(&n->list[i]);
    free(n->list);
}

/* A constant of any JSON type. On event.occurredAt (`time`) only numbers and ISO 8601
 * strings (as Unix ms) are allowed: -1 otherwise. */
static int val_compile(const json_t *j, bool time, struct val *out)
{
    memset(out, 0, sizeof(*out));
    if (time && json_is_string(j)) {
        int64_t ms;
        if (clock_parse_iso(json_string_value(j), json_string_length(j), &ms) < 0)
            return -1;
        out->t = V_NUMBER;
        out->is_int = true;
        out->i = ms;
        out->d = (double)ms;
        return 0;
    }
    if (time && !json_is_number(j))
        return -1;
    val_of_json(j, out);
    if (out->t == V_STRING) {
        out->s = xstrndup(out->s, out->len);
    } else if (out->t == V_ARRAY || out->t == V_OBJECT) {
        out->j = json_deep_copy(j);
        if (!out->j)
            abort(); /* jansson is out of memory */
    }
    return 0;
}

static const char *time_values = "must be an ISO 8601 date-time or Unix ms";

static int compile_leaf(struct compiler *c, size_t at, const json_t *v, const char *where)
{
    const char *key;
    json_t *member;
    json_object_foreach((json_t *)v, key, member)
    {
        if (strcmp(key, "field") != 0 && strcmp(key, "op") != 0 && strcmp(key, "value") != 0 &&
            strcmp(key, "equals") != 0) {
            fail(c, where, NULL, "unknown key \"%s\"", key);
            return -1;
        }
    }
    const json_t *field = json_object_get(v, "field");
    const json_t *op = json_object_get(v, "op");
    const json_t *value = json_object_get(v, "value");
    const json_t *equals = json_object_get(v, "equals");
    if (!field) {
        if (json_object_size(v) == 0)
            fail(c, where, NULL, "must have one of all, any, not or field");
        else
            fail(c, where, "field", "is required");
        return -1;
    }
    if (!json_is_string(field) || json_string_length(field) == 0) {
        fail(c, where, "field", "must be a non-empty string");
        return -1;
    }
    if (equals && (op || value)) {
        fail(c, where, NULL, "equals cannot be combined with %s", op ? "op" : "value");
        return -1;
    }
    if (!equals && !op) {
        fail(c, where, "op", "is required");
        return -1;
    }
    enum node_op o = N_EQ;
    bool neg = false;
    uint8_t cmp = 0;
    const char *opname = "eq";
    if (op) {
        if (!json_is_string(op)) {
            fail(c, where, "op", "must be a string");
            return -1;
        }
        opname = json_string_value(op);
        size_t i = 0, n = sizeof(op_names) / sizeof(op_names[0]);
        while (i < n && strcmp(op_names[i].name, opname) != 0)
            i++;
        if (i == n) {
            fail(c, where, "op", "unknown operator \"%s\"", opname);
            return -1;
        }
        o = op_names[i].op;
        neg = op_names[i].neg;
        cmp = op_names[i].cmp;
    } else {
        value = equals;
    }
    struct node *n = &c->nodes[at];
    n->op = (uint8_t)o;
    n->neg = neg;
    n->cmp = cmp;
    char msg[160];
    struct cond_path path;
    if (cond_path_parse(json_string_value(field), &path, msg, sizeof(msg)) < 0) {
        fail(c, where, "field", "%s", msg);
        return -1;
    }
    n->source = (uint8_t)path.source;
    n->nseg = (uint8_t)path.n;
    n->hash = path.hash;
    n->text_len = path.text_len;
    n->text = path.text; /* taken over */
    path.text = NULL;
    for (unsigned i = 0; i < path.n; i++)
        n->seglen[i] = (uint32_t)path.len[i]; /* a body is far below 4 GiB */
    cond_path_release(&path);
    const char *vkey = equals ? "equals" : "value";
    bool time = n->source == COND_SRC_OCCURRED_AT;
    if (o == N_EXISTS) {
        if (value && !json_is_boolean(value)) {
            fail(c, where, vkey, "exists takes true or false");
            return -1;
        }
        n->neg = value && json_is_false(value);
        return 0;
    }
    if (!value) {
        fail(c, where, vkey, "is required");
        return -1;
    }
    switch (o) {
    case N_CMP:
        if (n->source == COND_SRC_EVENT_TYPE) {
            fail(c, where, "op", "%s does not apply to event.type", opname);
            return -1;
        }
        if (!time && !json_is_number(value)) {
            fail(c, where, vkey, "%s needs a number", opname);
            return -1;
        }
        break;
    case N_IN:
        if (!json_is_array(value)) {
            fail(c, where, vkey, "%s needs an array", opname);
            return -1;
        }
        if (json_array_size(value) > COND_MAX_LIST) {
            fail(c, where, vkey, "more than %d values", COND_MAX_LIST);
            return -1;
        }
        n->list = xcalloc(json_array_size(value) + 1, sizeof(*n->list));
        bool strings = true;
        for (size_t i = 0; i < json_array_size(value); i++) {
            if (val_compile(json_array_get(value, i), time, &n->list[i]) < 0) {
                char elem[32];
                snprintf(elem, sizeof(elem), "%s[%zu]", vkey, i);
                fail(c, where, elem, "%s", time_values);
                return -1;
            }
            strings &= n->list[i].t == V_STRING;
            n->n_list++;
        }
        if (strings)
            n->op = N_IN_STRINGS;
        return 0;
    case N_CONTAINS:
    case N_STARTS_WITH:
        if (time) {
            fail(c, where, "op", "%s does not apply to event.occurredAt", opname);
            return -1;
        }
        if (o == N_STARTS_WITH && !json_is_string(value)) {
            fail(c, where, vkey, "startsWith needs a string");
            return -1;
        }
        break;
    default: break;
    }
    if (val_compile(value, time, &n->k) < 0) {
        fail(c, where, vkey, "%s", time_values);
        return -1;
    }
    if (o == N_EQ && n->k.t == V_STRING)
        n->op = N_EQ_STRING;
    else if (o == N_EQ && n->k.t == V_NUMBER)
        n->op = N_EQ_NUMBER;
    return 0;
}

static int compile_node(struct compiler *c, const json_t *v, const char *where, int depth)
{
    if (depth > COND_MAX_DEPTH) {
        fail(c, where, NULL, "nesting deeper than %d", COND_MAX_DEPTH);
        return -1;
    }
    if (c->n == COND_MAX_NODES) {
        fail(c, where, NULL, "more than %d nodes", COND_MAX_NODES);
        return -1;
    }
    if (!json_is_object(v)) {
        fail(c, where, NULL, "must be an object");
        return -1;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 8;
        c->nodes = xrealloc(c->nodes, c->cap * sizeof(*c->nodes));
    }
    size_t at = c->n++;
    memset(&c->nodes[at], 0, sizeof(c->nodes[at]));
    c->nodes[at].slot = NO_SLOT;

    static const char *const combinators[] = {"all", "any", "not"};
    const char *comb = NULL;
    for (size_t i = 0; i < 3; i++) {
        if (!json_object_get(v, combinators[i]))
            continue;
        if (comb) {
            fail(c, where, NULL, "%s and %s cannot be combined in one node", comb, combinators[i]);
            return -1;
        }
        comb = combinators[i];
    }
    if (!comb) {
        int rc = compile_leaf(c, at, v, where);
        c->nodes[at].size = 1;
        return rc;
    }
    if (json_object_size(v) > 1) {
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)v, key, member)
        {
            if (strcmp(key, comb) != 0) {
                fail(c, where, NULL, "unknown key \"%s\" beside %s", key, comb);
                return -1;
            }
        }
    }
    const json_t *body = json_object_get(v, comb);
    char here[256];
    if (strcmp(comb, "not") == 0) {
        c->nodes[at].op = N_NOT;
        c->nodes[at].n_kids = 1;
        snprintf(here, sizeof(here), "%s%snot", where, *where ? "." : "");
        if (compile_node(c, body, here, depth + 1) < 0)
            return -1;
    } else {
        if (!json_is_array(body)) {
            fail(c, where, comb, "must be an array");
            return -1;
        }
        c->nodes[at].op = strcmp(comb, "all") == 0 ? N_ALL : N_ANY;
        size_t n = json_array_size(body);
        for (size_t i = 0; i < n; i++) {
            snprintf(here, sizeof(here), "%s%s%s[%zu]", where, *where ? "." : "", comb, i);
            if (compile_node(c, json_array_get(body, i), here, depth + 1) < 0)
                return -1;
        }
        c->nodes[at].n_kids = (uint32_t)n;
    }
    c->nodes[at].size = (uint32_t)(c->n - at);
    return 0;
}

struct cond *cond_compile(const json_t *v, char *err, size_t errlen)
{
    struct compiler c = {NULL, 0, 0, err, errlen};
    struct cond *out = NULL;
    if (compile_node(&c, v, "", 1) == 0) {
        out = xmalloc(sizeof(*out) + c.n * sizeof(out->nodes[0]));
        out->stamp = 0;
        out->n = c.n;
        memcpy(out->nodes, c.nodes, c.n * sizeof(out->nodes[0]));
    } else {
        for (size_t i = 0; i < c.n; i++)
            node_release(&c.nodes[i]);
    }
    free(c.nodes);
    return out;
}

void cond_free(struct cond *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        node_release(&c->nodes[i]);
    free(c);
}

/* ---- fields numbered per table ---- */

static uint64_t fields_stamp(void)
{
    static _Atomic uint64_t stamps;
    return atomic_fetch_add_explicit(&stamps, 1, memory_order_relaxed) + 1;
}

struct cond_fields *cond_fields_new(void)
{
    struct cond_fields *f = xcalloc(1, sizeof(*f));
    f->stamp = fields_stamp();
    return f;
}

void cond_fields_clear(struct cond_fields *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->path[i].text);
    f->n = 0;
    f->stamp = fields_stamp();
}

void cond_fields_free(struct cond_fields *f)
{
    if (!f)
        return;
    cond_fields_clear(f);
    free(f->path);
    free(f);
}

size_t cond_fields_count(const struct cond_fields *f)
{
    return f->n;
}

/* The number of leaf n's path in f, added if it is new; NO_SLOT when f is full. */
static uint16_t fields_number(struct cond_fields *f, const struct node *n)
{
    for (size_t i = 0; i < f->n; i++) {
        const struct fields_path *p = &f->path[i];
        if (p->hash == n->hash && p->source == n->source && p->text_len == n->text_len &&
            padded_eq(p->text, n->text, n->text_len))
            return (uint16_t)i;
    }
    if (f->n == COND_FIELDS_MAX)
        return NO_SLOT;
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 8;
        f->path = xrealloc(f->path, f->cap * sizeof(*f->path));
    }
    f->path[f->n] =
        (struct fields_path){n->source, n->hash, n->text_len, padded_dup(n->text, n->text_len)};
    return (uint16_t)f->n++;
}

size_t cond_fields_bind(struct cond_fields *f, struct cond *c)
{
    size_t unbound = 0;
    for (size_t i = 0; i < c->n; i++) {
        struct node *n = &c->nodes[i];
        n->slot = NO_SLOT;
        if (n->op <= N_NOT || (n->source != COND_SRC_METADATA && n->source != COND_SRC_ATTRIBUTES))
            continue;
        n->slot = fields_number(f, n);
        unbound += n->slot == NO_SLOT;
    }
    c->stamp = f->stamp;
    return unbound;
}
