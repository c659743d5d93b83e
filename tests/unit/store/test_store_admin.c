/* The contract of the named admin tokens' store functions (store/store_admin.h), run
 * unchanged on SQLite and (unit-pg/store/test_store_admin) on PostgreSQL: insert with
 * unique names and hashes, look-up by hash, the list in creation order, a replacement by
 * name that keeps the id, last-use writes at most once per interval, and a delete that
 * never removes the last token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "store/store.h"
#include "store/store_admin.h"
#include "storetest.h"

#include <stdlib.h>
#include <string.h>

static struct store_admin_token token(const char *id, const char *name, char hashc, int64_t created)
{
    struct store_admin_token t = {0};
    sc_strlcpy(t.id, id, sizeof t.id);
    sc_strlcpy(t.name, name, sizeof t.name);
    sc_strlcpy(t.prefix, "scm_ab", sizeof t.prefix);
    memset(t.hash, hashc, 64);
    t.hash[64] = '\0';
    t.created_at = created;
    return t;
}

#define ID_A "00000000-0000-4000-8000-00000000000a"
#define ID_B "00000000-0000-4000-8000-00000000000b"
#define ID_C "00000000-0000-4000-8000-00000000000c"

static void test_tokens_insert_find_list(void **state)
{
    struct store *st = *state;
    struct store_admin_token a = token(ID_A, "ci", 'a', 1000);
    a.expires_at = 99000;
    assert_int_equal(store_admin_token_insert(st, &a), SC_OK);
    struct store_admin_token b = token(ID_B, "ops", 'b', 2000);
    assert_int_equal(store_admin_token_insert(st, &b), SC_OK);
    /* names and hashes are unique */
    struct store_admin_token dup = token(ID_C, "ci", 'c', 3000);
    assert_int_equal(store_admin_token_insert(st, &dup), SC_ERR_CONFLICT);
    dup = token(ID_C, "other", 'a', 3000);
    assert_int_equal(store_admin_token_insert(st, &dup), SC_ERR_CONFLICT);

    struct store_admin_token got;
    char hash[65];
    memset(hash, 'a', 64);
    hash[64] = '\0';
    assert_int_equal(store_admin_token_find_hash(st, hash, &got), SC_OK);
    assert_string_equal(got.id, ID_A);
    assert_string_equal(got.name, "ci");
    assert_string_equal(got.prefix, "scm_ab");
    assert_int_equal(got.created_at, 1000);
    assert_int_equal(got.last_used_at, 0);
    assert_int_equal(got.expires_at, 99000);
    memset(hash, 'f', 64);
    assert_int_equal(store_admin_token_find_hash(st, hash, &got), SC_ERR_NOT_FOUND);

    struct store_admin_token *list = NULL;
    size_t n = 0;
    assert_int_equal(store_admin_token_list(st, &list, &n), SC_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "ci");
    assert_string_equal(list[1].name, "ops");
    assert_int_equal(list[1].expires_at, 0);
    free(list);
}

static void test_tokens_put_named(void **state)
{
    struct store *st = *state;
    struct store_admin_token a = token(ID_A, "initial", 'a', 1000);
    assert_int_equal(store_admin_token_put_named(st, &a), SC_OK);
    assert_int_equal(store_admin_token_touch(st, ID_A, 5000, 60000), SC_OK);
    /* the same hash again (a restart with the same token): nothing changes */
    struct store_admin_token same = token(ID_C, "initial", 'a', 6000);
    assert_int_equal(store_admin_token_put_named(st, &same), SC_OK);
    struct store_admin_token got;
    assert_int_equal(store_admin_token_find_hash(st, a.hash, &got), SC_OK);
    assert_string_equal(got.id, ID_A);
    assert_int_equal(got.created_at, 1000);
    assert_int_equal(got.last_used_at, 5000);
    /* the same name again: a new hash under the old id, the last use forgotten */
    struct store_admin_token again = token(ID_B, "initial", 'b', 7000);
    assert_int_equal(store_admin_token_put_named(st, &again), SC_OK);
    struct store_admin_token *list = NULL;
    size_t n = 0;
    assert_int_equal(store_admin_token_list(st, &list, &n), SC_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, ID_A);
    assert_int_equal(list[0].hash[0], 'b');
    assert_int_equal(list[0].created_at, 7000);
    assert_int_equal(list[0].last_used_at, 0);
    free(list);
    /* a hash that belongs to another token is refused */
    struct store_admin_token other = token(ID_C, "other", 'c', 8000);
    assert_int_equal(store_admin_token_insert(st, &other), SC_OK);
    struct store_admin_token clash = token(ID_B, "initial", 'c', 9000);
    assert_int_equal(store_admin_token_put_named(st, &clash), SC_ERR_CONFLICT);
}

static void test_tokens_touch_interval(void **state)
{
    struct store *st = *state;
    struct store_admin_token a = token(ID_A, "ci", 'a', 1000);
    assert_int_equal(store_admin_token_insert(st, &a), SC_OK);
    struct store_admin_token got;
    assert_int_equal(store_admin_token_touch(st, ID_A, 100000, 60000), SC_OK);
    assert_int_equal(store_admin_token_find_hash(st, a.hash, &got), SC_OK);
    assert_int_equal(got.last_used_at, 100000);
    /* within the interval: not written */
    assert_int_equal(store_admin_token_touch(st, ID_A, 159999, 60000), SC_OK);
    assert_int_equal(store_admin_token_find_hash(st, a.hash, &got), SC_OK);
    assert_int_equal(got.last_used_at, 100000);
    assert_int_equal(store_admin_token_touch(st, ID_A, 160000, 60000), SC_OK);
    assert_int_equal(store_admin_token_find_hash(st, a.hash, &got), SC_OK);
    assert_int_equal(got.last_used_at, 160000);
}

static void test_tokens_delete_keeps_last(void **state)
{
    struct store *st = *state;
    int last = -1;
    assert_int_equal(store_admin_token_delete(st, ID_A, &last), SC_ERR_NOT_FOUND);
    struct store_admin_token a = token(ID_A, "ci", 'a', 1000);
    struct store_admin_token b = token(ID_B, "ops", 'b', 2000);
    assert_int_equal(store_admin_token_insert(st, &a), SC_OK);
    assert_int_equal(store_admin_token_insert(st, &b), SC_OK);
    assert_int_equal(store_admin_token_delete(st, ID_A, &last), SC_OK);
    assert_int_equal(last, 0);
    assert_int_equal(store_admin_token_delete(st, ID_A, &last), SC_ERR_NOT_FOUND);
    assert_int_equal(store_admin_token_delete(st, ID_B, &last), SC_OK);
    assert_int_equal(last, 1);
    struct store_admin_token got;
    assert_int_equal(store_admin_token_find_hash(st, b.hash, &got), SC_OK);
    /* inside a caller's transaction too */
    assert_int_equal(store_admin_token_insert(st, &a), SC_OK);
    assert_int_equal(store_begin(st), SC_OK);
    assert_int_equal(store_admin_token_delete(st, ID_B, &last), SC_OK);
    assert_int_equal(last, 0);
    assert_int_equal(store_admin_token_delete(st, ID_A, &last), SC_OK);
    assert_int_equal(last, 1);
    assert_int_equal(store_commit(st), SC_OK);
    assert_int_equal(store_admin_token_find_hash(st, a.hash, &got), SC_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tokens_insert_find_list, storetest_setup,
                                        storetest_teardown),
        cmocka_unit_test_setup_teardown(test_tokens_put_named, storetest_setup, storetest_teardown),
        cmocka_unit_test_setup_teardown(test_tokens_touch_interval, storetest_setup,
                                        storetest_teardown),
        cmocka_unit_test_setup_teardown(test_tokens_delete_keeps_last, storetest_setup,
                                        storetest_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
