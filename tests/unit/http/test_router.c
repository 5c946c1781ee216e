/* Unit tests for src/http/router.c: literal-over-parameter precedence with backtracking,
 * parameter decoding, 405 allow masks and pattern validation. */
#include "unit.h"

#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"

static void h1(struct http_request *req, void *arg)
{
    (void)req;
    (void)arg;
}

struct fixture {
    struct router *r;
    struct route_match m;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->r = router_new();
    route_match_init(&f->m);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    route_match_release(&f->m);
    router_free(f->r);
    free(f);
    return 0;
}

static enum router_result match(struct fixture *f, unsigned method, const char *path)
{
    return router_match(f->r, method, path, strlen(path), &f->m);
}

/* Asserts `path` matches the route with pattern `want`. */
static void expect_route(struct fixture *f, unsigned method, const char *path, const char *want)
{
    enum router_result res = match(f, method, path);
    if (res != ROUTER_FOUND)
        fail_msg("%s: result %d, expected a match with %s", path, (int)res, want);
    assert_string_equal(f->m.route->pattern, want);
}

static void literal_beats_param_with_backtracking(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(router_add(f->r, HTTP_GET, "/leaderboards/rank/:userId", h1, NULL), 0);
    assert_int_equal(router_add(f->r, HTTP_GET, "/leaderboards/:x/y", h1, NULL), 1);
    assert_int_equal(router_add(f->r, HTTP_GET, "/leaderboards/:x", h1, NULL), 2);
    assert_int_equal(router_add(f->r, HTTP_GET, "/leaderboards/:x/y/z", h1, NULL), 3);

    expect_route(f, HTTP_GET, "/leaderboards/rank/u1", "/leaderboards/rank/:userId");
    assert_int_equal(f->m.n_params, 1);
    assert_string_equal(route_match_param(&f->m, "userId"), "u1");
    assert_null(route_match_param(&f->m, "x"));

    /* Literal first, even where the parameter route would also fit. */
    expect_route(f, HTTP_GET, "/leaderboards/rank/y", "/leaderboards/rank/:userId");
    assert_string_equal(route_match_param(&f->m, "userId"), "y");

    expect_route(f, HTTP_GET, "/leaderboards/weekly/y", "/leaderboards/:x/y");
    assert_string_equal(route_match_param(&f->m, "x"), "weekly");

    /* "rank" exists as a literal but has no route of its own: back off to :x. */
    expect_route(f, HTTP_GET, "/leaderboards/rank", "/leaderboards/:x");
    assert_string_equal(route_match_param(&f->m, "x"), "rank");

    /* The literal branch fails two levels down; the parameter branch matches, and the
     * parameter the failed branch bound (userId) is not reported. */
    expect_route(f, HTTP_GET, "/leaderboards/rank/y/z", "/leaderboards/:x/y/z");
    assert_int_equal(f->m.n_params, 1);
    assert_string_equal(route_match_param(&f->m, "x"), "rank");
    assert_null(route_match_param(&f->m, "userId"));

    assert_int_equal(match(f, HTTP_GET, "/leaderboards/rank/u1/extra"), ROUTER_NOT_FOUND);
    assert_int_equal(match(f, HTTP_GET, "/leaderboards"), ROUTER_NOT_FOUND);
}

static void several_params(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(router_add(f->r, HTTP_GET, "/apps/:app/users/:user", h1, NULL), 0);
    expect_route(f, HTTP_GET, "/apps/a1/users/u%2F2", "/apps/:app/users/:user");
    assert_int_equal(f->m.n_params, 2);
    assert_string_equal(f->m.params[0].name, "app");
    assert_string_equal(f->m.params[1].name, "user");
    assert_string_equal(route_match_param(&f->m, "app"), "a1");
    assert_string_equal(route_match_param(&f->m, "user"), "u/2");
    assert_int_equal(f->m.params[1].value_len, 3);

    /* A new match resets the previous parameters. */
    expect_route(f, HTTP_GET, "/apps/b/users/c", "/apps/:app/users/:user");
    assert_int_equal(f->m.n_params, 2);
    assert_string_equal(route_match_param(&f->m, "app"), "b");
    assert_int_equal(match(f, HTTP_GET, "/nothing"), ROUTER_NOT_FOUND);
    assert_int_equal(f->m.n_params, 0);
    assert_null(f->m.route);
}

static void params_percent_decoded(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(router_add(f->r, HTTP_GET, "/users/:id", h1, NULL), 0);
    expect_route(f, HTTP_GET, "/users/a%20b%2Fc%C3%A9", "/users/:id");
    assert_string_equal(route_match_param(&f->m, "id"), "a b/c\xc3\xa9");
    /* '+' is a literal plus in a path, not a space. */
    expect_route(f, HTTP_GET, "/users/a+b", "/users/:id");
    assert_string_equal(route_match_param(&f->m, "id"), "a+b");
    /* Literals are compared raw: an encoded literal does not match. */
    assert_int_equal(router_add(f->r, HTTP_GET, "/static/file", h1, NULL), 1);
    assert_int_equal(match(f, HTTP_GET, "/static/fil%65"), ROUTER_NOT_FOUND);
}

static void bad_escape_is_bad_path(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(router_add(f->r, HTTP_GET, "/users/:id", h1, NULL), 0);
    assert_int_equal(match(f, HTTP_GET, "/users/%zz"), ROUTER_BAD_PATH);
    assert_int_equal(f->m.n_params, 0);
    assert_int_equal(match(f, HTTP_GET, "/users/ab%4"), ROUTER_BAD_PATH);
    assert_int_equal(match(f, HTTP_GET, "/users/%00"), ROUTER_BAD_PATH);
    assert_int_equal(match(f, HTTP_GET, "/users/%"), ROUTER_BAD_PATH);
}

static void method_not_allowed_mask(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(router_add(f->r, HTTP_GET, "/items", h1, NULL), 0);
    assert_int_equal(router_add(f->r, HTTP_POST, "/items", h1, NULL), 1);
    assert_int_equal(router_add(f->r, HTTP_DELETE, "/items/:id", h1, NULL), 2);

    assert_int_equal(match(f, HTTP_PUT, "/items"), ROUTER_METHOD_NOT_ALLOWED);
    assert_int_equal(f->m.allow, (UINT64_C(1) << HTTP_GET) | (UINT64_C(1) << HTTP_POST));
    assert_null(f->m.route);
    assert_int_equal(match(f, HTTP_GET, "/items/7"), ROUTER_METHOD_NOT_ALLOWED);
    assert_int_equal(f->m.allow, UINT64_C(1) << HTTP_DELETE);

    expect_route(f, HTTP_POST, "/items", "/items");
    assert_int_equal(f->m.route->method, HTTP_POST);
    assert_int_equal(f->m.route->id, 1);
    assert_int_equal(match(f, HTTP_GET, "/other"), ROUTER_NOT_FOUND);
    assert_int_equal(f->m.allow, 0);
}

static void root_route(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(match(f, HTTP_GET, "/"), ROUTER_NOT_FOUND);
    assert_int_equal(router_add(f->r, HTTP_GET, "/", h1, NULL), 0);
    assert_int_equal(router_add(f->r, HTTP_GET, "/:x", h1, NULL), 1);
    expect_route(f, HTTP_GET, "/", "/");
    assert_int_equal(f->m.n_params, 0);
    expect_route(f, HTTP_GET, "/a", "/:x");
    assert_int_equal(match(f, HTTP_GET, ""), ROUTER_NOT_FOUND);
    assert_int_equal(match(f, HTTP_GET, "a"), ROUTER_NOT_FOUND);
    assert_int_equal(match(f, HTTP_POST, "/"), ROUTER_METHOD_NOT_ALLOWED);
}

static void empty_segments_do_not_match_params(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(router_add(f->r, HTTP_GET, "/users/:id", h1, NULL), 0);
    assert_int_equal(router_add(f->r, HTTP_GET, "/users", h1, NULL), 1);
    assert_int_equal(match(f, HTTP_GET, "/users/"), ROUTER_NOT_FOUND);
    assert_int_equal(match(f, HTTP_GET, "/users//"), ROUTER_NOT_FOUND);
    assert_int_equal(match(f, HTTP_GET, "/users/1/"), ROUTER_NOT_FOUND);
    assert_int_equal(match(f, HTTP_GET, "//users/1"), ROUTER_NOT_FOUND);
    assert_int_equal(match(f, HTTP_GET, "/users//1"), ROUTER_NOT_FOUND);
    expect_route(f, HTTP_GET, "/users", "/users");
    expect_route(f, HTTP_GET, "/users/1", "/users/:id");
}

static void very_deep_path_is_not_found(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(router_add(f->r, HTTP_GET, "/:a", h1, NULL), 0);
    char path[2001];
    for (int i = 0; i < 1000; i++) {
        path[2 * i] = '/';
        path[2 * i + 1] = 'x';
    }
    path[2000] = '\0';
    assert_int_equal(match(f, HTTP_GET, path), ROUTER_NOT_FOUND);
}

static void rejects_duplicates_and_malformed(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(router_add(f->r, HTTP_GET, "/a/:id", h1, NULL), 0);
    assert_int_equal(router_add(f->r, HTTP_GET, "/a/:id", h1, NULL), -1);    /* duplicate */
    assert_int_equal(router_add(f->r, HTTP_POST, "/a/:id", h1, NULL), 1);    /* other method */
    assert_int_equal(router_add(f->r, HTTP_GET, "/a/:other", h1, NULL), -1); /* two names */
    assert_int_equal(router_add(f->r, HTTP_GET, "/a/:other/x", h1, NULL), -1);
    assert_int_equal(router_add(f->r, HTTP_GET, "a/b", h1, NULL), -1); /* relative */
    assert_int_equal(router_add(f->r, HTTP_GET, "", h1, NULL), -1);
    assert_int_equal(router_add(f->r, HTTP_GET, NULL, h1, NULL), -1);
    assert_int_equal(router_add(f->r, HTTP_GET, "/b/:", h1, NULL), -1); /* empty name */
    assert_int_equal(router_add(f->r, HTTP_GET, "/c", NULL, NULL), -1); /* no handler */
    assert_int_equal(router_add(f->r, 64, "/c", h1, NULL), -1);         /* bad method */
    assert_int_equal(router_add(f->r, HTTP_GET, "/:a/:b/:c/:d/:e/:f/:g/:h", h1, NULL), 2);
    assert_int_equal(router_add(f->r, HTTP_GET, "/p/:a/:b/:c/:d/:e/:f/:g/:h/:i", h1, NULL), -1);
    assert_int_equal(router_count(f->r), 3);
    /* Rejected patterns left nothing routable behind. */
    assert_int_equal(match(f, HTTP_GET, "/b/x"), ROUTER_NOT_FOUND);
    assert_int_equal(match(f, HTTP_GET, "/c"), ROUTER_NOT_FOUND);
    expect_route(f, HTTP_GET, "/a/7", "/a/:id");
    assert_string_equal(route_match_param(&f->m, "id"), "7");
    expect_route(f, HTTP_GET, "/1/2/3/4/5/6/7/8", "/:a/:b/:c/:d/:e/:f/:g/:h");
    assert_int_equal(f->m.n_params, 8);
    assert_string_equal(route_match_param(&f->m, "h"), "8");
}

static void route_ids_are_dense(void **state)
{
    struct fixture *f = *state;
    static const char *const patterns[] = {"/", "/a", "/a/:b", "/c/d/e"};
    int arg = 5;
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(router_add(f->r, HTTP_GET, patterns[i], h1, &arg), (int)i);
        assert_int_equal(router_add(f->r, HTTP_GET, patterns[i], h1, &arg), -1);
    }
    assert_int_equal(router_count(f->r), 4);
    for (unsigned i = 0; i < 4; i++) {
        const struct route *rt = router_get(f->r, i);
        assert_non_null(rt);
        assert_int_equal(rt->id, i);
        assert_string_equal(rt->pattern, patterns[i]);
        assert_ptr_equal(rt->handler, h1);
        assert_ptr_equal(rt->arg, &arg);
    }
    assert_null(router_get(f->r, 4));
}

static void pattern_is_copied(void **state)
{
    struct fixture *f = *state;
    char pattern[] = "/mutable/:p";
    assert_int_equal(router_add(f->r, HTTP_GET, pattern, h1, NULL), 0);
    memset(pattern, 'x', sizeof(pattern) - 1);
    expect_route(f, HTTP_GET, "/mutable/1", "/mutable/:p");
    assert_string_equal(route_match_param(&f->m, "p"), "1");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(literal_beats_param_with_backtracking, setup, teardown),
    cmocka_unit_test_setup_teardown(several_params, setup, teardown),
    cmocka_unit_test_setup_teardown(params_percent_decoded, setup, teardown),
    cmocka_unit_test_setup_teardown(bad_escape_is_bad_path, setup, teardown),
    cmocka_unit_test_setup_teardown(method_not_allowed_mask, setup, teardown),
    cmocka_unit_test_setup_teardown(root_route, setup, teardown),
    cmocka_unit_test_setup_teardown(empty_segments_do_not_match_params, setup, teardown),
    cmocka_unit_test_setup_teardown(very_deep_path_is_not_found, setup, teardown),
    cmocka_unit_test_setup_teardown(rejects_duplicates_and_malformed, setup, teardown),
    cmocka_unit_test_setup_teardown(route_ids_are_dense, setup, teardown),
    cmocka_unit_test_setup_teardown(pattern_is_copied, setup, teardown),
};

UNIT_MAIN(tests)
