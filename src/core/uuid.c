/* UUID text forms (see uuid.h). */
#include "core/uuid.h"

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

int uuid_v4(char out[UUID_LEN + 1])
{
    unsigned char u[16];
    if (RAND_bytes(u, sizeof(u)) != 1)
        return -1;
    format(u, 4, out);
    return 0;
}

int uuid_v7(int64_t unix_ms, char out[UUID_LEN + 1])
{
    unsigned char u[16];
    if (RAND_bytes(u + 6, 10) != 1)
        return -1;
    uint64_t ms = (uint64_t)unix_ms;
    for (int i = 5; i >= 0; i--) {
        u[i] = (unsigned char)(ms & 0xff);
        ms >>= 8;
    }
    format(u, 7, out);
    return 0;
}
