/* Unit tests for the directory: user validation, users/populations/groups on a
 * private in-memory store (change events, paging, filters, import), and membership
 * resolution (direct, nested, dynamic, cycles refused, the snapshot). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "directory/directory.h"
#include "directory/userfilter.h"
#include "base/json.h"
#include "store/store_directory.h"
#include "store/store_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    struct store *st = NULL;
    struct sc_error e = {0};
    if (store_open("sqlite::memory:", &st, &e))
        return -1;
    *state = st;
    return 0;
}

static int teardown(void **state)
{
    store_close(*state);
    return 0;
}

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v)
        fail_msg("bad test JSON: %s: %s", text, je.text);
    return v;
}

/* Asserts directory_user_check(text) fails with code and field. */
static void bad_user(const char *text, int partial, enum sc_err code, const char *field)
{
    json_t *in = parse(text);
    struct sc_error e = {0};
    enum sc_err rc = directory_user_check(in, partial, &e);
    json_decref(in);
    if (rc != code || strcmp(e.field, field) != 0)
        fail_msg("%s: got %d '%s' (%s), want %d '%s'", text, rc, e.field, e.message, code, field);
}

static void test_user_check(void **state)
{
    (void)state;
    struct sc_error e = {0};
    json_t *ok = parse("{\"username\":\"ada\",\"name\":{\"given\":\"Ada\"},\"email\":\"a@b.co\","
                       "\"address\":{\"countryCode\":\"gb\"},\"enabled\":false,"
                       "\"population\":{\"name\":\"Sales\"}}");
    assert_int_equal(directory_user_check(ok, 0, &e), SC_OK);
    json_decref(ok);
    bad_user("{\"population\":{\"name\":\"S\"}}", 0, SC_ERR_INVALID, "username");
    bad_user("{\"username\":\"a\"}", 0, SC_ERR_INVALID, "population");
    bad_user("{\"username\":\"\",\"population\":{\"name\":\"S\"}}", 0, SC_ERR_INVALID, "username");
    bad_user("{\"username\":\"a b\",\"population\":{\"name\":\"S\"}}", 0, SC_ERR_INVALID,
             "username");
    bad_user("{\"username\":7,\"population\":{\"name\":\"S\"}}", 0, SC_ERR_INVALID, "username");
    bad_user("{\"username\":\"a\",\"shoe\":1,\"population\":{\"name\":\"S\"}}", 0, SC_ERR_INVALID,
             "shoe");
    bad_user("{\"username\":\"a\",\"name\":{\"middle\":\"x\"},\"population\":{\"name\":\"S\"}}", 0,
             SC_ERR_INVALID, "name.middle");
    bad_user("{\"username\":\"a\",\"email\":\"nope\",\"population\":{\"name\":\"S\"}}", 0,
             SC_ERR_INVALID, "email");
    bad_user("{\"username\":\"a\",\"address\":{\"countryCode\":\"XX\"},\"population\":{\"name\":"
             "\"S\"}}",
             0, SC_ERR_INVALID, "address.countryCode");
    bad_user("{\"username\":\"a\",\"enabled\":\"yes\",\"population\":{\"name\":\"S\"}}", 0,
             SC_ERR_INVALID, "enabled");
    bad_user("{\"username\":\"a\",\"population\":{}}", 0, SC_ERR_INVALID, "population");
    bad_user("{\"username\":\"a\",\"population\":{\"code\":\"x\"}}", 0, SC_ERR_INVALID,
             "population.code");
    bad_user("{\"username\":\"a\",\"population\":\"Sales\"}", 0, SC_ERR_INVALID, "population");
    bad_user("{\"id\":\"x\",\"username\":\"a\",\"population\":{\"name\":\"S\"}}", 0, SC_ERR_INVALID,
             "id");
    bad_user("{\"username\":null}", 1, SC_ERR_INVALID, "username");
    bad_user("{\"enabled\":null}", 1, SC_ERR_INVALID, "enabled");
    json_t *patch = parse("{\"title\":null,\"name\":null,\"address\":{\"region\":null}}");
    assert_int_equal(directory_user_check(patch, 1, &e), SC_OK);
    json_decref(patch);

    char big[DIRECTORY_MAX_FIELD + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_t *in =
        json_pack("{s:s, s:s, s:{s:s}}", "username", "a", "title", big, "population", "name", "S");
    assert_int_equal(directory_user_check(in, 0, &e), SC_ERR_TOO_LARGE);
    assert_string_equal(e.field, "title");
    json_decref(in);

    assert_true(directory_country_valid("US"));
    assert_true(directory_country_valid("de"));
    assert_true(directory_country_valid("ZW"));
    assert_false(directory_country_valid("UK"));
    assert_false(directory_country_valid("USA"));
    assert_false(directory_country_valid(""));
    assert_true(directory_email_valid("ada.lovelace+x@mail.example.com"));
    assert_false(directory_email_valid("ada@"));
    assert_false(directory_email_valid("@example.com"));
    assert_false(directory_email_valid("ada@example"));
    assert_false(directory_email_valid("a b@example.com"));
    assert_false(directory_email_valid("a@b@example.com"));
}

/* Creates a population, returning its id (new). */
static char *population(struct store *st, const char *name)
{
    json_t *in = json_pack("{s:s}", "name", name), *out = NULL;
    struct sc_error e = {0};
    assert_int_equal(directory_population_create(st, in, &out, &e), SC_OK);
    char *id = strdup(json_string_value(json_object_get(out, "id")));
    json_decref(in);
    json_decref(out);
    return id;
}

/* Creates a user in population pop (by name), returning its id (new). */
static char *mkuser(struct store *st, const char *username, const char *pop, const char *title)
{
    json_t *in = json_pack("{s:s, s:{s:s}}", "username", username, "population", "name", pop);
    if (title)
        json_object_set_new(in, "title", json_string(title));
    json_t *out = NULL;
    struct sc_error e = {0};
    if (directory_user_create(st, in, &out, &e))
        fail_msg("create %s: %s", username, e.message);
    char *id = strdup(json_string_value(json_object_get(out, "id")));
    json_decref(in);
    json_decref(out);
    return id;
}

static int64_t last_seq(struct store *st)
{
    int64_t seq = 0;
    assert_int_equal(store_events_last_seq(st, &seq), SC_OK);
    return seq;
}

/* Asserts that the events after seq are exactly the kinds given, for object id. */
static void events_are(struct store *st, int64_t after, const char *kind, const char *id)
{
    struct store_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(store_events_after(st, after, 100, &ev, &n), SC_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].kind, kind);
    if (id)
        assert_string_equal(ev[0].object_id, id);
    store_events_free(ev, n);
}

static void test_user_crud(void **state)
{
    struct store *st = *state;
    struct sc_error e = {0};
    char *pid = population(st, "Sales");
    int64_t seq = last_seq(st);
    json_t *in = parse("{\"username\":\"Ada\",\"name\":{\"given\":\"Ada\",\"family\":\"L\"},"
                       "\"email\":\"ada@example.com\",\"address\":{\"countryCode\":\"gb\"},"
                       "\"population\":{\"name\":\"sales\"}}");
    json_t *u = NULL;
    assert_int_equal(directory_user_create(st, in, &u, &e), SC_OK);
    json_decref(in);
    const char *id = json_string_value(json_object_get(u, "id"));
    events_are(st, seq, "user.created", id);
    assert_true(json_is_true(json_object_get(u, "enabled")));
    assert_string_equal(sc_json_get_string(u, "address.countryCode"), "GB");
    assert_string_equal(sc_json_get_string(u, "population.name"), "Sales");
    assert_string_equal(sc_json_get_string(u, "population.id"), pid);
    assert_non_null(json_object_get(u, "createdAt"));
    assert_true(json_is_null(json_object_get(u, "title")));

    /* duplicate username, case-insensitively */
    in = parse("{\"username\":\"ADA\",\"population\":{\"id\":\"x\"}}");
    json_object_set_new(json_object_get(in, "population"), "id", json_string(pid));
    json_t *dup = NULL;
    assert_int_equal(directory_user_create(st, in, &dup, &e), SC_ERR_CONFLICT);
    assert_string_equal(e.field, "username");
    json_decref(in);
    /* unknown population */
    in = parse("{\"username\":\"bob\",\"population\":{\"name\":\"Nowhere\"}}");
    assert_int_equal(directory_user_create(st, in, &dup, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "population.name");
    json_decref(in);

    /* PATCH merges; null clears */
    seq = last_seq(st);
    json_t *patch = parse("{\"title\":\"Engineer\",\"name\":{\"family\":null},\"enabled\":false}");
    json_t *u2 = NULL;
    assert_int_equal(directory_user_update(st, id, patch, &u2, &e), SC_OK);
    json_decref(patch);
    events_are(st, seq, "user.updated", id);
    assert_string_equal(json_string_value(json_object_get(u2, "title")), "Engineer");
    assert_string_equal(sc_json_get_string(u2, "name.given"), "Ada");
    assert_true(json_is_null(sc_json_get_path(u2, "name.family")));
    assert_true(json_is_false(json_object_get(u2, "enabled")));
    json_decref(u2);

    /* a population with users cannot go */
    assert_int_equal(directory_population_delete(st, pid, &e), SC_ERR_CONFLICT);

    seq = last_seq(st);
    assert_int_equal(directory_user_delete(st, id, &e), SC_OK);
    events_are(st, seq, "user.deleted", id);
    assert_int_equal(directory_user_get(st, id, &u2, &e), SC_ERR_NOT_FOUND);
    assert_int_equal(directory_user_delete(st, id, &e), SC_ERR_NOT_FOUND);
    patch = parse("{\"title\":\"x\"}");
    assert_int_equal(directory_user_update(st, id, patch, &u2, &e), SC_ERR_NOT_FOUND);
    json_decref(patch);
    json_decref(u);

    seq = last_seq(st);
    assert_int_equal(directory_population_delete(st, pid, &e), SC_OK);
    events_are(st, seq, "population.deleted", pid);
    assert_int_equal(directory_population_delete(st, pid, &e), SC_ERR_NOT_FOUND);
    free(pid);
}

static void test_populations(void **state)
{
    struct store *st = *state;
    struct sc_error e = {0};
    char *a = population(st, "Alpha");
    free(population(st, "Beta"));
    json_t *in = parse("{\"name\":\"alpha\"}"), *out = NULL;
    assert_int_equal(directory_population_create(st, in, &out, &e), SC_ERR_CONFLICT);
    assert_string_equal(e.field, "name");
    json_decref(in);
    in = parse("{\"name\":\"X\",\"userCount\":3}");
    assert_int_equal(directory_population_create(st, in, &out, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "userCount");
    json_decref(in);
    in = parse("{\"description\":\"d\"}");
    assert_int_equal(directory_population_create(st, in, &out, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "name");
    json_decref(in);
    in = parse("{\"description\":\"first\"}");
    assert_int_equal(directory_population_update(st, a, in, &out, &e), SC_OK);
    assert_string_equal(json_string_value(json_object_get(out, "description")), "first");
    assert_string_equal(json_string_value(json_object_get(out, "name")), "Alpha");
    assert_int_equal(json_integer_value(json_object_get(out, "userCount")), 0);
    json_decref(out);
    json_decref(in);
    in = parse("{\"name\":\"BETA\"}");
    assert_int_equal(directory_population_update(st, a, in, &out, &e), SC_ERR_CONFLICT);
    json_decref(in);

    json_t *items = NULL;
    char *next = NULL;
    assert_int_equal(directory_population_list(st, NULL, 1, &items, &next, &e), SC_OK);
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "name")),
                        "Alpha");
    assert_non_null(next);
    json_decref(items);
    char *next2 = NULL;
    assert_int_equal(directory_population_list(st, next, 1, &items, &next2, &e), SC_OK);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "name")),
                        "Beta");
    assert_null(next2);
    json_decref(items);
    free(next);
    assert_int_equal(directory_population_list(st, "zz!", 1, &items, &next, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "cursor");
    free(a);
}

static void test_user_list(void **state)
{
    struct store *st = *state;
    struct sc_error e = {0};
    free(population(st, "Sales"));
    char *pe = population(st, "Eng");
    char name[32];
    for (int i = 0; i < 25; i++) {
        snprintf(name, sizeof name, "user%02d", i);
        free(mkuser(st, name, i % 5 == 0 ? "Eng" : "Sales", i % 2 ? "Engineer" : "Clerk"));
    }
    /* pages of 10 walk every user once, in order */
    char *cursor = NULL;
    int seen = 0, pages = 0;
    do {
        struct directory_user_query q = {.limit = 10, .cursor = cursor};
        json_t *items = NULL;
        char *next = NULL;
        assert_int_equal(directory_user_list(st, &q, &items, &next, &e), SC_OK);
        for (size_t i = 0; i < json_array_size(items); i++) {
            snprintf(name, sizeof name, "user%02d", seen++);
            assert_string_equal(
                json_string_value(json_object_get(json_array_get(items, i), "username")), name);
        }
        json_decref(items);
        free(cursor);
        cursor = next;
        pages++;
    } while (cursor);
    assert_int_equal(seen, 25);
    assert_int_equal(pages, 3);

    struct directory_user_query q = {.population_id = pe};
    json_t *items = NULL;
    char *next = NULL;
    assert_int_equal(directory_user_list(st, &q, &items, &next, &e), SC_OK);
    assert_int_equal(json_array_size(items), 5);
    json_decref(items);
    q.population_id = "Eng"; /* a name works too */
    assert_int_equal(directory_user_list(st, &q, &items, &next, &e), SC_OK);
    assert_int_equal(json_array_size(items), 5);
    json_decref(items);
    q.population_id = "Nowhere";
    assert_int_equal(directory_user_list(st, &q, &items, &next, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "population");

    struct directory_user_query q2 = {.q = "ER1"};
    assert_int_equal(directory_user_list(st, &q2, &items, &next, &e), SC_OK);
    assert_int_equal(json_array_size(items), 10); /* user10..user19 */
    json_decref(items);

    /* SCIM-style filter, paged across filtered rows */
    struct directory_user_query q3 = {.filter = "title eq \"engineer\" and population.name eq "
                                                "\"Sales\"",
                                      .limit = 4};
    int total = 0;
    cursor = NULL;
    do {
        q3.cursor = cursor;
        assert_int_equal(directory_user_list(st, &q3, &items, &next, &e), SC_OK);
        for (size_t i = 0; i < json_array_size(items); i++) {
            json_t *u = json_array_get(items, i);
            assert_string_equal(json_string_value(json_object_get(u, "title")), "Engineer");
            assert_string_equal(sc_json_get_string(u, "population.name"), "Sales");
        }
        total += (int)json_array_size(items);
        json_decref(items);
        free(cursor);
        cursor = next;
    } while (cursor);
    assert_int_equal(total, 10); /* odd i (12), minus 5 and 15 (Eng) */
    struct directory_user_query q5 = {.filter = "userName eq \"USER03\""};
    assert_int_equal(directory_user_list(st, &q5, &items, &next, &e), SC_OK);
    assert_int_equal(json_array_size(items), 1);
    assert_null(next);
    json_decref(items);
    q5.filter = "population.name eq \"eng\"";
    assert_int_equal(directory_user_list(st, &q5, &items, &next, &e), SC_OK);
    assert_int_equal(json_array_size(items), 5);
    json_decref(items);
    q5.filter = "population.name eq \"Nowhere\"";
    assert_int_equal(directory_user_list(st, &q5, &items, &next, &e), SC_OK);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    struct directory_user_query q4 = {.filter = "username sw"};
    assert_int_equal(directory_user_list(st, &q4, &items, &next, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "filter");

    /* the engine's iteration by id */
    json_t *page = NULL;
    const char *after = NULL;
    int count = 0;
    char last[64] = "";
    for (;;) {
        assert_int_equal(directory_users_page(st, after, 7, &page, &e), SC_OK);
        if (json_array_size(page) == 0) {
            json_decref(page);
            break;
        }
        count += (int)json_array_size(page);
        snprintf(last, sizeof last, "%s",
                 json_string_value(
                     json_object_get(json_array_get(page, json_array_size(page) - 1), "id")));
        after = last;
        json_decref(page);
    }
    assert_int_equal(count, 25);
    long long n = 0;
    assert_int_equal(directory_user_count(st, &n, &e), SC_OK);
    assert_int_equal(n, 25);
    free(pe);
}

static void test_import(void **state)
{
    struct store *st = *state;
    struct sc_error e = {0};
    free(population(st, "Sales"));
    free(mkuser(st, "taken", "Sales", NULL));
    int64_t seq = last_seq(st);
    json_t *rows = parse("[{\"username\":\"a1\",\"population\":{\"name\":\"Sales\"}},"
                         "{\"username\":\"A1\",\"population\":{\"name\":\"Sales\"}},"
                         "{\"username\":\"a2\",\"population\":{\"name\":\"Nope\"}},"
                         "{\"username\":\"a3\",\"email\":\"bad\",\"population\":{\"name\":"
                         "\"Sales\"}},"
                         "{\"username\":\"TAKEN\",\"population\":{\"name\":\"Sales\"}},"
                         "\"not an object\","
                         "{\"username\":\"a4\",\"population\":{\"name\":\"sales\"}}]");
    size_t created = 0;
    json_t *rejected = NULL;
    assert_int_equal(directory_users_import(st, rows, &created, &rejected, NULL, &e), SC_OK);
    json_decref(rows);
    assert_int_equal(created, 2);
    assert_int_equal(json_array_size(rejected), 5);
    const int want_index[] = {1, 2, 3, 4, 5};
    const char *want_field[] = {"username", "population.name", "email", "username", ""};
    for (size_t i = 0; i < 5; i++) {
        json_t *r = json_array_get(rejected, i);
        assert_int_equal(json_integer_value(json_object_get(r, "index")), want_index[i]);
        assert_string_equal(json_string_value(json_object_get(r, "field")), want_field[i]);
        assert_true(strlen(json_string_value(json_object_get(r, "message"))) > 0);
    }
    json_decref(rejected);
    struct store_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(store_events_after(st, seq, 100, &ev, &n), SC_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].kind, "user.created");
    store_events_free(ev, n);

    json_t *notarray = parse("{}");
    assert_int_equal(directory_users_import(st, notarray, &created, &rejected, NULL, &e),
                     SC_ERR_INVALID);
    json_decref(notarray);
    json_t *big = json_array();
    for (int i = 0; i < DIRECTORY_MAX_IMPORT + 1; i++)
        json_array_append_new(big, json_object());
    assert_int_equal(directory_users_import(st, big, &created, &rejected, NULL, &e),
                     SC_ERR_TOO_LARGE);
    json_decref(big);
}

static char *mkgroup(struct store *st, const char *name, const char *filter)
{
    json_t *in = json_pack("{s:s}", "name", name), *out = NULL;
    if (filter)
        json_object_set_new(in, "userFilter", parse(filter));
    struct sc_error e = {0};
    if (directory_group_create(st, in, &out, &e))
        fail_msg("group %s: %s (%s)", name, e.message, e.field);
    char *id = strdup(json_string_value(json_object_get(out, "id")));
    json_decref(in);
    json_decref(out);
    return id;
}

static enum sc_err add(struct store *st, const char *group, const char *key, const char *id,
                       struct sc_error *e)
{
    json_t *body = json_pack("{s:s}", key, id), *out = NULL;
    enum sc_err rc = directory_group_member_add(st, group, body, &out, e);
    json_decref(body);
    json_decref(out);
    return rc;
}

/* The names of user id's effective groups, joined with ','. */
static void groups_of(struct store *st, const char *id, char *out, size_t n)
{
    json_t *gs = NULL;
    struct sc_error e = {0};
    assert_int_equal(directory_user_groups(st, id, &gs, &e), SC_OK);
    out[0] = '\0';
    size_t i;
    json_t *g;
    json_array_foreach(gs, i, g)
    {
        strncat(out, json_string_value(json_object_get(g, "name")), n - strlen(out) - 2);
        strncat(out, json_is_true(json_object_get(g, "direct")) ? "*," : ",", n - strlen(out) - 1);
    }
    json_decref(gs);
}

static void test_groups(void **state)
{
    struct store *st = *state;
    struct sc_error e = {0};
    free(population(st, "Sales"));
    char *ada = mkuser(st, "ada", "Sales", "Engineer");
    char *bob = mkuser(st, "bob", "Sales", "Clerk");
    char *all = mkgroup(st, "All", NULL);
    char *eng = mkgroup(st, "Engineering", NULL);
    char *plat = mkgroup(st, "Platform", NULL);
    char *dyn = mkgroup(st, "Engineers",
                        "{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"title\","
                        "\"operator\":\"EQUALS\",\"value\":\"engineer\"}]}");
    /* a dynamic group over another group's membership */
    char *dyn2 = mkgroup(st, "PlatformPeople",
                         "{\"match\":\"ANY\",\"conditions\":[{\"attribute\":\"group\","
                         "\"operator\":\"EQUALS\",\"value\":\"Platform\"}]}");
    int64_t seq = last_seq(st);
    assert_int_equal(add(st, all, "groupId", eng, &e), SC_OK);
    events_are(st, seq, "group.members", all);
    assert_int_equal(add(st, eng, "groupId", plat, &e), SC_OK);
    assert_int_equal(add(st, plat, "userId", bob, &e), SC_OK);
    assert_int_equal(add(st, eng, "groupId", dyn, &e), SC_OK);

    /* cycles refused, naming the member */
    assert_int_equal(add(st, plat, "groupId", all, &e), SC_ERR_CONFLICT);
    assert_string_equal(e.field, "groupId");
    assert_int_equal(add(st, plat, "groupId", plat, &e), SC_ERR_CONFLICT);
    assert_int_equal(add(st, plat, "userId", bob, &e), SC_ERR_CONFLICT); /* already there */
    assert_int_equal(add(st, plat, "userId", "no-such-user", &e), SC_ERR_NOT_FOUND);
    assert_string_equal(e.field, "userId");
    json_t *body = parse("{\"userId\":\"a\",\"groupId\":\"b\"}"), *out = NULL;
    assert_int_equal(directory_group_member_add(st, plat, body, &out, &e), SC_ERR_INVALID);
    json_decref(body);

    char names[512];
    groups_of(st, bob, names, sizeof names);
    assert_string_equal(names, "All,Engineering,Platform*,PlatformPeople,");
    groups_of(st, ada, names, sizeof names);
    assert_string_equal(names, "All,Engineering,Engineers,");

    /* the snapshot gives the same */
    struct directory_groups *dg = NULL;
    assert_int_equal(directory_groups_load(st, &dg, &e), SC_OK);
    assert_int_equal(directory_groups_count(dg), 5);
    json_t *u = NULL;
    assert_int_equal(directory_user_get(st, bob, &u, &e), SC_OK);
    const char *got[8];
    assert_int_equal(directory_groups_of_user(dg, u, got, 8), 4);
    assert_string_equal(got[0], "All");
    assert_string_equal(got[3], "PlatformPeople");
    assert_int_equal(directory_groups_of_user(dg, u, got, 1), 4); /* total beyond max */
    json_decref(u);
    json_t *stranger = parse("{\"id\":\"zzz\",\"title\":\"Engineer\"}");
    assert_int_equal(directory_groups_of_user(dg, stranger, got, 8), 3);
    json_decref(stranger);
    directory_groups_free(dg);

    /* the tree alone (no memberships): the same groups and nesting; a user's groups come
     * from its direct groups given by the caller */
    assert_int_equal(directory_groups_load_tree(st, &dg, &e), SC_OK);
    assert_int_equal(directory_groups_count(dg), 5);
    long pi = directory_groups_find(dg, plat);
    assert_true(pi >= 0);
    const uint32_t *parents = NULL;
    assert_int_equal(directory_groups_parents_at(dg, (size_t)pi, &parents), 1);
    assert_string_equal(directory_groups_id_at(dg, parents[0]), eng);
    assert_true(directory_groups_dynamic_at(dg, (size_t)directory_groups_find(dg, dyn)));
    assert_int_equal(directory_user_get(st, bob, &u, &e), SC_OK);
    json_t *direct = NULL;
    assert_int_equal(store_user_direct_groups(st, bob, &direct), SC_OK);
    assert_int_equal(json_array_size(direct), 1);
    json_array_append_new(direct, json_string("no-such-group")); /* ignored */
    unsigned char member[5] = {0}, isdirect[5] = {0}, full[5] = {0};
    assert_int_equal(directory_groups_mark_user_in(dg, u, direct, member, isdirect), 0);
    struct directory_groups *whole = NULL;
    assert_int_equal(directory_groups_load(st, &whole, &e), SC_OK);
    for (size_t i = 0; i < 5; i++) { /* as the full snapshot marks it, group by group */
        long w = directory_groups_find(whole, directory_groups_id_at(dg, i));
        unsigned char fm[5] = {0};
        assert_int_equal(directory_groups_mark_user(whole, u, fm, NULL), 0);
        full[i] = fm[w];
    }
    assert_memory_equal(member, full, 5);
    assert_int_equal(isdirect[pi], 1);
    assert_int_equal(member[directory_groups_find(dg, dyn2)], 1); /* dynamic over Platform */
    /* without its direct groups, only the dynamic ones its attributes match */
    memset(member, 0, sizeof member);
    assert_int_equal(directory_groups_mark_user_in(dg, u, NULL, member, NULL), 0);
    assert_int_equal(member[pi], 0);
    assert_int_equal(member[directory_groups_find(dg, dyn2)], 0);
    json_decref(direct);
    json_decref(u);
    directory_groups_free(whole);
    directory_groups_free(dg);

    /* effective members: nested (no dynamic) and with a dynamic group inside */
    json_t *m = NULL;
    assert_int_equal(directory_group_effective_members(st, plat, NULL, 100, &m, &e), SC_OK);
    assert_int_equal(json_array_size(m), 1);
    json_decref(m);
    assert_int_equal(directory_group_effective_members(st, all, NULL, 100, &m, &e), SC_OK);
    assert_int_equal(json_array_size(m), 2);
    json_decref(m);
    assert_int_equal(directory_group_effective_members(st, dyn2, NULL, 100, &m, &e), SC_OK);
    assert_int_equal(json_array_size(m), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "display")), "bob");
    json_decref(m);
    assert_int_equal(add(st, eng, "userId", ada, &e), SC_OK);
    /* direct members a page at a time: users by username, then groups by name */
    const char *want[] = {"ada", "Engineers", "Platform"};
    char *cur = NULL, *nxt = NULL;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(directory_group_members(st, eng, cur, 1, &m, &nxt, &e), SC_OK);
        assert_int_equal(json_array_size(m), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "display")),
                            want[i]);
        json_decref(m);
        free(cur);
        cur = nxt;
        if (i < 2)
            assert_non_null(cur);
    }
    assert_null(cur);
    assert_int_equal(directory_group_members(st, eng, "7a7a", 1, &m, &nxt, &e), SC_ERR_INVALID);
    assert_int_equal(directory_group_member_remove(st, eng, ada, &e), SC_OK);

    /* a filter naming its own group, a bad filter */
    json_t *patch = parse("{\"userFilter\":{\"match\":\"ALL\",\"conditions\":[{\"attribute\":"
                          "\"group\",\"operator\":\"EQUALS\",\"value\":\"engineers\"}]}}");
    assert_int_equal(directory_group_update(st, dyn, patch, &out, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "userFilter");
    json_decref(patch);
    patch = parse("{\"userFilter\":{\"match\":\"ALL\",\"conditions\":[{\"attribute\":"
                  "\"title\",\"operator\":\"LIKE\",\"value\":\"x\"}]}}");
    assert_int_equal(directory_group_update(st, dyn, patch, &out, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "userFilter.conditions[0].operator");
    json_decref(patch);
    /* rename: the event says both names */
    seq = last_seq(st);
    patch = parse("{\"name\":\"Builders\"}");
    assert_int_equal(directory_group_update(st, eng, patch, &out, &e), SC_OK);
    json_decref(out);
    json_decref(patch);
    struct store_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(store_events_after(st, seq, 10, &ev, &n), SC_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].kind, "group.updated");
    assert_non_null(strstr(ev[0].detail, "Engineering"));
    store_events_free(ev, n);

    /* remove a member; delete a nested group: its parent gets group.members */
    assert_int_equal(directory_group_member_remove(st, plat, bob, &e), SC_OK);
    assert_int_equal(directory_group_member_remove(st, plat, bob, &e), SC_ERR_NOT_FOUND);
    seq = last_seq(st);
    assert_int_equal(directory_group_delete(st, dyn, &e), SC_OK);
    assert_int_equal(store_events_after(st, seq, 10, &ev, &n), SC_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].kind, "group.members");
    assert_string_equal(ev[0].object_id, eng);
    assert_string_equal(ev[1].kind, "group.deleted");
    store_events_free(ev, n);
    groups_of(st, ada, names, sizeof names);
    assert_string_equal(names, "");
    assert_int_equal(directory_group_delete(st, dyn, &e), SC_ERR_NOT_FOUND);

    json_t *items = NULL;
    char *next = NULL;
    assert_int_equal(directory_group_list(st, NULL, 100, &items, &next, &e), SC_OK);
    assert_int_equal(json_array_size(items), 4);
    assert_null(next);
    json_decref(items);
    free(ada);
    free(bob);
    free(all);
    free(eng);
    free(plat);
    free(dyn);
    free(dyn2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_check),
        cmocka_unit_test_setup_teardown(test_user_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_populations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
