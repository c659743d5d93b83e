/* Provisioning configuration routes (docs/api.md): connections (CRUD, Test Connection
 * and the capabilities it learnt), rules (CRUD), a rule's user filter and its attribute
 * mapping. The work (validation, sealed secrets, the enable conditions, transactions
 * with their change events, waking the engine) is done in provision/config.c; these
 * handlers parse, call and answer. */
#include "api/api.h"
#include "base/json.h"
#include "inbound/inbound.h"
#include "provision/config.h"
#include "provision/groupsync.h"

#include <stdio.h>
#include <stdlib.h>

/* The configuration calls' view of this request: its store connection, the secrets key
 * file and the engine's wake-up. */
static struct provision_config_ctx config_ctx(struct api_call *c)
{
    struct provision_config_ctx cx = {
        .st = c->st,
        .key_path = c->ctx->key_path,
        .wake = c->ctx->wake,
        .wake_arg = c->ctx->wake_arg,
    };
    return cx;
}

/* Answers rc: e's error, or status with out (stolen; NULL for no body). */
static void reply(struct api_call *c, enum sc_err rc, const struct sc_error *e, int status,
                  json_t *out)
{
    if (rc)
        api_error_from(c, e);
    else
        api_json(c, status, out);
}

/* Answers a created resource: 201 with its Location (/api/v1/<kind>/<id>). */
static void reply_created(struct api_call *c, enum sc_err rc, const struct sc_error *e,
                          const char *kind, json_t *out)
{
    if (rc) {
        api_error_from(c, e);
        return;
    }
    const char *id = sc_json_get_string(out, "id");
    char loc[128];
    snprintf(loc, sizeof loc, "/api/v1/%s/%s", kind, id ? id : "");
    http_response_header(c->res, "Location", loc);
    api_json(c, 201, out);
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

typedef enum sc_err (*list_fn)(const struct provision_config_ctx *cx, const char *cursor, int limit,
                               json_t **items, char **next, struct sc_error *e);

static void list_with(struct api_call *c, list_fn fn)
{
    int limit;
    const char *cursor;
    if (api_page_params(c, &limit, &cursor))
        return;
    struct provision_config_ctx cx = config_ctx(c);
    json_t *items = NULL;
    char *next = NULL;
    struct sc_error e = {0};
    enum sc_err rc = fn(&cx, cursor, limit, &items, &next, &e);
    reply(c, rc, &e, 200, rc ? NULL : api_list(items, next));
    free(next);
}

/* GET of the item named by the route's first parameter. */
static void get_with(struct api_call *c,
                     enum sc_err (*fn)(const struct provision_config_ctx *, const char *, json_t **,
                                       struct sc_error *))
{
    struct provision_config_ctx cx = config_ctx(c);
    json_t *out = NULL;
    struct sc_error e = {0};
    enum sc_err rc = fn(&cx, c->params[0], &out, &e);
    reply(c, rc, &e, 200, out);
}

/* A body (a JSON object, or with any_json any JSON value) sent to the item named by the
 * route's first parameter: 200 with what was stored. */
static void update_with(struct api_call *c, int any_json,
                        enum sc_err (*fn)(const struct provision_config_ctx *, const char *,
                                          const json_t *, json_t **, struct sc_error *))
{
    json_t *in = NULL, *out = NULL;
    if (any_json ? body_json(c, &in) : api_body_object(c, &in))
        return;
    struct provision_config_ctx cx = config_ctx(c);
    struct sc_error e = {0};
    enum sc_err rc = fn(&cx, c->params[0], in, &out, &e);
    json_decref(in);
    reply(c, rc, &e, 200, out);
}

/* Loop safety (inbound/inbound.h): a rule's new filter or target must not send an
 * inbound token's users back to the connection that is the token's source's own.
 * Answers the refusal and returns -1. */
static int loop_check(struct api_call *c, const char *rule_id, const json_t *filter,
                      const json_t *target)
{
    struct sc_error e = {0};
    const char *t = json_string_value(target);
    if (!filter && !t)
        return 0;
    if (inbound_loop_check_rule_change(c->st, rule_id, filter, t, &e)) {
        api_error_from(c, &e);
        return -1;
    }
    return 0;
}

/* update_with after loop_check of the body (the filter itself, or a rule's target). */
static void update_checked(struct api_call *c, int is_filter,
                           enum sc_err (*fn)(const struct provision_config_ctx *, const char *,
                                             const json_t *, json_t **, struct sc_error *))
{
    json_t *in = NULL, *out = NULL;
    if (api_body_object(c, &in))
        return;
    if (loop_check(c, c->params[0], is_filter ? in : NULL,
                   is_filter ? NULL : json_object_get(in, "target"))) {
        json_decref(in);
        return;
    }
    struct provision_config_ctx cx = config_ctx(c);
    struct sc_error e = {0};
    enum sc_err rc = fn(&cx, c->params[0], in, &out, &e);
    json_decref(in);
    reply(c, rc, &e, 200, out);
}

/* DELETE of the item named by the route's first parameter: 204. */
static void delete_with(struct api_call *c, enum sc_err (*fn)(const struct provision_config_ctx *,
                                                              const char *, struct sc_error *))
{
    struct provision_config_ctx cx = config_ctx(c);
    struct sc_error e = {0};
    enum sc_err rc = fn(&cx, c->params[0], &e);
    reply(c, rc, &e, 204, NULL);
}

/* Connections. */

static void connections_list(struct api_call *c)
{
    list_with(c, provision_connection_list);
}

static void connections_create(struct api_call *c)
{
    json_t *body = NULL, *out = NULL;
    if (api_body_object(c, &body))
        return;
    struct provision_config_ctx cx = config_ctx(c);
    struct sc_error e = {0};
    enum sc_err rc = provision_connection_create(&cx, body, &out, &e);
    json_decref(body);
    reply_created(c, rc, &e, "connections", out);
}

static void connections_get(struct api_call *c)
{
    get_with(c, provision_connection_get);
}

static void connections_patch(struct api_call *c)
{
    update_with(c, 0, provision_connection_update);
}

static void connections_delete(struct api_call *c)
{
    delete_with(c, provision_connection_delete);
}

static void connections_capabilities(struct api_call *c)
{
    get_with(c, provision_connection_capabilities);
}

static void connections_test_saved(struct api_call *c)
{
    struct provision_config_ctx cx = config_ctx(c);
    json_t *edits = NULL, *report = NULL;
    struct sc_error e = {0};
    int has_body = 0;
    for (size_t i = 0; i < c->req->body_len; i++)
        if (c->req->body[i] != ' ' && c->req->body[i] != '\n' && c->req->body[i] != '\r' &&
            c->req->body[i] != '\t')
            has_body = 1;
    if (has_body) {
        /* unsaved edits of the console's wizard; a connection that is missing or cannot
         * be read is reported before a malformed body */
        struct sc_error be = {0};
        if (api_body_parse(c, &edits, &be)) {
            api_error_from(c, provision_connection_check(&cx, c->params[0], &e) ? &e : &be);
            return;
        }
    }
    enum sc_err rc = provision_connection_test(&cx, c->params[0], edits, &report, &e);
    json_decref(edits);
    reply(c, rc, &e, 200, report);
}

static void connections_test_unsaved(struct api_call *c)
{
    json_t *body = NULL, *report = NULL;
    if (api_body_object(c, &body))
        return;
    struct provision_config_ctx cx = config_ctx(c);
    struct sc_error e = {0};
    enum sc_err rc = provision_connection_test_unsaved(&cx, body, &report, &e);
    json_decref(body);
    reply(c, rc, &e, 200, report);
}

/* Rules. */

static void rules_list(struct api_call *c)
{
    list_with(c, provision_rule_list);
}

static void rules_create(struct api_call *c)
{
    json_t *body = NULL, *out = NULL;
    if (api_body_object(c, &body))
        return;
    if (loop_check(c, NULL, json_object_get(body, "filter"), json_object_get(body, "target"))) {
        json_decref(body);
        return;
    }
    struct provision_config_ctx cx = config_ctx(c);
    struct sc_error e = {0};
    enum sc_err rc = provision_rule_create(&cx, body, &out, &e);
    json_decref(body);
    reply_created(c, rc, &e, "rules", out);
}

static void rules_get(struct api_call *c)
{
    get_with(c, provision_rule_get);
}

static void rules_patch(struct api_call *c)
{
    update_checked(c, 0, provision_rule_update);
}

static void rules_delete(struct api_call *c)
{
    delete_with(c, provision_rule_delete);
}

static void filter_get(struct api_call *c)
{
    get_with(c, provision_rule_filter_get);
}

static void filter_put(struct api_call *c)
{
    update_checked(c, 1, provision_rule_filter_put);
}

static void mappings_get(struct api_call *c)
{
    get_with(c, provision_rule_mappings_get);
}

static void mappings_put(struct api_call *c)
{
    update_with(c, 1, provision_rule_mappings_put);
}

static void groups_get(struct api_call *c)
{
    get_with(c, provision_rule_groups_get);
}

static void groups_put(struct api_call *c)
{
    update_with(c, 0, provision_rule_groups_put);
}

const struct api_route api_config_routes[] = {
    {"GET", "/api/v1/connections", connections_list, 0, "list provisioning connections",
     "limit cursor", NULL, 200, "Connection[]"},
    {"POST", "/api/v1/connections", connections_create, 0, "create a provisioning connection", NULL,
     "ConnectionInput", 201, "Connection"},
    {"POST", "/api/v1/connections/test", connections_test_unsaved, 0,
     "Test Connection on an unsaved connection body", NULL, "ConnectionInput", 200, "TestReport"},
    {"GET", "/api/v1/connections/{id}", connections_get, 0, "read a connection (secrets masked)",
     NULL, NULL, 200, "Connection"},
    {"PATCH", "/api/v1/connections/{id}", connections_patch, 0,
     "change a connection (\"********\" keeps a secret)", NULL, "ConnectionInput", 200,
     "Connection"},
    {"DELETE", "/api/v1/connections/{id}", connections_delete, 0,
     "delete a connection (409 while a rule targets it)", NULL, NULL, 204, NULL},
    {"POST", "/api/v1/connections/{id}/test", connections_test_saved, 0,
     "Test Connection (optional body: unsaved edits)", NULL, "ConnectionInput?", 200, "TestReport"},
    {"GET", "/api/v1/connections/{id}/capabilities", connections_capabilities, 0,
     "what Test Connection learnt of the target, with mapping warnings", NULL, NULL, 200,
     "Capabilities"},
    {"GET", "/api/v1/rules", rules_list, 0, "list provisioning rules", "limit cursor", NULL, 200,
     "Rule[]"},
    {"POST", "/api/v1/rules", rules_create, 0, "create a rule (with the default mapping)", NULL,
     "RuleInput", 201, "Rule"},
    {"GET", "/api/v1/rules/{id}", rules_get, 0, "read a rule", NULL, NULL, 200, "Rule"},
    {"PATCH", "/api/v1/rules/{id}", rules_patch, 0, "change a rule (enabled, name, target...)",
     NULL, "RuleInput", 200, "Rule"},
    {"DELETE", "/api/v1/rules/{id}", rules_delete, 0, "delete a rule", NULL, NULL, 204, NULL},
    {"GET", "/api/v1/rules/{id}/filter", filter_get, 0, "read a rule's user filter", NULL, NULL,
     200, "FilterOrNull"},
    {"PUT", "/api/v1/rules/{id}/filter", filter_put, 0, "set a rule's user filter", NULL, "Filter",
     200, "Filter"},
    {"GET", "/api/v1/rules/{id}/mappings", mappings_get, 0, "read a rule's attribute mapping", NULL,
     NULL, 200, "Mappings"},
    {"PUT", "/api/v1/rules/{id}/mappings", mappings_put, 0,
     "replace a rule's attribute mapping (whole list)", NULL, "Mappings", 200, "Mappings"},
    {"GET", "/api/v1/rules/{id}/groups", groups_get, 0, "read a rule's group provisioning section",
     NULL, NULL, 200, "GroupProvisioning"},
    {"PUT", "/api/v1/rules/{id}/groups", groups_put, 0, "set a rule's group provisioning section",
     NULL, "GroupProvisioning", 200, "GroupProvisioning"},
    {0},
};
