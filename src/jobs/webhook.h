/* Webhooks: what an app's webhook receives and how it is signed, and the outbox that turns a
 * committed event's effects into webhook jobs.
 *
 * Each effect of a type the app subscribed to (webhookEvents; by default level.up,
 * achievement.unlocked, currency.changed, streak.updated) becomes one job of kind "webhook"
 * whose payload is the exact body POSTed: {id, type, appId, userId, data, occurredAt}, `id`
 * a UUID that stays the same over retries (receivers deduplicate on it; it is also sent as
 * x-webhook-id). The job is inserted by the engine in the store batch of the event, so it
 * exists exactly when the event's effects do. Jobs of one (app, user) share an order key: the
 * queue runs them one at a time, oldest first (store.h).
 *
 * The request is signed like incoming events: x-signature-timestamp (Unix seconds),
 * x-signature-nonce, x-signature = hex HMAC-SHA256(app webhook secret,
 * "<timestamp>.<nonce>.<body>"); x-delivery-id names the attempt. */
#ifndef REACTOR_JOBS_WEBHOOK_H
#define REACTOR_JOBS_WEBHOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "store/store.h"

#define WEBHOOK_KIND "webhook"

/* Effect types a webhook can subscribe to, as bits of a mask. */
enum webhook_event {
    WEBHOOK_LEVEL_UP = 1u << 0,
    WEBHOOK_ACHIEVEMENT = 1u << 1,
    WEBHOOK_CURRENCY = 1u << 2,
    WEBHOOK_STREAK = 1u << 3,
    WEBHOOK_XP = 1u << 4,
};
#define WEBHOOK_EVENTS_DEFAULT \
    (WEBHOOK_LEVEL_UP | WEBHOOK_ACHIEVEMENT | WEBHOOK_CURRENCY | WEBHOOK_STREAK)

/* The bit of an effect type name ("level.up"), or 0 for a type no webhook carries. */
unsigned webhook_event_bit(const char *type);
/* The mask of an app's webhookEvents (JSON array text; NULL = the default). Unknown names are
 * ignored (the API refuses them). */
unsigned webhook_events_mask(const char *json_text);
/* For the API: NULL when v is a valid webhookEvents array (distinct known type names), or
 * what is wrong with it. */
const char *webhook_events_check(const json_t *v);
/* The list as the API shows it (new reference): the stored array, or the default one. */
json_t *webhook_events_json(const char *json_text);

/* The engine's outbox hook (engine_on_outbox; arg = the tenant registry): inserts one webhook
 * job per subscribed effect of a processed event, in the open batch. 0, or -1 when the store
 * failed (the batch must roll back). */
int webhook_outbox(void *registry, struct store *st, const char *app_id,
                   const struct store_event *ev, int max_attempts, int64_t now_ms, char *err,
                   size_t errlen);

/* True for an address webhooks must not reach when private ranges are refused: loopback,
 * RFC 1918, link-local, carrier-grade NAT, unspecified, multicast, IPv6 unique-local and
 * link-local, and IPv4-mapped forms of these. */
bool webhook_addr_private(const struct sockaddr *sa);

#endif
