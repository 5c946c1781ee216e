/* Wall-clock time as Unix milliseconds, and its ISO 8601 form. */
#ifndef REACTOR_CORE_CLOCK_H
#define REACTOR_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define CLOCK_ISO_LEN 25 /* "2026-11-23T14:24:01.123Z" and NUL */

int64_t clock_now_ms(void);
/* Monotonic nanoseconds, for durations. */
uint64_t clock_mono_ns(void);
/* Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC). */
void clock_iso(int64_t ms, char out[CLOCK_ISO_LEN]);

/* Parses an RFC 3339 date-time with a zone, as event timestamps are sent:
 * "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" ('T'/'Z' in either case). Fractions
 * beyond milliseconds are truncated. Calendar fields are range-checked (days per month, leap
 * years; no leap second). Returns 0 and Unix milliseconds, or -1. */
int clock_parse_iso(const char *s, size_t len, int64_t *ms);

#endif
