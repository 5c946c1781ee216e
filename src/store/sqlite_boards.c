/* Leaderboards in SQLite: boards and their scores (see store.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/sqlite_int.h"
#include "store/store.h"

int store_board_create(struct store *s, const char *app_id, const char *metric,
                       const char *period, int64_t now, int64_t *id, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_BOARD_CREATE, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, app_id);
    sqlite__bind_text(st, 2, metric);
    sqlite__bind_text(st, 3, period);
    sqlite3_bind_int64(st, 4, now);
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st);
        ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    } else {
        ret = rc == SQLITE_DONE ? STORE_CONFLICT : sqlite__fail(s, err, errlen);
    }
    sqlite3_reset(st);
    return ret;
}

int store_board_touch(struct store *s, int64_t id, int64_t now, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_BOARD_TOUCH, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    return sqlite__step_done(s, st, err, errlen);
}

int store_boards_each(struct store *s, void (*fn)(const struct store_board *, void *),
                      void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_BOARD_ALL, err, errlen);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_board b = {
            .id = sqlite3_column_int64(st, 0),
            .app_id = (const char *)sqlite3_column_text(st, 1),
            .metric = (const char *)sqlite3_column_text(st, 2),
            .period = (const char *)sqlite3_column_text(st, 3),
            .updated_at = sqlite3_column_int64(st, 4),
        };
        if (b.app_id && b.metric && b.period)
            fn(&b, arg);
    }
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

/* A row of the score log is one batch: user_id '' and, for each user, "<id length>:<id>",
 * "@<at>=" (the time of its first change), then its changes, "board:delta" comma-separated,
 * a change at another time as "board:delta:at", then ';' (a few bytes a change, and readable
 * by hand). Batch rows written before the user's time was taken out have "board:delta:at"
 * right after the id; rows of earlier versions hold one user each: its id in user_id, its
 * changes alone, "board:delta:at". */
void store_board_log_user(struct buf *row, const char *user_id, size_t len,
                          const struct store_board_change *v, size_t n)
{
    buf_append_u64(row, len);
    buf_putc(row, ':');
    buf_append(row, user_id, len);
    buf_putc(row, '@');
    buf_append_i64(row, n ? v[0].at : 0);
    buf_putc(row, '=');
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(row, ',');
        buf_append_i64(row, v[i].board);
        buf_putc(row, ':');
        buf_append_i64(row, v[i].delta);
        if (v[i].at != v[0].at) {
            buf_putc(row, ':');
            buf_append_i64(row, v[i].at);
        }
    }
    buf_putc(row, ';');
}

int store_board_log(struct store *s, const struct buf *row, int64_t *seq, char *err,
                    size_t errlen)
{
    if (!row->len)
        return 0;
    sqlite3_stmt *st = sqlite__stmt(s, ST_BOARD_LOG, err, errlen);
    if (!st)
        return -1;
    sqlite__bind_text(st, 1, "");
    sqlite3_bind_text(st, 2, row->data, (int)row->len, SQLITE_STATIC);
    int rc = sqlite__step_done(s, st, err, errlen);
    if (rc == 0 && seq)
        *seq = sqlite3_last_insert_rowid(s->db);
    return rc;
}

int store_board_log_rows(struct store *s, int64_t *rows, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_BOARD_LOG_ROWS, err, errlen);
    if (!st)
        return -1;
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW)
        *rows = sqlite3_column_int64(st, 0);
    else
        ret = sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}

static int64_t capped_add(int64_t a, int64_t b, int64_t cap)
{
    return b > cap - a ? cap : a + b;
}

/* Upserts one (board, user)'s folded change. */
static int fold_one(struct store *s, int64_t board, const char *user, size_t len, int64_t delta,
                    int64_t at, int64_t cap, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_BOARD_FOLD, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, board);
    sqlite3_bind_text(st, 2, user, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, delta);
    sqlite3_bind_int64(st, 4, at);
    sqlite3_bind_int64(st, 5, cap);
    return sqlite__step_done(s, st, err, errlen);
}

/* A fold's sums, one per (board, user): open addressing, cap a power of two. */
struct fold_sum {
    int64_t board, delta, at;
    uint64_t hash;
    char *user;                 /* owned; NULL: a free slot */
    size_t len;
};

struct fold_sums {
    struct fold_sum *v;
    size_t cap, n;
    uint64_t seed;              /* user ids come from clients */
};

static uint64_t sum_hash(uint64_t seed, int64_t board, const char *user, size_t len)
{
    uint64_t h = hash_fnv1a((seed ^ (uint64_t)board) * HASH_FNV_PRIME, user, len);
    return h ^ (h >> 29);
}

static struct fold_sum *sum_slot(struct fold_sums *t, int64_t board, const char *user,
                                 size_t len)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        struct fold_sum *v = xcalloc(cap, sizeof(*v));
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->v[i].user)
                continue;
            size_t j = t->v[i].hash & (cap - 1);
            while (v[j].user)
                j = (j + 1) & (cap - 1);
            v[j] = t->v[i];
        }
        free(t->v);
        t->v = v;
        t->cap = cap;
    }
    uint64_t h = sum_hash(t->seed, board, user, len);
    for (size_t j = h & (t->cap - 1);; j = (j + 1) & (t->cap - 1)) {
        struct fold_sum *x = &t->v[j];
        if (!x->user) {
            *x = (struct fold_sum){ board, 0, 0, h, xmalloc(len + 1), len };
            memcpy(x->user, user, len);
            x->user[len] = '\0';
            t->n++;
            return x;
        }
        if (x->hash == h && x->board == board && x->len == len && memcmp(x->user, user, len) == 0)
            return x;
    }
}

/* One field of a change: digits (a leading '-' allowed) then `end`, where the end of the row
 * also ends a change's last field (`end` ','). */
/* A number (a leading '-' allowed) at *p, which is left on the byte after it. */
static bool change_num(const char **p, int64_t *out)
{
    const char *s = *p;
    bool neg = *s == '-';
    s += neg;
    if (*s < '0' || *s > '9')
        return false;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (uint64_t)INT64_MAX / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    *p = s;
    return true;
}

/* Adds one user's changes to the sums, to the end of the text: "board:delta:at", or with a
 * time for the user (`at` not NULL) "board:delta" where a change at that time leaves its
 * own out; comma-separated. False when they are malformed (the changes before the fault are
 * added). */
static bool sum_user(struct fold_sums *t, const char *user, size_t len, const char *changes,
                     const int64_t *at, int64_t cap)
{
    const char *p = changes;
    while (*p) {
        int64_t board, delta, when;
        if (!change_num(&p, &board) || *p++ != ':' || !change_num(&p, &delta))
            return false;
        if (*p == ':') {
            p++;
            if (!change_num(&p, &when))
                return false;
        } else if (at) {
            when = *at;
        } else {
            return false;
        }
        if (*p != ',' && *p != '\0')
            return false;
        p += *p == ',';
        struct fold_sum *x = sum_slot(t, board, user, len);
        x->delta = capped_add(x->delta, delta < 0 ? 0 : delta, cap);
        x->at = when; /* rows are read in log order: the last change's time */
    }
    return true;
}

/* Adds a row's changes to the sums: a batch's (user '') or, from earlier versions, one
 * user's. False when the row is malformed (the changes before the fault are added). */
static bool sum_row(struct fold_sums *t, const char *user, size_t len, const char *changes,
                    size_t changes_len, int64_t cap, struct buf *part)
{
    if (len)
        return sum_user(t, user, len, changes, NULL, cap);
    const char *p = changes, *end = changes + changes_len;
    while (p < end) {
        uint64_t ulen;
        const char *q = p;
        if (!sqlite__decimal(&q, end, UINT32_MAX, &ulen) || q == end || *q != ':' ||
            ulen == 0 || ulen > (uint64_t)(end - q - 1))
            return false;
        const char *id = q + 1, *semi = memchr(id + ulen, ';', (size_t)(end - id - ulen));
        if (!semi)
            return false;
        buf_reset(part);
        buf_append(part, id, (size_t)ulen);
        buf_putc(part, '\0');
        size_t changes_at = part->len;
        buf_append(part, id + ulen, (size_t)(semi - id - ulen));
        buf_putc(part, '\0');
        const char *c = part->data + changes_at;
        if (memchr(c, '\0', part->len - changes_at - 1))
            return false;
        /* "@<at>=" first: the user's time (rows of this form; earlier batch rows have none). */
        int64_t at, *at_p = NULL;
        if (*c == '@') {
            c++;
            if (!change_num(&c, &at) || *c++ != '=')
                return false;
            at_p = &at;
        }
        if (!sum_user(t, part->data, (size_t)ulen, c, at_p, cap))
            return false;
        p = semi + 1;
    }
    return true;
}

/* Sums in (board, user) order: the upserts walk board_scores once. */
static int sum_cmp(const void *a, const void *b)
{
    const struct store_board_sum *x = a, *y = b;
    if (x->board != y->board)
        return x->board < y->board ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->user, y->user, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The log read in its order and summed in C per (board, user): exact, and capped without
 * overflow (SQLite's sum() fails on overflow, which would stop every later fold). *v gets
 * the sums (their users owned by t), *n how many. */
static int sum_log(struct store *s, int64_t cap, struct fold_sums *t, struct store_board_sum **v,
                   size_t *n, char *err, size_t errlen)
{
    sqlite3_stmt *scan = sqlite__stmt(s, ST_BOARD_LOG_SCAN, err, errlen);
    if (!scan)
        return -1;
    sqlite3_randomness(sizeof(t->seed), &t->seed);
    int rc, ret = 0;
    struct buf part = BUF_INIT;
    while ((rc = sqlite3_step(scan)) == SQLITE_ROW) {
        const char *u = (const char *)sqlite3_column_text(scan, 1);
        size_t len = (size_t)sqlite3_column_bytes(scan, 1);
        const char *changes = (const char *)sqlite3_column_text(scan, 2);
        if (u && changes &&
            !sum_row(t, u, len, changes, (size_t)sqlite3_column_bytes(scan, 2), cap, &part))
            log_error("a leaderboard score log row is malformed; its changes from the fault on "
                      "are not counted",
                      LOG_I("seq", sqlite3_column_int64(scan, 0)),
                      LOG_S("user", len ? u : "(a batch's row: several)"));
    }
    buf_release(&part);
    if (rc != SQLITE_DONE)
        ret = sqlite__fail(s, err, errlen);
    sqlite3_reset(scan);
    *v = ret == 0 && t->n ? xmalloc(t->n * sizeof(**v)) : NULL;
    *n = 0;
    for (size_t i = 0; *v && i < t->cap; i++) {
        const struct fold_sum *x = &t->v[i];
        if (x->user)
            (*v)[(*n)++] = (struct store_board_sum){ x->board, x->user, x->len, x->delta, x->at };
    }
    return ret;
}

int store_board_fold(struct store *s, int64_t cap, int64_t *rows, char *err, size_t errlen)
{
    int64_t n = 0;
    if (store_board_log_rows(s, &n, err, errlen) < 0)
        return -1;
    if (rows)
        *rows = n;
    if (n == 0)
        return 0;
    struct fold_sums t = { NULL, 0, 0, 0 };
    struct store_board_sum *v = NULL;
    size_t nv = 0;
    int ret = sum_log(s, cap, &t, &v, &nv, err, errlen);
    if (ret == 0)
        ret = store_board_fold_sums(s, v, nv, INT64_MAX, cap, err, errlen);
    free(v);
    for (size_t i = 0; i < t.cap; i++)
        free(t.v[i].user);
    free(t.v);
    return ret;
}

int store_board_fold_sums(struct store *s, struct store_board_sum *v, size_t n, int64_t through,
                          int64_t cap, char *err, size_t errlen)
{
    if (n > 1)
        qsort(v, n, sizeof(*v), sum_cmp);
    /* A savepoint: a step that fails undoes the others, so no change is ever folded twice. */
    if (sqlite__exec(s, "SAVEPOINT board_fold", err, errlen) < 0)
        return -1;
    int ret = 0;
    for (size_t i = 0; ret == 0 && i < n; i++)
        ret = fold_one(s, v[i].board, v[i].user, v[i].len, v[i].delta < 0 ? 0 : v[i].delta,
                       v[i].at, cap, err, errlen);
    sqlite3_stmt *st = NULL;
    if (ret == 0 && !(st = sqlite__stmt(s, ST_BOARD_LOG_CLEAR_THROUGH, err, errlen)))
        ret = -1;
    if (ret == 0) {
        sqlite3_bind_int64(st, 1, through);
        ret = sqlite__step_done(s, st, err, errlen);
    }
    if (ret < 0) {
        sqlite__exec(s, "ROLLBACK TO board_fold; RELEASE board_fold", NULL, 0);
        return -1;
    }
    return sqlite__exec(s, "RELEASE board_fold", err, errlen);
}

int store_board_scores_each(struct store *s, int64_t board,
                            void (*fn)(const char *user_id, size_t len, int64_t score,
                                       int64_t at, void *arg),
                            void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = sqlite__stmt(s, ST_BOARD_SCORES, err, errlen);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, board);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *u = (const char *)sqlite3_column_text(st, 0);
        if (u)
            fn(u, (size_t)sqlite3_column_bytes(st, 0), sqlite3_column_int64(st, 1),
               sqlite3_column_int64(st, 2), arg);
    }
    int ret = rc == SQLITE_DONE ? 0 : sqlite__fail(s, err, errlen);
    sqlite3_reset(st);
    return ret;
}
