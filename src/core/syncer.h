/* A syncer: the thread that makes committed work durable and then completes it, so that the
 * writer never waits for the disk.
 *
 * The writer (the engine thread) commits a batch — visible, not yet on disk — and hands the
 * batch's completion to the syncer with syncer_after; it goes on with the next batch at once.
 * The syncer loops: it takes every completion handed over so far, runs `sync` (one fdatasync
 * covers every commit written before it started), then runs those completions in order.
 * While one sync runs, the next batches commit and wait for the next one: group commit,
 * pipelined. A completion therefore never runs before its batch is durable, and completions
 * run in commit order.
 *
 * A failed sync is fatal: the kernel may have dropped the dirty pages it could not write, so
 * no one can say what is on disk; the process logs and exits (status 70) without acknowledging
 * anything more, and the next start reads the truth from the store. */
#ifndef REACTOR_CORE_SYNCER_H
#define REACTOR_CORE_SYNCER_H

#include <stdbool.h>

struct syncer;

typedef int syncer_sync_fn(void *arg, char *err, unsigned errlen);
typedef void syncer_done_fn(void *arg);

/* `idle` (may be NULL) runs on the syncer thread each time it has completed everything it
 * was handed and waits for more: the writer's cue to commit what it held back. */
struct syncer *syncer_new(const char *name, syncer_sync_fn *sync, syncer_done_fn *idle,
                          void *arg);
/* Runs fn(arg) on the syncer thread after the next sync that starts after this call. */
void syncer_after(struct syncer *s, syncer_done_fn *fn, void *arg);
/* True while a sync runs or completions wait for one (any thread). The writer uses it to keep
 * adding to its open transaction instead of committing a batch that would only wait. */
bool syncer_busy(struct syncer *s);
/* Completes everything handed over (one last sync first) and joins the thread. */
void syncer_stop(struct syncer *s);
void syncer_free(struct syncer *s);

#endif
