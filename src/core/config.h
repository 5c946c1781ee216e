/* Configuration: one table of options (config.c), each with a name, type, default, bounds,
 * help text, environment variable and command-line flag.
 *
 * Precedence: built-in default < environment < flag. Every value, defaults included, goes
 * through the same parser and validation, so a bad value is reported the same way wherever it
 * came from: "invalid REACTOR_THREADS (--threads): ..." names the option.
 *
 * Ownership: strings in struct config are owned by it; config_release frees them.
 */
#ifndef REACTOR_CORE_CONFIG_H
#define REACTOR_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/log.h"

struct config {
    int port;                  /* TCP port for HTTP and WebSocket */
    char *listen;              /* IPv4 or IPv6 literal to bind */
    int threads;               /* I/O threads; 0 in the table means "one per core" */
    char *data_dir;            /* SQLite file, operator token */
    char *database_url;        /* "" = SQLite in data_dir */
    char *operator_token;      /* "" = generated on first start and kept in data_dir */
    enum log_level log_level;  /* minimum level written */
    int max_header_bytes;      /* request line + headers */
    int max_headers;           /* header count */
    int max_body_bytes;        /* request body */
    int max_json_depth;        /* nesting of request JSON */
    int max_json_elements;     /* values in one request JSON document */
    int header_timeout;        /* seconds to receive a request's headers */
    int body_timeout;          /* seconds to receive a request's body */
    int idle_timeout;          /* seconds a keep-alive connection may sit idle */
    int max_connections;       /* open client connections, whole process */
    int max_pipelined;         /* requests in flight per connection before reading pauses */
    int shutdown_timeout;      /* seconds to drain on SIGTERM before forcing */
    int ready_interval_ms;     /* how often the store is probed for /ready */
    bool open_signup;          /* POST /apps without the operator token */
    int rate_limit_points;     /* default requests per window, per API key */
    int rate_limit_window;     /* seconds */
    int signature_tolerance;   /* seconds an event signature's timestamp may be off */
    int engine_queue;          /* events and store operations waiting before 503 */
    int engine_batch;          /* events and store operations committed together at most */
    int engine_batch_wait_us;  /* a batch that is not full waits this long for more */
    int wal_reserve_mb;        /* the WAL's size given up front (0: none) */
    int engine_user_cache;     /* users the engine remembers at most */
    int game_log_rows;         /* fold the game logs past this many rows... */
    int game_log_seconds;      /* ...or once their oldest row is this old */
    int leaderboard_retention; /* seconds a period board stays in memory unused */
    int leaderboard_read_memory_mb; /* MiB for boards loaded back by reads */
    int audit_retention_days;  /* days audit rows are kept; 0 = forever */
    int job_workers;           /* webhook delivery threads */
    int job_concurrency;       /* requests in flight per job thread */
    int job_max_attempts;      /* before a job is dead */
    int job_backoff_ms;        /* first retry delay */
    int job_backoff_max_ms;    /* retry delay cap */
    int job_timeout_ms;        /* one attempt */
    int job_poll_ms;           /* queue check interval */
    int job_shutdown_ms;       /* running jobs' grace at shutdown */
    int job_retention_days;    /* succeeded jobs and delivery records */
    bool webhook_deny_private; /* refuse private address ranges */
    bool scheduler;            /* this node runs the schedules */
    int scheduler_tick_ms;     /* due-slot check interval */
    int schedule_catchup;      /* missed slots run at most, per schedule */
    char *schedule_job_cleanup;    /* schedules (jobs/cron.h syntax, or "off") */
    char *schedule_board_eviction;
    char *schedule_season_end;
    int event_retention_days;  /* 0 = forever */
    char *schedule_event_retention;
    int ws_max_connections;    /* WebSocket connections, whole process */
    int ws_max_connections_per_ip;
    int ws_max_subscriptions;  /* per connection */
    int ws_max_message_bytes;  /* a client's message */
    int ws_send_queue_bytes;   /* per connection, before "slow consumer" */
    int ws_ping_interval;      /* seconds */
    int ws_history_size;       /* messages per channel */
    int ws_history_ttl;        /* seconds */
    int ws_leaderboard_interval_ms;
    int presence_ttl;          /* seconds, default of an HTTP heartbeat */
    char *schedule_season_start;
    int season_results_max;    /* rows of a closed season's results (plus prize winners) */
};

/* Fills `cfg` from the defaults, then `envp` ("NAME=value" strings, NULL-terminated; may be
 * NULL), then the flags in argv[0..argc) ("--flag value" or "--flag=value").
 * Returns 0, or -1 with a message naming the bad option in `err`; cfg is then released. */
int config_load(struct config *cfg, const char *const *envp, int argc, char **argv, char *err,
                size_t errlen);
void config_release(struct config *cfg);

/* The option table as human-readable text, for `reactor help`. */
void config_help(struct buf *out);
/* The effective configuration as a JSON object (secrets redacted). */
void config_to_json(const struct config *cfg, struct buf *out);

#endif
