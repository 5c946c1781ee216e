/* Unit tests for src/core/hmac.c: event signatures must match what ForgeEngine clients
 * compute, hex(HMAC-SHA256(secret, "<ts>.<nonce>.<body>")). The expected values come from
 * Python's hmac module. */
#include "unit.h"

#include <string.h>

#include "core/hmac.h"

static void matches_reference_vector(void **state)
{
    (void)state;
    const char *secret = "supersecret123";
    const char *body = "{\"a\":1}";
    struct hmac_part parts[] = {
        { "1700000000", 10 }, { ".", 1 }, { "nonce-1", 7 }, { ".", 1 }, { body, strlen(body) },
    };
    char out[HMAC_HEX_LEN + 1];
    assert_int_equal(hmac_sha256_hex(secret, strlen(secret), parts, 5, out), 0);
    assert_string_equal(out, "27c56b26c00e1e59f6b3a55808bb972439737ed4da35fc8520bd68f18741c4b0");
}

static void parts_are_concatenated(void **state)
{
    (void)state;
    const char *msg = "1700000000.nonce-1.{\"a\":1}";
    struct hmac_part whole = { msg, strlen(msg) };
    struct hmac_part split[] = { { msg, 3 }, { msg + 3, 0 }, { msg + 3, strlen(msg) - 3 } };
    char a[HMAC_HEX_LEN + 1], b[HMAC_HEX_LEN + 1];
    assert_int_equal(hmac_sha256_hex("k", 1, &whole, 1, a), 0);
    assert_int_equal(hmac_sha256_hex("k", 1, split, 3, b), 0);
    assert_string_equal(a, b);
    /* and the key matters */
    assert_int_equal(hmac_sha256_hex("K", 1, &whole, 1, b), 0);
    assert_string_not_equal(a, b);
}

/* A key scheduled once signs message after message exactly like the one-shot form. */
static void reused_key_matches_one_shot(void **state)
{
    (void)state;
    const char *secret = "supersecret123";
    struct hmac_key *k = hmac_key_new(secret, strlen(secret));
    assert_non_null(k);
    const char *msgs[] = { "1700000000.nonce-1.{\"a\":1}", "", "x", "1700000001.n2.{}" };
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
            struct hmac_part p = { msgs[i], strlen(msgs[i]) };
            char a[HMAC_HEX_LEN + 1], b[HMAC_HEX_LEN + 1];
            assert_int_equal(hmac_key_hex(k, &p, 1, a), 0);
            assert_int_equal(hmac_sha256_hex(secret, strlen(secret), &p, 1, b), 0);
            assert_string_equal(a, b);
        }
    }
    struct hmac_part parts[] = {
        { "1700000000", 10 }, { ".", 1 }, { "nonce-1", 7 }, { ".", 1 }, { "{\"a\":1}", 7 },
    };
    char out[HMAC_HEX_LEN + 1];
    assert_int_equal(hmac_key_hex(k, parts, 5, out), 0);
    assert_string_equal(out, "27c56b26c00e1e59f6b3a55808bb972439737ed4da35fc8520bd68f18741c4b0");
    hmac_key_free(k);
    hmac_key_free(NULL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(reused_key_matches_one_shot),
    cmocka_unit_test(matches_reference_vector),
    cmocka_unit_test(parts_are_concatenated),
};

UNIT_MAIN(tests)
