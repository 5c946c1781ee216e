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

/* Background tasks wait beside a full queue (up to WORKER_RESERVED), in order with the
 * others, and never take a request's room. */
static void reserved_tasks_pass_a_full_queue(void **state)
{
    (void)state;
    struct gate g;
    gate_init(&g);
    struct record rec;
    memset(&rec, 0, sizeof(rec));
    pthread_mutex_init(&rec.lock, NULL);
    struct mark marks[2 + WORKER_RESERVED];
    struct worker *w = worker_new("test", 1, NULL);
    assert_int_equal(worker_submit(w, gate_task, &g), 0);
    gate_wait_started(&g);
    marks[0] = (struct mark){ &rec, 0 };
    assert_int_equal(worker_submit(w, record_task, &marks[0]), 0);
    assert_int_equal(worker_submit(w, record_task, &marks[0]), -1); /* full */
    for (int i = 1; i <= WORKER_RESERVED; i++) {
        marks[i] = (struct mark){ &rec, i };
        assert_int_equal(worker_submit_reserved(w, record_task, &marks[i]), 0);
    }
    assert_int_equal(worker_submit_reserved(w, record_task, &marks[1]), -1);
    assert_int_equal(worker_depth(w), 1); /* reserved ones weigh nothing */
    assert_int_equal(worker_submit(w, record_task, &marks[0]), -1);
    gate_release(&g);
    worker_stop(w);
    assert_int_equal(rec.n, 1 + WORKER_RESERVED);
    for (size_t i = 0; i < rec.n; i++)
        assert_int_equal(rec.order[i], (int)i);
    assert_int_equal(worker_submit_reserved(w, record_task, &marks[1]), -1); /* stopped */
    worker_free(w);
    pthread_mutex_destroy(&rec.lock);
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
    /* first batch: the gate alone; then the six waiting tasks as 4 + 2; then the empty batch
     * a stopping worker ends with (it closes what its hooks held open) */
    assert_string_equal(log.events, "bebttttebttebe");
}

/* ---- weights -------------------------------------------------------------------------------- */

/* The queue's capacity is counted in weight (an ingest request weighs its events). */
static void capacity_counts_weight(void **state)
{
    (void)state;
    struct gate g;
    gate_init(&g);
    atomic_int ran = 0;
    struct worker *w = worker_new("test", 10, NULL);
    assert_int_equal(worker_submit(w, gate_task, &g), 0);
    gate_wait_started(&g);
    assert_int_equal(worker_submit_weighted(w, count_task, &ran, 4), 0);
    assert_int_equal(worker_depth(w), 4);
    assert_int_equal(worker_submit_weighted(w, count_task, &ran, 4), 0);
    assert_int_equal(worker_depth(w), 8);
    assert_int_equal(worker_submit_weighted(w, count_task, &ran, 3), -1); /* 11 > 10 */
    assert_int_equal(worker_depth(w), 8);
    assert_int_equal(worker_submit_weighted(w, count_task, &ran, 2), 0);
    assert_int_equal(worker_depth(w), 10);
    assert_int_equal(worker_submit_weighted(w, count_task, &ran, 1), -1);
    assert_int_equal(worker_submit(w, count_task, &ran), -1);
    assert_int_equal(worker_depth(w), 10);
    gate_release(&g);
    worker_stop(w);
    assert_int_equal(atomic_load(&ran), 3); /* the three accepted, never the refused */
    assert_int_equal(worker_depth(w), 0);
    worker_free(w);
    gate_destroy(&g);
}

/* worker_depth is the weight waiting, not the number of tasks; weight 0 counts as 1. */
static void depth_reports_weight(void **state)
{
    (void)state;
    struct gate g;
    gate_init(&g);
    atomic_int ran = 0;
    struct worker *w = worker_new("test", 100, NULL);
    assert_int_equal(worker_submit(w, gate_task, &g), 0);
    gate_wait_started(&g);
    assert_int_equal(worker_depth(w), 0);
    assert_int_equal(worker_submit_weighted(w, count_task, &ran, 3), 0);
    assert_int_equal(worker_submit_weighted(w, count_task, &ran, 5), 0);
    assert_int_equal(worker_submit(w, count_task, &ran), 0);
    assert_int_equal(worker_depth(w), 9);
    assert_int_equal(worker_submit_weighted(w, count_task, &ran, 0), 0);
    assert_int_equal(worker_depth(w), 10);
    gate_release(&g);
    worker_stop(w);
    assert_int_equal(atomic_load(&ran), 4);
    assert_int_equal(worker_depth(w), 0);
    worker_free(w);
    gate_destroy(&g);
}

/* A task heavier than the whole capacity (a batch bigger than the queue) counts as the
 * capacity: it is accepted into an empty queue only, and then fills it. */
static void heavy_task_only_into_empty_queue(void **state)
{
    (void)state;
    struct gate a, b;
    gate_init(&a);
    gate_init(&b);
    atomic_int ran = 0;
    struct worker *w = worker_new("test", 10, NULL);
    assert_int_equal(worker_submit(w, gate_task, &a), 0);
    gate_wait_started(&a);
    assert_int_equal(worker_submit(w, gate_task, &b), 0); /* weight 1 waiting */
    assert_int_equal(worker_submit_weighted(w, count_task, &ran, 50), -1);
    assert_int_equal(worker_submit_weighted(w, count_task, &ran, 10), -1);
    assert_int_equal(worker_depth(w), 1);
    gate_release(&a);
    gate_wait_started(&b); /* the worker is blocked again, its queue empty */
    assert_int_equal(worker_depth(w), 0);
    assert_int_equal(worker_submit_weighted(w, count_task, &ran, 50), 0);
    assert_int_equal(worker_depth(w), 10);
    assert_int_equal(worker_submit_weighted(w, count_task, &ran, 1), -1);
    gate_release(&b);
    worker_stop(w);
    assert_int_equal(atomic_load(&ran), 1);
    worker_free(w);
    gate_destroy(&b);
    gate_destroy(&a);
}

/* Batches by weight: '[' begins a batch, ']' ends it, each task logs its letter. */
struct wlog {
    char text[1024];
    size_t n;
};

static void wlog_put(struct wlog *l, char c)
{
    if (l->n < sizeof(l->text) - 1)
        l->text[l->n++] = c;
    l->text[l->n] = '\0';
}

static void wlog_begin(void *arg)
{
    wlog_put(arg, '[');
}

static void wlog_end(void *arg)
{
    wlog_put(arg, ']');
}

struct wtask {
    struct wlog *log;
    char label;
    size_t weight;
};

static void wtask_run(void *arg)
{
    struct wtask *t = arg;
    wlog_put(t->log, t->label);
}

/* What the batches must be when all of `tasks` wait at once: each batch takes tasks in order
 * while their weights fit in `max`, and a task heavier than `max` goes alone. */
static void expected_batches(const struct wtask *tasks, size_t n, size_t max, struct wlog *out)
{
    for (size_t i = 0; i < n;) {
        size_t weight = tasks[i].weight;
        wlog_put(out, '[');
        wlog_put(out, tasks[i++].label);
        while (i < n && weight + tasks[i].weight <= max) {
            weight += tasks[i].weight;
            wlog_put(out, tasks[i++].label);
        }
        wlog_put(out, ']');
    }
    /* and the empty batch a stopping worker ends with */
    wlog_put(out, '[');
    wlog_put(out, ']');
}

/* Runs tasks (all queued behind a gate) with batches of weight `max`; returns the log without
 * the gate's own batch. */
static void run_weighted_batches(struct wtask *tasks, size_t n, size_t max, struct wlog *log)
{
    struct gate g;
    gate_init(&g);
    struct worker_batch batch = {.max = max, .begin = wlog_begin, .end = wlog_end, .arg = log};
    struct worker *w = worker_new("test", 1000, &batch);
    assert_int_equal(worker_submit(w, gate_task, &g), 0);
    gate_wait_started(&g);
    for (size_t i = 0; i < n; i++) {
        tasks[i].log = log;
        assert_int_equal(worker_submit_weighted(w, wtask_run, &tasks[i], tasks[i].weight), 0);
    }
    gate_release(&g);
    worker_stop(w);
    worker_free(w);
    gate_destroy(&g);
    assert_memory_equal(log->text, "[]", 2); /* the gate's batch */
    memmove(log->text, log->text + 2, log->n - 1);
    log->n -= 2;
}

/* Weight of each batch in `log` (tasks' labels looked up in `tasks`): never over `max` except
 * a batch of one task. */
static void check_batch_weights(const struct wlog *log, const struct wtask *tasks, size_t n,
                                size_t max)
{
    size_t weight = 0, count = 0;
    for (size_t i = 0; i < log->n; i++) {
        char c = log->text[i];
        if (c == '[') {
            weight = count = 0;
        } else if (c == ']') {
            if (weight > max && count != 1)
                fail_msg("batch of %zu tasks weighs %zu > %zu: %s", count, weight, max, log->text);
        } else {
            for (size_t k = 0; k < n; k++)
                if (tasks[k].label == c)
                    weight += tasks[k].weight;
            count++;
        }
    }
}

static void batch_never_exceeds_max_weight(void **state)
{
    (void)state;
    static const size_t weights[] = {2, 2, 2, 5, 1, 1, 7, 3, 3, 1, 4};
    struct wtask tasks[11];
    for (size_t i = 0; i < 11; i++)
        tasks[i] = (struct wtask){NULL, (char)('A' + i), weights[i]};
    struct wlog log = {.n = 0};
    run_weighted_batches(tasks, 11, 5, &log);
    /* G (7) is heavier than a batch and goes alone */
    assert_string_equal(log.text, "[AB][C][D][EF][G][H][IJ][K][]");
    check_batch_weights(&log, tasks, 11, 5);

    /* seeded random weights 1..9 against a batch of 6 */
    uint64_t x = 42;
    struct wtask many[52];
    for (size_t i = 0; i < 52; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        many[i] = (struct wtask){NULL, (char)(i < 26 ? 'a' + i : 'A' + i - 26),
                                 1 + (size_t)((x >> 33) % 9)};
    }
    struct wlog got = {.n = 0}, want = {.n = 0};
    run_weighted_batches(many, 52, 6, &got);
    expected_batches(many, 52, 6, &want);
    assert_string_equal(got.text, want.text);
    check_batch_weights(&got, many, 52, 6);
}

/* Far beyond the test's timeout: a batch that waits it out fails the test. */
#define LONG_WAIT_US 60000000u

/* With wait_us, a batch that is not full waits for more tasks: four tasks submitted one by
 * one run as one batch of four, whatever the thread scheduling. The pauses give a worker that
 * did not wait the time to start a batch of what it has (the assertion does not depend on
 * them: a waiting worker waits far longer). */
static void wait_fills_the_batch(void **state)
{
    (void)state;
    struct wlog log = {.n = 0};
    struct worker_batch batch = {
        .max = 4, .wait_us = LONG_WAIT_US, .begin = wlog_begin, .end = wlog_end, .arg = &log};
    struct worker *w = worker_new("test", 64, &batch);
    struct wtask t[8];
    static const size_t weights[] = {1, 1, 1, 1, 2, 2, 3, 3};
    for (size_t i = 0; i < 8; i++) {
        t[i] = (struct wtask){&log, (char)('A' + i), weights[i]};
        assert_int_equal(worker_submit_weighted(w, wtask_run, &t[i], t[i].weight), 0);
        if (i == 0 || i == 4 || i == 6) {
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
        }
    }
    /* G and H (3 each) fill a batch together but do not fit in one: G runs at once; H waits
     * for company until the stop. */
    worker_stop(w);
    worker_free(w);
    assert_string_equal(log.text, "[ABCD][EF][G][H][]");
}

/* Stopping ends the wait: what is queued runs at once. */
static void stop_ends_the_batch_wait(void **state)
{
    (void)state;
    struct wlog log = {.n = 0};
    struct worker_batch batch = {
        .max = 100, .wait_us = LONG_WAIT_US, .begin = wlog_begin, .end = wlog_end, .arg = &log};
    struct worker *w = worker_new("test", 64, &batch);
    struct wtask a = {&log, 'A', 1}, b = {&log, 'B', 5};
    assert_int_equal(worker_submit(w, wtask_run, &a), 0);
    assert_int_equal(worker_submit_weighted(w, wtask_run, &b, b.weight), 0);
    worker_stop(w);
    worker_free(w);
    assert_string_equal(log.text, "[AB][]"); /* [] : the final empty batch */
}

/* A batch already full, or a single task as heavy as a batch, does not wait. */
static void full_batch_does_not_wait(void **state)
{
    (void)state;
    struct gate g;
    gate_init(&g);
    struct worker_batch batch = {.max = 4, .wait_us = LONG_WAIT_US};
    struct worker *w = worker_new("test", 64, &batch);
    assert_int_equal(worker_submit_weighted(w, gate_task, &g, 4), 0);
    gate_wait_started(&g); /* ran without waiting for more */
    gate_release(&g);
    struct gate h;
    gate_init(&h);
    assert_int_equal(worker_submit_weighted(w, gate_task, &h, 9), 0);
    gate_wait_started(&h);
    gate_release(&h);
    worker_stop(w);
    worker_free(w);
    gate_destroy(&h);
    gate_destroy(&g);
}

/* A queue smaller than a batch is full at its capacity: a full queue does not wait for more
 * (it never could get more). Before the fix this hung for the whole wait. */
static void full_small_queue_does_not_wait(void **state)
{
    (void)state;
    struct gate g;
    gate_init(&g);
    struct worker_batch batch = {.max = 8, .wait_us = LONG_WAIT_US};
    struct worker *w = worker_new("test", 4, &batch);
    assert_int_equal(worker_submit_weighted(w, gate_task, &g, 4), 0);
    gate_wait_started(&g);
    gate_release(&g);
    worker_stop(w);
    worker_free(w);
    gate_destroy(&g);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(full_small_queue_does_not_wait),
    cmocka_unit_test(tasks_run_in_order_on_another_thread),
    cmocka_unit_test(small_queue_reused_many_times),
    cmocka_unit_test(full_queue_is_refused),
    cmocka_unit_test(reserved_tasks_pass_a_full_queue),
    cmocka_unit_test(queue_accepts_again_after_draining),
    cmocka_unit_test(stop_runs_queued_tasks_then_joins),
    cmocka_unit_test(submit_after_stop_is_refused),
    cmocka_unit_test(free_without_stop_runs_queue),
    cmocka_unit_test(batch_hooks_wrap_waiting_tasks),
    cmocka_unit_test(capacity_counts_weight),
    cmocka_unit_test(depth_reports_weight),
    cmocka_unit_test(heavy_task_only_into_empty_queue),
    cmocka_unit_test(batch_never_exceeds_max_weight),
    cmocka_unit_test(wait_fills_the_batch),
    cmocka_unit_test(stop_ends_the_batch_wait),
    cmocka_unit_test(full_batch_does_not_wait),
};

UNIT_MAIN(tests)
