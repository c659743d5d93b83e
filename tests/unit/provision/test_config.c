/* Unit tests for src/provision/config: the lifecycle of connections and rules behind the
 * admin API. Each write commits with exactly one change event carrying the right resync
 * flag and wakes the engine once; a write that changes nothing or fails leaves no event,
 * no wake-up and no open transaction; secrets are sealed at rest and masked in answers;
 * the enable conditions and name uniqueness answer with the field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/id.h"
#include "base/json.h"
#include "provision/config.h"
#include "store/store_events.h"
#include "store/store_provision.h"

#include <stdlib.h>
#include <string.h>

struct fixture {
    struct store *st;
    struct provision_config_ctx cx;
    int wakes;
    int64_t seen; /* the last event sequence the test has looked at */
};

static void count_wake(void *arg)
{
    struct fixture *f = arg;
    f->wakes++;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct sc_error e = {0};
    unsetenv("SCIMITAR_KEY"); /* key_path NULL: a key for this process only */
    if (!f || store_open("sqlite::memory:", &f->st, &e) != SC_OK)
        return -1;
    f->cx.st = f->st;
    f->cx.wake = count_wake;
    f->cx.wake_arg = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->st);
    free(f);
    return 0;
}

/* Asserts that exactly one event was written since the last call, of kind about id,
 * with detail {"resync": resync, "change": change}, and that the engine was woken once
 * for it; then forgets both. */
static void expect_event(struct fixture *f, const char *kind, const char *id, int resync,
                         const char *change)
{
    struct store_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(store_events_after(f->st, f->seen, 10, &ev, &n), SC_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].kind, kind);
    assert_string_equal(ev[0].object_id, id);
    json_t *d = NULL;
    struct sc_error e = {0};
    assert_int_equal(sc_json_parse(ev[0].detail, strlen(ev[0].detail), 0, &d, &e), SC_OK);
    assert_int_equal(json_is_true(json_object_get(d, "resync")), resync);
    assert_string_equal(sc_json_get_string(d, "change"), change);
    json_decref(d);
    f->seen = ev[0].seq;
    store_events_free(ev, n);
    assert_int_equal(f->wakes, 1);
    f->wakes = 0;
    assert_false(store_in_transaction(f->st));
}

/* Asserts that nothing was written nor woken since the last expect_event. */
static void expect_nothing(struct fixture *f)
{
    int64_t last = 0;
    assert_int_equal(store_events_last_seq(f->st, &last), SC_OK);
    assert_int_equal(last, f->seen);
    assert_int_equal(f->wakes, 0);
    assert_false(store_in_transaction(f->st));
}

static json_t *parse(const char *text)
{
    json_t *v = NULL;
    struct sc_error e = {0};
    assert_int_equal(sc_json_parse(text, strlen(text), 0, &v, &e), SC_OK);
    return v;
}

/* Creates a connection named name; its id goes to id_out. */
static void add_connection(struct fixture *f, const char *name, int enabled, char *id_out)
{
    json_t *in =
        json_pack("{s:s, s:b, s:{s:s}, s:{s:s}}", "name", name, "enabled", enabled, "scim",
                  "baseUrl", "http://127.0.0.1:9/scim/v2", "auth", "accessToken", "s3cret-t0ken");
    json_t *out = NULL;
    struct sc_error e = {0};
    assert_int_equal(provision_connection_create(&f->cx, in, &out, &e), SC_OK);
    sc_strlcpy(id_out, sc_json_get_string(out, "id"), SC_UUID_LEN + 1);
    json_decref(in);
    json_decref(out);
    expect_event(f, "connection.changed", id_out, enabled, "created");
}

static const char *pop_filter = "{\"conditions\":[{\"attribute\":\"population.name\","
                                "\"operator\":\"EQUALS\",\"value\":\"Sales\"}]}";

static void test_connection_lifecycle(void **state)
{
    struct fixture *f = *state;
    char id[SC_UUID_LEN + 1];
    add_connection(f, "Code42", 0, id);

    /* masked in the answer, sealed at rest */
    json_t *out = NULL;
    struct sc_error e = {0};
    assert_int_equal(provision_connection_get(&f->cx, id, &out, &e), SC_OK);
    assert_string_equal(sc_json_get_string(out, "auth.accessToken"), "********");
    json_decref(out);
    struct store_connection row = {0};
    assert_int_equal(store_connection_get(f->st, id, &row), SC_OK);
    assert_null(strstr(row.config, "s3cret-t0ken"));
    assert_non_null(strstr(row.config, "sb1:"));
    store_connection_clear(&row);

    /* a patch that changes nothing writes nothing */
    json_t *p = parse("{\"auth\":{\"accessToken\":\"********\"}}");
    assert_int_equal(provision_connection_update(&f->cx, id, p, &out, &e), SC_OK);
    json_decref(out);
    json_decref(p);
    expect_nothing(f);

    /* a description is no reason to resync; enabling is */
    p = parse("{\"description\":\"HR\"}");
    assert_int_equal(provision_connection_update(&f->cx, id, p, &out, &e), SC_OK);
    assert_string_equal(sc_json_get_string(out, "description"), "HR");
    json_decref(out);
    json_decref(p);
    expect_event(f, "connection.changed", id, 0, "updated");
    p = parse("{\"enabled\":true}");
    assert_int_equal(provision_connection_update(&f->cx, id, p, &out, &e), SC_OK);
    json_decref(out);
    json_decref(p);
    expect_event(f, "connection.changed", id, 1, "updated");

    /* names are unique: the failed write leaves nothing behind */
    char other[SC_UUID_LEN + 1];
    add_connection(f, "Other", 0, other);
    p = parse("{\"name\":\"Code42\"}");
    out = NULL;
    assert_int_equal(provision_connection_update(&f->cx, other, p, &out, &e), SC_ERR_CONFLICT);
    assert_null(out);
    assert_string_equal(e.field, "name");
    assert_non_null(strstr(e.message, "'Code42' already exists"));
    json_decref(p);
    expect_nothing(f);

    /* unknown ids and cursors */
    assert_int_equal(provision_connection_get(&f->cx, "nope", &out, &e), SC_ERR_NOT_FOUND);
    assert_string_equal(e.message, "no connection with id nope");
    assert_int_equal(provision_connection_check(&f->cx, "nope", &e), SC_ERR_NOT_FOUND);
    assert_int_equal(provision_connection_check(&f->cx, id, &e), SC_OK);
    json_t *items = NULL;
    char *next = NULL;
    assert_int_equal(provision_connection_list(&f->cx, "bogus", 10, &items, &next, &e),
                     SC_ERR_INVALID);
    assert_string_equal(e.field, "cursor");
    assert_int_equal(provision_connection_list(&f->cx, NULL, 1, &items, &next, &e), SC_OK);
    assert_int_equal(json_array_size(items), 1);
    assert_non_null(next);
    json_decref(items);
    char *last = NULL;
    assert_int_equal(provision_connection_list(&f->cx, next, 1, &items, &last, &e), SC_OK);
    assert_int_equal(json_array_size(items), 1);
    assert_null(last);
    json_decref(items);
    free(next);

    assert_int_equal(provision_connection_delete(&f->cx, other, &e), SC_OK);
    expect_event(f, "connection.changed", other, 0, "deleted");
    assert_int_equal(provision_connection_delete(&f->cx, other, &e), SC_ERR_NOT_FOUND);
    expect_nothing(f);
}

static void test_connection_test_url(void **state)
{
    struct fixture *f = *state;
    char id[SC_UUID_LEN + 1];
    add_connection(f, "Code42", 0, id);
    struct sc_error e = {0};
    json_t *report = NULL;

    /* a base URL the edits break is a failed URL step, not an error (no request sent) */
    json_t *edits = parse("{\"scim\":{\"baseUrl\":\"ftp://x\"}}");
    assert_int_equal(provision_connection_test(&f->cx, id, edits, &report, &e), SC_OK);
    assert_true(json_is_false(json_object_get(report, "ok")));
    json_t *step = json_array_get(json_object_get(report, "steps"), 0);
    assert_string_equal(sc_json_get_string(step, "name"), "URL");
    assert_int_equal(json_array_size(json_object_get(report, "steps")), 1);
    json_decref(report);
    json_decref(edits);

    /* an unsaved body needs no name; other invalid fields stay errors */
    json_t *body = parse("{\"scim\":{\"baseUrl\":\"nope\"}}");
    assert_int_equal(provision_connection_test_unsaved(&f->cx, body, &report, &e), SC_OK);
    assert_true(json_is_false(json_object_get(report, "ok")));
    json_decref(report);
    json_decref(body);
    body = parse("{\"scim\":{\"baseUrl\":\"http://127.0.0.1:9/scim/v2\"},"
                 "\"auth\":{\"method\":\"BOGUS\"}}");
    report = NULL;
    assert_int_equal(provision_connection_test_unsaved(&f->cx, body, &report, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "auth.method");
    assert_null(report);
    json_decref(body);
    assert_int_equal(provision_connection_test(&f->cx, "nope", NULL, &report, &e),
                     SC_ERR_NOT_FOUND);
    expect_nothing(f);
}

static void test_rule_lifecycle(void **state)
{
    struct fixture *f = *state;
    char conn[SC_UUID_LEN + 1];
    add_connection(f, "Code42", 0, conn);
    struct sc_error e = {0};
    json_t *out = NULL;

    /* enabling needs an enabled connection: 409 naming it, nothing written */
    json_t *body = json_pack("{s:s, s:s, s:b, s:o}", "name", "HR", "target", conn, "enabled", 1,
                             "filter", parse(pop_filter));
    assert_int_equal(provision_rule_create(&f->cx, body, &out, &e), SC_ERR_CONFLICT);
    assert_string_equal(e.field, "enabled");
    assert_non_null(strstr(e.message, "the connection 'Code42' is disabled"));
    expect_nothing(f);

    /* created disabled, then enabled once the connection is */
    json_object_set_new(body, "enabled", json_false());
    assert_int_equal(provision_rule_create(&f->cx, body, &out, &e), SC_OK);
    char id[SC_UUID_LEN + 1];
    sc_strlcpy(id, sc_json_get_string(out, "id"), sizeof id);
    assert_string_equal(sc_json_get_string(out, "source"), "directory");
    json_decref(out);
    expect_event(f, "rule.changed", id, 0, "created");
    assert_int_equal(provision_rule_create(&f->cx, body, &out, &e), SC_ERR_CONFLICT);
    assert_string_equal(e.field, "name");
    expect_nothing(f);
    json_decref(body);

    json_t *p = parse("{\"enabled\":true}");
    assert_int_equal(provision_connection_update(&f->cx, conn, p, &out, &e), SC_OK);
    json_decref(out);
    expect_event(f, "connection.changed", conn, 1, "updated");
    assert_int_equal(provision_rule_update(&f->cx, id, p, &out, &e), SC_OK);
    assert_true(json_is_true(json_object_get(out, "enabled")));
    json_decref(out);
    json_decref(p);
    expect_event(f, "rule.changed", id, 1, "updated");

    /* with the connection disabled, a rename still works; a new filter does not */
    p = parse("{\"enabled\":false}");
    assert_int_equal(provision_connection_update(&f->cx, conn, p, &out, &e), SC_OK);
    json_decref(out);
    json_decref(p);
    expect_event(f, "connection.changed", conn, 0, "updated");
    p = parse("{\"name\":\"HR (all)\"}");
    assert_int_equal(provision_rule_update(&f->cx, id, p, &out, &e), SC_OK);
    json_decref(out);
    json_decref(p);
    expect_event(f, "rule.changed", id, 0, "updated");
    json_t *filter = parse("{\"conditions\":[{\"attribute\":\"group\",\"operator\":\"EQUALS\","
                           "\"value\":\"Staff\"}]}");
    assert_int_equal(provision_rule_filter_put(&f->cx, id, filter, &out, &e), SC_ERR_CONFLICT);
    assert_string_equal(e.field, "enabled");
    expect_nothing(f);
    p = parse("{\"enabled\":true}");
    assert_int_equal(provision_connection_update(&f->cx, conn, p, &out, &e), SC_OK);
    json_decref(out);
    json_decref(p);
    expect_event(f, "connection.changed", conn, 1, "updated");
    assert_int_equal(provision_rule_filter_put(&f->cx, id, filter, &out, &e), SC_OK);
    assert_true(json_equal(out, filter));
    json_decref(out);
    expect_event(f, "rule.changed", id, 1, "updated");
    /* the same filter again changes nothing */
    assert_int_equal(provision_rule_filter_put(&f->cx, id, filter, &out, &e), SC_OK);
    json_decref(out);
    json_decref(filter);
    expect_nothing(f);

    /* a filter must name a population or group; the field is the filter's own */
    filter = parse("{\"conditions\":[{\"attribute\":\"title\",\"operator\":\"EQUALS\","
                   "\"value\":\"x\"}]}");
    assert_int_equal(provision_rule_filter_put(&f->cx, id, filter, &out, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "conditions");
    json_decref(filter);
    expect_nothing(f);

    /* mappings: a changed mapping resyncs; an invalid one names the row */
    json_t *rows = NULL;
    assert_int_equal(provision_rule_mappings_get(&f->cx, id, &rows, &e), SC_OK);
    json_t *fewer = json_deep_copy(rows);
    json_array_remove(fewer, json_array_size(fewer) - 1);
    assert_int_equal(provision_rule_mappings_put(&f->cx, id, fewer, &out, &e), SC_OK);
    assert_int_equal(json_array_size(out), json_array_size(rows) - 1);
    json_decref(out);
    expect_event(f, "rule.changed", id, 1, "updated");
    json_t *bad = parse("[{\"target\":\"userName\",\"source\":\"username\"},{\"target\":\"x\","
                        "\"source\":\"email\"}]");
    assert_int_equal(provision_rule_mappings_put(&f->cx, id, bad, &out, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "mappings[1].target");
    expect_nothing(f);
    json_decref(bad);
    json_decref(fewer);
    json_decref(rows);

    /* a connection a rule targets cannot go; the rule, then the connection, can */
    assert_int_equal(provision_connection_delete(&f->cx, conn, &e), SC_ERR_CONFLICT);
    assert_non_null(strstr(e.message, "the rule 'HR (all)' targets the connection 'Code42'"));
    expect_nothing(f);
    assert_int_equal(provision_rule_delete(&f->cx, id, &e), SC_OK);
    expect_event(f, "rule.changed", id, 0, "deleted");
    assert_int_equal(provision_rule_get(&f->cx, id, &out, &e), SC_ERR_NOT_FOUND);
    assert_int_equal(provision_rule_delete(&f->cx, id, &e), SC_ERR_NOT_FOUND);
    assert_int_equal(provision_connection_delete(&f->cx, conn, &e), SC_OK);
    expect_event(f, "connection.changed", conn, 0, "deleted");
}

static void test_rule_fields(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{}", "name"},
        {"{\"name\":\"r\",\"zzz\":1}", "zzz"},
        {"{\"name\":\"r\",\"id\":5}", "id"},
        {"{\"name\":\"r\",\"source\":\"ldap\"}", "source"},
        {"{\"name\":\"r\",\"target\":\"nope\"}", "target"},
        {"{\"name\":\"r\",\"enabled\":true}", "target"},
        {"{\"name\":\"r\",\"filter\":{\"conditions\":[]}}", "filter.conditions"},
        {"{\"name\":\"r\",\"enabled\":\"yes\"}", "enabled"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *body = parse(cases[i].body), *out = NULL;
        struct sc_error e = {0};
        assert_int_equal(provision_rule_create(&f->cx, body, &out, &e), SC_ERR_INVALID);
        assert_string_equal(e.field, cases[i].field);
        assert_null(out);
        json_decref(body);
        expect_nothing(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connection_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_test_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rule_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rule_fields, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
