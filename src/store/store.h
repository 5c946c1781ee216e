/* The store: where Forge Reactor keeps everything durable. This header is the whole interface;
 * nothing outside src/store/ writes SQL.
 *
 * Backends: SQLite (default: a file in the data directory, WAL mode, fsync on commit) and,
 * later, PostgreSQL. Callers never see which one they have. The interface is batch-oriented
 * ("apply this batch of effects atomically", "load the state of these users"): later issues
 * add those calls here, each implemented by every backend.
 *
 * Threads: a struct store is used by one thread at a time: the main thread during start-up,
 * then only the engine thread (core/worker), which also runs the readiness probe. Errors: 0 or a negative value, with a message in the optional err buffer.
 */
#ifndef REACTOR_STORE_STORE_H
#define REACTOR_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/uuid.h"

struct store;

/* Results besides 0 and -1 (failure). */
#define STORE_NOT_FOUND (-2)
#define STORE_CONFLICT (-3) /* a unique id already exists */

struct store_options {
    const char *data_dir;     /* created (0700) if missing */
    const char *database_url; /* "" or NULL = <data_dir>/reactor.db; "sqlite:<path>" */
    size_t wal_reserve;       /* bytes the WAL is given up front when smaller (0: none) */
};

/* Opens (creating if needed) the store. Does not migrate. NULL and a message on failure. */
struct store *store_open(const struct store_options *opt, char *err, size_t errlen);
void store_close(struct store *s);

/* Applies every migration newer than the store's schema, each in its own transaction.
 * `applied` (may be NULL) receives how many ran. */
int store_migrate(struct store *s, int *applied, char *err, size_t errlen);
/* The same, stopping after migration `version` (a test of a migration starts from the
 * schema before it). */
int store_migrate_to(struct store *s, int version, int *applied, char *err, size_t errlen);
/* The newest migration applied (0 for an empty store). */
int store_schema_version(struct store *s, int *version, char *err, size_t errlen);
/* The newest migration this build knows. */
int store_latest_version(void);
/* A cheap round trip proving the store answers (for /ready). */
int store_ping(struct store *s);
/* Backend name and location, for logs: "sqlite:/path/to/reactor.db". */
const char *store_describe(const struct store *s);

/* ---- batches ---------------------------------------------------------------------------
 * Group commit: the engine thread opens a batch, runs every operation that is waiting, and
 * commits once — one fsync for all of them. Operations that need to be atomic on their own
 * (an app with its key) are savepoints inside the batch, so one failing operation rolls back
 * only itself. Outside a batch every operation commits by itself. */

int store_batch_begin(struct store *s, char *err, size_t errlen);
/* False once the batch's transaction is gone: SQLite may roll a whole transaction back on
 * an I/O error, a full disk or lack of memory, after which statements would commit on their
 * own. Callers check it after each operation of a batch. */
bool store_batch_active(struct store *s);
/* Commits the batch: visible at once, durable once a store_sync that starts after this
 * returns has returned (see core/syncer.h: nothing is acknowledged before). On failure the
 * batch is rolled back whole. */
int store_batch_commit(struct store *s, char *err, size_t errlen);
/* Makes every batch committed before the call durable (one fdatasync for all of them). Safe
 * to call from one other thread while the store's own thread goes on committing. */
int store_sync(struct store *s, char *err, size_t errlen);
void store_batch_rollback(struct store *s);

/* The checkpoint thresholds the server uses (frames of the WAL): the thread copies past the
 * soft one, the engine finishes the copy past the hard one, and the WAL starts over. */
#define STORE_CHECKPOINT_SOFT 1000
#define STORE_CHECKPOINT_HARD 10000
/* Moves checkpoints (copying the WAL into the database) off the committing thread: a thread
 * with its own connection copies once the WAL reaches `soft` frames, without blocking
 * commits; past `hard` frames the committing thread finishes the copy itself so that the WAL
 * starts over (see sqlite_checkpoint.c). Until started, SQLite checkpoints in the committing
 * thread. Stopped by store_close. */
int store_checkpointer_start(struct store *s, int soft, int hard, char *err, size_t errlen);
void store_checkpointer_stop(struct store *s);
struct store_checkpoint_stats {
    int wal_frames;        /* the WAL's length after the last commit */
    uint64_t runs;         /* checkpoints the thread completed */
    uint64_t inline_runs;  /* checkpoints the committing thread ran past `hard` */
    uint64_t busy;         /* attempts that found another checkpoint running */
    double seconds;        /* time the thread spent checkpointing */
};
/* Any thread. Zeros when no checkpointer runs. */
void store_checkpointer_stats(struct store *s, struct store_checkpoint_stats *out);

/* ---- apps, API keys, users --------------------------------------------------------------
 * Rows are plain structs. Strings in rows returned by the store are owned by the row and freed
 * by the matching _release; rows passed in are borrowed. Times are Unix milliseconds. JSON
 * columns (settings, attributes) travel as serialised JSON text. */

struct store_app {
    char *id;
    char *name;
    char *settings;         /* JSON object text */
    char *default_timezone; /* IANA zone */
    char *webhook_url;      /* NULL = none */
    char *webhook_secret;   /* NULL = none; never leaves the server */
    char *webhook_events;   /* JSON array of effect types sent to the webhook; NULL = the
                             * default set (jobs/webhook.h) */
    int64_t created_at;
    int64_t updated_at;
};

enum store_role { STORE_ROLE_ADMIN, STORE_ROLE_INGEST, STORE_ROLE_READONLY };

struct store_key {
    char *id;
    char *app_id;
    char *name;
    enum store_role role;
    unsigned char hash[32]; /* SHA-256 of the secret key; the key itself is never stored */
    int64_t created_at;
    int64_t last_used_at;   /* 0 = never */
    int64_t revoked_at;     /* 0 = active */
};

struct store_user {
    char *app_id;
    char *user_id;
    char *attributes;       /* JSON object text */
    int64_t created_at;
    int64_t updated_at;
};

struct store_key_use {
    const char *key_id;
    int64_t last_used_at;
};

void store_app_release(struct store_app *a);
void store_key_release(struct store_key *k);
void store_user_release(struct store_user *u);
const char *store_role_name(enum store_role r);
/* 0 and the role, or -1 for an unknown name. */
int store_role_parse(const char *name, enum store_role *out);

/* Creates an app and its bootstrap key in one transaction. STORE_CONFLICT if the id exists. */
int store_app_create(struct store *s, const struct store_app *app, const struct store_key *key,
                     char *err, size_t errlen);
/* STORE_NOT_FOUND when absent. `out` is filled on 0 only. */
int store_app_get(struct store *s, const char *id, struct store_app *out, char *err,
                  size_t errlen);
/* Replaces the app's mutable fields (name, settings, timezone, webhook url and secret) and
 * updated_at. STORE_NOT_FOUND when absent. */
int store_app_update(struct store *s, const struct store_app *app, char *err, size_t errlen);
/* Calls fn for every app (start-up cache load). The row is valid during the call only. */
int store_apps_each(struct store *s, void (*fn)(const struct store_app *, void *), void *arg,
                    char *err, size_t errlen);

int store_key_create(struct store *s, const struct store_key *key, char *err, size_t errlen);
/* Keys of one app, oldest first, revoked ones included when `with_revoked`. */
int store_keys_each(struct store *s, const char *app_id, bool with_revoked,
                    void (*fn)(const struct store_key *, void *), void *arg, char *err,
                    size_t errlen);
/* Every active key of every app (start-up cache load). */
int store_keys_each_active(struct store *s, void (*fn)(const struct store_key *, void *),
                           void *arg, char *err, size_t errlen);
/* Marks a key of `app_id` revoked at `when`. STORE_NOT_FOUND when the app has no such active
 * key. */
int store_key_revoke(struct store *s, const char *app_id, const char *key_id, int64_t when,
                     char *err, size_t errlen);
/* Records last use times, n at once, in one transaction. */
int store_keys_touch(struct store *s, const struct store_key_use *uses, size_t n, char *err,
                     size_t errlen);

/* Inserts or replaces the user's attributes (a NULL attributes keeps them on update and means
 * {} on insert). `*created` tells which happened; `out` receives the stored row. */
int store_user_upsert(struct store *s, const char *app_id, const char *user_id,
                      const char *attributes, int64_t now, bool *created, struct store_user *out,
                      char *err, size_t errlen);
int store_user_get(struct store *s, const char *app_id, const char *user_id,
                   struct store_user *out, char *err, size_t errlen);
/* 0 when the user exists, STORE_NOT_FOUND when not. */
int store_user_exists(struct store *s, const char *app_id, const char *user_id, char *err,
                      size_t errlen);
/* Creates the user with no attributes unless it exists; `*created` tells which. */
int store_user_ensure(struct store *s, const char *app_id, const char *user_id, int64_t now,
                      bool *created, char *err, size_t errlen);

/* ---- events and nonces -------------------------------------------------------------------
 * An event row carries its outcome and effects, so applying an event writes one row. */

enum store_event_status { STORE_EVENT_RECEIVED, STORE_EVENT_PROCESSED, STORE_EVENT_FAILED };

struct store_event {
    char *app_id;
    char *idempotency_key;
    char *user_id;
    char *event_type;
    char *metadata;         /* JSON object text; NULL = {} */
    int64_t occurred_at;
    int64_t received_at;
    int64_t processed_at;   /* 0 = not yet */
    enum store_event_status status;
    char *error;            /* why it FAILED; NULL otherwise */
    char *effects;          /* JSON array text; NULL = none (or they are in `fx`) */
    unsigned char *fx;      /* or the same in the compact form (core/fxpack.h), fx_len bytes:
                             * how the engine writes an event's effects, and how the store
                             * keeps them; NULL = none (or they are in `effects`) */
    size_t fx_len;
    int64_t ledger_seq;     /* the user's ledger seq of the first XP or currency effect in
                             * its effects, which the ledger then reads from this row (see
                             * store_ledger_log); 0 = the event writes no ledger entries */
};

const char *store_event_status_name(enum store_event_status st);
void store_event_release(struct store_event *e);
/* The event's effects as a JSON array's text: `effects`, or `fx` expanded into *tmp (reset
 * first); NULL when it has none, or when `fx` is damaged (see fxpack_json). */
const char *store_event_effects(const struct store_event *e, struct buf *tmp);

/* A signature nonce an app used, until `expires_s` (Unix seconds). */
struct store_nonce {
    const char *app_id;
    const char *nonce;
    size_t nonce_len;
    int64_t expires_s;
};
/* Records the nonces a batch's requests used, as one row: each with an app id and a nonce of
 * at least one byte, and an expiry from 0 on. Whether one was used before is the engine's
 * question (it holds the live nonces in memory). */
int store_nonces_record(struct store *s, const struct store_nonce *v, size_t n, char *err,
                        size_t errlen);
typedef void store_nonce_fn(const char *app_id, const char *nonce, size_t nonce_len,
                            int64_t expires_s, void *arg);
/* Calls fn for every nonce that has not expired at `now_s` (start-up). A row whose damage
 * shows in its text is logged, and gives the nonces before the fault. */
int store_nonces_each_live(struct store *s, int64_t now_s, store_nonce_fn *fn, void *arg,
                           char *err, size_t errlen);
/* Deletes up to `limit` of the events received before `before_ms`, oldest first (event
 * retention): their idempotency keys are forgotten with them; what the ledger entries their
 * rows hold are read from is kept, where the same places find them, and an event after the
 * last fold (its entries not indexed, its change to its user's state not folded) stops the run
 * before it. Their seqs are not given again.
 * *deleted may be NULL. */
int store_events_expire(struct store *s, int64_t before_ms, int limit, int *deleted, char *err,
                        size_t errlen);
/* Forgets up to `limit` rows of nonces (store_nonces_record) that all expired before
 * `before_s`, the earliest first; `*deleted` (may be NULL) says how many rows. */
int store_nonces_expire(struct store *s, int64_t before_s, int limit, int *deleted, char *err,
                        size_t errlen);
/* Appends an event; it takes the next seq (store_event_next_seq). The key store_event_new_key
 * made last, for this seq, finds the row by itself; any other key is also indexed by (app,
 * key). STORE_CONFLICT when the app already has an event with such a key (nothing is
 * written); a key that names its row is not checked: it is new by construction. */
int store_event_insert(struct store *s, const struct store_event *e, char *err, size_t errlen);
/* The seq the next inserted event takes. Within a batch it moves only with inserts; a
 * rolled-back batch gives its seqs back. */
int store_event_next_seq(struct store *s, int64_t *seq, char *err, size_t errlen);
/* The key the server gives the next inserted event (core/uuid.h, uuid_v7_seq: the seq hidden
 * with a secret the store keeps in meta, made on first use). */
int store_event_new_key(struct store *s, int64_t received_ms, char out[UUID_LEN + 1],
                        char *err, size_t errlen);
/* The event of an app with that idempotency key; STORE_NOT_FOUND when none. */
int store_event_get(struct store *s, const char *app_id, const char *key, struct store_event *out,
                    char *err, size_t errlen);

/* ---- the game model ----------------------------------------------------------------------
 * Definitions (rules, achievements, seasons) are JSON documents of an app, by kind and id.
 * A user's game state is one JSON document (engine/game.h owns its shape), written once per
 * batch in which it changed. The ledger has a row per XP or currency change of a user, with
 * a per-user sequence number (seq, from 1) that orders it. */

enum store_def_kind { STORE_DEF_RULE, STORE_DEF_ACHIEVEMENT, STORE_DEF_SEASON };

struct store_def {
    char *id;
    char *body;             /* JSON object text */
    int64_t created_at;
    int64_t updated_at;
};

void store_def_release(struct store_def *d);
/* Inserts, or replaces the body and updated_at of, a definition (created_at is kept). */
int store_def_put(struct store *s, const char *app_id, enum store_def_kind kind,
                  const struct store_def *d, char *err, size_t errlen);
/* STORE_NOT_FOUND when the app has no such definition. */
int store_def_delete(struct store *s, const char *app_id, enum store_def_kind kind,
                     const char *id, char *err, size_t errlen);
/* Calls fn for every definition of one kind of an app, oldest first. The row is valid during
 * the call only. */
int store_defs_each(struct store *s, const char *app_id, enum store_def_kind kind,
                    void (*fn)(const struct store_def *, void *), void *arg, char *err,
                    size_t errlen);

/* A user's attributes and game state: 0 with *attributes (JSON text) and *state (JSON text,
 * or NULL when the user has none yet), both to free(), and *through (may be NULL) the seq of
 * the last event the state holds (0: none said; see store_game_replay); STORE_NOT_FOUND when
 * the user does not exist. */
int store_user_load(struct store *s, const char *app_id, const char *user_id,
                    char **attributes, char **state, int64_t *through, char *err,
                    size_t errlen);
/* Writes a user's state, which holds every event up to seq `through`. */
int store_user_state_put(struct store *s, const char *app_id, const char *user_id,
                         const char *state, int64_t through, int64_t now, char *err,
                         size_t errlen);
/* The state log holds one row per batch with the states of users it changed otherwise than
 * by events (a spend, a grant, a reset, new attributes: see store_game_replay), each holding
 * every event up to seq `through`. Until the log is folded, store_user_load does not see
 * them: the caller keeps those users in memory meanwhile. store_states_add appends a user's
 * state (JSON object text) to `states`, which starts empty; store_user_states_log writes them
 * all as one row (nothing when empty; `states` is then spent: reset it before reuse). */
void store_states_add(struct buf *states, const char *app_id, const char *user_id,
                      const char *state, size_t state_len, int64_t now);
int store_user_states_log(struct store *s, struct buf *states, int64_t through, char *err,
                          size_t errlen);
/* An event changes its user's state without a row of the state log: a user's state in the
 * store (game_users, or the state log folded into it) holds the events up to its `through`,
 * and the ones after it are applied again from their rows when the logs are read back
 * (the engine's fold at start-up). store_game_events_mark gives the seq every state folded
 * from memory holds (the last event stored at the last such fold; meta's
 * 'ledger_events_indexed_through'): only events after it may need applying again, and
 * retention keeps them. store_game_replay calls fn for each processed event after `after`,
 * in seq order, with the event as stored (its fields borrowed for the call) and its seq;
 * fn returns 0 to go on, or -1 to stop (then -1 is returned). */
int store_game_events_mark(struct store *s, int64_t *mark, char *err, size_t errlen);
int store_game_replay(struct store *s, int64_t after,
                      int (*fn)(const struct store_event *ev, int64_t seq, void *arg),
                      void *arg, char *err, size_t errlen);

struct store_ledger {
    int64_t seq;
    char *id;               /* a UUID, what the API shows */
    const char *kind;       /* "xp" or "currency" (static) */
    char *name;             /* track or currency */
    int64_t amount;         /* negative for a spend */
    int64_t balance_after;  /* the track's total XP or the currency's balance after it */
    char *reason;           /* "rule", "achievement", "spend"'s reason, ... */
    char *source;           /* the event's idempotency key or the spend's; NULL = none */
    char *ref;              /* the rule id or achievement code; NULL = none */
    char *metadata;         /* JSON object text; NULL = none */
    int64_t created_at;
};

/* Entries passed in are borrowed; entries read are owned (store_ledger_release) unless said
 * otherwise. */
void store_ledger_release(struct store_ledger *l);
/* An owned copy of an entry (release it). */
void store_ledger_dup(const struct store_ledger *from, struct store_ledger *to);
/* Appends one write to the ledger (its n >= 1 entries, consecutive seqs of one user: a grant,
 * a spend) as one row of the ledger log, *lseq receiving its place there. The row stays
 * there; until the log is folded only the logged reads below find it, after that
 * store_ledger_page and store_ledger_get do too.
 * An event's XP and currency entries are not written again: its row's effects hold them, from
 * its ledger_seq on (store_event), and its place in the ledger is the event's seq negated
 * (STORE_LEDGER_EVENT). Read back, entry k of such an event (k = 0, 1, ...: its XP and
 * currency effects in order) has seq ledger_seq + k, a UUID made from the event's seq, its
 * processing time and k, kind and name from the effect, the effect's amount, its totalXp or
 * balance as balance_after, the effect's source as reason ("achievement" when it names none)
 * and its ruleId or achievementCode as ref, the event's key as source, no metadata, and the
 * event's processing time as created_at, as the engine would have written them. */
#define STORE_LEDGER_EVENT(seq) (-(int64_t)(seq))
int store_ledger_log(struct store *s, const char *app_id, const char *user_id,
                     const struct store_ledger *v, size_t n, int64_t *lseq, char *err,
                     size_t errlen);
/* The entries of the logged row at lseq, newest first, to fn (borrowed: valid during the
 * call) until it returns false: 0, STORE_NOT_FOUND when there is no such row, or -1. */
int store_ledger_logged(struct store *s, int64_t lseq,
                        bool (*fn)(const struct store_ledger *, void *), void *arg, char *err,
                        size_t errlen);
/* The entry `seq` of the logged row at lseq (owned); STORE_NOT_FOUND when absent. */
int store_ledger_logged_get(struct store *s, int64_t lseq, int64_t seq, struct store_ledger *out,
                            char *err, size_t errlen);
/* A page's part in the logged row at lseq: its entries with seq < *before_seq, newest first, of
 * one kind or both (NULL), to fn until *limit is 0; *before_seq and *limit move on past what it
 * read. A row that is not there reads as empty. */
int store_ledger_page_logged(struct store *s, int64_t lseq, int64_t *before_seq, int *limit,
                             const char *kind, void (*fn)(const struct store_ledger *, void *),
                             void *arg, char *err, size_t errlen);
/* Folds the logs: each user's newest logged state into game_users (the state log is emptied),
 * and the ledger rows logged since the last fold into the ledger's index (one index row per
 * user; the rows stay where they are); all or nothing. *rows (may be NULL) receives how many
 * users' states and ledger rows it folded. In the open batch, if any. */
int store_game_fold(struct store *s, int64_t *rows, char *err, size_t errlen);
/* The two halves for a caller that holds every logged state in memory: it writes them with
 * store_user_state_put, then empties the state log (store_state_log_clear) and indexes the
 * ledger rows written since the last fold (store_ledger_fold; *rows, may be NULL, receives
 * how many ledger rows it indexed). In the open batch: its failure fails the batch. */
int store_state_log_clear(struct store *s, char *err, size_t errlen);
int store_ledger_fold(struct store *s, int64_t *rows, char *err, size_t errlen);
/* Or, for a caller that also knows every ledger row logged and every event with entries
 * stored since the last fold (its place and its user): each user's rows go into the index
 * with store_ledger_index_user (first_seq: the seq of the first entry of its first row;
 * lseqs: the rows' places, in seq order), and the last ledger log place (0: none) with
 * store_ledger_indexed_through, which also counts every event stored so far as indexed,
 * instead of store_ledger_fold. */
int store_ledger_index_user(struct store *s, const char *app_id, const char *user_id,
                            int64_t first_seq, const int64_t *lseqs, size_t n, char *err,
                            size_t errlen);
int store_ledger_indexed_through(struct store *s, int64_t through, char *err, size_t errlen);
/* Up to `limit` folded entries of a user with seq < before_seq, newest first, of one kind
 * ("xp", "currency") or both (NULL). fn gets each entry, valid during the call. */
int store_ledger_page(struct store *s, const char *app_id, const char *user_id,
                      int64_t before_seq, int limit, const char *kind,
                      void (*fn)(const struct store_ledger *, void *), void *arg, char *err,
                      size_t errlen);
/* One folded entry (owned); STORE_NOT_FOUND when absent. */
int store_ledger_get(struct store *s, const char *app_id, const char *user_id, int64_t seq,
                     struct store_ledger *out, char *err, size_t errlen);

/* Spend idempotency: records that key names the ledger row (user, seq); STORE_CONFLICT when
 * the key is taken (nothing written). */
int store_spend_key_put(struct store *s, const char *app_id, const char *key,
                        const char *user_id, int64_t seq, char *err, size_t errlen);
/* 0 with *user_id (free it) and *seq, or STORE_NOT_FOUND. */
int store_spend_key_get(struct store *s, const char *app_id, const char *key, char **user_id,
                        int64_t *seq, char *err, size_t errlen);

/* ---- leaderboards ------------------------------------------------------------------------
 * A board is one (app, metric, period), named in the store by a small integer id. Scores are
 * only ever added to: a batch appends its changes to a log (one row per user it changed,
 * holding that user's changes on every board), which is folded into the scores from time to
 * time; a board need not be in memory for an event to count on it. */

struct store_board {
    int64_t id;
    const char *app_id, *metric, *period; /* valid during the callback */
    int64_t updated_at;
};

/* Creates the board (app, metric, period) and returns its id: STORE_CONFLICT when it exists
 * (nothing written). */
int store_board_create(struct store *s, const char *app_id, const char *metric,
                       const char *period, int64_t now, int64_t *id, char *err, size_t errlen);
/* Records that the board changed at `now` (start-up loads recently changed boards). */
int store_board_touch(struct store *s, int64_t id, int64_t now, char *err, size_t errlen);
/* Calls fn for every board of every app. */
int store_boards_each(struct store *s, void (*fn)(const struct store_board *, void *),
                      void *arg, char *err, size_t errlen);
/* A change of a user's score on a board: `delta` added, reached at `at`. */
struct buf;
struct store_board_change {
    int64_t board, delta, at;
};
/* A batch's changes go to the score log as one row (the scores count from the commit on;
 * board_scores has them once the log is folded): store_board_log_user appends one user's
 * changes, on any number of boards, to `row` (which starts empty), and store_board_log writes
 * the row, *seq getting its place in the log. */
void store_board_log_user(struct buf *row, const char *user_id, size_t len,
                          const struct store_board_change *v, size_t n);
int store_board_log(struct store *s, const struct buf *row, int64_t *seq, char *err,
                    size_t errlen);
/* One (board, user)'s changes summed: `user` is NUL-terminated, `len` bytes long. */
struct store_board_sum {
    int64_t board;
    const char *user;
    size_t len;
    int64_t delta, at;
};
/* The fold when the caller has summed the log's rows up to `through` (their place) itself:
 * adds each sum to board_scores as store_board_fold does, and removes those rows, all or
 * nothing. The sums are sorted here, in (board, user) order, so the upserts walk
 * board_scores once. Inside a batch. */
int store_board_fold_sums(struct store *s, struct store_board_sum *v, size_t n,
                          int64_t through, int64_t cap, char *err, size_t errlen);
/* Folds the whole log into board_scores (each (board, user) adds the sum of its changes,
 * stopping at `cap`, and takes the time of its last) and empties it, all or nothing; *rows
 * (may be NULL) gets how many it held. Inside a batch only. Changes are >= 0. */
int store_board_fold(struct store *s, int64_t cap, int64_t *rows, char *err, size_t errlen);
/* Rows in the log. */
int store_board_log_rows(struct store *s, int64_t *rows, char *err, size_t errlen);
/* Calls fn for every score of a board in board_scores (user id valid during the call): fold
 * the log first to see every change. */
int store_board_scores_each(struct store *s, int64_t board,
                            void (*fn)(const char *user_id, size_t len, int64_t score,
                                       int64_t at, void *arg),
                            void *arg, char *err, size_t errlen);

/* ---- leagues ------------------------------------------------------------------------------
 * A league's body is its JSON document (name, tier, seasonId, slots...); tier and season key
 * ("" when the league has no season) are columns for the queries below. A user is in at most
 * one league per season key. */

struct store_league {
    char *id;
    char *body;             /* JSON object text */
    int64_t tier;
    char *season_key;
    int64_t created_at, updated_at;
    int64_t settled_at;     /* 0: not settled */
    int64_t members;        /* read only: how many members it has */
};

struct store_league_result {
    const char *user_id;
    int64_t rank;           /* 1-based */
    int64_t score;
    const char *outcome;    /* "promoted", "stayed", "demoted" */
    int64_t tier_after;
};

void store_league_release(struct store_league *l);
/* Inserts the league, or replaces its body, tier, season key and updated_at. */
int store_league_put(struct store *s, const char *app_id, const struct store_league *l,
                     char *err, size_t errlen);
/* STORE_NOT_FOUND when absent. */
int store_league_get(struct store *s, const char *app_id, const char *id,
                     struct store_league *out, char *err, size_t errlen);
/* Deletes the league with its members and results: STORE_NOT_FOUND when absent. */
int store_league_delete(struct store *s, const char *app_id, const char *id, char *err,
                        size_t errlen);
/* The app's leagues, oldest first; only those of `tier` (>= 0) and `season_key` (non-NULL)
 * when given. The row is valid during the call. */
int store_leagues_each(struct store *s, const char *app_id, int64_t tier,
                       const char *season_key,
                       void (*fn)(const struct store_league *, void *), void *arg, char *err,
                       size_t errlen);
/* STORE_CONFLICT when the user is in a league of that season key already. */
int store_league_member_add(struct store *s, const char *app_id, const char *league_id,
                            const char *user_id, const char *season_key, int64_t now,
                            char *err, size_t errlen);
/* STORE_NOT_FOUND when the user is not a member. */
int store_league_member_remove(struct store *s, const char *app_id, const char *league_id,
                               const char *user_id, char *err, size_t errlen);
/* The league the user is in for a season key: 0 and *league_id (free it), or
 * STORE_NOT_FOUND. */
int store_league_of_user(struct store *s, const char *app_id, const char *season_key,
                         const char *user_id, char **league_id, char *err, size_t errlen);
/* The members, in the order they joined. */
int store_league_members_each(struct store *s, const char *app_id, const char *league_id,
                              void (*fn)(const char *user_id, int64_t joined_at, void *arg),
                              void *arg, char *err, size_t errlen);
/* Records a member's result (settling). */
int store_league_result_put(struct store *s, const char *app_id, const char *league_id,
                            const struct store_league_result *r, char *err, size_t errlen);
/* The results by rank. */
int store_league_results_each(struct store *s, const char *app_id, const char *league_id,
                              void (*fn)(const struct store_league_result *, void *),
                              void *arg, char *err, size_t errlen);
/* Marks the league settled at `now`: STORE_CONFLICT when it was already. */
int store_league_settle(struct store *s, const char *app_id, const char *league_id,
                        int64_t now, char *err, size_t errlen);

/* ---- the audit trail ----------------------------------------------------------------------
 * One row per change: who (actor), what (action, resource), when, the resource before and
 * after as JSON text, and the request that made it. A row is written by the same task as the
 * change it records, inside the same batch, so the two commit or roll back together: a caller
 * whose audit write fails must fail the batch (api_call_fail_batch), never answer success.
 * Events are not audited here: the events table is their log. Rows are ordered by id (the
 * order they were written); "newest first" means highest id first. */

#define STORE_AUDIT_ACTOR_SYSTEM "system"     /* scheduled and internal work */
#define STORE_AUDIT_ACTOR_OPERATOR "operator" /* the operator token (POST /apps) */
#define STORE_AUDIT_ACTOR_SIGNUP "signup"     /* POST /apps without the token (open signup) */

struct store_audit {
    int64_t id;                /* set by the store on reads; ignored by store_audit_write */
    const char *app_id;
    int64_t at;                /* Unix ms */
    const char *actor;         /* an API key id, STORE_AUDIT_ACTOR_OPERATOR or _SYSTEM */
    const char *action;        /* "<resource>.<verb>": "app.create", "key.revoke", ... */
    const char *resource_type; /* "app", "key", "rule", "user", "league", ... */
    const char *resource_id;
    const char *before;        /* JSON text; NULL = not applicable (a creation) */
    const char *after;         /* JSON text; NULL = not applicable (a deletion) */
    const char *request_id;    /* NULL for system actions */
};

/* Appends one row; every string is borrowed. Call it on the store's thread, inside the batch
 * (or the transaction) of the change it records. 0, or -1 with a message. Example, a season's
 * results recorded by the scheduler:
 *     struct store_audit row = { .app_id = app, .at = now, .actor = STORE_AUDIT_ACTOR_SYSTEM,
 *                                .action = "season.results", .resource_type = "season",
 *                                .resource_id = season_id, .after = results_json };
 *     if (store_audit_write(st, &row, err, sizeof(err)) < 0) ...fail the batch... */
int store_audit_write(struct store *s, const struct store_audit *row, char *err,
                      size_t errlen);

/* What GET /audit selects. NULL strings and 0 times match everything. */
struct store_audit_filter {
    const char *app_id;        /* NULL = every app (the operator) */
    const char *actor;
    const char *action;        /* exact, or a prefix when action_prefix */
    bool action_prefix;        /* "league." matches "league.create", "league.settle"... */
    const char *resource_type;
    const char *resource_id;   /* only with resource_type */
    int64_t from_ms;           /* at >= from_ms */
    int64_t to_ms;             /* at < to_ms; 0 = no bound */
    int64_t before_id;         /* id < before_id (the cursor); 0 = from the newest */
};

/* Calls fn for up to `limit` rows matching f, newest first. The row is valid during the call
 * only. *n (may be NULL) receives how many were passed to fn. */
int store_audit_page(struct store *s, const struct store_audit_filter *f, int limit,
                     void (*fn)(const struct store_audit *, void *), void *arg, int *n,
                     char *err, size_t errlen);

/* Deletes up to `limit` of the oldest rows written before `before_ms`; *deleted (may be NULL)
 * says how many (fewer than limit: nothing older is left). */
int store_audit_prune(struct store *s, int64_t before_ms, int limit, int64_t *deleted,
                      char *err, size_t errlen);
/* ---- jobs, webhook deliveries, schedule runs ----------------------------------------------
 * A durable queue (jobs/jobs.h owns the life cycle). States: queued (waiting for run_at),
 * running (claimed; attempts counts it), failed (an attempt failed, retried at run_at),
 * succeeded, dead (out of attempts, or refused for good). Jobs with the same order_key run
 * one at a time in id order: a job is ready only when no older job of its key is open
 * (queued, failed or running). app_id "" marks a system job.
 *
 * Claiming: SQLite has one writer (the engine thread), so reading the ready jobs and marking
 * them running inside its transaction is atomic. A backend with several writers claims with
 * one UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING, and takes over
 * jobs whose lease_until has passed (another node died holding them). */

enum store_job_state {
    STORE_JOB_QUEUED,
    STORE_JOB_RUNNING,
    STORE_JOB_SUCCEEDED,
    STORE_JOB_FAILED,
    STORE_JOB_DEAD,
    STORE_JOB__COUNT
};

struct store_job {
    int64_t id;
    char *kind;
    char *app_id;
    char *order_key;        /* NULL = no ordering */
    char *payload;          /* JSON text */
    enum store_job_state state;
    int attempts, max_attempts;
    int64_t run_at;
    int64_t claimed_at;     /* 0 = never */
    char *last_error;       /* NULL = none */
    int64_t created_at, updated_at;
};

const char *store_job_state_name(enum store_job_state st);
/* 0 and the state, or -1 for an unknown name. */
int store_job_state_parse(const char *name, enum store_job_state *out);
void store_job_release(struct store_job *j);

/* run_at of a job waiting behind an older open job of its order key: it is out of the claim
 * scan (so a long backlog of one key costs nothing per claim) until the older one succeeds or
 * dies, which makes the next one due. */
#define STORE_JOB_WAITING INT64_MAX

/* Inserts a queued job (kind, app_id, order_key, payload, max_attempts, run_at, created_at
 * are read from j; run_at becomes STORE_JOB_WAITING behind an open job of the same key);
 * *id (may be NULL) receives its id. */
int store_job_insert(struct store *s, const struct store_job *j, int64_t *id, char *err,
                     size_t errlen);
/* Claims up to `limit` ready jobs (run_at <= now), oldest due first: each becomes running with
 * one more attempt, claimed at `now` until `lease_until`. fn gets each claimed row (valid
 * during the call). *n (may be NULL) receives how many. */
int store_jobs_claim(struct store *s, int64_t now, int64_t lease_until, int limit,
                     void (*fn)(const struct store_job *, void *), void *arg, int *n,
                     char *err, size_t errlen);
/* Records the end of a running job's attempt: `state` (SUCCEEDED, FAILED with the retry time
 * in run_at, DEAD), the error (NULL = none); SUCCEEDED and DEAD make the next job of its order
 * key due at `now`. STORE_NOT_FOUND when the job is not running. */
int store_job_finish(struct store *s, int64_t id, enum store_job_state state, int64_t run_at,
                     const char *error, int64_t now, char *err, size_t errlen);
/* Puts a running job back in the queue without counting its attempt (graceful shutdown). */
int store_job_return(struct store *s, int64_t id, int64_t now, char *err, size_t errlen);
/* Start-up: every job left running by a process that died is queued again (its attempt
 * stays counted, so a job that kills the process cannot loop forever). */
int store_jobs_recover(struct store *s, int64_t now, int *n, char *err, size_t errlen);
/* An app's jobs, newest first, with id < before (0 = from the newest), of one state
 * (negative = any) and kind (NULL = any). */
int store_jobs_page(struct store *s, const char *app_id, int state, const char *kind,
                    int64_t before, int limit, void (*fn)(const struct store_job *, void *),
                    void *arg, char *err, size_t errlen);
/* One job of an app (owned: store_job_release); STORE_NOT_FOUND when absent. */
int store_job_get(struct store *s, const char *app_id, int64_t id, struct store_job *out,
                  char *err, size_t errlen);
/* Queues a dead job again with its attempts reset: STORE_NOT_FOUND when the app has no such
 * job, STORE_CONFLICT when it is not dead. */
int store_job_retry(struct store *s, const char *app_id, int64_t id, int64_t now, char *err,
                    size_t errlen);
/* Jobs by kind and state, whole store. */
int store_jobs_count(struct store *s,
                     void (*fn)(const char *kind, enum store_job_state st, int64_t n, void *arg),
                     void *arg, char *err, size_t errlen);
/* Deletes up to `limit` jobs that succeeded before `before`; *deleted may be NULL. */
int store_jobs_purge(struct store *s, int64_t before, int limit, int *deleted, char *err,
                     size_t errlen);

/* One webhook attempt. */
struct store_delivery {
    int64_t seq;            /* read only */
    const char *app_id;
    int64_t job_id;
    const char *webhook_id;  /* the webhook's id: the same for every attempt */
    const char *delivery_id; /* this attempt's */
    const char *event_type;
    const char *url;
    int attempt;
    int status_code;        /* 0: no HTTP answer */
    int64_t latency_ms;
    const char *error;      /* NULL when it succeeded */
    int64_t at;
};

int store_delivery_insert(struct store *s, const struct store_delivery *d, char *err,
                          size_t errlen);
/* An app's attempts, newest first, seq < before (0 = from the newest). Rows are valid during
 * the call. */
int store_deliveries_page(struct store *s, const char *app_id, int64_t before, int limit,
                          void (*fn)(const struct store_delivery *, void *), void *arg,
                          char *err, size_t errlen);
int store_deliveries_purge(struct store *s, int64_t before, int limit, int *deleted,
                           char *err, size_t errlen);

/* Records that `schedule` ran its slot (a time, Unix ms): 0, or STORE_CONFLICT when that slot
 * ran before (nothing written). */
int store_schedule_run(struct store *s, const char *schedule, int64_t slot, int64_t now,
                       char *err, size_t errlen);
/* The newest slot recorded for the schedule: 0 and *slot, or STORE_NOT_FOUND. */
int store_schedule_last(struct store *s, const char *schedule, int64_t *slot, char *err,
                        size_t errlen);
/* The newest run of the schedule: 0 with its slot and when it ran (either may be NULL), or
 * STORE_NOT_FOUND. */
int store_schedule_ran(struct store *s, const char *schedule, int64_t *slot, int64_t *ran_at,
                       char *err, size_t errlen);

/* ---- season results (written once, when the scheduler closes a season) -------------------- */

struct store_season_result {
    const char *app_id, *season_id; /* borrowed */
    int64_t rank;                   /* 1-based position on the season's board */
    const char *metric;
    const char *user_id;
    int64_t score;
    const char *prize;              /* JSON text of what was granted; NULL = no prize */
    int64_t closed_at;
};

/* Records that the season's XP reset reset the user's XP: 0, or STORE_CONFLICT when it had
 * (nothing written). */
int store_season_reset_mark(struct store *s, const char *app_id, const char *season_id,
                            const char *user_id, int64_t now, char *err, size_t errlen);
/* Whether the season's XP reset reached the user: 0 (it did), STORE_NOT_FOUND, or -1. */
int store_season_reset_has(struct store *s, const char *app_id, const char *season_id,
                           const char *user_id, char *err, size_t errlen);
/* How many users the season's XP reset reached. */
int store_season_reset_count(struct store *s, const char *app_id, const char *season_id,
                             int64_t *n, char *err, size_t errlen);
/* Calls fn with the ids of up to `limit` users of the app after `after` ("" = from the
 * first), in id order; *n (may be NULL) receives how many. */
int store_user_ids_after(struct store *s, const char *app_id, const char *after, int limit,
                         void (*fn)(const char *user_id, void *), void *arg, int *n, char *err,
                         size_t errlen);

/* Appends one row of a season's results: 0, or -1 (a repeated rank is a failure). */
int store_season_result_put(struct store *s, const struct store_season_result *r, char *err,
                            size_t errlen);
/* Calls fn for up to `limit` rows of the season from the `offset`-th, by rank (the row is
 * valid during the call only); *total (may be NULL) receives how many rows it has. */
int store_season_results_page(struct store *s, const char *app_id, const char *season_id,
                              int limit, int offset,
                              void (*fn)(const struct store_season_result *, void *), void *arg,
                              int64_t *total, char *err, size_t errlen);

#endif
