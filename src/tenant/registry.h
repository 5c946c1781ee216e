/* The tenant registry: the in-memory view of apps and API keys that every request is
 * authenticated against, so no request needs a store round trip to find out who is calling.
 *
 * Keys are found by the SHA-256 of the presented secret (the store keeps only that hash).
 * Each key has a token bucket for rate limiting, sized by its app's settings.
 *
 * Threads: I/O threads authenticate concurrently under a read lock; the engine thread changes
 * the registry (new app, new key, revocation, app settings) under the write lock right after
 * the store commits, so a revocation is in force on every I/O thread before its HTTP answer
 * is sent. Nothing a lookup returns points into the registry: results are copied out.
 */
#ifndef REACTOR_TENANT_REGISTRY_H
#define REACTOR_TENANT_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/tz.h"
#include "store/store.h"

#define TENANT_APP_ID_MAX 64
#define TENANT_KEY_ID_LEN 36 /* a UUID */

struct principal {
    char app_id[TENANT_APP_ID_MAX + 1];
    char key_id[TENANT_KEY_ID_LEN + 1];
    enum store_role role;
};

enum tenant_auth { TENANT_OK, TENANT_UNKNOWN_KEY, TENANT_RATE_LIMITED };

struct tenant_registry;

/* Default bucket: `points` requests per `window_s` seconds, bursting up to `points`. */
struct tenant_registry *tenant_registry_new(int64_t points, int64_t window_s);
void tenant_registry_free(struct tenant_registry *r);

/* Authenticates a presented secret key. On TENANT_OK fills `who`, records the use and takes a
 * token. On TENANT_RATE_LIMITED fills `who` and `*retry_after_s` (>= 1). */
enum tenant_auth tenant_authenticate(struct tenant_registry *r, const char *key, size_t len,
                                     int64_t now_ms, struct principal *who,
                                     unsigned *retry_after_s);

/* Adds or updates an app (its rate limit comes from settings.rateLimit {points,
 * windowSeconds}, else the defaults). */
void tenant_app_put(struct tenant_registry *r, const struct store_app *app);
/* What ingestion needs of an app, copied out: the webhook secret that signs its events and
 * its ingest settings. */
#define TENANT_SECRET_MAX 1024 /* bytes: the API takes up to 256 characters */
struct tenant_ingest {
    char secret[TENANT_SECRET_MAX + 1];
    size_t secret_len;        /* 0 = the app has no secret: no signature can verify */
    bool auto_create_users;   /* settings.autoCreateUsers, default true */
};
/* 0 and the app's ingest view, or -1 when the app is unknown. */
int tenant_app_ingest(struct tenant_registry *r, const char *app_id, struct tenant_ingest *out);
/* The app's webhook: 0 with *events (jobs/webhook.h bits) and its URL in url (url_len bytes;
 * "" = no URL; a URL that does not fit is given as "+" so a small buffer still tells whether
 * there is one), or -1 when the app is unknown. */
int tenant_app_webhook(struct tenant_registry *r, const char *app_id, unsigned *events,
                       char *url, size_t url_len);
/* Only settings.autoCreateUsers (what the engine needs per request, without copying the
 * secret): 0 and *out, or -1 when the app is unknown. */
int tenant_app_auto_create(struct tenant_registry *r, const char *app_id, bool *out);
/* settings.leaderboards.timezone ("" for UTC) into out: 0, or -1 when the app is unknown. */
int tenant_app_board_tz(struct tenant_registry *r, const char *app_id, char out[TZ_NAME_MAX + 1]);

/* Adds an active key (its app should have been put first). */
void tenant_key_put(struct tenant_registry *r, const struct store_key *key);
/* Forgets a key: the next request presenting it is refused. */
void tenant_key_remove(struct tenant_registry *r, const char *key_id);

/* True while the key is known (not revoked). */
bool tenant_key_active(struct tenant_registry *r, const char *key_id);
/* Active keys of an app. */
size_t tenant_app_key_count(struct tenant_registry *r, const char *app_id);

/* Last use of a key seen by this process (0 = none). */
int64_t tenant_key_last_used(struct tenant_registry *r, const char *key_id);
/* Keys used since the previous call: fills *out with a new array of n entries whose key_id
 * strings are owned by the array; free with tenant_uses_free. */
size_t tenant_collect_uses(struct tenant_registry *r, struct store_key_use **out);
void tenant_uses_free(struct store_key_use *uses, size_t n);

/* SHA-256 of a secret, as stored. */
void tenant_hash_key(const char *key, size_t len, unsigned char out[32]);

#endif
