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

/* Interned names: one copy per text, shared while it has holders. Thousands of texts are
 * interned, some twice, then let go in a scrambled order: every text still held is the same
 * copy throughout (a removal that broke a probe run would make a second copy), and one let go
 * by all its holders can be interned again. */
static void interned_names_are_shared_while_held(void **state)
{
    (void)state;
    char *a = names_intern("XP"), *b = names_intern("XP"), *c = names_intern("coins");
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
    assert_string_equal(a, "XP");
    char copy[] = "XP";
    assert_ptr_equal(names_intern(copy), a); /* by text, not by address */
    names_unintern(a);
    names_unintern(b);
    assert_string_equal(a, "XP"); /* one holder left */
    names_unintern(a);
    names_unintern(c);
    names_unintern(NULL);

    enum { N = 5000 };
    char **held = calloc(N, sizeof(*held));
    int *holders = calloc(N, sizeof(*holders));
    char text[32];
    for (int i = 0; i < N; i++) {
        snprintf(text, sizeof(text), "name-%d", i);
        held[i] = names_intern(text);
        holders[i] = 1;
        if (i % 3 == 0) {
            assert_ptr_equal(names_intern(text), held[i]);
            holders[i]++;
        }
    }
    for (int step = 0; step < 3 * N; step++) {
        int i = (int)(((unsigned)step * 2654435761u) % N);
        if (!holders[i])
            continue;
        names_unintern(held[i]);
        holders[i]--;
        if (step % 7 == 0) { /* every text still held is still the one copy */
            for (int k = 0; k < N; k += 97) {
                if (!holders[k])
                    continue;
                snprintf(text, sizeof(text), "name-%d", k);
                char *again = names_intern(text);
                assert_ptr_equal(again, held[k]);
                names_unintern(again);
            }
        }
    }
    for (int i = 0; i < N; i++) {
        snprintf(text, sizeof(text), "name-%d", i);
        char *again = names_intern(text);
        if (holders[i])
            assert_ptr_equal(again, held[i]);
        assert_string_equal(again, text);
        names_unintern(again);
        while (holders[i]--)
            names_unintern(held[i]);
    }
    free(held);
    free(holders);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(keys_are_per_name_and_per_table),
    cmocka_unit_test(entries_are_found_by_key_then_by_name),
    cmocka_unit_test(keys_of_another_table_are_not_mixed_up),
    cmocka_unit_test(many_names),
    cmocka_unit_test(interned_names_are_shared_while_held),
};

UNIT_MAIN(tests)
