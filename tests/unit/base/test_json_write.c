/* Unit tests for sc_json_write: the text is byte for byte jansson's compact dump (sorted
 * and in insertion order) for hand-picked and random trees, so digests and stored texts
 * written before it stay equal; invalid UTF-8 and cycles are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Both ways, against jansson. */
static void same_as_jansson(const json_t *v)
{
    for (int sorted = 0; sorted < 2; sorted++) {
        size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | (sorted ? JSON_SORT_KEYS : 0);
        char *want = json_dumps(v, flags);
        assert_non_null(want);
        char *got = sorted ? sc_json_dump_canonical(v) : sc_json_dump(v);
        assert_non_null(got);
        assert_string_equal(got, want);
        if (sorted)
            assert_true(sc_json_digest(v) == XXH3_64bits(want, strlen(want)));
        free(got);
        free(want);
    }
}

static void test_fixed(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}",
        "[]",
        "null",
        "true",
        "\"\"",
        "-9223372036854775807",
        "1.5",
        "[1e300, -0.0, 3.141592653589793, 100.0]",
        "{\"b\":1,\"a\":[true,false,null],\"A\":{\"z\":\"x\",\"\":0}}",
        "{\"userName\":\"ada@example.com\",\"name\":{\"givenName\":\"Ada\",\"familyName\":"
        "\"Lovelace\"},\"emails\":[{\"value\":\"ada@example.com\",\"type\":\"work\","
        "\"primary\":true}],\"active\":true,\"schemas\":[\"urn:ietf:params:scim:schemas:"
        "core:2.0:User\"]}",
        "\"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r bs \\b ff \\f\"",
        "\"\\u0001\\u001f\\u007f\"",
        "\"caf\\u00e9 \\u00fc \\u65e5\\u672c \\ud83d\\ude00\"",
        "\"nul \\u0000 inside\"",
        "{\"ab\":1,\"a\":2,\"abc\":3,\"b\":4,\"\\u00e9\":5,\"Z\":6}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_error_t je;
        json_t *v = json_loads(docs[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        assert_non_null(v);
        same_as_jansson(v);
        json_decref(v);
    }
    /* more than 32 keys: the sort's heap path */
    json_t *big = json_object();
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", (i * 37) % 100);
        json_object_set_new(big, k, json_integer(i));
    }
    same_as_jansson(big);
    json_decref(big);
}

static unsigned rnd_state = 12345;

static unsigned rnd(unsigned n)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 8) % n;
}

static json_t *random_string(void)
{
    static const char *const pieces[] = {"a",
                                         "Z",
                                         "\"",
                                         "\\",
                                         "/",
                                         "\n",
                                         "\x01",
                                         "\x1f",
                                         "\x7f",
                                         "\xc3\xa9",
                                         "\xe6\x97\xa5",
                                         "\xf0\x9f\x98\x80",
                                         " ",
                                         "\t",
                                         "0"};
    char s[64];
    size_t n = 0;
    unsigned parts = rnd(8);
    for (unsigned i = 0; i < parts; i++) {
        const char *p = pieces[rnd(sizeof pieces / sizeof pieces[0])];
        size_t l = strlen(p);
        memcpy(s + n, p, l);
        n += l;
    }
    return json_stringn(s, n);
}

static json_t *random_value(int depth)
{
    unsigned kind = rnd(depth > 3 ? 6 : 8);
    switch (kind) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(rnd(2));
    case 2:
        return json_integer((json_int_t)rnd(2000000) - 1000000);
    case 3:
        return json_real((double)rnd(1000) / 7.0);
    case 4:
    case 5:
        return random_string();
    case 6: {
        json_t *a = json_array();
        unsigned n = rnd(5);
        for (unsigned i = 0; i < n; i++)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        unsigned n = rnd(40);
        for (unsigned i = 0; i < n; i++) {
            json_t *k = random_string();
            json_object_set_new(o, json_string_value(k), random_value(depth + 1));
            json_decref(k);
        }
        return o;
    }
    }
}

static void test_random(void **state)
{
    (void)state;
    for (int i = 0; i < 2000; i++) {
        json_t *v = random_value(0);
        assert_non_null(v);
        same_as_jansson(v);
        json_decref(v);
    }
}

static void test_refused(void **state)
{
    (void)state;
    /* a string jansson was told not to check */
    json_t *bad = json_stringn_nocheck("a\xff", 2);
    assert_null(sc_json_dump(bad));
    assert_null(json_dumps(bad, JSON_ENCODE_ANY));
    json_decref(bad);
    /* a cycle: refused, not a crash */
    json_t *a = json_array(), *b = json_array();
    json_array_append(a, b);
    json_array_append(b, a);
    assert_null(sc_json_dump(a));
    assert_null(sc_json_dump_canonical(a));
    assert_true(sc_json_digest(a) == 0);
    json_array_clear(b);
    json_decref(a);
    json_decref(b);
    assert_null(sc_json_dump(NULL));
    assert_true(sc_json_digest(NULL) == 0);
    /* appends to what out holds; a cap is honoured */
    struct sc_buf buf;
    sc_buf_init(&buf, 6);
    assert_int_equal(sc_buf_puts(&buf, "x="), SC_OK);
    json_t *t = json_true();
    assert_int_equal(sc_json_write(&buf, t, 0), SC_OK);
    assert_string_equal(buf.data, "x=true");
    assert_int_equal(sc_json_write(&buf, t, 0), SC_ERR_TOO_LARGE);
    sc_buf_free(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
