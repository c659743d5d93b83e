/* Provisioning sync routes: start a full resync of a rule (or plan one: dry run; or let
 * a braked one proceed: allow), read a rule's sync status and per-user state, and read
 * the provisioning log. Resyncs are requested through a `rule.resync` change event, so
 * they survive a restart and reach whichever engine process consumes the events. */
#include "api/api.h"
#include "base/clock.h"
#include "base/json.h"
#include "provision/engine.h"
#include "store/store_events.h"
#include "store/store_provision.h"
#include "store/store_sync.h"

#include <stdlib.h>
#include <string.h>

static int query_true(struct api_call *c, const char *name)
{
    const char *v = http_request_query(c->req, name);
    return v && (sc_strcaseeq(v, "true") || strcmp(v, "1") == 0);
}

/* Loads the rule named by the first path parameter; responds 404 when absent. */
static int load_rule(struct api_call *c, struct store_rule *r)
{
    enum sc_err err = store_rule_get(c->st, c->params[0], r);
    if (err == SC_ERR_NOT_FOUND) {
        api_error(c, SC_ERR_NOT_FOUND, NULL, "no rule with id %s", c->params[0]);
        return -1;
    }
    if (err) {
        api_error(c, err, NULL, "cannot read the rule");
        return -1;
    }
    return 0;
}

static void rule_resync(struct api_call *c)
{
    struct store_rule r = {0};
    if (load_rule(c, &r))
        return;
    int dry = query_true(c, "dryRun");
    int allow = query_true(c, "allow");
    if (dry) {
        json_t *plan = NULL;
        struct sc_error e = {0};
        if (provision_engine_dry_run(c->ctx->engine, c->st, r.id, &plan, &e))
            api_error_from(c, &e);
        else
            api_json(c, 200, plan);
        store_rule_clear(&r);
        return;
    }
    if (!r.enabled) {
        api_error(c, SC_ERR_CONFLICT, "enabled",
                  "rule '%s' is disabled: enable it to sync (or use ?dryRun=true to see the plan)",
                  r.name ? r.name : r.id);
        store_rule_clear(&r);
        return;
    }
    enum sc_err err = store_begin(c->st);
    if (!err)
        err = store_event_append(c->st, "rule.resync", r.id,
                                 allow ? "{\"allow\":true}" : "{\"allow\":false}");
    if (!err)
        err = store_commit(c->st);
    else
        store_rollback(c->st);
    if (err) {
        api_error(c, err, NULL, "cannot queue the resync");
        store_rule_clear(&r);
        return;
    }
    api_wake_engine(c);
    api_json(c, 202,
             json_pack("{s:s, s:s, s:b}", "ruleId", r.id, "status", "QUEUED", "allow", allow));
    store_rule_clear(&r);
}

static void rule_status(struct api_call *c)
{
    struct store_rule r = {0};
    if (load_rule(c, &r))
        return;
    int conn_enabled = 0, quarantined = 0;
    char reason[256] = "";
    if (r.target_id[0]) {
        struct store_connection sc = {0};
        if (store_connection_get(c->st, r.target_id, &sc) == SC_OK) {
            conn_enabled = sc.enabled;
            store_connection_clear(&sc);
        }
        store_sync_quarantine_get(c->st, r.target_id, &quarantined, reason, sizeof reason);
    }
    struct store_sync_counts n;
    struct store_sync_rule sr;
    int64_t pending = 0;
    enum sc_err err = store_sync_link_counts(c->st, r.id, &n);
    if (!err)
        err = store_sync_rule_get(c->st, r.id, &sr);
    if (!err)
        err = store_sync_outbox_count(c->st, r.id, &pending);
    if (err) {
        api_error(c, err, NULL, "cannot read the rule's sync state");
        store_rule_clear(&r);
        return;
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
    char t[32];
    json_t *body = json_pack(
        "{s:s, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:I}", "status", status, "lastSyncAt",
        sr.last_sync_at > 0 ? json_string(sc_clock_format_iso8601(sr.last_sync_at, t, sizeof t))
                            : json_null(),
        "users", "impacted", (json_int_t)n.impacted, "success", (json_int_t)n.success, "unsynced",
        (json_int_t)n.unsynced, "partiallySynced", (json_int_t)n.partial, "failed",
        (json_int_t)n.failed, "pending", (json_int_t)pending);
    if (sr.brake_hold > 0)
        json_object_set_new(
            body, "brake",
            json_pack("{s:I, s:I, s:s}", "held", (json_int_t)sr.brake_hold, "threshold",
                      (json_int_t)sr.brake_limit, "message",
                      "the last full resync would disable or delete more users than the safety "
                      "brake allows; POST .../resync?allow=true to let it proceed"));
    if (quarantined && reason[0])
        json_object_set_new(body, "quarantineReason", json_string(reason));
    api_json(c, 200, body);
    store_rule_clear(&r);
}

static void rule_users(struct api_call *c)
{
    struct store_rule r = {0};
    if (load_rule(c, &r))
        return;
    int limit;
    const char *cursor;
    if (api_page_params(c, &limit, &cursor)) {
        store_rule_clear(&r);
        return;
    }
    json_t *items = json_array();
    char *next = NULL;
    enum sc_err err = store_sync_link_list(c->st, r.id, limit, cursor, items, &next);
    if (err) {
        json_decref(items);
        api_error(c, err, NULL, "cannot list the rule's users");
    } else {
        api_json(c, 200, api_list(items, next));
    }
    free(next);
    store_rule_clear(&r);
}

static int one_of(const char *v, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(v, *allowed) == 0)
            return 1;
    return 0;
}

static void logs_list(struct api_call *c)
{
    static const char *const actions[] = {"CREATE", "UPDATE", "DISABLE", "DELETE",
                                          "LINK",   "SKIP",   "ENABLE",  NULL};
    static const char *const statuses[] = {"SUCCESS", "FAILED", "RETRY", "UNSYNCED", NULL};
    int limit;
    const char *cursor;
    if (api_page_params(c, &limit, &cursor))
        return;
    const char *rule = http_request_query(c->req, "rule");
    const char *user = http_request_query(c->req, "user");
    const char *action = http_request_query(c->req, "action");
    const char *status = http_request_query(c->req, "status");
    char action_up[16] = "", status_up[16] = "";
    if (action && *action) {
        sc_strlcpy(action_up, action, sizeof action_up);
        for (char *p = action_up; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        if (!one_of(action_up, actions)) {
            api_error(c, SC_ERR_INVALID, "action",
                      "action must be one of CREATE, UPDATE, DISABLE, DELETE, LINK, SKIP, ENABLE");
            return;
        }
    }
    if (status && *status) {
        sc_strlcpy(status_up, status, sizeof status_up);
        for (char *p = status_up; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        if (!one_of(status_up, statuses)) {
            api_error(c, SC_ERR_INVALID, "status",
                      "status must be one of SUCCESS, FAILED, RETRY, UNSYNCED");
            return;
        }
    }
    json_t *items = json_array();
    char *next = NULL;
    enum sc_err err =
        store_sync_log_list(c->st, rule && *rule ? rule : NULL, user && *user ? user : NULL,
                            action_up[0] ? action_up : NULL, status_up[0] ? status_up : NULL, limit,
                            cursor, items, &next);
    if (err == SC_ERR_INVALID) {
        json_decref(items);
        api_error(c, SC_ERR_INVALID, "cursor", "cursor is not one this server gave out");
    } else if (err) {
        json_decref(items);
        api_error(c, err, NULL, "cannot read the provisioning log");
    } else {
        api_json(c, 200, api_list(items, next));
    }
    free(next);
}

const struct api_route api_sync_routes[] = {
    {"POST", "/api/v1/rules/{id}/resync", rule_resync, 0,
     "full resync (?dryRun=true returns the plan; ?allow=true lets a braked resync go on)"},
    {"GET", "/api/v1/rules/{id}/status", rule_status, 0, "sync status and counters"},
    {"GET", "/api/v1/rules/{id}/users", rule_users, 0, "per-user link and state"},
    {"GET", "/api/v1/logs", logs_list, 0,
     "provisioning log (?rule=&user=&action=&status=&limit=&cursor=)"},
    {NULL, NULL, NULL, 0, NULL},
};
