/* Capabilities of a connection's target (see caps.h): the document's defaults, its
 * storage with the engine's learnt facts kept across tests, and the warnings for
 * mapped attributes the target's User schema does not declare. */
#include "provision/caps.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "scim/alias.h"
#include "scim/path.h"
#include "scim/schema.h"
#include "store/store_groupsync.h"
#include "store/store_provision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAPS_KEY_MAX 128
#define CAPS_MAX_WARNINGS 1000

json_t *provision_caps_empty(const char *connection_id)
{
    return json_pack("{s:o, s:n, s:n, s:b, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:b, s:n,"
                     " s:b, s:n, s:{}}",
                     "connectionId", connection_id ? json_string(connection_id) : json_null(),
                     "testedAt", "scimVersion", "serviceProviderConfig", 0, "patch", "bulk",
                     "filter", "etag", "sort", "changePassword", "listing",
                     "userNameCaseInsensitive", "resourceTypes", 0, "usersEndpoint", "schemas", 0,
                     "userAttributes", "learnt");
}

/* Parses stored text into a document with every field (missing ones unknown). */
static enum sc_err caps_parse(const char *connection_id, const char *text, json_t **out)
{
    json_t *doc = provision_caps_empty(connection_id);
    json_t *stored = NULL;
    struct sc_error pe = {0};
    if (!doc)
        return SC_ERR_NOMEM;
    if (text && sc_json_parse(text, strlen(text), 0, &stored, &pe) == SC_OK &&
        json_is_object(stored)) {
        const char *key;
        json_t *v;
        json_object_foreach(stored, key, v)
        {
            if (strcmp(key, "connectionId") != 0 && strcmp(key, "warnings") != 0)
                json_object_set(doc, key, v);
        }
        if (!json_is_object(json_object_get(doc, "learnt")))
            json_object_set_new(doc, "learnt", json_object());
    }
    json_decref(stored);
    *out = doc;
    return SC_OK;
}

enum sc_err provision_caps_get(struct store *st, const char *connection_id, json_t **out)
{
    *out = NULL;
    char *text = NULL;
    enum sc_err rc = store_connection_caps_get(st, connection_id, &text, NULL);
    if (rc && rc != SC_ERR_NOT_FOUND)
        return rc;
    rc = caps_parse(connection_id, text, out);
    free(text);
    return rc;
}

static enum sc_err caps_write(struct store *st, const char *connection_id, const json_t *doc,
                              int64_t now_ms)
{
    char *text = sc_json_dump(doc);
    if (!text)
        return SC_ERR_NOMEM;
    enum sc_err rc = store_connection_caps_put(st, connection_id, text, now_ms);
    free(text);
    return rc;
}

enum sc_err provision_caps_learn(struct store *st, const char *connection_id, const char *key,
                                 json_t *value)
{
    if (!key || !*key || strlen(key) > CAPS_KEY_MAX)
        return SC_ERR_INVALID;
    int own = !store_in_transaction(st);
    json_t *doc = NULL;
    enum sc_err rc = own ? store_begin(st) : SC_OK;
    if (rc)
        return rc;
    if ((rc = provision_caps_get(st, connection_id, &doc)))
        goto done;
    json_t *learnt = json_object_get(doc, "learnt");
    if (!value || json_is_null(value))
        json_object_del(learnt, key);
    else if (json_object_set(learnt, key, value))
        rc = SC_ERR_NOMEM;
    if (!rc)
        rc = caps_write(st, connection_id, doc, sc_clock_now_ms());
done:
    json_decref(doc);
    if (own) {
        if (!rc)
            rc = store_commit(st);
        if (rc)
            store_rollback(st);
    }
    return rc;
}

/* A copy of doc without the fields a test does not decide. */
static json_t *comparable(const json_t *doc)
{
    json_t *c = json_deep_copy(doc);
    if (c) {
        json_object_del(c, "testedAt");
        json_object_del(c, "learnt");
        json_object_del(c, "connectionId");
        json_object_del(c, "warnings");
    }
    return c;
}

enum sc_err provision_caps_store(struct store *st, const char *connection_id, const json_t *found,
                                 int64_t now_ms, int *changed)
{
    char *text = NULL;
    json_t *old = NULL, *doc = NULL, *a = NULL, *b = NULL;
    enum sc_err rc = store_connection_caps_get(st, connection_id, &text, NULL);
    int had = rc == SC_OK;
    if (rc && rc != SC_ERR_NOT_FOUND)
        goto done;
    if ((rc = caps_parse(connection_id, text, &old)) ||
        (rc = caps_parse(connection_id, NULL, &doc)))
        goto done;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)found, key, v)
    {
        if (json_object_get(doc, key) && strcmp(key, "connectionId") != 0 &&
            strcmp(key, "testedAt") != 0 && strcmp(key, "learnt") != 0)
            json_object_set(doc, key, v);
    }
    char at[32];
    json_object_set_new(doc, "testedAt",
                        json_string(sc_clock_format_iso8601(now_ms, at, sizeof at)));
    json_object_set(doc, "learnt", json_object_get(old, "learnt"));
    a = comparable(old);
    b = comparable(doc);
    if (!a || !b) {
        rc = SC_ERR_NOMEM;
        goto done;
    }
    /* A refusal of Bulk requests the engine learnt holds until a test finds Bulk offered
     * again (the target may have been fixed): then the engine tries it again. */
    json_t *learnt = json_object_get(doc, "learnt");
    int retry_bulk = json_object_get(learnt, "bulk") &&
                     json_is_true(json_object_get(json_object_get(doc, "bulk"), "supported"));
    if (retry_bulk) {
        learnt = json_deep_copy(learnt);
        if (!learnt || json_object_del(learnt, "bulk") ||
            json_object_set_new(doc, "learnt", learnt)) {
            rc = SC_ERR_NOMEM;
            goto done;
        }
    }
    if ((rc = caps_write(st, connection_id, doc, now_ms)))
        goto done;
    if (changed)
        *changed = !had || retry_bulk || !json_equal(a, b);
done:
    free(text);
    json_decref(old);
    json_decref(doc);
    json_decref(a);
    json_decref(b);
    return rc;
}

enum sc_err provision_caps_rules(struct store *st, const char *connection_id, json_t **out)
{
    *out = NULL;
    char(*ids)[SC_UUID_LEN + 1] = NULL;
    size_t n = 0;
    enum sc_err rc = store_rule_ids_by_target(st, connection_id, &ids, &n);
    if (rc)
        return rc;
    json_t *rules = json_array();
    for (size_t i = 0; rules && !rc && i < n; i++) {
        struct store_rule r = {0};
        rc = store_rule_get(st, ids[i], &r);
        if (rc == SC_ERR_NOT_FOUND) { /* deleted meanwhile */
            rc = SC_OK;
            continue;
        }
        if (rc)
            break;
        json_t *rows = NULL;
        struct sc_error pe = {0};
        if (sc_json_parse(r.mappings, strlen(r.mappings), 0, &rows, &pe) != SC_OK)
            rows = json_array();
        /* whether the rule pushes groups (its section enabled) */
        char *gs = NULL;
        int groups = 0;
        if (store_groupsync_config_get(st, r.id, &gs) == SC_OK && gs) {
            json_t *doc = json_loads(gs, 0, NULL);
            groups = json_is_true(json_object_get(doc, "enabled"));
            json_decref(doc);
        }
        free(gs);
        json_array_append_new(rules,
                              json_pack("{s:s, s:s, s:o, s:b}", "id", r.id, "name", r.name,
                                        "mappings", rows ? rows : json_array(), "groups", groups));
        store_rule_clear(&r);
    }
    free(ids);
    if (!rules)
        rc = SC_ERR_NOMEM;
    if (rc) {
        json_decref(rules);
        return rc;
    }
    *out = rules;
    return SC_OK;
}

/* Whether user_attributes holds path (case-insensitive), or its parent attribute
 * declared without any sub-attribute. */
static int declared(const json_t *user_attributes, const char *path)
{
    size_t i;
    json_t *v;
    json_array_foreach(user_attributes, i, v)
    {
        const char *s = json_string_value(v);
        if (s && sc_strcaseeq(s, path))
            return 1;
    }
    const char *dot = strrchr(path, '.');
    const char *colon = strrchr(path, ':');
    if (!dot || (colon && colon > dot))
        return 0;
    size_t plen = (size_t)(dot - path);
    int parent = 0, any_sub = 0;
    json_array_foreach(user_attributes, i, v)
    {
        const char *s = json_string_value(v);
        if (!s || strlen(s) < plen || !sc_strncaseeq(s, path, plen))
            continue;
        if (s[plen] == '\0')
            parent = 1;
        else if (s[plen] == '.')
            any_sub = 1;
    }
    return parent && !any_sub;
}

/* Writes into out the declared form of a mapping target ("name.givenName",
 * "emails.value", "<extension URN>:department"). 0, or -1 when it is not checked (a
 * common attribute, or not a path). */
static int declared_form(const char *target, struct sc_buf *out)
{
    struct scim_path *p = NULL;
    struct scim_error se = {0};
    if (scim_path_parse(scim_alias_resolve(target), &p, &se) != SC_OK)
        return -1;
    const struct scim_resource_type *rt = scim_resource_type_user();
    const struct scim_schema *s = scim_path_schema(rt, p);
    int rc = 0;
    if (s == scim_schema_common()) {
        rc = -1;
    } else {
        const char *urn = p->schema;
        if (!urn && s && s != rt->schema)
            urn = s->id; /* an extension attribute named without its URN */
        if (urn && sc_strcaseeq(urn, rt->schema->id))
            urn = NULL; /* the core schema: its attributes are named bare */
        if (urn)
            sc_buf_printf(out, "%s:", urn);
        sc_buf_puts(out, p->attr);
        if (p->sub)
            sc_buf_printf(out, ".%s", p->sub);
        if (!out->data)
            rc = -1;
    }
    scim_path_free(p);
    return rc;
}

json_t *provision_caps_warnings(const json_t *user_attributes, const json_t *rules)
{
    json_t *out = json_array();
    if (!out || !json_is_array(user_attributes))
        return out;
    size_t i, j;
    json_t *rule, *row;
    json_array_foreach(rules, i, rule)
    {
        const char *rid = sc_json_get_string(rule, "id");
        const char *rname = sc_json_get_string(rule, "name");
        json_array_foreach(json_object_get(rule, "mappings"), j, row)
        {
            const char *target = sc_json_get_string(row, "target");
            if (!target || json_array_size(out) >= CAPS_MAX_WARNINGS)
                continue;
            struct sc_buf path;
            sc_buf_init(&path, 0);
            if (declared_form(target, &path) == 0 && !declared(user_attributes, path.data)) {
                char msg[1024];
                if (sc_strcaseeq(target, path.data))
                    snprintf(msg, sizeof msg,
                             "the target's schema does not declare %s (mapping row %zu of rule "
                             "'%s')",
                             path.data, j + 1, rname ? rname : "");
                else
                    snprintf(msg, sizeof msg,
                             "the target's schema does not declare %s (%s, mapping row %zu of "
                             "rule '%s')",
                             path.data, target, j + 1, rname ? rname : "");
                json_array_append_new(out,
                                      json_pack("{s:s?, s:s?, s:I, s:s, s:s, s:s}", "ruleId", rid,
                                                "ruleName", rname, "row", (json_int_t)j, "target",
                                                target, "path", path.data, "message", msg));
            }
            sc_buf_free(&path);
        }
    }
    return out;
}

enum sc_err provision_caps_api(struct store *st, const char *connection_id, json_t **out)
{
    *out = NULL;
    json_t *doc = NULL, *rules = NULL;
    enum sc_err rc = provision_caps_get(st, connection_id, &doc);
    if (!rc)
        rc = provision_caps_rules(st, connection_id, &rules);
    if (!rc) {
        json_t *w = provision_caps_warnings(json_object_get(doc, "userAttributes"), rules);
        if (!w)
            rc = SC_ERR_NOMEM;
        else
            json_object_set_new(doc, "warnings", w);
    }
    json_decref(rules);
    if (rc) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return SC_OK;
}
