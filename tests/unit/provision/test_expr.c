/* Unit tests for src/provision/expr: parsing, evaluation of every construct, and error
 * messages that point at the 1-based position of the mistake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "provision/expr.h"

#include <stdlib.h>
#include <string.h>

static json_t *sample_user(void)
{
    return json_pack("{s:s, s:{s:s, s:s, s:n}, s:s, s:s, s:s, s:{s:s, s:s}, s:b, s:{s:s, s:s}}",
                     "username", "ada", "name", "given", "Ada", "family", "Lovelace", "formatted",
                     "nickname", "", "title", "  Engineer ", "type", "Employee", "address",
                     "locality", "London", "countryCode", "GB", "enabled", 1, "population", "id",
                     "p1", "name", "Sales");
}

/* Evaluates text against the sample user and returns the result as compact JSON. */
static char *eval_text(const char *text)
{
    struct expr *x = NULL;
    struct sc_error e = {0};
    enum sc_err rc = expr_parse(text, &x, &e);
    if (rc != SC_OK) {
        fail_msg("parse of %s failed: %s", text, e.message);
        return NULL;
    }
    json_t *user = sample_user();
    json_t *v = expr_eval(x, user);
    char *out = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(v);
    json_decref(user);
    expr_free(x);
    return out;
}

#define assert_eval(text, expected)                                                                \
    do {                                                                                           \
        char *got_ = eval_text(text);                                                              \
        assert_string_equal(got_, expected);                                                       \
        free(got_);                                                                                \
    } while (0)

static void assert_error(const char *text, const char *message)
{
    struct expr *x = NULL;
    struct sc_error e = {0};
    enum sc_err rc = expr_parse(text, &x, &e);
    assert_true(rc == SC_ERR_PARSE || rc == SC_ERR_TOO_LARGE);
    assert_null(x);
    if (strcmp(e.message, message) != 0)
        fail_msg("for %s expected \"%s\" got \"%s\"", text, message, e.message);
}

static void test_fields(void **state)
{
    (void)state;
    assert_eval("username", "\"ada\"");
    assert_eval("name.given", "\"Ada\"");
    assert_eval("population.name", "\"Sales\"");
    assert_eval("address.region", "null");
    assert_eval("name.formatted", "null");
    assert_eval("enabled", "true");
    assert_eval("  userName ", "\"ada\""); /* case-insensitive, spaces */
    struct expr *x = NULL;
    struct sc_error e = {0};
    assert_int_equal(expr_parse("name.family", &x, &e), SC_OK);
    assert_string_equal(expr_field(x), "name.family");
    expr_free(x);
    assert_int_equal(expr_parse("lower(username)", &x, &e), SC_OK);
    assert_null(expr_field(x));
    expr_free(x);
    assert_true(expr_field_known("address.postalCode"));
    assert_false(expr_field_known("password"));
}

static void test_literals_and_concat(void **state)
{
    (void)state;
    assert_eval("\"a \\\"b\\\"\"", "\"a \\\"b\\\"\"");
    assert_eval("'it\\'s'", "\"it's\"");
    assert_eval("42", "42");
    assert_eval("-3.5", "-3.5");
    assert_eval("true", "true");
    assert_eval("null", "null");
    assert_eval("name.given + \" \" + name.family", "\"Ada Lovelace\"");
    assert_eval("username + \"@example.com\"", "\"ada@example.com\"");
    assert_eval("name.formatted + \"x\"", "\"x\"");
    assert_eval("\"n\" + 1 + true", "\"n1true\"");
    assert_eval("(username + \"-\") + population.name", "\"ada-Sales\"");
}

static void test_functions(void **state)
{
    (void)state;
    assert_eval("upper(username)", "\"ADA\"");
    assert_eval("LOWER(name.family)", "\"lovelace\"");
    assert_eval("trim(title)", "\"Engineer\"");
    assert_eval("coalesce(name.formatted, nickname, name.given + ' ' + name.family)",
                "\"Ada Lovelace\"");
    assert_eval("coalesce(name.formatted, address.region)", "null");
    assert_eval("replace(population.name, 'a', 'A')", "\"SAles\"");
    assert_eval("replace(username, '', 'x')", "\"ada\"");
    assert_eval("substring(name.family, 0, 4)", "\"Love\"");
    assert_eval("substring(name.family, 4)", "\"lace\"");
    assert_eval("substring(name.family, 40, 2)", "\"\"");
    assert_eval("substring(\"h\xc3\xa9llo\", 1, 2)", "\"\xc3\xa9l\"");
    assert_eval("join(', ', address.locality, address.region, address.countryCode)",
                "\"London, GB\"");
    assert_eval("if(population.name == 'Sales', 'S', 'O')", "\"S\"");
    assert_eval("if(population.name != 'Sales', 'S', 'O')", "\"O\"");
    assert_eval("if(address.region, 'has', 'none')", "\"none\"");
    assert_eval("if(enabled, 1, 0)", "1");
    assert_eval("switch(address.countryCode, 'US', 'United States', 'GB', 'United Kingdom', "
                "'Elsewhere')",
                "\"United Kingdom\"");
    assert_eval("switch(address.countryCode, 'US', 'United States', 'Elsewhere')", "\"Elsewhere\"");
    assert_eval("switch(address.countryCode, 'US', 'United States')", "null");
    assert_eval("address.region == null", "true");
    assert_eval("lower(upper(trim('  x ')))", "\"x\"");
}

static void test_errors(void **state)
{
    (void)state;
    assert_error("lower(username", "at position 15: expected ',' or ')' but found the end");
    assert_error("upper(x)", "at position 7: unknown field 'x': use a directory field such as "
                             "username, name.given, email or population.name, or quote a "
                             "literal text");
    assert_error("", "at position 1: expected a value but found the end");
    assert_error("username +", "at position 11: expected a value but found the end");
    assert_error("\"abc", "at position 1: unterminated string: expected \"");
    assert_error("frob(username)", "at position 1: unknown function 'frob': use lower, upper, "
                                   "trim, coalesce, replace, substring, join, if or switch");
    assert_error("lower(a.b.c, 1)", "at position 7: unknown field 'a.b.c': use a directory "
                                    "field such as username, name.given, email or "
                                    "population.name, or quote a literal text");
    assert_error("lower(username, 1)", "at position 1: lower takes 1 argument, not 2");
    assert_error("username)", "at position 9: unexpected ')': there is no '(' to close");
    assert_error("username username",
                 "at position 10: expected '+', '==', '!=' or the end but found 'u'");
    assert_error("'a\\q'", "at position 3: unknown escape: use \\\" \\' \\\\ \\n \\t or \\r");
    assert_error("\"\xc3\xa9\" + )", "at position 7: expected a value but found ')'");
    assert_error("if(a)", "at position 4: unknown field 'a': use a directory field such as "
                          "username, name.given, email or population.name, or quote a literal "
                          "text");
    assert_error("if(true)", "at position 1: if takes 3 arguments, not 1");
    assert_error("join(',')", "at position 1: join takes at least 2 arguments");
    assert_error("substring('a')", "at position 1: substring takes 2 to 3 arguments");
    /* nesting past the cap */
    char deep[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "(");
    strcat(deep, "1");
    struct expr *x = NULL;
    struct sc_error e = {0};
    assert_int_equal(expr_parse(deep, &x, &e), SC_ERR_TOO_LARGE);
    assert_non_null(strstr(e.message, "nested more than 32 deep"));
    /* length past the cap */
    char *big = malloc(EXPR_MAX_LEN + 2);
    memset(big, 'a', EXPR_MAX_LEN + 1);
    big[EXPR_MAX_LEN + 1] = '\0';
    assert_int_equal(expr_parse(big, &x, &e), SC_ERR_TOO_LARGE);
    free(big);
}

static void test_result_cap(void **state)
{
    (void)state;
    /* replace doubling the text many times stays within EXPR_MAX_RESULT */
    const char *text = "replace(replace(replace(replace(replace(replace(replace(replace("
                       "replace(replace(replace(replace(replace(replace(replace(replace("
                       "replace(replace('xx','x','xx'),'x','xx'),'x','xx'),'x','xx'),'x','xx'),"
                       "'x','xx'),'x','xx'),'x','xx'),'x','xx'),'x','xx'),'x','xx'),'x','xx'),"
                       "'x','xx'),'x','xx'),'x','xx'),'x','xx'),'x','xx'),'x','xx')";
    struct expr *x = NULL;
    struct sc_error e = {0};
    assert_int_equal(expr_parse(text, &x, &e), SC_OK);
    json_t *v = expr_eval(x, NULL);
    assert_true(json_is_string(v));
    assert_true(json_string_length(v) <= EXPR_MAX_RESULT);
    json_decref(v);
    expr_free(x);
}

static void test_escapes_numbers_and_text_of_values(void **state)
{
    (void)state;
    assert_eval("'a\\\\b'", "\"a\\\\b\"");
    assert_eval("'a\\nb\\tc\\rd'", "\"a\\nb\\tc\\rd\"");
    assert_eval("\"\\'\"", "\"'\"");
    assert_eval("1.25 + ''", "\"1.25\"");
    assert_eval("false + '/' + null + '/' + true", "\"false//true\"");
    assert_eval("-7 + ''", "\"-7\"");
    /* integers past the integer range become reals */
    assert_eval("99999999999999999999", "1e20");
    /* equality compares text; null equals only null */
    assert_eval("1 == '1'", "true");
    assert_eval("null == ''", "false");
    assert_eval("null != null", "false");
    assert_eval("'a' != 'b'", "true");
}

static void test_truthiness_and_arguments_as_numbers(void **state)
{
    (void)state;
    assert_eval("if(0, 'y', 'n')", "\"n\"");
    assert_eval("if(0.0, 'y', 'n')", "\"n\"");
    assert_eval("if(0.5, 'y', 'n')", "\"y\"");
    assert_eval("if(false, 'y', 'n')", "\"n\"");
    assert_eval("if('', 'y', 'n')", "\"n\"");
    assert_eval("if('x', 'y', 'n')", "\"y\"");
    assert_eval("if(null, 'y', 'n')", "\"n\"");
    /* substring's numbers may be reals or text, and are clamped */
    assert_eval("substring('abcdef', 1.9, '2')", "\"bc\"");
    assert_eval("substring('abcdef', -3, -1)", "\"\"");
    assert_eval("substring('abcdef', 'x')", "\"abcdef\"");
    assert_eval("substring('abcdef', 99999999999999999999, 2)", "\"\"");
    assert_eval("substring('abcdef', 2, 99999999999999999999)", "\"cdef\"");
    assert_eval("substring(address.region, 1)", "null");
    /* functions of a number take its text */
    assert_eval("upper(12)", "\"12\"");
    assert_eval("trim(3)", "\"3\"");
    assert_eval("lower(true)", "\"true\"");
    assert_eval("upper(address.region)", "null");
    assert_eval("trim('')", "\"\"");
    assert_eval("replace(12321, 2, 'x')", "\"1x3x1\"");
    assert_eval("replace(address.region, 'a', 'b')", "null");
    assert_eval("join(1, 'a', 'b', null, '')", "\"a1b\"");
    assert_eval("switch(1, '1', 'one', 'other')", "\"one\"");
    assert_eval("trim(' \\t\\n x \\r\\n')", "\"x\"");
}

static void test_more_errors(void **state)
{
    (void)state;
    assert_error("'abc", "at position 1: unterminated string: expected '");
    assert_error("'\\", "at position 2: unknown escape: use \\\" \\' \\\\ \\n \\t or \\r");
    assert_error("1.", "at position 3: expected a digit after '.'");
    assert_error("12345678901234567890123456789012345678901234567890123456789012345678901",
                 "at position 1: the number is too long");
    assert_error("lower(username,", "at position 16: expected a value but found the end");
    assert_error("(1", "at position 3: expected ')' but found the end");
    assert_error("username == ", "at position 13: expected a value but found the end");
    assert_error("\x01", "at position 1: expected a value but found a character that has no "
                         "meaning here");
    struct expr *x = NULL;
    struct sc_error e = {0};
    assert_int_equal(expr_parse("'\xff'", &x, &e), SC_ERR_PARSE);
    assert_non_null(strstr(e.message, "not valid UTF-8"));
    /* more parts than the cap */
    char *many = malloc(EXPR_MAX_LEN + 1);
    size_t n = 0;
    many[n++] = '1';
    while (n + 2 < EXPR_MAX_LEN) {
        many[n++] = '+';
        many[n++] = '1';
    }
    many[n] = '\0';
    memset(&e, 0, sizeof e);
    assert_int_equal(expr_parse(many, &x, &e), SC_ERR_TOO_LARGE);
    assert_non_null(strstr(e.message, "more than 512 parts"));
    free(many);
    /* calls nested past the cap */
    char deep[400] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "lower(");
    strcat(deep, "'x'");
    for (int i = 0; i < 40; i++)
        strcat(deep, ")");
    memset(&e, 0, sizeof e);
    assert_int_equal(expr_parse(deep, &x, &e), SC_ERR_TOO_LARGE);
    assert_non_null(strstr(e.message, "nested more than 32 deep"));
    /* a NULL text is the empty expression */
    memset(&e, 0, sizeof e);
    assert_int_equal(expr_parse(NULL, &x, &e), SC_ERR_PARSE);
    expr_free(NULL);
}

static void test_field_and_function_tables(void **state)
{
    (void)state;
    struct expr *x = NULL;
    struct sc_error e = {0};
    assert_int_equal(expr_parse("  name.given ", &x, &e), SC_OK);
    assert_string_equal(expr_field(x), "name.given");
    expr_free(x);
    assert_int_equal(expr_parse("upper(name.given)", &x, &e), SC_OK);
    assert_null(expr_field(x));
    expr_free(x);
    assert_true(expr_field_known("population.name"));
    assert_false(expr_field_known("shoeSize"));
    size_t n = expr_function_count();
    assert_int_equal(n, 9);
    const char *usage = NULL;
    size_t lo = 0, hi = 0;
    int saw_substring = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = expr_function_at(i, &usage, &lo, &hi);
        assert_non_null(name);
        assert_non_null(strstr(usage, name));
        if (strcmp(name, "substring") == 0) {
            saw_substring = 1;
            assert_int_equal(lo, 2);
            assert_int_equal(hi, 3);
        }
    }
    assert_true(saw_substring);
    assert_null(expr_function_at(n, NULL, NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_literals_and_concat),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_result_cap),
        cmocka_unit_test(test_escapes_numbers_and_text_of_values),
        cmocka_unit_test(test_truthiness_and_arguments_as_numbers),
        cmocka_unit_test(test_more_errors),
        cmocka_unit_test(test_field_and_function_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
