/* Commands, channel names, authorization and frames of the real-time protocol (proto.h). */
#include "realtime/proto.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/mem.h"

static const struct {
    const char *name;
    enum rt_op op;
} ops[] = {
    { "subscribe", RT_OP_SUBSCRIBE }, { "unsubscribe", RT_OP_UNSUBSCRIBE },
    { "join", RT_OP_JOIN },           { "leave", RT_OP_LEAVE },
    { "ping", RT_OP_PING },           { "refresh", RT_OP_REFRESH },
};

static int fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

int rt_json_string(const json_t *obj, const char *name, char *out, size_t max)
{
    const json_t *v = json_object_get(obj, name);
    if (!json_is_string(v))
        return -1;
    size_t n = json_string_length(v);
    if (n == 0 || n > max || memchr(json_string_value(v), '\0', n))
        return -1;
    memcpy(out, json_string_value(v), n + 1);
    return 0;
}

bool rt_room_valid(const char *room)
{
    size_t n = strlen(room);
    if (n == 0 || n > RT_ROOM_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = room[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

int rt_cmd_parse(const char *data, size_t len, struct rt_cmd *out, char *err, size_t errlen)
{
    static const struct json_limits lim = { 4, 256 };
    memset(out, 0, sizeof(*out));
    char jerr[160];
    json_t *j = json_parse_strict(data, len, &lim, jerr, sizeof(jerr));
    int ret = -1;
    if (!j) {
        snprintf(err, errlen, "malformed command: %s", jerr);
        return -1;
    }
    if (!json_is_object(j)) {
        fail(err, errlen, "a command is a JSON object");
        goto out;
    }
    const json_t *id = json_object_get(j, "id");
    if (json_is_integer(id) && json_integer_value(id) >= 0) {
        out->has_id = true;
        out->id = json_integer_value(id);
    } else {
        fail(err, errlen, "\"id\" must be a non-negative integer");
        goto out;
    }
    const json_t *op = json_object_get(j, "op");
    const char *ops_name = json_is_string(op) ? json_string_value(op) : NULL;
    size_t i = 0;
    for (; ops_name && i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(ops_name, ops[i].name) == 0)
            break;
    if (!ops_name || i == sizeof(ops) / sizeof(ops[0])) {
        fail(err, errlen, "\"op\" must be one of subscribe, unsubscribe, join, leave, ping, "
                          "refresh");
        goto out;
    }
    out->op = ops[i].op;
    switch (out->op) {
    case RT_OP_SUBSCRIBE:
    case RT_OP_UNSUBSCRIBE:
        if (rt_json_string(j, "channel", out->channel, RT_CHANNEL_MAX) < 0) {
            fail(err, errlen, "\"channel\" must be a string of 1 to 300 bytes");
            goto out;
        }
        if (out->op == RT_OP_UNSUBSCRIBE)
            break;
        const json_t *since = json_object_get(j, "since");
        if (since && !json_is_null(since)) {
            const json_t *o = json_object_get(since, "offset");
            if (!json_is_object(since) || !json_is_integer(o) || json_integer_value(o) < 0 ||
                rt_json_string(since, "epoch", out->since_epoch, RT_EPOCH_MAX) < 0) {
                fail(err, errlen, "\"since\" must be {\"offset\": integer >= 0, \"epoch\": "
                                  "string}");
                goto out;
            }
            out->has_since = true;
            out->since_offset = (uint64_t)json_integer_value(o);
        }
        break;
    case RT_OP_JOIN:
    case RT_OP_LEAVE:
        if (rt_json_string(j, "room", out->room, RT_ROOM_MAX) < 0 || !rt_room_valid(out->room)) {
            fail(err, errlen, "\"room\" must be 1 to 128 characters of [A-Za-z0-9._:-]");
            goto out;
        }
        const json_t *info = json_object_get(j, "info");
        if (out->op == RT_OP_JOIN && info && !json_is_null(info)) {
            if (json_dump_size(info) > RT_INFO_MAX) {
                fail(err, errlen, "\"info\" must be at most 1024 bytes of JSON");
                goto out;
            }
            out->info = json_dump_new(info);
        }
        break;
    case RT_OP_REFRESH: {
        const json_t *t = json_object_get(j, "token");
        if (!json_is_string(t) || json_string_length(t) == 0) {
            fail(err, errlen, "\"token\" must be a non-empty string");
            goto out;
        }
        out->token = xstrndup(json_string_value(t), json_string_length(t));
        break;
    }
    case RT_OP_PING:
        break;
    }
    ret = 0;
out:
    json_decref(j);
    return ret;
}

void rt_cmd_release(struct rt_cmd *c)
{
    free(c->info);
    free(c->token);
    c->info = c->token = NULL;
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

int rt_channel_parse(const char *name, struct rt_channel *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    size_t n = strlen(name);
    if (n == 0 || n > RT_CHANNEL_MAX || !printable(name))
        return fail(err, errlen, "a channel name is 1 to 300 printable bytes");
    if (strcmp(name, "app") == 0) {
        out->kind = RT_CHAN_APP;
        return 0;
    }
    if (strncmp(name, "user:", 5) == 0) {
        if (!name[5])
            return fail(err, errlen, "user channel needs a user id: user:<userId>");
        out->kind = RT_CHAN_USER;
        strcpy(out->arg, name + 5);
        return 0;
    }
    if (strncmp(name, "presence:", 9) == 0) {
        if (!rt_room_valid(name + 9))
            return fail(err, errlen, "presence channel needs a room of [A-Za-z0-9._:-]");
        out->kind = RT_CHAN_PRESENCE;
        strcpy(out->arg, name + 9);
        return 0;
    }
    if (strncmp(name, "leaderboard:", 12) == 0) {
        const char *m = name + 12;
        /* "currency:<name>" is one metric; the period follows the next colon. */
        const char *from = strncmp(m, "currency:", 9) == 0 ? m + 9 : m;
        const char *colon = strchr(from, ':');
        size_t mlen = colon ? (size_t)(colon - m) : strlen(m);
        if (mlen == 0 || (from != m && mlen == 9))
            return fail(err, errlen, "leaderboard channel: leaderboard:<metric>[:<period>]");
        out->kind = RT_CHAN_LEADERBOARD;
        memcpy(out->metric, m, mlen);
        out->metric[mlen] = '\0';
        if (colon && !colon[1])
            return fail(err, errlen, "leaderboard channel: empty period");
        strcpy(out->period, colon ? colon + 1 : "all");
        return 0;
    }
    return fail(err, errlen, "unknown channel: expected user:<id>, leaderboard:<metric>"
                             "[:<period>], presence:<room> or app");
}

bool rt_authorize(const struct rt_principal *p, const char *name, const struct rt_channel *c)
{
    if (p->api_key)
        return true;
    switch (c->kind) {
    case RT_CHAN_APP:
        return false;
    case RT_CHAN_LEADERBOARD:
    case RT_CHAN_PRESENCE:
        return true;
    case RT_CHAN_USER:
        if (p->user_id && strcmp(c->arg, p->user_id) == 0)
            return true;
        break;
    }
    for (size_t i = 0; i < p->n_granted; i++)
        if (strcmp(p->granted[i], name) == 0)
            return true;
    return false;
}

static void put_id(struct buf *out, const struct rt_cmd *cmd)
{
    buf_puts(out, "{\"id\":");
    if (cmd && cmd->has_id)
        buf_append_i64(out, cmd->id);
    else
        buf_puts(out, "null");
}

void rt_reply_ok(struct buf *out, const struct rt_cmd *cmd, const char *result)
{
    put_id(out, cmd);
    buf_puts(out, ",\"ok\":true,\"result\":");
    buf_puts(out, result ? result : "{}");
    buf_putc(out, '}');
}

void rt_reply_error(struct buf *out, const struct rt_cmd *cmd, int code, const char *message)
{
    put_id(out, cmd);
    buf_printf(out, ",\"error\":{\"code\":%d,\"message\":", code);
    buf_append_json_string(out, message, strlen(message));
    buf_puts(out, "}}");
}

void rt_push_format(struct buf *out, const char *channel, uint64_t offset, const char *epoch,
                    const char *type, const char *data, int64_t ts_ms)
{
    buf_puts(out, "{\"channel\":");
    buf_append_json_string(out, channel, strlen(channel));
    buf_puts(out, ",\"offset\":");
    buf_append_u64(out, offset);
    buf_puts(out, ",\"epoch\":");
    buf_append_json_string(out, epoch, strlen(epoch));
    buf_puts(out, ",\"type\":");
    buf_append_json_string(out, type, strlen(type));
    buf_puts(out, ",\"data\":");
    buf_puts(out, data ? data : "null");
    buf_puts(out, ",\"ts\":");
    buf_append_i64(out, ts_ms);
    buf_putc(out, '}');
}
