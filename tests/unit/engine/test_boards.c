/* Unit tests for src/engine/boards.c against a real SQLite store, batch by batch as the engine
 * thread runs them: memory changes only once a batch commits, a failed batch leaves neither
 * rows nor boards behind, a user's changes in a batch make one log row for all its boards,
 * large batches grow the batch's tables and agree with the store, the log is folded exactly
 * (a malformed row costs only its own changes; the migration to one row per user keeps rows
 * not yet folded), start-up loads recent boards and leaves old ones in the store, eviction
 * and reloading give the same board, and the period keys of an instant. Also league outcomes
 * (src/engine/league.c). */
#include "unit.h"

#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/rank.h"
#include "engine/boards.h"
#include "engine/game.h"
#include "engine/league.h"
#include "store/migrations.h"
#include "store/store.h"

#define NOW_MS 1764000000000LL /* 2025-11-24T16:00:00Z, a Monday */
#define HOUR_MS (3600 * 1000LL)
#define DAY_MS (24 * HOUR_MS)

static char err[256];

struct fixture {
    struct unit_store u;
    struct boards *b;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (unit_store_make(&f->u, "boards") < 0)
        return -1;
    f->b = boards_new(DAY_MS);
    *state = f;
    return 0;
}

/* The same, with the applier thread applying committed batches. */
static int setup_applier(void **state)
{
    if (setup(state) < 0)
        return -1;
    struct fixture *f = *state;
    return boards_start_applier(f->b);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    boards_free(f->b);
    unit_store_close(&f->u);
    free(f);
    return 0;
}

/* One batch: adds (user, delta) pairs to (app, metric, period), then commits or rolls back. */
static void batch(struct fixture *f, const char *period, const char *const *users,
                  const int64_t *deltas, size_t n, int64_t now, bool commit)
{
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(boards_add(f->b, f->u.s, "app", "xp", period, users[i], deltas[i], now,
                                    err, sizeof(err)),
                         0);
    assert_int_equal(boards_flush(f->b, f->u.s, now, err, sizeof(err)), 0);
    if (commit)
        assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    else
        store_batch_rollback(f->u.s);
    boards_batch_end(f->b, commit, now);
    boards_wait_applied(f->b); /* with an applier thread: what a later read on it waits for */
}

/* A read of (app, xp, period) on the engine thread, as a request's: the board into memory, in
 * a batch of its own (its load may fold the log). */
static void read_board(struct fixture *f, const char *period, int64_t now)
{
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(boards_load_one(f->b, f->u.s, "app", "xp", period, now, err, sizeof(err)),
                     0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    boards_batch_end(f->b, true, now);
}

/* The board as "user:score" joined by spaces, from memory. */
static void board_text(struct boards *b, const char *period, char *out, size_t len)
{
    const struct rank_index *x;
    out[0] = '\0';
    enum board_state s = boards_find(b, "app", "xp", period, NOW_MS, &x);
    if (s != BOARD_LOADED) {
        snprintf(out, len, s == BOARD_NONE ? "(none)" : "(stored)");
        return;
    }
    struct rank_entry e[64];
    size_t n = rank_range(x, 0, e, 64), used = 0;
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%s:%lld", i ? " " : "", e[i].member,
                                 (long long)e[i].score);
}

struct rows {
    char text[512];
    size_t n;
};

static void row_seen(const char *user, size_t len, int64_t score, int64_t at, void *arg)
{
    (void)len;
    (void)at;
    struct rows *r = arg;
    size_t used = strlen(r->text);
    snprintf(r->text + used, sizeof(r->text) - used, "%s%s:%lld", r->n++ ? " " : "", user,
             (long long)score);
}

static void batch_changes_memory_only_once_committed(void **state)
{
    struct fixture *f = *state;
    const char *users[] = { "ann", "bob", "ann" };
    const int64_t deltas[] = { 10, 30, 25 };
    char text[256];
    batch(f, "all", users, deltas, 3, NOW_MS, true);
    board_text(f->b, "all", text, sizeof(text));
    assert_string_equal(text, "ann:35 bob:30");
    /* One log row for the batch, summed once folded. */
    int64_t rows;
    assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 1);
    struct rows r = { "", 0 };
    assert_int_equal(store_board_scores_each(f->u.s, 1, row_seen, &r, err, sizeof(err)), 0);
    assert_string_equal(r.text, "");
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(store_board_fold(f->u.s, BOARDS_SCORE_MAX, &rows, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(rows, 1);
    assert_int_equal(store_board_scores_each(f->u.s, 1, row_seen, &r, err, sizeof(err)), 0);
    assert_string_equal(r.text, "ann:35 bob:30");
    assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 0);

    const char *more[] = { "bob" };
    const int64_t ten[] = { 10 };
    batch(f, "all", more, ten, 1, NOW_MS + 1, false);
    board_text(f->b, "all", text, sizeof(text));
    assert_string_equal(text, "ann:35 bob:30");
    batch(f, "all", more, ten, 1, NOW_MS + 2, true);
    board_text(f->b, "all", text, sizeof(text));
    assert_string_equal(text, "bob:40 ann:35");
}

static void failed_batch_forgets_the_boards_it_created(void **state)
{
    struct fixture *f = *state;
    const char *users[] = { "ann" };
    const int64_t deltas[] = { 5 };
    batch(f, "2025-11-24", users, deltas, 1, NOW_MS, false);
    char text[256];
    board_text(f->b, "2025-11-24", text, sizeof(text));
    assert_string_equal(text, "(none)");
    struct boards_stats st;
    boards_stats(f->b, &st);
    assert_int_equal(st.boards, 0);
    assert_int_equal(st.entries, 0);
    /* The board can be created again: the store has no trace of the first try. A period's
     * board is only in the store until something reads it. */
    batch(f, "2025-11-24", users, deltas, 1, NOW_MS, true);
    boards_stats(f->b, &st);
    assert_int_equal(st.boards, 1);
    assert_int_equal(st.loaded, 0);
    read_board(f, "2025-11-24", NOW_MS);
    board_text(f->b, "2025-11-24", text, sizeof(text));
    assert_string_equal(text, "ann:5");
    boards_stats(f->b, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.loads, 1);
}

/* A reader on another thread that finds a board only in the store marks it wanted; the next
 * batch loads it (with what that batch adds on top) and tells on_change. A board wanted by a
 * reader and then dropped by its failed batch is wanted no more. */
struct changed {
    int n;
    char last[64];
};

static void note_change(void *arg, const char *app_id, const char *metric, const char *period)
{
    struct changed *c = arg;
    c->n++;
    snprintf(c->last, sizeof(c->last), "%s/%s/%s", app_id, metric, period);
}

static void count_want(void *arg)
{
    (*(int *)arg)++;
}

static void boards_readers_want_are_loaded_by_the_next_batch(void **state)
{
    struct fixture *f = *state;
    struct changed ch = { 0, "" };
    boards_on_change(f->b, note_change, &ch);
    int wakes = 0;
    boards_on_want(f->b, count_want, &wakes);
    const char *users[] = { "ann", "bob" };
    const int64_t deltas[] = { 7, 9 };
    batch(f, "2025-11-24", users, deltas, 2, NOW_MS, true);
    assert_int_equal(ch.n, 1); /* the batch changed it, in the store */
    struct boards_stats st;
    boards_stats(f->b, &st);
    assert_int_equal(st.loaded, 0);
    assert_int_equal(st.wanted, 0);
    /* Written again, still nobody reads it: it stays in the store only. */
    batch(f, "2025-11-24", users, deltas, 1, NOW_MS + 1, true);
    boards_stats(f->b, &st);
    assert_int_equal(st.loaded, 0);
    assert_int_equal(st.loads, 0);
    /* Read: wanted (once, however many read it), then loaded by the next batch, which adds
     * its own change once it commits. */
    char text[64];
    board_text(f->b, "2025-11-24", text, sizeof(text));
    assert_string_equal(text, "(stored)");
    board_text(f->b, "2025-11-24", text, sizeof(text));
    boards_stats(f->b, &st);
    assert_int_equal(st.wanted, 1);
    assert_int_equal(wakes, 1); /* the engine is woken once, not per read */
    const char *cy[] = { "cy" };
    const int64_t one[] = { 1 };
    ch.n = 0;
    batch(f, "2025-11-24", cy, one, 1, NOW_MS + 2, true);
    board_text(f->b, "2025-11-24", text, sizeof(text));
    assert_string_equal(text, "ann:14 bob:9 cy:1");
    assert_int_equal(ch.n, 2); /* loaded, then changed */
    assert_string_equal(ch.last, "app/xp/2025-11-24");
    boards_stats(f->b, &st);
    assert_int_equal(st.wanted, 0);
    assert_int_equal(st.loads, 1);
    assert_int_equal(st.loaded, 1);
    /* A batch creates a board, a reader finds it, the batch fails: nothing is wanted. */
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(boards_add(f->b, f->u.s, "app", "xp", "2025-11-25", "ann", 3, NOW_MS + 3,
                                err, sizeof(err)),
                     0);
    board_text(f->b, "2025-11-25", text, sizeof(text));
    assert_string_equal(text, "(stored)");
    boards_stats(f->b, &st);
    assert_int_equal(st.wanted, 1);
    assert_int_equal(wakes, 2);
    store_batch_rollback(f->u.s);
    boards_batch_end(f->b, false, NOW_MS + 3);
    boards_stats(f->b, &st);
    assert_int_equal(st.wanted, 0);
    assert_int_equal(st.boards, 1);
    /* Wanted in the batch that creates it: loaded by that batch's flush, empty, and the
     * batch's own change applied on top once it commits. */
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(boards_add(f->b, f->u.s, "app", "xp", "2025-11-26", "bob", 4, NOW_MS + 4,
                                err, sizeof(err)),
                     0);
    board_text(f->b, "2025-11-26", text, sizeof(text));
    assert_int_equal(boards_flush(f->b, f->u.s, NOW_MS + 4, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    boards_batch_end(f->b, true, NOW_MS + 4);
    boards_wait_applied(f->b);
    board_text(f->b, "2025-11-26", text, sizeof(text));
    assert_string_equal(text, "bob:4");
    boards_stats(f->b, &st);
    assert_int_equal(st.wanted, 0);
    assert_int_equal(st.loaded, 2);
    /* A request's read (on the engine thread) of a board a reader wanted: loaded, wanted no
     * more, and on_change told, so what waited for it reads it. */
    batch(f, "2025-11-27", cy, one, 1, NOW_MS + 5, true);
    board_text(f->b, "2025-11-27", text, sizeof(text));
    boards_stats(f->b, &st);
    assert_int_equal(st.wanted, 1);
    ch.n = 0;
    read_board(f, "2025-11-27", NOW_MS + 6);
    assert_int_equal(ch.n, 1);
    assert_string_equal(ch.last, "app/xp/2025-11-27");
    boards_stats(f->b, &st);
    assert_int_equal(st.wanted, 0);
    board_text(f->b, "2025-11-27", text, sizeof(text));
    assert_string_equal(text, "cy:1");
}

static void start_up_loads_all_time_boards_and_reads_bring_the_others(void **state)
{
    struct fixture *f = *state;
    const char *users[] = { "ann", "bob" };
    const int64_t deltas[] = { 7, 9 };
    batch(f, "all", users, deltas, 2, NOW_MS - 10 * DAY_MS, true);
    batch(f, "2025-11-14", users, deltas, 2, NOW_MS - 10 * DAY_MS, true);
    batch(f, "2025-11-24", users, deltas, 2, NOW_MS, true);
    read_board(f, "2025-11-24", NOW_MS);

    /* "all" loads whatever its age; a period's board, even today's and read before, waits
     * for a read. */
    struct boards *b = boards_new(DAY_MS);
    assert_int_equal(boards_load(b, f->u.s, NOW_MS, err, sizeof(err)), 0);
    char text[256];
    board_text(b, "all", text, sizeof(text));
    assert_string_equal(text, "bob:9 ann:7");
    struct boards_stats st;
    boards_stats(b, &st);
    assert_int_equal(st.boards, 3);
    assert_int_equal(st.loaded, 1);
    /* An award to a board only in the store counts there, without loading it. */
    boards_free(f->b);
    f->b = b;
    const char *ann[] = { "ann" };
    const int64_t five[] = { 5 };
    batch(f, "2025-11-14", ann, five, 1, NOW_MS, true);
    boards_stats(b, &st);
    assert_int_equal(st.loaded, 1);
    assert_int_equal(st.loads, 0);
    read_board(f, "2025-11-14", NOW_MS);
    board_text(b, "2025-11-14", text, sizeof(text));
    assert_string_equal(text, "ann:12 bob:9");
    read_board(f, "2025-11-24", NOW_MS);
    board_text(b, "2025-11-24", text, sizeof(text));
    assert_string_equal(text, "bob:9 ann:7");
    assert_int_equal(boards_load_one(b, f->u.s, "app", "xp", "1999-01-01", NOW_MS, err,
                                     sizeof(err)),
                     STORE_NOT_FOUND);
}

static void unread_boards_leave_memory_but_all_time_ones_stay(void **state)
{
    struct fixture *f = *state;
    const char *users[] = { "ann" };
    const int64_t deltas[] = { 3 };
    batch(f, "all", users, deltas, 1, NOW_MS, true);
    batch(f, "2025-11-24", users, deltas, 1, NOW_MS, true);
    batch(f, "2025-11-25", users, deltas, 1, NOW_MS, true);
    read_board(f, "2025-11-24", NOW_MS);
    read_board(f, "2025-11-25", NOW_MS);
    /* Past the window (retention: a day), a board nobody read meanwhile leaves memory even
     * though batches still write it; one read meanwhile stays. */
    batch(f, "2025-11-24", users, deltas, 1, NOW_MS + DAY_MS - 1000, true);
    read_board(f, "2025-11-25", NOW_MS + DAY_MS);
    batch(f, "2025-11-24", users, deltas, 1, NOW_MS + 2 * DAY_MS - 1000, true);
    char text[256];
    board_text(f->b, "all", text, sizeof(text));
    assert_string_equal(text, "ann:3");
    board_text(f->b, "2025-11-25", text, sizeof(text));
    assert_string_equal(text, "ann:3");
    struct boards_stats st;
    boards_stats(f->b, &st);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.loaded, 2);
    assert_int_equal(st.entries, 2);
    board_text(f->b, "2025-11-24", text, sizeof(text));
    assert_string_equal(text, "(stored)");
}

/* Loads a day's board back at `ms` and checks what the three days' boards show then. */
static void load_and_expect(struct fixture *f, const char *const days[3], size_t day, int64_t ms,
                            const char *const expect[3])
{
    assert_int_equal(boards_load_one(f->b, f->u.s, "app", "xp", days[day], ms, err, sizeof(err)),
                     0);
    for (size_t i = 0; i < 3 && expect; i++) {
        if (!expect[i])
            continue;
        char text[256];
        board_text(f->b, days[i], text, sizeof(text));
        assert_string_equal(text, expect[i]);
    }
}

/* Boards that reads load back share a memory budget; past it the least recently read go,
 * never the one being read, and a board a batch writes no longer counts as loaded by reads. */
static void boards_loaded_by_reads_stay_within_their_budget(void **state)
{
    struct fixture *f = *state;
    const char *users[] = { "ann", "bob" };
    const int64_t deltas[] = { 7, 9 };
    const char *const days[] = { "2025-10-01", "2025-10-02", "2025-10-03" };
    for (size_t i = 0; i < 3; i++)
        batch(f, days[i], users, deltas, 2, NOW_MS - 10 * DAY_MS, true);

    struct boards *b = boards_new(DAY_MS);
    assert_int_equal(boards_load(b, f->u.s, NOW_MS, err, sizeof(err)), 0);
    boards_free(f->b);
    f->b = b;
    load_and_expect(f, days, 0, NOW_MS, NULL);
    struct boards_stats st;
    boards_stats(b, &st);
    size_t one = st.bytes;
    assert_true(one > 0);
    /* Room for one board, not two (a board's bytes vary a little with its nodes' heights).
     * Which are in memory is read from the stats and from the board loaded last only: reading
     * a board that is only in the store would make the next batch load it. */
    boards_set_cold_budget(b, one + one / 2);
    load_and_expect(f, days, 1, NOW_MS + 1000, NULL);
    boards_stats(b, &st);
    assert_int_equal(st.loaded, 1);
    assert_int_equal(st.evictions, 1);
    const char *const third[] = { NULL, NULL, "bob:9 ann:7" };
    load_and_expect(f, days, 2, NOW_MS + 2000, third);
    boards_stats(b, &st);
    assert_int_equal(st.loaded, 1);
    assert_int_equal(st.evictions, 2);

    /* Once written, the second day is no longer the budget's: loading the first back keeps
     * both in memory. */
    load_and_expect(f, days, 1, NOW_MS + 3000, NULL);
    const char *ann[] = { "ann" };
    const int64_t five[] = { 5 };
    batch(f, days[1], ann, five, 1, NOW_MS + 4000, true);
    const char *const first_and_written[] = { "bob:9 ann:7", "ann:12 bob:9", NULL };
    load_and_expect(f, days, 0, NOW_MS + 5000, first_and_written);
    boards_stats(b, &st);
    assert_int_equal(st.loaded, 2);
    assert_int_equal(st.evictions, 3);
}

static void many_users_and_batches_match_the_store(void **state)
{
    struct fixture *f = *state;
    char names[200][8];
    const char *users[200];
    int64_t deltas[200], want[200];
    memset(want, 0, sizeof(want));
    unsigned seed = 7;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 200; i++) {
            seed = seed * 1103515245u + 12345u;
            int u = (int)((seed >> 8) % 200);
            snprintf(names[i], sizeof(names[i]), "u%03d", u);
            users[i] = names[i];
            deltas[i] = (int64_t)((seed >> 4) % 50) + 1;
            if (round % 5 != 3)
                want[u] += deltas[i];
        }
        batch(f, "all", users, deltas, 200, NOW_MS + round, round % 5 != 3);
    }
    struct boards *b = boards_new(DAY_MS);
    assert_int_equal(boards_load(b, f->u.s, NOW_MS, err, sizeof(err)), 0);
    const struct rank_index *mem, *stored;
    assert_int_equal(boards_find(f->b, "app", "xp", "all", NOW_MS, &mem), BOARD_LOADED);
    assert_int_equal(boards_find(b, "app", "xp", "all", NOW_MS, &stored), BOARD_LOADED);
    assert_int_equal(rank_size(mem), rank_size(stored));
    for (int u = 0; u < 200; u++) {
        char name[8];
        snprintf(name, sizeof(name), "u%03d", u);
        struct rank_entry a, c;
        size_t ra, rc;
        bool in = rank_get(mem, name, strlen(name), &a, &ra);
        assert_int_equal(in, want[u] > 0);
        assert_int_equal(rank_get(stored, name, strlen(name), &c, &rc), in);
        if (in) {
            assert_int_equal(a.score, want[u]);
            assert_int_equal(c.score, want[u]);
            assert_int_equal(a.at, c.at);
            assert_int_equal(ra, rc);
        }
    }
    boards_free(b);
}

/* The sums kept for the next fold hold one (board, user) pair each, however many users: their
 * table grows past its first size (1,024 slots, half of them used) and still finds every user
 * it holds. */
static void fold_sums_hold_each_user_once(void **state)
{
    struct fixture *f = *state;
    enum { USERS = 1500 };
    static char names[USERS][8];
    static const char *users[USERS];
    static int64_t deltas[USERS];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < USERS; i++) {
            snprintf(names[i], sizeof(names[i]), "u%04d", (i * 7 + round) % USERS);
            users[i] = names[i];
            deltas[i] = 1;
        }
        batch(f, "all", users, deltas, USERS, NOW_MS + round, true);
        struct boards_stats st;
        boards_wait_applied(f->b);
        boards_stats(f->b, &st);
        assert_int_equal(st.sums, USERS);
    }
}

static void fold_sums_hold_each_user_once_with_the_applier(void **state)
{
    fold_sums_hold_each_user_once(state);
}

struct applied {
    pthread_mutex_t mu;
    int done, changed;
    bool other_thread;
    pthread_t engine;
};

static void applied_done(void *arg)
{
    struct applied *a = arg;
    pthread_mutex_lock(&a->mu);
    a->done++;
    a->other_thread |= !pthread_equal(pthread_self(), a->engine);
    pthread_mutex_unlock(&a->mu);
}

static void applied_changed(void *arg, const char *app, const char *metric, const char *period)
{
    (void)app;
    (void)metric;
    (void)period;
    struct applied *a = arg;
    pthread_mutex_lock(&a->mu);
    a->changed++;
    pthread_mutex_unlock(&a->mu);
}

/* With the applier thread: a committed batch's changes reach memory on it, and then it says
 * so (and tells on_change); a batch that changes nothing, or fails, is done at once; a read
 * on the engine thread (boards_load_one) and the next batch's end wait for it; stopping
 * finishes the last apply. */
static void the_applier_applies_committed_batches_on_its_thread(void **state)
{
    struct fixture *f = *state;
    const int64_t END = NOW_MS + 50 * 31 * 1000; /* after the loop's batches */
    struct applied a = { .engine = pthread_self() };
    pthread_mutex_init(&a.mu, NULL);
    boards_on_change(f->b, applied_changed, &a);
    const char *users[] = { "ann", "bob" };
    for (int round = 0; round < 50; round++) {
        int64_t now = NOW_MS + round * 31 * 1000; /* a fold every other batch */
        assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
        for (int i = 0; i < 2; i++)
            assert_int_equal(boards_add(f->b, f->u.s, "app", "xp", "all", users[i], 1 + i, now,
                                        err, sizeof(err)),
                             0);
        assert_int_equal(boards_flush(f->b, f->u.s, now, err, sizeof(err)), 0);
        assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
        assert_true(boards_batch_end_then(f->b, true, now, applied_done, &a));
    }
    /* Nothing to apply: done at once, no callback. */
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    assert_false(boards_batch_end_then(f->b, true, END + 0, applied_done, &a));
    /* A failed batch: its new board goes, nothing is applied. */
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(boards_add(f->b, f->u.s, "app", "xp", "2025-11-24", "ann", 5, END + 1,
                                err, sizeof(err)),
                     0);
    store_batch_rollback(f->u.s);
    assert_false(boards_batch_end_then(f->b, false, END + 1, applied_done, &a));
    /* A read on the engine thread waits for the applier: the board is whole. */
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(boards_load_one(f->b, f->u.s, "app", "xp", "all", END + 2, err,
                                     sizeof(err)),
                     0);
    char text[64];
    board_text(f->b, "all", text, sizeof(text));
    assert_string_equal(text, "bob:100 ann:50");
    int64_t rows = 0;
    assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
    assert_true(rows < 3); /* folded as it went */
    assert_int_equal(boards_load_one(f->b, f->u.s, "app", "xp", "2025-11-24", END + 2, err,
                                     sizeof(err)),
                     STORE_NOT_FOUND);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    boards_batch_end(f->b, true, END + 2);
    struct boards_stats st;
    boards_stats(f->b, &st);
    assert_int_equal(st.applied, 50);
    assert_int_equal(st.apply_pending, 0);
    pthread_mutex_lock(&a.mu);
    assert_int_equal(a.done, 50);
    assert_int_equal(a.changed, 50);
    assert_true(a.other_thread);
    pthread_mutex_unlock(&a.mu);
    /* The last batch is applied before boards_free returns (teardown). */
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(boards_add(f->b, f->u.s, "app", "xp", "all", "cy", 7, END + 3, err,
                                sizeof(err)),
                     0);
    assert_int_equal(boards_flush(f->b, f->u.s, END + 3, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    assert_true(boards_batch_end_then(f->b, true, END + 3, applied_done, &a));
    boards_free(f->b);
    f->b = NULL;
    assert_int_equal(a.done, 51);
    pthread_mutex_destroy(&a.mu);
    /* The store, folded along the way from the sums the applier kept, has every batch. */
    struct boards *fresh = boards_new(DAY_MS);
    assert_int_equal(boards_load(fresh, f->u.s, NOW_MS + 51 * 31 * 1000, err, sizeof(err)), 0);
    board_text(fresh, "all", text, sizeof(text));
    assert_string_equal(text, "bob:100 ann:50 cy:7");
    boards_free(fresh);
}

/* One board's scores from memory and from a fresh load of the store, against the model. */
static void expect_board(struct fixture *f, struct boards *fresh, const char *period, int users,
                         const int64_t *want, const int64_t *want_at)
{
    const struct rank_index *mem, *stored;
    assert_int_equal(boards_load_one(fresh, f->u.s, "app", "xp", period, NOW_MS, err, sizeof(err)),
                     0);
    assert_int_equal(boards_find(fresh, "app", "xp", period, NOW_MS, &stored), BOARD_LOADED);
    enum board_state in_mem = boards_find(f->b, "app", "xp", period, NOW_MS, &mem);
    for (int u = 0; u < users; u++) {
        char name[16];
        snprintf(name, sizeof(name), "u%03d", u);
        struct rank_entry e;
        size_t rank;
        assert_int_equal(rank_get(stored, name, strlen(name), &e, &rank), want[u] > 0);
        if (want[u] > 0) {
            assert_int_equal(e.score, want[u]);
            assert_int_equal(e.at, want_at[u]);
        }
        if (in_mem == BOARD_LOADED) {
            assert_int_equal(rank_get(mem, name, strlen(name), &e, &rank), want[u] > 0);
            if (want[u] > 0)
                assert_int_equal(e.score, want[u]);
        }
    }
}

/* Folds write the committed rows' sums kept in memory: with batches that fail (some of them
 * while folding), folds every other batch, and a fold by a read that loads a board back and
 * empties the log (which then numbers its rows from 1 again), the store ends exactly where
 * memory and a model are. */
static void folds_from_memory_keep_the_store_exact(void **state)
{
    struct fixture *f = *state;
    enum { USERS = 150, PER = 100, ROUNDS = 30 };
    static const char *const periods[2] = { "all", "2025-11-24" };
    int64_t want[2][USERS], want_at[2][USERS];
    memset(want, 0, sizeof(want));
    memset(want_at, 0, sizeof(want_at));
    char names[PER][8];
    const char *users[PER];
    int64_t deltas[PER];
    unsigned seed = 11;
    int64_t now = NOW_MS, rows = 0;
    for (int round = 0; round < ROUNDS; round++) {
        now += 31 * 1000; /* past a minute every other batch: a fold */
        bool commit = round % 7 != 5;
        int p = round % 3 == 2;
        for (int i = 0; i < PER; i++) {
            seed = seed * 1103515245u + 12345u;
            int u = (int)((seed >> 8) % USERS);
            snprintf(names[i], sizeof(names[i]), "u%03d", u);
            users[i] = names[i];
            deltas[i] = (int64_t)((seed >> 4) % 40) + 1;
            if (commit) {
                want[p][u] += deltas[i];
                want_at[p][u] = now;
            }
        }
        batch(f, periods[p], users, deltas, PER, now, commit);
        assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
        assert_true(rows > 0);
        if (p == 1 && commit) /* read: from then on batches apply to it in memory */
            read_board(f, periods[1], now);
    }
    /* The day's board leaves memory; a later read loads it back, folding what is pending
     * (the next batch's rows) in a batch that logs nothing itself: the log is emptied. */
    now += 2 * DAY_MS;
    boards_evict(f->b, now);
    struct boards_stats st;
    boards_stats(f->b, &st);
    assert_int_equal(st.loaded, 1); /* "all" */
    const char *one[] = { "u001" };
    const int64_t five[] = { 5 };
    batch(f, "all", one, five, 1, now, true);
    want[0][1] += 5;
    want_at[0][1] = now;
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(
        boards_load_one(f->b, f->u.s, "app", "xp", "2025-11-24", now, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    boards_batch_end(f->b, true, now);
    assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 0);
    for (int i = 0; i < 2; i++) {
        batch(f, "all", one, five, 1, now + 1 + i, true);
        want[0][1] += 5;
        want_at[0][1] = now + 1 + i;
    }
    /* Past a minute: this batch folds the two before it and keeps its own row. */
    batch(f, "all", one, five, 1, now + 61 * 1000, true);
    want[0][1] += 5;
    want_at[0][1] = now + 61 * 1000;
    assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 1);
    /* A read's fold and the flush's in one batch: the sums are written once. */
    now += 3 * DAY_MS;
    boards_evict(f->b, now);
    batch(f, "all", one, five, 1, now, true);
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(
        boards_load_one(f->b, f->u.s, "app", "xp", "2025-11-24", now, err, sizeof(err)), 0);
    assert_int_equal(boards_add(f->b, f->u.s, "app", "xp", "all", "u001", 5, now + 61 * 1000,
                                err, sizeof(err)),
                     0);
    assert_int_equal(boards_flush(f->b, f->u.s, now + 61 * 1000, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    boards_batch_end(f->b, true, now + 61 * 1000);
    want[0][1] += 10;
    want_at[0][1] = now + 61 * 1000;

    struct boards *fresh = boards_new(DAY_MS);
    assert_int_equal(boards_load(fresh, f->u.s, NOW_MS, err, sizeof(err)), 0);
    for (int p = 0; p < 2; p++)
        expect_board(f, fresh, periods[p], USERS, want[p], want_at[p]);
    boards_free(fresh);
}

static void the_score_log_is_folded_after_a_minute_and_on_reload(void **state)
{
    struct fixture *f = *state;
    const char *users[] = { "ann", "bob" };
    const int64_t deltas[] = { 4, 6 };
    int64_t rows;
    batch(f, "all", users, deltas, 2, NOW_MS, true);
    batch(f, "all", users, deltas, 2, NOW_MS + 30000, true);
    assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 2);
    /* A failed batch's fold is undone with it: the rows are still there to fold. */
    batch(f, "all", users, deltas, 2, NOW_MS + 61000, false);
    assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 2);
    /* The fold writes what the committed rows add up to; the folding batch's own rows stay
     * in the log, to be folded next time. */
    batch(f, "all", users, deltas, 2, NOW_MS + 62000, true);
    assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 1);
    struct rows r = { "", 0 };
    assert_int_equal(store_board_scores_each(f->u.s, 1, row_seen, &r, err, sizeof(err)), 0);
    assert_string_equal(r.text, "ann:8 bob:12");
    /* Rows logged since are folded when a board is read back from the store. */
    batch(f, "2025-11-24", users, deltas, 2, NOW_MS + 63000, true);
    assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 2);
    struct boards *b = boards_new(DAY_MS);
    assert_int_equal(boards_load(b, f->u.s, NOW_MS + 3 * DAY_MS, err, sizeof(err)), 0);
    assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 0);
    char text[256];
    board_text(b, "2025-11-24", text, sizeof(text));
    assert_string_equal(text, "(stored)");
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(boards_load_one(b, f->u.s, "app", "xp", "2025-11-24", NOW_MS + 3 * DAY_MS,
                                     err, sizeof(err)),
                     0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    boards_batch_end(b, true, NOW_MS + 3 * DAY_MS);
    board_text(b, "2025-11-24", text, sizeof(text));
    assert_string_equal(text, "bob:6 ann:4");
    boards_free(b);
}

static void scores_stop_at_the_cap_in_memory_and_in_the_store(void **state)
{
    struct fixture *f = *state;
    const char *users[] = { "ann", "ann", "bob", "cid" };
    const int64_t deltas[] = { INT64_MAX, INT64_MAX, BOARDS_SCORE_MAX - 5, 0 };
    batch(f, "all", users, deltas, 4, NOW_MS, true);
    const char *more[] = { "bob", "ann" };
    const int64_t ten[] = { 10, 1 };
    batch(f, "all", more, ten, 2, NOW_MS + 1, true);
    char text[256], want[256];
    snprintf(want, sizeof(want), "ann:%lld bob:%lld", (long long)BOARDS_SCORE_MAX,
             (long long)BOARDS_SCORE_MAX);
    board_text(f->b, "all", text, sizeof(text)); /* cid's 0 is no award */
    assert_string_equal(text, want);
    struct boards *b = boards_new(DAY_MS);
    assert_int_equal(boards_load(b, f->u.s, NOW_MS, err, sizeof(err)), 0);
    board_text(b, "all", text, sizeof(text));
    assert_string_equal(text, want);
    boards_free(b);
}

/* Runs SQL on the fixture's database through a connection of its own. */
static void raw_sql(struct fixture *f, const char *sql)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/reactor.db", f->u.data_dir);
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(h);
}

static void fold_now(struct fixture *f, int64_t *rows)
{
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(store_board_fold(f->u.s, BOARDS_SCORE_MAX, rows, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
}

static void scores_text(struct fixture *f, int64_t board, char *out, size_t len)
{
    struct rows r = { "", 0 };
    assert_int_equal(store_board_scores_each(f->u.s, board, row_seen, &r, err, sizeof(err)), 0);
    snprintf(out, len, "%s", r.text);
}

static void a_users_changes_on_several_boards_are_one_log_row(void **state)
{
    struct fixture *f = *state;
    static const char *const periods[] = { "all", "2025-11-24", "2025-W48", "2025-11" };
    static const char *const users[] = { "ann", "bob", "ann", "cy" };
    static const int64_t deltas[] = { 10, 30, 25, 1 };
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    for (size_t i = 0; i < 4; i++)
        for (size_t p = 0; p < 4; p++)
            assert_int_equal(boards_add(f->b, f->u.s, "app", "xp", periods[p], users[i],
                                        deltas[i] * (int64_t)(p + 1), NOW_MS + (int64_t)i, err,
                                        sizeof(err)),
                             0);
    assert_int_equal(boards_batch_changes(f->b), 12); /* ann's second time met her first */
    assert_int_equal(boards_flush(f->b, f->u.s, NOW_MS + 4, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    boards_batch_end(f->b, true, NOW_MS + 4);
    int64_t rows;
    assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 1); /* the batch: ann, bob, cy, each with its four boards */
    fold_now(f, &rows);
    assert_int_equal(rows, 1);
    char text[256];
    /* Boards 1..4 were created in the order of `periods`; rows come in user order. */
    scores_text(f, 1, text, sizeof(text));
    assert_string_equal(text, "ann:35 bob:30 cy:1");
    scores_text(f, 2, text, sizeof(text));
    assert_string_equal(text, "ann:70 bob:60 cy:2");
    scores_text(f, 4, text, sizeof(text));
    assert_string_equal(text, "ann:140 bob:120 cy:4");
    /* Memory holds the same ("all"; the others wait for a read), and a store read back gives
     * the same board. */
    board_text(f->b, "all", text, sizeof(text));
    assert_string_equal(text, "ann:35 bob:30 cy:1");
    struct boards *b = boards_new(DAY_MS);
    assert_int_equal(boards_load(b, f->u.s, NOW_MS + 5, err, sizeof(err)), 0);
    assert_int_equal(boards_load_one(b, f->u.s, "app", "xp", "2025-W48", NOW_MS + 5, err,
                                     sizeof(err)),
                     0);
    board_text(b, "2025-W48", text, sizeof(text));
    assert_string_equal(text, "ann:105 bob:90 cy:3");
    boards_free(b);
}

/* A batch far larger than the batch tables' first size (users and changes both grow several
 * times within it), users coming back in the batch for boards they had not scored on yet, then
 * a small batch and a failed one on the same tables: memory, the log's rows and the store read
 * back all agree with sums kept here. */
static void large_batches_on_many_boards_match_the_store(void **state)
{
    struct fixture *f = *state;
    enum { USERS = 2500, PERIODS = 4 };
    static const char *const periods[PERIODS] = { "all", "2025-11-24", "2025-W48", "2025-11" };
    static int64_t want[PERIODS][USERS];
    memset(want, 0, sizeof(want));
    char name[16];
    unsigned seed = 11;
    /* The boards made and read first, so that memory applies the large batch to all four (a
     * period's board is only in the store until something reads it). */
    static const char *const first[] = { "user-0000" };
    static const int64_t one[] = { 1 };
    for (int p = 0; p < PERIODS; p++) {
        assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
        assert_int_equal(boards_add(f->b, f->u.s, "app", "xp", periods[p], first[0], one[0],
                                    NOW_MS, err, sizeof(err)),
                         0);
        assert_int_equal(boards_flush(f->b, f->u.s, NOW_MS, err, sizeof(err)), 0);
        assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
        boards_batch_end(f->b, true, NOW_MS);
        want[p][0] += 1;
        if (p)
            read_board(f, periods[p], NOW_MS);
    }
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    /* Each pass draws USERS ids at random (with repeats: about 63 % of the users, some several
     * times), and pass p scores each draw on the first p + 1 boards. */
    for (int pass = 0; pass < PERIODS; pass++)
        for (int i = 0; i < USERS; i++) {
            seed = seed * 1103515245u + 12345u;
            int u = (int)((seed >> 8) % USERS);
            for (int p = 0; p <= pass; p++) {
                int64_t d = (int64_t)((seed >> 4) % 9) + 1;
                snprintf(name, sizeof(name), "user-%04d", u);
                assert_int_equal(boards_add(f->b, f->u.s, "app", "xp", periods[p], name, d,
                                            NOW_MS, err, sizeof(err)),
                                 0);
                want[p][u] += d;
            }
        }
    assert_int_equal(boards_flush(f->b, f->u.s, NOW_MS, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    boards_batch_end(f->b, true, NOW_MS);
    int64_t rows, distinct = 0;
    for (int u = 0; u < USERS; u++)
        distinct += want[0][u] > 0;
    assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 1); /* one row for the batch, whatever its users and boards (the
                                * reads' loads folded the first batches') */
    assert_true(distinct > 1000);

    /* A small batch on the grown tables, then a failed one that must leave nothing. */
    static const char *const few[] = { "user-0001", "user-0002", "user-0001" };
    static const int64_t few_d[] = { 5, 6, 7 };
    batch(f, "2025-11", few, few_d, 3, NOW_MS + 1, true);
    want[3][1] += 12;
    want[3][2] += 6;
    batch(f, "2025-11", few, few_d, 3, NOW_MS + 2, false);
    assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 2);

    struct boards *b = boards_new(DAY_MS);
    assert_int_equal(boards_load(b, f->u.s, NOW_MS + 3, err, sizeof(err)), 0);
    for (int p = 0; p < PERIODS; p++) {
        const struct rank_index *mem, *stored;
        assert_int_equal(boards_load_one(b, f->u.s, "app", "xp", periods[p], NOW_MS + 3, err,
                                         sizeof(err)),
                         0);
        assert_int_equal(boards_find(f->b, "app", "xp", periods[p], NOW_MS, &mem), BOARD_LOADED);
        assert_int_equal(boards_find(b, "app", "xp", periods[p], NOW_MS, &stored), BOARD_LOADED);
        assert_int_equal(rank_size(mem), rank_size(stored));
        size_t members = 0;
        for (int u = 0; u < USERS; u++) {
            snprintf(name, sizeof(name), "user-%04d", u);
            struct rank_entry a, c;
            size_t ra, rc;
            bool in = rank_get(mem, name, strlen(name), &a, &ra);
            assert_int_equal(in, want[p][u] > 0);
            assert_int_equal(rank_get(stored, name, strlen(name), &c, &rc), in);
            if (in) {
                members++;
                assert_int_equal(a.score, want[p][u]);
                assert_int_equal(c.score, want[p][u]);
                assert_int_equal(ra, rc);
            }
        }
        assert_int_equal(rank_size(mem), members);
    }
    boards_free(b);
}

static void a_malformed_score_log_row_costs_only_its_own_changes(void **state)
{
    struct fixture *f = *state;
    const char *users[] = { "ann", "bob" };
    const int64_t deltas[] = { 4, 6 };
    batch(f, "all", users, deltas, 2, NOW_MS, true); /* board 1 */
    /* Damage: a row whose second change is cut short, and one that is not numbers at all;
     * rows of one user (earlier versions) and of a batch, where an id's length that runs
     * past the row, a missing ';' or a bad change stops the row at the fault. */
    raw_sql(f, "INSERT INTO board_log (user_id, changes) VALUES ('ann', '1:5:100,1:7'), "
               "('bob', 'nonsense'), ('cy', '1:2:100'), ('dee', ''), ('ed', '1:-3:100'), "
               "('', '3:fay1:1:100;4:gus!1:2:100,1:x:1;3:fay1:3:100;'), "
               "('', '2:hi1:1:100;9:ivy1:1:100;'), ('', '3:jo:1:1:100'), "
               "('', '0:1:1:100;'), ('', ':;'), ('', '3:kim1:4:100;3:kim1:1:100;'), "
               "('', '3:amy@100=1:2,1:3:200;3:bea@x=1:1;3:cal@100=1:1;'), "
               "('', '3:dan@100=1:4:;'), ('', '3:eva@100=1:6;3:fil@100=;'), "
               "('', '3:gil@100 1:1;'), ('', '3:hal@100=1;')");
    int64_t rows;
    fold_now(f, &rows);
    assert_int_equal(rows, 17);
    char text[256];
    scores_text(f, 1, text, sizeof(text));
    /* ann's first change counts, bob's row nothing, cy's counts; a negative change adds 0;
     * fay's first part and gus's first change count (the rest of that row not), hi's part,
     * and both of kim's. With the user's time given once: amy's two changes (one at its own
     * time), then bea's time is not a number and the row stops; dan's own time is missing,
     * gil's time has no '=', hal's change no delta; eva counts, fil has no change. */
    assert_string_equal(text, "amy:5 ann:9 bob:6 cy:2 ed:0 eva:6 fay:1 gus!:2 hi:1 kim:5");
    assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 0);
}

static void the_migration_to_rows_per_user_keeps_unfolded_changes(void **state)
{
    (void)state;
    /* A store as migration 11 left it, with score log rows not yet folded. */
    struct fixture f = { .b = NULL };
    assert_int_equal(unit_store_make_at(&f.u, "boards-v11", 11), 0);
    raw_sql(&f, "INSERT INTO boards (id, app_id, metric, period, updated_at) "
                "VALUES (1, 'app', 'xp', 'all', 0);"
                "INSERT INTO board_log (board, user_id, delta, at) VALUES (1, 'ann', 5, 100), "
                "(1, 'bob', 7, 200), (1, 'ann', 2, 300);");
    int applied = 0;
    assert_int_equal(store_migrate(f.u.s, &applied, err, sizeof(err)), 0);
    assert_int_equal(applied, sqlite_migrations_count - 11);
    int64_t rows;
    assert_int_equal(store_board_log_rows(f.u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 3);
    fold_now(&f, &rows);
    char text[256];
    scores_text(&f, 1, text, sizeof(text));
    assert_string_equal(text, "ann:7 bob:7");
    unit_store_close(&f.u);
}

/* An event's awards count on every board they belong to: two awards of one track meet in one
 * change per board (one log row for the user), and every metric counts, however many (more
 * than boards_count sums at once). */
static void an_events_awards_count_on_every_board_they_belong_to(void **state)
{
    struct fixture *f = *state;
    struct game_app *app = game_app_new("app", "UTC");
    app->settings.board_currencies = true;
    char names[20][8];
    struct game_effect v[24];
    size_t n = 0;
    v[n++] = (struct game_effect){ .type = FX_XP, .name = "xp", .amount = 10 };
    v[n++] = (struct game_effect){ .type = FX_XP, .name = "xp", .amount = 5 };
    for (int i = 0; i < 20; i++) { /* twenty currencies: "currency:c0".. */
        snprintf(names[i], sizeof(names[i]), "c%d", i);
        v[n++] = (struct game_effect){ .type = FX_CURRENCY, .name = names[i], .amount = i + 1 };
    }
    v[n++] = (struct game_effect){ .type = FX_XP, .name = "xp", .amount = 100 }; /* after them */
    v[n++] = (struct game_effect){ .type = FX_XP, .name = "zero", .amount = 0 }; /* no change */
    struct game_effects fx = { v, n, n };
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(boards_count(f->b, f->u.s, app, "ann", NOW_MS, &fx, NOW_MS, err,
                                  sizeof(err)),
                     0);
    assert_int_equal(boards_batch_changes(f->b), 21 * 4); /* xp's three awards met */
    assert_int_equal(boards_flush(f->b, f->u.s, NOW_MS, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    boards_batch_end(f->b, true, NOW_MS);
    /* 21 metrics on 4 boards each (all, day, week, month), one row for ann. */
    int64_t rows;
    assert_int_equal(store_board_log_rows(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 1);
    static const char *const periods[] = { "all", "2025-11-24", "2025-W48", "2025-11" };
    /* In memory: the "all" boards; the others once read. */
    for (size_t p = 0; p < 4; p++) {
        const struct rank_index *x;
        struct rank_entry e;
        if (p) {
            assert_int_equal(boards_find(f->b, "app", "xp", periods[p], NOW_MS, &x),
                             BOARD_STORED);
            read_board(f, periods[p], NOW_MS);
        }
        assert_int_equal(boards_find(f->b, "app", "xp", periods[p], NOW_MS, &x), BOARD_LOADED);
        assert_true(rank_get(x, "ann", 3, &e, NULL));
        assert_int_equal(e.score, 115);
        for (int i = 0; i < 20; i++) {
            char metric[32];
            snprintf(metric, sizeof(metric), "currency:c%d", i);
            assert_true(p == 0 || boards_load_one(f->b, f->u.s, "app", metric, periods[p],
                                                  NOW_MS, err, sizeof(err)) == 0);
            assert_int_equal(boards_find(f->b, "app", metric, periods[p], NOW_MS, &x),
                             BOARD_LOADED);
            assert_true(rank_get(x, "ann", 3, &e, NULL));
            assert_int_equal(e.score, i + 1);
        }
        assert_int_equal(boards_find(f->b, "app", "zero", periods[p], NOW_MS, &x), BOARD_NONE);
    }
    game_app_free(app);
}

/* A user's score on (app, metric, period), loading the board when only in the store. */
static int64_t score_of(struct fixture *f, const char *app, const char *metric,
                        const char *period, const char *user)
{
    const struct rank_index *x;
    if (boards_find(f->b, app, metric, period, NOW_MS, &x) == BOARD_STORED) {
        assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
        assert_int_equal(boards_load_one(f->b, f->u.s, app, metric, period, NOW_MS, err,
                                         sizeof(err)),
                         0);
        assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
        boards_batch_end(f->b, true, NOW_MS);
    }
    assert_int_equal(boards_find(f->b, app, metric, period, NOW_MS, &x), BOARD_LOADED);
    struct rank_entry e;
    if (!rank_get(x, user, strlen(user), &e, NULL))
        return -1;
    return e.score;
}

/* Flushes the open batch, then commits it or rolls it back, and waits for its changes. */
static void end_batch(struct fixture *f, bool commit)
{
    assert_int_equal(boards_flush(f->b, f->u.s, NOW_MS, err, sizeof(err)), 0);
    if (commit)
        assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    else
        store_batch_rollback(f->u.s);
    boards_batch_end(f->b, commit, NOW_MS);
    boards_wait_applied(f->b);
}

static void count_one(struct fixture *f, struct game_app *app, const char *user, int64_t at,
                      const char *first, int64_t a, const char *second, int64_t b)
{
    struct game_effect v[2] = {
        { .type = FX_XP, .name = first, .amount = a },
        { .type = FX_CURRENCY, .name = second, .amount = b },
    };
    struct game_effects fx = { v, 2, 2 };
    assert_int_equal(boards_count(f->b, f->u.s, app, user, at, &fx, NOW_MS, err, sizeof(err)),
                     0);
}

/* Consecutive events count on the boards of their own app, metrics and periods, whatever the
 * event before counted on (boards_count keeps the last event's boards to skip their lookups):
 * another day, another app, the metrics in another order or other metrics; and after a failed
 * batch dropped the boards it created, they are created again. */
static void each_event_counts_on_its_own_boards(void **state)
{
    struct fixture *f = *state;
    struct game_app *a = game_app_new("app", "UTC"), *b = game_app_new("bpp", "UTC");
    a->settings.board_currencies = b->settings.board_currencies = true;
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    count_one(f, a, "ann", NOW_MS, "xp", 1, "coins", 2);
    count_one(f, a, "bob", NOW_MS, "xp", 10, "coins", 20);          /* the same boards */
    count_one(f, b, "ann", NOW_MS, "xp", 1000, "coins", 2000);      /* another app */
    count_one(f, a, "bob", NOW_MS, "xp", 10, "coins", 20);          /* back to the first */
    count_one(f, a, "ann", NOW_MS - DAY_MS, "xp", 100, "coins", 200); /* the day before */
    count_one(f, a, "cat", NOW_MS, "gold", 3, "coins", 4);          /* another first metric */
    count_one(f, a, "cat", NOW_MS, "xp", 5, "gems", 6);             /* another second */
    assert_int_equal(boards_flush(f->b, f->u.s, NOW_MS, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    boards_batch_end(f->b, true, NOW_MS);
    boards_wait_applied(f->b);
    assert_int_equal(score_of(f, "app", "xp", "all", "ann"), 101);
    assert_int_equal(score_of(f, "app", "xp", "2025-11-24", "ann"), 1);
    assert_int_equal(score_of(f, "app", "xp", "2025-11-23", "ann"), 100);
    assert_int_equal(score_of(f, "app", "xp", "2025-W48", "ann"), 1);
    assert_int_equal(score_of(f, "app", "xp", "2025-W47", "ann"), 100);
    assert_int_equal(score_of(f, "app", "currency:coins", "2025-11", "ann"), 202);
    assert_int_equal(score_of(f, "app", "xp", "2025-11-24", "bob"), 20);
    assert_int_equal(score_of(f, "app", "currency:coins", "all", "bob"), 40);
    assert_int_equal(score_of(f, "bpp", "xp", "2025-11-24", "ann"), 1000);
    assert_int_equal(score_of(f, "bpp", "currency:coins", "all", "ann"), 2000);
    assert_int_equal(score_of(f, "app", "gold", "all", "cat"), 3);
    assert_int_equal(score_of(f, "app", "currency:coins", "2025-11-24", "cat"), 4);
    assert_int_equal(score_of(f, "app", "xp", "2025-11", "cat"), 5);
    assert_int_equal(score_of(f, "app", "currency:gems", "2025-W48", "cat"), 6);
    /* A failed batch's new boards leave the directory; the same counts afterwards make them
     * again (the sanitizer build would see a board kept past its removal). */
    for (int commit = 0; commit < 2; commit++) {
        assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
        count_one(f, a, "dan", NOW_MS, "stars", 7, "coins", 8);
        count_one(f, a, "eve", NOW_MS, "stars", 9, "coins", 10);
        end_batch(f, commit);
    }
    assert_int_equal(score_of(f, "app", "stars", "all", "dan"), 7);
    assert_int_equal(score_of(f, "app", "stars", "2025-11-24", "eve"), 9);
    assert_int_equal(score_of(f, "app", "currency:coins", "all", "eve"), 10);
    game_app_free(a);
    game_app_free(b);
}

/* Random events against a model of what each board must hold, through the memo's every path:
 * two apps, one with two seasons; events of today, the days before and past the back-fill
 * window (their periods cut to "all" and the seasons); 1 to 22 awards an event (past the 4
 * metrics the memo keeps and the 16 boards_count sums at once), often the last event's list
 * again, shortened, lengthened or with one metric changed; a quarter of the batches rolled
 * back. */
struct expect {
    char key[160]; /* app, metric, period, user, '|'-joined */
    int64_t score;
};

static size_t pick(uint64_t *x, size_t m) /* xorshift64: 0..m-1 */
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return (size_t)(*x % m);
}

static void random_events_count_on_their_boards(void **state)
{
    struct fixture *f = *state;
    struct game_app *apps[2] = { game_app_new("app", "UTC"), game_app_new("bpp", "UTC") };
    apps[0]->settings.board_currencies = apps[1]->settings.board_currencies = true;
    apps[0]->seasons = calloc(2, sizeof(struct game_season));
    apps[0]->seasons[0] = (struct game_season){ strdup("s1"), NOW_MS - 2 * DAY_MS,
                                                NOW_MS + DAY_MS, true, NULL, false };
    apps[0]->seasons[1] = (struct game_season){ strdup("s2"), NOW_MS - 50 * DAY_MS,
                                                NOW_MS - 38 * DAY_MS, true, NULL, false };
    apps[0]->n_seasons = 2;
    static const int64_t ago[] = { 0, DAY_MS, 3 * DAY_MS, 40 * DAY_MS };
    static const char *const users[] = { "ann", "bob", "cat", "dan", "eve" };
    char names[12][8];
    for (int i = 0; i < 12; i++)
        snprintf(names[i], sizeof(names[i]), "m%d", i);
    size_t cap = 8192, n_exp = 0;
    struct expect *exp = calloc(cap, sizeof(*exp));
    struct game_effect v[22], last[22];
    size_t n_last = 0;
    uint64_t x = 0x2545f4914f6cdd1du;
#define RND(m) pick(&x, (m))
    for (int64_t batch_no = 1; batch_no <= 60; batch_no++) {
        bool commit = RND(4) != 0;
        assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
        for (size_t e = 1 + RND(8); e-- > 0;) {
            struct game_app *app = apps[RND(2)];
            const char *user = users[RND(5)];
            int64_t at = NOW_MS - ago[RND(4)];
            size_t n = n_last && RND(2) ? n_last : 1 + RND(22);
            for (size_t i = 0; i < n; i++) {
                if (i < n_last && n == n_last)
                    v[i] = last[i];
                else
                    v[i] = (struct game_effect){ .type = RND(3) ? FX_XP : FX_CURRENCY,
                                                 .name = names[RND(12)] };
                v[i].amount = 1 + (int64_t)RND(9);
            }
            if (n == n_last && RND(2)) { /* one metric changed, or the list cut short */
                if (RND(2)) {
                    size_t i = RND(n);
                    v[i].name = names[RND(12)];
                } else {
                    n = 1 + RND(n);
                }
            }
            memcpy(last, v, n * sizeof(*v));
            n_last = n;
            struct game_effects fx = { v, n, n };
            assert_int_equal(boards_count(f->b, f->u.s, app, user, at, &fx, NOW_MS, err,
                                          sizeof(err)),
                             0);
            char periods[BOARDS_MAX_PERIODS][BOARDS_PERIOD_MAX];
            size_t np = boards_event_periods(app, at, NOW_MS, periods, BOARDS_MAX_PERIODS);
            for (size_t i = 0; i < n; i++)
                for (size_t p = 0; p < np; p++) {
                    char key[160];
                    snprintf(key, sizeof(key), "%s|%s%s|%s|%s", app->app_id,
                             v[i].type == FX_XP ? "" : "currency:", v[i].name, periods[p], user);
                    size_t k = 0;
                    while (k < n_exp && strcmp(exp[k].key, key) != 0)
                        k++;
                    if (k == n_exp) {
                        assert_true(n_exp < cap);
                        snprintf(exp[n_exp].key, sizeof(exp[n_exp].key), "%s", key);
                        n_exp++;
                    }
                    if (commit) /* a rolled-back batch's changes are not kept */
                        exp[k].score += v[i].amount;
                }
        }
        end_batch(f, commit);
    }
#undef RND
    size_t checked = 0;
    for (size_t k = 0; k < n_exp; k++) {
        if (!exp[k].score)
            continue; /* only in rolled-back batches */
        char app[8], metric[32], period[64], user[8];
        assert_int_equal(sscanf(exp[k].key, "%7[^|]|%31[^|]|%63[^|]|%7s", app, metric, period,
                                user),
                         4);
        assert_int_equal(score_of(f, app, metric, period, user), exp[k].score);
        checked++;
    }
    assert_true(checked > 500);
    free(exp);
    game_app_free(apps[0]);
    game_app_free(apps[1]);
}

static void random_events_with_the_applier(void **state)
{
    random_events_count_on_their_boards(state);
}

/* A batch that commits without boards_flush (nothing runs it so today, but memory must not
 * depend on it) still applies its changes. */
static void changes_apply_without_a_flush(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(boards_add(f->b, f->u.s, "app", "xp", "all", "ann", 3, NOW_MS, err,
                                sizeof(err)),
                     0);
    assert_int_equal(boards_add(f->b, f->u.s, "app", "xp", "all", "bob", 4, NOW_MS, err,
                                sizeof(err)),
                     0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    boards_batch_end(f->b, true, NOW_MS);
    char text[256];
    board_text(f->b, "all", text, sizeof(text));
    assert_string_equal(text, "bob:4 ann:3");
}

static void period_keys_of_an_instant(void **state)
{
    (void)state;
    struct game_app *a = game_app_new("app", "UTC");
    char keys[BOARDS_MAX_PERIODS][BOARDS_PERIOD_MAX];
    /* 2025-11-30T23:30Z: Sunday of ISO week 48, last day of November. */
    int64_t t = NOW_MS + 6 * DAY_MS + 7 * HOUR_MS + HOUR_MS / 2;
    size_t n = boards_periods(a, t, keys, BOARDS_MAX_PERIODS);
    assert_int_equal(n, 4);
    assert_string_equal(keys[0], "all");
    assert_string_equal(keys[1], "2025-11-30");
    assert_string_equal(keys[2], "2025-W48");
    assert_string_equal(keys[3], "2025-11");
    /* In Tokyo it is already Monday, December 1st: another day, week and month. */
    strcpy(a->settings.board_tz, "Asia/Tokyo");
    game_app_put_season(a, "s1", NOW_MS, NOW_MS + 30 * DAY_MS, true, json_object());
    game_app_put_season(a, "off", NOW_MS, NOW_MS + 30 * DAY_MS, false, json_object());
    game_app_put_season(a, "past", NOW_MS - 30 * DAY_MS, NOW_MS, true, json_object());
    n = boards_periods(a, t, keys, BOARDS_MAX_PERIODS);
    assert_int_equal(n, 5);
    assert_string_equal(keys[1], "2025-12-01");
    assert_string_equal(keys[2], "2025-W49");
    assert_string_equal(keys[3], "2025-12");
    assert_string_equal(keys[4], "season:s1");
    assert_int_equal(boards_periods(a, t, keys, 2), 2);
    game_app_free(a);

    char today[BOARDS_PERIOD_MAX];
    boards_today(NULL, t, today);
    assert_string_equal(today, "2025-11-30");
    boards_today("Asia/Tokyo", t, today);
    assert_string_equal(today, "2025-12-01");
}

static void period_keys_that_are_valid(void **state)
{
    (void)state;
    const char *good[] = { "all", "2025-11-24", "2026-W53", "2025-12", "season:abc",
                           "2024-02-29" };
    const char *bad[] = { "", "ALL", "2025-11-31", "2025-W53", "2025-13", "season:", "2025",
                          "2025-1-1", "2023-02-29", "today" };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(boards_period_valid(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(boards_period_valid(bad[i]));
    char longest[BOARDS_PERIOD_MAX + 8];
    memset(longest, 'x', sizeof(longest) - 1);
    memcpy(longest, "season:", 7);
    longest[BOARDS_PERIOD_MAX] = '\0';
    assert_false(boards_period_valid(longest));
    longest[BOARDS_PERIOD_MAX - 1] = '\0';
    assert_true(boards_period_valid(longest));
}

static void league_outcomes(void **state)
{
    (void)state;
    int64_t after;
    /* 10 members, tier 3, 2 up and 3 down. */
    const char *want[10] = { "promoted", "promoted", "stayed", "stayed", "stayed",
                             "stayed", "stayed", "demoted", "demoted", "demoted" };
    for (size_t r = 0; r < 10; r++) {
        enum league_outcome o = league_outcome(r, 10, 3, 2, 3, &after);
        assert_string_equal(league_outcome_name(o), want[r]);
        assert_int_equal(after, o == LEAGUE_PROMOTED ? 4 : o == LEAGUE_DEMOTED ? 2 : 3);
    }
    /* Overlapping slots: promotion wins. */
    assert_int_equal(league_outcome(0, 2, 3, 1, 2, &after), LEAGUE_PROMOTED);
    assert_int_equal(league_outcome(1, 2, 3, 1, 2, &after), LEAGUE_DEMOTED);
    /* Nobody goes below tier 1 or above the top tier; no slots, no moves. */
    assert_int_equal(league_outcome(9, 10, LEAGUE_TIER_MIN, 2, 3, &after), LEAGUE_STAYED);
    assert_int_equal(after, LEAGUE_TIER_MIN);
    assert_int_equal(league_outcome(0, 10, LEAGUE_TIER_MAX, 2, 3, &after), LEAGUE_STAYED);
    assert_int_equal(after, LEAGUE_TIER_MAX);
    assert_int_equal(league_outcome(0, 10, 3, 0, 0, &after), LEAGUE_STAYED);
    assert_int_equal(league_outcome(9, 10, 3, 0, 0, &after), LEAGUE_STAYED);
}

/* The model tests again with the applier thread applying committed batches. */
static void folds_from_memory_with_the_applier(void **state)
{
    folds_from_memory_keep_the_store_exact(state);
}

static void many_users_and_batches_with_the_applier(void **state)
{
    many_users_and_batches_match_the_store(state);
}

static void large_batches_with_the_applier(void **state)
{
    large_batches_on_many_boards_match_the_store(state);
}

static void boards_readers_want_with_the_applier(void **state)
{
    boards_readers_want_are_loaded_by_the_next_batch(state);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(batch_changes_memory_only_once_committed, setup, teardown),
    cmocka_unit_test_setup_teardown(failed_batch_forgets_the_boards_it_created, setup, teardown),
    cmocka_unit_test_setup_teardown(boards_readers_want_are_loaded_by_the_next_batch, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(boards_readers_want_with_the_applier, setup_applier,
                                    teardown),
    cmocka_unit_test_setup_teardown(start_up_loads_all_time_boards_and_reads_bring_the_others,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(unread_boards_leave_memory_but_all_time_ones_stay, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(boards_loaded_by_reads_stay_within_their_budget, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(many_users_and_batches_match_the_store, setup, teardown),
    cmocka_unit_test_setup_teardown(fold_sums_hold_each_user_once, setup, teardown),
    cmocka_unit_test_setup_teardown(fold_sums_hold_each_user_once_with_the_applier,
                                    setup_applier, teardown),
    cmocka_unit_test_setup_teardown(folds_from_memory_keep_the_store_exact, setup, teardown),
    cmocka_unit_test_setup_teardown(folds_from_memory_with_the_applier, setup_applier,
                                    teardown),
    cmocka_unit_test_setup_teardown(the_applier_applies_committed_batches_on_its_thread,
                                    setup_applier, teardown),
    cmocka_unit_test_setup_teardown(many_users_and_batches_with_the_applier, setup_applier,
                                    teardown),
    cmocka_unit_test_setup_teardown(large_batches_with_the_applier, setup_applier, teardown),
    cmocka_unit_test_setup_teardown(the_score_log_is_folded_after_a_minute_and_on_reload, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(scores_stop_at_the_cap_in_memory_and_in_the_store, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(a_users_changes_on_several_boards_are_one_log_row, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(large_batches_on_many_boards_match_the_store, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(a_malformed_score_log_row_costs_only_its_own_changes, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(the_migration_to_rows_per_user_keeps_unfolded_changes, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(each_event_counts_on_its_own_boards, setup, teardown),
    cmocka_unit_test_setup_teardown(random_events_count_on_their_boards, setup, teardown),
    cmocka_unit_test_setup_teardown(random_events_with_the_applier, setup_applier, teardown),
    cmocka_unit_test_setup_teardown(an_events_awards_count_on_every_board_they_belong_to, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(changes_apply_without_a_flush, setup, teardown),
    cmocka_unit_test(period_keys_of_an_instant),
    cmocka_unit_test(period_keys_that_are_valid),
    cmocka_unit_test(league_outcomes),
};

UNIT_MAIN(tests)
