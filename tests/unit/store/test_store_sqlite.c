/* Unit tests for the SQLite back-end's core: the durability setting (PRAGMA synchronous
 * of every connection opened), pools refusing private in-memory databases, the modes
 * of the files it creates, and the write probe behind /healthz. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh temporary folder; *dsn is "sqlite:<dir>/t.db". */
static void temp_db(char *dir, size_t dn, char *dsn, size_t n)
{
    snprintf(dir, dn, "/tmp/scimitar-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(dsn, n, "sqlite:%s/t.db", dir);
}

static void remove_db(const char *dir)
{
    char path[512];
    static const char *const files[] = {"t.db", "t.db-wal", "t.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static int pragma_int(struct store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(sqlite__db(st), sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* FULL (2) by default, NORMAL (1) on request, for every connection opened after. */
static void test_durability(void **state)
{
    (void)state;
    char dir[64], dsn[128];
    temp_db(dir, sizeof dir, dsn, sizeof dsn);
    struct store *st = NULL;
    struct sc_error e = {0};
    assert_int_equal(store_open(dsn, &st, &e), SC_OK);
    assert_int_equal(pragma_int(st, "PRAGMA synchronous"), 2);
    store_close(st);
    store_set_durability(STORE_DURABILITY_NORMAL);
    assert_int_equal(store_open(dsn, &st, &e), SC_OK);
    assert_int_equal(pragma_int(st, "PRAGMA synchronous"), 1);
    store_close(st);
    store_set_durability(STORE_DURABILITY_FULL);
    assert_int_equal(store_open(dsn, &st, &e), SC_OK);
    assert_int_equal(pragma_int(st, "PRAGMA synchronous"), 2);
    store_close(st);
    remove_db(dir);
}

/* A pool cannot share an in-memory database: each connection would get its own. */
static void test_pool_refuses_memory(void **state)
{
    (void)state;
    static const char *const dsns[] = {"sqlite::memory:", "sqlite:file::memory:?cache=shared",
                                       "sqlite:file:x?mode=memory"};
    for (size_t i = 0; i < sizeof dsns / sizeof dsns[0]; i++) {
        struct store_pool *p = NULL;
        struct sc_error e = {0};
        assert_int_equal(store_pool_new(dsns[i], &p, &e), SC_ERR_INVALID);
        assert_null(p);
        assert_string_equal(e.field, "db");
        assert_non_null(strstr(e.message, "in-memory"));
    }
    /* one private connection is still fine (tests use it) */
    struct store *st = NULL;
    struct sc_error e = {0};
    assert_int_equal(store_open("sqlite::memory:", &st, &e), SC_OK);
    store_close(st);
}

/* The database and its -wal and -shm are created 0600 whatever the umask; files left
 * more open are narrowed at the next open. */
static void test_file_modes(void **state)
{
    (void)state;
    char dir[64], dsn[128], path[512];
    temp_db(dir, sizeof dir, dsn, sizeof dsn);
    mode_t old = umask(022);
    struct store *st = NULL;
    struct sc_error e = {0};
    assert_int_equal(store_open(dsn, &st, &e), SC_OK);
    assert_int_equal(store_setting_set(st, "k", "v"), SC_OK);
    static const char *const files[] = {"t.db", "t.db-wal", "t.db-shm"};
    struct stat sb;
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        assert_int_equal(stat(path, &sb), 0);
        if ((sb.st_mode & 0777) != 0600)
            fail_msg("%s has mode %o", path, (unsigned)(sb.st_mode & 0777));
    }
    store_close(st);
    /* an older version's 0644 files */
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        chmod(path, 0644); /* -wal and -shm may be gone after the close */
    }
    assert_int_equal(store_open(dsn, &st, &e), SC_OK);
    assert_int_equal(store_setting_set(st, "k", "w"), SC_OK);
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        assert_int_equal(stat(path, &sb), 0);
        if ((sb.st_mode & 0777) != 0600)
            fail_msg("%s has mode %o", path, (unsigned)(sb.st_mode & 0777));
    }
    store_close(st);
    umask(old);
    remove_db(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durability),
        cmocka_unit_test(test_pool_refuses_memory),
        cmocka_unit_test(test_file_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
