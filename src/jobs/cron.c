/* Cron expressions, intervals and their slots (see cron.h). */
#include "jobs/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MINUTE_MS 60000LL
#define DAY_MS (24 * 3600 * 1000LL)
#define HORIZON_MS (8 * 366 * DAY_MS) /* cron_next gives up past this */
#define CATCHUP_WINDOW_MS (31 * DAY_MS) /* cron_due looks this far back at most */

struct field {
    const char *name;
    int lo, hi;
    const char *const *names; /* names[i] is value lo + i; NULL = numbers only */
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const day_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

static const struct field fields[5] = {
    { "minute", 0, 59, NULL },
    { "hour", 0, 23, NULL },
    { "day of month", 1, 31, NULL },
    { "month", 1, 12, month_names },
    { "day of week", 0, 7, day_names },
};

/* A number or a name at *p: 0 and *v, advancing *p; -1 when neither. */
static int value(const struct field *f, const char **p, int *v)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        int n = 0;
        while (isdigit((unsigned char)*s)) {
            n = n * 10 + (*s++ - '0');
            if (n > 1000)
                return -1;
        }
        *v = n;
        *p = s;
        return 0;
    }
    if (f->names && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]) &&
        isalpha((unsigned char)s[2]) && !isalpha((unsigned char)s[3])) {
        int n = f == &fields[3] ? 12 : 7;
        for (int i = 0; i < n; i++) {
            if (strncasecmp(s, f->names[i], 3) == 0) {
                *v = f->lo + i;
                *p = s + 3;
                return 0;
            }
        }
    }
    return -1;
}

/* Parses one field (text up to the next blank) into a bit set. */
static int parse_field(const struct field *f, const char *s, size_t len, uint64_t *bits,
                       bool *any, char *err, size_t errlen)
{
    const char *end = s + len, *p = s;
    *bits = 0;
    *any = len == 1 && *s == '*';
    for (;;) {
        int lo, hi, step = 1;
        if (p < end && *p == '*') {
            lo = f->lo;
            hi = f->hi;
            p++;
        } else {
            if (p >= end || value(f, &p, &lo) < 0)
                goto bad;
            hi = lo;
            if (p < end && *p == '-') {
                p++;
                if (p >= end || value(f, &p, &hi) < 0)
                    goto bad;
            } else if (p < end && *p == '/') {
                hi = f->hi; /* "a/n": from a to the end */
            }
        }
        if (p < end && *p == '/') {
            p++;
            if (p >= end || !isdigit((unsigned char)*p))
                goto bad;
            step = 0;
            while (p < end && isdigit((unsigned char)*p)) {
                step = step * 10 + (*p++ - '0');
                if (step > 1000)
                    goto bad;
            }
            if (step < 1)
                goto bad;
        }
        if (lo < f->lo || hi > f->hi || lo > hi) {
            snprintf(err, errlen, "%s: values must be in %d-%d, ranges low to high", f->name,
                     f->lo, f->hi);
            return -1;
        }
        for (int v = lo; v <= hi; v += step)
            *bits |= 1ull << v;
        if (p == end)
            return 0;
        if (*p != ',')
            goto bad;
        p++;
    }
bad:
    snprintf(err, errlen, "%s: \"%.*s\" is not a cron field", f->name, (int)(len > 32 ? 32 : len),
             s);
    return -1;
}

static int parse_every(const char *s, struct cron *out, char *err, size_t errlen)
{
    long long n = 0;
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        goto bad;
    while (isdigit((unsigned char)*p)) {
        n = n * 10 + (*p++ - '0');
        if (n > 1000000000LL)
            goto bad;
    }
    long long unit;
    switch (*p) {
    case 's': unit = 1000; break;
    case 'm': unit = MINUTE_MS; break;
    case 'h': unit = 3600 * 1000LL; break;
    case 'd': unit = DAY_MS; break;
    default: goto bad;
    }
    if (p[1] != '\0' || n < 1 || n * unit > 366 * DAY_MS)
        goto bad;
    memset(out, 0, sizeof(*out));
    out->interval = true;
    out->interval_ms = n * unit;
    return 0;
bad:
    snprintf(err, errlen, "@every takes a duration from 1s to 366d such as 30s, 5m, 1h");
    return -1;
}

int cron_parse(const char *text, struct cron *out, char *err, size_t errlen)
{
    static const struct {
        const char *name, *expr;
    } macros[] = {
        { "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
        { "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
        { "@hourly", "0 * * * *" },
    };
    if (strlen(text) > CRON_TEXT_MAX) {
        snprintf(err, errlen, "a schedule is at most %d characters", CRON_TEXT_MAX);
        return -1;
    }
    if (strncmp(text, "@every ", 7) == 0)
        return parse_every(text + 7, out, err, errlen);
    if (text[0] == '@') {
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
            if (strcmp(text, macros[i].name) == 0)
                return cron_parse(macros[i].expr, out, err, errlen);
        snprintf(err, errlen, "unknown macro (@yearly, @monthly, @weekly, @daily, @hourly, "
                              "@every <duration>)");
        return -1;
    }
    struct cron c;
    memset(&c, 0, sizeof(c));
    const char *p = text;
    uint64_t bits[5];
    bool any[5];
    for (int i = 0; i < 5; i++) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t len = strcspn(p, " \t");
        if (len == 0) {
            snprintf(err, errlen, "a cron expression has 5 fields: minute hour day-of-month "
                                  "month day-of-week");
            return -1;
        }
        if (parse_field(&fields[i], p, len, &bits[i], &any[i], err, errlen) < 0)
            return -1;
        p += len;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p) {
        snprintf(err, errlen, "a cron expression has 5 fields: minute hour day-of-month month "
                              "day-of-week");
        return -1;
    }
    c.minutes = bits[0];
    c.hours = (uint32_t)bits[1];
    c.mdays = (uint32_t)bits[2];
    c.months = (uint16_t)bits[3];
    c.wdays = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday too */
    c.mday_any = any[2];
    c.wday_any = any[4];
    *out = c;
    return 0;
}

static bool day_matches(const struct cron *c, const struct tm *t)
{
    bool md = (c->mdays >> t->tm_mday) & 1, wd = (c->wdays >> t->tm_wday) & 1;
    if (c->mday_any && c->wday_any)
        return true;
    if (c->mday_any)
        return wd;
    if (c->wday_any)
        return md;
    return md || wd;
}

int64_t cron_next(const struct cron *c, int64_t after_ms)
{
    if (c->interval) {
        int64_t iv = c->interval_ms;
        int64_t q = after_ms / iv - (after_ms % iv < 0); /* floor */
        return (q + 1) * iv;
    }
    int64_t limit = after_ms + HORIZON_MS;
    int64_t m = after_ms / MINUTE_MS - (after_ms % MINUTE_MS < 0) + 1;
    time_t ts = (time_t)(m * 60);
    struct tm t;
    if (!gmtime_r(&ts, &t))
        return -1;
    for (;;) {
        ts = timegm(&t);
        if (ts == (time_t)-1 || (int64_t)ts * 1000 > limit)
            return -1;
        gmtime_r(&ts, &t); /* normalised: mday, wday */
        if (!((c->months >> (t.tm_mon + 1)) & 1)) {
            t.tm_mon++;
            t.tm_mday = 1;
            t.tm_hour = t.tm_min = 0;
            continue;
        }
        if (!day_matches(c, &t)) {
            t.tm_mday++;
            t.tm_hour = t.tm_min = 0;
            continue;
        }
        if (!((c->hours >> t.tm_hour) & 1)) {
            t.tm_hour++;
            t.tm_min = 0;
            continue;
        }
        if (!((c->minutes >> t.tm_min) & 1)) {
            t.tm_min++;
            continue;
        }
        return (int64_t)ts * 1000;
    }
}

/* Reverses v[from..to). */
static void reverse(int64_t *v, size_t from, size_t to)
{
    while (to > from + 1) {
        int64_t x = v[from];
        v[from++] = v[--to];
        v[to] = x;
    }
}

size_t cron_due(const struct cron *c, int64_t last, int64_t now, int64_t *out, size_t max,
                size_t *skipped)
{
    size_t n = 0, skip = 0;
    if (skipped)
        *skipped = 0;
    if (max == 0 || now <= last)
        return 0;
    if (c->interval) {
        int64_t iv = c->interval_ms;
        int64_t first = cron_next(c, last);
        int64_t newest = now / iv * iv;
        if (newest < first)
            return 0;
        int64_t count = (newest - first) / iv + 1;
        if ((uint64_t)count > max) {
            skip = (size_t)(count - (int64_t)max);
            first = newest - (int64_t)(max - 1) * iv;
            count = (int64_t)max;
        }
        for (int64_t i = 0; i < count; i++)
            out[n++] = first + i * iv;
        if (skipped)
            *skipped = skip;
        return n;
    }
    /* A ring of the newest `max` slots in (from, now]. */
    int64_t from = last > now - CATCHUP_WINDOW_MS ? last : now - CATCHUP_WINDOW_MS;
    size_t total = 0;
    for (int64_t s = cron_next(c, from); s > 0 && s <= now; s = cron_next(c, s))
        out[total++ % max] = s;
    if (total <= max)
        return total;
    /* The ring's oldest is at total % max: rotate it to the front. */
    size_t start = total % max;
    reverse(out, 0, start);
    reverse(out, start, max);
    reverse(out, 0, max);
    if (skipped)
        *skipped = total - max;
    return max;
}
