/* Unit tests for what the shared SCIM handlers tell a back-end a read will show
 * (TARGET_READ_* in target/service.h): a group read or listing whose attributes or
 * excludedAttributes leave the members out asks for no members, unless a filter tests
 * them; users and the other projections ask for everything. A fake back-end records the
 * flags it is handed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "scim/filter.h"
#include "scim/message.h"
#include "target/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fake {
    unsigned read; /* the flags of the last get or list */
    int calls;
};

static json_t *fake_doc(enum target_kind k, unsigned read)
{
    if (k == TARGET_USER)
        return json_pack("{s:[s], s:s, s:s}", "schemas", SCIM_SCHEMA_USER, "id", "u1", "userName",
                         "ada");
    json_t *g = json_pack("{s:[s], s:s, s:s}", "schemas", SCIM_SCHEMA_GROUP, "id", "g1",
                          "displayName", "Admins");
    if (!(read & TARGET_READ_NO_MEMBERS))
        json_object_set_new(g, "members", json_pack("[{s:s, s:s}]", "value", "u1", "type", "User"));
    return g;
}

static int fake_get(void *be, enum target_kind k, const char *id, unsigned read, json_t **doc,
                    char *etag, struct target_result *r)
{
    struct fake *f = be;
    (void)id;
    (void)r;
    f->read = read;
    f->calls++;
    *doc = fake_doc(k, read);
    snprintf(etag, TARGET_ETAG_MAX, "W/\"1\"");
    return 0;
}

static int fake_list(void *be, enum target_kind k, const struct scim_filter *flt,
                     struct target_page *pg, struct target_result *r)
{
    struct fake *f = be;
    (void)r;
    f->read = pg->read;
    f->calls++;
    json_t *doc = fake_doc(k, pg->read);
    if (!flt || scim_filter_match(flt, target_rt(k), doc)) {
        pg->total++;
        json_array_append_new(pg->docs, json_pack("[i, o]", (int)k, doc));
    } else {
        json_decref(doc);
    }
    return 0;
}

static const struct target_backend fake_backend = {.get = fake_get, .list = fake_list};

/* Runs a GET of path with the query's attributes, excludedAttributes and filter; returns
 * the flags the back-end saw and checks the answer is 200. *body (may be NULL) is the
 * answer's body (new). */
static unsigned run_get(const char *path, const char *attributes, const char *excluded,
                        const char *filter, json_t **body)
{
    struct fake f = {.read = 0xffu};
    struct target_service s = {.ops = &fake_backend,
                               .be = &f,
                               .base_url = "http://127.0.0.1/scim/v2",
                               .max_results = 100,
                               .dialect = SCIM_DIALECT_20};
    struct target_call c = {.method = TM_GET,
                            .path = path,
                            .attributes = attributes,
                            .excluded = excluded,
                            .filter = filter};
    struct target_result r = {0};
    target_service_run(&s, &c, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(f.calls, 1);
    if (body)
        *body = r.body;
    else
        json_decref(r.body);
    return f.read;
}

static void test_a_group_read_without_members(void **state)
{
    (void)state;
    json_t *body = NULL;
    assert_int_equal(run_get("/Groups/g1", NULL, "members", NULL, &body), TARGET_READ_NO_MEMBERS);
    assert_null(json_object_get(body, "members"));
    assert_string_equal(json_string_value(json_object_get(body, "displayName")), "Admins");
    json_decref(body);
    assert_int_equal(run_get("/Groups/g1", "displayName", NULL, NULL, NULL),
                     TARGET_READ_NO_MEMBERS);
    assert_int_equal(run_get("/Groups/g1", NULL,
                             "urn:ietf:params:scim:schemas:core:2.0:Group:members", NULL, NULL),
                     TARGET_READ_NO_MEMBERS);
    assert_int_equal(run_get("/Groups/g1", NULL, "displayName,Members", NULL, NULL),
                     TARGET_READ_NO_MEMBERS);
    /* attributes wins over excludedAttributes (RFC 7644): members asked for */
    assert_int_equal(run_get("/Groups/g1", "members", "members", NULL, NULL), 0);
}

static void test_a_group_read_with_members(void **state)
{
    (void)state;
    json_t *body = NULL;
    assert_int_equal(run_get("/Groups/g1", NULL, NULL, NULL, &body), 0);
    assert_int_equal(json_array_size(json_object_get(body, "members")), 1);
    json_decref(body);
    assert_int_equal(run_get("/Groups/g1", "members.value", NULL, NULL, NULL), 0);
    assert_int_equal(run_get("/Groups/g1", NULL, "members.display", NULL, NULL), 0);
    assert_int_equal(run_get("/Groups/g1", NULL, "externalId", NULL, NULL), 0);
    assert_int_equal(run_get("/Groups/g1", "displayName,members", NULL, NULL, NULL), 0);
}

static void test_a_group_listing(void **state)
{
    (void)state;
    json_t *body = NULL;
    assert_int_equal(run_get("/Groups", NULL, "members", NULL, &body), TARGET_READ_NO_MEMBERS);
    json_t *one = json_array_get(json_object_get(body, "Resources"), 0);
    assert_non_null(one);
    assert_null(json_object_get(one, "members"));
    json_decref(body);
    assert_int_equal(run_get("/Groups", "displayName", NULL, "displayName eq \"Admins\"", NULL),
                     TARGET_READ_NO_MEMBERS);
    /* a filter on the members needs them, shown or not */
    assert_int_equal(run_get("/Groups", NULL, "members", "members[value eq \"u1\"]", &body), 0);
    assert_int_equal(json_integer_value(json_object_get(body, "totalResults")), 1);
    assert_null(json_object_get(json_array_get(json_object_get(body, "Resources"), 0), "members"));
    json_decref(body);
    assert_int_equal(run_get("/Groups", "displayName", NULL,
                             "displayName eq \"x\" or members.value eq \"u1\"", NULL),
                     0);
    assert_int_equal(run_get("/Groups", "displayName", NULL,
                             "urn:ietf:params:scim:schemas:core:2.0:Group:members pr", NULL),
                     0);
    assert_int_equal(run_get("/Groups", NULL, NULL, NULL, NULL), 0);
}

static void test_flags(void **state)
{
    (void)state;
    assert_int_equal(target_read_flags(NULL, NULL, NULL), 0);
    assert_int_equal(target_read_flags("", "", NULL), 0);
    assert_int_equal(target_read_flags("id", NULL, NULL), TARGET_READ_NO_MEMBERS);
    /* a projection the SCIM core refuses asks for everything (the answer is its error) */
    assert_int_equal(target_read_flags(NULL, "members[value eq \"x\"]", NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_group_read_without_members),
        cmocka_unit_test(test_a_group_read_with_members),
        cmocka_unit_test(test_a_group_listing),
        cmocka_unit_test(test_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
