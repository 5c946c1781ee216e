/* WebSocket sessions: the handshake, wslay's event API over the HTTP transport, and the
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
    wslay_event_context_ptr ctx;
    unsigned thread;
    const char *in;               /* bytes being fed to wslay */
    size_t in_len;
    struct buf out;               /* frames for the transport */
    size_t pending;               /* bytes the transport holds, not yet written */
    bool write_pending;
    bool started, closed, closing;/* closing: a close frame is queued; nothing more is */
    int64_t closing_since;
    int64_t last_ping_ms;
    bool ping_outstanding;
    char app_id[RT_TOKEN_APP_MAX + 1];
    char *user_id;                /* NULL for an API key */
    char **granted;               /* a token's extra channels */
    size_t n_granted;
    int64_t exp_s;                /* token expiry; 0 = none */
    struct rt_sub *subs;
    unsigned n_subs;
    struct joined *rooms;
    unsigned n_rooms;
    char ip[64];
    char client_id[48];
};

/* ---- wslay callbacks ------------------------------------------------------------------------ */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *user)
{
    (void)flags;
    struct ws_conn *c = user;
    if (c->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < c->in_len ? len : c->in_len;
    memcpy(buf, c->in, n);
    c->in += n;
    c->in_len -= n;
    return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    (void)flags;
    struct ws_conn *c = user;
    if (c->write_pending || c->closed) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    buf_append(&c->out, data, len);
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

/* Writes what wslay has queued, as far as the transport takes it; closes once the closing
 * handshake is done. */
static void flush(struct ws_conn *c)
{
    while (c->started && !c->closed && !c->write_pending) {
        if (wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx) != 0) {
            close_transport(c);
            return;
        }
        if (c->out.len == 0)
            break;
        size_t n = c->out.len;
        int rc = c->http->t->write(c->http, &c->out);
        if (rc < 0) {
            close_transport(c);
            return;
        }
        if (rc == 1) {
            c->write_pending = true;
            c->pending = n;
        }
        buf_release(&c->out); /* idle connections hold no write buffer */
    }
    if (c->started && !c->closed && !c->write_pending && c->out.len == 0 &&
        !wslay_event_want_write(c->ctx) && wslay_event_get_close_sent(c->ctx))
        close_transport(c);
}

static void queue_text(struct ws_conn *c, const char *data, size_t len)
{
    struct wslay_event_msg msg = { WSLAY_TEXT_FRAME, (const uint8_t *)data, len };
    wslay_event_queue_msg(c->ctx, &msg);
}

static void close_with(struct ws_conn *c, uint16_t code, const char *reason)
{
    if (c->closing || c->closed)
        return;
    c->closing = true;
    c->closing_since = clock_now_ms();
    wslay_event_queue_close(c->ctx, code, (const uint8_t *)reason, strlen(reason));
}

static size_t queued_bytes(struct ws_conn *c)
{
    return wslay_event_get_queued_msg_length(c->ctx) + c->out.len +
           (c->write_pending ? c->pending : 0);
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
    for (size_t i = 0; i < res.n_replay; i++) {
        queue_text(c, res.replay[i]->data, res.replay[i]->len);
        rt_hub_count_pushed(c->hub, res.replay[i]->len);
    }
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

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    (void)ctx;
    struct ws_conn *c = user;
    c->ping_outstanding = false; /* anything from the peer shows it is alive */
    if (c->closing || arg->opcode == WSLAY_PONG || arg->opcode == WSLAY_PING ||
        arg->opcode == WSLAY_CONNECTION_CLOSE)
        return;
    if (arg->opcode != WSLAY_TEXT_FRAME) {
        close_with(c, 1003, "only text frames carry commands");
        return;
    }
    struct rt_cmd cmd;
    char err[200];
    if (rt_cmd_parse((const char *)arg->msg, arg->msg_length, &cmd, err, sizeof(err)) < 0) {
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

static const struct wslay_event_callbacks callbacks = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .on_msg_recv_callback = on_msg,
};

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
    if (wslay_event_recv(c->ctx) != 0) {
        close_transport(c);
        return;
    }
    c->in_len = 0;
    if (wslay_event_get_close_received(c->ctx))
        c->closing = true;
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
    wslay_event_context_free(c->ctx);
    buf_release(&c->out);
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

void ws_deliver(void *conn, struct rt_msg *m)
{
    struct ws_conn *c = conn;
    if (!c->started || c->closed || c->closing)
        return;
    if (queued_bytes(c) + m->len > rt_hub_config(c->hub)->send_queue_bytes) {
        rt_hub_count_slow(c->hub);
        log_info("websocket slow consumer", LOG_S("app", c->app_id), LOG_S("client", c->client_id),
                 LOG_U("queued", queued_bytes(c)));
        close_with(c, WS_CLOSE_SLOW_CONSUMER, "slow consumer");
        flush(c);
        return;
    }
    queue_text(c, m->data, m->len);
    rt_hub_count_pushed(c->hub, m->len);
    flush(c);
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
    struct wslay_event_msg msg = { WSLAY_PING, NULL, 0 };
    wslay_event_queue_msg(c->ctx, &msg);
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
    c->link.prev = c->link.next = &c->link;
    buf_init(&c->out);
    snprintf(c->app_id, sizeof(c->app_id), "%s", app_id);
    if (claims) {
        c->user_id = xstrdup(claims->sub);
        c->exp_s = claims->exp;
        set_grants(c, claims);
    }
    wslay_event_context_server_init(&c->ctx, &callbacks, c);
    wslay_event_config_set_max_recv_msg_length(c->ctx, rt_hub_config(hub)->max_message_bytes);

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
