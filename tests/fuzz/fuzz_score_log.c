/* Fuzz target for the leaderboards' score log as the fold reads it back (src/store/
 * sqlite_boards.c, store_board_fold): at start-up it reads whatever the last run left, so a
 * damaged row must cost only its own changes, never the fold. Byte 0 picks the row's form
 * (even: a batch's row, user_id ''; odd: a row of one user, from earlier versions), the rest
 * is its text. The row is folded inside a batch that is then rolled back, on a store opened
 * once in a temporary directory. Checked: the fold succeeds and empties the log, and every
 * score it writes is within [0, cap]. */
#include "fuzz_store.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <string.h>

#include "store/sqlite_int.h"
#include "store/store.h"

#define CAP 1000000000000LL /* small enough for sums of the input's numbers to reach it */


static int64_t one(const char *sql)
{
    sqlite3_stmt *q = NULL;
    CHECK(sqlite3_prepare_v2(fuzz_store->db, sql, -1, &q, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW);
    int64_t v = sqlite3_column_type(q, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char err[256];
    CHECK(store_batch_begin(fuzz_store, err, sizeof(err)) == 0);
    sqlite3_stmt *ins = NULL;
    CHECK(sqlite3_prepare_v2(fuzz_store->db,
                             "INSERT INTO board_log (user_id, changes) VALUES (?, ?)", -1, &ins,
                             NULL) == SQLITE_OK);
    sqlite3_bind_text(ins, 1, data[0] & 1 ? "u" : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 2, (const char *)data + 1, (int)(size - 1), SQLITE_STATIC);
    CHECK(sqlite3_step(ins) == SQLITE_DONE);
    sqlite3_finalize(ins);
    int64_t rows = 0;
    CHECK(store_board_fold(fuzz_store, CAP, &rows, err, sizeof(err)) == 0);
    CHECK(rows == 1);
    CHECK(one("SELECT count(*) FROM board_log") == 0);
    CHECK(one("SELECT count(*) FROM board_scores WHERE score < 0 OR score > 1000000000000") == 0);
    store_batch_rollback(fuzz_store);
    return 0;
}
