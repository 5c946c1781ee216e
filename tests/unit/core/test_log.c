/* Unit tests for src/core/log.c: each line is one JSON object with time, level, msg and the
 * fields in order; level filtering; deferred flushing. Output goes to a pipe. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"

static int pipe_fds[2];

static int setup(void **state)
{
    (void)state;
    if (pipe(pipe_fds) < 0)
        return -1;
    fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    log_set_fd(pipe_fds[1]);
    log_set_level(LOG_INFO);
    log_defer_flush(false);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_defer_flush(false);
    log_thread_release();
    log_set_fd(2);
    log_set_level(LOG_INFO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return 0;
}

/* Everything written to the log so far, appended to out. */
static void drain(struct buf *out)
{
    char tmp[4096];
    for (;;) {
        ssize_t n = read(pipe_fds[0], tmp, sizeof(tmp));
        if (n > 0) {
            buf_append(out, tmp, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
}

static size_t count_lines(const struct buf *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->len; i++)
        n += b->data[i] == '\n';
    return n;
}

/* Parses the single line in b as a JSON object. */
static json_t *parse_line(const struct buf *b)
{
    assert_true(b->len > 0);
    assert_int_equal(count_lines(b), 1);
    assert_int_equal(b->data[b->len - 1], '\n');
    json_error_t jerr;
    json_t *j = json_loadb(b->data, b->len - 1, JSON_ALLOW_NUL, &jerr);
    if (!j)
        fail_msg("log line is not JSON: %s (%s)", b->data, jerr.text);
    assert_true(json_is_object(j));
    return j;
}

static void line_is_json_with_fields_in_order(void **state)
{
    (void)state;
    log_info("started", LOG_S("s", "text"), LOG_I("i", -42), LOG_U("u", UINT64_C(4000000000)),
             LOG_F("f", 1.5), LOG_B("b", 1), LOG_B("nb", 0), LOG_J("raw", "{\"x\":[1]}"),
             LOG_S("null", NULL), LOG_SN("sn", "abcdef", 3));
    struct buf out = BUF_INIT;
    drain(&out);
    json_t *j = parse_line(&out);

    static const char *const order[] = {"time", "level", "msg", "s",   "i",    "u",
                                        "f",    "b",     "nb",  "raw", "null", "sn"};
    size_t k = 0;
    for (void *it = json_object_iter(j); it; it = json_object_iter_next(j, it), k++) {
        assert_true(k < sizeof(order) / sizeof(order[0]));
        assert_string_equal(json_object_iter_key(it), order[k]);
    }
    assert_int_equal(k, sizeof(order) / sizeof(order[0]));

    assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "started");
    assert_string_equal(json_string_value(json_object_get(j, "s")), "text");
    assert_int_equal(json_integer_value(json_object_get(j, "i")), -42);
    assert_int_equal(json_integer_value(json_object_get(j, "u")), 4000000000);
    assert_true(json_real_value(json_object_get(j, "f")) == 1.5);
    assert_true(json_is_true(json_object_get(j, "b")));
    assert_true(json_is_false(json_object_get(j, "nb")));
    assert_int_equal(
        json_integer_value(json_array_get(json_object_get(json_object_get(j, "raw"), "x"), 0)), 1);
    assert_true(json_is_null(json_object_get(j, "null")));
    assert_string_equal(json_string_value(json_object_get(j, "sn")), "abc");
    json_decref(j);
    buf_release(&out);
}

static void time_is_rfc3339_utc_millis(void **state)
{
    (void)state;
    log_warn("tick");
    struct buf out = BUF_INIT;
    drain(&out);
    json_t *j = parse_line(&out);
    const char *t = json_string_value(json_object_get(j, "time"));
    assert_non_null(t);
    /* 2025-01-31T12:34:56.789Z */
    assert_int_equal(strlen(t), 24);
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; i < 24; i++) {
        if (shape[i] == 'd')
            assert_true(t[i] >= '0' && t[i] <= '9');
        else
            assert_int_equal(t[i], shape[i]);
    }
    assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
    json_decref(j);
    buf_release(&out);
}

static int evaluated;

static int64_t side_effect(void)
{
    evaluated++;
    return 7;
}

static void level_filtering(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    log_set_level(LOG_WARN);
    assert_false(log_enabled(LOG_INFO));
    assert_true(log_enabled(LOG_ERROR));
    log_debug("dropped", LOG_I("n", side_effect()));
    log_info("dropped", LOG_I("n", side_effect()));
    drain(&out);
    assert_int_equal(out.len, 0);
    /* The level is checked before the arguments are evaluated. */
    assert_int_equal(evaluated, 0);

    log_warn("kept", LOG_I("n", side_effect()));
    log_error("kept too");
    drain(&out);
    assert_int_equal(evaluated, 1);
    assert_int_equal(count_lines(&out), 2);
    assert_non_null(strstr(out.data, "\"level\":\"warn\",\"msg\":\"kept\",\"n\":7}\n"));
    assert_non_null(strstr(out.data, "\"level\":\"error\",\"msg\":\"kept too\"}\n"));

    buf_reset(&out);
    log_set_level(LOG_DEBUG);
    log_debug("now visible");
    drain(&out);
    assert_non_null(strstr(out.data, "\"level\":\"debug\""));
    buf_release(&out);
}

static void level_names_parse(void **state)
{
    (void)state;
    enum log_level l = LOG_ERROR;
    assert_int_equal(log_level_parse("debug", &l), 0);
    assert_int_equal(l, LOG_DEBUG);
    assert_int_equal(log_level_parse("warn", &l), 0);
    assert_int_equal(l, LOG_WARN);
    assert_int_equal(log_level_parse("verbose", &l), -1);
    assert_int_equal(log_level_parse("", &l), -1);
    assert_int_equal(l, LOG_WARN); /* untouched on failure */
    assert_string_equal(log_level_name(LOG_ERROR), "error");
    assert_string_equal(log_level_name(LOG_INFO), "info");
}

static void deferred_lines_wait_for_flush(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    log_defer_flush(true);
    log_info("one");
    log_info("two");
    drain(&out);
    assert_int_equal(out.len, 0);
    log_flush();
    drain(&out);
    assert_int_equal(count_lines(&out), 2);
    char *second = strchr(out.data, '\n') + 1;
    assert_non_null(strstr(out.data, "\"msg\":\"one\""));
    assert_non_null(strstr(second, "\"msg\":\"two\""));

    /* Turning deferral off flushes what is pending. */
    buf_reset(&out);
    log_info("three");
    drain(&out);
    assert_int_equal(out.len, 0);
    log_defer_flush(false);
    drain(&out);
    assert_int_equal(count_lines(&out), 1);
    buf_release(&out);
}

static void deferred_buffer_is_bounded(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    char pad[200];
    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    log_defer_flush(true);
    int i;
    for (i = 0; i < 200 && out.len == 0; i++) {
        log_info("busy", LOG_S("pad", pad), LOG_I("i", i));
        drain(&out);
    }
    /* Lines of about 280 bytes: 16 KiB is reached after about 60 of them. */
    assert_true(out.len > 0);
    assert_in_range(out.len, 16 * 1024, 17 * 1024);
    assert_int_equal(out.data[out.len - 1], '\n'); /* whole lines only */
    assert_int_equal(count_lines(&out), (size_t)i);
    buf_release(&out);
}

static void strings_are_escaped(void **state)
{
    (void)state;
    log_error("say \"hi\"\n\tnow\x01", LOG_S("k\"ey", "back\\slash"),
              LOG_S("bad", "a\xff"
                           "b"),
              LOG_SN("bin", "x\0y", 3));
    struct buf out = BUF_INIT;
    drain(&out);
    json_t *j = parse_line(&out);
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "say \"hi\"\n\tnow\x01");
    assert_string_equal(json_string_value(json_object_get(j, "k\"ey")), "back\\slash");
    assert_string_equal(json_string_value(json_object_get(j, "bad")), "a\xef\xbf\xbd"
                                                                      "b");
    assert_non_null(strstr(out.data, "\"bin\":\"x\\u0000y\""));
    json_decref(j);
    buf_release(&out);
}

static void non_finite_number_stays_valid_json(void **state)
{
    (void)state;
    log_info("ratio", LOG_F("nan", NAN), LOG_F("inf", INFINITY), LOG_F("ok", 0.25));
    struct buf out = BUF_INIT;
    drain(&out);
    json_t *j = parse_line(&out);
    assert_true(json_real_value(json_object_get(j, "ok")) == 0.25);
    assert_true(json_is_null(json_object_get(j, "nan")));
    assert_true(json_is_null(json_object_get(j, "inf")));
    json_decref(j);
    buf_release(&out);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(line_is_json_with_fields_in_order, setup, teardown),
    cmocka_unit_test_setup_teardown(time_is_rfc3339_utc_millis, setup, teardown),
    cmocka_unit_test_setup_teardown(level_filtering, setup, teardown),
    cmocka_unit_test_setup_teardown(level_names_parse, setup, teardown),
    cmocka_unit_test_setup_teardown(deferred_lines_wait_for_flush, setup, teardown),
    cmocka_unit_test_setup_teardown(deferred_buffer_is_bounded, setup, teardown),
    cmocka_unit_test_setup_teardown(strings_are_escaped, setup, teardown),
    cmocka_unit_test_setup_teardown(non_finite_number_stays_valid_json, setup, teardown),
};

UNIT_MAIN(tests)
