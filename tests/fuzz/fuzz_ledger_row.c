/* Fuzz target for a ledger row as it is read back (src/store/sqlite_game.c,
 * store_ledger_logged): the compact form, [first id, source, time, [kind, name, amount,
 * balance_after, reason, ref, metadata], ...], and the whole form of earlier versions, with
 * damage of any kind. Bytes 0..7 are the row's first_seq (big-endian), the rest its text. The
 * row is inserted and read inside a batch that is then rolled back, on a store opened once in
 * a temporary directory. Checked: the read succeeds; every entry it gives has a kind of the
 * two, a name, a reason and an id; an entry of a compact row has the seq and time its row
 * says, and an id in UUID form that follows the one before it. */
#include "fuzz_store.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <string.h>

#include "core/uuid.h"
#include "store/sqlite_int.h"
#include "store/store.h"


struct seen {
    bool compact;
    int64_t first_seq, at;
    char base[UUID_LEN + 2];    /* the compact row's first id, as SQLite reads it */
    int64_t last_seq;
    size_t n;
};

static bool entry(const struct store_ledger *l, void *arg)
{
    struct seen *s = arg;
    CHECK(l->kind && (strcmp(l->kind, "xp") == 0 || strcmp(l->kind, "currency") == 0));
    CHECK(l->id && l->name && l->reason);
    if (s->compact) {
        /* Entry k (damaged ones are left out) has seq first_seq + k and id base + k. */
        CHECK(l->created_at == s->at);
        CHECK(l->seq >= s->first_seq);
        CHECK(!s->n || l->seq < s->last_seq); /* newest first */
        char want[UUID_LEN + 1];
        CHECK(uuid_add(s->base, (uint64_t)(l->seq - s->first_seq), want));
        CHECK(strcmp(want, l->id) == 0);
        s->last_seq = l->seq;
    }
    s->n++;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8 || size > 8192)
        return 0;
    int64_t first_seq = fuzz_first_seq(data);
    const char *text = (const char *)data + 8;
    size_t len = size - 8;
    char err[256];
    CHECK(store_batch_begin(fuzz_store, err, sizeof(err)) == 0);
    sqlite3_stmt *ins = NULL;
    CHECK(sqlite3_prepare_v2(fuzz_store->db,
                             "INSERT INTO ledger_rows (app_id, user_id, first_seq, entries) "
                             "VALUES ('app', 'u', ?, ?)",
                             -1, &ins, NULL) == SQLITE_OK);
    sqlite3_bind_int64(ins, 1, first_seq);
    sqlite3_bind_text(ins, 2, text, (int)len, SQLITE_STATIC);
    CHECK(sqlite3_step(ins) == SQLITE_DONE);
    sqlite3_finalize(ins);
    int64_t lseq = sqlite3_last_insert_rowid(fuzz_store->db);
    /* What the row says of itself, to check the compact form's entries against. */
    struct seen s = { .first_seq = first_seq };
    sqlite3_stmt *q = NULL;
    CHECK(sqlite3_prepare_v2(fuzz_store->db,
                             "SELECT CASE WHEN json_valid(entries) THEN json_type(entries, "
                             "'$[0]') = 'text' AND json_type(entries, '$[2]') = 'integer' END, "
                             "CASE WHEN json_valid(entries) THEN entries ->> '$[2]' END, "
                             "CASE WHEN json_valid(entries) THEN entries ->> '$[0]' END "
                             "FROM ledger_rows WHERE lseq = ?",
                             -1, &q, NULL) == SQLITE_OK);
    sqlite3_bind_int64(q, 1, lseq);
    CHECK(sqlite3_step(q) == SQLITE_ROW);
    s.compact = sqlite3_column_int(q, 0) == 1;
    s.at = sqlite3_column_int64(q, 1);
    const char *base = (const char *)sqlite3_column_text(q, 2);
    snprintf(s.base, sizeof(s.base), "%s", s.compact && base ? base : "");
    sqlite3_finalize(q);
    CHECK(store_ledger_logged(fuzz_store, lseq, entry, &s, err, sizeof(err)) == 0);
    store_batch_rollback(fuzz_store);
    return 0;
}
