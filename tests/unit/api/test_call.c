/* Unit tests for the batch bookkeeping of src/api/call.c: once SQLite has rolled a batch's
 * transaction back — under any task, not only an API call — no later task may write (its
 * statements would commit on their own while its request is answered 503). */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "store/sqlite_int.h"
#include "store/store.h"

struct fixture {
    struct unit_store u;
    struct api api;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (unit_store_make(&f->u, "call") < 0)
        return -1;
    f->api.store = f->u.s;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unit_store_close(&f->u);
    free(f);
    return 0;
}

static void usable_while_the_transaction_lives(void **state)
{
    struct fixture *f = *state;
    assert_false(api_batch_usable(&f->api)); /* no batch open */
    api_batch_begin(&f->api);
    assert_true(f->api.batch_open);
    assert_true(api_batch_usable(&f->api));
    assert_false(f->api.batch_failed);
    store_batch_rollback(f->u.s);
    f->api.batch_open = false;
}

/* SQLite rolled the transaction back under a background task: the next task must see it. */
static void a_transaction_rolled_back_underneath_is_detected(void **state)
{
    struct fixture *f = *state;
    api_batch_begin(&f->api);
    assert_int_equal(sqlite3_exec(f->u.s->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    assert_false(api_batch_usable(&f->api));
    assert_true(f->api.batch_failed);
    assert_false(api_batch_usable(&f->api)); /* and it stays failed */
    f->api.batch_open = false;
}

static void remember(void *arg, bool committed)
{
    *(int *)arg = committed ? 1 : 0;
}

/* A read made inside a batch is released only once the batch has ended, saying whether what
 * it may have seen was committed. */
static void reads_wait_for_the_batch_to_end(void **state)
{
    struct fixture *f = *state;
    int r = -1;
    api_batch_begin(&f->api);
    api_after_commit(&f->api, remember, &r);
    assert_int_equal(r, -1);
    api_batch_end(&f->api);
    assert_int_equal(r, 1);

    r = -1;
    api_batch_begin(&f->api);
    api_after_commit(&f->api, remember, &r);
    f->api.batch_failed = true; /* a task failed the batch: it is rolled back */
    api_batch_end(&f->api);
    assert_int_equal(r, 0);

    r = -1;
    api_after_commit(&f->api, remember, &r); /* no usable batch: told at once */
    assert_int_equal(r, 0);
    free(f->api.after);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(usable_while_the_transaction_lives, setup, teardown),
    cmocka_unit_test_setup_teardown(a_transaction_rolled_back_underneath_is_detected, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(reads_wait_for_the_batch_to_end, setup, teardown),
};

UNIT_MAIN(tests)
