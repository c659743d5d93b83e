/* Unit tests for src/base/log.c's JSON lines: pairs as typed members, quoted values as
 * strings, text that is not a pair kept in "text", escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Runs one sc_log call with stderr sent to a file; returns the line after the time. */
static char *logged(const char *event, const char *rest)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *f = tmpfile();
    assert_non_null(f);
    dup2(fileno(f), 2);
    sc_log(SC_LOG_WARN, event, rest ? "%s" : NULL, rest);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    static char line[4096];
    rewind(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    char *after = strstr(line, "\",\"level\"");
    assert_non_null(after);
    assert_memory_equal(line, "{\"time\":\"20", 11);
    return after + 2;
}

static void test_json(void **state)
{
    (void)state;
    sc_log_set_format(SC_LOG_FORMAT_JSON);
    assert_string_equal(
        logged("a.b", "n=42 neg=-3 f=0.5 ok=true s=abc id=0123 big=12345678901234567890"),
        "\"level\":\"warn\",\"event\":\"a.b\",\"n\":42,\"neg\":-3,\"f\":0.5,"
        "\"ok\":true,\"s\":\"abc\",\"id\":\"0123\","
        "\"big\":\"12345678901234567890\"}");
    assert_string_equal(logged("q", "msg=\"a \\\"b\\\" c\\nd\" n=\"7\""),
                        "\"level\":\"warn\",\"event\":\"q\",\"msg\":\"a \\\"b\\\" c\\nd\","
                        "\"n\":\"7\"}");
    assert_string_equal(logged("t", "node=x (its work is released)"),
                        "\"level\":\"warn\",\"event\":\"t\",\"node\":\"x\","
                        "\"text\":\"(its work is released)\"}");
    assert_string_equal(logged("u", "bad=\"unclosed"),
                        "\"level\":\"warn\",\"event\":\"u\",\"text\":\"bad=\\\"unclosed\"}");
    assert_string_equal(logged("v", "tab=a\tb"),
                        "\"level\":\"warn\",\"event\":\"v\",\"tab\":\"a\\u0009b\"}");
    assert_string_equal(logged("e", NULL), "\"level\":\"warn\",\"event\":\"e\"}");
    sc_log_set_format(SC_LOG_FORMAT_TEXT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
