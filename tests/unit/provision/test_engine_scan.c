/* Unit tests for engine__scan_top_id (provision/engine_job.c): the quick scan that takes a
 * create's account id from the answer's text without parsing it. It must find the
 * top-level "id" through whitespace, nesting and escaped strings elsewhere, and hand
 * every case it cannot read with certainty (escapes in the id or a top-level key, a
 * control character, invalid UTF-8, an id too long, a non-string id, unbalanced or
 * trailing text, not an object) back to the full parser by returning 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "provision/engine_internal.h"

#include <string.h>

/* Scans text (whole string) with a cap of cap bytes; returns the result, id in out. */
static int scan(const char *text, char *out, size_t cap)
{
    memset(out, '#', cap);
    return engine__scan_top_id(text, strlen(text), out, cap);
}

static void test_finds_the_top_level_id(void **state)
{
    (void)state;
    char id[64];
    assert_int_equal(scan("{\"id\":\"u1\"}", id, sizeof id), 1);
    assert_string_equal(id, "u1");
    /* whitespace of every kind around keys, colons, values and the object */
    assert_int_equal(scan(" \t\r\n{ \"id\" \t:\n \"u2\" \r\n} \n", id, sizeof id), 1);
    assert_string_equal(id, "u2");
    /* after other members, nested objects and arrays that hold ids of their own */
    assert_int_equal(scan("{\"schemas\":[\"urn:x\",{\"id\":\"no\"}],\"meta\":{\"id\":\"nested\","
                          "\"x\":[1,2,{\"a\":\"id\"}]},\"userName\":\"id\",\"id\":\"u3\","
                          "\"groups\":[]}",
                          id, sizeof id),
                     1);
    assert_string_equal(id, "u3");
    /* escaped strings elsewhere are skipped whole (a quote and a backslash inside) */
    assert_int_equal(scan("{\"name\":\"a\\\"b\",\"path\":\"c:\\\\\",\"id\":\"u4\"}", id, sizeof id),
                     1);
    assert_string_equal(id, "u4");
    /* the id as a value, not a key, is not taken */
    assert_int_equal(scan("{\"x\":\"id\",\"id\":\"u5\"}", id, sizeof id), 1);
    assert_string_equal(id, "u5");
    /* repeated: the last one, as the parser keeps */
    assert_int_equal(scan("{\"id\":\"first\",\"id\":\"last\"}", id, sizeof id), 1);
    assert_string_equal(id, "last");
    /* UTF-8 in the id is kept as it is */
    assert_int_equal(scan("{\"id\":\"\xc3\xa9t\xc3\xa9\"}", id, sizeof id), 1);
    assert_string_equal(id, "\xc3\xa9t\xc3\xa9");
    /* an empty id is still a string */
    assert_int_equal(scan("{\"id\":\"\"}", id, sizeof id), 1);
    assert_string_equal(id, "");
}

static void test_the_cap(void **state)
{
    (void)state;
    char id[8];
    assert_int_equal(scan("{\"id\":\"1234567\"}", id, sizeof id), 1); /* 7 bytes + NUL */
    assert_string_equal(id, "1234567");
    assert_int_equal(scan("{\"id\":\"12345678\"}", id, sizeof id), 0); /* no room for NUL */
}

static void test_falls_back_to_the_parser(void **state)
{
    (void)state;
    char id[64];
    static const char *const cases[] = {
        "",                               /* nothing */
        "   ",                            /* only whitespace */
        "[\"id\",\"x\"]",                 /* not an object */
        "\"id\"",                         /* a string */
        "{\"id\":\"a\\\"b\"}",            /* an escape in the id */
        "{\"id\":\"a\\u0062\"}",          /* a unicode escape in the id */
        "{\"i\\u0064\":\"x\"}",           /* an escaped top-level key */
        "{\"id\":\"a\nb\"}",              /* a control character in the id */
        "{\"id\":\"\xff\xfe\"}",          /* invalid UTF-8 in the id */
        "{\"id\":42}",                    /* not a string */
        "{\"id\":null}",                  /* not a string */
        "{\"id\" \"x\"}",                 /* no colon */
        "{\"id\":",                       /* cut after the colon */
        "{\"id\":\"abc",                  /* cut inside the id */
        "{\"id\":\"abc\"",                /* not closed */
        "{\"na",                          /* cut inside a key */
        "{\"id\":\"abc\"}}",              /* closed twice */
        "{\"id\":\"abc\"} x",             /* text after the object */
        "{\"id\":\"abc\"}{\"id\":\"d\"}", /* two objects */
        "{\"a\":[1,2}],\"id\":\"abc\"}",  /* closes below the top */
        "{\"meta\":{\"id\":\"nested\"}}", /* no top-level id (balanced: not found) */
        "{}",                             /* empty object */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (scan(cases[i], id, sizeof id) != 0)
            fail_msg("case %zu (%s) was read as id \"%s\"", i, cases[i], id);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_the_top_level_id),
        cmocka_unit_test(test_the_cap),
        cmocka_unit_test(test_falls_back_to_the_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
