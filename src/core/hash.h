/* FNV-1a over bytes, for the in-memory hash tables (none of these hashes is stored). Tables
 * whose keys come from clients seed it with a secret (hash_fnv1a's `h`) and mix the result
 * themselves as their probing needs. */
#ifndef REACTOR_CORE_HASH_H
#define REACTOR_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_OFFSET 1469598103934665603u
#define HASH_FNV_PRIME 1099511628211u

/* Continues h over len bytes at p. */
static inline uint64_t hash_fnv1a(uint64_t h, const void *p, size_t len)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * HASH_FNV_PRIME;
    return h;
}

/* Continues h over the NUL-terminated s (without its NUL). */
static inline uint64_t hash_fnv1a_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * HASH_FNV_PRIME;
    return h;
}

#endif
