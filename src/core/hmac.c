/* HMAC-SHA256 over message parts (see hmac.h). */
#include "core/hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdlib.h>

#include "core/hex.h"
#include "core/mem.h"

struct hmac_key {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;
};

struct hmac_key *hmac_key_new(const void *key, size_t key_len)
{
    struct hmac_key *k = xcalloc(1, sizeof(*k));
    k->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    k->ctx = k->mac ? EVP_MAC_CTX_new(k->mac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (!k->ctx || !EVP_MAC_init(k->ctx, key, key_len, params)) {
        hmac_key_free(k);
        return NULL;
    }
    return k;
}

void hmac_key_free(struct hmac_key *k)
{
    if (!k)
        return;
    EVP_MAC_CTX_free(k->ctx);
    EVP_MAC_free(k->mac);
    free(k);
}

int hmac_key_hex(struct hmac_key *k, const struct hmac_part *parts, size_t n,
                 char out[HMAC_HEX_LEN + 1])
{
    unsigned char md[32];
    size_t md_len = 0;
    if (!EVP_MAC_init(k->ctx, NULL, 0, NULL)) /* same key, new message */
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!EVP_MAC_update(k->ctx, parts[i].data, parts[i].len))
            return -1;
    }
    if (!EVP_MAC_final(k->ctx, md, &md_len, sizeof(md)) || md_len != sizeof(md))
        return -1;
    hex_encode(md, sizeof(md), out);
    return 0;
}

int hmac_sha256_hex(const void *key, size_t key_len, const struct hmac_part *parts, size_t n,
                    char out[HMAC_HEX_LEN + 1])
{
    struct hmac_key *k = hmac_key_new(key, key_len);
    int rc = k ? hmac_key_hex(k, parts, n, out) : -1;
    hmac_key_free(k);
    return rc;
}
