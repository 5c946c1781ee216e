/* A worker: one thread that runs submitted tasks one at a time, in submission order, from a
 * bounded queue. The store thread is one (it owns the store; everything that needs SQL is
 * submitted to it); the engine will be another.
 *
 * worker_submit never blocks: a full queue is refused (-1) so an I/O thread can answer 503
 * instead of waiting. worker_stop runs every task already queued, then joins the thread.
 */
#ifndef REACTOR_CORE_WORKER_H
#define REACTOR_CORE_WORKER_H

#include <stddef.h>

struct worker;
typedef void worker_fn(void *arg);

/* Batching: the thread takes up to `max` waiting tasks at a time and runs them between
 * begin(arg) and end(arg) — the store thread wraps them in one transaction (group commit). */
struct worker_batch {
    size_t max;
    void (*begin)(void *arg);
    void (*end)(void *arg);
    void *arg;
};

/* `capacity` tasks may wait at once. `batch` (copied; may be NULL) groups them. */
struct worker *worker_new(const char *name, size_t capacity, const struct worker_batch *batch);
/* Queues fn(arg). Returns 0, or -1 when the queue is full or the worker stopped (fn is then
 * never called and the caller keeps arg). Thread-safe. */
int worker_submit(struct worker *w, worker_fn *fn, void *arg);
/* Tasks waiting now. Thread-safe. */
size_t worker_depth(struct worker *w);
/* Refuses new tasks, runs those queued, joins the thread. */
void worker_stop(struct worker *w);
void worker_free(struct worker *w);

#endif
