/* Unit tests for src/engine/game.c: the step that turns an event into effects (rules in
 * priority order, caps across period boundaries, cooldowns, seasons, streaks in the user's
 * zone, achievements and their rewards), the settings parser, and the user state's round trip
 * through its stored JSON. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/fxpack.h"
#include "core/json.h"
#include "core/uuid.h"
#include "engine/game.h"

/* 2026-11-23T12:00:00Z, a Monday. */
#define T0 1795435200000LL
#define HOUR (3600 * 1000LL)
#define DAY (24 * HOUR)

static struct game_app *app_with(const char *settings)
{
    struct game_app *a = game_app_new("demo", "UTC");
    json_t *s = unit_json(settings ? settings : "{}");
    char err[256];
    if (game_settings_parse(s, &a->settings, err, sizeof(err)) < 0)
        fail_msg("settings refused: %s", err);
    json_decref(s);
    game_app_bind_settings(a);
    return a;
}

static void add_rule(struct game_app *a, const char *id, const char *body, int64_t created)
{
    json_t *b = unit_json(body), *details = NULL;
    struct rule *r = rule_compile(b, &details);
    if (!r) {
        char *d = json_dumps(details, 0);
        fail_msg("rule refused: %s", d);
    }
    game_app_put_rule(a, id, r, b, created);
}

static void add_ach(struct game_app *a, const char *id, const char *body)
{
    json_t *b = unit_json(body), *details = NULL;
    struct achievement *x = achievement_compile(b, &details);
    if (!x) {
        char *d = json_dumps(details, 0);
        fail_msg("achievement refused: %s", d);
    }
    game_app_put_achievement(a, id, x, b);
}

struct world {
    struct game_app *app;
    struct game_user user;
    struct game_effects fx;
};

static void world_init(struct world *w, const char *settings)
{
    w->app = app_with(settings);
    game_user_load(&w->user, NULL, NULL);
    memset(&w->fx, 0, sizeof(w->fx));
}

static void world_free(struct world *w)
{
    game_app_free(w->app);
    game_user_release(&w->user);
    game_effects_release(&w->fx);
}

static void send(struct world *w, const char *type, const char *meta, int64_t at)
{
    json_decref(meta ? unit_json(meta) : NULL); /* valid JSON, as ingestion stores */
    struct game_event ev = { type, meta, at, at };
    game_apply(w->app, &w->user, &ev, &w->fx);
}

/* The sum of XP effects on a track in the last step. */
static int64_t xp_of(const struct world *w, const char *track)
{
    int64_t sum = 0;
    for (size_t i = 0; i < w->fx.n; i++)
        if (w->fx.v[i].type == FX_XP && strcmp(w->fx.v[i].name, track) == 0)
            sum += w->fx.v[i].amount;
    return sum;
}

static size_t count_fx(const struct world *w, enum game_effect_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < w->fx.n; i++)
        n += w->fx.v[i].type == t;
    return n;
}

static void rules_apply_in_priority_order_and_only_their_type(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "{\"streaks\": {\"default\": false}}");
    add_rule(w.app, "b", "{\"name\": \"b\", \"eventType\": \"t\", \"priority\": 5, "
                         "\"xpAwards\": {\"B\": 2}}", 2);
    add_rule(w.app, "a", "{\"name\": \"a\", \"eventType\": \"t\", \"priority\": 1, "
                         "\"xpAwards\": {\"A\": 1}}", 3);
    add_rule(w.app, "c", "{\"name\": \"c\", \"eventType\": \"u\", \"xpAwards\": {\"C\": 1}}", 1);
    send(&w, "t", NULL, T0);
    assert_int_equal(w.fx.n, 2);
    assert_string_equal(w.fx.v[0].name, "A");
    assert_string_equal(w.fx.v[0].rule->id, "a");
    assert_string_equal(w.fx.v[1].name, "B");
    send(&w, "nothing", NULL, T0);
    assert_int_equal(w.fx.n, 0);
    world_free(&w);
}

static void caps_reset_at_each_period_boundary(void **state)
{
    (void)state;
    static const struct {
        const char *per;
        int64_t same, next; /* an instant in the same period as T0, one in the next */
    } cases[] = {
        { "day", T0 + 11 * HOUR, T0 + 12 * HOUR },            /* midnight UTC */
        { "week", T0 + 6 * DAY + 11 * HOUR, T0 + 6 * DAY + 12 * HOUR }, /* Sunday -> Monday */
        { "month", T0 + 7 * DAY + 11 * HOUR, T0 + 7 * DAY + 12 * HOUR }, /* Nov -> Dec */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct world w;
        world_init(&w, "{}");
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"name\": \"r\", \"eventType\": \"t\", \"xpAwards\": {\"XP\": 40}, "
                 "\"caps\": [{\"per\": \"%s\", \"max\": 100}]}", cases[i].per);
        add_rule(w.app, "r", body, 1);
        send(&w, "t", NULL, T0);
        assert_int_equal(xp_of(&w, "XP"), 40);
        send(&w, "t", NULL, T0 + HOUR);
        assert_int_equal(xp_of(&w, "XP"), 40);
        send(&w, "t", NULL, cases[i].same);
        assert_int_equal(xp_of(&w, "XP"), 20);
        send(&w, "t", NULL, cases[i].same);
        assert_int_equal(xp_of(&w, "XP"), 0);
        send(&w, "t", NULL, cases[i].next);
        assert_int_equal(xp_of(&w, "XP"), 40);
        world_free(&w);
    }
}

static void caps_count_in_the_users_zone(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "{}");
    game_user_set_attributes(&w.user, unit_json("{\"timezone\": \"America/New_York\"}"));
    add_rule(w.app, "r", "{\"name\": \"r\", \"eventType\": \"t\", \"xpAwards\": {\"XP\": 40}, "
                         "\"caps\": [{\"per\": \"day\", \"max\": 40}]}", 1);
    /* 2026-11-24T03:00Z is still the 23rd in New York (UTC-5): same day as T0. */
    send(&w, "t", NULL, T0);
    assert_int_equal(xp_of(&w, "XP"), 40);
    send(&w, "t", NULL, T0 + 15 * HOUR);
    assert_int_equal(xp_of(&w, "XP"), 0);
    send(&w, "t", NULL, T0 + 17 * HOUR); /* 05:00Z = midnight in New York */
    assert_int_equal(xp_of(&w, "XP"), 40);
    world_free(&w);
}

static void season_caps_and_season_rules(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "{}");
    game_app_put_season(w.app, "s1", T0 - DAY, T0 + DAY, true, json_object());
    game_app_put_season(w.app, "s2", T0 + DAY, T0 + 3 * DAY, true, json_object());
    add_rule(w.app, "r", "{\"name\": \"r\", \"eventType\": \"t\", \"xpAwards\": {\"XP\": 10}, "
                         "\"caps\": [{\"per\": \"season\", \"max\": 10}]}", 1);
    add_rule(w.app, "only", "{\"name\": \"o\", \"eventType\": \"t\", \"seasonId\": \"s2\", "
                            "\"xpAwards\": {\"S2\": 1}}", 2);
    send(&w, "t", NULL, T0);
    assert_int_equal(xp_of(&w, "XP"), 10);
    assert_int_equal(xp_of(&w, "S2"), 0);
    send(&w, "t", NULL, T0 + HOUR);
    assert_int_equal(xp_of(&w, "XP"), 0);
    send(&w, "t", NULL, T0 + DAY); /* s2 starts: a new period, and "only" applies */
    assert_int_equal(xp_of(&w, "XP"), 10);
    assert_int_equal(xp_of(&w, "S2"), 1);
    send(&w, "t", NULL, T0 + 10 * DAY); /* no season: one shared period */
    assert_int_equal(xp_of(&w, "XP"), 10);
    send(&w, "t", NULL, T0 + 11 * DAY);
    assert_int_equal(xp_of(&w, "XP"), 0);
    world_free(&w);
}

static void cooldown_in_event_time_both_ways(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "{}");
    add_rule(w.app, "r", "{\"name\": \"r\", \"eventType\": \"t\", \"xpAwards\": {\"XP\": 1}, "
                         "\"cooldownSeconds\": 3600}", 1);
    send(&w, "t", NULL, T0);
    assert_int_equal(xp_of(&w, "XP"), 1);
    send(&w, "t", NULL, T0 + HOUR - 1);
    assert_int_equal(xp_of(&w, "XP"), 0);
    send(&w, "t", NULL, T0 - HOUR + 1); /* late, but within the hour before */
    assert_int_equal(xp_of(&w, "XP"), 0);
    send(&w, "t", NULL, T0 + HOUR);
    assert_int_equal(xp_of(&w, "XP"), 1);
    world_free(&w);
}

static void level_up_effects_follow_the_curve(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "{\"xpCurve\": {\"XP\": 50}}");
    add_rule(w.app, "r", "{\"name\": \"r\", \"eventType\": \"t\", \"xpAwards\": {\"XP\": 200}}", 1);
    send(&w, "t", NULL, T0); /* 200 / 50 = 4 -> level 3 */
    assert_int_equal(count_fx(&w, FX_LEVEL), 1);
    for (size_t i = 0; i < w.fx.n; i++)
        if (w.fx.v[i].type == FX_LEVEL) {
            assert_int_equal(w.fx.v[i].from, 1);
            assert_int_equal(w.fx.v[i].to, 3);
        }
    world_free(&w);
}

/* A season's reset sets every track that has XP to 0, its level back to 1, and leaves tracks
 * without XP and balances alone; a second reset changes nothing. */
static void reset_xp_zeroes_every_track(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "{\"xpCurve\": {\"XP\": 50}}");
    add_rule(w.app, "r", "{\"name\": \"r\", \"eventType\": \"t\", \"xpAwards\": {\"XP\": 200, "
                         "\"Other\": 3}, \"currencyAwards\": {\"gems\": 4}}", 1);
    send(&w, "t", NULL, T0);
    w.fx.n = 0;
    game_reset_xp(w.app, &w.user, &w.fx);
    assert_int_equal(xp_of(&w, "XP"), -200);
    assert_int_equal(xp_of(&w, "Other"), -3);
    assert_int_equal(count_fx(&w, FX_XP), 2);
    assert_int_equal(count_fx(&w, FX_CURRENCY), 0);
    assert_int_equal(count_fx(&w, FX_LEVEL), 1);
    for (size_t i = 0; i < w.fx.n; i++) {
        if (w.fx.v[i].type == FX_XP)
            assert_int_equal(w.fx.v[i].total, 0);
        if (w.fx.v[i].type == FX_LEVEL) {
            assert_int_equal(w.fx.v[i].from, 3);
            assert_int_equal(w.fx.v[i].to, 1);
        }
    }
    assert_int_equal(w.user.bal[0].balance, 4);
    w.fx.n = 0;
    game_reset_xp(w.app, &w.user, &w.fx);
    assert_int_equal(w.fx.n, 0);
    /* awards after the reset count from 0 */
    send(&w, "t", NULL, T0 + 1);
    for (size_t i = 0; i < w.fx.n; i++)
        if (w.fx.v[i].type == FX_XP && strcmp(w.fx.v[i].name, "XP") == 0)
            assert_int_equal(w.fx.v[i].total, 200);
    world_free(&w);
}

/* The level a step remembers for a track is the curve's of that moment: after the app's
 * curve changes, the next award levels by the new one. Also many rules of one event type
 * among others' (each event type's run of rules). */
static void levels_follow_a_changed_curve(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "{\"xpCurve\": {\"XP\": 100}}");
    add_rule(w.app, "a", "{\"name\": \"a\", \"eventType\": \"s\", \"xpAwards\": {\"XP\": 10}}", 1);
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof(id), "t%d", i);
        add_rule(w.app, id, "{\"name\": \"t\", \"eventType\": \"t\", \"xpAwards\": {\"XP\": 30}}",
                 2 + i);
    }
    add_rule(w.app, "z", "{\"name\": \"z\", \"eventType\": \"u\", \"xpAwards\": {\"XP\": 1}}", 9);
    send(&w, "t", NULL, T0); /* 90 XP: level 1 of 100 */
    assert_int_equal(xp_of(&w, "XP"), 90);
    assert_int_equal(count_fx(&w, FX_LEVEL), 0);

    /* Under g = 10, 90 XP is level 4 already (3^2 * 10 <= 90): 100 XP is no level up. */
    json_t *s = unit_json("{\"xpCurve\": {\"XP\": 10}}");
    char err[256];
    game_settings_release(&w.app->settings);
    assert_int_equal(game_settings_parse(s, &w.app->settings, err, sizeof(err)), 0);
    json_decref(s);
    send(&w, "s", NULL, T0 + 1);
    assert_int_equal(count_fx(&w, FX_LEVEL), 0);
    /* Two of the three rules of "t" left: 160 XP is level 5. */
    assert_int_equal(game_app_remove(w.app, GAME_RULE, "t1"), 0);
    send(&w, "t", NULL, T0 + 2);
    assert_int_equal(xp_of(&w, "XP"), 60);
    assert_int_equal(count_fx(&w, FX_LEVEL), 1);
    for (size_t i = 0; i < w.fx.n; i++)
        if (w.fx.v[i].type == FX_LEVEL) {
            assert_int_equal(w.fx.v[i].from, 4);
            assert_int_equal(w.fx.v[i].to, 5);
        }
    send(&w, "u", NULL, T0 + 3);
    assert_int_equal(xp_of(&w, "XP"), 1);
    world_free(&w);
}

static void streaks_count_days_in_the_users_zone(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "{}");
    game_user_set_attributes(&w.user, unit_json("{\"timezone\": \"Asia/Tokyo\"}"));
    /* 14:50Z and 15:10Z are 23:50 and 00:10 in Tokyo: two days in a row. */
    send(&w, "t", NULL, T0 + 2 * HOUR + 50 * 60000);
    assert_int_equal(count_fx(&w, FX_STREAK), 1);
    send(&w, "t", NULL, T0 + 3 * HOUR + 10 * 60000);
    assert_int_equal(game_user_streak(&w.user, "daily")->s.current, 2);
    /* In UTC both are the same day. */
    struct world u;
    world_init(&u, "{}");
    send(&u, "t", NULL, T0 + 2 * HOUR + 50 * 60000);
    send(&u, "t", NULL, T0 + 3 * HOUR + 10 * 60000);
    assert_int_equal(game_user_streak(&u.user, "daily")->s.current, 1);
    assert_int_equal(count_fx(&u, FX_STREAK), 0);
    world_free(&w);
    world_free(&u);
}

static void streak_keys_per_event_type(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "{\"streaks\": {\"default\": false, \"keys\": [{\"key\": \"lessons\", "
                   "\"eventType\": \"lesson\", \"mode\": \"weekly\"}]}}");
    send(&w, "login", NULL, T0);
    assert_null(game_user_streak(&w.user, "lessons"));
    assert_null(game_user_streak(&w.user, "daily"));
    send(&w, "lesson", NULL, T0);
    send(&w, "lesson", NULL, T0 + 7 * DAY);
    assert_int_equal(game_user_streak(&w.user, "lessons")->s.current, 2);
    world_free(&w);
}

static void achievements_unlock_grant_and_cascade(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "{}");
    add_rule(w.app, "r", "{\"name\": \"r\", \"eventType\": \"t\", \"xpAwards\": {\"XP\": 60}}", 1);
    add_ach(w.app, "a1", "{\"code\": \"a1\", \"name\": \"A1\", \"kind\": \"MILESTONE\", "
                         "\"conditions\": {\"target\": 100}, "
                         "\"rewardConfig\": {\"xpAwards\": {\"XP\": 100}}}");
    add_ach(w.app, "a2", "{\"code\": \"a2\", \"name\": \"A2\", \"kind\": \"MILESTONE\", "
                         "\"conditions\": {\"target\": 200, \"metric\": \"xp:XP\"}}");
    send(&w, "t", NULL, T0);
    assert_int_equal(count_fx(&w, FX_ACHIEVEMENT), 0);
    send(&w, "t", NULL, T0); /* 120: a1 unlocks, its 100 XP makes 220: a2 unlocks */
    assert_int_equal(count_fx(&w, FX_ACHIEVEMENT), 2);
    assert_int_equal(game_user_xp(&w.user, "XP"), 220);
    assert_int_equal(game_user_claim(&w.user, "a1")->claims, 1);
    assert_int_equal(game_user_claim(&w.user, "a2")->unlocked_at, T0);
    send(&w, "t", NULL, T0);
    assert_int_equal(count_fx(&w, FX_ACHIEVEMENT), 0);
    world_free(&w);
}

static void conditional_and_repeatable_achievements(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "{}");
    add_ach(w.app, "c", "{\"code\": \"c\", \"name\": \"C\", \"kind\": \"CONDITIONAL\", "
                        "\"repeatable\": true, \"conditions\": {\"field\": \"win\", "
                        "\"equals\": true, \"eventType\": \"game\"}, "
                        "\"rewardConfig\": {\"currencyAwards\": {\"gems\": 2}}}");
    send(&w, "game", "{\"win\": false}", T0);
    send(&w, "other", "{\"win\": true}", T0);
    assert_int_equal(count_fx(&w, FX_ACHIEVEMENT), 0);
    send(&w, "game", "{\"win\": true}", T0);
    send(&w, "game", "{\"win\": true}", T0);
    assert_int_equal(game_user_claim(&w.user, "c")->claims, 2);
    assert_int_equal(game_user_balance(&w.user, "gems"), 4);
    world_free(&w);
}

/* Rule i: XP 1 on track T when metadata f<i> is 1. */
static void add_field_rule(struct game_app *a, int i)
{
    char id[16], body[256];
    snprintf(id, sizeof(id), "r%d", i);
    snprintf(body, sizeof(body),
             "{\"name\": \"%s\", \"eventType\": \"t\", \"conditions\": {\"field\": \"f%d\", "
             "\"equals\": 1}, \"xpAwards\": {\"T\": 1}}",
             id, i);
    add_rule(a, id, body, i);
}

/* Metadata with f<i> = 1 for i < n when i is a multiple of `step`, else 0, and won: true. */
static int64_t send_fields(struct world *w, int n, int step)
{
    json_t *m = json_object();
    for (int i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof(key), "f%d", i);
        json_object_set_new(m, key, json_integer(i % step == 0));
    }
    json_object_set_new(m, "won", json_true());
    char *text = json_dumps(m, JSON_COMPACT);
    struct game_event ev = { "t", text, T0, T0 };
    game_apply(w->app, &w->user, &ev, &w->fx);
    free(text);
    json_decref(m);
    return xp_of(w, "T");
}

/* The fields rules and achievements read are numbered per app (engine/condition.h): more of
 * them than a table holds, and rules removed and replaced so that the table is rebuilt, change
 * no answer. */
static void rules_read_many_fields_as_definitions_change(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "{\"streaks\": {\"default\": false}}");
    add_ach(w.app, "c", "{\"code\": \"c\", \"name\": \"C\", \"kind\": \"CONDITIONAL\", "
                        "\"repeatable\": true, \"conditions\": {\"field\": \"won\", "
                        "\"equals\": true}}");
    for (int i = 0; i < 200; i++)
        add_field_rule(w.app, i);
    assert_int_equal(send_fields(&w, 400, 1), 200);
    assert_int_equal(count_fx(&w, FX_ACHIEVEMENT), 1);
    for (int i = 0; i < 150; i++) {
        char id[16];
        snprintf(id, sizeof(id), "r%d", i);
        assert_int_equal(game_app_remove(w.app, GAME_RULE, id), 0);
    }
    for (int i = 200; i < 400; i++) /* past the table's room: it is rebuilt on the way */
        add_field_rule(w.app, i);
    assert_int_equal(send_fields(&w, 400, 1), 250);
    assert_int_equal(send_fields(&w, 400, 2), 125);
    assert_int_equal(send_fields(&w, 400, 5), 50);
    /* r399 replaced by a rule reading f0 */
    add_rule(w.app, "r399", "{\"name\": \"x\", \"eventType\": \"t\", \"conditions\": "
                            "{\"field\": \"f0\", \"equals\": 1}, \"xpAwards\": {\"T\": 1}}", 0);
    assert_int_equal(send_fields(&w, 400, 7), 35 + 1); /* 154, 161, ..., 392 and f0 */
    assert_int_equal(count_fx(&w, FX_ACHIEVEMENT), 1);
    world_free(&w);
}

/* Rules find a user's tracks and balances by the keys their app gives award names (names.h):
 * a state loaded from text, and one used by two apps that number the same names in another
 * order, get every award on the right entry. */
static void awards_find_tracks_by_key_in_any_app(void **state)
{
    (void)state;
    struct game_app *a = app_with("{\"streaks\": {\"default\": false}}");
    struct game_app *b = app_with("{\"streaks\": {\"default\": false}}");
    add_rule(a, "r", "{\"name\": \"r\", \"eventType\": \"t\", \"xpAwards\": {\"XP\": 1, "
                     "\"Skill\": 10}, \"currencyAwards\": {\"gold\": 100, \"gems\": 1000}}", 1);
    add_rule(b, "r", "{\"name\": \"r\", \"eventType\": \"t\", \"xpAwards\": {\"Skill\": 20, "
                     "\"XP\": 2}, \"currencyAwards\": {\"gems\": 2000, \"gold\": 200}}", 1);
    struct game_user u;
    assert_int_equal(game_user_load(&u, NULL, "{\"xp\": {\"Skill\": 5, \"XP\": 7}, "
                                              "\"currencies\": {\"gems\": [3, 3]}}"), 0);
    struct game_effects fx = { 0 };
    struct game_event ev = { "t", NULL, T0, T0 };
    game_apply(a, &u, &ev, &fx);
    game_apply(b, &u, &ev, &fx);
    game_apply(a, &u, &ev, &fx);
    game_apply(b, &u, &ev, &fx);
    assert_int_equal(game_user_xp(&u, "XP"), 7 + 2 * (1 + 2));
    assert_int_equal(game_user_xp(&u, "Skill"), 5 + 2 * (10 + 20));
    assert_int_equal(game_user_balance(&u, "gold"), 2 * (100 + 200));
    assert_int_equal(game_user_balance(&u, "gems"), 3 + 2 * (1000 + 2000));
    assert_int_equal(u.n_xp, 2);
    assert_int_equal(u.n_bal, 2);
    /* the effects name the entries' tracks */
    assert_int_equal(fx.n, 4);
    assert_string_equal(fx.v[0].name, "Skill");
    assert_int_equal(fx.v[0].total, 5 + 2 * (10 + 20));
    game_effects_release(&fx);
    game_user_release(&u);
    game_app_free(a);
    game_app_free(b);
}

/* Every entry of a user's state is found by its name's key in the app's table once it was
 * found by name (names.h): counts, streaks, claims, caps and cooldowns too. Two apps that
 * number the same names in another order, used in turn on a state loaded from text, each
 * find the same entries: no entry is added twice, and each counts what both did. */
static void state_entries_found_by_key_in_any_app(void **state)
{
    (void)state;
    static const char settings[] =
        "{\"streaks\": {\"keys\": [{\"key\": \"t-days\", \"eventType\": \"t\"}]}}";
    static const char capped[] =
        "{\"name\": \"c\", \"eventType\": \"t\", \"xpAwards\": {\"XP\": 10}, "
        "\"currencyAwards\": {\"gold\": 10}, \"caps\": [{\"per\": \"day\", \"max\": 25}]}";
    static const char cooled[] =
        "{\"name\": \"d\", \"eventType\": \"t\", \"currencyAwards\": {\"gems\": 1}, "
        "\"cooldownSeconds\": 3600}";
    static const char milestone[] =
        "{\"code\": \"m\", \"name\": \"M\", \"kind\": \"MILESTONE\", \"repeatable\": true, "
        "\"conditions\": {\"target\": 2, \"metric\": \"events:t\"}}";
    static const char earned[] =
        "{\"code\": \"g\", \"name\": \"G\", \"kind\": \"MILESTONE\", "
        "\"conditions\": {\"target\": 30, \"metric\": \"currency:gold\"}}";
    struct game_app *a = app_with(settings), *b = app_with(settings);
    /* b numbers other names first: its keys for the same names differ from a's */
    add_rule(b, "z", "{\"name\": \"z\", \"eventType\": \"u\", \"xpAwards\": {\"Z\": 1}}", 0);
    add_ach(b, "y", "{\"code\": \"y\", \"name\": \"Y\", \"kind\": \"MILESTONE\", "
                    "\"conditions\": {\"target\": 99, \"metric\": \"events:u\"}}");
    add_rule(a, "c", capped, 1);
    add_rule(a, "d", cooled, 2);
    add_ach(a, "m", milestone);
    add_ach(a, "g", earned);
    add_ach(b, "g", earned);
    add_ach(b, "m", milestone);
    add_rule(b, "d", cooled, 2);
    add_rule(b, "c", capped, 1);
    struct game_user u;
    assert_int_equal(game_user_load(&u, NULL, "{\"events\": {\"t\": 1}}"), 0);
    struct game_effects fx = { 0 };
    for (int i = 0; i < 4; i++) {
        struct game_event ev = { "t", NULL, T0 + i * 60 * 1000LL, T0 + i * 60 * 1000LL };
        game_apply(i % 2 ? b : a, &u, &ev, &fx);
    }
    struct game_event later = { "t", NULL, T0 + 2 * HOUR, T0 + 2 * HOUR };
    game_apply(b, &u, &later, &fx);
    assert_int_equal(u.n_counts, 1);
    assert_int_equal(u.counts[0].n, 1 + 5);
    assert_int_equal(u.n_streaks, 2); /* daily and t-days */
    assert_int_equal(game_user_streak(&u, "t-days")->s.current, 1);
    assert_int_equal(u.n_caps, 2);    /* one a target: xp and gold */
    assert_int_equal(u.caps[0].used, 25);
    assert_int_equal(game_user_xp(&u, "XP"), 25);
    assert_int_equal(game_user_balance(&u, "gold"), 25);
    assert_int_equal(u.n_cools, 1);   /* fired at T0, then after the hour only */
    assert_int_equal(game_user_balance(&u, "gems"), 2);
    assert_int_equal(u.cools[0].last_ms, T0 + 2 * HOUR);
    assert_int_equal(u.n_claims, 1);  /* m: 6 events, 3 claims; g not reached (25 of 30) */
    assert_int_equal(game_user_claim(&u, "m")->claims, 3);
    /* the next day: the caps start again, and g is reached by b's rule */
    struct game_event day2 = { "t", NULL, T0 + DAY, T0 + DAY };
    game_apply(b, &u, &day2, &fx);
    game_apply(a, &u, &day2, &fx);
    assert_int_equal(u.n_caps, 2);
    assert_int_equal(game_user_balance(&u, "gold"), 25 + 20);
    assert_int_equal(u.n_claims, 2);
    assert_int_equal(game_user_claim(&u, "g")->claims, 1);
    assert_int_equal(game_user_claim(&u, "m")->claims, 4);
    assert_int_equal(u.n_counts, 1);
    game_effects_release(&fx);
    game_user_release(&u);
    game_app_free(a);
    game_app_free(b);
}

static void spending_never_overdraws(void **state)
{
    (void)state;
    struct game_user u;
    game_user_load(&u, NULL, NULL);
    int64_t after;
    assert_int_equal(game_user_add_currency(&u, "coins", -1, &after), -1);
    assert_int_equal(game_user_add_currency(&u, "coins", 10, &after), 0);
    assert_int_equal(game_user_add_currency(&u, "coins", -11, &after), -1);
    assert_int_equal(game_user_add_currency(&u, "coins", -10, &after), 0);
    assert_int_equal(after, 0);
    assert_int_equal(game_user_balance(&u, "coins"), 0);
    game_user_release(&u);
}

static void state_round_trips_through_json(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "{}");
    add_rule(w.app, "r", "{\"name\": \"r\", \"eventType\": \"t\", \"xpAwards\": {\"XP \\\"q\\\"\": 5}, "
                         "\"currencyAwards\": {\"coins\": 3}, \"cooldownSeconds\": 1, "
                         "\"caps\": [{\"per\": \"day\", \"max\": 100}]}", 1);
    add_ach(w.app, "a", "{\"code\": \"a\", \"name\": \"A\", \"kind\": \"MILESTONE\", "
                        "\"conditions\": {\"target\": 1, \"metric\": \"events:t\"}}");
    send(&w, "t", NULL, T0);
    send(&w, "t", NULL, T0 + DAY);
    w.user.ledger_seq = 42;
    char *text = game_user_dump(&w.user);
    struct game_user back;
    assert_int_equal(game_user_load(&back, "{\"timezone\": \"Europe/Paris\"}", text), 0);
    char *again = game_user_dump(&back);
    assert_string_equal(text, again);
    assert_string_equal(back.tz, "Europe/Paris");
    assert_int_equal(back.ledger_seq, 42);
    assert_int_equal(game_user_xp(&back, "XP \"q\""), 10);
    free(text);
    free(again);
    game_user_release(&back);
    /* A state that does not parse starts empty, keeping the attributes. */
    assert_int_equal(game_user_load(&back, "{\"plan\": \"pro\"}", "not json"), -1);
    assert_int_equal(back.n_xp, 0);
    assert_string_equal(json_string_value(json_object_get(back.attributes, "plan")), "pro");
    game_user_release(&back);
    world_free(&w);
}

static void settings_are_checked(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"xpCurve\": []}",
        "{\"xpCurve\": {\"XP\": 0}}",
        "{\"xpCurve\": {\"XP\": \"100\"}}",
        "{\"levels\": {\"XP\": [10, 5]}}",
        "{\"levels\": {\"XP\": []}}",
        "{\"levels\": {\"XP\": [0]}}",
        "{\"streaks\": 1}",
        "{\"streaks\": {\"freezes\": -1}}",
        "{\"streaks\": {\"graceHours\": 24}}",
        "{\"streaks\": {\"freezePeriod\": \"year\"}}",
        "{\"streaks\": {\"keys\": [{\"key\": \"\"}]}}",
        "{\"streaks\": {\"keys\": [{\"key\": \"daily\"}]}}",
        "{\"streaks\": {\"keys\": [{\"key\": \"k\", \"mode\": \"hourly\"}]}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *s = unit_json(bad[i]);
        struct game_settings gs;
        char err[256] = "";
        if (game_settings_parse(s, &gs, err, sizeof(err)) == 0)
            fail_msg("accepted: %s", bad[i]);
        assert_true(strlen(err) > 0);
        json_decref(s);
    }
    json_t *s = unit_json("{\"xpCurve\": {\"XP\": 2.5}, \"levels\": {\"Stars\": [5, 10]}, "
                   "\"rateLimit\": {\"points\": 1, \"windowSeconds\": 1}}");
    struct game_settings gs;
    char err[256];
    assert_int_equal(game_settings_parse(s, &gs, err, sizeof(err)), 0);
    struct level_curve c;
    game_settings_curve(&gs, "XP", &c);
    assert_true(c.g == 2.5);
    game_settings_curve(&gs, "Stars", &c);
    assert_int_equal(c.n_thresholds, 2);
    game_settings_curve(&gs, "Other", &c);
    assert_true(c.g == 100);
    assert_int_equal(gs.n_streaks, 1);
    game_settings_release(&gs);
    json_decref(s);
}

static void effects_json_names_every_effect(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "{}");
    add_rule(w.app, "r1", "{\"name\": \"r\", \"eventType\": \"t\", \"xpAwards\": {\"XP\": 100}, "
                          "\"currencyAwards\": {\"coins\": 1}}", 1);
    add_ach(w.app, "a", "{\"code\": \"a\", \"name\": \"A\", \"kind\": \"MILESTONE\", "
                        "\"tier\": 2, \"conditions\": {\"target\": 1, \"metric\": \"level:XP\"}}");
    send(&w, "t", NULL, T0);
    struct buf b;
    buf_init(&b);
    game_effects_json(&w.fx, &b);
    /* The exact text: it is stored with the event and sent to clients and webhooks. */
    assert_string_equal(
        b.data,
        "[{\"type\":\"streak.updated\",\"key\":\"daily\",\"current\":1,\"best\":1,"
        "\"freezesUsed\":0},{\"type\":\"xp.awarded\",\"track\":\"XP\",\"amount\":100,"
        "\"totalXp\":100,\"source\":\"rule\",\"ruleId\":\"r1\"},{\"type\":\"level.up\","
        "\"track\":\"XP\",\"from\":1,\"to\":2},{\"type\":\"currency.changed\","
        "\"currency\":\"coins\",\"amount\":1,\"balance\":1,\"source\":\"rule\","
        "\"ruleId\":\"r1\"},{\"type\":\"achievement.unlocked\",\"achievementId\":\"a\","
        "\"code\":\"a\",\"name\":\"A\",\"tier\":2,\"claims\":1}]");
    json_t *arr = unit_json(b.data);
    assert_int_equal(json_array_size(arr), 5);
    static const char *const types[] = { "streak.updated", "xp.awarded", "level.up",
                                         "currency.changed", "achievement.unlocked" };
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(arr, i), "type")),
                            types[i]);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 4), "tier")), 2);
    json_decref(arr);
    buf_release(&b);
    world_free(&w);
}

/* ---- effects in the store's compact form ------------------------------------------------- */

/* What the oracle saw, so that a scenario that stopped giving some kind of effect fails. */
struct fx_seen {
    int xp_rule, xp_ach, xp_none, cur_rule, cur_ach, cur_none, level, streak, frozen;
    int ach_tier, ach_null, uuid_rule, text_rule, negative;
};

/* ---- the JSON of effects as versions before the compact form wrote it ----------------------
 * Kept here as the reference: rows written before migration 21 hold this text, and an event
 * applied again from such a row is compared with game_effects_json's (the form's expansion),
 * so the two must give the same bytes. */

/* `,"key":` and a string or an integer, for an effect. The keys are literals of this file,
 * written as they are (nothing in them to escape): put_str(b, "track", name). */
#define MEMBER(key) ",\"" key "\":", sizeof(",\"" key "\":") - 1
#define put_str(b, key, v) put_member_str(b, MEMBER(key), v)
#define put_int(b, key, v) put_member_int(b, MEMBER(key), v)

static void put_member_str(struct buf *b, const char *member, size_t len, const char *v)
{
    buf_append(b, member, len);
    buf_append_json_string(b, v, strlen(v));
}

static void put_member_int(struct buf *b, const char *member, size_t len, int64_t v)
{
    buf_append(b, member, len);
    buf_append_i64(b, v);
}

static void put_source(struct buf *b, const struct game_effect *e)
{
    if (e->rule) {
        put_str(b, "source", "rule");
        put_str(b, "ruleId", e->rule->id);
    } else if (e->ach) {
        put_str(b, "source", "achievement");
        put_str(b, "achievementCode", e->ach->ach->code);
    }
}

static void json_as_written_before(const struct game_effects *fx, struct buf *out)
{
    buf_putc(out, '[');
    for (size_t i = 0; i < fx->n; i++) {
        const struct game_effect *e = &fx->v[i];
        if (i)
            buf_putc(out, ',');
        switch (e->type) {
        case FX_XP:
            buf_puts(out, "{\"type\":\"xp.awarded\"");
            put_str(out, "track", e->name);
            put_int(out, "amount", e->amount);
            put_int(out, "totalXp", e->total);
            put_source(out, e);
            break;
        case FX_LEVEL:
            buf_puts(out, "{\"type\":\"level.up\"");
            put_str(out, "track", e->name);
            put_int(out, "from", e->from);
            put_int(out, "to", e->to);
            break;
        case FX_CURRENCY:
            buf_puts(out, "{\"type\":\"currency.changed\"");
            put_str(out, "currency", e->name);
            put_int(out, "amount", e->amount);
            put_int(out, "balance", e->total);
            put_source(out, e);
            break;
        case FX_STREAK:
            buf_puts(out, "{\"type\":\"streak.updated\"");
            put_str(out, "key", e->name);
            put_int(out, "current", e->total);
            put_int(out, "best", e->to);
            put_int(out, "freezesUsed", e->amount);
            break;
        case FX_ACHIEVEMENT: {
            const struct achievement *ach = e->ach->ach;
            buf_puts(out, "{\"type\":\"achievement.unlocked\"");
            put_str(out, "achievementId", e->ach->id);
            put_str(out, "code", ach->code);
            put_str(out, "name", ach->name);
            buf_puts(out, ",\"tier\":");
            if (ach->tier)
                json_dump_buf(ach->tier, out);
            else
                buf_puts(out, "null");
            put_int(out, "claims", e->total);
            break;
        }
        }
        buf_putc(out, '}');
    }
    buf_putc(out, ']');
}

#undef put_str
#undef put_int
#undef MEMBER


/* The compact form of fx (game_effects_pack) expands to exactly the JSON versions before it
 * wrote, byte for byte (rows of those versions hold it), and game_effects_json gives it. */
static void assert_pack_is_json(const struct game_effects *fx, struct fx_seen *seen)
{
    struct buf json = BUF_INIT, packed = BUF_INIT, back = BUF_INIT, now = BUF_INIT;
    json_as_written_before(fx, &json);
    game_effects_pack(fx, &packed);
    assert_int_equal(fxpack_json(packed.data, packed.len, &back), 0);
    if (back.len != json.len || memcmp(back.data, json.data, json.len) != 0)
        fail_msg("\nunpacked %s\n    json %s", back.data, json.data);
    game_effects_json(fx, &now);
    assert_string_equal(now.data, json.data);
    buf_release(&now);
    assert_true(fx->n == 0 || packed.len < json.len);
    buf_release(&json);
    buf_release(&packed);
    buf_release(&back);
    for (size_t i = 0; seen && i < fx->n; i++) {
        const struct game_effect *e = &fx->v[i];
        bool award = e->type == FX_XP || e->type == FX_CURRENCY;
        if (award && e->rule) {
            *(e->type == FX_XP ? &seen->xp_rule : &seen->cur_rule) += 1;
            *(strlen(e->rule->id) == 36 && strchr(e->rule->id, 'A') == NULL
                  ? &seen->uuid_rule : &seen->text_rule) += 1;
        } else if (award && e->ach) {
            *(e->type == FX_XP ? &seen->xp_ach : &seen->cur_ach) += 1;
        } else if (award) {
            *(e->type == FX_XP ? &seen->xp_none : &seen->cur_none) += 1;
        }
        seen->negative += award && e->amount < 0;
        seen->level += e->type == FX_LEVEL;
        seen->streak += e->type == FX_STREAK;
        seen->frozen += e->type == FX_STREAK && e->amount > 0;
        if (e->type == FX_ACHIEVEMENT)
            *(e->ach->ach->tier ? &seen->ach_tier : &seen->ach_null) += 1;
    }
}

static void effects_pack_expands_to_effects_json(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, "{\"xpCurve\": {\"XP\": 10, \"Skill \\\"s\\\"\": 5}, "
                   "\"streaks\": {\"freezes\": 3, \"keys\": [{\"key\": \"lessons\", "
                   "\"eventType\": \"lesson\"}]}}");
    add_rule(w.app, "0f8e2c4a-1b3d-4e5f-8a9b-c0d1e2f3a4b5",
             "{\"name\": \"u\", \"eventType\": \"t\", \"xpAwards\": {\"XP\": 7, "
             "\"Skill \\\"s\\\"\": 3}, \"currencyAwards\": {\"coins\": 2}}", 1);
    add_rule(w.app, "rule-1", "{\"name\": \"r\", \"eventType\": \"t\", \"xpAwards\": "
                              "{\"caf\\u00e9 \\\\ \\u2605\": 1}, \"currencyAwards\": "
                              "{\"gems\": 1}}", 2);
    add_rule(w.app, "0F8E2C4A-1B3D-4E5F-8A9B-C0D1E2F3A4B6",
             "{\"name\": \"l\", \"eventType\": \"lesson\", \"xpAwards\": {\"XP\": 2}, "
             "\"currencyAwards\": {\"coins\": 1}}", 3);
    add_ach(w.app, "6a1b2c3d-0000-4000-8000-00000000000a",
            "{\"code\": \"xp.ten\", \"name\": \"Ten \\\"steps\\\" \\u00e9\", "
            "\"tier\": \"gold \\u2605 \\\"1\\\"\", \"kind\": \"MILESTONE\", \"repeatable\": true, "
            "\"conditions\": {\"target\": 40, \"metric\": \"xp:XP\"}, \"rewardConfig\": "
            "{\"xpAwards\": {\"XP\": 5}, \"currencyAwards\": {\"coins\": 10}}}");
    add_ach(w.app, "lessons-3", "{\"code\": \"lessons.3\", \"name\": \"Three lessons\", "
                                "\"kind\": \"MILESTONE\", \"repeatable\": true, "
                                "\"conditions\": {\"target\": 3, \"metric\": \"events:lesson\"}, "
                                "\"rewardConfig\": {\"currencyAwards\": {\"gems\": 1}}}");
    add_ach(w.app, "big", "{\"code\": \"big:win\", \"name\": \"Big win\", \"tier\": 3, "
                          "\"kind\": \"CONDITIONAL\", \"repeatable\": true, \"conditions\": "
                          "{\"field\": \"won\", \"equals\": true}, \"rewardConfig\": "
                          "{\"xpAwards\": {\"Skill \\\"s\\\"\": 50}}}");
    struct fx_seen seen = { 0 };
    int64_t at = T0;
    for (int i = 0; i < 120; i++) {
        /* mostly a day or less apart; now and then days apart, which freezes cover */
        at += i % 17 == 16 ? 3 * DAY : (i % 3 + 1) * 8 * HOUR;
        send(&w, i % 4 == 3 ? "lesson" : "t", i % 7 == 0 ? "{\"won\": true}" : NULL, at);
        assert_pack_is_json(&w.fx, &seen);
    }
    /* A prize (no source) and a season's reset (no source, amounts below 0, levels down). */
    json_t *xp = unit_json("{\"XP\": 1099511627776, \"New track\": 3, \"Zero\": 0}");
    json_t *cur = unit_json("{\"coins\": 5, \"new coin\": 7}");
    w.fx.n = 0;
    game_grant(w.app, &w.user, xp, cur, &w.fx);
    assert_int_equal(w.fx.n, 5); /* two awards of XP, a level up, two of currency */
    assert_pack_is_json(&w.fx, &seen);
    json_decref(xp);
    json_decref(cur);
    w.fx.n = 0;
    game_reset_xp(w.app, &w.user, &w.fx);
    assert_true(w.fx.n >= 4);
    assert_pack_is_json(&w.fx, &seen);
    w.fx.n = 0;
    assert_pack_is_json(&w.fx, NULL); /* no effects: "[]" */
    int *const counts[] = { &seen.xp_rule, &seen.xp_ach, &seen.xp_none, &seen.cur_rule,
                            &seen.cur_ach, &seen.cur_none, &seen.level, &seen.streak,
                            &seen.frozen, &seen.ach_tier, &seen.ach_null, &seen.uuid_rule,
                            &seen.text_rule, &seen.negative };
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        if (*counts[i] == 0)
            fail_msg("the scenario gave no effect of kind %zu", i);
    world_free(&w);
}

/* The same for effects made up here: names, ids, codes and tiers with any bytes (quotes,
 * control characters, bytes that are not UTF-8), integers at their edges, tiers of every JSON
 * type. */
static void effects_pack_expands_to_effects_json_for_any_text(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "XP", "", "say \"hi\"", "back\\slash", "tab\there\nline", "\x01\x1f\x7f",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "bad \xff\xfe", "cut \xe2\x82",
        "\xed\xa0\x80 surrogate", "\xc0\xaf overlong",
        "0f8e2c4a-1b3d-4e5f-8a9b-c0d1e2f3a4b5", "0F8E2C4A-1B3D-4E5F-8A9B-C0D1E2F3A4B5",
        "0f8e2c4a-1b3d-4e5f-8a9b-c0d1e2f3a4b", "ffffffff-ffff-ffff-ffff-ffffffffffff",
    };
    static const int64_t ints[] = { 0, 1, -1, 63, -64, 64, 8192, INT64_MAX, INT64_MIN,
                                    -1099511627776 };
    enum { NT = sizeof(texts) / sizeof(texts[0]), NI = sizeof(ints) / sizeof(ints[0]) };
    json_t *tiers[] = {
        NULL, json_integer(3), json_integer(INT64_MIN), json_string("gold \"1\" \\ \xe2\x98\x85"),
        json_string("tab\t\x01"), json_real(-0.1), json_real(1e300), json_true(), json_null(),
        unit_json("{\"a\": [1, 2.5, null, \"x\"], \"b\": {}}"), json_array(),
    };
    enum { NTIER = sizeof(tiers) / sizeof(tiers[0]) };
    struct game_rule rules[NT];
    struct achievement achs[NT * NTIER];
    struct game_ach gachs[NT * NTIER];
    memset(rules, 0, sizeof(rules));
    memset(achs, 0, sizeof(achs));
    memset(gachs, 0, sizeof(gachs));
    for (size_t i = 0; i < NT; i++) {
        rules[i].id = (char *)texts[i];
        rules[i].id_is_uuid = uuid_parse(texts[i], rules[i].id_uuid); /* as rules are put */
    }
    for (size_t i = 0; i < NT * NTIER; i++) {
        achs[i].code = (char *)texts[i % NT];
        achs[i].name = (char *)texts[(i * 7 + 3) % NT];
        achs[i].tier = tiers[i % NTIER];
        gachs[i].id = (char *)texts[(i * 5 + 1) % NT];
        gachs[i].ach = &achs[i];
    }
    uint64_t r = 0x9e3779b97f4a7c15u;
#define NEXT() (r ^= r << 13, r ^= r >> 7, r ^= r << 17, r)
    struct game_effect v[12];
    for (int round = 0; round < 3000; round++) {
        size_t n = (size_t)(NEXT() % 13);
        for (size_t i = 0; i < n; i++) {
            struct game_effect *e = &v[i];
            memset(e, 0, sizeof(*e));
            e->type = (enum game_effect_type)(NEXT() % 5);
            e->name = texts[NEXT() % NT];
            e->amount = ints[NEXT() % NI];
            e->total = ints[NEXT() % NI];
            e->from = ints[NEXT() % NI];
            e->to = ints[NEXT() % NI];
            unsigned src = (unsigned)(NEXT() % 3);
            if (e->type == FX_ACHIEVEMENT || src == 2)
                e->ach = &gachs[NEXT() % (NT * NTIER)];
            if (e->type != FX_ACHIEVEMENT && src == 1)
                e->rule = &rules[NEXT() % NT];
        }
        struct game_effects fx = { v, n, 12 };
        assert_pack_is_json(&fx, NULL);
    }
#undef NEXT
    for (size_t i = 0; i < NTIER; i++)
        json_decref(tiers[i]);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rules_apply_in_priority_order_and_only_their_type),
        cmocka_unit_test(caps_reset_at_each_period_boundary),
        cmocka_unit_test(caps_count_in_the_users_zone),
        cmocka_unit_test(season_caps_and_season_rules),
        cmocka_unit_test(cooldown_in_event_time_both_ways),
        cmocka_unit_test(level_up_effects_follow_the_curve),
        cmocka_unit_test(reset_xp_zeroes_every_track),
    cmocka_unit_test(levels_follow_a_changed_curve),
        cmocka_unit_test(streaks_count_days_in_the_users_zone),
        cmocka_unit_test(streak_keys_per_event_type),
        cmocka_unit_test(achievements_unlock_grant_and_cascade),
        cmocka_unit_test(conditional_and_repeatable_achievements),
        cmocka_unit_test(rules_read_many_fields_as_definitions_change),
        cmocka_unit_test(awards_find_tracks_by_key_in_any_app),
        cmocka_unit_test(state_entries_found_by_key_in_any_app),
        cmocka_unit_test(spending_never_overdraws),
        cmocka_unit_test(state_round_trips_through_json),
        cmocka_unit_test(settings_are_checked),
        cmocka_unit_test(effects_json_names_every_effect),
        cmocka_unit_test(effects_pack_expands_to_effects_json),
        cmocka_unit_test(effects_pack_expands_to_effects_json_for_any_text),
    };
    return unit_run(__FILE__, tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
