/* Rules, achievements and seasons: the definitions of an app's game (ADMIN key to write, any
 * key to read). The three share one shape, so they share this file, driven by a table:
 *   POST /<kind>s              201 {<kind>: doc}
 *   GET /<kind>s               200 {<kind>s: [doc, ...]}
 *   GET /<kind>s/:id           200 {<kind>: doc}
 *   PUT /<kind>s/:id           200 {<kind>: doc}   the whole body again
 *   PATCH /<kind>s/:id         200 {<kind>: doc}   the fields given replace the stored ones
 *   DELETE /<kind>s/:id        204
 * A body is checked by compiling it (engine/rule.h, engine/achievement.h, or the season check
 * here) on the I/O thread; what compiles is stored with its defaults filled in and installed
 * in the engine's model of the app in the same batch, so the next event sees it. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/utf8.h"
#include "core/uuid.h"
#include "engine/engine.h"
#include "engine/game.h"

#define DEF_ID_MAX 64

/* A compiled definition, whichever kind. */
struct compiled {
    struct rule *rule;
    struct achievement *ach;
    struct engine_season season;
};

struct kind {
    enum store_def_kind store;
    enum game_def game;
    const char *one;          /* "rule" */
    const char *many;         /* "rules" */
    const char *not_found;    /* "Rule not found" */
    const char *const *fields; /* the body's fields, in the order documents show them */
    const char *defaults;     /* JSON object of default values */
    int (*compile)(const json_t *body, struct compiled *out, json_t **details);
};

static void compiled_release(struct compiled *c)
{
    rule_free(c->rule);
    achievement_free(c->ach);
    memset(c, 0, sizeof(*c));
}

/* Compiled without its null fields: null means "the default" (or none) in a stored body. */
static int compile_rule(const json_t *body, struct compiled *out, json_t **details)
{
    json_t *b = json_without_nulls(body);
    out->rule = rule_compile(b, details);
    json_decref(b);
    return out->rule ? 0 : -1;
}

static int compile_achievement(const json_t *body, struct compiled *out, json_t **details)
{
    json_t *b = json_without_nulls(body);
    out->ach = achievement_compile(b, details);
    json_decref(b);
    return out->ach ? 0 : -1;
}

static void detail(json_t **details, const char *field, const char *message)
{
    if (!*details)
        *details = json_object();
    json_object_set_new(*details, field, json_string(message));
}

static bool valid_awards(const json_t *v)
{
    if (!json_is_object(v) || json_object_size(v) > 16)
        return false;
    const char *k;
    const json_t *x;
    json_object_foreach((json_t *)v, k, x)
        if (!*k || utf8_chars(k) > 64 || !json_is_integer(x) || json_integer_value(x) < 0)
            return false;
    return true;
}

/* A season's rewardConfig.metric and .prizes (jobs/scheduler.c grants them at its end). */
static bool valid_prizes(const json_t *rc)
{
    const json_t *metric = json_object_get(rc, "metric"), *prizes = json_object_get(rc, "prizes");
    if (metric && (!json_is_string(metric) || utf8_chars(json_string_value(metric)) < 1 ||
                   utf8_chars(json_string_value(metric)) > 64))
        return false;
    if (!prizes)
        return true;
    if (!json_is_array(prizes) || json_array_size(prizes) > 20)
        return false;
    size_t i;
    const json_t *p;
    json_array_foreach(prizes, i, p)
    {
        const json_t *from = json_object_get(p, "fromRank"), *to = json_object_get(p, "toRank");
        const json_t *xp = json_object_get(p, "xpAwards"), *cur = json_object_get(p, "currencyAwards");
        if (!json_is_object(p) || !json_is_integer(from) || json_integer_value(from) < 1 ||
            json_integer_value(from) > 1000 ||
            (to && (!json_is_integer(to) || json_integer_value(to) < json_integer_value(from) ||
                    json_integer_value(to) > 1000)) ||
            (xp && !valid_awards(xp)) || (cur && !valid_awards(cur)))
            return false;
    }
    return true;
}

/* Seasons: {name, startsAt, endsAt, resetXpOnStart=false, rewardConfig?, isActive=false},
 * endsAt after startsAt (ForgeEngine accepts the reverse). */
static int compile_season(const json_t *body, struct compiled *out, json_t **details)
{
    const json_t *name = json_object_get(body, "name");
    if (!json_is_string(name) || utf8_chars(json_string_value(name)) < 1 ||
        utf8_chars(json_string_value(name)) > 200 || utf8_has_control(json_string_value(name)))
        detail(details, "name", "must be a string of 1 to 200 characters");
    int64_t at[2] = { 0, 0 };
    static const char *const ends[] = { "startsAt", "endsAt" };
    for (int i = 0; i < 2; i++) {
        const json_t *v = json_object_get(body, ends[i]);
        if (!json_is_string(v) ||
            clock_parse_iso(json_string_value(v), json_string_length(v), &at[i]) < 0)
            detail(details, ends[i], "must be an ISO 8601 date-time with Z or an offset");
    }
    if (!*details && at[1] <= at[0])
        detail(details, "endsAt", "must be after startsAt");
    const json_t *v;
    if ((v = json_object_get(body, "resetXpOnStart")) && !json_is_boolean(v))
        detail(details, "resetXpOnStart", "must be true or false");
    if ((v = json_object_get(body, "isActive")) && !json_is_boolean(v))
        detail(details, "isActive", "must be true or false");
    if ((v = json_object_get(body, "rewardConfig")) && !json_is_null(v)) {
        const json_t *xp = json_object_get(v, "xpAwards"), *cur = json_object_get(v, "currencyAwards");
        if (!json_is_object(v) || json_dump_size(v) > 16 * 1024 || (xp && !valid_awards(xp)) ||
            (cur && !valid_awards(cur)))
            detail(details, "rewardConfig",
                   "must be an object; its xpAwards and currencyAwards {name: integer >= 0}");
        else if (!valid_prizes(v))
            detail(details, "rewardConfig",
                   "metric must be a string of 1 to 64 characters; prizes a list of at most 20 "
                   "{fromRank: 1..1000, toRank?: fromRank..1000, xpAwards?, currencyAwards?}");
    }
    if (*details)
        return -1;
    out->season.starts_at = at[0];
    out->season.ends_at = at[1];
    out->season.active = json_is_true(json_object_get(body, "isActive"));
    return 0;
}

static const char *const rule_fields[] = {
    "name", "description", "eventType", "priority", "conditions", "xpAwards", "currencyAwards",
    "multiplierConfig", "timeBonusConfig", "streakBonusConfig", "isActive", "caps",
    "cooldownSeconds", "validFrom", "validTo", "seasonId", NULL,
};
static const char *const achievement_fields[] = {
    "code", "name", "description", "kind", "tier", "hidden", "repeatable", "conditions",
    "rewardConfig", NULL,
};
static const char *const season_fields[] = {
    "name", "startsAt", "endsAt", "resetXpOnStart", "rewardConfig", "isActive", NULL,
};

static const struct kind kinds[] = {
    { STORE_DEF_RULE, GAME_RULE, "rule", "rules", "Rule not found", rule_fields,
      "{\"description\": null, \"priority\": 100, \"conditions\": {\"all\": []}, "
      "\"xpAwards\": {}, \"currencyAwards\": {}, \"multiplierConfig\": null, "
      "\"timeBonusConfig\": null, \"streakBonusConfig\": null, \"isActive\": true, "
      "\"caps\": [], \"cooldownSeconds\": null, \"validFrom\": null, \"validTo\": null, "
      "\"seasonId\": null}",
      compile_rule },
    { STORE_DEF_ACHIEVEMENT, GAME_ACH, "achievement", "achievements", "Achievement not found",
      achievement_fields,
      "{\"description\": null, \"tier\": null, \"hidden\": false, \"repeatable\": false, "
      "\"rewardConfig\": null}",
      compile_achievement },
    { STORE_DEF_SEASON, GAME_SEASON, "season", "seasons", "Season not found", season_fields,
      "{\"resetXpOnStart\": false, \"rewardConfig\": null, \"isActive\": false}",
      compile_season },
};

/* The body as stored: the kind's fields only, defaults filled in (null given = default). */
static json_t *normalize(const struct kind *k, const json_t *body)
{
    json_t *defaults = json_loads(k->defaults, 0, NULL);
    json_t *out = json_object();
    for (const char *const *f = k->fields; *f; f++) {
        const json_t *v = json_object_get(body, *f);
        if (!v || json_is_null(v))
            v = json_object_get(defaults, *f);
        if (v)
            json_object_set(out, *f, (json_t *)v);
    }
    json_decref(defaults);
    return out;
}

/* The body part of a document. */
static json_t *body_of(const struct kind *k, const json_t *doc)
{
    json_t *body = json_object();
    for (const char *const *f = k->fields; *f; f++) {
        const json_t *v = json_object_get(doc, *f);
        if (v)
            json_object_set(body, *f, (json_t *)v);
    }
    return body;
}

static int64_t doc_time(const json_t *doc, const char *field)
{
    const json_t *v = json_object_get(doc, field);
    int64_t ms = 0;
    if (json_is_string(v))
        clock_parse_iso(json_string_value(v), json_string_length(v), &ms);
    return ms;
}

/* ---- on the engine thread ------------------------------------------------------------------ */

enum op { OP_CREATE, OP_LIST, OP_GET, OP_REPLACE, OP_PATCH, OP_DELETE };

struct def_ctx {
    const struct kind *kind;
    enum op op;
    char *id;
    json_t *body;            /* create/replace: normalized; patch: the fields given */
    struct compiled compiled;
};

static void def_ctx_free(void *p)
{
    struct def_ctx *x = p;
    free(x->id);
    json_decref(x->body);
    compiled_release(&x->compiled);
    free(x);
}

static const json_t *find_doc(const struct game_app *a, const struct kind *k, const char *id)
{
    switch (k->game) {
    case GAME_RULE: {
        const struct game_rule *r = game_app_rule(a, id);
        return r ? r->doc : NULL;
    }
    case GAME_ACH: {
        const struct game_ach *x = game_app_achievement(a, id);
        return x ? x->doc : NULL;
    }
    case GAME_SEASON: {
        const struct game_season *s = game_app_season(a, id);
        return s ? s->doc : NULL;
    }
    }
    return NULL;
}

static void list_docs(const struct game_app *a, const struct kind *k, json_t *out)
{
    switch (k->game) {
    case GAME_RULE:
        for (size_t i = 0; i < a->n_rules; i++)
            json_array_append(out, a->rules[i].doc);
        return;
    case GAME_ACH:
        for (size_t i = 0; i < a->n_achs; i++)
            json_array_append(out, a->achs[i].doc);
        return;
    case GAME_SEASON:
        for (size_t i = 0; i < a->n_seasons; i++)
            json_array_append(out, a->seasons[i].doc);
        return;
    }
}

static void validation_failed(struct api_call *c, json_t *details)
{
    api_call_answer(c, 400, json_pack("{s:s, s:s, s:o}", "error", "Validation failed", "code",
                                      "validation_failed", "details", details));
}

/* Events stored so far are never applied again under the definitions about to change: the
 * game logs are folded just before the store changes (not for a request that fails its
 * checks). False when the fold failed (the batch fails). */
static bool settled(struct api_call *c, struct api *api, struct store *st)
{
    char err[256];
    if (engine_settle(api->engine, st, err, sizeof(err)) == 0)
        return true;
    api_call_fail_batch(c, "folding the game logs failed", err);
    return false;
}

/* Checks that need the app's other definitions: 0, or -1 once answered. */
static int check_references(struct api_call *c, const struct game_app *a, struct def_ctx *x,
                            const char *id)
{
    if (x->kind->game == GAME_ACH) {
        const struct game_ach *same = game_app_achievement_by_code(a, x->compiled.ach->code);
        if (same && strcmp(same->id, id) != 0) {
            api_call_error(c, 409, "conflict", "An achievement with this code exists");
            return -1;
        }
    }
    if (x->kind->game == GAME_RULE && x->compiled.rule->season_id &&
        !game_app_season(a, x->compiled.rule->season_id)) {
        json_t *details = json_object();
        json_object_set_new(details, "seasonId", json_string("no season of this app has this id"));
        validation_failed(c, details);
        return -1;
    }
    return 0;
}

/* The change's audit row: action "<kind>.<verb>", the documents as the API shows them. */
static int audit(struct api_call *c, const struct def_ctx *x, const char *verb, const char *id,
                 const json_t *before, const json_t *after)
{
    char action[32];
    snprintf(action, sizeof(action), "%s.%s", x->kind->one, verb);
    return api_audit(c, NULL, action, x->kind->one, id, before, after);
}

static void def_run(struct api_call *c, struct store *st)
{
    struct def_ctx *x = c->ctx;
    const struct kind *k = x->kind;
    struct api *api = c->api;
    char err[256];
    struct game_app *a = engine_app(api->engine, st, c->who.app_id, err, sizeof(err));
    if (!a) {
        api_call_internal(c, "loading the app's game model failed", err);
        return;
    }
    if (x->op == OP_LIST) {
        json_t *list = json_array();
        list_docs(a, k, list);
        api_call_answer(c, 200, json_pack("{s:o}", k->many, list));
        return;
    }
    const json_t *old = x->id ? find_doc(a, k, x->id) : NULL;
    if (x->op != OP_CREATE && !old) {
        api_call_error(c, 404, "not_found", k->not_found);
        return;
    }
    if (x->op == OP_GET) {
        api_call_answer(c, 200, json_pack("{s:O}", k->one, old));
        return;
    }
    if (x->op == OP_DELETE) {
        if (!settled(c, api, st))
            return;
        int rc = store_def_delete(st, c->who.app_id, k->store, x->id, err, sizeof(err));
        if (rc < 0 && rc != STORE_NOT_FOUND) {
            api_call_fail_batch(c, "deleting a definition failed", err);
            return;
        }
        if (audit(c, x, "delete", x->id, old, NULL) < 0)
            return;
        /* The rest of the batch reads the model from the store, as a replay will. */
        engine_apps_forget(api->engine, c->who.app_id);
        api_call_answer(c, 204, NULL);
        return;
    }
    if (x->op == OP_PATCH) {
        json_t *body = body_of(k, old);
        json_object_update(body, x->body);
        json_decref(x->body);
        x->body = normalize(k, body);
        json_decref(body);
        json_t *details = NULL;
        if (k->compile(x->body, &x->compiled, &details) < 0) {
            validation_failed(c, details ? details : json_object());
            return;
        }
    }
    int64_t now = clock_now_ms();
    char id[UUID_LEN + 1];
    if (x->op == OP_CREATE) {
        if (uuid_v7(now, id) < 0) {
            api_call_internal(c, "no random bytes for an id", "RAND_bytes failed");
            return;
        }
    } else {
        snprintf(id, sizeof(id), "%s", x->id);
    }
    if (check_references(c, a, x, id) < 0 || !settled(c, api, st))
        return;
    int64_t created = old ? doc_time(old, "createdAt") : now;
    json_t *doc = engine_def_document(c->who.app_id, id, x->body, created, now);
    struct store_def d = { .id = id, .body = json_dump_new(x->body), .created_at = created,
                           .updated_at = now };
    int rc = store_def_put(st, c->who.app_id, k->store, &d, err, sizeof(err));
    free(d.body);
    if (rc < 0 || audit(c, x, old ? "update" : "create", id, old, doc) < 0) {
        json_decref(doc);
        if (rc < 0)
            api_call_fail_batch(c, "saving a definition failed", err);
        return;
    }
    /* The rest of the batch reads the model from the store (as a replay of its events will:
     * the same order of definitions, the same compiled bodies), not the one installed here. */
    engine_apps_forget(api->engine, c->who.app_id);
    api_call_answer(c, x->op == OP_CREATE ? 201 : 200, json_pack("{s:o}", k->one, doc));
}

/* ---- on the I/O thread --------------------------------------------------------------------- */

static void submit(struct http_request *req, struct api *api, const struct kind *k, enum op op)
{
    struct principal who;
    bool write = op == OP_CREATE || op == OP_REPLACE || op == OP_PATCH || op == OP_DELETE;
    if (api_authenticate(api, req, write ? API_ROLE_ADMIN : API_ROLE_ANY, &who) < 0)
        return;
    const char *id = http_request_param(req, "id");
    if (id && (utf8_chars(id) > DEF_ID_MAX || !*id)) {
        http_respond_error(req, 404, "not_found", k->not_found);
        return;
    }
    struct def_ctx *x = xcalloc(1, sizeof(*x));
    x->kind = k;
    x->op = op;
    x->id = id ? xstrdup(id) : NULL;
    if (op == OP_CREATE || op == OP_REPLACE || op == OP_PATCH) {
        json_t *body = api_body_object(req);
        if (!body) {
            def_ctx_free(x);
            return;
        }
        if (op == OP_PATCH) {
            /* Checked whole on the engine thread, merged with what is stored. */
            x->body = json_object();
            for (const char *const *f = k->fields; *f; f++) {
                json_t *v = json_object_get(body, *f);
                if (v)
                    json_object_set(x->body, *f, v);
            }
        } else {
            x->body = normalize(k, body);
            json_t *details = NULL;
            if (k->compile(x->body, &x->compiled, &details) < 0) {
                json_decref(body);
                def_ctx_free(x);
                http_respond_error_details(req, 400, "validation_failed", "Validation failed",
                                           details ? details : json_object());
                return;
            }
        }
        json_decref(body);
    }
    struct api_call *c = api_call_new(api, req, &who);
    c->ctx = x;
    c->ctx_free = def_ctx_free;
    api_call_submit(c, def_run);
}

/* ---- GET /seasons/:id/results: a closed season's final standings ------------------------- */

#define RESULTS_LIMIT_DEFAULT 100
#define RESULTS_LIMIT_MAX 1000

struct results_ctx {
    char *id;
    int limit, offset;
    json_t *rows;
    char *metric_own; /* of the first row (the same in every row) */
};

static void results_ctx_free(void *p)
{
    struct results_ctx *x = p;
    free(x->id);
    free(x->metric_own);
    json_decref(x->rows);
    free(x);
}

static void result_row(const struct store_season_result *r, void *arg)
{
    struct results_ctx *x = arg;
    json_t *row = json_pack("{s:I, s:s, s:I}", "rank", (json_int_t)r->rank, "userId", r->user_id,
                            "score", (json_int_t)r->score);
    json_t *prize = r->prize ? json_loads(r->prize, 0, NULL) : NULL;
    if (prize)
        json_object_set_new(row, "prize", prize);
    json_array_append_new(x->rows, row);
    if (!x->metric_own)
        x->metric_own = xstrdup(r->metric);
}

static void results_run(struct api_call *c, struct store *st)
{
    struct results_ctx *x = c->ctx;
    char err[256];
    struct game_app *a = engine_app(c->api->engine, st, c->who.app_id, err, sizeof(err));
    if (!a) {
        api_call_internal(c, "loading the app's game model failed", err);
        return;
    }
    const struct game_season *season = game_app_season(a, x->id);
    if (!season) {
        api_call_error(c, 404, "not_found", "Season not found");
        return;
    }
    char run[256];
    snprintf(run, sizeof(run), ENGINE_SEASON_END_RUN, c->who.app_id, x->id);
    int64_t closed_at = 0, total = 0;
    int rc = store_schedule_ran(st, run, NULL, &closed_at, err, sizeof(err));
    if (rc == STORE_NOT_FOUND) {
        api_call_error(c, 404, "not_closed", "The season is not closed yet");
        return;
    }
    x->rows = json_array();
    if (rc < 0 || store_season_results_page(st, c->who.app_id, x->id, x->limit, x->offset,
                                            result_row, x, &total, err, sizeof(err)) < 0) {
        api_call_internal(c, "reading the season's results failed", err);
        return;
    }
    /* The metric the season was ranked by: its rows', or else its rewardConfig's now. */
    const char *metric = x->metric_own;
    if (!metric)
        metric = json_string_value(json_object_get(json_object_get(season->doc, "rewardConfig"),
                                                   "metric"));
    char at[CLOCK_ISO_LEN];
    clock_iso(closed_at, at);
    api_call_answer(c, 200,
                    json_pack("{s:s, s:s, s:s, s:O, s:I}", "seasonId", x->id, "closedAt", at,
                              "metric", metric ? metric : "Builder XP", "results", x->rows,
                              "total", (json_int_t)total));
}

/* A query integer from lo to hi into *out (unchanged when absent); 0, or -1 with a detail. */
static int query_int(struct http_request *req, const char *name, long lo, long hi, int *out,
                     json_t *details)
{
    struct buf v = BUF_INIT;
    int rc = http_request_query(req, name, &v);
    if (rc > 0) {
        char *end;
        long n = strtol(v.data, &end, 10);
        if (*end || !*v.data || strlen(v.data) != v.len || n < lo || n > hi)
            rc = -1;
        else
            *out = (int)n;
    }
    buf_release(&v);
    if (rc < 0) {
        char msg[96];
        snprintf(msg, sizeof(msg), "must be an integer from %ld to %ld", lo, hi);
        json_object_set_new(details, name, json_string(msg));
        return -1;
    }
    return 0;
}

static void season_results(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ANY, &who) < 0)
        return;
    const char *id = http_request_param(req, "id");
    if (!id || utf8_chars(id) > DEF_ID_MAX || !*id) {
        http_respond_error(req, 404, "not_found", "Season not found");
        return;
    }
    struct results_ctx *x = xcalloc(1, sizeof(*x));
    x->limit = RESULTS_LIMIT_DEFAULT;
    json_t *details = json_object();
    query_int(req, "limit", 1, RESULTS_LIMIT_MAX, &x->limit, details);
    query_int(req, "offset", 0, 1000000000, &x->offset, details);
    if (json_object_size(details)) {
        free(x);
        http_respond_error_details(req, 400, "validation_failed", "Validation failed", details);
        return;
    }
    json_decref(details);
    x->id = xstrdup(id);
    struct api_call *c = api_call_new(api, req, &who);
    c->ctx = x;
    c->ctx_free = results_ctx_free;
    api_call_submit(c, results_run);
}

#define HANDLERS(name, idx)                                                                \
    static void name##_create(struct http_request *req, void *arg)                         \
    {                                                                                      \
        submit(req, arg, &kinds[idx], OP_CREATE);                                          \
    }                                                                                      \
    static void name##_list(struct http_request *req, void *arg)                           \
    {                                                                                      \
        submit(req, arg, &kinds[idx], OP_LIST);                                            \
    }                                                                                      \
    static void name##_get(struct http_request *req, void *arg)                            \
    {                                                                                      \
        submit(req, arg, &kinds[idx], OP_GET);                                             \
    }                                                                                      \
    static void name##_replace(struct http_request *req, void *arg)                        \
    {                                                                                      \
        submit(req, arg, &kinds[idx], OP_REPLACE);                                         \
    }                                                                                      \
    static void name##_patch(struct http_request *req, void *arg)                          \
    {                                                                                      \
        submit(req, arg, &kinds[idx], OP_PATCH);                                           \
    }                                                                                      \
    static void name##_delete(struct http_request *req, void *arg)                         \
    {                                                                                      \
        submit(req, arg, &kinds[idx], OP_DELETE);                                          \
    }

HANDLERS(rule, 0)
HANDLERS(achievement, 1)
HANDLERS(season, 2)

#define ROUTES(r, api, name, path)                                                         \
    (router_add(r, HTTP_POST, path, name##_create, api) < 0 ||                             \
     router_add(r, HTTP_GET, path, name##_list, api) < 0 ||                                \
     router_add(r, HTTP_GET, path "/:id", name##_get, api) < 0 ||                          \
     router_add(r, HTTP_PUT, path "/:id", name##_replace, api) < 0 ||                      \
     router_add(r, HTTP_PATCH, path "/:id", name##_patch, api) < 0 ||                      \
     router_add(r, HTTP_DELETE, path "/:id", name##_delete, api) < 0)

int api_definitions_register(struct router *r, struct api *api)
{
    if (ROUTES(r, api, rule, "/rules") || ROUTES(r, api, achievement, "/achievements") ||
        ROUTES(r, api, season, "/seasons") ||
        router_add(r, HTTP_GET, "/seasons/:id/results", season_results, api) < 0)
        return -1;
    return 0;
}
