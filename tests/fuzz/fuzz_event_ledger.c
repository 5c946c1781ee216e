/* Fuzz target for an event's ledger entries as they are read back from its row
 * (src/store/sqlite_game.c, store_ledger_logged of STORE_LEDGER_EVENT): the row's effects, a
 * JSON array of effects whose "xp.awarded" and "currency.changed" members are the entries,
 * with damage of any kind. Bytes 0..7 are the row's ledger_seq (big-endian), the rest its
 * effects text. The row is inserted, read, indexed, deleted by retention (which keeps what
 * its entries are read from) and read again, inside a batch that is then rolled back, on a store opened once in a
 * temporary directory. Checked: every read succeeds; every entry has a kind of the two, a
 * name, a reason, the event's key as its source and its processing time, a version 8 UUID of
 * its own, and a seq from ledger_seq on, newest first; what retention kept reads back the
 * same, entry for entry. */
#include "fuzz_store.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <string.h>

#include "core/uuid.h"
#include "store/sqlite_int.h"
#include "store/store.h"

#define AT 1795400000000
#define MAX_SEEN 64

struct seen {
    int64_t first_seq;
    size_t n;
    char text[MAX_SEEN][160]; /* the first entries, as compared after retention */
};

static bool entry(const struct store_ledger *l, void *arg)
{
    struct seen *s = arg;
    CHECK(l->kind && (strcmp(l->kind, "xp") == 0 || strcmp(l->kind, "currency") == 0));
    CHECK(l->name && l->reason && l->id && l->source);
    CHECK(strcmp(l->source, "fuzz-key") == 0);
    CHECK(l->created_at == AT);
    CHECK(strlen(l->id) == UUID_LEN && l->id[14] == '8');
    CHECK(l->seq >= s->first_seq);
    if (s->n && s->n <= MAX_SEEN) {
        long long before;
        CHECK(sscanf(s->text[s->n - 1], "%lld", &before) == 1);
        CHECK(l->seq < before); /* newest first */
    }
    if (s->n < MAX_SEEN)
        snprintf(s->text[s->n], sizeof(s->text[s->n]), "%lld %s %s %lld %lld %s %.40s",
                 (long long)l->seq, l->id, l->kind, (long long)l->amount,
                 (long long)l->balance_after, l->reason, l->ref ? l->ref : "-");
    s->n++;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8 || size > 8192)
        return 0;
    int64_t first_seq = fuzz_first_seq(data);
    if (first_seq == 0)
        first_seq = 1;
    char *effects = strndup((const char *)data + 8, size - 8); /* text up to a NUL */
    CHECK(effects != NULL);
    char err[256];
    CHECK(store_batch_begin(fuzz_store, err, sizeof(err)) == 0);
    struct store_event ev = {
        .app_id = "app",
        .idempotency_key = "fuzz-key",
        .user_id = "u",
        .event_type = "t",
        .occurred_at = AT,
        .received_at = 1000,
        .processed_at = AT,
        .status = STORE_EVENT_PROCESSED,
        .effects = effects,
        .ledger_seq = first_seq,
    };
    int64_t seq;
    CHECK(store_event_next_seq(fuzz_store, &seq, err, sizeof(err)) == 0);
    CHECK(store_event_insert(fuzz_store, &ev, err, sizeof(err)) == 0);
    static struct seen a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.first_seq = b.first_seq = first_seq;
    CHECK(store_ledger_logged(fuzz_store, STORE_LEDGER_EVENT(seq), entry, &a, err,
                              sizeof(err)) == 0);
    /* As a fold would: its entries indexed, retention may delete it. */
    CHECK(store_ledger_indexed_through(fuzz_store, 0, err, sizeof(err)) == 0);
    int deleted = 0;
    CHECK(store_events_expire(fuzz_store, 2000, 10, &deleted, err, sizeof(err)) == 0);
    CHECK(deleted == 1);
    CHECK(store_ledger_logged(fuzz_store, STORE_LEDGER_EVENT(seq), entry, &b, err,
                              sizeof(err)) == 0);
    CHECK(a.n == b.n);
    for (size_t i = 0; i < a.n && i < MAX_SEEN; i++)
        CHECK(strcmp(a.text[i], b.text[i]) == 0);
    store_batch_rollback(fuzz_store);
    free(effects);
    return 0;
}
