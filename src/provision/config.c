/* The provisioning configuration's lifecycle (provision/config.h): connections with
 * sealed secrets, Test Connection and the capabilities it learns, rules with their user
 * filter and mapping. Each write runs in its own transaction on the caller's store
 * connection, with its change event, and wakes the engine once committed. */
#include "provision/config.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/id.h"
#include "base/json.h"
#include "base/log.h"
#include "directory/userfilter.h"
#include "http/allow.h"
#include "provision/caps.h"
#include "provision/connection.h"
#include "provision/conntest.h"
#include "provision/mapping.h"
#include "provision/rule.h"
#include "provision/secrets.h"
#include "store/store_events.h"
#include "store/store_provision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shared helpers. */

/* The process-wide secrets key, or NULL with e set. */
static const struct secrets_key *config_key(const struct provision_config_ctx *cx,
                                            struct sc_error *e)
{
    struct sc_error ke = {0};
    const struct secrets_key *k = secrets_key_shared(cx->key_path, &ke);
    if (!k) {
        SC_ERROR("api.secrets_key", "reason=\"%s\"", sc_strerror(ke.code));
        sc_error_set(e, SC_ERR_INTERNAL, NULL, "the secrets key cannot be loaded: %s", ke.message);
    }
    return k;
}

static void config_wake(const struct provision_config_ctx *cx)
{
    if (cx->wake)
        cx->wake(cx->wake_arg);
}

/* Appends a change event {"resync": resync, "change": change, "enabled": enabled}. */
static enum sc_err append_event(struct store *st, const char *kind, const char *id, int resync,
                                const char *change, int enabled)
{
    json_t *d =
        json_pack("{s:b, s:s, s:b}", "resync", resync, "change", change, "enabled", enabled);
    char *text = d ? sc_json_dump(d) : NULL;
    json_decref(d);
    if (!text)
        return SC_ERR_NOMEM;
    enum sc_err rc = store_event_append(st, kind, id, text);
    free(text);
    return rc;
}

static enum sc_err config_begin(const struct provision_config_ctx *cx, struct sc_error *e)
{
    enum sc_err rc = store_begin(cx->st);
    if (rc)
        return sc_error_set(e, rc, NULL, "the database is busy: try again");
    return SC_OK;
}

/* Commits, or rolls back and fails. */
static enum sc_err config_commit(const struct provision_config_ctx *cx, struct sc_error *e)
{
    if (store_commit(cx->st) == SC_OK)
        return SC_OK;
    store_rollback(cx->st);
    return sc_error_set(e, SC_ERR_DB, NULL, "the change could not be saved");
}

/* Hands v (new) to *out, or fails when building it ran out of memory. */
static enum sc_err give(json_t *v, json_t **out, struct sc_error *e)
{
    if (!v)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    *out = v;
    return SC_OK;
}

/* The failure of a list call (a bad cursor, or anything else while listing what). */
static enum sc_err list_failed(enum sc_err rc, const char *what, struct sc_error *e)
{
    if (rc == SC_ERR_INVALID)
        return sc_error_set(e, rc, "cursor", "cursor is not one this server gave out");
    return sc_error_set(e, rc, NULL, "cannot list the %s", what);
}

/* Hands a store cursor to *next: a new copy, or NULL when it is empty (the last page). */
static enum sc_err give_cursor(const char *cursor, char **next, struct sc_error *e)
{
    char *copy = NULL;
    if (cursor[0] && !(copy = sc_strdup(cursor)))
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    *next = copy;
    return SC_OK;
}

/* Connections. */

/* Reads the stored, sealed document of a row (name and enabled from the row). */
static json_t *row_doc(const struct store_connection *row)
{
    json_t *doc = NULL;
    struct sc_error e = {0};
    if (sc_json_parse(row->config, strlen(row->config), 0, &doc, &e))
        return NULL;
    json_object_set_new(doc, "name", json_string(row->name));
    json_object_set_new(doc, "enabled", json_boolean(row->enabled));
    return doc;
}

static json_t *row_api(const struct store_connection *row)
{
    json_t *doc = row_doc(row);
    json_t *out =
        doc ? connection_doc_to_api(doc, row->id, row->created_at, row->updated_at) : NULL;
    json_decref(doc);
    return out;
}

/* Seals doc and writes it as row (insert when creating). */
static enum sc_err write_connection(struct store *st, const struct secrets_key *k,
                                    const json_t *doc, struct store_connection *row, int create,
                                    struct sc_error *e)
{
    static const char *const urls[] = {"scim.baseUrl", "auth.tokenUrl"}; /* --allow-targets */
    char why[200];
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        const char *url = sc_json_get_string(doc, urls[i]);
        if (url && *url && http_allow_check_url(url, why, sizeof why))
            return sc_error_set(e, SC_ERR_INVALID, urls[i], "%s: %s", urls[i], why);
    }
    json_t *sealed = NULL;
    enum sc_err rc = connection_seal_doc(k, doc, &sealed, e);
    if (rc)
        return rc;
    row->config = sc_json_dump(sealed);
    json_decref(sealed);
    if (!row->config)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    row->name = sc_strdup(sc_json_get_string(doc, "name"));
    row->enabled = json_is_true(json_object_get(doc, "enabled"));
    rc = create ? store_connection_insert(st, row) : store_connection_update(st, row);
    if (rc == SC_ERR_CONFLICT)
        return sc_error_set(e, rc, "name",
                            "a connection named '%s' already exists: choose "
                            "another name",
                            row->name);
    if (rc)
        return sc_error_set(e, rc, NULL, "the connection could not be saved");
    return SC_OK;
}

enum sc_err provision_connection_list(const struct provision_config_ctx *cx, const char *cursor,
                                      int limit, json_t **items, char **next, struct sc_error *e)
{
    struct store_connection *rows = NULL;
    size_t n = 0;
    char cur[STORE_CURSOR_MAX];
    enum sc_err rc = store_connection_list(cx->st, cursor, limit, &rows, &n, cur);
    if (rc)
        return list_failed(rc, "connections", e);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, row_api(&rows[i])); /* an unreadable row is left out */
    store_connections_free(rows, n);
    if (!list)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    if ((rc = give_cursor(cur, next, e))) {
        json_decref(list);
        return rc;
    }
    *items = list;
    return SC_OK;
}

enum sc_err provision_connection_create(const struct provision_config_ctx *cx, const json_t *body,
                                        json_t **out, struct sc_error *e)
{
    json_t *doc = NULL;
    struct store_connection row = {0};
    const struct secrets_key *k = NULL;
    enum sc_err rc = connection_doc_merge(NULL, body, &doc, e);
    if (rc)
        goto done;
    if (!(k = config_key(cx, e))) {
        rc = e->code;
        goto done;
    }
    sc_uuid_v4(row.id);
    row.created_at = row.updated_at = sc_clock_now_ms();
    if ((rc = config_begin(cx, e)))
        goto done;
    if (!(rc = write_connection(cx->st, k, doc, &row, 1, e)) &&
        append_event(cx->st, "connection.changed", row.id, row.enabled, "created", row.enabled))
        rc = sc_error_set(e, SC_ERR_DB, NULL, "the change event could not be written");
    if (rc) {
        store_rollback(cx->st);
        goto done;
    }
    if ((rc = config_commit(cx, e)))
        goto done;
    config_wake(cx);
    SC_INFO("connection.created", "id=%s", row.id);
    rc = give(connection_doc_to_api(doc, row.id, row.created_at, row.updated_at), out, e);
done:
    store_connection_clear(&row);
    json_decref(doc);
    return rc;
}

enum sc_err provision_connection_get(const struct provision_config_ctx *cx, const char *id,
                                     json_t **out, struct sc_error *e)
{
    struct store_connection row = {0};
    enum sc_err rc = store_connection_get(cx->st, id, &row);
    if (rc == SC_ERR_NOT_FOUND)
        return sc_error_set(e, rc, NULL, "no connection with id %s", id);
    if (rc)
        return sc_error_set(e, rc, NULL, "cannot read the connection");
    json_t *api = row_api(&row);
    store_connection_clear(&row);
    if (!api)
        return sc_error_set(e, SC_ERR_INTERNAL, NULL, "the stored connection is unreadable");
    *out = api;
    return SC_OK;
}

/* The stored document of connection id with every secret cleared (and no custom
 * headers, whose values are secret), for a connection whose secrets cannot be
 * decrypted. NULL on error. */
static json_t *forget_secrets(struct store *st, const char *id)
{
    struct store_connection row = {0};
    if (store_connection_get(st, id, &row) != SC_OK)
        return NULL;
    json_t *doc = row_doc(&row);
    store_connection_clear(&row);
    json_t *auth = json_object_get(doc, "auth");
    for (const char *const *f = connection_secret_fields; doc && *f; f++)
        json_object_set_new(auth, strchr(*f, '.') + 1, json_null());
    if (doc)
        json_object_set_new(doc, "headers", json_object());
    SC_WARN("connection.secrets_unreadable", "id=%s", id);
    return doc;
}

enum sc_err provision_connection_update(const struct provision_config_ctx *cx, const char *id,
                                        const json_t *patch, json_t **out, struct sc_error *e)
{
    json_t *old = NULL, *doc = NULL;
    struct store_connection row = {0};
    int in_tx = 0;
    enum sc_err rc;
    const struct secrets_key *k = config_key(cx, e);
    if (!k)
        return e->code;
    if ((rc = config_begin(cx, e)))
        return rc;
    in_tx = 1;
    int forgot = 0;
    rc = connection_load(cx->st, k, id, &old, NULL, e);
    if (rc == SC_ERR_CRYPTO) {
        /* the secrets were sealed with another key: let the administrator send them
         * again ("********" then has nothing to keep) */
        old = forget_secrets(cx->st, id);
        if (old) {
            sc_error_clear(e);
            rc = SC_OK;
            forgot = 1;
        }
    }
    if (rc)
        goto done;
    if ((rc = connection_doc_merge(old, patch, &doc, e))) {
        if (forgot) {
            char msg[SC_ERROR_MESSAGE_MAX];
            snprintf(msg, sizeof msg,
                     "%.300s (the stored secrets cannot be decrypted with this server's secrets "
                     "key: send every secret again)",
                     e->message);
            sc_strlcpy(e->message, msg, sizeof e->message);
        }
        goto done;
    }
    struct store_connection cur = {0};
    if (store_connection_get(cx->st, id, &cur)) {
        rc = sc_error_set(e, SC_ERR_DB, NULL, "cannot read the connection");
        goto done;
    }
    sc_strlcpy(row.id, cur.id, sizeof row.id);
    row.created_at = cur.created_at;
    row.updated_at = sc_clock_now_ms();
    store_connection_clear(&cur);
    if (!json_equal(old, doc)) {
        int enabled = json_is_true(json_object_get(doc, "enabled"));
        int resync = enabled && connection_doc_needs_resync(old, doc);
        if ((rc = write_connection(cx->st, k, doc, &row, 0, e)))
            goto done;
        if (append_event(cx->st, "connection.changed", row.id, resync, "updated", enabled)) {
            rc = sc_error_set(e, SC_ERR_DB, NULL, "the change event could not be written");
            goto done;
        }
        in_tx = 0;
        if ((rc = config_commit(cx, e)))
            goto done;
        config_wake(cx);
        SC_INFO("connection.updated", "id=%s resync=%d enabled=%d", row.id, resync, enabled);
    } else {
        in_tx = 0;
        store_rollback(cx->st);
        struct store_connection again = {0};
        if (store_connection_get(cx->st, id, &again) == SC_OK)
            row.updated_at = again.updated_at;
        store_connection_clear(&again);
    }
    rc = give(connection_doc_to_api(doc, row.id, row.created_at, row.updated_at), out, e);
done:
    if (in_tx)
        store_rollback(cx->st);
    store_connection_clear(&row);
    json_decref(old);
    json_decref(doc);
    return rc;
}

enum sc_err provision_connection_delete(const struct provision_config_ctx *cx, const char *id,
                                        struct sc_error *e)
{
    enum sc_err rc = config_begin(cx, e);
    if (rc)
        return rc;
    struct store_connection row = {0};
    char *rule = NULL;
    rc = store_connection_get(cx->st, id, &row);
    if (rc) {
        store_rollback(cx->st);
        return sc_error_set(e, rc, NULL,
                            rc == SC_ERR_NOT_FOUND ? "no connection with id %s"
                                                   : "cannot read the connection %s",
                            id);
    }
    rc = store_rule_targeting(cx->st, row.id, &rule);
    if (rc == SC_OK) {
        store_rollback(cx->st);
        rc = sc_error_set(e, SC_ERR_CONFLICT, NULL,
                          "the rule '%s' targets the connection '%s': change the rule's Target "
                          "or delete the rule first",
                          rule, row.name);
        goto done;
    }
    if (rc != SC_ERR_NOT_FOUND || (rc = store_connection_delete(cx->st, row.id)) ||
        (rc = append_event(cx->st, "connection.changed", row.id, 0, "deleted", 0))) {
        store_rollback(cx->st);
        rc = sc_error_set(e, rc == SC_ERR_NOT_FOUND ? SC_ERR_DB : rc, NULL,
                          "the connection could not be deleted");
        goto done;
    }
    if ((rc = config_commit(cx, e)))
        goto done;
    config_wake(cx);
    SC_INFO("connection.deleted", "id=%s", row.id);
done:
    free(rule);
    store_connection_clear(&row);
    return rc;
}

/* Whether two documents send to the same target with the same settings (scim, auth,
 * preferences and headers; name, description and enabled do not count). */
static int same_settings(const json_t *a, const json_t *b)
{
    static const char *const parts[] = {"scim", "auth", "preferences", "headers"};
    for (int i = 0; i < 4; i++)
        if (!json_equal(json_object_get(a, parts[i]), json_object_get(b, parts[i])))
            return 0;
    return 1;
}

/* Stores what a test of the saved connection id learnt of its target, unless the
 * connection changed (stamp: its updated_at before the test) or went away meanwhile;
 * a changed document is written with a connection.changed event (change
 * "capabilities") so a running engine reloads the connection. Failures are logged:
 * the test's answer does not depend on them. */
static void store_capabilities(const struct provision_config_ctx *cx, const char *id,
                               const json_t *caps, int64_t stamp)
{
    struct store_connection row = {0};
    int changed = 0;
    if (store_begin(cx->st) != SC_OK) {
        SC_WARN("connection.capabilities_not_saved", "id=%s reason=busy", id);
        return;
    }
    enum sc_err rc = store_connection_get(cx->st, id, &row);
    if (rc || row.updated_at != stamp) {
        store_rollback(cx->st);
        SC_INFO("connection.capabilities_not_saved", "id=%s reason=%s", id,
                rc ? "gone" : "changed during the test");
        store_connection_clear(&row);
        return;
    }
    rc = provision_caps_store(cx->st, id, caps, sc_clock_now_ms(), &changed);
    if (!rc && changed)
        rc = append_event(cx->st, "connection.changed", id, 0, "capabilities", row.enabled);
    if (!rc)
        rc = store_commit(cx->st);
    if (rc) {
        store_rollback(cx->st);
        SC_WARN("connection.capabilities_not_saved", "id=%s reason=\"%s\"", id, sc_strerror(rc));
    } else if (changed) {
        config_wake(cx);
        SC_INFO("connection.capabilities", "id=%s changed=1", id);
    }
    store_connection_clear(&row);
}

/* Runs Test Connection on doc into *report. id is the saved connection's (or NULL) and
 * saved its stored document: when doc has the same settings, what the test learnt is
 * stored as the connection's capabilities. */
static enum sc_err run_test(const struct provision_config_ctx *cx, const json_t *doc,
                            const char *id, const json_t *saved, json_t **report,
                            struct sc_error *e)
{
    struct connection *conn = NULL;
    json_t *rules = NULL, *caps = NULL;
    int64_t stamp = 0;
    enum sc_err rc = connection_from_doc(doc, id, &conn, e);
    if (rc)
        return rc;
    int keep = 0;
    if (id) {
        struct store_connection row = {0};
        if (provision_caps_rules(cx->st, id, &rules) != SC_OK)
            rules = NULL; /* the Mapping step then says no rule was checked */
        if (saved && same_settings(doc, saved) && store_connection_get(cx->st, id, &row) == SC_OK) {
            stamp = row.updated_at;
            keep = 1;
        }
        store_connection_clear(&row);
    }
    json_t *r = conntest_run_caps(conn, 0, rules, keep ? &caps : NULL);
    SC_INFO("connection.tested", "id=%s ok=%d", id ? id : "-",
            json_is_true(json_object_get(r, "ok")));
    connection_free(conn);
    json_decref(rules);
    if (caps)
        store_capabilities(cx, id, caps, stamp);
    json_decref(caps);
    return give(r, report, e);
}

/* A validation failure e of a tested body: a URL problem is a report whose URL step
 * failed (the wizard shows it beside the others); anything else stays an error. */
static enum sc_err test_invalid(struct sc_error *e, json_t **report)
{
    if (strcmp(e->field, "scim.baseUrl") != 0)
        return e->code;
    json_t *r = json_pack("{s:b, s:[{s:s, s:b, s:b, s:s}]}", "ok", 0, "steps", "name",
                          CONNTEST_STEP_URL, "ok", 0, "warning", 0, "detail", e->message);
    if (!r)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    sc_error_clear(e);
    *report = r;
    return SC_OK;
}

enum sc_err provision_connection_check(const struct provision_config_ctx *cx, const char *id,
                                       struct sc_error *e)
{
    const struct secrets_key *k = config_key(cx, e);
    if (!k)
        return e->code;
    return connection_load(cx->st, k, id, NULL, NULL, e);
}

enum sc_err provision_connection_test(const struct provision_config_ctx *cx, const char *id,
                                      const json_t *edits, json_t **report, struct sc_error *e)
{
    json_t *doc = NULL, *merged = NULL;
    enum sc_err rc;
    const struct secrets_key *k = config_key(cx, e);
    if (!k)
        return e->code;
    if ((rc = connection_load(cx->st, k, id, &doc, NULL, e)))
        return rc;
    /* unsaved edits of the console's wizard, over the stored connection */
    if (edits && (rc = connection_doc_merge(doc, edits, &merged, e))) {
        rc = test_invalid(e, report);
        goto done;
    }
    rc = run_test(cx, merged ? merged : doc, id, doc, report, e);
done:
    json_decref(doc);
    json_decref(merged);
    return rc;
}

enum sc_err provision_connection_test_unsaved(const struct provision_config_ctx *cx,
                                              const json_t *body, json_t **report,
                                              struct sc_error *e)
{
    json_t *current = NULL, *doc = NULL;
    enum sc_err rc;
    json_t *in = json_copy((json_t *)body);
    if (!in)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    /* the wizard may test before the connection has a name: the test does not need one */
    const char *name = sc_json_get_string(in, "name");
    if (!json_object_get(in, "name") || (name && !*name))
        json_object_set_new(in, "name", json_string("unsaved connection"));
    const char *id = sc_json_get_string(in, "id");
    if (id && *id) {
        const struct secrets_key *k = config_key(cx, e);
        if (!k) {
            rc = e->code;
            goto done;
        }
        if ((rc = connection_load(cx->st, k, id, &current, NULL, e)))
            goto done;
    }
    if ((rc = connection_doc_merge(current, in, &doc, e))) {
        rc = test_invalid(e, report);
        goto done;
    }
    rc = run_test(cx, doc, current ? id : NULL, current, report, e);
done:
    json_decref(in);
    json_decref(current);
    json_decref(doc);
    return rc;
}

enum sc_err provision_connection_capabilities(const struct provision_config_ctx *cx, const char *id,
                                              json_t **out, struct sc_error *e)
{
    struct store_connection row = {0};
    enum sc_err rc = store_connection_get(cx->st, id, &row);
    store_connection_clear(&row);
    if (rc)
        return sc_error_set(e, rc, NULL,
                            rc == SC_ERR_NOT_FOUND ? "no connection with id %s"
                                                   : "cannot read the connection %s",
                            id);
    if ((rc = provision_caps_api(cx->st, id, out)))
        return sc_error_set(e, rc, NULL, "cannot read the connection's capabilities");
    return SC_OK;
}

/* Rules. */

static json_t *rule_row_api(const struct store_rule *row)
{
    struct rule r = {0};
    sc_strlcpy(r.id, row->id, sizeof r.id);
    sc_strlcpy(r.target, row->target_id, sizeof r.target);
    r.name = row->name;
    r.description = row->description;
    r.enabled = row->enabled;
    r.created_at = row->created_at;
    r.updated_at = row->updated_at;
    return rule_to_api(&r);
}

/* Writes r (JSON columns dumped) with insert or update. */
static enum sc_err rule_write(struct store *st, const struct rule *r, int create,
                              struct sc_error *e)
{
    struct store_rule row = {0};
    sc_strlcpy(row.id, r->id, sizeof row.id);
    sc_strlcpy(row.target_id, r->target, sizeof row.target_id);
    row.name = r->name;
    row.description = r->description;
    row.enabled = r->enabled;
    row.created_at = r->created_at;
    row.updated_at = r->updated_at;
    char *filter = r->filter ? sc_json_dump(r->filter) : NULL;
    char *mappings = sc_json_dump(r->mappings);
    row.filter = filter;
    row.mappings = mappings;
    enum sc_err rc = SC_OK;
    if ((r->filter && !filter) || !mappings)
        rc = sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    else if ((rc = create ? store_rule_insert(st, &row) : store_rule_update(st, &row)) ==
             SC_ERR_CONFLICT)
        sc_error_set(e, rc, "name", "a rule named '%s' already exists: choose another name",
                     r->name);
    else if (rc == SC_ERR_INVALID)
        sc_error_set(e, rc, "target", "the target connection %s does not exist", r->target);
    else if (rc)
        sc_error_set(e, rc, NULL, "the rule could not be saved");
    free(filter);
    free(mappings);
    return rc;
}

/* Validates a user filter: compiles with the directory's language and requires a
 * population or group. prefix ("filter" or "") goes before the field. */
static enum sc_err check_filter(const json_t *f, const char *prefix, struct sc_error *e)
{
    struct userfilter *uf = NULL;
    struct sc_error fe = {0};
    enum sc_err rc = userfilter_compile(f, &uf, &fe);
    if (rc) {
        char field[SC_ERROR_FIELD_MAX];
        snprintf(field, sizeof field, "%s%s%s", prefix, *prefix && fe.field[0] ? "." : "",
                 fe.field);
        return sc_error_set(e, rc == SC_ERR_NOMEM ? rc : SC_ERR_INVALID, field, "%s", fe.message);
    }
    int scoped = userfilter_names_scope(uf);
    userfilter_free(uf);
    if (!scoped) {
        char field[SC_ERROR_FIELD_MAX];
        snprintf(field, sizeof field, "%s%sconditions", prefix, *prefix ? "." : "");
        return sc_error_set(e, SC_ERR_INVALID, field,
                            "an outbound rule's user filter must name at least one population "
                            "(attribute population.name) or group (attribute group)");
    }
    return SC_OK;
}

static enum sc_err check_mappings(const json_t *rows, struct sc_error *e)
{
    struct mapping *m = NULL;
    enum sc_err rc = mapping_compile(rows, &m, e);
    mapping_free(m);
    return rc;
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Applies the fields of body to r (create or PATCH). Sets *resync_trigger when a change
 * of target, filter or mapping, or enabling, calls for a full resync. */
static enum sc_err rule_apply(struct store *st, const json_t *body, struct rule *r,
                              int *resync_trigger, struct sc_error *e)
{
    static const char *const keys[] = {"id",        "name",      "description", "source",
                                       "target",    "enabled",   "filter",      "mappings",
                                       "createdAt", "updatedAt", NULL};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        int ok = 0;
        for (const char *const *k = keys; *k && !ok; k++)
            ok = strcmp(*k, key) == 0;
        if (!ok)
            return sc_error_set(e, SC_ERR_INVALID, key, "unknown field '%.64s'", key);
    }
    for (const char *const *k = (const char *const[]){"id", "createdAt", "updatedAt", NULL}; *k;
         k++) {
        v = json_object_get(body, *k);
        if (v && !json_is_string(v) && !json_is_null(v))
            return sc_error_set(e, SC_ERR_INVALID, *k, "%s is read-only", *k);
    }
    if ((v = json_object_get(body, "name"))) {
        if (!json_is_string(v) || json_string_length(v) == 0)
            return sc_error_set(e, SC_ERR_INVALID, "name", "name is required");
        if (json_string_length(v) > RULE_NAME_MAX || has_ctl(json_string_value(v)))
            return sc_error_set(e, SC_ERR_INVALID, "name",
                                "name must be at most %d characters, without control characters",
                                RULE_NAME_MAX);
        free(r->name);
        r->name = sc_strdup(json_string_value(v));
    }
    if (!r->name || !*r->name)
        return sc_error_set(e, SC_ERR_INVALID, "name", "name is required");
    if ((v = json_object_get(body, "description"))) {
        if (!json_is_string(v) && !json_is_null(v))
            return sc_error_set(e, SC_ERR_INVALID, "description", "description must be a string");
        if (json_is_string(v) && json_string_length(v) > RULE_DESCRIPTION_MAX)
            return sc_error_set(e, SC_ERR_INVALID, "description",
                                "description must be at most %d characters", RULE_DESCRIPTION_MAX);
        free(r->description);
        r->description = sc_strdup(json_is_string(v) ? json_string_value(v) : "");
    }
    if ((v = json_object_get(body, "source")) &&
        !(json_is_string(v) && strcmp(json_string_value(v), "directory") == 0))
        return sc_error_set(e, SC_ERR_INVALID, "source",
                            "source must be \"directory\" (the only source)");
    if ((v = json_object_get(body, "target"))) {
        const char *t = json_is_string(v) ? json_string_value(v) : "";
        if (!json_is_string(v) && !json_is_null(v))
            return sc_error_set(e, SC_ERR_INVALID, "target",
                                "target must be a connection id or null");
        if (*t) {
            struct store_connection conn = {0};
            enum sc_err rc =
                strlen(t) > SC_UUID_LEN ? SC_ERR_NOT_FOUND : store_connection_get(st, t, &conn);
            store_connection_clear(&conn);
            if (rc == SC_ERR_NOT_FOUND)
                return sc_error_set(e, SC_ERR_INVALID, "target",
                                    "no connection with id '%.40s': choose one of "
                                    "/api/v1/connections",
                                    t);
            if (rc)
                return sc_error_set(e, rc, NULL, "cannot read the target connection");
        }
        if (strcmp(r->target, t) != 0)
            *resync_trigger = 1;
        sc_strlcpy(r->target, t, sizeof r->target);
    }
    if ((v = json_object_get(body, "filter"))) {
        if (!json_is_null(v)) {
            enum sc_err rc = check_filter(v, "filter", e);
            if (rc)
                return rc;
        }
        json_t *nf = json_is_null(v) ? NULL : json_incref(v);
        if (!(nf == r->filter || (nf && r->filter && json_equal(nf, r->filter))))
            *resync_trigger = 1;
        json_decref(r->filter);
        r->filter = nf;
    }
    if ((v = json_object_get(body, "mappings"))) {
        enum sc_err rc = check_mappings(v, e);
        if (rc)
            return rc;
        if (!r->mappings || !json_equal(v, r->mappings))
            *resync_trigger = 1;
        json_decref(r->mappings);
        r->mappings = json_incref(v);
    }
    if ((v = json_object_get(body, "enabled"))) {
        if (!json_is_boolean(v))
            return sc_error_set(e, SC_ERR_INVALID, "enabled", "enabled must be true or false");
        if (!r->enabled && json_is_true(v))
            *resync_trigger = 1;
        r->enabled = json_is_true(v);
    }
    if (!r->name || !r->description)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    return SC_OK;
}

enum sc_err provision_rule_list(const struct provision_config_ctx *cx, const char *cursor,
                                int limit, json_t **items, char **next, struct sc_error *e)
{
    struct store_rule *rows = NULL;
    size_t n = 0;
    char cur[STORE_CURSOR_MAX];
    enum sc_err rc = store_rule_list(cx->st, cursor, limit, &rows, &n, cur);
    if (rc)
        return list_failed(rc, "rules", e);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, rule_row_api(&rows[i]));
    store_rules_free(rows, n);
    if (!list)
        return sc_error_set(e, SC_ERR_NOMEM, NULL, "out of memory");
    if ((rc = give_cursor(cur, next, e))) {
        json_decref(list);
        return rc;
    }
    *items = list;
    return SC_OK;
}

enum sc_err provision_rule_create(const struct provision_config_ctx *cx, const json_t *body,
                                  json_t **out, struct sc_error *e)
{
    struct rule r = {0};
    int trigger = 0;
    r.description = sc_strdup("");
    r.mappings = mapping_defaults();
    enum sc_err rc = config_begin(cx, e);
    if (rc)
        goto done;
    if ((rc = rule_apply(cx->st, body, &r, &trigger, e)))
        goto fail;
    if (r.enabled && (rc = rule_check_enable(cx->st, &r, e)))
        goto fail;
    sc_uuid_v4(r.id);
    r.created_at = r.updated_at = sc_clock_now_ms();
    if ((rc = rule_write(cx->st, &r, 1, e)))
        goto fail;
    if (append_event(cx->st, "rule.changed", r.id, r.enabled, "created", r.enabled)) {
        rc = sc_error_set(e, SC_ERR_DB, NULL, "the change event could not be written");
        goto fail;
    }
    if ((rc = config_commit(cx, e)))
        goto done;
    config_wake(cx);
    SC_INFO("rule.created", "id=%s enabled=%d", r.id, r.enabled);
    rc = give(rule_to_api(&r), out, e);
    goto done;
fail:
    store_rollback(cx->st);
done:
    rule_clear(&r);
    return rc;
}

/* Reads rule id into *out in the form respond() gives (the API JSON, or a part of it). */
static enum sc_err rule_read(const struct provision_config_ctx *cx, const char *id,
                             json_t *(*respond)(const struct rule *), json_t **out,
                             struct sc_error *e)
{
    struct rule r = {0};
    enum sc_err rc = rule_get(cx->st, id, &r, e);
    if (rc)
        return rc;
    rc = give(respond(&r), out, e);
    rule_clear(&r);
    return rc;
}

enum sc_err provision_rule_get(const struct provision_config_ctx *cx, const char *id, json_t **out,
                               struct sc_error *e)
{
    return rule_read(cx, id, rule_to_api, out, e);
}

/* A change of a rule: applies body to r, setting *trigger when it calls for a resync. */
typedef enum sc_err (*rule_change_fn)(struct store *st, const json_t *body, struct rule *r,
                                      int *trigger, struct sc_error *e);

/* Loads rule id inside a transaction, lets change() modify it with body, checks the
 * enable conditions, writes it with its event and gives respond()'s form of it. */
static enum sc_err rule_update(const struct provision_config_ctx *cx, const char *id,
                               const json_t *body, rule_change_fn change,
                               json_t *(*respond)(const struct rule *), json_t **out,
                               struct sc_error *e)
{
    struct rule r = {0}, old = {0};
    int trigger = 0;
    enum sc_err rc = config_begin(cx, e);
    if (rc)
        return rc;
    if ((rc = rule_get(cx->st, id, &r, e)) || (rc = rule_get(cx->st, id, &old, e)))
        goto fail;
    if ((rc = change(cx->st, body, &r, &trigger, e)))
        goto fail;
    int same_filter =
        (!r.filter && !old.filter) || (r.filter && old.filter && json_equal(r.filter, old.filter));
    /* the enable conditions are checked when the rule is enabled or its target or filter
     * change while it is: a rename must not fail because its connection was disabled */
    if (r.enabled && (!old.enabled || strcmp(r.target, old.target) != 0 || !same_filter) &&
        (rc = rule_check_enable(cx->st, &r, e)))
        goto fail;
    int changed = strcmp(r.name, old.name) != 0 || strcmp(r.description, old.description) != 0 ||
                  strcmp(r.target, old.target) != 0 || r.enabled != old.enabled || !same_filter ||
                  !json_equal(r.mappings, old.mappings);
    if (!changed) {
        store_rollback(cx->st);
        rc = give(respond(&r), out, e);
        goto done;
    }
    r.updated_at = sc_clock_now_ms();
    int resync = trigger && r.enabled;
    if ((rc = rule_write(cx->st, &r, 0, e)))
        goto fail;
    if (!json_equal(r.mappings, old.mappings) &&
        (rc = rule_mapping_clears_update(cx->st, r.id, old.mappings, r.mappings, e)))
        goto fail;
    if (append_event(cx->st, "rule.changed", r.id, resync, "updated", r.enabled)) {
        rc = sc_error_set(e, SC_ERR_DB, NULL, "the change event could not be written");
        goto fail;
    }
    if ((rc = config_commit(cx, e)))
        goto done;
    config_wake(cx);
    SC_INFO("rule.updated", "id=%s resync=%d enabled=%d", r.id, resync, r.enabled);
    rc = give(respond(&r), out, e);
    goto done;
fail:
    store_rollback(cx->st);
done:
    rule_clear(&r);
    rule_clear(&old);
    return rc;
}

enum sc_err provision_rule_update(const struct provision_config_ctx *cx, const char *id,
                                  const json_t *patch, json_t **out, struct sc_error *e)
{
    return rule_update(cx, id, patch, rule_apply, rule_to_api, out, e);
}

enum sc_err provision_rule_delete(const struct provision_config_ctx *cx, const char *id,
                                  struct sc_error *e)
{
    enum sc_err rc = config_begin(cx, e);
    if (rc)
        return rc;
    struct store_rule row = {0};
    rc = store_rule_get(cx->st, id, &row);
    if (!rc)
        rc = store_rule_delete(cx->st, id);
    if (!rc)
        rc = append_event(cx->st, "rule.changed", id, 0, "deleted", 0);
    store_rule_clear(&row);
    if (rc) {
        store_rollback(cx->st);
        return sc_error_set(
            e, rc, NULL,
            rc == SC_ERR_NOT_FOUND ? "no rule with id %s" : "the rule %s could not be deleted", id);
    }
    if ((rc = config_commit(cx, e)))
        return rc;
    config_wake(cx);
    SC_INFO("rule.deleted", "id=%s", id);
    return SC_OK;
}

static enum sc_err filter_change(struct store *st, const json_t *body, struct rule *r, int *trigger,
                                 struct sc_error *e)
{
    (void)st;
    enum sc_err rc = check_filter(body, "", e);
    if (rc)
        return rc;
    if (!r->filter || !json_equal(r->filter, body))
        *trigger = 1;
    json_decref(r->filter);
    r->filter = json_incref((json_t *)body);
    return SC_OK;
}

static json_t *filter_respond(const struct rule *r)
{
    return r->filter ? json_incref(r->filter) : json_null();
}

enum sc_err provision_rule_filter_get(const struct provision_config_ctx *cx, const char *id,
                                      json_t **out, struct sc_error *e)
{
    return rule_read(cx, id, filter_respond, out, e);
}

enum sc_err provision_rule_filter_put(const struct provision_config_ctx *cx, const char *id,
                                      const json_t *filter, json_t **out, struct sc_error *e)
{
    return rule_update(cx, id, filter, filter_change, filter_respond, out, e);
}

static enum sc_err mappings_change(struct store *st, const json_t *body, struct rule *r,
                                   int *trigger, struct sc_error *e)
{
    (void)st;
    enum sc_err rc = check_mappings(body, e);
    if (rc)
        return rc;
    if (!json_equal(r->mappings, body))
        *trigger = 1;
    json_decref(r->mappings);
    r->mappings = json_incref((json_t *)body);
    return SC_OK;
}

static json_t *mappings_respond(const struct rule *r)
{
    return json_incref(r->mappings);
}

enum sc_err provision_rule_mappings_get(const struct provision_config_ctx *cx, const char *id,
                                        json_t **out, struct sc_error *e)
{
    return rule_read(cx, id, mappings_respond, out, e);
}

enum sc_err provision_rule_mappings_put(const struct provision_config_ctx *cx, const char *id,
                                        const json_t *rows, json_t **out, struct sc_error *e)
{
    return rule_update(cx, id, rows, mappings_change, mappings_respond, out, e);
}
