/* Checkpoints on a thread of their own (see store.h, store_checkpointer_start).
 *
 * SQLite's automatic checkpoint runs in the connection that commits, right after the commit
 * that takes the WAL past 1,000 pages: the engine thread would read those pages back from the
 * WAL, write them into the database and sync both files before its next batch. Here the
 * engine's commit only notes how long the WAL is (a WAL hook, which replaces the automatic
 * checkpoint) and, once `soft` frames have been added since its last copy, wakes this thread, which copies the pages through a second connection while
 * the engine goes on; in WAL mode a PASSIVE checkpoint neither waits for nor blocks the writer.
 *
 * A WAL starts again from its first frame only when a write transaction finds every frame
 * already copied. Under a steady stream of batches the thread never quite catches up (the
 * engine commits while it copies), so the WAL would grow without end: past STORE_WAL_HARD
 * frames the engine finishes the copy itself from its WAL hook (the frames the thread has not
 * reached yet, usually a few batches' worth), and its next batch starts the WAL over.
 *
 * Durability is unchanged: a checkpoint copies only committed frames and syncs the WAL before
 * it writes the database, and nothing depends on a checkpoint for being acknowledged. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/sqlite_int.h"
#include "store/store.h"

struct store_checkpointer {
    sqlite3 *db; /* its own connection, used only by its thread */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool wake, stop; /* under mu */
    atomic_bool waking; /* a wake-up is pending: the hook need not signal again */
    int soft, hard;     /* frames */
    atomic_int wal_frames; /* the WAL's length after the last commit */
    atomic_int copied_at;  /* the WAL's length when the thread last copied it */
    atomic_uint_fast64_t runs, inline_runs, busy;
    atomic_uint_fast64_t nanos; /* time spent in the thread's checkpoints */
};

/* On the committing (engine) thread after each commit: `frames` is the WAL's length. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct store_checkpointer *c = arg;
    atomic_store_explicit(&c->wal_frames, frames, memory_order_relaxed);
    if (frames >= c->hard) {
        /* Finish the copy here, so that the next batch starts the WAL over. BUSY (the thread
         * is copying right now) is fine: the next commit tries again. */
        int log_frames = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                           &done);
        if (rc == SQLITE_OK)
            atomic_fetch_add_explicit(&c->inline_runs, 1, memory_order_relaxed);
        else if (rc == SQLITE_BUSY)
            atomic_fetch_add_explicit(&c->busy, 1, memory_order_relaxed);
        else
            log_warn("checkpoint failed", LOG_S("error", sqlite3_errstr(rc)));
        return SQLITE_OK;
    }
    int at = atomic_load_explicit(&c->copied_at, memory_order_relaxed);
    if (frames < at)
        at = 0; /* the WAL started over */
    if (frames - at >= c->soft &&
        !atomic_exchange_explicit(&c->waking, true, memory_order_relaxed)) {
        pthread_mutex_lock(&c->mu);
        c->wake = true;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    return SQLITE_OK;
}

static void *run(void *arg)
{
    struct store_checkpointer *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->wake && !c->stop)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop)
            break;
        c->wake = false;
        pthread_mutex_unlock(&c->mu);
        atomic_store_explicit(&c->waking, false, memory_order_relaxed);
        uint64_t t0 = clock_mono_ns();
        int log_frames = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_PASSIVE,
                                           &log_frames, &done);
        if (rc == SQLITE_OK) {
            atomic_store_explicit(&c->copied_at, log_frames, memory_order_relaxed);
            atomic_fetch_add_explicit(&c->runs, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&c->nanos, clock_mono_ns() - t0,
                                      memory_order_relaxed);
        } else if (rc == SQLITE_BUSY) {
            atomic_fetch_add_explicit(&c->busy, 1, memory_order_relaxed);
        } else {
            log_warn("checkpoint failed", LOG_S("error", sqlite3_errmsg(c->db)));
        }
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int store_checkpointer_start(struct store *s, int soft, int hard, char *err, size_t errlen)
{
    if (s->ckpt)
        return 0;
    if (soft < 1 || hard <= soft) {
        snprintf(err, errlen, "checkpoint thresholds: need 1 <= soft < hard");
        return -1;
    }
    struct store_checkpointer *c = xcalloc(1, sizeof(*c));
    c->soft = soft;
    c->hard = hard;
    int rc = sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the checkpoint connection to %s: %s", s->path,
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close_v2(c->db);
        free(c);
        return -1;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        snprintf(err, errlen, "cannot start the checkpoint thread");
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
        sqlite3_close_v2(c->db);
        free(c);
        return -1;
    }
    pthread_setname_np(c->thread, "checkpoint");
    s->ckpt = c;
    sqlite3_wal_hook(s->db, wal_hook, c);
    return 0;
}

void store_checkpointer_stop(struct store *s)
{
    struct store_checkpointer *c = s->ckpt;
    if (!c)
        return;
    sqlite3_wal_autocheckpoint(s->db, 1000); /* SQLite's own again; drops our hook */
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    sqlite3_close_v2(c->db);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
    s->ckpt = NULL;
}

void store_checkpointer_stats(struct store *s, struct store_checkpoint_stats *out)
{
    struct store_checkpointer *c = s->ckpt;
    *out = (struct store_checkpoint_stats){ 0 };
    if (!c)
        return;
    out->wal_frames = atomic_load_explicit(&c->wal_frames, memory_order_relaxed);
    out->runs = atomic_load_explicit(&c->runs, memory_order_relaxed);
    out->inline_runs = atomic_load_explicit(&c->inline_runs, memory_order_relaxed);
    out->busy = atomic_load_explicit(&c->busy, memory_order_relaxed);
    out->seconds = (double)atomic_load_explicit(&c->nanos, memory_order_relaxed) / 1e9;
}
