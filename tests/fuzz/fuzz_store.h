/* For the targets that read what the store holds: one store for the whole run, `fuzz_store`,
 * opened and migrated in a temporary directory by LLVMFuzzerInitialize (defined here), closed
 * and removed at exit. Logs go to /dev/null: damaged rows are logged, and that is not the
 * point of these targets. */
#ifndef REACTOR_FUZZ_FUZZ_STORE_H
#define REACTOR_FUZZ_FUZZ_STORE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "fuzz.h"
#include "store/migrations.h"
#include "store/store.h"

static struct store *fuzz_store;
static char fuzz_store_dir[] = "/tmp/reactor-fuzz-store-XXXXXX";

static void fuzz_store_cleanup(void)
{
    store_close(fuzz_store);
    char path[128];
    static const char *const files[] = { "reactor.db", "reactor.db-wal", "reactor.db-shm" };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", fuzz_store_dir, files[i]);
        unlink(path);
    }
    rmdir(fuzz_store_dir);
}

/* A ledger seq from the input's first 8 bytes (big-endian), with room to count up from it. */
static inline int64_t fuzz_first_seq(const uint8_t *data)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | data[i];
    return (int64_t)(v & UINT64_C(0x3fffffffffffffff));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0)
        log_set_fd(null);
    CHECK(mkdtemp(fuzz_store_dir) != NULL);
    struct store_options opt = { .data_dir = fuzz_store_dir };
    char err[256];
    fuzz_store = store_open(&opt, err, sizeof(err));
    CHECK(fuzz_store != NULL);
    CHECK(store_migrate(fuzz_store, NULL, err, sizeof(err)) == 0);
    atexit(fuzz_store_cleanup);
    return 0;
}

#endif
