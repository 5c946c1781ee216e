/* Event signature verification with per-app HMAC contexts (see signature.h).
 *
 * The cache is direct-mapped by a hash of the app id: an app whose slot is taken by another
 * re-keys it, which costs one fresh key schedule — the same as having no cache. */
#include "ingest/signature.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/hex.h"
#include "core/mem.h"

#define SIG_SLOTS 256
#define SIG_APP_MAX 64
/* The app API takes a webhook secret of up to 256 characters (src/api/apps.c): up to 1024
 * bytes of UTF-8. */
#define SIG_SECRET_MAX 256 /* bytes; the API refuses longer webhook secrets */

struct slot {
    char app_id[SIG_APP_MAX + 1];
    unsigned char secret[SIG_SECRET_MAX]; /* the key this context holds */
    size_t secret_len;
    EVP_MAC_CTX *ctx;                    /* NULL until first use */
};

struct sig_verifier {
    EVP_MAC *mac;
    struct slot slots[SIG_SLOTS];
};

const char *sig_result_message(enum sig_result r)
{
    switch (r) {
    case SIG_OK: return "OK";
    case SIG_MISSING: return "Missing event signature headers";
    case SIG_BAD_TIMESTAMP: return "Invalid signature timestamp";
    case SIG_EXPIRED: return "Expired signature timestamp";
    case SIG_BAD_SIGNATURE: return "Invalid signature";
    }
    return "Invalid signature";
}

struct sig_verifier *sig_verifier_new(void)
{
    struct sig_verifier *v = xcalloc(1, sizeof(*v));
    v->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    return v;
}

void sig_verifier_free(struct sig_verifier *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < SIG_SLOTS; i++) {
        if (!v->slots[i].ctx)
            continue; /* never used: nothing to wipe, and its pages need not be touched */
        EVP_MAC_CTX_free(v->slots[i].ctx);
        OPENSSL_cleanse(v->slots[i].secret, sizeof(v->slots[i].secret));
    }
    EVP_MAC_free(v->mac);
    free(v);
}

/* A context keyed with `secret`, reset for a new message; NULL if OpenSSL fails. */
static EVP_MAC_CTX *context_for(struct sig_verifier *v, const char *app_id, const char *secret,
                                size_t secret_len)
{
    uint64_t h = hash_fnv1a_str(HASH_FNV_OFFSET, app_id);
    struct slot *s = &v->slots[h % SIG_SLOTS];
    bool same = s->ctx && strcmp(s->app_id, app_id) == 0 && s->secret_len == secret_len &&
                memcmp(s->secret, secret, secret_len) == 0;
    if (same)
        return EVP_MAC_init(s->ctx, NULL, 0, NULL) ? s->ctx : NULL; /* same key, new message */
    if (!v->mac)
        return NULL;
    if (!s->ctx && !(s->ctx = EVP_MAC_CTX_new(v->mac)))
        return NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_init(s->ctx, (const unsigned char *)secret, secret_len, params)) {
        s->app_id[0] = '\0';
        return NULL;
    }
    snprintf(s->app_id, sizeof(s->app_id), "%s", app_id);
    memcpy(s->secret, secret, secret_len);
    s->secret_len = secret_len;
    return s->ctx;
}

enum sig_result sig_verify(struct sig_verifier *v, const char *app_id, const char *secret,
                           size_t secret_len, const struct sig_headers *h, const void *body,
                           size_t body_len, int64_t now_s, int tolerance_s)
{
    if (!h->timestamp || !h->timestamp_len || !h->nonce || !h->nonce_len || !h->signature ||
        !h->signature_len)
        return SIG_MISSING;
    if (h->timestamp_len > SIG_TIMESTAMP_MAX)
        return SIG_BAD_TIMESTAMP;
    int64_t ts = 0;
    for (size_t i = 0; i < h->timestamp_len; i++) {
        char c = h->timestamp[i];
        if (c < '0' || c > '9')
            return SIG_BAD_TIMESTAMP;
        ts = ts * 10 + (c - '0');
    }
    int64_t skew = now_s > ts ? now_s - ts : ts - now_s;
    if (skew > tolerance_s)
        return SIG_EXPIRED;
    if (h->signature_len != 64 || h->nonce_len > SIG_NONCE_MAX || !secret || secret_len == 0 ||
        secret_len > SIG_SECRET_MAX || strlen(app_id) > SIG_APP_MAX)
        return SIG_BAD_SIGNATURE;
    unsigned char given[32];
    if (hex_decode(h->signature, sizeof(given), given) < 0)
        return SIG_BAD_SIGNATURE;
    EVP_MAC_CTX *ctx = context_for(v, app_id, secret, secret_len);
    /* "<timestamp>.<nonce>." in one piece: each update goes through the provider's dispatch. */
    unsigned char head[SIG_TIMESTAMP_MAX + 1 + SIG_NONCE_MAX + 1];
    size_t n = 0;
    memcpy(head, h->timestamp, h->timestamp_len);
    n += h->timestamp_len;
    head[n++] = '.';
    memcpy(head + n, h->nonce, h->nonce_len);
    n += h->nonce_len;
    head[n++] = '.';
    unsigned char md[32];
    size_t md_len = 0;
    if (!ctx || !EVP_MAC_update(ctx, head, n) || !EVP_MAC_update(ctx, body, body_len) ||
        !EVP_MAC_final(ctx, md, &md_len, sizeof(md)) || md_len != sizeof(md))
        return SIG_BAD_SIGNATURE;
    return CRYPTO_memcmp(md, given, sizeof(md)) == 0 ? SIG_OK : SIG_BAD_SIGNATURE;
}
