/* Unit tests for the directory attribute and operator tables: the seed's display names,
 * lookups by canonical or any-case spelling and by use, and that the user-filter
 * compiler and the expression parser accept exactly the table's fields and give each
 * operator row the meaning its name says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "directory/fields.h"
#include "directory/userfilter.h"

#include <jansson.h>
#include <string.h>

static void test_seed_labels(void **state)
{
    (void)state;
    static const char *const seed[][2] = {
        {"username", "Username"},
        {"name.given", "Given Name"},
        {"name.family", "Family Name"},
        {"name.formatted", "Formatted"},
        {"nickname", "Nickname"},
        {"title", "Title"},
        {"type", "Type"},
        {"email", "Email Address"},
        {"primaryPhone", "Primary Phone"},
        {"externalId", "External ID"},
        {"address.streetAddress", "Street Address"},
        {"address.locality", "Locality"},
        {"address.postalCode", "Postal Code"},
        {"address.countryCode", "Country Code"},
        {"population.name", "Population Name"},
    };
    for (size_t i = 0; i < sizeof seed / sizeof seed[0]; i++) {
        const struct directory_field *f = directory_field_find(seed[i][0], 0, 0);
        assert_non_null(f);
        assert_string_equal(f->label, seed[i][1]);
    }
}

static void test_find(void **state)
{
    (void)state;
    const struct directory_field *f = directory_field_find("NAME.GIVEN", 0, DIRECTORY_FIELD_SOURCE);
    assert_non_null(f);
    assert_string_equal(f->name, "name.given");
    /* a length prefix of a longer text */
    f = directory_field_find("email(x)", 5, DIRECTORY_FIELD_FILTER);
    assert_non_null(f);
    assert_string_equal(f->name, "email");
    assert_null(directory_field_find("group", 0, DIRECTORY_FIELD_SOURCE));
    assert_non_null(
        directory_field_find("group", 0, DIRECTORY_FIELD_FILTER | DIRECTORY_FIELD_SCOPE));
    assert_null(directory_field_find("password", 0, 0));
    assert_null(directory_field_find(NULL, 0, 0));
    assert_null(directory_field_at(directory_field_count()));
    assert_null(directory_operator_at(directory_operator_count()));
}

/* Every filter field of the table compiles in a filter; nothing else does. */
static void test_filter_uses_the_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < directory_field_count(); i++) {
        const struct directory_field *f = directory_field_at(i);
        assert_int_equal(userfilter_attribute_known(f->name),
                         (f->uses & DIRECTORY_FIELD_FILTER) != 0);
    }
    assert_false(userfilter_attribute_known("shoeSize"));
}

/* Each operator row means what its name says (the table's order is the compiler's). */
static void test_operator_rows(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *value; /* JSON */
        int matches;       /* for username "ada" */
    } cases[] = {
        {"EQUALS", "\"ad\"", 0},    {"NOT_EQUALS", "\"ad\"", 1}, {"STARTS_WITH", "\"ad\"", 1},
        {"ENDS_WITH", "\"ad\"", 0}, {"CONTAINS", "\"d\"", 1},    {"IN", "[\"x\", \"ADA\"]", 1},
        {"IS_NULL", "null", 0},     {"IS_NOT_NULL", "null", 1},  {"MATCHES", "\"^a.a$\"", 1},
    };
    assert_int_equal(directory_operator_count(), sizeof cases / sizeof cases[0]);
    json_t *user = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", "u1", "username", "ada",
                             "population", "id", "p1", "name", "Sales");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct directory_operator *o = directory_operator_at(i);
        assert_string_equal(o->name, cases[i].name);
        assert_int_equal(o->takes_value, strcmp(cases[i].value, "null") != 0);
        json_t *v = json_loads(cases[i].value, JSON_DECODE_ANY, NULL);
        json_t *spec = json_pack("{s:s, s:[{s:s, s:s, s:o}]}", "match", "ALL", "conditions",
                                 "attribute", "username", "operator", o->name, "value", v);
        struct userfilter *f = NULL;
        struct sc_error e = {0};
        assert_int_equal(userfilter_compile(spec, &f, &e), SC_OK);
        assert_int_equal(userfilter_match(f, user, NULL, 0), cases[i].matches);
        userfilter_free(f);
        json_decref(spec);
    }
    json_decref(user);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_labels),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_filter_uses_the_table),
        cmocka_unit_test(test_operator_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
