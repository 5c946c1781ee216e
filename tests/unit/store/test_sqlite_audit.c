/* Unit tests for src/store/sqlite_audit.c: audit rows written, read back newest first through
 * every filter and the id cursor, rolled back with the batch they were written in, and pruned
 * by age. In a real SQLite file in a temporary data directory. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

struct fixture {
    struct unit_store u;
};

static char err[256];

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (unit_store_make(&f->u, "audit") < 0)
        return -1;
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

static void write_row(struct store *s, const char *app, int64_t at, const char *actor,
                      const char *action, const char *type, const char *id)
{
    struct store_audit r = { .app_id = app, .at = at, .actor = actor, .action = action,
                             .resource_type = type, .resource_id = id,
                             .after = "{\"x\":1}", .request_id = "req-1" };
    if (store_audit_write(s, &r, err, sizeof(err)) != 0)
        fail_msg("audit write failed: %s", err);
}

/* The rows a filter selects, as "<resource id>" joined by spaces, newest first. */
struct seen {
    char text[512];
    int64_t last_id;
};

static void collect(const struct store_audit *r, void *arg)
{
    struct seen *s = arg;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof(s->text) - len, "%s%s", len ? " " : "", r->resource_id);
    s->last_id = r->id;
}

static const char *page(struct store *st, const struct store_audit_filter *f, int limit)
{
    static struct seen s;
    memset(&s, 0, sizeof(s));
    int n = -1;
    if (store_audit_page(st, f, limit, collect, &s, &n, err, sizeof(err)) != 0)
        fail_msg("audit page failed: %s", err);
    return s.text;
}

static void fill(struct store *s)
{
    write_row(s, "a", 1000, "k1", "rule.create", "rule", "r1");
    write_row(s, "a", 2000, "k2", "rule.update", "rule", "r1");
    write_row(s, "b", 2500, "k9", "rule.create", "rule", "r9");
    write_row(s, "a", 3000, "system", "league.settle", "league", "l1");
    write_row(s, "a", 4000, "k1", "league.create", "league", "l2");
    write_row(s, "a", 5000, "k1", "leagues.other", "league", "l3");
}

static void filters_select_newest_first(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->u.s;
    fill(s);
    struct store_audit_filter all = { 0 };
    assert_string_equal(page(s, &all, 100), "l3 l2 l1 r9 r1 r1");
    struct store_audit_filter a = { .app_id = "a" };
    assert_string_equal(page(s, &a, 100), "l3 l2 l1 r1 r1");
    struct store_audit_filter actor = { .app_id = "a", .actor = "k1" };
    assert_string_equal(page(s, &actor, 100), "l3 l2 r1");
    struct store_audit_filter exact = { .app_id = "a", .action = "rule.create" };
    assert_string_equal(page(s, &exact, 100), "r1");
    /* A prefix with its dot: "league." does not take "leagues.other". */
    struct store_audit_filter prefix = { .app_id = "a", .action = "league.",
                                         .action_prefix = true };
    assert_string_equal(page(s, &prefix, 100), "l2 l1");
    struct store_audit_filter type = { .app_id = "a", .resource_type = "rule" };
    assert_string_equal(page(s, &type, 100), "r1 r1");
    struct store_audit_filter one = { .app_id = "a", .resource_type = "league",
                                      .resource_id = "l2" };
    assert_string_equal(page(s, &one, 100), "l2");
    struct store_audit_filter time = { .app_id = "a", .from_ms = 2000, .to_ms = 4000 };
    assert_string_equal(page(s, &time, 100), "l1 r1");
    struct store_audit_filter none = { .app_id = "c" };
    assert_string_equal(page(s, &none, 100), "");
}

static void cursor_pages_through_everything(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->u.s;
    fill(s);
    struct store_audit_filter p = { .app_id = "a" };
    char all[256] = "";
    for (int i = 0; i < 10; i++) {
        static struct seen seen;
        memset(&seen, 0, sizeof(seen));
        int n = 0;
        assert_int_equal(store_audit_page(s, &p, 2, collect, &seen, &n, err, sizeof(err)), 0);
        if (n == 0)
            break;
        assert_true(n <= 2);
        strcat(all, *all ? " " : "");
        strcat(all, seen.text);
        p.before_id = seen.last_id;
        write_row(s, "a", 9000, "k1", "rule.create", "rule", "new"); /* newer: not on later pages */
    }
    assert_string_equal(all, "l3 l2 l1 r1 r1");
}

static void row_fields_round_trip(void **state)
{
    struct fixture *f = *state;
    struct store_audit r = { .app_id = "a", .at = 1234, .actor = "operator",
                             .action = "app.create", .resource_type = "app", .resource_id = "a",
                             .before = NULL, .after = "{\"name\":\"A\"}", .request_id = NULL };
    assert_int_equal(store_audit_write(f->u.s, &r, err, sizeof(err)), 0);
    struct store_audit_filter all = { 0 };
    struct seen seen = { 0 };
    assert_int_equal(store_audit_page(f->u.s, &all, 1, collect, &seen, NULL, err, sizeof(err)),
                     0);
    assert_string_equal(seen.text, "a");
    assert_true(seen.last_id > 0);
}

static void rolled_back_with_its_batch(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->u.s;
    assert_int_equal(store_batch_begin(s, err, sizeof(err)), 0);
    write_row(s, "a", 1000, "k1", "rule.create", "rule", "gone");
    store_batch_rollback(s);
    struct store_audit_filter all = { 0 };
    assert_string_equal(page(s, &all, 10), "");
}

static void prune_deletes_old_rows_in_bounded_steps(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->u.s;
    for (int i = 0; i < 5; i++)
        write_row(s, "a", 100 + i, "k", "old.write", "thing", "old");
    write_row(s, "a", 5000, "k", "new.write", "thing", "new");
    int64_t deleted = -1;
    assert_int_equal(store_audit_prune(s, 1000, 3, &deleted, err, sizeof(err)), 0);
    assert_int_equal(deleted, 3);
    assert_int_equal(store_audit_prune(s, 1000, 3, &deleted, err, sizeof(err)), 0);
    assert_int_equal(deleted, 2);
    assert_int_equal(store_audit_prune(s, 1000, 3, &deleted, err, sizeof(err)), 0);
    assert_int_equal(deleted, 0);
    struct store_audit_filter all = { 0 };
    assert_string_equal(page(s, &all, 10), "new");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(filters_select_newest_first, setup, teardown),
    cmocka_unit_test_setup_teardown(cursor_pages_through_everything, setup, teardown),
    cmocka_unit_test_setup_teardown(row_fields_round_trip, setup, teardown),
    cmocka_unit_test_setup_teardown(rolled_back_with_its_batch, setup, teardown),
    cmocka_unit_test_setup_teardown(prune_deletes_old_rows_in_bounded_steps, setup, teardown),
};

UNIT_MAIN(tests)
