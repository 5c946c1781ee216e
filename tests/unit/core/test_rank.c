/* Unit tests for src/core/rank.c: the leaderboard order (score, then time, then name bytes),
 * ranks, ranges and cursors against a brute-force model, the bulk load, and the memory
 * accounting. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rank.h"
#include "core/rank_int.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        const char *why_ = rank__check(x);                                                         \
        if (why_)                                                                                  \
            fail_msg("invariant broken: %s", why_);                                                \
    } while (0)

static uint64_t rnd_state;

static uint64_t rnd(void)
{
    /* xorshift64*: the tests' own generator, unrelated to the index's. */
    rnd_state ^= rnd_state >> 12;
    rnd_state ^= rnd_state << 25;
    rnd_state ^= rnd_state >> 27;
    return rnd_state * 0x2545f4914f6cdd1dull;
}

static size_t rnd_below(size_t n)
{
    return (size_t)(rnd() % n);
}

static void set_s(struct rank_index *x, const char *m, int64_t score, int64_t at)
{
    rank_set(x, m, strlen(m), score, at);
}

static size_t rank_of(struct rank_index *x, const char *m)
{
    size_t r = (size_t)-1;
    if (!rank_get(x, m, strlen(m), NULL, &r))
        fail_msg("%s is not in the index", m);
    return r;
}

/* The whole index in order equals `want` (NUL-terminated names), and each name's rank_get
 * agrees with its place. */
static void expect_order(struct rank_index *x, const char *const *want, size_t n)
{
    struct rank_entry e[64];
    assert_true(n <= 64);
    assert_int_equal(rank_size(x), n);
    assert_int_equal(rank_range(x, 0, e, 64), n);
    for (size_t i = 0; i < n; i++) {
        if (e[i].member_len != strlen(want[i]) || memcmp(e[i].member, want[i], e[i].member_len))
            fail_msg("rank %zu: got \"%s\", want \"%s\"", i, e[i].member, want[i]);
        assert_int_equal(e[i].member[e[i].member_len], '\0');
        assert_int_equal(rank_of(x, want[i]), i);
    }
    CHECK(x);
}

/* ---- the brute-force model ----------------------------------------------------------- */

/* The order written out longhand, independently of rank.c. */
static int model_cmp(int64_t sa, int64_t ta, const char *na, size_t la, int64_t sb, int64_t tb,
                     const char *nb, size_t lb)
{
    if (sa > sb)
        return -1;
    if (sa < sb)
        return 1;
    if (ta < tb)
        return -1;
    if (ta > tb)
        return 1;
    for (size_t i = 0; i < la && i < lb; i++) {
        unsigned char ca = (unsigned char)na[i], cb = (unsigned char)nb[i];
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return la < lb ? -1 : la > lb ? 1 : 0;
}

#define POOL         2000
#define NAME_MAX_LEN 96

struct member {
    char name[NAME_MAX_LEN + 1];
    size_t len;
    bool present;
    int64_t score;
    int64_t at;
};

struct model {
    struct member m[POOL];
    int order[POOL]; /* indices of present members, sorted by model_cmp */
    size_t n;
};

/* Distinct names of several shapes: decimal ones that are prefixes of each other ("p1",
 * "p12"), arbitrary NUL-free bytes, UUID-like, and long ones. */
static void make_name(struct member *mb, int i)
{
    switch (i % 4) {
    case 0: mb->len = (size_t)snprintf(mb->name, sizeof(mb->name), "p%d", i / 4); break;
    case 1: {
        mb->name[0] = (char)(1 + i / 255);
        mb->name[1] = (char)(1 + i % 255);
        mb->len = 2 + rnd_below(10);
        for (size_t k = 2; k < mb->len; k++)
            mb->name[k] = (char)(1 + rnd_below(255));
        mb->name[mb->len] = '\0';
        break;
    }
    case 2:
        mb->len =
            (size_t)snprintf(mb->name, sizeof(mb->name), "%08x-%04x-4%03x-%04d", (unsigned)rnd(),
                             (unsigned)(rnd() & 0xffff), (unsigned)(rnd() & 0xfff), i);
        break;
    default:
        mb->len = 40 + rnd_below(NAME_MAX_LEN - 50);
        memset(mb->name, 'z', mb->len);
        snprintf(mb->name + mb->len - 6, 7, "%06d", i);
        break;
    }
}

static int model_cmp_idx(const struct model *md, int i, int64_t s, int64_t t, const char *nm,
                         size_t len)
{
    const struct member *a = &md->m[i];
    return model_cmp(a->score, a->at, a->name, a->len, s, t, nm, len);
}

/* First place in the order not before (s, t, nm). */
static size_t model_lower(const struct model *md, int64_t s, int64_t t, const char *nm, size_t len)
{
    size_t lo = 0, hi = md->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (model_cmp_idx(md, md->order[mid], s, t, nm, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t model_pos(const struct model *md, int i)
{
    const struct member *a = &md->m[i];
    size_t p = model_lower(md, a->score, a->at, a->name, a->len);
    assert_true(p < md->n);
    assert_int_equal(md->order[p], i);
    return p;
}

static void model_remove(struct model *md, int i)
{
    size_t p = model_pos(md, i);
    memmove(&md->order[p], &md->order[p + 1], (md->n - p - 1) * sizeof(int));
    md->n--;
    md->m[i].present = false;
}

static void model_set(struct model *md, int i, int64_t s, int64_t t)
{
    struct member *a = &md->m[i];
    if (a->present)
        model_remove(md, i);
    a->score = s;
    a->at = t;
    size_t p = model_lower(md, s, t, a->name, a->len);
    memmove(&md->order[p + 1], &md->order[p], (md->n - p) * sizeof(int));
    md->order[p] = i;
    md->n++;
    a->present = true;
}

/* Counted one by one: how many present members come before the position. */
static size_t model_before(const struct model *md, int64_t s, int64_t t, const char *nm, size_t len)
{
    size_t k = 0;
    for (int i = 0; i < POOL; i++)
        if (md->m[i].present && model_cmp_idx(md, i, s, t, nm, len) < 0)
            k++;
    return k;
}

static void expect_entry(const struct rank_entry *e, const struct member *a, long op)
{
    if (e->member_len != a->len || memcmp(e->member, a->name, a->len) != 0 ||
        e->member[e->member_len] != '\0' || e->score != a->score || e->at != a->at)
        fail_msg("op %ld: entry (%.*s, %lld, %lld) is not (%s, %lld, %lld)", op, (int)e->member_len,
                 e->member, (long long)e->score, (long long)e->at, a->name, (long long)a->score,
                 (long long)a->at);
}

static void expect_member(struct rank_index *x, const struct model *md, int i, long op)
{
    const struct member *a = &md->m[i];
    struct rank_entry e;
    size_t r = (size_t)-1;
    bool got = rank_get(x, a->name, a->len, &e, &r);
    if (got != a->present)
        fail_msg("op %ld: rank_get(%s) says %s", op, a->name, got ? "present" : "absent");
    if (!got) {
        struct rank_entry none[3];
        size_t n = 0, r0 = 0, f0 = 0;
        if (rank_around(x, a->name, a->len, 1, 1, none, &n, &r0, &f0))
            fail_msg("op %ld: rank_around(%s) says present", op, a->name);
        return;
    }
    expect_entry(&e, a, op);
    size_t want = model_pos(md, i);
    if (r != want)
        fail_msg("op %ld: rank of %s is %zu, want %zu", op, a->name, r, want);
    /* Its neighbourhood, with sides from none to more than there are. */
    struct rank_entry around[2 * 40 + 1];
    size_t above = rnd_below(41), below = rnd_below(41), n = 0, first = 0;
    r = (size_t)-1;
    if (!rank_around(x, a->name, a->len, above, below, around, &n, &r, &first))
        fail_msg("op %ld: rank_around(%s) says absent", op, a->name);
    size_t want_first = want < above ? 0 : want - above;
    size_t want_last = want + below < md->n - 1 ? want + below : md->n - 1;
    if (r != want || first != want_first || n != want_last + 1 - want_first)
        fail_msg("op %ld: around %s: rank %zu first %zu n %zu, want %zu %zu %zu", op, a->name,
                 r, first, n, want, want_first, want_last + 1 - want_first);
    for (size_t k = 0; k < n; k++)
        expect_entry(&around[k], &md->m[md->order[first + k]], op);
}

static void expect_all(struct rank_index *x, const struct model *md, long op)
{
    static struct rank_entry e[POOL + 1];
    size_t got = rank_range(x, 0, e, POOL + 1);
    if (got != md->n)
        fail_msg("op %ld: full range has %zu entries, want %zu", op, got, md->n);
    for (size_t k = 0; k < got; k++)
        expect_entry(&e[k], &md->m[md->order[k]], op);
    /* A page from a random start. */
    size_t start = rnd_below(md->n + 3), max = rnd_below(40);
    size_t want = start >= md->n ? 0 : md->n - start < max ? md->n - start : max;
    assert_int_equal(rank_range(x, start, e, max), want);
    for (size_t k = 0; k < want; k++)
        expect_entry(&e[k], &md->m[md->order[start + k]], op);
    /* Cursors: members' own positions, and arbitrary ones with present and absent names. */
    for (int j = 0; j < 20; j++) {
        const struct member *a = &md->m[rnd_below(POOL)];
        int64_t s = j % 2 ? a->score : (int64_t)rnd_below(241) - 120;
        int64_t t = j % 4 < 2 ? a->at : (int64_t)rnd_below(60) - 5;
        const char *nm = a->name;
        size_t len = a->len;
        if (j % 5 == 4) {
            nm = "p1"; /* a prefix of "p10".."p19", "p100"..: absent or not */
            len = 2;
        } else if (j % 5 == 3) {
            nm = "absent-name";
            len = strlen(nm);
        }
        size_t want_before = model_before(md, s, t, nm, len);
        size_t before = rank_before(x, s, t, nm, len);
        if (before != want_before)
            fail_msg("op %ld: rank_before(%lld, %lld, %.*s) = %zu, want %zu", op, (long long)s,
                     (long long)t, (int)len, nm, before, want_before);
    }
    CHECK(x);
}

/* 100,000 random operations over 2,000 members, checked against the model after each. */
static void random_operations_match_the_model(void **state)
{
    (void)state;
    static struct model md;
    memset(&md, 0, sizeof(md));
    rnd_state = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < POOL; i++)
        make_name(&md.m[i], i);
    struct rank_index *x = rank_new(42);
    size_t sets = 0, moves = 0, removes = 0, absent_removes = 0, ties = 0;
    for (long op = 0; op < 100000; op++) {
        int i = (int)rnd_below(POOL);
        struct member *a = &md.m[i];
        uint64_t r = rnd_below(100);
        int64_t s = a->score, t = a->at;
        if (!a->present) {
            if (r < 75) {
                s = (int64_t)rnd_below(201) - 100;
                t = (int64_t)rnd_below(50);
                sets++;
            } else {
                assert_false(rank_remove(x, a->name, a->len));
                absent_removes++;
                goto check;
            }
        } else if (r < 20) {
            s += 1 + (int64_t)rnd_below(10); /* up */
            t = (int64_t)rnd_below(50);
            moves++;
        } else if (r < 40) {
            s -= 1 + (int64_t)rnd_below(10); /* down */
            t = (int64_t)rnd_below(50);
            moves++;
        } else if (r < 50) {
            t = (int64_t)rnd_below(50); /* same score, another time */
            moves++;
        } else if (r < 55) {
            /* unchanged */
        } else if (r < 65 && md.n) {
            const struct member *b = &md.m[md.order[rnd_below(md.n)]];
            s = b->score; /* the same score and time as another member: names decide */
            t = b->at;
            ties++;
        } else if (r < 70 && md.n) {
            s = md.m[md.order[rnd_below(md.n)]].score; /* the same score, its own time */
            ties++;
        } else if (r < 75) {
            t += rnd() % 2 ? 1 : -1; /* a small step: often stays between its neighbours */
            moves++;
        } else {
            assert_true(rank_remove(x, a->name, a->len));
            model_remove(&md, i);
            removes++;
            goto check;
        }
        rank_set(x, a->name, a->len, s, t);
        model_set(&md, i, s, t);
    check:
        if (rank_size(x) != md.n)
            fail_msg("op %ld: size %zu, want %zu", op, rank_size(x), md.n);
        expect_member(x, &md, i, op);
        for (int k = 0; k < 3; k++)
            expect_member(x, &md, (int)rnd_below(POOL), op);
        if (op % 1000 == 999)
            expect_all(x, &md, op);
    }
    /* The run did exercise every kind of operation, at a useful size. */
    assert_true(sets > 10000 && moves > 20000 && removes > 10000 && absent_removes > 3000);
    assert_true(ties > 5000);
    assert_true(md.n > 1000);
    rank_free(x);
}

/* ---- the order ----------------------------------------------------------------------- */

static void ties_go_by_time_then_name_bytes(void **state)
{
    (void)state;
    struct rank_index *x = rank_new(1);
    set_s(x, "carol", 10, 5);
    set_s(x, "alice", 10, 3);
    set_s(x, "bob", 10, 3);
    set_s(x, "eve", 5, 0);
    set_s(x, "ab", 10, 3);
    set_s(x, "dave", 20, 100);
    set_s(x, "a", 10, 3);
    set_s(x, "b", 10, 3);
    static const char *const want[] = {"dave", "a", "ab", "alice", "b", "bob", "carol", "eve"};
    expect_order(x, want, 8);
    assert_int_equal(rank_of(x, "carol"), 6);
    /* Reaching the same score earlier puts carol ahead of the at-3 group. */
    set_s(x, "carol", 10, 2);
    static const char *const want2[] = {"dave", "carol", "a", "ab", "alice", "b", "bob", "eve"};
    expect_order(x, want2, 8);
    /* Cursors between the tied names. */
    assert_int_equal(rank_before(x, 10, 3, "aa", 2), 3);    /* after a, before ab */
    assert_int_equal(rank_before(x, 10, 3, "ab", 2), 3);    /* ab itself: strictly before */
    assert_int_equal(rank_before(x, 10, 3, "abc", 3), 4);   /* after ab, before alice */
    assert_int_equal(rank_before(x, 10, 3, "", 0), 2);      /* the empty name comes first */
    assert_int_equal(rank_before(x, 10, 4, "", 0), 7);      /* after every at-3 member */
    assert_int_equal(rank_before(x, 11, 1000, "zz", 2), 1); /* a higher score wins over time */
    rank_free(x);
}

static void negative_scores_and_int64_extremes(void **state)
{
    (void)state;
    struct rank_index *x = rank_new(2);
    set_s(x, "min", INT64_MIN, 0);
    set_s(x, "max", INT64_MAX, 0);
    set_s(x, "minus1", -1, 0);
    set_s(x, "zero", 0, 0);
    set_s(x, "one", 1, 0);
    set_s(x, "minus1000", -1000, 0);
    set_s(x, "max-early", INT64_MAX, INT64_MIN);
    set_s(x, "max-late", INT64_MAX, INT64_MAX);
    set_s(x, "min-late", INT64_MIN, INT64_MAX);
    static const char *const want[] = {"max-early", "max",       "max-late", "one",     "zero",
                                       "minus1",    "minus1000", "min",      "min-late"};
    expect_order(x, want, 9);
    assert_int_equal(rank_before(x, INT64_MAX, INT64_MIN, "", 0), 0);
    assert_int_equal(rank_before(x, INT64_MIN, INT64_MAX, "min-late", 8), 8);
    assert_int_equal(rank_before(x, INT64_MIN, INT64_MAX, "\xff", 1), 9);
    assert_int_equal(rank_before(x, 0, INT64_MIN, "", 0), 4);
    assert_int_equal(rank_before(x, -1, INT64_MAX, "", 0), 6);
    struct rank_entry e;
    size_t r;
    assert_true(rank_get(x, "min-late", 8, &e, &r));
    assert_true(e.score == INT64_MIN && e.at == INT64_MAX);
    assert_int_equal(r, 8);
    /* From the bottom to the top in one move. */
    set_s(x, "min-late", INT64_MAX, INT64_MIN);
    assert_int_equal(rank_of(x, "min-late"), 1);
    assert_int_equal(rank_of(x, "max-early"), 0); /* a name tie: "max-early" < "min-late" */
    CHECK(x);
    rank_free(x);
}

static void removal_of_first_last_and_middle(void **state)
{
    (void)state;
    struct rank_index *x = rank_new(3);
    static const char *const names[] = {"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"};
    for (int i = 0; i < 8; i++)
        set_s(x, names[i], 100 - i, 0);
    assert_true(rank_remove(x, "m0", 2)); /* first */
    static const char *const want1[] = {"m1", "m2", "m3", "m4", "m5", "m6", "m7"};
    expect_order(x, want1, 7);
    assert_true(rank_remove(x, "m7", 2)); /* last */
    static const char *const want2[] = {"m1", "m2", "m3", "m4", "m5", "m6"};
    expect_order(x, want2, 6);
    assert_true(rank_remove(x, "m4", 2)); /* middle */
    static const char *const want3[] = {"m1", "m2", "m3", "m5", "m6"};
    expect_order(x, want3, 5);
    assert_false(rank_remove(x, "m4", 2)); /* already gone */
    assert_false(rank_remove(x, "m", 1));  /* a prefix of the others, never there */
    assert_false(rank_get(x, "m4", 2, NULL, NULL));
    assert_int_equal(rank_before(x, 96, 0, "m4", 2), 3);
    for (int i = 0; i < 8; i++)
        rank_remove(x, names[i], 2);
    expect_order(x, NULL, 0);
    set_s(x, "again", 1, 1); /* usable once emptied */
    static const char *const want4[] = {"again"};
    expect_order(x, want4, 1);
    rank_free(x);
}

static void empty_index(void **state)
{
    (void)state;
    struct rank_index *x = rank_new(4);
    struct rank_entry e[4];
    assert_int_equal(rank_size(x), 0);
    assert_int_equal(rank_range(x, 0, e, 4), 0);
    assert_int_equal(rank_range(x, 7, e, 4), 0);
    assert_false(rank_get(x, "nobody", 6, &e[0], NULL));
    assert_int_equal(rank_before(x, 0, 0, "", 0), 0);
    assert_int_equal(rank_before(x, INT64_MIN, INT64_MAX, "zzz", 3), 0);
    assert_false(rank_remove(x, "nobody", 6));
    CHECK(x);
    set_s(x, "a", 3, 0);
    set_s(x, "b", 2, 0);
    set_s(x, "c", 1, 0);
    assert_int_equal(rank_range(x, 3, e, 4), 0); /* start at the size */
    assert_int_equal(rank_range(x, 99, e, 4), 0);
    assert_int_equal(rank_range(x, 1, e, 0), 0);
    assert_int_equal(rank_range(x, 2, e, 4), 1);
    assert_string_equal(e[0].member, "c");
    assert_int_equal(rank_range(x, 1, e, 1), 1);
    assert_string_equal(e[0].member, "b");
    rank_free(x);
    rank_free(NULL);
}

static void long_member_names(void **state)
{
    (void)state;
    struct rank_index *x = rank_new(5);
    enum { L = 1000 };
    static char a[L + 1], b[L + 1], c[L + 1];
    memset(a, 'x', L);
    memcpy(b, a, L);
    memcpy(c, a, L);
    a[L - 1] = 'a';
    b[L - 1] = 'b';
    c[0] = 'w'; /* differs first */
    rank_set(x, b, L, 7, 7);
    rank_set(x, a, L, 7, 7);
    rank_set(x, a, L - 1, 7, 7); /* a proper prefix of both */
    rank_set(x, c, L, 7, 7);
    struct rank_entry e[4];
    assert_int_equal(rank_range(x, 0, e, 4), 4);
    assert_int_equal(e[0].member_len, L);
    assert_memory_equal(e[0].member, c, L);
    assert_int_equal(e[1].member_len, L - 1);
    assert_memory_equal(e[1].member, a, L - 1);
    assert_int_equal(e[1].member[L - 1], '\0');
    assert_memory_equal(e[2].member, a, L + 1);
    assert_memory_equal(e[3].member, b, L + 1);
    size_t r;
    assert_true(rank_get(x, b, L, NULL, &r));
    assert_int_equal(r, 3);
    assert_false(rank_get(x, b, L - 2, NULL, NULL));
    assert_int_equal(rank_before(x, 7, 7, b, L), 3);
    CHECK(x);
    rank_free(x);
}

static int bytes_cmp(const void *pa, const void *pb)
{
    const unsigned char *a = *(const unsigned char *const *)pa;
    const unsigned char *b = *(const unsigned char *const *)pb;
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (int)*a - (int)*b;
}

static void names_of_arbitrary_bytes(void **state)
{
    (void)state;
    struct rank_index *x = rank_new(6);
    set_s(x, "\xff", 0, 0);
    set_s(x, "\x80", 0, 0);
    set_s(x, "\x7f", 0, 0);
    set_s(x, "\xff\x01", 0, 0);
    set_s(x, "\x01", 0, 0);
    set_s(x, "caf\xc3\xa9", 0, 0);
    set_s(x, "a \"b\"\n\t", 0, 0);
    static const char *const want[] = {"\x01", "a \"b\"\n\t", "caf\xc3\xa9", "\x7f",
                                       "\x80", "\xff",        "\xff\x01"};
    expect_order(x, want, 7);
    rank_free(x);

    /* 500 random NUL-free names, all tied: the index's order is the bytes' order. */
    x = rank_new(7);
    rnd_state = 12345;
    enum { N = 500 };
    static char names[N][24];
    static const char *sorted[N];
    for (int i = 0; i < N; i++) {
        size_t len = 3 + rnd_below(18);
        names[i][0] = (char)(1 + i / 255);
        names[i][1] = (char)(1 + i % 255); /* distinct */
        for (size_t k = 2; k < len; k++)
            names[i][k] = (char)(1 + rnd_below(255));
        names[i][len] = '\0';
        sorted[i] = names[i];
        set_s(x, names[i], 1, 1);
    }
    qsort(sorted, N, sizeof(sorted[0]), bytes_cmp);
    static struct rank_entry e[N];
    assert_int_equal(rank_range(x, 0, e, N), N);
    for (int i = 0; i < N; i++) {
        assert_string_equal(e[i].member, sorted[i]);
        assert_int_equal(e[i].member_len, strlen(sorted[i]));
    }
    CHECK(x);
    rank_free(x);
}

/* rank_set on a member whose position does not change, or changes only in its key. */
static void moves_that_keep_the_position(void **state)
{
    (void)state;
    struct rank_index *x = rank_new(8);
    set_s(x, "a", 30, 0);
    set_s(x, "b", 20, 0);
    set_s(x, "c", 10, 0);
    size_t bytes = rank_bytes(x);
    set_s(x, "b", 20, 0); /* unchanged */
    set_s(x, "b", 25, 9); /* between the same neighbours */
    static const char *const want[] = {"a", "b", "c"};
    expect_order(x, want, 3);
    struct rank_entry e;
    assert_true(rank_get(x, "b", 1, &e, NULL));
    assert_true(e.score == 25 && e.at == 9);
    set_s(x, "b", 30, 1); /* the same score as a, later */
    expect_order(x, want, 3);
    set_s(x, "b", 30, -1); /* earlier than a: ahead of it */
    static const char *const want2[] = {"b", "a", "c"};
    expect_order(x, want2, 3);
    set_s(x, "c", 100, 0);
    static const char *const want3[] = {"c", "b", "a"};
    expect_order(x, want3, 3);
    assert_int_equal(rank_bytes(x), bytes); /* moves allocate nothing */
    rank_free(x);
}

/* ---- bulk load ----------------------------------------------------------------------- */

static void expect_same_order(struct rank_index *a, struct rank_index *b)
{
    size_t n = rank_size(a);
    assert_int_equal(rank_size(b), n);
    struct rank_entry *ea = malloc((n + 1) * sizeof(*ea)), *eb = malloc((n + 1) * sizeof(*eb));
    assert_int_equal(rank_range(a, 0, ea, n + 1), n);
    assert_int_equal(rank_range(b, 0, eb, n + 1), n);
    for (size_t i = 0; i < n; i++) {
        if (ea[i].member_len != eb[i].member_len ||
            memcmp(ea[i].member, eb[i].member, ea[i].member_len) || ea[i].score != eb[i].score ||
            ea[i].at != eb[i].at)
            fail_msg("rank %zu: %s vs %s", i, ea[i].member, eb[i].member);
        size_t r;
        assert_true(rank_get(b, ea[i].member, ea[i].member_len, NULL, &r));
        assert_int_equal(r, i);
    }
    free(ea);
    free(eb);
    CHECK(a);
    CHECK(b);
}

static void load_equals_incremental_sets(void **state)
{
    (void)state;
    enum { N = 20000 };
    rnd_state = 777;
    static struct member pool[N];
    static struct rank_entry in[N];
    for (int i = 0; i < N; i++) {
        make_name(&pool[i], i);
        in[i] = (struct rank_entry){pool[i].name, pool[i].len, (int64_t)rnd_below(50) - 10,
                                    (int64_t)rnd_below(8)};
    }
    struct rank_index *inc = rank_new(11), *load = rank_new(11), *load2 = rank_new(99);
    for (int i = 0; i < N; i++)
        rank_set(inc, in[i].member, in[i].member_len, in[i].score, in[i].at);
    rank_load(load, in, N);
    expect_same_order(inc, load);
    rank_load(load2, in, N);
    expect_same_order(inc, load2);
    /* The same seed and operations give the same structure (heights show in the bytes). */
    struct rank_index *load3 = rank_new(11);
    rank_load(load3, in, N);
    assert_int_equal(rank_bytes(load3), rank_bytes(load));
    rank_free(load3);
    /* A loaded index keeps working: the same random changes to both. */
    for (int op = 0; op < 20000; op++) {
        const struct member *m = &pool[rnd_below(N)];
        if (rnd() % 4 == 0) {
            assert_int_equal(rank_remove(inc, m->name, m->len), rank_remove(load, m->name, m->len));
        } else {
            int64_t s = (int64_t)rnd_below(60) - 15, t = (int64_t)rnd_below(8);
            rank_set(inc, m->name, m->len, s, t);
            rank_set(load, m->name, m->len, s, t);
        }
    }
    expect_same_order(inc, load);
    rank_free(inc);
    rank_free(load);
    rank_free(load2);
}

static void load_of_nothing(void **state)
{
    (void)state;
    struct rank_index *x = rank_new(12);
    size_t bytes = rank_bytes(x);
    rank_load(x, NULL, 0);
    assert_int_equal(rank_size(x), 0);
    assert_int_equal(rank_bytes(x), bytes);
    struct rank_entry e;
    assert_int_equal(rank_range(x, 0, &e, 1), 0);
    CHECK(x);
    struct rank_entry one = {"solo", 4, 5, 6};
    rank_load(x, &one, 1);
    assert_int_equal(rank_range(x, 0, &e, 1), 1);
    assert_string_equal(e.member, "solo");
    assert_true(e.score == 5 && e.at == 6);
    assert_int_equal(rank_before(x, 5, 6, "solo", 4), 0);
    assert_int_equal(rank_before(x, 5, 6, "solo!", 5), 1);
    CHECK(x);
    rank_free(x);
}

/* Against the rule (members distinct), but a store could hand over a member twice: the later
 * entry wins, as it would with rank_set, whatever the sort put first. Loading into an index
 * that is not empty is rank_set for each entry too. */
static void load_repeated_members_and_nonempty(void **state)
{
    (void)state;
    struct rank_index *x = rank_new(15);
    struct rank_entry in[] = {
        {"a", 1, 5, 0}, {"b", 1, 3, 0}, {"c", 1, 4, 0}, {"a", 1, 1, 0}, {"c", 1, 9, 0},
    };
    rank_load(x, in, 5);
    static const char *const want[] = {"c", "b", "a"};
    expect_order(x, want, 3);
    struct rank_entry e;
    assert_true(rank_get(x, "a", 1, &e, NULL));
    assert_true(e.score == 1);

    struct rank_entry more[] = {{"d", 1, 4, 0}, {"b", 1, 10, 0}};
    rank_load(x, more, 2);
    static const char *const want2[] = {"b", "c", "d", "a"};
    expect_order(x, want2, 4);
    rank_free(x);

    /* Many repeats in a big load: the same as the sets, one by one. */
    enum { N = 5000 };
    static struct member pool[N / 2];
    static struct rank_entry many[N];
    rnd_state = 4242;
    for (int i = 0; i < N / 2; i++)
        make_name(&pool[i], i);
    for (int i = 0; i < N; i++) {
        const struct member *m = &pool[rnd_below(N / 2)];
        many[i] =
            (struct rank_entry){m->name, m->len, (int64_t)rnd_below(20), (int64_t)rnd_below(3)};
    }
    struct rank_index *inc = rank_new(16), *load = rank_new(16);
    for (int i = 0; i < N; i++)
        rank_set(inc, many[i].member, many[i].member_len, many[i].score, many[i].at);
    rank_load(load, many, N);
    expect_same_order(inc, load);
    rank_free(inc);
    rank_free(load);
}

/* ---- memory and entries -------------------------------------------------------------- */

static void bytes_follow_the_entries(void **state)
{
    (void)state;
    struct rank_index *x = rank_new(13);
    size_t empty = rank_bytes(x);
    assert_true(empty > 0);
    size_t prev = empty;
    char name[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "member-%04d-padding-to-thirty-six", i);
        set_s(x, name, i % 10, i);
        size_t b = rank_bytes(x);
        if (b <= prev + strlen(name))
            fail_msg("insert %d: bytes %zu after %zu", i, b, prev);
        prev = b;
    }
    size_t full = rank_bytes(x);
    assert_true(full >= empty + 1000 * (36 + 1 + 8 + 8));
    set_s(x, "member-0000-padding-to-thirty-six", 99, 99); /* a move */
    assert_int_equal(rank_bytes(x), full);
    for (int i = 0; i < 900; i++) {
        snprintf(name, sizeof(name), "member-%04d-padding-to-thirty-six", i);
        assert_true(rank_remove(x, name, strlen(name)));
    }
    assert_true(rank_bytes(x) < full - 900 * (36 + 1 + 8 + 8));
    CHECK(x);
    for (int i = 900; i < 1000; i++) {
        snprintf(name, sizeof(name), "member-%04d-padding-to-thirty-six", i);
        assert_true(rank_remove(x, name, strlen(name)));
    }
    assert_int_equal(rank_bytes(x), empty); /* everything given back, the table shrunk */
    CHECK(x);
    rank_free(x);
}

static void entries_point_at_nul_terminated_copies(void **state)
{
    (void)state;
    struct rank_index *x = rank_new(14);
    char buf[16];
    strcpy(buf, "first");
    rank_set(x, buf, 5, 2, 0);
    strcpy(buf, "second!");
    rank_set(x, buf, 6, 1, 0);     /* "second", the length wins over the buffer's NUL */
    memset(buf, 'Q', sizeof(buf)); /* the index kept copies */
    struct rank_entry e[2], g;
    size_t r;
    assert_int_equal(rank_range(x, 0, e, 2), 2);
    assert_string_equal(e[0].member, "first");
    assert_int_equal(e[0].member_len, 5);
    assert_string_equal(e[1].member, "second");
    assert_int_equal(e[1].member_len, 6);
    assert_int_equal(strlen(e[1].member), 6);
    assert_true(rank_get(x, "second", 6, &g, &r));
    assert_ptr_equal(g.member, e[1].member); /* into the index, one copy */
    assert_int_equal(r, 1);
    assert_false(rank_get(x, "second!", 7, NULL, NULL));
    assert_false(rank_get(x, "secon", 5, NULL, NULL));
    rank_free(x);
}

/* Warming the cache for members present, absent, and in an empty index changes nothing. */
static void prefetching_changes_nothing(void **state)
{
    (void)state;
    struct rank_index *x = rank_new(7);
    for (int stage = 0; stage < 3; stage++)
        rank_prefetch(x, "nobody", 6, stage);
    char name[16];
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof(name), "m%03d", i);
        rank_set(x, name, strlen(name), i, i);
    }
    uint64_t v = rank_version(x);
    for (int i = 0; i < 600; i++) {
        snprintf(name, sizeof(name), "m%03d", i);
        for (int stage = 0; stage < 3; stage++)
            rank_prefetch(x, name, strlen(name), stage);
    }
    assert_int_equal(rank_version(x), v);
    assert_int_equal(rank_size(x), 500);
    struct rank_entry e;
    size_t r;
    assert_true(rank_get(x, "m123", 4, &e, &r));
    assert_int_equal(e.score, 123);
    assert_int_equal(r, 499 - 123);
    rank_free(x);
}

static void versions_change_with_every_change(void **state)
{
    (void)state;
    struct rank_index *x = rank_new(7), *y = rank_new(7);
    uint64_t v = rank_version(x);
    assert_true(v != 0);
    assert_true(rank_version(y) != v); /* two indexes never share one */
    set_s(x, "a", 10, 1);
    assert_true(rank_version(x) != v);
    v = rank_version(x);
    set_s(x, "a", 10, 1); /* the same key: nothing changed, nor does the version */
    assert_int_equal(rank_version(x), v);
    set_s(x, "a", 11, 1); /* a move */
    assert_true(rank_version(x) != v);
    v = rank_version(x);
    set_s(x, "b", 11, 1); /* an insert */
    assert_true(rank_version(x) != v);
    v = rank_version(x);
    assert_false(rank_remove(x, "zz", 2)); /* nothing removed */
    assert_int_equal(rank_version(x), v);
    assert_true(rank_remove(x, "b", 1));
    assert_true(rank_version(x) != v);
    v = rank_version(x);
    struct rank_entry e = { "c", 1, 5, 5 };
    rank_load(y, &e, 1);
    assert_true(rank_version(y) != v);
    uint64_t w = rank_version(y);
    rank_get(y, "c", 1, NULL, NULL); /* reads change nothing */
    assert_int_equal(rank_version(y), w);
    rank_free(x);
    rank_free(y);
}

/* Positions agree with ranges: a sample of members' ranks against the full order. */
static void expect_consistent(struct rank_index *x)
{
    size_t n = rank_size(x);
    struct rank_entry *all = malloc((n + 1) * sizeof(*all));
    assert_non_null(all);
    assert_int_equal(rank_range(x, 0, all, n + 1), n);
    for (size_t i = 0; i < n; i += 1 + n / 200) {
        size_t r = (size_t)-1;
        assert_true(rank_get(x, all[i].member, all[i].member_len, NULL, &r));
        assert_int_equal(r, i);
        assert_int_equal(rank_before(x, all[i].score, all[i].at, all[i].member,
                                     all[i].member_len), i);
    }
    free(all);
}

/* Many members, so that the tree grows several levels, then moves all over it and removals
 * in random order until it shrinks back: every split, merge and root change on the way. */
static void grows_and_shrinks_through_many_levels(void **state)
{
    (void)state;
    enum { N = 40000 };
    static char names[N][16];
    rnd_state = 0x2545f4914f6cdd1dull;
    struct rank_index *x = rank_new(99);
    size_t empty = rank_bytes(x);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "m%d", i);
        set_s(x, names[i], (int64_t)rnd_below(1000), (int64_t)rnd_below(100));
        if (i % 5000 == 4999)
            CHECK(x);
    }
    assert_true(x->height >= 3);
    expect_consistent(x);
    for (int i = 0; i < 4 * N; i++) { /* moves: far (new score) and near (same score) */
        const char *m = names[rnd_below(N)];
        struct rank_entry e;
        assert_true(rank_get(x, m, strlen(m), &e, NULL));
        if (i % 2)
            set_s(x, m, (int64_t)rnd_below(1000), e.at);
        else
            set_s(x, m, e.score, e.at + (rnd() % 2 ? 1 : -1));
        if (i % 20000 == 19999)
            CHECK(x);
    }
    expect_consistent(x);
    int order[N];
    for (int i = 0; i < N; i++)
        order[i] = i;
    for (int i = N - 1; i > 0; i--) {
        int j = (int)rnd_below((size_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < N; i++) {
        assert_true(rank_remove(x, names[order[i]], strlen(names[order[i]])));
        if (i % 4000 == 3999 || N - i < 40) {
            CHECK(x);
            if (N - i > 100)
                expect_consistent(x);
        }
    }
    assert_int_equal(rank_size(x), 0);
    assert_null(x->root);
    assert_int_equal(rank_bytes(x), empty);
    rank_free(x);
}

static void add_sums_stops_at_the_cap_and_moves(void **state)
{
    (void)state;
    struct rank_index *x = rank_new(5);
    struct rank_entry e;
    size_t r;
    rank_add(x, "a", 1, 10, 100, 1); /* new: comes in at the delta */
    rank_add(x, "b", 1, 20, 100, 2);
    assert_true(rank_get(x, "a", 1, &e, &r));
    assert_true(e.score == 10 && e.at == 1 && r == 1);
    uint64_t v = rank_version(x);
    rank_add(x, "a", 1, 15, 100, 3); /* 25: ahead of b now, with the new time */
    assert_true(rank_version(x) != v);
    assert_true(rank_get(x, "a", 1, &e, &r));
    assert_true(e.score == 25 && e.at == 3 && r == 0);
    rank_add(x, "b", 1, 95, 100, 4); /* 115 stops at 100 */
    assert_true(rank_get(x, "b", 1, &e, &r));
    assert_true(e.score == 100 && e.at == 4 && r == 0);
    rank_add(x, "b", 1, INT64_MAX, 100, 5); /* no overflow on the way to the cap */
    assert_true(rank_get(x, "b", 1, &e, NULL));
    assert_true(e.score == 100 && e.at == 5);
    v = rank_version(x);
    rank_add(x, "b", 1, 0, 100, 5); /* nothing changes */
    assert_int_equal(rank_version(x), v);
    assert_int_equal(rank_size(x), 2);
    CHECK(x);
    rank_free(x);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(add_sums_stops_at_the_cap_and_moves),
    cmocka_unit_test(grows_and_shrinks_through_many_levels),
    cmocka_unit_test(versions_change_with_every_change),
    cmocka_unit_test(prefetching_changes_nothing),
    cmocka_unit_test(random_operations_match_the_model),
    cmocka_unit_test(ties_go_by_time_then_name_bytes),
    cmocka_unit_test(negative_scores_and_int64_extremes),
    cmocka_unit_test(removal_of_first_last_and_middle),
    cmocka_unit_test(empty_index),
    cmocka_unit_test(long_member_names),
    cmocka_unit_test(names_of_arbitrary_bytes),
    cmocka_unit_test(moves_that_keep_the_position),
    cmocka_unit_test(load_equals_incremental_sets),
    cmocka_unit_test(load_of_nothing),
    cmocka_unit_test(load_repeated_members_and_nonempty),
    cmocka_unit_test(bytes_follow_the_entries),
    cmocka_unit_test(entries_point_at_nul_terminated_copies),
};

UNIT_MAIN(tests)
