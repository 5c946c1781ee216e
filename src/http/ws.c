/* WebSocket sessions: the handshake, wslay's frame API over the HTTP transport, and the
 * real-time protocol's commands (see ws.h). */
#include "http/ws.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "http/conn.h"
#include "realtime/proto.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define CLOSE_GRACE_MS 5000   /* a closing peer that does not read is dropped after this */

struct joined {
    struct joined *next;
    char room[];
};

struct ws_conn {
    struct rt_link link;          /* first: the hub's sweep hands it back */
    struct rt_hub *hub;
    struct http_conn *http;       /* set by start */
    wslay_frame_context_ptr fctx; /* frame parser and writer */
    unsigned thread;
    const char *in;               /* bytes being fed to wslay */
    size_t in_len;
    struct buf sendq;             /* framed bytes not handed to the transport yet */
    struct buf msg;               /* the data message being received (fragments joined) */
    struct buf ctl;               /* the control frame being received */
    uint64_t frame_left;          /* payload bytes of the current frame still to come */
    uint8_t frame_op;             /* opcode of the current frame */
    uint8_t msg_op;               /* opcode of the message being assembled; 0 = none */
    bool in_frame;
    size_t pending;               /* bytes the transport holds, not yet written */
    bool write_pending;
    bool started, closed;
    bool closing;                 /* our close frame is queued: nothing more is */
    int64_t closing_since;
    int64_t last_ping_ms;
    bool ping_outstanding;
    int64_t exp_s;                /* token expiry; 0 = none */
    char app_id[RT_TOKEN_APP_MAX + 1];
    char *user_id;                /* NULL for an API key */
    char **granted;               /* a token's extra channels */
    size_t n_granted;
    struct rt_sub *subs;
    unsigned n_subs;
    struct joined *rooms;
    unsigned n_rooms;
    char ip[64];
    char client_id[48];
};

/* ---- framing (wslay's frame API) ------------------------------------------------------------ */

static ssize_t recv_cb(uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    struct ws_conn *c = user;
    if (c->in_len == 0)
        return -1; /* wslay_frame_recv answers WSLAY_ERR_WANT_READ */
    size_t n = len < c->in_len ? len : c->in_len;
    memcpy(buf, c->in, n);
    c->in += n;
    c->in_len -= n;
    return (ssize_t)n;
}

/* Frames go to sendq whole; the send queue limit is checked before queueing a push. */
static ssize_t send_cb(const uint8_t *data, size_t len, int flags, void *user)
{
    (void)flags;
    struct ws_conn *c = user;
    buf_append(&c->sendq, data, len);
    return (ssize_t)len;
}

static void close_transport(struct ws_conn *c)
{
    if (c->closed)
        return;
    c->closed = true;
    c->http->linger = true; /* let the peer read our close frame before the socket goes */
    c->http->closed = true;
    c->http->t->close(c->http);
}

static void send_frame(struct ws_conn *c, uint8_t opcode, const void *data, size_t len)
{
    struct wslay_frame_iocb io = { .fin = 1, .opcode = opcode, .payload_length = len,
                                   .data = data, .data_length = len };
    ssize_t r = wslay_frame_send(c->fctx, &io);
    /* send_cb takes everything, so one call writes the whole frame. */
    if (r < 0 || (size_t)r != len)
        close_transport(c);
}

/* Hands sendq to the transport as far as it takes it; closes once our close frame is out. */
static void flush(struct ws_conn *c)
{
    while (c->started && !c->closed && !c->write_pending && c->sendq.len) {
        size_t n = c->sendq.len;
        int rc = c->http->t->write(c->http, &c->sendq);
        if (rc < 0) {
            close_transport(c);
            return;
        }
        if (rc == 1) {
            c->write_pending = true;
            c->pending = n;
        }
        buf_release(&c->sendq); /* idle connections hold no write buffer */
    }
    if (c->started && !c->closed && !c->write_pending && c->sendq.len == 0 && c->closing)
        close_transport(c);
}

static void queue_text(struct ws_conn *c, const char *data, size_t len)
{
    if (!c->closing)
        send_frame(c, WSLAY_TEXT_FRAME, data, len);
}

static void close_with(struct ws_conn *c, uint16_t code, const char *reason)
{
    if (c->closing || c->closed)
        return;
    unsigned char p[125];
    size_t n = strlen(reason);
    if (n > sizeof(p) - 2)
        n = sizeof(p) - 2;
    p[0] = (unsigned char)(code >> 8);
    p[1] = (unsigned char)(code & 0xff);
    memcpy(p + 2, reason, n);
    send_frame(c, WSLAY_CONNECTION_CLOSE, p, n + 2);
    c->closing = true;
    c->closing_since = clock_now_ms();
}

static size_t queued_bytes(struct ws_conn *c)
{
    return c->sendq.len + (c->write_pending ? c->pending : 0);
}

/* The peer does not read what it is sent: close with 4008; nothing more is queued. */
static void slow_consumer(struct ws_conn *c)
{
    rt_hub_count_slow(c->hub);
    log_info("websocket slow consumer", LOG_S("app", c->app_id), LOG_S("client", c->client_id),
             LOG_U("queued", queued_bytes(c)));
    close_with(c, WS_CLOSE_SLOW_CONSUMER, "slow consumer");
}

/* ---- commands ------------------------------------------------------------------------------- */

static void reply_error(struct ws_conn *c, const struct rt_cmd *cmd, int code, const char *msg)
{
    struct buf b = BUF_INIT;
    rt_reply_error(&b, cmd, code, msg);
    queue_text(c, b.data, b.len);
    buf_release(&b);
}

static void reply_ok(struct ws_conn *c, const struct rt_cmd *cmd, const char *result)
{
    struct buf b = BUF_INIT;
    rt_reply_ok(&b, cmd, result);
    queue_text(c, b.data, b.len);
    buf_release(&b);
}

static struct rt_sub **find_sub(struct ws_conn *c, const char *channel)
{
    for (struct rt_sub **p = &c->subs; *p; p = rt_sub_nextp(*p))
        if (strcmp(rt_sub_channel(*p), channel) == 0)
            return p;
    return NULL;
}

/* A push goes out as the message's own frame, the same bytes for every connection: written
 * from there when nothing waits before it, so most connections cost one write and no copy;
 * what the socket does not take is queued behind, as any frame. wslay never holds part of a
 * frame between calls (send_cb takes all), so raw frames and its own interleave safely.
 * False if the connection broke instead. */
static bool push_frame(struct ws_conn *c, const struct rt_msg *m)
{
    size_t done = 0;
    if (c->http->t->try_write && !c->write_pending && c->sendq.len == 0) {
        ssize_t n = c->http->t->try_write(c->http, m->frame, m->frame_len);
        if (n < 0) {
            close_transport(c);
            return false;
        }
        done = (size_t)n;
        if (done == m->frame_len)
            return true;
    }
    buf_append(&c->sendq, m->frame + done, m->frame_len - done);
    flush(c);
    return !c->closed;
}

static void cmd_subscribe(struct ws_conn *c, const struct rt_cmd *cmd)
{
    struct rt_channel ch;
    char err[160];
    if (rt_channel_parse(cmd->channel, &ch, err, sizeof(err)) < 0) {
        reply_error(c, cmd, 400, err);
        return;
    }
    struct rt_principal p = { c->user_id == NULL, c->user_id, (const char *const *)c->granted,
                              c->n_granted };
    if (!rt_authorize(&p, cmd->channel, &ch)) {
        reply_error(c, cmd, 403, "this token may not subscribe to this channel");
        return;
    }
    if (find_sub(c, cmd->channel)) {
        reply_error(c, cmd, 409, "already subscribed to this channel");
        return;
    }
    if (c->n_subs >= rt_hub_config(c->hub)->max_subscriptions) {
        snprintf(err, sizeof(err), "too many subscriptions on this connection (limit %u)",
                 rt_hub_config(c->hub)->max_subscriptions);
        reply_error(c, cmd, 429, err);
        return;
    }
    struct rt_sub_result res;
    struct rt_sub *s = rt_hub_subscribe(c->hub, c->thread, c, c->app_id, cmd->channel,
                                        cmd->since_epoch, cmd->since_offset, cmd->has_since,
                                        &res);
    *rt_sub_nextp(s) = c->subs;
    c->subs = s;
    c->n_subs++;
    struct buf r = BUF_INIT;
    buf_puts(&r, "{\"channel\":");
    buf_append_json_string(&r, cmd->channel, strlen(cmd->channel));
    buf_printf(&r, ",\"offset\":%llu,\"epoch\":\"%s\"", (unsigned long long)res.offset,
               res.epoch);
    if (cmd->has_since)
        buf_printf(&r, ",\"recovered\":%s", res.recovered ? "true" : "false");
    buf_putc(&r, '}');
    reply_ok(c, cmd, r.data);
    buf_release(&r);
    for (size_t i = 0; i < res.n_replay && !c->closing; i++)
        if (push_frame(c, res.replay[i]))
            rt_hub_count_pushed(c->hub, 1, res.replay[i]->len);
    rt_sub_result_release(&res);
}

static void cmd_unsubscribe(struct ws_conn *c, const struct rt_cmd *cmd)
{
    struct rt_sub **p = find_sub(c, cmd->channel);
    if (!p) {
        reply_error(c, cmd, 404, "not subscribed to this channel");
        return;
    }
    struct rt_sub *s = *p;
    *p = *rt_sub_nextp(s);
    c->n_subs--;
    rt_hub_unsubscribe(c->hub, c->thread, s);
    reply_ok(c, cmd, NULL);
}

static struct joined **find_room(struct ws_conn *c, const char *room)
{
    for (struct joined **p = &c->rooms; *p; p = &(*p)->next)
        if (strcmp((*p)->room, room) == 0)
            return p;
    return NULL;
}

static void cmd_join(struct ws_conn *c, const struct rt_cmd *cmd)
{
    if (!find_room(c, cmd->room)) {
        if (c->n_rooms >= rt_hub_config(c->hub)->max_subscriptions) {
            reply_error(c, cmd, 429, "too many rooms joined on this connection");
            return;
        }
        struct joined *j = xmalloc(sizeof(*j) + strlen(cmd->room) + 1);
        strcpy(j->room, cmd->room);
        j->next = c->rooms;
        c->rooms = j;
        c->n_rooms++;
    }
    rt_hub_presence_join(c->hub, c->app_id, cmd->room, c->client_id, c->user_id, cmd->info, 0,
                         clock_now_ms());
    struct buf r = BUF_INIT;
    buf_puts(&r, "{\"room\":");
    buf_append_json_string(&r, cmd->room, strlen(cmd->room));
    buf_puts(&r, ",\"clientId\":");
    buf_append_json_string(&r, c->client_id, strlen(c->client_id));
    buf_putc(&r, '}');
    reply_ok(c, cmd, r.data);
    buf_release(&r);
}

static void cmd_leave(struct ws_conn *c, const struct rt_cmd *cmd)
{
    struct joined **p = find_room(c, cmd->room);
    if (!p) {
        reply_error(c, cmd, 404, "not in this room");
        return;
    }
    struct joined *j = *p;
    *p = j->next;
    c->n_rooms--;
    rt_hub_presence_leave(c->hub, c->app_id, j->room, c->client_id, clock_now_ms());
    free(j);
    reply_ok(c, cmd, NULL);
}

static void set_grants(struct ws_conn *c, const struct rt_claims *claims)
{
    for (size_t i = 0; i < c->n_granted; i++)
        free(c->granted[i]);
    free(c->granted);
    c->granted = NULL;
    c->n_granted = claims ? claims->n_channels : 0;
    if (c->n_granted) {
        c->granted = xmalloc(c->n_granted * sizeof(*c->granted));
        for (size_t i = 0; i < c->n_granted; i++)
            c->granted[i] = xstrdup(claims->channels[i]);
    }
}

static void cmd_refresh(struct ws_conn *c, const struct rt_cmd *cmd)
{
    if (!c->user_id) {
        reply_error(c, cmd, 400, "this connection uses an API key: there is no token to refresh");
        return;
    }
    struct rt_claims claims;
    char err[128];
    unsigned char key[RT_TOKEN_KEY_LEN];
    size_t len = strlen(cmd->token);
    if (rt_token_parse(cmd->token, len, &claims, err, sizeof(err)) < 0) {
        reply_error(c, cmd, 401, err);
        return;
    }
    if (strcmp(claims.app, c->app_id) != 0 || strcmp(claims.sub, c->user_id) != 0) {
        reply_error(c, cmd, 403, "the new token is for another app or user");
        return;
    }
    if (rt_hub_token_key(c->hub, claims.app, key) < 0) {
        reply_error(c, cmd, 500, "cannot check tokens right now");
        return;
    }
    int rc = rt_token_verify(cmd->token, len, key, &claims, clock_now_ms() / 1000);
    if (rc != RT_TOKEN_OK) {
        reply_error(c, cmd, 401, rc == RT_TOKEN_EXPIRED ? "token expired" : "invalid token");
        return;
    }
    c->exp_s = claims.exp;
    set_grants(c, &claims);
    char r[64];
    snprintf(r, sizeof(r), "{\"expiresAt\":%lld}", (long long)claims.exp);
    reply_ok(c, cmd, r);
}

static void on_command(struct ws_conn *c, const char *data, size_t len)
{
    struct rt_cmd cmd;
    char err[200];
    if (rt_cmd_parse(data, len, &cmd, err, sizeof(err)) < 0) {
        reply_error(c, &cmd, 400, err);
        rt_cmd_release(&cmd);
        return;
    }
    switch (cmd.op) {
    case RT_OP_SUBSCRIBE: cmd_subscribe(c, &cmd); break;
    case RT_OP_UNSUBSCRIBE: cmd_unsubscribe(c, &cmd); break;
    case RT_OP_JOIN: cmd_join(c, &cmd); break;
    case RT_OP_LEAVE: cmd_leave(c, &cmd); break;
    case RT_OP_REFRESH: cmd_refresh(c, &cmd); break;
    case RT_OP_PING: {
        char r[48];
        snprintf(r, sizeof(r), "{\"ts\":%lld}", (long long)clock_now_ms());
        reply_ok(c, &cmd, r);
        break;
    }
    }
    rt_cmd_release(&cmd);
}

/* A frame's header has arrived: checks it (RFC 6455 section 5). 0, or -1 once closed. */
static int frame_begin(struct ws_conn *c, const struct wslay_frame_iocb *io)
{
    uint8_t op = io->opcode;
    bool control = op >= 8;
    if (!io->mask || io->rsv) {
        close_with(c, 1002, io->rsv ? "no extension was negotiated" : "client frames are masked");
        return -1;
    }
    if (control) {
        if (!io->fin || io->payload_length > 125 ||
            (op != WSLAY_CONNECTION_CLOSE && op != WSLAY_PING && op != WSLAY_PONG)) {
            close_with(c, 1002, "bad control frame");
            return -1;
        }
        buf_reset(&c->ctl);
    } else if (op == WSLAY_CONTINUATION_FRAME ? c->msg_op == 0
                                              : (c->msg_op != 0 ||
                                                 (op != WSLAY_TEXT_FRAME &&
                                                  op != WSLAY_BINARY_FRAME))) {
        close_with(c, 1002, "unexpected frame");
        return -1;
    } else if (op == WSLAY_BINARY_FRAME) {
        close_with(c, 1003, "only text frames carry commands");
        return -1;
    } else if (c->msg.len + io->payload_length > rt_hub_config(c->hub)->max_message_bytes) {
        close_with(c, 1009, "message too big");
        return -1;
    } else if (op != WSLAY_CONTINUATION_FRAME) {
        c->msg_op = op;
    }
    c->frame_op = op;
    c->frame_left = io->payload_length;
    c->in_frame = true;
    return 0;
}

/* A close code an endpoint may send (RFC 6455 7.4): not 1004-1006, 1015 or unassigned. */
static bool close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* A whole frame has arrived. */
static void frame_end(struct ws_conn *c, bool fin)
{
    c->in_frame = false;
    switch (c->frame_op) {
    case WSLAY_PING:
        if (!c->closing)
            send_frame(c, WSLAY_PONG, c->ctl.data, c->ctl.len);
        break;
    case WSLAY_PONG:
        break;
    case WSLAY_CONNECTION_CLOSE:
        if (!c->closing) {
            /* Echo the peer's code (RFC 6455 5.5.1), then close once it is written. */
            uint16_t code = c->ctl.len >= 2 ? (uint16_t)((unsigned char)c->ctl.data[0] << 8 |
                                                         (unsigned char)c->ctl.data[1])
                                            : 1000;
            if (c->ctl.len == 1 || !close_code_valid(code))
                close_with(c, 1002, "bad close code"); /* and never echo one */
            else
                close_with(c, code, "");
        }
        break;
    default:
        if (fin) {
            struct buf m = c->msg;
            buf_init(&c->msg);
            c->msg_op = 0;
            if (!c->closing)
                on_command(c, m.data, m.len);
            buf_release(&m);
        }
        break;
    }
    buf_release(&c->ctl);
}

/* ---- the session as the HTTP connection sees it --------------------------------------------- */

static void s_start(void *session, struct http_conn *http)
{
    struct ws_conn *c = session;
    c->http = http;
    c->started = true;
    c->last_ping_ms = clock_now_ms();
    snprintf(c->client_id, sizeof(c->client_id), "c%u.%llu", c->thread,
             (unsigned long long)http->id);
    rt_hub_attach(c->hub, c->thread, &c->link);
}

static void s_feed(void *session, const char *data, size_t len)
{
    struct ws_conn *c = session;
    if (c->closed)
        return;
    c->in = data;
    c->in_len = len;
    c->ping_outstanding = false; /* anything from the peer shows it is alive */
    while (!c->closed) {
        struct wslay_frame_iocb io;
        memset(&io, 0, sizeof(io));
        ssize_t r = wslay_frame_recv(c->fctx, &io);
        if (r == WSLAY_ERR_WANT_READ)
            break;
        if (r < 0) {
            close_with(c, 1002, "malformed frame");
            break;
        }
        if (!c->in_frame && frame_begin(c, &io) < 0)
            break;
        if (io.data_length) {
            buf_append(c->frame_op >= 8 ? &c->ctl : &c->msg, io.data, io.data_length);
            c->frame_left -= io.data_length;
        }
        if (c->frame_left == 0)
            frame_end(c, io.fin);
        size_t limit = rt_hub_config(c->hub)->send_queue_bytes;
        if (!c->closing && c->sendq.len > limit) {
            /* Replies past the limit go to the transport now; if it still holds an earlier
             * write, the peer sends commands without reading their answers. */
            flush(c);
            if (c->write_pending && c->sendq.len > limit)
                slow_consumer(c);
        }
        if (c->closing)
            break; /* nothing after our close frame is read */
    }
    c->in_len = 0;
    flush(c);
}

static void s_write_done(void *session)
{
    struct ws_conn *c = session;
    c->write_pending = false;
    c->pending = 0;
    flush(c);
}

static void s_eof(void *session)
{
    close_transport(session);
}

static void s_drain(void *session)
{
    struct ws_conn *c = session;
    close_with(c, 1001, "server shutting down");
    flush(c);
}

static void s_release(void *session)
{
    struct ws_conn *c = session;
    while (c->subs) {
        struct rt_sub *s = c->subs;
        c->subs = *rt_sub_nextp(s);
        rt_hub_unsubscribe(c->hub, c->thread, s);
    }
    int64_t now = clock_now_ms();
    while (c->rooms) {
        struct joined *j = c->rooms;
        c->rooms = j->next;
        rt_hub_presence_leave(c->hub, c->app_id, j->room, c->client_id, now);
        free(j);
    }
    if (c->started)
        rt_hub_detach(c->hub, c->thread, &c->link);
    rt_hub_leave(c->hub, c->ip);
    set_grants(c, NULL);
    wslay_frame_context_free(c->fctx);
    buf_release(&c->sendq);
    buf_release(&c->msg);
    buf_release(&c->ctl);
    free(c->user_id);
    free(c);
}

static const struct http_upgrade upgrade = {
    .start = s_start,
    .feed = s_feed,
    .write_done = s_write_done,
    .eof = s_eof,
    .drain = s_drain,
    .release = s_release,
};

bool ws_deliver(void *conn, struct rt_msg *m)
{
    struct ws_conn *c = conn;
    if (!c->started || c->closed || c->closing)
        return false;
    if (queued_bytes(c) + m->len > rt_hub_config(c->hub)->send_queue_bytes) {
        slow_consumer(c);
        flush(c);
        return false;
    }
    return push_frame(c, m);
}

/* What ws_deliver and push_frame read: the connection's flags and queue (stage 0; with the
 * timers that ws_sweep reads next to them), the HTTP connection it rides on (1), the
 * transport's state of its socket (2). */
void ws_prefetch(const void *conn, unsigned stage)
{
    const struct ws_conn *c = conn;
    if (stage == 0) {
        __builtin_prefetch(&c->http);
        __builtin_prefetch(&c->sendq);
        __builtin_prefetch(&c->closing);
    } else if (stage == 1) {
        __builtin_prefetch(&c->http->t);
        __builtin_prefetch(&c->http->transport_arg);
    } else if (c->http->t->prefetch) {
        c->http->t->prefetch(c->http);
    }
}

void ws_sweep(struct rt_link *link, int64_t now_ms)
{
    struct ws_conn *c = (struct ws_conn *)link;
    if (c->closed)
        return;
    if (c->closing) {
        if (now_ms - c->closing_since >= CLOSE_GRACE_MS)
            close_transport(c);
        return;
    }
    if (c->exp_s && c->exp_s <= now_ms / 1000) {
        close_with(c, WS_CLOSE_TOKEN_EXPIRED, "token expired");
        flush(c);
        return;
    }
    unsigned interval = rt_hub_config(c->hub)->ping_interval_ms;
    if (now_ms - c->last_ping_ms < (int64_t)interval)
        return;
    if (c->ping_outstanding) {
        c->http->linger = false;
        close_transport(c); /* no answer to the last ping: the peer is gone */
        return;
    }
    c->last_ping_ms = now_ms;
    c->ping_outstanding = true;
    send_frame(c, WSLAY_PING, NULL, 0);
    flush(c);
}

/* ---- the handshake -------------------------------------------------------------------------- */

static bool header_has_token(const char *v, const char *token)
{
    size_t n = strlen(token);
    while (v && *v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        size_t len = strcspn(v, ",");
        size_t t = len;
        while (t && (v[t - 1] == ' ' || v[t - 1] == '\t'))
            t--;
        if (t == n && strncasecmp(v, token, n) == 0)
            return true;
        v += len;
    }
    return false;
}

void ws_accept(struct http_request *req, struct rt_hub *hub, const char *app_id,
               const struct rt_claims *claims)
{
    const char *upg = http_request_header(req, "upgrade", NULL);
    const char *conn = http_request_header(req, "connection", NULL);
    size_t key_len = 0;
    const char *key = http_request_header(req, "sec-websocket-key", &key_len);
    const char *version = http_request_header(req, "sec-websocket-version", NULL);
    if (!upg || !header_has_token(upg, "websocket") || !conn ||
        !header_has_token(conn, "upgrade")) {
        http_response_header(req, "Upgrade", "websocket");
        http_respond_error(req, 426, "upgrade_required",
                           "GET /ws needs Upgrade: websocket and Connection: Upgrade");
        return;
    }
    if (!version || strcmp(version, "13") != 0) {
        http_response_header(req, "Sec-WebSocket-Version", "13");
        http_respond_error(req, 426, "upgrade_required", "Sec-WebSocket-Version must be 13");
        return;
    }
    if (!key || key_len != 24) {
        http_respond_error(req, 400, "bad_request",
                           "Sec-WebSocket-Key must be 16 bytes in base64");
        return;
    }
    struct ws_conn *c = xcalloc(1, sizeof(*c));
    if (http_conn_peer(req->conn, c->ip, sizeof(c->ip)) < 0)
        strcpy(c->ip, "unknown");
    int admit = rt_hub_admit(hub, c->ip);
    if (admit < 0) {
        free(c);
        if (admit == -1)
            http_respond_error(req, 503, "too_many_connections",
                               "Too many WebSocket connections; try again later");
        else
            http_respond_error(req, 429, "too_many_connections",
                               "Too many WebSocket connections from this address");
        return;
    }
    c->hub = hub;
    c->thread = req->thread;
    buf_init(&c->sendq);
    buf_init(&c->msg);
    buf_init(&c->ctl);
    snprintf(c->app_id, sizeof(c->app_id), "%s", app_id);
    if (claims) {
        c->user_id = xstrdup(claims->sub);
        c->exp_s = claims->exp;
        set_grants(c, claims);
    }
    static const struct wslay_frame_callbacks callbacks = { send_cb, recv_cb, NULL };
    if (wslay_frame_context_init(&c->fctx, &callbacks, c) != 0)
        mem_fail(0);

    unsigned char sha[SHA_DIGEST_LENGTH];
    char accept[40];
    struct buf k = BUF_INIT;
    buf_append(&k, key, key_len);
    buf_puts(&k, WS_GUID);
    SHA1((const unsigned char *)k.data, k.len, sha);
    buf_release(&k);
    EVP_EncodeBlock((unsigned char *)accept, sha, SHA_DIGEST_LENGTH);
    http_request_upgrade(req, &upgrade, c);
    http_response_header(req, "Upgrade", "websocket");
    http_response_header(req, "Connection", "Upgrade");
    http_response_header(req, "Sec-WebSocket-Accept", accept);
    http_respond(req, 101, NULL, NULL, 0);
}
