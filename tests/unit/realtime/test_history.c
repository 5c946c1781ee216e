/* Unit tests for src/realtime/history.c: recovery replays every missed message in order or
 * none at all, whatever the history lost to its size or age limit. */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "realtime/history.h"

static void add(struct rt_history *h, int64_t ts)
{
    char data[32];
    int n = snprintf(data, sizeof(data), "m%llu", (unsigned long long)(h->offset + 1));
    rt_history_append(h, rt_msg_new(h->offset + 1, ts, data, (size_t)n, "k", 1));
}

/* Recovers from `since` and checks the result: -1 for "not recovered", else the number of
 * messages, which must be since+1 .. offset in order. */
static long recover(struct rt_history *h, uint64_t since, const char *epoch, int64_t now)
{
    struct rt_msg **v;
    size_t n;
    if (!rt_history_recover(h, since, epoch, now, 300000, &v, &n)) {
        assert_null(v);
        assert_int_equal(n, 0);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i]->offset, since + 1 + i);
        char want[32];
        snprintf(want, sizeof(want), "m%llu", (unsigned long long)(since + 1 + i));
        assert_string_equal(v[i]->data, want);
        rt_msg_unref(v[i]);
    }
    free(v);
    return (long)n;
}

static void replays_what_was_missed(void **state)
{
    (void)state;
    struct rt_history h;
    rt_history_init(&h, "ep", 5);
    assert_int_equal(recover(&h, 0, "ep", 0), 0);      /* nothing yet, nothing missed */
    for (int i = 0; i < 3; i++)
        add(&h, 1000);
    assert_int_equal(h.offset, 3);
    assert_int_equal(recover(&h, 0, "ep", 1000), 3);
    assert_int_equal(recover(&h, 2, "ep", 1000), 1);
    assert_int_equal(recover(&h, 3, "ep", 1000), 0);
    rt_history_release(&h);
}

static void never_in_part(void **state)
{
    (void)state;
    struct rt_history h;
    rt_history_init(&h, "ep", 3);
    for (int i = 0; i < 7; i++)
        add(&h, 1000);                                /* keeps 5, 6, 7 */
    assert_int_equal(h.n, 3);
    assert_int_equal(recover(&h, 3, "ep", 1000), -1); /* 4 is gone */
    assert_int_equal(recover(&h, 4, "ep", 1000), 3);
    assert_int_equal(recover(&h, 0, "ep", 1000), -1);
    rt_history_release(&h);
}

static void wrong_epoch_or_future_offset_fail(void **state)
{
    (void)state;
    struct rt_history h;
    rt_history_init(&h, "ep", 3);
    add(&h, 1000);
    assert_int_equal(recover(&h, 0, "other", 1000), -1);
    assert_int_equal(recover(&h, 1, "other", 1000), -1);
    assert_int_equal(recover(&h, 2, "ep", 1000), -1);
    rt_history_release(&h);
}

static void old_messages_expire(void **state)
{
    (void)state;
    struct rt_history h;
    rt_history_init(&h, "ep", 10);
    add(&h, 1000);
    add(&h, 200000);
    add(&h, 300000);
    /* At 301001 with a TTL of 300000, message 1 (ts 1000) is gone. */
    assert_int_equal(recover(&h, 0, "ep", 301001), -1);
    assert_int_equal(recover(&h, 1, "ep", 301001), 2);
    rt_history_expire(&h, 700000, 300000);
    assert_int_equal(h.n, 0);
    assert_null(h.ring);
    assert_int_equal(recover(&h, 3, "ep", 700000), 0); /* up to date is still recovered */
    assert_int_equal(recover(&h, 2, "ep", 700000), -1);
    rt_history_release(&h);
}

static void no_history_kept(void **state)
{
    (void)state;
    struct rt_history h;
    rt_history_init(&h, "ep", 0);
    add(&h, 1);
    assert_int_equal(h.offset, 1);
    assert_int_equal(recover(&h, 0, "ep", 1), -1);
    assert_int_equal(recover(&h, 1, "ep", 1), 0);
    rt_history_release(&h);
}

/* Each message carries its whole WebSocket frame: FIN and text, the shortest length form
 * RFC 6455 allows (7 bits, 16 or 64), the text right after it, and the key intact. */
static void frame_is_built_once_with_the_message(void **state)
{
    (void)state;
    static const struct {
        size_t len, head;
    } cases[] = { { 0, 2 }, { 1, 2 }, { 125, 2 }, { 126, 4 }, { 65535, 4 }, { 65536, 10 },
                  { 70000, 10 } };
    char *text = malloc(70000);
    assert_non_null(text);
    for (size_t i = 0; i < 70000; i++)
        text[i] = (char)('a' + i % 26);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        size_t len = cases[c].len;
        struct rt_msg *m = rt_msg_new(7, 1000, text, len, "app\0chan", 8);
        const unsigned char *f = (const unsigned char *)m->frame;
        assert_int_equal(m->frame_len, cases[c].head + len);
        assert_int_equal(f[0], 0x81);
        uint64_t got;
        if (cases[c].head == 2) {
            got = f[1];
        } else if (cases[c].head == 4) {
            assert_int_equal(f[1], 126);
            got = (uint64_t)f[2] << 8 | f[3];
        } else {
            assert_int_equal(f[1], 127);
            got = 0;
            for (int k = 0; k < 8; k++)
                got = got << 8 | f[2 + k];
        }
        assert_int_equal(got, len);
        assert_ptr_equal(m->frame + cases[c].head, m->data);
        assert_memory_equal(m->data, text, len);
        assert_int_equal(m->data[len], '\0');
        assert_int_equal(m->key_len, 8);
        assert_memory_equal(m->key, "app\0chan", 8);
        rt_msg_unref(m);
    }
    free(text);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(frame_is_built_once_with_the_message),
    cmocka_unit_test(replays_what_was_missed),
    cmocka_unit_test(never_in_part),
    cmocka_unit_test(wrong_epoch_or_future_offset_fail),
    cmocka_unit_test(old_messages_expire),
    cmocka_unit_test(no_history_kept),
};

UNIT_MAIN(tests)
