/* Unit tests for the store's directory tables and change events, on SQLite or on
 * PostgreSQL (storetest.h): migrations on a fresh database (reopen keeps data, versions
 * recorded once), every write with its event in the
 * same transaction (a rolled-back write leaves no event), keyset paging, members and
 * cycles, bulk insert with bad rows, the membership scan, events paging and pruning, a
 * user's origin (the inbound token that made it and its source connection). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/json.h"
#include "store/store.h"
#include "store/store_directory.h"
#include "store/store_events.h"
#include "store/store_inbound.h"
#include "storetest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *pop_json(const char *id, const char *name)
{
    return json_pack("{s:s, s:s, s:n, s:s, s:s}", "id", id, "name", name, "description",
                     "createdAt", "2026-01-01T00:00:00.000Z", "updatedAt",
                     "2026-01-01T00:00:00.000Z");
}

static json_t *user_json(const char *id, const char *username, const char *pop)
{
    return json_pack("{s:s, s:s, s:{s:s}, s:s, s:b, s:{s:s}, s:s, s:s}", "id", id, "username",
                     username, "name", "given", "Given", "email", "x@example.com", "enabled", 1,
                     "population", "id", pop, "createdAt", "2026-01-01T00:00:00.000Z", "updatedAt",
                     "2026-01-01T00:00:00.000Z");
}

static json_t *group_json(const char *id, const char *name)
{
    return json_pack("{s:s, s:s, s:n, s:n, s:s, s:s}", "id", id, "name", name, "description",
                     "userFilter", "createdAt", "2026-01-01T00:00:00.000Z", "updatedAt",
                     "2026-01-01T00:00:00.000Z");
}

static int64_t last_seq(struct store *st)
{
    int64_t seq = 0;
    assert_int_equal(store_events_last_seq(st, &seq), SC_OK);
    return seq;
}

static size_t events_since(struct store *st, int64_t seq, const char *kind)
{
    struct store_event *ev = NULL;
    size_t n = 0, count = 0;
    assert_int_equal(store_events_after(st, seq, 100000, &ev, &n), SC_OK);
    for (size_t i = 0; i < n; i++)
        count += !kind || strcmp(ev[i].kind, kind) == 0;
    store_events_free(ev, n);
    return count;
}

static void test_migrations_on_file(void **state)
{
    (void)state;
    char dsn[256];
    assert_int_equal(storetest_dsn_new(dsn, sizeof dsn), 0);
    struct store *st = NULL;
    struct sc_error e = {0};
    assert_int_equal(store_open(dsn, &st, &e), SC_OK);
    json_t *p = pop_json("p1", "Sales");
    assert_int_equal(store_population_insert(st, p), SC_OK);
    json_decref(p);
    store_close(st);
    /* reopening migrates nothing twice and keeps the data */
    assert_int_equal(store_open(dsn, &st, &e), SC_OK);
    json_t *got = NULL;
    assert_int_equal(store_population_find(st, "SALES", &got), SC_OK);
    assert_string_equal(json_string_value(json_object_get(got, "id")), "p1");
    json_decref(got);
    char *v = NULL;
    assert_int_equal(store_setting_set(st, "k", "v"), SC_OK);
    assert_int_equal(store_setting_get(st, "k", &v), SC_OK);
    assert_string_equal(v, "v");
    free(v);
    store_close(st);
    storetest_dsn_drop(dsn);
}

static void test_events_in_transaction(void **state)
{
    struct store *st = *state;
    json_t *p = pop_json("p1", "Sales");
    int64_t seq = last_seq(st);
    assert_int_equal(store_population_insert(st, p), SC_OK);
    assert_int_equal(events_since(st, seq, "population.updated"), 1);
    /* a write rolled back takes its event with it */
    seq = last_seq(st);
    assert_int_equal(store_begin(st), SC_OK);
    json_t *u = user_json("u1", "ada", "p1");
    assert_int_equal(store_user_insert(st, u), SC_OK);
    assert_int_equal(events_since(st, seq, "user.created"), 1);
    store_rollback(st);
    assert_int_equal(events_since(st, seq, NULL), 0);
    json_t *got = NULL;
    assert_int_equal(store_user_get(st, "u1", &got), SC_ERR_NOT_FOUND);
    /* a failed write appends nothing */
    assert_int_equal(store_user_insert(st, u), SC_OK);
    json_t *dup = user_json("u2", "ADA", "p1");
    seq = last_seq(st);
    assert_int_equal(store_user_insert(st, dup), SC_ERR_CONFLICT);
    json_t *orphan = user_json("u3", "orphan", "nope");
    assert_int_equal(store_user_insert(st, orphan), SC_ERR_INVALID);
    assert_int_equal(events_since(st, seq, NULL), 0);
    json_decref(dup);
    json_decref(orphan);

    assert_int_equal(store_user_get(st, "u1", &got), SC_OK);
    assert_string_equal(sc_json_get_string(got, "population.name"), "Sales");
    assert_string_equal(sc_json_get_string(got, "name.given"), "Given");
    assert_true(json_is_null(sc_json_get_path(got, "address.countryCode")));
    json_object_set_new(got, "title", json_string("Boss"));
    seq = last_seq(st);
    assert_int_equal(store_user_update(st, got), SC_OK);
    assert_int_equal(events_since(st, seq, "user.updated"), 1);
    json_decref(got);
    assert_int_equal(store_user_get(st, "u1", &got), SC_OK);
    assert_string_equal(json_string_value(json_object_get(got, "title")), "Boss");
    json_decref(got);
    assert_int_equal(store_population_delete(st, "p1"), SC_ERR_CONFLICT);
    seq = last_seq(st);
    assert_int_equal(store_user_delete(st, "u1", "{\"username\":\"ada\"}"), SC_OK);
    struct store_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(store_events_after(st, seq, 10, &ev, &n), SC_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].kind, "user.deleted");
    assert_string_equal(ev[0].object_id, "u1");
    assert_string_equal(ev[0].detail, "{\"username\":\"ada\"}");
    store_events_free(ev, n);
    assert_int_equal(store_user_delete(st, "u1", NULL), SC_ERR_NOT_FOUND);
    assert_int_equal(store_population_delete(st, "p1"), SC_OK);
    assert_int_equal(store_population_delete(st, "p1"), SC_ERR_NOT_FOUND);
    json_decref(u);
    json_decref(p);
}

struct digest_acc {
    int n;
    uint64_t digest[32];
};

/* Checks one row of store_user_digest_page: ids in order (id00, id01, ...), the digest
 * of store_user_get_digest, the population. */
static int digest_row(void *arg, const struct store_user_digest *u)
{
    struct digest_acc *acc = arg;
    char want[16];
    snprintf(want, sizeof want, "id%02d", acc->n++);
    assert_string_equal(u->id, want);
    assert_string_equal(u->population_id, "p1");
    assert_string_equal(u->population_name, "Sales");
    assert_true(u->enabled);
    assert_non_null(u->username);
    assert_true(strncasecmp(u->username, "user", 4) == 0);
    acc->digest[acc->n - 1] = u->digest;
    return 0;
}

static void test_paging(void **state)
{
    struct store *st = *state;
    json_t *p = pop_json("p1", "Sales");
    assert_int_equal(store_population_insert(st, p), SC_OK);
    json_decref(p);
    char id[16], name[16];
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof id, "id%02d", 29 - i);
        snprintf(name, sizeof name, "%s%02d", i % 2 ? "User" : "user", i);
        json_t *u = user_json(id, name, "p1");
        assert_int_equal(store_user_insert(st, u), SC_OK);
        json_decref(u);
    }
    /* by username, case-insensitively, with a keyset cursor */
    char after[32] = "";
    int seen = 0;
    for (;;) {
        struct store_user_query q = {.after_username = after[0] ? after : NULL, .limit = 8};
        json_t *items = NULL;
        assert_int_equal(store_user_list(st, &q, &items), SC_OK);
        size_t n = json_array_size(items);
        for (size_t i = 0; i < n; i++) {
            snprintf(name, sizeof name, "user%02d", seen++);
            const char *un =
                json_string_value(json_object_get(json_array_get(items, i), "username"));
            assert_true(strcasecmp(un, name) == 0);
        }
        if (n > 0) {
            snprintf(after, sizeof after, "%s",
                     json_string_value(json_object_get(json_array_get(items, n - 1), "username")));
            for (char *c = after; *c; c++)
                *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        }
        json_decref(items);
        if (n < 8)
            break;
    }
    assert_int_equal(seen, 30);
    /* by id */
    json_t *items = NULL;
    assert_int_equal(store_users_after_id(st, "id09", 5, &items), SC_OK);
    assert_int_equal(json_array_size(items), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), "id10");
    json_decref(items);
    /* digests by id in pages, with the population, as store_user_get_digest has them */
    struct digest_acc acc = {0};
    size_t got = 0;
    assert_int_equal(store_user_digest_page(st, NULL, 8, digest_row, &acc, &got), SC_OK);
    assert_int_equal(got, 8);
    assert_int_equal(store_user_digest_page(st, "id07", 25, digest_row, &acc, &got), SC_OK);
    assert_int_equal(got, 22);
    assert_int_equal(acc.n, 30);
    assert_int_equal(store_user_digest_page(st, "id29", 8, digest_row, &acc, &got), SC_OK);
    assert_int_equal(got, 0);
    json_t *one = NULL;
    uint64_t d = 0;
    assert_int_equal(store_user_get_digest(st, "id13", &one, &d, NULL), SC_OK);
    assert_true(d == acc.digest[13]);
    assert_true(acc.digest[13] != acc.digest[14]);
    /* the same on both back-ends and from one version to the next: links keep it as
     * their source stamp, so another value would have resyncs map every user again */
    assert_true(d == 0x8d5d841fc5ae27a2ULL);
    json_decref(one);
    /* search escapes LIKE wildcards */
    struct store_user_query q = {.q = "%", .limit = 100};
    assert_int_equal(store_user_list(st, &q, &items), SC_OK);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    struct store_user_query q2 = {.q = "SER2", .limit = 100, .population_id = "p1"};
    assert_int_equal(store_user_list(st, &q2, &items), SC_OK);
    assert_int_equal(json_array_size(items), 10);
    json_decref(items);
    long long n = 0;
    assert_int_equal(store_user_count(st, &n), SC_OK);
    assert_int_equal(n, 30);
    json_t *pop = NULL;
    assert_int_equal(store_population_get(st, "p1", &pop), SC_OK);
    assert_int_equal(json_integer_value(json_object_get(pop, "userCount")), 30);
    json_decref(pop);
}

static void test_bulk_insert(void **state)
{
    struct store *st = *state;
    json_t *p = pop_json("p1", "Sales");
    assert_int_equal(store_population_insert(st, p), SC_OK);
    json_decref(p);
    json_t *rows = json_array();
    char id[32], name[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof id, "b%04d", i);
        snprintf(name, sizeof name, "bulk%04d", i == 1500 ? 10 : i); /* 1500 repeats 10 */
        json_array_append_new(rows, user_json(id, name, i == 700 ? "gone" : "p1"));
    }
    enum sc_err *errs = calloc(2000, sizeof *errs);
    size_t stored = 0;
    int64_t seq = last_seq(st);
    assert_int_equal(store_users_insert_many(st, rows, errs, &stored), SC_OK);
    assert_int_equal(stored, 1998);
    assert_int_equal(errs[700], SC_ERR_INVALID);
    assert_int_equal(errs[1500], SC_ERR_CONFLICT);
    assert_int_equal(errs[0], SC_OK);
    assert_int_equal(events_since(st, seq, "user.created"), 1998);
    assert_false(store_in_transaction(st));
    free(errs);
    json_decref(rows);
}

static void test_groups_and_scan(void **state)
{
    struct store *st = *state;
    json_t *p = pop_json("p1", "Sales");
    assert_int_equal(store_population_insert(st, p), SC_OK);
    json_decref(p);
    json_t *u = user_json("u1", "ada", "p1");
    assert_int_equal(store_user_insert(st, u), SC_OK);
    json_decref(u);
    const char *ids[] = {"gA", "gB", "gC"}, *names[] = {"A", "B", "C"};
    for (int i = 0; i < 3; i++) {
        json_t *g = group_json(ids[i], names[i]);
        assert_int_equal(store_group_insert(st, g), SC_OK);
        json_decref(g);
    }
    json_t *g = group_json("gX", "a");
    assert_int_equal(store_group_insert(st, g), SC_ERR_CONFLICT);
    json_decref(g);
    int cycle = 0;
    assert_int_equal(store_group_member_add(st, "gA", NULL, "gB", &cycle), SC_OK);
    assert_int_equal(store_group_member_add(st, "gB", NULL, "gC", &cycle), SC_OK);
    assert_int_equal(store_group_member_add(st, "gC", NULL, "gA", &cycle), SC_ERR_CONFLICT);
    assert_int_equal(cycle, 1);
    assert_int_equal(store_group_member_add(st, "gC", NULL, "gC", &cycle), SC_ERR_CONFLICT);
    assert_int_equal(cycle, 1);
    assert_int_equal(store_group_member_add(st, "gC", "u1", NULL, &cycle), SC_OK);
    assert_int_equal(store_group_member_add(st, "gC", "u1", NULL, &cycle), SC_ERR_CONFLICT);
    assert_int_equal(cycle, 0);
    assert_int_equal(store_group_member_add(st, "gC", "nobody", NULL, &cycle), SC_ERR_NOT_FOUND);
    assert_int_equal(store_group_member_add(st, "nogroup", "u1", NULL, &cycle), SC_ERR_NOT_FOUND);

    json_t *m = NULL;
    assert_int_equal(store_group_tree_users(st, "gA", NULL, 10, &m), SC_OK);
    assert_int_equal(json_array_size(m), 1);
    json_decref(m);
    int dynamic = 1;
    assert_int_equal(store_group_tree_dynamic(st, "gA", &dynamic), SC_OK);
    assert_int_equal(dynamic, 0);
    assert_int_equal(store_user_direct_groups(st, "u1", &m), SC_OK);
    assert_int_equal(json_array_size(m), 1);
    json_decref(m);
    assert_int_equal(store_group_members(st, "gB", NULL, NULL, 10, &m), SC_OK);
    assert_int_equal(json_array_size(m), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "type")), "group");
    json_decref(m);

    /* a filter makes the tree dynamic; it round-trips as JSON */
    assert_int_equal(store_group_get(st, "gC", &g), SC_OK);
    json_object_set_new(g, "userFilter", json_pack("{s:s, s:[]}", "match", "ALL", "conditions"));
    assert_int_equal(store_group_update(st, g, NULL), SC_OK);
    json_decref(g);
    assert_int_equal(store_group_tree_dynamic(st, "gA", &dynamic), SC_OK);
    assert_int_equal(dynamic, 1);
    assert_int_equal(store_group_find(st, "c", &g), SC_OK);
    assert_string_equal(
        json_string_value(json_object_get(sc_json_get_path(g, "userFilter"), "match")), "ALL");
    json_decref(g);

    int64_t seq = last_seq(st);
    assert_int_equal(store_group_member_remove(st, "gC", "u1"), SC_OK);
    assert_int_equal(store_group_member_remove(st, "gC", "u1"), SC_ERR_NOT_FOUND);
    assert_int_equal(events_since(st, seq, "group.members"), 1);
    seq = last_seq(st);
    assert_int_equal(store_group_delete(st, "gB", NULL), SC_OK);
    assert_int_equal(events_since(st, seq, "group.members"), 1); /* its parent gA */
    assert_int_equal(events_since(st, seq, "group.deleted"), 1);
    assert_int_equal(store_group_members(st, "gA", NULL, NULL, 10, &m), SC_OK);
    assert_int_equal(json_array_size(m), 0);
    json_decref(m);
    json_t *items = NULL;
    assert_int_equal(store_group_list(st, "a", 10, &items), SC_OK);
    assert_int_equal(json_array_size(items), 1); /* C */
    json_decref(items);
}

struct scan_count {
    int groups, nesting, members;
};

static int count_group(void *arg, const char *id, const char *name, const char *filter)
{
    (void)id;
    (void)name;
    (void)filter;
    ((struct scan_count *)arg)->groups++;
    return 0;
}

static int count_nesting(void *arg, const char *a, const char *b)
{
    (void)a;
    (void)b;
    ((struct scan_count *)arg)->nesting++;
    return 0;
}

static int count_member(void *arg, const char *a, const char *b)
{
    (void)a;
    (void)b;
    ((struct scan_count *)arg)->members++;
    return 0;
}

static int stop(void *arg, const char *a, const char *b)
{
    (void)arg;
    (void)a;
    (void)b;
    return 1;
}

static void test_scan(void **state)
{
    struct store *st = *state;
    json_t *p = pop_json("p1", "Sales");
    assert_int_equal(store_population_insert(st, p), SC_OK);
    json_decref(p);
    json_t *u = user_json("u1", "ada", "p1");
    assert_int_equal(store_user_insert(st, u), SC_OK);
    json_decref(u);
    for (int i = 0; i < 3; i++) {
        char id[8], name[8];
        snprintf(id, sizeof id, "g%d", i);
        snprintf(name, sizeof name, "G%d", i);
        json_t *g = group_json(id, name);
        assert_int_equal(store_group_insert(st, g), SC_OK);
        json_decref(g);
    }
    assert_int_equal(store_group_member_add(st, "g0", NULL, "g1", NULL), SC_OK);
    assert_int_equal(store_group_member_add(st, "g1", "u1", NULL, NULL), SC_OK);
    assert_int_equal(store_group_member_add(st, "g2", "u1", NULL, NULL), SC_OK);
    struct scan_count c = {0};
    struct store_directory_scan_fns fns = {count_group, count_nesting, count_member};
    assert_int_equal(store_directory_scan(st, &fns, &c), SC_OK);
    assert_int_equal(c.groups, 3);
    assert_int_equal(c.nesting, 1);
    assert_int_equal(c.members, 2);
    struct store_directory_scan_fns halt = {NULL, NULL, stop};
    assert_int_equal(store_directory_scan(st, &halt, &c), SC_ERR_NOMEM);
    assert_false(store_in_transaction(st));
}

static void test_events_paging(void **state)
{
    struct store *st = *state;
    int64_t base = last_seq(st);
    for (int i = 0; i < 10; i++)
        assert_int_equal(store_event_append(st, "user.updated", "x", NULL), SC_OK);
    struct store_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(store_events_after(st, base, 4, &ev, &n), SC_OK);
    assert_int_equal(n, 4);
    int64_t mid = ev[3].seq;
    assert_true(ev[0].seq < ev[1].seq);
    store_events_free(ev, n);
    assert_int_equal(store_events_prune(st, mid), SC_OK);
    assert_int_equal(store_events_after(st, 0, 100, &ev, &n), SC_OK);
    assert_int_equal(n, 6);
    assert_true(ev[0].seq > mid);
    store_events_free(ev, n);
    assert_int_equal(store_events_after(st, 0, 0, &ev, &n), SC_OK);
    assert_int_equal(n, 0);
}

/* store_user_get_digest's origin: the token that created the user, with its source
 * connection kept with the user (after the token is revoked too); "" for the others; the
 * digest does not depend on it. */
static void test_user_origin(void **state)
{
    struct store *st = *state;
    json_t *p = pop_json("p1", "Sales");
    assert_int_equal(store_population_insert(st, p), SC_OK);
    json_decref(p);
    const char *ids[] = {"u1", "u2", "u3"};
    for (int i = 0; i < 3; i++) {
        json_t *u = user_json(ids[i], ids[i], "p1");
        assert_int_equal(store_user_insert(st, u), SC_OK);
        json_decref(u);
    }
    struct store_inbound_token t = {.created_at = 1};
    snprintf(t.id, sizeof t.id, "tok1");
    snprintf(t.name, sizeof t.name, "entra");
    snprintf(t.prefix, sizeof t.prefix, "scmi_AbC");
    snprintf(t.hash, sizeof t.hash, "%064d", 1);
    snprintf(t.population_id, sizeof t.population_id, "p1");
    snprintf(t.scope, sizeof t.scope, "write");
    snprintf(t.source_connection, sizeof t.source_connection, "conn-entra");
    assert_int_equal(store_inbound_token_insert(st, &t), SC_OK);
    json_t *one = NULL;
    uint64_t before = 0, after = 0;
    struct store_user_origin o;
    memset(&o, 'x', sizeof o);
    assert_int_equal(store_user_get_digest(st, "u1", &one, &before, &o), SC_OK);
    json_decref(one);
    assert_string_equal(o.token, "");
    assert_string_equal(o.connection, "");
    assert_int_equal(store_inbound_extra_put(st, STORE_INBOUND_USER, "u1", "entra", NULL), SC_OK);
    assert_int_equal(store_inbound_extra_put(st, STORE_INBOUND_USER, "u2", "gone", NULL), SC_OK);
    assert_int_equal(store_inbound_mark_imported(st, "u3"), SC_OK);
    assert_int_equal(store_user_get_digest(st, "u1", &one, &after, &o), SC_OK);
    json_decref(one);
    assert_true(before == after);
    assert_string_equal(o.token, "entra");
    assert_string_equal(o.connection, "conn-entra");
    /* a token name no token has (no source connection to keep), an import */
    assert_int_equal(store_user_get_digest(st, "u2", &one, &after, &o), SC_OK);
    json_decref(one);
    assert_string_equal(o.token, "gone");
    assert_string_equal(o.connection, "");
    assert_int_equal(store_user_get_digest(st, "u3", &one, &after, &o), SC_OK);
    json_decref(one);
    assert_string_equal(o.token, "");
    /* a token without a source connection */
    assert_int_equal(store_inbound_token_set_source(st, "tok1", NULL), SC_OK);
    assert_int_equal(store_user_get_digest(st, "u1", &one, &after, &o), SC_OK);
    json_decref(one);
    assert_string_equal(o.token, "entra");
    assert_string_equal(o.connection, "");
    /* set again, then the token revoked: its users keep it */
    assert_int_equal(store_inbound_token_set_source(st, "tok1", "conn-2"), SC_OK);
    assert_int_equal(store_inbound_token_delete(st, "tok1"), SC_OK);
    assert_int_equal(store_user_get_digest(st, "u1", &one, &after, &o), SC_OK);
    json_decref(one);
    assert_string_equal(o.token, "entra");
    assert_string_equal(o.connection, "conn-2");
    assert_int_equal(store_user_get_digest(st, "nobody", &one, &after, &o), SC_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrations_on_file),
        cmocka_unit_test_setup_teardown(test_events_in_transaction, storetest_setup,
                                        storetest_teardown),
        cmocka_unit_test_setup_teardown(test_paging, storetest_setup, storetest_teardown),
        cmocka_unit_test_setup_teardown(test_bulk_insert, storetest_setup, storetest_teardown),
        cmocka_unit_test_setup_teardown(test_groups_and_scan, storetest_setup, storetest_teardown),
        cmocka_unit_test_setup_teardown(test_scan, storetest_setup, storetest_teardown),
        cmocka_unit_test_setup_teardown(test_events_paging, storetest_setup, storetest_teardown),
        cmocka_unit_test_setup_teardown(test_user_origin, storetest_setup, storetest_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
