/* The real-time hub (see hub.h for the design). */
#include "realtime/hub.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/clock.h"
#include "core/hash.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/secret.h"
#include "engine/boards.h"
#include "http/server.h"
#include "realtime/token.h"
#include "store/store.h"

#define SWEEP_EVERY_MS 1000    /* presence expiry, channel expiry, per-thread sweep */
#define PREFETCH_AHEAD 8       /* subscriptions ahead of the one being delivered to */
/* How far ahead each stage of rt_prefetch_fn runs: each reads what the one before fetched. */
static const uint32_t stage_ahead[3] = { PREFETCH_AHEAD * 3 / 4, PREFETCH_AHEAD / 2,
                                         PREFETCH_AHEAD / 4 };

/* ---- a small chained hash table keyed by byte strings --------------------------------------- */

struct node {
    struct node *next;
    uint64_t hash;
    size_t key_len;
    char *key;                 /* owned by the entry that embeds the node */
};

struct map {
    struct node **slots;       /* cap a power of two */
    size_t cap, n;
};

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t x = hash_fnv1a(HASH_FNV_OFFSET, s, len);
    return x ^ (x >> 29);
}

static struct node *map_find(const struct map *m, const char *key, size_t len, uint64_t hash)
{
    if (!m->cap)
        return NULL;
    for (struct node *n = m->slots[hash & (m->cap - 1)]; n; n = n->next)
        if (n->hash == hash && n->key_len == len && memcmp(n->key, key, len) == 0)
            return n;
    return NULL;
}

static void map_insert(struct map *m, struct node *nd)
{
    if (m->n + 1 > m->cap * 3 / 4) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct node **slots = xcalloc(cap, sizeof(*slots));
        for (size_t i = 0; i < m->cap; i++)
            for (struct node *n = m->slots[i], *next; n; n = next) {
                next = n->next;
                n->next = slots[n->hash & (cap - 1)];
                slots[n->hash & (cap - 1)] = n;
            }
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    struct node **head = &m->slots[nd->hash & (m->cap - 1)];
    nd->next = *head;
    *head = nd;
    m->n++;
}

static void map_remove(struct map *m, struct node *nd)
{
    for (struct node **p = &m->slots[nd->hash & (m->cap - 1)]; *p; p = &(*p)->next)
        if (*p == nd) {
            *p = nd->next;
            m->n--;
            return;
        }
}

/* Calls fn on every node; fn may remove the node it is given. */
static void map_each(struct map *m, void (*fn)(struct node *, void *), void *arg)
{
    for (size_t i = 0; i < m->cap; i++)
        for (struct node *n = m->slots[i], *next; n; n = next) {
            next = n->next;
            fn(n, arg);
        }
}

/* "app\0rest" into b (both parts NUL-terminated). */
static void make_key(struct buf *b, const char *app_id, const char *rest)
{
    buf_reset(b);
    buf_puts(b, app_id);
    buf_putc(b, '\0');
    buf_puts(b, rest);
}

/* ---- the shared state ----------------------------------------------------------------------- */

struct chan {
    struct node nd;             /* key: app NUL channel */
    struct rt_history hist;
    unsigned total;             /* subscribers on every thread */
    int64_t idle_since;         /* when total dropped to 0 */
    bool dirty;                 /* a leaderboard push is owed */
    unsigned subs[];            /* per I/O thread */
};

struct member {
    struct member *next;
    char *client_id, *user_id, *info;
    int64_t expires_ms;         /* 0: a connection's, until it leaves */
};

struct room {
    struct node nd;             /* key: app NUL room */
    struct member *members;
};

struct ipcount {
    struct node nd;
    unsigned n;
};

/* A channel's subscribers on one thread, in an array: a message walks it in order and brings
 * the connections a few places ahead into the cache while it writes to the current one. */
struct lchan {
    struct node nd;             /* key: app NUL channel */
    struct rt_sub **subs;
    uint32_t n, cap;
};

struct rt_sub {
    void *conn;
    struct lchan *lc;
    uint32_t idx;                 /* in lc->subs */
    struct rt_sub *cnext;         /* the connection's other subscriptions */
    uint64_t from;                /* channel offset when subscribed */
};

struct rt_local {
    struct map chans;           /* struct lchan */
    struct rt_link **conns;     /* attached connections: the sweep walks them in order */
    uint32_t n_conns, cap_conns;
};

struct rt_hub {
    struct rt_hub_config cfg;
    unsigned char secret[64];
    size_t secret_len;
    struct boards *boards;
    struct http_server *server;
    rt_deliver_fn *deliver;
    rt_prefetch_fn *prefetch;
    rt_sweep_fn *sweep;
    _Atomic size_t chans_n;     /* chans.n, written under the lock, read without it by every
                                 * event (a hub without channels publishes nothing): kept
                                 * away from the counters the I/O threads write */
    pthread_mutex_t lock;       /* guards everything below up to `locals` */
    struct map chans;           /* struct chan */
    struct map rooms;           /* struct room */
    struct map ips;             /* struct ipcount */
    char **dirty;               /* keys of leaderboard channels owed a push */
    size_t dirty_n, dirty_cap;
    unsigned connections;
    uint64_t members;
    int64_t swept_ms;
    struct rt_local *locals;    /* one per I/O thread, each touched by its thread only */
    /* metrics */
    _Atomic uint64_t subscriptions, published, pushed, pushed_bytes, slow, rec_ok, rec_failed,
        rejected, conns_total;
};

struct rt_hub *rt_hub_new(const struct rt_hub_config *cfg, const void *secret, size_t secret_len,
                          struct boards *boards)
{
    struct rt_hub *h = xcalloc(1, sizeof(*h));
    h->cfg = *cfg;
    if (h->cfg.threads == 0)
        h->cfg.threads = 1;
    h->secret_len = secret_len < sizeof(h->secret) ? secret_len : sizeof(h->secret);
    memcpy(h->secret, secret, h->secret_len);
    h->boards = boards;
    pthread_mutex_init(&h->lock, NULL);
    h->locals = xcalloc(h->cfg.threads, sizeof(*h->locals));
    return h;
}

static void free_chan(struct node *n, void *arg)
{
    (void)arg;
    struct chan *c = (struct chan *)n;
    rt_history_release(&c->hist);
    free(c->nd.key);
    free(c);
}

static void free_member(struct member *m)
{
    free(m->client_id);
    free(m->user_id);
    free(m->info);
    free(m);
}

static void free_room(struct node *n, void *arg)
{
    (void)arg;
    struct room *r = (struct room *)n;
    for (struct member *m = r->members, *next; m; m = next) {
        next = m->next;
        free_member(m);
    }
    free(r->nd.key);
    free(r);
}

static void free_plain(struct node *n, void *arg)
{
    (void)arg;
    free(n);
}

static void free_lchan(struct node *n, void *arg)
{
    (void)arg;
    free(((struct lchan *)n)->subs);
    free(n);
}

void rt_hub_free(struct rt_hub *h)
{
    if (!h)
        return;
    map_each(&h->chans, free_chan, NULL);
    map_each(&h->rooms, free_room, NULL);
    map_each(&h->ips, free_plain, NULL);
    free(h->chans.slots);
    free(h->rooms.slots);
    free(h->ips.slots);
    for (unsigned i = 0; i < h->cfg.threads; i++) {
        map_each(&h->locals[i].chans, free_lchan, NULL);
        free(h->locals[i].chans.slots);
        free(h->locals[i].conns);
    }
    free(h->locals);
    for (size_t i = 0; i < h->dirty_n; i++)
        free(h->dirty[i]);
    free(h->dirty);
    pthread_mutex_destroy(&h->lock);
    OPENSSL_cleanse(h->secret, sizeof(h->secret));
    free(h);
}

const struct rt_hub_config *rt_hub_config(const struct rt_hub *h)
{
    return &h->cfg;
}

void rt_hub_set_server(struct rt_hub *h, struct http_server *server, rt_deliver_fn *deliver,
                       rt_prefetch_fn *prefetch, rt_sweep_fn *sweep)
{
    h->server = server;
    h->deliver = deliver;
    h->prefetch = prefetch;
    h->sweep = sweep;
}

int rt_hub_token_key(const struct rt_hub *h, const char *app_id, unsigned char key[32])
{
    return rt_token_app_key(h->secret, h->secret_len, app_id, key);
}

/* ---- publishing ----------------------------------------------------------------------------- */

struct deliver_task {
    struct rt_hub *h;
    unsigned thread;
    struct rt_msg *m;
};

static void deliver_task(void *arg)
{
    struct deliver_task *t = arg;
    struct rt_local *l = &t->h->locals[t->thread];
    struct rt_msg *m = t->m;
    struct lchan *lc =
        (struct lchan *)map_find(&l->chans, m->key, m->key_len, hash_bytes(m->key, m->key_len));
    uint64_t pushed = 0; /* counted once per message: the counters are shared by threads */
    rt_prefetch_fn *prefetch = t->h->prefetch;
    /* Each connection's state is cold by the time a message for thousands reaches it: the
     * subscription is fetched PREFETCH_AHEAD places ahead, then, closer and closer, the
     * connection and what it points to, so the loads overlap the writes instead of stalling
     * each one. The array does not change under the loop: a connection that breaks is
     * released later, on its own loop turn. */
    struct rt_sub *const *v = lc ? lc->subs : NULL;
    for (uint32_t i = 0, n = lc ? lc->n : 0; i < n; i++) {
        if (prefetch) {
            if (i + PREFETCH_AHEAD < n)
                __builtin_prefetch(v[i + PREFETCH_AHEAD]);
            for (unsigned k = 0; k < 3; k++) /* stage k, nearer the delivery as k grows */
                if (i + stage_ahead[k] < n)
                    prefetch(v[i + stage_ahead[k]]->conn, k);
        }
        struct rt_sub *s = v[i];
        if (m->offset > s->from && t->h->deliver(s->conn, m))
            pushed++;
    }
    if (pushed)
        rt_hub_count_pushed(t->h, pushed, pushed * m->len);
    rt_msg_unref(m);
    free(t);
}

static struct chan *find_chan(struct rt_hub *h, const char *key, size_t len)
{
    return (struct chan *)map_find(&h->chans, key, len, hash_bytes(key, len));
}

/* Under the lock. */
static void publish_locked(struct rt_hub *h, const char *key, size_t key_len, const char *type,
                           const char *data, int64_t now_ms)
{
    struct chan *c = find_chan(h, key, key_len);
    if (!c)
        return;
    const char *name = key + strlen(key) + 1;
    struct buf frame = BUF_INIT;
    rt_push_format(&frame, name, c->hist.offset + 1, c->hist.epoch, type, data, now_ms);
    struct rt_msg *m = rt_msg_new(c->hist.offset + 1, now_ms, frame.data, frame.len, key,
                                  key_len);
    buf_release(&frame);
    atomic_fetch_add_explicit(&h->published, 1, memory_order_relaxed);
    for (unsigned t = 0; h->server && t < h->cfg.threads; t++) {
        if (!c->subs[t])
            continue;
        struct deliver_task *dt = xmalloc(sizeof(*dt));
        dt->h = h;
        dt->thread = t;
        dt->m = rt_msg_ref(m);
        if (http_server_post(h->server, t, deliver_task, dt) < 0) {
            rt_msg_unref(m);
            free(dt);
        }
    }
    rt_history_append(&c->hist, m);
}

void rt_hub_publish(struct rt_hub *h, const char *app_id, const char *channel, const char *type,
                    const char *data, int64_t now_ms)
{
    struct buf key = BUF_INIT;
    make_key(&key, app_id, channel);
    pthread_mutex_lock(&h->lock);
    publish_locked(h, key.data, key.len, type, data, now_ms);
    pthread_mutex_unlock(&h->lock);
    buf_release(&key);
}

void rt_hub_publish_event(void *hub, const char *app_id, const struct store_event *ev)
{
    struct rt_hub *h = hub;
    /* Seen after any subscription that was answered before the event was applied: one that
     * was not may as well have come after it. */
    if (!atomic_load(&h->chans_n))
        return;
    struct buf key = BUF_INIT, name = BUF_INIT, data = BUF_INIT, fx_json = BUF_INIT;
    const char *user_id = ev->user_id, *effects = NULL;
    bool expanded = false; /* the effects' JSON, made when a channel shows them */
    int64_t now_ms = clock_now_ms();
    json_t *fx = NULL;
    buf_printf(&name, "user:%s", user_id);
    make_key(&key, app_id, name.data);
    pthread_mutex_lock(&h->lock);
    if (find_chan(h, key.data, key.len)) {
        effects = store_event_effects(ev, &fx_json);
        expanded = true;
        if (effects)
            fx = json_loads(effects, 0, NULL);
    }
    if (json_is_array(fx)) {
        size_t i;
        json_t *e;
        json_array_foreach(fx, i, e) {
            const char *type = json_string_value(json_object_get(e, "type"));
            if (!type)
                continue;
            buf_reset(&data);
            json_dump_buf(e, &data);
            publish_locked(h, key.data, key.len, type, data.data, now_ms);
        }
    }
    make_key(&key, app_id, "app");
    if (find_chan(h, key.data, key.len)) {
        if (!expanded)
            effects = store_event_effects(ev, &fx_json);
        buf_reset(&data);
        buf_puts(&data, "{\"userId\":");
        buf_append_json_string(&data, user_id, strlen(user_id));
        buf_puts(&data, ",\"eventType\":");
        buf_append_json_string(&data, ev->event_type, strlen(ev->event_type));
        buf_puts(&data, ",\"idempotencyKey\":");
        buf_append_json_string(&data, ev->idempotency_key, strlen(ev->idempotency_key));
        buf_puts(&data, ",\"status\":");
        const char *status = store_event_status_name(ev->status);
        buf_append_json_string(&data, status, strlen(status));
        buf_puts(&data, ",\"occurredAt\":");
        buf_append_i64(&data, ev->occurred_at);
        buf_puts(&data, ",\"metadata\":");
        buf_puts(&data, ev->metadata ? ev->metadata : "{}");
        buf_puts(&data, ",\"effects\":");
        buf_puts(&data, effects ? effects : "[]");
        buf_putc(&data, '}');
        publish_locked(h, key.data, key.len, "event.processed", data.data, now_ms);
    }
    pthread_mutex_unlock(&h->lock);
    json_decref(fx);
    buf_release(&key);
    buf_release(&name);
    buf_release(&data);
    buf_release(&fx_json);
}

static void mark_dirty(struct rt_hub *h, const char *key, size_t len)
{
    struct chan *c = find_chan(h, key, len);
    if (!c || c->dirty || c->total == 0)
        return;
    c->dirty = true;
    if (h->dirty_n == h->dirty_cap) {
        h->dirty_cap = h->dirty_cap ? h->dirty_cap * 2 : 16;
        h->dirty = xrealloc(h->dirty, h->dirty_cap * sizeof(*h->dirty));
    }
    char *k = xmalloc(len + 1);
    memcpy(k, key, len);
    k[len] = '\0';
    h->dirty[h->dirty_n++] = k;
}

void rt_hub_board_changed(void *hub, const char *app_id, const char *metric, const char *period)
{
    struct rt_hub *h = hub;
    struct buf key = BUF_INIT, name = BUF_INIT;
    pthread_mutex_lock(&h->lock);
    buf_printf(&name, "leaderboard:%s:%s", metric, period);
    make_key(&key, app_id, name.data);
    mark_dirty(h, key.data, key.len);
    if (strcmp(period, "all") == 0) {
        buf_reset(&name);
        buf_printf(&name, "leaderboard:%s", metric);
        make_key(&key, app_id, name.data);
        mark_dirty(h, key.data, key.len);
    }
    pthread_mutex_unlock(&h->lock);
    buf_release(&key);
    buf_release(&name);
}

/* The top of a board as push data; false when the board is not in memory. */
static bool board_top(struct rt_hub *h, const char *app_id, const struct rt_channel *c,
                      int64_t now_ms, struct buf *out)
{
    if (!h->boards)
        return false;
    size_t max = h->cfg.board_top ? h->cfg.board_top : 10;
    struct rank_entry *v = xmalloc(max * sizeof(*v));
    bool ok = false;
    boards_read_lock(h->boards);
    const struct rank_index *x;
    if (boards_find(h->boards, app_id, c->metric, c->period, now_ms, &x) == BOARD_LOADED) {
        size_t n = rank_range(x, 0, v, max);
        buf_puts(out, "{\"metric\":");
        buf_append_json_string(out, c->metric, strlen(c->metric));
        buf_puts(out, ",\"period\":");
        buf_append_json_string(out, c->period, strlen(c->period));
        buf_puts(out, ",\"total\":");
        buf_append_u64(out, rank_size(x));
        buf_puts(out, ",\"top\":[");
        for (size_t i = 0; i < n; i++) {
            buf_printf(out, "%s{\"rank\":%zu,\"userId\":", i ? "," : "", i + 1);
            buf_append_json_string(out, v[i].member, v[i].member_len);
            buf_puts(out, ",\"score\":");
            buf_append_i64(out, v[i].score);
            buf_putc(out, '}');
        }
        buf_puts(out, "]}");
        ok = true;
    }
    boards_read_unlock(h->boards);
    free(v);
    return ok;
}

static void push_boards(struct rt_hub *h, int64_t now_ms)
{
    pthread_mutex_lock(&h->lock);
    char **keys = h->dirty;
    size_t n = h->dirty_n;
    h->dirty = NULL;
    h->dirty_n = h->dirty_cap = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(keys[i]) + 1 + strlen(keys[i] + strlen(keys[i]) + 1);
        struct chan *c = find_chan(h, keys[i], len);
        if (c)
            c->dirty = false;
    }
    pthread_mutex_unlock(&h->lock);
    struct buf data = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const char *app = keys[i], *name = keys[i] + strlen(keys[i]) + 1;
        struct rt_channel c;
        char err[128];
        buf_reset(&data);
        if (rt_channel_parse(name, &c, err, sizeof(err)) == 0 &&
            board_top(h, app, &c, now_ms, &data))
            rt_hub_publish(h, app, name, "leaderboard.updated", data.data, now_ms);
        free(keys[i]);
    }
    free(keys);
    buf_release(&data);
}

/* ---- presence ------------------------------------------------------------------------------- */

static void presence_push(struct rt_hub *h, const char *app_id, const char *room,
                          const struct member *m, const char *type, int64_t now_ms)
{
    struct buf key = BUF_INIT, data = BUF_INIT;
    buf_printf(&data, "presence:%s", room);
    make_key(&key, app_id, data.data);
    buf_reset(&data);
    buf_puts(&data, "{\"room\":");
    buf_append_json_string(&data, room, strlen(room));
    buf_puts(&data, ",\"clientId\":");
    buf_append_json_string(&data, m->client_id, strlen(m->client_id));
    buf_puts(&data, ",\"userId\":");
    if (m->user_id)
        buf_append_json_string(&data, m->user_id, strlen(m->user_id));
    else
        buf_puts(&data, "null");
    if (m->info) {
        buf_puts(&data, ",\"info\":");
        buf_puts(&data, m->info);
    }
    buf_putc(&data, '}');
    publish_locked(h, key.data, key.len, type, data.data, now_ms);
    buf_release(&key);
    buf_release(&data);
}

static struct room *find_room(struct rt_hub *h, const struct buf *key)
{
    return (struct room *)map_find(&h->rooms, key->data, key->len,
                                   hash_bytes(key->data, key->len));
}

void rt_hub_presence_join(struct rt_hub *h, const char *app_id, const char *room,
                          const char *client_id, const char *user_id, const char *info,
                          int64_t ttl_ms, int64_t now_ms)
{
    struct buf key = BUF_INIT;
    make_key(&key, app_id, room);
    pthread_mutex_lock(&h->lock);
    struct room *r = find_room(h, &key);
    if (!r) {
        r = xcalloc(1, sizeof(*r));
        r->nd.key = xmalloc(key.len + 1);
        memcpy(r->nd.key, key.data, key.len + 1);
        r->nd.key_len = key.len;
        r->nd.hash = hash_bytes(key.data, key.len);
        map_insert(&h->rooms, &r->nd);
    }
    struct member *m = r->members;
    while (m && strcmp(m->client_id, client_id) != 0)
        m = m->next;
    bool fresh = !m;
    if (fresh) {
        m = xcalloc(1, sizeof(*m));
        m->client_id = xstrdup(client_id);
        m->next = r->members;
        r->members = m;
        h->members++;
    }
    free(m->user_id);
    free(m->info);
    m->user_id = user_id ? xstrdup(user_id) : NULL;
    m->info = info ? xstrdup(info) : NULL;
    m->expires_ms = ttl_ms ? now_ms + ttl_ms : 0;
    if (fresh)
        presence_push(h, app_id, room, m, "presence.join", now_ms);
    pthread_mutex_unlock(&h->lock);
    buf_release(&key);
}

/* Under the lock: removes *pm (a member of r) and announces it. */
static void member_remove(struct rt_hub *h, struct room *r, struct member **pm, const char *app,
                          const char *room, int64_t now_ms)
{
    struct member *m = *pm;
    *pm = m->next;
    h->members--;
    presence_push(h, app, room, m, "presence.leave", now_ms);
    free_member(m);
    if (!r->members) {
        map_remove(&h->rooms, &r->nd);
        free(r->nd.key);
        free(r);
    }
}

void rt_hub_presence_leave(struct rt_hub *h, const char *app_id, const char *room,
                           const char *client_id, int64_t now_ms)
{
    struct buf key = BUF_INIT;
    make_key(&key, app_id, room);
    pthread_mutex_lock(&h->lock);
    struct room *r = find_room(h, &key);
    for (struct member **pm = r ? &r->members : NULL; pm && *pm; pm = &(*pm)->next)
        if (strcmp((*pm)->client_id, client_id) == 0) {
            member_remove(h, r, pm, app_id, room, now_ms);
            break;
        }
    pthread_mutex_unlock(&h->lock);
    buf_release(&key);
}

void rt_hub_presence_list(struct rt_hub *h, const char *app_id, const char *room,
                          struct buf *out, int64_t now_ms)
{
    struct buf key = BUF_INIT;
    make_key(&key, app_id, room);
    buf_putc(out, '[');
    pthread_mutex_lock(&h->lock);
    struct room *r = find_room(h, &key);
    bool first = true;
    for (struct member *m = r ? r->members : NULL; m; m = m->next) {
        if (m->expires_ms && m->expires_ms <= now_ms)
            continue;
        buf_puts(out, first ? "{\"clientId\":" : ",{\"clientId\":");
        first = false;
        buf_append_json_string(out, m->client_id, strlen(m->client_id));
        buf_puts(out, ",\"userId\":");
        if (m->user_id)
            buf_append_json_string(out, m->user_id, strlen(m->user_id));
        else
            buf_puts(out, "null");
        if (m->info) {
            buf_puts(out, ",\"info\":");
            buf_puts(out, m->info);
        }
        buf_puts(out, m->expires_ms ? ",\"via\":\"http\"}" : ",\"via\":\"ws\"}");
    }
    pthread_mutex_unlock(&h->lock);
    buf_putc(out, ']');
    buf_release(&key);
}

struct sweep_ctx {
    struct rt_hub *h;
    int64_t now_ms;
};

static void expire_room(struct node *n, void *arg)
{
    struct sweep_ctx *x = arg;
    struct room *r = (struct room *)n;
    const char *app = r->nd.key, *room = r->nd.key + strlen(r->nd.key) + 1;
    struct member **pm = &r->members;
    while (*pm) {
        if ((*pm)->expires_ms && (*pm)->expires_ms <= x->now_ms) {
            bool last = !r->members->next;
            member_remove(x->h, r, pm, app, room, x->now_ms);
            if (last)
                return; /* the room is gone */
        } else {
            pm = &(*pm)->next;
        }
    }
}

static void expire_chan(struct node *n, void *arg)
{
    struct sweep_ctx *x = arg;
    struct chan *c = (struct chan *)n;
    rt_history_expire(&c->hist, x->now_ms, x->h->cfg.history_ttl_ms);
    if (c->total == 0 && c->idle_since + x->h->cfg.history_ttl_ms <= x->now_ms) {
        map_remove(&x->h->chans, n);
        free_chan(n, NULL);
    }
}

/* ---- the per-thread sweep ------------------------------------------------------------------- */

struct sweep_task {
    struct rt_hub *h;
    unsigned thread;
    int64_t now_ms;
};

static void sweep_task(void *arg)
{
    struct sweep_task *t = arg;
    struct rt_local *l = &t->h->locals[t->thread];
    /* Most connections have nothing due: the walk is a load of each one's timers, made ahead
     * of it (the connection's own memory: stage 0) so that the misses overlap. The array
     * does not change under the loop: a connection closed here is released later. */
    for (uint32_t i = 0, n = l->n_conns; i < n; i++) {
        if (t->h->prefetch && i + PREFETCH_AHEAD < n)
            t->h->prefetch(l->conns[i + PREFETCH_AHEAD], 0);
        t->h->sweep(l->conns[i], t->now_ms);
    }
    free(t);
}

void rt_hub_tick(struct rt_hub *h, int64_t now_ms)
{
    push_boards(h, now_ms);
    if (now_ms - h->swept_ms < SWEEP_EVERY_MS)
        return;
    h->swept_ms = now_ms;
    struct sweep_ctx x = { h, now_ms };
    pthread_mutex_lock(&h->lock);
    map_each(&h->rooms, expire_room, &x);
    map_each(&h->chans, expire_chan, &x);
    atomic_store(&h->chans_n, h->chans.n);
    pthread_mutex_unlock(&h->lock);
    for (unsigned i = 0; h->server && h->sweep && i < h->cfg.threads; i++) {
        struct sweep_task *t = xmalloc(sizeof(*t));
        *t = (struct sweep_task){ h, i, now_ms };
        if (http_server_post(h->server, i, sweep_task, t) < 0)
            free(t);
    }
}

/* ---- connections ---------------------------------------------------------------------------- */

int rt_hub_admit(struct rt_hub *h, const char *ip)
{
    size_t len = strlen(ip);
    uint64_t hash = hash_bytes(ip, len);
    int ret = 0;
    pthread_mutex_lock(&h->lock);
    struct ipcount *c = (struct ipcount *)map_find(&h->ips, ip, len, hash);
    if (h->connections >= h->cfg.max_connections) {
        ret = -1;
    } else if (c && c->n >= h->cfg.max_connections_per_ip) {
        ret = -2;
    } else {
        if (!c) {
            c = xcalloc(1, sizeof(*c) + len + 1);
            c->nd.key = (char *)(c + 1);
            memcpy(c->nd.key, ip, len + 1);
            c->nd.key_len = len;
            c->nd.hash = hash;
            map_insert(&h->ips, &c->nd);
        }
        c->n++;
        h->connections++;
    }
    pthread_mutex_unlock(&h->lock);
    if (ret < 0)
        atomic_fetch_add_explicit(&h->rejected, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&h->conns_total, 1, memory_order_relaxed);
    return ret;
}

void rt_hub_leave(struct rt_hub *h, const char *ip)
{
    size_t len = strlen(ip);
    pthread_mutex_lock(&h->lock);
    struct ipcount *c = (struct ipcount *)map_find(&h->ips, ip, len, hash_bytes(ip, len));
    if (c && --c->n == 0) {
        map_remove(&h->ips, &c->nd);
        free(c);
    }
    h->connections--;
    pthread_mutex_unlock(&h->lock);
}

void rt_hub_attach(struct rt_hub *h, unsigned thread, struct rt_link *link)
{
    struct rt_local *l = &h->locals[thread];
    if (l->n_conns == l->cap_conns) {
        l->cap_conns = l->cap_conns ? l->cap_conns * 2 : 64;
        l->conns = xrealloc(l->conns, l->cap_conns * sizeof(*l->conns));
    }
    link->idx = l->n_conns;
    l->conns[l->n_conns++] = link;
}

void rt_hub_detach(struct rt_hub *h, unsigned thread, struct rt_link *link)
{
    struct rt_local *l = &h->locals[thread];
    assert(link->idx < l->n_conns && l->conns[link->idx] == link);
    struct rt_link *last = l->conns[--l->n_conns];
    l->conns[link->idx] = last;
    last->idx = link->idx;
}

void rt_sub_result_release(struct rt_sub_result *r)
{
    for (size_t i = 0; i < r->n_replay; i++)
        rt_msg_unref(r->replay[i]);
    free(r->replay);
    r->replay = NULL;
    r->n_replay = 0;
}

struct rt_sub *rt_hub_subscribe(struct rt_hub *h, unsigned thread, void *conn,
                                const char *app_id, const char *channel, const char *since_epoch,
                                uint64_t since_offset, bool has_since, struct rt_sub_result *res)
{
    assert(thread < h->cfg.threads);
    memset(res, 0, sizeof(*res));
    struct buf key = BUF_INIT;
    make_key(&key, app_id, channel);
    uint64_t hash = hash_bytes(key.data, key.len);
    int64_t now = clock_now_ms();
    pthread_mutex_lock(&h->lock);
    struct chan *c = (struct chan *)map_find(&h->chans, key.data, key.len, hash);
    if (!c) {
        c = xcalloc(1, sizeof(*c) + h->cfg.threads * sizeof(c->subs[0]));
        c->nd.key = xmalloc(key.len + 1);
        memcpy(c->nd.key, key.data, key.len + 1);
        c->nd.key_len = key.len;
        c->nd.hash = hash;
        char epoch[17];
        if (secret_random_hex(epoch, 8) < 0)
            snprintf(epoch, sizeof(epoch), "%016llx", (unsigned long long)clock_mono_ns());
        rt_history_init(&c->hist, epoch, h->cfg.history_size);
        map_insert(&h->chans, &c->nd);
        atomic_store(&h->chans_n, h->chans.n);
    }
    if (has_since) {
        res->recovered = rt_history_recover(&c->hist, since_offset, since_epoch, now,
                                            h->cfg.history_ttl_ms, &res->replay, &res->n_replay);
        atomic_fetch_add_explicit(res->recovered ? &h->rec_ok : &h->rec_failed, 1,
                                  memory_order_relaxed);
    }
    res->offset = c->hist.offset;
    memcpy(res->epoch, c->hist.epoch, sizeof(res->epoch));
    c->subs[thread]++;
    c->total++;
    pthread_mutex_unlock(&h->lock);

    struct rt_local *l = &h->locals[thread];
    struct lchan *lc = (struct lchan *)map_find(&l->chans, key.data, key.len, hash);
    if (!lc) {
        lc = xcalloc(1, sizeof(*lc) + key.len + 1);
        lc->nd.key = (char *)(lc + 1);
        memcpy(lc->nd.key, key.data, key.len + 1);
        lc->nd.key_len = key.len;
        lc->nd.hash = hash;
        map_insert(&l->chans, &lc->nd);
    }
    struct rt_sub *s = xcalloc(1, sizeof(*s));
    s->conn = conn;
    s->lc = lc;
    s->from = res->offset;
    if (lc->n == lc->cap) {
        lc->cap = lc->cap ? lc->cap * 2 : 4;
        lc->subs = xrealloc(lc->subs, lc->cap * sizeof(*lc->subs));
    }
    s->idx = lc->n;
    lc->subs[lc->n++] = s;
    atomic_fetch_add_explicit(&h->subscriptions, 1, memory_order_relaxed);
    buf_release(&key);
    return s;
}

void rt_hub_unsubscribe(struct rt_hub *h, unsigned thread, struct rt_sub *s)
{
    struct lchan *lc = s->lc;
    struct rt_sub *last = lc->subs[--lc->n];
    lc->subs[s->idx] = last;
    last->idx = s->idx;
    pthread_mutex_lock(&h->lock);
    struct chan *c = find_chan(h, lc->nd.key, lc->nd.key_len);
    if (c) {
        c->subs[thread]--;
        if (--c->total == 0)
            c->idle_since = clock_now_ms();
    }
    pthread_mutex_unlock(&h->lock);
    if (lc->n == 0) {
        map_remove(&h->locals[thread].chans, &lc->nd);
        free(lc->subs);
        free(lc);
    }
    atomic_fetch_sub_explicit(&h->subscriptions, 1, memory_order_relaxed);
    free(s);
}

const char *rt_sub_channel(const struct rt_sub *s)
{
    return s->lc->nd.key + strlen(s->lc->nd.key) + 1;
}

struct rt_sub **rt_sub_nextp(struct rt_sub *s)
{
    return &s->cnext;
}

/* ---- metrics -------------------------------------------------------------------------------- */

void rt_hub_count_pushed(struct rt_hub *h, uint64_t n, uint64_t bytes)
{
    atomic_fetch_add_explicit(&h->pushed, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->pushed_bytes, bytes, memory_order_relaxed);
}

void rt_hub_count_slow(struct rt_hub *h)
{
    atomic_fetch_add_explicit(&h->slow, 1, memory_order_relaxed);
}

void rt_hub_count_rejected(struct rt_hub *h)
{
    atomic_fetch_add_explicit(&h->rejected, 1, memory_order_relaxed);
}

static void counter(struct buf *out, const char *name, const char *help, uint64_t v)
{
    metrics_family(out, name, "counter", help);
    buf_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(struct buf *out, const char *name, const char *help, uint64_t v)
{
    metrics_family(out, name, "gauge", help);
    buf_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

void rt_hub_collect_metrics(struct buf *out, void *hub)
{
    struct rt_hub *h = hub;
    pthread_mutex_lock(&h->lock);
    uint64_t conns = h->connections, members = h->members, chans = h->chans.n;
    pthread_mutex_unlock(&h->lock);
    gauge(out, "reactor_ws_connections", "Open WebSocket connections.", conns);
    counter(out, "reactor_ws_connections_accepted_total", "WebSocket connections accepted.",
            atomic_load(&h->conns_total));
    counter(out, "reactor_ws_connections_rejected_total",
            "WebSocket upgrades refused by a connection limit.", atomic_load(&h->rejected));
    gauge(out, "reactor_ws_subscriptions", "Channel subscriptions of open connections.",
          atomic_load(&h->subscriptions));
    gauge(out, "reactor_ws_channels", "Channels with subscribers or recent history.", chans);
    counter(out, "reactor_ws_messages_published_total",
            "Messages published on channels (each serialised once).",
            atomic_load(&h->published));
    counter(out, "reactor_ws_messages_pushed_total",
            "Messages queued to connections (one per subscriber).", atomic_load(&h->pushed));
    counter(out, "reactor_ws_pushed_bytes_total", "Bytes of messages queued to connections.",
            atomic_load(&h->pushed_bytes));
    counter(out, "reactor_ws_slow_consumer_disconnects_total",
            "Connections closed because their send queue was full.", atomic_load(&h->slow));
    metrics_family(out, "reactor_ws_recoveries_total", "counter",
                   "Subscriptions with `since`, by whether every missed message was replayed.");
    buf_printf(out, "reactor_ws_recoveries_total{result=\"ok\"} %llu\n",
               (unsigned long long)atomic_load(&h->rec_ok));
    buf_printf(out, "reactor_ws_recoveries_total{result=\"failed\"} %llu\n",
               (unsigned long long)atomic_load(&h->rec_failed));
    gauge(out, "reactor_presence_members", "Members of presence rooms (WebSocket and HTTP).",
          members);
}
