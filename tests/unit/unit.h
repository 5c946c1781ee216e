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

int unit_run(const char *group, const struct CMUnitTest *tests, size_t n, int argc, char **argv);
/* Removes a directory tree (a test's temporary data dir). */
void unit_rmtree(const char *dir);

struct store;
/* Opens and migrates a store in data_dir; NULL (with the reason on stderr) on failure. */
struct store *unit_store_open(const char *data_dir);

#define UNIT_MAIN(tests)                                                                   \
    int main(int argc, char **argv)                                                        \
    {                                                                                      \
        return unit_run(__FILE__, tests, sizeof(tests) / sizeof(tests[0]), argc, argv);    \
    }

#endif
