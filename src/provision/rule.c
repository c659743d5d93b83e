/* Provisioning rules: reading them from the store, their API form, the conditions for
 * enabling one, and compiling a rule (connection, filter, mapping) for the engine. */
#include "provision/rule.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "directory/userfilter.h"
#include "provision/connection.h"
#include "provision/mapping.h"
#include "store/store_provision.h"
#include "store/store_sync.h"

#include <stdlib.h>
#include <string.h>

void rule_clear(struct rule *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->description);
    json_decref(r->filter);
    json_decref(r->mappings);
    memset(r, 0, sizeof *r);
}

json_t *rule_to_api(const struct rule *r)
{
    char ca[32], ua[32];
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:s, s:s}", "id", r->id, "name", r->name,
                     "description", r->description ? r->description : "", "source", "directory",
                     "target", r->target[0] ? json_string(r->target) : json_null(), "enabled",
                     r->enabled, "createdAt", sc_clock_format_iso8601(r->created_at, ca, sizeof ca),
                     "updatedAt", sc_clock_format_iso8601(r->updated_at, ua, sizeof ua));
}

enum sc_err rule_get(struct store *st, const char *id, struct rule *r, struct sc_error *e)
{
    struct store_rule row = {0};
    struct rule out = {0};
    enum sc_err rc = store_rule_get(st, id, &row);
    if (rc == SC_ERR_NOT_FOUND) {
        rc = sc_error_set(e, rc, NULL, "no rule with id %s", id);
        goto done;
    }
    if (rc) {
        rc = sc_error_set(e, rc, NULL, "cannot read the rule");
        goto done;
    }
    sc_strlcpy(out.id, row.id, sizeof out.id);
    sc_strlcpy(out.target, row.target_id, sizeof out.target);
    out.enabled = row.enabled;
    out.created_at = row.created_at;
    out.updated_at = row.updated_at;
    out.name = row.name;
    out.description = row.description;
    row.name = row.description = NULL;
    if (row.filter && (rc = sc_json_parse(row.filter, strlen(row.filter), 0, &out.filter, e)))
        goto done;
    if ((rc = sc_json_parse(row.mappings, strlen(row.mappings), 0, &out.mappings, e)))
        goto done;
    *r = out;
    memset(&out, 0, sizeof out);
done:
    rule_clear(&out);
    store_rule_clear(&row);
    return rc;
}

enum sc_err rule_check_enable(struct store *st, const struct rule *r, struct sc_error *e)
{
    if (!r->target[0])
        return sc_error_set(e, SC_ERR_INVALID, "target",
                            "choose the rule's Target connection before enabling it");
    struct store_connection conn = {0};
    enum sc_err rc = store_connection_get(st, r->target, &conn);
    if (rc == SC_ERR_NOT_FOUND)
        return sc_error_set(e, SC_ERR_INVALID, "target", "the target connection %s does not exist",
                            r->target);
    if (rc)
        return sc_error_set(e, rc, NULL, "cannot read the target connection");
    int enabled = conn.enabled;
    char name[CONNECTION_NAME_MAX + 1];
    sc_strlcpy(name, conn.name, sizeof name);
    store_connection_clear(&conn);
    if (!enabled)
        return sc_error_set(e, SC_ERR_CONFLICT, "enabled",
                            "the connection '%s' is disabled: enable the connection before "
                            "enabling the rule",
                            name);
    if (!r->filter)
        return sc_error_set(e, SC_ERR_INVALID, "filter",
                            "set a User Filter that names a population or group before "
                            "enabling the rule");
    struct userfilter *f = NULL;
    struct sc_error fe = {0};
    if (userfilter_compile(r->filter, &f, &fe) != SC_OK)
        return sc_error_set(e, SC_ERR_INVALID, "filter", "the rule's user filter is invalid: %s",
                            fe.message);
    int scoped = userfilter_names_scope(f);
    userfilter_free(f);
    if (!scoped)
        return sc_error_set(e, SC_ERR_INVALID, "filter",
                            "the user filter must name at least one population "
                            "(population.name) or group before the rule can be enabled");
    return SC_OK;
}

void rule_compiled_free(struct rule_compiled *rc)
{
    if (!rc)
        return;
    rule_clear(&rc->rule);
    connection_free(rc->conn);
    userfilter_free(rc->filter);
    mapping_free(rc->mapping);
    free(rc);
}

void rule_compiled_free_all(struct rule_compiled **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        rule_compiled_free(v[i]);
    free(v);
}

enum sc_err rule_compile(struct store *st, const struct secrets_key *k, const char *id,
                         struct rule_compiled **out, struct sc_error *e)
{
    *out = NULL;
    struct rule_compiled *rc = calloc(1, sizeof *rc);
    if (!rc)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    enum sc_err err = rule_get(st, id, &rc->rule, e);
    if (err)
        goto done;
    if (!rc->rule.target[0]) {
        err = sc_error_set(e, SC_ERR_NOT_FOUND, "target", "the rule '%s' has no target connection",
                           rc->rule.name);
        goto done;
    }
    if ((err = connection_load(st, k, rc->rule.target, NULL, &rc->conn, e)))
        goto done;
    if (!rc->rule.filter) {
        err = sc_error_set(e, SC_ERR_INVALID, "filter", "the rule '%s' has no user filter",
                           rc->rule.name);
        goto done;
    }
    if ((err = userfilter_compile(rc->rule.filter, &rc->filter, e)))
        goto done;
    if ((err = mapping_compile(rc->rule.mappings, &rc->mapping, e)))
        goto done;
done:
    if (err) {
        rule_compiled_free(rc);
        return err;
    }
    *out = rc;
    return SC_OK;
}

enum sc_err rule_load_enabled(struct store *st, const struct secrets_key *k,
                              struct rule_compiled ***out, size_t *n, size_t *skipped,
                              struct sc_error *e)
{
    *out = NULL;
    *n = 0;
    if (skipped)
        *skipped = 0;
    char(*ids)[SC_UUID_LEN + 1] = NULL;
    size_t nids = 0;
    enum sc_err err = store_rule_enabled_ids(st, &ids, &nids);
    if (err)
        return sc_error_set(e, err, NULL, "cannot list the enabled rules");
    struct rule_compiled **v = nids ? calloc(nids, sizeof *v) : NULL;
    if (nids && !v) {
        free(ids);
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    }
    size_t count = 0;
    for (size_t i = 0; i < nids; i++) {
        struct sc_error re = {0};
        enum sc_err rc = rule_compile(st, k, ids[i], &v[count], &re);
        if (rc == SC_OK) {
            count++;
            continue;
        }
        if (rc == SC_ERR_DB || rc == SC_ERR_NOMEM || rc == SC_ERR_BUSY) {
            rule_compiled_free_all(v, count);
            free(ids);
            return sc_error_set(e, rc, NULL, "%s", re.message);
        }
        SC_WARN("rule.skipped", "rule=%s reason=\"%s\"", ids[i], sc_strerror(rc));
        if (skipped)
            (*skipped)++;
    }
    free(ids);
    if (count == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = count;
    return SC_OK;
}

/* Is path one of m's row paths? */
static int mapping_has_path(const struct mapping *m, const char *path)
{
    for (size_t i = 0; i < mapping_count(m); i++)
        if (strcmp(mapping_target_path(m, i), path) == 0)
            return 1;
    return 0;
}

enum sc_err rule_mapping_clears_update(struct store *st, const char *rule_id,
                                       const json_t *old_rows, const json_t *new_rows,
                                       struct sc_error *e)
{
    struct mapping *om = NULL, *nm = NULL;
    char *text = NULL;
    json_t *list = NULL, *next = NULL;
    enum sc_err err = SC_OK;
    struct sc_error me = {0};
    if (mapping_compile(new_rows, &nm, &me) != SC_OK)
        goto done; /* not a valid mapping: nothing to record */
    if (old_rows && mapping_compile(old_rows, &om, &me) != SC_OK)
        om = NULL;
    if ((err = store_sync_rule_clears_get(st, rule_id, &text))) {
        sc_error_set(e, err, NULL, "cannot read the rule's sync state");
        goto done;
    }
    list = text ? json_loads(text, 0, NULL) : NULL;
    next = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *p = json_string_value(v);
        if (p && !mapping_has_path(nm, p))
            json_array_append(next, v);
    }
    for (i = 0; i < mapping_count(om); i++) {
        const char *p = mapping_target_path(om, i);
        int listed = 0;
        size_t k;
        json_array_foreach(next, k, v) listed = listed || strcmp(json_string_value(v), p) == 0;
        if (mapping_clear_on_unmap(om, i) && !mapping_has_path(nm, p) && !listed)
            json_array_append_new(next, json_string(p));
    }
    char *out = json_array_size(next) ? sc_json_dump(next) : NULL;
    if ((out || text) && (!out || !text || strcmp(out, text) != 0))
        err = store_sync_rule_clears_set(st, rule_id, out);
    free(out);
    if (err)
        sc_error_set(e, err, NULL, "cannot save the rule's sync state");
done:
    mapping_free(om);
    mapping_free(nm);
    free(text);
    json_decref(list);
    json_decref(next);
    return err;
}
