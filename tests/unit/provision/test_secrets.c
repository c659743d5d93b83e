/* Unit tests for src/provision/secrets and sealed connection storage: seal/open round
 * trip, wrong key, key file creation (mode 0600, reused), SCIMITAR_KEY forms, and a
 * database file that never holds a secret in clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/json.h"
#include "provision/connection.h"
#include "provision/secrets.h"
#include "store/store_provision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_round_trip(void **state)
{
    (void)state;
    unsigned char raw[SECRETS_KEY_BYTES];
    memset(raw, 7, sizeof raw);
    struct secrets_key *k = NULL, *other = NULL;
    assert_int_equal(secrets_key_from_bytes(raw, &k), SC_OK);
    raw[0] = 8;
    assert_int_equal(secrets_key_from_bytes(raw, &other), SC_OK);
    char *sealed = NULL, *again = NULL, *plain = NULL;
    assert_int_equal(secrets_seal(k, "s3cr3t-token", &sealed), SC_OK);
    assert_true(secrets_is_sealed(sealed));
    assert_null(strstr(sealed, "s3cr3t"));
    assert_int_equal(secrets_seal(k, "s3cr3t-token", &again), SC_OK);
    assert_string_not_equal(sealed, again); /* random nonce */
    struct sc_error e = {0};
    assert_int_equal(secrets_open(k, sealed, &plain, &e), SC_OK);
    assert_string_equal(plain, "s3cr3t-token");
    secrets_wipe_free(plain);
    plain = NULL;
    assert_int_equal(secrets_open(other, sealed, &plain, &e), SC_ERR_CRYPTO);
    assert_null(plain);
    assert_null(strstr(e.message, "s3cr3t"));
    assert_int_equal(secrets_open(k, "plain text", &plain, &e), SC_ERR_PARSE);
    assert_int_equal(secrets_open(k, "sb1:!!!", &plain, &e), SC_ERR_PARSE);
    /* empty secret */
    free(sealed);
    assert_int_equal(secrets_seal(k, "", &sealed), SC_OK);
    assert_int_equal(secrets_open(k, sealed, &plain, &e), SC_OK);
    assert_string_equal(plain, "");
    secrets_wipe_free(plain);
    free(sealed);
    free(again);
    secrets_key_free(k);
    secrets_key_free(other);
}

static void test_key_file(void **state)
{
    (void)state;
    unsetenv("SCIMITAR_KEY");
    char dir[] = "/tmp/scimitar-key-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/db.key", dir);
    struct secrets_key *k1 = NULL, *k2 = NULL;
    struct sc_error e = {0};
    assert_int_equal(secrets_key_load(path, &k1, &e), SC_OK);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(secrets_key_load(path, &k2, &e), SC_OK); /* the same key, read back */
    char *sealed = NULL, *plain = NULL;
    assert_int_equal(secrets_seal(k1, "abc", &sealed), SC_OK);
    assert_int_equal(secrets_open(k2, sealed, &plain, &e), SC_OK);
    assert_string_equal(plain, "abc");
    secrets_wipe_free(plain);
    free(sealed);
    secrets_key_free(k1);
    secrets_key_free(k2);

    /* a key file open to group or others is refused, saying how to fix it */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(secrets_key_load(path, &k1, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "key-file");
    assert_non_null(strstr(e.message, "chmod 600"));
    assert_int_equal(chmod(path, 0600), 0);

    /* a malformed key file is refused, naming the file */
    FILE *f = fopen(path, "w");
    fputs("not a key\n", f);
    fclose(f);
    assert_int_equal(secrets_key_load(path, &k1, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "key-file");
    unlink(path);
    rmdir(dir);
}

static void test_env_key(void **state)
{
    (void)state;
    struct secrets_key *a = NULL, *b = NULL;
    struct sc_error e = {0};
    setenv("SCIMITAR_KEY", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 1);
    assert_int_equal(secrets_key_load("/nonexistent/dir/key", &a, &e), SC_OK);
    setenv("SCIMITAR_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
    assert_int_equal(secrets_key_load(NULL, &b, &e), SC_OK);
    char *sealed = NULL, *plain = NULL;
    assert_int_equal(secrets_seal(a, "same key", &sealed), SC_OK);
    assert_int_equal(secrets_open(b, sealed, &plain, &e), SC_OK);
    assert_string_equal(plain, "same key");
    secrets_wipe_free(plain);
    free(sealed);
    secrets_key_free(a);
    secrets_key_free(b);
    setenv("SCIMITAR_KEY", "short", 1);
    assert_int_equal(secrets_key_load(NULL, &a, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "SCIMITAR_KEY");
    unsetenv("SCIMITAR_KEY");
}

/* Returns 1 when the file at path contains needle. */
static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t cap = 1 << 20, n = 0;
    char *data = malloc(cap);
    size_t got;
    while ((got = fread(data + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            data = realloc(data, cap);
        }
    }
    fclose(f);
    int found = memmem(data, n, needle, strlen(needle)) != NULL;
    free(data);
    return found;
}

static void test_db_has_no_plaintext(void **state)
{
    (void)state;
    char dir[] = "/tmp/scimitar-db-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char dbpath[256], dsn[300], wal[300];
    snprintf(dbpath, sizeof dbpath, "%s/s.db", dir);
    snprintf(dsn, sizeof dsn, "sqlite:%s", dbpath);
    snprintf(wal, sizeof wal, "%s-wal", dbpath);
    unsigned char raw[SECRETS_KEY_BYTES];
    memset(raw, 42, sizeof raw);
    struct secrets_key *k = NULL;
    assert_int_equal(secrets_key_from_bytes(raw, &k), SC_OK);

    json_t *input = json_pack("{s:s, s:{s:s}, s:{s:s}, s:{s:s}}", "name", "Code42", "scim",
                              "baseUrl", "https://example.com/scim/v2", "auth", "accessToken",
                              "PLAINTEXT-ACCESS-TOKEN-1234", "headers", "X-Api-Key",
                              "PLAINTEXT-HEADER-VALUE-5678");
    json_t *doc = NULL, *sealed = NULL;
    struct sc_error e = {0};
    assert_int_equal(connection_doc_merge(NULL, input, &doc, &e), SC_OK);
    assert_int_equal(connection_seal_doc(k, doc, &sealed, &e), SC_OK);

    struct store *st = NULL;
    assert_int_equal(store_open(dsn, &st, &e), SC_OK);
    struct store_connection row = {0};
    sc_uuid_v4(row.id);
    row.name = "Code42";
    row.config = sc_json_dump(sealed);
    row.created_at = row.updated_at = 1;
    assert_int_equal(store_connection_insert(st, &row), SC_OK);
    free(row.config);

    json_t *loaded = NULL;
    struct connection *conn = NULL;
    assert_int_equal(connection_load(st, k, row.id, &loaded, &conn, &e), SC_OK);
    assert_string_equal(conn->access_token, "PLAINTEXT-ACCESS-TOKEN-1234");
    assert_int_equal(conn->nheaders, 1);
    assert_string_equal(conn->headers[0].value, "PLAINTEXT-HEADER-VALUE-5678");
    assert_true(json_equal(loaded, doc));
    store_close(st);

    assert_false(file_contains(dbpath, "PLAINTEXT-ACCESS-TOKEN"));
    assert_false(file_contains(dbpath, "PLAINTEXT-HEADER-VALUE"));
    assert_false(file_contains(wal, "PLAINTEXT-ACCESS-TOKEN"));
    assert_true(file_contains(dbpath, "Code42") || file_contains(wal, "Code42"));

    connection_free(conn);
    json_decref(loaded);
    json_decref(input);
    json_decref(doc);
    json_decref(sealed);
    secrets_key_free(k);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* connection_check_sealed: the key that sealed a document opens all its secrets (auth
 * and header values counted), another key opens none, and a document without secrets
 * has nothing to check. */
static void test_check_sealed(void **state)
{
    (void)state;
    unsigned char raw[SECRETS_KEY_BYTES];
    memset(raw, 7, sizeof raw);
    struct secrets_key *k = NULL, *other = NULL;
    assert_int_equal(secrets_key_from_bytes(raw, &k), SC_OK);
    raw[0] = 8;
    assert_int_equal(secrets_key_from_bytes(raw, &other), SC_OK);
    json_t *doc =
        json_pack("{s:{s:s, s:s}, s:{s:s, s:s}}", "auth", "accessToken", "TOKEN-1", "password",
                  "PASSWORD-2", "headers", "X-A", "HEADER-3", "X-B", "HEADER-4");
    json_t *sealed = NULL;
    struct sc_error e = {0};
    assert_int_equal(connection_seal_doc(k, doc, &sealed, &e), SC_OK);
    json_t *before = json_deep_copy(sealed);
    size_t n = 99;
    assert_int_equal(connection_check_sealed(k, sealed, &n, &e), SC_OK);
    assert_int_equal(n, 4);
    assert_true(json_equal(sealed, before)); /* left as it was */
    n = 99;
    assert_int_equal(connection_check_sealed(other, sealed, &n, &e), SC_ERR_CRYPTO);
    assert_int_equal(n, 99);
    assert_null(strstr(e.message, "TOKEN-1"));
    json_t *none = json_pack("{s:{s:s}}", "scim", "baseUrl", "https://example.com/scim/v2");
    assert_int_equal(connection_check_sealed(other, none, &n, &e), SC_OK);
    assert_int_equal(n, 0);
    json_decref(none);
    json_decref(before);
    json_decref(sealed);
    json_decref(doc);
    secrets_key_free(k);
    secrets_key_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_env_key),      cmocka_unit_test(test_db_has_no_plaintext),
        cmocka_unit_test(test_check_sealed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
