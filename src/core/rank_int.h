/* Private to the rank index (rank.c) and its tests: the structures and their invariants.
 *
 * The order lives in a skip list with span counts, as in Redis's zskiplist. Every node has a
 * height h (1..RANK_MAX_LEVEL, P(h > k) = 4^-k, drawn from a PRNG seeded by rank_new's seed)
 * and one forward pointer per level. Each forward pointer carries its span: how many level-0
 * steps it jumps. Summing spans along a search path gives a rank, and following spans down
 * from the top finds the node at a rank, so both are O(log n) expected. Level 0 is the whole
 * list in order; the levels above it are express lanes.
 *
 * A hash table of the member names (separate chaining through the nodes, a power-of-two
 * bucket array that doubles above one entry per bucket and halves below a quarter) finds a
 * member's node in O(1) expected, so its key (score, at, member) is known before the list is
 * searched.
 *
 * At a million members nearly every step of a search is a cache miss, and misses are what
 * an operation costs. Hence:
 *   - each level entry also holds its forward node's score and at, so a search reads a node
 *     only when it moves to it (or when score and at tie and the names decide), not to find
 *     out that it should stop; this costs 16 bytes per level, about 21 per entry;
 *   - a move walks the path to its old key and the path to its new one in step, one
 *     comparison each in turn, so that the two searches' misses overlap;
 *   - rank_load makes the nodes in order, so that neighbours in the order are neighbours in
 *     memory: ranges and the last steps of searches stay cheap until members move.
 *
 * The rest is about memory per entry: one allocation per member holds the fixed header, the
 * h levels, then the name and its NUL. There is no backward pointer: nothing walks the list
 * backwards (ranges go forward from a rank found through the spans, and a move finds its
 * neighbours on the search path it needs anyway). The list head is an array of levels in the
 * index itself, and search paths remember level arrays rather than nodes, so the head needs
 * no node.
 *
 * Invariants (rank__check verifies them all):
 *   - level 0 holds the n nodes in strictly increasing order (rank.h's order);
 *   - at every level i < x->level, the nodes of height > i appear in level-0 order, the span
 *     of a pointer is the difference of the ranks it links (the head is rank 0, nodes 1..n),
 *     the span of a NULL pointer is n minus the rank of the node that holds it, and a
 *     non-NULL pointer's level entry holds its node's score and at;
 *   - x->level is the largest height present (1 when empty); head levels at or above it are
 *     NULL with span 0;
 *   - every node is in exactly one hash chain, the one its name hashes to; n nodes in all;
 *   - x->bytes is the sum of what the index allocated. */
#ifndef REACTOR_CORE_RANK_INT_H
#define REACTOR_CORE_RANK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/rank.h"

#define RANK_MAX_LEVEL 32 /* enough for 4^32 entries */

struct rank_node;

struct rank_level {
    struct rank_node *forward; /* the next node of height > this level, or NULL */
    size_t span;               /* level-0 steps to forward (see the invariants for NULL) */
    int64_t score;             /* forward's score, when forward is not NULL */
    int64_t at;                /* forward's at, likewise */
};

struct rank_node {
    int64_t score;
    int64_t at;
    struct rank_node *chain;   /* next node in the same hash bucket */
    uint32_t len;              /* of the name, which follows level[height - 1] */
    uint8_t height;            /* 1..RANK_MAX_LEVEL */
    struct rank_level level[]; /* height of them, then len name bytes and a NUL */
};

/* Nodes are carved from chunks the index owns (growing from 16 KiB to 2 MiB, the big ones
 * advised to use huge pages: at a million entries nearly every step of a search is a TLB
 * miss otherwise), and a freed node goes on a free list of its size class (16-byte steps up
 * to RANK_POOL_MAX_NODE; bigger nodes come from malloc). Under AddressSanitizer every node
 * comes from malloc, so that it checks each one. */
#define RANK_POOL_MAX_NODE 1024
#define RANK_POOL_CLASSES (RANK_POOL_MAX_NODE / 16)

struct rank_chunk {
    struct rank_chunk *next;
    size_t size;                /* bytes, this header included */
};

struct rank_pool {
    struct rank_chunk *chunks;  /* newest first */
    char *free_at, *end;        /* the unused tail of the newest chunk */
    void *free_lists[RANK_POOL_CLASSES]; /* freed nodes by size class, linked by their first word */
    size_t next_chunk;          /* size of the next chunk */
};

struct rank_index {
    struct rank_pool pool;                  /* where the nodes live */
    struct rank_level head[RANK_MAX_LEVEL]; /* the list head, rank 0 */
    int level;                              /* highest level in use + 1, at least 1 */
    size_t n;                               /* entries */
    struct rank_node **buckets;             /* hash chains, nbuckets of them */
    size_t nbuckets;                        /* a power of two, at least RANK_MIN_BUCKETS */
    uint64_t hash_key;                      /* keys the name hash, derived from the seed */
    uint64_t rng;                           /* splitmix64 state for node heights */
    size_t bytes;                           /* what rank_bytes reports */
    uint64_t version;                       /* what rank_version reports */
};

/* NULL when every invariant above holds, else a sentence naming the first that does not.
 * O(n log n); for tests. */
const char *rank__check(const struct rank_index *x);

#endif
