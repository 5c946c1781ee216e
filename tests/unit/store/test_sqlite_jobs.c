/* Unit tests for src/store/sqlite_jobs.c in a real SQLite file: claiming (due jobs only, one
 * open job per order key, oldest first), outcomes, returning and recovering running jobs,
 * retrying dead ones, paging, counting, purging, delivery rows and schedule slots. */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static char err[256];

static int64_t add(struct store *s, const char *app, const char *order, int64_t run_at)
{
    struct store_job j = { .kind = (char *)"webhook", .app_id = (char *)app,
                           .order_key = (char *)order, .payload = (char *)"{\"n\":1}",
                           .max_attempts = 3, .run_at = run_at, .created_at = 100 };
    int64_t id = 0;
    assert_int_equal(store_job_insert(s, &j, &id, err, sizeof(err)), 0);
    assert_true(id > 0);
    return id;
}

struct claimed {
    int64_t ids[16];
    int attempts[16];
    int n;
};

static void on_claim(const struct store_job *j, void *arg)
{
    struct claimed *c = arg;
    assert_int_equal(j->state, STORE_JOB_RUNNING);
    c->attempts[c->n] = j->attempts;
    c->ids[c->n++] = j->id;
}

static struct claimed claim(struct store *s, int64_t now, int limit)
{
    struct claimed c;
    memset(&c, 0, sizeof(c));
    int n = -1;
    assert_int_equal(store_jobs_claim(s, now, now + 1000, limit, on_claim, &c, &n, err,
                                      sizeof(err)), 0);
    assert_int_equal(n, c.n);
    return c;
}

static enum store_job_state state_of(struct store *s, const char *app, int64_t id,
                                     int *attempts)
{
    struct store_job j;
    assert_int_equal(store_job_get(s, app, id, &j, err, sizeof(err)), 0);
    enum store_job_state st = j.state;
    if (attempts)
        *attempts = j.attempts;
    store_job_release(&j);
    return st;
}

static void claims_due_jobs_one_per_order_key(void **state)
{
    struct store *s = ((struct unit_store *)*state)->s;
    int64_t a1 = add(s, "app", "app\nu1", 100);
    int64_t a2 = add(s, "app", "app\nu1", 100);
    int64_t b1 = add(s, "app", "app\nu2", 100);
    int64_t later = add(s, "app", NULL, 5000);
    int64_t free1 = add(s, "app", NULL, 100);
    struct store_job w;
    assert_int_equal(store_job_get(s, "app", a2, &w, err, sizeof(err)), 0);
    assert_true(w.run_at == STORE_JOB_WAITING); /* behind a1 */
    store_job_release(&w);
    struct claimed c = claim(s, 1000, 10);
    assert_int_equal(c.n, 3); /* a1, b1, free1: a2 waits for a1, `later` is not due */
    int64_t want[] = { a1, b1, free1 };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c.ids[i], want[i]);
        assert_int_equal(c.attempts[i], 1);
    }
    assert_int_equal(claim(s, 1000, 10).n, 0); /* nothing more while they run */
    /* a1 fails: a2 still waits (a1 is open until it succeeds or dies) */
    assert_int_equal(store_job_finish(s, a1, STORE_JOB_FAILED, 1500, "HTTP 500", 1000, err,
                                      sizeof(err)), 0);
    assert_int_equal(claim(s, 1200, 10).n, 0);
    c = claim(s, 1500, 10);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.ids[0], a1);
    assert_int_equal(c.attempts[0], 2);
    assert_int_equal(store_job_finish(s, a1, STORE_JOB_SUCCEEDED, 1600, NULL, 1600, err,
                                      sizeof(err)), 0);
    assert_int_equal(store_job_get(s, "app", a2, &w, err, sizeof(err)), 0);
    assert_int_equal(w.run_at, 1600); /* due when a1 succeeded */
    store_job_release(&w);
    c = claim(s, 1600, 10);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.ids[0], a2);
    /* finishing a job that is not running is refused */
    assert_int_equal(store_job_finish(s, a1, STORE_JOB_DEAD, 0, "x", 1, err, sizeof(err)),
                     STORE_NOT_FOUND);
    /* the limit holds */
    assert_int_equal(claim(s, 6000, 1).n, 1);
    (void)b1;
    (void)later;
}

static void return_recover_and_retry(void **state)
{
    struct store *s = ((struct unit_store *)*state)->s;
    int64_t a = add(s, "app", NULL, 0), b = add(s, "app", NULL, 0);
    assert_int_equal(claim(s, 10, 10).n, 2);
    /* returned at shutdown: queued, attempt not counted */
    assert_int_equal(store_job_return(s, a, 20, err, sizeof(err)), 0);
    int attempts;
    assert_int_equal(state_of(s, "app", a, &attempts), STORE_JOB_QUEUED);
    assert_int_equal(attempts, 0);
    /* left running by a dead process: queued, attempt counted */
    int n = 0;
    assert_int_equal(store_jobs_recover(s, 30, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    assert_int_equal(state_of(s, "app", b, &attempts), STORE_JOB_QUEUED);
    assert_int_equal(attempts, 1);
    /* retry is for dead jobs of the app only */
    assert_int_equal(store_job_retry(s, "app", b, 40, err, sizeof(err)), STORE_CONFLICT);
    assert_int_equal(store_job_retry(s, "other", b, 40, err, sizeof(err)), STORE_NOT_FOUND);
    assert_int_equal(store_job_retry(s, "app", 999, 40, err, sizeof(err)), STORE_NOT_FOUND);
    assert_int_equal(claim(s, 50, 10).n, 2);
    assert_int_equal(store_job_finish(s, b, STORE_JOB_DEAD, 50, "HTTP 500", 50, err,
                                      sizeof(err)), 0);
    assert_int_equal(store_job_retry(s, "app", b, 60, err, sizeof(err)), 0);
    assert_int_equal(state_of(s, "app", b, &attempts), STORE_JOB_QUEUED);
    assert_int_equal(attempts, 0);
}

struct page {
    int64_t ids[16];
    int n;
};

static void on_page(const struct store_job *j, void *arg)
{
    struct page *p = arg;
    p->ids[p->n++] = j->id;
}

static void count(const char *kind, enum store_job_state st, int64_t n, void *arg)
{
    int64_t *v = arg;
    assert_string_equal(kind, "webhook");
    v[st] += n;
}

static void pages_counts_and_purges(void **state)
{
    struct store *s = ((struct unit_store *)*state)->s;
    int64_t ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = add(s, "app", NULL, 0);
    add(s, "other", NULL, 0);
    struct page p = { { 0 }, 0 };
    assert_int_equal(store_jobs_page(s, "app", -1, NULL, 0, 3, on_page, &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.ids[0], ids[4]); /* newest first */
    struct page p2 = { { 0 }, 0 };
    assert_int_equal(store_jobs_page(s, "app", -1, "webhook", p.ids[2], 10, on_page, &p2, err,
                                     sizeof(err)), 0);
    assert_int_equal(p2.n, 2);
    assert_int_equal(p2.ids[1], ids[0]);
    struct page p3 = { { 0 }, 0 };
    assert_int_equal(store_jobs_page(s, "app", STORE_JOB_DEAD, NULL, 0, 10, on_page, &p3, err,
                                     sizeof(err)), 0);
    assert_int_equal(p3.n, 0);
    assert_int_equal(claim(s, 10, 2).n, 2);
    assert_int_equal(store_job_finish(s, ids[0], STORE_JOB_SUCCEEDED, 10, NULL, 10, err,
                                      sizeof(err)), 0);
    assert_int_equal(store_job_finish(s, ids[1], STORE_JOB_SUCCEEDED, 10, NULL, 500, err,
                                      sizeof(err)), 0);
    int64_t v[STORE_JOB__COUNT] = { 0 };
    assert_int_equal(store_jobs_count(s, count, v, err, sizeof(err)), 0);
    assert_int_equal(v[STORE_JOB_SUCCEEDED], 2);
    assert_int_equal(v[STORE_JOB_QUEUED], 4);
    int deleted = -1;
    assert_int_equal(store_jobs_purge(s, 100, 10, &deleted, err, sizeof(err)), 0);
    assert_int_equal(deleted, 1); /* only the one that succeeded before 100 */
    assert_int_equal(store_job_get(s, "app", ids[0], &(struct store_job){ 0 }, err,
                                   sizeof(err)), STORE_NOT_FOUND);
}

static void on_delivery(const struct store_delivery *d, void *arg)
{
    int *n = arg;
    if (*n == 0) {
        assert_string_equal(d->delivery_id, "d2");
        assert_int_equal(d->status_code, 0);
        assert_string_equal(d->error, "timed out");
    }
    (*n)++;
}

static void deliveries_and_schedule_slots(void **state)
{
    struct store *s = ((struct unit_store *)*state)->s;
    struct store_delivery d = { .app_id = "app", .job_id = 1, .webhook_id = "w",
                                .delivery_id = "d1", .event_type = "level.up",
                                .url = "http://x/", .attempt = 1, .status_code = 200,
                                .latency_ms = 3, .at = 100 };
    assert_int_equal(store_delivery_insert(s, &d, err, sizeof(err)), 0);
    d.delivery_id = "d2";
    d.status_code = 0;
    d.error = "timed out";
    d.at = 200;
    assert_int_equal(store_delivery_insert(s, &d, err, sizeof(err)), 0);
    int n = 0;
    assert_int_equal(store_deliveries_page(s, "app", 0, 10, on_delivery, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 2);
    int deleted;
    assert_int_equal(store_deliveries_purge(s, 150, 10, &deleted, err, sizeof(err)), 0);
    assert_int_equal(deleted, 1);

    int64_t last;
    assert_int_equal(store_schedule_last(s, "x", &last, err, sizeof(err)), STORE_NOT_FOUND);
    assert_int_equal(store_schedule_run(s, "x", 1000, 5, err, sizeof(err)), 0);
    assert_int_equal(store_schedule_run(s, "x", 1000, 6, err, sizeof(err)), STORE_CONFLICT);
    assert_int_equal(store_schedule_run(s, "x", 2000, 7, err, sizeof(err)), 0);
    assert_int_equal(store_schedule_run(s, "y", 1000, 7, err, sizeof(err)), 0);
    assert_int_equal(store_schedule_last(s, "x", &last, err, sizeof(err)), 0);
    assert_int_equal(last, 2000);
}

static void state_names(void **state)
{
    (void)state;
    for (int i = 0; i < STORE_JOB__COUNT; i++) {
        enum store_job_state st;
        assert_int_equal(store_job_state_parse(store_job_state_name((enum store_job_state)i),
                                               &st), 0);
        assert_int_equal(st, i);
    }
    enum store_job_state st;
    assert_int_equal(store_job_state_parse("QUEUED", &st), -1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(claims_due_jobs_one_per_order_key, unit_store_setup, unit_store_teardown),
    cmocka_unit_test_setup_teardown(return_recover_and_retry, unit_store_setup, unit_store_teardown),
    cmocka_unit_test_setup_teardown(pages_counts_and_purges, unit_store_setup, unit_store_teardown),
    cmocka_unit_test_setup_teardown(deliveries_and_schedule_slots, unit_store_setup, unit_store_teardown),
    cmocka_unit_test(state_names),
};

UNIT_MAIN(tests)
