/* Fuzz target for the RFC 3339 parser event timestamps go through (clock_parse_iso in
 * src/core/clock.c).
 *
 * The input is the timestamp itself, handed over with its exact length (libFuzzer's buffer
 * ends there, so AddressSanitizer catches any read past it). Every answer is checked against
 * a slow reference parser written from clock.h's contract, whose calendar arithmetic is
 * glibc's timegm rather than the parser's own. An accepted timestamp must also: lose its
 * validity when its last byte is cut; format back through clock_iso and re-parse to the same
 * instant (when the instant has a four-digit year); and equal that formatting byte for byte
 * if it was already in clock_iso's form. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"

#include "fuzz.h"

/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: what clock_iso can write. */
#define ISO_MIN_MS (-62167219200000LL)
#define ISO_MAX_MS 253402300799999LL

static bool digits(const uint8_t *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* The contract: "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)", T and Z in either case,
 * 1..9 fraction digits truncated to milliseconds, a real calendar day, no leap second. */
static bool reference(const uint8_t *s, size_t n, int64_t *ms)
{
    int y, mo, d, h, mi, sec;
    if (n < 20)
        return false;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return false;
    size_t i = 19;
    int milli = 0;
    if (s[i] == '.') {
        size_t nd = 0;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, nd++) {
            if (nd < 3)
                milli += (s[i] - '0') * (nd == 0 ? 100 : nd == 1 ? 10 : 1);
        }
        if (nd < 1 || nd > 9)
            return false;
    }
    int offset = 0;
    if (n - i == 1 && (s[i] == 'Z' || s[i] == 'z')) {
        offset = 0;
    } else if (n - i == 6 && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
    } else {
        return false;
    }
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
        return false;
    /* timegm normalises an impossible day (Feb 30 -> Mar 2); a real one comes back as is */
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    struct tm back;
    CHECK(gmtime_r(&t, &back) != NULL);
    if (back.tm_mday != d || back.tm_mon != mo - 1 || back.tm_year != y - 1900)
        return false;
    *ms = ((int64_t)t - (int64_t)offset * 60) * 1000 + milli;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int64_t ms = 0x5a5a5a5a;
    int rc = clock_parse_iso(s, size, &ms);
    CHECK(rc == 0 || rc == -1);

    int64_t want = 0;
    bool ok = reference(data, size, &want);
    if (!ok) {
        CHECK(rc == -1);
        return 0;
    }
    if (rc != 0)
        fprintf(stderr, "rejected \"%.*s\", reference says %lld\n", (int)size, s, (long long)want);
    CHECK(rc == 0);
    if (ms != want)
        fprintf(stderr, "\"%.*s\": %lld, reference %lld\n", (int)size, s, (long long)ms,
                (long long)want);
    CHECK(ms == want);
    CHECK(size >= 20 && size <= 35);

    /* no valid timestamp has a valid strict prefix */
    int64_t cut = 0;
    CHECK(clock_parse_iso(s, size - 1, &cut) == -1);

    if (ms < ISO_MIN_MS || ms > ISO_MAX_MS)
        return 0; /* an offset moved it out of four-digit years: clock_iso cannot write it */
    char iso[CLOCK_ISO_LEN];
    clock_iso(ms, iso);
    CHECK(strlen(iso) == CLOCK_ISO_LEN - 1);
    int64_t again = 0;
    CHECK(clock_parse_iso(iso, CLOCK_ISO_LEN - 1, &again) == 0);
    CHECK(again == ms);
    /* already canonical: "...T...SS.mmmZ" formats back to itself */
    if (size == CLOCK_ISO_LEN - 1 && s[10] == 'T' && s[19] == '.' && s[23] == 'Z')
        CHECK(memcmp(iso, s, size) == 0);
    return 0;
}
