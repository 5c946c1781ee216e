/* The real-time protocol's pure parts: client commands (JSON text frames) parsed and checked,
 * channel names classified, the authorization rule, and the server's frames formatted.
 * docs/realtime.md describes the protocol for clients.
 *
 * Commands: {"id": n, "op": "subscribe"|"unsubscribe"|"join"|"leave"|"ping"|"refresh", ...}.
 * Replies: {"id": n, "ok": true, "result": {...}} or {"id": n, "error": {"code", "message"}},
 * where code is an HTTP-like number (400 bad command, 401 bad token, 403 not allowed,
 * 404 not subscribed, 429 a limit). Pushes: {"channel","offset","epoch","type","data","ts"}. */
#ifndef REACTOR_REALTIME_PROTO_H
#define REACTOR_REALTIME_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define RT_CHANNEL_MAX 300   /* bytes of a channel name */
#define RT_ROOM_MAX 128      /* bytes of a presence room */
#define RT_EPOCH_MAX 32      /* bytes of an epoch */
#define RT_INFO_MAX 1024     /* bytes of a join's info, serialised */

enum rt_op { RT_OP_SUBSCRIBE, RT_OP_UNSUBSCRIBE, RT_OP_JOIN, RT_OP_LEAVE, RT_OP_PING,
             RT_OP_REFRESH };

struct rt_cmd {
    bool has_id;
    int64_t id;
    enum rt_op op;
    char channel[RT_CHANNEL_MAX + 1];  /* subscribe, unsubscribe */
    char room[RT_ROOM_MAX + 1];        /* join, leave */
    bool has_since;
    uint64_t since_offset;
    char since_epoch[RT_EPOCH_MAX + 1];
    char *info;                        /* join: JSON text, owned; NULL when absent */
    char *token;                       /* refresh: owned */
};

/* Copies string member `name` of obj into out when it is 1..max bytes without NUL: 0, or -1
 * when it is missing or not such a string. */
#include <jansson.h>
int rt_json_string(const json_t *obj, const char *name, char *out, size_t max);

/* Parses one command. 0, or -1 with a message (the id, when one was readable, is in
 * out->has_id/id so the error can be answered to it). Release either way. */
int rt_cmd_parse(const char *data, size_t len, struct rt_cmd *out, char *err, size_t errlen);
void rt_cmd_release(struct rt_cmd *c);

enum rt_kind { RT_CHAN_USER, RT_CHAN_LEADERBOARD, RT_CHAN_PRESENCE, RT_CHAN_APP };

struct rt_channel {
    enum rt_kind kind;
    char arg[RT_CHANNEL_MAX + 1];      /* user id; room */
    char metric[RT_CHANNEL_MAX + 1];   /* leaderboard */
    char period[RT_CHANNEL_MAX + 1];   /* leaderboard: "all" when not named */
};

/* Classifies a channel name: "user:<id>", "leaderboard:<metric>[:<period>]" (a metric
 * "currency:<name>" keeps its colon), "presence:<room>", "app". 0, or -1 with a message. */
int rt_channel_parse(const char *name, struct rt_channel *out, char *err, size_t errlen);
/* A room name: 1..RT_ROOM_MAX of [A-Za-z0-9._:-]. */
bool rt_room_valid(const char *room);

/* Who holds a connection. */
struct rt_principal {
    bool api_key;                      /* an API key: every channel of its app */
    const char *user_id;               /* a token's user */
    const char *const *granted;        /* a token's extra channels */
    size_t n_granted;
};

/* True when p may subscribe to `name` (parsed as c): keys anything; a token its own user
 * channel, leaderboards, presence rooms, and channels it grants by name except "app". */
bool rt_authorize(const struct rt_principal *p, const char *name, const struct rt_channel *c);

/* Frames the server sends. `result` / `data` are JSON text (NULL: {} / null). */
void rt_reply_ok(struct buf *out, const struct rt_cmd *cmd, const char *result);
void rt_reply_error(struct buf *out, const struct rt_cmd *cmd, int code, const char *message);
void rt_push_format(struct buf *out, const char *channel, uint64_t offset, const char *epoch,
                    const char *type, const char *data, int64_t ts_ms);

#endif
