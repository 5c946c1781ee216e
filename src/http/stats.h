/* Per-I/O-thread HTTP statistics: requests by (route, status) and duration histograms by
 * route. Each I/O thread owns one shard and is its only writer; /metrics sums the shards. */
#ifndef REACTOR_HTTP_STATS_H
#define REACTOR_HTTP_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/metrics.h"
#include "http/router.h"

struct http_stats;

/* One shard for a router with n_routes routes (plus one slot for unmatched requests). */
struct http_stats *http_stats_new(size_t n_routes);
void http_stats_free(struct http_stats *s);
/* route_id -1 = no route matched. Single writer: the owning thread. */
void http_stats_record(struct http_stats *s, int route_id, int status, uint64_t ns);
/* Renders the sum of `n` shards. Safe from any thread. */
void http_stats_render(struct buf *out, const struct router *r, struct http_stats *const *shards,
                       size_t n);
/* Total requests with `status` across shards (for tests and the dashboard). */
uint64_t http_stats_count(struct http_stats *const *shards, size_t n, int route_id, int status);

#endif
