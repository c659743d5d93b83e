/* Unit tests for src/scim/filter: every filter example of RFC 7644 §3.4.2.2 and many
 * more (precedence, escapes, value paths, caseExact, dateTimes, numbers, null), bad
 * filters with their errors, printing back, simple-eq recognition and templates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "scim/filter.h"
#include "fixtures.h"

#include <stdio.h>
#include <string.h>

struct match_case {
    const char *filter;
    int expect; /* 1 match, 0 no match */
};

static const struct match_case match_cases[] = {
    /* RFC 7644 §3.4.2.2, every example */
    {"userName eq \"bjensen\"", 1},
    {"userName eq\"bjensen\"", 1},
    {"name.familyName co \"O'Malley\"", 1},
    {"userName sw \"J\"", 0},
    {"urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"", 0},
    {"title pr", 1},
    {"meta.lastModified gt \"2011-05-13T04:42:34Z\"", 0},
    {"meta.lastModified ge \"2011-05-13T04:42:34Z\"", 1},
    {"meta.lastModified lt \"2011-05-13T04:42:34Z\"", 0},
    {"meta.lastModified le \"2011-05-13T04:42:34Z\"", 1},
    {"title pr and userType eq \"Employee\"", 1},
    {"title pr or userType eq \"Intern\"", 1},
    {"schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"", 1},
    {"userType eq \"Employee\" and (emails co \"example.com\" or emails.value co "
     "\"example.org\")",
     1},
    {"userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co "
     "\"example.org\")",
     0},
    {"userType eq \"Employee\" and (emails.type eq \"work\")", 1},
    {"userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]", 1},
    {"emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value "
     "co \"@foo.com\"]",
     1},
    /* case-insensitive operators, attribute names and (caseExact=false) values */
    {"username Eq \"BJENSEN\"", 1},
    {"USERNAME EQ \"bjensen\"", 1},
    {"userName sw \"BJ\"", 1},
    {"urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"bj\"", 1},
    {"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:USERNAME eq \"bjensen\"", 1},
    {"userName ew \"SEN\"", 1},
    {"userName co \"jens\"", 1},
    {"userName ne \"bjensen\"", 0},
    {"userName gt \"a\"", 1},
    {"userName lt \"a\"", 0},
    {"userName ge \"BJENSEN\"", 1},
    /* caseExact=true: id, externalId, meta.resourceType */
    {"id eq \"2819c223-7f76-453a-919d-413861904646\"", 1},
    {"id eq \"2819C223-7F76-453A-919D-413861904646\"", 0},
    {"externalId eq \"BJENSEN\"", 0},
    {"externalId eq \"bjensen\"", 1},
    {"externalId sw \"bJ\"", 0},
    {"meta.resourceType eq \"user\"", 0},
    {"meta.resourceType eq \"User\"", 1},
    /* booleans, null, numbers */
    {"active eq true", 1},
    {"active eq false", 0},
    {"active ne false", 1},
    {"active eq TRUE", 1},
    {"title eq null", 0},
    {"title ne null", 1},
    {"nickName eq null", 1},
    {"nickName ne null", 0},
    {"nickName pr", 0},
    {"level eq 5", 1},
    {"level eq 5.0", 1},
    {"level gt 4", 1},
    {"level le 4.5", 0},
    {"level ge -1e3", 1},
    {"level eq \"5\"", 0},
    {"level ne \"5\"", 1},
    {"active eq \"true\"", 0},
    /* dateTimes compare as instants */
    {"meta.created eq \"2010-01-23T05:56:22+01:00\"", 1},
    {"meta.created lt \"2010-01-23T05:56:22+01:00\"", 0},
    {"meta.created gt \"2010-01-23T04:56:21.999Z\"", 1},
    {"meta.lastModified gt \"2010-01-01T00:00:00Z\" and meta.lastModified lt "
     "\"2012-01-01T00:00:00Z\"",
     1},
    /* precedence: not > and > or */
    {"userType eq \"X\" and title pr or active eq true", 1},
    {"active eq false or userType eq \"X\" and title pr", 0},
    {"active eq true or userType eq \"X\" and title eq \"nope\"", 1},
    {"(active eq true or userType eq \"X\") and title eq \"nope\"", 0},
    {"not (active eq false) and title pr", 1},
    {"not (active eq true) or title pr", 1},
    {"not (active eq true or title pr)", 0},
    {"not(title pr)", 0},
    {"title pr and(userType eq \"Employee\")", 1},
    {"((((title pr))))", 1},
    {"  title   pr   and   active  eq  true  ", 1},
    {"title pr\tand\nactive eq true", 1},
    /* escapes */
    {"displayName eq \"Babs \\\"The\\\" Jensen\\\\\"", 1},
    {"displayName co \"\\u0022The\"", 1},
    {"displayName ew \"\\\\\"", 1},
    {"name.familyName eq \"O\\u0027Malley\"", 1},
    {"title eq \"Tour\\u0020Guide\"", 1},
    {"title eq \"Tour\\/Guide\"", 0},
    /* value paths and multi-valued attributes */
    {"addresses[type eq \"work\"]", 1},
    {"addresses[type eq \"home\"]", 0},
    {"addresses[type eq \"WORK\" and locality eq \"hollywood\"]", 1},
    {"emails[not (type eq \"work\")]", 1},
    {"emails[type eq \"work\" and primary eq true]", 1},
    {"emails[type eq \"home\" and primary eq true]", 0},
    {"emails[value ew \".org\" or type eq \"other\"]", 1},
    {"emails.value ne \"bjensen@example.com\"", 0},
    {"emails.value eq \"BABS@jensen.org\"", 1},
    {"emails eq \"babs@jensen.org\"", 1},
    {"emails pr", 1},
    {"phoneNumbers pr", 0},
    {"name pr", 1},
    {"emails.type eq \"home\"", 1},
    {"ims[type eq \"aim\"] and not (emails[type eq \"other\"])", 1},
    /* a comparison on a sub-attribute after the brackets (Entra ID's form): true only
     * when the same element passes both */
    {"emails[type eq \"work\"].value eq \"bjensen@example.com\"", 1},
    {"emails[type eq \"work\"].value eq \"BJensen@Example.com\"", 1},
    {"emails[type eq \"work\"].value eq \"babs@jensen.org\"", 0},
    {"emails[type eq \"home\"].value eq \"babs@jensen.org\"", 1},
    {"emails[type eq \"home\"].value eq \"bjensen@example.com\"", 0},
    {"emails[type eq \"other\"].value eq \"bjensen@example.com\"", 0},
    {"EMAILS[TYPE EQ \"work\"].VALUE EQ \"bjensen@example.com\"", 1},
    {"emails[type eq\"work\"].value eq\"bjensen@example.com\"", 1},
    {"emails[type eq \"work\"].value ne \"bjensen@example.com\"", 0},
    {"emails[type eq \"home\"].value ne \"bjensen@example.com\"", 1},
    {"emails[type eq \"work\"].value co \"@example\"", 1},
    {"emails[type eq \"work\"].value sw \"babs\"", 0},
    {"emails[type eq \"home\"].value ew \".org\"", 1},
    {"emails[type eq \"work\"].value gt \"a\"", 1},
    {"emails[type eq \"work\"].value lt \"a\"", 0},
    {"emails[type eq \"work\"].primary eq true", 1},
    {"emails[type eq \"home\"].primary eq true", 0},
    {"emails[type eq \"work\"].primary pr", 1},
    {"emails[type eq \"home\"].primary pr", 0},
    {"emails[type eq \"home\"].primary eq null", 1},
    {"emails[type eq \"work\"].display pr", 0},
    {"emails[value co \"example\" or type eq \"home\"].type eq \"home\"", 1},
    {"addresses[type eq \"work\"].locality eq \"hollywood\"", 1},
    {"addresses[type eq \"work\"].locality eq \"Burbank\"", 0},
    {"emails[type eq \"work\"].value eq \"bjensen@example.com\" and userName eq \"bjensen\"", 1},
    {"not (emails[type eq \"work\"].value eq \"bjensen@example.com\")", 0},
    {"phoneNumbers[type eq \"work\"].value pr", 0},
    {"emails[type eq \"work\"].noSuchSub eq \"x\"", 0},
    /* the enterprise extension, with and without its URN */
    {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"Tour "
     "Operations\"",
     1},
    {"department eq \"tour operations\"", 1},
    {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "
     "\"26118915-6090-4610-87e4-49d8ca9f808d\"",
     1},
    {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber sw \"70\"", 1},
    {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter pr", 0},
    /* attributes named like keywords, and unknown attributes */
    {"not eq \"x\"", 0},
    {"and pr or title pr", 1},
    {"noSuchAttribute eq \"x\"", 0},
    {"noSuchAttribute ne \"x\"", 1},
};

static void test_match_table(void **state)
{
    (void)state;
    json_t *user = fix_json(FIX_USER);
    assert_non_null(user);
    const struct scim_resource_type *rt = scim_resource_type_user();
    for (size_t i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++) {
        struct scim_filter *f = NULL;
        struct scim_error err = {0};
        enum sc_err rc = scim_filter_parse(match_cases[i].filter, &f, &err);
        if (rc != SC_OK)
            fail_msg("parse failed for [%s]: %s", match_cases[i].filter, err.detail);
        int m = scim_filter_match(f, rt, user);
        if (m != match_cases[i].expect)
            fail_msg("[%s] matched %d, expected %d", match_cases[i].filter, m,
                     match_cases[i].expect);
        /* printing back gives a filter that parses and matches the same way */
        struct sc_buf b;
        sc_buf_init(&b, 0);
        assert_int_equal(scim_filter_format(f, &b), SC_OK);
        struct scim_filter *g = NULL;
        if (scim_filter_parse(b.data, &g, &err) != SC_OK)
            fail_msg("reparse of [%s] (from [%s]) failed: %s", b.data, match_cases[i].filter,
                     err.detail);
        assert_int_equal(scim_filter_match(g, rt, user), m);
        struct sc_buf b2;
        sc_buf_init(&b2, 0);
        assert_int_equal(scim_filter_format(g, &b2), SC_OK);
        assert_string_equal(b.data, b2.data);
        sc_buf_free(&b);
        sc_buf_free(&b2);
        scim_filter_free(g);
        scim_filter_free(f);
    }
    json_decref(user);
}

static void test_match_without_schema(void **state)
{
    (void)state;
    json_t *user = fix_json(FIX_USER);
    struct scim_filter *f = NULL;
    assert_int_equal(scim_filter_parse("username eq \"BJENSEN\"", &f, NULL), SC_OK);
    assert_int_equal(scim_filter_match(f, NULL, user), 1);
    scim_filter_free(f);
    assert_int_equal(scim_filter_parse("id eq \"2819C223-7F76-453A-919D-413861904646\"", &f, NULL),
                     SC_OK);
    assert_int_equal(scim_filter_match(f, NULL, user), 0);
    scim_filter_free(f);
    /* a Group's members */
    json_t *group = fix_json(FIX_GROUP);
    assert_int_equal(
        scim_filter_parse("members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"]", &f, NULL),
        SC_OK);
    assert_int_equal(scim_filter_match(f, scim_resource_type_group(), group), 1);
    scim_filter_free(f);
    assert_int_equal(scim_filter_parse("displayName eq \"tour guides\"", &f, NULL), SC_OK);
    assert_int_equal(scim_filter_match(f, scim_resource_type_group(), group), 1);
    assert_int_equal(scim_filter_match(f, scim_resource_type_group(), NULL), 0);
    scim_filter_free(f);
    json_decref(group);
    json_decref(user);
}

struct bad_case {
    const char *filter;
    const char *why; /* a word the detail must contain */
};

static const struct bad_case bad_cases[] = {
    {"", "empty"},
    {"   ", "empty"},
    {"userName", "operator"},
    {"userName eq", "value"},
    {"userName eq ", "value"},
    {"userName xx \"a\"", "operator"},
    {"userName eq \"unterminated", "unterminated"},
    {"userName eq \"bad \\q escape\"", "string"},
    {"userName eq \"\\ud800\"", "string"},
    {"(userName pr", "')'"},
    {"userName pr)", "unbalanced"},
    {"emails[type eq \"work\"", "']'"},
    {"emails[type[value eq \"x\"]]", "nested"},
    {"userName eq bjensen", "value"},
    {"userName eq 1.2.3", "number"},
    {"userName eq -", "number"},
    {"userName pr and", "end"},
    {"userName pr or ", "end"},
    {"and userName pr", "operator"},
    {"not userName pr", "operator"},
    {"not ()", "attribute"},
    {"()", "attribute"},
    {"userName eq \"a\" junk", "unexpected"},
    {"title pr andtitle pr", "unexpected"},
    {"1userName pr", "attribute"},
    {"urn:x pr", "attribute"},
    {"name..givenName pr", "attribute"},
    {"name.given.name pr", "attribute"},
    {"userName eq \"a\" and", "end"},
    {"userName=\"a\"", "attribute"},
    {"userNameeq \"a\"", "operator"},
    {"[type eq \"work\"]", "attribute"},
    {"emails[]", "attribute"},
    {"userName eq 'single'", "value"},
    {"emails[type eq \"work\"].", "sub-attribute"},
    {"emails[type eq \"work\"]. value eq \"x\"", "sub-attribute"},
    {"emails[type eq \"work\"].1value eq \"x\"", "sub-attribute"},
    {"emails[type eq \"work\"].value", "operator"},
    {"emails[type eq \"work\"].value and title pr", "operator"},
    {"emails[type eq \"work\"].value eq", "value"},
    {"emails[type eq \"work\"].value eq bob", "value"},
    {"emails[type eq \"work\"].value xx \"a\"", "operator"},
    {"emails[type eq \"work\"].value.x eq \"a\"", "sub-attribute"},
    {"emails[type eq \"work\"].value[type pr]", "sub-attribute"},
    {"emails[type eq \"work\"].value eq \"a\" junk", "unexpected"},
    {"emails[type eq \"work\"] .value eq \"a\"", "unexpected"},
    {"emails[type eq \"work\"].value eq \"a\".value eq \"b\"", "unexpected"},
    {"emails[type[value eq \"x\"].value eq \"y\"]", "nested"},
};

static void test_bad_filters(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        struct scim_filter *f = NULL;
        struct scim_error err = {0};
        enum sc_err rc = scim_filter_parse(bad_cases[i].filter, &f, &err);
        if (rc == SC_OK) {
            scim_filter_free(f);
            fail_msg("[%s] parsed but should not", bad_cases[i].filter);
        }
        assert_null(f);
        assert_int_equal(rc, SC_ERR_INVALID);
        assert_int_equal(err.status, 400);
        assert_string_equal(err.scim_type, "invalidFilter");
        if (!strstr(err.detail, bad_cases[i].why))
            fail_msg("[%s]: detail \"%s\" lacks \"%s\"", bad_cases[i].filter, err.detail,
                     bad_cases[i].why);
    }
}

static void test_limits(void **state)
{
    (void)state;
    char buf[SCIM_FILTER_MAX_LEN + 64];
    struct scim_filter *f = NULL;
    struct scim_error err = {0};
    /* nesting up to the limit is fine, one more is refused */
    for (int depth = SCIM_FILTER_MAX_DEPTH; depth <= SCIM_FILTER_MAX_DEPTH + 1; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++)
            buf[n++] = '(';
        memcpy(buf + n, "title pr", 8);
        n += 8;
        for (int i = 0; i < depth; i++)
            buf[n++] = ')';
        buf[n] = '\0';
        enum sc_err rc = scim_filter_parse(buf, &f, &err);
        if (depth == SCIM_FILTER_MAX_DEPTH) {
            assert_int_equal(rc, SC_OK);
            scim_filter_free(f);
            f = NULL;
        } else {
            assert_int_equal(rc, SC_ERR_INVALID);
            assert_string_equal(err.scim_type, "invalidFilter");
            assert_non_null(strstr(err.detail, "nested"));
        }
    }
    /* deep not ( ... ) nesting, far past the limit, never recurses unboundedly */
    size_t n = 0;
    while (n + 6 < SCIM_FILTER_MAX_LEN)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "not (");
    assert_int_equal(scim_filter_parse(buf, &f, &err), SC_ERR_INVALID);
    /* unbalanced opening parentheses only */
    memset(buf, '(', SCIM_FILTER_MAX_LEN);
    buf[SCIM_FILTER_MAX_LEN] = '\0';
    assert_int_equal(scim_filter_parse(buf, &f, &err), SC_ERR_INVALID);
    /* too long */
    memset(buf, ' ', SCIM_FILTER_MAX_LEN + 1);
    memcpy(buf, "title pr", 8);
    buf[SCIM_FILTER_MAX_LEN + 1] = '\0';
    assert_int_equal(scim_filter_parse(buf, &f, &err), SC_ERR_INVALID);
    assert_non_null(strstr(err.detail, "longer"));
    /* exactly at the length limit is fine */
    buf[SCIM_FILTER_MAX_LEN] = '\0';
    assert_int_equal(scim_filter_parse(buf, &f, &err), SC_OK);
    scim_filter_free(f);
    /* a long flat chain of and/or terms is fine up to the node limit */
    n = 0;
    for (int i = 0; i < 400 && n < SCIM_FILTER_MAX_LEN - 16; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%sa pr", i ? " or " : "");
    assert_int_equal(scim_filter_parse(buf, &f, &err), SC_OK);
    json_t *r = json_pack("{s:s}", "a", "x");
    assert_int_equal(scim_filter_match(f, NULL, r), 1);
    json_decref(r);
    scim_filter_free(f);
    /* the `].sub op value` form keeps the same limits: nesting around it counts, and a
     * long chain of them parses and matches */
    for (int depth = SCIM_FILTER_MAX_DEPTH - 1; depth <= SCIM_FILTER_MAX_DEPTH; depth++) {
        n = 0;
        for (int i = 0; i < depth; i++)
            buf[n++] = '(';
        n += (size_t)snprintf(buf + n, sizeof buf - n, "e[t pr].v eq \"x\"");
        for (int i = 0; i < depth; i++)
            buf[n++] = ')';
        buf[n] = '\0';
        /* the brackets are one more level */
        enum sc_err rc = scim_filter_parse(buf, &f, &err);
        if (depth < SCIM_FILTER_MAX_DEPTH) {
            assert_int_equal(rc, SC_OK);
            scim_filter_free(f);
            f = NULL;
        } else {
            assert_int_equal(rc, SC_ERR_INVALID);
            assert_non_null(strstr(err.detail, "nested"));
        }
    }
    n = 0;
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%se[t pr].v%d pr", i ? " or " : "", i);
    assert_int_equal(scim_filter_parse(buf, &f, &err), SC_OK);
    r = json_pack("{s:[{s:s,s:s}]}", "e", "t", "a", "v199", "b");
    assert_int_equal(scim_filter_match(f, NULL, r), 1);
    json_decref(r);
    scim_filter_free(f);
    /* invalid UTF-8 */
    assert_int_equal(scim_filter_parse("title eq \"\xc3\x28\"", &f, &err), SC_ERR_INVALID);
    assert_int_equal(scim_filter_parse(NULL, &f, &err), SC_ERR_INVALID);
}

struct fmt_case {
    const char *in;
    const char *out;
};

static const struct fmt_case fmt_cases[] = {
    {"USERNAME EQ \"x\"", "USERNAME eq \"x\""},
    {"a pr or b pr and c pr", "a pr or b pr and c pr"},
    {"(a pr or b pr) and c pr", "(a pr or b pr) and c pr"},
    {"a pr and (b pr and c pr)", "a pr and (b pr and c pr)"},
    {"a pr and b pr and c pr", "a pr and b pr and c pr"},
    {"not(a pr)", "not (a pr)"},
    {"emails[type eq \"work\" and value co \"@x\"]",
     "emails[type eq \"work\" and value co \"@x\"]"},
    {"a eq \"q\\\"b\\\\\"", "a eq \"q\\\"b\\\\\""},
    {"a eq TRUE", "a eq true"},
    {"a ne null", "a ne null"},
    {"a gt 10", "a gt 10"},
    {"a lt -2.5", "a lt -2.5"},
    {"((a pr))", "a pr"},
    {"EMAILS[TYPE EQ \"work\"].VALUE EQ \"a@x\"", "EMAILS[TYPE eq \"work\"].VALUE eq \"a@x\""},
    {"emails[type eq \"work\"].value   pr", "emails[type eq \"work\"].value pr"},
    {"emails[type eq \"work\" or (primary eq true)].value ne null",
     "emails[type eq \"work\" or primary eq true].value ne null"},
    {"a pr or emails[type eq \"w\"].value co \"\\u0040\"",
     "a pr or emails[type eq \"w\"].value co \"@\""},
    {"a eq \"\\u00e9\"", "a eq \"\xc3\xa9\""},
};

static void test_format(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fmt_cases / sizeof fmt_cases[0]; i++) {
        struct scim_filter *f = NULL;
        assert_int_equal(scim_filter_parse(fmt_cases[i].in, &f, NULL), SC_OK);
        struct sc_buf b;
        sc_buf_init(&b, 0);
        assert_int_equal(scim_filter_format(f, &b), SC_OK);
        assert_string_equal(b.data, fmt_cases[i].out);
        sc_buf_free(&b);
        scim_filter_free(f);
    }
    assert_int_equal(scim_filter_format(NULL, NULL), SC_ERR_INVALID);
}

static void test_tree_shape(void **state)
{
    (void)state;
    struct scim_filter *f = NULL;
    assert_int_equal(scim_filter_parse("a pr or b pr and not (c pr)", &f, NULL), SC_OK);
    assert_int_equal(f->op, SCIM_OP_OR);
    assert_int_equal(f->left->op, SCIM_OP_PR);
    assert_string_equal(f->left->attr, "a");
    assert_int_equal(f->right->op, SCIM_OP_AND);
    assert_int_equal(f->right->right->op, SCIM_OP_NOT);
    assert_string_equal(f->right->right->left->attr, "c");
    scim_filter_free(f);
    assert_int_equal(scim_filter_parse("emails[type eq \"work\"]", &f, NULL), SC_OK);
    assert_int_equal(f->op, SCIM_OP_VALUE_PATH);
    assert_string_equal(f->attr, "emails");
    assert_int_equal(f->left->op, SCIM_OP_EQ);
    assert_string_equal(json_string_value(f->left->value), "work");
    assert_null(f->right);
    assert_string_equal(scim_filter_op_name(f->op), "[]");
    assert_string_equal(scim_filter_op_name(SCIM_OP_SW), "sw");
    scim_filter_free(f);
    /* the sub-attribute comparison hangs off the value path's right side */
    assert_int_equal(
        scim_filter_parse("emails[type eq \"work\"].value eq \"ada@example.com\"", &f, NULL),
        SC_OK);
    assert_int_equal(f->op, SCIM_OP_VALUE_PATH);
    assert_string_equal(f->attr, "emails");
    assert_int_equal(f->left->op, SCIM_OP_EQ);
    assert_string_equal(f->left->attr, "type");
    assert_non_null(f->right);
    assert_int_equal(f->right->op, SCIM_OP_EQ);
    assert_string_equal(f->right->attr, "value");
    assert_string_equal(json_string_value(f->right->value), "ada@example.com");
    assert_int_equal(scim_filter_simple_eq(f, NULL, NULL), 0);
    scim_filter_free(f);
    assert_int_equal(scim_filter_parse("emails[type eq \"work\"].value pr", &f, NULL), SC_OK);
    assert_int_equal(f->right->op, SCIM_OP_PR);
    assert_null(f->right->value);
    scim_filter_free(f);
    scim_filter_free(NULL);
}

static void test_simple_eq(void **state)
{
    (void)state;
    static const struct {
        const char *filter;
        int simple;
        const char *attr;
        const char *value;
    } cases[] = {
        {"userName eq \"bob\"", 1, "userName", "bob"},
        {"username Eq \"a\\\"b\"", 1, "username", "a\"b"},
        {"urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"bob\"", 1, "userName", "bob"},
        {"urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq \"g\"", 1, "displayName", "g"},
        {"externalId eq \"x1\"", 1, "externalId", "x1"},
        {"emails.value eq \"a@x\"", 1, "emails.value", "a@x"},
        {"(userName eq \"bob\")", 1, "userName", "bob"},
        {"userName eq \"a\" and title pr", 0, NULL, NULL},
        {"userName co \"a\"", 0, NULL, NULL},
        {"active eq true", 0, NULL, NULL},
        {"not (userName eq \"a\")", 0, NULL, NULL},
        {"emails[value eq \"a\"]", 0, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct scim_filter *f = NULL;
        assert_int_equal(scim_filter_parse(cases[i].filter, &f, NULL), SC_OK);
        const char *a = NULL, *v = NULL;
        assert_int_equal(scim_filter_simple_eq(f, &a, &v), cases[i].simple);
        if (cases[i].simple) {
            assert_string_equal(a, cases[i].attr);
            assert_string_equal(v, cases[i].value);
        }
        scim_filter_free(f);
    }
    assert_int_equal(scim_filter_simple_eq(NULL, NULL, NULL), 0);
}

static void test_quote_and_template(void **state)
{
    (void)state;
    struct sc_buf b;
    sc_buf_init(&b, 0);
    assert_int_equal(scim_filter_quote("a\"b\\c", &b), SC_OK);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\"");
    sc_buf_reset(&b);
    assert_int_equal(scim_filter_quote("line\nnext\x01", &b), SC_OK);
    assert_string_equal(b.data, "\"line\\u000anext\\u0001\"");
    sc_buf_reset(&b);
    assert_int_equal(scim_filter_quote("", &b), SC_OK);
    assert_string_equal(b.data, "\"\"");
    sc_buf_reset(&b);
    assert_int_equal(scim_filter_quote("caf\xc3\xa9", &b), SC_OK);
    assert_string_equal(b.data, "\"caf\xc3\xa9\"");
    sc_buf_reset(&b);
    assert_int_equal(scim_filter_quote("bad\xc3", &b), SC_ERR_INVALID);
    assert_int_equal(b.len, 0);

    /* the seed's template with hostile values: the filter keeps its shape */
    static const char *const values[] = {
        "bjensen", "a\"b\\c",    "x\" or userName pr or userName eq \"", "\\", "\"", "50%", "%s",
        "",        "caf\xc3\xa9"};
    json_t *user = json_object();
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct scim_error err = {0};
        sc_buf_reset(&b);
        assert_int_equal(scim_filter_template("username Eq \"%s\"", values[i], &b, &err), SC_OK);
        struct scim_filter *f = NULL;
        assert_int_equal(scim_filter_parse(b.data, &f, &err), SC_OK);
        const char *a = NULL, *v = NULL;
        assert_int_equal(scim_filter_simple_eq(f, &a, &v), 1);
        assert_string_equal(a, "username");
        assert_string_equal(v, values[i]);
        json_object_set_new(user, "userName", json_string(values[i]));
        assert_int_equal(scim_filter_match(f, scim_resource_type_user(), user), 1);
        json_object_set_new(user, "userName", json_string("someone else"));
        assert_int_equal(scim_filter_match(f, scim_resource_type_user(), user), 0);
        scim_filter_free(f);
    }
    json_decref(user);

    struct scim_error err = {0};
    sc_buf_reset(&b);
    assert_int_equal(scim_filter_template("userName eq %s", "a\"b", &b, &err), SC_OK);
    assert_string_equal(b.data, "userName eq \"a\\\"b\"");
    sc_buf_reset(&b);
    assert_int_equal(
        scim_filter_template("title co \"100%%\" and userName eq \"%s\"", "x", &b, &err), SC_OK);
    assert_string_equal(b.data, "title co \"100%\" and userName eq \"x\"");
    sc_buf_reset(&b);
    assert_int_equal(scim_filter_template("title co \"5%\" or userName eq \"%s\"", "x", &b, &err),
                     SC_OK);
    assert_string_equal(b.data, "title co \"5%\" or userName eq \"x\"");
    sc_buf_reset(&b);
    assert_int_equal(scim_filter_template("userName eq \"\\\"%s\"", "x", &b, &err), SC_OK);
    assert_string_equal(b.data, "userName eq \"\\\"x\"");
    sc_buf_reset(&b);
    assert_int_equal(scim_filter_template("userName eq \"x\"", "x", &b, &err), SC_ERR_INVALID);
    assert_string_equal(err.scim_type, "invalidFilter");
    assert_int_equal(scim_filter_template("userName eq \"%s", "x", &b, &err), SC_ERR_PARSE);
    assert_string_equal(err.scim_type, "invalidFilter");
    assert_int_equal(scim_filter_template("userName xx \"%s\"", "x", &b, &err), SC_ERR_PARSE);
    assert_int_equal(scim_filter_template("userName eq \"%s\"", "bad\xff", &b, &err),
                     SC_ERR_INVALID);
    assert_int_equal(scim_filter_template(NULL, "x", &b, &err), SC_ERR_INVALID);
    assert_int_equal(b.len, 0);
    sc_buf_free(&b);
}

static void test_check(void **state)
{
    (void)state;
    static const struct {
        const char *filter;
        int ok;
    } cases[] = {
        {"userName gt \"a\"", 1},
        {"active gt true", 0},
        {"active co \"t\"", 0},
        {"active eq true", 1},
        {"meta.created gt \"2011-01-01T00:00:00Z\"", 1},
        {"x509Certificates.value gt \"a\"", 0},
        {"emails[primary sw \"t\"]", 0},
        {"emails[value sw \"t\"]", 1},
        {"unknownAttr gt 3", 1},
        {"title pr and not (active le false)", 0},
        {"emails[type eq \"work\"].value sw \"a\"", 1},
        {"emails[type eq \"work\"].primary gt true", 0},
        {"emails[type eq \"work\"].primary co \"t\"", 0},
        {"emails[primary gt true].value eq \"a\"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct scim_filter *f = NULL;
        struct scim_error err = {0};
        assert_int_equal(scim_filter_parse(cases[i].filter, &f, NULL), SC_OK);
        enum sc_err rc = scim_filter_check(f, scim_resource_type_user(), &err);
        if ((rc == SC_OK) != cases[i].ok)
            fail_msg("check of [%s] gave %d (%s)", cases[i].filter, rc, err.detail);
        if (!cases[i].ok)
            assert_string_equal(err.scim_type, "invalidFilter");
        scim_filter_free(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_table), cmocka_unit_test(test_match_without_schema),
        cmocka_unit_test(test_bad_filters), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_format),      cmocka_unit_test(test_tree_shape),
        cmocka_unit_test(test_simple_eq),   cmocka_unit_test(test_quote_and_template),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
