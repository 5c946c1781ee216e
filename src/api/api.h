/* The HTTP API: route handlers, grouped one file per resource, registered into the router at
 * start. Handlers see the server's shared state through struct api. */
#ifndef REACTOR_API_API_H
#define REACTOR_API_API_H

#include <stdatomic.h>
#include <stdbool.h>

#include "http/router.h"

struct http_server;
struct http_shared;

struct api {
    struct http_server *server;       /* set once the server exists */
    const struct http_shared *shared; /* draining flag */
    atomic_bool store_ok;             /* last readiness probe answered */
};

/* Adds every route. Returns 0, or -1 if a route could not be added (a bug). */
int api_register(struct router *r, struct api *api);

/* One function per resource file. */
int api_system_register(struct router *r, struct api *api);

#endif
