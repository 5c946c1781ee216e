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
    if (store_user_upsert(st, c->who.app_id, x->user_id, x->attributes, clock_now_ms(), &created,
                          &u, err, sizeof(err)) < 0) {
        api_call_internal(c, "user upsert failed", err);
        return;
    }
    api_call_answer(c, 201, json_pack("{s:o}", "user", user_json(&u)));
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

/* GET /users/:id and /users/:id/profile share the lookup; ctx says which shape to answer. */
struct get_ctx {
    char *user_id;
    bool profile;
};

static void get_ctx_free(void *p)
{
    struct get_ctx *x = p;
    free(x->user_id);
    free(x);
}

static void get_run(struct api_call *c, struct store *st)
{
    struct get_ctx *x = c->ctx;
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
    if (x->profile)
        api_call_answer(c, 200,
                        json_pack("{s:o, s:[], s:[], s:[], s:[]}", "user", user_json(&u), "levels",
                                  "streaks", "currencies", "achievements"));
    else
        api_call_answer(c, 200, json_pack("{s:o}", "user", user_json(&u)));
    store_user_release(&u);
}

static void get_user_common(struct http_request *req, struct api *api, bool profile)
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
    x->profile = profile;
    struct api_call *c = api_call_new(api, req, &who);
    c->ctx = x;
    c->ctx_free = get_ctx_free;
    api_call_submit(c, get_run);
}

static void get_user(struct http_request *req, void *arg)
{
    get_user_common(req, arg, false);
}

static void get_profile(struct http_request *req, void *arg)
{
    get_user_common(req, arg, true);
}

int api_users_register(struct router *r, struct api *api)
{
    if (router_add(r, HTTP_POST, "/users", upsert_user, api) < 0 ||
        router_add(r, HTTP_GET, "/users/:id", get_user, api) < 0 ||
        router_add(r, HTTP_GET, "/users/:id/profile", get_profile, api) < 0)
        return -1;
    return 0;
}
