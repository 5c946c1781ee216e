/* API keys: POST /keys, GET /keys, DELETE /keys/:id (ADMIN). Secrets are shown once, at
 * creation; the store and every listing carry only ids, names, roles and times. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/mem.h"
#include "core/secret.h"
#include "core/uuid.h"
#include "http/url.h"

int api_key_generate(const char *app_id, const char *name, enum store_role role,
                     char secret[API_KEY_LEN + 1], struct store_key *rec)
{
    char id[UUID_LEN + 1];
    memcpy(secret, "fge_", 4);
    if (secret_random_hex(secret + 4, 24) < 0 || uuid_v4(id) < 0)
        return -1;
    memset(rec, 0, sizeof(*rec));
    rec->id = xstrdup(id);
    rec->app_id = xstrdup(app_id);
    rec->name = xstrdup(name);
    rec->role = role;
    tenant_hash_key(secret, API_KEY_LEN, rec->hash);
    rec->created_at = clock_now_ms();
    return 0;
}

static const char *check_role(const json_t *v)
{
    enum store_role r;
    return store_role_parse(json_string_value(v), &r) < 0
               ? "must be one of ADMIN, INGEST, READONLY"
               : NULL;
}

static const struct api_field create_fields[] = {
    { "role", API_STRING, API_REQUIRED, 0, 0, check_role },
    { "name", API_STRING, API_REQUIRED, 1, 200, NULL },
};

static json_t *key_json(const struct store_key *k, int64_t last_used)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", k->id, "name", k->name, "role",
                          store_role_name(k->role), "createdAt", api_time(k->created_at),
                          "lastUsedAt", api_time(last_used));
    if (k->revoked_at)
        json_object_set_new(j, "revokedAt", api_time(k->revoked_at));
    return j;
}

/* ---- POST /keys -------------------------------------------------------------------------- */

struct create_ctx {
    struct store_key key;
    char secret[API_KEY_LEN + 1];
};

static void create_ctx_free(void *p)
{
    struct create_ctx *x = p;
    store_key_release(&x->key);
    OPENSSL_cleanse(x->secret, sizeof(x->secret));
    free(x);
}

static void create_commit(struct api_call *c)
{
    struct create_ctx *x = c->ctx;
    tenant_key_put(c->api->tenants, &x->key);
}

static void create_run(struct api_call *c, struct store *st)
{
    struct create_ctx *x = c->ctx;
    char err[256];
    if (tenant_app_key_count(c->api->tenants, c->who.app_id) >= API_MAX_KEYS_PER_APP) {
        api_call_error(c, 409, "too_many_keys",
                       "This app has the most active keys allowed (1000); revoke some first");
        return;
    }
    if (store_key_create(st, &x->key, err, sizeof(err)) < 0) {
        api_call_internal(c, "key create failed", err);
        return;
    }
    json_t *info = json_pack("{s:s, s:s, s:s, s:o}", "id", x->key.id, "name", x->key.name, "role",
                             store_role_name(x->key.role), "createdAt",
                             api_time(x->key.created_at));
    if (api_audit(c, NULL, "key.create", "key", x->key.id, NULL, info) < 0) {
        json_decref(info);
        return;
    }
    c->on_commit = create_commit;
    api_call_answer(c, 201, json_pack("{s:s, s:o}", "key", x->secret, "apiKey", info));
}

static void create_key(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ADMIN, &who) < 0)
        return;
    json_t *body = API_BODY(req, create_fields);
    if (!body)
        return;
    enum store_role role;
    store_role_parse(json_string_value(json_object_get(body, "role")), &role);
    struct create_ctx *x = xcalloc(1, sizeof(*x));
    int rc = api_key_generate(who.app_id, json_string_value(json_object_get(body, "name")), role,
                              x->secret, &x->key);
    json_decref(body);
    if (rc < 0) {
        create_ctx_free(x);
        http_respond_error(req, 500, "internal", "Internal server error");
        return;
    }
    struct api_call *c = api_call_new(api, req, &who);
    c->ctx = x;
    c->ctx_free = create_ctx_free;
    api_call_submit(c, create_run);
}

/* ---- GET /keys --------------------------------------------------------------------------- */

struct list_ctx {
    struct api_call *call;
    json_t *rows;
};

static void list_row(const struct store_key *k, void *arg)
{
    struct list_ctx *l = arg;
    int64_t seen = k->revoked_at ? 0 : tenant_key_last_used(l->call->api->tenants, k->id);
    json_array_append_new(l->rows, key_json(k, seen > k->last_used_at ? seen : k->last_used_at));
}

static void list_run(struct api_call *c, struct store *st)
{
    struct list_ctx l = { c, json_array() };
    char err[256];
    bool with_revoked = c->ctx != NULL;
    if (store_keys_each(st, c->who.app_id, with_revoked, list_row, &l, err, sizeof(err)) < 0) {
        json_decref(l.rows);
        api_call_internal(c, "key list failed", err);
        return;
    }
    api_call_answer(c, 200, json_pack("{s:o}", "keys", l.rows));
}

static void list_keys(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ADMIN, &who) < 0)
        return;
    struct buf v = BUF_INIT;
    int rc = http_request_query(req, "includeRevoked", &v);
    bool with_revoked = rc == 1 && strcmp(v.data, "true") == 0;
    bool bad = rc < 0 || (rc == 1 && !with_revoked && strcmp(v.data, "false") != 0);
    buf_release(&v);
    if (bad) {
        http_respond_error_details(req, 400, "validation_failed", "Validation failed",
                                   json_pack("{s:s}", "includeRevoked", "must be true or false"));
        return;
    }
    struct api_call *c = api_call_new(api, req, &who);
    c->ctx = with_revoked ? (void *)1 : NULL; /* a flag, not memory: no ctx_free */
    api_call_submit(c, list_run);
}

/* ---- DELETE /keys/:id -------------------------------------------------------------------- */

/* Committed: from now on no I/O thread accepts the key (before the 204 is sent). */
static void revoke_commit(struct api_call *c)
{
    tenant_key_remove(c->api->tenants, c->ctx);
}

static void revoke_run(struct api_call *c, struct store *st)
{
    const char *key_id = c->ctx;
    char err[256];
    int64_t now = clock_now_ms();
    int rc = store_key_revoke(st, c->who.app_id, key_id, now, err, sizeof(err));
    if (rc == STORE_NOT_FOUND) {
        api_call_error(c, 404, "not_found", "API key not found");
        return;
    }
    if (rc < 0) {
        api_call_internal(c, "key revoke failed", err);
        return;
    }
    json_t *before = json_pack("{s:s, s:n}", "id", key_id, "revokedAt");
    json_t *after = json_pack("{s:s, s:o}", "id", key_id, "revokedAt", api_time(now));
    rc = api_audit(c, NULL, "key.revoke", "key", key_id, before, after);
    json_decref(before);
    json_decref(after);
    if (rc < 0)
        return;
    c->on_commit = revoke_commit;
    api_call_answer(c, 204, NULL);
}

static void revoke_key(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ADMIN, &who) < 0)
        return;
    const char *id = http_request_param(req, "id");
    if (strlen(id) != TENANT_KEY_ID_LEN) { /* cannot exist: same answer as a missing one */
        http_respond_error(req, 404, "not_found", "API key not found");
        return;
    }
    struct api_call *c = api_call_new(api, req, &who);
    c->ctx = xstrdup(id);
    c->ctx_free = free;
    api_call_submit(c, revoke_run);
}

int api_keys_register(struct router *r, struct api *api)
{
    if (router_add(r, HTTP_POST, "/keys", create_key, api) < 0 ||
        router_add(r, HTTP_GET, "/keys", list_keys, api) < 0 ||
        router_add(r, HTTP_DELETE, "/keys/:id", revoke_key, api) < 0)
        return -1;
    return 0;
}
