/* The engine (see engine.h).
 *
 * Memory: a table of the users the engine has seen, by (app, user), so that an event of a
 * known user costs no store read. Users added during a batch are journaled; a batch that
 * does not commit removes them again, so memory never claims what the store does not hold.
 *
 * The game logs. An event's row is the log of what it did to its user: its XP and currency
 * entries are read from its effects (store_ledger_log), and its change to the user's state is
 * not written at all, since applying the event again to the state before it gives the same
 * state (game_apply is pure; see "replay" below). A change made otherwise (a spend, a grant,
 * a reset, new attributes) appends the user's whole state to the store's state log, and a
 * write to the ledger one row to its ledger log. Every `fold_rows` events and rows, or
 * `fold_ms`, they are folded: each changed user's state into its table, with the seq of the
 * last event it holds, and the new ledger rows and entries into the ledger's per-user index.
 * Until a fold, the state table and the index do not have all that memory has, so:
 *   - a user changed since the last fold stays in memory (the cache is emptied only right
 *     after a fold), and remembers where its ledger entries are (`logged`) and the last
 *     event its state holds (`through`);
 *   - when that no longer holds (start-up; a batch that failed after such users were
 *     forgotten) `need_fold` is set, and before any user is read from the store or any ledger
 *     is read the logs are read back: the state log and the ledger rows folded
 *     (store_game_fold), then every event since the last fold applied again to each user whose
 *     state does not hold it yet (replay), which is correct at any point of a batch. Otherwise
 *     the fold at a batch's end writes the states from memory (fold_states).
 * Replaying is exact only if the event meets the definitions, settings and attributes it met
 * the first time: a change of an app's definitions or settings folds first (engine_settle),
 * and new attributes log the user's state with the batch. */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "core/clock.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/uuid.h"
#include "engine/boards.h"
#include "engine/game.h"
#include "engine/nonces.h"
#include "tenant/registry.h"

/* ---- the pure step ------------------------------------------------------------------------ */

void engine_step(const struct engine_view *view, const struct event *ev,
                 struct engine_step_result *out)
{
    (void)ev; /* rules (issue D) read the event; until then every event of a user counts */
    out->status = STORE_EVENT_PROCESSED;
    out->error = NULL;
    out->create_user = false;
    buf_reset(&out->effects);
    if (!view->user_exists) {
        if (!view->auto_create_users) {
            out->status = STORE_EVENT_FAILED;
            out->error = "User not found (the app does not create users from events)";
            return;
        }
        out->create_user = true;
    }
}

/* ---- known users --------------------------------------------------------------------------- */

/* A ledger entry still in the log: the user's sequence number of it and the place of the row
 * that holds it (the entries of one write share a row, so several refs share an lseq). */
struct ledger_ref {
    int64_t seq, lseq;
};

struct user {
    uint64_t hash;
    struct user *next;
    struct game_user g;       /* attributes and game state, as the store has them once the
                               * open batch commits */
    bool journaled;           /* in the open batch's journal */
    bool unreadable;          /* the stored state did not parse: g is empty and must never be
                               * written over it; the user's events fail until it is mended */
    bool dirty;               /* g changed in the open batch: written before it commits */
    bool snap;                /* changed in the open batch otherwise than by events: its
                               * state goes into the batch's row of the state log */
    uint64_t changed;         /* the fold epoch it last changed in (see `epoch`): changed
                               * since the last fold when it is the current one (unfolded) */
    int64_t through;          /* the seq of the last event its state holds (0: none said) */
    struct ledger_ref *logged; /* its entries in the ledger log, oldest first */
    uint32_t n_logged, cap_logged;
    size_t key_len;
    char key[]; /* app id, '\0', user id, '\0' */
};

static const char *user_id_of(const struct user *u)
{
    return u->key + strlen(u->key) + 1;
}

struct users {
    struct user **slots;
    size_t cap, n; /* cap: a power of two */
};

static uint64_t user_hash(const char *app_id, size_t app_len, const char *user_id, size_t user_len)
{
    uint64_t h = hash_fnv1a(HASH_FNV_OFFSET, app_id, app_len);
    h = (h ^ 0xffu) * HASH_FNV_PRIME; /* between the two: ("ab", "c") is not ("a", "bc") */
    h = hash_fnv1a(h, user_id, user_len);
    return h ^ (h >> 29);
}

static struct user *users_find(struct users *t, const char *app_id, const char *user_id)
{
    if (!t->n)
        return NULL;
    size_t al = strlen(app_id), ul = strlen(user_id);
    uint64_t h = user_hash(app_id, al, user_id, ul);
    for (struct user *u = t->slots[h & (t->cap - 1)]; u; u = u->next)
        if (u->hash == h && u->key_len == al + ul + 2 && memcmp(u->key, app_id, al + 1) == 0 &&
            memcmp(u->key + al + 1, user_id, ul + 1) == 0)
            return u;
    return NULL;
}

static struct user *users_add(struct users *t, const char *app_id, const char *user_id)
{
    if (t->n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        struct user **slots = xcalloc(cap, sizeof(*slots));
        for (size_t i = 0; i < t->cap; i++)
            for (struct user *u = t->slots[i], *next; u; u = next) {
                next = u->next;
                u->next = slots[u->hash & (cap - 1)];
                slots[u->hash & (cap - 1)] = u;
            }
        free(t->slots);
        t->slots = slots;
        t->cap = cap;
    }
    size_t al = strlen(app_id), ul = strlen(user_id);
    struct user *u = xmalloc(sizeof(*u) + al + ul + 2);
    u->hash = user_hash(app_id, al, user_id, ul);
    memset(&u->g, 0, sizeof(u->g));
    u->journaled = u->dirty = u->unreadable = u->snap = false;
    u->changed = 0;
    u->through = 0;
    u->logged = NULL;
    u->n_logged = u->cap_logged = 0;
    u->key_len = al + ul + 2;
    memcpy(u->key, app_id, al + 1);
    memcpy(u->key + al + 1, user_id, ul + 1);
    u->next = t->slots[u->hash & (t->cap - 1)];
    t->slots[u->hash & (t->cap - 1)] = u;
    t->n++;
    return u;
}

static void users_remove(struct users *t, struct user *gone)
{
    for (struct user **p = &t->slots[gone->hash & (t->cap - 1)]; *p; p = &(*p)->next) {
        if (*p == gone) {
            *p = gone->next;
            t->n--;
            game_user_release(&gone->g);
            free(gone->logged);
            free(gone);
            return;
        }
    }
}

static void users_free(struct users *t)
{
    for (size_t i = 0; i < t->cap; i++)
        for (struct user *u = t->slots[i], *next; u; u = next) {
            next = u->next;
            game_user_release(&u->g);
            free(u->logged);
            free(u);
        }
    free(t->slots);
}

/* ---- the engine ---------------------------------------------------------------------------- */

#define BATCH_BOUNDS 14 /* batch size histogram: 1, 2, 4, ... 8192 events */

struct engine_metrics {
    metric_u64 received;          /* I/O threads: shared */
    metric_u64 rejected[REJECT__COUNT]; /* shared */
    metric_u64 processed, failed, duplicate, users_created; /* engine thread */
    metric_u64 batches[BATCH_BOUNDS + 1], batch_events_sum, batch_count;
    metric_u64 batches_failed;
    struct metrics_hist commit;   /* engine thread */
    struct metrics_hist latency;  /* engine thread */
    metric_u64 known_users;
    metric_u64 user_cache_resets;
    metric_u64 nonces, nonce_bytes;
    metric_u64 folds, folded_rows, fold_ns, log_rows;
    metric_u64 replayed, replay_differed;
};

struct nonce_claim {
    uint64_t h;
    int64_t expires;
    size_t app, nonce, len; /* where its app id and nonce are in `claimed` */
};

/* The game model of the apps the engine has seen, loaded from the store on first use. */
struct app_slot {
    struct game_app *app;
    struct app_slot *next;
};

#define APP_BUCKETS 256

struct engine {
    struct tenant_registry *tenants;
    struct users users;
    struct app_slot *apps[APP_BUCKETS];
    struct user **journal;        /* users loaded, added or changed in the open batch */
    size_t journal_n, journal_cap;
    uint64_t batch_events;        /* applied in the open batch */
    /* Counted when the batch commits: a batch that fails applied nothing. */
    uint64_t batch_processed, batch_failed, batch_duplicate, batch_users_created;
    struct nonce_set *nonces;
    struct nonce_claim *claims;   /* nonces claimed in the open batch */
    size_t claims_n, claims_cap;
    size_t claims_logged;           /* of them, recorded in the store (engine_flush) */
    struct buf claimed;             /* their app ids and nonces */
    struct store_nonce *nonce_rows; /* claims on their way to the store */
    size_t nonce_rows_cap;
    engine_publish_fn *publish;
    void *publish_arg;
    engine_outbox_fn *outbox;     /* webhook jobs of an event's effects, in its batch */
    void *outbox_arg;
    struct engine_step_result step;
    struct game_effects fx;       /* the current event's effects */
    struct store_ledger *ledger;  /* write_ledger's entries, then their ids' text */
    size_t ledger_cap;
    int64_t *lseqs;               /* a user's ledger rows at a fold */
    size_t lseqs_cap;
    size_t max_users;             /* user table limit */
    /* The game logs (see the top): rows in them as this connection sees them, and as of the
     * last commit; when the oldest unfolded row was committed (0: none). */
    int64_t log_rows, log_rows_committed, log_since_ms;
    int64_t fold_rows, fold_ms;   /* fold past this many rows or this age */
    bool need_fold;               /* `logged` may miss rows: fold before reading users */
    bool fold_failed;             /* a fold of the open batch failed: the batch must too (its
                                   * store writes may be half done; engine_flush fails it) */
    /* Folds counted, so that a fold marks every user folded at once and a batch that fails
     * undoes that (a user is unfolded while its `changed` is the current epoch). */
    uint64_t epoch, epoch_committed;
    struct buf dump;              /* a user's state as text, on its way to the store */
    struct buf states;            /* the batch's row of the state log */
    struct boards *boards;        /* leaderboards (read by I/O threads under their lock) */
    struct engine_metrics m;
};

struct engine *engine_new(struct tenant_registry *tenants)
{
    struct engine *e = xcalloc(1, sizeof(*e));
    e->tenants = tenants;
    e->max_users = ENGINE_USER_CACHE_DEFAULT;
    e->fold_rows = ENGINE_FOLD_ROWS_DEFAULT;
    e->fold_ms = ENGINE_FOLD_MS_DEFAULT;
    e->need_fold = true; /* whatever the last run left in the logs */
    e->epoch = e->epoch_committed = 1;
    buf_init(&e->dump);
    buf_init(&e->states);
    buf_init(&e->claimed);
    buf_init(&e->step.effects);
    uint64_t k[2] = { 0, 0 };
    if (RAND_bytes((unsigned char *)k, sizeof(k)) != 1)
        log_warn("no random key for the nonce set; using a fixed one");
    e->nonces = nonce_set_new(k[0], k[1]);
    e->boards = boards_new(BOARDS_RETENTION_DEFAULT_S * 1000);
    return e;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    boards_free(e->boards); /* first: its applier may still answer calls through the engine */
    users_free(&e->users);
    engine_apps_forget(e, NULL);
    game_effects_release(&e->fx);
    free(e->journal);
    nonce_set_free(e->nonces);
    free(e->claims);
    free(e->nonce_rows);
    buf_release(&e->claimed);
    free(e->ledger);
    free(e->lseqs);
    buf_release(&e->step.effects);
    buf_release(&e->dump);
    buf_release(&e->states);
    free(e);
}

void engine_set_user_cache_limit(struct engine *e, size_t max_users)
{
    e->max_users = max_users ? max_users : 1;
}

void engine_set_game_log_fold(struct engine *e, int64_t rows, int64_t ms)
{
    e->fold_rows = rows > 0 ? rows : 1;
    e->fold_ms = ms > 0 ? ms : 1;
}

static int by_key(const void *a, const void *b)
{
    const struct user *x = *(const struct user *const *)a;
    const struct user *y = *(const struct user *const *)b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(user_id_of(x), user_id_of(y));
}

/* A user's ledger rows since the last fold into the index: their places, each once. */
static int index_user(struct engine *e, struct store *st, const struct user *u,
                      int64_t *through, int64_t *rows, char *err, size_t errlen)
{
    size_t n = 0;
    if (e->lseqs_cap < u->n_logged) {
        e->lseqs_cap = u->n_logged;
        e->lseqs = xrealloc(e->lseqs, e->lseqs_cap * sizeof(*e->lseqs));
    }
    for (uint32_t i = 0; i < u->n_logged; i++) {
        int64_t lseq = u->logged[i].lseq;
        if (!n || e->lseqs[n - 1] != lseq)
            e->lseqs[n++] = lseq;
        if (lseq > *through) /* a row of the ledger log (an event's place is negative) */
            *through = lseq;
    }
    *rows += (int64_t)n;
    return store_ledger_index_user(st, u->key, user_id_of(u), u->logged[0].seq, e->lseqs, n, err,
                                   errlen);
}

static bool unfolded(const struct engine *e, const struct user *u)
{
    return u->changed >= e->epoch;
}

/* The fold from memory: every user with a state or ledger rows in the logs is in memory with
 * that state and the places of those rows (see the top), so its state row and its index row
 * are written from there, in key order, and the state log emptied, instead of reading the
 * logs back (each user's newest state; the new ledger rows sorted by user). */
static int fold_states(struct engine *e, struct store *st, int64_t *rows, char *err,
                       size_t errlen)
{
    size_t n = 0, cap = 0;
    struct user **v = NULL;
    for (size_t i = 0; i < e->users.cap; i++)
        for (struct user *u = e->users.slots[i]; u; u = u->next)
            if (unfolded(e, u) || u->n_logged) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 1024;
                    v = xrealloc(v, cap * sizeof(*v));
                }
                v[n++] = u;
            }
    if (n > 1)
        qsort(v, n, sizeof(*v), by_key);
    int64_t now_ms = clock_now_ms(), states = 0, indexed = 0, through = 0, next;
    /* Memory holds every event stored so far: each state written holds them all. */
    int rc = store_event_next_seq(st, &next, err, errlen);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!unfolded(e, v[i]))
            continue;
        game_user_dump_buf(&v[i]->g, &e->dump);
        rc = store_user_state_put(st, v[i]->key, user_id_of(v[i]), e->dump.data, next - 1,
                                  now_ms, err, errlen);
        states++;
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (v[i]->n_logged)
            rc = index_user(e, st, v[i], &through, &indexed, err, errlen);
    free(v);
    if (rc < 0 || store_state_log_clear(st, err, errlen) < 0 ||
        store_ledger_indexed_through(st, through, err, errlen) < 0)
        return -1;
    *rows = states + indexed; /* users whose state was folded, ledger rows indexed */
    return 0;
}

static void forget_logged(struct engine *e)
{
    for (size_t i = 0; i < e->users.cap; i++)
        for (struct user *u = e->users.slots[i]; u; u = u->next)
            if (u->logged) {
                free(u->logged); /* a fold is rare: no user keeps room it no longer needs */
                u->logged = NULL;
                u->n_logged = u->cap_logged = 0;
            }
}

static size_t ledger_entries(const struct game_effects *fx);
static void journal_add(struct engine *e, struct user *u);
static int user_get(struct engine *e, struct store *st, const char *app_id, const char *user_id,
                    struct user **out, char *err, size_t errlen);

/* store_ledger_logged's callback: the first entry it reads is the newest. */
static bool newest_seq(const struct store_ledger *l, void *arg)
{
    *(int64_t *)arg = l->seq;
    return false;
}

struct replay {
    struct engine *e;
    struct store *st;
    char *err;
    size_t errlen;
    struct buf fx;           /* an event's effects applied again, as the row holds them */
    int64_t applied, differ;
};

/* One event after the last fold, as stored: applied again to its user's state unless the
 * state holds it already (memory is ahead of the store, or the state log had it). */
static int replay_event(const struct store_event *ev, int64_t seq, void *arg)
{
    struct replay *r = arg;
    struct engine *e = r->e;
    struct user *u;
    int rc = user_get(e, r->st, ev->app_id, ev->user_id, &u, r->err, r->errlen);
    if (rc == STORE_NOT_FOUND)
        return 0; /* a user row commits with the user's first event: not one this wrote */
    if (rc < 0)
        return -1;
    if (u->unreadable || seq <= u->through)
        return 0;
    struct game_app *app = engine_app(e, r->st, ev->app_id, r->err, r->errlen);
    if (!app)
        return -1;
    struct game_event gev = { ev->event_type, ev->metadata, ev->occurred_at, ev->processed_at };
    game_apply(app, &u->g, &gev, &e->fx);
    /* Compared in the form the row holds them: compact, or JSON in rows of earlier versions. */
    buf_reset(&r->fx);
    bool same;
    if (!e->fx.n) {
        same = !ev->fx && !ev->effects;
    } else if (ev->fx) {
        game_effects_pack(&e->fx, &r->fx);
        same = r->fx.len == ev->fx_len && memcmp(r->fx.data, ev->fx, ev->fx_len) == 0;
    } else {
        game_effects_json(&e->fx, &r->fx);
        same = ev->effects && strcmp(r->fx.data, ev->effects) == 0;
    }
    /* The row's entries stand, whatever this gives: the ledger reads them from it. When the
     * effects applied again are the row's, they count them; else the ledger's own reading of
     * the row gives its last entry's seq (newest first). */
    if (same && ev->ledger_seq && ledger_entries(&e->fx))
        u->g.ledger_seq = ev->ledger_seq + (int64_t)ledger_entries(&e->fx) - 1;
    else if (!same && ev->ledger_seq) {
        rc = store_ledger_logged(r->st, STORE_LEDGER_EVENT(seq), newest_seq, &u->g.ledger_seq,
                                 r->err, r->errlen);
        if (rc < 0 && rc != STORE_NOT_FOUND)
            return -1;
    }
    if (!same) {
        if (r->differ++ < 3)
            log_error("an event applied again to its user's state did not have the effects it "
                      "had; the state now holds what it has this time",
                      LOG_S("app", ev->app_id), LOG_S("user", ev->user_id),
                      LOG_S("key", ev->idempotency_key ? ev->idempotency_key : ""),
                      LOG_I("seq", seq));
    }
    u->through = seq;
    u->changed = e->epoch; /* written by the fold that follows */
    journal_add(e, u);
    r->applied++;
    return 0;
}

/* The fold that reads the logs back (see the top): the store folds the state log and indexes
 * the ledger, then every event since the last fold is applied again to each user whose state
 * does not hold it, and the states are written from memory. */
static int read_back(struct engine *e, struct store *st, int64_t *rows, char *err,
                     size_t errlen)
{
    int64_t mark, folded = 0, written = 0;
    if (store_game_events_mark(st, &mark, err, errlen) < 0 ||
        store_game_fold(st, &folded, err, errlen) < 0)
        return -1;
    forget_logged(e); /* every ledger entry is indexed now */
    e->need_fold = false; /* users are read from the store as the fold left it */
    struct replay r = { .e = e, .st = st, .err = err, .errlen = errlen };
    buf_init(&r.fx);
    int rc = store_game_replay(st, mark, replay_event, &r, err, errlen);
    buf_release(&r.fx);
    if (rc < 0 || fold_states(e, st, &written, err, errlen) < 0) {
        e->need_fold = true;
        return -1;
    }
    metric_add(&e->m.replayed, (uint64_t)r.applied);
    metric_add(&e->m.replay_differed, (uint64_t)r.differ);
    if (r.differ)
        log_error("events applied again gave other effects than they had",
                  LOG_I("events", r.differ));
    if (r.applied)
        log_info("events applied again to users' states", LOG_I("events", r.applied),
                 LOG_I("after_seq", mark));
    *rows = folded + r.applied;
    return 0;
}

/* Folds the game logs into their tables in the open batch. Everything logged is then in the
 * tables, as this connection sees them, so no user needs `logged` any more. When memory
 * cannot vouch for the logs (`need_fold`), they are read back; otherwise states are written
 * from memory. */
static int game_fold(struct engine *e, struct store *st, char *err, size_t errlen)
{
    int64_t rows = 0;
    uint64_t t0 = clock_mono_ns();
    /* A fold counts every event stored so far as held by the stored states: the open
     * batch's users are written too (engine_flush still logs those changed otherwise than by
     * events, which a fold after it does not mind). */
    for (size_t i = 0; i < e->journal_n; i++)
        if (e->journal[i]->dirty)
            e->journal[i]->changed = e->epoch;
    if (e->need_fold ? read_back(e, st, &rows, err, errlen) < 0
                     : fold_states(e, st, &rows, err, errlen) < 0) {
        e->fold_failed = true;
        return -1;
    }
    uint64_t ns = clock_mono_ns() - t0;
    metric_add(&e->m.fold_ns, ns);
    if (rows)
        log_info("game logs folded", LOG_U("rows", (uint64_t)rows), LOG_U("us", ns / 1000));
    e->epoch++; /* every user changed before is folded (back if the batch fails) */
    forget_logged(e);
    e->log_rows = 0;
    e->need_fold = false;
    metric_add(&e->m.folds, 1);
    metric_add(&e->m.folded_rows, (uint64_t)rows);
    return 0;
}

static void ledger_ref_add(struct user *u, int64_t seq, int64_t lseq)
{
    if (u->n_logged == u->cap_logged) {
        u->cap_logged = u->cap_logged ? u->cap_logged * 2 : 4;
        u->logged = xrealloc(u->logged, u->cap_logged * sizeof(*u->logged));
    }
    u->logged[u->n_logged++] = (struct ledger_ref){ seq, lseq };
}

void engine_set_board_retention(struct engine *e, int64_t seconds)
{
    boards_free(e->boards);
    e->boards = boards_new(seconds * 1000);
}

void engine_set_board_read_memory(struct engine *e, size_t bytes)
{
    boards_set_cold_budget(e->boards, bytes);
}

struct boards *engine_boards(struct engine *e)
{
    return e->boards;
}

struct load_ctx {
    struct engine *e;
    int64_t now_s;
    size_t n;
};

static void load_nonce(const char *app_id, const char *nonce, size_t len, int64_t expires,
                       void *arg)
{
    struct load_ctx *c = arg;
    uint64_t h = nonce_set_hash(c->e->nonces, app_id, nonce, len);
    c->n += nonce_set_claim(c->e->nonces, h, expires, c->now_s);
}

int engine_load(struct engine *e, struct store *st, int64_t now_ms, char *err, size_t errlen)
{
    struct load_ctx c = { e, now_ms / 1000, 0 };
    if (store_nonces_each_live(st, c.now_s, load_nonce, &c, err, errlen) < 0)
        return -1;
    uint64_t t0 = clock_mono_ns();
    if (boards_load(e->boards, st, now_ms, err, errlen) < 0)
        return -1;
    struct boards_stats bs;
    boards_stats(e->boards, &bs);
    if (bs.boards)
        log_info("leaderboards loaded", LOG_U("boards", bs.boards), LOG_U("in_memory", bs.loaded),
                 LOG_U("entries", bs.entries), LOG_U("bytes", bs.bytes),
                 LOG_U("ms", (clock_mono_ns() - t0) / 1000000));
    atomic_store_explicit(&e->m.nonces, nonce_set_size(e->nonces), memory_order_relaxed);
    atomic_store_explicit(&e->m.nonce_bytes, nonce_set_bytes(e->nonces), memory_order_relaxed);
    if (c.n)
        log_info("signature nonces loaded", LOG_U("count", c.n));
    return 0;
}

int engine_claim_nonce(struct engine *e, const char *app_id, const char *nonce, size_t nonce_len,
                       int64_t expires_s, int64_t now_s)
{
    uint64_t h = nonce_set_hash(e->nonces, app_id, nonce, nonce_len);
    if (!nonce_set_claim(e->nonces, h, expires_s, now_s))
        return STORE_CONFLICT;
    if (e->claims_n == e->claims_cap) {
        e->claims_cap = e->claims_cap ? e->claims_cap * 2 : 256;
        e->claims = xrealloc(e->claims, e->claims_cap * sizeof(*e->claims));
    }
    struct nonce_claim *c = &e->claims[e->claims_n++];
    *c = (struct nonce_claim){ h, expires_s, e->claimed.len, 0, nonce_len };
    buf_puts(&e->claimed, app_id);
    buf_putc(&e->claimed, '\0');
    c->nonce = e->claimed.len;
    buf_append(&e->claimed, nonce, nonce_len);
    return 0;
}

/* The batch's claims not yet in the store, as one row (engine_flush). */
static int record_claims(struct engine *e, struct store *st, char *err, size_t errlen)
{
    size_t n = e->claims_n - e->claims_logged;
    if (n == 0)
        return 0;
    if (n > e->nonce_rows_cap) {
        e->nonce_rows_cap = n;
        free(e->nonce_rows);
        e->nonce_rows = xmalloc(n * sizeof(*e->nonce_rows));
    }
    for (size_t i = 0; i < n; i++) {
        const struct nonce_claim *c = &e->claims[e->claims_logged + i];
        e->nonce_rows[i] = (struct store_nonce){ e->claimed.data + c->app,
                                                 e->claimed.data + c->nonce, c->len,
                                                 c->expires };
    }
    if (store_nonces_record(st, e->nonce_rows, n, err, errlen) < 0)
        return -1;
    e->claims_logged = e->claims_n;
    return 0;
}

void engine_outcome_release(struct engine_outcome *o)
{
    if (o->duplicate)
        store_event_release(&o->stored);
    else
        free(o->stored.fx);
    memset(o, 0, sizeof(*o));
}

static void journal_add(struct engine *e, struct user *u)
{
    if (u->journaled)
        return;
    if (e->journal_n == e->journal_cap) {
        e->journal_cap = e->journal_cap ? e->journal_cap * 2 : 256;
        e->journal = xrealloc(e->journal, e->journal_cap * sizeof(*e->journal));
    }
    e->journal[e->journal_n++] = u;
    u->journaled = true;
}

/* The user's state changed in the open batch by an event: the event's row holds the
 * change (see the top), and memory forgets it if the batch does not commit. */
static void mark_dirty(struct engine *e, struct user *u)
{
    u->dirty = true;
    journal_add(e, u);
}

/* The same by anything else (a spend, a grant, a reset, new attributes): the state goes into
 * the batch's row of the state log, so that no event before it is ever applied again. */
static void mark_changed(struct engine *e, struct user *u)
{
    u->snap = true;
    mark_dirty(e, u);
}

/* ---- apps ---------------------------------------------------------------------------------- */

static size_t app_bucket(const char *app_id)
{
    return (size_t)(user_hash(app_id, strlen(app_id), "", 0) % APP_BUCKETS);
}

void engine_apps_forget(struct engine *e, const char *app_id)
{
    for (size_t b = 0; b < APP_BUCKETS; b++) {
        if (app_id && b != app_bucket(app_id))
            continue;
        for (struct app_slot **p = &e->apps[b]; *p;) {
            struct app_slot *x = *p;
            if (app_id && strcmp(x->app->app_id, app_id) != 0) {
                p = &x->next;
                continue;
            }
            *p = x->next;
            game_app_free(x->app);
            free(x);
        }
    }
}

struct defs_load {
    struct game_app *app;
    enum store_def_kind kind;
    size_t bad;
};

static void def_loaded(const struct store_def *d, void *arg)
{
    struct defs_load *l = arg;
    json_t *body = json_loads(d->body, 0, NULL);
    json_t *details = NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        l->bad++;
        return;
    }
    /* The document the API shows; compiled without its nulls (they mean "the default"). */
    json_t *doc = engine_def_document(l->app->app_id, d->id, body, d->created_at,
                                      d->updated_at);
    json_decref(body);
    body = json_without_nulls(doc);
    if (l->kind == STORE_DEF_RULE) {
        struct rule *r = rule_compile(body, &details);
        if (r)
            game_app_put_rule(l->app, d->id, r, json_incref(doc), d->created_at);
    } else if (l->kind == STORE_DEF_ACHIEVEMENT) {
        struct achievement *a = achievement_compile(body, &details);
        if (a)
            game_app_put_achievement(l->app, d->id, a, json_incref(doc));
    } else {
        struct engine_season se;
        if (engine_season_parse(doc, &se) == 0)
            game_app_put_season(l->app, d->id, se.starts_at, se.ends_at, se.active,
                                json_incref(doc));
        else
            l->bad++;
    }
    if (details) {
        l->bad++;
        json_decref(details);
    }
    json_decref(body);
    json_decref(doc);
}

static json_t *iso_json(int64_t ms)
{
    char iso[CLOCK_ISO_LEN];
    clock_iso(ms, iso);
    return json_string(iso);
}

json_t *engine_def_document(const char *app_id, const char *id, const json_t *body,
                            int64_t created_at, int64_t updated_at)
{
    json_t *doc = json_pack("{s:s, s:s}", "id", id, "appId", app_id);
    json_object_update(doc, (json_t *)body);
    json_object_set_new(doc, "createdAt", iso_json(created_at));
    json_object_set_new(doc, "updatedAt", iso_json(updated_at));
    return doc;
}

int engine_season_parse(const json_t *doc, struct engine_season *out)
{
    const json_t *a = json_object_get(doc, "startsAt"), *b = json_object_get(doc, "endsAt");
    if (!json_is_string(a) || !json_is_string(b) ||
        clock_parse_iso(json_string_value(a), json_string_length(a), &out->starts_at) < 0 ||
        clock_parse_iso(json_string_value(b), json_string_length(b), &out->ends_at) < 0)
        return -1;
    out->active = json_is_true(json_object_get(doc, "isActive"));
    return 0;
}

struct game_app *engine_app(struct engine *e, struct store *st, const char *app_id, char *err,
                            size_t errlen)
{
    size_t b = app_bucket(app_id);
    for (struct app_slot *x = e->apps[b]; x; x = x->next)
        if (strcmp(x->app->app_id, app_id) == 0)
            return x->app;
    struct store_app sa;
    int rc = store_app_get(st, app_id, &sa, err, errlen);
    if (rc < 0) {
        if (rc == STORE_NOT_FOUND)
            snprintf(err, errlen, "app %s is not in the store", app_id);
        return NULL;
    }
    struct game_app *a = game_app_new(app_id, sa.default_timezone);
    json_t *settings = json_loads(sa.settings ? sa.settings : "{}", 0, NULL);
    char why[256];
    if (game_settings_parse(settings, &a->settings, why, sizeof(why)) < 0) {
        /* Settings are checked when saved; one saved by an older version is used with the
         * defaults rather than stopping every event of the app. */
        log_warn("app settings ignored", LOG_S("app", app_id), LOG_S("error", why));
        json_t *none = json_object();
        game_settings_parse(none, &a->settings, why, sizeof(why));
        json_decref(none);
    }
    json_decref(settings);
    game_app_bind_settings(a);
    store_app_release(&sa);
    static const enum store_def_kind kinds[] = { STORE_DEF_SEASON, STORE_DEF_RULE,
                                                 STORE_DEF_ACHIEVEMENT };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        struct defs_load l = { a, kinds[i], 0 };
        if (store_defs_each(st, app_id, kinds[i], def_loaded, &l, err, errlen) < 0) {
            game_app_free(a);
            return NULL;
        }
        if (l.bad)
            log_warn("stored definitions that do not compile were skipped",
                     LOG_S("app", app_id), LOG_U("count", l.bad));
    }
    /* A season the scheduler closed takes no more events (its results are final). */
    for (size_t i = 0; i < a->n_seasons; i++) {
        char run[256];
        snprintf(run, sizeof(run), ENGINE_SEASON_END_RUN, app_id, a->seasons[i].id);
        rc = store_schedule_ran(st, run, NULL, NULL, err, errlen);
        if (rc < 0 && rc != STORE_NOT_FOUND) {
            game_app_free(a);
            return NULL;
        }
        a->seasons[i].closed = rc == 0;
    }
    struct app_slot *x = xmalloc(sizeof(*x));
    x->app = a;
    x->next = e->apps[b];
    e->apps[b] = x;
    return a;
}

/* ---- users --------------------------------------------------------------------------------- */

/* The user from memory, or else loaded from the store (and remembered): 0, STORE_NOT_FOUND
 * when the user does not exist, or -1. */
static int user_get(struct engine *e, struct store *st, const char *app_id, const char *user_id,
                    struct user **out, char *err, size_t errlen)
{
    struct user *u = users_find(&e->users, app_id, user_id);
    if (u) {
        *out = u;
        return 0;
    }
    if (e->need_fold) {
        if (game_fold(e, st, err, errlen) < 0)
            return -1;
        /* Reading the logs back may have loaded this user to apply its events again. */
        if ((u = users_find(&e->users, app_id, user_id))) {
            *out = u;
            return 0;
        }
    }
    char *attrs = NULL, *state = NULL;
    int64_t through = 0;
    int rc = store_user_load(st, app_id, user_id, &attrs, &state, &through, err, errlen);
    if (rc < 0)
        return rc == STORE_NOT_FOUND ? STORE_NOT_FOUND : -1;
    u = users_add(&e->users, app_id, user_id);
    u->through = through;
    if (game_user_load(&u->g, attrs, state) < 0) {
        u->unreadable = true;
        log_error("a user's stored game state does not parse; the user's events fail until "
                  "it is mended", LOG_S("app", app_id), LOG_S("user", user_id));
    }
    free(attrs);
    free(state);
    /* Journaled although unchanged: a batch that fails may have loaded what it wrote. */
    journal_add(e, u);
    *out = u;
    return 0;
}

int engine_user(struct engine *e, struct store *st, const char *app_id, const char *user_id,
                struct game_user **out, char *err, size_t errlen)
{
    struct user *u;
    int rc = user_get(e, st, app_id, user_id, &u, err, errlen);
    if (rc == 0 && u->unreadable) {
        snprintf(err, errlen, "the stored game state of %s in %s does not parse", user_id,
                 app_id);
        return ENGINE_STATE_UNREADABLE;
    }
    if (rc == 0)
        *out = &u->g;
    return rc;
}

int engine_before_attributes(struct engine *e, struct store *st, char *err, size_t errlen)
{
    return e->need_fold ? game_fold(e, st, err, errlen) : 0;
}

void engine_user_attributes(struct engine *e, const char *app_id, const char *user_id,
                            const char *attributes)
{
    struct user *u = users_find(&e->users, app_id, user_id);
    if (!u)
        return;
    game_user_set_attributes(&u->g, json_loads(attributes ? attributes : "{}", 0, NULL));
    /* Events before are never applied again with these attributes. */
    mark_changed(e, u);
}

int engine_flush(struct engine *e, struct store *st, int64_t now_ms, char *err, size_t errlen)
{
    if (e->fold_failed) {
        snprintf(err, errlen, "a fold of the game logs failed in this batch");
        return -1;
    }
    if (record_claims(e, st, err, errlen) < 0 ||
        boards_flush(e->boards, st, now_ms, err, errlen) < 0)
        return -1;
    /* One row of the state log for the batch, with the state of every user it changed
     * otherwise than by events; it holds every event stored so far. */
    buf_reset(&e->states);
    for (size_t i = 0; i < e->journal_n; i++) {
        struct user *u = e->journal[i];
        if (!u->dirty || !u->snap)
            continue;
        game_user_dump_buf(&u->g, &e->dump);
        store_states_add(&e->states, u->key, user_id_of(u), e->dump.data, e->dump.len, now_ms);
    }
    int64_t next;
    if (e->states.len && (store_event_next_seq(st, &next, err, errlen) < 0 ||
                          store_user_states_log(st, &e->states, next - 1, err, errlen) < 0))
        return -1;
    for (size_t i = 0; i < e->journal_n; i++) {
        struct user *u = e->journal[i];
        if (!u->dirty)
            continue;
        u->dirty = false;
        u->changed = e->epoch;
        if (u->snap)
            e->log_rows++;
        u->snap = false;
    }
    /* A full user table is emptied after the commit (engine_batch_end): fold first, so
     * that no user it forgets has rows in the logs. */
    if (e->need_fold ||
        (e->log_rows && (e->users.n > e->max_users || e->log_rows >= e->fold_rows ||
                         (e->log_since_ms && now_ms - e->log_since_ms >= e->fold_ms))))
        return game_fold(e, st, err, errlen);
    return 0;
}

int engine_settle(struct engine *e, struct store *st, char *err, size_t errlen)
{
    bool any = e->need_fold || e->log_rows > 0;
    for (size_t i = 0; !any && i < e->journal_n; i++)
        any = e->journal[i]->dirty;
    return any ? game_fold(e, st, err, errlen) : 0;
}

/* The XP and currency effects among fx: how many ledger entries it holds. */
static size_t ledger_entries(const struct game_effects *fx)
{
    size_t n = 0;
    for (size_t i = 0; i < fx->n; i++)
        n += fx->v[i].type == FX_XP || fx->v[i].type == FX_CURRENCY;
    return n;
}

/* Writes the ledger entries of the XP and currency effects of a grant or a reset (`reason`
 * given: else "rule" or "achievement" by the effect's source), as one row of the log. An
 * event's are not written again: its row holds them (event_ledger). */
static int write_ledger(struct engine *e, struct store *st, const char *app_id, struct user *u,
                        const struct game_effects *fx, const char *source, const char *reason,
                        int64_t now_ms, char *err, size_t errlen)
{
    size_t n = ledger_entries(fx);
    if (n == 0)
        return 0;
    if (n > e->ledger_cap) {
        e->ledger_cap = n > 16 ? n : 16;
        free(e->ledger);
        e->ledger = xmalloc(e->ledger_cap * (sizeof(*e->ledger) + UUID_LEN + 1));
    }
    char *ids = (char *)(e->ledger + e->ledger_cap);
    int64_t seq = u->g.ledger_seq;
    size_t k = 0;
    for (size_t i = 0; i < fx->n; i++) {
        const struct game_effect *x = &fx->v[i];
        if (x->type != FX_XP && x->type != FX_CURRENCY)
            continue;
        /* One random id a write; its other entries' ids follow it (the store writes them
         * once, store_ledger_log). */
        char *id = ids + k * (UUID_LEN + 1);
        if (k) {
            memcpy(id, id - (UUID_LEN + 1), UUID_LEN + 1);
            uuid_next(id);
        } else if (uuid_v7(now_ms, id) < 0) {
            snprintf(err, errlen, "no random bytes for a ledger id");
            return -1;
        }
        e->ledger[k++] = (struct store_ledger){
            .seq = ++seq,
            .id = id,
            .kind = x->type == FX_XP ? "xp" : "currency",
            .name = (char *)x->name,
            .amount = x->amount,
            .balance_after = x->total,
            .reason = (char *)(reason ? reason : x->rule ? "rule" : "achievement"),
            .source = (char *)source,
            .ref = x->rule ? x->rule->id : x->ach ? x->ach->ach->code : NULL,
            .created_at = now_ms,
        };
    }
    int64_t lseq;
    if (store_ledger_log(st, app_id, user_id_of(u), e->ledger, n, &lseq, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        ledger_ref_add(u, e->ledger[i].seq, lseq);
    u->g.ledger_seq = seq;
    e->log_rows++;
    return 0;
}

/* The n ledger entries of the event whose row (at event_seq) was just written with them:
 * the ledger reads them from there (store_ledger_log), so only their places are noted (the
 * event counts as a row of the logs: apply_one). */
static void event_ledger(struct user *u, size_t n, int64_t event_seq)
{
    for (size_t i = 0; i < n; i++)
        ledger_ref_add(u, ++u->g.ledger_seq, STORE_LEDGER_EVENT(event_seq));
}

int engine_ledger_get(struct engine *e, struct store *st, const char *app_id,
                      const char *user_id, int64_t seq, struct store_ledger *out, char *err,
                      size_t errlen)
{
    if (e->need_fold && game_fold(e, st, err, errlen) < 0)
        return -1;
    struct user *u = users_find(&e->users, app_id, user_id);
    for (uint32_t i = 0; u && i < u->n_logged; i++)
        if (u->logged[i].seq == seq)
            return store_ledger_logged_get(st, u->logged[i].lseq, seq, out, err, errlen);
    return store_ledger_get(st, app_id, user_id, seq, out, err, errlen);
}

int engine_ledger_page(struct engine *e, struct store *st, const char *app_id,
                       const char *user_id, int64_t before_seq, int limit, const char *kind,
                       void (*fn)(const struct store_ledger *, void *), void *arg, char *err,
                       size_t errlen)
{
    if (e->need_fold && game_fold(e, st, err, errlen) < 0)
        return -1;
    /* The user's entries still in the log are its newest: they come first, newest first, a
     * logged row at a time (reading a row moves `below` past all of its entries). */
    struct user *u = users_find(&e->users, app_id, user_id);
    int64_t below = before_seq;
    for (uint32_t i = u ? u->n_logged : 0; i-- > 0 && limit > 0;) {
        const struct ledger_ref *r = &u->logged[i];
        if (r->seq >= below)
            continue; /* read already, with the rest of its row, or above the page */
        if (store_ledger_page_logged(st, r->lseq, &below, &limit, kind, fn, arg, err,
                                     errlen) < 0)
            return -1;
    }
    if (limit <= 0)
        return 0;
    return store_ledger_page(st, app_id, user_id, below, limit, kind, fn, arg, err, errlen);
}

int engine_spend(struct engine *e, struct store *st, const char *app_id,
                 const struct engine_spend_req *req, int64_t now_ms, struct store_ledger *out,
                 char **user_id, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    *user_id = NULL;
    if (req->key) {
        char *uid = NULL;
        int64_t seq;
        int rc = store_spend_key_get(st, app_id, req->key, &uid, &seq, err, errlen);
        if (rc == 0) {
            rc = engine_ledger_get(e, st, app_id, uid, seq, out, err, errlen);
            if (rc == STORE_NOT_FOUND) {
                /* Recorded, but its entry cannot be read (damage, logged where it was
                 * found): this spend is refused, nothing else is. */
                snprintf(err, errlen, "the ledger entry %lld of %s, spent with key %s, cannot "
                         "be read", (long long)seq, uid, req->key);
                free(uid);
                return ENGINE_STATE_UNREADABLE;
            }
            if (rc < 0) {
                free(uid);
                return -1; /* the store failed */
            }
            *user_id = uid;
            return ENGINE_SPEND_REPLAYED;
        }
        if (rc != STORE_NOT_FOUND)
            return -1;
    }
    struct user *u;
    int rc = user_get(e, st, app_id, req->user_id, &u, err, errlen);
    if (rc < 0)
        return rc;
    if (u->unreadable) {
        snprintf(err, errlen, "the stored game state of %s in %s does not parse", req->user_id,
                 app_id);
        return ENGINE_STATE_UNREADABLE;
    }
    int64_t balance;
    if (game_user_add_currency(&u->g, req->currency, -req->amount, &balance) < 0)
        return ENGINE_SPEND_INSUFFICIENT;
    mark_changed(e, u);
    char id[UUID_LEN + 1];
    if (uuid_v7(now_ms, id) < 0) {
        snprintf(err, errlen, "no random bytes for a ledger id");
        return -1;
    }
    struct store_ledger l = {
        .seq = ++u->g.ledger_seq,
        .id = id,
        .kind = "currency",
        .name = (char *)req->currency,
        .amount = -req->amount,
        .balance_after = balance,
        .reason = (char *)req->reason,
        .source = (char *)req->key,
        .metadata = (char *)req->metadata,
        .created_at = now_ms,
    };
    int64_t lseq;
    if (store_ledger_log(st, app_id, req->user_id, &l, 1, &lseq, err, errlen) < 0)
        return -1;
    ledger_ref_add(u, l.seq, lseq);
    e->log_rows++;
    if (req->key && store_spend_key_put(st, app_id, req->key, req->user_id, l.seq, err, errlen) < 0)
        return -1;
    if (e->outbox) {
        /* Its webhooks commit with it, as an event's do. */
        struct buf fx = BUF_INIT;
        struct store_event ev;
        engine_spend_event(app_id, req->user_id, &l, &fx, &ev);
        int queued = e->outbox(e->outbox_arg, st, app_id, &ev, now_ms, err, errlen);
        buf_release(&fx);
        if (queued < 0)
            return -1;
    }
    *out = l;
    out->id = xstrdup(id);
    out->name = xstrdup(req->currency);
    out->reason = xstrdup(req->reason);
    out->source = req->key ? xstrdup(req->key) : NULL;
    out->metadata = req->metadata ? xstrdup(req->metadata) : NULL;
    *user_id = xstrdup(req->user_id);
    return 0;
}

void engine_spend_event(const char *app_id, const char *user_id, const struct store_ledger *l,
                        struct buf *effects, struct store_event *out)
{
    buf_init(effects);
    buf_puts(effects, "[{\"type\":\"currency.changed\",\"currency\":");
    buf_append_json_string(effects, l->name, strlen(l->name));
    buf_printf(effects, ",\"amount\":%lld,\"balance\":%lld,\"reason\":", (long long)l->amount,
               (long long)l->balance_after);
    buf_append_json_string(effects, l->reason, strlen(l->reason));
    buf_puts(effects, ",\"transactionId\":");
    buf_append_json_string(effects, l->id, strlen(l->id));
    buf_puts(effects, "}]");
    *out = (struct store_event){
        .app_id = (char *)app_id,
        .idempotency_key = l->id,
        .user_id = (char *)user_id,
        .event_type = "currency.spend",
        .metadata = l->metadata,
        .occurred_at = l->created_at,
        .received_at = l->created_at,
        .processed_at = l->created_at,
        .status = STORE_EVENT_PROCESSED,
        .effects = effects->data,
    };
}

/* The app and a readable user for a change outside an event: 0, or engine_grant's codes. */
static int system_change_target(struct engine *e, struct store *st, const char *app_id,
                                const char *user_id, const struct game_app **app,
                                struct user **u, char *err, size_t errlen)
{
    *app = engine_app(e, st, app_id, err, errlen);
    if (!*app)
        return -1;
    int rc = user_get(e, st, app_id, user_id, u, err, errlen);
    if (rc < 0)
        return rc;
    if ((*u)->unreadable) {
        snprintf(err, errlen, "the stored game state of %s in %s does not parse", user_id,
                 app_id);
        return ENGINE_STATE_UNREADABLE;
    }
    return 0;
}

int engine_reset_xp(struct engine *e, struct store *st, const char *app_id, const char *user_id,
                    const char *reason, const char *source, int64_t now_ms, size_t *tracks,
                    char *err, size_t errlen)
{
    const struct game_app *app;
    struct user *u;
    if (tracks)
        *tracks = 0;
    int rc = system_change_target(e, st, app_id, user_id, &app, &u, err, errlen);
    if (rc < 0)
        return rc;
    struct game_effects *fx = &e->fx;
    fx->n = 0;
    game_reset_xp(app, &u->g, fx);
    if (!fx->n)
        return 0;
    mark_changed(e, u);
    for (size_t i = 0; tracks && i < fx->n; i++)
        *tracks += fx->v[i].type == FX_XP;
    return write_ledger(e, st, app_id, u, fx, source, reason, now_ms, err, errlen);
}

int engine_grant(struct engine *e, struct store *st, const char *app_id, const char *user_id,
                 const json_t *xp, const json_t *currency, const char *reason,
                 const char *source, int64_t now_ms, char *err, size_t errlen)
{
    const struct game_app *app;
    struct user *u;
    int rc = system_change_target(e, st, app_id, user_id, &app, &u, err, errlen);
    if (rc < 0)
        return rc;
    struct game_effects *fx = &e->fx;
    fx->n = 0;
    game_grant(app, &u->g, xp, currency, fx);
    if (!fx->n)
        return 0;
    mark_changed(e, u);
    if (write_ledger(e, st, app_id, u, fx, source, reason, now_ms, err, errlen) < 0 ||
        boards_count(e->boards, st, app, user_id, now_ms, fx, now_ms, err, errlen) < 0)
        return -1;
    if (!e->outbox)
        return 0;
    /* The grant's effects go to the app's webhooks like an event's. */
    struct buf fxj = BUF_INIT;
    game_effects_json(fx, &fxj);
    struct store_event ev = {
        .app_id = (char *)app_id,
        .idempotency_key = (char *)source,
        .user_id = (char *)user_id,
        .occurred_at = now_ms,
        .status = STORE_EVENT_PROCESSED,
        .effects = fxj.data,
    };
    rc = e->outbox(e->outbox_arg, st, app_id, &ev, now_ms, err, errlen);
    buf_release(&fxj);
    return rc < 0 ? -1 : 0;
}

static int apply_one(struct engine *e, struct store *st, const struct game_app *app,
                     bool auto_create, struct event *ev, struct engine_outcome *o,
                     int64_t now_ms, char *err, size_t errlen)
{
    const char *app_id = app->app_id;
    memset(o, 0, sizeof(*o));
    if (ev->key_given) {
        /* A key the client chose may repeat: the original stands and nothing is applied. */
        int rc = store_event_get(st, app_id, ev->key, &o->stored, err, errlen);
        if (rc == 0) {
            o->duplicate = true;
            e->batch_duplicate++;
            return 0;
        }
        if (rc != STORE_NOT_FOUND)
            return -1;
    }
    struct user *u = NULL;
    int rc = user_get(e, st, app_id, ev->user_id, &u, err, errlen);
    if (rc < 0 && rc != STORE_NOT_FOUND)
        return -1;
    struct engine_view view = { .user_exists = u != NULL, .auto_create_users = auto_create };
    struct engine_step_result *r = &e->step;
    engine_step(&view, ev, r);
    if (r->create_user) {
        bool created;
        if (store_user_ensure(st, app_id, ev->user_id, now_ms, &created, err, errlen) < 0)
            return -1;
        u = users_add(&e->users, app_id, ev->user_id);
        game_user_load(&u->g, NULL, NULL);
        journal_add(e, u);
        e->batch_users_created += created;
    }
    struct game_effects *fx = &e->fx;
    fx->n = 0;
    if (r->status == STORE_EVENT_PROCESSED && u->unreadable) {
        r->status = STORE_EVENT_FAILED;
        r->error = "The user's stored game state is unreadable";
    }
    if (r->status == STORE_EVENT_PROCESSED) {
        struct game_event gev = { ev->type, ev->metadata, ev->occurred_at, now_ms };
        game_apply(app, &u->g, &gev, fx);
        mark_dirty(e, u); /* at least the event count changed */
        if (fx->n)
            game_effects_pack(fx, &r->effects);
    }
    if (!ev->key_given) {
        /* The server's key says where the event's row is (store_event_insert), so it is
         * made here, for the row's seq, whatever the event held. */
        char id[UUID_LEN + 1];
        if (store_event_new_key(st, ev->received_at, id, err, errlen) < 0)
            return -1;
        free(ev->key);
        ev->key = xstrdup(id);
    }
    struct store_event *row = &o->stored;
    /* Borrowed (see engine_outcome): nothing is copied per event but its effects. */
    row->app_id = (char *)app_id;
    row->idempotency_key = ev->key;
    row->user_id = ev->user_id;
    row->event_type = ev->type;
    row->metadata = ev->metadata;
    row->occurred_at = ev->occurred_at;
    row->received_at = ev->received_at;
    row->processed_at = now_ms;
    row->status = r->status;
    row->error = (char *)r->error; /* static text */
    row->effects = NULL;
    row->fx = NULL;
    row->fx_len = r->effects.len;
    if (row->fx_len) {
        row->fx = xmalloc(row->fx_len);
        memcpy(row->fx, r->effects.data, row->fx_len);
    }
    /* Its XP and currency entries are read from its row (store_ledger_log). */
    size_t entries = ledger_entries(fx);
    int64_t event_seq = 0;
    row->ledger_seq = entries ? u->g.ledger_seq + 1 : 0;
    if (store_event_next_seq(st, &event_seq, err, errlen) < 0)
        return -1;
    rc = store_event_insert(st, row, err, errlen);
    /* A chosen key was looked up above, and a key the server gives names its own new row
     * (store_event_insert does not index it): neither can conflict here. */
    if (rc == STORE_CONFLICT)
        snprintf(err, errlen, "idempotency key %s of %s taken after it was checked", ev->key,
                 app_id);
    if (rc < 0)
        return -1;
    if (entries)
        event_ledger(u, entries, event_seq);
    if (r->status == STORE_EVENT_PROCESSED) {
        /* The row is the log of the change (see the top): it counts as a row of the logs,
         * which bounds the events a fold that reads the logs back applies again. */
        u->through = event_seq;
        e->log_rows++;
    }
    if (fx->n && boards_count(e->boards, st, app, ev->user_id, ev->occurred_at, fx, now_ms, err,
                              errlen) < 0)
        return -1;
    if (e->outbox && row->fx &&
        e->outbox(e->outbox_arg, st, app_id, row, now_ms, err, errlen) < 0)
        return -1;
    if (r->status == STORE_EVENT_PROCESSED)
        e->batch_processed++;
    else
        e->batch_failed++;
    e->batch_events++;
    return 0;
}

/* Warms the cache for the next event of a request while this one is applied: its user's
 * entry and the arrays of its game state that game_apply reads first (with 10,000 users, each
 * had been a cache miss of its own, most of game_apply's time in batches of 1,000 events). */
static void user_prefetch(struct engine *e, const char *app_id, const struct event *ev)
{
    const struct user *u = users_find(&e->users, app_id, ev->user_id);
    if (!u)
        return;
    __builtin_prefetch(u->g.xp);
    __builtin_prefetch(u->g.bal);
    __builtin_prefetch(u->g.streaks);
    __builtin_prefetch(u->g.counts);
    __builtin_prefetch(u->g.caps);
}

int engine_apply(struct engine *e, struct store *st, const char *app_id, struct event *events,
                 size_t n, struct engine_outcome *out, int64_t now_ms, char *err, size_t errlen)
{
    bool auto_create;
    struct game_app *app = NULL;
    if (tenant_app_auto_create(e->tenants, app_id, &auto_create) < 0)
        snprintf(err, errlen, "app %s is not in the registry", app_id);
    else
        app = engine_app(e, st, app_id, err, errlen);
    if (!app) {
        memset(out, 0, n * sizeof(*out));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n)
            user_prefetch(e, app_id, &events[i + 1]);
        if (apply_one(e, st, app, auto_create, &events[i], &out[i], now_ms, err, errlen) < 0) {
            for (size_t j = 0; j <= i; j++)
                engine_outcome_release(&out[j]);
            for (size_t j = i + 1; j < n; j++)
                memset(&out[j], 0, sizeof(out[j]));
            return -1;
        }
    }
    return 0;
}

void engine_batch_end(struct engine *e, bool committed, uint64_t commit_ns)
{
    engine_batch_end_then(e, committed, commit_ns, NULL, NULL);
}

int engine_start_board_applier(struct engine *e)
{
    return boards_start_applier(e->boards);
}

bool engine_batch_end_then(struct engine *e, bool committed, uint64_t commit_ns,
                           void (*applied)(void *arg), void *arg)
{
    bool later = boards_batch_end_then(e->boards, committed, clock_now_ms(), applied, arg);
    if (!committed) {
        /* Memory follows the store back: every user the batch loaded or changed is
         * forgotten (and read again when next needed), and so is every app's game model
         * (definitions the batch changed; rare enough to reload them all). */
        for (size_t i = e->journal_n; i-- > 0;)
            users_remove(&e->users, e->journal[i]);
        engine_apps_forget(e, NULL);
        /* The logs are back as they were, but users with rows in them may have been
         * forgotten (or `logged` emptied by a fold that did not commit). */
        e->log_rows = e->log_rows_committed;
        e->epoch = e->epoch_committed;
        if (e->log_rows)
            e->need_fold = true;
        for (size_t i = e->claims_n; i-- > 0;)
            nonce_set_forget(e->nonces, e->claims[i].h, e->claims[i].expires);
        if (e->batch_events)
            metric_add(&e->m.batches_failed, 1);
    } else {
        metric_add(&e->m.processed, e->batch_processed);
        metric_add(&e->m.failed, e->batch_failed);
        metric_add(&e->m.duplicate, e->batch_duplicate);
        metric_add(&e->m.users_created, e->batch_users_created);
    }
    if (committed && e->batch_events) {
        metrics_hist_observe(&e->m.commit, commit_ns);
        size_t b = 0;
        while (b < BATCH_BOUNDS && e->batch_events > (1ull << b))
            b++;
        metric_add(&e->m.batches[b], 1);
        metric_add(&e->m.batch_events_sum, e->batch_events);
        metric_add(&e->m.batch_count, 1);
    }
    for (size_t i = 0; committed && i < e->journal_n; i++)
        e->journal[i]->journaled = false;
    if (committed) {
        if (!e->log_rows)
            e->log_since_ms = 0;
        else if (!e->log_since_ms)
            e->log_since_ms = clock_now_ms();
        e->log_rows_committed = e->log_rows;
        e->epoch_committed = e->epoch;
    }
    if (e->users.n > e->max_users) {
        /* Only a cache of what the store holds (the journal is empty between batches):
         * emptying it costs store reads as users come back, never correctness. Not while
         * users have rows in the logs (engine_flush folded them unless the batch failed). */
        if (!e->log_rows_committed && !e->need_fold) {
            users_free(&e->users);
            memset(&e->users, 0, sizeof(e->users));
            metric_add(&e->m.user_cache_resets, 1);
        }
    }
    atomic_store_explicit(&e->m.log_rows, (uint64_t)e->log_rows_committed,
                          memory_order_relaxed);
    atomic_store_explicit(&e->m.known_users, e->users.n, memory_order_relaxed);
    atomic_store_explicit(&e->m.nonces, nonce_set_size(e->nonces), memory_order_relaxed);
    atomic_store_explicit(&e->m.nonce_bytes, nonce_set_bytes(e->nonces), memory_order_relaxed);
    e->journal_n = 0;
    e->claims_n = e->claims_logged = 0;
    if (e->claimed.cap > 256 * 1024)
        buf_release(&e->claimed); /* a large batch's: not kept */
    else
        buf_reset(&e->claimed);
    e->batch_processed = e->batch_failed = e->batch_duplicate = e->batch_users_created = 0;
    e->batch_events = 0;
    e->fold_failed = false;
    return later;
}

void engine_on_publish(struct engine *e, engine_publish_fn *fn, void *arg)
{
    e->publish = fn;
    e->publish_arg = arg;
}

void engine_on_outbox(struct engine *e, engine_outbox_fn *fn, void *arg)
{
    e->outbox = fn;
    e->outbox_arg = arg;
}

void engine_publish(struct engine *e, const char *app_id, const struct store_event *ev)
{
    if (e->publish)
        e->publish(e->publish_arg, app_id, ev);
}

unsigned engine_partition(const char *app_id, const char *user_id, unsigned partitions)
{
    if (partitions <= 1)
        return 0;
    return (unsigned)(user_hash(app_id, strlen(app_id), user_id, strlen(user_id)) % partitions);
}

/* ---- metrics ------------------------------------------------------------------------------- */

void engine_count_reject(struct engine *e, enum engine_reject why, uint64_t n)
{
    metric_add_shared(&e->m.rejected[why], n);
}

void engine_count_received(struct engine *e, uint64_t n)
{
    metric_add_shared(&e->m.received, n);
}

void engine_observe_latency(struct engine *e, uint64_t ns)
{
    metrics_hist_observe(&e->m.latency, ns);
}

static const char *const reject_names[REJECT__COUNT] = {
    [REJECT_MISSING_SIGNATURE] = "missing_signature",
    [REJECT_BAD_TIMESTAMP] = "invalid_timestamp",
    [REJECT_EXPIRED] = "expired_timestamp",
    [REJECT_BAD_SIGNATURE] = "invalid_signature",
    [REJECT_REPLAY] = "replay",
    [REJECT_INVALID] = "invalid",
    [REJECT_APP_MISMATCH] = "app_mismatch",
    [REJECT_OVERLOADED] = "overloaded",
    [REJECT_UNAVAILABLE] = "store_unavailable",
};

void engine_collect_metrics(struct buf *out, void *arg)
{
    struct engine *e = arg;
    metrics_single(out, "reactor_events_received_total", "counter",
                   "Events received over HTTP (before signature checks of their request).",
                   metric_get(&e->m.received));
    metrics_family(out, "reactor_events_processed_total", "counter",
                   "Events applied and committed, by outcome.");
    buf_printf(out, "reactor_events_processed_total{status=\"processed\"} %llu\n",
               (unsigned long long)metric_get(&e->m.processed));
    buf_printf(out, "reactor_events_processed_total{status=\"failed\"} %llu\n",
               (unsigned long long)metric_get(&e->m.failed));
    metrics_single(out, "reactor_events_duplicate_total", "counter",
                   "Events whose idempotency key was used before (answered, not applied).",
                   metric_get(&e->m.duplicate));
    metrics_family(out, "reactor_events_rejected_total", "counter",
                   "Events refused before the engine applied them, by reason.");
    for (int i = 0; i < REJECT__COUNT; i++)
        buf_printf(out, "reactor_events_rejected_total{reason=\"%s\"} %llu\n", reject_names[i],
                   (unsigned long long)metric_get(&e->m.rejected[i]));
    metrics_single(out, "reactor_users_created_by_events_total", "counter",
                   "Users created by their first event.",
                   metric_get(&e->m.users_created));
    metrics_single(out, "reactor_engine_known_users", "gauge",
                   "Users the engine holds in memory.",
                   metric_get(&e->m.known_users));
    metrics_single(out, "reactor_engine_game_log_rows", "gauge",
                   "Users' state and ledger rows in the game logs, not yet folded.",
                   metric_get(&e->m.log_rows));
    metrics_single(out, "reactor_engine_game_log_folds_total", "counter",
                   "Times the game logs were folded into users' state and the ledger.",
                   metric_get(&e->m.folds));
    metrics_single(out, "reactor_engine_game_log_folded_rows_total", "counter",
                   "Log rows folded into users' state and the ledger.",
                   metric_get(&e->m.folded_rows));
    metrics_family(out, "reactor_engine_game_log_fold_seconds_total", "counter",
                   "Time the engine thread spent folding the game logs.");
    buf_printf(out, "reactor_engine_game_log_fold_seconds_total %.6f\n",
               (double)metric_get(&e->m.fold_ns) / 1e9);
    metrics_single(out, "reactor_engine_events_replayed_total", "counter",
                   "Events applied again to their users' states when the logs were read back "
                   "(start-up, or after a failed batch).",
                   metric_get(&e->m.replayed));
    metrics_single(out, "reactor_engine_events_replay_differed_total", "counter",
                   "Events applied again whose effects differed from the ones stored (should "
                   "stay 0).",
                   metric_get(&e->m.replay_differed));
    metrics_single(out, "reactor_engine_user_cache_resets_total", "counter",
                   "Times the user table passed REACTOR_ENGINE_USER_CACHE and was emptied.",
                   metric_get(&e->m.user_cache_resets));
    metrics_single(out, "reactor_engine_nonces", "gauge",
                   "Signature nonces held in memory for replay detection.",
                   metric_get(&e->m.nonces));
    metrics_single(out, "reactor_engine_nonce_bytes", "gauge",
                   "Memory of the replay detection set, bytes.",
                   metric_get(&e->m.nonce_bytes));
    metrics_family(out, "reactor_engine_batch_events", "histogram",
                   "Events applied per committed store batch.");
    uint64_t cum = 0;
    for (int b = 0; b <= BATCH_BOUNDS; b++) {
        cum += metric_get(&e->m.batches[b]);
        if (b < BATCH_BOUNDS)
            buf_printf(out, "reactor_engine_batch_events_bucket{le=\"%llu\"} %llu\n",
                       1ull << b, (unsigned long long)cum);
        else
            buf_printf(out, "reactor_engine_batch_events_bucket{le=\"+Inf\"} %llu\n",
                       (unsigned long long)cum);
    }
    buf_printf(out, "reactor_engine_batch_events_sum %llu\n",
               (unsigned long long)metric_get(&e->m.batch_events_sum));
    buf_printf(out, "reactor_engine_batch_events_count %llu\n",
               (unsigned long long)metric_get(&e->m.batch_count));
    metrics_single(out, "reactor_engine_batches_failed_total", "counter",
                   "Store batches holding events that failed to commit (answered 503).",
                   metric_get(&e->m.batches_failed));
    struct boards_stats bs;
    boards_stats(e->boards, &bs);
    metrics_single(out, "reactor_leaderboards", "gauge",
                   "Leaderboards (app, metric, period) in the store.", bs.boards);
    metrics_single(out, "reactor_leaderboards_in_memory", "gauge",
                   "Leaderboards held in memory.", bs.loaded);
    metrics_single(out, "reactor_leaderboard_entries", "gauge",
                   "Entries of the leaderboards held in memory.", bs.entries);
    metrics_single(out, "reactor_leaderboard_bytes", "gauge",
                   "Memory of the leaderboards held in memory, bytes.", bs.bytes);
    metrics_single(out, "reactor_leaderboard_evictions_total", "counter",
                   "Leaderboards that left memory unread for the retention window.",
                   bs.evictions);
    metrics_single(out, "reactor_leaderboard_loads_total", "counter",
                   "Leaderboards read back into memory from the store.", bs.loads);
    metrics_single(out, "reactor_leaderboard_wanted", "gauge",
                   "Leaderboards a reader found only in the store, for the next batch to load.",
                   bs.wanted);
    metrics_single(out, "reactor_leaderboard_applied_batches_total", "counter",
                   "Committed batches whose leaderboard changes the applier thread applied.",
                   bs.applied);
    metrics_single(out, "reactor_leaderboard_apply_waits_total", "counter",
                   "Times the engine thread waited for the leaderboards' applier thread.",
                   bs.apply_waits);
    metrics_single(out, "reactor_leaderboard_apply_pending", "gauge",
                   "Committed batches handed to the applier thread and not yet applied.",
                   bs.apply_pending);
    struct metrics_hist_sum sum;
    memset(&sum, 0, sizeof(sum));
    metrics_hist_accumulate(&sum, &e->m.commit);
    metrics_family(out, "reactor_engine_commit_seconds", "histogram",
                   "Time to commit a store batch holding events (written, not yet synced: see "
                   "reactor_store_sync_seconds).");
    metrics_hist_render(out, "reactor_engine_commit_seconds", "", &sum);
    memset(&sum, 0, sizeof(sum));
    metrics_hist_accumulate(&sum, &e->m.latency);
    metrics_family(out, "reactor_event_latency_seconds", "histogram",
                   "From an event request's first byte to its answer being handed to its "
                   "connection, after the commit.");
    metrics_hist_render(out, "reactor_event_latency_seconds", "", &sum);
}
