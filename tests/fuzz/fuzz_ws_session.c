/* Fuzz target for a WebSocket session without sockets: the upgrade through the HTTP
 * connection, wslay's frame parser, message reassembly, the masking/RSV/control-frame checks,
 * close handling, back-pressure, keepalive, and the real-time commands (src/http/ws.c,
 * realtime/proto.c) with the hub (realtime/hub.c: subscriptions, history and recovery,
 * presence, ticks).
 *
 * A connection (struct http_conn over a memory transport) receives a fixed, valid upgrade
 * request for GET /ws, whose handler calls ws_accept with an API key's rights; then the fuzz
 * input is what the client sends.
 *
 * Input: byte 0 is the length L of a control script, bytes 1..L are the script, the rest is
 * what the client sends. A script that starts with 0xfd makes the connection a client token's
 * (user "u1", granted "leaderboard:xp") instead of an API key's. Each script byte is one event:
 *   0x00         feed everything not sent yet (also what an exhausted script means)
 *   0x01..0x7f   feed that many bytes
 *   0x80 | k     by k & 15: 0 complete a pending write, 1 writes complete later, 2 writes
 *                complete at once, 3 the next write fails, 4 EOF, 5 drain,
 *                6..8 publish (k >> 4 & 7) * 300 bytes on "app", "leaderboard:xp",
 *                "presence:lobby" and deliver it to the session as the hub would,
 *                9 the keepalive sweep (k >> 4 & 7) seconds later than the last one,
 *                10 a hub tick after a change to the xp board,
 *                11..15 feed (k >> 4 & 7) * 64 + 64 bytes
 * The hub has no server here (it would post to I/O threads); the target calls the hub's
 * callbacks (ws_deliver, ws_sweep) itself, as the I/O thread would.
 *
 * Checked: the first write is the 101 answer with the right Sec-WebSocket-Accept; every later
 * write is whole, well-formed server frames (FIN, no RSV, known opcode, never masked, minimal
 * length, control payloads <= 125 bytes, text frames are JSON objects, close frames carry a
 * code that may be sent) and nothing follows a close frame; once the close frame is written the transport is
 * closed; a write is never more than the send queue limit plus what one event may add; the
 * transport is never used after close; after release the hub holds no connection,
 * subscription or presence member; nothing leaks (LeakSanitizer). */
#include <fcntl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "engine/boards.h"
#include "http/conn.h"
#include "http/http.h"
#include "http/router.h"
#include "http/stats.h"
#include "http/ws.h"
#include "realtime/hub.h"
#include "realtime/proto.h"
#include "realtime/token.h"

#include "fuzz.h"

#define APP "app"
#define SEND_QUEUE_BYTES 2048
#define HISTORY_SIZE 8
#define PUSH_MAX 2400 /* a push of the largest publish() */
#define WRITE_MAX (SEND_QUEUE_BYTES + (HISTORY_SIZE + 1) * PUSH_MAX + 1024)
#define SECRET "fuzz-secret-fuzz-secret-fuzz-sec"

static const char upgrade_request[] = "GET /ws HTTP/1.1\r\n"
                                      "Host: localhost\r\n"
                                      "Upgrade: websocket\r\n"
                                      "Connection: Upgrade\r\n"
                                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                      "Sec-WebSocket-Version: 13\r\n"
                                      "\r\n";
/* RFC 6455 section 1.3's example key and its answer. */
static const char accept_line[] = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

struct fz {
    struct router *router;
    struct http_stats *stats;
    struct http_shared shared;
    struct http_worker worker;
    struct http_conn conn;
    struct boards *boards;
    struct rt_hub *hub;
    struct rt_claims *claims; /* NULL: an API key */

    /* The memory transport. */
    size_t writes;
    size_t written;      /* bytes the client has received */
    size_t held;         /* bytes of a write that returned 1 */
    int write_mode;      /* 0 at once, 1 later, 2 fail the next one */
    bool write_pending;
    bool reading;
    bool closed;
    bool eof;

    /* What the server framed so far. */
    bool close_queued;   /* a close frame was handed to the transport */
    bool close_written;  /* ... and the client has it */
    size_t frames;
    int64_t sweep_ms;    /* the time the last sweep ran at */
};

static bool verbose; /* FUZZ_WS_VERBOSE=1: print the events and frames, to study one input */

/* ---- the server frame checker ----------------------------------------------------------- */

static void check_text(const uint8_t *p, size_t len)
{
    json_error_t err;
    json_t *j = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(j)) {
        fprintf(stderr, "fuzz_ws_session: a text frame is not a JSON object: %.*s\n",
                (int)(len > 300 ? 300 : len), (const char *)p);
        abort();
    }
    /* A reply names its command's id (or null) and has either ok/result or error; a push
     * names its channel. */
    if (json_object_get(j, "channel"))
        CHECK(json_is_string(json_object_get(j, "channel")) &&
              json_is_integer(json_object_get(j, "offset")));
    else
        CHECK(json_object_get(j, "id") &&
              (json_is_true(json_object_get(j, "ok")) ||
               json_is_object(json_object_get(j, "error"))));
    json_decref(j);
}

/* One write after the upgrade: whole frames only. */
static void check_frames(struct fz *fz, const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        CHECK(!fz->close_queued); /* nothing after our close frame */
        CHECK(len - i >= 2);
        uint8_t b0 = p[i], b1 = p[i + 1];
        uint8_t op = b0 & 0x0f;
        CHECK(b0 & 0x80);         /* FIN: the server never fragments */
        CHECK((b0 & 0x70) == 0);  /* no RSV */
        CHECK(op == 1 || op == 8 || op == 9 || op == 10);
        CHECK((b1 & 0x80) == 0);  /* server frames are never masked */
        uint64_t n = b1 & 0x7f;
        size_t h = 2;
        if (n == 126) {
            CHECK(len - i >= 4);
            n = (uint64_t)p[i + 2] << 8 | p[i + 3];
            CHECK(n >= 126);
            h = 4;
        } else if (n == 127) {
            CHECK(len - i >= 10);
            n = 0;
            for (int k = 0; k < 8; k++)
                n = n << 8 | p[i + 2 + k];
            CHECK(n >= 65536 && n >> 63 == 0);
            h = 10;
        }
        CHECK(n <= len - i - h);
        const uint8_t *payload = p + i + h;
        if (op >= 8)
            CHECK(n <= 125);
        if (op == 1)
            check_text(payload, (size_t)n);
        if (op == 8) {
            CHECK(n >= 2);
            /* A code that may be sent (RFC 6455 7.4: not 1004-1006 or 1015, nothing below
             * 1000 or in 1016-2999, nor above 4999). */
            unsigned code = (unsigned)payload[0] << 8 | payload[1];
            CHECK((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                  (code >= 3000 && code <= 4999));
            fz->close_queued = true;
        }
        if (verbose)
            fprintf(stderr, "frame op %u: %.*s\n", op, (int)(n > 160 ? 160 : n),
                    op == 8 ? "" : (const char *)payload);
        if (verbose && op == 8)
            fprintf(stderr, "  close %u %.*s\n", (unsigned)payload[0] << 8 | payload[1],
                    (int)n - 2, (const char *)payload + 2);
        fz->frames++;
        i += h + (size_t)n;
    }
}

/* ---- the transport ---------------------------------------------------------------------- */

static int t_write(struct http_conn *c, struct buf *out)
{
    struct fz *fz = c->transport_arg;
    CHECK(!fz->closed);
    CHECK(!fz->write_pending);
    CHECK(out->len > 0);
    if (fz->writes++ == 0) {
        /* The 101 answer, all of it, before the session writes anything. */
        CHECK(!c->up_started);
        CHECK(out->len >= 13 && memcmp(out->data, "HTTP/1.1 101 ", 13) == 0);
        CHECK(memmem(out->data, out->len, accept_line, sizeof(accept_line) - 1) != NULL);
        CHECK(out->len >= 4 && memcmp(out->data + out->len - 4, "\r\n\r\n", 4) == 0);
    } else {
        CHECK(c->up_started);
        /* What a session has not written is bounded (ws.h): the send queue limit, plus what
         * one event may add past it (a subscription's replayed history, or a push, a reply
         * and the close frame). */
        CHECK(out->len <= WRITE_MAX);
        check_frames(fz, (const uint8_t *)out->data, out->len);
    }
    switch (fz->write_mode) {
    case 1:
        fz->held = out->len;
        buf_reset(out);
        fz->write_pending = true;
        return 1;
    case 2: fz->write_mode = 0; return -1;
    default:
        fz->written += out->len;
        if (fz->close_queued)
            fz->close_written = true;
        return 0;
    }
}

/* A push frame written straight from the message: all of it, nothing (the socket is full,
 * so the session queues it), or a broken connection, as write_mode says. */
static ssize_t t_try_write(struct http_conn *c, const char *data, size_t len)
{
    struct fz *fz = c->transport_arg;
    CHECK(!fz->closed);
    CHECK(!fz->write_pending);
    CHECK(c->up_started);
    CHECK(len > 0);
    switch (fz->write_mode) {
    case 1: return 0;
    case 2: fz->write_mode = 0; return -1;
    default:
        check_frames(fz, (const uint8_t *)data, len);
        fz->writes++;
        fz->written += len;
        return (ssize_t)len;
    }
}

static void t_set_reading(struct http_conn *c, bool on)
{
    struct fz *fz = c->transport_arg;
    CHECK(!fz->closed);
    fz->reading = on;
}

static void t_set_timer(struct http_conn *c, enum http_timer t)
{
    struct fz *fz = c->transport_arg;
    (void)t;
    CHECK(!fz->closed);
}

static void t_close(struct http_conn *c)
{
    struct fz *fz = c->transport_arg;
    CHECK(!fz->closed);
    fz->closed = true;
    fz->reading = false;
}

static const struct http_transport transport = {
    .write = t_write,
    .try_write = t_try_write,
    .set_reading = t_set_reading,
    .set_timer = t_set_timer,
    .close = t_close,
};

/* ---- the route ---------------------------------------------------------------------------- */

static void h_ws(struct http_request *req, void *arg)
{
    struct fz *fz = arg;
    ws_accept(req, fz->hub, APP, fz->claims);
}

/* ---- the driver ------------------------------------------------------------------------- */

static void *session(struct fz *fz)
{
    return fz->conn.up_started ? fz->conn.up_session : NULL;
}

/* After every event. */
static void check_state(struct fz *fz)
{
    const struct http_conn *c = &fz->conn;
    CHECK(c->closed == fz->closed);
    if (fz->closed)
        return;
    CHECK(c->up_started);
    CHECK(fz->reading); /* a session always reads (it must see the peer's close) */
    /* Our close frame is with the client: the connection is closed. */
    if (fz->close_written && !fz->write_pending)
        CHECK(fz->closed);
}

static void complete_write(struct fz *fz)
{
    CHECK(fz->write_pending);
    fz->written += fz->held;
    fz->held = 0;
    fz->write_pending = false;
    if (fz->close_queued)
        fz->close_written = true;
    http_conn_write_done(&fz->conn);
}

/* Publishes on channel and hands the push to the session, as the hub's I/O thread task does
 * for a subscriber (ws_deliver must cope with any state of the session). */
static void publish(struct fz *fz, const char *channel, size_t bytes)
{
    struct buf data = BUF_INIT;
    buf_puts(&data, "{\"pad\":\"");
    for (size_t i = 0; i < bytes; i++)
        buf_putc(&data, (char)('a' + i % 26));
    buf_puts(&data, "\"}");
    int64_t now = clock_now_ms();
    rt_hub_publish(fz->hub, APP, channel, "fuzz.test", data.data, now);
    void *s = session(fz);
    if (s && !fz->closed) {
        struct buf frame = BUF_INIT, key = BUF_INIT;
        rt_push_format(&frame, channel, 1, "0123456789abcdef", "fuzz.test", data.data, now);
        buf_puts(&key, APP);
        buf_putc(&key, '\0');
        buf_puts(&key, channel);
        struct rt_msg *m = rt_msg_new(1, now, frame.data, frame.len, key.data, key.len);
        ws_deliver(s, m);
        rt_msg_unref(m);
        buf_release(&frame);
        buf_release(&key);
    }
    buf_release(&data);
}

static void sweep(struct fz *fz, unsigned seconds)
{
    void *s = session(fz);
    int64_t now = clock_now_ms();
    if (fz->sweep_ms < now)
        fz->sweep_ms = now;
    fz->sweep_ms += (int64_t)seconds * 1000;
    if (s && !fz->closed)
        ws_sweep((struct rt_link *)s, fz->sweep_ms); /* link is the session's first member */
}

/* The hub's gauges after release: no connection, subscription or member is left. */
static void check_hub_empty(struct fz *fz)
{
    struct buf m = BUF_INIT;
    rt_hub_collect_metrics(&m, fz->hub);
    CHECK(strstr(m.data, "\nreactor_ws_connections 0\n") != NULL);
    CHECK(strstr(m.data, "\nreactor_ws_subscriptions 0\n") != NULL);
    CHECK(strstr(m.data, "\nreactor_presence_members 0\n") != NULL);
    buf_release(&m);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    verbose = getenv("FUZZ_WS_VERBOSE") != NULL;
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd >= 0)
        log_set_fd(fd); /* slow consumers are logged */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_script script = fuzz_script_split(data, size);
    const char *input = script.input;
    size_t input_len = script.input_len;

    struct fz *fz = xcalloc(1, sizeof(*fz));
    fz->boards = boards_new(0);
    struct rt_hub_config cfg = {
        .threads = 1,
        .history_size = HISTORY_SIZE,
        .history_ttl_ms = 60000,
        .max_connections = 4,
        .max_connections_per_ip = 2,
        .max_subscriptions = 4,
        .max_message_bytes = 2048,
        .send_queue_bytes = SEND_QUEUE_BYTES,
        .ping_interval_ms = 1000,
        .board_top = 3,
        .presence_ttl_default_s = 30,
    };
    fz->hub = rt_hub_new(&cfg, SECRET, strlen(SECRET), fz->boards);
    if (script.n > 0 && script.p[0] == 0xfd) {
        script.i++;
        fz->claims = xcalloc(1, sizeof(*fz->claims));
        strcpy(fz->claims->sub, "u1");
        strcpy(fz->claims->app, APP);
        fz->claims->iat = clock_now_ms() / 1000;
        fz->claims->exp = fz->claims->iat + 3;
        fz->claims->n_channels = 1;
        strcpy(fz->claims->channels[0], "leaderboard:xp");
    }
    fz->router = router_new();
    CHECK(router_add(fz->router, HTTP_GET, "/ws", h_ws, fz) == 0);
    fz->stats = http_stats_new(router_count(fz->router));
    fz->shared.router = fz->router;
    fz->shared.limits = (struct http_limits){
        .max_header_bytes = 4096,
        .max_headers = 32,
        .max_body_bytes = 8192,
        .max_pipelined = 4,
        .json = {.max_depth = 8, .max_elements = 512},
    };
    atomic_init(&fz->shared.draining, false);
    http_worker_init(&fz->worker, &fz->shared, 0, fz->stats);

    http_conn_init(&fz->conn, &fz->worker, &transport, fz);
    http_conn_start(&fz->conn);
    http_conn_feed(&fz->conn, upgrade_request, sizeof(upgrade_request) - 1);
    CHECK(fz->writes == 1 && fz->conn.up_started); /* answered 101, the session runs */
    check_state(fz);

    size_t off = 0;
    for (unsigned steps = 0; !fz->closed && steps < 4096; steps++) {
        if (script.i >= script.n && (off == input_len || fz->eof))
            break;
        unsigned op = fuzz_script_next(&script);
        size_t chunk = 0;
        if (op < 0x80)
            chunk = op ? op : input_len - off;
        else if ((op & 15) >= 11)
            chunk = ((op >> 4 & 7) + 1) * 64;
        if (verbose)
            fprintf(stderr, "op %02x\n", op);
        if (op < 0x80 || (op & 15) >= 11) {
            if (off == input_len || fz->eof)
                continue;
            if (chunk > input_len - off)
                chunk = input_len - off;
            http_conn_feed(&fz->conn, input + off, chunk);
            off += chunk;
            check_state(fz);
            continue;
        }
        switch (op & 15) {
        case 0:
            if (fz->write_pending)
                complete_write(fz);
            break;
        case 1: fz->write_mode = 1; break;
        case 2: fz->write_mode = 0; break;
        case 3: fz->write_mode = 2; break;
        case 4:
            if (!fz->eof) {
                fz->eof = true;
                http_conn_eof(&fz->conn);
            }
            break;
        case 5:
            atomic_store(&fz->shared.draining, true);
            http_conn_drain(&fz->conn);
            break;
        case 6: publish(fz, "app", (op >> 4 & 7) * 300); break;
        case 7: publish(fz, "leaderboard:xp", (op >> 4 & 7) * 300); break;
        case 8: publish(fz, "presence:lobby", (op >> 4 & 7) * 300); break;
        case 9: sweep(fz, op >> 4 & 7); break;
        case 10:
            rt_hub_board_changed(fz->hub, APP, "xp", "all");
            rt_hub_tick(fz->hub, clock_now_ms() + (int64_t)(op >> 4 & 7) * 30000);
            break;
        default: break;
        }
        check_state(fz);
    }

    /* The script is over: pending writes complete, then the client goes away. */
    if (!fz->closed) {
        if (fz->write_pending)
            complete_write(fz);
        check_state(fz);
    }
    if (!fz->closed && !fz->eof) {
        fz->eof = true;
        http_conn_eof(&fz->conn);
    }
    CHECK(fz->closed);
    if (verbose)
        fprintf(stderr, "--- %zu writes, %zu frames, %zu bytes sent back\n", fz->writes,
                fz->frames, fz->written);

    http_conn_release(&fz->conn);
    check_hub_empty(fz);
    rt_hub_tick(fz->hub, clock_now_ms() + 3600 * 1000); /* channels and rooms expire */
    rt_hub_free(fz->hub);
    boards_free(fz->boards);
    http_stats_free(fz->stats);
    router_free(fz->router);
    free(fz->claims);
    free(fz);
    return 0;
}
