/* Helpers shared by the src/scim unit tests (on top of fixtures.h): the enterprise User
 * extension's URN, and comparing a JSON value with the JSON text it should equal. Include
 * it instead of fixtures.h; it brings cmocka in. */
#ifndef TEST_SCIM_UTIL_H
#define TEST_SCIM_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixtures.h"

#define ENT "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

/* Fails the test, printing both sides with sorted keys, unless v equals the JSON text
 * expect (which must parse). */
static inline void assert_json(const json_t *v, const char *expect)
{
    json_t *e = fix_json(expect);
    assert_non_null(e);
    if (!json_equal(v, e)) {
        char *got = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);
        char *want = json_dumps(e, JSON_SORT_KEYS | JSON_COMPACT);
        fail_msg("got  %s\nwant %s", got, want);
    }
    json_decref(e);
}

#endif
