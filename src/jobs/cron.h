/* Schedules: five-field cron expressions and fixed intervals, and the slots they define.
 *
 * Cron (UTC): "minute hour day-of-month month day-of-week", each field `*`, a number, a range
 * `a-b`, a step `*\/n` or `a-b/n` or `a/n` (from a to the field's end), or a comma list of
 * these; months and days of the week also by name (JAN..DEC, SUN..SAT, any case); day of week
 * 0..7 with 0 and 7 both Sunday. As in POSIX cron, when both day fields are restricted a day
 * matches if either does. Macros: @yearly (@annually), @monthly, @weekly, @daily (@midnight),
 * @hourly. Intervals: "@every <n><unit>", unit s, m, h or d (at least 1 s, at most 366 d).
 *
 * Slots: a schedule's slots are the times it fires, in Unix ms: the minutes a cron expression
 * matches, or the multiples of an interval since the epoch (so every node and every restart
 * computes the same slots). A slot is the identity of a run: the scheduler records (schedule,
 * slot) so each runs once.
 *
 * Pure: no clock, no I/O; fuzzed (tests/fuzz/fuzz_cron.c). */
#ifndef REACTOR_JOBS_CRON_H
#define REACTOR_JOBS_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRON_TEXT_MAX 128

struct cron {
    bool interval;          /* "@every": only interval_ms counts */
    int64_t interval_ms;
    uint64_t minutes;       /* bit m for minute m, 0..59 */
    uint32_t hours;         /* 0..23 */
    uint32_t mdays;         /* bit d for day d, 1..31 */
    uint16_t months;        /* bit m for month m, 1..12 */
    uint8_t wdays;          /* bit d for day d, 0..6 (Sunday 0) */
    bool mday_any, wday_any; /* the field was "*" (for the either-day rule) */
};

/* Parses `text` (at most CRON_TEXT_MAX bytes). 0, or -1 with what is wrong in err. */
int cron_parse(const char *text, struct cron *out, char *err, size_t errlen);

/* The first slot strictly after `after_ms`, or -1 when there is none in the next 8 years
 * (an expression such as "0 0 30 2 *" never fires). */
int64_t cron_next(const struct cron *c, int64_t after_ms);

/* The slots in (last, now], oldest first, into out[0..max): when there are more than `max`,
 * only the newest `max` (a bounded catch-up after downtime). Returns how many were written;
 * *skipped (may be NULL) receives how many older slots were left out (at most counted up to
 * a bound, for logging). */
size_t cron_due(const struct cron *c, int64_t last, int64_t now, int64_t *out, size_t max,
                size_t *skipped);

#endif
