/* Unit tests for src/core/hex.c: keys, request ids, digests and percent-escapes all go through
 * it, so a wrong digit would show up everywhere. */
#include "unit.h"

#include <string.h>

#include "core/hex.h"

static void encode_is_lowercase_and_terminated(void **state)
{
    (void)state;
    const unsigned char in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
    char out[2 * sizeof(in) + 2];
    memset(out, 'Z', sizeof(out));
    hex_encode(in, sizeof(in), out);
    assert_string_equal(out, "00017f80abff");
    hex_encode(in, 0, out);
    assert_string_equal(out, "");
}

static void decode_takes_either_case(void **state)
{
    (void)state;
    unsigned char out[4];
    assert_int_equal(hex_decode("DeadBEEF", 4, out), 0);
    assert_int_equal(out[0], 0xde);
    assert_int_equal(out[1], 0xad);
    assert_int_equal(out[2], 0xbe);
    assert_int_equal(out[3], 0xef);
}

static void decode_refuses_non_digits(void **state)
{
    (void)state;
    unsigned char out[2];
    assert_int_equal(hex_decode("0g00", 2, out), -1);
    assert_int_equal(hex_decode("00 0", 2, out), -1);
    assert_int_equal(hex_decode("x0", 1, out), -1);
    assert_int_equal(hex_value('/'), -1);
    assert_int_equal(hex_value(':'), -1);
    assert_int_equal(hex_value('G'), -1);
    assert_int_equal(hex_value('F'), 15);
}

static void round_trip_every_byte(void **state)
{
    (void)state;
    unsigned char in[256], back[256];
    char text[513];
    for (int i = 0; i < 256; i++)
        in[i] = (unsigned char)i;
    hex_encode(in, sizeof(in), text);
    assert_int_equal(strlen(text), 512);
    assert_int_equal(hex_decode(text, sizeof(back), back), 0);
    assert_memory_equal(in, back, sizeof(in));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(encode_is_lowercase_and_terminated),
    cmocka_unit_test(decode_takes_either_case),
    cmocka_unit_test(decode_refuses_non_digits),
    cmocka_unit_test(round_trip_every_byte),
};

UNIT_MAIN(tests)
