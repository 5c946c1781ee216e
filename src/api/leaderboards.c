/* Leaderboards (any key): GET /leaderboards (top N, paged), /leaderboards/rank/:userId and
 * /leaderboards/around/:userId.
 *
 * Reads of a board in memory are answered on the I/O thread under the boards' read lock, with
 * the JSON written straight into the answer: no store, no hand-off, no tree. A board that is
 * only in the store (evicted) is loaded on the engine thread first, and a league's board is
 * made there from its members' scores (leagues.c); both are then answered by the same code. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/utf8.h"
#include "engine/boards.h"
#include "engine/engine.h"

#define LB_LIMIT_DEFAULT 50
#define LB_LIMIT_MAX 200
#define AROUND_DEFAULT 5
#define AROUND_MAX 100
#define LB_USER_ID_MAX BOARDS_MEMBER_MAX
#define LB_LEAGUE_ID_MAX 100

enum lb_view { LB_TOP, LB_RANK, LB_AROUND };
enum lb_scope { LB_APP, LB_GLOBAL, LB_LEAGUE };
static const char *const scope_names[] = { "APP", "GLOBAL", "LEAGUE" };

struct lb_query {
    enum lb_view view;
    enum lb_scope scope;
    char app_id[TENANT_APP_ID_MAX + 1];
    char metric[BOARDS_METRIC_MAX + 1];
    char period[BOARDS_PERIOD_MAX];
    char league[LB_LEAGUE_ID_MAX + 1];
    char user[LB_USER_ID_MAX + 1];   /* rank and around */
    size_t user_len;
    size_t limit;                    /* rows (top) or rows each side (around) */
    size_t offset;
    bool cursor;                     /* start after (c_score, c_at, c_user) */
    int64_t c_score, c_at;
    char c_user[LB_USER_ID_MAX + 1];
    size_t c_user_len;
};

/* ---- answers ------------------------------------------------------------------------------ */

static void put_row(struct buf *o, const struct rank_entry *e, size_t rank)
{
    buf_puts(o, "{\"userId\":");
    buf_append_json_string(o, e->member, e->member_len);
    buf_puts(o, ",\"score\":");
    buf_append_i64(o, e->score);
    buf_puts(o, ",\"rank\":");
    buf_append_u64(o, rank + 1);
    buf_putc(o, '}');
}

static void put_context(struct buf *o, const struct lb_query *q, size_t total)
{
    buf_puts(o, "\"metric\":");
    buf_append_json_string(o, q->metric, strlen(q->metric));
    buf_puts(o, ",\"scope\":\"");
    buf_puts(o, scope_names[q->scope]);
    buf_puts(o, "\",\"periodKey\":");
    buf_append_json_string(o, q->period, strlen(q->period));
    if (q->scope == LB_LEAGUE) {
        buf_puts(o, ",\"leagueId\":");
        buf_append_json_string(o, q->league, strlen(q->league));
    }
    buf_puts(o, ",\"total\":");
    buf_append_u64(o, total);
}

/* Writes the answer of q from index x (NULL: the board does not exist) into o: the HTTP
 * status, or 404 with *message set. */
static int render(const struct lb_query *q, const struct rank_index *x, struct buf *o,
                  const char **message)
{
    size_t total = x ? rank_size(x) : 0;
    struct rank_entry rows[2 * AROUND_MAX + 1 > LB_LIMIT_MAX ? 2 * AROUND_MAX + 1 : LB_LIMIT_MAX];
    if (q->view == LB_TOP) {
        size_t start = q->offset;
        if (q->cursor && x) {
            start = rank_before(x, q->c_score, q->c_at, q->c_user, q->c_user_len);
            struct rank_entry e;
            if (rank_get(x, q->c_user, q->c_user_len, &e, NULL) && e.score == q->c_score &&
                e.at == q->c_at)
                start++; /* the cursor's row is still where it was: skip it */
        }
        size_t n = x ? rank_range(x, start, rows, q->limit) : 0;
        buf_puts(o, "{\"rows\":[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                buf_putc(o, ',');
            put_row(o, &rows[i], start + i);
        }
        buf_puts(o, "],");
        put_context(o, q, total);
        buf_puts(o, ",\"nextCursor\":");
        if (n && start + n < total) {
            buf_putc(o, '"');
            boards_cursor_write(o, &rows[n - 1]);
            buf_putc(o, '"');
        } else {
            buf_puts(o, "null");
        }
        buf_putc(o, '}');
        return 200;
    }
    struct rank_entry me;
    size_t rank, lo = 0, n = 0;
    bool found;
    if (q->view == LB_AROUND) {
        found = x && rank_around(x, q->user, q->user_len, q->limit, q->limit, rows, &n, &rank,
                                 &lo);
        if (found)
            me = rows[rank - lo];
    } else {
        found = x && rank_get(x, q->user, q->user_len, &me, &rank);
    }
    if (!found) {
        *message = "User not on the leaderboard";
        return 404;
    }
    if (q->view == LB_RANK) {
        buf_puts(o, "{\"userId\":");
        buf_append_json_string(o, me.member, me.member_len);
        buf_puts(o, ",\"score\":");
        buf_append_i64(o, me.score);
        buf_puts(o, ",\"rank\":");
        buf_append_u64(o, rank + 1);
        buf_putc(o, ',');
        put_context(o, q, total);
        buf_putc(o, '}');
        return 200;
    }
    buf_puts(o, "{\"userId\":");
    buf_append_json_string(o, me.member, me.member_len);
    buf_puts(o, ",\"rank\":");
    buf_append_u64(o, rank + 1);
    buf_puts(o, ",\"rows\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(o, ',');
        put_row(o, &rows[i], lo + i);
    }
    buf_puts(o, "],");
    put_context(o, q, total);
    buf_putc(o, '}');
    return 200;
}

/* ---- the top-N cache ----------------------------------------------------------------------
 * A board is read far more often than it changes, and its first page is what most clients
 * ask for. So each I/O thread keeps the last few top-N answers it wrote, keyed by the index's
 * version (core/rank.h: a new one with every change, never the same for two indexes) and by
 * the rest of what shapes the answer (scope, offset, limit; the app, metric and period are
 * the index's own). A hit is one copy; a change to the board gives it a new version, so a
 * stale answer is never served. Thread-local: no lock, no sharing, freed with the thread. */
#define TOP_CACHE_SLOTS 4

struct top_slot {
    uint64_t version; /* 0: empty (versions start at 1) */
    enum lb_scope scope;
    size_t offset, limit;
    struct buf body;
};

struct top_cache {
    struct top_slot slot[TOP_CACHE_SLOTS];
    unsigned next; /* the slot a miss fills next */
};

static pthread_once_t top_once = PTHREAD_ONCE_INIT;
static pthread_key_t top_key;
static bool top_key_ok;

static void top_cache_free(void *p)
{
    struct top_cache *tc = p;
    for (size_t i = 0; i < TOP_CACHE_SLOTS; i++)
        buf_release(&tc->slot[i].body);
    free(tc);
}

static void top_init(void)
{
    top_key_ok = pthread_key_create(&top_key, top_cache_free) == 0;
}

/* This thread's cache, NULL if it cannot have one. */
static struct top_cache *top_cache(void)
{
    pthread_once(&top_once, top_init);
    if (!top_key_ok)
        return NULL;
    struct top_cache *tc = pthread_getspecific(top_key);
    if (tc)
        return tc;
    tc = xcalloc(1, sizeof(*tc));
    for (size_t i = 0; i < TOP_CACHE_SLOTS; i++)
        buf_init(&tc->slot[i].body);
    if (pthread_setspecific(top_key, tc) != 0) {
        free(tc);
        return NULL;
    }
    return tc;
}

static struct top_slot *top_find(struct top_cache *tc, uint64_t version,
                                 const struct lb_query *q)
{
    for (size_t i = 0; i < TOP_CACHE_SLOTS; i++) {
        struct top_slot *t = &tc->slot[i];
        if (t->version == version && t->scope == q->scope && t->offset == q->offset &&
            t->limit == q->limit)
            return t;
    }
    return NULL;
}

static void top_keep(struct top_cache *tc, uint64_t version, const struct lb_query *q,
                     const struct buf *body)
{
    struct top_slot *t = &tc->slot[tc->next];
    tc->next = (tc->next + 1) % TOP_CACHE_SLOTS;
    t->version = version;
    t->scope = q->scope;
    t->offset = q->offset;
    t->limit = q->limit;
    buf_reset(&t->body);
    buf_append(&t->body, body->data, body->len);
}

/* ---- on the engine thread ----------------------------------------------------------------- */

static void engine_run(struct api_call *c, struct store *st)
{
    const struct lb_query *q = c->ctx;
    struct api *api = c->api;
    char err[256];
    const struct rank_index *x = NULL;
    struct rank_index *league = NULL;
    int64_t now = clock_now_ms();
    if (q->scope == LB_LEAGUE) {
        int rc = api_league_board(api, st, q->app_id, q->league, q->metric, q->period, now,
                                  &league, err, sizeof(err));
        if (rc == STORE_NOT_FOUND) {
            api_call_error(c, 404, "not_found", "League not found");
            return;
        }
        if (rc < 0) {
            api_call_internal(c, "reading a league's board failed", err);
            return;
        }
        x = league;
    } else {
        struct boards *b = engine_boards(api->engine);
        int rc = boards_load_one(b, st, q->app_id, q->metric, q->period, now, err, sizeof(err));
        if (rc < 0 && rc != STORE_NOT_FOUND) {
            api_call_internal(c, "loading a leaderboard failed", err);
            return;
        }
        /* The engine thread is the boards' only writer: it reads without their lock. */
        boards_find(b, q->app_id, q->metric, q->period, now, &x);
    }
    const char *message = NULL;
    int status = render(q, x, &c->raw, &message);
    if (league)
        rank_free(league);
    if (status != 200) {
        buf_reset(&c->raw);
        api_call_error(c, status, "not_found", message);
        return;
    }
    c->status = status;
}

/* ---- the routes --------------------------------------------------------------------------- */

/* details is made with its first entry: a good query allocates nothing. */
static void detail(json_t **details, const char *field, const char *message)
{
    if (!*details)
        *details = json_object();
    json_object_set_new(*details, field, json_string(message));
}

/* Reads the query into q: 0, or -1 once answered 400. */
static int parse_query(struct http_request *req, struct api *api, struct lb_query *q)
{
    struct buf v;
    buf_init(&v);
    json_t *details = NULL;
    int bad_query = 0;
    char *end;

    strcpy(q->metric, "Builder XP");
    int rc = http_request_query(req, "metric", &v);
    bad_query |= rc < 0;
    if (rc > 0) {
        if (v.len == 0 || v.len > BOARDS_METRIC_MAX || strlen(v.data) != v.len)
            detail(&details, "metric", "must be a track name (or currency:<name>)");
        else
            memcpy(q->metric, v.data, v.len + 1);
    }
    buf_reset(&v);
    q->scope = LB_APP;
    if ((rc = http_request_query(req, "scope", &v)) > 0) {
        if (strcmp(v.data, "APP") == 0)
            q->scope = LB_APP;
        else if (strcmp(v.data, "GLOBAL") == 0)
            q->scope = LB_GLOBAL;
        else if (strcmp(v.data, "LEAGUE") == 0)
            q->scope = LB_LEAGUE;
        else
            detail(&details, "scope", "must be GLOBAL, APP or LEAGUE");
    }
    bad_query |= rc < 0;
    buf_reset(&v);
    if ((rc = http_request_query(req, "periodKey", &v)) > 0) {
        if (v.len >= BOARDS_PERIOD_MAX || strlen(v.data) != v.len ||
            !boards_period_valid(v.data))
            detail(&details, "periodKey",
                   "must be all, YYYY-MM-DD, YYYY-Www, YYYY-MM or season:<id>");
        else
            memcpy(q->period, v.data, v.len + 1);
    } else {
        char tz[TZ_NAME_MAX + 1] = "";
        tenant_app_board_tz(api->tenants, q->app_id, tz);
        boards_today(tz, clock_now_ms(), q->period);
    }
    bad_query |= rc < 0;
    buf_reset(&v);
    if ((rc = http_request_query(req, "leagueId", &v)) > 0) {
        if (v.len == 0 || v.len > LB_LEAGUE_ID_MAX || strlen(v.data) != v.len)
            detail(&details, "leagueId", "must be a league id");
        else
            memcpy(q->league, v.data, v.len + 1);
    }
    bad_query |= rc < 0;
    if (q->scope == LB_LEAGUE && !q->league[0] &&
        !(details && json_object_get(details, "leagueId")))
        detail(&details, "leagueId", "is required with scope LEAGUE");
    buf_reset(&v);
    size_t def = q->view == LB_AROUND ? AROUND_DEFAULT : LB_LIMIT_DEFAULT;
    size_t max = q->view == LB_AROUND ? AROUND_MAX : LB_LIMIT_MAX;
    q->limit = def;
    if ((rc = http_request_query(req, "limit", &v)) > 0) {
        long n = strtol(v.data, &end, 10);
        if (*end || !*v.data || n < 1 || (size_t)n > max)
            detail(&details, "limit",
                   q->view == LB_AROUND ? "must be an integer from 1 to 100"
                                        : "must be an integer from 1 to 200");
        else
            q->limit = (size_t)n;
    }
    bad_query |= rc < 0;
    buf_reset(&v);
    if (q->view == LB_TOP && (rc = http_request_query(req, "offset", &v)) > 0) {
        long long n = strtoll(v.data, &end, 10);
        if (*end || !*v.data || n < 0 || n > 1000000000)
            detail(&details, "offset", "must be an integer from 0 to 1000000000");
        else
            q->offset = (size_t)n;
    }
    bad_query |= rc < 0;
    buf_reset(&v);
    if (q->view == LB_TOP && (rc = http_request_query(req, "cursor", &v)) > 0) {
        if (strlen(v.data) != v.len ||
            boards_cursor_parse(v.data, &q->c_score, &q->c_at, q->c_user, &q->c_user_len) < 0)
            detail(&details, "cursor", "must be a nextCursor value");
        else if (q->offset)
            detail(&details, "offset", "cannot be used with cursor");
        else
            q->cursor = true;
    }
    bad_query |= rc < 0;
    buf_release(&v);
    if (bad_query)
        detail(&details, "query", "is malformed");
    if (details) {
        http_respond_error_details(req, 400, "validation_failed", "Validation failed", details);
        return -1;
    }
    json_decref(details);
    return 0;
}

static void serve(struct http_request *req, struct api *api, enum lb_view view)
{
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ANY, &who) < 0)
        return;
    struct lb_query *q = &(struct lb_query){ .view = view }; /* copied if it must wait */
    strcpy(q->app_id, who.app_id);
    if (view != LB_TOP) {
        const char *id = http_request_param(req, "userId");
        size_t len = strlen(id);
        if (len == 0 || len > LB_USER_ID_MAX || utf8_has_control(id)) {
            http_respond_error(req, 404, "not_found", "User not on the leaderboard");
            return;
        }
        memcpy(q->user, id, len + 1);
        q->user_len = len;
    }
    if (parse_query(req, api, q) < 0)
        return;
    if (q->scope != LB_LEAGUE) {
        struct boards *b = engine_boards(api->engine);
        struct top_cache *tc = q->view == LB_TOP && !q->cursor ? top_cache() : NULL;
        const struct rank_index *x;
        struct buf out;
        buf_init(&out);
        const char *message = NULL;
        boards_read_lock(b);
        enum board_state state = boards_find(b, q->app_id, q->metric, q->period,
                                             clock_now_ms(), &x);
        uint64_t version = state == BOARD_LOADED ? rank_version(x) : 0;
        struct top_slot *hit = tc && version ? top_find(tc, version, q) : NULL;
        int status = 200;
        if (!hit) {
            buf_grow(&out, 256 + (q->view == LB_AROUND ? 2 * q->limit + 1 : q->limit) * 96);
            status = state == BOARD_STORED ? 0 : render(q, x, &out, &message);
        }
        boards_read_unlock(b);
        if (hit) { /* this thread's own slot: no lock needed to read it */
            http_respond(req, 200, "application/json", hit->body.data, hit->body.len);
            return;
        }
        if (status == 200 && tc && version)
            top_keep(tc, version, q, &out);
        if (status) {
            if (status == 200)
                http_respond(req, 200, "application/json", out.data, out.len);
            else
                http_respond_error(req, status, "not_found", message);
            buf_release(&out);
            return;
        }
        buf_release(&out);
    }
    struct api_call *c = api_call_new(api, req, &who);
    c->ctx = memcpy(xmalloc(sizeof(*q)), q, sizeof(*q));
    c->ctx_free = free;
    api_call_submit(c, engine_run);
}

static void get_top(struct http_request *req, void *arg)
{
    serve(req, arg, LB_TOP);
}

static void get_rank(struct http_request *req, void *arg)
{
    serve(req, arg, LB_RANK);
}

static void get_around(struct http_request *req, void *arg)
{
    serve(req, arg, LB_AROUND);
}

int api_leaderboards_register(struct router *r, struct api *api)
{
    if (router_add(r, HTTP_GET, "/leaderboards", get_top, api) < 0 ||
        router_add(r, HTTP_GET, "/leaderboards/rank/:userId", get_rank, api) < 0 ||
        router_add(r, HTTP_GET, "/leaderboards/around/:userId", get_around, api) < 0)
        return -1;
    return 0;
}
