/* Fuzz target for an event's ledger entries as they are read back from its row
 * (src/store/sqlite_game.c, store_ledger_logged of STORE_LEDGER_EVENT): the row's effects, a
 * JSON array of effects whose "xp.awarded" and "currency.changed" members are the entries,
 * with damage of any kind. Bytes 0..7 are the row's ledger_seq (big-endian), the rest its
 * effects text; or, when the rest starts with FXPACK_VERSION (which no JSON text does), the
 * same in the compact form the engine writes (core/fxpack.h), whose readable JSON
 * (fxpack_json_readable: the effects before any fault) is then the document the entries are
 * checked against.
 * The row is inserted, read, indexed, deleted by retention (which keeps what its entries are
 * read from) and read again, inside a batch that is then rolled back, on a store opened once
 * in a temporary directory. Checked: every read succeeds; every entry has a
 * kind of the two, a name, a reason, the event's key as its source and its processing time, a
 * version 8 UUID of its own, and a seq from ledger_seq on, newest first; what retention kept
 * reads back the same, entry for entry; and when jansson reads the whole document (duplicate
 * keys refused) and every effect in it, and the document is within the limits the store
 * reads effects with, the entries are those a reading of jansson's tree gives, field for
 * field. */
#include "fuzz_store.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/fxpack.h"
#include "core/json.h"
#include "core/uuid.h"
#include "store/sqlite_int.h"
#include "store/store.h"

#define AT 1795400000000
#define MAX_SEEN 64
#define TEXT 48

struct entry {
    int64_t seq, amount, balance;
    bool xp, rule;
    char id[UUID_LEN + 1];
    char name[TEXT], ref[TEXT]; /* cut to fit; ref "" when there is none */
    bool has_ref;
};

struct seen {
    int64_t first_seq;
    size_t n;
    struct entry v[MAX_SEEN]; /* the first entries */
};

static void keep(char out[TEXT], const char *s)
{
    snprintf(out, TEXT, "%s", s ? s : "");
}

static bool entry(const struct store_ledger *l, void *arg)
{
    struct seen *s = arg;
    CHECK(l->kind && (strcmp(l->kind, "xp") == 0 || strcmp(l->kind, "currency") == 0));
    CHECK(l->name && l->reason && l->id && l->source);
    CHECK(strcmp(l->reason, "rule") == 0 || strcmp(l->reason, "achievement") == 0);
    CHECK(strcmp(l->source, "fuzz-key") == 0);
    CHECK(l->created_at == AT);
    CHECK(strlen(l->id) == UUID_LEN && l->id[14] == '8');
    CHECK(l->seq >= s->first_seq);
    if (s->n && s->n <= MAX_SEEN)
        CHECK(l->seq < s->v[s->n - 1].seq); /* newest first */
    if (s->n < MAX_SEEN) {
        struct entry *e = &s->v[s->n];
        *e = (struct entry){ l->seq, l->amount, l->balance_after, strcmp(l->kind, "xp") == 0,
                             strcmp(l->reason, "rule") == 0, "", "", "", l->ref != NULL };
        snprintf(e->id, sizeof(e->id), "%s", l->id);
        keep(e->name, l->name);
        keep(e->ref, l->ref);
    }
    s->n++;
    return true;
}

static bool same(const struct entry *a, const struct entry *b, bool ids)
{
    return a->seq == b->seq && a->amount == b->amount && a->balance == b->balance &&
           a->xp == b->xp && a->rule == b->rule && a->has_ref == b->has_ref &&
           strcmp(a->name, b->name) == 0 && strcmp(a->ref, b->ref) == 0 &&
           (!ids || strcmp(a->id, b->id) == 0);
}

/* The entries as a reading of jansson's tree gives them, newest first; false when the
 * document or an effect in it cannot be read whole (nothing to compare then). */
static bool reference(const char *effects, int64_t first, struct seen *out)
{
    json_t *v = json_loads(effects, JSON_REJECT_DUPLICATES, NULL);
    bool whole = json_is_array(v);
    static struct entry found[MAX_SEEN];
    size_t n = 0;
    for (size_t i = 0; whole && i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        const char *type = json_string_value(json_object_get(e, "type"));
        bool xp = type && strcmp(type, "xp.awarded") == 0;
        if (!type || (!xp && strcmp(type, "currency.changed") != 0))
            continue;
        const char *name = json_string_value(json_object_get(e, xp ? "track" : "currency"));
        json_t *amount = json_object_get(e, "amount");
        json_t *total = json_object_get(e, xp ? "totalXp" : "balance");
        if (!name || !json_is_integer(amount) || !json_is_integer(total) || n > 65535) {
            whole = false;
            break;
        }
        const char *src = json_string_value(json_object_get(e, "source"));
        bool rule = src && strcmp(src, "rule") == 0;
        const char *ref = json_string_value(json_object_get(e, rule ? "ruleId" : "achievementCode"));
        if (n < MAX_SEEN) {
            found[n] = (struct entry){ first + (int64_t)n, json_integer_value(amount),
                                       json_integer_value(total), xp, rule, "", "", "",
                                       ref != NULL };
            keep(found[n].name, name);
            keep(found[n].ref, ref);
        }
        n++;
    }
    json_decref(v);
    if (!whole || n > MAX_SEEN)
        return false;
    out->n = n;
    for (size_t i = 0; i < n; i++) /* newest first, as the store gives them */
        out->v[i] = found[n - 1 - i];
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8 || size > 8192)
        return 0;
    int64_t first_seq = fuzz_first_seq(data);
    if (first_seq == 0)
        first_seq = 1;
    bool compact = size > 8 && data[8] == FXPACK_VERSION;
    struct buf json = BUF_INIT;
    char *effects = NULL;
    if (compact)
        fxpack_json_readable(data + 8, size - 8, &json);
    else
        CHECK((effects = strndup((const char *)data + 8, size - 8)) != NULL); /* up to a NUL */
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
        .fx = compact ? (unsigned char *)data + 8 : NULL,
        .fx_len = compact ? size - 8 : 0,
        .ledger_seq = first_seq,
    };
    int64_t seq;
    CHECK(store_event_next_seq(fuzz_store, &seq, err, sizeof(err)) == 0);
    CHECK(store_event_insert(fuzz_store, &ev, err, sizeof(err)) == 0);
    static struct seen a, b, want;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&want, 0, sizeof(want));
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
        CHECK(same(&a.v[i], &b.v[i], true));
    const char *doc = compact ? json.data : effects;
    char ignore[128];
    if (json_prescan(doc, strlen(doc), &sqlite__effects_limits, ignore, sizeof(ignore)) == 0 &&
        reference(doc, first_seq, &want)) {
        CHECK(want.n == a.n);
        for (size_t i = 0; i < a.n; i++)
            CHECK(same(&a.v[i], &want.v[i], false));
    }
    store_batch_rollback(fuzz_store);
    free(effects);
    buf_release(&json);
    return 0;
}
