/* Unit tests for src/admin: the admin token is made once and kept only as its hash (a
 * chosen token replaces it, a short one is refused), a request's token is checked
 * against the hash, and the health of a working database is OK. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "admin/admin.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    struct store *st = NULL;
    struct sc_error e = {0};
    if (store_open("sqlite::memory:", &st, &e) != SC_OK)
        return -1;
    *state = st;
    return 0;
}

static int teardown(void **state)
{
    store_close(*state);
    return 0;
}

static void test_token(void **state)
{
    struct store *st = *state;
    char hash[ADMIN_TOKEN_HASH_SIZE], again[ADMIN_TOKEN_HASH_SIZE];
    char token[ADMIN_TOKEN_NEW_SIZE], none[ADMIN_TOKEN_NEW_SIZE];
    struct sc_error e = {0};

    /* first start: a new token, shown once, stored as its hash only */
    int stored_before = -1;
    assert_int_equal(admin_token_stored(st, &stored_before), SC_OK);
    assert_int_equal(stored_before, 0);
    assert_int_equal(admin_token_setup(st, NULL, hash, token, &e), SC_OK);
    assert_int_equal(admin_token_stored(st, &stored_before), SC_OK);
    assert_int_equal(stored_before, 1);
    assert_true(strlen(token) >= 32);
    assert_int_equal(strlen(hash), 64);
    assert_true(admin_token_matches(hash, token));
    assert_false(admin_token_matches(hash, "not-the-token"));
    char *stored = NULL;
    assert_int_equal(store_setting_get(st, "admin.token_hash", &stored), SC_OK);
    assert_string_equal(stored, hash);
    assert_null(strstr(stored, token));
    free(stored);

    /* next start: the same hash, nothing to show */
    assert_int_equal(admin_token_setup(st, "", again, none, &e), SC_OK);
    assert_string_equal(again, hash);
    assert_string_equal(none, "");

    /* a chosen token replaces it; a short one is refused and changes nothing */
    assert_int_equal(admin_token_setup(st, "short", again, none, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "SCIMITAR_ADMIN_TOKEN");
    assert_string_equal(e.message, "SCIMITAR_ADMIN_TOKEN must be at least 16 characters long");
    assert_int_equal(admin_token_setup(st, "a-chosen-admin-token", again, none, &e), SC_OK);
    assert_string_equal(none, "");
    assert_true(admin_token_matches(again, "a-chosen-admin-token"));
    assert_false(admin_token_matches(again, token));
    assert_int_equal(admin_token_setup(st, NULL, hash, none, &e), SC_OK);
    assert_string_equal(hash, again);
}

static void test_health(void **state)
{
    char why[160] = "";
    assert_int_equal(admin_health_check(*state, why, sizeof why), ADMIN_HEALTH_OK);
    assert_string_equal(why, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
