/* unit_run: runs all cases of a cmocka group, or the one named on the command line. */
#include "unit.h"

#include "core/json.h"
#include "core/log.h"
#include "store/sqlite_int.h"
#include "store/store.h"

#include <ftw.h>
#include <unistd.h>
#include <stdlib.h>
#include <fcntl.h>
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

json_t *unit_json(const char *text)
{
    static const struct json_limits limits = {32, 100000};
    char err[200];
    json_t *j = json_parse_strict(text, strlen(text), &limits, err, sizeof(err));
    if (!j)
        fail_msg("test JSON does not parse: %s: %s", err, text);
    return j;
}

json_t *unit_json_with(const char *base, const char *extra)
{
    json_t *b = unit_json(base), *e = unit_json(extra);
    json_object_update(b, e);
    json_decref(e);
    return b;
}

void unit_assert_details(json_t *details, const char *want, const char *what)
{
    json_t *w = unit_json(want);
    if (!json_equal(details, w)) {
        char *d = details ? json_dumps(details, JSON_COMPACT) : NULL;
        fail_msg("%s:\n got %s\nwant %s", what, d ? d : "nothing", want);
    }
    json_decref(w);
    json_decref(details);
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
    return unit_store_open_at(data_dir, store_latest_version());
}

struct store *unit_store_open_at(const char *data_dir, int version)
{
    char err[256];
    struct store_options opt = { data_dir, NULL, 0 };
    struct store *s = store_open(&opt, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "store_open: %s\n", err);
        return NULL;
    }
    if (store_migrate_to(s, version, NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "store_migrate: %s\n", err);
        store_close(s);
        return NULL;
    }
    return s;
}

int unit_store_make(struct unit_store *u, const char *tag)
{
    return unit_store_make_at(u, tag, store_latest_version());
}

int unit_store_make_at(struct unit_store *u, const char *tag, int version)
{
    memset(u, 0, sizeof(*u));
    u->devnull = -1;
    snprintf(u->dir, sizeof(u->dir), "/tmp/reactor-%s-XXXXXX", tag);
    if (!mkdtemp(u->dir)) {
        perror("mkdtemp");
        return -1;
    }
    snprintf(u->data_dir, sizeof(u->data_dir), "%s/data", u->dir);
    u->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    log_set_fd(u->devnull);
    u->s = unit_store_open_at(u->data_dir, version);
    return u->s ? 0 : -1;
}

void unit_store_close(struct unit_store *u)
{
    store_close(u->s);
    u->s = NULL;
    log_set_fd(2);
    if (u->devnull >= 0)
        close(u->devnull);
    u->devnull = -1;
    unit_rmtree(u->dir);
}

int unit_store_setup(void **state)
{
    struct unit_store *u = calloc(1, sizeof(*u));
    if (!u || unit_store_make(u, "store") < 0) {
        free(u);
        return -1;
    }
    *state = u;
    return 0;
}

int unit_store_teardown(void **state)
{
    struct unit_store *u = *state;
    unit_store_close(u);
    free(u);
    return 0;
}

void unit_store_exec(struct store *s, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}
