/* Unit tests for src/provision/connection: the seed's defaults, validation errors that
 * name the dotted field (and never quote a secret), PATCH merging with the secret mask,
 * the masked API form, the resync decision, and the helpers for sending. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/json.h"
#include "provision/connection.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    assert_true(json_is_true(sc_json_get_path(doc, "preferences.useBulk")));
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
    assert_int_equal(c->use_bulk, 1);
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
    assert_field(NULL, with("preferences.useBulk", json_string("false")), "preferences.useBulk");
    assert_field(NULL, with("preferences.useBulk", json_integer(0)), "preferences.useBulk");
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
    sc_json_set_path(in, "preferences.useBulk", json_false());
    json_t *doc = merge_ok(NULL, in);
    assert_string_equal(sc_json_get_string(doc, "preferences.removeAction"), "DELETE");
    struct connection *c = NULL;
    struct sc_error e = {0};
    assert_int_equal(connection_from_doc(doc, NULL, &c, &e), SC_OK);
    assert_int_equal(c->use_bulk, 0);
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

/* A connection from a document built by merging input over nothing. */
static struct connection *conn_of(json_t *input)
{
    json_t *doc = merge_take(NULL, input);
    struct connection *c = NULL;
    struct sc_error e = {0};
    if (connection_from_doc(doc, "11111111-1111-4111-8111-111111111111", &c, &e) != SC_OK)
        fail_msg("from_doc: %s", e.message);
    json_decref(doc);
    return c;
}

/* A secret of 4 to 7 '*' was rewritten to itself and found again forever. */
static void test_scrub_terminates(void **state)
{
    (void)state;
    alarm(10); /* a loop that never ends fails the test instead of hanging it */
    /* ("********" itself is the mask: sent as a secret it means "keep the stored one") */
    const char *stars[] = {"****", "*****", "******", "*******", "*********"};
    for (size_t i = 0; i < sizeof stars / sizeof stars[0]; i++) {
        json_t *in = minimal();
        sc_json_set_path(in, "auth.accessToken", json_string(stars[i]));
        struct connection *c = conn_of(in);
        char msg[64];
        snprintf(msg, sizeof msg, "a %s b ***********", stars[i]);
        connection_scrub(c, msg);
        assert_null(strstr(msg, "a b"));
        assert_true(strlen(msg) <= strlen("a ********* b ***********"));
        connection_free(c);
    }
    /* overlapping secrets and a secret inside another are masked whole */
    json_t *in = minimal();
    sc_json_set_path(in, "auth.accessToken", json_string("abcdSECRET"));
    sc_json_set_path(in, "headers", json_pack("{s:s, s:s}", "X-A", "SECRETwxyz", "X-B", "CRET"));
    struct connection *c = conn_of(in);
    char msg[] = "x abcdSECRETwxyz y CRETCRET z abcdSECRET.";
    connection_scrub(c, msg);
    assert_string_equal(msg, "x ******** y ******** z ********.");
    /* a short run keeps its length; the text never grows */
    char msg2[] = "CRET!";
    connection_scrub(c, msg2);
    assert_string_equal(msg2, "****!");
    connection_free(c);
    alarm(0);
}

/* The Basic form of the credentials, the fetched token, and header values are masked,
 * not only the stored secrets. */
static void test_scrub_derived_credentials(void **state)
{
    (void)state;
    struct connection *c = conn_of(
        json_pack("{s:s, s:{s:s}, s:{s:s, s:s, s:s}, s:{s:s}}", "name", "B", "scim", "baseUrl",
                  "https://t.example.com/scim/v2", "auth", "method", "BASIC", "username", "Aladdin",
                  "password", "open sesame", "headers", "X-Key", "hdr/\"val\""));
    char msg[] = "got Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ== for Aladdin:open sesame; "
                 "key hdr%2F%22val%22 or hdr/\\\"val\\\" or hdr\\/\\\"val\\\"";
    connection_scrub(c, msg);
    assert_null(strstr(msg, "QWxh"));
    assert_null(strstr(msg, "sesame"));
    assert_null(strstr(msg, "val"));
    assert_non_null(strstr(msg, "Basic ********"));
    connection_free(c);

    struct connection *cc = conn_of(json_pack(
        "{s:s, s:{s:s}, s:{s:s, s:s, s:s, s:s}}", "name", "C", "scim", "baseUrl",
        "https://t.example.com/scim/v2", "auth", "method", "OAUTH2_CLIENT_CREDENTIALS", "tokenUrl",
        "https://idp.example.com/token", "clientId", "cid", "clientSecret", "cc-SECRET"));
    /* base64("cid:cc-SECRET") = Y2lkOmNjLVNFQ1JFVA== */
    char msg3[] = "bearer FETCHED-token-123 and Basic Y2lkOmNjLVNFQ1JFVA==";
    connection_scrub_with(cc, "FETCHED-token-123", msg3);
    assert_string_equal(msg3, "bearer ******** and Basic ********");
    /* the token alone, without a connection */
    char msg4[] = "tok FETCHED-token-123";
    connection_scrub_with(NULL, "FETCHED-token-123", msg4);
    assert_string_equal(msg4, "tok ********");
    connection_free(cc);
}

/* Masked first, then cut at a character boundary, as valid UTF-8. */
static void test_error_text(void **state)
{
    (void)state;
    json_t *in = minimal(); /* the token is tok-SECRET-value */
    struct connection *c = conn_of(in);
    const char *body = "error: bad token tok-SECRET-value";
    char out[24];
    /* the cut falls inside the secret: only the mask's stars may show, never a part */
    connection_error_text(c, NULL, body, strlen(body), out, sizeof out);
    assert_null(strstr(out, "tok-"));
    assert_string_equal(out, "error: bad token ******");
    char big[128];
    connection_error_text(c, NULL, body, strlen(body), big, sizeof big);
    assert_string_equal(big, "error: bad token ********");
    /* invalid bytes and NULs become U+FFFD; a cut never splits a character */
    const char raw[] = {'a', '\xff', 'b', '\0', 'c', '\xc3', '\xa9', '\xc3', '\xa9'};
    connection_error_text(c, NULL, raw, sizeof raw, big, sizeof big);
    assert_string_equal(big, "a\xEF\xBF\xBD"
                             "b\xEF\xBF\xBD"
                             "c\xC3\xA9\xC3\xA9");
    assert_true(sc_utf8_valid(big, strlen(big)));
    char small[11]; /* room for "a" U+FFFD "b" U+FFFD "c" and one byte: not half an é */
    connection_error_text(c, NULL, raw, sizeof raw, small, sizeof small);
    assert_string_equal(small, "a\xEF\xBF\xBD"
                               "b\xEF\xBF\xBD"
                               "c");
    assert_true(sc_utf8_valid(small, strlen(small)));
    /* the fetched token too */
    const char *t = "got X-TOKEN-abcdef back";
    connection_error_text(c, "X-TOKEN-abcdef", t, strlen(t), big, sizeof big);
    assert_string_equal(big, "got ******** back");
    connection_error_text(c, NULL, NULL, 0, big, sizeof big);
    assert_string_equal(big, "");
    connection_free(c);
}

static json_t *cc_input(const char *token_auth)
{
    json_t *in = json_pack("{s:s, s:{s:s}, s:{s:s, s:s, s:s, s:s, s:s}}", "name", "C", "scim",
                           "baseUrl", "https://t.example.com/scim/v2", "auth", "method",
                           "OAUTH2_CLIENT_CREDENTIALS", "tokenUrl", "https://idp.example.com/token",
                           "clientId", "cid", "clientSecret", "cc-SECRET", "scope", "scim write");
    if (token_auth)
        sc_json_set_path(in, "auth.tokenEndpointAuthMethod", json_string(token_auth));
    return in;
}

/* The client authenticates once: Basic by default, or in the form body. */
static void test_token_request(void **state)
{
    (void)state;
    json_t *doc = merge_take(NULL, cc_input(NULL));
    assert_string_equal(sc_json_get_string(doc, "auth.tokenEndpointAuthMethod"),
                        "client_secret_basic");
    json_decref(doc);
    struct connection *c = conn_of(cc_input(NULL));
    struct connection_token_req tr;
    struct sc_error e = {0};
    assert_int_equal(connection_token_request(c, &tr, &e), SC_OK);
    assert_string_equal(tr.url, "https://idp.example.com/token");
    assert_string_equal(tr.body, "grant_type=client_credentials&scope=scim%20write");
    assert_int_equal(tr.body_len, strlen(tr.body));
    int basic = 0;
    for (char **l = tr.headers; *l; l++)
        if (strcmp(*l, "Authorization: Basic Y2lkOmNjLVNFQ1JFVA==") == 0)
            basic++;
    assert_int_equal(basic, 1);
    connection_token_req_clear(&tr);
    connection_token_req_clear(&tr); /* a cleared request clears again */
    connection_free(c);

    c = conn_of(cc_input("CLIENT_SECRET_POST"));
    assert_int_equal(c->token_auth, CONNECTION_TOKEN_AUTH_POST);
    assert_int_equal(connection_token_request(c, &tr, &e), SC_OK);
    assert_string_equal(tr.body, "grant_type=client_credentials&scope=scim%20write&client_id="
                                 "cid&client_secret=cc-SECRET");
    for (char **l = tr.headers; *l; l++)
        assert_null(strstr(*l, "Authorization"));
    connection_token_req_clear(&tr);
    connection_free(c);

    /* validation, and a change of it needs a resync like other auth changes */
    assert_field(NULL, cc_input("private_key_jwt"), "auth.tokenEndpointAuthMethod");
    json_t *base = merge_take(NULL, cc_input(NULL));
    json_t *post = merge_take(
        base, json_pack("{s:{s:s}}", "auth", "tokenEndpointAuthMethod", "client_secret_post"));
    assert_string_equal(sc_json_get_string(post, "auth.tokenEndpointAuthMethod"),
                        "client_secret_post");
    assert_true(connection_doc_needs_resync(base, post));
    json_t *back = merge_take(post, json_pack("{s:{s:n}}", "auth", "tokenEndpointAuthMethod"));
    assert_string_equal(sc_json_get_string(back, "auth.tokenEndpointAuthMethod"),
                        "client_secret_basic");
    json_t *api = connection_doc_to_api(post, "id", 1, 2);
    assert_string_equal(sc_json_get_string(api, "auth.tokenEndpointAuthMethod"),
                        "client_secret_post");
    /* a document stored before the field existed reads as the default */
    json_t *old = json_deep_copy(base);
    json_object_del(json_object_get(old, "auth"), "tokenEndpointAuthMethod");
    json_t *api_old = connection_doc_to_api(old, "id", 1, 2);
    assert_string_equal(sc_json_get_string(api_old, "auth.tokenEndpointAuthMethod"),
                        "client_secret_basic");
    struct connection *oc = NULL;
    assert_int_equal(connection_from_doc(old, NULL, &oc, &e), SC_OK);
    assert_int_equal(oc->token_auth, CONNECTION_TOKEN_AUTH_BASIC);
    connection_free(oc);
    json_decref(api_old);
    json_decref(old);
    json_decref(api);
    json_decref(back);
    json_decref(post);
    json_decref(base);

    /* not client credentials */
    c = conn_of(minimal());
    assert_int_equal(connection_token_request(c, &tr, &e), SC_ERR_INVALID);
    assert_null(tr.url);
    connection_free(c);
}

static void test_token_parse(void **state)
{
    (void)state;
    char *tok = NULL;
    int64_t life = -1;
    struct sc_error e = {0};
    const char *ok = "{\"access_token\": \"AT-1\", \"expires_in\": 3600}";
    assert_int_equal(connection_token_parse(200, ok, strlen(ok), NULL, &tok, &life, &e), SC_OK);
    assert_string_equal(tok, "AT-1");
    assert_int_equal(life, 3600);
    free(tok);
    /* a lifetime that would overflow in milliseconds is clamped */
    const char *huge = "{\"access_token\": \"AT-2\", \"expires_in\": 9223372036854775807}";
    assert_int_equal(connection_token_parse(200, huge, strlen(huge), NULL, &tok, &life, &e), SC_OK);
    assert_int_equal(life, CONNECTION_TOKEN_MAX_LIFETIME_S);
    free(tok);
    const char *hs = "{\"access_token\": \"AT-3\", \"expires_in\": \"99999999999999999999999\"}";
    assert_int_equal(connection_token_parse(200, hs, strlen(hs), NULL, &tok, &life, &e), SC_OK);
    assert_int_equal(life, CONNECTION_TOKEN_MAX_LIFETIME_S);
    free(tok);
    const char *s60 = "{\"access_token\": \"AT-4\", \"expires_in\": \"60\"}";
    assert_int_equal(connection_token_parse(200, s60, strlen(s60), NULL, &tok, &life, &e), SC_OK);
    assert_int_equal(life, 60);
    free(tok);
    const char *neg = "{\"access_token\": \"AT-5\", \"expires_in\": -5}";
    assert_int_equal(connection_token_parse(200, neg, strlen(neg), NULL, &tok, &life, &e), SC_OK);
    assert_int_equal(life, 0);
    free(tok);
    /* errors, as connection_fetch_token gives them */
    assert_int_equal(connection_token_parse(0, NULL, 0, "Connection refused", &tok, &life, &e),
                     SC_ERR_UNAVAILABLE);
    assert_string_equal(e.field, "auth.tokenUrl");
    assert_non_null(strstr(e.message, "Connection refused"));
    assert_null(tok);
    assert_int_equal(connection_token_parse(401, "x", 1, NULL, &tok, &life, &e), SC_ERR_AUTH);
    assert_string_equal(e.field, "auth.clientSecret");
    assert_non_null(strstr(e.message, "Client Secret"));
    assert_int_equal(connection_token_parse(500, "x", 1, NULL, &tok, &life, &e), SC_ERR_HTTP);
    assert_non_null(strstr(e.message, "500"));
    const char *none = "{\"token\": \"x\"}";
    assert_int_equal(connection_token_parse(200, none, strlen(none), NULL, &tok, &life, &e),
                     SC_ERR_HTTP);
    assert_non_null(strstr(e.message, "access_token"));
    const char *ctl = "{\"access_token\": \"a\\r\\nX-Evil: 1\"}";
    assert_int_equal(connection_token_parse(200, ctl, strlen(ctl), NULL, &tok, &life, &e),
                     SC_ERR_HTTP);
    assert_null(tok);
}

/* Asserts that merging input over current fails on field with a message containing
 * what. */
static void assert_bound(const json_t *current, json_t *input, const char *field, const char *what)
{
    json_t *doc = NULL;
    struct sc_error e = {0};
    enum sc_err rc = connection_doc_merge(current, input, &doc, &e);
    if (rc == SC_OK)
        fail_msg("expected %s to be asked for again", field);
    assert_int_equal(rc, SC_ERR_INVALID);
    if (strcmp(e.field, field) != 0)
        fail_msg("expected field %s, got %s (%s)", field, e.field, e.message);
    if (!strstr(e.message, what))
        fail_msg("expected '%s' in '%s'", what, e.message);
    assert_null(strstr(e.message, "SECRET"));
    json_decref(input);
}

/* Stored secrets are bound to the origin they were entered for. */
static void test_secrets_bound_to_origin(void **state)
{
    (void)state;
    json_t *in = minimal();
    sc_json_set_path(in, "headers", json_pack("{s:s}", "X-Api-Key", "hdr-SECRET"));
    json_t *doc = merge_take(NULL, in); /* https://code42.example.com/scim/v2 */

    /* another host, port or scheme: the token (and the header) must be entered again */
    const char *moved[] = {"https://evil.example.net/scim/v2",
                           "https://code42.example.com:8443/scim/v2",
                           "http://code42.example.com/scim/v2"};
    for (size_t i = 0; i < 3; i++) {
        assert_bound(doc, json_pack("{s:{s:s}}", "scim", "baseUrl", moved[i]), "auth.accessToken",
                     "the SCIM base URL's host changed: enter the OAuth Access Token again");
        assert_bound(doc,
                     json_pack("{s:{s:s}, s:{s:s}}", "scim", "baseUrl", moved[i], "auth",
                               "accessToken", "********"),
                     "auth.accessToken", "OAuth Access Token");
        assert_bound(doc,
                     json_pack("{s:{s:s}, s:{s:s}}", "scim", "baseUrl", moved[i], "auth",
                               "accessToken", "new-token"),
                     "headers.X-Api-Key", "enter the value of the header X-Api-Key again");
        assert_bound(doc,
                     json_pack("{s:{s:s}, s:{s:s}, s:{s:s}}", "scim", "baseUrl", moved[i], "auth",
                               "accessToken", "new-token", "headers", "X-Api-Key", "********"),
                     "headers.X-Api-Key", "X-Api-Key");
    }
    json_t *ok =
        merge_take(doc, json_pack("{s:{s:s}, s:{s:s}, s:{s:s}}", "scim", "baseUrl",
                                  "https://evil.example.net/scim/v2", "auth", "accessToken",
                                  "new-token", "headers", "X-Api-Key", "new-key"));
    assert_string_equal(sc_json_get_string(ok, "auth.accessToken"), "new-token");
    json_decref(ok);
    /* the same origin (another path, the default port written out, other case) keeps them */
    const char *same[] = {"https://code42.example.com/other/v2",
                          "https://CODE42.example.com:443/scim", "HTTPS://code42.example.com:0443"};
    for (size_t i = 0; i < 3; i++) {
        json_t *kept = merge_take(doc, json_pack("{s:{s:s}}", "scim", "baseUrl", same[i]));
        assert_string_equal(sc_json_get_string(kept, "auth.accessToken"), "tok-SECRET-value");
        json_decref(kept);
    }
    json_decref(doc);

    /* BASIC: the password */
    json_t *basic =
        merge_take(NULL, json_pack("{s:s, s:{s:s}, s:{s:s, s:s, s:s}}", "name", "B", "scim",
                                   "baseUrl", "http://127.0.0.1:8080/scim", "auth", "method",
                                   "BASIC", "username", "u", "password", "pw-SECRET"));
    assert_bound(basic, json_pack("{s:{s:s}}", "scim", "baseUrl", "http://127.0.0.1:8081/scim"),
                 "auth.password", "enter the password again");
    assert_bound(basic, json_pack("{s:{s:s}}", "scim", "baseUrl", "http://[::1]:8080/scim"),
                 "auth.password", "password");
    json_decref(basic);

    /* client credentials: the secret goes to the token URL, the token to the base URL */
    json_t *cc = merge_take(NULL, cc_input(NULL));
    assert_bound(cc, json_pack("{s:{s:s}}", "auth", "tokenUrl", "https://evil.example.net/token"),
                 "auth.clientSecret",
                 "the token URL's host changed: enter the Client Secret again");
    assert_bound(cc, json_pack("{s:{s:s}}", "scim", "baseUrl", "https://evil.example.net/scim"),
                 "auth.clientSecret", "the SCIM base URL's host changed");
    json_t *path = merge_take(
        cc, json_pack("{s:{s:s}}", "auth", "tokenUrl", "https://idp.example.com/oauth2/token"));
    assert_string_equal(sc_json_get_string(path, "auth.clientSecret"), "cc-SECRET");
    json_t *moved_ok =
        merge_take(cc, json_pack("{s:{s:s, s:s}}", "auth", "tokenUrl",
                                 "https://idp2.example.com/token", "clientSecret", "cc-SECRET"));
    assert_string_equal(sc_json_get_string(moved_ok, "auth.tokenUrl"),
                        "https://idp2.example.com/token");
    json_decref(moved_ok);
    json_decref(path);
    json_decref(cc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),         cmocka_unit_test(test_validation),
        cmocka_unit_test(test_patch_and_mask),   cmocka_unit_test(test_basic_header),
        cmocka_unit_test(test_scrub_terminates), cmocka_unit_test(test_scrub_derived_credentials),
        cmocka_unit_test(test_error_text),       cmocka_unit_test(test_token_request),
        cmocka_unit_test(test_token_parse),      cmocka_unit_test(test_secrets_bound_to_origin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
