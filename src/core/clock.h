/* Wall-clock time as Unix milliseconds, and its ISO 8601 form. */
#ifndef REACTOR_CORE_CLOCK_H
#define REACTOR_CORE_CLOCK_H

#include <stdint.h>

#define CLOCK_ISO_LEN 25 /* "2026-11-23T14:24:01.123Z" and NUL */

int64_t clock_now_ms(void);
/* Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC). */
void clock_iso(int64_t ms, char out[CLOCK_ISO_LEN]);

#endif
