/* Conditions (see condition.h): compiled into one flat array of nodes in preorder, evaluated
 * by walking it.
 *
 * A node's subtree is the `size` nodes starting at it, so a combinator's children follow it
 * one after the other and the next child starts `size` nodes after the previous one. A leaf
 * holds its field as path segments with their lengths and its value as a typed constant
 * (strings with their length, numbers as int64 and double, composite values as a private
 * copy), so evaluation reads the event's JSON through jansson's lookups and compares; it
 * never parses, formats or allocates. */
#include "engine/condition.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"

enum node_op {
    N_ALL,
    N_ANY,
    N_NOT,
    N_EQ,
    N_NEQ,
    N_GT,
    N_GTE,
    N_LT,
    N_LTE,
    N_IN,
    N_NIN,
    N_CONTAINS,
    N_STARTS_WITH,
    N_EXISTS,
};

static const struct {
    const char *name;
    enum node_op op;
} op_names[] = {
    {"eq", N_EQ},
    {"neq", N_NEQ},
    {"gt", N_GT},
    {"gte", N_GTE},
    {"lt", N_LT},
    {"lte", N_LTE},
    {"in", N_IN},
    {"nin", N_NIN},
    {"contains", N_CONTAINS},
    {"startsWith", N_STARTS_WITH},
    {"exists", N_EXISTS},
};

/* The types a constant and a field value can have. */
enum vtype { V_MISSING, V_NULL, V_TRUE, V_FALSE, V_NUMBER, V_STRING, V_ARRAY, V_OBJECT };

/* A constant of a leaf, or a field's value during evaluation (then nothing is owned). */
struct val {
    enum vtype t;
    bool is_int; /* V_NUMBER: `i` is exact (a JSON integer); `d` is always set */
    int64_t i;
    double d;
    const char *s; /* V_STRING: owned by a constant */
    size_t len;
    json_t *j; /* V_ARRAY, V_OBJECT: a constant's own deep copy; a field's borrowed tree */
};

struct node {
    enum node_op op;
    unsigned size;         /* nodes in this subtree, itself included */
    unsigned n_kids;       /* all, any: children; not: 1 */
    struct cond_path path; /* leaves */
    struct val k;          /* the value (exists: V_TRUE or V_FALSE) */
    struct val *list;      /* in, nin: n_list constants */
    size_t n_list;
};

struct cond {
    size_t n;
    struct node nodes[];
};

/* ---- evaluation ---- */

static void val_of_json(const json_t *j, struct val *v)
{
    v->j = (json_t *)j; /* only read */
    switch (json_typeof(j)) {
    case JSON_OBJECT: v->t = V_OBJECT; break;
    case JSON_ARRAY: v->t = V_ARRAY; break;
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

/* The value at path p of root, or NULL. */
static const json_t *walk(const json_t *root, const struct cond_path *p)
{
    const json_t *cur = root;
    for (unsigned i = 0; i < p->n && cur; i++) {
        if (!json_is_object(cur))
            return NULL;
        cur = json_object_getn(cur, p->seg[i], p->len[i]);
    }
    return cur;
}

const json_t *cond_path_get(const struct cond_path *p, const struct cond_ctx *ctx)
{
    switch (p->source) {
    case COND_SRC_METADATA: return ctx->metadata ? walk(ctx->metadata, p) : NULL;
    case COND_SRC_ATTRIBUTES: return ctx->attributes ? walk(ctx->attributes, p) : NULL;
    case COND_SRC_EVENT_TYPE:
    case COND_SRC_OCCURRED_AT: break;
    }
    return NULL;
}

static void field_value(const struct cond_path *p, const struct cond_ctx *ctx, struct val *v)
{
    switch (p->source) {
    case COND_SRC_EVENT_TYPE:
        if (ctx->event_type) {
            v->t = V_STRING;
            v->s = ctx->event_type;
            v->len = strlen(ctx->event_type);
        } else {
            v->t = V_MISSING;
        }
        return;
    case COND_SRC_OCCURRED_AT:
        v->t = V_NUMBER;
        v->is_int = true;
        v->i = ctx->occurred_at;
        v->d = (double)ctx->occurred_at;
        return;
    case COND_SRC_METADATA:
    case COND_SRC_ATTRIBUTES: break;
    }
    const json_t *j = cond_path_get(p, ctx);
    if (j)
        val_of_json(j, v);
    else
        v->t = V_MISSING;
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

/* Strict JSON equality of two values. */
static bool val_eq(const struct val *a, const struct val *b)
{
    if (a->t != b->t)
        return false;
    switch (a->t) {
    case V_STRING: return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
    case V_NUMBER: return num_eq(a, b);
    case V_ARRAY:
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

static bool in_list(const struct node *n, const struct val *v)
{
    for (size_t i = 0; i < n->n_list; i++)
        if (val_eq(v, &n->list[i]))
            return true;
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
    size_t n = json_array_size(v->j);
    for (size_t i = 0; i < n; i++) {
        struct val e;
        val_of_json(json_array_get(v->j, i), &e);
        if (val_eq(&e, k))
            return true;
    }
    return false;
}

static bool eval_leaf(const struct node *n, const struct cond_ctx *ctx)
{
    struct val v;
    field_value(&n->path, ctx, &v);
    switch (n->op) {
    case N_EQ: return val_eq(&v, &n->k);
    case N_NEQ: return !val_eq(&v, &n->k);
    case N_GT: return v.t == V_NUMBER && num_cmp(&v, &n->k) > 0;
    case N_GTE: return v.t == V_NUMBER && num_cmp(&v, &n->k) >= 0;
    case N_LT: return v.t == V_NUMBER && num_cmp(&v, &n->k) < 0;
    case N_LTE: return v.t == V_NUMBER && num_cmp(&v, &n->k) <= 0;
    case N_IN: return in_list(n, &v);
    case N_NIN: return !in_list(n, &v);
    case N_CONTAINS: return contains(&v, &n->k);
    case N_STARTS_WITH:
        return v.t == V_STRING && v.len >= n->k.len && memcmp(v.s, n->k.s, n->k.len) == 0;
    case N_EXISTS: return (v.t != V_MISSING && v.t != V_NULL) == (n->k.t == V_TRUE);
    case N_ALL:
    case N_ANY:
    case N_NOT: break;
    }
    assert(!"not a leaf");
    return false;
}

static bool eval_node(const struct node *n, const struct cond_ctx *ctx)
{
    switch (n->op) {
    case N_ALL:
    case N_ANY: {
        bool any = n->op == N_ANY;
        const struct node *kid = n + 1;
        for (unsigned i = 0; i < n->n_kids; i++) {
            if (eval_node(kid, ctx) == any)
                return any;
            kid += kid->size;
        }
        return !any;
    }
    case N_NOT: return !eval_node(n + 1, ctx);
    default: return eval_leaf(n, ctx);
    }
}

bool cond_eval(const struct cond *c, const struct cond_ctx *ctx)
{
    assert(c && c->n > 0);
    return eval_node(c->nodes, ctx);
}

/* ---- paths ---- */

void cond_path_release(struct cond_path *p)
{
    for (unsigned i = 0; i < p->n; i++)
        free(p->seg[i]);
    memset(p, 0, sizeof(*p));
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
        json_decref(v->j);
    memset(v, 0, sizeof(*v));
}

static void node_release(struct node *n)
{
    cond_path_release(&n->path);
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
    struct val v;
    memset(&v, 0, sizeof(v));
    val_of_json(j, &v);
    *out = v;
    if (v.t == V_STRING)
        out->s = xstrndup(v.s, v.len);
    else if (v.t == V_ARRAY || v.t == V_OBJECT)
        out->j = json_deep_copy(j);
    else
        out->j = NULL;
    if ((v.t == V_ARRAY || v.t == V_OBJECT) && !out->j)
        abort(); /* jansson is out of memory */
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
    } else {
        value = equals;
    }
    struct node *n = &c->nodes[at];
    n->op = o;
    char msg[160];
    if (cond_path_parse(json_string_value(field), &n->path, msg, sizeof(msg)) < 0) {
        fail(c, where, "field", "%s", msg);
        return -1;
    }
    const char *vkey = equals ? "equals" : "value";
    bool time = n->path.source == COND_SRC_OCCURRED_AT;
    if (o == N_EXISTS) {
        if (value && !json_is_boolean(value)) {
            fail(c, where, vkey, "exists takes true or false");
            return -1;
        }
        n->k.t = !value || json_is_true(value) ? V_TRUE : V_FALSE;
        return 0;
    }
    if (!value) {
        fail(c, where, vkey, "is required");
        return -1;
    }
    switch (o) {
    case N_GT:
    case N_GTE:
    case N_LT:
    case N_LTE:
        if (n->path.source == COND_SRC_EVENT_TYPE) {
            fail(c, where, "op", "%s does not apply to event.type", opname);
            return -1;
        }
        if (!time && !json_is_number(value)) {
            fail(c, where, vkey, "%s needs a number", opname);
            return -1;
        }
        break;
    case N_IN:
    case N_NIN:
        if (!json_is_array(value)) {
            fail(c, where, vkey, "%s needs an array", opname);
            return -1;
        }
        if (json_array_size(value) > COND_MAX_LIST) {
            fail(c, where, vkey, "more than %d values", COND_MAX_LIST);
            return -1;
        }
        n->list = xcalloc(json_array_size(value) + 1, sizeof(*n->list));
        for (size_t i = 0; i < json_array_size(value); i++) {
            if (val_compile(json_array_get(value, i), time, &n->list[i]) < 0) {
                char elem[32];
                snprintf(elem, sizeof(elem), "%s[%zu]", vkey, i);
                fail(c, where, elem, "%s", time_values);
                return -1;
            }
            n->n_list++;
        }
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
        c->nodes[at].n_kids = (unsigned)n;
    }
    c->nodes[at].size = (unsigned)(c->n - at);
    return 0;
}

struct cond *cond_compile(const json_t *v, char *err, size_t errlen)
{
    struct compiler c = {NULL, 0, 0, err, errlen};
    struct cond *out = NULL;
    if (compile_node(&c, v, "", 1) == 0) {
        out = xmalloc(sizeof(*out) + c.n * sizeof(out->nodes[0]));
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
