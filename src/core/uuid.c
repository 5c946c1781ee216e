/* UUID text forms (see uuid.h). */
#include "core/uuid.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "core/hex.h"

static void format(unsigned char u[16], unsigned version, char out[UUID_LEN + 1])
{
    u[6] = (unsigned char)((u[6] & 0x0f) | (version << 4));
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 9562 variant */
    char h[33];
    hex_encode(u, 16, h);
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

int uuid_v7_seq(int64_t unix_ms, uint64_t seq, char out[UUID_LEN + 1])
{
    unsigned char u[16];
    if (random_bytes(u + 13, 3) < 0)
        return -1;
    put_ms(u, unix_ms);
    seq &= UUID_SEQ_MAX;
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

bool uuid_v7_seq_of(const char *s, size_t len, uint64_t *seq)
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
    if (hex_decode(h, sizeof(u), u) < 0 || (u[6] >> 4) != 7 || (u[8] >> 6) != 2)
        return false;
    *seq = ((uint64_t)(u[6] & 0x0f) << 48) | ((uint64_t)u[7] << 40) |
           ((uint64_t)(u[8] & 0x3f) << 34) | ((uint64_t)u[9] << 26) | ((uint64_t)u[10] << 18) |
           ((uint64_t)u[11] << 10) | ((uint64_t)u[12] << 2) | (uint64_t)(u[13] >> 6);
    return true;
}
