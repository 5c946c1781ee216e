/* Fuzz target for event signature verification (sig_verify in src/ingest/signature.c).
 *
 * Input: one control byte, then "secret\nts\nnonce\nsig\napp\n" and the rest is the raw body
 * (missing fields are empty). The control byte picks the tolerance ((c & 15) * 60 s) and
 * where `now` is: ((c >> 4) - 4) * 97 s after the timestamp when that is a number, else a
 * fixed instant. Each answer is checked against a reference written from signature.h's
 * contract, and then the same request is sent again with the right signature (computed by
 * core/hmac), in lower and upper case, which must verify whenever the request is otherwise
 * acceptable, and with one body byte more, which then must not. One verifier lives across
 * all inputs, so its per-app cache sees apps come, go, collide and change secret. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/hmac.h"
#include "ingest/signature.h"

#include "fuzz.h"

/* signature.c's bounds: app ids as the tenant registry has them, and a webhook secret
 * of at most 256 bytes, as the app API takes it. Longer never verifies. */
#define APP_MAX    64
#define SECRET_MAX 256
#define FIXED_NOW  1700000000

struct field {
    const uint8_t *p;
    size_t n;
};

static struct field next_field(const uint8_t **data, size_t *size)
{
    struct field f = {*data, *size};
    const uint8_t *nl = memchr(*data, '\n', *size);
    if (nl) {
        f.n = (size_t)(nl - *data);
        *size -= f.n + 1;
        *data = nl + 1;
    } else {
        *data += *size;
        *size = 0;
    }
    return f;
}

static bool is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Everything but the HMAC comparison, in the documented order: the answer the request gets
 * whatever its signature's value, or SIG_OK if that value decides. */
static enum sig_result precheck(struct field secret, struct field ts, struct field nonce,
                                struct field sig, size_t app_len, int64_t now, int tol)
{
    if (ts.n == 0 || nonce.n == 0 || sig.n == 0)
        return SIG_MISSING;
    if (ts.n > 12)
        return SIG_BAD_TIMESTAMP;
    int64_t t = 0;
    for (size_t i = 0; i < ts.n; i++) {
        if (ts.p[i] < '0' || ts.p[i] > '9')
            return SIG_BAD_TIMESTAMP;
        t = t * 10 + (ts.p[i] - '0');
    }
    if (t - now > tol || now - t > tol)
        return SIG_EXPIRED;
    if (sig.n != 64 || nonce.n > SIG_NONCE_MAX || secret.n == 0 || secret.n > SECRET_MAX ||
        app_len > APP_MAX)
        return SIG_BAD_SIGNATURE;
    for (size_t i = 0; i < 64; i++)
        if (!is_hex(sig.p[i]))
            return SIG_BAD_SIGNATURE;
    return SIG_OK;
}

static enum sig_result run(struct sig_verifier *v, const char *app, struct field secret,
                           struct field ts, struct field nonce, const void *sig, size_t sig_len,
                           const void *body, size_t body_len, int64_t now, int tol)
{
    struct sig_headers h = {
        (const char *)ts.p, ts.n, (const char *)nonce.p, nonce.n, (const char *)sig, sig_len,
    };
    enum sig_result r =
        sig_verify(v, app, (const char *)secret.p, secret.n, &h, body, body_len, now, tol);
    CHECK(r == SIG_OK || r == SIG_MISSING || r == SIG_BAD_TIMESTAMP || r == SIG_EXPIRED ||
          r == SIG_BAD_SIGNATURE);
    CHECK(sig_result_message(r) != NULL);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sig_verifier *v;
    if (!v)
        v = sig_verifier_new();
    CHECK(v != NULL);
    if (size == 0)
        return 0;
    uint8_t ctrl = data[0];
    data++;
    size--;
    struct field secret = next_field(&data, &size);
    struct field ts = next_field(&data, &size);
    struct field nonce = next_field(&data, &size);
    struct field sig = next_field(&data, &size);
    struct field app_f = next_field(&data, &size);
    const uint8_t *body = data;
    size_t body_len = size;

    /* app ids are C strings; one with a NUL in it ends there */
    char app[APP_MAX + 8];
    size_t app_len = strnlen((const char *)app_f.p, app_f.n);
    if (app_len > sizeof(app) - 1)
        app_len = sizeof(app) - 1; /* still longer than APP_MAX */
    memcpy(app, app_f.p, app_len);
    app[app_len] = '\0';

    int tol = (ctrl & 15) * 60;
    int64_t now = FIXED_NOW;
    bool numeric = ts.n > 0 && ts.n <= 12;
    int64_t t = 0;
    for (size_t i = 0; numeric && i < ts.n; i++) {
        numeric = ts.p[i] >= '0' && ts.p[i] <= '9';
        t = t * 10 + (ts.p[i] - '0');
    }
    if (numeric)
        now = t + ((ctrl >> 4) - 4) * 97;

    /* as sent: the reference decides unless only the HMAC value does */
    enum sig_result pre = precheck(secret, ts, nonce, sig, app_len, now, tol);
    enum sig_result got = run(v, app, secret, ts, nonce, sig.p, sig.n, body, body_len, now, tol);
    if (pre != SIG_OK)
        CHECK(got == pre);
    else
        CHECK(got == SIG_OK || got == SIG_BAD_SIGNATURE);

    /* with the right signature */
    char right[HMAC_HEX_LEN + 1];
    struct hmac_part parts[] = {
        {ts.p, ts.n}, {".", 1}, {nonce.p, nonce.n}, {".", 1}, {body, body_len},
    };
    CHECK(hmac_sha256_hex(secret.p, secret.n, parts, 5, right) == 0);
    struct field right_f = {(const uint8_t *)right, HMAC_HEX_LEN};
    enum sig_result want = precheck(secret, ts, nonce, right_f, app_len, now, tol);
    if (pre == SIG_OK && got == SIG_OK) /* the input's own signature verified: it is this one */
        for (size_t i = 0; i < 64; i++)
            CHECK((sig.p[i] | 0x20) == (uint8_t)right[i]);
    CHECK(run(v, app, secret, ts, nonce, right, HMAC_HEX_LEN, body, body_len, now, tol) == want);
    char upper[HMAC_HEX_LEN + 1];
    for (size_t i = 0; i <= HMAC_HEX_LEN; i++)
        upper[i] = right[i] >= 'a' && right[i] <= 'f' ? (char)(right[i] - 'a' + 'A') : right[i];
    CHECK(run(v, app, secret, ts, nonce, upper, HMAC_HEX_LEN, body, body_len, now, tol) == want);

    /* and one body byte more: the signature no longer matches */
    if (want == SIG_OK) {
        uint8_t *longer = malloc(body_len + 1);
        CHECK(longer != NULL);
        if (body_len)
            memcpy(longer, body, body_len);
        longer[body_len] = ctrl;
        CHECK(run(v, app, secret, ts, nonce, right, HMAC_HEX_LEN, longer, body_len + 1, now, tol) ==
              SIG_BAD_SIGNATURE);
        free(longer);
        /* the cached context is left ready for the next request */
        CHECK(run(v, app, secret, ts, nonce, right, HMAC_HEX_LEN, body, body_len, now, tol) ==
              SIG_OK);
    }
    return 0;
}
