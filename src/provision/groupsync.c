/* A rule's group provisioning section (validation, storage, API), the groups it selects
 * and the membership diff (groupsync.h). */
#include "provision/groupsync.h"
#include "scim/dialect.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "directory/directory.h"
#include "provision/rule.h"
#include "store/store_events.h"
#include "store/store_groupsync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const op_names[] = {"EQUALS", "STARTS_WITH", "ENDS_WITH", "CONTAINS"};
static const char *const source_names[] = {"name", "id", "description"};

void groupsync_config_clear(struct groupsync_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nnames; i++)
        free(c->names[i]);
    free(c->names);
    free(c->value);
    memset(c, 0, sizeof *c);
}

static void config_defaults(struct groupsync_config *c)
{
    memset(c, 0, sizeof *c);
    c->select = GROUPSYNC_SELECT_NAMES;
    c->members_per_request = GROUPSYNC_MEMBERS_DEFAULT;
    c->display_name = GROUPSYNC_SRC_NAME;
    c->external_id = GROUPSYNC_SRC_ID;
    c->has_external_id = 1;
}

/* A group name or filter value: a non-empty string of at most GROUPSYNC_VALUE_MAX bytes
 * without control characters. */
static enum sc_err check_value(const json_t *v, const char *field, struct sc_error *e)
{
    const char *s = json_string_value(v);
    if (!s || !*s)
        return sc_error_set(e, SC_ERR_INVALID, field, "%s must be a non-empty string", field);
    if (strlen(s) > GROUPSYNC_VALUE_MAX)
        return sc_error_set(e, SC_ERR_INVALID, field, "%s is longer than %d bytes", field,
                            GROUPSYNC_VALUE_MAX);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return sc_error_set(e, SC_ERR_INVALID, field, "%s holds a control character", field);
    return SC_OK;
}

static int name_of(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

static enum sc_err parse_select(const json_t *sel, struct groupsync_config *c, struct sc_error *e)
{
    if (!json_is_object(sel) || json_object_size(sel) != 1)
        return sc_error_set(e, SC_ERR_INVALID, "select",
                            "select must be an object with one of \"names\", \"filter\" or "
                            "\"under\"");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)sel, key, v)
    {
        if (strcmp(key, "names") == 0) {
            if (!json_is_array(v))
                return sc_error_set(e, SC_ERR_INVALID, "select.names",
                                    "select.names must be an array of group names");
            if (json_array_size(v) > GROUPSYNC_NAMES_MAX)
                return sc_error_set(e, SC_ERR_INVALID, "select.names",
                                    "select.names holds more than %d names", GROUPSYNC_NAMES_MAX);
            c->select = GROUPSYNC_SELECT_NAMES;
            size_t i;
            json_t *n;
            c->names = calloc(json_array_size(v) + 1, sizeof *c->names);
            if (!c->names)
                return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
            json_array_foreach(v, i, n)
            {
                char field[48];
                snprintf(field, sizeof field, "select.names[%zu]", i);
                enum sc_err rc = check_value(n, field, e);
                if (rc)
                    return rc;
                for (size_t k = 0; k < c->nnames; k++)
                    if (strcasecmp(c->names[k], json_string_value(n)) == 0)
                        return sc_error_set(e, SC_ERR_INVALID, field, "%s repeats the group \"%s\"",
                                            field, c->names[k]);
                if (!(c->names[c->nnames] = sc_strdup(json_string_value(n))))
                    return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
                c->nnames++;
            }
        } else if (strcmp(key, "filter") == 0) {
            if (!json_is_object(v))
                return sc_error_set(e, SC_ERR_INVALID, "select.filter",
                                    "select.filter must be {\"attribute\": \"name\", "
                                    "\"operator\", \"value\"}");
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2)
            {
                if (strcmp(k2, "attribute") != 0 && strcmp(k2, "operator") != 0 &&
                    strcmp(k2, "value") != 0) {
                    char field[160];
                    snprintf(field, sizeof field, "select.filter.%.100s", k2);
                    return sc_error_set(e, SC_ERR_INVALID, field, "unknown field %s", field);
                }
            }
            const json_t *attr = json_object_get(v, "attribute");
            if (attr && (!json_is_string(attr) || strcmp(json_string_value(attr), "name") != 0))
                return sc_error_set(e, SC_ERR_INVALID, "select.filter.attribute",
                                    "select.filter.attribute must be \"name\"");
            const char *op = json_string_value(json_object_get(v, "operator"));
            int o = op ? name_of(op_names, 4, op) : -1;
            if (o < 0)
                return sc_error_set(e, SC_ERR_INVALID, "select.filter.operator",
                                    "select.filter.operator must be EQUALS, STARTS_WITH, "
                                    "ENDS_WITH or CONTAINS");
            enum sc_err rc = check_value(json_object_get(v, "value"), "select.filter.value", e);
            if (rc)
                return rc;
            c->select = GROUPSYNC_SELECT_FILTER;
            c->op = (enum groupsync_op)o;
            if (!(c->value = sc_strdup(json_string_value(json_object_get(v, "value")))))
                return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
        } else if (strcmp(key, "under") == 0) {
            enum sc_err rc = check_value(v, "select.under", e);
            if (rc)
                return rc;
            c->select = GROUPSYNC_SELECT_UNDER;
            if (!(c->value = sc_strdup(json_string_value(v))))
                return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
        } else {
            char field[160];
            snprintf(field, sizeof field, "select.%.100s", key);
            return sc_error_set(e, SC_ERR_INVALID, field,
                                "unknown field %s (one of names, filter, under)", field);
        }
    }
    return SC_OK;
}

static enum sc_err parse_mappings(const json_t *m, struct groupsync_config *c, struct sc_error *e)
{
    if (!json_is_array(m))
        return sc_error_set(e, SC_ERR_INVALID, "mappings",
                            "mappings must be an array of {\"target\", \"source\"}");
    int have_display = 0;
    c->has_external_id = 0;
    size_t i;
    json_t *row;
    json_array_foreach(m, i, row)
    {
        char field[64];
        snprintf(field, sizeof field, "mappings[%zu]", i);
        if (!json_is_object(row))
            return sc_error_set(e, SC_ERR_INVALID, field,
                                "%s must be an object {\"target\", \"source\"}", field);
        const char *k;
        json_t *v;
        json_object_foreach(row, k, v)
        {
            if (strcmp(k, "target") != 0 && strcmp(k, "source") != 0) {
                char f2[200];
                snprintf(f2, sizeof f2, "%s.%.100s", field, k);
                return sc_error_set(e, SC_ERR_INVALID, f2, "unknown field %s", f2);
            }
        }
        const char *target = json_string_value(json_object_get(row, "target"));
        const char *source = json_string_value(json_object_get(row, "source"));
        char ft[80], fs[80];
        snprintf(ft, sizeof ft, "%s.target", field);
        snprintf(fs, sizeof fs, "%s.source", field);
        int s = source ? name_of(source_names, 3, source) : -1;
        if (!target || (strcmp(target, "displayName") != 0 && strcmp(target, "externalId") != 0))
            return sc_error_set(e, SC_ERR_INVALID, ft,
                                "%s must be \"displayName\" or \"externalId\"", ft);
        if (s < 0)
            return sc_error_set(e, SC_ERR_INVALID, fs,
                                "%s must be \"name\", \"id\" or \"description\"", fs);
        if (strcmp(target, "displayName") == 0) {
            if (have_display)
                return sc_error_set(e, SC_ERR_INVALID, ft, "%s maps displayName a second time", ft);
            have_display = 1;
            c->display_name = (enum groupsync_source)s;
        } else {
            if (c->has_external_id)
                return sc_error_set(e, SC_ERR_INVALID, ft, "%s maps externalId a second time", ft);
            c->has_external_id = 1;
            c->external_id = (enum groupsync_source)s;
        }
    }
    if (!have_display)
        return sc_error_set(e, SC_ERR_INVALID, "mappings", "mappings must map displayName");
    return SC_OK;
}

enum sc_err groupsync_config_parse(const json_t *in, struct groupsync_config *out,
                                   struct sc_error *e)
{
    struct groupsync_config c;
    config_defaults(&c);
    enum sc_err rc = SC_OK;
    if (!json_is_object(in)) {
        rc = sc_error_set(e, SC_ERR_INVALID, NULL,
                          "the group provisioning section must be a JSON object");
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)in, key, v)
    {
        if (strcmp(key, "enabled") == 0) {
            if (!json_is_boolean(v)) {
                rc = sc_error_set(e, SC_ERR_INVALID, "enabled", "enabled must be true or false");
                goto done;
            }
            c.enabled = json_is_true(v);
        } else if (strcmp(key, "select") == 0) {
            if ((rc = parse_select(v, &c, e)))
                goto done;
        } else if (strcmp(key, "nested") == 0) {
            const char *s = json_string_value(v);
            if (!s || (strcmp(s, "flatten") != 0 && strcmp(s, "nested") != 0)) {
                rc = sc_error_set(e, SC_ERR_INVALID, "nested",
                                  "nested must be \"flatten\" or \"nested\"");
                goto done;
            }
            c.nested = strcmp(s, "nested") == 0;
        } else if (strcmp(key, "onRemove") == 0) {
            const char *s = json_string_value(v);
            if (!s || (strcmp(s, "removeMembers") != 0 && strcmp(s, "delete") != 0)) {
                rc = sc_error_set(e, SC_ERR_INVALID, "onRemove",
                                  "onRemove must be \"removeMembers\" or \"delete\"");
                goto done;
            }
            c.remove_delete = strcmp(s, "delete") == 0;
        } else if (strcmp(key, "membersPerRequest") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > GROUPSYNC_MEMBERS_MAX) {
                rc = sc_error_set(e, SC_ERR_INVALID, "membersPerRequest",
                                  "membersPerRequest must be an integer from 1 to %d",
                                  GROUPSYNC_MEMBERS_MAX);
                goto done;
            }
            c.members_per_request = (int)json_integer_value(v);
        } else if (strcmp(key, "mappings") == 0) {
            if ((rc = parse_mappings(v, &c, e)))
                goto done;
        } else {
            char field[160];
            snprintf(field, sizeof field, "%.100s", key);
            rc = sc_error_set(e, SC_ERR_INVALID, field,
                              "unknown field %s (enabled, select, nested, onRemove, "
                              "membersPerRequest, mappings)",
                              field);
            goto done;
        }
    }
    if (c.enabled && c.select == GROUPSYNC_SELECT_NAMES && c.nnames == 0) {
        rc = sc_error_set(e, SC_ERR_INVALID, "select",
                          "select must choose groups (names, filter or under) when enabled");
        goto done;
    }
done:
    if (rc || !out)
        groupsync_config_clear(&c);
    else
        *out = c;
    return rc;
}

json_t *groupsync_config_to_api(const struct groupsync_config *c)
{
    json_t *sel = NULL;
    if (c->select == GROUPSYNC_SELECT_NAMES) {
        json_t *names = json_array();
        for (size_t i = 0; names && i < c->nnames; i++)
            json_array_append_new(names, json_string(c->names[i]));
        sel = names ? json_pack("{s:o}", "names", names) : NULL;
    } else if (c->select == GROUPSYNC_SELECT_FILTER) {
        sel = json_pack("{s:{s:s, s:s, s:s}}", "filter", "attribute", "name", "operator",
                        op_names[c->op], "value", c->value);
    } else {
        sel = json_pack("{s:s}", "under", c->value);
    }
    json_t *maps =
        json_pack("[{s:s, s:s}]", "target", "displayName", "source", source_names[c->display_name]);
    if (maps && c->has_external_id)
        json_array_append_new(maps, json_pack("{s:s, s:s}", "target", "externalId", "source",
                                              source_names[c->external_id]));
    if (!sel || !maps) {
        json_decref(sel);
        json_decref(maps);
        return NULL;
    }
    return json_pack("{s:b, s:o, s:s, s:s, s:i, s:o}", "enabled", c->enabled, "select", sel,
                     "nested", c->nested ? "nested" : "flatten", "onRemove",
                     c->remove_delete ? "delete" : "removeMembers", "membersPerRequest",
                     c->members_per_request, "mappings", maps);
}

enum sc_err groupsync_config_load(struct store *st, const char *rule_id,
                                  struct groupsync_config *out)
{
    char *text = NULL;
    config_defaults(out);
    enum sc_err rc = store_groupsync_config_get(st, rule_id, &text);
    if (rc == SC_ERR_NOT_FOUND)
        return SC_OK;
    if (rc)
        return rc;
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    struct sc_error e = {0};
    if (!doc || groupsync_config_parse(doc, out, &e)) {
        SC_WARN("groupsync.config_invalid", "rule=%s message=\"%s\"", rule_id, e.message);
        config_defaults(out);
    }
    json_decref(doc);
    return SC_OK;
}

enum sc_err provision_rule_groups_get(const struct provision_config_ctx *cx, const char *id,
                                      json_t **out, struct sc_error *e)
{
    struct rule r = {0};
    enum sc_err rc = rule_get(cx->st, id, &r, e);
    if (rc)
        return rc;
    rule_clear(&r);
    struct groupsync_config c;
    if ((rc = groupsync_config_load(cx->st, id, &c)))
        return sc_error_set(e, rc, NULL, "cannot read the group provisioning section");
    json_t *v = groupsync_config_to_api(&c);
    groupsync_config_clear(&c);
    if (!v)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    *out = v;
    return SC_OK;
}

enum sc_err provision_rule_groups_put(const struct provision_config_ctx *cx, const char *id,
                                      const json_t *body, json_t **out, struct sc_error *e)
{
    struct groupsync_config c;
    enum sc_err rc = groupsync_config_parse(body, &c, e);
    if (rc)
        return rc;
    json_t *doc = groupsync_config_to_api(&c);
    char *text = doc ? sc_json_dump(doc) : NULL;
    groupsync_config_clear(&c);
    struct rule r = {0};
    if (!text) {
        rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    if ((rc = store_begin(cx->st))) {
        rc = sc_error_set(e, rc, NULL, "the database is busy: try again");
        goto done;
    }
    if ((rc = rule_get(cx->st, id, &r, e))) {
        store_rollback(cx->st);
        goto done;
    }
    if ((rc = store_groupsync_config_put(cx->st, id, text)) ||
        (rc = store_event_append(cx->st, "rule.groups", id, "{}"))) {
        store_rollback(cx->st);
        rc = sc_error_set(e, SC_ERR_DB, NULL, "the change could not be saved");
        goto done;
    }
    if (store_commit(cx->st) != SC_OK) {
        store_rollback(cx->st);
        rc = sc_error_set(e, SC_ERR_DB, NULL, "the change could not be saved");
        goto done;
    }
    if (cx->wake)
        cx->wake(cx->wake_arg);
    SC_INFO("rule.groups_updated", "id=%s", id);
    *out = doc;
    doc = NULL;
done:
    rule_clear(&r);
    json_decref(doc);
    free(text);
    return rc;
}

/* ---- selection ---- */

static int name_matches(const struct groupsync_config *c, const char *name)
{
    size_t n = strlen(name), m = strlen(c->value);
    switch (c->op) {
    case GROUPSYNC_OP_EQUALS:
        return strcasecmp(name, c->value) == 0;
    case GROUPSYNC_OP_STARTS_WITH:
        return n >= m && strncasecmp(name, c->value, m) == 0;
    case GROUPSYNC_OP_ENDS_WITH:
        return n >= m && strcasecmp(name + n - m, c->value) == 0;
    case GROUPSYNC_OP_CONTAINS:
        for (size_t i = 0; i + m <= n; i++)
            if (strncasecmp(name + i, c->value, m) == 0)
                return 1;
        return 0;
    }
    return 0;
}

/* Whether group i or a group containing it (at any depth) is named name. */
static int is_under(const struct directory_groups *g, size_t i, const char *name)
{
    size_t n = directory_groups_count(g);
    unsigned char *seen = calloc(n ? n : 1, 1);
    uint32_t *stack = malloc((n ? n : 1) * sizeof *stack);
    int found = 0;
    size_t top = 0;
    if (!seen || !stack)
        goto done;
    stack[top++] = (uint32_t)i;
    seen[i] = 1;
    while (top && !found) {
        uint32_t k = stack[--top];
        if (strcasecmp(directory_groups_name_at(g, k), name) == 0) {
            found = 1;
            break;
        }
        const uint32_t *parents = NULL;
        size_t np = directory_groups_parents_at(g, k, &parents);
        for (size_t p = 0; p < np; p++)
            if (!seen[parents[p]]) {
                seen[parents[p]] = 1;
                stack[top++] = parents[p];
            }
    }
done:
    free(seen);
    free(stack);
    return found;
}

int groupsync_selects(const struct groupsync_config *c, const struct directory_groups *g, size_t i)
{
    const char *name = directory_groups_name_at(g, i);
    switch (c->select) {
    case GROUPSYNC_SELECT_NAMES:
        for (size_t k = 0; k < c->nnames; k++)
            if (strcasecmp(c->names[k], name) == 0)
                return 1;
        return 0;
    case GROUPSYNC_SELECT_FILTER:
        return name_matches(c, name);
    case GROUPSYNC_SELECT_UNDER:
        return is_under(g, i, c->value);
    }
    return 0;
}

const char *groupsync_source_value(enum groupsync_source s, const json_t *group)
{
    const char *k = s == GROUPSYNC_SRC_NAME ? "name" : s == GROUPSYNC_SRC_ID ? "id" : "description";
    const char *v = json_string_value(json_object_get(group, k));
    return v && *v ? v : NULL;
}

/* ---- membership diff ---- */

enum sc_err groupsync_members_add(struct groupsync_members *m, const char *target_id,
                                  const char *member_id, int is_group)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct groupsync_member *v = realloc(m->v, cap * sizeof *v);
        if (!v)
            return SC_ERR_NOMEM;
        m->v = v;
        m->cap = cap;
    }
    struct groupsync_member *x = &m->v[m->n];
    x->target_id = sc_strdup(target_id);
    x->member_id = member_id ? sc_strdup(member_id) : NULL;
    x->is_group = is_group;
    if (!x->target_id || (member_id && !x->member_id)) {
        free(x->target_id);
        free(x->member_id);
        return SC_ERR_NOMEM;
    }
    m->n++;
    return SC_OK;
}

static int cmp_member(const void *a, const void *b)
{
    const struct groupsync_member *x = a, *y = b;
    return strcmp(x->target_id, y->target_id);
}

void groupsync_members_sort(struct groupsync_members *m)
{
    if (m->n < 2)
        return;
    qsort(m->v, m->n, sizeof *m->v, cmp_member);
    size_t w = 1;
    for (size_t i = 1; i < m->n; i++) {
        if (strcmp(m->v[i].target_id, m->v[w - 1].target_id) == 0) {
            free(m->v[i].target_id);
            free(m->v[i].member_id);
            continue;
        }
        m->v[w++] = m->v[i];
    }
    m->n = w;
}

void groupsync_members_clear(struct groupsync_members *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].target_id);
        free(m->v[i].member_id);
    }
    free(m->v);
    memset(m, 0, sizeof *m);
}

enum sc_err groupsync_diff(const struct groupsync_members *have,
                           const struct groupsync_members *want, struct groupsync_members *adds,
                           struct groupsync_members *removes)
{
    size_t i = 0, k = 0;
    enum sc_err rc = SC_OK;
    while (!rc && (i < have->n || k < want->n)) {
        int c = i == have->n   ? 1
                : k == want->n ? -1
                               : strcmp(have->v[i].target_id, want->v[k].target_id);
        if (c == 0) {
            i++, k++;
        } else if (c < 0) {
            rc = groupsync_members_add(removes, have->v[i].target_id, have->v[i].member_id,
                                       have->v[i].is_group);
            i++;
        } else {
            rc = groupsync_members_add(adds, want->v[k].target_id, want->v[k].member_id,
                                       want->v[k].is_group);
            k++;
        }
    }
    return rc;
}

json_t *groupsync_patch_body(const struct groupsync_member *v, size_t n, int add)
{
    json_t *ops = json_array();
    json_t *body =
        ops ? json_pack("{s:[s], s:o}", "schemas", "urn:ietf:params:scim:api:messages:2.0:PatchOp",
                        "Operations", ops)
            : NULL;
    if (!body)
        return NULL;
    if (add) {
        json_t *vals = json_array();
        for (size_t i = 0; vals && i < n; i++)
            json_array_append_new(vals, json_pack("{s:s}", "value", v[i].target_id));
        json_array_append_new(ops, json_pack("{s:s, s:s, s:o}", "op", "add", "path", "members",
                                             "value", vals ? vals : json_array()));
        return body;
    }
    for (size_t i = 0; i < n; i++) {
        struct sc_buf path;
        sc_buf_init(&path, 0);
        /* the id is quoted as a SCIM string: escape '"' and '\' */
        sc_buf_puts(&path, "members[value eq \"");
        for (const char *p = v[i].target_id; *p; p++) {
            if (*p == '"' || *p == '\\')
                sc_buf_puts(&path, "\\");
            char ch[2] = {*p, 0};
            sc_buf_puts(&path, ch);
        }
        sc_buf_puts(&path, "\"]");
        json_array_append_new(
            ops, json_pack("{s:s, s:s}", "op", "remove", "path", path.data ? path.data : ""));
        sc_buf_free(&path);
    }
    return body;
}

int groupsync_brake_holds(size_t removes, size_t held)
{
    size_t limit = held * GROUPSYNC_BRAKE_PERCENT / 100;
    if (limit < GROUPSYNC_BRAKE_MIN)
        limit = GROUPSYNC_BRAKE_MIN;
    return removes > limit;
}

/* ---- status and log ---- */

json_t *groupsync_status(struct store *st, const char *rule_id)
{
    struct groupsync_config c;
    struct store_groupsync_counts n;
    if (groupsync_config_load(st, rule_id, &c) || store_groupsync_counts(st, rule_id, &n))
        return NULL;
    json_t *v = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I}", "enabled", c.enabled, "linked",
                          (json_int_t)n.groups, "synced", (json_int_t)n.synced, "failed",
                          (json_int_t)n.failed, "braked", (json_int_t)n.braked, "members",
                          (json_int_t)n.members);
    groupsync_config_clear(&c);
    return v;
}

/* Pages of the store's log read for one page of a kind-filtered list, at most. */
#define LOG_SCAN_PAGES 20

static void log_annotate(json_t *item)
{
    const char *uid = json_string_value(json_object_get(item, "userId"));
    size_t plen = sizeof GROUPSYNC_ITEM_PREFIX - 1;
    if (uid && strncmp(uid, GROUPSYNC_ITEM_PREFIX, plen) == 0) {
        json_object_set_new(item, "kind", json_string("group"));
        json_object_set_new(item, "groupId", json_string(uid + plen));
        json_object_set_new(item, "groupName", json_incref(json_object_get(item, "username")));
        json_object_set_new(item, "userId", json_null());
        json_object_set_new(item, "username", json_null());
    } else {
        json_object_set_new(item, "kind", json_string("user"));
    }
}

enum sc_err groupsync_log_list(struct store *st, const char *rule_id, const char *user_id,
                               const char *action, const char *status, const char *kind, int limit,
                               const char *cursor, json_t **items, char **next, struct sc_error *e)
{
    json_t *out = json_array();
    char *cur = cursor ? sc_strdup(cursor) : NULL;
    enum sc_err err = out ? SC_OK : SC_ERR_NOMEM;
    *next = NULL;
    for (int page = 0; !err && page < LOG_SCAN_PAGES; page++) {
        json_t *got = json_array();
        char *n = NULL;
        err = store_sync_log_list(st, rule_id, user_id, action, status, limit, cur, got, &n);
        if (err) {
            json_decref(got);
            break;
        }
        size_t i;
        json_t *it;
        const char *last = NULL;
        int full = 0;
        json_array_foreach(got, i, it)
        {
            log_annotate(it);
            last = json_string_value(json_object_get(it, "id"));
            if (kind && strcmp(json_string_value(json_object_get(it, "kind")), kind) != 0)
                continue;
            json_array_append(out, it);
            if ((int)json_array_size(out) == limit) {
                full = 1;
                break;
            }
        }
        free(cur);
        cur = NULL;
        if (full) {
            /* more may follow the last item given */
            if (n || i + 1 < json_array_size(got))
                *next = last ? sc_strdup(last) : NULL;
            free(n);
            json_decref(got);
            break;
        }
        json_decref(got);
        if (!n)
            break;
        cur = n;
        if (page + 1 == LOG_SCAN_PAGES)
            *next = sc_strdup(cur); /* scanned enough for one answer: go on from here */
    }
    free(cur);
    if (err) {
        json_decref(out);
        free(*next);
        *next = NULL;
        if (err == SC_ERR_INVALID)
            return sc_error_set(e, err, "cursor", "cursor is not one this server gave out");
        return sc_error_set(e, err, NULL, "cannot read the provisioning log");
    }
    *items = out;
    return SC_OK;
}

json_t *groupsync_patch_body_11(const struct groupsync_member *v, size_t n, int add)
{
    json_t *members = json_array();
    json_t *body =
        members ? json_pack("{s:[s], s:o}", "schemas", SCIM11_SCHEMA_CORE, "members", members)
                : NULL;
    if (!body)
        return NULL;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            members, add ? json_pack("{s:s}", "value", v[i].target_id)
                         : json_pack("{s:s, s:s}", "value", v[i].target_id, "operation", "delete"));
    return body;
}
