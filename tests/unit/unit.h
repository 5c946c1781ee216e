/* Shared glue for the cmocka unit tests: every test binary defines its cases with
 * cmocka_unit_test() and calls unit_run(), which runs one case when given its name (that is
 * how CTest runs each case in its own process) or all of them. */
#ifndef REACTOR_TESTS_UNIT_H
#define REACTOR_TESTS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>

int unit_run(const char *group, const struct CMUnitTest *tests, size_t n, int argc, char **argv);
/* Removes a directory tree (a test's temporary data dir). */
void unit_rmtree(const char *dir);

/* Parses JSON a test writes inline, strictly (core/json.h), or fails the test. Returns a new
 * reference. */
json_t *unit_json(const char *text);
/* unit_json(base) with the members of unit_json(extra) added or replaced. */
json_t *unit_json_with(const char *base, const char *extra);
/* Fails unless `details` (a refusal's {field: message}, consumed) equals unit_json(want). */
void unit_assert_details(json_t *details, const char *want, const char *what);

struct store;
/* Opens and migrates a store in data_dir; NULL (with the reason on stderr) on failure. */
struct store *unit_store_open(const char *data_dir);
/* The same, migrated up to `version` only. */
struct store *unit_store_open_at(const char *data_dir, int version);

/* A migrated store in a new temporary directory, with the log silenced meanwhile (migrations
 * log a line each): what the store tests' fixtures start from. */
struct unit_store {
    char dir[64];       /* /tmp/reactor-<tag>-XXXXXX, removed by unit_store_close */
    char data_dir[128]; /* <dir>/data */
    int devnull;
    struct store *s;
};
/* 0, or -1 with the reason on stderr. */
int unit_store_make(struct unit_store *u, const char *tag);
/* The same, migrated only up to `version`: a test of a later migration puts data in the shape
 * it had, then migrates the rest. */
int unit_store_make_at(struct unit_store *u, const char *tag, int version);
void unit_store_close(struct unit_store *u);
/* Runs SQL on the store's connection (a test's setup: data in an older shape, a trigger);
 * fails the test with SQLite's message. */
void unit_store_exec(struct store *s, const char *sql);
/* cmocka setup and teardown that put a new struct unit_store (tag "store") in *state. */
int unit_store_setup(void **state);
int unit_store_teardown(void **state);

#define UNIT_MAIN(tests)                                                                   \
    int main(int argc, char **argv)                                                        \
    {                                                                                      \
        return unit_run(__FILE__, tests, sizeof(tests) / sizeof(tests[0]), argc, argv);    \
    }

#endif
