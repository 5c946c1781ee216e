/* The job runner: takes due jobs from the store's queue (store.h), runs them on a pool of
 * threads, and records each attempt's outcome, retrying with backoff (jobs/backoff.h) until
 * the job succeeds or runs out of attempts (dead).
 *
 * Design. The store has one writer, the engine thread, so every queue write is a task on it
 * and runs inside its batch: a "tick" task records the outcomes that came back, then claims
 * as many ready jobs as the pool has room for. Claimed jobs are handed to the pool only once
 * the tick's batch has committed (api_batch_after); outcomes are forgotten from memory only
 * once the batch that recorded them has committed, and go back to be recorded again if it
 * rolled back. Ticks come from a pump thread every poll interval and whenever an attempt
 * ends, so a finished job's successor (same order key) starts without waiting for the pump.
 *
 * Pool. Each of `workers` threads drives up to `concurrency` HTTP requests at once with one
 * libcurl multi handle, so a slow receiver holds a connection slot, not a thread. Every
 * attempt has a timeout (the whole request); a timeout or a non-2xx answer is a failure.
 *
 * Guarantees. At least once: a job is claimed (running, attempt counted) before it runs; a
 * process that dies leaves it running, and the next start queues it again (jobs_new) — the
 * receiver may see an attempt twice and deduplicates on the webhook id. Graceful stop
 * (jobs_stop) stops claiming, lets running attempts finish for up to `shutdown_ms`, then
 * aborts the rest and puts them back in the queue with their attempt uncounted.
 *
 * Kinds. Only "webhook" runs on the pool (jobs/webhook.h). Work that needs the store (the
 * scheduler's built-in jobs) runs on the engine thread itself, in the batch that records it
 * (jobs/scheduler.h), and is not a queue job.
 *
 * Threads: jobs_new on the main thread before the engine thread starts; jobs_start and
 * jobs_stop on the main thread; the metrics collector anywhere. */
#ifndef REACTOR_JOBS_JOBS_H
#define REACTOR_JOBS_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct api;
struct store;

struct jobs_config {
    int workers;            /* pool threads (>= 1) */
    int concurrency;        /* requests in flight per thread */
    int max_attempts;       /* of a new job */
    int64_t backoff_ms;     /* first retry delay */
    int64_t backoff_max_ms; /* cap */
    int timeout_ms;         /* one attempt */
    int poll_ms;            /* pump interval */
    int shutdown_ms;        /* jobs_stop's wait for running attempts */
    bool deny_private;      /* refuse webhook addresses in private ranges */
};

struct jobs;

/* Creates the runner over api's store, engine thread and tenant registry (not started), after
 * queueing again every job a dead process left running. NULL with a message on failure. */
struct jobs *jobs_new(const struct jobs_config *cfg, struct api *api, char *err,
                      size_t errlen);
/* Starts the pool and the pump (api->store_worker must run). 0, or -1. */
int jobs_start(struct jobs *j);
/* Stops claiming, waits for running attempts (bounded), returns the others to the queue and
 * submits the last outcomes to the engine thread: call before the engine thread stops. */
void jobs_stop(struct jobs *j);
void jobs_free(struct jobs *j);
/* Asks for a tick soon (any thread): after a job was queued or retried. */
void jobs_kick(struct jobs *j);

/* The engine's outbox hook (engine_on_outbox, arg = struct jobs): webhook jobs. */
struct store_event;
int jobs_outbox(void *jobs, struct store *st, const char *app_id, const struct store_event *ev,
                int64_t now_ms, char *err, size_t errlen);

/* The collector (core/metrics.h, arg = struct jobs). */
void jobs_collect_metrics(struct buf *out, void *jobs);

#endif
