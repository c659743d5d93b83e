/* Unit tests for src/scim/patch: every PATCH example of RFC 7644 §3.5.2, the shapes
 * Entra ID and Okta send, multi-valued and primary semantics, the errors noTarget,
 * invalidPath, invalidValue, mutability, and the client side (diff, resource from a flat
 * attribute set). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "scim/patch.h"
#include "scim_test_util.h"

#include <stdio.h>
#include <string.h>

#define OPS(x)                                                                                     \
    "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[" x "]}"
#define U1 "2819c223-7f76-453a-919d-413861904646"
#define U2 "902c246b-6245-4190-8e05-00816be7344a"
#define U3 "08e1d05d-121c-4561-8b96-473d93df9210"

/* Applies body to a copy of res; returns the new resource or NULL (err filled). The
 * input must never change, whatever happens. */
static json_t *apply(const struct scim_resource_type *rt, const json_t *res, const char *body,
                     struct scim_error *err)
{
    json_t *b = fix_json(body);
    if (!b)
        fail_msg("bad test body %s", body);
    json_t *before = json_deep_copy(res);
    struct scim_patch *p = NULL;
    json_t *out = NULL;
    scim_error_clear(err);
    if (scim_patch_parse(b, &p, err) == SC_OK)
        scim_patch_apply(p, rt, res, &out, err);
    assert_true(json_equal(before, res));
    json_decref(before);
    scim_patch_free(p);
    json_decref(b);
    return out;
}

static json_t *user(void)
{
    json_t *u = fix_json(FIX_USER);
    json_object_del(u, "level");
    return u;
}

static void test_rfc_group_examples(void **state)
{
    (void)state;
    const struct scim_resource_type *gt = scim_resource_type_group();
    json_t *g = fix_json(FIX_GROUP);
    struct scim_error err = {0};

    /* §3.5.2.1: add a member */
    json_t *r = apply(gt, g,
                      OPS("{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"display\":\"James "
                          "Smith\",\"$ref\":\"https://example.com/v2/Users/" U3 "\",\"value\":\"" U3
                          "\"}]}"),
                      &err);
    assert_non_null(r);
    assert_int_equal(json_array_size(json_object_get(r, "members")), 3);
    json_decref(r);
    /* adding a member that is already there changes nothing */
    r = apply(gt, g,
              OPS("{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"" U1
                  "\",\"$ref\":\"https://example.com/v2/Users/" U1
                  "\",\"display\":\"Babs Jensen\"}]}"),
              &err);
    assert_int_equal(json_array_size(json_object_get(r, "members")), 2);
    json_decref(r);

    /* §3.5.2.2: remove one member, then all members */
    r = apply(gt, g, OPS("{\"op\":\"remove\",\"path\":\"members[value eq \\\"" U1 "\\\"]\"}"),
              &err);
    assert_non_null(r);
    assert_int_equal(json_array_size(json_object_get(r, "members")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r, "members"), 0), "value")),
                        U2);
    json_decref(r);
    r = apply(gt, g, OPS("{\"op\":\"remove\",\"path\":\"members\"}"), &err);
    assert_non_null(r);
    assert_null(json_object_get(r, "members"));
    assert_string_equal(json_string_value(json_object_get(r, "displayName")), "Tour Guides");
    json_decref(r);

    /* §3.5.2.2: remove a member and add another (the RFC writes eq\"...\" unspaced) */
    r = apply(gt, g,
              OPS("{\"op\":\"remove\",\"path\":\"members[value eq\\\"" U1 "\\\"]\"},"
                  "{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"display\":\"James "
                  "Smith\",\"$ref\":\"https://example.com/v2/Users/" U3 "\",\"value\":\"" U3
                  "\"}]}"),
              &err);
    assert_non_null(r);
    assert_int_equal(json_array_size(json_object_get(r, "members")), 2);
    json_decref(r);

    /* §3.5.2.3: replace all members */
    r = apply(gt, g,
              OPS("{\"op\":\"replace\",\"path\":\"members\",\"value\":[{\"display\":\"Babs "
                  "Jensen\",\"$ref\":\"https://example.com/v2/Users/" U1 "\",\"value\":\"" U1
                  "\"},{\"display\":\"James Smith\",\"$ref\":\"https://example.com/v2/Users/" U3
                  "\",\"value\":\"" U3 "\"}]}"),
              &err);
    assert_non_null(r);
    assert_json(json_object_get(r, "members"),
                "[{\"display\":\"Babs Jensen\",\"$ref\":\"https://example.com/v2/Users/" U1
                "\",\"value\":\"" U1 "\"},{\"display\":\"James Smith\","
                "\"$ref\":\"https://example.com/v2/Users/" U3 "\",\"value\":\"" U3 "\"}]");
    json_decref(r);

    /* Entra: remove members by value */
    r = apply(gt, g,
              OPS("{\"op\":\"Remove\",\"path\":\"members\",\"value\":[{\"value\":\"" U1 "\"}]}"),
              &err);
    assert_non_null(r);
    assert_int_equal(json_array_size(json_object_get(r, "members")), 1);
    json_decref(r);
    /* Entra: add one member as an object, not an array */
    r = apply(gt, g, OPS("{\"op\":\"Add\",\"path\":\"members\",\"value\":{\"value\":\"" U3 "\"}}"),
              &err);
    assert_non_null(r);
    assert_int_equal(json_array_size(json_object_get(r, "members")), 3);
    json_decref(r);
    /* removing a member that is not there is not an error */
    r = apply(gt, g, OPS("{\"op\":\"remove\",\"path\":\"members[value eq \\\"nobody\\\"]\"}"),
              &err);
    assert_non_null(r);
    assert_int_equal(json_array_size(json_object_get(r, "members")), 2);
    json_decref(r);
    /* members.value is immutable; displayName is required */
    r = apply(gt, g,
              OPS("{\"op\":\"replace\",\"path\":\"members[value eq \\\"" U1
                  "\\\"].value\",\"value\":\"x\"}"),
              &err);
    assert_null(r);
    assert_string_equal(err.scim_type, "mutability");
    r = apply(gt, g, OPS("{\"op\":\"remove\",\"path\":\"displayName\"}"), &err);
    assert_null(r);
    assert_string_equal(err.scim_type, "invalidValue");
    assert_non_null(strstr(err.detail, "displayName is required"));
    r = apply(gt, g,
              OPS("{\"op\":\"replace\",\"path\":\"members[value eq \\\"" U1
                  "\\\"].displayName\",\"value\":\"x\"}"),
              &err);
    assert_null(r);
    assert_string_equal(err.scim_type, "invalidPath");
    json_decref(g);
}

static void test_rfc_user_examples(void **state)
{
    (void)state;
    const struct scim_resource_type *ut = scim_resource_type_user();
    json_t *u = user();
    struct scim_error err = {0};

    /* §3.5.2.1: add without path */
    json_t *r = apply(ut, u,
                      OPS("{\"op\":\"add\",\"value\":{\"emails\":[{\"value\":\"babs@jensen.org\","
                          "\"type\":\"home\"}],\"nickname\":\"Babs\"}}"),
                      &err);
    assert_non_null(r);
    assert_int_equal(json_array_size(json_object_get(r, "emails")), 2);
    assert_string_equal(json_string_value(json_object_get(r, "nickName")), "Babs");
    json_decref(r);
    r = apply(ut, u,
              OPS("{\"op\":\"add\",\"value\":{\"emails\":[{\"value\":\"b@other.org\","
                  "\"type\":\"other\"}]}}"),
              &err);
    assert_int_equal(json_array_size(json_object_get(r, "emails")), 3);
    json_decref(r);

    /* §3.5.2.2: remove with a complex filter */
    r = apply(ut, u,
              OPS("{\"op\":\"remove\",\"path\":\"emails[type eq \\\"work\\\" and value ew "
                  "\\\"example.com\\\"]\"}"),
              &err);
    assert_non_null(r);
    assert_json(json_object_get(r, "emails"),
                "[{\"value\":\"babs@jensen.org\",\"type\":\"home\"}]");
    json_decref(r);

    /* §3.5.2.3: replace a whole address, then one sub-attribute */
    r = apply(ut, u,
              OPS("{\"op\":\"replace\",\"path\":\"addresses[type eq \\\"work\\\"]\",\"value\":{"
                  "\"type\":\"work\",\"streetAddress\":\"911 Universal City Plaza\","
                  "\"locality\":\"Hollywood\",\"region\":\"CA\",\"postalCode\":\"91608\","
                  "\"country\":\"US\",\"formatted\":\"911 Universal City Plaza\\nHollywood, CA "
                  "91608 US\",\"primary\":true}}"),
              &err);
    assert_non_null(r);
    assert_json(json_object_get(r, "addresses"),
                "[{\"type\":\"work\",\"streetAddress\":\"911 Universal City Plaza\","
                "\"locality\":\"Hollywood\",\"region\":\"CA\",\"postalCode\":\"91608\","
                "\"country\":\"US\",\"formatted\":\"911 Universal City Plaza\\nHollywood, CA "
                "91608 US\",\"primary\":true}]");
    json_decref(r);
    r = apply(ut, u,
              OPS("{\"op\":\"replace\",\"path\":\"addresses[type eq "
                  "\\\"work\\\"].streetAddress\",\"value\":\"1010 Broadway Ave\"}"),
              &err);
    assert_non_null(r);
    assert_json(json_object_get(r, "addresses"),
                "[{\"type\":\"work\",\"streetAddress\":\"1010 Broadway Ave\","
                "\"locality\":\"Hollywood\",\"region\":\"CA\",\"postalCode\":\"91608\","
                "\"country\":\"USA\",\"primary\":true}]");
    json_decref(r);

    /* §3.5.2.3: replace without path */
    r = apply(ut, u,
              OPS("{\"op\":\"replace\",\"value\":{\"emails\":[{\"value\":\"bjensen@example.com\","
                  "\"type\":\"work\",\"primary\":true},{\"value\":\"babs@jensen.org\",\"type\":"
                  "\"home\"}],\"nickname\":\"Babs\"}}"),
              &err);
    assert_non_null(r);
    assert_json(json_object_get(r, "emails"),
                "[{\"value\":\"bjensen@example.com\",\"type\":\"work\",\"primary\":true},"
                "{\"value\":\"babs@jensen.org\",\"type\":\"home\"}]");
    assert_string_equal(json_string_value(json_object_get(r, "nickName")), "Babs");
    /* id and meta are kept */
    assert_true(json_equal(json_object_get(r, "id"), json_object_get(u, "id")));
    assert_true(json_equal(json_object_get(r, "meta"), json_object_get(u, "meta")));
    json_decref(r);
    json_decref(u);
}

struct pcase {
    const char *body;
    const char *check_path; /* a dotted path into the result, or NULL */
    const char *check_json; /* its expected JSON value ("null" = absent) */
    const char *error;      /* scimType expected, or NULL for success */
};

static const struct pcase pcases[] = {
    /* case-insensitive op names (Entra sends "Replace") */
    {OPS("{\"op\":\"Replace\",\"path\":\"active\",\"value\":false}"), "active", "false", NULL},
    {OPS("{\"op\":\"ADD\",\"path\":\"title\",\"value\":\"Boss\"}"), "title", "\"Boss\"", NULL},
    {OPS("{\"op\":\"replace\",\"path\":\"TITLE\",\"value\":\"Boss\"}"), "title", "\"Boss\"", NULL},
    /* Entra: extension attributes by URN path, with and without a path */
    {OPS("{\"op\":\"Replace\",\"path\":\"" ENT ":department\",\"value\":\"X\"}"), ENT,
     "{\"employeeNumber\":\"701984\",\"department\":\"X\",\"manager\":{\"value\":"
     "\"26118915-6090-4610-87e4-49d8ca9f808d\",\"displayName\":\"John Smith\"}}",
     NULL},
    {OPS("{\"op\":\"replace\",\"value\":{\"" ENT ":department\":\"Y\",\"name.givenName\":\"Z\"}}"),
     "name",
     "{\"formatted\":\"Ms. Barbara J Jensen III\",\"familyName\":\"O'Malley\","
     "\"givenName\":\"Z\"}",
     NULL},
    {OPS("{\"op\":\"add\",\"value\":{\"" ENT "\":{\"costCenter\":\"C1\"}}}"), ENT,
     "{\"employeeNumber\":\"701984\",\"department\":\"Tour Operations\",\"costCenter\":\"C1\","
     "\"manager\":{\"value\":\"26118915-6090-4610-87e4-49d8ca9f808d\",\"displayName\":\"John "
     "Smith\"}}",
     NULL},
    {OPS("{\"op\":\"remove\",\"path\":\"" ENT ":manager\"}"), ENT,
     "{\"employeeNumber\":\"701984\",\"department\":\"Tour Operations\"}", NULL},
    /* a whole extension as the path */
    {OPS("{\"op\":\"add\",\"path\":\"" ENT "\",\"value\":{\"costCenter\":\"C2\"}}"), ENT,
     "{\"employeeNumber\":\"701984\",\"department\":\"Tour Operations\",\"costCenter\":\"C2\","
     "\"manager\":{\"value\":\"26118915-6090-4610-87e4-49d8ca9f808d\",\"displayName\":\"John "
     "Smith\"}}",
     NULL},
    {OPS("{\"op\":\"remove\",\"path\":\"" ENT "\"}"), "schemas",
     "[\"urn:ietf:params:scim:schemas:core:2.0:User\"]", NULL},
    {OPS("{\"op\":\"replace\",\"path\":\"" ENT "\",\"value\":\"x\"}"), NULL, NULL, "invalidValue"},
    /* complex attributes merge on replace and add */
    {OPS("{\"op\":\"replace\",\"path\":\"name\",\"value\":{\"givenName\":\"Q\"}}"), "name",
     "{\"formatted\":\"Ms. Barbara J Jensen III\",\"familyName\":\"O'Malley\",\"givenName\":"
     "\"Q\"}",
     NULL},
    {OPS("{\"op\":\"add\",\"path\":\"name.middleName\",\"value\":\"J\"}"), "name",
     "{\"formatted\":\"Ms. Barbara J Jensen III\",\"familyName\":\"O'Malley\",\"givenName\":"
     "\"Barbara\",\"middleName\":\"J\"}",
     NULL},
    /* value filters: add builds the element, replace needs a match */
    {OPS("{\"op\":\"add\",\"path\":\"emails[type eq \\\"other\\\"].value\",\"value\":\"o@x\"}"),
     "emails",
     "[{\"value\":\"bjensen@example.com\",\"type\":\"work\",\"primary\":true},"
     "{\"value\":\"babs@jensen.org\",\"type\":\"home\"},{\"type\":\"other\",\"value\":\"o@x\"}]",
     NULL},
    {OPS("{\"op\":\"replace\",\"path\":\"emails[type eq \\\"other\\\"].value\",\"value\":\"o@x\"}"),
     NULL, NULL, "noTarget"},
    {OPS("{\"op\":\"replace\",\"path\":\"emails[type eq \\\"work\\\"].value\",\"value\":\"n@x\"}"),
     "emails",
     "[{\"value\":\"n@x\",\"type\":\"work\",\"primary\":true},"
     "{\"value\":\"babs@jensen.org\",\"type\":\"home\"}]",
     NULL},
    {OPS("{\"op\":\"replace\",\"path\":\"addresses[type eq \\\"work\\\"].formatted\",\"value\":"
         "\"F\"}"),
     "addresses",
     "[{\"type\":\"work\",\"streetAddress\":\"100 Universal City Plaza\",\"locality\":"
     "\"Hollywood\",\"region\":\"CA\",\"postalCode\":\"91608\",\"country\":\"USA\",\"primary\":"
     "true,\"formatted\":\"F\"}]",
     NULL},
    /* primary: a new primary value clears the others */
    {OPS("{\"op\":\"add\",\"path\":\"emails\",\"value\":[{\"value\":\"new@x\",\"type\":\"other\","
         "\"primary\":true}]}"),
     "emails",
     "[{\"value\":\"bjensen@example.com\",\"type\":\"work\",\"primary\":false},"
     "{\"value\":\"babs@jensen.org\",\"type\":\"home\"},"
     "{\"value\":\"new@x\",\"type\":\"other\",\"primary\":true}]",
     NULL},
    {OPS("{\"op\":\"replace\",\"path\":\"emails[type eq \\\"home\\\"].primary\",\"value\":true}"),
     "emails",
     "[{\"value\":\"bjensen@example.com\",\"type\":\"work\",\"primary\":false},"
     "{\"value\":\"babs@jensen.org\",\"type\":\"home\",\"primary\":true}]",
     NULL},
    /* several operations in order; null values remove */
    {OPS("{\"op\":\"add\",\"path\":\"title\",\"value\":\"A\"},{\"op\":\"replace\",\"path\":"
         "\"title\",\"value\":\"B\"}"),
     "title", "\"B\"", NULL},
    {OPS("{\"op\":\"replace\",\"path\":\"title\",\"value\":null}"), "title", "null", NULL},
    {OPS("{\"op\":\"replace\",\"value\":{\"title\":null,\"nickName\":\"N\"}}"), "title", "null",
     NULL},
    {OPS("{\"op\":\"remove\",\"path\":\"emails[type eq \\\"work\\\"].value\"}"), "emails",
     "[{\"type\":\"work\",\"primary\":true},{\"value\":\"babs@jensen.org\",\"type\":\"home\"}]",
     NULL},
    /* readOnly: writing the same value is harmless, a change is refused */
    {OPS("{\"op\":\"replace\",\"value\":{\"id\":\"2819c223-7f76-453a-919d-413861904646\","
         "\"active\":false}}"),
     "active", "false", NULL},
    {OPS("{\"op\":\"replace\",\"path\":\"id\",\"value\":\"other\"}"), NULL, NULL, "mutability"},
    {OPS("{\"op\":\"replace\",\"path\":\"meta.created\",\"value\":\"2020-01-01T00:00:00Z\"}"), NULL,
     NULL, "mutability"},
    {OPS("{\"op\":\"add\",\"path\":\"groups\",\"value\":[{\"value\":\"g\"}]}"), NULL, NULL,
     "mutability"},
    {OPS("{\"op\":\"remove\",\"path\":\"meta\"}"), NULL, NULL, "mutability"},
    /* what Entra ID sends: a boolean as a string, the manager as a bare id on the
     * extension's path, in the extension object without path, and in a replace of the
     * whole extension */
    {OPS("{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"}"), "active", "false", NULL},
    {OPS("{\"op\":\"replace\",\"value\":{\"active\":\"true\"}}"), "active", "true", NULL},
    {OPS("{\"op\":\"Add\",\"path\":\"" ENT ":manager\",\"value\":\"m1\"}"), ENT,
     "{\"employeeNumber\":\"701984\",\"department\":\"Tour Operations\",\"manager\":{"
     "\"value\":\"m1\"}}",
     NULL},
    {OPS("{\"op\":\"replace\",\"value\":{\"" ENT ":manager\":\"m2\"}}"), ENT,
     "{\"employeeNumber\":\"701984\",\"department\":\"Tour Operations\",\"manager\":{"
     "\"value\":\"m2\"}}",
     NULL},
    {OPS("{\"op\":\"replace\",\"value\":{\"" ENT "\":{\"manager\":\"m3\"}}}"), ENT,
     "{\"employeeNumber\":\"701984\",\"department\":\"Tour Operations\",\"manager\":{"
     "\"value\":\"m3\"}}",
     NULL},
    {OPS("{\"op\":\"add\",\"path\":\"" ENT "\",\"value\":{\"manager\":\"m4\"}}"), ENT,
     "{\"employeeNumber\":\"701984\",\"department\":\"Tour Operations\",\"manager\":{"
     "\"value\":\"m4\"}}",
     NULL},
    /* results that are not valid resources */
    {OPS("{\"op\":\"remove\",\"path\":\"userName\"}"), NULL, NULL, "invalidValue"},
    {OPS("{\"op\":\"replace\",\"path\":\"active\",\"value\":\"yes\"}"), NULL, NULL, "invalidValue"},
    {OPS("{\"op\":\"replace\",\"path\":\"emails\",\"value\":[{\"value\":\"a\",\"primary\":true},"
         "{\"value\":\"b\",\"primary\":true}]}"),
     NULL, NULL, "invalidValue"},
    {OPS("{\"op\":\"add\",\"path\":\"name\",\"value\":{\"nickName\":\"x\"}}"), NULL, NULL,
     "invalidValue"},
    /* bad paths */
    {OPS("{\"op\":\"add\",\"path\":\"foo\",\"value\":1}"), NULL, NULL, "invalidPath"},
    {OPS("{\"op\":\"add\",\"value\":{\"foo\":1}}"), NULL, NULL, "invalidPath"},
    {OPS("{\"op\":\"add\",\"value\":{\"bad key\":1}}"), NULL, NULL, "invalidPath"},
    {OPS("{\"op\":\"add\",\"path\":\"name.nope\",\"value\":1}"), NULL, NULL, "invalidPath"},
    {OPS("{\"op\":\"add\",\"path\":\"title[type eq \\\"x\\\"]\",\"value\":1}"), NULL, NULL,
     "invalidPath"},
    {OPS("{\"op\":\"replace\",\"path\":\"emails.value\",\"value\":\"x\"}"), NULL, NULL,
     "invalidPath"},
    {OPS("{\"op\":\"add\",\"path\":\"emails[type eq\",\"value\":1}"), NULL, NULL, "invalidPath"},
    {OPS("{\"op\":\"add\",\"path\":7,\"value\":1}"), NULL, NULL, "invalidPath"},
    /* bad bodies */
    {OPS("{\"op\":\"remove\"}"), NULL, NULL, "noTarget"},
    {OPS("{\"op\":\"move\",\"path\":\"title\"}"), NULL, NULL, "invalidSyntax"},
    {OPS("{\"path\":\"title\",\"value\":\"x\"}"), NULL, NULL, "invalidSyntax"},
    {OPS("{\"op\":\"add\",\"path\":\"title\"}"), NULL, NULL, "invalidValue"},
    {OPS("{\"op\":\"add\",\"value\":\"x\"}"), NULL, NULL, "invalidValue"},
    {OPS("1"), NULL, NULL, "invalidSyntax"},
    {OPS(""), NULL, NULL, "invalidSyntax"},
    {"{\"Operations\":[{\"op\":\"add\",\"path\":\"title\",\"value\":\"x\"}]}", NULL, NULL,
     "invalidSyntax"},
    {"{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"]}", NULL, NULL,
     "invalidSyntax"},
    {"[]", NULL, NULL, "invalidSyntax"},
    /* the member name Operations is matched case-insensitively */
    {"{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"operations\":[{\"op\":"
     "\"add\",\"path\":\"title\",\"value\":\"T\"}]}",
     "title", "\"T\"", NULL},
};

static void test_patch_table(void **state)
{
    (void)state;
    json_t *u = user();
    for (size_t i = 0; i < sizeof pcases / sizeof pcases[0]; i++) {
        const struct pcase *c = &pcases[i];
        struct scim_error err = {0};
        json_t *r = apply(scim_resource_type_user(), u, c->body, &err);
        if (c->error) {
            if (r)
                fail_msg("case %zu [%s] succeeded, expected %s", i, c->body, c->error);
            assert_int_equal(err.status, 400);
            if (strcmp(err.scim_type, c->error) != 0)
                fail_msg("case %zu [%s]: got %s (%s), expected %s", i, c->body, err.scim_type,
                         err.detail, c->error);
            continue;
        }
        if (!r)
            fail_msg("case %zu [%s] failed: %s %s", i, c->body, err.scim_type, err.detail);
        if (c->check_path) {
            json_t *v = json_object_get(r, c->check_path);
            if (strcmp(c->check_json, "null") == 0)
                assert_null(v);
            else
                assert_json(v, c->check_json);
        }
        json_decref(r);
    }
    json_decref(u);
}

static void test_too_many_operations(void **state)
{
    (void)state;
    json_t *body = scim_patch_body_new();
    for (int i = 0; i <= SCIM_PATCH_MAX_OPERATIONS; i++)
        scim_patch_body_add(body, "add", "title", json_string("x"));
    struct scim_patch *p = NULL;
    struct scim_error err = {0};
    assert_int_equal(scim_patch_parse(body, &p, &err), SC_ERR_INVALID);
    assert_string_equal(err.scim_type, "tooMany");
    json_array_remove(json_object_get(body, "Operations"), 0);
    assert_int_equal(scim_patch_parse(body, &p, &err), SC_OK);
    assert_int_equal(p->count, SCIM_PATCH_MAX_OPERATIONS);
    assert_int_equal(p->ops[0].kind, SCIM_PATCH_ADD);
    assert_string_equal(p->ops[0].path->attr, "title");
    scim_patch_free(p);
    scim_patch_free(NULL);
    json_decref(body);
}

static void test_diff(void **state)
{
    (void)state;
    struct scim_error err = {0};
    json_t *out = NULL;
    json_t *n = fix_json("{\"userName\":\"a\",\"workEmail\":\"a@x\"}");
    assert_int_equal(scim_patch_diff(NULL, n, &out, &err), SC_OK);
    /* the work email is not on the target: its element is added whole */
    assert_json(out, OPS("{\"op\":\"add\",\"path\":\"userName\",\"value\":\"a\"},"
                         "{\"op\":\"add\",\"path\":\"emails\",\"value\":[{\"type\":"
                         "\"work\",\"value\":\"a@x\",\"primary\":true}]}"));
    json_decref(out);
    json_decref(n);

    json_t *o = fix_json("{\"userName\":\"a\",\"title\":\"t\",\"workCity\":\"P\",\"nickName\":"
                         "\"n\",\"userType\":null}");
    n = fix_json("{\"userName\":\"a\",\"title\":\"u\",\"department\":\"D\",\"workCity\":null,"
                 "\"userType\":null}");
    assert_int_equal(scim_patch_diff(o, n, &out, &err), SC_OK);
    assert_json(out, OPS("{\"op\":\"replace\",\"path\":\"title\",\"value\":\"u\"},"
                         "{\"op\":\"add\",\"path\":\"" ENT ":department\",\"value\":\"D\"},"
                         "{\"op\":\"remove\",\"path\":\"addresses[type eq \\\"work\\\"]\"},"
                         "{\"op\":\"remove\",\"path\":\"nickName\"}"));
    json_decref(out);
    /* nothing changed: no body at all */
    out = (json_t *)1;
    assert_int_equal(scim_patch_diff(o, o, &out, &err), SC_OK);
    assert_null(out);
    json_decref(n);
    /* unknown names are refused */
    n = fix_json("{\"bad name!\":\"x\"}");
    assert_int_equal(scim_patch_diff(o, n, &out, &err), SC_ERR_INVALID);
    assert_string_equal(err.scim_type, "invalidPath");
    json_decref(n);
    json_decref(o);
    assert_int_equal(scim_patch_diff(NULL, NULL, &out, &err), SC_ERR_INVALID);
}

static void test_diff_round_trip(void **state)
{
    (void)state;
    /* what the engine does: build the resource from the old attributes, PATCH it with the
     * diff, and find the new attributes there */
    struct scim_error err = {0};
    json_t *o = fix_json("{\"userName\":\"bjensen\",\"givenName\":\"Barbara\",\"workEmail\":"
                         "\"b@x.com\",\"workCity\":\"Paris\",\"active\":true}");
    json_t *n = fix_json("{\"userName\":\"bjensen\",\"givenName\":\"Babs\",\"workEmail\":"
                         "\"babs@x.com\",\"workCity\":\"Lyon\",\"workState\":\"ARA\","
                         "\"active\":false,\"department\":\"Tours\",\"title\":\"Guide\"}");
    json_t *res = NULL, *body = NULL, *after = NULL, *want = NULL;
    assert_int_equal(scim_resource_from_attrs(o, &res, &err), SC_OK);
    json_object_set_new(res, "id", json_string("id-1"));
    assert_int_equal(scim_patch_diff(o, n, &body, &err), SC_OK);
    struct scim_patch *p = NULL;
    assert_int_equal(scim_patch_parse(body, &p, &err), SC_OK);
    if (scim_patch_apply(p, scim_resource_type_user(), res, &after, &err) != SC_OK)
        fail_msg("apply: %s %s", err.scim_type, err.detail);
    assert_int_equal(scim_resource_from_attrs(n, &want, &err), SC_OK);
    json_object_set_new(want, "id", json_string("id-1"));
    json_t *norm = NULL;
    assert_int_equal(scim_resource_validate(scim_resource_type_user(), want, SCIM_VALIDATE_PATCHED,
                                            NULL, &norm, &err),
                     SC_OK);
    assert_true(json_equal(after, norm));
    json_decref(norm);
    json_decref(want);
    json_decref(after);
    scim_patch_free(p);
    json_decref(body);
    json_decref(res);
    json_decref(n);
    json_decref(o);
}

static void test_resource_from_attrs(void **state)
{
    (void)state;
    /* the seed's mapping rows, through their target names */
    json_t *attrs =
        fix_json("{\"userName\":\"bjensen@example.com\",\"givenName\":\"Barbara\","
                 "\"familyName\":\"Jensen\",\"formattedName\":\"Barbara Jensen\","
                 "\"nickName\":\"Babs\",\"title\":\"Guide\",\"userType\":\"Employee\","
                 "\"workEmail\":\"bjensen@example.com\",\"workPhone\":\"+1 555 0100\","
                 "\"externalId\":\"e-1\",\"workStreetAddeess\":\"100 Universal City Plaza\","
                 "\"workCity\":\"Hollywood\",\"workPostalCode\":\"91608\",\"workCountry\":\"US\","
                 "\"active\":true,\"manager\":null}");
    json_t *r = NULL;
    struct scim_error err = {0};
    assert_int_equal(scim_resource_from_attrs(attrs, &r, &err), SC_OK);
    assert_json(r, "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
                   "\"userName\":\"bjensen@example.com\",\"name\":{\"givenName\":\"Barbara\","
                   "\"familyName\":\"Jensen\",\"formatted\":\"Barbara Jensen\"},"
                   "\"nickName\":\"Babs\",\"title\":\"Guide\",\"userType\":\"Employee\","
                   "\"emails\":[{\"type\":\"work\",\"value\":\"bjensen@example.com\","
                   "\"primary\":true}],"
                   "\"phoneNumbers\":[{\"type\":\"work\",\"value\":\"+1 555 0100\"}],"
                   "\"externalId\":\"e-1\",\"addresses\":[{\"type\":\"work\","
                   "\"streetAddress\":\"100 Universal City Plaza\",\"locality\":\"Hollywood\","
                   "\"postalCode\":\"91608\",\"country\":\"US\"}],\"active\":true}");
    json_t *v = NULL;
    assert_int_equal(
        scim_resource_validate(scim_resource_type_user(), r, SCIM_VALIDATE_CREATE, NULL, &v, &err),
        SC_OK);
    json_decref(v);
    json_decref(r);
    json_decref(attrs);
    attrs = fix_json("{\"no such\":\"x\"}");
    assert_int_equal(scim_resource_from_attrs(attrs, &r, &err), SC_ERR_INVALID);
    assert_string_equal(err.scim_type, "invalidPath");
    json_decref(attrs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_group_examples),
        cmocka_unit_test(test_rfc_user_examples),
        cmocka_unit_test(test_patch_table),
        cmocka_unit_test(test_too_many_operations),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_diff_round_trip),
        cmocka_unit_test(test_resource_from_attrs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
