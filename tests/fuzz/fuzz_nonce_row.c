/* Fuzz target for the nonce log as it is read back at start-up (src/store/sqlite_events.c,
 * store_nonces_each_live): whatever the last run left, a damaged row must cost only its own
 * nonces from the fault on, never the start. Byte 0 picks the check:
 *   even: the rest is the text of a batch's row (app_id ''), any damage. Every nonce given
 *         must have a non-empty app id, bytes that are in the row's text, and expire between
 *         now and the row's expiry;
 *   odd:  the rest is cut into nonces (app, expiry, length, bytes) that store_nonces_record
 *         writes as one row; reading it back must give exactly those, in order.
 * Each input runs in a batch that is then rolled back, on a store opened once. */
#include "fuzz_store.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <string.h>

#include "store/sqlite_int.h"
#include "store/store.h"

#define LATEST 1000000
#define MAX_NONCES 256

struct seen {
    const uint8_t *row;  /* damage: the row's text */
    size_t row_len;
    int64_t now;
    const struct store_nonce *want; /* round trip: what was written */
    size_t n, want_n;
};

static void got(const char *app_id, const char *nonce, size_t len, int64_t expires, void *arg)
{
    struct seen *s = arg;
    CHECK(app_id[0] != '\0');
    CHECK(len > 0);
    CHECK(expires >= s->now);
    CHECK(expires <= LATEST);
    if (s->row)
        CHECK(memmem(s->row, s->row_len, nonce, len) != NULL);
    if (s->want) {
        CHECK(s->n < s->want_n);
        const struct store_nonce *w = &s->want[s->n];
        CHECK(strcmp(app_id, w->app_id) == 0);
        CHECK(len == w->nonce_len && memcmp(nonce, w->nonce, len) == 0);
        CHECK(expires == w->expires_s);
    }
    s->n++;
}

static void damaged(const uint8_t *data, size_t size)
{
    char err[256];
    sqlite3_stmt *ins = NULL;
    CHECK(sqlite3_prepare_v2(fuzz_store->db,
                             "INSERT INTO nonces (app_id, nonce, expires_at) VALUES ('', ?, ?)",
                             -1, &ins, NULL) == SQLITE_OK);
    sqlite3_bind_text(ins, 1, (const char *)data, (int)size, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 2, LATEST);
    CHECK(sqlite3_step(ins) == SQLITE_DONE);
    sqlite3_finalize(ins);
    struct seen s = { .row = data, .row_len = size, .now = LATEST / 2 };
    CHECK(store_nonces_each_live(fuzz_store, s.now, got, &s, err, sizeof(err)) == 0);
    CHECK(s.n <= size / 4); /* an entry takes at least "0,1:x" after its app */
}

static void round_trip(const uint8_t *data, size_t size)
{
    static const char *const apps[] = { "shop", "game", "@1:9", "a,b:0" };
    struct store_nonce v[MAX_NONCES];
    size_t n = 0, i = 0;
    while (n < MAX_NONCES && i + 3 < size) {
        size_t len = data[i + 2] % 64 + 1;
        if (len > size - i - 3)
            len = size - i - 3;
        v[n++] = (struct store_nonce){ apps[data[i] % 4], (const char *)data + i + 3, len,
                                       LATEST - data[i + 1] * 1000 };
        i += 3 + len;
    }
    char err[256];
    CHECK(store_nonces_record(fuzz_store, v, n, err, sizeof(err)) == 0);
    struct seen s = { .now = 0, .want = v, .want_n = n };
    CHECK(store_nonces_each_live(fuzz_store, 0, got, &s, err, sizeof(err)) == 0);
    CHECK(s.n == n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char err[256];
    CHECK(store_batch_begin(fuzz_store, err, sizeof(err)) == 0);
    if (data[0] & 1)
        round_trip(data + 1, size - 1);
    else
        damaged(data + 1, size - 1);
    store_batch_rollback(fuzz_store);
    return 0;
}
