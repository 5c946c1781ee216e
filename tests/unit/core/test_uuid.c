/* Unit tests for src/core/uuid.c: RFC 9562 text forms, version and variant bits, and v7 keys
 * that sort by time. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/uuid.h"

static void check_form(const char *u, char version)
{
    assert_int_equal(strlen(u), UUID_LEN);
    for (int i = 0; i < UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(u[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", u[i]));
    }
    assert_int_equal(u[14], version);
    assert_non_null(strchr("89ab", u[19]));
}

static void v4_form_and_uniqueness(void **state)
{
    (void)state;
    char a[UUID_LEN + 1], b[UUID_LEN + 1];
    assert_int_equal(uuid_v4(a), 0);
    assert_int_equal(uuid_v4(b), 0);
    check_form(a, '4');
    check_form(b, '4');
    assert_string_not_equal(a, b);
}

static void v7_carries_the_time_and_sorts(void **state)
{
    (void)state;
    char u[UUID_LEN + 1], prev[UUID_LEN + 1] = "";
    int64_t ms = 1795400000123; /* 2026-11-23 */
    assert_int_equal(uuid_v7(ms, u), 0);
    check_form(u, '7');
    char want[16];
    snprintf(want, sizeof(want), "%012llx", (unsigned long long)ms);
    assert_memory_equal(u, want, 8);
    assert_memory_equal(u + 9, want + 8, 4);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(uuid_v7(ms + i, u), 0);
        check_form(u, '7');
        assert_true(strcmp(prev, u) < 0);
        strcpy(prev, u);
    }
}

/* Many keys from the same millisecond are all different (the random part). */
static void v7_same_millisecond_differs(void **state)
{
    (void)state;
    enum { N = 2000 };
    static char keys[N][UUID_LEN + 1];
    for (int i = 0; i < N; i++)
        assert_int_equal(uuid_v7(1795400000000, keys[i]), 0);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            assert_string_not_equal(keys[i], keys[j]);
}

/* A key with a seq: a UUIDv7 of that millisecond, the seq read back whole (every bit of its
 * 52) with the same secret, and keys of one seq differ. The seq does not show: keys of
 * consecutive seqs differ in about half the bits that carry it, and another secret reads
 * another number. Other strings carry no seq. */
static void v7_seq_round_trips(void **state)
{
    (void)state;
    unsigned char secret[UUID_SEQ_SECRET_LEN], other[UUID_SEQ_SECRET_LEN];
    memset(secret, 7, sizeof(secret));
    memset(other, 8, sizeof(other));
    struct uuid_seq_key *k = uuid_seq_key_new(secret), *k2 = uuid_seq_key_new(other);
    assert_non_null(k);
    assert_non_null(k2);
    char u[UUID_LEN + 1], v[UUID_LEN + 1];
    uint64_t seqs[] = { 0, 1, 2, 3, 4, 255, 256, 1ull << 20, (1ull << 34) + 5, UUID_SEQ_MAX - 1,
                        UUID_SEQ_MAX };
    for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        assert_int_equal(uuid_v7_seq(k, 1795400000000, seqs[i], u), 0);
        check_form(u, '7');
        assert_memory_equal(u, "01a2", 4); /* the timestamp leads */
        uint64_t got = 0;
        assert_true(uuid_v7_seq_of(k, u, strlen(u), &got));
        assert_true(got == seqs[i]);
        assert_true(uuid_v7_seq_of(k2, u, strlen(u), &got));
        assert_true(got != seqs[i]);
    }
    for (uint64_t seq = 1; seq < UUID_SEQ_MAX; seq = seq * 7 + 3) {
        assert_int_equal(uuid_v7_seq(k, 1, seq, u), 0);
        uint64_t got = 0;
        assert_true(uuid_v7_seq_of(k, u, UUID_LEN, &got) && got == seq);
    }
    /* Consecutive seqs, same millisecond: the carried bits differ in ~26 of 52 places. */
    int differing = 0;
    for (uint64_t seq = 1000; seq < 1100; seq++) {
        assert_int_equal(uuid_v7_seq(k, 1795400000000, seq, u), 0);
        assert_int_equal(uuid_v7_seq(k, 1795400000000, seq + 1, v), 0);
        for (int i = 14; i < 32; i++)
            differing += u[i] != v[i];
    }
    assert_true(differing > 100 * 10);
    assert_int_equal(uuid_v7_seq(k, 1795400000000, 42, v), 0);
    assert_int_equal(uuid_v7_seq(k, 1795400000000, 42, u), 0);
    assert_string_not_equal(u, v);
    uint64_t got;
    assert_int_equal(uuid_v4(u), 0);
    assert_false(uuid_v7_seq_of(k, u, UUID_LEN, &got));
    assert_false(uuid_v7_seq_of(k, "client-key-1", 12, &got));
    assert_false(uuid_v7_seq_of(k, v, UUID_LEN - 1, &got));
    v[0] = 'g';
    assert_false(uuid_v7_seq_of(k, v, UUID_LEN, &got));
    uuid_seq_key_free(k);
    uuid_seq_key_free(k2);
}

static int hex_digit(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* uuid_v8_seq: the same arguments give the same id, any change of time, seq or n a different
 * one; never an id that uuid_v7_seq_of reads (the version differs); and two ids of one
 * millisecond show nothing of how far apart their seqs are (a mask shared by both would show
 * seq1 ^ seq2). */
static void v8_seq_is_fixed_and_distinct(void **state)
{
    (void)state;
    unsigned char secret[UUID_SEQ_SECRET_LEN];
    memset(secret, 7, sizeof(secret));
    struct uuid_seq_key *k = uuid_seq_key_new(secret);
    assert_non_null(k);
    char u[UUID_LEN + 1], v[UUID_LEN + 1];
    assert_int_equal(uuid_v8_seq(k, 1795400000000, 42, 3, u), 0);
    assert_int_equal(uuid_v8_seq(k, 1795400000000, 42, 3, v), 0);
    check_form(u, '8');
    assert_string_equal(u, v);
    assert_memory_equal(u, "01a2", 4); /* the timestamp leads */
    uint64_t got;
    assert_false(uuid_v7_seq_of(k, u, UUID_LEN, &got));
    /* Every (seq, n) of a small grid, in two milliseconds: all different. */
    enum { SEQS = 64, NS = 8, N = 2 * SEQS * NS };
    static char ids[N][UUID_LEN + 1];
    size_t m = 0;
    for (int64_t ms = 1795400000000; ms <= 1795400000001; ms++)
        for (uint64_t seq = 1; seq <= SEQS; seq++)
            for (uint16_t n = 0; n < NS; n++)
                assert_int_equal(uuid_v8_seq(k, ms, seq, n, ids[m++]), 0);
    qsort(ids, N, sizeof(ids[0]), by_text);
    for (size_t i = 1; i < N; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    /* Pairs of seqs at the same distance, same millisecond and n: were a mask shared, the
     * bits after the timestamp of each pair would differ the same way. */
    char a1[UUID_LEN + 1], a2[UUID_LEN + 1], b1[UUID_LEN + 1], b2[UUID_LEN + 1];
    int same = 0;
    for (uint64_t seq = 1000; seq < 1100; seq++) {
        assert_int_equal(uuid_v8_seq(k, 1795400000000, seq, 0, a1), 0);
        assert_int_equal(uuid_v8_seq(k, 1795400000000, seq + 1, 0, a2), 0);
        assert_int_equal(uuid_v8_seq(k, 1795400000000, seq + 2000, 0, b1), 0);
        assert_int_equal(uuid_v8_seq(k, 1795400000000, seq + 2001, 0, b2), 0);
        bool alike = true;
        for (int i = 24; i < UUID_LEN; i++) /* the last group: 48 bits of the AES block */
            alike = alike && ((hex_digit(a1[i]) ^ hex_digit(a2[i])) ==
                              (hex_digit(b1[i]) ^ hex_digit(b2[i])));
        same += alike;
    }
    assert_int_equal(same, 0);
    uuid_seq_key_free(k);
}

/* uuid_add: the last group counts, modulo 2^48, and nothing else changes; only UUIDs in the
 * lower-case text form are taken. */
static void add_counts_in_the_last_group(void **state)
{
    (void)state;
    char out[UUID_LEN + 1];
    assert_true(uuid_add("01a24aab-26fb-7dbe-b744-9be903df12b9", 0, out));
    assert_string_equal(out, "01a24aab-26fb-7dbe-b744-9be903df12b9");
    assert_true(uuid_add("01a24aab-26fb-7dbe-b744-9be903df12b9", 7, out));
    assert_string_equal(out, "01a24aab-26fb-7dbe-b744-9be903df12c0");
    assert_true(uuid_add("01a24aab-26fb-7dbe-b744-fffffffffffe", 3, out));
    assert_string_equal(out, "01a24aab-26fb-7dbe-b744-000000000001");
    char v7[UUID_LEN + 1];
    assert_int_equal(uuid_v7(1795435200000LL, v7), 0);
    char next[UUID_LEN + 1];
    memcpy(next, v7, sizeof(next));
    for (uint64_t k = 1; k < 5; k++) {
        assert_true(uuid_add(v7, k, out));
        check_form(out, '7');
        assert_memory_equal(out, v7, UUID_LEN - 12);
        assert_string_not_equal(out, v7);
        uuid_next(next);
        assert_string_equal(next, out);
    }
    memcpy(next, "01a24aab-26fb-7dbe-b744-ffffffffffff", sizeof(next));
    uuid_next(next);
    assert_string_equal(next, "01a24aab-26fb-7dbe-b744-000000000000");
    memcpy(next, "01a24aab-26fb-7dbe-b744-00000000000g", sizeof(next));
    uuid_next(next); /* not a UUID: left as it is */
    assert_string_equal(next, "01a24aab-26fb-7dbe-b744-00000000000g");
    static const char *bad[] = { "", "01a24aab-26fb-7dbe-b744-9be903df12b", /* short */
                                 "01a24aab-26fb-7dbe-b744-9be903df12b90",  /* long */
                                 "01A24AAB-26FB-7DBE-B744-9BE903DF12B9",   /* upper case */
                                 "01a24aab-26fb-7dbe-b744x9be903df12b9",
                                 "01a24aab-26fb-7dbe-b744-9be903df12bg" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(uuid_add(bad[i], 1, out));
}

/* uuid_text and uuid_parse: bytes to text and back for every id these functions write; any
 * other text (upper case, a group cut or moved, trailing bytes) is not a UUID to uuid_parse. */
static void text_and_bytes_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < 1000; i++) {
        char id[UUID_LEN + 1], again[UUID_LEN + 1];
        assert_int_equal(i % 2 ? uuid_v4(id) : uuid_v7(1700000000000 + i, id), 0);
        unsigned char u[UUID_BYTES];
        assert_true(uuid_parse(id, u));
        uuid_text(u, again);
        assert_string_equal(again, id);
    }
    static const unsigned char ends[UUID_BYTES] = { 0x00, 0x01, 0x22, 0x33, 0x44, 0x55, 0x66,
                                                    0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                                                    0xee, 0xff };
    char text[UUID_LEN + 1];
    uuid_text(ends, text);
    assert_string_equal(text, "00012233-4455-6677-8899-aabbccddeeff");
    static const char *const not_ids[] = {
        "00012233-4455-6677-8899-AABBCCDDEEFF", "00012233-4455-6677-8899-aabbccddeef",
        "00012233-4455-6677-8899-aabbccddeeff0", "000122334-455-6677-8899-aabbccddeeff",
        "00012233-4455-6677-8899-aabbccddeefg", "", "r1",
    };
    unsigned char u[UUID_BYTES];
    for (size_t i = 0; i < sizeof(not_ids) / sizeof(not_ids[0]); i++)
        assert_false(uuid_parse(not_ids[i], u));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(v4_form_and_uniqueness),
    cmocka_unit_test(v7_carries_the_time_and_sorts),
    cmocka_unit_test(v7_same_millisecond_differs),
    cmocka_unit_test(v7_seq_round_trips),
    cmocka_unit_test(v8_seq_is_fixed_and_distinct),
    cmocka_unit_test(add_counts_in_the_last_group),
    cmocka_unit_test(text_and_bytes_round_trip),
};

UNIT_MAIN(tests)
