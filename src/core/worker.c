/* A single-thread task runner with a bounded ring buffer (see worker.h). */
#include "core/worker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"

struct task {
    worker_fn *fn;
    void *arg;
    size_t weight;            /* 0: a reserved task (worker_submit_reserved) */
};

struct worker {
    pthread_t tid;
    pthread_mutex_t lock;   /* guards everything below */
    pthread_cond_t wake;
    struct task *ring;      /* cap + WORKER_RESERVED slots: every other task weighs >= 1 */
    size_t cap, head, len;
    size_t reserved;        /* reserved tasks waiting, <= WORKER_RESERVED */
    size_t weight;          /* of the waiting tasks, <= cap */
    bool stopping;
    bool started;
    struct worker_batch batch;  /* max 1 and no hooks when not batching */
    char name[16];
};

static void *run(void *arg)
{
    struct worker *w = arg;
    /* A batch holds at most `max` tasks (each weighs >= 1) and never more than the queue. */
    size_t most = (w->batch.max < w->cap ? w->batch.max : w->cap) + WORKER_RESERVED;
    struct task *taken = xcalloc(most, sizeof(*taken));
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->len == 0 && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->len == 0 && w->stopping)
            break;
        /* A batch is full at `max`, or at the whole queue when that is smaller. */
        size_t full = w->batch.max < w->cap ? w->batch.max : w->cap;
        if (w->batch.wait_us && w->weight < full && !w->stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)w->batch.wait_us * 1000u;
            until.tv_sec += (time_t)(ns / 1000000000u);
            until.tv_nsec = (long)(ns % 1000000000u);
            while (w->weight < full && !w->stopping &&
                   pthread_cond_timedwait(&w->wake, &w->lock, &until) == 0)
                ;
        }
        size_t n = 0, weight = 0;
        while (w->len > 0 && (n == 0 || weight + w->ring[w->head].weight <= w->batch.max)) {
            taken[n] = w->ring[w->head];
            weight += taken[n++].weight;
            w->weight -= w->ring[w->head].weight;
            w->reserved -= w->ring[w->head].weight == 0;
            w->head = (w->head + 1) % (w->cap + WORKER_RESERVED);
            w->len--;
        }
        pthread_mutex_unlock(&w->lock);
        if (w->batch.begin)
            w->batch.begin(w->batch.arg);
        for (size_t i = 0; i < n; i++)
            taken[i].fn(taken[i].arg);
        if (w->batch.end)
            w->batch.end(w->batch.arg);
        log_flush();
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    if (w->batch.begin)
        w->batch.begin(w->batch.arg);
    if (w->batch.end)
        w->batch.end(w->batch.arg);
    log_flush();
    free(taken);
    log_thread_release();
    return NULL;
}

struct worker *worker_new(const char *name, size_t capacity, const struct worker_batch *batch)
{
    struct worker *w = xcalloc(1, sizeof(*w));
    w->cap = capacity ? capacity : 1;
    if (batch)
        w->batch = *batch;
    if (w->batch.max == 0)
        w->batch.max = 1;
    w->ring = xcalloc(w->cap + WORKER_RESERVED, sizeof(*w->ring));
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    strncpy(w->name, name, sizeof(w->name) - 1);
    if (pthread_create(&w->tid, NULL, run, w) != 0) {
        log_error("cannot start worker thread", LOG_S("worker", name));
        w->stopping = true;
        return w;
    }
    pthread_setname_np(w->tid, w->name);
    w->started = true;
    return w;
}

int worker_submit(struct worker *w, worker_fn *fn, void *arg)
{
    return worker_submit_weighted(w, fn, arg, 1);
}

int worker_submit_weighted(struct worker *w, worker_fn *fn, void *arg, size_t weight)
{
    if (weight == 0)
        weight = 1;
    if (weight > w->cap)
        weight = w->cap;
    pthread_mutex_lock(&w->lock);
    if (w->stopping || w->weight + weight > w->cap) {
        pthread_mutex_unlock(&w->lock);
        return -1;
    }
    w->ring[(w->head + w->len) % (w->cap + WORKER_RESERVED)] = (struct task){ fn, arg, weight };
    w->len++;
    w->weight += weight;
    /* The thread waits for any task, or (wait_us) for a full batch: wake it when either. */
    if (!w->batch.wait_us || w->len == 1 || w->weight >= w->batch.max || w->weight >= w->cap)
        pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

int worker_submit_reserved(struct worker *w, worker_fn *fn, void *arg)
{
    pthread_mutex_lock(&w->lock);
    if (w->stopping || w->reserved == WORKER_RESERVED) {
        pthread_mutex_unlock(&w->lock);
        return -1;
    }
    w->ring[(w->head + w->len) % (w->cap + WORKER_RESERVED)] = (struct task){ fn, arg, 0 };
    w->len++;
    w->reserved++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

bool worker_stopping(struct worker *w)
{
    pthread_mutex_lock(&w->lock);
    bool stopping = w->stopping;
    pthread_mutex_unlock(&w->lock);
    return stopping;
}

size_t worker_depth(struct worker *w)
{
    pthread_mutex_lock(&w->lock);
    size_t n = w->weight;
    pthread_mutex_unlock(&w->lock);
    return n;
}

void worker_stop(struct worker *w)
{
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    if (w->started) {
        pthread_join(w->tid, NULL);
        w->started = false;
    }
}

void worker_free(struct worker *w)
{
    if (!w)
        return;
    worker_stop(w);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    free(w->ring);
    free(w);
}
