/* Unit tests for engine__conn_bulk (provision/engine_conn.c): when a connection's writes
 * travel in SCIM Bulk requests, and how many per request. Only where the target offers
 * Bulk (its capabilities), the connection allows it (useBulk) and speaks SCIM 2.0, and
 * no refusal was learnt; at most the target's maxOperations (and the engine's own cap),
 * never a Bulk request of one; the payload limit the target says, else 1 MiB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "provision/connection.h"
#include "provision/engine_internal.h"
#include "scim/dialect.h"
#include "scim/message.h"

#include <string.h>

/* Applies caps (JSON text) to a fresh connection state; returns its bulk_ops. */
static int ops_for(const char *caps_text, int use_bulk, int dialect, size_t *bytes)
{
    struct conn_state cs;
    memset(&cs, 0, sizeof cs);
    cs.bulk_ops = 77; /* overwritten whatever the outcome */
    struct connection c;
    memset(&c, 0, sizeof c);
    c.use_bulk = use_bulk;
    json_t *caps = json_loads(caps_text, 0, NULL);
    assert_non_null(caps);
    engine__conn_bulk(&cs, &c, dialect, caps);
    json_decref(caps);
    if (bytes)
        *bytes = cs.bulk_bytes;
    return cs.bulk_ops;
}

static void test_when_bulk_is_used(void **state)
{
    (void)state;
    size_t bytes = 0;
    const char *offered =
        "{\"bulk\":{\"supported\":true,\"maxOperations\":50,\"maxPayloadSize\":65536},"
        "\"learnt\":{}}";
    assert_int_equal(ops_for(offered, 1, SCIM_DIALECT_20, &bytes), 50);
    assert_int_equal(bytes, 65536);
    /* the connection says no, SCIM 1.1, a refusal learnt: no Bulk */
    assert_int_equal(ops_for(offered, 0, SCIM_DIALECT_20, &bytes), 0);
    assert_int_equal(bytes, 0);
    assert_int_equal(ops_for(offered, 1, SCIM_DIALECT_11, NULL), 0);
    assert_int_equal(
        ops_for("{\"bulk\":{\"supported\":true,\"maxOperations\":50,\"maxPayloadSize\":65536},"
                "\"learnt\":{\"bulk\":{\"supported\":false,\"status\":501,\"reason\":\"x\"}}}",
                1, SCIM_DIALECT_20, NULL),
        0);
    /* not offered, unknown (never tested), not said */
    assert_int_equal(
        ops_for("{\"bulk\":{\"supported\":false,\"maxOperations\":50}}", 1, SCIM_DIALECT_20, NULL),
        0);
    assert_int_equal(ops_for("{\"bulk\":null,\"learnt\":{}}", 1, SCIM_DIALECT_20, NULL), 0);
    assert_int_equal(ops_for("{}", 1, SCIM_DIALECT_20, NULL), 0);
}

static void test_how_many_per_request(void **state)
{
    (void)state;
    size_t bytes = 0;
    /* the engine's cap over a larger maxOperations */
    assert_int_equal(ops_for("{\"bulk\":{\"supported\":true,\"maxOperations\":100000,"
                             "\"maxPayloadSize\":null}}",
                             1, SCIM_DIALECT_20, &bytes),
                     ENGINE_BULK_OPS);
    assert_int_equal(bytes, SCIM_BULK_MAX_PAYLOAD);
    /* maxOperations not said: a modest default */
    assert_int_equal(ops_for("{\"bulk\":{\"supported\":true}}", 1, SCIM_DIALECT_20, &bytes),
                     ENGINE_BULK_DEFAULT_OPS);
    /* two is the least worth a Bulk request */
    assert_int_equal(
        ops_for("{\"bulk\":{\"supported\":true,\"maxOperations\":2}}", 1, SCIM_DIALECT_20, NULL),
        2);
    assert_int_equal(
        ops_for("{\"bulk\":{\"supported\":true,\"maxOperations\":1}}", 1, SCIM_DIALECT_20, NULL),
        0);
    assert_int_equal(
        ops_for("{\"bulk\":{\"supported\":true,\"maxOperations\":0}}", 1, SCIM_DIALECT_20, NULL),
        0);
    /* a payload limit that is no number or not positive: 1 MiB */
    ops_for("{\"bulk\":{\"supported\":true,\"maxOperations\":9,\"maxPayloadSize\":0}}", 1,
            SCIM_DIALECT_20, &bytes);
    assert_int_equal(bytes, SCIM_BULK_MAX_PAYLOAD);
    ops_for("{\"bulk\":{\"supported\":true,\"maxOperations\":9,\"maxPayloadSize\":\"1k\"}}", 1,
            SCIM_DIALECT_20, &bytes);
    assert_int_equal(bytes, SCIM_BULK_MAX_PAYLOAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_when_bulk_is_used),
        cmocka_unit_test(test_how_many_per_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
