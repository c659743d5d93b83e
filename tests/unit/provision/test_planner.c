/* Unit tests for the provisioning planner: every branch of SPEC §5 (look-up before
 * create, create, unsynced, no-op by digest, PATCH with only the changes, PUT, partially
 * synced, re-enable, disable by PATCH and PUT, delete, removal not allowed, deleted
 * users, never DELETE under DISABLE), loop safety (nothing back to a user's source). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/json.h"
#include "provision/planner.h"
#include "store/store_sync.h"

#include <stdlib.h>
#include <string.h>

static json_t *flat(const char *title)
{
    return json_pack("{s:s, s:s, s:s}", "userName", "ada", "title", title, "name.givenName", "Ada");
}

static json_t *sent_of(const char *title, int active)
{
    json_t *s = flat(title);
    json_object_set_new(s, "active", json_boolean(active));
    return s;
}

static struct planner_input base(const json_t *desired)
{
    struct planner_input in = {.exists = 1,
                               .in_scope = 1,
                               .enabled = 1,
                               .desired = desired,
                               .allow_create = 1,
                               .allow_update = 1,
                               .allow_disable = 1};
    return in;
}

/* Returns the op names and paths of a PatchOp body as "replace:title,..." */
static void patch_ops(const json_t *body, char *out, size_t n)
{
    out[0] = '\0';
    json_t *ops = json_object_get(body, "Operations");
    for (size_t i = 0; i < json_array_size(ops); i++) {
        json_t *o = json_array_get(ops, i);
        const char *p = json_string_value(json_object_get(o, "path"));
        size_t len = strlen(out);
        snprintf(out + len, n - len, "%s%s:%s", i ? "," : "",
                 json_string_value(json_object_get(o, "op")), p ? p : "");
    }
}

static void test_unlinked_in_scope_looks_up_first(void **state)
{
    (void)state;
    json_t *d = flat("Engineer");
    struct planner_input in = base(d);
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_LOOKUP);
    assert_string_equal(op.method, "GET");
    assert_null(op.body);
    planner_op_clear(&op);
    /* absent but uncertain (an earlier attempt may have created it): still a look-up */
    in.absent = 1;
    in.uncertain = 1;
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_LOOKUP);
    planner_op_clear(&op);
    json_decref(d);
}

static void test_absent_creates_with_active(void **state)
{
    (void)state;
    json_t *d = flat("Engineer");
    struct planner_input in = base(d);
    in.absent = 1;
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_CREATE);
    assert_string_equal(op.method, "POST");
    assert_int_equal(op.with_id, 0);
    assert_string_equal(json_string_value(json_object_get(op.body, "userName")), "ada");
    assert_true(json_is_true(json_object_get(op.body, "active")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(op.body, "name"), "givenName")), "Ada");
    assert_true(json_is_true(json_object_get(op.next_sent, "active")));
    assert_int_equal(op.next_digest, planner_digest(op.next_sent));
    assert_string_equal(op.state, SYNC_STATE_SYNCED);
    assert_string_equal(op.log_action, "CREATE");
    /* a create's changes are written from what it sends, as the array would dump */
    assert_null(op.changes);
    char *text = planner_op_changes_text(&op);
    assert_true(json_array_size(planner_op_changes(&op)) >= 3);
    char *dumped = sc_json_dump(op.changes);
    assert_non_null(text);
    assert_string_equal(text, dumped);
    free(text);
    free(dumped);
    planner_op_clear(&op);
    json_decref(d);
}

static void test_a_creates_changes_written_ahead_are_taken_once(void **state)
{
    (void)state;
    json_t *d = flat("Engineer");
    struct planner_input in = base(d);
    in.absent = 1;
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_CREATE);
    char *now = planner_op_changes_text(&op);
    planner_op_write_changes(&op);
    assert_non_null(op.changes_text);
    /* taken: the same text, and op holds it no more */
    char *taken = planner_op_take_changes_text(&op);
    assert_string_equal(taken, now);
    assert_null(op.changes_text);
    /* taken again: written anew, the same */
    char *again = planner_op_take_changes_text(&op);
    assert_string_equal(again, now);
    /* written ahead and never taken: freed with the op (the leak check sees it) */
    planner_op_write_changes(&op);
    assert_non_null(op.changes_text);
    free(now);
    free(taken);
    free(again);
    planner_op_clear(&op);
    json_decref(d);
}

static void test_an_update_writes_no_changes_ahead(void **state)
{
    (void)state;
    json_t *sent = sent_of("Engineer", 1);
    json_t *d = flat("Manager");
    struct planner_input in = base(d);
    in.target_id = "t-1";
    in.sent = sent;
    in.sent_digest = planner_digest(sent);
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_UPDATE);
    planner_op_write_changes(&op);
    assert_null(op.changes_text);
    char *text = planner_op_take_changes_text(&op);
    assert_non_null(strstr(text, "Manager"));
    free(text);
    planner_op_clear(&op);
    json_decref(d);
    json_decref(sent);
}

static void test_create_not_allowed_is_unsynced(void **state)
{
    (void)state;
    json_t *d = flat("Engineer");
    struct planner_input in = base(d);
    in.absent = 1;
    in.allow_create = 0;
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_UNSYNCED);
    assert_null(op.method);
    assert_string_equal(op.state, SYNC_STATE_UNSYNCED);
    planner_op_clear(&op);
    json_decref(d);
}

static void test_same_digest_is_a_noop(void **state)
{
    (void)state;
    json_t *d = flat("Engineer");
    json_t *s = sent_of("Engineer", 1);
    struct planner_input in = base(d);
    in.target_id = "t1";
    in.sent = s;
    in.sent_digest = planner_digest(s);
    in.has_link_row = 1;
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_NOOP);
    assert_null(op.method);
    assert_null(op.body);
    assert_string_equal(op.state, SYNC_STATE_SYNCED);
    planner_op_clear(&op);
    json_decref(d);
    json_decref(s);
}

static void test_patch_sends_only_changes(void **state)
{
    (void)state;
    json_t *d = flat("Chief");
    json_t *s = sent_of("Engineer", 1);
    struct planner_input in = base(d);
    in.target_id = "t1";
    in.sent = s;
    in.sent_digest = planner_digest(s);
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_UPDATE);
    assert_string_equal(op.method, "PATCH");
    assert_int_equal(op.with_id, 1);
    char ops[256];
    patch_ops(op.body, ops, sizeof ops);
    assert_string_equal(ops, "replace:title");
    assert_int_equal(json_array_size(op.changes), 1);
    json_t *c = json_array_get(op.changes, 0);
    assert_string_equal(json_string_value(json_object_get(c, "attribute")), "title");
    assert_string_equal(json_string_value(json_object_get(c, "old")), "Engineer");
    assert_string_equal(json_string_value(json_object_get(c, "new")), "Chief");
    assert_string_equal(json_string_value(json_object_get(op.next_sent, "title")), "Chief");
    planner_op_clear(&op);
    json_decref(d);
    json_decref(s);
}

static void test_put_sends_the_whole_resource(void **state)
{
    (void)state;
    json_t *d = flat("Chief");
    json_t *s = sent_of("Engineer", 1);
    struct planner_input in = base(d);
    in.target_id = "t1";
    in.sent = s;
    in.sent_digest = planner_digest(s);
    in.update_put = 1;
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_UPDATE);
    assert_string_equal(op.method, "PUT");
    assert_string_equal(json_string_value(json_object_get(op.body, "id")), "t1");
    assert_string_equal(json_string_value(json_object_get(op.body, "userName")), "ada");
    assert_string_equal(json_string_value(json_object_get(op.body, "title")), "Chief");
    assert_true(json_is_true(json_object_get(op.body, "active")));
    planner_op_clear(&op);
    json_decref(d);
    json_decref(s);
}

static void test_update_not_allowed_is_partial(void **state)
{
    (void)state;
    json_t *d = flat("Chief");
    json_t *s = sent_of("Engineer", 1);
    struct planner_input in = base(d);
    in.target_id = "t1";
    in.sent = s;
    in.sent_digest = planner_digest(s);
    in.allow_update = 0;
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_PARTIAL);
    assert_null(op.method);
    assert_string_equal(op.state, SYNC_STATE_PARTIAL);
    planner_op_clear(&op);
    json_decref(d);
    json_decref(s);
}

static void test_return_to_scope_reenables_and_updates(void **state)
{
    (void)state;
    json_t *d = flat("Chief");
    json_t *s = sent_of("Engineer", 0);
    struct planner_input in = base(d);
    in.target_id = "t1";
    in.sent = s;
    in.sent_digest = planner_digest(s);
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_ENABLE);
    assert_string_equal(op.method, "PATCH");
    char ops[256];
    patch_ops(op.body, ops, sizeof ops);
    assert_non_null(strstr(ops, "replace:title"));
    assert_non_null(strstr(ops, "replace:active"));
    assert_string_equal(op.log_action, "ENABLE");
    planner_op_clear(&op);
    /* update not allowed: re-enable only (active), the rest stays partially synced */
    in.allow_update = 0;
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_ENABLE);
    patch_ops(op.body, ops, sizeof ops);
    assert_string_equal(ops, "replace:active");
    assert_string_equal(op.state, SYNC_STATE_PARTIAL);
    planner_op_clear(&op);
    json_decref(d);
    json_decref(s);
}

static void test_leaving_scope_disables_by_patch_never_deletes(void **state)
{
    (void)state;
    json_t *d = flat("Engineer");
    json_t *s = sent_of("Engineer", 1);
    struct planner_input in = base(d);
    in.target_id = "t1";
    in.sent = s;
    in.sent_digest = planner_digest(s);
    in.in_scope = 0;
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_DISABLE);
    assert_string_equal(op.method, "PATCH");
    char ops[256];
    patch_ops(op.body, ops, sizeof ops);
    assert_string_equal(ops, "replace:active");
    assert_true(json_is_false(json_object_get(op.next_sent, "active")));
    assert_string_equal(op.state, SYNC_STATE_DISABLED);
    planner_op_clear(&op);
    /* disabled in the directory: the same */
    in.in_scope = 1;
    in.enabled = 0;
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_DISABLE);
    planner_op_clear(&op);
    /* already disabled: nothing */
    json_t *off = sent_of("Engineer", 0);
    in.sent = off;
    in.sent_digest = planner_digest(off);
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_NOOP);
    assert_string_equal(op.state, SYNC_STATE_DISABLED);
    planner_op_clear(&op);
    json_decref(off);
    json_decref(d);
    json_decref(s);
}

static void test_deleted_user_disabled_by_put_from_sent(void **state)
{
    (void)state;
    json_t *s = sent_of("Engineer", 1);
    struct planner_input in = {.exists = 0,
                               .target_id = "t1",
                               .sent = s,
                               .sent_digest = planner_digest(s),
                               .allow_create = 1,
                               .allow_update = 1,
                               .allow_disable = 1,
                               .update_put = 1};
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_DISABLE);
    assert_string_equal(op.method, "PUT");
    assert_true(json_is_false(json_object_get(op.body, "active")));
    assert_string_equal(json_string_value(json_object_get(op.body, "userName")), "ada");
    assert_string_equal(json_string_value(json_object_get(op.body, "id")), "t1");
    planner_op_clear(&op);
    json_decref(s);
}

static void test_remove_action_delete(void **state)
{
    (void)state;
    json_t *s = sent_of("Engineer", 1);
    struct planner_input in = {.exists = 0,
                               .target_id = "t1",
                               .sent = s,
                               .sent_digest = planner_digest(s),
                               .allow_disable = 1,
                               .remove_delete = 1};
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_DELETE);
    assert_string_equal(op.method, "DELETE");
    assert_int_equal(op.with_id, 1);
    assert_null(op.body);
    assert_string_equal(op.state, SYNC_STATE_DELETED);
    planner_op_clear(&op);
    json_decref(s);
}

static void test_removal_not_allowed_and_unlinked(void **state)
{
    (void)state;
    json_t *d = flat("Engineer");
    json_t *s = sent_of("Engineer", 1);
    struct planner_input in = base(d);
    in.in_scope = 0;
    in.target_id = "t1";
    in.sent = s;
    in.sent_digest = planner_digest(s);
    in.allow_disable = 0;
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_OUT_OF_SCOPE);
    assert_null(op.method);
    planner_op_clear(&op);
    /* out of scope and never linked: nothing at all */
    in.target_id = NULL;
    in.sent = NULL;
    in.sent_digest = 0;
    in.allow_disable = 1;
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_NOOP);
    assert_null(op.method);
    planner_op_clear(&op);
    json_decref(d);
    json_decref(s);
}

static void test_digest_is_order_independent(void **state)
{
    (void)state;
    json_t *a = json_pack("{s:s, s:s}", "a", "1", "b", "2");
    json_t *b = json_pack("{s:s, s:s}", "b", "2", "a", "1");
    assert_int_equal(planner_digest(a), planner_digest(b));
    assert_int_equal(planner_digest(NULL), 0);
    json_decref(a);
    json_decref(b);
}

/* Accounts before (what the target holds: last sent or read when linking) and after
 * (what the mapping wants): the PATCH the planner sends. Entries the target does not
 * hold are added whole; value-filter paths only where the entry exists. */
static void test_patch_from_what_the_target_holds(void **state)
{
    (void)state;
    static const struct {
        const char *before, *after, *ops;
    } rows[] = {
        /* a linked account with no work phone, email or address: entries added whole */
        {"{\"userName\":\"ada\",\"active\":true}",
         "{\"userName\":\"ada\",\"workPhone\":\"1\",\"workEmail\":\"a@x\","
         "\"workCity\":\"P\",\"workCountry\":\"FR\",\"active\":true}",
         "add:phoneNumbers,add:emails,add:addresses"},
        /* a name it lacks: the complex attribute whole */
        {"{\"userName\":\"ada\",\"active\":true}",
         "{\"userName\":\"ada\",\"name.givenName\":\"A\",\"name.familyName\":\"L\","
         "\"active\":true}",
         "add:name"},
        /* the entry exists: value-filter paths for what changes or is new in it */
        {"{\"userName\":\"ada\",\"workCity\":\"P\",\"active\":true}",
         "{\"userName\":\"ada\",\"workCity\":\"L\",\"workState\":\"R\",\"active\":true}",
         "replace:addresses[type eq \"work\"].locality,"
         "add:addresses[type eq \"work\"].region"},
        /* one value of an entry cleared, another kept: that value removed */
        {"{\"userName\":\"ada\",\"workCity\":\"P\",\"workState\":\"R\",\"active\":true}",
         "{\"userName\":\"ada\",\"workCity\":\"P\",\"active\":true}",
         "remove:addresses[type eq \"work\"].region"},
        /* every value of an entry cleared: the element removed */
        {"{\"userName\":\"ada\",\"workPhone\":\"1\",\"active\":true}",
         "{\"userName\":\"ada\",\"active\":true}", "remove:phoneNumbers[type eq \"work\"]"},
        /* a complex attribute keeps its other values: sub-attributes only */
        {"{\"userName\":\"ada\",\"name.givenName\":\"A\",\"name.familyName\":\"L\","
         "\"active\":true}",
         "{\"userName\":\"ada\",\"name.givenName\":\"B\",\"active\":true}",
         "replace:name.givenName,remove:name.familyName"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *before = json_loads(rows[i].before, 0, NULL);
        json_t *after = json_loads(rows[i].after, 0, NULL);
        json_object_del(after, "active");
        struct planner_input in = base(after);
        in.target_id = "t1";
        in.sent = before;
        in.sent_digest = planner_digest(before);
        struct planner_op op;
        struct sc_error e = {0};
        assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
        assert_int_equal(op.action, PLANNER_UPDATE);
        char got[512];
        patch_ops(op.body, got, sizeof got);
        if (strcmp(got, rows[i].ops) != 0)
            fail_msg("row %zu: %s, want %s", i, got, rows[i].ops);
        /* every operation says which flat keys it carries */
        assert_int_equal(json_array_size(op.op_keys),
                         json_array_size(json_object_get(op.body, "Operations")));
        planner_op_clear(&op);
        json_decref(before);
        json_decref(after);
    }
}

static void test_rejected_attribute_is_held_until_its_value_changes(void **state)
{
    (void)state;
    json_t *d = flat("Chief");
    json_object_set_new(d, "nickName", json_string("al"));
    json_t *sent = sent_of("Chief", 1); /* title already there, nickName never taken */
    json_t *rej = json_pack("{s:{s:s, s:s}}", "nickName", "value", "al", "error", "no");
    struct planner_input in = base(d);
    in.target_id = "t1";
    in.sent = sent;
    in.sent_digest = planner_digest(sent);
    in.rejected = rej;
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_NOOP);
    assert_string_equal(op.state, SYNC_STATE_PARTIAL);
    assert_non_null(json_object_get(op.rejected, "nickName"));
    planner_op_clear(&op);
    /* another change goes out without the rejected attribute */
    json_object_set_new(d, "title", json_string("Boss"));
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    char got[256];
    patch_ops(op.body, got, sizeof got);
    assert_string_equal(got, "replace:title");
    assert_string_equal(op.state, SYNC_STATE_PARTIAL);
    planner_op_clear(&op);
    /* a new value is tried again */
    json_object_set_new(d, "nickName", json_string("bo"));
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    patch_ops(op.body, got, sizeof got);
    assert_string_equal(got, "replace:title,add:nickName");
    assert_string_equal(op.state, SYNC_STATE_SYNCED);
    assert_null(op.rejected);
    planner_op_clear(&op);
    json_decref(rej);
    json_decref(sent);
    json_decref(d);
}

static void test_excluded_keys_wait_for_a_later_attempt(void **state)
{
    (void)state;
    json_t *d = flat("Boss");
    json_object_set_new(d, "nickName", json_string("al"));
    json_t *sent = sent_of("Chief", 1);
    json_t *ex = json_pack("{s:b}", "nickName", 1);
    struct planner_input in = base(d);
    in.target_id = "t1";
    in.sent = sent;
    in.sent_digest = planner_digest(sent);
    in.exclude = ex;
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    char got[256];
    patch_ops(op.body, got, sizeof got);
    assert_string_equal(got, "replace:title");
    assert_null(json_object_get(op.next_sent, "nickName"));
    json_t *keys = planner_keys_changed(sent, op.next_sent);
    assert_int_equal(json_array_size(keys), 1); /* title only: nickName waits */
    json_decref(keys);
    planner_op_clear(&op);
    /* a create leaves them out of the POST */
    in.target_id = NULL;
    in.sent = NULL;
    in.sent_digest = 0;
    in.absent = 1;
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_CREATE);
    assert_null(json_object_get(op.body, "nickName"));
    planner_op_clear(&op);
    json_decref(ex);
    json_decref(sent);
    json_decref(d);
}

static void test_unmapped_rows_stop_flowing_unless_cleared(void **state)
{
    (void)state;
    json_t *d = flat("Chief");
    json_t *sent = sent_of("Chief", 1);
    json_object_set_new(sent, "nickName", json_string("al")); /* a row since removed */
    static const char *const mapped[] = {"userName", "title", "name.givenName"};
    struct planner_input in = base(d);
    in.target_id = "t1";
    in.sent = sent;
    in.sent_digest = planner_digest(sent);
    in.mapped = mapped;
    in.nmapped = 3;
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_NOOP); /* nothing sent: no remove of nickName */
    assert_null(op.method);
    assert_non_null(op.next_sent); /* and it stops being tracked */
    assert_null(json_object_get(op.next_sent, "nickName"));
    planner_op_clear(&op);
    /* a row removed with clearOnUnmap: removed on the target */
    json_t *clear = json_pack("[s]", "nickName");
    in.clear = clear;
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    char got[128];
    patch_ops(op.body, got, sizeof got);
    assert_string_equal(got, "remove:nickName");
    planner_op_clear(&op);
    json_decref(clear);
    json_decref(sent);
    json_decref(d);
}

static void test_action_names_and_clearing_nothing(void **state)
{
    (void)state;
    static const struct {
        enum planner_action a;
        const char *name;
    } names[] = {{PLANNER_NOOP, "NOOP"},
                 {PLANNER_LOOKUP, "LOOKUP"},
                 {PLANNER_CREATE, "CREATE"},
                 {PLANNER_UPDATE, "UPDATE"},
                 {PLANNER_ENABLE, "ENABLE"},
                 {PLANNER_DISABLE, "DISABLE"},
                 {PLANNER_DELETE, "DELETE"},
                 {PLANNER_UNSYNCED, "UNSYNCED"},
                 {PLANNER_PARTIAL, "PARTIALLY_SYNCED"},
                 {PLANNER_OUT_OF_SCOPE, "OUT_OF_SCOPE"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(planner_action_name(names[i].a), names[i].name);
    assert_string_equal(planner_action_name((enum planner_action)99), "NOOP");
    planner_op_clear(NULL);
    assert_int_equal(planner_digest(NULL), 0);
}

static void test_reenable_by_put_when_updates_are_not_allowed(void **state)
{
    (void)state;
    json_t *d = flat("Chief");
    json_t *s = sent_of("Engineer", 0);
    struct planner_input in = base(d);
    in.target_id = "t1";
    in.sent = s;
    in.sent_digest = planner_digest(s);
    in.allow_update = 0;
    in.update_put = 1;
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_ENABLE);
    assert_string_equal(op.method, "PUT");
    /* the whole resource as the target holds it, active again, the new title held back */
    assert_string_equal(json_string_value(json_object_get(op.body, "id")), "t1");
    assert_string_equal(json_string_value(json_object_get(op.body, "title")), "Engineer");
    assert_true(json_is_true(json_object_get(op.body, "active")));
    assert_string_equal(op.state, SYNC_STATE_PARTIAL);
    planner_op_clear(&op);
    /* nothing else differs: the re-enable brings it in sync */
    json_object_set_new(d, "title", json_string("Engineer"));
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_ENABLE);
    assert_string_equal(op.state, SYNC_STATE_SYNCED);
    planner_op_clear(&op);
    /* and without Allow disable, nothing is sent at all */
    in.allow_disable = 0;
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_PARTIAL);
    assert_null(op.method);
    planner_op_clear(&op);
    json_decref(d);
    json_decref(s);
}

static void test_equal_values_under_another_digest_send_nothing(void **state)
{
    (void)state;
    /* an older record whose digest was made another way: the values are the same, so
     * nothing is sent and the canonical state is recorded */
    json_t *d = flat("Engineer");
    json_t *s = sent_of("Engineer", 1);
    struct planner_input in = base(d);
    in.target_id = "t1";
    in.sent = s;
    in.sent_digest = planner_digest(s) ^ 1;
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_NOOP);
    assert_null(op.method);
    assert_null(op.log_action);
    assert_string_equal(op.state, SYNC_STATE_SYNCED);
    assert_non_null(op.next_sent);
    assert_int_equal(op.next_digest, planner_digest(s));
    planner_op_clear(&op);
    json_decref(d);
    json_decref(s);
}

static void test_null_values_are_no_change(void **state)
{
    (void)state;
    /* a null the target never had, or a null recorded as sent, is not a change */
    json_t *d = flat("Chief");
    json_object_set_new(d, "nickName", json_null());
    json_t *s = sent_of("Engineer", 1);
    json_object_set_new(s, "displayName", json_null());
    struct planner_input in = base(d);
    in.target_id = "t1";
    in.sent = s;
    in.sent_digest = planner_digest(s);
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_UPDATE);
    assert_int_equal(json_array_size(op.changes), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(op.changes, 0), "attribute")), "title");
    planner_op_clear(&op);
    json_decref(d);
    json_decref(s);
}

static void test_a_rejected_attribute_is_held_at_the_targets_value(void **state)
{
    (void)state;
    /* the target holds "Engineer"; the user wants "Chief", which it rejected: the title
     * stays at what the target has while the rest goes out */
    json_t *d = flat("Chief");
    json_object_set_new(d, "nickName", json_string("al"));
    json_t *s = sent_of("Engineer", 1);
    json_t *rej = json_pack("{s:{s:s, s:s}}", "title", "value", "Chief", "error", "no");
    struct planner_input in = base(d);
    in.target_id = "t1";
    in.sent = s;
    in.sent_digest = planner_digest(s);
    in.rejected = rej;
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    char got[256];
    patch_ops(op.body, got, sizeof got);
    assert_string_equal(got, "add:nickName");
    assert_string_equal(op.state, SYNC_STATE_PARTIAL);
    assert_string_equal(json_string_value(json_object_get(op.next_sent, "title")), "Engineer");
    planner_op_clear(&op);
    json_decref(rej);
    json_decref(s);
    json_decref(d);
}

static void test_an_attribute_that_is_no_scim_path_cannot_be_sent(void **state)
{
    (void)state;
    json_t *d = json_pack("{s:s, s:s}", "userName", "ada", "no such [attribute", "x");
    struct planner_input in = base(d);
    in.absent = 1;
    struct planner_op op;
    struct sc_error e = {0};
    assert_int_equal(planner_plan(&in, &op, &e), SC_ERR_INVALID);
    assert_string_equal(e.field, "mappings");
    assert_null(op.body);
    assert_null(op.method);
    /* and the same for a PUT of a linked account */
    json_t *s = json_pack("{s:s, s:b}", "userName", "ada", "active", 1);
    in.absent = 0;
    in.target_id = "t1";
    in.sent = s;
    in.sent_digest = planner_digest(s);
    in.update_put = 1;
    memset(&e, 0, sizeof e);
    assert_int_equal(planner_plan(&in, &op, &e), SC_ERR_INVALID);
    assert_null(op.body);
    /* and a disable by PUT of it; a failed plan holds nothing (no leak, no half op) */
    in.in_scope = 0;
    memset(&e, 0, sizeof e);
    assert_int_equal(planner_plan(&in, &op, &e), SC_ERR_INVALID);
    assert_null(op.next_sent);
    assert_null(op.changes);
    assert_null(op.method);
    json_decref(s);
    json_decref(d);
}

/* Loop safety: a user that came from the rule's target connection gets nothing written
 * to it (no look-up, create, update or disable); the same user towards another
 * connection, or a linked user in sync, is planned as usual. */
static void test_user_from_the_target_is_not_written_back(void **state)
{
    (void)state;
    json_t *d = flat("Engineer");
    json_t *sent = sent_of("Intern", 1);
    struct planner_input in = base(d);
    in.origin_connection = "conn-entra";
    in.connection_id = "conn-entra";
    struct planner_op op;
    struct sc_error e = {0};
    /* unlinked: not even a look-up; absent: no create; create not allowed: no UNSYNCED */
    for (int i = 0; i < 3; i++) {
        in.absent = i > 0;
        in.allow_create = i < 2;
        assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
        assert_int_equal(op.action, PLANNER_LOOP_BACK);
        assert_null(op.method);
        assert_null(op.body);
        assert_string_equal(op.state, SYNC_STATE_UNSYNCED);
        assert_string_equal(op.log_action, "SKIP");
        assert_string_equal(planner_action_name(op.action), "LOOP_BACK");
        planner_op_clear(&op);
    }
    in.allow_create = 1;
    /* linked and different: no update; left scope: no disable */
    in.target_id = "t1";
    in.sent = sent;
    in.sent_digest = planner_digest(sent);
    in.has_link_row = 1;
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_LOOP_BACK);
    planner_op_clear(&op);
    in.in_scope = 0;
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_LOOP_BACK);
    assert_null(op.method);
    planner_op_clear(&op);
    /* towards another connection: an update as usual */
    in.in_scope = 1;
    in.connection_id = "conn-okta";
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_UPDATE);
    planner_op_clear(&op);
    /* no origin: as usual */
    in.connection_id = "conn-entra";
    in.origin_connection = "";
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_UPDATE);
    planner_op_clear(&op);
    /* out of scope and never linked: nothing to refuse, the usual no-op */
    in.origin_connection = "conn-entra";
    in.in_scope = 0;
    in.target_id = NULL;
    in.sent = NULL;
    in.sent_digest = 0;
    assert_int_equal(planner_plan(&in, &op, &e), SC_OK);
    assert_int_equal(op.action, PLANNER_NOOP);
    assert_string_equal(op.state, SYNC_STATE_OUT_OF_SCOPE);
    planner_op_clear(&op);
    json_decref(sent);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unlinked_in_scope_looks_up_first),
        cmocka_unit_test(test_absent_creates_with_active),
        cmocka_unit_test(test_create_not_allowed_is_unsynced),
        cmocka_unit_test(test_same_digest_is_a_noop),
        cmocka_unit_test(test_patch_sends_only_changes),
        cmocka_unit_test(test_put_sends_the_whole_resource),
        cmocka_unit_test(test_update_not_allowed_is_partial),
        cmocka_unit_test(test_return_to_scope_reenables_and_updates),
        cmocka_unit_test(test_leaving_scope_disables_by_patch_never_deletes),
        cmocka_unit_test(test_deleted_user_disabled_by_put_from_sent),
        cmocka_unit_test(test_remove_action_delete),
        cmocka_unit_test(test_removal_not_allowed_and_unlinked),
        cmocka_unit_test(test_digest_is_order_independent),
        cmocka_unit_test(test_patch_from_what_the_target_holds),
        cmocka_unit_test(test_rejected_attribute_is_held_until_its_value_changes),
        cmocka_unit_test(test_excluded_keys_wait_for_a_later_attempt),
        cmocka_unit_test(test_unmapped_rows_stop_flowing_unless_cleared),
        cmocka_unit_test(test_action_names_and_clearing_nothing),
        cmocka_unit_test(test_reenable_by_put_when_updates_are_not_allowed),
        cmocka_unit_test(test_equal_values_under_another_digest_send_nothing),
        cmocka_unit_test(test_user_from_the_target_is_not_written_back),
        cmocka_unit_test(test_null_values_are_no_change),
        cmocka_unit_test(test_a_rejected_attribute_is_held_at_the_targets_value),
        cmocka_unit_test(test_an_attribute_that_is_no_scim_path_cannot_be_sent),
        cmocka_unit_test(test_a_creates_changes_written_ahead_are_taken_once),
        cmocka_unit_test(test_an_update_writes_no_changes_ahead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
