/* Unit tests for src/admin/migrate.c and backup.c: the arguments refused before any
 * database is touched (with the option named and the password of a DSN never shown),
 * the refusals of a run that leave the destination untouched (a database serve never
 * ran on, a missing key file, a key that does not open a stored secret, no key at all),
 * the key check passing before an unreachable destination, and a backup of a file
 * database written, described (its key) and restored. The copy itself needs PostgreSQL:
 * tests/integration/test_migrate.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "admin/admin.h"
#include "admin/backup.h"
#include "admin/migrate.h"
#include "base/id.h"
#include "provision/secrets.h"
#include "store/store.h"
#include "store/store_provision.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh temporary folder. */
static void temp_dir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/scimitar-admin-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

/* Removes dir and the files in it. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *ent;
    char path[PATH_MAX];
    while ((ent = readdir(d)))
        if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

/* Makes the database of dsn a scimitar database (an admin token) with a connection
 * whose access token is sealed with the key file key_path (made when missing). */
static void make_source(const char *dsn, const char *key_path)
{
    struct store *st = NULL;
    struct sc_error e = {0};
    assert_int_equal(store_open(dsn, &st, &e), SC_OK);
    char hash[ADMIN_TOKEN_HASH_SIZE], token[ADMIN_TOKEN_NEW_SIZE];
    assert_int_equal(admin_token_setup(st, "a-chosen-admin-token", hash, token, &e), SC_OK);
    struct secrets_key *k = NULL;
    assert_int_equal(secrets_key_load(key_path, &k, &e), SC_OK);
    char *sealed = NULL;
    assert_int_equal(secrets_seal(k, "the-target-token", &sealed), SC_OK);
    char config[1024];
    snprintf(config, sizeof config, "{\"auth\": {\"method\": \"BEARER\", \"accessToken\": \"%s\"}}",
             sealed);
    struct store_connection c = {.name = "c1", .config = config, .created_at = 1, .updated_at = 1};
    sc_uuid_v4(c.id);
    assert_int_equal(store_connection_insert(st, &c), SC_OK);
    free(sealed);
    secrets_key_free(k);
    store_close(st);
}

struct notes {
    int n;
};

static void count_note(void *arg, const char *option, const char *text)
{
    (void)option;
    (void)text;
    ((struct notes *)arg)->n++;
}

/* Checks m (from and to set by the caller) and expects a refusal naming option and
 * words. */
static void expect_refused(const char *from, const char *to, const char *option, const char *words)
{
    struct admin_migrate m = {.from = from, .to = to};
    assert_int_equal(admin_migrate_check(&m), SC_ERR_INVALID);
    assert_string_equal(m.option, option);
    assert_non_null(strstr(m.message, words));
    assert_null(m.path);
    assert_null(strstr(m.message, "hunter2"));
}

static void test_check(void **state)
{
    (void)state;
    char dir[64], db[PATH_MAX], from[PATH_MAX + 8], empty[PATH_MAX];
    temp_dir(dir, sizeof dir);
    const char *pg = "postgresql://scimitar:hunter2@127.0.0.1:1/x";
    expect_refused(pg, pg, "",
                   "--from must be sqlite:PATH, the database scimitar serve ran on "
                   "(not 'postgresql://scimitar:****@127.0.0.1:1/x')");
    expect_refused("sqlite::memory:", pg, "", "--from must name a database file");
    expect_refused("sqlite:file:x.db", pg, "", "--from must name a database file");
    expect_refused("sqlite:", pg, "", "--from must name a database file");
    expect_refused("sqlite:/tmp/x.db", "sqlite:/tmp/y.db", "",
                   "--to must be a PostgreSQL database");
    snprintf(db, sizeof db, "%s/none.db", dir);
    snprintf(from, sizeof from, "sqlite:%s", db);
    expect_refused(from, pg, "from", "no database file at");
    expect_refused("sqlite:/tmp", pg, "from", "not a regular file");
    snprintf(empty, sizeof empty, "%s/empty.db", dir);
    FILE *f = fopen(empty, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(from, sizeof from, "sqlite:%s", empty);
    expect_refused(from, pg, "from", "is empty, not a database scimitar serve ran on");

    /* accepted: the path inside from, the destination without its password */
    struct admin_migrate m = {.from = from, .to = "postgres://scimitar:hunter2@db/x"};
    f = fopen(empty, "w");
    fputs("x", f);
    fclose(f);
    assert_int_equal(admin_migrate_check(&m), SC_OK);
    assert_string_equal(m.path, empty);
    assert_null(strstr(m.to_shown, "hunter2"));
    assert_non_null(strstr(m.to_shown, "@db/x"));
    remove_dir(dir);
}

/* Runs a migration of from into an unreachable PostgreSQL with key_file; returns its
 * code, m filled. */
static enum sc_err run(struct admin_migrate *m, const char *from, const char *key_file,
                       struct notes *notes)
{
    *m = (struct admin_migrate){
        .from = from,
        .to = "postgresql://scimitar@127.0.0.1:1/none",
        .key_file = key_file,
        .note_fn = count_note,
        .arg = notes,
    };
    assert_int_equal(admin_migrate_check(m), SC_OK);
    return admin_migrate_run(m);
}

static void test_run_refusals(void **state)
{
    (void)state;
    unsetenv("SCIMITAR_KEY");
    char dir[64], from[PATH_MAX], key[PATH_MAX], other[PATH_MAX], none[PATH_MAX];
    temp_dir(dir, sizeof dir);
    snprintf(from, sizeof from, "sqlite:%s/s.db", dir);
    snprintf(key, sizeof key, "%s/s.db.key", dir);
    snprintf(other, sizeof other, "%s/other.key", dir);
    snprintf(none, sizeof none, "%s/none.key", dir);
    struct admin_migrate m;
    struct notes notes = {0};

    /* a database serve never ran on: no admin token */
    struct store *st = NULL;
    struct sc_error e = {0};
    assert_int_equal(store_open(from, &st, &e), SC_OK);
    store_close(st);
    assert_int_equal(run(&m, from, NULL, &notes), SC_ERR_INVALID);
    assert_string_equal(m.option, "from");
    assert_non_null(strstr(m.message, "holds no admin token: it is not a database scimitar "
                                      "serve ran on"));

    make_source(from, key);
    /* no key file where --key-file points */
    assert_int_equal(run(&m, from, none, &notes), SC_ERR_NOT_FOUND);
    assert_string_equal(m.option, "key-file");
    assert_non_null(strstr(m.message, "no key file at "));
    assert_non_null(strstr(m.message, "none.key"));

    /* another key: refused, naming it and the connection, never the secret */
    struct secrets_key *k = NULL;
    assert_int_equal(secrets_key_load(other, &k, &e), SC_OK);
    secrets_key_free(k);
    assert_int_equal(run(&m, from, other, &notes), SC_ERR_CRYPTO);
    assert_string_equal(m.option, "");
    assert_non_null(strstr(m.message, "other.key does not open the stored secrets of connection "
                                      "'c1'"));
    assert_null(strstr(m.message, "the-target-token"));

    /* the right key (beside the database): checked, then the destination is unreachable */
    enum sc_err rc = run(&m, from, NULL, &notes);
    assert_int_not_equal(rc, SC_OK);
    assert_string_equal(m.option, "to");
    assert_int_equal(m.secrets, 1);
    assert_int_equal(m.key_found, 1);
    assert_int_equal(m.key_env, 0);
    char what[PATH_MAX + 64];
    admin_migrate_key_describe(&m, what, sizeof what);
    assert_non_null(strstr(what, "the key file /"));
    assert_non_null(strstr(what, "s.db.key"));

    /* the key from the environment: described as such */
    setenv("SCIMITAR_KEY", "11111111111111111111111111111111111111111111111111111111111111aa", 1);
    assert_int_equal(run(&m, from, NULL, &notes), SC_ERR_CRYPTO);
    assert_int_equal(m.key_env, 1);
    assert_non_null(strstr(m.message, "SCIMITAR_KEY (the value set in this environment) does "
                                      "not open the stored secrets of connection 'c1'"));
    unsetenv("SCIMITAR_KEY");

    /* no key at all, and a secret is stored: none is made up */
    assert_int_equal(unlink(key), 0);
    assert_int_equal(run(&m, from, NULL, &notes), SC_ERR_CRYPTO);
    assert_non_null(strstr(m.message, "has stored secrets, and there is no key to open them"));
    struct stat sb;
    assert_int_not_equal(stat(key, &sb), 0);
    assert_int_equal(notes.n, 0); /* no step was taken on any of these */
    remove_dir(dir);
}

static void test_backup(void **state)
{
    (void)state;
    unsetenv("SCIMITAR_KEY");
    char dir[64], dsn[PATH_MAX], key[PATH_MAX], copy[PATH_MAX], back[PATH_MAX];
    temp_dir(dir, sizeof dir);
    snprintf(dsn, sizeof dsn, "sqlite:%s/s.db", dir);
    snprintf(key, sizeof key, "%s/s.db.key", dir);
    snprintf(copy, sizeof copy, "%s/copy.db", dir);
    snprintf(back, sizeof back, "sqlite:%s/back.db", dir);
    make_source(dsn, key);
    struct admin_backup b;
    struct sc_error e = {0};

    /* written, with the key beside the database named */
    assert_int_equal(admin_backup_write(dsn, copy, NULL, &b, &e), SC_OK);
    struct stat sb;
    assert_int_equal(stat(copy, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(b.size, (long long)sb.st_size);
    assert_int_equal(b.key_env, 0);
    char real[PATH_MAX];
    assert_non_null(realpath(key, real));
    assert_string_equal(b.key_path, real);
    /* a key file given as is when it is not there; SCIMITAR_KEY when set */
    assert_int_equal(admin_backup_write(dsn, copy, "elsewhere/k.key", &b, &e), SC_OK);
    assert_string_equal(b.key_path, "elsewhere/k.key");
    setenv("SCIMITAR_KEY", "x", 1);
    assert_int_equal(admin_backup_write(dsn, copy, NULL, &b, &e), SC_OK);
    assert_int_equal(b.key_env, 1);
    assert_string_equal(b.key_path, "");
    unsetenv("SCIMITAR_KEY");

    /* refusals: PostgreSQL, an in-memory database */
    assert_int_equal(admin_backup_write("postgresql://h/x", copy, NULL, &b, &e),
                     SC_ERR_UNSUPPORTED);
    assert_int_equal(admin_backup_write("sqlite::memory:", copy, NULL, &b, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "db");

    /* restored into a new file; not over it again without replace */
    assert_int_equal(admin_backup_restore(copy, back, 0, &e), SC_OK);
    struct store *st = NULL;
    assert_int_equal(store_open(back, &st, &e), SC_OK);
    int stored = 0;
    assert_int_equal(admin_token_stored(st, &stored), SC_OK);
    assert_int_equal(stored, 1);
    store_close(st);
    assert_int_equal(admin_backup_restore(copy, back, 0, &e), SC_ERR_CONFLICT);
    assert_string_equal(e.field, "db");
    assert_int_equal(admin_backup_restore(copy, back, 1, &e), SC_OK);
    assert_int_equal(admin_backup_restore(copy, "postgresql://h/x", 0, &e), SC_ERR_UNSUPPORTED);
    remove_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_run_refusals),
        cmocka_unit_test(test_backup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
