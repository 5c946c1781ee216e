/* The option table and its parser (see config.h). To add an option: one row here, one field in
 * struct config. */
#include "core/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"

enum opt_type { OPT_INT, OPT_STRING, OPT_LOG_LEVEL, OPT_BOOL };

struct option {
    const char *env;      /* environment variable */
    const char *flag;     /* command-line flag, with its dashes */
    enum opt_type type;
    size_t offset;        /* of the field in struct config */
    const char *def;      /* default, as text; parsed like any other value */
    long long min, max;   /* bounds for OPT_INT */
    bool secret;          /* never printed */
    int (*check)(const char *value, char *why, size_t whylen); /* extra validation */
    const char *help;
};

static int check_listen(const char *v, char *why, size_t whylen)
{
    unsigned char tmp[16];
    if (inet_pton(AF_INET, v, tmp) == 1 || inet_pton(AF_INET6, v, tmp) == 1)
        return 0;
    snprintf(why, whylen, "\"%s\" is not an IPv4 or IPv6 address", v);
    return -1;
}

static int check_nonempty(const char *v, char *why, size_t whylen)
{
    if (*v)
        return 0;
    snprintf(why, whylen, "must not be empty");
    return -1;
}

static int check_database_url(const char *v, char *why, size_t whylen)
{
    if (*v == '\0' || strncmp(v, "sqlite:", 7) == 0)
        return 0;
    if (strncmp(v, "postgres://", 11) == 0 || strncmp(v, "postgresql://", 13) == 0) {
        snprintf(why, whylen, "the PostgreSQL backend is not part of this build yet; "
                              "leave it unset for SQLite or use sqlite:<path>");
        return -1;
    }
    /* Only the scheme: the rest of a URL can hold a password (the option is secret). */
    int scheme = (int)strcspn(v, ":/@");
    snprintf(why, whylen, "unsupported scheme \"%.*s\" (expected sqlite:<path>)",
             scheme > 32 ? 32 : scheme, v);
    return -1;
}

static int check_token(const char *v, char *why, size_t whylen)
{
    if (*v == '\0' || strlen(v) >= 16)
        return 0;
    snprintf(why, whylen, "must be at least 16 characters");
    return -1;
}

#define OFF(f) offsetof(struct config, f)

static const struct option options[] = {
    { "PORT", "--port", OPT_INT, OFF(port), "3000", 1, 65535, false, NULL,
      "TCP port for HTTP and WebSocket" },
    { "REACTOR_LISTEN", "--listen", OPT_STRING, OFF(listen), "0.0.0.0", 0, 0, false,
      check_listen, "address to listen on (IPv4 or IPv6 literal)" },
    { "REACTOR_THREADS", "--threads", OPT_INT, OFF(threads), "0", 0, 64, false, NULL,
      "I/O threads (0 = one per core)" },
    { "REACTOR_DATA_DIR", "--data-dir", OPT_STRING, OFF(data_dir), "./data", 0, 0, false,
      check_nonempty, "directory for the SQLite database and the operator token" },
    { "DATABASE_URL", "--database-url", OPT_STRING, OFF(database_url), "", 0, 0, true,
      check_database_url, "store location; unset = SQLite in the data directory" },
    { "REACTOR_OPERATOR_TOKEN", "--operator-token", OPT_STRING, OFF(operator_token), "", 0, 0,
      true, check_token, "token for operator routes; unset = generated once, kept in the data directory" },
    { "REACTOR_LOG_LEVEL", "--log-level", OPT_LOG_LEVEL, OFF(log_level), "info", 0, 0, false,
      NULL, "debug, info, warn or error" },
    { "REACTOR_MAX_HEADER_BYTES", "--max-header-bytes", OPT_INT, OFF(max_header_bytes), "16384",
      1024, 1048576, false, NULL, "request line and headers, bytes (431 beyond)" },
    { "REACTOR_MAX_HEADERS", "--max-headers", OPT_INT, OFF(max_headers), "100", 8, 1000, false,
      NULL, "headers per request (431 beyond)" },
    { "REACTOR_MAX_BODY_BYTES", "--max-body-bytes", OPT_INT, OFF(max_body_bytes), "1048576", 1024,
      67108864, false, NULL, "request body, bytes (413 beyond)" },
    { "REACTOR_MAX_JSON_DEPTH", "--max-json-depth", OPT_INT, OFF(max_json_depth), "32", 2, 512,
      false, NULL, "nesting depth of request JSON (400 beyond)" },
    { "REACTOR_MAX_JSON_ELEMENTS", "--max-json-elements", OPT_INT, OFF(max_json_elements),
      "100000", 16, 10000000, false, NULL, "values in one request JSON document (400 beyond)" },
    { "REACTOR_HEADER_TIMEOUT", "--header-timeout", OPT_INT, OFF(header_timeout), "10", 1, 3600,
      false, NULL, "seconds a client has to send a request's headers" },
    { "REACTOR_BODY_TIMEOUT", "--body-timeout", OPT_INT, OFF(body_timeout), "10", 1, 3600, false,
      NULL, "seconds a client has to send a request's body" },
    { "REACTOR_IDLE_TIMEOUT", "--idle-timeout", OPT_INT, OFF(idle_timeout), "60", 1, 86400, false,
      NULL, "seconds an idle keep-alive connection is kept" },
    { "REACTOR_MAX_CONNECTIONS", "--max-connections", OPT_INT, OFF(max_connections), "100000", 1,
      10000000, false, NULL, "open client connections, whole process (503 beyond)" },
    { "REACTOR_MAX_PIPELINED", "--max-pipelined", OPT_INT, OFF(max_pipelined), "64", 1, 4096,
      false, NULL, "requests in flight per connection before reading pauses" },
    { "REACTOR_SHUTDOWN_TIMEOUT", "--shutdown-timeout", OPT_INT, OFF(shutdown_timeout), "10", 0,
      3600, false, NULL, "seconds to finish in-flight requests on SIGTERM" },
    { "REACTOR_READY_INTERVAL_MS", "--ready-interval-ms", OPT_INT, OFF(ready_interval_ms), "1000",
      50, 60000, false, NULL, "how often the store is probed for /ready, milliseconds" },
    { "REACTOR_OPEN_SIGNUP", "--open-signup", OPT_BOOL, OFF(open_signup), "false", 0, 0, false,
      NULL, "let anyone create apps without the operator token (ForgeEngine's behaviour)" },
    { "DEFAULT_RATE_LIMIT_POINTS", "--rate-limit-points", OPT_INT, OFF(rate_limit_points),
      "600000", 1, 1000000000, false, NULL, "requests per window per API key (apps may override)" },
    { "DEFAULT_RATE_LIMIT_WINDOW_SECONDS", "--rate-limit-window", OPT_INT, OFF(rate_limit_window),
      "60", 1, 86400, false, NULL, "rate limit window, seconds" },
    { "SIGNATURE_TOLERANCE_SECONDS", "--signature-tolerance", OPT_INT, OFF(signature_tolerance),
      "300", 1, 86400, false, NULL,
      "seconds an event signature's timestamp may differ from the clock, either way" },
    { "REACTOR_ENGINE_QUEUE", "--engine-queue", OPT_INT, OFF(engine_queue), "100000", 1,
      10000000, false, NULL,
      "events and store operations waiting for the engine before requests get 503" },
    { "REACTOR_ENGINE_BATCH", "--engine-batch", OPT_INT, OFF(engine_batch), "4096", 1, 1000000,
      false, NULL, "events and store operations committed together at most (group commit)" },
    { "REACTOR_ENGINE_USER_CACHE", "--engine-user-cache", OPT_INT, OFF(engine_user_cache),
      "1000000", 1000, 1000000000, false, NULL,
      "users the engine remembers before it empties its table (memory bound)" },
    { "REACTOR_GAME_LOG_ROWS", "--game-log-rows", OPT_INT, OFF(game_log_rows), "100000", 1,
      100000000, false, NULL,
      "events, users' states and ledger rows logged before they are folded into their tables "
      "(a start after a crash applies those events again)" },
    { "REACTOR_GAME_LOG_SECONDS", "--game-log-seconds", OPT_INT, OFF(game_log_seconds), "60",
      1, 86400, false, NULL, "seconds the oldest logged row waits at most for a fold" },
    { "REACTOR_LEADERBOARD_RETENTION_SECONDS", "--leaderboard-retention", OPT_INT,
      OFF(leaderboard_retention), "172800", 1, 365 * 86400, false, NULL,
      "seconds a leaderboard other than all-time stays in memory unread" },
    { "REACTOR_LEADERBOARD_READ_MEMORY_MB", "--leaderboard-read-memory-mb", OPT_INT,
      OFF(leaderboard_read_memory_mb), "256", 1, 1048576, false, NULL,
      "MiB that leaderboards loaded back by reads may hold before the least read leave memory" },
    { "REACTOR_WAL_RESERVE_MB", "--wal-reserve-mb", OPT_INT, OFF(wal_reserve_mb), "48", 0,
      65536, false, NULL,
      "MiB the write-ahead log is given when the store opens, so that commits do not grow it "
      "(0: it grows as needed)" },
    { "REACTOR_ENGINE_BATCH_WAIT_US", "--engine-batch-wait-us", OPT_INT, OFF(engine_batch_wait_us),
      "0", 0, 1000000, false, NULL,
      "microseconds a batch that is not full waits for more work (0: take what is waiting)" },
    { "REACTOR_AUDIT_RETENTION_DAYS", "--audit-retention-days", OPT_INT,
      OFF(audit_retention_days), "365", 0, 100000, false, NULL,
      "days audit trail rows are kept (0 = forever); older ones are deleted hourly" },
    { "REACTOR_JOB_WORKERS", "--job-workers", OPT_INT, OFF(job_workers), "2", 1, 64, false,
      NULL, "threads delivering webhooks (each drives many requests at once)" },
    { "REACTOR_JOB_CONCURRENCY", "--job-concurrency", OPT_INT, OFF(job_concurrency), "16", 1,
      1024, false, NULL, "webhook requests in flight per job thread" },
    { "REACTOR_JOB_MAX_ATTEMPTS", "--job-max-attempts", OPT_INT, OFF(job_max_attempts), "10", 1,
      1000, false, NULL, "attempts of a job before it is dead" },
    { "REACTOR_JOB_BACKOFF_MS", "--job-backoff-ms", OPT_INT, OFF(job_backoff_ms), "2000", 1,
      3600000, false, NULL, "delay before a failed job's first retry (doubles, +-20% jitter)" },
    { "REACTOR_JOB_BACKOFF_MAX_MS", "--job-backoff-max-ms", OPT_INT, OFF(job_backoff_max_ms),
      "600000", 1, 86400000, false, NULL, "longest delay between retries" },
    { "REACTOR_JOB_TIMEOUT_MS", "--job-timeout-ms", OPT_INT, OFF(job_timeout_ms), "10000", 100,
      600000, false, NULL, "time one attempt (a webhook request) may take" },
    { "REACTOR_JOB_POLL_MS", "--job-poll-ms", OPT_INT, OFF(job_poll_ms), "250", 10, 60000,
      false, NULL, "how often the queue is checked for due jobs" },
    { "REACTOR_JOB_SHUTDOWN_MS", "--job-shutdown-ms", OPT_INT, OFF(job_shutdown_ms), "5000", 0,
      3600000, false, NULL,
      "on shutdown, time running jobs get to finish before they go back to the queue" },
    { "REACTOR_JOB_RETENTION_DAYS", "--job-retention-days", OPT_INT, OFF(job_retention_days),
      "7", 0, 3650, false, NULL,
      "days succeeded jobs and webhook delivery records are kept (0: until the next cleanup)" },
    { "REACTOR_WEBHOOK_DENY_PRIVATE", "--webhook-deny-private", OPT_BOOL,
      OFF(webhook_deny_private), "false", 0, 0, false, NULL,
      "refuse webhook addresses in loopback, private and link-local ranges" },
    { "REACTOR_SCHEDULER", "--scheduler", OPT_BOOL, OFF(scheduler), "true", 0, 0, false, NULL,
      "run the schedules on this node (the leader; false: serve only)" },
    { "REACTOR_SCHEDULER_TICK_MS", "--scheduler-tick-ms", OPT_INT, OFF(scheduler_tick_ms),
      "1000", 10, 60000, false, NULL, "how often the scheduler looks for due slots" },
    { "REACTOR_SCHEDULE_CATCHUP", "--schedule-catchup", OPT_INT, OFF(schedule_catchup), "3", 1,
      64, false, NULL, "missed slots a schedule runs after downtime, at most (newest first)" },
    { "REACTOR_SCHEDULE_JOB_CLEANUP", "--schedule-job-cleanup", OPT_STRING,
      OFF(schedule_job_cleanup), "@hourly", 0, 0, false, check_nonempty,
      "when old jobs and delivery records are deleted (cron, @every <n>s|m|h|d, or off)" },
    { "REACTOR_SCHEDULE_BOARD_EVICTION", "--schedule-board-eviction", OPT_STRING,
      OFF(schedule_board_eviction), "@every 1m", 0, 0, false, check_nonempty,
      "when idle period leaderboards are taken out of memory (cron, @every, or off)" },
    { "REACTOR_SCHEDULE_SEASON_END", "--schedule-season-end", OPT_STRING,
      OFF(schedule_season_end), "@every 1m", 0, 0, false, check_nonempty,
      "when ended seasons are looked for and closed (cron, @every, or off)" },
    { "REACTOR_EVENT_RETENTION_DAYS", "--event-retention-days", OPT_INT,
      OFF(event_retention_days), "0", 0, 36500, false, NULL,
      "days events (and their idempotency keys) are kept (0 = forever)" },
    { "REACTOR_SCHEDULE_EVENT_RETENTION", "--schedule-event-retention", OPT_STRING,
      OFF(schedule_event_retention), "@every 1m", 0, 0, false, check_nonempty,
      "when events older than the retention are deleted (cron, @every, or off)" },
    /* The real-time gateway (GET /ws). */
    { "REACTOR_WS_MAX_CONNECTIONS", "--ws-max-connections", OPT_INT, OFF(ws_max_connections),
      "100000", 1, 10000000, false, NULL, "WebSocket connections, whole process (503 beyond)" },
    { "REACTOR_WS_MAX_CONNECTIONS_PER_IP", "--ws-max-connections-per-ip", OPT_INT,
      OFF(ws_max_connections_per_ip), "1000", 1, 10000000, false, NULL,
      "WebSocket connections from one address (429 beyond)" },
    { "REACTOR_WS_MAX_SUBSCRIPTIONS", "--ws-max-subscriptions", OPT_INT, OFF(ws_max_subscriptions),
      "100", 1, 100000, false, NULL, "channels one connection may subscribe to (and rooms it may "
      "join)" },
    { "REACTOR_WS_MAX_MESSAGE_BYTES", "--ws-max-message-bytes", OPT_INT,
      OFF(ws_max_message_bytes), "65536", 128, 16777216, false, NULL,
      "bytes of one client message or frame (closed with 1009 beyond)" },
    { "REACTOR_WS_SEND_QUEUE_BYTES", "--ws-send-queue-bytes", OPT_INT, OFF(ws_send_queue_bytes),
      "262144", 1024, 1073741824, false, NULL,
      "bytes a connection may have waiting to be sent before it is closed as a slow consumer" },
    { "REACTOR_WS_PING_INTERVAL", "--ws-ping-interval", OPT_INT, OFF(ws_ping_interval), "25", 1,
      3600, false, NULL, "seconds between pings; a peer silent for two intervals is dropped" },
    { "REACTOR_WS_HISTORY_SIZE", "--ws-history-size", OPT_INT, OFF(ws_history_size), "100", 0,
      100000, false, NULL, "messages each channel keeps for recovery" },
    { "REACTOR_WS_HISTORY_TTL", "--ws-history-ttl", OPT_INT, OFF(ws_history_ttl), "300", 1,
      86400, false, NULL, "seconds a channel keeps a message for recovery" },
    { "REACTOR_WS_LEADERBOARD_INTERVAL_MS", "--ws-leaderboard-interval-ms", OPT_INT,
      OFF(ws_leaderboard_interval_ms), "250", 10, 60000, false, NULL,
      "a leaderboard channel gets at most one push per interval (milliseconds)" },
    { "REACTOR_PRESENCE_TTL", "--presence-ttl", OPT_INT, OFF(presence_ttl), "60", 1, 3600, false,
      NULL, "seconds an HTTP presence heartbeat lasts when it names no ttlSeconds" },
    { "REACTOR_SCHEDULE_SEASON_START", "--schedule-season-start", OPT_STRING,
      OFF(schedule_season_start), "@every 1m", 0, 0, false, check_nonempty,
      "when started seasons with resetXpOnStart reset XP (cron, @every, or off)" },
    { "REACTOR_SEASON_RESULTS_MAX", "--season-results-max", OPT_INT, OFF(season_results_max),
      "1000", 1, 1000000, false, NULL,
      "a closed season's results keep its board's top this many (and every prize winner)" },
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static void fail(char *err, size_t errlen, const struct option *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(char *err, size_t errlen, const struct option *o, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    int n = snprintf(err, errlen, "invalid %s (%s): ", o->env, o->flag);
    if (n < 0 || (size_t)n >= errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static int parse_int(const char *v, long long *out)
{
    if (*v == '\0')
        return -1;
    errno = 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (errno || *end != '\0' || end == v)
        return -1;
    *out = n;
    return 0;
}

static int set_value(struct config *cfg, const struct option *o, const char *v, char *err,
                     size_t errlen)
{
    char *field = (char *)cfg + o->offset;
    char why[256];
    switch (o->type) {
    case OPT_INT: {
        long long n;
        if (parse_int(v, &n) < 0) {
            fail(err, errlen, o, "\"%s\" is not an integer", v);
            return -1;
        }
        if (n < o->min || n > o->max) {
            fail(err, errlen, o, "%lld is outside [%lld, %lld]", n, o->min, o->max);
            return -1;
        }
        *(int *)(void *)field = (int)n;
        return 0;
    }
    case OPT_STRING: {
        if (o->check && o->check(v, why, sizeof(why)) < 0) {
            fail(err, errlen, o, "%s", why);
            return -1;
        }
        char **slot = (char **)(void *)field;
        free(*slot);
        *slot = xstrdup(v);
        return 0;
    }
    case OPT_BOOL: {
        bool *b = (bool *)(void *)field;
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")) {
            *b = true;
        } else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") ||
                   !strcmp(v, "off") || !strcmp(v, "")) {
            *b = false;
        } else {
            fail(err, errlen, o, "\"%s\" is not a boolean (true/false, 1/0, yes/no)", v);
            return -1;
        }
        return 0;
    }
    case OPT_LOG_LEVEL:
        if (log_level_parse(v, (enum log_level *)(void *)field) < 0) {
            fail(err, errlen, o, "\"%s\" is not one of debug, info, warn, error", v);
            return -1;
        }
        return 0;
    }
    return -1;
}

static const char *env_lookup(const char *const *envp, const char *name)
{
    if (!envp)
        return NULL;
    size_t n = strlen(name);
    for (; *envp; envp++) {
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    }
    return NULL;
}

void config_release(struct config *cfg)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (options[i].type == OPT_STRING) {
            char **slot = (char **)(void *)((char *)cfg + options[i].offset);
            free(*slot);
            *slot = NULL;
        }
    }
}

int config_load(struct config *cfg, const char *const *envp, int argc, char **argv, char *err,
                size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (set_value(cfg, &options[i], options[i].def, err, errlen) < 0)
            goto fail; /* a bad default is a bug, but report it like any other */
    }
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const char *v = env_lookup(envp, options[i].env);
        if (v && set_value(cfg, &options[i], v, err, errlen) < 0)
            goto fail;
    }
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        const struct option *o = NULL;
        const char *v = NULL;
        for (size_t i = 0; i < N_OPTIONS && !o; i++) {
            size_t n = strlen(options[i].flag);
            if (strncmp(arg, options[i].flag, n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
                o = &options[i];
                v = arg[n] == '=' ? arg + n + 1 : NULL;
            }
        }
        if (!o) {
            if (err && errlen)
                snprintf(err, errlen, "unknown option \"%s\" (see `reactor help`)", arg);
            goto fail;
        }
        if (!v && o->type == OPT_BOOL) {
            v = "true"; /* a bare boolean flag switches it on */
        } else if (!v) {
            if (a + 1 >= argc) {
                fail(err, errlen, o, "%s needs a value", o->flag);
                goto fail;
            }
            v = argv[++a];
        }
        if (set_value(cfg, o, v, err, errlen) < 0)
            goto fail;
    }
    if (cfg->threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->threads = n < 1 ? 1 : n > 64 ? 64 : (int)n;
    }
    return 0;
fail:
    config_release(cfg);
    return -1;
}

void config_help(struct buf *out)
{
    buf_puts(out, "Options (flags override environment variables):\n\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option *o = &options[i];
        buf_printf(out, "  %-20s %-26s %s\n", o->flag, o->env, o->help);
        buf_printf(out, "  %-20s %-26s default: %s", "", "",
                   *o->def ? o->def : "(unset)");
        if (o->type == OPT_INT)
            buf_printf(out, ", range %lld..%lld", o->min, o->max);
        buf_putc(out, '\n');
    }
}

void config_to_json(const struct config *cfg, struct buf *out)
{
    buf_putc(out, '{');
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option *o = &options[i];
        const char *field = (const char *)cfg + o->offset;
        if (i)
            buf_putc(out, ',');
        buf_append_json_string(out, o->env, strlen(o->env));
        buf_putc(out, ':');
        switch (o->type) {
        case OPT_INT: buf_append_i64(out, *(const int *)(const void *)field); break;
        case OPT_STRING: {
            const char *s = *(char *const *)(const void *)field;
            if (o->secret && s && *s)
                buf_puts(out, "\"(set)\"");
            else
                buf_append_json_string(out, s ? s : "", s ? strlen(s) : 0);
            break;
        }
        case OPT_BOOL: buf_puts(out, *(const bool *)(const void *)field ? "true" : "false"); break;
        case OPT_LOG_LEVEL: {
            const char *s = log_level_name(*(const enum log_level *)(const void *)field);
            buf_append_json_string(out, s, strlen(s));
            break;
        }
        }
    }
    buf_putc(out, '}');
}
