/* Unit tests for src/core/config.c: the option table, precedence default < env < flag, and
 * the error messages a user sees for bad values. */
#include "unit.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"

/* Every environment variable the table is documented to read. */
static const char *const env_names[] = {
    "PORT",
    "REACTOR_LISTEN",
    "REACTOR_THREADS",
    "REACTOR_DATA_DIR",
    "DATABASE_URL",
    "REACTOR_OPERATOR_TOKEN",
    "REACTOR_LOG_LEVEL",
    "REACTOR_MAX_HEADER_BYTES",
    "REACTOR_MAX_HEADERS",
    "REACTOR_MAX_BODY_BYTES",
    "REACTOR_MAX_JSON_DEPTH",
    "REACTOR_MAX_JSON_ELEMENTS",
    "REACTOR_HEADER_TIMEOUT",
    "REACTOR_BODY_TIMEOUT",
    "REACTOR_IDLE_TIMEOUT",
    "REACTOR_MAX_CONNECTIONS",
    "REACTOR_MAX_PIPELINED",
    "REACTOR_SHUTDOWN_TIMEOUT",
    "REACTOR_READY_INTERVAL_MS",
    "REACTOR_OPEN_SIGNUP",
    "DEFAULT_RATE_LIMIT_POINTS",
    "DEFAULT_RATE_LIMIT_WINDOW_SECONDS",
    "SIGNATURE_TOLERANCE_SECONDS",
    "REACTOR_ENGINE_QUEUE",
    "REACTOR_ENGINE_BATCH",
    "REACTOR_ENGINE_BATCH_WAIT_US",
    "REACTOR_WAL_RESERVE_MB",
    "REACTOR_ENGINE_USER_CACHE",
    "REACTOR_GAME_LOG_ROWS",
    "REACTOR_GAME_LOG_SECONDS",
    "REACTOR_LEADERBOARD_RETENTION_SECONDS",
    "REACTOR_LEADERBOARD_READ_MEMORY_MB",
    "REACTOR_AUDIT_RETENTION_DAYS",
    "REACTOR_JOB_WORKERS",
    "REACTOR_JOB_CONCURRENCY",
    "REACTOR_JOB_MAX_ATTEMPTS",
    "REACTOR_JOB_BACKOFF_MS",
    "REACTOR_JOB_BACKOFF_MAX_MS",
    "REACTOR_JOB_TIMEOUT_MS",
    "REACTOR_JOB_POLL_MS",
    "REACTOR_JOB_SHUTDOWN_MS",
    "REACTOR_JOB_RETENTION_DAYS",
    "REACTOR_WEBHOOK_DENY_PRIVATE",
    "REACTOR_SCHEDULER",
    "REACTOR_SCHEDULER_TICK_MS",
    "REACTOR_SCHEDULE_CATCHUP",
    "REACTOR_SCHEDULE_JOB_CLEANUP",
    "REACTOR_SCHEDULE_BOARD_EVICTION",
    "REACTOR_SCHEDULE_SEASON_END",
    "REACTOR_EVENT_RETENTION_DAYS",
    "REACTOR_SCHEDULE_EVENT_RETENTION",
    "REACTOR_WS_MAX_CONNECTIONS",
    "REACTOR_WS_MAX_CONNECTIONS_PER_IP",
    "REACTOR_WS_MAX_SUBSCRIPTIONS",
    "REACTOR_WS_MAX_MESSAGE_BYTES",
    "REACTOR_WS_SEND_QUEUE_BYTES",
    "REACTOR_WS_PING_INTERVAL",
    "REACTOR_WS_HISTORY_SIZE",
    "REACTOR_WS_HISTORY_TTL",
    "REACTOR_WS_LEADERBOARD_INTERVAL_MS",
    "REACTOR_PRESENCE_TTL",
    "REACTOR_SCHEDULE_SEASON_START",
    "REACTOR_SEASON_RESULTS_MAX",
};
#define N_ENV (sizeof(env_names) / sizeof(env_names[0]))

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Loads a config that must be refused and checks the message contains every `want`. */
static void expect_error(const char *const *envp, int argc, char **argv, const char *want1,
                         const char *want2)
{
    struct config cfg;
    char err[512] = "";
    int rc = config_load(&cfg, envp, argc, argv, err, sizeof(err));
    assert_int_equal(rc, -1);
    if (want1 && !strstr(err, want1))
        fail_msg("error \"%s\" does not mention \"%s\"", err, want1);
    if (want2 && !strstr(err, want2))
        fail_msg("error \"%s\" does not mention \"%s\"", err, want2);
    /* The config is released on failure: no string is left behind. */
    assert_null(cfg.listen);
    assert_null(cfg.data_dir);
    assert_null(cfg.database_url);
    assert_null(cfg.operator_token);
}

static void defaults(void **state)
{
    (void)state;
    struct config cfg;
    char err[256] = "";
    assert_int_equal(config_load(&cfg, NULL, 0, NULL, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(cfg.port, 3000);
    assert_string_equal(cfg.listen, "0.0.0.0");
    assert_string_equal(cfg.data_dir, "./data");
    assert_string_equal(cfg.database_url, "");
    assert_string_equal(cfg.operator_token, "");
    assert_int_equal(cfg.log_level, LOG_INFO);
    assert_int_equal(cfg.max_header_bytes, 16384);
    assert_int_equal(cfg.max_headers, 100);
    assert_int_equal(cfg.max_body_bytes, 1048576);
    assert_int_equal(cfg.max_json_depth, 32);
    assert_int_equal(cfg.max_json_elements, 100000);
    assert_int_equal(cfg.header_timeout, 10);
    assert_int_equal(cfg.body_timeout, 10);
    assert_int_equal(cfg.idle_timeout, 60);
    assert_int_equal(cfg.max_connections, 100000);
    assert_int_equal(cfg.max_pipelined, 64);
    assert_int_equal(cfg.shutdown_timeout, 10);
    assert_int_equal(cfg.ready_interval_ms, 1000);
    assert_false(cfg.open_signup);
    assert_int_equal(cfg.rate_limit_points, 600000);
    assert_int_equal(cfg.rate_limit_window, 60);
    assert_int_equal(cfg.signature_tolerance, 300);
    assert_int_equal(cfg.engine_queue, 100000);
    assert_int_equal(cfg.engine_batch, 4096);
    assert_int_equal(cfg.engine_batch_wait_us, 0);
    assert_int_equal(cfg.engine_user_cache, 1000000);
    config_release(&cfg);
    assert_null(cfg.listen);
}

static void env_overrides_default(void **state)
{
    (void)state;
    const char *envp[] = {"HOME=/root",
                          "PORT=8080",
                          "REACTOR_LOG_LEVEL=debug",
                          "REACTOR_DATA_DIR=/var/lib/reactor",
                          "REACTOR_LISTEN=::1",
                          NULL};
    struct config cfg;
    char err[256];
    assert_int_equal(config_load(&cfg, envp, 0, NULL, err, sizeof(err)), 0);
    assert_int_equal(cfg.port, 8080);
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    assert_string_equal(cfg.data_dir, "/var/lib/reactor");
    assert_string_equal(cfg.listen, "::1");
    assert_int_equal(cfg.max_headers, 100); /* untouched options keep their default */
    config_release(&cfg);
}

static void env_name_must_match_exactly(void **state)
{
    (void)state;
    const char *envp[] = {"PORTX=1", "XPORT=2", "PORT_=3", "PORT", NULL};
    struct config cfg;
    char err[256];
    assert_int_equal(config_load(&cfg, envp, 0, NULL, err, sizeof(err)), 0);
    assert_int_equal(cfg.port, 3000);
    config_release(&cfg);
}

static void flag_overrides_env(void **state)
{
    (void)state;
    const char *envp[] = {"PORT=8080", "REACTOR_THREADS=3", NULL};
    char *argv[] = {"--port", "9090"};
    struct config cfg;
    char err[256];
    assert_int_equal(config_load(&cfg, envp, ARGC(argv), argv, err, sizeof(err)), 0);
    assert_int_equal(cfg.port, 9090);
    assert_int_equal(cfg.threads, 3);
    config_release(&cfg);
}

static void flag_forms_equals_and_separate(void **state)
{
    (void)state;
    char *argv[] = {"--port=4000",      "--listen", "127.0.0.1",          "--log-level=warn",
                    "--max-body-bytes", "2048",     "--data-dir=/tmp/x=y"};
    struct config cfg;
    char err[256];
    assert_int_equal(config_load(&cfg, NULL, ARGC(argv), argv, err, sizeof(err)), 0);
    assert_int_equal(cfg.port, 4000);
    assert_string_equal(cfg.listen, "127.0.0.1");
    assert_int_equal(cfg.log_level, LOG_WARN);
    assert_int_equal(cfg.max_body_bytes, 2048);
    assert_string_equal(cfg.data_dir, "/tmp/x=y"); /* only the first '=' splits */
    config_release(&cfg);
}

static void later_flag_wins(void **state)
{
    (void)state;
    char *argv[] = {"--port=4000", "--port=4001", "--data-dir", "/a", "--data-dir", "/b"};
    struct config cfg;
    char err[256];
    assert_int_equal(config_load(&cfg, NULL, ARGC(argv), argv, err, sizeof(err)), 0);
    assert_int_equal(cfg.port, 4001);
    assert_string_equal(cfg.data_dir, "/b");
    config_release(&cfg);
}

static void bad_int_names_option(void **state)
{
    (void)state;
    const char *envp[] = {"REACTOR_THREADS=many", NULL};
    expect_error(envp, 0, NULL, "REACTOR_THREADS", "--threads");
    expect_error(envp, 0, NULL, "\"many\" is not an integer", NULL);

    char *argv[] = {"--threads=4x"};
    expect_error(NULL, ARGC(argv), argv, "invalid REACTOR_THREADS (--threads)", "\"4x\"");
    char *argv2[] = {"--port="};
    expect_error(NULL, ARGC(argv2), argv2, "PORT (--port)", "is not an integer");
    char *argv3[] = {"--port", "99999999999999999999999"};
    expect_error(NULL, ARGC(argv3), argv3, "PORT (--port)", "is not an integer");
}

static void bad_flag_value_wins_over_good_env(void **state)
{
    (void)state;
    const char *envp[] = {"PORT=8080", NULL};
    char *argv[] = {"--port", "abc"};
    expect_error(envp, ARGC(argv), argv, "--port", "\"abc\"");
}

static void out_of_range(void **state)
{
    (void)state;
    char *argv[] = {"--port", "70000"};
    expect_error(NULL, ARGC(argv), argv, "PORT (--port)", "70000 is outside [1, 65535]");
    char *argv2[] = {"--port=0"};
    expect_error(NULL, ARGC(argv2), argv2, "0 is outside [1, 65535]", NULL);
    char *argv3[] = {"--threads=65"};
    expect_error(NULL, ARGC(argv3), argv3, "REACTOR_THREADS", "outside [0, 64]");
    /* Checked before narrowing to int: 2^32 + 3000 must not wrap to 3000. */
    char *argv4[] = {"--port=4294970296"};
    expect_error(NULL, ARGC(argv4), argv4, "outside [1, 65535]", NULL);
    const char *envp[] = {"REACTOR_MAX_PIPELINED=-1", NULL};
    expect_error(envp, 0, NULL, "REACTOR_MAX_PIPELINED", "-1 is outside [1, 4096]");
}

static void boundaries_accepted(void **state)
{
    (void)state;
    char *argv[] = {"--port=65535", "--max-pipelined=1", "--shutdown-timeout=0"};
    struct config cfg;
    char err[256];
    assert_int_equal(config_load(&cfg, NULL, ARGC(argv), argv, err, sizeof(err)), 0);
    assert_int_equal(cfg.port, 65535);
    assert_int_equal(cfg.max_pipelined, 1);
    assert_int_equal(cfg.shutdown_timeout, 0);
    config_release(&cfg);
}

static void unknown_flag(void **state)
{
    (void)state;
    char *argv[] = {"--nope=1"};
    expect_error(NULL, ARGC(argv), argv, "unknown option \"--nope=1\"", NULL);
    /* A flag that merely starts like a known one is still unknown. */
    char *argv2[] = {"--portx", "1"};
    expect_error(NULL, ARGC(argv2), argv2, "unknown option \"--portx\"", NULL);
    char *argv3[] = {"9090"};
    expect_error(NULL, ARGC(argv3), argv3, "unknown option \"9090\"", NULL);
}

static void missing_value(void **state)
{
    (void)state;
    char *argv[] = {"--port=1", "--listen"};
    expect_error(NULL, ARGC(argv), argv, "REACTOR_LISTEN (--listen)", "needs a value");
}

static void bad_listen_address(void **state)
{
    (void)state;
    char *argv[] = {"--listen", "localhost"};
    expect_error(NULL, ARGC(argv), argv, "REACTOR_LISTEN",
                 "\"localhost\" is not an IPv4 or IPv6 address");
    const char *envp[] = {"REACTOR_LISTEN=1.2.3", NULL};
    expect_error(envp, 0, NULL, "REACTOR_LISTEN", "\"1.2.3\"");
}

static void bad_log_level(void **state)
{
    (void)state;
    const char *envp[] = {"REACTOR_LOG_LEVEL=verbose", NULL};
    expect_error(envp, 0, NULL, "REACTOR_LOG_LEVEL (--log-level)",
                 "\"verbose\" is not one of debug, info, warn, error");
}

static void database_url_postgres_refused(void **state)
{
    (void)state;
    const char *envp[] = {"DATABASE_URL=postgres://u:p@db/reactor", NULL};
    expect_error(envp, 0, NULL, "DATABASE_URL", "PostgreSQL backend is not part of this build");
    char *argv[] = {"--database-url=postgresql://db/reactor"};
    expect_error(NULL, ARGC(argv), argv, "--database-url", "PostgreSQL");
    char *argv2[] = {"--database-url=mysql://db"};
    expect_error(NULL, ARGC(argv2), argv2, "DATABASE_URL", "unsupported scheme");

    char *argv3[] = {"--database-url=sqlite:/tmp/r.db"};
    struct config cfg;
    char err[256];
    assert_int_equal(config_load(&cfg, NULL, ARGC(argv3), argv3, err, sizeof(err)), 0);
    assert_string_equal(cfg.database_url, "sqlite:/tmp/r.db");
    config_release(&cfg);
}

static void string_checks(void **state)
{
    (void)state;
    char *argv[] = {"--operator-token=short"};
    expect_error(NULL, ARGC(argv), argv, "REACTOR_OPERATOR_TOKEN", "at least 16 characters");
    char *argv2[] = {"--data-dir="};
    expect_error(NULL, ARGC(argv2), argv2, "REACTOR_DATA_DIR", "must not be empty");
}

static void booleans(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    /* A bare boolean flag switches it on and takes no value. */
    char *argv[] = {"--open-signup", "--port", "81"};
    assert_int_equal(config_load(&cfg, NULL, ARGC(argv), argv, err, sizeof(err)), 0);
    assert_true(cfg.open_signup);
    assert_int_equal(cfg.port, 81);
    config_release(&cfg);

    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off", ""};
    char env[64];
    const char *envp[] = {env, NULL};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        snprintf(env, sizeof(env), "REACTOR_OPEN_SIGNUP=%s", yes[i]);
        assert_int_equal(config_load(&cfg, envp, 0, NULL, err, sizeof(err)), 0);
        assert_true(cfg.open_signup);
        config_release(&cfg);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--open-signup=%s", no[i]);
        char *argv2[] = {flag};
        const char *on[] = {"REACTOR_OPEN_SIGNUP=true", NULL};
        assert_int_equal(config_load(&cfg, on, ARGC(argv2), argv2, err, sizeof(err)), 0);
        assert_false(cfg.open_signup); /* the flag overrides the environment */
        config_release(&cfg);
    }
    const char *bad[] = {"REACTOR_OPEN_SIGNUP=maybe", NULL};
    expect_error(bad, 0, NULL, "REACTOR_OPEN_SIGNUP (--open-signup)", "\"maybe\" is not a boolean");
}

static void threads_zero_resolves(void **state)
{
    (void)state;
    char *argv[] = {"--threads=0"};
    struct config cfg;
    char err[256];
    assert_int_equal(config_load(&cfg, NULL, ARGC(argv), argv, err, sizeof(err)), 0);
    assert_in_range(cfg.threads, 1, 64);
    config_release(&cfg);

    char *argv2[] = {"--threads=5"};
    assert_int_equal(config_load(&cfg, NULL, ARGC(argv2), argv2, err, sizeof(err)), 0);
    assert_int_equal(cfg.threads, 5);
    config_release(&cfg);
}

static void help_lists_every_option(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    config_help(&b);
    for (size_t i = 0; i < N_ENV; i++) {
        if (!strstr(b.data, env_names[i]))
            fail_msg("help does not mention %s", env_names[i]);
    }
    assert_non_null(strstr(b.data, "--max-pipelined"));
    assert_non_null(strstr(b.data, "default: 3000, range 1..65535"));

    /* ...and every option the table really has (config_to_json renders the whole table). */
    struct config cfg;
    char err[256];
    assert_int_equal(config_load(&cfg, NULL, 0, NULL, err, sizeof(err)), 0);
    struct buf j = BUF_INIT;
    config_to_json(&cfg, &j);
    json_t *obj = json_loads(j.data, 0, NULL);
    assert_non_null(obj);
    assert_int_equal(json_object_size(obj), N_ENV);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        (void)v;
        if (!strstr(b.data, key))
            fail_msg("help does not mention %s", key);
    }
    json_decref(obj);
    buf_release(&j);
    buf_release(&b);
    config_release(&cfg);
}

static void to_json_redacts_secrets(void **state)
{
    (void)state;
    const char *envp[] = {"REACTOR_OPERATOR_TOKEN=s3cr3t-t0ken-abcdefgh",
                          "DATABASE_URL=sqlite:/private/path.db", "PORT=8123", NULL};
    struct config cfg;
    char err[256];
    assert_int_equal(config_load(&cfg, envp, 0, NULL, err, sizeof(err)), 0);
    struct buf b = BUF_INIT;
    config_to_json(&cfg, &b);
    assert_null(strstr(b.data, "s3cr3t"));
    assert_null(strstr(b.data, "/private/path.db"));

    json_error_t jerr;
    json_t *obj = json_loads(b.data, 0, &jerr);
    if (!obj)
        fail_msg("config_to_json is not JSON: %s (%s)", b.data, jerr.text);
    assert_string_equal(json_string_value(json_object_get(obj, "REACTOR_OPERATOR_TOKEN")), "(set)");
    assert_string_equal(json_string_value(json_object_get(obj, "DATABASE_URL")), "(set)");
    assert_int_equal(json_integer_value(json_object_get(obj, "PORT")), 8123);
    assert_string_equal(json_string_value(json_object_get(obj, "REACTOR_LOG_LEVEL")), "info");
    assert_string_equal(json_string_value(json_object_get(obj, "REACTOR_LISTEN")), "0.0.0.0");
    assert_true(json_is_false(json_object_get(obj, "REACTOR_OPEN_SIGNUP")));
    json_decref(obj);
    buf_release(&b);
    config_release(&cfg);

    /* An unset secret shows as empty, not as "(set)". */
    assert_int_equal(config_load(&cfg, NULL, 0, NULL, err, sizeof(err)), 0);
    config_to_json(&cfg, &b);
    obj = json_loads(b.data, 0, NULL);
    assert_non_null(obj);
    assert_string_equal(json_string_value(json_object_get(obj, "REACTOR_OPERATOR_TOKEN")), "");
    json_decref(obj);
    buf_release(&b);
    config_release(&cfg);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(defaults),
    cmocka_unit_test(env_overrides_default),
    cmocka_unit_test(env_name_must_match_exactly),
    cmocka_unit_test(flag_overrides_env),
    cmocka_unit_test(flag_forms_equals_and_separate),
    cmocka_unit_test(later_flag_wins),
    cmocka_unit_test(bad_int_names_option),
    cmocka_unit_test(bad_flag_value_wins_over_good_env),
    cmocka_unit_test(out_of_range),
    cmocka_unit_test(boundaries_accepted),
    cmocka_unit_test(unknown_flag),
    cmocka_unit_test(missing_value),
    cmocka_unit_test(bad_listen_address),
    cmocka_unit_test(bad_log_level),
    cmocka_unit_test(database_url_postgres_refused),
    cmocka_unit_test(string_checks),
    cmocka_unit_test(booleans),
    cmocka_unit_test(threads_zero_resolves),
    cmocka_unit_test(help_lists_every_option),
    cmocka_unit_test(to_json_redacts_secrets),
};

UNIT_MAIN(tests)
