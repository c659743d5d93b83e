/* Provisioning sync routes: start a full resync of a rule (or plan one: dry run; let a
 * braked one proceed: allow; repair drift: verify), read a rule's sync status and
 * per-user state, and read the provisioning log. The work is done in provision/syncview.c;
 * these handlers parse, call and answer. */
#include "api/api.h"
#include "base/json.h"
#include "provision/engine.h"
#include "provision/groupsync.h"
#include "provision/syncview.h"

#include <stdlib.h>
#include <string.h>

static int query_true(struct api_call *c, const char *name)
{
    const char *v = http_request_query(c->req, name);
    return v && (sc_strcaseeq(v, "true") || strcmp(v, "1") == 0);
}

/* Reads a boolean query parameter or a boolean member of the (optional) JSON body; a
 * value of another type is refused. Returns 0, or -1 after answering 400. */
static int flag_param(struct api_call *c, const json_t *body, const char *name, int *out)
{
    *out = query_true(c, name);
    json_t *v = body ? json_object_get(body, name) : NULL;
    if (!v)
        return 0;
    if (!json_is_boolean(v)) {
        api_error(c, SC_ERR_INVALID, name, "%s must be true or false", name);
        return -1;
    }
    *out = *out || json_is_true(v);
    return 0;
}

static void rule_resync(struct api_call *c)
{
    json_t *body = NULL;
    if (c->req->body_len > 0) {
        if (api_body_object(c, &body))
            return;
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v)
        {
            if (strcmp(k, "dryRun") != 0 && strcmp(k, "allow") != 0 && strcmp(k, "verify") != 0) {
                api_error(c, SC_ERR_INVALID, k, "unknown field '%s' (dryRun, allow, verify)", k);
                json_decref(body);
                return;
            }
        }
    }
    int dry = 0, allow = 0, verify = 0;
    if (flag_param(c, body, "dryRun", &dry) || flag_param(c, body, "allow", &allow) ||
        flag_param(c, body, "verify", &verify)) {
        json_decref(body);
        return;
    }
    json_decref(body);
    struct sc_error e = {0};
    if (dry) {
        json_t *plan = NULL;
        if (provision_engine_dry_run(c->ctx->engine, c->st, c->params[0], verify, &plan, &e))
            api_error_from(c, &e);
        else
            api_json(c, 200, plan);
        return;
    }
    if (provision_resync_request(c->st, c->params[0], allow, verify, &e)) {
        api_error_from(c, &e);
        return;
    }
    api_wake_engine(c);
    api_json(c, 202,
             json_pack("{s:s, s:s, s:b, s:b}", "ruleId", c->params[0], "status", "QUEUED", "allow",
                       allow, "verify", verify));
}

static void rule_status(struct api_call *c)
{
    json_t *body = NULL;
    struct sc_error e = {0};
    if (provision_rule_status(c->st, c->params[0], &body, &e))
        api_error_from(c, &e);
    else
        api_json(c, 200, body);
}

static void rule_users(struct api_call *c)
{
    int limit;
    const char *cursor;
    if (api_page_params(c, &limit, &cursor))
        return;
    json_t *items = NULL;
    char *next = NULL;
    struct sc_error e = {0};
    if (provision_rule_users(c->st, c->params[0], limit, cursor, &items, &next, &e))
        api_error_from(c, &e);
    else
        api_json(c, 200, api_list(items, next));
    free(next);
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
    static const char *const actions[] = {"CREATE",      "UPDATE",         "DISABLE", "DELETE",
                                          "LINK",        "SKIP",           "ENABLE",  "VERIFY",
                                          "MEMBERS_ADD", "MEMBERS_REMOVE", "UNLINK",  NULL};
    static const char *const statuses[] = {"SUCCESS",  "FAILED",  "RETRY",
                                           "UNSYNCED", "DRIFTED", NULL};
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
                      "action must be one of CREATE, UPDATE, DISABLE, DELETE, LINK, SKIP, ENABLE, "
                      "VERIFY, MEMBERS_ADD, MEMBERS_REMOVE, UNLINK");
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
                      "status must be one of SUCCESS, FAILED, RETRY, UNSYNCED, DRIFTED");
            return;
        }
    }
    const char *kind = http_request_query(c->req, "kind");
    if (kind && *kind && strcmp(kind, "user") != 0 && strcmp(kind, "group") != 0) {
        api_error(c, SC_ERR_INVALID, "kind", "kind must be user or group");
        return;
    }
    json_t *items = NULL;
    char *next = NULL;
    struct sc_error e = {0};
    if (groupsync_log_list(c->st, rule && *rule ? rule : NULL, user && *user ? user : NULL,
                           action_up[0] ? action_up : NULL, status_up[0] ? status_up : NULL,
                           kind && *kind ? kind : NULL, limit, cursor, &items, &next, &e))
        api_error_from(c, &e);
    else
        api_json(c, 200, api_list(items, next));
    free(next);
}

static void cluster_list(struct api_call *c)
{
    json_t *body = NULL;
    struct sc_error e = {0};
    if (provision_cluster_list(c->st, provision_engine_node_id(c->ctx->engine), &body, &e))
        api_error_from(c, &e);
    else
        api_json(c, 200, body);
}

const struct api_route api_sync_routes[] = {
    {"POST", "/api/v1/rules/{id}/resync", rule_resync, 0,
     "full resync (?dryRun=true returns the plan; ?allow=true lets a braked resync go on; "
     "?verify=true reads the target's accounts and repairs drift; or the same as a JSON "
     "body)",
     "dryRun allow verify", "ResyncOptions?", 202, "ResyncQueued"},
    {"GET", "/api/v1/rules/{id}/status", rule_status, 0, "sync status and counters", NULL, NULL,
     200, "RuleStatus"},
    {"GET", "/api/v1/rules/{id}/users", rule_users, 0, "per-user link and state", "limit cursor",
     NULL, 200, "RuleUser[]"},
    {"GET", "/api/v1/logs", logs_list, 0,
     "provisioning log (?rule=&user=&action=&status=&kind=&limit=&cursor=)",
     "rule user action status kind limit cursor", NULL, 200, "LogEntry[]"},
    {"GET", "/api/v1/cluster", cluster_list, 0,
     "the nodes sharing the database and the engine's work (live ones: seen in the last 10 s)",
     NULL, NULL, 200, "Cluster"},
    {0},
};
