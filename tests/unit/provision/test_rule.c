/* Unit tests for src/provision/rule: the conditions for enabling a rule (a target, an
 * enabled connection named in the 409, a filter naming a population or group), and the
 * compiled rules the engine loads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/json.h"
#include "directory/userfilter.h"
#include "provision/connection.h"
#include "provision/mapping.h"
#include "provision/rule.h"
#include "provision/secrets.h"
#include "store/store_provision.h"

#include <stdlib.h>
#include <string.h>

struct fixture {
    struct store *st;
    struct secrets_key *key;
    char conn_id[SC_UUID_LEN + 1];
};

static void add_connection(struct fixture *f, const char *name, int enabled, char *id_out)
{
    json_t *in = json_pack("{s:s, s:b, s:{s:s}, s:{s:s}}", "name", name, "enabled", enabled, "scim",
                           "baseUrl", "http://127.0.0.1:9/scim/v2", "auth", "accessToken", "t0ken");
    json_t *doc = NULL, *sealed = NULL;
    struct sc_error e = {0};
    assert_int_equal(connection_doc_merge(NULL, in, &doc, &e), SC_OK);
    assert_int_equal(connection_seal_doc(f->key, doc, &sealed, &e), SC_OK);
    struct store_connection row = {0};
    sc_uuid_v4(row.id);
    row.name = (char *)name;
    row.enabled = enabled;
    row.config = sc_json_dump(sealed);
    row.created_at = row.updated_at = 1;
    assert_int_equal(store_connection_insert(f->st, &row), SC_OK);
    sc_strlcpy(id_out, row.id, SC_UUID_LEN + 1);
    free(row.config);
    json_decref(in);
    json_decref(doc);
    json_decref(sealed);
}

static void add_rule(struct fixture *f, const char *name, const char *target, const char *filter,
                     int enabled, char *id_out)
{
    json_t *m = mapping_defaults();
    struct store_rule row = {0};
    sc_uuid_v4(row.id);
    row.name = (char *)name;
    row.description = "";
    sc_strlcpy(row.target_id, target ? target : "", sizeof row.target_id);
    row.enabled = enabled;
    row.filter = (char *)filter;
    row.mappings = sc_json_dump(m);
    row.created_at = row.updated_at = 2;
    assert_int_equal(store_rule_insert(f->st, &row), SC_OK);
    sc_strlcpy(id_out, row.id, SC_UUID_LEN + 1);
    free(row.mappings);
    json_decref(m);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct sc_error e = {0};
    if (store_open("sqlite::memory:", &f->st, &e) != SC_OK)
        return -1;
    unsigned char raw[SECRETS_KEY_BYTES] = {1, 2, 3};
    if (secrets_key_from_bytes(raw, &f->key) != SC_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->st);
    secrets_key_free(f->key);
    free(f);
    return 0;
}

static const char *pop_filter =
    "{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"population.name\","
    "\"operator\":\"EQUALS\",\"value\":\"Sales\"}]}";
static const char *title_filter = "{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"title\","
                                  "\"operator\":\"EQUALS\",\"value\":\"Engineer\"}]}";

static void check(struct fixture *f, const char *rule_id, enum sc_err want, const char *field,
                  const char *needle)
{
    struct rule r = {0};
    struct sc_error e = {0};
    assert_int_equal(rule_get(f->st, rule_id, &r, &e), SC_OK);
    enum sc_err rc = rule_check_enable(f->st, &r, &e);
    rule_clear(&r);
    assert_int_equal(rc, want);
    if (want == SC_OK)
        return;
    assert_string_equal(e.field, field);
    if (!strstr(e.message, needle))
        fail_msg("message \"%s\" lacks \"%s\"", e.message, needle);
}

static void test_enable_conditions(void **state)
{
    struct fixture *f = *state;
    char off[SC_UUID_LEN + 1], on[SC_UUID_LEN + 1], r1[SC_UUID_LEN + 1], r2[SC_UUID_LEN + 1],
        r3[SC_UUID_LEN + 1], r4[SC_UUID_LEN + 1], r5[SC_UUID_LEN + 1];
    add_connection(f, "Code42 (off)", 0, off);
    add_connection(f, "Code42", 1, on);
    add_rule(f, "no target", NULL, pop_filter, 0, r1);
    add_rule(f, "disabled target", off, pop_filter, 0, r2);
    add_rule(f, "no filter", on, NULL, 0, r3);
    add_rule(f, "no scope", on, title_filter, 0, r4);
    add_rule(f, "good", on, pop_filter, 0, r5);
    check(f, r1, SC_ERR_INVALID, "target", "Target connection");
    check(f, r2, SC_ERR_CONFLICT, "enabled", "the connection 'Code42 (off)' is disabled");
    check(f, r3, SC_ERR_INVALID, "filter", "population or group");
    check(f, r4, SC_ERR_INVALID, "filter", "population");
    check(f, r5, SC_OK, NULL, NULL);

    struct rule r = {0};
    struct sc_error e = {0};
    assert_int_equal(rule_get(f->st, r5, &r, &e), SC_OK);
    json_t *api = rule_to_api(&r);
    assert_string_equal(sc_json_get_string(api, "source"), "directory");
    assert_string_equal(sc_json_get_string(api, "target"), on);
    assert_true(json_is_false(json_object_get(api, "enabled")));
    json_decref(api);
    rule_clear(&r);
    assert_int_equal(rule_get(f->st, "nope", &r, &e), SC_ERR_NOT_FOUND);

    char *name = NULL;
    assert_int_equal(store_rule_targeting(f->st, off, &name), SC_OK);
    assert_string_equal(name, "disabled target");
    free(name);
    assert_int_equal(store_connection_delete(f->st, off), SC_ERR_CONFLICT);
}

static void test_compiled(void **state)
{
    struct fixture *f = *state;
    char on[SC_UUID_LEN + 1], off[SC_UUID_LEN + 1], a[SC_UUID_LEN + 1], b[SC_UUID_LEN + 1],
        c[SC_UUID_LEN + 1];
    add_connection(f, "On", 1, on);
    add_connection(f, "Off", 0, off);
    add_rule(f, "A", on, pop_filter, 1, a);
    add_rule(f, "B", off, pop_filter, 1, b); /* connection disabled: not loaded */
    add_rule(f, "C", on, pop_filter, 0, c);  /* rule disabled: not loaded */
    struct rule_compiled **v = NULL;
    size_t n = 0, skipped = 0;
    struct sc_error e = {0};
    assert_int_equal(rule_load_enabled(f->st, f->key, &v, &n, &skipped, &e), SC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(skipped, 0);
    assert_string_equal(v[0]->rule.id, a);
    assert_string_equal(v[0]->conn->name, "On");
    assert_string_equal(v[0]->conn->access_token, "t0ken");
    assert_int_equal(mapping_count(v[0]->mapping), 14);
    json_t *user = json_pack("{s:s, s:{s:s, s:s}}", "username", "ada", "population", "id", "p",
                             "name", "Sales");
    assert_int_equal(userfilter_match(v[0]->filter, user, NULL, 0), 1);
    json_t *scim = NULL;
    assert_int_equal(mapping_apply(v[0]->mapping, user, &scim), SC_OK);
    assert_string_equal(sc_json_get_string(scim, "userName"), "ada");
    json_decref(scim);
    json_decref(user);
    rule_compiled_free_all(v, n);

    struct rule_compiled *rc = NULL;
    assert_int_equal(rule_compile(f->st, f->key, c, &rc, &e), SC_OK);
    assert_false(rc->rule.enabled);
    rule_compiled_free(rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enable_conditions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compiled, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
