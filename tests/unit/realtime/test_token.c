/* Unit tests for src/realtime/token.c: the HS256 client tokens a browser presents to GET /ws.
 * A token must verify only with its app's key, only before it expires, and only as issued. */
#include "unit.h"

#include <string.h>

#include "core/buf.h"
#include "realtime/token.h"

static const char server_secret[] = "0123456789abcdef0123456789abcdef";

static void claims_for(struct rt_claims *c, const char *app, const char *user, int64_t exp)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->app, app);
    strcpy(c->sub, user);
    c->iat = 1000;
    c->exp = exp;
}

static void issue(const struct rt_claims *c, struct buf *out)
{
    unsigned char key[RT_TOKEN_KEY_LEN];
    assert_int_equal(rt_token_app_key(server_secret, strlen(server_secret), c->app, key), 0);
    assert_int_equal(rt_token_encode(c, key, out), 0);
}

static int check(const char *tok, const char *app, int64_t now)
{
    struct rt_claims c;
    char err[128];
    int rc = rt_token_parse(tok, strlen(tok), &c, err, sizeof(err));
    if (rc != RT_TOKEN_OK)
        return rc;
    unsigned char key[RT_TOKEN_KEY_LEN];
    assert_int_equal(rt_token_app_key(server_secret, strlen(server_secret), app, key), 0);
    return rt_token_verify(tok, strlen(tok), key, &c, now);
}

static void base64url_round_trips_and_refuses_padding(void **state)
{
    (void)state;
    for (size_t n = 0; n < 40; n++) {
        unsigned char in[40];
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)(i * 37 + n);
        struct buf enc = BUF_INIT, dec = BUF_INIT;
        rt_base64url_encode(in, n, &enc);
        assert_null(strchr(enc.data, '='));
        assert_null(strchr(enc.data, '+'));
        assert_int_equal(rt_base64url_decode(enc.data, enc.len, &dec), 0);
        assert_int_equal(dec.len, n);
        assert_memory_equal(dec.data, in, n);
        buf_release(&enc);
        buf_release(&dec);
    }
    struct buf b = BUF_INIT;
    assert_int_equal(rt_base64url_decode("YQ==", 4, &b), -1);  /* padding */
    assert_int_equal(rt_base64url_decode("Y+", 2, &b), -1);    /* standard alphabet */
    assert_int_equal(rt_base64url_decode("Y", 1, &b), -1);     /* impossible length */
    assert_int_equal(rt_base64url_decode("YR", 2, &b), -1);    /* non-zero leftover bits */
    buf_release(&b);
    struct buf e = BUF_INIT;
    rt_base64url_encode("\xfb\xff", 2, &e);
    assert_string_equal(e.data, "-_8");
    buf_release(&e);
}

static void a_token_round_trips_with_its_claims(void **state)
{
    (void)state;
    struct rt_claims c, back;
    claims_for(&c, "app-1", "alice", 5000);
    strcpy(c.channels[0], "user:team");
    c.n_channels = 1;
    struct buf tok = BUF_INIT;
    issue(&c, &tok);
    char err[128];
    assert_int_equal(rt_token_parse(tok.data, tok.len, &back, err, sizeof(err)), RT_TOKEN_OK);
    assert_string_equal(back.sub, "alice");
    assert_string_equal(back.app, "app-1");
    assert_int_equal(back.exp, 5000);
    assert_int_equal(back.iat, 1000);
    assert_int_equal(back.n_channels, 1);
    assert_string_equal(back.channels[0], "user:team");
    assert_int_equal(check(tok.data, "app-1", 4999), RT_TOKEN_OK);
    buf_release(&tok);
}

static void exp_is_enforced(void **state)
{
    (void)state;
    struct rt_claims c;
    claims_for(&c, "app-1", "alice", 5000);
    struct buf tok = BUF_INIT;
    issue(&c, &tok);
    assert_int_equal(check(tok.data, "app-1", 5000), RT_TOKEN_EXPIRED);
    assert_int_equal(check(tok.data, "app-1", 9000), RT_TOKEN_EXPIRED);
    buf_release(&tok);
}

static void another_apps_key_or_any_change_fails(void **state)
{
    (void)state;
    struct rt_claims c;
    claims_for(&c, "app-1", "alice", 5000);
    struct buf tok = BUF_INIT;
    issue(&c, &tok);
    assert_int_equal(check(tok.data, "app-2", 10), RT_TOKEN_BAD_SIGNATURE);
    /* Flip each character of the header and payload in turn: never OK. */
    char *dot2 = strrchr(tok.data, '.');
    for (char *p = tok.data; p < dot2; p++) {
        if (*p == '.')
            continue;
        char saved = *p;
        *p = saved == 'A' ? 'B' : 'A';
        assert_int_not_equal(check(tok.data, "app-1", 10), RT_TOKEN_OK);
        *p = saved;
    }
    /* A signature one bit off. */
    char saved = dot2[1];
    dot2[1] = saved == 'A' ? 'Q' : 'A';
    assert_int_equal(check(tok.data, "app-1", 10), RT_TOKEN_BAD_SIGNATURE);
    dot2[1] = saved;
    assert_int_equal(check(tok.data, "app-1", 10), RT_TOKEN_OK);
    buf_release(&tok);
}

static void other_algorithms_and_shapes_are_malformed(void **state)
{
    (void)state;
    struct rt_claims c;
    char err[128];
    /* {"alg":"none"} with a valid payload and no signature. */
    const char *none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
                       "eyJzdWIiOiJhIiwiYXBwIjoiYiIsImV4cCI6OTk5OTk5OTk5OX0.";
    assert_int_equal(rt_token_parse(none, strlen(none), &c, err, sizeof(err)),
                     RT_TOKEN_MALFORMED);
    assert_string_equal(err, "unsupported token header");
    const char *bad[] = { "", "a", "a.b", "a.b.c.d", "..", "x.y.z" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(rt_token_parse(bad[i], strlen(bad[i]), &c, err, sizeof(err)),
                         RT_TOKEN_MALFORMED);
    /* Claims missing or of the wrong type. */
    const char *payloads[] = { "{\"app\":\"b\",\"exp\":1}", "{\"sub\":\"a\",\"exp\":1}",
                               "{\"sub\":\"a\",\"app\":\"b\"}",
                               "{\"sub\":\"a\",\"app\":\"b\",\"exp\":\"1\"}",
                               "{\"sub\":\"\",\"app\":\"b\",\"exp\":1}",
                               "{\"sub\":\"a\",\"app\":\"b\",\"exp\":1,\"channels\":[1]}", "[]" };
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        struct buf t = BUF_INIT;
        rt_base64url_encode("{\"alg\":\"HS256\"}", 15, &t);
        buf_putc(&t, '.');
        rt_base64url_encode(payloads[i], strlen(payloads[i]), &t);
        buf_puts(&t, ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        assert_int_equal(rt_token_parse(t.data, t.len, &c, err, sizeof(err)),
                         RT_TOKEN_MALFORMED);
        buf_release(&t);
    }
}

static void per_app_keys_differ(void **state)
{
    (void)state;
    unsigned char a[RT_TOKEN_KEY_LEN], b[RT_TOKEN_KEY_LEN], a2[RT_TOKEN_KEY_LEN];
    assert_int_equal(rt_token_app_key(server_secret, strlen(server_secret), "app-1", a), 0);
    assert_int_equal(rt_token_app_key(server_secret, strlen(server_secret), "app-2", b), 0);
    assert_int_equal(rt_token_app_key("other", 5, "app-1", a2), 0);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, a2, sizeof(a));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(base64url_round_trips_and_refuses_padding),
    cmocka_unit_test(a_token_round_trips_with_its_claims),
    cmocka_unit_test(exp_is_enforced),
    cmocka_unit_test(another_apps_key_or_any_change_fails),
    cmocka_unit_test(other_algorithms_and_shapes_are_malformed),
    cmocka_unit_test(per_app_keys_differ),
};

UNIT_MAIN(tests)
