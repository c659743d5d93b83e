/* Unit tests for src/base: buffers, strings, UTF-8, ids, clock, JSON helpers, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/id.h"
#include "base/json.h"
#include "base/log.h"

#include <stdlib.h>
#include <string.h>

static void test_buf_cap(void **state)
{
    (void)state;
    struct sc_buf b;
    sc_buf_init(&b, 8);
    assert_int_equal(sc_buf_puts(&b, "12345678"), SC_OK);
    assert_string_equal(b.data, "12345678");
    assert_int_equal(sc_buf_puts(&b, "9"), SC_ERR_TOO_LARGE);
    assert_int_equal(b.len, 8);
    sc_buf_reset(&b);
    assert_int_equal(sc_buf_printf(&b, "%d-%s", 42, "x"), SC_OK);
    assert_string_equal(b.data, "42-x");
    char *s = sc_buf_steal(&b);
    assert_string_equal(s, "42-x");
    assert_null(b.data);
    free(s);
    sc_buf_free(&b);
}

static void test_strings(void **state)
{
    (void)state;
    char small[4];
    assert_int_equal(sc_strlcpy(small, "abcdef", sizeof small), 6);
    assert_string_equal(small, "abc");
    int64_t v;
    assert_int_equal(sc_parse_int64("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(sc_parse_int64("42x", 0, 100, &v), -1);
    assert_int_equal(sc_parse_int64("101", 0, 100, &v), -1);
    assert_int_equal(sc_parse_int64("", 0, 100, &v), -1);
    assert_true(sc_strcaseeq("UserName", "username"));
    assert_false(sc_strcaseeq("user", "username"));
    assert_true(sc_utf8_valid("h\xc3\xa9llo", 6));
    assert_false(sc_utf8_valid("\xc3\x28", 2));
    assert_false(sc_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(sc_str_has_control("a name"));
    assert_true(sc_str_has_control("a\tname"));
    assert_true(sc_str_has_control("del\x7f"));
    assert_true(sc_name_valid("ci", 64));
    assert_true(sc_name_valid("caf\xc3\xa9 tokens", 64));
    assert_false(sc_name_valid("", 64));
    assert_false(sc_name_valid(" ci", 64));
    assert_false(sc_name_valid("ci ", 64));
    assert_false(sc_name_valid("c\ni", 64));
    assert_false(sc_name_valid("\xc3\x28", 64));
    assert_true(sc_name_valid("abcd", 4));
    assert_false(sc_name_valid("abcde", 4));
    char q[64];
    assert_string_equal(sc_log_quote("plain", q, sizeof q), "plain");
    assert_string_equal(sc_log_quote("a b\"c", q, sizeof q), "\"a b\\\"c\"");
}

static void test_ids(void **state)
{
    (void)state;
    char a[SC_UUID_LEN + 1], b[SC_UUID_LEN + 1];
    sc_uuid_v4(a);
    sc_uuid_v4(b);
    assert_true(sc_uuid_valid(a));
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '4');
    assert_false(sc_uuid_valid("not-a-uuid"));
    /* v7: valid, version 7, variant 10xx, each later than the last (as strings) */
    char prev[SC_UUID_LEN + 1] = "";
    for (int i = 0; i < 10000; i++) {
        sc_uuid_v7(a);
        assert_true(sc_uuid_valid(a));
        assert_int_equal(a[14], '7');
        assert_non_null(strchr("89ab", a[19]));
        assert_true(strcmp(prev, a) < 0);
        memcpy(prev, a, sizeof prev);
    }
    char tok[64];
    assert_int_equal(sc_random_token(32, tok, sizeof tok), 0);
    assert_int_equal(strlen(tok), 43);
    assert_true(sc_secret_equal("s3cret", "s3cret"));
    assert_false(sc_secret_equal("s3cret", "s3cres"));
    assert_false(sc_secret_equal("s3cret", NULL));
    char hex[65];
    sc_sha256_hex("abc", hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_clock(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(sc_clock_parse_iso8601("2026-11-29T10:00:00.123Z", &ms), 0);
    char out[40];
    assert_string_equal(sc_clock_format_iso8601(ms, out, sizeof out), "2026-11-29T10:00:00.123Z");
    assert_int_equal(sc_clock_parse_iso8601("2026-11-29T12:00:00+02:00", &ms), 0);
    assert_string_equal(sc_clock_format_iso8601(ms, out, sizeof out), "2026-11-29T10:00:00.000Z");
    assert_int_equal(sc_clock_parse_iso8601("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(sc_clock_parse_iso8601("2026-13-01T00:00:00Z", &ms), -1);
    assert_int_equal(sc_clock_parse_iso8601("2026-11-29", &ms), -1);
}

static void test_json(void **state)
{
    (void)state;
    json_t *v = NULL;
    struct sc_error e = {0};
    const char *doc = "{\"name\":{\"given\":\"Ada\"},\"n\":1}";
    assert_int_equal(sc_json_parse(doc, strlen(doc), 0, &v, &e), SC_OK);
    assert_string_equal(sc_json_get_string(v, "name.given"), "Ada");
    assert_null(sc_json_get_path(v, "name.family"));
    assert_int_equal(sc_json_set_path(v, "address.locality", json_string("Paris")), 0);
    assert_string_equal(sc_json_get_string(v, "address.locality"), "Paris");
    char *canon = sc_json_dump_canonical(v);
    assert_string_equal(
        canon, "{\"address\":{\"locality\":\"Paris\"},\"n\":1,\"name\":{\"given\":\"Ada\"}}");
    free(canon);
    assert_int_not_equal(sc_json_digest(v), 0);
    json_decref(v);

    json_t *t = sc_json_time(4102444800000);
    assert_string_equal(json_string_value(t), "2100-01-01T00:00:00.000Z");
    json_decref(t);
    assert_true(json_is_null(sc_json_time(0)));
    assert_true(json_is_null(sc_json_time(-1)));

    assert_int_equal(sc_json_parse("{\"a\":", 5, 0, &v, &e), SC_ERR_PARSE);
    assert_non_null(strstr(e.message, "malformed JSON"));
    assert_int_equal(sc_json_parse("{\"a\":1,\"a\":2}", 13, 0, &v, &e), SC_ERR_PARSE);
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_int_equal(sc_json_parse(deep, 200, 32, &v, &e), SC_ERR_TOO_LARGE);
}

static void test_errors(void **state)
{
    (void)state;
    struct sc_error e = {0};
    assert_int_equal(sc_error_set(&e, SC_ERR_INVALID, "email", "bad %s", "x"), SC_ERR_INVALID);
    assert_string_equal(e.field, "email");
    assert_string_equal(e.message, "bad x");
    assert_int_equal(sc_err_http_status(SC_ERR_CONFLICT), 409);
    assert_string_equal(sc_err_name(SC_ERR_NOT_FOUND), "NOT_FOUND");
    assert_string_equal(sc_strerror((enum sc_err)999), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_cap), cmocka_unit_test(test_strings),
        cmocka_unit_test(test_ids),     cmocka_unit_test(test_clock),
        cmocka_unit_test(test_json),    cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
