/* Unit tests for src/scim/message: SCIM errors and their JSON, ListResponse, PatchOp
 * building, SearchRequest (query parameters and /.search bodies), ETags and meta, and
 * BulkRequest / BulkResponse with bulkId references. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "scim/message.h"
#include "scim/filter.h"
#include "scim_test_util.h"

#include <string.h>

static void test_errors(void **state)
{
    (void)state;
    struct scim_error err = {0};
    assert_int_equal(scim_error_set(&err, 400, SCIM_TYPE_INVALID_FILTER, "bad %s", "thing"),
                     SC_ERR_INVALID);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.scim_type, "invalidFilter");
    assert_string_equal(err.detail, "bad thing");
    json_t *j = scim_error_json(&err);
    assert_json(j, "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"],"
                   "\"status\":\"400\",\"scimType\":\"invalidFilter\",\"detail\":\"bad thing\"}");
    json_decref(j);
    assert_int_equal(scim_error_set(&err, 404, NULL, "Resource %d not found", 7), SC_ERR_NOT_FOUND);
    j = scim_error_json(&err);
    assert_json(j, "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"],"
                   "\"status\":\"404\",\"detail\":\"Resource 7 not found\"}");
    json_decref(j);
    assert_int_equal(scim_error_set(NULL, 409, SCIM_TYPE_UNIQUENESS, "x"), SC_ERR_CONFLICT);
    assert_int_equal(scim_error_code(412), SC_ERR_CONFLICT);
    assert_int_equal(scim_error_code(413), SC_ERR_TOO_LARGE);
    assert_int_equal(scim_error_code(401), SC_ERR_AUTH);
    assert_int_equal(scim_error_code(403), SC_ERR_FORBIDDEN);
    assert_int_equal(scim_error_code(405), SC_ERR_UNSUPPORTED);
    assert_int_equal(scim_error_code(501), SC_ERR_UNSUPPORTED);
    assert_int_equal(scim_error_code(500), SC_ERR_INTERNAL);
    assert_int_equal(scim_error_code(0), SC_OK);

    struct sc_error se = {0};
    scim_error_set(&err, 409, SCIM_TYPE_UNIQUENESS, "userName taken");
    scim_error_to_sc(&err, &se);
    assert_int_equal(se.code, SC_ERR_CONFLICT);
    assert_string_equal(se.field, "uniqueness");
    assert_string_equal(se.message, "userName taken");
    scim_error_clear(&err);
    assert_int_equal(err.status, 0);
    scim_error_to_sc(&err, &se);
    assert_int_equal(se.code, SC_OK);

    /* a detail longer than the buffer is cut, never overflowed */
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    scim_error_set(&err, 400, "a-very-long-scim-type-that-does-not-fit-in-32", "%s", big);
    assert_int_equal(strlen(err.detail), SCIM_ERROR_DETAIL_MAX - 1);
    assert_int_equal(strlen(err.scim_type), SCIM_ERROR_TYPE_MAX - 1);
}

static void test_error_from_json(void **state)
{
    (void)state;
    struct scim_error err;
    json_t *b = fix_json("{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"],"
                         "\"status\":\"409\",\"scimType\":\"uniqueness\",\"detail\":\"taken\"}");
    scim_error_from_json(b, 400, &err);
    assert_int_equal(err.status, 409);
    assert_string_equal(err.scim_type, "uniqueness");
    assert_string_equal(err.detail, "taken");
    json_decref(b);
    b = fix_json("{\"status\":404,\"detail\":\"gone\"}");
    scim_error_from_json(b, 500, &err);
    assert_int_equal(err.status, 404);
    json_decref(b);
    b = fix_json("{\"Errors\":[{\"description\":\"v1 error\",\"code\":400}]}");
    scim_error_from_json(b, 500, &err);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.detail, "v1 error");
    json_decref(b);
    /* SCIM 1.1 (draft-scim-api-01) writes the code as a string */
    b = fix_json("{\"Errors\":[{\"description\":\"Resource 1 not found\",\"code\":\"404\"}]}");
    scim_error_from_json(b, 400, &err);
    assert_int_equal(err.status, 404);
    assert_string_equal(err.detail, "Resource 1 not found");
    json_decref(b);
    b = fix_json("\"just text\"");
    scim_error_from_json(b, 502, &err);
    assert_int_equal(err.status, 502);
    assert_string_equal(err.detail, "");
    json_decref(b);
    scim_error_from_json(NULL, 503, &err);
    assert_int_equal(err.status, 503);
}

static void test_list_response(void **state)
{
    (void)state;
    json_t *l = scim_list_response_new(json_pack("[{s:s},{s:s}]", "id", "a", "id", "b"), 10, 3);
    assert_json(l, "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],"
                   "\"totalResults\":10,\"startIndex\":3,\"itemsPerPage\":2,"
                   "\"Resources\":[{\"id\":\"a\"},{\"id\":\"b\"}]}");
    int64_t total = 0;
    json_t *res = NULL;
    struct scim_error err = {0};
    assert_int_equal(scim_list_response_parse(l, &total, &res, &err), SC_OK);
    assert_int_equal(total, 10);
    assert_int_equal(json_array_size(res), 2);
    json_decref(l);
    l = scim_list_response_new(NULL, 0, 0);
    assert_int_equal(json_integer_value(json_object_get(l, "startIndex")), 1);
    assert_int_equal(scim_list_response_parse(l, &total, &res, &err), SC_OK);
    assert_int_equal(total, 0);
    assert_null(res);
    json_decref(l);
    assert_null(scim_list_response_new(json_object(), 0, 1));
    /* a target that omits totalResults */
    l = fix_json("{\"Resources\":[{\"id\":\"x\"}]}");
    assert_int_equal(scim_list_response_parse(l, &total, &res, &err), SC_OK);
    assert_int_equal(total, 1);
    json_decref(l);
    l = fix_json("{\"id\":\"x\"}");
    assert_int_equal(scim_list_response_parse(l, &total, &res, &err), SC_ERR_INVALID);
    assert_string_equal(err.scim_type, "invalidSyntax");
    json_decref(l);
    l = fix_json("{\"totalResults\":1,\"Resources\":{}}");
    assert_int_equal(scim_list_response_parse(l, &total, &res, &err), SC_ERR_INVALID);
    json_decref(l);
}

static void test_patch_body(void **state)
{
    (void)state;
    json_t *b = scim_patch_body_new();
    assert_int_equal(scim_patch_body_add(b, "replace", "active", json_false()), 0);
    assert_int_equal(scim_patch_body_add(b, "remove", "title", NULL), 0);
    assert_int_equal(scim_patch_body_add(b, "add", NULL, json_pack("{s:s}", "nickName", "n")), 0);
    assert_json(b, "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
                   "\"Operations\":[{\"op\":\"replace\",\"path\":\"active\",\"value\":false},"
                   "{\"op\":\"remove\",\"path\":\"title\"},"
                   "{\"op\":\"add\",\"value\":{\"nickName\":\"n\"}}]}");
    json_t *not_patch = json_object();
    assert_int_equal(scim_patch_body_add(not_patch, "add", "x", json_string("leak-free")), -1);
    json_decref(not_patch);
    json_decref(b);
}

static void test_search_params(void **state)
{
    (void)state;
    struct scim_search s;
    struct scim_error err = {0};
    scim_search_init(&s);
    assert_int_equal(s.start_index, 1);
    assert_int_equal(s.count, -1);
    assert_int_equal(scim_search_set_param(&s, "filter", "userName eq \"a\"", &err), SC_OK);
    assert_int_equal(scim_search_set_param(&s, "FILTER", "userName eq \"b\"", &err), SC_OK);
    assert_string_equal(s.filter, "userName eq \"b\"");
    assert_int_equal(scim_search_set_param(&s, "startIndex", "0", &err), SC_OK);
    assert_int_equal(s.start_index, 1);
    assert_int_equal(scim_search_set_param(&s, "startIndex", "21", &err), SC_OK);
    assert_int_equal(s.start_index, 21);
    assert_int_equal(scim_search_set_param(&s, "count", "-5", &err), SC_OK);
    assert_int_equal(s.count, 0);
    assert_int_equal(scim_search_set_param(&s, "count", "5000", &err), SC_OK);
    assert_int_equal(s.count, SCIM_SEARCH_MAX_COUNT);
    assert_int_equal(scim_search_set_param(&s, "count", "abc", &err), SC_ERR_INVALID);
    assert_string_equal(err.scim_type, "invalidValue");
    assert_int_equal(scim_search_set_param(&s, "startIndex", "", &err), SC_ERR_INVALID);
    assert_int_equal(scim_search_set_param(&s, "attributes", "userName,emails", &err), SC_OK);
    assert_string_equal(s.attributes, "userName,emails");
    assert_int_equal(scim_search_set_param(&s, "excludedAttributes", "meta", &err), SC_OK);
    assert_string_equal(s.excluded_attributes, "meta");
    assert_int_equal(scim_search_set_param(&s, "sortBy", "userName", &err), SC_OK);
    assert_int_equal(scim_search_set_param(&s, "sortOrder", "DESCENDING", &err), SC_OK);
    assert_true(s.sort_descending);
    assert_int_equal(scim_search_set_param(&s, "sortOrder", "sideways", &err), SC_ERR_INVALID);
    assert_int_equal(scim_search_set_param(&s, "unknown", "x", &err), SC_OK);
    char big[SCIM_FILTER_MAX_LEN + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(scim_search_set_param(&s, "filter", big, &err), SC_ERR_INVALID);
    assert_string_equal(err.scim_type, "invalidFilter");
    assert_int_equal(scim_search_set_param(&s, "attributes", big, &err), SC_ERR_INVALID);
    scim_search_free(&s);
    assert_null(s.filter);
    scim_search_free(&s);
}

static void test_search_json(void **state)
{
    (void)state;
    struct scim_search s;
    struct scim_error err = {0};
    scim_search_init(&s);
    json_t *b =
        fix_json("{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:SearchRequest\"],"
                 "\"attributes\":[\"displayName\",\"userName\"],\"excludedAttributes\":[],"
                 "\"filter\":\"displayName sw \\\"smith\\\"\",\"startIndex\":1,\"count\":10,"
                 "\"sortBy\":\"userName\",\"sortOrder\":\"ascending\",\"extra\":true}");
    assert_int_equal(scim_search_parse_json(b, &s, &err), SC_OK);
    assert_string_equal(s.attributes, "displayName,userName");
    assert_string_equal(s.excluded_attributes, "");
    assert_string_equal(s.filter, "displayName sw \"smith\"");
    assert_int_equal(s.count, 10);
    assert_string_equal(s.sort_by, "userName");
    assert_false(s.sort_descending);
    json_decref(b);
    scim_search_free(&s);

    static const struct {
        const char *body;
        const char *type;
    } bad[] = {
        {"{\"filter\":\"a pr\"}", "invalidSyntax"},
        {"[]", "invalidSyntax"},
        {"{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:SearchRequest\"],\"count\":\"10\"}",
         "invalidValue"},
        {"{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:SearchRequest\"],\"filter\":1}",
         "invalidValue"},
        {"{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:SearchRequest\"],\"attributes\":"
         "[1]}",
         "invalidValue"},
        {"{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:SearchRequest\"],\"attributes\":"
         "{}}",
         "invalidValue"},
        {"{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:SearchRequest\"],\"sortOrder\":"
         "\"up\"}",
         "invalidValue"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        scim_search_init(&s);
        b = fix_json(bad[i].body);
        assert_int_equal(scim_search_parse_json(b, &s, &err), SC_ERR_INVALID);
        assert_string_equal(err.scim_type, bad[i].type);
        json_decref(b);
        scim_search_free(&s);
    }
}

static void test_etags_and_meta(void **state)
{
    (void)state;
    char e1[64], e2[64], e3[64];
    assert_string_equal(scim_etag_format("abc", e1, sizeof e1), "W/\"abc\"");
    json_t *u = fix_json(FIX_USER);
    scim_etag_of(u, e1, sizeof e1);
    assert_int_equal(strlen(e1), 20);
    assert_memory_equal(e1, "W/\"", 3);
    /* meta does not change the version; other attributes do */
    json_object_set_new(u, "meta", json_pack("{s:s}", "resourceType", "User"));
    scim_etag_of(u, e2, sizeof e2);
    assert_string_equal(e1, e2);
    json_object_set_new(u, "title", json_string("Other"));
    scim_etag_of(u, e3, sizeof e3);
    assert_string_not_equal(e1, e3);

    assert_true(scim_etag_match("*", e1));
    assert_true(scim_etag_match(e1, e1));
    assert_true(scim_etag_match("W/\"abc\"", "\"abc\""));
    assert_true(scim_etag_match("\"abc\"", "W/\"abc\""));
    assert_true(scim_etag_match("\"x\", W/\"abc\" ,\"y\"", "W/\"abc\""));
    assert_false(scim_etag_match("W/\"abd\"", "W/\"abc\""));
    assert_false(scim_etag_match("", "W/\"abc\""));
    assert_false(scim_etag_match(NULL, "W/\"abc\""));

    assert_int_equal(
        scim_meta_set(u, "User", 1264222582000LL, 1305261754000LL, "https://h/scim/v2/Users/1", e1),
        0);
    json_t *m = json_object_get(u, "meta");
    assert_string_equal(json_string_value(json_object_get(m, "resourceType")), "User");
    assert_string_equal(json_string_value(json_object_get(m, "created")),
                        "2010-01-23T04:56:22.000Z");
    assert_string_equal(json_string_value(json_object_get(m, "lastModified")),
                        "2011-05-13T04:42:34.000Z");
    assert_string_equal(json_string_value(json_object_get(m, "location")),
                        "https://h/scim/v2/Users/1");
    assert_string_equal(json_string_value(json_object_get(m, "version")), e1);
    assert_int_equal(scim_meta_set(u, "User", 0, 0, NULL, NULL), 0);
    assert_null(json_object_get(json_object_get(u, "meta"), "location"));
    json_decref(u);
}

#define BULK(x) "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:BulkRequest\"]," x "}"

static void test_bulk_parse(void **state)
{
    (void)state;
    json_t *b = fix_json(BULK(
        "\"failOnErrors\":1,\"Operations\":["
        "{\"method\":\"POST\",\"path\":\"/Users\",\"bulkId\":\"qwerty\",\"data\":{\"schemas\":"
        "[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"Alice\"}},"
        "{\"method\":\"post\",\"path\":\"/Groups\",\"bulkId\":\"ytrewq\",\"data\":{\"schemas\":"
        "[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"Tour Guides\","
        "\"members\":[{\"type\":\"User\",\"value\":\"bulkId:qwerty\"}]}},"
        "{\"method\":\"PUT\",\"path\":\"/Users/b7c14771\",\"version\":\"W/\\\"3694e05e\\\"\","
        "\"data\":{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":"
        "\"Bob\"}},"
        "{\"method\":\"PATCH\",\"path\":\"/Users/5d8d29d3\",\"data\":{\"schemas\":[\"urn:ietf:"
        "params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[{\"op\":\"add\",\"path\":"
        "\"nickName\",\"value\":\"J\"}]}},"
        "{\"method\":\"DELETE\",\"path\":\"/Users/e9025315\"}]"));
    struct scim_bulk_request *req = NULL;
    struct scim_error err = {0};
    assert_int_equal(scim_bulk_parse(b, 0, &req, &err), SC_OK);
    assert_int_equal(req->count, 5);
    assert_int_equal(req->fail_on_errors, 1);
    assert_string_equal(req->ops[1].method, "POST");
    assert_string_equal(req->ops[1].bulk_id, "ytrewq");
    assert_string_equal(req->ops[2].version, "W/\"3694e05e\"");
    assert_null(req->ops[2].bulk_id);
    assert_null(req->ops[4].data);
    assert_string_equal(req->ops[4].method, "DELETE");
    /* bulkId references */
    assert_string_equal(scim_bulk_find_ref(req->ops[1].data), "qwerty");
    assert_null(scim_bulk_find_ref(req->ops[0].data));
    assert_int_equal(scim_bulk_replace_ref(req->ops[1].data, "qwerty", "92b725cd"), 1);
    assert_null(scim_bulk_find_ref(req->ops[1].data));
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(req->ops[1].data, "members"), 0), "value")),
        "92b725cd");
    assert_int_equal(scim_bulk_replace_ref(req->ops[1].data, "qwerty", "x"), 0);
    scim_bulk_request_free(req);
    /* max operations: 413 */
    assert_int_equal(scim_bulk_parse(b, 4, &req, &err), SC_ERR_TOO_LARGE);
    assert_int_equal(err.status, 413);
    json_decref(b);
    scim_bulk_request_free(NULL);

    static const struct {
        const char *body;
        const char *type;
    } bad[] = {
        {"{\"Operations\":[]}", "invalidSyntax"},
        {BULK("\"Operations\":{}"), "invalidSyntax"},
        {BULK("\"Operations\":[1]"), "invalidSyntax"},
        {BULK("\"Operations\":[{\"method\":\"GET\",\"path\":\"/Users\"}]"), "invalidSyntax"},
        {BULK("\"Operations\":[{\"method\":\"DELETE\"}]"), "invalidSyntax"},
        {BULK("\"Operations\":[{\"method\":\"DELETE\",\"path\":\"Users\"}]"), "invalidSyntax"},
        {BULK("\"Operations\":[{\"method\":\"POST\",\"path\":\"/Users\",\"data\":{}}]"),
         "invalidValue"},
        {BULK("\"Operations\":[{\"method\":\"PUT\",\"path\":\"/Users/1\"}]"), "invalidValue"},
        {BULK("\"Operations\":[{\"method\":\"POST\",\"path\":\"/Users\",\"bulkId\":\"a\","
              "\"data\":{}},{\"method\":\"POST\",\"path\":\"/Users\",\"bulkId\":\"a\",\"data\":"
              "{}}]"),
         "invalidValue"},
        {BULK("\"Operations\":[{\"method\":\"POST\",\"path\":\"/Users\",\"bulkId\":\"\","
              "\"data\":{}}]"),
         "invalidValue"},
        {BULK("\"failOnErrors\":-1,\"Operations\":[]"), "invalidValue"},
        {BULK("\"failOnErrors\":\"1\",\"Operations\":[]"), "invalidValue"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b = fix_json(bad[i].body);
        assert_non_null(b);
        req = NULL;
        if (scim_bulk_parse(b, 0, &req, &err) == SC_OK)
            fail_msg("[%s] parsed", bad[i].body);
        assert_null(req);
        assert_int_equal(err.status, 400);
        assert_string_equal(err.scim_type, bad[i].type);
        json_decref(b);
    }
}

static void test_bulk_build(void **state)
{
    (void)state;
    json_t *r = scim_bulk_request_new(2);
    assert_int_equal(
        scim_bulk_request_add(r, "POST", "b1", "/Users", NULL, json_pack("{s:s}", "userName", "a")),
        0);
    assert_int_equal(scim_bulk_request_add(r, "DELETE", NULL, "/Users/1", "W/\"v\"", NULL), 0);
    assert_json(r,
                BULK("\"failOnErrors\":2,\"Operations\":["
                     "{\"method\":\"POST\",\"bulkId\":\"b1\",\"path\":\"/Users\","
                     "\"data\":{\"userName\":\"a\"}},"
                     "{\"method\":\"DELETE\",\"path\":\"/Users/1\",\"version\":\"W/\\\"v\\\"\"}]"));
    /* what we build, we parse */
    struct scim_bulk_request *req = NULL;
    assert_int_equal(scim_bulk_parse(r, 0, &req, NULL), SC_OK);
    assert_int_equal(req->count, 2);
    scim_bulk_request_free(req);
    json_decref(r);
    r = scim_bulk_request_new(0);
    assert_null(json_object_get(r, "failOnErrors"));
    json_decref(r);

    json_t *resp = scim_bulk_response_new();
    assert_int_equal(
        scim_bulk_response_add(resp, "POST", "b1", "https://h/Users/92b7", "W/\"1\"", 201, NULL),
        0);
    struct scim_error err = {0};
    scim_error_set(&err, 400, SCIM_TYPE_INVALID_SYNTAX, "bad");
    assert_int_equal(
        scim_bulk_response_add(resp, "PUT", NULL, NULL, NULL, 400, scim_error_json(&err)), 0);
    assert_json(resp,
                "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:BulkResponse\"],"
                "\"Operations\":[{\"method\":\"POST\",\"bulkId\":\"b1\",\"location\":"
                "\"https://h/Users/92b7\",\"version\":\"W/\\\"1\\\"\",\"status\":\"201\"},"
                "{\"method\":\"PUT\",\"status\":\"400\",\"response\":{\"schemas\":[\"urn:ietf:"
                "params:scim:api:messages:2.0:Error\"],\"status\":\"400\",\"scimType\":"
                "\"invalidSyntax\",\"detail\":\"bad\"}}]}");
    json_decref(resp);
}

/* The client's side of Bulk: the request written operation by operation within a
 * payload limit, exactly as the server's parser reads it. */
static void test_bulk_writer(void **state)
{
    (void)state;
    struct scim_bulk_writer w;
    assert_int_equal(scim_bulk_writer_init(&w, 0), 0);
    json_t *data = json_pack("{s:s}", "userName", "a");
    assert_int_equal(scim_bulk_writer_add(&w, "POST", "b0", "/Users", NULL, data, 0), 1);
    json_t *patch = json_pack("{s:[s],s:[]}", "schemas", SCIM_MSG_PATCH_OP, "Operations");
    assert_int_equal(scim_bulk_writer_add(&w, "PATCH", "b1", "/Users/x%2Fy", "W/\"1\"", patch, 0),
                     1);
    assert_int_equal(scim_bulk_writer_add(&w, "DELETE", "b2", "/Users/2", NULL, NULL, 0), 1);
    assert_int_equal(w.count, 3);
    size_t len = 0;
    const char *text = scim_bulk_writer_finish(&w, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    assert_string_equal(
        text, BULK("\"Operations\":["
                   "{\"method\":\"POST\",\"bulkId\":\"b0\",\"path\":\"/Users\","
                   "\"data\":{\"userName\":\"a\"}},"
                   "{\"method\":\"PATCH\",\"bulkId\":\"b1\",\"path\":\"/Users/x%2Fy\","
                   "\"version\":\"W/\\\"1\\\"\",\"data\":{\"schemas\":[\"" SCIM_MSG_PATCH_OP
                   "\"],\"Operations\":[]}},"
                   "{\"method\":\"DELETE\",\"bulkId\":\"b2\",\"path\":\"/Users/2\"}]"));
    /* data was borrowed, and what we write the server's parser reads */
    assert_int_equal(data->refcount, 1);
    json_t *parsed = json_loads(text, 0, NULL);
    struct scim_bulk_request *req = NULL;
    assert_int_equal(scim_bulk_parse(parsed, 0, &req, NULL), SC_OK);
    assert_int_equal(req->count, 3);
    assert_string_equal(req->ops[1].path, "/Users/x%2Fy");
    assert_string_equal(req->ops[1].version, "W/\"1\"");
    scim_bulk_request_free(req);
    json_decref(parsed);
    scim_bulk_writer_free(&w);

    /* failOnErrors when asked for */
    assert_int_equal(scim_bulk_writer_init(&w, 3), 0);
    text = scim_bulk_writer_finish(&w, &len);
    assert_string_equal(text, BULK("\"failOnErrors\":3,\"Operations\":[]"));
    scim_bulk_writer_free(&w);

    /* the payload limit counts the closed request: an operation that would pass it is
     * not written, and one that fits exactly is */
    assert_int_equal(scim_bulk_writer_init(&w, 0), 0);
    assert_int_equal(scim_bulk_writer_add(&w, "POST", "b0", "/Users", NULL, data, 0), 1);
    size_t one = w.text.len + 2; /* closed with one operation */
    assert_int_equal(scim_bulk_writer_add(&w, "POST", "b1", "/Users", NULL, data, one), 0);
    assert_int_equal(w.count, 1);
    assert_int_equal(w.text.len + 2, one); /* unchanged */
    size_t op_len = one - strlen(BULK("\"Operations\":[]"));
    assert_int_equal(scim_bulk_writer_add(&w, "POST", "b1", "/Users", NULL, data, one + op_len),
                     0); /* the comma makes it one byte too long */
    assert_int_equal(scim_bulk_writer_add(&w, "POST", "b1", "/Users", NULL, data, one + op_len + 1),
                     1);
    text = scim_bulk_writer_finish(&w, &len);
    assert_int_equal(len, one + op_len + 1);
    /* finish twice: the same text */
    assert_ptr_equal(scim_bulk_writer_finish(&w, &len), text);
    assert_int_equal(scim_bulk_writer_add(&w, "POST", "b2", "/Users", NULL, data, 0), -1);
    scim_bulk_writer_free(&w);
    json_decref(data);
    json_decref(patch);
}

static void test_bulk_response_read(void **state)
{
    (void)state;
    json_t *body = json_loads(
        "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:BulkResponse\"],"
        "\"Operations\":["
        "{\"location\":\"https://h/v2/Users/92b7\",\"method\":\"post\",\"bulkId\":\"b0\","
        "\"version\":\"W/\\\"1\\\"\",\"status\":\"201\"},"
        "{\"method\":\"PATCH\",\"bulkId\":\"b1\",\"status\":400,"
        "\"response\":{\"scimType\":\"invalidPath\",\"detail\":\"no\",\"status\":\"400\"}},"
        "{\"Method\":\"DELETE\",\"STATUS\":{\"code\":\"204\"},\"response\":null}]}",
        0, NULL);
    assert_non_null(body);
    struct scim_bulk_result *r = NULL;
    size_t n = 0;
    assert_int_equal(scim_bulk_response_read(body, &r, &n, NULL), SC_OK);
    assert_int_equal(n, 3);
    assert_string_equal(r[0].method, "POST");
    assert_string_equal(r[0].bulk_id, "b0");
    assert_string_equal(r[0].location, "https://h/v2/Users/92b7");
    assert_string_equal(r[0].version, "W/\"1\"");
    assert_int_equal(r[0].status, 201);
    assert_null(r[0].response);
    assert_int_equal(r[1].status, 400);
    assert_string_equal(json_string_value(json_object_get(r[1].response, "scimType")),
                        "invalidPath");
    assert_null(r[1].location);
    assert_string_equal(r[2].method, "DELETE");
    assert_null(r[2].bulk_id);
    assert_int_equal(r[2].status, 204);
    assert_null(r[2].response);
    free(r);
    json_decref(body);

    /* an answer without schemas is read; one with no operations is empty */
    body = json_loads("{\"Operations\":[]}", 0, NULL);
    r = (void *)1;
    assert_int_equal(scim_bulk_response_read(body, &r, &n, NULL), SC_OK);
    assert_int_equal(n, 0);
    assert_null(r);
    json_decref(body);

    static const char *const bad[] = {
        "[]",
        "\"x\"",
        "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],"
        "\"Operations\":[]}",
        "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"],\"status\":\"400\"}",
        "{\"Operations\":{}}",
        "{\"Operations\":[\"x\"]}",
        "{\"Operations\":[{\"method\":\"POST\"}]}",
        "{\"Operations\":[{\"status\":\"20x\"}]}",
        "{\"Operations\":[{\"status\":99}]}",
        "{\"Operations\":[{\"status\":\"600\"}]}",
        "{\"Operations\":[{\"status\":{\"code\":true}}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        body = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        assert_non_null(body);
        struct scim_error err = {0};
        r = NULL;
        if (scim_bulk_response_read(body, &r, &n, &err) != SC_ERR_INVALID)
            fail_msg("[%s] read", bad[i]);
        assert_null(r);
        assert_int_equal(n, 0);
        assert_true(strncmp(err.detail, "not a BulkResponse: ", 20) == 0);
        json_decref(body);
    }
    assert_int_equal(scim_bulk_response_read(NULL, &r, &n, NULL), SC_ERR_INVALID);
}

static void match(const struct scim_bulk_result *res, size_t nres, size_t nops, const long *want)
{
    static const char *const ids[] = {"b0", "b1", "b2", "b3"};
    static const char *const methods[] = {"POST", "PATCH", "POST", "DELETE"};
    long idx[4];
    memset(idx, 0x55, sizeof idx);
    scim_bulk_response_match(res, nres, ids, methods, nops, idx);
    for (size_t i = 0; i < nops; i++)
        if (idx[i] != want[i])
            fail_msg("operation %zu: result %ld, want %ld", i, idx[i], want[i]);
}

static void test_bulk_response_match(void **state)
{
    (void)state;
    /* in order, shuffled, some left out, unknown and repeated bulkIds ignored */
    struct scim_bulk_result inorder[] = {{"POST", "b0", NULL, NULL, 201, NULL},
                                         {"PATCH", "b1", NULL, NULL, 200, NULL},
                                         {"POST", "b2", NULL, NULL, 409, NULL},
                                         {"DELETE", "b3", NULL, NULL, 204, NULL}};
    match(inorder, 4, 4, (long[]){0, 1, 2, 3});
    struct scim_bulk_result shuffled[] = {{"DELETE", "b3", NULL, NULL, 204, NULL},
                                          {"POST", "b0", NULL, NULL, 201, NULL},
                                          {"POST", "b9", NULL, NULL, 201, NULL},
                                          {"POST", "b0", NULL, NULL, 201, NULL},
                                          {"PATCH", "b1", NULL, NULL, 200, NULL}};
    match(shuffled, 5, 4, (long[]){1, 4, -1, 0});
    match(inorder, 0, 4, (long[]){-1, -1, -1, -1});
    /* without bulkIds: in order when as many as the operations left and methods agree */
    struct scim_bulk_result unnamed[] = {{"POST", NULL, NULL, NULL, 201, NULL},
                                         {"", NULL, NULL, NULL, 200, NULL},
                                         {"post", NULL, NULL, NULL, 201, NULL},
                                         {"DELETE", NULL, NULL, NULL, 204, NULL}};
    match(unnamed, 4, 4, (long[]){0, 1, 2, 3});
    match(unnamed, 3, 4, (long[]){-1, -1, -1, -1}); /* one short: nothing by order */
    struct scim_bulk_result wrong[] = {{"POST", NULL, NULL, NULL, 201, NULL},
                                       {"DELETE", NULL, NULL, NULL, 204, NULL}};
    match(wrong, 2, 2, (long[]){-1, -1}); /* the second is no PATCH */
    /* mixed: the named ones by bulkId, the rest in order */
    struct scim_bulk_result mixed[] = {{"PATCH", "b1", NULL, NULL, 200, NULL},
                                       {"POST", NULL, NULL, NULL, 201, NULL},
                                       {"POST", NULL, NULL, NULL, 201, NULL},
                                       {"DELETE", "b3", NULL, NULL, 204, NULL}};
    match(mixed, 4, 4, (long[]){1, 0, 2, 3});
}

static void test_bulk_location_id(void **state)
{
    (void)state;
    char id[16];
    assert_int_equal(scim_bulk_location_id("https://h/scim/v2/Users/92b7", id, sizeof id), 1);
    assert_string_equal(id, "92b7");
    assert_int_equal(scim_bulk_location_id("/Users/a%2Fb%20c/?x=1#f", id, sizeof id), 1);
    assert_string_equal(id, "a/b c");
    assert_int_equal(scim_bulk_location_id("Users/%C3%A9", id, sizeof id), 1);
    assert_string_equal(id, "\xc3\xa9");
    assert_int_equal(scim_bulk_location_id("x", id, sizeof id), 1);
    assert_string_equal(id, "x");
    static const char *const none[] = {
        "",       "/",      "https://h",           "https://h/", "/Users/%2", "/Users/%zz",
        "/U/%00", "/U/%C3", "/U/0123456789abcdef", "?x=/a",      NULL};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        if (scim_bulk_location_id(none[i], id, sizeof id) != 0)
            fail_msg("[%s] gave %s", none[i] ? none[i] : "NULL", id);
    }
    assert_int_equal(scim_bulk_location_id("/U/0123456789abcde", id, sizeof id), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_error_from_json),
        cmocka_unit_test(test_list_response),
        cmocka_unit_test(test_patch_body),
        cmocka_unit_test(test_search_params),
        cmocka_unit_test(test_search_json),
        cmocka_unit_test(test_etags_and_meta),
        cmocka_unit_test(test_bulk_parse),
        cmocka_unit_test(test_bulk_build),
        cmocka_unit_test(test_bulk_writer),
        cmocka_unit_test(test_bulk_response_read),
        cmocka_unit_test(test_bulk_response_match),
        cmocka_unit_test(test_bulk_location_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
