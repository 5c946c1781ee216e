/* UUID text forms (see uuid.h). */
#include "core/uuid.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"

void uuid_text(const unsigned char u[UUID_BYTES], char out[UUID_LEN + 1])
{
    char h[2 * UUID_BYTES + 1];
    hex_encode(u, UUID_BYTES, h);
    char *o = out;
    static const int groups[] = { 8, 4, 4, 4, 12 };
    const char *p = h;
    for (int i = 0; i < 5; i++) {
        if (i)
            *o++ = '-';
        memcpy(o, p, (size_t)groups[i]);
        o += groups[i];
        p += groups[i];
    }
    *o = '\0';
}

bool uuid_parse(const char *s, unsigned char out[UUID_BYTES])
{
    size_t n = 0;
    for (size_t i = 0; i < UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
            continue;
        }
        int d = s[i] >= 'A' && s[i] <= 'F' ? -1 : hex_value(s[i]); /* stops at the NUL */
        if (d < 0)
            return false;
        out[n / 2] = (unsigned char)(n % 2 ? out[n / 2] | d : d << 4);
        n++;
    }
    return s[UUID_LEN] == '\0';
}

static void format(unsigned char u[16], unsigned version, char out[UUID_LEN + 1])
{
    u[6] = (unsigned char)((u[6] & 0x0f) | (version << 4));
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 9562 variant */
    uuid_text(u, out);
}

/* Random bytes from a small per-thread pool refilled from the CSPRNG: one RAND_bytes call
 * (with its locking and fork check) per 25 or so UUIDs instead of one each. */
static int random_bytes(unsigned char *out, size_t n)
{
    static _Thread_local unsigned char pool[256];
    static _Thread_local size_t left;
    if (n > sizeof(pool))
        return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
    if (left < n) {
        if (RAND_bytes(pool, sizeof(pool)) != 1)
            return -1;
        left = sizeof(pool);
    }
    memcpy(out, pool + sizeof(pool) - left, n);
    OPENSSL_cleanse(pool + sizeof(pool) - left, n); /* handed out once, never kept */
    left -= n;
    return 0;
}

/* The 48-bit big-endian millisecond timestamp a version 7 UUID starts with. */
static void put_ms(unsigned char u[16], int64_t unix_ms)
{
    uint64_t ms = (uint64_t)unix_ms;
    for (int i = 5; i >= 0; i--) {
        u[i] = (unsigned char)(ms & 0xff);
        ms >>= 8;
    }
}

int uuid_v4(char out[UUID_LEN + 1])
{
    unsigned char u[16];
    if (random_bytes(u, sizeof(u)) < 0)
        return -1;
    format(u, 4, out);
    return 0;
}

int uuid_v7(int64_t unix_ms, char out[UUID_LEN + 1])
{
    unsigned char u[16];
    if (random_bytes(u + 6, 10) < 0)
        return -1;
    put_ms(u, unix_ms);
    format(u, 7, out);
    return 0;
}

bool uuid_add(const char *id, uint64_t add, char out[UUID_LEN + 1])
{
    unsigned char u[UUID_BYTES];
    if (!uuid_parse(id, u))
        return false;
    uint64_t v = 0;
    for (size_t i = UUID_BYTES - 6; i < UUID_BYTES; i++)
        v = v << 8 | u[i];
    static const char digits[] = "0123456789abcdef";
    v = (v + add) & ((UINT64_C(1) << 48) - 1);
    memcpy(out, id, UUID_LEN - 12);
    for (size_t i = UUID_LEN; i-- > UUID_LEN - 12; v >>= 4)
        out[i] = digits[v & 15];
    out[UUID_LEN] = '\0';
    return true;
}

void uuid_next(char id[UUID_LEN + 1])
{
    static const char next[] = "123456789abcdef0";
    for (size_t j = UUID_LEN; j-- > UUID_LEN - 12;) {
        int d = hex_value(id[j]);
        if (d < 0)
            return; /* not in the form uuid_add takes: left as it is */
        id[j] = next[d];
        if (id[j] != '0')
            return;
    }
}

/* ---- keys that carry a seq ------------------------------------------------------------------ */

struct uuid_seq_key {
    EVP_CIPHER_CTX *aes; /* AES-128, one block at a time */
};

struct uuid_seq_key *uuid_seq_key_new(const unsigned char secret[UUID_SEQ_SECRET_LEN])
{
    struct uuid_seq_key *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->aes = EVP_CIPHER_CTX_new();
    if (!k->aes || EVP_EncryptInit_ex(k->aes, EVP_aes_128_ecb(), NULL, secret, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(k->aes, 0) != 1) {
        uuid_seq_key_free(k);
        return NULL;
    }
    return k;
}

void uuid_seq_key_free(struct uuid_seq_key *k)
{
    if (!k)
        return;
    EVP_CIPHER_CTX_free(k->aes);
    free(k);
}

/* The 52 bits that hide a seq: AES of the key's timestamp and random bits (u[0..5] and
 * u[13..15], the random ones masked to their 22 bits), so every key has a mask of its own. */
static int seq_mask(const struct uuid_seq_key *k, const unsigned char u[16], uint64_t *mask)
{
    unsigned char in[16] = { 0 }, out[32];
    memcpy(in, u, 6);
    in[6] = (unsigned char)(u[13] & 0x3f);
    in[7] = u[14];
    in[8] = u[15];
    int n = 0;
    if (EVP_EncryptUpdate(k->aes, out, &n, in, sizeof(in)) != 1 || n != 16)
        return -1;
    uint64_t m = 0;
    for (int i = 0; i < 7; i++)
        m = (m << 8) | out[i];
    *mask = m >> 4; /* 52 bits */
    return 0;
}

int uuid_v7_seq(const struct uuid_seq_key *k, int64_t unix_ms, uint64_t seq,
                char out[UUID_LEN + 1])
{
    unsigned char u[16];
    uint64_t mask;
    if (random_bytes(u + 13, 3) < 0)
        return -1;
    put_ms(u, unix_ms);
    if (seq_mask(k, u, &mask) < 0)
        return -1;
    seq = (seq & UUID_SEQ_MAX) ^ mask;
    u[6] = (unsigned char)((seq >> 48) & 0x0f);
    u[7] = (unsigned char)(seq >> 40);
    u[8] = (unsigned char)((seq >> 34) & 0x3f);
    u[9] = (unsigned char)(seq >> 26);
    u[10] = (unsigned char)(seq >> 18);
    u[11] = (unsigned char)(seq >> 10);
    u[12] = (unsigned char)(seq >> 2);
    u[13] = (unsigned char)(((seq & 3) << 6) | (u[13] & 0x3f));
    format(u, 7, out);
    return 0;
}

int uuid_v8_seq(const struct uuid_seq_key *k, int64_t unix_ms, uint64_t seq, uint16_t n,
                char out[UUID_LEN + 1])
{
    /* One AES block of (time, seq, n), with a last byte seq_mask's blocks never have (their
     * last seven bytes are zero), so that no id shows another's mask. */
    unsigned char in[16], enc[32], u[16];
    put_ms(in, unix_ms);
    for (int i = 0; i < 7; i++)
        in[6 + i] = (unsigned char)((seq & UUID_SEQ_MAX) >> (48 - 8 * i));
    in[13] = (unsigned char)(n >> 8);
    in[14] = (unsigned char)n;
    in[15] = 0x08;
    int len = 0;
    if (EVP_EncryptUpdate(k->aes, enc, &len, in, sizeof(in)) != 1 || len != 16)
        return -1;
    put_ms(u, unix_ms);
    memcpy(u + 6, enc, 10);
    format(u, 8, out);
    return 0;
}

bool uuid_v7_seq_of(const struct uuid_seq_key *k, const char *s, size_t len, uint64_t *seq)
{
    if (len != UUID_LEN || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        return false;
    char h[33];
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] != '-')
            h[n++] = s[i];
    if (n != 32)
        return false;
    unsigned char u[16];
    uint64_t mask;
    if (hex_decode(h, sizeof(u), u) < 0 || (u[6] >> 4) != 7 || (u[8] >> 6) != 2 ||
        seq_mask(k, u, &mask) < 0)
        return false;
    uint64_t v = ((uint64_t)(u[6] & 0x0f) << 48) | ((uint64_t)u[7] << 40) |
                 ((uint64_t)(u[8] & 0x3f) << 34) | ((uint64_t)u[9] << 26) |
                 ((uint64_t)u[10] << 18) | ((uint64_t)u[11] << 10) | ((uint64_t)u[12] << 2) |
                 (uint64_t)(u[13] >> 6);
    *seq = v ^ mask;
    return true;
}
