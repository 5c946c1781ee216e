/* The game model in SQLite: definitions, users' game state, the ledger and spend keys (see
 * store.h). */
#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/fxpack.h"
#include "core/jread.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/uuid.h"
#include "store/sqlite_int.h"
#include "store/store.h"

static const char *const def_kinds[] = { "rule", "achievement", "season" };

void store_def_release(struct store_def *d)
{
    free(d->id);
    free(d->body);
    memset(d, 0, sizeof(*d));
}

int store_def_put(struct store *s, const char *app_id, enum store_def_kind kind,
                  const struct store_def *d, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_DEF_PUT, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, def_kinds[kind]);
    sqlite__bind_text(st, 3, d->id);
    sqlite__bind_text(st, 4, d->body);
    sqlite3_bind_int64(st, 5, d->created_at);
    sqlite3_bind_int64(st, 6, d->updated_at);
    return sqlite__step_done(s, st, err, errlen);
}

int store_def_delete(struct store *s, const char *app_id, enum store_def_kind kind,
                     const char *id, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_DEF_DELETE, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, def_kinds[kind]);
    sqlite__bind_text(st, 3, id);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    return sqlite3_changes(s->db) > 0 ? 0 : STORE_NOT_FOUND;
}

int store_defs_each(struct store *s, const char *app_id, enum store_def_kind kind,
                    void (*fn)(const struct store_def *, void *), void *arg, char *err,
                    size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_DEF_LIST, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, def_kinds[kind]);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_def d = {
            .id = (char *)sqlite3_column_text(st, 0),
            .body = (char *)sqlite3_column_text(st, 1),
            .created_at = sqlite3_column_int64(st, 2),
            .updated_at = sqlite3_column_int64(st, 3),
        };
        if (d.id && d.body)
            fn(&d, arg);
    }
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

int store_user_load(struct store *s, const char *app_id, const char *user_id,
                    char **attributes, char **state, int64_t *through, char *err,
                    size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_USER_LOAD, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, user_id);
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        *attributes = sqlite__col_text(st, 0);
        *state = sqlite__col_text(st, 1);
        if (through)
            *through = sqlite3_column_int64(st, 2);
    } else {
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(st);
    return ret;
}

int store_user_state_put(struct store *s, const char *app_id, const char *user_id,
                         const char *state, int64_t through, int64_t now, char *err,
                         size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_STATE_PUT, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, user_id);
    sqlite__bind_text(st, 3, state);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, through);
    return sqlite__step_done(s, st, err, errlen);
}

void store_states_add(struct buf *states, const char *app_id, const char *user_id,
                      const char *state, size_t state_len, int64_t now)
{
    buf_puts(states, states->len ? ",[" : "[[");
    buf_append_json_string(states, app_id, strlen(app_id));
    buf_putc(states, ',');
    buf_append_json_string(states, user_id, strlen(user_id));
    buf_putc(states, ',');
    buf_append(states, state, state_len);
    buf_putc(states, ',');
    buf_append_i64(states, now);
    buf_putc(states, ']');
}

int store_user_states_log(struct store *s, struct buf *states, int64_t through, char *err,
                          size_t errlen)
{
    if (!states->len)
        return 0;
    buf_putc(states, ']');
    sqlite3_stmt *st = sqlite__stmt(s, ST_STATE_LOG, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, states->data, (int)states->len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, through);
    return sqlite__step_done(s, st, err, errlen);
}

int store_game_replay(struct store *s, int64_t after,
                      int (*fn)(const struct store_event *ev, int64_t seq, void *arg),
                      void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_GAME_REPLAY, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, after);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_event ev = {
            .app_id = (char *)sqlite3_column_text(st, 1),
            .idempotency_key = (char *)sqlite3_column_text(st, 2),
            .user_id = (char *)sqlite3_column_text(st, 3),
            .event_type = (char *)sqlite3_column_text(st, 4),
            .metadata = (char *)sqlite3_column_text(st, 5),
            .occurred_at = sqlite3_column_int64(st, 6),
            .processed_at = sqlite3_column_int64(st, 7),
            .status = STORE_EVENT_PROCESSED,
            .effects = (char *)sqlite3_column_text(st, 8),
            .ledger_seq = sqlite3_column_int64(st, 9),
        };
        if (sqlite3_column_type(st, 10) == SQLITE_BLOB) {
            ev.fx = (unsigned char *)sqlite3_column_blob(st, 10);
            ev.fx_len = (size_t)sqlite3_column_bytes(st, 10);
        }
        if (!ev.app_id || !ev.user_id || !ev.event_type) { /* NOT NULL: out of memory */
            ret = sqlite__fail(s, err, errlen);
            break;
        }
        if ((ret = fn(&ev, sqlite3_column_int64(st, 0), arg)) < 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}


void store_ledger_release(struct store_ledger *l)
{
    free(l->id);
    free(l->name);
    free(l->reason);
    free(l->source);
    free(l->ref);
    free(l->metadata);
    memset(l, 0, sizeof(*l));
}

void store_ledger_dup(const struct store_ledger *from, struct store_ledger *to)
{
    *to = *from;
    to->id = from->id ? xstrdup(from->id) : NULL;
    to->name = from->name ? xstrdup(from->name) : NULL;
    to->reason = from->reason ? xstrdup(from->reason) : NULL;
    to->source = from->source ? xstrdup(from->source) : NULL;
    to->ref = from->ref ? xstrdup(from->ref) : NULL;
    to->metadata = from->metadata ? xstrdup(from->metadata) : NULL;
}

/* ---- the ledger -------------------------------------------------------------------------------
 * A write to the ledger (a grant, a reset, a spend; in rows of earlier versions also an
 * event's changes) is one row of ledger_rows, in the order written (consecutive pages),
 * holding its entries as JSON. When the entries have consecutive seqs (from the row's
 * first_seq), one source and one time, and ids that follow the first (uuid_add), as the
 * engine writes them, the row says those once:
 * [id, source, created_at, [kind, name, amount, balance_after, reason, ref, metadata], ...]
 * (four entries take about 380 bytes instead of 800). Otherwise, and in rows of
 * earlier versions, each entry is whole:
 * [[seq, id, kind, name, amount, balance_after, reason, source, ref, metadata, created_at], ...]
 * Metadata is a string (or null). The row is written once and stays. A fold lists each
 * user's new rows in one ledger_index row (app, user, first seq) -> "lseq,lseq,...", in seq
 * order: a user's rows since the last fold cost one B-tree insert at a random place instead of
 * one per entry. meta's 'ledger_indexed_through' is the last lseq indexed. Entries folded by
 * versions before the index were copied into the ledger table, keyed by (app, user, seq); they
 * are older than any indexed entry of the same user, so reads look there last.
 * An event's XP and currency changes are read from its own row instead (see store_ledger_log
 * in store.h): its place in the index is its seq, negated, and meta's
 * 'ledger_events_indexed_through' is the last event indexed. */

/* Appends ",<s as a JSON string>" (or ",null"). */
static void put_str(struct buf *b, const char *s)
{
    buf_putc(b, ',');
    if (s)
        buf_append_json_string(b, s, strlen(s));
    else
        buf_puts(b, "null");
}

static void put_int(struct buf *b, int64_t v)
{
    buf_putc(b, ',');
    buf_append_i64(b, v);
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Whether entries can be written in the compact form (see above). */
static bool ledger_compact(const struct store_ledger *v, size_t n)
{
    char id[UUID_LEN + 1];
    if (!v[0].id || !uuid_add(v[0].id, 0, id))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].kind, "xp") != 0 && strcmp(v[i].kind, "currency") != 0)
            return false; /* the compact form has room for these two only */
        if (i == 0)
            continue;
        if (v[i].seq != v[0].seq + (int64_t)i || v[i].created_at != v[0].created_at ||
            !same_str(v[i].source, v[0].source) || !v[i].id)
            return false;
        uuid_next(id); /* from the one before */
        if (strcmp(v[i].id, id) != 0)
            return false;
    }
    return true;
}

int store_ledger_log(struct store *s, const char *app_id, const char *user_id,
                     const struct store_ledger *v, size_t n, int64_t *lseq, char *err,
                     size_t errlen)
{
    assert(n >= 1);
    sqlite3_stmt *st = sqlite__stmt(s, ST_LEDGER_LOG, err, errlen);
    if (!st)
        return -1;
    struct buf *b = &s->row; /* kept: a row's text does not grow from nothing each time */
    buf_reset(b);
    bool compact = ledger_compact(v, n);
    if (compact) {
        buf_putc(b, '[');
        buf_append_json_string(b, v[0].id, UUID_LEN);
        put_str(b, v[0].source);
        put_int(b, v[0].created_at);
    }
    for (size_t i = 0; compact && i < n; i++) {
        const struct store_ledger *l = &v[i];
        buf_puts(b, strcmp(l->kind, "xp") == 0 ? ",[\"xp\"" : ",[\"currency\"");
        put_str(b, l->name);
        put_int(b, l->amount);
        put_int(b, l->balance_after);
        put_str(b, l->reason);
        put_str(b, l->ref);
        put_str(b, l->metadata);
        buf_putc(b, ']');
    }
    for (size_t i = 0; !compact && i < n; i++) {
        const struct store_ledger *l = &v[i];
        buf_puts(b, i ? ",[" : "[[");
        buf_append_i64(b, l->seq);
        put_str(b, l->id);
        put_str(b, l->kind);
        put_str(b, l->name);
        put_int(b, l->amount);
        put_int(b, l->balance_after);
        put_str(b, l->reason);
        put_str(b, l->source);
        put_str(b, l->ref);
        put_str(b, l->metadata);
        put_int(b, l->created_at);
        buf_putc(b, ']');
    }
    buf_putc(b, ']');
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, user_id);
    sqlite3_bind_int64(st, 3, v[0].seq);
    sqlite3_bind_text(st, 4, b->data, (int)b->len, SQLITE_STATIC);
    int rc = sqlite__step_done(s, st, err, errlen);
    sqlite__row_done(s);
    if (rc < 0)
        return -1;
    *lseq = sqlite3_last_insert_rowid(s->db);
    return 0;
}

static const char *entry_str(json_t *a, size_t i)
{
    return json_string_value(json_array_get(a, i)); /* NULL for null */
}

/* The compact form's shared part: [id, source, created_at, entries...]. */
struct row_head {
    int64_t first_seq;
    const char *id, *source;
    int64_t created_at;
};

/* Entry k of a compact row (borrowed from `a` and `id`, which receives its id); false when
 * it is not one. */
static bool entry_read_compact(json_t *a, const struct row_head *h, size_t k,
                               char id[UUID_LEN + 1], struct store_ledger *l)
{
    if (!json_is_array(a) || json_array_size(a) != 7 || !entry_str(a, 0) || !entry_str(a, 1) ||
        !json_is_integer(json_array_get(a, 2)) || !json_is_integer(json_array_get(a, 3)) ||
        !entry_str(a, 4) || !uuid_add(h->id, k, id))
        return false;
    l->seq = h->first_seq + (int64_t)k;
    l->id = id;
    l->kind = strcmp(entry_str(a, 0), "xp") == 0 ? "xp" : "currency";
    l->name = (char *)entry_str(a, 1);
    l->amount = json_integer_value(json_array_get(a, 2));
    l->balance_after = json_integer_value(json_array_get(a, 3));
    l->reason = (char *)entry_str(a, 4);
    l->source = (char *)h->source;
    l->ref = (char *)entry_str(a, 5);
    l->metadata = (char *)entry_str(a, 6);
    l->created_at = h->created_at;
    return true;
}

/* One entry of a row in the whole form (borrowed from `a`); false when it is not one. */
static bool entry_read(json_t *a, struct store_ledger *l)
{
    if (!json_is_array(a) || json_array_size(a) != 11 || !json_is_integer(json_array_get(a, 0)) ||
        !entry_str(a, 1) || !entry_str(a, 2) || !entry_str(a, 3) ||
        !json_is_integer(json_array_get(a, 4)) || !json_is_integer(json_array_get(a, 5)) ||
        !entry_str(a, 6) || !json_is_integer(json_array_get(a, 10)))
        return false;
    l->seq = json_integer_value(json_array_get(a, 0));
    l->id = (char *)entry_str(a, 1);
    l->kind = strcmp(entry_str(a, 2), "xp") == 0 ? "xp" : "currency";
    l->name = (char *)entry_str(a, 3);
    l->amount = json_integer_value(json_array_get(a, 4));
    l->balance_after = json_integer_value(json_array_get(a, 5));
    l->reason = (char *)entry_str(a, 6);
    l->source = (char *)entry_str(a, 7);
    l->ref = (char *)entry_str(a, 8);
    l->metadata = (char *)entry_str(a, 9);
    l->created_at = json_integer_value(json_array_get(a, 10));
    return true;
}

/* ---- entries read from an event's row (store_ledger_log) ---- */

/* The XP and currency effects of an event as ledger entries, oldest first. */
struct fx_entries {
    struct buf text;            /* the entries' names and refs, and the event's key */
    struct store_ledger *v;
    char (*ids)[UUID_LEN + 1];
    size_t n;
    bool whole;                 /* every effect could be read */
};

static void fx_entries_release(struct fx_entries *x)
{
    buf_release(&x->text);
    free(x->v);
    free(x->ids);
    memset(x, 0, sizeof(*x));
}

/* An achievement's tier is any JSON its definition's request could hold (REACTOR_MAX_JSON_DEPTH
 * at most 512), a level below the effect; the text is the store's own, so its values are not
 * counted. */
const struct json_limits sqlite__effects_limits = { 1024, SIZE_MAX };

/* One effect's members, as the reader found them: strings as offsets into the entries' text
 * (0: absent; the text starts with a byte no offset names), integers with a flag. */
struct fx_members {
    size_t type, track, currency, source, rule, ach;
    int64_t amount, total_xp, balance;
    bool has_amount, has_total_xp, has_balance;
};

/* Reads the integer that comes next (a number without fraction or exponent). */
static bool fx_int(struct jread *r, struct buf *num, int64_t *out, bool *ok)
{
    buf_reset(num);
    if (jread_peek(r) != JREAD_NUMBER)
        return jread_skip(r, NULL);
    if (!jread_skip(r, num))
        return false;
    *ok = !strpbrk(num->data, ".eE");
    *out = *ok ? strtoll(num->data, NULL, 10) : 0;
    return true;
}

/* Reads one effect object into m; false on a reader error (the document is damaged). */
static bool fx_effect(struct jread *r, struct buf *text, struct buf *num, struct fx_members *m)
{
    *m = (struct fx_members){ 0 };
    if (jread_peek(r) != JREAD_OBJECT)
        return jread_skip(r, NULL);
    if (!jread_object(r))
        return false;
    const char *key;
    size_t len;
    while (jread_member(r, &key, &len)) {
        size_t *str = NULL;
        bool ok = true;
        if (len == 4 && memcmp(key, "type", 4) == 0)
            str = &m->type;
        else if (len == 5 && memcmp(key, "track", 5) == 0)
            str = &m->track;
        else if (len == 8 && memcmp(key, "currency", 8) == 0)
            str = &m->currency;
        else if (len == 6 && memcmp(key, "source", 6) == 0)
            str = &m->source;
        else if (len == 6 && memcmp(key, "ruleId", 6) == 0)
            str = &m->rule;
        else if (len == 15 && memcmp(key, "achievementCode", 15) == 0)
            str = &m->ach;
        else if (len == 6 && memcmp(key, "amount", 6) == 0)
            ok = fx_int(r, num, &m->amount, &m->has_amount);
        else if (len == 7 && memcmp(key, "totalXp", 7) == 0)
            ok = fx_int(r, num, &m->total_xp, &m->has_total_xp);
        else if (len == 7 && memcmp(key, "balance", 7) == 0)
            ok = fx_int(r, num, &m->balance, &m->has_balance);
        else
            ok = jread_skip(r, NULL);
        if (str && jread_peek(r) == JREAD_STRING) {
            *str = text->len;
            ok = jread_string(r, text);
            buf_putc(text, '\0');
        } else if (str) {
            *str = 0;
            ok = jread_skip(r, NULL);
        }
        if (!ok)
            return false;
    }
    return !jread_failed(r);
}

static bool text_is(const struct buf *t, size_t off, const char *s)
{
    return off && strcmp(t->data + off, s) == 0;
}

/* The entries of the event at `seq` (key, processed_at, first ledger seq, effects text): 0,
 * or -1 when their ids cannot be made. Effects that are not read are left out and `whole`
 * cleared (the caller says so). The effects are walked without a tree (core/jread.h). */
static int fx_entries_read(struct store *s, int64_t seq, const char *key, int64_t at,
                           int64_t first, const char *effects, size_t len,
                           struct fx_entries *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    bool failed;
    const struct uuid_seq_key *ids_key = sqlite__event_key(s, false, &failed, err, errlen);
    if (!ids_key) {
        if (!failed)
            snprintf(err, errlen, "event %lld holds ledger entries but the store has no event "
                     "key to name them", (long long)seq);
        return -1;
    }
    struct jread *r = &s->fx;
    struct buf *num = &s->fx_num;
    if (s->fx_ready) {
        jread_reset(r, effects ? effects : "", effects ? len : 0, &sqlite__effects_limits);
    } else {
        jread_init(r, effects ? effects : "", effects ? len : 0, &sqlite__effects_limits);
        s->fx_ready = true;
    }
    buf_putc(&out->text, '\0'); /* offset 0: absent */
    size_t source = out->text.len;
    buf_puts(&out->text, key);
    buf_putc(&out->text, '\0');
    struct {
        size_t name, ref;
        int64_t amount, total;
        bool xp, rule;
        size_t place;
    } *found = NULL;
    size_t n_found = 0, cap_found = 0, k = 0;
    bool reading = jread_peek(r) == JREAD_ARRAY && jread_array(r);
    out->whole = reading;
    while (reading && jread_element(r)) {
        struct fx_members m;
        if (!fx_effect(r, &out->text, num, &m)) {
            reading = out->whole = false;
            break;
        }
        bool xp = text_is(&out->text, m.type, "xp.awarded");
        if (!xp && !text_is(&out->text, m.type, "currency.changed"))
            continue; /* not a ledger entry (or damage: then not one either) */
        /* Entry k keeps its seq even after one that could not be read; ids tell apart the
         * first 65,536 (no rule set makes that many). */
        size_t place = k++;
        size_t name = xp ? m.track : m.currency;
        if (!name || !m.has_amount || !(xp ? m.has_total_xp : m.has_balance) ||
            place > UINT16_MAX) {
            out->whole = false;
            continue;
        }
        bool rule = text_is(&out->text, m.source, "rule");
        if (n_found == cap_found) {
            cap_found = cap_found ? 2 * cap_found : 8;
            found = xrealloc(found, cap_found * sizeof(*found));
        }
        found[n_found].name = name;
        found[n_found].ref = rule ? m.rule : m.ach;
        found[n_found].amount = m.amount;
        found[n_found].total = xp ? m.total_xp : m.balance;
        found[n_found].xp = xp;
        found[n_found].rule = rule;
        found[n_found++].place = place;
    }
    if (jread_failed(r) || (reading && !jread_end(r)))
        out->whole = false;
    /* The text is complete: the entries point into it now. */
    out->v = xmalloc((n_found ? n_found : 1) * sizeof(*out->v));
    out->ids = xmalloc((n_found ? n_found : 1) * sizeof(*out->ids));
    for (size_t i = 0; i < n_found; i++) {
        if (uuid_v8_seq(ids_key, at, (uint64_t)seq, (uint16_t)found[i].place, out->ids[i]) < 0) {
            snprintf(err, errlen, "cannot make the id of a ledger entry of event %lld",
                     (long long)seq);
            free(found);
            fx_entries_release(out);
            return -1;
        }
        out->v[i] = (struct store_ledger){
            .seq = first + (int64_t)found[i].place,
            .id = out->ids[i],
            .kind = found[i].xp ? "xp" : "currency",
            .name = out->text.data + found[i].name,
            .amount = found[i].amount,
            .balance_after = found[i].total,
            .reason = found[i].rule ? "rule" : "achievement",
            .source = out->text.data + source,
            .ref = found[i].ref ? out->text.data + found[i].ref : NULL,
            .created_at = at,
        };
    }
    out->n = n_found;
    free(found);
    return 0;
}

/* store_ledger_logged of the event at seq: from its row, or from what retention kept of it
 * (ledger_moved, the same columns). */
static int event_logged(struct store *s, int64_t seq,
                        bool (*fn)(const struct store_ledger *, void *), void *arg, char *err,
                        size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_LEDGER_EVENT, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, seq);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        if (!(st = sqlite__stmt(s, ST_LEDGER_MOVED_GET, err, errlen)))
            return -1;
        sqlite3_bind_int64(st, 1, seq);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    }
    /* Effects in the compact form are read as their JSON (rows written before it hold JSON). */
    const char *effects = (const char *)sqlite3_column_text(st, 3);
    size_t len = (size_t)sqlite3_column_bytes(st, 3);
    bool damaged = false;
    if (!effects && sqlite3_column_type(st, 4) == SQLITE_BLOB) {
        buf_reset(&s->fx_json);
        damaged = fxpack_json_readable(sqlite3_column_blob(st, 4),
                                       (size_t)sqlite3_column_bytes(st, 4), &s->fx_json) < 0;
        effects = s->fx_json.data;
        len = s->fx_json.len;
    }
    struct fx_entries x;
    rc = fx_entries_read(s, seq, (const char *)sqlite3_column_text(st, 0),
                         sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2), effects, len,
                         &x, err, errlen);
    sqlite3_reset(st);
    x.whole = x.whole && !damaged;
    if (rc < 0)
        return -1;
    for (size_t i = x.n; i-- > 0;)
        if (!fn(&x.v[i], arg))
            break;
    if (!x.whole)
        log_error("an event's effects are malformed; its unreadable ledger entries are not "
                  "shown", LOG_I("seq", seq));
    fx_entries_release(&x);
    return 0;
}

int store_ledger_logged(struct store *s, int64_t lseq,
                        bool (*fn)(const struct store_ledger *, void *), void *arg, char *err,
                        size_t errlen)
{
    if (lseq < 0)
        return event_logged(s, -lseq, fn, arg, err, errlen);
    sqlite3_stmt *st = sqlite__stmt(s, ST_LEDGER_LOGGED, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, lseq);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    }
    json_t *v = json_loadb((const char *)sqlite3_column_text(st, 0),
                           (size_t)sqlite3_column_bytes(st, 0), 0, NULL);
    struct row_head h = { .first_seq = sqlite3_column_int64(st, 1) };
    sqlite3_reset(st);
    bool whole = json_is_array(v);
    size_t skip = 0; /* the compact form's shared members */
    if (whole && json_is_string(json_array_get(v, 0))) {
        json_t *src = json_array_get(v, 1), *at = json_array_get(v, 2);
        h.id = json_string_value(json_array_get(v, 0));
        h.source = json_string_value(src);
        h.created_at = json_integer_value(at);
        skip = 3;
        whole = json_array_size(v) > skip && (json_is_string(src) || json_is_null(src)) &&
                json_is_integer(at);
    }
    for (size_t i = whole ? json_array_size(v) : 0; i-- > skip;) {
        struct store_ledger l;
        char id[UUID_LEN + 1];
        if (skip ? !entry_read_compact(json_array_get(v, i), &h, i - skip, id, &l)
                 : !entry_read(json_array_get(v, i), &l)) {
            whole = false;
            continue;
        }
        if (!fn(&l, arg))
            break;
    }
    json_decref(v);
    if (!whole)
        log_error("a ledger row is malformed; its unreadable entries are not shown",
                  LOG_I("lseq", lseq));
    return 0;
}

/* Reads the ledger columns of a row of the ledger table (the SELECTs share their order). */
static void ledger_row(sqlite3_stmt *st, struct store_ledger *l)
{
    l->seq = sqlite3_column_int64(st, 0);
    l->kind = strcmp((const char *)sqlite3_column_text(st, 2), "xp") == 0 ? "xp" : "currency";
    l->amount = sqlite3_column_int64(st, 4);
    l->balance_after = sqlite3_column_int64(st, 5);
    l->created_at = sqlite3_column_int64(st, 10);
    l->id = (char *)sqlite3_column_text(st, 1);
    l->name = (char *)sqlite3_column_text(st, 3);
    l->reason = (char *)sqlite3_column_text(st, 6);
    l->source = (char *)sqlite3_column_text(st, 7);
    l->ref = (char *)sqlite3_column_text(st, 8);
    l->metadata = (char *)sqlite3_column_text(st, 9);
}

/* The lseqs of an index row; false when it is malformed (damage: logged by the caller). */
static bool lseqs_parse(const char *text, int64_t **v, size_t *n, size_t *cap)
{
    *n = 0;
    for (const char *p = text; p && *p;) {
        char *end;
        long long x = strtoll(p, &end, 10);
        if (end == p || (*end != ',' && *end != '\0') || x == 0 || x == LLONG_MIN)
            return false;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *v = xrealloc(*v, *cap * sizeof(**v));
        }
        (*v)[(*n)++] = x;
        p = *end ? end + 1 : end;
    }
    return true;
}

static void lseqs_damaged(sqlite3_stmt *idx, const char *app_id, const char *user_id)
{
    log_error("a ledger index row is malformed; the rows it lists are not shown",
              LOG_S("app", app_id), LOG_S("user", user_id),
              LOG_I("first_seq", sqlite3_column_int64(idx, 0)));
}

/* A page being read, newest first: entries below `below`, of `kind` if set, to fn. */
struct page {
    int64_t below;
    int limit;
    const char *kind;
    void (*fn)(const struct store_ledger *, void *);
    void *arg;
};

static bool page_entry(const struct store_ledger *l, void *arg)
{
    struct page *p = arg;
    if (l->seq >= p->below)
        return true;
    p->below = l->seq;
    if (!p->kind || strcmp(l->kind, p->kind) == 0) {
        p->fn(l, p->arg);
        p->limit--;
    }
    return p->limit > 0;
}

int store_ledger_page_logged(struct store *s, int64_t lseq, int64_t *before_seq, int *limit,
                             const char *kind, void (*fn)(const struct store_ledger *, void *),
                             void *arg, char *err, size_t errlen)
{
    struct page p = { *before_seq, *limit, kind, fn, arg };
    int rc = store_ledger_logged(s, lseq, page_entry, &p, err, errlen);
    *before_seq = p.below;
    *limit = p.limit;
    return rc == STORE_NOT_FOUND ? 0 : rc;
}

/* The first seq a statement (first_seq) finds by key, into *first: 0, STORE_NOT_FOUND, or
 * -1. */
static int first_seq_by(struct store *s, enum stmt_id which, int64_t key, int64_t *first,
                        char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, which, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, key);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *first = sqlite3_column_int64(st, 0);
    int ret = rc == SQLITE_ROW    ? 0
              : rc == SQLITE_DONE ? STORE_NOT_FOUND
                                  : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

/* The first seq of the logged row at lseq into *first: 0, STORE_NOT_FOUND, or -1. An event's
 * place is its row, or its copy once retention deleted it. */
static int row_first_seq(struct store *s, int64_t lseq, int64_t *first, char *err,
                         size_t errlen)
{
    if (lseq > 0)
        return first_seq_by(s, ST_LEDGER_ROW_FIRST, lseq, first, err, errlen);
    int rc = first_seq_by(s, ST_LEDGER_EVENT_FIRST, -lseq, first, err, errlen);
    return rc == STORE_NOT_FOUND ? first_seq_by(s, ST_LEDGER_MOVED_FIRST, -lseq, first, err, errlen)
                                 : rc;
}

/* Of an index row's rows (in seq order), the place of the last whose first seq is below
 * `below`, into *pos: 0, STORE_NOT_FOUND when there is none, or -1. The newest is tried
 * first (a page from the top starts there); else a binary search, so that a page deep in a
 * long history reads a few rows, not every newer one. A listed row that is not there
 * counts as above. */
static int last_row_below(struct store *s, const int64_t *lseqs, size_t n, int64_t below,
                          size_t *pos, char *err, size_t errlen)
{
    if (n == 0)
        return STORE_NOT_FOUND;
    int64_t first;
    int rc = row_first_seq(s, lseqs[n - 1], &first, err, errlen);
    if (rc == -1)
        return -1;
    if (rc == 0 && first < below) {
        *pos = n - 1;
        return 0;
    }
    size_t lo = 0, hi = n - 1; /* how many rows begin below `below`: in [lo, hi] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        rc = row_first_seq(s, lseqs[mid], &first, err, errlen);
        if (rc == -1)
            return -1;
        if (rc == 0 && first < below)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return STORE_NOT_FOUND;
    *pos = lo - 1;
    return 0;
}

int store_ledger_page(struct store *s, const char *app_id, const char *user_id,
                      int64_t before_seq, int limit, const char *kind,
                      void (*fn)(const struct store_ledger *, void *), void *arg, char *err,
                      size_t errlen)
{
    /* Indexed rows, newest first. */
    sqlite3_stmt *idx = sqlite__stmt(s, ST_LEDGER_INDEX_PAGE, err, errlen);
    if (!idx)
        return -1;
    sqlite__bind_text(idx, 1, app_id);
    sqlite__bind_text(idx, 2, user_id);
    sqlite3_bind_int64(idx, 3, before_seq);
    int64_t *lseqs = NULL, below = before_seq;
    size_t n = 0, cap = 0;
    int rc = SQLITE_DONE, ret = 0;
    while (ret == 0 && limit > 0 && (rc = sqlite3_step(idx)) == SQLITE_ROW) {
        if (!lseqs_parse((const char *)sqlite3_column_text(idx, 1), &lseqs, &n, &cap)) {
            lseqs_damaged(idx, app_id, user_id);
            continue;
        }
        size_t start = 0;
        int found = last_row_below(s, lseqs, n, below, &start, err, errlen);
        if (found == -1)
            ret = -1;
        for (size_t i = start + 1; found == 0 && ret == 0 && i-- > 0 && limit > 0;)
            ret = store_ledger_page_logged(s, lseqs[i], &below, &limit, kind, fn, arg, err,
                                           errlen);
    }
    if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = sqlite__fail(s, err, errlen);
    sqlite3_reset(idx);
    free(lseqs);
    if (ret < 0 || limit <= 0)
        return ret;

    /* Then entries that earlier versions folded into the ledger table. */
    sqlite3_stmt *st = sqlite__stmt(s, kind ? ST_LEDGER_PAGE_KIND : ST_LEDGER_PAGE, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, user_id);
    sqlite3_bind_int64(st, 3, below);
    sqlite3_bind_int(st, 4, limit);
    if (kind)
        sqlite__bind_text(st, 5, kind);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_ledger l;
        ledger_row(st, &l);
        fn(&l, arg);
    }
    ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

/* Looking for one entry by seq. */
struct wanted {
    int64_t seq;
    struct store_ledger *out;
    bool found;
};

static bool wanted_entry(const struct store_ledger *l, void *arg)
{
    struct wanted *w = arg;
    if (l->seq != w->seq)
        return true;
    store_ledger_dup(l, w->out);
    w->found = true;
    return false;
}

int store_ledger_logged_get(struct store *s, int64_t lseq, int64_t seq, struct store_ledger *out,
                            char *err, size_t errlen)
{
    struct wanted w = { seq, out, false };
    int rc = store_ledger_logged(s, lseq, wanted_entry, &w, err, errlen);
    if (rc < 0)
        return rc;
    return w.found ? 0 : STORE_NOT_FOUND;
}

int store_ledger_get(struct store *s, const char *app_id, const char *user_id, int64_t seq,
                     struct store_ledger *out, char *err, size_t errlen)
{
    sqlite3_stmt *idx = sqlite__stmt(s, ST_LEDGER_INDEX_AT, err, errlen);
    if (!idx)
        return -1;
    sqlite__bind_text(idx, 1, app_id);
    sqlite__bind_text(idx, 2, user_id);
    sqlite3_bind_int64(idx, 3, seq);
    int rc = sqlite3_step(idx), ret = STORE_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        int64_t *lseqs = NULL;
        size_t n = 0, cap = 0;
        if (lseqs_parse((const char *)sqlite3_column_text(idx, 1), &lseqs, &n, &cap)) {
            /* The row holding seq: the last whose first seq is not above it. */
            size_t pos;
            ret = last_row_below(s, lseqs, n, seq < INT64_MAX ? seq + 1 : seq, &pos, err,
                                 errlen);
            if (ret == 0)
                ret = store_ledger_logged_get(s, lseqs[pos], seq, out, err, errlen);
        } else {
            lseqs_damaged(idx, app_id, user_id);
        }
        free(lseqs);
    } else if (rc != SQLITE_DONE) {
        ret = sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(idx);
    if (ret != STORE_NOT_FOUND)
        return ret;
    sqlite3_stmt *st = sqlite__stmt(s, ST_LEDGER_GET, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, user_id);
    sqlite3_bind_int64(st, 3, seq);
    rc = sqlite3_step(st);
    ret = 0;
    if (rc == SQLITE_ROW) {
        struct store_ledger l;
        ledger_row(st, &l);
        store_ledger_dup(&l, out);
    } else {
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(st);
    return ret;
}

/* Writes the index row of one user listing its new rows' places. */
static int index_put(struct store *s, const char *app, size_t app_len, const char *user,
                     size_t user_len, int64_t first_seq, const struct buf *lseqs, char *err,
                     size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_LEDGER_INDEX_PUT, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, app, (int)app_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, (int)user_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, first_seq);
    sqlite3_bind_text(st, 4, lseqs->data, (int)lseqs->len, SQLITE_STATIC);
    return sqlite__step_done(s, st, err, errlen);
}

/* A mark of meta (ST_LEDGER_INDEXED_GET, ST_LEDGER_EVENTS_INDEXED_GET): 0 when absent. */
static int mark_get(struct store *s, enum stmt_id id, int64_t *v, char *err,
                    size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, id, err, errlen);
    if (!st)
        return -1;
    *v = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
}

static int mark_set(struct store *s, enum stmt_id id, int64_t v, char *err,
                    size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, id, err, errlen);
    if (!st)
        return -1;
    char text[24];
    snprintf(text, sizeof(text), "%lld", (long long)v);
    sqlite__bind_text(st, 1, text);
    return sqlite__step_done(s, st, err, errlen);
}

int store_game_events_mark(struct store *s, int64_t *mark, char *err, size_t errlen)
{
    return mark_get(s, ST_LEDGER_EVENTS_INDEXED_GET, mark, err, errlen);
}

int sqlite__ledger_before_expire(struct store *s, int64_t *upto, char *err, size_t errlen)
{
    /* Events after the last fold wait: the fold that reads the logs back finds their ledger
     * entries in events only, and applies them again to their users' states
     * (store_game_replay). */
    int64_t mark;
    if (mark_get(s, ST_LEDGER_EVENTS_INDEXED_GET, &mark, err, errlen) < 0)
        return -1;
    if (*upto > mark)
        *upto = mark;
    if (*upto <= 0)
        return 0;
    sqlite3_stmt *st = sqlite__stmt(s, ST_LEDGER_MOVED_PUT, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, *upto);
    return sqlite__step_done(s, st, err, errlen);
}

int store_ledger_indexed_through(struct store *s, int64_t through, char *err, size_t errlen)
{
    /* Every event written so far has its entries indexed too (the caller's promise): the next
     * fold that reads the logs back reads only the events after it. */
    int64_t next;
    if ((through > 0 && mark_set(s, ST_LEDGER_INDEXED_SET, through, err, errlen) < 0) ||
        store_event_next_seq(s, &next, err, errlen) < 0)
        return -1;
    return mark_set(s, ST_LEDGER_EVENTS_INDEXED_SET, next - 1, err, errlen);
}

int store_ledger_index_user(struct store *s, const char *app_id, const char *user_id,
                            int64_t first_seq, const int64_t *lseqs, size_t n, char *err,
                            size_t errlen)
{
    if (n == 0)
        return 0;
    struct buf *list = &s->row; /* a fold writes thousands of these: no buffer each */
    buf_reset(list);
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(list, ',');
        buf_append_i64(list, lseqs[i]);
    }
    int rc = index_put(s, app_id, strlen(app_id), user_id, strlen(user_id), first_seq, list, err,
                       errlen);
    sqlite__row_done(s);
    return rc;
}

/* index_put for `who`: app '\0' user. */
static int put_who(struct store *s, const struct buf *who, size_t app_len, int64_t first_seq,
                   const struct buf *lseqs, char *err, size_t errlen)
{
    return index_put(s, who->data, app_len, who->data + app_len + 1, who->len - app_len - 1,
                     first_seq, lseqs, err, errlen);
}

/* Indexes the ledger rows written since the last fold, read in (app, user, place) order: one
 * ledger_index row per user, written in key order. *rows receives how many it indexed. */
static int ledger_index(struct store *s, int64_t *rows, char *err, size_t errlen)
{
    int64_t through, events_through;
    if (mark_get(s, ST_LEDGER_INDEXED_GET, &through, err, errlen) < 0 ||
        mark_get(s, ST_LEDGER_EVENTS_INDEXED_GET, &events_through, err, errlen) < 0)
        return -1;
    sqlite3_stmt *scan = sqlite__stmt(s, ST_LEDGER_UNINDEXED, err, errlen);
    if (!scan)
        return -1;
    sqlite3_bind_int64(scan, 1, through);
    sqlite3_bind_int64(scan, 2, events_through);
    int rc;
    struct buf who = BUF_INIT, lseqs = BUF_INIT; /* the user being listed, its places */
    size_t app_len = 0;
    int64_t last = through, first_seq = 0, n = 0;
    int ret = 0;
    while ((rc = sqlite3_step(scan)) == SQLITE_ROW) {
        int64_t lseq = sqlite3_column_int64(scan, 0);
        const char *app = (const char *)sqlite3_column_text(scan, 1);
        const char *user = (const char *)sqlite3_column_text(scan, 2);
        size_t alen = (size_t)sqlite3_column_bytes(scan, 1);
        size_t ulen = (size_t)sqlite3_column_bytes(scan, 2);
        last = lseq > last ? lseq : last;
        n++;
        if (lseqs.len && alen == app_len && who.len == alen + 1 + ulen &&
            memcmp(who.data, app, alen) == 0 && memcmp(who.data + alen + 1, user, ulen) == 0) {
            buf_putc(&lseqs, ',');
        } else {
            if (lseqs.len && (ret = put_who(s, &who, app_len, first_seq, &lseqs, err,
                                            errlen)) < 0)
                break;
            buf_reset(&who);
            buf_append(&who, app, alen);
            buf_putc(&who, '\0');
            buf_append(&who, user, ulen);
            app_len = alen;
            first_seq = sqlite3_column_int64(scan, 3);
            buf_reset(&lseqs);
        }
        buf_append_i64(&lseqs, lseq);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = sqlite__fail(s, err, errlen);
    sqlite3_reset(scan);
    if (ret == 0 && lseqs.len)
        ret = put_who(s, &who, app_len, first_seq, &lseqs, err, errlen);
    buf_release(&who);
    buf_release(&lseqs);
    if (ret == 0)
        ret = store_ledger_indexed_through(s, last != through ? last : 0, err, errlen);
    *rows = n;
    return ret;
}

int store_state_log_clear(struct store *s, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_FOLD_STATE_CLEAR, err, errlen);
    return st ? sqlite__step_done(s, st, err, errlen) : -1;
}

int store_ledger_fold(struct store *s, int64_t *rows, char *err, size_t errlen)
{
    int64_t n = 0;
    int rc = ledger_index(s, &n, err, errlen);
    if (rows)
        *rows = n;
    return rc;
}

int store_game_fold(struct store *s, int64_t *rows, char *err, size_t errlen)
{
    int64_t n = 0, indexed = 0;
    /* A savepoint: a step that fails undoes the others, so nothing is folded twice. */
    if (sqlite__exec(s, "SAVEPOINT game_fold", err, errlen) < 0)
        return -1;
    int ret = 0;
    /* Rows that are not JSON (damage) cannot be folded: say which before they go. */
    sqlite3_stmt *bad = sqlite__stmt(s, ST_FOLD_STATE_BAD, err, errlen);
    if (!bad)
        ret = -1;
    while (ret == 0 && sqlite3_step(bad) == SQLITE_ROW)
        log_error("a row of the state log is not JSON; the states it held are lost",
                  LOG_I("seq", sqlite3_column_int64(bad, 0)));
    if (bad)
        sqlite3_reset(bad);
    static const enum stmt_id steps[] = { ST_FOLD_STATE, ST_FOLD_STATE_CLEAR };
    for (size_t i = 0; ret == 0 && i < sizeof(steps) / sizeof(steps[0]); i++) {
        sqlite3_stmt *st = sqlite__stmt(s, steps[i], err, errlen);
        if (!st || sqlite__step_done(s, st, err, errlen) < 0)
            ret = -1;
        else if (steps[i] == ST_FOLD_STATE)
            n += sqlite3_changes64(s->db); /* users whose state was folded */
    }
    if (ret == 0)
        ret = ledger_index(s, &indexed, err, errlen);
    if (ret < 0) {
        sqlite__exec(s, "ROLLBACK TO game_fold; RELEASE game_fold", NULL, 0);
        return -1;
    }
    if (rows)
        *rows = n + indexed;
    return sqlite__exec(s, "RELEASE game_fold", err, errlen);
}

int store_spend_key_put(struct store *s, const char *app_id, const char *key,
                        const char *user_id, int64_t seq, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_SPEND_KEY_PUT, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, key);
    sqlite__bind_text(st, 3, user_id);
    sqlite3_bind_int64(st, 4, seq);
    if (sqlite__step_done(s, st, err, errlen) < 0)
        return -1;
    return sqlite3_changes(s->db) > 0 ? 0 : STORE_CONFLICT;
}

int store_spend_key_get(struct store *s, const char *app_id, const char *key, char **user_id,
                        int64_t *seq, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_SPEND_KEY_GET, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, key);
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        *user_id = sqlite__col_text(st, 0);
        *seq = sqlite3_column_int64(st, 1);
    } else {
        ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(st);
    return ret;
}
