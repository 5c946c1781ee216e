/* Webhook payloads, subscriptions, the outbox and the private address check (see webhook.h). */
#include "jobs/webhook.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/uuid.h"
#include "tenant/registry.h"

static const struct {
    const char *name;
    unsigned bit;
} event_names[] = {
    { "level.up", WEBHOOK_LEVEL_UP },
    { "achievement.unlocked", WEBHOOK_ACHIEVEMENT },
    { "currency.changed", WEBHOOK_CURRENCY },
    { "streak.updated", WEBHOOK_STREAK },
    { "xp.awarded", WEBHOOK_XP },
};
#define N_EVENT_NAMES (sizeof(event_names) / sizeof(event_names[0]))

unsigned webhook_event_bit(const char *type)
{
    for (size_t i = 0; i < N_EVENT_NAMES; i++)
        if (strcmp(type, event_names[i].name) == 0)
            return event_names[i].bit;
    return 0;
}

unsigned webhook_events_mask(const char *json_text)
{
    if (!json_text)
        return WEBHOOK_EVENTS_DEFAULT;
    json_t *a = json_loads(json_text, 0, NULL);
    unsigned mask = 0;
    size_t i;
    json_t *v;
    if (!json_is_array(a)) {
        json_decref(a);
        return WEBHOOK_EVENTS_DEFAULT;
    }
    json_array_foreach(a, i, v)
    {
        if (json_is_string(v))
            mask |= webhook_event_bit(json_string_value(v));
    }
    json_decref(a);
    return mask;
}

const char *webhook_events_check(const json_t *v)
{
    static const char what[] = "must be a list of distinct effect types: level.up, "
                               "achievement.unlocked, currency.changed, streak.updated, "
                               "xp.awarded";
    if (!json_is_array(v) || json_array_size(v) > N_EVENT_NAMES)
        return what;
    unsigned seen = 0;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        unsigned bit = json_is_string(x) ? webhook_event_bit(json_string_value(x)) : 0;
        if (!bit || (seen & bit))
            return what;
        seen |= bit;
    }
    return NULL;
}

json_t *webhook_events_json(const char *json_text)
{
    json_t *a = json_text ? json_loads(json_text, 0, NULL) : NULL;
    if (json_is_array(a))
        return a;
    json_decref(a);
    a = json_array();
    for (size_t i = 0; i < N_EVENT_NAMES; i++)
        if (WEBHOOK_EVENTS_DEFAULT & event_names[i].bit)
            json_array_append_new(a, json_string(event_names[i].name));
    return a;
}

int webhook_outbox(void *registry, struct store *st, const char *app_id,
                   const struct store_event *ev, int max_attempts, int64_t now_ms, char *err,
                   size_t errlen)
{
    unsigned mask;
    char url[8];
    if ((!ev->effects && !ev->fx) || ev->status != STORE_EVENT_PROCESSED ||
        tenant_app_webhook(registry, app_id, &mask, url, sizeof(url)) < 0 || !url[0] ||
        !mask)
        return 0;
    struct buf fx_json = BUF_INIT;
    const char *effects = store_event_effects(ev, &fx_json);
    json_t *fx = effects ? json_loads(effects, 0, NULL) : NULL;
    buf_release(&fx_json);
    if (!json_is_array(fx)) {
        json_decref(fx);
        return 0; /* the engine wrote it: cannot happen */
    }
    /* One order key per (app, user): a newline cannot appear in an app id. */
    size_t al = strlen(app_id), ul = strlen(ev->user_id);
    char *order = xmalloc(al + ul + 2);
    memcpy(order, app_id, al);
    order[al] = '\n';
    memcpy(order + al + 1, ev->user_id, ul + 1);
    char occurred[CLOCK_ISO_LEN];
    clock_iso(ev->occurred_at, occurred);
    int ret = 0;
    size_t i;
    json_t *e;
    json_array_foreach(fx, i, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        if (!type || !(mask & webhook_event_bit(type)))
            continue;
        char id[UUID_LEN + 1];
        if (uuid_v7(now_ms, id) < 0) {
            snprintf(err, errlen, "no random bytes for a webhook id");
            ret = -1;
            break;
        }
        json_t *data = json_deep_copy(e);
        json_object_del(data, "type");
        json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "id", id, "type", type,
                                 "appId", app_id, "userId", ev->user_id, "data", data,
                                 "occurredAt", occurred);
        char *payload = json_dump_new(body);
        json_decref(body);
        struct store_job job = {
            .kind = WEBHOOK_KIND,
            .app_id = (char *)app_id,
            .order_key = order,
            .payload = payload,
            .max_attempts = max_attempts,
            .run_at = now_ms,
            .created_at = now_ms,
        };
        ret = store_job_insert(st, &job, NULL, err, errlen);
        free(payload);
        if (ret < 0)
            break;
    }
    free(order);
    json_decref(fx);
    return ret;
}

static bool v4_private(uint32_t a)
{
    return (a >> 24) == 0 ||                  /* 0.0.0.0/8 */
           (a >> 24) == 10 ||                 /* 10/8 */
           (a >> 24) == 127 ||                /* loopback */
           (a >> 16) == 0xa9fe ||             /* 169.254/16 link-local */
           (a >> 20) == 0xac1 ||              /* 172.16/12 */
           (a >> 16) == 0xc0a8 ||             /* 192.168/16 */
           (a >> 22) == (0x64400000u >> 22) || /* 100.64/10 carrier-grade NAT */
           (a >> 28) == 0xe ||                /* 224/4 multicast */
           (a >> 28) == 0xf;                  /* 240/4 reserved, broadcast */
}

bool webhook_addr_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return v4_private(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family != AF_INET6)
        return true; /* nothing else is a webhook's business */
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    const unsigned char *b = a->s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a)) {
        uint32_t v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
        return v4_private(v4);
    }
    return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a) ||
           IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_SITELOCAL(a) || IN6_IS_ADDR_MULTICAST(a) ||
           (b[0] & 0xfe) == 0xfc; /* fc00::/7 unique local */
}
