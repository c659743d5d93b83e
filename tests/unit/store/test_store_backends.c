/* The contract of the store's core, events, provision and sync functions, run unchanged
 * on SQLite and (unit-pg/store/test_store_backends) on PostgreSQL: settings and
 * transactions, error codes (unique -> CONFLICT, foreign key -> INVALID), creation-order
 * paging with cursors, the outbox (coalescing, leases with fencing tokens, renewals,
 * retries, two owners never leasing one item), links, per-rule state, the log, text that
 * is not valid UTF-8, and change events under concurrent writers: every event read
 * exactly once by a consumer that follows its cursor, and on PostgreSQL an appender
 * that waits until an earlier one has committed (event order is commit order). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_events.h"
#include "store/store_provision.h"
#include "store/store_sync.h"
#include "store/store_target.h"
#include "storetest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void test_settings_and_transactions(void **state)
{
    struct store *st = *state;
    char *v = NULL;
    assert_int_equal(store_setting_get(st, "k", &v), SC_ERR_NOT_FOUND);
    assert_int_equal(store_setting_set(st, "k", "one"), SC_OK);
    assert_int_equal(store_setting_set(st, "k", "two"), SC_OK);
    assert_int_equal(store_setting_get(st, "k", &v), SC_OK);
    assert_string_equal(v, "two");
    free(v);
    /* rolled back: gone; committed: kept */
    assert_int_equal(store_begin(st), SC_OK);
    assert_true(store_in_transaction(st));
    assert_int_equal(store_setting_set(st, "k", "rolled back"), SC_OK);
    store_rollback(st);
    assert_false(store_in_transaction(st));
    assert_int_equal(store_setting_get(st, "k", &v), SC_OK);
    assert_string_equal(v, "two");
    free(v);
    assert_int_equal(store_begin(st), SC_OK);
    assert_int_equal(store_sync_cursor_set(st, 42), SC_OK);
    assert_int_equal(store_commit(st), SC_OK);
    int64_t seq = 0;
    assert_int_equal(store_sync_cursor_get(st, &seq), SC_OK);
    assert_int_equal(seq, 42);
    char why[160];
    assert_int_equal(store_write_check(st, why, sizeof why), 0);
    /* the target's store is SQLite's alone */
    if (storetest_pg())
        assert_int_equal(store_target_delete(st, "x"), SC_ERR_UNSUPPORTED);
}

static struct store_connection conn(const char *id, const char *name)
{
    struct store_connection c = {0};
    snprintf(c.id, sizeof c.id, "%s", id);
    c.name = (char *)name;
    c.enabled = 1;
    c.config = (char *)"{}";
    c.created_at = c.updated_at = 1000;
    return c;
}

static struct store_rule rule(const char *id, const char *name, const char *target)
{
    struct store_rule r = {0};
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.target_id, sizeof r.target_id, "%s", target ? target : "");
    r.name = (char *)name;
    r.enabled = 1;
    r.mappings = (char *)"[]";
    r.created_at = r.updated_at = 1000;
    return r;
}

static void test_provision_contract(void **state)
{
    struct store *st = *state;
    char id[32], name[32];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "c%d", i);
        snprintf(name, sizeof name, "Conn %d", i);
        struct store_connection c = conn(id, name);
        assert_int_equal(store_connection_insert(st, &c), SC_OK);
    }
    /* names are unique without case; ids too */
    struct store_connection dup = conn("c9", "CONN 3");
    assert_int_equal(store_connection_insert(st, &dup), SC_ERR_CONFLICT);
    dup = conn("c1", "Other");
    assert_int_equal(store_connection_insert(st, &dup), SC_ERR_CONFLICT);
    /* creation order, two per page */
    struct store_connection *v = NULL;
    size_t n = 0;
    char cursor[STORE_CURSOR_MAX] = "", next[STORE_CURSOR_MAX];
    int seen = 0;
    do {
        assert_int_equal(store_connection_list(st, cursor[0] ? cursor : NULL, 2, &v, &n, next),
                         SC_OK);
        for (size_t i = 0; i < n; i++) {
            snprintf(id, sizeof id, "c%d", seen++);
            assert_string_equal(v[i].id, id);
        }
        store_connections_free(v, n);
        snprintf(cursor, sizeof cursor, "%s", next);
    } while (cursor[0]);
    assert_int_equal(seen, 5);
    assert_int_equal(store_connection_list(st, "bogus", 2, &v, &n, next), SC_ERR_INVALID);
    /* rules: a target that does not exist is INVALID; a targeted connection stays */
    struct store_rule r = rule("r1", "Rule", "nope");
    assert_int_equal(store_rule_insert(st, &r), SC_ERR_INVALID);
    r = rule("r1", "Rule", "c2");
    assert_int_equal(store_rule_insert(st, &r), SC_OK);
    struct store_rule r2 = rule("r2", "rule", "c2");
    assert_int_equal(store_rule_insert(st, &r2), SC_ERR_CONFLICT);
    char *targeting = NULL;
    assert_int_equal(store_rule_targeting(st, "c2", &targeting), SC_OK);
    assert_string_equal(targeting, "Rule");
    free(targeting);
    assert_int_equal(store_connection_delete(st, "c2"), SC_ERR_CONFLICT);
    assert_int_equal(store_connection_delete(st, "c4"), SC_OK);
    assert_int_equal(store_connection_delete(st, "c4"), SC_ERR_NOT_FOUND);
    char(*ids)[SC_UUID_LEN + 1] = NULL;
    assert_int_equal(store_rule_enabled_ids(st, &ids, &n), SC_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "r1");
    free(ids);
    /* update and get, inside a transaction too (PostgreSQL locks the row read) */
    assert_int_equal(store_begin(st), SC_OK);
    struct store_rule got = {0};
    assert_int_equal(store_rule_get(st, "r1", &got), SC_OK);
    assert_string_equal(got.target_id, "c2");
    got.enabled = 0;
    assert_int_equal(store_rule_update(st, &got), SC_OK);
    store_rule_clear(&got);
    assert_int_equal(store_commit(st), SC_OK);
    assert_int_equal(store_rule_get(st, "r1", &got), SC_OK);
    assert_int_equal(got.enabled, 0);
    store_rule_clear(&got);
    struct store_rule gone = rule("zz", "Gone", NULL);
    assert_int_equal(store_rule_update(st, &gone), SC_ERR_NOT_FOUND);
    /* capabilities: none, stored, replaced; a missing connection is NOT_FOUND, and the
     * open transaction goes on after it */
    char *doc = NULL;
    int64_t at = 0;
    assert_int_equal(store_connection_caps_get(st, "c1", &doc, &at), SC_ERR_NOT_FOUND);
    assert_int_equal(store_begin(st), SC_OK);
    assert_int_equal(store_connection_caps_put(st, "c1", "{\"a\":1}", 5), SC_OK);
    assert_int_equal(store_connection_caps_put(st, "c1", "{\"a\":2}", 6), SC_OK);
    assert_int_equal(store_connection_caps_put(st, "none", "{}", 6), SC_ERR_NOT_FOUND);
    assert_int_equal(store_setting_set(st, "after", "ok"), SC_OK);
    assert_int_equal(store_commit(st), SC_OK);
    assert_int_equal(store_connection_caps_get(st, "c1", &doc, &at), SC_OK);
    assert_string_equal(doc, "{\"a\":2}");
    assert_int_equal(at, 6);
    free(doc);
}

static void test_outbox_leases(void **state)
{
    struct store *st = *state;
    char user[32];
    for (int i = 0; i < 10; i++) {
        snprintf(user, sizeof user, "u%02d", i);
        assert_int_equal(store_sync_outbox_touch(st, i < 6 ? "rA" : "rB", user, 0,
                                                 STORE_SYNC_LANE_BULK, 100 + i),
                         SC_OK);
    }
    /* a touch coalesces: one item, generation bumped, flags ORed, earliest time kept */
    assert_int_equal(
        store_sync_outbox_touch(st, "rA", "u00", SYNC_ITEM_VERIFY, STORE_SYNC_LANE_BULK, 500),
        SC_OK);
    int64_t count = 0, due = 0;
    assert_int_equal(store_sync_outbox_count(st, NULL, &count), SC_OK);
    assert_int_equal(count, 10);
    assert_int_equal(store_sync_outbox_count(st, "rB", &count), SC_OK);
    assert_int_equal(count, 4);
    assert_int_equal(store_sync_outbox_next_due(st, "rB", &due), SC_OK);
    assert_int_equal(due, 106);
    /* nothing due before its time; oldest first; two owners never share an item */
    struct store_sync_item *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    assert_int_equal(store_sync_outbox_lease(st, "one", NULL, 99, 1000, 10, &a, &na), SC_OK);
    assert_int_equal(na, 0);
    assert_int_equal(store_sync_outbox_lease(st, "one", "rA", 200, 1000, 3, &a, &na), SC_OK);
    assert_int_equal(na, 3);
    assert_string_equal(a[0].user_id, "u00");
    assert_int_equal(a[0].flags, SYNC_ITEM_VERIFY);
    assert_int_equal(a[0].generation, 2);
    assert_int_equal(a[0].attempts, 1);
    assert_string_equal(a[2].user_id, "u02");
    assert_int_equal(store_sync_outbox_lease(st, "two", NULL, 200, 1000, 100, &b, &nb), SC_OK);
    assert_int_equal(nb, 7);
    for (size_t i = 0; i < nb; i++)
        for (size_t j = 0; j < na; j++)
            assert_int_not_equal(b[i].id, a[j].id);
    assert_int_equal(store_sync_outbox_next_due(st, NULL, &due), SC_OK);
    assert_int_equal(due, INT64_MAX);
    /* held while the lease holds; an expired lease is taken over with a new token, and
     * the old holder's outcome is then refused */
    int held = 0;
    assert_int_equal(store_sync_outbox_held(st, "one", &a[1], &held), SC_OK);
    assert_true(held);
    assert_int_equal(store_sync_outbox_renew(st, "one", 5000), SC_OK);
    struct store_sync_item *c = NULL;
    size_t nc = 0;
    assert_int_equal(store_sync_outbox_lease(st, "three", NULL, 3000, 1000, 100, &c, &nc), SC_OK);
    assert_int_equal(nc, 7); /* "two"'s leases ran out at 1200; "one"'s were renewed */
    assert_int_equal(store_sync_outbox_done(st, &b[0], &held), SC_OK);
    assert_false(held);
    assert_int_equal(store_sync_outbox_held(st, "two", &b[0], &held), SC_OK);
    assert_false(held);
    free(c);
    /* done: deleted unless touched meanwhile (then released to go again at once) */
    assert_int_equal(store_sync_outbox_done(st, &a[1], &held), SC_OK);
    assert_true(held);
    assert_int_equal(store_sync_outbox_touch(st, "rA", "u02", 0, STORE_SYNC_LANE_BULK, 50), SC_OK);
    assert_int_equal(store_sync_outbox_done(st, &a[2], &held), SC_OK);
    assert_true(held);
    assert_int_equal(store_sync_outbox_count(st, "rA", &count), SC_OK);
    assert_int_equal(count, 5);
    /* retry: later when untouched */
    assert_int_equal(store_sync_outbox_retry(st, &a[0], 9000, &held), SC_OK);
    assert_true(held);
    assert_int_equal(store_sync_outbox_release_all(st, NULL), SC_OK);
    assert_int_equal(store_sync_outbox_next_due(st, "rA", &due), SC_OK);
    assert_int_equal(due, 50);
    assert_int_equal(store_sync_outbox_drop_rule(st, "rA"), SC_OK);
    assert_int_equal(store_sync_outbox_count(st, "rA", &count), SC_OK);
    assert_int_equal(count, 0);
    free(a);
    free(b);
}

/* Live changes are leased before bulk work, whatever their age; a live touch of a bulk
 * item moves it to the live lane, a bulk touch of a live one leaves it there. */
static void test_outbox_lanes(void **state)
{
    struct store *st = *state;
    char user[32];
    for (int i = 0; i < 5; i++) {
        snprintf(user, sizeof user, "b%d", i);
        assert_int_equal(store_sync_outbox_touch(st, "r", user, 0, STORE_SYNC_LANE_BULK, 100 + i),
                         SC_OK);
    }
    assert_int_equal(store_sync_outbox_touch(st, "r", "live", 0, STORE_SYNC_LANE_LIVE, 300), SC_OK);
    assert_int_equal(store_sync_outbox_touch(st, "r", "b3", 0, STORE_SYNC_LANE_LIVE, 400), SC_OK);
    assert_int_equal(store_sync_outbox_touch(st, "r", "live", 0, STORE_SYNC_LANE_BULK, 50), SC_OK);
    int64_t due = 0;
    assert_int_equal(store_sync_outbox_next_due(st, "r", &due), SC_OK);
    assert_int_equal(due, 50); /* the earliest of both lanes */
    assert_int_equal(store_sync_outbox_next_due(st, NULL, &due), SC_OK);
    assert_int_equal(due, 50);
    struct store_sync_item *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    /* nothing of the live lane due yet at 60 but "live" (moved to 50): it comes first */
    assert_int_equal(store_sync_outbox_lease(st, "one", "r", 60, 1000, 10, &a, &na), SC_OK);
    assert_int_equal(na, 1);
    assert_string_equal(a[0].user_id, "live");
    assert_int_equal(a[0].lane, STORE_SYNC_LANE_LIVE);
    free(a);
    assert_int_equal(store_sync_outbox_lease(st, "one", NULL, 1000, 1000, 3, &a, &na), SC_OK);
    assert_int_equal(na, 3);
    assert_string_equal(a[0].user_id, "b3"); /* live now, though touched last */
    assert_int_equal(a[0].lane, STORE_SYNC_LANE_LIVE);
    assert_string_equal(a[1].user_id, "b0");
    assert_int_equal(a[1].lane, STORE_SYNC_LANE_BULK);
    assert_string_equal(a[2].user_id, "b1");
    assert_int_equal(store_sync_outbox_lease(st, "two", "r", 1000, 1000, 10, &b, &nb), SC_OK);
    assert_int_equal(nb, 2);
    assert_string_equal(b[0].user_id, "b2");
    assert_string_equal(b[1].user_id, "b4");
    free(a);
    free(b);
}

struct page_acc {
    char (*ids)[STORE_SYNC_ID_MAX];
    int n;
};

/* Keeps the user ids of a page of links; u1's sent says active false, u0's does not. */
static int page_link(void *arg, const struct store_sync_link *l)
{
    struct page_acc *acc = arg;
    assert_int_equal(l->inactive, strcmp(l->user_id, "u1") == 0);
    assert_null(l->sent);
    snprintf(acc->ids[acc->n++], STORE_SYNC_ID_MAX, "%s", l->user_id);
    return 0;
}

static void test_links_rules_log(void **state)
{
    struct store *st = *state;
    char user[32];
    for (int i = 0; i < 5; i++) {
        struct store_sync_link l = {0};
        snprintf(l.rule_id, sizeof l.rule_id, "r1");
        snprintf(l.user_id, sizeof l.user_id, "u%d", i);
        snprintf(user, sizeof user, "user%d", i);
        l.username = user;
        l.target_id = i < 3 ? (char *)"t" : NULL;
        snprintf(l.state, sizeof l.state, "%s", i < 2 ? SYNC_STATE_SYNCED : SYNC_STATE_FAILED);
        l.sent = (char *)(i == 1 ? "{\"active\":false}" : "{\"active\":true}");
        l.digest = 0xfedcba9876543210ULL; /* the top bit survives */
        assert_int_equal(store_sync_link_put(st, &l), SC_OK);
    }
    struct store_sync_link got = {0};
    assert_int_equal(store_sync_link_get(st, "r1", "u3", &got), SC_OK);
    assert_int_equal(got.digest, 0xfedcba9876543210ULL);
    assert_string_equal(got.state, SYNC_STATE_FAILED);
    store_sync_link_clear(&got);
    /* in pages, in user id order, after a cursor */
    char seen[8][STORE_SYNC_ID_MAX];
    struct page_acc acc = {seen, 0};
    size_t got_n = 0;
    assert_int_equal(store_sync_link_page(st, "r1", NULL, 2, page_link, &acc, &got_n), SC_OK);
    assert_int_equal(got_n, 2);
    assert_int_equal(store_sync_link_page(st, "r1", seen[1], 2, page_link, &acc, &got_n), SC_OK);
    assert_int_equal(got_n, 2);
    assert_int_equal(store_sync_link_page(st, "r1", seen[3], 2, page_link, &acc, &got_n), SC_OK);
    assert_int_equal(got_n, 1);
    assert_int_equal(acc.n, 5);
    for (int i = 0; i < 5; i++) {
        char want[8];
        snprintf(want, sizeof want, "u%d", i);
        assert_string_equal(seen[i], want);
    }
    assert_int_equal(store_sync_link_page(st, "r1", "u4", 2, page_link, &acc, &got_n), SC_OK);
    assert_int_equal(got_n, 0);
    struct store_sync_counts counts;
    assert_int_equal(store_sync_link_counts(st, "r1", &counts), SC_OK);
    assert_int_equal(counts.impacted, 5);
    assert_int_equal(counts.success, 2);
    assert_int_equal(counts.failed, 3);
    assert_int_equal(counts.linked, 3);
    /* put_unlinked leaves linked rows alone; set_found compares the digest */
    struct store_sync_link l = {0};
    snprintf(l.rule_id, sizeof l.rule_id, "r1");
    snprintf(l.user_id, sizeof l.user_id, "u0");
    int written = 1;
    assert_int_equal(store_sync_link_put_unlinked(st, &l, INT64_MAX, &written), SC_OK);
    assert_false(written);
    snprintf(l.user_id, sizeof l.user_id, "u4");
    assert_int_equal(store_sync_link_put_unlinked(st, &l, INT64_MAX, &written), SC_OK);
    assert_true(written);
    snprintf(l.user_id, sizeof l.user_id, "u2");
    l.sent = (char *)"{}";
    l.digest = 7;
    assert_int_equal(store_sync_link_set_found(st, &l, 1, &written), SC_OK);
    assert_false(written);
    assert_int_equal(store_sync_link_set_found(st, &l, 0xfedcba9876543210ULL, &written), SC_OK);
    assert_true(written);
    /* listing by user id with queued users and a cursor */
    assert_int_equal(store_sync_outbox_touch(st, "r1", "u9", 0, STORE_SYNC_LANE_BULK, 0), SC_OK);
    json_t *items = json_array();
    char *next = NULL;
    assert_int_equal(store_sync_link_list(st, "r1", 4, NULL, items, &next), SC_OK);
    assert_int_equal(json_array_size(items), 4);
    assert_string_equal(next, "u3");
    json_decref(items);
    items = json_array();
    char *next2 = NULL;
    assert_int_equal(store_sync_link_list(st, "r1", 4, next, items, &next2), SC_OK);
    assert_null(next2);
    assert_int_equal(json_array_size(items), 2);
    assert_true(json_is_null(json_object_get(json_array_get(items, 1), "state")));
    assert_true(json_is_true(json_object_get(json_array_get(items, 1), "queued")));
    free(next);
    json_decref(items);
    /* per-rule state: requests merge and count; done only for the request it ran */
    assert_int_equal(store_sync_rule_request_resync(st, "r1", 0, 1), SC_OK);
    assert_int_equal(store_sync_rule_request_resync(st, "r1", 1, 0), SC_OK);
    struct store_sync_rule sr;
    assert_int_equal(store_sync_rule_get(st, "r1", &sr), SC_OK);
    assert_int_equal(sr.resync, 2);
    assert_int_equal(sr.verify, 1);
    assert_int_equal(sr.resync_seq, 2);
    assert_int_equal(store_sync_rule_resync_done(st, "r1", 1), SC_OK);
    char(*pending)[STORE_SYNC_ID_MAX] = NULL;
    size_t np = 0;
    assert_int_equal(store_sync_rule_pending(st, 10, &pending, &np), SC_OK);
    assert_int_equal(np, 1);
    free(pending);
    assert_int_equal(store_sync_rule_resync_done(st, "r1", 2), SC_OK);
    assert_int_equal(store_sync_rule_pending(st, 10, &pending, &np), SC_OK);
    assert_int_equal(np, 0);
    assert_int_equal(store_sync_rule_add_drift(st, "r1", 3, 1, 77), SC_OK);
    assert_int_equal(store_sync_rule_add_drift(st, "r1", 2, 1, 78), SC_OK);
    assert_int_equal(store_sync_rule_get(st, "r1", &sr), SC_OK);
    assert_int_equal(sr.verify_checked, 5);
    assert_int_equal(sr.verify_drifted, 2);
    assert_int_equal(sr.last_verify_at, 78);
    assert_int_equal(store_sync_rule_get(st, "never", &sr), SC_OK);
    assert_int_equal(sr.resync_seq, 0);
    /* quarantine */
    int on = 0;
    char reason[64];
    assert_int_equal(store_sync_quarantine_set(st, "c1", 1, "most calls fail"), SC_OK);
    assert_int_equal(store_sync_quarantine_get(st, "c1", &on, reason, sizeof reason), SC_OK);
    assert_true(on);
    assert_string_equal(reason, "most calls fail");
    assert_int_equal(store_sync_quarantine_set(st, "c1", 0, NULL), SC_OK);
    assert_int_equal(store_sync_quarantine_get(st, "c1", &on, reason, sizeof reason), SC_OK);
    assert_false(on);
    /* the log, newest first, filtered and paged; a target's bytes that are not UTF-8 */
    for (int i = 0; i < 5; i++) {
        struct store_sync_log_entry le = {.rule_id = "r1",
                                          .user_id = i % 2 ? "u1" : "u2",
                                          .action = "CREATE",
                                          .status = "FAILED",
                                          .http_status = 500,
                                          .error = i == 4 ? "bad \xff\xfe bytes" : "e"};
        assert_int_equal(store_sync_log_append(st, &le), SC_OK);
    }
    items = json_array();
    assert_int_equal(store_sync_log_list(st, "r1", "u2", NULL, NULL, 2, NULL, items, &next), SC_OK);
    assert_int_equal(json_array_size(items), 2);
    assert_non_null(next);
    const char *err = json_string_value(json_object_get(json_array_get(items, 0), "error"));
    assert_non_null(strstr(err, "bytes"));
    assert_true(strncmp(err, "bad ", 4) == 0);
    json_decref(items);
    items = json_array();
    assert_int_equal(store_sync_log_list(st, "r1", "u2", NULL, NULL, 2, next, items, &next2),
                     SC_OK);
    assert_int_equal(json_array_size(items), 1);
    assert_null(next2);
    free(next);
    json_decref(items);
    assert_int_equal(store_sync_rule_forget(st, "r1"), SC_OK);
    assert_int_equal(store_sync_link_get(st, "r1", "u0", &got), SC_ERR_NOT_FOUND);
}

/* ---- events under concurrent writers ---- */

#define WRITERS 6
#define PER_WRITER 150

struct writer {
    const char *dsn;
    int index;
    enum sc_err rc;
};

static void *write_events(void *arg)
{
    struct writer *w = arg;
    struct store *st = NULL;
    struct sc_error e = {0};
    if ((w->rc = store_open(w->dsn, &st, &e)))
        return NULL;
    char object[32];
    for (int i = 0; i < PER_WRITER && !w->rc; i++) {
        snprintf(object, sizeof object, "w%d-%d", w->index, i);
        /* some in transactions of a few events with another write, some alone */
        if (i % 3 == 0) {
            w->rc = store_event_append(st, "user.updated", object, NULL);
            continue;
        }
        if ((w->rc = store_begin(st)))
            break;
        w->rc = store_setting_set(st, object, "x");
        if (!w->rc)
            w->rc = store_event_append(st, "user.updated", object, NULL);
        if (!w->rc)
            w->rc = store_commit(st);
        else
            store_rollback(st);
        if (w->rc == SC_ERR_BUSY)
            w->rc = SC_OK, i--; /* a writer may retry a busy transaction */
    }
    store_close(st);
    return NULL;
}

/* Reads the events after *cursor as the engine does, counting each in seen. */
static size_t consume(struct store *reader, int64_t *cursor, char *seen, size_t limit)
{
    struct store_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(store_events_after(reader, *cursor, limit, &ev, &n), SC_OK);
    for (size_t i = 0; i < n; i++) {
        int wi = 0, k = 0;
        assert_int_equal(sscanf(ev[i].object_id, "w%d-%d", &wi, &k), 2);
        assert_true(ev[i].seq > *cursor);
        *cursor = ev[i].seq;
        if (seen[wi * PER_WRITER + k]++)
            fail_msg("event %s read twice", ev[i].object_id);
    }
    store_events_free(ev, n);
    return n;
}

/* Writers append events while a consumer reads what follows its cursor, as the engine
 * does: it must read every event exactly once, in sequence order. */
static void test_events_concurrent_writers(void **state)
{
    (void)state;
    char dsn[256];
    assert_int_equal(storetest_dsn_new(dsn, sizeof dsn), 0);
    struct store *reader = NULL;
    struct sc_error e = {0};
    assert_int_equal(store_open(dsn, &reader, &e), SC_OK);
    struct writer w[WRITERS];
    pthread_t th[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.dsn = dsn, .index = i};
        assert_int_equal(pthread_create(&th[i], NULL, write_events, &w[i]), 0);
    }
    char *seen = calloc(WRITERS * PER_WRITER, 1);
    int64_t cursor = 0;
    size_t total = 0;
    time_t deadline = time(NULL) + 120;
    while (total < WRITERS * PER_WRITER && time(NULL) < deadline)
        total += consume(reader, &cursor, seen, 50);
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].rc, SC_OK);
    }
    /* what committed after the loop's last read; nothing was skipped */
    total += consume(reader, &cursor, seen, 100000);
    assert_int_equal(total, WRITERS * PER_WRITER);
    for (int i = 0; i < WRITERS * PER_WRITER; i++)
        if (seen[i] != 1)
            fail_msg("event w%d-%d read %d times", i / PER_WRITER, i % PER_WRITER, seen[i]);
    free(seen);
    store_close(reader);
    storetest_dsn_drop(dsn);
}

struct blocked {
    const char *dsn;
    atomic_int done;
    int64_t seq;
    enum sc_err rc;
};

static void *append_one(void *arg)
{
    struct blocked *b = arg;
    struct store *st = NULL;
    struct sc_error e = {0};
    if (!(b->rc = store_open(b->dsn, &st, &e)) && !(b->rc = store_begin(st)) &&
        !(b->rc = store_event_append(st, "user.updated", "second", NULL)) &&
        !(b->rc = store_commit(st)))
        b->rc = store_events_last_seq(st, &b->seq);
    store_close(st);
    atomic_store(&b->done, 1);
    return NULL;
}

/* The reason the consumer above never skips an event on PostgreSQL: while a transaction
 * that appended an event is open, another appender waits, so it cannot commit a higher
 * number first. */
static void test_events_commit_order(void **state)
{
    (void)state;
    if (!storetest_pg())
        skip(); /* SQLite has one writer at a time by construction */
    char dsn[256];
    assert_int_equal(storetest_dsn_new(dsn, sizeof dsn), 0);
    struct store *first = NULL, *reader = NULL;
    struct sc_error e = {0};
    assert_int_equal(store_open(dsn, &first, &e), SC_OK);
    assert_int_equal(store_open(dsn, &reader, &e), SC_OK);
    assert_int_equal(store_begin(first), SC_OK);
    assert_int_equal(store_event_append(first, "user.updated", "first", NULL), SC_OK);
    struct blocked b = {.dsn = dsn};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, append_one, &b), 0);
    /* the second appender is waiting for the lock, not committed ahead of the first */
    PGconn *admin = PQconnectdb(dsn);
    assert_int_equal(PQstatus(admin), CONNECTION_OK);
    int waiting = 0;
    for (int i = 0; i < 600 && !waiting; i++) {
        PGresult *r = PQexec(admin, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                    "AND NOT granted");
        waiting = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "1") == 0;
        PQclear(r);
        if (!waiting)
            usleep(50 * 1000);
    }
    PQfinish(admin);
    assert_true(waiting);
    assert_false(atomic_load(&b.done));
    struct store_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(store_events_after(reader, 0, 10, &ev, &n), SC_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_commit(first), SC_OK);
    pthread_join(th, NULL);
    assert_int_equal(b.rc, SC_OK);
    assert_int_equal(store_events_after(reader, 0, 10, &ev, &n), SC_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].object_id, "first");
    assert_string_equal(ev[1].object_id, "second");
    assert_true(ev[1].seq > ev[0].seq);
    store_events_free(ev, n);
    store_close(first);
    store_close(reader);
    storetest_dsn_drop(dsn);
}

/* PostgreSQL's setting of one of the store's own connections. */
static char *pg_show(struct store *st, const char *what)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SHOW %s", what);
    PGresult *r = PQexec(((struct pg_store *)st)->conn, sql);
    char *v = PQresultStatus(r) == PGRES_TUPLES_OK ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    return v;
}

/* --durability on PostgreSQL: synchronous_commit on (full) or off (normal) for every
 * connection opened after the choice; the session settings the store relies on. */
static void test_pg_session(void **state)
{
    (void)state;
    if (!storetest_pg())
        skip();
    char dsn[256];
    assert_int_equal(storetest_dsn_new(dsn, sizeof dsn), 0);
    static const struct {
        enum store_durability d;
        const char *sync;
    } cases[] = {{STORE_DURABILITY_FULL, "on"}, {STORE_DURABILITY_NORMAL, "off"}};
    for (size_t i = 0; i < 2; i++) {
        store_set_durability(cases[i].d);
        struct store *st = NULL;
        struct sc_error e = {0};
        assert_int_equal(store_open(dsn, &st, &e), SC_OK);
        char *v = pg_show(st, "synchronous_commit");
        assert_string_equal(v, cases[i].sync);
        free(v);
        v = pg_show(st, "default_transaction_isolation");
        assert_string_equal(v, "read committed");
        free(v);
        v = pg_show(st, "lock_timeout");
        assert_string_equal(v, "10s");
        free(v);
        store_close(st);
    }
    store_set_durability(STORE_DURABILITY_FULL);
    /* a DSN that names no server fails clearly, without its password */
    struct store *st = NULL;
    struct sc_error e = {0};
    assert_int_equal(store_open("postgresql://u:pw-SECRET@127.0.0.1:1/x", &st, &e), SC_ERR_DB);
    assert_non_null(strstr(e.message, "cannot connect to postgresql://u:****@127.0.0.1:1/x"));
    assert_null(strstr(e.message, "pw-SECRET"));
    storetest_dsn_drop(dsn);
}

/* DSNs in logs and messages never show a password. */
static void test_dsn_redact(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"postgresql://u:secret@h:5432/db", "postgresql://u:****@h:5432/db"},
        {"postgres://u@h/db?password=secret&sslmode=require",
         "postgres://u@h/db?password=****&sslmode=require"},
        {"postgresql:///db?host=/run/pg&password=x", "postgresql:///db?host=/run/pg&password=****"},
        {"postgresql://u@h/db", "postgresql://u@h/db"},
        {"sqlite:/var/lib/s.db", "sqlite:/var/lib/s.db"},
    };
    char buf[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        store_dsn_redact(cases[i][0], buf, sizeof buf);
        assert_string_equal(buf, cases[i][1]);
    }
    assert_true(store_dsn_is_postgresql("postgres://x"));
    assert_false(store_dsn_is_postgresql("sqlite:x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_settings_and_transactions, storetest_setup,
                                        storetest_teardown),
        cmocka_unit_test_setup_teardown(test_provision_contract, storetest_setup,
                                        storetest_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_leases, storetest_setup, storetest_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_lanes, storetest_setup, storetest_teardown),
        cmocka_unit_test_setup_teardown(test_links_rules_log, storetest_setup, storetest_teardown),
        cmocka_unit_test(test_events_concurrent_writers),
        cmocka_unit_test(test_events_commit_order),
        cmocka_unit_test(test_pg_session),
        cmocka_unit_test(test_dsn_redact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
