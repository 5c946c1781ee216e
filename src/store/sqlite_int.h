/* Private to the SQLite backend: the store struct and statement helpers shared by its files.
 *
 * Statements are prepared once, on first use, and kept for the life of the connection
 * (SQLITE_PREPARE_PERSISTENT); stmt() hands one out reset and with bindings cleared. A store
 * is used by one thread at a time, so the cache needs no lock. */
#ifndef REACTOR_STORE_SQLITE_INT_H
#define REACTOR_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/jread.h"
#include "core/uuid.h"

enum stmt_id {
    ST_APP_INSERT,
    ST_APP_GET,
    ST_APP_UPDATE,
    ST_APP_ALL,
    ST_KEY_INSERT,
    ST_KEY_LIST,
    ST_KEY_LIST_ACTIVE,
    ST_KEY_ALL_ACTIVE,
    ST_KEY_REVOKE,
    ST_KEY_TOUCH,
    ST_USER_INSERT,
    ST_USER_UPDATE,
    ST_USER_GET,
    ST_USER_EXISTS,
    ST_USER_CREATE,
    ST_NONCE_INSERT,
    ST_NONCE_LIVE,
    ST_NONCE_EXPIRE,
    ST_EVENT_INSERT,
    ST_EVENT_KEY_INSERT,
    ST_EVENT_GET,
    ST_EVENT_LAST_SEQ,
    ST_EVENTS_DELETED_SET,
    ST_EVENT_SECRET_GET,
    ST_EVENT_SECRET_PUT,
    ST_DEF_PUT,
    ST_DEF_DELETE,
    ST_DEF_LIST,
    ST_USER_LOAD,
    ST_STATE_PUT,
    ST_LEDGER_PAGE,
    ST_LEDGER_PAGE_KIND,
    ST_LEDGER_GET,
    ST_SPEND_KEY_PUT,
    ST_SPEND_KEY_GET,
    ST_STATE_LOG,
    ST_LEDGER_LOG,
    ST_LEDGER_LOGGED,
    ST_LEDGER_ROW_FIRST,
    ST_LEDGER_EVENT,
    ST_LEDGER_EVENT_FIRST,
    ST_LEDGER_MOVED_GET,
    ST_LEDGER_MOVED_FIRST,
    ST_LEDGER_MOVED_PUT,
    ST_GAME_REPLAY,
    ST_LEDGER_EVENTS_INDEXED_GET,
    ST_LEDGER_EVENTS_INDEXED_SET,
    ST_FOLD_STATE,
    ST_FOLD_STATE_CLEAR,
    ST_FOLD_STATE_BAD,
    ST_LEDGER_UNINDEXED,
    ST_LEDGER_INDEX_PUT,
    ST_LEDGER_INDEXED_GET,
    ST_LEDGER_INDEXED_SET,
    ST_LEDGER_INDEX_PAGE,
    ST_LEDGER_INDEX_AT,
    ST_BOARD_CREATE,
    ST_BOARD_TOUCH,
    ST_BOARD_ALL,
    ST_BOARD_LOG,
    ST_BOARD_LOG_SCAN,
    ST_BOARD_FOLD,
    ST_BOARD_LOG_CLEAR_THROUGH,
    ST_BOARD_LOG_ROWS,
    ST_BOARD_SCORES,
    ST_LEAGUE_PUT,
    ST_LEAGUE_GET,
    ST_LEAGUE_DELETE,
    ST_LEAGUE_DELETE_MEMBERS,
    ST_LEAGUE_DELETE_RESULTS,
    ST_LEAGUE_LIST,
    ST_MEMBER_ADD,
    ST_MEMBER_REMOVE,
    ST_MEMBER_OF,
    ST_MEMBER_LIST,
    ST_RESULT_PUT,
    ST_RESULT_LIST,
    ST_LEAGUE_SETTLE,
    ST_AUDIT_INSERT,
    ST_AUDIT_PRUNE,
    ST_EVENTS_OLDEST,
    ST_EVENT_KEYS_EXPIRE,
    ST_EVENTS_EXPIRE,
    ST_JOB_INSERT,
    ST_JOB_OPEN_OF_KEY,
    ST_JOB_PROMOTE,
    ST_JOB_READY,
    ST_JOB_CLAIM,
    ST_JOB_FINISH,
    ST_JOB_RETURN,
    ST_JOB_RECOVER,
    ST_JOB_PAGE,
    ST_JOB_GET,
    ST_JOB_RETRY,
    ST_JOB_COUNTS,
    ST_JOB_PURGE,
    ST_DELIVERY_INSERT,
    ST_DELIVERY_PAGE,
    ST_DELIVERY_PURGE,
    ST_SCHEDULE_RUN,
    ST_SCHEDULE_LAST,
    ST_SCHEDULE_RAN,
    ST_SEASON_RESULT_PUT,
    ST_SEASON_RESULT_PAGE,
    ST_SEASON_RESULT_COUNT,
    ST_SEASON_RESET_MARK,
    ST_SEASON_RESET_HAS,
    ST_SEASON_RESET_COUNT,
    ST_USER_IDS_AFTER,
    ST__COUNT
};

struct store {
    sqlite3 *db;
    char *path;
    char *describe;
    sqlite3_stmt *stmts[ST__COUNT]; /* prepared on first use */
    char *wal_path;                 /* the WAL as SQLite names it */
    int wal_fd;                     /* open on it for store_sync (its thread after start) */
    struct store_checkpointer *ckpt; /* NULL: SQLite checkpoints in the committing thread */
    int64_t event_seq;              /* the last event's seq; -1 = read it from the store */
    struct uuid_seq_key *event_key; /* hides seqs in the keys the server gives; NULL = read
                                     * (or make) it when needed */
    bool event_key_absent;          /* meta has no secret yet (no server key was given) */
    int64_t event_issued_seq;       /* the seq of the last key store_event_new_key made, and
                                     * the key: an insert with it needs no event_keys row */
    char event_issued[UUID_LEN + 1];
    bool event_tentative;           /* event_seq or event_key moved in the open transaction: a
                                     * rollback forgets them */
    struct buf row;                 /* the text of a row being written (ledger, its index,
                                     * nonces), kept for the next (sqlite__row_done) */
    struct jread fx;                /* reads events' effects (their ledger entries), kept */
    struct buf fx_num;              /* a number's text there */
    struct buf fx_json;             /* effects in the compact form, as JSON for that reader */
    bool fx_ready;
};

/* What an event's effects may hold when the ledger reads its entries from them: above anything
 * the engine writes; only damage reaches it, and then the entries past it are not shown. */
extern const struct json_limits sqlite__effects_limits;

/* After a row's text in s->row was written: kept for the next, unless one large batch made it
 * large. */
static inline void sqlite__row_done(struct store *s)
{
    if (s->row.cap > 256 * 1024)
        buf_release(&s->row);
}

/* Binds a string (NULL binds SQL NULL); the string must outlive the statement's step. */
static inline void sqlite__bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Steps a statement that returns no rows and resets it: 0, or -1 with the error. */
int sqlite__step_done(struct store *s, sqlite3_stmt *st, char *err, size_t errlen);
/* Runs a retention statement `id` (parameters: a time bound, a row limit) and counts the rows
 * it deleted into *deleted (may be NULL). */
int sqlite__delete_older(struct store *s, enum stmt_id id, int64_t before, int limit,
                         int64_t *deleted, char *err, size_t errlen);
/* A copy of a text column (free() it), or NULL for SQL NULL. */
char *sqlite__col_text(sqlite3_stmt *st, int i);
/* The decimal digits at *p (before `end`, one at least) as a number of at most `max`; *p is
 * left after them. False when there are none or the number is larger (for the store's own
 * row formats, read back at start-up). */
bool sqlite__decimal(const char **p, const char *end, uint64_t max, uint64_t *out);
/* Before retention deletes the events up to seq *upto: lowers *upto below the first of them
 * whose ledger entries are not indexed yet, and copies what the entries of the rest are read
 * from to ledger_moved, where their places in the ledger (STORE_LEDGER_EVENT) find them. */
int sqlite__ledger_before_expire(struct store *s, int64_t *upto, char *err, size_t errlen);
/* The secret that hides seqs in server keys (and in the ids of an event's ledger entries),
 * from meta; made there first when `create` (in the open batch: a batch that rolls back
 * forgets it, store_batch_rollback). NULL without one (none was ever needed; remembered, so
 * that reads of client keys do not ask again), or on an error (`err` then says so, *failed
 * set). */
struct uuid_seq_key;
struct uuid_seq_key *sqlite__event_key(struct store *s, bool create, bool *failed, char *err,
                                       size_t errlen);

/* The statement, reset; NULL with a message on failure. */
sqlite3_stmt *sqlite__stmt(struct store *s, enum stmt_id id, char *err, size_t errlen);
int sqlite__exec(struct store *s, const char *sql, char *err, size_t errlen);
/* Formats the connection's last error into err and returns -1. */
int sqlite__fail(struct store *s, char *err, size_t errlen);

#endif
