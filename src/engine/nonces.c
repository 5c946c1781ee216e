/* Replay detection set (see nonces.h): linear probing over 16-byte slots. A slot with
 * hash 0 is empty (a real hash of 0 is stored as 1); a forgotten or expired entry keeps its
 * slot, with expiry 0, so that probe chains stay intact until the next rebuild. */
#include "engine/nonces.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

struct slot {
    uint64_t h;
    int64_t expires; /* Unix seconds; 0 = forgotten */
};

struct nonce_set {
    struct slot *slots;
    size_t cap;       /* a power of two */
    size_t used;      /* slots not empty */
    uint64_t k0, k1;
};

#define MIN_CAP 1024

struct nonce_set *nonce_set_new(uint64_t key0, uint64_t key1)
{
    struct nonce_set *s = xcalloc(1, sizeof(*s));
    s->cap = MIN_CAP;
    s->slots = xcalloc(s->cap, sizeof(*s->slots));
    s->k0 = key0;
    s->k1 = key1 | 1;
    return s;
}

void nonce_set_free(struct nonce_set *s)
{
    if (!s)
        return;
    free(s->slots);
    free(s);
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

uint64_t nonce_set_hash(const struct nonce_set *s, const char *app_id, const char *nonce,
                        size_t nonce_len)
{
    /* Two independent keyed FNV-1a passes, mixed: cheap, and without the keys an attacker
     * cannot aim collisions. */
    uint64_t a = 1469598103934665603u ^ s->k0, b = 1469598103934665603u ^ s->k1;
    for (const unsigned char *p = (const unsigned char *)app_id; *p; p++) {
        a = (a ^ *p) * 1099511628211u;
        b = (b ^ *p) * 0x100000001b3ull ^ (b >> 29);
    }
    a = (a ^ 0x1f) * 1099511628211u;
    b = (b ^ 0x1f) * 0x100000001b3ull;
    for (size_t i = 0; i < nonce_len; i++) {
        unsigned char c = (unsigned char)nonce[i];
        a = (a ^ c) * 1099511628211u;
        b = (b ^ c) * 0x100000001b3ull ^ (b >> 29);
    }
    uint64_t h = mix(a ^ mix(b + s->k0));
    return h ? h : 1;
}

static void rebuild(struct nonce_set *s, size_t cap, int64_t now_s)
{
    struct slot *old = s->slots;
    size_t old_cap = s->cap;
    s->slots = xcalloc(cap, sizeof(*s->slots));
    s->cap = cap;
    s->used = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].h || old[i].expires < now_s || old[i].expires == 0)
            continue;
        size_t j = old[i].h & (cap - 1);
        while (s->slots[j].h)
            j = (j + 1) & (cap - 1);
        s->slots[j] = old[i];
        s->used++;
    }
    free(old);
}

bool nonce_set_claim(struct nonce_set *s, uint64_t h, int64_t expires_s, int64_t now_s)
{
    if ((s->used + 1) * 10 > s->cap * 7) {
        size_t live = 0;
        for (size_t i = 0; i < s->cap; i++)
            live += s->slots[i].h && s->slots[i].expires >= now_s && s->slots[i].expires != 0;
        size_t cap = MIN_CAP;
        while ((live + 1) * 10 > cap * 4)
            cap *= 2;
        rebuild(s, cap, now_s);
    }
    size_t j = h & (s->cap - 1), reuse = SIZE_MAX;
    for (; s->slots[j].h; j = (j + 1) & (s->cap - 1)) {
        struct slot *e = &s->slots[j];
        bool live = e->expires != 0 && e->expires >= now_s;
        if (e->h == h && live)
            return false;
        if (!live && reuse == SIZE_MAX)
            reuse = j;
    }
    if (reuse == SIZE_MAX) {
        reuse = j;
        s->used++;
    }
    s->slots[reuse].h = h;
    s->slots[reuse].expires = expires_s > 0 ? expires_s : 1;
    return true;
}

void nonce_set_forget(struct nonce_set *s, uint64_t h, int64_t expires_s)
{
    if (expires_s <= 0)
        expires_s = 1;
    for (size_t j = h & (s->cap - 1); s->slots[j].h; j = (j + 1) & (s->cap - 1)) {
        if (s->slots[j].h == h && s->slots[j].expires == expires_s) {
            s->slots[j].expires = 0;
            return;
        }
    }
}

size_t nonce_set_size(const struct nonce_set *s)
{
    return s->used;
}

size_t nonce_set_bytes(const struct nonce_set *s)
{
    return sizeof(*s) + s->cap * sizeof(*s->slots);
}
