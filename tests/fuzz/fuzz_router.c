/* Fuzz target for the router (src/http/router.c) and the URL helpers (src/http/url.c).
 *
 * The input is a request target "path?query". The path is matched with several methods and
 * every answer is checked against a slow reference matcher written from router.h's contract
 * (the most literal pattern wins, parameters need a non-empty segment). The query is searched
 * for a few keys, and the whole input is percent-decoded both ways and round-tripped through
 * a percent-encoder. */
#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "http/router.h"
#include "http/url.h"

#include "fuzz.h"

static void handler(struct http_request *req, void *arg)
{
    (void)req;
    (void)arg;
}

static const struct {
    unsigned method;
    const char *pattern;
} routes[] = {
    {HTTP_GET, "/"},
    {HTTP_GET, "/users/:id"},
    {HTTP_PUT, "/users/:id"},
    {HTTP_DELETE, "/users/:id"},
    {HTTP_GET, "/users/:id/profile"},
    {HTTP_GET, "/leaderboards/:id"},
    {HTTP_GET, "/leaderboards/rank/:userId"},
    {HTTP_GET, "/leaderboards/around/:userId"},
    {HTTP_POST, "/leaderboards/:id/entries"},
    {HTTP_GET, "/apps/:id"},
    {HTTP_POST, "/apps"},
    {HTTP_POST, "/apps/:id/keys/:keyId"},
    {HTTP_GET, "/keys/:id"},
    {HTTP_DELETE, "/keys/:id"},
    {HTTP_GET, "/health"},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static const unsigned methods[] = {HTTP_GET,    HTTP_POST, HTTP_PUT,
                                   HTTP_DELETE, HTTP_HEAD, HTTP_PATCH};

static struct router *router;

static struct router *build_router(void)
{
    struct router *r = router_new();
    for (size_t i = 0; i < N_ROUTES; i++) {
        int id = router_add(r, routes[i].method, routes[i].pattern, handler, NULL);
        CHECK(id == (int)i);
    }
    /* What router.h says is refused, refused without touching the trie. */
    CHECK(router_add(r, HTTP_GET, "/users/:id", handler, NULL) < 0);
    CHECK(router_add(r, HTTP_GET, "/users/:name/x", handler, NULL) < 0);
    CHECK(router_add(r, HTTP_GET, "users", handler, NULL) < 0);
    CHECK(router_add(r, HTTP_GET, "/a/:", handler, NULL) < 0);
    CHECK(router_add(r, HTTP_GET, "/:a/:b/:c/:d/:e/:f/:g/:h/:i", handler, NULL) < 0);
    CHECK(router_count(r) == N_ROUTES);
    return r;
}

struct segs {
    const char *s[64];
    size_t len[64];
    size_t n;
    bool too_many;
};

static void split(const char *p, size_t len, struct segs *out)
{
    out->n = 0;
    out->too_many = false;
    if (len <= 1)
        return; /* "/" has no segments */
    size_t i = 1;
    for (;;) {
        size_t j = i;
        while (j < len && p[j] != '/')
            j++;
        if (out->n == 64) {
            out->too_many = true;
            return;
        }
        out->s[out->n] = p + i;
        out->len[out->n] = j - i;
        out->n++;
        if (j == len)
            return;
        i = j + 1;
    }
}

/* 0 = no match; otherwise a score where earlier literal segments weigh more. */
static uint64_t ref_score(const struct segs *pat, const struct segs *path)
{
    if (pat->n != path->n)
        return 0;
    uint64_t score = 1;
    for (size_t i = 0; i < pat->n; i++) {
        score <<= 1;
        if (pat->s[i][0] == ':') {
            if (path->len[i] == 0)
                return 0;
        } else {
            if (pat->len[i] != path->len[i] || memcmp(pat->s[i], path->s[i], pat->len[i]) != 0)
                return 0;
            score |= 1;
        }
    }
    return score;
}

static void check_match(unsigned method, const char *path, size_t len)
{
    struct route_match m;
    route_match_init(&m);
    enum router_result res = router_match(router, method, path, len, &m);

    /* The reference. */
    struct segs ps;
    split(path, len, &ps);
    bool absolute = len > 0 && path[0] == '/';
    size_t best = N_ROUTES;
    uint64_t best_score = 0, allow = 0;
    for (size_t i = 0; absolute && !ps.too_many && i < N_ROUTES; i++) {
        struct segs pat;
        split(routes[i].pattern, strlen(routes[i].pattern), &pat);
        uint64_t score = ref_score(&pat, &ps);
        if (!score)
            continue;
        allow |= UINT64_C(1) << routes[i].method;
        if (routes[i].method == method && score > best_score) {
            best = i;
            best_score = score;
        }
    }

    if (best == N_ROUTES) {
        CHECK(res == (allow ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND));
        if (res == ROUTER_METHOD_NOT_ALLOWED)
            CHECK(m.allow == allow && !(m.allow & (UINT64_C(1) << method)));
        route_match_release(&m);
        return;
    }

    /* Parameters of the reference route, decoded independently. */
    struct segs pat;
    split(routes[best].pattern, strlen(routes[best].pattern), &pat);
    bool bad = false;
    size_t n_params = 0;
    struct buf want = BUF_INIT;
    for (size_t i = 0; i < pat.n && !bad; i++) {
        if (pat.s[i][0] != ':')
            continue;
        n_params++;
        buf_reset(&want);
        if (url_decode(ps.s[i], ps.len[i], false, &want) < 0)
            bad = true;
    }
    if (bad) {
        CHECK(res == ROUTER_BAD_PATH);
        CHECK(m.n_params == 0 && m.values.len == 0);
        buf_release(&want);
        route_match_release(&m);
        return;
    }
    CHECK(res == ROUTER_FOUND);
    CHECK(m.route == router_get(router, (unsigned)best));
    CHECK(m.route->method == method && strcmp(m.route->pattern, routes[best].pattern) == 0);
    CHECK(m.n_params == n_params);
    size_t k = 0;
    for (size_t i = 0; i < pat.n; i++) {
        if (pat.s[i][0] != ':')
            continue;
        const struct route_param *p = &m.params[k++];
        CHECK(strlen(p->name) == pat.len[i] - 1 &&
              memcmp(p->name, pat.s[i] + 1, pat.len[i] - 1) == 0);
        buf_reset(&want);
        url_decode(ps.s[i], ps.len[i], false, &want);
        CHECK(p->value_off + p->value_len < m.values.len + 1);
        CHECK(p->value_len == want.len);
        CHECK(memcmp(m.values.data + p->value_off, want.data, want.len) == 0);
        CHECK(m.values.data[p->value_off + p->value_len] == '\0');
        /* route_match_param finds the first parameter of that name: this one. */
        char name[64];
        memcpy(name, p->name, pat.len[i] - 1);
        name[pat.len[i] - 1] = '\0';
        CHECK(route_match_param(&m, name) == m.values.data + p->value_off);
    }
    CHECK(route_match_param(&m, "nosuchparam") == NULL);
    buf_release(&want);
    route_match_release(&m);
}

static char hexdigit(unsigned v)
{
    return "0123456789ABCDEF"[v & 15];
}

static void check_url(const char *s, size_t len)
{
    /* Decoding never lengthens, and leaves the buffer terminated. */
    for (int plus = 0; plus < 2; plus++) {
        struct buf out = BUF_INIT;
        int rc = url_decode(s, len, plus, &out);
        CHECK(rc == 0 || rc == -1);
        CHECK(out.data[out.len] == '\0');
        if (rc == 0) {
            CHECK(out.len <= len);
            if (!memchr(s, '%', len) && !(plus && memchr(s, '+', len)))
                CHECK(out.len == len && memcmp(out.data, s, len) == 0);
        }
        buf_release(&out);
    }

    /* Encode every byte but NUL (an encoded NUL is refused), then decode: the same bytes. */
    struct buf enc = BUF_INIT, plain = BUF_INIT, dec = BUF_INIT;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0)
            continue;
        buf_putc(&plain, (char)c);
        if (c == '%' || c == '+' || c == '&' || c == '=' || c < 0x20 || c >= 0x7f || (i & 1)) {
            char e[3] = {'%', hexdigit(c >> 4), hexdigit(c)};
            buf_append(&enc, e, 3);
        } else {
            buf_putc(&enc, (char)c);
        }
    }
    CHECK(url_decode(enc.data, enc.len, true, &dec) == 0);
    CHECK(dec.len == plain.len && memcmp(dec.data, plain.data, plain.len) == 0);

    /* And as a query value: "k=<encoded>" is found and decodes to the same bytes. */
    struct buf q = BUF_INIT, val = BUF_INIT;
    buf_puts(&q, "a=1&k=");
    buf_append(&q, enc.data, enc.len);
    buf_puts(&q, "&k=second");
    CHECK(url_query_get(q.data, q.len, "k", &val) == 1);
    CHECK(val.len == plain.len && memcmp(val.data, plain.data, plain.len) == 0);
    buf_release(&q);
    buf_release(&val);
    buf_release(&enc);
    buf_release(&plain);
    buf_release(&dec);
}

static void check_query(const char *q, size_t len)
{
    static const char *const keys[] = {"limit", "offset", "q", "", "a b", "k"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct buf out = BUF_INIT;
        buf_puts(&out, "prefix"); /* appended to, never replaced */
        int rc = url_query_get(q, len, keys[i], &out);
        CHECK(rc >= -1 && rc <= 1);
        CHECK(out.len >= 6 && memcmp(out.data, "prefix", 6) == 0);
        CHECK(out.data[out.len] == '\0');
        if (rc == 0)
            CHECK(out.len == 6);
        if (rc == 1)
            CHECK(out.len - 6 <= len);
        buf_release(&out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!router)
        router = build_router(); /* kept for the whole run: read-only, like in the server */
    const char *s = (const char *)data;
    const char *qm = memchr(s, '?', size);
    size_t path_len = qm ? (size_t)(qm - s) : size;

    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        check_match(methods[i], s, path_len);
    if (qm)
        check_query(qm + 1, size - path_len - 1);
    check_url(s, size);
    return 0;
}
