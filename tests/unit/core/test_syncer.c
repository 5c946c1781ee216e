/* Unit tests for src/core/syncer.c: a completion never runs before a sync that started after
 * it was handed over, completions run in order, and stopping completes everything. */
#include "unit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/syncer.h"

struct probe {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int syncs_started, syncs_done; /* guarded by lock */
    bool gate_open;                /* a sync waits until the gate opens */
    bool gated;
    int order[64];
    int n_done;
    int seen_syncs[64]; /* syncs_done when each completion ran */
};

static int sync_fn(void *arg, char *err, unsigned errlen)
{
    (void)err;
    (void)errlen;
    struct probe *p = arg;
    pthread_mutex_lock(&p->lock);
    p->syncs_started++;
    pthread_cond_broadcast(&p->cond);
    while (p->gated && !p->gate_open)
        pthread_cond_wait(&p->cond, &p->lock);
    p->syncs_done++;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

struct item {
    struct probe *p;
    int id;
};

static void done_fn(void *arg)
{
    struct item *it = arg;
    struct probe *p = it->p;
    pthread_mutex_lock(&p->lock);
    p->seen_syncs[p->n_done] = p->syncs_done;
    p->order[p->n_done++] = it->id;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void probe_init(struct probe *p)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
}

static void probe_destroy(struct probe *p)
{
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
}

/* Completions run in hand-over order, each after at least one sync that started after it was
 * handed over. */
static void completions_follow_a_sync_in_order(void **state)
{
    (void)state;
    struct probe p;
    probe_init(&p);
    struct syncer *s = syncer_new("test-sync", sync_fn, NULL, &p);
    struct item items[32];
    for (int i = 0; i < 32; i++) {
        items[i] = (struct item){ &p, i };
        syncer_after(s, done_fn, &items[i]);
    }
    syncer_stop(s);
    assert_int_equal(p.n_done, 32);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(p.order[i], i);
        assert_true(p.seen_syncs[i] >= 1);
    }
    syncer_free(s);
    probe_destroy(&p);
}

/* Work handed over while a sync runs waits for the next sync, and is busy meanwhile. */
static void work_during_a_sync_waits_for_the_next(void **state)
{
    (void)state;
    struct probe p;
    probe_init(&p);
    p.gated = true;
    struct syncer *s = syncer_new("test-sync", sync_fn, NULL, &p);
    assert_false(syncer_busy(s));
    struct item a = { &p, 1 }, b = { &p, 2 };
    syncer_after(s, done_fn, &a);
    assert_true(syncer_busy(s));
    pthread_mutex_lock(&p.lock);
    while (p.syncs_started < 1)
        pthread_cond_wait(&p.cond, &p.lock);
    pthread_mutex_unlock(&p.lock);
    /* The first sync is running (held at the gate): b is handed over during it. */
    syncer_after(s, done_fn, &b);
    pthread_mutex_lock(&p.lock);
    assert_int_equal(p.n_done, 0);
    p.gate_open = true;
    pthread_cond_broadcast(&p.cond);
    while (p.n_done < 2)
        pthread_cond_wait(&p.cond, &p.lock);
    pthread_mutex_unlock(&p.lock);
    assert_int_equal(p.order[0], 1);
    assert_int_equal(p.order[1], 2);
    assert_int_equal(p.seen_syncs[0], 1); /* a ran after the first sync */
    assert_int_equal(p.seen_syncs[1], 2); /* b needed the second */
    syncer_stop(s);
    assert_false(syncer_busy(s));
    syncer_free(s);
    probe_destroy(&p);
}

/* Stopping an idle syncer does not sync for nothing. */
static void idle_stop_runs_no_sync(void **state)
{
    (void)state;
    struct probe p;
    probe_init(&p);
    struct syncer *s = syncer_new("test-sync", sync_fn, NULL, &p);
    syncer_stop(s);
    syncer_free(s);
    assert_int_equal(p.syncs_started, 0);
    probe_destroy(&p);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(completions_follow_a_sync_in_order),
    cmocka_unit_test(work_during_a_sync_waits_for_the_next),
    cmocka_unit_test(idle_stop_runs_no_sync),
};

UNIT_MAIN(tests)
