/* Unit tests for the user-filter language: every operator, ALL/ANY and nesting, group
 * membership conditions, validation errors with their paths, caps, introspection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "directory/userfilter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *user(void)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:o, s:{s:s}, s:b, s:{s:s, s:s}}", "id",
                     "u1", "username", "Ada.Lovelace", "name", "given", "Ada", "family", "Lovelace",
                     "email", "ada@Example.com", "title", "Engineer", "nickname", json_null(),
                     "address", "countryCode", "GB", "enabled", 1, "population", "id", "p1", "name",
                     "Sales");
}

/* Compiles text (JSON), asserting success. */
static struct userfilter *compile(const char *text)
{
    json_error_t je;
    json_t *spec = json_loads(text, 0, &je);
    assert_non_null(spec);
    struct userfilter *f = NULL;
    struct sc_error e = {0};
    enum sc_err rc = userfilter_compile(spec, &f, &e);
    if (rc)
        fail_msg("compile %s: %s (%s)", text, e.message, e.field);
    json_decref(spec);
    return f;
}

/* Returns the match result of a one-condition ALL filter on user u. */
static int one(const json_t *u, const char *attr, const char *op, const char *value_json,
               const char *const *groups, size_t ngroups)
{
    char text[1024];
    if (value_json)
        snprintf(text, sizeof text,
                 "{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"%s\",\"operator\":\"%s\","
                 "\"value\":%s}]}",
                 attr, op, value_json);
    else
        snprintf(text, sizeof text,
                 "{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"%s\",\"operator\":\"%s\"}]}",
                 attr, op);
    struct userfilter *f = compile(text);
    int r = userfilter_match(f, u, groups, ngroups);
    userfilter_free(f);
    return r;
}

static void test_operators(void **state)
{
    (void)state;
    json_t *u = user();
    assert_true(one(u, "username", "EQUALS", "\"ada.lovelace\"", NULL, 0));
    assert_false(one(u, "username", "EQUALS", "\"ada\"", NULL, 0));
    assert_true(one(u, "username", "NOT_EQUALS", "\"ada\"", NULL, 0));
    assert_false(one(u, "username", "NOT_EQUALS", "\"ADA.LOVELACE\"", NULL, 0));
    assert_true(one(u, "nickname", "NOT_EQUALS", "\"x\"", NULL, 0)); /* null != x */
    assert_true(one(u, "email", "STARTS_WITH", "\"ADA@\"", NULL, 0));
    assert_false(one(u, "email", "STARTS_WITH", "\"bob\"", NULL, 0));
    assert_true(one(u, "email", "ENDS_WITH", "\"@example.COM\"", NULL, 0));
    assert_false(
        one(u, "email", "ENDS_WITH", "\"a-much-longer-suffix-than-the-value.com\"", NULL, 0));
    assert_true(one(u, "name.family", "CONTAINS", "\"LACE\"", NULL, 0));
    assert_false(one(u, "name.family", "CONTAINS", "\"zz\"", NULL, 0));
    assert_true(one(u, "address.countryCode", "IN", "[\"us\", \"gb\"]", NULL, 0));
    assert_false(one(u, "address.countryCode", "IN", "[\"us\", \"de\"]", NULL, 0));
    assert_true(one(u, "nickname", "IS_NULL", NULL, NULL, 0));
    assert_true(one(u, "primaryPhone", "IS_NULL", NULL, NULL, 0)); /* absent */
    assert_false(one(u, "title", "IS_NULL", NULL, NULL, 0));
    assert_true(one(u, "title", "IS_NOT_NULL", NULL, NULL, 0));
    assert_false(one(u, "nickname", "IS_NOT_NULL", NULL, NULL, 0));
    assert_true(one(u, "username", "MATCHES", "\"^ada\\\\.[a-z]+$\"", NULL, 0));
    assert_false(one(u, "username", "MATCHES", "\"^bob\"", NULL, 0));
    assert_true(one(u, "population.name", "EQUALS", "\"sales\"", NULL, 0));
    assert_true(one(u, "population.id", "EQUALS", "\"p1\"", NULL, 0));
    assert_true(one(u, "enabled", "EQUALS", "true", NULL, 0));
    assert_false(one(u, "enabled", "EQUALS", "\"false\"", NULL, 0));
    assert_false(one(u, "nickname", "EQUALS", "\"x\"", NULL, 0)); /* null matches nothing */
    json_decref(u);
}

static void test_group_conditions(void **state)
{
    (void)state;
    json_t *u = user();
    const char *groups[] = {"Engineering", "All Staff"};
    assert_true(one(u, "group", "EQUALS", "\"engineering\"", groups, 2));
    assert_false(one(u, "group", "EQUALS", "\"Sales\"", groups, 2));
    assert_true(one(u, "group", "NOT_EQUALS", "\"Sales\"", groups, 2));
    assert_false(one(u, "group", "NOT_EQUALS", "\"all staff\"", groups, 2));
    assert_true(one(u, "group", "STARTS_WITH", "\"All\"", groups, 2));
    assert_true(one(u, "group", "IN", "[\"x\", \"ALL STAFF\"]", groups, 2));
    assert_true(one(u, "group", "MATCHES", "\"^eng\"", groups, 2));
    assert_true(one(u, "group", "IS_NOT_NULL", NULL, groups, 2));
    assert_false(one(u, "group", "IS_NULL", NULL, groups, 2));
    assert_true(one(u, "group", "IS_NULL", NULL, NULL, 0));
    assert_false(one(u, "group", "EQUALS", "\"Engineering\"", NULL, 0));
    json_decref(u);
}

/* userfilter_population_match says "all" or "none" only where the population decides. */
static void test_population_match(void **state)
{
    (void)state;
    struct userfilter *f = compile(
        "{\"match\":\"ANY\",\"conditions\":["
        "{\"attribute\":\"population.name\",\"operator\":\"EQUALS\",\"value\":\"Sales\"},"
        "{\"attribute\":\"population.id\",\"operator\":\"IN\",\"value\":[\"p7\",\"p8\"]}]}");
    assert_int_equal(userfilter_population_match(f, "p1", "sales"), 1); /* case-insensitive */
    assert_int_equal(userfilter_population_match(f, "p8", "Other"), 1);
    assert_int_equal(userfilter_population_match(f, "p2", "Other"), 0);
    userfilter_free(f);
    /* ALL: one population condition that fails decides; one that passes does not */
    f = compile("{\"match\":\"ALL\",\"conditions\":["
                "{\"attribute\":\"title\",\"operator\":\"EQUALS\",\"value\":\"CEO\"},"
                "{\"attribute\":\"population.name\",\"operator\":\"STARTS_WITH\","
                "\"value\":\"Sal\"}]}");
    assert_int_equal(userfilter_population_match(f, "p2", "Marketing"), 0);
    assert_int_equal(userfilter_population_match(f, "p1", "Sales"), -1);
    userfilter_free(f);
    /* ANY with another attribute: one population condition that passes decides */
    f = compile("{\"match\":\"ANY\",\"conditions\":["
                "{\"attribute\":\"population.name\",\"operator\":\"EQUALS\",\"value\":\"Sales\"},"
                "{\"attribute\":\"group\",\"operator\":\"EQUALS\",\"value\":\"Admins\"}]}");
    assert_int_equal(userfilter_population_match(f, "p2", "Marketing"), -1);
    assert_int_equal(userfilter_population_match(f, "p1", "Sales"), 1);
    userfilter_free(f);
    /* NOT_EQUALS and nesting */
    f = compile("{\"match\":\"ALL\",\"conditions\":[{\"match\":\"ANY\",\"conditions\":["
                "{\"attribute\":\"population.name\",\"operator\":\"NOT_EQUALS\","
                "\"value\":\"Contractors\"},"
                "{\"attribute\":\"population.id\",\"operator\":\"EQUALS\",\"value\":\"p9\"}]}]}");
    assert_int_equal(userfilter_population_match(f, "p3", "contractors"), 0);
    assert_int_equal(userfilter_population_match(f, "p9", "Contractors"), 1);
    assert_int_equal(userfilter_population_match(f, "p1", "Sales"), 1);
    userfilter_free(f);
    assert_int_equal(userfilter_population_match(NULL, "p1", "Sales"), 0);
}

static void test_all_any_nesting(void **state)
{
    (void)state;
    json_t *u = user();
    const char *groups[] = {"Engineering"};
    struct userfilter *f =
        compile("{\"match\":\"ALL\",\"conditions\":["
                "{\"attribute\":\"population.name\",\"operator\":\"EQUALS\",\"value\":\"Sales\"},"
                "{\"match\":\"ANY\",\"conditions\":["
                "{\"attribute\":\"group\",\"operator\":\"EQUALS\",\"value\":\"Marketing\"},"
                "{\"attribute\":\"group\",\"operator\":\"EQUALS\",\"value\":\"Engineering\"}]}]}");
    assert_true(userfilter_match(f, u, groups, 1));
    assert_false(userfilter_match(f, u, NULL, 0));
    assert_true(userfilter_names_scope(f));
    assert_true(userfilter_uses_groups(f));
    assert_true(userfilter_uses_group(f, "marketing"));
    assert_false(userfilter_uses_group(f, "Finance"));
    json_t *gn = userfilter_group_names(f);
    assert_int_equal(json_array_size(gn), 2);
    assert_string_equal(json_string_value(json_array_get(gn, 0)), "Marketing");
    json_decref(gn);
    json_t *pn = userfilter_population_names(f);
    assert_int_equal(json_array_size(pn), 1);
    assert_string_equal(json_string_value(json_array_get(pn, 0)), "Sales");
    json_decref(pn);
    userfilter_free(f);

    f = compile("{\"match\":\"ANY\",\"conditions\":["
                "{\"attribute\":\"title\",\"operator\":\"EQUALS\",\"value\":\"CEO\"},"
                "{\"attribute\":\"title\",\"operator\":\"EQUALS\",\"value\":\"Engineer\"}]}");
    assert_true(userfilter_match(f, u, NULL, 0));
    assert_false(userfilter_names_scope(f));
    assert_false(userfilter_uses_group(f, "Engineering"));
    userfilter_free(f);

    f = compile("{\"match\":\"ALL\",\"conditions\":["
                "{\"attribute\":\"title\",\"operator\":\"EQUALS\",\"value\":\"CEO\"},"
                "{\"attribute\":\"title\",\"operator\":\"EQUALS\",\"value\":\"Engineer\"}]}");
    assert_false(userfilter_match(f, u, NULL, 0));
    userfilter_free(f);

    f = compile("{\"conditions\":[{\"attribute\":\"group\",\"operator\":\"STARTS_WITH\","
                "\"value\":\"Eng\"}]}"); /* match defaults to ALL */
    assert_true(userfilter_match(f, u, groups, 1));
    assert_true(userfilter_uses_group(f, "Engineers"));
    assert_false(userfilter_uses_group(f, "Sales"));
    userfilter_free(f);
    json_decref(u);
}

/* Asserts that text fails to compile with code and field. */
static void refused(const char *text, enum sc_err code, const char *field)
{
    json_t *spec = json_loads(text, 0, NULL);
    assert_non_null(spec);
    struct userfilter *f = NULL;
    struct sc_error e = {0};
    enum sc_err rc = userfilter_compile(spec, &f, &e);
    json_decref(spec);
    if (rc != code || strcmp(e.field, field) != 0)
        fail_msg("%s: got %d field '%s' (%s), want %d '%s'", text, rc, e.field, e.message, code,
                 field);
    assert_null(f);
    assert_true(strlen(e.message) > 0);
}

static void test_errors(void **state)
{
    (void)state;
    refused("{\"match\":\"SOME\",\"conditions\":[]}", SC_ERR_INVALID, "match");
    refused("{\"match\":\"ALL\",\"conditions\":[]}", SC_ERR_INVALID, "conditions");
    refused("{\"match\":\"ALL\"}", SC_ERR_INVALID, "conditions");
    refused("{\"match\":\"ALL\",\"conditions\":[],\"x\":1}", SC_ERR_INVALID, "x");
    refused("{\"attribute\":\"username\",\"operator\":\"EQUALS\",\"value\":\"a\"}", SC_ERR_INVALID,
            "match");
    refused("[1]", SC_ERR_INVALID, "");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"username\",\"operator\":"
            "\"EQUALS\",\"value\":\"a\"},{\"attribute\":\"username\",\"operator\":\"LIKE\","
            "\"value\":\"a\"}]}",
            SC_ERR_INVALID, "conditions[1].operator");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"shoeSize\",\"operator\":"
            "\"EQUALS\",\"value\":\"a\"}]}",
            SC_ERR_INVALID, "conditions[0].attribute");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"operator\":\"EQUALS\",\"value\":\"a\"}]}",
            SC_ERR_INVALID, "conditions[0].attribute");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"username\",\"operator\":"
            "\"EQUALS\"}]}",
            SC_ERR_INVALID, "conditions[0].value");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"username\",\"operator\":"
            "\"EQUALS\",\"value\":{}}]}",
            SC_ERR_INVALID, "conditions[0].value");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"username\",\"operator\":"
            "\"IN\",\"value\":\"a\"}]}",
            SC_ERR_INVALID, "conditions[0].value");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"username\",\"operator\":"
            "\"IS_NULL\",\"value\":\"a\"}]}",
            SC_ERR_INVALID, "conditions[0].value");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"username\",\"operator\":"
            "\"MATCHES\",\"value\":\"a(\"}]}",
            SC_ERR_INVALID, "conditions[0].value");
    refused("{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"username\",\"operator\":"
            "\"EQUALS\",\"value\":\"a\",\"extra\":1}]}",
            SC_ERR_INVALID, "conditions[0].extra");
    refused("{\"match\":\"ANY\",\"conditions\":[{\"match\":\"ALL\",\"conditions\":[{"
            "\"attribute\":\"username\",\"operator\":\"NOPE\",\"value\":\"a\"}]}]}",
            SC_ERR_INVALID, "conditions[0].conditions[0].operator");
    refused("{\"match\":\"ALL\",\"conditions\":[7]}", SC_ERR_INVALID, "conditions[0]");
}

static void test_caps(void **state)
{
    (void)state;
    /* nesting deeper than USERFILTER_MAX_DEPTH */
    json_t *leaf =
        json_pack("{s:s, s:s, s:s}", "attribute", "username", "operator", "EQUALS", "value", "a");
    json_t *spec = leaf;
    for (int i = 0; i < USERFILTER_MAX_DEPTH + 1; i++)
        spec = json_pack("{s:s, s:[o]}", "match", "ALL", "conditions", spec);
    struct userfilter *f = NULL;
    struct sc_error e = {0};
    assert_int_equal(userfilter_compile(spec, &f, &e), SC_ERR_TOO_LARGE);
    json_decref(spec);

    /* too many conditions */
    json_t *conds = json_array();
    for (int i = 0; i < USERFILTER_MAX_CONDITIONS + 1; i++)
        json_array_append_new(conds, json_pack("{s:s, s:s, s:s}", "attribute", "username",
                                               "operator", "EQUALS", "value", "a"));
    spec = json_pack("{s:s, s:o}", "match", "ANY", "conditions", conds);
    assert_int_equal(userfilter_compile(spec, &f, &e), SC_ERR_TOO_LARGE);
    assert_string_equal(e.field, "conditions");
    json_decref(spec);

    /* a value too long, a regex too long */
    char *big = malloc(USERFILTER_MAX_VALUE + 2);
    memset(big, 'a', USERFILTER_MAX_VALUE + 1);
    big[USERFILTER_MAX_VALUE + 1] = '\0';
    spec = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "match", "ALL", "conditions", "attribute",
                     "username", "operator", "EQUALS", "value", big);
    assert_int_equal(userfilter_compile(spec, &f, &e), SC_ERR_TOO_LARGE);
    assert_string_equal(e.field, "conditions[0].value");
    json_decref(spec);
    big[USERFILTER_MAX_REGEX + 1] = '\0';
    spec = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "match", "ALL", "conditions", "attribute",
                     "username", "operator", "MATCHES", "value", big);
    assert_int_equal(userfilter_compile(spec, &f, &e), SC_ERR_TOO_LARGE);
    json_decref(spec);
    free(big);
    assert_true(userfilter_attribute_known("address.countryCode"));
    assert_true(userfilter_attribute_known("GROUP"));
    assert_false(userfilter_attribute_known("address"));
}

/* Returns whether value matches pattern with MATCHES (compiled, asserting success). */
static int re(const char *pattern, const char *value)
{
    json_t *spec = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "match", "ALL", "conditions",
                             "attribute", "title", "operator", "MATCHES", "value", pattern);
    json_t *u = json_pack("{s:s}", "title", value);
    struct userfilter *f = NULL;
    struct sc_error e = {0};
    if (userfilter_compile(spec, &f, &e) != SC_OK)
        fail_msg("pattern %s: %s", pattern, e.message);
    int r = userfilter_match(f, u, NULL, 0);
    userfilter_free(f);
    json_decref(spec);
    json_decref(u);
    return r;
}

/* Asserts that pattern is refused at compile time on conditions[0].value, with a message
 * containing want. */
static void re_refused(const char *pattern, enum sc_err code, const char *want)
{
    json_t *spec = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "match", "ALL", "conditions",
                             "attribute", "title", "operator", "MATCHES", "value", pattern);
    struct userfilter *f = NULL;
    struct sc_error e = {0};
    enum sc_err rc = userfilter_compile(spec, &f, &e);
    json_decref(spec);
    if (rc != code || strcmp(e.field, "conditions[0].value") != 0 || !strstr(e.message, want))
        fail_msg("pattern %s: got %d field '%s' message '%s', want %d and '%s'", pattern, rc,
                 e.field, e.message, code, want);
    assert_null(f);
}

/* MATCHES keeps its POSIX ERE meaning: unanchored, ASCII case-insensitive, bracket
 * expressions where a backslash is an ordinary character, stacked repetitions. */
static void test_regex_semantics(void **state)
{
    (void)state;
    assert_true(re("engineer", "Senior ENGINEER"));
    assert_false(re("^engineer", "Senior Engineer"));
    assert_true(re("^sen.*eer$", "Senior Engineer"));
    assert_false(re("eer$", "Engineer\n")); /* $ is the end of the value only */
    assert_true(re("a.b", "a\nb"));         /* . matches a newline */
    assert_true(re("^(ab)+c$", "ABABc"));
    assert_false(re("^(ab)+c$", "abac"));
    assert_true(re("^a|^b", "beta"));
    assert_true(re("^a{2,3}$", "aaa"));
    assert_false(re("^a{2,3}$", "aaaa"));
    assert_true(re("^a{,2}b", "aab"));
    assert_true(re("^x{2}$", "xx"));
    assert_true(re("^a**$", "aaa"));
    assert_true(re("^xa+?$", "x"));
    assert_true(re("^[[:digit:]]+$", "2024"));
    assert_false(re("^[[:digit:]]+$", "20x4"));
    assert_true(re("^[\\d]$", "\\")); /* in [...] a backslash is itself */
    assert_true(re("^[\\d]$", "d"));
    assert_false(re("^[\\d]$", "5"));
    assert_true(re("^[]a]+$", "]a]"));
    assert_true(re("^[^a-c]$", "z"));
    assert_true(re("^[a-]+$", "a-a"));
    assert_true(re("a\\.b", "a.b"));
    assert_false(re("a\\.b", "axb"));
    assert_true(re("^a)$", "a)")); /* an unmatched ')' is an ordinary character */
    assert_true(re("\\<eng", "senior eng"));
    assert_false(re("\\<eng", "seng"));
    assert_true(re("^\\w+\\s\\w+$", "ada lovelace"));
    assert_true(re("^caf\xc3\xa9$", "caf\xc3\xa9")); /* bytes of UTF-8 as they are */
    assert_true(re("^$|x", "x"));
    assert_true(re("()", "anything"));
}

static void test_regex_refused(void **state)
{
    (void)state;
    /* glibc's regexec crashed on this one (back-references) */
    re_refused("(x|)(\\1\\1|t1|\\1x)+", SC_ERR_INVALID, "back-references");
    /* and grew to gigabytes on this one */
    re_refused("a{1,32767}b{1,32767}c{1,32767}", SC_ERR_INVALID, "above 255");
    re_refused("a{256}", SC_ERR_INVALID, "above 255");
    re_refused("*a", SC_ERR_INVALID, "nothing to repeat");
    re_refused("a|+", SC_ERR_INVALID, "nothing to repeat");
    re_refused("(?=a)", SC_ERR_INVALID, "nothing to repeat"); /* not POSIX */
    re_refused("^*", SC_ERR_INVALID, "nothing to repeat");
    re_refused("a{", SC_ERR_INVALID, "repetition");
    re_refused("a{2,1}", SC_ERR_INVALID, "wrong order");
    re_refused("a{x}", SC_ERR_INVALID, "repetition");
    re_refused("[z-a]", SC_ERR_INVALID, "wrong order");
    re_refused("[abc", SC_ERR_INVALID, "not closed");
    re_refused("[[:nope:]]", SC_ERR_INVALID, "character class");
    re_refused("[[.ch.]]", SC_ERR_INVALID, "collating");
    re_refused("(ab", SC_ERR_INVALID, "not closed");
    re_refused("ab\\", SC_ERR_INVALID, "backslash");
    /* nesting and size caps */
    char deep[80] = "";
    for (int i = 0; i < 33; i++)
        strcat(deep, "(");
    re_refused(deep, SC_ERR_INVALID, "nest");
    re_refused("((((a{1,255}){1,255}){1,255}){1,255})", SC_ERR_INVALID, "compiled");
    /* the caps still let real patterns through */
    assert_true(re("^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,63}$", "ada@example.com"));
    assert_true(re("^(x|)(t1|x)+$", "xt1x"));
}

/* A pattern that exceeds its match limit at run time fails the evaluation (no match,
 * even where another condition of an ANY set would match) and is logged once. */
static void test_regex_limit(void **state)
{
    (void)state;
    json_t *spec =
        json_pack("{s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}]}", "match", "ANY", "conditions",
                  "attribute", "title", "operator", "MATCHES", "value", "^(a|aa)*b$", "attribute",
                  "username", "operator", "EQUALS", "value", "ada");
    struct userfilter *f = NULL;
    struct sc_error e = {0};
    assert_int_equal(userfilter_compile(spec, &f, &e), SC_OK);
    json_decref(spec);
    char title[64];
    memset(title, 'a', 48);
    memcpy(title + 48, "b!", 3);
    json_t *slow = json_pack("{s:s, s:s}", "username", "ada", "title", title);
    json_t *fast = json_pack("{s:s, s:s}", "username", "ada", "title", "aab");
    json_t *other = json_pack("{s:s, s:s}", "username", "bob", "title", "aaab");

    /* capture standard error to count the warnings */
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    dup2(fileno(tmp), 2);
    int r1 = userfilter_match(f, slow, NULL, 0);
    int r2 = userfilter_match(f, slow, NULL, 0);
    int r3 = userfilter_match(f, fast, NULL, 0);
    int r4 = userfilter_match(f, other, NULL, 0);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char logs[4096] = "";
    rewind(tmp);
    size_t n = fread(logs, 1, sizeof logs - 1, tmp);
    logs[n] = '\0';
    fclose(tmp);

    assert_false(r1);
    assert_false(r2);
    assert_true(r3);
    assert_true(r4);
    const char *w = strstr(logs, "userfilter.match_failed");
    if (!w)
        fail_msg("no warning in: %s", logs);
    if (!strstr(w, "field=conditions[0].value"))
        fail_msg("no field in: %s", w);
    assert_null(strstr(w + 1, "userfilter.match_failed")); /* once */
    json_decref(slow);
    json_decref(fast);
    json_decref(other);
    userfilter_free(f);
}

/* A deterministic pseudo-random generator for the robustness test. */
static unsigned next_rand(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fff;
}

static json_t *random_value(unsigned *seed, int depth)
{
    static const char *const words[] = {
        "group", "username", "EQUALS", "IN", "MATCHES",         "ALL",
        "ANY",   "(",        "^a.*",   "",   "population.name", "IS_NULL"};
    static const char *const keys[] = {"match",    "conditions", "attribute",
                                       "operator", "value",      "x"};
    switch (next_rand(seed) % (depth > 4 ? 4 : 7)) {
    case 0:
        return json_string(words[next_rand(seed) % 12]);
    case 1:
        return json_integer(next_rand(seed));
    case 2:
        return json_null();
    case 3:
        return json_true();
    case 4: {
        json_t *a = json_array();
        for (unsigned i = next_rand(seed) % 4; i > 0; i--)
            json_array_append_new(a, random_value(seed, depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = next_rand(seed) % 4; i > 0; i--)
            json_object_set_new(o, keys[next_rand(seed) % 6], random_value(seed, depth + 1));
        return o;
    }
    }
}

/* A random pattern from ERE pieces, valid or not (unbalanced parentheses, stray
 * quantifiers, back-references). */
static json_t *random_pattern(unsigned *seed)
{
    static const char *const pieces[] = {"a",     "B",   ".",   "*",   "+",           "?",    "(",
                                         ")",     "|",   "^",   "$",   "[a-c]",       "[^x]", "{2}",
                                         "{1,3}", "\\.", "\\1", "\\w", "[[:alpha:]]", "[",    "]",
                                         "{",     "-",   "\\<", "{,2}"};
    char buf[64] = "";
    size_t len = 0;
    for (unsigned i = next_rand(seed) % 8; i > 0; i--) {
        const char *p = pieces[next_rand(seed) % (sizeof pieces / sizeof pieces[0])];
        size_t pl = strlen(p);
        if (len + pl >= sizeof buf)
            break;
        memcpy(buf + len, p, pl + 1);
        len += pl;
    }
    return json_string(buf);
}

/* A random filter that is mostly well-formed: sets of conditions on known and unknown
 * attributes with every operator, and now and then a piece of arbitrary JSON. */
static json_t *random_filter(unsigned *seed, int depth)
{
    static const char *const attrs[] = {"username", "title", "group",   "population.name",
                                        "enabled",  "email", "shoeSize"};
    static const char *const ops[] = {"EQUALS",   "NOT_EQUALS", "STARTS_WITH", "ENDS_WITH",
                                      "CONTAINS", "IN",         "IS_NULL",     "IS_NOT_NULL",
                                      "MATCHES",  "matches",    "NOPE"};
    if (next_rand(seed) % 20 == 0)
        return random_value(seed, depth);
    json_t *conds = json_array();
    for (unsigned i = 1 + next_rand(seed) % 3; i > 0; i--) {
        if (depth < 3 && next_rand(seed) % 4 == 0) {
            json_array_append_new(conds, random_filter(seed, depth + 1));
            continue;
        }
        const char *op = ops[next_rand(seed) % (sizeof ops / sizeof ops[0])];
        json_t *c =
            json_pack("{s:s, s:s}", "attribute",
                      attrs[next_rand(seed) % (sizeof attrs / sizeof attrs[0])], "operator", op);
        if (sc_strcaseeq(op, "MATCHES"))
            json_object_set_new(c, "value", random_pattern(seed));
        else if (strcmp(op, "IN") == 0)
            json_object_set_new(c, "value", json_pack("[s, s]", "a", "Sales"));
        else if (strncmp(op, "IS_", 3) != 0 || next_rand(seed) % 8 == 0)
            json_object_set_new(c, "value", json_string("a"));
        json_array_append_new(conds, c);
    }
    return json_pack("{s:s, s:o}", "match", next_rand(seed) % 2 ? "ALL" : "ANY", "conditions",
                     conds);
}

static void test_random_specs(void **state)
{
    (void)state;
    unsigned seed = 42;
    json_t *u = user();
    const char *groups[] = {"a", "b"};
    int compiled = 0, refused_count = 0;
    for (int i = 0; i < 3000; i++) {
        json_t *spec = random_filter(&seed, 0);
        struct userfilter *f = NULL;
        struct sc_error e = {0};
        if (userfilter_compile(spec, &f, &e) == SC_OK) {
            compiled++;
            userfilter_match(f, u, groups, 2);
            userfilter_names_scope(f);
            userfilter_uses_group(f, "a");
            json_decref(userfilter_group_names(f));
            userfilter_free(f);
        } else {
            refused_count++;
            assert_null(f);
            assert_true(strlen(e.message) > 0);
        }
        json_decref(spec);
    }
    /* both paths are exercised, each many times */
    if (compiled < 300 || refused_count < 300)
        fail_msg("compiled %d, refused %d of 3000", compiled, refused_count);
    json_decref(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operators),
        cmocka_unit_test(test_group_conditions),
        cmocka_unit_test(test_all_any_nesting),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_population_match),
        cmocka_unit_test(test_regex_semantics),
        cmocka_unit_test(test_regex_refused),
        cmocka_unit_test(test_regex_limit),
        cmocka_unit_test(test_random_specs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
