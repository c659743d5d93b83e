/* Unit tests for src/admin: the admin token "initial" is made once and kept only as its
 * hash (a chosen token replaces it, a short one is refused; an older database's hash in
 * the settings becomes it), named tokens are created (shown once), listed without the
 * token, revoked (never the last), expire, a request's token is checked against the
 * hashes with its last use written at most once a minute, and the health of a working
 * database is OK. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "admin/admin.h"
#include "store/store.h"
#include "store/store_admin.h"
#include "base/id.h"

#include <stdio.h>

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
    assert_true(admin_token_check(st, token, 1000) == ADMIN_AUTH_OK);
    assert_false(admin_token_check(st, "not-the-token", 1000) == ADMIN_AUTH_OK);
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
    assert_true(admin_token_check(st, "a-chosen-admin-token", 1000) == ADMIN_AUTH_OK);
    assert_false(admin_token_check(st, token, 1000) == ADMIN_AUTH_OK);
    assert_int_equal(admin_token_setup(st, NULL, hash, none, &e), SC_OK);
    assert_string_equal(hash, again);
}

/* A database of an older version: one hash in the settings, no token table rows. */
static void test_token_migrated(void **state)
{
    struct store *st = *state;
    char hash[ADMIN_TOKEN_HASH_SIZE], old[ADMIN_TOKEN_HASH_SIZE], none[ADMIN_TOKEN_NEW_SIZE];
    struct sc_error e = {0};
    sc_sha256_hex("an-older-admin-token", old);
    assert_int_equal(store_setting_set(st, "admin.token_hash", old), SC_OK);
    assert_int_equal(admin_token_setup(st, NULL, hash, none, &e), SC_OK);
    assert_string_equal(none, "");
    assert_string_equal(hash, old);
    assert_int_equal(admin_token_check(st, "an-older-admin-token", 1000), ADMIN_AUTH_OK);
    json_t *list = NULL;
    assert_int_equal(admin_token_list(st, &list, &e), SC_OK);
    assert_int_equal(json_array_size(list), 1);
    json_t *t = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(t, "name")), "initial");
    assert_string_equal(json_string_value(json_object_get(t, "prefix")), "");
    json_decref(list);
}

static void test_named_tokens(void **state)
{
    struct store *st = *state;
    char hash[ADMIN_TOKEN_HASH_SIZE], none[ADMIN_TOKEN_NEW_SIZE];
    struct sc_error e = {0};
    assert_int_equal(admin_token_setup(st, "a-chosen-admin-token", hash, none, &e), SC_OK);

    /* validation names the field */
    json_t *made = NULL;
    assert_int_equal(admin_token_create(st, "", 0, 1000, &made, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "name");
    assert_int_equal(admin_token_create(st, " ci", 0, 1000, &made, &e), SC_ERR_INVALID);
    assert_int_equal(admin_token_create(st, "c\ti", 0, 1000, &made, &e), SC_ERR_INVALID);
    char longname[80];
    memset(longname, 'x', 65);
    longname[65] = '\0';
    assert_int_equal(admin_token_create(st, longname, 0, 1000, &made, &e), SC_ERR_INVALID);
    assert_int_equal(admin_token_create(st, "ci", 1000, 1000, &made, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "expiresAt");
    assert_int_equal(admin_token_create(st, "initial", 0, 1000, &made, &e), SC_ERR_CONFLICT);
    assert_string_equal(e.field, "name");

    /* created: the token once, its prefix, its hash stored */
    int64_t now = 4102444800000; /* 2100-01-01, after the token "initial" was made */
    assert_int_equal(admin_token_create(st, "ci", now + 3600000, now, &made, &e), SC_OK);
    const char *tok = json_string_value(json_object_get(made, "token"));
    assert_non_null(tok);
    assert_int_equal(strncmp(tok, "scm_", 4), 0);
    assert_true(strlen(tok) >= 40);
    char prefix[16] = "";
    memcpy(prefix, tok, ADMIN_TOKEN_PREFIX_LEN);
    assert_string_equal(json_string_value(json_object_get(made, "prefix")), prefix);
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(made, "id")));
    char token[80];
    snprintf(token, sizeof token, "%s", tok);
    json_decref(made);
    assert_int_equal(admin_token_check(st, token, now), ADMIN_AUTH_OK);
    assert_int_equal(admin_token_check(st, token, now + 3600000), ADMIN_AUTH_EXPIRED);
    assert_int_equal(admin_token_check(st, "scm_not-a-token", now), ADMIN_AUTH_UNKNOWN);

    /* the list: never the token or its hash; last use written at most once a minute */
    struct store_admin_token *rows = NULL;
    size_t n = 0;
    assert_int_equal(store_admin_token_list(st, &rows, &n), SC_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rows[1].last_used_at, now);
    free(rows);
    assert_int_equal(admin_token_check(st, token, now + 59999), ADMIN_AUTH_OK);
    assert_int_equal(store_admin_token_list(st, &rows, &n), SC_OK);
    assert_int_equal(rows[1].last_used_at, now);
    free(rows);
    assert_int_equal(admin_token_check(st, token, now + 60000), ADMIN_AUTH_OK);
    assert_int_equal(store_admin_token_list(st, &rows, &n), SC_OK);
    assert_int_equal(rows[1].last_used_at, now + 60000);
    free(rows);
    json_t *list = NULL;
    assert_int_equal(admin_token_list(st, &list, &e), SC_OK);
    char *dump = json_dumps(list, 0);
    assert_null(strstr(dump, token));
    assert_null(strstr(dump, hash));
    assert_non_null(strstr(dump, "\"lastUsedAt\": \"2100-01-01T00:01:00.000Z\""));
    free(dump);
    json_decref(list);

    /* revoke: the initial one, then not the last */
    assert_int_equal(admin_token_list(st, &list, &e), SC_OK);
    char initial_id[64];
    snprintf(initial_id, sizeof initial_id, "%s",
             json_string_value(json_object_get(json_array_get(list, 0), "id")));
    json_decref(list);
    assert_int_equal(admin_token_revoke(st, initial_id, &e), SC_OK);
    assert_int_equal(admin_token_check(st, "a-chosen-admin-token", now), ADMIN_AUTH_UNKNOWN);
    assert_int_equal(admin_token_revoke(st, initial_id, &e), SC_ERR_NOT_FOUND);
    assert_int_equal(admin_token_revoke(st, id, &e), SC_ERR_CONFLICT);
    assert_non_null(strstr(e.message, "last admin token"));
    /* the environment's token comes back as "initial" at the next start */
    assert_int_equal(admin_token_setup(st, "a-chosen-admin-token", hash, none, &e), SC_OK);
    assert_int_equal(admin_token_check(st, "a-chosen-admin-token", now), ADMIN_AUTH_OK);
    /* the environment's token may not be another named token's */
    assert_int_equal(admin_token_setup(st, token, hash, none, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "SCIMITAR_ADMIN_TOKEN");
    assert_int_equal(admin_token_check(st, "a-chosen-admin-token", now), ADMIN_AUTH_OK);
    assert_int_equal(admin_token_revoke(st, id, &e), SC_OK);
    assert_int_equal(admin_token_check(st, token, now), ADMIN_AUTH_UNKNOWN);
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
        cmocka_unit_test_setup_teardown(test_token_migrated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
