/* Unit tests for src/scim/dialect: SCIM 1.1 resources both ways, the strict 1.1 body
 * check, attribute names and filters both ways, 1.1 errors and list responses (built and
 * read), the 1.1 PATCH builder (tables of old/new flat sets -> the expected body, each
 * then applied to the resource the old set builds, which must give the resource the new
 * set builds, also with values the engine does not manage), the 1.1 PATCH applier (the
 * examples of draft-scim-api-01 §3.3.2 and its errors), the 2.0 pass-through of the
 * dialect entry points and the 1.1 schema document. JSON in the tables is written with
 * single quotes, turned into double quotes before parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/json.h"
#include "scim/dialect.h"
#include "scim/filter.h"
#include "scim/patch.h"
#include "scim_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C11 "urn:scim:schemas:core:1.0"
#define E11 "urn:scim:schemas:extension:enterprise:1.0"
#define U1 "2819c223-7f76-453a-919d-413861904646"
#define U2 "902c246b-6245-4190-8e05-00816be7344a"
#define U3 "08e1d05d-121c-4561-8b96-473d93df9210"

/* Parses JSON written with ' for " (the tables never need a literal '). */
static json_t *sq(const char *text)
{
    char *c = strdup(text);
    for (char *p = c; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_t *v = fix_json(c);
    if (!v)
        fail_msg("bad test JSON %s", c);
    free(c);
    return v;
}

static void assert_sq(const json_t *v, const char *expect)
{
    json_t *e = sq(expect);
    char *want = json_dumps(e, JSON_COMPACT);
    assert_json(v, want);
    free(want);
    json_decref(e);
}

/* A copy of v with every array sorted by its elements' canonical text, so values that
 * moved inside a multi-valued attribute compare equal. */
static json_t *canon(const json_t *v)
{
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            json_object_set_new(o, k, canon(x));
        }
        return o;
    }
    if (!json_is_array(v))
        return json_deep_copy(v);
    size_t n = json_array_size(v);
    json_t **items = calloc(n + 1, sizeof *items);
    char **texts = calloc(n + 1, sizeof *texts);
    for (size_t i = 0; i < n; i++) {
        items[i] = canon(json_array_get(v, i));
        texts[i] = sc_json_dump_canonical(items[i]);
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: arrays here are tiny */
        for (size_t j = i; j > 0 && strcmp(texts[j - 1], texts[j]) > 0; j--) {
            char *t = texts[j];
            texts[j] = texts[j - 1];
            texts[j - 1] = t;
            json_t *x = items[j];
            items[j] = items[j - 1];
            items[j - 1] = x;
        }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, items[i]);
        free(texts[i]);
    }
    free(items);
    free(texts);
    return a;
}

static void assert_same_set(const json_t *got, const json_t *want)
{
    json_t *g = canon(got), *w = canon(want);
    if (!json_equal(g, w)) {
        char *gs = json_dumps(g, JSON_SORT_KEYS | JSON_COMPACT);
        char *ws = json_dumps(w, JSON_SORT_KEYS | JSON_COMPACT);
        fail_msg("got  %s\nwant %s", gs, ws);
    }
    json_decref(g);
    json_decref(w);
}

static json_t *user20(void)
{
    json_t *u = fix_json(FIX_USER);
    json_object_del(u, "level");
    return u;
}

/* ---- dialect names ---------------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    enum scim_dialect d = SCIM_DIALECT_20;
    assert_int_equal(scim_dialect_parse("1.1", &d), 0);
    assert_int_equal(d, SCIM_DIALECT_11);
    assert_int_equal(scim_dialect_parse("2.0", &d), 0);
    assert_int_equal(d, SCIM_DIALECT_20);
    assert_int_equal(scim_dialect_parse("1.0", &d), -1);
    assert_int_equal(scim_dialect_parse("2", &d), -1);
    assert_int_equal(scim_dialect_parse(NULL, &d), -1);
    assert_string_equal(scim_dialect_name(SCIM_DIALECT_11), "1.1");
    assert_string_equal(scim_dialect_name(SCIM_DIALECT_20), "2.0");
    assert_string_equal(scim_dialect_service_provider_config_path(SCIM_DIALECT_11),
                        "/ServiceProviderConfigs");
    assert_string_equal(scim_dialect_service_provider_config_path(SCIM_DIALECT_20),
                        "/ServiceProviderConfig");
}

/* ---- resources -------------------------------------------------------------------------- */

static void test_user_to_11_and_back(void **state)
{
    (void)state;
    json_t *u = user20(), *u11 = NULL, *back = NULL;
    struct scim_error err = {0};
    json_object_set_new(u, "groups",
                        sq("[{'value':'g1','$ref':'https://x/v2/Groups/g1','display':'Tour "
                           "Guides','type':'direct'}]"));
    json_object_set_new(json_object_get(json_object_get(u, ENT), "manager"), "$ref",
                        json_string("https://x/v2/Users/m"));
    assert_int_equal(scim_dialect_resource_to_11(u, &u11, &err), SC_OK);
    /* what changes: schemas, the extension's key and manager, $refs, meta.resourceType */
    json_t *want11 = user20();
    json_object_set_new(want11, "schemas", sq("['" C11 "','" E11 "']"));
    json_object_del(want11, ENT);
    json_object_set_new(want11, E11,
                        sq("{'employeeNumber':'701984','department':'Tour Operations',"
                           "'manager':{'managerId':'26118915-6090-4610-87e4-49d8ca9f808d',"
                           "'displayName':'John Smith'}}"));
    json_object_del(json_object_get(want11, "meta"), "resourceType");
    json_object_set_new(want11, "groups",
                        sq("[{'value':'g1','display':'Tour Guides','type':'direct'}]"));
    assert_true(json_equal(u11, want11));
    json_decref(want11);
    assert_null(json_object_get(u11, ENT));
    /* and back: the same 2.0 user, less the $refs 1.1 cannot carry */
    assert_int_equal(scim_dialect_resource_from_11(scim_resource_type_user(), u11, &back, &err),
                     SC_OK);
    json_t *want = user20();
    json_object_set_new(want, "groups",
                        sq("[{'value':'g1','display':'Tour Guides','type':'direct'}]"));
    assert_true(json_equal(back, want));
    json_decref(want);
    json_decref(back);
    json_decref(u11);
    json_decref(u);
}

static void test_group_to_11_and_back(void **state)
{
    (void)state;
    json_t *g = fix_json(FIX_GROUP), *g11 = NULL, *back = NULL;
    struct scim_error err = {0};
    assert_int_equal(scim_dialect_resource_to_11(g, &g11, &err), SC_OK);
    assert_sq(g11, "{'schemas':['" C11 "'],'id':'e9e30dba-f08f-4109-8486-d5c6a331660a',"
                   "'displayName':'Tour Guides','members':[{'value':'" U1 "','display':'Babs "
                   "Jensen'},{'value':'" U2 "','display':'Mandy Pepperidge'}],"
                   "'meta':{'created':'2010-01-23T04:56:22Z','lastModified':"
                   "'2011-05-13T04:42:34Z','version':'W/\\'3694e05e9dff592\\''}}");
    assert_int_equal(scim_dialect_resource_from_11(scim_resource_type_group(), g11, &back, &err),
                     SC_OK);
    assert_sq(back, "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:Group'],"
                    "'id':'e9e30dba-f08f-4109-8486-d5c6a331660a','displayName':'Tour Guides',"
                    "'members':[{'value':'" U1 "','display':'Babs Jensen'},{'value':'" U2
                    "','display':'Mandy Pepperidge'}],'meta':{'created':'2010-01-23T04:56:22Z',"
                    "'lastModified':'2011-05-13T04:42:34Z','version':'W/\\'3694e05e9dff592\\'',"
                    "'resourceType':'Group'}}");
    json_decref(back);
    json_decref(g11);
    json_decref(g);
}

static void test_resource_errors_and_leniency(void **state)
{
    (void)state;
    struct scim_error err = {0};
    json_t *out = NULL, *in;
    /* only a 2.0 User or Group converts to 1.1 */
    const char *bad[] = {"[]", "'x'", "{'userName':'a'}", "{'schemas':['" C11 "'],'userName':'a'}",
                         "{'schemas':'urn:ietf:params:scim:schemas:core:2.0:User'}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        in = sq(bad[i]);
        assert_int_equal(scim_dialect_resource_to_11(in, &out, &err), SC_ERR_INVALID);
        assert_int_equal(err.status, 400);
        assert_string_equal(err.scim_type, SCIM_TYPE_INVALID_SYNTAX);
        json_decref(in);
    }
    in = sq("[1]");
    assert_int_equal(scim_dialect_resource_from_11(NULL, in, &out, &err), SC_ERR_INVALID);
    json_decref(in);
    /* reading is lenient: no schemas, an unknown schema, an unlisted extension object */
    in = sq("{'userName':'a','x-custom':1,'schemas':['urn:example:custom'],"
            "'" E11 "':{'manager':{'managerId':'m','displayName':'M'}},'meta':{'created':'t'}}");
    assert_int_equal(scim_dialect_resource_from_11(NULL, in, &out, &err), SC_OK);
    assert_sq(out, "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User','urn:example:custom',"
                   "'" ENT "'],'userName':'a','x-custom':1,'" ENT "':{'manager':{'value':'m',"
                   "'displayName':'M'}},'meta':{'created':'t','resourceType':'User'}}");
    json_decref(out);
    json_decref(in);
    /* a Group has no enterprise extension: the key is kept as it is */
    in = sq("{'schemas':['" C11 "','" E11 "'],'displayName':'g','" E11 "':{}}");
    assert_int_equal(scim_dialect_resource_from_11(scim_resource_type_group(), in, &out, &err),
                     SC_OK);
    assert_sq(out, "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:Group','" E11 "'],"
                   "'displayName':'g','" E11 "':{}}");
    json_decref(out);
    json_decref(in);
}

static void test_check_11(void **state)
{
    (void)state;
    const struct scim_resource_type *ut = scim_resource_type_user();
    const struct scim_resource_type *gt = scim_resource_type_group();
    struct {
        int group, patch;
        const char *body;
        const char *type; /* NULL = accepted */
        const char *detail;
    } cases[] = {
        {0, 0, "{'schemas':['" C11 "'],'userName':'a'}", NULL, NULL},
        {0, 0,
         "{'schemas':['" C11 "','" E11 "'],'userName':'a','" E11
         "':{'department':'d','manager':{'managerId':'m'}}}",
         NULL, NULL},
        {0, 1,
         "{'schemas':['" C11 "'],'emails':[{'value':'a@x','operation':'delete'}],"
         "'meta':{'attributes':['title']}}",
         NULL, NULL},
        {1, 1, "{'schemas':['" C11 "'],'members':[{'value':'" U1 "','operation':'delete'}]}", NULL,
         NULL},
        {1, 0, "{'schemas':['" C11 "'],'displayName':'g','members':[{'value':'" U1 "'}]}", NULL,
         NULL},
        /* not 1.1 */
        {0, 0, "[]", SCIM_TYPE_INVALID_SYNTAX, "JSON object"},
        {0, 1,
         "{'schemas':['urn:ietf:params:scim:api:messages:2.0:PatchOp'],'Operations':[{'op':"
         "'replace','path':'title','value':'x'}]}",
         SCIM_TYPE_INVALID_SYNTAX, "Operations is SCIM 2.0's PatchOp"},
        {0, 1, "{'schemas':['" C11 "'],'Operations':[]}", SCIM_TYPE_INVALID_SYNTAX, "PatchOp"},
        {0, 0, "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User'],'userName':'a'}",
         SCIM_TYPE_INVALID_SYNTAX, "is a SCIM 2.0 URN"},
        {0, 0,
         "{'schemas':['" C11 "','urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],"
         "'userName':'a'}",
         SCIM_TYPE_INVALID_SYNTAX, "SCIM 2.0 URN"},
        {0, 0, "{'userName':'a'}", SCIM_TYPE_INVALID_SYNTAX, "schemas must be an array"},
        {0, 0, "{'schemas':[],'userName':'a'}", SCIM_TYPE_INVALID_SYNTAX, "schemas must be"},
        {0, 0, "{'schemas':'" C11 "','userName':'a'}", SCIM_TYPE_INVALID_SYNTAX, "schemas must"},
        {0, 0, "{'schemas':[1],'userName':'a'}", SCIM_TYPE_INVALID_SYNTAX, "schemas[0]"},
        {0, 0, "{'schemas':['" E11 "'],'userName':'a'}", SCIM_TYPE_INVALID_SYNTAX,
         "schemas must list " C11},
        {0, 0, "{'schemas':['" C11 "','urn:example:x'],'userName':'a'}", SCIM_TYPE_INVALID_SYNTAX,
         "not a schema of this service"},
        {1, 0, "{'schemas':['" C11 "','" E11 "'],'displayName':'g'}", SCIM_TYPE_INVALID_SYNTAX,
         "not a schema"},
        {0, 0,
         "{'schemas':['" C11 "'],'userName':'a','urn:ietf:params:scim:schemas:extension:"
         "enterprise:2.0:User':{'department':'d'}}",
         SCIM_TYPE_INVALID_VALUE, "is a SCIM 2.0 schema"},
        {0, 0, "{'schemas':['" C11 "'],'userName':'a','" E11 "':{'department':'d'}}",
         SCIM_TYPE_INVALID_VALUE, "not listed in schemas"},
        {0, 0, "{'schemas':['" C11 "','" E11 "'],'userName':'a','" E11 "':'d'}",
         SCIM_TYPE_INVALID_VALUE, "must be an object"},
        {0, 0,
         "{'schemas':['" C11 "','" E11 "'],'userName':'a','" E11 "':{'manager':{'value':'m'}}}",
         SCIM_TYPE_INVALID_VALUE, "managerId"},
        {0, 0, "{'schemas':['" C11 "'],'userName':'a','groups':[{'value':'g','$ref':'x'}]}",
         SCIM_TYPE_INVALID_VALUE, "$ref is SCIM 2.0"},
        {1, 0, "{'schemas':['" C11 "'],'displayName':'g','members':[{'value':'m','$ref':'x'}]}",
         SCIM_TYPE_INVALID_VALUE, "$ref"},
        {0, 0,
         "{'schemas':['" C11 "'],'userName':'a','emails':[{'value':'x','operation':'delete'}]}",
         SCIM_TYPE_INVALID_VALUE, "belongs in a PATCH only"},
        {0, 1, "{'schemas':['" C11 "'],'emails':[{'value':'x','operation':'remove'}]}",
         SCIM_TYPE_INVALID_VALUE, "the only \"operation\" is \"delete\""},
        {0, 1, "{'schemas':['" C11 "'],'emails':[{'value':'x','operation':'DELETE'}]}",
         SCIM_TYPE_INVALID_VALUE, "the only"},
        {0, 1, "{'schemas':['" C11 "'],'name':{'givenName':'x','operation':'delete'}}",
         SCIM_TYPE_INVALID_VALUE, "multi-valued attribute only"},
        {0, 1, "{'schemas':['" C11 "'],'meta':{'attributes':'title'}}", SCIM_TYPE_INVALID_SYNTAX,
         "array of strings"},
        {0, 1, "{'schemas':['" C11 "'],'meta':{'attributes':[1]}}", SCIM_TYPE_INVALID_SYNTAX,
         "meta.attributes[0]"},
        {0, 1, "{'schemas':['" C11 "'],'meta':{'version':'W/1'}}", SCIM_TYPE_MUTABILITY,
         "meta.version is readOnly"},
        {0, 1, "{'schemas':['" C11 "'],'meta':[]}", SCIM_TYPE_INVALID_SYNTAX, "meta must be"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *b = sq(cases[i].body);
        struct scim_error err = {0};
        enum sc_err rc = scim_dialect_check_11(cases[i].group ? gt : ut, b, cases[i].patch, &err);
        if (!cases[i].type) {
            if (rc != SC_OK)
                fail_msg("case %zu refused: %s", i, err.detail);
        } else {
            if (rc != SC_ERR_INVALID)
                fail_msg("case %zu accepted: %s", i, cases[i].body);
            assert_int_equal(err.status, 400);
            assert_string_equal(err.scim_type, cases[i].type);
            if (!strstr(err.detail, cases[i].detail))
                fail_msg("case %zu: detail '%s' lacks '%s'", i, err.detail, cases[i].detail);
        }
        json_decref(b);
    }
    /* the meta.attributes cap */
    json_t *b = sq("{'schemas':['" C11 "'],'meta':{'attributes':[]}}");
    json_t *names = json_object_get(json_object_get(b, "meta"), "attributes");
    for (int i = 0; i <= SCIM_PATCH_MAX_OPERATIONS; i++)
        json_array_append_new(names, json_string("title"));
    struct scim_error err = {0};
    assert_int_equal(scim_dialect_check_11(ut, b, 1, &err), SC_ERR_INVALID);
    assert_string_equal(err.scim_type, SCIM_TYPE_TOO_MANY);
    json_decref(b);
}

/* ---- names and filters ------------------------------------------------------------------ */

static void test_paths(void **state)
{
    (void)state;
    struct {
        const char *v20, *v11;
    } both[] = {
        {"userName", "userName"},
        {"name.givenName", "name.givenName"},
        {"emails", "emails"},
        {"manager.value", "manager.managerId"},
        {"manager.displayName", "manager.displayName"},
        {ENT ":department", E11 ":department"},
        {ENT ":manager.value", E11 ":manager.managerId"},
        {ENT, E11},
    };
    for (size_t i = 0; i < sizeof both / sizeof both[0]; i++) {
        struct sc_buf b;
        struct scim_error err = {0};
        sc_buf_init(&b, 0);
        assert_int_equal(scim_dialect_path_to_11(both[i].v20, &b, &err), SC_OK);
        assert_string_equal(b.data, both[i].v11);
        sc_buf_reset(&b);
        assert_int_equal(scim_dialect_path_from_11(both[i].v11, &b, &err), SC_OK);
        assert_string_equal(b.data, both[i].v20);
        sc_buf_free(&b);
    }
    /* prefixes that drop */
    struct {
        int to11;
        const char *in, *out;
    } one[] = {
        {1, "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName", "name.familyName"},
        {1, "urn:ietf:params:scim:schemas:core:2.0:Group:displayName", "displayName"},
        {0, C11 ":name.familyName", "name.familyName"},
        {0, "URN:SCIM:SCHEMAS:CORE:1.0:userName", "userName"},
        {0, "meta.lastModified", "meta.lastModified"},
    };
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        struct sc_buf b;
        struct scim_error err = {0};
        sc_buf_init(&b, 0);
        assert_int_equal((one[i].to11 ? scim_dialect_path_to_11
                                      : scim_dialect_path_from_11)(one[i].in, &b, &err),
                         SC_OK);
        assert_string_equal(b.data, one[i].out);
        sc_buf_free(&b);
    }
    struct {
        int to11;
        const char *in, *detail;
    } bad[] = {
        {0, ENT ":department", "not one of SCIM 1.1"},
        {0, "urn:ietf:params:scim:schemas:core:2.0:User:userName", "not one of SCIM 1.1"},
        {1, E11 ":department", "SCIM 2.0 with a SCIM 1.1 counterpart"},
        {1, "urn:example:x:y", "not one of"},
        {0, "manager.value", "manager.managerId"},
        {0, E11 ":manager.$ref", "managerId"},
        {1, "manager.managerId", "manager.value"},
        {1, "", "empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sc_buf b;
        struct scim_error err = {0};
        sc_buf_init(&b, 0);
        assert_int_equal((bad[i].to11 ? scim_dialect_path_to_11
                                      : scim_dialect_path_from_11)(bad[i].in, &b, &err),
                         SC_ERR_INVALID);
        assert_string_equal(err.scim_type, SCIM_TYPE_INVALID_PATH);
        if (!strstr(err.detail, bad[i].detail))
            fail_msg("case %zu: detail '%s' lacks '%s'", i, err.detail, bad[i].detail);
        sc_buf_free(&b);
    }
}

static void test_filters(void **state)
{
    (void)state;
    struct {
        const char *v20, *v11;
    } both[] = {
        {"userName eq \"bjensen\"", "userName eq \"bjensen\""},
        {"name.familyName co \"O'Malley\"", "name.familyName co \"O'Malley\""},
        {"userName sw \"J\"", "userName sw \"J\""},
        {"title pr", "title pr"},
        {"meta.lastModified gt \"2011-05-13T04:42:34Z\"",
         "meta.lastModified gt \"2011-05-13T04:42:34Z\""},
        {"meta.lastModified ge \"2011-05-13T04:42:34Z\" and meta.lastModified le "
         "\"2012-01-01T00:00:00Z\"",
         "meta.lastModified ge \"2011-05-13T04:42:34Z\" and meta.lastModified le "
         "\"2012-01-01T00:00:00Z\""},
        {"title pr and userType eq \"Employee\"", "title pr and userType eq \"Employee\""},
        {"title pr or userType eq \"Intern\"", "title pr or userType eq \"Intern\""},
        {"userType eq \"Employee\" and (emails co \"example.com\" or emails co \"example.org\")",
         "userType eq \"Employee\" and (emails co \"example.com\" or emails co \"example.org\")"},
        {"manager.value eq \"m\"", "manager.managerId eq \"m\""},
        {ENT ":department eq \"Sales\"", E11 ":department eq \"Sales\""},
        {ENT ":manager.value eq \"m\"", E11 ":manager.managerId eq \"m\""},
        {"emails.value lt \"b\"", "emails.value lt \"b\""},
        {"active eq true", "active eq true"},
    };
    for (size_t i = 0; i < sizeof both / sizeof both[0]; i++) {
        struct sc_buf b;
        struct scim_error err = {0};
        sc_buf_init(&b, 0);
        if (scim_dialect_filter_to_11(both[i].v20, &b, &err) != SC_OK)
            fail_msg("case %zu: %s", i, err.detail);
        assert_string_equal(b.data, both[i].v11);
        sc_buf_reset(&b);
        if (scim_dialect_filter_from_11(both[i].v11, &b, &err) != SC_OK)
            fail_msg("case %zu back: %s", i, err.detail);
        assert_string_equal(b.data, both[i].v20);
        sc_buf_free(&b);
    }
    /* the core prefix drops; keywords in any case come out canonical */
    struct sc_buf b;
    struct scim_error err = {0};
    sc_buf_init(&b, 0);
    assert_int_equal(scim_dialect_filter_from_11("URN:scim:schemas:core:1.0:userName EQ \"a\" AND "
                                                 "(title PR)",
                                                 &b, &err),
                     SC_OK);
    assert_string_equal(b.data, "userName eq \"a\" and title pr");
    sc_buf_free(&b);
    struct {
        int to11;
        const char *in, *detail;
    } bad[] = {
        {1, "userName ne \"a\"", "no 'ne'"},
        {1, "userName ew \"a\"", "no 'ew'"},
        {1, "not (userName eq \"a\")", "no 'not'"},
        {1, "emails[type eq \"work\"]", "no '[]'"},
        {1, "emails[type eq \"work\"].value eq \"a@x\"", "no '[]'"},
        {1, "title pr and userName ne \"a\"", "no 'ne'"},
        {0, "userName ne \"a\"", "no 'ne'"},
        {0, "emails[type eq \"work\"]", "no '[]'"},
        {0, "(userName eq \"a\") or not (title pr)", "no 'not'"},
        {0, ENT ":department eq \"x\"", "not one of SCIM 1.1"},
        {0, "manager.value eq \"m\"", "managerId"},
        {1, E11 ":department eq \"x\"", "counterpart"},
        {0, "userName eq", "invalid"},
        {0, "", "empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct scim_error e2 = {0};
        sc_buf_init(&b, 0);
        assert_int_equal((bad[i].to11 ? scim_dialect_filter_to_11
                                      : scim_dialect_filter_from_11)(bad[i].in, &b, &e2),
                         SC_ERR_INVALID);
        assert_int_equal(e2.status, 400);
        assert_string_equal(e2.scim_type, SCIM_TYPE_INVALID_FILTER);
        if (!strstr(e2.detail, bad[i].detail) && strcmp(bad[i].detail, "invalid") != 0)
            fail_msg("case %zu: detail '%s' lacks '%s'", i, e2.detail, bad[i].detail);
        sc_buf_free(&b);
    }
    /* the dialect entry point: the look-up filter is the same text in both */
    struct sc_buf t, f;
    sc_buf_init(&t, 0);
    sc_buf_init(&f, 0);
    assert_int_equal(scim_filter_template("username Eq \"%s\"", "ada\"x", &t, &err), SC_OK);
    assert_int_equal(scim_dialect_filter(SCIM_DIALECT_20, t.data, &f, &err), SC_OK);
    assert_string_equal(f.data, "username Eq \"ada\\\"x\"");
    sc_buf_reset(&f);
    assert_int_equal(scim_dialect_filter(SCIM_DIALECT_11, t.data, &f, &err), SC_OK);
    assert_string_equal(f.data, "username eq \"ada\\\"x\"");
    sc_buf_free(&t);
    sc_buf_free(&f);
}

/* ---- messages --------------------------------------------------------------------------- */

static void test_errors(void **state)
{
    (void)state;
    struct scim_error err = {0}, back = {0};
    scim_error_set(&err, 404, NULL, "Resource " U1 " not found");
    json_t *e = scim_dialect_error_json(SCIM_DIALECT_11, &err);
    assert_sq(e, "{'Errors':[{'description':'Resource " U1 " not found','code':'404'}]}");
    scim_error_from_json(e, 500, &back);
    assert_int_equal(back.status, 404);
    assert_string_equal(back.detail, "Resource " U1 " not found");
    json_decref(e);
    /* 2.0 URNs in a detail are written as their 1.1 counterparts; no scimType in 1.1 */
    scim_error_set(&err, 400, SCIM_TYPE_INVALID_VALUE,
                   "unknown attribute " ENT ":x in urn:ietf:params:scim:schemas:core:2.0:User");
    e = scim_dialect_error_json(SCIM_DIALECT_11, &err);
    assert_sq(e, "{'Errors':[{'description':'unknown attribute " E11 ":x in " C11 "',"
                 "'code':'400'}]}");
    json_decref(e);
    scim_error_clear(&err);
    e = scim_dialect_error_json(SCIM_DIALECT_11, &err);
    assert_sq(e, "{'Errors':[{'description':'HTTP 500','code':'500'}]}");
    json_decref(e);
    /* 2.0 is scim_error_json */
    scim_error_set(&err, 409, SCIM_TYPE_UNIQUENESS, "taken");
    e = scim_dialect_error_json(SCIM_DIALECT_20, &err);
    assert_sq(e, "{'schemas':['urn:ietf:params:scim:api:messages:2.0:Error'],'status':'409',"
                 "'scimType':'uniqueness','detail':'taken'}");
    json_decref(e);
    /* reading 1.1 errors: code as a string or a number; the HTTP status otherwise */
    struct {
        const char *body;
        int http, status;
        const char *detail;
    } reads[] = {
        {"{'Errors':[{'description':'gone','code':'404'}]}", 400, 404, "gone"},
        {"{'Errors':[{'description':'conflict','code':409}]}", 400, 409, "conflict"},
        {"{'Errors':[{'description':'odd','code':'teapot'}]}", 418, 418, "odd"},
        {"{'Errors':[{'description':'first','code':'400'},{'description':'second'}]}", 500, 400,
         "first"},
        {"{'Errors':[]}", 503, 503, ""},
        {"{'Errors':[{'code':'401'}]}", 400, 401, ""},
    };
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        json_t *b = sq(reads[i].body);
        scim_error_from_json(b, reads[i].http, &back);
        assert_int_equal(back.status, reads[i].status);
        assert_string_equal(back.detail, reads[i].detail);
        json_decref(b);
    }
}

static void test_lists(void **state)
{
    (void)state;
    struct scim_error err = {0};
    json_t *r = sq("[{'schemas':['" C11 "'],'id':'1','userName':'a'}]");
    json_t *l = scim_dialect_list_response_new(SCIM_DIALECT_11, r, 12, 0);
    assert_sq(l, "{'schemas':['" C11 "'],'totalResults':12,'itemsPerPage':1,'startIndex':1,"
                 "'Resources':[{'schemas':['" C11 "'],'id':'1','userName':'a'}]}");
    /* the 2.0 parser reads it, and the dialect reader converts its resources */
    int64_t total = 0;
    json_t *res = NULL;
    assert_int_equal(scim_list_response_parse(l, &total, &res, &err), SC_OK);
    assert_int_equal(total, 12);
    assert_int_equal(json_array_size(res), 1);
    assert_int_equal(
        scim_dialect_list_read(SCIM_DIALECT_11, scim_resource_type_user(), l, &total, &res, &err),
        SC_OK);
    assert_sq(res, "[{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User'],'id':'1',"
                   "'userName':'a'}]");
    json_decref(res);
    json_decref(l);
    /* an empty 1.1 answer, as the draft allows: no Resources */
    l = sq("{'schemas':['" C11 "'],'totalResults':0}");
    assert_int_equal(scim_dialect_list_read(SCIM_DIALECT_11, NULL, l, &total, &res, &err), SC_OK);
    assert_int_equal(total, 0);
    assert_int_equal(json_array_size(res), 0);
    json_decref(res);
    json_decref(l);
    /* 2.0 passes the resources through */
    l = scim_dialect_list_response_new(SCIM_DIALECT_20, sq("[{'id':'x'}]"), 1, 1);
    assert_sq(l, "{'schemas':['urn:ietf:params:scim:api:messages:2.0:ListResponse'],"
                 "'totalResults':1,'startIndex':1,'itemsPerPage':1,'Resources':[{'id':'x'}]}");
    assert_int_equal(scim_dialect_list_read(SCIM_DIALECT_20, NULL, l, &total, &res, &err), SC_OK);
    assert_sq(res, "[{'id':'x'}]");
    json_decref(res);
    json_decref(l);
    /* errors */
    l = sq("{'Resources':[1]}");
    assert_int_equal(scim_dialect_list_read(SCIM_DIALECT_11, NULL, l, &total, &res, &err),
                     SC_ERR_INVALID);
    json_decref(l);
    l = sq("{'schemas':['" C11 "']}");
    assert_int_equal(scim_dialect_list_read(SCIM_DIALECT_11, NULL, l, &total, &res, &err),
                     SC_ERR_INVALID);
    json_decref(l);
    assert_null(scim_dialect_list_response_new(SCIM_DIALECT_11, json_object(), 0, 1));
}

/* ---- client side ------------------------------------------------------------------------ */

static void test_resource_from_attrs(void **state)
{
    (void)state;
    struct scim_error err = {0};
    json_t *attrs = sq("{'userName':'ada@example.com','givenName':'Ada','familyName':'Lovelace',"
                       "'workEmail':'ada@example.com','workPhone':'+1 555','workCity':'London',"
                       "'workCountry':'GB','department':'Engines','manager':'m-1',"
                       "'active':true,'title':null}");
    json_t *out = NULL;
    assert_int_equal(scim_dialect_resource_from_attrs(SCIM_DIALECT_11, attrs, &out, &err), SC_OK);
    assert_sq(out, "{'schemas':['" C11 "','" E11 "'],'userName':'ada@example.com',"
                   "'name':{'givenName':'Ada','familyName':'Lovelace'},"
                   "'emails':[{'type':'work','value':'ada@example.com','primary':true}],"
                   "'phoneNumbers':[{'type':'work','value':'+1 555'}],"
                   "'addresses':[{'type':'work','locality':'London','country':'GB'}],"
                   "'" E11 "':{'department':'Engines','manager':{'managerId':'m-1'}},"
                   "'active':true}");
    json_t *want = NULL;
    json_decref(out);
    /* 2.0 is scim_resource_from_attrs */
    assert_int_equal(scim_dialect_resource_from_attrs(SCIM_DIALECT_20, attrs, &out, &err), SC_OK);
    assert_int_equal(scim_resource_from_attrs(attrs, &want, &err), SC_OK);
    assert_true(json_equal(out, want));
    json_decref(want);
    json_decref(out);
    json_decref(attrs);
    attrs = sq("{'not a path':1}");
    assert_int_equal(scim_dialect_resource_from_attrs(SCIM_DIALECT_11, attrs, &out, &err),
                     SC_ERR_INVALID);
    assert_string_equal(err.scim_type, SCIM_TYPE_INVALID_PATH);
    json_decref(attrs);
}

static void test_patch_active_and_passthrough(void **state)
{
    (void)state;
    json_t *b = scim_dialect_patch_active(SCIM_DIALECT_11, 0);
    assert_sq(b, "{'schemas':['" C11 "'],'active':false}");
    json_decref(b);
    b = scim_dialect_patch_active(SCIM_DIALECT_20, 1);
    assert_sq(b, "{'schemas':['urn:ietf:params:scim:api:messages:2.0:PatchOp'],"
                 "'Operations':[{'op':'replace','path':'active','value':true}]}");
    json_decref(b);
    /* the 2.0 diff is scim_patch_diff's */
    struct scim_error err = {0};
    json_t *o = sq("{'userName':'a','workEmail':'a@x','title':'T'}");
    json_t *n = sq("{'userName':'a','workEmail':'b@x'}");
    json_t *got = NULL, *want = NULL;
    assert_int_equal(scim_dialect_patch_diff(SCIM_DIALECT_20, o, n, &got, &err), SC_OK);
    assert_int_equal(scim_patch_diff(o, n, &want, &err), SC_OK);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    assert_int_equal(scim_dialect_patch_diff(SCIM_DIALECT_11, o, n, &got, &err), SC_OK);
    assert_sq(got, "{'schemas':['" C11 "'],'emails':[{'type':'work','value':'a@x',"
                   "'primary':true,'operation':'delete'},{'type':'work','value':'b@x',"
                   "'primary':true}],'meta':{'attributes':['title']}}");
    json_decref(got);
    json_decref(o);
    json_decref(n);
}

/* ---- the 1.1 PATCH builder -------------------------------------------------------------- */

/* The values the target holds besides those the mapping manages; a PATCH must keep them. */
#define EXTRAS                                                                                     \
    "{'emails':[{'type':'home','value':'ada@home.example'}],"                                      \
    "'addresses':[{'type':'home','locality':'Oxford'}],"                                           \
    "'phoneNumbers':[{'type':'mobile','value':'+44 7'}],'nickName':'Addie'}"

/* Appends the values of extras to res (a 2.0 User) as the target would hold them. */
static void add_extras(json_t *res)
{
    json_t *x = sq(EXTRAS);
    const char *k;
    json_t *v;
    json_object_foreach(x, k, v)
    {
        json_t *cur = json_object_get(res, k);
        if (json_is_array(cur))
            json_array_extend(cur, v);
        else if (!cur)
            json_object_set(res, k, v);
    }
    json_decref(x);
}

/* Builds the resource from attrs (+ extras), validated as a stored one. */
static json_t *stored(const json_t *attrs, int extras)
{
    struct scim_error err = {0};
    json_t *r = NULL, *v = NULL;
    if (scim_resource_from_attrs(attrs, &r, &err) != SC_OK)
        fail_msg("from_attrs: %s", err.detail);
    json_object_set_new(r, "id", json_string(U1));
    if (extras)
        add_extras(r);
    if (scim_resource_validate(scim_resource_type_user(), r, SCIM_VALIDATE_PATCHED, NULL, &v,
                               &err) != SC_OK)
        fail_msg("validate: %s", err.detail);
    json_decref(r);
    return v;
}

static void test_patch_diff_table(void **state)
{
    (void)state;
#define BASE "'userName':'ada'"
    struct {
        const char *old_attrs, *new_attrs;
        const char *expect; /* NULL = nothing to send */
    } cases[] = {
        /* 0 */ {"{" BASE ",'workEmail':'a@x'}", "{" BASE ",'workEmail':'a@x'}", NULL},
        {"{" BASE "}", "{'userName':'ada2'}", "{'schemas':['" C11 "'],'userName':'ada2'}"},
        {"{" BASE "}", "{" BASE ",'title':'Engineer'}",
         "{'schemas':['" C11 "'],'title':'Engineer'}"},
        {"{" BASE ",'title':'Engineer'}", "{" BASE "}",
         "{'schemas':['" C11 "'],'meta':{'attributes':['title']}}"},
        {"{" BASE ",'title':'Engineer'}", "{" BASE ",'title':null}",
         "{'schemas':['" C11 "'],'meta':{'attributes':['title']}}"},
        /* 5 */
        {"{" BASE ",'givenName':'Ada','familyName':'Lovelace'}", "{" BASE ",'givenName':'Augusta'}",
         "{'schemas':['" C11 "'],'name':{'givenName':'Augusta'},"
         "'meta':{'attributes':['name.familyName']}}"},
        {"{" BASE ",'workEmail':'a@x'}", "{" BASE ",'workEmail':'b@x'}",
         "{'schemas':['" C11 "'],'emails':[{'type':'work','value':'a@x','primary':true,"
         "'operation':'delete'},{'type':'work','value':'b@x','primary':true}]}"},
        {"{" BASE "}", "{" BASE ",'workEmail':'b@x'}",
         "{'schemas':['" C11 "'],'emails':[{'type':'work','value':'b@x','primary':true}]}"},
        {"{" BASE ",'workEmail':'a@x'}", "{" BASE "}",
         "{'schemas':['" C11 "'],'emails':[{'type':'work','value':'a@x','primary':true,"
         "'operation':'delete'}]}"},
        {"{" BASE ",'workStreetAddress':'1 Main St','workCity':'London'}",
         "{" BASE ",'workStreetAddress':'1 Main St','workCity':'Paris'}",
         "{'schemas':['" C11 "'],'addresses':[{'type':'work','streetAddress':'1 Main St',"
         "'locality':'London','operation':'delete'},{'type':'work','streetAddress':'1 Main St',"
         "'locality':'Paris'}]}"},
        /* 10 */
        {"{" BASE ",'workStreetAddress':'1 Main St','workCity':'London'}",
         "{" BASE ",'workCity':'London'}",
         "{'schemas':['" C11 "'],'addresses':[{'type':'work','streetAddress':'1 Main St',"
         "'locality':'London','operation':'delete'},{'type':'work','locality':'London'}]}"},
        {"{" BASE ",'workStreetAddress':'1 Main St','workCity':'London','workCountry':'GB'}",
         "{" BASE "}",
         "{'schemas':['" C11 "'],'addresses':[{'type':'work','streetAddress':'1 Main St',"
         "'locality':'London','country':'GB','operation':'delete'}]}"},
        {"{" BASE "}", "{" BASE ",'workPostalCode':'NW1','workState':'LDN'}",
         "{'schemas':['" C11 "'],'addresses':[{'type':'work','postalCode':'NW1',"
         "'region':'LDN'}]}"},
        {"{" BASE ",'department':'Engines'}", "{" BASE ",'department':'Looms'}",
         "{'schemas':['" C11 "','" E11 "'],'" E11 "':{'department':'Looms'}}"},
        {"{" BASE ",'department':'Engines','costCenter':'42'}", "{" BASE ",'costCenter':'42'}",
         "{'schemas':['" C11 "'],'meta':{'attributes':['" E11 ":department']}}"},
        /* 15 */
        {"{" BASE "}", "{" BASE ",'manager':'m-1'}",
         "{'schemas':['" C11 "','" E11 "'],'" E11 "':{'manager':{'managerId':'m-1'}}}"},
        {"{" BASE ",'manager':'m-1'}", "{" BASE "}",
         "{'schemas':['" C11 "'],'meta':{'attributes':['" E11 ":manager.managerId']}}"},
        {"{" BASE ",'active':true}", "{" BASE ",'active':false}",
         "{'schemas':['" C11 "'],'active':false}"},
        {"{" BASE ",'workPhone':'+1 555 0100'}", "{" BASE ",'workPhone':'+1 555 0199'}",
         "{'schemas':['" C11 "'],'phoneNumbers':[{'type':'work','value':'+1 555 0100',"
         "'operation':'delete'},{'type':'work','value':'+1 555 0199'}]}"},
        /* the same value, another sub-attribute changed: merged by value, no delete */
        {"{" BASE ",'workEmail':'a@x','emails[type eq \\'work\\'].display':'A'}",
         "{" BASE ",'workEmail':'a@x','emails[type eq \\'work\\'].display':'Ada'}",
         "{'schemas':['" C11 "'],'emails':[{'type':'work','value':'a@x','primary':true,"
         "'display':'Ada'}]}"},
        /* 20: the same value, a sub-attribute gone: delete and add */
        {"{" BASE ",'workEmail':'a@x','emails[type eq \\'work\\'].display':'A'}",
         "{" BASE ",'workEmail':'a@x'}",
         "{'schemas':['" C11 "'],'emails':[{'type':'work','value':'a@x','primary':true,"
         "'display':'A','operation':'delete'},{'type':'work','value':'a@x','primary':true}]}"},
        /* a whole multi-valued attribute */
        {"{" BASE ",'phoneNumbers':[{'type':'fax','value':'1'}]}",
         "{" BASE ",'phoneNumbers':[{'type':'fax','value':'2'}]}",
         "{'schemas':['" C11 "'],'phoneNumbers':[{'type':'fax','value':'2'}],"
         "'meta':{'attributes':['phoneNumbers']}}"},
        {"{" BASE "}", "{" BASE ",'phoneNumbers':[{'type':'fax','value':'2'}]}",
         "{'schemas':['" C11 "'],'phoneNumbers':[{'type':'fax','value':'2'}]}"},
        {"{" BASE ",'phoneNumbers':[{'type':'fax','value':'1'}]}", "{" BASE "}",
         "{'schemas':['" C11 "'],'meta':{'attributes':['phoneNumbers']}}"},
        /* a whole complex attribute: what goes is named sub-attribute by sub-attribute */
        {"{" BASE ",'name':{'givenName':'Ada','familyName':'Lovelace'}}",
         "{" BASE ",'name':{'givenName':'Augusta'}}",
         "{'schemas':['" C11 "'],'name':{'givenName':'Augusta'},"
         "'meta':{'attributes':['name.familyName']}}"},
        /* 25 */
        {"{" BASE ",'name':{'givenName':'Ada','familyName':'Lovelace'}}", "{" BASE "}",
         "{'schemas':['" C11 "'],'meta':{'attributes':['name.givenName','name.familyName']}}"},
        {"{" BASE ",'externalId':'e1'}", "{" BASE ",'externalId':'e2'}",
         "{'schemas':['" C11 "'],'externalId':'e2'}"},
        /* the seed's misspelling stands for the same sub-attribute */
        {"{" BASE ",'workStreetAddeess':'1 Main St'}", "{" BASE ",'workStreetAddeess':'2 Main St'}",
         "{'schemas':['" C11 "'],'addresses':[{'type':'work','streetAddress':'1 Main St',"
         "'operation':'delete'},{'type':'work','streetAddress':'2 Main St'}]}"},
        /* SCIM 2.0 paths stand for themselves */
        {"{" BASE ",'" ENT ":division':'A','name.middleName':'M'}",
         "{" BASE ",'" ENT ":division':'B'}",
         "{'schemas':['" C11 "','" E11 "'],'" E11 "':{'division':'B'},"
         "'meta':{'attributes':['name.middleName']}}"},
        /* everything at once, in the order of the new set, removals last */
        {"{" BASE ",'givenName':'Ada','title':'T','workEmail':'a@x','workCity':'London',"
         "'department':'D','manager':'m-1','active':true}",
         "{" BASE ",'givenName':'Augusta','workEmail':'b@x','workCity':'London','department':'E',"
         "'active':false}",
         "{'schemas':['" C11 "','" E11 "'],'name':{'givenName':'Augusta'},"
         "'emails':[{'type':'work','value':'a@x','primary':true,'operation':'delete'},"
         "{'type':'work','value':'b@x','primary':true}],'" E11 "':{'department':'E'},"
         "'active':false,'meta':{'attributes':['title','" E11 ":manager.managerId']}}"},
        /* 30: old set absent (nothing sent before) */
        {NULL, "{" BASE ",'workEmail':'b@x'}",
         "{'schemas':['" C11 "'],'userName':'ada','emails':[{'type':'work','value':'b@x',"
         "'primary':true}]}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *o = cases[i].old_attrs ? sq(cases[i].old_attrs) : NULL;
        json_t *n = sq(cases[i].new_attrs);
        json_t *body = NULL;
        struct scim_error err = {0};
        if (scim_dialect_patch_diff_11(o, n, &body, &err) != SC_OK)
            fail_msg("case %zu: %s", i, err.detail);
        if (!cases[i].expect) {
            if (body)
                fail_msg("case %zu: expected nothing, got %s", i, json_dumps(body, JSON_COMPACT));
        } else {
            json_t *e = sq(cases[i].expect);
            if (!json_equal(body, e)) {
                char *g = json_dumps(body, JSON_COMPACT), *w = json_dumps(e, JSON_COMPACT);
                fail_msg("case %zu:\ngot  %s\nwant %s", i, g, w);
            }
            json_decref(e);
            /* a strict 1.1 service provider accepts it */
            assert_int_equal(scim_dialect_check_11(scim_resource_type_user(), body, 1, &err),
                             SC_OK);
        }
        /* applied to what the old set built (with and without values the mapping does not
         * manage), it gives what the new set builds */
        /* a whole multi-valued attribute (phoneNumbers below) replaces the extras too */
        int whole = (o && strstr(cases[i].old_attrs, "'phoneNumbers'")) ||
                    strstr(cases[i].new_attrs, "'phoneNumbers'");
        for (int extras = 0; extras < 2 - whole && body && o; extras++) {
            json_t *before = stored(o, extras);
            json_t *want = stored(n, extras);
            json_t *after = NULL;
            if (scim_dialect_patch_apply_11(scim_resource_type_user(), before, body, &after,
                                            &err) != SC_OK)
                fail_msg("case %zu (extras %d): apply: %s", i, extras, err.detail);
            assert_same_set(after, want);
            json_decref(after);
            json_decref(want);
            json_decref(before);
        }
        json_decref(body);
        json_decref(o);
        json_decref(n);
    }
#undef BASE
}

static void test_patch_diff_errors(void **state)
{
    (void)state;
    struct {
        const char *old_attrs, *new_attrs, *type;
    } cases[] = {
        {"{}", "{'nope':1}", SCIM_TYPE_INVALID_PATH},
        {"{'nope':1}", "{}", SCIM_TYPE_INVALID_PATH},
        {"{}", "{'emails.value':'x'}", SCIM_TYPE_INVALID_PATH},
        {"{}", "{'name[givenName eq \\'x\\'].familyName':'x'}", SCIM_TYPE_INVALID_PATH},
        {"{}", "{'emails[type co \\'w\\'].value':'x'}", SCIM_TYPE_NO_TARGET},
        {"{}", "{'name':'x'}", SCIM_TYPE_INVALID_VALUE},
        {"{}", "[]", SCIM_TYPE_INVALID_VALUE},
        {"[]", "{}", SCIM_TYPE_INVALID_VALUE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *o = sq(cases[i].old_attrs), *n = sq(cases[i].new_attrs), *body = NULL;
        struct scim_error err = {0};
        if (scim_dialect_patch_diff_11(o, n, &body, &err) != SC_ERR_INVALID)
            fail_msg("case %zu accepted", i);
        assert_null(body);
        assert_int_equal(err.status, 400);
        assert_string_equal(err.scim_type, cases[i].type);
        json_decref(o);
        json_decref(n);
    }
}

/* ---- the 1.1 PATCH applier -------------------------------------------------------------- */

/* Applies a 1.1 body (single-quoted JSON) to res; returns the result or NULL (err). The
 * input never changes. */
static json_t *apply11(const struct scim_resource_type *rt, const json_t *res, const char *body,
                       struct scim_error *err)
{
    json_t *b = sq(body), *before = json_deep_copy(res), *out = NULL;
    scim_error_clear(err);
    scim_dialect_patch_apply_11(rt, res, b, &out, err);
    assert_true(json_equal(before, res));
    json_decref(before);
    json_decref(b);
    return out;
}

static void test_apply_group_examples(void **state)
{
    (void)state;
    const struct scim_resource_type *gt = scim_resource_type_group();
    json_t *g = fix_json(FIX_GROUP), *r;
    struct scim_error err = {0};
    /* add a member */
    r = apply11(gt, g,
                "{'schemas':['" C11 "'],'members':[{'display':'James Smith','value':'" U3 "'}]}",
                &err);
    assert_non_null(r);
    assert_int_equal(json_array_size(json_object_get(r, "members")), 3);
    json_decref(r);
    /* remove one member */
    r = apply11(gt, g,
                "{'schemas':['" C11 "'],'members':[{'display':'Babs Jensen','value':'" U1
                "','operation':'delete'}]}",
                &err);
    assert_non_null(r);
    assert_sq(json_object_get(r, "members"),
              "[{'value':'" U2 "','$ref':'https://example.com/v2/Users/" U2 "',"
              "'display':'Mandy Pepperidge'}]");
    json_decref(r);
    /* remove all members */
    r = apply11(gt, g, "{'schemas':['" C11 "'],'meta':{'attributes':['members']}}", &err);
    assert_non_null(r);
    assert_null(json_object_get(r, "members"));
    assert_string_equal(json_string_value(json_object_get(r, "id")),
                        "e9e30dba-f08f-4109-8486-d5c6a331660a");
    json_decref(r);
    /* replace all members; a delete of a removed attribute is ignored */
    r = apply11(gt, g,
                "{'schemas':['" C11 "'],'meta':{'attributes':['members']},'members':[{'value':'" U1
                "','operation':'delete'},{'display':'James Smith','value':'" U3 "'}]}",
                &err);
    assert_non_null(r);
    assert_sq(json_object_get(r, "members"), "[{'display':'James Smith','value':'" U3 "'}]");
    json_decref(r);
    /* a delete that matches nothing changes nothing */
    r = apply11(
        gt, g, "{'schemas':['" C11 "'],'members':[{'value':'" U3 "','operation':'delete'}]}", &err);
    assert_non_null(r);
    assert_int_equal(json_array_size(json_object_get(r, "members")), 2);
    json_decref(r);
    /* the displayName */
    r = apply11(gt, g, "{'schemas':['" C11 "'],'displayName':'Guides'}", &err);
    assert_string_equal(json_string_value(json_object_get(r, "displayName")), "Guides");
    json_decref(r);
    json_decref(g);
}

static void test_apply_user_examples(void **state)
{
    (void)state;
    const struct scim_resource_type *ut = scim_resource_type_user();
    json_t *u = user20(), *r;
    struct scim_error err = {0};
    /* a new primary email: it is added, and the old primary is primary no more */
    r = apply11(ut, u,
                "{'schemas':['" C11 "'],'emails':[{'value':'babs@new.example','primary':true}]}",
                &err);
    assert_non_null(r);
    assert_sq(json_object_get(r, "emails"),
              "[{'value':'bjensen@example.com','type':'work','primary':false},"
              "{'value':'babs@jensen.org','type':'home'},"
              "{'value':'babs@new.example','primary':true}]");
    json_decref(r);
    /* an existing address made primary: merged by value */
    r = apply11(ut, u,
                "{'schemas':['" C11 "'],'emails':[{'value':'babs@jensen.org','primary':true}]}",
                &err);
    assert_sq(json_object_get(r, "emails"),
              "[{'value':'bjensen@example.com','type':'work','primary':false},"
              "{'value':'babs@jensen.org','type':'home','primary':true}]");
    json_decref(r);
    /* removals first, then the body; a removed attribute set again is replaced */
    r = apply11(ut, u,
                "{'schemas':['" C11 "'],'meta':{'attributes':['title','name.givenName','emails',"
                "'urn:scim:schemas:core:1.0:nickName','" E11 ":manager.managerId']},"
                "'emails':[{'value':'only@x','type':'work'}],'name':{'middleName':'J'}}",
                &err);
    assert_non_null(r);
    assert_null(json_object_get(r, "title"));
    assert_json(json_object_get(r, "name"), "{\"formatted\":\"Ms. Barbara J Jensen III\","
                                            "\"familyName\":\"O'Malley\",\"middleName\":\"J\"}");
    assert_sq(json_object_get(r, "emails"), "[{'value':'only@x','type':'work'}]");
    assert_sq(json_object_get(r, ENT), "{'employeeNumber':'701984','department':'Tour Operations',"
                                       "'manager':{'displayName':'John Smith'}}");
    json_decref(r);
    /* the enterprise extension under its 1.1 URN */
    r = apply11(ut, u,
                "{'schemas':['" C11 "','" E11 "'],'" E11 "':{'department':'Rides',"
                "'manager':{'managerId':'m-2'},'costCenter':'4130'}}",
                &err);
    assert_sq(json_object_get(r, ENT), "{'employeeNumber':'701984','department':'Rides',"
                                       "'costCenter':'4130','manager':{'value':'m-2',"
                                       "'displayName':'John Smith'}}");
    json_decref(r);
    /* the whole extension removed: its object and URN go */
    r = apply11(ut, u,
                "{'schemas':['" C11 "'],'meta':{'attributes':['" E11 ":employeeNumber','" E11
                ":department','" E11 ":manager']}}",
                &err);
    assert_non_null(r);
    assert_null(json_object_get(r, ENT));
    assert_sq(json_object_get(r, "schemas"), "['urn:ietf:params:scim:schemas:core:2.0:User']");
    json_decref(r);
    /* the last member of an extension set to null also takes the extension */
    json_t *small = sq("{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User','" ENT "'],"
                       "'userName':'x','" ENT "':{'department':'d'}}");
    r = apply11(ut, small, "{'schemas':['" C11 "','" E11 "'],'" E11 "':{'department':null}}", &err);
    assert_sq(r, "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User'],'userName':'x'}");
    json_decref(r);
    json_decref(small);
    /* an address deleted by all its sub-attributes (it has no value) */
    r = apply11(ut, u,
                "{'schemas':['" C11 "'],'addresses':[{'type':'work','locality':'Hollywood',"
                "'operation':'delete'}]}",
                &err);
    assert_non_null(r);
    assert_null(json_object_get(r, "addresses"));
    json_decref(r);
    /* one that differs in a sub-attribute matches nothing */
    r = apply11(ut, u,
                "{'schemas':['" C11 "'],'addresses':[{'type':'work','locality':'Burbank',"
                "'operation':'delete'}]}",
                &err);
    assert_int_equal(json_array_size(json_object_get(r, "addresses")), 1);
    json_decref(r);
    /* an email deleted by value, in any case */
    r = apply11(ut, u,
                "{'schemas':['" C11 "'],'emails':[{'value':'BJENSEN@example.com',"
                "'operation':'delete'}]}",
                &err);
    assert_sq(json_object_get(r, "emails"), "[{'value':'babs@jensen.org','type':'home'}]");
    json_decref(r);
    /* sending back id, schemas or unchanged readOnly values is harmless; null removes */
    r = apply11(ut, u, "{'schemas':['" C11 "'],'id':'" U1 "','title':null,'active':false}", &err);
    assert_non_null(r);
    assert_null(json_object_get(r, "title"));
    assert_true(json_is_false(json_object_get(r, "active")));
    assert_sq(json_object_get(r, "meta"), "{'resourceType':'User','created':'2010-01-23T04:56:22Z',"
                                          "'lastModified':'2011-05-13T04:42:34Z',"
                                          "'version':'W/\\'3694e05e9dff591\\'','location':"
                                          "'https://example.com/v2/Users/" U1 "'}");
    json_decref(r);
    /* an exact duplicate is not added twice */
    r = apply11(ut, u,
                "{'schemas':['" C11 "'],'addresses':[{'type':'work','streetAddress':'100 Universal "
                "City Plaza','locality':'Hollywood','region':'CA','postalCode':'91608',"
                "'country':'USA','primary':true}]}",
                &err);
    assert_int_equal(json_array_size(json_object_get(r, "addresses")), 1);
    json_decref(r);
    json_decref(u);
}

static void test_apply_errors(void **state)
{
    (void)state;
    const struct scim_resource_type *ut = scim_resource_type_user();
    json_t *u = user20();
    json_t *two = sq("{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User'],'userName':'t',"
                     "'emails':[{'value':'x@y','type':'work'},{'value':'x@y','type':'home'}]}");
    struct {
        const json_t *res;
        const char *body, *type, *detail;
    } cases[] = {
        {u,
         "{'schemas':['urn:ietf:params:scim:api:messages:2.0:PatchOp'],'Operations':[{'op':"
         "'replace','path':'title','value':'x'}]}",
         SCIM_TYPE_INVALID_SYNTAX, "PatchOp"},
        {u, "{'schemas':['urn:ietf:params:scim:schemas:core:2.0:User'],'title':'x'}",
         SCIM_TYPE_INVALID_SYNTAX, "SCIM 2.0 URN"},
        {u, "{'schemas':['" C11 "'],'" ENT "':{'department':'x'}}", SCIM_TYPE_INVALID_VALUE,
         "SCIM 2.0 schema"},
        {u, "{'schemas':['" C11 "'],'nope':1}", SCIM_TYPE_INVALID_VALUE, "unknown attribute nope"},
        {u, "{'schemas':['" C11 "','" E11 "'],'" E11 "':{'nope':1}}", SCIM_TYPE_INVALID_VALUE,
         "unknown attribute " E11 ":nope"},
        {u, "{'schemas':['" C11 "'],'id':'other'}", SCIM_TYPE_MUTABILITY, "id is readOnly"},
        {u, "{'schemas':['" C11 "'],'groups':[{'value':'g'}]}", SCIM_TYPE_MUTABILITY,
         "groups is readOnly"},
        {u, "{'schemas':['" C11 "'],'meta':{'attributes':['nope']}}", SCIM_TYPE_INVALID_PATH,
         "nope is not an attribute"},
        {u, "{'schemas':['" C11 "'],'meta':{'attributes':['emails.value']}}",
         SCIM_TYPE_INVALID_PATH, "as a whole"},
        {u, "{'schemas':['" C11 "'],'meta':{'attributes':['id']}}", SCIM_TYPE_MUTABILITY,
         "readOnly"},
        {u, "{'schemas':['" C11 "'],'meta':{'attributes':['" ENT ":department']}}",
         SCIM_TYPE_INVALID_PATH, "not one of SCIM 1.1"},
        {u, "{'schemas':['" C11 "'],'meta':{'attributes':['manager.value']}}",
         SCIM_TYPE_INVALID_PATH, "managerId"},
        {u, "{'schemas':['" C11 "'],'meta':{'attributes':['a..b']}}", SCIM_TYPE_INVALID_PATH,
         "not an attribute"},
        {u, "{'schemas':['" C11 "'],'meta':{'attributes':['userName']}}", SCIM_TYPE_INVALID_VALUE,
         "after the PATCH"},
        {u, "{'schemas':['" C11 "'],'emails':{'value':'a@x'}}", SCIM_TYPE_INVALID_VALUE,
         "send its values as an array"},
        {u, "{'schemas':['" C11 "'],'name':'x'}", SCIM_TYPE_INVALID_VALUE, "must be an object"},
        {u, "{'schemas':['" C11 "'],'emails':[{'value':'x','operation':'remove'}]}",
         SCIM_TYPE_INVALID_VALUE, "the only"},
        {u, "{'schemas':['" C11 "'],'emails':[{'operation':'delete'}]}", SCIM_TYPE_INVALID_VALUE,
         "must say which"},
        {u, "{'schemas':['" C11 "'],'emails':[{'value':12}]}", SCIM_TYPE_INVALID_VALUE,
         "after the PATCH"},
        {u, "{'schemas':['" C11 "'],'active':'yes'}", SCIM_TYPE_INVALID_VALUE, "after the PATCH"},
        {two, "{'schemas':['" C11 "'],'emails':[{'value':'x@y','operation':'delete'}]}",
         SCIM_TYPE_INVALID_VALUE, "matches 2 values"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct scim_error err = {0};
        json_t *r = apply11(ut, cases[i].res, cases[i].body, &err);
        if (r)
            fail_msg("case %zu accepted: %s", i, json_dumps(r, JSON_COMPACT));
        assert_int_equal(err.status, 400);
        if (strcmp(err.scim_type, cases[i].type) != 0 || !strstr(err.detail, cases[i].detail))
            fail_msg("case %zu: %s %s (want %s, '%s')", i, err.scim_type, err.detail, cases[i].type,
                     cases[i].detail);
    }
    /* narrowed by the other sub-attributes, one of the two goes */
    struct scim_error err = {0};
    json_t *r = apply11(ut, two,
                        "{'schemas':['" C11 "'],'emails':[{'value':'x@y','type':'home',"
                        "'operation':'delete'}]}",
                        &err);
    assert_sq(json_object_get(r, "emails"), "[{'value':'x@y','type':'work'}]");
    json_decref(r);
    /* the budget counts names and values together */
    json_t *b = sq("{'schemas':['" C11 "'],'meta':{'attributes':[]},'emails':[]}");
    json_t *names = json_object_get(json_object_get(b, "meta"), "attributes");
    json_t *emails = json_object_get(b, "emails");
    for (int i = 0; i < 600; i++) {
        char v[32];
        snprintf(v, sizeof v, "e%d@x", i);
        json_array_append_new(names, json_string("title"));
        json_array_append_new(emails, json_pack("{s:s}", "value", v));
    }
    json_t *out = NULL;
    assert_int_equal(scim_dialect_patch_apply_11(ut, u, b, &out, &err), SC_ERR_INVALID);
    assert_string_equal(err.scim_type, SCIM_TYPE_TOO_MANY);
    json_decref(b);
    /* nothing to patch */
    b = sq("{'schemas':['" C11 "']}");
    assert_int_equal(scim_dialect_patch_apply_11(ut, NULL, b, &out, &err), SC_ERR_INVALID);
    assert_int_equal(scim_dialect_patch_apply_11(NULL, u, b, &out, &err), SC_ERR_INVALID);
    /* an empty 1.1 PATCH changes nothing */
    assert_int_equal(scim_dialect_patch_apply_11(ut, u, b, &out, &err), SC_OK);
    assert_true(json_equal(out, u));
    json_decref(out);
    json_decref(b);
    json_decref(two);
    json_decref(u);
}

/* ---- the 1.1 schema document ------------------------------------------------------------ */

static const json_t *attr_named(const json_t *attrs, const char *name)
{
    size_t i;
    json_t *a;
    json_array_foreach(attrs, i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "name")), name) == 0)
            return a;
    }
    return NULL;
}

static void test_schema_11(void **state)
{
    (void)state;
    json_t *s = scim_dialect_schema_11_json(scim_resource_type_user(), "http://h/scim/v1");
    assert_string_equal(json_string_value(json_object_get(s, "id")), C11 ":User");
    assert_string_equal(json_string_value(json_object_get(s, "schema")), C11);
    assert_string_equal(json_string_value(json_object_get(s, "endpoint")), "/Users");
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "meta"), "location")),
                        "http://h/scim/v1/Schemas/Users");
    const json_t *attrs = json_object_get(s, "attributes");
    const json_t *a = attr_named(attrs, "id");
    assert_non_null(a);
    assert_true(json_is_true(json_object_get(a, "readOnly")));
    assert_true(json_is_true(json_object_get(a, "caseExact")));
    a = attr_named(attrs, "emails");
    assert_string_equal(json_string_value(json_object_get(a, "multiValuedAttributeChildName")),
                        "email");
    assert_true(json_is_true(json_object_get(a, "multiValued")));
    assert_string_equal(json_string_value(json_object_get(a, "type")), "complex");
    a = attr_named(attrs, "addresses");
    assert_string_equal(json_string_value(json_object_get(a, "multiValuedAttributeChildName")),
                        "address");
    assert_non_null(attr_named(json_object_get(a, "subAttributes"), "locality"));
    a = attr_named(attrs, "groups");
    assert_true(json_is_true(json_object_get(a, "readOnly")));
    assert_null(attr_named(json_object_get(a, "subAttributes"), "$ref"));
    a = attr_named(attrs, "profileUrl");
    assert_string_equal(json_string_value(json_object_get(a, "type")), "string");
    a = attr_named(attrs, "department");
    assert_string_equal(json_string_value(json_object_get(a, "schema")), E11);
    a = attr_named(attrs, "manager");
    const json_t *subs = json_object_get(a, "subAttributes");
    assert_non_null(attr_named(subs, "managerId"));
    assert_non_null(attr_named(subs, "displayName"));
    assert_null(attr_named(subs, "value"));
    assert_null(attr_named(subs, "$ref"));
    a = attr_named(attrs, "meta");
    subs = json_object_get(a, "subAttributes");
    assert_non_null(attr_named(subs, "attributes"));
    assert_null(attr_named(subs, "resourceType"));
    assert_non_null(attr_named(subs, "lastModified"));
    char *text = json_dumps(s, JSON_COMPACT);
    assert_null(strstr(text, "urn:ietf"));
    free(text);
    json_decref(s);
    s = scim_dialect_schema_11_json(scim_resource_type_group(), NULL);
    assert_string_equal(json_string_value(json_object_get(s, "id")), C11 ":Group");
    assert_null(json_object_get(s, "meta"));
    attrs = json_object_get(s, "attributes");
    assert_non_null(attr_named(attrs, "displayName"));
    assert_null(attr_named(attrs, "department"));
    a = attr_named(attrs, "members");
    assert_null(attr_named(json_object_get(a, "subAttributes"), "$ref"));
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_user_to_11_and_back),
        cmocka_unit_test(test_group_to_11_and_back),
        cmocka_unit_test(test_resource_errors_and_leniency),
        cmocka_unit_test(test_check_11),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_resource_from_attrs),
        cmocka_unit_test(test_patch_active_and_passthrough),
        cmocka_unit_test(test_patch_diff_table),
        cmocka_unit_test(test_patch_diff_errors),
        cmocka_unit_test(test_apply_group_examples),
        cmocka_unit_test(test_apply_user_examples),
        cmocka_unit_test(test_apply_errors),
        cmocka_unit_test(test_schema_11),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
