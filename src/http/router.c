/* The segment trie behind the router (see router.h).
 *
 * Each node is one path segment. A node has literal children (few per node, so a linear scan
 * beats anything cleverer), at most one parameter child, and the routes that end at it, one
 * per method. Matching walks segments left to right; at each node it tries the literal child
 * first and falls back to the parameter child, so the first full match is the most literal
 * one. The trie is as deep as the longest pattern, which bounds the recursion. */
#include "http/router.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "http/url.h"

#define ROUTER_MAX_METHODS 64

struct node {
    char *literal;             /* segment text; NULL for the parameter child */
    size_t literal_len;
    char *param;               /* parameter name when this is a parameter node */
    struct node **children;    /* literal children */
    size_t n_children;
    struct node *param_child;
    struct route **routes;     /* routes ending here */
    size_t n_routes;
};

struct router {
    struct node root;
    struct route **routes;     /* by id */
    size_t n_routes;
};

struct router *router_new(void)
{
    return xcalloc(1, sizeof(struct router));
}

static void node_release(struct node *n)
{
    for (size_t i = 0; i < n->n_children; i++) {
        node_release(n->children[i]);
        free(n->children[i]);
    }
    free(n->children);
    if (n->param_child) {
        node_release(n->param_child);
        free(n->param_child);
    }
    free(n->literal);
    free(n->param);
    free(n->routes);
}

void router_free(struct router *r)
{
    if (!r)
        return;
    node_release(&r->root);
    for (size_t i = 0; i < r->n_routes; i++) {
        free((char *)r->routes[i]->pattern);
        free(r->routes[i]);
    }
    free(r->routes);
    free(r);
}

size_t router_count(const struct router *r)
{
    return r->n_routes;
}

const struct route *router_get(const struct router *r, unsigned id)
{
    return id < r->n_routes ? r->routes[id] : NULL;
}

static struct node *child_for(struct node *n, const char *seg, size_t len, bool create)
{
    if (len > 0 && seg[0] == ':') {
        if (!n->param_child) {
            if (!create)
                return NULL;
            n->param_child = xcalloc(1, sizeof(struct node));
            n->param_child->param = xstrndup(seg + 1, len - 1);
        } else if (strlen(n->param_child->param) != len - 1 ||
                   memcmp(n->param_child->param, seg + 1, len - 1) != 0) {
            return NULL; /* two names for one position would make matches ambiguous */
        }
        return n->param_child;
    }
    for (size_t i = 0; i < n->n_children; i++) {
        struct node *c = n->children[i];
        if (c->literal_len == len && memcmp(c->literal, seg, len) == 0)
            return c;
    }
    if (!create)
        return NULL;
    struct node *c = xcalloc(1, sizeof(struct node));
    c->literal = xstrndup(seg, len);
    c->literal_len = len;
    n->children = xrealloc(n->children, (n->n_children + 1) * sizeof(*n->children));
    n->children[n->n_children++] = c;
    return c;
}

int router_add(struct router *r, unsigned method, const char *pattern, http_handler_fn *handler,
               void *arg)
{
    if (!pattern || pattern[0] != '/' || method >= ROUTER_MAX_METHODS || !handler)
        return -1;
    /* Validate first so a bad pattern leaves the trie untouched. */
    size_t n_params = 0;
    for (const char *p = pattern + 1;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0 && p[0] == ':' && (len == 1 || ++n_params > ROUTER_MAX_PARAMS))
            return -1;
        if (!end)
            break;
        p = end + 1;
    }
    struct node *n = &r->root;
    if (strcmp(pattern, "/") != 0) {
        for (const char *p = pattern + 1;;) {
            const char *end = strchr(p, '/');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            n = child_for(n, p, len, true);
            if (!n)
                return -1;
            if (!end)
                break;
            p = end + 1;
        }
    }
    for (size_t i = 0; i < n->n_routes; i++) {
        if (n->routes[i]->method == method)
            return -1;
    }
    struct route *rt = xcalloc(1, sizeof(*rt));
    rt->id = (unsigned)r->n_routes;
    rt->method = method;
    rt->pattern = xstrdup(pattern);
    rt->handler = handler;
    rt->arg = arg;
    n->routes = xrealloc(n->routes, (n->n_routes + 1) * sizeof(*n->routes));
    n->routes[n->n_routes++] = rt;
    r->routes = xrealloc(r->routes, (r->n_routes + 1) * sizeof(*r->routes));
    r->routes[r->n_routes++] = rt;
    return (int)rt->id;
}

void route_match_init(struct route_match *m)
{
    memset(m, 0, sizeof(*m));
    buf_init(&m->values);
}

void route_match_release(struct route_match *m)
{
    buf_release(&m->values);
}

const char *route_match_param(const struct route_match *m, const char *name)
{
    for (size_t i = 0; i < m->n_params; i++) {
        if (strcmp(m->params[i].name, name) == 0)
            return m->values.data + m->params[i].value_off;
    }
    return NULL;
}

struct match_state {
    unsigned method;
    const char *segs[ROUTER_MAX_PARAMS * 4 + 16]; /* raw segment starts */
    size_t lens[ROUTER_MAX_PARAMS * 4 + 16];
    size_t n_segs;
    const struct node *params_at[ROUTER_MAX_PARAMS * 4 + 16]; /* param node per segment */
    uint64_t allow;
};

/* Finds the route for segments [i..n_segs) below node n. */
static const struct route *match_from(const struct node *n, size_t i, struct match_state *st)
{
    if (i == st->n_segs) {
        for (size_t k = 0; k < n->n_routes; k++) {
            if (n->routes[k]->method == st->method)
                return n->routes[k];
            st->allow |= UINT64_C(1) << n->routes[k]->method;
        }
        return NULL;
    }
    const char *seg = st->segs[i];
    size_t len = st->lens[i];
    for (size_t k = 0; k < n->n_children; k++) {
        const struct node *c = n->children[k];
        if (c->literal_len == len && memcmp(c->literal, seg, len) == 0) {
            st->params_at[i] = NULL;
            const struct route *rt = match_from(c, i + 1, st);
            if (rt)
                return rt;
            break;
        }
    }
    if (n->param_child && len > 0) {
        st->params_at[i] = n->param_child;
        const struct route *rt = match_from(n->param_child, i + 1, st);
        if (rt)
            return rt;
        st->params_at[i] = NULL;
    }
    return NULL;
}

enum router_result router_match(const struct router *r, unsigned method, const char *path,
                                size_t len, struct route_match *m)
{
    m->route = NULL;
    m->allow = 0;
    m->n_params = 0;
    buf_reset(&m->values);
    if (len == 0 || path[0] != '/')
        return ROUTER_NOT_FOUND;

    struct match_state st;
    st.method = method;
    st.allow = 0;
    st.n_segs = 0;
    if (len > 1) {
        size_t i = 1;
        for (;;) {
            size_t j = i;
            while (j < len && path[j] != '/')
                j++;
            if (st.n_segs == sizeof(st.segs) / sizeof(st.segs[0]))
                return ROUTER_NOT_FOUND; /* deeper than any pattern we accept */
            st.segs[st.n_segs] = path + i;
            st.lens[st.n_segs] = j - i;
            st.params_at[st.n_segs] = NULL;
            st.n_segs++;
            if (j == len)
                break;
            i = j + 1;
        }
    }
    const struct route *rt = match_from(&r->root, 0, &st);
    if (!rt) {
        m->allow = st.allow;
        return st.allow ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
    }
    for (size_t i = 0; i < st.n_segs; i++) {
        if (!st.params_at[i])
            continue;
        assert(m->n_params < ROUTER_MAX_PARAMS);
        struct route_param *p = &m->params[m->n_params++];
        p->name = st.params_at[i]->param;
        p->value_off = m->values.len;
        if (url_decode(st.segs[i], st.lens[i], false, &m->values) < 0) {
            m->n_params = 0;
            buf_reset(&m->values);
            return ROUTER_BAD_PATH;
        }
        p->value_len = m->values.len - p->value_off;
        buf_putc(&m->values, '\0');
    }
    m->route = rt;
    return ROUTER_FOUND;
}
