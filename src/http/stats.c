/* HTTP request statistics, sharded per I/O thread (see stats.h). */
#include "http/stats.h"

#include <http_parser.h>
#include <stdlib.h>

#include "core/mem.h"

/* The status codes this server answers with; anything else is counted as "other". */
static const int status_codes[] = { 100, 101, 200, 201, 202, 204, 207, 304, 400, 401, 403,
                                    404, 405, 408, 409, 411, 413, 415, 422, 429, 431, 500,
                                    501, 503 };
#define N_STATUS (sizeof(status_codes) / sizeof(status_codes[0]) + 1)

struct route_stats {
    metric_u64 count[N_STATUS];
    struct metrics_hist duration;
};

struct http_stats {
    size_t n_slots; /* routes + 1; slot 0 = unmatched */
    struct route_stats slots[];
};

static size_t status_slot(int status)
{
    for (size_t i = 0; i < N_STATUS - 1; i++) {
        if (status_codes[i] == status)
            return i;
    }
    return N_STATUS - 1;
}

struct http_stats *http_stats_new(size_t n_routes)
{
    struct http_stats *s =
        xcalloc(1, sizeof(*s) + (n_routes + 1) * sizeof(struct route_stats));
    s->n_slots = n_routes + 1;
    return s;
}

void http_stats_free(struct http_stats *s)
{
    free(s);
}

void http_stats_record(struct http_stats *s, int route_id, int status, uint64_t ns)
{
    size_t slot = route_id < 0 ? 0 : (size_t)route_id + 1;
    if (slot >= s->n_slots)
        slot = 0;
    struct route_stats *rs = &s->slots[slot];
    metric_add(&rs->count[status_slot(status)], 1);
    metrics_hist_observe(&rs->duration, ns);
}

uint64_t http_stats_count(struct http_stats *const *shards, size_t n, int route_id, int status)
{
    size_t slot = route_id < 0 ? 0 : (size_t)route_id + 1;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (slot < shards[i]->n_slots)
            total += metric_get(&shards[i]->slots[slot].count[status_slot(status)]);
    }
    return total;
}

static void route_labels(struct buf *out, const struct router *r, size_t slot)
{
    if (slot == 0) {
        buf_puts(out, "method=\"any\",route=\"unmatched\"");
        return;
    }
    const struct route *rt = router_get(r, (unsigned)(slot - 1));
    buf_puts(out, "method=\"");
    buf_puts(out, http_method_str((enum http_method)rt->method));
    buf_puts(out, "\",route=");
    metrics_label_value(out, rt->pattern);
}

void http_stats_render(struct buf *out, const struct router *r, struct http_stats *const *shards,
                       size_t n)
{
    if (n == 0)
        return;
    size_t n_slots = shards[0]->n_slots;
    struct buf labels = BUF_INIT;

    metrics_family(out, "reactor_http_requests_total", "counter",
                   "HTTP requests answered, by route and status.");
    for (size_t slot = 0; slot < n_slots; slot++) {
        for (size_t st = 0; st < N_STATUS; st++) {
            uint64_t total = 0;
            for (size_t i = 0; i < n; i++)
                total += metric_get(&shards[i]->slots[slot].count[st]);
            if (total == 0)
                continue;
            buf_reset(&labels);
            route_labels(&labels, r, slot);
            if (st < N_STATUS - 1)
                buf_printf(out, "reactor_http_requests_total{%s,status=\"%d\"} %llu\n",
                           labels.data, status_codes[st], (unsigned long long)total);
            else
                buf_printf(out, "reactor_http_requests_total{%s,status=\"other\"} %llu\n",
                           labels.data, (unsigned long long)total);
        }
    }

    metrics_family(out, "reactor_http_request_duration_seconds", "histogram",
                   "Time from the first byte of a request to its response, by route.");
    for (size_t slot = 0; slot < n_slots; slot++) {
        struct metrics_hist_sum sum = { { 0 }, 0 };
        for (size_t i = 0; i < n; i++)
            metrics_hist_accumulate(&sum, &shards[i]->slots[slot].duration);
        uint64_t count = 0;
        for (size_t b = 0; b <= METRICS_N_BUCKETS; b++)
            count += sum.buckets[b];
        if (count == 0)
            continue;
        buf_reset(&labels);
        route_labels(&labels, r, slot);
        metrics_hist_render(out, "reactor_http_request_duration_seconds", labels.data, &sum);
    }
    buf_release(&labels);
}
