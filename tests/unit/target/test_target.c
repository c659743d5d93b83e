/* Unit tests for src/target internals: the --faults parser and picker, and the
 * repository's indexes (case-insensitive names, case-exact externalId, creation order,
 * replace and remove), in memory and written through to SQLite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/id.h"
#include "store/store.h"
#include "target/target_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_faults_parse_ok(void **state)
{
    (void)state;
    struct target_faults f;
    struct sc_error e = {0};
    assert_int_equal(target_faults_parse(NULL, &f, &e), SC_OK);
    assert_false(f.enabled);
    assert_int_equal(target_faults_parse("429=0.1,500=0.05,timeout=0.01,latency=5ms", &f, &e),
                     SC_OK);
    assert_true(f.enabled);
    assert_int_equal(f.nstatuses, 2);
    assert_int_equal(f.statuses[0].status, 429);
    assert_true(f.statuses[1].p > 0.049 && f.statuses[1].p < 0.051);
    assert_true(f.timeout_p > 0.009 && f.timeout_p < 0.011);
    assert_int_equal(f.latency_ms, 5);
    assert_int_equal(f.hang_ms, 60000);
    assert_int_equal(f.retry_after_s, 1);
    assert_int_equal(target_faults_parse("latency=2s,hang=250,retry-after=9", &f, &e), SC_OK);
    assert_int_equal(f.latency_ms, 2000);
    assert_int_equal(f.hang_ms, 250);
    assert_int_equal(f.retry_after_s, 9);
    assert_true(f.enabled);
}

static void test_faults_parse_errors(void **state)
{
    (void)state;
    const char *bad[] = {"429=1.5",
                         "429=-0.1",
                         "429=abc",
                         "foo=0.1",
                         "429",
                         "=0.1",
                         "429=",
                         "99=0.1",
                         "600=0.1",
                         "429=0.6,500=0.6",
                         "429=0.1,",
                         ",429=0.1",
                         "latency=5m",
                         "latency=fast",
                         "hang=0",
                         "timeout=2",
                         "429=0.1,429=0.2",
                         "retry-after=x",
                         "latency=1ms,latency=2ms"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct target_faults f;
        struct sc_error e = {0};
        if (target_faults_parse(bad[i], &f, &e) != SC_ERR_INVALID)
            fail_msg("spec '%s' was accepted", bad[i]);
        assert_string_equal(e.field, "faults");
        assert_non_null(strstr(e.message, "--faults"));
    }
}

static void test_faults_pick(void **state)
{
    (void)state;
    struct target_faults f;
    struct sc_error e = {0};
    assert_int_equal(target_faults_parse("429=1", &f, &e), SC_OK);
    for (int i = 0; i < 100; i++)
        assert_int_equal(target_faults_pick(&f), 429);
    assert_int_equal(target_faults_parse("timeout=1", &f, &e), SC_OK);
    assert_int_equal(target_faults_pick(&f), -1);
    assert_int_equal(target_faults_parse("latency=1ms", &f, &e), SC_OK);
    assert_int_equal(target_faults_pick(&f), 0);
    assert_int_equal(target_faults_parse("500=0.5", &f, &e), SC_OK);
    int seen0 = 0, seen500 = 0;
    for (int i = 0; i < 1000; i++) {
        int r = target_faults_pick(&f);
        seen0 += r == 0;
        seen500 += r == 500;
    }
    assert_int_equal(seen0 + seen500, 1000);
    assert_true(seen0 > 0 && seen500 > 0);
}

static json_t *user(const char *name, const char *ext)
{
    json_t *u = json_pack("{s:s}", "userName", name);
    if (ext)
        json_object_set_new(u, "externalId", json_string(ext));
    return u;
}

static int count_cb(void *arg, struct target_res *res)
{
    (void)res;
    (*(int *)arg)++;
    return 0;
}

static void exercise_repo(struct target_repo *r)
{
    struct target_res *a = NULL, *b = NULL, *c = NULL;
    char ida[SC_UUID_LEN + 1], idb[SC_UUID_LEN + 1], idc[SC_UUID_LEN + 1];
    sc_uuid_v4(ida);
    sc_uuid_v4(idb);
    sc_uuid_v4(idc);
    assert_int_equal(target_repo_insert(r, TARGET_USER, ida, user("Ada.L", "E1"), &a), SC_OK);
    assert_int_equal(target_repo_insert(r, TARGET_USER, idb, user("bob", "E1"), &b), SC_OK);
    json_t *g = json_pack("{s:s}", "displayName", "Ada.L");
    assert_int_equal(target_repo_insert(r, TARGET_GROUP, idc, g, &c), SC_OK);

    assert_ptr_equal(target_repo_get(r, TARGET_USER, ida), a);
    assert_null(target_repo_get(r, TARGET_GROUP, ida));
    assert_ptr_equal(target_repo_get(r, TARGET_GROUP, idc), c);
    assert_ptr_equal(target_repo_by_name(r, TARGET_USER, "ADA.l"), a);
    assert_ptr_equal(target_repo_by_name(r, TARGET_GROUP, "ada.L"), c);
    assert_null(target_repo_by_name(r, TARGET_USER, "nobody"));
    int n = 0;
    target_repo_each_ext(r, TARGET_USER, "E1", count_cb, &n);
    assert_int_equal(n, 2);
    n = 0;
    target_repo_each_ext(r, TARGET_USER, "e1", count_cb, &n);
    assert_int_equal(n, 0);
    assert_int_equal(target_repo_count(r, TARGET_USER), 2);
    assert_ptr_equal(target_repo_at(r, TARGET_USER, 0), a);
    assert_ptr_equal(target_repo_at(r, TARGET_USER, 1), b);

    /* rename: the old name is free, the new one found; the version moves on */
    assert_int_equal(target_repo_replace(r, a, user("Ada.King", NULL)), SC_OK);
    assert_int_equal(a->version, 2);
    assert_null(target_repo_by_name(r, TARGET_USER, "ada.l"));
    assert_ptr_equal(target_repo_by_name(r, TARGET_USER, "ada.king"), a);
    n = 0;
    target_repo_each_ext(r, TARGET_USER, "E1", count_cb, &n);
    assert_int_equal(n, 1);

    assert_int_equal(target_repo_remove(r, a), SC_OK);
    assert_null(target_repo_get(r, TARGET_USER, ida));
    assert_null(target_repo_by_name(r, TARGET_USER, "ada.king"));
    assert_int_equal(target_repo_count(r, TARGET_USER), 1);
    assert_ptr_equal(target_repo_at(r, TARGET_USER, 0), b);
}

static void test_repo_memory(void **state)
{
    (void)state;
    struct target_repo r;
    assert_int_equal(target_repo_init(&r, NULL), SC_OK);
    exercise_repo(&r);
    /* many entries: the tables grow */
    for (int i = 0; i < 5000; i++) {
        char id[SC_UUID_LEN + 1], name[32];
        sc_uuid_v4(id);
        snprintf(name, sizeof name, "User-%d", i);
        struct target_res *res = NULL;
        assert_int_equal(target_repo_insert(&r, TARGET_USER, id, user(name, NULL), &res), SC_OK);
    }
    assert_non_null(target_repo_by_name(&r, TARGET_USER, "user-4321"));
    assert_int_equal(target_repo_count(&r, TARGET_USER), 5001);
    target_repo_free(&r);
}

static void test_repo_memberships(void **state)
{
    (void)state;
    struct target_repo r;
    assert_int_equal(target_repo_init(&r, NULL), SC_OK);
    char idu[SC_UUID_LEN + 1], idg[SC_UUID_LEN + 1];
    sc_uuid_v4(idu);
    sc_uuid_v4(idg);
    struct target_res *u = NULL, *g = NULL;
    assert_int_equal(target_repo_insert(&r, TARGET_USER, idu, user("member", NULL), &u), SC_OK);
    json_t *gd = json_pack("{s:s, s:[{s:s}, {s:s}]}", "displayName", "G", "members", "value", idu,
                           "value", "not-a-user");
    assert_int_equal(target_repo_insert(&r, TARGET_GROUP, idg, gd, &g), SC_OK);
    assert_int_equal(u->ngroups, 1);
    assert_ptr_equal(u->groups[0], g);
    /* a change that keeps the member keeps one link */
    gd = json_pack("{s:s, s:[{s:s}]}", "displayName", "G2", "members", "value", idu);
    assert_int_equal(target_repo_replace(&r, g, gd), SC_OK);
    assert_int_equal(u->ngroups, 1);
    gd = json_pack("{s:s}", "displayName", "G3");
    assert_int_equal(target_repo_replace(&r, g, gd), SC_OK);
    assert_int_equal(u->ngroups, 0);
    gd = json_pack("{s:s, s:[{s:s}]}", "displayName", "G4", "members", "value", idu);
    assert_int_equal(target_repo_replace(&r, g, gd), SC_OK);
    assert_int_equal(u->ngroups, 1);
    assert_int_equal(target_repo_remove(&r, g), SC_OK);
    assert_int_equal(u->ngroups, 0);
    target_repo_free(&r);
}

static void test_repo_sqlite(void **state)
{
    (void)state;
    char path[] = "/tmp/scimitar-target-unit-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char dsn[64];
    snprintf(dsn, sizeof dsn, "sqlite:%s", path);
    struct store *st = NULL;
    struct sc_error e = {0};
    assert_int_equal(store_open(dsn, &st, &e), SC_OK);
    struct target_repo r;
    assert_int_equal(target_repo_init(&r, st), SC_OK);
    exercise_repo(&r);
    target_repo_free(&r);
    store_close(st);

    /* reopen: what was left (bob and the group) comes back, in order, with versions */
    assert_int_equal(store_open(dsn, &st, &e), SC_OK);
    assert_int_equal(target_repo_init(&r, st), SC_OK);
    assert_int_equal(target_repo_load(&r, &e), SC_OK);
    assert_int_equal(target_repo_count(&r, TARGET_USER), 1);
    assert_int_equal(target_repo_count(&r, TARGET_GROUP), 1);
    assert_non_null(target_repo_by_name(&r, TARGET_USER, "BOB"));
    assert_non_null(target_repo_by_name(&r, TARGET_GROUP, "ada.l"));
    target_repo_free(&r);
    store_close(st);
    unlink(path);
    char side[80];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

int main(void)
{
    sc_crypto_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults_parse_ok),  cmocka_unit_test(test_faults_parse_errors),
        cmocka_unit_test(test_faults_pick),      cmocka_unit_test(test_repo_memory),
        cmocka_unit_test(test_repo_memberships), cmocka_unit_test(test_repo_sqlite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
