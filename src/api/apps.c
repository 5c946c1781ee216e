/* Apps: POST /apps (operator), GET and PATCH /apps/:id (ADMIN key of that app).
 * An app never appears in a response with its webhook secret. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/mem.h"
#include "engine/engine.h"
#include "engine/game.h"
#include "jobs/webhook.h"

#define APP_SETTINGS_MAX (64 * 1024)

static const char *check_settings(const json_t *v)
{
    if (json_dump_size(v) > APP_SETTINGS_MAX)
        return "must be at most 64 KiB as JSON";
    const json_t *rl = json_object_get(v, "rateLimit");
    if (rl) {
        const json_t *p = json_object_get(rl, "points"), *w = json_object_get(rl, "windowSeconds");
        if (!json_is_object(rl) || !json_is_integer(p) || json_integer_value(p) < 1 ||
            !json_is_integer(w) || json_integer_value(w) < 1 ||
            json_integer_value(w) > 86400 * 366)
            return "rateLimit must be {\"points\": integer >= 1, \"windowSeconds\": integer >= 1}";
    }
    const json_t *ac = json_object_get(v, "autoCreateUsers");
    if (ac && !json_is_boolean(ac))
        return "autoCreateUsers must be true or false";
    /* The game settings (xpCurve, levels, streaks): checked as the engine will read them. */
    static _Thread_local char why[256];
    struct game_settings gs;
    if (game_settings_parse(v, &gs, why, sizeof(why)) < 0)
        return why;
    game_settings_release(&gs);
    return NULL;
}

/* Secrets key an HMAC context per app (ingest/signature.h), which keeps up to 256 bytes. */
static const char *check_secret_bytes(const json_t *v)
{
    return strlen(json_string_value(v)) > 256 ? "must be at most 256 bytes" : NULL;
}

static const struct api_field create_fields[] = {
    { "id", API_STRING, API_REQUIRED, 2, TENANT_APP_ID_MAX, api_check_id },
    { "name", API_STRING, API_REQUIRED, 2, 200, NULL },
    { "settings", API_OBJECT, 0, 0, 0, check_settings },
    { "defaultTimezone", API_STRING, 0, 0, 0, api_check_timezone },
    { "webhookUrl", API_STRING, API_NULLABLE, 0, 0, api_check_http_url },
    { "webhookSecret", API_STRING, API_NULLABLE, 8, 256, check_secret_bytes },
    { "webhookEvents", API_ARRAY, API_NULLABLE, 0, 0, webhook_events_check },
};

static const struct api_field update_fields[] = {
    { "name", API_STRING, 0, 2, 200, NULL },
    { "settings", API_OBJECT, 0, 0, 0, check_settings },
    { "defaultTimezone", API_STRING, 0, 0, 0, api_check_timezone },
    { "webhookUrl", API_STRING, API_NULLABLE, 0, 0, api_check_http_url },
    { "webhookSecret", API_STRING, API_NULLABLE, 8, 256, check_secret_bytes },
    { "webhookEvents", API_ARRAY, API_NULLABLE, 0, 0, webhook_events_check },
};

static json_t *app_json(const struct store_app *a)
{
    json_t *settings = json_loads(a->settings ? a->settings : "{}", 0, NULL);
    return json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:b, s:o, s:o}", "id", a->id, "name",
                     a->name, "settings", settings ? settings : json_object(),
                     "defaultTimezone", a->default_timezone, "webhookUrl",
                     a->webhook_url ? json_string(a->webhook_url) : json_null(),
                     "webhookEvents", webhook_events_json(a->webhook_events),
                     "hasWebhookSecret", a->webhook_secret != NULL, "createdAt",
                     api_time(a->created_at), "updatedAt", api_time(a->updated_at));
}

/* webhookEvents as stored: NULL (absent or null: the default set) or the array's text. */
static char *events_text(const json_t *body)
{
    const json_t *v = json_object_get(body, "webhookEvents");
    return json_is_array(v) ? json_dump_new(v) : NULL;
}

static char *opt_string(const json_t *body, const char *name)
{
    const json_t *v = json_object_get(body, name);
    return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

/* ---- POST /apps -------------------------------------------------------------------------- */

struct create_ctx {
    struct store_app app;
    struct store_key key;
    char secret[API_KEY_LEN + 1];
};

static void create_ctx_free(void *p)
{
    struct create_ctx *x = p;
    store_app_release(&x->app);
    store_key_release(&x->key);
    OPENSSL_cleanse(x->secret, sizeof(x->secret));
    free(x);
}

static void create_commit(struct api_call *c)
{
    struct create_ctx *x = c->ctx;
    tenant_app_put(c->api->tenants, &x->app);
    tenant_key_put(c->api->tenants, &x->key);
}

static void create_run(struct api_call *c, struct store *st)
{
    struct create_ctx *x = c->ctx;
    char err[256];
    int rc = store_app_create(st, &x->app, &x->key, err, sizeof(err));
    if (rc == STORE_CONFLICT) {
        api_call_error(c, 409, "conflict", "An app with this id already exists");
        return;
    }
    if (rc < 0) {
        api_call_internal(c, "app create failed", err);
        return;
    }
    json_t *app = app_json(&x->app);
    json_t *after = json_pack("{s:O, s:{s:s, s:s, s:s}}", "app", app, "bootstrapKey", "id",
                              x->key.id, "name", x->key.name, "role",
                              store_role_name(x->key.role));
    rc = api_audit(c, x->app.id, "app.create", "app", x->app.id, NULL, after);
    json_decref(after);
    if (rc < 0) {
        json_decref(app);
        return;
    }
    c->on_commit = create_commit;
    api_call_answer(c, 201, json_pack("{s:o, s:s}", "app", app, "bootstrapApiKey", x->secret));
}

static void create_app(struct http_request *req, void *arg)
{
    struct api *api = arg;
    if (api_authenticate_operator(api, req) < 0)
        return;
    json_t *body = API_BODY(req, create_fields);
    if (!body)
        return;
    struct create_ctx *x = xcalloc(1, sizeof(*x));
    struct store_app *a = &x->app;
    a->id = opt_string(body, "id");
    a->name = opt_string(body, "name");
    const json_t *settings = json_object_get(body, "settings");
    a->settings = settings ? json_dump_new(settings) : xstrdup("{}");
    a->default_timezone = opt_string(body, "defaultTimezone");
    if (!a->default_timezone)
        a->default_timezone = xstrdup("UTC");
    a->webhook_url = opt_string(body, "webhookUrl");
    a->webhook_secret = opt_string(body, "webhookSecret");
    a->webhook_events = events_text(body);
    a->created_at = a->updated_at = clock_now_ms();
    json_decref(body);
    if (api_key_generate(a->id, "bootstrap", STORE_ROLE_ADMIN, x->secret, &x->key) < 0) {
        create_ctx_free(x);
        http_respond_error(req, 500, "internal", "Internal server error");
        return;
    }
    struct api_call *c = api_call_new(api, req, NULL);
    if (!api_operator_token_valid(api, req)) /* open signup let it in without the token */
        c->actor = STORE_AUDIT_ACTOR_SIGNUP;
    c->ctx = x;
    c->ctx_free = create_ctx_free;
    api_call_submit(c, create_run);
}

/* ---- GET /apps/:id ----------------------------------------------------------------------- */

/* Loads the caller's app; answers 404 or 500 and returns -1 when it cannot. */
static int load_app(struct api_call *c, struct store *st, struct store_app *a)
{
    char err[256];
    int rc = store_app_get(st, c->who.app_id, a, err, sizeof(err));
    if (rc == STORE_NOT_FOUND)
        api_call_error(c, 404, "not_found", "App not found");
    else if (rc < 0)
        api_call_internal(c, "app read failed", err);
    return rc < 0 ? -1 : 0;
}

static void get_run(struct api_call *c, struct store *st)
{
    struct store_app a;
    if (load_app(c, st, &a) < 0)
        return;
    api_call_answer(c, 200, json_pack("{s:o}", "app", app_json(&a)));
    store_app_release(&a);
}

/* The key must belong to the app in the path; any other id answers 404 like a missing one. */
static int own_app(struct http_request *req, const struct principal *who)
{
    const char *id = http_request_param(req, "id");
    if (!id || strcmp(id, who->app_id) != 0) {
        http_respond_error(req, 404, "not_found", "App not found");
        return -1;
    }
    return 0;
}

static void get_app(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ADMIN, &who) < 0 || own_app(req, &who) < 0)
        return;
    api_call_submit(api_call_new(api, req, &who), get_run);
}

/* ---- PATCH /apps/:id --------------------------------------------------------------------- */

struct patch_ctx {
    json_t *body;
    struct store_app app; /* as stored, once updated */
};

static void patch_ctx_free(void *p)
{
    struct patch_ctx *x = p;
    json_decref(x->body);
    store_app_release(&x->app);
    free(x);
}

static void patch_commit(struct api_call *c)
{
    struct patch_ctx *x = c->ctx;
    /* The engine's model of the app was forgotten in the batch (patch_run), and one that
     * fails forgets every app's. */
    tenant_app_put(c->api->tenants, &x->app);
}

static void patch_run(struct api_call *c, struct store *st)
{
    struct patch_ctx *x = c->ctx;
    json_t *body = x->body;
    struct store_app a;
    char err[256];
    if (load_app(c, st, &a) < 0)
        return;
    json_t *before = app_json(&a);
    const json_t *v;
    if ((v = json_object_get(body, "name"))) {
        free(a.name);
        a.name = xstrdup(json_string_value(v));
    }
    if ((v = json_object_get(body, "settings"))) {
        free(a.settings);
        a.settings = json_dump_new(v);
    }
    if ((v = json_object_get(body, "defaultTimezone"))) {
        free(a.default_timezone);
        a.default_timezone = xstrdup(json_string_value(v));
    }
    if ((v = json_object_get(body, "webhookUrl"))) {
        free(a.webhook_url);
        a.webhook_url = json_is_null(v) ? NULL : xstrdup(json_string_value(v));
    }
    if ((v = json_object_get(body, "webhookSecret"))) {
        free(a.webhook_secret);
        a.webhook_secret = json_is_null(v) ? NULL : xstrdup(json_string_value(v));
    }
    if (json_object_get(body, "webhookEvents")) {
        free(a.webhook_events);
        a.webhook_events = events_text(body);
    }
    a.updated_at = clock_now_ms();
    /* Events stored so far are never applied again under the settings about to change, and
     * the rest of the batch's events see the new ones, as replaying them would. Only the
     * settings and the time zone reach the game model: a new name or webhook folds nothing. */
    bool model = json_object_get(body, "settings") || json_object_get(body, "defaultTimezone");
    if (model && engine_settle(c->api->engine, st, err, sizeof(err)) < 0) {
        json_decref(before);
        store_app_release(&a);
        api_call_fail_batch(c, "folding the game logs failed", err);
        return;
    }
    if (model)
        engine_apps_forget(c->api->engine, a.id);
    int rc = store_app_update(st, &a, err, sizeof(err));
    if (rc < 0) {
        json_decref(before);
        store_app_release(&a);
        if (rc == STORE_NOT_FOUND)
            api_call_error(c, 404, "not_found", "App not found");
        else
            api_call_internal(c, "app update failed", err);
        return;
    }
    json_t *after = app_json(&a);
    rc = api_audit(c, NULL, "app.update", "app", a.id, before, after);
    json_decref(before);
    if (rc < 0) {
        json_decref(after);
        store_app_release(&a);
        return;
    }
    api_call_answer(c, 200, json_pack("{s:o}", "app", after));
    x->app = a; /* the registry follows once committed */
    c->on_commit = patch_commit;
}

static void patch_app(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ADMIN, &who) < 0 || own_app(req, &who) < 0)
        return;
    json_t *body = API_BODY(req, update_fields);
    if (!body)
        return;
    struct patch_ctx *x = xcalloc(1, sizeof(*x));
    x->body = body;
    struct api_call *c = api_call_new(api, req, &who);
    c->ctx = x;
    c->ctx_free = patch_ctx_free;
    api_call_submit(c, patch_run);
}

int api_apps_register(struct router *r, struct api *api)
{
    if (router_add(r, HTTP_POST, "/apps", create_app, api) < 0 ||
        router_add(r, HTTP_GET, "/apps/:id", get_app, api) < 0 ||
        router_add(r, HTTP_PATCH, "/apps/:id", patch_app, api) < 0)
        return -1;
    return 0;
}
