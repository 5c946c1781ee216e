/* Fuzz target for what a leaderboard read parses (src/engine/boards.c): period keys and
 * paging cursors.
 *
 * The input, up to its first NUL, is handed to boards_period_valid (which must agree with a
 * reference built from period_key_valid and the "all" / "season:<id>" forms) and to
 * boards_cursor_parse. A cursor that parses must be written back by boards_cursor_write as
 * exactly the input (one spelling per position; "-0" and leading zeros are the exceptions the
 * reference allows), and a cursor written for an entry made from the input's bytes must parse
 * back to that entry. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/rank.h"
#include "engine/boards.h"
#include "engine/period.h"

#include "fuzz.h"

static bool reference_period(const char *s)
{
    if (strcmp(s, "all") == 0)
        return true;
    if (strncmp(s, "season:", 7) == 0)
        return s[7] != '\0' && strlen(s) < BOARDS_PERIOD_MAX;
    return period_key_valid(PERIOD_DAY, s) || period_key_valid(PERIOD_WEEK, s) ||
           period_key_valid(PERIOD_MONTH, s);
}

/* True when the decimal fields of a cursor are spelled canonically (no "-0", no leading 0). */
static bool canonical(const char *s)
{
    for (int field = 0; field < 2; field++) {
        bool neg = *s == '-';
        if (neg)
            s++;
        if (s[0] == '0' && (s[1] != '.' || neg))
            return false;
        s = strchr(s, '.') + 1;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[1200];
    size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    CHECK(boards_period_valid(s) == reference_period(s));

    int64_t score, at;
    char member[BOARDS_MEMBER_MAX + 1];
    size_t len;
    if (boards_cursor_parse(s, &score, &at, member, &len) == 0) {
        CHECK(len >= 1 && len <= BOARDS_MEMBER_MAX && strlen(member) == len);
        struct buf b = BUF_INIT;
        struct rank_entry e = { member, len, score, at };
        boards_cursor_write(&b, &e);
        if (canonical(s)) {
            /* Hex may be given in upper case; it is written in lower case. */
            CHECK(b.len == strlen(s));
            for (size_t i = 0; i < b.len; i++)
                CHECK(b.data[i] == s[i] || (s[i] >= 'A' && s[i] <= 'F' && b.data[i] == s[i] + 32));
        }
        buf_release(&b);
    }

    /* Any entry round-trips. */
    if (size >= 17) {
        int64_t v[2];
        memcpy(v, data, sizeof(v));
        size_t mlen = size - 16 > BOARDS_MEMBER_MAX ? BOARDS_MEMBER_MAX : size - 16;
        char name[BOARDS_MEMBER_MAX + 1];
        memcpy(name, data + 16, mlen);
        name[mlen] = '\0';
        mlen = strlen(name);
        if (mlen) {
            struct buf b = BUF_INIT;
            struct rank_entry e = { name, mlen, v[0], v[1] };
            boards_cursor_write(&b, &e);
            buf_putc(&b, '\0');
            CHECK(boards_cursor_parse(b.data, &score, &at, member, &len) == 0);
            CHECK(score == v[0] && at == v[1] && len == mlen && memcmp(member, name, mlen) == 0);
            buf_release(&b);
        }
    }
    return 0;
}
