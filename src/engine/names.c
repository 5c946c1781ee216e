/* Award names numbered per app (names.h): a table of names in key order, searched linearly
 * when a rule is installed (rare), and the keyed search of a user's entries (per award). */
#include "engine/names.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/mem.h"

#define ID_MASK ((UINT64_C(1) << NAMES_ID_BITS) - 1)

void names_init(struct names *t)
{
    static _Atomic uint64_t stamps;
    memset(t, 0, sizeof(*t));
    t->stamp = atomic_fetch_add_explicit(&stamps, 1, memory_order_relaxed) + 1;
}

void names_release(struct names *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->name[i]);
    free(t->name);
    memset(t, 0, sizeof(*t));
}

uint64_t names_key(struct names *t, const char *name)
{
    size_t i = 0;
    while (i < t->n && strcmp(t->name[i], name) != 0)
        i++;
    if (i == t->n) {
        if (t->n == ID_MASK)
            return 0;
        if (t->n == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 8;
            t->name = xrealloc(t->name, t->cap * sizeof(*t->name));
        }
        t->name[t->n++] = xstrdup(name);
    }
    return t->stamp << NAMES_ID_BITS | (i + 1);
}

/* names_find when no entry has the key: by name. */
void *names__find_by_name(void *arr, size_t n, size_t size, const char *name, uint64_t key)
{
    char *base = arr;
    for (size_t i = 0; i < n; i++) {
        struct names_entry *e = (struct names_entry *)(base + i * size);
        /* A key of the same table is another name's: no need to compare. */
        if (key && e->key && (e->key & ~ID_MASK) == (key & ~ID_MASK))
            continue;
        if (e->name[0] == name[0] && strcmp(e->name, name) == 0) {
            if (key)
                e->key = key;
            return e;
        }
    }
    return NULL;
}

/* ---- interned names ------------------------------------------------------------------------
 * One process-wide set of texts with a count of holders each, by hash with linear probing,
 * under a mutex: a name is interned when a user's entry is made (a state loaded, a first
 * award) and uninterned when it goes, never per lookup. Free slots left by a removal are
 * refilled by moving later entries of their probe run back (no tombstones). */

struct interned {
    size_t holders;
    uint64_t hash;
    char text[];
};

static struct {
    pthread_mutex_t lock;
    struct interned **slots;
    size_t cap, n; /* cap: 0 or a power of two */
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t text_hash(const char *s)
{
    uint64_t h = hash_fnv1a_str(HASH_FNV_OFFSET, s);
    return h ^ (h >> 31);
}

static void pool_grow(void)
{
    size_t cap = pool.cap ? pool.cap * 2 : 256;
    struct interned **slots = xcalloc(cap, sizeof(*slots));
    for (size_t i = 0; i < pool.cap; i++) {
        struct interned *x = pool.slots[i];
        if (!x)
            continue;
        size_t j = x->hash & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = x;
    }
    free(pool.slots);
    pool.slots = slots;
    pool.cap = cap;
}

char *names_intern(const char *name)
{
    uint64_t h = text_hash(name);
    pthread_mutex_lock(&pool.lock);
    if ((pool.n + 1) * 2 > pool.cap)
        pool_grow();
    size_t j = h & (pool.cap - 1);
    struct interned *x;
    while ((x = pool.slots[j]) && (x->hash != h || strcmp(x->text, name) != 0))
        j = (j + 1) & (pool.cap - 1);
    if (!x) {
        size_t len = strlen(name);
        x = xmalloc(sizeof(*x) + len + 1);
        x->holders = 0;
        x->hash = h;
        memcpy(x->text, name, len + 1);
        pool.slots[j] = x;
        pool.n++;
    }
    x->holders++;
    pthread_mutex_unlock(&pool.lock);
    return x->text;
}

void names_unintern(char *name)
{
    if (!name)
        return;
    struct interned *x = (struct interned *)(name - offsetof(struct interned, text));
    pthread_mutex_lock(&pool.lock);
    if (--x->holders > 0) {
        pthread_mutex_unlock(&pool.lock);
        return;
    }
    size_t j = x->hash & (pool.cap - 1);
    while (pool.slots[j] != x)
        j = (j + 1) & (pool.cap - 1);
    pool.slots[j] = NULL;
    pool.n--;
    /* Later entries of the run that would no longer be found past the hole move into it. */
    for (size_t k = (j + 1) & (pool.cap - 1); pool.slots[k]; k = (k + 1) & (pool.cap - 1)) {
        size_t home = pool.slots[k]->hash & (pool.cap - 1);
        /* k's entry stays when its home lies cyclically in (j, k] */
        if (j < k ? (home > j && home <= k) : (home > j || home <= k))
            continue;
        pool.slots[j] = pool.slots[k];
        pool.slots[k] = NULL;
        j = k;
    }
    pthread_mutex_unlock(&pool.lock);
    free(x);
}
