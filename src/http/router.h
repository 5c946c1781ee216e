/* The request router: (method, path pattern) -> handler, with path parameters.
 *
 * Patterns are absolute paths whose segments are literals or parameters: "/users/:id/profile".
 * Literal segments win over parameters at the same position, with backtracking, so
 * "/leaderboards/rank/:userId" and "/leaderboards/:x" coexist. Parameter values are
 * percent-decoded; literals are compared byte for byte with the raw path.
 *
 * A router is built once at start (router_add) and is read-only afterwards, so any number of
 * threads may call router_match at once. Every route gets a dense id (0, 1, ...) in the order
 * it was added, which callers use to index per-route statistics.
 */
#ifndef REACTOR_HTTP_ROUTER_H
#define REACTOR_HTTP_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct http_request;
typedef void http_handler_fn(struct http_request *req, void *arg);

#define ROUTER_MAX_PARAMS 8

struct route {
    unsigned id;             /* dense, from 0 in order of router_add */
    unsigned method;         /* enum http_method of http_parser */
    const char *pattern;     /* as given to router_add (owned by the router) */
    http_handler_fn *handler;
    void *arg;               /* passed to handler, borrowed */
};

struct route_param {
    const char *name; /* from the pattern, without ':' (owned by the router) */
    size_t value_off; /* decoded value: match->values.data + value_off, NUL-terminated */
    size_t value_len;
};

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED, ROUTER_BAD_PATH };

struct route_match {
    const struct route *route;  /* when ROUTER_FOUND */
    uint64_t allow;             /* when METHOD_NOT_ALLOWED: bit m set = method m has a route */
    size_t n_params;
    struct route_param params[ROUTER_MAX_PARAMS];
    struct buf values;          /* decoded parameter values, NUL-separated */
};

struct router *router_new(void);
void router_free(struct router *r);

/* Adds a route. Returns its id, or -1 if the pattern is malformed (not starting with '/',
 * empty parameter name, more than ROUTER_MAX_PARAMS parameters, two parameters with different
 * names at one position) or the (method, pattern) pair already exists. */
int router_add(struct router *r, unsigned method, const char *pattern, http_handler_fn *handler,
               void *arg);
size_t router_count(const struct router *r);
const struct route *router_get(const struct router *r, unsigned id);

/* Matches path[0..len) (no query string). `m` must be initialised with route_match_init and
 * is reset by each call. A path whose parameter has a malformed percent escape gives
 * ROUTER_BAD_PATH. */
enum router_result router_match(const struct router *r, unsigned method, const char *path,
                                size_t len, struct route_match *m);
void route_match_init(struct route_match *m);
void route_match_release(struct route_match *m);
/* The decoded value of parameter `name`, or NULL. */
const char *route_match_param(const struct route_match *m, const char *name);

#endif
