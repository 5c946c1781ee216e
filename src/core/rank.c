/* The rank index: a skip list with spans and a hash of member names (rank_int.h has the
 * design and the invariants, rank.h the API). */
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

#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

/* Where a search starts or stops: a position in the order, given by its key. */
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

/* 1 + the number of leading pairs of zero bits: P(h > k) = 4^-k, as Redis's p = 1/4. */
static int random_height(struct rank_index *x)
{
    uint64_t r = splitmix64(&x->rng);
    int h = 1;
    while ((r & 3) == 0 && h < RANK_MAX_LEVEL) {
        h++;
        r >>= 2;
    }
    return h;
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

static char *node_name(const struct rank_node *nd)
{
    return (char *)&nd->level[nd->height];
}

static size_t node_size(int height, size_t len)
{
    return offsetof(struct rank_node, level) + (size_t)height * sizeof(struct rank_level) + len + 1;
}

/* The node whose level array is lv (never the head's). */
static struct rank_node *level_node(struct rank_level *lv)
{
    return (struct rank_node *)((char *)lv - offsetof(struct rank_node, level));
}

static int names_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t m = alen < blen ? alen : blen;
    int c = m ? memcmp(a, b, m) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* < 0 when the node comes before the key in the order, 0 when it is the key. */
static inline int node_cmp(const struct rank_node *nd, const struct key *k)
{
    if (nd->score != k->score)
        return nd->score > k->score ? -1 : 1;
    if (nd->at != k->at)
        return nd->at < k->at ? -1 : 1;
    return names_cmp(node_name(nd), nd->len, k->member, k->len);
}

/* < 0 when the node lv points to (not NULL) comes before the key, from the key it caches. */
static inline int level_cmp(const struct rank_level *lv, const struct key *k)
{
    if (lv->score != k->score)
        return lv->score > k->score ? -1 : 1;
    if (lv->at != k->at)
        return lv->at < k->at ? -1 : 1;
    const struct rank_node *nd = lv->forward;
    return names_cmp(node_name(nd), nd->len, k->member, k->len);
}

/* Points lv at nd. */
static void level_point(struct rank_level *lv, struct rank_node *nd)
{
    lv->forward = nd;
    if (nd) {
        lv->score = nd->score;
        lv->at = nd->at;
    }
}

static struct key node_key(const struct rank_node *nd)
{
    return (struct key){nd->score, nd->at, node_name(nd), nd->len};
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
        if (nd->len == len && (len == 0 || memcmp(node_name(nd), member, len) == 0))
            return nd;
    return NULL;
}

static struct rank_node *find(const struct rank_index *x, const char *member, size_t len)
{
    return find_in(*chain_of(x, member, len), member, len);
}

static void rehash(struct rank_index *x, size_t nbuckets)
{
    assert(nbuckets >= RANK_MIN_BUCKETS && (nbuckets & (nbuckets - 1)) == 0);
    struct rank_node **old = x->buckets;
    size_t nold = x->nbuckets;
    x->buckets = xcalloc(nbuckets, sizeof(*x->buckets));
    x->nbuckets = nbuckets;
    x->bytes = x->bytes - nold * sizeof(*old) + nbuckets * sizeof(*old);
    for (size_t i = 0; i < nold; i++) {
        struct rank_node *nd = old[i];
        while (nd) {
            struct rank_node *next = nd->chain;
            struct rank_node **c = chain_of(x, node_name(nd), nd->len);
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
    struct rank_node **c = chain_of(x, node_name(nd), nd->len);
    nd->chain = *c;
    *c = nd;
}

/* Unlinks a node that is in the table (x->n no longer counts it). */
static void hash_remove(struct rank_index *x, struct rank_node *nd)
{
    struct rank_node **c = chain_of(x, node_name(nd), nd->len);
    while (*c != nd) {
        assert(*c);
        c = &(*c)->chain;
    }
    *c = nd->chain;
    if (x->nbuckets > RANK_MIN_BUCKETS && x->n < x->nbuckets / 4)
        rehash(x, x->nbuckets / 2);
}

/* ---- skip list ----------------------------------------------------------------------- */

/* A search under way: where it is (the level array lv, at level i, rank r) and what it
 * records on its way down. */
struct cursor {
    const struct key *k;
    struct rank_level *lv;
    size_t r;
    int i;
    struct rank_level **path; /* path[i]: the level array after which k goes at level i */
    size_t *before;           /* before[i]: that position's rank (0 for the head) */
};

static void cursor_start(struct cursor *c, struct rank_index *x, const struct key *k,
                         struct rank_level **path, size_t *before)
{
    *c = (struct cursor){k, x->head, 0, x->level - 1, path, before};
}

/* One comparison: moves forward or down a level. False once below level 0. */
static bool cursor_step(struct cursor *c)
{
    if (c->i < 0)
        return false;
    struct rank_node *f = c->lv[c->i].forward;
    if (f && level_cmp(&c->lv[c->i], c->k) < 0) {
        c->r += c->lv[c->i].span;
        c->lv = f->level;
    } else {
        c->path[c->i] = c->lv;
        c->before[c->i] = c->r;
        c->i--;
    }
    return true;
}

/* Fills the path to the key at every level in use. */
static void search(struct rank_index *x, const struct key *k, struct rank_level **path,
                   size_t *before)
{
    struct cursor c;
    cursor_start(&c, x, k, path, before);
    while (cursor_step(&c))
        ;
}

/* Links nd (not in the list) after path[i] at each of its levels, before[] being their
 * ranks; x->n does not count it yet. */
static void list_link(struct rank_index *x, struct rank_node *nd, struct rank_level **path,
                      size_t *before)
{
    int h = nd->height;
    for (int i = x->level; i < h; i++) {
        path[i] = x->head;
        before[i] = 0;
        x->head[i].span = x->n;
    }
    if (h > x->level)
        x->level = h;
    for (int i = 0; i < h; i++) {
        struct rank_level *p = &path[i][i];
        nd->level[i] = *p;
        nd->level[i].span = p->span - (before[0] - before[i]);
        level_point(p, nd);
        p->span = before[0] - before[i] + 1;
    }
    for (int i = h; i < x->level; i++)
        path[i][i].span++;
    x->n++;
}

static void list_insert(struct rank_index *x, struct rank_node *nd)
{
    struct rank_level *path[RANK_MAX_LEVEL];
    size_t before[RANK_MAX_LEVEL];
    struct key k = node_key(nd);
    search(x, &k, path, before);
    assert(!path[0][0].forward || node_cmp(path[0][0].forward, &k) > 0);
    list_link(x, nd, path, before);
}

/* Unlinks nd, given the search path to it. */
static void list_unlink(struct rank_index *x, struct rank_node *nd, struct rank_level **path)
{
    assert(path[0][0].forward == nd);
    for (int i = 0; i < x->level; i++) {
        struct rank_level *p = &path[i][i];
        if (p->forward == nd) {
            size_t span = p->span + nd->level[i].span - 1;
            *p = nd->level[i];
            p->span = span;
        } else {
            p->span--;
        }
    }
    while (x->level > 1 && !x->head[x->level - 1].forward) {
        x->head[x->level - 1].span = 0;
        x->level--;
    }
    x->n--;
}

/* How many nodes come strictly before the key. */
static size_t count_before(const struct rank_index *x, const struct key *k)
{
    const struct rank_level *lv = x->head;
    size_t r = 0;
    for (int i = x->level - 1; i >= 0; i--) {
        struct rank_node *f;
        while ((f = lv[i].forward) && level_cmp(&lv[i], k) < 0) {
            r += lv[i].span;
            lv = f->level;
        }
    }
    return r;
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

#define CHUNK_MIN (16u << 10)
#define CHUNK_HUGE (2u << 20)

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
    int h = random_height(x);
    size_t size = node_size(h, len);
    struct rank_node *nd = pool_alloc(&x->pool, size);
    nd->score = score;
    nd->at = at;
    nd->chain = NULL;
    nd->len = (uint32_t)len;
    nd->height = (uint8_t)h;
    char *name = node_name(nd);
    if (len)
        memcpy(name, member, len);
    name[len] = '\0';
    x->bytes += size;
    return nd;
}

static void node_free(struct rank_index *x, struct rank_node *nd)
{
    size_t size = node_size(nd->height, nd->len);
    x->bytes -= size;
    pool_free(&x->pool, nd, size);
}

static void fill_entry(const struct rank_node *nd, struct rank_entry *e)
{
    e->member = node_name(nd);
    e->member_len = nd->len;
    e->score = nd->score;
    e->at = nd->at;
}

/* Back to empty, keeping the hash table's size. */
static void clear(struct rank_index *x)
{
    struct rank_node *nd = x->head[0].forward;
    while (nd) {
        struct rank_node *next = nd->level[0].forward;
        pool_free(&x->pool, nd, node_size(nd->height, nd->len)); /* the big ones */
        nd = next;
    }
    pool_release(&x->pool);
    memset(x->head, 0, sizeof(x->head));
    x->level = 1;
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
    x->level = 1;
    x->rng = seed;
    uint64_t s = seed ^ 0x6a09e667f3bcc908ull;
    x->hash_key = splitmix64(&s);
    x->nbuckets = RANK_MIN_BUCKETS;
    x->buckets = xcalloc(x->nbuckets, sizeof(*x->buckets));
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

void rank_set(struct rank_index *x, const char *member, size_t len, int64_t score, int64_t at)
{
    struct rank_node *nd = find(x, member, len);
    if (!nd || nd->score != score || nd->at != at)
        changed(x);
    if (!nd) {
        nd = node_new(x, member, len, score, at);
        list_insert(x, nd);
        hash_add(x, nd);
        return;
    }
    if (nd->score == score && nd->at == at)
        return;
    /* The paths to the old key and to the new one, walked in step: their cache misses
     * overlap instead of adding up. The node is still in the list for both. */
    struct rank_level *path[RANK_MAX_LEVEL], *to[RANK_MAX_LEVEL];
    size_t before[RANK_MAX_LEVEL], to_before[RANK_MAX_LEVEL];
    struct key old = node_key(nd);
    struct key k = {score, at, old.member, old.len};
    struct cursor a, b;
    cursor_start(&a, x, &old, path, before);
    cursor_start(&b, x, &k, to, to_before);
    /* Both step each round (no short circuit): that is what overlaps their misses. */
    for (;;) {
        bool more_a = cursor_step(&a), more_b = cursor_step(&b);
        if (!more_a && !more_b)
            break;
    }
    assert(path[0][0].forward == nd);
    /* Its neighbours stay on either side of the new key: only the key changes (as Redis's
     * zslUpdateScore). Otherwise the node moves, keeping its height and its hash chain. */
    if ((path[0] == x->head || node_cmp(level_node(path[0]), &k) < 0) &&
        (!nd->level[0].forward || level_cmp(&nd->level[0], &k) > 0)) {
        nd->score = score;
        nd->at = at;
        for (int i = 0; i < nd->height; i++)
            level_point(&path[i][i], nd);
        return;
    }
    /* The new path as it is without the node: positions after it lose a rank, and where
     * the node itself was the way in, its own predecessor is. */
    size_t nd_rank = before[0] + 1;
    for (int i = 0; i < x->level; i++) {
        if (to_before[i] < nd_rank)
            continue;
        if (to[i] == nd->level) {
            to[i] = path[i];
            to_before[i] = before[i];
        } else {
            to_before[i]--;
        }
    }
    list_unlink(x, nd, path);
    nd->score = score;
    nd->at = at;
    list_link(x, nd, to, to_before);
}

bool rank_remove(struct rank_index *x, const char *member, size_t len)
{
    struct rank_node *nd = find(x, member, len);
    if (!nd)
        return false;
    changed(x);
    struct rank_level *path[RANK_MAX_LEVEL];
    size_t before[RANK_MAX_LEVEL];
    struct key k = node_key(nd);
    search(x, &k, path, before);
    list_unlink(x, nd, path);
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
    if (rank) {
        struct key k = node_key(nd);
        *rank = count_before(x, &k);
    }
    return true;
}

bool rank_around(const struct rank_index *x, const char *member, size_t len, size_t above,
                 size_t below, struct rank_entry *out, size_t *n, size_t *rank, size_t *first)
{
    struct rank_node *nd = find(x, member, len);
    if (!nd)
        return false;
    /* Down to the member as count_before, remembering where each level stopped (pos[i], of
     * 1-based rank pr[i], 0 for the head; pr never grows going up). */
    struct key k = node_key(nd);
    const struct rank_level *pos[RANK_MAX_LEVEL];
    size_t pr[RANK_MAX_LEVEL];
    const struct rank_level *lv = x->head;
    size_t r = 0;
    for (int i = x->level - 1; i >= 0; i--) {
        struct rank_node *f;
        while ((f = lv[i].forward) && level_cmp(&lv[i], &k) < 0) {
            r += lv[i].span;
            lv = f->level;
        }
        pos[i] = lv;
        pr[i] = r;
    }
    *rank = r;
    *first = r - (r < above ? r : above);
    /* Then to the first entry wanted (1-based rank target) from the lowest level that stopped
     * at or before it: its last steps are the nodes the first walk just read. */
    size_t target = *first + 1;
    int top = 0;
    while (top < x->level && pr[top] > target)
        top++;
    const struct rank_node *cur = NULL;
    if (top == x->level) {
        top = x->level - 1;
        lv = x->head;
        r = 0;
    } else {
        lv = pos[top];
        r = pr[top];
        if (r)
            cur = level_node((struct rank_level *)pos[top]);
    }
    for (int i = top; i >= 0 && r != target; i--) {
        while (lv[i].forward && r + lv[i].span <= target) {
            r += lv[i].span;
            cur = lv[i].forward;
            lv = cur->level;
        }
    }
    assert(cur && r == target);
    size_t want = *rank + below + 1 - *first, got = 0;
    for (; cur && got < want; cur = cur->level[0].forward)
        fill_entry(cur, &out[got++]);
    *n = got;
    return true;
}

size_t rank_range(const struct rank_index *x, size_t start, struct rank_entry *out, size_t max)
{
    if (start >= x->n || max == 0)
        return 0;
    /* Down the spans to 1-based rank start + 1. */
    const struct rank_level *lv = x->head;
    struct rank_node *nd = NULL;
    size_t r = 0;
    for (int i = x->level - 1; i >= 0; i--) {
        while (lv[i].forward && r + lv[i].span <= start + 1) {
            r += lv[i].span;
            nd = lv[i].forward;
            lv = nd->level;
        }
        if (r == start + 1)
            break;
    }
    assert(nd && r == start + 1);
    size_t k = 0;
    for (; nd && k < max; nd = nd->level[0].forward)
        fill_entry(nd, &out[k++]);
    return k;
}

size_t rank_before(const struct rank_index *x, int64_t score, int64_t at, const char *member,
                   size_t len)
{
    struct key k = {score, at, member, len};
    return count_before(x, &k);
}

/* ---- bulk load ----------------------------------------------------------------------- */

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

/* Sorts the entries, then makes the nodes in order, linking every level as it goes: the
 * list is built in one pass, and nodes next to each other in the order are next to each
 * other in memory (which helps ranges and the last steps of searches until members move).
 * A member given twice (against the rule) sends it all back to rank_set, where the later
 * entry wins; so does an index that is not empty. */
void rank_load(struct rank_index *x, const struct rank_entry *entries, size_t n)
{
    if (x->n) {
        set_each(x, entries, n);
        return;
    }
    if (n == 0)
        return;
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

    struct rank_level *last[RANK_MAX_LEVEL]; /* the last level array linked at each level */
    size_t last_rank[RANK_MAX_LEVEL];
    for (int i = 0; i < RANK_MAX_LEVEL; i++) {
        last[i] = x->head;
        last_rank[i] = 0;
    }
    /* The names' hashes run LOAD_AHEAD items ahead, so that their buckets are fetched by the
     * time they are filled, and the names' bytes twice as far ahead. */
    uint64_t ahead[LOAD_AHEAD];
    for (size_t j = 0; j < LOAD_AHEAD && j < n; j++) {
        ahead[j] = name_hash(x, items[j].member, items[j].len);
        PREFETCH(bucket_of(x, ahead[j]));
    }
    int level = 1;
    for (size_t j = 0; j < n; j++) {
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
            clear(x);
            free(items);
            set_each(x, entries, n);
            return;
        }
        struct rank_node *nd = node_new(x, e->member, e->len, e->score, e->at);
        x->n++;
        nd->chain = *c;
        *c = nd;
        for (int i = 0; i < nd->height; i++) {
            level_point(&last[i][i], nd);
            last[i][i].span = j + 1 - last_rank[i];
            last[i] = nd->level;
            last_rank[i] = j + 1;
            nd->level[i].forward = NULL;
        }
        if (nd->height > level)
            level = nd->height;
    }
    x->level = level;
    for (int i = 0; i < level; i++)
        last[i][i].span = n - last_rank[i]; /* to the end: their forward is NULL */
    free(items);
}

/* ---- checks -------------------------------------------------------------------------- */

const char *rank__check(const struct rank_index *x)
{
    if (x->level < 1 || x->level > RANK_MAX_LEVEL)
        return "level out of range";
    size_t bytes = sizeof(*x) + x->nbuckets * sizeof(*x->buckets);
    size_t n = 0;
    int top = 1;
    const struct rank_node *prev = NULL;
    for (const struct rank_node *nd = x->head[0].forward; nd; nd = nd->level[0].forward) {
        n++;
        if (nd->height < 1 || nd->height > x->level)
            return "a node's height is out of range";
        if (nd->height > top)
            top = nd->height;
        if (node_name(nd)[nd->len] != '\0')
            return "a name is not NUL-terminated";
        struct key k = node_key(nd);
        if (prev && node_cmp(prev, &k) >= 0)
            return "level 0 is not in strictly increasing order";
        if (find(x, node_name(nd), nd->len) != nd)
            return "a node is not found by its name";
        bytes += node_size(nd->height, nd->len);
        prev = nd;
    }
    if (n != x->n)
        return "level 0 does not hold n nodes";
    if (x->n && top != x->level)
        return "the level is not the largest height";
    if (!x->n && x->level != 1)
        return "an empty index has a level above 1";
    for (int i = x->level; i < RANK_MAX_LEVEL; i++)
        if (x->head[i].forward || x->head[i].span)
            return "a head level above the level is in use";
    /* Ranks by walking level 0, then every level's spans against them. */
    for (int i = 0; i < x->level; i++) {
        const struct rank_level *lv = x->head;
        size_t r = 0;
        const struct rank_node *walk = x->head[0].forward;
        size_t walk_rank = 1;
        while (lv[i].forward) {
            const struct rank_node *f = lv[i].forward;
            if (f->height <= i)
                return "a node is linked above its height";
            while (walk && walk != f) {
                if (walk->height > i)
                    return "a level skips a node of that height";
                walk = walk->level[0].forward;
                walk_rank++;
            }
            if (!walk)
                return "a level is out of level-0 order";
            if (lv[i].span != walk_rank - r)
                return "a span is not the rank difference";
            if (lv[i].score != f->score || lv[i].at != f->at)
                return "a level's cached key is not its forward node's";
            r = walk_rank;
            lv = f->level;
            walk = walk->level[0].forward;
            walk_rank++;
        }
        if (lv[i].span != x->n - r)
            return "a NULL pointer's span is not n minus its node's rank";
        for (; walk; walk = walk->level[0].forward)
            if (walk->height > i)
                return "a level ends before a node of that height";
    }
    size_t chained = 0;
    for (size_t b = 0; b < x->nbuckets; b++)
        for (const struct rank_node *nd = x->buckets[b]; nd; nd = nd->chain) {
            if ((name_hash(x, node_name(nd), nd->len) & (x->nbuckets - 1)) != b)
                return "a node is in the wrong hash chain";
            chained++;
        }
    if (chained != x->n)
        return "the hash chains do not hold n nodes";
    if (bytes != x->bytes)
        return "the byte count is off";
    return NULL;
}
