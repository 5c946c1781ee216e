/* Leagues (ADMIN key to write, any key to read):
 *   POST /leagues                          201 {league}
 *   GET /leagues?tier=&seasonId=           200 {leagues: [...]}
 *   GET /leagues/:id                       200 {league: {..., members, results}}
 *   PUT /leagues/:id, PATCH /leagues/:id   200 {league}
 *   DELETE /leagues/:id                    204
 *   POST /leagues/:id/members {userId}     201 {member}
 *   DELETE /leagues/:id/members/:userId    204
 *   POST /leagues/assign {userId, tier, seasonId?}   201 {league, created}
 *   POST /leagues/:id/settle               200 {league, results}
 * Everything runs on the engine thread (the store is the truth for members); a league's board
 * (scope LEAGUE of the leaderboard routes) is made there from its members' scores. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/rank.h"
#include "core/utf8.h"
#include "core/uuid.h"
#include "engine/boards.h"
#include "engine/engine.h"
#include "engine/game.h"
#include "engine/league.h"

#define LEAGUE_ID_MAX 100
#define LEAGUE_USER_ID_MAX 128
#define DEFAULT_METRIC "Builder XP"

enum op {
    OP_CREATE, OP_LIST, OP_GET, OP_REPLACE, OP_PATCH, OP_DELETE, OP_JOIN, OP_LEAVE, OP_ASSIGN,
    OP_SETTLE
};

static const struct api_field league_fields[] = {
    { "name", API_STRING, API_REQUIRED, 1, 200, NULL },
    { "tier", API_INTEGER, API_REQUIRED, LEAGUE_TIER_MIN, LEAGUE_TIER_MAX, NULL },
    { "seasonId", API_STRING, API_NULLABLE, 1, 100, api_check_id },
    { "maxMembers", API_INTEGER, API_NULLABLE, 1, LEAGUE_MEMBERS_MAX, NULL },
    { "promotionSlots", API_INTEGER, API_NULLABLE, 0, LEAGUE_MEMBERS_MAX, NULL },
    { "demotionSlots", API_INTEGER, API_NULLABLE, 0, LEAGUE_MEMBERS_MAX, NULL },
    { "groupingKey", API_STRING, API_NULLABLE, 1, 200, NULL },
    { "metric", API_STRING, API_NULLABLE, 1, 64, NULL },
};

static const struct api_field member_fields[] = {
    { "userId", API_STRING, API_REQUIRED, 1, LEAGUE_USER_ID_MAX, api_check_user_id },
};

static const struct api_field assign_fields[] = {
    { "userId", API_STRING, API_REQUIRED, 1, LEAGUE_USER_ID_MAX, api_check_user_id },
    { "tier", API_INTEGER, API_REQUIRED, LEAGUE_TIER_MIN, LEAGUE_TIER_MAX, NULL },
    { "seasonId", API_STRING, API_NULLABLE, 1, 100, api_check_id },
};

struct league_ctx {
    enum op op;
    char *id;          /* the league */
    char *user_id;     /* join, leave, assign */
    json_t *body;      /* create, replace, patch (the fields given), assign */
    int64_t tier;      /* list filter (-1 none), assign */
    char *season;      /* list filter, assign (NULL none) */
};

static void ctx_free(void *p)
{
    struct league_ctx *x = p;
    free(x->id);
    free(x->user_id);
    json_decref(x->body);
    free(x->season);
    free(x);
}

/* ---- bodies and documents ----------------------------------------------------------------- */

static int64_t int_or(const json_t *body, const char *name, int64_t def)
{
    const json_t *v = json_object_get(body, name);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

static const char *str_or(const json_t *body, const char *name, const char *def)
{
    const json_t *v = json_object_get(body, name);
    return json_is_string(v) ? json_string_value(v) : def;
}

/* The stored body: every field, defaults filled in. */
static json_t *normalize(const json_t *in)
{
    const char *season = str_or(in, "seasonId", NULL), *group = str_or(in, "groupingKey", NULL);
    /* Slots not given default to 5, or to the whole league when it is smaller. */
    int64_t max = int_or(in, "maxMembers", 50), slots = max < 5 ? max : 5;
    return json_pack("{s:s, s:I, s:o, s:I, s:I, s:I, s:o, s:s}", "name",
                     str_or(in, "name", ""), "tier", (json_int_t)int_or(in, "tier", 1),
                     "seasonId", season ? json_string(season) : json_null(), "maxMembers",
                     (json_int_t)max, "promotionSlots",
                     (json_int_t)int_or(in, "promotionSlots", slots), "demotionSlots",
                     (json_int_t)int_or(in, "demotionSlots", slots), "groupingKey",
                     group ? json_string(group) : json_null(), "metric",
                     str_or(in, "metric", DEFAULT_METRIC));
}

/* Checks across fields of a normalized body: NULL, or the details of what is wrong. */
static json_t *cross_check(const json_t *b)
{
    int64_t max = int_or(b, "maxMembers", 50), up = int_or(b, "promotionSlots", 5),
            down = int_or(b, "demotionSlots", 5);
    json_t *details = json_object();
    if (up > max)
        json_object_set_new(details, "promotionSlots", json_string("must be <= maxMembers"));
    if (down > max)
        json_object_set_new(details, "demotionSlots", json_string("must be <= maxMembers"));
    if (json_object_size(details))
        return details;
    json_decref(details);
    return NULL;
}

static json_t *league_doc(const char *app_id, const struct store_league *l)
{
    json_t *body = json_loads(l->body, 0, NULL);
    json_t *doc = json_pack("{s:s, s:s}", "id", l->id, "appId", app_id);
    if (json_is_object(body))
        json_object_update(doc, body);
    json_decref(body);
    json_object_set_new(doc, "memberCount", json_integer(l->members));
    json_object_set_new(doc, "createdAt", api_time(l->created_at));
    json_object_set_new(doc, "updatedAt", api_time(l->updated_at));
    json_object_set_new(doc, "settledAt", api_time(l->settled_at));
    return doc;
}

static json_t *body_of(const struct store_league *l)
{
    json_t *b = json_loads(l->body, 0, NULL);
    if (!json_is_object(b)) {
        json_decref(b);
        b = json_object();
    }
    return b;
}

/* "season:<id>" for a league of a season, else "all": the board its members are ranked on. */
static void league_period(const json_t *body, char out[BOARDS_PERIOD_MAX])
{
    const char *season = str_or(body, "seasonId", NULL);
    if (season)
        snprintf(out, BOARDS_PERIOD_MAX, "season:%s", season);
    else
        strcpy(out, "all");
}

/* ---- a league's board --------------------------------------------------------------------- */

struct members_ctx {
    const struct rank_index *board;
    struct rank_entry *v;
    size_t n, cap;
};

static void member_score(const char *user, int64_t joined_at, void *arg)
{
    (void)joined_at;
    struct members_ctx *m = arg;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
    }
    size_t len = strlen(user);
    struct rank_entry e = { xstrdup(user), len, 0, INT64_MAX }; /* no score: after all who have one */
    struct rank_entry on;
    if (m->board && rank_get(m->board, user, len, &on, NULL)) {
        e.score = on.score;
        e.at = on.at;
    }
    m->v[m->n++] = e;
}

int api_league_board(struct api *api, struct store *st, const char *app_id,
                     const char *league_id, const char *metric, const char *period,
                     int64_t now_ms, struct rank_index **out, char *err, size_t errlen)
{
    struct store_league l;
    int rc = store_league_get(st, app_id, league_id, &l, err, errlen);
    if (rc < 0)
        return rc;
    store_league_release(&l);
    struct boards *b = engine_boards(api->engine);
    rc = boards_load_one(b, st, app_id, metric, period, now_ms, err, errlen);
    if (rc < 0 && rc != STORE_NOT_FOUND)
        return -1;
    struct members_ctx m = { NULL, NULL, 0, 0 };
    boards_find(b, app_id, metric, period, now_ms, &m.board);
    rc = store_league_members_each(st, app_id, league_id, member_score, &m, err, errlen);
    if (rc == 0) {
        *out = rank_new(0); /* at most LEAGUE_MEMBERS_MAX members, chosen by an admin */
        rank_load(*out, m.v, m.n);
    }
    for (size_t i = 0; i < m.n; i++)
        free((char *)m.v[i].member);
    free(m.v);
    return rc;
}

/* ---- on the engine thread ----------------------------------------------------------------- */

static void member_json(const char *user, int64_t joined_at, void *arg)
{
    json_array_append_new(arg, json_pack("{s:s, s:o}", "userId", user, "joinedAt",
                                         api_time(joined_at)));
}

static void result_json(const struct store_league_result *r, void *arg)
{
    json_array_append_new(arg, json_pack("{s:s, s:I, s:I, s:s, s:I}", "userId", r->user_id,
                                         "rank", (json_int_t)r->rank, "score",
                                         (json_int_t)r->score, "outcome", r->outcome,
                                         "tierAfter", (json_int_t)r->tier_after));
}

static void list_one(const struct store_league *l, void *arg)
{
    void **a = arg;
    json_array_append_new(a[0], league_doc(a[1], l));
}

/* 400 validation_failed with details (consumed), as api_validate answers. */
static void validation_failed(struct api_call *c, json_t *details)
{
    api_call_answer(c, 400, json_pack("{s:s, s:s, s:o}", "error", "Validation failed", "code",
                                      "validation_failed", "details", details));
}

/* The user must exist in the app: 0, or -1 once answered. */
static int check_user(struct api_call *c, struct store *st, const char *user_id)
{
    char err[256];
    int rc = store_user_exists(st, c->who.app_id, user_id, err, sizeof(err));
    if (rc == STORE_NOT_FOUND) {
        api_call_error(c, 404, "not_found", "User not found");
        return -1;
    }
    if (rc < 0) {
        api_call_internal(c, "reading a user failed", err);
        return -1;
    }
    return 0;
}

/* The season must exist in the app: 0, or -1 once answered. */
static int check_season(struct api_call *c, struct store *st, const char *season)
{
    if (!season)
        return 0;
    char err[256];
    struct game_app *a = engine_app(c->api->engine, st, c->who.app_id, err, sizeof(err));
    if (!a) {
        api_call_internal(c, "loading the app's game model failed", err);
        return -1;
    }
    if (!game_app_season(a, season)) {
        validation_failed(c, json_pack("{s:s}", "seasonId", "is not a season of this app"));
        return -1;
    }
    return 0;
}

/* Adds the user to league l: 0 (answered by the caller), or -1 once answered. */
static int join(struct api_call *c, struct store *st, const struct store_league *l,
                const char *user_id, int64_t now)
{
    char err[256];
    json_t *body = body_of(l);
    int64_t max = int_or(body, "maxMembers", 50);
    json_decref(body);
    if (l->settled_at) {
        api_call_error(c, 409, "conflict", "League is settled");
        return -1;
    }
    if (l->members >= max) {
        api_call_error(c, 409, "conflict", "League is full");
        return -1;
    }
    int rc = store_league_member_add(st, c->who.app_id, l->id, user_id, l->season_key, now, err,
                                     sizeof(err));
    if (rc == STORE_CONFLICT) {
        char *in = NULL;
        rc = store_league_of_user(st, c->who.app_id, l->season_key, user_id, &in, err,
                                  sizeof(err));
        if (rc == 0 && strcmp(in, l->id) == 0)
            api_call_error(c, 409, "conflict", "User is already a member of this league");
        else if (rc == 0)
            api_call_answer(c, 409, json_pack("{s:s, s:s, s:s}", "error",
                                              "User is already in a league of this season",
                                              "code", "conflict", "leagueId", in));
        else
            api_call_internal(c, "reading a membership failed", err);
        free(in);
        return -1;
    }
    if (rc < 0) {
        api_call_fail_batch(c, "adding a league member failed", err);
        return -1;
    }
    return 0;
}

struct pick_ctx {
    struct store_league found;
    bool ok;
    int64_t seen;
};

static void pick_room(const struct store_league *l, void *arg)
{
    struct pick_ctx *p = arg;
    p->seen++;
    if (p->ok || l->settled_at)
        return;
    json_t *body = json_loads(l->body, 0, NULL);
    int64_t max = int_or(body, "maxMembers", 50);
    json_decref(body);
    if (l->members < max) {
        p->found = *l;
        p->found.id = xstrdup(l->id);
        p->found.body = xstrdup(l->body);
        p->found.season_key = xstrdup(l->season_key);
        p->ok = true;
    }
}

static int save(struct api_call *c, struct store *st, const char *id, const json_t *body,
                int64_t created, int64_t now)
{
    char err[256];
    const char *season = str_or(body, "seasonId", NULL);
    struct store_league l = { .id = (char *)id, .body = json_dump_new(body),
                              .tier = int_or(body, "tier", 1),
                              .season_key = (char *)(season ? season : ""),
                              .created_at = created, .updated_at = now };
    int rc = store_league_put(st, c->who.app_id, &l, err, sizeof(err));
    free(l.body);
    if (rc < 0)
        api_call_fail_batch(c, "saving a league failed", err);
    return rc;
}

static void answer_league(struct api_call *c, struct store *st, const char *id, int status,
                          bool created_flag, bool with_created)
{
    char err[256];
    struct store_league l;
    int rc = store_league_get(st, c->who.app_id, id, &l, err, sizeof(err));
    if (rc < 0) {
        api_call_internal(c, "reading a league failed", err);
        return;
    }
    json_t *doc = league_doc(c->who.app_id, &l);
    store_league_release(&l);
    if (with_created)
        api_call_answer(c, status, json_pack("{s:o, s:b}", "league", doc, "created",
                                             created_flag));
    else
        api_call_answer(c, status, json_pack("{s:o}", "league", doc));
}

/* The league change's audit row, with the league as stored now as `after` (and `extra`'s
 * members, consumed, added to it). 0, or -1 once the batch is failed. */
static int audit_league(struct api_call *c, struct store *st, const char *action,
                        const char *id, const json_t *before, json_t *extra)
{
    char err[256];
    struct store_league l;
    if (store_league_get(st, c->who.app_id, id, &l, err, sizeof(err)) < 0) {
        json_decref(extra);
        api_call_fail_batch(c, "reading a league for the audit trail failed", err);
        return -1;
    }
    json_t *after = league_doc(c->who.app_id, &l);
    store_league_release(&l);
    if (extra)
        json_object_update(after, extra);
    json_decref(extra);
    int rc = api_audit(c, NULL, action, "league", id, before, after);
    json_decref(after);
    return rc;
}

int api_league_settle(struct api *api, struct store *st, const char *app,
                      const struct store_league *l, const struct api_actor *who, int64_t now,
                      char *err, size_t errlen)
{
    json_t *body = body_of(l);
    char period[BOARDS_PERIOD_MAX];
    league_period(body, period);
    struct rank_index *board = NULL;
    int rc = api_league_board(api, st, app, l->id, str_or(body, "metric", DEFAULT_METRIC),
                              period, now, &board, err, errlen);
    int64_t up = int_or(body, "promotionSlots", 5), down = int_or(body, "demotionSlots", 5);
    json_decref(body);
    if (rc < 0)
        return -1;
    size_t n = rank_size(board);
    struct rank_entry e;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rank_range(board, i, &e, 1);
        int64_t after;
        enum league_outcome o = league_outcome(i, n, l->tier, up, down, &after);
        struct store_league_result r = { e.member, (int64_t)i + 1, e.score,
                                         league_outcome_name(o), after };
        rc = store_league_result_put(st, app, l->id, &r, err, errlen);
    }
    rank_free(board);
    if (rc == 0)
        rc = store_league_settle(st, app, l->id, now, err, errlen);
    if (rc < 0)
        return -1;
    /* The audit row: the league before, and after it the league as settled with the moves
     * (each member's rank, outcome and tier after). */
    struct store_league now_l;
    if (store_league_get(st, app, l->id, &now_l, err, errlen) < 0)
        return -1;
    json_t *before = league_doc(app, l), *after = league_doc(app, &now_l);
    store_league_release(&now_l);
    json_t *moves = json_array();
    rc = store_league_results_each(st, app, l->id, result_json, moves, err, errlen);
    json_object_set_new(after, "results", moves);
    if (rc == 0)
        rc = api_audit_write(st, who, app, "league.settle", "league", l->id, before, after, err,
                             errlen);
    json_decref(before);
    json_decref(after);
    return rc < 0 ? -1 : 0;
}

static void settle(struct api_call *c, struct store *st, const struct store_league *l,
                   int64_t now)
{
    char err[256];
    const char *app = c->who.app_id;
    struct api_actor who = api_call_actor(c);
    /* A failed ranking wrote nothing; a failed write may have written part: the batch goes. */
    if (!l->settled_at && api_league_settle(c->api, st, app, l, &who, now, err, sizeof(err)) < 0) {
        api_call_fail_batch(c, "settling a league failed", err);
        return;
    }
    struct store_league now_l;
    json_t *results = json_array();
    int rc = store_league_get(st, app, l->id, &now_l, err, sizeof(err));
    if (rc == 0 &&
        store_league_results_each(st, app, l->id, result_json, results, err, sizeof(err)) < 0) {
        store_league_release(&now_l);
        rc = -1;
    }
    if (rc < 0) {
        json_decref(results);
        api_call_internal(c, "reading a league's results failed", err);
        return;
    }
    json_t *doc = league_doc(app, &now_l);
    store_league_release(&now_l);
    api_call_answer(c, 200, json_pack("{s:o, s:o}", "league", doc, "results", results));
}

static void league_run(struct api_call *c, struct store *st)
{
    struct league_ctx *x = c->ctx;
    const char *app = c->who.app_id;
    char err[256];
    int64_t now = clock_now_ms();
    int rc;

    if (x->op == OP_LIST) {
        json_t *list = json_array();
        void *a[2] = { list, (void *)app };
        rc = store_leagues_each(st, app, x->tier, x->season, list_one, a, err, sizeof(err));
        if (rc < 0) {
            json_decref(list);
            api_call_internal(c, "listing leagues failed", err);
            return;
        }
        api_call_answer(c, 200, json_pack("{s:o}", "leagues", list));
        return;
    }
    if (x->op == OP_CREATE) {
        const char *season = str_or(x->body, "seasonId", NULL);
        if (check_season(c, st, season) < 0)
            return;
        char id[UUID_LEN + 1];
        if (uuid_v7(now, id) < 0) {
            api_call_internal(c, "no random bytes for an id", "RAND_bytes failed");
            return;
        }
        if (save(c, st, id, x->body, now, now) == 0 &&
            audit_league(c, st, "league.create", id, NULL, NULL) == 0)
            answer_league(c, st, id, 201, false, false);
        return;
    }
    if (x->op == OP_ASSIGN) {
        if (check_user(c, st, x->user_id) < 0 || check_season(c, st, x->season) < 0)
            return;
        const char *key = x->season ? x->season : "";
        char *in = NULL;
        rc = store_league_of_user(st, app, key, x->user_id, &in, err, sizeof(err));
        if (rc == 0) {
            api_call_answer(c, 409, json_pack("{s:s, s:s, s:s}", "error",
                                              "User is already in a league of this season",
                                              "code", "conflict", "leagueId", in));
            free(in);
            return;
        }
        if (rc != STORE_NOT_FOUND) {
            api_call_internal(c, "reading a membership failed", err);
            return;
        }
        struct pick_ctx p = { .ok = false };
        if (store_leagues_each(st, app, x->tier, key, pick_room, &p, err, sizeof(err)) < 0) {
            store_league_release(&p.found);
            api_call_internal(c, "listing leagues failed", err);
            return;
        }
        bool created = !p.ok;
        if (created) {
            char id[UUID_LEN + 1], name[64];
            if (uuid_v7(now, id) < 0) {
                api_call_internal(c, "no random bytes for an id", "RAND_bytes failed");
                return;
            }
            snprintf(name, sizeof(name), "Tier %lld #%lld", (long long)x->tier,
                     (long long)p.seen + 1);
            json_t *in_body = json_pack("{s:s, s:I}", "name", name, "tier", (json_int_t)x->tier);
            if (x->season)
                json_object_set_new(in_body, "seasonId", json_string(x->season));
            json_t *body = normalize(in_body);
            json_decref(in_body);
            rc = save(c, st, id, body, now, now);
            json_decref(body);
            if (rc < 0 || audit_league(c, st, "league.create", id, NULL, NULL) < 0)
                return;
            p.found = (struct store_league){ .id = xstrdup(id), .body = xstrdup("{}"),
                                             .tier = x->tier, .season_key = xstrdup(key) };
        }
        rc = join(c, st, &p.found, x->user_id, now);
        if (rc == 0)
            rc = audit_league(c, st, "league.assign", p.found.id, NULL,
                              json_pack("{s:s}", "assignedUserId", x->user_id));
        if (rc == 0)
            answer_league(c, st, p.found.id, 201, created, true);
        store_league_release(&p.found);
        return;
    }

    struct store_league l;
    rc = store_league_get(st, app, x->id, &l, err, sizeof(err));
    if (rc == STORE_NOT_FOUND) {
        api_call_error(c, 404, "not_found", "League not found");
        return;
    }
    if (rc < 0) {
        api_call_internal(c, "reading a league failed", err);
        return;
    }
    switch (x->op) {
    case OP_GET: {
        json_t *doc = league_doc(app, &l), *members = json_array(), *results = json_array();
        rc = store_league_members_each(st, app, l.id, member_json, members, err, sizeof(err));
        if (rc == 0)
            rc = store_league_results_each(st, app, l.id, result_json, results, err,
                                           sizeof(err));
        json_object_set_new(doc, "members", members);
        json_object_set_new(doc, "results", results);
        if (rc < 0) {
            json_decref(doc);
            api_call_internal(c, "reading a league's members failed", err);
        } else {
            api_call_answer(c, 200, json_pack("{s:o}", "league", doc));
        }
        break;
    }
    case OP_REPLACE:
    case OP_PATCH: {
        json_t *body = x->op == OP_PATCH ? body_of(&l) : json_object();
        json_object_update(body, x->body);
        json_t *norm = normalize(body);
        json_decref(body);
        json_t *details = cross_check(norm);
        json_t *old = body_of(&l);
        const char *was = str_or(old, "seasonId", NULL), *is = str_or(norm, "seasonId", NULL);
        if (!details && (was ? !is || strcmp(was, is) != 0 : is != NULL)) {
            details = json_object();
            json_object_set_new(details, "seasonId", json_string("cannot change"));
        }
        json_decref(old);
        json_t *before = league_doc(app, &l);
        if (details) {
            validation_failed(c, details);
        } else if (int_or(norm, "maxMembers", 50) < l.members) {
            api_call_error(c, 409, "conflict", "The league has more members than maxMembers");
        } else if (save(c, st, l.id, norm, l.created_at, now) == 0 &&
                   audit_league(c, st, "league.update", l.id, before, NULL) == 0) {
            answer_league(c, st, l.id, 200, false, false);
        }
        json_decref(before);
        json_decref(norm);
        break;
    }
    case OP_DELETE: {
        json_t *before = league_doc(app, &l);
        rc = store_league_delete(st, app, l.id, err, sizeof(err));
        if (rc < 0)
            api_call_fail_batch(c, "deleting a league failed", err);
        else if (api_audit(c, NULL, "league.delete", "league", l.id, before, NULL) == 0)
            api_call_answer(c, 204, NULL);
        json_decref(before);
        break;
    }
    case OP_JOIN:
        if (check_user(c, st, x->user_id) == 0 && join(c, st, &l, x->user_id, now) == 0 &&
            audit_league(c, st, "league.join", l.id, NULL,
                         json_pack("{s:s}", "joinedUserId", x->user_id)) == 0)
            api_call_answer(c, 201, json_pack("{s:{s:s, s:s, s:o}}", "member", "userId",
                                              x->user_id, "leagueId", l.id, "joinedAt",
                                              api_time(now)));
        break;
    case OP_LEAVE:
        rc = store_league_member_remove(st, app, l.id, x->user_id, err, sizeof(err));
        if (rc == STORE_NOT_FOUND)
            api_call_error(c, 404, "not_found", "Member not found");
        else if (rc < 0)
            api_call_fail_batch(c, "removing a league member failed", err);
        else if (audit_league(c, st, "league.leave", l.id, NULL,
                              json_pack("{s:s}", "leftUserId", x->user_id)) == 0)
            api_call_answer(c, 204, NULL);
        break;
    case OP_SETTLE:
        settle(c, st, &l, now);
        break;
    default:
        api_call_internal(c, "unknown league operation", "bug");
        break;
    }
    store_league_release(&l);
}

/* ---- on the I/O thread -------------------------------------------------------------------- */

static void submit(struct http_request *req, struct api *api, enum op op)
{
    struct principal who;
    bool write = op != OP_LIST && op != OP_GET;
    if (api_authenticate(api, req, write ? API_ROLE_ADMIN : API_ROLE_ANY, &who) < 0)
        return;
    const char *id = http_request_param(req, "id");
    if (id && (!*id || strlen(id) > LEAGUE_ID_MAX)) {
        http_respond_error(req, 404, "not_found", "League not found");
        return;
    }
    struct league_ctx *x = xcalloc(1, sizeof(*x));
    x->op = op;
    x->id = id ? xstrdup(id) : NULL;
    x->tier = -1;
    json_t *body = NULL;
    switch (op) {
    case OP_CREATE:
    case OP_REPLACE:
        body = API_BODY(req, league_fields);
        if (!body)
            goto done;
        x->body = normalize(body);
        json_t *details = cross_check(x->body);
        if (details) {
            http_respond_error_details(req, 400, "validation_failed", "Validation failed",
                                       details);
            goto done;
        }
        break;
    case OP_PATCH: {
        body = api_body_object(req);
        if (!body)
            goto done;
        /* Only the fields given, each checked; the whole is checked once merged. */
        struct api_field opt[sizeof(league_fields) / sizeof(league_fields[0])];
        memcpy(opt, league_fields, sizeof(opt));
        for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
            opt[i].flags &= ~API_REQUIRED;
        if (api_validate(req, body, opt, sizeof(opt) / sizeof(opt[0])) < 0)
            goto done;
        x->body = json_object();
        for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
            json_t *v = json_object_get(body, opt[i].name);
            if (v)
                json_object_set(x->body, opt[i].name, v);
        }
        break;
    }
    case OP_JOIN:
        body = API_BODY(req, member_fields);
        if (!body)
            goto done;
        x->user_id = xstrdup(str_or(body, "userId", ""));
        break;
    case OP_LEAVE: {
        const char *user = http_request_param(req, "userId");
        if (!user || !*user || utf8_chars(user) > LEAGUE_USER_ID_MAX) {
            http_respond_error(req, 404, "not_found", "Member not found");
            goto done;
        }
        x->user_id = xstrdup(user);
        break;
    }
    case OP_ASSIGN:
        body = API_BODY(req, assign_fields);
        if (!body)
            goto done;
        x->user_id = xstrdup(str_or(body, "userId", ""));
        x->tier = int_or(body, "tier", 1);
        if (str_or(body, "seasonId", NULL))
            x->season = xstrdup(str_or(body, "seasonId", NULL));
        break;
    case OP_LIST: {
        struct buf v;
        buf_init(&v);
        json_t *problems = json_object();
        int rc = http_request_query(req, "tier", &v);
        if (rc > 0) {
            char *end;
            long t = strtol(v.data, &end, 10);
            if (*end || !*v.data || t < LEAGUE_TIER_MIN || t > LEAGUE_TIER_MAX)
                json_object_set_new(problems, "tier",
                                    json_string("must be an integer from 1 to 1000"));
            x->tier = t;
        }
        buf_reset(&v);
        if (rc >= 0 && (rc = http_request_query(req, "seasonId", &v)) > 0)
            x->season = xstrdup(v.data);
        buf_release(&v);
        if (rc < 0)
            json_object_set_new(problems, "query", json_string("is malformed"));
        if (json_object_size(problems)) {
            http_respond_error_details(req, 400, "validation_failed", "Validation failed",
                                       problems);
            goto done;
        }
        json_decref(problems);
        break;
    }
    default:
        break;
    }
    json_decref(body);
    struct api_call *c = api_call_new(api, req, &who);
    c->ctx = x;
    c->ctx_free = ctx_free;
    api_call_submit(c, league_run);
    return;
done:
    json_decref(body);
    ctx_free(x);
}

#define HANDLER(name, op)                                                                        \
    static void name(struct http_request *req, void *arg)                                        \
    {                                                                                            \
        submit(req, arg, op);                                                                    \
    }
HANDLER(create_league, OP_CREATE)
HANDLER(list_leagues, OP_LIST)
HANDLER(get_league, OP_GET)
HANDLER(replace_league, OP_REPLACE)
HANDLER(patch_league, OP_PATCH)
HANDLER(delete_league, OP_DELETE)
HANDLER(join_league, OP_JOIN)
HANDLER(leave_league, OP_LEAVE)
HANDLER(assign_league, OP_ASSIGN)
HANDLER(settle_league, OP_SETTLE)

int api_leagues_register(struct router *r, struct api *api)
{
    if (router_add(r, HTTP_POST, "/leagues", create_league, api) < 0 ||
        router_add(r, HTTP_GET, "/leagues", list_leagues, api) < 0 ||
        router_add(r, HTTP_POST, "/leagues/assign", assign_league, api) < 0 ||
        router_add(r, HTTP_GET, "/leagues/:id", get_league, api) < 0 ||
        router_add(r, HTTP_PUT, "/leagues/:id", replace_league, api) < 0 ||
        router_add(r, HTTP_PATCH, "/leagues/:id", patch_league, api) < 0 ||
        router_add(r, HTTP_DELETE, "/leagues/:id", delete_league, api) < 0 ||
        router_add(r, HTTP_POST, "/leagues/:id/members", join_league, api) < 0 ||
        router_add(r, HTTP_DELETE, "/leagues/:id/members/:userId", leave_league, api) < 0 ||
        router_add(r, HTTP_POST, "/leagues/:id/settle", settle_league, api) < 0)
        return -1;
    return 0;
}
