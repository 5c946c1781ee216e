/* Unit tests for src/realtime/hub.c without a server: an event's effects reach its user's
 * channel while the channel exists (one message an effect, kept in its history), and nothing
 * is published while the hub has no channel, before the first subscription or after the last
 * channel expired. */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "realtime/hub.h"
#include "store/store.h"

static uint64_t published(struct rt_hub *h)
{
    struct buf out = BUF_INIT;
    rt_hub_collect_metrics(&out, h);
    const char *name = "\nreactor_ws_messages_published_total ";
    const char *at = strstr(out.data, name);
    assert_non_null(at);
    uint64_t n = strtoull(at + strlen(name), NULL, 10);
    buf_release(&out);
    return n;
}

static void publish(struct rt_hub *h, const char *user)
{
    struct store_event ev = {
        .app_id = "app",
        .idempotency_key = "k1",
        .user_id = (char *)user,
        .event_type = "done",
        .status = STORE_EVENT_PROCESSED,
        .effects = "[{\"type\":\"xp.awarded\",\"track\":\"XP\",\"amount\":5,\"totalXp\":5},"
                   "{\"type\":\"streak.updated\",\"key\":\"daily\",\"current\":1}]",
    };
    rt_hub_publish_event(h, "app", &ev);
}

/* A subscription to user:<user>'s channel on thread 0, recovering from offset 0 of `epoch`
 * (NULL: none): the messages it recovered. */
static size_t subscribe(struct rt_hub *h, void *conn, const char *user, const char *epoch,
                        struct rt_sub **sub, char *epoch_out)
{
    char channel[64];
    snprintf(channel, sizeof(channel), "user:%s", user);
    struct rt_sub_result res;
    *sub = rt_hub_subscribe(h, 0, conn, "app", channel, epoch, 0, epoch != NULL, &res);
    assert_non_null(*sub);
    size_t n = res.n_replay;
    if (epoch_out)
        strcpy(epoch_out, res.epoch);
    rt_sub_result_release(&res);
    return n;
}

static void events_reach_channels_only_while_they_exist(void **state)
{
    (void)state;
    /* History kept a minute: the second subscription below recovers it however slowly the
     * test runs (a millisecond was too short under the sanitizers); the tick expires it. */
    struct rt_hub_config cfg = { .threads = 1, .history_size = 16, .history_ttl_ms = 60000,
                                 .max_connections = 10, .max_connections_per_ip = 10,
                                 .max_subscriptions = 10, .max_message_bytes = 4096,
                                 .send_queue_bytes = 65536, .ping_interval_ms = 1000,
                                 .board_top = 10, .presence_ttl_default_s = 60 };
    struct rt_hub *h = rt_hub_new(&cfg, "secret-secret-secret-secret-1234", 32, NULL);
    int conn;
    publish(h, "u1"); /* no channel at all */
    assert_int_equal(published(h), 0);
    struct rt_sub *sub;
    char epoch[RT_EPOCH_MAX + 1];
    assert_int_equal(subscribe(h, &conn, "u1", NULL, &sub, epoch), 0);
    publish(h, "u2"); /* a channel, but not this user's */
    assert_int_equal(published(h), 0);
    publish(h, "u1");
    assert_int_equal(published(h), 2); /* one message an effect */
    /* Kept in the channel's history: a second subscription recovers both. */
    struct rt_sub *again;
    assert_int_equal(subscribe(h, &conn, "u1", epoch, &again, NULL), 2);
    rt_hub_unsubscribe(h, 0, again);
    rt_hub_unsubscribe(h, 0, sub);
    /* The channel expires once idle past the history's age: the hub has none again. */
    rt_hub_tick(h, clock_now_ms() + 120000);
    publish(h, "u1");
    assert_int_equal(published(h), 2);
    /* A new subscription makes the channel again: events reach it. */
    assert_int_equal(subscribe(h, &conn, "u1", NULL, &sub, NULL), 0);
    publish(h, "u1");
    assert_int_equal(published(h), 4);
    rt_hub_unsubscribe(h, 0, sub);
    rt_hub_free(h);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(events_reach_channels_only_while_they_exist),
};

UNIT_MAIN(tests)
