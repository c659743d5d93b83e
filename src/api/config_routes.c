/* Provisioning configuration routes (docs/api.md): connections (CRUD, Test Connection
 * and the capabilities it learnt), rules (CRUD), a rule's user filter and its attribute mapping.
 * Every change is written with a change event in the same transaction (connection.changed /
 * rule.changed with {"resync": true|false, "change": ...}) and wakes the engine;
 * "resync" is true when the change must start a full resync of the enabled rules it
 * concerns (SPEC §5.4), never for a name or description change. */
#include "api/api.h"
#include "base/clock.h"
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

static const struct secrets_key *api_key(struct api_call *c)
{
    struct sc_error e = {0};
    const struct secrets_key *k = secrets_key_shared(c->ctx->key_path, &e);
    if (!k) {
        SC_ERROR("api.secrets_key", "reason=\"%s\"", sc_strerror(e.code));
        api_error(c, SC_ERR_INTERNAL, NULL, "the secrets key cannot be loaded: %s", e.message);
    }
    return k;
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

/* Commits, or rolls back and answers 500. Returns 0 on success. */
static int commit_or_fail(struct api_call *c)
{
    if (store_commit(c->st) == SC_OK)
        return 0;
    store_rollback(c->st);
    api_error(c, SC_ERR_DB, NULL, "the change could not be saved");
    return -1;
}

static int begin_or_fail(struct api_call *c)
{
    enum sc_err rc = store_begin(c->st);
    if (rc == SC_OK)
        return 0;
    api_error(c, rc, NULL, "the database is busy: try again");
    return -1;
}

static void set_location(struct api_call *c, const char *kind, const char *id)
{
    char loc[128];
    snprintf(loc, sizeof loc, "/api/v1/%s/%s", kind, id);
    http_response_header(c->res, "Location", loc);
}

/* Parses the body as any JSON value (for PUT of arrays). 0, or -1 with a 400 sent. */
static int body_json(struct api_call *c, json_t **out)
{
    struct sc_error e = {0};
    if (!sc_utf8_valid(c->req->body, c->req->body_len)) {
        api_error(c, SC_ERR_PARSE, NULL, "the request body is not valid UTF-8");
        return -1;
    }
    if (sc_json_parse(c->req->body, c->req->body_len, SC_JSON_MAX_DEPTH, out, &e)) {
        api_error_from(c, &e);
        return -1;
    }
    return 0;
}

/* Answers the failure of a list call (a bad cursor, or anything else while listing
 * what). Returns 0 when rc is SC_OK, else -1 with the error sent. */
static int list_failed(struct api_call *c, enum sc_err rc, const char *what)
{
    if (rc == SC_ERR_INVALID) {
        api_error(c, rc, "cursor", "cursor is not one this server gave out");
        return -1;
    }
    if (rc) {
        api_error(c, rc, NULL, "cannot list the %s", what);
        return -1;
    }
    return 0;
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
static enum sc_err write_connection(struct api_call *c, const struct secrets_key *k,
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
    rc = create ? store_connection_insert(c->st, row) : store_connection_update(c->st, row);
    if (rc == SC_ERR_CONFLICT)
        return sc_error_set(e, rc, "name",
                            "a connection named '%s' already exists: choose "
                            "another name",
                            row->name);
    if (rc)
        return sc_error_set(e, rc, NULL, "the connection could not be saved");
    return SC_OK;
}

static void connections_list(struct api_call *c)
{
    int limit;
    const char *cursor;
    if (api_page_params(c, &limit, &cursor))
        return;
    struct store_connection *rows = NULL;
    size_t n = 0;
    char next[STORE_CURSOR_MAX];
    if (list_failed(c, store_connection_list(c->st, cursor, limit, &rows, &n, next), "connections"))
        return;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, row_api(&rows[i]));
    store_connections_free(rows, n);
    api_json(c, 200, api_list(items, next[0] ? next : NULL));
}

static void connections_create(struct api_call *c)
{
    json_t *body = NULL, *doc = NULL;
    struct store_connection row = {0};
    struct sc_error e = {0};
    if (api_body_object(c, &body))
        return;
    const struct secrets_key *k = NULL;
    if (connection_doc_merge(NULL, body, &doc, &e)) {
        api_error_from(c, &e);
        goto done;
    }
    if (!(k = api_key(c)))
        goto done;
    sc_uuid_v4(row.id);
    row.created_at = row.updated_at = sc_clock_now_ms();
    if (begin_or_fail(c))
        goto done;
    if (write_connection(c, k, doc, &row, 1, &e) ||
        append_event(c->st, "connection.changed", row.id, row.enabled, "created", row.enabled)) {
        store_rollback(c->st);
        if (!e.code)
            sc_error_set(&e, SC_ERR_DB, NULL, "the change event could not be written");
        api_error_from(c, &e);
        goto done;
    }
    if (commit_or_fail(c))
        goto done;
    api_wake_engine(c);
    SC_INFO("connection.created", "id=%s", row.id);
    set_location(c, "connections", row.id);
    api_json(c, 201, connection_doc_to_api(doc, row.id, row.created_at, row.updated_at));
done:
    store_connection_clear(&row);
    json_decref(body);
    json_decref(doc);
}

static void connections_get(struct api_call *c)
{
    struct store_connection row = {0};
    enum sc_err rc = store_connection_get(c->st, c->params[0], &row);
    if (rc == SC_ERR_NOT_FOUND) {
        api_error(c, rc, NULL, "no connection with id %s", c->params[0]);
        return;
    }
    if (rc) {
        api_error(c, rc, NULL, "cannot read the connection");
        return;
    }
    json_t *out = row_api(&row);
    store_connection_clear(&row);
    if (!out) {
        api_error(c, SC_ERR_INTERNAL, NULL, "the stored connection is unreadable");
        return;
    }
    api_json(c, 200, out);
}

/* The stored document of connection id with every secret cleared (and no custom
 * headers, whose values are secret), for a connection whose secrets cannot be
 * decrypted. NULL on error. */
static json_t *forget_secrets(struct api_call *c, const char *id)
{
    struct store_connection row = {0};
    if (store_connection_get(c->st, id, &row) != SC_OK)
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

static void connections_patch(struct api_call *c)
{
    json_t *body = NULL, *old = NULL, *doc = NULL;
    struct store_connection row = {0};
    struct sc_error e = {0};
    int in_tx = 0;
    if (api_body_object(c, &body))
        return;
    const struct secrets_key *k = api_key(c);
    if (!k)
        goto done;
    if (begin_or_fail(c))
        goto done;
    in_tx = 1;
    int forgot = 0;
    enum sc_err lrc = connection_load(c->st, k, c->params[0], &old, NULL, &e);
    if (lrc == SC_ERR_CRYPTO) {
        /* the secrets were sealed with another key: let the administrator send them
         * again ("********" then has nothing to keep) */
        old = forget_secrets(c, c->params[0]);
        if (old) {
            sc_error_clear(&e);
            lrc = SC_OK;
            forgot = 1;
        }
    }
    if (lrc)
        goto fail;
    if (connection_doc_merge(old, body, &doc, &e)) {
        if (forgot) {
            char msg[SC_ERROR_MESSAGE_MAX];
            snprintf(msg, sizeof msg,
                     "%.300s (the stored secrets cannot be decrypted with this server's secrets "
                     "key: send every secret again)",
                     e.message);
            sc_strlcpy(e.message, msg, sizeof e.message);
        }
        goto fail;
    }
    struct store_connection cur = {0};
    if (store_connection_get(c->st, c->params[0], &cur)) {
        sc_error_set(&e, SC_ERR_DB, NULL, "cannot read the connection");
        goto fail;
    }
    sc_strlcpy(row.id, cur.id, sizeof row.id);
    row.created_at = cur.created_at;
    row.updated_at = sc_clock_now_ms();
    store_connection_clear(&cur);
    if (!json_equal(old, doc)) {
        int enabled = json_is_true(json_object_get(doc, "enabled"));
        int resync = enabled && connection_doc_needs_resync(old, doc);
        if (write_connection(c, k, doc, &row, 0, &e))
            goto fail;
        if (append_event(c->st, "connection.changed", row.id, resync, "updated", enabled)) {
            sc_error_set(&e, SC_ERR_DB, NULL, "the change event could not be written");
            goto fail;
        }
        in_tx = 0;
        if (commit_or_fail(c))
            goto done;
        api_wake_engine(c);
        SC_INFO("connection.updated", "id=%s resync=%d enabled=%d", row.id, resync, enabled);
    } else {
        in_tx = 0;
        store_rollback(c->st);
        struct store_connection again = {0};
        if (store_connection_get(c->st, c->params[0], &again) == SC_OK)
            row.updated_at = again.updated_at;
        store_connection_clear(&again);
    }
    api_json(c, 200, connection_doc_to_api(doc, row.id, row.created_at, row.updated_at));
    goto done;
fail:
    if (in_tx)
        store_rollback(c->st);
    api_error_from(c, &e);
done:
    store_connection_clear(&row);
    json_decref(body);
    json_decref(old);
    json_decref(doc);
}

static void connections_delete(struct api_call *c)
{
    if (begin_or_fail(c))
        return;
    struct store_connection row = {0};
    char *rule = NULL;
    enum sc_err rc = store_connection_get(c->st, c->params[0], &row);
    if (rc) {
        store_rollback(c->st);
        api_error(c, rc, NULL,
                  rc == SC_ERR_NOT_FOUND ? "no connection with id %s"
                                         : "cannot read the connection %s",
                  c->params[0]);
        return;
    }
    rc = store_rule_targeting(c->st, row.id, &rule);
    if (rc == SC_OK) {
        store_rollback(c->st);
        api_error(c, SC_ERR_CONFLICT, NULL,
                  "the rule '%s' targets the connection '%s': change the rule's Target or "
                  "delete the rule first",
                  rule, row.name);
        goto done;
    }
    if (rc != SC_ERR_NOT_FOUND || (rc = store_connection_delete(c->st, row.id)) ||
        (rc = append_event(c->st, "connection.changed", row.id, 0, "deleted", 0))) {
        store_rollback(c->st);
        api_error(c, rc == SC_ERR_NOT_FOUND ? SC_ERR_DB : rc, NULL,
                  "the connection could not be deleted");
        goto done;
    }
    if (commit_or_fail(c))
        goto done;
    api_wake_engine(c);
    SC_INFO("connection.deleted", "id=%s", row.id);
    api_json(c, 204, NULL);
done:
    free(rule);
    store_connection_clear(&row);
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
static void store_capabilities(struct api_call *c, const char *id, const json_t *caps,
                               int64_t stamp)
{
    struct store_connection row = {0};
    int changed = 0;
    if (store_begin(c->st) != SC_OK) {
        SC_WARN("connection.capabilities_not_saved", "id=%s reason=busy", id);
        return;
    }
    enum sc_err rc = store_connection_get(c->st, id, &row);
    if (rc || row.updated_at != stamp) {
        store_rollback(c->st);
        SC_INFO("connection.capabilities_not_saved", "id=%s reason=%s", id,
                rc ? "gone" : "changed during the test");
        store_connection_clear(&row);
        return;
    }
    rc = provision_caps_store(c->st, id, caps, sc_clock_now_ms(), &changed);
    if (!rc && changed)
        rc = append_event(c->st, "connection.changed", id, 0, "capabilities", row.enabled);
    if (!rc)
        rc = store_commit(c->st);
    if (rc) {
        store_rollback(c->st);
        SC_WARN("connection.capabilities_not_saved", "id=%s reason=\"%s\"", id, sc_strerror(rc));
    } else if (changed) {
        api_wake_engine(c);
        SC_INFO("connection.capabilities", "id=%s changed=1", id);
    }
    store_connection_clear(&row);
}

/* Runs Test Connection on doc and answers 200 with the report. id is the saved
 * connection's (or NULL) and saved its stored document: when doc has the same settings,
 * what the test learnt is stored as the connection's capabilities. */
static void run_test(struct api_call *c, const json_t *doc, const char *id, const json_t *saved)
{
    struct connection *conn = NULL;
    struct sc_error e = {0};
    json_t *rules = NULL, *caps = NULL;
    int64_t stamp = 0;
    if (connection_from_doc(doc, id, &conn, &e)) {
        api_error_from(c, &e);
        return;
    }
    int keep = 0;
    if (id) {
        struct store_connection row = {0};
        if (provision_caps_rules(c->st, id, &rules) != SC_OK)
            rules = NULL; /* the Mapping step then says no rule was checked */
        if (saved && same_settings(doc, saved) && store_connection_get(c->st, id, &row) == SC_OK) {
            stamp = row.updated_at;
            keep = 1;
        }
        store_connection_clear(&row);
    }
    json_t *report = conntest_run_caps(conn, 0, rules, keep ? &caps : NULL);
    SC_INFO("connection.tested", "id=%s ok=%d", id ? id : "-",
            json_is_true(json_object_get(report, "ok")));
    connection_free(conn);
    json_decref(rules);
    if (caps)
        store_capabilities(c, id, caps, stamp);
    json_decref(caps);
    if (!report) {
        api_error(c, SC_ERR_NOMEM, NULL, "out of memory");
        return;
    }
    api_json(c, 200, report);
}

static void connections_capabilities(struct api_call *c)
{
    struct store_connection row = {0};
    enum sc_err rc = store_connection_get(c->st, c->params[0], &row);
    store_connection_clear(&row);
    if (rc) {
        api_error(c, rc, NULL,
                  rc == SC_ERR_NOT_FOUND ? "no connection with id %s"
                                         : "cannot read the connection %s",
                  c->params[0]);
        return;
    }
    json_t *out = NULL;
    if ((rc = provision_caps_api(c->st, c->params[0], &out))) {
        api_error(c, rc, NULL, "cannot read the connection's capabilities");
        return;
    }
    api_json(c, 200, out);
}

/* Answers a validation failure of a tested body: a URL problem is a failed URL step
 * (the wizard shows it beside the others); anything else is a 400. */
static void test_invalid(struct api_call *c, const struct sc_error *e)
{
    if (strcmp(e->field, "scim.baseUrl") == 0) {
        api_json(c, 200,
                 json_pack("{s:b, s:[{s:s, s:b, s:b, s:s}]}", "ok", 0, "steps", "name",
                           CONNTEST_STEP_URL, "ok", 0, "warning", 0, "detail", e->message));
        return;
    }
    api_error_from(c, e);
}

static void connections_test_saved(struct api_call *c)
{
    json_t *doc = NULL, *body = NULL, *merged = NULL;
    struct sc_error e = {0};
    const struct secrets_key *k = api_key(c);
    if (!k)
        return;
    if (connection_load(c->st, k, c->params[0], &doc, NULL, &e)) {
        api_error_from(c, &e);
        return;
    }
    int has_body = 0;
    for (size_t i = 0; i < c->req->body_len; i++)
        if (c->req->body[i] != ' ' && c->req->body[i] != '\n' && c->req->body[i] != '\r' &&
            c->req->body[i] != '\t')
            has_body = 1;
    if (has_body) {
        /* unsaved edits of the console's wizard, over the stored connection */
        if (api_body_object(c, &body))
            goto done;
        if (connection_doc_merge(doc, body, &merged, &e)) {
            test_invalid(c, &e);
            goto done;
        }
    }
    run_test(c, merged ? merged : doc, c->params[0], doc);
done:
    json_decref(doc);
    json_decref(body);
    json_decref(merged);
}

static void connections_test_unsaved(struct api_call *c)
{
    json_t *body = NULL, *current = NULL, *doc = NULL;
    struct sc_error e = {0};
    if (api_body_object(c, &body))
        return;
    /* the wizard may test before the connection has a name: the test does not need one */
    const char *name = sc_json_get_string(body, "name");
    if (!json_object_get(body, "name") || (name && !*name))
        json_object_set_new(body, "name", json_string("unsaved connection"));
    const char *id = sc_json_get_string(body, "id");
    if (id && *id) {
        const struct secrets_key *k = api_key(c);
        if (!k)
            goto done;
        if (connection_load(c->st, k, id, &current, NULL, &e)) {
            api_error_from(c, &e);
            goto done;
        }
    }
    if (connection_doc_merge(current, body, &doc, &e)) {
        test_invalid(c, &e);
        goto done;
    }
    run_test(c, doc, current ? id : NULL, current);
done:
    json_decref(body);
    json_decref(current);
    json_decref(doc);
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
static enum sc_err rule_write(struct api_call *c, const struct rule *r, int create,
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
    else
        rc = create ? store_rule_insert(c->st, &row) : store_rule_update(c->st, &row);
    if (rc == SC_ERR_CONFLICT)
        sc_error_set(e, rc, "name", "a rule named '%s' already exists: choose another name",
                     r->name);
    else if (rc == SC_ERR_INVALID)
        sc_error_set(e, rc, "target", "the target connection %s does not exist", r->target);
    else if (rc && !e->code)
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
static enum sc_err rule_apply(struct api_call *c, const json_t *body, struct rule *r,
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
                strlen(t) > SC_UUID_LEN ? SC_ERR_NOT_FOUND : store_connection_get(c->st, t, &conn);
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

static void rules_list(struct api_call *c)
{
    int limit;
    const char *cursor;
    if (api_page_params(c, &limit, &cursor))
        return;
    struct store_rule *rows = NULL;
    size_t n = 0;
    char next[STORE_CURSOR_MAX];
    if (list_failed(c, store_rule_list(c->st, cursor, limit, &rows, &n, next), "rules"))
        return;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, rule_row_api(&rows[i]));
    store_rules_free(rows, n);
    api_json(c, 200, api_list(items, next[0] ? next : NULL));
}

static void rules_create(struct api_call *c)
{
    json_t *body = NULL;
    struct rule r = {0};
    struct sc_error e = {0};
    int trigger = 0, in_tx = 0;
    if (api_body_object(c, &body))
        return;
    r.description = sc_strdup("");
    r.mappings = mapping_defaults();
    if (begin_or_fail(c))
        goto done;
    in_tx = 1;
    if (rule_apply(c, body, &r, &trigger, &e))
        goto fail;
    if (r.enabled && rule_check_enable(c->st, &r, &e))
        goto fail;
    sc_uuid_v4(r.id);
    r.created_at = r.updated_at = sc_clock_now_ms();
    if (rule_write(c, &r, 1, &e))
        goto fail;
    if (append_event(c->st, "rule.changed", r.id, r.enabled, "created", r.enabled)) {
        sc_error_set(&e, SC_ERR_DB, NULL, "the change event could not be written");
        goto fail;
    }
    in_tx = 0;
    if (commit_or_fail(c))
        goto done;
    api_wake_engine(c);
    SC_INFO("rule.created", "id=%s enabled=%d", r.id, r.enabled);
    set_location(c, "rules", r.id);
    api_json(c, 201, rule_to_api(&r));
    goto done;
fail:
    if (in_tx)
        store_rollback(c->st);
    api_error_from(c, &e);
done:
    rule_clear(&r);
    json_decref(body);
}

/* Answers GET of the rule of the path (or the part of it respond() gives). */
static void rule_read(struct api_call *c, json_t *(*respond)(const struct rule *))
{
    struct rule r = {0};
    struct sc_error e = {0};
    if (rule_get(c->st, c->params[0], &r, &e)) {
        api_error_from(c, &e);
        return;
    }
    api_json(c, 200, respond(&r));
    rule_clear(&r);
}

static void rules_get(struct api_call *c)
{
    rule_read(c, rule_to_api);
}

/* Parses the body (a JSON object, or with any_json any JSON value), loads the rule of
 * the path inside a transaction, lets change() modify it, checks the enable
 * conditions, writes it with its event and answers with respond(). */
static void rule_update(struct api_call *c, int any_json,
                        enum sc_err (*change)(struct api_call *, const json_t *, struct rule *,
                                              int *, struct sc_error *),
                        json_t *(*respond)(const struct rule *))
{
    struct rule r = {0}, old = {0};
    struct sc_error e = {0};
    json_t *body = NULL;
    int trigger = 0;
    if (any_json ? body_json(c, &body) : api_body_object(c, &body))
        return;
    if (begin_or_fail(c))
        goto done;
    if (rule_get(c->st, c->params[0], &r, &e) || rule_get(c->st, c->params[0], &old, &e))
        goto fail;
    if (change(c, body, &r, &trigger, &e))
        goto fail;
    int same_filter =
        (!r.filter && !old.filter) || (r.filter && old.filter && json_equal(r.filter, old.filter));
    /* the enable conditions are checked when the rule is enabled or its target or filter
     * change while it is: a rename must not fail because its connection was disabled */
    if (r.enabled && (!old.enabled || strcmp(r.target, old.target) != 0 || !same_filter) &&
        rule_check_enable(c->st, &r, &e))
        goto fail;
    int changed = strcmp(r.name, old.name) != 0 || strcmp(r.description, old.description) != 0 ||
                  strcmp(r.target, old.target) != 0 || r.enabled != old.enabled || !same_filter ||
                  !json_equal(r.mappings, old.mappings);
    if (!changed) {
        store_rollback(c->st);
        api_json(c, 200, respond(&r));
        goto done;
    }
    r.updated_at = sc_clock_now_ms();
    int resync = trigger && r.enabled;
    if (rule_write(c, &r, 0, &e))
        goto fail;
    if (!json_equal(r.mappings, old.mappings) &&
        rule_mapping_clears_update(c->st, r.id, old.mappings, r.mappings, &e))
        goto fail;
    if (append_event(c->st, "rule.changed", r.id, resync, "updated", r.enabled)) {
        sc_error_set(&e, SC_ERR_DB, NULL, "the change event could not be written");
        goto fail;
    }
    if (commit_or_fail(c))
        goto done;
    api_wake_engine(c);
    SC_INFO("rule.updated", "id=%s resync=%d enabled=%d", r.id, resync, r.enabled);
    api_json(c, 200, respond(&r));
    goto done;
fail:
    store_rollback(c->st);
    api_error_from(c, &e);
done:
    rule_clear(&r);
    rule_clear(&old);
    json_decref(body);
}

static void rules_patch(struct api_call *c)
{
    rule_update(c, 0, rule_apply, rule_to_api);
}

static void rules_delete(struct api_call *c)
{
    if (begin_or_fail(c))
        return;
    struct store_rule row = {0};
    enum sc_err rc = store_rule_get(c->st, c->params[0], &row);
    if (!rc)
        rc = store_rule_delete(c->st, c->params[0]);
    if (!rc)
        rc = append_event(c->st, "rule.changed", c->params[0], 0, "deleted", 0);
    store_rule_clear(&row);
    if (rc) {
        store_rollback(c->st);
        api_error(c, rc, NULL,
                  rc == SC_ERR_NOT_FOUND ? "no rule with id %s"
                                         : "the rule %s could not be deleted",
                  c->params[0]);
        return;
    }
    if (commit_or_fail(c))
        return;
    api_wake_engine(c);
    SC_INFO("rule.deleted", "id=%s", c->params[0]);
    api_json(c, 204, NULL);
}

static enum sc_err filter_change(struct api_call *c, const json_t *body, struct rule *r,
                                 int *trigger, struct sc_error *e)
{
    (void)c;
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

static void filter_get(struct api_call *c)
{
    rule_read(c, filter_respond);
}

static void filter_put(struct api_call *c)
{
    rule_update(c, 0, filter_change, filter_respond);
}

static enum sc_err mappings_change(struct api_call *c, const json_t *body, struct rule *r,
                                   int *trigger, struct sc_error *e)
{
    (void)c;
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

static void mappings_get(struct api_call *c)
{
    rule_read(c, mappings_respond);
}

static void mappings_put(struct api_call *c)
{
    rule_update(c, 1, mappings_change, mappings_respond);
}

const struct api_route api_config_routes[] = {
    {"GET", "/api/v1/connections", connections_list, 0, "list provisioning connections"},
    {"POST", "/api/v1/connections", connections_create, 0, "create a provisioning connection"},
    {"POST", "/api/v1/connections/test", connections_test_unsaved, 0,
     "Test Connection on an unsaved connection body"},
    {"GET", "/api/v1/connections/{id}", connections_get, 0, "read a connection (secrets masked)"},
    {"PATCH", "/api/v1/connections/{id}", connections_patch, 0,
     "change a connection (\"********\" keeps a secret)"},
    {"DELETE", "/api/v1/connections/{id}", connections_delete, 0,
     "delete a connection (409 while a rule targets it)"},
    {"POST", "/api/v1/connections/{id}/test", connections_test_saved, 0,
     "Test Connection (optional body: unsaved edits)"},
    {"GET", "/api/v1/connections/{id}/capabilities", connections_capabilities, 0,
     "what Test Connection learnt of the target, with mapping warnings"},
    {"GET", "/api/v1/rules", rules_list, 0, "list provisioning rules"},
    {"POST", "/api/v1/rules", rules_create, 0, "create a rule (with the default mapping)"},
    {"GET", "/api/v1/rules/{id}", rules_get, 0, "read a rule"},
    {"PATCH", "/api/v1/rules/{id}", rules_patch, 0, "change a rule (enabled, name, target...)"},
    {"DELETE", "/api/v1/rules/{id}", rules_delete, 0, "delete a rule"},
    {"GET", "/api/v1/rules/{id}/filter", filter_get, 0, "read a rule's user filter"},
    {"PUT", "/api/v1/rules/{id}/filter", filter_put, 0, "set a rule's user filter"},
    {"GET", "/api/v1/rules/{id}/mappings", mappings_get, 0, "read a rule's attribute mapping"},
    {"PUT", "/api/v1/rules/{id}/mappings", mappings_put, 0,
     "replace a rule's attribute mapping (whole list)"},
    {NULL, NULL, NULL, 0, NULL},
};
