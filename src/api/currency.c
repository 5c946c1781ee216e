/* POST /currency/spend (ADMIN or INGEST): takes an amount from a user's balance on the engine
 * thread, the single writer, so no interleaving of spends can overdraw (ForgeEngine's balance
 * went to -200 under 10 parallel spends). With an idempotencyKey a repeat answers the original
 * transaction (Idempotent-Replayed: true) and takes nothing again. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/json.h"
#include "core/clock.h"
#include "core/mem.h"
#include "engine/engine.h"
#include "engine/event.h"

static const char *check_amount(const json_t *v)
{
    return json_integer_value(v) > 0 ? NULL : "must be an integer greater than 0";
}

static const struct api_field spend_fields[] = {
    { "userId", API_STRING, API_REQUIRED, 1, EVENT_USER_ID_MAX, api_check_user_id },
    { "currency", API_STRING, API_REQUIRED, 1, 64, api_check_user_id },
    { "amount", API_INTEGER, API_REQUIRED, 1, 1000000000000LL, check_amount },
    { "reason", API_STRING, API_REQUIRED, 1, 200, api_check_user_id },
    { "metadata", API_OBJECT, API_NULLABLE, 0, 0, api_check_small_object },
    { "idempotencyKey", API_STRING, 0, EVENT_KEY_MIN, EVENT_KEY_MAX, api_check_user_id },
};

struct spend_ctx {
    json_t *body;
    struct store_ledger spent; /* a new spend's row, published once durable */
    char *user_id;
};

static void spend_ctx_free(void *p)
{
    struct spend_ctx *x = p;
    json_decref(x->body);
    if (x->user_id)
        store_ledger_release(&x->spent);
    free(x->user_id);
    free(x);
}

/* Once the spend is on disk (syncer thread): its currency.changed reaches the user's channel
 * like an event's effects. */
static void spend_durable(struct api_call *c)
{
    struct spend_ctx *x = c->ctx;
    if (!x->user_id)
        return;
    struct buf fx;
    struct store_event ev;
    engine_spend_event(c->who.app_id, x->user_id, &x->spent, &fx, &ev);
    engine_publish(c->api->engine, c->who.app_id, &ev);
    buf_release(&fx);
}

json_t *api_ledger_json(const char *user_id, const struct store_ledger *l)
{
    json_t *meta = l->metadata ? json_loads(l->metadata, 0, NULL) : NULL;
    json_t *t = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:o, s:o, s:o}", "id", l->id,
                          "userId", user_id, "kind", l->kind,
                          strcmp(l->kind, "xp") == 0 ? "track" : "currency", l->name, "amount",
                          (json_int_t)l->amount, "balanceAfter", (json_int_t)l->balance_after,
                          "reason", l->reason, "source",
                          l->source ? json_string(l->source) : json_null(), "metadata",
                          meta ? meta : json_null(), "createdAt", api_time(l->created_at));
    if (l->ref)
        json_object_set_new(t, strcmp(l->reason, "achievement") == 0 ? "achievementCode"
                                                                     : "ruleId",
                            json_string(l->ref));
    return t;
}

static void spend_run(struct api_call *c, struct store *st)
{
    struct spend_ctx *x = c->ctx;
    const json_t *meta = json_object_get(x->body, "metadata");
    char *meta_text = meta && !json_is_null(meta) ? json_dump_new(meta) : NULL;
    struct engine_spend_req req = {
        .user_id = json_string_value(json_object_get(x->body, "userId")),
        .currency = json_string_value(json_object_get(x->body, "currency")),
        .amount = json_integer_value(json_object_get(x->body, "amount")),
        .reason = json_string_value(json_object_get(x->body, "reason")),
        .metadata = meta_text,
        .key = json_string_value(json_object_get(x->body, "idempotencyKey")),
    };
    struct store_ledger l;
    char *user_id = NULL;
    char err[256] = "";
    int rc = engine_spend(c->api->engine, st, c->who.app_id, &req, clock_now_ms(), &l, &user_id,
                          err, sizeof(err));
    free(meta_text);
    if (rc == 0) {
        /* A replay changes nothing: only the first spend is audited. */
        json_t *before = json_pack("{s:s, s:I}", "currency", l.name, "balance",
                                   (json_int_t)(l.balance_after - l.amount));
        json_t *after = api_ledger_json(user_id, &l);
        int arc = api_audit(c, NULL, "currency.spend", "user", user_id, before, after);
        json_decref(before);
        json_decref(after);
        if (arc < 0) {
            store_ledger_release(&l);
            free(user_id);
            return;
        }
    }
    switch (rc) {
    case 0:
    case ENGINE_SPEND_REPLAYED:
        /* A replayed key answers with the transaction it was first used for. */
        if (rc == ENGINE_SPEND_REPLAYED) {
            c->header_name = "Idempotent-Replayed";
            c->header_value = "true";
        }
        api_call_answer(c, 201,
                        json_pack("{s:o}", "transaction", api_ledger_json(user_id, &l)));
        if (rc == 0) { /* kept for spend_durable */
            x->spent = l;
            x->user_id = user_id;
            c->on_durable = spend_durable;
            return;
        }
        store_ledger_release(&l);
        free(user_id);
        return;
    case ENGINE_SPEND_INSUFFICIENT:
        api_call_error(c, 409, "insufficient_balance", "Insufficient balance");
        return;
    case STORE_NOT_FOUND:
        api_call_error(c, 404, "not_found", "User not found");
        return;
    case ENGINE_STATE_UNREADABLE:
        api_call_internal(c, "spend refused", err);
        return;
    default:
        api_call_fail_batch(c, "spend failed", err);
        return;
    }
}

static void spend(struct http_request *req, void *arg)
{
    struct api *api = arg;
    struct principal who;
    if (api_authenticate(api, req, API_ROLE_ADMIN | API_ROLE_INGEST, &who) < 0)
        return;
    json_t *body = API_BODY(req, spend_fields);
    if (!body)
        return;
    struct spend_ctx *x = xcalloc(1, sizeof(*x));
    x->body = body;
    struct api_call *c = api_call_new(api, req, &who);
    c->ctx = x;
    c->ctx_free = spend_ctx_free;
    api_call_submit(c, spend_run);
}

int api_currency_register(struct router *r, struct api *api)
{
    return router_add(r, HTTP_POST, "/currency/spend", spend, api);
}
