/* Period keys (see period.h). Keys are written digit by digit and checked against the
 * calendar by converting the date they name back to fields (core/tz.h), so the ISO week rules
 * live in one place. */
#include "engine/period.h"

#include <assert.h>
#include <string.h>

#define DAY_MS 86400000LL

static const char *const names[] = {
    [PERIOD_DAY] = "day",
    [PERIOD_WEEK] = "week",
    [PERIOD_MONTH] = "month",
};

int period_parse(const char *name, enum period_kind *out)
{
    if (!name)
        return -1;
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        if (strcmp(name, names[k]) == 0) {
            *out = (enum period_kind)k;
            return 0;
        }
    }
    return -1;
}

const char *period_name(enum period_kind k)
{
    return (size_t)k < sizeof(names) / sizeof(names[0]) ? names[k] : "";
}

/* Writes v as exactly `width` digits (v is within range: tz.h clamps years to 1..9999). */
static char *put(char *p, int v, int width)
{
    unsigned u = v < 0 ? 0u : (unsigned)v;
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + u % 10);
        u /= 10;
    }
    return p + width;
}

void period_key(enum period_kind k, const struct tz_local *t, char out[PERIOD_KEY_MAX])
{
    assert(t->year >= 1 && t->year <= 9999 && t->iso_year >= 1 && t->iso_year <= 9999);
    char *p = out;
    switch (k) {
    case PERIOD_DAY:
        p = put(p, t->year, 4);
        *p++ = '-';
        p = put(p, t->month, 2);
        *p++ = '-';
        p = put(p, t->day, 2);
        break;
    case PERIOD_WEEK:
        p = put(p, t->iso_year, 4);
        *p++ = '-';
        *p++ = 'W';
        p = put(p, t->iso_week, 2);
        break;
    case PERIOD_MONTH:
        p = put(p, t->year, 4);
        *p++ = '-';
        p = put(p, t->month, 2);
        break;
    }
    *p = '\0';
}

/* Matches key against pattern pat, where 'n' stands for one digit and any other character
 * for itself, and collects each run of digits as a number into v (at most 3). */
static bool scan(const char *key, const char *pat, int v[3])
{
    int nv = -1;
    bool in_digits = false;
    for (; *pat; pat++, key++) {
        if (*pat != 'n') {
            if (*key != *pat)
                return false;
            in_digits = false;
            continue;
        }
        if (*key < '0' || *key > '9')
            return false; /* a short key stops here, at its NUL */
        if (!in_digits) {
            v[++nv] = 0;
            in_digits = true;
        }
        v[nv] = v[nv] * 10 + (*key - '0');
    }
    return *key == '\0';
}

bool period_key_valid(enum period_kind k, const char *key)
{
    int v[3];
    struct tz_local t;
    if (!key)
        return false;
    switch (k) {
    case PERIOD_DAY:
        if (!scan(key, "nnnn-nn-nn", v) || v[0] < 1 || v[1] < 1 || v[1] > 12 || v[2] < 1 ||
            v[2] > 31)
            return false;
        /* an impossible day (02-30) runs on into the next month */
        tz_utc(tz_days_from_civil(v[0], v[1], v[2]) * DAY_MS, &t);
        return t.month == v[1] && t.day == v[2];
    case PERIOD_WEEK: {
        if (!scan(key, "nnnn-Wnn", v) || v[0] < 1 || v[1] < 1 || v[1] > 53)
            return false;
        /* January 4th is always in week 1; week 53 of a 52-week year is week 1 of the next */
        int64_t jan4 = tz_days_from_civil(v[0], 1, 4);
        tz_utc(jan4 * DAY_MS, &t);
        tz_utc((jan4 - (t.weekday - 1) + (int64_t)(v[1] - 1) * 7) * DAY_MS, &t);
        return t.iso_year == v[0] && t.iso_week == v[1];
    }
    case PERIOD_MONTH: return scan(key, "nnnn-nn", v) && v[0] >= 1 && v[1] >= 1 && v[1] <= 12;
    }
    return false;
}
