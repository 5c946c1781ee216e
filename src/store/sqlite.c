/* The SQLite backend of the store (see store.h).
 *
 * Durability: WAL journal with synchronous=FULL, so a commit is on disk (fsync of the WAL)
 * before it returns — an acknowledged write survives a crash or power cut. WAL lets readers
 * proceed during a write, which later issues use for read-only connections. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/mem.h"
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
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 5000);
    /* synchronous=NORMAL: a commit writes the WAL without waiting for the disk; store_sync
     * makes commits durable (one fdatasync of the WAL on another thread covers every commit
     * before it), and nothing is acknowledged before that. Checkpoints still sync the WAL
     * before copying it into the database, and the database after. */
    if (sqlite__exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                        "PRAGMA foreign_keys=ON;",
             err, errlen) < 0) {
        store_close(s);
        return NULL;
    }
    chmod(path, 0600);
    return s;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->stmts[i]);
    if (s->db)
        sqlite3_close_v2(s->db);
    if (s->wal_fd >= 0)
        close(s->wal_fd);
    free(s->path);
    free(s->describe);
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

int store_migrate(struct store *s, int *applied, char *err, size_t errlen)
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
        if (m->version <= current)
            continue;
        if (sqlite__exec(s, "BEGIN IMMEDIATE", err, errlen) < 0)
            return -1;
        struct buf sql = BUF_INIT;
        buf_printf(&sql,
                   "%s\nINSERT INTO schema_migrations (version, name, applied_at) VALUES "
                   "(%d, '%s', strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now'));",
                   m->sql, m->version, m->name);
        int rc = sqlite__exec(s, sql.data, err, errlen);
        buf_release(&sql);
        if (rc < 0) {
            char ignore[64];
            sqlite__exec(s, "ROLLBACK", ignore, sizeof(ignore));
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
    if (sqlite__exec(s, "COMMIT", err, errlen) == 0)
        return 0;
    store_batch_rollback(s);
    return -1;
}

int store_sync(struct store *s, char *err, size_t errlen)
{
    struct stat st;
    if (s->wal_fd >= 0 && (fstat(s->wal_fd, &st) < 0 || st.st_nlink == 0)) {
        close(s->wal_fd); /* the WAL was removed and will be recreated: follow it */
        s->wal_fd = -1;
    }
    if (s->wal_fd < 0) {
        struct buf p = BUF_INIT;
        buf_printf(&p, "%s-wal", s->path);
        s->wal_fd = open(p.data, O_RDONLY | O_CLOEXEC);
        int e = errno;
        buf_release(&p);
        if (s->wal_fd < 0) {
            if (e == ENOENT)
                return 0; /* no WAL: nothing was committed since the last checkpoint */
            snprintf(err, errlen, "cannot open the WAL of %s: %s", s->path, strerror(e));
            return -1;
        }
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
