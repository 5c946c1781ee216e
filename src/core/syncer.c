/* The syncer thread (see syncer.h). */
#include "core/syncer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"

struct done {
    syncer_done_fn *fn;
    void *arg;
};

struct syncer {
    pthread_t tid;
    pthread_mutex_t lock; /* guards the pending list and stopping */
    pthread_cond_t wake;
    struct done *pending;
    size_t n, cap;
    bool stopping, started;
    atomic_bool busy;     /* syncing, or completions pending */
    syncer_sync_fn *sync;
    syncer_done_fn *idle;
    void *sync_arg;
    char name[16];
};

static void *run(void *arg)
{
    struct syncer *s = arg;
    struct done *taken = NULL;
    size_t taken_cap = 0;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        if (s->n == 0) {
            atomic_store(&s->busy, false); /* seq_cst: pairs with the writer's hold flag */
            if (s->idle && !s->stopping) {
                pthread_mutex_unlock(&s->lock);
                s->idle(s->sync_arg);
                pthread_mutex_lock(&s->lock);
            }
        }
        while (s->n == 0 && !s->stopping)
            pthread_cond_wait(&s->wake, &s->lock);
        if (s->n == 0)
            break; /* stopping, and nothing left */
        /* Swap lists: the writer appends to an empty one while this sync runs. */
        struct done *list = s->pending;
        size_t n = s->n, cap = s->cap;
        s->pending = taken;
        s->cap = taken_cap;
        s->n = 0;
        taken = list;
        taken_cap = cap;
        pthread_mutex_unlock(&s->lock);
        char err[256] = "";
        if (s->sync(s->sync_arg, err, sizeof(err)) < 0) {
            log_error("cannot make committed work durable; exiting without acknowledging it",
                      LOG_S("error", err));
            log_flush();
            _exit(70);
        }
        for (size_t i = 0; i < n; i++)
            taken[i].fn(taken[i].arg);
        log_flush();
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    free(taken);
    log_thread_release();
    return NULL;
}

struct syncer *syncer_new(const char *name, syncer_sync_fn *sync, syncer_done_fn *idle,
                          void *sync_arg)
{
    struct syncer *s = xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    s->sync = sync;
    s->idle = idle;
    s->sync_arg = sync_arg;
    strncpy(s->name, name, sizeof(s->name) - 1);
    if (pthread_create(&s->tid, NULL, run, s) != 0) {
        log_error("cannot start the syncer thread", LOG_S("thread", name));
        abort(); /* nothing could ever be acknowledged */
    }
    pthread_setname_np(s->tid, s->name);
    s->started = true;
    return s;
}

void syncer_after(struct syncer *s, syncer_done_fn *fn, void *arg)
{
    pthread_mutex_lock(&s->lock);
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->pending = xrealloc(s->pending, s->cap * sizeof(*s->pending));
    }
    s->pending[s->n++] = (struct done){ fn, arg };
    atomic_store(&s->busy, true);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

bool syncer_busy(struct syncer *s)
{
    return atomic_load(&s->busy);
}

void syncer_stop(struct syncer *s)
{
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    if (s->started) {
        pthread_join(s->tid, NULL);
        s->started = false;
    }
}

void syncer_free(struct syncer *s)
{
    if (!s)
        return;
    syncer_stop(s);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s->pending);
    free(s);
}
