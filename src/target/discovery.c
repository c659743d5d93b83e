/* The discovery endpoints of the target (RFC 7644 §4): /ServiceProviderConfig, which
 * advertises what this provider supports (PATCH, Bulk with its limits, filter with
 * maxResults, ETags; no password change or sorting; the configured authentication
 * schemes), and /ResourceTypes and /Schemas rendered from the SCIM core's tables. In
 * SCIM 1.1 (draft-scim-api-01 §4, draft-scim-core-schema-01 §5 and §7):
 * /ServiceProviderConfigs (no Bulk, no XML) and /Schemas/Users, /Schemas/Groups. */
#include "target/service.h"
#include "base/id.h"
#include "base/buf.h"
#include "scim/dialect.h"
#include "scim/message.h"
#include "scim/schema.h"

#include <stdio.h>
#include <string.h>

static json_t *auth_schemes(const struct target_service *t)
{
    json_t *a = json_array();
    if (t->auth & (TARGET_AUTH_BEARER | TARGET_AUTH_OAUTH))
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:b}", "type", "oauthbearertoken",
                                           "name", "OAuth Bearer Token", "description",
                                           t->auth_bearer_text ? t->auth_bearer_text
                                           : (t->auth & TARGET_AUTH_OAUTH)
                                               ? "Bearer tokens from POST /oauth/token "
                                                 "(OAuth 2 client credentials)"
                                               : "Authentication with a static bearer token",
                                           "primary", 1));
    if (t->auth & TARGET_AUTH_BASIC)
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:b}", "type", "httpbasic", "name", "HTTP Basic",
                         "description", "Authentication with a user name and password", "primary",
                         !(t->auth & (TARGET_AUTH_BEARER | TARGET_AUTH_OAUTH))));
    return a;
}

static json_t *service_provider_config(const struct target_service *t)
{
    char loc[320];
    snprintf(loc, sizeof loc, "%s/ServiceProviderConfig", t->base_url);
    return json_pack("{s:[s], s:{s:b}, s:{s:b, s:i, s:I}, s:{s:b, s:i}, s:{s:b}, s:{s:b},"
                     " s:{s:b}, s:o, s:{s:s, s:s}}",
                     "schemas", SCIM_SCHEMA_SERVICE_PROVIDER_CONFIG, "patch", "supported", 1,
                     "bulk", "supported", 1, "maxOperations", t->bulk_max_ops, "maxPayloadSize",
                     (json_int_t)t->max_body, "filter", "supported", 1, "maxResults",
                     t->max_results, "changePassword", "supported", 0, "sort", "supported", 0,
                     "etag", "supported", 1, "authenticationSchemes", auth_schemes(t), "meta",
                     "resourceType", "ServiceProviderConfig", "location", loc);
}

/* SCIM 1.1's ServiceProviderConfigs: the same facts, 1.1's members (no Bulk offered,
 * xmlDataFormat, authentication schemes with name, description and specUrl). */
static json_t *service_provider_configs_11(const struct target_service *t)
{
    char loc[320];
    snprintf(loc, sizeof loc, "%s/ServiceProviderConfigs", t->base_url);
    json_t *schemes = auth_schemes(t);
    size_t i;
    json_t *a;
    json_array_foreach(schemes, i, a)
    {
        const char *type = json_string_value(json_object_get(a, "type"));
        json_object_set_new(a, "specUrl",
                            json_string(type && strcmp(type, "httpbasic") == 0
                                            ? "http://tools.ietf.org/html/rfc2617"
                                            : "http://tools.ietf.org/html/rfc6750"));
        json_object_del(a, "type");
        json_object_del(a, "primary");
    }
    return json_pack("{s:[s], s:{s:b}, s:{s:b, s:i, s:i}, s:{s:b, s:i}, s:{s:b}, s:{s:b},"
                     " s:{s:b}, s:{s:b}, s:o, s:{s:s}}",
                     "schemas", SCIM11_SCHEMA_CORE, "patch", "supported", 1, "bulk", "supported", 0,
                     "maxOperations", 0, "maxPayloadSize", 0, "filter", "supported", 1,
                     "maxResults", t->max_results, "changePassword", "supported", 0, "sort",
                     "supported", 0, "etag", "supported", 1, "xmlDataFormat", "supported", 0,
                     "authenticationSchemes", schemes, "meta", "location", loc);
}

static int discovery_11(const struct target_service *t, const char *path, struct target_result *r)
{
    if (sc_strcaseeq(path, "/ServiceProviderConfigs")) {
        r->body = service_provider_configs_11(t);
        r->status = r->body ? 200 : 500;
        return 0;
    }
    if (sc_strncaseeq(path, "/Schemas/", 9) || sc_strcaseeq(path, "/Schemas")) {
        const struct scim_resource_type *rt = NULL;
        if (sc_strcaseeq(path + 8, "/Users"))
            rt = scim_resource_type_user();
        else if (sc_strcaseeq(path + 8, "/Groups"))
            rt = scim_resource_type_group();
        if (!rt) {
            target_error(r, 404, NULL, "no schema '%s' (SCIM 1.1: /Schemas/Users, /Schemas/Groups)",
                         path[8] ? path + 9 : "");
            return 0;
        }
        r->body = scim_dialect_schema_11_json(rt, t->base_url);
        r->status = r->body ? 200 : 500;
        return 0;
    }
    return -1;
}

static void list_of(struct target_result *r, json_t *items)
{
    size_t n = json_array_size(items);
    r->body = scim_list_response_new(items, (int64_t)n, 1);
    r->status = r->body ? 200 : 500;
}

int target_service_discovery(const struct target_service *t, const char *path,
                             struct target_result *r)
{
    if (t->dialect == SCIM_DIALECT_11)
        return discovery_11(t, path, r);
    if (sc_strcaseeq(path, "/ServiceProviderConfig")) {
        r->body = service_provider_config(t);
        r->status = r->body ? 200 : 500;
        return 0;
    }
    if (sc_strcaseeq(path, "/ResourceTypes")) {
        list_of(r, scim_resource_types_all_json(t->base_url));
        return 0;
    }
    if (sc_strncaseeq(path, "/ResourceTypes/", 15)) {
        const struct scim_resource_type *rt = scim_resource_type_find(path + 15);
        if (!rt || strchr(path + 15, '/'))
            target_error(r, 404, NULL, "no resource type '%s'", path + 15);
        else {
            r->body = scim_resource_type_to_json(rt, t->base_url);
            r->status = 200;
        }
        return 0;
    }
    if (sc_strcaseeq(path, "/Schemas")) {
        list_of(r, scim_schemas_all_json(t->base_url));
        return 0;
    }
    if (sc_strncaseeq(path, "/Schemas/", 9)) {
        const struct scim_schema *s = scim_schema_find(path + 9);
        if (!s)
            target_error(r, 404, NULL, "no schema '%s'", path + 9);
        else {
            r->body = scim_schema_to_json(s, t->base_url);
            r->status = 200;
        }
        return 0;
    }
    return -1;
}
