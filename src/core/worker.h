/* A worker: one thread that runs submitted tasks one at a time, in submission order, from a
 * bounded queue. The engine thread is one: it owns the store and the game state, so events
 * and every other write are submitted to it and applied by a single writer.
 *
 * worker_submit never blocks: a full queue is refused (-1) so an I/O thread can answer 503
 * instead of waiting. worker_stop runs every task already queued, then joins the thread.
 */
#ifndef REACTOR_CORE_WORKER_H
#define REACTOR_CORE_WORKER_H

#include <stdbool.h>
#include <stddef.h>

struct worker;
typedef void worker_fn(void *arg);

/* Batching: the thread takes waiting tasks until their weights add up to `max` (a task
 * heavier than what is left still starts a batch alone) and runs them between begin(arg) and
 * end(arg) — the engine thread wraps them in one transaction (group commit). With `wait_us`,
 * a batch that is not full waits up to that long for more tasks before it starts; 0 takes
 * what is there, which batches naturally: whatever arrives during one commit forms the next
 * batch. */
struct worker_batch {
    size_t max;
    unsigned wait_us;
    void (*begin)(void *arg);
    void (*end)(void *arg);
    void *arg;
};

/* Tasks whose weights add up to `capacity` may wait at once. `batch` (copied; may be NULL)
 * groups them. */
struct worker *worker_new(const char *name, size_t capacity, const struct worker_batch *batch);
/* Queues fn(arg). Returns 0, or -1 when the queue is full or the worker stopped (fn is then
 * never called and the caller keeps arg). Thread-safe. */
int worker_submit(struct worker *w, worker_fn *fn, void *arg);
/* The same with a weight (>= 1; an ingest request counts its events): refused when the
 * waiting weight would pass the capacity. A weight over the capacity counts as the capacity,
 * so such a task is accepted into an empty queue. */
int worker_submit_weighted(struct worker *w, worker_fn *fn, void *arg, size_t weight);
/* Background work (the job queue's ticks, the scheduler) that must neither take the room of
 * requests nor be refused because requests filled the queue: up to WORKER_RESERVED such tasks
 * wait beside the `capacity` (in order with the others, weighing nothing in batches). -1 when
 * that many wait already or the worker stopped. Thread-safe. */
#define WORKER_RESERVED 8
int worker_submit_reserved(struct worker *w, worker_fn *fn, void *arg);
/* Weight waiting now. Thread-safe. */
size_t worker_depth(struct worker *w);
/* True once worker_stop was called (any thread). */
bool worker_stopping(struct worker *w);
/* Refuses new tasks, runs those queued, joins the thread. A batching worker runs one last
 * empty batch (begin, end) before it exits, so a batch its hooks held open is closed. */
void worker_stop(struct worker *w);
void worker_free(struct worker *w);

#endif
