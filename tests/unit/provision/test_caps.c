/* Unit tests for src/provision/caps: the document of unknowns, storing what a test
 * found (learnt facts kept, the change flag), merging learnt facts in and out of a
 * transaction, deletion with the connection, and the warnings for mapped attributes a
 * target's User schema does not declare. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/json.h"
#include "provision/caps.h"
#include "store/store_provision.h"

#include <stdlib.h>
#include <string.h>

#define CONN_ID "11111111-1111-4111-8111-111111111111"
#define ENT "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

static struct store *open_with_connection(void)
{
    struct store *st = NULL;
    struct sc_error e = {0};
    assert_int_equal(store_open("sqlite::memory:", &st, &e), SC_OK);
    struct store_connection c = {.name = "C", .config = "{}", .created_at = 1, .updated_at = 1};
    sc_strlcpy(c.id, CONN_ID, sizeof c.id);
    assert_int_equal(store_connection_insert(st, &c), SC_OK);
    return st;
}

static void test_unknown_until_tested(void **state)
{
    (void)state;
    struct store *st = open_with_connection();
    json_t *doc = NULL;
    assert_int_equal(provision_caps_get(st, CONN_ID, &doc), SC_OK);
    assert_string_equal(sc_json_get_string(doc, "connectionId"), CONN_ID);
    assert_true(json_is_null(json_object_get(doc, "testedAt")));
    assert_true(json_is_null(json_object_get(doc, "patch")));
    assert_true(json_is_null(json_object_get(doc, "userAttributes")));
    assert_true(json_is_false(json_object_get(doc, "schemas")));
    assert_int_equal(json_object_size(json_object_get(doc, "learnt")), 0);
    assert_null(json_object_get(doc, "warnings"));
    json_decref(doc);
    store_close(st);
}

static void test_store_keeps_learnt_and_says_what_changed(void **state)
{
    (void)state;
    struct store *st = open_with_connection();
    json_t *found = provision_caps_empty(NULL);
    json_object_set_new(found, "patch", json_true());
    json_object_set_new(found, "learnt", json_pack("{s:b}", "ignored", 1)); /* not a test's */
    int changed = -1;
    assert_int_equal(store_begin(st), SC_OK);
    assert_int_equal(provision_caps_store(st, CONN_ID, found, 1000, &changed), SC_OK);
    assert_int_equal(store_commit(st), SC_OK);
    assert_int_equal(changed, 1);
    /* the engine learns a fact, outside a transaction */
    json_t *f = json_false();
    assert_int_equal(provision_caps_learn(st, CONN_ID, "filterHonoured", f), SC_OK);
    /* and inside one */
    assert_int_equal(store_begin(st), SC_OK);
    json_t *at = json_string("2026-01-01T00:00:00.000Z");
    assert_int_equal(provision_caps_learn(st, CONN_ID, "at", at), SC_OK);
    assert_true(store_in_transaction(st));
    assert_int_equal(store_commit(st), SC_OK);
    json_decref(at);
    /* the same findings again: nothing changed but testedAt; learnt kept */
    assert_int_equal(store_begin(st), SC_OK);
    assert_int_equal(provision_caps_store(st, CONN_ID, found, 2000, &changed), SC_OK);
    assert_int_equal(store_commit(st), SC_OK);
    assert_int_equal(changed, 0);
    json_t *doc = NULL;
    assert_int_equal(provision_caps_get(st, CONN_ID, &doc), SC_OK);
    assert_string_equal(sc_json_get_string(doc, "testedAt"), "1970-01-01T00:00:02.000Z");
    assert_true(json_is_true(json_object_get(doc, "patch")));
    assert_string_equal(sc_json_get_string(doc, "learnt.at"), "2026-01-01T00:00:00.000Z");
    assert_true(json_is_false(sc_json_get_path(doc, "learnt.filterHonoured")));
    assert_null(sc_json_get_path(doc, "learnt.ignored"));
    json_decref(doc);
    /* a different finding changes it */
    json_object_set_new(found, "patch", json_false());
    assert_int_equal(store_begin(st), SC_OK);
    assert_int_equal(provision_caps_store(st, CONN_ID, found, 3000, &changed), SC_OK);
    assert_int_equal(store_commit(st), SC_OK);
    assert_int_equal(changed, 1);
    /* null removes a learnt key */
    assert_int_equal(provision_caps_learn(st, CONN_ID, "at", NULL), SC_OK);
    assert_int_equal(provision_caps_get(st, CONN_ID, &doc), SC_OK);
    assert_null(sc_json_get_path(doc, "learnt.at"));
    json_decref(doc);
    /* errors */
    assert_int_equal(provision_caps_learn(st, CONN_ID, "", f), SC_ERR_INVALID);
    assert_int_equal(provision_caps_learn(st, "22222222-2222-4222-8222-222222222222", "k", f),
                     SC_ERR_NOT_FOUND);
    assert_false(store_in_transaction(st));
    /* deleted with the connection */
    assert_int_equal(store_connection_delete(st, CONN_ID), SC_OK);
    char *text = NULL;
    assert_int_equal(store_connection_caps_get(st, CONN_ID, &text, NULL), SC_ERR_NOT_FOUND);
    json_decref(found);
    store_close(st);
}

/* provision_caps_store in a transaction of its own. */
static void store_found(struct store *st, const json_t *found, int64_t now, int *changed)
{
    assert_int_equal(store_begin(st), SC_OK);
    assert_int_equal(provision_caps_store(st, CONN_ID, found, now, changed), SC_OK);
    assert_int_equal(store_commit(st), SC_OK);
}

/* A refusal of Bulk requests the engine learnt holds while tests find no Bulk, and is
 * dropped (a change: the engine reloads and tries Bulk again) when one finds it. */
static void test_a_test_that_finds_bulk_drops_the_learnt_refusal(void **state)
{
    (void)state;
    struct store *st = open_with_connection();
    json_t *found = provision_caps_empty(NULL);
    json_object_set_new(
        found, "bulk",
        json_pack("{s:b, s:n, s:n}", "supported", 0, "maxOperations", "maxPayloadSize"));
    int changed = -1;
    store_found(st, found, 1000, &changed);
    json_t *refused =
        json_pack("{s:b, s:i, s:s}", "supported", 0, "status", 501, "reason", "POST /Bulk 501");
    assert_int_equal(provision_caps_learn(st, CONN_ID, "bulk", refused), SC_OK);
    json_t *f = json_false();
    assert_int_equal(provision_caps_learn(st, CONN_ID, "filterHonoured", f), SC_OK);
    /* no Bulk found: the refusal stays, nothing changed */
    store_found(st, found, 2000, &changed);
    assert_int_equal(changed, 0);
    json_t *doc = NULL;
    assert_int_equal(provision_caps_get(st, CONN_ID, &doc), SC_OK);
    assert_true(json_is_false(sc_json_get_path(doc, "learnt.bulk.supported")));
    json_decref(doc);
    /* Bulk found: the refusal goes, the other learnt facts stay */
    json_object_set_new(
        found, "bulk",
        json_pack("{s:b, s:i, s:i}", "supported", 1, "maxOperations", 10, "maxPayloadSize", 1000));
    store_found(st, found, 3000, &changed);
    assert_int_equal(changed, 1);
    assert_int_equal(provision_caps_get(st, CONN_ID, &doc), SC_OK);
    assert_null(sc_json_get_path(doc, "learnt.bulk"));
    assert_true(json_is_false(sc_json_get_path(doc, "learnt.filterHonoured")));
    json_decref(doc);
    /* the same again: no change */
    store_found(st, found, 4000, &changed);
    assert_int_equal(changed, 0);
    json_decref(refused);
    json_decref(found);
    store_close(st);
}

static void test_warnings(void **state)
{
    (void)state;
    json_t *attrs = json_pack("[s, s, s, s, s, s, s, s]", "userName", "name", "name.givenName",
                              "emails", "emails.value", "addresses", ENT ":department", "title");
    json_t *rules =
        json_pack("[{s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s},"
                  " {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}]",
                  "id", "r1", "name", "Code42 users", "mappings", "target", "userName", "source",
                  "username", "target", "givenName", "source", "name.given", "target", "familyName",
                  "source", "name.family", "target", "workEmail", "source", "email", "target",
                  "workCity", "source", "address.locality", "target", "externalId", "source",
                  "externalId", "target", "department", "source", "title", "target", "costCenter",
                  "source", "title", "target", "nickName", "source", "nickname", "target",
                  "urn:ietf:params:scim:schemas:core:2.0:User:title", "source", "title");
    json_t *w = provision_caps_warnings(attrs, rules);
    /* familyName (name declares sub-attributes, not this one), costCenter, nickName; not
     * workCity (addresses declared without sub-attributes), externalId (common), the
     * core URN form of title */
    assert_int_equal(json_array_size(w), 3);
    json_t *w0 = json_array_get(w, 0);
    assert_string_equal(sc_json_get_string(w0, "target"), "familyName");
    assert_string_equal(sc_json_get_string(w0, "path"), "name.familyName");
    assert_int_equal(json_integer_value(json_object_get(w0, "row")), 2);
    assert_string_equal(sc_json_get_string(w0, "ruleId"), "r1");
    assert_string_equal(sc_json_get_string(w0, "message"),
                        "the target's schema does not declare name.familyName (familyName, "
                        "mapping row 3 of rule 'Code42 users')");
    assert_string_equal(sc_json_get_string(json_array_get(w, 1), "path"), ENT ":costCenter");
    json_t *w2 = json_array_get(w, 2);
    assert_string_equal(sc_json_get_string(w2, "message"),
                        "the target's schema does not declare nickName (mapping row 9 of rule "
                        "'Code42 users')");
    json_decref(w);
    /* unknown attributes: no warnings */
    json_t *none = provision_caps_warnings(json_null(), rules);
    assert_int_equal(json_array_size(none), 0);
    json_decref(none);
    json_decref(rules);
    json_decref(attrs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_until_tested),
        cmocka_unit_test(test_store_keeps_learnt_and_says_what_changed),
        cmocka_unit_test(test_a_test_that_finds_bulk_drops_the_learnt_refusal),
        cmocka_unit_test(test_warnings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
