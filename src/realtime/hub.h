/* The real-time hub: channels with offsets, epochs and history; presence rooms; and the
 * routing of each published message to the I/O threads that have subscribers for it.
 *
 * Design (docs/architecture.md, "Real-time gateway"):
 *  - One table of channels, keyed by (app, channel name), under one mutex. A channel exists
 *    while someone is subscribed and for the history TTL after the last one left, so that a
 *    client that reconnects can recover; a message to a channel that does not exist is
 *    dropped (nobody listens, nobody could recover it).
 *  - Each channel counts its subscribers per I/O thread. Publishing assigns the next offset,
 *    formats the push frame once (struct rt_msg, reference counted), keeps it in the history
 *    and posts it to each thread whose count is not zero, in offset order (posting happens
 *    under the mutex).
 *  - Each I/O thread has its own table (struct rt_local, touched by that thread only) of the
 *    subscriptions of its connections, and delivers a message to them with the deliver
 *    callback. A subscription remembers the channel offset it started at, so a message posted
 *    before it existed is not delivered twice (it came with recovery or was never wanted).
 *  - Presence rooms: members from WebSocket joins (until leave or close) and from HTTP
 *    heartbeats (until their TTL passes); joins and leaves are published on presence:<room>.
 *  - Leaderboards: the engine says which boards changed after a commit; the hub marks the
 *    channels dirty and rt_hub_tick publishes their top entries at most once per tick.
 *
 * Threads: publish, presence and metrics from any thread; rt_hub_subscribe/unsubscribe and
 * the rt_local functions on the named I/O thread only. */
#ifndef REACTOR_REALTIME_HUB_H
#define REACTOR_REALTIME_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "realtime/history.h"
#include "realtime/proto.h"

struct http_server;
struct boards;
struct rt_hub;

struct rt_hub_config {
    unsigned threads;             /* I/O threads */
    size_t history_size;          /* messages kept per channel */
    int64_t history_ttl_ms;
    unsigned max_connections;     /* WebSocket connections, whole process */
    unsigned max_connections_per_ip;
    unsigned max_subscriptions;   /* per connection */
    size_t max_message_bytes;     /* a client's message */
    size_t send_queue_bytes;      /* per connection, before `slow consumer` */
    unsigned ping_interval_ms;
    unsigned board_top;           /* entries in a leaderboard push */
    int64_t presence_ttl_default_s;
};

/* A connection as the hub sees it: in its thread's array for the periodic sweep. */
struct rt_link {
    uint32_t idx;               /* its place in that array, while attached */
};

/* Delivers one message to one subscribed connection (on its I/O thread): true if it was
 * pushed (the hub counts it), false if the connection is closing or was too slow. */
typedef bool rt_deliver_fn(void *conn, struct rt_msg *m);
/* Optional: brings what deliver will read of conn into the cache, a few connections before
 * it is delivered to, in stages 0, 1, 2, each nearer the delivery: stage 0 may only prefetch
 * conn's own memory; stage k may read what stage k-1 prefetched and prefetch what it points
 * to. A hint: it changes nothing. */
typedef void rt_prefetch_fn(const void *conn, unsigned stage);
/* Called every ping interval for each connection of a thread (on that thread). */
typedef void rt_sweep_fn(struct rt_link *link, int64_t now_ms);

/* `secret` (the server's token secret) is copied. */
struct rt_hub *rt_hub_new(const struct rt_hub_config *cfg, const void *secret, size_t secret_len,
                          struct boards *boards);
void rt_hub_free(struct rt_hub *h);
const struct rt_hub_config *rt_hub_config(const struct rt_hub *h);
/* Where messages are posted; before any publish. */
void rt_hub_set_server(struct rt_hub *h, struct http_server *server, rt_deliver_fn *deliver,
                       rt_prefetch_fn *prefetch, rt_sweep_fn *sweep);
/* The signing key of an app's client tokens. 0, or -1 when the crypto library fails. */
int rt_hub_token_key(const struct rt_hub *h, const char *app_id, unsigned char key[32]);

/* ---- publishing (any thread) --------------------------------------------------------------- */

/* Publishes on (app, channel): `data` is JSON text. Dropped when the channel does not exist. */
void rt_hub_publish(struct rt_hub *h, const char *app_id, const char *channel, const char *type,
                    const char *data, int64_t now_ms);
/* The engine committed an event (engine_publish_fn): each of its effects to user:<id> (type =
 * the effect's type), the event with its effects to "app" (type "event.processed"). */
struct store_event;
void rt_hub_publish_event(void *hub, const char *app_id, const struct store_event *ev);
/* The engine committed a change to a leaderboard (engine thread). */
void rt_hub_board_changed(void *hub, const char *app_id, const char *metric, const char *period);
/* Periodic work (main loop): leaderboard pushes, presence expiry, channel expiry, and the
 * per-thread sweep (keepalive, token expiry). */
void rt_hub_tick(struct rt_hub *h, int64_t now_ms);

/* ---- connections (I/O threads) ------------------------------------------------------------- */

/* Admits a connection from `ip`: 0, -1 over the total limit, -2 over the per-IP limit. */
int rt_hub_admit(struct rt_hub *h, const char *ip);
void rt_hub_leave(struct rt_hub *h, const char *ip);
/* On the connection's own I/O thread: puts it in the thread's sweep (rt_sweep_fn), and takes
 * it out again, once for each attach. */
void rt_hub_attach(struct rt_hub *h, unsigned thread, struct rt_link *link);
void rt_hub_detach(struct rt_hub *h, unsigned thread, struct rt_link *link);

struct rt_sub;  /* one subscription of one connection */

struct rt_sub_result {
    uint64_t offset;
    char epoch[RT_EPOCH_MAX + 1];
    bool recovered;               /* meaningful with `since` */
    struct rt_msg **replay;       /* recovered messages, references; free with rt_sub_result_release */
    size_t n_replay;
};
void rt_sub_result_release(struct rt_sub_result *r);

/* Subscribes `conn` on its thread. `since` may be NULL. Returns the subscription (the
 * caller keeps it, to unsubscribe; rt_sub_next chains a connection's subscriptions). */
struct rt_sub *rt_hub_subscribe(struct rt_hub *h, unsigned thread, void *conn,
                                const char *app_id, const char *channel, const char *since_epoch,
                                uint64_t since_offset, bool has_since, struct rt_sub_result *res);
void rt_hub_unsubscribe(struct rt_hub *h, unsigned thread, struct rt_sub *s);
const char *rt_sub_channel(const struct rt_sub *s);
struct rt_sub **rt_sub_nextp(struct rt_sub *s);

/* ---- presence (any thread) ----------------------------------------------------------------- */

/* Adds or refreshes a member: client_id names it (a connection, or "http:<userId>");
 * ttl_ms 0 means until rt_hub_presence_leave. `info` is JSON text or NULL. */
void rt_hub_presence_join(struct rt_hub *h, const char *app_id, const char *room,
                          const char *client_id, const char *user_id, const char *info,
                          int64_t ttl_ms, int64_t now_ms);
void rt_hub_presence_leave(struct rt_hub *h, const char *app_id, const char *room,
                           const char *client_id, int64_t now_ms);
/* The room's members as a JSON array of {clientId, userId, info?, via}. */
void rt_hub_presence_list(struct rt_hub *h, const char *app_id, const char *room,
                          struct buf *out, int64_t now_ms);

/* ---- metrics -------------------------------------------------------------------------------- */

/* `n` messages of `bytes` in all. */
void rt_hub_count_pushed(struct rt_hub *h, uint64_t n, uint64_t bytes);
void rt_hub_count_slow(struct rt_hub *h);
void rt_hub_count_rejected(struct rt_hub *h);
void rt_hub_collect_metrics(struct buf *out, void *hub);

#endif
