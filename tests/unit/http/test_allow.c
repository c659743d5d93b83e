/* Unit tests for the outbound allow-list: parsing (errors name the entry), host names
 * and *.suffixes on the URL's host, IPv4/IPv6 addresses and CIDR blocks on the address
 * connected to (IPv4-mapped IPv6 too), the save-time URL check, and no list at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/allow.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static void set(const char *list)
{
    struct sc_error e = {0};
    if (http_allow_targets_set(list, &e) != SC_OK)
        fail_msg("%s: %s", list, e.message);
}

static int url_ok(const char *url)
{
    char why[200] = "";
    int rc = http_allow_check_url(url, why, sizeof why);
    if (rc)
        assert_non_null(strstr(why, "is not allowed by --allow-targets"));
    return rc == 0;
}

static int addr_ok(const char *host, const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
    }
    char why[200] = "";
    int rc = http_allow_check_addr(host, (struct sockaddr *)&ss, why, sizeof why);
    if (rc) {
        char want[200];
        snprintf(want, sizeof want, "destination %s is not allowed by --allow-targets", ip);
        assert_string_equal(why, want);
    }
    return rc == 0;
}

static void test_no_list(void **state)
{
    (void)state;
    set(NULL);
    assert_false(http_allow_active());
    assert_true(url_ok("http://127.0.0.1:1/x"));
    assert_true(addr_ok("anything", "10.1.2.3"));
}

static void test_parse_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {"10.0.0.0/33", "fd00::/129", "a b",  "*.",       "*x.com",
                                      "host/8",      ",",          "x,,y", "10.0.0.0/"};
    set("127.0.0.1");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sc_error e = {0};
        if (http_allow_targets_set(bad[i], &e) != SC_ERR_INVALID)
            fail_msg("'%s' was accepted", bad[i]);
        assert_string_equal(e.field, "allow-targets");
    }
    assert_true(http_allow_active()); /* the previous list stays */
    assert_true(url_ok("http://127.0.0.1/"));
    assert_false(url_ok("http://127.0.0.2/"));
}

static void test_names_and_suffixes(void **state)
{
    (void)state;
    set(" scim.Example.com , *.corp.example ");
    assert_true(url_ok("https://SCIM.example.com/scim/v2"));
    assert_true(url_ok("https://scim.example.com./scim/v2"));
    assert_true(url_ok("https://a.corp.example/t"));
    assert_true(url_ok("https://a.b.corp.example:8443/t"));
    assert_false(url_ok("https://corp.example/t")); /* the suffix itself is not below it */
    assert_false(url_ok("https://evilcorp.example/t"));
    assert_false(url_ok("https://example.com/"));
    assert_false(url_ok("http://10.1.2.3/"));
    assert_false(url_ok("not a url"));
    /* only names: a name not listed is refused at save time */
    assert_false(url_ok("https://other.example.org/"));
    /* at connect time the name decides, whatever it resolved to */
    assert_true(addr_ok("a.corp.example", "10.1.2.3"));
    assert_false(addr_ok("other.example.org", "10.1.2.3"));
}

static void test_addresses_and_blocks(void **state)
{
    (void)state;
    set("192.0.2.0/24,10.1.2.3,2001:db8::/32,[::1]");
    assert_true(url_ok("http://192.0.2.77/"));
    assert_true(url_ok("http://10.1.2.3:8080/"));
    assert_false(url_ok("http://10.1.2.4/"));
    assert_true(url_ok("http://[2001:db8:1::5]/"));
    assert_true(url_ok("http://[::1]:8081/"));
    assert_false(url_ok("http://127.0.0.1/"));
    assert_false(url_ok("http://[fe80::1]/"));
    /* a name: its addresses are checked when connecting */
    assert_true(url_ok("https://scim.example.com/"));
    assert_true(addr_ok("scim.example.com", "192.0.2.9"));
    assert_false(addr_ok("scim.example.com", "127.0.0.1"));
    assert_false(addr_ok("localhost", "127.0.0.1"));
    assert_true(addr_ok(NULL, "::ffff:192.0.2.1")); /* IPv4-mapped */
    assert_false(addr_ok(NULL, "::ffff:127.0.0.1"));
    assert_true(addr_ok(NULL, "2001:db8:ffff::1"));
    assert_false(addr_ok(NULL, "2001:db9::1"));
    set("0.0.0.0/0");
    assert_true(addr_ok(NULL, "203.0.113.5"));
    assert_false(addr_ok(NULL, "::1"));
    set(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_list),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_names_and_suffixes),
        cmocka_unit_test(test_addresses_and_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
