/* Provisioning state for the admin API (see syncview.h). */
#include "provision/groupsync.h"
#include "provision/syncview.h"
#include "base/clock.h"
#include "base/json.h"
#include "directory/directory.h"
#include "directory/userfilter.h"
#include "store/store_events.h"
#include "store/store_provision.h"
#include "store/store_sync.h"

#include <stdlib.h>
#include <string.h>

static enum sc_err load_rule(struct store *st, const char *rule_id, struct store_rule *r,
                             struct sc_error *e)
{
    enum sc_err err = store_rule_get(st, rule_id, r);
    if (err == SC_ERR_NOT_FOUND)
        return sc_error_set(e, err, NULL, "no rule with id %s", rule_id);
    if (err)
        return sc_error_set(e, err, NULL, "cannot read the rule");
    return SC_OK;
}

enum sc_err provision_resync_request(struct store *st, const char *rule_id, int allow, int verify,
                                     struct sc_error *e)
{
    struct store_rule r = {0};
    enum sc_err err = load_rule(st, rule_id, &r, e);
    if (err)
        return err;
    if (!r.enabled) {
        err = sc_error_set(e, SC_ERR_CONFLICT, "enabled",
                           "rule '%s' is disabled: enable it to sync (or use ?dryRun=true to see "
                           "the plan)",
                           r.name ? r.name : r.id);
        store_rule_clear(&r);
        return err;
    }
    char detail[64];
    snprintf(detail, sizeof detail, "{\"allow\":%s,\"verify\":%s}", allow ? "true" : "false",
             verify ? "true" : "false");
    err = store_begin(st);
    if (!err)
        err = store_event_append(st, "rule.resync", r.id, detail);
    if (!err)
        err = store_commit(st);
    else
        store_rollback(st);
    store_rule_clear(&r);
    if (err)
        return sc_error_set(e, err, NULL, "cannot queue the resync");
    return SC_OK;
}

enum sc_err provision_rule_status(struct store *st, const char *rule_id, json_t **out,
                                  struct sc_error *e)
{
    struct store_rule r = {0};
    enum sc_err err = load_rule(st, rule_id, &r, e);
    if (err)
        return err;
    int conn_enabled = 0, quarantined = 0;
    char reason[256] = "";
    if (r.target_id[0]) {
        struct store_connection sc = {0};
        if (store_connection_get(st, r.target_id, &sc) == SC_OK) {
            conn_enabled = sc.enabled;
            store_connection_clear(&sc);
        }
        store_sync_quarantine_get(st, r.target_id, &quarantined, reason, sizeof reason);
    }
    struct store_sync_counts n;
    struct store_sync_rule sr;
    int64_t pending = 0;
    err = store_sync_link_counts(st, r.id, &n);
    if (!err)
        err = store_sync_rule_get(st, r.id, &sr);
    if (!err)
        err = store_sync_outbox_count(st, r.id, &pending);
    if (err) {
        store_rule_clear(&r);
        return sc_error_set(e, err, NULL, "cannot read the rule's sync state");
    }
    int active = r.enabled && conn_enabled;
    const char *status = "INACTIVE";
    if (active) {
        if (quarantined)
            status = "QUARANTINED";
        else if (n.failed > 0)
            status = "FAILED";
        else
            status = "ACTIVE";
    }
    json_t *body = json_pack("{s:s, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:I}", "status", status,
                             "lastSyncAt", sc_json_time(sr.last_sync_at), "users", "impacted",
                             (json_int_t)n.impacted, "success", (json_int_t)n.success, "unsynced",
                             (json_int_t)n.unsynced, "partiallySynced", (json_int_t)n.partial,
                             "failed", (json_int_t)n.failed, "pending", (json_int_t)pending);
    if (sr.brake_hold > 0)
        json_object_set_new(
            body, "brake",
            json_pack("{s:I, s:I, s:s}", "held", (json_int_t)sr.brake_hold, "threshold",
                      (json_int_t)sr.brake_limit, "message",
                      "the last full resync would disable or delete more users than the safety "
                      "brake allows; POST .../resync?allow=true to let it proceed"));
    if (quarantined && reason[0])
        json_object_set_new(body, "quarantineReason", json_string(reason));
    json_t *groups = groupsync_status(st, r.id);
    if (groups)
        json_object_set_new(body, "groups", groups);
    if (sr.last_verify_at > 0)
        json_object_set_new(
            body, "verify",
            json_pack("{s:o, s:I, s:I}", "lastVerifyAt", sc_json_time(sr.last_verify_at), "checked",
                      (json_int_t)sr.verify_checked, "drifted", (json_int_t)sr.verify_drifted));
    store_rule_clear(&r);
    *out = body;
    return SC_OK;
}

/* Scope of queued users without a link: the rule's filter, compiled once per page. */
struct scope {
    struct userfilter *f;
    struct directory_groups *g;
    int loaded, failed;
};

static int in_scope(struct store *st, const struct store_rule *r, struct scope *sc,
                    const char *user_id, json_t **user)
{
    *user = NULL;
    if (!sc->loaded) {
        sc->loaded = 1;
        json_t *spec = r->filter ? json_loads(r->filter, 0, NULL) : NULL;
        struct sc_error fe = {0};
        if (!spec || userfilter_compile(spec, &sc->f, &fe) != SC_OK)
            sc->failed = 1;
        else if (userfilter_uses_groups(sc->f) && directory_groups_load(st, &sc->g, &fe) != SC_OK)
            sc->failed = 1;
        json_decref(spec);
    }
    if (sc->failed)
        return 0;
    struct sc_error de = {0};
    if (directory_user_get(st, user_id, user, &de) != SC_OK)
        return 0;
    const char *stack[64];
    size_t ng = sc->g ? directory_groups_of_user(sc->g, *user, stack, 64) : 0;
    if (ng > 64)
        ng = 64;
    json_t *en = json_object_get(*user, "enabled");
    return (!en || !json_is_false(en)) && userfilter_match(sc->f, *user, ng ? stack : NULL, ng);
}

enum sc_err provision_rule_users(struct store *st, const char *rule_id, int limit,
                                 const char *cursor, json_t **items, char **next,
                                 struct sc_error *e)
{
    *items = NULL;
    *next = NULL;
    struct store_rule r = {0};
    enum sc_err err = load_rule(st, rule_id, &r, e);
    if (err)
        return err;
    json_t *rows = json_array();
    err = store_sync_link_list(st, r.id, limit, cursor, rows, next);
    if (err) {
        json_decref(rows);
        store_rule_clear(&r);
        return sc_error_set(e, err, NULL, "cannot list the rule's users");
    }
    json_t *out = json_array();
    struct scope sc = {0};
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        int queued = json_is_true(json_object_get(row, "queued"));
        json_object_del(row, "queued");
        if (!json_is_null(json_object_get(row, "state"))) {
            json_array_append(out, row);
            continue;
        }
        /* queued, no link yet: listed as PENDING while the rule's filter takes it in */
        json_t *user = NULL;
        const char *uid = json_string_value(json_object_get(row, "userId"));
        if (queued && uid && in_scope(st, &r, &sc, uid, &user)) {
            json_object_set_new(row, "state", json_string("PENDING"));
            json_object_set(row, "username", json_object_get(user, "username"));
            json_array_append(out, row);
        }
        json_decref(user);
    }
    userfilter_free(sc.f);
    directory_groups_free(sc.g);
    json_decref(rows);
    store_rule_clear(&r);
    *items = out;
    return SC_OK;
}

enum sc_err provision_log_list(struct store *st, const char *rule_id, const char *user_id,
                               const char *action, const char *status, int limit,
                               const char *cursor, json_t **items, char **next, struct sc_error *e)
{
    json_t *out = json_array();
    enum sc_err err =
        store_sync_log_list(st, rule_id, user_id, action, status, limit, cursor, out, next);
    if (err) {
        json_decref(out);
        if (err == SC_ERR_INVALID)
            return sc_error_set(e, err, "cursor", "cursor is not one this server gave out");
        return sc_error_set(e, err, NULL, "cannot read the provisioning log");
    }
    *items = out;
    return SC_OK;
}

enum sc_err provision_cluster_list(struct store *st, const char *self_id, json_t **out,
                                   struct sc_error *e)
{
    struct store_node *v = NULL;
    size_t n = 0;
    /* the engines' ENGINE_NODE_DEAD_MS */
    enum sc_err err = store_sync_node_list(st, sc_clock_now_ms() - 10000, &v, &n);
    if (err)
        return sc_error_set(e, err, NULL, "cannot read the nodes");
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            items, json_pack("{s:s, s:s, s:o, s:o, s:I, s:b}", "id", v[i].id, "listen", v[i].listen,
                             "startedAt", sc_json_time(v[i].started_at), "lastSeenAt",
                             sc_json_time(v[i].last_seen_at), "leased", (json_int_t)v[i].leased,
                             "self", self_id && strcmp(v[i].id, self_id) == 0));
    free(v);
    *out = json_pack("{s:o}", "items", items);
    return SC_OK;
}
