/* Micro-benchmark: the engine's step (game_apply) for one event when its type has 50 active
 * rules, each with two or three conditions (eq, gt, in, contains) over the event's metadata
 * and the user's attributes, plus 3 achievements: the work the engine thread does per event
 * besides the store. Users rotate over 1,000 states (or `users`), as a batch of many users
 * would: with 10,000 their states no longer fit in a core's cache, as in the end-to-end
 * benchmark. The event's score decides how many rules match: with 0 (the default) two do;
 * with 100 about nine in ten do, each awarding XP and coins. Then every user's state is
 * written as JSON (game_user_dump_buf, once per batch per user in the engine), timed apart.
 * Bounded: a fixed number of events.
 *   build/bench_game [events] [rules] [score] [users]   (defaults 1000000, 50, 0, 1000)
 * With `e2e` for rules: the rule set bench/events.sh gives the app with BENCH_RULES=1 (5 rules,
 * 3 achievements) and the metadata its generator sends, on `users` users (10,000 there): the
 * game step of the end-to-end benchmark's events, without the store, the leaderboards or the
 * threads around it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/game.h"

#define T0 1795435200000LL /* 2026-11-23T12:00:00Z */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static json_t *js(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    if (!j) {
        fprintf(stderr, "bad JSON: %s\n", text);
        exit(1);
    }
    return j;
}

/* Compiles a rule's body and puts it in the app: 0, or -1 (said) when it is refused. */
static int put_rule(struct game_app *app, const char *id, const char *body, int64_t created_at)
{
    json_t *b = js(body), *details = NULL;
    struct rule *r = rule_compile(b, &details);
    if (!r) {
        fprintf(stderr, "rule refused: %s\n", body);
        json_decref(details);
        json_decref(b);
        return -1;
    }
    game_app_put_rule(app, id, r, b, created_at);
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    bool e2e = argc > 2 && strcmp(argv[2], "e2e") == 0;
    long n_rules = argc > 2 ? strtol(argv[2], NULL, 10) : 50;
    if (n < 1 || n > 100000000)
        n = 1000000;
    if (n_rules < 0 || n_rules > 1000)
        n_rules = 50;
    long score = argc > 3 ? strtol(argv[3], NULL, 10) : 0;
    long n_users = argc > 4 ? strtol(argv[4], NULL, 10) : 1000;
    if (n_users < 1 || n_users > 10000000)
        n_users = 1000;
    struct game_app *app = game_app_new("bench", "Europe/Paris");
    json_t *settings = js("{}");
    char err[256];
    if (game_settings_parse(settings, &app->settings, err, sizeof(err)) < 0)
        return 1;
    json_decref(settings);
    if (e2e)
        n_rules = 0;
    /* bench/events.sh's, word for word */
    static const char *const e2e_rules[] = {
        "{\"name\":\"every event\",\"eventType\":\"bench_event\",\"xpAwards\":{\"XP\":10}}",
        "{\"name\":\"even seq\",\"eventType\":\"bench_event\",\"priority\":1,"
        "\"conditions\":{\"all\":[{\"field\":\"i\",\"op\":\"gte\",\"value\":0},"
        "{\"field\":\"connection\",\"op\":\"lt\",\"value\":1000}]},"
        "\"currencyAwards\":{\"coins\":1}}",
        "{\"name\":\"capped\",\"eventType\":\"bench_event\",\"xpAwards\":{\"Daily XP\":5},"
        "\"caps\":[{\"per\":\"day\",\"max\":500}]}",
        "{\"name\":\"multiplied\",\"eventType\":\"bench_event\",\"xpAwards\":{\"XP\":"
        "{\"field\":\"i\",\"max\":5}},\"multiplierConfig\":{\"field\":\"connection\","
        "\"map\":{\"0\":2,\"1\":3}}}",
        "{\"name\":\"never\",\"eventType\":\"bench_event\",\"conditions\":{\"any\":["
        "{\"field\":\"seq\",\"op\":\"lt\",\"value\":0},{\"field\":\"missing\","
        "\"op\":\"exists\"}]},\"xpAwards\":{\"XP\":1000}}",
    };
    for (size_t i = 0; e2e && i < sizeof(e2e_rules) / sizeof(e2e_rules[0]); i++) {
        char id[48];
        snprintf(id, sizeof(id), "0f8e2c4a-1b3d-4e5f-8a9b-c0d1e2f3a4b%zu", i);
        if (put_rule(app, id, e2e_rules[i], (int64_t)i) < 0)
            return 1;
    }
    for (long i = 0; i < n_rules; i++) {
        char cond[512], body[1024], id[32];
        if (i % 3 == 0)
            snprintf(cond, sizeof(cond),
                     "{\"all\": [{\"field\": \"difficulty\", \"op\": \"eq\", \"value\": "
                     "\"hard\"}, {\"field\": \"score\", \"op\": \"gt\", \"value\": %ld}]}",
                     i);
        else if (i % 3 == 1)
            snprintf(cond, sizeof(cond),
                     "{\"all\": [{\"field\": \"user.attributes.plan\", \"op\": \"in\", "
                     "\"value\": [\"pro\", \"team\"]}, {\"field\": \"score\", \"op\": "
                     "\"gte\", \"value\": %ld}]}",
                     i);
        else
            snprintf(cond, sizeof(cond),
                     "{\"any\": [{\"field\": \"tags\", \"op\": \"contains\", \"value\": "
                     "\"t%ld\"}, {\"field\": \"difficulty\", \"op\": \"eq\", \"value\": "
                     "\"easy\"}, {\"field\": \"lang\", \"op\": \"in\", \"value\": "
                     "[\"fr\", \"de\"]}]}",
                     i);
        snprintf(body, sizeof(body),
                 "{\"name\": \"r%ld\", \"eventType\": \"task_completed\", \"priority\": %ld, "
                 "\"conditions\": %s, \"xpAwards\": {\"Builder XP\": %ld}, "
                 "\"currencyAwards\": {\"coins\": 1}}",
                 i, i, cond, 1 + i % 7);
        snprintf(id, sizeof(id), "rule-%ld", i);
        if (put_rule(app, id, body, i) < 0)
            return 1;
    }
    static const char *const e2e_achs[] = {
        "{\"code\":\"xp-1000\",\"name\":\"XP\",\"kind\":\"MILESTONE\",\"conditions\":"
        "{\"target\":1000}}",
        "{\"code\":\"ten\",\"name\":\"Ten\",\"kind\":\"MILESTONE\",\"repeatable\":true,"
        "\"conditions\":{\"target\":10,\"metric\":\"events:bench_event\"},"
        "\"rewardConfig\":{\"currencyAwards\":{\"gems\":1}}}",
        "{\"code\":\"first\",\"name\":\"First\",\"kind\":\"CONDITIONAL\","
        "\"conditions\":{\"field\":\"seq\",\"op\":\"gte\",\"value\":0}}",
    };
    static const char *const achs[] = {
        "{\"code\": \"xp\", \"name\": \"XP\", \"kind\": \"MILESTONE\", \"conditions\": "
        "{\"target\": 1000000000}}",
        "{\"code\": \"ev\", \"name\": \"EV\", \"kind\": \"MILESTONE\", \"repeatable\": true, "
        "\"conditions\": {\"target\": 100, \"metric\": \"events:task_completed\"}}",
        "{\"code\": \"c\", \"name\": \"C\", \"kind\": \"CONDITIONAL\", \"conditions\": "
        "{\"field\": \"perfect\", \"equals\": true}}",
    };
    for (int i = 0; i < 3; i++) {
        json_t *b = js(e2e ? e2e_achs[i] : achs[i]), *details = NULL;
        struct achievement *a = achievement_compile(b, &details);
        if (!a) {
            fprintf(stderr, "achievement refused\n");
            return 1;
        }
        char id[16];
        snprintf(id, sizeof(id), "a%d", i);
        game_app_put_achievement(app, id, a, b);
    }
    struct game_user *users = calloc((size_t)n_users, sizeof(*users));
    if (!users)
        return 1;
    for (long i = 0; i < n_users; i++)
        game_user_load(&users[i], i % 2 ? "{\"plan\": \"pro\"}" : "{\"plan\": \"free\"}", NULL);
    char meta_text[256];
    snprintf(meta_text, sizeof(meta_text),
             "{\"difficulty\": \"hard\", \"score\": %ld, \"tags\": [\"t2\", \"t5\"], "
             "\"lang\": \"en\"}", score);
    /* As ingestion stores it: compact text, read in place by the rules. */
    json_t *meta_tree = js(meta_text);
    char *meta = json_dumps(meta_tree, JSON_COMPACT);
    json_decref(meta_tree);
    struct game_effects fx = { 0 };
    size_t effects = 0;
    /* e2e: the generator's metadata, its users drawn at random, 2,500 events a second */
    enum { E2E_METAS = 4096 };
    char (*metas)[80] = e2e ? malloc(E2E_METAS * sizeof(*metas)) : NULL;
    uint64_t rnd = 0x9e3779b97f4a7c15u;
    for (long i = 0; e2e && i < E2E_METAS; i++)
        snprintf(metas[i], sizeof(metas[i]), "{\"connection\":%ld,\"seq\":%ld,\"i\":%ld}",
                 i % 64, i / 64, i % 1000);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (e2e) {
            rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
            struct game_event ev = { "bench_event", metas[i % E2E_METAS], T0 + i / 2500 * 1000,
                                     T0 + i / 2500 * 1000 };
            game_apply(app, &users[rnd % (uint64_t)n_users], &ev, &fx);
        } else {
            /* A new minute per event: streaks count once a day, as they do live. */
            struct game_event ev = { "task_completed", meta, T0 + i * 60000LL,
                                     T0 + i * 60000LL };
            game_apply(app, &users[i % n_users], &ev, &fx);
        }
        effects += fx.n;
    }
    double dt = now_s() - t0;
    printf("game_apply: %ld events, %s rules per event type, 3 achievements, %ld users: "
           "%.0f ns/event (%.1f effects/event)\n",
           n, e2e ? "the end-to-end benchmark's 5" : argv[2] ? argv[2] : "50", n_users,
           dt * 1e9 / (double)n, (double)effects / (double)n);
    struct buf packed = BUF_INIT;
    size_t packed_bytes = 0;
    t0 = now_s();
    for (long i = 0; e2e && i < n; i++) {
        buf_reset(&packed);
        game_effects_pack(&fx, &packed);
        packed_bytes += packed.len;
    }
    if (e2e)
        printf("game_effects_pack (the last event's %zu effects): %.0f ns/event, %zu bytes\n",
               fx.n, (now_s() - t0) * 1e9 / (double)n, packed_bytes / (size_t)n);
    buf_release(&packed);
    free(metas);
    struct buf dump = BUF_INIT;
    size_t bytes = 0;
    t0 = now_s();
    for (int round = 0; round < 3; round++)
        for (long i = 0; i < n_users; i++) {
            game_user_dump_buf(&users[i], &dump);
            bytes += dump.len;
        }
    dt = now_s() - t0;
    printf("game_user_dump_buf: %.0f ns/user (%.0f bytes)\n", dt * 1e9 / (3.0 * (double)n_users),
           (double)bytes / (3.0 * (double)n_users));
    buf_release(&dump);
    for (long i = 0; i < n_users; i++)
        game_user_release(&users[i]);
    free(users);
    game_effects_release(&fx);
    free(meta);
    game_app_free(app);
    return 0;
}
