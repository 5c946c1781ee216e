/* Unit tests for src/store/sqlite.c: opening a fresh store in a temporary directory,
 * migrations, the schema version guard and DATABASE_URL handling. */
#include "unit.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/uuid.h"
#include "store/migrations.h"
#include "store/sqlite_int.h"
#include "store/store.h"

struct fixture {
    char dir[64];       /* temporary directory, removed at teardown */
    char data_dir[128]; /* <dir>/data, not created yet */
    char db[160];       /* <data_dir>/reactor.db */
    int devnull;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/reactor-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->data_dir, sizeof(f->data_dir), "%s/data", f->dir);
    snprintf(f->db, sizeof(f->db), "%s/reactor.db", f->data_dir);
    /* Migrations log a line each; keep test output quiet. */
    f->devnull = open("/dev/null", O_WRONLY);
    log_set_fd(f->devnull);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    log_set_fd(2);
    close(f->devnull);
    unit_rmtree(f->dir);
    free(f);
    return 0;
}

static struct store *open_default(struct fixture *f)
{
    struct store_options opt = { f->data_dir, NULL, 0 };
    char err[256] = "";
    struct store *s = store_open(&opt, err, sizeof(err));
    if (!s)
        fail_msg("store_open: %s", err);
    return s;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        fail_msg("%s does not exist", path);
    return st.st_mode & 07777;
}

/* Runs a one-value query on the file with a separate connection. */
static void query_text(const char *db, const char *sql, char *out, size_t outlen)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    out[0] = '\0';
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
}

static void exec_sql(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(h);
}

static void open_creates_private_wal_database(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_default(f);
    assert_int_equal(mode_of(f->data_dir), 0700);
    assert_int_equal(mode_of(f->db), 0600);
    char want[200];
    snprintf(want, sizeof(want), "sqlite:%s", f->db);
    assert_string_equal(store_describe(s), want);

    char mode[32];
    query_text(f->db, "PRAGMA journal_mode", mode, sizeof(mode));
    assert_string_equal(mode, "wal");
    /* After a write, the write-ahead log and its index hold the same data as the database:
     * they are private too. */
    char err[256] = "";
    assert_int_equal(store_migrate(s, NULL, err, sizeof(err)), 0);
    char side[200];
    snprintf(side, sizeof(side), "%s-wal", f->db);
    assert_int_equal(mode_of(side), 0600);
    snprintf(side, sizeof(side), "%s-shm", f->db);
    assert_int_equal(mode_of(side), 0600);
    store_close(s);
}

/* Through a symbolic link to the database, SQLite keeps the WAL next to the real file:
 * store_sync must sync that one (a WAL path made from the link's name would not exist, and
 * nothing would be synced). */
static void sync_follows_a_symlinked_database(void **state)
{
    struct fixture *f = *state;
    struct store *real = open_default(f); /* creates <data_dir>/reactor.db */
    store_close(real);
    char link[200], url[220], err[256] = "";
    snprintf(link, sizeof(link), "%s/link.db", f->dir);
    assert_int_equal(symlink(f->db, link), 0);
    snprintf(url, sizeof(url), "sqlite:%s", link);
    struct store_options opt = { f->data_dir, url, 0 };
    struct store *s = store_open(&opt, err, sizeof(err));
    assert_non_null(s);
    char want[200];
    snprintf(want, sizeof(want), "%s-wal", f->db);
    assert_string_equal(s->wal_path, want);
    assert_true(s->wal_fd >= 0);
    assert_int_equal(store_migrate(s, NULL, err, sizeof(err)), 0);
    assert_int_equal(store_sync(s, err, sizeof(err)), 0);
    store_close(s);
}

/* A WAL removed under the store (SQLite deletes it when the last connection closes; another
 * process may have) is noticed from its link count alone, and the next sync follows the file
 * now at the WAL's path. */
static void sync_follows_a_replaced_wal(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_default(f);
    char err[256] = "";
    assert_int_equal(store_migrate(s, NULL, err, sizeof(err)), 0);
    assert_int_equal(store_sync(s, err, sizeof(err)), 0);
    struct stat before, now, path;
    assert_int_equal(fstat(s->wal_fd, &before), 0);
    assert_int_equal(unlink(s->wal_path), 0);
    int fd = open(s->wal_path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(store_sync(s, err, sizeof(err)), 0);
    assert_int_equal(fstat(s->wal_fd, &now), 0);
    assert_int_equal(stat(s->wal_path, &path), 0);
    assert_true(now.st_ino != before.st_ino);
    assert_true(now.st_ino == path.st_ino);
    /* A WAL still in place is kept. */
    assert_int_equal(store_sync(s, err, sizeof(err)), 0);
    struct stat again;
    assert_int_equal(fstat(s->wal_fd, &again), 0);
    assert_true(again.st_ino == now.st_ino);
    store_close(s);
}

/* Copies file `from` to `to` byte for byte. */
static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char b[1 << 16];
    size_t n;
    while ((n = fread(b, 1, sizeof(b), in)) > 0)
        assert_int_equal(fwrite(b, 1, n, out), n);
    fclose(in);
    fclose(out);
}

/* The server's store gives its WAL the working size up front, as zeros; what is committed
 * and synced is still all there when the files are taken as they are (a crash) and opened. */
static void reserved_wal_keeps_what_was_committed(void **state)
{
    struct fixture *f = *state;
    struct store_options opt = { f->data_dir, NULL, (size_t)48 << 20 };
    char err[256] = "";
    struct store *s = store_open(&opt, err, sizeof(err));
    assert_non_null(s);
    struct stat st;
    assert_int_equal(stat(s->wal_path, &st), 0);
    assert_true(st.st_size >= (off_t)STORE_CHECKPOINT_HARD * 4096);
    assert_int_equal(store_migrate(s, NULL, err, sizeof(err)), 0);
    assert_int_equal(sqlite__exec(s, "CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES "
                                     "('before the crash')", err, sizeof(err)),
                     0);
    assert_int_equal(store_sync(s, err, sizeof(err)), 0);
    char copy_dir[200], copy_db[260], copy_wal[270];
    snprintf(copy_dir, sizeof(copy_dir), "%s/copy", f->dir);
    assert_int_equal(mkdir(copy_dir, 0700), 0);
    snprintf(copy_db, sizeof(copy_db), "%s/reactor.db", copy_dir);
    snprintf(copy_wal, sizeof(copy_wal), "%s-wal", copy_db);
    copy_file(f->db, copy_db);
    copy_file(s->wal_path, copy_wal);
    char got[64] = "";
    query_text(copy_db, "SELECT v FROM kept", got, sizeof(got));
    assert_string_equal(got, "before the crash");
    store_close(s);
    /* Opening again keeps the size and adds nothing. */
    s = store_open(&opt, err, sizeof(err));
    assert_non_null(s);
    query_text(f->db, "SELECT count(*) FROM kept", got, sizeof(got));
    assert_string_equal(got, "1");
    store_close(s);
}

static void migrate_applies_all_then_nothing(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_default(f);
    char err[256] = "";
    int version = -1, applied = -1;
    assert_int_equal(store_schema_version(s, &version, err, sizeof(err)), 0);
    assert_int_equal(version, 0);

    assert_true(store_latest_version() >= 1);
    assert_int_equal(store_migrate(s, &applied, err, sizeof(err)), 0);
    assert_int_equal(applied, sqlite_migrations_count);
    assert_int_equal(store_schema_version(s, &version, err, sizeof(err)), 0);
    assert_int_equal(version, store_latest_version());

    assert_int_equal(store_migrate(s, &applied, err, sizeof(err)), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(store_migrate(s, NULL, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    store_close(s);

    /* The schema is on disk: a new process sees it migrated. */
    s = open_default(f);
    assert_int_equal(store_schema_version(s, &version, err, sizeof(err)), 0);
    assert_int_equal(version, store_latest_version());
    assert_int_equal(store_migrate(s, &applied, err, sizeof(err)), 0);
    assert_int_equal(applied, 0);
    store_close(s);

    char n[32];
    snprintf(n, sizeof(n), "%d", sqlite_migrations_count); /* one row per migration */
    char got[32];
    query_text(f->db, "SELECT COUNT(*) FROM schema_migrations", got, sizeof(got));
    assert_string_equal(got, n);
    query_text(f->db, "SELECT value FROM meta WHERE key = 'created_at'", got, sizeof(got));
    assert_int_equal(strlen(got), 24); /* 2025-01-31T12:34:56.789Z */
}

/* Whether the statement's program builds a temporary B-tree (OpenEphemeral) when it runs. */
static bool builds_temporary_tree(sqlite3 *h, const char *sql)
{
    char explain[512];
    snprintf(explain, sizeof(explain), "EXPLAIN %s", sql);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, explain, -1, &st, NULL), SQLITE_OK);
    bool found = false;
    while (sqlite3_step(st) == SQLITE_ROW)
        found |= strcmp((const char *)sqlite3_column_text(st, 1), "OpenEphemeral") == 0;
    sqlite3_finalize(st);
    return found;
}

/* Migration 14: the status and state constraints of events and jobs hold as before, without
 * the temporary tree an IN list of constants costs every checked row; a connection opened
 * before the migration sees the new definitions (the schema version moved); the jobs' partial
 * index still serves the queries for open jobs. */
static void hot_check_constraints_build_no_temporary_tree(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_default(f);
    char err[256] = "";
    sqlite3 *early;
    assert_int_equal(sqlite3_open_v2(f->db, &early, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    const char *insert_event =
        "INSERT INTO events (app_id, idempotency_key, user_id, event_type, occurred_at, "
        "received_at, status) VALUES ('a', 'k', 'u', 't', 1, 1, 'PROCESSED')";
    const char *insert_job =
        "INSERT INTO jobs (kind, app_id, payload, state, max_attempts, run_at, created_at, "
        "updated_at) VALUES ('k', 'a', '{}', 'queued', 1, 1, 1, 1)";
    assert_int_equal(store_migrate(s, NULL, err, sizeof(err)), 0);
    assert_false(builds_temporary_tree(early, insert_event));
    assert_false(builds_temporary_tree(early, insert_job));
    assert_int_equal(sqlite3_exec(early, insert_event, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(early, insert_job, NULL, NULL, NULL), SQLITE_OK);
    /* Every status and state is allowed; anything else is refused as before. */
    static const char *const statuses[] = { "RECEIVED", "FAILED" };
    static const char *const states[] = { "running", "succeeded", "failed", "dead" };
    char sql[256];
    for (size_t i = 0; i < 2; i++) {
        snprintf(sql, sizeof(sql), "UPDATE events SET status = '%s'", statuses[i]);
        assert_int_equal(sqlite3_exec(early, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    for (size_t i = 0; i < 4; i++) {
        snprintf(sql, sizeof(sql), "UPDATE jobs SET state = '%s'", states[i]);
        assert_int_equal(sqlite3_exec(early, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    assert_int_equal(sqlite3_exec(early, "UPDATE events SET status = 'processed'", NULL, NULL,
                                  NULL),
                     SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_exec(early, "UPDATE jobs SET state = 'QUEUED'", NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(early, "PRAGMA integrity_check", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(early);

    /* The queries for open jobs still find them through the partial index. */
    static const enum stmt_id open_jobs[] = { ST_JOB_OPEN_OF_KEY, ST_JOB_PROMOTE, ST_JOB_READY };
    for (size_t i = 0; i < sizeof(open_jobs) / sizeof(open_jobs[0]); i++) {
        sqlite3_stmt *q = sqlite__stmt(s, open_jobs[i], err, sizeof(err));
        assert_non_null(q);
        char plan_sql[1024];
        snprintf(plan_sql, sizeof(plan_sql), "EXPLAIN QUERY PLAN %s", sqlite3_sql(q));
        assert_int_equal(sqlite3_prepare_v2(s->db, plan_sql, -1, &st, NULL), SQLITE_OK);
        bool uses = false;
        while (sqlite3_step(st) == SQLITE_ROW)
            uses |= strstr((const char *)sqlite3_column_text(st, 3), "jobs_open_order") != NULL;
        sqlite3_finalize(st);
        assert_true(uses);
    }
    store_close(s);
}

static void count_live(const char *app_id, const char *nonce, size_t len, int64_t expires,
                       void *arg)
{
    (void)nonce;
    (void)len;
    assert_true(strcmp(app_id, "shop") == 0 && expires >= 100);
    ++*(int *)arg;
}

/* Migration 18: the nonce rows of earlier versions (one each) are read as before, and
 * retention and start-up find rows through the new index on their expiry. */
static void the_nonce_index_serves_expiry_and_start_up(void **state)
{
    (void)state;
    char err[256] = "";
    struct unit_store u;
    assert_int_equal(unit_store_make_at(&u, "nonces-v17", 17), 0);
    unit_store_exec(u.s, "INSERT INTO nonces (app_id, nonce, expires_at) VALUES "
                         "('shop', 'n-1', 50), ('shop', 'n-2', 200), ('shop', 'n-3', 100)");
    assert_int_equal(store_migrate(u.s, NULL, err, sizeof(err)), 0);
    int live = 0;
    assert_int_equal(store_nonces_each_live(u.s, 100, count_live, &live, err, sizeof(err)), 0);
    assert_int_equal(live, 2);
    int deleted = 0;
    assert_int_equal(store_nonces_expire(u.s, 100, 10, &deleted, err, sizeof(err)), 0);
    assert_int_equal(deleted, 1);
    static const enum stmt_id by_expiry[] = { ST_NONCE_EXPIRE, ST_NONCE_LIVE };
    for (size_t i = 0; i < sizeof(by_expiry) / sizeof(by_expiry[0]); i++) {
        sqlite3_stmt *q = sqlite__stmt(u.s, by_expiry[i], err, sizeof(err)), *st;
        assert_non_null(q);
        char plan_sql[1024];
        snprintf(plan_sql, sizeof(plan_sql), "EXPLAIN QUERY PLAN %s", sqlite3_sql(q));
        assert_int_equal(sqlite3_prepare_v2(u.s->db, plan_sql, -1, &st, NULL), SQLITE_OK);
        bool uses = false;
        while (sqlite3_step(st) == SQLITE_ROW)
            uses |= strstr((const char *)sqlite3_column_text(st, 3), "nonces_expiry") != NULL;
        sqlite3_finalize(st);
        assert_true(uses);
    }
    unit_store_close(&u);
}

struct seen_entries {
    char text[512];
};

static void entry_seen(const struct store_ledger *l, void *arg)
{
    struct seen_entries *e = arg;
    size_t used = strlen(e->text);
    snprintf(e->text + used, sizeof(e->text) - used, "%s%lld:%s:%s:%s:%lld:%lld:%s:%s:%s:%s:%lld",
             used ? " | " : "", (long long)l->seq, l->id, l->kind, l->name, (long long)l->amount,
             (long long)l->balance_after, l->reason, l->source ? l->source : "-",
             l->ref ? l->ref : "-", l->metadata ? l->metadata : "-", (long long)l->created_at);
}

/* Migration 15: ledger rows of one entry each become rows of the packed ledger at the same
 * place, so entries already indexed and entries not yet indexed read back whole. */
static void the_ledger_migration_keeps_every_entry_in_its_place(void **state)
{
    (void)state;
    struct unit_store u;
    assert_int_equal(unit_store_make_at(&u, "ledger-v14", 14), 0);
    unit_store_exec(
        u.s,
        "INSERT INTO ledger_log (app_id, user_id, seq, id, kind, name, amount, balance_after, "
        "reason, source, ref, metadata, created_at) VALUES "
        "('app', 'ann', 1, 'id-1', 'xp', 'XP', 10, 10, 'rule', 'evt-1', 'rule-1', NULL, 100), "
        "('app', 'ann', 2, 'id-2', 'currency', 'coins', -5, 5, 'a \"spend\"', 'key-1', NULL, "
        "'{\"a\":[1,\"b\"]}', 200), "
        "('app', 'bob', 1, 'id-3', 'xp', 'XP', 3, 3, 'rule', 'evt-2', NULL, NULL, 300);"
        "INSERT INTO ledger_index (app_id, user_id, first_seq, lseqs) VALUES "
        "('app', 'ann', 1, '1,2');"
        "INSERT INTO meta (key, value) VALUES ('ledger_indexed_through', '2');");
    char err[256] = "";
    assert_int_equal(store_migrate(u.s, NULL, err, sizeof(err)), 0);

    struct seen_entries e = { "" };
    assert_int_equal(store_ledger_page(u.s, "app", "ann", INT64_MAX, 10, NULL, entry_seen, &e,
                                       err, sizeof(err)),
                     0);
    assert_string_equal(e.text,
                        "2:id-2:currency:coins:-5:5:a \"spend\":key-1:-:{\"a\":[1,\"b\"]}:200"
                        " | 1:id-1:xp:XP:10:10:rule:evt-1:rule-1:-:100");
    struct store_ledger l;
    assert_int_equal(store_ledger_get(u.s, "app", "ann", 2, &l, err, sizeof(err)), 0);
    assert_string_equal(l.metadata, "{\"a\":[1,\"b\"]}");
    store_ledger_release(&l);
    /* bob's entry was not indexed yet: the next fold indexes it, from its old place. */
    assert_int_equal(store_ledger_get(u.s, "app", "bob", 1, &l, err, sizeof(err)),
                     STORE_NOT_FOUND);
    assert_int_equal(store_ledger_logged_get(u.s, 3, 1, &l, err, sizeof(err)), 0);
    assert_string_equal(l.id, "id-3");
    store_ledger_release(&l);
    int64_t rows = 0;
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    assert_int_equal(store_game_fold(u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);
    assert_int_equal(rows, 1);
    memset(&e, 0, sizeof(e));
    assert_int_equal(store_ledger_page(u.s, "app", "bob", INT64_MAX, 10, "xp", entry_seen, &e,
                                       err, sizeof(err)),
                     0);
    assert_string_equal(e.text, "1:id-3:xp:XP:3:3:rule:evt-2:-:-:300");
    unit_store_close(&u);
}

/* The raw entries of the ledger row at lseq. */
static void row_text(struct store *s, int64_t lseq, char *out, size_t outlen)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(s->db, "SELECT entries FROM ledger_rows WHERE lseq = ?", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_int64(st, 1, lseq);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static bool entry_text(const struct store_ledger *l, void *arg)
{
    entry_seen(l, arg);
    return true;
}

/* A write whose entries follow one another (consecutive seqs, one source and time, ids after
 * the first) is stored with what they share once, and reads back entry by entry exactly as
 * written; any other write is stored whole. Damage to a compact row hides what it touches. */
static void a_write_is_stored_compact_and_reads_back_whole(void **state)
{
    (void)state;
    struct unit_store u;
    assert_int_equal(unit_store_make(&u, "ledger-compact"), 0);
    char err[256] = "", raw[1024];
    const char *id0 = "01a24aab-26fb-7dbe-b744-9be9ffffffff";
    char ids[3][UUID_LEN + 1];
    for (int i = 0; i < 3; i++)
        assert_true(uuid_add(id0, (uint64_t)i, ids[i]));
    struct store_ledger v[3] = {
        { 7, ids[0], "xp", "XP", 10, 265, "rule", "evt-key", "rule-1", NULL, 1000 },
        { 8, ids[1], "currency", "coins", 1, 18, "rule", "evt-key", NULL, NULL, 1000 },
        { 9, ids[2], "currency", "gems \"x\"", -2, 0, "a spend", "evt-key", "r",
          "{\"a\":1}", 1000 },
    };
    int64_t lseq[4];
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    assert_int_equal(store_ledger_log(u.s, "app", "ann", v, 3, &lseq[0], err, sizeof(err)), 0);
    struct store_ledger lone = { 1, ids[0], "xp", "XP", 5, 5, "rule", NULL, NULL, NULL, 2000 };
    assert_int_equal(store_ledger_log(u.s, "app", "bob", &lone, 1, &lseq[1], err, sizeof(err)),
                     0);
    /* Not compact: an id that does not follow; then a time of its own; then a kind the
     * compact form has no room for. */
    struct store_ledger w[2] = { v[0], v[1] };
    w[1].id = ids[2];
    assert_int_equal(store_ledger_log(u.s, "app", "cat", w, 2, &lseq[2], err, sizeof(err)), 0);
    w[1].id = ids[1];
    w[1].created_at = 1001;
    assert_int_equal(store_ledger_log(u.s, "app", "dan", w, 2, &lseq[3], err, sizeof(err)), 0);
    struct store_ledger odd = v[0];
    odd.kind = "badge";
    int64_t odd_lseq;
    assert_int_equal(store_ledger_log(u.s, "app", "eve", &odd, 1, &odd_lseq, err, sizeof(err)),
                     0);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);

    row_text(u.s, lseq[0], raw, sizeof(raw));
    assert_string_equal(raw, "[\"01a24aab-26fb-7dbe-b744-9be9ffffffff\",\"evt-key\",1000,"
                             "[\"xp\",\"XP\",10,265,\"rule\",\"rule-1\",null],"
                             "[\"currency\",\"coins\",1,18,\"rule\",null,null],"
                             "[\"currency\",\"gems \\\"x\\\"\",-2,0,\"a spend\",\"r\","
                             "\"{\\\"a\\\":1}\"]]");
    struct seen_entries e = { "" };
    assert_int_equal(store_ledger_logged(u.s, lseq[0], entry_text, &e, err, sizeof(err)), 0);
    assert_string_equal(
        e.text, "9:01a24aab-26fb-7dbe-b744-9bea00000001:currency:gems \"x\":-2:0:a spend:"
                "evt-key:r:{\"a\":1}:1000"
                " | 8:01a24aab-26fb-7dbe-b744-9bea00000000:currency:coins:1:18:rule:evt-key:-:-:"
                "1000 | 7:01a24aab-26fb-7dbe-b744-9be9ffffffff:xp:XP:10:265:rule:evt-key:rule-1:"
                "-:1000");
    memset(&e, 0, sizeof(e));
    assert_int_equal(store_ledger_logged(u.s, lseq[1], entry_text, &e, err, sizeof(err)), 0);
    assert_string_equal(e.text, "1:01a24aab-26fb-7dbe-b744-9be9ffffffff:xp:XP:5:5:rule:-:-:-:2000");
    for (int i = 2; i < 4; i++) {
        row_text(u.s, lseq[i], raw, sizeof(raw));
        assert_int_equal(raw[1], '['); /* whole */
        memset(&e, 0, sizeof(e));
        assert_int_equal(store_ledger_logged(u.s, lseq[i], entry_text, &e, err, sizeof(err)), 0);
        assert_non_null(strstr(e.text, i == 2 ? "8:01a24aab-26fb-7dbe-b744-9bea00000001:"
                                              : "8:01a24aab-26fb-7dbe-b744-9bea00000000:"));
        assert_non_null(strstr(e.text, i == 2 ? ":1000 | 7:" : ":1001 | 7:"));
    }
    row_text(u.s, odd_lseq, raw, sizeof(raw));
    assert_non_null(strstr(raw, "[[7,\"01a24aab-26fb-7dbe-b744-9be9ffffffff\",\"badge\","));
    /* Found by seq after a fold, through the index. */
    int64_t rows = 0;
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    assert_int_equal(store_ledger_fold(u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);
    assert_int_equal(rows, 5);
    struct store_ledger l;
    assert_int_equal(store_ledger_get(u.s, "app", "ann", 8, &l, err, sizeof(err)), 0);
    assert_string_equal(l.id, "01a24aab-26fb-7dbe-b744-9bea00000000");
    assert_string_equal(l.source, "evt-key");
    assert_null(l.ref);
    store_ledger_release(&l);

    /* Damage: a header that is not one hides the row; a bad entry hides only itself. */
    unit_store_exec(u.s, "UPDATE ledger_rows SET entries = json_set(entries, '$[0]', 'no-uuid') "
                         "WHERE user_id = 'bob'");
    memset(&e, 0, sizeof(e));
    assert_int_equal(store_ledger_logged(u.s, lseq[1], entry_text, &e, err, sizeof(err)), 0);
    assert_string_equal(e.text, "");
    unit_store_exec(u.s, "UPDATE ledger_rows SET entries = json_set(entries, '$[4][2]', 'x') "
                         "WHERE user_id = 'ann'");
    memset(&e, 0, sizeof(e));
    assert_int_equal(store_ledger_logged(u.s, lseq[0], entry_text, &e, err, sizeof(err)), 0);
    assert_int_equal(strstr(e.text, "9:") == e.text, 1);
    assert_non_null(strstr(e.text, " | 7:"));
    assert_null(strstr(e.text, "8:"));
    unit_store_close(&u);
}

/* A store from before the ledger index (schema 12): entries an old fold copied into the
 * ledger table, and entries still in the log. After the migrations and a fold, a user's
 * ledger reads whole, newest first, across both. */
static void a_store_from_before_the_index_keeps_its_ledger(void **state)
{
    (void)state;
    struct unit_store u;
    assert_int_equal(unit_store_make_at(&u, "ledger-v12", 12), 0);
    unit_store_exec(
        u.s,
        "INSERT INTO ledger (app_id, user_id, seq, id, kind, name, amount, balance_after, "
        "reason, source, ref, metadata, created_at) VALUES "
        "('app', 'ann', 1, 'id-1', 'xp', 'XP', 10, 10, 'rule', 'evt-1', NULL, NULL, 100), "
        "('app', 'ann', 2, 'id-2', 'currency', 'coins', 5, 5, 'rule', 'evt-1', NULL, NULL, 100);"
        "INSERT INTO ledger_log (app_id, user_id, seq, id, kind, name, amount, balance_after, "
        "reason, source, ref, metadata, created_at) VALUES "
        "('app', 'ann', 3, 'id-3', 'xp', 'XP', 7, 17, 'rule', 'evt-2', NULL, NULL, 200), "
        "('app', 'ann', 4, 'id-4', 'currency', 'coins', -2, 3, 'shop', 'key-1', NULL, NULL, 300);");
    char err[256] = "";
    assert_int_equal(store_migrate(u.s, NULL, err, sizeof(err)), 0);
    int64_t rows = 0;
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    assert_int_equal(store_game_fold(u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);
    assert_int_equal(rows, 2);
    struct seen_entries e = { "" };
    assert_int_equal(store_ledger_page(u.s, "app", "ann", INT64_MAX, 10, NULL, entry_seen, &e,
                                       err, sizeof(err)),
                     0);
    assert_string_equal(e.text, "4:id-4:currency:coins:-2:3:shop:key-1:-:-:300"
                                " | 3:id-3:xp:XP:7:17:rule:evt-2:-:-:200"
                                " | 2:id-2:currency:coins:5:5:rule:evt-1:-:-:100"
                                " | 1:id-1:xp:XP:10:10:rule:evt-1:-:-:100");
    memset(&e, 0, sizeof(e));
    assert_int_equal(store_ledger_page(u.s, "app", "ann", 4, 2, "currency", entry_seen, &e, err,
                                       sizeof(err)),
                     0);
    assert_string_equal(e.text, "2:id-2:currency:coins:5:5:rule:evt-1:-:-:100");
    for (int64_t seq = 1; seq <= 4; seq++) {
        struct store_ledger l;
        assert_int_equal(store_ledger_get(u.s, "app", "ann", seq, &l, err, sizeof(err)), 0);
        assert_int_equal(l.seq, seq);
        store_ledger_release(&l);
    }
    unit_store_close(&u);
}

/* An event row holding ledger entries (ledger_seq and its effects), written in a batch; its
 * seq into *seq. */
static void put_ledger_event(struct store *s, const char *user, const char *key,
                             int64_t ledger_seq, const char *effects, int64_t at, int64_t *seq)
{
    char err[256] = "";
    struct store_event ev = {
        .app_id = "app",
        .idempotency_key = (char *)key,
        .user_id = (char *)user,
        .event_type = "lesson",
        .occurred_at = at,
        .received_at = at,
        .processed_at = at,
        .status = STORE_EVENT_PROCESSED,
        .effects = (char *)effects,
        .ledger_seq = ledger_seq,
    };
    assert_int_equal(store_event_next_seq(s, seq, err, sizeof(err)), 0);
    assert_int_equal(store_event_insert(s, &ev, err, sizeof(err)), 0);
}

/* put_ledger_event of one XP award by rule r1. */
static void put_xp_event(struct store *s, const char *user, const char *key, int64_t ledger_seq,
                         int amount, int total, int64_t at, int64_t *seq)
{
    char effects[160];
    snprintf(effects, sizeof(effects),
             "[{\"type\":\"xp.awarded\",\"track\":\"XP\",\"amount\":%d,\"totalXp\":%d,"
             "\"source\":\"rule\",\"ruleId\":\"r1\"}]",
             amount, total);
    put_ledger_event(s, user, key, ledger_seq, effects, at, seq);
}

/* The entries of a user's ledger page, newest first, with and without their ids. */
static void ledger_text(struct store *s, const char *user, int64_t before, int limit,
                        char *with_ids, char *without_ids, size_t n)
{
    char err[256] = "";
    struct seen_entries e = { "" };
    assert_int_equal(store_ledger_page(s, "app", user, before, limit, NULL, entry_seen, &e, err,
                                       sizeof(err)),
                     0);
    snprintf(with_ids, n, "%s", e.text);
    /* Each entry's id is its second field: a UUID of version 8 or the test's own. */
    size_t o = 0;
    for (const char *p = e.text; *p && o + 1 < n;) {
        const char *colon = strchr(p, ':');
        if (!colon)
            break;
        o += (size_t)snprintf(without_ids + o, n - o, "%.*s:", (int)(colon - p), p);
        const char *after = strchr(colon + 1, ':');
        p = after ? after + 1 : colon + 1;
        const char *bar = strstr(p, " | ");
        size_t len = bar ? (size_t)(bar + 3 - p) : strlen(p);
        o += (size_t)snprintf(without_ids + o, n - o, "%.*s", (int)len, p);
        p += len;
    }
    without_ids[o < n ? o : n - 1] = '\0';
}

/* An event's XP and currency entries are read from its row: what the engine would have
 * written as a ledger row, with ids of their own (version 8, the same on every read). They
 * take the event's place in the index, between ledger rows, through a fold from memory or
 * one that reads the logs back; and when retention deletes the event, they are kept, read
 * back exactly as before. A damaged effect hides only its entry. */
static void an_events_entries_are_read_from_its_row(void **state)
{
    (void)state;
    struct unit_store u;
    assert_int_equal(unit_store_make(&u, "ledger-events"), 0);
    char err[256] = "";
    int64_t s1, s2, s3, s4, s5, plain;
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    put_ledger_event(u.s, "ann", "evt-1", 1,
                     "[{\"type\":\"xp.awarded\",\"track\":\"XP\",\"amount\":10,\"totalXp\":10,"
                     "\"source\":\"rule\",\"ruleId\":\"r1\"},"
                     "{\"type\":\"level.up\",\"track\":\"XP\",\"from\":1,\"to\":2},"
                     "{\"type\":\"currency.changed\",\"currency\":\"coins\",\"amount\":2,"
                     "\"balance\":2,\"source\":\"achievement\",\"achievementCode\":\"first\"}]",
                     1000, &s1);
    struct store_ledger spend = { 3, "spend-id", "currency", "coins", -1, 1, "shop", "key-1",
                                  NULL, "{\"item\":1}", 1500 };
    int64_t spend_lseq;
    assert_int_equal(store_ledger_log(u.s, "app", "ann", &spend, 1, &spend_lseq, err,
                                      sizeof(err)),
                     0);
    put_ledger_event(u.s, "ann", "evt-2", 4,
                     "[{\"type\":\"xp.awarded\",\"track\":\"XP\",\"amount\":5,\"totalXp\":15}]",
                     2000, &s2);
    put_ledger_event(u.s, "bob", "evt-3", 1,
                     "[{\"type\":\"xp.awarded\",\"track\":\"XP\",\"amount\":\"x\",\"totalXp\":1},"
                     "{\"type\":\"currency.changed\",\"currency\":\"gems\",\"amount\":1,"
                     "\"balance\":1,\"source\":\"rule\",\"ruleId\":\"r2\"}]",
                     3000, &s3);
    put_ledger_event(u.s, "bob", "evt-4", 0, NULL, 3500, &plain);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);

    /* Read from the rows before any fold, at their places. */
    struct seen_entries e = { "" };
    assert_int_equal(store_ledger_logged(u.s, STORE_LEDGER_EVENT(s1), entry_text, &e, err,
                                         sizeof(err)),
                     0);
    char first[512];
    snprintf(first, sizeof(first), "%s", e.text);
    memset(&e, 0, sizeof(e));
    assert_int_equal(store_ledger_logged(u.s, STORE_LEDGER_EVENT(s1), entry_text, &e, err,
                                         sizeof(err)),
                     0);
    assert_string_equal(e.text, first); /* the same ids on every read */
    char id1[UUID_LEN + 1], id2[UUID_LEN + 1];
    assert_int_equal(sscanf(first, "2:%36[^:]:", id2), 1);
    assert_non_null(strstr(first, " | 1:"));
    assert_int_equal(sscanf(strstr(first, " | 1:") + 5, "%36[^:]:", id1), 1);
    assert_int_equal(id1[14], '8');
    assert_int_equal(id2[14], '8');
    assert_string_not_equal(id1, id2);
    struct store_ledger l;
    assert_int_equal(store_ledger_logged_get(u.s, STORE_LEDGER_EVENT(s3), 2, &l, err,
                                             sizeof(err)),
                     0);
    assert_string_equal(l.name, "gems"); /* the damaged entry before it keeps its seq */
    store_ledger_release(&l);
    assert_int_equal(store_ledger_logged_get(u.s, STORE_LEDGER_EVENT(s3), 1, &l, err,
                                             sizeof(err)),
                     STORE_NOT_FOUND);
    assert_int_equal(store_ledger_logged_get(u.s, STORE_LEDGER_EVENT(plain), 1, &l, err,
                                             sizeof(err)),
                     STORE_NOT_FOUND);

    /* A fold that reads the logs back indexes the events' places among the ledger rows. */
    int64_t rows = 0;
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    assert_int_equal(store_game_fold(u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);
    assert_int_equal(rows, 4); /* three events and the spend's row */
    char with_ids[512], got[512];
    ledger_text(u.s, "ann", INT64_MAX, 10, with_ids, got, sizeof(got));
    assert_string_equal(got, "4:xp:XP:5:15:achievement:evt-2:-:-:2000"
                             " | 3:currency:coins:-1:1:shop:key-1:-:{\"item\":1}:1500"
                             " | 2:currency:coins:2:2:achievement:evt-1:first:-:1000"
                             " | 1:xp:XP:10:10:rule:evt-1:r1:-:1000");
    assert_non_null(strstr(with_ids, first));
    ledger_text(u.s, "ann", 3, 1, with_ids, got, sizeof(got));
    assert_string_equal(got, "2:currency:coins:2:2:achievement:evt-1:first:-:1000");
    assert_int_equal(store_ledger_get(u.s, "app", "ann", 4, &l, err, sizeof(err)), 0);
    assert_string_equal(l.source, "evt-2");
    store_ledger_release(&l);
    ledger_text(u.s, "bob", INT64_MAX, 10, with_ids, got, sizeof(got));
    assert_string_equal(got, "2:currency:gems:1:1:rule:evt-3:r2:-:3000");
    /* Folded once: a second fold finds nothing new. */
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    assert_int_equal(store_game_fold(u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);
    assert_int_equal(rows, 0);

    /* Indexed from memory (the engine's fold): the events' mark moves too, so a fold that
     * reads the logs back does not index them again. */
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    put_xp_event(u.s, "cy", "evt-5", 1, 7, 7, 4000, &s4);
    put_xp_event(u.s, "cy", "evt-6", 2, 1, 8, 4100, &s5);
    int64_t places[] = { STORE_LEDGER_EVENT(s4), STORE_LEDGER_EVENT(s5) };
    assert_int_equal(store_ledger_index_user(u.s, "app", "cy", 1, places, 2, err, sizeof(err)),
                     0);
    assert_int_equal(store_ledger_indexed_through(u.s, 0, err, sizeof(err)), 0);
    assert_int_equal(store_game_fold(u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 0);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);
    ledger_text(u.s, "cy", INT64_MAX, 10, with_ids, got, sizeof(got));
    assert_string_equal(got, "2:xp:XP:1:8:rule:evt-6:r1:-:4100"
                             " | 1:xp:XP:7:7:rule:evt-5:r1:-:4000");

    /* Retention deletes the events; their entries read back as they were, ids and all. */
    char before_ann[512], before_bob[512], before_cy[512];
    ledger_text(u.s, "ann", INT64_MAX, 10, before_ann, got, sizeof(got));
    ledger_text(u.s, "bob", INT64_MAX, 10, before_bob, got, sizeof(got));
    ledger_text(u.s, "cy", INT64_MAX, 10, before_cy, got, sizeof(got));
    int deleted = 0;
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    assert_int_equal(store_events_expire(u.s, 3600, 10, &deleted, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);
    assert_int_equal(deleted, 4);
    assert_int_equal(store_event_get(u.s, "app", "evt-1", &(struct store_event){ 0 }, err,
                                     sizeof(err)),
                     STORE_NOT_FOUND);
    ledger_text(u.s, "ann", INT64_MAX, 10, with_ids, got, sizeof(got));
    assert_string_equal(with_ids, before_ann);
    ledger_text(u.s, "bob", INT64_MAX, 10, with_ids, got, sizeof(got));
    assert_string_equal(with_ids, before_bob);
    ledger_text(u.s, "cy", INT64_MAX, 10, with_ids, got, sizeof(got));
    assert_string_equal(with_ids, before_cy); /* not deleted yet */
    ledger_text(u.s, "ann", 3, 1, with_ids, got, sizeof(got));
    assert_string_equal(got, "2:currency:coins:2:2:achievement:evt-1:first:-:1000");
    assert_int_equal(store_ledger_get(u.s, "app", "ann", 1, &l, err, sizeof(err)), 0);
    assert_string_equal(l.id, id1);
    store_ledger_release(&l);
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    assert_int_equal(store_events_expire(u.s, 5000, 10, &deleted, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);
    assert_int_equal(deleted, 2);
    ledger_text(u.s, "cy", INT64_MAX, 10, with_ids, got, sizeof(got));
    assert_string_equal(with_ids, before_cy);
    unit_store_close(&u);
}

/* Retention deletes an event stored since the last fold only after a fold (a fold that reads
 * the logs back finds its ledger entries in events only, and applies it again to its user's
 * state), with or without entries; once it deleted every event, the seqs it deleted are not
 * given again (a ledger place names its event by seq). */
static void retention_waits_for_unindexed_entries_and_never_gives_a_seq_again(void **state)
{
    (void)state;
    struct unit_store u;
    assert_int_equal(unit_store_make(&u, "ledger-retention"), 0);
    char err[256] = "";
    int64_t plain, s1, s2;
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    put_ledger_event(u.s, "ann", "evt-0", 0, NULL, 900, &plain);
    put_xp_event(u.s, "ann", "evt-1", 1, 10, 10, 1000, &s1);
    put_xp_event(u.s, "ann", "evt-2", 2, 5, 15, 1100, &s2);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);
    /* No fold since: none goes. */
    int deleted = -1;
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    assert_int_equal(store_events_expire(u.s, 5000, 10, &deleted, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);
    assert_int_equal(deleted, 0);
    struct store_event kept;
    assert_int_equal(store_event_get(u.s, "app", "evt-0", &kept, err, sizeof(err)), 0);
    store_event_release(&kept);
    /* A fold after a restart indexes them from events; then they go, and read back. */
    int64_t rows = 0;
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    assert_int_equal(store_game_fold(u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);
    assert_int_equal(rows, 2);
    char before[512], got[512];
    ledger_text(u.s, "ann", INT64_MAX, 10, before, got, sizeof(got));
    assert_string_equal(got, "2:xp:XP:5:15:rule:evt-2:r1:-:1100"
                             " | 1:xp:XP:10:10:rule:evt-1:r1:-:1000");
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    assert_int_equal(store_events_expire(u.s, 5000, 10, &deleted, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);
    assert_int_equal(deleted, 3);
    char after[512];
    ledger_text(u.s, "ann", INT64_MAX, 10, after, got, sizeof(got));
    assert_string_equal(after, before);
    /* Every event is gone: the next one still takes a seq after theirs, in this connection
     * and in the next. */
    int64_t next;
    assert_int_equal(store_event_next_seq(u.s, &next, err, sizeof(err)), 0);
    assert_true(next > s2);
    store_close(u.s);
    u.s = unit_store_open(u.data_dir);
    assert_non_null(u.s);
    assert_int_equal(store_event_next_seq(u.s, &next, err, sizeof(err)), 0);
    assert_true(next > s2);
    ledger_text(u.s, "ann", INT64_MAX, 10, after, got, sizeof(got));
    assert_string_equal(after, before);
    unit_store_close(&u);
}

/* An achievement's tier may nest as deep as a request may (512 at most): the entries after
 * its effect still read. */
static void entries_after_a_deep_tier_are_read(void **state)
{
    (void)state;
    struct unit_store u;
    assert_int_equal(unit_store_make(&u, "ledger-deep"), 0);
    struct buf fx = BUF_INIT;
    buf_puts(&fx, "[{\"type\":\"achievement.unlocked\",\"code\":\"deep\",\"tier\":");
    for (int i = 0; i < 600; i++)
        buf_putc(&fx, '[');
    for (int i = 0; i < 600; i++)
        buf_putc(&fx, ']');
    buf_puts(&fx, "},{\"type\":\"currency.changed\",\"currency\":\"gems\",\"amount\":1,"
                  "\"balance\":4,\"source\":\"achievement\",\"achievementCode\":\"deep\"}]");
    char err[256] = "";
    int64_t seq;
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    put_ledger_event(u.s, "ann", "evt-deep", 3, fx.data, 1000, &seq);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);
    struct store_ledger l;
    assert_int_equal(store_ledger_logged_get(u.s, STORE_LEDGER_EVENT(seq), 3, &l, err,
                                             sizeof(err)),
                     0);
    assert_string_equal(l.name, "gems");
    assert_int_equal(l.balance_after, 4);
    assert_string_equal(l.ref, "deep");
    store_ledger_release(&l);
    buf_release(&fx);
    unit_store_close(&u);
}

/* Migration 19: the events before it hold no ledger entries, so the mark of the events
 * indexed starts at the last of them, and a fold does not read them. */
static void the_event_ledger_migration_marks_older_events_indexed(void **state)
{
    (void)state;
    struct unit_store u;
    assert_int_equal(unit_store_make_at(&u, "ledger-v18", 18), 0);
    unit_store_exec(u.s, "INSERT INTO events (seq, app_id, idempotency_key, user_id, event_type, "
                         "occurred_at, received_at, processed_at, status) VALUES "
                         "(41, 'app', 'k1', 'ann', 't', 1, 1, 1, 'PROCESSED'), "
                         "(42, 'app', 'k2', 'ann', 't', 2, 2, 2, 'PROCESSED')");
    char err[256] = "";
    assert_int_equal(store_migrate(u.s, NULL, err, sizeof(err)), 0);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(u.s->db,
                                        "SELECT value FROM meta WHERE key = "
                                        "'ledger_events_indexed_through'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "42");
    sqlite3_finalize(st);
    unit_store_close(&u);
}

/* Reads a user's state as store_user_load gives it ("-" for none). */
static void state_of(struct store *s, const char *app, const char *user, char *out, size_t n)
{
    char err[256] = "", *attrs = NULL, *st = NULL;
    assert_int_equal(store_user_load(s, app, user, &attrs, &st, NULL, err, sizeof(err)), 0);
    snprintf(out, n, "%s", st ? st : "-");
    free(attrs);
    free(st);
}

/* Migration 17: rows of the one-state-a-row log become one-entry rows; a fold then takes each
 * user's newest state, across rows and within one, and leaves out a row that is not JSON. */
static void the_state_log_migration_and_fold(void **state)
{
    (void)state;
    struct unit_store u;
    assert_int_equal(unit_store_make_at(&u, "states-v16", 16), 0);
    unit_store_exec(
        u.s, "INSERT INTO apps (id, name, settings, default_timezone, created_at, updated_at) "
             "VALUES ('app', 'App', '{}', 'UTC', 1, 1);"
             "INSERT INTO users (app_id, user_id, attributes, created_at, updated_at) VALUES "
             "('app', 'ann', '{}', 1, 1), ('app', 'bob', '{}', 1, 1), ('app', 'cy', '{}', 1, 1);"
             "INSERT INTO state_log (app_id, user_id, state, updated_at) VALUES "
             "('app', 'ann', '{\"seq\":1}', 10), ('app', 'bob', 'not json', 11), "
             "('app', 'ann', '{\"seq\":2}', 12);");
    char err[256] = "";
    assert_int_equal(store_migrate(u.s, NULL, err, sizeof(err)), 0);
    /* Then a batch of the new form: ann again and cy, in one row; and a damaged row. */
    struct buf states = BUF_INIT;
    store_states_add(&states, "app", "cy", "{\"seq\":7}", 9, 20);
    store_states_add(&states, "app", "ann", "{\"seq\":3}", 9, 21);
    assert_int_equal(store_user_states_log(u.s, &states, 0, err, sizeof(err)), 0);
    buf_release(&states);
    unit_store_exec(u.s,
                    "INSERT INTO state_log (states) VALUES ('[[\"app\",\"cy\",{\"seq\":99}');");
    int64_t rows = 0;
    assert_int_equal(store_batch_begin(u.s, err, sizeof(err)), 0);
    assert_int_equal(store_game_fold(u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(u.s, err, sizeof(err)), 0);
    assert_int_equal(rows, 3); /* ann, bob, cy */
    char got[64];
    state_of(u.s, "app", "ann", got, sizeof(got));
    assert_string_equal(got, "{\"seq\":3}");
    state_of(u.s, "app", "bob", got, sizeof(got));
    assert_string_equal(got, "not json"); /* as it was: the loader reports it */
    state_of(u.s, "app", "cy", got, sizeof(got));
    assert_string_equal(got, "{\"seq\":7}");
    unit_store_close(&u);
}

static void ping(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_default(f);
    assert_int_equal(store_ping(s), 0);
    store_close(s);
}

static void sqlite_url(void **state)
{
    struct fixture *f = *state;
    char url[200], path[160], err[256] = "";
    snprintf(path, sizeof(path), "%s/custom.db", f->dir);
    snprintf(url, sizeof(url), "sqlite:%s", path);
    struct store_options opt = { f->data_dir, url, 0 };
    struct store *s = store_open(&opt, err, sizeof(err));
    if (!s)
        fail_msg("store_open(%s): %s", url, err);
    int applied;
    assert_int_equal(store_migrate(s, &applied, err, sizeof(err)), 0);
    assert_int_equal(store_ping(s), 0);
    char want[200];
    snprintf(want, sizeof(want), "sqlite:%s", path);
    assert_string_equal(store_describe(s), want);
    store_close(s);
    assert_int_equal(mode_of(path), 0600);
    assert_int_equal(access(f->db, F_OK), -1); /* the data dir's default file is not used */

    /* sqlite:///abs/path names the same absolute file. */
    snprintf(url, sizeof(url), "sqlite://%s", path);
    s = store_open(&opt, err, sizeof(err));
    if (!s)
        fail_msg("store_open(%s): %s", url, err);
    assert_string_equal(store_describe(s), want);
    int version = 0;
    assert_int_equal(store_schema_version(s, &version, err, sizeof(err)), 0);
    assert_int_equal(version, store_latest_version());
    store_close(s);
}

static void unsupported_url_refused(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";
    struct store_options opt = { f->data_dir, "postgres://db/reactor", 0 };
    assert_null(store_open(&opt, err, sizeof(err)));
    assert_non_null(strstr(err, "unsupported DATABASE_URL"));
    opt.database_url = "sqlite:";
    assert_null(store_open(&opt, err, sizeof(err)));
    assert_string_equal(err, "DATABASE_URL has no path");
    assert_int_equal(access(f->data_dir, F_OK), -1); /* nothing was created */
}

static void unusable_data_dir_refused(void **state)
{
    struct fixture *f = *state;
    char file[160], dir[200], err[256] = "";
    snprintf(file, sizeof(file), "%s/plainfile", f->dir);
    int fd = open(file, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    snprintf(dir, sizeof(dir), "%s/sub", file);
    struct store_options opt = { dir, NULL, 0 };
    assert_null(store_open(&opt, err, sizeof(err)));
    assert_non_null(strstr(err, "plainfile"));
}

static void newer_schema_refused(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_default(f);
    char err[256] = "";
    assert_int_equal(store_migrate(s, NULL, err, sizeof(err)), 0);
    store_close(s);

    /* As if a newer reactor had migrated this store. */
    char sql[200];
    int future = store_latest_version() + 1;
    snprintf(sql, sizeof(sql),
             "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, 'future', "
             "'2099-01-01T00:00:00.000Z')",
             future);
    exec_sql(f->db, sql);

    s = open_default(f);
    int applied = -1;
    assert_int_equal(store_migrate(s, &applied, err, sizeof(err)), -1);
    assert_int_equal(applied, 0);
    char want[160];
    snprintf(want, sizeof(want),
             "the store's schema (version %d) is newer than this build knows (%d)", future,
             store_latest_version());
    if (!strstr(err, want))
        fail_msg("unexpected message: %s", err);
    store_close(s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(open_creates_private_wal_database, setup, teardown),
    cmocka_unit_test_setup_teardown(sync_follows_a_symlinked_database, setup, teardown),
    cmocka_unit_test_setup_teardown(sync_follows_a_replaced_wal, setup, teardown),
    cmocka_unit_test_setup_teardown(reserved_wal_keeps_what_was_committed, setup, teardown),
    cmocka_unit_test_setup_teardown(migrate_applies_all_then_nothing, setup, teardown),
    cmocka_unit_test_setup_teardown(hot_check_constraints_build_no_temporary_tree, setup,
                                    teardown),
    cmocka_unit_test(the_ledger_migration_keeps_every_entry_in_its_place),
    cmocka_unit_test(the_nonce_index_serves_expiry_and_start_up),
    cmocka_unit_test(a_store_from_before_the_index_keeps_its_ledger),
    cmocka_unit_test(a_write_is_stored_compact_and_reads_back_whole),
    cmocka_unit_test(the_state_log_migration_and_fold),
    cmocka_unit_test(an_events_entries_are_read_from_its_row),
    cmocka_unit_test(the_event_ledger_migration_marks_older_events_indexed),
    cmocka_unit_test(retention_waits_for_unindexed_entries_and_never_gives_a_seq_again),
    cmocka_unit_test(entries_after_a_deep_tier_are_read),
    cmocka_unit_test_setup_teardown(ping, setup, teardown),
    cmocka_unit_test_setup_teardown(sqlite_url, setup, teardown),
    cmocka_unit_test_setup_teardown(unsupported_url_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(unusable_data_dir_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(newer_schema_refused, setup, teardown),
};

UNIT_MAIN(tests)
