/* Unit tests for the user-filter language: every operator, ALL/ANY and nesting, group
 * membership conditions, validation errors with their paths, caps, introspection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "directory/userfilter.h"

#include <stdlib.h>
#include <string.h>

static json_t *user(void)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:o, s:{s:s}, s:b, s:{s:s, s:s}}", "id",
                     "u1", "username", "Ada.Lovelace", "name", "given", "Ada", "family", "Lovelace",
                     "email", "ada@Example.com", "title", "Engineer", "nickname", json_null(),
                     "address", "countryCode", "GB", "enabled", 1, "population", "id", "p1", "name",
                     "Sales");
}

/* Compiles text (JSON), asserting success. */
static struct userfilter *compile(const char *text)
{
    json_error_t je;
    json_t *spec = json_loads(text, 0, &je);
    assert_non_null(spec);
    struct userfilter *f = NULL;
    struct sc_error e = {0};
    enum sc_err rc = userfilter_compile(spec, &f, &e);
    if (rc)
        fail_msg("compile %s: %s (%s)", text, e.message, e.field);
    json_decref(spec);
    return f;
}

/* Returns the match result of a one-condition ALL filter on user u. */
static int one(const json_t *u, const char *attr, const char *op, const char *value_json,
               const char *const *groups, size_t ngroups)
{
    char text[1024];
    if (value_json)
        snprintf(text, sizeof text,
                 "{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"%s\",\"operator\":\"%s\","
                 "\"value\":%s}]}",
                 attr, op, value_json);
    else
        snprintf(text, sizeof text,
                 "{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"%s\",\"operator\":\"%s\"}]}",
                 attr, op);
    struct userfilter *f = compile(text);
    int r = userfilter_match(f, u, groups, ngroups);
    userfilter_free(f);
    return r;
}

static void test_operators(void **state)
{
    (void)state;
    json_t *u = user();
    assert_true(one(u, "username", "EQUALS", "\"ada.lovelace\"", NULL, 0));
    assert_false(one(u, "username", "EQUALS", "\"ada\"", NULL, 0));
    assert_true(one(u, "username", "NOT_EQUALS", "\"ada\"", NULL, 0));
    assert_false(one(u, "username", "NOT_EQUALS", "\"ADA.LOVELACE\"", NULL, 0));
    assert_true(one(u, "nickname", "NOT_EQUALS", "\"x\"", NULL, 0)); /* null != x */
    assert_true(one(u, "email", "STARTS_WITH", "\"ADA@\"", NULL, 0));
    assert_false(one(u, "email", "STARTS_WITH", "\"bob\"", NULL, 0));
    assert_true(one(u, "email", "ENDS_WITH", "\"@example.COM\"", NULL, 0));
    assert_false(
        one(u, "email", "ENDS_WITH", "\"a-much-longer-suffix-than-the-value.com\"", NULL, 0));
    assert_true(one(u, "name.family", "CONTAINS", "\"LACE\"", NULL, 0));
    assert_false(one(u, "name.family", "CONTAINS", "\"zz\"", NULL, 0));
    assert_true(one(u, "address.countryCode", "IN", "[\"us\", \"gb\"]", NULL, 0));
    assert_false(one(u, "address.countryCode", "IN", "[\"us\", \"de\"]", NULL, 0));
    assert_true(one(u, "nickname", "IS_NULL", NULL, NULL, 0));
    assert_true(one(u, "primaryPhone", "IS_NULL", NULL, NULL, 0)); /* absent */
    assert_false(one(u, "title", "IS_NULL", NULL, NULL, 0));
    assert_true(one(u, "title", "IS_NOT_NULL", NULL, NULL, 0));
    assert_false(one(u, "nickname", "IS_NOT_NULL", NULL, NULL, 0));
    assert_true(one(u, "username", "MATCHES", "\"^ada\\\\.[a-z]+$\"", NULL, 0));
    assert_false(one(u, "username", "MATCHES", "\"^bob\"", NULL, 0));
    assert_true(one(u, "population.name", "EQUALS", "\"sales\"", NULL, 0));
    assert_true(one(u, "population.id", "EQUALS", "\"p1\"", NULL, 0));
    assert_true(one(u, "enabled", "EQUALS", "true", NULL, 0));
    assert_false(one(u, "enabled", "EQUALS", "\"false\"", NULL, 0));
    assert_false(one(u, "nickname", "EQUALS", "\"x\"", NULL, 0)); /* null matches nothing */
    json_decref(u);
}

static void test_group_conditions(void **state)
{
    (void)state;
    json_t *u = user();
    const char *groups[] = {"Engineering", "All Staff"};
    assert_true(one(u, "group", "EQUALS", "\"engineering\"", groups, 2));
    assert_false(one(u, "group", "EQUALS", "\"Sales\"", groups, 2));
    assert_true(one(u, "group", "NOT_EQUALS", "\"Sales\"", groups, 2));
    assert_false(one(u, "group", "NOT_EQUALS", "\"all staff\"", groups, 2));
    assert_true(one(u, "group", "STARTS_WITH", "\"All\"", groups, 2));
    assert_true(one(u, "group", "IN", "[\"x\", \"ALL STAFF\"]", groups, 2));
    assert_true(one(u, "group", "MATCHES", "\"^eng\"", groups, 2));
    assert_true(one(u, "group", "IS_NOT_NULL", NULL, groups, 2));
    assert_false(one(u, "group", "IS_NULL", NULL, groups, 2));
    assert_true(one(u, "group", "IS_NULL", NULL, NULL, 0));
    assert_false(one(u, "group", "EQUALS", "\"Engineering\"", NULL, 0));
    json_decref(u);
}

static void test_all_any_nesting(void **state)
{
    (void)state;
    json_t *u = user();
    const char *groups[] = {"Engineering"};
    struct userfilter *f =
        compile("{\"match\":\"ALL\",\"conditions\":["
                "{\"attribute\":\"population.name\",\"operator\":\"EQUALS\",\"value\":\"Sales\"},"
                "{\"match\":\"ANY\",\"conditions\":["
                "{\"attribute\":\"group\",\"operator\":\"EQUALS\",\"value\":\"Marketing\"},"
                "{\"attribute\":\"group\",\"operator\":\"EQUALS\",\"value\":\"Engineering\"}]}]}");
    assert_true(userfilter_match(f, u, groups, 1));
    assert_false(userfilter_match(f, u, NULL, 0));
    assert_true(userfilter_names_scope(f));
    assert_true(userfilter_uses_groups(f));
    assert_true(userfilter_uses_group(f, "marketing"));
    assert_false(userfilter_uses_group(f, "Finance"));
    json_t *gn = userfilter_group_names(f);
    assert_int_equal(json_array_size(gn), 2);
    assert_string_equal(json_string_value(json_array_get(gn, 0)), "Marketing");
    json_decref(gn);
    json_t *pn = userfilter_population_names(f);
    assert_int_equal(json_array_size(pn), 1);
    assert_string_equal(json_string_value(json_array_get(pn, 0)), "Sales");
    json_decref(pn);
    userfilter_free(f);

    f = compile("{\"match\":\"ANY\",\"conditions\":["
                "{\"attribute\":\"title\",\"operator\":\"EQUALS\",\"value\":\"CEO\"},"
                "{\"attribute\":\"title\",\"operator\":\"EQUALS\",\"value\":\"Engineer\"}]}");
    assert_true(userfilter_match(f, u, NULL, 0));
    assert_false(userfilter_names_scope(f));
    assert_false(userfilter_uses_group(f, "Engineering"));
    userfilter_free(f);

    f = compile("{\"match\":\"ALL\",\"conditions\":["
                "{\"attribute\":\"title\",\"operator\":\"EQUALS\",\"value\":\"CEO\"},"
                "{\"attribute\":\"title\",\"operator\":\"EQUALS\",\"value\":\"Engineer\"}]}");
    assert_false(userfilter_match(f, u, NULL, 0));
    userfilter_free(f);

    f = compile("{\"conditions\":[{\"attribute\":\"group\",\"operator\":\"STARTS_WITH\","
                "\"value\":\"Eng\"}]}"); /* match defaults to ALL */
    assert_true(userfilter_match(f, u, groups, 1));
    assert_true(userfilter_uses_group(f, "Engineers"));
    assert_false(userfilter_uses_group(f, "Sales"));
    userfilter_free(f);
    json_decref(u);
}

/* Asserts that text fails to compile with code and field. */
static void refused(const char *text, enum sc_err code, const char *field)
{
    json_t *spec = json_loads(text, 0, NULL);
    assert_non_null(spec);
    struct userfilter *f = NULL;
    struct sc_error e = {0};
    enum sc_err rc = userfilter_compile(spec, &f, &e);
    json_decref(spec);
    if (rc != code || strcmp(e.field, field) != 0)
        fail_msg("%s: got %d field '%s' (%s), want %d '%s'", text, rc, e.field, e.message, code,
                 field);
    assert_null(f);
    assert_true(strlen(e.message) > 0);
}

static void test_errors(void **state)
{
    (void)state;
    refused("{\"match\":\"SOME\",\"conditions\":[]}", SC_ERR_INVALID, "match");
    refused("{\"match\":\"ALL\",\"conditions\":[]}", SC_ERR_INVALID, "conditions");
    refused("{\"match\":\"ALL\"}", SC_ERR_INVALID, "conditions");
    refused("{\"match\":\"ALL\",\"conditions\":[],\"x\":1}", SC_ERR_INVALID, "x");
    refused("{\"attribute\":\"username\",\"operator\":\"EQUALS\",\"value\":\"a\"}", SC_ERR_INVALID,
            "match");
    refused("[1]", SC_ERR_INVALID, "");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"username\",\"operator\":"
            "\"EQUALS\",\"value\":\"a\"},{\"attribute\":\"username\",\"operator\":\"LIKE\","
            "\"value\":\"a\"}]}",
            SC_ERR_INVALID, "conditions[1].operator");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"shoeSize\",\"operator\":"
            "\"EQUALS\",\"value\":\"a\"}]}",
            SC_ERR_INVALID, "conditions[0].attribute");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"operator\":\"EQUALS\",\"value\":\"a\"}]}",
            SC_ERR_INVALID, "conditions[0].attribute");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"username\",\"operator\":"
            "\"EQUALS\"}]}",
            SC_ERR_INVALID, "conditions[0].value");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"username\",\"operator\":"
            "\"EQUALS\",\"value\":{}}]}",
            SC_ERR_INVALID, "conditions[0].value");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"username\",\"operator\":"
            "\"IN\",\"value\":\"a\"}]}",
            SC_ERR_INVALID, "conditions[0].value");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"username\",\"operator\":"
            "\"IS_NULL\",\"value\":\"a\"}]}",
            SC_ERR_INVALID, "conditions[0].value");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"username\",\"operator\":"
            "\"MATCHES\",\"value\":\"a(\"}]}",
            SC_ERR_INVALID, "conditions[0].value");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"username\",\"operator\":"
            "\"EQUALS\",\"value\":\"a\",\"extra\":1}]}",
            SC_ERR_INVALID, "conditions[0].extra");
    refused("{\"match\":\"ANY\",\"conditions\":[{\"match\":\"ALL\",\"conditions\":[{"
            "\"attribute\":\"username\",\"operator\":\"NOPE\",\"value\":\"a\"}]}]}",
            SC_ERR_INVALID, "conditions[0].conditions[0].operator");
    refused("{\"match\":\"ALL\",\"conditions\":[7]}", SC_ERR_INVALID, "conditions[0]");
}

static void test_caps(void **state)
{
    (void)state;
    /* nesting deeper than USERFILTER_MAX_DEPTH */
    json_t *leaf =
        json_pack("{s:s, s:s, s:s}", "attribute", "username", "operator", "EQUALS", "value", "a");
    json_t *spec = leaf;
    for (int i = 0; i < USERFILTER_MAX_DEPTH + 1; i++)
        spec = json_pack("{s:s, s:[o]}", "match", "ALL", "conditions", spec);
    struct userfilter *f = NULL;
    struct sc_error e = {0};
    assert_int_equal(userfilter_compile(spec, &f, &e), SC_ERR_TOO_LARGE);
    json_decref(spec);

    /* too many conditions */
    json_t *conds = json_array();
    for (int i = 0; i < USERFILTER_MAX_CONDITIONS + 1; i++)
        json_array_append_new(conds, json_pack("{s:s, s:s, s:s}", "attribute", "username",
                                               "operator", "EQUALS", "value", "a"));
    spec = json_pack("{s:s, s:o}", "match", "ANY", "conditions", conds);
    assert_int_equal(userfilter_compile(spec, &f, &e), SC_ERR_TOO_LARGE);
    assert_string_equal(e.field, "conditions");
    json_decref(spec);

    /* a value too long, a regex too long */
    char *big = malloc(USERFILTER_MAX_VALUE + 2);
    memset(big, 'a', USERFILTER_MAX_VALUE + 1);
    big[USERFILTER_MAX_VALUE + 1] = '\0';
    spec = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "match", "ALL", "conditions", "attribute",
                     "username", "operator", "EQUALS", "value", big);
    assert_int_equal(userfilter_compile(spec, &f, &e), SC_ERR_TOO_LARGE);
    assert_string_equal(e.field, "conditions[0].value");
    json_decref(spec);
    big[USERFILTER_MAX_REGEX + 1] = '\0';
    spec = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "match", "ALL", "conditions", "attribute",
                     "username", "operator", "MATCHES", "value", big);
    assert_int_equal(userfilter_compile(spec, &f, &e), SC_ERR_TOO_LARGE);
    json_decref(spec);
    free(big);
    assert_true(userfilter_attribute_known("address.countryCode"));
    assert_true(userfilter_attribute_known("GROUP"));
    assert_false(userfilter_attribute_known("address"));
}

/* A deterministic pseudo-random generator for the robustness test. */
static unsigned next_rand(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fff;
}

static json_t *random_value(unsigned *seed, int depth)
{
    static const char *const words[] = {
        "group", "username", "EQUALS", "IN", "MATCHES",         "ALL",
        "ANY",   "(",        "^a.*",   "",   "population.name", "IS_NULL"};
    static const char *const keys[] = {"match",    "conditions", "attribute",
                                       "operator", "value",      "x"};
    switch (next_rand(seed) % (depth > 4 ? 4 : 7)) {
    case 0:
        return json_string(words[next_rand(seed) % 12]);
    case 1:
        return json_integer(next_rand(seed));
    case 2:
        return json_null();
    case 3:
        return json_true();
    case 4: {
        json_t *a = json_array();
        for (unsigned i = next_rand(seed) % 4; i > 0; i--)
            json_array_append_new(a, random_value(seed, depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = next_rand(seed) % 4; i > 0; i--)
            json_object_set_new(o, keys[next_rand(seed) % 6], random_value(seed, depth + 1));
        return o;
    }
    }
}

static void test_random_specs(void **state)
{
    (void)state;
    unsigned seed = 42;
    json_t *u = user();
    const char *groups[] = {"a", "b"};
    int compiled = 0;
    for (int i = 0; i < 3000; i++) {
        json_t *spec = random_value(&seed, 0);
        struct userfilter *f = NULL;
        struct sc_error e = {0};
        if (userfilter_compile(spec, &f, &e) == SC_OK) {
            compiled++;
            userfilter_match(f, u, groups, 2);
            userfilter_names_scope(f);
            userfilter_uses_group(f, "a");
            json_decref(userfilter_group_names(f));
            userfilter_free(f);
        } else {
            assert_true(strlen(e.message) > 0);
        }
        json_decref(spec);
    }
    (void)compiled;
    json_decref(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operators),
        cmocka_unit_test(test_group_conditions),
        cmocka_unit_test(test_all_any_nesting),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_random_specs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
