/* Operational routes: liveness, readiness and Prometheus metrics. None needs a key. */
#include <string.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "core/worker.h"
#include "http/conn.h"
#include "http/http.h"

static void health(struct http_request *req, void *arg)
{
    (void)arg;
    static const char body[] = "{\"status\":\"ok\"}";
    http_respond(req, 200, "application/json", body, sizeof(body) - 1);
}

static void ready(struct http_request *req, void *arg)
{
    struct api *api = arg;
    bool draining = atomic_load(&api->shared->draining);
    bool store_ok = clock_now_ms() - atomic_load(&api->store_ok_ms) <= api->store_ok_window_ms;
    if (draining) {
        http_respond_json(req, 503, json_pack("{s:s, s:s}", "status", "draining", "reason",
                                              "the server is shutting down"));
        return;
    }
    if (!store_ok) {
        http_respond_json(req, 503, json_pack("{s:s, s:s}", "status", "unavailable", "reason",
                                              "the store does not answer"));
        return;
    }
    http_respond_json(req, 200, json_pack("{s:s}", "status", "ready"));
}

static void metrics(struct http_request *req, void *arg)
{
    (void)arg;
    struct buf out = BUF_INIT;
    metrics_render(&out);
    http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    buf_release(&out);
}

/* Metrics of the API's own parts (registered as a collector in main). */
void api_collect_metrics(struct buf *out, void *arg)
{
    struct api *api = arg;
    metrics_single(out, "reactor_engine_queue_depth", "gauge",
                   "Events and store operations waiting for the engine thread.",
                   api->store_worker ? worker_depth(api->store_worker) : 0);
    metrics_single(out, "reactor_store_up", "gauge",
                   "1 when the store answered its last readiness probe in time.",
                   clock_now_ms() - atomic_load(&api->store_ok_ms) <= api->store_ok_window_ms);
    struct metrics_hist_sum sync;
    memset(&sync, 0, sizeof(sync));
    metrics_hist_accumulate(&sync, &api->sync_time);
    metrics_family(out, "reactor_store_sync_seconds", "histogram",
                   "Time to make committed batches durable (one fdatasync covers all "
                   "committed before it started).");
    metrics_hist_render(out, "reactor_store_sync_seconds", "", &sync);
    struct store_checkpoint_stats ck;
    store_checkpointer_stats(api->store, &ck);
    metrics_single(out, "reactor_store_wal_frames", "gauge",
                   "Pages in the write-ahead log after the last commit.",
                   (uint64_t)(ck.wal_frames > 0 ? ck.wal_frames : 0));
    metrics_single(out, "reactor_store_checkpoints_total", "counter",
                   "Checkpoints completed by the checkpoint thread.", ck.runs);
    metrics_single(out, "reactor_store_checkpoints_inline_total", "counter",
                   "Checkpoints the engine thread finished itself (the WAL past its limit).",
                   ck.inline_runs);
    metrics_single(out, "reactor_store_checkpoints_busy_total", "counter",
                   "Checkpoint attempts that found another one running.", ck.busy);
    metrics_family(out, "reactor_store_checkpoint_seconds_total", "counter",
                   "Time the checkpoint thread spent copying the WAL into the database.");
    buf_printf(out, "reactor_store_checkpoint_seconds_total %.6f\n", ck.seconds);
    metrics_family(out, "reactor_build_info", "gauge", "Version of this build.");
    buf_printf(out, "reactor_build_info{version=\"%s\"} 1\n", REACTOR_VERSION);
}

int api_system_register(struct router *r, struct api *api)
{
    if (router_add(r, HTTP_GET, "/health", health, api) < 0 ||
        router_add(r, HTTP_GET, "/ready", ready, api) < 0 ||
        router_add(r, HTTP_GET, "/metrics", metrics, api) < 0)
        return -1;
    return 0;
}

int api_register(struct router *r, struct api *api)
{
    if (api_system_register(r, api) < 0 || api_apps_register(r, api) < 0 ||
        api_keys_register(r, api) < 0 || api_users_register(r, api) < 0 ||
        api_events_register(r, api) < 0 || api_definitions_register(r, api) < 0 ||
        api_currency_register(r, api) < 0 || api_leaderboards_register(r, api) < 0 ||
        api_leagues_register(r, api) < 0 || api_audit_register(r, api) < 0 ||
        api_jobs_register(r, api) < 0 || api_realtime_register(r, api) < 0)
        return -1;
    return 0;
}
