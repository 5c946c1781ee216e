/* Award names numbered per app (names.h): a table of names in key order, searched linearly
 * when a rule is installed (rare), and the keyed search of a user's entries (per award). */
#include "engine/names.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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
