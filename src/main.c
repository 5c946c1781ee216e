/* reactor: the command line. Parses the subcommand and the configuration, starts the parts
 * (store, HTTP server) and waits for a signal to shut them down in order. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <jansson.h>
#include <openssl/opensslv.h>
#include <sqlite3.h>
#ifdef REACTOR_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "api/api.h"
#include "bench/bench.h"
#include "core/config.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/secret.h"
#include "core/clock.h"
#include "core/syncer.h"
#include "core/worker.h"
#include "engine/boards.h"
#include "engine/engine.h"
#include "http/conn.h"
#include "http/server.h"
#include "jobs/jobs.h"
#include "jobs/scheduler.h"
#include "http/ws.h"
#include "realtime/hub.h"
#include "store/store.h"
#include "tenant/registry.h"

#ifndef REACTOR_VERSION
#define REACTOR_VERSION "0.0.0-dev"
#endif

extern char **environ;

static void usage(FILE *f)
{
    fprintf(f,
            "Forge Reactor %s: an event engine for XP, levels, currencies, streaks,\n"
            "achievements and leaderboards, with a real-time WebSocket gateway.\n\n"
            "Usage: reactor [command] [options]\n\n"
            "Commands:\n"
            "  serve     run the server (the default)\n"
            "  migrate   apply the store's schema migrations and exit\n"
            "  version   print the version and the libraries in use\n"
            "  bench     the load generator (reactor bench --help)\n"
            "  help      print this text\n\n",
            REACTOR_VERSION);
    struct buf b = BUF_INIT;
    config_help(&b);
    fputs(b.data, f);
    buf_release(&b);
}

/* The allocator the process runs on: jemalloc when linked with it (CMake's REACTOR_JEMALLOC,
 * the default), the sanitizers' in a build with them, else the C library's. */
static const char *allocator(void)
{
#ifdef REACTOR_JEMALLOC
    static char name[64];
    const char *v = NULL;
    size_t len = sizeof(v);
    if (mallctl("version", &v, &len, NULL, 0) == 0 && v) {
        snprintf(name, sizeof(name), "jemalloc %.*s", (int)strcspn(v, "-_"), v);
        return name;
    }
    return "jemalloc";
#elif defined(REACTOR_SANITIZER_ALLOCATOR)
    return "sanitizer allocator";
#else
    return "libc malloc";
#endif
}

static int cmd_version(void)
{
    printf("reactor %s\n", REACTOR_VERSION);
    printf("  libuv %s, http-parser %lu.%lu.%lu, jansson %s, sqlite %s, %s, %s\n",
           uv_version_string(), (http_parser_version() >> 16) & 255,
           (http_parser_version() >> 8) & 255, http_parser_version() & 255, JANSSON_VERSION,
           sqlite3_libversion(), OPENSSL_VERSION_TEXT, allocator());
    return 0;
}

static struct store *open_store(const struct config *cfg)
{
    char err[512];
    struct store_options so = { cfg->data_dir, cfg->database_url,
                                (size_t)cfg->wal_reserve_mb << 20 };
    struct store *st = store_open(&so, err, sizeof(err));
    if (!st) {
        log_error("cannot open the store", LOG_S("error", err));
        return NULL;
    }
    int applied;
    if (store_migrate(st, &applied, err, sizeof(err)) < 0) {
        log_error("migration failed", LOG_S("error", err));
        store_close(st);
        return NULL;
    }
    int version = 0;
    store_schema_version(st, &version, err, sizeof(err));
    log_info("store ready", LOG_S("store", store_describe(st)), LOG_I("schema_version", version),
             LOG_I("migrations_applied", applied));
    return st;
}

static int cmd_migrate(const struct config *cfg)
{
    struct store *st = open_store(cfg);
    if (!st)
        return 1;
    store_close(st);
    return 0;
}

/* ---- serve ------------------------------------------------------------------------------- */

struct serve_state {
    uv_loop_t *loop;
    const struct config *cfg;
    struct store *store;
    struct http_server *server;
    struct api *api;
    uv_signal_t sigterm, sigint;
    uv_timer_t probe;        /* readiness */
    uv_timer_t key_flush;    /* last-use times of API keys to the store */
    uv_timer_t nonce_expiry; /* forgets nonces outside the signature window */
    uv_timer_t drain_check;
    uv_timer_t realtime;     /* leaderboard pushes, presence expiry, keepalive */
    uint64_t drain_deadline; /* uv_now() ms */
    bool shutting_down;
    bool forced;
};

/* On the engine thread. */
static void ping_task(void *arg)
{
    struct api *api = arg;
    if (store_ping(api->store) == 0)
        atomic_store(&api->store_ok_ms, clock_now_ms());
}

/* Readiness: the probe runs where the store lives, so a wedged engine thread shows too. */
static void probe_store(uv_timer_t *t)
{
    struct serve_state *s = t->data;
    worker_submit(s->api->store_worker, ping_task, s->api);
}

/* On the engine thread. */
static void flush_key_uses(void *arg)
{
    struct api *api = arg;
    if (!api_batch_usable(api))
        return; /* nothing collected: the next flush takes these uses */
    struct store_key_use *uses;
    size_t n = tenant_collect_uses(api->tenants, &uses);
    char err[256];
    if (n && store_keys_touch(api->store, uses, n, err, sizeof(err)) < 0)
        log_warn("cannot record API key use", LOG_S("error", err));
    tenant_uses_free(uses, n);
    api_batch_usable(api); /* records a rollback the write may have caused */
}

/* On the engine thread, the last task before a stop: folds the game logs, so that the next
 * start (perhaps of another version) applies no event again. */
static void settle_at_stop(void *arg)
{
    struct api *api = arg;
    char err[256];
    if (api_batch_usable(api) && engine_settle(api->engine, api->store, err, sizeof(err)) < 0)
        log_warn("cannot fold the game logs at stop; the next start will", LOG_S("error", err));
}

static void on_key_flush(uv_timer_t *t)
{
    struct serve_state *s = t->data;
    worker_submit(s->api->store_worker, flush_key_uses, s->api);
}

/* On the engine thread: forgets signature nonces whose window has passed, in chunks and
 * within a time budget so the engine never stalls on it. Every 250 ms, up to 4 chunks: 80,000
 * rows a second, more than the engine writes (one per batch with signed requests; rows of
 * earlier versions hold one nonce each). */
#define NONCE_EXPIRE_CHUNK 5000
#define NONCE_EXPIRE_CHUNKS 4

static void expire_nonces(void *arg)
{
    struct api *api = arg;
    char err[256];
    int total = 0, deleted = NONCE_EXPIRE_CHUNK;
    for (int i = 0; i < NONCE_EXPIRE_CHUNKS && deleted == NONCE_EXPIRE_CHUNK; i++) {
        if (!api_batch_usable(api))
            return;
        if (store_nonces_expire(api->store, clock_now_ms() / 1000, NONCE_EXPIRE_CHUNK, &deleted,
                                err, sizeof(err)) < 0) {
            log_warn("cannot forget expired nonces", LOG_S("error", err));
            api_batch_usable(api);
            return;
        }
        total += deleted;
    }
    if (total)
        log_debug("expired nonce rows forgotten", LOG_I("rows", total));
}

static void on_nonce_expiry(uv_timer_t *t)
{
    struct serve_state *s = t->data;
    worker_submit(s->api->store_worker, expire_nonces, s->api);
}

static void nothing(void *arg)
{
    (void)arg; /* a task only for its batch: its end loads the boards readers wanted */
}

/* A reader found a leaderboard only in the store (any thread): a batch loads it. If the
 * reserved slots are taken, one of those batches does. */
static void board_wanted(void *arg)
{
    worker_submit_reserved(arg, nothing, NULL);
}

static void load_app(const struct store_app *a, void *arg)
{
    tenant_app_put(arg, a);
}

static void load_key(const struct store_key *k, void *arg)
{
    tenant_key_put(arg, k);
}

/* A signal during the last steps of shutdown (the engine thread finishing its queue, the I/O
 * threads stopping): the operator wants out now. What is committed is safe in the WAL; what
 * is not was never acknowledged. */
static void exit_now(int signum)
{
    (void)signum;
    static const char msg[] =
        "{\"level\":\"warn\",\"msg\":\"signal during final shutdown: exiting now\"}\n";
    ssize_t ignored = write(2, msg, sizeof(msg) - 1);
    (void)ignored;
    _exit(0);
}

static void stop_main_loop(struct serve_state *s)
{
    /* libuv's handlers close below; without these a late signal would kill the process by
     * the default action, with a non-zero status. */
    signal(SIGTERM, exit_now);
    signal(SIGINT, exit_now);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->probe, NULL);
    uv_close((uv_handle_t *)&s->key_flush, NULL);
    uv_close((uv_handle_t *)&s->nonce_expiry, NULL);
    uv_close((uv_handle_t *)&s->drain_check, NULL);
    uv_close((uv_handle_t *)&s->realtime, NULL);
}

static void on_realtime_tick(uv_timer_t *t)
{
    struct serve_state *s = t->data;
    rt_hub_tick(s->api->hub, clock_now_ms());
}

static void check_drained(uv_timer_t *t)
{
    struct serve_state *s = t->data;
    if (http_server_drained(s->server)) {
        log_info("drained", LOG_U("connections", 0));
        stop_main_loop(s);
    } else if (uv_now(s->loop) >= s->drain_deadline) {
        s->forced = true;
        log_warn("shutdown timeout: closing remaining connections",
                 LOG_U("connections", http_server_connections(s->server)),
                 LOG_I("timeout_s", s->cfg->shutdown_timeout));
        stop_main_loop(s);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct serve_state *s = h->data;
    if (s->shutting_down) {
        log_warn("second signal: stopping now", LOG_I("signal", signum));
        s->forced = true;
        uv_timer_stop(&s->drain_check);
        stop_main_loop(s);
        return;
    }
    s->shutting_down = true;
    log_info("shutting down", LOG_S("signal", signum == SIGTERM ? "SIGTERM" : "SIGINT"),
             LOG_U("connections", http_server_connections(s->server)),
             LOG_I("timeout_s", s->cfg->shutdown_timeout));
    http_server_drain(s->server);
    s->drain_deadline = uv_now(s->loop) + (uint64_t)s->cfg->shutdown_timeout * 1000;
    uv_timer_start(&s->drain_check, check_drained, 0, 20);
}

static int cmd_serve(const struct config *cfg)
{
    int ret = 1;
    char err[512];
    struct router *router = NULL;
    struct http_server *server = NULL;
    struct store *store = NULL;
    struct tenant_registry *tenants = NULL;
    struct worker *store_worker = NULL;
    struct engine *engine = NULL;
    struct jobs *jobs = NULL;
    struct scheduler *sched = NULL;
    struct rt_hub *hub = NULL;
    char *token = NULL, *token_secret = NULL;
    struct api api;
    memset(&api, 0, sizeof(api));
    struct http_shared shared;
    memset(&shared, 0, sizeof(shared));

    if (fs_mkdir_p(cfg->data_dir, err, sizeof(err)) < 0) {
        log_error("cannot use the data directory", LOG_S("error", err));
        goto out;
    }
    store = open_store(cfg);
    if (!store)
        goto out;
    bool created;
    token = secret_operator_token(cfg->data_dir, cfg->operator_token, &created, err, sizeof(err));
    if (!token) {
        log_error("cannot set up the operator token", LOG_S("error", err));
        goto out;
    }
    if (created) {
        /* Shown once, on stdout rather than in the logs, which are often shipped elsewhere. */
        printf("Operator token (shown once; kept in %s/operator_token, mode 0600): %s\n",
               cfg->data_dir, token);
        fflush(stdout);
    }

    tenants = tenant_registry_new(cfg->rate_limit_points, cfg->rate_limit_window);
    if (store_apps_each(store, load_app, tenants, err, sizeof(err)) < 0 ||
        store_keys_each_active(store, load_key, tenants, err, sizeof(err)) < 0) {
        log_error("cannot load apps and keys", LOG_S("error", err));
        goto out;
    }

    engine = engine_new(tenants);
    engine_set_user_cache_limit(engine, (size_t)cfg->engine_user_cache);
    engine_set_game_log_fold(engine, cfg->game_log_rows, (int64_t)cfg->game_log_seconds * 1000);
    engine_set_board_retention(engine, cfg->leaderboard_retention);
    engine_set_board_read_memory(engine, (size_t)cfg->leaderboard_read_memory_mb << 20);
    if (engine_load(engine, store, clock_now_ms(), err, sizeof(err)) < 0) {
        log_error("cannot load the engine's state", LOG_S("error", err));
        goto out;
    }
    /* Client tokens are signed with keys derived from this secret; it never leaves the data
     * directory, and deleting it invalidates every token. */
    token_secret = secret_file(cfg->data_dir, "token_secret", &created, err, sizeof(err));
    if (!token_secret) {
        log_error("cannot set up the client token secret", LOG_S("error", err));
        goto out;
    }
    struct rt_hub_config rc = {
        .threads = (unsigned)cfg->threads,
        .history_size = (size_t)cfg->ws_history_size,
        .history_ttl_ms = (int64_t)cfg->ws_history_ttl * 1000,
        .max_connections = (unsigned)cfg->ws_max_connections,
        .max_connections_per_ip = (unsigned)cfg->ws_max_connections_per_ip,
        .max_subscriptions = (unsigned)cfg->ws_max_subscriptions,
        .max_message_bytes = (size_t)cfg->ws_max_message_bytes,
        .send_queue_bytes = (size_t)cfg->ws_send_queue_bytes,
        .ping_interval_ms = (unsigned)cfg->ws_ping_interval * 1000u,
        .board_top = 10,
        .presence_ttl_default_s = cfg->presence_ttl,
    };
    hub = rt_hub_new(&rc, token_secret, strlen(token_secret), engine_boards(engine));
    engine_on_publish(engine, rt_hub_publish_event, hub);
    boards_on_change(engine_boards(engine), rt_hub_board_changed, hub);
    if (engine_start_board_applier(engine) < 0) {
        log_error("cannot start the leaderboards' applier thread");
        goto out;
    }
    router = router_new();
    api.hub = hub;
    api.engine = engine;
    api.signature_tolerance_s = cfg->signature_tolerance;
    api.shared = &shared;
    api.tenants = tenants;
    api.store = store;
    api.operator_token = token;
    api.open_signup = cfg->open_signup;
    api.audit_retention_days = cfg->audit_retention_days;
    api.store_ok_window_ms = 3 * (int64_t)cfg->ready_interval_ms + 1000;
    atomic_store(&api.store_ok_ms, store_ping(store) == 0 ? clock_now_ms() : 0);
    if (api_register(router, &api) < 0) {
        log_error("cannot register routes");
        goto out;
    }
    shared.router = router;
    shared.limits.max_header_bytes = (size_t)cfg->max_header_bytes;
    shared.limits.max_headers = (size_t)cfg->max_headers;
    shared.limits.max_body_bytes = (size_t)cfg->max_body_bytes;
    shared.limits.max_pipelined = (unsigned)cfg->max_pipelined;
    shared.limits.json.max_depth = cfg->max_json_depth;
    shared.limits.json.max_elements = (size_t)cfg->max_json_elements;
    shared.access_log = true;
    atomic_init(&shared.draining, false);

    struct http_server_config hc = {
        .listen = cfg->listen,
        .port = cfg->port,
        .threads = (unsigned)cfg->threads,
        .header_timeout_ms = (unsigned)cfg->header_timeout * 1000u,
        .body_timeout_ms = (unsigned)cfg->body_timeout * 1000u,
        .idle_timeout_ms = (unsigned)cfg->idle_timeout * 1000u,
        .max_connections = (unsigned)cfg->max_connections,
    };
    server = http_server_new(&hc, &shared, err, sizeof(err));
    if (!server) {
        log_error("cannot start the HTTP server", LOG_S("error", err));
        goto out;
    }
    api.server = server;
    struct jobs_config jc = {
        .workers = cfg->job_workers,
        .concurrency = cfg->job_concurrency,
        .max_attempts = cfg->job_max_attempts,
        .backoff_ms = cfg->job_backoff_ms,
        .backoff_max_ms = cfg->job_backoff_max_ms,
        .timeout_ms = cfg->job_timeout_ms,
        .poll_ms = cfg->job_poll_ms,
        .shutdown_ms = cfg->job_shutdown_ms,
        .deny_private = cfg->webhook_deny_private,
    };
    jobs = jobs_new(&jc, &api, err, sizeof(err));
    if (!jobs) {
        log_error("cannot set up the job queue", LOG_S("error", err));
        goto out;
    }
    engine_on_outbox(engine, jobs_outbox, jobs);
    struct scheduler_config sc = {
        .enabled = cfg->scheduler,
        .tick_ms = cfg->scheduler_tick_ms,
        .catchup = cfg->schedule_catchup,
        .job_retention_days = cfg->job_retention_days,
        .job_cleanup = cfg->schedule_job_cleanup,
        .board_eviction = cfg->schedule_board_eviction,
        .season_end = cfg->schedule_season_end,
        .event_retention_days = cfg->event_retention_days,
        .event_retention = cfg->schedule_event_retention,
        .season_start = cfg->schedule_season_start,
        .season_results_max = cfg->season_results_max,
    };
    sched = scheduler_new(&sc, &api, err, sizeof(err));
    if (!sched) {
        log_error("cannot set up the scheduler", LOG_S("error", err));
        goto out;
    }
    rt_hub_set_server(hub, server, ws_deliver, ws_prefetch, ws_sweep);
    metrics_register(http_server_collect_metrics, server);
    metrics_register(rt_hub_collect_metrics, hub);
    /* Checkpoints off the engine thread: every 1,000 pages (SQLite's own default), and the
     * engine finishes one itself only when the WAL passes 10,000 (40 MiB). */
    if (store_checkpointer_start(store, STORE_CHECKPOINT_SOFT, STORE_CHECKPOINT_HARD, err,
                                 sizeof(err)) < 0) {
        log_error("cannot start the checkpoint thread", LOG_S("error", err));
        goto out;
    }
    /* From here on the store and the engine belong to the engine thread. */
    struct worker_batch batch = {
        .max = (size_t)cfg->engine_batch,
        .wait_us = (unsigned)cfg->engine_batch_wait_us,
        .begin = api_batch_begin,
        .end = api_batch_end,
        .arg = &api,
    };
    api.syncer = syncer_new("syncer", api_sync, api_sync_idle, &api);
    store_worker = worker_new("engine", (size_t)cfg->engine_queue, &batch);
    api.store_worker = store_worker;
    boards_on_want(engine_boards(engine), board_wanted, store_worker);
    metrics_register(api_collect_metrics, &api);
    metrics_register(engine_collect_metrics, engine);
    metrics_register(jobs_collect_metrics, jobs);
    metrics_register(scheduler_collect_metrics, sched);

    struct serve_state s;
    memset(&s, 0, sizeof(s));
    s.loop = uv_default_loop();
    s.cfg = cfg;
    s.store = store;
    s.server = server;
    s.api = &api;
    uv_signal_init(s.loop, &s.sigterm);
    uv_signal_init(s.loop, &s.sigint);
    s.sigterm.data = s.sigint.data = &s;
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_timer_init(s.loop, &s.probe);
    uv_timer_init(s.loop, &s.drain_check);
    s.probe.data = s.drain_check.data = &s;
    uv_timer_start(&s.probe, probe_store, (uint64_t)cfg->ready_interval_ms,
                   (uint64_t)cfg->ready_interval_ms);
    uv_timer_init(s.loop, &s.key_flush);
    s.key_flush.data = &s;
    uv_timer_start(&s.key_flush, on_key_flush, 5000, 5000);
    uv_timer_init(s.loop, &s.nonce_expiry);
    s.nonce_expiry.data = &s;
    uv_timer_start(&s.nonce_expiry, on_nonce_expiry, 250, 250);
    uv_timer_init(s.loop, &s.realtime);
    s.realtime.data = &s;
    uv_timer_start(&s.realtime, on_realtime_tick, (uint64_t)cfg->ws_leaderboard_interval_ms,
                   (uint64_t)cfg->ws_leaderboard_interval_ms);

    if (jobs_start(jobs) < 0 || scheduler_start(sched) < 0 || http_server_start(server) < 0) {
        log_error("cannot start I/O threads");
        stop_main_loop(&s);
        uv_run(s.loop, UV_RUN_DEFAULT);
        goto out;
    }
    log_info("listening", LOG_S("address", cfg->listen), LOG_I("port", cfg->port),
             LOG_I("threads", cfg->threads), LOG_S("version", REACTOR_VERSION),
             LOG_S("allocator", allocator()));

    uv_run(s.loop, UV_RUN_DEFAULT);

    /* Running jobs finish or go back to the queue (the engine thread records which). */
    scheduler_stop(sched);
    jobs_stop(jobs);
    /* Store work still queued finishes and is answered while the I/O threads run. */
    worker_submit(store_worker, flush_key_uses, &api);
    worker_submit(store_worker, settle_at_stop, &api);
    worker_stop(store_worker);
    boards_wait_applied(engine_boards(engine)); /* the last batches' leaderboard changes */
    syncer_stop(api.syncer); /* the last batches become durable and are answered */
    http_server_stop(server);
    log_info("stopped", LOG_B("forced", s.forced));
    ret = 0;
out:
    metrics_clear();
    scheduler_stop(sched); /* a start-up failure after the threads started */
    jobs_stop(jobs);
    worker_free(store_worker);
    jobs_free(jobs);
    scheduler_free(sched);
    syncer_free(api.syncer);
    free(api.batch);
    free(api.after);
    engine_free(engine);
    http_server_free(server);
    rt_hub_free(hub);
    tenant_registry_free(tenants);
    router_free(router);
    store_close(store);
    free(token);
    free(token_secret);
    uv_loop_close(uv_default_loop());
    return ret;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    /* A file size limit reached (RLIMIT_FSIZE) fails the write with EFBIG, which the store
     * reports like a full disk (503, nothing kept), instead of killing the process. */
    signal(SIGXFSZ, SIG_IGN);
    const char *cmd = "serve";
    int first_opt = 1;
    if (argc > 1 && strncmp(argv[1], "-", 1) != 0) {
        cmd = argv[1];
        first_opt = 2;
    }
    if (strcmp(cmd, "help") == 0 || (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
                                                  strcmp(argv[1], "-h") == 0))) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || (argc > 1 && strcmp(argv[1], "--version") == 0))
        return cmd_version();
    if (strcmp(cmd, "bench") == 0)
        return bench_main(argc - 2, argv + 2);
    if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "migrate") != 0) {
        fprintf(stderr, "reactor: unknown command \"%s\" (try `reactor help`)\n", cmd);
        return 2;
    }

    struct config cfg;
    char err[512];
    if (config_load(&cfg, (const char *const *)environ, argc - first_opt, argv + first_opt, err,
                    sizeof(err)) < 0) {
        fprintf(stderr, "reactor: %s\n", err);
        return 2;
    }
    log_set_level(cfg.log_level);
    struct buf cj = BUF_INIT;
    config_to_json(&cfg, &cj);
    log_debug("configuration", LOG_J("config", cj.data));
    buf_release(&cj);

    int rc = strcmp(cmd, "migrate") == 0 ? cmd_migrate(&cfg) : cmd_serve(&cfg);
    config_release(&cfg);
    log_flush();
    return rc;
}
