/* Unit tests for src/base/conf.c: the `key = value` configuration file parser, its
 * accepted forms and every error (each naming the file and the line). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct sc_conf *parse_ok(const char *text)
{
    struct sc_conf *c = NULL;
    struct sc_error e = {0};
    assert_int_equal(sc_conf_parse(text, strlen(text), "t.conf", &c, &e), SC_OK);
    assert_non_null(c);
    return c;
}

static void parse_fails(const char *text, size_t len, enum sc_err code, const char *msg)
{
    struct sc_conf *c = NULL;
    struct sc_error e = {0};
    assert_int_equal(sc_conf_parse(text, len, "t.conf", &c, &e), code);
    assert_null(c);
    if (!strstr(e.message, msg))
        fail_msg("message '%s' lacks '%s'", e.message, msg);
}

static void test_forms(void **state)
{
    (void)state;
    struct sc_conf *c = parse_ok("# comment\n"
                                 "\n"
                                 "   \t\n"
                                 "listen = 127.0.0.1:8080\n"
                                 "  # indented comment\n"
                                 "threads=8\r\n"
                                 "\tkey_file   =   /etc/scimitar/key  \n"
                                 "db = \"sqlite:/var/lib/my dir/x.db\"\n"
                                 "q = \"a \\\"b\\\" \\\\ c\"  \n"
                                 "hash = a#b\n"
                                 "last = no newline");
    assert_string_equal(c->path, "t.conf");
    assert_int_equal(c->count, 7);
    assert_string_equal(c->entries[0].key, "listen");
    assert_string_equal(c->entries[0].value, "127.0.0.1:8080");
    assert_int_equal(c->entries[0].line, 4);
    assert_string_equal(c->entries[1].value, "8");
    assert_int_equal(c->entries[1].line, 6);
    assert_string_equal(c->entries[2].value, "/etc/scimitar/key");
    assert_string_equal(c->entries[3].value, "sqlite:/var/lib/my dir/x.db");
    assert_string_equal(c->entries[4].value, "a \"b\" \\ c");
    assert_string_equal(c->entries[5].value, "a#b");
    assert_string_equal(sc_conf_find(c, "last")->value, "no newline");
    assert_int_equal(sc_conf_find(c, "last")->line, 11);
    assert_null(sc_conf_find(c, "missing"));
    sc_conf_free(c);
    c = parse_ok("");
    assert_int_equal(c->count, 0);
    sc_conf_free(c);
    sc_conf_free(NULL);
}

static void test_errors(void **state)
{
    (void)state;
#define FAILS(text, code, msg) parse_fails(text, strlen(text), code, msg)
    FAILS("listen\n", SC_ERR_PARSE, "t.conf:1: expected `key = value`");
    FAILS("# ok\nlisten 127.0.0.1\n", SC_ERR_PARSE, "t.conf:2: expected `key = value`");
    FAILS("= value\n", SC_ERR_PARSE, "t.conf:1: expected");
    FAILS("Listen = x\n", SC_ERR_PARSE, "t.conf:1: expected");
    FAILS("key-file = x\n", SC_ERR_PARSE, "t.conf:1: expected");
    FAILS("\n\nlisten =\n", SC_ERR_PARSE, "t.conf:3: listen: the value is empty");
    FAILS("listen = \"\"\n", SC_ERR_PARSE, "t.conf:1: listen: the value is empty");
    FAILS("db = \"sqlite:x\n", SC_ERR_PARSE, "t.conf:1: db: the quoted value has no closing");
    FAILS("db = \"a\" # c\n", SC_ERR_PARSE, "t.conf:1: db: text after the closing quote");
    FAILS("db = a\x01"
          "b\n",
          SC_ERR_PARSE, "t.conf:1: a control character");
    parse_fails("db = a\0b\n", 9, SC_ERR_PARSE, "t.conf:1: a control character or NUL");
    FAILS("threads = 2\nlisten = x\nthreads = 3\n", SC_ERR_PARSE,
          "t.conf:3: threads is given twice (first on line 1)");
    char key[SC_CONF_MAX_KEY + 8];
    memset(key, 'k', sizeof key - 5);
    memcpy(key + sizeof key - 5, " = 1", 5);
    FAILS(key, SC_ERR_PARSE, "t.conf:1: the key is longer than 64");
    char *big = malloc(SC_CONF_MAX_LINE + 20);
    assert_non_null(big);
    memcpy(big, "a = ", 4);
    memset(big + 4, 'x', SC_CONF_MAX_LINE);
    big[SC_CONF_MAX_LINE + 4] = '\0';
    FAILS(big, SC_ERR_TOO_LARGE, "t.conf:1: longer than 4096 bytes");
    free(big);
    parse_fails("", SC_CONF_MAX_BYTES + 1, SC_ERR_TOO_LARGE, "t.conf: larger than");
#undef FAILS
}

static void test_load(void **state)
{
    (void)state;
    char path[] = "/tmp/scimitar-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "listen = 127.0.0.1:1\nbogus line\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct sc_conf *c = NULL;
    struct sc_error e = {0};
    assert_int_equal(sc_conf_load(path, &c, &e), SC_ERR_PARSE);
    char want[64];
    snprintf(want, sizeof want, "%s:2: expected", path);
    assert_non_null(strstr(e.message, want));
    unlink(path);
    assert_int_equal(sc_conf_load(path, &c, &e), SC_ERR_IO);
    assert_non_null(strstr(e.message, "cannot read"));
    assert_non_null(strstr(e.message, "No such file"));
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
