/* Micro-benchmark: the per-event cost of rules. 50 rules for one event type, each with two or
 * three conditions (eq, gt, in, contains, on metadata and user attributes), fixed and
 * field awards, and some multipliers, evaluated against one event as the engine does:
 * cond_eval, then rule_multiplier and rule_award_amount for each award of a matching rule.
 * Timed three times: without the per-event memo, with it (cond_memo_begin), and with it and
 * the conditions' fields numbered in a table (cond_fields_bind), as the engine runs them; each
 * with the metadata as a parsed tree and as its text, read in place, as the engine reads it.
 * Bounded: a fixed number of events.
 *   build/bench_rules [events]     (default 1000000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "engine/rule.h"

#define N_RULES 50
#define ROUNDS  5

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static json_t *parse(const char *text)
{
    static const struct json_limits lim = {32, 100000};
    char err[200];
    json_t *j = json_parse_strict(text, strlen(text), &lim, err, sizeof(err));
    if (!j) {
        fprintf(stderr, "bench JSON: %s: %s\n", err, text);
        exit(1);
    }
    return j;
}

/* Rule i: a mix of the shapes rules take in practice. */
static void rule_body(int i, char *out, size_t len)
{
    static const char *const difficulty[] = {"easy", "medium", "hard"};
    const char *extra = "";
    switch (i % 5) {
    case 0:
        extra = ", \"multiplierConfig\": {\"field\": \"difficulty\", \"map\": {\"easy\": 1, "
                "\"medium\": 1.5, \"hard\": 2}}";
        break;
    case 1:
        extra = ", \"timeBonusConfig\": {\"fromHour\": 22, \"toHour\": 6, \"multiplier\": 1.25}";
        break;
    case 2: extra = ", \"streakBonusConfig\": {\"every\": 7, \"bonusMultiplier\": 2}"; break;
    default: break;
    }
    const char *cond;
    char buf[512];
    switch (i % 4) {
    case 0:
        snprintf(buf, sizeof(buf),
                 "{\"all\": [{\"field\": \"difficulty\", \"op\": \"eq\", \"value\": \"%s\"}, "
                 "{\"field\": \"score\", \"op\": \"gt\", \"value\": %d}]}",
                 difficulty[i % 3], i);
        break;
    case 1:
        snprintf(buf, sizeof(buf),
                 "{\"all\": [{\"field\": \"metadata.difficulty\", \"op\": \"in\", \"value\": "
                 "[\"medium\", \"hard\"]}, {\"field\": \"score\", \"op\": \"gte\", \"value\": "
                 "%d}, {\"field\": \"user.attributes.plan\", \"op\": \"eq\", \"value\": "
                 "\"pro\"}]}",
                 i * 2);
        break;
    case 2:
        snprintf(buf, sizeof(buf),
                 "{\"all\": [{\"field\": \"tags\", \"op\": \"contains\", \"value\": \"%c\"}, "
                 "{\"field\": \"score\", \"op\": \"lt\", \"value\": %d}, {\"field\": "
                 "\"difficulty\", \"op\": \"in\", \"value\": [\"easy\", \"medium\", \"hard\"]}]}",
                 "abc"[i % 3], 100 - i);
        break;
    default:
        snprintf(buf, sizeof(buf),
                 "{\"any\": [{\"field\": \"difficulty\", \"op\": \"eq\", \"value\": \"%s\"}, "
                 "{\"field\": \"user.attributes.country\", \"op\": \"in\", \"value\": [\"FR\", "
                 "\"DE\"]}]}",
                 difficulty[(i + 1) % 3]);
        break;
    }
    cond = buf;
    snprintf(out, len,
             "{\"name\": \"rule %d\", \"eventType\": \"quiz_done\", \"conditions\": %s, "
             "\"xpAwards\": {\"main\": %d%s}, \"currencyAwards\": {\"gold\": %d}%s}",
             i, cond, 10 + i,
             i % 3 == 0 ? ", \"skill\": {\"field\": \"score\", \"multiply\": 0.5, \"max\": 20}"
                        : "",
             i % 7, extra);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    if (n < 1 || n > 100000000)
        n = 1000000;
    struct rule *rules[N_RULES];
    for (int i = 0; i < N_RULES; i++) {
        char text[2048];
        rule_body(i, text, sizeof(text));
        json_t *body = parse(text);
        json_t *details = NULL;
        rules[i] = rule_compile(body, &details);
        if (!rules[i]) {
            char *d = json_dumps(details, JSON_COMPACT);
            fprintf(stderr, "rule %d refused: %s\n", i, d);
            return 1;
        }
        json_decref(body);
    }
    json_t *meta = parse("{\"difficulty\": \"hard\", \"score\": 42, \"tags\": [\"a\", \"b\"]}");
    json_t *attrs = parse("{\"plan\": \"pro\", \"country\": \"FR\"}");
    char *meta_text = json_dumps(meta, JSON_COMPACT);
    struct cond_ctx ctx = {meta, attrs, "quiz_done", 1700000000000LL, NULL, NULL, 0};
    struct cond_fields *fields = cond_fields_new();

    /* The machine may be shared: each figure is the best of ROUNDS rounds of n / ROUNDS
     * events. */
    long per_round = n / ROUNDS > 0 ? n / ROUNDS : 1;
    static const char *const modes[] = {"without the memo", "with the memo   ", "memo and numbers"};
    for (int form = 0; form < 2; form++) {
        ctx.metadata = form ? NULL : meta;
        ctx.metadata_text = form ? meta_text : NULL;
        ctx.metadata_len = form ? strlen(meta_text) : 0;
        ctx.fields = NULL;
        printf("the metadata as %s:\n", form ? "text" : "a tree");
        for (int memo = 0; memo <= 2; memo++) {
            if (memo == 2) {
                for (int i = 0; i < N_RULES; i++)
                    cond_fields_bind(fields, rules[i]->cond);
                ctx.fields = fields;
            }
            double best = 0;
            for (int round = 0; round < ROUNDS; round++) {
                long matched = 0, awards = 0;
                int64_t total = 0;
                double t0 = now_s();
                for (long e = 0; e < per_round; e++) {
                    int hour = (int)(e % 24);
                    int64_t streak = e % 10;
                    if (memo)
                        cond_memo_begin(&ctx);
                    for (int i = 0; i < N_RULES; i++) {
                        const struct rule *r = rules[i];
                        if (!cond_eval(r->cond, &ctx))
                            continue;
                        matched++;
                        double m = rule_multiplier(r, &ctx, hour, streak);
                        for (size_t k = 0; k < r->n_xp; k++)
                            total += rule_award_amount(&r->xp[k], &ctx, m);
                        for (size_t k = 0; k < r->n_currency; k++)
                            total += rule_award_amount(&r->currency[k], &ctx, m);
                        awards += (long)(r->n_xp + r->n_currency);
                    }
                    if (memo)
                        cond_memo_end();
                }
                double ns = (now_s() - t0) / (double)per_round * 1e9;
                if (round == 0 || ns < best)
                    best = ns;
                if (!memo && round == 0 && !form)
                    printf("%d rules, %ld events in %d rounds: %.1f rules matched and %.1f awards "
                           "per event (awarded %lld a round)\n",
                           N_RULES, per_round * ROUNDS, ROUNDS, (double)matched / (double)per_round,
                           (double)awards / (double)per_round, (long long)total);
            }
            printf("rules per event, %s: %.0f ns\n", modes[memo], best);
        }
    }
    for (int i = 0; i < N_RULES; i++)
        rule_free(rules[i]);
    cond_fields_free(fields);
    json_decref(meta);
    free(meta_text);
    json_decref(attrs);
    return 0;
}
