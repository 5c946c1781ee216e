/* Private to the rank index (rank.c) and its tests: the structures and their invariants.
 *
 * The order lives in a counted B+ tree. Leaves hold up to RANK_LEAF_MAX entries in order,
 * each as its key (score, at) inline and a pointer to its member's node; inner nodes hold up
 * to RANK_FAN_MAX children, and for each child how many entries it holds in all and its first
 * key (score, at and the member, whose name breaks ties). All leaves are at the same depth,
 * and they are linked in order both ways.
 *
 * A member's node is its one allocation: key, hash chain, name, and the leaf that holds it;
 * and every leaf and inner node knows its parent and its slot there. So:
 *   - a member's rank walks *up* from its leaf: its position there, plus, at each inner node
 *     on the way to the root, the counts of the children left of its slot (32-bit counts, two
 *     cache lines at most). A handful of nodes, each a few adjacent cache lines, instead of
 *     the twenty-odd dependent misses a skip list's descent takes at a million members; the
 *     price is renumbering the slots of the children after one that comes or goes, when a
 *     node splits or merges;
 *   - the entry at a rank walks down by the counts, a key's position down by the first keys;
 *   - a range and a member's neighbours follow the leaves, whose entries are contiguous.
 *
 * A hash table of member names (separate chaining through the nodes, a power-of-two bucket
 * array that doubles above one entry per bucket and halves below a quarter) finds a member's
 * node in O(1) expected.
 *
 * A full node splits in two. A leaf (inner node) that falls below RANK_LEAF_MIN
 * (RANK_FAN_MIN) merges with a neighbour under the same parent when the two fit in three
 * quarters of a node, and an empty one goes; a root with one child gives way to the child.
 * rank_load fills nodes to RANK_LOAD_FILL, leaving room for inserts without splits, and
 * makes the members' nodes in order, so that neighbours in the order are neighbours in
 * memory.
 *
 * Invariants (rank__check verifies them all):
 *   - root is NULL exactly when n == 0; otherwise every leaf is at depth `height` below it
 *     (height 0: the root is the only leaf), and every node has at least one entry or child
 *     and at most its maximum;
 *   - each node's parent is the inner node that lists it, at its slot; the root has none;
 *   - an inner node's count for a child is the number of entries under it, and its key for a
 *     child is that child's first entry;
 *   - entries, read leaf by leaf in tree order, are in strictly increasing order (rank.h's
 *     order); a leaf's inline key of an entry is its member's (score, at), and the member's
 *     leaf is that leaf;
 *   - the leaf list (head, next, prev, tail) visits the leaves in tree order;
 *   - every member is in exactly one hash chain, the one its name hashes to; n in all;
 *   - bytes is the sum of what the index allocated. */
#ifndef REACTOR_CORE_RANK_INT_H
#define REACTOR_CORE_RANK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rank.h"

#define RANK_LEAF_MAX 32
#define RANK_FAN_MAX 32
#define RANK_LEAF_MIN 8
#define RANK_FAN_MIN 8
#define RANK_LOAD_FILL 24 /* entries per leaf, children per inner node, after rank_load */

struct rank_inner;

struct rank_node {
    int64_t score;
    int64_t at;
    struct rank_node *chain;   /* next node in the same hash bucket */
    struct rank_leaf *leaf;    /* the leaf that holds it */
    uint32_t len;              /* of the name */
    char name[];               /* len bytes and a NUL */
};

/* What leaves and inner nodes begin with. */
struct rank_hdr {
    struct rank_inner *parent; /* NULL for the root */
    uint32_t n;                /* entries (leaf) or children (inner) */
    uint32_t slot;             /* where the parent lists it (0 for the root) */
};

struct rank_leaf {
    struct rank_hdr h;
    struct rank_leaf *prev, *next;
    struct rank_node *m[RANK_LEAF_MAX]; /* first: a rank scans it from the header's line */
    int64_t score[RANK_LEAF_MAX];
    int64_t at[RANK_LEAF_MAX];
};

struct rank_inner {
    struct rank_hdr h;
    uint32_t count[RANK_FAN_MAX];        /* entries under each child: two cache lines */
    struct rank_hdr *child[RANK_FAN_MAX];
    int64_t score[RANK_FAN_MAX];         /* each child's first key */
    int64_t at[RANK_FAN_MAX];
    struct rank_node *first[RANK_FAN_MAX];
};

/* Nodes, leaves and inner nodes are carved from chunks the index owns (growing from 16 KiB to
 * 2 MiB, the big ones advised to use huge pages: at a million entries nearly every step is a
 * TLB miss otherwise), and a freed one goes on a free list of its size class (16-byte steps
 * up to RANK_POOL_MAX_NODE; bigger ones come from malloc). Under AddressSanitizer everything
 * comes from malloc, so that it checks each one. */
#define RANK_POOL_MAX_NODE 2048
#define RANK_POOL_CLASSES (RANK_POOL_MAX_NODE / 16)

struct rank_chunk {
    struct rank_chunk *next;
    size_t size;                /* bytes, this header included */
};

struct rank_pool {
    struct rank_chunk *chunks;  /* newest first */
    char *free_at, *end;        /* the unused tail of the newest chunk */
    void *free_lists[RANK_POOL_CLASSES]; /* freed blocks by size class, linked by their first word */
    size_t next_chunk;          /* size of the next chunk */
};

struct rank_index {
    struct rank_pool pool;      /* where the nodes live */
    struct rank_hdr *root;      /* NULL when empty */
    int height;                 /* inner levels above the leaves */
    struct rank_leaf *head, *tail; /* the first and last leaves */
    size_t n;                   /* entries */
    struct rank_node **buckets; /* hash chains, nbuckets of them */
    size_t nbuckets;            /* a power of two, at least RANK_MIN_BUCKETS */
    uint64_t hash_key;          /* keys the name hash, derived from the seed */
    size_t bytes;               /* what rank_bytes reports */
    uint64_t version;           /* what rank_version reports */
};

/* NULL when every invariant above holds, else a sentence naming the first that does not.
 * O(n); for tests. */
const char *rank__check(const struct rank_index *x);

#endif
