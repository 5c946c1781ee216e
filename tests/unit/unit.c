/* unit_run: runs all cases of a cmocka group, or the one named on the command line. */
#include "unit.h"

#include <stdio.h>
#include <string.h>

int unit_run(const char *group, const struct CMUnitTest *tests, size_t n, int argc, char **argv)
{
    if (argc > 1) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(tests[i].name, argv[1]) == 0)
                return _cmocka_run_group_tests(group, &tests[i], 1, NULL, NULL);
        }
        fprintf(stderr, "no test case named %s\n", argv[1]);
        return 1;
    }
    return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
}
