/* unit_run: runs all cases of a cmocka group, or the one named on the command line. */
#include "unit.h"

#include "store/store.h"

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

struct store *unit_store_open(const char *data_dir)
{
    char err[256];
    struct store_options opt = { data_dir, NULL };
    struct store *s = store_open(&opt, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "store_open: %s\n", err);
        return NULL;
    }
    if (store_migrate(s, NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "store_migrate: %s\n", err);
        store_close(s);
        return NULL;
    }
    return s;
}
