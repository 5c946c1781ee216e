/* Unit tests for src/ingest/signature.c: event signatures exactly as ForgeEngine checks them,
 * x-signature = hex HMAC-SHA256(secret, "<ts>.<nonce>.<raw body>"), with its order of checks
 * and its 401 texts, and the per-app HMAC contexts a verifier keeps between requests.
 * Hard-coded signatures come from Python's hmac module. */
#include "unit.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/hmac.h"
#include "ingest/signature.h"

#define SECRET "supersecret123"
#define TS     "1700000000"
#define NOW    1700000000
#define NONCE  "nonce-1"
#define BODY   "{\"a\":1}"
/* Python: hmac.new(b"supersecret123", b'1700000000.nonce-1.{"a":1}', sha256).hexdigest() */
#define SIG "27c56b26c00e1e59f6b3a55808bb972439737ed4da35fc8520bd68f18741c4b0"
#define TOL 300

static const char *result_name(enum sig_result r)
{
    switch (r) {
    case SIG_OK: return "SIG_OK";
    case SIG_MISSING: return "SIG_MISSING";
    case SIG_BAD_TIMESTAMP: return "SIG_BAD_TIMESTAMP";
    case SIG_EXPIRED: return "SIG_EXPIRED";
    case SIG_BAD_SIGNATURE: return "SIG_BAD_SIGNATURE";
    }
    return "?";
}

static void expect(enum sig_result got, enum sig_result want, const char *what)
{
    if (got != want)
        fail_msg("%s: got %s, want %s", what, result_name(got), result_name(want));
}

/* sig_verify with NUL-terminated strings; a NULL header is absent. */
static enum sig_result verify_n(struct sig_verifier *v, const char *app, const char *secret,
                                const char *ts, const char *nonce, const char *sig,
                                const void *body, size_t body_len, int64_t now, int tol)
{
    struct sig_headers h = {
        ts, ts ? strlen(ts) : 0, nonce, nonce ? strlen(nonce) : 0, sig, sig ? strlen(sig) : 0,
    };
    return sig_verify(v, app, secret, secret ? strlen(secret) : 0, &h, body, body_len, now, tol);
}

static enum sig_result verify(struct sig_verifier *v, const char *app, const char *secret,
                              const char *ts, const char *nonce, const char *sig, const char *body,
                              int64_t now)
{
    return verify_n(v, app, secret, ts, nonce, sig, body, strlen(body), now, TOL);
}

/* The right signature, computed by core/hmac (itself checked against Python in test_hmac). */
static void sign(const char *secret, size_t secret_len, const char *ts, const char *nonce,
                 const void *body, size_t body_len, char out[HMAC_HEX_LEN + 1])
{
    struct hmac_part parts[] = {
        {ts, strlen(ts)}, {".", 1}, {nonce, strlen(nonce)}, {".", 1}, {body, body_len},
    };
    assert_int_equal(hmac_sha256_hex(secret, secret_len, parts, 5, out), 0);
}

static void accepts_reference_vectors(void **state)
{
    (void)state;
    struct sig_verifier *v = sig_verifier_new();
    assert_non_null(v);
    expect(verify(v, "app", SECRET, TS, NONCE, SIG, BODY, NOW), SIG_OK, "reference vector");
    /* empty body; Python: hmac.new(b"supersecret123", b"1700000000.n2.", sha256) */
    expect(verify(v, "app", SECRET, TS, "n2",
                  "94d31ce07a1eb0b176fd541f9e2f5e34d1dd70d6a00d1d6f94ad5c566f6ef15f", "", NOW),
           SIG_OK, "empty body");
    /* a body with a NUL byte in it is signed over all its bytes */
    static const char nul_body[] = "{\"a\":\"\0\"}";
    expect(verify_n(v, "app", SECRET, TS, NONCE,
                    "b3a14227801ef98d7a2b6d8dd0c062ee68efdda9e312c0a1700491958ed890fb", nul_body,
                    sizeof(nul_body) - 1, NOW, TOL),
           SIG_OK, "body with a NUL byte");
    /* 12 digits is the longest timestamp; it is signed as sent, leading zeros and all */
    expect(verify(v, "app", SECRET, "001700000000", NONCE,
                  "29cdba79ede349b4558c2fb26e9701892a45e9567b873adbbc75604bdde40745", BODY, NOW),
           SIG_OK, "12-digit timestamp");
    sig_verifier_free(v);
}

static void messages_are_forgeengines_texts(void **state)
{
    (void)state;
    assert_string_equal(sig_result_message(SIG_MISSING), "Missing event signature headers");
    assert_string_equal(sig_result_message(SIG_BAD_TIMESTAMP), "Invalid signature timestamp");
    assert_string_equal(sig_result_message(SIG_EXPIRED), "Expired signature timestamp");
    assert_string_equal(sig_result_message(SIG_BAD_SIGNATURE), "Invalid signature");
}

static void missing_or_empty_header_is_missing(void **state)
{
    (void)state;
    struct sig_verifier *v = sig_verifier_new();
    expect(verify(v, "app", SECRET, NULL, NONCE, SIG, BODY, NOW), SIG_MISSING, "no timestamp");
    expect(verify(v, "app", SECRET, "", NONCE, SIG, BODY, NOW), SIG_MISSING, "empty timestamp");
    expect(verify(v, "app", SECRET, TS, NULL, SIG, BODY, NOW), SIG_MISSING, "no nonce");
    expect(verify(v, "app", SECRET, TS, "", SIG, BODY, NOW), SIG_MISSING, "empty nonce");
    expect(verify(v, "app", SECRET, TS, NONCE, NULL, BODY, NOW), SIG_MISSING, "no signature");
    expect(verify(v, "app", SECRET, TS, NONCE, "", BODY, NOW), SIG_MISSING, "empty signature");
    expect(verify(v, "app", SECRET, NULL, NULL, NULL, BODY, NOW), SIG_MISSING, "none at all");
    /* a pointer with length 0 is as absent as NULL */
    struct sig_headers h = {TS, 0, NONCE, strlen(NONCE), SIG, strlen(SIG)};
    expect(sig_verify(v, "app", SECRET, strlen(SECRET), &h, BODY, strlen(BODY), NOW, TOL),
           SIG_MISSING, "timestamp of length 0");
    /* missing is decided first: a garbage timestamp or no secret do not change it */
    expect(verify(v, "app", SECRET, "abc", NONCE, "", BODY, NOW), SIG_MISSING,
           "bad timestamp, no signature");
    expect(verify(v, "app", NULL, TS, "", SIG, BODY, NOW), SIG_MISSING, "no secret, no nonce");
    sig_verifier_free(v);
}

static void malformed_timestamp_is_bad_timestamp(void **state)
{
    (void)state;
    static const char *bad[] = {
        "17000000a0",
        "-1700000000",
        "+1700000000",
        " 1700000000",
        "1700000000 ",
        "1700000000.5",
        "0x6553f100",
        "1.7e9",
        "0001700000000",          /* 13 chars */
        "9999999999999999999999", /* would overflow */
    };
    struct sig_verifier *v = sig_verifier_new();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect(verify(v, "app", SECRET, bad[i], NONCE, SIG, BODY, NOW), SIG_BAD_TIMESTAMP, bad[i]);
    /* checked before expiry and before the signature */
    expect(verify(v, "app", SECRET, "x", NONCE, "zz", BODY, 0), SIG_BAD_TIMESTAMP,
           "bad timestamp, bad signature, far from now");
    sig_verifier_free(v);
}

static void tolerance_edges_both_ways(void **state)
{
    (void)state;
    struct sig_verifier *v = sig_verifier_new();
    expect(verify(v, "app", SECRET, TS, NONCE, SIG, BODY, NOW + TOL), SIG_OK, "exactly TOL old");
    expect(verify(v, "app", SECRET, TS, NONCE, SIG, BODY, NOW - TOL), SIG_OK, "exactly TOL ahead");
    expect(verify(v, "app", SECRET, TS, NONCE, SIG, BODY, NOW + TOL + 1), SIG_EXPIRED,
           "TOL + 1 old");
    expect(verify(v, "app", SECRET, TS, NONCE, SIG, BODY, NOW - TOL - 1), SIG_EXPIRED,
           "TOL + 1 ahead");
    expect(verify(v, "app", SECRET, TS, NONCE, SIG, BODY, NOW + 86400), SIG_EXPIRED, "a day old");
    expect(verify_n(v, "app", SECRET, TS, NONCE, SIG, BODY, strlen(BODY), NOW, 0), SIG_OK,
           "tolerance 0, same second");
    expect(verify_n(v, "app", SECRET, TS, NONCE, SIG, BODY, strlen(BODY), NOW + 1, 0), SIG_EXPIRED,
           "tolerance 0, a second later");
    /* expiry is decided before the signature is looked at */
    expect(verify(v, "app", SECRET, TS, NONCE, "not hex", BODY, NOW + TOL + 1), SIG_EXPIRED,
           "expired with a malformed signature");
    expect(verify(v, "app", NULL, TS, NONCE, SIG, BODY, NOW - TOL - 1), SIG_EXPIRED,
           "expired with no secret");
    sig_verifier_free(v);
}

static void malformed_signature_is_bad_signature(void **state)
{
    (void)state;
    struct sig_verifier *v = sig_verifier_new();
    char s[2 * HMAC_HEX_LEN + 1];
    /* the right signature with one character cut, one added, or one made non-hex */
    snprintf(s, sizeof(s), "%.63s", SIG);
    expect(verify(v, "app", SECRET, TS, NONCE, s, BODY, NOW), SIG_BAD_SIGNATURE, "63 chars");
    snprintf(s, sizeof(s), "%s0", SIG);
    expect(verify(v, "app", SECRET, TS, NONCE, s, BODY, NOW), SIG_BAD_SIGNATURE, "65 chars");
    snprintf(s, sizeof(s), "%s%s", SIG, SIG);
    expect(verify(v, "app", SECRET, TS, NONCE, s, BODY, NOW), SIG_BAD_SIGNATURE, "twice");
    static const char not_hex[] = "gG -:/@`xZ\x7f";
    for (size_t i = 0; i < sizeof(not_hex) - 1; i++) {
        for (size_t pos = 0; pos < 64; pos += 21) { /* first, middle and last characters */
            snprintf(s, sizeof(s), "%s", SIG);
            s[pos] = not_hex[i];
            expect(verify(v, "app", SECRET, TS, NONCE, s, BODY, NOW), SIG_BAD_SIGNATURE, s);
        }
    }
    snprintf(s, sizeof(s), "%s", SIG);
    s[63] = 'G';
    expect(verify(v, "app", SECRET, TS, NONCE, s, BODY, NOW), SIG_BAD_SIGNATURE, "last char G");
    /* the untouched signature still verifies on the same verifier */
    expect(verify(v, "app", SECRET, TS, NONCE, SIG, BODY, NOW), SIG_OK, "then the right one");
    sig_verifier_free(v);
}

static void no_secret_verifies_nothing(void **state)
{
    (void)state;
    struct sig_verifier *v = sig_verifier_new();
    expect(verify(v, "app", NULL, TS, NONCE, SIG, BODY, NOW), SIG_BAD_SIGNATURE, "NULL secret");
    expect(verify(v, "app", "", TS, NONCE, SIG, BODY, NOW), SIG_BAD_SIGNATURE, "empty secret");
    /* an empty key is a valid HMAC key: a signature made with it must still not pass */
    char empty_sig[HMAC_HEX_LEN + 1];
    sign("", 0, TS, NONCE, BODY, strlen(BODY), empty_sig);
    expect(verify(v, "app", "", TS, NONCE, empty_sig, BODY, NOW), SIG_BAD_SIGNATURE,
           "empty secret, signed with the empty key");
    expect(verify(v, "app", NULL, TS, NONCE, empty_sig, BODY, NOW), SIG_BAD_SIGNATURE,
           "NULL secret, signed with the empty key");
    /* NULL with a length is still no secret */
    struct sig_headers h = {TS, strlen(TS), NONCE, strlen(NONCE), empty_sig, 64};
    expect(sig_verify(v, "app", NULL, 5, &h, BODY, strlen(BODY), NOW, TOL), SIG_BAD_SIGNATURE,
           "NULL secret of length 5");
    sig_verifier_free(v);
}

static void nonce_longer_than_max_is_bad_signature(void **state)
{
    (void)state;
    struct sig_verifier *v = sig_verifier_new();
    char nonce[SIG_NONCE_MAX + 2];
    memset(nonce, 'n', SIG_NONCE_MAX);
    nonce[SIG_NONCE_MAX] = '\0';
    /* SIG_NONCE_MAX itself is fine; Python: hmac.new(SECRET, TS + "." + "n" * 256 + "." + BODY) */
    assert_int_equal(SIG_NONCE_MAX, 256);
    expect(verify(v, "app", SECRET, TS, nonce,
                  "2d90288a5a47789330242df5e0cef614cd8775b6c9580939a39f13460d44d7f3", BODY, NOW),
           SIG_OK, "nonce of SIG_NONCE_MAX");
    /* one more, correctly signed, is refused */
    nonce[SIG_NONCE_MAX] = 'n';
    nonce[SIG_NONCE_MAX + 1] = '\0';
    char s[HMAC_HEX_LEN + 1];
    sign(SECRET, strlen(SECRET), TS, nonce, BODY, strlen(BODY), s);
    expect(verify(v, "app", SECRET, TS, nonce, s, BODY, NOW), SIG_BAD_SIGNATURE,
           "nonce of SIG_NONCE_MAX + 1");
    sig_verifier_free(v);
}

static void upper_and_mixed_case_hex_accepted(void **state)
{
    (void)state;
    struct sig_verifier *v = sig_verifier_new();
    char s[HMAC_HEX_LEN + 1];
    for (size_t i = 0; i <= 64; i++)
        s[i] = (char)(SIG[i] >= 'a' && SIG[i] <= 'f' ? SIG[i] - 'a' + 'A' : SIG[i]);
    assert_string_not_equal(s, SIG);
    expect(verify(v, "app", SECRET, TS, NONCE, s, BODY, NOW), SIG_OK, "upper case");
    for (size_t i = 0; i < 64; i += 2)
        s[i] = SIG[i];
    expect(verify(v, "app", SECRET, TS, NONCE, s, BODY, NOW), SIG_OK, "mixed case");
    /* case-folding must not hide a wrong digit */
    s[10] = s[10] == 'F' || s[10] == 'f' ? '0' : 'F';
    expect(verify(v, "app", SECRET, TS, NONCE, s, BODY, NOW), SIG_BAD_SIGNATURE,
           "mixed case, one digit wrong");
    sig_verifier_free(v);
}

static void tampering_with_any_part_fails(void **state)
{
    (void)state;
    struct sig_verifier *v = sig_verifier_new();
    expect(verify(v, "app", SECRET, TS, NONCE, SIG, "{\"a\":2}", NOW), SIG_BAD_SIGNATURE,
           "body changed");
    expect(verify(v, "app", SECRET, TS, NONCE, SIG, "{\"a\":1} ", NOW), SIG_BAD_SIGNATURE,
           "body extended");
    expect(verify_n(v, "app", SECRET, TS, NONCE, SIG, BODY, strlen(BODY) - 1, NOW, TOL),
           SIG_BAD_SIGNATURE, "body cut");
    expect(verify(v, "app", SECRET, TS, "nonce-2", SIG, BODY, NOW), SIG_BAD_SIGNATURE,
           "nonce changed");
    expect(verify(v, "app", SECRET, "1700000001", NONCE, SIG, BODY, NOW), SIG_BAD_SIGNATURE,
           "timestamp changed, still in tolerance");
    expect(verify(v, "app", SECRET, "01700000000", NONCE, SIG, BODY, NOW), SIG_BAD_SIGNATURE,
           "timestamp re-written with a leading zero");
    expect(verify(v, "app", "supersecret124", TS, NONCE, SIG, BODY, NOW), SIG_BAD_SIGNATURE,
           "other secret");
    /* the same bytes split differently: nonce "nonce", body "1.{...}" gains a separator */
    expect(verify(v, "app", SECRET, TS, "nonce-1.{\"a\"", SIG, ":1}", NOW), SIG_BAD_SIGNATURE,
           "part of the body moved into the nonce");
    /* every single-bit flip of the signature's bytes */
    char s[HMAC_HEX_LEN + 1];
    for (size_t i = 0; i < 64; i++) {
        static const char hex[] = "0123456789abcdef";
        for (int bit = 0; bit < 4; bit++) {
            memcpy(s, SIG, sizeof(s));
            int d = (int)(strchr(hex, SIG[i]) - hex) ^ (1 << bit);
            s[i] = hex[d];
            expect(verify(v, "app", SECRET, TS, NONCE, s, BODY, NOW), SIG_BAD_SIGNATURE, s);
        }
    }
    expect(verify(v, "app", SECRET, TS, NONCE, SIG, BODY, NOW), SIG_OK, "untouched");
    sig_verifier_free(v);
}

/* A changed secret for the same app re-keys its cached context. */
static void secret_change_rekeys(void **state)
{
    (void)state;
    struct sig_verifier *v = sig_verifier_new();
    /* Python: hmac.new(b"supersecret124", b'1700000000.nonce-1.{"a":1}', sha256) */
    const char *sig124 = "8183df3e211880808e3c2fa9200c67f6647df3b179ce791823eb0e8abfe87cb4";
    /* Python: hmac.new(b"other-secret", b'1700000000.nonce-1.{"a":1}', sha256) */
    const char *sig_other = "f0ee5184279c90e60ecc6abf10ae8b5397acc83f037af247410fbf8f25e0b9e2";
    for (int round = 0; round < 2; round++) {
        expect(verify(v, "app", SECRET, TS, NONCE, SIG, BODY, NOW), SIG_OK, "first secret");
        expect(verify(v, "app", SECRET, TS, NONCE, sig124, BODY, NOW), SIG_BAD_SIGNATURE,
               "first secret, signed with the second");
        /* same length, one byte different */
        expect(verify(v, "app", "supersecret124", TS, NONCE, SIG, BODY, NOW), SIG_BAD_SIGNATURE,
               "second secret, old signature");
        expect(verify(v, "app", "supersecret124", TS, NONCE, sig124, BODY, NOW), SIG_OK,
               "second secret, new signature");
        /* different length */
        expect(verify(v, "app", "other-secret", TS, NONCE, sig124, BODY, NOW), SIG_BAD_SIGNATURE,
               "third secret, old signature");
        expect(verify(v, "app", "other-secret", TS, NONCE, sig_other, BODY, NOW), SIG_OK,
               "third secret, new signature");
        /* a prefix of the cached secret is another secret */
        expect(verify(v, "app", "other-secre", TS, NONCE, sig_other, BODY, NOW), SIG_BAD_SIGNATURE,
               "prefix of the third secret");
    }
    sig_verifier_free(v);
}

/* FNV-1a 64-bit of the app id picks one of 256 slots; "app-8" and "app-46" share one. */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static void apps_sharing_a_slot_verify_correctly(void **state)
{
    (void)state;
    assert_int_equal(fnv1a("app-8") % 256, fnv1a("app-46") % 256);
    struct sig_verifier *v = sig_verifier_new();
    const char *sig_other = "f0ee5184279c90e60ecc6abf10ae8b5397acc83f037af247410fbf8f25e0b9e2";
    for (int round = 0; round < 3; round++) {
        expect(verify(v, "app-8", SECRET, TS, NONCE, SIG, BODY, NOW), SIG_OK, "app-8");
        expect(verify(v, "app-46", "other-secret", TS, NONCE, sig_other, BODY, NOW), SIG_OK,
               "app-46");
        expect(verify(v, "app-8", SECRET, TS, NONCE, sig_other, BODY, NOW), SIG_BAD_SIGNATURE,
               "app-8 with app-46's signature");
        expect(verify(v, "app-46", "other-secret", TS, NONCE, SIG, BODY, NOW), SIG_BAD_SIGNATURE,
               "app-46 with app-8's signature");
    }
    /* both apps with the same secret */
    expect(verify(v, "app-8", SECRET, TS, NONCE, SIG, BODY, NOW), SIG_OK, "app-8 again");
    expect(verify(v, "app-46", SECRET, TS, NONCE, SIG, BODY, NOW), SIG_OK, "app-46, same key");
    sig_verifier_free(v);
}

/* More apps than slots, each with its own secret, verified in two passes. */
static void many_apps_more_than_slots(void **state)
{
    (void)state;
    enum { APPS = 600 };
    struct sig_verifier *v = sig_verifier_new();
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < APPS; i++) {
            char app[32], secret[32], wrong[32], s[HMAC_HEX_LEN + 1], w[HMAC_HEX_LEN + 1];
            snprintf(app, sizeof(app), "app-%d", i);
            snprintf(secret, sizeof(secret), "secret-of-app-%d", i);
            snprintf(wrong, sizeof(wrong), "secret-of-app-%d", (i + 1) % APPS);
            sign(secret, strlen(secret), TS, NONCE, BODY, strlen(BODY), s);
            sign(wrong, strlen(wrong), TS, NONCE, BODY, strlen(BODY), w);
            expect(verify(v, app, secret, TS, NONCE, s, BODY, NOW), SIG_OK, app);
            expect(verify(v, app, secret, TS, NONCE, w, BODY, NOW), SIG_BAD_SIGNATURE, app);
        }
    }
    sig_verifier_free(v);
}

/* A long-lived verifier answers exactly as a fresh one does, over a run of mixed requests:
 * right and wrong signatures, bodies of many sizes, a few apps and secrets. */
static void reused_context_matches_fresh_verifier(void **state)
{
    (void)state;
    struct sig_verifier *reused = sig_verifier_new();
    static const char *apps[] = {"app-8", "app-46", "game", "x"};
    static const char *secrets[] = {SECRET, "supersecret124", "k", "a-rather-longer-secret!!"};
    char body[2048];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char)('!' + (i * 7) % 90);
    unsigned ok = 0, bad = 0;
    for (unsigned i = 0; i < 2000; i++) {
        const char *app = apps[i % 4];
        /* each app keeps a secret for ~10 requests (the cached context), then it changes */
        const char *secret = secrets[(i / 40 + i % 4) % 4];
        char ts[16], nonce[32], s[HMAC_HEX_LEN + 1];
        snprintf(ts, sizeof(ts), "%d", NOW - (int)(i % 7));
        snprintf(nonce, sizeof(nonce), "n-%u", i);
        size_t len = (i * 37) % sizeof(body);
        sign(secret, strlen(secret), ts, nonce, body, len, s);
        bool right = i % 5 != 0;
        if (!right)
            s[i % 64] = s[i % 64] == '0' ? '1' : '0';
        enum sig_result want = right ? SIG_OK : SIG_BAD_SIGNATURE;
        enum sig_result got = verify_n(reused, app, secret, ts, nonce, s, body, len, NOW, TOL);
        struct sig_verifier *fresh = sig_verifier_new();
        enum sig_result first = verify_n(fresh, app, secret, ts, nonce, s, body, len, NOW, TOL);
        sig_verifier_free(fresh);
        char what[64];
        snprintf(what, sizeof(what), "request %u (%s)", i, app);
        expect(first, want, what);
        expect(got, first, what);
        if (got == SIG_OK)
            ok++;
        else
            bad++;
    }
    assert_int_equal(ok, 1600);
    assert_int_equal(bad, 400);
    sig_verifier_free(reused);
}

/* The app API accepts a webhook secret of up to 256 characters (src/api/apps.c), which in
 * UTF-8 can be up to 1024 bytes; ForgeEngine signs with all of them. */
/* The API accepts webhook secrets of up to 256 bytes (multi-byte characters included); all of
 * them must verify, and longer ones (which the API refuses) never do. */
static void longest_secret_verifies(void **state)
{
    (void)state;
    char secret[256 + 2];
    for (size_t i = 0; i < 128; i++)
        memcpy(secret + 2 * i, "\xc3\xa9", 2); /* U+00E9, 256 bytes in all */
    secret[256] = '\0';
    struct sig_verifier *v = sig_verifier_new();
    /* Python: hmac.new(("é" * 128).encode(), b'1700000000.nonce-1.{"a":1}', sha256) */
    const char *want = "6c16b6b93ac4b18c757acc8e0a4b5e787f4c962a57b850465dde0a64b0601986";
    expect(verify(v, "app", secret, TS, NONCE, want, BODY, NOW), SIG_OK, "256-byte secret");
    expect(verify(v, "app", secret, TS, NONCE, want, BODY, NOW), SIG_OK, "again, cached");
    expect(verify(v, "app", secret, TS, NONCE, SIG, BODY, NOW), SIG_BAD_SIGNATURE,
           "256-byte secret, another key's signature");
    secret[256] = 'x';
    secret[257] = '\0';
    char s257[HMAC_HEX_LEN + 1];
    sign(secret, 257, TS, NONCE, BODY, strlen(BODY), s257);
    expect(verify(v, "app", secret, TS, NONCE, s257, BODY, NOW), SIG_BAD_SIGNATURE,
           "257 bytes: longer than any secret the API stores");
    sig_verifier_free(v);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(accepts_reference_vectors),
    cmocka_unit_test(messages_are_forgeengines_texts),
    cmocka_unit_test(missing_or_empty_header_is_missing),
    cmocka_unit_test(malformed_timestamp_is_bad_timestamp),
    cmocka_unit_test(tolerance_edges_both_ways),
    cmocka_unit_test(malformed_signature_is_bad_signature),
    cmocka_unit_test(no_secret_verifies_nothing),
    cmocka_unit_test(nonce_longer_than_max_is_bad_signature),
    cmocka_unit_test(upper_and_mixed_case_hex_accepted),
    cmocka_unit_test(tampering_with_any_part_fails),
    cmocka_unit_test(secret_change_rekeys),
    cmocka_unit_test(apps_sharing_a_slot_verify_correctly),
    cmocka_unit_test(many_apps_more_than_slots),
    cmocka_unit_test(reused_context_matches_fresh_verifier),
    cmocka_unit_test(longest_secret_verifies),
};

UNIT_MAIN(tests)
