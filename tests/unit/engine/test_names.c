/* Unit tests for src/engine/names.c: keys of award names per table, and the search of a
 * user's entries by key, then by name. */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "engine/names.h"

/* An entry as a user's XP track is: names_entry first, then its own members. */
struct entry {
    char *name;
    uint64_t key;
    int64_t value;
};

static void keys_are_per_name_and_per_table(void **state)
{
    (void)state;
    struct names a, b;
    names_init(&a);
    names_init(&b);
    uint64_t xp = names_key(&a, "XP"), gold = names_key(&a, "gold");
    assert_int_not_equal(xp, 0);
    assert_int_not_equal(gold, 0);
    assert_int_not_equal(xp, gold);
    assert_int_equal(names_key(&a, "XP"), xp); /* again: the same key, nothing added */
    assert_int_equal(a.n, 2);
    assert_int_not_equal(names_key(&a, "xp"), xp); /* names are case-sensitive */
    /* another table: other keys for the same names */
    uint64_t gold_b = names_key(&b, "gold"), xp_b = names_key(&b, "XP");
    assert_int_not_equal(gold_b, gold);
    assert_int_not_equal(gold_b, xp);
    assert_int_not_equal(xp_b, xp);
    assert_int_not_equal(xp_b, gold);
    names_release(&a);
    names_release(&b);
}

static void entries_are_found_by_key_then_by_name(void **state)
{
    (void)state;
    struct names t;
    names_init(&t);
    struct entry e[3] = {{"gold", 0, 1}, {"XP", 0, 2}, {"gems", 0, 3}};
    uint64_t xp = names_key(&t, "XP"), gold = names_key(&t, "gold");
    /* no key yet: by name, and the key is remembered */
    struct entry *x = names_find(e, 3, sizeof(e[0]), "XP", xp);
    assert_ptr_equal(x, &e[1]);
    assert_int_equal(e[1].key, xp);
    assert_ptr_equal(names_find(e, 3, sizeof(e[0]), "XP", xp), &e[1]);
    assert_ptr_equal(names_find(e, 3, sizeof(e[0]), "gold", gold), &e[0]);
    assert_int_equal(e[0].key, gold);
    /* without a key: by name, the keys kept */
    assert_ptr_equal(names_find(e, 3, sizeof(e[0]), "gems", 0), &e[2]);
    assert_int_equal(e[2].key, 0);
    assert_ptr_equal(names_find(e, 3, sizeof(e[0]), "XP", 0), &e[1]);
    assert_int_equal(e[1].key, xp);
    /* absent, with and without a key */
    assert_null(names_find(e, 3, sizeof(e[0]), "coins", names_key(&t, "coins")));
    assert_null(names_find(e, 3, sizeof(e[0]), "coins", 0));
    assert_null(names_find(e, 0, sizeof(e[0]), "XP", xp));
    names_release(&t);
}

/* Two tables number the same names in another order: an entry found by one table's key is
 * found by name, not by number, with the other's (a user's state used with a reloaded app). */
static void keys_of_another_table_are_not_mixed_up(void **state)
{
    (void)state;
    struct names a, b;
    names_init(&a);
    names_init(&b);
    uint64_t xp_a = names_key(&a, "XP"), gold_a = names_key(&a, "gold");
    uint64_t gold_b = names_key(&b, "gold"), xp_b = names_key(&b, "XP");
    struct entry e[2] = {{"XP", 0, 1}, {"gold", 0, 2}};
    assert_ptr_equal(names_find(e, 2, sizeof(e[0]), "XP", xp_a), &e[0]);
    assert_ptr_equal(names_find(e, 2, sizeof(e[0]), "gold", gold_a), &e[1]);
    assert_ptr_equal(names_find(e, 2, sizeof(e[0]), "gold", gold_b), &e[1]);
    assert_ptr_equal(names_find(e, 2, sizeof(e[0]), "XP", xp_b), &e[0]);
    assert_int_equal(e[0].key, xp_b);
    assert_ptr_equal(names_find(e, 2, sizeof(e[0]), "XP", xp_a), &e[0]);
    assert_ptr_equal(names_find(e, 2, sizeof(e[0]), "gold", gold_a), &e[1]);
    names_release(&a);
    names_release(&b);
}

/* Many names: each entry is found, by name the first time and by key after, among entries
 * that already hold other names' keys of the same table. */
static void many_names(void **state)
{
    (void)state;
    struct names t;
    names_init(&t);
    enum { N = 300 };
    struct entry *e = calloc(N, sizeof(*e));
    char names[N][16];
    uint64_t keys[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "n%d", i);
        keys[i] = names_key(&t, names[i]);
        e[i].name = names[i];
        e[i].value = i;
    }
    for (int round = 0; round < 2; round++)
        for (int i = N - 1; i >= 0; i--) {
            struct entry *x = names_find(e, N, sizeof(*e), names[i], keys[i]);
            assert_non_null(x);
            assert_int_equal(x->value, i);
        }
    assert_int_equal(t.n, N);
    free(e);
    names_release(&t);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(keys_are_per_name_and_per_table),
    cmocka_unit_test(entries_are_found_by_key_then_by_name),
    cmocka_unit_test(keys_of_another_table_are_not_mixed_up),
    cmocka_unit_test(many_names),
};

UNIT_MAIN(tests)
