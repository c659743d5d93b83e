/* The OpenAPI 3.1 description of the admin API, built at run time from the route table
 * (api_routes_each: method, path, summary, query parameters, body and answer of every
 * route) and from the two tables below: the query parameters and the schemas of the
 * bodies, each field with its type in a short notation:
 *   "string" "integer" "number" "boolean" "date-time" "uuid" "object" (any object)
 *   "any" (any JSON value), "enum:A|B" (strings), "@Name" (a schema of the table),
 *   "[T]" (an array of T), "map:T" (an object whose values are T), a trailing "?" (or
 *   null).
 * Served without authentication at GET /api/v1/openapi.json (it describes the API's
 * shape, which docs/api.md publishes too, and no data). */
#include "api/api.h"
#include "base/buf.h"

#include <stdio.h>
#include <string.h>

#ifndef SCIMITAR_VERSION
#define SCIMITAR_VERSION "0.1.0"
#endif

struct oa_param {
    const char *name;
    const char *type;
    const char *desc;
};

static const struct oa_param query_params[] = {
    {"limit", "integer", "items per page, 1 to 1000 (default 100)"},
    {"cursor", "string", "the nextCursor of the previous page"},
    {"filter", "string", "a SCIM-style filter on directory fields (docs/directory.md)"},
    {"q", "string", "search: users whose username, name or email contain the text"},
    {"population", "string", "only the users of this population (its id)"},
    {"effective", "boolean", "true: every user member (direct, nested, dynamic)"},
    {"dryRun", "boolean", "true: answer the plan (200), send nothing"},
    {"allow", "boolean", "true: let a resync stopped at the mass-removal brake go on"},
    {"verify", "boolean", "true: read the target's accounts and repair drift"},
    {"rule", "uuid", "only this rule's entries"},
    {"user", "uuid", "only this user's entries"},
    {"action",
     "enum:CREATE|UPDATE|DISABLE|DELETE|LINK|SKIP|ENABLE|VERIFY|MEMBERS_ADD|MEMBERS_REMOVE|UNLINK",
     "only this action"},
    {"kind", "enum:user|group", "only users' or only groups' entries"},
    {"status", "enum:SUCCESS|FAILED|RETRY|UNSYNCED|DRIFTED", "only this outcome"},
    {NULL, NULL, NULL},
};

struct oa_prop {
    const char *name;
    const char *type;
};

struct oa_schema {
    const char *name;
    const char *desc;
    const char *type;            /* the whole schema's type when it is not an object of props */
    const char *required;        /* space-separated required properties, or NULL */
    const struct oa_prop *props; /* NULL-terminated, or NULL */
};

#define END                                                                                        \
    {                                                                                              \
        NULL, NULL                                                                                 \
    }
#define STAMPS                                                                                     \
    {"createdAt", "date-time"},                                                                    \
    {                                                                                              \
        "updatedAt", "date-time"                                                                   \
    }

static const struct oa_prop p_error[] = {{"error", "@ErrorBody"}, END};
static const struct oa_prop p_error_body[] = {
    {"code", "string"}, {"message", "string"}, {"field", "string"}, {"position", "integer"}, END};
static const struct oa_prop p_health[] = {{"status", "enum:ok|unavailable"},
                                          {"database", "string"},
                                          {"writes", "string"},
                                          {"error", "string"},
                                          END};
static const struct oa_prop p_name[] = {
    {"given", "string?"}, {"family", "string?"}, {"formatted", "string?"}, END};
static const struct oa_prop p_address[] = {{"streetAddress", "string?"}, {"locality", "string?"},
                                           {"region", "string?"},        {"postalCode", "string?"},
                                           {"countryCode", "string?"},   END};
static const struct oa_prop p_population_ref[] = {{"id", "uuid"}, {"name", "string"}, END};
#define USER_FIELDS                                                                                \
    {"username", "string"}, {"name", "@Name?"}, {"nickname", "string?"}, {"title", "string?"},     \
        {"type", "string?"}, {"email", "string?"}, {"primaryPhone", "string?"},                    \
        {"externalId", "string?"}, {"address", "@Address?"}, {"enabled", "boolean"},               \
    {                                                                                              \
        "population", "@PopulationRef?"                                                            \
    }
static const struct oa_prop p_user[] = {
    {"id", "uuid"}, USER_FIELDS, STAMPS, {"source", "object"}, END};
static const struct oa_prop p_user_input[] = {USER_FIELDS, END};
static const struct oa_prop p_import_result[] = {
    {"created", "integer"}, {"rejected", "[@ImportRejection]"}, END};
static const struct oa_prop p_import_rejection[] = {
    {"index", "integer"}, {"field", "string?"}, {"message", "string"}, END};
static const struct oa_prop p_population[] = {{"id", "uuid"},
                                              {"name", "string"},
                                              {"description", "string?"},
                                              {"userCount", "integer"},
                                              STAMPS,
                                              END};
static const struct oa_prop p_population_input[] = {
    {"name", "string"}, {"description", "string?"}, END};
static const struct oa_prop p_group[] = {{"id", "uuid"},
                                         {"name", "string"},
                                         {"description", "string?"},
                                         {"userFilter", "@Filter?"},
                                         STAMPS,
                                         END};
static const struct oa_prop p_group_input[] = {
    {"name", "string"}, {"description", "string?"}, {"userFilter", "@Filter?"}, END};
static const struct oa_prop p_member[] = {
    {"type", "enum:user|group"}, {"id", "uuid"}, {"display", "string?"}, END};
static const struct oa_prop p_member_input[] = {{"userId", "uuid"}, {"groupId", "uuid"}, END};
static const struct oa_prop p_user_group[] = {
    {"id", "uuid"}, {"name", "string"}, {"direct", "boolean"}, END};
static const struct oa_prop p_filter[] = {
    {"match", "enum:ALL|ANY"}, {"conditions", "[@Condition]"}, END};
static const struct oa_prop p_condition[] = {
    {"attribute", "string"},   {"operator", "string"},         {"value", "any"},
    {"match", "enum:ALL|ANY"}, {"conditions", "[@Condition]"}, END};
#define CONNECTION_FIELDS                                                                          \
    {"name", "string"}, {"description", "string?"}, {"type", "enum:SCIM_OUTBOUND"},                \
        {"enabled", "boolean"}, {"scim", "@ConnectionScim"}, {"auth", "@ConnectionAuth"},          \
        {"preferences", "@ConnectionPreferences"},                                                 \
    {                                                                                              \
        "headers", "map:string"                                                                    \
    }
static const struct oa_prop p_connection[] = {{"id", "uuid"}, CONNECTION_FIELDS, STAMPS, END};
static const struct oa_prop p_connection_input[] = {{"id", "uuid"}, CONNECTION_FIELDS, END};
static const struct oa_prop p_connection_scim[] = {{"baseUrl", "string"},
                                                   {"usersResource", "string"},
                                                   {"groupsResource", "string?"},
                                                   {"version", "enum:2.0|1.1"},
                                                   END};
static const struct oa_prop p_connection_auth[] = {{"method", "string"},
                                                   {"accessToken", "string?"},
                                                   {"typeHeader", "string?"},
                                                   {"username", "string?"},
                                                   {"password", "string?"},
                                                   {"tokenUrl", "string?"},
                                                   {"clientId", "string?"},
                                                   {"clientSecret", "string?"},
                                                   {"scope", "string?"},
                                                   {"tokenEndpointAuthMethod", "string?"},
                                                   END};
static const struct oa_prop p_connection_prefs[] = {
    {"userFilterExpression", "string?"}, {"userIdentifier", "string?"},
    {"removeAction", "string"},          {"allowCreate", "boolean"},
    {"allowUpdate", "boolean"},          {"allowDisable", "boolean"},
    {"updateMethod", "string"},          {"maxRequestsPerSecond", "integer"},
    {"maxConcurrency", "integer"},       END};
static const struct oa_prop p_test_report[] = {{"ok", "boolean"}, {"steps", "[@TestStep]"}, END};
static const struct oa_prop p_test_step[] = {
    {"name", "string"}, {"ok", "boolean"}, {"warning", "boolean"}, {"detail", "string?"}, END};
static const struct oa_prop p_capabilities[] = {{"connectionId", "uuid"},
                                                {"testedAt", "date-time?"},
                                                {"scimVersion", "string?"},
                                                {"serviceProviderConfig", "boolean?"},
                                                {"patch", "boolean?"},
                                                {"bulk", "object?"},
                                                {"filter", "object?"},
                                                {"userAttributes", "[string]?"},
                                                {"warnings", "[object]"},
                                                {"learnt", "object?"},
                                                END};
#define RULE_FIELDS                                                                                \
    {"name", "string"}, {"description", "string?"}, {"source", "enum:directory"},                  \
        {"target", "uuid?"},                                                                       \
    {                                                                                              \
        "enabled", "boolean"                                                                       \
    }
static const struct oa_prop p_rule[] = {{"id", "uuid"}, RULE_FIELDS, STAMPS, END};
static const struct oa_prop p_rule_input[] = {
    RULE_FIELDS, {"filter", "@Filter?"}, {"mappings", "@Mappings"}, END};
static const struct oa_prop p_mapping_row[] = {
    {"target", "string"}, {"source", "string"}, {"clearOnUnmap", "boolean"}, END};
static const struct oa_prop p_group_provisioning[] = {{"enabled", "boolean"},
                                                      {"select", "@GroupSelect"},
                                                      {"nested", "enum:flatten|nested"},
                                                      {"onRemove", "enum:removeMembers|delete"},
                                                      {"membersPerRequest", "integer"},
                                                      {"mappings", "[@GroupMappingRow]"},
                                                      END};
static const struct oa_prop p_group_select[] = {
    {"names", "[string]"}, {"filter", "@GroupNameFilter"}, {"under", "string"}, END};
static const struct oa_prop p_group_name_filter[] = {
    {"attribute", "enum:name"},
    {"operator", "enum:EQUALS|STARTS_WITH|ENDS_WITH|CONTAINS"},
    {"value", "string"},
    END};
static const struct oa_prop p_group_mapping_row[] = {
    {"target", "enum:displayName|externalId"}, {"source", "enum:name|id|description"}, END};
static const struct oa_prop p_resync_options[] = {
    {"dryRun", "boolean"}, {"allow", "boolean"}, {"verify", "boolean"}, END};
static const struct oa_prop p_resync_queued[] = {{"ruleId", "uuid"},
                                                 {"status", "enum:QUEUED"},
                                                 {"allow", "boolean"},
                                                 {"verify", "boolean"},
                                                 END};
static const struct oa_prop p_rule_status[] = {
    {"status", "enum:ACTIVE|INACTIVE|FAILED|QUARANTINED"},
    {"lastSyncAt", "date-time?"},
    {"users", "@RuleStatusUsers"},
    {"pending", "integer"},
    {"brake", "object"},
    {"quarantineReason", "string"},
    {"verify", "object"},
    {"groups", "object"},
    END};
static const struct oa_prop p_rule_status_users[] = {
    {"impacted", "integer"},        {"success", "integer"}, {"unsynced", "integer"},
    {"partiallySynced", "integer"}, {"failed", "integer"},  END};
static const struct oa_prop p_rule_user[] = {{"userId", "uuid"},       {"username", "string?"},
                                             {"targetId", "string?"},  {"state", "string"},
                                             {"lastError", "string?"}, {"updatedAt", "date-time?"},
                                             {"rejected", "[object]"}, END};
static const struct oa_prop p_log_entry[] = {
    {"id", "any"},
    {"time", "date-time"},
    {"ruleId", "uuid?"},
    {"userId", "string?"},
    {"username", "string?"},
    {"action",
     "enum:CREATE|UPDATE|DISABLE|DELETE|LINK|SKIP|ENABLE|VERIFY|MEMBERS_ADD|MEMBERS_REMOVE|UNLINK"},
    {"kind", "enum:user|group"},
    {"groupId", "string?"},
    {"groupName", "string?"},
    {"status", "enum:SUCCESS|FAILED|RETRY|UNSYNCED|DRIFTED"},
    {"httpStatus", "integer?"},
    {"changes", "[@Change]?"},
    {"error", "string?"},
    END};
static const struct oa_prop p_change[] = {
    {"attribute", "string"}, {"old", "any"}, {"new", "any"}, END};
static const struct oa_prop p_cluster[] = {{"items", "[@ClusterNode]"}, END};
static const struct oa_prop p_cluster_node[] = {{"id", "uuid"},
                                                {"listen", "string"},
                                                {"startedAt", "date-time?"},
                                                {"lastSeenAt", "date-time?"},
                                                {"leased", "integer"},
                                                {"self", "boolean"},
                                                END};
static const struct oa_prop p_attribute_tables[] = {
    {"targetAttributes", "[object]"}, {"directoryFields", "[object]"},
    {"filterOperators", "[object]"},  {"expressionFunctions", "[object]"},
    {"defaultMappings", "@Mappings"}, END};
static const struct oa_prop p_preview_input[] = {
    {"source", "string"}, {"mappings", "@Mappings"}, {"userId", "uuid"}, END};
static const struct oa_prop p_preview_result[] = {{"value", "any"}, {"resource", "object"}, END};
#define TOKEN_FIELDS                                                                               \
    {"id", "uuid"}, {"name", "string"}, {"createdAt", "date-time"}, {"lastUsedAt", "date-time?"},  \
        {"expiresAt", "date-time?"},                                                               \
    {                                                                                              \
        "prefix", "string"                                                                         \
    }
#define TOKEN_REQUIRED "id name createdAt lastUsedAt expiresAt prefix"
static const struct oa_prop p_token[] = {TOKEN_FIELDS, END};
static const struct oa_prop p_token_created[] = {TOKEN_FIELDS, {"token", "string"}, END};
static const struct oa_prop p_token_input[] = {
    {"name", "string"}, {"expiresAt", "date-time?"}, END};
#define INBOUND_TOKEN_FIELDS                                                                       \
    {"id", "uuid"}, {"name", "string"}, {"population", "@PopulationRef"}, {"scope", "string"},     \
        {"sourceConnection", "uuid?"}, {"createdAt", "date-time"}, {"lastUsedAt", "date-time?"},   \
    {                                                                                              \
        "prefix", "string"                                                                         \
    }
#define INBOUND_TOKEN_REQUIRED "id name population scope createdAt lastUsedAt prefix"
static const struct oa_prop p_inbound_token[] = {INBOUND_TOKEN_FIELDS, END};
static const struct oa_prop p_inbound_token_created[] = {
    INBOUND_TOKEN_FIELDS, {"token", "string"}, END};
static const struct oa_prop p_inbound_token_input[] = {{"name", "string"},
                                                       {"population", "string"},
                                                       {"scope", "string"},
                                                       {"sourceConnection", "uuid?"},
                                                       END};
static const struct oa_prop p_inbound_token_patch[] = {{"sourceConnection", "uuid?"}, END};

static const struct oa_schema schemas[] = {
    {"Error", "every error answer", NULL, "error", p_error},
    {"ErrorBody", "code (INVALID_VALUE, NOT_FOUND, ...), message, and the input field at fault",
     NULL, "code message", p_error_body},
    {"Health", "/healthz", NULL, "status", p_health},
    {"Name", NULL, NULL, NULL, p_name},
    {"Address", NULL, NULL, NULL, p_address},
    {"PopulationRef", "a population by id or by name (on input either one)", NULL, NULL,
     p_population_ref},
    {"User", "a directory user", NULL, "id username enabled createdAt updatedAt", p_user},
    {"UserInput", "a user to create, or the fields to change (null clears one)", NULL, NULL,
     p_user_input},
    {"UserImport", "at most 5000 users", "[@UserInput]", NULL, NULL},
    {"ImportResult", NULL, NULL, "created rejected", p_import_result},
    {"ImportRejection", NULL, NULL, "index message", p_import_rejection},
    {"Population", NULL, NULL, "id name createdAt updatedAt", p_population},
    {"PopulationInput", NULL, NULL, NULL, p_population_input},
    {"Group", "a group; one with a userFilter is dynamic", NULL, "id name createdAt updatedAt",
     p_group},
    {"GroupInput", NULL, NULL, NULL, p_group_input},
    {"Member", "a direct member of a group", NULL, "type id", p_member},
    {"MemberInput", "userId or groupId (exactly one)", NULL, NULL, p_member_input},
    {"UserGroup", "a group the user belongs to", NULL, "id name direct", p_user_group},
    {"Filter", "a user filter: conditions combined by match", NULL, "match conditions", p_filter},
    {"Condition", "a condition, or a nested filter (match and conditions)", NULL, NULL,
     p_condition},
    {"FilterOrNull", "a rule's user filter, null while none is set", "@Filter?", NULL, NULL},
    {"Connection", "a provisioning connection; secrets read as \"********\"", NULL,
     "id name type enabled scim auth preferences createdAt updatedAt", p_connection},
    {"ConnectionInput", "a connection to create or test, or the fields to change", NULL, NULL,
     p_connection_input},
    {"ConnectionScim", NULL, NULL, NULL, p_connection_scim},
    {"ConnectionAuth", "secrets are write-only: \"********\" keeps the stored value", NULL, NULL,
     p_connection_auth},
    {"ConnectionPreferences", NULL, NULL, NULL, p_connection_prefs},
    {"TestReport", "the steps of Test Connection", NULL, "ok steps", p_test_report},
    {"TestStep", NULL, NULL, "name ok", p_test_step},
    {"Capabilities", "what Test Connection learnt of the target (null: unknown)", NULL, NULL,
     p_capabilities},
    {"Rule", "a provisioning rule", NULL, "id name source enabled createdAt updatedAt", p_rule},
    {"RuleInput", "a rule to create, or the fields to change", NULL, NULL, p_rule_input},
    {"MappingRow", "one attribute of the mapping: a SCIM target path and a source expression", NULL,
     "target source", p_mapping_row},
    {"Mappings", "a rule's attribute mapping (the whole list)", "[@MappingRow]", NULL, NULL},
    {"GroupProvisioning",
     "a rule's group provisioning section (every field optional on input; defaults filled in)",
     NULL, NULL, p_group_provisioning},
    {"GroupSelect", "the groups to push: exactly one of names, filter, under", NULL, NULL,
     p_group_select},
    {"GroupNameFilter", "a condition on the group's name (case-insensitive)", NULL,
     "operator value", p_group_name_filter},
    {"GroupMappingRow", "one group attribute: displayName (required) or externalId", NULL,
     "target source", p_group_mapping_row},
    {"ResyncOptions", NULL, NULL, NULL, p_resync_options},
    {"ResyncQueued", "a resync was queued (with dryRun: 200 and the plan instead)", NULL,
     "ruleId status", p_resync_queued},
    {"RuleStatus", NULL, NULL, "status users", p_rule_status},
    {"RuleStatusUsers", NULL, NULL, NULL, p_rule_status_users},
    {"RuleUser", "a user's link and state for a rule", NULL, "userId state", p_rule_user},
    {"LogEntry", "one provisioning log entry", NULL, "action status", p_log_entry},
    {"Change", NULL, NULL, "attribute", p_change},
    {"Cluster", "the live nodes sharing the database", NULL, "items", p_cluster},
    {"ClusterNode", NULL, NULL, "id self", p_cluster_node},
    {"AttributeTables", "the tables the server validates with", NULL, NULL, p_attribute_tables},
    {"PreviewInput", "source or mappings (exactly one), and userId", NULL, "userId",
     p_preview_input},
    {"PreviewResult", "value (for a source) or resource (for mappings)", NULL, NULL,
     p_preview_result},
    {"AdminToken", "a named admin token (never the token itself)", NULL, TOKEN_REQUIRED, p_token},
    {"AdminTokenCreated", "a new admin token: token is shown in this answer only", NULL,
     TOKEN_REQUIRED " token", p_token_created},
    {"AdminTokenInput", NULL, NULL, "name", p_token_input},
    {"InboundToken", "an inbound SCIM token (never the token itself)", NULL, INBOUND_TOKEN_REQUIRED,
     p_inbound_token},
    {"InboundTokenCreated", "a new inbound SCIM token: token is shown in this answer only", NULL,
     INBOUND_TOKEN_REQUIRED " token", p_inbound_token_created},
    {"InboundTokenInput", "population: its id or name; scope: read or write", NULL,
     "name population scope", p_inbound_token_input},
    {"InboundTokenPatch", "sourceConnection: a connection's id, or null", NULL, "sourceConnection",
     p_inbound_token_patch},
    {"OpenAPIDocument", "this document", "object", NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static const struct oa_schema *schema_find(const char *name, size_t len)
{
    for (const struct oa_schema *s = schemas; s->name; s++)
        if (strlen(s->name) == len && strncmp(s->name, name, len) == 0)
            return s;
    return NULL;
}

/* The JSON Schema of type t (the notation above; t[0..len)); NULL with why set. */
static json_t *type_schema(const char *t, size_t len, char *why, size_t n)
{
    char buf[160];
    if (len && t[len - 1] == '?') {
        json_t *inner = type_schema(t, len - 1, why, n);
        if (!inner)
            return NULL;
        json_t *type = json_object_get(inner, "type");
        if (json_is_string(type) && !json_object_get(inner, "enum")) {
            json_object_set_new(inner, "type", json_pack("[O, s]", type, "null"));
            return inner;
        }
        return json_pack("{s:[o, {s:s}]}", "anyOf", inner, "type", "null");
    }
    if (len >= 2 && t[0] == '[' && t[len - 1] == ']') {
        json_t *items = type_schema(t + 1, len - 2, why, n);
        return items ? json_pack("{s:s, s:o}", "type", "array", "items", items) : NULL;
    }
    if (len && t[0] == '@') {
        if (!schema_find(t + 1, len - 1)) {
            snprintf(why, n, "no schema named '%.*s'", (int)len - 1, t + 1);
            return NULL;
        }
        snprintf(buf, sizeof buf, "#/components/schemas/%.*s", (int)len - 1, t + 1);
        return json_pack("{s:s}", "$ref", buf);
    }
    if (len > 4 && strncmp(t, "map:", 4) == 0) {
        json_t *v = type_schema(t + 4, len - 4, why, n);
        return v ? json_pack("{s:s, s:o}", "type", "object", "additionalProperties", v) : NULL;
    }
    if (len > 5 && strncmp(t, "enum:", 5) == 0) {
        json_t *values = json_array();
        const char *p = t + 5, *end = t + len;
        while (p < end) {
            const char *bar = memchr(p, '|', (size_t)(end - p));
            size_t l = bar ? (size_t)(bar - p) : (size_t)(end - p);
            json_array_append_new(values, json_stringn(p, l));
            p += l + (bar ? 1 : 0);
        }
        return json_pack("{s:s, s:o}", "type", "string", "enum", values);
    }
    static const struct {
        const char *name, *type, *format;
    } simple[] = {
        {"string", "string", NULL}, {"integer", "integer", NULL},
        {"number", "number", NULL}, {"boolean", "boolean", NULL},
        {"object", "object", NULL}, {"date-time", "string", "date-time"},
        {"uuid", "string", "uuid"},
    };
    if (len == 3 && strncmp(t, "any", 3) == 0)
        return json_object();
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (strlen(simple[i].name) != len || strncmp(simple[i].name, t, len) != 0)
            continue;
        json_t *s = json_pack("{s:s}", "type", simple[i].type);
        if (simple[i].format)
            json_object_set_new(s, "format", json_string(simple[i].format));
        return s;
    }
    snprintf(why, n, "unknown type '%.*s'", (int)len, t);
    return NULL;
}

static json_t *schema_json(const struct oa_schema *s, char *why, size_t n)
{
    json_t *out = NULL;
    if (s->type) {
        out = type_schema(s->type, strlen(s->type), why, n);
    } else {
        json_t *props = json_object();
        for (const struct oa_prop *p = s->props; p && p->name; p++) {
            json_t *t = type_schema(p->type, strlen(p->type), why, n);
            if (!t) {
                json_decref(props);
                return NULL;
            }
            json_object_set_new(props, p->name, t);
        }
        out = json_pack("{s:s, s:o}", "type", "object", "properties", props);
        if (s->required) {
            json_t *req = json_array();
            const char *p = s->required;
            while (*p) {
                size_t l = strcspn(p, " ");
                json_array_append_new(req, json_stringn(p, l));
                p += l;
                p += strspn(p, " ");
            }
            json_object_set_new(out, "required", req);
        }
    }
    if (out && s->desc)
        json_object_set_new(out, "description", json_string(s->desc));
    return out;
}

/* The state of one document being built. */
struct oa_build {
    json_t *paths;
    char *why;
    size_t n;
    int failed;
};

/* "getUsersById" from GET /api/v1/users/{id}: unique as the pair is. */
static void operation_id(const struct api_route *r, char *out, size_t n)
{
    struct sc_buf b;
    sc_buf_init(&b, 0);
    for (const char *m = r->method; *m; m++)
        sc_buf_printf(&b, "%c", *m - 'A' + 'a');
    const char *p = r->pattern;
    if (strncmp(p, "/api/v1", 7) == 0)
        p += 7;
    int up = 1;
    for (; *p; p++) {
        if (*p == '/' || *p == '.' || *p == '}') {
            up = 1;
        } else if (*p == '{') {
            sc_buf_printf(&b, "By");
            up = 1;
        } else {
            sc_buf_printf(&b, "%c", up && *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
            up = 0;
        }
    }
    sc_strlcpy(out, b.data ? b.data : "", n);
    sc_buf_free(&b);
}

/* The tag: the path's first segment under /api/v1 ("system" outside it). */
static json_t *tag_of(const char *pattern)
{
    if (strncmp(pattern, "/api/v1/", 8) != 0)
        return json_string("system");
    const char *p = pattern + 8;
    size_t l = strcspn(p, "/.");
    return json_stringn(p, l);
}

static json_t *parameters(const struct api_route *r, struct oa_build *b)
{
    json_t *params = json_array();
    for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *e = strchr(p, '}');
        if (!e)
            break;
        json_array_append_new(params, json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", p + 1,
                                                (size_t)(e - p - 1), "in", "path", "required", 1,
                                                "schema", "type", "string"));
    }
    for (const char *q = r->query; q && *q;) {
        size_t l = strcspn(q, " ");
        const struct oa_param *found = NULL;
        for (const struct oa_param *qp = query_params; qp->name && !found; qp++)
            if (strlen(qp->name) == l && strncmp(qp->name, q, l) == 0)
                found = qp;
        if (!found) {
            snprintf(b->why, b->n, "%s %s: no query parameter named '%.*s'", r->method, r->pattern,
                     (int)l, q);
            b->failed = 1;
            break;
        }
        json_t *schema = type_schema(found->type, strlen(found->type), b->why, b->n);
        if (!schema) {
            b->failed = 1;
            break;
        }
        if (strcmp(found->name, "limit") == 0) {
            json_object_set_new(schema, "minimum", json_integer(1));
            json_object_set_new(schema, "maximum", json_integer(API_MAX_LIMIT));
            json_object_set_new(schema, "default", json_integer(API_DEFAULT_LIMIT));
        }
        json_array_append_new(params,
                              json_pack("{s:s, s:s, s:s, s:o}", "name", found->name, "in", "query",
                                        "description", found->desc, "schema", schema));
        q += l;
        q += strspn(q, " ");
    }
    return params;
}

static json_t *list_of(json_t *item)
{
    return json_pack("{s:s, s:[s, s], s:{s:{s:s, s:o}, s:{s:[s, s]}}}", "type", "object",
                     "required", "items", "nextCursor", "properties", "items", "type", "array",
                     "items", item, "nextCursor", "type", "string", "null");
}

static json_t *content_of(json_t *schema)
{
    return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

static void add_operation(void *arg, const struct api_route *r)
{
    struct oa_build *b = arg;
    if (b->failed)
        return;
    char opid[160];
    operation_id(r, opid, sizeof opid);
    json_t *op = json_pack("{s:s, s:s, s:[o]}", "summary", r->summary, "operationId", opid, "tags",
                           tag_of(r->pattern));
    json_t *params = parameters(r, b);
    if (b->failed) {
        json_decref(params);
        json_decref(op);
        return;
    }
    if (json_array_size(params))
        json_object_set_new(op, "parameters", params);
    else
        json_decref(params);
    if (r->request) {
        size_t l = strlen(r->request);
        int optional = r->request[l - 1] == '?';
        char ref[96];
        snprintf(ref, sizeof ref, "@%.*s", (int)(l - (size_t)optional), r->request);
        json_t *schema = type_schema(ref, strlen(ref), b->why, b->n);
        if (!schema)
            goto failed;
        json_object_set_new(
            op, "requestBody",
            json_pack("{s:b, s:o}", "required", !optional, "content", content_of(schema)));
    }
    json_t *responses = json_object();
    char status[8];
    int code = r->status ? r->status : 200;
    snprintf(status, sizeof status, "%d", code);
    json_t *ok = json_pack("{s:s}", "description", code == 204 ? "done, no body" : "success");
    if (r->response) {
        size_t l = strlen(r->response);
        int list = l > 2 && strcmp(r->response + l - 2, "[]") == 0;
        char ref[96];
        snprintf(ref, sizeof ref, "@%.*s", (int)(l - (list ? 2 : 0)), r->response);
        json_t *schema = type_schema(ref, strlen(ref), b->why, b->n);
        if (!schema) {
            json_decref(ok);
            json_decref(responses);
            goto failed;
        }
        json_object_set_new(ok, "content", content_of(list ? list_of(schema) : schema));
    } else if (code != 204) {
        json_object_set_new(ok, "content",
                            json_pack("{s:{s:{s:s}}}", "text/plain", "schema", "type", "string"));
    }
    json_object_set_new(responses, status, ok);
    if (!r->no_auth)
        json_object_set_new(responses, "401",
                            json_pack("{s:s}", "$ref", "#/components/responses/Unauthorized"));
    json_object_set_new(responses, "default",
                        json_pack("{s:s}", "$ref", "#/components/responses/Error"));
    json_object_set_new(op, "responses", responses);
    if (r->no_auth)
        json_object_set_new(op, "security", json_array());
    json_t *item = json_object_get(b->paths, r->pattern);
    if (!item) {
        item = json_object();
        json_object_set_new(b->paths, r->pattern, item);
    }
    char method[8];
    size_t i = 0;
    for (; r->method[i] && i < sizeof method - 1; i++)
        method[i] = (char)(r->method[i] - 'A' + 'a');
    method[i] = '\0';
    json_object_set_new(item, method, op);
    return;
failed:
    json_decref(op);
    b->failed = 1;
}

json_t *api_openapi_document(char *why, size_t n)
{
    struct oa_build b = {.paths = json_object(), .why = why, .n = n};
    json_t *comps = json_object();
    for (const struct oa_schema *s = schemas; s->name && !b.failed; s++) {
        json_t *j = schema_json(s, why, n);
        if (!j)
            b.failed = 1;
        else
            json_object_set_new(comps, s->name, j);
    }
    if (!b.failed)
        api_routes_each(add_operation, &b);
    if (b.failed) {
        json_decref(b.paths);
        json_decref(comps);
        return NULL;
    }
    json_t *err = content_of(json_pack("{s:s}", "$ref", "#/components/schemas/Error"));
    return json_pack(
        "{s:s, s:{s:s, s:s, s:s}, s:[{s:s}], s:[{s:[]}], s:o, s:{s:o, s:{s:{s:s, s:s}}, "
        "s:{s:{s:s, s:O}, s:{s:s, s:o}}}}",
        "openapi", "3.1.0", "info", "title", "scimitar admin API", "version", SCIMITAR_VERSION,
        "description",
        "The admin REST API of scimitar: the directory, provisioning connections and rules, "
        "sync state and logs, and the admin tokens. Generated from the server's route table.",
        "servers", "url", "/", "security", "bearerAuth", "paths", b.paths, "components", "schemas",
        comps, "securitySchemes", "bearerAuth", "type", "http", "scheme", "bearer", "responses",
        "Unauthorized", "description", "no admin token, or a wrong or expired one", "content", err,
        "Error", "description", "an error (the status says which)", "content", err);
}

static void get_openapi(struct api_call *c)
{
    char why[200] = "";
    json_t *doc = api_openapi_document(why, sizeof why);
    if (!doc) {
        api_error(c, SC_ERR_INTERNAL, NULL, "the API description cannot be built: %s", why);
        return;
    }
    api_json(c, 200, doc);
}

const struct api_route api_openapi_routes[] = {
    {"GET", "/api/v1/openapi.json", get_openapi, 1,
     "this API's OpenAPI 3.1 description, built from the route table", NULL, NULL, 200,
     "OpenAPIDocument"},
    {0},
};
