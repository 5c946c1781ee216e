/* An order-statistic index of members by score, for leaderboards: a counted B+ tree (each
 * inner node knows how many entries each child holds; each member knows its leaf) and a hash
 * table of member names. Insert or move, remove, the rank of a member, the entries at a rank,
 * and the rank of any position are each O(log n); a range of k entries is O(log n + k).
 *
 * Order (total and deterministic): score descending, then `at` ascending (when the member
 * reached its score: earlier first), then the member name in byte order (a proper prefix
 * first). Ranks here are 0-based.
 *
 * An index holds fewer than UINT32_MAX entries (a billion entries would take 100 GB).
 *
 * Not thread-safe: callers lock. Entries returned point into the index and stay valid until
 * the index next changes. */
#ifndef REACTOR_CORE_RANK_H
#define REACTOR_CORE_RANK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rank_index;

struct rank_entry {
    const char *member; /* NUL-terminated (see above for how long it lives) */
    size_t member_len;
    int64_t score;
    int64_t at;
};

/* `seed` keys the hash of member names: the same seed and operations give the same
 * structure. Members named by clients need a secret random seed,
 * or crafted names could all land in one hash chain. */
struct rank_index *rank_new(uint64_t seed);
void rank_free(struct rank_index *x);

size_t rank_size(const struct rank_index *x);
/* Memory the index asked for, bytes (nodes, names, hash table; malloc's own overhead, about
 * a tenth more, is not counted). */
size_t rank_bytes(const struct rank_index *x);

/* A number that names the index's contents: every change (an insert, a move, a removal, a
 * load) gives it a new one, and no two indexes share one, ever (a process-wide counter). Keys
 * a cache of answers read from the index: the same version, the same answer. */
uint64_t rank_version(const struct rank_index *x);

/* Inserts `member` at (score, at), or moves it there if present. */
void rank_set(struct rank_index *x, const char *member, size_t len, int64_t score, int64_t at);
/* Adds delta (>= 0) to `member`'s score, stopping at max, and sets its time to `at`; a member
 * not in the index comes in at (delta, at). What rank_get then rank_set would do, with one
 * lookup of the name instead of two. */
void rank_add(struct rank_index *x, const char *member, size_t len, int64_t delta, int64_t max,
              int64_t at);
/* Warms the cache for a coming rank_add or rank_get of the member, a stage at a time: 0 loads
 * its hash bucket, 1 (once 0 arrived) its entry, 2 (once 1 arrived) its leaf. Changes
 * nothing; a loop over many members calls the stages a few members ahead of the one it
 * works on. */
void rank_prefetch(const struct rank_index *x, const char *member, size_t len, int stage);
/* Removes `member`: false when it was not there. */
bool rank_remove(struct rank_index *x, const char *member, size_t len);
/* The member's entry and 0-based rank: false when absent. `rank` may be NULL. */
bool rank_get(const struct rank_index *x, const char *member, size_t len,
              struct rank_entry *out, size_t *rank);
/* A member's neighbourhood in one search: its 0-based rank (*rank) and the entries from rank
 * *first = *rank - min(*rank, above) through *rank + below (fewer at the end), written to out
 * (room for above + below + 1) and counted in *n. The same as rank_get then rank_range, with
 * one walk down the list instead of two. False when the member is absent. */
bool rank_around(const struct rank_index *x, const char *member, size_t len, size_t above,
                 size_t below, struct rank_entry *out, size_t *n, size_t *rank, size_t *first);
/* Up to `max` entries in order from 0-based rank `start`: how many were written. */
size_t rank_range(const struct rank_index *x, size_t start, struct rank_entry *out, size_t max);
/* How many entries come strictly before the position (score, at, member) in the order, the
 * member being in the index or not: where a page after that position starts (cursors). */
size_t rank_before(const struct rank_index *x, int64_t score, int64_t at, const char *member,
                   size_t len);
/* Fills an index with n entries given in any order: the same result as n rank_set calls, in
 * order (a member given twice ends where its last entry puts it), and much faster when the
 * index is empty and the members distinct (start-up rebuilds; otherwise it is those calls).
 * Member names are at most UINT32_MAX - 1 bytes (callers bound them far lower). */
void rank_load(struct rank_index *x, const struct rank_entry *entries, size_t n);

#endif
