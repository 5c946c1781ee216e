/* The tenant registry (see registry.h).
 *
 * Chained hash tables under one rwlock: keys by secret hash (authentication) and by id
 * (listing, revocation), apps by id. Key entries point
 * at their app entry; app entries are updated in place and only freed with the registry, so
 * that pointer stays valid. Each key's token bucket has its own mutex, so two threads using
 * different keys never contend beyond the shared read lock. */
#include "tenant/registry.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/hash.h"
#include "core/mem.h"
#include "core/tz.h"
#include "jobs/webhook.h"

struct app_entry {
    char id[TENANT_APP_ID_MAX + 1];
    int64_t points;           /* bucket capacity */
    int64_t window_s;         /* time to refill the whole bucket */
    size_t n_keys;            /* active keys of the app */
    char *secret;             /* webhook secret, NULL = none */
    size_t secret_len;
    bool auto_create_users;
    char board_tz[TZ_NAME_MAX + 1]; /* settings.leaderboards.timezone, "" = UTC */
    char *webhook_url;        /* NULL = none */
    unsigned webhook_events;  /* jobs/webhook.h bits */
    struct app_entry *next;   /* chain */
};

struct key_entry {
    unsigned char hash[32];
    char id[TENANT_KEY_ID_LEN + 1];
    enum store_role role;
    struct app_entry *app;
    pthread_mutex_t bucket_lock; /* guards tokens, refilled_ms */
    double tokens;
    int64_t refilled_ms;
    _Atomic int64_t last_used_ms;
    atomic_bool used;         /* since the last tenant_collect_uses */
    struct key_entry *next;   /* chain by hash */
    struct key_entry *id_next; /* chain by id */
};

struct tenant_registry {
    pthread_rwlock_t lock;    /* guards both tables and entries' non-atomic fields */
    struct key_entry **keys;  /* by hash */
    struct key_entry **by_id; /* same entries, by id; same capacity */
    size_t n_keys, keys_cap;  /* cap: power of two */
    struct app_entry **apps;
    size_t n_apps, apps_cap;
    int64_t default_points, default_window_s;
};

static uint64_t hash_bytes(const void *p, size_t n)
{
    return hash_fnv1a(HASH_FNV_OFFSET, p, n);
}

static size_t key_slot(const unsigned char hash[32], size_t cap)
{
    uint64_t h;
    memcpy(&h, hash, sizeof(h)); /* already uniformly random */
    return (size_t)(h & (cap - 1));
}

struct tenant_registry *tenant_registry_new(int64_t points, int64_t window_s)
{
    struct tenant_registry *r = xcalloc(1, sizeof(*r));
    pthread_rwlock_init(&r->lock, NULL);
    r->keys_cap = 64;
    r->keys = xcalloc(r->keys_cap, sizeof(*r->keys));
    r->by_id = xcalloc(r->keys_cap, sizeof(*r->by_id));
    r->apps_cap = 64;
    r->apps = xcalloc(r->apps_cap, sizeof(*r->apps));
    r->default_points = points;
    r->default_window_s = window_s;
    return r;
}

void tenant_registry_free(struct tenant_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->keys_cap; i++) {
        for (struct key_entry *k = r->keys[i], *n; k; k = n) {
            n = k->next;
            pthread_mutex_destroy(&k->bucket_lock);
            free(k);
        }
    }
    for (size_t i = 0; i < r->apps_cap; i++) {
        for (struct app_entry *a = r->apps[i], *n; a; a = n) {
            n = a->next;
            if (a->secret)
                OPENSSL_cleanse(a->secret, a->secret_len);
            free(a->secret);
            free(a->webhook_url);
            free(a);
        }
    }
    free(r->keys);
    free(r->by_id);
    free(r->apps);
    pthread_rwlock_destroy(&r->lock);
    free(r);
}

/* SHA256() looks the digest up in OpenSSL's provider tables on every call, which was most of
 * what hashing a key cost; so the digest is fetched once and each thread keeps a context.
 *
 * Each thread also remembers the digests of the last few keys it authenticated: a client
 * sends the same key on every request, and a key's digest never changes, so the cache needs
 * no invalidation (revoking a key removes its digest from the registry, not from here). The
 * key is compared in constant time; the slot it lands in depends on a hash of it, which says
 * nothing useful about its bytes. */
#define KEY_CACHE_SLOTS 8
#define KEY_CACHE_KEY_MAX 64 /* longer secrets are hashed every time */

struct key_cache_slot {
    size_t len; /* 0 = empty */
    char key[KEY_CACHE_KEY_MAX];
    unsigned char hash[32];
};

struct sha256_thread {
    EVP_MD_CTX *ctx;
    struct key_cache_slot slots[KEY_CACHE_SLOTS];
};

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;
static pthread_key_t sha256_key;
static bool sha256_key_ok;

static void sha256_thread_free(void *p)
{
    struct sha256_thread *t = p;
    EVP_MD_CTX_free(t->ctx);
    OPENSSL_cleanse(t, sizeof(*t)); /* the cached secrets */
    free(t);
}

static void sha256_init(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    sha256_key_ok = pthread_key_create(&sha256_key, sha256_thread_free) == 0;
}

/* This thread's context and cache, or NULL when they cannot be had. */
static struct sha256_thread *sha256_thread(void)
{
    pthread_once(&sha256_once, sha256_init);
    if (!sha256_key_ok || !sha256_md)
        return NULL;
    struct sha256_thread *t = pthread_getspecific(sha256_key);
    if (t)
        return t;
    t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (!(t->ctx = EVP_MD_CTX_new()) || pthread_setspecific(sha256_key, t) != 0) {
        EVP_MD_CTX_free(t->ctx);
        free(t);
        return NULL;
    }
    return t;
}

static void hash_with(struct sha256_thread *t, const char *key, size_t len,
                      unsigned char out[32])
{
    unsigned n = 0;
    if (t && EVP_DigestInit_ex2(t->ctx, sha256_md, NULL) && EVP_DigestUpdate(t->ctx, key, len) &&
        EVP_DigestFinal_ex(t->ctx, out, &n) && n == 32)
        return;
    SHA256((const unsigned char *)key, len, out); /* the slow way never fails to answer */
}

void tenant_hash_key(const char *key, size_t len, unsigned char out[32])
{
    hash_with(sha256_thread(), key, len, out);
}

/* tenant_hash_key through this thread's cache of recent keys. */
static void hash_key_cached(const char *key, size_t len, unsigned char out[32])
{
    struct sha256_thread *t = sha256_thread();
    if (!t || len == 0 || len > KEY_CACHE_KEY_MAX) {
        hash_with(t, key, len, out);
        return;
    }
    struct key_cache_slot *s = &t->slots[hash_bytes(key, len) % KEY_CACHE_SLOTS];
    if (s->len == len && CRYPTO_memcmp(s->key, key, len) == 0) {
        memcpy(out, s->hash, 32);
        return;
    }
    hash_with(t, key, len, out);
    s->len = len;
    memcpy(s->key, key, len);
    memcpy(s->hash, out, 32);
}

/* ---- apps (write lock held) -------------------------------------------------------------- */

static struct app_entry *app_find(struct tenant_registry *r, const char *id)
{
    size_t slot = (size_t)(hash_bytes(id, strlen(id)) & (r->apps_cap - 1));
    for (struct app_entry *a = r->apps[slot]; a; a = a->next) {
        if (strcmp(a->id, id) == 0)
            return a;
    }
    return NULL;
}

static void apps_grow(struct tenant_registry *r)
{
    size_t cap = r->apps_cap * 2;
    struct app_entry **t = xcalloc(cap, sizeof(*t));
    for (size_t i = 0; i < r->apps_cap; i++) {
        for (struct app_entry *a = r->apps[i], *n; a; a = n) {
            n = a->next;
            size_t slot = (size_t)(hash_bytes(a->id, strlen(a->id)) & (cap - 1));
            a->next = t[slot];
            t[slot] = a;
        }
    }
    free(r->apps);
    r->apps = t;
    r->apps_cap = cap;
}

static struct app_entry *app_get_or_add(struct tenant_registry *r, const char *id)
{
    struct app_entry *a = app_find(r, id);
    if (a)
        return a;
    if (r->n_apps + 1 > r->apps_cap)
        apps_grow(r);
    a = xcalloc(1, sizeof(*a));
    strncpy(a->id, id, TENANT_APP_ID_MAX);
    a->points = r->default_points;
    a->window_s = r->default_window_s;
    a->auto_create_users = true;
    size_t slot = (size_t)(hash_bytes(a->id, strlen(a->id)) & (r->apps_cap - 1));
    a->next = r->apps[slot];
    r->apps[slot] = a;
    r->n_apps++;
    return a;
}

void tenant_app_put(struct tenant_registry *r, const struct store_app *app)
{
    int64_t points = r->default_points, window = r->default_window_s;
    json_t *settings = app->settings ? json_loads(app->settings, 0, NULL) : NULL;
    json_t *rl = settings ? json_object_get(settings, "rateLimit") : NULL;
    if (json_is_object(rl)) {
        json_t *p = json_object_get(rl, "points"), *w = json_object_get(rl, "windowSeconds");
        if (json_is_integer(p) && json_integer_value(p) > 0)
            points = json_integer_value(p);
        if (json_is_integer(w) && json_integer_value(w) > 0)
            window = json_integer_value(w);
    }
    bool auto_create = !json_is_false(settings ? json_object_get(settings, "autoCreateUsers") : NULL);
    json_t *lb = settings ? json_object_get(settings, "leaderboards") : NULL;
    json_t *tz = json_is_object(lb) ? json_object_get(lb, "timezone") : NULL;
    char board_tz[TZ_NAME_MAX + 1] = "";
    if (json_is_string(tz) && json_string_length(tz) <= TZ_NAME_MAX)
        strcpy(board_tz, json_string_value(tz));
    json_decref(settings);
    size_t secret_len = app->webhook_secret ? strlen(app->webhook_secret) : 0;
    if (secret_len > TENANT_SECRET_MAX)
        secret_len = 0; /* the API refuses such secrets; never sign with a truncated one */
    char *secret = secret_len ? xstrdup(app->webhook_secret) : NULL;
    char *url = app->webhook_url ? xstrdup(app->webhook_url) : NULL;
    unsigned events = webhook_events_mask(app->webhook_events);

    pthread_rwlock_wrlock(&r->lock);
    struct app_entry *a = app_get_or_add(r, app->id);
    a->points = points;
    a->window_s = window;
    a->auto_create_users = auto_create;
    memcpy(a->board_tz, board_tz, sizeof(board_tz));
    char *old = a->secret;
    size_t old_len = a->secret_len;
    a->secret = secret;
    a->secret_len = secret_len;
    char *old_url = a->webhook_url;
    a->webhook_url = url;
    a->webhook_events = events;
    pthread_rwlock_unlock(&r->lock);
    free(old_url);
    if (old) {
        OPENSSL_cleanse(old, old_len);
        free(old);
    }
}

int tenant_app_webhook(struct tenant_registry *r, const char *app_id, unsigned *events,
                       char *url, size_t url_len)
{
    pthread_rwlock_rdlock(&r->lock);
    struct app_entry *a = app_find(r, app_id);
    if (a) {
        *events = a->webhook_events;
        url[0] = '\0';
        if (a->webhook_url && strlen(a->webhook_url) < url_len)
            strcpy(url, a->webhook_url);
        else if (a->webhook_url && url_len)
            url[0] = '+'; /* present but longer than the buffer: callers asking "is there one?" */
    }
    pthread_rwlock_unlock(&r->lock);
    return a ? 0 : -1;
}

int tenant_app_auto_create(struct tenant_registry *r, const char *app_id, bool *out)
{
    pthread_rwlock_rdlock(&r->lock);
    struct app_entry *a = app_find(r, app_id);
    if (a)
        *out = a->auto_create_users;
    pthread_rwlock_unlock(&r->lock);
    return a ? 0 : -1;
}

int tenant_app_board_tz(struct tenant_registry *r, const char *app_id,
                        char out[TZ_NAME_MAX + 1])
{
    pthread_rwlock_rdlock(&r->lock);
    struct app_entry *a = app_find(r, app_id);
    if (a)
        memcpy(out, a->board_tz, TZ_NAME_MAX + 1);
    pthread_rwlock_unlock(&r->lock);
    return a ? 0 : -1;
}

int tenant_app_ingest(struct tenant_registry *r, const char *app_id, struct tenant_ingest *out)
{
    pthread_rwlock_rdlock(&r->lock);
    struct app_entry *a = app_find(r, app_id);
    if (a) {
        out->secret_len = a->secret_len;
        if (a->secret_len)
            memcpy(out->secret, a->secret, a->secret_len);
        out->secret[a->secret_len] = '\0';
        out->auto_create_users = a->auto_create_users;
    }
    pthread_rwlock_unlock(&r->lock);
    return a ? 0 : -1;
}

/* ---- keys -------------------------------------------------------------------------------- */

static size_t id_slot(const char *id, size_t cap)
{
    return (size_t)(hash_bytes(id, strlen(id)) & (cap - 1));
}

static struct key_entry *key_by_id(struct tenant_registry *r, const char *id)
{
    for (struct key_entry *k = r->by_id[id_slot(id, r->keys_cap)]; k; k = k->id_next) {
        if (strcmp(k->id, id) == 0)
            return k;
    }
    return NULL;
}

static void keys_grow(struct tenant_registry *r)
{
    size_t cap = r->keys_cap * 2;
    struct key_entry **t = xcalloc(cap, sizeof(*t));
    struct key_entry **ids = xcalloc(cap, sizeof(*ids));
    for (size_t i = 0; i < r->keys_cap; i++) {
        for (struct key_entry *k = r->keys[i], *n; k; k = n) {
            n = k->next;
            size_t slot = key_slot(k->hash, cap);
            k->next = t[slot];
            t[slot] = k;
            size_t islot = id_slot(k->id, cap);
            k->id_next = ids[islot];
            ids[islot] = k;
        }
    }
    free(r->keys);
    free(r->by_id);
    r->keys = t;
    r->by_id = ids;
    r->keys_cap = cap;
}

void tenant_key_put(struct tenant_registry *r, const struct store_key *key)
{
    pthread_rwlock_wrlock(&r->lock);
    size_t slot = key_slot(key->hash, r->keys_cap);
    struct key_entry *k = r->keys[slot];
    while (k && memcmp(k->hash, key->hash, 32) != 0)
        k = k->next;
    if (!k) {
        if (r->n_keys + 1 > r->keys_cap) {
            keys_grow(r);
            slot = key_slot(key->hash, r->keys_cap);
        }
        k = xcalloc(1, sizeof(*k));
        memcpy(k->hash, key->hash, 32);
        strncpy(k->id, key->id, TENANT_KEY_ID_LEN);
        pthread_mutex_init(&k->bucket_lock, NULL);
        k->refilled_ms = 0;
        k->tokens = -1; /* filled to capacity on first use */
        atomic_init(&k->last_used_ms, key->last_used_at);
        atomic_init(&k->used, false);
        k->next = r->keys[slot];
        r->keys[slot] = k;
        size_t islot = id_slot(k->id, r->keys_cap);
        k->id_next = r->by_id[islot];
        r->by_id[islot] = k;
        r->n_keys++;
    }
    struct app_entry *app = app_get_or_add(r, key->app_id);
    if (k->app != app) {
        if (k->app)
            k->app->n_keys--;
        app->n_keys++;
        k->app = app;
    }
    k->role = key->role;
    pthread_rwlock_unlock(&r->lock);
}

void tenant_key_remove(struct tenant_registry *r, const char *key_id)
{
    pthread_rwlock_wrlock(&r->lock);
    struct key_entry *k = key_by_id(r, key_id);
    if (k) {
        struct key_entry **pp = &r->keys[key_slot(k->hash, r->keys_cap)];
        while (*pp != k)
            pp = &(*pp)->next;
        *pp = k->next;
        pp = &r->by_id[id_slot(k->id, r->keys_cap)];
        while (*pp != k)
            pp = &(*pp)->id_next;
        *pp = k->id_next;
        k->app->n_keys--;
        r->n_keys--;
        pthread_mutex_destroy(&k->bucket_lock);
        free(k);
    }
    pthread_rwlock_unlock(&r->lock);
}

bool tenant_key_active(struct tenant_registry *r, const char *key_id)
{
    pthread_rwlock_rdlock(&r->lock);
    bool found = key_by_id(r, key_id) != NULL;
    pthread_rwlock_unlock(&r->lock);
    return found;
}

size_t tenant_app_key_count(struct tenant_registry *r, const char *app_id)
{
    pthread_rwlock_rdlock(&r->lock);
    struct app_entry *a = app_find(r, app_id);
    size_t n = a ? a->n_keys : 0;
    pthread_rwlock_unlock(&r->lock);
    return n;
}

/* Takes a token; returns 0, or the seconds until one is available. */
static unsigned take_token(struct key_entry *k, int64_t now_ms)
{
    const struct app_entry *a = k->app;
    double cap = (double)a->points;
    double rate = (double)a->points / ((double)a->window_s * 1000.0); /* tokens per ms */
    unsigned wait = 0;
    pthread_mutex_lock(&k->bucket_lock);
    if (k->tokens < 0) {
        k->tokens = cap;
    } else if (now_ms > k->refilled_ms) {
        k->tokens += (double)(now_ms - k->refilled_ms) * rate;
    }
    if (k->tokens > cap)
        k->tokens = cap;
    k->refilled_ms = now_ms;
    if (k->tokens >= 1.0) {
        k->tokens -= 1.0;
    } else {
        double ms = (1.0 - k->tokens) / rate;
        wait = (unsigned)(ms / 1000.0) + 1;
    }
    pthread_mutex_unlock(&k->bucket_lock);
    return wait;
}

enum tenant_auth tenant_authenticate(struct tenant_registry *r, const char *key, size_t len,
                                     int64_t now_ms, struct principal *who,
                                     unsigned *retry_after_s)
{
    unsigned char hash[32];
    hash_key_cached(key, len, hash);
    enum tenant_auth res = TENANT_UNKNOWN_KEY;
    pthread_rwlock_rdlock(&r->lock);
    for (struct key_entry *k = r->keys[key_slot(hash, r->keys_cap)]; k; k = k->next) {
        if (CRYPTO_memcmp(k->hash, hash, 32) != 0)
            continue;
        memcpy(who->app_id, k->app->id, sizeof(who->app_id));
        memcpy(who->key_id, k->id, sizeof(who->key_id));
        who->role = k->role;
        /* Written only when they change: threads sharing a key then share its cache line
         * instead of taking it from each other on every request. */
        if (atomic_load_explicit(&k->last_used_ms, memory_order_relaxed) != now_ms)
            atomic_store_explicit(&k->last_used_ms, now_ms, memory_order_relaxed);
        if (!atomic_load_explicit(&k->used, memory_order_relaxed))
            atomic_store_explicit(&k->used, true, memory_order_relaxed);
        unsigned wait = take_token(k, now_ms);
        if (wait) {
            *retry_after_s = wait;
            res = TENANT_RATE_LIMITED;
        } else {
            res = TENANT_OK;
        }
        break;
    }
    pthread_rwlock_unlock(&r->lock);
    return res;
}

int64_t tenant_key_last_used(struct tenant_registry *r, const char *key_id)
{
    pthread_rwlock_rdlock(&r->lock);
    struct key_entry *k = key_by_id(r, key_id);
    int64_t v = k ? atomic_load_explicit(&k->last_used_ms, memory_order_relaxed) : 0;
    pthread_rwlock_unlock(&r->lock);
    return v;
}

size_t tenant_collect_uses(struct tenant_registry *r, struct store_key_use **out)
{
    size_t n = 0, cap = 0;
    struct store_key_use *uses = NULL;
    pthread_rwlock_rdlock(&r->lock);
    for (size_t i = 0; i < r->keys_cap; i++) {
        for (struct key_entry *k = r->keys[i]; k; k = k->next) {
            if (!atomic_exchange_explicit(&k->used, false, memory_order_relaxed))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                uses = xrealloc(uses, cap * sizeof(*uses));
            }
            uses[n].key_id = xstrdup(k->id);
            uses[n].last_used_at = atomic_load_explicit(&k->last_used_ms, memory_order_relaxed);
            n++;
        }
    }
    pthread_rwlock_unlock(&r->lock);
    *out = uses;
    return n;
}

void tenant_uses_free(struct store_key_use *uses, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((char *)uses[i].key_id);
    free(uses);
}
