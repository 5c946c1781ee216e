/* The engine: applies events to the game state, exactly once and in arrival order.
 *
 * It runs on the engine thread (core/worker), the single writer that also owns the store:
 * every write — events, and the API's own store operations — is a task on that thread, and
 * the thread runs a batch of tasks inside one store transaction (group commit). Within a
 * batch the engine decides each event's outcome with a pure step (engine_step: state and
 * event in, outcome and effects out), writes the event row (which carries its outcome and
 * effects), and keeps in memory what it learned. After the commit the waiting requests are
 * answered and the effects published; if the commit fails, the memory follows the store back
 * to where it was before the batch (engine_batch_end).
 *
 * Partitions: events of one (app, user) must be applied in order by one writer. SQLite has a
 * single writer, so there is one partition and one engine thread; a backend with several
 * writers (PostgreSQL) runs one engine per partition of engine_partition(app, user).
 *
 * Threads: everything here runs on the engine thread, except the metrics collector and
 * engine_partition, which may run anywhere. */
#ifndef REACTOR_ENGINE_ENGINE_H
#define REACTOR_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include <jansson.h>

#include "engine/event.h"
#include "store/store.h"

struct tenant_registry;
struct engine;

/* ---- the pure step ------------------------------------------------------------------------ */

/* What the engine knows of a user and of the app's settings when an event arrives. */
struct engine_view {
    bool user_exists;
    bool auto_create_users;
};

/* What an event does. `effects` holds its effects in the store's compact form (core/fxpack.h;
 * game_effects_pack), empty when it has none. */
struct engine_step_result {
    enum store_event_status status; /* PROCESSED or FAILED */
    const char *error;              /* static text when FAILED */
    bool create_user;
    struct buf effects;             /* compact form, or empty for none */
};

/* Decides one event's outcome. Pure: no I/O, no clock, no global state. */
void engine_step(const struct engine_view *view, const struct event *ev,
                 struct engine_step_result *out);

/* ---- the engine ---------------------------------------------------------------------------- */

/* What happened to one event of engine_apply. */
struct engine_outcome {
    bool duplicate;             /* its key was used before: `stored` is the original */
    struct store_event stored;  /* the event row as written, or as found for a duplicate.
                                 * A duplicate's strings are its own; a new row borrows them
                                 * from the event and the app id passed to engine_apply
                                 * (keep those until the outcome is released) and owns only
                                 * its effects, in the compact form (`fx`; `effects` NULL:
                                 * store_event_effects gives their JSON) */
};

void engine_outcome_release(struct engine_outcome *o);

struct engine *engine_new(struct tenant_registry *tenants);
void engine_free(struct engine *e);
/* The most users the engine remembers (default ENGINE_USER_CACHE_DEFAULT). Past it, the table
 * is emptied after a batch and refills from the store as users come back: memory stays
 * bounded whatever user ids clients send. Before the engine thread runs. */
#define ENGINE_USER_CACHE_DEFAULT 1000000
void engine_set_user_cache_limit(struct engine *e, size_t max_users);
/* Users' state and ledger rows are logged and folded into their tables once the logs hold
 * `rows` rows or their oldest row is `ms` old (see engine.c). */
#define ENGINE_FOLD_ROWS_DEFAULT 100000
#define ENGINE_FOLD_MS_DEFAULT 60000
void engine_set_game_log_fold(struct engine *e, int64_t rows, int64_t ms);

/* How long a leaderboard other than "all" stays in memory unread (default
 * BOARDS_RETENTION_DEFAULT_S). Before engine_load. */
void engine_set_board_retention(struct engine *e, int64_t seconds);
/* Memory for boards loaded back by reads (boards_set_cold_budget). After
 * engine_set_board_retention, before engine_load. */
void engine_set_board_read_memory(struct engine *e, size_t bytes);
/* The leaderboards (engine/boards.h): I/O threads read them under their lock. */
struct boards *engine_boards(struct engine *e);

/* Start-up, before the engine thread runs: loads what the engine keeps in memory from the
 * store (the live signature nonces, the leaderboards). */
int engine_load(struct engine *e, struct store *st, int64_t now_ms, char *err, size_t errlen);

/* Claims a request's signature nonce for app `app_id` until `expires_s`, inside the open
 * batch: 0 when claimed, STORE_CONFLICT for a replay. The batch's claims are recorded in the
 * store by engine_flush, and forgotten if the batch does not commit. */
int engine_claim_nonce(struct engine *e, const char *app_id, const char *nonce, size_t nonce_len,
                       int64_t expires_s, int64_t now_s);

/* Applies n events of app `app_id`, in order, inside the store batch that is open on `st`.
 * Fills out[0..n). Returns 0, or -1 with a message when the store failed: the batch must then
 * be rolled back (the outcomes are released already). */
int engine_apply(struct engine *e, struct store *st, const char *app_id, struct event *events,
                 size_t n, struct engine_outcome *out, int64_t now_ms, char *err, size_t errlen);

/* End of a store batch: `committed` keeps what the batch taught the engine, otherwise it is
 * forgotten. `commit_ns` is how long the commit took. */
void engine_batch_end(struct engine *e, bool committed, uint64_t commit_ns);
/* The same, for a caller that answers only once memory holds the batch's leaderboard
 * changes: true when the boards' applier thread applies them and calls applied(arg) on its
 * thread once they are in (boards_batch_end_then); false when they are in already. */
bool engine_batch_end_then(struct engine *e, bool committed, uint64_t commit_ns,
                           void (*applied)(void *arg), void *arg);
/* Leaderboard changes are applied on their own thread from now on (boards_start_applier).
 * Before the engine thread runs. 0, or -1. */
int engine_start_board_applier(struct engine *e);

/* Called after the commit for every event applied (not duplicates): the seam where the
 * real-time hub and webhooks attach. Set before the engine thread starts. */
typedef void engine_publish_fn(void *arg, const char *app_id, const struct store_event *ev);
void engine_on_publish(struct engine *e, engine_publish_fn *fn, void *arg);
/* Runs the publish hook for one committed event (the answering code calls it after commit). */
void engine_publish(struct engine *e, const char *app_id, const struct store_event *ev);

/* The outbox: called inside the open batch for every event applied with effects, after its
 * row is written, so what it writes (webhook jobs) commits or rolls back with the event.
 * Returns 0, or -1 with a message when the store failed (the batch must roll back). Set
 * before the engine thread starts. */
typedef int engine_outbox_fn(void *arg, struct store *st, const char *app_id,
                             const struct store_event *ev, int64_t now_ms, char *err,
                             size_t errlen);
void engine_on_outbox(struct engine *e, engine_outbox_fn *fn, void *arg);

/* ---- the game model ------------------------------------------------------------------------
 * What the API's game routes (rules, achievements, seasons, spends, profiles) use, on the
 * engine thread inside the open batch. Memory follows the store: a batch that fails to commit
 * makes the engine forget every user and app model it touched (engine_batch_end). */

struct game_app;
struct game_user;

/* The schedule_runs name that records a season's close ("season-end:<app>:<season>"): the
 * engine counts no event on the board of a closed season. */
#define ENGINE_SEASON_END_RUN "season-end:%s:%s"

/* The app's game model, loaded from the store on first use; NULL with a message when the
 * store failed or the app does not exist. Callers may change it (definitions they just
 * wrote); it stays valid until the batch ends. */
struct game_app *engine_app(struct engine *e, struct store *st, const char *app_id, char *err,
                            size_t errlen);
/* Forgets one app's model (NULL: every app's), so that the next use reloads it: after its
 * settings changed. */
void engine_apps_forget(struct engine *e, const char *app_id);

/* A definition as the API shows it: {id, appId, ...body, createdAt, updatedAt} (new). */
json_t *engine_def_document(const char *app_id, const char *id, const json_t *body,
                            int64_t created_at, int64_t updated_at);

/* A season's window and flag from its document (startsAt, endsAt: ISO 8601; isActive). */
struct engine_season {
    int64_t starts_at, ends_at;
    bool active;
};
int engine_season_parse(const json_t *doc, struct engine_season *out);

/* A user whose stored game state does not parse (a bug or damage, logged): reads and spends
 * answer an error, events fail with a reason, and nothing is written over the stored state. */
#define ENGINE_STATE_UNREADABLE (-5)

/* The user's game state: 0, STORE_NOT_FOUND when the user does not exist,
 * ENGINE_STATE_UNREADABLE, or -1. Valid until the batch ends. */
int engine_user(struct engine *e, struct store *st, const char *app_id, const char *user_id,
                struct game_user **out, char *err, size_t errlen);
/* Before POST /users changes a user's stored attributes: the logs are read back first if
 * they must be (events are applied again with the attributes they met). 0 or -1. */
int engine_before_attributes(struct engine *e, struct store *st, char *err, size_t errlen);
/* POST /users changed a user's attributes (JSON object text): conditions see them at once, and
 * the user's state is logged with the batch (no event before is applied again after them). */
void engine_user_attributes(struct engine *e, const char *app_id, const char *user_id,
                            const char *attributes);
/* Writes what the open batch changed and has not written yet, before its commit: the nonces
 * it claimed and the state of every user it changed otherwise than by events. */
int engine_flush(struct engine *e, struct store *st, int64_t now_ms, char *err, size_t errlen);
/* Before an app's definitions (rules, achievements, seasons) or settings (time zone, levels,
 * streaks) change in the open batch: folds the game logs if they hold anything, so that
 * every event stored so far is in its user's stored state and is never applied again under
 * what is about to change (see engine.c). 0 or -1 (the batch must fail). */
int engine_settle(struct engine *e, struct store *st, char *err, size_t errlen);

/* POST /currency/spend. */
/* The user's ledger, newest first, below `before_seq` (at most `limit` rows, of `kind` if
 * not NULL), as store_ledger_page: rows still in the ledger log (see engine.c) first. */
int engine_ledger_page(struct engine *e, struct store *st, const char *app_id,
                       const char *user_id, int64_t before_seq, int limit, const char *kind,
                       void (*fn)(const struct store_ledger *, void *), void *arg, char *err,
                       size_t errlen);
/* One ledger row of a user by its sequence number (owned: store_ledger_release), wherever it
 * is; STORE_NOT_FOUND when there is none. */
int engine_ledger_get(struct engine *e, struct store *st, const char *app_id,
                      const char *user_id, int64_t seq, struct store_ledger *out, char *err,
                      size_t errlen);

struct engine_spend_req {
    const char *user_id;
    const char *currency;
    int64_t amount;            /* > 0 */
    const char *reason;
    const char *metadata;      /* JSON object text or NULL */
    const char *key;           /* idempotency key or NULL */
};
#define ENGINE_SPEND_REPLAYED 1          /* the key was used: *out is the original row */
#define ENGINE_SPEND_INSUFFICIENT (-4)   /* nothing written */
/* Takes `amount` from the user's balance and writes its ledger row (returned in *out, owned:
 * store_ledger_release, with the user it belongs to in *user_id, to free). 0,
 * ENGINE_SPEND_REPLAYED, ENGINE_SPEND_INSUFFICIENT, STORE_NOT_FOUND (no such user),
 * ENGINE_STATE_UNREADABLE (nothing written: the user's state, or the entry a recorded key
 * names, cannot be read), or -1 (the store failed: the batch must fail). */
int engine_spend(struct engine *e, struct store *st, const char *app_id,
                 const struct engine_spend_req *req, int64_t now_ms, struct store_ledger *out,
                 char **user_id, char *err, size_t errlen);

/* Sets the user's XP on every track to 0 (a season's resetXpOnStart; engine thread, open
 * batch): levels follow, a ledger row (kind xp, negative amount) of `reason` and `source` per
 * track reset; no leaderboard counts it and no webhook job is made. *tracks (may be NULL)
 * receives how many tracks were reset. 0, STORE_NOT_FOUND, ENGINE_STATE_UNREADABLE (nothing
 * written), or -1 (the store failed: the batch must fail). */
int engine_reset_xp(struct engine *e, struct store *st, const char *app_id, const char *user_id,
                    const char *reason, const char *source, int64_t now_ms, size_t *tracks,
                    char *err, size_t errlen);

/* Grants awards to a user outside an event (a season prize, engine thread, open batch):
 * xp {track: n} and currency {currency: n} (either NULL) are added as a rule's would be, with
 * ledger rows of `reason` and `source`, leaderboard counts and webhook jobs. 0,
 * STORE_NOT_FOUND (no such user), ENGINE_STATE_UNREADABLE (nothing written), or -1 (the
 * store failed: the batch must fail). */
int engine_grant(struct engine *e, struct store *st, const char *app_id, const char *user_id,
                 const json_t *xp, const json_t *currency, const char *reason,
                 const char *source, int64_t now_ms, char *err, size_t errlen);

/* A spend as the publish and outbox hooks see it: an event row of type "currency.spend" (its key
 * the transaction id, occurredAt its time) whose one effect is the currency.changed of the
 * spend ({currency, amount < 0, balance, reason, transactionId}). Borrows from user_id and
 * l; `effects` holds the effect's text (release it). */
void engine_spend_event(const char *app_id, const char *user_id, const struct store_ledger *l,
                        struct buf *effects, struct store_event *out);

/* The partition of a user (see above), in [0, partitions). */
unsigned engine_partition(const char *app_id, const char *user_id, unsigned partitions);

/* ---- metrics ------------------------------------------------------------------------------- */

/* Why an ingest request or event was refused. */
enum engine_reject {
    REJECT_MISSING_SIGNATURE,
    REJECT_BAD_TIMESTAMP,
    REJECT_EXPIRED,
    REJECT_BAD_SIGNATURE,
    REJECT_REPLAY,
    REJECT_INVALID,
    REJECT_APP_MISMATCH,
    REJECT_OVERLOADED,
    REJECT_UNAVAILABLE,
    REJECT__COUNT
};

/* Counts a refusal (any thread). */
void engine_count_reject(struct engine *e, enum engine_reject why, uint64_t n);
/* Counts events received by an I/O thread (any thread). */
void engine_count_received(struct engine *e, uint64_t n);
/* End-to-end latency of an answered event, from its receipt to its answer leaving the
 * syncer (syncer thread: the one writer of this histogram). */
void engine_observe_latency(struct engine *e, uint64_t ns);
/* The collector (core/metrics.h) of the engine's metrics. */
void engine_collect_metrics(struct buf *out, void *engine);

#endif
