/* Unit tests for group provisioning's pure parts: the section's validation (every field
 * named in its error, defaults), its canonical form, the membership diff (only the
 * change, both ways, repeats dropped), the PATCH bodies a batch becomes (one add op with
 * every value, one remove op per member with its id quoted as a SCIM string), cutting
 * a diff into batches of membersPerRequest, and the brake on member removals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "provision/groupsync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void expect_field(const char *json, const char *field)
{
    json_t *in = json_loads(json, 0, NULL);
    assert_non_null(in);
    struct sc_error e = {0};
    struct groupsync_config c;
    assert_int_equal(groupsync_config_parse(in, &c, &e), SC_ERR_INVALID);
    if (strcmp(e.field, field) != 0)
        fail_msg("%s: field %s, want %s (%s)", json, e.field, field, e.message);
    json_decref(in);
}

static void test_every_field_is_validated_with_its_name(void **state)
{
    (void)state;
    expect_field("[]", "");
    expect_field("{\"enabled\": 1}", "enabled");
    expect_field("{\"select\": []}", "select");
    expect_field("{\"select\": {}}", "select");
    expect_field("{\"select\": {\"names\": \"a\"}}", "select.names");
    expect_field("{\"select\": {\"names\": [\"a\", \"\"]}}", "select.names[1]");
    expect_field("{\"select\": {\"names\": [\"a\", \"b\\u0001\"]}}", "select.names[1]");
    expect_field("{\"select\": {\"names\": [\"Eng\", \"eng\"]}}", "select.names[1]");
    expect_field("{\"select\": {\"filter\": {\"operator\": \"EQUALS\"}}}", "select.filter.value");
    expect_field("{\"select\": {\"filter\": {\"operator\": \"eq\", \"value\": \"a\"}}}",
                 "select.filter.operator");
    expect_field("{\"select\": {\"filter\": {\"attribute\": \"id\", \"operator\": \"EQUALS\", "
                 "\"value\": \"a\"}}}",
                 "select.filter.attribute");
    expect_field("{\"select\": {\"filter\": {\"operator\": \"EQUALS\", \"value\": \"a\", "
                 "\"x\": 1}}}",
                 "select.filter.x");
    expect_field("{\"select\": {\"under\": \"\"}}", "select.under");
    expect_field("{\"select\": {\"other\": \"a\"}}", "select.other");
    expect_field("{\"nested\": true}", "nested");
    expect_field("{\"onRemove\": \"keep\"}", "onRemove");
    expect_field("{\"membersPerRequest\": 1.5}", "membersPerRequest");
    expect_field("{\"membersPerRequest\": 1001}", "membersPerRequest");
    expect_field("{\"mappings\": {}}", "mappings");
    expect_field("{\"mappings\": [1]}", "mappings[0]");
    expect_field("{\"mappings\": [{\"target\": \"displayName\", \"source\": \"name\", \"x\": 1}]}",
                 "mappings[0].x");
    expect_field("{\"mappings\": [{\"target\": \"displayName\", \"source\": \"name\"}, "
                 "{\"target\": \"displayName\", \"source\": \"id\"}]}",
                 "mappings[1].target");
    expect_field("{\"mappings\": []}", "mappings");
    expect_field("{\"enabled\": true}", "select");
    expect_field("{\"colour\": 1}", "colour");
}

static void test_defaults_and_canonical_form(void **state)
{
    (void)state;
    json_t *in = json_loads("{}", 0, NULL);
    struct sc_error e = {0};
    struct groupsync_config c;
    assert_int_equal(groupsync_config_parse(in, &c, &e), SC_OK);
    assert_false(c.enabled);
    assert_int_equal(c.members_per_request, GROUPSYNC_MEMBERS_DEFAULT);
    json_t *out = groupsync_config_to_api(&c);
    char *text = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(text, "{\"enabled\":false,\"mappings\":[{\"source\":\"name\",\"target\":"
                              "\"displayName\"},{\"source\":\"id\",\"target\":\"externalId\"}],"
                              "\"membersPerRequest\":100,\"nested\":\"flatten\",\"onRemove\":"
                              "\"removeMembers\",\"select\":{\"names\":[]}}");
    free(text);
    json_decref(out);
    groupsync_config_clear(&c);
    json_decref(in);

    /* what to_api gives parses back to itself */
    in = json_loads("{\"enabled\": true, \"select\": {\"filter\": {\"operator\": \"CONTAINS\", "
                    "\"value\": \"ops\"}}, \"nested\": \"nested\", \"onRemove\": \"delete\", "
                    "\"membersPerRequest\": 1000, \"mappings\": [{\"target\": \"displayName\", "
                    "\"source\": \"description\"}]}",
                    0, NULL);
    assert_int_equal(groupsync_config_parse(in, &c, &e), SC_OK);
    assert_true(c.nested && c.remove_delete && !c.has_external_id);
    out = groupsync_config_to_api(&c);
    struct groupsync_config again;
    assert_int_equal(groupsync_config_parse(out, &again, &e), SC_OK);
    json_t *out2 = groupsync_config_to_api(&again);
    assert_true(json_equal(out, out2));
    json_decref(out2);
    json_decref(out);
    groupsync_config_clear(&again);
    groupsync_config_clear(&c);
    json_decref(in);
}

static void fill(struct groupsync_members *m, const char *const *ids)
{
    for (; *ids; ids++)
        assert_int_equal(groupsync_members_add(m, *ids, *ids, 0), SC_OK);
    groupsync_members_sort(m);
}

static void test_the_diff_carries_only_the_change(void **state)
{
    (void)state;
    static const char *const have_ids[] = {"d", "a", "c", "c", NULL};
    static const char *const want_ids[] = {"b", "c", "e", "a", NULL};
    struct groupsync_members have = {0}, want = {0}, adds = {0}, removes = {0};
    fill(&have, have_ids);
    fill(&want, want_ids);
    assert_int_equal(have.n, 3); /* the repeat is dropped */
    assert_int_equal(groupsync_diff(&have, &want, &adds, &removes), SC_OK);
    assert_int_equal(adds.n, 2);
    assert_string_equal(adds.v[0].target_id, "b");
    assert_string_equal(adds.v[1].target_id, "e");
    assert_int_equal(removes.n, 1);
    assert_string_equal(removes.v[0].target_id, "d");
    groupsync_members_clear(&adds);
    groupsync_members_clear(&removes);
    /* no change: nothing to send */
    assert_int_equal(groupsync_diff(&want, &want, &adds, &removes), SC_OK);
    assert_int_equal(adds.n + removes.n, 0);
    groupsync_members_clear(&have);
    groupsync_members_clear(&want);
}

static void test_a_large_diff_is_cut_into_batches(void **state)
{
    (void)state;
    struct groupsync_members have = {0}, want = {0}, adds = {0}, removes = {0};
    char id[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "u%05d", i);
        assert_int_equal(groupsync_members_add(&want, id, id, 0), SC_OK);
        if (i % 2 == 0 || i >= 9990)
            assert_int_equal(groupsync_members_add(&have, id, id, 0), SC_OK);
    }
    for (int i = 0; i < 7; i++) {
        snprintf(id, sizeof id, "gone%d", i);
        assert_int_equal(groupsync_members_add(&have, id, id, 0), SC_OK);
    }
    groupsync_members_sort(&have);
    groupsync_members_sort(&want);
    assert_int_equal(groupsync_diff(&have, &want, &adds, &removes), SC_OK);
    assert_int_equal(adds.n, 4995);
    assert_int_equal(removes.n, 7);
    /* batches of at most 100 members: 50 add requests, the last of 95 */
    size_t per = 100, batches = 0, sent = 0;
    for (size_t pos = 0; pos < adds.n; pos += per) {
        size_t n = adds.n - pos < per ? adds.n - pos : per;
        json_t *body = groupsync_patch_body(&adds.v[pos], n, 1);
        json_t *ops = json_object_get(body, "Operations");
        assert_int_equal(json_array_size(ops), 1);
        json_t *op = json_array_get(ops, 0);
        assert_string_equal(json_string_value(json_object_get(op, "op")), "add");
        assert_string_equal(json_string_value(json_object_get(op, "path")), "members");
        assert_int_equal(json_array_size(json_object_get(op, "value")), n);
        sent += n;
        batches++;
        if (pos + per >= adds.n)
            assert_int_equal(n, 95);
        json_decref(body);
    }
    assert_int_equal(batches, 50);
    assert_int_equal(sent, adds.n);
    groupsync_members_clear(&have);
    groupsync_members_clear(&want);
    groupsync_members_clear(&adds);
    groupsync_members_clear(&removes);
}

static void test_removals_name_each_member_quoted(void **state)
{
    (void)state;
    struct groupsync_members m = {0};
    assert_int_equal(groupsync_members_add(&m, "a\"b\\c", NULL, 0), SC_OK);
    assert_int_equal(groupsync_members_add(&m, "plain", NULL, 1), SC_OK);
    json_t *body = groupsync_patch_body(m.v, m.n, 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(body, "schemas"), 0)),
                        "urn:ietf:params:scim:api:messages:2.0:PatchOp");
    json_t *ops = json_object_get(body, "Operations");
    assert_int_equal(json_array_size(ops), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "op")), "remove");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "path")),
                        "members[value eq \"a\\\"b\\\\c\"]");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 1), "path")),
                        "members[value eq \"plain\"]");
    assert_null(json_object_get(json_array_get(ops, 1), "value"));
    json_decref(body);
    groupsync_members_clear(&m);
}

/* SCIM 1.1: the members themselves, with "operation": "delete" on a removal. */
static void test_scim11_bodies(void **state)
{
    (void)state;
    struct groupsync_members m = {0};
    assert_int_equal(groupsync_members_add(&m, "u1", NULL, 0), SC_OK);
    assert_int_equal(groupsync_members_add(&m, "u2", NULL, 0), SC_OK);
    for (int add = 0; add <= 1; add++) {
        json_t *body = groupsync_patch_body_11(m.v, m.n, add);
        char *text = json_dumps(body, JSON_COMPACT);
        assert_string_equal(text, add ? "{\"schemas\":[\"urn:scim:schemas:core:1.0\"],"
                                        "\"members\":[{\"value\":\"u1\"},{\"value\":\"u2\"}]}"
                                      : "{\"schemas\":[\"urn:scim:schemas:core:1.0\"],"
                                        "\"members\":[{\"value\":\"u1\",\"operation\":"
                                        "\"delete\"},{\"value\":\"u2\",\"operation\":"
                                        "\"delete\"}]}");
        free(text);
        json_decref(body);
    }
    groupsync_members_clear(&m);
}

static void test_the_brake_holds_mass_removals(void **state)
{
    (void)state;
    assert_false(groupsync_brake_holds(100, 100));    /* the minimum */
    assert_true(groupsync_brake_holds(101, 150));     /* past the minimum and half */
    assert_false(groupsync_brake_holds(5000, 10000)); /* half */
    assert_true(groupsync_brake_holds(5001, 10000));
    assert_false(groupsync_brake_holds(0, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field_is_validated_with_its_name),
        cmocka_unit_test(test_defaults_and_canonical_form),
        cmocka_unit_test(test_the_diff_carries_only_the_change),
        cmocka_unit_test(test_a_large_diff_is_cut_into_batches),
        cmocka_unit_test(test_removals_name_each_member_quoted),
        cmocka_unit_test(test_scim11_bodies),
        cmocka_unit_test(test_the_brake_holds_mass_removals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
