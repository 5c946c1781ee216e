/* Unit tests for src/realtime/proto.c: what a client's command means, which channel a name
 * is, who may subscribe to it, and the frames the server writes. */
#include "unit.h"

#include <string.h>

#include "core/buf.h"
#include "realtime/proto.h"

static int parse(const char *text, struct rt_cmd *c, char *err)
{
    return rt_cmd_parse(text, strlen(text), c, err, 200);
}

static void subscribe_with_and_without_since(void **state)
{
    (void)state;
    struct rt_cmd c;
    char err[200];
    assert_int_equal(parse("{\"id\":7,\"op\":\"subscribe\",\"channel\":\"user:a\"}", &c, err), 0);
    assert_true(c.has_id);
    assert_int_equal(c.id, 7);
    assert_int_equal(c.op, RT_OP_SUBSCRIBE);
    assert_string_equal(c.channel, "user:a");
    assert_false(c.has_since);
    rt_cmd_release(&c);
    assert_int_equal(parse("{\"id\":1,\"op\":\"subscribe\",\"channel\":\"app\","
                           "\"since\":{\"offset\":12,\"epoch\":\"ab\"}}", &c, err), 0);
    assert_true(c.has_since);
    assert_int_equal(c.since_offset, 12);
    assert_string_equal(c.since_epoch, "ab");
    rt_cmd_release(&c);
    /* since: null is no since. */
    assert_int_equal(parse("{\"id\":1,\"op\":\"subscribe\",\"channel\":\"app\",\"since\":null}",
                           &c, err), 0);
    assert_false(c.has_since);
    rt_cmd_release(&c);
}

static void join_refresh_ping(void **state)
{
    (void)state;
    struct rt_cmd c;
    char err[200];
    assert_int_equal(parse("{\"id\":2,\"op\":\"join\",\"room\":\"r-1\",\"info\":{\"n\":1}}", &c,
                           err), 0);
    assert_string_equal(c.room, "r-1");
    assert_string_equal(c.info, "{\"n\":1}");
    rt_cmd_release(&c);
    assert_int_equal(parse("{\"id\":3,\"op\":\"refresh\",\"token\":\"t.u.v\"}", &c, err), 0);
    assert_string_equal(c.token, "t.u.v");
    rt_cmd_release(&c);
    assert_int_equal(parse("{\"id\":0,\"op\":\"ping\"}", &c, err), 0);
    assert_int_equal(c.op, RT_OP_PING);
    rt_cmd_release(&c);
}

static void bad_commands_say_why_and_keep_the_id(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool has_id;
        const char *why;
    } cases[] = {
        { "{", false, "malformed command" },
        { "[1]", false, "a command is a JSON object" },
        { "{\"op\":\"ping\"}", false, "\"id\" must be" },
        { "{\"id\":-1,\"op\":\"ping\"}", false, "\"id\" must be" },
        { "{\"id\":4,\"op\":\"fly\"}", true, "\"op\" must be" },
        { "{\"id\":4,\"op\":\"subscribe\"}", true, "\"channel\" must be" },
        { "{\"id\":4,\"op\":\"subscribe\",\"channel\":\"\"}", true, "\"channel\" must be" },
        { "{\"id\":4,\"op\":\"subscribe\",\"channel\":\"a\",\"since\":{\"offset\":1}}", true,
          "\"since\" must be" },
        { "{\"id\":4,\"op\":\"subscribe\",\"channel\":\"a\",\"since\":{\"offset\":-1,"
          "\"epoch\":\"e\"}}", true, "\"since\" must be" },
        { "{\"id\":4,\"op\":\"join\",\"room\":\"a b\"}", true, "\"room\" must be" },
        { "{\"id\":4,\"op\":\"refresh\"}", true, "\"token\" must be" },
        { "{\"id\":4,\"op\":\"refresh\",\"token\":\"\"}", true, "\"token\" must be" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rt_cmd c;
        char err[200];
        assert_int_equal(parse(cases[i].text, &c, err), -1);
        assert_int_equal(c.has_id, cases[i].has_id);
        if (cases[i].has_id)
            assert_int_equal(c.id, 4);
        assert_non_null(strstr(err, cases[i].why));
        rt_cmd_release(&c);
    }
    /* info over 1 KiB. */
    struct buf big = BUF_INIT;
    buf_puts(&big, "{\"id\":1,\"op\":\"join\",\"room\":\"r\",\"info\":\"");
    for (int i = 0; i < 1100; i++)
        buf_putc(&big, 'x');
    buf_puts(&big, "\"}");
    struct rt_cmd c;
    char err[200];
    assert_int_equal(parse(big.data, &c, err), -1);
    assert_non_null(strstr(err, "\"info\""));
    rt_cmd_release(&c);
    buf_release(&big);
}

static void channel_names(void **state)
{
    (void)state;
    struct rt_channel c;
    char err[200];
    assert_int_equal(rt_channel_parse("user:a:b", &c, err, sizeof(err)), 0);
    assert_int_equal(c.kind, RT_CHAN_USER);
    assert_string_equal(c.arg, "a:b");
    assert_int_equal(rt_channel_parse("app", &c, err, sizeof(err)), 0);
    assert_int_equal(c.kind, RT_CHAN_APP);
    assert_int_equal(rt_channel_parse("presence:lobby", &c, err, sizeof(err)), 0);
    assert_int_equal(c.kind, RT_CHAN_PRESENCE);
    assert_string_equal(c.arg, "lobby");
    assert_int_equal(rt_channel_parse("leaderboard:Builder XP", &c, err, sizeof(err)), 0);
    assert_string_equal(c.metric, "Builder XP");
    assert_string_equal(c.period, "all");
    assert_int_equal(rt_channel_parse("leaderboard:xp:2026-W47", &c, err, sizeof(err)), 0);
    assert_string_equal(c.metric, "xp");
    assert_string_equal(c.period, "2026-W47");
    assert_int_equal(rt_channel_parse("leaderboard:currency:gold:season:s1", &c, err,
                                      sizeof(err)), 0);
    assert_string_equal(c.metric, "currency:gold");
    assert_string_equal(c.period, "season:s1");
    assert_int_equal(rt_channel_parse("leaderboard:currency:gold", &c, err, sizeof(err)), 0);
    assert_string_equal(c.metric, "currency:gold");
    assert_string_equal(c.period, "all");
    const char *bad[] = { "", "user:", "presence:", "presence:a b", "leaderboard:",
                          "leaderboard:xp:", "leaderboard:currency:", "apps", "user\n:x",
                          "nope:1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(rt_channel_parse(bad[i], &c, err, sizeof(err)), -1);
}

static bool may(const struct rt_principal *p, const char *name)
{
    struct rt_channel c;
    char err[200];
    assert_int_equal(rt_channel_parse(name, &c, err, sizeof(err)), 0);
    return rt_authorize(p, name, &c);
}

static void authorization_rules(void **state)
{
    (void)state;
    const char *granted[] = { "user:team-1", "app" };
    struct rt_principal user = { false, "alice", granted, 2 };
    assert_true(may(&user, "user:alice"));
    assert_false(may(&user, "user:alicex"));
    assert_false(may(&user, "user:bob"));
    assert_true(may(&user, "user:team-1"));       /* granted by name */
    assert_true(may(&user, "leaderboard:xp"));
    assert_true(may(&user, "presence:any"));
    assert_false(may(&user, "app"));              /* never for a token, granted or not */
    struct rt_principal key = { true, NULL, NULL, 0 };
    assert_true(may(&key, "app"));
    assert_true(may(&key, "user:bob"));
}

static void frames(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    struct rt_cmd c = { .has_id = true, .id = 9 };
    rt_reply_ok(&b, &c, "{\"x\":1}");
    assert_string_equal(b.data, "{\"id\":9,\"ok\":true,\"result\":{\"x\":1}}");
    buf_reset(&b);
    rt_reply_error(&b, NULL, 400, "bad \"x\"");
    assert_string_equal(b.data, "{\"id\":null,\"error\":{\"code\":400,\"message\":\"bad \\\"x\\\"\"}}");
    buf_reset(&b);
    rt_push_format(&b, "user:a", 3, "e1", "xp.awarded", "{\"amount\":5}", 1700000000000);
    assert_string_equal(b.data, "{\"channel\":\"user:a\",\"offset\":3,\"epoch\":\"e1\","
                                "\"type\":\"xp.awarded\",\"data\":{\"amount\":5},"
                                "\"ts\":1700000000000}");
    buf_release(&b);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(subscribe_with_and_without_since),
    cmocka_unit_test(join_refresh_ping),
    cmocka_unit_test(bad_commands_say_why_and_keep_the_id),
    cmocka_unit_test(channel_names),
    cmocka_unit_test(authorization_rules),
    cmocka_unit_test(frames),
};

UNIT_MAIN(tests)
