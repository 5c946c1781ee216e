/* Micro-benchmark: the cost of tz_local per call, for a zone already in the thread's table
 * (instants inside the cached span, events in time order through a year, several zones in
 * turn), against a new span every call (random instants over 1900..2100), tz_utc alone, and
 * ICU's calendar asked for the same fields directly. Bounded: a fixed number of iterations.
 *   build/bench_tz [iterations]     (default 5000000; the rows that reach ICU run a twentieth of
 * it) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "core/tz.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long sink; /* keeps the fields alive */

static void use(const struct tz_local *t)
{
    sink += t->year + t->month + t->day + t->hour + t->minute + t->iso_week + t->day_index +
            t->offset_s;
}

static void row(const char *what, double seconds, long n)
{
    printf("%-58s %8.1f ns/call\n", what, seconds / (double)n * 1e9);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 5000000;
    if (n < 100 || n > 1000000000)
        n = 5000000;
    long n_icu = n / 20;
    const int64_t july = 1782864000000;   /* 2026-07-01T00:00:00Z */
    const int64_t y2026 = 1767225600000;  /* 2026-01-01T00:00:00Z */
    const int64_t y1900 = -2208988800000; /* 1900-01-01T00:00:00Z */
    const int64_t span200 = 4102444800000 - y1900;
    struct tz_local t;
    int bad = 0;

    bad += tz_local("Europe/Paris", july, &t) != 0; /* into the table */
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        bad += tz_local("Europe/Paris", july + (i % 86400) * 1000, &t);
        use(&t);
    }
    row("tz_local, Europe/Paris, inside the cached span", now_s() - t0, n);

    t0 = now_s();
    int64_t step = 365LL * 86400000 / n + 1; /* the whole of 2026, in order */
    for (long i = 0; i < n; i++) {
        bad += tz_local("America/New_York", y2026 + i * step, &t);
        use(&t);
    }
    row("tz_local, America/New_York, through 2026 in time order", now_s() - t0, n);

    static const char *zones[] = {"Europe/Paris",     "America/New_York", "Asia/Kolkata",
                                  "Australia/Sydney", "Pacific/Chatham",  "America/Sao_Paulo",
                                  "Europe/London",    "Asia/Tokyo"};
    t0 = now_s();
    for (long i = 0; i < n; i++) {
        bad += tz_local(zones[i & 7], july + (i % 86400) * 1000, &t);
        use(&t);
    }
    row("tz_local, 8 zones in turn, inside their cached spans", now_s() - t0, n);

    t0 = now_s();
    for (long i = 0; i < n; i++) {
        tz_utc(july + i * 997, &t);
        use(&t);
    }
    row("tz_utc (arithmetic only)", now_s() - t0, n);

    uint64_t r = 88172645463325252u;
    t0 = now_s();
    for (long i = 0; i < n_icu; i++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        bad += tz_local("Europe/Paris", y1900 + (int64_t)(r % (uint64_t)span200), &t);
        use(&t);
    }
    row("tz_local, Europe/Paris, random instants (new span each)", now_s() - t0, n_icu);

    r = 88172645463325252u;
    t0 = now_s();
    for (long i = 0; i < n_icu; i++) { /* live events, each followed by one from the past */
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        int64_t ms = i & 1 ? y1900 + (int64_t)(r % (uint64_t)span200) : july + i * 1000;
        bad += tz_local("Europe/Paris", ms, &t);
        use(&t);
    }
    row("tz_local, Europe/Paris, live and random past in turn", now_s() - t0, n_icu);

    UChar id[32];
    u_uastrcpy(id, "Europe/Paris");
    UErrorCode st = U_ZERO_ERROR;
    UCalendar *cal = ucal_open(id, -1, "", UCAL_GREGORIAN, &st);
    t0 = now_s();
    for (long i = 0; i < n_icu; i++) {
        ucal_setMillis(cal, (UDate)(july + (i % 86400) * 1000), &st);
        sink += ucal_get(cal, UCAL_YEAR, &st) + ucal_get(cal, UCAL_MONTH, &st) +
                ucal_get(cal, UCAL_DATE, &st) + ucal_get(cal, UCAL_HOUR_OF_DAY, &st) +
                ucal_get(cal, UCAL_MINUTE, &st) + ucal_get(cal, UCAL_WEEK_OF_YEAR, &st) +
                ucal_get(cal, UCAL_ZONE_OFFSET, &st) + ucal_get(cal, UCAL_DST_OFFSET, &st);
    }
    row("ICU ucal_setMillis + ucal_get of the same fields", now_s() - t0, n_icu);
    ucal_close(cal);
    bad += U_FAILURE(st);

    printf("%ld iterations (%ld for the last three rows), checksum %ld\n", n, n_icu, sink & 0xffff);
    return bad ? 1 : 0;
}
