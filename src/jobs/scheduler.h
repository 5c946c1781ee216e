/* The scheduler: built-in recurring work on schedules (jobs/cron.h), each slot run exactly
 * once.
 *
 * A thread ticks every `tick_ms` and submits one task to the engine thread. There, for each
 * schedule, the slots due since the last one run (at most `catchup` of them after downtime;
 * older ones are skipped and logged) are taken one by one: the slot is recorded in the store
 * (store_schedule_run; a slot recorded before is skipped) and its work runs in the same
 * batch, so the record and the work commit or roll back together — exactly once, across
 * restarts. A schedule that never ran starts from the present (no back-fill).
 *
 * Built-in schedules (docs/operations.md):
 *   job-cleanup     deletes succeeded jobs and webhook delivery records older than the
 *                   retention (REACTOR_JOB_RETENTION_DAYS)
 *   board-eviction  takes idle period leaderboards out of memory (engine/boards.h)
 *   event-retention deletes events (and so their idempotency keys) received more than
 *                   REACTOR_EVENT_RETENTION_DAYS ago, at most EVENTS_EXPIRE_CHUNK a run;
 *                   nothing when the retention is 0 (the default: kept forever)
 *   season-end      closes every season whose endsAt has passed, once: grants its
 *                   rewardConfig.prizes to the top of its board (engine_grant) and settles
 *                   its leagues (promotion and demotion, api_league_settle)
 *
 * Leadership: only the leader schedules. With one node it is the node itself unless
 * REACTOR_SCHEDULER=false (a node that only serves); the PostgreSQL backend will make
 * scheduler_is_leader hold an advisory lock. Even two leaders at once could not run a slot
 * twice: the (schedule, slot) row is the arbiter.
 *
 * Threads: scheduler_new/start/stop on the main thread; the work on the engine thread. */
#ifndef REACTOR_JOBS_SCHEDULER_H
#define REACTOR_JOBS_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

struct api;

struct scheduler_config {
    bool enabled;               /* this node may lead */
    int tick_ms;
    int catchup;                /* slots caught up per schedule at most */
    int job_retention_days;
    const char *job_cleanup;    /* schedules (cron.h syntax) */
    const char *board_eviction;
    const char *season_end;
    int event_retention_days;   /* 0: events are kept forever */
    const char *event_retention;
    const char *season_start;
    int season_results_max;     /* a closed season's results: its board's top this many */
};

struct scheduler;

/* NULL with a message naming the bad schedule. */
struct scheduler *scheduler_new(const struct scheduler_config *cfg, struct api *api, char *err,
                                size_t errlen);
int scheduler_start(struct scheduler *s);
/* Stops ticking (a task already submitted still runs). */
void scheduler_stop(struct scheduler *s);
void scheduler_free(struct scheduler *s);
/* Whether this node schedules (the seam of leader election). */
bool scheduler_is_leader(const struct scheduler *s);
/* The collector (core/metrics.h). */
void scheduler_collect_metrics(struct buf *out, void *s);

#endif
