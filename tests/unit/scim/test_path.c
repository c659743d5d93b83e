/* Unit tests for src/scim/path and src/scim/alias: parsing and printing paths, getting,
 * setting (building multi-valued entries and the extension object) and removing values,
 * and the alias table of SPEC §4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "scim/alias.h"
#include "scim/filter.h"
#include "scim/path.h"
#include "scim_test_util.h"

#include <string.h>

struct parse_case {
    const char *text;
    const char *schema; /* NULL = none */
    const char *attr;
    int has_filter;
    const char *sub;    /* NULL = none */
    const char *format; /* canonical text */
};

static const struct parse_case parse_cases[] = {
    {"userName", NULL, "userName", 0, NULL, "userName"},
    {"name.givenName", NULL, "name", 0, "givenName", "name.givenName"},
    {"name.familyName", NULL, "name", 0, "familyName", "name.familyName"},
    {"members", NULL, "members", 0, NULL, "members"},
    {"emails[type eq \"work\"].value", NULL, "emails", 1, "value",
     "emails[type eq \"work\"].value"},
    {"addresses[type eq \"work\"]", NULL, "addresses", 1, NULL, "addresses[type eq \"work\"]"},
    {"members[value eq \"2819c223-7f76-453a-919d-413861904646\"]", NULL, "members", 1, NULL,
     "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"},
    {"members[value eq \"2819c223-7f76-453a-919d-413861904646\"].displayName", NULL, "members", 1,
     "displayName", "members[value eq \"2819c223-7f76-453a-919d-413861904646\"].displayName"},
    {"emails[type eq \"work\" and value ew \"example.com\"]", NULL, "emails", 1, NULL,
     "emails[type eq \"work\" and value ew \"example.com\"]"},
    {ENT ":department", ENT, "department", 0, NULL, ENT ":department"},
    {ENT ":manager.value", ENT, "manager", 0, "value", ENT ":manager.value"},
    {"urn:ietf:params:scim:schemas:core:2.0:User:userName",
     "urn:ietf:params:scim:schemas:core:2.0:User", "userName", 0, NULL,
     "urn:ietf:params:scim:schemas:core:2.0:User:userName"},
    {"addresses[type eq \"work\" and streetAddress co \"]\"].locality", NULL, "addresses", 1,
     "locality", "addresses[type eq \"work\" and streetAddress co \"]\"].locality"},
    {"EMAILS[TYPE EQ \"work\"].VALUE", NULL, "EMAILS", 1, "VALUE",
     "EMAILS[TYPE eq \"work\"].VALUE"},
    {"$ref", NULL, "$ref", 0, NULL, "$ref"},
    {"members.$ref", NULL, "members", 0, "$ref", "members.$ref"},
};

static void test_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        const struct parse_case *c = &parse_cases[i];
        struct scim_path *p = NULL;
        struct scim_error err = {0};
        if (scim_path_parse(c->text, &p, &err) != SC_OK)
            fail_msg("[%s] did not parse: %s", c->text, err.detail);
        if (c->schema)
            assert_string_equal(p->schema, c->schema);
        else
            assert_null(p->schema);
        assert_string_equal(p->attr, c->attr);
        assert_int_equal(p->filter != NULL, c->has_filter);
        if (c->sub)
            assert_string_equal(p->sub, c->sub);
        else
            assert_null(p->sub);
        struct sc_buf b;
        sc_buf_init(&b, 0);
        assert_int_equal(scim_path_format(p, &b), SC_OK);
        assert_string_equal(b.data, c->format);
        sc_buf_free(&b);
        scim_path_free(p);
    }
    scim_path_free(NULL);
}

static void test_parse_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "name.",
        ".name",
        "emails[type eq \"work\"",
        "emails[type eq \"work\"]x",
        "emails[type eq \"work\"].",
        "emails[bad]",
        "emails[]",
        "name.givenName[type eq \"x\"]",
        "1abc",
        "a b",
        "emails[type eq \"work\"].value.x",
        "urn:ietf:params:scim:schemas:core:2.0:User:",
        "emails[type[value eq \"a\"]]",
        "emails[type eq \"unterminated]",
        "name.given.name",
        "user*Name",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct scim_path *p = NULL;
        struct scim_error err = {0};
        if (scim_path_parse(bad[i], &p, &err) == SC_OK) {
            scim_path_free(p);
            fail_msg("[%s] parsed but should not", bad[i]);
        }
        assert_null(p);
        assert_int_equal(err.status, 400);
        assert_string_equal(err.scim_type, "invalidPath");
    }
    char big[SCIM_PATH_MAX_LEN + 8];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct scim_path *p = NULL;
    struct scim_error err = {0};
    assert_int_equal(scim_path_parse(big, &p, &err), SC_ERR_INVALID);
    assert_int_equal(scim_path_parse(NULL, &p, &err), SC_ERR_INVALID);
}

static json_t *get(const json_t *res, const char *path)
{
    struct scim_path *p = NULL;
    assert_int_equal(scim_path_parse(path, &p, NULL), SC_OK);
    json_t *v = scim_path_get(scim_resource_type_user(), res, p);
    scim_path_free(p);
    return v;
}

static void test_get(void **state)
{
    (void)state;
    json_t *u = fix_json(FIX_USER);
    assert_string_equal(json_string_value(get(u, "userName")), "bjensen");
    assert_string_equal(json_string_value(get(u, "USERNAME")), "bjensen");
    assert_string_equal(json_string_value(get(u, "name.familyName")), "O'Malley");
    assert_string_equal(json_string_value(get(u, "emails[type eq \"work\"].value")),
                        "bjensen@example.com");
    assert_string_equal(json_string_value(get(u, "EMAILS[TYPE EQ \"WORK\"].VALUE")),
                        "bjensen@example.com");
    assert_string_equal(json_string_value(get(u, "emails[type eq \"home\"].value")),
                        "babs@jensen.org");
    assert_true(json_is_object(get(u, "emails[type eq \"home\"]")));
    assert_null(get(u, "emails[type eq \"other\"].value"));
    assert_null(get(u, "addresses[type eq \"home\"].locality"));
    assert_string_equal(json_string_value(get(u, "addresses[type eq \"work\"].locality")),
                        "Hollywood");
    assert_string_equal(json_string_value(get(u, "emails.value")), "bjensen@example.com");
    assert_string_equal(json_string_value(get(u, ENT ":department")), "Tour Operations");
    assert_string_equal(json_string_value(get(u, "department")), "Tour Operations");
    assert_string_equal(json_string_value(get(u, ENT ":manager.value")),
                        "26118915-6090-4610-87e4-49d8ca9f808d");
    assert_string_equal(json_string_value(get(u, "urn:ietf:params:scim:schemas:core:2.0:User:"
                                                 "userName")),
                        "bjensen");
    assert_null(get(u, "nickName"));
    assert_null(get(u, "name.middleName"));
    assert_null(get(u, ENT ":costCenter"));
    json_decref(u);
}

static json_t *set(json_t *res, const char *path, json_t *value, struct scim_error *err)
{
    struct scim_path *p = NULL;
    assert_int_equal(scim_path_parse(path, &p, NULL), SC_OK);
    enum sc_err rc = scim_path_set(scim_resource_type_user(), res, p, value, err);
    scim_path_free(p);
    return rc == SC_OK ? res : NULL;
}

static void test_set_builds_entries(void **state)
{
    (void)state;
    struct scim_error err = {0};
    json_t *r = json_pack("{s:[s]}", "schemas", "urn:ietf:params:scim:schemas:core:2.0:User");
    assert_non_null(set(r, "emails[type eq \"work\"].value", json_string("a@x.com"), &err));
    assert_json(r, "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
                   "\"emails\":[{\"type\":\"work\",\"value\":\"a@x.com\",\"primary\":true}]}");
    /* a second set changes the same entry */
    assert_non_null(set(r, "emails[type eq \"work\"].value", json_string("b@x.com"), &err));
    assert_int_equal(json_array_size(json_object_get(r, "emails")), 1);
    assert_string_equal(json_string_value(get(r, "emails[type eq \"work\"].value")), "b@x.com");
    /* a home email is not primary while the work one is */
    assert_non_null(set(r, "emails[type eq \"home\"].value", json_string("h@x.com"), &err));
    assert_false(json_is_true(get(r, "emails[type eq \"home\"].primary")));
    assert_true(json_is_true(get(r, "emails[type eq \"work\"].primary")));
    /* phone numbers and addresses get a type and no primary */
    assert_non_null(set(r, "phoneNumbers[type eq \"work\"].value", json_string("+1 555"), &err));
    assert_non_null(set(r, "addresses[type eq \"work\"].locality", json_string("Paris"), &err));
    assert_non_null(set(r, "addresses[type eq \"work\"].region", json_string("IDF"), &err));
    assert_json(json_object_get(r, "phoneNumbers"), "[{\"type\":\"work\",\"value\":\"+1 555\"}]");
    assert_json(json_object_get(r, "addresses"),
                "[{\"type\":\"work\",\"locality\":\"Paris\",\"region\":\"IDF\"}]");
    /* the enterprise extension: the object under its URN, and the URN in schemas */
    assert_non_null(set(r, ENT ":department", json_string("R&D"), &err));
    assert_non_null(set(r, "division", json_string("Labs"), &err));
    assert_non_null(set(r, ENT ":manager.value", json_string("m-1"), &err));
    assert_json(json_object_get(r, ENT),
                "{\"department\":\"R&D\",\"division\":\"Labs\",\"manager\":{\"value\":\"m-1\"}}");
    assert_json(json_object_get(r, "schemas"),
                "[\"urn:ietf:params:scim:schemas:core:2.0:User\",\"" ENT "\"]");
    /* complex attributes and names in schema spelling */
    assert_non_null(set(r, "NAME.GIVENNAME", json_string("Ann"), &err));
    assert_json(json_object_get(r, "name"), "{\"givenName\":\"Ann\"}");
    assert_non_null(set(r, "name.familyName", json_string("Lee"), &err));
    assert_non_null(set(r, "username", json_string("ann"), &err));
    assert_string_equal(json_string_value(json_object_get(r, "userName")), "ann");
    /* existing keys keep their spelling */
    json_object_set_new(r, "nickname", json_string("A"));
    assert_non_null(set(r, "nickName", json_string("B"), &err));
    assert_string_equal(json_string_value(json_object_get(r, "nickname")), "B");
    assert_null(json_object_get(r, "nickName"));
    /* a null value removes */
    assert_non_null(set(r, "nickName", json_null(), &err));
    assert_null(json_object_get(r, "nickname"));
    /* a filter with two eq terms builds both */
    assert_non_null(set(r, "ims[type eq \"xmpp\" and display eq \"chat\"].value",
                        json_string("a@jabber"), &err));
    assert_json(json_object_get(r, "ims"),
                "[{\"type\":\"xmpp\",\"display\":\"chat\",\"value\":\"a@jabber\"}]");
    /* a whole element through a filter without sub-attribute */
    assert_non_null(
        set(r, "addresses[type eq \"home\"]", json_pack("{s:s}", "locality", "Lyon"), &err));
    assert_string_equal(json_string_value(get(r, "addresses[type eq \"home\"].locality")), "Lyon");
    json_decref(r);
}

static void test_set_errors(void **state)
{
    (void)state;
    struct scim_error err = {0};
    json_t *r = fix_json(FIX_USER);
    /* a filter that matches nothing and cannot be built from */
    assert_null(set(r, "emails[value co \"zzz\"].type", json_string("x"), &err));
    assert_string_equal(err.scim_type, "noTarget");
    assert_null(set(r, "emails[type eq \"x\" or type eq \"y\"].value", json_string("x"), &err));
    assert_string_equal(err.scim_type, "noTarget");
    /* a sub-attribute of a multi-valued attribute without a filter */
    assert_null(set(r, "emails.value", json_string("x"), &err));
    assert_string_equal(err.scim_type, "invalidPath");
    /* a value filter on a single-valued attribute */
    assert_null(set(r, "title[type eq \"x\"].value", json_string("x"), &err));
    assert_string_equal(err.scim_type, "invalidPath");
    /* a whole element needs an object */
    assert_null(set(r, "emails[type eq \"other\"]", json_string("x"), &err));
    assert_string_equal(err.scim_type, "invalidValue");
    /* matching elements are all set */
    assert_non_null(set(r, "emails[value co \"@\"].display", json_string("d"), &err));
    assert_string_equal(json_string_value(get(r, "emails[type eq \"home\"].display")), "d");
    assert_string_equal(json_string_value(get(r, "emails[type eq \"work\"].display")), "d");
    json_decref(r);
}

static int rm(json_t *res, const char *path)
{
    struct scim_path *p = NULL;
    assert_int_equal(scim_path_parse(path, &p, NULL), SC_OK);
    int n = scim_path_remove(scim_resource_type_user(), res, p);
    scim_path_free(p);
    return n;
}

static void test_remove(void **state)
{
    (void)state;
    json_t *r = fix_json(FIX_USER);
    assert_int_equal(rm(r, "emails[type eq \"work\"]"), 1);
    assert_int_equal(json_array_size(json_object_get(r, "emails")), 1);
    assert_int_equal(rm(r, "emails[type eq \"work\"]"), 0);
    assert_int_equal(rm(r, "emails[type eq \"home\"].value"), 1);
    assert_int_equal(rm(r, "emails[type eq \"home\"].type"), 1);
    assert_null(json_object_get(r, "emails")); /* the last element went empty */
    assert_int_equal(rm(r, "name.givenName"), 1);
    assert_int_equal(rm(r, "name.familyName"), 1);
    assert_int_equal(rm(r, "name.formatted"), 1);
    assert_null(json_object_get(r, "name"));
    assert_int_equal(rm(r, "title"), 1);
    assert_int_equal(rm(r, "title"), 0);
    assert_int_equal(rm(r, "ims.value"), 1);
    /* emptying the extension removes it and its URN */
    assert_int_equal(rm(r, ENT ":department"), 1);
    assert_int_equal(rm(r, "employeeNumber"), 1);
    assert_non_null(json_object_get(r, ENT));
    assert_int_equal(rm(r, ENT ":manager"), 1);
    assert_null(json_object_get(r, ENT));
    assert_json(json_object_get(r, "schemas"), "[\"urn:ietf:params:scim:schemas:core:2.0:User\"]");
    json_decref(r);
}

static void test_alias_table(void **state)
{
    (void)state;
    static const char *const names[] = {
        "userName",       "givenName",         "familyName",        "formattedName", "nickName",
        "title",          "userType",          "externalId",        "active",        "workEmail",
        "workPhone",      "workStreetAddress", "workStreetAddeess", "workCity",      "workState",
        "workPostalCode", "workCountry",       "department",        "division",      "manager",
        "employeeNumber", "costCenter",        "organization"};
    assert_int_equal(scim_alias_count(), sizeof names / sizeof names[0]);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const struct scim_alias *a = scim_alias_find(names[i]);
        assert_non_null(a);
        assert_ptr_equal(a, scim_alias_at(i));
        assert_non_null(a->label);
        /* every alias path parses and names an attribute of the User */
        struct scim_error err = {0};
        assert_int_equal(scim_alias_check(names[i], &err), SC_OK);
        assert_int_equal(scim_alias_check(a->path, &err), SC_OK);
    }
    assert_null(scim_alias_at(scim_alias_count()));
    assert_string_equal(scim_alias_find("WORKEMAIL")->name, "workEmail");
    assert_string_equal(scim_alias_resolve("workEmail"), "emails[type eq \"work\"].value");
    assert_string_equal(scim_alias_resolve("givenName"), "name.givenName");
    assert_string_equal(scim_alias_resolve("formattedName"), "name.formatted");
    assert_string_equal(scim_alias_resolve("workCity"), "addresses[type eq \"work\"].locality");
    assert_string_equal(scim_alias_resolve("workCountry"), "addresses[type eq \"work\"].country");
    assert_string_equal(scim_alias_resolve("department"), ENT ":department");
    const struct scim_alias *typo = scim_alias_find("workStreetAddeess");
    assert_string_equal(typo->alias_of, "workStreetAddress");
    assert_string_equal(typo->path, scim_alias_find("workStreetAddress")->path);
    assert_null(scim_alias_find("workStreetAddress")->alias_of);
    /* anything else that is a valid path stands for itself */
    assert_string_equal(scim_alias_resolve("emails[type eq \"home\"].value"),
                        "emails[type eq \"home\"].value");
    assert_null(scim_alias_find("emails"));
    assert_null(scim_alias_find(NULL));

    static const struct {
        const char *name;
        const char *type; /* NULL = accepted */
    } checks[] = {
        {"emails[type eq \"home\"].value", NULL},
        {ENT ":costCenter", NULL},
        {"name.middleName", NULL},
        {"x509Certificates[type eq \"a\"].value", NULL},
        {"foo", "invalidPath"},
        {"name.nope", "invalidPath"},
        {"title[type eq \"x\"]", "invalidPath"},
        {"emails[type eq", "invalidPath"},
        {"", "invalidPath"},
        {"id", "mutability"},
        {"groups", "mutability"},
        {"meta.created", "mutability"},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        struct scim_error err = {0};
        enum sc_err rc = scim_alias_check(checks[i].name, &err);
        if (!checks[i].type) {
            if (rc != SC_OK)
                fail_msg("[%s] refused: %s", checks[i].name, err.detail);
        } else {
            assert_int_equal(rc, SC_ERR_INVALID);
            assert_string_equal(err.scim_type, checks[i].type);
        }
    }
}

static void test_alias_set(void **state)
{
    (void)state;
    /* setting every alias on an empty user gives the SCIM shape SPEC §4 promises */
    json_t *r = json_pack("{s:[s]}", "schemas", "urn:ietf:params:scim:schemas:core:2.0:User");
    for (size_t i = 0; i < scim_alias_count(); i++) {
        const struct scim_alias *a = scim_alias_at(i);
        json_t *v = strcmp(a->name, "active") == 0 ? json_true() : json_string(a->name);
        struct scim_error err = {0};
        assert_non_null(set(r, a->path, v, &err));
    }
    assert_json(r, "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\",\"" ENT "\"],"
                   "\"userName\":\"userName\","
                   "\"name\":{\"givenName\":\"givenName\",\"familyName\":\"familyName\","
                   "\"formatted\":\"formattedName\"},"
                   "\"nickName\":\"nickName\",\"title\":\"title\",\"userType\":\"userType\","
                   "\"externalId\":\"externalId\",\"active\":true,"
                   "\"emails\":[{\"type\":\"work\",\"value\":\"workEmail\",\"primary\":true}],"
                   "\"phoneNumbers\":[{\"type\":\"work\",\"value\":\"workPhone\"}],"
                   "\"addresses\":[{\"type\":\"work\",\"streetAddress\":\"workStreetAddeess\","
                   "\"locality\":\"workCity\",\"region\":\"workState\","
                   "\"postalCode\":\"workPostalCode\",\"country\":\"workCountry\"}],"
                   "\"" ENT "\":{\"department\":\"department\",\"division\":\"division\","
                   "\"manager\":{\"value\":\"manager\"},\"employeeNumber\":\"employeeNumber\","
                   "\"costCenter\":\"costCenter\",\"organization\":\"organization\"}}");
    /* and the result is a valid User */
    json_t *out = NULL;
    struct scim_error err = {0};
    assert_int_equal(scim_resource_validate(scim_resource_type_user(), r, SCIM_VALIDATE_CREATE,
                                            NULL, &out, &err),
                     SC_OK);
    json_decref(out);
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),       cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_get),         cmocka_unit_test(test_set_builds_entries),
        cmocka_unit_test(test_set_errors),  cmocka_unit_test(test_remove),
        cmocka_unit_test(test_alias_table), cmocka_unit_test(test_alias_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
