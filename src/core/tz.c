/* Time zones (see tz.h).
 *
 * ICU answers the one question that needs tz data: which UTC offset holds at an instant, and
 * over which span [from, to) that offset stays the same (from the zone's previous transition,
 * inclusive, to its next one). Each thread keeps, per zone name, an ICU calendar and the last
 * two spans it asked about; an instant inside one of them is converted with arithmetic alone:
 * local = ms + offset, then the civil date of the local day. Events arrive roughly in time
 * order, so nearly every call lands in a cached span; one outside both costs one ICU lookup
 * (about 1.6 us, docs/benchmarks.md), whose span replaces the less recently used one. Two
 * spans rather than one so that old events mixed into live ones (an import, a late batch) do
 * not push the live span out each time.
 *
 * The per-thread table is open addressing over TZ_SLOTS slots, keyed by the name as given
 * (aliases get slots of their own). Names ICU does not know are cached too (with no calendar),
 * so a bad name costs one ICU lookup per thread, not one per call. The table holds at most
 * TZ_ZONES_MAX zones; the one after that empties it (real apps use a handful of zones, so
 * this is a guard against a flood of distinct names, not a policy to tune). A thread's table
 * and calendars are freed when the thread exits. */
#include "core/tz.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>

#include "core/hash.h"
#include "core/mem.h"

#define TZ_ZONES_MAX 256 /* per thread; the next new name empties the table */
#define TZ_SLOTS     512 /* a power of two, twice TZ_ZONES_MAX: probes stay short */
#define TZ_ID_MAX    128 /* UChars for a canonical id; the longest is about 32 */

/* 0001-01-01T00:00:00.000 and 9999-12-31T23:59:59.999 */
#define TZ_MIN_MS (-62135596800000LL)
#define TZ_MAX_MS 253402300799999LL
#define DAY_MS    86400000LL

struct span {
    int64_t from_ms, to_ms; /* offset_ms holds for instants in [from_ms, to_ms); empty at first */
    int32_t offset_ms;      /* raw + DST offset */
};

struct zone {
    char name[TZ_NAME_MAX + 1]; /* as looked up; "" marks a free slot */
    UCalendar *cal;             /* NULL: a name ICU does not know */
    struct span spans[2];       /* the most recently used first */
};

struct tz_cache {
    size_t n; /* slots in use, <= TZ_ZONES_MAX */
    struct zone slots[TZ_SLOTS];
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static _Thread_local struct tz_cache *tl_cache; /* owned through cache_key */

/* ---- calendar arithmetic ------------------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return q - (a % b != 0 && (a < 0) != (b < 0));
}

/* After Howard Hinnant's days_from_civil. */
int64_t tz_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse, after Hinnant's civil_from_days; days within the clamped range only. */
static void civil_from_days(int64_t days, int *y, int *m, int *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t clamp_ms(int64_t ms)
{
    return ms < TZ_MIN_MS ? TZ_MIN_MS : ms > TZ_MAX_MS ? TZ_MAX_MS : ms;
}

/* Every field of local time `local_ms` (an instant shifted by the offset). */
static void fill(int64_t local_ms, int32_t offset_s, struct tz_local *out)
{
    local_ms = clamp_ms(local_ms);
    int64_t days = floor_div(local_ms, DAY_MS);
    int64_t in_day = local_ms - days * DAY_MS;
    civil_from_days(days, &out->year, &out->month, &out->day);
    out->hour = (int)(in_day / 3600000);
    out->minute = (int)(in_day / 60000 % 60);
    out->second = (int)(in_day / 1000 % 60);
    /* 1970-01-01 was a Thursday (ISO 4): Monday-based weeks start at days == -3 (mod 7) */
    out->week_index = (int32_t)floor_div(days + 3, 7);
    out->weekday = (int)(days + 3 - (int64_t)out->week_index * 7) + 1;
    /* ISO 8601: a week belongs to the year of its Thursday, and is numbered from the week
     * holding that year's first Thursday */
    int64_t thursday = days - (out->weekday - 1) + 3;
    int ty, tm, td;
    civil_from_days(thursday, &ty, &tm, &td);
    out->iso_year = ty;
    out->iso_week = (int)((thursday - tz_days_from_civil(ty, 1, 1)) / 7) + 1;
    out->day_index = (int32_t)days;
    out->month_index = (int32_t)((out->year - 1970) * 12 + out->month - 1);
    out->offset_s = offset_s;
}

void tz_utc(int64_t ms, struct tz_local *out)
{
    fill(ms, 0, out);
}

/* ---- zone names ---------------------------------------------------------------------------- */

/* The characters of IANA and ICU zone ids; anything else cannot name a zone (and ICU's
 * char-to-UChar conversion is only defined for invariant characters). */
static bool id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' ||
           c == '_' || c == '-' || c == '+';
}

/* ICU's canonical id for `name` into canon (NUL-terminated), when ICU knows the zone: its
 * length, or -1. ICU maps names it does not know to "Etc/Unknown" (GMT) when a calendar is
 * opened on them, and calls custom ids such as "GMT+05:00" valid but not system zones; only a
 * system zone counts. */
static int32_t canonical_id(const char *name, UChar canon[TZ_ID_MAX])
{
    UChar id[TZ_NAME_MAX];
    int32_t len = 0;
    for (; name[len]; len++) {
        if (len == TZ_NAME_MAX || !id_char(name[len]))
            return -1;
        id[len] = (UChar)name[len];
    }
    if (len == 0)
        return -1;
    UErrorCode st = U_ZERO_ERROR;
    UBool system = 0;
    int32_t n = ucal_getCanonicalTimeZoneID(id, len, canon, TZ_ID_MAX, &system, &st);
    if (U_FAILURE(st) || !system || n <= 0 || n >= TZ_ID_MAX)
        return -1;
    canon[n] = 0;
    return n;
}

bool tz_valid(const char *name)
{
    UChar canon[TZ_ID_MAX];
    return name && canonical_id(name, canon) > 0;
}

/* ---- the per-thread cache ------------------------------------------------------------------ */

static void cache_clear(struct tz_cache *c)
{
    for (size_t i = 0; i < TZ_SLOTS; i++) {
        if (c->slots[i].cal)
            ucal_close(c->slots[i].cal);
    }
    memset(c, 0, sizeof(*c));
}

static void cache_free(void *p)
{
    cache_clear(p);
    free(p);
    tl_cache = NULL; /* a later destructor calling tz_local gets a fresh table */
}

static void cache_key_init(void)
{
    if (pthread_key_create(&cache_key, cache_free) != 0)
        abort(); /* out of keys: a build with runaway keys, not a runtime condition */
}

static struct tz_cache *cache(void)
{
    if (tl_cache)
        return tl_cache;
    pthread_once(&cache_once, cache_key_init);
    tl_cache = xcalloc(1, sizeof(*tl_cache));
    pthread_setspecific(cache_key, tl_cache);
    return tl_cache;
}

/* The cached zone named `name` (len bytes, 1..TZ_NAME_MAX), added on first use; NULL when ICU
 * fails to open a calendar for a zone it knows (nothing is cached then). */
static struct zone *zone_get(const char *name, size_t len)
{
    struct tz_cache *c = cache();
    uint64_t h = hash_fnv1a(HASH_FNV_OFFSET, name, len);
    size_t i = (size_t)h & (TZ_SLOTS - 1);
    for (; c->slots[i].name[0]; i = (i + 1) & (TZ_SLOTS - 1)) {
        if (memcmp(c->slots[i].name, name, len + 1) == 0)
            return &c->slots[i];
    }
    UCalendar *cal = NULL;
    UChar canon[TZ_ID_MAX];
    int32_t n = canonical_id(name, canon);
    if (n > 0) {
        UErrorCode st = U_ZERO_ERROR;
        cal = ucal_open(canon, n, "", UCAL_GREGORIAN, &st);
        if (U_FAILURE(st)) {
            if (cal)
                ucal_close(cal);
            return NULL;
        }
    }
    if (c->n == TZ_ZONES_MAX) {
        cache_clear(c);
        i = (size_t)h & (TZ_SLOTS - 1);
    }
    struct zone *z = &c->slots[i];
    memcpy(z->name, name, len + 1);
    z->cal = cal;
    memset(z->spans, 0, sizeof(z->spans)); /* empty: the first conversion asks ICU */
    c->n++;
    return z;
}

/* The span holding `ms`, from ICU: 0, or -1 when ICU fails. */
static int span_at(UCalendar *cal, int64_t ms, struct span *out)
{
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(cal, (UDate)ms, &st);
    int32_t raw = ucal_get(cal, UCAL_ZONE_OFFSET, &st);
    int32_t dst = ucal_get(cal, UCAL_DST_OFFSET, &st);
    UDate prev = 0, next = 0;
    UBool has_prev =
        ucal_getTimeZoneTransitionDate(cal, UCAL_TZ_TRANSITION_PREVIOUS_INCLUSIVE, &prev, &st);
    UBool has_next = ucal_getTimeZoneTransitionDate(cal, UCAL_TZ_TRANSITION_NEXT, &next, &st);
    if (U_FAILURE(st))
        return -1;
    out->offset_ms = raw + dst;
    out->from_ms = has_prev ? (int64_t)prev : INT64_MIN;
    out->to_ms = has_next ? (int64_t)next : INT64_MAX;
    if (out->from_ms > ms || out->to_ms <= ms) { /* not what ICU promises: trust this instant */
        out->from_ms = ms;
        out->to_ms = ms + 1;
    }
    return 0;
}

/* z's offset at `ms`, from a cached span or a new one: 0, or -1 when ICU fails. */
static int offset_at(struct zone *z, int64_t ms, int32_t *offset_ms)
{
    struct span *s = z->spans;
    if (ms >= s[0].from_ms && ms < s[0].to_ms) {
        *offset_ms = s[0].offset_ms;
        return 0;
    }
    struct span fresh;
    if (ms >= s[1].from_ms && ms < s[1].to_ms)
        fresh = s[1];
    else if (span_at(z->cal, ms, &fresh) < 0)
        return -1;
    s[1] = s[0];
    s[0] = fresh;
    *offset_ms = fresh.offset_ms;
    return 0;
}

int tz_local(const char *name, int64_t ms, struct tz_local *out)
{
    if (!name) {
        tz_utc(ms, out);
        return 0;
    }
    size_t len = strnlen(name, TZ_NAME_MAX + 1);
    struct zone *z = len >= 1 && len <= TZ_NAME_MAX ? zone_get(name, len) : NULL;
    if (!z || !z->cal) {
        tz_utc(ms, out);
        return -1;
    }
    ms = clamp_ms(ms);
    int32_t offset_ms;
    if (offset_at(z, ms, &offset_ms) < 0) {
        tz_utc(ms, out);
        return -1;
    }
    fill(ms + offset_ms, offset_ms / 1000, out);
    return 0;
}
