/* Unit tests for the engine's delivery machinery: outcome classes, back-off with jitter,
 * Retry-After, the token bucket, quarantine and recovery, the OAuth token cache (with a
 * fake token endpoint), and the durable outbox in an in-memory SQLite store
 * (coalescing per user, leases, generations, retries, release after a crash, cursor,
 * brake state, log paging). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/buf.h"
#include "provision/connection.h"
#include "provision/delivery.h"
#include "provision/oauth.h"
#include "store/store.h"
#include "store/store_sync.h"

#include <stdlib.h>
#include <string.h>

static void test_classify(void **state)
{
    (void)state;
    assert_int_equal(delivery_classify(200), DELIVERY_OK);
    assert_int_equal(delivery_classify(204), DELIVERY_OK);
    assert_int_equal(delivery_classify(0), DELIVERY_RETRY);
    assert_int_equal(delivery_classify(429), DELIVERY_RETRY);
    assert_int_equal(delivery_classify(503), DELIVERY_RETRY);
    assert_int_equal(delivery_classify(500), DELIVERY_RETRY);
    assert_int_equal(delivery_classify(401), DELIVERY_AUTH);
    assert_int_equal(delivery_classify(403), DELIVERY_AUTH);
    assert_int_equal(delivery_classify(400), DELIVERY_PERMANENT);
    assert_int_equal(delivery_classify(405), DELIVERY_PERMANENT);
}

static void test_backoff(void **state)
{
    (void)state;
    /* jitter stays within [0.75, 1.25) of the exponential value */
    for (uint32_t r = 0; r < 8; r++) {
        uint32_t rnd = r * 0x20000000u;
        int64_t d1 = delivery_backoff_ms(1, 0, rnd);
        assert_true(d1 >= DELIVERY_BACKOFF_BASE_MS * 3 / 4 &&
                    d1 < DELIVERY_BACKOFF_BASE_MS * 5 / 4);
        int64_t d3 = delivery_backoff_ms(3, 0, rnd);
        assert_true(d3 >= 4 * DELIVERY_BACKOFF_BASE_MS * 3 / 4 &&
                    d3 < 4 * DELIVERY_BACKOFF_BASE_MS * 5 / 4);
        int64_t big = delivery_backoff_ms(60, 0, rnd);
        assert_true(big <= DELIVERY_BACKOFF_MAX_MS * 5 / 4);
        int64_t q = delivery_backoff_ms(1, 1, rnd);
        assert_true(q >= DELIVERY_QUARANTINE_MIN_MS && q <= DELIVERY_QUARANTINE_MAX_MS);
    }
    /* different random values give different delays (jitter) */
    assert_true(delivery_backoff_ms(4, 0, 0) != delivery_backoff_ms(4, 0, 0xF0000000u));
}

static void test_retry_after(void **state)
{
    (void)state;
    assert_int_equal(delivery_retry_after_ms("2", 0), 2000);
    assert_int_equal(delivery_retry_after_ms(" 0", 0), 0);
    assert_int_equal(delivery_retry_after_ms("", 0), -1);
    assert_int_equal(delivery_retry_after_ms(NULL, 0), -1);
    assert_int_equal(delivery_retry_after_ms("soon", 0), -1);
    assert_int_equal(delivery_retry_after_ms("999999", 0), DELIVERY_RETRY_AFTER_MAX_MS);
    /* 784111777 = Sun, 06 Nov 1994 08:49:37 GMT */
    int64_t now = 784111777LL * 1000 - 5000;
    assert_int_equal(delivery_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", now), 5000);
    assert_int_equal(delivery_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", now + 60000), 0);
}

static void test_bucket(void **state)
{
    (void)state;
    struct delivery_bucket b;
    delivery_bucket_init(&b, 0, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(delivery_bucket_take(&b, 0), 0);
    delivery_bucket_init(&b, 2, 1000);
    assert_int_equal(delivery_bucket_take(&b, 1000), 0);
    assert_int_equal(delivery_bucket_take(&b, 1000), 0);
    int64_t w = delivery_bucket_take(&b, 1000);
    assert_true(w > 0 && w <= 501);
    assert_int_equal(delivery_bucket_take(&b, 1000 + 500), 0);
    assert_true(delivery_bucket_take(&b, 1000 + 500) > 0);
}

static void test_quarantine_and_recovery(void **state)
{
    (void)state;
    struct delivery_health h = {0};
    int changes = 0;
    for (int i = 0; i < DELIVERY_HEALTH_MIN_CALLS - 1; i++)
        changes += delivery_health_record(&h, 1);
    assert_int_equal(changes, 0);
    assert_int_equal(h.quarantined, 0);
    assert_int_equal(delivery_health_record(&h, 1), 1);
    assert_int_equal(h.quarantined, 1);
    assert_int_equal(delivery_health_record(&h, 1), 0);
    assert_int_equal(delivery_health_record(&h, 0), -1);
    assert_int_equal(h.quarantined, 0);
    /* mostly succeeding calls never quarantine */
    struct delivery_health g = {0};
    for (int i = 0; i < 100; i++)
        assert_int_equal(delivery_health_record(&g, i % 3 == 0), 0);
}

static int fetches;
static enum sc_err fake_fetch(const struct connection *c, char **token, int64_t *expires_in_s,
                              struct sc_error *e)
{
    (void)c;
    (void)e;
    char buf[32];
    snprintf(buf, sizeof buf, "tok%d", ++fetches);
    *token = strdup(buf);
    *expires_in_s = 100;
    return SC_OK;
}

static void test_oauth_cache(void **state)
{
    (void)state;
    struct oauth_cache *cache = NULL;
    assert_int_equal(oauth_cache_new(fake_fetch, &cache), SC_OK);
    struct connection c;
    memset(&c, 0, sizeof c);
    sc_strlcpy(c.id, "11111111-1111-4111-8111-111111111111", sizeof c.id);
    c.client_id = "client";
    const char *t = NULL;
    struct sc_error e = {0};
    fetches = 0;
    assert_int_equal(oauth_cache_token(cache, &c, 0, &t, &e), SC_OK);
    assert_string_equal(t, "tok1");
    assert_int_equal(oauth_cache_token(cache, &c, 10000, &t, &e), SC_OK);
    assert_string_equal(t, "tok1");
    /* renewed before expiry: at 80% of 100 s at the latest */
    assert_int_equal(oauth_cache_token(cache, &c, 80000, &t, &e), SC_OK);
    assert_string_equal(t, "tok2");
    oauth_cache_invalidate(cache, &c);
    assert_int_equal(oauth_cache_token(cache, &c, 81000, &t, &e), SC_OK);
    assert_string_equal(t, "tok3");
    /* another client id: a new token */
    c.client_id = "other";
    assert_int_equal(oauth_cache_token(cache, &c, 82000, &t, &e), SC_OK);
    assert_string_equal(t, "tok4");
    oauth_cache_free(cache);
}

static void test_outbox_coalesces_and_leases(void **state)
{
    (void)state;
    struct store *st = NULL;
    struct sc_error e = {0};
    assert_int_equal(store_open("sqlite::memory:", &st, &e), SC_OK);
    assert_int_equal(store_sync_outbox_touch(st, "r1", "u1", 0, STORE_SYNC_LANE_BULK, 100), SC_OK);
    assert_int_equal(store_sync_outbox_touch(st, "r1", "u1", 0, STORE_SYNC_LANE_BULK, 50), SC_OK);
    assert_int_equal(store_sync_outbox_touch(st, "r1", "u2", 0, STORE_SYNC_LANE_BULK, 500), SC_OK);
    int64_t n = 0;
    assert_int_equal(store_sync_outbox_count(st, NULL, &n), SC_OK);
    assert_int_equal(n, 2); /* one item per (rule, user) */
    int64_t due = 0;
    assert_int_equal(store_sync_outbox_next_due(st, NULL, &due), SC_OK);
    assert_int_equal(due, 50);

    struct store_sync_item *items = NULL;
    size_t k = 0;
    assert_int_equal(store_sync_outbox_lease(st, "A", NULL, 200, 1000, 10, &items, &k), SC_OK);
    assert_int_equal(k, 1); /* u2 is not due yet */
    assert_string_equal(items[0].user_id, "u1");
    assert_int_equal(items[0].attempts, 1);
    struct store_sync_item it = items[0];
    free(items);
    /* a leased item is not leased again */
    assert_int_equal(store_sync_outbox_lease(st, "B", NULL, 300, 1000, 10, &items, &k), SC_OK);
    assert_int_equal(k, 0);
    /* touched while in flight: done() keeps it for another round */
    assert_int_equal(store_sync_outbox_touch(st, "r1", "u1", 0, STORE_SYNC_LANE_BULK, 250), SC_OK);
    assert_int_equal(store_sync_outbox_done(st, &it, NULL), SC_OK);
    assert_int_equal(store_sync_outbox_count(st, "r1", &n), SC_OK);
    assert_int_equal(n, 2);
    assert_int_equal(store_sync_outbox_lease(st, "A", NULL, 300, 1000, 10, &items, &k), SC_OK);
    assert_int_equal(k, 1);
    it = items[0];
    free(items);
    assert_int_equal(store_sync_outbox_done(st, &it, NULL), SC_OK);
    assert_int_equal(store_sync_outbox_count(st, "r1", &n), SC_OK);
    assert_int_equal(n, 1);

    /* retry: not before the given time; a lease that expires is taken over */
    assert_int_equal(store_sync_outbox_lease(st, "A", NULL, 600, 1000, 10, &items, &k), SC_OK);
    assert_int_equal(k, 1);
    it = items[0];
    free(items);
    assert_int_equal(store_sync_outbox_retry(st, &it, 5000, NULL), SC_OK);
    assert_int_equal(store_sync_outbox_lease(st, "A", NULL, 4000, 1000, 10, &items, &k), SC_OK);
    assert_int_equal(k, 0);
    assert_int_equal(store_sync_outbox_lease(st, "A", NULL, 5000, 1000, 10, &items, &k), SC_OK);
    assert_int_equal(k, 1);
    assert_int_equal(items[0].attempts, 2);
    struct store_sync_item stale = items[0];
    free(items);
    /* renewing keeps a lease: B cannot take it while A renews */
    assert_int_equal(store_sync_outbox_renew(st, "A", 8000), SC_OK);
    assert_int_equal(store_sync_outbox_lease(st, "B", NULL, 7000, 1000, 10, &items, &k), SC_OK);
    assert_int_equal(k, 0);
    assert_int_equal(store_sync_outbox_lease(st, "B", NULL, 8001, 1000, 10, &items, &k), SC_OK);
    assert_int_equal(k, 1); /* A's lease expired at 8000 */
    assert_int_equal(items[0].attempts, 3);
    assert_true(items[0].lease_token > stale.lease_token);
    it = items[0];
    free(items);
    /* fencing: A's late outcome is not applied; B's lease holds */
    int held = -1;
    assert_int_equal(store_sync_outbox_held(st, "A", &stale, &held), SC_OK);
    assert_int_equal(held, 0);
    assert_int_equal(store_sync_outbox_done(st, &stale, &held), SC_OK);
    assert_int_equal(held, 0);
    assert_int_equal(store_sync_outbox_retry(st, &stale, 1, &held), SC_OK);
    assert_int_equal(held, 0);
    assert_int_equal(store_sync_outbox_count(st, "r1", &n), SC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(store_sync_outbox_held(st, "B", &it, &held), SC_OK);
    assert_int_equal(held, 1);
    /* leasing by rule */
    assert_int_equal(store_sync_outbox_touch(st, "r2", "u9", 0, STORE_SYNC_LANE_BULK, 10), SC_OK);
    assert_int_equal(store_sync_outbox_next_due(st, "r2", &due), SC_OK);
    assert_int_equal(due, 10);
    assert_int_equal(store_sync_outbox_lease(st, "D", "r2", 9000, 1000, 10, &items, &k), SC_OK);
    assert_int_equal(k, 1);
    assert_string_equal(items[0].rule_id, "r2");
    free(items);
    assert_int_equal(store_sync_outbox_drop_rule(st, "r2"), SC_OK);
    /* after a crash, every lease is released at start */
    assert_int_equal(store_sync_outbox_release_all(st, NULL), SC_OK);
    assert_int_equal(store_sync_outbox_lease(st, "C", NULL, 7001, 1000, 10, &items, &k), SC_OK);
    assert_int_equal(k, 1);
    free(items);
    assert_int_equal(store_sync_outbox_drop_rule(st, "r1"), SC_OK);
    assert_int_equal(store_sync_outbox_count(st, NULL, &n), SC_OK);
    assert_int_equal(n, 0);
    store_close(st);
}

static void test_links_state_and_log(void **state)
{
    (void)state;
    struct store *st = NULL;
    struct sc_error e = {0};
    assert_int_equal(store_open("sqlite::memory:", &st, &e), SC_OK);
    int64_t cur = -1;
    assert_int_equal(store_sync_cursor_get(st, &cur), SC_OK);
    assert_int_equal(cur, 0);
    assert_int_equal(store_sync_cursor_set(st, 42), SC_OK);
    assert_int_equal(store_sync_cursor_get(st, &cur), SC_OK);
    assert_int_equal(cur, 42);

    struct store_sync_link l = {0};
    sc_strlcpy(l.rule_id, "r1", sizeof l.rule_id);
    sc_strlcpy(l.user_id, "u1", sizeof l.user_id);
    l.username = "ada";
    l.target_id = "t1";
    l.sent = "{\"active\":true}";
    l.digest = 0xFFFFFFFFFFFFFFFFULL;
    sc_strlcpy(l.state, SYNC_STATE_SYNCED, sizeof l.state);
    assert_int_equal(store_sync_link_put(st, &l), SC_OK);
    sc_strlcpy(l.user_id, "u2", sizeof l.user_id);
    l.target_id = NULL;
    sc_strlcpy(l.state, SYNC_STATE_UNSYNCED, sizeof l.state);
    assert_int_equal(store_sync_link_put(st, &l), SC_OK);
    struct store_sync_link got;
    assert_int_equal(store_sync_link_get(st, "r1", "u1", &got), SC_OK);
    assert_string_equal(got.target_id, "t1");
    assert_true(got.digest == 0xFFFFFFFFFFFFFFFFULL);
    store_sync_link_clear(&got);
    assert_int_equal(store_sync_link_get(st, "r1", "zz", &got), SC_ERR_NOT_FOUND);
    struct store_sync_counts c;
    assert_int_equal(store_sync_link_counts(st, "r1", &c), SC_OK);
    assert_int_equal(c.impacted, 2);
    assert_int_equal(c.success, 1);
    assert_int_equal(c.unsynced, 1);
    assert_int_equal(c.linked, 1);
    json_t *items = json_array();
    char *next = NULL;
    assert_int_equal(store_sync_link_list(st, "r1", 1, NULL, items, &next), SC_OK);
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(next, "u1");
    char *next2 = NULL;
    assert_int_equal(store_sync_link_list(st, "r1", 1, next, items, &next2), SC_OK);
    assert_int_equal(json_array_size(items), 2);
    assert_null(next2);
    free(next);
    json_decref(items);

    /* resync requests and the brake */
    assert_int_equal(store_sync_rule_request_resync(st, "r1", 0, 0), SC_OK);
    assert_int_equal(store_sync_rule_request_resync(st, "r1", 1, 0), SC_OK);
    assert_int_equal(store_sync_rule_request_resync(st, "r1", 0, 1), SC_OK);
    struct store_sync_rule sr;
    assert_int_equal(store_sync_rule_get(st, "r1", &sr), SC_OK);
    assert_int_equal(sr.resync, 2); /* an allow is not lost to a later plain request */
    assert_int_equal(sr.verify, 1); /* nor a verify */
    int64_t seq = sr.resync_seq;
    char(*ids)[STORE_SYNC_ID_MAX] = NULL;
    size_t n = 0;
    assert_int_equal(store_sync_rule_pending(st, 10, &ids, &n), SC_OK);
    assert_int_equal(n, 1);
    free(ids);
    /* a request made while a resync runs is not lost when that resync ends */
    assert_int_equal(store_sync_rule_request_resync(st, "r1", 0, 0), SC_OK);
    assert_int_equal(store_sync_rule_resync_done(st, "r1", seq), SC_OK);
    assert_int_equal(store_sync_rule_get(st, "r1", &sr), SC_OK);
    assert_int_equal(sr.resync, 2);
    assert_int_equal(store_sync_rule_resync_done(st, "r1", sr.resync_seq), SC_OK);
    assert_int_equal(store_sync_rule_get(st, "r1", &sr), SC_OK);
    assert_int_equal(sr.resync, 0);
    assert_int_equal(sr.verify, 0);
    assert_int_equal(store_sync_rule_pending(st, 10, &ids, &n), SC_OK);
    assert_int_equal(n, 0);

    /* the log, newest first, filtered and paged */
    for (int i = 0; i < 5; i++) {
        struct store_sync_log_entry le = {.rule_id = "r1",
                                          .user_id = i % 2 ? "u1" : "u2",
                                          .username = "ada",
                                          .action = i % 2 ? "UPDATE" : "CREATE",
                                          .status = "SUCCESS",
                                          .http_status = 200,
                                          .changes = "[{\"attribute\":\"title\",\"old\":null,"
                                                     "\"new\":\"x\"}]"};
        assert_int_equal(store_sync_log_append(st, &le), SC_OK);
    }
    items = json_array();
    assert_int_equal(store_sync_log_list(st, "r1", NULL, "CREATE", NULL, 2, NULL, items, &next),
                     SC_OK);
    assert_int_equal(json_array_size(items), 2);
    assert_non_null(next);
    assert_int_equal(store_sync_log_list(st, "r1", NULL, "CREATE", NULL, 2, next, items, &next2),
                     SC_OK);
    assert_int_equal(json_array_size(items), 3);
    assert_null(next2);
    free(next);
    json_t *first = json_array_get(items, 0);
    assert_string_equal(json_string_value(json_object_get(first, "action")), "CREATE");
    assert_int_equal(json_integer_value(json_object_get(first, "httpStatus")), 200);
    assert_int_equal(json_array_size(json_object_get(first, "changes")), 1);
    json_decref(items);
    items = json_array();
    assert_int_equal(store_sync_log_list(st, NULL, NULL, NULL, NULL, 10, "x", items, &next),
                     SC_ERR_INVALID);
    json_decref(items);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_quarantine_and_recovery),
        cmocka_unit_test(test_oauth_cache),
        cmocka_unit_test(test_outbox_coalesces_and_leases),
        cmocka_unit_test(test_links_state_and_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
