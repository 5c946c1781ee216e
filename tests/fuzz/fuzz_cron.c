/* Fuzz target for schedules (src/jobs/cron.c).
 *
 * The input, up to its first NUL, is handed to cron_parse. An accepted expression is checked
 * against its contract: intervals are whole seconds from 1 s to 366 days; cron fields only
 * hold bits in range and are not empty; cron_next, from an instant taken from the input's
 * last 8 bytes, is strictly later, on a minute (or interval) boundary, matched by the
 * expression, and no earlier minute after the start matches (checked for up to two days); and
 * cron_due returns increasing slots in (last, now], at most `max`. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "jobs/cron.h"

#include "fuzz.h"

#define MIN_MS 60000LL

static bool matches(const struct cron *c, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    CHECK(gmtime_r(&t, &tm) != NULL);
    bool md = (c->mdays >> tm.tm_mday) & 1, wd = (c->wdays >> tm.tm_wday) & 1;
    bool day = c->mday_any && c->wday_any ? true
               : c->mday_any             ? wd
               : c->wday_any             ? md
                                         : md || wd;
    return ((c->minutes >> tm.tm_min) & 1) && ((c->hours >> tm.tm_hour) & 1) &&
           ((c->months >> (tm.tm_mon + 1)) & 1) && day;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[CRON_TEXT_MAX + 16];
    size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    struct cron c;
    char err[160];
    if (cron_parse(s, &c, err, sizeof(err)) < 0) {
        CHECK(err[0] != '\0');
        return 0;
    }
    /* a start between 1970 and about 2100 */
    uint64_t r = 0;
    if (size >= 8)
        memcpy(&r, data + size - 8, 8);
    int64_t from = (int64_t)(r % (4102444800000ULL));
    int64_t next = cron_next(&c, from);
    if (c.interval) {
        CHECK(c.interval_ms >= 1000 && c.interval_ms % 1000 == 0);
        CHECK(c.interval_ms <= 366LL * 86400 * 1000);
        CHECK(next > from && next - from <= c.interval_ms && next % c.interval_ms == 0);
    } else {
        CHECK(c.minutes && !(c.minutes >> 60) && c.hours && !(c.hours >> 24));
        CHECK(c.mdays && !(c.mdays & 1) && c.months && !(c.months & 1) && !(c.months >> 13));
        CHECK(c.wdays && !(c.wdays >> 7));
        if (next >= 0) {
            CHECK(next > from && next % MIN_MS == 0 && matches(&c, next));
            int64_t m = (from / MIN_MS + 1) * MIN_MS;
            for (int i = 0; i < 2 * 1440 && m < next; i++, m += MIN_MS)
                CHECK(!matches(&c, m));
        }
    }
    int64_t out[8];
    size_t skipped;
    int64_t now = from + (int64_t)(r >> 44) * 1000;
    size_t max = 1 + (size_t)(r & 7);
    size_t got = cron_due(&c, from, now, out, max, &skipped);
    CHECK(got <= max);
    for (size_t i = 0; i < got; i++) {
        CHECK(out[i] > from && out[i] <= now);
        CHECK(i == 0 || out[i] > out[i - 1]);
        CHECK(c.interval || matches(&c, out[i]));
    }
    return 0;
}
