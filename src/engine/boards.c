/* Leaderboards in memory (see boards.h).
 *
 * The directory: every board the store has, by (app, metric, period), in a chained hash table
 * that only the engine thread changes, under the write lock. A board's index is NULL while the
 * board is only in the store.
 *
 * A batch's changes: (board, user) -> (delta, at), so that a user who scores many times in a
 * batch has one change per board. The batch's users are kept once each, in the order they
 * first scored, with their text in one buffer; a change names its user by number, and a
 * user's changes are chained, so a user's row needs no sort and a change no copy of the id.
 * Two open-addressing tables of numbers find a user and a (board, user) change; a user's first
 * changes are found in its chain instead (CHAIN_SCAN). The changes
 * are written by boards_flush, one log row for the batch, and applied to memory after the
 * commit, under the write lock (readers wait for the length of the apply, a few microseconds
 * per change): by boards_batch_end itself, or by the applier thread, which takes the batch's
 * set of tables while the engine thread fills the next set of a ring of four (it waits only
 * when all the others are still to be applied). Boards the batch created are listed so that
 * a failed batch removes them again.
 *
 * The fold: what the committed log rows add up to, user -> (board id, delta, at) for each
 * board it scored on, is also kept in memory (`pend`, summed as batches commit), so a fold
 * writes those sums and removes the rows up to the last committed one (`log_through`) without
 * reading the log back. A fold
 * inside a batch leaves that batch's own rows in the log (its changes are summed once it
 * commits); a batch that fails leaves `pend` as it was, as the store is. At start-up the log
 * left by the last run is folded by reading it (store_board_fold). */
#include "engine/boards.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>

#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/tz.h"
#include "engine/game.h"
#include "engine/period.h"

#define TOUCH_EVERY_MS (10 * 60 * 1000) /* how stale boards.updated_at may get */
/* The score log is folded past this many users' rows (about an event each)... At 100,000 a
 * fold of 10,000 users' sums on eight boards each was a tenth of the engine thread's time with
 * the benchmark's rule set; reading 1,000,000 back at start-up takes about 1.3 s. */
#define FOLD_ROWS 1000000
#define FOLD_EVERY_MS (60 * 1000)       /* ...or when it holds rows this old... */
#define FOLD_SUMS (1u << 19)            /* ...or its sums in memory number this many */
#define APPLY_CHUNK 256                 /* changes applied per hold of the write lock */
#define APPLY_SETS 4                    /* batches' sets: the open one and those applied */
#define PREFETCH_AHEAD 6                /* how far ahead an apply warms the next changes */
static void evict(struct boards *b, int64_t now_ms);
#define EVICT_CHECK_MS (60 * 1000)      /* how often boards are checked for eviction */

struct board {
    uint64_t hash;
    struct board *next;         /* directory chain */
    int64_t id;                 /* the store's */
    struct rank_index *index;   /* NULL: only in the store */
    _Atomic int64_t read_ms;    /* last read (any thread, relaxed) */
    int64_t stored_ms;          /* updated_at as the store has it */
    int64_t touch_ms;           /* when the open batch changed it (0: it did not) */
    bool touch_stored;          /* the open batch wrote updated_at = touch_ms */
    bool created;               /* created by the open batch */
    bool all;                   /* period "all": never evicted */
    bool cold;                  /* loaded back by a read and not written since */
    atomic_bool wanted;         /* read while only in the store: the engine loads it */
    size_t key_len;
    char key[];                 /* app '\0' metric '\0' period '\0' */
};

#define NONE UINT32_MAX

struct change {
    struct board *board;
    uint32_t user;              /* the batch's user number */
    uint32_t next;              /* the user's next change, or NONE */
    uint32_t slot;              /* its place in the change table, or NONE (CHAIN_SCAN) */
    int64_t delta, at;
};

struct batch_user {
    uint64_t hash;              /* user_hash_of */
    size_t off, len;            /* its id in users_text (NUL-terminated there) */
    uint32_t first, last;       /* its changes */
    uint32_t slot;              /* its place in the user table */
    uint32_t n_changes;         /* in its chain */
    bool tabled;                /* its changes are in the change table (CHAIN_SCAN) */
};

/* The committed log rows' sums for one user, a (board, delta, at) per board it scored on:
 * a batch's changes come by user, so one lookup takes all of a user's (a lookup per board and
 * user had been a fifth of the applier's time, its cache misses). */
struct pend_sum {
    int64_t board, delta, at;
};

struct pend {
    uint64_t hash;              /* user_hash_of */
    uint32_t off, len;          /* the user's id in pend_text (NUL-terminated there) */
    uint32_t slot;              /* its place in pend_slots */
    uint32_t n, cap;            /* sums */
    struct pend_sum *v;
};

/* A batch's changes (see the top). The engine thread fills one; after the commit the
 * applier thread (if any) applies it while the engine fills the next of the ring. */
struct batch_set {
    struct change *changes;     /* in the order they were made */
    size_t changes_n, changes_cap;
    uint32_t *change_slots;     /* change number + 1 by (board, user); 0: free */
    size_t change_slots_cap;    /* a power of two */
    struct batch_user *users;   /* in the order they first scored */
    size_t users_n, users_cap;
    uint32_t *user_slots;       /* user number + 1 by id; 0: free */
    size_t user_slots_cap;      /* a power of two */
    struct buf users_text;
    struct board **touched;     /* boards the batch changed */
    size_t touched_n, touched_cap;
    bool pend_reset;            /* committed: the batch folded the log (the sums start over) */
    bool pend_sum;              /* committed: the batch's changes are in the log (summed) */
};

/* The boards the last event's sums counted on (count_sums), by metric and period: the next
 * event of a batch most often counts on the same (the same app, metrics and day), which then
 * cost a few string comparisons instead of a directory lookup each. Emptied when a board
 * leaves the directory. */
#define MEMO_METRICS 4
struct count_memo {
    size_t nm, np;              /* metrics kept; periods of each */
    struct board *x[MEMO_METRICS][BOARDS_MAX_PERIODS];
    const char *metric[MEMO_METRICS];      /* in the keys of x[k][0] */
    const char *period[BOARDS_MAX_PERIODS]; /* in the keys of x[0][p] */
};

struct boards {
    pthread_rwlock_t lock;      /* readers vs the engine thread's changes */
    uint64_t seed;              /* secret: keys every index's hash of user ids */
    struct board **slots;       /* directory; cap a power of two */
    size_t cap, n;
    int64_t retention_ms;
    int64_t evict_checked_ms;
    size_t cold_budget;         /* bytes cold boards may hold before the least read go */
    struct batch_set sets[APPLY_SETS]; /* a ring: the open batch's, then those applied */
    struct batch_set *cur;      /* the open batch's */
    struct store_board_change *row; /* one user's changes, as the store takes them */
    struct buf log_row;         /* the batch's row of the score log */
    size_t row_cap;
    struct board **created;     /* boards the open batch created or touches */
    size_t created_n, created_cap;
    struct pend *pend;          /* the committed log rows' sums by user (see the top) */
    size_t pend_n, pend_cap;    /* the applier's, when there is one (see pend_take) */
    size_t pend_pairs;          /* (board, user) sums in all */
    _Atomic size_t pend_count;  /* pend_pairs, for the engine thread's fold trigger */
    uint32_t *pend_slots;       /* user number + 1 by user; 0: free */
    size_t pend_slots_cap;      /* a power of two */
    struct buf pend_text;
    struct count_memo memo;     /* the engine thread's */
    int64_t log_through;        /* the last committed log row (0: none since the last fold) */
    int64_t batch_log_last;     /* the open batch's last log row (0: none) */
    int64_t log_rows;           /* users' rows in the store's score log, as committed */
    int64_t batch_log_rows;     /* the same inside the open batch */
    int64_t folded_ms;          /* when the log was last folded (committed) */
    bool batch_folded;          /* the open batch folded the log */
    _Atomic uint64_t loaded, entries, bytes, evictions, loads; /* stats */
    atomic_bool any_wanted;     /* a board was marked wanted since the last scan for them */
    _Atomic uint64_t applied, apply_waits;
    boards_changed_fn *on_change; /* told of each board a committed batch changed */
    void *on_change_arg;
    void (*on_want)(void *arg);   /* told when a board is wanted and none was since the scan */
    void *on_want_arg;
    /* The applier thread (boards_start_applier): it applies committed batches' sets, in
     * order, while the engine thread goes on with the next batches. The `pending` sets before
     * the open one in the ring are its jobs, the oldest first. */
    bool applier;
    pthread_t applier_thread;
    pthread_mutex_t applier_mu;
    pthread_cond_t applier_cv;      /* a job or `stop` for the applier; a set done for the
                                     * engine */
    unsigned pending;
    boards_applied_fn *job_done[APPLY_SETS];
    void *job_arg[APPLY_SETS];
    bool stop;
};

/* Scores stop at BOARDS_SCORE_MAX (awards are never negative). The store's fold does the
 * same, so memory and store agree however large the awards. */
static int64_t score_add(int64_t a, int64_t b)
{
    return b > BOARDS_SCORE_MAX - a ? BOARDS_SCORE_MAX : a + b;
}

static uint64_t board_hash(const char *app, const char *metric, const char *period)
{
    uint64_t h = hash_fnv1a(HASH_FNV_OFFSET, app, strlen(app) + 1);
    h = hash_fnv1a(h, metric, strlen(metric) + 1);
    h = hash_fnv1a(h, period, strlen(period) + 1);
    return h ^ (h >> 31);
}

static size_t key_write(char *out, const char *app, const char *metric, const char *period)
{
    size_t a = strlen(app) + 1, m = strlen(metric) + 1, p = strlen(period) + 1;
    if (out) {
        memcpy(out, app, a);
        memcpy(out + a, metric, m);
        memcpy(out + a + m, period, p);
    }
    return a + m + p;
}

static struct board *dir_find(const struct boards *b, const char *app, const char *metric,
                              const char *period)
{
    if (!b->n)
        return NULL;
    uint64_t h = board_hash(app, metric, period);
    size_t a = strlen(app) + 1, m = strlen(metric) + 1, p = strlen(period) + 1;
    for (struct board *x = b->slots[h & (b->cap - 1)]; x; x = x->next)
        if (x->hash == h && x->key_len == a + m + p && memcmp(x->key, app, a) == 0 &&
            memcmp(x->key + a, metric, m) == 0 && memcmp(x->key + a + m, period, p) == 0)
            return x;
    return NULL;
}

/* Under the write lock (or before the engine thread runs). */
static struct board *dir_add(struct boards *b, int64_t id, const char *app, const char *metric,
                             const char *period, int64_t updated_at)
{
    if (b->n + 1 > b->cap / 2 || !b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct board **slots = xcalloc(cap, sizeof(*slots));
        for (size_t i = 0; i < b->cap; i++)
            for (struct board *x = b->slots[i], *next; x; x = next) {
                next = x->next;
                x->next = slots[x->hash & (cap - 1)];
                slots[x->hash & (cap - 1)] = x;
            }
        free(b->slots);
        b->slots = slots;
        b->cap = cap;
    }
    size_t len = key_write(NULL, app, metric, period);
    struct board *x = xcalloc(1, sizeof(*x) + len);
    x->hash = board_hash(app, metric, period);
    x->id = id;
    x->stored_ms = updated_at;
    x->all = strcmp(period, "all") == 0;
    x->key_len = len;
    key_write(x->key, app, metric, period);
    x->next = b->slots[x->hash & (b->cap - 1)];
    b->slots[x->hash & (b->cap - 1)] = x;
    b->n++;
    return x;
}

/* Takes the board's index out of memory's accounts and returns it (NULL when it had none);
 * the caller frees it, outside the write lock if it can. Under the write lock. */
static struct rank_index *index_detach(struct boards *b, struct board *x)
{
    struct rank_index *idx = x->index;
    if (!idx)
        return NULL;
    x->index = NULL;
    atomic_fetch_sub_explicit(&b->entries, rank_size(idx), memory_order_relaxed);
    atomic_fetch_sub_explicit(&b->bytes, rank_bytes(idx), memory_order_relaxed);
    atomic_fetch_sub_explicit(&b->loaded, 1, memory_order_relaxed);
    return idx;
}

/* Under the write lock. */
static void dir_remove(struct boards *b, struct board *gone)
{
    for (struct board **p = &b->slots[gone->hash & (b->cap - 1)]; *p; p = &(*p)->next) {
        if (*p == gone) {
            *p = gone->next;
            b->n--;
            b->memo.nm = 0;
            rank_free(index_detach(b, gone));
            free(gone);
            return;
        }
    }
}

struct boards *boards_new(int64_t retention_ms)
{
    struct boards *b = xcalloc(1, sizeof(*b));
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* Reads are many and short; a batch's apply must not wait behind a stream of them. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&b->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    b->retention_ms = retention_ms > 0 ? retention_ms : BOARDS_RETENTION_DEFAULT_S * 1000;
    b->cold_budget = BOARDS_COLD_BUDGET_DEFAULT;
    b->cur = &b->sets[0];
    pthread_mutex_init(&b->applier_mu, NULL);
    pthread_cond_init(&b->applier_cv, NULL);
    if (RAND_bytes((unsigned char *)&b->seed, sizeof(b->seed)) != 1)
        log_warn("no random seed for the leaderboards' hash tables; using a fixed one");
    return b;
}

/* Empties a set for its next batch. Only the slots the batch used are emptied: a batch of a
 * few events after a large one does not sweep the large one's tables. */
static void set_clear(struct batch_set *t)
{
    for (size_t i = 0; i < t->changes_n; i++)
        if (t->changes[i].slot != NONE)
            t->change_slots[t->changes[i].slot] = 0;
    for (size_t i = 0; i < t->users_n; i++)
        t->user_slots[t->users[i].slot] = 0;
    t->changes_n = t->users_n = 0;
    buf_reset(&t->users_text);
    t->touched_n = 0;
    t->pend_reset = t->pend_sum = false;
}

static void set_free(struct batch_set *t)
{
    free(t->changes);
    free(t->change_slots);
    free(t->users);
    free(t->user_slots);
    buf_release(&t->users_text);
    free(t->touched);
}

/* The open batch's marks on the boards it touched are taken off (engine thread). */
static void touched_reset(struct boards *b)
{
    for (size_t i = 0; i < b->cur->touched_n; i++) {
        b->cur->touched[i]->touch_ms = 0;
        b->cur->touched[i]->touch_stored = false;
    }
}

static void applier_wait(struct boards *b);

static const char *set_user(const struct batch_set *t, uint32_t u)
{
    return t->users_text.data + t->users[u].off;
}

void boards_free(struct boards *b)
{
    if (!b)
        return;
    if (b->applier) {
        pthread_mutex_lock(&b->applier_mu);
        b->stop = true;
        pthread_cond_broadcast(&b->applier_cv);
        pthread_mutex_unlock(&b->applier_mu);
        pthread_join(b->applier_thread, NULL); /* it finishes its job first */
    }
    for (size_t i = 0; i < b->cap; i++)
        for (struct board *x = b->slots[i], *next; x; x = next) {
            next = x->next;
            if (x->index)
                rank_free(x->index);
            free(x);
        }
    free(b->slots);
    for (size_t i = 0; i < APPLY_SETS; i++)
        set_free(&b->sets[i]);
    buf_release(&b->log_row);
    for (size_t i = 0; i < b->pend_n; i++)
        free(b->pend[i].v);
    free(b->pend);
    free(b->pend_slots);
    buf_release(&b->pend_text);
    free(b->row);
    free(b->created);
    pthread_mutex_destroy(&b->applier_mu);
    pthread_cond_destroy(&b->applier_cv);
    pthread_rwlock_destroy(&b->lock);
    free(b);
}

/* ---- loading ------------------------------------------------------------------------------ */

struct load_ctx {
    struct rank_entry *v;
    size_t n, cap;
    struct buf names;           /* every name and its NUL, one after another */
};

static void score_loaded(const char *user, size_t len, int64_t score, int64_t at, void *arg)
{
    struct load_ctx *c = arg;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    /* The name's offset for now: the buffer may move until every row is in. */
    c->v[c->n++] = (struct rank_entry){ (const char *)(uintptr_t)c->names.len, len, score, at };
    buf_append(&c->names, user, len);
    buf_putc(&c->names, '\0');
}

/* Reads a board's scores into a new index (not yet visible to readers). */
static struct rank_index *read_index(struct store *st, uint64_t seed, const struct board *x,
                                     char *err, size_t errlen)
{
    struct load_ctx c = { NULL, 0, 0, BUF_INIT };
    int rc = store_board_scores_each(st, x->id, score_loaded, &c, err, errlen);
    struct rank_index *idx = NULL;
    if (rc == 0) {
        for (size_t i = 0; i < c.n; i++)
            c.v[i].member = c.names.data + (uintptr_t)c.v[i].member;
        idx = rank_new(seed ^ x->hash);
        rank_load(idx, c.v, c.n);
    }
    buf_release(&c.names);
    free(c.v);
    return idx;
}

static void index_attach(struct boards *b, struct board *x, struct rank_index *idx)
{
    x->index = idx;
    atomic_fetch_add_explicit(&b->entries, rank_size(idx), memory_order_relaxed);
    atomic_fetch_add_explicit(&b->bytes, rank_bytes(idx), memory_order_relaxed);
    atomic_fetch_add_explicit(&b->loaded, 1, memory_order_relaxed);
}

struct dir_ctx {
    struct boards *b;
};

static void board_listed(const struct store_board *sb, void *arg)
{
    struct dir_ctx *c = arg;
    dir_add(c->b, sb->id, sb->app_id, sb->metric, sb->period, sb->updated_at);
}

/* Folds the committed rows of the score log inside the open batch, from their sums in
 * memory; the open batch's own rows stay in the log. */
static int fold(struct boards *b, struct store *st, char *err, size_t errlen)
{
    if (!b->log_through || b->batch_folded)
        return 0; /* nothing committed to fold, or folded already in this batch */
    applier_wait(b); /* the sums hold every committed batch */
    struct store_board_sum *v = b->pend_pairs ? xmalloc(b->pend_pairs * sizeof(*v)) : NULL;
    size_t n = 0;
    for (size_t i = 0; i < b->pend_n; i++) {
        const struct pend *p = &b->pend[i];
        for (uint32_t k = 0; k < p->n; k++)
            v[n++] = (struct store_board_sum){ p->v[k].board, b->pend_text.data + p->off, p->len,
                                               p->v[k].delta, p->v[k].at };
    }
    int rc = store_board_fold_sums(st, v, n, b->log_through, BOARDS_SCORE_MAX, err, errlen);
    free(v);
    if (rc < 0)
        return -1;
    b->batch_log_rows -= b->log_rows; /* the batch's own rows are left */
    b->batch_folded = true;
    return 0;
}

static uint64_t mix(uint64_t h)
{
    h *= 0x9e3779b97f4a7c15u;
    return h ^ (h >> 29);
}

/* An open-addressing table of numbers + 1 (0: free), cap a power of two, grown at half full:
 * `rehash` gives each number's hash. */
static void slots_grow(uint32_t **slots, size_t *cap, size_t n, struct boards *b,
                       uint64_t (*rehash)(const struct boards *, uint32_t),
                       void (*moved)(struct boards *, uint32_t, uint32_t))
{
    if ((n + 1) * 2 <= *cap)
        return;
    size_t c = *cap ? *cap * 2 : 1024;
    uint32_t *v = xcalloc(c, sizeof(*v));
    for (size_t i = 0; i < *cap; i++) {
        uint32_t k = (*slots)[i];
        if (!k)
            continue;
        size_t j = rehash(b, k - 1) & (c - 1);
        while (v[j])
            j = (j + 1) & (c - 1);
        v[j] = k;
        moved(b, k - 1, (uint32_t)j);
    }
    free(*slots);
    *slots = v;
    *cap = c;
}

static uint64_t pend_rehash(const struct boards *b, uint32_t i)
{
    return mix(b->pend[i].hash); /* as pend_user probes */
}

static void pend_moved(struct boards *b, uint32_t i, uint32_t slot)
{
    b->pend[i].slot = slot;
}

/* The sums of a user (added when new). */
static struct pend *pend_user(struct boards *b, const char *user, size_t len, uint64_t user_hash)
{
    slots_grow(&b->pend_slots, &b->pend_slots_cap, b->pend_n, b, pend_rehash, pend_moved);
    size_t mask = b->pend_slots_cap - 1, j = mix(user_hash) & mask;
    for (;; j = (j + 1) & mask) {
        uint32_t k = b->pend_slots[j];
        if (!k)
            break;
        struct pend *p = &b->pend[k - 1];
        if (p->hash == user_hash && p->len == len &&
            memcmp(b->pend_text.data + p->off, user, len) == 0)
            return p;
    }
    if (b->pend_n == b->pend_cap) {
        b->pend_cap = b->pend_cap ? b->pend_cap * 2 : 1024;
        b->pend = xrealloc(b->pend, b->pend_cap * sizeof(*b->pend));
    }
    struct pend *p = &b->pend[b->pend_n];
    *p = (struct pend){ user_hash, (uint32_t)b->pend_text.len, (uint32_t)len, (uint32_t)j, 0, 0,
                        NULL };
    buf_append(&b->pend_text, user, len);
    buf_putc(&b->pend_text, '\0');
    b->pend_slots[j] = (uint32_t)++b->pend_n;
    return p;
}

/* Adds a committed change of user p's to the sums. A user scores on few boards (a track's
 * four periods and its seasons): they are looked through in order. */
static void pend_add(struct boards *b, struct pend *p, int64_t board, int64_t delta, int64_t at)
{
    for (uint32_t k = 0; k < p->n; k++) {
        struct pend_sum *x = &p->v[k];
        if (x->board == board) {
            x->delta = score_add(x->delta, delta);
            x->at = at; /* batches commit in order: the last change's time */
            return;
        }
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
    }
    p->v[p->n++] = (struct pend_sum){ board, delta, at };
    b->pend_pairs++;
}

static void pend_clear(struct boards *b)
{
    for (size_t i = 0; i < b->pend_n; i++) {
        b->pend_slots[b->pend[i].slot] = 0;
        free(b->pend[i].v);
    }
    b->pend_n = b->pend_pairs = 0;
    buf_reset(&b->pend_text);
    atomic_store_explicit(&b->pend_count, 0, memory_order_relaxed);
}

/* A committed batch's part in the sums (the applier's thread when there is one, which keeps
 * them in commit order): they start over if it folded, and take its changes if it logged,
 * user by user. */
static void pend_take(struct boards *b, const struct batch_set *t)
{
    if (t->pend_reset)
        pend_clear(b);
    for (uint32_t u = 0; t->pend_sum && u < t->users_n; u++) {
        const struct batch_user *bu = &t->users[u];
        struct pend *p = pend_user(b, set_user(t, u), bu->len, bu->hash);
        for (uint32_t i = bu->first; i != NONE; i = t->changes[i].next)
            pend_add(b, p, t->changes[i].board->id, t->changes[i].delta, t->changes[i].at);
    }
    atomic_store_explicit(&b->pend_count, b->pend_pairs, memory_order_relaxed);
}

int boards_load(struct boards *b, struct store *st, int64_t now_ms, char *err, size_t errlen)
{
    /* Scores are read from board_scores: the log's changes are folded in first. */
    int64_t rows = 0;
    if (store_batch_begin(st, err, errlen) < 0)
        return -1;
    if (store_board_fold(st, BOARDS_SCORE_MAX, &rows, err, errlen) < 0 ||
        store_batch_commit(st, err, errlen) < 0) {
        store_batch_rollback(st);
        return -1;
    }
    if (rows)
        log_info("leaderboard score log folded", LOG_U("rows", (uint64_t)rows));
    pend_clear(b);
    b->log_through = 0;
    b->log_rows = b->batch_log_rows = 0;
    b->folded_ms = now_ms;
    struct dir_ctx c = { b };
    if (store_boards_each(st, board_listed, &c, err, errlen) < 0)
        return -1;
    /* Only "all" boards: a period's board comes back when something reads it. */
    for (size_t i = 0; i < b->cap; i++)
        for (struct board *x = b->slots[i]; x; x = x->next) {
            if (!x->all)
                continue;
            struct rank_index *idx = read_index(st, b->seed, x, err, errlen);
            if (!idx)
                return -1;
            index_attach(b, x, idx);
            atomic_store_explicit(&x->read_ms, now_ms, memory_order_relaxed);
        }
    return 0;
}

static void evict_one(struct boards *b, struct board *x)
{
    /* Detached under the lock, freed after it: readers wait for the pointer only. */
    pthread_rwlock_wrlock(&b->lock);
    struct rank_index *idx = index_detach(b, x);
    pthread_rwlock_unlock(&b->lock);
    x->cold = false;
    rank_free(idx);
    atomic_fetch_add_explicit(&b->evictions, 1, memory_order_relaxed);
}

/* Reads may load any stored board back, old days included; the boards they loaded and no batch
 * wrote since share a budget, and past it the least recently read go first (never `keep`, the
 * one being read now). Loads are rare, so a scan of the directory per load is fine. */
static void cold_trim(struct boards *b, const struct board *keep)
{
    for (;;) {
        size_t bytes = 0;
        struct board *oldest = NULL;
        int64_t oldest_ms = INT64_MAX;
        for (size_t i = 0; i < b->cap; i++)
            for (struct board *x = b->slots[i]; x; x = x->next) {
                if (!x->cold || !x->index)
                    continue;
                bytes += rank_bytes(x->index);
                int64_t r = atomic_load_explicit(&x->read_ms, memory_order_relaxed);
                if (x != keep && r < oldest_ms) {
                    oldest_ms = r;
                    oldest = x;
                }
            }
        if (bytes <= b->cold_budget || !oldest)
            return;
        evict_one(b, oldest);
        const char *metric = oldest->key + strlen(oldest->key) + 1;
        log_info("a leaderboard loaded by reads left memory (read memory budget)",
                 LOG_S("app", oldest->key), LOG_S("metric", metric),
                 LOG_S("period", metric + strlen(metric) + 1));
    }
}

void boards_set_cold_budget(struct boards *b, size_t bytes)
{
    b->cold_budget = bytes;
}

/* on_change, of board x. */
static void tell_changed(const struct boards *b, const struct board *x)
{
    if (!b->on_change)
        return;
    const char *metric = x->key + strlen(x->key) + 1;
    b->on_change(b->on_change_arg, x->key, metric, metric + strlen(metric) + 1);
}

/* Board x into memory for a read, if it is not there (engine thread, in the open batch), and
 * on_change told, so that what waits for it (the real-time hub, which found it only in the
 * store) reads it now. */
static int load_board(struct boards *b, struct store *st, struct board *x, int64_t now_ms,
                      char *err, size_t errlen)
{
    /* The engine thread reads what it loads without the lock: nothing may change it. And the
     * sets still with the applier skipped this board (it had no index): what they changed is
     * in the store, which the load reads. */
    applier_wait(b);
    atomic_store_explicit(&x->read_ms, now_ms, memory_order_relaxed);
    atomic_store_explicit(&x->wanted, false, memory_order_relaxed);
    if (x->index)
        return 0;
    /* Built outside the lock: readers see the board only once it is whole. The batch's own
     * pending changes to it (if any) are applied at its end like any other; the committed
     * ones still in the log are folded in first. */
    if (fold(b, st, err, errlen) < 0)
        return -1;
    struct rank_index *idx = read_index(st, b->seed, x, err, errlen);
    if (!idx)
        return -1;
    pthread_rwlock_wrlock(&b->lock);
    index_attach(b, x, idx);
    pthread_rwlock_unlock(&b->lock);
    x->cold = true;
    atomic_fetch_add_explicit(&b->loads, 1, memory_order_relaxed);
    cold_trim(b, x);
    tell_changed(b, x);
    return 0;
}

int boards_load_one(struct boards *b, struct store *st, const char *app_id, const char *metric,
                    const char *period, int64_t now_ms, char *err, size_t errlen)
{
    struct board *x = dir_find(b, app_id, metric, period);
    if (!x)
        return STORE_NOT_FOUND;
    return load_board(b, st, x, now_ms, err, errlen);
}

/* The boards that readers on other threads found only in the store (boards_find), into
 * memory. The flag is cleared before the scan: a reader that marks a board the scan has
 * passed sets it again and asks the engine for another batch. */
static int load_wanted(struct boards *b, struct store *st, int64_t now_ms, char *err,
                       size_t errlen)
{
    if (!atomic_exchange(&b->any_wanted, false))
        return 0;
    for (size_t i = 0; i < b->cap; i++)
        for (struct board *x = b->slots[i]; x; x = x->next)
            if (atomic_load(&x->wanted) && load_board(b, st, x, now_ms, err, errlen) < 0)
                return -1;
    return 0;
}

/* ---- a batch ------------------------------------------------------------------------------ */

static void push(struct board ***v, size_t *n, size_t *cap, struct board *x)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *v = xrealloc(*v, *cap * sizeof(**v));
    }
    (*v)[(*n)++] = x;
}

static uint64_t user_rehash(const struct boards *b, uint32_t u)
{
    return mix(b->cur->users[u].hash);
}

static void user_moved(struct boards *b, uint32_t u, uint32_t slot)
{
    b->cur->users[u].slot = slot;
}

static uint64_t change_hash(const struct board *x, uint64_t user_hash)
{
    return mix(user_hash ^ x->hash);
}

static uint64_t change_rehash(const struct boards *b, uint32_t i)
{
    const struct change *c = &b->cur->changes[i];
    return change_hash(c->board, b->cur->users[c->user].hash);
}

static void change_moved(struct boards *b, uint32_t i, uint32_t slot)
{
    b->cur->changes[i].slot = slot;
}

static const char *user_text(const struct boards *b, uint32_t u)
{
    return set_user(b->cur, u);
}

/* The open batch's number for a user; user_hash = user_hash_of(b, user). */
static uint32_t batch_user(struct boards *b, const char *user, size_t len, uint64_t user_hash)
{
    struct batch_set *t = b->cur;
    slots_grow(&t->user_slots, &t->user_slots_cap, t->users_n, b, user_rehash, user_moved);
    size_t mask = t->user_slots_cap - 1, j = mix(user_hash) & mask;
    for (;; j = (j + 1) & mask) {
        uint32_t k = t->user_slots[j];
        if (!k)
            break;
        const struct batch_user *u = &t->users[k - 1];
        if (u->hash == user_hash && u->len == len && memcmp(user_text(b, k - 1), user, len) == 0)
            return k - 1;
    }
    if (t->users_n == t->users_cap) {
        t->users_cap = t->users_cap ? t->users_cap * 2 : 256;
        t->users = xrealloc(t->users, t->users_cap * sizeof(*t->users));
    }
    uint32_t n = (uint32_t)t->users_n++;
    t->users[n] = (struct batch_user){ user_hash, t->users_text.len, len, NONE, NONE,
                                       (uint32_t)j, 0, false };
    buf_append(&t->users_text, user, len);
    buf_putc(&t->users_text, '\0');
    t->user_slots[j] = n + 1;
    return n;
}

/* A user's first changes in a batch, up to this many, are looked through in its chain (made
 * one after another, so mostly in a cache line or two) and kept out of the change table: a
 * probe of the table had been a cache miss each (the applier's thread empties the set's
 * table, so its lines were last written on the other core), 0.8 us an event with the
 * benchmark's rules in batches of 1,000. A user with more has them all put in the table
 * then. */
#define CHAIN_SCAN 16

/* Puts change n in the change table (not there yet). */
static void change_table_put(struct batch_set *t, uint32_t n)
{
    size_t mask = t->change_slots_cap - 1;
    size_t j = change_hash(t->changes[n].board, t->users[t->changes[n].user].hash) & mask;
    while (t->change_slots[j])
        j = (j + 1) & mask;
    t->change_slots[j] = n + 1;
    t->changes[n].slot = (uint32_t)j;
}

/* The change of (board x, user number u) in the open batch. */
static struct change *change_slot(struct boards *b, struct board *x, uint32_t u)
{
    struct batch_set *t = b->cur;
    struct batch_user *bu = &t->users[u];
    if (bu->n_changes < CHAIN_SCAN) {
        for (uint32_t i = bu->first; i != NONE; i = t->changes[i].next)
            if (t->changes[i].board == x)
                return &t->changes[i];
    } else {
        slots_grow(&t->change_slots, &t->change_slots_cap, t->changes_n, b, change_rehash,
                   change_moved);
        if (!bu->tabled) {
            for (uint32_t i = bu->first; i != NONE; i = t->changes[i].next)
                change_table_put(t, i);
            bu->tabled = true;
        }
        size_t mask = t->change_slots_cap - 1;
        for (size_t j = change_hash(x, bu->hash) & mask;; j = (j + 1) & mask) {
            uint32_t k = t->change_slots[j];
            if (!k)
                break;
            struct change *c = &t->changes[k - 1];
            if (c->board == x && c->user == u)
                return c;
        }
    }
    if (t->changes_n == t->changes_cap) {
        t->changes_cap = t->changes_cap ? t->changes_cap * 2 : 1024;
        t->changes = xrealloc(t->changes, t->changes_cap * sizeof(*t->changes));
    }
    uint32_t n = (uint32_t)t->changes_n++;
    t->changes[n] = (struct change){ x, u, NONE, NONE, 0, 0 };
    if (bu->tabled)
        change_table_put(t, n);
    if (bu->last == NONE)
        bu->first = n;
    else
        t->changes[bu->last].next = n;
    bu->last = n;
    bu->n_changes++;
    return &t->changes[n];
}

size_t boards_batch_changes(const struct boards *b)
{
    return b->cur->changes_n;
}

/* User ids come from clients: hashed with the secret seed. */
static uint64_t user_hash_of(const struct boards *b, const char *user, size_t len)
{
    return hash_fnv1a(b->seed, user, len);
}

/* The board of (app, metric, period), created when new (in the store and in memory). */
static struct board *board_for(struct boards *b, struct store *st, const char *app_id,
                               const char *metric, const char *period, int64_t now_ms,
                               char *err, size_t errlen)
{
    struct board *x = dir_find(b, app_id, metric, period);
    if (x)
        return x;
    int64_t id;
    int rc = store_board_create(st, app_id, metric, period, now_ms, &id, err, errlen);
    if (rc == STORE_CONFLICT)
        snprintf(err, errlen, "board %s/%s/%s is in the store but not in memory", app_id,
                 metric, period);
    if (rc < 0)
        return NULL;
    pthread_rwlock_wrlock(&b->lock);
    x = dir_add(b, id, app_id, metric, period, now_ms);
    /* New: nobody has a score yet. A period's board is only in the store until something
     * reads it (boards_find marks it wanted, boards_flush loads it): a board nobody reads
     * costs no moves. */
    if (x->all)
        index_attach(b, x, rank_new(b->seed ^ x->hash));
    pthread_rwlock_unlock(&b->lock);
    x->created = true;
    push(&b->created, &b->created_n, &b->created_cap, x);
    return x;
}

/* Adds delta (> 0) to the open batch's change of (board x, the batch's user number u). */
static void count_change(struct boards *b, struct board *x, uint32_t u, int64_t delta,
                         int64_t now_ms)
{
    if (delta > BOARDS_SCORE_MAX)
        delta = BOARDS_SCORE_MAX;
    if (!x->touch_ms) {
        x->touch_ms = now_ms;
        push(&b->cur->touched, &b->cur->touched_n, &b->cur->touched_cap, x);
    }
    struct change *c = change_slot(b, x, u);
    c->delta = score_add(c->delta, delta);
    c->at = now_ms;
}

static int add_change(struct boards *b, struct store *st, const char *app_id, const char *metric,
                      const char *period, uint32_t u, int64_t delta, int64_t now_ms, char *err,
                      size_t errlen)
{
    struct board *x = board_for(b, st, app_id, metric, period, now_ms, err, errlen);
    if (!x)
        return -1;
    count_change(b, x, u, delta, now_ms);
    return 0;
}

int boards_add(struct boards *b, struct store *st, const char *app_id, const char *metric,
               const char *period, const char *user_id, int64_t delta, int64_t now_ms,
               char *err, size_t errlen)
{
    if (delta <= 0)
        return 0;
    size_t len = strlen(user_id);
    uint32_t u = batch_user(b, user_id, len, user_hash_of(b, user_id, len));
    return add_change(b, st, app_id, metric, period, u, delta, now_ms, err, errlen);
}

/* `prefix` and `name` into out, cut to fit as snprintf would (a name is at most 64
 * characters, so nothing is cut): boards_count runs per event, where snprintf cost more
 * than the rest of the name's handling. */
static void metric_name(char out[BOARDS_METRIC_MAX + 16], const char *prefix, const char *name)
{
    size_t room = BOARDS_METRIC_MAX + 16 - 1, pl = strlen(prefix), nl = strlen(name);
    pl = pl < room ? pl : room;
    nl = nl < room - pl ? nl : room - pl;
    memcpy(out, prefix, pl);
    memcpy(out + pl, name, nl);
    out[pl + nl] = '\0';
}

/* An event's awards that count, summed per metric (its rules often award one track twice). */
#define COUNT_METRICS 16
struct metric_sum {
    char metric[BOARDS_METRIC_MAX + 16];
    int64_t amount;
};

/* Whether the memo's boards are those of (app, periods). */
static bool memo_fits(const struct count_memo *memo, const char *app_id,
                      char (*periods)[BOARDS_PERIOD_MAX], size_t np)
{
    if (!memo->nm || memo->np != np || strcmp(memo->x[0][0]->key, app_id) != 0)
        return false;
    for (size_t p = 0; p < np; p++)
        if (strcmp(memo->period[p], periods[p]) != 0)
            return false;
    return true;
}

/* The event's sums on every board of their periods: the periods, the user's hash and the
 * user's number in the batch worked out once, and the boards taken from the memo when the
 * event counts on those of the event before. */
static int count_sums(struct boards *b, struct store *st, const struct game_app *app,
                      const char *user_id, int64_t occurred_at, const struct metric_sum *sums,
                      size_t n, int64_t now_ms, char *err, size_t errlen)
{
    char periods[BOARDS_MAX_PERIODS][BOARDS_PERIOD_MAX];
    size_t np = boards_event_periods(app, occurred_at, now_ms, periods, BOARDS_MAX_PERIODS);
    size_t len = strlen(user_id);
    uint32_t u = batch_user(b, user_id, len, user_hash_of(b, user_id, len));
    struct count_memo *memo = &b->memo;
    if (!memo_fits(memo, app->app_id, periods, np)) {
        memo->nm = 0;
        memo->np = np;
    }
    for (size_t k = 0; k < n; k++) {
        /* The memo's boards of metric k, or a lookup of each (which become the memo's metric
         * k: the memo keeps the metrics before the first that differs). */
        struct board **xs = NULL;
        bool fill = false;
        if (k < memo->nm && strcmp(memo->metric[k], sums[k].metric) == 0) {
            xs = memo->x[k];
        } else {
            memo->nm = k < memo->nm ? k : memo->nm;
            fill = k == memo->nm && k < MEMO_METRICS;
        }
        for (size_t p = 0; p < np; p++) {
            struct board *x = xs ? xs[p]
                                 : board_for(b, st, app->app_id, sums[k].metric, periods[p],
                                             now_ms, err, errlen);
            if (!x) {
                memo->nm = 0;
                return -1;
            }
            if (fill) {
                memo->x[k][p] = x;
                size_t a = strlen(x->key) + 1;
                if (!p)
                    memo->metric[k] = x->key + a;
                if (!k)
                    memo->period[p] = x->key + a + strlen(x->key + a) + 1;
            }
            count_change(b, x, u, sums[k].amount, now_ms);
        }
        if (fill)
            memo->nm = k + 1;
    }
    return 0;
}

int boards_count(struct boards *b, struct store *st, const struct game_app *app,
                 const char *user_id, int64_t occurred_at, const struct game_effects *fx,
                 int64_t now_ms, char *err, size_t errlen)
{
    struct metric_sum sums[COUNT_METRICS];
    size_t n = 0;
    for (size_t i = 0; i < fx->n; i++) {
        const struct game_effect *e = &fx->v[i];
        if (e->amount <= 0)
            continue;
        char metric[BOARDS_METRIC_MAX + 16];
        if (e->type == FX_XP)
            metric_name(metric, "", e->name);
        else if (e->type == FX_CURRENCY && app->settings.board_currencies)
            metric_name(metric, "currency:", e->name);
        else
            continue;
        size_t k = 0;
        while (k < n && strcmp(sums[k].metric, metric) != 0)
            k++;
        if (k == n) {
            if (n == COUNT_METRICS) { /* more metrics than fit: count those so far */
                if (count_sums(b, st, app, user_id, occurred_at, sums, n, now_ms, err,
                               errlen) < 0)
                    return -1;
                n = 0;
            }
            memcpy(sums[n].metric, metric, sizeof(metric));
            sums[n].amount = 0;
            k = n++;
        }
        sums[k].amount = score_add(sums[k].amount, e->amount);
    }
    return n ? count_sums(b, st, app, user_id, occurred_at, sums, n, now_ms, err, errlen) : 0;
}

int boards_flush(struct boards *b, struct store *st, int64_t now_ms, char *err, size_t errlen)
{
    /* One log row for the batch, each user's changes on every board together: a user's XP
     * award counts on four boards or more (all, day, week, month, season), each once a row
     * of its own, and a batch's users were a row each. */
    buf_reset(&b->log_row);
    for (uint32_t u = 0; u < b->cur->users_n; u++) {
        size_t n = 0;
        for (uint32_t i = b->cur->users[u].first; i != NONE; i = b->cur->changes[i].next) {
            if (n == b->row_cap) {
                b->row_cap = b->row_cap ? b->row_cap * 2 : 16;
                b->row = xrealloc(b->row, b->row_cap * sizeof(*b->row));
            }
            const struct change *c = &b->cur->changes[i];
            b->row[n++] = (struct store_board_change){ c->board->id, c->delta, c->at };
        }
        store_board_log_user(&b->log_row, user_text(b, u), b->cur->users[u].len, b->row, n);
        b->batch_log_rows++; /* counted by user, as when each had a row */
    }
    if (store_board_log(st, &b->log_row, &b->batch_log_last, err, errlen) < 0)
        return -1;
    if (!b->folded_ms)
        b->folded_ms = now_ms; /* the log's age counts from the first batch that used it */
    if (b->batch_log_rows >= FOLD_ROWS ||
        atomic_load_explicit(&b->pend_count, memory_order_relaxed) >= FOLD_SUMS ||
        (b->batch_log_rows && now_ms - b->folded_ms >= FOLD_EVERY_MS)) {
        if (fold(b, st, err, errlen) < 0)
            return -1;
    }
    for (size_t i = 0; i < b->cur->touched_n; i++) {
        struct board *x = b->cur->touched[i];
        if (x->created || x->stored_ms >= now_ms - TOUCH_EVERY_MS)
            continue;
        if (store_board_touch(st, x->id, x->touch_ms, err, errlen) < 0)
            return -1;
        x->touch_stored = true;
    }
    return load_wanted(b, st, now_ms, err, errlen);
}

static void apply_change(struct boards *b, const struct batch_set *t, const struct change *c)
{
    struct rank_index *idx = c->board->index;
    if (!idx)
        return; /* only in the store, which has the change */
    size_t before = rank_bytes(idx), n = rank_size(idx);
    rank_add(idx, set_user(t, c->user), t->users[c->user].len, c->delta, BOARDS_SCORE_MAX,
             c->at);
    atomic_fetch_add_explicit(&b->bytes, rank_bytes(idx) - before, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->entries, rank_size(idx) - n, memory_order_relaxed);
}

void boards_evict(struct boards *b, int64_t now_ms)
{
    evict(b, now_ms);
}

static void evict(struct boards *b, int64_t now_ms)
{
    applier_wait(b); /* indexes leave memory only when none is being changed */
    b->evict_checked_ms = now_ms;
    int64_t horizon = now_ms - b->retention_ms;
    size_t n = 0;
    for (size_t i = 0; i < b->cap; i++)
        for (struct board *x = b->slots[i]; x; x = x->next) {
            if (!x->index || x->all ||
                atomic_load_explicit(&x->read_ms, memory_order_relaxed) >= horizon)
                continue;
            evict_one(b, x);
            n++;
        }
    if (n) {
        log_info("leaderboards left memory", LOG_U("count", n));
    }
}

/* Applies a committed batch's set to the indexes and tells on_change of the boards it
 * changed (engine or applier thread), then empties it. Every change is committed: readers
 * may see part of the batch, so the lock is let go now and then and readers (I/O threads)
 * never wait long. */
static void apply_set(struct boards *b, struct batch_set *t)
{
    size_t done = 0;
    if (t->changes_n)
        pthread_rwlock_wrlock(&b->lock);
    for (size_t i = 0; i < t->changes_n; i++) {
        /* Each change finds its member in another index at random: the cache is warmed a few
         * changes ahead, a dependent load at a time. */
        for (int stage = 0; stage < 3; stage++) {
            size_t k = i + PREFETCH_AHEAD - 2 * (size_t)stage;
            if (k >= t->changes_n || !t->changes[k].board->index)
                continue;
            const struct change *c = &t->changes[k];
            rank_prefetch(c->board->index, set_user(t, c->user), t->users[c->user].len, stage);
        }
        apply_change(b, t, &t->changes[i]);
        if (++done % APPLY_CHUNK == 0) {
            pthread_rwlock_unlock(&b->lock);
            pthread_rwlock_wrlock(&b->lock);
        }
    }
    if (t->changes_n)
        pthread_rwlock_unlock(&b->lock);
    for (size_t i = 0; i < t->touched_n; i++)
        tell_changed(b, t->touched[i]);
    set_clear(t);
}

static void *applier_run(void *arg)
{
    struct boards *b = arg;
    pthread_mutex_lock(&b->applier_mu);
    for (;;) {
        while (!b->pending && !b->stop)
            pthread_cond_wait(&b->applier_cv, &b->applier_mu);
        if (!b->pending)
            break; /* stopping, nothing left */
        unsigned open = (unsigned)(b->cur - b->sets);
        unsigned j = (open + APPLY_SETS - b->pending) % APPLY_SETS; /* the oldest */
        boards_applied_fn *done = b->job_done[j];
        void *done_arg = b->job_arg[j];
        pthread_mutex_unlock(&b->applier_mu);
        pend_take(b, &b->sets[j]);
        apply_set(b, &b->sets[j]);
        if (done)
            done(done_arg);
        pthread_mutex_lock(&b->applier_mu);
        b->pending--;
        atomic_fetch_add_explicit(&b->applied, 1, memory_order_relaxed);
        pthread_cond_broadcast(&b->applier_cv);
    }
    pthread_mutex_unlock(&b->applier_mu);
    return NULL;
}

/* Until at most `left` sets wait for the applier (engine thread). */
static void applier_wait_for(struct boards *b, unsigned left)
{
    if (!b->applier)
        return;
    pthread_mutex_lock(&b->applier_mu);
    if (b->pending > left)
        atomic_fetch_add_explicit(&b->apply_waits, 1, memory_order_relaxed);
    while (b->pending > left)
        pthread_cond_wait(&b->applier_cv, &b->applier_mu);
    pthread_mutex_unlock(&b->applier_mu);
}

/* Until the applier has applied everything handed to it (engine thread). */
static void applier_wait(struct boards *b)
{
    applier_wait_for(b, 0);
}

int boards_start_applier(struct boards *b)
{
    if (b->applier)
        return 0;
    if (pthread_create(&b->applier_thread, NULL, applier_run, b) != 0)
        return -1;
    pthread_setname_np(b->applier_thread, "boards");
    b->applier = true;
    return 0;
}

void boards_wait_applied(struct boards *b)
{
    applier_wait(b);
}

bool boards_batch_end_then(struct boards *b, bool committed, int64_t now_ms,
                           boards_applied_fn *done, void *arg)
{
    if (committed) {
        b->log_rows = b->batch_log_rows;
        if (b->batch_folded) {
            b->folded_ms = now_ms;
            b->log_through = 0;
            /* The sums start over with this batch's (pend_take); the trigger sees it now. */
            atomic_store_explicit(&b->pend_count, 0, memory_order_relaxed);
        }
        /* The sums: see pend_take. */
        b->cur->pend_reset = b->batch_folded;
        b->cur->pend_sum = b->batch_log_last != 0;
        if (b->batch_log_last)
            b->log_through = b->batch_log_last;
    }
    b->batch_log_rows = b->log_rows;
    b->batch_log_last = 0;
    b->batch_folded = false;
    bool later = false;
    if (!committed) {
        touched_reset(b);
        if (b->created_n) {
            /* The boards the batch created go (no set of the applier's names them). */
            pthread_rwlock_wrlock(&b->lock);
            for (size_t i = b->created_n; i-- > 0;)
                dir_remove(b, b->created[i]);
            pthread_rwlock_unlock(&b->lock);
        }
        set_clear(b->cur);
    } else {
        for (size_t i = 0; i < b->cur->touched_n; i++) {
            struct board *x = b->cur->touched[i];
            x->created = false;
            x->cold = false;
            if (x->touch_stored)
                x->stored_ms = x->touch_ms;
        }
        touched_reset(b);
        if (b->applier && (b->cur->changes_n || b->cur->touched_n)) {
            /* The applier takes this set after those before it; the engine goes on with the
             * next in the ring, which the applier emptied (it waits when every other set is
             * still to be applied). */
            applier_wait_for(b, APPLY_SETS - 2);
            unsigned open = (unsigned)(b->cur - b->sets);
            pthread_mutex_lock(&b->applier_mu);
            b->job_done[open] = done;
            b->job_arg[open] = arg;
            b->cur = &b->sets[(open + 1) % APPLY_SETS];
            b->pending++;
            pthread_cond_broadcast(&b->applier_cv);
            pthread_mutex_unlock(&b->applier_mu);
            later = done != NULL;
        } else {
            /* Also with nothing to apply: the sums and the answers keep commit order (the
             * batch before may still be with the applier, and is answered first). */
            applier_wait(b);
            pend_take(b, b->cur);
            apply_set(b, b->cur);
        }
    }
    b->created_n = 0;
    if (now_ms - b->evict_checked_ms >= EVICT_CHECK_MS ||
        now_ms - b->evict_checked_ms >= b->retention_ms / 4)
        evict(b, now_ms);
    return later;
}

void boards_batch_end(struct boards *b, bool committed, int64_t now_ms)
{
    boards_batch_end_then(b, committed, now_ms, NULL, NULL);
}

void boards_on_change(struct boards *b, boards_changed_fn *fn, void *arg)
{
    b->on_change = fn;
    b->on_change_arg = arg;
}

void boards_on_want(struct boards *b, void (*fn)(void *arg), void *arg)
{
    b->on_want = fn;
    b->on_want_arg = arg;
}

/* ---- reading ------------------------------------------------------------------------------ */

void boards_read_lock(struct boards *b)
{
    pthread_rwlock_rdlock(&b->lock);
}

void boards_read_unlock(struct boards *b)
{
    pthread_rwlock_unlock(&b->lock);
}

enum board_state boards_find(struct boards *b, const char *app_id, const char *metric,
                             const char *period, int64_t now_ms,
                             const struct rank_index **index)
{
    struct board *x = dir_find(b, app_id, metric, period);
    *index = NULL;
    if (!x)
        return BOARD_NONE;
    /* Written only when it moves by a second: readers on several threads do not fight over
     * the cache line for every request. */
    if (now_ms - atomic_load_explicit(&x->read_ms, memory_order_relaxed) >= 1000)
        atomic_store_explicit(&x->read_ms, now_ms, memory_order_relaxed);
    if (!x->index) {
        /* The board's mark first, then the app-wide one the engine clears before it scans:
         * either the scan sees this board, or this sets the flag again and wakes it. */
        if (!atomic_exchange(&x->wanted, true) && !atomic_exchange(&b->any_wanted, true) &&
            b->on_want)
            b->on_want(b->on_want_arg);
        return BOARD_STORED;
    }
    *index = x->index;
    return BOARD_LOADED;
}

/* ---- periods ------------------------------------------------------------------------------ */

void boards_today(const char *tz, int64_t now_ms, char out[BOARDS_PERIOD_MAX])
{
    struct tz_local t;
    tz_local(tz && *tz ? tz : NULL, now_ms, &t);
    period_key(PERIOD_DAY, &t, out);
}

size_t boards_periods(const struct game_app *app, int64_t ms, char (*keys)[BOARDS_PERIOD_MAX],
                      size_t max)
{
    size_t n = 0;
    if (n < max)
        strcpy(keys[n++], "all");
    struct tz_local t;
    tz_local(app->settings.board_tz[0] ? app->settings.board_tz : NULL, ms, &t);
    static const enum period_kind kinds[] = { PERIOD_DAY, PERIOD_WEEK, PERIOD_MONTH };
    for (size_t i = 0; i < 3 && n < max; i++)
        period_key(kinds[i], &t, keys[n++]);
    for (size_t i = 0; i < app->n_seasons && n < max; i++) {
        const struct game_season *s = &app->seasons[i];
        if (s->active && !s->closed && s->starts_at <= ms && ms < s->ends_at)
            snprintf(keys[n++], BOARDS_PERIOD_MAX, "season:%s", s->id);
    }
    return n;
}

size_t boards_event_periods(const struct game_app *app, int64_t ms, int64_t now_ms,
                            char (*keys)[BOARDS_PERIOD_MAX], size_t max)
{
    size_t n = boards_periods(app, ms, keys, max);
    /* Back-dated events cannot make boards without end: past the window, "all" and the
     * seasons only (the day, week and month are keys 1 to 3). */
    if (ms < now_ms - BOARDS_BACKFILL_MS && n > 1) {
        size_t keep = 1;
        for (size_t p = 4; p < n; p++)
            memcpy(keys[keep++], keys[p], BOARDS_PERIOD_MAX);
        n = keep;
    }
    return n;
}

bool boards_period_valid(const char *period)
{
    if (strcmp(period, "all") == 0)
        return true;
    if (strncmp(period, "season:", 7) == 0) {
        size_t len = strlen(period + 7);
        return len > 0 && len + 8 <= BOARDS_PERIOD_MAX;
    }
    static const enum period_kind kinds[] = { PERIOD_DAY, PERIOD_WEEK, PERIOD_MONTH };
    for (size_t i = 0; i < 3; i++)
        if (period_key_valid(kinds[i], period))
            return true;
    return false;
}

void boards_cursor_write(struct buf *out, const struct rank_entry *e)
{
    buf_printf(out, "%" PRId64 ".%" PRId64 ".", e->score, e->at);
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < e->member_len; i++) {
        buf_putc(out, digits[(unsigned char)e->member[i] >> 4]);
        buf_putc(out, digits[(unsigned char)e->member[i] & 15]);
    }
}

/* A decimal int64 ending at '.': 0 and *out, *rest after the '.', or -1. */
static int int_field(const char *s, int64_t *out, const char **rest)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '.')
        return -1;
    for (const char *q = p; q < end; q++)
        if (*q < '0' || *q > '9')
            return -1;
    *out = v;
    *rest = end + 1;
    return 0;
}

int boards_cursor_parse(const char *s, int64_t *score, int64_t *at, char *member, size_t *len)
{
    if (int_field(s, score, &s) < 0 || int_field(s, at, &s) < 0)
        return -1;
    size_t n = strlen(s);
    if (n == 0 || n % 2 || n / 2 > BOARDS_MEMBER_MAX ||
        hex_decode(s, n / 2, (unsigned char *)member) < 0)
        return -1;
    *len = n / 2;
    member[*len] = '\0';
    return memchr(member, '\0', *len) ? -1 : 0;
}

void boards_stats(struct boards *b, struct boards_stats *out)
{
    pthread_rwlock_rdlock(&b->lock);
    out->boards = b->n;
    out->wanted = 0;
    for (size_t i = 0; i < b->cap; i++)
        for (const struct board *x = b->slots[i]; x; x = x->next)
            out->wanted += atomic_load_explicit(&x->wanted, memory_order_relaxed);
    pthread_rwlock_unlock(&b->lock);
    out->loaded = atomic_load_explicit(&b->loaded, memory_order_relaxed);
    out->entries = atomic_load_explicit(&b->entries, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&b->bytes, memory_order_relaxed);
    out->evictions = atomic_load_explicit(&b->evictions, memory_order_relaxed);
    out->loads = atomic_load_explicit(&b->loads, memory_order_relaxed);
    out->applied = atomic_load_explicit(&b->applied, memory_order_relaxed);
    out->apply_waits = atomic_load_explicit(&b->apply_waits, memory_order_relaxed);
    pthread_mutex_lock(&b->applier_mu);
    out->apply_pending = b->pending;
    out->sums = atomic_load_explicit(&b->pend_count, memory_order_relaxed);
    pthread_mutex_unlock(&b->applier_mu);
}
