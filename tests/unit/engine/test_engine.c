/* Unit tests for src/engine/engine.c: the pure step, and the engine applying events and
 * claiming nonces against a real SQLite store in a temporary directory, batch by batch as the
 * engine thread does. What users see: each event applied exactly once, a repeated client key
 * answered with the original, a rolled-back batch leaving neither rows nor memory behind, and
 * replays refused across a restart. */
#include "unit.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fxpack.h"
#include "core/log.h"
#include "engine/engine.h"
#include "engine/game.h"
#include "store/sqlite_int.h" /* the connection, to make an insert fail */
#include "store/store.h"
#include "tenant/registry.h"

#define NOW_MS         1700000000000LL
#define NOW_S          (NOW_MS / 1000)
#define NO_AUTO_CREATE "User not found (the app does not create users from events)"

struct fixture {
    struct unit_store u;
    struct tenant_registry *tenants;
    struct engine *e;
};

static char err[256];


/* Creates the app in the store and puts it in the registry, as POST /apps does. */
static int add_app(struct fixture *f, const char *id, const char *settings, const char *key_id,
                   unsigned char fill)
{
    struct store_app a;
    memset(&a, 0, sizeof(a));
    a.id = (char *)id;
    a.name = (char *)id;
    a.settings = (char *)settings;
    a.default_timezone = (char *)"UTC";
    a.webhook_secret = (char *)"supersecret123";
    a.created_at = a.updated_at = NOW_MS - 100000;
    struct store_key k;
    memset(&k, 0, sizeof(k));
    k.id = (char *)key_id;
    k.app_id = (char *)id;
    k.name = (char *)"bootstrap";
    k.role = STORE_ROLE_ADMIN;
    memset(k.hash, fill, sizeof(k.hash));
    k.created_at = a.created_at;
    if (store_app_create(f->u.s, &a, &k, err, sizeof(err)) != 0) {
        fprintf(stderr, "store_app_create(%s): %s\n", id, err);
        return -1;
    }
    tenant_app_put(f->tenants, &a);
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (unit_store_make(&f->u, "engine") < 0)
        return -1;
    f->tenants = tenant_registry_new(100, 60);
    if (add_app(f, "shop", "{}", "11111111-1111-4111-8111-111111111111", 1) < 0 ||
        add_app(f, "game", "{\"autoCreateUsers\":true}", "22222222-2222-4222-8222-222222222222",
                2) < 0 ||
        add_app(f, "strict", "{\"autoCreateUsers\":false}", "33333333-3333-4333-8333-333333333333",
                3) < 0)
        return -1;
    f->e = engine_new(f->tenants);
    if (engine_load(f->e, f->u.s, NOW_MS, err, sizeof(err)) < 0) {
        fprintf(stderr, "engine_load: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    engine_free(f->e);
    tenant_registry_free(f->tenants);
    unit_store_close(&f->u);
    free(f);
    return 0;
}

/* ---- helpers -------------------------------------------------------------------------------- */

/* An event as event_parse and the API leave it: owned strings, and a key always assigned
 * (`given` says whether the client chose it). */
static struct event make_event(const char *user, const char *type, const char *key, bool given)
{
    struct event ev;
    memset(&ev, 0, sizeof(ev));
    ev.user_id = strdup(user);
    ev.type = strdup(type);
    ev.key = strdup(key);
    ev.key_given = given;
    ev.occurred_at = NOW_MS - 5000;
    ev.received_at = NOW_MS - 10;
    return ev;
}

static void release_events(struct event *evs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        event_release(&evs[i]);
}

static void release_outcomes(struct engine_outcome *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        engine_outcome_release(&out[i]);
}

static void begin(struct fixture *f)
{
    if (store_batch_begin(f->u.s, err, sizeof(err)) != 0)
        fail_msg("store_batch_begin: %s", err);
}

static void commit(struct fixture *f)
{
    /* As the engine thread's batch end does: users' state, then the commit. */
    if (engine_flush(f->e, f->u.s, NOW_MS, err, sizeof(err)) != 0)
        fail_msg("engine_flush: %s", err);
    if (store_batch_commit(f->u.s, err, sizeof(err)) != 0)
        fail_msg("store_batch_commit: %s", err);
    engine_batch_end(f->e, true, 1000);
}

static void rollback(struct fixture *f)
{
    store_batch_rollback(f->u.s);
    engine_batch_end(f->e, false, 0);
}

static void apply(struct fixture *f, const char *app, struct event *evs, size_t n,
                  struct engine_outcome *out, int64_t now_ms)
{
    int rc = engine_apply(f->e, f->u.s, app, evs, n, out, now_ms, err, sizeof(err));
    if (rc != 0)
        fail_msg("engine_apply: %d %s", rc, err);
}

/* One committed batch of n events. */
static void apply_batch(struct fixture *f, const char *app, struct event *evs, size_t n,
                        struct engine_outcome *out, int64_t now_ms)
{
    begin(f);
    apply(f, app, evs, n, out, now_ms);
    commit(f);
}

static int claim(struct fixture *f, const char *app, const char *nonce, int64_t expires_s,
                 int64_t now_s)
{
    return engine_claim_nonce(f->e, app, nonce, strlen(nonce), expires_s, now_s);
}

static bool user_exists(struct fixture *f, const char *app, const char *user)
{
    int rc = store_user_exists(f->u.s, app, user, err, sizeof(err));
    if (rc != 0 && rc != STORE_NOT_FOUND)
        fail_msg("store_user_exists: %d %s", rc, err);
    return rc == 0;
}

static bool event_exists(struct fixture *f, const char *app, const char *key)
{
    struct store_event got;
    int rc = store_event_get(f->u.s, app, key, &got, err, sizeof(err));
    if (rc == 0)
        store_event_release(&got);
    else if (rc != STORE_NOT_FOUND)
        fail_msg("store_event_get: %d %s", rc, err);
    return rc == 0;
}

/* A metric's value from the engine's collector: the line that starts with `series `. */
static uint64_t metric(struct engine *e, const char *series)
{
    struct buf out = BUF_INIT;
    engine_collect_metrics(&out, e);
    size_t sl = strlen(series);
    uint64_t v = UINT64_MAX;
    for (const char *line = out.data; line && *line;) {
        if (strncmp(line, series, sl) == 0 && line[sl] == ' ') {
            v = strtoull(line + sl + 1, NULL, 10);
            break;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    buf_release(&out);
    if (v == UINT64_MAX)
        fail_msg("no metric %s", series);
    return v;
}

#define PROCESSED     "reactor_events_processed_total{status=\"processed\"}"
#define FAILED        "reactor_events_processed_total{status=\"failed\"}"
#define DUPLICATE     "reactor_events_duplicate_total"
#define USERS_CREATED "reactor_users_created_by_events_total"

/* ---- the pure step -------------------------------------------------------------------------- */

static void step_known_user_is_processed(void **state)
{
    (void)state;
    struct event ev = make_event("u-1", "level_up", "key-0001", true);
    struct engine_step_result r = {
        .status = STORE_EVENT_FAILED, .error = "old", .create_user = true, .effects = BUF_INIT};
    buf_puts(&r.effects, "[{\"stale\":true}]");
    for (int auto_create = 0; auto_create < 2; auto_create++) {
        struct engine_view view = {.user_exists = true, .auto_create_users = auto_create};
        engine_step(&view, &ev, &r);
        assert_int_equal(r.status, STORE_EVENT_PROCESSED);
        assert_null(r.error);
        assert_false(r.create_user);
        assert_int_equal(r.effects.len, 0); /* no rules yet: no effects, nothing left over */
    }
    buf_release(&r.effects);
    event_release(&ev);
}

static void step_unknown_user_is_created_when_allowed(void **state)
{
    (void)state;
    struct event ev = make_event("new-user", "level_up", "key-0001", true);
    struct engine_step_result r = {.effects = BUF_INIT};
    struct engine_view view = {.user_exists = false, .auto_create_users = true};
    engine_step(&view, &ev, &r);
    assert_int_equal(r.status, STORE_EVENT_PROCESSED);
    assert_null(r.error);
    assert_true(r.create_user);
    assert_int_equal(r.effects.len, 0);
    buf_release(&r.effects);
    event_release(&ev);
}

static void step_unknown_user_fails_without_auto_create(void **state)
{
    (void)state;
    struct event ev = make_event("new-user", "level_up", "key-0001", true);
    struct engine_step_result r = {.create_user = true, .effects = BUF_INIT};
    struct engine_view view = {.user_exists = false, .auto_create_users = false};
    engine_step(&view, &ev, &r);
    assert_int_equal(r.status, STORE_EVENT_FAILED);
    assert_non_null(r.error);
    assert_string_equal(r.error, NO_AUTO_CREATE);
    assert_false(r.create_user);
    assert_int_equal(r.effects.len, 0);
    /* pure: the same inputs, the same answer */
    struct engine_step_result r2 = {.effects = BUF_INIT};
    engine_step(&view, &ev, &r2);
    assert_int_equal(r2.status, r.status);
    assert_string_equal(r2.error, r.error);
    buf_release(&r2.effects);
    buf_release(&r.effects);
    event_release(&ev);
}

/* ---- applying events ------------------------------------------------------------------------ */

static void events_are_written_processed(void **state)
{
    struct fixture *f = *state;
    struct event evs[2] = {
        make_event("u-1", "level_up", "client-key-1", true),
        make_event("u-2", "purchase", "0190a000-0000-7000-8000-000000000001", false)};
    evs[0].metadata = strdup("{\"level\":2}");
    struct engine_outcome out[2];
    apply_batch(f, "shop", evs, 2, out, NOW_MS);
    for (int i = 0; i < 2; i++) {
        assert_false(out[i].duplicate);
        assert_int_equal(out[i].stored.status, STORE_EVENT_PROCESSED);
        assert_null(out[i].stored.error);
        assert_string_equal(out[i].stored.app_id, "shop");
        assert_string_equal(out[i].stored.idempotency_key, evs[i].key);
        assert_string_equal(out[i].stored.user_id, evs[i].user_id);
        assert_string_equal(out[i].stored.event_type, evs[i].type);
        assert_int_equal(out[i].stored.occurred_at, NOW_MS - 5000);
        assert_int_equal(out[i].stored.received_at, NOW_MS - 10);
        assert_int_equal(out[i].stored.processed_at, NOW_MS);
    }
    assert_string_equal(out[0].stored.metadata, "{\"level\":2}");
    assert_null(out[1].stored.metadata);

    struct store_event got;
    assert_int_equal(store_event_get(f->u.s, "shop", "client-key-1", &got, err, sizeof(err)), 0);
    assert_int_equal(got.status, STORE_EVENT_PROCESSED);
    assert_string_equal(got.user_id, "u-1");
    assert_string_equal(got.event_type, "level_up");
    assert_string_equal(got.metadata, "{\"level\":2}");
    assert_int_equal(got.occurred_at, NOW_MS - 5000);
    assert_int_equal(got.received_at, NOW_MS - 10);
    assert_int_equal(got.processed_at, NOW_MS);
    assert_null(got.error);
    store_event_release(&got);
    assert_int_equal(store_event_get(f->u.s, "shop", evs[1].key, &got, err, sizeof(err)), 0);
    assert_int_equal(got.status, STORE_EVENT_PROCESSED);
    assert_string_equal(got.user_id, "u-2");
    store_event_release(&got);
    /* the event is the app's own */
    assert_false(event_exists(f, "game", "client-key-1"));
    release_outcomes(out, 2);
    release_events(evs, 2);
    assert_int_equal(metric(f->e, PROCESSED), 2);
}

/* A client key sent twice in one batch: the second is answered with the first, applied once. */
static void client_key_twice_in_one_batch(void **state)
{
    struct fixture *f = *state;
    struct event evs[3] = {make_event("u-1", "level_up", "repeat-key-1", true),
                           make_event("u-2", "other_type", "repeat-key-1", true),
                           make_event("u-3", "level_up", "another-key-1", true)};
    struct engine_outcome out[3];
    apply_batch(f, "shop", evs, 3, out, NOW_MS);
    assert_false(out[0].duplicate);
    assert_true(out[1].duplicate);
    assert_false(out[2].duplicate);
    assert_string_equal(out[1].stored.user_id, "u-1"); /* the original */
    assert_string_equal(out[1].stored.event_type, "level_up");
    assert_string_equal(out[1].stored.idempotency_key, "repeat-key-1");
    assert_int_equal(out[1].stored.status, STORE_EVENT_PROCESSED);
    assert_int_equal(out[1].stored.processed_at, NOW_MS);
    release_outcomes(out, 3);
    release_events(evs, 3);

    struct store_event got;
    assert_int_equal(store_event_get(f->u.s, "shop", "repeat-key-1", &got, err, sizeof(err)), 0);
    assert_string_equal(got.user_id, "u-1");
    store_event_release(&got);
    /* the duplicate was not applied: its user was not created */
    assert_true(user_exists(f, "shop", "u-1"));
    assert_false(user_exists(f, "shop", "u-2"));
    assert_true(user_exists(f, "shop", "u-3"));
    assert_int_equal(metric(f->e, PROCESSED), 2);
    assert_int_equal(metric(f->e, DUPLICATE), 1);
}

static void client_key_repeated_in_a_later_batch(void **state)
{
    struct fixture *f = *state;
    struct event first = make_event("u-1", "level_up", "later-key-1", true);
    struct engine_outcome out;
    apply_batch(f, "shop", &first, 1, &out, NOW_MS);
    assert_false(out.duplicate);
    engine_outcome_release(&out);

    struct event again = make_event("u-9", "changed", "later-key-1", true);
    again.metadata = strdup("{\"x\":1}");
    apply_batch(f, "shop", &again, 1, &out, NOW_MS + 60000);
    assert_true(out.duplicate);
    assert_string_equal(out.stored.user_id, "u-1");
    assert_string_equal(out.stored.event_type, "level_up");
    assert_null(out.stored.metadata);
    assert_int_equal(out.stored.processed_at, NOW_MS); /* when it was first applied */
    engine_outcome_release(&out);
    assert_false(user_exists(f, "shop", "u-9"));

    /* the same key in another app is another event */
    struct event other = make_event("u-1", "level_up", "later-key-1", true);
    apply_batch(f, "game", &other, 1, &out, NOW_MS);
    assert_false(out.duplicate);
    engine_outcome_release(&out);
    event_release(&other);
    event_release(&again);
    event_release(&first);
}

static void unknown_user_fails_without_auto_create(void **state)
{
    struct fixture *f = *state;
    struct event ev = make_event("stranger", "level_up", "strict-key-1", true);
    struct engine_outcome out;
    apply_batch(f, "strict", &ev, 1, &out, NOW_MS);
    assert_false(out.duplicate);
    assert_int_equal(out.stored.status, STORE_EVENT_FAILED);
    assert_string_equal(out.stored.error, NO_AUTO_CREATE);
    engine_outcome_release(&out);
    event_release(&ev);

    struct store_event got;
    assert_int_equal(store_event_get(f->u.s, "strict", "strict-key-1", &got, err, sizeof(err)), 0);
    assert_int_equal(got.status, STORE_EVENT_FAILED);
    assert_string_equal(got.error, NO_AUTO_CREATE);
    assert_int_equal(got.processed_at, NOW_MS);
    store_event_release(&got);
    assert_false(user_exists(f, "strict", "stranger"));
    assert_int_equal(metric(f->e, FAILED), 1);
    assert_int_equal(metric(f->e, PROCESSED), 0);

    /* once the user is created through the API, its events are processed */
    struct store_user u;
    bool created;
    assert_int_equal(
        store_user_upsert(f->u.s, "strict", "stranger", NULL, NOW_MS, &created, &u, err, sizeof(err)),
        0);
    store_user_release(&u);
    ev = make_event("stranger", "level_up", "strict-key-2", true);
    apply_batch(f, "strict", &ev, 1, &out, NOW_MS);
    assert_int_equal(out.stored.status, STORE_EVENT_PROCESSED);
    assert_null(out.stored.error);
    engine_outcome_release(&out);
    event_release(&ev);
}

/* The first event of a new user creates it, once. */
static void unknown_user_is_created(void **state)
{
    struct fixture *f = *state;
    assert_false(user_exists(f, "shop", "newbie"));
    struct event evs[2] = {make_event("newbie", "signup", "create-key-1", true),
                           make_event("newbie", "level_up", "create-key-2", true)};
    struct engine_outcome out[2];
    apply_batch(f, "shop", evs, 2, out, NOW_MS);
    assert_int_equal(out[0].stored.status, STORE_EVENT_PROCESSED);
    assert_int_equal(out[1].stored.status, STORE_EVENT_PROCESSED);
    release_outcomes(out, 2);
    release_events(evs, 2);
    assert_true(user_exists(f, "shop", "newbie"));
    assert_false(user_exists(f, "game", "newbie"));
    struct store_user u;
    assert_int_equal(store_user_get(f->u.s, "shop", "newbie", &u, err, sizeof(err)), 0);
    assert_string_equal(u.attributes, "{}");
    assert_int_equal(u.created_at, NOW_MS);
    store_user_release(&u);

    struct event later = make_event("newbie", "level_up", "create-key-3", true);
    struct engine_outcome o;
    apply_batch(f, "shop", &later, 1, &o, NOW_MS + 1000);
    assert_int_equal(o.stored.status, STORE_EVENT_PROCESSED);
    engine_outcome_release(&o);
    event_release(&later);
    assert_int_equal(metric(f->e, USERS_CREATED), 1);
    assert_int_equal(metric(f->e, PROCESSED), 3);
    assert_int_equal(metric(f->e, "reactor_engine_known_users"), 1);
}

/* A batch that does not commit: its event and user rows are gone, and the engine forgets the
 * users and nonces it learned, so the retry of the same request goes through in full. */
static void rolled_back_batch_is_forgotten(void **state)
{
    struct fixture *f = *state;
    begin(f);
    assert_int_equal(claim(f, "shop", "nonce-rb", NOW_S + 300, NOW_S), 0);
    struct event ev = make_event("rb-user", "level_up", "rb-key-0001", true);
    struct engine_outcome out;
    apply(f, "shop", &ev, 1, &out, NOW_MS);
    assert_false(out.duplicate);
    engine_outcome_release(&out);
    rollback(f);
    assert_false(event_exists(f, "shop", "rb-key-0001"));
    assert_false(user_exists(f, "shop", "rb-user"));
    assert_int_equal(metric(f->e, "reactor_engine_known_users"), 0);

    /* the retry */
    begin(f);
    assert_int_equal(claim(f, "shop", "nonce-rb", NOW_S + 300, NOW_S), 0);
    apply(f, "shop", &ev, 1, &out, NOW_MS + 1);
    assert_false(out.duplicate);
    assert_int_equal(out.stored.status, STORE_EVENT_PROCESSED);
    engine_outcome_release(&out);
    commit(f);
    assert_true(event_exists(f, "shop", "rb-key-0001"));
    assert_true(user_exists(f, "shop", "rb-user")); /* created again, not remembered */
    assert_int_equal(claim(f, "shop", "nonce-rb", NOW_S + 300, NOW_S + 1), STORE_CONFLICT);
    event_release(&ev);
}

/* A store failure in the middle of engine_apply: -1 with a message, every outcome released
 * (ASan checks), and after the rollback nothing of the batch remains. */
static void store_failure_fails_the_whole_batch(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(sqlite3_exec(f->u.s->db,
                                  "CREATE TEMP TRIGGER boom BEFORE INSERT ON main.events "
                                  "WHEN NEW.user_id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); "
                                  "END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    struct event evs[3] = {make_event("fine-1", "t", "fail-key-01", true),
                           make_event("boom", "t", "fail-key-02", true),
                           make_event("fine-2", "t", "fail-key-03", true)};
    struct engine_outcome out[3];
    memset(out, 0x5a, sizeof(out));
    begin(f);
    err[0] = '\0';
    assert_int_equal(engine_apply(f->e, f->u.s, "shop", evs, 3, out, NOW_MS, err, sizeof(err)), -1);
    assert_true(err[0] != '\0');
    for (int i = 0; i < 3; i++) {
        assert_false(out[i].duplicate);
        assert_null(out[i].stored.app_id);
        assert_null(out[i].stored.effects);
    }
    rollback(f);
    assert_false(event_exists(f, "shop", "fail-key-01"));
    assert_false(user_exists(f, "shop", "fine-1"));
    assert_false(user_exists(f, "shop", "boom"));

    assert_int_equal(sqlite3_exec(f->u.s->db, "DROP TRIGGER temp.boom", NULL, NULL, NULL), SQLITE_OK);
    apply_batch(f, "shop", evs, 3, out, NOW_MS);
    for (int i = 0; i < 3; i++) {
        assert_false(out[i].duplicate);
        assert_int_equal(out[i].stored.status, STORE_EVENT_PROCESSED);
    }
    release_outcomes(out, 3);
    release_events(evs, 3);
    assert_true(user_exists(f, "shop", "fine-1"));
    assert_true(user_exists(f, "shop", "boom"));
}

static void unknown_app_is_refused(void **state)
{
    struct fixture *f = *state;
    struct event ev = make_event("u", "t", "ghost-key-1", true);
    struct engine_outcome out;
    memset(&out, 0x5a, sizeof(out));
    begin(f);
    err[0] = '\0';
    assert_int_equal(engine_apply(f->e, f->u.s, "ghost", &ev, 1, &out, NOW_MS, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "ghost"));
    assert_false(out.duplicate);
    assert_null(out.stored.app_id);
    rollback(f);
    assert_false(event_exists(f, "ghost", "ghost-key-1"));
    event_release(&ev);
}

/* An event without a key of its own gets the server's, made for its row, whatever it held:
 * one a client already used as its own is not a duplicate, and the client's event stays. */
static void an_event_without_a_key_gets_the_one_naming_its_row(void **state)
{
    struct fixture *f = *state;
    const char *key = "0190a000-0000-7000-8000-00000000abcd";
    struct event mine = make_event("u-1", "level_up", key, true);
    struct engine_outcome out;
    apply_batch(f, "shop", &mine, 1, &out, NOW_MS);
    engine_outcome_release(&out);

    struct event server = make_event("u-2", "purchase", key, false);
    apply_batch(f, "shop", &server, 1, &out, NOW_MS);
    assert_false(out.duplicate);
    assert_string_not_equal(out.stored.idempotency_key, key);
    assert_int_equal(strlen(out.stored.idempotency_key), 36);
    assert_string_equal(out.stored.idempotency_key, server.key); /* the event knows its key */
    assert_string_equal(out.stored.user_id, "u-2");
    struct store_event got;
    assert_int_equal(store_event_get(f->u.s, "shop", server.key, &got, err, sizeof(err)), 0);
    assert_string_equal(got.user_id, "u-2");
    store_event_release(&got);
    assert_int_equal(store_event_get(f->u.s, "shop", key, &got, err, sizeof(err)), 0);
    assert_string_equal(got.user_id, "u-1"); /* the client's event is untouched */
    store_event_release(&got);
    engine_outcome_release(&out);
    event_release(&server);
    event_release(&mine);
}

/* ---- nonces --------------------------------------------------------------------------------- */

static void nonce_replay_is_a_conflict(void **state)
{
    struct fixture *f = *state;
    begin(f);
    assert_int_equal(claim(f, "shop", "n-1", NOW_S + 300, NOW_S), 0);
    assert_int_equal(claim(f, "shop", "n-1", NOW_S + 300, NOW_S), STORE_CONFLICT);
    assert_int_equal(claim(f, "game", "n-1", NOW_S + 300, NOW_S), 0);
    commit(f);
    begin(f);
    assert_int_equal(claim(f, "shop", "n-1", NOW_S + 301, NOW_S + 1), STORE_CONFLICT);
    assert_int_equal(claim(f, "shop", "n-1", NOW_S + 600, NOW_S + 300), STORE_CONFLICT);
    assert_int_equal(claim(f, "shop", "n-2", NOW_S + 301, NOW_S + 1), 0);
    /* after its window the nonce is free again (the timestamp check refuses old requests) */
    assert_int_equal(claim(f, "shop", "n-1", NOW_S + 601, NOW_S + 301), 0);
    commit(f);
    assert_int_equal(metric(f->e, "reactor_engine_nonces"), 3);
}

static int64_t nonce_rows(struct fixture *f)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->u.s->db, "SELECT count(*) FROM nonces", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void count_nonce(const char *app_id, const char *nonce, size_t len, int64_t expires,
                        void *arg)
{
    (void)app_id;
    (void)nonce;
    (void)len;
    (void)expires;
    ++*(int *)arg;
}

/* A batch's claims reach the store as one row, at engine_flush; a second flush in the same
 * batch writes only the claims made since, and a batch without claims writes none. */
static void claims_are_one_row_a_batch(void **state)
{
    struct fixture *f = *state;
    begin(f);
    assert_int_equal(claim(f, "shop", "one-1", NOW_S + 300, NOW_S), 0);
    assert_int_equal(claim(f, "game", "one-2", NOW_S + 300, NOW_S), 0);
    assert_int_equal(claim(f, "shop", "one-1", NOW_S + 300, NOW_S), STORE_CONFLICT);
    assert_int_equal(engine_flush(f->e, f->u.s, NOW_MS, err, sizeof(err)), 0);
    assert_int_equal(nonce_rows(f), 1);
    assert_int_equal(claim(f, "shop", "one-3", NOW_S + 301, NOW_S), 0);
    commit(f);
    assert_int_equal(nonce_rows(f), 2);
    begin(f);
    commit(f);
    assert_int_equal(nonce_rows(f), 2);
    begin(f);
    assert_int_equal(claim(f, "shop", "one-4", NOW_S + 302, NOW_S), 0);
    commit(f);
    assert_int_equal(nonce_rows(f), 3);
    int listed = 0; /* each once */
    assert_int_equal(store_nonces_each_live(f->u.s, NOW_S, count_nonce, &listed, err,
                                            sizeof(err)), 0);
    assert_int_equal(listed, 4);

    engine_free(f->e);
    f->e = engine_new(f->tenants);
    assert_int_equal(engine_load(f->e, f->u.s, NOW_MS, err, sizeof(err)), 0);
    assert_int_equal(metric(f->e, "reactor_engine_nonces"), 4);
    begin(f);
    assert_int_equal(claim(f, "game", "one-2", NOW_S + 310, NOW_S + 10), STORE_CONFLICT);
    assert_int_equal(claim(f, "shop", "one-3", NOW_S + 310, NOW_S + 10), STORE_CONFLICT);
    assert_int_equal(claim(f, "game", "one-3", NOW_S + 310, NOW_S + 10), 0);
    rollback(f);
}

/* A restart (a new engine on the store, reopened) refuses the nonces committed before, and
 * only those still live. */
static void load_rebuilds_nonces_after_restart(void **state)
{
    struct fixture *f = *state;
    begin(f);
    assert_int_equal(claim(f, "shop", "live-1", NOW_S + 300, NOW_S), 0);
    assert_int_equal(claim(f, "game", "live-1", NOW_S + 300, NOW_S), 0);
    assert_int_equal(claim(f, "shop", "short-1", NOW_S + 10, NOW_S), 0);
    commit(f);
    begin(f);
    assert_int_equal(claim(f, "shop", "rolled-1", NOW_S + 300, NOW_S), 0);
    rollback(f);

    engine_free(f->e);
    store_close(f->u.s);
    f->u.s = unit_store_open(f->u.data_dir);
    assert_non_null(f->u.s);
    f->e = engine_new(f->tenants);
    int64_t later = NOW_MS + 20000; /* short-1 has expired */
    assert_int_equal(engine_load(f->e, f->u.s, later, err, sizeof(err)), 0);
    assert_int_equal(metric(f->e, "reactor_engine_nonces"), 2);
    begin(f);
    assert_int_equal(claim(f, "shop", "live-1", NOW_S + 320, later / 1000), STORE_CONFLICT);
    assert_int_equal(claim(f, "game", "live-1", NOW_S + 320, later / 1000), STORE_CONFLICT);
    assert_int_equal(claim(f, "strict", "live-1", NOW_S + 320, later / 1000), 0);
    assert_int_equal(claim(f, "shop", "short-1", NOW_S + 320, later / 1000), 0);
    assert_int_equal(claim(f, "shop", "rolled-1", NOW_S + 320, later / 1000), 0);
    commit(f);
}

/* ---- partitions, publishing, metrics -------------------------------------------------------- */

static void partition_is_in_range_and_stable(void **state)
{
    (void)state;
    assert_int_equal(engine_partition("shop", "u-1", 0), 0);
    assert_int_equal(engine_partition("shop", "u-1", 1), 0);
    static const unsigned counts[] = {2, 3, 7, 16};
    char user[32];
    for (size_t c = 0; c < 4; c++) {
        unsigned parts = counts[c];
        unsigned hits[16] = {0};
        for (int i = 0; i < 2000; i++) {
            snprintf(user, sizeof(user), "user-%d", i);
            unsigned p = engine_partition("shop", user, parts);
            assert_true(p < parts);
            assert_int_equal(engine_partition("shop", user, parts), p);
            hits[p]++;
        }
        /* every partition gets a fair share of 2,000 users */
        for (unsigned p = 0; p < parts; p++)
            if (hits[p] < 2000 / parts / 2)
                fail_msg("%u partitions: partition %u got %u users", parts, p, hits[p]);
    }
}

struct published {
    int n;
    char app[16];
    char key[64];
};

static void on_publish(void *arg, const char *app_id, const struct store_event *ev)
{
    struct published *p = arg;
    p->n++;
    snprintf(p->app, sizeof(p->app), "%s", app_id);
    snprintf(p->key, sizeof(p->key), "%s", ev->idempotency_key);
}

static void publish_calls_the_hook(void **state)
{
    struct fixture *f = *state;
    struct event ev = make_event("u-1", "level_up", "pub-key-01", true);
    struct engine_outcome out;
    struct store_event none;
    memset(&none, 0, sizeof(none));
    engine_publish(f->e, "shop", &none); /* no hook yet: nothing happens */
    struct published p = {0};
    engine_on_publish(f->e, on_publish, &p);
    apply_batch(f, "shop", &ev, 1, &out, NOW_MS);
    engine_publish(f->e, "shop", &out.stored);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.app, "shop");
    assert_string_equal(p.key, "pub-key-01");
    engine_outcome_release(&out);
    event_release(&ev);
}

/* Batch metrics: a rolled-back batch with events counts as failed, not as a committed batch. */
static void metrics_count_batches(void **state)
{
    struct fixture *f = *state;
    struct event ev = make_event("m-user", "level_up", "metric-key-1", true);
    struct engine_outcome out;
    begin(f);
    apply(f, "shop", &ev, 1, &out, NOW_MS);
    engine_outcome_release(&out);
    rollback(f);
    assert_int_equal(metric(f->e, "reactor_engine_batches_failed_total"), 1);
    assert_int_equal(metric(f->e, "reactor_engine_batch_events_count"), 0);
    assert_int_equal(metric(f->e, "reactor_engine_batch_events_sum"), 0);

    struct event evs[2] = {make_event("m-user", "level_up", "metric-key-2", true),
                           make_event("m-user", "level_up", "metric-key-3", true)};
    struct engine_outcome outs[2];
    apply_batch(f, "shop", evs, 2, outs, NOW_MS);
    release_outcomes(outs, 2);
    release_events(evs, 2);
    assert_int_equal(metric(f->e, "reactor_engine_batches_failed_total"), 1);
    assert_int_equal(metric(f->e, "reactor_engine_batch_events_count"), 1);
    assert_int_equal(metric(f->e, "reactor_engine_batch_events_sum"), 2);
    assert_int_equal(metric(f->e, "reactor_engine_batch_events_bucket{le=\"1\"}"), 0);
    assert_int_equal(metric(f->e, "reactor_engine_batch_events_bucket{le=\"2\"}"), 1);
    /* a batch with only nonces or API work is not an event batch */
    begin(f);
    assert_int_equal(claim(f, "shop", "metric-nonce", NOW_S + 300, NOW_S), 0);
    commit(f);
    assert_int_equal(metric(f->e, "reactor_engine_batch_events_count"), 1);
    event_release(&ev);
}

/* Event counters move only when their batch commits: a retry after a 503 counts once. */
static void metrics_count_only_committed_events(void **state)
{
    struct fixture *f = *state;
    struct event ev = make_event("m-user", "level_up", "metric-key-1", true);
    struct engine_outcome out;
    begin(f);
    apply(f, "shop", &ev, 1, &out, NOW_MS);
    engine_outcome_release(&out);
    rollback(f);
    assert_int_equal(metric(f->e, PROCESSED), 0);
    assert_int_equal(metric(f->e, USERS_CREATED), 0);
    apply_batch(f, "shop", &ev, 1, &out, NOW_MS); /* the retry */
    engine_outcome_release(&out);
    assert_int_equal(metric(f->e, PROCESSED), 1);
    assert_int_equal(metric(f->e, USERS_CREATED), 1);
    event_release(&ev);
}

/* Past its limit the user table is emptied after a batch; users still exist in the store, so
 * their next events are processed without creating them again. */
static void user_table_is_bounded(void **state)
{
    struct fixture *f = *state;
    engine_set_user_cache_limit(f->e, 3);
    struct event evs[4] = {make_event("u1", "t", "bound-key-1", true),
                           make_event("u2", "t", "bound-key-2", true),
                           make_event("u3", "t", "bound-key-3", true),
                           make_event("u4", "t", "bound-key-4", true)};
    struct engine_outcome outs[4];
    apply_batch(f, "shop", evs, 4, outs, NOW_MS);
    release_outcomes(outs, 4);
    assert_int_equal(metric(f->e, USERS_CREATED), 4);
    assert_int_equal(metric(f->e, "reactor_engine_known_users"), 0);
    assert_int_equal(metric(f->e, "reactor_engine_user_cache_resets_total"), 1);
    struct event again = make_event("u2", "t", "bound-key-5", true);
    struct engine_outcome out;
    apply_batch(f, "shop", &again, 1, &out, NOW_MS);
    assert_int_equal(out.stored.status, STORE_EVENT_PROCESSED);
    engine_outcome_release(&out);
    assert_int_equal(metric(f->e, USERS_CREATED), 4); /* found in the store, not created */
    assert_int_equal(metric(f->e, "reactor_engine_known_users"), 1);
    event_release(&again);
    release_events(evs, 4);
}


/* The daily streak of a user as the engine holds it (0 when none). */
static int32_t streak_of(struct fixture *f, const char *app, const char *user)
{
    struct game_user *g;
    if (engine_user(f->e, f->u.s, app, user, &g, err, sizeof(err)) != 0)
        fail_msg("engine_user: %s", err);
    const struct game_streak *s = game_user_streak(g, "daily");
    return s ? s->s.current : 0;
}

/* Users' game state is written with the batch and read back by an engine that starts from the
 * store; a batch that does not commit leaves the state as it was, in memory too. */
static void game_state_is_written_once_committed(void **state)
{
    struct fixture *f = *state;
    struct event ev = make_event("gs-user", "login", "gs-key-0001", true);
    struct engine_outcome out;
    apply_batch(f, "shop", &ev, 1, &out, NOW_MS);
    engine_outcome_release(&out);
    event_release(&ev);
    assert_int_equal(streak_of(f, "shop", "gs-user"), 1);

    /* The next day, rolled back: still 1. */
    ev = make_event("gs-user", "login", "gs-key-0002", true);
    ev.occurred_at += 86400000;
    begin(f);
    apply(f, "shop", &ev, 1, &out, NOW_MS);
    engine_outcome_release(&out);
    assert_int_equal(streak_of(f, "shop", "gs-user"), 2);
    rollback(f);
    assert_int_equal(streak_of(f, "shop", "gs-user"), 1);

    /* Committed this time, then read by a new engine. */
    apply_batch(f, "shop", &ev, 1, &out, NOW_MS);
    engine_outcome_release(&out);
    event_release(&ev);
    engine_free(f->e);
    f->e = engine_new(f->tenants);
    assert_int_equal(streak_of(f, "shop", "gs-user"), 2);
}

/* A stored state that does not parse is never written over: the user's events fail with a
 * reason and reads refuse, until it is mended. */
static void unreadable_state_is_never_overwritten(void **state)
{
    struct fixture *f = *state;
    bool created;
    begin(f);
    assert_int_equal(store_user_ensure(f->u.s, "shop", "broken", NOW_MS, &created, err,
                                       sizeof(err)), 0);
    assert_int_equal(store_user_state_put(f->u.s, "shop", "broken", "{not json", 0, NOW_MS, err,
                                          sizeof(err)), 0);
    commit(f);
    struct event ev = make_event("broken", "login", "broken-key-1", true);
    struct engine_outcome out;
    apply_batch(f, "shop", &ev, 1, &out, NOW_MS);
    assert_int_equal(out.stored.status, STORE_EVENT_FAILED);
    assert_string_equal(out.stored.error, "The user's stored game state is unreadable");
    engine_outcome_release(&out);
    event_release(&ev);
    struct game_user *g;
    assert_int_equal(engine_user(f->e, f->u.s, "shop", "broken", &g, err, sizeof(err)),
                     ENGINE_STATE_UNREADABLE);
    char *attrs = NULL, *text = NULL;
    assert_int_equal(store_user_load(f->u.s, "shop", "broken", &attrs, &text, NULL, err,
                                     sizeof(err)), 0);
    assert_string_equal(text, "{not json");
    free(attrs);
    free(text);
}

/* ---- the game logs --------------------------------------------------------------------------- */

static void grant_coins(struct fixture *f, const char *user, int64_t n)
{
    json_t *coins = json_pack("{s:I}", "coins", (json_int_t)n);
    if (engine_grant(f->e, f->u.s, "game", user, NULL, coins, "prize", "test", NOW_MS, err,
                     sizeof(err)) != 0)
        fail_msg("engine_grant: %s", err);
    json_decref(coins);
}

struct ledger_seen {
    int64_t seq[16], balance[16];
    size_t n;
};

static void ledger_seen_row(const struct store_ledger *l, void *arg)
{
    struct ledger_seen *s = arg;
    if (s->n < 16) {
        s->seq[s->n] = l->seq;
        s->balance[s->n++] = l->balance_after;
    }
}

/* The user's ledger below `before` (newest first), checked against seq hi, hi-1, ... lo with
 * balances of 10 coins a grant. */
static void expect_ledger(struct fixture *f, const char *user, int64_t before, int limit,
                          int64_t hi, int64_t lo)
{
    struct ledger_seen s = { .n = 0 };
    begin(f);
    if (engine_ledger_page(f->e, f->u.s, "game", user, before, limit, NULL, ledger_seen_row, &s,
                           err, sizeof(err)) != 0)
        fail_msg("engine_ledger_page: %s", err);
    commit(f);
    assert_int_equal(s.n, (size_t)(hi - lo + 1));
    for (size_t i = 0; i < s.n; i++) {
        assert_int_equal(s.seq[i], hi - (int64_t)i);
        assert_int_equal(s.balance[i], 10 * (hi - (int64_t)i));
    }
}

static int64_t balance_of(struct fixture *f, const char *user)
{
    struct game_user *g;
    begin(f);
    if (engine_user(f->e, f->u.s, "game", user, &g, err, sizeof(err)) != 0)
        fail_msg("engine_user: %s", err);
    int64_t b = game_user_balance(g, "coins");
    commit(f);
    return b;
}

/* Users' state and ledger rows are logged and folded into their tables now and then; reads
 * find them on either side of a fold, after a batch that failed, and after a restart that
 * left rows in the logs. */
static void game_logs_fold_and_read_back(void **state)
{
    struct fixture *f = *state;
    engine_set_game_log_fold(f->e, 6, 3600 * 1000);
    struct event ev = make_event("logged", "login", "log-key-0001", true);
    struct engine_outcome out;
    apply_batch(f, "game", &ev, 1, &out, NOW_MS); /* the user, and 1 state row */
    engine_outcome_release(&out);
    event_release(&ev);
    uint64_t folds = metric(f->e, "reactor_engine_game_log_folds_total");
    for (int i = 0; i < 5; i++) { /* 2 rows a batch: the log reaches 6 in the third */
        begin(f);
        grant_coins(f, "logged", 10);
        commit(f);
    }
    assert_int_equal(metric(f->e, "reactor_engine_game_log_folds_total"), folds + 1);
    assert_int_equal(metric(f->e, "reactor_engine_game_log_rows"), 4);
    expect_ledger(f, "logged", INT64_MAX, 10, 5, 1); /* two in the log, three folded */
    expect_ledger(f, "logged", 5, 2, 4, 3);          /* a page across the fold */
    expect_ledger(f, "logged", 3, 10, 2, 1);
    struct store_ledger l;
    begin(f);
    assert_int_equal(engine_ledger_get(f->e, f->u.s, "game", "logged", 5, &l, err, sizeof(err)),
                     0);
    assert_int_equal(l.balance_after, 50);
    store_ledger_release(&l);
    assert_int_equal(engine_ledger_get(f->e, f->u.s, "game", "logged", 2, &l, err, sizeof(err)),
                     0);
    assert_int_equal(l.balance_after, 20);
    store_ledger_release(&l);
    commit(f);

    /* A batch that fails forgets the user; its logged rows are folded before it is read. */
    begin(f);
    grant_coins(f, "logged", 10);
    rollback(f);
    assert_int_equal(balance_of(f, "logged"), 50);
    expect_ledger(f, "logged", INT64_MAX, 10, 5, 1);

    /* Rows left in the logs by a run that stopped are folded by the next one. */
    begin(f);
    grant_coins(f, "logged", 10);
    commit(f);
    assert_true(metric(f->e, "reactor_engine_game_log_rows") > 0);
    engine_free(f->e);
    f->e = engine_new(f->tenants);
    assert_int_equal(balance_of(f, "logged"), 60);
    expect_ledger(f, "logged", INT64_MAX, 10, 6, 1);
}

/* The user's first event (a login, which makes it). */
static void first_login(struct fixture *f, const char *user, const char *key)
{
    struct event ev = make_event(user, "login", key, true);
    struct engine_outcome out;
    apply_batch(f, "game", &ev, 1, &out, NOW_MS);
    engine_outcome_release(&out);
    event_release(&ev);
}

/* A user's ledger spans rows earlier versions folded into the ledger table, many folds' index
 * rows (interleaved with another user's rows) and rows not yet folded; a page crosses each
 * boundary, every row is found by its seq, and a damaged index row hides only its own rows. */
static void the_ledger_reads_across_folds_and_rows_of_earlier_versions(void **state)
{
    struct fixture *f = *state;
    engine_set_game_log_fold(f->e, 6, 3600 * 1000);
    first_login(f, "many", "many-key-0001");
    first_login(f, "other", "other-key-0001");
    begin(f);
    grant_coins(f, "many", 10);
    grant_coins(f, "many", 10);
    commit(f);
    begin(f); /* past 6 rows: folded */
    grant_coins(f, "other", 10);
    commit(f);
    /* As an earlier version would have left them: folded into the ledger table. Grants
     * are rows of one entry in the compact form: [id, source, created_at, [kind, name,
     * amount, balance_after, reason, ref, metadata]]. */
    unit_store_exec(f->u.s,
                    "INSERT INTO ledger SELECT r.app_id, r.user_id, r.first_seq, "
                    "r.entries ->> '$[0]', x.value ->> '$[0]', x.value ->> '$[1]', "
                    "x.value ->> '$[2]', x.value ->> '$[3]', x.value ->> '$[4]', "
                    "r.entries ->> '$[1]', x.value ->> '$[5]', x.value ->> '$[6]', "
                    "r.entries ->> '$[2]' FROM ledger_rows r, json_each(r.entries) x "
                    "WHERE r.user_id = 'many' AND json_array_length(r.entries) = 4 AND x.key = 3; "
                    "DELETE FROM ledger_index WHERE user_id = 'many'; "
                    "DELETE FROM ledger_rows WHERE user_id = 'many'");
    for (int round = 0; round < 4; round++) { /* each fold indexes the rows of two rounds */
        begin(f);
        grant_coins(f, "many", 10);
        grant_coins(f, "other", 10);
        grant_coins(f, "many", 10);
        commit(f);
    }
    begin(f);
    grant_coins(f, "many", 10); /* not yet folded */
    commit(f);
    assert_true(metric(f->e, "reactor_engine_game_log_rows") > 0);
    expect_ledger(f, "many", INT64_MAX, 16, 11, 1);
    expect_ledger(f, "many", 12, 3, 11, 9);  /* the log and the newest index row */
    expect_ledger(f, "many", 8, 3, 7, 5);    /* across two index rows */
    expect_ledger(f, "many", 4, 3, 3, 1);    /* an index row and the ledger table */
    begin(f);
    for (int64_t seq = 1; seq <= 11; seq++) {
        struct store_ledger l;
        assert_int_equal(
            engine_ledger_get(f->e, f->u.s, "game", "many", seq, &l, err, sizeof(err)), 0);
        assert_int_equal(l.seq, seq);
        assert_int_equal(l.balance_after, 10 * seq);
        store_ledger_release(&l);
    }
    struct store_ledger l;
    assert_int_equal(engine_ledger_get(f->e, f->u.s, "game", "many", 12, &l, err, sizeof(err)),
                     STORE_NOT_FOUND);
    commit(f);
    expect_ledger(f, "other", INT64_MAX, 16, 5, 1);

    /* After a restart every row is still found, through the index. */
    engine_free(f->e);
    f->e = engine_new(f->tenants);
    expect_ledger(f, "many", INT64_MAX, 16, 11, 1);
    /* Damage to one index row (the one starting at seq 3) hides its rows and nothing else. */
    unit_store_exec(f->u.s,
                    "UPDATE ledger_index SET lseqs = 'x' WHERE user_id = 'many' AND first_seq = 3");
    struct ledger_seen seen = { .n = 0 };
    begin(f);
    assert_int_equal(engine_ledger_page(f->e, f->u.s, "game", "many", INT64_MAX, 16, NULL,
                                        ledger_seen_row, &seen, err, sizeof(err)),
                     0);
    commit(f);
    assert_int_equal(seen.n, 7); /* 11..7, then 2 and 1 from the ledger table */
    assert_int_equal(seen.seq[4], 7);
    assert_int_equal(seen.seq[5], 2);
}

struct amounts {
    int64_t seq[8], amount[8];
    size_t n;
};

static void amount_seen(const struct store_ledger *l, void *arg)
{
    struct amounts *a = arg;
    if (a->n < 8) {
        a->seq[a->n] = l->seq;
        a->amount[a->n++] = l->amount;
    }
}

/* Reads of one grant's three entries (one row of the log), from its middle. */
static void expect_middle_of_a_row(struct fixture *f)
{
    struct amounts a = { .n = 0 }, b = { .n = 0 };
    begin(f);
    /* From inside the first row: 2, then 1 would be past the limit. */
    assert_int_equal(engine_ledger_page(f->e, f->u.s, "game", "multi", 3, 1, "currency",
                                        amount_seen, &a, err, sizeof(err)),
                     0);
    /* From inside the second row down into the first. */
    assert_int_equal(engine_ledger_page(f->e, f->u.s, "game", "multi", 5, 3, NULL, amount_seen,
                                        &b, err, sizeof(err)),
                     0);
    struct store_ledger l;
    assert_int_equal(engine_ledger_get(f->e, f->u.s, "game", "multi", 2, &l, err, sizeof(err)),
                     0);
    assert_int_equal(l.amount, 2);
    assert_string_equal(l.name, "b");
    store_ledger_release(&l);
    assert_int_equal(engine_ledger_get(f->e, f->u.s, "game", "multi", 5, &l, err, sizeof(err)),
                     0);
    assert_int_equal(l.amount, 8);
    assert_string_equal(l.name, "e");
    store_ledger_release(&l);
    commit(f);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.seq[0], 2);
    assert_int_equal(a.amount[0], 2);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.seq[0], 4);
    assert_int_equal(b.amount[0], 7);
    assert_int_equal(b.seq[1], 3);
    assert_int_equal(b.seq[2], 2);
}

/* A write of several entries (a grant of three currencies) is one row of the log; pages and
 * lookups find entries in the middle of it, before and after a fold. */
static void the_entries_of_one_write_are_read_one_by_one(void **state)
{
    struct fixture *f = *state;
    engine_set_game_log_fold(f->e, 1000, 3600 * 1000);
    first_login(f, "multi", "multi-key-0001");
    json_t *three = json_pack("{s:I, s:I, s:I}", "a", (json_int_t)1, "b", (json_int_t)2, "c",
                              (json_int_t)3);
    json_t *two = json_pack("{s:I, s:I}", "d", (json_int_t)7, "e", (json_int_t)8);
    begin(f);
    assert_int_equal(engine_grant(f->e, f->u.s, "game", "multi", NULL, three, "prize", "test",
                                  NOW_MS, err, sizeof(err)),
                     0);
    assert_int_equal(engine_grant(f->e, f->u.s, "game", "multi", NULL, two, "prize", "test",
                                  NOW_MS, err, sizeof(err)),
                     0);
    commit(f);
    json_decref(three);
    json_decref(two);
    /* Two states (one a batch) and two ledger rows, not five. */
    assert_int_equal(metric(f->e, "reactor_engine_game_log_rows"), 4);
    expect_middle_of_a_row(f);
    /* Folded: read through the index. */
    engine_set_game_log_fold(f->e, 1, 3600 * 1000);
    begin(f);
    grant_coins(f, "multi", 10); /* seq 6 */
    commit(f);
    assert_int_equal(metric(f->e, "reactor_engine_game_log_rows"), 0);
    expect_middle_of_a_row(f);
}

static int spend(struct fixture *f, const char *user, int64_t amount, const char *key,
                 struct store_ledger *out)
{
    struct engine_spend_req req = { user, "coins", amount, "shop", NULL, key };
    char *uid = NULL;
    begin(f);
    int rc = engine_spend(f->e, f->u.s, "game", &req, NOW_MS, out, &uid, err, sizeof(err));
    commit(f);
    free(uid);
    return rc;
}

/* A spend's replay finds its entry through the index once folded; an entry that cannot be
 * read refuses that replay with a reason and fails nothing else. */
static void a_spend_replays_from_the_index_and_damage_refuses_only_it(void **state)
{
    struct fixture *f = *state;
    engine_set_game_log_fold(f->e, 3, 3600 * 1000);
    first_login(f, "payer", "payer-key-0001");
    begin(f);
    grant_coins(f, "payer", 10);
    commit(f);
    struct store_ledger l;
    assert_int_equal(spend(f, "payer", 4, "spend-key-0001", &l), 0);
    int64_t seq = l.seq;
    store_ledger_release(&l);
    begin(f);
    grant_coins(f, "payer", 10); /* folds: the spend is read through the index now */
    commit(f);
    assert_int_equal(metric(f->e, "reactor_engine_game_log_rows"), 0);
    assert_int_equal(spend(f, "payer", 4, "spend-key-0001", &l), ENGINE_SPEND_REPLAYED);
    assert_int_equal(l.seq, seq);
    assert_int_equal(l.amount, -4);
    assert_int_equal(l.balance_after, 6);
    store_ledger_release(&l);
    /* Damage to the spend's row: its replay is refused, with the reason. */
    char sql[160];
    snprintf(sql, sizeof(sql), "UPDATE ledger_rows SET entries = '[[' WHERE first_seq = %lld",
             (long long)seq);
    unit_store_exec(f->u.s, sql);
    strcpy(err, "untouched");
    assert_int_equal(spend(f, "payer", 4, "spend-key-0001", &l), ENGINE_STATE_UNREADABLE);
    assert_non_null(strstr(err, "spend-key-0001"));
    /* Other spends go on. */
    assert_int_equal(spend(f, "payer", 1, "spend-key-0002", &l), 0);
    assert_int_equal(l.balance_after, 15);
    store_ledger_release(&l);
}

/* Pages deep in a long history read the right entries (the index row's rows are found by a
 * binary search, not walked from the newest). */
static void a_page_deep_in_a_long_history(void **state)
{
    struct fixture *f = *state;
    engine_set_game_log_fold(f->e, 100000, 3600 * 1000);
    first_login(f, "long", "long-key-0001");
    begin(f);
    for (int i = 0; i < 300; i++)
        grant_coins(f, "long", 10);
    commit(f);
    engine_set_game_log_fold(f->e, 1, 3600 * 1000);
    begin(f);
    grant_coins(f, "long", 10); /* seq 301, and a fold: one index row lists all 301 rows */
    commit(f);
    for (int64_t before = 1; before <= 302; before += 37) {
        int64_t hi = before - 1, lo = hi - 9 > 1 ? hi - 9 : 1;
        if (hi < 1)
            continue;
        expect_ledger(f, "long", before, 10, hi, lo);
    }
    expect_ledger(f, "long", 302, 3, 301, 299);
    struct store_ledger l;
    begin(f);
    for (int64_t seq = 1; seq <= 301; seq += 50) {
        assert_int_equal(engine_ledger_get(f->e, f->u.s, "game", "long", seq, &l, err,
                                           sizeof(err)),
                         0);
        assert_int_equal(l.balance_after, 10 * seq);
        store_ledger_release(&l);
    }
    commit(f);
}

/* A fold that fails leaves the logs and the watermark as they were; the next one indexes
 * every row once. */
static void a_failed_fold_changes_nothing(void **state)
{
    struct fixture *f = *state;
    engine_set_game_log_fold(f->e, 100000, 3600 * 1000);
    first_login(f, "folded", "folded-key-0001");
    begin(f);
    grant_coins(f, "folded", 10);
    grant_coins(f, "folded", 10);
    commit(f);
    unit_store_exec(f->u.s, "CREATE TRIGGER no_index BEFORE INSERT ON ledger_index "
                            "BEGIN SELECT RAISE(ABORT, 'no'); END");
    int64_t rows = 0;
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(store_game_fold(f->u.s, &rows, err, sizeof(err)), -1);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    unit_store_exec(f->u.s, "DROP TRIGGER no_index");
    char got[64] = "";
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->u.s->db, "SELECT (SELECT count(*) FROM state_log) "
                                        "|| ' ' || (SELECT count(*) FROM meta WHERE key = "
                                        "'ledger_indexed_through')", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(got, sizeof(got), "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    assert_string_equal(got, "1 0"); /* the grants' state still logged (the login's change
                                      * is its event's row), nothing indexed */
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(store_game_fold(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(rows, 3); /* one user's state, two ledger rows */
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(store_game_fold(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(rows, 0);
    engine_free(f->e);
    f->e = engine_new(f->tenants);
    expect_ledger(f, "folded", INT64_MAX, 10, 2, 1);
}

/* A fold writes the states of every user logged since the last one, whichever batch logged
 * them, from memory: after a restart (which reads states from their table) each user has
 * its last state, and the state log is empty. */
static void a_fold_writes_every_logged_users_state(void **state)
{
    struct fixture *f = *state;
    engine_set_game_log_fold(f->e, 1000, 3600 * 1000);
    static const char *const users[] = { "zed", "amy", "kit", "bo" };
    for (size_t i = 0; i < 4; i++) {
        char key[32];
        snprintf(key, sizeof(key), "fold-key-%04zu", i);
        first_login(f, users[i], key);
        begin(f);
        grant_coins(f, users[i], 10 * (int64_t)(i + 1));
        commit(f);
    }
    begin(f); /* amy again, later */
    grant_coins(f, "amy", 5);
    commit(f);
    uint64_t folds = metric(f->e, "reactor_engine_game_log_folds_total");
    engine_set_game_log_fold(f->e, 1, 3600 * 1000);
    begin(f);
    grant_coins(f, "bo", 1); /* this batch folds everything logged so far */
    commit(f);
    assert_int_equal(metric(f->e, "reactor_engine_game_log_folds_total"), folds + 1);
    assert_int_equal(metric(f->e, "reactor_engine_game_log_rows"), 0);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->u.s->db, "SELECT count(*) FROM state_log", -1, &st,
                                        NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    engine_free(f->e);
    f->e = engine_new(f->tenants);
    assert_int_equal(balance_of(f, "zed"), 10);
    assert_int_equal(balance_of(f, "amy"), 25);
    assert_int_equal(balance_of(f, "kit"), 30);
    assert_int_equal(balance_of(f, "bo"), 41);
}

/* One text for the ledger's index and its high-water mark. */
static void index_text(struct fixture *f, char *out, size_t len)
{
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(f->u.s->db,
                           "SELECT coalesce((SELECT group_concat(app_id || '/' || user_id || '/' "
                           "|| first_seq || '=' || lseqs, ';') FROM (SELECT * FROM ledger_index "
                           "ORDER BY app_id, user_id, first_seq)), '') || ' through ' || "
                           "coalesce((SELECT value FROM meta WHERE key = "
                           "'ledger_indexed_through'), '-')",
                           -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/* The fold indexes the ledger rows from what memory knows of them: the same index, row for
 * row, as reading the rows back gives (writes of one and of two entries, users with one row
 * and with several, two apps' worth of interleaving in the log). */
static void the_ledger_index_from_memory_is_the_one_the_log_gives(void **state)
{
    struct fixture *f = *state;
    engine_set_game_log_fold(f->e, 1000, 3600 * 1000);
    static const char *const users[] = { "zed", "amy", "kit" };
    for (size_t i = 0; i < 3; i++) {
        char key[32];
        snprintf(key, sizeof(key), "index-key-%04zu", i);
        first_login(f, users[i], key);
    }
    json_t *two = json_pack("{s:i, s:i}", "coins", 3, "gems", 1);
    for (int round = 0; round < 3; round++) {
        begin(f);
        grant_coins(f, "amy", 10);
        if (engine_grant(f->e, f->u.s, "game", round == 1 ? "kit" : "zed", NULL, two, "prize",
                         "test", NOW_MS, err, sizeof(err)) != 0)
            fail_msg("engine_grant: %s", err);
        grant_coins(f, "amy", 10);
        commit(f);
    }
    json_decref(two);
    char before[1024], mem[1024], logged[1024];
    index_text(f, before, sizeof(before));
    assert_string_equal(before, " through -");
    engine_set_game_log_fold(f->e, 1, 3600 * 1000);
    begin(f);
    grant_coins(f, "kit", 1); /* this batch folds everything logged so far, its own row too */
    commit(f);
    assert_int_equal(metric(f->e, "reactor_engine_game_log_rows"), 0);
    index_text(f, mem, sizeof(mem));
    assert_string_equal(mem, "game/amy/1=1,3,4,6,7,9;game/kit/1=5,10;game/zed/1=2,8 through 10");
    /* The same fold, from the rows. */
    unit_store_exec(f->u.s, "DELETE FROM ledger_index; "
                            "DELETE FROM meta WHERE key = 'ledger_indexed_through'");
    int64_t rows = 0;
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(store_ledger_fold(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(rows, 10);
    index_text(f, logged, sizeof(logged));
    assert_string_equal(mem, logged);
    expect_ledger(f, "amy", INT64_MAX, 16, 6, 1);
}

/* A definition of the "game" app, in a batch of its own, as the API changes one: the game
 * logs folded first (engine_settle); the engine reads it on its next use of the app. */
static void put_def(struct fixture *f, enum store_def_kind kind, const char *id,
                    const char *body)
{
    struct store_def d = { (char *)id, (char *)body, NOW_MS, NOW_MS };
    begin(f);
    if (engine_settle(f->e, f->u.s, err, sizeof(err)) != 0)
        fail_msg("engine_settle: %s", err);
    if (store_def_put(f->u.s, "game", kind, &d, err, sizeof(err)) != 0)
        fail_msg("store_def_put: %s", err);
    engine_apps_forget(f->e, "game");
    commit(f);
}

static void put_rule(struct fixture *f, const char *id, const char *body)
{
    put_def(f, STORE_DEF_RULE, id, body);
}

/* A "lesson" event of user in the open batch. */
static void lesson_in_batch(struct fixture *f, const char *user, int n)
{
    char key[32];
    snprintf(key, sizeof(key), "lesson-%s-%04d", user, n);
    struct event ev = make_event(user, "lesson", key, true);
    struct engine_outcome out;
    apply(f, "game", &ev, 1, &out, NOW_MS);
    assert_int_equal(out.stored.status, STORE_EVENT_PROCESSED);
    engine_outcome_release(&out);
    event_release(&ev);
}

static void lesson(struct fixture *f, const char *user, int n)
{
    begin(f);
    lesson_in_batch(f, user, n);
    commit(f);
}

/* An event's entries are read from its row and take its place in the ledger's index: a fold
 * from memory gives the same index as one that reads the logs back, with the entries of
 * events and of grants interleaved; they read back whole after a failed batch (the next read
 * folds from the logs) and after a restart. */
static void an_events_entries_are_indexed_like_ledger_rows(void **state)
{
    struct fixture *f = *state;
    engine_set_game_log_fold(f->e, 1000, 3600 * 1000);
    put_rule(f, "r-lesson", "{\"name\":\"lesson\",\"eventType\":\"lesson\","
                            "\"currencyAwards\":{\"coins\":10}}");
    first_login(f, "zed", "events-index-zed");
    for (int round = 0; round < 3; round++) {
        lesson(f, "amy", 3 * round);
        begin(f);
        grant_coins(f, "amy", 10);
        grant_coins(f, "zed", 10);
        commit(f);
        lesson(f, "zed", 3 * round + 1);
        lesson(f, "amy", 3 * round + 2);
    }
    expect_ledger(f, "amy", INT64_MAX, 16, 9, 1); /* events' entries and grants', 10 coins each */
    expect_ledger(f, "amy", 5, 2, 4, 3);
    engine_set_game_log_fold(f->e, 1, 3600 * 1000);
    lesson(f, "kit", 0); /* this batch folds everything logged so far, its own row too */
    assert_int_equal(metric(f->e, "reactor_engine_game_log_rows"), 0);
    char mem[1024], logged[1024];
    index_text(f, mem, sizeof(mem));
    assert_non_null(strstr(mem, "game/amy/1=-"));  /* an event's place: its seq, negated */
    assert_non_null(strstr(mem, "game/kit/1=-"));
    /* The same fold, from the logs: the rows and the events. */
    unit_store_exec(f->u.s, "DELETE FROM ledger_index; DELETE FROM meta WHERE key IN "
                            "('ledger_indexed_through', 'ledger_events_indexed_through')");
    int64_t rows = 0;
    assert_int_equal(store_batch_begin(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(store_ledger_fold(f->u.s, &rows, err, sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    assert_int_equal(rows, 16); /* 7 events with entries, 9 grants' rows */
    index_text(f, logged, sizeof(logged));
    assert_string_equal(mem, logged);
    expect_ledger(f, "amy", INT64_MAX, 16, 9, 1);

    /* A batch that fails forgets amy, whose last event is in the logs only: the next read
     * folds from the logs, and finds each entry once. */
    engine_set_game_log_fold(f->e, 1000, 3600 * 1000);
    lesson(f, "amy", 100);
    /* Its event is a row of the logs: its change to the state and its entries. */
    assert_int_equal(metric(f->e, "reactor_engine_game_log_rows"), 1);
    begin(f);
    lesson_in_batch(f, "amy", 101);
    rollback(f);
    expect_ledger(f, "amy", INT64_MAX, 16, 10, 1);
    assert_int_equal(balance_of(f, "amy"), 100);
    /* Entries left in the logs by a run that stopped are indexed by the next one. */
    lesson(f, "amy", 102);
    engine_free(f->e);
    f->e = engine_new(f->tenants);
    expect_ledger(f, "amy", INT64_MAX, 16, 11, 1);
    assert_int_equal(balance_of(f, "amy"), 110);
}

/* ---- events applied again ----------------------------------------------------------------- */

/* A "lesson" with a score, `day` days after NOW, in the open batch. */
static void scored_in_batch(struct fixture *f, const char *user, int n, int score, int day)
{
    char key[48], meta[48];
    snprintf(key, sizeof(key), "scored-%s-%04d", user, n);
    snprintf(meta, sizeof(meta), "{\"score\":%d}", score);
    struct event ev = make_event(user, "lesson", key, true);
    ev.metadata = strdup(meta);
    ev.occurred_at += day * 86400000LL;
    struct engine_outcome out;
    apply(f, "game", &ev, 1, &out, NOW_MS + day * 86400000LL);
    assert_int_equal(out.stored.status, STORE_EVENT_PROCESSED);
    engine_outcome_release(&out);
    event_release(&ev);
}

static void scored(struct fixture *f, const char *user, int n, int score, int day)
{
    begin(f);
    scored_in_batch(f, user, n, score, day);
    commit(f);
}

/* The user's state as JSON, as the engine has it now (reading the logs back if need be). */
static void state_of(struct fixture *f, const char *user, char *out, size_t len)
{
    struct game_user *g;
    begin(f);
    if (engine_user(f->e, f->u.s, "game", user, &g, err, sizeof(err)) != 0)
        fail_msg("engine_user: %s", err);
    char *text = game_user_dump(g);
    commit(f);
    snprintf(out, len, "%s", text);
    free(text);
}

/* The user's state is `want` (state_of's text). */
static void expect_state(struct fixture *f, const char *user, const char *want)
{
    char got[1024];
    state_of(f, user, got, sizeof(got));
    assert_string_equal(got, want);
}

static int64_t count_of(struct fixture *f, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->u.s->db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* A new engine on the same store, as a start is. */
static void restart(struct fixture *f)
{
    engine_free(f->e);
    f->e = engine_new(f->tenants);
    if (engine_load(f->e, f->u.s, NOW_MS, err, sizeof(err)) != 0)
        fail_msg("engine_load: %s", err);
}

/* An event writes no state row: the next run applies the events since the last fold again,
 * each to the state before it, and gets every state as memory had it, with rules that read
 * metadata, daily caps and streaks across days, a repeatable milestone with its reward,
 * spends and grants (which log the state: no event before them is applied twice), new
 * attributes (a time zone: they log the state too), a rule changed halfway (the change
 * folds first: no event is applied again under the new rule), and a batch that failed (a
 * user forgotten, another kept in memory and never given its events twice). */
static void events_are_applied_again_after_a_restart(void **state)
{
    struct fixture *f = *state;
    engine_set_game_log_fold(f->e, 100000, 3600 * 1000);
    put_rule(f, "r-xp", "{\"name\":\"xp\",\"eventType\":\"lesson\",\"xpAwards\":{\"XP\":10},"
                        "\"currencyAwards\":{\"coins\":3},\"caps\":[{\"per\":\"day\","
                        "\"max\":25}]}");
    put_rule(f, "r-skill", "{\"name\":\"skill\",\"eventType\":\"lesson\",\"conditions\":"
                           "{\"field\":\"score\",\"op\":\"gte\",\"value\":50},\"xpAwards\":"
                           "{\"Skill\":{\"field\":\"score\",\"max\":80}}}");
    put_def(f, STORE_DEF_ACHIEVEMENT, "a-two", "{\"code\":\"two\",\"name\":\"Two\","
            "\"kind\":\"MILESTONE\",\"repeatable\":true,\"conditions\":{\"target\":2,"
            "\"metric\":\"events:lesson\"},\"rewardConfig\":{\"currencyAwards\":{\"gems\":1}}}");
    put_rule(f, "r-gold", "{\"name\":\"gold\",\"eventType\":\"lesson\",\"conditions\":"
                          "{\"field\":\"user.attributes.tier\",\"op\":\"eq\",\"value\":\"gold\"},"
                          "\"currencyAwards\":{\"Gold\":5}}");
    int n = 0;
    begin(f);
    scored_in_batch(f, "amy", n++, 60, 0);
    scored_in_batch(f, "bob", n++, 10, 0);
    scored_in_batch(f, "amy", n++, 90, 0);
    commit(f);
    scored(f, "amy", n++, 70, 0); /* capped: 25 XP a day */
    scored(f, "amy", n++, 55, 1);
    begin(f);
    grant_coins(f, "bob", 10);
    scored_in_batch(f, "bob", n++, 95, 1);
    commit(f);
    struct store_ledger spent;
    assert_int_equal(spend(f, "amy", 5, NULL, &spent), 0);
    store_ledger_release(&spent);
    scored(f, "amy", n++, 40, 2);
    scored(f, "cy", n++, 50, 0);
    begin(f);
    bool created;
    struct store_user su;
    assert_int_equal(store_user_upsert(f->u.s, "game", "cy", "{\"timezone\":\"Asia/Tokyo\","
                                       "\"tier\":\"gold\"}", NOW_MS, &created, &su, err,
                                       sizeof(err)), 0);
    engine_user_attributes(f->e, "game", "cy", su.attributes);
    store_user_release(&su);
    scored_in_batch(f, "cy", n++, 50, 0);
    commit(f);
    scored(f, "cy", n++, 50, 1);
    /* Only the grant's, the spend's and the attributes' batches logged states. */
    assert_int_equal(count_of(f, "SELECT count(*) FROM state_log"), 3);
    char amy[1024], bob[1024], cy[1024];
    state_of(f, "amy", amy, sizeof(amy));
    state_of(f, "bob", bob, sizeof(bob));
    state_of(f, "cy", cy, sizeof(cy));
    assert_non_null(strstr(amy, "\"XP\":45")); /* 25 (a cap of 25 a day) + 10 + 10 */
    assert_non_null(strstr(bob, "\"coins\":[16,16]"));
    restart(f);
    expect_state(f, "amy", amy);
    /* that read applied again the two events no logged state holds (amy's after her spend,
     * cy's after her new attributes), and loaded each user once */
    assert_int_equal(metric(f->e, "reactor_engine_known_users"), 3);
    assert_int_equal(metric(f->e, "reactor_engine_events_replayed_total"), 2);
    expect_state(f, "bob", bob);
    expect_state(f, "cy", cy);
    assert_non_null(strstr(cy, "\"Gold\":[10,10]")); /* after it became gold */

    /* The rule changes: events before it are folded, events after it follow it. */
    scored(f, "amy", n++, 60, 3);
    put_rule(f, "r-xp", "{\"name\":\"xp\",\"eventType\":\"lesson\",\"xpAwards\":{\"XP\":1}}");
    scored(f, "amy", n++, 60, 3);
    scored(f, "bob", n++, 60, 3);
    state_of(f, "amy", amy, sizeof(amy));
    state_of(f, "bob", bob, sizeof(bob));
    assert_non_null(strstr(amy, "\"XP\":56")); /* 45 + 10, then 1 */
    restart(f);
    expect_state(f, "amy", amy);
    expect_state(f, "bob", bob);

    /* A batch that fails forgets bob (whose events since the last fold are in their rows
     * only); amy stays in memory with hers: the next read applies bob's again, not amy's. */
    scored(f, "amy", n++, 60, 4);
    scored(f, "bob", n++, 60, 4);
    state_of(f, "amy", amy, sizeof(amy));
    state_of(f, "bob", bob, sizeof(bob));
    begin(f);
    scored_in_batch(f, "bob", n++, 60, 4);
    rollback(f);
    expect_state(f, "bob", bob);
    expect_state(f, "amy", amy);
    /* and that read folded: a restart has them too */
    restart(f);
    expect_state(f, "amy", amy);
    expect_state(f, "bob", bob);

    /* A fold in a batch that fails (here before a definition changes) is undone in memory
     * too: amy's events, changed in memory only, are written by the next fold. */
    scored(f, "amy", n++, 60, 5);
    state_of(f, "amy", amy, sizeof(amy));
    begin(f);
    scored_in_batch(f, "bob", n++, 60, 5);
    assert_int_equal(engine_settle(f->e, f->u.s, err, sizeof(err)), 0);
    rollback(f);
    state_of(f, "bob", bob, sizeof(bob)); /* reads the logs back, and folds */
    restart(f);
    expect_state(f, "amy", amy);
    expect_state(f, "bob", bob);

    /* New attributes first thing after a start, for a user not read yet: the logs are read
     * back before they are stored, so cy's events since the last fold meet "gold" again. */
    scored(f, "cy", n++, 50, 6);
    state_of(f, "cy", cy, sizeof(cy));
    assert_non_null(strstr(cy, "\"Gold\":[15,15]"));
    restart(f);
    begin(f);
    assert_int_equal(engine_before_attributes(f->e, f->u.s, err, sizeof(err)), 0);
    assert_int_equal(store_user_upsert(f->u.s, "game", "cy", "{\"timezone\":\"Asia/Tokyo\","
                                       "\"tier\":\"silver\"}", NOW_MS, &created, &su, err,
                                       sizeof(err)), 0);
    engine_user_attributes(f->e, "game", "cy", su.attributes);
    store_user_release(&su);
    commit(f);
    restart(f);
    expect_state(f, "cy", cy);

    /* A read back that fails after the store's part (here writing the states): the batch
     * cannot commit, so the events stay to be applied again, and are. */
    scored(f, "amy", n++, 60, 7);
    state_of(f, "amy", amy, sizeof(amy));
    restart(f);
    unit_store_exec(f->u.s, "CREATE TRIGGER no_state BEFORE UPDATE ON game_users "
                            "BEGIN SELECT RAISE(ABORT, 'no'); END");
    struct game_user *g;
    begin(f);
    assert_int_equal(engine_user(f->e, f->u.s, "game", "amy", &g, err, sizeof(err)), -1);
    assert_int_equal(engine_flush(f->e, f->u.s, NOW_MS, err, sizeof(err)), -1);
    rollback(f);
    unit_store_exec(f->u.s, "DROP TRIGGER no_state");
    expect_state(f, "amy", amy);
    restart(f);
    expect_state(f, "amy", amy);
}

/* The user's ledger holds the seqs hi, hi - 1, ..., 1, each once (newest first). */
static void expect_ledger_seqs(struct fixture *f, const char *user, int64_t hi)
{
    struct ledger_seen s = { .n = 0 };
    begin(f);
    if (engine_ledger_page(f->e, f->u.s, "game", user, INT64_MAX, 16, NULL, ledger_seen_row, &s,
                           err, sizeof(err)) != 0)
        fail_msg("engine_ledger_page: %s", err);
    commit(f);
    assert_int_equal(s.n, (size_t)hi);
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(s.seq[i], hi - (int64_t)i);
}

/* An event applied again that does not give the effects it had (here its rule changed in
 * the store behind the engine's back, which the API never does: it folds first) is counted
 * and logged, and the user's ledger seqs go on from the entries its row holds, never giving
 * one of them again. */
static void a_replay_that_differs_keeps_the_rows_ledger(void **state)
{
    struct fixture *f = *state;
    engine_set_game_log_fold(f->e, 100000, 3600 * 1000);
    put_rule(f, "r-two", "{\"name\":\"two\",\"eventType\":\"lesson\",\"xpAwards\":{\"XP\":10},"
                         "\"currencyAwards\":{\"coins\":1}}");
    scored(f, "dee", 0, 0, 0);
    scored(f, "dee", 1, 0, 0);
    char before[1024];
    state_of(f, "dee", before, sizeof(before));
    assert_non_null(strstr(before, "{\"seq\":4,")); /* two entries an event */
    struct store_def d = { (char *)"r-two", (char *)"{\"name\":\"two\",\"eventType\":\"lesson\","
                                                    "\"xpAwards\":{\"XP\":10}}", NOW_MS, NOW_MS };
    assert_int_equal(store_def_put(f->u.s, "game", STORE_DEF_RULE, &d, err, sizeof(err)), 0);
    restart(f);
    char after[1024];
    state_of(f, "dee", after, sizeof(after));
    assert_int_equal(metric(f->e, "reactor_engine_events_replayed_total"), 2);
    assert_int_equal(metric(f->e, "reactor_engine_events_replay_differed_total"), 2);
    assert_non_null(strstr(after, "{\"seq\":4,")); /* the rows' entries stand */
    assert_null(strstr(after, "coins"));           /* the state holds what it gives now */
    /* the next entry takes seq 5 */
    scored(f, "dee", 2, 0, 0);
    expect_ledger_seqs(f, "dee", 5);
}

/* The user's ledger, every entry's fields as one line each (newest first), appended to out. */
static void ledger_line(const struct store_ledger *l, void *arg)
{
    buf_printf(arg, "%lld %s %s %s %lld %lld %s %s %s %lld\n", (long long)l->seq, l->id,
               l->kind, l->name, (long long)l->amount, (long long)l->balance_after, l->reason,
               l->source ? l->source : "-", l->ref ? l->ref : "-", (long long)l->created_at);
}

static void ledger_text(struct fixture *f, const char *user, struct buf *out)
{
    buf_reset(out);
    begin(f);
    if (engine_ledger_page(f->e, f->u.s, "game", user, INT64_MAX, 64, NULL, ledger_line, out,
                           err, sizeof(err)) != 0)
        fail_msg("engine_ledger_page: %s", err);
    commit(f);
}

/* Every event row's compact effects rewritten as the JSON rows of earlier versions held:
 * how many. */
static int rows_to_json(struct fixture *f)
{
    sqlite3 *db = f->u.s->db;
    sqlite3_stmt *rd, *wr;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, fx FROM events WHERE fx IS NOT NULL",
                                        -1, &rd, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "UPDATE events SET effects = ?, fx = NULL "
                                        "WHERE seq = ?", -1, &wr, NULL), SQLITE_OK);
    int n = 0;
    struct buf json = BUF_INIT;
    while (sqlite3_step(rd) == SQLITE_ROW) {
        buf_reset(&json);
        assert_int_equal(fxpack_json(sqlite3_column_blob(rd, 1),
                                     (size_t)sqlite3_column_bytes(rd, 1), &json), 0);
        sqlite3_bind_text(wr, 1, json.data, (int)json.len, SQLITE_STATIC);
        sqlite3_bind_int64(wr, 2, sqlite3_column_int64(rd, 0));
        assert_int_equal(sqlite3_step(wr), SQLITE_DONE);
        sqlite3_reset(wr);
        n++;
    }
    sqlite3_finalize(rd);
    sqlite3_finalize(wr);
    buf_release(&json);
    return n;
}

/* Events keep their effects in the compact form (core/fxpack.h) and rows of earlier versions
 * in JSON: a start applies events of either kind again and finds the effects they had, and
 * the ledger reads the same entries from both, field for field. */
static void rows_of_either_form_give_the_same_ledger_and_states(void **state)
{
    struct fixture *f = *state;
    engine_set_game_log_fold(f->e, 100000, 3600 * 1000);
    put_rule(f, "r-xp", "{\"name\":\"xp\",\"eventType\":\"lesson\",\"xpAwards\":{\"XP\":10},"
                        "\"currencyAwards\":{\"coins\":3}}");
    put_rule(f, "6f1c2a9e-58b4-4f0e-9d0a-3c2b1a0f9e8d",
             "{\"name\":\"skill\",\"eventType\":\"lesson\",\"xpAwards\":"
             "{\"Skill \\\"one\\\"\":{\"field\":\"score\",\"max\":80}}}");
    put_def(f, STORE_DEF_ACHIEVEMENT, "a-two", "{\"code\":\"two\",\"name\":\"Two\","
            "\"kind\":\"MILESTONE\",\"repeatable\":true,\"tier\":\"Gold \\\"1\\\"\","
            "\"conditions\":{\"target\":2,\"metric\":\"events:lesson\"},"
            "\"rewardConfig\":{\"currencyAwards\":{\"gems\":1}}}");
    for (int n = 0; n < 6; n++) {
        scored(f, "amy", n, 40 + n, 0);
        scored(f, "bob", n, 90, 0);
    }
    assert_int_equal(count_of(f, "SELECT count(*) FROM events WHERE effects IS NULL AND "
                                 "typeof(fx) = 'blob'"), 12);
    char amy[1024], bob[1024];
    state_of(f, "amy", amy, sizeof(amy));
    state_of(f, "bob", bob, sizeof(bob));
    restart(f);
    /* applied again (by the first read), each event's effects are those its row holds */
    expect_state(f, "amy", amy);
    expect_state(f, "bob", bob);
    assert_int_equal(metric(f->e, "reactor_engine_events_replayed_total"), 12);
    assert_int_equal(metric(f->e, "reactor_engine_events_replay_differed_total"), 0);
    struct buf amy_ledger = BUF_INIT, bob_ledger = BUF_INIT, got = BUF_INIT;
    ledger_text(f, "amy", &amy_ledger);
    ledger_text(f, "bob", &bob_ledger);
    assert_non_null(strstr(amy_ledger.data, " achievement scored-amy-0001 two "));
    assert_non_null(strstr(amy_ledger.data, " rule scored-amy-0005 "
                                            "6f1c2a9e-58b4-4f0e-9d0a-3c2b1a0f9e8d "));
    assert_non_null(strstr(amy_ledger.data, " xp Skill \"one\" 45 255 "));

    /* the same rows as earlier versions wrote them: the same entries */
    assert_int_equal(rows_to_json(f), 12);
    ledger_text(f, "amy", &got);
    assert_string_equal(got.data, amy_ledger.data);
    ledger_text(f, "bob", &got);
    assert_string_equal(got.data, bob_ledger.data);
    /* and events in such rows are applied again to the effects they had */
    for (int n = 6; n < 9; n++)
        scored(f, "amy", n, 40 + n, 0);
    state_of(f, "amy", amy, sizeof(amy));
    assert_int_equal(rows_to_json(f), 3);
    restart(f);
    expect_state(f, "amy", amy);
    assert_int_equal(metric(f->e, "reactor_engine_events_replayed_total"), 3);
    assert_int_equal(metric(f->e, "reactor_engine_events_replay_differed_total"), 0);
    ledger_text(f, "amy", &got);
    assert_non_null(strstr(got.data, " achievement scored-amy-0007 two "));
    buf_release(&amy_ledger);
    buf_release(&bob_ledger);
    buf_release(&got);
}

/* A store written before events stopped logging states (migration 20): every event's change
 * is already in the state log, so the upgrade marks its rows as holding every event stored,
 * and a start applies none again (an event after the fold mark would otherwise count twice). */
static void a_store_from_before_applies_no_event_twice(void **state)
{
    (void)state;
    struct fixture fx, *f = &fx;
    memset(f, 0, sizeof(*f));
    assert_int_equal(unit_store_make_at(&f->u, "replay-v19", 19), 0);
    f->tenants = tenant_registry_new(100, 60);
    assert_int_equal(add_app(f, "game", "{\"autoCreateUsers\":true}",
                             "22222222-2222-4222-8222-222222222222", 2), 0);
    bool created;
    struct store_def d = { (char *)"r", (char *)"{\"name\":\"r\",\"eventType\":\"lesson\","
                                                "\"xpAwards\":{\"XP\":10}}", NOW_MS, NOW_MS };
    begin(f);
    assert_int_equal(store_def_put(f->u.s, "game", STORE_DEF_RULE, &d, err, sizeof(err)), 0);
    assert_int_equal(store_user_ensure(f->u.s, "game", "old", NOW_MS, &created, err,
                                       sizeof(err)), 0);
    assert_int_equal(store_batch_commit(f->u.s, err, sizeof(err)), 0);
    /* the event's row as that version wrote it (this version's insert names later columns) */
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "INSERT INTO events (seq, app_id, idempotency_key, user_id, event_type, "
             "occurred_at, received_at, processed_at, status, effects, ledger_seq) VALUES "
             "(1, 'game', 'old-event-1', 'old', 'lesson', %lld, %lld, %lld, 'PROCESSED', "
             "'[{\"type\":\"xp.awarded\",\"track\":\"XP\",\"amount\":10,\"totalXp\":10,"
             "\"source\":\"rule\",\"ruleId\":\"r\"}]', 1);"
             "INSERT INTO event_keys (app_id, idempotency_key, seq) "
             "VALUES ('game', 'old-event-1', 1)",
             (long long)NOW_MS, (long long)NOW_MS, (long long)NOW_MS);
    unit_store_exec(f->u.s, sql);
    /* as that version logged it, with its batch */
    unit_store_exec(f->u.s, "INSERT INTO state_log (states) VALUES ('[[\"game\",\"old\","
                            "{\"seq\":1,\"xp\":{\"XP\":10},\"events\":{\"lesson\":1}},1]]')");
    store_close(f->u.s);
    f->u.s = unit_store_open(f->u.data_dir);
    assert_non_null(f->u.s);
    f->e = engine_new(f->tenants);
    assert_int_equal(engine_load(f->e, f->u.s, NOW_MS, err, sizeof(err)), 0);
    char got[512];
    state_of(f, "old", got, sizeof(got));
    assert_string_equal(got, "{\"seq\":1,\"xp\":{\"XP\":10},\"events\":{\"lesson\":1}}");
    assert_int_equal(metric(f->e, "reactor_engine_events_replayed_total"), 0);
    /* and the next event goes on from there */
    scored(f, "old", 1, 0, 0);
    state_of(f, "old", got, sizeof(got));
    assert_non_null(strstr(got, "\"XP\":20"));
    engine_free(f->e);
    tenant_registry_free(f->tenants);
    unit_store_close(&f->u);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(a_replay_that_differs_keeps_the_rows_ledger, setup, teardown),
    cmocka_unit_test(a_store_from_before_applies_no_event_twice),
    cmocka_unit_test_setup_teardown(rows_of_either_form_give_the_same_ledger_and_states, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(events_are_applied_again_after_a_restart, setup, teardown),
    cmocka_unit_test_setup_teardown(game_state_is_written_once_committed, setup, teardown),
    cmocka_unit_test_setup_teardown(the_ledger_reads_across_folds_and_rows_of_earlier_versions,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(the_entries_of_one_write_are_read_one_by_one, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(a_spend_replays_from_the_index_and_damage_refuses_only_it,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(a_page_deep_in_a_long_history, setup, teardown),
    cmocka_unit_test_setup_teardown(a_failed_fold_changes_nothing, setup, teardown),
    cmocka_unit_test_setup_teardown(a_fold_writes_every_logged_users_state, setup, teardown),
    cmocka_unit_test_setup_teardown(the_ledger_index_from_memory_is_the_one_the_log_gives, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(an_events_entries_are_indexed_like_ledger_rows, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(unreadable_state_is_never_overwritten, setup, teardown),
    cmocka_unit_test_setup_teardown(user_table_is_bounded, setup, teardown),
    cmocka_unit_test_setup_teardown(game_logs_fold_and_read_back, setup, teardown),
    cmocka_unit_test_setup_teardown(metrics_count_only_committed_events, setup, teardown),
    cmocka_unit_test(step_known_user_is_processed),
    cmocka_unit_test(step_unknown_user_is_created_when_allowed),
    cmocka_unit_test(step_unknown_user_fails_without_auto_create),
    cmocka_unit_test_setup_teardown(events_are_written_processed, setup, teardown),
    cmocka_unit_test_setup_teardown(client_key_twice_in_one_batch, setup, teardown),
    cmocka_unit_test_setup_teardown(client_key_repeated_in_a_later_batch, setup, teardown),
    cmocka_unit_test_setup_teardown(unknown_user_fails_without_auto_create, setup, teardown),
    cmocka_unit_test_setup_teardown(unknown_user_is_created, setup, teardown),
    cmocka_unit_test_setup_teardown(rolled_back_batch_is_forgotten, setup, teardown),
    cmocka_unit_test_setup_teardown(store_failure_fails_the_whole_batch, setup, teardown),
    cmocka_unit_test_setup_teardown(unknown_app_is_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(an_event_without_a_key_gets_the_one_naming_its_row, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(nonce_replay_is_a_conflict, setup, teardown),
    cmocka_unit_test_setup_teardown(claims_are_one_row_a_batch, setup, teardown),
    cmocka_unit_test_setup_teardown(load_rebuilds_nonces_after_restart, setup, teardown),
    cmocka_unit_test(partition_is_in_range_and_stable),
    cmocka_unit_test_setup_teardown(publish_calls_the_hook, setup, teardown),
    cmocka_unit_test_setup_teardown(metrics_count_batches, setup, teardown),
};

UNIT_MAIN(tests)
