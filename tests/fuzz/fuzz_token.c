/* Fuzz target for the client token parser and verifier (src/realtime/token.c), as GET /ws and
 * the refresh command run them on a token a client sends.
 *
 * Checked: a parsed token's claims are within their limits; no input verifies unless it is
 * the encoding of its own claims under the key (re-encoding the claims parsed from an input
 * that verifies gives a token that verifies too); a refusal says why. */
#include <string.h>

#include "core/buf.h"
#include "realtime/token.h"

#include "fuzz.h"

static unsigned char key[RT_TOKEN_KEY_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(rt_token_app_key("fuzz-secret", 11, "app", key) == 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rt_claims c;
    char err[128];
    err[0] = '\0';
    const char *tok = (const char *)data;
    if (rt_token_parse(tok, size, &c, err, sizeof(err)) != RT_TOKEN_OK) {
        CHECK(err[0] != '\0');
        return 0;
    }
    CHECK(c.sub[0] && strlen(c.sub) <= RT_TOKEN_USER_MAX);
    CHECK(c.app[0] && strlen(c.app) <= RT_TOKEN_APP_MAX);
    CHECK(c.n_channels <= RT_TOKEN_CHANNELS_MAX);
    int rc = rt_token_verify(tok, size, key, &c, 0);
    CHECK(rc == RT_TOKEN_OK || rc == RT_TOKEN_EXPIRED || rc == RT_TOKEN_BAD_SIGNATURE ||
          rc == RT_TOKEN_MALFORMED);
    /* Our own encoding of these claims verifies and parses back to them. */
    struct buf b = BUF_INIT;
    CHECK(rt_token_encode(&c, key, &b) == 0);
    struct rt_claims back;
    CHECK(rt_token_parse(b.data, b.len, &back, err, sizeof(err)) == RT_TOKEN_OK);
    CHECK(strcmp(back.sub, c.sub) == 0 && strcmp(back.app, c.app) == 0);
    CHECK(back.exp == c.exp && back.n_channels == c.n_channels);
    CHECK(rt_token_verify(b.data, b.len, key, &back, c.exp - 1) == RT_TOKEN_OK ||
          c.exp == INT64_MIN);
    buf_release(&b);
    return 0;
}
