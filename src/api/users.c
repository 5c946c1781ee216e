/* Users: POST /users (ADMIN or INGEST) upserts within the key's app; GET /users/:id and
 * GET /users/:id/profile (any key). A user of another app answers 404 like a missing one. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/utf8.h"
#include "engine/engine.h"
#include "engine/game.h"

#define USER_ID_MAX 128

static const struct api_field upsert_fields[] = {
    { "userId", API_STRING, API_REQUIRED, 1, USER_ID_MAX, api_check_user_id },
    { "attributes", API_OBJECT, 0, 0, 0, api_check_small_object },
};

static json_t *user_json(const struct store_user *u)
{
    json_t *attrs = json_loads(u->attributes ? u->attributes : "{}", 0, NULL);
    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "userId", u->user_id, "appId", u->app_id,
                     "attributes", attrs ? attrs : json_object(), "createdAt",
                     api_time(u->created_at), "updatedAt", api_time(u->updated_at));
}

struct upsert_ctx {
    char *user_id;
    char *attributes; /* NULL = keep */
};

static void upsert_ctx_free(void *p)
{
    struct upsert_ctx *x = p;
    free(x->user_id);
    free(x->attributes);
    free(x);
}

static void upsert_run(struct api_call *c, struct store *st)
{
    struct upsert_ctx *x = c->ctx;
    struct store_user u;
    bool created;
    char err[256];
    /* The user as it was, for the audit trail. */
    json_t *before = NULL;
    int rc = store_user_get(st, c->who.app_id, x->user_id, &u, err, sizeof(err));
    if (rc == 0) {
        before = user_json(&u);
        store_user_release(&u);
    } else if (rc != STORE_NOT_FOUND) {
        api_call_internal(c, "user read failed", err);
        return;
    }
    if (engine_before_attributes(c->api->engine, st, err, sizeof(err)) < 0) {
        json_decref(before);
        api_call_fail_batch(c, "reading the game logs back failed", err);
        return;
    }
    if (store_user_upsert(st, c->who.app_id, x->user_id, x->attributes, clock_now_ms(), &created,
                          &u, err, sizeof(err)) < 0) {
        json_decref(before);
        api_call_internal(c, "user upsert failed", err);
        return;
    }
    json_t *after = user_json(&u);
    rc = api_audit(c, NULL, "user.upsert", "user", x->user_id, before, after);
    json_decref(before);
    if (rc < 0) {
        json_decref(after);
        store_user_release(&u);
        return;
    }
    engine_user_attributes(c->api->engine, c->who.app_id, x->user_id, u.attributes);
    api_call_answer(c, 201, json_pack("{s:o}", "user", after));
    store_user_release(&u);
}

static void upsert_user(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ADMIN | API_ROLE_INGEST, &who) < 0)
        return;
    json_t *body = API_BODY(req, upsert_fields);
    if (!body)
        return;
    struct upsert_ctx *x = xcalloc(1, sizeof(*x));
    x->user_id = xstrdup(json_string_value(json_object_get(body, "userId")));
    const json_t *attrs = json_object_get(body, "attributes");
    if (attrs)
        x->attributes = json_dump_new(attrs);
    json_decref(body);
    struct api_call *c = api_call_new(api, req, &who);
    c->ctx = x;
    c->ctx_free = upsert_ctx_free;
    api_call_submit(c, upsert_run);
}

/* GET /users/:id, /users/:id/profile, /users/:id/achievements and /users/:id/ledger share
 * the lookup; ctx says which shape to answer. */
enum view { VIEW_USER, VIEW_PROFILE, VIEW_ACHIEVEMENTS, VIEW_LEDGER };

#define LEDGER_LIMIT_DEFAULT 50

struct get_ctx {
    char *user_id;
    enum view view;
    int limit;             /* ledger page */
    int64_t before;        /* ledger cursor: rows with seq below it */
    const char *kind;      /* ledger: "xp", "currency" or NULL (static) */
};

static void get_ctx_free(void *p)
{
    struct get_ctx *x = p;
    free(x->user_id);
    free(x);
}

static json_t *level_rows(const struct game_app *a, const struct game_user *g)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < g->n_xp; i++) {
        struct level_curve curve;
        struct level_info li;
        game_settings_curve(&a->settings, g->xp[i].track, &curve);
        level_of(&curve, g->xp[i].xp, &li);
        json_array_append_new(rows, json_pack("{s:s, s:I, s:I, s:I}", "track", g->xp[i].track,
                                              "totalXp", (json_int_t)g->xp[i].xp, "level",
                                              (json_int_t)li.level, "nextLevelXp",
                                              (json_int_t)li.next_level_xp));
    }
    return rows;
}

static json_t *streak_rows(const struct game_app *a, const struct game_user *g)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < g->n_streaks; i++) {
        const struct game_streak *s = &g->streaks[i];
        enum streak_mode mode = STREAK_DAILY;
        for (size_t j = 0; j < a->settings.n_streaks; j++)
            if (strcmp(a->settings.streaks[j].key, s->key) == 0)
                mode = a->settings.streaks[j].cfg.mode;
        char day[11];
        streak_unit_date(mode, s->s.last_unit, day);
        json_array_append_new(
            rows, json_pack("{s:s, s:s, s:i, s:i, s:o, s:i}", "key", s->key, "mode",
                            mode == STREAK_DAILY ? "daily" : "weekly", "current", s->s.current,
                            "best", s->s.best, "lastDay", *day ? json_string(day) : json_null(),
                            "freezesLeft", s->s.freezes_left));
    }
    return rows;
}

static json_t *currency_rows(const struct game_user *g)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < g->n_bal; i++)
        json_array_append_new(rows, json_pack("{s:s, s:I}", "currency", g->bal[i].currency,
                                              "balance", (json_int_t)g->bal[i].balance));
    return rows;
}

static json_t *tier_json(const struct achievement *ach)
{
    return ach->tier ? json_incref(ach->tier) : json_null();
}

/* Unlocked achievements (hidden ones too: they show once unlocked), in definition order. */
static json_t *unlocked_rows(const struct game_app *a, const struct game_user *g)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < a->n_achs; i++) {
        const struct game_claim *cl = game_user_claim(g, a->achs[i].id);
        if (!cl || cl->claims <= 0)
            continue;
        const struct achievement *ach = a->achs[i].ach;
        json_array_append_new(rows, json_pack("{s:s, s:s, s:o, s:o}", "code", ach->code, "name",
                                              ach->name, "tier", tier_json(ach), "unlockedAt",
                                              api_time(cl->unlocked_at)));
    }
    return rows;
}

/* Every achievement with this user's progress; hidden ones only once unlocked. */
static json_t *progress_rows(const struct game_app *a, const struct game_user *g)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < a->n_achs; i++) {
        const struct game_ach *ga = &a->achs[i];
        const struct achievement *ach = ga->ach;
        const struct game_claim *cl = game_user_claim(g, ga->id);
        int64_t claims = cl ? cl->claims : 0;
        if (ach->hidden && claims <= 0)
            continue;
        json_t *row = json_pack("{s:s, s:s, s:s, s:O, s:s, s:o, s:b, s:b}", "id", ga->id, "code",
                                ach->code, "name", ach->name, "description",
                                json_object_get(ga->doc, "description"), "kind",
                                ach->kind == ACH_MILESTONE ? "MILESTONE" : "CONDITIONAL",
                                "tier", tier_json(ach), "hidden", ach->hidden, "repeatable",
                                ach->repeatable);
        double progress = claims > 0 && !ach->repeatable ? 1.0 : 0.0;
        if (ach->kind == ACH_MILESTONE) {
            int64_t value = game_user_metric(a, g, ach);
            progress = achievement_progress(ach, value);
            json_object_set_new(row, "value", json_integer(value));
            json_object_set_new(row, "target", json_integer(ach->target));
        }
        json_object_set_new(row, "progress", json_real(progress));
        json_object_set_new(row, "claims", json_integer(claims));
        json_object_set_new(row, "unlockedAt", api_time(cl ? cl->unlocked_at : 0));
        json_array_append_new(rows, row);
    }
    return rows;
}

struct ledger_page {
    json_t *rows;
    const char *user_id;
    int64_t last_seq;
};

static void ledger_row(const struct store_ledger *l, void *arg)
{
    struct ledger_page *p = arg;
    json_array_append_new(p->rows, api_ledger_json(p->user_id, l));
    p->last_seq = l->seq;
}

static void get_run(struct api_call *c, struct store *st)
{
    struct get_ctx *x = c->ctx;
    struct engine *e = c->api->engine;
    struct store_user u;
    char err[256];
    int rc = store_user_get(st, c->who.app_id, x->user_id, &u, err, sizeof(err));
    if (rc == STORE_NOT_FOUND) {
        api_call_error(c, 404, "not_found", "User not found");
        return;
    }
    if (rc < 0) {
        api_call_internal(c, "user read failed", err);
        return;
    }
    if (x->view == VIEW_USER) {
        api_call_answer(c, 200, json_pack("{s:o}", "user", user_json(&u)));
        store_user_release(&u);
        return;
    }
    if (x->view == VIEW_LEDGER) {
        struct ledger_page p = { json_array(), x->user_id, 0 };
        json_t *rows = p.rows;
        if (engine_ledger_page(e, st, c->who.app_id, x->user_id, x->before, x->limit, x->kind,
                               ledger_row, &p, err, sizeof(err)) < 0) {
            json_decref(rows);
            store_user_release(&u);
            api_call_internal(c, "ledger read failed", err);
            return;
        }
        /* The cursor is the last row's sequence number: the next page starts below it. */
        json_t *next = json_array_size(rows) == (size_t)x->limit && p.last_seq > 1
                           ? json_sprintf("%lld", (long long)p.last_seq)
                           : json_null();
        api_call_answer(c, 200, json_pack("{s:o, s:o}", "rows", rows, "nextCursor", next));
        store_user_release(&u);
        return;
    }
    struct game_app *a = engine_app(e, st, c->who.app_id, err, sizeof(err));
    struct game_user *g = NULL;
    if (!a || (rc = engine_user(e, st, c->who.app_id, x->user_id, &g, err, sizeof(err))) < 0) {
        store_user_release(&u);
        api_call_internal(c, "reading the user's game state failed", err);
        return;
    }
    if (x->view == VIEW_PROFILE)
        api_call_answer(c, 200,
                        json_pack("{s:o, s:o, s:o, s:o, s:o}", "user", user_json(&u), "levels",
                                  level_rows(a, g), "streaks", streak_rows(a, g), "currencies",
                                  currency_rows(g), "achievements", unlocked_rows(a, g)));
    else
        api_call_answer(c, 200, json_pack("{s:s, s:o}", "userId", x->user_id, "achievements",
                                          progress_rows(a, g)));
    store_user_release(&u);
}

/* ?limit=&cursor=&kind= of the ledger: 0, or -1 once answered 400. */
static int ledger_query(struct http_request *req, struct get_ctx *x)
{
    struct buf v;
    buf_init(&v);
    json_t *details = json_object();
    x->before = INT64_MAX;
    int rc = api_page_query(req, LEDGER_LIMIT_DEFAULT, &x->limit, &x->before, details);
    if (rc >= 0 && (rc = http_request_query(req, "kind", &v)) > 0) {
        if (strcmp(v.data, "xp") == 0)
            x->kind = "xp";
        else if (strcmp(v.data, "currency") == 0)
            x->kind = "currency";
        else
            json_object_set_new(details, "kind", json_string("must be \"xp\" or \"currency\""));
    }
    buf_release(&v);
    return api_query_finish(req, rc, details);
}

static void get_user_common(struct http_request *req, struct api *api, enum view view)
{
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ANY, &who) < 0)
        return;
    const char *id = http_request_param(req, "id");
    if (utf8_chars(id) > USER_ID_MAX) {
        http_respond_error(req, 404, "not_found", "User not found");
        return;
    }
    struct get_ctx *x = xcalloc(1, sizeof(*x));
    x->user_id = xstrdup(id);
    x->view = view;
    if (view == VIEW_LEDGER && ledger_query(req, x) < 0) {
        get_ctx_free(x);
        return;
    }
    struct api_call *c = api_call_new(api, req, &who);
    c->ctx = x;
    c->ctx_free = get_ctx_free;
    api_call_submit(c, get_run);
}

static void get_user(struct http_request *req, void *arg)
{
    get_user_common(req, arg, VIEW_USER);
}

static void get_profile(struct http_request *req, void *arg)
{
    get_user_common(req, arg, VIEW_PROFILE);
}

static void get_achievements(struct http_request *req, void *arg)
{
    get_user_common(req, arg, VIEW_ACHIEVEMENTS);
}

static void get_ledger(struct http_request *req, void *arg)
{
    get_user_common(req, arg, VIEW_LEDGER);
}

int api_users_register(struct router *r, struct api *api)
{
    if (router_add(r, HTTP_POST, "/users", upsert_user, api) < 0 ||
        router_add(r, HTTP_GET, "/users/:id", get_user, api) < 0 ||
        router_add(r, HTTP_GET, "/users/:id/profile", get_profile, api) < 0 ||
        router_add(r, HTTP_GET, "/users/:id/achievements", get_achievements, api) < 0 ||
        router_add(r, HTTP_GET, "/users/:id/ledger", get_ledger, api) < 0)
        return -1;
    return 0;
}
