/* Unit tests for the SQLite back-end's core: the durability setting (PRAGMA synchronous
 * of every connection opened), pools refusing private in-memory databases, the modes
 * of the files it creates, the write probe behind /healthz, and the online backup and
 * restore (store_backup, store_restore). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/sqlite_internal.h"
#include "store/store_copy.h"

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

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int mode_of(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int)(sb.st_mode & 0777) : -1;
}

/* The setting k of the database at path (malloc'd) */
static char *setting_of(const char *path)
{
    char dsn[600];
    snprintf(dsn, sizeof dsn, "sqlite:%s", path);
    struct store *st = NULL;
    struct sc_error e = {0};
    assert_int_equal(store_open(dsn, &st, &e), SC_OK);
    char *v = NULL;
    assert_int_equal(store_setting_get(st, "k", &v), SC_OK);
    store_close(st);
    return v;
}

/* A backup is a 0600 copy that opens on its own; a restore puts it into a new file or,
 * with replace, over a database; what is not a scimitar database is refused on both
 * sides, a failed backup leaves the earlier one in place, PostgreSQL is sent to
 * pg_dump. */
static void test_backup_restore(void **state)
{
    (void)state;
    char dir[64], dsn[128], bk[256], rdb[256], rdsn[300], junk[256], part[300];
    temp_db(dir, sizeof dir, dsn, sizeof dsn);
    snprintf(bk, sizeof bk, "%s/b.db", dir);
    snprintf(rdb, sizeof rdb, "%s/r.db", dir);
    snprintf(rdsn, sizeof rdsn, "sqlite:%s", rdb);
    snprintf(junk, sizeof junk, "%s/junk", dir);
    mode_t old = umask(022);
    struct store *st = NULL;
    struct sc_error e = {0};
    assert_int_equal(store_open(dsn, &st, &e), SC_OK);
    assert_int_equal(store_setting_set(st, "k", "one"), SC_OK);

    /* the source stays open, as under a running serve */
    assert_int_equal(store_backup(dsn, bk, &e), SC_OK);
    assert_int_equal(mode_of(bk), 0600);
    snprintf(part, sizeof part, "%s-wal", bk);
    assert_int_equal(mode_of(part), -1); /* one file */
    char *v = setting_of(bk);
    assert_string_equal(v, "one");
    free(v);

    assert_int_equal(store_restore(bk, rdsn, 0, &e), SC_OK);
    assert_int_equal(mode_of(rdb), 0600);
    v = setting_of(rdb);
    assert_string_equal(v, "one");
    free(v);
    /* a newer backup over it: only with replace */
    assert_int_equal(store_setting_set(st, "k", "two"), SC_OK);
    assert_int_equal(store_backup(dsn, bk, &e), SC_OK);
    assert_int_equal(store_restore(bk, rdsn, 0, &e), SC_ERR_CONFLICT);
    assert_string_equal(e.field, "db");
    assert_non_null(strstr(e.message, "--replace"));
    assert_int_equal(store_restore(bk, rdsn, 1, &e), SC_OK);
    v = setting_of(rdb);
    assert_string_equal(v, "two");
    free(v);

    /* not scimitar databases */
    write_file(junk, "not a database");
    char jdsn[300];
    snprintf(jdsn, sizeof jdsn, "sqlite:%s", junk);
    assert_int_equal(store_backup(jdsn, bk, &e), SC_ERR_INVALID);
    v = setting_of(bk); /* the earlier backup is intact */
    assert_string_equal(v, "two");
    free(v);
    assert_int_equal(store_restore(junk, rdsn, 1, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "from");
    assert_non_null(strstr(e.message, "not a scimitar database"));
    snprintf(part, sizeof part, "%s/none.db", dir);
    assert_int_equal(store_restore(part, rdsn, 1, &e), SC_ERR_NOT_FOUND);
    snprintf(part, sizeof part, "%s/no/such/dir/b.db", dir);
    assert_int_equal(store_backup(dsn, part, &e), SC_ERR_IO);

    assert_int_equal(store_backup("postgresql://u@h/db", bk, &e), SC_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "pg_dump"));
    assert_int_equal(store_restore(bk, "postgres://u@h/db", 0, &e), SC_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "pg_restore"));
    assert_int_equal(store_backup("sqlite::memory:", bk, &e), SC_ERR_INVALID);

    store_close(st);
    umask(old);
    static const char *const extra[] = {"b.db", "r.db", "r.db-wal", "r.db-shm", "junk"};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        snprintf(part, sizeof part, "%s/%s", dir, extra[i]);
        unlink(part);
    }
    remove_db(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durability),
        cmocka_unit_test(test_pool_refuses_memory),
        cmocka_unit_test(test_file_modes),
        cmocka_unit_test(test_backup_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
