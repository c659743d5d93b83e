/* Unit tests for src/provision/connection: the seed's defaults, validation errors that
 * name the dotted field (and never quote a secret), PATCH merging with the secret mask,
 * the masked API form, the resync decision, and the helpers for sending. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/json.h"
#include "provision/connection.h"

#include <stdlib.h>
#include <string.h>

static json_t *minimal(void)
{
    return json_pack("{s:s, s:{s:s}, s:{s:s}}", "name", "Code42", "scim", "baseUrl",
                     "https://code42.example.com/scim/v2/", "auth", "accessToken",
                     "tok-SECRET-value");
}

static json_t *merge_ok(const json_t *current, const json_t *input)
{
    json_t *doc = NULL;
    struct sc_error e = {0};
    enum sc_err rc = connection_doc_merge(current, input, &doc, &e);
    if (rc != SC_OK)
        fail_msg("merge failed: %s (%s)", e.message, e.field);
    return doc;
}

/* As merge_ok, taking over input. */
static json_t *merge_take(const json_t *current, json_t *input)
{
    json_t *doc = merge_ok(current, input);
    json_decref(input);
    return doc;
}

static void test_defaults(void **state)
{
    (void)state;
    json_t *in = minimal();
    json_t *doc = merge_ok(NULL, in);
    assert_string_equal(sc_json_get_string(doc, "scim.baseUrl"),
                        "https://code42.example.com/scim/v2");
    assert_string_equal(sc_json_get_string(doc, "scim.usersResource"), "/Users");
    assert_string_equal(sc_json_get_string(doc, "scim.groupsResource"), "/Groups");
    assert_string_equal(sc_json_get_string(doc, "scim.version"), "2.0");
    assert_string_equal(sc_json_get_string(doc, "auth.method"), "OAUTH2_BEARER");
    assert_string_equal(sc_json_get_string(doc, "auth.typeHeader"), "Bearer");
    assert_string_equal(sc_json_get_string(doc, "preferences.userFilterExpression"),
                        "username Eq \"%s\"");
    assert_string_equal(sc_json_get_string(doc, "preferences.userIdentifier"), "userName");
    assert_string_equal(sc_json_get_string(doc, "preferences.removeAction"), "DISABLE");
    assert_string_equal(sc_json_get_string(doc, "preferences.updateMethod"), "PATCH");
    assert_true(json_is_true(sc_json_get_path(doc, "preferences.allowCreate")));
    assert_true(json_is_true(sc_json_get_path(doc, "preferences.allowUpdate")));
    assert_true(json_is_true(sc_json_get_path(doc, "preferences.allowDisable")));
    assert_int_equal(json_integer_value(sc_json_get_path(doc, "preferences.maxConcurrency")), 0);
    assert_true(json_is_false(json_object_get(doc, "enabled")));

    json_t *api = connection_doc_to_api(doc, "id-1", 1000, 2000);
    assert_string_equal(sc_json_get_string(api, "type"), "SCIM_OUTBOUND");
    assert_string_equal(sc_json_get_string(api, "auth.accessToken"), "********");
    assert_true(json_is_null(sc_json_get_path(api, "auth.password")));
    assert_string_equal(sc_json_get_string(api, "createdAt"), "1970-01-01T00:00:01.000Z");
    char *text = json_dumps(api, 0);
    assert_null(strstr(text, "SECRET"));
    free(text);

    struct connection *c = NULL;
    struct sc_error e = {0};
    assert_int_equal(connection_from_doc(doc, "id-1", &c, &e), SC_OK);
    assert_int_equal(c->auth_method, CONNECTION_AUTH_BEARER);
    assert_string_equal(c->access_token, "tok-SECRET-value");
    assert_string_equal(c->user_identifier_path, "userName");
    assert_int_equal(c->remove_action, CONNECTION_REMOVE_DISABLE);
    struct sc_buf b;
    sc_buf_init(&b, 0);
    assert_int_equal(connection_users_url(c, "a b", &b), SC_OK);
    assert_string_equal(b.data, "https://code42.example.com/scim/v2/Users/a%20b");
    sc_buf_reset(&b);
    assert_int_equal(connection_auth_header(c, NULL, &b), SC_OK);
    assert_string_equal(b.data, "Authorization: Bearer tok-SECRET-value");
    sc_buf_free(&b);
    char msg[] = "the token tok-SECRET-value is wrong";
    connection_scrub(c, msg);
    assert_string_equal(msg, "the token ******** is wrong");
    connection_free(c);
    json_decref(api);
    json_decref(doc);
    json_decref(in);
}

/* Asserts that merging input (over current, may be NULL) fails naming field. */
static void assert_field(const json_t *current, json_t *input, const char *field)
{
    json_t *doc = NULL;
    struct sc_error e = {0};
    enum sc_err rc = connection_doc_merge(current, input, &doc, &e);
    if (rc == SC_OK)
        fail_msg("expected an error on %s", field);
    assert_int_equal(rc, SC_ERR_INVALID);
    assert_null(doc);
    if (strcmp(e.field, field) != 0)
        fail_msg("expected field %s, got %s (%s)", field, e.field, e.message);
    assert_null(strstr(e.message, "SECRET"));
    json_decref(input);
}

static json_t *with(const char *path, json_t *value)
{
    json_t *in = minimal();
    sc_json_set_path(in, path, value);
    return in;
}

static void test_validation(void **state)
{
    (void)state;
    assert_field(NULL, with("name", json_string("")), "name");
    assert_field(NULL, with("scim.baseUrl", json_string("ftp://x.example.com")), "scim.baseUrl");
    assert_field(NULL, with("scim.baseUrl", json_string("not a url")), "scim.baseUrl");
    assert_field(NULL, with("scim.baseUrl", json_string("https://u:p@x.example.com/scim")),
                 "scim.baseUrl");
    assert_field(NULL, with("scim.baseUrl", json_null()), "scim.baseUrl");
    assert_field(NULL, with("scim.usersResource", json_string("Users")), "scim.usersResource");
    assert_field(NULL, with("scim.version", json_string("3.0")), "scim.version");
    assert_field(NULL, with("scim.extra", json_string("x")), "scim.extra");
    assert_field(NULL, with("auth.method", json_string("KERBEROS")), "auth.method");
    assert_field(NULL, with("auth.accessToken", json_null()), "auth.accessToken");
    assert_field(NULL, with("auth.accessToken", json_string("SECRET\r\nX-Evil: 1")),
                 "auth.accessToken");
    assert_field(NULL, with("auth.typeHeader", json_string("Bear er")), "auth.typeHeader");
    assert_field(NULL, with("auth.method", json_string("BASIC")), "auth.username");
    json_t *basic = with("auth.method", json_string("BASIC"));
    sc_json_set_path(basic, "auth.username", json_string("svc"));
    assert_field(NULL, basic, "auth.password");
    json_t *cc = with("auth.method", json_string("OAUTH2_CLIENT_CREDENTIALS"));
    assert_field(NULL, cc, "auth.tokenUrl");
    cc = with("auth.method", json_string("OAUTH2_CLIENT_CREDENTIALS"));
    sc_json_set_path(cc, "auth.tokenUrl", json_string("https://idp.example.com/token"));
    sc_json_set_path(cc, "auth.clientId", json_string("id"));
    assert_field(NULL, cc, "auth.clientSecret");
    assert_field(NULL, with("auth.accessToken", json_string("********")), "auth.accessToken");
    assert_field(NULL, with("preferences.userFilterExpression", json_string("userName eq x")),
                 "preferences.userFilterExpression");
    assert_field(NULL,
                 with("preferences.userFilterExpression",
                      json_string("userName eq \"%s\" or emails eq \"%s\"")),
                 "preferences.userFilterExpression");
    assert_field(NULL, with("preferences.userFilterExpression", json_string("userName zz \"%s\"")),
                 "preferences.userFilterExpression");
    assert_field(NULL, with("preferences.userIdentifier", json_string("no such thing!")),
                 "preferences.userIdentifier");
    assert_field(NULL, with("preferences.removeAction", json_string("ARCHIVE")),
                 "preferences.removeAction");
    assert_field(NULL, with("preferences.updateMethod", json_string("POST")),
                 "preferences.updateMethod");
    assert_field(NULL, with("preferences.allowCreate", json_string("yes")),
                 "preferences.allowCreate");
    assert_field(NULL, with("preferences.maxConcurrency", json_integer(-1)),
                 "preferences.maxConcurrency");
    assert_field(NULL, with("preferences.maxRequestsPerSecond", json_integer(100000000)),
                 "preferences.maxRequestsPerSecond");
    assert_field(NULL, with("headers", json_pack("{s:s}", "Bad Name", "v")), "headers.Bad Name");
    assert_field(NULL, with("headers", json_pack("{s:s}", "Host", "v")), "headers.Host");
    assert_field(NULL, with("headers", json_pack("{s:s}", "Authorization", "v")),
                 "headers.Authorization");
    assert_field(NULL, with("headers", json_pack("{s:i}", "X-Key", 1)), "headers.X-Key");
    assert_field(NULL, with("type", json_string("SCIM_INBOUND")), "type");
    assert_field(NULL, with("bogus", json_true()), "bogus");

    /* accepted variants */
    json_t *in = with("preferences.userFilterExpression", json_string("emails[value eq \"%s\"]"));
    sc_json_set_path(in, "preferences.userIdentifier", json_string("workEmail"));
    sc_json_set_path(in, "preferences.removeAction", json_string("delete"));
    sc_json_set_path(in, "scim.version", json_string("1.1"));
    sc_json_set_path(in, "auth.typeHeader", json_string("SSWS"));
    json_t *doc = merge_ok(NULL, in);
    assert_string_equal(sc_json_get_string(doc, "preferences.removeAction"), "DELETE");
    struct connection *c = NULL;
    struct sc_error e = {0};
    assert_int_equal(connection_from_doc(doc, NULL, &c, &e), SC_OK);
    assert_string_equal(c->user_identifier_path, "emails[type eq \"work\"].value");
    struct sc_buf b;
    sc_buf_init(&b, 0);
    assert_int_equal(connection_auth_header(c, NULL, &b), SC_OK);
    assert_string_equal(b.data, "Authorization: SSWS tok-SECRET-value");
    sc_buf_free(&b);
    connection_free(c);
    json_decref(doc);
    json_decref(in);
}

static void test_patch_and_mask(void **state)
{
    (void)state;
    json_t *in = minimal();
    sc_json_set_path(in, "headers", json_pack("{s:s}", "X-Api-Key", "hdr-SECRET"));
    json_t *doc = merge_ok(NULL, in);

    /* sending the API form back (masks included) changes nothing */
    json_t *api = connection_doc_to_api(doc, "id", 1, 2);
    json_t *same = merge_ok(doc, api);
    assert_true(json_equal(same, doc));
    assert_false(connection_doc_needs_resync(doc, same));

    /* a name change does not need a resync; enabling does; a token change does */
    json_t *renamed = merge_take(doc, json_pack("{s:s, s:s}", "name", "New", "description", "d"));
    assert_false(connection_doc_needs_resync(doc, renamed));
    json_t *enabled = merge_take(doc, json_pack("{s:b}", "enabled", 1));
    assert_true(connection_doc_needs_resync(doc, enabled));
    assert_false(connection_doc_needs_resync(enabled, doc)); /* disabling */
    json_t *tok = merge_take(doc, json_pack("{s:{s:s}}", "auth", "accessToken", "other"));
    assert_true(connection_doc_needs_resync(doc, tok));
    assert_string_equal(sc_json_get_string(tok, "auth.accessToken"), "other");
    json_t *pref = merge_take(doc, json_pack("{s:{s:s}}", "preferences", "updateMethod", "PUT"));
    assert_true(connection_doc_needs_resync(doc, pref));
    json_t *hdr = merge_take(
        doc, json_pack("{s:{s:s, s:s}}", "headers", "x-api-key", "********", "X-Other", "o"));
    assert_string_equal(sc_json_get_string(json_object_get(hdr, "headers"), "x-api-key"),
                        "hdr-SECRET");
    /* null resets a preference to its default */
    json_t *reset = merge_take(pref, json_pack("{s:{s:n}}", "preferences", "updateMethod"));
    assert_string_equal(sc_json_get_string(reset, "preferences.updateMethod"), "PATCH");

    json_decref(reset);
    json_decref(hdr);
    json_decref(pref);
    json_decref(tok);
    json_decref(enabled);
    json_decref(renamed);
    json_decref(same);
    json_decref(api);
    json_decref(doc);
    json_decref(in);
}

static void test_basic_header(void **state)
{
    (void)state;
    json_t *in = json_pack("{s:s, s:{s:s}, s:{s:s, s:s, s:s}}", "name", "B", "scim", "baseUrl",
                           "http://127.0.0.1:1/scim/v2", "auth", "method", "basic", "username",
                           "Aladdin", "password", "open sesame");
    json_t *doc = merge_ok(NULL, in);
    struct connection *c = NULL;
    struct sc_error e = {0};
    assert_int_equal(connection_from_doc(doc, NULL, &c, &e), SC_OK);
    assert_int_equal(c->auth_method, CONNECTION_AUTH_BASIC);
    assert_null(c->access_token);
    char **lines = NULL;
    assert_int_equal(connection_request_headers(c, NULL, &lines), SC_OK);
    int found = 0;
    for (char **l = lines; *l; l++)
        if (strcmp(*l, "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==") == 0)
            found = 1;
    assert_true(found);
    connection_headers_free(lines);
    connection_free(c);
    json_decref(doc);
    json_decref(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_patch_and_mask),
        cmocka_unit_test(test_basic_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
