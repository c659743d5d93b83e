/* Unit tests for src/provision/mapping: the seed's 14 default rows, validation errors
 * that name the row, and the SCIM User resource built from a directory user. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/json.h"
#include "provision/expr.h"
#include "provision/mapping.h"
#include "scim/alias.h"
#include "scim/message.h"
#include "scim/path.h"

#include <stdlib.h>
#include <string.h>

static json_t *full_user(void)
{
    const char *text =
        "{\"id\":\"6f1c2b9e-1111-4222-8333-944455556666\",\"username\":\"ada\","
        "\"name\":{\"given\":\"Ada\",\"family\":\"Lovelace\",\"formatted\":\"Ada Lovelace\"},"
        "\"nickname\":\"Countess\",\"title\":\"Engineer\",\"type\":\"Employee\","
        "\"email\":\"ada@example.com\",\"primaryPhone\":\"+1 555 0100\",\"externalId\":\"E100\","
        "\"address\":{\"streetAddress\":\"1 Main St\",\"locality\":\"Springfield\","
        "\"region\":\"IL\",\"postalCode\":\"62701\",\"countryCode\":\"US\"},"
        "\"enabled\":true,\"population\":{\"id\":\"p\",\"name\":\"Sales\"}}";
    return json_loads(text, 0, NULL);
}

static void test_defaults(void **state)
{
    (void)state;
    json_t *rows = mapping_defaults();
    assert_int_equal(json_array_size(rows), 14);
    assert_string_equal(sc_json_get_string(json_array_get(rows, 0), "target"), "userName");
    assert_string_equal(sc_json_get_string(json_array_get(rows, 7), "target"), "workStreetAddeess");
    assert_string_equal(sc_json_get_string(json_array_get(rows, 13), "source"), "name.formatted");
    struct mapping *m = NULL;
    struct sc_error e = {0};
    assert_int_equal(mapping_compile(rows, &m, &e), SC_OK);
    assert_int_equal(mapping_count(m), 14);
    assert_string_equal(mapping_target_path(m, 4), "emails[type eq \"work\"].value");
    assert_string_equal(mapping_target_path(m, 7), "addresses[type eq \"work\"].streetAddress");
    assert_string_equal(mapping_target_name(m, 7), "workStreetAddeess");
    assert_string_equal(mapping_source(m, 1), "name.given");
    assert_string_equal(mapping_path_for(m, "workEmail"), "emails[type eq \"work\"].value");
    assert_string_equal(mapping_path_for(m, "userName"), "userName");
    assert_null(mapping_path_for(m, "department"));

    json_t *user = full_user(), *out = NULL;
    assert_int_equal(mapping_apply(m, user, &out), SC_OK);
    json_t *expected = json_loads(
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
        "\"userName\":\"ada\","
        "\"name\":{\"givenName\":\"Ada\",\"familyName\":\"Lovelace\","
        "\"formatted\":\"Ada Lovelace\"},"
        "\"phoneNumbers\":[{\"type\":\"work\",\"value\":\"+1 555 0100\"}],"
        "\"emails\":[{\"type\":\"work\",\"value\":\"ada@example.com\",\"primary\":true}],"
        "\"externalId\":\"E100\","
        "\"addresses\":[{\"type\":\"work\",\"locality\":\"Springfield\","
        "\"streetAddress\":\"1 Main St\",\"country\":\"US\",\"postalCode\":\"62701\"}],"
        "\"userType\":\"Employee\",\"title\":\"Engineer\",\"nickName\":\"Countess\"}",
        0, NULL);
    assert_non_null(expected);
    if (!json_equal(out, expected)) {
        char *got = json_dumps(out, JSON_SORT_KEYS);
        fail_msg("unexpected SCIM user: %s", got);
        free(got);
    }
    json_decref(expected);
    json_decref(out);

    /* empty and absent values are left out */
    json_object_del(user, "address");
    json_object_set_new(user, "nickname", json_string(""));
    assert_int_equal(mapping_apply(m, user, &out), SC_OK);
    assert_null(json_object_get(out, "addresses"));
    assert_null(json_object_get(out, "nickName"));
    assert_string_equal(sc_json_get_string(out, "userName"), "ada");
    json_decref(out);
    json_decref(user);
    json_decref(rows);
    mapping_free(m);
}

static void test_expressions_and_extension(void **state)
{
    (void)state;
    json_t *rows = json_loads("[{\"target\":\"userName\",\"source\":\"lower(email)\"},"
                              "{\"target\":\"displayName\",\"source\":\"name.given + ' ' + "
                              "upper(name.family)\"},"
                              "{\"target\":\"department\",\"source\":\"population.name\"},"
                              "{\"target\":\"emails[type eq \\\"home\\\"].value\","
                              "\"source\":\"'home@example.com'\"}]",
                              0, NULL);
    assert_non_null(rows);
    struct mapping *m = NULL;
    struct sc_error e = {0};
    assert_int_equal(mapping_compile(rows, &m, &e), SC_OK);
    json_t *user = full_user(), *out = NULL;
    json_object_set_new(user, "email", json_string("Ada@Example.com"));
    assert_int_equal(mapping_apply(m, user, &out), SC_OK);
    assert_string_equal(sc_json_get_string(out, "userName"), "ada@example.com");
    assert_string_equal(sc_json_get_string(out, "displayName"), "Ada LOVELACE");
    json_t *ext = json_object_get(out, SCIM_SCHEMA_ENTERPRISE_USER);
    assert_non_null(ext);
    assert_string_equal(sc_json_get_string(ext, "department"), "Sales");
    json_t *schemas = json_object_get(out, "schemas");
    assert_int_equal(json_array_size(schemas), 2);
    json_t *emails = json_object_get(out, "emails");
    assert_int_equal(json_array_size(emails), 1);
    assert_string_equal(sc_json_get_string(json_array_get(emails, 0), "type"), "home");
    json_decref(out);
    json_decref(user);
    json_decref(rows);
    mapping_free(m);
}

static void assert_refused(const char *rows_text, const char *field, const char *needle)
{
    json_t *rows = json_loads(rows_text, 0, NULL);
    assert_non_null(rows);
    struct mapping *m = NULL;
    struct sc_error e = {0};
    enum sc_err rc = mapping_compile(rows, &m, &e);
    assert_true(rc == SC_ERR_INVALID || rc == SC_ERR_PARSE);
    assert_null(m);
    assert_string_equal(e.field, field);
    if (!strstr(e.message, needle))
        fail_msg("message \"%s\" lacks \"%s\"", e.message, needle);
    json_decref(rows);
}

static void test_validation(void **state)
{
    (void)state;
    assert_refused("{}", "mappings", "JSON array");
    assert_refused("[{\"target\":\"nickName\",\"source\":\"nickname\"}]", "mappings",
                   "must set userName");
    assert_refused("[{\"target\":\"userName\",\"source\":\"username\"},"
                   "{\"target\":\"workStreetAddress\",\"source\":\"address.streetAddress\"},"
                   "{\"target\":\"workStreetAddeess\",\"source\":\"address.streetAddress\"}]",
                   "mappings[2].target", "same attribute as mappings[1]");
    assert_refused("[{\"target\":\"userName\",\"source\":\"username\"},"
                   "{\"target\":\"userName\",\"source\":\"email\"}]",
                   "mappings[1].target", "same attribute as mappings[0]");
    assert_refused("[{\"target\":\"userName\",\"source\":\"username\"},"
                   "{\"target\":\"noSuchThing\",\"source\":\"email\"}]",
                   "mappings[1].target", "not a target attribute name");
    assert_refused("[{\"target\":\"userName\",\"source\":\"username\"},"
                   "{\"target\":\"title\",\"source\":\"\"}]",
                   "mappings[1].source", "is required");
    assert_refused("[{\"target\":\"userName\",\"source\":\"username\"},"
                   "{\"target\":\"title\",\"source\":\"title\"},"
                   "{\"target\":\"nickName\",\"source\":\"nickname\"},"
                   "{\"target\":\"displayName\",\"source\":\"lower(name.given\"}]",
                   "mappings[3].source", "at position 17: expected ',' or ')'");
    assert_refused("[{\"target\":\"userName\",\"source\":\"username\",\"x\":1}]", "mappings[0].x",
                   "unknown field");
    assert_refused("[\"userName\"]", "mappings[0]", "must be an object");
}

/* The resource built row by row with the SCIM core's path setter (the reference). */
static json_t *reference(const json_t *rows, const json_t *user)
{
    json_t *res = json_pack("{s:[s]}", "schemas", SCIM_SCHEMA_USER);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        struct expr *x = NULL;
        struct sc_error e = {0};
        assert_int_equal(expr_parse(sc_json_get_string(row, "source"), &x, &e), SC_OK);
        json_t *v = expr_eval(x, user);
        expr_free(x);
        if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
            json_decref(v);
            continue;
        }
        struct scim_path *p = NULL;
        struct scim_error se = {0};
        assert_int_equal(
            scim_path_parse(scim_alias_resolve(sc_json_get_string(row, "target")), &p, &se), SC_OK);
        assert_int_equal(scim_path_set(scim_resource_type_user(), res, p, v, &se), SC_OK);
        scim_path_free(p);
    }
    return res;
}

static void check_against_reference(const char *rows_text)
{
    json_t *rows = json_loads(rows_text, 0, NULL);
    assert_non_null(rows);
    struct mapping *m = NULL;
    struct sc_error e = {0};
    assert_int_equal(mapping_compile(rows, &m, &e), SC_OK);
    static const char *const removable[] = {"name",     "email", "primaryPhone", "address",
                                            "nickname", "title", "type",         "externalId"};
    for (unsigned variant = 0; variant < 64; variant++) {
        json_t *user = full_user();
        for (unsigned b = 0; b < 8; b++)
            if (variant & (1u << b) && (variant * 7 + b) % 3 != 0)
                json_object_del(user, removable[b]);
        json_t *want = reference(rows, user);
        for (int round = 0; round < 2; round++) { /* the second round uses the cache */
            json_t *got = NULL;
            assert_int_equal(mapping_apply(m, user, &got), SC_OK);
            if (!json_equal(got, want)) {
                char *g = json_dumps(got, JSON_SORT_KEYS), *w = json_dumps(want, JSON_SORT_KEYS);
                fail_msg("variant %u round %d:\n got %s\nwant %s", variant, round, g, w);
            }
            char *g = json_dumps(got, 0), *w = json_dumps(want, 0);
            assert_string_equal(g, w); /* same member order too */
            free(g);
            free(w);
            json_decref(got);
        }
        json_decref(want);
        json_decref(user);
    }
    mapping_free(m);
    json_decref(rows);
}

static void test_shape_cache(void **state)
{
    (void)state;
    json_t *d = mapping_defaults();
    char *text = json_dumps(d, 0);
    check_against_reference(text);
    free(text);
    /* the defaults plus the enterprise extension and a home email */
    json_array_append_new(
        d, json_pack("{s:s, s:s}", "target", "department", "source", "population.name"));
    json_array_append_new(d, json_pack("{s:s, s:s}", "target", "costCenter", "source", "title"));
    json_array_append_new(d, json_pack("{s:s, s:s}", "target", "emails[type eq \"home\"].value",
                                       "source", "upper(email)"));
    text = json_dumps(d, 0);
    check_against_reference(text);
    free(text);
    json_decref(d);
    /* rows that can steer the path setter (primary, a filtered attribute's type) */
    check_against_reference(
        "[{\"target\":\"userName\",\"source\":\"username\"},"
        "{\"target\":\"workEmail\",\"source\":\"email\"},"
        "{\"target\":\"emails[type eq \\\"home\\\"].value\",\"source\":\"lower(email)\"},"
        "{\"target\":\"emails[type eq \\\"home\\\"].primary\",\"source\":\"true\"},"
        "{\"target\":\"department\",\"source\":\"title\"},"
        "{\"target\":\"addresses[type eq \\\"work\\\"].type\",\"source\":\"type\"},"
        "{\"target\":\"addresses[type eq \\\"work\\\"].locality\","
        "\"source\":\"address.locality\"}]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_expressions_and_extension),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_shape_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
