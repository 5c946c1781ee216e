/* Unit tests for src/engine/streak.c: daily and weekly streaks counted in the user's zone,
 * with grace hours, freezes and their refills. Each case is a table of events given as local
 * wall-clock times in a zone, turned into instants and back into fields by core/tz.c, as the
 * engine will do, with what the streak must look like after each. */
#include "unit.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/tz.h"
#include "engine/streak.h"

/* The instant at which `zone`'s clocks read `local` ("YYYY-MM-DDTHH:MM:SS"). */
static int64_t local_instant(const char *zone, const char *local)
{
    char iso[32];
    snprintf(iso, sizeof(iso), "%sZ", local);
    int64_t wall = 0;
    if (clock_parse_iso(iso, strlen(iso), &wall) != 0)
        fail_msg("bad test time %s", local);
    int64_t ms = wall;
    struct tz_local t;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tz_local(zone, ms, &t), 0);
        ms = wall - (int64_t)t.offset_s * 1000;
    }
    assert_int_equal(tz_local(zone, ms, &t), 0);
    char back[32];
    snprintf(back, sizeof(back), "%04d-%02d-%02dT%02d:%02d:%02d", t.year, t.month, t.day, t.hour,
             t.minute, t.second);
    if (strcmp(back, local) != 0)
        fail_msg("%s does not exist in %s (got %s)", local, zone, back);
    return ms;
}

static struct tz_local local_fields(const char *zone, const char *local)
{
    struct tz_local t;
    assert_int_equal(tz_local(zone, local_instant(zone, local), &t), 0);
    return t;
}

struct step {
    const char *local; /* wall-clock time in the zone */
    enum streak_change change;
    int32_t current, best;
    int used;         /* freezes consumed by this event */
    int32_t left;     /* freezes left after it */
    const char *last; /* streak_unit_date of last_unit after it */
};

static const char *change_name(enum streak_change c)
{
    switch (c) {
    case STREAK_UNCHANGED: return "unchanged";
    case STREAK_STARTED: return "started";
    case STREAK_EXTENDED: return "extended";
    }
    return "?";
}

static void run(const char *zone, const struct streak_config *c, struct streak_state *s,
                const struct step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct tz_local t = local_fields(zone, steps[i].local);
        int used = -1;
        enum streak_change got = streak_apply(c, s, &t, &used);
        char last[11];
        streak_unit_date(c->mode, s->last_unit, last);
        if (got != steps[i].change || s->current != steps[i].current || s->best != steps[i].best ||
            used != steps[i].used || s->freezes_left != steps[i].left ||
            strcmp(last, steps[i].last) != 0)
            fail_msg("%s step %zu (%s): %s current %d best %d used %d left %d last %s; want "
                     "%s %d %d %d %d %s",
                     zone, i, steps[i].local, change_name(got), s->current, s->best, used,
                     s->freezes_left, last, change_name(steps[i].change), steps[i].current,
                     steps[i].best, steps[i].used, steps[i].left, steps[i].last);
    }
}

#define RUN(zone, config, steps)                                                                   \
    do {                                                                                           \
        struct streak_state s_;                                                                    \
        streak_state_init(&s_);                                                                    \
        run(zone, config, &s_, steps, sizeof(steps) / sizeof(steps[0]));                           \
    } while (0)

static const struct streak_config daily = {STREAK_DAILY, 0, 0, PERIOD_MONTH};

static void fresh_state(void **state)
{
    (void)state;
    struct streak_state s;
    memset(&s, 0x55, sizeof(s));
    streak_state_init(&s);
    assert_int_equal(s.current, 0);
    assert_int_equal(s.best, 0);
    assert_int_equal(s.last_unit, STREAK_NONE);
    assert_int_equal(s.freezes_left, 0);
    assert_int_equal(s.freeze_refill, STREAK_NONE);
}

static void same_day_next_day_and_gaps(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {"2026-03-02T10:00:00", STREAK_STARTED, 1, 1, 0, 0, "2026-03-02"},   /* first ever */
        {"2026-03-02T23:59:59", STREAK_UNCHANGED, 1, 1, 0, 0, "2026-03-02"}, /* same day */
        {"2026-03-03T00:00:00", STREAK_EXTENDED, 2, 2, 0, 0, "2026-03-03"},  /* next day */
        {"2026-03-04T18:00:00", STREAK_EXTENDED, 3, 3, 0, 0, "2026-03-04"},
        {"2026-03-06T09:00:00", STREAK_STARTED, 1, 3, 0, 0, "2026-03-06"}, /* missed the 5th */
        {"2026-03-07T09:00:00", STREAK_EXTENDED, 2, 3, 0, 0, "2026-03-07"},
        {"2026-04-01T09:00:00", STREAK_STARTED, 1, 3, 0, 0, "2026-04-01"},
    };
    RUN("UTC", &daily, steps);
}

/* An event older than the last counted day changes nothing at all, not even the refill. */
static void old_events_are_ignored(void **state)
{
    (void)state;
    struct streak_config c = {STREAK_DAILY, 0, 2, PERIOD_MONTH};
    struct streak_state s;
    streak_state_init(&s);
    static const struct step steps[] = {
        {"2026-05-30T12:00:00", STREAK_STARTED, 1, 1, 0, 2, "2026-05-30"},
        {"2026-05-31T12:00:00", STREAK_EXTENDED, 2, 2, 0, 2, "2026-05-31"},
        {"2026-06-03T12:00:00", STREAK_EXTENDED, 3, 3, 2, 0, "2026-06-03"}, /* refilled, 2 used */
    };
    run("UTC", &c, &s, steps, sizeof(steps) / sizeof(steps[0]));
    struct streak_state before = s;
    static const char *old[] = {"2026-06-02T23:59:59", "2026-06-01T00:00:00", "2026-05-31T12:00:00",
                                "1999-01-01T00:00:00"};
    for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
        struct tz_local t = local_fields("UTC", old[i]);
        int used = -1;
        assert_int_equal(streak_apply(&c, &s, &t, &used), STREAK_UNCHANGED);
        assert_int_equal(used, 0);
        assert_memory_equal(&s, &before, sizeof(s));
    }
    /* the same day as the last one still counts as "same day" */
    struct tz_local t = local_fields("UTC", "2026-06-03T00:00:00");
    assert_int_equal(streak_apply(&c, &s, &t, NULL), STREAK_UNCHANGED);
    assert_memory_equal(&s, &before, sizeof(s));
}

/* Grace hours: one missed day is forgiven when the event comes early enough after midnight,
 * and counts for the missed day; the day it happened on can then still count. */
static void grace_hours(void **state)
{
    (void)state;
    struct streak_config c = {STREAK_DAILY, 3, 0, PERIOD_MONTH};
    static const struct step within[] = {
        {"2026-03-02T21:00:00", STREAK_STARTED, 1, 1, 0, 0, "2026-03-02"},
        {"2026-03-04T02:59:59", STREAK_EXTENDED, 2, 2, 0, 0, "2026-03-03"}, /* for the 3rd */
        {"2026-03-04T02:59:59", STREAK_EXTENDED, 3, 3, 0, 0, "2026-03-04"}, /* then the 4th */
        {"2026-03-04T20:00:00", STREAK_UNCHANGED, 3, 3, 0, 0, "2026-03-04"},
        {"2026-03-06T00:00:00", STREAK_EXTENDED, 4, 4, 0, 0, "2026-03-05"},
    };
    RUN("UTC", &c, within);
    static const struct step beyond[] = {
        {"2026-03-02T21:00:00", STREAK_STARTED, 1, 1, 0, 0, "2026-03-02"},
        {"2026-03-04T03:00:00", STREAK_STARTED, 1, 1, 0, 0, "2026-03-04"}, /* 3 h past */
        {"2026-03-07T01:00:00", STREAK_STARTED, 1, 1, 0, 0, "2026-03-07"}, /* two days missed */
    };
    RUN("UTC", &c, beyond);
    /* no grace hours, no grace */
    static const struct step none[] = {
        {"2026-03-02T21:00:00", STREAK_STARTED, 1, 1, 0, 0, "2026-03-02"},
        {"2026-03-04T00:00:00", STREAK_STARTED, 1, 1, 0, 0, "2026-03-04"},
    };
    RUN("UTC", &daily, none);
    /* grace counts in local hours: 01:30 in Kolkata is 20:00 UTC the day before */
    static const struct step kolkata[] = {
        {"2026-03-02T21:00:00", STREAK_STARTED, 1, 1, 0, 0, "2026-03-02"},
        {"2026-03-04T01:30:00", STREAK_EXTENDED, 2, 2, 0, 0, "2026-03-03"},
    };
    RUN("Asia/Kolkata", &c, kolkata);
}

static void freezes_cover_multi_day_gaps(void **state)
{
    (void)state;
    struct streak_config c = {STREAK_DAILY, 0, 3, PERIOD_MONTH};
    static const struct step steps[] = {
        {"2026-01-05T12:00:00", STREAK_STARTED, 1, 1, 0, 3, "2026-01-05"},
        {"2026-01-08T12:00:00", STREAK_EXTENDED, 2, 2, 2, 1, "2026-01-08"}, /* 6th, 7th */
        {"2026-01-10T12:00:00", STREAK_EXTENDED, 3, 3, 1, 0, "2026-01-10"}, /* 9th */
        {"2026-01-12T12:00:00", STREAK_STARTED, 1, 3, 0, 0, "2026-01-12"},  /* none left */
    };
    RUN("UTC", &c, steps);
    /* a gap longer than the freezes left restarts the streak and keeps them */
    static const struct step too_long[] = {
        {"2026-01-05T12:00:00", STREAK_STARTED, 1, 1, 0, 3, "2026-01-05"},
        {"2026-01-06T12:00:00", STREAK_EXTENDED, 2, 2, 0, 3, "2026-01-06"},
        {"2026-01-11T12:00:00", STREAK_STARTED, 1, 2, 0, 3, "2026-01-11"},  /* 4 missed */
        {"2026-01-15T12:00:00", STREAK_EXTENDED, 2, 2, 3, 0, "2026-01-15"}, /* exactly 3 */
    };
    RUN("UTC", &c, too_long);
}

/* Monthly freezes come back in the next calendar month of the user's zone. */
static void freezes_refill_each_month(void **state)
{
    (void)state;
    struct streak_config c = {STREAK_DAILY, 0, 1, PERIOD_MONTH};
    static const struct step steps[] = {
        {"2026-01-28T12:00:00", STREAK_STARTED, 1, 1, 0, 1, "2026-01-28"},
        {"2026-01-30T12:00:00", STREAK_EXTENDED, 2, 2, 1, 0, "2026-01-30"},
        {"2026-01-31T12:00:00", STREAK_EXTENDED, 3, 3, 0, 0, "2026-01-31"},
        {"2026-02-02T12:00:00", STREAK_EXTENDED, 4, 4, 1, 0, "2026-02-02"}, /* refilled */
        {"2026-02-04T12:00:00", STREAK_STARTED, 1, 4, 0, 0, "2026-02-04"},
        {"2026-03-01T00:10:00", STREAK_STARTED, 1, 4, 0, 1, "2026-03-01"}, /* refilled */
    };
    RUN("UTC", &c, steps);
    /* the month changes at local midnight: 2026-02-28T14:00Z is already March 1st in Sydney */
    struct streak_state s;
    streak_state_init(&s);
    static const struct step sydney[] = {
        {"2026-02-26T12:00:00", STREAK_STARTED, 1, 1, 0, 1, "2026-02-26"},
        {"2026-02-28T12:00:00", STREAK_EXTENDED, 2, 2, 1, 0, "2026-02-28"},
        {"2026-03-01T01:00:00", STREAK_EXTENDED, 3, 3, 0, 1, "2026-03-01"},
    };
    run("Australia/Sydney", &c, &s, sydney, sizeof(sydney) / sizeof(sydney[0]));
    struct tz_local t = local_fields("Australia/Sydney", "2026-03-01T01:00:00");
    assert_int_equal(s.freeze_refill, t.month_index);
}

/* Weekly freezes come back each ISO week (Monday). */
static void freezes_refill_each_week(void **state)
{
    (void)state;
    struct streak_config c = {STREAK_DAILY, 0, 1, PERIOD_WEEK};
    static const struct step steps[] = {
        {"2026-03-02T12:00:00", STREAK_STARTED, 1, 1, 0, 1, "2026-03-02"}, /* Monday */
        {"2026-03-04T12:00:00", STREAK_EXTENDED, 2, 2, 1, 0, "2026-03-04"},
        {"2026-03-06T12:00:00", STREAK_STARTED, 1, 2, 0, 0, "2026-03-06"},
        {"2026-03-07T12:00:00", STREAK_EXTENDED, 2, 2, 0, 0, "2026-03-07"},
        {"2026-03-09T12:00:00", STREAK_EXTENDED, 3, 3, 1, 0, "2026-03-09"}, /* next Monday */
        {"2026-03-10T12:00:00", STREAK_EXTENDED, 4, 4, 0, 0, "2026-03-10"},
        {"2026-03-16T12:00:00", STREAK_STARTED, 1, 4, 0, 1, "2026-03-16"}, /* 5 missed */
    };
    RUN("UTC", &c, steps);
}

/* A lowered grant applies at once; zero freezes means none. */
static void freezes_follow_the_config(void **state)
{
    (void)state;
    struct streak_config c = {STREAK_DAILY, 0, 5, PERIOD_MONTH};
    struct streak_state s;
    streak_state_init(&s);
    struct tz_local t = local_fields("UTC", "2026-01-05T12:00:00");
    assert_int_equal(streak_apply(&c, &s, &t, NULL), STREAK_STARTED);
    assert_int_equal(s.freezes_left, 5);
    c.freezes = 1;
    t = local_fields("UTC", "2026-01-08T12:00:00");
    int used = -1;
    assert_int_equal(streak_apply(&c, &s, &t, &used), STREAK_STARTED); /* 2 missed, 1 left */
    assert_int_equal(used, 0);
    assert_int_equal(s.freezes_left, 1);
    c.freezes = 0;
    t = local_fields("UTC", "2026-01-10T12:00:00");
    assert_int_equal(streak_apply(&c, &s, &t, &used), STREAK_STARTED);
    assert_int_equal(s.freezes_left, 0);
}

static void best_is_the_longest_run(void **state)
{
    (void)state;
    static const struct step steps[] = {
        {"2026-06-01T08:00:00", STREAK_STARTED, 1, 1, 0, 0, "2026-06-01"},
        {"2026-06-02T08:00:00", STREAK_EXTENDED, 2, 2, 0, 0, "2026-06-02"},
        {"2026-06-03T08:00:00", STREAK_EXTENDED, 3, 3, 0, 0, "2026-06-03"},
        {"2026-06-05T08:00:00", STREAK_STARTED, 1, 3, 0, 0, "2026-06-05"},
        {"2026-06-06T08:00:00", STREAK_EXTENDED, 2, 3, 0, 0, "2026-06-06"},
        {"2026-06-07T08:00:00", STREAK_EXTENDED, 3, 3, 0, 0, "2026-06-07"},
        {"2026-06-08T08:00:00", STREAK_EXTENDED, 4, 4, 0, 0, "2026-06-08"},
        {"2026-06-10T08:00:00", STREAK_STARTED, 1, 4, 0, 0, "2026-06-10"},
    };
    RUN("UTC", &daily, steps);
}

/* Weekly streaks count ISO weeks (Monday to Sunday), through week 53 and the new year. */
static void weekly_streaks(void **state)
{
    (void)state;
    struct streak_config c = {STREAK_WEEKLY, 5, 1, PERIOD_MONTH}; /* grace: daily only */
    static const struct step steps[] = {
        {"2026-12-14T12:00:00", STREAK_STARTED, 1, 1, 0, 1, "2026-12-14"},   /* W51 */
        {"2026-12-20T23:59:59", STREAK_UNCHANGED, 1, 1, 0, 1, "2026-12-14"}, /* its Sunday */
        {"2026-12-21T00:00:00", STREAK_EXTENDED, 2, 2, 0, 1, "2026-12-21"},  /* W52 */
        {"2026-12-31T12:00:00", STREAK_EXTENDED, 3, 3, 0, 1, "2026-12-28"},  /* W53 */
        {"2027-01-03T12:00:00", STREAK_UNCHANGED, 3, 3, 0, 1, "2026-12-28"}, /* still W53 */
        {"2027-01-04T12:00:00", STREAK_EXTENDED, 4, 4, 0, 1, "2027-01-04"},  /* 2027-W01 */
        {"2027-01-18T01:00:00", STREAK_EXTENDED, 5, 5, 1, 0, "2027-01-18"},  /* W03, a freeze */
        {"2027-02-01T01:00:00", STREAK_EXTENDED, 6, 6, 1, 0, "2027-02-01"},  /* W05, refilled */
        {"2027-02-15T01:00:00", STREAK_STARTED, 1, 6, 0, 0, "2027-02-15"},   /* W07, none */
    };
    RUN("UTC", &c, steps);
    /* 2020 had a week 53 too */
    static const struct step y2020[] = {
        {"2020-12-22T12:00:00", STREAK_STARTED, 1, 1, 0, 0, "2020-12-21"},  /* W52 */
        {"2020-12-28T12:00:00", STREAK_EXTENDED, 2, 2, 0, 0, "2020-12-28"}, /* W53 */
        {"2021-01-04T12:00:00", STREAK_EXTENDED, 3, 3, 0, 0, "2021-01-04"}, /* 2021-W01 */
    };
    c.freezes = 0;
    RUN("Europe/Paris", &c, y2020);
}

/* The same two instants, an hour apart around 22:00Z: a new day in Paris (+2), the same day
 * in UTC and New York. */
static void days_turn_at_local_midnight(void **state)
{
    (void)state;
    static const struct {
        const char *zone;
        enum streak_change second;
    } table[] = {
        {"Europe/Paris", STREAK_EXTENDED},        {"UTC", STREAK_UNCHANGED},
        {"America/New_York", STREAK_UNCHANGED},   {"Asia/Kolkata", STREAK_UNCHANGED},
        {"Africa/Johannesburg", STREAK_EXTENDED}, {"Pacific/Chatham", STREAK_UNCHANGED},
    };
    int64_t a = 0, b = 0;
    assert_int_equal(clock_parse_iso("2026-06-10T21:30:00Z", 20, &a), 0);
    assert_int_equal(clock_parse_iso("2026-06-10T22:30:00Z", 20, &b), 0);
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        struct streak_state s;
        streak_state_init(&s);
        struct tz_local t;
        assert_int_equal(tz_local(table[i].zone, a, &t), 0);
        assert_int_equal(streak_apply(&daily, &s, &t, NULL), STREAK_STARTED);
        assert_int_equal(tz_local(table[i].zone, b, &t), 0);
        enum streak_change got = streak_apply(&daily, &s, &t, NULL);
        if (got != table[i].second)
            fail_msg("%s: %s, want %s", table[i].zone, change_name(got),
                     change_name(table[i].second));
    }
}

/* Active at 23:30 every evening through a DST change (short and long days) keeps counting,
 * in zones on both hemispheres and both sides of UTC. */
static void late_evenings_across_dst(void **state)
{
    (void)state;
    static const struct {
        const char *zone, *first; /* six consecutive local days from `first` */
    } table[] = {
        {"America/New_York", "2026-03-05"}, /* DST from March 8th */
        {"America/New_York", "2026-10-29"}, /* until November 1st */
        {"Europe/Paris", "2026-03-26"},     {"Europe/Paris", "2026-10-22"},
        {"Australia/Sydney", "2026-04-02"}, {"Australia/Sydney", "2026-10-01"},
        {"Pacific/Chatham", "2026-04-02"},  {"Pacific/Chatham", "2026-09-24"},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        struct streak_state s;
        streak_state_init(&s);
        int64_t first = 0;
        char iso[32];
        snprintf(iso, sizeof(iso), "%sT00:00:00Z", table[i].first);
        assert_int_equal(clock_parse_iso(iso, strlen(iso), &first), 0);
        for (int d = 0; d < 6; d++) {
            struct tz_local day;
            tz_utc(first + d * 86400000LL, &day);
            char local[32];
            snprintf(local, sizeof(local), "%04d-%02d-%02dT23:30:00", day.year, day.month, day.day);
            struct tz_local t = local_fields(table[i].zone, local);
            enum streak_change got = streak_apply(&daily, &s, &t, NULL);
            if (got != (d == 0 ? STREAK_STARTED : STREAK_EXTENDED) || s.current != d + 1)
                fail_msg("%s %s: %s, current %d", table[i].zone, local, change_name(got),
                         s.current);
        }
    }
    /* the short day itself: 00:30 and 23:30 on March 8th in New York are one day */
    struct streak_state s;
    streak_state_init(&s);
    struct tz_local t = local_fields("America/New_York", "2026-03-08T00:30:00");
    assert_int_equal(streak_apply(&daily, &s, &t, NULL), STREAK_STARTED);
    t = local_fields("America/New_York", "2026-03-08T23:30:00");
    assert_int_equal(streak_apply(&daily, &s, &t, NULL), STREAK_UNCHANGED);
    t = local_fields("America/New_York", "2026-03-09T00:00:00");
    assert_int_equal(streak_apply(&daily, &s, &t, NULL), STREAK_EXTENDED);
}

static void unit_dates(void **state)
{
    (void)state;
    static const struct {
        enum streak_mode mode;
        int32_t unit;
        const char *want;
    } table[] = {
        {STREAK_DAILY, 0, "1970-01-01"},     {STREAK_DAILY, -1, "1969-12-31"},
        {STREAK_DAILY, 20780, "2026-11-23"}, {STREAK_DAILY, STREAK_NONE, ""},
        {STREAK_WEEKLY, 0, "1969-12-29"},    {STREAK_WEEKLY, -1, "1969-12-22"},
        {STREAK_WEEKLY, 2974, "2026-12-28"}, {STREAK_WEEKLY, STREAK_NONE, ""},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        char out[11];
        memset(out, 'x', sizeof(out));
        streak_unit_date(table[i].mode, table[i].unit, out);
        assert_string_equal(out, table[i].want);
    }
    /* the week of 2027-01-01 (2026-W53) starts on Monday 2026-12-28 */
    struct tz_local t = local_fields("UTC", "2027-01-01T12:00:00");
    char out[11];
    streak_unit_date(STREAK_WEEKLY, t.week_index, out);
    assert_string_equal(out, "2026-12-28");
    streak_unit_date(STREAK_DAILY, t.day_index, out);
    assert_string_equal(out, "2027-01-01");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(fresh_state),
    cmocka_unit_test(same_day_next_day_and_gaps),
    cmocka_unit_test(old_events_are_ignored),
    cmocka_unit_test(grace_hours),
    cmocka_unit_test(freezes_cover_multi_day_gaps),
    cmocka_unit_test(freezes_refill_each_month),
    cmocka_unit_test(freezes_refill_each_week),
    cmocka_unit_test(freezes_follow_the_config),
    cmocka_unit_test(best_is_the_longest_run),
    cmocka_unit_test(weekly_streaks),
    cmocka_unit_test(days_turn_at_local_midnight),
    cmocka_unit_test(late_evenings_across_dst),
    cmocka_unit_test(unit_dates),
};

UNIT_MAIN(tests)
