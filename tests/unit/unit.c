/* unit_run: runs all cases of a cmocka group, or the one named on the command line. */
#include "unit.h"

#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void unit_rmtree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
