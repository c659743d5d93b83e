/* The named admin tokens: /api/v1/tokens (list, create: the token is in the answer to
 * the create and nowhere else) and /api/v1/tokens/{id} (revoke; never the last token).
 * Handlers parse and validate the body, call admin/ and answer. */
#include "api/api.h"
#include "admin/admin.h"
#include "inbound/inbound.h"
#include "base/clock.h"

#include <string.h>

/* Answers with the list of tokens list_fn makes, or its error. */
static void answer_list(struct api_call *c,
                        enum sc_err (*list_fn)(struct store *st, json_t **out, struct sc_error *e))
{
    json_t *items = NULL;
    struct sc_error e = {0};
    if (list_fn(c->st, &items, &e)) {
        api_error_from(c, &e);
        return;
    }
    api_json(c, 200, api_list(items, NULL));
}

/* Revokes the token {id} with revoke_fn: 204, or its error. */
static void answer_revoke(struct api_call *c,
                          enum sc_err (*revoke_fn)(struct store *st, const char *id,
                                                   struct sc_error *e))
{
    struct sc_error e = {0};
    if (revoke_fn(c->st, c->params[0], &e)) {
        api_error_from(c, &e);
        return;
    }
    api_json(c, 204, NULL);
}

static void tokens_list(struct api_call *c)
{
    answer_list(c, admin_token_list);
}

static void tokens_create(struct api_call *c)
{
    static const char *const allowed[] = {"name", "expiresAt", NULL};
    json_t *in = NULL, *out = NULL;
    struct sc_error e = {0};
    if (api_body_object(c, &in))
        return;
    if (api_reject_unknown(c, in, allowed))
        goto done;
    json_t *name = json_object_get(in, "name");
    if (!json_is_string(name)) {
        api_error(c, SC_ERR_INVALID, "name", "name is required: a string naming the token");
        goto done;
    }
    json_t *exp = json_object_get(in, "expiresAt");
    int64_t expires_at = 0;
    if (exp && !json_is_null(exp) &&
        (!json_is_string(exp) || sc_clock_parse_iso8601(json_string_value(exp), &expires_at))) {
        api_error(c, SC_ERR_INVALID, "expiresAt",
                  "expiresAt must be an RFC 3339 time such as 2027-01-31T00:00:00Z, or null");
        goto done;
    }
    if (admin_token_create(c->st, json_string_value(name), expires_at, sc_clock_now_ms(), &out,
                           &e)) {
        api_error_from(c, &e);
        goto done;
    }
    api_json(c, 201, out);
done:
    json_decref(in);
}

static void tokens_revoke(struct api_call *c)
{
    answer_revoke(c, admin_token_revoke);
}

static void inbound_list(struct api_call *c)
{
    answer_list(c, inbound_token_list);
}

static void inbound_create(struct api_call *c)
{
    static const char *const allowed[] = {"name", "population", "scope", "sourceConnection", NULL};
    json_t *in = NULL, *out = NULL;
    struct sc_error e = {0};
    if (api_body_object(c, &in))
        return;
    if (api_reject_unknown(c, in, allowed))
        goto done;
    static const char *const fields[] = {"name", "population", "scope"};
    for (size_t i = 0; i < 3; i++) {
        if (!json_is_string(json_object_get(in, fields[i]))) {
            api_error(c, SC_ERR_INVALID, fields[i], "%s is required: a string", fields[i]);
            goto done;
        }
    }
    json_t *src = json_object_get(in, "sourceConnection");
    if (src && !json_is_null(src) && !json_is_string(src)) {
        api_error(c, SC_ERR_INVALID, "sourceConnection",
                  "sourceConnection must be a connection's id or null");
        goto done;
    }
    if (inbound_token_create(c->st, json_string_value(json_object_get(in, "name")),
                             json_string_value(json_object_get(in, "population")),
                             json_string_value(json_object_get(in, "scope")),
                             json_string_value(src), sc_clock_now_ms(), &out, &e)) {
        api_error_from(c, &e);
        goto done;
    }
    api_json(c, 201, out);
done:
    json_decref(in);
}

static void inbound_patch(struct api_call *c)
{
    static const char *const allowed[] = {"sourceConnection", NULL};
    json_t *in = NULL, *items = NULL;
    struct sc_error e = {0};
    if (api_body_object(c, &in))
        return;
    if (api_reject_unknown(c, in, allowed))
        goto done;
    json_t *src = json_object_get(in, "sourceConnection");
    if (!src || (!json_is_null(src) && !json_is_string(src))) {
        api_error(c, SC_ERR_INVALID, "sourceConnection",
                  "sourceConnection is required: a connection's id, or null for none");
        goto done;
    }
    if (inbound_token_set_source(c->st, c->params[0], json_string_value(src), &e) ||
        inbound_token_list(c->st, &items, &e)) {
        api_error_from(c, &e);
        goto done;
    }
    size_t i;
    json_t *t;
    json_array_foreach(items, i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "id")), c->params[0]) == 0) {
            api_json(c, 200, json_incref(t));
            goto done;
        }
    }
    api_error(c, SC_ERR_NOT_FOUND, NULL, "no inbound token %s", c->params[0]);
done:
    json_decref(in);
    json_decref(items);
}

static void inbound_revoke(struct api_call *c)
{
    answer_revoke(c, inbound_token_revoke);
}

const struct api_route api_token_routes[] = {
    {"GET", "/api/v1/tokens", tokens_list, 0, "list the admin tokens (never the tokens themselves)",
     NULL, NULL, 200, "AdminToken[]"},
    {"POST", "/api/v1/tokens", tokens_create, 0,
     "create a named admin token: the answer holds the token, shown this once", NULL,
     "AdminTokenInput", 201, "AdminTokenCreated"},
    {"DELETE", "/api/v1/tokens/{id}", tokens_revoke, 0,
     "revoke an admin token (409 for the last one)", NULL, NULL, 204, NULL},
    {"GET", "/api/v1/inbound-tokens", inbound_list, 0,
     "list the inbound SCIM tokens (never the tokens themselves)", NULL, NULL, 200,
     "InboundToken[]"},
    {"POST", "/api/v1/inbound-tokens", inbound_create, 0,
     "create an inbound SCIM token for /scim/v2: the answer holds the token, shown this once", NULL,
     "InboundTokenInput", 201, "InboundTokenCreated"},
    {"PATCH", "/api/v1/inbound-tokens/{id}", inbound_patch, 0,
     "mark (or unmark) the connection that is the token's source's own: no rule towards it may "
     "take in the token's population",
     NULL, "InboundTokenPatch", 200, "InboundToken"},
    {"DELETE", "/api/v1/inbound-tokens/{id}", inbound_revoke, 0, "revoke an inbound SCIM token",
     NULL, NULL, 204, NULL},
    {0},
};
