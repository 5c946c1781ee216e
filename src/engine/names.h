/* Award names numbered per app, so that a user's XP tracks and balances are found by a number
 * instead of by comparing names.
 *
 * A table gives each distinct name it is asked about a key: 64 bits, never 0, unique among
 * the names of that table and different from every key of every other table (the table's
 * stamp, unique per process, is in its top bits). A user's entry (an array element that starts
 * with struct names_entry) remembers the key it was last found by; names_find compares keys
 * first and names only when the entry's key is from another table (or none), so an entry is
 * found by its name's key with no string comparison once it has been found by name once.
 * Tables only grow: a key stays valid for the table's life.
 *
 * Not thread-safe: the engine thread owns an app's table and its users' state. */
#ifndef REACTOR_ENGINE_NAMES_H
#define REACTOR_ENGINE_NAMES_H

#include <stddef.h>
#include <stdint.h>

#define NAMES_ID_BITS 24 /* a table numbers at most 2^24 - 1 names */

struct names {
    uint64_t stamp; /* unique per table (never 0) */
    char **name;    /* owned; name[i] has the key stamp << NAMES_ID_BITS | (i + 1) */
    size_t n, cap;
};

/* What an entry of a searched array starts with: its name (owned by the entry's owner) and
 * the key it was last found by (0: none yet). */
struct names_entry {
    char *name;
    uint64_t key;
};

void names_init(struct names *t);
void names_release(struct names *t);
/* The key of `name` in t, added when new; 0 (no key: find by name) when t is full. */
uint64_t names_key(struct names *t, const char *name);
/* The element of arr (n elements of `size` bytes, each starting with struct names_entry) named
 * `name`, or NULL. `key` is name's key in some table, or 0 when it has none; the element
 * found remembers a nonzero key. Inline: an award's track is found with no call. */
void *names__find_by_name(void *arr, size_t n, size_t size, const char *name, uint64_t key);
static inline void *names_find(void *arr, size_t n, size_t size, const char *name, uint64_t key)
{
    if (key) {
        for (size_t i = 0; i < n; i++) {
            struct names_entry *e = (struct names_entry *)((char *)arr + i * size);
            if (e->key == key)
                return e;
        }
    }
    return names__find_by_name(arr, n, size, name, key);
}

/* Interned names: every user's entry named "XP" points at the same text, so that reading an
 * entry's name (a search by name, the state written as JSON) reads a string that the other
 * users keep in cache, not one allocation per user and entry (10,000 users' names were a cache
 * miss each). names_intern returns the shared copy of `name`, counting one more holder;
 * names_unintern counts one less and frees it after the last. Thread-safe. */
char *names_intern(const char *name);
void names_unintern(char *name);

#endif
