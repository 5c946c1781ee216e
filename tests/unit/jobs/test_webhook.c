/* Webhook subscriptions and the private address check (src/jobs/webhook.c). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "jobs/webhook.h"
#include "unit.h"

static bool private_addr(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(text, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &a->sin_addr), 1);
    }
    return webhook_addr_private((struct sockaddr *)&ss);
}

static void private_ranges(void **state)
{
    (void)state;
    static const char *const priv[] = {
        "127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255", "172.16.0.1",
        "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.255",
        "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1",
        "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3",
        "::ffff:169.254.169.254", "fec0::1",
    };
    static const char *const pub[] = {
        "8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "192.167.1.1", "100.63.255.255",
        "100.128.0.1", "169.253.1.1", "11.0.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8",
        "2606:4700::1111",
    };
    for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
        if (!private_addr(priv[i]))
            fail_msg("%s should be private", priv[i]);
    for (size_t i = 0; i < sizeof(pub) / sizeof(pub[0]); i++)
        if (private_addr(pub[i]))
            fail_msg("%s should be public", pub[i]);
}

static void subscriptions(void **state)
{
    (void)state;
    assert_int_equal(webhook_events_mask(NULL), WEBHOOK_EVENTS_DEFAULT);
    assert_int_equal(webhook_events_mask("[]"), 0);
    assert_int_equal(webhook_events_mask("[\"xp.awarded\",\"level.up\"]"),
                     WEBHOOK_XP | WEBHOOK_LEVEL_UP);
    assert_int_equal(webhook_events_mask("not json"), WEBHOOK_EVENTS_DEFAULT);
    assert_int_equal(webhook_event_bit("streak.updated"), WEBHOOK_STREAK);
    assert_int_equal(webhook_event_bit("level"), 0);
    json_t *d = webhook_events_json(NULL);
    json_t *want = unit_json("[\"level.up\",\"achievement.unlocked\",\"currency.changed\","
                             "\"streak.updated\"]");
    assert_true(json_equal(d, want));
    json_decref(d);
    json_decref(want);
    static const char *const ok[] = { "[]", "[\"level.up\"]",
                                      "[\"xp.awarded\",\"level.up\",\"streak.updated\"]" };
    static const char *const bad[] = { "[\"level.up\",\"level.up\"]", "[\"nope\"]", "[1]",
                                       "{}", "[\"level.up\",null]" };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        json_t *v = unit_json(ok[i]);
        assert_null(webhook_events_check(v));
        json_decref(v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *v = unit_json(bad[i]);
        assert_non_null(webhook_events_check(v));
        json_decref(v);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(private_ranges),
    cmocka_unit_test(subscriptions),
};

UNIT_MAIN(tests)
