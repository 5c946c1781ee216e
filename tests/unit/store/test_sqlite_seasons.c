/* Unit tests for src/store/sqlite_seasons.c in a real SQLite file: a season's results are
 * paged by rank with their total, a rank is written once, the XP reset marks are per (app,
 * season, user) and counted, users are listed after a cursor in id order, and the newest run
 * of a schedule is found with when it ran. */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static char err[256];

struct seen {
    char text[512];
    int n;
};

static void on_result(const struct store_season_result *r, void *arg)
{
    struct seen *x = arg;
    size_t len = strlen(x->text);
    snprintf(x->text + len, sizeof(x->text) - len, "%s%lld:%s:%lld:%s:%s", x->n ? " " : "",
             (long long)r->rank, r->user_id, (long long)r->score, r->metric,
             r->prize ? r->prize : "-");
    x->n++;
}

static void results_page_by_rank_once(void **state)
{
    struct store *s = ((struct unit_store *)*state)->s;
    static const char *const users[] = { "cy", "al", "bo" };
    for (int i = 0; i < 3; i++) {
        struct store_season_result r = { "app", "s1", i + 1, "XP", users[i], 30 - 10 * i,
                                         i == 0 ? "{\"xpAwards\":{\"XP\":5}}" : NULL, 777 };
        assert_int_equal(store_season_result_put(s, &r, err, sizeof(err)), 0);
    }
    /* another season's row is not counted */
    struct store_season_result other = { "app", "s2", 1, "XP", "zz", 1, NULL, 5 };
    assert_int_equal(store_season_result_put(s, &other, err, sizeof(err)), 0);
    struct store_season_result again = { "app", "s1", 2, "XP", "dd", 1, NULL, 5 };
    assert_int_equal(store_season_result_put(s, &again, err, sizeof(err)), -1);

    struct seen x = { "", 0 };
    int64_t total = -1;
    assert_int_equal(store_season_results_page(s, "app", "s1", 10, 0, on_result, &x, &total,
                                               err, sizeof(err)), 0);
    assert_string_equal(x.text, "1:cy:30:XP:{\"xpAwards\":{\"XP\":5}} 2:al:20:XP:- 3:bo:10:XP:-");
    assert_int_equal(total, 3);
    memset(&x, 0, sizeof(x));
    assert_int_equal(store_season_results_page(s, "app", "s1", 1, 1, on_result, &x, NULL, err,
                                               sizeof(err)), 0);
    assert_string_equal(x.text, "2:al:20:XP:-");
    memset(&x, 0, sizeof(x));
    assert_int_equal(store_season_results_page(s, "app", "nope", 10, 0, on_result, &x, &total,
                                               err, sizeof(err)), 0);
    assert_int_equal(x.n, 0);
    assert_int_equal(total, 0);
}

static void reset_marks_and_schedule_runs(void **state)
{
    struct store *s = ((struct unit_store *)*state)->s;
    assert_int_equal(store_season_reset_has(s, "app", "s1", "al", err, sizeof(err)),
                     STORE_NOT_FOUND);
    assert_int_equal(store_season_reset_mark(s, "app", "s1", "al", 10, err, sizeof(err)), 0);
    assert_int_equal(store_season_reset_mark(s, "app", "s1", "al", 11, err, sizeof(err)),
                     STORE_CONFLICT);
    assert_int_equal(store_season_reset_mark(s, "app", "s1", "bo", 12, err, sizeof(err)), 0);
    assert_int_equal(store_season_reset_mark(s, "app", "s2", "al", 13, err, sizeof(err)), 0);
    assert_int_equal(store_season_reset_has(s, "app", "s1", "al", err, sizeof(err)), 0);
    assert_int_equal(store_season_reset_has(s, "app", "s2", "bo", err, sizeof(err)),
                     STORE_NOT_FOUND);
    int64_t n = -1;
    assert_int_equal(store_season_reset_count(s, "app", "s1", &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);

    int64_t slot = 0, ran = 0;
    assert_int_equal(store_schedule_ran(s, "season-end:app:s1", &slot, &ran, err, sizeof(err)),
                     STORE_NOT_FOUND);
    assert_int_equal(store_schedule_run(s, "season-end:app:s1", 500, 900, err, sizeof(err)), 0);
    assert_int_equal(store_schedule_run(s, "season-end:app:s1", 400, 950, err, sizeof(err)), 0);
    assert_int_equal(store_schedule_ran(s, "season-end:app:s1", &slot, &ran, err, sizeof(err)),
                     0);
    assert_int_equal(slot, 500);
    assert_int_equal(ran, 900);
    assert_int_equal(store_schedule_ran(s, "season-end:app:s1", NULL, NULL, err, sizeof(err)),
                     0);
}

static void on_user(const char *id, void *arg)
{
    on_result(&(struct store_season_result){ .user_id = id, .metric = "", .rank = 0 }, arg);
}

static void users_after_a_cursor(void **state)
{
    struct store *s = ((struct unit_store *)*state)->s;
    struct store_app a;
    memset(&a, 0, sizeof(a));
    a.id = (char *)"app";
    a.name = (char *)"App";
    a.settings = (char *)"{}";
    a.default_timezone = (char *)"UTC";
    struct store_key k;
    memset(&k, 0, sizeof(k));
    k.id = (char *)"11111111-1111-4111-8111-111111111111";
    k.app_id = a.id;
    k.name = (char *)"key";
    k.role = STORE_ROLE_ADMIN;
    assert_int_equal(store_app_create(s, &a, &k, err, sizeof(err)), 0);
    static const char *const ids[] = { "c", "a", "d", "b" };
    for (int i = 0; i < 4; i++) {
        bool created;
        assert_int_equal(store_user_ensure(s, "app", ids[i], 1, &created, err, sizeof(err)), 0);
    }
    struct seen x = { "", 0 };
    int n = -1;
    assert_int_equal(store_user_ids_after(s, "app", "", 3, on_user, &x, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 3);
    assert_string_equal(x.text, "0:a:0::- 0:b:0::- 0:c:0::-");
    memset(&x, 0, sizeof(x));
    assert_int_equal(store_user_ids_after(s, "app", "c", 3, on_user, &x, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 1);
    assert_string_equal(x.text, "0:d:0::-");
    assert_int_equal(store_user_ids_after(s, "other", "", 3, on_user, &x, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(results_page_by_rank_once, unit_store_setup, unit_store_teardown),
    cmocka_unit_test_setup_teardown(reset_marks_and_schedule_runs, unit_store_setup, unit_store_teardown),
    cmocka_unit_test_setup_teardown(users_after_a_cursor, unit_store_setup, unit_store_teardown),
};

UNIT_MAIN(tests)
