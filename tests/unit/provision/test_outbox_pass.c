/* Unit tests for the full resync pass run in chunks (provision/outbox.c) on an in-memory
 * SQLite store: each chunk's work is committed as the pass goes (the first users are
 * queued before the pass has seen the last ones); a pass wants one listing once enough
 * unlinked users are found and goes on with it; users of a population the filter
 * leaves out are never read; a second pass skips users in sync at unchanged stamps;
 * the brake holds removals (users out of scope, links whose user is gone) that pass it
 * over many chunks, queues none of them, and a pass with allow queues them all; a dry
 * run counts the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/json.h"
#include "directory/directory.h"
#include "provision/connection.h"
#include "provision/mapping.h"
#include "provision/outbox.h"
#include "provision/planner.h"
#include "provision/rule.h"
#include "provision/secrets.h"
#include "store/store_directory.h"
#include "store/store_provision.h"
#include "store/store_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUSERS 120 /* even ones in Sales (the rule's), odd ones in Others */

struct fixture {
    struct store *st;
    struct secrets_key *key;
    char rule_id[SC_UUID_LEN + 1];
    struct sync_rule *sr;
    char ids[NUSERS][SC_UUID_LEN + 1];
};

static void add_population(struct store *st, const char *name)
{
    json_t *in = json_pack("{s:s}", "name", name), *out = NULL;
    struct sc_error e = {0};
    assert_int_equal(directory_population_create(st, in, &out, &e), SC_OK);
    json_decref(in);
    json_decref(out);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct sc_error e = {0};
    if (!f || store_open("sqlite::memory:", &f->st, &e) != SC_OK)
        return -1;
    unsigned char raw[SECRETS_KEY_BYTES] = {7, 7, 7};
    if (secrets_key_from_bytes(raw, &f->key) != SC_OK)
        return -1;
    add_population(f->st, "Sales");
    add_population(f->st, "Others");
    for (int i = 0; i < NUSERS; i++) {
        char name[32];
        snprintf(name, sizeof name, "user%03d", i);
        json_t *in = json_pack("{s:s, s:s, s:{s:s}}", "username", name, "title", "Engineer",
                               "population", "name", i % 2 ? "Others" : "Sales");
        json_t *out = NULL;
        assert_int_equal(directory_user_create(f->st, in, &out, &e), SC_OK);
        sc_strlcpy(f->ids[i], sc_json_get_string(out, "id"), sizeof f->ids[i]);
        json_decref(in);
        json_decref(out);
    }
    /* a connection and a rule on Sales */
    json_t *cin = json_pack("{s:s, s:b, s:{s:s}, s:{s:s}}", "name", "T", "enabled", 1, "scim",
                            "baseUrl", "http://127.0.0.1:9/scim/v2", "auth", "accessToken", "t0k");
    json_t *doc = NULL, *sealed = NULL;
    assert_int_equal(connection_doc_merge(NULL, cin, &doc, &e), SC_OK);
    assert_int_equal(connection_seal_doc(f->key, doc, &sealed, &e), SC_OK);
    struct store_connection c = {0};
    sc_uuid_v4(c.id);
    c.name = "T";
    c.enabled = 1;
    c.config = sc_json_dump(sealed);
    c.created_at = c.updated_at = 1;
    assert_int_equal(store_connection_insert(f->st, &c), SC_OK);
    free(c.config);
    json_decref(cin);
    json_decref(doc);
    json_decref(sealed);
    json_t *m = mapping_defaults();
    struct store_rule r = {0};
    sc_uuid_v4(r.id);
    r.name = "R";
    r.description = "";
    sc_strlcpy(r.target_id, c.id, sizeof r.target_id);
    r.enabled = 1;
    r.filter = "{\"match\":\"ALL\",\"conditions\":[{\"attribute\":\"population.name\","
               "\"operator\":\"EQUALS\",\"value\":\"Sales\"}]}";
    r.mappings = sc_json_dump(m);
    r.created_at = r.updated_at = 2;
    assert_int_equal(store_rule_insert(f->st, &r), SC_OK);
    sc_strlcpy(f->rule_id, r.id, sizeof f->rule_id);
    free(r.mappings);
    json_decref(m);
    struct rule_compiled *rc = NULL;
    assert_int_equal(rule_compile(f->st, f->key, f->rule_id, &rc, &e), SC_OK);
    assert_int_equal(sync_rule_new(rc, &f->sr, &e), SC_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sync_rule_free(f->sr);
    store_close(f->st);
    secrets_key_free(f->key);
    free(f);
    return 0;
}

static int64_t queued(struct fixture *f)
{
    int64_t n = -1;
    assert_int_equal(store_sync_outbox_count(f->st, f->rule_id, &n), SC_OK);
    return n;
}

/* Links user i as in sync with what the rule maps for it (target id "t<i>"). */
static void link_in_sync(struct fixture *f, int i)
{
    json_t *u = NULL, *desired = NULL;
    struct sc_error e = {0};
    int in_scope = 0, enabled = 0;
    assert_int_equal(directory_user_get(f->st, f->ids[i], &u, &e), SC_OK);
    assert_int_equal(sync_rule_eval(f->sr, NULL, u, &in_scope, &enabled, &desired), SC_OK);
    json_object_set_new(desired, "active", json_true());
    char tid[16];
    snprintf(tid, sizeof tid, "t%d", i);
    struct store_sync_link l = {0};
    sc_strlcpy(l.rule_id, f->rule_id, sizeof l.rule_id);
    sc_strlcpy(l.user_id, f->ids[i], sizeof l.user_id);
    l.username = (char *)sc_json_get_string(u, "username");
    l.target_id = tid;
    sc_strlcpy(l.state, SYNC_STATE_SYNCED, sizeof l.state);
    l.sent = sc_json_dump_canonical(desired);
    l.digest = planner_digest(desired);
    assert_int_equal(store_sync_link_put(f->st, &l), SC_OK);
    free(l.sent);
    json_decref(u);
    json_decref(desired);
}

/* Runs a whole pass in chunks of chunk users; an empty complete listing when asked.
 * Returns the number of steps; *listed (may be NULL) the step that asked for the
 * listing (0: none), *after_listing (may be NULL) the queue after the step that followed
 * it, while more steps were still to come. */
static int run_pass(struct fixture *f, int allow, size_t chunk, json_t *plan,
                    struct outbox_resync_result *res, int64_t *after_listing, int *listed)
{
    struct outbox_pass *p = NULL;
    struct sc_error e = {0};
    assert_int_equal(outbox_resync_begin(f->st, f->sr, allow, 0, -1, plan, &p, &e), SC_OK);
    json_t *none = json_array();
    enum outbox_step next = OUTBOX_STEP_MORE;
    int steps = 0;
    if (listed)
        *listed = 0;
    while (next != OUTBOX_STEP_DONE) {
        int was_listing = next == OUTBOX_STEP_LISTING;
        if (was_listing) {
            outbox_pass_set_listing(p, none, 1);
            if (listed)
                *listed = steps;
        }
        assert_int_equal(outbox_pass_step(p, NULL, chunk, &next, &e), SC_OK);
        steps++;
        if (was_listing && after_listing)
            *after_listing = next == OUTBOX_STEP_MORE ? queued(f) : -1;
        assert_true(steps < 10000);
    }
    assert_int_equal(outbox_resync_finish(p, res, &e), SC_OK);
    outbox_pass_free(p);
    json_decref(none);
    return steps;
}

static void test_chunks_commit_as_the_pass_goes(void **state)
{
    struct fixture *f = *state;
    struct outbox_resync_result res = {0};
    int64_t after = 0;
    int listed = 0;
    int steps = run_pass(f, 0, 8, NULL, &res, &after, &listed);
    assert_true(steps > NUSERS / 8); /* a chunk of 8 users (and links) per step */
    /* 50 unlinked users in scope ask for a listing, after their chunks were read */
    assert_true(listed > 0);
    assert_true(listed < steps);
    /* with it, the users that waited are queued (committed) with the next chunk, while
     * the pass still has users to read */
    assert_true(after >= OUTBOX_LIST_THRESHOLD);
    assert_true(after < NUSERS / 2);
    assert_int_equal(res.users, NUSERS);
    assert_int_equal(res.creates, NUSERS / 2);
    assert_int_equal(res.queued, NUSERS / 2);
    assert_int_equal(queued(f), NUSERS / 2);
    assert_int_equal(res.removals, 0);
    /* not found in a complete listing: created directly, PENDING until delivered (those
     * found before the listing and those after it, which are not read at all) */
    for (int i = 0; i < NUSERS; i++) {
        struct store_sync_link l = {0};
        if (i % 2) {
            assert_int_equal(store_sync_link_get(f->st, f->rule_id, f->ids[i], &l),
                             SC_ERR_NOT_FOUND);
            continue;
        }
        assert_int_equal(store_sync_link_get(f->st, f->rule_id, f->ids[i], &l), SC_OK);
        assert_string_equal(l.state, SYNC_STATE_PENDING);
        assert_int_equal(l.absent, 1);
        assert_non_null(l.username);
        assert_int_equal(strncmp(l.username, "user", 4), 0);
        store_sync_link_clear(&l);
    }
    /* a disabled user in scope is not created */
    json_t *patch = json_pack("{s:b}", "enabled", 0), *out = NULL;
    struct sc_error e = {0};
    assert_int_equal(directory_user_update(f->st, f->ids[NUSERS - 2], patch, &out, &e), SC_OK);
    json_decref(patch);
    json_decref(out);
    assert_int_equal(store_sync_outbox_drop_rule(f->st, f->rule_id), SC_OK);
    assert_int_equal(store_sync_rule_forget(f->st, f->rule_id), SC_OK);
    run_pass(f, 0, 8, NULL, &res, NULL, NULL);
    assert_int_equal(res.creates, NUSERS / 2 - 1);
    assert_int_equal(queued(f), NUSERS / 2 - 1);
}

static void test_few_unlinked_users_are_looked_up_without_a_listing(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < NUSERS; i += 2)
        if (i >= 20)
            link_in_sync(f, i);
    struct outbox_resync_result res = {0};
    int listed = -1;
    /* fewer than the listing threshold: they wait for the end of the pass and are
     * queued to be looked up one by one (no link row) */
    run_pass(f, 0, 16, NULL, &res, NULL, &listed);
    assert_int_equal(listed, 0);
    assert_int_equal(res.creates, 10);
    assert_int_equal(queued(f), 10);
    struct store_sync_link l = {0};
    assert_int_equal(store_sync_link_get(f->st, f->rule_id, f->ids[0], &l), SC_ERR_NOT_FOUND);
}

static void test_unchanged_users_are_skipped(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < NUSERS; i += 2)
        link_in_sync(f, i);
    struct outbox_resync_result res = {0};
    run_pass(f, 0, 7, NULL, &res, NULL, NULL);
    /* in sync: nothing queued, their stamps recorded */
    assert_int_equal(res.queued, 0);
    assert_int_equal(res.updates, 0);
    assert_int_equal(res.unchanged, 0);
    assert_int_equal(res.users, NUSERS);
    run_pass(f, 0, 7, NULL, &res, NULL, NULL);
    assert_int_equal(res.unchanged, NUSERS / 2);
    assert_int_equal(res.users, NUSERS);
    assert_int_equal(queued(f), 0);
    /* one quiet change is found */
    json_t *patch = json_pack("{s:s}", "title", "Chief"), *out = NULL;
    struct sc_error e = {0};
    assert_int_equal(directory_user_update(f->st, f->ids[40], patch, &out, &e), SC_OK);
    json_decref(patch);
    json_decref(out);
    run_pass(f, 0, 7, NULL, &res, NULL, NULL);
    assert_int_equal(res.unchanged, NUSERS / 2 - 1);
    assert_int_equal(res.updates, 1);
    assert_int_equal(queued(f), 1);
}

static void test_the_brake_holds_over_chunks(void **state)
{
    struct fixture *f = *state;
    /* 30 linked: 5 in scope, 20 moved out of scope (Others), 5 whose user is gone */
    for (int i = 0; i < 30; i++)
        link_in_sync(f, i);
    for (int i = 0; i < 30; i += 2)
        if (i >= 10) {
            json_t *patch = json_pack("{s:{s:s}}", "population", "name", "Others"), *out = NULL;
            struct sc_error e = {0};
            assert_int_equal(directory_user_update(f->st, f->ids[i], patch, &out, &e), SC_OK);
            json_decref(patch);
            json_decref(out);
        }
    struct sc_error e = {0};
    for (int i = 1; i < 10; i += 2) /* odd ones were linked while in scope, then deleted */
        assert_int_equal(directory_user_delete(f->st, f->ids[i], &e), SC_OK);
    /* removals: 10 moved (10..28 even) + 10 out of scope odd linked (11..29) + 5 gone */
    json_t *plan = json_object();
    struct outbox_resync_result res = {0};
    run_pass(f, 0, 3, plan, &res, NULL, NULL);
    assert_int_equal(res.removals, 25);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(plan, "brake"), "held")),
                     25);
    assert_int_equal(json_array_size(json_object_get(plan, "disables")), 25);
    json_decref(plan);

    run_pass(f, 0, 3, NULL, &res, NULL, NULL);
    assert_int_equal(res.removals, 25);
    assert_int_equal(res.held, 25);
    assert_int_equal(res.limit, 20);
    /* creates go ahead (the unlinked users in scope), no removal is queued */
    int64_t creates = res.creates;
    assert_int_equal(queued(f), creates);
    struct store_sync_rule sr;
    assert_int_equal(store_sync_rule_get(f->st, f->rule_id, &sr), SC_OK);
    assert_int_equal(sr.brake_hold, 25);
    assert_int_equal(sr.brake_limit, 20);

    run_pass(f, 1, 3, NULL, &res, NULL, NULL);
    assert_int_equal(res.held, 0);
    assert_int_equal(queued(f), creates + 25);
    assert_int_equal(store_sync_rule_get(f->st, f->rule_id, &sr), SC_OK);
    assert_int_equal(sr.brake_hold, 0);
}

static void test_removals_under_the_brake_are_queued_at_the_end(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < NUSERS; i += 2)
        link_in_sync(f, i);
    struct sc_error e = {0};
    for (int i = 0; i < 6; i += 2) /* 3 of 60 linked: under max(6, 20) */
        assert_int_equal(directory_user_delete(f->st, f->ids[i], &e), SC_OK);
    struct outbox_resync_result res = {0};
    run_pass(f, 0, 5, NULL, &res, NULL, NULL);
    assert_int_equal(res.removals, 3);
    assert_int_equal(res.held, 0);
    assert_int_equal(queued(f), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chunks_commit_as_the_pass_goes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_few_unlinked_users_are_looked_up_without_a_listing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_users_are_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_brake_holds_over_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removals_under_the_brake_are_queued_at_the_end, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
