/* Unit tests for src/store/sqlite_events.c: event rows, the users events create, and signature
 * nonces, in a real SQLite file in a temporary data directory. An event row is what
 * GET /events/:key answers and what idempotency rests on; the nonce rows are what replay
 * detection is rebuilt from after a restart. */
#include "unit.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fxpack.h"
#include "core/log.h"
#include "core/uuid.h"
#include "store/sqlite_int.h"
#include "store/store.h"

struct fixture {
    struct unit_store u;
};

static char err[256];


static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (unit_store_make(&f->u, "events") < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unit_store_close(&f->u);
    free(f);
    return 0;
}

/* ---- helpers -------------------------------------------------------------------------------- */

static void create_app(struct store *s, const char *id, const char *key_id, unsigned char fill)
{
    struct store_app a;
    memset(&a, 0, sizeof(a));
    a.id = (char *)id;
    a.name = (char *)"Some app";
    a.settings = (char *)"{}";
    a.default_timezone = (char *)"UTC";
    a.created_at = a.updated_at = 1000;
    struct store_key k;
    memset(&k, 0, sizeof(k));
    k.id = (char *)key_id;
    k.app_id = (char *)id;
    k.name = (char *)"key";
    k.role = STORE_ROLE_ADMIN;
    memset(k.hash, fill, sizeof(k.hash));
    k.created_at = 1000;
    int rc = store_app_create(s, &a, &k, err, sizeof(err));
    if (rc != 0)
        fail_msg("store_app_create(%s): %d %s", id, rc, err);
}

#define K1 "11111111-1111-4111-8111-111111111111"
#define K2 "22222222-2222-4222-8222-222222222222"

/* A PROCESSED event with every optional column empty. */
static struct store_event event_row(const char *app, const char *key, const char *user)
{
    struct store_event e;
    memset(&e, 0, sizeof(e));
    e.app_id = (char *)app;
    e.idempotency_key = (char *)key;
    e.user_id = (char *)user;
    e.event_type = (char *)"level_up";
    e.occurred_at = 1700000000000;
    e.received_at = 1700000000100;
    e.processed_at = 1700000000200;
    e.status = STORE_EVENT_PROCESSED;
    return e;
}

static int64_t count_rows(struct store *s, const char *sql);

static void insert(struct store *s, const struct store_event *e)
{
    int rc = store_event_insert(s, e, err, sizeof(err));
    if (rc != 0)
        fail_msg("store_event_insert(%s): %d %s", e->idempotency_key, rc, err);
}

static struct store_event get(struct store *s, const char *app, const char *key)
{
    struct store_event got;
    int rc = store_event_get(s, app, key, &got, err, sizeof(err));
    if (rc != 0)
        fail_msg("store_event_get(%s, %s): %d %s", app, key, rc, err);
    return got;
}

static void assert_optional_string(const char *got, const char *want)
{
    if (!want)
        assert_null(got);
    else
        assert_string_equal(got, want);
}

static void assert_same_event(const struct store_event *got, const struct store_event *want)
{
    assert_string_equal(got->app_id, want->app_id);
    assert_string_equal(got->idempotency_key, want->idempotency_key);
    assert_string_equal(got->user_id, want->user_id);
    assert_string_equal(got->event_type, want->event_type);
    assert_optional_string(got->metadata, want->metadata);
    assert_int_equal(got->occurred_at, want->occurred_at);
    assert_int_equal(got->received_at, want->received_at);
    assert_int_equal(got->processed_at, want->processed_at);
    assert_int_equal(got->status, want->status);
    assert_optional_string(got->error, want->error);
    assert_optional_string(got->effects, want->effects);
}

/* Nonces listed by store_nonces_each_live. */
#define MAX_NONCES 32
struct nonce_list {
    size_t n;
    char app[MAX_NONCES][40];
    char nonce[MAX_NONCES][80];
    size_t len[MAX_NONCES];
    int64_t expires[MAX_NONCES];
};

static void collect_nonce(const char *app_id, const char *nonce, size_t len, int64_t expires,
                          void *arg)
{
    struct nonce_list *l = arg;
    if (l->n == MAX_NONCES || len >= sizeof(l->nonce[0]))
        fail_msg("nonce list overflow");
    snprintf(l->app[l->n], sizeof(l->app[0]), "%s", app_id);
    memcpy(l->nonce[l->n], nonce, len);
    l->nonce[l->n][len] = '\0';
    l->len[l->n] = len;
    l->expires[l->n] = expires;
    l->n++;
}

static struct nonce_list live_nonces(struct store *s, int64_t now_s)
{
    struct nonce_list l;
    memset(&l, 0, sizeof(l));
    int rc = store_nonces_each_live(s, now_s, collect_nonce, &l, err, sizeof(err));
    if (rc != 0)
        fail_msg("store_nonces_each_live: %d %s", rc, err);
    return l;
}

/* The index of (app, nonce) in l, or -1. */
static int find_nonce(const struct nonce_list *l, const char *app, const char *nonce)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->app[i], app) == 0 && strcmp(l->nonce[i], nonce) == 0)
            return (int)i;
    return -1;
}

/* A row of one nonce. */
static void record(struct store *s, const char *app, const char *nonce, int64_t expires)
{
    struct store_nonce one = { app, nonce, strlen(nonce), expires };
    int rc = store_nonces_record(s, &one, 1, err, sizeof(err));
    if (rc != 0)
        fail_msg("store_nonces_record(%s): %d %s", nonce, rc, err);
}

static int expire(struct store *s, int64_t before, int limit)
{
    int deleted = -1;
    int rc = store_nonces_expire(s, before, limit, &deleted, err, sizeof(err));
    if (rc != 0)
        fail_msg("store_nonces_expire: %d %s", rc, err);
    return deleted;
}

/* ---- events --------------------------------------------------------------------------------- */

static void event_round_trips_every_column(void **state)
{
    struct fixture *f = *state;
    struct store_event e = event_row("shop", "order-12345", "pl\xc3\xa4yer-\xf0\x9f\x98\x80");
    e.event_type = (char *)"purchase";
    e.metadata =
        (char *)"{\"sku\":\"gem\",\"price\":499,\"tags\":[\"a\"],\"note\":\"caf\xc3\xa9\"}";
    e.occurred_at = 1699999800123;
    e.received_at = 1700000000000;
    e.processed_at = 1700000000007;
    e.status = STORE_EVENT_FAILED;
    e.error = (char *)"User not found";
    e.effects = (char *)"[{\"type\":\"points\",\"amount\":10}]";
    insert(f->u.s, &e);
    struct store_event got = get(f->u.s, "shop", "order-12345");
    assert_same_event(&got, &e);
    store_event_release(&got);
    assert_null(got.app_id); /* release clears the row */
    assert_null(got.effects);
}

static bool ledger_line(const struct store_ledger *l, void *arg)
{
    buf_printf(arg, "%lld %s %s %lld %lld %s %s %s\n", (long long)l->seq, l->kind, l->name,
               (long long)l->amount, (long long)l->balance_after, l->reason, l->source,
               l->ref ? l->ref : "-");
    return true;
}

/* Effects the engine writes in the compact form are kept so (and nothing in `effects`), and
 * read back as their JSON; damaged ones read back as none, the rest of the row intact. */
static void compact_effects_read_back_as_json(void **state)
{
    struct fixture *f = *state;
    struct buf fx = BUF_INIT, json = BUF_INIT;
    fxpack_begin(&fx);
    fxpack_award(&fx, FXPACK_XP, "XP", 10, 120, FXPACK_SOURCE_RULE,
                 "6f1c2a9e-58b4-4f0e-9d0a-3c2b1a0f9e8d");
    fxpack_award(&fx, FXPACK_CURRENCY, "gems", 1, 3, FXPACK_SOURCE_ACHIEVEMENT, "ten");
    fxpack_streak(&fx, "daily", 4, 9, 1);
    assert_int_equal(fxpack_json(fx.data, fx.len, &json), 0);
    struct store_event e = event_row("shop", "compact", "u-1");
    e.fx = (unsigned char *)fx.data;
    e.fx_len = fx.len;
    e.ledger_seq = 7;
    insert(f->u.s, &e);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM events WHERE effects IS NULL AND "
             "typeof(fx) = 'blob' AND length(fx) = %zu", fx.len);
    assert_int_equal(count_rows(f->u.s, sql), 1);
    struct store_event got = get(f->u.s, "shop", "compact");
    assert_string_equal(got.effects, json.data);
    assert_null(got.fx);
    store_event_release(&got);
    /* the ledger reads its entries from them, newest first */
    int64_t seq = count_rows(f->u.s, "SELECT seq FROM events WHERE idempotency_key = 'compact'");
    struct buf lines = BUF_INIT;
    assert_int_equal(store_ledger_logged(f->u.s, STORE_LEDGER_EVENT(seq), ledger_line, &lines,
                                         err, sizeof(err)), 0);
    assert_string_equal(lines.data, "8 currency gems 1 3 achievement compact ten\n"
                                    "7 xp XP 10 120 rule compact "
                                    "6f1c2a9e-58b4-4f0e-9d0a-3c2b1a0f9e8d\n");
    /* the same through store_event_effects, from either member */
    struct buf tmp = BUF_INIT;
    assert_string_equal(store_event_effects(&e, &tmp), json.data);
    struct store_event j = { .effects = json.data };
    assert_ptr_equal(store_event_effects(&j, &tmp), json.data);
    struct store_event none = { 0 };
    assert_null(store_event_effects(&none, &tmp));

    /* damage: cut short */
    unit_store_exec(f->u.s, "UPDATE events SET fx = substr(fx, 1, length(fx) - 1)");
    got = get(f->u.s, "shop", "compact");
    assert_null(got.effects);
    assert_string_equal(got.user_id, "u-1");
    store_event_release(&got);
    e.fx_len--;
    assert_null(store_event_effects(&e, &tmp));
    /* and the ledger shows the entries before the damage (the streak's, cut, holds none), as
     * it does with damaged JSON; the damage is logged */
    buf_reset(&lines);
    assert_int_equal(store_ledger_logged(f->u.s, STORE_LEDGER_EVENT(seq), ledger_line, &lines,
                                         err, sizeof(err)), 0);
    assert_string_equal(lines.data, "8 currency gems 1 3 achievement compact ten\n"
                                    "7 xp XP 10 120 rule compact "
                                    "6f1c2a9e-58b4-4f0e-9d0a-3c2b1a0f9e8d\n");
    /* an empty BLOB (SQLite reads it back as NULL): no effects, no entries */
    unit_store_exec(f->u.s, "UPDATE events SET fx = X''");
    got = get(f->u.s, "shop", "compact");
    assert_null(got.effects);
    store_event_release(&got);
    buf_reset(&lines);
    assert_int_equal(store_ledger_logged(f->u.s, STORE_LEDGER_EVENT(seq), ledger_line, &lines,
                                         err, sizeof(err)), 0);
    assert_string_equal(lines.data, "");
    buf_release(&lines);
    buf_release(&tmp);
    buf_release(&fx);
    buf_release(&json);
}

/* Optional columns come back NULL (not "") and a missing processed time as 0. */
static void event_optional_columns_read_back_null(void **state)
{
    struct fixture *f = *state;
    struct store_event e = event_row("shop", "plain-key", "u-1");
    e.processed_at = 0;
    e.status = STORE_EVENT_RECEIVED;
    insert(f->u.s, &e);
    struct store_event got = get(f->u.s, "shop", "plain-key");
    assert_null(got.metadata);
    assert_null(got.error);
    assert_null(got.effects);
    assert_int_equal(got.processed_at, 0);
    assert_int_equal(got.status, STORE_EVENT_RECEIVED);
    assert_same_event(&got, &e);
    store_event_release(&got);
}

static void event_statuses_round_trip(void **state)
{
    struct fixture *f = *state;
    static const enum store_event_status all[] = {STORE_EVENT_RECEIVED, STORE_EVENT_PROCESSED,
                                                  STORE_EVENT_FAILED};
    static const char *const keys[] = {"status-0", "status-1", "status-2"};
    for (int i = 0; i < 3; i++) {
        struct store_event e = event_row("shop", keys[i], "u");
        e.status = all[i];
        insert(f->u.s, &e);
    }
    for (int i = 0; i < 3; i++) {
        struct store_event got = get(f->u.s, "shop", keys[i]);
        assert_int_equal(got.status, all[i]);
        store_event_release(&got);
    }
    assert_string_equal(store_event_status_name(STORE_EVENT_RECEIVED), "RECEIVED");
    assert_string_equal(store_event_status_name(STORE_EVENT_PROCESSED), "PROCESSED");
    assert_string_equal(store_event_status_name(STORE_EVENT_FAILED), "FAILED");
}

/* A key is unique per app: the second insert writes nothing and the original stands. */
static void event_duplicate_key_conflicts(void **state)
{
    struct fixture *f = *state;
    struct store_event first = event_row("shop", "dup-key-1", "u-first");
    first.metadata = (char *)"{\"n\":1}";
    insert(f->u.s, &first);
    struct store_event second = event_row("shop", "dup-key-1", "u-second");
    second.event_type = (char *)"other";
    second.metadata = (char *)"{\"n\":2}";
    second.status = STORE_EVENT_FAILED;
    second.error = (char *)"nope";
    assert_int_equal(store_event_insert(f->u.s, &second, err, sizeof(err)), STORE_CONFLICT);
    struct store_event got = get(f->u.s, "shop", "dup-key-1");
    assert_same_event(&got, &first);
    store_event_release(&got);
    /* the store goes on working */
    struct store_event third = event_row("shop", "dup-key-2", "u-third");
    insert(f->u.s, &third);
    got = get(f->u.s, "shop", "dup-key-2");
    assert_string_equal(got.user_id, "u-third");
    store_event_release(&got);
}

/* Another app may use the same key; neither app sees the other's event. */
static void event_keys_are_per_app(void **state)
{
    struct fixture *f = *state;
    struct store_event a = event_row("shop", "shared-key", "u-shop");
    struct store_event b = event_row("game", "shared-key", "u-game");
    insert(f->u.s, &a);
    insert(f->u.s, &b);
    struct store_event got = get(f->u.s, "shop", "shared-key");
    assert_string_equal(got.app_id, "shop");
    assert_string_equal(got.user_id, "u-shop");
    store_event_release(&got);
    got = get(f->u.s, "game", "shared-key");
    assert_string_equal(got.app_id, "game");
    assert_string_equal(got.user_id, "u-game");
    store_event_release(&got);

    struct store_event c = event_row("shop", "only-shop", "u");
    insert(f->u.s, &c);
    assert_int_equal(store_event_get(f->u.s, "game", "only-shop", &got, err, sizeof(err)),
                     STORE_NOT_FOUND);
    assert_int_equal(store_event_get(f->u.s, "shop", "no-such-key", &got, err, sizeof(err)),
                     STORE_NOT_FOUND);
    assert_int_equal(store_event_get(f->u.s, "shop", "ONLY-SHOP", &got, err, sizeof(err)),
                     STORE_NOT_FOUND);
}

/* Inside a batch an inserted event is visible at once (the engine finds a repeated key of the
 * same batch); a rolled-back batch leaves none of its events, a committed one keeps them. */
static void event_rows_follow_their_batch(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    struct store_event e = event_row("shop", "rolled-back", "u");
    insert(f->u.s, &e);
    struct store_event got = get(f->u.s, "shop", "rolled-back");
    store_event_release(&got);
    assert_int_equal(store_event_insert(f->u.s, &e, err, sizeof(err)), STORE_CONFLICT);
    assert_true(store_batch_active(f->u.s));
    store_batch_rollback(f->u.s);
    assert_int_equal(store_event_get(f->u.s, "shop", "rolled-back", &got, err, sizeof(err)),
                     STORE_NOT_FOUND);

    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    insert(f->u.s, &e);
    struct store_event e2 = event_row("shop", "committed-2", "u");
    insert(f->u.s, &e2);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    got = get(f->u.s, "shop", "rolled-back");
    store_event_release(&got);
    got = get(f->u.s, "shop", "committed-2");
    store_event_release(&got);
}

/* What was committed is there after the store is closed and opened again. */
static void event_survives_reopen(void **state)
{
    struct fixture *f = *state;
    struct store_event e = event_row("shop", "durable-key", "u-1");
    e.metadata = (char *)"{\"a\":1}";
    e.effects = (char *)"[]";
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    insert(f->u.s, &e);
    record(f->u.s, "shop", "durable-nonce", 5000);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    store_close(f->u.s);
    f->u.s = unit_store_open(f->u.data_dir);
    assert_non_null(f->u.s);
    struct store_event got = get(f->u.s, "shop", "durable-key");
    assert_same_event(&got, &e);
    store_event_release(&got);
    /* A key the server gave still names its row: the secret that hides its seq was kept. */
    char key[UUID_LEN + 1];
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(store_event_new_key(f->u.s, 1700000000100, key, err, sizeof(err)), 0);
    struct store_event named = event_row("shop", key, "u-2");
    insert(f->u.s, &named);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    store_close(f->u.s);
    f->u.s = unit_store_open(f->u.data_dir);
    assert_non_null(f->u.s);
    got = get(f->u.s, "shop", key);
    assert_same_event(&got, &named);
    store_event_release(&got);
    assert_int_equal(count_rows(f->u.s, "SELECT count(*) FROM event_keys"), 1); /* durable-key */
    struct nonce_list l = live_nonces(f->u.s, 4000);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.nonce[0], "durable-nonce");
}

/* ---- users ---------------------------------------------------------------------------------- */

/* ---- keys that name their row, keys that are indexed ------------------------------------- */

static int64_t count_rows(struct store *s, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(s->db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int64_t next_seq(struct store *s)
{
    int64_t seq = 0;
    assert_int_equal(store_event_next_seq(s, &seq, err, sizeof(err)), 0);
    return seq;
}

/* A key made from the next seq is found through it, with no row in event_keys; any other key
 * (a client's UUIDv7 among them) is found through event_keys. */
static void server_keys_name_their_rows(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->u.s;
    assert_int_equal(next_seq(s), 1);
    char key[UUID_LEN + 1], other[UUID_LEN + 1];
    assert_int_equal(store_event_new_key(s, 1700000000100, key, err, sizeof(err)), 0);
    struct store_event e = event_row("shop", key, "u-1");
    insert(s, &e);
    assert_int_equal(next_seq(s), 2);
    assert_int_equal(count_rows(s, "SELECT count(*) FROM event_keys"), 0);
    struct store_event got = get(s, "shop", key);
    assert_same_event(&got, &e);
    store_event_release(&got);
    /* The same key in another app, or another key naming the same seq, is not that event. */
    struct store_event none;
    assert_int_equal(store_event_get(s, "other", key, &none, err, sizeof(err)), STORE_NOT_FOUND);
    assert_int_equal(store_event_new_key(s, 1700000000100, other, err, sizeof(err)), 0);
    assert_int_equal(count_rows(s, "SELECT count(*) FROM events"), 1);
    /* (other names seq 2, not yet inserted) */
    assert_int_equal(store_event_get(s, "shop", other, &none, err, sizeof(err)),
                     STORE_NOT_FOUND);
    /* The secret is kept: the key still names its row after a reopen of the secret. */
    assert_int_equal(count_rows(s, "SELECT count(*) FROM meta WHERE key = 'event_key_secret' "
                                   "AND length(value) = 32"),
                     1);
    /* A UUIDv7 that names another seq is a key like any other: indexed. */
    assert_int_equal(uuid_v7(1700000000100, other), 0);
    struct store_event c = event_row("shop", other, "u-2");
    insert(s, &c);
    assert_int_equal(count_rows(s, "SELECT count(*) FROM event_keys"), 1);
    got = get(s, "shop", other);
    assert_string_equal(got.user_id, "u-2");
    store_event_release(&got);
    assert_int_equal(store_event_insert(s, &c, err, sizeof(err)), STORE_CONFLICT);
    assert_int_equal(count_rows(s, "SELECT max(seq) FROM events"), 2);
    /* A key made for seq 3 whose seq a client's event took first lands on 4: indexed. */
    assert_int_equal(store_event_new_key(s, 1700000000100, key, err, sizeof(err)), 0);
    struct store_event first = event_row("shop", "client-key-3", "u-3");
    insert(s, &first);
    struct store_event late = event_row("shop", key, "u-4");
    insert(s, &late);
    assert_int_equal(count_rows(s, "SELECT count(*) FROM event_keys"), 3);
    got = get(s, "shop", key);
    assert_same_event(&got, &late);
    store_event_release(&got);
}

/* A batch that rolls back gives its seqs back; one that commits keeps them. */
static void rolled_back_batches_give_seqs_back(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->u.s;
    assert_int_equal(store_batch_begin(s, err, sizeof(err)), 0);
    struct store_event a = event_row("shop", "seq-a-0001", "u");
    insert(s, &a);
    assert_int_equal(next_seq(s), 2);
    store_batch_rollback(s);
    assert_int_equal(next_seq(s), 1);
    assert_int_equal(store_batch_begin(s, err, sizeof(err)), 0);
    insert(s, &a);
    assert_int_equal(store_batch_commit(s, err, sizeof(err)), 0);
    assert_int_equal(next_seq(s), 2);
    struct store_event got = get(s, "shop", "seq-a-0001");
    store_event_release(&got);
}

/* A secret made in a batch that rolls back is forgotten with it: a key made with it is any
 * client's key afterwards (indexed), the next key is made with the secret that is kept, and
 * still names its row after a reopen. */
static void a_secret_made_in_a_rolled_back_batch_is_not_used(void **state)
{
    struct fixture *f = *state;
    char key[UUID_LEN + 1], lost[UUID_LEN + 1];
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(store_event_new_key(f->u.s, 1700000000100, lost, err, sizeof(err)), 0);
    store_batch_rollback(f->u.s);
    assert_int_equal(count_rows(f->u.s, "SELECT count(*) FROM meta WHERE key = "
                                        "'event_key_secret'"),
                     0);
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    struct store_event old = event_row("shop", lost, "u-0"); /* it takes the same seq, 1 */
    insert(f->u.s, &old);
    assert_int_equal(count_rows(f->u.s, "SELECT count(*) FROM event_keys"), 1);
    assert_int_equal(store_event_new_key(f->u.s, 1700000000100, key, err, sizeof(err)), 0);
    struct store_event e = event_row("shop", key, "u-1");
    insert(f->u.s, &e);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    store_close(f->u.s);
    f->u.s = unit_store_open(f->u.data_dir);
    assert_non_null(f->u.s);
    struct store_event got = get(f->u.s, "shop", key);
    assert_same_event(&got, &e);
    store_event_release(&got);
    got = get(f->u.s, "shop", lost);
    assert_same_event(&got, &old);
    store_event_release(&got);
    assert_int_equal(count_rows(f->u.s, "SELECT count(*) FROM event_keys"), 1); /* lost */
}

struct replayed {
    char seen[8][32];
    int64_t seqs[8];
    size_t n, stop_at;
};

static int replayed_one(const struct store_event *ev, int64_t seq, void *arg)
{
    struct replayed *r = arg;
    if (r->n == r->stop_at)
        return -1;
    snprintf(r->seen[r->n], sizeof(r->seen[0]), "%s:%s:%s", ev->idempotency_key,
             ev->metadata ? ev->metadata : "-", ev->effects ? ev->effects : "-");
    r->seqs[r->n++] = seq;
    return 0;
}

/* The events a fold that reads the logs back applies again: the processed ones after a seq,
 * in seq order, as stored; a callback that fails stops the scan and fails it. */
static void replay_gives_processed_events_after_a_seq_in_order(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->u.s;
    int64_t first;
    assert_int_equal(store_event_next_seq(s, &first, err, sizeof(err)), 0);
    static const char *const keys[] = { "rp-a", "rp-b", "rp-c", "rp-d" };
    for (int i = 0; i < 4; i++) {
        struct store_event e = event_row("shop", keys[i], "u");
        e.metadata = i == 1 ? (char *)"{\"m\":1}" : NULL;
        e.effects = i == 3 ? (char *)"[1]" : NULL;
        if (i == 2) {
            e.status = STORE_EVENT_FAILED;
            e.error = (char *)"no";
        }
        insert(s, &e);
    }
    struct replayed r = { .stop_at = 8 };
    assert_int_equal(store_game_replay(s, first, replayed_one, &r, err, sizeof(err)), 0);
    assert_int_equal(r.n, 2); /* after rp-a; rp-c failed */
    assert_string_equal(r.seen[0], "rp-b:{\"m\":1}:-");
    assert_int_equal(r.seqs[0], first + 1);
    assert_string_equal(r.seen[1], "rp-d:-:[1]");
    assert_int_equal(r.seqs[1], first + 3);
    struct replayed stop = { .stop_at = 1 };
    assert_int_equal(store_game_replay(s, 0, replayed_one, &stop, err, sizeof(err)), -1);
    assert_int_equal(stop.n, 1);
    /* the scan is left ready for the next */
    struct replayed again = { .stop_at = 8 };
    assert_int_equal(store_game_replay(s, first + 2, replayed_one, &again, err, sizeof(err)), 0);
    assert_int_equal(again.n, 1);
}

/* Retention deletes the oldest events, in seq order, up to the first one young enough, and
 * forgets their keys: a client's key can be used again. */
static void expire_deletes_the_oldest_and_their_keys(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->u.s;
    char keys[6][UUID_LEN + 1];
    for (int i = 0; i < 6; i++) {
        struct store_event e;
        if (i % 2)
            snprintf(keys[i], sizeof(keys[i]), "client-key-%d", i);
        else
            assert_int_equal(store_event_new_key(s, 1000 + i, keys[i], err, sizeof(err)), 0);
        e = event_row("shop", keys[i], "u");
        e.received_at = 1000 + i * 100; /* 1000, 1100, ... 1500 */
        insert(s, &e);
    }
    /* Folded (retention keeps the events after the last fold of the game logs). */
    assert_int_equal(store_ledger_indexed_through(s, 0, err, sizeof(err)), 0);
    int deleted = -1;
    /* Nothing older than the oldest. */
    assert_int_equal(store_events_expire(s, 1000, 10, &deleted, err, sizeof(err)), 0);
    assert_int_equal(deleted, 0);
    /* Before 1350: the first four, but two at a time. */
    assert_int_equal(store_events_expire(s, 1350, 2, &deleted, err, sizeof(err)), 0);
    assert_int_equal(deleted, 2);
    assert_int_equal(store_events_expire(s, 1350, 2, &deleted, err, sizeof(err)), 0);
    assert_int_equal(deleted, 2);
    assert_int_equal(store_events_expire(s, 1350, 2, &deleted, err, sizeof(err)), 0);
    assert_int_equal(deleted, 0);
    struct store_event none;
    for (int i = 0; i < 6; i++) {
        int rc = store_event_get(s, "shop", keys[i], &none, err, sizeof(err));
        if (i < 4) {
            assert_int_equal(rc, STORE_NOT_FOUND);
        } else {
            assert_int_equal(rc, 0);
            store_event_release(&none);
        }
    }
    assert_int_equal(count_rows(s, "SELECT count(*) FROM event_keys"), 1); /* client-key-5 */
    struct store_event again = event_row("shop", "client-key-1", "u-again");
    insert(s, &again);
}

/* Migration 16 carries events of the earlier schema: their keys are indexed, seqs follow the
 * time of receipt, and new events go after them. */
static void migration_carries_old_events(void **state)
{
    (void)state;
    struct unit_store u;
    assert_int_equal(unit_store_make_at(&u, "events-v15", 15), 0);
    create_app(u.s, "shop", "key-1", 1);
    unit_store_exec(
        u.s,
        "INSERT INTO events (app_id, idempotency_key, user_id, event_type, metadata, "
        "occurred_at, received_at, processed_at, status, error, effects) VALUES "
        "('shop', 'late', 'u-2', 't', NULL, 10, 300, 301, 'FAILED', 'why', NULL), "
        "('shop', 'early', 'u-1', 't', '{\"a\":1}', 10, 100, 101, 'PROCESSED', NULL, '[]');");
    assert_int_equal(store_migrate(u.s, NULL, err, sizeof(err)), 0);
    struct store_event got = get(u.s, "shop", "early");
    assert_string_equal(got.user_id, "u-1");
    assert_string_equal(got.metadata, "{\"a\":1}");
    store_event_release(&got);
    got = get(u.s, "shop", "late");
    assert_int_equal(got.status, STORE_EVENT_FAILED);
    assert_string_equal(got.error, "why");
    store_event_release(&got);
    assert_int_equal(count_rows(u.s, "SELECT seq FROM events WHERE idempotency_key = 'early'"),
                     1);
    assert_int_equal(next_seq(u.s), 3);
    struct store_event dup = event_row("shop", "late", "u-3");
    assert_int_equal(store_event_insert(u.s, &dup, err, sizeof(err)), STORE_CONFLICT);
    int deleted = 0;
    assert_int_equal(store_events_expire(u.s, 200, 10, &deleted, err, sizeof(err)), 0);
    assert_int_equal(deleted, 1);
    unit_store_close(&u);
}

static void user_ensure_creates_once(void **state)
{
    struct fixture *f = *state;
    create_app(f->u.s, "shop", K1, 1);
    assert_int_equal(store_user_exists(f->u.s, "shop", "u-1", err, sizeof(err)), STORE_NOT_FOUND);
    bool created = false;
    assert_int_equal(store_user_ensure(f->u.s, "shop", "u-1", 5000, &created, err, sizeof(err)), 0);
    assert_true(created);
    assert_int_equal(store_user_exists(f->u.s, "shop", "u-1", err, sizeof(err)), 0);
    created = true;
    assert_int_equal(store_user_ensure(f->u.s, "shop", "u-1", 9000, &created, err, sizeof(err)), 0);
    assert_false(created);
    struct store_user u;
    assert_int_equal(store_user_get(f->u.s, "shop", "u-1", &u, err, sizeof(err)), 0);
    assert_string_equal(u.attributes, "{}");
    assert_int_equal(u.created_at, 5000);
    assert_int_equal(u.updated_at, 5000); /* ensuring again is not an update */
    store_user_release(&u);
}

/* A user created by POST /users keeps its attributes when an event ensures it. */
static void user_ensure_keeps_existing_user(void **state)
{
    struct fixture *f = *state;
    create_app(f->u.s, "shop", K1, 1);
    struct store_user u;
    bool created = false;
    assert_int_equal(store_user_upsert(f->u.s, "shop", "vip", "{\"level\":3}", 1000, &created, &u,
                                       err, sizeof(err)),
                     0);
    assert_true(created);
    store_user_release(&u);
    assert_int_equal(store_user_ensure(f->u.s, "shop", "vip", 2000, &created, err, sizeof(err)), 0);
    assert_false(created);
    assert_int_equal(store_user_get(f->u.s, "shop", "vip", &u, err, sizeof(err)), 0);
    assert_string_equal(u.attributes, "{\"level\":3}");
    assert_int_equal(u.created_at, 1000);
    assert_int_equal(u.updated_at, 1000);
    store_user_release(&u);
}

static void users_are_per_app(void **state)
{
    struct fixture *f = *state;
    create_app(f->u.s, "shop", K1, 1);
    create_app(f->u.s, "game", K2, 2);
    bool created = false;
    assert_int_equal(store_user_ensure(f->u.s, "shop", "u-1", 1000, &created, err, sizeof(err)), 0);
    assert_true(created);
    assert_int_equal(store_user_exists(f->u.s, "shop", "u-1", err, sizeof(err)), 0);
    assert_int_equal(store_user_exists(f->u.s, "game", "u-1", err, sizeof(err)), STORE_NOT_FOUND);
    assert_int_equal(store_user_exists(f->u.s, "shop", "U-1", err, sizeof(err)), STORE_NOT_FOUND);
    assert_int_equal(store_user_exists(f->u.s, "shop", "u-", err, sizeof(err)), STORE_NOT_FOUND);
    assert_int_equal(store_user_ensure(f->u.s, "game", "u-1", 1000, &created, err, sizeof(err)), 0);
    assert_true(created); /* a different user: same id, other app */
    assert_int_equal(store_user_exists(f->u.s, "game", "u-1", err, sizeof(err)), 0);
}

/* A user created in a rolled-back batch does not exist. */
static void user_ensure_follows_its_batch(void **state)
{
    struct fixture *f = *state;
    create_app(f->u.s, "shop", K1, 1);
    bool created = false;
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(store_user_ensure(f->u.s, "shop", "u-1", 1000, &created, err, sizeof(err)), 0);
    assert_true(created);
    assert_int_equal(store_user_exists(f->u.s, "shop", "u-1", err, sizeof(err)), 0);
    store_batch_rollback(f->u.s);
    assert_int_equal(store_user_exists(f->u.s, "shop", "u-1", err, sizeof(err)), STORE_NOT_FOUND);
    assert_int_equal(store_user_ensure(f->u.s, "shop", "u-1", 2000, &created, err, sizeof(err)), 0);
    assert_true(created);
}

/* Users belong to an app that exists. */
static void user_ensure_for_unknown_app_fails(void **state)
{
    struct fixture *f = *state;
    bool created = false;
    err[0] = '\0';
    assert_true(store_user_ensure(f->u.s, "ghost", "u-1", 1000, &created, err, sizeof(err)) < 0);
    assert_true(err[0] != '\0');
    assert_int_equal(store_user_exists(f->u.s, "ghost", "u-1", err, sizeof(err)), STORE_NOT_FOUND);
}

/* ---- nonces --------------------------------------------------------------------------------- */

static void nonces_each_live_lists_only_unexpired(void **state)
{
    struct fixture *f = *state;
    record(f->u.s, "shop", "n-1", 100);
    record(f->u.s, "shop", "n-2", 200);
    record(f->u.s, "game", "n-1", 150);
    record(f->u.s, "shop", "n-old", 99);
    struct store_nonce abc = { "shop", "abcdef", 3, 300 };
    assert_int_equal(store_nonces_record(f->u.s, &abc, 1, err, sizeof(err)), 0);
    struct nonce_list l = live_nonces(f->u.s, 100);
    assert_int_equal(l.n, 4);
    int i = find_nonce(&l, "shop", "n-1");
    assert_true(i >= 0);
    assert_int_equal(l.expires[i], 100); /* expiring this second: still live */
    assert_int_equal(l.len[i], 3);
    i = find_nonce(&l, "shop", "n-2");
    assert_true(i >= 0);
    assert_int_equal(l.expires[i], 200);
    i = find_nonce(&l, "game", "n-1");
    assert_true(i >= 0);
    assert_int_equal(l.expires[i], 150);
    i = find_nonce(&l, "shop", "abc"); /* only nonce_len bytes were recorded */
    assert_true(i >= 0);
    assert_int_equal(l.len[i], 3);
    assert_int_equal(find_nonce(&l, "shop", "n-old"), -1);

    l = live_nonces(f->u.s, 151);
    assert_int_equal(l.n, 2);
    assert_true(find_nonce(&l, "shop", "n-2") >= 0);
    assert_true(find_nonce(&l, "shop", "abc") >= 0);
    l = live_nonces(f->u.s, 301);
    assert_int_equal(l.n, 0);
}

static void nonces_follow_their_batch(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    record(f->u.s, "shop", "rolled-back", 100);
    store_batch_rollback(f->u.s);
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    record(f->u.s, "shop", "committed", 100);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    struct nonce_list l = live_nonces(f->u.s, 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.nonce[0], "committed");
}

/* A batch's nonces are one row: each comes back with its own app and expiry, whatever bytes
 * it holds; the row is forgotten only when its last nonce expires. */
static void nonces_of_a_batch_are_one_row(void **state)
{
    struct fixture *f = *state;
    const char *odd = "@3:x,1:9:@@"; /* the row's own punctuation, inside a nonce */
    struct store_nonce v[] = {
        { "shop", "s-1", 3, 100 }, { "game", "g-1", 3, 160 }, { "game", odd, strlen(odd), 90 },
        { "shop", "s-2", 3, 120 },
    };
    assert_int_equal(store_nonces_record(f->u.s, v, 4, err, sizeof(err)), 0);
    assert_int_equal(store_nonces_record(f->u.s, v, 0, err, sizeof(err)), 0); /* no row */
    assert_int_equal(count_rows(f->u.s, "SELECT count(*) FROM nonces"), 1);
    struct nonce_list l = live_nonces(f->u.s, 0);
    assert_int_equal(l.n, 4);
    for (size_t k = 0; k < 4; k++) {
        int i = find_nonce(&l, v[k].app_id, v[k].nonce);
        assert_true(i >= 0);
        assert_int_equal(l.expires[i], v[k].expires_s);
        assert_int_equal(l.len[i], v[k].nonce_len);
    }
    l = live_nonces(f->u.s, 120);
    assert_int_equal(l.n, 2);
    assert_true(find_nonce(&l, "shop", "s-2") >= 0);
    assert_true(find_nonce(&l, "game", "g-1") >= 0);
    assert_int_equal(expire(f->u.s, 160, 10), 0); /* g-1 is live until 160 */
    assert_int_equal(expire(f->u.s, 161, 10), 1);
    assert_int_equal(live_nonces(f->u.s, 0).n, 0);
}

/* Rows of earlier versions (one nonce, its app and expiry in their own columns) are read
 * with the new ones. */
static void nonces_rows_of_one_nonce_still_read(void **state)
{
    struct fixture *f = *state;
    unit_store_exec(f->u.s, "INSERT INTO nonces (app_id, nonce, expires_at) VALUES "
                            "('shop', 'old-1', 100), ('game', '@1:x0,1:y', 200)");
    record(f->u.s, "shop", "new-1", 300);
    struct nonce_list l = live_nonces(f->u.s, 150);
    assert_int_equal(l.n, 2);
    int i = find_nonce(&l, "game", "@1:x0,1:y");
    assert_true(i >= 0);
    assert_int_equal(l.expires[i], 200);
    i = find_nonce(&l, "shop", "new-1");
    assert_true(i >= 0);
    assert_int_equal(l.expires[i], 300);
}

/* A damaged row gives the nonces before the fault, and the other rows all theirs. */
static void nonces_damaged_row_stops_at_the_fault(void **state)
{
    struct fixture *f = *state;
    static const char *const rows[] = {
        "0,3:abc",                 /* an entry before any app */
        "@4:shop0,3:ok10,9:short", /* a length past the row's end */
        "@4:shop0,3:ok10;3:xyz",   /* no ',' after the expiry */
        "@4:shop0,3:ok11001,3:xyz", /* back past the expiry itself */
        "@0:0,3:xyz",              /* an empty app id */
        "@4:shop0,3:ok10,0:",      /* an empty nonce */
        "@4:shop0,3:ok1x,3:xyz",   /* not a number */
        "@99999999999999999999:x", /* a number too long */
        "@4:shop0,3:ok1@",         /* an app with no length */
    };
    char sql[200];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(sql, sizeof(sql), "INSERT INTO nonces VALUES ('', '%s', 1000)", rows[i]);
        unit_store_exec(f->u.s, sql);
    }
    record(f->u.s, "game", "after", 500);
    struct nonce_list l = live_nonces(f->u.s, 0);
    assert_int_equal(l.n, 7); /* ok1 of the six rows that have it, and `after` */
    for (size_t i = 0; i < l.n; i++) {
        bool ok1 = strcmp(l.app[i], "shop") == 0 && strcmp(l.nonce[i], "ok1") == 0;
        assert_true(ok1 || (strcmp(l.app[i], "game") == 0 && strcmp(l.nonce[i], "after") == 0));
        if (ok1)
            assert_int_equal(l.expires[i], 1000);
    }
}

/* Expiry deletes only nonces expired before the given second, at most `limit` a call, and
 * says how many it deleted. */
static void nonces_expire_deletes_only_expired(void **state)
{
    struct fixture *f = *state;
    char name[16];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "old-%d", i);
        record(f->u.s, "shop", name, 10 + i);
    }
    record(f->u.s, "shop", "edge", 50);
    record(f->u.s, "shop", "live-1", 100);
    record(f->u.s, "game", "live-2", 101);
    assert_int_equal(expire(f->u.s, 50, 2), 2);
    assert_int_equal(live_nonces(f->u.s, 0).n, 6);
    assert_int_equal(expire(f->u.s, 50, 100), 3);
    assert_int_equal(expire(f->u.s, 50, 100), 0);
    struct nonce_list l = live_nonces(f->u.s, 0);
    assert_int_equal(l.n, 3);
    assert_true(find_nonce(&l, "shop", "edge") >= 0); /* expires at 50: not before 50 */
    assert_true(find_nonce(&l, "shop", "live-1") >= 0);
    assert_true(find_nonce(&l, "game", "live-2") >= 0);
    /* `deleted` may be NULL */
    assert_int_equal(store_nonces_expire(f->u.s, 51, 100, NULL, err, sizeof(err)), 0);
    l = live_nonces(f->u.s, 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(find_nonce(&l, "shop", "edge"), -1);
}

/* Expiry finds the expired rows by their expiry, the earliest first, wherever they are: a
 * live row written before them (a timestamp ahead of the clock) does not hold them back. */
static void nonces_expire_finds_expired_rows_anywhere(void **state)
{
    struct fixture *f = *state;
    record(f->u.s, "shop", "ahead", 1000); /* signed with a timestamp ahead of the clock */
    record(f->u.s, "shop", "old-3", 12);
    record(f->u.s, "shop", "old-1", 10);
    record(f->u.s, "shop", "old-2", 11);
    assert_int_equal(expire(f->u.s, 50, 2), 2);
    struct nonce_list l = live_nonces(f->u.s, 0);
    assert_int_equal(l.n, 2);
    assert_true(find_nonce(&l, "shop", "ahead") >= 0);
    assert_true(find_nonce(&l, "shop", "old-3") >= 0); /* the latest of the three */
    assert_int_equal(expire(f->u.s, 50, 10), 1);
    l = live_nonces(f->u.s, 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.nonce[0], "ahead");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(event_round_trips_every_column, setup, teardown),
    cmocka_unit_test_setup_teardown(event_optional_columns_read_back_null, setup, teardown),
    cmocka_unit_test_setup_teardown(compact_effects_read_back_as_json, setup, teardown),
    cmocka_unit_test_setup_teardown(event_statuses_round_trip, setup, teardown),
    cmocka_unit_test_setup_teardown(event_duplicate_key_conflicts, setup, teardown),
    cmocka_unit_test_setup_teardown(event_keys_are_per_app, setup, teardown),
    cmocka_unit_test_setup_teardown(event_rows_follow_their_batch, setup, teardown),
    cmocka_unit_test_setup_teardown(event_survives_reopen, setup, teardown),
    cmocka_unit_test_setup_teardown(server_keys_name_their_rows, setup, teardown),
    cmocka_unit_test_setup_teardown(rolled_back_batches_give_seqs_back, setup, teardown),
    cmocka_unit_test_setup_teardown(a_secret_made_in_a_rolled_back_batch_is_not_used, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(expire_deletes_the_oldest_and_their_keys, setup, teardown),
    cmocka_unit_test_setup_teardown(replay_gives_processed_events_after_a_seq_in_order, setup,
                                    teardown),
    cmocka_unit_test(migration_carries_old_events),
    cmocka_unit_test_setup_teardown(user_ensure_creates_once, setup, teardown),
    cmocka_unit_test_setup_teardown(user_ensure_keeps_existing_user, setup, teardown),
    cmocka_unit_test_setup_teardown(users_are_per_app, setup, teardown),
    cmocka_unit_test_setup_teardown(user_ensure_follows_its_batch, setup, teardown),
    cmocka_unit_test_setup_teardown(user_ensure_for_unknown_app_fails, setup, teardown),
    cmocka_unit_test_setup_teardown(nonces_each_live_lists_only_unexpired, setup, teardown),
    cmocka_unit_test_setup_teardown(nonces_follow_their_batch, setup, teardown),
    cmocka_unit_test_setup_teardown(nonces_of_a_batch_are_one_row, setup, teardown),
    cmocka_unit_test_setup_teardown(nonces_rows_of_one_nonce_still_read, setup, teardown),
    cmocka_unit_test_setup_teardown(nonces_damaged_row_stops_at_the_fault, setup, teardown),
    cmocka_unit_test_setup_teardown(nonces_expire_deletes_only_expired, setup, teardown),
    cmocka_unit_test_setup_teardown(nonces_expire_finds_expired_rows_anywhere, setup, teardown),
};

UNIT_MAIN(tests)
