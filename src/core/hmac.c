/* HMAC-SHA256 over parts, with OpenSSL 3's EVP_MAC (see hmac.h). */
#include "core/hmac.h"

#include "core/hex.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

int hmac_sha256_hex(const void *key, size_t key_len, const struct hmac_part *parts, size_t n,
                    char out[HMAC_HEX_LEN + 1])
{
    int ret = -1;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    unsigned char md[32];
    size_t md_len = 0;
    if (!ctx || !EVP_MAC_init(ctx, key, key_len, params))
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (!EVP_MAC_update(ctx, parts[i].data, parts[i].len))
            goto out;
    }
    if (!EVP_MAC_final(ctx, md, &md_len, sizeof(md)) || md_len != sizeof(md))
        goto out;
    hex_encode(md, sizeof(md), out);
    ret = 0;
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ret;
}
