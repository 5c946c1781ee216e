/* Time zones: the local calendar fields of an instant in an IANA zone (ICU underneath), for
 * streak days, period keys and time-of-day bonuses.
 *
 * Zones are looked up by name once and cached per thread; a lookup after that costs a hash
 * probe, and converting an instant costs a few comparisons while it stays inside the cached
 * span of constant offset (a zone's offset changes at most a few times a year).
 *
 * Threads: every call may run on any thread; caches are per thread (freed at thread exit). */
#ifndef REACTOR_CORE_TZ_H
#define REACTOR_CORE_TZ_H

#include <stdbool.h>
#include <stdint.h>

#define TZ_NAME_MAX 64

/* The local calendar of an instant. */
struct tz_local {
    int year, month, day;     /* month 1..12, day 1..31 */
    int hour, minute, second; /* 0..23, 0..59, 0..59 */
    int weekday;              /* ISO: 1 = Monday .. 7 = Sunday */
    int iso_year, iso_week;   /* ISO 8601 week-numbering year and week 1..53 */
    int32_t day_index;        /* days since 1970-01-01 of the local date (may be negative) */
    int32_t week_index;       /* weeks since the ISO week holding 1970-01-01 (a Monday-based
                               * count: consecutive ISO weeks differ by exactly 1) */
    int32_t month_index;      /* (year - 1970) * 12 + month - 1 */
    int32_t offset_s;         /* the zone's UTC offset at the instant, seconds */
};

/* Instants are clamped to local dates 0001-01-01T00:00:00.000 .. 9999-12-31T23:59:59.999
 * (proleptic Gregorian), so every field, iso_year included, stays within years 1..9999 and a
 * period key (engine/period.h) can always spell it. */

/* True when `name` is a zone ICU knows (canonical or alias, e.g. "Europe/Paris", "UTC").
 * ICU's own tz data decides, not the system's /usr/share/zoneinfo: a zone newer than ICU's
 * data is refused (Debian 12's ICU 72 carries tz data 2022e, which lacks e.g.
 * America/Ciudad_Juarez and still has DST in Mexico; ICU reads newer zoneinfo64.res files from
 * the directory named by ICU_TIMEZONE_FILES_DIR). Case matters ("utc" is refused). */
bool tz_valid(const char *name);

/* The local calendar of Unix-ms `ms` in zone `name`. NULL means UTC and returns 0. An unknown
 * zone is UTC too (callers validate names when they are saved): returns 0, or -1 when `name`
 * was not known, or ICU failed on it (the result is then UTC's). */
int tz_local(const char *name, int64_t ms, struct tz_local *out);

/* Calendar fields of a UTC instant (pure arithmetic, no ICU). */
void tz_utc(int64_t ms, struct tz_local *out);

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (month 1..12; a day past the end
 * of the month runs on into the next one). Pure arithmetic, any year. */
int64_t tz_days_from_civil(int64_t y, int m, int d);

#endif
