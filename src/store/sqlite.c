/* The SQLite backend of the store (see store.h).
 *
 * Durability: WAL journal with synchronous=NORMAL, so a commit writes the WAL without waiting
 * for the disk, and store_sync (on the syncer thread) makes every commit before it durable
 * with one fdatasync of the WAL; nothing is acknowledged before that, so an acknowledged write
 * survives a crash or power cut. WAL lets readers proceed during a write, which later issues
 * use for read-only connections. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/uuid.h"
#include "store/migrations.h"
#include "store/sqlite_int.h"
#include "store/store.h"

int sqlite__exec(struct store *s, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Before SQLite initialises: no memory statistics. They take a global mutex on every
 * allocation, which showed up as the engine's top lock in profiles. (Too late once SQLite is
 * initialised; then it stays as it was.) */
static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* WAL mode, checked: without it commits would not go through the WAL that store_sync makes
 * durable (SQLite falls back to another journal mode where WAL is impossible). */
static int enable_wal(struct store *s, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK)
        return sqlite__fail(s, err, errlen);
    int rc = sqlite3_step(st);
    const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    bool wal = mode && strcmp(mode, "wal") == 0;
    if (!wal)
        snprintf(err, errlen, "%s cannot use a write-ahead log (journal mode %s)", s->path,
                 mode ? mode : sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    return wal ? 0 : -1;
}

/* Opens the WAL for store_sync, and syncs its directory so the file itself survives a power
 * cut. Touches no SQLite state: store_sync calls it from the syncer thread. */
static int open_wal_fd(struct store *s, char *err, size_t errlen)
{
    if (s->wal_fd >= 0)
        close(s->wal_fd);
    s->wal_fd = open(s->wal_path, O_RDONLY | O_CLOEXEC);
    if (s->wal_fd < 0) {
        snprintf(err, errlen, "cannot open the WAL %s: %s", s->wal_path, strerror(errno));
        return -1;
    }
    char *dir = xstrdup(s->wal_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = dfd >= 0 ? fsync(dfd) : -1;
    if (rc < 0)
        snprintf(err, errlen, "cannot sync the directory of %s: %s", s->wal_path,
                 strerror(errno));
    if (dfd >= 0)
        close(dfd);
    free(dir);
    return rc;
}

/* Gives the WAL `bytes` up front, as zeros past what it holds (the server's default, 48 MiB,
 * is a little more than STORE_CHECKPOINT_HARD frames of 4 KiB pages, where the WAL starts
 * over). A commit that writes past the file's end allocates blocks, and then its fdatasync
 * also writes the inode and waits for that write: a second round trip to the disk for every
 * sync while the log grows (after each start, and whenever a cycle of the log runs longer
 * than the last). SQLite reads a WAL only up to its first invalid frame, so the zeros are not
 * frames. Best effort: the store works without it. */
static void wal_reserve(struct store *s, size_t bytes)
{
    off_t want = (off_t)bytes;
    int fd = open(s->wal_path, O_WRONLY | O_CLOEXEC);
    struct stat stt;
    if (fd < 0 || fstat(fd, &stt) < 0 || stt.st_size >= want) {
        if (fd >= 0)
            close(fd);
        return;
    }
    static const char zeros[1 << 16];
    off_t at = stt.st_size;
    while (at < want) {
        size_t n = (size_t)(want - at) < sizeof(zeros) ? (size_t)(want - at) : sizeof(zeros);
        ssize_t w = pwrite(fd, zeros, n, at);
        if (w <= 0)
            break;
        at += w;
    }
    if (at < want || fdatasync(fd) < 0)
        log_warn("cannot reserve the WAL's working size; going on without",
                 LOG_S("wal", s->wal_path), LOG_S("error", strerror(errno)));
    close(fd);
}

/* The WAL as SQLite names it (it follows a symbolic link to the database), opened. */
static int open_wal(struct store *s, size_t reserve, char *err, size_t errlen)
{
    /* A read makes SQLite open (create) the WAL if it has not yet. */
    if (sqlite__exec(s, "SELECT count(*) FROM sqlite_schema", err, errlen) < 0)
        return -1;
    const char *wal = sqlite3_filename_wal(sqlite3_db_filename(s->db, "main"));
    if (!wal || !*wal) {
        snprintf(err, errlen, "%s has no write-ahead log file", s->path);
        return -1;
    }
    s->wal_path = xstrdup(wal);
    if (reserve)
        wal_reserve(s, reserve);
    return open_wal_fd(s, err, errlen);
}

struct store *store_open(const struct store_options *opt, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_sqlite);
    char *path;
    if (opt->database_url && *opt->database_url) {
        if (strncmp(opt->database_url, "sqlite:", 7) != 0) {
            snprintf(err, errlen, "unsupported DATABASE_URL (expected sqlite:<path>)");
            return NULL;
        }
        const char *p = opt->database_url + 7;
        if (strncmp(p, "//", 2) == 0)
            p += 2; /* sqlite:///abs/path and sqlite://rel/path */
        if (*p == '\0') {
            snprintf(err, errlen, "DATABASE_URL has no path");
            return NULL;
        }
        path = xstrdup(p);
    } else {
        if (fs_mkdir_p(opt->data_dir, err, errlen) < 0)
            return NULL;
        struct buf b = BUF_INIT;
        buf_printf(&b, "%s/reactor.db", opt->data_dir);
        path = buf_detach(&b, NULL);
    }

    struct store *s = xcalloc(1, sizeof(*s));
    s->path = path;
    s->wal_fd = -1;
    s->event_seq = -1;
    s->event_issued_seq = -1;
    buf_init(&s->row);
    buf_init(&s->fx_json);
    struct buf d = BUF_INIT;
    buf_printf(&d, "sqlite:%s", path);
    s->describe = buf_detach(&d, NULL);
    int rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        store_close(s);
        return NULL;
    }
    /* Private, before the WAL and its index exist: SQLite gives them the database's mode. */
    chmod(path, 0600);
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 5000);
    /* synchronous=NORMAL: a commit writes the WAL without waiting for the disk; store_sync
     * makes commits durable (one fdatasync of the WAL on another thread covers every commit
     * before it), and nothing is acknowledged before that. Checkpoints still sync the WAL
     * before copying it into the database, and the database after. */
    if (enable_wal(s, err, errlen) < 0 ||
        sqlite__exec(s, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", err, errlen) < 0 ||
        open_wal(s, opt->wal_reserve, err, errlen) < 0) {
        store_close(s);
        return NULL;
    }
    return s;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    store_checkpointer_stop(s);
    uuid_seq_key_free(s->event_key);
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->stmts[i]);
    if (s->db)
        sqlite3_close_v2(s->db);
    if (s->wal_fd >= 0)
        close(s->wal_fd);
    free(s->path);
    free(s->wal_path);
    free(s->describe);
    buf_release(&s->row);
    if (s->fx_ready)
        jread_release(&s->fx);
    buf_release(&s->fx_num);
    buf_release(&s->fx_json);
    free(s);
}

const char *store_describe(const struct store *s)
{
    return s->describe;
}

int store_latest_version(void)
{
    return sqlite_migrations_count ? sqlite_migrations[sqlite_migrations_count - 1].version : 0;
}

static int ensure_migrations_table(struct store *s, char *err, size_t errlen)
{
    return sqlite__exec(s,
                "CREATE TABLE IF NOT EXISTS schema_migrations (\n"
                "  version    INTEGER PRIMARY KEY,\n"
                "  name       TEXT NOT NULL,\n"
                "  applied_at TEXT NOT NULL\n"
                ") STRICT;",
                err, errlen);
}

int store_schema_version(struct store *s, int *version, char *err, size_t errlen)
{
    if (ensure_migrations_table(s, err, errlen) < 0)
        return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1,
                           &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(s->db));
        return -1;
    }
    int ret = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *version = sqlite3_column_int(st, 0);
        ret = 0;
    } else {
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(s->db));
    }
    sqlite3_finalize(st);
    return ret;
}

/* The integer a PRAGMA returns. */
static int pragma_int(struct store *s, const char *sql, int *out, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sqlite__fail(s, err, errlen);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : sqlite__fail(s, err, errlen);
}

int store_migrate(struct store *s, int *applied, char *err, size_t errlen)
{
    return store_migrate_to(s, store_latest_version(), applied, err, errlen);
}

int store_migrate_to(struct store *s, int version, int *applied, char *err, size_t errlen)
{
    int current;
    if (applied)
        *applied = 0;
    if (store_schema_version(s, &current, err, errlen) < 0)
        return -1;
    if (current > store_latest_version()) {
        snprintf(err, errlen,
                 "the store's schema (version %d) is newer than this build knows (%d); "
                 "run a newer reactor",
                 current, store_latest_version());
        return -1;
    }
    for (int i = 0; i < sqlite_migrations_count; i++) {
        const struct migration *m = &sqlite_migrations[i];
        if (m->version <= current || m->version > version)
            continue;
        if (sqlite__exec(s, "BEGIN IMMEDIATE", err, errlen) < 0)
            return -1;
        struct buf sql = BUF_INIT;
        int schema_version = 0;
        if (m->edits_schema) {
            if (pragma_int(s, "PRAGMA schema_version", &schema_version, err, errlen) < 0) {
                char ignore[64];
                sqlite__exec(s, "ROLLBACK", ignore, sizeof(ignore));
                return -1;
            }
            buf_puts(&sql, "PRAGMA writable_schema = ON;\n");
        }
        buf_printf(&sql,
                   "%s\nINSERT INTO schema_migrations (version, name, applied_at) VALUES "
                   "(%d, '%s', strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now'));",
                   m->sql, m->version, m->name);
        if (m->edits_schema)
            buf_printf(&sql, "\nPRAGMA schema_version = %d;\nPRAGMA writable_schema = OFF;",
                       schema_version + 1);
        int rc = sqlite__exec(s, sql.data, err, errlen);
        buf_release(&sql);
        if (rc < 0) {
            char ignore[64];
            sqlite__exec(s, "ROLLBACK", ignore, sizeof(ignore));
            if (m->edits_schema) /* a setting of the connection: rollback keeps it */
                sqlite__exec(s, "PRAGMA writable_schema = OFF", ignore, sizeof(ignore));
            size_t used = strlen(err);
            snprintf(err + used, errlen > used ? errlen - used : 0, " (migration %d %s)",
                     m->version, m->name);
            return -1;
        }
        if (sqlite__exec(s, "COMMIT", err, errlen) < 0)
            return -1;
        log_info("migration applied", LOG_I("version", m->version), LOG_S("name", m->name));
        if (applied)
            (*applied)++;
    }
    return 0;
}

int store_batch_begin(struct store *s, char *err, size_t errlen)
{
    return sqlite__exec(s, "BEGIN IMMEDIATE", err, errlen);
}

int store_batch_commit(struct store *s, char *err, size_t errlen)
{
    if (sqlite__exec(s, "COMMIT", err, errlen) == 0) {
        s->event_tentative = false;
        return 0;
    }
    store_batch_rollback(s);
    return -1;
}

int store_sync(struct store *s, char *err, size_t errlen)
{
    /* Only the link count is asked for. With multigrain timestamps (Linux 6.13 on), a stat
     * that reports the times marks them as read, and the kernel gives the next write a
     * fine-grained modification time, always new: every commit dirtied the inode, and on ext4
     * without a journal each fdatasync also wrote the inode's block and waited for it (216 ->
     * 131 us a sync, median, on the benchmark machine). Unread, the time moves once a tick. */
    struct statx stx;
    int rc = statx(s->wal_fd, "", AT_EMPTY_PATH, STATX_NLINK, &stx);
    if (rc < 0 && errno == ENOSYS) { /* a kernel before 4.11, or a filter that refuses it */
        struct stat st;
        rc = fstat(s->wal_fd, &st);
        stx.stx_mask = STATX_NLINK;
        stx.stx_nlink = rc == 0 ? (uint32_t)st.st_nlink : 0;
    }
    if (rc < 0 || ((stx.stx_mask & STATX_NLINK) && stx.stx_nlink == 0)) {
        /* Removed (SQLite deletes the WAL only when the last connection closes, which this
         * one has not): follow the new file. */
        if (open_wal_fd(s, err, errlen) < 0)
            return -1;
    }
    if (fdatasync(s->wal_fd) < 0) {
        snprintf(err, errlen, "fdatasync of the WAL of %s: %s", s->path, strerror(errno));
        return -1;
    }
    return 0;
}

bool store_batch_active(struct store *s)
{
    return !sqlite3_get_autocommit(s->db);
}

void store_batch_rollback(struct store *s)
{
    s->event_issued_seq = -1; /* its secret may go with the batch: index such a key */
    if (s->event_tentative) {
        s->event_seq = -1;               /* seqs taken by the batch are free again */
        uuid_seq_key_free(s->event_key); /* it may have been made in this batch */
        s->event_key = NULL;
        s->event_key_absent = false;
        s->event_tentative = false;
    }
    if (!sqlite3_get_autocommit(s->db)) {
        char ignore[64];
        sqlite__exec(s, "ROLLBACK", ignore, sizeof(ignore));
    }
}

int store_ping(struct store *s)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT 1", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}
