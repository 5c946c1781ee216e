/* The rank index: a counted B+ tree and a hash of member names (rank_int.h has the design and
 * the invariants, rank.h the API). */
#include "core/rank.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/mem.h"
#include "core/rank_int.h"

#define RANK_MIN_BUCKETS 16
#define LOAD_AHEAD       8 /* see rank_load */
#define CHUNK_MIN        (16u << 10)
#define CHUNK_HUGE       (2u << 20) /* a huge page */

#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

/* A position in the order, given by its key. */
struct key {
    int64_t score;
    int64_t at;
    const char *member;
    size_t len;
};

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Eight bytes at a time, keyed by the seed: cheap for UUID-sized names. Not a defence against
 * an attacker who knows the seed (callers with hostile names should seed randomly). */
static uint64_t name_hash(const struct rank_index *x, const char *s, size_t len)
{
    uint64_t h = x->hash_key ^ ((uint64_t)len * 0x9e3779b97f4a7c15ull);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ fmix64(w)) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    for (size_t j = 0; i + j < len; j++)
        w |= (uint64_t)(unsigned char)s[i + j] << (8 * j);
    return fmix64(h ^ w ^ (w >> 32));
}

static size_t node_size(size_t len)
{
    return offsetof(struct rank_node, name) + len + 1;
}

static int names_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t m = alen < blen ? alen : blen;
    int c = m ? memcmp(a, b, m) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* < 0 when the entry (score, at, member nd) comes before the key, 0 when it is the key. */
static inline int entry_cmp(int64_t score, int64_t at, const struct rank_node *nd,
                            const struct key *k)
{
    if (score != k->score)
        return score > k->score ? -1 : 1;
    if (at != k->at)
        return at < k->at ? -1 : 1;
    return names_cmp(nd->name, nd->len, k->member, k->len);
}

static struct key node_key(const struct rank_node *nd)
{
    return (struct key){nd->score, nd->at, nd->name, nd->len};
}

/* ---- hash ---------------------------------------------------------------------------- */

static struct rank_node **bucket_of(const struct rank_index *x, uint64_t h)
{
    return &x->buckets[h & (x->nbuckets - 1)];
}

static struct rank_node **chain_of(const struct rank_index *x, const char *member, size_t len)
{
    return bucket_of(x, name_hash(x, member, len));
}

static struct rank_node *find_in(struct rank_node *chain, const char *member, size_t len)
{
    for (struct rank_node *nd = chain; nd; nd = nd->chain)
        if (nd->len == len && (len == 0 || memcmp(nd->name, member, len) == 0))
            return nd;
    return NULL;
}

static struct rank_node *find(const struct rank_index *x, const char *member, size_t len)
{
    return find_in(*chain_of(x, member, len), member, len);
}

void rank_prefetch(const struct rank_index *x, const char *member, size_t len, int stage)
{
    struct rank_node **c = chain_of(x, member, len);
    if (stage == 0) {
        PREFETCH(c);
        return;
    }
    struct rank_node *nd = *c;
    if (stage == 1) {
        if (nd)
            PREFETCH(nd);
        return;
    }
    nd = find_in(nd, member, len);
    if (nd) {
        PREFETCH(nd->leaf);
        PREFETCH((const char *)nd->leaf + 64);
    }
}

/* A bucket array, zeroed. One of 2 MiB or more is asked to sit on huge pages: at a million
 * members it is 8 MiB read at random, a TLB miss per lookup otherwise. */
static struct rank_node **buckets_new(size_t nbuckets)
{
    size_t size = nbuckets * sizeof(struct rank_node *);
    if (size >= CHUNK_HUGE) {
        void *p = aligned_alloc(CHUNK_HUGE, size); /* size is a power of two, so a multiple */
        if (p) {
            madvise(p, size, MADV_HUGEPAGE); /* advice: fine if it is not taken */
            return memset(p, 0, size);
        }
    }
    return xcalloc(nbuckets, sizeof(struct rank_node *));
}

static void rehash(struct rank_index *x, size_t nbuckets)
{
    assert(nbuckets >= RANK_MIN_BUCKETS && (nbuckets & (nbuckets - 1)) == 0);
    struct rank_node **old = x->buckets;
    size_t nold = x->nbuckets;
    x->buckets = buckets_new(nbuckets);
    x->nbuckets = nbuckets;
    x->bytes = x->bytes - nold * sizeof(*old) + nbuckets * sizeof(*old);
    for (size_t i = 0; i < nold; i++) {
        struct rank_node *nd = old[i];
        while (nd) {
            struct rank_node *next = nd->chain;
            struct rank_node **c = chain_of(x, nd->name, nd->len);
            nd->chain = *c;
            *c = nd;
            nd = next;
        }
    }
    free(old);
}

/* Links a node that is not in the table (x->n already counts it). */
static void hash_add(struct rank_index *x, struct rank_node *nd)
{
    if (x->n > x->nbuckets)
        rehash(x, x->nbuckets * 2);
    struct rank_node **c = chain_of(x, nd->name, nd->len);
    nd->chain = *c;
    *c = nd;
}

/* Unlinks a node that is in the table (x->n no longer counts it). */
static void hash_remove(struct rank_index *x, struct rank_node *nd)
{
    struct rank_node **c = chain_of(x, nd->name, nd->len);
    while (*c != nd) {
        assert(*c);
        c = &(*c)->chain;
    }
    *c = nd->chain;
    if (x->nbuckets > RANK_MIN_BUCKETS && x->n < x->nbuckets / 4)
        rehash(x, x->nbuckets / 2);
}

/* ---- node memory --------------------------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define POOL_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_OFF 1
#endif
#endif
#ifndef POOL_OFF
#define POOL_OFF 0
#endif


static size_t pool_class(size_t size)
{
    return (size + 15) / 16 - 1;
}

static void *pool_alloc(struct rank_pool *p, size_t size)
{
    size_t rounded = (size + 15) & ~(size_t)15;
    if (POOL_OFF || rounded > RANK_POOL_MAX_NODE)
        return xmalloc(size);
    void **head = &p->free_lists[pool_class(size)];
    if (*head) {
        void *m = *head;
        *head = *(void **)m;
        return m;
    }
    if ((size_t)(p->end - p->free_at) < rounded) {
        size_t cs = p->next_chunk ? p->next_chunk : CHUNK_MIN;
        struct rank_chunk *c;
        if (cs >= CHUNK_HUGE) {
            c = aligned_alloc(CHUNK_HUGE, cs);
            if (!c)
                c = xmalloc(cs);
            else
                madvise(c, cs, MADV_HUGEPAGE); /* advice: fine if it is not taken */
        } else {
            c = xmalloc(cs);
        }
        c->next = p->chunks;
        c->size = cs;
        p->chunks = c;
        p->free_at = (char *)c + ((sizeof(*c) + 15) & ~(size_t)15);
        p->end = (char *)c + cs;
        p->next_chunk = cs < CHUNK_HUGE ? cs * 2 : CHUNK_HUGE;
    }
    void *m = p->free_at;
    p->free_at += rounded;
    return m;
}

static void pool_free(struct rank_pool *p, void *m, size_t size)
{
    if (POOL_OFF || ((size + 15) & ~(size_t)15) > RANK_POOL_MAX_NODE) {
        free(m);
        return;
    }
    void **head = &p->free_lists[pool_class(size)];
    *(void **)m = *head;
    *head = m;
}

/* Gives back every chunk (the nodes in them are gone). */
static void pool_release(struct rank_pool *p)
{
    for (struct rank_chunk *c = p->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    memset(p, 0, sizeof(*p));
}

static struct rank_node *node_new(struct rank_index *x, const char *member, size_t len,
                                  int64_t score, int64_t at)
{
    assert(len < UINT32_MAX);
    size_t size = node_size(len);
    struct rank_node *nd = pool_alloc(&x->pool, size);
    nd->score = score;
    nd->at = at;
    nd->chain = NULL;
    nd->leaf = NULL;
    nd->len = (uint32_t)len;
    if (len)
        memcpy(nd->name, member, len);
    nd->name[len] = '\0';
    x->bytes += size;
    return nd;
}

static void node_free(struct rank_index *x, struct rank_node *nd)
{
    size_t size = node_size(nd->len);
    x->bytes -= size;
    pool_free(&x->pool, nd, size);
}

static struct rank_leaf *leaf_new(struct rank_index *x)
{
    struct rank_leaf *lf = pool_alloc(&x->pool, sizeof(*lf));
    lf->h.parent = NULL;
    lf->h.n = 0;
    lf->h.slot = 0;
    lf->prev = lf->next = NULL;
    x->bytes += sizeof(*lf);
    return lf;
}

static struct rank_inner *inner_new(struct rank_index *x)
{
    struct rank_inner *in = pool_alloc(&x->pool, sizeof(*in));
    in->h.parent = NULL;
    in->h.n = 0;
    in->h.slot = 0;
    x->bytes += sizeof(*in);
    return in;
}

static void leaf_free(struct rank_index *x, struct rank_leaf *lf)
{
    x->bytes -= sizeof(*lf);
    pool_free(&x->pool, lf, sizeof(*lf));
}

static void inner_free(struct rank_index *x, struct rank_inner *in)
{
    x->bytes -= sizeof(*in);
    pool_free(&x->pool, in, sizeof(*in));
}

static void fill_entry(const struct rank_node *nd, struct rank_entry *e)
{
    e->member = nd->name;
    e->member_len = nd->len;
    e->score = nd->score;
    e->at = nd->at;
}

/* ---- the tree ------------------------------------------------------------------------ */

static struct rank_leaf *as_leaf(struct rank_hdr *h)
{
    return (struct rank_leaf *)h;
}

static struct rank_inner *as_inner(struct rank_hdr *h)
{
    return (struct rank_inner *)h;
}

/* k entries of leaf src from position si to position di of leaf dst (the same leaf or not;
 * the ranges may overlap). */
static void leaf_move(struct rank_leaf *dst, uint32_t di, const struct rank_leaf *src, uint32_t si,
                      uint32_t k)
{
    memmove(&dst->score[di], &src->score[si], k * sizeof(dst->score[0]));
    memmove(&dst->at[di], &src->at[si], k * sizeof(dst->at[0]));
    memmove(&dst->m[di], &src->m[si], k * sizeof(dst->m[0]));
}

/* The same for k children of inner nodes, with their counts and keys. */
static void inner_move(struct rank_inner *dst, uint32_t di, const struct rank_inner *src,
                       uint32_t si, uint32_t k)
{
    memmove(&dst->count[di], &src->count[si], k * sizeof(dst->count[0]));
    memmove(&dst->child[di], &src->child[si], k * sizeof(dst->child[0]));
    memmove(&dst->score[di], &src->score[si], k * sizeof(dst->score[0]));
    memmove(&dst->at[di], &src->at[si], k * sizeof(dst->at[0]));
    memmove(&dst->first[di], &src->first[si], k * sizeof(dst->first[0]));
}

/* Where child c is listed in its parent p. */
static uint32_t slot_of(const struct rank_inner *p, const struct rank_hdr *c)
{
    assert(c->slot < p->h.n && p->child[c->slot] == c);
    (void)p;
    return c->slot;
}

/* The children of p from slot i on learn their slots again (after a shift). */
static void renumber(struct rank_inner *p, uint32_t i)
{
    for (; i < p->h.n; i++)
        p->child[i]->slot = i;
}

/* The position of nd in its leaf. */
static uint32_t leaf_index(const struct rank_leaf *lf, const struct rank_node *nd)
{
    uint32_t i = 0;
    while (lf->m[i] != nd)
        i++;
    assert(i < lf->h.n);
    return i;
}

/* Entries under a node (at depth d above the leaves). */
static size_t subtree_count(const struct rank_hdr *h, int d)
{
    if (d == 0)
        return h->n;
    const struct rank_inner *in = (const struct rank_inner *)h;
    size_t c = 0;
    for (uint32_t i = 0; i < in->h.n; i++)
        c += in->count[i];
    return c;
}

/* A node's first key, for its parent (at depth d above the leaves; not empty). */
static void first_key(const struct rank_hdr *h, int d, int64_t *score, int64_t *at,
                      struct rank_node **m)
{
    if (d == 0) {
        const struct rank_leaf *lf = (const struct rank_leaf *)h;
        *score = lf->score[0];
        *at = lf->at[0];
        *m = lf->m[0];
    } else {
        const struct rank_inner *in = (const struct rank_inner *)h;
        *score = in->score[0];
        *at = in->at[0];
        *m = in->first[0];
    }
}

/* Adds delta to the counts on the way from c up to the root. */
static void add_counts(struct rank_hdr *c, size_t delta, bool minus)
{
    for (struct rank_inner *p = c->parent; p; c = &p->h, p = p->h.parent) {
        uint32_t i = slot_of(p, c);
        if (minus)
            p->count[i] -= (uint32_t)delta;
        else
            p->count[i] += (uint32_t)delta;
    }
}

/* c's first key is now (score, at, m): its ancestors learn it, as far as c is their first. */
static void fix_first(struct rank_hdr *c, int64_t score, int64_t at, struct rank_node *m)
{
    for (struct rank_inner *p = c->parent; p; c = &p->h, p = p->h.parent) {
        uint32_t i = slot_of(p, c);
        p->score[i] = score;
        p->at[i] = at;
        p->first[i] = m;
        if (i)
            break;
    }
}

/* Puts child c (at depth d, holding cnt entries) into p at slot i. p has room. */
static void inner_put(struct rank_inner *p, uint32_t i, struct rank_hdr *c, int d, size_t cnt)
{
    inner_move(p, i + 1, p, i, p->h.n - i);
    p->child[i] = c;
    p->count[i] = (uint32_t)cnt;
    first_key(c, d, &p->score[i], &p->at[i], &p->first[i]);
    c->parent = p;
    p->h.n++;
    renumber(p, i);
}

/* Takes slot i out of p. */
static void inner_take(struct rank_inner *p, uint32_t i)
{
    inner_move(p, i, p, i + 1, p->h.n - i - 1);
    p->h.n--;
    renumber(p, i);
}

static void split_inner(struct rank_index *x, struct rank_inner *p, int d);

/* `right` (depth d, cnt entries, just split off `left`, whose count above still includes
 * them) goes into left's parent right after left, the tree growing a root if left was it. */
static void link_after(struct rank_index *x, struct rank_hdr *left, struct rank_hdr *right,
                       int d, size_t cnt)
{
    struct rank_inner *p = left->parent;
    if (!p) {
        p = inner_new(x);
        inner_put(p, 0, left, d, x->n);
        x->root = &p->h;
        x->height++;
    }
    if (p->h.n == RANK_FAN_MAX) {
        split_inner(x, p, d + 1);
        p = left->parent;
    }
    uint32_t i = slot_of(p, left);
    p->count[i] -= (uint32_t)cnt;
    inner_put(p, i + 1, right, d, cnt);
}

/* Splits a full inner node p (depth d) in two halves. */
static void split_inner(struct rank_index *x, struct rank_inner *p, int d)
{
    struct rank_inner *q = inner_new(x);
    uint32_t h = p->h.n / 2, k = p->h.n - h;
    size_t moved = 0;
    inner_move(q, 0, p, h, k);
    for (uint32_t j = 0; j < k; j++) {
        q->child[j]->parent = q;
        q->child[j]->slot = j;
        moved += q->count[j];
    }
    q->h.n = k;
    p->h.n = h;
    link_after(x, &p->h, &q->h, d, moved);
}

/* Splits a full leaf in two halves; the right half is a new leaf after it. */
static void split_leaf(struct rank_index *x, struct rank_leaf *lf)
{
    struct rank_leaf *r = leaf_new(x);
    uint32_t h = lf->h.n / 2, k = lf->h.n - h;
    leaf_move(r, 0, lf, h, k);
    for (uint32_t j = 0; j < k; j++)
        r->m[j]->leaf = r;
    r->h.n = k;
    lf->h.n = h;
    r->prev = lf;
    r->next = lf->next;
    if (lf->next)
        lf->next->prev = r;
    else
        x->tail = r;
    lf->next = r;
    link_after(x, &lf->h, &r->h, 0, k);
}

/* The leaf where key k belongs and its position there (how many of its entries come before
 * k); *before gets how many entries of the whole index come before k. Not empty. */
static struct rank_leaf *descend(const struct rank_index *x, const struct key *k,
                                 size_t *before, uint32_t *pos)
{
    size_t r = 0;
    struct rank_hdr *h = x->root;
    for (int d = x->height; d > 0; d--) {
        const struct rank_inner *in = as_inner(h);
        /* The last child whose first key comes before k (the first if none does). */
        uint32_t lo = 1, hi = in->h.n;
        while (lo < hi) {
            uint32_t mid = (lo + hi) / 2;
            if (entry_cmp(in->score[mid], in->at[mid], in->first[mid], k) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        uint32_t i = lo - 1;
        for (uint32_t j = 0; j < i; j++)
            r += in->count[j];
        h = in->child[i];
    }
    struct rank_leaf *lf = as_leaf(h);
    uint32_t lo = 0, hi = lf->h.n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (entry_cmp(lf->score[mid], lf->at[mid], lf->m[mid], k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *before = r + lo;
    *pos = lo;
    return lf;
}

/* The leaf that holds 0-based rank r (< n) and the position there. */
static struct rank_leaf *leaf_at(const struct rank_index *x, size_t r, uint32_t *pos)
{
    struct rank_hdr *h = x->root;
    for (int d = x->height; d > 0; d--) {
        const struct rank_inner *in = as_inner(h);
        uint32_t i = 0;
        while (i + 1 < in->h.n && r >= in->count[i])
            r -= in->count[i++];
        h = in->child[i];
    }
    assert(r < h->n);
    *pos = (uint32_t)r;
    return as_leaf(h);
}

/* The member's 0-based rank: its position in its leaf, and the counts left of the path up. */
static size_t node_rank(const struct rank_node *nd)
{
    const struct rank_leaf *lf = nd->leaf;
    size_t r = leaf_index(lf, nd);
    const struct rank_hdr *c = &lf->h;
    for (const struct rank_inner *p = c->parent; p; c = &p->h, p = p->h.parent) {
        uint32_t i = slot_of(p, c);
        for (uint32_t j = 0; j < i; j++)
            r += p->count[j];
    }
    return r;
}

/* Links nd (not in the tree; x->n does not count it) where its key belongs. */
static void tree_insert(struct rank_index *x, struct rank_node *nd)
{
    assert(x->n < UINT32_MAX - 1); /* counts are 32 bits (rank.h) */
    struct rank_leaf *lf;
    uint32_t pos;
    if (!x->root) {
        lf = leaf_new(x);
        x->root = &lf->h;
        x->height = 0;
        x->head = x->tail = lf;
        pos = 0;
    } else {
        struct key k = node_key(nd);
        size_t before;
        lf = descend(x, &k, &before, &pos);
        if (lf->h.n == RANK_LEAF_MAX) {
            split_leaf(x, lf);
            if (pos > lf->h.n) {
                pos -= lf->h.n;
                lf = lf->next;
            }
        }
    }
    leaf_move(lf, pos + 1, lf, pos, lf->h.n - pos);
    lf->score[pos] = nd->score;
    lf->at[pos] = nd->at;
    lf->m[pos] = nd;
    lf->h.n++;
    nd->leaf = lf;
    add_counts(&lf->h, 1, false);
    if (pos == 0)
        fix_first(&lf->h, nd->score, nd->at, nd);
    x->n++;
}

static void merge_or_drop(struct rank_index *x, struct rank_hdr *c, int d);

/* Takes an empty node c (depth d) out of the tree and frees it. */
static void drop_node(struct rank_index *x, struct rank_hdr *c, int d)
{
    assert(c->n == 0);
    struct rank_inner *p = c->parent;
    uint32_t i = p ? slot_of(p, c) : 0; /* before c is freed */
    if (d == 0) {
        struct rank_leaf *lf = as_leaf(c);
        if (lf->prev)
            lf->prev->next = lf->next;
        else
            x->head = lf->next;
        if (lf->next)
            lf->next->prev = lf->prev;
        else
            x->tail = lf->prev;
        leaf_free(x, lf);
    } else {
        inner_free(x, as_inner(c));
    }
    if (!p) {
        x->root = NULL;
        x->height = 0;
        return;
    }
    assert(p->count[i] == 0);
    inner_take(p, i);
    if (p->h.n && i == 0)
        fix_first(&p->h, p->score[0], p->at[0], p->first[0]);
    merge_or_drop(x, &p->h, d + 1);
}

/* Moves every entry or child of `right` to the end of `left` (siblings, depth d, left first);
 * right is left empty. Counts above their parent do not change. */
static void move_all(struct rank_hdr *left, struct rank_hdr *right, int d)
{
    struct rank_inner *p = left->parent;
    uint32_t li = slot_of(p, left);
    assert(p->child[li + 1] == right);
    size_t moved = p->count[li + 1];
    if (d == 0) {
        struct rank_leaf *l = as_leaf(left), *r = as_leaf(right);
        uint32_t n = l->h.n, k = r->h.n;
        leaf_move(l, n, r, 0, k);
        for (uint32_t j = 0; j < k; j++)
            l->m[n + j]->leaf = l;
        l->h.n += k;
        r->h.n = 0;
    } else {
        struct rank_inner *l = as_inner(left), *r = as_inner(right);
        uint32_t n = l->h.n, k = r->h.n;
        inner_move(l, n, r, 0, k);
        for (uint32_t j = 0; j < k; j++) {
            l->child[n + j]->parent = l;
            l->child[n + j]->slot = n + j;
        }
        l->h.n += k;
        r->h.n = 0;
    }
    p->count[li] += (uint32_t)moved;
    p->count[li + 1] = 0;
}

/* After c (depth d) lost an entry or a child: an empty node goes; one below the minimum
 * merges with a neighbour under the same parent when both fit in three quarters of a node;
 * a root inner node with one child gives way to it. */
static void merge_or_drop(struct rank_index *x, struct rank_hdr *c, int d)
{
    if (c->n == 0) {
        drop_node(x, c, d);
        return;
    }
    struct rank_inner *p = c->parent;
    if (!p) {
        while (x->height > 0 && x->root->n == 1) { /* a root with one child */
            struct rank_inner *old = as_inner(x->root);
            x->root = old->child[0];
            x->root->parent = NULL;
            x->root->slot = 0;
            x->height--;
            inner_free(x, old);
        }
        return;
    }
    uint32_t min = d == 0 ? RANK_LEAF_MIN : RANK_FAN_MIN;
    uint32_t max = (d == 0 ? RANK_LEAF_MAX : RANK_FAN_MAX) * 3 / 4;
    if (c->n >= min || p->h.n < 2)
        return;
    uint32_t i = slot_of(p, c);
    struct rank_hdr *left = i > 0 ? p->child[i - 1] : c;
    struct rank_hdr *right = i > 0 ? c : p->child[i + 1];
    if (left->n + right->n > max)
        return;
    move_all(left, right, d);
    drop_node(x, right, d);
}

/* Unlinks nd from the tree (x->n counts it no more; it stays in the hash). */
static void tree_remove(struct rank_index *x, struct rank_node *nd)
{
    struct rank_leaf *lf = nd->leaf;
    uint32_t pos = leaf_index(lf, nd);
    leaf_move(lf, pos, lf, pos + 1, lf->h.n - pos - 1);
    lf->h.n--;
    nd->leaf = NULL;
    add_counts(&lf->h, 1, true);
    x->n--;
    if (lf->h.n && pos == 0)
        fix_first(&lf->h, lf->score[0], lf->at[0], lf->m[0]);
    merge_or_drop(x, &lf->h, 0);
}

/* Frees the subtree under h (depth d), members included. */
static void free_subtree(struct rank_index *x, struct rank_hdr *h, int d)
{
    if (d == 0) {
        struct rank_leaf *lf = as_leaf(h);
        for (uint32_t i = 0; i < lf->h.n; i++)
            node_free(x, lf->m[i]);
        leaf_free(x, lf);
        return;
    }
    struct rank_inner *in = as_inner(h);
    for (uint32_t i = 0; i < in->h.n; i++)
        free_subtree(x, in->child[i], d - 1);
    inner_free(x, in);
}

/* Back to empty, keeping the hash table's size. */
static void clear(struct rank_index *x)
{
    if (x->root)
        free_subtree(x, x->root, x->height);
    pool_release(&x->pool);
    x->root = NULL;
    x->height = 0;
    x->head = x->tail = NULL;
    x->n = 0;
    memset(x->buckets, 0, x->nbuckets * sizeof(*x->buckets));
    x->bytes = sizeof(*x) + x->nbuckets * sizeof(*x->buckets);
}

/* ---- API ----------------------------------------------------------------------------- */

static _Atomic uint64_t versions;

/* The index's contents changed (engine thread, or whoever holds the index's lock). */
static void changed(struct rank_index *x)
{
    x->version = atomic_fetch_add_explicit(&versions, 1, memory_order_relaxed) + 1;
}

uint64_t rank_version(const struct rank_index *x)
{
    return x->version;
}

struct rank_index *rank_new(uint64_t seed)
{
    struct rank_index *x = xcalloc(1, sizeof(*x));
    uint64_t s = seed ^ 0x6a09e667f3bcc908ull;
    x->hash_key = splitmix64(&s);
    x->nbuckets = RANK_MIN_BUCKETS;
    x->buckets = buckets_new(x->nbuckets);
    x->bytes = sizeof(*x) + x->nbuckets * sizeof(*x->buckets);
    changed(x);
    return x;
}

void rank_free(struct rank_index *x)
{
    if (!x)
        return;
    clear(x);
    free(x->buckets);
    free(x);
}

size_t rank_size(const struct rank_index *x)
{
    return x->n;
}

size_t rank_bytes(const struct rank_index *x)
{
    return x->bytes;
}

/* True when entry i of leaf lf comes before (after: sign 1) the key. */
static bool leaf_entry_is(const struct rank_leaf *lf, uint32_t i, const struct key *k, int sign)
{
    int c = entry_cmp(lf->score[i], lf->at[i], lf->m[i], k);
    return sign < 0 ? c < 0 : c > 0;
}

/* rank_set with the member's node already looked up (NULL: not in the index). */
static void set_node(struct rank_index *x, struct rank_node *nd, const char *member, size_t len,
                     int64_t score, int64_t at)
{
    if (!nd) {
        changed(x);
        nd = node_new(x, member, len, score, at);
        tree_insert(x, nd);
        hash_add(x, nd);
        return;
    }
    if (nd->score == score && nd->at == at)
        return;
    changed(x);
    /* Still between its neighbours: only the key changes, where it is (as Redis's
     * zslUpdateScore). Otherwise out and back in where the new key belongs. */
    struct key k = {score, at, nd->name, nd->len};
    struct rank_leaf *lf = nd->leaf;
    uint32_t pos = leaf_index(lf, nd);
    bool left_ok = pos > 0 ? leaf_entry_is(lf, pos - 1, &k, -1)
                           : !lf->prev || leaf_entry_is(lf->prev, lf->prev->h.n - 1, &k, -1);
    bool right_ok = pos + 1 < lf->h.n ? leaf_entry_is(lf, pos + 1, &k, 1)
                                       : !lf->next || leaf_entry_is(lf->next, 0, &k, 1);
    if (left_ok && right_ok) {
        nd->score = lf->score[pos] = score;
        nd->at = lf->at[pos] = at;
        if (pos == 0)
            fix_first(&lf->h, score, at, nd);
        return;
    }
    tree_remove(x, nd);
    nd->score = score;
    nd->at = at;
    tree_insert(x, nd);
}

void rank_set(struct rank_index *x, const char *member, size_t len, int64_t score, int64_t at)
{
    set_node(x, find(x, member, len), member, len, score, at);
}

void rank_add(struct rank_index *x, const char *member, size_t len, int64_t delta, int64_t max,
              int64_t at)
{
    assert(delta >= 0);
    struct rank_node *nd = find(x, member, len);
    int64_t score = delta;
    if (nd)
        score = delta > max - nd->score ? max : nd->score + delta;
    set_node(x, nd, member, len, score, at);
}

bool rank_remove(struct rank_index *x, const char *member, size_t len)
{
    struct rank_node *nd = find(x, member, len);
    if (!nd)
        return false;
    changed(x);
    tree_remove(x, nd);
    hash_remove(x, nd);
    node_free(x, nd);
    return true;
}

bool rank_get(const struct rank_index *x, const char *member, size_t len, struct rank_entry *out,
              size_t *rank)
{
    struct rank_node *nd = find(x, member, len);
    if (!nd)
        return false;
    if (out)
        fill_entry(nd, out);
    if (rank)
        *rank = node_rank(nd);
    return true;
}

/* Up to max entries from position pos of leaf lf on, into out: how many. */
static size_t collect(const struct rank_leaf *lf, uint32_t pos, struct rank_entry *out,
                      size_t max)
{
    size_t k = 0;
    for (; lf && k < max; lf = lf->next, pos = 0)
        for (; pos < lf->h.n && k < max; pos++)
            fill_entry(lf->m[pos], &out[k++]);
    return k;
}

bool rank_around(const struct rank_index *x, const char *member, size_t len, size_t above,
                 size_t below, struct rank_entry *out, size_t *n, size_t *rank, size_t *first)
{
    struct rank_node *nd = find(x, member, len);
    if (!nd)
        return false;
    size_t r = node_rank(nd);
    *rank = r;
    size_t back = r < above ? r : above;
    *first = r - back;
    /* Back along the leaves from the member: its neighbours are next to it. */
    const struct rank_leaf *lf = nd->leaf;
    uint32_t pos = leaf_index(lf, nd);
    while (back > pos) {
        back -= pos + 1;
        lf = lf->prev;
        pos = lf->h.n - 1;
    }
    pos -= (uint32_t)back;
    *n = collect(lf, pos, out, r + below + 1 - *first);
    return true;
}

size_t rank_range(const struct rank_index *x, size_t start, struct rank_entry *out, size_t max)
{
    if (start >= x->n || max == 0)
        return 0;
    uint32_t pos;
    const struct rank_leaf *lf = leaf_at(x, start, &pos);
    return collect(lf, pos, out, max);
}

size_t rank_before(const struct rank_index *x, int64_t score, int64_t at, const char *member,
                   size_t len)
{
    if (!x->root)
        return 0;
    struct key k = {score, at, member, len};
    size_t before;
    uint32_t pos;
    descend(x, &k, &before, &pos);
    return before;
}

struct load_item {
    int64_t score;
    int64_t at;
    const char *member;
    size_t len;
};

static inline bool item_before(const struct load_item *a, const struct load_item *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    if (a->at != b->at)
        return a->at < b->at;
    return names_cmp(a->member, a->len, b->member, b->len) < 0;
}

/* A merge sort with the comparison inlined: twice as fast as qsort here. tmp holds n / 2. */
static void load_sort(struct load_item *a, struct load_item *tmp, size_t n)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            struct load_item v = a[i];
            size_t j = i;
            for (; j > 0 && item_before(&v, &a[j - 1]); j--)
                a[j] = a[j - 1];
            a[j] = v;
        }
        return;
    }
    size_t h = n / 2;
    load_sort(a, tmp, h);
    load_sort(a + h, tmp, n - h);
    if (!item_before(&a[h], &a[h - 1]))
        return;
    /* The left half moves out; the output never overtakes the right half's reads. */
    memcpy(tmp, a, h * sizeof(*a));
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        a[k++] = item_before(&a[j], &tmp[i]) ? a[j++] : tmp[i++];
    while (i < h)
        a[k++] = tmp[i++];
}

static void set_each(struct rank_index *x, const struct rank_entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rank_set(x, entries[i].member, entries[i].member_len, entries[i].score, entries[i].at);
}

/* Splits k items into groups of about RANK_LOAD_FILL: how many groups. */
static size_t groups_of(size_t k)
{
    return (k + RANK_LOAD_FILL - 1) / RANK_LOAD_FILL;
}

/* Sorts the entries, then makes the members' nodes in order, fills the leaves in order to
 * RANK_LOAD_FILL and builds each level of inner nodes over the one below. Neighbours in the
 * order are neighbours in memory. A member given twice (against the rule) sends it all back
 * to rank_set, where the later entry wins; so does an index that is not empty. */
void rank_load(struct rank_index *x, const struct rank_entry *entries, size_t n)
{
    if (x->n) {
        set_each(x, entries, n);
        return;
    }
    if (n == 0)
        return;
    assert(n < UINT32_MAX - 1); /* counts are 32 bits (rank.h) */
    changed(x);
    struct load_item *items = xmalloc(n * sizeof(*items));
    for (size_t j = 0; j < n; j++)
        items[j] = (struct load_item){entries[j].score, entries[j].at, entries[j].member,
                                      entries[j].member_len};
    struct load_item *tmp = xmalloc((n / 2 + 1) * sizeof(*tmp));
    load_sort(items, tmp, n);
    free(tmp);
    size_t nb = x->nbuckets;
    while (nb < n)
        nb *= 2;
    if (nb != x->nbuckets)
        rehash(x, nb);

    /* The leaves, each with an even share of the entries. The names' hashes run LOAD_AHEAD
     * items ahead, so that their buckets are fetched by the time they are filled, and the
     * names' bytes twice as far ahead. */
    size_t nleaves = groups_of(n);
    struct rank_hdr **level = xmalloc(nleaves * sizeof(*level));
    uint64_t ahead[LOAD_AHEAD];
    for (size_t j = 0; j < LOAD_AHEAD && j < n; j++) {
        ahead[j] = name_hash(x, items[j].member, items[j].len);
        PREFETCH(bucket_of(x, ahead[j]));
    }
    struct rank_leaf *prev = NULL;
    size_t j = 0;
    for (size_t l = 0; l < nleaves; l++) {
        struct rank_leaf *lf = leaf_new(x);
        size_t end = n * (l + 1) / nleaves;
        for (; j < end; j++) {
            const struct load_item *e = &items[j];
            struct rank_node **c = bucket_of(x, ahead[j % LOAD_AHEAD]);
            if (j + LOAD_AHEAD < n) {
                const struct load_item *f = &items[j + LOAD_AHEAD];
                ahead[j % LOAD_AHEAD] = name_hash(x, f->member, f->len);
                PREFETCH(bucket_of(x, ahead[j % LOAD_AHEAD]));
            }
            if (j + 2 * LOAD_AHEAD < n)
                PREFETCH(items[j + 2 * LOAD_AHEAD].member);
            if (find_in(*c, e->member, e->len)) {
                /* Not yet in the tree: the nodes in the chains and this leaf go first. */
                lf->prev = prev;
                lf->next = NULL;
                if (prev)
                    prev->next = lf;
                else
                    x->head = lf;
                x->tail = lf;
                for (size_t b = 0; b < x->nbuckets; b++)
                    for (struct rank_node *nd = x->buckets[b], *next; nd; nd = next) {
                        next = nd->chain;
                        node_free(x, nd);
                    }
                for (struct rank_leaf *f = x->head, *next; f; f = next) {
                    next = f->next;
                    leaf_free(x, f);
                }
                x->head = x->tail = NULL;
                x->n = 0;
                clear(x);
                free(level);
                free(items);
                set_each(x, entries, n);
                return;
            }
            struct rank_node *nd = node_new(x, e->member, e->len, e->score, e->at);
            nd->chain = *c;
            *c = nd;
            nd->leaf = lf;
            uint32_t i = lf->h.n++;
            lf->score[i] = e->score;
            lf->at[i] = e->at;
            lf->m[i] = nd;
            x->n++;
        }
        lf->prev = prev;
        lf->next = NULL;
        if (prev)
            prev->next = lf;
        else
            x->head = lf;
        x->tail = lf;
        prev = lf;
        level[l] = &lf->h;
    }
    free(items);

    /* Inner levels until one node is left: the root. */
    size_t k = nleaves;
    int d = 0;
    while (k > 1) {
        size_t np = groups_of(k), c = 0;
        for (size_t p = 0; p < np; p++) {
            struct rank_inner *in = inner_new(x);
            size_t end = k * (p + 1) / np;
            for (; c < end; c++)
                inner_put(in, in->h.n, level[c], d, subtree_count(level[c], d));
            level[p] = &in->h;
        }
        k = np;
        d++;
    }
    x->root = level[0];
    x->root->parent = NULL;
    x->root->slot = 0;
    x->height = d;
    free(level);
}

/* ---- checks -------------------------------------------------------------------------- */

struct check {
    const struct rank_index *x;
    const struct rank_leaf *next_leaf; /* the leaf the list should reach next */
    const struct rank_node *last;      /* the last entry seen in tree order */
    size_t bytes, entries;
};

/* Checks the subtree under h (depth d, parent p): NULL or the broken invariant; *count gets
 * its entries. */
static const char *check_node(struct check *ck, const struct rank_hdr *h, int d,
                              const struct rank_inner *p, size_t *count)
{
    if (h->parent != p || (p ? h->slot >= p->h.n || p->child[h->slot] != h : h->slot != 0))
        return "a node's parent or slot is not where it is listed";
    if (h->n == 0)
        return "a node is empty";
    if (d == 0) {
        const struct rank_leaf *lf = (const struct rank_leaf *)h;
        if (h->n > RANK_LEAF_MAX)
            return "a leaf holds too many entries";
        if (lf != ck->next_leaf)
            return "the leaf list is not in tree order";
        if (lf->next ? lf->next->prev != lf : ck->x->tail != lf)
            return "the leaf list's back links are wrong";
        ck->next_leaf = lf->next;
        ck->bytes += sizeof(*lf);
        for (uint32_t i = 0; i < h->n; i++) {
            const struct rank_node *nd = lf->m[i];
            if (nd->leaf != lf)
                return "a member does not know its leaf";
            if (lf->score[i] != nd->score || lf->at[i] != nd->at)
                return "a leaf's key of an entry is not its member's";
            if (nd->name[nd->len] != '\0')
                return "a name is not NUL-terminated";
            struct key k = node_key(nd);
            if (ck->last && entry_cmp(ck->last->score, ck->last->at, ck->last, &k) >= 0)
                return "entries are not in strictly increasing order";
            if (find(ck->x, nd->name, nd->len) != nd)
                return "a member is not found by its name";
            ck->last = nd;
            ck->bytes += node_size(nd->len);
            ck->entries++;
        }
        *count = h->n;
        return NULL;
    }
    const struct rank_inner *in = (const struct rank_inner *)h;
    if (h->n > RANK_FAN_MAX)
        return "an inner node has too many children";
    ck->bytes += sizeof(*in);
    size_t total = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        int64_t s, a;
        struct rank_node *m;
        first_key(in->child[i], d - 1, &s, &a, &m);
        if (in->score[i] != s || in->at[i] != a || in->first[i] != m)
            return "an inner node's key for a child is not the child's first";
        size_t c;
        const char *why = check_node(ck, in->child[i], d - 1, in, &c);
        if (why)
            return why;
        if (in->count[i] != c)
            return "an inner node's count for a child is wrong";
        total += c;
    }
    *count = total;
    return NULL;
}

const char *rank__check(const struct rank_index *x)
{
    struct check ck = {x, x->head, NULL, sizeof(*x) + x->nbuckets * sizeof(*x->buckets), 0};
    if (!x->root) {
        if (x->n || x->head || x->tail || x->height)
            return "an empty index has entries, leaves or height";
    } else {
        if (x->height < 0)
            return "the height is negative";
        size_t c;
        const char *why = check_node(&ck, x->root, x->height, NULL, &c);
        if (why)
            return why;
        if (ck.next_leaf)
            return "the leaf list goes past the last leaf";
        if (!x->head || x->head->prev)
            return "the first leaf is not the head";
        if (c != x->n || ck.entries != x->n)
            return "the tree does not hold n entries";
    }
    size_t chained = 0;
    for (size_t b = 0; b < x->nbuckets; b++)
        for (const struct rank_node *nd = x->buckets[b]; nd; nd = nd->chain) {
            if ((name_hash(x, nd->name, nd->len) & (x->nbuckets - 1)) != b)
                return "a member is in the wrong hash chain";
            chained++;
        }
    if (chained != x->n)
        return "the hash chains do not hold n members";
    if (ck.bytes != x->bytes)
        return "the byte count is off";
    return NULL;
}
