/* Unit tests for src/core/worker.c: the store thread runs every request's SQL through one of
 * these, so order, the bounded queue (503 instead of waiting) and a clean stop that finishes
 * queued work are what users see. */
#include "unit.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "core/worker.h"

/* ---- a task that blocks the worker until released ------------------------------------------ */

struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool started;  /* the blocking task is running (so it left the queue) */
    bool released; /* the blocking task may return */
};

static void gate_init(struct gate *g)
{
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->started = g->released = false;
}

static void gate_destroy(struct gate *g)
{
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->cond);
}

static void gate_task(void *arg)
{
    struct gate *g = arg;
    pthread_mutex_lock(&g->lock);
    g->started = true;
    pthread_cond_broadcast(&g->cond);
    while (!g->released)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

static void gate_wait_started(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    while (!g->started)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

static void gate_release(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->released = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

/* ---- a task that records its order and thread ---------------------------------------------- */

#define LOG_MAX 256

struct record {
    pthread_mutex_t lock;
    int order[LOG_MAX];
    pthread_t thread[LOG_MAX];
    size_t n;
};

struct mark {
    struct record *rec;
    int value;
};

static void record_task(void *arg)
{
    struct mark *m = arg;
    pthread_mutex_lock(&m->rec->lock);
    if (m->rec->n < LOG_MAX) {
        m->rec->order[m->rec->n] = m->value;
        m->rec->thread[m->rec->n] = pthread_self();
        m->rec->n++;
    }
    pthread_mutex_unlock(&m->rec->lock);
}

static void count_task(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* ---- cases ---------------------------------------------------------------------------------- */

static void tasks_run_in_order_on_another_thread(void **state)
{
    (void)state;
    struct record rec;
    memset(&rec, 0, sizeof(rec));
    pthread_mutex_init(&rec.lock, NULL);
    struct mark marks[100];
    struct worker *w = worker_new("test", 128, NULL);
    for (int i = 0; i < 100; i++) {
        marks[i] = (struct mark){&rec, i};
        assert_int_equal(worker_submit(w, record_task, &marks[i]), 0);
    }
    worker_stop(w);
    assert_int_equal(rec.n, 100);
    for (size_t i = 0; i < rec.n; i++) {
        assert_int_equal(rec.order[i], (int)i);
        assert_false(pthread_equal(rec.thread[i], pthread_self()));
        assert_true(pthread_equal(rec.thread[i], rec.thread[0]));
    }
    worker_free(w);
    pthread_mutex_destroy(&rec.lock);
}

/* The ring wraps around many times: nothing is lost or repeated. */
static void small_queue_reused_many_times(void **state)
{
    (void)state;
    atomic_int ran = 0;
    struct worker *w = worker_new("test", 2, NULL);
    int accepted = 0;
    for (int i = 0; i < 10000; i++) {
        if (worker_submit(w, count_task, &ran) == 0)
            accepted++;
        else
            sched_yield();
    }
    worker_stop(w);
    assert_int_equal(atomic_load(&ran), accepted);
    assert_true(accepted >= 2);
    worker_free(w);
}

static void full_queue_is_refused(void **state)
{
    (void)state;
    struct gate g;
    gate_init(&g);
    atomic_int ran = 0;
    struct worker *w = worker_new("test", 4, NULL);
    assert_int_equal(worker_submit(w, gate_task, &g), 0);
    gate_wait_started(&g); /* the worker is busy and its queue empty */
    assert_int_equal(worker_depth(w), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(worker_submit(w, count_task, &ran), 0);
    assert_int_equal(worker_depth(w), 4);
    assert_int_equal(worker_submit(w, count_task, &ran), -1);
    assert_int_equal(worker_submit(w, count_task, &ran), -1);
    assert_int_equal(worker_depth(w), 4);
    assert_int_equal(atomic_load(&ran), 0);
    gate_release(&g);
    worker_stop(w);
    /* The four accepted ran; the two refused never did. */
    assert_int_equal(atomic_load(&ran), 4);
    assert_int_equal(worker_depth(w), 0);
    worker_free(w);
    gate_destroy(&g);
}

/* Once a full queue drains, it accepts again. */
static void queue_accepts_again_after_draining(void **state)
{
    (void)state;
    struct gate g;
    gate_init(&g);
    atomic_int ran = 0;
    struct worker *w = worker_new("test", 1, NULL);
    assert_int_equal(worker_submit(w, gate_task, &g), 0);
    gate_wait_started(&g);
    assert_int_equal(worker_submit(w, count_task, &ran), 0);
    assert_int_equal(worker_submit(w, count_task, &ran), -1);
    gate_release(&g);
    for (int i = 0; i < 5000 && worker_depth(w) != 0; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(worker_depth(w), 0);
    assert_int_equal(worker_submit(w, count_task, &ran), 0);
    worker_stop(w);
    assert_int_equal(atomic_load(&ran), 2);
    worker_free(w);
    gate_destroy(&g);
}

static void *stop_thread(void *arg)
{
    worker_stop(arg);
    return NULL;
}

/* worker_stop refuses new tasks at once but still runs every task queued before it, and only
 * returns when they are done. */
static void stop_runs_queued_tasks_then_joins(void **state)
{
    (void)state;
    struct gate g;
    gate_init(&g);
    atomic_int ran = 0;
    struct worker *w = worker_new("test", 4096, NULL);
    assert_int_equal(worker_submit(w, gate_task, &g), 0);
    gate_wait_started(&g);
    for (int i = 0; i < 3; i++)
        assert_int_equal(worker_submit(w, count_task, &ran), 0);

    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stop_thread, w), 0);
    /* Until the stopper has flagged the worker, submissions may still be accepted; count them.
     * One try per millisecond: the stopper has seconds to start before the queue could fill. */
    int extra = 0;
    for (;;) {
        if (worker_submit(w, count_task, &ran) < 0)
            break;
        extra++;
        assert_true(extra < 4096 - 3); /* the stop flag must show up before the queue fills */
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&ran), 0); /* all still waiting behind the gate */
    assert_int_equal(worker_depth(w), (size_t)(3 + extra));
    gate_release(&g);
    assert_int_equal(pthread_join(t, NULL), 0);
    /* worker_stop has returned: everything queued has run. */
    assert_int_equal(atomic_load(&ran), 3 + extra);
    assert_int_equal(worker_depth(w), 0);
    worker_free(w);
    gate_destroy(&g);
}

static void submit_after_stop_is_refused(void **state)
{
    (void)state;
    atomic_int ran = 0;
    struct worker *w = worker_new("test", 8, NULL);
    assert_int_equal(worker_submit(w, count_task, &ran), 0);
    worker_stop(w);
    assert_int_equal(atomic_load(&ran), 1);
    assert_int_equal(worker_submit(w, count_task, &ran), -1);
    worker_stop(w); /* a second stop is harmless */
    assert_int_equal(worker_submit(w, count_task, &ran), -1);
    assert_int_equal(atomic_load(&ran), 1);
    assert_int_equal(worker_depth(w), 0);
    worker_free(w);
}

/* worker_free alone (no worker_stop) still finishes the queue: nothing leaks under ASan. */
static void free_without_stop_runs_queue(void **state)
{
    (void)state;
    atomic_int ran = 0;
    struct worker *w = worker_new("test", 8, NULL);
    for (int i = 0; i < 5; i++)
        assert_int_equal(worker_submit(w, count_task, &ran), 0);
    worker_free(w);
    assert_int_equal(atomic_load(&ran), 5);
}

/* ---- batching ------------------------------------------------------------------------------ */

struct batch_log {
    char events[256]; /* 'b' begin, 'e' end, 't' task */
    size_t n;
};

static void log_event(struct batch_log *l, char c)
{
    if (l->n < sizeof(l->events) - 1)
        l->events[l->n++] = c;
}

static void on_begin(void *arg)
{
    log_event(arg, 'b');
}

static void on_end(void *arg)
{
    log_event(arg, 'e');
}

static void logged_task(void *arg)
{
    log_event(arg, 't');
}

/* Tasks that wait while the worker is busy run together, between one begin and one end, at
 * most `max` at a time. */
static void batch_hooks_wrap_waiting_tasks(void **state)
{
    (void)state;
    struct batch_log log;
    memset(&log, 0, sizeof(log));
    struct gate g;
    gate_init(&g);
    struct worker_batch batch = { .max = 4, .begin = on_begin, .end = on_end, .arg = &log };
    struct worker *w = worker_new("test", 64, &batch);
    assert_int_equal(worker_submit(w, gate_task, &g), 0);
    gate_wait_started(&g); /* the worker is inside the first batch, blocked */
    for (int i = 0; i < 6; i++)
        assert_int_equal(worker_submit(w, logged_task, &log), 0);
    gate_release(&g);
    worker_stop(w);
    worker_free(w);
    gate_destroy(&g);
    log.events[log.n] = '\0';
    /* first batch: the gate alone; then the six waiting tasks as 4 + 2 */
    assert_string_equal(log.events, "bebttttebtte");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(tasks_run_in_order_on_another_thread),
    cmocka_unit_test(small_queue_reused_many_times),
    cmocka_unit_test(full_queue_is_refused),
    cmocka_unit_test(queue_accepts_again_after_draining),
    cmocka_unit_test(stop_runs_queued_tasks_then_joins),
    cmocka_unit_test(submit_after_stop_is_refused),
    cmocka_unit_test(free_without_stop_runs_queue),
    cmocka_unit_test(batch_hooks_wrap_waiting_tasks),
};

UNIT_MAIN(tests)
