/* The real-time gateway's HTTP routes: GET /ws (the WebSocket upgrade, authenticated by a
 * client token or an API key), POST /tokens (client tokens), and presence for HTTP-only
 * clients (POST /presence/heartbeat, GET /presence/:room). See docs/realtime.md. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/json.h"
#include "engine/event.h"
#include "http/ws.h"
#include "realtime/hub.h"
#include "realtime/proto.h"
#include "realtime/token.h"

#define TOKEN_TTL_DEFAULT_S 3600
#define TOKEN_TTL_MAX_S (30 * 24 * 3600)
#define PRESENCE_TTL_MAX_S 3600

static const char *check_channels(const json_t *v)
{
    if (json_array_size(v) > RT_TOKEN_CHANNELS_MAX)
        return "at most 16 channels";
    size_t i;
    const json_t *ch;
    json_array_foreach(v, i, ch) {
        struct rt_channel parsed;
        char err[160];
        if (!json_is_string(ch) || json_string_length(ch) > RT_TOKEN_CHANNEL_MAX ||
            strlen(json_string_value(ch)) != json_string_length(ch) ||
            rt_channel_parse(json_string_value(ch), &parsed, err, sizeof(err)) < 0)
            return "each channel must be a valid channel name";
        if (parsed.kind == RT_CHAN_APP)
            return "the app channel is for API keys only";
    }
    return NULL;
}

static const struct api_field token_fields[] = {
    { "userId", API_STRING, API_REQUIRED, 1, EVENT_USER_ID_MAX, api_check_user_id },
    { "ttlSeconds", API_INTEGER, 0, 1, TOKEN_TTL_MAX_S, NULL },
    { "channels", API_ARRAY, 0, 0, 0, check_channels },
};

static void post_tokens(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ADMIN | API_ROLE_INGEST, &who) < 0)
        return;
    json_t *body = API_BODY(req, token_fields);
    if (!body)
        return;
    struct rt_claims claims;
    memset(&claims, 0, sizeof(claims));
    snprintf(claims.sub, sizeof(claims.sub), "%s",
             json_string_value(json_object_get(body, "userId")));
    snprintf(claims.app, sizeof(claims.app), "%s", who.app_id);
    const json_t *ttl = json_object_get(body, "ttlSeconds");
    claims.iat = clock_now_ms() / 1000;
    claims.exp = claims.iat + (json_is_integer(ttl) ? json_integer_value(ttl)
                                                    : TOKEN_TTL_DEFAULT_S);
    const json_t *chs = json_object_get(body, "channels");
    size_t i;
    const json_t *ch;
    json_array_foreach(chs, i, ch) {
        snprintf(claims.channels[i], sizeof(claims.channels[i]), "%s", json_string_value(ch));
        claims.n_channels++;
    }
    json_decref(body);
    unsigned char key[RT_TOKEN_KEY_LEN];
    struct buf tok = BUF_INIT;
    if (rt_hub_token_key(api->hub, claims.app, key) < 0 || rt_token_encode(&claims, key, &tok) < 0) {
        buf_release(&tok);
        http_respond_error(req, 500, "internal", "Cannot sign the token");
        return;
    }
    char iso[CLOCK_ISO_LEN];
    clock_iso(claims.exp * 1000, iso);
    http_respond_json(req, 201, json_pack("{s:s, s:s, s:s}", "token", tok.data, "expiresAt", iso,
                                          "userId", claims.sub));
    buf_release(&tok);
}

/* The client token of a /ws request: ?token= or Authorization: Bearer. 1 and the token in
 * out, 0 when there is none, -1 (answered 400) for a malformed query. */
static int find_token(struct http_request *req, struct buf *out)
{
    int rc = http_request_query(req, "token", out);
    if (rc < 0) {
        http_respond_error(req, 400, "bad_request", "Malformed query string");
        return -1;
    }
    if (rc == 1)
        return 1;
    size_t len;
    const char *auth = http_request_header(req, "authorization", &len);
    if (auth && len > 7 && strncasecmp(auth, "Bearer ", 7) == 0) {
        buf_append(out, auth + 7, len - 7);
        return 1;
    }
    return 0;
}

static void get_ws(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct buf tok = BUF_INIT;
    int found = find_token(req, &tok);
    if (found < 0)
        goto out;
    if (found == 0) {
        struct principal who;
        if (api_authenticate(api, req, API_ROLE_ANY, &who) == 0)
            ws_accept(req, api->hub, who.app_id, NULL);
        goto out;
    }
    struct rt_claims claims;
    char err[128];
    unsigned char key[RT_TOKEN_KEY_LEN];
    if (rt_token_parse(tok.data, tok.len, &claims, err, sizeof(err)) < 0) {
        http_respond_error(req, 401, "unauthorized", "Invalid client token");
        goto out;
    }
    if (rt_hub_token_key(api->hub, claims.app, key) < 0) {
        http_respond_error(req, 500, "internal", "Cannot check the token");
        goto out;
    }
    switch (rt_token_verify(tok.data, tok.len, key, &claims, clock_now_ms() / 1000)) {
    case RT_TOKEN_OK:
        break;
    case RT_TOKEN_EXPIRED:
        http_respond_error(req, 401, "token_expired", "Client token expired");
        goto out;
    default:
        http_respond_error(req, 401, "unauthorized", "Invalid client token");
        goto out;
    }
    ws_accept(req, api->hub, claims.app, &claims);
out:
    buf_release(&tok);
}

static const char *check_room(const json_t *v)
{
    return rt_room_valid(json_string_value(v)) ? NULL
                                               : "must be 1 to 128 characters of [A-Za-z0-9._:-]";
}

static const struct api_field heartbeat_fields[] = {
    { "userId", API_STRING, API_REQUIRED, 1, EVENT_USER_ID_MAX, api_check_user_id },
    { "room", API_STRING, API_REQUIRED, 1, RT_ROOM_MAX, check_room },
    { "ttlSeconds", API_INTEGER, 0, 1, PRESENCE_TTL_MAX_S, NULL },
    { "info", API_OBJECT, 0, 0, 0, NULL },
};

static void post_heartbeat(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ADMIN | API_ROLE_INGEST, &who) < 0)
        return;
    json_t *body = API_BODY(req, heartbeat_fields);
    if (!body)
        return;
    const json_t *info = json_object_get(body, "info");
    if (info && json_dump_size(info) > RT_INFO_MAX) {
        json_decref(body);
        http_respond_error_details(req, 400, "validation_failed", "Validation failed",
                                   json_pack("{s:s}", "info", "must be at most 1024 bytes"));
        return;
    }
    const char *user = json_string_value(json_object_get(body, "userId"));
    const char *room = json_string_value(json_object_get(body, "room"));
    const json_t *ttl = json_object_get(body, "ttlSeconds");
    int64_t ttl_s = json_is_integer(ttl) ? json_integer_value(ttl)
                                         : rt_hub_config(api->hub)->presence_ttl_default_s;
    struct buf client = BUF_INIT, info_text = BUF_INIT;
    buf_printf(&client, "http:%s", user);
    if (info)
        json_dump_buf(info, &info_text);
    int64_t now = clock_now_ms();
    rt_hub_presence_join(api->hub, who.app_id, room, client.data, user,
                         info ? info_text.data : NULL, ttl_s * 1000, now);
    char iso[CLOCK_ISO_LEN];
    clock_iso(now + ttl_s * 1000, iso);
    http_respond_json(req, 200, json_pack("{s:s, s:s, s:s, s:s}", "room", room, "userId", user,
                                          "clientId", client.data, "expiresAt", iso));
    buf_release(&client);
    buf_release(&info_text);
    json_decref(body);
}

static void get_presence(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ANY, &who) < 0)
        return;
    const char *room = http_request_param(req, "room");
    if (!room || !rt_room_valid(room)) {
        http_respond_error(req, 400, "bad_request",
                           "room must be 1 to 128 characters of [A-Za-z0-9._:-]");
        return;
    }
    struct buf out = BUF_INIT;
    buf_puts(&out, "{\"room\":");
    buf_append_json_string(&out, room, strlen(room));
    buf_puts(&out, ",\"members\":");
    rt_hub_presence_list(api->hub, who.app_id, room, &out, clock_now_ms());
    buf_putc(&out, '}');
    http_respond(req, 200, "application/json", out.data, out.len);
    buf_release(&out);
}

int api_realtime_register(struct router *r, struct api *api)
{
    if (router_add(r, HTTP_GET, "/ws", get_ws, api) < 0 ||
        router_add(r, HTTP_POST, "/tokens", post_tokens, api) < 0 ||
        router_add(r, HTTP_POST, "/presence/heartbeat", post_heartbeat, api) < 0 ||
        router_add(r, HTTP_GET, "/presence/:room", get_presence, api) < 0)
        return -1;
    return 0;
}
