/* Fuzz target for the real-time protocol's command parser (src/realtime/proto.c), as a
 * WebSocket session runs it on every text frame: parse the command, then classify and
 * authorize its channel.
 *
 * Checked: a parsed command's strings are within their limits and NUL-terminated; a refusal
 * always says why; the reply written for either is one valid JSON object carrying the id;
 * a channel that parses is authorized for an API key, never "app" for a user token. */
#include <jansson.h>
#include <string.h>

#include "core/buf.h"
#include "realtime/proto.h"

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void check_reply_json(const struct buf *b, const struct rt_cmd *c)
{
    json_error_t e;
    json_t *j = json_loadb(b->data, b->len, 0, &e);
    CHECK(json_is_object(j));
    const json_t *id = json_object_get(j, "id");
    if (c->has_id)
        CHECK(json_is_integer(id) && json_integer_value(id) == c->id);
    else
        CHECK(json_is_null(id));
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rt_cmd c;
    char err[200];
    err[0] = '\0';
    int rc = rt_cmd_parse((const char *)data, size, &c, err, sizeof(err));
    struct buf b = BUF_INIT;
    if (rc < 0) {
        CHECK(err[0] != '\0');
        rt_reply_error(&b, &c, 400, err);
        check_reply_json(&b, &c);
        rt_cmd_release(&c);
        buf_release(&b);
        return 0;
    }
    CHECK(c.has_id && c.id >= 0);
    CHECK(strlen(c.channel) <= RT_CHANNEL_MAX && strlen(c.room) <= RT_ROOM_MAX);
    CHECK(strlen(c.since_epoch) <= RT_EPOCH_MAX);
    if (c.op == RT_OP_JOIN || c.op == RT_OP_LEAVE)
        CHECK(rt_room_valid(c.room));
    if (c.op == RT_OP_REFRESH)
        CHECK(c.token && c.token[0]);
    if (c.info)
        CHECK(strlen(c.info) <= RT_INFO_MAX);
    if (c.op == RT_OP_SUBSCRIBE || c.op == RT_OP_UNSUBSCRIBE) {
        struct rt_channel ch;
        if (rt_channel_parse(c.channel, &ch, err, sizeof(err)) == 0) {
            struct rt_principal key = { true, NULL, NULL, 0 };
            struct rt_principal user = { false, "u", NULL, 0 };
            CHECK(rt_authorize(&key, c.channel, &ch));
            if (ch.kind == RT_CHAN_APP)
                CHECK(!rt_authorize(&user, c.channel, &ch));
            if (ch.kind == RT_CHAN_LEADERBOARD)
                CHECK(ch.metric[0] && ch.period[0]);
            rt_push_format(&b, c.channel, 1, "e", "t", "null", 0);
            json_t *j = json_loadb(b.data, b.len, 0, NULL);
            CHECK(json_is_object(j));
            json_decref(j);
            buf_reset(&b);
        } else {
            CHECK(err[0] != '\0');
        }
    }
    rt_reply_ok(&b, &c, NULL);
    check_reply_json(&b, &c);
    rt_cmd_release(&c);
    buf_release(&b);
    return 0;
}
