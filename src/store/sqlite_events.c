/* Events, signature nonces and the users events create, in SQLite (see store.h). */
#include <assert.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fxpack.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/secret.h"
#include "core/uuid.h"
#include "store/sqlite_int.h"
#include "store/store.h"


int store_user_exists(struct store *s, const char *app_id, const char *user_id, char *err,
                      size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_USER_EXISTS, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, user_id);
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_ROW    ? 0
              : rc == SQLITE_DONE ? STORE_NOT_FOUND
                                  : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

int store_user_ensure(struct store *s, const char *app_id, const char *user_id, int64_t now,
                      bool *created, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_USER_CREATE, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, user_id);
    sqlite3_bind_int64(st, 3, now);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    *created = sqlite3_changes(s->db) > 0;
    return 0;
}

static const char *const status_names[] = { "RECEIVED", "PROCESSED", "FAILED" };

const char *store_event_status_name(enum store_event_status st)
{
    return status_names[st];
}

void store_event_release(struct store_event *e)
{
    free(e->app_id);
    free(e->idempotency_key);
    free(e->user_id);
    free(e->event_type);
    free(e->metadata);
    free(e->error);
    free(e->effects);
    free(e->fx);
    memset(e, 0, sizeof(*e));
}

const char *store_event_effects(const struct store_event *e, struct buf *tmp)
{
    if (e->effects)
        return e->effects;
    buf_reset(tmp);
    if (!e->fx || fxpack_json(e->fx, e->fx_len, tmp) < 0)
        return NULL;
    return tmp->data;
}

/* A batch's nonces are one row of the nonce log: app_id '' and expires_at the latest expiry
 * among them, so that the row is forgotten when the last of them expires. Its nonce column
 * lists them: `@<length>:<app id>` names the app of the entries that follow, and an entry is
 * `<expires_at - its expiry>,<length>:<nonce>`. Lengths, not separators, bound the texts, so
 * a nonce may hold any byte. Rows of earlier versions hold one nonce each, with its app and
 * expiry in their own columns; both are read. */
int store_nonces_record(struct store *s, const struct store_nonce *v, size_t n, char *err,
                        size_t errlen)
{
    if (n == 0)
        return 0;
    sqlite3_stmt *st = sqlite__stmt(s, ST_NONCE_INSERT, err, errlen);
    if (!st)
        return -1;
    int64_t latest = v[0].expires_s;
    for (size_t i = 1; i < n; i++)
        if (v[i].expires_s > latest)
            latest = v[i].expires_s;
    struct buf *row = &s->row;
    buf_reset(row);
    const char *app = NULL;
    for (size_t i = 0; i < n; i++) {
        /* What the reader takes for damage cannot be written (store.h). */
        assert(v[i].app_id[0] && v[i].nonce_len > 0 && v[i].expires_s >= 0);
        if (!app || strcmp(app, v[i].app_id) != 0) {
            app = v[i].app_id;
            buf_putc(row, '@');
            buf_append_u64(row, strlen(app));
            buf_putc(row, ':');
            buf_puts(row, app);
        }
        buf_append_u64(row, (uint64_t)(latest - v[i].expires_s));
        buf_putc(row, ',');
        buf_append_u64(row, v[i].nonce_len);
        buf_putc(row, ':');
        buf_append(row, v[i].nonce, v[i].nonce_len);
    }
    sqlite3_bind_text(st, 1, "", 0, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, row->data, (int)row->len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, latest);
    int rc = sqlite__step_done(s, st, err, errlen);
    sqlite__row_done(s);
    return rc;
}

/* A decimal at *p followed by `sep` (both consumed). */
static bool nonce_num(const char **p, const char *end, char sep, uint64_t *out)
{
    if (!sqlite__decimal(p, end, INT64_MAX, out) || *p == end || **p != sep)
        return false;
    ++*p;
    return true;
}

/* Calls fn for each nonce of a batch's row that is live at `now_s`. False when the row is
 * malformed (the nonces before the fault are given). */
static bool nonce_row_each(const char *p, size_t len, int64_t latest, int64_t now_s,
                           store_nonce_fn *fn, void *arg, struct buf *app)
{
    const char *end = p + len;
    bool have_app = false;
    while (p < end) {
        uint64_t n, back;
        if (*p == '@') {
            p++;
            if (!nonce_num(&p, end, ':', &n) || n == 0 || n > (uint64_t)(end - p))
                return false;
            buf_reset(app);
            buf_append(app, p, (size_t)n);
            if (memchr(app->data, '\0', app->len))
                return false;
            p += n;
            have_app = true;
            continue;
        }
        if (!have_app || !nonce_num(&p, end, ',', &back) || latest < 0 ||
            back > (uint64_t)latest || !nonce_num(&p, end, ':', &n) || n == 0 ||
            n > (uint64_t)(end - p))
            return false;
        int64_t expires = latest - (int64_t)back;
        if (expires >= now_s)
            fn(app->data, p, (size_t)n, expires, arg);
        p += n;
    }
    return true;
}

int store_nonces_each_live(struct store *s, int64_t now_s, store_nonce_fn *fn, void *arg,
                           char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_NONCE_LIVE, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now_s);
    struct buf app = BUF_INIT;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *app_id = (const char *)sqlite3_column_text(st, 0);
        const char *nonce = (const char *)sqlite3_column_text(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        int64_t expires = sqlite3_column_int64(st, 2);
        if (!app_id || !nonce)
            continue;
        if (app_id[0]) {
            fn(app_id, nonce, len, expires, arg); /* a row of an earlier version */
        } else if (!nonce_row_each(nonce, len, expires, now_s, fn, arg, &app)) {
            log_error("a row of the nonce log is malformed; its nonces from the fault on are "
                      "not refused as replays",
                      LOG_I("row", sqlite3_column_int64(st, 3)), LOG_I("expires_at", expires));
        }
    }
    buf_release(&app);
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

int store_nonces_expire(struct store *s, int64_t before_s, int limit, int *deleted, char *err,
                        size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_NONCE_EXPIRE, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, before_s);
    sqlite3_bind_int(st, 2, limit);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    if (deleted)
        *deleted = sqlite3_changes(s->db);
    return 0;
}

struct uuid_seq_key *sqlite__event_key(struct store *s, bool create, bool *failed, char *err,
                                      size_t errlen)
{
    *failed = false;
    if (s->event_key || (s->event_key_absent && !create))
        return s->event_key;
    sqlite3_stmt *st = sqlite__stmt(s, ST_EVENT_SECRET_GET, err, errlen);
    if (!st) {
        *failed = true;
        return NULL;
    }
    unsigned char secret[UUID_SEQ_SECRET_LEN];
    char hex[2 * UUID_SEQ_SECRET_LEN + 1];
    int rc = sqlite3_step(st);
    bool found = rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 2 * UUID_SEQ_SECRET_LEN &&
                 hex_decode((const char *)sqlite3_column_text(st, 0), UUID_SEQ_SECRET_LEN,
                            secret) == 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *failed = true;
        sqlite__fail(s, err, errlen);
        return NULL;
    }
    if (!found && rc == SQLITE_ROW) {
        *failed = true;
        snprintf(err, errlen, "meta.event_key_secret is not %d hex digits", 2 * UUID_SEQ_SECRET_LEN);
        return NULL;
    }
    if (!found) {
        if (!create) {
            s->event_key_absent = true; /* until this connection makes one */
            return NULL;
        }
        st = sqlite__stmt(s, ST_EVENT_SECRET_PUT, err, errlen);
        if (!st || secret_random_hex(hex, UUID_SEQ_SECRET_LEN) < 0 ||
            hex_decode(hex, UUID_SEQ_SECRET_LEN, secret) < 0) {
            if (st)
                snprintf(err, errlen, "no random bytes for the event key secret");
            *failed = true;
            return NULL;
        }
        sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
        if (sqlite__step_done(s, st, err, errlen) < 0) {
            *failed = true;
            return NULL;
        }
        s->event_key_absent = false;
        s->event_tentative = true; /* written in the open transaction */
    }
    s->event_key = uuid_seq_key_new(secret);
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(hex, sizeof(hex));
    if (!s->event_key) {
        *failed = true;
        snprintf(err, errlen, "cannot set up the event key cipher");
    }
    return s->event_key;
}

/* True when key is one the server gave for seq *seq (read from it). */
static bool key_names_seq(struct store *s, const char *key, uint64_t *seq)
{
    bool failed;
    char ignore[64];
    struct uuid_seq_key *k = sqlite__event_key(s, false, &failed, ignore, sizeof(ignore));
    return k && uuid_v7_seq_of(k, key, strlen(key), seq);
}

int store_event_new_key(struct store *s, int64_t received_ms, char out[UUID_LEN + 1],
                        char *err, size_t errlen)
{
    int64_t seq;
    bool failed;
    struct uuid_seq_key *k = sqlite__event_key(s, true, &failed, err, errlen);
    if (!k || store_event_next_seq(s, &seq, err, errlen) < 0)
        return -1;
    if (uuid_v7_seq(k, received_ms, (uint64_t)seq, out) < 0) {
        snprintf(err, errlen, "no random bytes for an idempotency key");
        return -1;
    }
    s->event_issued_seq = seq;
    memcpy(s->event_issued, out, UUID_LEN + 1);
    return 0;
}

int store_event_next_seq(struct store *s, int64_t *seq, char *err, size_t errlen)
{
    if (s->event_seq < 0) {
        sqlite3_stmt *st = sqlite__stmt(s, ST_EVENT_LAST_SEQ, err, errlen);
        if (!st)
            return -1;
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            s->event_seq = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW)
            return sqlite__fail(s, err, errlen);
    }
    *seq = s->event_seq + 1;
    return 0;
}

int store_event_insert(struct store *s, const struct store_event *e, char *err, size_t errlen)
{
    int64_t seq;
    if (store_event_next_seq(s, &seq, err, errlen) < 0)
        return -1;
    /* The key store_event_new_key made for this seq names the row by itself; any other (the
     * client's) is looked up through event_keys. */
    if (seq != s->event_issued_seq || strcmp(e->idempotency_key, s->event_issued) != 0) {
        sqlite3_stmt *k = sqlite__stmt(s, ST_EVENT_KEY_INSERT, err, errlen);
        if (!k)
            return -1;
        sqlite__bind_text(k, 1, e->app_id);
        sqlite__bind_text(k, 2, e->idempotency_key);
        sqlite3_bind_int64(k, 3, seq);
        if (sqlite__step_done(s, k, err, errlen) < 0)
            return -1;
        if (sqlite3_changes(s->db) == 0)
            return STORE_CONFLICT;
    }
    sqlite3_stmt *st = sqlite__stmt(s, ST_EVENT_INSERT, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, seq);
    sqlite__bind_text(st, 2, e->app_id);
    sqlite__bind_text(st, 3, e->idempotency_key);
    sqlite__bind_text(st, 4, e->user_id);
    sqlite__bind_text(st, 5, e->event_type);
    sqlite__bind_text(st, 6, e->metadata);
    sqlite3_bind_int64(st, 7, e->occurred_at);
    sqlite3_bind_int64(st, 8, e->received_at);
    if (e->processed_at)
        sqlite3_bind_int64(st, 9, e->processed_at);
    sqlite__bind_text(st, 10, status_names[e->status]);
    sqlite__bind_text(st, 11, e->error);
    sqlite__bind_text(st, 12, e->effects);
    if (e->fx)
        sqlite3_bind_blob(st, 14, e->fx, (int)e->fx_len, SQLITE_STATIC);
    if (e->ledger_seq > 0) {
        /* The ids of its ledger entries are made with the key (store_ledger_log). */
        bool failed;
        if (!sqlite__event_key(s, true, &failed, err, errlen))
            return -1;
        sqlite3_bind_int64(st, 13, e->ledger_seq);
    }
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    s->event_seq = seq;
    s->event_tentative = true;
    return 0;
}

int store_event_get(struct store *s, const char *app_id, const char *key, struct store_event *out,
                    char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_EVENT_GET, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, key);
    uint64_t seq;
    if (key_names_seq(s, key, &seq))
        sqlite3_bind_int64(st, 3, (int64_t)seq);
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        out->app_id = sqlite__col_text(st, 0);
        out->idempotency_key = sqlite__col_text(st, 1);
        out->user_id = sqlite__col_text(st, 2);
        out->event_type = sqlite__col_text(st, 3);
        out->metadata = sqlite__col_text(st, 4);
        out->occurred_at = sqlite3_column_int64(st, 5);
        out->received_at = sqlite3_column_int64(st, 6);
        out->processed_at = sqlite3_column_int64(st, 7);
        const char *status = (const char *)sqlite3_column_text(st, 8);
        out->status = STORE_EVENT_RECEIVED;
        for (int i = 0; status && i < 3; i++)
            if (strcmp(status, status_names[i]) == 0)
                out->status = (enum store_event_status)i;
        out->error = sqlite__col_text(st, 9);
        out->effects = sqlite__col_text(st, 10);
        if (!out->effects && sqlite3_column_type(st, 11) == SQLITE_BLOB) {
            /* Shown as JSON: every reader of an event read back wants that. */
            struct buf json = BUF_INIT;
            if (fxpack_json(sqlite3_column_blob(st, 11), (size_t)sqlite3_column_bytes(st, 11),
                            &json) == 0)
                out->effects = buf_detach(&json, NULL);
            else
                log_error("an event's stored effects are damaged; it is shown without them",
                          LOG_S("app", app_id), LOG_S("key", key));
            buf_release(&json);
        }
    } else {
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(st);
    return ret;
}

int store_events_expire(struct store *s, int64_t before_ms, int limit, int *deleted, char *err,
                        size_t errlen)
{
    if (deleted)
        *deleted = 0;
    /* Events are in the order they were received (seq), give or take the few milliseconds
     * between I/O threads: the oldest `limit` rows, up to the first one young enough to keep. */
    sqlite3_stmt *st = sqlite__stmt(s, ST_EVENTS_OLDEST, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int(st, 1, limit);
    int64_t upto = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && sqlite3_column_int64(st, 1) < before_ms)
        upto = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlite__fail(s, err, errlen);
    /* The ledger entries their rows hold are kept (and those not indexed yet wait); their
     * keys in event_keys go first (the client's), then the rows. */
    if (upto > 0 && sqlite__ledger_before_expire(s, &upto, err, errlen) < 0)
        return -1;
    if (upto <= 0)
        return 0;
    st = sqlite__stmt(s, ST_EVENT_KEYS_EXPIRE, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, upto);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    st = sqlite__stmt(s, ST_EVENTS_EXPIRE, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, upto);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    int n = sqlite3_changes(s->db);
    /* Their seqs are not given again (store_event_next_seq), even were none left. */
    st = sqlite__stmt(s, ST_EVENTS_DELETED_SET, err, errlen);
    if (!st)
        return -1;
    char text[24];
    snprintf(text, sizeof(text), "%lld", (long long)upto);
    sqlite__bind_text(st, 1, text);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    if (deleted)
        *deleted = n;
    return 0;
}
