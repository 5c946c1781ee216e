/* Wall-clock helpers (see clock.h). */
#include "core/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_iso(int64_t ms, char out[CLOCK_ISO_LEN])
{
    time_t sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int milli = (int)(ms - (int64_t)sec * 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char tmp[64]; /* roomy enough that the compiler can prove nothing is cut */
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
    memcpy(out, tmp, CLOCK_ISO_LEN - 1);
    out[CLOCK_ISO_LEN - 1] = '\0';
}
