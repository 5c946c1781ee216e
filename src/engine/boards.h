/* Leaderboards in memory: one board per (app, metric, period), each an order-statistic index
 * (core/rank.h) of the app's users by score.
 *
 * What counts: every XP award (metric = the track's name) and, when the app's settings ask for
 * it (leaderboards.currencies), every currency award ("currency:<name>"; spends do not lower
 * it). An award counts on the board of every period its event falls in: "all", the day
 * "YYYY-MM-DD", the ISO week "YYYY-Www" and the month "YYYY-MM" of its occurredAt in the
 * app's leaderboard zone (leaderboards.timezone, default UTC), and "season:<id>" for each
 * active season that is not closed and whose window holds occurredAt (the first 12 that
 * overlap). An event older than
 * BOARDS_BACKFILL_MS counts on "all" and its seasons only, so back-dated events cannot create
 * boards without end. A score is the sum of the awards on that board, up to
 * BOARDS_SCORE_MAX; `at` is when the user reached it (the processing time of the batch).
 *
 * Writes follow the store: the engine adds awards during a batch (boards_add), the batch
 * writes a row per user it changed, with its changes on every board (boards_flush: scores
 * are only ever added to, so a board need not be in memory to count), and only once the
 * batch has committed does memory change (boards_batch_end).
 *
 * Which boards are in memory: every "all" board; a period's board (day, week, month, season)
 * only once something reads it, and while it is read within the retention window. A board
 * only in the store still counts every award (in the store); the first read loads it: a
 * request on the engine thread calls boards_load_one, and a reader on another thread that
 * finds it only in the store (boards_find) marks it wanted, which the next batch's
 * boards_flush loads and tells on_change of. So the moves of a board nobody reads cost
 * nothing. Start-up loads the "all" boards.
 *
 * Threads: the engine thread writes (everything marked "engine thread"), or hands a
 * committed batch's changes to the applier thread (boards_start_applier), which applies them
 * under the write lock; any thread reads under boards_read_lock. The engine thread reads
 * without the lock, after boards_load_one (which waits for the applier). */
#ifndef REACTOR_ENGINE_BOARDS_H
#define REACTOR_ENGINE_BOARDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rank.h"
#include "store/store.h"

struct game_app;
struct game_effects;
struct boards;

#define BOARDS_PERIOD_MAX 128 /* "season:<id>" and NUL; season ids are at most 100 bytes */
#define BOARDS_METRIC_MAX 300 /* bytes of a metric name ("currency:" and 64 characters) */
#define BOARDS_MAX_PERIODS 16 /* all, day, week, month and up to 12 overlapping seasons */
#define BOARDS_SCORE_MAX 9000000000000000000LL /* scores stop here (the store's too) */
#define BOARDS_BACKFILL_MS (35LL * 24 * 3600 * 1000) /* older events: "all" and seasons only */
#define BOARDS_RETENTION_DEFAULT_S (2 * 24 * 3600)
#define BOARDS_COLD_BUDGET_DEFAULT ((size_t)256 << 20)

struct boards *boards_new(int64_t retention_ms);
void boards_free(struct boards *b);

/* The memory that boards loaded back by reads (and not written since) may hold together
 * (default BOARDS_COLD_BUDGET_DEFAULT): past it, the least recently read of them leave memory
 * first. Reads can name any stored period, old days included, so without it they could fill
 * memory with boards nobody writes. Before the engine thread runs. */
void boards_set_cold_budget(struct boards *b, size_t bytes);

/* Start-up, before the engine thread runs: the directory of every board, and the scores of
 * the "all" boards. */
int boards_load(struct boards *b, struct store *st, int64_t now_ms, char *err, size_t errlen);

/* ---- the engine thread, inside a batch ---------------------------------------------------- */

/* Counts an event's effects on the boards they belong to (see above). -1 when the store
 * failed (the batch must fail). */
int boards_count(struct boards *b, struct store *st, const struct game_app *app,
                 const char *user_id, int64_t occurred_at, const struct game_effects *fx,
                 int64_t now_ms, char *err, size_t errlen);
/* Adds delta to user's score on (app, metric, period), creating the board if needed. */
int boards_add(struct boards *b, struct store *st, const char *app_id, const char *metric,
               const char *period, const char *user_id, int64_t delta, int64_t now_ms,
               char *err, size_t errlen);
/* Writes every score the open batch changed (before its commit), and loads the boards readers
 * wanted (boards_find): their loads fold the log into the open batch too. */
int boards_flush(struct boards *b, struct store *st, int64_t now_ms, char *err, size_t errlen);
/* The batch ended: `committed` applies its changes to memory, otherwise they are dropped
 * (with the boards it created). Then boards past the retention window leave memory. */
void boards_batch_end(struct boards *b, bool committed, int64_t now_ms);
/* The same, for a caller that must know when memory holds the batch's changes: true when
 * the applier thread applies them and calls done(arg) (on its thread) once they are in;
 * false when they are in already (or were dropped), and done is not called. */
typedef void boards_applied_fn(void *arg);
bool boards_batch_end_then(struct boards *b, bool committed, int64_t now_ms,
                           boards_applied_fn *done, void *arg);
/* Starts the applier thread: from then on committed batches' changes are applied to memory
 * on it, in commit order, while the engine thread goes on with the next batches (up to three
 * wait for it; a batch's end waits when there would be more). Reads on the engine thread
 * (boards_load_one, which each of them starts with), evictions and folds wait until it has
 * applied everything handed to it; readers on other threads see a batch's changes once the
 * batch is answered. Before the engine thread runs; boards_free stops it. 0, or -1 when the
 * thread cannot start. */
int boards_start_applier(struct boards *b);
/* Until memory holds every committed batch's changes (the engine thread, or any thread once
 * the engine thread has stopped). */
void boards_wait_applied(struct boards *b);

/* Called after a commit for every board the batch changed, once memory holds the change (on
 * the applier thread when there is one, else the engine thread), and on the engine thread for
 * a board brought into memory from the store (boards_load_one, or boards_flush for a board a
 * reader wanted): where the real-time hub learns what to push. Set before the engine thread
 * runs. */
typedef void boards_changed_fn(void *arg, const char *app_id, const char *metric,
                               const char *period);
void boards_on_change(struct boards *b, boards_changed_fn *fn, void *arg);
/* Called (on the reader's thread) when boards_find marks a board wanted and none was marked
 * since boards_flush last loaded the wanted ones: the engine thread should run a batch soon,
 * whose boards_flush loads it. Set before readers run. */
void boards_on_want(struct boards *b, void (*fn)(void *arg), void *arg);
/* Loads a board that is not in memory back from the store: 0 (also when it was loaded
 * already), STORE_NOT_FOUND when there is no such board, -1. */
int boards_load_one(struct boards *b, struct store *st, const char *app_id, const char *metric,
                    const char *period, int64_t now_ms, char *err, size_t errlen);

/* ---- reading ------------------------------------------------------------------------------ */

void boards_read_lock(struct boards *b);
void boards_read_unlock(struct boards *b);

enum board_state {
    BOARD_NONE,    /* no such board: nobody has a score on it */
    BOARD_LOADED,  /* in memory: *index is it */
    BOARD_STORED,  /* only in the store: boards_load_one on the engine thread */
};
/* The board's index (under the read lock, or on the engine thread). Marks it read at now_ms,
 * and a board only in the store wanted (the next batch loads it). */
enum board_state boards_find(struct boards *b, const char *app_id, const char *metric,
                             const char *period, int64_t now_ms,
                             const struct rank_index **index);

/* The period keys an instant falls in for an app (see above): "all", day, week, month, then
 * its seasons. Returns how many were written (at most max). Pure. */
size_t boards_periods(const struct game_app *app, int64_t ms, char (*keys)[BOARDS_PERIOD_MAX],
                      size_t max);
/* The periods an event that occurred at `ms` counts on when applied at now_ms: those of
 * boards_periods, but only "all" and the seasons for an event older than BOARDS_BACKFILL_MS.
 * Pure. */
size_t boards_event_periods(const struct game_app *app, int64_t ms, int64_t now_ms,
                            char (*keys)[BOARDS_PERIOD_MAX], size_t max);
/* Today's day key in zone tz ("" or NULL: UTC): the default period of a read. */
void boards_today(const char *tz, int64_t now_ms, char out[BOARDS_PERIOD_MAX]);
/* True when `period` is a key some board could have: "all", a valid day, week or month key,
 * or "season:<id>". */
bool boards_period_valid(const char *period);

/* A cursor names a position in a board (the last row of a page), so that the next page starts
 * right after it even if scores moved: "<score>.<at>.<member as lowercase hex>". */
#define BOARDS_MEMBER_MAX 512 /* bytes of a member a cursor may name */
struct buf;
void boards_cursor_write(struct buf *out, const struct rank_entry *e);
/* Parses a cursor (NUL-terminated): 0, or -1 when it is not one. member gets the name and a
 * NUL (BOARDS_MEMBER_MAX + 1 bytes). */
int boards_cursor_parse(const char *s, int64_t *score, int64_t *at, char *member, size_t *len);

/* Takes out of memory the boards other than "all" nobody read for the retention window
 * (engine thread, between batches' changes). Batches check this every minute; the
 * scheduler calls it too, so an idle engine lets go of them as well. */
void boards_evict(struct boards *b, int64_t now_ms);

/* Boards and entries held in memory, and their bytes (metrics). Any thread. */
struct boards_stats {
    uint64_t boards, loaded, entries, bytes, evictions, loads;
    uint64_t applied;           /* batches the applier thread applied */
    uint64_t apply_waits;       /* times the engine thread waited for it */
    uint64_t apply_pending;     /* batches handed to it and not yet applied */
    uint64_t wanted;            /* boards read while only in the store, not loaded yet */
    uint64_t sums;              /* (board, user) sums held in memory for the next fold */
};
void boards_stats(struct boards *b, struct boards_stats *out);
/* The open batch's changes: one per (board, user) it changed (engine thread). */
size_t boards_batch_changes(const struct boards *b);

#endif
