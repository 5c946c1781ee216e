/* HMAC-SHA256 as ForgeEngine signs events: hex of HMAC(secret, "<ts>.<nonce>.<body>").
 * The message is given in parts so callers need not build the concatenation. */
#ifndef REACTOR_CORE_HMAC_H
#define REACTOR_CORE_HMAC_H

#include <stddef.h>

struct hmac_part {
    const void *data;
    size_t len;
};

#define HMAC_HEX_LEN 64

/* Writes the lowercase hex HMAC-SHA256 of the concatenated parts, NUL-terminated, into out.
 * Returns 0, or -1 if the crypto library fails. */
int hmac_sha256_hex(const void *key, size_t key_len, const struct hmac_part *parts, size_t n,
                    char out[HMAC_HEX_LEN + 1]);

/* A key scheduled once for many messages (one thread at a time): what a signer sending many
 * requests uses. NULL if the crypto library fails. */
struct hmac_key;
struct hmac_key *hmac_key_new(const void *key, size_t key_len);
void hmac_key_free(struct hmac_key *k);
int hmac_key_hex(struct hmac_key *k, const struct hmac_part *parts, size_t n,
                 char out[HMAC_HEX_LEN + 1]);

#endif
