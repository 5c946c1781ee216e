/* Micro-benchmark: the leaderboard index (core/rank.h) with a million members named by
 * UUID-sized ids, scores skewed low with many ties (0..50,000, the product of two uniform
 * draws), times spread over a 30-day season. Measures the bulk load, then each operation
 * averaged over `ops` random calls: moving a member to a new score, a member's rank, the top
 * 100, a member's neighbourhood (its rank and the 11 entries around it, rank_around), a
 * cursor's position, inserting new members and removing them; and the memory per entry after
 * the load, as the index counts it and as the process's resident set grew. Bounded: a fixed number of
 * operations. With `set`, the index is built by one rank_set per member instead: slower, and
 * without the load's layout (neighbours in the order next to each other in memory), which
 * moves wear away on a live index, so the operations then show the cost without it.
 *   build/bench_rank [members] [ops] [load|set]     (defaults 1000000, 200000, load) */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/rank.h"

#define ID_LEN    36
#define T0        1795435200000LL       /* 2026-11-23T12:00:00Z */
#define SEASON_MS (30LL * 86400 * 1000) /* the spread of `at` */

static uint64_t rng = 0x853c49e6748fea9bull;

static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int64_t random_score(void)
{
    return (int64_t)((rnd() % 1001) * (rnd() % 1001) / 20);
}

static void make_id(char *out, uint64_t a, uint64_t b)
{
    snprintf(out, ID_LEN + 1, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff, 0x8000 | ((unsigned)b & 0x3fff),
             (unsigned long long)(b >> 16));
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static void report(const char *what, long ops, double seconds)
{
    printf("%-12s %9ld ops   %8.0f ns/op\n", what, ops, seconds * 1e9 / (double)ops);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    long ops = argc > 2 ? strtol(argv[2], NULL, 10) : 200000;
    if (n < 100 || n > 50000000)
        n = 1000000;
    if (ops < 1 || ops > 100000000)
        ops = 200000;
    bool by_set = argc > 3 && strcmp(argv[3], "set") == 0;
    char *ids = malloc((size_t)n * (ID_LEN + 1));
    struct rank_entry *in = malloc((size_t)n * sizeof(*in));
    char(*fresh)[ID_LEN + 1] = malloc((size_t)ops * sizeof(*fresh));
    if (!ids || !in || !fresh)
        return 1;
    for (long i = 0; i < n; i++) {
        char *id = ids + (size_t)i * (ID_LEN + 1);
        make_id(id, rnd(), rnd());
        in[i] = (struct rank_entry){id, ID_LEN, random_score(), T0 + (int64_t)(rnd() % SEASON_MS)};
    }
    for (long i = 0; i < ops; i++)
        make_id(fresh[i], rnd() | 1, rnd()); /* ids of members not loaded (not unique: fine) */
    size_t rss0 = rss_bytes();

    struct rank_index *x = rank_new(0x5eed);
    double t0 = now_s();
    if (by_set) {
        for (long i = 0; i < n; i++)
            rank_set(x, in[i].member, in[i].member_len, in[i].score, in[i].at);
    } else {
        rank_load(x, in, (size_t)n);
    }
    double dt = now_s() - t0;
    size_t rss1 = rss_bytes();
    printf("%-12s %9ld entries %6.1f ms total, %.0f ns/entry\n", by_set ? "set-build" : "load", n,
           dt * 1e3, dt * 1e9 / (double)n);
    if (rank_size(x) != (size_t)n) {
        fprintf(stderr, "loaded %zu of %ld (repeated ids?)\n", rank_size(x), n);
        return 1;
    }
    printf("%-12s %9ld entries %6.1f bytes/entry (index's count), %.1f bytes/entry (RSS "
           "growth)\n",
           "memory", n, (double)rank_bytes(x) / (double)n, (double)(rss1 - rss0) / (double)n);

    size_t sink = 0;
    int64_t later = T0 + SEASON_MS;
    t0 = now_s();
    for (long i = 0; i < ops; i++) {
        const struct rank_entry *e = &in[rnd() % (uint64_t)n];
        rank_set(x, e->member, e->member_len, random_score(), later++);
    }
    report("update", ops, now_s() - t0);

    t0 = now_s();
    for (long i = 0; i < ops; i++) {
        const struct rank_entry *e = &in[rnd() % (uint64_t)n];
        size_t r = 0;
        rank_get(x, e->member, e->member_len, NULL, &r);
        sink += r;
    }
    report("rank", ops, now_s() - t0);

    struct rank_entry page[100];
    t0 = now_s();
    for (long i = 0; i < ops; i++)
        sink += rank_range(x, 0, page, 100);
    report("top-100", ops, now_s() - t0);

    t0 = now_s();
    for (long i = 0; i < ops; i++) {
        const struct rank_entry *e = &in[rnd() % (uint64_t)n];
        size_t r = 0, first = 0, got = 0;
        rank_around(x, e->member, e->member_len, 5, 5, page, &got, &r, &first);
        sink += got;
    }
    report("around-me", ops, now_s() - t0);

    t0 = now_s();
    for (long i = 0; i < ops; i++) {
        const struct rank_entry *e = &in[rnd() % (uint64_t)n];
        sink += rank_before(x, random_score(), T0 + (int64_t)(rnd() % SEASON_MS), e->member,
                            e->member_len);
    }
    report("rank_before", ops, now_s() - t0);

    t0 = now_s();
    for (long i = 0; i < ops; i++)
        rank_set(x, fresh[i], ID_LEN, random_score(), later++);
    report("insert", ops, now_s() - t0);
    t0 = now_s();
    for (long i = 0; i < ops; i++)
        sink += rank_remove(x, fresh[i], ID_LEN);
    report("remove", ops, now_s() - t0);

    rank_free(x);
    free(fresh);
    free(in);
    free(ids);
    return sink == 42 ? 2 : 0; /* keeps the results alive */
}
