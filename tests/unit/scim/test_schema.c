/* Unit tests for src/scim/schema: the tables and look-ups, validation of resources for
 * create / replace / after PATCH with the SCIM error each mistake gets, normalisation,
 * attributes / excludedAttributes projection, and the /Schemas and /ResourceTypes JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "scim/schema.h"
#include "scim_test_util.h"

#include <string.h>

#define U "\"urn:ietf:params:scim:schemas:core:2.0:User\""
#define G "\"urn:ietf:params:scim:schemas:core:2.0:Group\""
#define E "\"" ENT "\""

static void test_lookup(void **state)
{
    (void)state;
    const struct scim_resource_type *rt = scim_resource_type_user();
    assert_ptr_equal(scim_resource_type_find("/Users"), rt);
    assert_ptr_equal(scim_resource_type_find("user"), rt);
    assert_ptr_equal(scim_resource_type_find("GROUP"), scim_resource_type_group());
    assert_null(scim_resource_type_find("/Things"));
    assert_ptr_equal(scim_schema_find("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"),
                     scim_schema_user());
    assert_ptr_equal(scim_schema_find(ENT), scim_schema_enterprise_user());
    assert_null(scim_schema_find("urn:x"));
    const struct scim_attr *a = scim_schema_attr(scim_schema_user(), "USERNAME");
    assert_string_equal(a->name, "userName");
    assert_true(a->required);
    assert_false(a->case_exact);
    assert_int_equal(a->uniqueness, SCIM_UNIQ_SERVER);
    assert_string_equal(scim_attr_sub(scim_schema_attr(scim_schema_user(), "emails"), "TYPE")->name,
                        "type");
    assert_null(scim_attr_sub(a, "x"));

    static const struct {
        const char *path;
        const char *schema;
        const char *attr;
        const char *sub;
    } ok[] = {
        {"userName", "urn:ietf:params:scim:schemas:core:2.0:User", "userName", NULL},
        {"name.givenName", "urn:ietf:params:scim:schemas:core:2.0:User", "name", "givenName"},
        {"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
         "urn:ietf:params:scim:schemas:core:2.0:User", "name", "givenName"},
        {ENT ":manager.value", ENT, "manager", "value"},
        {"department", ENT, "department", NULL},
        {"id", "urn:ietf:params:scim:schemas:common:2.0", "id", NULL},
        {"meta.lastModified", "urn:ietf:params:scim:schemas:common:2.0", "meta", "lastModified"},
        {"urn:ietf:params:scim:schemas:core:2.0:User:externalId",
         "urn:ietf:params:scim:schemas:common:2.0", "externalId", NULL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const struct scim_schema *s = NULL;
        const struct scim_attr *at = NULL, *sub = NULL;
        if (scim_schema_resolve(rt, ok[i].path, &s, &at, &sub) != 0)
            fail_msg("[%s] did not resolve", ok[i].path);
        assert_string_equal(s->id, ok[i].schema);
        assert_string_equal(at->name, ok[i].attr);
        if (ok[i].sub)
            assert_string_equal(sub->name, ok[i].sub);
        else
            assert_null(sub);
    }
    static const char *const bad[] = {"nope",
                                      "name.nope",
                                      "urn:x:y:userName",
                                      "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
                                      "",
                                      "emails[type eq \"work\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(scim_schema_resolve(rt, bad[i], NULL, NULL, NULL), -1);
    assert_int_equal(
        scim_schema_resolve(scim_resource_type_group(), "members.value", NULL, NULL, NULL), 0);
    assert_int_equal(scim_schema_resolve(scim_resource_type_group(), "userName", NULL, NULL, NULL),
                     -1);
    assert_string_equal(scim_type_name(SCIM_T_DATETIME), "dateTime");
    assert_string_equal(scim_type_name(SCIM_T_REFERENCE), "reference");
}

struct vcase {
    int group; /* 1: the Group resource type */
    enum scim_validate_mode mode;
    const char *json;
    int status;       /* 0 = accepted */
    const char *type; /* scimType expected */
    const char *detail;
};

static const struct vcase vcases[] = {
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "],\"userName\":\"a\"}", 0, NULL, NULL},
    {0, SCIM_VALIDATE_CREATE, "{\"userName\":\"a\"}", 400, "invalidSyntax", "schemas"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[],\"userName\":\"a\"}", 400, "invalidSyntax",
     "schemas"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":\"" ENT "\",\"userName\":\"a\"}", 400, "invalidSyntax",
     "schemas"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[1],\"userName\":\"a\"}", 400, "invalidSyntax",
     "strings"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[\"urn:x\"],\"userName\":\"a\"}", 400, "invalidSyntax",
     "schemas must list"},
    {1, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "],\"displayName\":\"g\"}", 400, "invalidSyntax",
     "not a schema of Group"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" G "],\"userName\":\"a\"}", 400, "invalidSyntax",
     "Group"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" E "],\"userName\":\"a\"}", 400, "invalidSyntax",
     "must list"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "]}", 400, "invalidValue", "userName is required"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "],\"userName\":null}", 400, "invalidValue",
     "userName is required"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "],\"userName\":\"\"}", 400, "invalidValue",
     "empty"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "],\"userName\":5}", 400, "invalidValue",
     "userName must be string"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "],\"userName\":\"a\",\"foo\":1}", 400,
     "invalidValue", "foo is not an attribute"},
    {0, SCIM_VALIDATE_CREATE,
     "{\"schemas\":[" U "],\"userName\":\"a\",\"emails\":{\"value\":\"x\"}}", 400, "invalidValue",
     "emails must be an array"},
    {0, SCIM_VALIDATE_CREATE,
     "{\"schemas\":[" U "],\"userName\":\"a\",\"emails\":[{\"value\":\"x\",\"kind\":\"y\"}]}", 400,
     "invalidValue", "emails.kind"},
    {0, SCIM_VALIDATE_CREATE,
     "{\"schemas\":[" U "],\"userName\":\"a\",\"emails\":[{\"value\":\"x\",\"primary\":true},"
     "{\"value\":\"y\",\"primary\":true}]}",
     400, "invalidValue", "primary"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "],\"userName\":\"a\",\"emails\":[{\"value\":1}]}",
     400, "invalidValue", "emails.value"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "],\"userName\":\"a\",\"emails\":[[1]]}", 400,
     "invalidValue", "emails"},
    /* readOnly attributes on create are ignored (RFC 7644 §3.3) */
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "],\"userName\":\"a\",\"id\":\"x\"}", 0, NULL,
     NULL},
    {0, SCIM_VALIDATE_CREATE,
     "{\"schemas\":[" U "],\"userName\":\"a\",\"meta\":{\"resourceType\":\"User\"}}", 0, NULL,
     NULL},
    {0, SCIM_VALIDATE_CREATE,
     "{\"schemas\":[" U "],\"userName\":\"a\",\"groups\":[{\"value\":\"g\"}]}", 0, NULL, NULL},
    /* a boolean is only a boolean or "true"/"false" */
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "],\"userName\":\"a\",\"active\":\"yes\"}", 400,
     "invalidValue", "active must be boolean"},
    /* an unknown URN is ignored only while no member uses it */
    {0, SCIM_VALIDATE_CREATE,
     "{\"schemas\":[" U ",\"urn:other:thing\"],\"userName\":\"a\",\"urn:other:thing\":{}}", 400,
     "invalidSyntax", "urn:other:thing"},
    {0, SCIM_VALIDATE_CREATE,
     "{\"schemas\":[" U "],\"userName\":\"a\",\"" ENT "\":{\"department\":\"x\"}}", 400,
     "invalidValue", "not listed in schemas"},
    {0, SCIM_VALIDATE_CREATE,
     "{\"schemas\":[" U "," E "],\"userName\":\"a\",\"" ENT "\":{\"department\":1}}", 400,
     "invalidValue", "department"},
    {0, SCIM_VALIDATE_CREATE,
     "{\"schemas\":[" U "," E "],\"userName\":\"a\",\"" ENT "\":{\"dept\":\"x\"}}", 400,
     "invalidValue", "dept"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "," E "],\"userName\":\"a\",\"" ENT "\":\"x\"}",
     400, "invalidValue", "must be an object"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "],\"userName\":\"a\",\"urn:other:thing\":{}}",
     400, "invalidValue", "not a schema extension"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "],\"userName\":\"a\",\"name\":\"x\"}", 400,
     "invalidValue", "name must be objects"},
    {0, SCIM_VALIDATE_CREATE,
     "{\"schemas\":[" U "],\"userName\":\"a\",\"x509Certificates\":[{\"value\":\"!!\"}]}", 400,
     "invalidValue", "base64"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "],\"userName\":\"a\",\"UserName\":\"b\"}", 400,
     "invalidValue", "twice"},
    {0, SCIM_VALIDATE_CREATE, "[1]", 400, "invalidSyntax", "object"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "],\"userName\":\"a\",\"title\":[\"x\"]}", 400,
     "invalidValue", "title"},
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "],\"userName\":\"a\",\"password\":\"pw\"}", 0,
     NULL, NULL},
    {0, SCIM_VALIDATE_CREATE,
     "{\"schemas\":[" U "],\"userName\":\"a\",\"x509Certificates\":[{\"value\":\"TUlJQw==\"}]}", 0,
     NULL, NULL},
    {0, SCIM_VALIDATE_CREATE,
     "{\"schemas\":[" U "," E "],\"userName\":\"a\",\"" ENT
     "\":{\"department\":\"d\",\"manager\":{\"value\":\"m\"}}}",
     0, NULL, NULL},
    /* a listed extension without its object is fine */
    {0, SCIM_VALIDATE_CREATE, "{\"schemas\":[" U "," E "],\"userName\":\"a\"}", 0, NULL, NULL},
    /* groups */
    {1, SCIM_VALIDATE_CREATE,
     "{\"schemas\":[" G "],\"displayName\":\"g\",\"members\":[{\"value\":\"u1\",\"type\":"
     "\"User\"}]}",
     0, NULL, NULL},
    {1, SCIM_VALIDATE_CREATE, "{\"schemas\":[" G "],\"members\":[]}", 400, "invalidValue",
     "displayName is required"},
    {1, SCIM_VALIDATE_CREATE, "{\"schemas\":[" G "],\"displayName\":\"g\",\"userName\":\"u\"}", 400,
     "invalidValue", "userName"},
    {1, SCIM_VALIDATE_CREATE, "{\"schemas\":[" G "," E "],\"displayName\":\"g\"}", 400,
     "invalidSyntax", ENT},
    /* replace: readOnly attributes are dropped, but id may not change */
    {0, SCIM_VALIDATE_REPLACE,
     "{\"schemas\":[" U "],\"id\":\"2819c223-7f76-453a-919d-413861904646\",\"userName\":\"b\","
     "\"meta\":{\"resourceType\":\"User\"},\"groups\":[{\"value\":\"g\"}]}",
     0, NULL, NULL},
    {0, SCIM_VALIDATE_REPLACE, "{\"schemas\":[" U "],\"id\":\"other\",\"userName\":\"b\"}", 400,
     "mutability", "id"},
    {0, SCIM_VALIDATE_REPLACE, "{\"schemas\":[" U "],\"name\":{\"givenName\":\"x\"}}", 400,
     "invalidValue", "userName is required"},
    /* the result of a PATCH keeps readOnly attributes */
    {0, SCIM_VALIDATE_PATCHED,
     "{\"schemas\":[" U "],\"id\":\"x\",\"userName\":\"b\",\"meta\":{\"resourceType\":\"User\","
     "\"created\":\"2010-01-23T04:56:22Z\"}}",
     0, NULL, NULL},
    {0, SCIM_VALIDATE_PATCHED,
     "{\"schemas\":[" U "],\"id\":\"x\",\"userName\":\"b\",\"meta\":{\"created\":\"yesterday\"}}",
     400, "invalidValue", "dateTime"},
};

static void test_validate_table(void **state)
{
    (void)state;
    json_t *existing = fix_json(FIX_USER);
    json_object_del(existing, "level");
    for (size_t i = 0; i < sizeof vcases / sizeof vcases[0]; i++) {
        const struct vcase *c = &vcases[i];
        json_t *in = fix_json(c->json);
        assert_non_null(in);
        json_t *out = NULL;
        struct scim_error err = {0};
        const struct scim_resource_type *rt =
            c->group ? scim_resource_type_group() : scim_resource_type_user();
        enum sc_err rc = scim_resource_validate(rt, in, c->mode, existing, &out, &err);
        if (c->status == 0) {
            if (rc != SC_OK)
                fail_msg("case %zu [%s] refused: %s", i, c->json, err.detail);
            assert_non_null(out);
        } else {
            if (rc == SC_OK)
                fail_msg("case %zu [%s] accepted", i, c->json);
            assert_null(out);
            assert_int_equal(err.status, c->status);
            assert_string_equal(err.scim_type, c->type);
            if (!strstr(err.detail, c->detail))
                fail_msg("case %zu: detail \"%s\" lacks \"%s\"", i, err.detail, c->detail);
        }
        json_decref(out);
        json_decref(in);
    }
    json_decref(existing);
}

/* What Entra ID and Okta send on create: readOnly attributes, booleans as strings, the
 * manager as a bare id, an extra schema URN of their own. */
static void test_validate_idp_shapes(void **state)
{
    (void)state;
    static const struct {
        int group;
        const char *in, *want;
    } cases[] = {
        {0,
         "{\"schemas\":[" U "," E "],\"userName\":\"a\",\"id\":\"x\",\"active\":\"False\","
         "\"meta\":{\"resourceType\":\"User\"},\"groups\":[],\"" ENT
         "\":{\"manager\":\"m1\",\"department\":\"d\"}}",
         "{\"schemas\":[" U "," E "],\"userName\":\"a\",\"active\":false,\"" ENT
         "\":{\"manager\":{\"value\":\"m1\"},\"department\":\"d\"}}"},
        {0, "{\"schemas\":[" U "],\"userName\":\"a\",\"active\":\"TRUE\"}",
         "{\"schemas\":[" U "],\"userName\":\"a\",\"active\":true}"},
        {0,
         "{\"schemas\":[" U "," E "],\"userName\":\"a\",\"" ENT
         "\":{\"manager\":{\"value\":\"m\",\"displayName\":\"x\"}}}",
         "{\"schemas\":[" U "," E "],\"userName\":\"a\",\"" ENT
         "\":{\"manager\":{\"value\":\"m\"}}}"},
        {1,
         "{\"schemas\":[" G ",\"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/"
         "2.0/Group\"],\"displayName\":\"g\",\"externalId\":\"e\",\"meta\":{\"resourceType\":"
         "\"Group\"},\"members\":[]}",
         "{\"schemas\":[" G "],\"displayName\":\"g\",\"externalId\":\"e\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *in = fix_json(cases[i].in), *out = NULL;
        struct scim_error err = {0};
        const struct scim_resource_type *rt =
            cases[i].group ? scim_resource_type_group() : scim_resource_type_user();
        if (scim_resource_validate(rt, in, SCIM_VALIDATE_CREATE, NULL, &out, &err) != SC_OK)
            fail_msg("case %zu refused: %s", i, err.detail);
        assert_json(out, cases[i].want);
        json_decref(out);
        json_decref(in);
    }
}

static void test_validate_normalises(void **state)
{
    (void)state;
    json_t *in = fix_json("{\"schemas\":[\"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER\"],"
                          "\"USERNAME\":\"a\",\"Name\":{\"GIVENNAME\":\"b\",\"middleName\":null},"
                          "\"emails\":[{\"Value\":\"x\",\"PRIMARY\":true},null],"
                          "\"nickName\":null,\"phoneNumbers\":[]}");
    json_t *out = NULL;
    struct scim_error err = {0};
    assert_int_equal(scim_resource_validate(scim_resource_type_user(), in, SCIM_VALIDATE_CREATE,
                                            NULL, &out, &err),
                     SC_OK);
    assert_json(out, "{\"schemas\":[" U "],\"userName\":\"a\",\"name\":{\"givenName\":\"b\"},"
                     "\"emails\":[{\"value\":\"x\",\"primary\":true}]}");
    json_decref(out);
    json_decref(in);

    /* replace drops readOnly attributes so the caller carries them over */
    json_t *existing = fix_json(FIX_USER);
    json_object_del(existing, "level");
    json_t *put = json_deep_copy(existing);
    json_object_set_new(put, "title", json_string("Boss"));
    assert_int_equal(scim_resource_validate(scim_resource_type_user(), put, SCIM_VALIDATE_REPLACE,
                                            existing, &out, &err),
                     SC_OK);
    assert_null(json_object_get(out, "id"));
    assert_null(json_object_get(out, "meta"));
    assert_string_equal(json_string_value(json_object_get(out, "title")), "Boss");
    assert_non_null(json_object_get(out, ENT));
    json_decref(out);
    /* the full fixture, as stored, is a valid patched resource and comes back equal */
    assert_int_equal(scim_resource_validate(scim_resource_type_user(), existing,
                                            SCIM_VALIDATE_PATCHED, NULL, &out, &err),
                     SC_OK);
    assert_true(json_equal(out, existing));
    json_decref(out);
    json_decref(put);
    json_decref(existing);
}

struct pcase {
    const char *attributes;
    const char *excluded;
    const char *expect; /* NULL: error */
};

static const struct pcase pcases[] = {
    {"userName", NULL,
     "{\"schemas\":[" U "," E "],\"id\":\"2819c223-7f76-453a-919d-413861904646\","
     "\"userName\":\"bjensen\"}"},
    {"urn:ietf:params:scim:schemas:core:2.0:User:userName", NULL,
     "{\"schemas\":[" U "," E "],\"id\":\"2819c223-7f76-453a-919d-413861904646\","
     "\"userName\":\"bjensen\"}"},
    {"name.givenName, emails.value", NULL,
     "{\"schemas\":[" U "," E "],\"id\":\"2819c223-7f76-453a-919d-413861904646\","
     "\"name\":{\"givenName\":\"Barbara\"},\"emails\":[{\"value\":\"bjensen@example.com\"},"
     "{\"value\":\"babs@jensen.org\"}]}"},
    {"department", NULL,
     "{\"schemas\":[" U "," E "],\"id\":\"2819c223-7f76-453a-919d-413861904646\",\"" ENT
     "\":{\"department\":\"Tour Operations\"}}"},
    {ENT ":manager.value,externalId", NULL,
     "{\"schemas\":[" U "," E "],\"id\":\"2819c223-7f76-453a-919d-413861904646\","
     "\"externalId\":\"bjensen\",\"" ENT
     "\":{\"manager\":{\"value\":\"26118915-6090-4610-87e4-49d8ca9f808d\"}}}"},
    {ENT, NULL,
     "{\"schemas\":[" U "," E "],\"id\":\"2819c223-7f76-453a-919d-413861904646\",\"" ENT
     "\":{\"employeeNumber\":\"701984\",\"department\":\"Tour Operations\","
     "\"manager\":{\"value\":\"26118915-6090-4610-87e4-49d8ca9f808d\","
     "\"displayName\":\"John Smith\"}}}"},
    {"password,id", NULL,
     "{\"schemas\":[" U "," E "],\"id\":\"2819c223-7f76-453a-919d-413861904646\"}"},
    {"noSuchThing", NULL,
     "{\"schemas\":[" U "," E "],\"id\":\"2819c223-7f76-453a-919d-413861904646\"}"},
    {"emails[type eq \"work\"]", NULL, NULL},
    {NULL, "bad path!", NULL},
};

static void test_project(void **state)
{
    (void)state;
    json_t *u = fix_json(FIX_USER);
    json_object_del(u, "level");
    json_object_set_new(u, "password", json_string("secret"));
    const struct scim_resource_type *rt = scim_resource_type_user();
    for (size_t i = 0; i < sizeof pcases / sizeof pcases[0]; i++) {
        json_t *out = NULL;
        struct scim_error err = {0};
        enum sc_err rc =
            scim_resource_project(rt, u, pcases[i].attributes, pcases[i].excluded, &out, &err);
        if (!pcases[i].expect) {
            assert_int_equal(rc, SC_ERR_INVALID);
            assert_string_equal(err.scim_type, "invalidPath");
            continue;
        }
        assert_int_equal(rc, SC_OK);
        assert_json(out, pcases[i].expect);
        json_decref(out);
    }
    /* no lists: everything but returned=never */
    json_t *out = NULL;
    assert_int_equal(scim_resource_project(rt, u, NULL, "", &out, NULL), SC_OK);
    assert_null(json_object_get(out, "password"));
    json_object_del(u, "password");
    assert_true(json_equal(out, u));
    json_decref(out);
    /* excluded: whole attributes, sub-attributes, the extension; id always stays */
    assert_int_equal(
        scim_resource_project(rt, u, NULL, "emails, name.familyName,meta,id," ENT, &out, NULL),
        SC_OK);
    assert_null(json_object_get(out, "emails"));
    assert_null(json_object_get(out, "meta"));
    assert_null(json_object_get(out, ENT));
    assert_non_null(json_object_get(out, "id"));
    assert_json(json_object_get(out, "name"),
                "{\"formatted\":\"Ms. Barbara J Jensen III\",\"givenName\":\"Barbara\"}");
    assert_non_null(json_object_get(out, "userName"));
    json_decref(out);
    assert_int_equal(scim_resource_project(rt, u, NULL, "department", &out, NULL), SC_OK);
    assert_json(json_object_get(out, ENT),
                "{\"employeeNumber\":\"701984\",\"manager\":{\"value\":"
                "\"26118915-6090-4610-87e4-49d8ca9f808d\",\"displayName\":\"John Smith\"}}");
    json_decref(out);
    /* attributes wins over excludedAttributes */
    assert_int_equal(scim_resource_project(rt, u, "userName", "userName", &out, NULL), SC_OK);
    assert_non_null(json_object_get(out, "userName"));
    json_decref(out);
    json_decref(u);
}

static void test_renderings(void **state)
{
    (void)state;
    json_t *s = scim_schema_to_json(scim_schema_user(), "http://h/scim/v2");
    assert_string_equal(json_string_value(json_object_get(s, "id")),
                        "urn:ietf:params:scim:schemas:core:2.0:User");
    json_t *attrs = json_object_get(s, "attributes");
    json_t *un = json_array_get(attrs, 0);
    assert_string_equal(json_string_value(json_object_get(un, "name")), "userName");
    assert_string_equal(json_string_value(json_object_get(un, "uniqueness")), "server");
    assert_true(json_is_true(json_object_get(un, "required")));
    assert_true(json_is_false(json_object_get(un, "caseExact")));
    assert_string_equal(json_string_value(json_object_get(un, "mutability")), "readWrite");
    assert_string_equal(json_string_value(json_object_get(un, "returned")), "default");
    size_t i;
    json_t *a;
    int found_emails = 0;
    json_array_foreach(attrs, i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "name")), "emails") == 0) {
            found_emails = 1;
            assert_true(json_is_true(json_object_get(a, "multiValued")));
            assert_string_equal(json_string_value(json_object_get(a, "type")), "complex");
            assert_int_equal(json_array_size(json_object_get(a, "subAttributes")), 4);
            json_t *type = json_array_get(json_object_get(a, "subAttributes"), 2);
            assert_int_equal(json_array_size(json_object_get(type, "canonicalValues")), 3);
        }
        if (strcmp(json_string_value(json_object_get(a, "name")), "password") == 0) {
            assert_string_equal(json_string_value(json_object_get(a, "returned")), "never");
            assert_string_equal(json_string_value(json_object_get(a, "mutability")), "writeOnly");
        }
    }
    assert_true(found_emails);
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "meta"), "location")),
                        "http://h/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User");
    json_decref(s);

    json_t *rt = scim_resource_type_to_json(scim_resource_type_user(), NULL);
    assert_json(rt, "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:ResourceType\"],"
                    "\"id\":\"User\",\"name\":\"User\",\"endpoint\":\"/Users\","
                    "\"description\":\"User Account\",\"schema\":" U ","
                    "\"schemaExtensions\":[{\"schema\":" E ",\"required\":false}],"
                    "\"meta\":{\"resourceType\":\"ResourceType\"}}");
    json_decref(rt);
    json_t *all = scim_schemas_all_json("http://h");
    assert_int_equal(json_array_size(all), 3);
    json_decref(all);
    all = scim_resource_types_all_json("http://h");
    assert_int_equal(json_array_size(all), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(all, 1), "meta"), "location")),
                        "http://h/ResourceTypes/Group");
    json_decref(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_validate_table),
        cmocka_unit_test(test_validate_idp_shapes),
        cmocka_unit_test(test_validate_normalises),
        cmocka_unit_test(test_project),
        cmocka_unit_test(test_renderings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
